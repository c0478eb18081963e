/*
 * mc_option: the Monte Carlo price of a European call or put under geometric Brownian
 * motion, S_T = S0 exp((r - sigma^2/2) T + sigma sqrt(T) Z), as the discounted mean
 * payoff, with the standard error of that mean.
 *
 * `paths` counts samples of the estimator. With antithetic variates (the default) one
 * sample is the average of the payoffs of the mirrored paths Z and -Z, which costs one
 * normal draw and one exp() and cancels the odd part of the payoff's dependence on Z;
 * the standard error is computed over these samples, as the estimator's must be.
 *
 * Reproducibility. Each task seeds its own generator from the configured seed and the
 * input's fields, never from worker state, and the samples are generated and summed in
 * blocks of a fixed size whatever buffer holds them, so a given (seed, input) gives the
 * same bits on every worker, with or without a worker state, in every run of one build on
 * one machine. (libm's exp and log may round differently on another CPU or glibc.)
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "kernels.h"

#define MC_MAX_PATHS 100000000

/*
 * Normals are drawn and consumed a block at a time so the generator runs as its own tight
 * loop. The block size fixes the summation order, so it must not depend on where the
 * block lives (the worker's buffer or the stack). It is even: the polar method yields
 * normals in pairs, and an even block never splits a pair, which keeps the draws the
 * same whatever the block size.
 */
#define MC_BLOCK 256

struct mc_params {
	double rate;
	double volatility;
	uint64_t paths;
	uint64_t seed;
	bool antithetic;
};

/*
 * A worker's scratch space. It is allocated on the worker's own thread, so on a NUMA
 * machine it sits in the worker's local memory, and cache-line aligned, so two workers'
 * buffers never share a line.
 */
struct mc_scratch {
	double z[MC_BLOCK];
};

/* ------------------------------------------------------------------------------------------ */
/* Random numbers                                                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * xoshiro256** (Blackman and Vigna, public domain): 256 bits of state, period 2^256 - 1,
 * passes BigCrush, and needs only shifts, rotations and one multiply per output, so it
 * costs far less than the log and exp each sample needs anyway.
 */
