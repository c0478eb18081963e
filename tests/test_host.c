/*
 * What a host embedding cfgpool relies on: its own data handed to a kernel (arg,
 * prepare_arg, worker_init_arg, ctx->arg), worker state rebuilt on reloads
 * (worker_reload), settings from code (the open options override the `pool` section;
 * cfgpool's sections under a key of the host's choice) and fork() with a pool open.
 *
 * Most tests run "scratch", a kernel written here: its prepare_arg compiles
 * {"kernel": {"size": N, "fail": B}} into a block, its worker_init_arg allocates an N-byte
 * scratch buffer for the thread, its worker_reload resizes it (or, with "fail", refuses)
 * and counts rebuilds per thread, and its run checks on every task that the state belongs
 * to the running thread and has the size the task's configuration asks for, and reports
 * that size. Pool threads record failures in `violations`; the main thread asserts.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "helpers.h"

#define NSLOTS 128 /* 64 workers, then 64 caller slots */

struct host {
	uint32_t magic;
	atomic_int prepares, inits, runs, reload_calls, violations;
	atomic_int rebuilds[NSLOTS];
	_Atomic uint64_t init_version[NSLOTS]; /* the version each thread's worker_init saw */
	atomic_int old_size_seen; /* the state's size worker_reload last received */
	atomic_int null_states;   /* worker_reload calls given no state */
};

#define HOST_MAGIC 0x484f5354u

struct scratch_params {
	uint64_t size;
	int64_t fail; /* what worker_reload returns instead of rebuilding, 0: rebuild */
};

struct scratch_state {
	pthread_t owner;
	uint64_t size;
	unsigned char *buf;
};

struct scratch_out {
	uint64_t size;
	uint64_t version;
};

static struct host host;

static unsigned slot_of(unsigned worker)
{
	if (worker >= CFGPOOL_CALLER_WORKER)
		return 64 + (worker - CFGPOOL_CALLER_WORKER) % 64;
	return worker % 64;
}

static void violation(void)
{
	atomic_fetch_add(&host.violations, 1);
}

static int scratch_prepare_arg(void *arg, const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
			       cfgpool_error_t *err)
{
	struct scratch_params *p;
	int64_t size = 16;

	(void)root;
	if (arg != &host)
		return cfgpool_error_set(err, -EFAULT, "kernel", "prepare_arg got the wrong arg");
	atomic_fetch_add(&host.prepares, 1);
	if (section != NULL && cfgpool_get_int(section, "size", &size) == 0 && (size < 1 || size > 1 << 20))
		return cfgpool_error_set(err, -ERANGE, "kernel.size", "expected 1 .. 1048576");
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->size = (uint64_t)size;
	if (section != NULL)
		cfgpool_get_int(section, "fail", &p->fail);
	*params = p;
	return 0;
}

/* Set alongside prepare_arg: the pool must call prepare_arg instead. */
static int scratch_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
			   cfgpool_error_t *err)
{
	(void)section, (void)root, (void)params;
	violation();
	return cfgpool_error_set(err, -EPERM, "kernel", "prepare called although prepare_arg is set");
}

static void scratch_release(void *params)
{
	free(params);
}

static int scratch_init_arg(void *arg, const cfgpool_config_t *config, const void *params, unsigned worker,
			    void **state)
{
	const struct scratch_params *p = params;
	struct scratch_state *s;

	if (arg != &host)
		violation();
	atomic_fetch_add(&host.inits, 1);
	atomic_store(&host.init_version[slot_of(worker)], cfgpool_config_version(config));
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->owner = pthread_self();
	s->size = p->size;
	s->buf = calloc(1, p->size);
	if (s->buf == NULL) {
		free(s);
		return -ENOMEM;
	}
	*state = s;
	return 0;
}

/* Set alongside worker_init_arg: the pool must call worker_init_arg instead. */
static int scratch_init(const cfgpool_config_t *config, const void *params, unsigned worker, void **state)
{
	(void)config, (void)params, (void)worker, (void)state;
	violation();
	return -EPERM;
}

static void scratch_fini(void *state, unsigned worker)
{
	struct scratch_state *s = state;

	(void)worker;
	if (s == NULL)
		return;
	free(s->buf);
	free(s);
}

static int scratch_reload(void *arg, const cfgpool_config_t *config, const void *params, unsigned worker,
			  void **state)
{
	const struct scratch_params *p = params;
	struct scratch_state *s = *state;
	unsigned char *buf;

	(void)config;
	atomic_fetch_add(&host.reload_calls, 1);
	if (s == NULL) {
		/* A kernel without worker_init: the first rebuild makes the state. */
		atomic_fetch_add(&host.null_states, 1);
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		s->owner = pthread_self();
		*state = s;
	}
	if (arg != &host || !pthread_equal(s->owner, pthread_self()))
		violation();
	atomic_store(&host.old_size_seen, (int)s->size);
	if (p->fail)
		return (int)p->fail;
	buf = realloc(s->buf, p->size);
	if (buf == NULL)
		return -ENOMEM;
	s->buf = buf;
	s->size = p->size;
	atomic_fetch_add(&host.rebuilds[slot_of(worker)], 1);
	return 0;
}

