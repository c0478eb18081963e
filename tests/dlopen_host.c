/*
 * A plug-in host: a program that is not linked with libcfgpool, loads it at run time with
 * dlopen(), finds the public API with dlsym() and uses it as an embedder would: opens a
 * pool with the built-in spin kernel from a JSON string, maps a batch and checks every
 * output against the kernel run directly, reads the configuration from a thread of its
 * own, reloads, closes the pool and unloads the library (not under ThreadSanitizer).
 *   dlopen_host [path-to-libcfgpool.so]   (default: $CFGPOOL_LIB)
 * Exits 0 when all of that worked; otherwise prints why (dlerror() for a failed load) and
 * exits 1. tests/check_dlopen.sh runs it, also with glibc's optional static TLS withheld.
 */
#include <cfgpool/cfgpool.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 16

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* The library's functions, each with its declared type, found by name. */
static struct api {
	__typeof__(cfgpool_strerror) *strerror_;
	__typeof__(cfgpool_error_init) *error_init;
	__typeof__(cfgpool_error_format) *error_format;
	__typeof__(cfgpool_kernel_find) *kernel_find;
	__typeof__(cfgpool_pool_open_string) *pool_open_string;
	__typeof__(cfgpool_pool_map) *pool_map;
	__typeof__(cfgpool_pool_reload_string) *pool_reload_string;
	__typeof__(cfgpool_pool_holder) *pool_holder;
	__typeof__(cfgpool_pool_close) *pool_close;
	__typeof__(cfgpool_holder_read_begin) *read_begin;
	__typeof__(cfgpool_holder_read_end) *read_end;
	__typeof__(cfgpool_config_version) *config_version;
	__typeof__(cfgpool_config_root) *config_root;
	__typeof__(cfgpool_get_int) *get_int;
} api;

static const char doc[] = "{\"kernel\": {\"name\": \"spin\"}, \"pool\": {\"workers\": 2}, \"app\": {\"answer\": 42}}";
static const char doc2[] = "{\"kernel\": {\"name\": \"spin\"}, \"pool\": {\"workers\": 2}, \"app\": {\"answer\": 43}}";

static int fail(const char *what)
{
	fprintf(stderr, "dlopen_host: %s\n", what);
	return 1;
}

static void *sym(void *lib, const char *name, int *missing)
{
	void *p = dlsym(lib, name);

	if (p == NULL) {
		fprintf(stderr, "dlopen_host: dlsym(%s): %s\n", name, dlerror());
		*missing = 1;
	}
	return p;
}

static int resolve(void *lib)
{
	int missing = 0;

	/* POSIX makes a data pointer from dlsym() convertible to a function pointer. */
	*(void **)&api.strerror_ = sym(lib, "cfgpool_strerror", &missing);
	*(void **)&api.error_init = sym(lib, "cfgpool_error_init", &missing);
	*(void **)&api.error_format = sym(lib, "cfgpool_error_format", &missing);
	*(void **)&api.kernel_find = sym(lib, "cfgpool_kernel_find", &missing);
	*(void **)&api.pool_open_string = sym(lib, "cfgpool_pool_open_string", &missing);
	*(void **)&api.pool_map = sym(lib, "cfgpool_pool_map", &missing);
	*(void **)&api.pool_reload_string = sym(lib, "cfgpool_pool_reload_string", &missing);
	*(void **)&api.pool_holder = sym(lib, "cfgpool_pool_holder", &missing);
	*(void **)&api.pool_close = sym(lib, "cfgpool_pool_close", &missing);
	*(void **)&api.read_begin = sym(lib, "cfgpool_holder_read_begin", &missing);
	*(void **)&api.read_end = sym(lib, "cfgpool_holder_read_end", &missing);
	*(void **)&api.config_version = sym(lib, "cfgpool_config_version", &missing);
	*(void **)&api.config_root = sym(lib, "cfgpool_config_root", &missing);
	*(void **)&api.get_int = sym(lib, "cfgpool_get_int", &missing);
	return missing ? -1 : 0;
}

/* What a host thread sees: the version and app.answer of the current snapshot. */
struct seen {
	const cfgpool_holder_t *holder;
	uint64_t version;
	int64_t answer;
	int rc;
};

static void *host_reader(void *arg)
{
	struct seen *s = arg;
	const cfgpool_config_t *snap = api.read_begin(s->holder);

	s->version = api.config_version(snap);
	s->rc = api.get_int(api.config_root(snap), "app.answer", &s->answer);
	api.read_end(s->holder);
	return NULL;
}

