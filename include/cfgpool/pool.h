/*
 * The pool of pinned workers that runs one kernel against the configuration it holds.
 * Included by <cfgpool/cfgpool.h>; compiles on its own, as C and as C++.
 */
#ifndef CFGPOOL_POOL_H
#define CFGPOOL_POOL_H

#include <stdbool.h>
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
 *   submit, submit_opts, map, map_async, reload_*
 *                          any, with each other, with stats, shutdown and close: a call
 *                          running when shutdown or close starts either completes normally
 *                          or returns -ESHUTDOWN, and every later one returns -ESHUTDOWN
 *   batch_wait, batch_done, group_wait
 *                          any, concurrently, on the caller's own storage; they never touch
 *                          the pool, so they also work after close
 *   stats                  any, also after shutdown and while close joins the workers
 *                          (a kernel's worker_fini may call it, and sees every task);
 *                          never once close can have freed the pool
 *   shutdown               any, any number of times, until close
 *   version, holder, kernel, workers, worker_cpu
 *                          any, until close starts (they read the pool without a gate)
 *   close                  one thread, once; not from inside a task or completion callback
 * From a task thread of the pool (a worker, or a thread helping in map: where its kernels
 * and callbacks run) a call that could wait for the pool's own tasks returns -EDEADLK
 * instead: map always, submit when the queue is full (with CFGPOOL_SUBMIT_NONBLOCK:
 * -EAGAIN), map_async when its batch does not fit in the queue whole, batch_wait and
 * group_wait when they would block. Close frees the pool when it returns, so no call may start after that: a host
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
 * counters as they were at the fork). The parent's pool is unaffected. Nor can such a
 * child open a pool of its own: its liburcu registry still lists the parent's threads, so
 * every open there returns CFGPOOL_EFORKED (the error says why). A child forked while no
 * pool or holder was open (and no other thread was registered by cfgpool) opens its own
 * as usual. Forking from inside a task or callback is not supported.
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
	int status;       /* 0, the kernel's negative code, -ECANCELED, or -ETIMEDOUT (deadline) */
	unsigned worker;  /* the thread that ran it: a worker index, or >= CFGPOOL_CALLER_WORKER */
	uint64_t version; /* the configuration version the task ran against; 0 if it never ran */
	uint64_t elapsed_ns;
} cfgpool_result_t;

/*
 * Opens a pool. The configuration comes from a file, a string, or a configuration the
 * caller loaded with load options from cfgpool_kernel_prep() (top-level sections only) or
 * cfgpool_pool_prep() of the same kernel and the same opts->section (the pool takes it
 * over on success; another preparer is -EINVAL). `kernel` may be NULL: the kernel is then
 * the plug-in named by `kernel.plugin` (<cfgpool/plugin.h>; the pool keeps it loaded
 * until it closes, and every reload must name that same file, unchanged), else the
 * built-in named by `kernel.name`. The `pool` section sets workers, CPUs, pinning,
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
 * section. With `kernel` NULL the plug-in named by `kernel.plugin` is loaded and bound
 * (the configuration holds it loaded until it is freed), else the built-in named by
 * `kernel.name`; with `kernel` set a document naming a plug-in is CFGPOOL_ESCHEMA. The
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
 * Submit and map are told apart from later calls by an RCU grace period, which is the
 * process's: shutdown (and so close) also waits for every read-side section that began
 * before it, in any pool or holder of the process (a running task, a map waiting for its
 * batch, a host's reader), as a synchronous reload does. May block. Returns 0, -EINVAL
 * (NULL) or -EDEADLK.
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
 * expected work is below pool.wake_threshold_us runs entirely on it (unless batches come
 * back to back, less than pool.idle_spin_us apart, and its tasks take 1 us or more: then
 * the workers share it as they share longer batches), and for tasks under
 * 200 us it works as the worker of its CPU while the other workers take the rest; it may
 * then also run other callers' queued tasks (their callbacks run on it). A helping thread
 * gets its kernel state from worker_init on its first help and gives it back with
 * worker_fini when it exits (or at close, on the closing thread, if it is still alive);
 * at most 64 threads help at once, the others (logged once) just wait. Batches that
 * arrive at a regular period (map's and map_async's alike) teach idle workers when to be
 * awake for the next one (pool.periodic_spin_us, on by default). A failing item
 * does not stop the others. Thread-safe; blocks until the batch is done; no allocation
 * (but for a thread's first help: its slot). Not from a task thread of this pool (a
 * kernel or a callback): that returns -EDEADLK, as the batch could wait for the calling
 * thread. Returns 0 when every item succeeded, CFGPOOL_EKERNEL when at least one failed
 * (see results), -EINVAL, -EDEADLK, or -ESHUTDOWN / -EAGAIN (nothing was run).
 */
