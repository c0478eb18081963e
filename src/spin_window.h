/*
 * An idle worker's spin window: how long it spins for work before it parks. Pure
 * arithmetic, so that a test drives it with made-up times. Internal.
 *
 * The window adapts between pool.idle_spin_us (the base) and CFGPOOL__SPIN_GROWTH times
 * it. A worker woken less than two windows after it parked would have caught that work
 * by spinning up to three windows, and paid no park/wake round trip: its window doubles.
 * One that stayed parked for more than 8 windows halves it back. So batches back to back
 * whose gaps are a little longer than the window stop paying a wake-up per batch, and
 * periodic arrivals far apart keep the base window.
 *
 * Why two windows and not one: two workers sharing batches back to back can take turns
 * at being late. The one whose gap was too long parks and is woken by futex (~50 us
 * here), starts the next batch that much after the other, and finishes it that much
 * later; the other, done first, now waits for it and for the caller's own wake-up, a gap
 * of about two base windows, parks, and starts late in turn. With "less than one window"
 * that pattern never widened the window (8 x 1 ms tasks back to back: a park a batch in
 * some runs, 0.87 efficiency against 0.97).
 */
#ifndef CFGPOOL_SRC_SPIN_WINDOW_H
#define CFGPOOL_SRC_SPIN_WINDOW_H

#include <stdint.h>

#define CFGPOOL__SPIN_GROWTH 16

/* `window` kept between `base` and CFGPOOL__SPIN_GROWTH times it (a reload may move the base). */
static inline uint64_t cfgpool__spin_clamp(uint64_t window, uint64_t base)
{
	if (window > base * CFGPOOL__SPIN_GROWTH)
		window = base * CFGPOOL__SPIN_GROWTH;
	return window < base ? base : window;
}

/* The window after a park of `parked_ns` that a waker ended. */
static inline uint64_t cfgpool__spin_adapt(uint64_t window, uint64_t base, uint64_t parked_ns)
{
	if (parked_ns < 2 * window)
		window *= 2;
	else if (parked_ns > 8 * window)
		window /= 2;
	return cfgpool__spin_clamp(window, base);
}

#endif /* CFGPOOL_SRC_SPIN_WINDOW_H */
