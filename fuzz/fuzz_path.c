/*
 * Fuzz target (b): the path syntax alone. The input, cut at its first NUL (a path is a C
 * string), is looked up from several nodes of one fixed document, and the result is compared
 * with a reference written straight from the grammar in <cfgpool/config.h>:
 *
 *   path   := "" | first step*         first := name | index | quoted
 *   step   := "." name | index | quoted
 *   name   := one or more bytes other than '.', '[', ']', '"'
 *   index  := "[" digit+ "]"           (a value past SIZE_MAX is malformed)
 *   quoted := "[\"" (byte other than '"' and '\\' | "\\\"" | "\\\\")* "\"]"
 *
 * A malformed path is CFGPOOL_EPATH wherever the fault is; a well-formed one is walked step
 * by step: a name or quoted key into a non-object, or an index into a non-array, is
 * CFGPOOL_ETYPE; a missing member or an index past the end is -ENOENT.
 *
 * Contracts checked: the return code is one of 0, -ENOENT, CFGPOOL_ETYPE, CFGPOOL_EPATH and
 * the reference's; on success the node is the reference's, on failure *out is untouched;
 * every typed getter on the path agrees with the lookup (fuzz_check_getters()).
 */
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const fuzz_target_name = "path";

/* 300 bytes, with escaped quotes and backslashes inside. */
#define LONG_KEY                                                                                                   \
	"0123456789\\\"123456789\\\\123456789012345678901234567890123456789012345678901234567890123456789"         \
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"     \
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"

/*
 * Keys that need the quoted form or escapes, the empty key at two levels, an object large
 * enough to carry the sorted index (more than 8 members), every value type, and a quoted key
 * longer than the lookup's 256-byte stack buffer.
 */
static const char document[] =
	"{\"a\": {\"b\": [10, 20.5, \"s\", true, null, {\"c\": \"deep\"}, [[0], []]], \"\": {\"\": 1}},"
	" \"dotted.key\": 1, \"br[ack]et\": 2, \"quo\\\"te\": 3, \"back\\\\slash\": 4, \"both\\\\\\\"\": 5,"
	" \"\": 6, \"nul\": \"a\\u0000b\", \"caf\\u00e9\": \"x\", \"0\": [\"zero\"], \"a b\": {\"c d\": false},"
	" \"big\": {\"k09\": 9, \"k00\": 0, \"k07\": 7, \"k01\": 1, \"k05\": 5, \"k02\": 2, \"k08\": 8,"
	"          \"k03\": 3, \"k06\": 6, \"k04\": 4, \"k\": -1, \"k10\": 10, \"\": \"empty\"},"
	" \"long\": {\"" LONG_KEY "\": 8, \"" LONG_KEY "x\": 9}}";

static cfgpool_config_t *doc;

/* Starting points: the root, an inner object, an array, a scalar. */
static const char *const starts[] = {"", "a", "a.b", "a.b[0]", "big"};
static const cfgpool_node_t *from[sizeof(starts) / sizeof(starts[0])];

static void load_document(void)
{
	cfgpool_error_t err;

	FUZZ_CHECK(cfgpool_config_load_string(document, sizeof(document) - 1, NULL, &doc, &err) == 0);
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		FUZZ_CHECK(cfgpool_lookup(cfgpool_config_root(doc), starts[i], &from[i]) == 0);
}

/* One parsed step: a key (decoded into key[0..len)) or an index. */
struct step {
	bool is_index;
	bool index_overflow;
	size_t index;
	char *key;
	size_t len;
};

static bool name_byte(char c)
{
	return c != '\0' && c != '.' && c != '[' && c != ']' && c != '"';
}

/* Parses the step at *pp into st (key decoded into `keybuf`). false if malformed. */
static bool ref_step(const char **pp, bool first, struct step *st, char *keybuf)
{
	const char *p = *pp;

	st->is_index = false;
	st->index_overflow = false;
	st->key = keybuf;
	st->len = 0;
	if (p[0] == '[' && p[1] == '"') {
		for (p += 2; *p != '"'; p++) {
			if (*p == '\0')
				return false;
			if (*p == '\\' && p[1] != '"' && p[1] != '\\')
				return false;
			if (*p == '\\')
				p++;
			keybuf[st->len++] = *p;
		}
		if (p[1] != ']')
			return false;
		*pp = p + 2;
		return true;
	}
	if (p[0] == '[') {
		st->is_index = true;
		st->index = 0;
		if (*++p < '0' || *p > '9')
			return false;
		for (; *p >= '0' && *p <= '9'; p++) {
			size_t digit = (size_t)(*p - '0');

			if (st->index > (SIZE_MAX - digit) / 10)
				st->index_overflow = true;
			else
				st->index = st->index * 10 + digit;
		}
		if (*p != ']' || st->index_overflow)
			return false;
		*pp = p + 1;
		return true;
	}
	if (!first) {
		if (*p != '.')
			return false;
		p++;
	}
	while (name_byte(*p))
		keybuf[st->len++] = *p++;
	/* A name ends the path or runs into the next step; ']' or '"' there is malformed. */
	if (st->len == 0 || *p == ']' || *p == '"')
		return false;
	*pp = p;
	return true;
}

/* The member by a scan in document order (independent of the sorted index). */
static int ref_member(const cfgpool_node_t *obj, const char *key, size_t len, const cfgpool_node_t **out)
{
	const cfgpool_node_t *v;
	const char *k;
	size_t klen;

	for (size_t i = 0; cfgpool_object_member(obj, i, &k, &klen, &v) == 0; i++) {
		if (klen == len && memcmp(k, key, len) == 0) {
			*out = v;
			return 0;
		}
	}
	return -ENOENT;
}

static int ref_lookup(const cfgpool_node_t *node, const char *path, char *keybuf, const cfgpool_node_t **out)
{
	struct step st;
	const char *p;
	int rc = 0;

	/* The whole path is checked first: a malformed one is EPATH wherever the fault is. */
	for (p = path; *p != '\0';)
		if (!ref_step(&p, p == path, &st, keybuf))
			return CFGPOOL_EPATH;
	for (p = path; *p != '\0' && rc == 0;) {
		ref_step(&p, p == path, &st, keybuf);
		if (st.is_index) {
			if (cfgpool_node_type(node) != CFGPOOL_TYPE_ARRAY)
				rc = CFGPOOL_ETYPE;
			else
				rc = cfgpool_array_get(node, st.index, &node);
		} else {
			if (cfgpool_node_type(node) != CFGPOOL_TYPE_OBJECT)
				rc = CFGPOOL_ETYPE;
			else
				rc = ref_member(node, st.key, st.len, &node);
		}
	}
	if (rc == 0)
		*out = node;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1), *keybuf = malloc(size + 1);

	FUZZ_CHECK(path != NULL && keybuf != NULL);
	if (doc == NULL)
		load_document();
	memcpy(path, data, size);
	path[size] = '\0';
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		const cfgpool_node_t *want = NULL, *got = FUZZ_NODE_SENTINEL;
		int ref = ref_lookup(from[i], path, keybuf, &want);
		int rc = cfgpool_lookup(from[i], path, &got);

		FUZZ_CHECK(fuzz_lookup_rc_ok(rc));
		FUZZ_CHECK(rc == ref);
		FUZZ_CHECK(rc == 0 ? got == want : got == FUZZ_NODE_SENTINEL);
		fuzz_check_getters(from[i], path);
	}
	free(keybuf);
	free(path);
	return 0;
}
