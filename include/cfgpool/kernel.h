/*
 * The kernel plug-in interface: the numerical function a pool runs on every input, and
 * the built-in kernels. Included by <cfgpool/cfgpool.h>;
 * compiles on its own, as C and as C++.
 *
 * A kernel is a table of functions. Only `run` is required.
 *
 *  prepare      compiles the document's `kernel` section (and anything else it reads) into
 *               an immutable parameter block stored with each configuration snapshot, so
 *               `run` never looks strings up. Runs once per load or reload, on the loading
 *               thread, before publication; a failure rejects the whole document: report
 *               it with cfgpool_error_set(err, code, "kernel.<field>", ...). `section` is
 *               the `kernel` object (NULL when the document has none); `root` the whole
 *               document. The block must not point into the document unless it is only
 *               used while that snapshot is (it lives exactly as long as the snapshot).
 *  release      frees a block from prepare (after the snapshot's grace period).
 *  worker_init  runs on each worker's own thread before its first task, with the
 *               configuration current at that moment, and creates that worker's state
 *               (scratch buffers, ...), handed to every task the worker runs. Also runs on
 *               a submitting thread the first time it helps run its own batch, with
 *               `worker` >= the pool's worker count. Nonzero return: the pool fails to
 *               open with that code.
 *  worker_fini  frees the state: on the worker's thread after its last task (for a
 *               submitting thread's state: on that thread when it exits, or on the thread
 *               that closes the pool if it is still alive then).
 *  run          computes one output from one input. It reads the configuration only
 *               through ctx (the snapshot is pinned for the whole call, so every read sees
 *               one version) and returns 0 or a negative code, which becomes that item's
 *               status; the pool goes on with other items. It may run concurrently on every
 *               worker: it must not write anything shared without synchronization.
 *  strerror     the kernel's own message for a negative code its run returned, or NULL to
 *               fall back to cfgpool_strerror(); the member itself may be NULL. Called from
 *               any thread, concurrently; the string must stay valid as long as the kernel.
 *
 * input_size and output_size are the sizes in bytes of one input and one output struct,
 * the default strides of cfgpool_pool_map().
 *
 * Host data. `arg` is the host's own pointer (a function table, a model loaded elsewhere,
 * a logger): a host copies a built-in table and sets arg, or fills in its own. The pool
 * never reads or frees what it points to; every task sees it as ctx->arg, and the members
 * below receive it. Each is optional and, when set, is called instead of its argument-less
 * counterpart, at the same point and on the same thread:
 *  prepare_arg      instead of prepare (same contract, `arg` first)
 *  worker_init_arg  instead of worker_init (same contract, `arg` first)
 *  worker_reload    rebuilds a thread's state for a newer configuration. Called on the
 *                   running thread (a worker, or a submitting thread helping in map) just
 *                   before the first task it runs against a configuration version newer
 *                   than the one its state was made (or last rebuilt) for, inside that
 *                   task's read-side section, with that task's configuration and params.
 *                   *state holds the current state; replace it
 *                   (free the old one yourself) or change it in place. On 0 the task runs
 *                   with the new *state. On a nonzero return the task does not run and
 *                   completes with that code (a positive one becomes -EINVAL); *state
 *                   must then still hold a state worker_fini can free, the thread keeps
 *                   it, and its next task, on a newer configuration, calls worker_reload
 *                   again. Versions a thread never ran a task against are skipped: it is
 *                   called once for the newest one, not once per reload. Without
 *                   worker_reload a state stays as worker_init made it. Without
 *                   worker_init (and worker_init_arg) a thread's state starts NULL, made
 *                   for the version current when the thread started, so worker_reload
 *                   may build it for the thread's first newer version.
 * The table and everything `arg` points to must outlive every pool running the kernel and
 * every configuration loaded with its preparer (released after the last grace period, so
 * after cfgpool_pool_close() returns). The kernel's members may run concurrently on
 * several threads, all given the same `arg`: what they write through it needs their own
 * synchronization.
 *
 * codec (the last member): how the kernel's inputs and outputs look as JSON (see
 * <cfgpool/codec.h>), for the command line and the bindings; NULL when it has none.
 *
 * Plug-ins. A kernel table may also live in a shared object that a configuration names
 * with `"kernel": {"plugin": "PATH.so"}`; <cfgpool/plugin.h> defines that ABI: the one
 * entry point (cfgpool_plugin_v1, defined by CFGPOOL_PLUGIN(table)) and the version rule
 * (the same CFGPOOL_PLUGIN_ABI and the same major and minor version, whatever the patch
 * level; anything else is refused with both versions in the message).
 */
#ifndef CFGPOOL_KERNEL_H
#define CFGPOOL_KERNEL_H