static int scratch_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct scratch_params *p = ctx->params;
	struct scratch_state *s = ctx->state;
	struct scratch_out *out = output;

	(void)input;
	atomic_fetch_add(&host.runs, 1);
	if (ctx->arg != &host || s == NULL || !pthread_equal(s->owner, pthread_self()))
		violation();
	if (s->size != p->size)
		violation();
	/* Touch the whole buffer: under the sanitizers or valgrind a wrong size is an error. */
	memset(s->buf, (int)ctx->version, s->size);
	out->size = s->size;
	out->version = ctx->version;
	return 0;
}

static cfgpool_kernel_t scratch_kernel = {
	.name = "scratch",
	.input_size = 0,
	.output_size = sizeof(struct scratch_out),
	.prepare = scratch_prepare,
	.release = scratch_release,
	.worker_init = scratch_init,
	.worker_fini = scratch_fini,
	.run = scratch_run,
	.arg = &host,
	.prepare_arg = scratch_prepare_arg,
	.worker_init_arg = scratch_init_arg,
	.worker_reload = scratch_reload,
};

static int fresh_host(void **state)
{
	(void)state;
	memset(&host, 0, sizeof(host));
	host.magic = HOST_MAGIC;
	return 0;
}

static cfgpool_pool_t *open_ok(const char *doc, const cfgpool_kernel_t *kernel, const cfgpool_pool_opts_t *opts)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	char buf[1024];
	int rc;

	cfgpool_error_init(&err);
	rc = cfgpool_pool_open_string(doc, strlen(doc), kernel, opts, &pool, &err);
	if (rc != 0)
		print_error("open failed: %s (%s)\n", cfgpool_error_format(&err, buf, sizeof(buf)), cfgpool_err_name(rc));
	assert_int_equal(rc, 0);
	return pool;
}

static void reload_ok(cfgpool_pool_t *pool, const char *doc, uint64_t want_version)
{
	cfgpool_error_t err;
	uint64_t v = 0;
	char buf[1024];
	int rc;

	cfgpool_error_init(&err);
	rc = cfgpool_pool_reload_string(pool, doc, strlen(doc), 0, &v, &err);
	if (rc != 0)
		print_error("reload failed: %s\n", cfgpool_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(rc, 0);
	assert_int_equal(v, want_version);
}

/* Maps n tasks; each must succeed on `version` with a state of `size` bytes. */
static void map_expect(cfgpool_pool_t *pool, size_t n, uint64_t size, uint64_t version, bool ran[NSLOTS])
{
	struct scratch_out *out = calloc(n, sizeof(*out));
	cfgpool_result_t *res = calloc(n, sizeof(*res));

	assert_non_null(out);
	assert_non_null(res);
	assert_int_equal(cfgpool_pool_map(pool, NULL, 0, out, 0, n, res, 0), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].status, 0);
		assert_int_equal(res[i].version, version);
		assert_int_equal(out[i].size, size);
		if (ran != NULL)
			ran[slot_of(res[i].worker)] = true;
	}
	free(out);
	free(res);
	assert_int_equal(atomic_load(&host.violations), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Host data                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* prepare_arg and worker_init_arg replace prepare and worker_init; run sees ctx->arg. */
static void arg_reaches_prepare_init_and_run(void **state)
{
	cfgpool_pool_t *pool;

	(void)state;
	pool = open_ok("{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 8}}", &scratch_kernel, NULL);
	assert_int_equal(atomic_load(&host.prepares), 1);
	assert_int_equal(atomic_load(&host.inits), 2);
	map_expect(pool, test_scaled(200, 20), 8, 1, NULL);
	assert_true(atomic_load(&host.runs) >= 20);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&host.violations), 0);
	assert_int_equal(host.magic, HOST_MAGIC); /* the pool never writes through arg */
}

/* A prepare_arg's error rejects the document as a prepare's does, path included. */
static void prepare_arg_error_rejects_the_document(void **state)
{
	const char *doc = "{\"kernel\": {\"size\": 0}}";
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;

	(void)state;
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_open_string(doc, strlen(doc), &scratch_kernel, NULL, &pool, &err), -ERANGE);
	assert_null(pool);
	assert_string_equal(err.path, "kernel.size");
	assert_int_equal(atomic_load(&host.violations), 0);
}

static int arg_probe;

static int mc_run_with_arg(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	if (ctx->arg != &arg_probe)
		return -EFAULT;
	return cfgpool_kernel_find("mc_option")->run(ctx, input, output);
}

