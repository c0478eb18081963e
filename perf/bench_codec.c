/*
 * Question: what does a line cost to convert when a kernel's codec reads it as a small frozen
 * tree and writes its result with cfgpool_writer_t, against reading and writing it with
 * jansson directly (what `cfgpool run` did before the codecs moved into the kernels)?
 *
 * One thread, no pool: each sample converts the same batch of mc_option input lines
 * (decode: parse and read the four fields) and writes as many results (encode: the result
 * object with three members, as text). One JSON line per path and direction, in ns per line.
 * --quick takes 5 samples instead of 31; --workers N is accepted like every benchmark's and
 * unused (a line is converted on one thread).
 */
#include "config.h"

#include <jansson.h>
#include <string.h>

#include <cfgpool/cfgpool.h>

#include "bench.h"

#define LINES 2000

static char lines[LINES][128];
static size_t lens[LINES];
static volatile double sink;

static void make_lines(void)
{
	for (size_t i = 0; i < LINES; i++) {
		double spot = 80 + (double)(i * 37 % 41), strike = spot * (0.8 + 0.01 * (double)(i * 13 % 41));

		lens[i] = (size_t)snprintf(lines[i], sizeof(lines[i]),
					   "{\"id\": \"opt-%06zu\", \"spot\": %.2f, \"strike\": %.2f, \"maturity\": %.4f, "
					   "\"type\": \"%s\"}",
					   i, spot, strike, 0.1 + 0.05 * (double)(i % 59), i % 2 ? "put" : "call");
	}
}

/* The old path: jansson's tree, the four fields read from it. */
static void decode_jansson(void)
{
	for (size_t i = 0; i < LINES; i++) {
		json_t *o = json_loadb(lines[i], lens[i], JSON_REJECT_DUPLICATES, NULL);
		cfgpool_option_input_t in;

		in.spot = json_number_value(json_object_get(o, "spot"));
		in.strike = json_number_value(json_object_get(o, "strike"));
		in.maturity = json_number_value(json_object_get(o, "maturity"));
		in.type = strcmp(json_string_value(json_object_get(o, "type")), "put") == 0;
		sink = in.spot + in.strike + in.maturity + in.type;
		json_decref(o);
	}
}

static void decode_codec(const cfgpool_kernel_t *k)
{
	for (size_t i = 0; i < LINES; i++) {
		cfgpool_option_input_t in = {0};
		cfgpool_config_t *cfg;

		if (cfgpool_config_load_string(lines[i], lens[i], NULL, &cfg, NULL) != 0 ||
		    k->codec->decode(k->arg, cfgpool_config_root(cfg), &in, NULL) != 0)
			abort();
		sink = in.spot + in.strike + in.maturity + in.type;
		cfgpool_config_free(cfg);
	}
}

/* Computed values, as a kernel's are: most need 16 or 17 significant digits. */
static cfgpool_option_output_t outputs[LINES];

static void make_outputs(void)
{
	for (size_t i = 0; i < LINES; i++)
		outputs[i] = (cfgpool_option_output_t){
			.price = 7.0 + (double)i / 3.0, .std_error = 0.02 / (1.0 + (double)i), .paths = 100000};
}

static void encode_jansson(void)
{
	for (size_t i = 0; i < LINES; i++) {
		json_t *o = json_pack("{s:f, s:f, s:I}", "price", outputs[i].price, "std_error", outputs[i].std_error,
				      "paths", (json_int_t)outputs[i].paths);
		char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));

		sink = (double)strlen(text);
		free(text);
		json_decref(o);
	}
}

static void encode_codec(const cfgpool_kernel_t *k, cfgpool_writer_t *w)
{
	for (size_t i = 0; i < LINES; i++) {
		size_t len;

		cfgpool_writer_reset(w);
		if (cfgpool_write_object_begin(w) || k->codec->encode(k->arg, &outputs[i], w) || cfgpool_write_object_end(w))
			abort();
		cfgpool_writer_text(w, &len);
		sink = (double)len;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_codec [--quick] [--workers N]\n"
		   "  --quick      5 samples instead of 31; CFGPOOL_BENCH_SCALE multiplies them\n"
		   "  --workers N  accepted like every benchmark's, unused: a line is converted on one thread\n");
}

int main(int argc, char **argv)
{
	const cfgpool_kernel_t *k = cfgpool_kernel_find("mc_option");
	size_t samples = (size_t)(31 * bench_scale());

	bool quick = false;

	for (int i = 1; i < argc; i++) {
		if (!bench_common_option(argc, argv, &i, &quick, NULL, usage)) {
			usage(stderr);
			return 2;
		}
	}
	if (quick)
		samples = (size_t)(5 * bench_scale());
	double *t[4];
	cfgpool_writer_t *w;
	static const char *const names[] = {"decode jansson", "decode frozen tree + codec", "encode jansson",
					    "encode writer + codec"};

	if (samples < 3)
		samples = 3;
	make_lines();
	make_outputs();
	if (cfgpool_writer_create(0, &w) != 0)
		return 1;
	for (int j = 0; j < 4; j++)
		t[j] = calloc(samples, sizeof(double));
	for (size_t s = 0; s < samples; s++) {
		/* Interleaved, so that a noisy moment on the shared machine hits every path alike. */
		for (int j = 0; j < 4; j++) {
			uint64_t start = bench_now_ns();

			switch (j) {
			case 0: decode_jansson(); break;
			case 1: decode_codec(k); break;
			case 2: encode_jansson(); break;
			default: encode_codec(k, w); break;
			}
			t[j][s] = (double)(bench_now_ns() - start) / LINES;
		}
	}
	for (int j = 0; j < 4; j++) {
		bench_report("codec", names[j], "ns/line", t[j], samples, (uint64_t)samples * LINES, NULL);
		free(t[j]);
	}
	cfgpool_writer_destroy(w);
	return 0;
}
