/*
 * Asynchronous batches, groups of submitted tasks and deadlines (include/cfgpool/pool.h):
 * map_async gives map's results; several batches stay in flight at once, from one thread
 * and from several; a batch's callback runs once with the batch's status; waits with a
 * timeout; groups with many tasks, reused; deadlines that pass while tasks are queued,
 * and the deadline a running kernel sees; close and shutdown with batches in flight;
 * task threads that must not wait; bad arguments.
 *
 * The kernel here, "async", computes 3x + 1 and records what it saw (the deadline in its
 * ctx, the thread). An input can ask it to fail, to sleep, or to block until the test
 * releases it, so that a test can hold the workers while it queues batches behind them.
 *
 * cmocka's assertions longjmp and must stay on the main thread: pool threads record
 * failures in `errors`, which the main thread checks.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "helpers.h"

/* ------------------------------------------------------------------------------------------ */
/* The kernel                                                                                 */
/* ------------------------------------------------------------------------------------------ */

struct ain {
	uint64_t x;
	int32_t status;    /* returned as is when nonzero */
	uint32_t sleep_us; /* sleeps this long first */
	int32_t block;     /* waits until `released` reaches this value */
};

struct aout {
	uint64_t y;
	uint64_t deadline_ns; /* ctx->deadline_ns as the kernel saw it */
	pid_t tid;
	uint32_t ran;
};

static atomic_int released;
static atomic_uint blocked; /* tasks waiting for `released` */
static atomic_uint errors;

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds stretched by the timeout multiplier, in ns. */
static uint64_t scaled_ms(double ms)
{
	return (uint64_t)(ms * 1e6 * test_timeout_multiplier());
}

static int async_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct ain *in = input;
	struct aout *out = output;

	if (in->block != 0) {
		atomic_fetch_add(&blocked, 1);
		while (atomic_load(&released) < in->block)
			sleep_us(100);
		atomic_fetch_sub(&blocked, 1);
	}
	if (in->sleep_us)
		sleep_us(in->sleep_us);
	out->deadline_ns = ctx->deadline_ns;
	out->tid = (pid_t)syscall(SYS_gettid);
	out->ran = 1;
	if (in->status != 0)
		return in->status;
	out->y = 3 * in->x + 1;
	return 0;
}

static const cfgpool_kernel_t async_kernel = {
    .name = "async",
    .input_size = sizeof(struct ain),
    .output_size = sizeof(struct aout),
    .run = async_run,
};

static cfgpool_pool_t *open_pool(const char *doc)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	char buf[512];
	int rc;

	cfgpool_error_init(&err);
	rc = cfgpool_pool_open_string(doc, strlen(doc), &async_kernel, NULL, &pool, &err);
	if (rc != 0)
		print_error("open failed: %s\n", cfgpool_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(rc, 0);
	return pool;
}

static int reset(void **state)
{
	(void)state;
	atomic_store(&released, 0);
	atomic_store(&blocked, 0);
	atomic_store(&errors, 0);
	return 0;
}

static void record_error(const char *what)
{
	fprintf(stderr, "# error: %s\n", what);
	atomic_fetch_add(&errors, 1);
}

/* Waits (bounded) until `n` tasks are blocked in the kernel. */
static void wait_blocked(unsigned n)
{
	double end = now_s() + 10 * test_timeout_multiplier();

	while (atomic_load(&blocked) < n && now_s() < end)
		sleep_us(200);
	assert_true(atomic_load(&blocked) >= n);
}

static struct ain *new_inputs(size_t n)
{
	struct ain *in = calloc(n, sizeof(*in));

	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i].x = i * 7 + 1;
	return in;
}

/* A blocker: one task per worker, each holding its worker until `released` >= 1. */
static void hold_workers(cfgpool_pool_t *pool, struct ain *in, struct aout *out, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		in[i] = (struct ain){.block = 1};
		assert_int_equal(cfgpool_pool_submit(pool, &in[i], &out[i], NULL, NULL, 0), 0);
	}
	wait_blocked(n);
}

/* ------------------------------------------------------------------------------------------ */
/* Results                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* map_async's outputs, results and status are map's, item by item, failing items included. */
static void async_results_equal_maps(void **state)
{
	const size_t n = test_scaled(600, 20);
	struct ain *in = new_inputs(n);
	struct aout *a = calloc(n, sizeof(*a)), *b = calloc(n, sizeof(*b));
	cfgpool_result_t *ra = calloc(n, sizeof(*ra)), *rb = calloc(n, sizeof(*rb));
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 2}}");
	cfgpool_batch_t batch;

	(void)state;
	in[n / 3].status = -EIO;
	assert_int_equal(cfgpool_pool_map(pool, in, 0, a, 0, n, ra, 0), CFGPOOL_EKERNEL);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, b, 0, n, rb, NULL, &batch), 0);
	assert_int_equal(cfgpool_batch_wait(&batch, -1), CFGPOOL_EKERNEL);
	assert_true(cfgpool_batch_done(&batch));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ra[i].status, rb[i].status);
		assert_int_equal(ra[i].version, rb[i].version);
		assert_int_equal(rb[i].version, 1);
		if (i != n / 3) {
			assert_int_equal(rb[i].status, 0);
			assert_int_equal(a[i].y, b[i].y);
			assert_int_equal(b[i].y, 3 * in[i].x + 1);
			assert_int_equal(b[i].deadline_ns, 0); /* no deadline: ctx says 0 */
		}
	}
	assert_int_equal(rb[n / 3].status, -EIO);
	/* All succeed: 0. Strides larger than the structs, as map allows. */
	in[n / 3].status = 0;
	{
		struct {
			struct ain in;
			char pad[24];
		} *wide = calloc(n, sizeof(*wide));

		for (size_t i = 0; i < n; i++)
			wide[i].in = in[i];
		assert_int_equal(cfgpool_pool_map_async(pool, wide, sizeof(*wide), b, 0, n, NULL, NULL, &batch), 0);
		assert_int_equal(cfgpool_batch_wait(&batch, -1), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(b[i].y, 3 * in[i].x + 1);
		free(wide);
	}
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	free(in), free(a), free(b), free(ra), free(rb);
}

