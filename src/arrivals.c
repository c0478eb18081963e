/*
 * The arrival-period learner; see arrivals.h.
 */
#include "config.h"

#include "arrivals.h"

/* An interval agrees with the estimate when within 1/PERIOD_TOLERANCE of it (or of a
 * multiple up to MAX_SKIP). */
#define PERIOD_TOLERANCE 8
/* The least window around an expected arrival: a batch's own timer wakes that late. */
#define TOL_FLOOR_NS 20000u

void cfgpool__arrivals_init(struct cfgpool__arrivals *a)
{
	atomic_flag_clear_explicit(&a->busy, memory_order_relaxed);
	a->est_ns = 0;
	a->hits = 0;
	a->seen = false;
	atomic_init(&a->last_ns, 0);
	atomic_init(&a->period_ns, 0);
	atomic_init(&a->dev_ns, 0);
	atomic_init(&a->wanted, false);
}

static uint64_t distance(uint64_t x, uint64_t y)
{
	return x > y ? x - y : y - x;
}

/* The multiple k (1..MAX_SKIP) of `est` that `interval` agrees with, or 0. */
static uint64_t agreeing_multiple(uint64_t interval, uint64_t est)
{
	uint64_t k = (interval + est / 2) / est;

	if (k < 1 || k > CFGPOOL__ARRIVALS_MAX_SKIP)
		return 0;
	return distance(interval, k * est) <= est / PERIOD_TOLERANCE ? k : 0;
}

/* Under `busy`: moves the estimate by one interval. */
static void learn(struct cfgpool__arrivals *a, uint64_t interval)
{
	uint64_t k = a->est_ns != 0 ? agreeing_multiple(interval, a->est_ns) : 0;
	uint64_t dev = atomic_load_explicit(&a->dev_ns, memory_order_relaxed);

	if (k == 0) {
		a->est_ns = interval;
		a->hits = 0;
		dev = 0;
	} else if (k == 1) {
		/* The estimate moves by 1/8 of the error, the deviation by 1/8 of its own. */
		dev = dev - dev / 8 + distance(interval, a->est_ns) / 8;
		a->est_ns = interval > a->est_ns ? a->est_ns + (interval - a->est_ns) / 8
						 : a->est_ns - (a->est_ns - interval) / 8;
		if (a->hits < CFGPOOL__ARRIVALS_CONFIRM)
			a->hits++;
	} else {
		/* A missed batch: it keeps what is known but confirms nothing, so that random
		 * intervals, which fall near some multiple of anything often, seldom confirm. */
		return;
	}
	/* Relaxed: published hints (arrivals.h). */
	atomic_store_explicit(&a->dev_ns, dev, memory_order_relaxed);
	atomic_store_explicit(&a->period_ns, a->hits >= CFGPOOL__ARRIVALS_CONFIRM ? a->est_ns : 0,
			      memory_order_relaxed);
}

void cfgpool__arrivals_note(struct cfgpool__arrivals *a, uint64_t now)
{
	/* Acquire: pairs with the previous updater's release clear; its private fields are
	 * visible. Another thread updating: this arrival is skipped (arrivals.h). */
	if (atomic_flag_test_and_set_explicit(&a->busy, memory_order_acquire))
		return;
	if (a->seen) {
		uint64_t last = atomic_load_explicit(&a->last_ns, memory_order_relaxed);

		/* Two callers' clocks read out of order: the later note is the earlier time,
		 * and says nothing. */
		if (now <= last) {
			atomic_flag_clear_explicit(&a->busy, memory_order_release);
			return;
		}
		learn(a, now - last);
	}
	a->seen = true;
	atomic_store_explicit(&a->last_ns, now, memory_order_relaxed);
	/* Release: pairs with the next updater's acquire. */
	atomic_flag_clear_explicit(&a->busy, memory_order_release);
}

bool cfgpool__arrivals_next(const struct cfgpool__arrivals *a, uint64_t from, struct cfgpool__arrival_guess *g)
{
	/* Relaxed: hints (arrivals.h). */
	uint64_t period = atomic_load_explicit(&a->period_ns, memory_order_relaxed);
	uint64_t last = atomic_load_explicit(&a->last_ns, memory_order_relaxed);
	uint64_t dev = atomic_load_explicit(&a->dev_ns, memory_order_relaxed);
	uint64_t tol, k;

	if (period == 0)
		return false;
	tol = 2 * dev + TOL_FLOOR_NS;
	if (tol > period / 4)
		tol = period / 4;
	/* The first k >= 1 with last + k * period + tol > from. */
	k = 1;
	if (from >= last + period + tol)
		k = (from - last - tol) / period + 1;
	if (k > CFGPOOL__ARRIVALS_MAX_SKIP)
		return false;
	g->at_ns = last + k * period;
	g->period_ns = period;
	g->tol_ns = tol;
	g->missed = (unsigned)(k - 1);
	return true;
}