/* A host copies a built-in table, sets arg and wraps run: the results are the built-in's. */
static void copied_builtin_with_arg(void **state)
{
	const char *doc = "{\"pool\": {\"workers\": 2}, \"kernel\": {\"name\": \"mc_option\", \"rate\": 0.01, "
			  "\"volatility\": 0.2, \"paths\": 2000, \"seed\": 7}}";
	cfgpool_kernel_t mine = *cfgpool_kernel_find("mc_option");
	cfgpool_option_input_t in[4] = {{100, 90, 1, CFGPOOL_CALL}, {100, 100, 1, CFGPOOL_PUT},
					{50, 60, 0.5, CFGPOOL_CALL}, {80, 70, 2, CFGPOOL_PUT}};
	cfgpool_option_output_t a[4], b[4];
	cfgpool_pool_t *p1, *p2;

	(void)state;
	mine.arg = &arg_probe;
	mine.run = mc_run_with_arg;
	p1 = open_ok(doc, cfgpool_kernel_find("mc_option"), NULL);
	p2 = open_ok(doc, &mine, NULL);
	assert_int_equal(cfgpool_pool_map(p1, in, 0, a, 0, 4, NULL, 0), 0);
	assert_int_equal(cfgpool_pool_map(p2, in, 0, b, 0, 4, NULL, 0), 0);
	assert_memory_equal(a, b, sizeof(a));
	cfgpool_pool_close(p1, CFGPOOL_CLOSE_DRAIN);
	cfgpool_pool_close(p2, CFGPOOL_CLOSE_DRAIN);
}

/* ------------------------------------------------------------------------------------------ */
/* Worker state and reloads                                                                   */
/* ------------------------------------------------------------------------------------------ */

static int total_rebuilds(void)
{
	int n = 0;

	for (int i = 0; i < NSLOTS; i++)
		n += atomic_load(&host.rebuilds[i]);
	return n;
}

/*
 * One rebuild for each thread that ran a task on `version` with a state made for an older
 * one (a thread that first helped after the reload made its state for the new version).
 */
static void expect_rebuilds(const bool ran[NSLOTS], uint64_t version)
{
	for (int i = 0; i < NSLOTS; i++) {
		int want = ran[i] && atomic_load(&host.init_version[i]) < version ? 1 : 0;

		assert_int_equal(atomic_load(&host.rebuilds[i]), want);
	}
}

/*
 * After a reload to a bigger scratch size every task sees a state of the new size, and
 * each thread rebuilt its state exactly once, before its first task on the new version
 * (threads that ran nothing rebuilt nothing). Two reloads with no task between them cost
 * one rebuild per thread, for the newest version.
 */
static void reload_rebuilds_each_threads_state_once(void **state)
{
	size_t n = test_scaled(400, 40);
	bool ran[NSLOTS] = {0};
	cfgpool_pool_t *pool;

	(void)state;
	pool = open_ok("{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 16}}", &scratch_kernel, NULL);
	map_expect(pool, n, 16, 1, NULL);
	assert_int_equal(total_rebuilds(), 0);
	assert_int_equal(atomic_load(&host.reload_calls), 0);

	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 4096}}", 2);
	map_expect(pool, n, 4096, 2, ran);
	expect_rebuilds(ran, 2);
	assert_int_equal(atomic_load(&host.old_size_seen), 16);
	/* The same version again: nothing to rebuild. */
	map_expect(pool, n, 4096, 2, NULL);
	assert_int_equal(atomic_load(&host.reload_calls), total_rebuilds());

	memset(ran, 0, sizeof(ran));
	for (int i = 0; i < NSLOTS; i++)
		atomic_store(&host.rebuilds[i], 0);
	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 100}}", 3);
	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 200}}", 4);
	map_expect(pool, n, 200, 4, ran);
	expect_rebuilds(ran, 4);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&host.violations), 0);
}

/*
 * A worker_reload that fails: the task does not run and completes with its code, the
 * old state is kept, and every later task tries again until a reload succeeds.
 */
static void failed_reload_completes_the_task_and_retries(void **state)
{
	size_t n = test_scaled(100, 10);
	struct scratch_out *out = calloc(n, sizeof(*out));
	cfgpool_result_t *res = calloc(n, sizeof(*res));
	cfgpool_pool_t *pool;
	int runs;

	(void)state;
	assert_non_null(out);
	assert_non_null(res);
	pool = open_ok("{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 16}}", &scratch_kernel, NULL);
	map_expect(pool, n, 16, 1, NULL);
	runs = atomic_load(&host.runs);

	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 32, \"fail\": -28}}", 2);
	assert_int_equal(cfgpool_pool_map(pool, NULL, 0, out, 0, n, res, 0), CFGPOOL_EKERNEL);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].status, -ENOSPC);
		assert_int_equal(res[i].version, 2);
	}
	assert_int_equal(atomic_load(&host.runs), runs);
	assert_int_equal(atomic_load(&host.reload_calls), (int)n);
	assert_int_equal(total_rebuilds(), 0);

	/* A positive code breaks the sign convention: the task gets -EINVAL. */
	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 32, \"fail\": 5}}", 3);
	assert_int_equal(cfgpool_pool_map(pool, NULL, 0, out, 0, n, res, 0), CFGPOOL_EKERNEL);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(res[i].status, -EINVAL);
	assert_int_equal(atomic_load(&host.runs), runs);

	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 64}}", 4);
	map_expect(pool, n, 64, 4, NULL);
	/* The state handed to the successful rebuild was the old one, kept through the failures. */
	assert_int_equal(atomic_load(&host.old_size_seen), 16);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&host.violations), 0);
	free(out);
	free(res);
}

