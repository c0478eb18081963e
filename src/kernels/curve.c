/*
 * curve: linear interpolation over a table of points held in the configuration, a
 * memory-bound load. prepare copies `kernel.points` out of the document into two plain
 * arrays, t[] and y[], so a task's binary search touches 8 bytes per probe instead of a
 * tree node per coordinate; on a table bigger than the caches every probe of the upper
 * levels still misses, which is the load this kernel is for.
 *
 * A task draws `count` query times from splitmix64 seeded with the input's `seed`,
 * uniformly over [t0, t_last], interpolates at each and returns the sum, so the output is
 * a pure function of the table and the input.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "config_tree.h"
#include "kernels.h"

#define CURVE_MIN_POINTS 2
#define CURVE_MAX_POINTS 50000000
#define CURVE_MAX_COUNT 100000000

/* One allocation: this header, then t[n], then y[n]. */
struct curve_params {
	size_t n;
	const double *t;
	const double *y;
	double data[];
};

/* The largest i in [0, n - 2] with t[i] <= q, given t[0] <= q. */
static size_t locate(const double *t, size_t n, double q)
{
	size_t lo = 0, len = n - 1;

	/*
	 * Branch-free halving: the comparison becomes a conditional move, so a random query
	 * costs log2(n) dependent loads and no mispredicted branches.
	 */
	while (len > 1) {
		size_t half = len / 2;

		lo = t[lo + half] <= q ? lo + half : lo;
		len -= half;
	}
	return lo;
}

static int curve_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct curve_params *p = ctx->params;
	const cfgpool_curve_input_t *in = input;
	cfgpool_curve_output_t *out = output;
	const double *t, *y;
	double t0, t_last, span, sum = 0.0;
	uint64_t rng;

	if (p == NULL || in->count > CURVE_MAX_COUNT)
		return -EINVAL;
	t = p->t;
	y = p->y;
	t0 = t[0];
	t_last = t[p->n - 1];
	span = t_last - t0;
	rng = in->seed;
	for (uint32_t k = 0; k < in->count; k++) {
		double q = t0 + cfgpool__unit_double(cfgpool__splitmix64(&rng)) * span;
		size_t i;

		/* Rounding can carry t0 + u * span an ulp past the end. */
		if (q > t_last)
			q = t_last;
		i = locate(t, p->n, q);
		sum += y[i] + (y[i + 1] - y[i]) * ((q - t[i]) / (t[i + 1] - t[i]));
	}
	out->sum = sum;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

static const char *const curve_keys[] = {"points"};

/* "kernel.points[i]" or, with coord >= 0, "kernel.points[i][coord]". */
static void point_path(char *buf, size_t size, size_t i, int coord)
{
	snprintf(buf, size, "kernel.points");
	cfgpool__path_index(buf, size, i);
	if (coord >= 0)
		cfgpool__path_index(buf, size, (size_t)coord);
}

static int point_error(cfgpool_error_t *err, size_t i, int coord, const char *expected, const cfgpool_node_t *got)
{
	char path[CFGPOOL_ERROR_PATH_LEN];
	char desc[64];

	point_path(path, sizeof(path), i, coord);
	cfgpool__kernel_describe(got, desc, sizeof(desc));
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path, "expected %s, got %s", expected, desc);
}

/* The node of coordinate `coord` of point `i`, which read_point() has already checked. */
static const cfgpool_node_t *coordinate(const cfgpool_node_t *points, size_t i, size_t coord)
{
	const cfgpool_node_t *pair, *c;

	cfgpool_array_get(points, i, &pair);
	cfgpool_array_get(pair, coord, &c);
	return c;
}

/* Reads element `i` of the points array into t and y; a coordinate must be a finite number. */
static int read_point(const cfgpool_node_t *points, size_t i, double *t, double *y, cfgpool_error_t *err)
{
	const cfgpool_node_t *pair, *c[2];
	size_t len;

	cfgpool_array_get(points, i, &pair);
	if (cfgpool_node_type(pair) != CFGPOOL_TYPE_ARRAY)
		return point_error(err, i, -1, "a [t, y] pair", pair);
	cfgpool_get_length(pair, NULL, &len);
	if (len != 2) {
		char path[CFGPOOL_ERROR_PATH_LEN];

		point_path(path, sizeof(path), i, -1);
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path,
					 "expected a [t, y] pair, got an array of %zu element%s", len,
					 len == 1 ? "" : "s");
	}
	cfgpool_array_get(pair, 0, &c[0]);
	cfgpool_array_get(pair, 1, &c[1]);
	if (cfgpool_get_double(c[0], NULL, t) != 0 || !isfinite(*t))
		return point_error(err, i, 0, "a number", c[0]);
	if (cfgpool_get_double(c[1], NULL, y) != 0 || !isfinite(*y))
		return point_error(err, i, 1, "a number", c[1]);
	return 0;
}

