/*
 * Running and completing one task: what a worker and a helping caller have in common.
 * Internal; below the pool, beside the workers and callers, above the queue.
 *
 * A runner is what running a task needs from its pool: the holder the snapshot comes
 * from, the kernel, and the pool's cancel flag. The pool fills it in before any thread
 * runs a task and never changes it after, so it is read without synchronization.
 *
 * A task thread is a thread running tasks of a pool: one of its workers for its whole
 * life, or a caller while it helps run a batch in map. Its kernels and completion
 * callbacks run on it, so a call that waits for the pool's tasks must refuse to run
 * there (it could wait for itself): see cfgpool__task_thread_of().
 */
#ifndef CFGPOOL_SRC_TASK_H
#define CFGPOOL_SRC_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

#include "compat.h"
#include "queue.h"

/* Counters of one thread that runs tasks; written by that thread only. */
struct cfgpool__counters {
	_Atomic uint64_t tasks;
	_Atomic uint64_t failed;
	_Atomic uint64_t cancelled;
	_Atomic uint64_t timed_out; /* completed with -ETIMEDOUT, not run: past their deadline */
	_Atomic uint64_t busy_ns;
	_Atomic uint64_t parks;
	_Atomic uint64_t wakes;
	_Atomic uint64_t ewma_ns; /* running average of this thread's task times */
	_Atomic uint64_t ewma_at; /* when it last changed (monotonic ns; 0: never) */
};

/*
 * A task thread's kernel state, and the configuration version it was made (or last
 * rebuilt) for. Owned by that thread: only it reads or writes either field while it runs
 * tasks (worker_fini's caller reads it after).
 */
struct cfgpool__kstate {
	void *state;
	uint64_t version;
};

/*
 * One batch. A map's lives on the caller's stack until every item completed; an
 * asynchronous one (map_async) in the caller's cfgpool_batch_t, borrowed until its count
 * reaches zero. Everything but `word` and `failed` is written before the first item is
 * queued and only read after.
 */
struct cfgpool__batch {
	/* Items not yet completed, plus BATCH_WAITING while a thread sleeps on the word, plus
	 * (asynchronous batches) BATCH_FAILED once an item failed. */
	_Atomic uint32_t word;
	atomic_bool failed; /* map: an item failed */
	bool async;
	cfgpool_result_t *results;
	/* Asynchronous batches only. */
	cfgpool_batch_done_fn done;
	void *arg;
	const struct cfgpool__runner *run; /* its pool's, for wait's -EDEADLK: compared, never followed */
};

#define BATCH_WAITING 0x80000000u
/* In an asynchronous batch's word, so that the thread completing the last item knows the
 * batch's status without reading the batch, which may be reused as soon as it is done. */
#define BATCH_FAILED 0x40000000u
#define BATCH_COUNT 0x3fffffffu

/*
 * A group of submitted tasks (cfgpool_group_t's storage): tasks not yet completed, plus
 * GROUP_WAITING while a thread sleeps on the word.
 */
struct cfgpool__group {
	_Atomic uint32_t word;
};

#define GROUP_WAITING 0x80000000u

/* A submitted task of the group completed (its callback returned): see task.c. */
void cfgpool__group_leave(struct cfgpool__group *g);

struct cfgpool__runner {
	const cfgpool_holder_t *holder;
	const cfgpool_kernel_t *kernel;
	const atomic_bool *cancel; /* set once by close: queued tasks complete with -ECANCELED */
};

/* The current snapshot's settings for running tasks, read in one read-side section. */
struct cfgpool__run_settings {
	bool caller_helps;
	uint64_t spin_ns;      /* pool.idle_spin_us */
	uint64_t threshold_ns; /* pool.wake_threshold_us */
	uint64_t periodic_ns;  /* pool.periodic_spin_us */
};

uint64_t cfgpool__now_ns(void);

/* Single writer: a plain load and store, atomic only so that stats can read it. */
static inline void cfgpool__count(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void cfgpool__run_settings(const struct cfgpool__runner *r, struct cfgpool__run_settings *s);

/*
 * Runs the kernel's worker_init for thread `worker` against the current snapshot, on the
 * calling thread. Returns 0 (also when the kernel has none) or its negative code.
 */
int cfgpool__task_worker_init(const struct cfgpool__runner *r, unsigned worker, struct cfgpool__kstate *ks);

/*
 * Runs one task against the current snapshot and completes it. *clock is the time the
 * task started if nonzero (the previous task's end), else read here; it receives the end.
 * A NULL clock is an untimed run: no clock is read (unless the task has a deadline), the
 * result's elapsed_ns is 0, and the thread's busy time and average are left to the
 * caller's cfgpool__task_note_run(). When the snapshot is newer than ks->version, the
 * kernel's worker_reload runs first.
 */
void cfgpool__task_run(const struct cfgpool__runner *r, const struct cfgpool__task *task, unsigned worker,
		       struct cfgpool__kstate *ks, struct cfgpool__counters *c, uint64_t *clock);

/* n untimed tasks that ran back to back in total_ns, ending at `end`: the counters' busy
 * time and running average, as n timed runs of total_ns / n each would have left them. */
void cfgpool__task_note_run(struct cfgpool__counters *c, uint64_t total_ns, size_t n, uint64_t end);

/*
 * The runner of the pool whose task thread the calling thread is, or NULL. Set by
 * cfgpool__task_thread_enter() (which returns the previous value for _leave()). Inline:
 * every map sets and restores it.
 */
extern __thread const struct cfgpool__runner *cfgpool__task_thread;

static inline const struct cfgpool__runner *cfgpool__task_thread_of(void)
{
	return cfgpool__task_thread;
}

static inline const struct cfgpool__runner *cfgpool__task_thread_enter(const struct cfgpool__runner *r)
{
	const struct cfgpool__runner *prev = cfgpool__task_thread;

	cfgpool__task_thread = r;
	return prev;
}

static inline void cfgpool__task_thread_leave(const struct cfgpool__runner *prev)
{
	cfgpool__task_thread = prev;
}

#endif /* CFGPOOL_SRC_TASK_H */
