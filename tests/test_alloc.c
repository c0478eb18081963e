/*
 * Allocation failure: every allocation a load, a reload, a pool's open or its close makes
 * is made to fail in turn. A load, reload or open must then return -ENOMEM (an open may
 * also say -EAGAIN, when the thread it could not make needed the memory) with the error
 * struct saying so, and leak nothing (the whole suite runs under valgrind in `make
 * check-valgrind`); a reload must leave the published configuration current and intact;
 * an open must leave no thread behind and every kernel call undone; a close must still
 * close. Submit and map on a warmed-up pool must not allocate at all, on any thread.
 *
 * The program interposes malloc, calloc, realloc, aligned_alloc and free (an executable's
 * definitions take precedence over libc's for the whole process, libcfgpool and jansson
 * included) and fails the N-th allocation after arming, for N = 1, 2, ... until the call
 * succeeds without reaching N.
 */
#include <cfgpool/cfgpool.h>
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "probe.h"

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t alignment, size_t size);
void __libc_free(void *p);

/* Allocations left before the failing one, on the arming thread only; -1: disarmed. */
static _Thread_local long countdown = -1;
static _Thread_local bool failed_once;
/* While set, every thread's allocations are counted. */
static atomic_bool counting;
static atomic_ulong counted;

/* ThreadSanitizer's runtime allocates before this program's thread-local storage exists
 * and cannot share the process with another malloc, and AddressSanitizer's hands out
 * blocks (posix_memalign, its own interceptors) that libc's free cannot take back: under
 * either the sweeps are not run (the plain build and valgrind run them). */
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
static bool should_fail(void)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed);
	if (countdown < 0)
		return false;
	if (countdown-- == 0) {
		failed_once = true;
		return true;
	}
	return false;
}

void *malloc(size_t size)
{
	return should_fail() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	return should_fail() ? NULL : __libc_realloc(p, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
	return should_fail() ? NULL : __libc_memalign(alignment, size);
}

/* Every block comes from libc here, so it goes back to libc (not to a sanitizer's free). */
void free(void *p)
{
	__libc_free(p);
}
#endif

static void arm(long n)
{
	failed_once = false;
	countdown = n;
}

static void disarm(void)
{
	countdown = -1;
}

/* False under valgrind, which replaces the allocator wherever it is defined. */
static bool injection_works(void)
{
	/* Through a volatile pointer, so the compiler cannot fold malloc's result. */
	void *(*volatile alloc)(size_t) = malloc;
	void *p;

	arm(0);
	p = alloc(16);
	disarm();
	free(p);
	if (p != NULL)
		print_message("# allocation failures cannot be injected here (ASan, TSan): sweep not run\n");
	return p == NULL;
}

static const char doc[] = "{\"version\": 1, \"disable_existing_loggers\": false, \"loggers\": "
			  "{\"\": {\"level\": \"INFO\"}, \"another.module\": {\"level\": \"DEBUG\"}}, "
			  "\"pool\": {\"workers\": 2, \"cpus\": [0]}, \"big\": {\"a\": 1, \"b\": 2, \"c\": 3, "
			  "\"d\": 4, \"e\": 5, \"f\": 6, \"g\": 7, \"h\": 8, \"i\": 9, \"j\": [1, 2.5, \"x\"]}}";

/* A preparer that allocates, so its failure path is swept too. */
static int prep_copy_level(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg)
{
	const char *level;
	size_t len;

	(void)arg;
	if (cfgpool_get_string(root, "loggers[\"another.module\"].level", &level, &len) != 0)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "loggers", "no level");
	*params = malloc(len + 1);
	if (*params == NULL)
		return cfgpool_error_set(err, -ENOMEM, NULL, "out of memory copying the level");
	memcpy(*params, level, len + 1);
	return 0;
}

static void prep_free(void *params, void *arg)
{
	(void)arg;
	free(params);
}