/* Without worker_init, worker_reload receives a NULL state and may make one. */
static void worker_reload_without_worker_init_starts_from_null(void **state)
{
	cfgpool_kernel_t k = scratch_kernel;
	bool ran[NSLOTS] = {0};
	int threads = 0;
	cfgpool_pool_t *pool;

	(void)state;
	k.worker_init = NULL;
	k.worker_init_arg = NULL;
	/* Only the workers, started on version 1, run tasks (a thread that first helped on
	 * version 2 would have a NULL state made for version 2, and no rebuild). */
	pool = open_ok("{\"pool\": {\"workers\": 2, \"caller_helps\": false}, \"kernel\": {\"size\": 16}}", &k,
		       NULL);
	reload_ok(pool, "{\"pool\": {\"workers\": 2, \"caller_helps\": false}, \"kernel\": {\"size\": 24}}", 2);
	map_expect(pool, test_scaled(200, 20), 24, 2, ran);
	for (int i = 0; i < NSLOTS; i++)
		threads += ran[i];
	assert_int_equal(atomic_load(&host.null_states), threads);
	assert_int_equal(atomic_load(&host.inits), 0);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	assert_int_equal(atomic_load(&host.violations), 0);
}

/* Without worker_reload a state stays as worker_init made it, whatever the reloads. */
static void without_worker_reload_the_state_stays(void **state)
{
	cfgpool_kernel_t k = scratch_kernel;
	size_t n = test_scaled(50, 10);
	struct scratch_out *out = calloc(n, sizeof(*out));
	cfgpool_result_t *res = calloc(n, sizeof(*res));
	cfgpool_pool_t *pool;

	(void)state;
	assert_non_null(out);
	assert_non_null(res);
	k.worker_reload = NULL;
	pool = open_ok("{\"pool\": {\"workers\": 1}, \"kernel\": {\"size\": 16}}", &k, NULL);
	reload_ok(pool, "{\"pool\": {\"workers\": 1}, \"kernel\": {\"size\": 16}}", 2);
	assert_int_equal(cfgpool_pool_map(pool, NULL, 0, out, 0, n, res, 0), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i].size, 16);
	assert_int_equal(atomic_load(&host.reload_calls), 0);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	assert_int_equal(atomic_load(&host.violations), 0);
	free(out);
	free(res);
}

/* ------------------------------------------------------------------------------------------ */
/* Settings from code                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* The CPUs this process may run on, in order; returns how many (at most `max`). */
static size_t allowed_cpus(int *cpus, size_t max)
{
	cpu_set_t mask;
	size_t n = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(mask), &mask), 0);
	for (int c = 0; c < CPU_SETSIZE && n < max; c++) {
		if (CPU_ISSET(c, &mask))
			cpus[n++] = c;
	}
	return n;
}

/* A CPU number below the schema's limit that is not in the affinity mask, or -1. */
static int disallowed_cpu(void)
{
	cpu_set_t mask;

	assert_int_equal(sched_getaffinity(0, sizeof(mask), &mask), 0);
	for (int c = 1023; c >= 0; c--) {
		if (c >= CPU_SETSIZE || !CPU_ISSET(c, &mask))
			return c;
	}
	return -1;
}

/* Options win over the document; a zeroed options struct leaves the document in charge. */
static void opts_override_the_pool_section(void **state)
{
	const char *doc = "{\"pool\": {\"workers\": 1, \"pin\": true}, \"kernel\": {\"size\": 8}}";
	cfgpool_pool_opts_t opts = {0};
	cfgpool_pool_t *pool;
	int cpus[2];
	size_t ncpu = allowed_cpus(cpus, 2);

	(void)state;
	pool = open_ok(doc, &scratch_kernel, &opts);
	assert_int_equal(cfgpool_pool_workers(pool), 1);
	assert_int_equal(cfgpool_pool_worker_cpu(pool, 0), cpus[0]);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);

	opts.workers = 2;
	opts.pin = -1;
	pool = open_ok(doc, &scratch_kernel, &opts);
	assert_int_equal(cfgpool_pool_workers(pool), 2);
	assert_int_equal(cfgpool_pool_worker_cpu(pool, 0), -1);
	assert_int_equal(cfgpool_pool_worker_cpu(pool, 1), -1);
	map_expect(pool, 20, 8, 1, NULL);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);

	/* The options' CPU list replaces the document's; pin 1 pins where the document says not. */
	memset(&opts, 0, sizeof(opts));
	opts.cpus = &cpus[ncpu - 1];
	opts.ncpus = 1;
	opts.pin = 1;
	pool = open_ok("{\"pool\": {\"pin\": false, \"cpus\": [0]}, \"kernel\": {\"size\": 8}}", &scratch_kernel,
		       &opts);
	assert_int_equal(cfgpool_pool_workers(pool), 1);
	assert_int_equal(cfgpool_pool_worker_cpu(pool, 0), cpus[ncpu - 1]);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	assert_int_equal(atomic_load(&host.violations), 0);
}

static atomic_bool gate_open;
static atomic_int gate_started;