/* ------------------------------------------------------------------------------------------ */
/* Several batches in flight                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * Three batches are queued behind the held workers, all in flight at once (map_async
 * returned for each, none is done), then released: each completes with its own outputs.
 */
static void several_batches_in_flight_from_one_thread(void **state)
{
	enum { K = 3, N = 16 };
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 2, \"queue_capacity\": 256}}");
	struct ain hold_in[2];
	struct aout hold_out[2];
	struct ain *in[K];
	struct aout out[K][N];
	cfgpool_result_t res[K][N];
	cfgpool_batch_t batch[K];

	(void)state;
	alarm(test_timeout_seconds(30));
	hold_workers(pool, hold_in, hold_out, 2);
	for (int k = 0; k < K; k++) {
		in[k] = new_inputs(N);
		for (int i = 0; i < N; i++)
			in[k][i].x += 1000 * (uint64_t)k;
		assert_int_equal(cfgpool_pool_map_async(pool, in[k], 0, out[k], 0, N, res[k], NULL, &batch[k]), 0);
	}
	for (int k = 0; k < K; k++) {
		assert_false(cfgpool_batch_done(&batch[k]));
		assert_int_equal(cfgpool_batch_wait(&batch[k], 0), -ETIMEDOUT);
	}
	atomic_store(&released, 1);
	for (int k = K - 1; k >= 0; k--) { /* any order */
		assert_int_equal(cfgpool_batch_wait(&batch[k], -1), 0);
		for (int i = 0; i < N; i++) {
			assert_int_equal(res[k][i].status, 0);
			assert_int_equal(out[k][i].y, 3 * in[k][i].x + 1);
		}
		free(in[k]);
	}
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	alarm(0);
}

struct ring_thread {
	pthread_t thread;
	cfgpool_pool_t *pool;
	unsigned id, rounds;
	atomic_uint callbacks;
};

static void count_callback(void *arg, cfgpool_batch_t *batch, int status)
{
	struct ring_thread *t = arg;

	(void)batch;
	if (status != 0)
		record_error("ring: a batch failed");
	atomic_fetch_add(&t->callbacks, 1);
}

/*
 * A host's loop: three batches in flight in a ring; each round waits for the oldest,
 * checks it and queues the next in its place.
 */
static void *ring_main(void *arg)
{
	enum { K = 3, N = 8 };
	struct ring_thread *t = arg;
	struct ain in[K][N];
	struct aout out[K][N];
	cfgpool_batch_t batch[K];
	cfgpool_batch_opts_t opts = {.done = count_callback, .arg = t};

	for (unsigned r = 0; r < t->rounds + K; r++) {
		unsigned k = r % K;

		if (r >= K) {
			if (cfgpool_batch_wait(&batch[k], -1) != 0)
				record_error("ring: wait");
			for (int i = 0; i < N; i++)
				if (out[k][i].y != 3 * in[k][i].x + 1)
					record_error("ring: wrong output");
		}
		if (r >= t->rounds)
			continue;
		for (int i = 0; i < N; i++) {
			in[k][i] = (struct ain){.x = ((uint64_t)t->id << 32) + r * N + (uint64_t)i};
			out[k][i].y = 0;
		}
		if (cfgpool_pool_map_async(t->pool, in[k], 0, out[k], 0, N, NULL, &opts, &batch[k]) != 0)
			record_error("ring: map_async");
	}
	return NULL;
}

