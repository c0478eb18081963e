/*
 * The pool's lifecycle contracts, with the built-in spin kernel: every call given a NULL
 * pool answers as the header says; the rule "this pool runs kernel K" holds on every
 * reload route, the holder's included; shutdown refuses every later submit, map and
 * reload and waits for those in flight; reload and stats racing with close never touch
 * a freed pool; a barrier inside a read-side section is refused.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "helpers.h"

static const char spin_doc[] = "{\"kernel\": {\"name\": \"spin\"}, \"pool\": {\"workers\": 2, \"pin\": false}}";
static const char curve_doc[] = "{\"kernel\": {\"name\": \"curve\", \"points\": [[0, 0], [1, 1]]}}";
static const char mc_doc[] = "{\"kernel\": {\"name\": \"mc_option\", \"rate\": 0.01, \"volatility\": 0.2,"
			     " \"paths\": 1000, \"seed\": 1}}";

static cfgpool_pool_t *open_spin(void)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	char buf[1024];
	int rc;

	cfgpool_error_init(&err);
	rc = cfgpool_pool_open_string(spin_doc, strlen(spin_doc), NULL, NULL, &pool, &err);
	if (rc != 0)
		print_error("open: %s\n", cfgpool_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(rc, 0);
	return pool;
}

static void map_spin(cfgpool_pool_t *pool, int expect)
{
	cfgpool_spin_input_t in[4] = {{10}, {20}, {30}, {40}};
	cfgpool_spin_output_t out[4];

	assert_int_equal(cfgpool_pool_map(pool, in, 0, out, 0, 4, NULL, 0), expect);
}

/* --- NULL pools ---------------------------------------------------------------------------- */

