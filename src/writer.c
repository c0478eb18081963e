/*
 * The JSON writer of <cfgpool/codec.h>: a growing text buffer and a stack of the open
 * objects and arrays, checked on every call so that the text can only ever be valid JSON.
 *
 * Every call first checks what it is about to write (its place, its bytes, the room left)
 * and only then appends, so a call that fails leaves the text as it was; the error is
 * recorded and every later call returns it without looking at its arguments. The writer
 * is owned by one thread at a time and shares nothing, so it needs no synchronization.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfgpool/cfgpool.h>

#include "error.h"

#define DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define KEY_QUOTE_LEN 64

enum level_kind { IN_OBJECT, IN_ARRAY };

struct level {
	unsigned char kind;  /* enum level_kind */
	bool key_pending;    /* IN_OBJECT: a key was written, its value not yet */
	size_t count;        /* values written at this level */
};

struct cfgpool_writer {
	char *text;
	size_t len, cap, max_bytes;
	size_t top_values; /* values written at the top level: one at most */
	unsigned depth;    /* open objects and arrays; stack[0, depth) */
	struct level stack[CFGPOOL_MAX_DEPTH];
	int error;
	char message[256];
	char key[KEY_QUOTE_LEN]; /* the last key written, for messages (cut, valid UTF-8) */
};

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static int fail(cfgpool_writer_t *w, int code, const char *fmt, ...) CFGPOOL_PRINTF(3, 4);

static int fail(cfgpool_writer_t *w, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->message, sizeof(w->message), fmt, ap);
	va_end(ap);
	w->error = code;
	return code;
}