static const cfgpool_prep_t prep = {"level", prep_copy_level, prep_free, NULL};
static const cfgpool_load_opts_t opts = {.preps = &prep, .nprep = 1};

static void load_fails_cleanly_at_every_allocation(void **state)
{
	long n;

	(void)state;
	if (!injection_works())
		return;
	for (n = 0;; n++) {
		cfgpool_config_t *cfg = NULL;
		cfgpool_error_t err;
		int rc;

		cfgpool_error_init(&err);
		arm(n);
		rc = cfgpool_config_load_string(doc, sizeof(doc) - 1, &opts, &cfg, &err);
		disarm();
		if (!failed_once) {
			/* Got through without reaching the N-th allocation: every one was swept. */
			assert_int_equal(rc, 0);
			assert_string_equal(cfgpool_config_params(cfg, 0), "DEBUG");
			cfgpool_config_free(cfg);
			break;
		}
		if (rc == 0) {
			/* The failed allocation was one a callee may retry or do without. */
			cfgpool_config_free(cfg);
			continue;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(err.code, -ENOMEM);
		assert_true(err.text[0] != '\0');
		assert_null(cfg);
	}
	print_message("# load: %ld allocations, each failed once\n", n);
	assert_true(n > 3);
}

/*
 * jansson's lexer drops a byte it cannot append to its token buffer and goes on, so a parse
 * during which an allocation failed can succeed with a wrong value. Tokens longer than the
 * buffer's first 16 bytes make it grow mid-token: each load must fail with -ENOMEM or give
 * back exactly what the text says.
 */
static void a_load_that_ran_out_never_returns_wrong_values(void **state)
{
	static const char text[] = "{\"n\": 1234567890123456789, \"r\": 0.12345678901234567890123, "
				   "\"a long key of more than sixteen bytes\": \"and a value longer than sixteen\"}";
	long n;

	(void)state;
	if (!injection_works())
		return;
	for (n = 0;; n++) {
		const cfgpool_node_t *root;
		cfgpool_config_t *cfg = NULL;
		cfgpool_error_t err;
		const char *s = NULL;
		int64_t i = 0;
		double r = 0;
		int rc;

		cfgpool_error_init(&err);
		arm(n);
		rc = cfgpool_config_load_string(text, sizeof(text) - 1, NULL, &cfg, &err);
		disarm();
		if (rc != 0) {
			assert_int_equal(rc, -ENOMEM);
			continue;
		}
		root = cfgpool_config_root(cfg);
		assert_int_equal(cfgpool_get_int(root, "n", &i), 0);
		assert_int_equal(i, 1234567890123456789);
		assert_int_equal(cfgpool_get_double(root, "r", &r), 0);
		assert_true(r == 0.12345678901234567890123);
		assert_int_equal(cfgpool_get_string(root, "[\"a long key of more than sixteen bytes\"]", &s, NULL), 0);
		assert_string_equal(s, "and a value longer than sixteen");
		cfgpool_config_free(cfg);
		if (!failed_once)
			break;
	}
	print_message("# ran-out load: %ld allocations, each failed once\n", n);
}

/* A host's own jansson allocator: counts its calls, allocates from libc. */
static size_t host_allocations;

static size_t host_fail_at = SIZE_MAX; /* the allocation number that fails */

static void *host_malloc(size_t size)
{
	return ++host_allocations == host_fail_at ? NULL : malloc(size);
}

static void host_free(void *p)
{
	free(p);
}

/*
 * A host that installs its jansson allocator before its first load (as jansson asks, before
 * any other jansson call) keeps it: loads allocate through it and never swap it out. Runs
 * first, so no load of this process has happened yet.
 */
static void a_host_allocator_set_before_the_first_load_is_used_and_kept(void **state)
{
	json_malloc_t libc_malloc, m;
	json_free_t libc_free, f;
	cfgpool_config_t *cfg = NULL;

	(void)state;
	json_get_alloc_funcs(&libc_malloc, &libc_free);
	json_set_alloc_funcs(host_malloc, host_free);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cfgpool_config_load_string(doc, sizeof(doc) - 1, &opts, &cfg, NULL), 0);
		cfgpool_config_free(cfg);
	}
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, host_malloc);
	assert_ptr_equal(f, host_free);
	assert_true(host_allocations > 0);
	print_message("# host allocator: %zu allocations in two loads\n", host_allocations);

	/* The parser's first allocation failing leaves jansson's message empty: still -ENOMEM. */
	host_fail_at = host_allocations + 1;
	assert_int_equal(cfgpool_config_load_string(doc, sizeof(doc) - 1, &opts, &cfg, NULL), -ENOMEM);
	host_fail_at = SIZE_MAX;
	json_set_alloc_funcs(libc_malloc, libc_free);
}

