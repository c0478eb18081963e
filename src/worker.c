/*
 * Worker threads: affinity, naming, the run loop, and idling: spin, then park on a futex.
 * Running one task is task.c's; the pool reaches its workers through worker.h only.
 *
 * The park/wake protocol. Whoever makes work available to a worker and whoever is about to
 * sleep are the two sides of a Dekker pattern: each side stores its own word, then loads
 * the other's, and both are seq_cst, so in the single total order of seq_cst operations
 * one side's load comes after the other side's store and sees it. No wake-up is lost.
 *
 *   side                 stores (seq_cst, first)           then loads (seq_cst)
 *   worker parking       w->state = PARKED; nparked++       closing; w->reserved; queue head
 *   submitter (push)     queue head (the CAS that claims)    nparked; then w->state, w->reserved
 *   caller unreserving   w->reserved-- (fetch_sub)           queue head; then as the submitter
 *   close                closing = true                      w->state (the CAS of wake_all)
 *
 * - A worker that loads reserved != 0 and sleeps is woken by the caller that drops the
 *   reservation: its fetch_sub comes after the worker's load, so its load of the head sees
 *   every push that came before the worker's load; if the queue is not empty it wakes a
 *   worker (wake_one, a submitter's load of nparked onwards). A push after that load finds
 *   the worker counted in nparked and, loading reserved after the fetch_sub, unreserved.
 * - A worker that loads an empty head and sleeps is woken by the next push: the push's CAS
 *   comes after the load, so the submitter's load of nparked sees the worker's increment.
 * - A worker that loads closing == false sleeps; close's CAS of its state comes after its
 *   store of PARKED and claims it.
 * - wake_one and wake_all claim a parked worker by CAS PARKED -> RUNNING, so each park is
 *   matched by at most one wake and nparked stays exact; a worker that finds work after
 *   counting itself unclaims itself by the same CAS, unless a waker won it.
 * - Taking a reservation (fetch_add) is relaxed: a worker that misses it takes a task it
 *   should have left to the caller, which costs the CPU a second task thread for one task
 *   but strands nothing.
 * - The head against a relaxed tail can only make the queue look fuller than it is. When
 *   its front is claimed but not yet published (a producer stalled mid-push, queue.h), a
 *   spinning worker yields the CPU (most likely to that producer), and a parking worker
 *   sleeps with a timeout instead of for good: the producer's own wake may already have
 *   passed, so the worker looks again after STALLED_SLEEP_NS.
 * - A worker sleeping until just before an expected batch (pool.periodic_spin_us) is
 *   parked like any other: its stores and loads are the same, a waker's CAS claims it, and
 *   at its deadline it unclaims itself by the same CAS unless a waker won (then it counts
 *   as woken). Only when to stop sleeping differs, never whether a wake-up is seen.
 * On x86 every seq_cst store and read-modify-write is a locked instruction and every
 * seq_cst load a plain one, so the protocol costs no fence there; on ARMv8 the stores are
 * stlr, the loads ldar, which the architecture keeps in order.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "futex.h"
#include "spin_window.h"
#include "worker.h"

/* ------------------------------------------------------------------------------------------ */
/* Waking and parking                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Wakes w if it is parked; claiming it by CAS matches each park with at most one wake. */
static bool claim_and_wake(struct cfgpool__crew *crew, struct cfgpool__worker *w)
{
	uint32_t parked = WORKER_PARKED;

	/* seq_cst: close's half of the protocol (the load of w->state after its store of
	 * closing); for the others it only claims. */
	if (!atomic_compare_exchange_strong_explicit(&w->state, &parked, WORKER_RUNNING, memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	/* Relaxed: the count is exact because each park is claimed once; its readers' seq_cst
	 * loads pair with the parking worker's increment, not with this. */
	atomic_fetch_sub_explicit(&crew->nparked, 1, memory_order_relaxed);
	cfgpool__futex_wake(&w->state, 1);
	return true;
}

CFGPOOL_HOT bool cfgpool__crew_wake_one(struct cfgpool__crew *crew, const struct cfgpool__worker *skip)
{
	unsigned n = crew->n;
	unsigned start;

	/* seq_cst: the waker's load of nparked (the protocol at the top of this file). */
	if (atomic_load_explicit(&crew->nparked, memory_order_seq_cst) == 0)
		return false;
	/* Start the scan at a rotating point so that wakes spread over the workers (relaxed:
	 * any value will do). */
	start = atomic_fetch_add_explicit(&crew->wake_cursor, 1, memory_order_relaxed);
	for (unsigned k = 0; k < n; k++) {
		struct cfgpool__worker *w = &crew->workers[(start + k) % n];

		/* seq_cst: the waker's loads of the worker's state and reservation, after its
		 * store (the push, or the unreserving fetch_sub). */
		if (w == skip || atomic_load_explicit(&w->state, memory_order_seq_cst) != WORKER_PARKED ||
		    atomic_load_explicit(&w->reserved, memory_order_seq_cst) != 0)
			continue;
		if (claim_and_wake(crew, w))
			return true;
	}
	return false;
}

void cfgpool__crew_wake_all(struct cfgpool__crew *crew)
{
	/* Close: reserved workers too, so that every worker sees `closing`. */
	for (unsigned i = 0; i < crew->n; i++)
		claim_and_wake(crew, &crew->workers[i]);
}

/*
 * A waiter raises room_wanted and sleeps on room_seq; the first thread to pop once the
 * queue is half empty clears the flag, bumps the word and wakes every waiter. The flag is
 * read without a fence on the pop path, so a wake can be missed when it races with the
 * waiter raising it; the next pop catches it, and the sleep's timeout bounds the case
 * where no pop comes.
 */
void cfgpool__crew_push_wait(struct cfgpool__crew *crew, const struct cfgpool__task *task)
{
	/* Whoever queued the tasks that fill the queue may not have woken anyone yet. */
	cfgpool__crew_wake_one(crew, NULL);
	for (;;) {
		/* Acquire: pairs with the release increment in cfgpool__crew_room_signal(). */
		uint32_t seq = atomic_load_explicit(&crew->room_seq, memory_order_acquire);
		struct timespec tick = {0, 1000000};

		/* seq_cst: ordered before the retried push's claim, so a pop that freed room
		 * after that claim failed finds the flag raised (or the push succeeds). */
		atomic_store_explicit(&crew->room_wanted, true, memory_order_seq_cst);
		if (cfgpool__queue_push(crew->queue, task))
			return;
		cfgpool__futex_wait(&crew->room_seq, seq, &tick);
	}
}

void cfgpool__crew_room_signal(struct cfgpool__crew *crew)
{
	/* Cheap when nobody waits: one load of a line that is written only when the queue
	 * fills. The submitter is woken once the queue is half empty, so that it refills it
	 * in one go instead of sleeping and waking for every freed slot. Relaxed: see
	 * cfgpool__crew_push_wait() for the missed wake this allows and what bounds it. */
	if (cfgpool_likely(!atomic_load_explicit(&crew->room_wanted, memory_order_relaxed)))
		return;
	if (cfgpool__queue_size(crew->queue) > crew->queue->capacity / 2)
		return;
	/* Relaxed: only one popper wins the flag; the release below publishes the wake. */
	if (!atomic_exchange_explicit(&crew->room_wanted, false, memory_order_relaxed))
		return;
	/* Release: pairs with the waiter's acquire load of room_seq. */
	atomic_fetch_add_explicit(&crew->room_seq, 1, memory_order_release);
	cfgpool__futex_wake(&crew->room_seq, INT32_MAX);
}

/*
 * The freshest average wins: whoever ran tasks last saw the tasks as they are now. The
 * workers' averages go stale while callers run small batches alone, a caller's while
 * workers run the big ones; either way the stale one is ignored.
 */
CFGPOOL_HOT uint64_t cfgpool__crew_estimate_ns(const struct cfgpool__crew *crew, const struct cfgpool__counters *caller)
{
	const struct cfgpool__counters *best = caller;

	/* Relaxed: each average is one thread's statistic, a hint that pairs with nothing. */
	for (unsigned i = 0; i < crew->n; i++) {
		const struct cfgpool__counters *w = &crew->workers[i].c;

		if (best == NULL || atomic_load_explicit(&w->ewma_at, memory_order_relaxed) >
					    atomic_load_explicit(&best->ewma_at, memory_order_relaxed))
			best = w;
	}
	return best ? atomic_load_explicit(&best->ewma_ns, memory_order_relaxed) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reservations                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* The worker pinned to the CPU the calling thread runs on now, if any. */
CFGPOOL_HOT static struct cfgpool__worker *worker_on_this_cpu(struct cfgpool__crew *crew)
{
	int cpu = sched_getcpu();

	for (unsigned i = 0; cpu >= 0 && i < crew->n; i++) {
		if (crew->workers[i].cpu == cpu)
			return &crew->workers[i];
	}
	return NULL;
}

CFGPOOL_HOT struct cfgpool__worker *cfgpool__crew_reserve(struct cfgpool__crew *crew)
{
	struct cfgpool__worker *w = worker_on_this_cpu(crew);

	/* Relaxed: see "Taking a reservation" at the top of this file. */
	if (w != NULL)
		atomic_fetch_add_explicit(&w->reserved, 1, memory_order_relaxed);
	return w;
}

CFGPOOL_HOT void cfgpool__crew_unreserve(struct cfgpool__crew *crew, struct cfgpool__worker *home,
			     const struct cfgpool__worker *skip)
{
	if (home == NULL)
		return;
	/* seq_cst, then the seq_cst load of the head: the unreserving caller's half of the
	 * protocol, against a worker that parked seeing the reservation. */
	atomic_fetch_sub_explicit(&home->reserved, 1, memory_order_seq_cst);
	if (cfgpool__queue_front(crew->queue, memory_order_seq_cst) != CFGPOOL__QUEUE_EMPTY)
		cfgpool__crew_wake_one(crew, skip);
}

/*
 * The caller is not pinned; if the scheduler moved it, the worker of its new CPU is
 * reserved instead and the old one, free again, is woken when work is queued, so that
 * each CPU keeps one task thread.
 */
CFGPOOL_HOT void cfgpool__crew_follow(struct cfgpool__crew *crew, struct cfgpool__worker **home)
{
	struct cfgpool__worker *now = worker_on_this_cpu(crew), *old = *home;

	if (now == old)
		return;
	if (now != NULL) /* relaxed, as in cfgpool__crew_reserve() */
		atomic_fetch_add_explicit(&now->reserved, 1, memory_order_relaxed);
	*home = now;
	cfgpool__crew_unreserve(crew, old, now);
}

/* ------------------------------------------------------------------------------------------ */
/* Idling                                                                                     */
/* ------------------------------------------------------------------------------------------ */

enum work { WORK_NONE, WORK_READY, WORK_STALLED, WORK_RESERVED };

/* Work for this worker: a queued task (unless a caller reserved its CPU), or closing. */
static enum work has_work(const struct cfgpool__worker *w, memory_order order)
{
	const struct cfgpool__crew *crew = w->crew;

	/* `order` is seq_cst when parking: the worker's loads of the protocol, after its
	 * stores of state and nparked; relaxed while spinning (a hint, rechecked by park). */
	if (atomic_load_explicit(crew->closing, order))
		return WORK_READY;
	if (atomic_load_explicit(&w->reserved, order) != 0)
		return WORK_RESERVED;
	switch (cfgpool__queue_front(crew->queue, order)) {
	case CFGPOOL__QUEUE_EMPTY:
		return WORK_NONE;
	case CFGPOOL__QUEUE_STALLED:
		return WORK_STALLED;
	default:
		return WORK_READY;
	}
}

/* How long a worker sleeps before it looks again at a front claimed but not published. */
#define STALLED_SLEEP_NS 1000000

/*
 * Waking ahead of a batch (pool.periodic_spin_us). A worker sleeps until the expected
 * arrival less its lead, then spins until the arrival's window closes. The lead is how
 * late its timed wake-ups have come (late_ns, an average moved by 1/8 of each sample) and
 * half as much again plus LEAD_MARGIN_NS; it starts at LATE_START_NS, about what a timer
 * wake-up of an idle virtual CPU takes here. Which periods and batches are worth it:
 * cfgpool__arrivals_worth_waking().
 */
#define LEAD_MARGIN_NS 10000u
#define LATE_START_NS 50000u

/*
 * Spins until there is work, a caller reserves this worker's CPU (it would only spin
 * against that caller), or the monotonic clock reaches `end`. True: work.
 */
static bool spin_until(const struct cfgpool__worker *w, uint64_t end)
{
	do {
		for (int i = 0; i < 64; i++) {
			enum work k = has_work(w, memory_order_relaxed);

			if (k == WORK_READY)
				return true;
			if (k == WORK_RESERVED)
				return false;
			if (k == WORK_STALLED)
				break; /* yield at once: the stalled producer may be waiting for this CPU */
			cfgpool__cpu_relax();
		}
		/* A thread that shares this CPU (a submitter waiting for its batch, say) gets it
		 * back at once instead of at the end of our time slice. */
		sched_yield();
	} while (cfgpool__now_ns() < end);
	return false;
}

enum park { PARK_WORK, PARK_WOKEN, PARK_TIMEOUT };

/* Unclaims a worker that stopped sleeping by itself, unless a waker claimed it first (it
 * then fixed nparked). True: unclaimed by us. */
static bool unclaim(struct cfgpool__worker *w)
{
	uint32_t expected = WORKER_PARKED;

	/* acq_rel: the same claim a waker makes (claim_and_wake()); the count's fix is
	 * relaxed for the reason given there. */
	if (!atomic_compare_exchange_strong_explicit(&w->state, &expected, WORKER_RUNNING, memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	atomic_fetch_sub_explicit(&w->crew->nparked, 1, memory_order_relaxed);
	return true;
}

/*
 * The worker's half of the protocol (the top of this file). Returns PARK_WORK, not
 * parked, when there is work after all; otherwise sleeps until woken (or, with a stalled
 * front, until STALLED_SLEEP_NS passed: PARK_WOKEN too), or until the monotonic clock
 * reaches `until` when it is not 0 (PARK_TIMEOUT, unless a waker claimed it first).
 */
static enum park park(struct cfgpool__worker *w, uint64_t until)
{
	struct cfgpool__crew *crew = w->crew;
	struct timespec stalled_sleep = {0, STALLED_SLEEP_NS};
	enum park how = PARK_WOKEN;
	enum work k;

	/* seq_cst: the worker's stores of the protocol, before its loads in has_work(). */
	atomic_store_explicit(&w->state, WORKER_PARKED, memory_order_seq_cst);
	atomic_fetch_add_explicit(&crew->nparked, 1, memory_order_seq_cst);
	k = has_work(w, memory_order_seq_cst);
	if (k == WORK_READY) {
		unclaim(w);
		return PARK_WORK;
	}
	cfgpool__count(&w->c.parks, 1);
	/* A parked worker holds no read-side section, so grace periods never wait for it.
	 * Acquire: pairs with the waker's claiming CAS. */
	while (atomic_load_explicit(&w->state, memory_order_acquire) == WORKER_PARKED) {
		if (k == WORK_STALLED) {
			cfgpool__futex_wait(&w->state, WORKER_PARKED, &stalled_sleep);
			/* The nap is over: look again, whether or not a waker won meanwhile. */
			unclaim(w);
			break;
		}
		if (until == 0) {
			cfgpool__futex_wait(&w->state, WORKER_PARKED, NULL);
			continue;
		}
		cfgpool__futex_wait_until(&w->state, WORKER_PARKED, until);
		if (cfgpool__now_ns() >= until && unclaim(w)) {
			how = PARK_TIMEOUT;
			break;
		}
	}
	cfgpool__count(&w->c.wakes, 1);
	return how;
}

/* How long before an expected batch a worker asks to be woken. */
static uint64_t prewake_lead(const struct cfgpool__worker *w)
{
	return w->late_ns + w->late_ns / 2 + LEAD_MARGIN_NS;
}

/*
 * With a period learned (arrivals.h) and pool.periodic_spin_us set: when to wake up ahead
 * of the first expected batch whose window ends after *from, and when to give up
 * spinning for it; *from moves to the end of that window, for the next one. False: no
 * period, or none worth waking ahead for (`first`: the worker has just run out of work).
 */
static bool prewake_plan(const struct cfgpool__worker *w, uint64_t budget, bool first, uint64_t *from,
			 uint64_t *wake_at, uint64_t *spin_end)
{
	struct cfgpool__arrival_guess g;
	uint64_t lead = prewake_lead(w);

	if (budget == 0 || !cfgpool__arrivals_next(&w->crew->arrivals, *from, &g) ||
	    !cfgpool__arrivals_worth_waking(&g, *from, budget, first))
		return false;
	if (lead > budget)
		lead = budget;
	*wake_at = g.at_ns > lead ? g.at_ns - lead : 0;
	*spin_end = g.at_ns + g.tol_ns;
	*from = *spin_end;
	if (*spin_end > *wake_at + budget)
		*spin_end = *wake_at + budget;
	return true;
}

/* Moves the worker's lateness average by one timed wake-up that was `late_ns` late. */
static void note_lateness(struct cfgpool__worker *w, uint64_t late_ns)
{
	w->late_ns = w->late_ns - w->late_ns / 8 + late_ns / 8;
}

/*
 * Spins until there is work or the window closes; then, when batches come at a period it
 * knows, sleeps until just before the next one and spins through its window, and
 * otherwise parks until woken.
 */
static void idle(struct cfgpool__worker *w)
{
	struct cfgpool__run_settings s;
	uint64_t window, parked_at, from, wake_at, spin_end;

	/* The current snapshot's settings, so that a reload can retune them. */
	cfgpool__run_settings(&w->crew->run, &s);
	cfgpool__arrivals_want(&w->crew->arrivals, s.periodic_ns != 0);
	w->spin_ns = cfgpool__spin_clamp(w->spin_ns, s.spin_ns);
	window = w->spin_ns;
	/* A reserved worker would only spin against the caller running tasks on its CPU. */
	if (atomic_load_explicit(&w->reserved, memory_order_relaxed) != 0)
		window = 0;
	parked_at = cfgpool__now_ns();
	if (window > 0 && spin_until(w, parked_at + window))
		return;
	from = cfgpool__now_ns();
	for (bool first = true; prewake_plan(w, s.periodic_ns, first, &from, &wake_at, &spin_end); first = false) {
		/* A sleep shorter than the lead would end about when it should not have begun:
		 * spin through it instead (back-to-back batches of long tasks, whose period is
		 * learned too, are due again right after a worker finishes its share). */
		uint64_t now = cfgpool__now_ns();

		if (wake_at > now + prewake_lead(w)) {
			enum park how = park(w, wake_at);

			/* Woken before its time, the worker learns as it would from any park:
			 * work that came soon after it stopped spinning widens the window. */
			if (how == PARK_WOKEN && window > 0)
				w->spin_ns = cfgpool__spin_adapt(w->spin_ns, s.spin_ns, cfgpool__now_ns() - now);
			if (how != PARK_TIMEOUT)
				return;
			note_lateness(w, cfgpool__now_ns() - wake_at);
		} else if (spin_end > now + s.periodic_ns) {
			spin_end = now + s.periodic_ns; /* never more than the budget per batch */
		}
		if (spin_until(w, spin_end))
			return;
	}
	parked_at = cfgpool__now_ns();
	if (park(w, 0) == PARK_WOKEN && window > 0)
		w->spin_ns = cfgpool__spin_adapt(w->spin_ns, s.spin_ns, cfgpool__now_ns() - parked_at);
}

/* ------------------------------------------------------------------------------------------ */
/* The worker thread                                                                          */
/* ------------------------------------------------------------------------------------------ */

/*
 * How many tasks to take at once: one, unless tasks are tiny (their average below
 * TINY_NS), when taking a run of them saves a round trip of the queue's shared line per
 * task; and never more than a fair share of what is queued (rounded up), so the others
 * get theirs: 8 queued for 2 task threads is 4 each, not 5 and 3.
 */
#define TAKE_MAX 16
#define TINY_NS 2000

static size_t take_size(const struct cfgpool__worker *w)
{
	size_t share;

	if (atomic_load_explicit(&w->c.ewma_ns, memory_order_relaxed) >= TINY_NS)
		return 1;
	/* At least one: the size, read without ordering, may lag behind a front that has_work()
	 * found ready, and a take of none would send the worker back to spin on it for good. */
	share = (cfgpool__queue_size(w->crew->queue) + w->crew->n - 1) / w->crew->n;
	if (share == 0)
		return 1;
	return share < TAKE_MAX ? share : TAKE_MAX;
}

/* Reports this worker started and waits for start to say whether every worker did. */
static bool start_handshake(struct cfgpool__crew *crew)
{
	/* Release: pairs with start's acquire load; init_rc and kstate are visible. */
	atomic_fetch_add_explicit(&crew->started, 1, memory_order_release);
	/* Workers that started earlier sleep on the same word: wake them all, start among them. */
	cfgpool__futex_wake(&crew->started, INT32_MAX);
	/* One load per round: sleeping on a value read after the test could sleep on
	 * UINT32_MAX, which nobody changes again. Acquire: pairs with start's release store. */
	for (uint32_t v; (v = atomic_load_explicit(&crew->started, memory_order_acquire)) != UINT32_MAX;)
		cfgpool__futex_wait(&crew->started, v, NULL);
	/* Acquire: pairs with start's release store of go. */
	return atomic_load_explicit(&crew->go, memory_order_acquire);
}

static void run_loop(struct cfgpool__worker *w)
{
	struct cfgpool__crew *crew = w->crew;
	struct cfgpool__task tasks[TAKE_MAX];
	uint64_t clock = 0;

	for (;;) {
		size_t n = 0;

		/* Relaxed: see "Taking a reservation" at the top of this file. */
		if (atomic_load_explicit(&w->reserved, memory_order_relaxed) == 0)
			n = cfgpool__queue_pop_many(crew->queue, tasks, take_size(w));
		if (n > 0) {
			cfgpool__crew_room_signal(crew);
			/* More queued than we can take: pass the wake-up on before working. */
			if (cfgpool__queue_size(crew->queue) > 0)
				cfgpool__crew_wake_one(crew, w);
			for (size_t i = 0; i < n; i++)
				cfgpool__task_run(&crew->run, &tasks[i], w->index, &w->kstate, &w->c, &clock);
			continue;
		}
		clock = 0; /* idle time is not task time */
		/* Acquire: pairs with nothing stronger than close's seq_cst store; the queue
		 * check after it sees every task accepted before close's grace period. */
		if (atomic_load_explicit(crew->closing, memory_order_acquire) && cfgpool__queue_size(crew->queue) == 0)
			return;
		idle(w);
	}
}

static void *worker_main(void *arg)
{
	struct cfgpool__worker *w = arg;
	struct cfgpool__crew *crew = w->crew;

	if (cfgpool_reader_register() != 0)
		cfgpool__die("cannot register a worker as an RCU reader");
	/* Timed sleeps (waking ahead of a batch) end when asked, not up to the default 50 us
	 * of timer slack later. Best effort: a failure only makes them later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	/* A worker is a task thread of its pool for its whole life: what its kernels and
	 * callbacks call on the pool is refused where it would wait for itself. */
	cfgpool__task_thread_enter(&crew->run);
	w->init_rc = cfgpool__task_worker_init(&crew->run, w->index, &w->kstate);
	if (start_handshake(crew))
		run_loop(w);
	if (w->init_rc == 0 && crew->run.kernel->worker_fini != NULL)
		crew->run.kernel->worker_fini(w->kstate.state, w->index);
	cfgpool_reader_unregister();
	return NULL;
}

static void pin(struct cfgpool__worker *w, pthread_attr_t *attr)
{
	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		/* Pinned from its first instruction: the attribute, not a call after start. */
		pthread_attr_setaffinity_np(attr, sizeof(set), &set);
	}
}

/* Waits for every started worker to finish worker_init; the first failure's code. */
static int wait_started(struct cfgpool__crew *crew, unsigned started, cfgpool_error_t *err)
{
	for (;;) {
		/* Acquire: pairs with each worker's release increment. */
		uint32_t n = atomic_load_explicit(&crew->started, memory_order_acquire);

		if (n == started)
			break;
		cfgpool__futex_wait(&crew->started, n, NULL);
	}
	for (unsigned i = 0; i < started; i++) {
		int rc = crew->workers[i].init_rc;

		if (rc != 0)
			return cfgpool_error_set(err, rc, NULL, "kernel %s: worker_init failed on worker %u: %s",
						 crew->run.kernel->name, i, cfgpool_strerror(rc));
	}
	return 0;
}

int cfgpool__crew_start(struct cfgpool__crew *crew, const int *cpus, unsigned ncpu, bool pinned,
			cfgpool_error_t *err)
{
	unsigned started = 0;
	int rc = 0;

	for (unsigned i = 0; i < crew->n; i++) {
		struct cfgpool__worker *w = &crew->workers[i];
		pthread_attr_t attr;
		char name[16];

		w->crew = crew;
		w->index = i;
		w->cpu = pinned ? cpus[i % ncpu] : -1;
		atomic_init(&w->state, WORKER_RUNNING);
		w->late_ns = LATE_START_NS;
		cfgpool__check(pthread_attr_init(&attr));
		pin(w, &attr);
		rc = -pthread_create(&w->thread, &attr, worker_main, w);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			cfgpool_error_set(err, rc, NULL, "cannot start worker %u: %s", i, cfgpool_strerror(rc));
			break;
		}
		/* Visible in top -H and in debuggers. */
		snprintf(name, sizeof(name), "cfgpool/%d", pinned ? w->cpu : (int)i);
		pthread_setname_np(w->thread, name);
		started++;
	}
	if (rc == 0)
		rc = wait_started(crew, started, err);
	else
		wait_started(crew, started, NULL);
	/* Release: pairs with the workers' acquire loads in start_handshake(). */
	atomic_store_explicit(&crew->go, rc == 0, memory_order_release);
	atomic_store_explicit(&crew->started, UINT32_MAX, memory_order_release);
	cfgpool__futex_wake(&crew->started, INT32_MAX);
	if (rc != 0) {
		crew->n = started;
		cfgpool__crew_join(crew);
	}
	return rc;
}

void cfgpool__crew_join(struct cfgpool__crew *crew)
{
	for (unsigned i = 0; i < crew->n; i++)
		cfgpool__check(pthread_join(crew->workers[i].thread, NULL));
}
