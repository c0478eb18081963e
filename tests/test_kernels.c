/*
 * The built-in kernels, driven by hand the way a pool drives them: load a document,
 * prepare its `kernel` section, create a worker state, build a task context and call run.
 *
 * The Monte Carlo checks are statistical but not flaky: every price is a deterministic
 * function of the seed and the input, so a bound that holds once holds on every run of
 * the same build (and path count: CFGPOOL_TEST_SCALE changes the draws). The seeds below
 * were not tuned to pass; see check_z_scores() for how the bounds keep false alarms rare.
 */
#define _GNU_SOURCE

#include "helpers.h"

#include <math.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------------------------ */
/* Driving a kernel                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* A document, the block its kernel section compiled into, and worker 0's state. */
struct fixture {
	const cfgpool_kernel_t *kernel;
	cfgpool_config_t *cfg;
	void *params;
	void *state;
};

/* The `kernel` section of a loaded document, or NULL when it has none. */
static const cfgpool_node_t *kernel_section(const cfgpool_config_t *cfg)
{
	const cfgpool_node_t *section;

	if (cfgpool_lookup(cfgpool_config_root(cfg), "kernel", &section) != 0)
		return NULL;
	return section;
}

/* Runs `name`'s prepare on `json`; the document is freed again unless the caller keeps it. */
static int prepare(const char *name, const char *json, cfgpool_config_t **cfg_out, void **params, cfgpool_error_t *err)
{
	const cfgpool_kernel_t *k = cfgpool_kernel_find(name);
	cfgpool_config_t *cfg;
	int rc;

	assert_non_null(k);
	cfg = load_ok(json);
	cfgpool_error_init(err);
	rc = k->prepare(kernel_section(cfg), cfgpool_config_root(cfg), params, err);
	if (cfg_out != NULL)
		*cfg_out = cfg;
	else
		cfgpool_config_free(cfg);
	return rc;
}

static void open_kernel(struct fixture *f, const char *name, const char *json)
{
	cfgpool_error_t err;
	char buf[1024];
	int rc;

	memset(f, 0, sizeof(*f));
	f->kernel = cfgpool_kernel_find(name);
	rc = prepare(name, json, &f->cfg, &f->params, &err);
	if (rc != 0)
		print_error("prepare failed: %s (%s)\n", cfgpool_error_format(&err, buf, sizeof(buf)),
			    cfgpool_err_name(rc));
	assert_int_equal(rc, 0);
	if (f->kernel->worker_init != NULL)
		assert_int_equal(f->kernel->worker_init(f->cfg, f->params, 0, &f->state), 0);
}

static void close_kernel(struct fixture *f)
{
	if (f->kernel->worker_fini != NULL)
		f->kernel->worker_fini(f->state, 0);
	if (f->kernel->release != NULL)
		f->kernel->release(f->params);
	cfgpool_config_free(f->cfg);
}

/* One task, with worker 0's state or (with_state false) none. */
static int run_task(const struct fixture *f, bool with_state, const void *input, void *output)
{
	cfgpool_task_ctx_t ctx = {
		.config = f->cfg,
		.params = f->params,
		.state = with_state ? f->state : NULL,
		.worker = 0,
		.version = 0,
	};

	return f->kernel->run(&ctx, input, output);
}

/*
 * Checks that prepare rejects `json` with `code` at exactly `path`, with a message that
 * contains `text`, and leaves the out-parameter alone.
 */
static void expect_prepare_error(const char *name, const char *json, int code, const char *path, const char *text)
{
	void *sentinel = &sentinel;
	void *params = sentinel;
	cfgpool_error_t err;
	int rc;

	rc = prepare(name, json, NULL, &params, &err);
	if (rc != code || strcmp(err.path, path) != 0 || strstr(err.text, text) == NULL)
		print_error("document %s\n  gave %s at \"%s\": \"%s\"\n  want %s at \"%s\": \"...%s...\"\n", json,
			    cfgpool_err_name(rc), err.path, err.text, cfgpool_err_name(code), path, text);
	assert_int_equal(rc, code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.path, path);
	assert_contains(err.text, text);
	assert_ptr_equal(params, sentinel);
}

