/*
 * cfgpool — one immutable configuration shared by a pool of pinned workers.
 *
 * This is the umbrella header: `#include <cfgpool/cfgpool.h>` is all a user writes.
 *
 * Conventions, for every function below unless its comment says otherwise:
 *  - Fallible calls return 0 on success or a negative error code: a negative errno
 *    (-EINVAL, -ENOMEM, -ENOENT, ...) or one of the CFGPOOL_E* codes defined here, which
 *    lie outside errno's range. cfgpool_strerror() and cfgpool_err_name() name every code.
 *  - Objects are opaque and created through an out-parameter; on failure the
 *    out-parameter is left untouched.
 *  - Pointers into a configuration (nodes, strings, prepared parameters) are borrowed:
 *    they stay valid for as long as the cfgpool_config_t they came from. For a snapshot
 *    taken from a holder that means: until the caller's read-side section ends.
 */
#ifndef CFGPOOL_CFGPOOL_H
#define CFGPOOL_CFGPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfgpool/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CFGPOOL_BUILDING) && defined(__GNUC__)
#define CFGPOOL_API __attribute__((visibility("default")))
#else
#define CFGPOOL_API
#endif

#if defined(__GNUC__)
#define CFGPOOL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CFGPOOL_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * Every code cfgpool returns, as X(NAME, value, message). errno codes keep their (negated)
 * system value; cfgpool's own codes sit at -4000 and below, far from errno's range.
 */
#define CFGPOOL_ERRNO_MAP(X)                                                                      \
	X(EPERM, -1, "operation not permitted")                                                   \
	X(ENOENT, -2, "no such file, key or element")                                             \
	X(EIO, -5, "input/output error")                                                          \
	X(E2BIG, -7, "value or document too large")                                               \
	X(EBADF, -9, "bad file descriptor")                                                       \
	X(EAGAIN, -11, "resource temporarily unavailable")                                        \
	X(ENOMEM, -12, "out of memory")                                                           \
	X(EACCES, -13, "permission denied")                                                       \
	X(EBUSY, -16, "resource busy")                                                            \
	X(EEXIST, -17, "already exists")                                                          \
	X(ENOTDIR, -20, "not a directory")                                                        \
	X(EISDIR, -21, "is a directory")                                                          \
	X(EINVAL, -22, "invalid argument")                                                        \
	X(EMFILE, -24, "too many open files")                                                     \
	X(ERANGE, -34, "value out of range")                                                      \
	X(ENOSYS, -38, "function not implemented")                                                \
	X(ELOOP, -40, "nesting too deep")                                                         \
	X(EOVERFLOW, -75, "value too large for the requested type")                              \
	X(ESHUTDOWN, -108, "pool is closing")                                                     \
	X(ETIMEDOUT, -110, "timed out")                                                           \
	X(ECANCELED, -125, "operation canceled")                                                  \
	X(ETYPE, -4001, "value has the wrong type")                                               \
	X(ESYNTAX, -4002, "JSON syntax error")                                                    \
	X(ESCHEMA, -4003, "configuration does not match its schema")                              \
	X(EPATH, -4004, "malformed configuration path")                                           \
	X(EKERNEL, -4005, "kernel failed")

enum {
#define CFGPOOL_ERR_ENUM(name, value, msg) CFGPOOL_##name = (value),
	CFGPOOL_ERRNO_MAP(CFGPOOL_ERR_ENUM)
#undef CFGPOOL_ERR_ENUM
};

/*
 * A human-readable message for any code (0 gives "success"). Never NULL; an unknown code
 * gives "unknown error". Thread-safe: returns a static string.
 */
CFGPOOL_API const char *cfgpool_strerror(int code);

/* The code's symbolic name ("ENOENT", "ESYNTAX", ...; "OK" for 0, "UNKNOWN" otherwise). */
CFGPOOL_API const char *cfgpool_err_name(int code);

#define CFGPOOL_ERROR_SOURCE_LEN 160
#define CFGPOOL_ERROR_PATH_LEN 256
#define CFGPOOL_ERROR_TEXT_LEN 320

/*
 * What went wrong while loading or preparing a configuration. Caller-allocated; every
 * function taking one accepts NULL. The first error recorded wins: a callee that reports
 * an error after another did leaves the first in place. Initialise with
 * cfgpool_error_init() or zero it.
 *
 *  code     the value the function returned (negative), 0 while no error is recorded
 *  line     1-based line of the offending text, 0 when unknown (schema errors)
 *  column   1-based column in characters (jansson's count), 0 when unknown
 *  position byte offset from the start of the text, -1 when unknown
 *  source   the file path, or the name given for a string ("<string>" by default)
 *  path     the JSON path of the offending value ("pool.workers"), "" when none
 *  text     the message, without source or path: "expected an integer from 1 to 1024, got \"eight\""
 */