CFGPOOL_API int cfgpool_pool_map(cfgpool_pool_t *pool, const void *inputs, size_t in_stride, void *outputs,
				 size_t out_stride, size_t n, cfgpool_result_t *results, unsigned flags);

/* ------------------------------------------------------------------------------------------ */
/* Asynchronous batches, groups of tasks, deadlines                                           */
/* ------------------------------------------------------------------------------------------ */

/*
 * Deadlines. A batch or a task may carry a deadline: an absolute time on CLOCK_MONOTONIC in
 * nanoseconds (clock_gettime(CLOCK_MONOTONIC) as tv_sec * 1e9 + tv_nsec), 0 for none. A
 * task that has not started by its deadline completes with -ETIMEDOUT without running: its
 * result is written (version 0), its callback called, its batch or group counts it, and
 * the pool's stats count it in `timed_out`. Deadlines are cooperative: a thread cannot be
 * killed, so a task that started before its deadline runs to its end; its kernel sees the
 * deadline in ctx->deadline_ns and stops early only if it checks it.
 */

/*
 * The storage of one asynchronous batch, owned by the caller (on its stack, in an array,
 * in its own structs): map_async allocates nothing. Treat as opaque: its members are not
 * part of the API. Its size may grow in a later version with a new soname.
 */
typedef struct cfgpool_batch {
	uint64_t opaque_[8];
} cfgpool_batch_t;

/*
 * Called once per asynchronous batch, when its last item completed, on the thread that
 * completed it (a worker, a thread helping in map, or the caller of map_async for an empty
 * batch). `status` is what cfgpool_batch_wait() returns: 0 or CFGPOOL_EKERNEL. Runs after
 * the batch counts as done: a thread waiting for it may already have returned, so the
 * callback must not count on the batch's storage (it may have been reused) beyond the
 * pointer's identity; it may itself start a new batch in that storage. It must not block
 * for long, and must not call close.
 */
typedef void (*cfgpool_batch_done_fn)(void *arg, cfgpool_batch_t *batch, int status);

/*
 * Options of an asynchronous batch. Zero-initialise; fields may be added at the end.
 *  done, arg    the batch's callback, or NULL
 *  deadline_ns  every item's deadline (see "Deadlines"), 0 for none
 *  flags        CFGPOOL_SUBMIT_NONBLOCK
 */
typedef struct cfgpool_batch_opts {
	cfgpool_batch_done_fn done;
	void *arg;
	uint64_t deadline_ns;
	unsigned flags;
} cfgpool_batch_opts_t;

/*
 * Queues a batch of n items, as cfgpool_pool_map() runs them (same strides, NULL buffers,
 * results in input order, a status per item), and returns once every item is queued,
 * without waiting for any: the host may keep several batches in flight and do other work
 * meanwhile. The workers run every item; the calling thread runs none. When the whole
 * batch completed, `done` (opts, may be NULL) runs once and the batch counts as done
 * (cfgpool_batch_done(), cfgpool_batch_wait()). `opts` may be NULL (no callback, no
 * deadline, flags 0).
 * Queueing: when the queue has room for the whole batch it is queued in one step;
 * otherwise the call waits for room item by item, as submit does. With
 * CFGPOOL_SUBMIT_NONBLOCK, or from a task thread of this pool (a kernel or a callback: the
 * room could have to be made by the calling thread), it never waits: the batch is queued
 * whole or not at all (-EAGAIN, or -EDEADLK from a task thread).
 * Lifetime: inputs, outputs, results and the batch's storage are borrowed from a return
 * of 0 until the batch is done (wait returned 0 or CFGPOOL_EKERNEL, batch_done true, or
 * `done` called). An empty batch (n == 0) is done at once: `done` runs on the calling
 * thread before the call returns 0. On an error return nothing was queued, `done` will
 * not run, and the batch reads as done (wait returns 0 at once). A batch in flight may
 * be waited for after the pool was shut down or closed: close runs or cancels every item.
 * Thread-safe; lock-free unless it waits for room; no allocation. Returns 0, -EINVAL
 * (pool or batch NULL, a bad stride or buffer as for map, n above 2^30 - 1), -ESHUTDOWN,
 * -EAGAIN, -EDEADLK.
 */
