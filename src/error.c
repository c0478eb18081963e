/*
 * Error codes and the configuration error struct. One X-macro table, CFGPOOL_ERRNO_MAP in
 * the public header, generates both the names and the messages, so they cannot drift.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/*
 * A negative errno value outside the map gets the C library's text and name. glibc's
 * strerrordesc_np() and strerrorname_np() return static, locale-independent strings (unlike
 * strerror(), which may format into a per-thread buffer), so the promise of a static string
 * holds; elsewhere the answer stays "unknown error".
 */
#ifdef HAVE_STRERRORDESC_NP
#define SYSTEM_TEXT strerrordesc_np
#else
#define SYSTEM_TEXT NULL
#endif
#ifdef HAVE_STRERRORNAME_NP
#define SYSTEM_NAME strerrorname_np
#else
#define SYSTEM_NAME NULL
#endif

static const char *from_libc(const char *(*get)(int), int code, const char *otherwise)
{
	const char *s = get != NULL && code < 0 && code > INT_MIN ? get(-code) : NULL;

	return s != NULL ? s : otherwise;
}

const char *cfgpool_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define CFGPOOL_ERR_MSG(name, value, msg) \
	case (value):                     \
		return (msg);
		CFGPOOL_ERRNO_MAP(CFGPOOL_ERR_MSG)
#undef CFGPOOL_ERR_MSG
	default:
		return from_libc(SYSTEM_TEXT, code, "unknown error");
	}
}

const char *cfgpool__system_strerror(int code)
{
	return from_libc(SYSTEM_TEXT, code, cfgpool_strerror(code));
}

const char *cfgpool_err_name(int code)
{
	switch (code) {
	case 0:
		return "OK";
#define CFGPOOL_ERR_NAME(name, value, msg) \
	case (value):                      \
		return #name;
		CFGPOOL_ERRNO_MAP(CFGPOOL_ERR_NAME)
#undef CFGPOOL_ERR_NAME
	default:
		return from_libc(SYSTEM_NAME, code, "UNKNOWN");
	}
}

void cfgpool_error_init(cfgpool_error_t *err)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
	err->position = -1;
}

/* Copies at most size-1 bytes and always terminates, unlike strncpy. */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int cfgpool__error_setv(cfgpool_error_t *err, int code, const char *path, const char *fmt, va_list ap)
{
	/* The first error wins: it is the cause, later ones are consequences. */
	if (err == NULL || err->code != 0)
		return code;
	err->code = code;
	err->line = 0;
	err->column = 0;
	err->position = -1;
	copy_str(err->path, sizeof(err->path), path ? path : "");
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	return code;
}

int cfgpool_error_set(cfgpool_error_t *err, int code, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = cfgpool__error_setv(err, code, path, fmt, ap);
	va_end(ap);
	return code;
}

void cfgpool__error_locate(cfgpool_error_t *err, const char *source, int line, int column, long position)
{
	if (err == NULL)
		return;
	if (source != NULL)
		copy_str(err->source, sizeof(err->source), source);
	err->line = line;
	err->column = column;
	err->position = position;
}

void cfgpool__error_source(cfgpool_error_t *err, const char *source)
{
	if (err != NULL && err->source[0] == '\0' && source != NULL)
		copy_str(err->source, sizeof(err->source), source);
}

char *cfgpool_error_format(const cfgpool_error_t *err, char *buf, size_t size)
{
	const char *source;

	if (size == 0)
		return buf;
	if (err == NULL || err->code == 0) {
		snprintf(buf, size, "no error");
		return buf;
	}
	source = err->source[0] ? err->source : "<config>";
	if (err->line > 0)
		snprintf(buf, size, "%s:%d:%d: %s: %s%s%s", source, err->line, err->column,
			 cfgpool_strerror(err->code), err->path, err->path[0] ? ": " : "", err->text);
	else
		snprintf(buf, size, "%s: %s%s%s", source, err->path, err->path[0] ? ": " : "", err->text);
	return buf;
}
