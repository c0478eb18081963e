/*
 * What waking ahead of periodic batches (pool.periodic_spin_us) buys and costs: cfgpool
 * with the setting at its default and off, side by side, on batches of 8 arriving
 *
 *   periodic_20us    8 x 20 us tasks every 10 ms
 *   periodic_tiny    8 empty tasks every 10 ms (the caller runs them: the setting should
 *                    change nothing)
 *   irregular_20us   8 x 20 us tasks after gaps drawn uniformly from 2 to 18 ms (the
 *                    setting must not make it worse: no period is ever learned)
 *   periodic_20us_2ms  8 x 20 us tasks every 2 ms
 *
 * Each regime runs in rounds; every round opens a pool per setting, runs a few untimed
 * batches (to learn the period, as a service would within its first batches) and then its
 * share of the timed ones, so both settings see the same disturbances. Per setting: batch
 * latency (median, p99), efficiency (8 x task time / (median latency x workers)), and
 * the process's CPU time over the timed batches from getrusage(), per worker and per
 * second of wall time: `cpu_per_worker` (everything), `idle_cpu_per_worker` (less the
 * tasks' own time: what the pool spends waiting for work and waking up). `others_cpu` is
 * the share of one CPU other processes used meanwhile (/proc/stat), as in bench_regimes.
 *
 * One JSON line per regime and setting, then a ratios line per regime.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cfgpool/cfgpool.h>

#include "bench.h"

#define BATCH 8

struct regime {
	const char *name;
	double task_us;
	unsigned period_ms; /* 0: irregular, gaps from 2 to 18 ms */
	unsigned batches;
};

static const struct regime regimes[] = {
    {"periodic_20us", 20, 10, 300},
    {"periodic_tiny", 0, 10, 300},
    {"irregular_20us", 20, 0, 300},
    {"periodic_20us_2ms", 20, 2, 1000},
};
#define NREGIMES (sizeof(regimes) / sizeof(regimes[0]))

struct setting {
	const char *name;
	const char *pool; /* the `pool` section's members after "workers" */
};

