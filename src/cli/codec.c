/*
 * The command's side of the kernels' codecs (each kernel's own codec, in its table, turns
 * an input object into its input struct and its output into JSON): finding the text of an
 * input's id, which is echoed as written, and wording a kernel's failure.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

/*
 * Finding a member's text. jansson keeps values, not the text they were written as, so an
 * id is found again in its line: a few skippers over JSON that jansson has already
 * accepted. They never read past `end`, whatever the bytes, and every step moves forward,
 * so on text that is not JSON they end early instead of misbehaving.
 */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Past the string whose opening quote is at p. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++; /* the escaped character cannot close the string */
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

/* Past the value that starts at p: a string, a container with all it holds, or a scalar. */
static const char *skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	while (p < end) {
		if (*p == '"') {
			p = skip_string(p, end);
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return p;
			depth--;
			p++;
		} else if (depth == 0) {
			/* A number, true, false or null ends where a delimiter starts. */
			while (p < end && strchr(",}] \t\r\n", *p) == NULL)
				p++;
			return p;
		} else {
			p++;
		}
		if (depth == 0)
			return p;
	}
	return p;
}

/* Whether the string literal [p, end) (quotes included) means `key`; escapes are decoded. */
static bool key_is(const char *p, const char *end, const char *key)
{
	size_t n = (size_t)(end - p) - 2;
	json_t *s;
	bool same;

	if (memchr(p, '\\', (size_t)(end - p)) == NULL)
		return n == strlen(key) && memcmp(p + 1, key, n) == 0;
	s = json_loadb(p, (size_t)(end - p), JSON_DECODE_ANY, NULL);
	same = json_is_string(s) && json_string_length(s) == strlen(key) && strcmp(json_string_value(s), key) == 0;
	json_decref(s);
	return same;
}

int cli_json_member_span(const char *text, size_t len, const char *key, size_t *start, size_t *stop)
{
	const char *end = text + len, *p = skip_ws(text, end);

	if (p == end || *p != '{')
		return -1;
	for (p++;;) {
		const char *k = skip_ws(p, end), *k_end, *v;

		if (k == end || *k != '"')
			return -1;
		k_end = skip_string(k, end);
		p = skip_ws(k_end, end);
		if (p == end || *p != ':')
			return -1;
		v = skip_ws(p + 1, end);
		p = skip_value(v, end);
		if (key_is(k, k_end, key)) {
			*start = (size_t)(v - text);
			*stop = (size_t)(p - text);
			return 0;
		}
		p = skip_ws(p, end);
		if (p == end || *p != ',')
			return -1;
		p++;
	}
}
