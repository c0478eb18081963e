/*
 * Running one task against one snapshot, and completing it: the batch counter and its
 * waiter, or the task's callback. See task.h.
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "futex.h"
#include "prepared.h"
#include "rcu.h"
#include "snapshot.h"
#include "task.h"

/* Every access to a snapshot's kernel block and pool parameters goes through these two. */
static inline const struct cfgpool__kernel_block *task_snapshot_block(const struct cfgpool_config *snap)
{
	return &cfgpool__prepared(snap)->kernel;
}

static inline const struct cfgpool__pool_params *task_snapshot_pool(const struct cfgpool_config *snap)
{
	return &cfgpool__prepared(snap)->pool;
}

__thread const struct cfgpool__runner *cfgpool__task_thread;

CFGPOOL_HOT uint64_t cfgpool__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

CFGPOOL_HOT void cfgpool__run_settings(const struct cfgpool__runner *r, struct cfgpool__run_settings *s)
{
	const struct cfgpool__pool_params *pp;

	cfgpool__read_lock();
	pp = task_snapshot_pool(cfgpool__holder_deref(r->holder));
	s->caller_helps = pp->caller_helps;
	s->spin_ns = (uint64_t)pp->idle_spin_us * 1000u;
	s->threshold_ns = (uint64_t)pp->wake_threshold_us * 1000u;
	s->periodic_ns = (uint64_t)pp->periodic_spin_us * 1000u;
	cfgpool__read_unlock();
}

int cfgpool__task_worker_init(const struct cfgpool__runner *r, unsigned worker, struct cfgpool__kstate *ks)
{
	const cfgpool_kernel_t *k = r->kernel;
	const struct cfgpool_config *snap;
	int rc = 0;

	/* The configuration stays pinned while worker_init reads it; the state is made for
	 * that version, so worker_reload runs for the first task on a newer one. */
	cfgpool__read_lock();
	snap = cfgpool__holder_deref(r->holder);
	ks->version = cfgpool__snapshot_version(snap);
	if (k->worker_init_arg != NULL)
		rc = k->worker_init_arg(k->arg, snap, task_snapshot_block(snap)->params, worker, &ks->state);
	else if (k->worker_init != NULL)
		rc = k->worker_init(snap, task_snapshot_block(snap)->params, worker, &ks->state);
	cfgpool__read_unlock();
	return rc > 0 ? -EINVAL : rc;
}

void cfgpool__group_leave(struct cfgpool__group *g)
{
	/* Release: the task's output and what its callback did are visible to a waiter that
	 * sees the count drop (the acquire load in cfgpool_group_wait()). As for a batch, the
	 * group may be gone once the count reaches zero: only the returned value is read. */
	uint32_t old = atomic_fetch_sub_explicit(&g->word, 1, memory_order_release);

	if (old == (GROUP_WAITING | 1))
		cfgpool__futex_wake(&g->word, INT32_MAX);
}

/*
 * An item of an asynchronous batch completed. The thread that completes the last one
 * wakes the batch's waiters and calls its callback; the callback and its argument are
 * read before the count drops, since the batch may be reused (even from the callback of
 * another thread's wait) once it is zero.
 */
static void complete_async(struct cfgpool__batch *b, int status)
{
	cfgpool_batch_done_fn done = b->done;
	void *arg = b->arg;
	uint32_t old;

	/* Relaxed: the fetch_sub below, on the same word, orders it for the last completer and
	 * for waiters (read-modify-writes of one word are totally ordered). */
	if (status != 0)
		atomic_fetch_or_explicit(&b->word, BATCH_FAILED, memory_order_relaxed);
	/* Release: outputs and results are visible to a waiter's acquire load of the word;
	 * acquire: the last completer sees every other item's before it calls done. */
	old = atomic_fetch_sub_explicit(&b->word, 1, memory_order_acq_rel);
	if ((old & BATCH_COUNT) != 1)
		return;
	if (old & BATCH_WAITING)
		cfgpool__futex_wake(&b->word, INT32_MAX);
	if (done != NULL)
		done(arg, (cfgpool_batch_t *)(void *)b, (old & BATCH_FAILED) ? CFGPOOL_EKERNEL : 0);
}

/*
 * The thread's first task on a version newer than its state's: rebuilds the state, or
 * gives the code the task completes with. Out of line and cold: the hot path pays one
 * compare. Versions only grow, so a failure leaves ks->version behind and the next task
 * (on this version or a newer one) tries again.
 */
__attribute__((noinline, cold)) static int reload_state(const struct cfgpool__runner *r, const cfgpool_task_ctx_t *ctx,
						       struct cfgpool__kstate *ks)
{
	int rc;

	if (r->kernel->worker_reload == NULL) {
		ks->version = ctx->version;
		return 0;
	}
	rc = r->kernel->worker_reload(ctx->arg, ctx->config, ctx->params, ctx->worker, &ks->state);
	if (rc == 0)
		ks->version = ctx->version;
	return rc > 0 ? -EINVAL : rc;
}

