/*
 * Loading a configuration: read the text, parse it with jansson (the only place in the
 * library where a json_t exists), freeze the document into one arena and run the
 * preparers. Nothing here knows of pools or of RCU: the `pool` section is the pool's
 * preparer's business. The json_t is gone before the configuration is returned.
 *
 * Freezing takes two passes over the jansson document. The first measures: bytes of nodes,
 * bytes of strings, and every distinct key (interned in a hash table, so an array of a
 * million records with the same five keys stores those keys once). It also enforces the
 * limits (depth, 32-bit lengths) before anything is allocated. The second pass writes
 * into a single allocation of exactly the measured size.
 *
 * Everything here runs on the loading thread only and shares no state: thread-safe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "config_tree.h"
#include "error.h"

/* ------------------------------------------------------------------------------------------ */
/* Key interning                                                                              */
/* ------------------------------------------------------------------------------------------ */

struct key_slot {
	const char *key; /* jansson's bytes, alive for both passes */
	size_t len;
	uint64_t hash;
	char *frozen; /* the key's bytes in the arena, once written by the second pass */
};

struct interner {
	struct key_slot *slots;
	size_t cap; /* a power of two */
	size_t count;
};

static uint64_t hash_key(const char *key, size_t len)
{
	/* FNV-1a: keys are short and this runs once per member at load time only. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static struct key_slot *interner_find(struct interner *in, const char *key, size_t len, uint64_t hash)
{
	size_t mask = in->cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct key_slot *s = &in->slots[i];

		if (s->key == NULL || (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0))
			return s;
	}
}

static int interner_grow(struct interner *in)
{
	struct interner bigger = {.cap = in->cap ? in->cap * 2 : 64, .count = in->count};

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < in->cap; i++) {
		struct key_slot *s = &in->slots[i];

		if (s->key != NULL)
			*interner_find(&bigger, s->key, s->len, s->hash) = *s;
	}
	free(in->slots);
	*in = bigger;
	return 0;
}

/* Adds the key if new; *added says whether it was. */
static int interner_add(struct interner *in, const char *key, size_t len, bool *added)
{
	struct key_slot *s;
	uint64_t hash = hash_key(key, len);

	if ((in->count + 1) * 2 > in->cap && interner_grow(in) != 0)
		return -ENOMEM;
	s = interner_find(in, key, len, hash);
	*added = s->key == NULL;
	if (*added) {
		s->key = key;
		s->len = len;
		s->hash = hash;
		in->count++;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Freezing                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* One step of the path from the root, kept so that errors can name where they are. */
struct step {
	const char *key; /* NULL for an array element */
	size_t len;      /* key length or element index */
};

struct freezer {
	struct interner keys;
	size_t node_bytes; /* measured by the first pass */
	size_t str_bytes;
	char *node_cur; /* bump cursors of the second pass */
	char *str_cur;
	struct step path[CFGPOOL_MAX_DEPTH + 1];
	cfgpool_error_t *err;
};

static void format_path(const struct freezer *fz, size_t depth, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = 0; i < depth; i++) {
		if (fz->path[i].key != NULL)
			cfgpool__path_key(buf, size, fz->path[i].key, fz->path[i].len);
		else
			cfgpool__path_index(buf, size, fz->path[i].len);
	}
}

static int too_big(struct freezer *fz, size_t depth, const char *what, size_t n)
{
	char path[CFGPOOL_ERROR_PATH_LEN];

	format_path(fz, depth, path, sizeof(path));
	return cfgpool_error_set(fz->err, -E2BIG, path, "%s of %zu exceeds the limit of %u", what, n, UINT32_MAX);
}

/* Pass 1. `depth` counts the steps from the root to `v`. */
static int measure(struct freezer *fz, json_t *v, size_t depth)
{
	size_t n;
	int rc;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		/* check_depth() refused deeper documents before jansson saw them; path[] relies on it. */
		if (depth + 1 > CFGPOOL_MAX_DEPTH)
			cfgpool__die("a document deeper than CFGPOOL_MAX_DEPTH got past the pre-scan");
		break;
	case JSON_STRING:
		n = json_string_length(v);
		if (n >= UINT32_MAX)
			return too_big(fz, depth, "a string length", n);
		fz->str_bytes += n + 1;
		return 0;
	default:
		return 0;
	}

	if (json_is_array(v)) {
		n = json_array_size(v);
		if (n > UINT32_MAX)
			return too_big(fz, depth, "an array length", n);
		fz->node_bytes += n * sizeof(struct cfgpool_node);
		for (size_t i = 0; i < n; i++) {
			fz->path[depth] = (struct step){NULL, i};
			rc = measure(fz, json_array_get(v, i), depth + 1);
			if (rc != 0)
				return rc;
		}
		return 0;
	}

	n = json_object_size(v);
	if (n > UINT32_MAX)
		return too_big(fz, depth, "an object size", n);
	fz->node_bytes += cfgpool__object_bytes(n);
	for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
		const char *key = json_object_iter_key(it);
		size_t len = json_object_iter_key_len(it);
		bool added;

		if (len >= UINT32_MAX)
			return too_big(fz, depth, "a key length", len);
		if (interner_add(&fz->keys, key, len, &added) != 0)
			return cfgpool_error_set(fz->err, -ENOMEM, NULL, "out of memory interning keys");
		if (added)
			fz->str_bytes += sizeof(uint32_t) + len + 1;
		fz->path[depth] = (struct step){key, len};
		rc = measure(fz, json_object_iter_value(it), depth + 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void *bump_nodes(struct freezer *fz, size_t bytes)
{
	void *p = fz->node_cur;

	fz->node_cur += bytes;
	return p;
}

static char *freeze_string(struct freezer *fz, const char *s, size_t len)
{
	char *dst = fz->str_cur;

	memcpy(dst, s, len);
	dst[len] = '\0';
	fz->str_cur += len + 1;
	return dst;
}

static const char *freeze_key(struct freezer *fz, const char *key, size_t len)
{
	struct key_slot *s = interner_find(&fz->keys, key, len, hash_key(key, len));
	uint32_t len32 = (uint32_t)len;

	if (s->frozen == NULL) {
		memcpy(fz->str_cur, &len32, sizeof(len32));
		fz->str_cur += sizeof(len32);
		s->frozen = freeze_string(fz, key, len);
	}
	return s->frozen;
}

static int cmp_members(const void *a, const void *b, void *arg)
{
	const struct cfgpool_member *m = arg;
	const char *ka = m[*(const uint32_t *)a].key;
	const char *kb = m[*(const uint32_t *)b].key;

	return cfgpool__key_cmp(ka, cfgpool__key_len(ka), kb, cfgpool__key_len(kb));
}

/* Pass 2: writes `v` into `dst`, its children into the arena. Cannot fail. */
static void fill(struct freezer *fz, json_t *v, struct cfgpool_node *dst)
{
	memset(dst, 0, sizeof(*dst));
	switch (json_typeof(v)) {
	case JSON_NULL:
		dst->type = CFGPOOL_TYPE_NULL;
		return;
	case JSON_TRUE:
	case JSON_FALSE:
		dst->type = CFGPOOL_TYPE_BOOL;
		dst->u.b = json_is_true(v);
		return;
	case JSON_INTEGER:
		dst->type = CFGPOOL_TYPE_INT;
		dst->u.i = json_integer_value(v);
		return;
	case JSON_REAL:
		dst->type = CFGPOOL_TYPE_REAL;
		dst->u.d = json_real_value(v);
		return;
	case JSON_STRING:
		dst->type = CFGPOOL_TYPE_STRING;
		dst->len = (uint32_t)json_string_length(v);
		dst->u.s = freeze_string(fz, json_string_value(v), dst->len);
		return;
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		struct cfgpool_node *items = bump_nodes(fz, n * sizeof(*items));

		dst->type = CFGPOOL_TYPE_ARRAY;
		dst->len = (uint32_t)n;
		dst->u.items = items;
		for (size_t i = 0; i < n; i++)
			fill(fz, json_array_get(v, i), &items[i]);
		return;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		struct cfgpool_member *m = bump_nodes(fz, cfgpool__object_bytes(n));

		dst->type = CFGPOOL_TYPE_OBJECT;
		dst->len = (uint32_t)n;
		dst->u.members = m;
		for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it), i++) {
			m[i].key = freeze_key(fz, json_object_iter_key(it), json_object_iter_key_len(it));
			fill(fz, json_object_iter_value(it), &m[i].value);
		}
		if (n > CFGPOOL__LINEAR_MAX) {
			uint32_t *index = (uint32_t *)(m + n);

			for (uint32_t k = 0; k < n; k++)
				index[k] = k;
			qsort_r(index, n, sizeof(*index), cmp_members, m);
		}
		return;
	}
	}
	cfgpool__die("unknown jansson type");
}

