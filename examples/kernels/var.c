/*
 * portfolio_var, a cfgpool plug-in: the value-at-risk and expected shortfall of a small
 * portfolio by Monte Carlo (the model is in var.h). Copy this directory to start your
 * own kernel: `make` builds var.so against the installed cfgpool, `make check` runs it
 * through `cfgpool run` and compares every result with the closed form.
 *
 * The configuration's `kernel` section names the plug-in and holds the parameters:
 *   "kernel": {"plugin": "var.so", "name": "portfolio_var",
 *              "assets": [{"drift": 0.0003, "volatility": 0.012}, ...],
 *              "correlation": [[1, 0.2, ...], ...], "paths": 200000, "seed": 7}
 * prepare compiles it once per load into a block every task reads (the Cholesky factor of
 * the covariance, so a task never parses anything); each worker thread has a buffer of
 * `paths` losses, made by worker_init and resized by worker_reload when a reload changes
 * `paths`; run simulates the paths and selects the quantile in that buffer.
 *
 * Every path uses the same seeded random numbers, whatever the input and whichever worker
 * runs it, so one input gives the same result bit for bit on every run.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cfgpool/cfgpool.h>

#include "var.h"

#define VAR_E_POSITIONS (-1001) /* run's own code: see var_strerror */

struct var_params {
	struct var_portfolio pf;
	double chol[VAR_MAX_ASSETS][VAR_MAX_ASSETS]; /* lower triangular, L L^T = covariance */
	uint64_t paths;
	uint64_t seed;
};

/* A worker's buffer of losses, one per path. */
struct var_state {
	uint64_t cap;
	double losses[];
};

static int var_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params, cfgpool_error_t *err)
{
	struct var_params *p;
	int64_t paths = 0, seed = 0;
	int rc;

	(void)root;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return cfgpool_error_set(err, -ENOMEM, "kernel", "out of memory");
	rc = var_read_portfolio(section, &p->pf, err);
	if (rc == 0 && (cfgpool_get_int(section, "paths", &paths) != 0 || paths < 100 || paths > 100000000))
		rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.paths", "expected an integer from 100 to 100000000");
	if (rc == 0 && (cfgpool_get_int(section, "seed", &seed) != 0 || seed < 0))
		rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.seed", "expected an integer >= 0");
	/* Cholesky of the covariance Sigma_ij = rho_ij s_i s_j; fails unless positive definite. */
	for (unsigned i = 0; rc == 0 && i < p->pf.n; i++) {
		for (unsigned j = 0; j <= i; j++) {
			double s = p->pf.correlation[i][j] * p->pf.volatility[i] * p->pf.volatility[j];

			for (unsigned k = 0; k < j; k++)
				s -= p->chol[i][k] * p->chol[j][k];
			if (i != j) {
				p->chol[i][j] = s / p->chol[j][j];
			} else if (s > 0) {
				p->chol[i][i] = sqrt(s);
			} else {
				rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.correlation",
						       "not positive definite (no portfolio has such correlations)");
				break;
			}
		}
	}
	if (rc != 0) {
		free(p);
		return rc;
	}
	p->paths = (uint64_t)paths;
	p->seed = (uint64_t)seed;
	*params = p;
	return 0;
}

static void var_release(void *params)
{
	free(params);
}

static int var_state_make(uint64_t paths, void **state)
{
	struct var_state *s = malloc(sizeof(*s) + paths * sizeof(double));

	if (s == NULL)
		return -ENOMEM;
	s->cap = paths;
	*state = s;
	return 0;
}

static int var_worker_init(const cfgpool_config_t *config, const void *params, unsigned worker, void **state)
{
	const struct var_params *p = params;

	(void)config;
	(void)worker;
	return var_state_make(p->paths, state);
}

static void var_worker_fini(void *state, unsigned worker)
{
	(void)worker;
	free(state);
}

/* A reload may ask for more paths than this thread's buffer holds. */
static int var_worker_reload(void *arg, const cfgpool_config_t *config, const void *params, unsigned worker,
			     void **state)
{
	const struct var_params *p = params;
	struct var_state *s = *state;

	(void)arg;
	(void)config;
	(void)worker;
	if (s != NULL && s->cap >= p->paths)
		return 0;
	free(s);
	*state = NULL;
	return var_state_make(p->paths, state);
}

