/*
 * The pool of pinned workers that runs one kernel against the configuration it holds.
 * Included by <cfgpool/cfgpool.h>; compiles on its own, as C and as C++.
 */
#ifndef CFGPOOL_POOL_H
#define CFGPOOL_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <cfgpool/holder.h>
#include <cfgpool/kernel.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* The pool                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/*
 * A pool of worker threads, one per CPU by default and pinned to it, that runs one kernel
 * (see <cfgpool/kernel.h>) on inputs against the configuration it holds. Tasks go through
 * a bounded lock-free queue; each task runs against exactly one configuration snapshot,
 * pinned from its start to its end, and its result records that snapshot's version.
 *
 * Synchronization table (pool calls; "any" means any thread, concurrently):
 *   submit, map, reload_*  any, with each other, with stats, shutdown and close: a call
 *                          running when shutdown or close starts either completes normally
 *                          or returns -ESHUTDOWN, and every later one returns -ESHUTDOWN
 *   stats                  any, also after shutdown; one racing with close either
 *                          completes before close frees the pool or reports all zeros
 *   shutdown               any, any number of times, until close
 *   version, holder, kernel, workers, worker_cpu
 *                          any, until close starts (they read the pool without a gate)
 *   close                  one thread, once; not from inside a task or completion callback
 * From a task thread of the pool (a worker, or a thread helping in map: where its kernels
 * and callbacks run) a call that could wait for the pool's own tasks returns -EDEADLK
 * instead: map always, submit when the queue is full (with CFGPOOL_SUBMIT_NONBLOCK:
 * -EAGAIN). Close frees the pool when it returns, so no call may start after that: a host
 * whose threads may still call in shuts the pool down first, lets those threads see
 * -ESHUTDOWN and stop, then closes. A completion callback runs on a worker (or on a
 * thread helping in map); it must not block for long and must not call close.
 * Every call given a NULL pool returns -EINVAL (0 for version and workers, -1 for
 * worker_cpu, NULL for holder and kernel, zeroed stats; close is a no-op).
 *
 * fork(). A pool belongs to the process that opened it: a child forked while it is open
 * has a copy of its memory but none of its threads, so in the child submit, map,
 * reload_* and shutdown return CFGPOOL_EFORKED (at the cost of one load of a
 * process-wide counter, which a pthread_atfork() child handler advances), and close
 * returns 0 at once, without running worker_fini or freeing anything: the child's copy
 * goes when the child exits or execs. stats and the accessors still read the copy (the
 * counters as they were at the fork). The parent's pool is unaffected. A child that wants
 * a pool opens its own. Forking from inside a task or callback is not supported.
 */
typedef struct cfgpool_pool cfgpool_pool_t;

typedef enum cfgpool_log_level { CFGPOOL_LOG_ERROR, CFGPOOL_LOG_WARN, CFGPOOL_LOG_INFO } cfgpool_log_level_t;

/*
 * Pool options. Zero-initialise; fields may be added at the end in later versions. A zero
 * field is "not set". Open copies the struct and the section string: `cpus` and `section`
 * need not outlive the call; `log` and `log_arg` are used as long as the pool is open.
 *  log, log_arg    receives the pool's notices (e.g. more workers than CPUs); NULL: stderr
 *                  for warnings and errors, nothing for info.
 *  workers, cpus/ncpus, pin, queue_capacity
 *                  override the document's pool.workers, pool.cpus, pool.pin and
 *                  pool.queue_capacity: what the options set wins, then the document, then
 *                  the defaults (README). Checked like the document's fields (the same
 *                  ranges; CPUs without duplicates and in the opening thread's affinity
 *                  mask), but a bad one is -EINVAL with err->path naming the option
 *                  ("opts.workers", "opts.cpus[2]"). ncpus 0 leaves the CPUs unset (cpus
 *                  is then not read). pin: 1 pin, -1 do not pin, 0 not set. Reloads never
 *                  change what these shaped; a reload that changes a field the options
 *                  did not set is logged (a warning), as it takes effect only on reopening.
 *  section         where cfgpool's sections sit in the document: NULL or "" the top level
 *                  (`pool`, `kernel`), else a path (<cfgpool/config.h> syntax) to an object
 *                  holding them: "compute" reads compute.pool and compute.kernel and leaves
 *                  every other key, top-level `pool` and `kernel` included, to the host. An
 *                  absent object counts as an empty one; one that is not an object is
 *                  CFGPOOL_ESCHEMA at its path. Errors name the full path
 *                  ("compute.kernel.paths"), and the pool's reloads read the same section.
 *                  A kernel's prepare gets the object's `kernel` member as its section and
 *                  the whole document as its root. At most CFGPOOL_ERROR_PATH_LEN - 1 bytes,
 *                  else -EINVAL at "opts.section" (also for a malformed path).
 */