static void batches_in_flight_from_several_threads(void **state)
{
	enum { T = 4 };
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 2, \"queue_capacity\": 64}}");
	struct ring_thread th[T];
	unsigned rounds = (unsigned)test_scaled(2000, 30);

	(void)state;
	alarm(test_timeout_seconds(60));
	for (unsigned i = 0; i < T; i++) {
		th[i].pool = pool;
		th[i].id = i;
		th[i].rounds = rounds;
		atomic_init(&th[i].callbacks, 0);
		assert_int_equal(pthread_create(&th[i].thread, NULL, ring_main, &th[i]), 0);
	}
	for (unsigned i = 0; i < T; i++)
		assert_int_equal(pthread_join(th[i].thread, NULL), 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	/* Close joined the workers: every callback has returned. */
	for (unsigned i = 0; i < T; i++)
		assert_int_equal(atomic_load(&th[i].callbacks), rounds);
	assert_int_equal(atomic_load(&errors), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* The batch's callback                                                                       */
/* ------------------------------------------------------------------------------------------ */

struct done_record {
	atomic_uint calls;
	atomic_int status;
	atomic_int tid;
	cfgpool_batch_t *batch;
	atomic_bool done_seen; /* batch_done() was true inside the callback */
};

static void record_done(void *arg, cfgpool_batch_t *batch, int status)
{
	struct done_record *d = arg;

	if (batch != d->batch)
		record_error("done: not the batch's pointer");
	atomic_store(&d->done_seen, cfgpool_batch_done(batch));
	atomic_store(&d->status, status);
	atomic_store(&d->tid, (int)syscall(SYS_gettid));
	atomic_fetch_add(&d->calls, 1);
}

static void wait_calls(struct done_record *d, unsigned n)
{
	double end = now_s() + 10 * test_timeout_multiplier();

	while (atomic_load(&d->calls) < n && now_s() < end)
		sleep_us(100);
}

/*
 * done runs once per batch, on the thread that completed the last item (a worker here),
 * with 0 or CFGPOOL_EKERNEL, after the batch counts as done; an empty batch's runs on the
 * calling thread before map_async returns.
 */
static void done_callback_once_per_batch_with_its_status(void **state)
{
	enum { N = 40 };
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 2}}");
	struct ain *in = new_inputs(N);
	struct aout out[N];
	cfgpool_batch_t batch;
	struct done_record d;
	cfgpool_batch_opts_t opts = {.done = record_done, .arg = &d};

	(void)state;
	alarm(test_timeout_seconds(30));
	for (int round = 0; round < 4; round++) {
		memset(&d, 0, sizeof(d));
		d.batch = &batch;
		in[N - 1].status = (round & 1) ? -EIO : 0;
		assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, N, NULL, &opts, &batch), 0);
		assert_int_equal(cfgpool_batch_wait(&batch, -1), (round & 1) ? CFGPOOL_EKERNEL : 0);
		wait_calls(&d, 1);
		sleep_us(2000); /* a second call would come now */
		assert_int_equal(atomic_load(&d.calls), 1);
		assert_int_equal(atomic_load(&d.status), (round & 1) ? CFGPOOL_EKERNEL : 0);
		assert_true(atomic_load(&d.done_seen));
		/* On the thread that completed the last item: one of the items' threads. */
		{
			bool found = false;

			for (int i = 0; i < N; i++)
				found = found || out[i].tid == atomic_load(&d.tid);
			assert_true(found);
			assert_int_not_equal(atomic_load(&d.tid), (int)syscall(SYS_gettid));
		}
	}
	/* Empty: done at once, on this thread, before the call returns. */
	memset(&d, 0, sizeof(d));
	d.batch = &batch;
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 0, NULL, &opts, &batch), 0);
	assert_int_equal(atomic_load(&d.calls), 1);
	assert_int_equal(atomic_load(&d.status), 0);
	assert_int_equal(atomic_load(&d.tid), (int)syscall(SYS_gettid));
	assert_int_equal(cfgpool_batch_wait(&batch, 0), 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	free(in);
	alarm(0);
}

/* A callback that starts the next batch in the same storage, as the header allows. */
struct chain {
	cfgpool_pool_t *pool;
	struct ain in[4];
	struct aout out[4];
	cfgpool_batch_t batch;
	atomic_uint links;
	unsigned limit;
	atomic_int last_rc;
};

static void chain_next(void *arg, cfgpool_batch_t *batch, int status)
{
	struct chain *c = arg;
	cfgpool_batch_opts_t opts = {.done = chain_next, .arg = c};
	int rc;

	if (status != 0 || batch != &c->batch)
		record_error("chain: status or batch");
	if (atomic_fetch_add(&c->links, 1) + 1 >= c->limit)
		return;
	rc = cfgpool_pool_map_async(c->pool, c->in, 0, c->out, 0, 4, NULL, &opts, &c->batch);
	if (rc != 0) {
		atomic_store(&c->last_rc, rc);
		record_error("chain: map_async from a callback");
	}
}

static void callback_starts_the_next_batch_in_the_same_storage(void **state)
{
	static struct chain c;
	cfgpool_batch_opts_t opts = {.done = chain_next, .arg = &c};
	double end;

	(void)state;
	alarm(test_timeout_seconds(30));
	memset(&c, 0, sizeof(c));
	c.pool = open_pool("{\"pool\": {\"workers\": 2}}");
	c.limit = (unsigned)test_scaled(500, 10);
	assert_int_equal(cfgpool_pool_map_async(c.pool, c.in, 0, c.out, 0, 4, NULL, &opts, &c.batch), 0);
	end = now_s() + 20 * test_timeout_multiplier();
	while (atomic_load(&c.links) < c.limit && now_s() < end)
		sleep_us(500);
	assert_int_equal(atomic_load(&c.links), c.limit);
	assert_int_equal(cfgpool_batch_wait(&c.batch, -1), 0);
	assert_int_equal(cfgpool_pool_close(c.pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&errors), 0);
	alarm(0);
}

