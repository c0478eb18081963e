/*
 * Question: does memory grow with workers × configuration size, as it does when each
 * worker process gets its own copy? For 1 MB and 50 MB configurations, a fresh process
 * opens a pool with 1 worker, another with 8 (more than this machine's CPUs, so unpinned),
 * each runs batches of mc_option tasks on every worker, and reports its resident set. The
 * difference RSS(8) - RSS(1) is what 7 more workers cost; with one shared tree it should
 * be the same for both sizes (thread stacks and per-worker state), not 7 × the config.
 * Each configuration is measured REPS times in fresh processes; the line gives medians.
 */
#include <cfgpool/cfgpool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define REPS 5

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

static void measure(const char *name, size_t bytes)
{
	double one[REPS], eight[REPS], delta[REPS];

	for (int r = 0; r < REPS; r++) {
		one[r] = (double)child_rss(bytes, 1);
		eight[r] = (double)child_rss(bytes, 8);
		delta[r] = eight[r] - one[r];
	}
	double m1 = bench_quantile(one, REPS, 0.5), m8 = bench_quantile(eight, REPS, 0.5);

	bench_report("rss", name, "KiB", delta, REPS, REPS,
		     "\"what\": \"RSS(8 workers) - RSS(1 worker)\", \"config_bytes\": %zu, \"rss_1_worker_kib\": %.0f, "
		     "\"rss_8_workers_kib\": %.0f",
		     bytes, m1, m8);
}

int main(void)
{
	double scale = bench_scale();

	measure("1MB config", (size_t)(1e6 * scale));
	measure("50MB config", (size_t)(50e6 * scale));
	return 0;
}
