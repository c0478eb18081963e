/*
 * Fuzz target (a): a configuration loaded from arbitrary bytes, then every node visited
 * with every getter, and paths looked up: paths built from the document's own keys and
 * indexes, and raw slices of the input used as paths.
 *
 * The input is the JSON text, whole. Its last byte also picks the variations, so the seeds
 * stay plain JSON files: bit 0-1 a built-in kernel's preparer for a second load (none, or
 * the 1st..3rd of cfgpool_kernel_list()), bit 2 a third load with max_size 1 + (byte >> 3).
 *
 * Contracts checked:
 *  - a failed load returns one of the documented codes, leaves *out alone, and fills the
 *    error struct with code == rc and valid, NUL-terminated fields;
 *  - a load that fits max_size behaves exactly as one without a limit; one that does not
 *    is -E2BIG, naming the source, the size and the limit;
 *  - a load with a preparer that succeeds freezes the same tree as one without;
 *  - each getter succeeds exactly on its types, agrees with the path-less form, and leaves
 *    its out parameters untouched on failure; a string is NUL-terminated at its length and
 *    strlen() never exceeds that length; every string and key is valid UTF-8;
 *  - array_get and object_member visit exactly get_length() children and return -ENOENT
 *    past the end; object_get of each member's key finds that member, and a probe key finds
 *    what a linear scan of the members finds (the sorted index of large objects agrees with
 *    document order);
 *  - the path built for each node (bare or quoted form, escapes where needed) looks up that
 *    very node, from the root and one step from its parent;
 *  - any byte string used as a path gives one of cfgpool_lookup()'s documented codes, and
 *    every getter on it agrees with the lookup.
 */
#include "fuzz.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const fuzz_target_name = "config";

/* Probing a large object linearly for each of its keys is quadratic; bound it. */
#define PROBES_PER_OBJECT 64
/* Raw slices of the input used as paths, and their longest length. */
#define SLICES 8
#define SLICE_MAX 48

struct walk {
	const cfgpool_node_t *root;
	char *path; /* the path of the node being visited, from the root */
	size_t cap;
};

/* The member of `obj` with exactly these key bytes, by a scan in document order. */
static const cfgpool_node_t *find_linear(const cfgpool_node_t *obj, const char *key, size_t len)
{
	const cfgpool_node_t *v;
	const char *k;
	size_t klen;

	for (size_t i = 0; cfgpool_object_member(obj, i, &k, &klen, &v) == 0; i++)
		if (klen == len && memcmp(k, key, len) == 0)
			return v;
	return NULL;
}

/* object_get agrees with the linear scan, and leaves *out alone when it finds nothing. */
static void probe_key(const cfgpool_node_t *obj, const char *key, size_t len)
{
	const cfgpool_node_t *want = find_linear(obj, key, len), *got = FUZZ_NODE_SENTINEL;
	int rc = cfgpool_object_get(obj, key, len, &got);

	if (want != NULL)
		FUZZ_CHECK(rc == 0 && got == want);
	else
		FUZZ_CHECK(rc == -ENOENT && got == FUZZ_NODE_SENTINEL);
}

static bool key_is_bare(const char *key, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (key[i] == '.' || key[i] == '[' || key[i] == ']' || key[i] == '"' || key[i] == '\0')
			return false;
	return true;
}

/* Writes the quoted step ["key"] (\" and \\ escaped) at dst; returns its length. */
static size_t quote_key(char *dst, const char *key, size_t len)
{
	size_t n = 0;

	dst[n++] = '[';
	dst[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (key[i] == '"' || key[i] == '\\')
			dst[n++] = '\\';
		dst[n++] = key[i];
	}
	dst[n++] = '"';
	dst[n++] = ']';
	dst[n] = '\0';
	return n;
}

/* A path of one step to `key`, in the bare form if `bare`, else quoted, into `buf`. */
static void one_step(char *buf, const char *key, size_t len, bool bare)
{
	if (bare) {
		memcpy(buf, key, len);
		buf[len] = '\0';
	} else {
		quote_key(buf, key, len);
	}
}

static void visit(struct walk *w, const cfgpool_node_t *node, size_t plen, bool expressible);

/* `parent` is not an object / not an array: the calls for the other kind say so. */
static void check_wrong_kind(const cfgpool_node_t *parent, cfgpool_type_t type)
{
	const cfgpool_node_t *out = FUZZ_NODE_SENTINEL;
	const char *key = FUZZ_STR_SENTINEL;
	size_t klen = FUZZ_LEN_SENTINEL;

	if (type != CFGPOOL_TYPE_ARRAY)
		FUZZ_CHECK(cfgpool_array_get(parent, 0, &out) == CFGPOOL_ETYPE && out == FUZZ_NODE_SENTINEL);
	if (type != CFGPOOL_TYPE_OBJECT) {
		FUZZ_CHECK(cfgpool_object_member(parent, 0, &key, &klen, &out) == CFGPOOL_ETYPE);
		FUZZ_CHECK(cfgpool_object_get(parent, "", 0, &out) == CFGPOOL_ETYPE);
		FUZZ_CHECK(out == FUZZ_NODE_SENTINEL && key == FUZZ_STR_SENTINEL && klen == FUZZ_LEN_SENTINEL);
	}
}