/* ------------------------------------------------------------------------------------------ */
/* Waiting                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* A wait with a timeout returns -ETIMEDOUT no earlier than asked, then 0 once released. */
static void wait_with_a_timeout(void **state)
{
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain in[2] = {{.x = 5, .block = 1}, {.x = 6}};
	struct aout out[2];
	cfgpool_batch_t batch;
	double t0;

	(void)state;
	alarm(test_timeout_seconds(30));
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 2, NULL, NULL, &batch), 0);
	wait_blocked(1);
	t0 = now_s();
	assert_int_equal(cfgpool_batch_wait(&batch, 20 * 1000 * 1000), -ETIMEDOUT);
	assert_true(now_s() - t0 >= 0.019);
	assert_int_equal(cfgpool_batch_wait(&batch, 0), -ETIMEDOUT);
	assert_false(cfgpool_batch_done(&batch));
	atomic_store(&released, 1);
	assert_int_equal(cfgpool_batch_wait(&batch, (int64_t)scaled_ms(10000)), 0);
	assert_int_equal(out[0].y, 16);
	assert_int_equal(out[1].y, 19);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	/* Waiting for a finished batch never touches the pool: it works after close. */
	assert_int_equal(cfgpool_batch_wait(&batch, -1), 0);
	alarm(0);
}

/* Several threads wait for one batch; each returns once it is done. */
struct waiter {
	pthread_t thread;
	cfgpool_batch_t *batch;
	atomic_int rc;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->rc, cfgpool_batch_wait(w->batch, -1));
	return NULL;
}

static void several_threads_wait_for_one_batch(void **state)
{
	enum { T = 3 };
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain in[2] = {{.x = 1, .block = 1}, {.x = 2, .status = -EIO}};
	struct aout out[2];
	cfgpool_batch_t batch;
	struct waiter w[T];

	(void)state;
	alarm(test_timeout_seconds(30));
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 2, NULL, NULL, &batch), 0);
	for (int i = 0; i < T; i++) {
		w[i].batch = &batch;
		atomic_init(&w[i].rc, 1);
		assert_int_equal(pthread_create(&w[i].thread, NULL, waiter_main, &w[i]), 0);
	}
	wait_blocked(1);
	sleep_us(5000); /* let them sleep */
	for (int i = 0; i < T; i++)
		assert_int_equal(atomic_load(&w[i].rc), 1);
	atomic_store(&released, 1);
	for (int i = 0; i < T; i++) {
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
		assert_int_equal(atomic_load(&w[i].rc), CFGPOOL_EKERNEL);
	}
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	alarm(0);
}

/* ------------------------------------------------------------------------------------------ */
/* Groups                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static atomic_uint group_callbacks;

static void group_task_done(void *arg, void *output, const cfgpool_result_t *result)
{
	const struct ain *in = arg;
	const struct aout *out = output;

	if (result->status != in->status || (in->status == 0 && out->y != 3 * in->x + 1))
		record_error("group: wrong result");
	atomic_fetch_add(&group_callbacks, 1);
}

/*
 * Many tasks in one group; the wait returns once each has completed and its callback
 * returned; the group is reused for a second round without a new init, with tasks added
 * while the first ones run; an empty group's wait returns 0 at once.
 */
static void groups_with_many_tasks_and_reuse(void **state)
{
	const size_t n = test_scaled(4000, 50);
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 2, \"queue_capacity\": 128}}");
	struct ain *in = new_inputs(n);
	struct aout *out = calloc(n, sizeof(*out));
	cfgpool_group_t group;
	cfgpool_pool_stats_t st;

	(void)state;
	alarm(test_timeout_seconds(60));
	atomic_store(&group_callbacks, 0);
	cfgpool_group_init(&group);
	assert_int_equal(cfgpool_group_wait(&group, 0), 0);
	assert_int_equal(cfgpool_group_wait(&group, -1), 0);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < n; i++) {
			cfgpool_task_opts_t o = {.done = group_task_done, .arg = &in[i], .group = &group};

			in[i].status = (i % 97 == 5) ? -EIO : 0;
			assert_int_equal(cfgpool_pool_submit_opts(pool, &in[i], &out[i], &o), 0);
		}
		assert_int_equal(cfgpool_group_wait(&group, -1), 0);
		/* Every callback returned before the wait did. */
		assert_int_equal(atomic_load(&group_callbacks), (round + 1) * n);
		for (size_t i = 0; i < n; i++)
			if (in[i].status == 0)
				assert_int_equal(out[i].y, 3 * in[i].x + 1);
	}
	assert_int_equal(atomic_load(&errors), 0);
	cfgpool_pool_stats(pool, &st, NULL, 0);
	assert_int_equal(st.completed, 2 * n);
	assert_int_equal(st.timed_out, 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	free(in), free(out);
	alarm(0);
}

/* One group holds tasks of two pools; two threads wait for it at once. */
static void *group_waiter_main(void *arg)
{
	return (void *)(intptr_t)cfgpool_group_wait(arg, -1);
}