static void every_call_on_a_null_pool_answers_without_crashing(void **state)
{
	cfgpool_pool_stats_t st;
	cfgpool_error_t err;
	uint64_t v = 7;

	(void)state;
	memset(&st, 0xff, sizeof(st));
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_reload_string(NULL, spin_doc, strlen(spin_doc), 0, &v, &err), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_int_equal(v, 7);
	assert_int_equal(cfgpool_pool_reload_file(NULL, "/nonexistent", 0, &v, NULL), -EINVAL);
	assert_int_equal(cfgpool_pool_version(NULL), 0);
	assert_int_equal(cfgpool_pool_workers(NULL), 0);
	assert_int_equal(cfgpool_pool_worker_cpu(NULL, 0), -1);
	assert_null(cfgpool_pool_holder(NULL));
	assert_null(cfgpool_pool_kernel(NULL));
	cfgpool_pool_stats(NULL, &st, NULL, 0);
	assert_int_equal(st.submitted, 0);
	assert_int_equal(st.workers, 0);
	assert_int_equal(cfgpool_pool_shutdown(NULL), -EINVAL);
	assert_int_equal(cfgpool_pool_submit(NULL, NULL, NULL, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cfgpool_pool_map(NULL, NULL, 0, NULL, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(cfgpool_pool_close(NULL, CFGPOOL_CLOSE_DRAIN), 0);
	/* The holder's calls too. */
	assert_int_equal(cfgpool_holder_version(NULL), 0);
	assert_int_equal(cfgpool_holder_barrier(NULL), -EINVAL);
	assert_int_equal(cfgpool_holder_reload_string(NULL, "{}", 2, 0, NULL, NULL), -EINVAL);
}

/* --- the kernel rule on every route ---------------------------------------------------------- */

/*
 * A document naming another kernel is refused through the pool's holder as through the
 * pool: the workers would otherwise run the old kernel on the new one's parameters.
 */
static void reload_through_the_holder_cannot_switch_kernels(void **state)
{
	cfgpool_pool_t *pool = open_spin();
	cfgpool_holder_t *h = (cfgpool_holder_t *)cfgpool_pool_holder(pool); /* a host's cast */
	cfgpool_holder_stats_t hs;
	cfgpool_error_t err;
	uint64_t v = 0;

	(void)state;
	for (int i = 0; i < 2; i++) {
		const char *doc = i == 0 ? curve_doc : mc_doc;

		cfgpool_error_init(&err);
		assert_int_equal(cfgpool_holder_reload_string(h, doc, strlen(doc), 0, &v, &err), CFGPOOL_ESCHEMA);
		assert_string_equal(err.path, "kernel.name");
		assert_contains(err.text, "this pool runs kernel \"spin\"");
		cfgpool_error_init(&err);
		assert_int_equal(cfgpool_pool_reload_string(pool, doc, strlen(doc), 0, &v, &err), CFGPOOL_ESCHEMA);
		assert_string_equal(err.path, "kernel.name");
	}
	assert_int_equal(cfgpool_pool_version(pool), 1);
	map_spin(pool, 0);
	/* The same kernel goes through either route, each reload a version of the pool. */
	assert_int_equal(cfgpool_holder_reload_string(h, spin_doc, strlen(spin_doc), 0, &v, NULL), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cfgpool_pool_reload_string(pool, spin_doc, strlen(spin_doc), 0, &v, NULL), 0);
	assert_int_equal(v, 3);
	cfgpool_holder_stats(cfgpool_pool_holder(pool), &hs);
	assert_int_equal(hs.failed, 4);
	map_spin(pool, 0);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* --- shutdown ------------------------------------------------------------------------------- */

static void shutdown_refuses_later_calls_and_keeps_stats(void **state)
{
	cfgpool_pool_t *pool = open_spin();
	cfgpool_spin_input_t in = {10};
	cfgpool_spin_output_t out;
	cfgpool_pool_stats_t st;
	cfgpool_error_t err;

	(void)state;
	map_spin(pool, 0);
	assert_int_equal(cfgpool_pool_shutdown(pool), 0);
	assert_int_equal(cfgpool_pool_shutdown(pool), 0); /* idempotent */
	assert_int_equal(cfgpool_pool_submit(pool, &in, &out, NULL, NULL, 0), -ESHUTDOWN);
	map_spin(pool, -ESHUTDOWN);
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_reload_string(pool, spin_doc, strlen(spin_doc), 0, NULL, &err), -ESHUTDOWN);
	assert_int_equal(err.code, -ESHUTDOWN);
	cfgpool_pool_stats(pool, &st, NULL, 0);
	assert_int_equal(st.completed, 4);
	assert_int_equal(st.workers, 2);
	assert_int_equal(cfgpool_pool_version(pool), 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* Submitters and reloaders running while another thread shuts the pool down and closes. */
struct hammer {
	cfgpool_pool_t *pool;
	atomic_bool stop;
	atomic_ulong ok, refused, bad;
	int kind; /* 0 map, 1 reload, 2 stats */
};

static void *hammer_main(void *arg)
{
	struct hammer *hm = arg;

	while (!atomic_load(&hm->stop)) {
		cfgpool_spin_input_t in[2] = {{50}, {60}};
		cfgpool_spin_output_t out[2];
		cfgpool_pool_stats_t st;
		int rc = 0;

		if (hm->kind == 0)
			rc = cfgpool_pool_map(hm->pool, in, 0, out, 0, 2, NULL, 0);
		else if (hm->kind == 1)
			rc = cfgpool_pool_reload_string(hm->pool, spin_doc, strlen(spin_doc), 0, NULL, NULL);
		else
			cfgpool_pool_stats(hm->pool, &st, NULL, 0);
		if (rc == 0)
			atomic_fetch_add(&hm->ok, 1);
		else if (rc == -ESHUTDOWN)
			atomic_fetch_add(&hm->refused, 1);
		else
			atomic_fetch_add(&hm->bad, 1);
		/* After a refusal every later call is refused: a host stops here. */
		if (rc == -ESHUTDOWN)
			break;
	}
	return NULL;
}

/*
 * The documented way to stop: shutdown while threads still call in, let them see
 * -ESHUTDOWN and stop, join them, then close. Run under ASan and valgrind, a call that
 * touched the pool after close freed it would be reported.
 */
static void shutdown_then_close_with_callers_racing(void **state)
{
	const size_t rounds = test_scaled(30, 5);

	(void)state;
	alarm(test_timeout_seconds(120));
	for (size_t r = 0; r < rounds; r++) {
		struct hammer hm[3];
		pthread_t t[3];
		cfgpool_pool_t *pool = open_spin();

		for (int k = 0; k < 3; k++) {
			memset(&hm[k], 0, sizeof(hm[k]));
			hm[k].pool = pool;
			hm[k].kind = k;
			assert_int_equal(pthread_create(&t[k], NULL, hammer_main, &hm[k]), 0);
		}
		usleep(2000);
		assert_int_equal(cfgpool_pool_shutdown(pool), 0);
		atomic_store(&hm[2].stop, true); /* stats are never refused by a shutdown */
		for (int k = 0; k < 3; k++) {
			assert_int_equal(pthread_join(t[k], NULL), 0);
			assert_int_equal(atomic_load(&hm[k].bad), 0);
		}
		assert_int_equal(atomic_load(&hm[0].refused), 1);
		assert_int_equal(atomic_load(&hm[1].refused), 1);
		cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	}
	alarm(0);
}

/*
 * stats while close joins the workers: each worker's worker_fini, called on its thread by
 * close after the worker's last task, reads the pool's stats and must see every task (those
 * the workers ran and those the mapping thread ran itself).
 */
static cfgpool_pool_t *fini_pool;
static atomic_uint fini_calls, fini_saw_all;

static void stats_fini(void *state, unsigned worker)
{
	cfgpool_pool_stats_t st;
	cfgpool_worker_stats_t ws[2];

	(void)state;
	memset(ws, 0, sizeof(ws));
	cfgpool_pool_stats(fini_pool, &st, ws, 2);
	if (worker >= 2)
		return; /* the state of the thread that helped in map: freed with the pool */
	atomic_fetch_add(&fini_calls, 1);
	if (st.completed == 4 && st.submitted == 4 && st.workers == 2 &&
	    ws[0].tasks + ws[1].tasks + st.caller_tasks == 4)
		atomic_fetch_add(&fini_saw_all, 1);
}

static void stats_from_worker_fini_during_close_see_every_task(void **state)
{
	cfgpool_kernel_t k = *cfgpool_kernel_find("spin");

	(void)state;
	k.worker_fini = stats_fini;
	atomic_store(&fini_calls, 0);
	atomic_store(&fini_saw_all, 0);
	assert_int_equal(cfgpool_pool_open_string(spin_doc, strlen(spin_doc), &k, NULL, &fini_pool, NULL), 0);
	map_spin(fini_pool, 0);
	assert_int_equal(atomic_load(&fini_calls), 0);
	assert_int_equal(cfgpool_pool_close(fini_pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&fini_calls), 2);
	assert_int_equal(atomic_load(&fini_saw_all), 2);
}

/* A reader of another pool's holder, inside its read-side section for `hold` seconds. */
struct long_reader {
	const cfgpool_holder_t *holder;
	atomic_bool inside;
	double hold;
};

static void *read_for_a_while(void *arg)
{
	struct long_reader *lr = arg;

	assert_non_null(cfgpool_holder_read_begin(lr->holder));
	atomic_store(&lr->inside, true);
	usleep((useconds_t)(lr->hold * 1e6));
	cfgpool_holder_read_end(lr->holder);
	return NULL;
}

/*
 * The grace period shutdown waits for is the process's: a read-side section on another
 * pool's holder (as a task running in that pool holds) delays it until the section ends.
 */
static void shutdown_waits_for_read_side_sections_of_other_pools(void **state)
{
	cfgpool_pool_t *pool = open_spin(), *other = open_spin();
	struct long_reader lr = {.holder = cfgpool_pool_holder(other), .hold = 0.3};
	pthread_t t;
	double t0, waited;

	(void)state;
	alarm(test_timeout_seconds(60));
	assert_int_equal(pthread_create(&t, NULL, read_for_a_while, &lr), 0);
	while (!atomic_load(&lr.inside))
		usleep(1000);
	t0 = now_s();
	assert_int_equal(cfgpool_pool_shutdown(pool), 0);
	waited = now_s() - t0;
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("# shutdown waited %.0f ms for a reader of the other pool\n", waited * 1000);
	/* The section had at least most of its 300 ms to go when shutdown began. */
	assert_true(waited > 0.1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	cfgpool_pool_close(other, CFGPOOL_CLOSE_DRAIN);
	alarm(0);
}

/* --- barrier and read-side sections ---------------------------------------------------------- */

static void barrier_inside_a_read_side_section_is_ebusy(void **state)
{
	cfgpool_pool_t *pool = open_spin();
	const cfgpool_holder_t *h = cfgpool_pool_holder(pool);
	cfgpool_holder_stats_t hs;

	(void)state;
	assert_int_equal(cfgpool_pool_reload_string(pool, spin_doc, strlen(spin_doc), 0, NULL, NULL), 0);
	assert_non_null(cfgpool_holder_read_begin(h));
	assert_int_equal(cfgpool_holder_barrier(h), -EBUSY);
	/* Shutdown from inside a section cannot wait either, but refuses all the same. */
	assert_int_equal(cfgpool_pool_shutdown(pool), -EDEADLK);
	cfgpool_holder_read_end(h);
	map_spin(pool, -ESHUTDOWN);
	assert_int_equal(cfgpool_holder_barrier(h), 0);
	cfgpool_holder_stats(h, &hs);
	assert_int_equal(hs.retired, 1);
	assert_int_equal(hs.freed, 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_call_on_a_null_pool_answers_without_crashing),
		cmocka_unit_test(reload_through_the_holder_cannot_switch_kernels),
		cmocka_unit_test(shutdown_refuses_later_calls_and_keeps_stats),
		cmocka_unit_test(shutdown_then_close_with_callers_racing),
		cmocka_unit_test(stats_from_worker_fini_during_close_see_every_task),
		cmocka_unit_test(shutdown_waits_for_read_side_sections_of_other_pools),
		cmocka_unit_test(barrier_inside_a_read_side_section_is_ebusy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