/* ------------------------------------------------------------------------------------------ */
/* The registry                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void find_returns_each_builtin_with_its_sizes(void **state)
{
	const cfgpool_kernel_t *k;

	k = cfgpool_kernel_find("mc_option");
	assert_non_null(k);
	assert_string_equal(k->name, "mc_option");
	assert_int_equal(k->input_size, sizeof(cfgpool_option_input_t));
	assert_int_equal(k->output_size, sizeof(cfgpool_option_output_t));

	k = cfgpool_kernel_find("spin");
	assert_non_null(k);
	assert_string_equal(k->name, "spin");
	assert_int_equal(k->input_size, sizeof(cfgpool_spin_input_t));
	assert_int_equal(k->output_size, sizeof(cfgpool_spin_output_t));

	k = cfgpool_kernel_find("curve");
	assert_non_null(k);
	assert_string_equal(k->name, "curve");
	assert_int_equal(k->input_size, sizeof(cfgpool_curve_input_t));
	assert_int_equal(k->output_size, sizeof(cfgpool_curve_output_t));
}

static void find_of_an_unknown_name_gives_null(void **state)
{
	assert_null(cfgpool_kernel_find("nope"));
	assert_null(cfgpool_kernel_find(""));
	assert_null(cfgpool_kernel_find("MC_OPTION"));
	assert_null(cfgpool_kernel_find("spin "));
	assert_null(cfgpool_kernel_find(NULL));
}

static void list_is_null_terminated_and_agrees_with_find(void **state)
{
	const cfgpool_kernel_t *const *list = cfgpool_kernel_list();
	size_t n = 0;

	assert_non_null(list);
	for (; list[n] != NULL; n++) {
		assert_ptr_equal(cfgpool_kernel_find(list[n]->name), list[n]);
		assert_non_null(list[n]->run);
		assert_non_null(list[n]->prepare);
	}
	assert_int_equal(n, 3);
}

/* ------------------------------------------------------------------------------------------ */
/* mc_option                                                                                   */
/* ------------------------------------------------------------------------------------------ */

#define MC_RATE 0.03
#define MC_VOL 0.25

static const cfgpool_option_input_t contracts[] = {
	{100.0, 100.0, 1.0, CFGPOOL_CALL},  /* at the money */
	{100.0, 100.0, 1.0, CFGPOOL_PUT},
	{120.0, 100.0, 1.0, CFGPOOL_CALL},  /* in the money */
	{80.0, 100.0, 1.0, CFGPOOL_PUT},
	{80.0, 100.0, 1.0, CFGPOOL_CALL},   /* out of the money */
	{120.0, 100.0, 1.0, CFGPOOL_PUT},
	{100.0, 105.0, 0.02, CFGPOOL_CALL}, /* a week */
	{100.0, 95.0, 0.02, CFGPOOL_PUT},
	{100.0, 90.0, 10.0, CFGPOOL_CALL},  /* ten years */
	{100.0, 110.0, 10.0, CFGPOOL_PUT},
	{60.0, 100.0, 1.0, CFGPOOL_CALL},   /* far out of the money: 2% of paths pay */
};

static void open_mc(struct fixture *f, size_t paths, uint64_t seed, bool antithetic)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "{\"kernel\": {\"name\": \"mc_option\", \"rate\": %.17g, \"volatility\": %.17g, \"paths\": %zu, "
		 "\"seed\": %llu, \"antithetic\": %s}}",
		 MC_RATE, MC_VOL, paths, (unsigned long long)seed, antithetic ? "true" : "false");
	open_kernel(f, "mc_option", json);
}

static cfgpool_option_output_t mc_price(const struct fixture *f, const cfgpool_option_input_t *in)
{
	cfgpool_option_output_t out;

	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(run_task(f, true, in, &out), 0);
	return out;
}

/*
 * Checks a set of estimates, each given as its error in standard errors. An honest
 * estimator lands beyond 3 of them 0.27% of the time, so among the 11 contracts one such
 * miss would happen in 3% of seeds and, at a different CFGPOOL_TEST_SCALE, fail a
 * correct kernel. Allowing one estimate of the set between 3 and 4 standard errors and
 * none beyond brings false alarms down to about 0.1% per set, while a biased kernel
 * still fails: a bias of even one standard error pushes several contracts past 3.
 */
static void check_z_scores(const double *z, size_t n)
{
	size_t beyond3 = 0;

	for (size_t i = 0; i < n; i++) {
		assert_false(isnan(z[i]));
		assert_true(fabs(z[i]) <= 4.0);
		if (fabs(z[i]) > 3.0)
			beyond3++;
	}
	assert_true(beyond3 <= 1);
}

static void check_against_black_scholes(bool antithetic)
{
	size_t paths = test_scaled(200000, 20000);
	double z[ARRAY_SIZE(contracts)];
	struct fixture f;

	open_mc(&f, paths, 12345, antithetic);
	for (size_t i = 0; i < ARRAY_SIZE(contracts); i++) {
		const cfgpool_option_input_t *c = &contracts[i];
		cfgpool_option_output_t out = mc_price(&f, c);
		double exact = cfgpool_black_scholes(c, MC_RATE, MC_VOL);

		assert_true(out.std_error > 0.0);
		assert_int_equal(out.paths, paths);
		z[i] = (out.price - exact) / out.std_error;
		if (!(fabs(z[i]) <= 3.0))
			print_error("note: %s S=%g K=%g T=%g: mc %.6f +- %.6f, black-scholes %.6f (%+.2f se)\n",
				    c->type == CFGPOOL_CALL ? "call" : "put", c->spot, c->strike, c->maturity,
				    out.price, out.std_error, exact, z[i]);
	}
	check_z_scores(z, ARRAY_SIZE(contracts));
	close_kernel(&f);
}

static void mc_prices_agree_with_black_scholes(void **state)
{
	check_against_black_scholes(true);
}

