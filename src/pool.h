/*
 * The pool's shared structures, for pool.c (lifecycle, submission, stats) and worker.c
 * (the worker threads and the code that runs one task). Internal.
 *
 * Shared fields and what protects them:
 *   queue                      lock-free (queue.h)
 *   refusing                   set once by shutdown (and close); submit and map read it
 *                              inside an RCU read-side section, so shutdown's grace
 *                              period waits them out; reload reads it in the slow gate
 *   slow_calls, closed         the slow gate (pool.c): reload and stats against shutdown
 *                              and close, a seq_cst Dekker pair
 *   closing, cancel            atomic flags, set once by close, read by workers
 *   nparked, worker->state     atomic; the park/wake handshake is a Dekker pattern with
 *                              the queue: see cfgpool__worker_park() and cfgpool__wake_one()
 *   worker counters, ewma_ns   written by their worker only (relaxed), read by stats and map
 *   worker->reserved           callers running their batch on that worker's CPU (atomic)
 *   caller slots               claimed by CAS on in_use; counters written by the claimant
 *   direct                     atomic, relaxed: tasks a caller ran without queueing them
 *   space_wanted, space_seq    a submitter waiting for room; see push_task() in pool.c
 * Lock order: the pool takes no lock of its own; the holder's mutex is taken by reloads
 * only.
 */
#ifndef CFGPOOL_SRC_POOL_H
#define CFGPOOL_SRC_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

#include "compat.h"
#include "prepared.h"
#include "queue.h"

#define CFGPOOL__MAX_CALLERS 64

/* The kernel a pool runs, and whether it was opened by kernel.name. */
struct cfgpool__binding {
	const cfgpool_kernel_t *kernel;
	bool by_name;
};

/* Counters of one thread that runs tasks; written by that thread only. */
struct cfgpool__counters {
	_Atomic uint64_t tasks;
	_Atomic uint64_t failed;
	_Atomic uint64_t cancelled;
	_Atomic uint64_t busy_ns;
	_Atomic uint64_t parks;
	_Atomic uint64_t wakes;
	_Atomic uint64_t ewma_ns; /* running average of this thread's task times */
	_Atomic uint64_t ewma_at; /* when it last changed (monotonic ns; 0: never) */
};

enum { WORKER_RUNNING = 0, WORKER_PARKED = 1 };

struct cfgpool__worker {
	/* The park futex word, alone on its line: wakers CAS it. */
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint32_t state;
	/* Callers running their own batch on this worker's CPU: while nonzero the worker
	 * takes no task, so that the CPU is not shared by two threads running tasks. */
	_Atomic uint32_t reserved;
	_Alignas(CFGPOOL_CACHELINE) struct cfgpool_pool *pool;
	unsigned index;
	int cpu; /* pinned CPU, or -1 */
	pthread_t thread;
	void *kstate;     /* the kernel's per-worker state */
	uint64_t spin_ns; /* this worker's current spin window (worker.c: idle) */
	int init_rc;
	struct cfgpool__counters c;
};

/* A submitting thread helping in map borrows its own one of these for the call. */
struct cfgpool__caller {
	_Alignas(CFGPOOL_CACHELINE) atomic_bool in_use;
	atomic_bool initialized; /* worker_init ran (release), for `owner` */
	uint64_t owner;          /* thread_token() of the thread the state belongs to */
	int init_rc;
	void *kstate;
	struct cfgpool__counters c;
};

/* One map call: lives on the caller's stack until every item completed. */
struct cfgpool__batch {
	/* Items not yet completed, plus BATCH_WAITING while the caller sleeps on the word. */
	_Atomic uint32_t word;
	atomic_bool failed;
	cfgpool_result_t *results;
};

#define BATCH_WAITING 0x80000000u

struct cfgpool_pool {
	struct cfgpool__queue queue;
	/* Read by every submit and map; written once by close. */
	_Alignas(CFGPOOL_CACHELINE) atomic_bool refusing;
	atomic_bool closing;
	atomic_bool cancel;
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint32_t nparked;
	_Atomic uint32_t wake_cursor;
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint64_t direct;
	/* A submitter waiting for room in a full queue, and the futex word it sleeps on. */
	_Alignas(CFGPOOL_CACHELINE) atomic_bool space_wanted;
	_Atomic uint32_t space_seq;
	/* Workers that finished worker_init (futex word open() waits on). */
	_Atomic uint32_t started;
	atomic_bool go; /* set by open once every worker started; false means: exit */

	/* Calls inside the slow gate (reload, stats), and the flag that stops stats. */
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint32_t slow_calls;
	atomic_bool closed;

	cfgpool_holder_t *holder;
	const cfgpool_kernel_t *kernel;
	struct cfgpool__pool_params opened; /* the `pool` section the pool was opened with */
	struct cfgpool__binding binding;    /* arg of its holder's preparer; set before it exists */
	cfgpool_pool_opts_t opts;
	unsigned nworkers;
	struct cfgpool__worker *workers;
	struct cfgpool__caller callers[CFGPOOL__MAX_CALLERS];
};

/* worker.c */
int cfgpool__workers_start(struct cfgpool_pool *pool, const int *cpus, unsigned ncpu, bool pin,
			   cfgpool_error_t *err);
void cfgpool__workers_join(struct cfgpool_pool *pool);
/*
 * Runs one task against the current snapshot and completes it. *clock is the time the
 * task started if nonzero (the previous task's end), else read here; it receives the end.
 */
void cfgpool__run_task(struct cfgpool_pool *pool, const struct cfgpool__task *task, unsigned worker, void *kstate,
		       struct cfgpool__counters *c, uint64_t *clock);
bool cfgpool__wake_one(struct cfgpool_pool *pool, const struct cfgpool__worker *skip);
void cfgpool__wake_all(struct cfgpool_pool *pool);
/* Expected time of one task: the freshest running average, the caller's or a worker's. */
uint64_t cfgpool__task_estimate_ns(const struct cfgpool_pool *pool, const struct cfgpool__counters *caller);
void cfgpool__space_signal(struct cfgpool_pool *pool);
uint64_t cfgpool__now_ns(void);
void cfgpool__log(const struct cfgpool_pool *pool, cfgpool_log_level_t level, const char *fmt, ...)
	CFGPOOL_PRINTF(3, 4);

#endif /* CFGPOOL_SRC_POOL_H */