typedef struct cfgpool_pool_opts {
	void (*log)(void *arg, cfgpool_log_level_t level, const char *message);
	void *log_arg;
	unsigned workers;
	const int *cpus;
	size_t ncpus;
	int pin;
	unsigned queue_capacity;
	const char *section;
} cfgpool_pool_opts_t;

/* The result of one task. */
typedef struct cfgpool_result {
	int status;       /* 0, the kernel's negative code, or -ECANCELED */
	unsigned worker;  /* the thread that ran it: a worker index, or >= CFGPOOL_CALLER_WORKER */
	uint64_t version; /* the configuration version the task ran against; 0 if it never ran */
	uint64_t elapsed_ns;
} cfgpool_result_t;

/*
 * Opens a pool. The configuration comes from a file, a string, or a configuration the
 * caller loaded with load options from cfgpool_kernel_prep() (top-level sections only) or
 * cfgpool_pool_prep() of the same kernel and the same opts->section (the pool takes it
 * over on success; another preparer is -EINVAL). `kernel` may be NULL: the kernel is then
 * the built-in named by `kernel.name`. The `pool` section sets workers, CPUs, pinning,
 * queue capacity and spinning (README), each overridden by what `opts` (may be NULL) sets.
 * Each worker runs the kernel's worker_init on its own thread before open returns.
 * Thread-safe. Returns 0, a load error (with `err`), -EINVAL (a CPU of pool.cpus outside
 * the affinity mask, or a bad option, named in `err`), -ENOMEM, -EAGAIN (threads), or
 * worker_init's code.
 */
CFGPOOL_API int cfgpool_pool_open_file(const char *path, const cfgpool_kernel_t *kernel,
				       const cfgpool_pool_opts_t *opts, cfgpool_pool_t **out, cfgpool_error_t *err);
CFGPOOL_API int cfgpool_pool_open_string(const char *text, size_t len, const cfgpool_kernel_t *kernel,
					 const cfgpool_pool_opts_t *opts, cfgpool_pool_t **out, cfgpool_error_t *err);
CFGPOOL_API int cfgpool_pool_open_config(cfgpool_config_t *cfg, const cfgpool_kernel_t *kernel,
					 const cfgpool_pool_opts_t *opts, cfgpool_pool_t **out, cfgpool_error_t *err);

/*
 * Fills `prep` with the pool's preparer, for cfgpool_config_load_*() ahead of
 * cfgpool_pool_open_config(). It compiles the `pool` section (its schema, and every CPU
 * of pool.cpus checked against the loading thread's affinity mask) and binds the document
 * to `kernel`: a `kernel.name` must name it, and its prepare compiles the `kernel`
 * section. With `kernel` NULL the built-in named by `kernel.name` is bound. The
 * configuration layer itself gives `pool` and `kernel` no meaning: loaded without this
 * preparer, a document may use both keys for anything. Load options copy the
 * preparers into every configuration, so `prep` need not outlive the call.
 */
CFGPOOL_API void cfgpool_kernel_prep(const cfgpool_kernel_t *kernel, cfgpool_prep_t *prep);

/* What cfgpool_pool_prep() binds a preparer to. Filled by it; the fields are read-only. */
typedef struct cfgpool_pool_binding {
	const cfgpool_kernel_t *kernel;
	char section[CFGPOOL_ERROR_PATH_LEN]; /* opts->section, "" for the top level */
} cfgpool_pool_binding_t;

