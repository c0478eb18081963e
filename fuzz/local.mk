# Fuzzers: libFuzzer targets under fuzz/, their seed corpora, dictionary and kept
# regressions. Included from the top-level Makefile.am.
#
# Each target is fuzz/fuzz_<name>.c (see fuzz/fuzz.h). `make check` builds it with the
# normal compiler into fuzz/replay_<name>, a replay driver linked with libcfgpool that runs
# fuzz/corpus/<name> and fuzz/regressions/<name>. A new target adds its program to
# FUZZ_REPLAY_PROGS, its sources below, and its corpus and regressions folders.

FUZZ_REPLAY_PROGS = fuzz/replay_config fuzz/replay_path fuzz/replay_reload

check_PROGRAMS += $(FUZZ_REPLAY_PROGS)
TESTS += $(FUZZ_REPLAY_PROGS)
FUZZ_REPLAY_SRCS = fuzz/replay.c fuzz/fuzz_common.c fuzz/fuzz.h
FUZZ_REPLAY_LIBS = libcfgpool.la $(PTHREAD_LIBS) $(LIBM)
fuzz_replay_config_SOURCES = $(FUZZ_REPLAY_SRCS) fuzz/fuzz_config.c
fuzz_replay_config_LDADD = $(FUZZ_REPLAY_LIBS)
fuzz_replay_path_SOURCES = $(FUZZ_REPLAY_SRCS) fuzz/fuzz_path.c
fuzz_replay_path_LDADD = $(FUZZ_REPLAY_LIBS)
fuzz_replay_reload_SOURCES = $(FUZZ_REPLAY_SRCS) fuzz/fuzz_reload.c
fuzz_replay_reload_LDADD = $(FUZZ_REPLAY_LIBS)

EXTRA_DIST += fuzz/json.dict fuzz/corpus fuzz/regressions