typedef struct cfgpool_error {
	int code;
	int line;
	int column;
	long position;
	char source[CFGPOOL_ERROR_SOURCE_LEN];
	char path[CFGPOOL_ERROR_PATH_LEN];
	char text[CFGPOOL_ERROR_TEXT_LEN];
} cfgpool_error_t;

CFGPOOL_API void cfgpool_error_init(cfgpool_error_t *err);

/*
 * Records an error unless `err` is NULL or already holds one, and returns `code` so a
 * caller can write `return cfgpool_error_set(err, -ERANGE, "kernel.paths", "...")`.
 * `path` may be NULL. Kernels' prepare steps use this to report a bad `kernel` section.
 */
CFGPOOL_API int cfgpool_error_set(cfgpool_error_t *err, int code, const char *path, const char *fmt, ...)
	CFGPOOL_PRINTF(4, 5);

/*
 * Formats the whole error on one line, like a compiler would:
 *   "config.json:3:22: JSON syntax error: '}' expected near '"pin"'"
 *   "config.json: pool.workers: expected an integer from 1 to 1024, got \"eight\""
 * Writes at most `size` bytes including the NUL and returns `buf`.
 */
CFGPOOL_API char *cfgpool_error_format(const cfgpool_error_t *err, char *buf, size_t size);