/*
 * cfgpool_kernel_prep() for a pool opened with `opts` (may be NULL): fills `binding` with
 * `kernel` and a copy of opts->section, and `prep` with the preparer that reads the
 * `pool` and `kernel` sections there (see cfgpool_pool_opts_t.section), for loading ahead
 * of cfgpool_pool_open_config() with the same kernel and section. `opts` is read during
 * the call only; `binding` is the preparer's arg, so it must outlive every configuration
 * loaded with `prep`. Thread-safe. Returns 0, or -EINVAL (binding or prep NULL, or a
 * section of CFGPOOL_ERROR_PATH_LEN bytes or more).
 */
CFGPOOL_API int cfgpool_pool_prep(const cfgpool_kernel_t *kernel, const cfgpool_pool_opts_t *opts,
				  cfgpool_pool_binding_t *binding, cfgpool_prep_t *prep);

enum {
	CFGPOOL_CLOSE_DRAIN = 0,  /* run everything queued, then stop */
	CFGPOOL_CLOSE_CANCEL = 1, /* complete queued tasks with -ECANCELED; running ones finish */
};

/*
 * Stops accepting tasks, finishes or cancels what is queued (every accepted task still
 * completes exactly once, its callback included), runs worker_fini on each worker, joins
 * the workers and frees everything. Blocks. NULL is a no-op. Returns 0.
 */
CFGPOOL_API int cfgpool_pool_close(cfgpool_pool_t *pool, int how);

/*
 * Stops the pool taking work, without freeing it: every submit, map and reload that
 * starts afterwards returns -ESHUTDOWN, and shutdown returns once none that started
 * before is still running (a running map first finishes its batch). Queued tasks still
 * run; stats and the accessors still work; close then finishes the job. From inside a
 * task, a callback or a read-side section it cannot wait for the calls in flight without
 * waiting for itself: it refuses new calls all the same and returns -EDEADLK at once.
 * Returns 0, -EINVAL (NULL) or -EDEADLK.
 */
CFGPOOL_API int cfgpool_pool_shutdown(cfgpool_pool_t *pool);

enum {
	/* Return -EAGAIN instead of waiting when the queue is full. */
	CFGPOOL_SUBMIT_NONBLOCK = 1u << 0,
};

/*
 * Called once per submitted task, after its output is written, on the thread that ran it.
 * `result` is valid during the call only.
 */
typedef void (*cfgpool_done_fn)(void *arg, void *output, const cfgpool_result_t *result);

/*
 * Queues one task: kernel(input) -> output, then done(arg, output, result). `input` and
 * `output` are borrowed until `done` runs. Lock-free unless the queue is full (then it
 * waits for room, or returns -EAGAIN with CFGPOOL_SUBMIT_NONBLOCK). On a task thread of
 * this pool (a kernel or a completion callback submitting) it never waits: a full queue
 * gives -EDEADLK, since the room might have to be made by the calling thread itself.
 * No allocation. Returns 0 (done will run exactly once), -EAGAIN, -EDEADLK or
 * -ESHUTDOWN (done will not run), -EINVAL (pool NULL).
 */
CFGPOOL_API int cfgpool_pool_submit(cfgpool_pool_t *pool, const void *input, void *output, cfgpool_done_fn done,
				    void *arg, unsigned flags);

