/*
 * The RCU holder: versions, failed reloads, publish, synchronous reloads, and reloads
 * under fire from concurrent readers and writers.
 *
 * Every holder here runs one counting preparer whose block records the document's "a" and
 * a magic word that its release callback poisons before freeing. Readers check the magic
 * of every block they see, so a snapshot freed too early shows up even without ASan, and
 * the counts prove every retired snapshot is freed exactly once.
 *
 * cmocka's assertions longjmp and must stay on the main thread: worker threads record
 * failures in atomics and the main thread asserts on them after joining.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "helpers.h"

#define BLOCK_LIVE 0x4c495645u
#define BLOCK_DEAD 0xdeadbeefu

struct counts {
	atomic_uint_fast64_t prepared;
	atomic_uint_fast64_t released;
	atomic_uint_fast64_t bad_release; /* a release of a block that was not live */
};

struct block {
	atomic_uint magic;
	int64_t a;
};

/*
 * Each test gets fresh counters and its own preparer array, in static storage so a holder
 * that a failed test leaked can still run its callbacks later without disturbing the
 * counts of the tests after it (or touching freed memory).
 */
#define MAX_TESTS 64

static struct counts all_counts[MAX_TESTS];
static cfgpool_prep_t all_preps[MAX_TESTS][1];
static size_t ntest;

static struct counts *counts;
static const cfgpool_prep_t *preps;
static cfgpool_load_opts_t holder_opts;

/*
 * Fails with -ERANGE at kernel.paths when the document says "fail": true, as a kernel's
 * prepare step would when its section is wrong.
 */
static int count_prepare(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg)
{
	struct counts *c = arg;
	struct block *b;
	bool fail = false;
	int64_t a = -1;

	(void)cfgpool_get_bool(root, "fail", &fail);
	if (fail)
		return cfgpool_error_set(err, -ERANGE, "kernel.paths", "expected at most 2 paths, got 3");
	/* The test's own schema: `a`, when present, is an integer. */
	if (cfgpool_get_int(root, "a", &a) == CFGPOOL_ETYPE)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "a", "expected an integer");
	b = malloc(sizeof(*b));
	if (!b)
		return cfgpool_error_set(err, -ENOMEM, NULL, "out of memory");
	atomic_init(&b->magic, BLOCK_LIVE);
	b->a = a;
	*params = b;
	/* Pairs with the acquire loads of the checks below, which run on other threads. */
	atomic_fetch_add_explicit(&c->prepared, 1, memory_order_release);
	return 0;
}

static void count_release(void *params, void *arg)
{
	struct counts *c = arg;
	struct block *b = params;

	if (atomic_exchange_explicit(&b->magic, BLOCK_DEAD, memory_order_relaxed) != BLOCK_LIVE)
		atomic_fetch_add_explicit(&c->bad_release, 1, memory_order_relaxed);
	free(b);
	/* Release runs on liburcu's call_rcu thread; pairs with the acquire loads in the checks. */
	atomic_fetch_add_explicit(&c->released, 1, memory_order_release);
}

static uint64_t prepared(void)
{
	return atomic_load_explicit(&counts->prepared, memory_order_acquire);
}

static uint64_t released(void)
{
	return atomic_load_explicit(&counts->released, memory_order_acquire);
}

static int fresh_counts(void **state)
{
	if (ntest == MAX_TESTS)
		return -1;
	counts = &all_counts[ntest];
	all_preps[ntest][0] = (cfgpool_prep_t){"counter", count_prepare, count_release, counts};
	preps = all_preps[ntest];
	holder_opts = (cfgpool_load_opts_t){.preps = preps, .nprep = 1};
	ntest++;
	return 0;
}

static cfgpool_holder_t *new_holder(void)
{
	cfgpool_holder_t *h = NULL;

	assert_int_equal(cfgpool_holder_create(&holder_opts, &h), 0);
	assert_non_null(h);
	return h;
}

/* Reloads {"a": a, "b": a} and checks it became version `want`. */
static void reload_ok(cfgpool_holder_t *h, int64_t a, unsigned flags, uint64_t want)
{
	char doc[128];
	cfgpool_error_t err;
	uint64_t version = 0;
	char buf[512];
	int rc;

	snprintf(doc, sizeof(doc), "{\"a\": %lld, \"b\": %lld}", (long long)a, (long long)a);
	cfgpool_error_init(&err);
	rc = cfgpool_holder_reload_string(h, doc, strlen(doc), flags, &version, &err);
	if (rc != 0)
		print_error("reload failed: %s\n", cfgpool_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(rc, 0);
	assert_int_equal(version, want);
	assert_int_equal(cfgpool_holder_version(h), want);
}

/* Reads "a" of the current snapshot inside a read-side section. */
static int64_t current_a(cfgpool_holder_t *h)
{
	const cfgpool_config_t *snap = cfgpool_holder_read_begin(h);
	int64_t a = -1;
	int rc;

	assert_non_null(snap);
	rc = cfgpool_get_int(cfgpool_config_root(snap), "a", &a);
	cfgpool_holder_read_end(h);
	assert_int_equal(rc, 0);
	return a;
}

static void destroy_and_check_every_block_freed(cfgpool_holder_t *h)
{
	cfgpool_holder_destroy(h);
	assert_int_equal(released(), prepared());
	assert_int_equal(atomic_load(&counts->bad_release), 0);
}

/* --- versions ---------------------------------------------------------------------------- */

static void new_holder_has_no_snapshot_and_version_zero(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_holder_stats_t st;

	assert_int_equal(cfgpool_holder_version(h), 0);
	assert_null(cfgpool_holder_read_begin(h));
	cfgpool_holder_read_end(h);
	memset(&st, 0xff, sizeof(st));
	cfgpool_holder_stats(h, &st);
	assert_int_equal(st.published, 0);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.retired, 0);
	assert_int_equal(st.freed, 0);
	assert_int_equal(st.current_size, 0);
	assert_int_equal(prepared(), 0);
	destroy_and_check_every_block_freed(h);
}