static void a_group_across_two_pools_and_two_waiters(void **state)
{
	const size_t n = test_scaled(400, 20);
	cfgpool_pool_t *p1 = open_pool("{\"pool\": {\"workers\": 1}}"), *p2 = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain *in = new_inputs(n);
	struct aout *out = calloc(n, sizeof(*out));
	cfgpool_group_t group;
	pthread_t waiter;
	void *rc;

	(void)state;
	alarm(test_timeout_seconds(30));
	atomic_store(&group_callbacks, 0);
	cfgpool_group_init(&group);
	in[0].block = 1; /* holds the group open until both threads wait */
	for (size_t i = 0; i < n; i++) {
		cfgpool_task_opts_t o = {.done = group_task_done, .arg = &in[i], .group = &group};

		assert_int_equal(cfgpool_pool_submit_opts(i % 2 ? p2 : p1, &in[i], &out[i], &o), 0);
	}
	assert_int_equal(pthread_create(&waiter, NULL, group_waiter_main, &group), 0);
	wait_blocked(1);
	atomic_store(&released, 1);
	assert_int_equal(cfgpool_group_wait(&group, -1), 0);
	assert_int_equal(pthread_join(waiter, &rc), 0);
	assert_int_equal((intptr_t)rc, 0);
	assert_int_equal(atomic_load(&group_callbacks), n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i].y, 3 * in[i].x + 1);
	assert_int_equal(cfgpool_pool_close(p1, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(cfgpool_pool_close(p2, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&errors), 0);
	free(in), free(out);
	alarm(0);
}

/* A group's wait times out while a task is held, and a refused submit leaves the group. */
static void group_wait_timeout_and_refused_tasks(void **state)
{
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1, \"queue_capacity\": 2}}");
	struct ain in[8];
	struct aout out[8];
	cfgpool_group_t group;
	int accepted = 0, refused = 0;

	(void)state;
	alarm(test_timeout_seconds(30));
	cfgpool_group_init(&group);
	memset(in, 0, sizeof(in));
	in[0].block = 1;
	{
		cfgpool_task_opts_t o = {.group = &group};

		assert_int_equal(cfgpool_pool_submit_opts(pool, &in[0], &out[0], &o), 0);
	}
	wait_blocked(1);
	assert_int_equal(cfgpool_group_wait(&group, 0), -ETIMEDOUT);
	assert_int_equal(cfgpool_group_wait(&group, 5 * 1000 * 1000), -ETIMEDOUT);
	/* The queue holds 2: the rest are refused, and leave the group. */
	for (int i = 1; i < 8; i++) {
		cfgpool_task_opts_t o = {.group = &group, .flags = CFGPOOL_SUBMIT_NONBLOCK};
		int rc = cfgpool_pool_submit_opts(pool, &in[i], &out[i], &o);

		assert_true(rc == 0 || rc == -EAGAIN);
		rc == 0 ? accepted++ : refused++;
	}
	assert_int_equal(accepted, 2);
	assert_int_equal(refused, 5);
	atomic_store(&released, 1);
	assert_int_equal(cfgpool_group_wait(&group, (int64_t)scaled_ms(10000)), 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	alarm(0);
}

/* ------------------------------------------------------------------------------------------ */
/* Deadlines                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * A batch queued behind a held worker whose deadline passes before it is released: every
 * item completes with -ETIMEDOUT without running (result written, version 0), the batch's
 * callback runs with CFGPOOL_EKERNEL, and the stats count them as timed out.
 */
static void deadline_passes_while_queued(void **state)
{
	enum { N = 8 };
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain hold_in[1], *in = new_inputs(N);
	struct aout hold_out[1], out[N];
	cfgpool_result_t res[N];
	cfgpool_batch_t batch;
	struct done_record d;
	cfgpool_batch_opts_t opts = {.done = record_done, .arg = &d};
	cfgpool_pool_stats_t st;

	(void)state;
	alarm(test_timeout_seconds(30));
	memset(&d, 0, sizeof(d));
	memset(out, 0, sizeof(out));
	d.batch = &batch;
	hold_workers(pool, hold_in, hold_out, 1);
	opts.deadline_ns = mono_ns() + scaled_ms(5);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, N, res, &opts, &batch), 0);
	while (mono_ns() < opts.deadline_ns + 1000000)
		sleep_us(1000);
	atomic_store(&released, 1);
	assert_int_equal(cfgpool_batch_wait(&batch, -1), CFGPOOL_EKERNEL);
	for (int i = 0; i < N; i++) {
		assert_int_equal(res[i].status, -ETIMEDOUT);
		assert_int_equal(res[i].version, 0);
		assert_int_equal(out[i].ran, 0);
	}
	wait_calls(&d, 1);
	assert_int_equal(atomic_load(&d.calls), 1);
	assert_int_equal(atomic_load(&d.status), CFGPOOL_EKERNEL);
	cfgpool_pool_stats(pool, &st, NULL, 0);
	assert_int_equal(st.timed_out, N);
	assert_int_equal(st.completed, N + 1);
	assert_int_equal(st.failed, 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	free(in);
	alarm(0);
}

/*
 * A task that started before its deadline runs to its end, seeing the deadline in its
 * ctx; the items behind it, not started when it passed, time out.
 */
static void started_items_finish_and_see_the_deadline(void **state)
{
	enum { N = 4 };
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain *in = new_inputs(N);
	struct aout out[N];
	cfgpool_result_t res[N];
	cfgpool_batch_t batch;
	cfgpool_batch_opts_t opts = {0};

	(void)state;
	alarm(test_timeout_seconds(30));
	memset(out, 0, sizeof(out));
	/* The first item holds the only worker until well past the deadline. */
	in[0].block = 1;
	opts.deadline_ns = mono_ns() + scaled_ms(2000);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, N, res, &opts, &batch), 0);
	wait_blocked(1);
	while (mono_ns() < opts.deadline_ns + 1000000)
		sleep_us(2000);
	atomic_store(&released, 1);
	assert_int_equal(cfgpool_batch_wait(&batch, -1), CFGPOOL_EKERNEL);
	assert_int_equal(res[0].status, 0);
	assert_int_equal(res[0].version, 1);
	assert_int_equal(out[0].y, 3 * in[0].x + 1);
	assert_int_equal(out[0].deadline_ns, opts.deadline_ns);
	for (int i = 1; i < N; i++) {
		assert_int_equal(res[i].status, -ETIMEDOUT);
		assert_int_equal(out[i].ran, 0);
	}
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	free(in);
	alarm(0);
}

