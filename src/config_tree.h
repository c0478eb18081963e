/*
 * The frozen configuration tree: its layout in one arena. Internal; config_load.c builds
 * it, everything else only reads it.
 *
 * Layout. One malloc holds, in order: the struct cfgpool_config header, the array of
 * preparer block pointers, the nodes (16 bytes each, 8-aligned) and the bytes of every
 * string. A node is { type, len, value }: scalars hold their value inline; a string points
 * at its NUL-terminated bytes; an array at `len` consecutive nodes; an object at `len`
 * members { key, value } in document order, followed, for objects of more than
 * CFGPOOL__LINEAR_MAX members, by a uint32 index of the members sorted by key for binary
 * search. Keys are interned: each distinct key is stored once, its 32-bit length just
 * before its bytes.
 */
#ifndef CFGPOOL_SRC_CONFIG_TREE_H
#define CFGPOOL_SRC_CONFIG_TREE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

/* Objects up to this many members are searched linearly; larger ones carry a sorted index. */
#define CFGPOOL__LINEAR_MAX 8

struct cfgpool_member;

struct cfgpool_node {
	uint8_t type; /* cfgpool_type_t */
	uint8_t reserved[3];
	uint32_t len; /* bytes of a string, elements of an array, members of an object */
	union {
		int64_t i;
		double d;
		bool b;
		const char *s;
		const struct cfgpool_node *items;
		const struct cfgpool_member *members;
	} u;
};

struct cfgpool_member {
	const char *key; /* interned; its uint32 length sits in the 4 bytes before it */
	struct cfgpool_node value;
};

struct cfgpool_config {
	/*
	 * Opaque to this layer: NULL until a layer above (the RCU holder) takes the
	 * configuration over, then that layer's own record of it. Claimed once by an atomic
	 * compare-and-swap, so two publishes of one configuration cannot both succeed, and
	 * cfgpool_config_free() refuses a configuration that has been taken over.
	 */
	_Atomic(const void *) publication;
	size_t size;        /* bytes of this allocation */
	size_t source_size; /* bytes of JSON text */
	const cfgpool_prep_t *preps; /* a copy of the load options' preparers, in this allocation */
	size_t nprep;                /* blocks made so far (all of them once loaded) */
	void **params;               /* nprep blocks, inside this allocation */
	char *dir;                   /* the directory of the file it was loaded from (malloc'ed), NULL for a string */
	struct cfgpool_node root;
	/* The rest of the allocation: params, nodes, strings. */
	max_align_t arena[];
};

static inline uint32_t cfgpool__key_len(const char *key)
{
	uint32_t len;

	__builtin_memcpy(&len, key - sizeof(len), sizeof(len));
	return len;
}

/* Sorted-index slot array of an object with more than CFGPOOL__LINEAR_MAX members. */
static inline const uint32_t *cfgpool__object_index(const struct cfgpool_node *obj)
{
	return (const uint32_t *)(obj->u.members + obj->len);
}

/* Bytes an object of n members takes in the node area (members + index, 8-aligned). */
static inline size_t cfgpool__object_bytes(size_t n)
{
	size_t bytes = n * sizeof(struct cfgpool_member);

	if (n > CFGPOOL__LINEAR_MAX)
		bytes += (n * sizeof(uint32_t) + 7) & ~(size_t)7;
	return bytes;
}

/* Orders keys as the sorted index does: by bytes, then by length. */
int cfgpool__key_cmp(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Appends one step to a JSON path in `buf` (NUL-terminated, `size` bytes): `.key` or
 * `key` at the start, `["key"]` when the key needs quoting, `[index]`. Truncates safely.
 */
void cfgpool__path_key(char *buf, size_t size, const char *key, size_t len);
void cfgpool__path_index(char *buf, size_t size, size_t index);

/* Writes a short rendering of a value for messages: 12, 2.5, "eight", true, an array. */
void cfgpool__node_describe(const struct cfgpool_node *node, char *buf, size_t size);

/*
 * The directory the document's relative file names (kernel.plugin) are relative to: that
 * of the file it was loaded from, NULL (the working directory) for a string. `root` must
 * be a configuration's root, as every preparer is given it.
 */
static inline const char *cfgpool__config_dir(const struct cfgpool_node *root)
{
	const struct cfgpool_config *cfg =
		(const struct cfgpool_config *)(const void *)((const char *)root - offsetof(struct cfgpool_config, root));

	return cfg->dir;
}

/* Runs every preparer's release and frees the allocation. */
void cfgpool__config_destroy(struct cfgpool_config *cfg);

#endif /* CFGPOOL_SRC_CONFIG_TREE_H */
