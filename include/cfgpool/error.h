/*
 * cfgpool errors: the code table, messages and the caller-owned error struct.
 * Included by <cfgpool/cfgpool.h>; compiles on its own, as C and as C++.
 */
#ifndef CFGPOOL_ERROR_H
#define CFGPOOL_ERROR_H

#include <stddef.h>

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
	X(EDEADLK, -35, "resource deadlock avoided")                                              \
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
	X(EKERNEL, -4005, "kernel failed")                                                        \
	X(EFORKED, -4006, "pool or holder belongs to the parent process")

enum {
#define CFGPOOL_ERR_ENUM(name, value, msg) CFGPOOL_##name = (value),
	CFGPOOL_ERRNO_MAP(CFGPOOL_ERR_ENUM)
#undef CFGPOOL_ERR_ENUM
};

/*
 * A human-readable message for any code (0 gives "success"): the map's message for a code
 * in it; for another negative errno value, the C library's (glibc's strerrordesc_np(),
 * "Numerical argument out of domain" for -EDOM); "unknown error" for anything else, or for
 * every code outside the map where the C library has no strerrordesc_np(). Never NULL.
 * Thread-safe: returns a static string, the same whatever the locale.
 */
CFGPOOL_API const char *cfgpool_strerror(int code);

/*
 * The code's symbolic name: "ENOENT", "ESYNTAX", ... from the map; "OK" for 0; for another
 * negative errno value the C library's name (strerrorname_np(): "EDOM"); "UNKNOWN"
 * otherwise. Never NULL. Thread-safe: returns a static string.
 */
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
 *
 * source, path and text are always valid UTF-8, whatever bytes they were made from (a file
 * name, a key or value quoted from the input, a preparer's message): each byte that begins no
 * valid sequence is written as the four characters \xNN, and a field that is too short is
 * cut before a character or escape that does not fit whole.
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
 * Formats the whole error on one line, like a compiler would: with a line, the code's
 * message follows the location, then the path if there is one; without, the path follows:
 *   "config.json:3:22: JSON syntax error: '}' expected near '"pin"'"
 *   "config.json:1:326: nesting too deep: a.b[2]: objects and arrays nest deeper than the limit of 64"
 *   "config.json: pool.workers: expected an integer from 1 to 1024, got \"eight\""
 * Writes at most `size` bytes including the NUL and returns `buf`. The line is valid UTF-8
 * (invalid bytes as \xNN, even in fields a caller filled in itself), cut only between
 * characters.
 */
CFGPOOL_API char *cfgpool_error_format(const cfgpool_error_t *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_ERROR_H */
