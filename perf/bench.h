/*
 * Shared helpers of the benchmarks in perf/: timing, percentiles, and the one-JSON-line-
 * per-configuration output that scripts read. Benchmarks report medians and percentiles of
 * repeated samples, never a single run: this machine is shared and noisy.
 */
#ifndef CFGPOOL_BENCH_H
#define CFGPOOL_BENCH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n samples; sorts them in place. */
static inline double bench_quantile(double *v, size_t n, double q)
{
	size_t i;

	qsort(v, n, sizeof(*v), bench_cmp_double);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* Scale factor for iteration counts: CFGPOOL_BENCH_SCALE (default 1). */
static inline double bench_scale(void)
{
	const char *s = getenv("CFGPOOL_BENCH_SCALE");
	double v = s ? atof(s) : 1.0;

	return v > 0 ? v : 1.0;
}

/*
 * The options every benchmark takes, so that perf/run can pass the same ones to all:
 * --quick (a smoke run), --workers N (1 to 1024; threads or workers, where the program has
 * any) and --help (prints usage(stdout), exits 0). Returns true when argv[*i] is one of
 * them, after moving *i past its value and setting *quick or *workers (either may be NULL
 * for a program that ignores it); false when it is not; exits 2 after usage(stderr) on a
 * missing or bad value.
 */
static inline bool bench_common_option(int argc, char **argv, int *i, bool *quick, unsigned *workers,
				       void (*usage)(FILE *))
{
	const char *a = argv[*i];

	if (strcmp(a, "--quick") == 0) {
		if (quick != NULL)
			*quick = true;
		return true;
	}
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
		usage(stdout);
		exit(0);
	}
	if (strcmp(a, "--workers") == 0) {
		char *end = NULL;
		long n = *i + 1 < argc ? strtol(argv[*i + 1], &end, 10) : 0;

		if (end == NULL || *end != '\0' || n < 1 || n > 1024) {
			fprintf(stderr, "--workers takes a number from 1 to 1024\n");
			usage(stderr);
			exit(2);
		}
		if (workers != NULL)
			*workers = (unsigned)n;
		(*i)++;
		return true;
	}
	return false;
}

/*
 * Prints one JSON line: {"bench": name, "config": config, "unit": unit, "median": ...,
 * "p99": ..., "iterations": n, <extra>} where extra is a printf-formatted fragment of
 * further members (without a leading comma), or NULL.
 */
static inline void bench_report(const char *bench, const char *config, const char *unit, double *samples, size_t n,
				uint64_t iterations, const char *extra, ...)
{
	double median = bench_quantile(samples, n, 0.5), p99 = bench_quantile(samples, n, 0.99);

	printf("{\"bench\": \"%s\", \"config\": \"%s\", \"unit\": \"%s\", \"median\": %.4g, \"p99\": %.4g, "
	       "\"min\": %.4g, \"samples\": %zu, \"iterations\": %llu",
	       bench, config, unit, median, p99, samples[0], n, (unsigned long long)iterations);
	if (extra != NULL) {
		va_list ap;

		printf(", ");
		va_start(ap, extra);
		vprintf(extra, ap);
		va_end(ap);
	}
	printf("}\n");
	fflush(stdout);
}

/*
 * A realistic configuration of about `target` bytes of JSON: the seed's logging sections,
 * a `pool` and a `kernel` section, and an application table of records with strings,
 * numbers, booleans, a small array and a nested object each. `extra` (may be NULL) is
 * inserted as further top-level members, e.g. "\"kernel\": {...},". Returns a malloc'ed
 * string.
 */
static inline char *bench_gen_config(size_t target, const char *extra, size_t *len_out)
{
	size_t cap = target + 4096, len = 0;
	char *buf = malloc(cap);
	unsigned long i = 0;

	if (buf == NULL)
		return NULL;
	len += (size_t)snprintf(buf + len, cap - len,
				"{\"version\": 1, \"disable_existing_loggers\": false,\n"
				" \"loggers\": {\"\": {\"level\": \"INFO\"}, \"another.module\": {\"level\": \"DEBUG\"}},\n"
				" \"pool\": {\"queue_capacity\": 1024},\n"
				" %s\n"
				" \"app\": {\"records\": [\n", extra ? extra : "");
	while (len + 512 < target) {
		len += (size_t)snprintf(buf + len, cap - len,
					"  {\"id\": %lu, \"name\": \"instrument-%06lu\", \"weight\": %.6f, "
					"\"enabled\": %s, \"tags\": [\"fx\", \"tier%lu\"], "
					"\"limits\": {\"lo\": %ld, \"hi\": %ld}},\n",
					i, i, (double)(i % 1000) / 997.0, i % 3 ? "true" : "false", i % 5,
					-(long)(i % 100), (long)(i % 1000) + 100);
		i++;
	}
	len += (size_t)snprintf(buf + len, cap - len, "  {\"id\": %lu, \"name\": \"last\"}\n]}}\n", i);
	*len_out = len;
	return buf;
}

/* This process's user + system CPU time, in seconds; -1 if getrusage() fails. */
static inline double bench_own_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/*
 * All busy CPU time of the machine in /proc/stat, in seconds (jiffy resolution, 10 ms);
 * -1 if /proc is not there. Minus bench_own_cpu_s(), sampled around a measurement, it is
 * the CPU other processes took meanwhile (`others_cpu`).
 */
static inline double bench_machine_busy_s(void)
{
	unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal = 0;
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq,
		   &softirq, &steal);
	fclose(f);
	if (n < 7)
		return -1;
	return (double)(user + nice + sys + irq + softirq + steal) / (double)sysconf(_SC_CLK_TCK);
}

#endif /* CFGPOOL_BENCH_H */