static int gate_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	(void)ctx, (void)input, (void)output;
	atomic_fetch_add(&gate_started, 1);
	while (!atomic_load(&gate_open))
		sched_yield();
	return 0;
}

static const cfgpool_kernel_t gate_kernel = {.name = "gate", .run = gate_run};

/* opts.queue_capacity sizes the queue: with the one worker held, exactly that many fit. */
static void opts_queue_capacity_sizes_the_queue(void **state)
{
	cfgpool_pool_opts_t opts = {.queue_capacity = 4};
	cfgpool_pool_t *pool;
	int accepted = 0;

	(void)state;
	atomic_store(&gate_open, false);
	atomic_store(&gate_started, 0);
	pool = open_ok("{\"pool\": {\"workers\": 1, \"queue_capacity\": 1024}}", &gate_kernel, &opts);
	assert_int_equal(cfgpool_pool_submit(pool, NULL, NULL, NULL, NULL, 0), 0);
	while (atomic_load(&gate_started) == 0)
		sched_yield();
	while (accepted < 2000 && cfgpool_pool_submit(pool, NULL, NULL, NULL, NULL, CFGPOOL_SUBMIT_NONBLOCK) == 0)
		accepted++;
	assert_int_equal(accepted, 4);
	atomic_store(&gate_open, true);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
}

static void expect_open_error(const char *doc, const cfgpool_kernel_t *kernel, const cfgpool_pool_opts_t *opts,
			      int code, const char *path, const char *text)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	char buf[1024];

	cfgpool_error_init(&err);
	if (cfgpool_pool_open_string(doc, strlen(doc), kernel, opts, &pool, &err) != code || strcmp(err.path, path))
		print_error("want %s at %s, got: %s\n", cfgpool_err_name(code), path,
			    cfgpool_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(err.code, code);
	assert_string_equal(err.path, path);
	assert_null(pool);
	if (text != NULL)
		assert_contains(err.text, text);
}

/* Each option is checked like its document field, and the error names the option. */
static void bad_opts_are_named(void **state)
{
	const char *doc = "{\"kernel\": {\"size\": 8}}";
	int dup[2] = {0, 0}, big = 1024, out = disallowed_cpu();
	char longsec[CFGPOOL_ERROR_PATH_LEN + 1];

	(void)state;
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.workers = 1025}, -EINVAL, "opts.workers",
			  "from 1 to 1024, got 1025");
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.queue_capacity = (1u << 24) + 1}, -EINVAL,
			  "opts.queue_capacity", "from 1 to 16777216");
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.pin = 2}, -EINVAL, "opts.pin", "got 2");
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.ncpus = 1}, -EINVAL, "opts.cpus", "NULL");
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.cpus = dup, .ncpus = 2}, -EINVAL,
			  "opts.cpus[1]", "duplicate CPU 0");
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.cpus = &big, .ncpus = 1}, -EINVAL,
			  "opts.cpus[0]", "from 0 to 1023");
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.cpus = dup, .ncpus = 1025}, -EINVAL,
			  "opts.cpus", "at most 1024");
	if (out >= 0)
		expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.cpus = &out, .ncpus = 1}, -EINVAL,
				  "opts.cpus[0]", "affinity mask");
	memset(longsec, 'a', sizeof(longsec) - 1);
	longsec[sizeof(longsec) - 1] = '\0';
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.section = longsec}, -EINVAL, "opts.section",
			  "longer than");
	expect_open_error(doc, &scratch_kernel, &(cfgpool_pool_opts_t){.section = "a[b"}, -EINVAL, "opts.section",
			  "malformed");
	assert_int_equal(atomic_load(&host.inits), 0); /* nothing started */
}

#define HOST_DOC(compute)                                                                                      \
	"{\"pool\": \"the host's own\", \"kernel\": [\"also\", \"the host's\"], \"app\": {\"compute\": " compute "}}"

/*
 * Under a section the host's own top-level `pool` and `kernel` are left alone; errors name
 * the full path; reloads read the same section.
 */