static void visit_array(struct walk *w, const cfgpool_node_t *arr, size_t plen, bool expressible)
{
	const cfgpool_node_t *item, *found, *out = FUZZ_NODE_SENTINEL;
	size_t n, i;
	char step[32];

	FUZZ_CHECK(cfgpool_get_length(arr, NULL, &n) == 0);
	for (i = 0; cfgpool_array_get(arr, i, &item) == 0; i++) {
		int k = snprintf(step, sizeof(step), "[%zu]", i);

		FUZZ_CHECK(cfgpool_lookup(arr, step, &found) == 0 && found == item);
		memcpy(w->path + plen, step, (size_t)k + 1);
		visit(w, item, plen + (size_t)k, expressible);
	}
	FUZZ_CHECK(i == n);
	FUZZ_CHECK(cfgpool_array_get(arr, n, &out) == -ENOENT && out == FUZZ_NODE_SENTINEL);
	snprintf(step, sizeof(step), "[%zu]", n);
	FUZZ_CHECK(cfgpool_lookup(arr, step, &out) == -ENOENT && out == FUZZ_NODE_SENTINEL);
}

static void visit_object(struct walk *w, const cfgpool_node_t *obj, size_t plen, bool expressible)
{
	const cfgpool_node_t *value, *found, *out = FUZZ_NODE_SENTINEL;
	const char *key = FUZZ_STR_SENTINEL;
	size_t n, i, klen = FUZZ_LEN_SENTINEL;

	FUZZ_CHECK(cfgpool_get_length(obj, NULL, &n) == 0);
	for (i = 0; cfgpool_object_member(obj, i, &key, &klen, &value) == 0; i++) {
		bool bare = key_is_bare(key, klen), has_nul = memchr(key, '\0', klen) != NULL;
		size_t step;

		FUZZ_CHECK(key[klen] == '\0');
		FUZZ_CHECK(fuzz_utf8_valid(key, klen));
		FUZZ_CHECK(cfgpool_object_member(obj, i, NULL, NULL, NULL) == 0);
		FUZZ_CHECK(cfgpool_object_get(obj, key, klen, &found) == 0 && found == value);
		if (i < PROBES_PER_OBJECT && klen > 0) {
			probe_key(obj, key, klen - 1);
			probe_key(obj, key + 1, klen - 1);
		}
		/* A key holding a NUL cannot be written in a path, which is a C string. */
		if (!has_nul) {
			char *buf = w->path + plen; /* scratch: overwritten below */

			if (bare) {
				one_step(buf, key, klen, true);
				FUZZ_CHECK(cfgpool_lookup(obj, buf, &found) == 0 && found == value);
			}
			one_step(buf, key, klen, false);
			FUZZ_CHECK(cfgpool_lookup(obj, buf, &found) == 0 && found == value);
		}
		if (bare) {
			step = 0;
			if (plen > 0)
				w->path[plen + step++] = '.';
			memcpy(w->path + plen + step, key, klen);
			step += klen;
			w->path[plen + step] = '\0';
		} else {
			step = quote_key(w->path + plen, key, klen);
		}
		visit(w, value, plen + step, expressible && !has_nul);
	}
	FUZZ_CHECK(i == n);
	FUZZ_CHECK(cfgpool_object_member(obj, n, &key, &klen, &out) == -ENOENT && out == FUZZ_NODE_SENTINEL);
}

/* Visits `node`, whose path from the root is w->path[0..plen) unless !expressible. */
static void visit(struct walk *w, const cfgpool_node_t *node, size_t plen, bool expressible)
{
	cfgpool_type_t type = cfgpool_node_type(node);

	w->path[plen] = '\0';
	fuzz_check_getters(node, NULL);
	if (expressible) {
		const cfgpool_node_t *found = FUZZ_NODE_SENTINEL;

		FUZZ_CHECK(cfgpool_lookup(w->root, w->path, &found) == 0 && found == node);
		fuzz_check_getters(w->root, w->path);
	}
	check_wrong_kind(node, type);
	if (type == CFGPOOL_TYPE_ARRAY)
		visit_array(w, node, plen, expressible);
	else if (type == CFGPOOL_TYPE_OBJECT)
		visit_object(w, node, plen, expressible);
}

/* Raw slices of the input as paths, and as probe keys for the root object. */
static void check_slices(const cfgpool_node_t *root, const uint8_t *data, size_t size)
{
	char path[SLICE_MAX + 1];

	for (size_t j = 0; j < SLICES && size > 0; j++) {
		size_t start = size * j / SLICES;
		size_t len = 1 + data[start] % SLICE_MAX;

		if (len > size - start)
			len = size - start;
		memcpy(path, data + start, len);
		path[len] = '\0';
		fuzz_check_getters(root, path);
		probe_key(root, path, len);
	}
}

/* Codes a load without preparers may return for text it was given. */
static bool load_rc_ok(int rc)
{
	return rc == CFGPOOL_ESYNTAX || rc == CFGPOOL_ESCHEMA || rc == -ELOOP || rc == -E2BIG || rc == -ENOMEM;
}