static const struct setting settings[] = {
    {"on", ", \"periodic_spin_us\": 200"},
    {"off", ", \"periodic_spin_us\": 0"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

#define WARMUP 8

struct totals {
	double *samples;
	size_t n;
	double cpu_s, wall_s, others_s;
	uint64_t parks, wakes;
};

static const cfgpool_kernel_t *spin;
static unsigned workers;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_periodic: %s%s%s\n", what, why ? ": " : "", why ? why : "");
	exit(1);
}

static double cpu_s(void)
{
	double s = bench_own_cpu_s();

	if (s < 0)
		die("getrusage failed", strerror(errno));
	return s;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* The fastest of `reps` runs of one task alone on this thread, in ns. */
static double task_ns(uint64_t iterations)
{
	static const cfgpool_task_ctx_t ctx;
	cfgpool_spin_input_t in = {iterations};
	cfgpool_spin_output_t out;
	double best = INFINITY;

	for (int i = 0; i < 201; i++) {
		uint64_t t0 = bench_now_ns();

		if (spin->run(&ctx, &in, &out) != 0)
			die("spin kernel failed", NULL);
		if ((double)(bench_now_ns() - t0) < best)
			best = (double)(bench_now_ns() - t0);
	}
	return best;
}

static cfgpool_pool_t *open_pool(const struct setting *s)
{
	char text[512], msg[512];
	cfgpool_error_t err;
	cfgpool_pool_t *pool;

	snprintf(text, sizeof(text), "{\"pool\": {\"workers\": %u%s}, \"kernel\": {\"name\": \"spin\"}}", workers,
		 s->pool);
	cfgpool_error_init(&err);
	if (cfgpool_pool_open_string(text, strlen(text), NULL, NULL, &pool, &err) != 0)
		die("cannot open the pool", cfgpool_error_format(&err, msg, sizeof(msg)));
	return pool;
}

/* The next gap: the period, or (irregular) 2 to 18 ms from a xorshift generator. */
static uint64_t gap_ns(const struct regime *r, uint64_t *x)
{
	if (r->period_ms != 0)
		return (uint64_t)r->period_ms * 1000000u;
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return 2000000u + *x % 16000000u;
}

/* One round of one setting: WARMUP untimed batches, then n timed ones into t. */
static void run_round(const struct regime *r, const struct setting *s, uint64_t iterations, size_t n,
		      uint64_t seed, struct totals *t)
{
	cfgpool_pool_t *pool = open_pool(s);
	cfgpool_spin_input_t in[BATCH];
	cfgpool_spin_output_t out[BATCH];
	cfgpool_pool_stats_t st0, st1;
	uint64_t next = bench_now_ns(), x = seed, wall0 = 0;
	double cpu0 = 0, busy0 = 0;

	for (size_t i = 0; i < BATCH; i++)
		in[i].iterations = iterations;
	for (size_t i = 0; i < WARMUP + n; i++) {
		uint64_t t0;
		int rc;

		next += gap_ns(r, &x);
		sleep_until(next);
		if (i == WARMUP) {
			cfgpool_pool_stats(pool, &st0, NULL, 0);
			cpu0 = cpu_s();
			busy0 = bench_machine_busy_s();
			wall0 = bench_now_ns();
		}
		memset(out, 0, sizeof(out));
		t0 = bench_now_ns();
		rc = cfgpool_pool_map(pool, in, 0, out, 0, BATCH, NULL, 0);
		if (rc != 0)
			die("cfgpool_pool_map failed", cfgpool_strerror(rc));
		if (i >= WARMUP)
			t->samples[t->n++] = (double)(bench_now_ns() - t0) / 1e3;
		for (size_t k = 0; k < BATCH; k++)
			if (out[k].value == 0.0)
				die("a task was not run", NULL);
	}
	/* Up to the next arrival: the pool's idle time after the last batch counts too. */
	next += gap_ns(r, &x);
	sleep_until(next);
	{
		double cpu = cpu_s() - cpu0, busy = bench_machine_busy_s() - busy0;

		t->cpu_s += cpu;
		t->wall_s += (double)(bench_now_ns() - wall0) / 1e9;
		t->others_s += busy0 < 0 ? 0 : busy - cpu;
	}
	cfgpool_pool_stats(pool, &st1, NULL, 0);
	t->parks += st1.parks - st0.parks;
	t->wakes += st1.wakes - st0.wakes;
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_periodic [--quick] [--rounds N] [--workers N] [--regime NAME[,NAME]]\n"
			"  regimes: periodic_20us periodic_tiny irregular_20us periodic_20us_2ms\n"
			"  --quick    10x fewer batches; CFGPOOL_BENCH_SCALE multiplies the counts\n"
			"  --rounds   rounds of both settings, alternating (default 5)\n"
			"  --workers  workers per pool (default: one per CPU)\n");
}

static bool selected(const char *list, const char *name)
{
	size_t len = strlen(name);

	if (list == NULL)
		return true;
	for (const char *p = list; (p = strstr(p, name)) != NULL; p += len)
		if ((p == list || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	double scale = bench_scale(), ipus;
	unsigned rounds = 5;
	cpu_set_t set;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			scale /= 10;
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			workers = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--regime") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			usage();
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (rounds == 0)
		rounds = 1;
	if (workers == 0)
		workers = sched_getaffinity(0, sizeof(set), &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
	spin = cfgpool_kernel_find("spin");
	if (spin == NULL)
		die("no spin kernel", NULL);
	ipus = cfgpool_spin_calibrate();
	for (size_t ri = 0; ri < NREGIMES; ri++) {
		const struct regime *r = &regimes[ri];
		uint64_t iterations = (uint64_t)(r->task_us * ipus + 0.5);
		size_t per = (size_t)((double)r->batches * scale / rounds + 0.5);
		double tns = task_ns(iterations), medians[NSETTINGS];
		struct totals t[NSETTINGS];

		if (!selected(only, r->name))
			continue;
		if (per < 2)
			per = 2;
		fprintf(stderr, "bench_periodic: %s, %u rounds of %zu batches per setting\n", r->name, rounds, per);
		for (size_t s = 0; s < NSETTINGS; s++) {
			memset(&t[s], 0, sizeof(t[s]));
			t[s].samples = calloc(per * rounds, sizeof(double));
			if (t[s].samples == NULL)
				die("out of memory", NULL);
		}
		for (unsigned k = 0; k < rounds; k++)
			for (size_t s = 0; s < NSETTINGS; s++)
				run_round(r, &settings[(s + k) % NSETTINGS], iterations, per, 88172645463325252u + k,
					  &t[(s + k) % NSETTINGS]);
		for (size_t s = 0; s < NSETTINGS; s++) {
			char config[96];
			double task_cpu = (double)t[s].n * BATCH * tns / 1e9, med;

			snprintf(config, sizeof(config), "%s %s", r->name, settings[s].name);
			med = medians[s] = bench_quantile(t[s].samples, t[s].n, 0.5);
			bench_report("periodic", config, "us", t[s].samples, t[s].n, t[s].n,
				     "\"regime\": \"%s\", \"setting\": \"%s\", \"workers\": %u, \"task_us\": %.3g, \"efficiency\": %.3f, \"cpu_per_worker\": %.4f, "
				     "\"idle_cpu_per_worker\": %.4f, \"parks_per_batch\": %.3g, \"wakes_per_batch\": %.3g, "
				     "\"others_cpu\": %.2f",
				     r->name, settings[s].name, workers, tns / 1e3, BATCH * tns / 1e3 / (med * workers),
				     t[s].cpu_s / t[s].wall_s / workers, (t[s].cpu_s - task_cpu) / t[s].wall_s / workers,
				     (double)t[s].parks / (double)t[s].n, (double)t[s].wakes / (double)t[s].n,
				     t[s].others_s / t[s].wall_s);
			if (t[s].others_s / t[s].wall_s > 0.1)
				fprintf(stderr, "bench_periodic: %s: other processes used %.0f%% of a CPU meanwhile: "
						"figures disturbed\n", config, 100 * t[s].others_s / t[s].wall_s);
		}
		printf("{\"bench\": \"periodic\", \"config\": \"ratios %s\", \"unit\": \"us\", \"off_over_on\": "
		       "%.3g}\n", r->name, medians[1] / medians[0]);
		fflush(stdout);
		for (size_t s = 0; s < NSETTINGS; s++)
			free(t[s].samples);
	}
	return 0;
}