static atomic_int task_status;

static void task_status_done(void *arg, void *output, const cfgpool_result_t *result)
{
	(void)arg, (void)output;
	atomic_store(&task_status, result->status);
}

/* A submitted task past its deadline: -ETIMEDOUT through its callback, its group counts it. */
static void submitted_task_with_a_deadline(void **state)
{
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain in = {.x = 2};
	struct aout out;
	cfgpool_group_t group;
	cfgpool_task_opts_t o = {.done = task_status_done, .group = &group};
	cfgpool_pool_stats_t st;

	(void)state;
	alarm(test_timeout_seconds(30));
	cfgpool_group_init(&group);
	memset(&out, 0, sizeof(out));
	o.deadline_ns = mono_ns() - 1; /* already past */
	atomic_store(&task_status, 1);
	assert_int_equal(cfgpool_pool_submit_opts(pool, &in, &out, &o), 0);
	assert_int_equal(cfgpool_group_wait(&group, -1), 0);
	assert_int_equal(atomic_load(&task_status), -ETIMEDOUT);
	assert_int_equal(out.ran, 0);
	/* A deadline far ahead: it runs, and sees it. */
	o.deadline_ns = mono_ns() + 3600ull * 1000000000u;
	assert_int_equal(cfgpool_pool_submit_opts(pool, &in, &out, &o), 0);
	assert_int_equal(cfgpool_group_wait(&group, -1), 0);
	assert_int_equal(atomic_load(&task_status), 0);
	assert_int_equal(out.y, 7);
	assert_int_equal(out.deadline_ns, o.deadline_ns);
	/* NULL options: no callback, no group, no deadline. */
	memset(&out, 0, sizeof(out));
	assert_int_equal(cfgpool_pool_submit_opts(pool, &in, &out, NULL), 0);
	cfgpool_pool_stats(pool, &st, NULL, 0);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(out.y, 7);
	assert_int_equal(out.deadline_ns, 0);
	alarm(0);
}

/* ------------------------------------------------------------------------------------------ */
/* Close and shutdown with batches in flight                                                  */
/* ------------------------------------------------------------------------------------------ */

struct item_counts {
	atomic_uint calls;
};

static void count_batch_done(void *arg, cfgpool_batch_t *batch, int status)
{
	struct item_counts *c = arg;

	(void)batch;
	if (status != 0 && status != CFGPOOL_EKERNEL)
		record_error("close: a batch status other than 0 or EKERNEL");
	atomic_fetch_add(&c->calls, 1);
}

static void *release_later(void *arg)
{
	(void)arg;
	sleep_us(20000);
	atomic_store(&released, 1);
	return NULL;
}

/*
 * Close (drain or cancel) while batches wait behind held workers: every item completes
 * exactly once with 0, -ECANCELED or -ETIMEDOUT (one batch has a deadline that passes),
 * every callback runs once, and every batch is done when close returns.
 */
static void close_with_batches_in_flight(void **state)
{
	enum { K = 4, N = 12 };

	(void)state;
	alarm(test_timeout_seconds(60));
	for (int how = 0; how < 2; how++) {
		cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 2, \"queue_capacity\": 128}}");
		struct ain hold_in[2], *in = new_inputs(N);
		struct aout hold_out[2], out[K][N];
		cfgpool_result_t res[K][N];
		cfgpool_batch_t batch[K];
		struct item_counts counts[K];
		pthread_t releaser;
		unsigned ok = 0, cancelled = 0, timed_out = 0;

		reset(NULL);
		hold_workers(pool, hold_in, hold_out, 2);
		for (int k = 0; k < K; k++) {
			cfgpool_batch_opts_t opts = {.done = count_batch_done, .arg = &counts[k]};

			if (k == 1)
				opts.deadline_ns = mono_ns() + 1000000; /* passes while held */
			atomic_init(&counts[k].calls, 0);
			for (int i = 0; i < N; i++)
				res[k][i].status = 12345;
			assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out[k], 0, N, res[k], &opts, &batch[k]), 0);
		}
		assert_int_equal(pthread_create(&releaser, NULL, release_later, NULL), 0);
		sleep_us(2000);
		assert_int_equal(cfgpool_pool_close(pool, how == 0 ? CFGPOOL_CLOSE_DRAIN : CFGPOOL_CLOSE_CANCEL), 0);
		assert_int_equal(pthread_join(releaser, NULL), 0);
		for (int k = 0; k < K; k++) {
			int rc = cfgpool_batch_wait(&batch[k], 0);

			assert_true(rc == 0 || rc == CFGPOOL_EKERNEL);
			assert_int_equal(atomic_load(&counts[k].calls), 1);
			for (int i = 0; i < N; i++) {
				int s = res[k][i].status;

				if (s == 0)
					ok++;
				else if (s == -ECANCELED)
					cancelled++;
				else if (s == -ETIMEDOUT && k == 1)
					timed_out++;
				else
					fail_msg("item %d of batch %d: status %d", i, k, s);
			}
		}
		assert_int_equal(ok + cancelled + timed_out, K * N);
		if (how == 0) {
			assert_int_equal(cancelled, 0);
			assert_int_equal(timed_out, N);
		} else {
			assert_int_equal(ok, 0);
		}
		assert_int_equal(atomic_load(&errors), 0);
		free(in);
	}
	alarm(0);
}