#include <cfgpool/codec.h>
#include <cfgpool/config.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The worker index a task run by a submitting thread gets starts here (see worker_init). */
#define CFGPOOL_CALLER_WORKER 0x40000000u

/* What a task sees. Valid for the duration of the `run` call only. */
typedef struct cfgpool_task_ctx {
	const cfgpool_config_t *config; /* the snapshot the task runs against */
	const void *params;             /* the kernel's prepared block in that snapshot */
	void *state;                    /* the running thread's state from worker_init */
	unsigned worker;                /* the running worker's index */
	uint64_t version;               /* cfgpool_config_version(config) */
	void *arg;                      /* the kernel table's `arg` */
	uint64_t deadline_ns;           /* the task's deadline (CLOCK_MONOTONIC ns; 0: none), see pool.h */
} cfgpool_task_ctx_t;

typedef struct cfgpool_kernel {
	const char *name;
	size_t input_size;
	size_t output_size;
	int (*prepare)(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
		       cfgpool_error_t *err);
	void (*release)(void *params);
	int (*worker_init)(const cfgpool_config_t *config, const void *params, unsigned worker, void **state);
	void (*worker_fini)(void *state, unsigned worker);
	int (*run)(const cfgpool_task_ctx_t *ctx, const void *input, void *output);
	const char *(*strerror)(int code);
	/* Host data and the members that receive it (see the top of this file). */
	void *arg;
	int (*prepare_arg)(void *arg, const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
			   cfgpool_error_t *err);
	int (*worker_init_arg)(void *arg, const cfgpool_config_t *config, const void *params, unsigned worker,
			       void **state);
	int (*worker_reload)(void *arg, const cfgpool_config_t *config, const void *params, unsigned worker,
			     void **state);
	const cfgpool_codec_t *codec;
} cfgpool_kernel_t;

/*
 * The built-in kernel named `name` ("mc_option", "spin", "curve"), or NULL. The returned
 * table is static. Thread-safe.
 */
CFGPOOL_API const cfgpool_kernel_t *cfgpool_kernel_find(const char *name);

/* The built-in kernels, NULL-terminated. */
CFGPOOL_API const cfgpool_kernel_t *const *cfgpool_kernel_list(void);

/* --- mc_option: Monte Carlo price of a European option ------------------------------------
 * Config: "kernel": {"name": "mc_option", "rate": r, "volatility": sigma > 0,
 *                    "paths": N (1 .. 100000000), "seed": S (integer >= 0),
 *                    "antithetic": true|false (default true)}
 * Deterministic: the same seed and input give the same output bit for bit, whichever
 * worker runs it. The standard error is that of the estimator (antithetic pairs counted
 * as one sample each).
 */
typedef enum cfgpool_option_type { CFGPOOL_CALL = 0, CFGPOOL_PUT = 1 } cfgpool_option_type_t;

typedef struct cfgpool_option_input {
	double spot;     /* > 0 */
	double strike;   /* > 0 */
	double maturity; /* years, > 0 */
	cfgpool_option_type_t type;
} cfgpool_option_input_t;

typedef struct cfgpool_option_output {
	double price;
	double std_error;
	uint64_t paths;
} cfgpool_option_output_t;

/* The Black-Scholes closed-form price of the same option (for checks). */
CFGPOOL_API double cfgpool_black_scholes(const cfgpool_option_input_t *in, double rate, double volatility);

/* --- spin: a calibrated synthetic CPU load --------------------------------------------------
 * Config: "kernel": {"name": "spin"} (no other fields).
 * Input: a number of floating-point iterations (a dependent multiply-add chain, so the
 * time is proportional and cannot be optimized away). cfgpool_spin_calibrate() measures
 * iterations per microsecond on the calling CPU, so a benchmark can ask for 20 us tasks.
 */
typedef struct cfgpool_spin_input {
	uint64_t iterations;
} cfgpool_spin_input_t;

typedef struct cfgpool_spin_output {
	double value;
} cfgpool_spin_output_t;

CFGPOOL_API double cfgpool_spin_calibrate(void);

/* --- curve: memory-bound interpolation over a table held in the configuration ---------------
 * Config: "kernel": {"name": "curve", "points": [[t0, y0], [t1, y1], ...]} with t strictly
 * increasing (2 .. 50000000 points), compiled into two arrays by prepare.
 * Input: `count` query times generated from `seed` uniformly over [t0, t_last]; output:
 * the sum of the linearly interpolated values. The cost is dominated by cache misses of
 * the binary searches when the table is large.
 */
typedef struct cfgpool_curve_input {
	uint64_t seed;
	uint32_t count;
} cfgpool_curve_input_t;

typedef struct cfgpool_curve_output {
	double sum;
} cfgpool_curve_output_t;

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_KERNEL_H */