static void sections_under_a_key_of_the_hosts_choice(void **state)
{
	cfgpool_pool_opts_t opts = {.section = "app.compute"};
	char sec[16] = "app.compute";
	cfgpool_pool_t *pool;
	cfgpool_error_t err;
	const char *bad;
	int out = disallowed_cpu();

	(void)state;
	opts.section = sec;
	pool = open_ok(HOST_DOC("{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 40}}"), &scratch_kernel, &opts);
	sec[0] = 'X'; /* the pool kept its own copy */
	assert_int_equal(cfgpool_pool_workers(pool), 2);
	map_expect(pool, 30, 40, 1, NULL);
	reload_ok(pool, HOST_DOC("{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 80}}"), 2);
	map_expect(pool, 30, 80, 2, NULL);
	bad = HOST_DOC("{\"pool\": {\"workers\": \"two\"}}");
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_reload_string(pool, bad, strlen(bad), 0, NULL, &err), CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "app.compute.pool.workers");
	bad = HOST_DOC("{\"kernel\": {\"size\": 0}}");
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_reload_string(pool, bad, strlen(bad), 0, NULL, &err), -ERANGE);
	assert_string_equal(err.path, "app.compute.kernel.size");
	assert_int_equal(cfgpool_pool_version(pool), 2);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);

	/* Absent: defaults, no kernel section (scratch's size 16). */
	opts.section = "compute";
	pool = open_ok("{\"kernel\": 5}", &scratch_kernel, &opts);
	map_expect(pool, 10, 16, 1, NULL);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);

	opts.section = "app.compute";
	expect_open_error(HOST_DOC("{\"kernel\": {\"name\": \"mc_option\", \"rate\": 0, \"volatility\": 0.2, "
				   "\"paths\": 0, \"seed\": 1}}"),
			  NULL, &opts, CFGPOOL_ESCHEMA, "app.compute.kernel.paths", "got 0");
	expect_open_error(HOST_DOC("{\"kernel\": {}}"), NULL, &opts, CFGPOOL_ESCHEMA, "app.compute.kernel.name",
			  "missing");
	expect_open_error(HOST_DOC("{\"pool\": {\"wrokers\": 2}}"), &scratch_kernel, &opts, CFGPOOL_ESCHEMA,
			  "app.compute.pool.wrokers", "unknown key");
	expect_open_error(HOST_DOC("[1]"), &scratch_kernel, &opts, CFGPOOL_ESCHEMA, "app.compute", "object");
	if (out >= 0) {
		char doc[256];

		snprintf(doc, sizeof(doc), HOST_DOC("{\"pool\": {\"cpus\": [%d]}}"), out);
		expect_open_error(doc, &scratch_kernel, &opts, -EINVAL, "app.compute.pool.cpus[0]", "affinity mask");
	}
	assert_int_equal(atomic_load(&host.violations), 0);
}

/* cfgpool_pool_prep() makes the preparer open_config wants for a section; others are refused. */
static void pool_prep_for_open_config(void **state)
{
	const char *doc = HOST_DOC("{\"pool\": {\"workers\": 1}, \"kernel\": {\"size\": 24}}");
	cfgpool_pool_opts_t opts = {.section = "app.compute"}, other = {.section = "app"};
	cfgpool_pool_binding_t binding;
	cfgpool_prep_t prep;
	cfgpool_load_opts_t lopts = {.preps = &prep, .nprep = 1};
	cfgpool_config_t *cfg = NULL;
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	char longsec[CFGPOOL_ERROR_PATH_LEN + 1];

	(void)state;
	assert_int_equal(cfgpool_pool_prep(&scratch_kernel, &opts, &binding, &prep), 0);
	assert_ptr_equal(binding.kernel, &scratch_kernel);
	assert_string_equal(binding.section, "app.compute");
	assert_int_equal(load_str_opts(doc, &lopts, &cfg, &err), 0);
	/* Another section, another kernel, or no section: refused, the configuration stays the caller's. */
	assert_int_equal(cfgpool_pool_open_config(cfg, &scratch_kernel, &other, &pool, &err), -EINVAL);
	assert_int_equal(cfgpool_pool_open_config(cfg, &gate_kernel, &opts, &pool, &err), -EINVAL);
	assert_int_equal(cfgpool_pool_open_config(cfg, &scratch_kernel, NULL, &pool, &err), -EINVAL);
	assert_null(pool);
	assert_int_equal(cfgpool_pool_open_config(cfg, &scratch_kernel, &opts, &pool, &err), 0);
	map_expect(pool, 10, 24, 1, NULL);
	reload_ok(pool, HOST_DOC("{\"kernel\": {\"size\": 48}}"), 2);
	map_expect(pool, 10, 48, 2, NULL);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);

	/* A top-level configuration from cfgpool_kernel_prep() does not fit a section. */
	cfgpool_kernel_prep(&scratch_kernel, &prep);
	cfg = NULL;
	assert_int_equal(load_str_opts("{\"kernel\": {\"size\": 8}}", &lopts, &cfg, &err), 0);
	assert_int_equal(cfgpool_pool_open_config(cfg, &scratch_kernel, &opts, &pool, &err), -EINVAL);
	cfgpool_config_free(cfg);

	memset(longsec, 'a', sizeof(longsec) - 1);
	longsec[sizeof(longsec) - 1] = '\0';
	assert_int_equal(cfgpool_pool_prep(NULL, &(cfgpool_pool_opts_t){.section = longsec}, &binding, &prep), -EINVAL);
	assert_int_equal(cfgpool_pool_prep(NULL, NULL, NULL, &prep), -EINVAL);
	assert_int_equal(cfgpool_pool_prep(NULL, NULL, &binding, NULL), -EINVAL);
	assert_int_equal(cfgpool_pool_prep(NULL, NULL, &binding, &prep), 0);
	assert_string_equal(binding.section, "");
	assert_int_equal(atomic_load(&host.violations), 0);
}

static atomic_int warnings;

static void count_warning(void *arg, cfgpool_log_level_t level, const char *message)
{
	(void)arg, (void)message;
	if (level == CFGPOOL_LOG_WARN)
		atomic_fetch_add(&warnings, 1);
}

