/*
 * Question: does memory grow with workers × configuration size, as it does when each
 * worker process gets its own copy? For 1 MB and 50 MB configurations, a fresh process
 * opens a pool with 1 worker, another with 8 (more than this machine's CPUs, so unpinned),
 * each runs batches of mc_option tasks on every worker, and reports its resident set. The
 * difference RSS(8) - RSS(1) is what 7 more workers cost; with one shared tree it should
 * be the same for both sizes (thread stacks and per-worker state), not 7 × the config.
 * Each configuration is measured REPS times in fresh processes; the line gives medians.
 * --workers N takes N instead of 8 for the many-workers process; --quick measures 1 MB and
 * 10 MB configurations, 3 times each.
 */
#include <cfgpool/cfgpool.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define REPS 5

static int reps = REPS;
static unsigned many = 8; /* workers of the second process */

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* The pool warns that 8 workers exceed the CPUs: known here, and noise in the output. */
static void quiet(void *arg, cfgpool_log_level_t level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

/* In a child: open a pool of `workers`, run batches on all of them, report RSS in KiB. */
static long child_rss(size_t config_bytes, unsigned workers)
{
	int fd[2];
	pid_t pid;
	long rss = -1;

	if (pipe(fd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char extra[256];
		size_t len = 0;
		cfgpool_pool_opts_t opts = {.log = quiet};
		char *text;
		cfgpool_pool_t *pool;
		cfgpool_error_t err;
		cfgpool_option_input_t in[64];
		cfgpool_option_output_t out[64];

		snprintf(extra, sizeof(extra),
			 "\"kernel\": {\"name\": \"mc_option\", \"rate\": 0.03, \"volatility\": 0.2, "
			 "\"paths\": 2000, \"seed\": 1}, \"pool\": {\"workers\": %u, \"pin\": false, "
			 "\"caller_helps\": false},",
			 workers);
		/* The generator writes its own "pool"; ours comes later in the text and would be a
		 * duplicate key, so blank the generator's out. */
		text = bench_gen_config(config_bytes, extra, &len);
		memcpy(strstr(text, "\"pool\": {\"queue_capacity\": 1024},"), "\"zpad\": {\"queue_capacity\": 1024},", 33);
		cfgpool_error_init(&err);
		if (cfgpool_pool_open_string(text, len, NULL, &opts, &pool, &err) != 0)
			_exit(1);
		free(text);
		for (int i = 0; i < 64; i++)
			in[i] = (cfgpool_option_input_t){100, 90 + i % 20, 1, CFGPOOL_CALL};
		for (int r = 0; r < 20; r++)
			cfgpool_pool_map(pool, in, 0, out, 0, 64, NULL, 0);
		rss = rss_kib();
		if (write(fd[1], &rss, sizeof(rss)) != sizeof(rss))
			_exit(1);
		cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &rss, sizeof(rss)) != sizeof(rss))
		rss = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return rss;
}

/*
 * One line per configuration. With the default 8 workers the fields are those of the first
 * version (rss_8_workers_kib); with --workers N, rss_many_workers_kib and workers say N.
 */
static void measure(const char *name, size_t bytes)
{
	double one[REPS], eight[REPS], delta[REPS];
	char what[64], many_field[64];

	for (int r = 0; r < reps; r++) {
		one[r] = (double)child_rss(bytes, 1);
		eight[r] = (double)child_rss(bytes, many);
		delta[r] = eight[r] - one[r];
	}
	double m1 = bench_quantile(one, (size_t)reps, 0.5), m8 = bench_quantile(eight, (size_t)reps, 0.5);

	snprintf(what, sizeof(what), "RSS(%u workers) - RSS(1 worker)", many);
	if (many == 8)
		snprintf(many_field, sizeof(many_field), "rss_8_workers_kib");
	else
		snprintf(many_field, sizeof(many_field), "rss_many_workers_kib");
	bench_report("rss", name, "KiB", delta, (size_t)reps, (uint64_t)reps,
		     "\"what\": \"%s\", \"config_bytes\": %zu, \"rss_1_worker_kib\": %.0f, \"%s\": %.0f, "
		     "\"workers\": %u",
		     what, bytes, m1, many_field, m8, many);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_rss [--workers N] [--quick]\n"
		   "  --workers N  the second process's workers (default 8)\n"
		   "  --quick      1 MB and 10 MB configurations, 3 processes each; CFGPOOL_BENCH_SCALE\n"
		   "               multiplies the sizes\n");
}

int main(int argc, char **argv)
{
	double scale = bench_scale();
	bool quick = false;

	for (int i = 1; i < argc; i++) {
		if (!bench_common_option(argc, argv, &i, &quick, &many, usage)) {
			usage(stderr);
			return 2;
		}
	}
	reps = quick ? 3 : REPS;
	measure("1MB config", (size_t)(1e6 * scale));
	if (quick)
		measure("10MB config", (size_t)(10e6 * scale));
	else
		measure("50MB config", (size_t)(50e6 * scale));
	return 0;
}
