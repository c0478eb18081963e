/*
 * The cfgpool command: `cfgpool run` (the main job), `cfgpool check`, help and version.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	/* One message a lock: the stream source's reading thread reports too. */
	flockfile(stderr);
	fputs("cfgpool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

static void usage(FILE *f)
{
	fputs("Usage: cfgpool COMMAND [OPTION]...\n"
	      "Run a numerical kernel on a stream of inputs with a pool of pinned workers that\n"
	      "share one read-only, reloadable configuration.\n"
	      "\n"
	      "Commands:\n"
	      "  run -c CONFIG [INPUT]   read JSON Lines inputs, write one JSON Lines result each\n"
	      "  check CONFIG            validate a configuration as `run` would\n"
	      "  feed URL [FILE]         write JSON Lines inputs as entries of a Redis stream\n"
	      "  collect URL             print a Redis stream's results as JSON Lines\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help              this help (also: cfgpool COMMAND --help)\n"
	      "  -V, --version           the version\n"
	      "\n"
	      "See cfgpool(1).\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("cfgpool %s\n", CFGPOOL_VERSION_STRING);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cli_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cli_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "feed") == 0 || strcmp(argv[1], "collect") == 0) {
#if CLI_REDIS
		return argv[1][0] == 'f' ? cli_feed(argc - 1, argv + 1) : cli_collect(argc - 1, argv + 1);
#else
		cli_err("%s: this cfgpool was built without Redis support (configure --with-redis, with "
			"libhiredis-dev installed)",
			argv[1]);
		return EXIT_USAGE;
#endif
	}
	cli_err("unknown command '%s' (try: cfgpool --help)", argv[1]);
	return EXIT_USAGE;
}