/* ------------------------------------------------------------------------------------------ */
/* The frozen configuration tree                                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * A loaded configuration: the document frozen into one arena, the prepared parameter
 * blocks of the registered preparers, and a version (0 until a holder publishes it).
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

/* Objects and arrays nested deeper than this are rejected (-ELOOP, with the path). */
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
 *           the configuration is freed (for a published snapshot: after its grace
 *           period, on liburcu's call_rcu thread). May be NULL.
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
 */
typedef struct cfgpool_load_opts {
	const cfgpool_prep_t *preps;
	size_t nprep;
	const char *source;
} cfgpool_load_opts_t;

/*
 * Loads a configuration from a file or from a string of `len` bytes (need not be
 * NUL-terminated). The document must be a JSON object; duplicate keys, invalid UTF-8,
 * nesting deeper than CFGPOOL_MAX_DEPTH and a `pool` section that breaks its schema (see
 * README) are errors. Everything outside `pool` is kept as it is.
 *
 * Thread-safe (no shared state). May block on file I/O. `opts` may be NULL.
 * Returns 0, or: -ENOENT/-EACCES/-EISDIR/... for the file, CFGPOOL_ESYNTAX (line and
 * column set), CFGPOOL_ESCHEMA/CFGPOOL_ETYPE/-ERANGE (path set), -ELOOP, -E2BIG (a document
 * over 4 GiB), -ENOMEM, or whatever a preparer returned.
 */
CFGPOOL_API int cfgpool_config_load_file(const char *path, const cfgpool_load_opts_t *opts, cfgpool_config_t **out,
					 cfgpool_error_t *err);
CFGPOOL_API int cfgpool_config_load_string(const char *text, size_t len, const cfgpool_load_opts_t *opts,
					   cfgpool_config_t **out, cfgpool_error_t *err);

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
 * or CFGPOOL_EPATH (malformed path). Wait-free, allocation-free.
 */
CFGPOOL_API int cfgpool_lookup(const cfgpool_node_t *from, const char *path, const cfgpool_node_t **out);

/*
 * Typed getters: look `path` up from `from`, check the type, store the value. Each returns
 * 0, -ENOENT when the path does not exist, CFGPOOL_ETYPE when the value has another type,
 * or CFGPOOL_EPATH. `out` is written only on success.
 *  get_int     a JSON integer (a real is a type error)
 *  get_double  a real or an integer (converted)
 *  get_string  a string: *out is NUL-terminated, *len (may be NULL) its length in bytes,
 *              which can be shorter than strlen() for a string containing \u0000
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

/* ------------------------------------------------------------------------------------------ */
/* Publication through RCU                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * A holder publishes the current configuration to readers through RCU (liburcu's memb
 * flavour). Readers take the current snapshot with no lock and no atomic read-modify-
 * write; a reload parses, validates and prepares away from every reader, publishes the new
 * snapshot with one atomic pointer exchange, and frees the old one after a grace period.
 *
 * Synchronization table:
 *   read_begin/read_end   any threads, concurrently with everything but destroy
 *   reloads, publish      any threads; serialized with each other by the holder's mutex
 *                         (parsing happens before the mutex is taken)
 *   stats/version         any threads, any time before destroy
 *   destroy               one thread, after every other call on the holder has returned
 */
typedef struct cfgpool_holder cfgpool_holder_t;

/*
 * Creates a holder with no configuration yet (read_begin returns NULL until the first
 * successful reload or publish). `opts` (may be NULL) is copied, preparers included;
 * `source` is borrowed. Returns 0, -ENOMEM or -EAGAIN (thread resources).
 */
CFGPOOL_API int cfgpool_holder_create(const cfgpool_load_opts_t *opts, cfgpool_holder_t **out);

/*
 * Frees the holder and its current snapshot, after waiting for every grace period and
 * deferred free it started. Must not race with any other call on the holder; no reader
 * may be inside a read-side section on it. NULL is a no-op.
 */
CFGPOOL_API void cfgpool_holder_destroy(cfgpool_holder_t *h);

/* Flags for reloads. */
enum {
	/* Return only once no reader can still see the previous snapshot, which is then freed. */
	CFGPOOL_RELOAD_SYNC = 1u << 0,
};

/*
 * Loads a configuration with the holder's options and publishes it as version
 * current+1. On any failure nothing changes: the current snapshot stays published and
 * intact, and `err` says why. Concurrent calls are serialized; each successful one gets
 * its own version. Without CFGPOOL_RELOAD_SYNC the old snapshot is handed to call_rcu and
 * freed after a grace period; with it, the call returns once no reader can still see the
 * old snapshot, which it has then freed. A synchronous reload from inside a read-side
 * section would wait for itself: it returns -EBUSY before loading anything.
 * May block (I/O, the holder mutex, a grace period). Returns 0 or the load's error.
 * `version` (may be NULL) receives the published version.
 */
CFGPOOL_API int cfgpool_holder_reload_file(cfgpool_holder_t *h, const char *path, unsigned flags,
					   uint64_t *version, cfgpool_error_t *err);
CFGPOOL_API int cfgpool_holder_reload_string(cfgpool_holder_t *h, const char *text, size_t len, unsigned flags,
					     uint64_t *version, cfgpool_error_t *err);

/*
 * Publishes a configuration loaded with cfgpool_config_load_*() by the caller. It must
 * have been loaded with the same preparers as the holder's (else -EINVAL, and the
 * caller keeps it) and never published before (else -EBUSY). On success the holder takes
 * ownership. Otherwise as reload.
 */
CFGPOOL_API int cfgpool_holder_publish(cfgpool_holder_t *h, cfgpool_config_t *cfg, unsigned flags,
				       uint64_t *version);

/*
 * Enters a read-side section and returns the current snapshot (NULL before the first
 * publish). The snapshot, and every pointer obtained from it, stays valid and unchanged
 * until the matching cfgpool_holder_read_end(): reloads in the meantime publish new
 * versions without touching it. Sections nest. Wait-free (the first call on a thread
 * registers it with liburcu, which takes a mutex once). Provides acquire ordering: the
 * snapshot's contents as published are visible. A long section delays the freeing of
 * retired snapshots, and a synchronous reload waits for it, so keep sections short.
 */
CFGPOOL_API const cfgpool_config_t *cfgpool_holder_read_begin(cfgpool_holder_t *h);
CFGPOOL_API void cfgpool_holder_read_end(cfgpool_holder_t *h);

/*
 * Reader registration. cfgpool_holder_read_begin() registers a thread on first use and the
 * registration is dropped when the thread exits; a thread may also register and
 * unregister explicitly (e.g. before a long-lived thread goes on to other work).
 * unregister must not be called inside a read-side section.
 */
CFGPOOL_API int cfgpool_reader_register(void);
CFGPOOL_API void cfgpool_reader_unregister(void);

/* The version of the current snapshot, 0 before the first publish. Wait-free. */
CFGPOOL_API uint64_t cfgpool_holder_version(const cfgpool_holder_t *h);

/*
 * Waits until every snapshot this holder retired so far has been freed. May block; must
 * not be called inside a read-side section.
 */
CFGPOOL_API void cfgpool_holder_barrier(cfgpool_holder_t *h);

typedef struct cfgpool_holder_stats {
	uint64_t published;     /* successful publishes */
	uint64_t failed;        /* reloads that failed and changed nothing */
	uint64_t retired;       /* snapshots replaced and handed to a grace period */
	uint64_t freed;         /* retired snapshots freed so far */
	size_t current_size;    /* cfgpool_config_size() of the current snapshot, 0 if none */
} cfgpool_holder_stats_t;

/* A consistent-enough copy of the counters (each read atomically). Thread-safe. */
CFGPOOL_API void cfgpool_holder_stats(const cfgpool_holder_t *h, cfgpool_holder_stats_t *out);

#ifdef __cplusplus
}
#endif

