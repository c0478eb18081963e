/*
 * What asynchronous batches buy a host whose input arrives over time: batches per second
 * with 1, 2 and 3 batches in flight (cfgpool_pool_map_async) against cfgpool_pool_map one
 * batch at a time. A feeder thread writes inputs into a pipe at a set rate (inputs per
 * second, on an absolute schedule, so a consumer that falls behind finds a backlog); the
 * host reads 8 inputs per batch from the pipe, one read() per input as a decoder would,
 * and runs them as 20 us spin tasks. With k in flight the host reads the next batch while
 * k run (k + 1 buffers); with map it reads only between batches.
 *
 *   perf/bench_inflight [--quick] [--workers N]   CFGPOOL_BENCH_SCALE multiplies the batch counts
 *
 * --workers N opens the pool with N workers (default: the pool's, one per CPU).
 *
 * One JSON line per (rate, mode): the median and p99 over repetitions of batches per
 * second, then a ratios line per rate: each in-flight mode's median over map's.
 */
#define _GNU_SOURCE

#include <cfgpool/cfgpool.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "bench.h"

#define ITEMS 8
#define TASK_US 20
#define MAX_IN_FLIGHT 3
#define REPS 5

struct feeder {
	int fd;
	uint64_t rate;  /* inputs per second */
	size_t total;   /* inputs to send */
	uint64_t iters; /* spin iterations per input */
};

static void write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t w = write(fd, c, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			perror("bench_inflight: write");
			exit(1);
		}
		c += w;
		len -= (size_t)w;
	}
}

/* Writes every input that is due by now, then sleeps until the next one is. */
static void *feed(void *arg)
{
	struct feeder *f = arg;
	cfgpool_spin_input_t chunk[256];
	uint64_t start = bench_now_ns();
	size_t sent = 0;

	for (size_t i = 0; i < 256; i++)
		chunk[i].iterations = f->iters;
	while (sent < f->total) {
		uint64_t due = (bench_now_ns() - start) * f->rate / 1000000000u + 1;
		uint64_t next_ns;
		struct timespec ts;

		if (due > f->total)
			due = f->total;
		while (sent < due) {
			size_t k = due - sent < 256 ? due - sent : 256;

			write_all(f->fd, chunk, k * sizeof(chunk[0]));
			sent += k;
		}
		next_ns = start + sent * 1000000000u / f->rate;
		ts.tv_sec = (time_t)(next_ns / 1000000000u);
		ts.tv_nsec = (long)(next_ns % 1000000000u);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	close(f->fd);
	return NULL;
}

/* One input per read(), as a decoder reading records would. */
static void read_batch(int fd, cfgpool_spin_input_t *in)
{
	for (int i = 0; i < ITEMS; i++) {
		char *p = (char *)&in[i];
		size_t got = 0;

		while (got < sizeof(in[i])) {
			ssize_t r = read(fd, p + got, sizeof(in[i]) - got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				fprintf(stderr, "bench_inflight: the feeder stopped early\n");
				exit(1);
			}
			got += (size_t)r;
		}
	}
}

struct slot {
	cfgpool_batch_t batch;
	cfgpool_spin_input_t in[ITEMS];
	cfgpool_spin_output_t out[ITEMS];
};

/* Batches per second of one run: `k` in flight, or map one at a time when k == 0. */
static double run_once(cfgpool_pool_t *pool, unsigned k, uint64_t rate, size_t batches, uint64_t iters,
		       unsigned *failures)
{
	struct slot slots[MAX_IN_FLIGHT + 1];
	struct feeder f = {.rate = rate, .total = batches * ITEMS, .iters = iters};
	int fds[2];
	pthread_t th;
	uint64_t t0, t1;

	if (pipe(fds) != 0) {
		perror("bench_inflight: pipe");
		exit(1);
	}
	f.fd = fds[1];
	if (pthread_create(&th, NULL, feed, &f) != 0)
		exit(1);
	t0 = bench_now_ns();
	for (size_t b = 0; b < batches; b++) {
		struct slot *s = &slots[k == 0 ? 0 : b % (k + 1)];

		read_batch(fds[0], s->in);
		if (k == 0) {
			*failures += cfgpool_pool_map(pool, s->in, 0, s->out, 0, ITEMS, NULL, 0) != 0;
			continue;
		}
		/* At most k in flight: the oldest finishes before this one is queued. */
		if (b >= k)
			*failures += cfgpool_batch_wait(&slots[(b - k) % (k + 1)].batch, -1) != 0;
		*failures += cfgpool_pool_map_async(pool, s->in, 0, s->out, 0, ITEMS, NULL, NULL, &s->batch) != 0;
	}
	for (size_t b = batches > k ? batches - k : 0; k > 0 && b < batches; b++)
		*failures += cfgpool_batch_wait(&slots[b % (k + 1)].batch, -1) != 0;
	t1 = bench_now_ns();
	pthread_join(th, NULL);
	close(fds[0]);
	return (double)batches * 1e9 / (double)(t1 - t0);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_inflight [--quick] [--workers N]\n"
		   "  --quick      a fifth of the batches; CFGPOOL_BENCH_SCALE multiplies them\n"
		   "  --workers N  the pool's workers (default: one per CPU)\n");
}

