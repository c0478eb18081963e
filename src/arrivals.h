/*
 * Learning the period of batch arrivals, so that idle workers can be awake (spinning
 * briefly) just before the next batch instead of paying a wake-up for it, and parked
 * otherwise. Internal; pure arithmetic on the times it is given, so that a test drives it
 * with a fake clock.
 *
 * The pool notes the time of every batch it queues (map, map_async). Intervals within
 * 1/8 of the current estimate confirm it (and move it by 1/8 of their error); CONFIRM of
 * them in a row make the period known. One within 1/8 of 2 to MAX_SKIP times it (batches
 * that did not come) keeps what is known and confirms nothing. Any other interval
 * replaces the estimate and forgets the confirmations, so irregular arrivals (seldom
 * CONFIRM agreeing intervals in a row) give no prediction and the workers behave as they
 * would without this. A time earlier than the last one noted is ignored.
 *
 * Synchronization table:
 *   note         any number of threads at once; one updates, the others' arrivals are
 *                skipped (a skipped interval reads as a missed batch: 2 periods)
 *   next         any number of threads, concurrently with note; reads a hint that may mix
 *                two updates (a prediction off by one period at worst, which costs a
 *                worker one useless spin and nothing else)
 *   init         exclusive
 * Shared fields and what protects them:
 *   busy                      the updater's flag (test-and-set)
 *   est_ns, hits, seen        the updater's, under `busy` (its acquire and release)
 *   last_ns, period_ns, dev_ns  published by the updater (relaxed: a hint that pairs with
 *                             nothing); readers load each once
 */
#ifndef CFGPOOL_SRC_ARRIVALS_H
#define CFGPOOL_SRC_ARRIVALS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compat.h"

/* Intervals in a row that must agree before the period is known. */
#define CFGPOOL__ARRIVALS_CONFIRM 3
/* Missed batches tolerated: an interval of up to this many periods still agrees, and a
 * prediction is given until this many periods passed without a batch. */
#define CFGPOOL__ARRIVALS_MAX_SKIP 4

struct cfgpool__arrivals {
	_Alignas(CFGPOOL_CACHELINE) atomic_flag busy;
	uint64_t est_ns; /* the current estimate of the period, confirmed or not; 0: none */
	uint32_t hits;   /* agreeing intervals in a row */
	bool seen;       /* a first arrival was noted */
	_Atomic uint64_t last_ns;   /* the latest arrival */
	_Atomic uint64_t period_ns; /* the period once confirmed, else 0 */
	_Atomic uint64_t dev_ns;    /* mean deviation of agreeing intervals from the period */
	atomic_bool wanted;         /* pool.periodic_spin_us is set: arrivals are worth noting */
};

/* One prediction: the next expected arrival and how far from it one may come. */
struct cfgpool__arrival_guess {
	uint64_t at_ns;     /* expected arrival (monotonic ns) */
	uint64_t period_ns; /* the learned period */
	uint64_t tol_ns;    /* how late (or early) an arrival still counts as expected */
	unsigned missed;    /* expected arrivals whose window ended before the time asked about */
};

void cfgpool__arrivals_init(struct cfgpool__arrivals *a);

/* A batch arrived at `now` (monotonic ns). Lock-free; never waits. */
void cfgpool__arrivals_note(struct cfgpool__arrivals *a, uint64_t now);

/*
 * Whether submitters should note arrivals at all: set by the idle workers from the current
 * snapshot's pool.periodic_spin_us (stored only when it changes), so that with the setting
 * off (0) a queued batch costs no clock read and no read-modify-write of the learner's
 * line. Relaxed: a hint; an arrival noted or skipped around a reload only moves
 * when the period is known.
 */
static inline void cfgpool__arrivals_want(struct cfgpool__arrivals *a, bool want)
{
	if (atomic_load_explicit(&a->wanted, memory_order_relaxed) != want)
		atomic_store_explicit(&a->wanted, want, memory_order_relaxed);
}

static inline bool cfgpool__arrivals_wanted(const struct cfgpool__arrivals *a)
{
	return atomic_load_explicit(&a->wanted, memory_order_relaxed);
}

/*
 * The first expected arrival whose window (at_ns + tol_ns) ends after `from`. False: no
 * period is known, or MAX_SKIP periods passed since the last arrival. Wait-free.
 */
bool cfgpool__arrivals_next(const struct cfgpool__arrivals *a, uint64_t from, struct cfgpool__arrival_guess *g);

/*
 * Waking ahead of a batch spins up to `budget` ns for it: worth it only for a period of
 * at least CFGPOOL__ARRIVALS_MIN_FACTOR budgets (else it would spin most of the time),
 * and, when the worker has just run out of work at `from` (`first`), for a batch due at
 * least that long after and none overdue: batches back to back (long tasks have a period
 * too) are left to the spin window and the plain park, as without waking ahead, whether
 * the next is due soon or already late (a batch that took longer than the period: the
 * next comes as soon as its caller is back, not a period later).
 */
#define CFGPOOL__ARRIVALS_MIN_FACTOR 8

static inline bool cfgpool__arrivals_worth_waking(const struct cfgpool__arrival_guess *g, uint64_t from,
						  uint64_t budget, bool first)
{
	uint64_t least = CFGPOOL__ARRIVALS_MIN_FACTOR * budget;

	return budget != 0 && g->period_ns >= least && (!first || (g->missed == 0 && g->at_ns >= from + least));
}

#endif /* CFGPOOL_SRC_ARRIVALS_H */
