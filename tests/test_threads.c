/*
 * Thread-creation failure. The program interposes pthread_create (an executable's
 * definition takes precedence over libc's for the whole process, libcfgpool and liburcu
 * included) and fails it with EAGAIN, as a small `ulimit -u` would: every creation while
 * the switch is on, or only the N-th one after arming. Then: creating a holder or opening
 * a pool returns -EAGAIN and leaks nothing; an open whose N-th thread cannot be made, for
 * each N (the holder's reclaim thread, then each worker), returns -EAGAIN naming that
 * thread, leaves no thread behind and every worker it started finalised, and the next open
 * succeeds; and a holder created before the failure reloads asynchronously as often as it
 * likes, since it needs no thread it does not already have (liburcu's call_rcu would
 * create its thread then, and abort the process when it cannot). The reloads run in a
 * child process, so that an abort is seen as the child's death rather than the test
 * program's.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "probe.h"

static atomic_bool fail_threads;
static atomic_uint refused;
/* Creations left before the one that fails; -1: none fails. */
static atomic_long countdown = -1;
static atomic_bool failed_once;

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static bool should_fail(void)
{
	long n = atomic_load(&countdown);

	if (atomic_load(&fail_threads))
		return true;
	while (n >= 0) {
		if (atomic_compare_exchange_weak(&countdown, &n, n - 1)) {
			if (n > 0)
				return false;
			atomic_store(&failed_once, true);
			return true;
		}
	}
	return false;
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static create_fn real;

	if (should_fail()) {
		atomic_fetch_add(&refused, 1);
		return EAGAIN;
	}
	if (real == NULL)
		real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	return real(t, attr, fn, arg);
}

/* Fails the n-th thread creation from now on (n = 0: the next one). */
static void arm(long n)
{
	atomic_store(&failed_once, false);
	atomic_store(&countdown, n);
}

static void disarm(void)
{
	atomic_store(&countdown, -1);
}

static const char doc[] = "{\"kernel\": {\"name\": \"spin\"}, \"pool\": {\"workers\": 1, \"pin\": false}}";

static void holder_create_without_threads_is_eagain(void **state)
{
	cfgpool_holder_t *h = (cfgpool_holder_t *)state; /* untouched on failure */

	atomic_store(&fail_threads, true);
	assert_int_equal(cfgpool_holder_create(NULL, &h), -EAGAIN);
	atomic_store(&fail_threads, false);
	assert_ptr_equal(h, (cfgpool_holder_t *)state);
	assert_true(atomic_load(&refused) > 0);
}

static void pool_open_without_threads_is_eagain(void **state)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;

	(void)state;
	cfgpool_error_init(&err);
	atomic_store(&fail_threads, true);
	assert_int_equal(cfgpool_pool_open_string(doc, strlen(doc), NULL, NULL, &pool, &err), -EAGAIN);
	atomic_store(&fail_threads, false);
	assert_null(pool);
	assert_int_equal(err.code, -EAGAIN);
	assert_contains(err.text, "holder");
}

static const char probe_doc[] = "{\"kernel\": {\"name\": \"probe\", \"salt\": 1}, "
				"\"pool\": {\"workers\": 3, \"pin\": false}}";

/* More workers than CPUs is the point here, not worth a warning per open. */
static void quiet(void *arg, cfgpool_log_level_t level, const char *message)
{
	(void)arg;
	(void)level;
	(void)message;
}

static const cfgpool_pool_opts_t quiet_opts = {.log = quiet};

/*
 * Fails the first, second, ... thread creation of an open in turn, until an open makes
 * every thread it needs. Each failure is -EAGAIN with the error naming the thread (the
 * holder's reclaim thread, or worker k), no thread of it is left running, every worker
 * that did start was finalised, and the configuration was released.
 */
