/*
 * Makes thread creation and memory streams fail, for tests/test_faults.c. Loaded with
 * LD_PRELOAD into `cfgpool`:
 *
 * - pthread_create() lets the first N calls through to the C library's and refuses every
 *   later one with EAGAIN, as a process at its thread limit sees; N is
 *   $CFGPOOL_FAIL_THREADS_AFTER.
 * - open_memstream() does the same with ENOMEM, as a process out of memory sees; N is
 *   $CFGPOOL_FAIL_MEMSTREAM_AFTER.
 * - With $CFGPOOL_MEMSTREAM_LIMIT set to L, every memory stream holds at most L bytes and
 *   drops the rest without an error, as glibc's does when its buffer cannot grow (its
 *   position stops at the end, ferror() and fclose() say nothing). Each stream that drops
 *   bytes says "fault_shim: memory stream full" once.
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
#include <string.h>
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

/* A memory stream of at most `limit` bytes, kept in *ptr / *size as glibc's are. */
struct small_stream {
	char **ptr;
	size_t *size;
	size_t pos, limit;
	bool said;
};

static ssize_t small_write(void *cookie, const char *data, size_t n)
{
	static const char full[] = "fault_shim: memory stream full\n";
	struct small_stream *s = cookie;
	size_t fit = s->pos + n <= s->limit ? n : s->limit - s->pos;

	memcpy(*s->ptr + s->pos, data, fit);
	s->pos += fit;
	(*s->ptr)[s->pos] = '\0';
	*s->size = s->pos;
	if (fit < n && !s->said) {
		s->said = true;
		if (write(STDERR_FILENO, full, sizeof(full) - 1) < 0) {
			/* Nothing to do: the test counts what it sees. */
		}
	}
	return (ssize_t)n; /* all of it, as far as the caller can tell */
}

static int small_seek(void *cookie, off64_t *offset, int whence)
{
	struct small_stream *s = cookie;
	long long to = whence == SEEK_SET ? *offset : whence == SEEK_CUR ? (long long)s->pos + *offset : (long long)*s->size;

	if (to < 0 || (size_t)to > s->limit)
		return -1;
	s->pos = (size_t)to;
	*s->size = s->pos;
	*offset = to;
	return 0;
}

static int small_close(void *cookie)
{
	free(cookie);
	return 0;
}

FILE *open_memstream(char **ptr, size_t *size)
{
	static const char refused[] = "fault_shim: open_memstream refused\n";
	static atomic_long calls;
	const char *limit = getenv("CFGPOOL_MEMSTREAM_LIMIT");
	memstream_fn real;

	if (refuse(&calls, "CFGPOOL_FAIL_MEMSTREAM_AFTER", refused, sizeof(refused) - 1)) {
		errno = ENOMEM;
		return NULL;
	}
	if (limit != NULL && *limit != '\0') {
		struct small_stream *s = calloc(1, sizeof(*s));
		cookie_io_functions_t io = {.write = small_write, .seek = small_seek, .close = small_close};

		if (s == NULL)
			return NULL;
		s->limit = strtoul(limit, NULL, 10);
		s->ptr = ptr;
		s->size = size;
		*ptr = malloc(s->limit + 1); /* the caller frees it, as glibc's buffer */
		if (*ptr == NULL) {
			free(s);
			return NULL;
		}
		**ptr = '\0';
		*size = 0;
		FILE *f = fopencookie(s, "w", io);

		/* Unbuffered: its position is what it holds, stuck at the limit like glibc's. */
		if (f != NULL)
			setvbuf(f, NULL, _IONBF, 0);
		return f;
	}
	real = (memstream_fn)dlsym(RTLD_NEXT, "open_memstream");
	if (real == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	return real(ptr, size);
}
