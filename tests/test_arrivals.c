/*
 * The arrival-period learner on its own (src/arrivals.h, linked with src/arrivals.c), and
 * the idle worker's spin window (src/spin_window.h), driven by a fake clock: the times
 * are the test's, so every case is exact and untimed.
 * What arrivals.h promises: CONFIRM agreeing intervals make the period known; intervals
 * of 2 to MAX_SKIP periods (missed batches) still agree; any other interval forgets it;
 * a prediction is the first expected arrival whose window ends after the time asked
 * about, and none is given once MAX_SKIP periods passed without a batch.
 */
#define _GNU_SOURCE

#include <pthread.h>

#include "helpers.h"

#include "arrivals.h"
#include "spin_window.h"

#define MS UINT64_C(1000000)
#define US UINT64_C(1000)

/* Notes n arrivals `period` apart from `t`; returns the time of the last. */
static uint64_t arrive(struct cfgpool__arrivals *a, uint64_t t, uint64_t period, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			t += period;
		cfgpool__arrivals_note(a, t);
	}
	return t;
}

/* A fresh learner that has seen enough arrivals `period` apart; the time of the last. */
static uint64_t learned(struct cfgpool__arrivals *a, uint64_t period)
{
	cfgpool__arrivals_init(a);
	return arrive(a, 1000 * MS, period, CFGPOOL__ARRIVALS_CONFIRM + 2);
}

static void a_period_is_known_after_confirm_intervals(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t;

	(void)state;
	cfgpool__arrivals_init(&a);
	assert_false(cfgpool__arrivals_next(&a, 0, &g));
	/* CONFIRM intervals: the first sets the estimate, the next CONFIRM agree. */
	t = arrive(&a, 1000 * MS, 10 * MS, CFGPOOL__ARRIVALS_CONFIRM + 1);
	assert_false(cfgpool__arrivals_next(&a, t, &g));
	t += 10 * MS;
	cfgpool__arrivals_note(&a, t);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.period_ns, 10 * MS);
	assert_int_equal(g.at_ns, t + 10 * MS);
	/* Exact intervals: no deviation, the window is the floor. */
	assert_int_equal(g.tol_ns, 20 * US);
}

static void the_prediction_skips_windows_that_ended(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t;

	(void)state;
	t = learned(&a, 10 * MS);
	/* Inside the first window: still that one. */
	assert_true(cfgpool__arrivals_next(&a, t + 10 * MS + 19 * US, &g));
	assert_int_equal(g.at_ns, t + 10 * MS);
	/* Once it ended, the next. */
	assert_true(cfgpool__arrivals_next(&a, t + 10 * MS + 20 * US, &g));
	assert_int_equal(g.at_ns, t + 20 * MS);
	/* Up to MAX_SKIP periods after the last arrival, then none. */
	assert_true(cfgpool__arrivals_next(&a, t + (CFGPOOL__ARRIVALS_MAX_SKIP - 1) * 10 * MS + 20 * US, &g));
	assert_int_equal(g.at_ns, t + CFGPOOL__ARRIVALS_MAX_SKIP * 10 * MS);
	assert_false(cfgpool__arrivals_next(&a, t + CFGPOOL__ARRIVALS_MAX_SKIP * 10 * MS + 20 * US, &g));
}

static void an_irregular_interval_forgets_the_period(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t;

	(void)state;
	t = learned(&a, 10 * MS);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	/* 15 ms: neither one period nor two, within 1/8. */
	t += 15 * MS;
	cfgpool__arrivals_note(&a, t);
	assert_false(cfgpool__arrivals_next(&a, t, &g));
	/* The new estimate (15 ms) needs CONFIRM agreeing intervals of its own. */
	t = arrive(&a, t, 15 * MS, CFGPOOL__ARRIVALS_CONFIRM);
	assert_false(cfgpool__arrivals_next(&a, t, &g));
	t += 15 * MS;
	cfgpool__arrivals_note(&a, t);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.period_ns, 15 * MS);
}

static void random_arrivals_seldom_give_a_period(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t = 1000 * MS, x = 88172645463325252u;
	unsigned known = 0;

	(void)state;
	cfgpool__arrivals_init(&a);
	for (int i = 0; i < 100000; i++) {
		/* xorshift: intervals uniform in 1 us .. 20 ms */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t += US + x % (20 * MS);
		cfgpool__arrivals_note(&a, t);
		known += cfgpool__arrivals_next(&a, t, &g);
	}
	/* Chance agreements happen, CONFIRM in a row seldom: under 1 arrival in 100 is
	 * predicted (278 of these 100000, in 221 runs). */
	assert_true(known < 1000);
}