static void mc_prices_agree_with_black_scholes_without_antithetic(void **state)
{
	check_against_black_scholes(false);
}

/* Doubling the paths twice must halve the error, give or take the error's own noise. */
static void mc_std_error_shrinks_as_one_over_sqrt_paths(void **state)
{
	size_t n = test_scaled(20000, 5000);

	for (int anti = 0; anti <= 1; anti++) {
		for (size_t i = 0; i < 6; i++) {
			struct fixture small, big;
			cfgpool_option_output_t a, b;

			open_mc(&small, n, 7, anti);
			open_mc(&big, 4 * n, 7, anti);
			a = mc_price(&small, &contracts[i]);
			b = mc_price(&big, &contracts[i]);
			if (!(a.std_error / b.std_error > 1.8 && a.std_error / b.std_error < 2.2))
				print_error("contract %zu antithetic %d: se %g with %zu paths, %g with %zu\n", i, anti,
					    a.std_error, n, b.std_error, 4 * n);
			assert_true(a.std_error / b.std_error > 1.8);
			assert_true(a.std_error / b.std_error < 2.2);
			close_kernel(&small);
			close_kernel(&big);
		}
	}
}

/* Antithetic variates pay off for a monotone payoff: the same work, a smaller error. */
static void mc_antithetic_reduces_the_error(void **state)
{
	size_t n = test_scaled(50000, 5000);
	struct fixture plain, anti;

	open_mc(&plain, n, 99, false);
	open_mc(&anti, n, 99, true);
	for (size_t i = 0; i < ARRAY_SIZE(contracts); i++)
		assert_true(mc_price(&anti, &contracts[i]).std_error < mc_price(&plain, &contracts[i]).std_error);
	close_kernel(&plain);
	close_kernel(&anti);
}

/*
 * The pool may run an input on any worker, or on the submitting thread with its own
 * state, or retry it: every one of those must give the same bits.
 */
static void mc_is_bit_identical_across_runs_workers_and_states(void **state)
{
	size_t paths = test_scaled(10007, 1001); /* odd: the last block is partial */
	const cfgpool_kernel_t *k = cfgpool_kernel_find("mc_option");
	cfgpool_option_output_t first, again, stateless, other;
	void *caller_state = NULL;
	struct fixture f;

	open_mc(&f, paths, 42, true);
	assert_non_null(f.state);
	assert_int_equal(k->worker_init(f.cfg, f.params, CFGPOOL_CALLER_WORKER + 3, &caller_state), 0);
	assert_non_null(caller_state);
	for (size_t i = 0; i < ARRAY_SIZE(contracts); i++) {
		cfgpool_task_ctx_t ctx = {
			.config = f.cfg, .params = f.params, .state = caller_state, .worker = CFGPOOL_CALLER_WORKER + 3, .version = 7};

		memset(&first, 0, sizeof(first));
		memset(&again, 0xff, sizeof(again));
		memset(&stateless, 0x11, sizeof(stateless));
		memset(&other, 0x22, sizeof(other));
		assert_int_equal(run_task(&f, true, &contracts[i], &first), 0);
		assert_int_equal(run_task(&f, true, &contracts[i], &again), 0);
		assert_int_equal(run_task(&f, false, &contracts[i], &stateless), 0);
		assert_int_equal(k->run(&ctx, &contracts[i], &other), 0);
		assert_memory_equal(&first, &again, sizeof(first));
		assert_memory_equal(&first, &stateless, sizeof(first));
		assert_memory_equal(&first, &other, sizeof(first));
	}
	k->worker_fini(caller_state, CFGPOOL_CALLER_WORKER + 3);
	close_kernel(&f);
}

static void mc_different_seeds_give_different_prices(void **state)
{
	size_t paths = test_scaled(20000, 2000);
	struct fixture a, b;

	open_mc(&a, paths, 1, true);
	open_mc(&b, paths, 2, true);
	for (size_t i = 0; i < ARRAY_SIZE(contracts); i++) {
		cfgpool_option_output_t pa = mc_price(&a, &contracts[i]);
		cfgpool_option_output_t pb = mc_price(&b, &contracts[i]);

		assert_true(pa.price != pb.price);
		assert_true(pa.std_error != pb.std_error);
	}
	close_kernel(&a);
	close_kernel(&b);
}

/* Inputs that differ in one field draw unrelated paths, not the same ones rescaled. */
static void mc_nearby_inputs_get_their_own_streams(void **state)
{
	cfgpool_option_input_t a = {100.0, 100.0, 1.0, CFGPOOL_CALL};
	cfgpool_option_input_t b = a;
	struct fixture f;

	open_mc(&f, 1001, 5, false);
	b.strike = nextafter(a.strike, 200.0);
	assert_true(mc_price(&f, &a).std_error != mc_price(&f, &b).std_error);
	b = a;
	b.spot = nextafter(a.spot, 200.0);
	/*
	 * With the same normals a spot one ulp higher would move the error by about 1e-16
	 * relatively; a stream of its own moves it by percents.
	 */
	assert_true(fabs(mc_price(&f, &a).std_error / mc_price(&f, &b).std_error - 1.0) > 1e-9);
	close_kernel(&f);
}

