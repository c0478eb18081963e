/*
 * Thread-creation failure. The program interposes pthread_create (an executable's
 * definition takes precedence over libc's for the whole process, libcfgpool and liburcu
 * included) and fails it with EAGAIN while armed, as a small `ulimit -u` would. Then:
 * creating a holder or opening a pool returns -EAGAIN and leaks nothing; and a holder
 * created before the failure reloads asynchronously as often as it likes, since it needs
 * no thread it does not already have (liburcu's call_rcu would create its thread then,
 * and abort the process when it cannot). The reloads run in a child process, so that an
 * abort is seen as the child's death rather than the test program's.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static atomic_bool fail_threads;
static atomic_uint refused;

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static create_fn real;

	if (atomic_load(&fail_threads)) {
		atomic_fetch_add(&refused, 1);
		return EAGAIN;
	}
	if (real == NULL)
		real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	return real(t, attr, fn, arg);
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
		cmocka_unit_test(async_reloads_need_no_new_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