static int read_from_host_thread(const cfgpool_holder_t *holder, uint64_t version, int64_t answer)
{
	struct seen s = {.holder = holder};
	pthread_t t;

	if (pthread_create(&t, NULL, host_reader, &s) != 0 || pthread_join(t, NULL) != 0)
		return fail("cannot run a host thread");
	if (s.rc != 0 || s.version != version || s.answer != answer) {
		fprintf(stderr, "dlopen_host: host thread read version %" PRIu64 ", app.answer %" PRId64
			" (rc %d); expected %" PRIu64 ", %" PRId64 "\n", s.version, s.answer, s.rc, version, answer);
		return 1;
	}
	return 0;
}

static int run_pool(void)
{
	const cfgpool_kernel_t *spin = api.kernel_find("spin");
	cfgpool_spin_input_t in[N];
	cfgpool_spin_output_t out[N], direct;
	cfgpool_result_t res[N];
	cfgpool_task_ctx_t ctx;
	cfgpool_error_t err;
	cfgpool_pool_t *pool;
	uint64_t version = 0;
	char msg[512];
	int rc;

	if (spin == NULL)
		return fail("no built-in spin kernel");
	if (strcmp(api.strerror_(CFGPOOL_EINVAL), "invalid argument") != 0)
		return fail("cfgpool_strerror(CFGPOOL_EINVAL) is not \"invalid argument\"");
	api.error_init(&err);
	rc = api.pool_open_string(doc, sizeof(doc) - 1, NULL, NULL, &pool, &err);
	if (rc != 0)
		return fail(api.error_format(&err, msg, sizeof(msg)));
	for (int i = 0; i < N; i++)
		in[i].iterations = 500u * (uint64_t)(i + 1);
	memset(res, 0, sizeof(res));
	rc = api.pool_map(pool, in, 0, out, 0, N, res, 0);
	if (rc != 0) {
		api.pool_close(pool, CFGPOOL_CLOSE_DRAIN);
		return fail(api.strerror_(rc));
	}
	memset(&ctx, 0, sizeof(ctx));
	for (int i = 0; i < N; i++) {
		if (spin->run(&ctx, &in[i], &direct) != 0 || out[i].value != direct.value || res[i].status != 0 ||
		    res[i].version != 1) {
			fprintf(stderr, "dlopen_host: item %d: value %.17g (direct %.17g), status %d, version %" PRIu64 "\n",
				i, out[i].value, direct.value, res[i].status, res[i].version);
			api.pool_close(pool, CFGPOOL_CLOSE_DRAIN);
			return 1;
		}
	}
	rc = read_from_host_thread(api.pool_holder(pool), 1, 42);
	if (rc == 0 && api.pool_reload_string(pool, doc2, sizeof(doc2) - 1, CFGPOOL_RELOAD_SYNC, &version, &err) != 0)
		rc = fail(api.error_format(&err, msg, sizeof(msg)));
	if (rc == 0)
		rc = read_from_host_thread(api.pool_holder(pool), 2, 43);
	if (api.pool_close(pool, CFGPOOL_CLOSE_DRAIN) != 0)
		rc = fail("cfgpool_pool_close failed");
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("CFGPOOL_LIB");
	const char *mult = getenv("CFGPOOL_TEST_TIMEOUT_MULTIPLIER");
	double scale = mult != NULL && atof(mult) > 0 ? atof(mult) : 1.0;
	void *lib;
	int rc;

	/* A hang is a failure: SIGALRM ends the run after 60 s, times the multiplier. */
	alarm(60.0 * scale < 1.0 ? 1u : (unsigned)(60.0 * scale));
	if (path == NULL)
		return fail("usage: dlopen_host path-to-libcfgpool.so (or set CFGPOOL_LIB)");
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		fprintf(stderr, "dlopen_host: dlopen: %s\n", dlerror());
		return 1;
	}
	rc = resolve(lib) != 0 ? 1 : run_pool();
	/* ThreadSanitizer aborts when a library its suppressions name (tests/tsan.supp:
	 * liburcu-memb) is unloaded, so under it the library stays loaded. */
#ifndef UNDER_TSAN
	if (dlclose(lib) != 0)
		rc = fail(dlerror());
#endif
	return rc;
}