/* C - P = S - K exp(-rT); call and put draw their own paths, so within their joint error. */
static void mc_satisfies_put_call_parity(void **state)
{
	size_t paths = test_scaled(200000, 20000);
	double z[ARRAY_SIZE(contracts)];
	struct fixture f;

	open_mc(&f, paths, 2024, true);
	for (size_t i = 0; i < ARRAY_SIZE(contracts); i++) {
		cfgpool_option_input_t call = contracts[i], put = contracts[i];
		cfgpool_option_output_t c, p;
		double parity, se;

		call.type = CFGPOOL_CALL;
		put.type = CFGPOOL_PUT;
		c = mc_price(&f, &call);
		p = mc_price(&f, &put);
		parity = call.spot - call.strike * exp(-MC_RATE * call.maturity);
		se = sqrt(c.std_error * c.std_error + p.std_error * p.std_error);
		z[i] = (c.price - p.price - parity) / se;
		if (!(fabs(z[i]) <= 3.0))
			print_error("note: S=%g K=%g T=%g: C - P = %.6f, S - K exp(-rT) = %.6f (%+.2f se)\n", call.spot,
				    call.strike, call.maturity, c.price - p.price, parity, z[i]);
	}
	check_z_scores(z, ARRAY_SIZE(contracts));
	close_kernel(&f);
}

static void mc_one_path_has_a_price_and_an_unknown_error(void **state)
{
	struct fixture f;
	cfgpool_option_output_t out;

	open_mc(&f, 1, 3, true);
	out = mc_price(&f, &contracts[0]);
	assert_true(isfinite(out.price) && out.price >= 0.0);
	assert_true(isnan(out.std_error));
	assert_int_equal(out.paths, 1);
	close_kernel(&f);
}

static void mc_run_rejects_invalid_inputs(void **state)
{
	const cfgpool_option_input_t good = {100.0, 100.0, 1.0, CFGPOOL_CALL};
	const double bad[] = {0.0, -0.0, -1.0, NAN, INFINITY, -INFINITY};
	cfgpool_option_input_t in;
	cfgpool_option_output_t out;
	struct fixture f;

	open_mc(&f, 100, 1, true);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		in = good;
		in.spot = bad[i];
		assert_int_equal(run_task(&f, true, &in, &out), -EINVAL);
		in = good;
		in.strike = bad[i];
		assert_int_equal(run_task(&f, true, &in, &out), -EINVAL);
		in = good;
		in.maturity = bad[i];
		assert_int_equal(run_task(&f, false, &in, &out), -EINVAL);
	}
	in = good;
	in.type = (cfgpool_option_type_t)2;
	assert_int_equal(run_task(&f, true, &in, &out), -EINVAL);
	in.type = (cfgpool_option_type_t)-1;
	assert_int_equal(run_task(&f, true, &in, &out), -EINVAL);
	in = good;
	assert_int_equal(run_task(&f, true, &in, &out), 0);
	close_kernel(&f);
}

/* A volatility no market has: exp() overflows on most paths, and the pool gets an error, not inf. */
static void mc_run_reports_overflow_as_erange(void **state)
{
	const cfgpool_option_input_t in = {100.0, 100.0, 100.0, CFGPOOL_CALL};
	cfgpool_option_output_t out;
	struct fixture f;

	open_kernel(&f, "mc_option", "{\"kernel\": {\"rate\": 0, \"volatility\": 100, \"paths\": 1000, \"seed\": 1}}");
	assert_int_equal(run_task(&f, true, &in, &out), -ERANGE);
	close_kernel(&f);
}

/* Reference values from the closed form evaluated independently (Hull's textbook example). */
static void black_scholes_matches_reference_values(void **state)
{
	cfgpool_option_input_t call = {100.0, 100.0, 1.0, CFGPOOL_CALL};
	cfgpool_option_input_t put = {100.0, 100.0, 1.0, CFGPOOL_PUT};
	cfgpool_option_input_t hull = {42.0, 40.0, 0.5, CFGPOOL_CALL};

	assert_true(fabs(cfgpool_black_scholes(&call, 0.05, 0.2) - 10.450583572185565) < 1e-10);
	assert_true(fabs(cfgpool_black_scholes(&put, 0.05, 0.2) - 5.573526022256971) < 1e-10);
	assert_true(fabs(cfgpool_black_scholes(&hull, 0.10, 0.2) - 4.759422392871535) < 1e-10);
	hull.type = CFGPOOL_PUT;
	assert_true(fabs(cfgpool_black_scholes(&hull, 0.10, 0.2) - 0.8085993729000958) < 1e-10);
	/* Far out of the money the price is tiny but still positive, thanks to erfc. */
	call.strike = 1000.0;
	call.maturity = 0.1;
	assert_true(cfgpool_black_scholes(&call, 0.0, 0.2) > 0.0);
	assert_true(cfgpool_black_scholes(&call, 0.0, 0.2) < 1e-100);
	/* Nonsense in, NaN out. */
	assert_true(isnan(cfgpool_black_scholes(&call, 0.0, 0.0)));
	call.spot = -1.0;
	assert_true(isnan(cfgpool_black_scholes(&call, 0.0, 0.2)));
	assert_true(isnan(cfgpool_black_scholes(NULL, 0.0, 0.2)));
}

