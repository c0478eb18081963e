# Benchmarks of the peers (OpenMP, oneTBB, a mutex+condvar pool, GThreadPool, Python's
# multiprocessing.Pool) and the suite's driver. Included from the top-level Makefile.am;
# add programs to BENCH_PROGS so `make bench` builds and runs them.

# perf/bench_regimes: cfgpool against OpenMP, a textbook mutex+condvar pool and GLib's
# GThreadPool, side by side in one run. OpenMP and GLib are optional: without them the
# program builds and skips those peers (the source tests _OPENMP and HAVE_GLIB).
# oneTBB (perf/peer_tbb.cpp, C++ behind perf/peer_tbb.h) likewise, when pkg-config finds tbb.
BENCH_PROGS += perf/bench_regimes
perf_bench_regimes_SOURCES = perf/bench_regimes.c perf/bench.h perf/peer_tbb.h
perf_bench_regimes_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS) $(perf_bench_regimes_glib_cflags) \
	$(perf_bench_regimes_tbb_cflags)
perf_bench_regimes_LDADD = libcfgpool.la $(perf_bench_regimes_glib_libs) $(perf_bench_regimes_tbb_libs) \
	$(PTHREAD_LIBS) $(LIBM)
# -fopenmp at link time too: with the C++ source the link is g++'s, which does not see CFLAGS.
perf_bench_regimes_LDFLAGS = $(OPENMP_CFLAGS)
if HAVE_GLIB
perf_bench_regimes_glib_cflags = -DHAVE_GLIB $(GLIB_CFLAGS)
perf_bench_regimes_glib_libs = $(GLIB_LIBS)
endif
if HAVE_TBB
perf_bench_regimes_SOURCES += perf/peer_tbb.cpp
perf_bench_regimes_tbb_cflags = -DHAVE_TBB
perf_bench_regimes_tbb_libs = $(TBB_LIBS)
perf_bench_regimes_CXXFLAGS = $(TBB_WARN_CXXFLAGS) $(PTHREAD_CFLAGS) $(TBB_CFLAGS)
endif

# `make bench` runs perf/run, which runs every program of BENCH_PROGS and every
# perf/bench_*.py (bench_pool_mp.py: multiprocessing.Pool with the configuration passed
# through the initializer), one at a time, collects their JSON lines into
# perf/report/results.jsonl, prints the summary table and draws the charts of
# perf/report/README.md (perf/README.md says what each shows). BENCH_ARGS is passed on:
#   make bench BENCH_ARGS=--quick          a smoke run of under a minute
#   make bench BENCH_ARGS="--workers 8"    every peer and pool with 8 threads
# A program added to BENCH_PROGS (here or after this block) is run by perf/run with
# --workers N [--quick] like the others, no change needed there.
EXTRA_DIST += perf/bench_pool_mp.py perf/README.md perf/run perf/plot_lines.gp perf/plot_regimes.gp \
	perf/plot_disturbance.gp
# perf/check_run.sh tests perf/run itself on stand-in programs (no benchmark runs).
TESTS += perf/check_run.sh
EXTRA_DIST += perf/check_run.sh
BENCH_ARGS =
# What the shell benchmarks (perf/bench_*.sh, run from the build directory) need built.
BENCH_EXTRA = cfgpool$(EXEEXT) tests/plugins/mc_option_twin.la
# perf/bench_plugin.sh: `cfgpool run` with the built-in mc_option kernel against the same
# kernel as a plug-in (tests/plugins/mc_option_twin.la, a check library).
EXTRA_DIST += perf/bench_plugin.sh
bench: bench-build
	$(srcdir)/perf/run --srcdir $(srcdir) --progs "$(BENCH_PROGS)" $(BENCH_ARGS)
# What perf/run builds and reads when it is run by hand rather than by `make bench`. The
# programs are built by a recipe, not as prerequisites, so that BENCH_PROGS += lines after
# this one count too (a recipe's variables are expanded when it runs).
bench-build:
	@$(MAKE) $(AM_MAKEFLAGS) $(BENCH_PROGS) $(BENCH_EXTRA)
bench-list:
	@echo $(BENCH_PROGS)
.PHONY: bench bench-build bench-list

# perf/bench_periodic: waking ahead of periodic batches (pool.periodic_spin_us), on and
# off side by side: latency, efficiency and the process's CPU per worker (getrusage).
BENCH_PROGS += perf/bench_periodic
perf_bench_periodic_SOURCES = perf/bench_periodic.c perf/bench.h
perf_bench_periodic_LDADD = libcfgpool.la $(PTHREAD_LIBS) $(LIBM)
