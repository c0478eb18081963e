/*
 * Makes thread creation and memory streams fail, for tests/test_faults.c. Loaded with
 * LD_PRELOAD into `cfgpool`:
 *
 * - pthread_create() lets the first N calls through to the C library's and refuses every
 *   later one with EAGAIN, as a process at its thread limit sees; N is
 *   $CFGPOOL_FAIL_THREADS_AFTER.
 * - open_memstream() does the same with ENOMEM, as a process out of memory sees; N is
 *   $CFGPOOL_FAIL_MEMSTREAM_AFTER.
 *
 * Unset, nothing is refused. Each refusal writes "fault_shim: pthread_create refused" (or
 * "open_memstream refused") on standard error, so a test can tell whether anything asked
 * at all.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef FILE *(*memstream_fn)(char **, size_t *);

__attribute__((visibility("default"))) int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
							  void *(*fn)(void *), void *arg);
__attribute__((visibility("default"))) FILE *open_memstream(char **ptr, size_t *size);

/*
 * Counts a call in `calls` (any thread may make them) and says whether it is refused: the
 * limit in the environment variable `limit` is reached. A refusal is said on stderr.
 */
static bool refuse(atomic_long *calls, const char *limit, const char *refused, size_t len)
{
	const char *after = getenv(limit);

	if (after == NULL || *after == '\0' ||
	    atomic_fetch_add_explicit(calls, 1, memory_order_relaxed) < strtol(after, NULL, 10))
		return false;
	/* write(2), not stdio: nothing here may take a lock the caller could hold. */
	if (write(STDERR_FILENO, refused, len) < 0) {
		/* Nothing to do: the refusal itself is what the caller sees. */
	}
	return true;
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static const char refused[] = "fault_shim: pthread_create refused\n";
	static atomic_long calls;
	create_fn real;

	if (refuse(&calls, "CFGPOOL_FAIL_THREADS_AFTER", refused, sizeof(refused) - 1))
		return EAGAIN;
	real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (real == NULL)
		return ENOSYS;
	return real(thread, attr, fn, arg);
}

FILE *open_memstream(char **ptr, size_t *size)
{
	static const char refused[] = "fault_shim: open_memstream refused\n";
	static atomic_long calls;
	memstream_fn real;

	if (refuse(&calls, "CFGPOOL_FAIL_MEMSTREAM_AFTER", refused, sizeof(refused) - 1)) {
		errno = ENOMEM;
		return NULL;
	}
	real = (memstream_fn)dlsym(RTLD_NEXT, "open_memstream");
	if (real == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	return real(ptr, size);
}