/* splitmix64: a small, fast, well-mixed generator; its state is one counter. */
static uint64_t next_u64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Two independent standard normals (Box-Muller). */
static void normal_pair(uint64_t *x, double *a, double *b)
{
	double u = ((double)(next_u64(x) >> 11) + 0.5) * 0x1.0p-53;
	double v = (double)(next_u64(x) >> 11) * 0x1.0p-53;
	double r = sqrt(-2.0 * log(u));

	*a = r * cos(2.0 * M_PI * v);
	*b = r * sin(2.0 * M_PI * v);
}

/* Moves the k-th smallest of a[0..n) to a[k], none larger before it, none smaller after (quickselect). */
static void select_kth(double *a, int64_t n, int64_t k)
{
	int64_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = a[lo + (hi - lo) / 2];
		int64_t i = lo, j = hi;

		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				double t = a[i];

				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return; /* between j and i every element equals the pivot */
	}
}

static int var_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct var_params *p = ctx->params;
	const struct var_input *in = input;
	struct var_output *out = output;
	struct var_state *s = ctx->state;
	double mean[VAR_MAX_ASSETS], scale = sqrt(in->horizon), total = 0, tail = 0;
	uint64_t rng = p->seed, k;
	unsigned n = p->pf.n;

	if (in->npositions != n)
		return VAR_E_POSITIONS;
	if (!(in->confidence > 0.5 && in->confidence < 1) || !(in->horizon > 0))
		return -EDOM;
	for (unsigned i = 0; i < n; i++)
		mean[i] = p->pf.drift[i] * in->horizon;
	for (uint64_t path = 0; path < p->paths; path++) {
		double z[VAR_MAX_ASSETS + 1], loss = 0;

		for (unsigned i = 0; i < n; i += 2)
			normal_pair(&rng, &z[i], &z[i + 1]);
		for (unsigned i = 0; i < n; i++) {
			double r = mean[i];

			for (unsigned j = 0; j <= i; j++)
				r += scale * p->chol[i][j] * z[j];
			loss -= in->positions[i] * r;
		}
		s->losses[path] = loss;
		total += loss;
	}
	/* The VaR is the ceil(a * paths)-th smallest loss; the shortfall the mean from it on. */
	k = (uint64_t)ceil(in->confidence * (double)p->paths) - 1;
	select_kth(s->losses, (int64_t)p->paths, (int64_t)k);
	for (uint64_t i = k; i < p->paths; i++)
		tail += s->losses[i];
	out->var = s->losses[k];
	out->expected_shortfall = tail / (double)(p->paths - k);
	out->mean_loss = total / (double)p->paths;
	out->paths = p->paths;
	return 0;
}

static const char *var_strerror(int code)
{
	if (code == VAR_E_POSITIONS)
		return "positions: expected one number per asset of kernel.assets";
	if (code == -EDOM)
		return "confidence must be in (0.5, 1) and horizon_days > 0";
	return NULL;
}

/* The codec: an input line's object into a struct var_input, and a struct var_output out. */
static int var_decode(void *arg, const cfgpool_node_t *in, void *input, cfgpool_error_t *err)
{
	(void)arg;
	return var_read_input(in, input, err);
}

static int var_encode(void *arg, const void *output, cfgpool_writer_t *w)
{
	const struct var_output *o = output;
	int rc;

	(void)arg;
	rc = cfgpool_write_key(w, "var");
	if (rc == 0)
		rc = cfgpool_write_double(w, o->var);
	if (rc == 0)
		rc = cfgpool_write_key(w, "expected_shortfall");
	if (rc == 0)
		rc = cfgpool_write_double(w, o->expected_shortfall);
	if (rc == 0)
		rc = cfgpool_write_key(w, "mean_loss");
	if (rc == 0)
		rc = cfgpool_write_double(w, o->mean_loss);
	if (rc == 0)
		rc = cfgpool_write_key(w, "paths");
	if (rc == 0)
		rc = cfgpool_write_uint(w, o->paths);
	return rc;
}

static const cfgpool_codec_t var_codec = {
	.example = "{\"positions\": [1000000, 500000, 250000], \"confidence\": 0.99, \"horizon_days\": 10}",
	.decode = var_decode,
	.encode = var_encode,
};

static const cfgpool_kernel_t var_kernel = {
	.name = "portfolio_var",
	.input_size = sizeof(struct var_input),
	.output_size = sizeof(struct var_output),
	.prepare = var_prepare,
	.release = var_release,
	.worker_init = var_worker_init,
	.worker_fini = var_worker_fini,
	.run = var_run,
	.strerror = var_strerror,
	.worker_reload = var_worker_reload,
	.codec = &var_codec,
};

/* The one exported symbol: cfgpool_plugin_v1(), returning var_kernel and the ABI it was built for. */
CFGPOOL_PLUGIN(var_kernel)
