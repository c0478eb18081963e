/*
 * Makes thread creation fail, for tests/test_faults.c: loaded with LD_PRELOAD into
 * `cfgpool`, this pthread_create() lets the first N calls through to the C library's and
 * refuses every later one with EAGAIN, as a process at its thread limit sees. N is
 * $CFGPOOL_FAIL_THREADS_AFTER; unset, nothing is refused. Each refusal writes
 * "fail_threads_shim: pthread_create refused" on standard error, so a test can tell
 * whether anything asked for a thread at all.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* Calls so far, refused ones included; any thread may create threads. */
static atomic_long calls;

__attribute__((visibility("default"))) int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
							  void *(*fn)(void *), void *arg);

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static const char refused[] = "fail_threads_shim: pthread_create refused\n";
	const char *after = getenv("CFGPOOL_FAIL_THREADS_AFTER");
	create_fn real;

	if (after != NULL && *after != '\0' &&
	    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) >= strtol(after, NULL, 10)) {
		/* write(2), not stdio: nothing here may take a lock the caller could hold. */
		if (write(STDERR_FILENO, refused, sizeof(refused) - 1) < 0) {
			/* Nothing to do: the refusal itself is what the caller sees. */
		}
		return EAGAIN;
	}
	real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (real == NULL)
		return ENOSYS;
	return real(thread, attr, fn, arg);
}
