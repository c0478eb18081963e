/*
 * Worker threads: affinity, naming, the run loop, running one task against one snapshot,
 * and idling: spin, then park on a futex.
 *
 * Parking is a Dekker handshake between a worker going to sleep and a submitter that just
 * queued work, so that no wake-up is lost. Every access on both sides is seq_cst:
 *   worker:    state = PARKED; nparked++;  load queue head  -> empty? futex_wait
 *   submitter: CAS queue head (push);       load nparked     -> > 0?  wake_one
 * In the single total order of seq_cst operations, either the submitter's CAS comes
 * before the worker's load of the head (the worker sees the task and does not sleep), or
 * the worker's increment comes before the submitter's load (the submitter wakes it). On
 * x86 this needs no fence: the locked instructions already order. wake_one claims a
 * parked worker by CAS PARKED -> RUNNING, so each park is matched by at most one wake
 * and nparked stays exact.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_tree.h"
#include "rcu.h"
#include "futex.h"
#include "pool.h"
#include "snapshot.h"

uint64_t cfgpool__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

static inline void count(_Atomic uint64_t *counter, uint64_t n)
{
	/* Single writer: a plain load and store, atomic only so that stats() can read it. */
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* ------------------------------------------------------------------------------------------ */
/* Running one task                                                                           */
/* ------------------------------------------------------------------------------------------ */