CFGPOOL_API int cfgpool_pool_map_async(cfgpool_pool_t *pool, const void *inputs, size_t in_stride, void *outputs,
				       size_t out_stride, size_t n, cfgpool_result_t *results,
				       const cfgpool_batch_opts_t *opts, cfgpool_batch_t *batch);

/*
 * Waits until the batch is done, for at most timeout_ns (relative; 0: just look; -1, or
 * any negative value: no limit). Acquire: the batch's outputs and results are visible
 * when it returns 0 or CFGPOOL_EKERNEL. The waiting thread runs no task. Any number of
 * threads may wait for one batch. It may return while the batch's `done` is still
 * running. From a task thread of the batch's pool a wait that would block returns
 * -EDEADLK at once. Returns 0 (every item succeeded), CFGPOOL_EKERNEL (at least one
 * failed, timed out or was cancelled: see results), -ETIMEDOUT (not done yet; the batch
 * stays borrowed), -EDEADLK, -EINVAL (NULL).
 */
CFGPOOL_API int cfgpool_batch_wait(cfgpool_batch_t *batch, int64_t timeout_ns);

/* Whether the batch is done (see cfgpool_batch_wait()); acquire, as wait. Wait-free. NULL: true. */
CFGPOOL_API bool cfgpool_batch_done(const cfgpool_batch_t *batch);

/*
 * A group of submitted tasks to wait for: caller-owned storage, initialised by
 * cfgpool_group_init(). Treat as opaque. Tasks join it through cfgpool_pool_submit_opts()
 * (from any thread, also while others of the group run or while a thread waits for it);
 * each leaves it once its callback returned. It may hold tasks of several pools.
 */
typedef struct cfgpool_group {
	uint64_t opaque_[2];
} cfgpool_group_t;

/* Initialises an empty group. Not while the group is in use. */
CFGPOOL_API void cfgpool_group_init(cfgpool_group_t *group);

/*
 * Waits until no task of the group is pending, for at most timeout_ns (as batch_wait).
 * Acquire: the outputs of the group's tasks, and what their callbacks did, are visible
 * when it returns 0. The group may then be reused as it is (no new init), or dropped: it
 * is borrowed from each task's submit until that task completed. Any number of threads
 * may wait. Tasks joining during the wait are waited for too, if they joined before the
 * count reached zero. The status of each task is in its result (its callback); the wait
 * reports none. From a task thread of any pool a wait that would block returns -EDEADLK
 * at once. Returns 0, -ETIMEDOUT (tasks still pending), -EDEADLK, -EINVAL (NULL).
 */
CFGPOOL_API int cfgpool_group_wait(cfgpool_group_t *group, int64_t timeout_ns);

/*
 * Options of one submitted task. Zero-initialise; fields may be added at the end.
 *  done, arg    as submit's callback (may be NULL)
 *  group        the group the task joins (may be NULL)
 *  deadline_ns  see "Deadlines"; 0 for none
 *  flags        CFGPOOL_SUBMIT_NONBLOCK
 */
typedef struct cfgpool_task_opts {
	cfgpool_done_fn done;
	void *arg;
	cfgpool_group_t *group;
	uint64_t deadline_ns;
	unsigned flags;
} cfgpool_task_opts_t;

/*
 * cfgpool_pool_submit() with options (NULL: none). The task joins `group` before it is
 * queued and leaves it after its callback returned; a refused task (-EAGAIN, -EDEADLK,
 * -ESHUTDOWN) has left it again when the call returns. Lifetimes, progress and returns as submit's.
 */
CFGPOOL_API int cfgpool_pool_submit_opts(cfgpool_pool_t *pool, const void *input, void *output,
					 const cfgpool_task_opts_t *opts);

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
	uint64_t completed; /* including failed, cancelled and timed out */
	uint64_t failed;    /* kernel returned an error */
	uint64_t cancelled;
	uint64_t caller_tasks; /* run by submitting threads helping in map */
	uint64_t queue_high_water;
	uint64_t parks, wakes;
	uint64_t reloads;        /* successful reloads after open */
	uint64_t reload_failures;
	unsigned workers;
	uint64_t timed_out; /* completed with -ETIMEDOUT without running (see "Deadlines") */
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