static void first_reload_publishes_version_one(void **state)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *snap;
	const struct block *b;

	reload_ok(h, 41, 0, 1);
	snap = cfgpool_holder_read_begin(h);
	assert_non_null(snap);
	assert_int_equal(cfgpool_config_version(snap), 1);
	b = cfgpool_config_params(snap, 0);
	assert_non_null(b);
	assert_int_equal(b->a, 41);
	cfgpool_holder_read_end(h);
	assert_int_equal(current_a(h), 41);
	destroy_and_check_every_block_freed(h);
}

static void versions_increase_by_one_per_reload(void **state)
{
	cfgpool_holder_t *h = new_holder();

	for (uint64_t v = 1; v <= 20; v++) {
		const cfgpool_config_t *snap;

		reload_ok(h, (int64_t)v * 10, 0, v);
		snap = cfgpool_holder_read_begin(h);
		assert_int_equal(cfgpool_config_version(snap), v);
		cfgpool_holder_read_end(h);
		assert_int_equal(current_a(h), (int64_t)v * 10);
	}
	destroy_and_check_every_block_freed(h);
}

static void reload_with_null_version_pointer_still_publishes(void **state)
{
	cfgpool_holder_t *h = new_holder();

	assert_int_equal(cfgpool_holder_reload_string(h, "{\"a\": 5}", 8, 0, NULL, NULL), 0);
	assert_int_equal(cfgpool_holder_version(h), 1);
	assert_int_equal(current_a(h), 5);
	destroy_and_check_every_block_freed(h);
}

static void reload_file_publishes_the_file(void **state)
{
	static const char doc[] = "{\"a\": 77, \"pool\": {\"workers\": 2}}\n";
	cfgpool_holder_t *h = new_holder();
	char file[PATH_MAX];
	cfgpool_error_t err;
	uint64_t version = 0;
	int rc;

	write_temp_file(doc, strlen(doc), file, sizeof(file));
	cfgpool_error_init(&err);
	rc = cfgpool_holder_reload_file(h, file, 0, &version, &err);
	unlink(file);
	assert_int_equal(rc, 0);
	assert_int_equal(version, 1);
	assert_int_equal(current_a(h), 77);
	destroy_and_check_every_block_freed(h);
}

/* --- publish ----------------------------------------------------------------------------- */

static cfgpool_config_t *load_for_holder(const char *doc)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str_opts(doc, &holder_opts, &cfg, &err), 0);
	return cfg;
}

static void publish_takes_a_loaded_config_as_the_next_version(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_config_t *cfg;
	uint64_t version = 0;

	reload_ok(h, 1, 0, 1);
	cfg = load_for_holder("{\"a\": 2}");
	assert_int_equal(cfgpool_config_version(cfg), 0);
	assert_int_equal(cfgpool_holder_publish(h, cfg, 0, &version), 0);
	assert_int_equal(version, 2);
	assert_int_equal(cfgpool_holder_version(h), 2);
	assert_ptr_equal(cfgpool_holder_read_begin(h), cfg);
	assert_int_equal(cfgpool_config_version(cfg), 2);
	cfgpool_holder_read_end(h);
	destroy_and_check_every_block_freed(h);
}

static void publish_into_an_empty_holder_is_version_one(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_config_t *cfg = load_for_holder("{\"a\": 9}");
	uint64_t version = 0;

	assert_int_equal(cfgpool_holder_publish(h, cfg, 0, &version), 0);
	assert_int_equal(version, 1);
	assert_int_equal(current_a(h), 9);
	destroy_and_check_every_block_freed(h);
}

