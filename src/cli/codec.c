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

static json_t *option_encode(const void *output)
{
	const cfgpool_option_output_t *out = output;

	return json_pack("{s:f, s:f, s:I}", "price", out->price, "std_error", out->std_error, "paths",
			 (json_int_t)out->paths);
}

static int spin_decode(json_t *obj, void *input, char *msg, size_t size)
{
	cfgpool_spin_input_t *in = input;

	return get_uint(obj, "iterations", UINT64_C(1) << 40, &in->iterations, msg, size);
}

static json_t *spin_encode(const void *output)
{
	return json_pack("{s:f}", "value", ((const cfgpool_spin_output_t *)output)->value);
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

static json_t *curve_encode(const void *output)
{
	return json_pack("{s:f}", "sum", ((const cfgpool_curve_output_t *)output)->sum);
}

static const struct cli_codec codecs[] = {
	{"mc_option", "{\"spot\": 100, \"strike\": 95, \"maturity\": 1, \"type\": \"call\"}", option_decode,
	 option_encode},
	{"spin", "{\"iterations\": 100000}", spin_decode, spin_encode},
	{"curve", "{\"seed\": 1, \"count\": 1000}", curve_decode, curve_encode},
};

const struct cli_codec *cli_codec_find(const char *kernel)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (strcmp(codecs[i].kernel, kernel) == 0)
			return &codecs[i];
	}
	return NULL;
}