static void mc_prepare_accepts_valid_sections(void **state)
{
	static const char *const docs[] = {
		/* antithetic defaults to true; name is optional; integers are numbers too */
		"{\"kernel\": {\"name\": \"mc_option\", \"rate\": 0.01, \"volatility\": 0.3, \"paths\": 10, "
		"\"seed\": 0}}",
		"{\"kernel\": {\"rate\": -0.005, \"volatility\": 1, \"paths\": 100000000, "
		"\"seed\": 9223372036854775807}}",
		"{\"kernel\": {\"rate\": 0, \"volatility\": 0.1, \"paths\": 1, \"seed\": 1, \"antithetic\": false}}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		struct fixture f;

		open_kernel(&f, "mc_option", docs[i]);
		assert_non_null(f.params);
		close_kernel(&f);
	}
}

#define MC_DOC(fields) "{\"kernel\": {\"name\": \"mc_option\", " fields "}}"
#define MC_OK_EXCEPT_VOL "\"rate\": 0.02, \"paths\": 100, \"seed\": 1"

static void mc_prepare_rejects_bad_fields_with_their_paths(void **state)
{
	static const struct {
		const char *json, *path, *text;
	} cases[] = {
		{MC_DOC(MC_OK_EXCEPT_VOL ", \"volatility\": -0.2"), "kernel.volatility",
		 "expected a number > 0, got -0.2"},
		{MC_DOC(MC_OK_EXCEPT_VOL ", \"volatility\": 0"), "kernel.volatility", "expected a number > 0, got 0"},
		{MC_DOC(MC_OK_EXCEPT_VOL ", \"volatility\": \"high\""), "kernel.volatility",
		 "expected a number > 0, got \"high\""},
		{MC_DOC(MC_OK_EXCEPT_VOL ", \"volatility\": null"), "kernel.volatility",
		 "expected a number > 0, got null"},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": \"many\", \"seed\": 1"), "kernel.paths",
		 "expected an integer from 1 to 100000000, got \"many\""},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": 0, \"seed\": 1"), "kernel.paths",
		 "expected an integer from 1 to 100000000, got 0"},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": 100000001, \"seed\": 1"), "kernel.paths",
		 "expected an integer from 1 to 100000000, got 100000001"},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": 1000.0, \"seed\": 1"), "kernel.paths",
		 "expected an integer from 1 to 100000000, got 1000.0"},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": 10, \"seed\": -1"), "kernel.seed",
		 "expected an integer >= 0, got -1"},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": 10, \"seed\": 1.5"), "kernel.seed",
		 "expected an integer >= 0, got 1.5"},
		{MC_DOC("\"rate\": \"3%\", \"volatility\": 0.2, \"paths\": 10, \"seed\": 1"), "kernel.rate",
		 "expected a number, got \"3%\""},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": 10, \"seed\": 1, \"antithetic\": 1"),
		 "kernel.antithetic", "expected a boolean, got 1"},
		/* each required field missing in turn */
		{MC_DOC("\"volatility\": 0.2, \"paths\": 10, \"seed\": 1"), "kernel.rate", "missing required field"},
		{MC_DOC("\"rate\": 0.02, \"paths\": 10, \"seed\": 1"), "kernel.volatility", "missing required field"},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"seed\": 1"), "kernel.paths", "missing required field"},
		{MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": 10"), "kernel.seed", "missing required field"},
		/* unknown keys, including one that needs quoting in a path */
		{MC_DOC(MC_OK_EXCEPT_VOL ", \"volatilty\": 0.2"), "kernel.volatilty", "unknown key"},
		{MC_DOC(MC_OK_EXCEPT_VOL ", \"volatility\": 0.2, \"a.b\": 1"), "kernel[\"a.b\"]", "unknown key"},
		/* the section itself */
		{"{}", "kernel", "missing"},
		{"{\"pool\": {\"workers\": 2}}", "kernel", "missing"},
		{"{\"kernel\": \"mc_option\"}", "kernel", "expected an object, got \"mc_option\""},
		{"{\"kernel\": [1, 2]}", "kernel", "expected an object, got an array"},
		{"{\"kernel\": {\"name\": \"curve\", \"rate\": 0.02, \"volatility\": 0.2, \"paths\": 10, \"seed\": 1}}",
		 "kernel.name", "expected \"mc_option\", got \"curve\""},
		{"{\"kernel\": {\"name\": 7, \"rate\": 0.02, \"volatility\": 0.2, \"paths\": 10, \"seed\": 1}}",
		 "kernel.name", "expected \"mc_option\", got 7"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_prepare_error("mc_option", cases[i].json, CFGPOOL_ESCHEMA, cases[i].path, cases[i].text);
}