CFGPOOL_HOT static void complete(const struct cfgpool__task *task, void *output, const cfgpool_result_t *res)
{
	struct cfgpool__batch *b = task->batch;
	uint32_t old;

	if (b == NULL) {
		if (task->done != NULL)
			task->done(task->arg, output, res);
		if (task->group != NULL)
			cfgpool__group_leave((struct cfgpool__group *)(void *)task->group);
		return;
	}
	if (b->results != NULL)
		b->results[task->index] = *res;
	if (b->async) {
		complete_async(b, res->status);
		return;
	}
	if (res->status != 0)
		atomic_store_explicit(&b->failed, true, memory_order_relaxed);
	/*
	 * Release: the output, result and failed flag are visible to the caller once it sees
	 * the count drop (its acquire load). The batch may be gone the moment the count reaches
	 * zero, so nothing below reads it: the waiting bit comes from the value fetch_sub
	 * returned, and a wake on a dead address is harmless (futex waiters recheck).
	 */
	old = atomic_fetch_sub_explicit(&b->word, 1, memory_order_acq_rel);
	if ((old & ~BATCH_WAITING) == 1 && (old & BATCH_WAITING))
		cfgpool__futex_wake(&b->word, 1);
}

/* Moves this thread's exponentially weighted average task time by 1/8 of the sample. */
CFGPOOL_HOT static void update_ewma(struct cfgpool__counters *c, uint64_t ns, uint64_t now)
{
	uint64_t avg = atomic_load_explicit(&c->ewma_ns, memory_order_relaxed);

	atomic_store_explicit(&c->ewma_ns, avg - avg / 8 + ns / 8, memory_order_relaxed);
	atomic_store_explicit(&c->ewma_at, now, memory_order_relaxed);
}

/*
 * Whether a task with a deadline is past it as it would start. The clock read here is the
 * task's start (kept in *clock for the run or the next task), so a deadline costs no
 * clock read of its own; a task without one costs a test.
 */
static bool past_deadline(const struct cfgpool__task *task, uint64_t *clock)
{
	if (task->deadline_ns == 0)
		return false;
	if (clock == NULL)
		return cfgpool__now_ns() >= task->deadline_ns; /* untimed: no clock to share */
	if (*clock == 0)
		*clock = cfgpool__now_ns();
	return *clock >= task->deadline_ns;
}

CFGPOOL_HOT void cfgpool__task_run(const struct cfgpool__runner *r, const struct cfgpool__task *task, unsigned worker,
		       struct cfgpool__kstate *ks, struct cfgpool__counters *c, uint64_t *clock)
{
	cfgpool_result_t res = {.worker = worker};
	void *output = task->output;

	/* Relaxed: close sets it before its grace period and wakes the workers; a task that
	 * misses it just runs, as one that started a moment earlier would. */
	if (atomic_load_explicit(r->cancel, memory_order_relaxed)) {
		res.status = -ECANCELED;
		cfgpool__count(&c->cancelled, 1);
	} else if (cfgpool_unlikely(past_deadline(task, clock))) {
		res.status = -ETIMEDOUT;
		cfgpool__count(&c->timed_out, 1);
	} else {
		/* One clock read per task when tasks run back to back: this one's start is the
		 * previous one's end; none in an untimed run. */
		uint64_t t0 = clock == NULL ? 0 : *clock ? *clock : cfgpool__now_ns(), t1;
		const struct cfgpool_config *snap;
		cfgpool_task_ctx_t ctx;

		/* The snapshot is pinned from here to read_unlock: one version for the whole task. */
		cfgpool__read_lock();
		snap = cfgpool__holder_deref(r->holder);
		ctx.config = snap;
		ctx.params = task_snapshot_block(snap)->params;
		ctx.worker = worker;
		ctx.version = cfgpool__snapshot_version(snap);
		ctx.arg = r->kernel->arg;
		ctx.deadline_ns = task->deadline_ns;
		res.status = 0;
		if (cfgpool_unlikely(ctx.version != ks->version))
			res.status = reload_state(r, &ctx, ks);
		ctx.state = ks->state;
		if (cfgpool_likely(res.status == 0))
			res.status = r->kernel->run(&ctx, task->input, output);
		res.version = ctx.version;
		cfgpool__read_unlock();

		if (res.status > 0)
			res.status = CFGPOOL_EKERNEL; /* a kernel that broke the sign convention */
		if (res.status != 0)
			cfgpool__count(&c->failed, 1);
		if (clock != NULL) {
			t1 = cfgpool__now_ns();
			*clock = t1;
			res.elapsed_ns = t1 - t0;
			cfgpool__count(&c->busy_ns, res.elapsed_ns);
			update_ewma(c, res.elapsed_ns, t1);
		}
	}
	cfgpool__count(&c->tasks, 1);
	complete(task, output, &res);
}

/* After 64 equal samples the average is within (7/8)^64 < 1/5000 of them. */
#define EWMA_SETTLED 64

CFGPOOL_HOT void cfgpool__task_note_run(struct cfgpool__counters *c, uint64_t total_ns, size_t n, uint64_t end)
{
	uint64_t each, avg;

	if (n == 0)
		return;
	each = total_ns / n;
	/* Relaxed, as update_ewma(): n samples of `each`, the thread's only writer. */
	avg = atomic_load_explicit(&c->ewma_ns, memory_order_relaxed);
	for (size_t i = 0; i < n && i < EWMA_SETTLED; i++)
		avg = avg - avg / 8 + each / 8;
	atomic_store_explicit(&c->ewma_ns, avg, memory_order_relaxed);
	atomic_store_explicit(&c->ewma_at, end, memory_order_relaxed);
	cfgpool__count(&c->busy_ns, total_ns);
}