#include <cfgpool/kernel.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* The pool                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/*
 * A pool of worker threads, one per CPU by default and pinned to it, that runs one kernel
 * (see <cfgpool/kernel.h>) on inputs against the configuration it holds. Tasks go through
 * a bounded lock-free queue; each task runs against exactly one configuration snapshot,
 * pinned from its start to its end, and its result records that snapshot's version.
 *
 * Synchronization table (pool calls; "any" means any thread, concurrently):
 *   submit, map          any, with each other, with reload and stats, and with close: a
 *                        call already running when close starts returns -ESHUTDOWN or
 *                        completes normally. Close frees the pool when it returns, so the
 *                        caller must make sure no call starts after that.
 *   reload_*, version    any
 *   stats, worker_cpu    any
 *   close                one thread, once; not from inside a task or completion callback
 * A completion callback runs on a worker (or on a thread helping in map); it must not
 * block for long and must not call close.
 */
typedef struct cfgpool_pool cfgpool_pool_t;

typedef enum cfgpool_log_level { CFGPOOL_LOG_ERROR, CFGPOOL_LOG_WARN, CFGPOOL_LOG_INFO } cfgpool_log_level_t;

/*
 * Pool options. Zero-initialise; fields may be added at the end in later versions.
 *  log, log_arg  receives the pool's notices (e.g. more workers than CPUs); NULL: stderr
 *                for warnings and errors, nothing for info.
 */
typedef struct cfgpool_pool_opts {
	void (*log)(void *arg, cfgpool_log_level_t level, const char *message);
	void *log_arg;
} cfgpool_pool_opts_t;

/* The result of one task. */
typedef struct cfgpool_result {
	int status;       /* 0, the kernel's negative code, or -ECANCELED */
	unsigned worker;  /* the thread that ran it: a worker index, or >= CFGPOOL_CALLER_WORKER */
	uint64_t version; /* the configuration version the task ran against; 0 if it never ran */
	uint64_t elapsed_ns;
} cfgpool_result_t;

/*
 * Opens a pool. The configuration comes from a file, a string, or a configuration the
 * caller loaded with load options from cfgpool_kernel_prep() (the pool takes it over on
 * success). `kernel` may be NULL: the kernel is then the built-in named by `kernel.name`.
 * The `pool` section sets workers, CPUs, pinning, queue capacity and spinning (README).
 * Each worker runs the kernel's worker_init on its own thread before open returns.
 * Thread-safe. Returns 0, a load error (with `err`), -EINVAL (a CPU of pool.cpus outside
 * the affinity mask, named in `err`), -ENOMEM, -EAGAIN (threads), or worker_init's code.
 */
CFGPOOL_API int cfgpool_pool_open_file(const char *path, const cfgpool_kernel_t *kernel,
				       const cfgpool_pool_opts_t *opts, cfgpool_pool_t **out, cfgpool_error_t *err);
CFGPOOL_API int cfgpool_pool_open_string(const char *text, size_t len, const cfgpool_kernel_t *kernel,
					 const cfgpool_pool_opts_t *opts, cfgpool_pool_t **out, cfgpool_error_t *err);
CFGPOOL_API int cfgpool_pool_open_config(cfgpool_config_t *cfg, const cfgpool_kernel_t *kernel,
					 const cfgpool_pool_opts_t *opts, cfgpool_pool_t **out, cfgpool_error_t *err);

/*
 * Fills `prep` with the preparer that compiles `kernel`'s section, for
 * cfgpool_config_load_*() ahead of cfgpool_pool_open_config(). Load options copy the
 * preparers into every configuration, so `prep` need not outlive the call.
 */
CFGPOOL_API void cfgpool_kernel_prep(const cfgpool_kernel_t *kernel, cfgpool_prep_t *prep);

enum {
	CFGPOOL_CLOSE_DRAIN = 0,  /* run everything queued, then stop */
	CFGPOOL_CLOSE_CANCEL = 1, /* complete queued tasks with -ECANCELED; running ones finish */
};

/*
 * Stops accepting tasks, finishes or cancels what is queued (every accepted task still
 * completes exactly once, its callback included), runs worker_fini on each worker, joins
 * the workers and frees everything. Blocks. NULL is a no-op. Returns 0.
 */
