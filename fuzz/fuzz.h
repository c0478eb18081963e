/*
 * What the fuzz targets share: a check that aborts with its reason (libFuzzer and the replay
 * driver both treat an abort as a finding), the contract of a recorded error, a content hash
 * of a frozen tree, and the hooks the two drivers call.
 *
 * Every target is one file, fuzz/fuzz_<name>.c, defining LLVMFuzzerTestOneInput() and
 * fuzz_target_name. It is linked either with libFuzzer (`make fuzz`, clang) or with
 * fuzz/replay.c (`make check`, the normal compiler), which runs the checked-in corpus and
 * regression inputs through the same code.
 */
#ifndef CFGPOOL_FUZZ_H
#define CFGPOOL_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

/* Fails the input: prints where and what, then aborts. */
#define FUZZ_CHECK(cond)                                                    \
	do {                                                                \
		if (!(cond))                                                \
			fuzz_fail(__FILE__, __LINE__, #cond);               \
	} while (0)

__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *what);

/* The target's name: its corpus is fuzz/corpus/<name>, its regressions fuzz/regressions/<name>. */
extern const char *const fuzz_target_name;

/* Both drivers call this once per input. Returns 0 (libFuzzer's convention). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the n bytes at s are valid UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF). */
bool fuzz_utf8_valid(const char *s, size_t n);

/*
 * Checks the contract of an error struct after a call returned `rc` (negative): the code is
 * rc and has a name, source/path/text are NUL-terminated inside their fields and valid UTF-8,
 * line/column/position are in range, and the formatted line is valid UTF-8 too.
 */
void fuzz_check_error(const cfgpool_error_t *err, int rc);

/* A hash of everything a reader can see in the tree under `node`: types, values, keys, order. */
uint64_t fuzz_tree_hash(const cfgpool_node_t *node);

/* Whether rc is one of cfgpool_lookup()'s documented results. */
bool fuzz_lookup_rc_ok(int rc);

/* Placeholders a call must leave in its out parameters when it fails. */
extern const char fuzz_sentinel[2];
#define FUZZ_NODE_SENTINEL ((const cfgpool_node_t *)(const void *)&fuzz_sentinel[0])
#define FUZZ_STR_SENTINEL (&fuzz_sentinel[1])
#define FUZZ_INT_SENTINEL INT64_C(0x5a5a5a5a5a5a5a5a)
#define FUZZ_LEN_SENTINEL ((size_t)0xa5a5a5a5u)

/*
 * Every getter on (from, path) agrees with cfgpool_lookup() there: the lookup's error, else
 * success exactly for the getter's types and CFGPOOL_ETYPE otherwise; the value equals the
 * path-less getter's on the node found; out parameters are untouched on failure; a string
 * is NUL-terminated at its length, never shorter than strlen(), and valid UTF-8.
 */
void fuzz_check_getters(const cfgpool_node_t *from, const char *path);

/* Whether two error structs hold the same error, field by field. */
bool fuzz_same_error(const cfgpool_error_t *a, const cfgpool_error_t *b);

#endif /* CFGPOOL_FUZZ_H */