static void publish_of_a_config_with_other_preparers_is_einval(void **state)
{
	/* Same callbacks with another argument: other preparers, whose blocks mean other things. */
	static struct counts other_counts;
	const cfgpool_prep_t other[] = {
	    {"counter", count_prepare, count_release, &other_counts},
	};
	cfgpool_load_opts_t other_opts = {.preps = other, .nprep = 1};
	cfgpool_holder_t *h = new_holder();
	cfgpool_config_t *cfg = NULL;
	cfgpool_config_t *bare = NULL;
	cfgpool_error_t err;
	uint64_t version = 1234;

	reload_ok(h, 1, 0, 1);
	assert_int_equal(load_str_opts("{\"a\": 2}", &other_opts, &cfg, &err), 0);
	assert_int_equal(cfgpool_holder_publish(h, cfg, 0, &version), -EINVAL);
	assert_int_equal(load_str("{\"a\": 3}", &bare, &err), 0);
	assert_int_equal(cfgpool_holder_publish(h, bare, 0, &version), -EINVAL);
	/* Nothing changed, and the caller still owns both. */
	assert_int_equal(cfgpool_holder_version(h), 1);
	assert_int_equal(current_a(h), 1);
	assert_int_equal(cfgpool_config_version(cfg), 0);
	cfgpool_config_free(cfg);
	cfgpool_config_free(bare);
	assert_int_equal(atomic_load(&other_counts.released), atomic_load(&other_counts.prepared));
	destroy_and_check_every_block_freed(h);
}

static void publish_twice_is_ebusy(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_holder_t *h2 = new_holder();
	cfgpool_config_t *cfg = load_for_holder("{\"a\": 4}");
	uint64_t version = 0;

	assert_int_equal(cfgpool_holder_publish(h, cfg, 0, &version), 0);
	assert_int_equal(version, 1);
	assert_int_equal(cfgpool_holder_publish(h, cfg, 0, &version), -EBUSY);
	assert_int_equal(cfgpool_holder_version(h), 1);
	/* Another holder with the same preparers refuses it too: it belongs to the first. */
	assert_int_equal(cfgpool_holder_publish(h2, cfg, 0, &version), -EBUSY);
	assert_int_equal(cfgpool_holder_version(h2), 0);
	assert_ptr_equal(cfgpool_holder_read_begin(h), cfg);
	cfgpool_holder_read_end(h);
	cfgpool_holder_destroy(h2);
	destroy_and_check_every_block_freed(h);
}

/* --- failed reloads ---------------------------------------------------------------------- */

/*
 * Publishes version 1 with a = 11, runs `do_fail` expecting `want`, and checks nothing changed:
 * same snapshot pointer, version, contents and block; one more failure counted.
 */
static void expect_failed_reload_changes_nothing(int (*do_fail)(cfgpool_holder_t *h, cfgpool_error_t *err), int want,
						 const char *want_path)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *before, *after;
	cfgpool_holder_stats_t st0, st1;
	cfgpool_error_t err;
	uint64_t prep0;
	int rc;

	reload_ok(h, 11, 0, 1);
	before = cfgpool_holder_read_begin(h);
	cfgpool_holder_read_end(h);
	cfgpool_holder_stats(h, &st0);
	prep0 = prepared();

	cfgpool_error_init(&err);
	rc = do_fail(h, &err);
	assert_int_equal(rc, want);
	assert_int_equal(err.code, want);
	if (want_path)
		assert_string_equal(err.path, want_path);

	after = cfgpool_holder_read_begin(h);
	assert_ptr_equal(after, before);
	assert_int_equal(cfgpool_config_version(after), 1);
	assert_int_equal(((const struct block *)cfgpool_config_params(after, 0))->a, 11);
	assert_int_equal(atomic_load(&((const struct block *)cfgpool_config_params(after, 0))->magic), BLOCK_LIVE);
	cfgpool_holder_read_end(h);
	assert_int_equal(current_a(h), 11);
	assert_int_equal(cfgpool_holder_version(h), 1);

	cfgpool_holder_stats(h, &st1);
	assert_int_equal(st1.failed, st0.failed + 1);
	assert_int_equal(st1.published, st0.published);
	assert_int_equal(st1.retired, st0.retired);
	/* Whatever the failed load prepared, it gave back. */
	cfgpool_holder_barrier(h);
	assert_int_equal(released(), prepared() - 1);
	assert_true(prepared() >= prep0);

	/* And the holder still works: the next success is version 2. */
	reload_ok(h, 12, 0, 2);
	destroy_and_check_every_block_freed(h);
}

static int fail_syntax(cfgpool_holder_t *h, cfgpool_error_t *err)
{
	return cfgpool_holder_reload_string(h, "{\"a\": 1,", 8, 0, NULL, err);
}

static int fail_schema(cfgpool_holder_t *h, cfgpool_error_t *err)
{
	static const char doc[] = "{\"a\": \"ninety-nine\", \"pool\": {\"workers\": 0}}";

	return cfgpool_holder_reload_string(h, doc, strlen(doc), 0, NULL, err);
}

static int fail_preparer(cfgpool_holder_t *h, cfgpool_error_t *err)
{
	static const char doc[] = "{\"a\": 99, \"fail\": true}";

	return cfgpool_holder_reload_string(h, doc, strlen(doc), 0, NULL, err);
}

static int fail_missing_file(cfgpool_holder_t *h, cfgpool_error_t *err)
{
	char path[PATH_MAX];

	return cfgpool_holder_reload_file(h, test_data_path(path, sizeof(path), "no-such-config.json"), 0, NULL, err);
}