static void complete(const struct cfgpool__task *task, void *output, const cfgpool_result_t *res)
{
	struct cfgpool__batch *b = task->batch;
	uint32_t old;

	if (b == NULL) {
		if (task->done != NULL)
			task->done(task->arg, output, res);
		return;
	}
	if (b->results != NULL)
		b->results[task->index] = *res;
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
static void update_ewma(struct cfgpool__counters *c, uint64_t ns, uint64_t now)
{
	uint64_t avg = atomic_load_explicit(&c->ewma_ns, memory_order_relaxed);

	atomic_store_explicit(&c->ewma_ns, avg - avg / 8 + ns / 8, memory_order_relaxed);
	atomic_store_explicit(&c->ewma_at, now, memory_order_relaxed);
}

/*
 * The freshest average wins: whoever ran tasks last saw the tasks as they are now. The
 * workers' averages go stale while callers run small batches alone, a caller's while
 * workers run the big ones; either way the stale one is ignored.
 */
uint64_t cfgpool__task_estimate_ns(const struct cfgpool_pool *pool, const struct cfgpool__counters *caller)
{
	const struct cfgpool__counters *best = caller;

	for (unsigned i = 0; i < pool->nworkers; i++) {
		const struct cfgpool__counters *w = &pool->workers[i].c;

		if (best == NULL || atomic_load_explicit(&w->ewma_at, memory_order_relaxed) >
					    atomic_load_explicit(&best->ewma_at, memory_order_relaxed))
			best = w;
	}
	return best ? atomic_load_explicit(&best->ewma_ns, memory_order_relaxed) : 0;
}

void cfgpool__run_task(struct cfgpool_pool *pool, const struct cfgpool__task *task, unsigned worker, void *kstate,
		       struct cfgpool__counters *c, uint64_t *clock)
{
	cfgpool_result_t res = {.worker = worker};
	void *output = task->output;

	if (atomic_load_explicit(&pool->cancel, memory_order_relaxed)) {
		res.status = -ECANCELED;
		count(&c->cancelled, 1);
	} else {
		/* One clock read per task when tasks run back to back: this one's start is the
		 * previous one's end. */
		uint64_t t0 = *clock ? *clock : cfgpool__now_ns(), t1;
		const struct cfgpool_config *snap;
		const struct cfgpool__kernel_block *kb;
		uint64_t version;
		cfgpool_task_ctx_t ctx;

		/* The snapshot is pinned from here to read_unlock: one version for the whole task. */
		cfgpool__read_lock();
		snap = cfgpool__holder_deref(pool->holder);
		kb = &cfgpool__prepared(snap)->kernel;
		version = cfgpool__snapshot_version(snap);
		ctx.config = snap;
		ctx.params = kb->params;
		ctx.state = kstate;
		ctx.worker = worker;
		ctx.version = version;
		res.status = pool->kernel->run(&ctx, task->input, output);
		res.version = version;
		cfgpool__read_unlock();

		t1 = cfgpool__now_ns();
		*clock = t1;
		res.elapsed_ns = t1 - t0;
		if (res.status > 0)
			res.status = CFGPOOL_EKERNEL; /* a kernel that broke the sign convention */
		if (res.status != 0)
			count(&c->failed, 1);
		count(&c->busy_ns, res.elapsed_ns);
		update_ewma(c, res.elapsed_ns, t1);
	}
	count(&c->tasks, 1);
	complete(task, output, &res);
}

/* ------------------------------------------------------------------------------------------ */
/* Waking and parking                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Wakes w if it is parked; claiming it by CAS matches each park with at most one wake. */
static bool claim_and_wake(struct cfgpool_pool *pool, struct cfgpool__worker *w)
{
	uint32_t parked = WORKER_PARKED;

	if (!atomic_compare_exchange_strong_explicit(&w->state, &parked, WORKER_RUNNING, memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	atomic_fetch_sub_explicit(&pool->nparked, 1, memory_order_relaxed);
	cfgpool__futex_wake(&w->state, 1);
	return true;
}

bool cfgpool__wake_one(struct cfgpool_pool *pool, const struct cfgpool__worker *skip)
{
	unsigned n = pool->nworkers;
	unsigned start;

	/* seq_cst: the submitter's half of the handshake (see the top of this file). */
	if (atomic_load_explicit(&pool->nparked, memory_order_seq_cst) == 0)
		return false;
	/* Start the scan at a rotating point so that wakes spread over the workers. */
	start = atomic_fetch_add_explicit(&pool->wake_cursor, 1, memory_order_relaxed);
	for (unsigned k = 0; k < n; k++) {
		struct cfgpool__worker *w = &pool->workers[(start + k) % n];

		if (w == skip || atomic_load_explicit(&w->state, memory_order_relaxed) != WORKER_PARKED ||
		    atomic_load_explicit(&w->reserved, memory_order_relaxed) != 0)
			continue;
		if (claim_and_wake(pool, w))
			return true;
	}
	return false;
}

void cfgpool__wake_all(struct cfgpool_pool *pool)
{
	/* Close: reserved workers too, so that every worker sees `closing`. */
	for (unsigned i = 0; i < pool->nworkers; i++)
		claim_and_wake(pool, &pool->workers[i]);
}

void cfgpool__space_signal(struct cfgpool_pool *pool)
{
	/* Cheap when nobody waits: one load of a line that is written only when the queue
	 * fills. The submitter is woken once the queue is half empty, so that it refills it
	 * in one go instead of sleeping and waking for every freed slot. */
	if (cfgpool_likely(!atomic_load_explicit(&pool->space_wanted, memory_order_relaxed)))
		return;
	if (cfgpool__queue_size(&pool->queue) > pool->queue.capacity / 2)
		return;
	if (!atomic_exchange_explicit(&pool->space_wanted, false, memory_order_relaxed))
		return;
	atomic_fetch_add_explicit(&pool->space_seq, 1, memory_order_release);
	cfgpool__futex_wake(&pool->space_seq, INT32_MAX);
}

/* Work for this worker: a queued task (unless a caller reserved its CPU), or closing. */
static bool has_work(const struct cfgpool__worker *w, memory_order order)
{
	struct cfgpool_pool *pool = w->pool;

	if (atomic_load_explicit(&pool->closing, order))
		return true;
	if (atomic_load_explicit(&w->reserved, memory_order_relaxed) != 0)
		return false;
	/* The head (seq_cst when parking: the worker's half of the handshake) against a
	 * possibly stale tail, which can only make the queue look fuller than it is. */
	return atomic_load_explicit(&pool->queue.head, order) != atomic_load_explicit(&pool->queue.tail,
										     memory_order_relaxed);
}

/* The current snapshot's spin window, so that a reload can retune it. */
static uint64_t spin_window_ns(struct cfgpool_pool *pool)
{
	uint64_t ns;

	cfgpool__read_lock();
	ns = (uint64_t)cfgpool__prepared(cfgpool__holder_deref(pool->holder))->pool.idle_spin_us * 1000u;
	cfgpool__read_unlock();
	return ns;
}

/*
 * The spin window adapts between pool.idle_spin_us and SPIN_GROWTH times it. A worker woken
 * less than one window after it parked would have caught that work by spinning a little
 * longer, and paid no park/wake round trip: its window doubles. One that stayed parked for
 * many windows halves it back. Back-to-back batches whose gaps are a little longer than
 * the base window (a caller woken from its own wait takes about as long as a worker) stop
 * paying a wake-up per batch; periodic arrivals far apart keep the base window.
 */
#define SPIN_GROWTH 16

/* `window` kept between `base` and SPIN_GROWTH times it (a reload may move the base). */
static uint64_t clamp_window(uint64_t window, uint64_t base)
{
	if (window > base * SPIN_GROWTH)
		window = base * SPIN_GROWTH;
	return window < base ? base : window;
}

static uint64_t adapt_window(uint64_t window, uint64_t base, uint64_t parked_ns)
{
	if (parked_ns < window)
		window *= 2;
	else if (parked_ns > 8 * window)
		window /= 2;
	return clamp_window(window, base);
}

/* Spins until there is work or the window closes; then parks until woken. */
static void idle(struct cfgpool__worker *w)
{
	struct cfgpool_pool *pool = w->pool;
	uint64_t base = spin_window_ns(pool), window, start = cfgpool__now_ns(), parked_at;
	uint32_t expected = WORKER_PARKED;

	w->spin_ns = clamp_window(w->spin_ns, base);
	window = w->spin_ns;
	/* A reserved worker would only spin against the caller running tasks on its CPU. */
	if (atomic_load_explicit(&w->reserved, memory_order_relaxed) != 0)
		window = 0;
	do {
		for (int i = 0; i < 64; i++) {
			if (has_work(w, memory_order_relaxed))
				return;
			cfgpool__cpu_relax();
		}
		/* A thread that shares this CPU (a submitter waiting for its batch, say) gets it
		 * back at once instead of at the end of our time slice. */
		sched_yield();
	} while (cfgpool__now_ns() - start < window);

	atomic_store_explicit(&w->state, WORKER_PARKED, memory_order_seq_cst);
	atomic_fetch_add_explicit(&pool->nparked, 1, memory_order_seq_cst);
	if (has_work(w, memory_order_seq_cst)) {
		/* Unpark ourselves, unless a waker already claimed us (it then fixed nparked). */
		if (atomic_compare_exchange_strong_explicit(&w->state, &expected, WORKER_RUNNING,
							    memory_order_acq_rel, memory_order_relaxed))
			atomic_fetch_sub_explicit(&pool->nparked, 1, memory_order_relaxed);
		return;
	}
	count(&w->c.parks, 1);
	parked_at = cfgpool__now_ns();
	/* A parked worker holds no read-side section, so grace periods never wait for it. */
	while (atomic_load_explicit(&w->state, memory_order_acquire) == WORKER_PARKED)
		cfgpool__futex_wait(&w->state, WORKER_PARKED, NULL);
	count(&w->c.wakes, 1);
	if (window > 0)
		w->spin_ns = adapt_window(w->spin_ns, base, cfgpool__now_ns() - parked_at);
}

/* ------------------------------------------------------------------------------------------ */
/* The worker thread                                                                          */
/* ------------------------------------------------------------------------------------------ */

static void worker_init(struct cfgpool__worker *w)
{
	struct cfgpool_pool *pool = w->pool;
	const struct cfgpool_config *snap;

	if (pool->kernel->worker_init == NULL)
		return;
	/* The configuration stays pinned while worker_init reads it. */
	cfgpool__read_lock();
	snap = cfgpool__holder_deref(pool->holder);
	w->init_rc = pool->kernel->worker_init(snap, cfgpool__prepared(snap)->kernel.params, w->index, &w->kstate);
	cfgpool__read_unlock();
	if (w->init_rc > 0)
		w->init_rc = -EINVAL;
}

/*
 * How many tasks to take at once: one, unless tasks are tiny (their average below
 * TINY_NS), when taking a run of them saves a round trip of the queue's shared line per
 * task; and never more than a fair share of what is queued, so the others get some.
 */
#define TAKE_MAX 16
#define TINY_NS 2000

static size_t take_size(const struct cfgpool__worker *w)
{
	size_t share;

	if (atomic_load_explicit(&w->c.ewma_ns, memory_order_relaxed) >= TINY_NS)
		return 1;
	share = cfgpool__queue_size(&w->pool->queue) / w->pool->nworkers + 1;
	return share < TAKE_MAX ? share : TAKE_MAX;
}

static void *worker_main(void *arg)
{
	struct cfgpool__worker *w = arg;
	struct cfgpool_pool *pool = w->pool;
	struct cfgpool__task tasks[TAKE_MAX];
	uint64_t clock = 0;
	bool go;

	if (cfgpool_reader_register() != 0)
		cfgpool__die("cannot register a worker as an RCU reader");
	worker_init(w);
	atomic_fetch_add_explicit(&pool->started, 1, memory_order_release);
	/* Workers that started earlier sleep on the same word: wake them all, open() among them. */
	cfgpool__futex_wake(&pool->started, INT32_MAX);
	/* Wait for open() to say whether every worker started. One load per round: sleeping on
	 * a value read after the test could sleep on UINT32_MAX, which nobody changes again. */
	for (uint32_t v; (v = atomic_load_explicit(&pool->started, memory_order_acquire)) != UINT32_MAX;)
		cfgpool__futex_wait(&pool->started, v, NULL);
	go = atomic_load_explicit(&pool->go, memory_order_acquire);

	while (go) {
		size_t n = 0;

		if (atomic_load_explicit(&w->reserved, memory_order_relaxed) == 0)
			n = cfgpool__queue_pop_many(&pool->queue, tasks, take_size(w));
		if (n > 0) {
			cfgpool__space_signal(pool);
			/* More queued than we can take: pass the wake-up on before working. */
			if (cfgpool__queue_size(&pool->queue) > 0)
				cfgpool__wake_one(pool, w);
			for (size_t i = 0; i < n; i++)
				cfgpool__run_task(pool, &tasks[i], w->index, w->kstate, &w->c, &clock);
			continue;
		}
		clock = 0; /* idle time is not task time */
		if (atomic_load_explicit(&pool->closing, memory_order_acquire) &&
		    cfgpool__queue_size(&pool->queue) == 0)
			break;
		idle(w);
	}

	if (w->init_rc == 0 && pool->kernel->worker_fini != NULL)
		pool->kernel->worker_fini(w->kstate, w->index);
	cfgpool_reader_unregister();
	return NULL;
}

static void pin_and_name(struct cfgpool__worker *w, pthread_attr_t *attr)
{
	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		/* Pinned from its first instruction: the attribute, not a call after start. */
		pthread_attr_setaffinity_np(attr, sizeof(set), &set);
	}
}

int cfgpool__workers_start(struct cfgpool_pool *pool, const int *cpus, unsigned ncpu, bool pin,
			   cfgpool_error_t *err)
{
	unsigned started = 0;
	int rc = 0;

	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct cfgpool__worker *w = &pool->workers[i];
		pthread_attr_t attr;
		char name[16];

		w->pool = pool;
		w->index = i;
		w->cpu = pin ? cpus[i % ncpu] : -1;
		atomic_init(&w->state, WORKER_RUNNING);
		cfgpool__check(pthread_attr_init(&attr));
		pin_and_name(w, &attr);
		rc = -pthread_create(&w->thread, &attr, worker_main, w);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			cfgpool_error_set(err, rc, NULL, "cannot start worker %u: %s", i, cfgpool_strerror(rc));
			break;
		}
		/* Visible in top -H and in debuggers. */
		snprintf(name, sizeof(name), "cfgpool/%d", pin ? w->cpu : (int)i);
		pthread_setname_np(w->thread, name);
		started++;
	}

	/* Wait for every started worker to finish worker_init. */
	for (;;) {
		uint32_t n = atomic_load_explicit(&pool->started, memory_order_acquire);

		if (n == started)
			break;
		cfgpool__futex_wait(&pool->started, n, NULL);
	}
	for (unsigned i = 0; i < started && rc == 0; i++) {
		if (pool->workers[i].init_rc != 0) {
			rc = pool->workers[i].init_rc;
			cfgpool_error_set(err, rc, NULL, "kernel %s: worker_init failed on worker %u: %s",
					  pool->kernel->name, i, cfgpool_strerror(rc));
		}
	}
	atomic_store_explicit(&pool->go, rc == 0, memory_order_release);
	atomic_store_explicit(&pool->started, UINT32_MAX, memory_order_release);
	cfgpool__futex_wake(&pool->started, INT32_MAX);
	if (rc != 0) {
		pool->nworkers = started;
		cfgpool__workers_join(pool);
	}
	return rc;
}

void cfgpool__workers_join(struct cfgpool_pool *pool)
{
	for (unsigned i = 0; i < pool->nworkers; i++)
		cfgpool__check(pthread_join(pool->workers[i].thread, NULL));
}