/* ------------------------------------------------------------------------------------------ */
/* The buffer                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Makes room for `n` more bytes and the NUL; -E2BIG past max_bytes, -ENOMEM. */
static int reserve(cfgpool_writer_t *w, size_t n)
{
	size_t need;
	char *bigger;

	if (n > w->max_bytes - w->len)
		return fail(w, -E2BIG, "the text would pass the writer's limit of %zu bytes", w->max_bytes);
	need = w->len + n + 1;
	if (need <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 256;

	while (cap < need)
		cap *= 2;
	bigger = realloc(w->text, cap);
	if (bigger == NULL)
		return fail(w, -ENOMEM, "out of memory growing the text to %zu bytes", cap);
	w->text = bigger;
	w->cap = cap;
	return 0;
}

/* Appends bytes for which reserve() succeeded. */
static void put(cfgpool_writer_t *w, const char *s, size_t n)
{
	memcpy(w->text + w->len, s, n);
	w->len += n;
	w->text[w->len] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Strings                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* The offset of the first byte of s[0, n) that begins no UTF-8 sequence, or n. */
static size_t utf8_invalid_at(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = cfgpool__utf8_sequence((const unsigned char *)s + i, n - i);

		if (k == 0)
			return i;
		i += k;
	}
	return n;
}

/* Bytes the escaped form of a byte takes inside the quotes. */
static size_t escaped_len(unsigned char c)
{
	if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
		return 2;
	return c < 0x20 ? 6 : 1;
}

/* The length of s[0, n) as a JSON string literal, quotes included. */
static size_t string_len(const char *s, size_t n)
{
	size_t total = 2;

	for (size_t i = 0; i < n; i++)
		total += escaped_len((unsigned char)s[i]);
	return total;
}

/* Appends s[0, n), valid UTF-8, as a JSON string literal; string_len() bytes are reserved. */
static void put_string(cfgpool_writer_t *w, const char *s, size_t n)
{
	w->text[w->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		static const char hex[] = "0123456789abcdef";

		switch (c) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\b': put(w, "\\b", 2); break;
		case '\f': put(w, "\\f", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		default:
			if (c < 0x20) {
				char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

				put(w, u, sizeof(u));
			} else {
				w->text[w->len++] = (char)c;
			}
		}
	}
	put(w, "\"", 1);
}

/* Keeps the key for messages: at most KEY_QUOTE_LEN - 1 bytes, cut before a whole character. */
static void remember_key(cfgpool_writer_t *w, const char *key, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = cfgpool__utf8_sequence((const unsigned char *)key + i, n - i);

		if (i + k >= sizeof(w->key))
			break;
		i += k;
	}
	memcpy(w->key, key, i);
	w->key[i] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Places                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static struct level *top(cfgpool_writer_t *w)
{
	return w->depth > 0 ? &w->stack[w->depth - 1] : NULL;
}

/*
 * Checks that a value may come here and writes the comma that separates it from the one
 * before. `extra` is the value's own length, so that the comma is written only when the
 * value will fit too.
 */
static int value_place(cfgpool_writer_t *w, size_t extra)
{
	struct level *l = top(w);
	bool comma;
	int rc;

	if (w->error != 0)
		return w->error;
	if (l == NULL && w->top_values > 0)
		return fail(w, -EINVAL, "a second value at the top level");
	if (l != NULL && l->kind == IN_OBJECT && !l->key_pending)
		return fail(w, -EINVAL, "a value inside an object where a key belongs");
	comma = l != NULL && l->kind == IN_ARRAY && l->count > 0;
	rc = reserve(w, extra + comma);
	if (rc != 0)
		return rc;
	if (comma)
		put(w, ",", 1);
	return 0;
}

/* Counts a value that was written. */
static void value_done(cfgpool_writer_t *w)
{
	struct level *l = top(w);

	if (l == NULL) {
		w->top_values++;
		return;
	}
	l->key_pending = false;
	l->count++;
}

/* Writes a scalar's text, already formatted. */
static int put_scalar(cfgpool_writer_t *w, const char *s, size_t n)
{
	int rc = value_place(w, n);

	if (rc != 0)
		return rc;
	put(w, s, n);
	value_done(w);
	return 0;
}

static int begin(cfgpool_writer_t *w, enum level_kind kind)
{
	int rc;

	if (w->error != 0)
		return w->error;
	if (w->depth == CFGPOOL_MAX_DEPTH)
		return fail(w, -ELOOP, "objects and arrays nest deeper than the limit of %d", CFGPOOL_MAX_DEPTH);
	rc = value_place(w, 1);
	if (rc != 0)
		return rc;
	put(w, kind == IN_OBJECT ? "{" : "[", 1);
	w->stack[w->depth++] = (struct level){.kind = (unsigned char)kind};
	return 0;
}

static int end(cfgpool_writer_t *w, enum level_kind kind)
{
	static const char *const names[] = {"an object", "an array"};
	struct level *l = top(w);
	int rc;

	if (w->error != 0)
		return w->error;
	if (l == NULL)
		return fail(w, -EINVAL, "an end of %s with nothing open", names[kind]);
	if (l->kind != kind)
		return fail(w, -EINVAL, "an end of %s inside %s", names[kind], names[l->kind]);
	if (l->key_pending)
		return fail(w, -EINVAL, "an end of an object after the key \"%s\" without its value", w->key);
	rc = reserve(w, 1);
	if (rc != 0)
		return rc;
	put(w, kind == IN_OBJECT ? "}" : "]", 1);
	w->depth--;
	value_done(w);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The interface                                                                              */
/* ------------------------------------------------------------------------------------------ */

int cfgpool_writer_create(size_t max_bytes, cfgpool_writer_t **out)
{
	cfgpool_writer_t *w;

	if (out == NULL)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
	if (reserve(w, 0) != 0) {
		free(w);
		return -ENOMEM;
	}
	w->text[0] = '\0';
	*out = w;
	return 0;
}

void cfgpool_writer_destroy(cfgpool_writer_t *w)
{
	if (w == NULL)
		return;
	free(w->text);
	free(w);
}

void cfgpool_writer_reset(cfgpool_writer_t *w)
{
	w->len = 0;
	w->text[0] = '\0';
	w->top_values = 0;
	w->depth = 0;
	w->error = 0;
	w->message[0] = '\0';
	w->key[0] = '\0';
}

const char *cfgpool_writer_text(const cfgpool_writer_t *w, size_t *len)
{
	if (w->error != 0)
		return NULL;
	if (len != NULL)
		*len = w->len;
	return w->text;
}

int cfgpool_writer_error(const cfgpool_writer_t *w, const char **message)
{
	if (message != NULL)
		*message = w->message;
	return w->error;
}

int cfgpool_write_object_begin(cfgpool_writer_t *w)
{
	return begin(w, IN_OBJECT);
}

int cfgpool_write_object_end(cfgpool_writer_t *w)
{
	return end(w, IN_OBJECT);
}

int cfgpool_write_array_begin(cfgpool_writer_t *w)
{
	return begin(w, IN_ARRAY);
}

int cfgpool_write_array_end(cfgpool_writer_t *w)
{
	return end(w, IN_ARRAY);
}

int cfgpool_write_key(cfgpool_writer_t *w, const char *key)
{
	struct level *l = top(w);
	size_t n, bad;
	int rc;

	if (w->error != 0)
		return w->error;
	if (key == NULL)
		return fail(w, -EINVAL, "a NULL key");
	if (l == NULL || l->kind != IN_OBJECT)
		return fail(w, -EINVAL, "a key \"%.*s\" outside an object", KEY_QUOTE_LEN, key);
	if (l->key_pending)
		return fail(w, -EINVAL, "a key where the value of \"%s\" belongs", w->key);
	n = strlen(key);
	bad = utf8_invalid_at(key, n);
	if (bad < n)
		return fail(w, -EILSEQ, "a key that is not valid UTF-8 (byte %zu is 0x%02x)", bad,
			    (unsigned char)key[bad]);
	rc = reserve(w, (l->count > 0) + string_len(key, n) + 1);
	if (rc != 0)
		return rc;
	if (l->count > 0)
		put(w, ",", 1);
	put_string(w, key, n);
	put(w, ":", 1);
	remember_key(w, key, n);
	l->key_pending = true;
	return 0;
}

int cfgpool_write_null(cfgpool_writer_t *w)
{
	return put_scalar(w, "null", 4);
}

int cfgpool_write_bool(cfgpool_writer_t *w, bool value)
{
	return value ? put_scalar(w, "true", 4) : put_scalar(w, "false", 5);
}

int cfgpool_write_int(cfgpool_writer_t *w, int64_t value)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, value);

	return put_scalar(w, buf, (size_t)n);
}