static void pool_open_fails_cleanly_at_every_thread_creation(void **state)
{
	const unsigned workers = 3;
	bool named_holder = false, named_worker[3] = {false, false, false};
	unsigned base;
	long n;

	(void)state;
	{
		/* A pool opened and closed first: a sanitizer's runtime starts a thread of its own
		 * at the first thread creation, which must count in the baseline. */
		cfgpool_pool_t *warm = NULL;

		assert_int_equal(cfgpool_pool_open_string(probe_doc, strlen(probe_doc), &probe_kernel, &quiet_opts,
							  &warm, NULL),
				 0);
		assert_int_equal(cfgpool_pool_close(warm, CFGPOOL_CLOSE_DRAIN), 0);
	}
	/* Its joined threads leave /proc/self/task a moment later: the fewest seen in 200 ms. */
	base = thread_count();
	for (double end = now_s() + 0.2; now_s() < end;) {
		unsigned c = thread_count();

		base = c < base ? c : base;
		usleep(1000);
	}
	for (n = 0;; n++) {
		unsigned long inits = atomic_load(&probe_counts.inits), finis = atomic_load(&probe_counts.finis);
		cfgpool_pool_t *pool = NULL;
		cfgpool_error_t err;
		char what[32];
		int rc;

		cfgpool_error_init(&err);
		arm(n);
		rc = cfgpool_pool_open_string(probe_doc, strlen(probe_doc), &probe_kernel, &quiet_opts, &pool, &err);
		disarm();
		if (!atomic_load(&failed_once)) {
			/* Every thread of an open was made: the pool works. */
			struct probe_input in = {.id = 7, .x = 9};
			struct probe_output out;

			assert_int_equal(rc, 0);
			assert_int_equal(cfgpool_pool_workers(pool), workers);
			assert_int_equal(thread_count(), base + workers + 1);
			assert_int_equal(cfgpool_pool_map(pool, &in, 0, &out, 0, 1, NULL, 0), 0);
			assert_int_equal(out.value, probe_expected(1, 9));
			assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
			break;
		}
		assert_int_equal(rc, -EAGAIN);
		assert_null(pool);
		assert_int_equal(err.code, -EAGAIN);
		if (strstr(err.text, "holder") != NULL) {
			assert_false(named_holder);
			named_holder = true;
		} else {
			unsigned k;

			for (k = 0; k < workers; k++) {
				snprintf(what, sizeof(what), "worker %u", k);
				if (strstr(err.text, what) != NULL)
					break;
			}
			if (k == workers)
				print_error("open failed at thread %ld without naming it: %s\n", n, err.text);
			assert_true(k < workers);
			assert_false(named_worker[k]);
			named_worker[k] = true;
		}
		assert_int_equal(settled_thread_count(base), base);
		/* Workers that ran worker_init before the failure ran worker_fini too. */
		assert_int_equal(atomic_load(&probe_counts.inits) - inits, atomic_load(&probe_counts.finis) - finis);
		assert_int_equal(atomic_load(&probe_counts.prepared), atomic_load(&probe_counts.released));
	}
	print_message("# open: %ld thread creations, each failed once\n", n);
	assert_int_equal(n, workers + 1);
	assert_true(named_holder);
	for (unsigned k = 0; k < workers; k++)
		assert_true(named_worker[k]);
	assert_int_equal(settled_thread_count(base), base);
	assert_int_equal(atomic_load(&probe_counts.prepared), atomic_load(&probe_counts.released));
	assert_int_equal(atomic_load(&probe_counts.inits), atomic_load(&probe_counts.finis));
	assert_int_equal(atomic_load(&probe_counts.bad_release) + atomic_load(&probe_counts.bad_fini), 0);
}

/* In a child: async reloads, then a barrier and destroy, with no thread to be had. */
static int reload_without_threads(void)
{
	cfgpool_holder_t *h = NULL;
	cfgpool_holder_stats_t st;

	if (cfgpool_holder_create(NULL, &h) != 0)
		return 10;
	atomic_store(&fail_threads, true);
	for (int i = 0; i < 20; i++) {
		if (cfgpool_holder_reload_string(h, "{\"a\": 1}", 8, 0, NULL, NULL) != 0)
			return 11;
	}
	if (cfgpool_holder_barrier(h) != 0)
		return 12;
	cfgpool_holder_stats(h, &st);
	if (st.published != 20 || st.retired != 19 || st.freed != 19)
		return 13;
	cfgpool_holder_destroy(h);
	return 0;
}

static void async_reloads_need_no_new_thread(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(reload_without_threads());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		print_error("the child died of signal %d\n", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(holder_create_without_threads_is_eagain),
		cmocka_unit_test(pool_open_without_threads_is_eagain),
		cmocka_unit_test(pool_open_fails_cleanly_at_every_thread_creation),
		cmocka_unit_test(async_reloads_need_no_new_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