static int order_error(cfgpool_error_t *err, const cfgpool_node_t *points, size_t i)
{
	char path[CFGPOOL_ERROR_PATH_LEN];
	char prev[64], got[64];

	point_path(path, sizeof(path), i, 0);
	cfgpool__kernel_describe(coordinate(points, i - 1, 0), prev, sizeof(prev));
	cfgpool__kernel_describe(coordinate(points, i, 0), got, sizeof(got));
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path,
				 "expected t greater than the previous point's (%s), got %s", prev, got);
}

/* Fills t[] and y[] from the document, checking each point and the order of the t's. */
static int read_points(const cfgpool_node_t *points, size_t n, double *t, double *y, cfgpool_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = read_point(points, i, &t[i], &y[i], err);

		if (rc != 0)
			return rc;
		if (i > 0 && !(t[i] > t[i - 1]))
			return order_error(err, points, i);
	}
	/* The query generator and the slopes need t_last - t0 (and so every gap) finite. */
	if (!isfinite(t[n - 1] - t[0]))
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.points",
					 "expected t values spanning a finite range, got %g to %g", t[0], t[n - 1]);
	return 0;
}

static int curve_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params, cfgpool_error_t *err)
{
	const cfgpool_node_t *points;
	struct curve_params *p;
	size_t n;
	int rc;

	rc = cfgpool__kernel_check_section(section, true, "curve", curve_keys, CFGPOOL_ARRAY_SIZE(curve_keys), err);
	if (rc != 0)
		return rc;
	if (cfgpool_object_get(section, "points", 6, &points) != 0)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.points", "missing required field");
	if (cfgpool_node_type(points) != CFGPOOL_TYPE_ARRAY) {
		char desc[64];

		cfgpool__kernel_describe(points, desc, sizeof(desc));
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.points",
					 "expected an array of [t, y] points, got %s", desc);
	}
	cfgpool_get_length(points, NULL, &n);
	if (n < CURVE_MIN_POINTS || n > CURVE_MAX_POINTS)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.points", "expected %d to %d points, got %zu",
					 CURVE_MIN_POINTS, CURVE_MAX_POINTS, n);

	p = malloc(sizeof(*p) + 2 * n * sizeof(double));
	if (p == NULL)
		return cfgpool_error_set(err, -ENOMEM, "kernel.points", "out of memory for a table of %zu points", n);
	p->n = n;
	p->t = p->data;
	p->y = p->data + n;
	rc = read_points(points, n, p->data, p->data + n, err);
	if (rc != 0) {
		free(p);
		return rc;
	}
	*params = p;
	return 0;
}

static void curve_release(void *params)
{
	free(params);
}

static int curve_decode(void *arg, const cfgpool_node_t *in, void *input, cfgpool_error_t *err)
{
	cfgpool_curve_input_t *c = input;
	uint64_t count;
	int rc;

	rc = cfgpool__codec_uint(in, "seed", UINT64_MAX >> 1, &c->seed, err);
	if (rc == 0)
		rc = cfgpool__codec_uint(in, "count", 100000000, &count, err);
	if (rc == 0)
		c->count = (uint32_t)count;
	return rc;
}

static int curve_encode(void *arg, const void *output, cfgpool_writer_t *w)
{
	return cfgpool__codec_real(w, "sum", ((const cfgpool_curve_output_t *)output)->sum);
}

static const cfgpool_codec_t curve_codec = {
	.example = "{\"seed\": 1, \"count\": 1000}",
	.decode = curve_decode,
	.encode = curve_encode,
};

const cfgpool_kernel_t cfgpool__kernel_curve = {
	.name = "curve",
	.input_size = sizeof(cfgpool_curve_input_t),
	.output_size = sizeof(cfgpool_curve_output_t),
	.prepare = curve_prepare,
	.release = curve_release,
	.run = curve_run,
	.codec = &curve_codec,
};