static void failed_reload_keeps_the_published_config(void **state)
{
	cfgpool_holder_t *h;
	const cfgpool_config_t *snap;
	const char *level;
	uint64_t version;
	long n;

	(void)state;
	if (!injection_works())
		return;
	assert_int_equal(cfgpool_holder_create(&opts, &h), 0);
	assert_int_equal(cfgpool_holder_reload_string(h, doc, sizeof(doc) - 1, 0, NULL, NULL), 0);
	/* One retirement first: liburcu starts its call_rcu thread on the first one and treats
	 * an allocation failure there as fatal, which is not what this test is about. */
	assert_int_equal(cfgpool_holder_reload_string(h, doc, sizeof(doc) - 1, CFGPOOL_RELOAD_SYNC, NULL, NULL), 0);
	assert_int_equal(cfgpool_holder_reload_string(h, doc, sizeof(doc) - 1, 0, NULL, NULL), 0);
	cfgpool_holder_barrier(h);
	version = cfgpool_holder_version(h);

	for (n = 0;; n++) {
		cfgpool_error_t err;
		uint64_t got = 0;
		int rc;

		cfgpool_error_init(&err);
		arm(n);
		rc = cfgpool_holder_reload_string(h, doc, sizeof(doc) - 1, CFGPOOL_RELOAD_SYNC, &got, &err);
		disarm();
		if (rc == 0) {
			assert_int_equal(got, version + 1);
			version = got;
			if (!failed_once)
				break;
			continue;
		}
		assert_int_equal(rc, -ENOMEM);
		/* Nothing changed: same version, same contents, still readable. */
		assert_int_equal(cfgpool_holder_version(h), version);
		snap = cfgpool_holder_read_begin(h);
		assert_non_null(snap);
		assert_int_equal(cfgpool_config_version(snap), version);
		assert_int_equal(cfgpool_get_string(cfgpool_config_root(snap), "loggers[\"another.module\"].level",
						    &level, NULL),
				 0);
		assert_string_equal(level, "DEBUG");
		assert_string_equal(cfgpool_config_params(snap, 0), "DEBUG");
		cfgpool_holder_read_end(h);
	}
	print_message("# reload: %ld allocations, each failed once\n", n);
	assert_true(n > 3);
	cfgpool_holder_destroy(h);
}

/* --- pools: open, submit and map, close ------------------------------------------------------- */

static const char probe_doc[] = "{\"kernel\": {\"name\": \"probe\", \"salt\": 1}, "
				"\"pool\": {\"workers\": 2, \"pin\": false}}";

/* Opens a pool of the probe kernel from `path`, or from probe_doc when `path` is NULL. */
static int open_probe(const char *path, cfgpool_pool_t **pool, cfgpool_error_t *err)
{
	cfgpool_error_init(err);
	if (path != NULL)
		return cfgpool_pool_open_file(path, &probe_kernel, NULL, pool, err);
	return cfgpool_pool_open_string(probe_doc, sizeof(probe_doc) - 1, &probe_kernel, NULL, pool, err);
}