/* A reload changing a field the options set is not worth a warning; one they left is. */
static void reload_warns_only_for_fields_left_to_the_document(void **state)
{
	cfgpool_pool_opts_t opts = {.log = count_warning, .workers = 2};
	cfgpool_pool_t *pool;

	(void)state;
	atomic_store(&warnings, 0);
	pool = open_ok("{\"pool\": {\"workers\": 1}}", &scratch_kernel, &opts);
	reload_ok(pool, "{\"pool\": {\"workers\": 3}}", 2);
	assert_int_equal(atomic_load(&warnings), 0);
	reload_ok(pool, "{\"pool\": {\"workers\": 3, \"pin\": false}}", 3);
	assert_int_equal(atomic_load(&warnings), 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* ------------------------------------------------------------------------------------------ */
/* fork()                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* In the child: every check that fails gives its own exit status, 0 when all pass. */
static int child_checks(cfgpool_pool_t *pool, cfgpool_holder_t *h)
{
	const char *doc = "{\"kernel\": {\"size\": 8}}";
	struct scratch_out out[4];
	cfgpool_pool_stats_t st;
	cfgpool_error_t err;
	const cfgpool_config_t *cfg;
	cfgpool_pool_t *own_pool = NULL;
	cfgpool_holder_t *own_h = NULL;

	if (cfgpool_pool_map(pool, NULL, 0, out, 0, 4, NULL, 0) != CFGPOOL_EFORKED)
		return 1;
	if (cfgpool_pool_submit(pool, NULL, out, NULL, NULL, 0) != CFGPOOL_EFORKED)
		return 2;
	cfgpool_error_init(&err);
	if (cfgpool_pool_reload_string(pool, doc, strlen(doc), 0, NULL, &err) != CFGPOOL_EFORKED ||
	    err.code != CFGPOOL_EFORKED)
		return 3;
	if (cfgpool_pool_shutdown(pool) != CFGPOOL_EFORKED)
		return 4;
	if (cfgpool_pool_version(pool) != 2 || cfgpool_pool_workers(pool) != 2)
		return 5;
	cfgpool_pool_stats(pool, &st, NULL, 0);
	if (st.workers != 2 || st.completed == 0)
		return 6;
	cfg = cfgpool_holder_read_begin(h);
	if (cfg == NULL || cfgpool_config_version(cfg) != 1)
		return 7;
	cfgpool_holder_read_end(h);
	if (cfgpool_holder_reload_string(h, "{}", 2, CFGPOOL_RELOAD_SYNC, NULL, NULL) != CFGPOOL_EFORKED ||
	    cfgpool_holder_barrier(h) != CFGPOOL_EFORKED || cfgpool_holder_version(h) != 1)
		return 8;
	cfgpool_holder_destroy(h);
	if (cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN) != 0)
		return 9;
	if (strcmp(cfgpool_err_name(CFGPOOL_EFORKED), "EFORKED") != 0)
		return 10;
	/* Nor can it open a pool or a holder of its own: the parent's threads are still in
	 * liburcu's registry here (a grace period crashed on them). Into variables of their
	 * own: the copies of the parent's stay reachable, or valgrind counts them as leaks. */
	cfgpool_error_init(&err);
	if (cfgpool_pool_open_string(doc, strlen(doc), &scratch_kernel, NULL, &own_pool, &err) != CFGPOOL_EFORKED ||
	    err.code != CFGPOOL_EFORKED || strstr(err.text, "forked while the parent had a pool") == NULL ||
	    own_pool != NULL)
		return 11;
	if (cfgpool_holder_create(NULL, &own_h) != CFGPOOL_EFORKED)
		return 12;
	return 0;
}

/* In a child forked when no pool or holder was open: a pool of its own that works. */
static int child_opens_its_own(cfgpool_pool_t *unused_pool, cfgpool_holder_t *unused_h)
{
	const char *doc = "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 8}}";
	struct scratch_out out[16];
	cfgpool_error_t err;
	cfgpool_pool_t *pool;

	(void)unused_pool;
	(void)unused_h;
	cfgpool_error_init(&err);
	if (cfgpool_pool_open_string(doc, strlen(doc), &scratch_kernel, NULL, &pool, &err) != 0)
		return 1;
	if (cfgpool_pool_map(pool, NULL, 0, out, 0, 16, NULL, 0) != 0)
		return 2;
	/* A synchronous reload waits for a grace period, which walks liburcu's registry. */
	if (cfgpool_pool_reload_string(pool, doc, strlen(doc), CFGPOOL_RELOAD_SYNC, NULL, &err) != 0 ||
	    cfgpool_pool_version(pool) != 2)
		return 3;
	if (cfgpool_pool_map(pool, NULL, 0, out, 0, 16, NULL, 0) != 0)
		return 4;
	if (cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN) != 0)
		return 5;
	return 0;
}

