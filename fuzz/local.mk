# Fuzzers: libFuzzer targets under fuzz/, their seed corpora, dictionary and kept
# regressions. Included from the top-level Makefile.am.
#
# Each target is fuzz/fuzz_<name>.c (see fuzz/fuzz.h). It is built twice:
#  - by `make check`, with the normal compiler, into fuzz/replay_<name>, a replay driver
#    linked with libcfgpool that runs fuzz/corpus/<name> and fuzz/regressions/<name>;
#  - by `make fuzz`, with $(FUZZ_CC) (clang), libFuzzer, ASan and UBSan, into fuzz/fuzz_<name>.
#    Coverage instrumentation must reach the library too, so the library's sources are
#    compiled again with $(FUZZ_CC) into a static archive of their own.
# A new target (the CLI's decoder and encoder, for one) adds its program to FUZZ_BINS and
# FUZZ_REPLAY_PROGS, a replay program's sources below, its corpus and regressions folders,
# and any sources the library does not have (src/cli/codec.c) to FUZZ_LIB_SRCS.

FUZZ_BINS = fuzz/fuzz_config fuzz/fuzz_path fuzz/fuzz_reload fuzz/fuzz_cli
FUZZ_REPLAY_PROGS = fuzz/replay_config fuzz/replay_path fuzz/replay_reload fuzz/replay_cli

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
# The command's line format, linked with its sources (the command is no library).
FUZZ_CLI_SRCS = src/cli/lines.c src/cli/codec.c src/cli/words.c src/cli/cli.h src/cli/words.h
fuzz_replay_cli_SOURCES = $(FUZZ_REPLAY_SRCS) fuzz/fuzz_cli.c $(FUZZ_CLI_SRCS)
fuzz_replay_cli_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
fuzz_replay_cli_LDADD = $(FUZZ_REPLAY_LIBS) $(JANSSON_LIBS)

EXTRA_DIST += fuzz/json.dict fuzz/corpus fuzz/regressions

# --- `make fuzz` and `FUZZ_SECONDS=N make fuzz-run` ------------------------------------------
FUZZ_LIB_SRCS = $(libcfgpool_la_SOURCES) src/cli/lines.c src/cli/codec.c src/cli/words.c
FUZZ_OBJDIR = fuzz/.objs
FUZZ_LIB = $(FUZZ_OBJDIR)/libcfgpool-fuzz.a
# UBSan's findings abort (-fno-sanitize-recover), so libFuzzer stops on them as on ASan's.
FUZZ_ALL_CFLAGS = $(FUZZ_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer $(DEFS) -I$(top_builddir) $(AM_CPPFLAGS) $(PTHREAD_CFLAGS) \
	$(JANSSON_CFLAGS) $(URCU_CFLAGS) $(URCU_CDS_CFLAGS)
FUZZ_ALL_LIBS = $(FUZZ_LIB) $(JANSSON_LIBS) $(URCU_LIBS) $(URCU_CDS_LIBS) $(PTHREAD_LIBS) $(LIBM)

if HAVE_FUZZ
fuzz: $(FUZZ_BINS)

$(FUZZ_LIB): $(FUZZ_LIB_SRCS) $(cfgpoolinclude_HEADERS) config.h include/cfgpool/version.h
	$(AM_V_GEN)rm -rf $(FUZZ_OBJDIR) && $(MKDIR_P) $(FUZZ_OBJDIR) && \
	for f in $(FUZZ_LIB_SRCS); do \
		case $$f in *.c) ;; *) continue ;; esac; \
		o=$(FUZZ_OBJDIR)/`echo "$$f" | sed 's|/|_|g; s|\.c$$|.o|'`; \
		$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -DCFGPOOL_BUILDING -fsanitize=fuzzer-no-link -c -o $$o \
			`test -f "$$f" || echo '$(srcdir)/'`$$f || exit 1; \
	done && $(AR) rc $@ $(FUZZ_OBJDIR)/*.o

fuzz/fuzz_config: fuzz/fuzz_config.c
fuzz/fuzz_path: fuzz/fuzz_path.c
fuzz/fuzz_reload: fuzz/fuzz_reload.c
fuzz/fuzz_cli: fuzz/fuzz_cli.c
$(FUZZ_BINS): $(FUZZ_LIB) fuzz/fuzz_common.c fuzz/fuzz.h
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -fsanitize=fuzzer -o $@ $(srcdir)/$@.c \
		$(srcdir)/fuzz/fuzz_common.c $(FUZZ_ALL_LIBS)

# Each fuzzer runs $FUZZ_SECONDS (default 30) seconds on a scratch copy of its seeds and regressions (the checked-in
# corpus stays as it is), with the JSON dictionary; a finding fails the run and names the
# file that reproduces it. The scratch folder is kept when something was found.
fuzz-run: $(FUZZ_BINS)
	@scratch=`mktemp -d "$${TMPDIR:-/tmp}/cfgpool-fuzz.XXXXXX"` || exit 1; status=0; \
	secs=$${FUZZ_SECONDS:-30}; \
	for b in $(FUZZ_BINS); do \
		name=`echo "$$b" | sed 's|^fuzz/fuzz_||'`; dir=$$scratch/$$name; \
		mkdir -p $$dir/corpus $$dir/findings || exit 1; \
		cp -R $(srcdir)/fuzz/corpus/$$name/. $(srcdir)/fuzz/regressions/$$name/. $$dir/corpus/ || exit 1; \
		echo "fuzz-run: $$b for $$secs s"; \
		if ./$$b -max_total_time=$$secs -timeout=25 -print_final_stats=1 \
			-dict=$(srcdir)/fuzz/json.dict -artifact_prefix=$$dir/findings/ $$dir/corpus \
			>$$dir/log 2>&1 && test -z "`ls $$dir/findings`"; then \
			grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
				$$dir/log | sed "s|^|fuzz_$$name: |"; \
		else \
			status=1; tail -n 40 $$dir/log; \
			for f in $$dir/findings/*; do test -e "$$f" && \
				echo "fuzz-run: fuzz_$$name FOUND a problem; reproduce with ./$$b $$f," \
				"then keep the file in fuzz/regressions/$$name/"; done; \
			echo "fuzz-run: fuzz_$$name failed; its log and findings are in $$dir"; \
		fi; \
	done; \
	if [ $$status -eq 0 ]; then rm -rf $$scratch; fi; exit $$status
else
fuzz fuzz-run:
	@echo "make $@: skipped: '$(FUZZ_CC)' cannot build libFuzzer targets (-fsanitize=fuzzer,address,undefined);" \
		"install clang (./quickstart does) and run configure again"
endif
.PHONY: fuzz fuzz-run

CLEANFILES += $(FUZZ_BINS)
clean-local: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_OBJDIR)
.PHONY: clean-fuzz