static int fail_sync_syntax(cfgpool_holder_t *h, cfgpool_error_t *err)
{
	return cfgpool_holder_reload_string(h, "[", 1, CFGPOOL_RELOAD_SYNC, NULL, err);
}

static void failed_reload_syntax_error_keeps_the_snapshot(void **state)
{
	expect_failed_reload_changes_nothing(fail_syntax, CFGPOOL_ESYNTAX, NULL);
}

static void failed_reload_schema_error_keeps_the_snapshot(void **state)
{
	expect_failed_reload_changes_nothing(fail_schema, CFGPOOL_ESCHEMA, "a");
}

static void failed_reload_failing_preparer_keeps_the_snapshot(void **state)
{
	expect_failed_reload_changes_nothing(fail_preparer, -ERANGE, "kernel.paths");
}

static void failed_reload_missing_file_keeps_the_snapshot(void **state)
{
	expect_failed_reload_changes_nothing(fail_missing_file, -ENOENT, NULL);
}

static void failed_sync_reload_keeps_the_snapshot(void **state)
{
	expect_failed_reload_changes_nothing(fail_sync_syntax, CFGPOOL_ESYNTAX, NULL);
}

static void failed_reload_before_any_publish_leaves_the_holder_empty(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_holder_stats_t st;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(fail_schema(h, &err), CFGPOOL_ESCHEMA);
	assert_int_equal(cfgpool_holder_version(h), 0);
	assert_null(cfgpool_holder_read_begin(h));
	cfgpool_holder_read_end(h);
	cfgpool_holder_stats(h, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.published, 0);
	/* A failure does not use up a version number. */
	reload_ok(h, 1, 0, 1);
	destroy_and_check_every_block_freed(h);
}

/* --- retiring old snapshots -------------------------------------------------------------- */

static void sync_reload_frees_the_old_snapshot_before_returning(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_holder_stats_t st;

	reload_ok(h, 1, 0, 1);
	assert_int_equal(released(), 0);
	reload_ok(h, 2, CFGPOOL_RELOAD_SYNC, 2);
	assert_int_equal(released(), 1);
	reload_ok(h, 3, CFGPOOL_RELOAD_SYNC, 3);
	assert_int_equal(released(), 2);
	cfgpool_holder_stats(h, &st);
	assert_int_equal(st.retired, 2);
	assert_int_equal(st.freed, 2);
	assert_int_equal(current_a(h), 3);
	destroy_and_check_every_block_freed(h);
}

static void async_reload_frees_the_old_snapshot_by_the_barrier(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_holder_stats_t st;

	for (uint64_t v = 1; v <= 5; v++)
		reload_ok(h, (int64_t)v, 0, v);
	cfgpool_holder_barrier(h);
	assert_int_equal(released(), 4);
	cfgpool_holder_stats(h, &st);
	assert_int_equal(st.published, 5);
	assert_int_equal(st.retired, 4);
	assert_int_equal(st.freed, 4);
	destroy_and_check_every_block_freed(h);
}

/* A snapshot retired while this thread reads it stays intact until the section ends. */
static void retired_snapshot_lives_until_the_read_section_ends(void **state)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *old, *cur;
	const struct block *b;
	int64_t a = 0;

	reload_ok(h, 1, 0, 1);
	old = cfgpool_holder_read_begin(h);
	b = cfgpool_config_params(old, 0);
	reload_ok(h, 2, 0, 2);
	reload_ok(h, 3, 0, 3);
	/* A nested section sees the new snapshot; the outer one keeps the old alive. */
	cur = cfgpool_holder_read_begin(h);
	assert_ptr_not_equal(cur, old);
	assert_int_equal(cfgpool_config_version(cur), 3);
	cfgpool_holder_read_end(h);
	assert_int_equal(cfgpool_config_version(old), 1);
	assert_int_equal(cfgpool_get_int(cfgpool_config_root(old), "a", &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(atomic_load(&b->magic), BLOCK_LIVE);
	assert_int_equal(b->a, 1);
	cfgpool_holder_read_end(h);
	cfgpool_holder_barrier(h);
	assert_int_equal(released(), 2);
	destroy_and_check_every_block_freed(h);
}

static void read_sections_nest_and_see_the_same_snapshot(void **state)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *outer, *inner;

	reload_ok(h, 1, 0, 1);
	outer = cfgpool_holder_read_begin(h);
	inner = cfgpool_holder_read_begin(h);
	assert_non_null(outer);
	assert_ptr_equal(inner, outer);
	cfgpool_holder_read_end(h);
	assert_int_equal(cfgpool_config_version(outer), 1);
	cfgpool_holder_read_end(h);
	destroy_and_check_every_block_freed(h);
}

