/*
 * Error codes and the configuration error struct. One X-macro table, CFGPOOL_ERRNO_MAP in
 * the public header, generates both the names and the messages, so they cannot drift.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
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

size_t cfgpool__utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Copies `src` into `dst` of `size` bytes as valid UTF-8, whatever the bytes: names and
 * values from the input, file names and preparers' messages may hold anything. Each byte
 * that starts no valid sequence becomes "\xNN". Stops before a character or escape that
 * would not fit whole, and always terminates.
 */
static void copy_utf8(char *dst, size_t size, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t left = strlen(src), used = 0;

	while (left > 0) {
		size_t n = cfgpool__utf8_sequence(p, left);

		if (n == 0) {
			if (used + 4 >= size)
				break;
			snprintf(dst + used, 5, "\\x%02x", *p);
			used += 4;
			n = 1;
		} else {
			if (used + n >= size)
				break;
			memcpy(dst + used, p, n);
			used += n;
		}
		p += n;
		left -= n;
	}
	dst[used] = '\0';
}

int cfgpool__error_setv(cfgpool_error_t *err, int code, const char *path, const char *fmt, va_list ap)
{
	char text[CFGPOOL_ERROR_TEXT_LEN * 4];

	/* The first error wins: it is the cause, later ones are consequences. */
	if (err == NULL || err->code != 0)
		return code;
	err->code = code;
	err->line = 0;
	err->column = 0;
	err->position = -1;
	copy_utf8(err->path, sizeof(err->path), path ? path : "");
	/* Each byte of the formatted text gives at least one of err->text, so four times the
	 * field is room enough never to cut the part that will be kept. */
	vsnprintf(text, sizeof(text), fmt, ap);
	copy_utf8(err->text, sizeof(err->text), text);
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
		copy_utf8(err->source, sizeof(err->source), source);
	err->line = line;
	err->column = column;
	err->position = position;
}

void cfgpool__error_source(cfgpool_error_t *err, const char *source)
{
	if (err != NULL && err->source[0] == '\0' && source != NULL)
		copy_utf8(err->source, sizeof(err->source), source);
}

char *cfgpool_error_format(const cfgpool_error_t *err, char *buf, size_t size)
{
	/* Room for every field in full, so the only cut is copy_utf8()'s, at a character. */
	char line[CFGPOOL_ERROR_SOURCE_LEN + CFGPOOL_ERROR_PATH_LEN + CFGPOOL_ERROR_TEXT_LEN + 256];
	const char *source;

	if (size == 0)
		return buf;
	if (err == NULL || err->code == 0) {
		snprintf(buf, size, "no error");
		return buf;
	}
	source = err->source[0] ? err->source : "<config>";
	if (err->line > 0)
		snprintf(line, sizeof(line), "%.*s:%d:%d: %s: %.*s%s%.*s", CFGPOOL_ERROR_SOURCE_LEN, source, err->line,
			 err->column, cfgpool_strerror(err->code), CFGPOOL_ERROR_PATH_LEN, err->path,
			 err->path[0] ? ": " : "", CFGPOOL_ERROR_TEXT_LEN, err->text);
	else
		snprintf(line, sizeof(line), "%.*s: %.*s%s%.*s", CFGPOOL_ERROR_SOURCE_LEN, source,
			 CFGPOOL_ERROR_PATH_LEN, err->path, err->path[0] ? ": " : "", CFGPOOL_ERROR_TEXT_LEN, err->text);
	copy_utf8(buf, size, line);
	return buf;
}