static void a_missed_batch_keeps_the_period(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t;

	(void)state;
	t = learned(&a, 10 * MS);
	/* Two periods, and MAX_SKIP periods: agree, the estimate does not move. */
	t += 20 * MS + 300 * US;
	cfgpool__arrivals_note(&a, t);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.period_ns, 10 * MS);
	t += CFGPOOL__ARRIVALS_MAX_SKIP * 10 * MS;
	cfgpool__arrivals_note(&a, t);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.period_ns, 10 * MS);
	/* One more than MAX_SKIP does not. */
	t += (CFGPOOL__ARRIVALS_MAX_SKIP + 1) * 10 * MS;
	cfgpool__arrivals_note(&a, t);
	assert_false(cfgpool__arrivals_next(&a, t, &g));
}

static void jitter_follows_the_period_and_widens_the_window(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t = 1000 * MS;

	(void)state;
	cfgpool__arrivals_init(&a);
	/* Intervals alternating 10 ms +- 100 us: the period stays within them, the window
	 * grows past its floor by twice the mean deviation. */
	cfgpool__arrivals_note(&a, t);
	for (int i = 0; i < 64; i++) {
		t += i % 2 ? 10 * MS + 100 * US : 10 * MS - 100 * US;
		cfgpool__arrivals_note(&a, t);
	}
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_in_range(g.period_ns, 10 * MS - 100 * US, 10 * MS + 100 * US);
	assert_in_range(g.tol_ns, 20 * US + 150 * US, 20 * US + 250 * US);
	/* A drifting period is followed: 10 ms, then 10.5 ms (within 1/8), for long. */
	for (int i = 0; i < 200; i++) {
		t += 10 * MS + 500 * US;
		cfgpool__arrivals_note(&a, t);
	}
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_in_range(g.period_ns, 10 * MS + 490 * US, 10 * MS + 500 * US);
}

static void the_window_is_at_most_a_quarter_period(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t;

	(void)state;
	cfgpool__arrivals_init(&a);
	/* 40 us apart: the 20 us floor would be half the period. */
	t = arrive(&a, 1000 * MS, 40 * US, CFGPOOL__ARRIVALS_CONFIRM + 2);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.tol_ns, 10 * US);
}

/* A clock read late by another thread notes an earlier time: ignored. */
static void an_earlier_time_is_not_an_interval(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t;

	(void)state;
	t = learned(&a, 10 * MS);
	cfgpool__arrivals_note(&a, t - 5 * US);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.at_ns, t + 10 * MS);
	t += 10 * MS;
	cfgpool__arrivals_note(&a, t);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.period_ns, 10 * MS);
	assert_int_equal(g.at_ns, t + 10 * MS);
}

/* Concurrent notes and reads: under TSan, no race; the state stays usable. */
struct hammer {
	struct cfgpool__arrivals *a;
	uint64_t base;
};

/*
 * arrivals.h, cfgpool__arrivals_worth_waking(): a period under 8 budgets is never worth
 * waking ahead for; a worker that has just run out of work wakes ahead only for a batch
 * due at least 8 budgets later, so batches back to back (8 x 1 ms tasks on 2 workers: a
 * period of about 4 ms, the next due as the last task ends, at most a task after either
 * worker ran out of work) are left to the spin window, but a later window of a long
 * period is not.
 */
static void back_to_back_batches_are_not_worth_waking_ahead(void **state)
{
	const uint64_t budget = 200 * US;
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	uint64_t t;

	(void)state;
	/* One batch every 10 ms, of 80 us: the worker runs out of work 80 us after the last. */
	t = learned(&a, 10 * MS);
	assert_true(cfgpool__arrivals_next(&a, t + 80 * US, &g));
	assert_true(cfgpool__arrivals_worth_waking(&g, t + 80 * US, budget, true));
	assert_false(cfgpool__arrivals_worth_waking(&g, t + 80 * US, 0, true));
	/* Back to back, 4 ms a batch: out of work 3.99 ms after the last arrival. */
	t = learned(&a, 4 * MS);
	assert_true(cfgpool__arrivals_next(&a, t + 3990 * US, &g));
	assert_false(cfgpool__arrivals_worth_waking(&g, t + 3990 * US, budget, true));
	/* Out of work a task early (the other worker still runs its last): still too soon. */
	assert_false(cfgpool__arrivals_worth_waking(&g, t + 3 * MS, budget, true));
	/* Out of work after the next one was due (this batch ran longer than the period): the
	 * guess is a period further, 3.9 ms away, but the next batch is late, not skipped. */
	assert_true(cfgpool__arrivals_next(&a, t + 4100 * US, &g));
	assert_int_equal(g.missed, 1);
	assert_int_equal(g.at_ns, t + 8 * MS);
	assert_false(cfgpool__arrivals_worth_waking(&g, t + 4100 * US, budget, true));
	/* Later windows, once the worker has given up on one: a whole period away, worth it. */
	assert_true(cfgpool__arrivals_next(&a, t + 4100 * US, &g));
	assert_true(cfgpool__arrivals_worth_waking(&g, t + 4100 * US, budget, false));
	/* A period under 8 budgets (1.6 ms here) never is. */
	t = learned(&a, 1500 * US);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_false(cfgpool__arrivals_worth_waking(&g, t, budget, true));
	assert_false(cfgpool__arrivals_worth_waking(&g, t, budget, false));
	/* Exactly 8 budgets, for both the period and the first gap, is enough. */
	t = learned(&a, 8 * budget);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_true(cfgpool__arrivals_worth_waking(&g, t, budget, true));
	assert_false(cfgpool__arrivals_worth_waking(&g, t + 1, budget, true));
}