static void sync_reload_inside_a_read_section_is_ebusy(void **state)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *snap;
	cfgpool_error_t err;
	uint64_t prep0;
	int rc;

	reload_ok(h, 1, 0, 1);
	prep0 = prepared();
	snap = cfgpool_holder_read_begin(h);
	cfgpool_error_init(&err);
	rc = cfgpool_holder_reload_string(h, "{\"a\": 2}", 8, CFGPOOL_RELOAD_SYNC, NULL, &err);
	cfgpool_holder_read_end(h);
	assert_int_equal(rc, -EBUSY);
	/* Refused before loading anything. */
	assert_int_equal(prepared(), prep0);
	assert_int_equal(cfgpool_holder_version(h), 1);
	assert_int_equal(cfgpool_config_version(snap), 1);
	/* Outside the section the same call works. */
	reload_ok(h, 2, CFGPOOL_RELOAD_SYNC, 2);
	destroy_and_check_every_block_freed(h);
}

static void sync_publish_inside_a_read_section_is_ebusy(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_config_t *cfg = load_for_holder("{\"a\": 2}");
	int rc;

	reload_ok(h, 1, 0, 1);
	(void)cfgpool_holder_read_begin(h);
	rc = cfgpool_holder_publish(h, cfg, CFGPOOL_RELOAD_SYNC, NULL);
	cfgpool_holder_read_end(h);
	assert_int_equal(rc, -EBUSY);
	assert_int_equal(cfgpool_holder_version(h), 1);
	/* Still the caller's. */
	assert_int_equal(cfgpool_holder_publish(h, cfg, CFGPOOL_RELOAD_SYNC, NULL), 0);
	assert_int_equal(cfgpool_holder_version(h), 2);
	destroy_and_check_every_block_freed(h);
}

struct slow_reader {
	cfgpool_holder_t *h;
	atomic_int entered;
	atomic_int left;
	const cfgpool_config_t *seen;
	int64_t a;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *slow_reader_main(void *arg)
{
	struct slow_reader *r = arg;

	r->seen = cfgpool_holder_read_begin(r->h);
	atomic_store(&r->entered, 1);
	sleep_ms(200);
	/* Still valid: the reload waiting on us cannot have freed it. */
	if (cfgpool_get_int(cfgpool_config_root(r->seen), "a", &r->a) != 0)
		r->a = -1;
	atomic_store(&r->left, 1);
	cfgpool_holder_read_end(r->h);
	return NULL;
}

static void sync_reload_waits_for_a_reader_on_another_thread(void **state)
{
	cfgpool_holder_t *h = new_holder();
	struct slow_reader r = {.h = h};
	pthread_t t;

	alarm(test_timeout_seconds(30));
	reload_ok(h, 1, 0, 1);
	assert_int_equal(pthread_create(&t, NULL, slow_reader_main, &r), 0);
	while (!atomic_load(&r.entered))
		sched_yield();
	reload_ok(h, 2, CFGPOOL_RELOAD_SYNC, 2);
	/* The reload could only return after the reader left its section. */
	assert_int_equal(atomic_load(&r.left), 1);
	assert_int_equal(released(), 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.a, 1);
	alarm(0);
	destroy_and_check_every_block_freed(h);
}

/* --- stats, options, lifetime ------------------------------------------------------------ */

static void stats_count_published_failed_retired_freed_and_size(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_holder_stats_t st;
	const cfgpool_config_t *snap;
	cfgpool_error_t err;

	reload_ok(h, 1, 0, 1);
	reload_ok(h, 2, 0, 2);
	cfgpool_error_init(&err);
	assert_int_equal(fail_syntax(h, &err), CFGPOOL_ESYNTAX);
	reload_ok(h, 3, 0, 3);
	cfgpool_error_init(&err);
	assert_int_equal(fail_preparer(h, &err), -ERANGE);
	cfgpool_holder_barrier(h);
	cfgpool_holder_stats(h, &st);
	assert_int_equal(st.published, 3);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.retired, 2);
	assert_int_equal(st.freed, 2);
	snap = cfgpool_holder_read_begin(h);
	assert_int_equal(st.current_size, cfgpool_config_size(snap));
	cfgpool_holder_read_end(h);
	assert_true(st.current_size > 0);
	destroy_and_check_every_block_freed(h);
}

static void holder_copies_its_options(void **state)
{
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 1};
	cfgpool_holder_t *h = NULL;
	const cfgpool_config_t *snap;

	assert_int_equal(cfgpool_holder_create(&opts, &h), 0);
	memset(&opts, 0, sizeof(opts));
	reload_ok(h, 6, 0, 1);
	snap = cfgpool_holder_read_begin(h);
	assert_non_null(cfgpool_config_params(snap, 0));
	cfgpool_holder_read_end(h);
	assert_int_equal(prepared(), 1);
	destroy_and_check_every_block_freed(h);
}

static void holder_without_options_has_no_params(void **state)
{
	cfgpool_holder_t *h = NULL;
	const cfgpool_config_t *snap;
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(cfgpool_holder_create(NULL, &h), 0);
	reload_ok(h, 8, 0, 1);
	snap = cfgpool_holder_read_begin(h);
	assert_null(cfgpool_config_params(snap, 0));
	cfgpool_holder_read_end(h);
	/* A config loaded without preparers matches a holder without them. */
	assert_int_equal(load_str("{\"a\": 9}", &cfg, &err), 0);
	assert_int_equal(cfgpool_holder_publish(h, cfg, 0, NULL), 0);
	assert_int_equal(current_a(h), 9);
	assert_int_equal(prepared(), 0);
	cfgpool_holder_destroy(h);
}

