# Benchmarks of the peers (OpenMP, a mutex+condvar pool, GThreadPool, Python's
# multiprocessing.Pool). Included from the top-level Makefile.am; add programs to
# BENCH_PROGS so `make bench` builds and runs them.

# perf/bench_regimes: cfgpool against OpenMP, a textbook mutex+condvar pool and GLib's
# GThreadPool, side by side in one run. OpenMP and GLib are optional: without them the
# program builds and skips those peers (the source tests _OPENMP and HAVE_GLIB).
BENCH_PROGS += perf/bench_regimes
perf_bench_regimes_SOURCES = perf/bench_regimes.c perf/bench.h
perf_bench_regimes_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS) $(perf_bench_regimes_glib_cflags)
perf_bench_regimes_LDADD = libcfgpool.la $(perf_bench_regimes_glib_libs) $(PTHREAD_LIBS) $(LIBM)
if HAVE_GLIB
perf_bench_regimes_glib_cflags = -DHAVE_GLIB $(GLIB_CFLAGS)
perf_bench_regimes_glib_libs = $(GLIB_LIBS)
endif

# perf/bench_pool_mp.py: the seed question's own answer, multiprocessing.Pool with the
# configuration passed through the initializer. It is a script, not a program, so it stays
# out of BENCH_PROGS (which are EXTRA_PROGRAMS); `make bench` runs it through this extra
# prerequisite, after the C benchmarks are built and before they run, so that a parallel
# make never overlaps it with a compile or with another benchmark.
EXTRA_DIST += perf/bench_pool_mp.py perf/README.md
bench: bench-python
bench-python: $(BENCH_PROGS)
	@if command -v python3 >/dev/null 2>&1; then \
		echo "== perf/bench_pool_mp.py" >&2; \
		python3 $(srcdir)/perf/bench_pool_mp.py || exit 1; \
	else \
		echo "== perf/bench_pool_mp.py: skipped, no python3 on PATH" >&2; \
	fi
.PHONY: bench-python

# perf/bench_periodic: waking ahead of periodic batches (pool.periodic_spin_us), on and
# off side by side: latency, efficiency and the process's CPU per worker (getrusage).
BENCH_PROGS += perf/bench_periodic
perf_bench_periodic_SOURCES = perf/bench_periodic.c perf/bench.h
perf_bench_periodic_LDADD = libcfgpool.la $(PTHREAD_LIBS) $(LIBM)
