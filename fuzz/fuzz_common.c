/* Checks shared by the fuzz targets (see fuzz.h). */
#include "fuzz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char fuzz_sentinel[2];

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: fuzz_%s: contract broken: %s\n", file, line, fuzz_target_name, what);
	abort();
}

/* Length of the UTF-8 sequence starting at s[0] (of n bytes left), 0 if it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* The second byte's range excludes overlongs, surrogates and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

bool fuzz_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		size_t len = utf8_seq(p, n);

		if (len == 0)
			return false;
		p += len;
		n -= len;
	}
	return true;
}

/* A field is NUL-terminated inside its array and valid UTF-8 up to the NUL. */
static void check_field(const char *field, size_t size)
{
	const char *nul = memchr(field, '\0', size);

	FUZZ_CHECK(nul != NULL);
	FUZZ_CHECK(fuzz_utf8_valid(field, (size_t)(nul - field)));
}

void fuzz_check_error(const cfgpool_error_t *err, int rc)
{
	char line[1024];

	FUZZ_CHECK(rc < 0);
	FUZZ_CHECK(err->code == rc);
	FUZZ_CHECK(strcmp(cfgpool_err_name(rc), "UNKNOWN") != 0);
	FUZZ_CHECK(err->line >= 0);
	FUZZ_CHECK(err->column >= 0);
	FUZZ_CHECK(err->position >= -1);
	check_field(err->source, sizeof(err->source));
	check_field(err->path, sizeof(err->path));
	check_field(err->text, sizeof(err->text));
	FUZZ_CHECK(err->text[0] != '\0');
	FUZZ_CHECK(cfgpool_error_format(err, line, sizeof(line)) == line);
	check_field(line, sizeof(line));
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_node(uint64_t h, const cfgpool_node_t *node)
{
	cfgpool_type_t type = cfgpool_node_type(node);
	const cfgpool_node_t *child;
	const char *s;
	size_t len;
	int64_t i;
	double d;
	bool b;

	h = mix(h, &type, sizeof(type));
	switch (type) {
	case CFGPOOL_TYPE_BOOL:
		FUZZ_CHECK(cfgpool_get_bool(node, NULL, &b) == 0);
		return mix(h, &b, sizeof(b));
	case CFGPOOL_TYPE_INT:
		FUZZ_CHECK(cfgpool_get_int(node, NULL, &i) == 0);
		return mix(h, &i, sizeof(i));
	case CFGPOOL_TYPE_REAL:
		FUZZ_CHECK(cfgpool_get_double(node, NULL, &d) == 0);
		return mix(h, &d, sizeof(d));
	case CFGPOOL_TYPE_STRING:
		FUZZ_CHECK(cfgpool_get_string(node, NULL, &s, &len) == 0);
		return mix(mix(h, &len, sizeof(len)), s, len);
	case CFGPOOL_TYPE_ARRAY:
		for (size_t k = 0; cfgpool_array_get(node, k, &child) == 0; k++)
			h = hash_node(h, child);
		return mix(h, "]", 1);
	case CFGPOOL_TYPE_OBJECT:
		for (size_t k = 0; cfgpool_object_member(node, k, &s, &len, &child) == 0; k++)
			h = hash_node(mix(mix(h, &len, sizeof(len)), s, len), child);
		return mix(h, "}", 1);
	default:
		return h;
	}
}

uint64_t fuzz_tree_hash(const cfgpool_node_t *node)
{
	return hash_node(0xcbf29ce484222325ull, node);
}

bool fuzz_lookup_rc_ok(int rc)
{
	return rc == 0 || rc == -ENOENT || rc == CFGPOOL_ETYPE || rc == CFGPOOL_EPATH;
}

/* Every getter on (from, path) agrees with cfgpool_lookup() and with the node's type. */
void fuzz_check_getters(const cfgpool_node_t *from, const char *path)
{
	const cfgpool_node_t *n = FUZZ_NODE_SENTINEL, *again;
	int rc = cfgpool_lookup(from, path, &n);
	int type = -1;
	int64_t i = FUZZ_INT_SENTINEL, i2;
	double d = -0.0, d2;
	union {
		bool b;
		unsigned char byte;
	} b = {.byte = 0x5a};
	bool b2;
	const char *s = FUZZ_STR_SENTINEL, *s2;
	size_t len = FUZZ_LEN_SENTINEL, len2, count = FUZZ_LEN_SENTINEL, count2;
	int want;

	FUZZ_CHECK(fuzz_lookup_rc_ok(rc));
	if (rc != 0) {
		FUZZ_CHECK(n == FUZZ_NODE_SENTINEL);
	} else {
		type = (int)cfgpool_node_type(n);
		FUZZ_CHECK(type >= CFGPOOL_TYPE_NULL && type <= CFGPOOL_TYPE_OBJECT);
		FUZZ_CHECK(strcmp(cfgpool_type_name((cfgpool_type_t)type), "unknown") != 0);
		FUZZ_CHECK(cfgpool_lookup(n, NULL, &again) == 0 && again == n);
		FUZZ_CHECK(cfgpool_lookup(n, "", &again) == 0 && again == n);
	}

	/* Each getter: rc of the lookup, else 0 for its types and CFGPOOL_ETYPE for the rest. */
#define WANT(ok) (rc != 0 ? rc : (ok) ? 0 : CFGPOOL_ETYPE)
	want = WANT(type == CFGPOOL_TYPE_INT);
	FUZZ_CHECK(cfgpool_get_int(from, path, &i) == want);
	if (want != 0)
		FUZZ_CHECK(i == FUZZ_INT_SENTINEL);
	else
		FUZZ_CHECK(cfgpool_get_int(n, NULL, &i2) == 0 && i2 == i);

	want = WANT(type == CFGPOOL_TYPE_INT || type == CFGPOOL_TYPE_REAL);
	FUZZ_CHECK(cfgpool_get_double(from, path, &d) == want);
	if (want != 0) {
		FUZZ_CHECK(d == 0.0 && signbit(d));
	} else {
		FUZZ_CHECK(cfgpool_get_double(n, "", &d2) == 0 && memcmp(&d, &d2, sizeof(d)) == 0);
		if (type == CFGPOOL_TYPE_INT)
			FUZZ_CHECK(d == (double)i);
	}

	want = WANT(type == CFGPOOL_TYPE_BOOL);
	FUZZ_CHECK(cfgpool_get_bool(from, path, &b.b) == want);
	if (want != 0)
		FUZZ_CHECK(b.byte == 0x5a);
	else
		FUZZ_CHECK(b.byte <= 1 && cfgpool_get_bool(n, NULL, &b2) == 0 && b2 == b.b);

	want = WANT(type == CFGPOOL_TYPE_STRING);
	FUZZ_CHECK(cfgpool_get_string(from, path, &s, &len) == want);
	if (want != 0) {
		FUZZ_CHECK(s == FUZZ_STR_SENTINEL && len == FUZZ_LEN_SENTINEL);
		FUZZ_CHECK(cfgpool_get_string(from, path, &s, NULL) == want && s == FUZZ_STR_SENTINEL);
	} else {
		/* NUL-terminated at its length; an embedded \u0000 makes strlen() shorter. */
		FUZZ_CHECK(s[len] == '\0');
		FUZZ_CHECK(strlen(s) <= len);
		FUZZ_CHECK(fuzz_utf8_valid(s, len));
		FUZZ_CHECK(cfgpool_get_string(n, NULL, &s2, &len2) == 0 && s2 == s && len2 == len);
		FUZZ_CHECK(cfgpool_get_string(n, NULL, &s2, NULL) == 0 && s2 == s);
	}

	want = WANT(type == CFGPOOL_TYPE_ARRAY || type == CFGPOOL_TYPE_OBJECT);
	FUZZ_CHECK(cfgpool_get_length(from, path, &count) == want);
	if (want != 0)
		FUZZ_CHECK(count == FUZZ_LEN_SENTINEL);
	else
		FUZZ_CHECK(cfgpool_get_length(n, NULL, &count2) == 0 && count2 == count);
#undef WANT
}

bool fuzz_same_error(const cfgpool_error_t *a, const cfgpool_error_t *b)
{
	return a->code == b->code && a->line == b->line && a->column == b->column && a->position == b->position &&
	       strcmp(a->source, b->source) == 0 && strcmp(a->path, b->path) == 0 && strcmp(a->text, b->text) == 0;
}

