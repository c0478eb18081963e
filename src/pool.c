/*
 * The pool: opening (configuration, CPUs, workers), submission of single tasks and of
 * batches, the caller's help with its own batch, close with drain or cancel, and stats.
 * See pool.h for what protects each shared field.
 *
 * The gate. Every submit and map call runs inside an RCU read-side section (a thread-
 * local counter update, no shared write) and there checks `refusing`; close sets
 * `refusing` and then waits for a grace period, after which no call is still inside and
 * every later one sees the flag and returns -ESHUTDOWN. So a call racing with close either
 * is refused or completes normally, never touches freed memory, and every task it queued
 * runs (or is cancelled) before the workers exit. A map waits for its batch inside the
 * section; that only delays close (and synchronous reloads) until the batch is done.
 *
 * Running a batch. A parked worker costs about 50 us to wake here, far more than a tiny
 * task. When the calling thread helps (pool.caller_helps) it works as the worker of the
 * CPU it is on: that CPU's worker is reserved (takes no task) while the caller runs items
 * (it gives the CPU back before it sleeps on its batch), so that no CPU runs two task
 * threads, and the caller runs items until none are left. When the
 * expected work (items x the freshest average task time) is below
 * pool.wake_threshold_us, the caller runs the whole batch itself without queueing it:
 * nobody is woken and no worker pulls tiny items (and their cache lines) across CPUs. Otherwise the caller wakes parked workers of other CPUs directly, one
 * per remaining item, before it starts. When tasks are long (CALLER_MAX_TASK_NS) or the
 * caller does not help, the workers run the batch and the caller wakes one per item.
 * Workers that take a task while more are queued also wake the next.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_tree.h"
#include "rcu.h"
#include "error.h"
#include "futex.h"
#include "pool.h"
#include "snapshot.h"
#include "kernels/plugin.h"

/* ------------------------------------------------------------------------------------------ */
/* The pool's preparer                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* CPU i of the list the pool section or the open options give. */
static int cpu_at(const struct cfgpool__pool_params *pp, uint32_t i)
{
	return pp->opt_cpus != NULL ? pp->opt_cpus[i] : (int)pp->cpus->u.items[i].u.i;
}

/*
 * Every CPU of the list must be one this thread may run on. Errors name the option
 * ("opts.cpus[1]") or the document's value ("pool.cpus[1]", after `section` and a dot
 * when it is not empty).
 */
static int check_cpus(const struct cfgpool__pool_params *pp, const cpu_set_t *mask, const char *section,
		      cfgpool_error_t *err)
{
	for (uint32_t i = 0; i < pp->ncpus; i++) {
		int c = cpu_at(pp, i);

		if (c >= CPU_SETSIZE || !CPU_ISSET(c, mask)) {
			char path[CFGPOOL_ERROR_PATH_LEN + 32];

			if (pp->opt_cpus != NULL)
				snprintf(path, sizeof(path), "opts.cpus[%u]", i);
			else
				snprintf(path, sizeof(path), "%s%spool.cpus[%u]", section, *section ? "." : "", i);
			return cfgpool_error_set(err, -EINVAL, path,
						 "CPU %d is not in this process's affinity mask (%d CPUs allowed)", c,
						 CPU_COUNT(mask));
		}
	}
	return 0;
}

/*
 * The object holding cfgpool's sections: the root for "", else the one at `section`
 * (absent: none, so defaults and no `kernel` section).
 */
static int find_base(const char *section, const cfgpool_node_t *root, const cfgpool_node_t **base,
		     cfgpool_error_t *err)
{
	int rc;

	*base = root;
	if (*section == '\0')
		return 0;
	rc = cfgpool_lookup(root, section, base);
	if (rc == -ENOENT) {
		*base = NULL;
		return 0;
	}
	if (rc == CFGPOOL_EPATH)
		return cfgpool_error_set(err, -EINVAL, "opts.section", "malformed path \"%s\"", section);
	if (rc != 0 || cfgpool_node_type(*base) != CFGPOOL_TYPE_OBJECT)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, section,
					 "expected an object holding cfgpool's `pool` and `kernel` sections");
	return 0;
}

/* The schema, the CPUs and the kernel, on the object `base`; paths from "pool"/"kernel". */
static int prepare_base(const struct cfgpool__binding *b, const cfgpool_node_t *base, const cfgpool_node_t *root,
			struct cfgpool__prepared *pb, cfgpool_error_t *err)
{
	cpu_set_t mask;
	int rc;

	rc = cfgpool__pool_schema(base, &pb->pool, err);
	if (rc == 0 && sched_getaffinity(0, sizeof(mask), &mask) != 0)
		rc = cfgpool_error_set(err, -errno, NULL, "sched_getaffinity failed");
	if (rc == 0)
		rc = check_cpus(&pb->pool, &mask, "", err);
	if (rc == 0)
		rc = cfgpool__kernel_bind(b->kernel, b->plugin, b->by_name, base, root, &pb->kernel, err);
	return rc;
}

/*
 * Compiles the `pool` section (its schema, and pool.cpus against the affinity mask) and
 * binds the document to b->kernel (NULL: the plug-in kernel.plugin names, or the built-in
 * kernel.name names; b->plugin: the pool's plug-in), both found under b->section ("" for
 * the top level). Whatever a pool will refuse to open with is refused
 * here, at load time, with the document's name and the value's full path: an error under
 * a section is recorded first in a local struct, then with the section before its path.
 */
static int prepare_for(const struct cfgpool__binding *b, const cfgpool_node_t *root, void **params,
		       cfgpool_error_t *err)
{
	const char *section = b->section;
	struct cfgpool__prepared *pb;
	const cfgpool_node_t *base;
	cfgpool_error_t local;
	int rc;

	rc = find_base(section, root, &base, err);
	if (rc != 0)
		return rc;
	pb = calloc(1, sizeof(*pb));
	if (pb == NULL)
		return cfgpool_error_set(err, -ENOMEM, NULL, "out of memory");
	if (*section == '\0') {
		rc = prepare_base(b, base, root, pb, err);
	} else {
		cfgpool_error_init(&local);
		rc = prepare_base(b, base, root, pb, &local);
		if (rc != 0 && local.code != 0) {
			char path[2 * CFGPOOL_ERROR_PATH_LEN]; /* cfgpool_error_set() cuts it to fit */

			snprintf(path, sizeof(path), "%s%s%s", section, local.path[0] ? "." : "", local.path);
			cfgpool_error_set(err, local.code, path, "%s", local.text);
		}
	}
	if (rc != 0) {
		free(pb);
		return rc;
	}
	*params = pb;
	return 0;
}

/* The public preparer: `arg` is the kernel given to cfgpool_kernel_prep(), or NULL. */
static int pool_prepare(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg)
{
	struct cfgpool__binding b = {.kernel = arg};

	return prepare_for(&b, root, params, err);
}

/* The preparer of cfgpool_pool_prep(): `arg` is the caller's binding. */
static int section_prepare(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg)
{
	const cfgpool_pool_binding_t *pb = arg;
	struct cfgpool__binding b = {.kernel = pb->kernel};

	memcpy(b.section, pb->section, sizeof(b.section));
	return prepare_for(&b, root, params, err);
}

