/*
 * Allocation failure: every allocation a load or a reload makes is made to fail in turn,
 * and each time the call must return -ENOMEM with the error struct saying so, leak
 * nothing (the whole suite runs under valgrind in `make check-valgrind`) and, for a
 * reload, leave the published configuration current and intact.
 *
 * The program interposes malloc, calloc, realloc, aligned_alloc and free (an executable's
 * definitions take precedence over libc's for the whole process, libcfgpool and jansson
 * included) and fails the N-th allocation after arming, for N = 1, 2, ... until the call
 * succeeds without reaching N.
 */
#include <cfgpool/cfgpool.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "helpers.h"

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t alignment, size_t size);
void __libc_free(void *p);

/* Allocations left before the failing one, on the arming thread only; -1: disarmed. */
static _Thread_local long countdown = -1;
static _Thread_local bool failed_once;

/* ThreadSanitizer's runtime allocates before this program's thread-local storage exists
 * and cannot share the process with another malloc: there the sweeps are not run. */
#ifndef __SANITIZE_THREAD__
static bool should_fail(void)
{
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
		print_message("# allocation failures cannot be injected here (valgrind, TSan): sweep not run\n");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_host_allocator_set_before_the_first_load_is_used_and_kept),
		cmocka_unit_test(load_fails_cleanly_at_every_allocation),
		cmocka_unit_test(a_load_that_ran_out_never_returns_wrong_values),
		cmocka_unit_test(failed_reload_keeps_the_published_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
