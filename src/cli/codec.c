/*
 * JSON Lines codecs of the built-in kernels for the command line: one input object in,
 * one kernel input struct out; one kernel output struct in, one JSON object out. The
 * library itself never sees JSON inputs; this is the command's own business.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Reads a required number field; a message names the field on failure. */
static int get_number(json_t *obj, const char *field, bool positive, double *out, char *msg, size_t size)
{
	json_t *v = json_object_get(obj, field);

	if (v == NULL) {
		snprintf(msg, size, "missing field \"%s\"", field);
		return -1;
	}
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || (positive && json_number_value(v) <= 0)) {
		snprintf(msg, size, "field \"%s\": expected a %snumber", field, positive ? "positive " : "");
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

static int get_uint(json_t *obj, const char *field, uint64_t max, uint64_t *out, char *msg, size_t size)
{
	json_t *v = json_object_get(obj, field);

	if (v == NULL) {
		snprintf(msg, size, "missing field \"%s\"", field);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
		snprintf(msg, size, "field \"%s\": expected an integer from 0 to %llu", field, (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Adds `v` (a new reference, NULL when it could not be made) to the result object `o`. */
static int put_member(json_t *o, const char *field, json_t *v, char *msg, size_t size)
{
	if (o == NULL || json_object_set_new(o, field, v) != 0) {
		snprintf(msg, size, "out of memory encoding result field %s", field);
		return -1;
	}
	return 0;
}

/*
 * JSON has no NaN or infinity (and jansson refuses to make them), so such a value cannot be
 * written as a number: it is refused by name, and the input is answered with that error.
 */
static int put_real(json_t *o, const char *field, double v, char *msg, size_t size)
{
	if (!isfinite(v)) {
		const char *what = isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";

		snprintf(msg, size, "result field %s is not finite (%s)", field, what);
		return -1;
	}
	return put_member(o, field, json_real(v), msg, size);
}

/* The result object `o` when every field went in (failed == 0), else NULL. */
static json_t *encoded(json_t *o, int failed)
{
	if (failed) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int option_decode(json_t *obj, void *input, char *msg, size_t size)
{
	cfgpool_option_input_t *in = input;
	json_t *type = json_object_get(obj, "type");

	if (get_number(obj, "spot", true, &in->spot, msg, size) || get_number(obj, "strike", true, &in->strike, msg, size) ||
	    get_number(obj, "maturity", true, &in->maturity, msg, size))
		return -1;
	if (type == NULL || (json_is_string(type) && strcmp(json_string_value(type), "call") == 0)) {
		in->type = CFGPOOL_CALL;
	} else if (json_is_string(type) && strcmp(json_string_value(type), "put") == 0) {
		in->type = CFGPOOL_PUT;
	} else {
		snprintf(msg, size, "field \"type\": expected \"call\" or \"put\"");
		return -1;
	}
	return 0;
}

static json_t *option_encode(const void *output, char *msg, size_t size)
{
	const cfgpool_option_output_t *out = output;
	json_t *o = json_object();

	return encoded(o, put_real(o, "price", out->price, msg, size) ||
			      put_real(o, "std_error", out->std_error, msg, size) ||
			      put_member(o, "paths", json_integer((json_int_t)out->paths), msg, size));
}

static int spin_decode(json_t *obj, void *input, char *msg, size_t size)
{
	cfgpool_spin_input_t *in = input;

	return get_uint(obj, "iterations", UINT64_C(1) << 40, &in->iterations, msg, size);
}

static json_t *spin_encode(const void *output, char *msg, size_t size)
{
	json_t *o = json_object();

	return encoded(o, put_real(o, "value", ((const cfgpool_spin_output_t *)output)->value, msg, size));
}

static int curve_decode(json_t *obj, void *input, char *msg, size_t size)
{
	cfgpool_curve_input_t *in = input;
	uint64_t count;

	if (get_uint(obj, "seed", UINT64_MAX >> 1, &in->seed, msg, size) ||
	    get_uint(obj, "count", 100000000, &count, msg, size))
		return -1;
	in->count = (uint32_t)count;
	return 0;
}

static json_t *curve_encode(const void *output, char *msg, size_t size)
{
	json_t *o = json_object();

	return encoded(o, put_real(o, "sum", ((const cfgpool_curve_output_t *)output)->sum, msg, size));
}

static const struct cli_codec codecs[] = {
	{"mc_option", "{\"spot\": 100, \"strike\": 95, \"maturity\": 1, \"type\": \"call\"}", option_decode,
	 option_encode},
	{"spin", "{\"iterations\": 100000}", spin_decode, spin_encode},
	{"curve", "{\"seed\": 1, \"count\": 1000}", curve_decode, curve_encode},
};

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

void cli_kernel_error(const cfgpool_kernel_t *kernel, int code, char *msg, size_t size)
{
	const char *text = kernel->strerror != NULL ? kernel->strerror(code) : NULL;

	snprintf(msg, size, "kernel %s: %s (%s)", kernel->name, text != NULL ? text : cfgpool_strerror(code),
		 cfgpool_err_name(code));
}

const struct cli_codec *cli_codec_find(const char *kernel)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (strcmp(codecs[i].kernel, kernel) == 0)
			return &codecs[i];
	}
	return NULL;
}