static void destroy_frees_the_current_snapshot(void **state)
{
	cfgpool_holder_t *h = new_holder();

	reload_ok(h, 1, 0, 1);
	reload_ok(h, 2, 0, 2);
	cfgpool_holder_destroy(h);
	assert_int_equal(prepared(), 2);
	assert_int_equal(released(), 2);
}

static void destroy_of_null_is_a_noop(void **state)
{
	cfgpool_holder_destroy(NULL);
	assert_int_equal(released(), 0);
}

/* --- reloads under fire ------------------------------------------------------------------ */

struct fire {
	cfgpool_holder_t *h;
	bool explicit_register;
	bool a_is_version; /* single writer: "a" must equal the snapshot's version */
	atomic_bool stop;
	atomic_int ready;
	atomic_uint_fast64_t errors;
	atomic_flag reported;
	char first_error[256];
};

struct reader {
	struct fire *f;
	pthread_t thread;
	atomic_uint_fast64_t reads; /* snapshots checked; read by the main thread too */
	uint64_t last_version;
};

/* Records the first failure's description; later ones only count. */
static void fire_error(struct fire *f, const char *fmt, ...) CFGPOOL_PRINTF(2, 3);

static void fire_error(struct fire *f, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&f->errors, 1);
	if (atomic_flag_test_and_set(&f->reported))
		return;
	va_start(ap, fmt);
	vsnprintf(f->first_error, sizeof(f->first_error), fmt, ap);
	va_end(ap);
}

/* Long enough that a writer can swap the snapshot between the two reads. */
static void spin(void)
{
	for (volatile int i = 0; i < 200; i++)
		;
}

static void read_one_snapshot(struct reader *r)
{
	struct fire *f = r->f;
	const cfgpool_config_t *snap = cfgpool_holder_read_begin(f->h);
	const cfgpool_node_t *root;
	const struct block *blk;
	const char *pad = NULL;
	size_t pad_len = 0;
	int64_t a = -1, b = -2;
	uint64_t v;

	if (!snap) {
		cfgpool_holder_read_end(f->h);
		return;
	}
	v = cfgpool_config_version(snap);
	root = cfgpool_config_root(snap);
	if (cfgpool_get_int(root, "a", &a) != 0)
		fire_error(f, "version %llu: no a", (unsigned long long)v);
	spin();
	if (cfgpool_get_int(root, "b", &b) != 0)
		fire_error(f, "version %llu: no b", (unsigned long long)v);
	if (a != b)
		fire_error(f, "version %llu: a %lld != b %lld", (unsigned long long)v, (long long)a, (long long)b);
	if (f->a_is_version && (uint64_t)a != v)
		fire_error(f, "version %llu holds a = %lld", (unsigned long long)v, (long long)a);
	if (v < r->last_version)
		fire_error(f, "version went back from %llu to %llu", (unsigned long long)r->last_version,
			   (unsigned long long)v);
	if (cfgpool_get_string(root, "pad", &pad, &pad_len) != 0 || pad_len != (size_t)(a % 97) + 64 || pad[0] != 'p' ||
	    pad[pad_len - 1] != 'd')
		fire_error(f, "version %llu: pad damaged", (unsigned long long)v);
	blk = cfgpool_config_params(snap, 0);
	if (!blk || atomic_load_explicit(&blk->magic, memory_order_relaxed) != BLOCK_LIVE || blk->a != a)
		fire_error(f, "version %llu: parameter block freed or wrong", (unsigned long long)v);
	/* A second look at the version after the spin: the snapshot must not have changed. */
	if (cfgpool_config_version(snap) != v)
		fire_error(f, "snapshot version changed under a reader");
	r->last_version = v;
	atomic_fetch_add_explicit(&r->reads, 1, memory_order_relaxed);
	cfgpool_holder_read_end(f->h);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct fire *f = r->f;

	if (f->explicit_register && cfgpool_reader_register() != 0)
		fire_error(f, "cfgpool_reader_register failed");
	atomic_fetch_add(&f->ready, 1);
	while (!atomic_load_explicit(&f->stop, memory_order_relaxed))
		read_one_snapshot(r);
	if (f->explicit_register)
		cfgpool_reader_unregister();
	return NULL;
}

/* {"a": a, "b": a, "pad": "p...d"}, the pad's length varying so snapshots differ in size. */
static size_t fire_doc(char *buf, size_t size, int64_t a)
{
	size_t pad = (size_t)(a % 97) + 64;
	int n = snprintf(buf, size, "{\"a\": %lld, \"b\": %lld, \"pad\": \"p", (long long)a, (long long)a);

	assert_true(n > 0 && (size_t)n + pad + 8 < size);
	memset(buf + n, 'x', pad - 2);
	n += (int)pad - 2;
	n += snprintf(buf + n, size - (size_t)n, "d\"}");
	return (size_t)n;
}