/* The messages quote the offending value the way it was written. */
static void mc_prepare_messages_are_exact(void **state)
{
	void *params = NULL;
	cfgpool_error_t err;
	int rc;

	rc = prepare("mc_option", MC_DOC(MC_OK_EXCEPT_VOL ", \"volatility\": -0.2"), NULL, &params, &err);
	assert_int_equal(rc, CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "kernel.volatility");
	assert_string_equal(err.text, "expected a number > 0, got -0.2");
	rc = prepare("mc_option", MC_DOC("\"rate\": 0.02, \"volatility\": 0.2, \"paths\": \"many\", \"seed\": 1"), NULL,
		     &params, &err);
	assert_int_equal(rc, CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "kernel.paths");
	assert_string_equal(err.text, "expected an integer from 1 to 100000000, got \"many\"");
	assert_null(params);
}

/* ------------------------------------------------------------------------------------------ */
/* spin                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static double spin_value(const struct fixture *f, uint64_t iterations)
{
	cfgpool_spin_input_t in = {iterations};
	cfgpool_spin_output_t out = {NAN};

	assert_int_equal(run_task(f, false, &in, &out), 0);
	return out.value;
}

static void spin_prepare_accepts_only_its_name(void **state)
{
	struct fixture f;

	open_kernel(&f, "spin", "{\"kernel\": {\"name\": \"spin\"}}");
	assert_null(f.params);
	close_kernel(&f);
	/* No parameters, so no section is needed either. */
	open_kernel(&f, "spin", "{\"pool\": {\"workers\": 1}}");
	close_kernel(&f);
	open_kernel(&f, "spin", "{\"kernel\": {}}");
	close_kernel(&f);

	expect_prepare_error("spin", "{\"kernel\": {\"name\": \"spin\", \"iterations\": 5}}", CFGPOOL_ESCHEMA,
			     "kernel.iterations", "unknown key (known: name)");
	expect_prepare_error("spin", "{\"kernel\": {\"name\": \"spn\"}}", CFGPOOL_ESCHEMA, "kernel.name",
			     "expected \"spin\", got \"spn\"");
	expect_prepare_error("spin", "{\"kernel\": true}", CFGPOOL_ESCHEMA, "kernel", "expected an object, got true");
}

static void spin_output_depends_on_every_iteration(void **state)
{
	struct fixture f;
	const uint64_t counts[] = {0, 1, 2, 3, 1000, 1001, 1002, 1000000, 1000001, 3000000};

	open_kernel(&f, "spin", "{\"kernel\": {\"name\": \"spin\"}}");
	assert_true(spin_value(&f, 0) == 1.0);
	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		double v = spin_value(&f, counts[i]);

		/* Bounded: a rotation keeps the point on the unit circle. */
		assert_true(fabs(v) <= 1.0 + 1e-9);
		assert_true(v == spin_value(&f, counts[i]));
		for (size_t j = 0; j < i; j++)
			assert_true(v != spin_value(&f, counts[j]));
	}
	close_kernel(&f);
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * A sanity check, not a benchmark: 1000 us worth of iterations should take about a
 * millisecond. The bounds are wide because the machine is shared, and the best of three
 * runs is taken for the same reason calibration takes its best.
 */
