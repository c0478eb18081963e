/*
 * The pool's structure, for pool.c (lifecycle, submission, stats). Internal. The execution
 * layer below it does not see this struct: the workers get their crew (worker.h), the
 * callers their slots (caller.h), tasks their runner (task.h).
 *
 * Shared fields and what protects them:
 *   queue                      lock-free (queue.h)
 *   refusing                   set once by shutdown (and close); submit and map read it
 *                              inside an RCU read-side section, so shutdown's grace
 *                              period waits them out; reload reads it in the slow gate
 *   slow_calls, closed         the slow gate (pool.c): reload and stats against shutdown
 *                              and close, a seq_cst Dekker pair
 *   closing, cancel            atomic flags, set once by close, read by workers (through
 *                              the crew and its runner)
 *   crew                       the workers and the park/wake protocol (worker.h, worker.c)
 *   callers                    one slot per helping thread (caller.h)
 *   direct                     atomic, relaxed: tasks a caller ran without queueing them
 *   callers_full_noted         relaxed exchange: the "no caller slot left" notice, once
 *   fork_generation            written once by open, before the pool is shared; read-only
 * Lock order: the pool takes no lock of its own; the holder's mutex is taken by reloads
 * only; caller.c's ties lock is a leaf.
 */
#ifndef CFGPOOL_SRC_POOL_H
#define CFGPOOL_SRC_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

#include "caller.h"
#include "compat.h"
#include "prepared.h"
#include "queue.h"
#include "task.h"
#include "worker.h"

/*
 * The kernel a pool runs, whether it was opened by kernel.name, and where cfgpool's
 * sections sit in its documents ("" for the top level).
 */
struct cfgpool__binding {
	const cfgpool_kernel_t *kernel;
	struct cfgpool__plugin *plugin; /* the object kernel lives in (the pool's reference), or NULL */
	bool by_name;
	char section[CFGPOOL_ERROR_PATH_LEN];
};

struct cfgpool_pool {
	struct cfgpool__queue queue;
	/* Read by every submit and map; written once by close. */
	_Alignas(CFGPOOL_CACHELINE) atomic_bool refusing;
	atomic_bool closing;
	atomic_bool cancel;
	struct cfgpool__crew crew;
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint64_t direct;
	atomic_bool callers_full_noted;
	/* Calls inside the slow gate (reload, stats), and the flag that stops stats. */
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint32_t slow_calls;
	atomic_bool closed;

	cfgpool_holder_t *holder;
	const cfgpool_kernel_t *kernel;
	struct cfgpool__pool_params opened; /* the `pool` section the pool was opened with */
	struct cfgpool__binding binding;    /* arg of its holder's preparer; set before it exists */
	cfgpool_pool_opts_t opts;
	uint32_t fork_generation; /* set at open: every call compares it (snapshot.h) */
	unsigned nworkers;
	struct cfgpool__worker *workers;
	struct cfgpool__caller callers[CFGPOOL__MAX_CALLERS];
};

/*
 * The execution layer, as open and close use it (pool.c). start: starts pool->nworkers
 * workers on pool->workers (allocated and zeroed by open) once holder, kernel, queue and
 * the flags are set; on failure every started worker has exited and pool->nworkers says
 * how many had started. join (close, after wake_all): joins the workers, then finalises
 * every caller slot's kernel state (worker_fini, on the closing thread for threads still
 * alive; exited threads finalised theirs); after it no slot is initialised.
 */
int cfgpool__workers_start(struct cfgpool_pool *pool, const int *cpus, unsigned ncpu, bool pin,
			   cfgpool_error_t *err);
void cfgpool__workers_join(struct cfgpool_pool *pool);
void cfgpool__wake_all(struct cfgpool_pool *pool);
void cfgpool__log(const struct cfgpool_pool *pool, cfgpool_log_level_t level, const char *fmt, ...)
	CFGPOOL_PRINTF(3, 4);

#endif /* CFGPOOL_SRC_POOL_H */