static void start_readers(struct fire *f, struct reader *readers, int n)
{
	for (int i = 0; i < n; i++) {
		readers[i].f = f;
		atomic_init(&readers[i].reads, 0);
		readers[i].last_version = 0;
		assert_int_equal(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]), 0);
	}
	while (atomic_load(&f->ready) < n)
		sched_yield();
}

static void stop_readers(struct fire *f, struct reader *readers, int n)
{
	atomic_store(&f->stop, true);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_join(readers[i].thread, NULL), 0);
}

static void check_fire(struct fire *f, struct reader *readers, int n)
{
	uint64_t errors = atomic_load(&f->errors);

	if (errors)
		print_error("%llu errors under fire; first: %s\n", (unsigned long long)errors, f->first_error);
	assert_int_equal(errors, 0);
	for (int i = 0; i < n; i++)
		assert_true(atomic_load(&readers[i].reads) > 0);
}

/*
 * Waits until every reader has checked at least one snapshot, so the reloads that follow
 * really overlap with reads even where threads start slowly (valgrind runs one at a time).
 */
static void wait_for_first_reads(struct reader *readers, int n)
{
	for (int i = 0; i < n; i++)
		while (atomic_load_explicit(&readers[i].reads, memory_order_relaxed) == 0)
			sched_yield();
}

#define NREADERS 4

static void reload_under_fire(bool explicit_register, unsigned flags, size_t n)
{
	struct fire f = {.explicit_register = explicit_register, .a_is_version = true, .reported = ATOMIC_FLAG_INIT};
	struct reader readers[NREADERS];
	cfgpool_holder_stats_t st;
	uint64_t total_reads = 0;
	char doc[256];
	double t0, t1;
	struct timespec ts;

	alarm(test_timeout_seconds(60));
	f.h = new_holder();
	start_readers(&f, readers, NREADERS);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

	/* One writer, so the k-th successful reload must be version k. */
	for (size_t k = 1; k <= n; k++) {
		size_t len = fire_doc(doc, sizeof(doc), (int64_t)k);
		uint64_t version = 0;
		cfgpool_error_t err;
		int rc;

		/* Version 1 is out: let every reader see it before the flood. */
		if (k == 2)
			wait_for_first_reads(readers, NREADERS);
		cfgpool_error_init(&err);
		rc = cfgpool_holder_reload_string(f.h, doc, len, flags, &version, &err);
		if (rc != 0)
			fire_error(&f, "reload %zu: %s %s", k, cfgpool_err_name(rc), err.text);
		else if (version != k || cfgpool_holder_version(f.h) != k)
			fire_error(&f, "reload %zu got version %llu", k, (unsigned long long)version);
		/* A synchronous reload has freed every snapshot before the current one. */
		if ((flags & CFGPOOL_RELOAD_SYNC) && released() != k - 1)
			fire_error(&f, "after sync reload %zu, %llu released", k, (unsigned long long)released());
	}
	stop_readers(&f, readers, NREADERS);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	for (int i = 0; i < NREADERS; i++)
		total_reads += atomic_load(&readers[i].reads);
	print_message("# %zu %sreloads, %d %sreaders: %llu reads in %.2f s\n", n,
		      flags & CFGPOOL_RELOAD_SYNC ? "sync " : "", NREADERS, explicit_register ? "registered " : "",
		      (unsigned long long)total_reads, t1 - t0);
	check_fire(&f, readers, NREADERS);

	cfgpool_holder_barrier(f.h);
	cfgpool_holder_stats(f.h, &st);
	assert_int_equal(st.published, n);
	assert_int_equal(st.retired, n - 1);
	assert_int_equal(st.freed, n - 1);
	assert_int_equal(prepared(), n);
	assert_int_equal(released(), n - 1);
	destroy_and_check_every_block_freed(f.h);
	alarm(0);
}

static void reload_under_fire_with_implicitly_registered_readers(void **state)
{
	reload_under_fire(false, 0, test_scaled(5000, 50));
}

static void reload_under_fire_with_explicitly_registered_readers(void **state)
{
	reload_under_fire(true, 0, test_scaled(5000, 50));
}

static void sync_reload_under_fire_frees_each_old_snapshot(void **state)
{
	reload_under_fire(false, CFGPOOL_RELOAD_SYNC, test_scaled(100, 10));
}

struct writer {
	struct fire *f;
	pthread_t thread;
	int id;
	size_t n;
	uint64_t *versions;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char doc[256];