/*
 * The preparer of a pool's own holder: `arg` is the pool's binding, the kernel it runs
 * (and the plug-in it lives in, if any: every reload must name that same file, unchanged),
 * whether it was opened by name (then every reload must name the kernel too, as the
 * document it was opened with did) and the section it was opened with.
 */
static int bound_prepare(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg)
{
	return prepare_for(arg, root, params, err);
}

static void pool_release(void *params, void *arg)
{
	struct cfgpool__prepared *pb = params;

	(void)arg;
	if (pb == NULL)
		return;
	cfgpool__kernel_unbind(&pb->kernel);
	free(pb);
}

void cfgpool_kernel_prep(const cfgpool_kernel_t *kernel, cfgpool_prep_t *prep)
{
	prep->name = "pool";
	prep->prepare = pool_prepare;
	prep->release = pool_release;
	prep->arg = (void *)kernel;
}

/* Copies opts->section (NULL: "") into `section`, which has CFGPOOL_ERROR_PATH_LEN bytes. */
static int copy_section(const cfgpool_pool_opts_t *opts, char *section, cfgpool_error_t *err)
{
	const char *s = opts != NULL && opts->section != NULL ? opts->section : "";
	size_t len = strlen(s);

	if (len >= CFGPOOL_ERROR_PATH_LEN)
		return cfgpool_error_set(err, -EINVAL, "opts.section", "longer than %d bytes", CFGPOOL_ERROR_PATH_LEN - 1);
	memcpy(section, s, len + 1);
	return 0;
}