static void spin_calibration_predicts_the_run_time(void **state)
{
	double per_us = cfgpool_spin_calibrate();
	double best = INFINITY;
	struct fixture f;

	assert_true(isfinite(per_us));
	assert_true(per_us > 0.0);
	open_kernel(&f, "spin", "{\"kernel\": {\"name\": \"spin\"}}");
	for (int i = 0; i < 3; i++) {
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		spin_value(&f, (uint64_t)(per_us * 1000.0));
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (elapsed_ms(&a, &b) < best)
			best = elapsed_ms(&a, &b);
	}
	if (!(best > 0.3 && best < 10.0 * test_timeout_multiplier()))
		print_error("calibrated %.1f iterations/us; 1000 us worth took %.3f ms\n", per_us, best);
	assert_true(best > 0.3);
	assert_true(best < 10.0 * test_timeout_multiplier());
	close_kernel(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* curve                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* The query generator as the contract describes it: splitmix64, uniform over [t0, t_last]. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double query(uint64_t *s, double t0, double t_last)
{
	double q = t0 + (double)(splitmix64(s) >> 11) * 0x1.0p-53 * (t_last - t0);

	return q > t_last ? t_last : q;
}

static double curve_sum(const struct fixture *f, uint64_t seed, uint32_t count)
{
	cfgpool_curve_input_t in = {seed, count};
	cfgpool_curve_output_t out = {NAN};

	assert_int_equal(run_task(f, false, &in, &out), 0);
	return out.sum;
}

/*
 * On y = t over [0, 2], every interpolation is exact in floating point (each q - t[i] is
 * exact by Sterbenz's lemma), so the sum must equal the sum of the query times bit for bit.
 */
static void curve_interpolates_a_line_exactly(void **state)
{
	struct fixture f;

	open_kernel(&f, "curve", "{\"kernel\": {\"name\": \"curve\", \"points\": [[0, 0], [1, 1.0], [2, 2]]}}");
	for (uint64_t seed = 0; seed < 5; seed++) {
		uint64_t s = seed;
		double want = 0.0;

		for (int k = 0; k < 1000; k++)
			want += query(&s, 0.0, 2.0);
		assert_true(curve_sum(&f, seed, 1000) == want);
	}
	close_kernel(&f);
}

/* The reference interpolates by a linear scan and another form of the formula. */
static double interpolate_by_scan(const double (*pts)[2], size_t n, double q)
{
	size_t i = 0;

	while (i + 2 < n && pts[i + 1][0] <= q)
		i++;
	return (pts[i][1] * (pts[i + 1][0] - q) + pts[i + 1][1] * (q - pts[i][0])) / (pts[i + 1][0] - pts[i][0]);
}

static void curve_matches_an_independent_interpolation(void **state)
{
	static const double pts[][2] = {{-1.0, 4.0}, {0.5, -2.0}, {3.0, 10.0}};
	struct fixture f;

	open_kernel(&f, "curve", "{\"kernel\": {\"name\": \"curve\", \"points\": [[-1, 4], [0.5, -2], [3.0, 10]]}}");
	for (uint32_t count = 1; count <= 4096; count *= 4) {
		uint64_t s = 77 + count;
		double want = 0.0, got = curve_sum(&f, 77 + count, count);

		for (uint32_t k = 0; k < count; k++)
			want += interpolate_by_scan(pts, 3, query(&s, -1.0, 3.0));
		assert_true(fabs(got - want) <= 1e-12 * (fabs(want) + count));
	}
	close_kernel(&f);
}

/* A table big enough for the binary search to take many steps, built as JSON text. */
static void curve_searches_a_large_table(void **state)
{
	size_t n = test_scaled(100001, 1001);
	double (*pts)[2] = malloc(n * sizeof(*pts));
	size_t cap = 64 + n * 64, len;
	char *json = malloc(cap);
	struct fixture f;
	uint64_t s = 5;
	double want = 0.0, got;

	assert_non_null(pts);
	assert_non_null(json);
	len = (size_t)snprintf(json, cap, "{\"kernel\": {\"name\": \"curve\", \"points\": [");
	for (size_t i = 0; i < n; i++) {
		pts[i][0] = (double)i * 0.25 + (double)(i % 3) * 0.01;
		pts[i][1] = sin((double)i);
		len += (size_t)snprintf(json + len, cap - len, "%s[%.17g, %.17g]", i ? ", " : "", pts[i][0], pts[i][1]);
	}
	snprintf(json + len, cap - len, "]}}");
	open_kernel(&f, "curve", json);
	got = curve_sum(&f, 5, 2000);
	/* A linear scan per query would be slow here: bisect with a plain loop instead. */
	for (int k = 0; k < 2000; k++) {
		double q = query(&s, pts[0][0], pts[n - 1][0]);
		size_t lo = 0, hi = n - 1;

		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;

			if (pts[mid][0] <= q)
				lo = mid;
			else
				hi = mid;
		}
		want += interpolate_by_scan(&pts[lo], 2, q);
	}
	assert_true(fabs(got - want) <= 1e-9);
	close_kernel(&f);
	free(json);
	free(pts);
}

static void curve_count_zero_sums_to_zero_and_too_many_is_invalid(void **state)
{
	cfgpool_curve_input_t in = {1, 0};
	cfgpool_curve_output_t out = {NAN};
	struct fixture f;

	open_kernel(&f, "curve", "{\"kernel\": {\"points\": [[0, 5], [1, 6]]}}");
	assert_int_equal(run_task(&f, true, &in, &out), 0);
	assert_true(out.sum == 0.0);
	in.count = 100000001;
	assert_int_equal(run_task(&f, true, &in, &out), -EINVAL);
	in.count = UINT32_MAX;
	assert_int_equal(run_task(&f, true, &in, &out), -EINVAL);
	/* Two points, one query: the sum is that query's value, between y0 and y1. */
	in.count = 1;
	assert_int_equal(run_task(&f, true, &in, &out), 0);
	assert_true(out.sum >= 5.0 && out.sum <= 6.0);
	close_kernel(&f);
}

#define CURVE_DOC(points) "{\"kernel\": {\"name\": \"curve\", \"points\": " points "}}"

static void curve_prepare_rejects_bad_tables_with_their_paths(void **state)
{
	static const struct {
		const char *json, *path, *text;
	} cases[] = {
		{CURVE_DOC("[[0, 1], [1, 2], [2, 3], [2, 4]]"), "kernel.points[3][0]",
		 "expected t greater than the previous point's (2), got 2"},
		{CURVE_DOC("[[0, 1], [1.5, 2], [1.25, 3]]"), "kernel.points[2][0]",
		 "expected t greater than the previous point's (1.5), got 1.25"},
		{CURVE_DOC("[[0, 1], 3]"), "kernel.points[1]", "expected a [t, y] pair, got 3"},
		{CURVE_DOC("[[0, 1], [1, 2, 3]]"), "kernel.points[1]",
		 "expected a [t, y] pair, got an array of 3 elements"},
		{CURVE_DOC("[[0, 1], [1]]"), "kernel.points[1]", "expected a [t, y] pair, got an array of 1 element"},
		{CURVE_DOC("[[0, 1], {\"t\": 1, \"y\": 2}]"), "kernel.points[1]",
		 "expected a [t, y] pair, got an object"},
		{CURVE_DOC("[[0, 1], [1, \"y\"]]"), "kernel.points[1][1]", "expected a number, got \"y\""},
		{CURVE_DOC("[[null, 1], [1, 2]]"), "kernel.points[0][0]", "expected a number, got null"},
		{CURVE_DOC("[[0, 1]]"), "kernel.points", "expected 2 to 50000000 points, got 1"},
		{CURVE_DOC("[]"), "kernel.points", "expected 2 to 50000000 points, got 0"},
		{CURVE_DOC("{}"), "kernel.points", "expected an array of [t, y] points, got an object"},
		{CURVE_DOC("\"table.csv\""), "kernel.points", "expected an array of [t, y] points, got \"table.csv\""},
		{CURVE_DOC("[[-1.5e308, 0], [1.5e308, 1]]"), "kernel.points", "finite range"},
		{"{\"kernel\": {\"name\": \"curve\"}}", "kernel.points", "missing required field"},
		{"{\"kernel\": {\"name\": \"curve\", \"points\": [[0, 1], [1, 2]], \"degree\": 1}}", "kernel.degree",
		 "unknown key (known: name, points)"},
		{"{}", "kernel", "missing"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_prepare_error("curve", cases[i].json, CFGPOOL_ESCHEMA, cases[i].path, cases[i].text);
}

/* The block is a copy: it outlives nothing, and the document can change under a reload. */
static void curve_block_does_not_point_into_the_document(void **state)
{
	const cfgpool_kernel_t *k = cfgpool_kernel_find("curve");
	cfgpool_config_t *cfg;
	cfgpool_error_t err;
	void *params = NULL;
	cfgpool_task_ctx_t ctx = {0};
	cfgpool_curve_input_t in = {3, 100};
	cfgpool_curve_output_t before, after;

	assert_int_equal(prepare("curve", CURVE_DOC("[[0, 0], [10, 20]]"), &cfg, &params, &err), 0);
	ctx.params = params;
	assert_int_equal(k->run(&ctx, &in, &before), 0);
	cfgpool_config_free(cfg);
	ctx.config = NULL;
	assert_int_equal(k->run(&ctx, &in, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	k->release(params);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(find_returns_each_builtin_with_its_sizes),
		cmocka_unit_test(find_of_an_unknown_name_gives_null),
		cmocka_unit_test(list_is_null_terminated_and_agrees_with_find),
		cmocka_unit_test(mc_prices_agree_with_black_scholes),
		cmocka_unit_test(mc_prices_agree_with_black_scholes_without_antithetic),
		cmocka_unit_test(mc_std_error_shrinks_as_one_over_sqrt_paths),
		cmocka_unit_test(mc_antithetic_reduces_the_error),
		cmocka_unit_test(mc_is_bit_identical_across_runs_workers_and_states),
		cmocka_unit_test(mc_different_seeds_give_different_prices),
		cmocka_unit_test(mc_nearby_inputs_get_their_own_streams),
		cmocka_unit_test(mc_satisfies_put_call_parity),
		cmocka_unit_test(mc_one_path_has_a_price_and_an_unknown_error),
		cmocka_unit_test(mc_run_rejects_invalid_inputs),
		cmocka_unit_test(mc_run_reports_overflow_as_erange),
		cmocka_unit_test(black_scholes_matches_reference_values),
		cmocka_unit_test(mc_prepare_accepts_valid_sections),
		cmocka_unit_test(mc_prepare_rejects_bad_fields_with_their_paths),
		cmocka_unit_test(mc_prepare_messages_are_exact),
		cmocka_unit_test(spin_prepare_accepts_only_its_name),
		cmocka_unit_test(spin_output_depends_on_every_iteration),
		cmocka_unit_test(spin_calibration_predicts_the_run_time),
		cmocka_unit_test(curve_interpolates_a_line_exactly),
		cmocka_unit_test(curve_matches_an_independent_interpolation),
		cmocka_unit_test(curve_searches_a_large_table),
		cmocka_unit_test(curve_count_zero_sums_to_zero_and_too_many_is_invalid),
		cmocka_unit_test(curve_prepare_rejects_bad_tables_with_their_paths),
		cmocka_unit_test(curve_block_does_not_point_into_the_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