	for (size_t i = 0; i < w->n; i++) {
		/* Distinct values per writer and iteration; readers check a == b only. */
		size_t len = fire_doc(doc, sizeof(doc), (int64_t)w->id * 1000000 + (int64_t)i);
		cfgpool_error_t err;
		int rc;

		cfgpool_error_init(&err);
		rc = cfgpool_holder_reload_string(w->f->h, doc, len, 0, &w->versions[i], &err);
		if (rc != 0)
			fire_error(w->f, "writer %d reload %zu: %s %s", w->id, i, cfgpool_err_name(rc), err.text);
		else if (i > 0 && w->versions[i] <= w->versions[i - 1])
			fire_error(w->f, "writer %d: version %llu after %llu", w->id,
				   (unsigned long long)w->versions[i], (unsigned long long)w->versions[i - 1]);
	}
	return NULL;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void concurrent_writers_get_distinct_consecutive_versions(void **state)
{
	const size_t n = test_scaled(2000, 50);
	struct fire f = {.reported = ATOMIC_FLAG_INIT};
	struct reader readers[2];
	struct writer writers[2];
	uint64_t *all = calloc(2 * n, sizeof(*all));
	const uint64_t initial = 1;
	char doc[256];
	size_t len;

	assert_non_null(all);
	alarm(test_timeout_seconds(60));
	f.h = new_holder();
	len = fire_doc(doc, sizeof(doc), 0);
	assert_int_equal(cfgpool_holder_reload_string(f.h, doc, len, 0, NULL, NULL), 0);
	assert_int_equal(cfgpool_holder_version(f.h), initial);
	start_readers(&f, readers, 2);
	wait_for_first_reads(readers, 2);
	for (int i = 0; i < 2; i++) {
		writers[i] = (struct writer){.f = &f, .id = i + 1, .n = n, .versions = all + (size_t)i * n};
		assert_int_equal(pthread_create(&writers[i].thread, NULL, writer_main, &writers[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(writers[i].thread, NULL), 0);
	stop_readers(&f, readers, 2);
	check_fire(&f, readers, 2);

	assert_int_equal(cfgpool_holder_version(f.h), initial + 2 * n);
	qsort(all, 2 * n, sizeof(*all), compare_u64);
	for (size_t i = 0; i < 2 * n; i++) {
		if (all[i] != initial + 1 + i)
			print_error("sorted version %zu is %llu\n", i, (unsigned long long)all[i]);
		assert_int_equal(all[i], initial + 1 + i);
	}
	free(all);
	assert_int_equal(prepared(), 2 * n + 1);
	destroy_and_check_every_block_freed(f.h);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(new_holder_has_no_snapshot_and_version_zero, fresh_counts),
	    cmocka_unit_test_setup(first_reload_publishes_version_one, fresh_counts),
	    cmocka_unit_test_setup(versions_increase_by_one_per_reload, fresh_counts),
	    cmocka_unit_test_setup(reload_with_null_version_pointer_still_publishes, fresh_counts),
	    cmocka_unit_test_setup(reload_file_publishes_the_file, fresh_counts),
	    cmocka_unit_test_setup(publish_takes_a_loaded_config_as_the_next_version, fresh_counts),
	    cmocka_unit_test_setup(publish_into_an_empty_holder_is_version_one, fresh_counts),
	    cmocka_unit_test_setup(publish_of_a_config_with_other_preparers_is_einval, fresh_counts),
	    cmocka_unit_test_setup(publish_twice_is_ebusy, fresh_counts),
	    cmocka_unit_test_setup(failed_reload_syntax_error_keeps_the_snapshot, fresh_counts),
	    cmocka_unit_test_setup(failed_reload_schema_error_keeps_the_snapshot, fresh_counts),
	    cmocka_unit_test_setup(failed_reload_failing_preparer_keeps_the_snapshot, fresh_counts),
	    cmocka_unit_test_setup(failed_reload_missing_file_keeps_the_snapshot, fresh_counts),
	    cmocka_unit_test_setup(failed_sync_reload_keeps_the_snapshot, fresh_counts),
	    cmocka_unit_test_setup(failed_reload_before_any_publish_leaves_the_holder_empty, fresh_counts),
	    cmocka_unit_test_setup(sync_reload_frees_the_old_snapshot_before_returning, fresh_counts),
	    cmocka_unit_test_setup(async_reload_frees_the_old_snapshot_by_the_barrier, fresh_counts),
	    cmocka_unit_test_setup(retired_snapshot_lives_until_the_read_section_ends, fresh_counts),
	    cmocka_unit_test_setup(read_sections_nest_and_see_the_same_snapshot, fresh_counts),
	    cmocka_unit_test_setup(sync_reload_inside_a_read_section_is_ebusy, fresh_counts),
	    cmocka_unit_test_setup(sync_publish_inside_a_read_section_is_ebusy, fresh_counts),
	    cmocka_unit_test_setup(sync_reload_waits_for_a_reader_on_another_thread, fresh_counts),
	    cmocka_unit_test_setup(stats_count_published_failed_retired_freed_and_size, fresh_counts),
	    cmocka_unit_test_setup(holder_copies_its_options, fresh_counts),
	    cmocka_unit_test_setup(holder_without_options_has_no_params, fresh_counts),
	    cmocka_unit_test_setup(destroy_frees_the_current_snapshot, fresh_counts),
	    cmocka_unit_test_setup(destroy_of_null_is_a_noop, fresh_counts),
	    cmocka_unit_test_setup(reload_under_fire_with_implicitly_registered_readers, fresh_counts),
	    cmocka_unit_test_setup(reload_under_fire_with_explicitly_registered_readers, fresh_counts),
	    cmocka_unit_test_setup(sync_reload_under_fire_frees_each_old_snapshot, fresh_counts),
	    cmocka_unit_test_setup(concurrent_writers_get_distinct_consecutive_versions, fresh_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