static cfgpool_pool_t *open_probe_ok(void)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;

	assert_int_equal(open_probe(NULL, &pool, &err), 0);
	return pool;
}

/* Runs n probe tasks through map and checks every output. */
static void map_probe(cfgpool_pool_t *pool, size_t n, uint64_t spin)
{
	struct probe_input in[32];
	struct probe_output out[32];
	cfgpool_result_t res[32];

	assert_true(n <= 32);
	for (size_t i = 0; i < n; i++)
		in[i] = (struct probe_input){.id = i, .x = 100 + i, .spin = spin};
	assert_int_equal(cfgpool_pool_map(pool, in, 0, out, 0, n, res, 0), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].status, 0);
		assert_int_equal(out[i].id, i);
		assert_int_equal(out[i].value, probe_expected(out[i].version, 100 + i));
	}
}

/* Nothing of a pool is left: no thread, every block released, every worker state freed. */
static void assert_nothing_left(unsigned threads)
{
	assert_int_equal(settled_thread_count(threads), threads);
	assert_int_equal(atomic_load(&probe_counts.prepared), atomic_load(&probe_counts.released));
	assert_int_equal(atomic_load(&probe_counts.inits), atomic_load(&probe_counts.finis));
	assert_int_equal(atomic_load(&probe_counts.bad_release) + atomic_load(&probe_counts.bad_fini), 0);
}

/*
 * One open and close first, so that what fails is the open's own allocations, not this
 * thread's one-time set-up (liburcu's reader registration, the C library's buffers).
 * Returns the thread count of the process without a pool.
 */
