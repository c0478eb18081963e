# Redis Streams (configure --with-redis): `cfgpool run --source/--sink`, `cfgpool feed`,
# `cfgpool collect`, their test program and benchmark. Included from Makefile.am.
cfgpool_SOURCES += src/cli/run.h
if HAVE_REDIS
cfgpool_SOURCES += src/cli/redis.c src/cli/redis.h src/cli/stream.c src/cli/feed.c src/cli/collect.c
cfgpool_CFLAGS += $(HIREDIS_CFLAGS)
cfgpool_LDADD += $(HIREDIS_LIBS)
endif
EXTRA_DIST += src/cli/redis.mk

# tests/test_redis runs the command against a redis-server it starts; the poison plug-in
# is its kernel (an input that kills the process running it).
if HAVE_REDIS
if HAVE_CMOCKA
check_PROGRAMS += tests/test_redis
endif
TESTS += tests/test_redis
check_LTLIBRARIES += tests/plugins/poison.la
endif
tests_test_redis_SOURCES = tests/test_redis.c tests/helpers.h tests/cli_helpers.h
tests_test_redis_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(HIREDIS_CFLAGS)
tests_test_redis_LDADD = $(TEST_LIBS) $(JANSSON_LIBS) $(HIREDIS_LIBS)
tests_plugins_poison_la_SOURCES = tests/plugins/poison.c
tests_plugins_poison_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# The command built without Redis support, whatever configure found: what it says when
# asked for a stream (tests/check_noredis.sh).
if HAVE_REDIS
check_PROGRAMS += tests/cfgpool-noredis
TESTS += tests/check_noredis.sh
endif
tests_cfgpool_noredis_SOURCES = src/cli/main.c src/cli/run.c src/cli/check.c src/cli/codec.c src/cli/lines.c \
	src/cli/cli.h src/cli/run.h src/cli/words.c src/cli/words.h
tests_cfgpool_noredis_CPPFLAGS = $(AM_CPPFLAGS) -DCFGPOOL_NO_REDIS
tests_cfgpool_noredis_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_cfgpool_noredis_LDADD = libcfgpool.la $(JANSSON_LIBS) $(PTHREAD_LIBS) $(LIBM)
EXTRA_DIST += tests/check_noredis.sh

# perf/bench_redis: inputs/s end to end and XADD-to-result latency with 1, 2 and 4
# consumers, against `cfgpool run` on a file and on a pipe (`make bench`).
if HAVE_REDIS
BENCH_PROGS += perf/bench_redis
endif
perf_bench_redis_SOURCES = perf/bench_redis.c perf/bench.h
perf_bench_redis_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
perf_bench_redis_LDADD = $(HIREDIS_LIBS)
