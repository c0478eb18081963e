/*
 * The frozen configuration tree: path lookup, typed getters, iteration, and the accessors
 * of a loaded configuration. Everything here reads immutable memory, so every function is
 * wait-free, lock-free and safe from any number of threads at once. Nothing allocates,
 * except a lookup through a quoted key longer than KEY_BUF bytes that contains escapes.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "config_tree.h"

/* A quoted path key with escapes is unescaped here; longer ones go to the heap. */
#define KEY_BUF 256

/* ------------------------------------------------------------------------------------------ */
/* Keys and members                                                                           */
/* ------------------------------------------------------------------------------------------ */

int cfgpool__key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

int cfgpool_object_get(const cfgpool_node_t *object, const char *key, size_t key_len,
		       const cfgpool_node_t **out)
{
	const struct cfgpool_member *m;

	if (object->type != CFGPOOL_TYPE_OBJECT)
		return CFGPOOL_ETYPE;
	m = object->u.members;
	if (object->len <= CFGPOOL__LINEAR_MAX) {
		for (uint32_t i = 0; i < object->len; i++) {
			if (cfgpool__key_len(m[i].key) == key_len && memcmp(m[i].key, key, key_len) == 0) {
				*out = &m[i].value;
				return 0;
			}
		}
		return -ENOENT;
	}

	const uint32_t *index = cfgpool__object_index(object);
	size_t lo = 0, hi = object->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = m[index[mid]].key;
		int c = cfgpool__key_cmp(k, cfgpool__key_len(k), key, key_len);

		if (c == 0) {
			*out = &m[index[mid]].value;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

int cfgpool_object_member(const cfgpool_node_t *object, size_t index, const char **key, size_t *key_len,
			  const cfgpool_node_t **value)
{
	const struct cfgpool_member *m;

	if (object->type != CFGPOOL_TYPE_OBJECT)
		return CFGPOOL_ETYPE;
	if (index >= object->len)
		return -ENOENT;
	m = &object->u.members[index];
	if (key != NULL)
		*key = m->key;
	if (key_len != NULL)
		*key_len = cfgpool__key_len(m->key);
	if (value != NULL)
		*value = &m->value;
	return 0;
}

int cfgpool_array_get(const cfgpool_node_t *array, size_t index, const cfgpool_node_t **out)
{
	if (array->type != CFGPOOL_TYPE_ARRAY)
		return CFGPOOL_ETYPE;
	if (index >= array->len)
		return -ENOENT;
	*out = &array->u.items[index];
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Paths                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Parses `[N]` starting after '['; returns the position after ']' or NULL. */
static const char *parse_index(const char *p, size_t *index)
{
	size_t v = 0;

	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9') {
		size_t d = (size_t)(*p - '0');

		if (v > (SIZE_MAX - d) / 10)
			return NULL;
		v = v * 10 + d;
		p++;
	}
	if (*p != ']')
		return NULL;
	*index = v;
	return p + 1;
}

/*
 * Parses `"key"]` starting at the opening quote. On success returns the position after
 * ']' and the key as (*key, *len): either pointing into the path (no escapes) or into
 * `buf` / a heap block stored in *heap, which the caller frees.
 */
static const char *parse_quoted(const char *p, char *buf, char **heap, const char **key, size_t *len)
{
	const char *start = ++p;
	bool escaped = false;
	size_t n = 0;

	for (; *p != '"'; p++, n++) {
		if (*p == '\0')
			return NULL;
		if (*p == '\\') {
			if (p[1] != '"' && p[1] != '\\')
				return NULL;
			escaped = true;
			p++;
		}
	}
	if (p[1] != ']')
		return NULL;
	if (!escaped) {
		*key = start;
		*len = n;
		return p + 2;
	}

	char *dst = buf;

	if (n > KEY_BUF) {
		dst = *heap = malloc(n);
		if (dst == NULL)
			return NULL;
	}
	for (const char *q = start; q < p; q++) {
		if (*q == '\\')
			q++;
		*dst++ = *q;
	}
	*key = *heap ? *heap : buf;
	*len = n;
	return p + 2;
}

/* One step of a path, as parsed. */
struct step {
	const char *key; /* NULL for an array index */
	size_t len;      /* key length, or the index */
	char *heap;      /* an unescaped key too long for the stack buffer; caller frees */
	char buf[KEY_BUF];
};

/* Parses the step at *p (the first one if `first`) and advances *p. 0 or CFGPOOL_EPATH. */
static int parse_step(const char **pp, bool first, struct step *st)
{
	const char *p = *pp;

	st->heap = NULL;
	if (*p == '[' && p[1] == '"') {
		p = parse_quoted(p + 1, st->buf, &st->heap, &st->key, &st->len);
	} else if (*p == '[') {
		st->key = NULL;
		p = parse_index(p + 1, &st->len);
	} else {
		if (*p == '.') {
			if (first)
				return CFGPOOL_EPATH;
			p++;
		} else if (!first) {
			return CFGPOOL_EPATH;
		}
		st->key = p;
		while (*p != '\0' && *p != '.' && *p != '[') {
			if (*p == ']' || *p == '"')
				return CFGPOOL_EPATH;
			p++;
		}
		st->len = (size_t)(p - st->key);
		if (st->len == 0)
			return CFGPOOL_EPATH;
	}
	if (p == NULL)
		return CFGPOOL_EPATH;
	*pp = p;
	return 0;
}

/* Checks the syntax of the rest of a path, so a malformed path is EPATH however far it got. */
static int check_rest(const char *p)
{
	struct step st;

	while (*p != '\0') {
		int rc = parse_step(&p, false, &st);

		free(st.heap);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int cfgpool_lookup(const cfgpool_node_t *from, const char *path, const cfgpool_node_t **out)
{
	const cfgpool_node_t *node = from;
	const char *p = path ? path : "";
	bool first = true;

	while (*p != '\0') {
		struct step st;
		int rc = parse_step(&p, first, &st);

		if (rc != 0)
			return rc;
		if (st.key != NULL)
			rc = cfgpool_object_get(node, st.key, st.len, &node);
		else
			rc = cfgpool_array_get(node, st.len, &node);
		free(st.heap);
		if (rc != 0)
			return check_rest(p) ? CFGPOOL_EPATH : rc;
		first = false;
	}
	*out = node;
	return 0;
}

/* Looks `path` up and checks that the value has type `want`. */
static int lookup_typed(const cfgpool_node_t *from, const char *path, cfgpool_type_t want,
			const cfgpool_node_t **out)
{
	int rc = cfgpool_lookup(from, path, out);

	if (rc != 0)
		return rc;
	return (*out)->type == want ? 0 : CFGPOOL_ETYPE;
}

int cfgpool_get_int(const cfgpool_node_t *from, const char *path, int64_t *out)
{
	const cfgpool_node_t *n;
	int rc = lookup_typed(from, path, CFGPOOL_TYPE_INT, &n);

	if (rc == 0)
		*out = n->u.i;
	return rc;
}

int cfgpool_get_double(const cfgpool_node_t *from, const char *path, double *out)
{
	const cfgpool_node_t *n;
	int rc = cfgpool_lookup(from, path, &n);

	if (rc != 0)
		return rc;
	if (n->type == CFGPOOL_TYPE_REAL)
		*out = n->u.d;
	else if (n->type == CFGPOOL_TYPE_INT)
		*out = (double)n->u.i;
	else
		return CFGPOOL_ETYPE;
	return 0;
}

int cfgpool_get_bool(const cfgpool_node_t *from, const char *path, bool *out)
{
	const cfgpool_node_t *n;
	int rc = lookup_typed(from, path, CFGPOOL_TYPE_BOOL, &n);

	if (rc == 0)
		*out = n->u.b;
	return rc;
}

int cfgpool_get_string(const cfgpool_node_t *from, const char *path, const char **out, size_t *len)
{
	const cfgpool_node_t *n;
	int rc = lookup_typed(from, path, CFGPOOL_TYPE_STRING, &n);

	if (rc != 0)
		return rc;
	*out = n->u.s;
	if (len != NULL)
		*len = n->len;
	return 0;
}

int cfgpool_get_length(const cfgpool_node_t *from, const char *path, size_t *out)
{
	const cfgpool_node_t *n;
	int rc = cfgpool_lookup(from, path, &n);

	if (rc != 0)
		return rc;
	if (n->type != CFGPOOL_TYPE_ARRAY && n->type != CFGPOOL_TYPE_OBJECT)
		return CFGPOOL_ETYPE;
	*out = n->len;
	return 0;
}

cfgpool_type_t cfgpool_node_type(const cfgpool_node_t *node)
{
	return (cfgpool_type_t)node->type;
}

const char *cfgpool_type_name(cfgpool_type_t type)
{
	static const char *const names[] = {"null", "boolean", "integer", "real", "string", "array", "object"};

	if ((unsigned)type >= CFGPOOL_ARRAY_SIZE(names))
		return "unknown";
	return names[type];
}

/* ------------------------------------------------------------------------------------------ */
/* Paths and values in messages                                                               */
/* ------------------------------------------------------------------------------------------ */

/* A key can be written bare unless it is empty or holds a byte the path syntax reserves. */
static bool key_is_bare(const char *key, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = key[i];

		if (c == '.' || c == '[' || c == ']' || c == '"' || c == '\0')
			return false;
	}
	return true;
}

/* Appends bytes to the NUL-terminated `buf`, truncating at `size` - 1. */
static void append(char *buf, size_t size, const char *s, size_t n)
{
	size_t used = strnlen(buf, size);

	if (used + 1 >= size)
		return;
	if (n > size - 1 - used)
		n = size - 1 - used;
	memcpy(buf + used, s, n);
	buf[used + n] = '\0';
}

void cfgpool__path_key(char *buf, size_t size, const char *key, size_t len)
{
	if (key_is_bare(key, len)) {
		if (buf[0] != '\0')
			append(buf, size, ".", 1);
		append(buf, size, key, len);
		return;
	}
	append(buf, size, "[\"", 2);
	for (size_t i = 0; i < len; i++) {
		if (key[i] == '"' || key[i] == '\\')
			append(buf, size, "\\", 1);
		append(buf, size, &key[i], 1);
	}
	append(buf, size, "\"]", 2);
}

void cfgpool__path_index(char *buf, size_t size, size_t index)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "[%zu]", index);

	append(buf, size, tmp, (size_t)n);
}

void cfgpool__node_describe(const struct cfgpool_node *node, char *buf, size_t size)
{
	switch (node->type) {
	case CFGPOOL_TYPE_NULL:
		snprintf(buf, size, "null");
		break;
	case CFGPOOL_TYPE_BOOL:
		snprintf(buf, size, "%s", node->u.b ? "true" : "false");
		break;
	case CFGPOOL_TYPE_INT:
		snprintf(buf, size, "%" PRId64, node->u.i);
		break;
	case CFGPOOL_TYPE_REAL:
		snprintf(buf, size, "%.17g", node->u.d);
		break;
	case CFGPOOL_TYPE_STRING: {
		/* Quote it, cut long strings short and keep control bytes out of the message. */
		size_t n = node->len > 40 ? 40 : node->len;

		buf[0] = '\0';
		append(buf, size, "\"", 1);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)node->u.s[i];

			if (c < 0x20 || c == '"' || c == '\\') {
				char esc[8];

				snprintf(esc, sizeof(esc), "\\u%04x", c);
				append(buf, size, esc, strlen(esc));
			} else {
				append(buf, size, (const char *)&c, 1);
			}
		}
		append(buf, size, node->len > n ? "...\"" : "\"", node->len > n ? 4 : 1);
		break;
	}
	case CFGPOOL_TYPE_ARRAY:
		snprintf(buf, size, "an array");
		break;
	default:
		snprintf(buf, size, "an object");
		break;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* The configuration                                                                          */
/* ------------------------------------------------------------------------------------------ */

const cfgpool_node_t *cfgpool_config_root(const cfgpool_config_t *cfg)
{
	return &cfg->root;
}

size_t cfgpool_config_size(const cfgpool_config_t *cfg)
{
	return cfg->size;
}

size_t cfgpool_config_source_size(const cfgpool_config_t *cfg)
{
	return cfg->source_size;
}

const void *cfgpool_config_params(const cfgpool_config_t *cfg, size_t i)
{
	return i < cfg->nprep ? cfg->params[i] : NULL;
}

void cfgpool__config_destroy(struct cfgpool_config *cfg)
{
	for (size_t i = 0; i < cfg->nprep; i++) {
		if (cfg->preps[i].release != NULL)
			cfg->preps[i].release(cfg->params[i], cfg->preps[i].arg);
	}
	free(cfg->dir);
	free(cfg);
}

void cfgpool_config_free(cfgpool_config_t *cfg)
{
	if (cfg == NULL)
		return;
	/* A published configuration belongs to its holder, which frees it after a grace
	 * period; freeing it here would pull it from under readers. */
	if (atomic_load_explicit(&cfg->publication, memory_order_relaxed) != NULL)
		cfgpool__die("cfgpool_config_free() on a published configuration");
	cfgpool__config_destroy(cfg);
}