static unsigned warm_up(void)
{
	cfgpool_pool_t *pool = open_probe_ok();

	map_probe(pool, 4, 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	return settled_thread_count(thread_count());
}

static void sweep_open(const char *path, const char *what)
{
	unsigned base = warm_up();
	long n;

	for (n = 0;; n++) {
		cfgpool_pool_t *pool = NULL;
		cfgpool_error_t err;
		int rc;

		arm(n);
		rc = open_probe(path, &pool, &err);
		disarm();
		if (rc == 0) {
			/* Through, or past a failure the open could do without: the pool works. */
			map_probe(pool, 4, 0);
			assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
			assert_nothing_left(base);
			if (!failed_once)
				break;
			continue;
		}
		if (rc != -ENOMEM && rc != -EAGAIN)
			print_error("allocation %ld: %s: %s\n", n, cfgpool_err_name(rc), err.text);
		assert_true(rc == -ENOMEM || rc == -EAGAIN);
		assert_int_equal(err.code, rc);
		assert_true(err.text[0] != '\0');
		assert_null(pool);
		assert_nothing_left(base);
	}
	print_message("# %s: %ld allocations, each failed once\n", what, n);
	assert_true(n > 10);
}

static void pool_open_string_fails_cleanly_at_every_allocation(void **state)
{
	(void)state;
	if (!injection_works())
		return;
	sweep_open(NULL, "open_string");
}

static void pool_open_file_fails_cleanly_at_every_allocation(void **state)
{
	char path[PATH_MAX];

	(void)state;
	if (!injection_works())
		return;
	write_temp_file(probe_doc, sizeof(probe_doc) - 1, path, sizeof(path));
	sweep_open(path, "open_file");
	unlink(path);
}

static atomic_ulong callbacks, bad_callbacks;

static void on_done(void *arg, void *output, const cfgpool_result_t *result)
{
	const struct probe_output *out = output;

	(void)arg;
	if (result->status != 0 || out->value != probe_expected(out->version, 100 + out->id))
		atomic_fetch_add(&bad_callbacks, 1);
	atomic_fetch_add(&callbacks, 1);
}

/* Submits n tasks with callbacks and waits for them, without allocating (no nanosleep). */
static void submit_probe(cfgpool_pool_t *pool, struct probe_input *in, struct probe_output *out, size_t n,
			 uint64_t spin)
{
	unsigned long target = atomic_load(&callbacks) + n;

	for (size_t i = 0; i < n; i++) {
		in[i] = (struct probe_input){.id = i, .x = 100 + i, .spin = spin};
		assert_int_equal(cfgpool_pool_submit(pool, &in[i], &out[i], on_done, NULL, 0), 0);
	}
	while (atomic_load(&callbacks) < target)
		sched_yield();
}

/*
 * Invariant 5: no allocation on the per-task hot path. Once the pool and this thread's
 * caller slot are warmed up, submits and maps (run inline, on the workers, or helped)
 * allocate nothing on any thread: every allocation in the process is counted, and the
 * first one on this thread would fail.
 */
static void submit_and_map_allocate_nothing(void **state)
{
	const size_t rounds = test_scaled(200, 20);
	struct probe_input in[32];
	struct probe_output out[32];
	cfgpool_pool_t *pool;
	unsigned long allocations;

	(void)state;
	if (!injection_works())
		return;
	pool = open_probe_ok();
	map_probe(pool, 8, 0);
	map_probe(pool, 32, 20000);
	submit_probe(pool, in, out, 32, 0);

	atomic_store(&counted, 0);
	atomic_store(&counting, true);
	arm(0);
	for (size_t r = 0; r < rounds; r++) {
		map_probe(pool, 8, 0);
		map_probe(pool, 32, r % 4 == 0 ? 20000 : 0);
		submit_probe(pool, in, out, 32, r % 4 == 1 ? 20000 : 0);
	}
	disarm();
	atomic_store(&counting, false);
	allocations = atomic_load(&counted);
	print_message("# submit/map: %lu allocations in %zu tasks\n", allocations, rounds * 72);
	assert_false(failed_once);
	assert_int_equal(allocations, 0);
	assert_int_equal(atomic_load(&bad_callbacks), 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
}

/*
 * Close returns 0 and frees everything whichever of its allocations fails, draining or
 * cancelling, with this thread's caller state and queued work to finish.
 */
static void close_closes_whatever_allocation_fails(void **state)
{
	struct probe_input in[32];
	struct probe_output out[32];
	unsigned long allocations = 0;
	unsigned base;
	long n;

	(void)state;
	if (!injection_works())
		return;
	base = warm_up();
	for (n = 0;; n++) {
		cfgpool_pool_t *pool = open_probe_ok();

		map_probe(pool, 8, 0);
		for (size_t i = 0; i < 32; i++) {
			in[i] = (struct probe_input){.id = i, .x = 100 + i, .spin = 20000};
			assert_int_equal(cfgpool_pool_submit(pool, &in[i], &out[i], NULL, NULL, 0), 0);
		}
		atomic_store(&counted, 0);
		atomic_store(&counting, true);
		arm(n);
		assert_int_equal(cfgpool_pool_close(pool, n % 2 ? CFGPOOL_CLOSE_CANCEL : CFGPOOL_CLOSE_DRAIN), 0);
		disarm();
		atomic_store(&counting, false);
		if (n == 0)
			allocations = atomic_load(&counted);
		assert_nothing_left(base);
		if (!failed_once)
			break;
	}
	print_message("# close: %ld allocations on the closing thread, %lu on any thread\n", n, allocations);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_host_allocator_set_before_the_first_load_is_used_and_kept),
		cmocka_unit_test(load_fails_cleanly_at_every_allocation),
		cmocka_unit_test(a_load_that_ran_out_never_returns_wrong_values),
		cmocka_unit_test(failed_reload_keeps_the_published_config),
		cmocka_unit_test(pool_open_string_fails_cleanly_at_every_allocation),
		cmocka_unit_test(pool_open_file_fails_cleanly_at_every_allocation),
		cmocka_unit_test(submit_and_map_allocate_nothing),
		cmocka_unit_test(close_closes_whatever_allocation_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
