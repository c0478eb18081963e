/*
 * A host keeping several asynchronous batches in flight while it reloads: it reads the
 * next batch of inputs while the workers run the previous ones, so they are never idle
 * while it waits on its source. Three batches in a ring; each round waits for the oldest,
 * reports it and queues the next in its slot. Halfway through it reloads the
 * configuration, and later batches report the new version.
 *   cc inflight.c $(pkg-config --cflags --libs cfgpool) -o inflight && ./inflight config.json
 */
#include <cfgpool/cfgpool.h>
#include <stdio.h>
#include <time.h>

#define IN_FLIGHT 3
#define ITEMS 8
#define BATCHES 12

struct slot {
	cfgpool_batch_t batch; /* caller-owned: map_async allocates nothing */
	cfgpool_option_input_t in[ITEMS];
	cfgpool_option_output_t out[ITEMS];
	cfgpool_result_t res[ITEMS];
	int number;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Stands for reading a batch from the network. */
static void read_inputs(struct slot *s, int number)
{
	s->number = number;
	for (int i = 0; i < ITEMS; i++)
		s->in[i] = (cfgpool_option_input_t){.spot = 100, .strike = 80 + 5 * i + number % 4, .maturity = 1,
						    .type = i % 2 ? CFGPOOL_PUT : CFGPOOL_CALL};
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "config.json";
	static struct slot ring[IN_FLIGHT];
	cfgpool_error_t err;
	cfgpool_pool_t *pool;
	char msg[512];
	int failed = 0;

	cfgpool_error_init(&err);
	if (cfgpool_pool_open_file(path, NULL, NULL, &pool, &err) != 0) {
		fprintf(stderr, "%s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
		return 2;
	}
	for (int n = 0; n < BATCHES + IN_FLIGHT; n++) {
		struct slot *s = &ring[n % IN_FLIGHT];

		if (n >= IN_FLIGHT) { /* the oldest batch: wait, then report it */
			int rc = cfgpool_batch_wait(&s->batch, -1);

			printf("batch %2d: %s, K=%.0f call %.4f (config v%llu)\n", s->number,
			       rc == 0 ? "ok" : cfgpool_strerror(rc), s->in[0].strike, s->out[0].price,
			       (unsigned long long)s->res[0].version);
			failed |= rc != 0;
		}
		if (n == BATCHES / 2 && cfgpool_pool_reload_file(pool, path, CFGPOOL_RELOAD_SYNC, NULL, &err) == 0)
			printf("reloaded: version %llu\n", (unsigned long long)cfgpool_pool_version(pool));
		if (n >= BATCHES)
			continue;
		read_inputs(s, n);
		/* A deadline: items still queued 10 s from now complete with -ETIMEDOUT. */
		cfgpool_batch_opts_t opts = {.deadline_ns = now_ns() + 10000000000u};
		if (cfgpool_pool_map_async(pool, s->in, 0, s->out, 0, ITEMS, s->res, &opts, &s->batch) != 0) {
			fprintf(stderr, "map_async failed\n");
			failed = 1;
		}
	}
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	return failed;
}