int cfgpool_pool_prep(const cfgpool_kernel_t *kernel, const cfgpool_pool_opts_t *opts, cfgpool_pool_binding_t *binding,
		      cfgpool_prep_t *prep)
{
	if (binding == NULL || prep == NULL)
		return -EINVAL;
	if (copy_section(opts, binding->section, NULL) != 0)
		return -EINVAL;
	binding->kernel = kernel;
	prep->name = "pool";
	prep->prepare = section_prepare;
	prep->release = pool_release;
	prep->arg = binding;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The gates                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * A forked child has none of the pool's threads (see snapshot.h): its calls refuse with
 * CFGPOOL_EFORKED before touching RCU, whose grace periods could wait for the parent's
 * readers there forever. One relaxed load of a process-wide counter per call.
 */
static inline bool pool_forked(const struct cfgpool_pool *pool)
{
	return cfgpool_unlikely(cfgpool__forked(pool->fork_generation));
}

/* What a call refused by the gate returns. */
static int gate_refusal(const struct cfgpool_pool *pool)
{
	return pool_forked(pool) ? CFGPOOL_EFORKED : -ESHUTDOWN;
}

CFGPOOL_HOT static bool gate_enter(struct cfgpool_pool *pool)
{
	if (pool_forked(pool))
		return false;
	if (cfgpool_unlikely(cfgpool_reader_register() != 0))
		cfgpool__die("cannot register the calling thread as an RCU reader");
	cfgpool__read_lock();
	/* Ordered by the grace period shutdown waits for: a call that sees false here
	 * finishes before shutdown returns; a call that starts after it sees true. */
	if (cfgpool_likely(!atomic_load_explicit(&pool->refusing, memory_order_relaxed)))
		return true;
	cfgpool__read_unlock();
	return false;
}

static void gate_leave(struct cfgpool_pool *pool)
{
	(void)pool;
	cfgpool__read_unlock();
}

/*
 * The slow gate, for calls that may block or take a mutex (reload) or that need not be
 * fast (stats): a count of calls inside, against a flag. Dekker: the caller increments
 * then loads the flag, the closer stores the flag then loads the count, all seq_cst, so
 * either the caller sees the flag and leaves or the closer sees the caller and waits.
 * `flag` is refusing (reload) or closed (stats, which still work after a shutdown).
 */
static bool slow_enter(struct cfgpool_pool *pool, atomic_bool *flag)
{
	atomic_fetch_add_explicit(&pool->slow_calls, 1, memory_order_seq_cst);
	if (cfgpool_likely(!atomic_load_explicit(flag, memory_order_seq_cst)))
		return true;
	atomic_fetch_sub_explicit(&pool->slow_calls, 1, memory_order_seq_cst);
	cfgpool__futex_wake(&pool->slow_calls, INT32_MAX);
	return false;
}

static void slow_leave(struct cfgpool_pool *pool)
{
	/* Release: what the call did happens before the closer's acquire load of 0. */
	if (atomic_fetch_sub_explicit(&pool->slow_calls, 1, memory_order_release) == 1)
		cfgpool__futex_wake(&pool->slow_calls, INT32_MAX);
}

/* Waits until no call is inside the slow gate (after raising its flags). */
static void slow_drain(struct cfgpool_pool *pool)
{
	for (;;) {
		uint32_t n = atomic_load_explicit(&pool->slow_calls, memory_order_seq_cst);
		struct timespec tick = {0, 1000000};

		if (n == 0)
			return;
		cfgpool__futex_wait(&pool->slow_calls, n, &tick);
	}
}

int cfgpool_pool_shutdown(cfgpool_pool_t *pool)
{
	if (pool == NULL)
		return -EINVAL;
	if (pool_forked(pool))
		return CFGPOOL_EFORKED;
	atomic_store_explicit(&pool->refusing, true, memory_order_seq_cst);
	/* Waiting here would wait for the section (a task, a callback) this thread is in. */
	if (cfgpool__reader_in_section())
		return -EDEADLK;
	/* No submit or map is inside after the grace period, no reload after the drain. */
	cfgpool__synchronize();
	slow_drain(pool);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Opening                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* The CPUs workers go on: the list (each checked against the affinity mask) or the mask. */
static int choose_cpus(const struct cfgpool__pool_params *pp, const char *section, int *cpus, unsigned *ncpu,
		       cfgpool_error_t *err)
{
	cpu_set_t mask;
	unsigned n = 0;
	int rc;

	if (sched_getaffinity(0, sizeof(mask), &mask) != 0)
		return cfgpool_error_set(err, -errno, NULL, "sched_getaffinity failed");
	/* The preparer checked on the loading thread; the opening one may differ. */
	rc = check_cpus(pp, &mask, section, err);
	if (rc != 0)
		return rc;
	if (pp->ncpus == 0) {
		for (int c = 0; c < CPU_SETSIZE && n < CFGPOOL__MAX_CPUS; c++) {
			if (CPU_ISSET(c, &mask))
				cpus[n++] = c;
		}
	} else {
		for (uint32_t i = 0; i < pp->ncpus; i++)
			cpus[n++] = cpu_at(pp, i);
	}
	*ncpu = n;
	return 0;
}

static void pool_free(struct cfgpool_pool *pool)
{
	cfgpool_holder_destroy(pool->holder); /* frees the configuration it publishes */
	cfgpool__queue_destroy(&pool->queue);
	free(pool->workers);
	/* Last: the workers have run worker_fini and the holder every release, the plug-in's code. */
	cfgpool__plugin_unref(pool->binding.plugin);
	free(pool);
}

/*
 * The pool's holder: it loads every reload with the pool's preparer bound to the kernel
 * the pool runs, so a document for another kernel is refused by the load itself,
 * whichever route it comes by (cfgpool_pool_reload_*, or the holder's own reloads).
 */
static int holder_for(struct cfgpool_pool *pool, cfgpool_error_t *err)
{
	cfgpool_prep_t prep = {.name = "pool", .prepare = bound_prepare, .release = pool_release, .arg = &pool->binding};
	cfgpool_load_opts_t lopts = {.preps = &prep, .nprep = 1};
	int rc;

	rc = cfgpool_holder_create(&lopts, &pool->holder);
	if (rc == CFGPOOL_EFORKED)
		return cfgpool_error_set(err, rc, NULL, "cannot open a pool in a child forked while the parent had a pool "
					 "or holder open or another thread registered as a reader: liburcu's registry here "
					 "still lists the parent's threads and no grace period can run (fork before opening "
					 "the first pool, or exec in the child)");
	if (rc != 0)
		return cfgpool_error_set(err, rc, NULL, "cannot create the configuration holder: %s",
					 cfgpool_strerror(rc));
	return 0;
}

/*
 * Opens a pool around `cfg`, which was loaded with the pool's preparer, and takes it over
 * on success. On failure `cfg` is freed when `owned` (it was loaded here), else left to
 * the caller as it was.
 */
static int pool_open(cfgpool_config_t *cfg, bool owned, bool by_name, const cfgpool_pool_opts_t *opts,
		     cfgpool_pool_t **out, cfgpool_error_t *err)
{
	const struct cfgpool__prepared *pb = cfgpool__prepared(cfg);
	struct cfgpool__pool_params eff = pb->pool; /* the document's, overridden by opts */
	const struct cfgpool__pool_params *pp = &eff;
	struct cfgpool_pool *pool;
	int cpus[CFGPOOL__MAX_CPUS];
	unsigned ncpu = 0;
	int rc;

	pool = aligned_alloc(CFGPOOL_CACHELINE, (sizeof(*pool) + CFGPOOL_CACHELINE - 1) & ~(size_t)(CFGPOOL_CACHELINE - 1));
	if (pool == NULL) {
		rc = cfgpool_error_set(err, -ENOMEM, NULL, "out of memory");
		goto fail_cfg;
	}
	memset(pool, 0, sizeof(*pool));
	if (opts != NULL)
		pool->opts = *opts;
	pool->opts.cpus = NULL; /* borrowed for the open only */
	pool->kernel = pb->kernel.kernel;
	pool->binding.kernel = pool->kernel;
	pool->binding.by_name = by_name;
	/* The pool's own reference: its kernel table points into the object (see pool_free). */
	pool->binding.plugin = pb->kernel.plugin;
	if (pool->binding.plugin != NULL)
		cfgpool__plugin_ref(pool->binding.plugin);
	rc = copy_section(opts, pool->binding.section, err);
	if (rc != 0)
		goto fail_pool;
	pool->opts.section = pool->binding.section;
	pool->opened = pb->pool;
	pool->opened.cpus = NULL; /* points into cfg, which a reload retires */
	/* Precedence: what opts set, then the document, then the defaults (in pb->pool). */
	rc = cfgpool__pool_apply_opts(opts, &eff, err);
	if (rc != 0)
		goto fail_pool;

	rc = choose_cpus(pp, pool->binding.section, cpus, &ncpu, err);
	if (rc != 0)
		goto fail_pool;
	pool->nworkers = pp->workers ? pp->workers : ncpu;
	if (pool->nworkers > ncpu)
		cfgpool__log(pool, CFGPOOL_LOG_WARN, "pool.workers = %u is more than the %u CPUs available: "
			     "workers share CPUs", pool->nworkers, ncpu);

	rc = holder_for(pool, err);
	if (rc != 0)
		goto fail_pool;
	pool->fork_generation = cfgpool__fork_generation(); /* registered by the holder's create */
	rc = cfgpool__queue_init(&pool->queue, pp->queue_capacity);
	if (rc != 0) {
		cfgpool_error_set(err, rc, NULL, "out of memory for a queue of %u tasks", pp->queue_capacity);
		goto fail_pool;
	}
	pool->workers = aligned_alloc(CFGPOOL_CACHELINE, pool->nworkers * sizeof(*pool->workers));
	if (pool->workers == NULL) {
		rc = cfgpool_error_set(err, -ENOMEM, NULL, "out of memory for %u workers", pool->nworkers);
		goto fail_pool;
	}
	memset(pool->workers, 0, pool->nworkers * sizeof(*pool->workers));
	/* Until tasks have been timed, assume they are long enough to be worth a wake-up. */
	for (unsigned i = 0; i < pool->nworkers; i++)
		atomic_init(&pool->workers[i].c.ewma_ns, (uint64_t)pp->wake_threshold_us * 1000u);
	rc = cfgpool__holder_publish_first(pool->holder, cfg);
	if (rc != 0) {
		cfgpool_error_set(err, rc, NULL, "%s",
				  rc == -EBUSY ? "the configuration is already published by a holder" : "out of memory");
		goto fail_pool;
	}
	rc = cfgpool__workers_start(pool, cpus, ncpu, pp->pin, err);
	if (rc != 0) {
		/* Every worker has exited: take the configuration back as it was. */
		cfgpool__holder_unpublish(pool->holder);
		goto fail_pool;
	}
	*out = pool;
	return 0;

fail_pool:
	pool_free(pool);
fail_cfg:
	if (owned)
		cfgpool_config_free(cfg);
	return rc;
}

/*
 * Loads a file (`path`) or else a string (`text`, `len`) with the preparer of `kernel` and
 * the options' section. The binding lives on this stack: only the load's preparer reads
 * it (the release ignores it), and the pool's holder prepares reloads with its own.
 */
static int load_for_kernel(const cfgpool_kernel_t *kernel, const cfgpool_pool_opts_t *opts, const char *path,
			   const char *text, size_t len, cfgpool_config_t **cfg, cfgpool_error_t *err)
{
	cfgpool_pool_binding_t binding;
	cfgpool_prep_t prep;
	cfgpool_load_opts_t lopts = {.preps = &prep, .nprep = 1};

	if (opts == NULL || opts->section == NULL || opts->section[0] == '\0')
		cfgpool_kernel_prep(kernel, &prep);
	else if (copy_section(opts, binding.section, err) != 0)
		return -EINVAL;
	else
		cfgpool_pool_prep(kernel, opts, &binding, &prep);
	if (path != NULL)
		return cfgpool_config_load_file(path, &lopts, cfg, err);
	return cfgpool_config_load_string(text, len, &lopts, cfg, err);
}

int cfgpool_pool_open_file(const char *path, const cfgpool_kernel_t *kernel, const cfgpool_pool_opts_t *opts,
			   cfgpool_pool_t **out, cfgpool_error_t *err)
{
	cfgpool_config_t *cfg = NULL;
	int rc;

	if (path == NULL || out == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "cfgpool_pool_open_file: path and out must not be NULL");
	rc = load_for_kernel(kernel, opts, path, NULL, 0, &cfg, err);
	if (rc == 0)
		rc = pool_open(cfg, true, kernel == NULL, opts, out, err);
	/* Opening's own errors (threads, memory) name the file as the load's do. */
	if (rc != 0)
		cfgpool__error_source(err, path);
	return rc;
}

int cfgpool_pool_open_string(const char *text, size_t len, const cfgpool_kernel_t *kernel,
			     const cfgpool_pool_opts_t *opts, cfgpool_pool_t **out, cfgpool_error_t *err)
{
	cfgpool_config_t *cfg = NULL;
	int rc;

	if (out == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "cfgpool_pool_open_string: out must not be NULL");
	rc = load_for_kernel(kernel, opts, NULL, text, len, &cfg, err);
	return rc != 0 ? rc : pool_open(cfg, true, kernel == NULL, opts, out, err);
}

/*
 * Whether `cfg` was loaded with the pool's preparer alone, bound to `kernel` and to the
 * section of `opts`: cfgpool_kernel_prep()'s (the top level only) or cfgpool_pool_prep()'s.
 */
static bool prepared_for(const struct cfgpool_config *cfg, const cfgpool_kernel_t *kernel,
			 const cfgpool_pool_opts_t *opts)
{
	const char *section = opts != NULL && opts->section != NULL ? opts->section : "";
	const cfgpool_pool_binding_t *b;

	if (cfg->nprep != 1)
		return false;
	if (cfg->preps[0].prepare == pool_prepare)
		return cfg->preps[0].arg == kernel && *section == '\0';
	if (cfg->preps[0].prepare != section_prepare)
		return false;
	b = cfg->preps[0].arg;
	return b->kernel == kernel && strcmp(b->section, section) == 0;
}

int cfgpool_pool_open_config(cfgpool_config_t *cfg, const cfgpool_kernel_t *kernel, const cfgpool_pool_opts_t *opts,
			     cfgpool_pool_t **out, cfgpool_error_t *err)
{
	if (cfg == NULL || out == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "cfgpool_pool_open_config: cfg and out must not be NULL");
	if (!prepared_for(cfg, kernel, opts))
		return cfgpool_error_set(err, -EINVAL, NULL,
					 "load the configuration with cfgpool_kernel_prep() or cfgpool_pool_prep() of "
					 "the same kernel and section");
	return pool_open(cfg, false, kernel == NULL, opts, out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Closing                                                                                    */
/* ------------------------------------------------------------------------------------------ */

int cfgpool_pool_close(cfgpool_pool_t *pool, int how)
{
	if (pool == NULL)
		return 0;
	/* Nothing to join or wait for in a forked child: its copy is left as it is. */
	if (pool_forked(pool))
		return 0;
	if (how == CFGPOOL_CLOSE_CANCEL)
		atomic_store_explicit(&pool->cancel, true, memory_order_relaxed);
	if (cfgpool__reader_in_section())
		cfgpool__die("cfgpool_pool_close() from inside a task, a callback or a read-side section");
	/* No call is inside submit, map or reload after this: nothing new can be queued. */
	cfgpool_pool_shutdown(pool);
	/* seq_cst: pairs with a parking worker's load (see worker.c). */
	atomic_store_explicit(&pool->closing, true, memory_order_seq_cst);
	cfgpool__wake_all(pool);
	cfgpool__workers_join(pool);

	/* Workers empty the queue before they exit; a task left over is a broken invariant. */
	if (cfgpool__queue_size(&pool->queue) != 0)
		cfgpool__die("tasks left in the queue after every worker exited");
	/* Stats work until here (a kernel's worker_fini may take them); none is inside after
	 * the drain, and any later one sees `closed` and reports zeros. */
	atomic_store_explicit(&pool->closed, true, memory_order_seq_cst);
	slow_drain(pool);
	pool_free(pool);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Submission                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Whether the calling thread runs this pool's tasks: a worker, or a caller helping in map. */
static bool on_task_thread(const struct cfgpool_pool *pool)
{
	return cfgpool__task_thread_of() == &pool->crew.run;
}

/*
 * Pushes, waiting for room unless `nonblock`. A task thread of this pool never waits: the
 * room it would wait for may have to be made by itself (one worker whose callback submits
 * to a full queue), so it gets -EDEADLK instead.
 */
static int push_task(struct cfgpool_pool *pool, const struct cfgpool__task *task, bool nonblock)
{
	if (cfgpool_likely(cfgpool__queue_push(&pool->queue, task)))
		return 0;
	if (nonblock)
		return -EAGAIN;
	if (on_task_thread(pool))
		return -EDEADLK;
	cfgpool__crew_push_wait(&pool->crew, task);
	return 0;
}

/* Submit's and submit_opts' common part: the task joins its group before it is queued. */
static inline int submit_task(struct cfgpool_pool *pool, const struct cfgpool__task *task, unsigned flags)
{
	struct cfgpool__group *g = (struct cfgpool__group *)(void *)task->group;
	int rc;

	if (pool == NULL)
		return -EINVAL;
	if (!gate_enter(pool))
		return gate_refusal(pool);
	/* Relaxed: the push's release publishes it to the thread that completes the task,
	 * whose leave is a read-modify-write of the same word, after it. */
	if (g != NULL)
		atomic_fetch_add_explicit(&g->word, 1, memory_order_relaxed);
	rc = push_task(pool, task, flags & CFGPOOL_SUBMIT_NONBLOCK);
	if (rc == 0)
		cfgpool__crew_wake_one(&pool->crew, NULL);
	else if (g != NULL)
		cfgpool__group_leave(g);
	gate_leave(pool);
	return rc;
}

int cfgpool_pool_submit(cfgpool_pool_t *pool, const void *input, void *output, cfgpool_done_fn done, void *arg,
			unsigned flags)
{
	struct cfgpool__task task = {.input = input, .output = output, .done = done, .arg = arg};

	return submit_task(pool, &task, flags);
}

int cfgpool_pool_submit_opts(cfgpool_pool_t *pool, const void *input, void *output, const cfgpool_task_opts_t *opts)
{
	struct cfgpool__task task = {.input = input, .output = output};

	if (opts == NULL)
		return submit_task(pool, &task, 0);
	task.done = opts->done;
	task.arg = opts->arg;
	task.group = opts->group;
	task.deadline_ns = opts->deadline_ns;
	return submit_task(pool, &task, opts->flags);
}

/* One map call, from its checked arguments to its completion. */
struct map_call {
	struct cfgpool__batch b;
	const char *inputs;
	size_t in_stride;
	char *outputs;
	size_t out_stride;
	size_t n;
	struct cfgpool__caller *c;    /* the caller's slot when it helps, else NULL */
	struct cfgpool__worker *home; /* the worker whose CPU the helping caller reserved */
	uint64_t spin_ns;
};

/*
 * Checks map's arguments and fills in m's. A stride of 0 is the kernel's size; a smaller
 * one would let items overlap and the last run past the caller's buffer. A NULL buffer is
 * allowed where the kernel reads or writes nothing: every item then gets NULL.
 */
CFGPOOL_HOT static int map_args(const struct cfgpool_pool *pool, const void *inputs, size_t in_stride, void *outputs,
		    size_t out_stride, size_t n, struct map_call *m)
{
	size_t in_size = pool->kernel->input_size, out_size = pool->kernel->output_size;

	if (n >= BATCH_WAITING || (in_stride != 0 && in_stride < in_size) ||
	    (out_stride != 0 && out_stride < out_size))
		return -EINVAL;
	if (n > 0 && ((inputs == NULL && in_size > 0) || (outputs == NULL && out_size > 0)))
		return -EINVAL;
	m->inputs = inputs;
	m->in_stride = inputs == NULL ? 0 : in_stride ? in_stride : in_size;
	m->outputs = outputs;
	m->out_stride = outputs == NULL ? 0 : out_stride ? out_stride : out_size;
	m->n = n;
	m->c = NULL;
	m->home = NULL;
	return 0;
}

/*
 * Item i's input or output. A NULL buffer has a stride of 0 (map_args), so every item gets
 * NULL; the arithmetic is on integers, since even NULL + 0 is undefined for pointers.
 */
static inline void *item_at(const void *base, size_t stride, size_t i)
{
	return (void *)((uintptr_t)base + i * stride);
}

static void map_item(struct map_call *m, size_t i, struct cfgpool__task *t)
{
	t->input = item_at(m->inputs, m->in_stride, i);
	t->output = item_at(m->outputs, m->out_stride, i);
	t->index = i;
}

/*
 * Tasks this long run on the workers alone. The caller is not pinned: over a long batch
 * the scheduler may move it onto a CPU whose worker is busy, leaving its reserved CPU
 * idle (measured: 8 x 1 ms tasks, 4.6 ms with the caller helping against 4.1 ms
 * without), while the wake-up it would save is small against such a task.
 */
#define CALLER_MAX_TASK_NS 200000u

/*
 * Tasks at least this long are spread over the workers even in a batch below
 * pool.wake_threshold_us when batches come back to back (the caller's previous map
 * returned less than pool.idle_spin_us ago): a worker that ran the previous one is still
 * spinning and halves the batch for the price of a few cache lines a task, and one that
 * parked is woken once and then spins through the following gaps. Shorter tasks stay on
 * the caller, where a worker would spend more on pulling them than it saves.
 */
#define SPREAD_MIN_NS 1000u

/*
 * Decides who runs the batch: whether the caller helps (m->c), and whether it runs the
 * whole batch itself without the queue (true).
 */
CFGPOOL_HOT static bool map_plan(struct cfgpool_pool *pool, struct map_call *m)
{
	struct cfgpool__run_settings s;
	uint64_t estimate;
	bool full = false;

	cfgpool__run_settings(&pool->crew.run, &s);
	m->spin_ns = s.spin_ns;
	/* Relaxed loads and exchange here: a statistic and a once-only notice, no pairing. */
	if (s.caller_helps)
		m->c = cfgpool__caller_get(pool->callers, &pool->crew.run, &pool->workers[0].c.ewma_ns, &full);
	if (full && !atomic_exchange_explicit(&pool->callers_full_noted, true, memory_order_relaxed))
		cfgpool__log(pool, CFGPOOL_LOG_WARN, "more than %d threads call map on this pool at once: the "
			     "others wait for their batches without helping", CFGPOOL__MAX_CALLERS);
	/* A caller that ran tasks in its previous map has an average as fresh as the
	 * workers' for batches that follow one another, on its own cache line; each worker's
	 * is written by that worker after every task, and reading them costs a transfer from
	 * each worker's CPU before the first item is queued. */
	if (m->c != NULL && m->c->ran_last)
		estimate = atomic_load_explicit(&m->c->c.ewma_ns, memory_order_relaxed);
	else
		estimate = cfgpool__crew_estimate_ns(&pool->crew, m->c ? &m->c->c : NULL);
	if (m->c != NULL && estimate >= CALLER_MAX_TASK_NS) {
		m->c->ran_last = false;
		m->c = NULL;
	}
	/* A caller that runs nothing spins on a CPU a worker needs: only when the batch is
	 * expected to end within the spin, else it sleeps at once. */
	if (m->c == NULL && (m->n + pool->crew.n - 1) / pool->crew.n * estimate > m->spin_ns)
		m->spin_ns = 0;
	/* Cheaper than a wake-up: the caller runs it all, queueing nothing, so no worker
	 * spinning elsewhere pulls items (and their cache lines) across CPUs. */
	if (m->c == NULL || m->n * estimate >= s.threshold_ns)
		return false;
	return m->n == 1 || estimate < SPREAD_MIN_NS || m->c->last_end_ns == 0 ||
	       cfgpool__now_ns() - m->c->last_end_ns >= s.spin_ns;
}

/*
 * Runs a whole batch on the calling thread, in order, without the queue. Without results
 * nobody sees a task's own time: the batch is timed once, not each task (a clock read
 * here costs 25 ns, about what an empty task costs without it).
 */
CFGPOOL_HOT static void run_inline(struct cfgpool_pool *pool, struct map_call *m)
{
	struct cfgpool__task t = {.batch = &m->b};
	uint64_t clock = 0, start = 0;
	uint64_t *timed = m->b.results != NULL ? &clock : NULL;

	/* Relaxed: a counter for stats, which reads it after the queue's head. */
	atomic_fetch_add_explicit(&pool->direct, m->n, memory_order_relaxed);
	if (timed == NULL)
		start = cfgpool__now_ns();
	for (size_t i = 0; i < m->n; i++) {
		map_item(m, i, &t);
		cfgpool__task_run(&pool->crew.run, &t, m->c->index, &m->c->kstate, &m->c->c, timed);
	}
	if (timed == NULL) {
		clock = cfgpool__now_ns();
		cfgpool__task_note_run(&m->c->c, clock - start, m->n, clock);
	}
	m->c->last_end_ns = clock; /* the last task's end, or 0 if none was timed */
	m->c->ran_last = true;
}

/*
 * Queues every item. When the queue is full a helping caller runs the item itself;
 * otherwise it waits for room, unless asked not to block before anything was queued
 * (-EAGAIN: nothing queued).
 */
CFGPOOL_HOT static int push_items(struct cfgpool_pool *pool, struct map_call *m, unsigned flags)
{
	struct cfgpool__task t = {.batch = &m->b};

	for (size_t i = 0; i < m->n; i++) {
		map_item(m, i, &t);
		if (cfgpool__queue_push(&pool->queue, &t))
			continue;
		if (m->c != NULL) {
			uint64_t clock = 0;

			atomic_fetch_add_explicit(&pool->direct, 1, memory_order_relaxed); /* as in run_inline() */
			cfgpool__task_run(&pool->crew.run, &t, m->c->index, &m->c->kstate, &m->c->c, &clock);
		} else if (i == 0 && (flags & CFGPOOL_SUBMIT_NONBLOCK)) {
			return -EAGAIN;
		} else {
			cfgpool__crew_push_wait(&pool->crew, &t);
		}
	}
	cfgpool__queue_note_depth(&pool->queue);
	return 0;
}

/* Runs queued tasks (when helping) and waits until every item of the batch completed. */
CFGPOOL_HOT static void batch_wait(struct cfgpool_pool *pool, struct map_call *m)
{
	struct cfgpool__task task;
	uint64_t spin_start = 0, clock = 0;

	for (;;) {
		/* Acquire: pairs with the release in task.c's complete(): outputs are visible. */
		uint32_t w = atomic_load_explicit(&m->b.word, memory_order_acquire);

		if ((w & ~BATCH_WAITING) == 0)
			return;
		if (m->c != NULL && cfgpool__queue_pop(&pool->queue, &task)) {
			cfgpool__crew_room_signal(&pool->crew);
			cfgpool__task_run(&pool->crew.run, &task, m->c->index, &m->c->kstate, &m->c->c, &clock);
			cfgpool__crew_follow(&pool->crew, &m->home);
			spin_start = 0;
			continue;
		}
		clock = 0; /* waiting is not task time */
		if (spin_start == 0)
			spin_start = cfgpool__now_ns();
		if (cfgpool__now_ns() - spin_start < m->spin_ns) {
			/* The workers running our items may share this CPU: let them have it. */
			for (int i = 0; i < 16; i++)
				cfgpool__cpu_relax();
			sched_yield();
			continue;
		}
		/* A caller that sleeps runs nothing: it hands its CPU back to that CPU's worker
		 * first. Kept, the reservation would strand whatever is queued behind a
		 * producer stalled mid-push (the caller's pop fails) once the worker parked. */
		cfgpool__crew_unreserve(&pool->crew, m->home, NULL);
		m->home = NULL;
		/* Sleep until the last item completes; the completer sees the bit and wakes us. */
		if (!(w & BATCH_WAITING) &&
		    !atomic_compare_exchange_weak_explicit(&m->b.word, &w, w | BATCH_WAITING, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		cfgpool__futex_wait(&m->b.word, w | BATCH_WAITING, NULL);
	}
}

/* Queues the batch, wakes workers for it, helps or waits until it is done. */
CFGPOOL_HOT static int run_queued(struct cfgpool_pool *pool, struct map_call *m, unsigned flags)
{
	uint64_t tasks = 0;
	int rc;

	/* The helping caller is this CPU's worker for the batch; see the top of the file. */
	if (m->c != NULL) {
		m->home = cfgpool__crew_reserve(&pool->crew);
		tasks = atomic_load_explicit(&m->c->c.tasks, memory_order_relaxed); /* its own counter */
	}
	rc = push_items(pool, m, flags);
	if (rc != 0)
		return rc; /* only a caller that does not help gets here: it reserved nothing */
	/* Wake parked workers for the items the caller will not run. */
	for (size_t k = m->c ? 1 : 0; k < m->n && cfgpool__crew_wake_one(&pool->crew, m->home); k++)
		;
	/* The arrival idle workers learn the period of, once the workers have theirs: the
	 * learner's line was last read by them, and taking it back is a transfer the first
	 * item need not wait for. A worker cannot be idle again before this unless the whole
	 * batch took less than the note does. */
	if (cfgpool__arrivals_wanted(&pool->crew.arrivals))
		cfgpool__arrivals_note(&pool->crew.arrivals, cfgpool__now_ns());
	batch_wait(pool, m);
	/* Others' tasks may have queued up behind the reservation. */
	cfgpool__crew_unreserve(&pool->crew, m->home, NULL);
	if (m->c != NULL) {
		m->c->last_end_ns = cfgpool__now_ns();
		m->c->ran_last = atomic_load_explicit(&m->c->c.tasks, memory_order_relaxed) != tasks;
	}
	return 0;
}

CFGPOOL_HOT int cfgpool_pool_map(cfgpool_pool_t *pool, const void *inputs, size_t in_stride, void *outputs, size_t out_stride,
		     size_t n, cfgpool_result_t *results, unsigned flags)
{
	const struct cfgpool__runner *prev;
	struct map_call m;
	int rc;

	if (pool == NULL || map_args(pool, inputs, in_stride, outputs, out_stride, n, &m) != 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	/* A map waits for its items, which may need this very thread. */
	if (on_task_thread(pool))
		return -EDEADLK;
	if (!gate_enter(pool))
		return gate_refusal(pool);
	atomic_init(&m.b.word, (uint32_t)n);
	atomic_init(&m.b.failed, false);
	m.b.results = results;
	m.b.async = false;
	/* While it runs tasks the caller is a task thread of the pool (their callbacks too). */
	prev = cfgpool__task_thread_enter(&pool->crew.run);
	if (map_plan(pool, &m)) {
		run_inline(pool, &m);
		rc = 0;
	} else {
		rc = run_queued(pool, &m, flags);
	}
	cfgpool__task_thread_leave(prev);
	gate_leave(pool);
	if (rc != 0)
		return rc;
	return atomic_load_explicit(&m.b.failed, memory_order_relaxed) ? CFGPOOL_EKERNEL : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Asynchronous batches and groups                                                            */
/* ------------------------------------------------------------------------------------------ */

/*
 * An asynchronous batch lives in the caller's cfgpool_batch_t. Its word counts the items
 * not yet completed, with BATCH_FAILED and BATCH_WAITING (task.h); the thread completing
 * the last item calls `done` (task.c, complete_async()). The caller runs none of its items:
 * it returns as soon as they are queued, and a waiter just sleeps on the word.
 */
_Static_assert(sizeof(struct cfgpool__batch) <= sizeof(cfgpool_batch_t), "cfgpool_batch_t is too small");
_Static_assert(_Alignof(struct cfgpool__batch) <= _Alignof(cfgpool_batch_t), "cfgpool_batch_t is misaligned");
_Static_assert(sizeof(struct cfgpool__group) <= sizeof(cfgpool_group_t), "cfgpool_group_t is too small");
_Static_assert(_Alignof(struct cfgpool__group) <= _Alignof(cfgpool_group_t), "cfgpool_group_t is misaligned");

static inline struct cfgpool__batch *batch_of(cfgpool_batch_t *batch)
{
	return (struct cfgpool__batch *)(void *)batch;
}

static inline struct cfgpool__group *group_of(cfgpool_group_t *group)
{
	return (struct cfgpool__group *)(void *)group;
}

/*
 * Queues every item of asynchronous batch b: whole in one claim when there is room, else
 * (when `may_wait`) item by item, waiting for room as submit does. False: nothing was
 * queued (no room for the whole batch, and it may not wait). Once the first item is
 * queued b may complete at any moment: nothing here reads it.
 */
static bool push_async(struct cfgpool_pool *pool, struct map_call *m, struct cfgpool__batch *b, uint64_t deadline_ns,
		       bool may_wait)
{
	struct cfgpool__task t = {.batch = b, .deadline_ns = deadline_ns};
	size_t pos;

	if (cfgpool__queue_claim_n(&pool->queue, m->n, &pos)) {
		for (size_t i = 0; i < m->n; i++) {
			map_item(m, i, &t);
			cfgpool__queue_publish(&pool->queue, pos + i, &t);
		}
	} else if (may_wait) {
		for (size_t i = 0; i < m->n; i++) {
			map_item(m, i, &t);
			if (!cfgpool__queue_push(&pool->queue, &t))
				cfgpool__crew_push_wait(&pool->crew, &t);
		}
	} else {
		return false;
	}
	cfgpool__queue_note_depth(&pool->queue);
	return true;
}

int cfgpool_pool_map_async(cfgpool_pool_t *pool, const void *inputs, size_t in_stride, void *outputs,
			   size_t out_stride, size_t n, cfgpool_result_t *results, const cfgpool_batch_opts_t *opts,
			   cfgpool_batch_t *batch)
{
	static const cfgpool_batch_opts_t none;
	struct cfgpool__batch *b = batch_of(batch);
	struct map_call m;
	bool may_wait;

	if (batch == NULL)
		return -EINVAL;
	/* Not in flight until its items are queued: an error leaves it reading as done. */
	atomic_init(&b->word, 0);
	if (pool == NULL || n > BATCH_COUNT || map_args(pool, inputs, in_stride, outputs, out_stride, n, &m) != 0)
		return -EINVAL;
	if (opts == NULL)
		opts = &none;
	b->async = true;
	b->results = results;
	b->done = opts->done;
	b->arg = opts->arg;
	b->run = &pool->crew.run;
	atomic_init(&b->failed, false);
	if (n == 0) {
		if (opts->done != NULL)
			opts->done(opts->arg, batch, 0);
		return 0;
	}
	/* A task thread must not wait for room it may have to make itself. */
	may_wait = !on_task_thread(pool) && !(opts->flags & CFGPOOL_SUBMIT_NONBLOCK);
	if (!gate_enter(pool))
		return gate_refusal(pool);
	/* Relaxed: the push's release publishes the count with the items. */
	atomic_store_explicit(&b->word, (uint32_t)n, memory_order_relaxed);
	if (cfgpool__arrivals_wanted(&pool->crew.arrivals))
		cfgpool__arrivals_note(&pool->crew.arrivals, cfgpool__now_ns());
	if (!push_async(pool, &m, b, opts->deadline_ns, may_wait)) {
		atomic_store_explicit(&b->word, 0, memory_order_relaxed);
		gate_leave(pool);
		return (opts->flags & CFGPOOL_SUBMIT_NONBLOCK) ? -EAGAIN : -EDEADLK;
	}
	/* From here b may be done and reused: only m's copy of n is read. */
	for (size_t k = 0; k < m.n && cfgpool__crew_wake_one(&pool->crew, NULL); k++)
		;
	gate_leave(pool);
	return 0;
}

/*
 * Sleeps on `word` while it equals `expected`, until `end` (monotonic ns; 0: no limit).
 * False: the time is up.
 */
static bool wait_until(_Atomic uint32_t *word, uint32_t expected, uint64_t end)
{
	struct timespec ts;
	uint64_t now, left;

	if (end == 0) {
		cfgpool__futex_wait(word, expected, NULL);
		return true;
	}
	now = cfgpool__now_ns();
	if (now >= end)
		return false;
	left = end - now;
	ts.tv_sec = (time_t)(left / 1000000000u);
	ts.tv_nsec = (long)(left % 1000000000u);
	cfgpool__futex_wait(word, expected, &ts);
	return true;
}

/* The end of a wait of timeout_ns (> 0) from now, or 0 for no limit (negative). */
static uint64_t wait_end(int64_t timeout_ns)
{
	uint64_t now;

	if (timeout_ns < 0)
		return 0;
	now = cfgpool__now_ns();
	return now + (uint64_t)timeout_ns > now ? now + (uint64_t)timeout_ns : UINT64_MAX;
}

/*
 * Batch and group waits: until the count in `word` (under `mask`) is zero, raising
 * `waiting` (the bit the last completer looks for) before each sleep. `owner` is the
 * runner of the pool whose task threads must not block here, or NULL for every pool's.
 * Returns 0 with the last value seen in *seen, -ETIMEDOUT or -EDEADLK.
 */
static int wait_zero(_Atomic uint32_t *word, uint32_t mask, uint32_t waiting, const struct cfgpool__runner *owner,
		     int64_t timeout_ns, uint32_t *seen)
{
	uint64_t end = 0;

	for (bool first = true;; first = false) {
		/* Acquire: pairs with the completers' release decrements (task.c,
		 * complete_async() and cfgpool__group_leave()): their outputs are visible. */
		uint32_t w = atomic_load_explicit(word, memory_order_acquire);

		if ((w & mask) == 0) {
			*seen = w;
			return 0;
		}
		if (timeout_ns == 0)
			return -ETIMEDOUT;
		if (first) {
			const struct cfgpool__runner *tt = cfgpool__task_thread_of();

			/* What it waits for may be queued behind the calling thread's own task. */
			if (owner != NULL ? tt == owner : tt != NULL)
				return -EDEADLK;
			end = wait_end(timeout_ns);
		}
		/* Acquire on both outcomes, as the load above. */
		if (!(w & waiting) &&
		    !atomic_compare_exchange_weak_explicit(word, &w, w | waiting, memory_order_acquire,
							   memory_order_acquire))
			continue;
		if (!wait_until(word, w | waiting, end))
			return -ETIMEDOUT;
	}
}

int cfgpool_batch_wait(cfgpool_batch_t *batch, int64_t timeout_ns)
{
	struct cfgpool__batch *b = batch_of(batch);
	uint32_t w;
	int rc;

	if (batch == NULL)
		return -EINVAL;
	rc = wait_zero(&b->word, BATCH_COUNT, BATCH_WAITING, b->run, timeout_ns, &w);
	if (rc != 0)
		return rc;
	return (w & BATCH_FAILED) ? CFGPOOL_EKERNEL : 0;
}

bool cfgpool_batch_done(const cfgpool_batch_t *batch)
{
	const struct cfgpool__batch *b = (const struct cfgpool__batch *)(const void *)batch;

	/* Acquire: as in wait_zero(). */
	return batch == NULL || (atomic_load_explicit(&b->word, memory_order_acquire) & BATCH_COUNT) == 0;
}

void cfgpool_group_init(cfgpool_group_t *group)
{
	if (group != NULL)
		atomic_init(&group_of(group)->word, 0);
}

/*
 * The group's waiting bit stays set once the count reached zero: the next time it does,
 * the leaving task makes one futex call for nobody.
 */
int cfgpool_group_wait(cfgpool_group_t *group, int64_t timeout_ns)
{
	uint32_t w;

	if (group == NULL)
		return -EINVAL;
	return wait_zero(&group_of(group)->word, ~GROUP_WAITING, GROUP_WAITING, NULL, timeout_ns, &w);
}

/* ------------------------------------------------------------------------------------------ */
/* The execution layer, as opening and closing use it                                         */
/* ------------------------------------------------------------------------------------------ */

int cfgpool__workers_start(struct cfgpool_pool *pool, const int *cpus, unsigned ncpu, bool pin,
			   cfgpool_error_t *err)
{
	struct cfgpool__crew *crew = &pool->crew;
	int rc;

	crew->run.holder = pool->holder;
	crew->run.kernel = pool->kernel;
	crew->run.cancel = &pool->cancel;
	crew->queue = &pool->queue;
	crew->closing = &pool->closing;
	crew->workers = pool->workers;
	crew->n = pool->nworkers;
	cfgpool__arrivals_init(&crew->arrivals);
	rc = cfgpool__crew_start(crew, cpus, ncpu, pin, err);
	if (rc != 0)
		pool->nworkers = crew->n;
	return rc;
}

void cfgpool__workers_join(struct cfgpool_pool *pool)
{
	cfgpool__crew_join(&pool->crew);
	cfgpool__callers_close(pool->callers);
}

void cfgpool__wake_all(struct cfgpool_pool *pool)
{
	cfgpool__crew_wake_all(&pool->crew);
}

void cfgpool__log(const struct cfgpool_pool *pool, cfgpool_log_level_t level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pool->opts.log != NULL)
		pool->opts.log(pool->opts.log_arg, level, msg);
	else if (level != CFGPOOL_LOG_INFO)
		fprintf(stderr, "cfgpool: %s: %s\n", level == CFGPOOL_LOG_ERROR ? "error" : "warning", msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Reload, accessors, stats                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Fields of `pool` that shape the threads and the queue apply only to a new pool. */
static void note_fixed_fields(struct cfgpool_pool *pool)
{
	const struct cfgpool__pool_params *a = &pool->opened, *b;
	const cfgpool_pool_opts_t *o = &pool->opts;
	const char *sec = pool->binding.section;

	/* A field the open options set does not follow the document: its change is moot. */
	b = &cfgpool__prepared(cfgpool_holder_read_begin(pool->holder))->pool;
	if ((!o->workers && a->workers != b->workers) || (!o->ncpus && a->ncpus != b->ncpus) ||
	    (!o->pin && a->pin != b->pin) || (!o->queue_capacity && a->queue_capacity != b->queue_capacity))
		cfgpool__log(pool, CFGPOOL_LOG_WARN,
			     "%s%spool.workers, pool.cpus, pool.pin and pool.queue_capacity changed: they take "
			     "effect when the pool is reopened", sec, *sec ? "." : "");
	cfgpool_holder_read_end(pool->holder);
}

/*
 * The one reload path: the holder's, whose preparer is bound to the pool's kernel (see
 * holder_for()). From a file (`path`) or else a string.
 */
static int reload(struct cfgpool_pool *pool, const char *path, const char *text, size_t len, unsigned flags,
		  uint64_t *version, cfgpool_error_t *err)
{
	int rc;

	if (pool == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "reload: the pool must not be NULL");
	if (pool_forked(pool))
		return cfgpool_error_set(err, CFGPOOL_EFORKED, NULL, "reload: the pool was opened by the parent process");
	if (!slow_enter(pool, &pool->refusing))
		return cfgpool_error_set(err, -ESHUTDOWN, NULL, "reload: the pool is shut down");
	if (path != NULL)
		rc = cfgpool_holder_reload_file(pool->holder, path, flags, version, err);
	else
		rc = cfgpool_holder_reload_string(pool->holder, text, len, flags, version, err);
	if (rc == 0)
		note_fixed_fields(pool);
	slow_leave(pool);
	return rc;
}

int cfgpool_pool_reload_file(cfgpool_pool_t *pool, const char *path, unsigned flags, uint64_t *version,
			     cfgpool_error_t *err)
{
	if (path == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "cfgpool_pool_reload_file: path must not be NULL");
	return reload(pool, path, NULL, 0, flags, version, err);
}

int cfgpool_pool_reload_string(cfgpool_pool_t *pool, const char *text, size_t len, unsigned flags,
			       uint64_t *version, cfgpool_error_t *err)
{
	return reload(pool, NULL, text, len, flags, version, err);
}

uint64_t cfgpool_pool_version(const cfgpool_pool_t *pool)
{
	return pool != NULL ? cfgpool_holder_version(pool->holder) : 0;
}

const cfgpool_holder_t *cfgpool_pool_holder(const cfgpool_pool_t *pool)
{
	return pool != NULL ? pool->holder : NULL;
}

const cfgpool_kernel_t *cfgpool_pool_kernel(const cfgpool_pool_t *pool)
{
	return pool != NULL ? pool->kernel : NULL;
}

unsigned cfgpool_pool_workers(const cfgpool_pool_t *pool)
{
	return pool != NULL ? pool->nworkers : 0;
}

int cfgpool_pool_worker_cpu(const cfgpool_pool_t *pool, unsigned i)
{
	return pool != NULL && i < pool->nworkers ? pool->workers[i].cpu : -1;
}

static void add_counters(cfgpool_pool_stats_t *s, const struct cfgpool__counters *c)
{
	s->completed += atomic_load_explicit(&c->tasks, memory_order_relaxed);
	s->failed += atomic_load_explicit(&c->failed, memory_order_relaxed);
	s->cancelled += atomic_load_explicit(&c->cancelled, memory_order_relaxed);
	s->timed_out += atomic_load_explicit(&c->timed_out, memory_order_relaxed);
	s->parks += atomic_load_explicit(&c->parks, memory_order_relaxed);
	s->wakes += atomic_load_explicit(&c->wakes, memory_order_relaxed);
}

void cfgpool_pool_stats(const cfgpool_pool_t *pool, cfgpool_pool_stats_t *out, cfgpool_worker_stats_t *workers,
			size_t nworkers)
{
	struct cfgpool_pool *p = (struct cfgpool_pool *)pool; /* the gate's count only */
	cfgpool_holder_stats_t hs;

	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (pool == NULL || !slow_enter(p, &p->closed))
		return;
	out->workers = pool->nworkers;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		const struct cfgpool__worker *w = &pool->workers[i];

		add_counters(out, &w->c);
		if (workers != NULL && i < nworkers) {
			workers[i].cpu = w->cpu;
			workers[i].tasks = atomic_load_explicit(&w->c.tasks, memory_order_relaxed);
			workers[i].busy_ns = atomic_load_explicit(&w->c.busy_ns, memory_order_relaxed);
			workers[i].parks = atomic_load_explicit(&w->c.parks, memory_order_relaxed);
			workers[i].wakes = atomic_load_explicit(&w->c.wakes, memory_order_relaxed);
		}
	}
	for (unsigned i = 0; i < CFGPOOL__MAX_CALLERS; i++) {
		uint64_t before = out->completed;

		add_counters(out, &pool->callers[i].c);
		out->caller_tasks += out->completed - before;
	}
	/* Submitted last: a task counted as completed above was queued (or run directly)
	 * before these loads. Every push advances the queue's head exactly once. */
	out->submitted = atomic_load_explicit(&pool->queue.head, memory_order_acquire) +
			 atomic_load_explicit(&pool->direct, memory_order_relaxed);
	out->queue_high_water = atomic_load_explicit(&pool->queue.high_water, memory_order_relaxed);
	cfgpool_holder_stats(pool->holder, &hs);
	out->reloads = hs.published > 0 ? hs.published - 1 : 0;
	out->reload_failures = hs.failed;
	slow_leave(p);
}