/*
 * Runs the kernel on n inputs and waits for all of them: outputs[i] and results[i] (may be
 * NULL) belong to inputs[i]. Strides of 0 mean the kernel's input_size / output_size; a
 * nonzero stride below that size is refused (-EINVAL), so items never overlap. `inputs`
 * may be NULL when the kernel's input_size is 0, `outputs` when its output_size is 0:
 * each item then gets a NULL input or output.
 * With pool.caller_helps (the default) the calling thread takes part: a batch whose
 * expected work is below pool.wake_threshold_us runs entirely on it, and for tasks under
 * 200 us it works as the worker of its CPU while the other workers take the rest; it may
 * then also run other callers' queued tasks (their callbacks run on it). A helping thread
 * gets its kernel state from worker_init on its first help and gives it back with
 * worker_fini when it exits (or at close, on the closing thread, if it is still alive);
 * at most 64 threads help at once, the others (logged once) just wait. A failing item
 * does not stop the others. Thread-safe; blocks until the batch is done; no allocation
 * (but for a thread's first help: its slot). Not from a task thread of this pool (a
 * kernel or a callback): that returns -EDEADLK, as the batch could wait for the calling
 * thread. Returns 0 when every item succeeded, CFGPOOL_EKERNEL when at least one failed
 * (see results), -EINVAL, -EDEADLK, or -ESHUTDOWN / -EAGAIN (nothing was run).
 */
CFGPOOL_API int cfgpool_pool_map(cfgpool_pool_t *pool, const void *inputs, size_t in_stride, void *outputs,
				 size_t out_stride, size_t n, cfgpool_result_t *results, unsigned flags);

/*
 * Reloads the pool's configuration through its holder (see cfgpool_holder_reload_file()):
 * one path, whose preparer is bound to the kernel the pool runs, so a document naming
 * another kernel is refused (CFGPOOL_ESCHEMA at kernel.name) and the old configuration
 * stays. -EINVAL for a NULL pool, -ESHUTDOWN after shutdown or close started.
 */
CFGPOOL_API int cfgpool_pool_reload_file(cfgpool_pool_t *pool, const char *path, unsigned flags, uint64_t *version,
					 cfgpool_error_t *err);
CFGPOOL_API int cfgpool_pool_reload_string(cfgpool_pool_t *pool, const char *text, size_t len, unsigned flags,
					   uint64_t *version, cfgpool_error_t *err);

/* The current configuration version. Wait-free. */
CFGPOOL_API uint64_t cfgpool_pool_version(const cfgpool_pool_t *pool);

/*
 * The holder the pool publishes its configuration through, for readers outside tasks
 * (cfgpool_holder_read_begin/end, version, stats, barrier). It is const: reloads go
 * through cfgpool_pool_reload_*(), which count as the pool's; the holder's own reload
 * functions, given it through a cast, would still refuse another kernel's document.
 */
CFGPOOL_API const cfgpool_holder_t *cfgpool_pool_holder(const cfgpool_pool_t *pool);

/* The kernel the pool runs. */
CFGPOOL_API const cfgpool_kernel_t *cfgpool_pool_kernel(const cfgpool_pool_t *pool);

/* Number of workers, and the CPU worker i is pinned to (-1 when not pinned). */
CFGPOOL_API unsigned cfgpool_pool_workers(const cfgpool_pool_t *pool);
CFGPOOL_API int cfgpool_pool_worker_cpu(const cfgpool_pool_t *pool, unsigned i);

typedef struct cfgpool_worker_stats {
	int cpu;
	uint64_t tasks;
	uint64_t busy_ns;
	uint64_t parks; /* times the worker went to sleep */
	uint64_t wakes; /* times it was woken */
} cfgpool_worker_stats_t;

typedef struct cfgpool_pool_stats {
	uint64_t submitted;
	uint64_t completed; /* including failed and cancelled */
	uint64_t failed;    /* kernel returned an error */
	uint64_t cancelled;
	uint64_t caller_tasks; /* run by submitting threads helping in map */
	uint64_t queue_high_water;
	uint64_t parks, wakes;
	uint64_t reloads;        /* successful reloads after open */
	uint64_t reload_failures;
	unsigned workers;
} cfgpool_pool_stats_t;

/*
 * Copies the counters (each read atomically; the set is not one instant's). `workers`
 * (may be NULL) receives up to `nworkers` per-worker entries. Thread-safe.
 */
CFGPOOL_API void cfgpool_pool_stats(const cfgpool_pool_t *pool, cfgpool_pool_stats_t *out,
				    cfgpool_worker_stats_t *workers, size_t nworkers);

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_POOL_H */