int cfgpool_write_uint(cfgpool_writer_t *w, uint64_t value)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, value);

	return put_scalar(w, buf, (size_t)n);
}

/* The "C" locale, so that a host's LC_NUMERIC cannot turn the decimal point into a comma. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* %.Ng of v into buf; whether strtod() reads it back as v exactly. */
static bool try_digits(double v, int digits, char *buf, size_t size, int *n)
{
	*n = snprintf(buf, size, "%.*g", digits, v);
	return strtod(buf, NULL) == v;
}

/*
 * The %.Ng text of `v` with the fewest significant digits that strtod() reads back as `v`.
 * For a normal double, a text of up to 15 significant digits that reads back is what %.15g
 * gives (every 15-digit decimal survives the trip through a double), so only 15, 16 and 17
 * digits need trying; 17 always read back. Most doubles a kernel computes need 16 or 17, so
 * 16 goes first: when it reads back, 15 may still do; when it does not, 15 cannot either
 * (the nearest 16-digit decimal is no farther than the nearest 15-digit one), except for a
 * power of two, whose lower neighbour is half as far as its upper one. A subnormal has
 * fewer bits, so there every count is tried. The text gets ".0" when it has neither a point
 * nor an exponent, so that it reads back as a real, and -0.0 keeps its sign.
 */
static int format_double(double v, char *buf, size_t size)
{
	char shorter[40];
	int n, m, exp;

	if (v != 0 && fabs(v) < 0x1p-1022) {
		for (int digits = 1; !try_digits(v, digits, buf, size, &n) && digits < 17; digits++)
			;
	} else if (try_digits(v, 16, buf, size, &n)) {
		if (try_digits(v, 15, shorter, sizeof(shorter), &m))
			memcpy(buf, shorter, (size_t)(n = m) + 1);
	} else if (!(frexp(v, &exp) == 0.5 || frexp(v, &exp) == -0.5) || !try_digits(v, 15, buf, size, &n)) {
		n = snprintf(buf, size, "%.17g", v);
	}
	if (strpbrk(buf, ".e") == NULL) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	return n;
}

int cfgpool_write_double(cfgpool_writer_t *w, double value)
{
	char buf[40];
	locale_t old;
	int n;

	if (w->error != 0)
		return w->error;
	if (!isfinite(value)) {
		const char *what = isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
		struct level *l = top(w);

		if (l != NULL && l->kind == IN_OBJECT && l->key_pending)
			return fail(w, -EDOM, "field %s is not finite (%s)", w->key, what);
		return fail(w, -EDOM, "a number that is not finite (%s)%s%s", what, w->key[0] ? " after the key " : "",
			    w->key);
	}
	pthread_once(&c_locale_once, make_c_locale);
	if (c_locale == (locale_t)0)
		return fail(w, -ENOMEM, "out of memory making the C locale for numbers");
	old = uselocale(c_locale);
	n = format_double(value, buf, sizeof(buf));
	uselocale(old);
	return put_scalar(w, buf, (size_t)n);
}

int cfgpool_write_string(cfgpool_writer_t *w, const char *s, size_t len)
{
	size_t bad;
	int rc;

	if (w->error != 0)
		return w->error;
	if (s == NULL && len > 0)
		return fail(w, -EINVAL, "a NULL string of %zu bytes", len);
	bad = s != NULL ? utf8_invalid_at(s, len) : 0;
	if (bad < len)
		return fail(w, -EILSEQ, "a string that is not valid UTF-8 (byte %zu is 0x%02x)%s%s", bad,
			    (unsigned char)s[bad], w->key[0] ? " after the key " : "", w->key);
	if (s == NULL)
		s = "";
	rc = value_place(w, string_len(s, len));
	if (rc != 0)
		return rc;
	put_string(w, s, len);
	value_done(w);
	return 0;
}
