/*
 * check_var CONFIG INPUTS RESULTS [TOLERANCE]: compares what `cfgpool run -c CONFIG
 * INPUTS` wrote (RESULTS, one line per input, in order) with the closed form of var.h.
 * An input with one position per asset must have a result whose var and
 * expected_shortfall are within TOLERANCE (relative, default 0.02) of the exact values;
 * any other input must have an error line. Reads every JSON text with cfgpool's own
 * loader and getters. Exit status 0 when every line agrees, else 1.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfgpool/cfgpool.h>

#include "var.h"

static cfgpool_config_t *parse(const char *text, size_t len, const char *what, unsigned line)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char msg[512];

	cfgpool_error_init(&err);
	if (cfgpool_config_load_string(text, len, NULL, &cfg, &err) != 0)
		fprintf(stderr, "check_var: %s line %u: %s\n", what, line, cfgpool_error_format(&err, msg, sizeof(msg)));
	return cfg;
}

/* One input and its result line; 0 when they agree. */
static int check_line(const struct var_portfolio *pf, const cfgpool_node_t *input, const cfgpool_node_t *result,
		      double tolerance, unsigned line)
{
	struct var_input in;
	double var, es, exact_var, exact_es;
	const char *message = "";

	memset(&in, 0, sizeof(in));
	if (var_read_input(input, &in, NULL) != 0 || in.npositions != pf->n) {
		if (cfgpool_get_string(result, "error.message", &message, NULL) == 0)
			return 0;
		fprintf(stderr, "check_var: line %u: expected an error for an input the kernel refuses\n", line);
		return 1;
	}
	if (cfgpool_get_double(result, "result.var", &var) != 0 ||
	    cfgpool_get_double(result, "result.expected_shortfall", &es) != 0) {
		cfgpool_get_string(result, "error.message", &message, NULL);
		fprintf(stderr, "check_var: line %u: no result (%s)\n", line, message);
		return 1;
	}
	var_closed_form(pf, &in, &exact_var, &exact_es);
	printf("line %u: var %.2f (exact %.2f), expected shortfall %.2f (exact %.2f)\n", line, var, exact_var, es,
	       exact_es);
	if (fabs(var - exact_var) > tolerance * fabs(exact_var) || fabs(es - exact_es) > tolerance * fabs(exact_es)) {
		fprintf(stderr, "check_var: line %u: further than %g from the closed form\n", line, tolerance);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	cfgpool_config_t *config = NULL;
	const cfgpool_node_t *section = NULL;
	struct var_portfolio pf;
	cfgpool_error_t err;
	char *a = NULL, *b = NULL, msg[512];
	size_t acap = 0, bcap = 0;
	ssize_t alen, blen;
	unsigned line = 0, bad = 0;
	double tolerance = argc > 4 ? atof(argv[4]) : 0.02;
	FILE *inputs, *results;

	if (argc < 4) {
		fprintf(stderr, "usage: check_var CONFIG INPUTS RESULTS [TOLERANCE]\n");
		return 2;
	}
	cfgpool_error_init(&err);
	/* Without the pool's preparer: the configuration is read as data, the plug-in not loaded. */
	if (cfgpool_config_load_file(argv[1], NULL, &config, &err) != 0 ||
	    cfgpool_lookup(cfgpool_config_root(config), "kernel", &section) != 0 ||
	    var_read_portfolio(section, &pf, &err) != 0) {
		fprintf(stderr, "check_var: %s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
		return 1;
	}
	inputs = fopen(argv[2], "r");
	results = fopen(argv[3], "r");
	if (inputs == NULL || results == NULL) {
		perror("check_var");
		return 1;
	}
	while ((alen = getline(&a, &acap, inputs)) > 0) {
		cfgpool_config_t *in, *out;

		line++;
		blen = getline(&b, &bcap, results);
		if (blen <= 0) {
			fprintf(stderr, "check_var: line %u: no result line\n", line);
			bad++;
			break;
		}
		in = parse(a, (size_t)alen, "input", line);
		out = parse(b, (size_t)blen, "result", line);
		if (in == NULL || out == NULL)
			bad++;
		else
			bad += (unsigned)check_line(&pf, cfgpool_config_root(in), cfgpool_config_root(out), tolerance, line);
		cfgpool_config_free(in);
		cfgpool_config_free(out);
	}
	if (getline(&b, &bcap, results) > 0) {
		fprintf(stderr, "check_var: more results than inputs\n");
		bad++;
	}
	printf("check_var: %u lines, %u disagree with the closed form\n", line, bad);
	free(a);
	free(b);
	fclose(inputs);
	fclose(results);
	cfgpool_config_free(config);
	return bad == 0 && line > 0 ? 0 : 1;
}