CFGPOOL_API int cfgpool_pool_close(cfgpool_pool_t *pool, int how);

enum {
	/* Return -EAGAIN instead of waiting when the queue is full. */
	CFGPOOL_SUBMIT_NONBLOCK = 1u << 0,
};

/*
 * Called once per submitted task, after its output is written, on the thread that ran it.
 * `result` is valid during the call only.
 */
typedef void (*cfgpool_done_fn)(void *arg, void *output, const cfgpool_result_t *result);

/*
 * Queues one task: kernel(input) -> output, then done(arg, output, result). `input` and
 * `output` are borrowed until `done` runs. Lock-free unless the queue is full (then it
 * waits for room, or returns -EAGAIN with CFGPOOL_SUBMIT_NONBLOCK). No allocation.
 * Returns 0 (done will run exactly once), -EAGAIN or -ESHUTDOWN (done will not run).
 */
CFGPOOL_API int cfgpool_pool_submit(cfgpool_pool_t *pool, const void *input, void *output, cfgpool_done_fn done,
				    void *arg, unsigned flags);

/*
 * Runs the kernel on n inputs and waits for all of them: outputs[i] and results[i] (may be
 * NULL) belong to inputs[i]. Strides of 0 mean the kernel's input_size / output_size.
 * With pool.caller_helps (the default) the calling thread takes part: a batch whose
 * expected work is below pool.wake_threshold_us runs entirely on it, and for tasks under
 * 200 us it works as the worker of its CPU while the other workers take the rest; it may
 * then also run other callers' queued tasks (their callbacks run on it). A failing item
 * does not stop the others. Thread-safe; blocks until the batch is done; no allocation.
 * Returns 0 when every item succeeded, CFGPOOL_EKERNEL when at least one failed (see
 * results), -EINVAL, or -ESHUTDOWN / -EAGAIN (nothing was run).
 */
CFGPOOL_API int cfgpool_pool_map(cfgpool_pool_t *pool, const void *inputs, size_t in_stride, void *outputs,
				 size_t out_stride, size_t n, cfgpool_result_t *results, unsigned flags);

/* Reloads the pool's configuration (see cfgpool_holder_reload_file()). */
CFGPOOL_API int cfgpool_pool_reload_file(cfgpool_pool_t *pool, const char *path, unsigned flags, uint64_t *version,
					 cfgpool_error_t *err);
CFGPOOL_API int cfgpool_pool_reload_string(cfgpool_pool_t *pool, const char *text, size_t len, unsigned flags,
					   uint64_t *version, cfgpool_error_t *err);

/* The current configuration version. Wait-free. */
CFGPOOL_API uint64_t cfgpool_pool_version(const cfgpool_pool_t *pool);

/* The holder the pool publishes its configuration through, for readers outside tasks. */
CFGPOOL_API cfgpool_holder_t *cfgpool_pool_holder(cfgpool_pool_t *pool);

/* The kernel the pool runs. */
CFGPOOL_API const cfgpool_kernel_t *cfgpool_pool_kernel(const cfgpool_pool_t *pool);

/* Number of workers, and the CPU worker i is pinned to (-1 when not pinned). */
CFGPOOL_API unsigned cfgpool_pool_workers(const cfgpool_pool_t *pool);
CFGPOOL_API int cfgpool_pool_worker_cpu(const cfgpool_pool_t *pool, unsigned i);

typedef struct cfgpool_worker_stats {
	int cpu;
	uint64_t tasks;
	uint64_t busy_ns;
	uint64_t parks; /* times the worker went to sleep */
	uint64_t wakes; /* times it was woken */
} cfgpool_worker_stats_t;

typedef struct cfgpool_pool_stats {
	uint64_t submitted;
	uint64_t completed; /* including failed and cancelled */
	uint64_t failed;    /* kernel returned an error */
	uint64_t cancelled;
	uint64_t caller_tasks; /* run by submitting threads helping in map */
	uint64_t queue_high_water;
	uint64_t parks, wakes;
	uint64_t reloads;        /* successful reloads after open */
	uint64_t reload_failures;
	unsigned workers;
} cfgpool_pool_stats_t;

/*
 * Copies the counters (each read atomically; the set is not one instant's). `workers`
 * (may be NULL) receives up to `nworkers` per-worker entries. Thread-safe.
 */
CFGPOOL_API void cfgpool_pool_stats(const cfgpool_pool_t *pool, cfgpool_pool_stats_t *out,
				    cfgpool_worker_stats_t *workers, size_t nworkers);

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_CFGPOOL_H */