/*
 * spin_window.h: the window doubles after a park a waker ended within two windows, halves
 * after one of more than 8, stays otherwise, and stays between the base and 16 times it.
 * Two workers taking turns at being late (a gap of about two base windows after the
 * window ran out, each batch) widen it until the gap is spun through.
 */
static void the_spin_window_widens_for_gaps_of_two_windows(void **state)
{
	const uint64_t base = 50 * US;
	uint64_t w = base;
	unsigned parks = 0;

	(void)state;
	assert_int_equal(cfgpool__spin_adapt(base, base, 30 * US), 2 * base);
	assert_int_equal(cfgpool__spin_adapt(base, base, 99 * US), 2 * base);
	assert_int_equal(cfgpool__spin_adapt(base, base, 100 * US), base);
	assert_int_equal(cfgpool__spin_adapt(4 * base, base, 33 * base), 2 * base);
	assert_int_equal(cfgpool__spin_adapt(base, base, 10 * MS), base);
	assert_int_equal(cfgpool__spin_adapt(16 * base, base, 0), 16 * base);
	assert_int_equal(cfgpool__spin_clamp(base / 2, base), base);
	assert_int_equal(cfgpool__spin_clamp(40 * base, base), 16 * base);
	/* Gaps of 140 us after the batch (a partner 90 us late and the caller's 50 us): with
	 * "less than one window" the worker parked for 90 us each time and kept 50 us. */
	for (int batch = 0; batch < 10; batch++) {
		uint64_t gap = 140 * US;

		if (gap > w) {
			parks++;
			w = cfgpool__spin_adapt(w, base, gap - w);
		}
	}
	assert_true(w > 140 * US);
	assert_int_equal(parks, 2);
}

static void *hammer_notes(void *arg)
{
	struct hammer *h = arg;
	struct cfgpool__arrival_guess g;

	for (uint64_t i = 0; i < 20000; i++) {
		cfgpool__arrivals_note(h->a, h->base + i * 10 * MS);
		if (cfgpool__arrivals_next(h->a, h->base + i * 10 * MS, &g))
			assert_true(g.period_ns > 0 && g.tol_ns <= g.period_ns / 4);
	}
	return NULL;
}

static void notes_from_many_threads_at_once(void **state)
{
	struct cfgpool__arrivals a;
	struct cfgpool__arrival_guess g;
	struct hammer h[4];
	pthread_t th[4];
	uint64_t t;

	(void)state;
	cfgpool__arrivals_init(&a);
	for (int i = 0; i < 4; i++) {
		h[i].a = &a;
		h[i].base = 1000 * MS + (uint64_t)i * US;
		assert_int_equal(pthread_create(&th[i], NULL, hammer_notes, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	/* Whatever the threads left, one caller's regular arrivals are learned again. */
	t = arrive(&a, 1000 * MS + 20000 * 10 * MS, 7 * MS, CFGPOOL__ARRIVALS_CONFIRM + 2);
	assert_true(cfgpool__arrivals_next(&a, t, &g));
	assert_int_equal(g.period_ns, 7 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_period_is_known_after_confirm_intervals),
	    cmocka_unit_test(the_prediction_skips_windows_that_ended),
	    cmocka_unit_test(an_irregular_interval_forgets_the_period),
	    cmocka_unit_test(random_arrivals_seldom_give_a_period),
	    cmocka_unit_test(a_missed_batch_keeps_the_period),
	    cmocka_unit_test(jitter_follows_the_period_and_widens_the_window),
	    cmocka_unit_test(the_window_is_at_most_a_quarter_period),
	    cmocka_unit_test(an_earlier_time_is_not_an_interval),
	    cmocka_unit_test(back_to_back_batches_are_not_worth_waking_ahead),
	    cmocka_unit_test(the_spin_window_widens_for_gaps_of_two_windows),
	    cmocka_unit_test(notes_from_many_threads_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