/* After shutdown map_async and submit_opts are refused; a batch in flight still completes. */
static void shutdown_refuses_new_batches(void **state)
{
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain in[3] = {{.x = 1, .block = 1}, {.x = 2}, {.x = 3}};
	struct aout out[3];
	cfgpool_batch_t batch, refused;
	struct done_record d;
	cfgpool_batch_opts_t opts = {.done = record_done, .arg = &d};
	cfgpool_group_t group;
	cfgpool_task_opts_t o = {.group = &group};
	pthread_t releaser;

	(void)state;
	alarm(test_timeout_seconds(30));
	memset(&d, 0, sizeof(d));
	d.batch = &refused;
	cfgpool_group_init(&group);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 3, NULL, NULL, &batch), 0);
	wait_blocked(1);
	/* Shutdown's grace period waits for the running task: release it a little later. */
	assert_int_equal(pthread_create(&releaser, NULL, release_later, NULL), 0);
	assert_int_equal(cfgpool_pool_shutdown(pool), 0);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 3, NULL, &opts, &refused), -ESHUTDOWN);
	/* Refused: the callback will not run, and the batch reads as done. */
	assert_true(cfgpool_batch_done(&refused));
	assert_int_equal(cfgpool_batch_wait(&refused, -1), 0);
	assert_int_equal(cfgpool_pool_submit_opts(pool, &in[1], &out[1], &o), -ESHUTDOWN);
	assert_int_equal(cfgpool_group_wait(&group, 0), 0);
	/* The batch accepted before shutdown still runs. */
	assert_int_equal(cfgpool_batch_wait(&batch, -1), 0);
	assert_int_equal(pthread_join(releaser, NULL), 0);
	assert_int_equal(out[2].y, 10);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&d.calls), 0);
	alarm(0);
}

/* ------------------------------------------------------------------------------------------ */
/* Task threads and full queues                                                               */
/* ------------------------------------------------------------------------------------------ */

struct from_task {
	cfgpool_pool_t *pool;
	struct ain in[16];
	struct aout out[16];
	cfgpool_batch_t small, big, pending;
	cfgpool_group_t group;
	atomic_int small_rc, big_rc, wait_rc, poll_rc, group_rc, big_done_calls;
	atomic_bool ran;
};

static void big_done(void *arg, cfgpool_batch_t *batch, int status)
{
	struct from_task *f = arg;

	(void)batch, (void)status;
	atomic_fetch_add(&f->big_done_calls, 1);
}

/* A callback of the pool's (a task thread): what it may and may not do with batches. */
static void from_task_callback(void *arg, void *output, const cfgpool_result_t *result)
{
	struct from_task *f = arg;
	cfgpool_batch_opts_t big_opts = {.done = big_done, .arg = f};
	cfgpool_task_opts_t o = {.group = &f->group};

	(void)output, (void)result;
	/* Fits in the queue (capacity 8): queued, not waited for. */
	atomic_store(&f->small_rc, cfgpool_pool_map_async(f->pool, f->in, 0, f->out, 0, 4, NULL, NULL, &f->small));
	/* Does not fit whole: refused, nothing queued, its callback never runs. */
	atomic_store(&f->big_rc, cfgpool_pool_map_async(f->pool, f->in, 0, f->out, 0, 16, NULL, &big_opts, &f->big));
	/* The small batch cannot run while this worker is here: waiting would deadlock. */
	atomic_store(&f->wait_rc, cfgpool_batch_wait(&f->small, -1));
	atomic_store(&f->poll_rc, cfgpool_batch_wait(&f->small, 0));
	cfgpool_group_init(&f->group);
	cfgpool_pool_submit_opts(f->pool, &f->in[5], &f->out[5], &o);
	atomic_store(&f->group_rc, cfgpool_group_wait(&f->group, -1));
	atomic_store(&f->ran, true);
}

static void task_threads_never_wait(void **state)
{
	static struct from_task f;
	struct ain in = {.x = 1};
	struct aout out;

	(void)state;
	alarm(test_timeout_seconds(30));
	memset(&f, 0, sizeof(f));
	f.pool = open_pool("{\"pool\": {\"workers\": 1, \"queue_capacity\": 8}}");
	assert_int_equal(cfgpool_pool_submit(f.pool, &in, &out, from_task_callback, &f, 0), 0);
	{
		double end = now_s() + 10 * test_timeout_multiplier();

		while (!atomic_load(&f.ran) && now_s() < end)
			sleep_us(500);
	}
	assert_true(atomic_load(&f.ran));
	assert_int_equal(atomic_load(&f.small_rc), 0);
	assert_int_equal(atomic_load(&f.big_rc), -EDEADLK);
	assert_int_equal(atomic_load(&f.wait_rc), -EDEADLK);
	assert_int_equal(atomic_load(&f.poll_rc), -ETIMEDOUT);
	assert_int_equal(atomic_load(&f.group_rc), -EDEADLK);
	assert_true(cfgpool_batch_done(&f.big));
	assert_int_equal(cfgpool_batch_wait(&f.small, -1), 0);
	assert_int_equal(cfgpool_group_wait(&f.group, -1), 0);
	assert_int_equal(cfgpool_pool_close(f.pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&f.big_done_calls), 0);
	alarm(0);
}

