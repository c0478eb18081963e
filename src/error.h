/* Error codes and the config error struct: internal helpers. */
#ifndef CFGPOOL_SRC_ERROR_H
#define CFGPOOL_SRC_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include <cfgpool/cfgpool.h>

/* cfgpool_error_set() with a va_list; also records the source (may be NULL). */
int cfgpool__error_setv(cfgpool_error_t *err, int code, const char *path, const char *fmt, va_list ap);

/*
 * The C library's message for a negative errno value, for errors of the file system, where
 * -ELOOP is a symlink loop and not the map's "nesting too deep"; cfgpool_strerror() for other
 * codes, or where the C library has none. A static string.
 */
const char *cfgpool__system_strerror(int code);

/* Sets source, line, column and position of an error already recorded by this caller. */
void cfgpool__error_locate(cfgpool_error_t *err, const char *source, int line, int column, long position);

/*
 * The length of the valid UTF-8 sequence at `s` (`n` bytes left, n > 0), 0 if none starts
 * there: overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
 */
size_t cfgpool__utf8_sequence(const unsigned char *s, size_t n);

/* Fills `source` unless already set. */
void cfgpool__error_source(cfgpool_error_t *err, const char *source);

#endif /* CFGPOOL_SRC_ERROR_H */