/* Forks; the child returns what `child` returns as its exit status, which must be 0. */
static void in_child(int (*child)(cfgpool_pool_t *, cfgpool_holder_t *), cfgpool_pool_t *pool, cfgpool_holder_t *h)
{
	pid_t pid;
	int status = -1;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(test_timeout_seconds(30));
		_exit(child(pool, h));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A child forked with a pool and a holder open gets CFGPOOL_EFORKED from every call that
 * needs their threads, and from opening a pool or holder of its own; close and destroy
 * return at once; the parent goes on mapping, reloading and closes cleanly.
 */
static void fork_child_is_refused_parent_goes_on(void **state)
{
	cfgpool_holder_t *h = NULL;
	cfgpool_pool_t *pool;

	(void)state;
	pool = open_ok("{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 8}}", &scratch_kernel, NULL);
	map_expect(pool, 50, 8, 1, NULL);
	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 12}}", 2);
	assert_int_equal(cfgpool_holder_create(NULL, &h), 0);
	assert_int_equal(cfgpool_holder_reload_string(h, "{}", 2, 0, NULL, NULL), 0);

	in_child(child_checks, pool, h);

	map_expect(pool, 50, 12, 2, NULL);
	reload_ok(pool, "{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 20}}", 3);
	map_expect(pool, 50, 20, 3, NULL);
	assert_int_equal(cfgpool_holder_reload_string(h, "{}", 2, CFGPOOL_RELOAD_SYNC, NULL, NULL), 0);
	assert_int_equal(cfgpool_holder_barrier(h), 0);
	cfgpool_holder_destroy(h);
	assert_int_equal(cfgpool_pool_shutdown(pool), 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	assert_int_equal(atomic_load(&host.violations), 0);
}

/*
 * A process that forks after closing its pool and holder (or before opening any) leaves
 * the child free to open its own, reload it synchronously and close it.
 */
static void fork_after_close_child_opens_its_own(void **state)
{
	cfgpool_holder_t *h = NULL;
	cfgpool_pool_t *pool;

	(void)state;
	pool = open_ok("{\"pool\": {\"workers\": 2}, \"kernel\": {\"size\": 8}}", &scratch_kernel, NULL);
	map_expect(pool, 50, 8, 1, NULL);
	assert_int_equal(cfgpool_holder_create(NULL, &h), 0);
	cfgpool_holder_destroy(h);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	in_child(child_opens_its_own, NULL, NULL);
}

/* A host thread registered as a reader through cfgpool, alive until `go` is set. */
struct held_reader {
	atomic_bool registered, go;
	int rc;
};

static void *held_reader_main(void *arg)
{
	struct held_reader *r = arg;

	r->rc = cfgpool_reader_register(); /* read by the test after registered is set */
	atomic_store(&r->registered, true);
	while (!atomic_load(&r->go))
		usleep(1000);
	cfgpool_reader_unregister();
	return NULL;
}

/* No pool or holder open, but another thread registered by cfgpool: refused all the same. */
static int child_is_refused(cfgpool_pool_t *unused_pool, cfgpool_holder_t *unused_h)
{
	cfgpool_holder_t *h;

	(void)unused_pool;
	(void)unused_h;
	return cfgpool_holder_create(NULL, &h) == CFGPOOL_EFORKED ? 0 : 1;
}

/*
 * The registry the child inherits lists every registered thread, the host's own readers
 * among them: a child forked while another thread was registered by cfgpool refuses new
 * holders and pools even with none open; once that thread unregistered, it opens them.
 */
static void fork_with_another_reader_registered(void **state)
{
	struct held_reader r = {false, false, -1};
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, held_reader_main, &r), 0);
	while (!atomic_load(&r.registered))
		usleep(1000);
	assert_int_equal(r.rc, 0);
	in_child(child_is_refused, NULL, NULL);
	atomic_store(&r.go, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	in_child(child_opens_its_own, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(arg_reaches_prepare_init_and_run, fresh_host),
	    cmocka_unit_test_setup(prepare_arg_error_rejects_the_document, fresh_host),
	    cmocka_unit_test_setup(copied_builtin_with_arg, fresh_host),
	    cmocka_unit_test_setup(reload_rebuilds_each_threads_state_once, fresh_host),
	    cmocka_unit_test_setup(failed_reload_completes_the_task_and_retries, fresh_host),
	    cmocka_unit_test_setup(worker_reload_without_worker_init_starts_from_null, fresh_host),
	    cmocka_unit_test_setup(without_worker_reload_the_state_stays, fresh_host),
	    cmocka_unit_test_setup(opts_override_the_pool_section, fresh_host),
	    cmocka_unit_test_setup(opts_queue_capacity_sizes_the_queue, fresh_host),
	    cmocka_unit_test_setup(bad_opts_are_named, fresh_host),
	    cmocka_unit_test_setup(sections_under_a_key_of_the_hosts_choice, fresh_host),
	    cmocka_unit_test_setup(pool_prep_for_open_config, fresh_host),
	    cmocka_unit_test_setup(reload_warns_only_for_fields_left_to_the_document, fresh_host),
	    cmocka_unit_test_setup(fork_child_is_refused_parent_goes_on, fresh_host),
	    cmocka_unit_test_setup(fork_after_close_child_opens_its_own, fresh_host),
	    cmocka_unit_test_setup(fork_with_another_reader_registered, fresh_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
