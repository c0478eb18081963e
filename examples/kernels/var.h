/*
 * portfolio_var: the value-at-risk and expected shortfall of a small portfolio, by Monte
 * Carlo, as a cfgpool plug-in. This header holds what the plug-in (var.c), its checker
 * (check_var.c) and any host embedding the kernel share: the portfolio as the
 * configuration describes it, one input and one output, and the closed form the Monte
 * Carlo estimate converges to.
 *
 * Model. Daily returns of the assets are jointly normal: asset i has mean drift_i and
 * standard deviation volatility_i, and the pairwise correlations are kernel.correlation.
 * Over a horizon of h days the returns are normal with mean h * drift and covariance
 * h * Sigma. A position of p_i currency units in asset i gains p_i * r_i. The loss L is
 * minus the sum; the value-at-risk at confidence a is the a-quantile of L, the expected
 * shortfall the mean of L beyond it.
 */
#ifndef VAR_EXAMPLE_H
#define VAR_EXAMPLE_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <cfgpool/cfgpool.h>

#define VAR_MAX_ASSETS 8

/* The portfolio's assets, read from the `kernel` section. */
struct var_portfolio {
	unsigned n;
	double drift[VAR_MAX_ASSETS];
	double volatility[VAR_MAX_ASSETS];
	double correlation[VAR_MAX_ASSETS][VAR_MAX_ASSETS];
};

/* One input: {"positions": [p0, p1, ...], "confidence": 0.99, "horizon_days": 10}. */
struct var_input {
	double positions[VAR_MAX_ASSETS];
	uint32_t npositions;
	double confidence; /* in (0.5, 1) */
	double horizon;    /* days, > 0 */
};

/* One output. */
struct var_output {
	double var;                /* the confidence-quantile of the loss */
	double expected_shortfall; /* the mean loss beyond it */
	double mean_loss;          /* the mean loss over every path */
	uint64_t paths;
};

/* Reads a number at `path` under `from` into *out, in [lo, hi]; errors name `name`. */
static inline int var_read_number(const cfgpool_node_t *from, const char *path, const char *name, double lo,
				  double hi, double *out, cfgpool_error_t *err)
{
	int rc = cfgpool_get_double(from, path, out);

	if (rc == -ENOENT)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, name, "missing: expected a number from %g to %g", lo, hi);
	if (rc != 0 || !(*out >= lo && *out <= hi))
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, name, "expected a number from %g to %g", lo, hi);
	return 0;
}

/*
 * Reads kernel.assets ([{"drift": d, "volatility": s}, ...], 1 to VAR_MAX_ASSETS) and
 * kernel.correlation (an n x n symmetric matrix with ones on its diagonal) from the
 * `kernel` section. 0, or CFGPOOL_ESCHEMA with the path in `err`.
 */
static inline int var_read_portfolio(const cfgpool_node_t *section, struct var_portfolio *pf, cfgpool_error_t *err)
{
	char path[64], name[80];
	size_t n = 0, rows = 0, cols = 0;
	int rc;

	if (cfgpool_get_length(section, "assets", &n) != 0 || n < 1 || n > VAR_MAX_ASSETS)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.assets", "expected an array of 1 to %d assets",
					 VAR_MAX_ASSETS);
	pf->n = (unsigned)n;
	for (unsigned i = 0; i < pf->n; i++) {
		snprintf(path, sizeof(path), "assets[%u].drift", i);
		snprintf(name, sizeof(name), "kernel.%s", path);
		rc = var_read_number(section, path, name, -1, 1, &pf->drift[i], err);
		if (rc != 0)
			return rc;
		snprintf(path, sizeof(path), "assets[%u].volatility", i);
		snprintf(name, sizeof(name), "kernel.%s", path);
		rc = var_read_number(section, path, name, 1e-12, 1, &pf->volatility[i], err);
		if (rc != 0)
			return rc;
	}
	if (cfgpool_get_length(section, "correlation", &rows) != 0 || rows != n)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.correlation", "expected %zu rows, one per asset", n);
	for (unsigned i = 0; i < pf->n; i++) {
		snprintf(path, sizeof(path), "correlation[%u]", i);
		if (cfgpool_get_length(section, path, &cols) != 0 || cols != n)
			return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.correlation", "row %u: expected %zu numbers",
						 i, n);
		for (unsigned j = 0; j < pf->n; j++) {
			snprintf(path, sizeof(path), "correlation[%u][%u]", i, j);
			snprintf(name, sizeof(name), "kernel.%s", path);
			rc = var_read_number(section, path, name, -1, 1, &pf->correlation[i][j], err);
			if (rc != 0)
				return rc;
		}
		if (pf->correlation[i][i] != 1)
			return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.correlation", "the diagonal must be 1");
	}
	for (unsigned i = 0; i < pf->n; i++)
		for (unsigned j = 0; j < i; j++)
			if (pf->correlation[i][j] != pf->correlation[j][i])
				return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.correlation", "not symmetric");
	return 0;
}

