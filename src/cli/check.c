/*
 * `cfgpool check CONFIG`: loads a configuration exactly as `run` would (jansson parse, the
 * `pool` schema, the kernel's prepare step) and says ok or what is wrong where.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("Usage: cfgpool check CONFIG\n"
	      "Validate CONFIG as `cfgpool run` would: JSON syntax, the `pool` schema and the\n"
	      "kernel's own section; a plug-in named by kernel.plugin is loaded (its code runs)\n"
	      "and checked. Prints `ok` with the size of the frozen tree, or the error\n"
	      "with FILE:LINE:COLUMN or its JSON path. Exit status: 0 valid, 1 invalid, 2 usage.\n",
	      f);
}

int cli_check(int argc, char **argv)
{
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	cfgpool_load_opts_t opts = {.nprep = 1};
	cfgpool_config_t *cfg;
	cfgpool_error_t err;
	cfgpool_prep_t prep;
	const char *kernel = "?", *plugin;
	char msg[1024];
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}

	cfgpool_kernel_prep(NULL, &prep); /* the kernel named by kernel.name */
	opts.preps = &prep;
	cfgpool_error_init(&err);
	if (cfgpool_config_load_file(argv[optind], &opts, &cfg, &err) != 0) {
		fprintf(stderr, "%s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
		return 1;
	}
	cfgpool_get_string(cfgpool_config_root(cfg), "kernel.name", &kernel, NULL);
	if (cfgpool_get_string(cfgpool_config_root(cfg), "kernel.plugin", &plugin, NULL) == 0)
		printf("ok: %s: kernel %s from plug-in %s (loaded and checked), %zu bytes frozen from %zu bytes of JSON\n",
		       argv[optind], kernel, plugin, cfgpool_config_size(cfg), cfgpool_config_source_size(cfg));
	else
		printf("ok: %s: kernel %s, %zu bytes frozen from %zu bytes of JSON\n", argv[optind], kernel,
		       cfgpool_config_size(cfg), cfgpool_config_source_size(cfg));
	cfgpool_config_free(cfg);
	return 0;
}
