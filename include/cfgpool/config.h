/*
 * The frozen configuration tree: loading, preparers, paths and typed getters.
 * Included by <cfgpool/cfgpool.h>; compiles on its own, as C and as C++.
 */
#ifndef CFGPOOL_CONFIG_H
#define CFGPOOL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfgpool/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* The frozen configuration tree                                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * A loaded configuration: the document frozen into one arena, the prepared parameter
 * blocks of the registered preparers. A holder that publishes it gives it a version.
 * Immutable once built: any number of threads may read it concurrently without locks.
 */
typedef struct cfgpool_config cfgpool_config_t;

/* A value inside a configuration. Always used through `const cfgpool_node_t *`. */
typedef struct cfgpool_node cfgpool_node_t;

typedef enum cfgpool_type {
	CFGPOOL_TYPE_NULL = 0,
	CFGPOOL_TYPE_BOOL,
	CFGPOOL_TYPE_INT,
	CFGPOOL_TYPE_REAL,
	CFGPOOL_TYPE_STRING,
	CFGPOOL_TYPE_ARRAY,
	CFGPOOL_TYPE_OBJECT,
} cfgpool_type_t;

/*
 * Objects and arrays nested deeper than this are rejected with -ELOOP, the line and column of
 * the first bracket past the limit and the path to it. The text is scanned for this before it
 * is parsed, without recursion, so any thread stack that fits a 64-deep parse will do (a
 * 64 KiB one does).
 */
#define CFGPOOL_MAX_DEPTH 64

/*
 * A preparer compiles one part of the document into a typed, immutable parameter block
 * that is stored with the configuration, so hot code reads a struct instead of looking
 * strings up. It runs once per load, on the loading thread, before anything is published.
 *
 *  prepare  reads `root` (the whole document) and on success stores its block in *params
 *           (may be NULL) and returns 0. On failure it returns a negative code and
 *           describes the problem with cfgpool_error_set(err, code, path, ...), naming
 *           the JSON path of the offending value. A failure rejects the whole document.
 *  release  frees a block prepare made; called exactly once per successful prepare, when
 *           the configuration is freed (for a snapshot a holder retired: after its
 *           grace period, on the holder's reclaim thread, or on the thread of a
 *           synchronous reload). May be NULL.
 *  arg      passed to both.
 */
typedef struct cfgpool_prep {
	const char *name;
	int (*prepare)(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg);
	void (*release)(void *params, void *arg);
	void *arg;
} cfgpool_prep_t;

/*
 * Load options. Zero-initialise and set what you need; fields may be added at the end in
 * later versions (only with a new major version would one be removed or reordered).
 *
 *  preps, nprep  preparers to run, in order; cfgpool_config_params(cfg, i) returns the
 *                block of preps[i]. Copied: the array need not outlive the call (but
 *                each preparer's `arg` must outlive the configurations it prepared).
 *  source        name used in errors for cfgpool_config_load_string(); default "<string>".
 *  max_size      the most bytes of JSON text a load accepts; 0 means CFGPOOL_DEFAULT_MAX_SIZE.
 *                A longer string, or a file whose size says it is longer, is refused
 *                before a byte is read; a file without a size (a pipe, a device) is read
 *                until one byte past the limit, then refused.
 */
typedef struct cfgpool_load_opts {
	const cfgpool_prep_t *preps;
	size_t nprep;
	const char *source;
	size_t max_size;
} cfgpool_load_opts_t;

/* The size limit of a load whose options leave max_size 0: 1 GiB of JSON text. */
#define CFGPOOL_DEFAULT_MAX_SIZE ((size_t)1 << 30)

/*
 * Loads a configuration from a file or from a string of `len` bytes (need not be
 * NUL-terminated). The document must be a JSON object; duplicate keys, invalid UTF-8, a
 * NUL byte outside a string (CFGPOOL_ESYNTAX at its line and column; inside one, it must be
 * written \u0000), nesting deeper than CFGPOOL_MAX_DEPTH and a `pool` section that breaks
 * its schema (see README) are errors. Everything outside `pool` is kept as it is.
 *
 * Thread-safe (no shared state). May block on file I/O. `opts` may be NULL.
 * Returns 0, or: -ENOENT/-EACCES/-EISDIR/-ELOOP/... for the file (a symlink loop is -ELOOP;
 * the message of a file error is the system's, "Too many levels of symbolic links"),
 * CFGPOOL_ESYNTAX (line and column set), CFGPOOL_ESCHEMA/CFGPOOL_ETYPE/-ERANGE (path set),
 * -ELOOP for nesting (path, line and column set), -E2BIG (a text longer than the options'
 * max_size; the message names the source, the size and the limit), -ENOMEM, or whatever a
 * preparer returned.
 */
CFGPOOL_API int cfgpool_config_load_file(const char *path, const cfgpool_load_opts_t *opts, cfgpool_config_t **out,
					 cfgpool_error_t *err);
CFGPOOL_API int cfgpool_config_load_string(const char *text, size_t len, const cfgpool_load_opts_t *opts,
					   cfgpool_config_t **out, cfgpool_error_t *err);

