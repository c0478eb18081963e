/*
 * spin: a synthetic CPU load whose cost is proportional to the requested number of
 * iterations, for benchmarks that want tasks of a known length (cfgpool_spin_calibrate()
 * converts microseconds into iterations).
 *
 * Each iteration rotates the point (x, y) by one radian: two multiply-add chains, each
 * step depending on the previous one, so the loop runs at the latency of a multiply plus
 * an add whatever the CPU's width, and neither the compiler nor the CPU can shorten it.
 * A rotation rather than a contraction x = a x + b: a contraction converges, and in
 * floating point reaches a fixed point after some 10^7 steps, after which the output no
 * longer depends on the count. A rotation keeps |(x, y)| = 1 (up to a rounding drift of
 * about 1e-16 per step) and never repeats, since one radian is an irrational fraction of
 * a turn, so every count gives its own output and the result cannot be predicted.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "kernels.h"

/* cos(1) and sin(1), correctly rounded. */
#define SPIN_COS 0.5403023058681398
#define SPIN_SIN 0.8414709848078965

/* Calibration: long enough to dwarf clock_gettime, short enough to repeat. */
#define CALIBRATE_ITERATIONS (1u << 19)
#define CALIBRATE_RUNS 9

/*
 * Never inlined, so that the loop calibration times is the very code run executes,
 * compiled once, whatever the call site makes of it.
 */
static __attribute__((noinline)) double spin(uint64_t iterations)
{
	double x = 1.0, y = 0.0;

	for (uint64_t i = 0; i < iterations; i++) {
		double nx = SPIN_COS * x - SPIN_SIN * y;

		y = SPIN_SIN * x + SPIN_COS * y;
		x = nx;
	}
	return x;
}

static int spin_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const cfgpool_spin_input_t *in = input;
	cfgpool_spin_output_t *out = output;

	out->value = spin(in->iterations);
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * The minimum of several runs, not the mean: preemption, interrupts and a CPU still
 * raising its clock only ever add time, so the fastest run is the closest to the loop's
 * own cost.
 */
double cfgpool_spin_calibrate(void)
{
	volatile double sink;
	double best = INFINITY;

	for (int i = 0; i < CALIBRATE_RUNS; i++) {
		double start = now_ns();
		double elapsed;

		sink = spin(CALIBRATE_ITERATIONS);
		elapsed = now_ns() - start;
		if (elapsed > 0.0 && elapsed < best)
			best = elapsed;
	}
	(void)sink;
	/* A clock too coarse to see the runs at all: claim the 1 ns resolution POSIX allows. */
	if (!isfinite(best))
		best = 1.0;
	return (double)CALIBRATE_ITERATIONS / (best / 1e3);
}

/* The section is optional and takes no parameters; checking it catches misspelt kernels. */
static int spin_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params, cfgpool_error_t *err)
{
	int rc = cfgpool__kernel_check_section(section, false, "spin", NULL, 0, err);

	if (rc == 0)
		*params = NULL;
	return rc;
}

/* At 2^40 iterations an input would run for minutes: a larger count is a mistake. */
static int spin_decode(void *arg, const cfgpool_node_t *in, void *input, cfgpool_error_t *err)
{
	cfgpool_spin_input_t *s = input;

	return cfgpool__codec_uint(in, "iterations", UINT64_C(1) << 40, &s->iterations, err);
}

static int spin_encode(void *arg, const void *output, cfgpool_writer_t *w)
{
	return cfgpool__codec_real(w, "value", ((const cfgpool_spin_output_t *)output)->value);
}

static const cfgpool_codec_t spin_codec = {
	.example = "{\"iterations\": 100000}",
	.decode = spin_decode,
	.encode = spin_encode,
};

const cfgpool_kernel_t cfgpool__kernel_spin = {
	.name = "spin",
	.input_size = sizeof(cfgpool_spin_input_t),
	.output_size = sizeof(cfgpool_spin_output_t),
	.prepare = spin_prepare,
	.run = spin_run,
	.codec = &spin_codec,
};