/* Loads and checks what a failure leaves behind. Returns the rc. */
static int load(const uint8_t *data, size_t size, const cfgpool_load_opts_t *opts, cfgpool_config_t **cfg,
		cfgpool_error_t *err)
{
	cfgpool_config_t *sentinel = (cfgpool_config_t *)(void *)fuzz_sentinel;
	int rc;

	*cfg = sentinel;
	cfgpool_error_init(err);
	rc = cfgpool_config_load_string((const char *)data, size, opts, cfg, err);
	if (rc != 0) {
		FUZZ_CHECK(*cfg == sentinel);
		fuzz_check_error(err, rc);
		FUZZ_CHECK(strcmp(err->source, "<string>") == 0);
		if (rc == CFGPOOL_ESYNTAX || rc == -ELOOP)
			FUZZ_CHECK(err->line >= 1 && err->position >= 0);
		*cfg = NULL;
		return rc;
	}
	FUZZ_CHECK(*cfg != NULL && *cfg != sentinel);
	FUZZ_CHECK(err->code == 0);
	FUZZ_CHECK(cfgpool_config_source_size(*cfg) == size);
	FUZZ_CHECK(cfgpool_config_version(*cfg) == 0);
	FUZZ_CHECK(cfgpool_node_type(cfgpool_config_root(*cfg)) == CFGPOOL_TYPE_OBJECT);
	return 0;
}

/* The load under a small size limit: refused if too long, else the same as without one. */
static void check_max_size(const uint8_t *data, size_t size, size_t limit, int rc0, const cfgpool_error_t *err0,
			   uint64_t hash0)
{
	cfgpool_load_opts_t opts = {.max_size = limit};
	cfgpool_config_t *cfg;
	cfgpool_error_t err;
	char num[32];
	int rc = load(data, size, &opts, &cfg, &err);

	if (size > limit) {
		FUZZ_CHECK(rc == -E2BIG);
		FUZZ_CHECK(strstr(err.text, "<string>") != NULL);
		snprintf(num, sizeof(num), "%zu", size);
		FUZZ_CHECK(strstr(err.text, num) != NULL);
		snprintf(num, sizeof(num), "%zu", limit);
		FUZZ_CHECK(strstr(err.text, num) != NULL);
		return;
	}
	FUZZ_CHECK(rc == rc0);
	if (rc == 0) {
		FUZZ_CHECK(fuzz_tree_hash(cfgpool_config_root(cfg)) == hash0);
		cfgpool_config_free(cfg);
	} else {
		FUZZ_CHECK(fuzz_same_error(&err, err0));
	}
}

/* The load with a kernel's preparer: either its error, or the same tree with its block. */
static void check_prepared(const uint8_t *data, size_t size, const cfgpool_kernel_t *kernel, int rc0,
			   const cfgpool_error_t *err0, uint64_t hash0)
{
	cfgpool_prep_t prep;
	cfgpool_load_opts_t opts = {.preps = &prep, .nprep = 1};
	cfgpool_config_t *cfg;
	cfgpool_error_t err;
	int rc;

	cfgpool_kernel_prep(kernel, &prep);
	rc = load(data, size, &opts, &cfg, &err);
	if (rc0 != 0) {
		/* The text itself is bad: the preparer never runs, the error is the same. */
		FUZZ_CHECK(rc == rc0 && fuzz_same_error(&err, err0));
		return;
	}
	if (rc != 0)
		return;
	FUZZ_CHECK(fuzz_tree_hash(cfgpool_config_root(cfg)) == hash0);
	FUZZ_CHECK(cfgpool_config_params(cfg, 1) == NULL);
	cfgpool_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cfgpool_kernel_t *const *kernels = cfgpool_kernel_list();
	unsigned sel = size > 0 ? data[size - 1] : 0;
	uint64_t hash = 0;
	cfgpool_config_t *cfg;
	cfgpool_error_t err;
	int rc = load(data, size, NULL, &cfg, &err);

	FUZZ_CHECK(rc == 0 || load_rc_ok(rc));
	if (rc == 0) {
		/* The longest path: every byte of a key escaped, plus "[N]" or '.' per level. */
		struct walk w = {.root = cfgpool_config_root(cfg), .cap = 2 * size + 32 * (CFGPOOL_MAX_DEPTH + 1)};

		w.path = malloc(w.cap);
		FUZZ_CHECK(w.path != NULL);
		hash = fuzz_tree_hash(w.root);
		visit(&w, w.root, 0, true);
		check_slices(w.root, data, size);
		free(w.path);
		FUZZ_CHECK(fuzz_tree_hash(w.root) == hash);
	}
	if ((sel & 3) != 0) {
		size_t k = 0;

		while (kernels[k] != NULL && k + 1 < (sel & 3))
			k++;
		if (kernels[k] != NULL)
			check_prepared(data, size, kernels[k], rc, &err, hash);
	}
	if (sel & 4)
		check_max_size(data, size, 1 + (sel >> 3), rc, &err, hash);
	cfgpool_config_free(cfg);
	return 0;
}