/*
 * Reads one input object (the codec's decode, and the checker's): positions (1 to
 * VAR_MAX_ASSETS numbers), confidence (default 0.99) and horizon_days (default 1). 0, or
 * CFGPOOL_ESCHEMA with the field in `err`.
 */
static inline int var_read_input(const cfgpool_node_t *in, struct var_input *v, cfgpool_error_t *err)
{
	size_t n = 0;
	char path[32];
	int rc;

	if (cfgpool_get_length(in, "positions", &n) != 0 || n < 1 || n > VAR_MAX_ASSETS)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "positions", "expected an array of 1 to %d numbers",
					 VAR_MAX_ASSETS);
	v->npositions = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "positions[%zu]", i);
		rc = var_read_number(in, path, path, -1e15, 1e15, &v->positions[i], err);
		if (rc != 0)
			return rc;
	}
	v->confidence = 0.99;
	v->horizon = 1;
	rc = cfgpool_get_double(in, "confidence", &v->confidence);
	if ((rc != 0 && rc != -ENOENT) || !(v->confidence > 0.5 && v->confidence < 1))
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "confidence", "expected a number in (0.5, 1)");
	rc = cfgpool_get_double(in, "horizon_days", &v->horizon);
	if ((rc != 0 && rc != -ENOENT) || !(v->horizon > 0 && v->horizon <= 1000))
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "horizon_days", "expected a number from 0 to 1000 (> 0)");
	return 0;
}

/* The standard normal quantile: Newton's method on erfc, to full double precision. */
static inline double var_normal_quantile(double p)
{
	double x = 0;

	for (int k = 0; k < 100; k++) {
		double cdf = 0.5 * erfc(-x / sqrt(2.0));
		double pdf = exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
		double step = (cdf - p) / pdf;

		x -= step;
		if (fabs(step) < 1e-15 * (1 + fabs(x)))
			break;
	}
	return x;
}

/* The exact VaR and expected shortfall of `in` (normal returns: see the top of this file). */
static inline void var_closed_form(const struct var_portfolio *pf, const struct var_input *in, double *var,
				   double *es)
{
	double mean = 0, variance = 0, sd, z;

	for (unsigned i = 0; i < pf->n; i++) {
		mean += in->positions[i] * pf->drift[i] * in->horizon;
		for (unsigned j = 0; j < pf->n; j++)
			variance += in->positions[i] * in->positions[j] * pf->correlation[i][j] * pf->volatility[i] *
				    pf->volatility[j] * in->horizon;
	}
	sd = sqrt(variance);
	z = var_normal_quantile(in->confidence);
	*var = -mean + sd * z;
	*es = -mean + sd * exp(-0.5 * z * z) / sqrt(2.0 * M_PI) / (1 - in->confidence);
}

#endif /* VAR_EXAMPLE_H */
