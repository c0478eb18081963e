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

# perf/bench_periodic: waking ahead of periodic batches (pool.periodic_spin_us), on and
# off side by side: latency, efficiency and the process's CPU per worker (getrusage).
BENCH_PROGS += perf/bench_periodic
perf_bench_periodic_SOURCES = perf/bench_periodic.c perf/bench.h
perf_bench_periodic_LDADD = libcfgpool.la $(PTHREAD_LIBS) $(LIBM)