/*
 * Header + preparer block slots + a copy of the preparers (so the caller's array need not
 * outlive the configuration), rounded so the node area that follows is 8-aligned.
 */
static size_t header_bytes(size_t nprep)
{
	return (sizeof(struct cfgpool_config) + nprep * (sizeof(void *) + sizeof(cfgpool_prep_t)) + 7) & ~(size_t)7;
}

static int freeze(json_t *doc, size_t nprep, struct cfgpool_config **out, cfgpool_error_t *err)
{
	struct freezer fz = {.err = err};
	struct cfgpool_config *cfg;
	size_t total;
	int rc;

	rc = measure(&fz, doc, 0);
	if (rc != 0)
		goto out;
	total = header_bytes(nprep) + fz.node_bytes + fz.str_bytes;
	cfg = calloc(1, total);
	if (cfg == NULL) {
		rc = cfgpool_error_set(err, -ENOMEM, NULL, "out of memory allocating %zu bytes for the tree", total);
		goto out;
	}
	cfg->size = total;
	cfg->params = (void **)cfg->arena;
	fz.node_cur = (char *)cfg + header_bytes(nprep);
	fz.str_cur = fz.node_cur + fz.node_bytes;
	fill(&fz, doc, &cfg->root);
	if (fz.node_cur != (char *)cfg + header_bytes(nprep) + fz.node_bytes || fz.str_cur != (char *)cfg + total)
		cfgpool__die("the two freezing passes disagree on the tree's size");
	*out = cfg;
out:
	free(fz.keys.slots);
	return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The depth pre-scan                                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * jansson's parser recurses once per level up to its own limit of 2048, which overflows a
 * small thread stack (64 KiB) long before the freezer could refuse the document. So the
 * text is scanned first, without recursion, for the first object or array that opens past
 * CFGPOOL_MAX_DEPTH; only a document that nests no deeper reaches jansson. The scan keeps
 * the key or index of every open level, to name the path the way the freezer would.
 */
#define PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

struct open_level {
	const char *key; /* the last key's literal, quotes included; NULL in an array */
	size_t key_len;
	size_t index; /* elements before the current one, in an array */
};

/* The end of the string literal whose opening quote is at `p`: its closing quote, or NULL. */
static const char *string_end(const char *p, const char *end)
{
	for (p++; (p = memchr(p, '"', (size_t)(end - p))) != NULL; p++) {
		const char *q = p;

		/* An odd run of backslashes escapes the quote. */
		while (q[-1] == '\\')
			q--;
		if ((p - q) % 2 == 0)
			return p;
	}
	return NULL;
}

/*
 * The byte offset of the first '[' or '{' past the limit or of the first NUL byte outside a
 * string (setting `*nul`), or `len` if there is neither. jansson's reader takes a NUL byte
 * for the end of its buffer and reads on, so a raw NUL between tokens would load as if it
 * were not there; JSON allows none (RFC 8259, section 2), and neither does cfgpool.
 */
static size_t scan_depth(const char *text, size_t len, struct open_level *levels, bool *nul)
{
	const char *p = text, *end = text + len, *last_string = NULL;
	size_t depth = 0, last_len = 0;

	for (; p < end; p++) {
		switch (*p) {
		case '"': {
			const char *q = string_end(p, end);

			if (q == NULL)
				return len; /* unterminated: jansson says so */
			last_string = p;
			last_len = (size_t)(q - p) + 1;
			p = q;
			break;
		}
		case '[':
		case '{':
			if (depth == CFGPOOL_MAX_DEPTH)
				return (size_t)(p - text);
			levels[depth++] = (struct open_level){NULL, 0, 0};
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case ':':
			if (depth > 0) {
				levels[depth - 1].key = last_string;
				levels[depth - 1].key_len = last_len;
			}
			break;
		case ',':
			if (depth > 0)
				levels[depth - 1].index++;
			break;
		case '\0':
			*nul = true;
			return (size_t)(p - text);
		default:
			break;
		}
	}
	return len;
}

/* Appends the step of one open level to `buf`, decoding the key's escapes with jansson. */
static void path_step(char *buf, size_t size, const struct open_level *l)
{
	json_t *key;

	if (l->key == NULL) {
		cfgpool__path_index(buf, size, l->index);
		return;
	}
	key = json_loadb(l->key, l->key_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (json_is_string(key))
		cfgpool__path_key(buf, size, json_string_value(key), json_string_length(key));
	else /* out of memory: the literal as written is the next best name */
		cfgpool__path_key(buf, size, l->key + 1, l->key_len - 2);
	json_decref(key);
}

/* jansson's line, column (in characters) and position (bytes read) of the byte at `off`. */
static void locate_offset(const char *text, size_t off, int *line, int *column)
{
	const char *p = text, *nl;

	*line = 1;
	while ((nl = memchr(p, '\n', off - (size_t)(p - text))) != NULL) {
		(*line)++;
		p = nl + 1;
	}
	*column = 0;
	for (; p <= text + off; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			(*column)++;
}

/* ------------------------------------------------------------------------------------------ */
/* Loading                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Documents at least this large hand the memory of their parse back to the system. */
#define TRIM_THRESHOLD (1u << 20)

/*
 * jansson 2.14 does not say when its parser runs out of memory: a failed allocation comes
 * out as an error with no message, as a syntax error ("invalid token" where a string could
 * not be copied), or not at all, when the lexer drops a byte it could not append to a token
 * and the parse succeeds with a wrong value. So cfgpool wraps jansson's allocator, forwarding
 * to whatever was installed before (libc's malloc, or functions a constructor of the host
 * set), and notes a failed allocation in a thread-local flag that the loader checks after
 * every parse, successful or not. The wrapper only observes: every block still comes from,
 * and goes back to, the allocator the process chose.
 *
 * jansson wants json_set_alloc_funcs() called before any other of its functions, and the
 * call is not synchronised with threads using jansson, so the wrapper is installed once, when
 * the library is loaded (before main() for a program linked with it), never later. A host
 * that sets its own functions afterwards replaces it; cfgpool then recognises running out of
 * memory inside jansson only by jansson's empty message (see cfgpool_config_load_file()).
 */
static json_malloc_t next_malloc;
static json_free_t next_free;
static __thread bool parse_ran_out;

static void *noting_malloc(size_t n)
{
	void *p = next_malloc(n);

	if (p == NULL)
		parse_ran_out = true;
	return p;
}

static void forwarding_free(void *p)
{
	next_free(p);
}

__attribute__((constructor)) static void wrap_jansson_allocator(void)
{
	json_get_alloc_funcs(&next_malloc, &next_free);
	if (next_malloc == NULL || next_free == NULL) {
		next_malloc = malloc;
		next_free = free;
	}
	json_set_alloc_funcs(noting_malloc, forwarding_free);
}

static int json_error_to_code(const json_error_t *je)
{
	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		return -ENOMEM;
	case json_error_stack_overflow:
		return -ELOOP;
	default:
		return CFGPOOL_ESYNTAX;
	}
}

static int ran_out(size_t len, const char *source, cfgpool_error_t *err)
{
	int rc = cfgpool_error_set(err, -ENOMEM, NULL, "out of memory while parsing %zu bytes of JSON", len);

	cfgpool__error_source(err, source);
	return rc;
}

/* Reports a failed json_loadb() of `len` bytes. */
static int parse_failed(const json_error_t *je, size_t len, const char *source, cfgpool_error_t *err)
{
	int rc;

	/* Every error of jansson's parser has a message but those of a failed allocation. */
	if (parse_ran_out || je->text[0] == '\0')
		return ran_out(len, source, err);
	rc = json_error_to_code(je);
	if (err != NULL && err->code == 0) {
		cfgpool_error_set(err, rc, NULL, "%s", je->text);
		cfgpool__error_locate(err, source, je->line, je->column, (long)je->position);
	}
	return rc;
}

/*
 * Refuses a document that nests deeper than CFGPOOL_MAX_DEPTH, or holds a NUL byte outside a
 * string, before jansson parses it.
 */
static int check_depth(const char *text, size_t len, const char *source, cfgpool_error_t *err)
{
	struct open_level levels[CFGPOOL_MAX_DEPTH];
	char path[CFGPOOL_ERROR_PATH_LEN] = "";
	bool nul = false;
	size_t off = scan_depth(text, len, levels, &nul);
	json_error_t je;
	json_t *prefix;
	int line, column, rc;

	if (off == len)
		return 0;
	/*
	 * A syntax error before the first level too deep (or the NUL byte) comes first in the
	 * text, so it is the one to report. The text up to there nests no deeper than the limit,
	 * and parsing it can only end early, unless something in it is wrong.
	 */
	parse_ran_out = false;
	prefix = json_loadb(text, off, PARSE_FLAGS, &je);
	if (prefix == NULL && (parse_ran_out || json_error_code(&je) != json_error_premature_end_of_input))
		return parse_failed(&je, off, source, err);
	json_decref(prefix);
	if (nul) {
		if (err == NULL || err->code != 0)
			return CFGPOOL_ESYNTAX;
		rc = cfgpool_error_set(err, CFGPOOL_ESYNTAX, NULL, "a NUL byte outside a string (JSON allows none)");
		locate_offset(text, off, &line, &column);
		cfgpool__error_locate(err, source, line, column, (long)off + 1);
		return rc;
	}
	for (size_t i = 0; i < CFGPOOL_MAX_DEPTH; i++)
		path_step(path, sizeof(path), &levels[i]);
	if (err == NULL || err->code != 0)
		return -ELOOP;
	rc = cfgpool_error_set(err, -ELOOP, path, "objects and arrays nest deeper than the limit of %d",
			       CFGPOOL_MAX_DEPTH);
	locate_offset(text, off, &line, &column);
	cfgpool__error_locate(err, source, line, column, (long)off + 1);
	return rc;
}

/* Runs the preparers in order; on failure releases the blocks already made. */
static int prepare_all(struct cfgpool_config *cfg, const cfgpool_load_opts_t *opts, cfgpool_error_t *err)
{
	for (size_t i = 0; i < opts->nprep; i++) {
		const cfgpool_prep_t *p = &opts->preps[i];
		void *params = NULL;
		int rc = p->prepare ? p->prepare(&cfg->root, &params, err, p->arg) : 0;

		if (rc != 0) {
			if (rc > 0)
				rc = -EINVAL; /* a preparer that broke the sign convention */
			cfgpool_error_set(err, rc, NULL, "%s: preparation failed without a message",
					  p->name ? p->name : "preparer");
			cfg->nprep = i; /* release only the blocks that exist */
			return rc;
		}
		cfg->params[i] = params;
		cfg->nprep = i + 1;
	}
	return 0;
}

/* The directory part of `path` ("." for a bare name), malloc'ed, or NULL when out of memory. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* `file` is the path the text was read from, NULL for a string. */
static int config_build(const char *text, size_t len, const char *source, const char *file,
			const cfgpool_load_opts_t *opts, struct cfgpool_config **out, cfgpool_error_t *err)
{
	static const cfgpool_load_opts_t no_opts;
	struct cfgpool_config *cfg = NULL;
	json_error_t je;
	json_t *doc;
	int rc;

	if (opts == NULL)
		opts = &no_opts;
	if (opts->nprep > 0 && opts->preps == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "load options name %zu preparers but no array",
					 opts->nprep);

	rc = check_depth(text, len, source, err);
	if (rc != 0)
		return rc;
	parse_ran_out = false;
	doc = json_loadb(text, len, PARSE_FLAGS, &je);
	if (doc == NULL)
		return parse_failed(&je, len, source, err);
	if (parse_ran_out) {
		/* A success in spite of a failed allocation: the lexer may have dropped bytes. */
		json_decref(doc);
		return ran_out(len, source, err);
	}
	if (!json_is_object(doc)) {
		rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, NULL, "the top level must be an object, got %s",
				       json_is_array(doc) ? "an array" : "a scalar");
		goto fail;
	}

	rc = freeze(doc, opts->nprep, &cfg, err);
	json_decref(doc); /* From here on nothing of jansson is left. */
	doc = NULL;
#ifdef HAVE_MALLOC_TRIM
	/* jansson's tree takes about 11 times the text in small blocks; give a large one's
	 * pages back now rather than keep them in the heap for the life of the process. */
	if (len >= TRIM_THRESHOLD)
		malloc_trim(0);
#endif
	if (rc != 0)
		goto fail;
	cfg->source_size = len;
	if (file != NULL) {
		cfg->dir = dir_of(file);
		if (cfg->dir == NULL) {
			rc = cfgpool_error_set(err, -ENOMEM, NULL, "out of memory");
			goto fail;
		}
	}
	if (opts->nprep > 0) {
		cfgpool_prep_t *preps = (cfgpool_prep_t *)(cfg->params + opts->nprep);

		memcpy(preps, opts->preps, opts->nprep * sizeof(*preps));
		cfg->preps = preps;
	}

	rc = prepare_all(cfg, opts, err);
	if (rc != 0)
		goto fail;
	*out = cfg;
	return 0;

fail:
	json_decref(doc);
	if (cfg != NULL)
		cfgpool__config_destroy(cfg);
	cfgpool__error_source(err, source);
	return rc;
}

static size_t max_size(const cfgpool_load_opts_t *opts)
{
	size_t limit = opts != NULL && opts->max_size != 0 ? opts->max_size : CFGPOOL_DEFAULT_MAX_SIZE;

	/* read_file() needs room for one byte past the limit. */
	return limit < SIZE_MAX ? limit : SIZE_MAX - 1;
}

/* `what` is "" when `size` is exact, "more than " when reading stopped one byte past the limit. */
static int over_limit(const char *source, const char *what, size_t size, size_t limit, cfgpool_error_t *err)
{
	return cfgpool_error_set(err, -E2BIG, NULL, "%s: %s%zu bytes of JSON text exceed the limit of %zu bytes",
				 source, what, size, limit);
}

/* Reads a whole file, at most `limit` bytes, into a malloc'ed buffer. Errors name the path. */
static int read_file(const char *path, size_t limit, char **text, size_t *len, cfgpool_error_t *err)
{
	struct stat st;
	size_t cap, used = 0;
	char *buf;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return cfgpool_error_set(err, rc, NULL, "cannot open %s: %s", path, cfgpool__system_strerror(rc));
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return cfgpool_error_set(err, rc, NULL, "cannot stat %s: %s", path, cfgpool__system_strerror(rc));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return cfgpool_error_set(err, -EISDIR, NULL, "%s is a directory, not a configuration file", path);
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > limit) {
		close(fd);
		return over_limit(path, "", (size_t)st.st_size, limit, err);
	}
	/* st_size is a hint only: pipes and /proc files report 0, files can grow. One byte past
	 * the limit is room enough to see that a source without a size is too long. */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	if (cap > limit + 1)
		cap = limit + 1;
	buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return cfgpool_error_set(err, -ENOMEM, NULL, "out of memory reading %s", path);
	}
	for (;;) {
		ssize_t n;

		if (used > limit) {
			rc = over_limit(path, "more than ", limit, limit, err);
			goto fail;
		}
		if (used == cap) {
			size_t bigger_cap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
			char *bigger = realloc(buf, bigger_cap);

			if (bigger == NULL) {
				rc = cfgpool_error_set(err, -ENOMEM, NULL, "out of memory reading %s", path);
				goto fail;
			}
			buf = bigger;
			cap = bigger_cap;
		}
		n = read(fd, buf + used, cap - used);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			cfgpool_error_set(err, rc, NULL, "cannot read %s: %s", path, cfgpool__system_strerror(rc));
			goto fail;
		}
		used += (size_t)n;
	}
	close(fd);
	*text = buf;
	*len = used;
	return 0;
fail:
	close(fd);
	free(buf);
	return rc;
}

int cfgpool_config_load_file(const char *path, const cfgpool_load_opts_t *opts, cfgpool_config_t **out,
			     cfgpool_error_t *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL || out == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "cfgpool_config_load_file: path and out must not be NULL");
	rc = read_file(path, max_size(opts), &text, &len, err);
	if (rc != 0) {
		cfgpool__error_source(err, path);
		return rc;
	}
	rc = config_build(text, len, path, path, opts, out, err);
	free(text);
	return rc;
}

int cfgpool_config_load_string(const char *text, size_t len, const cfgpool_load_opts_t *opts,
			       cfgpool_config_t **out, cfgpool_error_t *err)
{
	const char *source = opts && opts->source ? opts->source : "<string>";

	if ((text == NULL && len > 0) || out == NULL) {
		cfgpool_error_set(err, -EINVAL, NULL, "cfgpool_config_load_string: text and out must not be NULL");
		cfgpool__error_source(err, source);
		return -EINVAL;
	}
	if (len > max_size(opts)) {
		over_limit(source, "", len, max_size(opts), err);
		cfgpool__error_source(err, source);
		return -E2BIG;
	}
	return config_build(text ? text : "", len, source, NULL, opts, out, err);
}