int main(int argc, char **argv)
{
	static const char *const mode_names[] = {"map", "inflight1", "inflight2", "inflight3"};
	char doc[128] = "{\"kernel\": {\"name\": \"spin\"}}";
	double scale = bench_scale();
	cfgpool_pool_t *pool;
	cfgpool_error_t err;
	uint64_t iters;
	unsigned workers = 0; /* --workers; 0: the pool's default */
	bool quick = false;
	char msg[512];

	for (int i = 1; i < argc; i++) {
		if (!bench_common_option(argc, argv, &i, &quick, &workers, usage)) {
			usage(stderr);
			return 2;
		}
	}
	if (quick)
		scale *= 0.2;
	if (workers != 0)
		snprintf(doc, sizeof(doc), "{\"pool\": {\"workers\": %u}, \"kernel\": {\"name\": \"spin\"}}", workers);
	cfgpool_error_init(&err);
	if (cfgpool_pool_open_string(doc, strlen(doc), NULL, NULL, &pool, &err) != 0) {
		fprintf(stderr, "%s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
		return 1;
	}
	workers = cfgpool_pool_workers(pool);
	iters = (uint64_t)(cfgpool_spin_calibrate() * TASK_US);
	/* Capacity is workers / TASK_US tasks per us: rates below, at and above it. */
	uint64_t capacity = (uint64_t)workers * 1000000u / TASK_US;
	uint64_t rates[] = {capacity / 2, capacity * 3 / 4, capacity, capacity * 2};

	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		double medians[4];
		size_t batches = (size_t)(2000 * scale * (double)rates[r] / (double)capacity);

		if (batches < 50)
			batches = 50;
		for (unsigned mode = 0; mode < 4; mode++) {
			double samples[REPS];
			unsigned failures = 0;
			char config[64];

			run_once(pool, mode, rates[r], batches / 4 + 10, iters, &failures); /* warm-up */
			for (int i = 0; i < REPS; i++)
				samples[i] = run_once(pool, mode, rates[r], batches, iters, &failures);
			snprintf(config, sizeof(config), "rate=%llu %s", (unsigned long long)rates[r], mode_names[mode]);
			bench_report("inflight", config, "batches/s", samples, REPS, (uint64_t)batches * REPS,
				     "\"mode\": \"%s\", \"in_flight\": %u, \"rate_inputs_per_s\": %llu, "
				     "\"input_batches_per_s\": %.1f, \"items\": %d, \"task_us\": %d, \"workers\": %u, "
				     "\"failures\": %u",
				     mode_names[mode], mode, (unsigned long long)rates[r], (double)rates[r] / ITEMS, ITEMS,
				     TASK_US, workers, failures);
			medians[mode] = bench_quantile(samples, REPS, 0.5);
		}
		printf("{\"bench\": \"inflight\", \"config\": \"ratios rate=%llu\", \"unit\": \"batches/s\", "
		       "\"inflight1_over_map\": %.3f, \"inflight2_over_map\": %.3f, \"inflight3_over_map\": %.3f}\n",
		       (unsigned long long)rates[r], medians[1] / medians[0], medians[2] / medians[0],
		       medians[3] / medians[0]);
		fflush(stdout);
	}
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	return 0;
}