/*
 * With CFGPOOL_SUBMIT_NONBLOCK a batch is queued whole or not at all (-EAGAIN); without,
 * a batch bigger than the queue waits for room item by item and completes.
 */
static void nonblock_and_batches_bigger_than_the_queue(void **state)
{
	const size_t n = 100;
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1, \"queue_capacity\": 8}}");
	struct ain hold_in[1], *in = new_inputs(n);
	struct aout hold_out[1], *out = calloc(n, sizeof(*out));
	cfgpool_batch_opts_t nb = {.flags = CFGPOOL_SUBMIT_NONBLOCK};
	cfgpool_batch_t a, b;
	cfgpool_pool_stats_t st;

	(void)state;
	alarm(test_timeout_seconds(30));
	hold_workers(pool, hold_in, hold_out, 1);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 6, NULL, &nb, &a), 0);
	/* 2 slots left: 3 items are refused whole. */
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 3, NULL, &nb, &b), -EAGAIN);
	assert_true(cfgpool_batch_done(&b));
	cfgpool_pool_stats(pool, &st, NULL, 0);
	assert_int_equal(st.submitted, 1 + 6);
	atomic_store(&released, 1);
	assert_int_equal(cfgpool_batch_wait(&a, -1), 0);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, n, NULL, NULL, &b), 0);
	assert_int_equal(cfgpool_batch_wait(&b, -1), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i].y, 3 * in[i].x + 1);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	free(in), free(out);
	alarm(0);
}

/* ------------------------------------------------------------------------------------------ */
/* Bad arguments                                                                              */
/* ------------------------------------------------------------------------------------------ */

static void bad_arguments(void **state)
{
	cfgpool_pool_t *pool = open_pool("{\"pool\": {\"workers\": 1}}");
	struct ain in[2] = {{.x = 1}, {.x = 2}};
	struct aout out[2];
	cfgpool_batch_t batch;
	struct done_record d;
	cfgpool_batch_opts_t opts = {.done = record_done, .arg = &d};

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(cfgpool_pool_map_async(NULL, in, 0, out, 0, 2, NULL, &opts, &batch), -EINVAL);
	assert_true(cfgpool_batch_done(&batch));
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, 2, NULL, &opts, NULL), -EINVAL);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 1, out, 0, 2, NULL, &opts, &batch), -EINVAL);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, sizeof(out[0]) - 1, 2, NULL, &opts, &batch), -EINVAL);
	assert_int_equal(cfgpool_pool_map_async(pool, NULL, 0, out, 0, 2, NULL, &opts, &batch), -EINVAL);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, NULL, 0, 2, NULL, &opts, &batch), -EINVAL);
	assert_int_equal(cfgpool_pool_map_async(pool, in, 0, out, 0, (size_t)1 << 30, NULL, &opts, &batch), -EINVAL);
	assert_true(cfgpool_batch_done(&batch));
	assert_int_equal(cfgpool_batch_wait(&batch, -1), 0);
	assert_int_equal(atomic_load(&d.calls), 0);
	assert_int_equal(cfgpool_batch_wait(NULL, -1), -EINVAL);
	assert_true(cfgpool_batch_done(NULL));
	assert_int_equal(cfgpool_group_wait(NULL, -1), -EINVAL);
	cfgpool_group_init(NULL); /* a no-op */
	assert_int_equal(cfgpool_pool_submit_opts(NULL, in, out, NULL), -EINVAL);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(async_results_equal_maps, reset),
	    cmocka_unit_test_setup(several_batches_in_flight_from_one_thread, reset),
	    cmocka_unit_test_setup(batches_in_flight_from_several_threads, reset),
	    cmocka_unit_test_setup(done_callback_once_per_batch_with_its_status, reset),
	    cmocka_unit_test_setup(callback_starts_the_next_batch_in_the_same_storage, reset),
	    cmocka_unit_test_setup(wait_with_a_timeout, reset),
	    cmocka_unit_test_setup(several_threads_wait_for_one_batch, reset),
	    cmocka_unit_test_setup(groups_with_many_tasks_and_reuse, reset),
	    cmocka_unit_test_setup(a_group_across_two_pools_and_two_waiters, reset),
	    cmocka_unit_test_setup(group_wait_timeout_and_refused_tasks, reset),
	    cmocka_unit_test_setup(deadline_passes_while_queued, reset),
	    cmocka_unit_test_setup(started_items_finish_and_see_the_deadline, reset),
	    cmocka_unit_test_setup(submitted_task_with_a_deadline, reset),
	    cmocka_unit_test_setup(close_with_batches_in_flight, reset),
	    cmocka_unit_test_setup(shutdown_refuses_new_batches, reset),
	    cmocka_unit_test_setup(task_threads_never_wait, reset),
	    cmocka_unit_test_setup(nonblock_and_batches_bigger_than_the_queue, reset),
	    cmocka_unit_test_setup(bad_arguments, reset),
	};

	if (getenv("CFGPOOL_TEST_FILTER") != NULL && *getenv("CFGPOOL_TEST_FILTER") != '\0')
		cmocka_set_test_filter(getenv("CFGPOOL_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