/*
 * jansson's allocator, which is process-wide. jansson 2.14 does not say when its parser runs
 * out of memory, so when libcfgpool is loaded (an ELF constructor: before main() for a
 * program linked with it) it calls json_set_alloc_funcs() once, with functions that forward
 * every call to those installed before (libc's malloc and free, unless a constructor set
 * others) and note a failure, so that a load which ran out of memory returns -ENOMEM, never
 * CFGPOOL_ESYNTAX or a document with a value wrong. cfgpool never sets them again. A host
 * must know:
 *  - Its own json_set_alloc_funcs(), made after libcfgpool is loaded and before its first
 *    jansson call (jansson's rule), replaces cfgpool's and is kept: loads allocate through
 *    it. Running out of memory inside jansson is then -ENOMEM only where jansson leaves its
 *    message empty (its first allocation, for one); elsewhere it may come out as
 *    CFGPOOL_ESYNTAX, or (jansson's lexer drops a byte it cannot store) as a success.
 *  - dlopen() of libcfgpool runs the constructor then: not while other threads use jansson.
 */

/*
 * Frees a configuration that was never published (a published one belongs to its holder).
 * Runs every preparer's release. NULL is a no-op. Not thread-safe against readers of `cfg`.
 */
CFGPOOL_API void cfgpool_config_free(cfgpool_config_t *cfg);

/* The root object. Never NULL. Borrowed from `cfg`. Wait-free. */
CFGPOOL_API const cfgpool_node_t *cfgpool_config_root(const cfgpool_config_t *cfg);

/* The version a holder published this configuration as (1, 2, ...); 0 if never published. */
CFGPOOL_API uint64_t cfgpool_config_version(const cfgpool_config_t *cfg);

/* Bytes of memory the configuration occupies: the frozen tree's arena plus the header. */
CFGPOOL_API size_t cfgpool_config_size(const cfgpool_config_t *cfg);

/* Bytes of JSON text it was loaded from. */
CFGPOOL_API size_t cfgpool_config_source_size(const cfgpool_config_t *cfg);

/*
 * The parameter block of the i-th preparer of the load options (NULL if i is out of
 * range or the preparer stored NULL). O(1), wait-free. Borrowed from `cfg`.
 */
CFGPOOL_API const void *cfgpool_config_params(const cfgpool_config_t *cfg, size_t i);

/*
 * Paths. A path is a sequence of steps, applied from a starting node:
 *   name        an object member, first step         kernel
 *   .name       an object member                     kernel.samples
 *   [N]         an array element, N from 0           pool.cpus[1]
 *   ["key"]     a member whose key is any string,    loggers["another.module"].level
 *               with \" and \\ escaped inside         loggers[""].level
 * A bare name is made of any bytes except '.', '[', ']' and '"'; anything else needs the
 * quoted form. NULL or "" designates the starting node itself.
 *
 * cfgpool_lookup() finds the node at `path` from `from`. Returns 0, -ENOENT (no such
 * member or element), CFGPOOL_ETYPE (a step into a value that is not an object/array)
 * or CFGPOOL_EPATH (malformed path; an index too large for size_t is one). Wait-free,
 * allocation-free.
 */
CFGPOOL_API int cfgpool_lookup(const cfgpool_node_t *from, const char *path, const cfgpool_node_t **out);

/*
 * Typed getters: look `path` up from `from`, check the type, store the value. Each returns
 * 0, -ENOENT when the path does not exist, CFGPOOL_ETYPE when the value has another type,
 * or CFGPOOL_EPATH. `out` is written only on success.
 *  get_int     a JSON integer (a real is a type error)
 *  get_double  a real or an integer (converted)
 *  get_string  a string: *out is NUL-terminated, *len (may be NULL) its length in bytes,
 *              which is more than strlen() for a string containing \u0000 (strlen()
 *              stops at the first one)
 *  get_length  the number of elements of an array or members of an object
 */
CFGPOOL_API int cfgpool_get_int(const cfgpool_node_t *from, const char *path, int64_t *out);
CFGPOOL_API int cfgpool_get_double(const cfgpool_node_t *from, const char *path, double *out);
CFGPOOL_API int cfgpool_get_bool(const cfgpool_node_t *from, const char *path, bool *out);
CFGPOOL_API int cfgpool_get_string(const cfgpool_node_t *from, const char *path, const char **out, size_t *len);
CFGPOOL_API int cfgpool_get_length(const cfgpool_node_t *from, const char *path, size_t *out);

/* The node's type. `node` must not be NULL. */
CFGPOOL_API cfgpool_type_t cfgpool_node_type(const cfgpool_node_t *node);

/* "null", "boolean", "integer", "real", "string", "array", "object". */
CFGPOOL_API const char *cfgpool_type_name(cfgpool_type_t type);

/* Element `index` of an array: 0, -ENOENT (index past the end) or CFGPOOL_ETYPE. */
CFGPOOL_API int cfgpool_array_get(const cfgpool_node_t *array, size_t index, const cfgpool_node_t **out);

/*
 * Member `index` of an object, in document order: its key (NUL-terminated; key_len may be
 * NULL) and value. 0, -ENOENT (index past the end) or CFGPOOL_ETYPE. Iterate with
 *   for (size_t i = 0; cfgpool_object_member(obj, i, &k, NULL, &v) == 0; i++) ...
 */
CFGPOOL_API int cfgpool_object_member(const cfgpool_node_t *object, size_t index, const char **key,
				      size_t *key_len, const cfgpool_node_t **value);

/* The member named by exactly these `key_len` bytes (no path syntax): 0, -ENOENT or ETYPE. */
CFGPOOL_API int cfgpool_object_get(const cfgpool_node_t *object, const char *key, size_t key_len,
				   const cfgpool_node_t **out);

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_CONFIG_H */
