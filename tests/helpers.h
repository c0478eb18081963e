/*
 * Helpers shared by every cmocka test program.
 *
 * Only static inline functions live here, so each program includes the header without
 * having to link anything extra and without unused-function warnings. Include it after
 * defining _GNU_SOURCE (the programs need POSIX and GNU declarations from libc) and before
 * anything else that pulls in <cmocka.h>, which wants its prerequisites first.
 */
#ifndef CFGPOOL_TESTS_HELPERS_H
#define CFGPOOL_TESTS_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cfgpool/cfgpool.h>

/*
 * Loads a NUL-terminated JSON text with default options. `err` is initialised first, so a
 * caller can declare it uninitialised and still read a clean struct after a success.
 */
static inline int load_str(const char *json, cfgpool_config_t **out, cfgpool_error_t *err)
{
	if (err)
		cfgpool_error_init(err);
	return cfgpool_config_load_string(json, strlen(json), NULL, out, err);
}

/* The same with options, for the tests that register preparers or name the source. */
static inline int load_str_opts(const char *json, const cfgpool_load_opts_t *opts, cfgpool_config_t **out,
				cfgpool_error_t *err)
{
	if (err)
		cfgpool_error_init(err);
	return cfgpool_config_load_string(json, strlen(json), opts, out, err);
}

/*
 * Loads a document that the test expects to be valid and fails the test with the whole
 * formatted error otherwise: a bare "-4003 != 0" would hide which value was refused.
 */
static inline cfgpool_config_t *load_ok(const char *json)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char buf[1024];
	int rc;

	rc = load_str(json, &cfg, &err);
	if (rc != 0)
		print_error("load failed: %s (%s)\n", cfgpool_error_format(&err, buf, sizeof(buf)),
			    cfgpool_err_name(rc));
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	return cfg;
}

/*
 * The directory holding the test data. `make check` exports CFGPOOL_TEST_DATA as the
 * source tree's tests/ so that VPATH builds find it; when a program is run by hand we fall
 * back to the directory this header sits in, which is right when running from the top of
 * the build tree of an in-tree build.
 */
static inline const char *test_data_dir(void)
{
	static char fallback[PATH_MAX];
	const char *dir = getenv("CFGPOOL_TEST_DATA");
	const char *slash;

	if (dir && *dir)
		return dir;
	slash = strrchr(__FILE__, '/');
	if (!slash)
		return ".";
	snprintf(fallback, sizeof(fallback), "%.*s", (int)(slash - __FILE__), __FILE__);
	return fallback;
}

/* Writes "<data dir>/<rel>" into `buf` and returns it; a truncated path fails the test. */
static inline const char *test_data_path(char *buf, size_t size, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", test_data_dir(), rel);

	assert_true(n > 0 && (size_t)n < size);
	return buf;
}

/* The positive number in environment variable `name`; 1.0 when missing or unparsable. */
static inline double env_positive(const char *name)
{
	const char *s = getenv(name);
	char *end;
	double v;

	if (!s || !*s)
		return 1.0;
	v = strtod(s, &end);
	if (end == s || !(v > 0.0))
		return 1.0;
	return v;
}

/*
 * CFGPOOL_TEST_SCALE shrinks (or grows) iteration counts and the big document. Valgrind and
 * sanitizer runs set it to e.g. 0.05 because they run 20-50 times slower.
 */
static inline double test_scale(void)
{
	return env_positive("CFGPOOL_TEST_SCALE");
}

/* `n` scaled by CFGPOOL_TEST_SCALE, never below `min` so a tiny scale still tests something. */
static inline size_t test_scaled(size_t n, size_t min)
{
	double v = (double)n * test_scale();

	return v < (double)min ? min : (size_t)v;
}

/*
 * CFGPOOL_TEST_TIMEOUT_MULTIPLIER stretches every time limit the tests impose (libuv's
 * UV_TEST_TIMEOUT_MULTIPLIER), so a slow valgrind run is not mistaken for a hang.
 */
static inline double test_timeout_multiplier(void)
{
	return env_positive("CFGPOOL_TEST_TIMEOUT_MULTIPLIER");
}

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A time limit of `base` seconds, stretched by the multiplier, in whole seconds for alarm(). */
static inline unsigned test_timeout_seconds(double base)
{
	double v = base * test_timeout_multiplier();

	if (v < 1.0)
		return 1;
	if (v > (double)(UINT_MAX / 2))
		return UINT_MAX / 2;
	return (unsigned)v;
}

/*
 * The number of threads in this process: the entries of /proc/self/task. Allocates (opendir),
 * so an allocation-failure sweep calls it disarmed.
 */
static inline unsigned thread_count(void)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * Waits until the process has `n` threads and returns the count it last saw (`n`, unless a
 * scaled two seconds pass first). pthread_join returns once the thread has exited, but the
 * kernel may list it in /proc a moment longer.
 */
static inline unsigned settled_thread_count(unsigned n)
{
	/* Joined threads leave /proc/self/task a moment after join returns; on a loaded
	 * machine that moment can be long. */
	double deadline = now_s() + 10.0 * test_timeout_multiplier();
	unsigned got;

	while ((got = thread_count()) != n && now_s() < deadline) {
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
	}
	return got;
}

/* Writes all `len` bytes to `fd` and closes it, failing the test on any error. */
static inline void write_fd_and_close(int fd, const void *data, size_t len)
{
	const char *p = data;

	assert_true(fd >= 0);
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		assert_true(w > 0);
		p += w;
		len -= (size_t)w;
	}
	assert_int_equal(close(fd), 0);
}

/*
 * Writes `len` bytes to a new file under $TMPDIR (or /tmp) and stores its path in `path`.
 * The caller unlinks it. Used for documents too big or too dynamic to keep as data.
 */
static inline void write_temp_file(const void *data, size_t len, char *path, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = snprintf(path, size, "%s/cfgpool-test-XXXXXX", tmp);
	assert_true(n > 0 && (size_t)n < size);
	write_fd_and_close(mkstemp(path), data, len);
}

/* Fails the test unless `needle` occurs in `haystack`, printing both so the log shows why. */
static inline void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		print_error("expected \"%s\" to contain \"%s\"\n", haystack, needle);
		fail();
	}
}

#endif /* CFGPOOL_TESTS_HELPERS_H */