struct xoshiro {
	uint64_t s[4];
};

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t xoshiro_next(struct xoshiro *g)
{
	uint64_t *s = g->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static uint64_t double_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

/*
 * The task's seed: the configured seed and every input field pass through the splitmix64
 * mixer in turn, so neighbouring inputs (strikes 100 and 100.000001) get unrelated
 * streams. The fields are hashed one by one rather than as the struct's bytes, whose
 * padding is not part of the value. The generator's state is then filled from a
 * splitmix64 sequence, as its authors recommend, so it is never all zero.
 */
static void seed_task(struct xoshiro *g, uint64_t seed, const cfgpool_option_input_t *in)
{
	uint64_t h = cfgpool__splitmix64_mix(seed ^ UINT64_C(0x6d635f6f7074696f)); /* "mc_optio" */

	h = cfgpool__splitmix64_mix(h ^ double_bits(in->spot));
	h = cfgpool__splitmix64_mix(h ^ double_bits(in->strike));
	h = cfgpool__splitmix64_mix(h ^ double_bits(in->maturity));
	h = cfgpool__splitmix64_mix(h ^ (uint64_t)in->type);
	for (int i = 0; i < 4; i++)
		g->s[i] = cfgpool__splitmix64(&h);
}

/*
 * Fills z[0..n) with standard normals by Marsaglia's polar method: one log, one sqrt and
 * one division per pair, no trigonometry, at the price of rejecting 21% of the candidate
 * points. When n is odd the last pair's second normal is dropped.
 */
static void fill_normals(struct xoshiro *g, double *z, size_t n)
{
	for (size_t i = 0; i < n; i += 2) {
		double u, v, s, f;

		do {
			u = 2.0 * cfgpool__unit_double(xoshiro_next(g)) - 1.0;
			v = 2.0 * cfgpool__unit_double(xoshiro_next(g)) - 1.0;
			s = u * u + v * v;
		} while (s >= 1.0 || s == 0.0);
		f = sqrt(-2.0 * log(s) / s);
		z[i] = u * f;
		if (i + 1 < n)
			z[i + 1] = v * f;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Pricing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * max(x, 0) without a branch: whether a path ends in the money is a coin toss near the
 * strike, and the mispredicted branches cost more than the exp() (measured on one core:
 * 28 ns per antithetic sample with them, 15 without). Exact: x + |x| is 2x or 0, and
 * halving is exact.
 */
static inline double positive_part(double x)
{
	return 0.5 * (x + fabs(x));
}

/* Turns the normals of one block into undiscounted payoff samples, in place. */
static void payoffs(double *z, size_t n, double forward, double vol_sqrt_t, double strike, bool put, bool antithetic)
{
	double sign = put ? -1.0 : 1.0;

	if (antithetic) {
		/* exp(-x) = 1 / exp(x): the mirrored path costs a division, not a second exp. */
		for (size_t i = 0; i < n; i++) {
			double e = exp(vol_sqrt_t * z[i]);
			double up = positive_part(sign * (forward * e - strike));
			double down = positive_part(sign * (forward / e - strike));

			z[i] = 0.5 * (up + down);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			z[i] = positive_part(sign * (forward * exp(vol_sqrt_t * z[i]) - strike));
	}
}

/*
 * The running mean and sum of squared deviations, merged block by block (Chan, Golub and
 * LeVeque's pairwise update) after an exact two-pass computation within each block. The
 * textbook sum-of-squares formula cancels catastrophically when the payoff's variance is
 * small next to its mean, as for a deep in-the-money option.
 */
struct moments {
	double n;
	double mean;
	double m2;
};

static void moments_add_block(struct moments *acc, const double *x, size_t n)
{
	double sum = 0.0, m2 = 0.0, mean, delta, total;

	for (size_t i = 0; i < n; i++)
		sum += x[i];
	mean = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		m2 += (x[i] - mean) * (x[i] - mean);

	total = acc->n + (double)n;
	delta = mean - acc->mean;
	acc->mean += delta * ((double)n / total);
	acc->m2 += m2 + delta * delta * (acc->n * (double)n / total);
	acc->n = total;
}

static int mc_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct mc_params *p = ctx->params;
	const cfgpool_option_input_t *in = input;
	cfgpool_option_output_t *out = output;
	struct mc_scratch *scratch = ctx->state;
	double stack_z[MC_BLOCK];
	double *z = scratch ? scratch->z : stack_z;
	struct moments acc = {0.0, 0.0, 0.0};
	double forward, vol_sqrt_t, discount;
	struct xoshiro g;

	if (p == NULL)
		return -EINVAL;
	if (!(isfinite(in->spot) && in->spot > 0.0) || !(isfinite(in->strike) && in->strike > 0.0) ||
	    !(isfinite(in->maturity) && in->maturity > 0.0))
		return -EINVAL;
	if (in->type != CFGPOOL_CALL && in->type != CFGPOOL_PUT)
		return -EINVAL;

	forward = in->spot * exp((p->rate - 0.5 * p->volatility * p->volatility) * in->maturity);
	vol_sqrt_t = p->volatility * sqrt(in->maturity);
	discount = exp(-p->rate * in->maturity);
	seed_task(&g, p->seed, in);

	for (uint64_t done = 0; done < p->paths;) {
		size_t n = p->paths - done < MC_BLOCK ? (size_t)(p->paths - done) : MC_BLOCK;

		fill_normals(&g, z, n);
		payoffs(z, n, forward, vol_sqrt_t, in->strike, in->type == CFGPOOL_PUT, p->antithetic);
		moments_add_block(&acc, z, n);
		done += n;
	}

	/* Parameters so extreme that a path overflowed give no usable price. */
	if (!isfinite(acc.mean) || !isfinite(discount))
		return -ERANGE;
	out->price = discount * acc.mean;
	/* One sample says nothing about the spread: the error is unknown, not zero. */
	out->std_error = acc.n > 1.0 ? discount * sqrt(acc.m2 / (acc.n - 1.0) / acc.n) : NAN;
	out->paths = p->paths;
	return 0;
}

double cfgpool_black_scholes(const cfgpool_option_input_t *in, double rate, double volatility)
{
	double sd, d1, d2, discounted_strike;

	if (in == NULL || !(in->spot > 0.0) || !(in->strike > 0.0) || !(in->maturity > 0.0) || !(volatility > 0.0) ||
	    !isfinite(rate))
		return NAN;
	sd = volatility * sqrt(in->maturity);
	d1 = (log(in->spot / in->strike) + (rate + 0.5 * volatility * volatility) * in->maturity) / sd;
	d2 = d1 - sd;
	discounted_strike = in->strike * exp(-rate * in->maturity);
	/*
	 * N(x) = erfc(-x / sqrt 2) / 2 keeps full relative precision in the far tails, where
	 * 1 + erf(x) would round to zero or one.
	 */
	switch (in->type) {
	case CFGPOOL_CALL:
		return in->spot * 0.5 * erfc(-d1 * M_SQRT1_2) - discounted_strike * 0.5 * erfc(-d2 * M_SQRT1_2);
	case CFGPOOL_PUT:
		return discounted_strike * 0.5 * erfc(d2 * M_SQRT1_2) - in->spot * 0.5 * erfc(d1 * M_SQRT1_2);
	}
	return NAN;
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

static const char *const mc_keys[] = {"rate", "volatility", "paths", "seed", "antithetic"};

/* The member `key` of the section; absent is an error unless `optional`, then *out is NULL. */
static int get_field(const cfgpool_node_t *section, const char *key, bool optional, const cfgpool_node_t **out,
		     cfgpool_error_t *err)
{
	char path[CFGPOOL_ERROR_PATH_LEN];

	if (cfgpool_object_get(section, key, strlen(key), out) == 0)
		return 0;
	*out = NULL;
	if (optional)
		return 0;
	cfgpool__kernel_path(path, sizeof(path), key);
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path, "missing required field");
}

static int field_error(cfgpool_error_t *err, const char *key, const char *expected, const cfgpool_node_t *got)
{
	char path[CFGPOOL_ERROR_PATH_LEN];
	char desc[64];

	cfgpool__kernel_path(path, sizeof(path), key);
	cfgpool__kernel_describe(got, desc, sizeof(desc));
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path, "expected %s, got %s", expected, desc);
}

static int read_params(const cfgpool_node_t *section, struct mc_params *p, cfgpool_error_t *err)
{
	const cfgpool_node_t *v;
	int64_t i;
	int rc;

	rc = get_field(section, "rate", false, &v, err);
	if (rc != 0)
		return rc;
	if (cfgpool_get_double(v, NULL, &p->rate) != 0 || !isfinite(p->rate))
		return field_error(err, "rate", "a number", v);

	rc = get_field(section, "volatility", false, &v, err);
	if (rc != 0)
		return rc;
	if (cfgpool_get_double(v, NULL, &p->volatility) != 0 || !isfinite(p->volatility) || !(p->volatility > 0.0))
		return field_error(err, "volatility", "a number > 0", v);

	rc = get_field(section, "paths", false, &v, err);
	if (rc != 0)
		return rc;
	if (cfgpool_get_int(v, NULL, &i) != 0 || i < 1 || i > MC_MAX_PATHS)
		return field_error(err, "paths", "an integer from 1 to 100000000", v);
	p->paths = (uint64_t)i;

	rc = get_field(section, "seed", false, &v, err);
	if (rc != 0)
		return rc;
	if (cfgpool_get_int(v, NULL, &i) != 0 || i < 0)
		return field_error(err, "seed", "an integer >= 0", v);
	p->seed = (uint64_t)i;

	p->antithetic = true;
	rc = get_field(section, "antithetic", true, &v, err);
	if (rc != 0)
		return rc;
	if (v != NULL && cfgpool_get_bool(v, NULL, &p->antithetic) != 0)
		return field_error(err, "antithetic", "a boolean", v);
	return 0;
}

static int mc_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params, cfgpool_error_t *err)
{
	struct mc_params p, *block;
	int rc;

	rc = cfgpool__kernel_check_section(section, true, "mc_option", mc_keys, CFGPOOL_ARRAY_SIZE(mc_keys), err);
	if (rc != 0)
		return rc;
	rc = read_params(section, &p, err);
	if (rc != 0)
		return rc;
	block = malloc(sizeof(*block));
	if (block == NULL)
		return cfgpool_error_set(err, -ENOMEM, "kernel", "out of memory for the mc_option parameters");
	*block = p;
	*params = block;
	return 0;
}

static void mc_release(void *params)
{
	free(params);
}

static int mc_worker_init(const cfgpool_config_t *config, const void *params, unsigned worker, void **state)
{
	void *mem;

	if (posix_memalign(&mem, CFGPOOL_CACHELINE, sizeof(struct mc_scratch)) != 0)
		return -ENOMEM;
	*state = mem;
	return 0;
}

static void mc_worker_fini(void *state, unsigned worker)
{
	free(state);
}

/* ------------------------------------------------------------------------------------------ */
/* Codec                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static int mc_decode(void *arg, const cfgpool_node_t *in, void *input, cfgpool_error_t *err)
{
	cfgpool_option_input_t *o = input;
	const cfgpool_node_t *type;
	const char *name;
	int rc;

	rc = cfgpool__codec_number(in, "spot", true, &o->spot, err);
	if (rc == 0)
		rc = cfgpool__codec_number(in, "strike", true, &o->strike, err);
	if (rc == 0)
		rc = cfgpool__codec_number(in, "maturity", true, &o->maturity, err);
	if (rc != 0)
		return rc;
	o->type = CFGPOOL_CALL;
	if (cfgpool_object_get(in, "type", 4, &type) != 0)
		return 0; /* a call unless it says otherwise */
	if (cfgpool_get_string(type, NULL, &name, NULL) != 0)
		return cfgpool_error_set(err, CFGPOOL_ETYPE, "type", "expected \"call\" or \"put\"");
	if (strcmp(name, "put") == 0)
		o->type = CFGPOOL_PUT;
	else if (strcmp(name, "call") != 0)
		return cfgpool_error_set(err, -ERANGE, "type", "expected \"call\" or \"put\"");
	return 0;
}

static int mc_encode(void *arg, const void *output, cfgpool_writer_t *w)
{
	const cfgpool_option_output_t *o = output;
	int rc = cfgpool__codec_real(w, "price", o->price);

	if (rc == 0)
		rc = cfgpool__codec_real(w, "std_error", o->std_error);
	if (rc == 0)
		rc = cfgpool_write_key(w, "paths");
	return rc != 0 ? rc : cfgpool_write_uint(w, o->paths);
}

static const cfgpool_codec_t mc_codec = {
	.example = "{\"spot\": 100, \"strike\": 95, \"maturity\": 1, \"type\": \"call\"}",
	.decode = mc_decode,
	.encode = mc_encode,
};

const cfgpool_kernel_t cfgpool__kernel_mc_option = {
	.name = "mc_option",
	.input_size = sizeof(cfgpool_option_input_t),
	.output_size = sizeof(cfgpool_option_output_t),
	.prepare = mc_prepare,
	.release = mc_release,
	.worker_init = mc_worker_init,
	.worker_fini = mc_worker_fini,
	.run = mc_run,
	.codec = &mc_codec,
};
