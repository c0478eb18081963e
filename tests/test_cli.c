/*
 * The `cfgpool` command, end to end: the real binary run with pipes on its standard
 * streams. Order of results over thousands of lines, batch sizes and INPUT as a file;
 * malformed lines answered in their place; SIGHUP reloads (a broken file kept out, a good
 * one taken in) while a stream is open; SIGTERM mid-stream leaves a whole prefix, and a
 * second one during a slow batch exits at once without a cut line, as it does while the
 * output is stalled; a FIFO fed slowly is answered within the linger time; `check`; usage
 * and exit statuses; --stats; the limit on the length of an input line; results that are
 * not finite; ids echoed as written; every line read answered after a SIGTERM; results
 * that read back as the doubles the kernel computed, and refused fields named.
 *
 * Spawning the binary and collecting what it writes is tests/cli_helpers.h.
 *
 * Lines the tests expect from run.c, checked here: results are
 *   {"id": ID, "config_version": V, "elapsed_us": T, "result": {...}}
 *   {"id": ID, "config_version": V, "elapsed_us": 0, "error": {"line": L, "message": M}}
 * with ID the text of the input's "id" member as written, or its line number.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <jansson.h>

#include "helpers.h"

#include "cli_helpers.h"
#include "cli/cli.h"

/* run.c's limit on an input line, in bytes without the newline. */
#define MAX_LINE (1u << 20)

/* Mean mc_option work per input in these tests: fast enough for thousands of lines. */
#define FAST_PATHS 2000

/* One mc_option contract per k: spots around 100, strikes 80-120% of spot, calls and puts. */
static void option_input(struct buf *b, const char *id, size_t k)
{
	double spot = 80.0 + (double)(k * 37 % 41);
	double strike = spot * (0.8 + 0.01 * (double)(k * 13 % 41));
	double maturity = 1.0 / 12 + 0.05 * (double)(k % 59);

	buf_printf(b, "{\"id\": \"%s\", \"spot\": %.2f, \"strike\": %.2f, \"maturity\": %.4f, \"type\": \"%s\"}\n", id,
		   spot, strike, maturity, k % 2 ? "put" : "call");
}

static void option_inputs(struct buf *b, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		char id[32];

		snprintf(id, sizeof(id), "i%zu", k);
		option_input(b, id, k);
	}
}

/* Checks the whole output of a run over option_inputs(n); stores each price in prices[]. */
static void assert_ordered_results(const struct proc *p, size_t n, double *prices)
{
	json_t **v;
	size_t got = parse_lines(p, &v);

	if (got != n) {
		print_error("%zu result lines for %zu inputs\n", got, n);
		fail();
	}
	for (size_t k = 0; k < n; k++) {
		char id[32];
		json_t *res;

		snprintf(id, sizeof(id), "i%zu", k);
		assert_id_str(v[k], id);
		res = assert_result(v[k], 1);
		prices[k] = number(res, "price");
		assert_true(prices[k] >= 0);
		assert_int_equal(integer(res, "paths"), FAST_PATHS);
	}
	free_lines(v, n);
}

/* ------------------------------------------------------------------------------------------ */
/* 1. Order over thousands of lines                                                           */
/* ------------------------------------------------------------------------------------------ */

static void order_kept_over_thousands_of_lines(void **state)
{
	size_t n = test_scaled(5000, 500);
	char cfg[PATH_MAX], input[PATH_MAX];
	double *prices[3];
	struct buf in = {0};
	struct proc *p;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	option_inputs(&in, n);
	write_file(tmp_path(input, sizeof(input), "inputs.jsonl"), in.data, in.len);
	for (int i = 0; i < 3; i++) {
		prices[i] = calloc(n, sizeof(double));
		assert_non_null(prices[i]);
	}

	/* Standard input, the default batch (one per worker). */
	p = spawn(STDIN_PIPE, "run", "-c", cfg, NULL);
	start_feeder(p, in.data, in.len, 0);
	finish(p, 30);
	assert_exit_status(p, 0);
	assert_ordered_results(p, n, prices[0]);
	/* Progress goes to a terminal only, and nothing here is worth a message. */
	assert_string_equal(buf_str(&p->e), "");

	/* Batches of 3: most batches hold more inputs than there are workers. */
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--batch", "3", NULL);
	start_feeder(p, in.data, in.len, 0);
	finish(p, 30);
	assert_exit_status(p, 0);
	assert_ordered_results(p, n, prices[1]);

	/* INPUT as a file path. */
	p = run_to_end(30, "run", "-c", cfg, input, NULL);
	assert_exit_status(p, 0);
	assert_ordered_results(p, n, prices[2]);

	/* A task is seeded from the configuration and its input only, whatever the batching. */
	for (size_t k = 0; k < n; k++) {
		if (prices[1][k] != prices[0][k] || prices[2][k] != prices[0][k]) {
			print_error("input i%zu priced %.12g, %.12g (batch 3) and %.12g (file)\n", k, prices[0][k],
				    prices[1][k], prices[2][k]);
			fail();
		}
	}
	print_message("# %zu inputs, three runs\n", n);
	for (int i = 0; i < 3; i++)
		free(prices[i]);
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. Malformed lines                                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * Blank lines (empty, or only JSON whitespace) are not inputs, but they are lines of the
 * file: "line" (and the id of an input without one) is the input's line in the file, blank
 * lines included.
 */
static const bool blank_lines_count = true;

enum line_kind { GOOD, BAD, BLANK, TOO_LONG };

static const struct line_case {
	enum line_kind kind;
	const char *text;    /* without its newline; TOO_LONG: built by the test */
	const char *id;	     /* the id expected back, as JSON; NULL: the line number */
	const char *message; /* BAD, TOO_LONG: a part of the expected message */
} line_cases[] = {
    {GOOD, "{\"id\": \"g1\", \"spot\": 100, \"strike\": 95, \"maturity\": 1}", "\"g1\"", NULL},
    {BAD, "this is not JSON", NULL, "invalid JSON"},
    {BAD, "[1, 2, 3]", NULL, "expected a JSON object"},
    {BLANK, "", NULL, NULL},
    {BAD, "{\"id\": \"no-spot\", \"strike\": 95, \"maturity\": 1}", "\"no-spot\"", "missing field \"spot\""},
    {BAD, "{\"id\": 42, \"spot\": \"x\", \"strike\": 95, \"maturity\": 1}", "42", "field \"spot\""},
    /* A CRLF line and an id that is not a string. */
    {GOOD, "{\"id\": {\"desk\": [7, 8]}, \"spot\": 90, \"strike\": 95, \"maturity\": 0.5, \"type\": \"put\"}\r",
     "{\"desk\": [7, 8]}", NULL},
    {BAD, "{\"id\": \"straddle\", \"spot\": 100, \"strike\": 95, \"maturity\": 1, \"type\": \"straddle\"}",
     "\"straddle\"", "field \"type\""},
    {BAD, "{\"id\": \"neg-maturity\", \"spot\": 100, \"strike\": 95, \"maturity\": -1}", "\"neg-maturity\"",
     "field \"maturity\""},
    {BLANK, "", NULL, NULL},
    {BAD, "{}", NULL, "missing field \"spot\""},
    {BLANK, "\r", NULL, NULL},
    /* Only JSON whitespace: not an input either, but a line. */
    {BLANK, " \t  ", NULL, NULL},
    {BLANK, "\t \r", NULL, NULL},
    {TOO_LONG, NULL, NULL, "longer than"},
    {BAD, "{\"id\": \"dup\", \"spot\": 100, \"spot\": 101, \"strike\": 95, \"maturity\": 1}", NULL, "invalid JSON"},
    {GOOD, "{\"id\": \"g3\", \"spot\": 110, \"strike\": 95, \"maturity\": 2, \"type\": \"call\"}", "\"g3\"", NULL},
};

#define NCASES (sizeof(line_cases) / sizeof(line_cases[0]))

/* A well-formed input padded past the limit: if it were parsed, its own id would come back. */
static void too_long_input(struct buf *b, size_t len, const char *id)
{
	size_t start = b->len, head;

	buf_printf(b, "{\"id\": \"%s\", \"spot\": 100, \"strike\": 95, \"maturity\": 1, \"pad\": \"", id);
	head = b->len - start;
	assert_true(len > head + 2);
	for (size_t i = head; i < len - 2; i++)
		buf_append(b, "x", 1);
	buf_append(b, "\"}", 2);
	assert_int_equal(b->len - start, len);
}

static void check_malformed_output(const struct proc *p)
{
	size_t expected = 0, got, k = 0;
	unsigned long counted = 0;
	json_t **v;

	for (size_t i = 0; i < NCASES; i++)
		expected += line_cases[i].kind != BLANK;
	got = parse_lines(p, &v);
	if (got != expected) {
		print_error("%zu result lines for %zu non-blank input lines\n", got, expected);
		show_streams(p);
		fail();
	}
	for (size_t i = 0; i < NCASES; i++) {
		const struct line_case *c = &line_cases[i];
		unsigned long physical = (unsigned long)i + 1;
		unsigned long line;
		json_t *want, *err;

		if (c->kind == BLANK)
			continue;
		line = blank_lines_count ? physical : ++counted;
		want = c->id ? json_loads(c->id, JSON_DECODE_ANY, NULL) : json_integer((json_int_t)line);
		assert_non_null(want);
		assert_id(v[k], want);
		json_decref(want);
		if (c->kind == GOOD) {
			assert_true(number(assert_result(v[k], 1), "price") >= 0);
		} else {
			assert_int_equal(integer(v[k], "config_version"), 1);
			assert_true(number(v[k], "elapsed_us") == 0);
			assert_null(json_object_get(v[k], "result"));
			err = member(v[k], "error");
			if (integer(err, "line") != (json_int_t)line) {
				print_error("input on file line %lu reported as line %lld, expected %lu\n", physical,
					    (long long)integer(err, "line"), line);
				fail();
			}
			assert_true(json_is_string(member(err, "message")));
			assert_contains(json_string_value(member(err, "message")), c->message);
		}
		k++;
	}
	free_lines(v, got);
}

static void malformed_lines_answered_in_place(void **state)
{
	struct buf in = {0};
	char cfg[PATH_MAX];
	struct proc *p;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	for (size_t i = 0; i < NCASES; i++) {
		if (line_cases[i].kind == TOO_LONG)
			too_long_input(&in, 2 * MAX_LINE, "long");
		else
			buf_printf(&in, "%s", line_cases[i].text);
		buf_append(&in, "\n", 1);
	}

	/* Default batches, then one batch holding every line: errors and results interleaved. */
	p = spawn(STDIN_PIPE, "run", "-c", cfg, NULL);
	start_feeder(p, in.data, in.len, 0);
	finish(p, 20);
	assert_exit_status(p, 1);
	check_malformed_output(p);

	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--batch", "64", NULL);
	start_feeder(p, in.data, in.len, 0);
	finish(p, 20);
	assert_exit_status(p, 1);
	check_malformed_output(p);
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. SIGHUP while a stream is open                                                           */
/* ------------------------------------------------------------------------------------------ */

static const char contract[] = "\"spot\": 100, \"strike\": 95, \"maturity\": 1";

/* The result line `n` (from 1) of the output so far, checked to be `id`'s and successful. */
static double price_of_line(const struct proc *p, size_t n, const char *id, json_int_t version)
{
	json_t **v;
	size_t got = parse_lines(p, &v);
	double price;

	assert_true(got >= n);
	assert_id_str(v[n - 1], id);
	price = number(assert_result(v[n - 1], version), "price");
	free_lines(v, got);
	return price;
}

/*
 * Finds "PATH:LINE:COLUMN:" in `text` and returns COLUMN, or 0 when it is absent or the
 * column is not a positive number.
 */
static long location_column(const char *text, const char *path, int line)
{
	char prefix[PATH_MAX + 32];
	const char *at;
	char *end;
	long col;

	snprintf(prefix, sizeof(prefix), "%s:%d:", path, line);
	at = strstr(text, prefix);
	if (at == NULL)
		return 0;
	col = strtol(at + strlen(prefix), &end, 10);
	return col > 0 && *end == ':' ? col : 0;
}

static void sighup_mid_stream(void **state)
{
	/* A syntax error on line 3. */
	static const char broken[] = "{\n  \"kernel\": {\n    \"name\": \"mc_option\",,\n    \"paths\": 2000\n  }\n}\n";
	char cfg[PATH_MAX], other[PATH_MAX], line[256], want[PATH_MAX + 64];
	double p1, p2, p3;
	struct proc *p, *chk;
	long col, check_col;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--linger-ms", "10", NULL);

	snprintf(line, sizeof(line), "{\"id\": \"a1\", %s}\n", contract);
	write_line(p, line);
	wait_lines(p, 1, 5);
	p1 = price_of_line(p, 1, "a1", 1);

	/* A broken file: reported with its location, version 1 stays. */
	replace_file(cfg, broken);
	assert_int_equal(kill(p->pid, SIGHUP), 0);
	wait_stderr(p, "reload failed", 5);
	col = location_column(buf_str(&p->e), cfg, 3);
	if (col == 0) {
		print_error("no %s:3:COLUMN: in the reload message\n", cfg);
		show_streams(p);
		fail();
	}
	assert_contains(buf_str(&p->e), "keeping configuration version 1");
	/* `check` says the same about the same file. */
	chk = run_to_end(10, "check", cfg, NULL);
	assert_exit_status(chk, 1);
	check_col = location_column(buf_str(&chk->e), cfg, 3);
	assert_int_equal(check_col, col);

	snprintf(line, sizeof(line), "{\"id\": \"a2\", %s}\n", contract);
	write_line(p, line);
	wait_lines(p, 2, 5);
	p2 = price_of_line(p, 2, "a2", 1);
	/* The same input under the same configuration: the same price. */
	assert_true(p2 == p1);

	/* A good file with another seed: version 2, and the seed is in force. */
	option_config(other, sizeof(other), "other.json", FAST_PATHS, 4242);
	assert_int_equal(rename(other, cfg), 0);
	assert_int_equal(kill(p->pid, SIGHUP), 0);
	wait_stderr(p, "configuration version 2", 5);
	snprintf(want, sizeof(want), "reloaded %s", cfg);
	assert_contains(buf_str(&p->e), want);

	snprintf(line, sizeof(line), "{\"id\": \"a3\", %s}\n", contract);
	write_line(p, line);
	wait_lines(p, 3, 5);
	p3 = price_of_line(p, 3, "a3", 2);
	if (p3 == p1) {
		print_error("seed 4242 priced the contract exactly as seed 42 did (%.12g): not reloaded?\n", p1);
		fail();
	}

	finish(p, 10);
	assert_exit_status(p, 0);
	assert_int_equal(count_lines(&p->o), 3);
	print_message("# broken file reported at %s:3:%ld; prices %.6f (seed 42), %.6f (seed 4242)\n", cfg, col, p1,
		      p3);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. SIGTERM mid-stream                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Lines v[0, k) are the successful results of ids exactly "i0".."i<K-1>". */
static void assert_results_in_order(json_t **v, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		char id[32];

		snprintf(id, sizeof(id), "i%zu", i);
		assert_id_str(v[i], id);
		assert_result(v[i], 1);
	}
}

/* Every line whole and a JSON object, and the ids exactly "i0".."i<K-1>"; returns K. */
static size_t assert_prefix(const struct proc *p)
{
	json_t **v;
	size_t k = parse_lines(p, &v);

	assert_results_in_order(v, k);
	free_lines(v, k);
	return k;
}

static void sigterm_mid_stream(void **state)
{
	size_t n = test_scaled(2000, 200), before, k;
	char cfg[PATH_MAX], spin[PATH_MAX], batch[32];
	struct buf in = {0};
	struct feeder *f;
	struct proc *p;
	double t0, dt;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	option_inputs(&in, n);

	/* One SIGTERM: stop reading, finish what was read, exit 0; the output is a prefix. */
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--linger-ms", "10", NULL);
	f = start_feeder(p, in.data, in.len, 0.001);
	wait_lines(p, 20, 10);
	before = count_lines(&p->o);
	assert_int_equal(kill(p->pid, SIGTERM), 0);
	finish(p, 10);
	join_feeder(f);
	assert_exit_status(p, 0);
	k = assert_prefix(p);
	print_message("# first SIGTERM after %zu results: %zu of %zu inputs answered, %zu written\n", before, k, n,
		      atomic_load(&f->lines));
	assert_true(k >= before);
	if (k >= n) {
		print_error("every input was answered: SIGTERM did not stop the reading\n");
		fail();
	}
	buf_free(&in);

	/*
	 * A second SIGTERM while a batch runs for minutes: exit at once with 128 + 15, and the
	 * lines already written stay whole.
	 */
	tmp_path(spin, sizeof(spin), "spin.json");
	write_text(spin, "{\"kernel\": {\"name\": \"spin\"}}\n");
	p = spawn(STDIN_PIPE, "run", "-c", spin, "--linger-ms", "10", NULL);
	write_line(p, "{\"id\": \"i0\", \"iterations\": 1000}\n{\"id\": \"i1\", \"iterations\": 1000}\n");
	wait_lines(p, 2, 5);
	write_line(p, "{\"id\": \"slow\", \"iterations\": 100000000000}\n");
	sleep_s(0.3); /* past the linger: the slow batch is running */
	assert_int_equal(kill(p->pid, SIGTERM), 0);
	sleep_s(0.3);
	if (!still_running(p)) {
		print_error("the first SIGTERM did not let the running batch finish\n");
		show_streams(p);
		fail();
	}
	t0 = now_s();
	assert_int_equal(kill(p->pid, SIGTERM), 0);
	finish(p, 5);
	dt = now_s() - t0;
	print_message("# second SIGTERM: exited after %.1f ms\n", dt * 1e3);
	assert_exit_status(p, 128 + SIGTERM);
	/* Typically about 1 ms; the bound leaves room for a loaded machine, far below a hang. */
	assert_true(dt < 3.0 * test_timeout_multiplier());
	/* Strictly the two fast results, whole. */
	assert_int_equal(assert_prefix(p), 2);

	/*
	 * A second SIGTERM while the results of a big batch are being written to a reader that
	 * has stalled (and never reads again): exit at once all the same, with 128 + 15. Only
	 * this forced exit may leave a partial last line; the lines before it are whole.
	 */
	n = test_scaled(4000, 1000);
	option_inputs(&in, n);
	snprintf(batch, sizeof(batch), "%zu", n);
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--batch", batch, NULL);
	f = start_feeder(p, in.data, in.len, 0);
	wait_pipe_full(p, 10);
	sleep_s(0.05);
	assert_int_equal(kill(p->pid, SIGTERM), 0);
	sleep_s(0.05);
	t0 = now_s();
	assert_int_equal(kill(p->pid, SIGTERM), 0);
	while (still_running(p) && now_s() - t0 < 2.0 * test_timeout_multiplier())
		sleep_s(0.001);
	dt = now_s() - t0;
	if (!p->reaped) {
		print_error("still running %.1f s after the second SIGTERM, its output stalled\n", dt);
		fail();
	}
	print_message("# second SIGTERM during a stalled write: exited after %.1f ms\n", dt * 1e3);
	assert_exit_status(p, 128 + SIGTERM);
	finish(p, 10);
	join_feeder(f);
	if (p->o.len > 0 && p->o.data[p->o.len - 1] != '\n') {
		const char *nl = memrchr(p->o.data, '\n', p->o.len);

		p->o.len = nl ? (size_t)(nl + 1 - p->o.data) : 0; /* the cut line is allowed here only */
	}
	k = assert_prefix(p);
	print_message("# %zu of %zu lines whole before the forced exit\n", k, n);
	assert_true(k < n);
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 5. A FIFO fed slowly                                                                       */
/* ------------------------------------------------------------------------------------------ */

static void fifo_fed_slowly(void **state)
{
	const double linger = 0.050, gap = 0.100;
	char cfg[PATH_MAX], fifo[PATH_MAX], line[256], ms[256];
	double deadline, t_write, latency[5];
	size_t mslen = 0;
	struct proc *p;
	int fd = -1;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	tmp_path(fifo, sizeof(fifo), "inputs.fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* The options after the operand, as the brief's usage has it (GNU getopt permutes). */
	p = spawn(STDIN_NULL, "run", "-c", cfg, fifo, "--linger-ms", "50", NULL);

	/* A non-blocking open fails with ENXIO until cfgpool has opened its end. */
	deadline = deadline_in(10);
	while (fd < 0) {
		fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			break;
		assert_int_equal(errno, ENXIO);
		if (!still_running(p) || now_s() > deadline) {
			print_error("cfgpool never opened the FIFO for reading\n");
			show_streams(p);
			fail();
		}
		sleep_s(0.001);
	}
	world.extra_fd = fd;
	assert_int_equal(fcntl(fd, F_SETFL, 0), 0);

	for (size_t k = 0; k < 5; k++) {
		double limit = k == 0 ? linger + 1.0 * test_timeout_multiplier() : gap * test_timeout_multiplier();
		int n = snprintf(line, sizeof(line), "{\"id\": \"i%zu\", %s}\n", k, contract);

		/* The clock is read first: a test thread descheduled after its write would otherwise
		 * see a late t_write and an answer that seems to come before the linger time. */
		t_write = now_s();
		assert_int_equal(write(fd, line, (size_t)n), n);
		if (!lines_by(p, k + 1, t_write + limit)) {
			print_error("line %zu not answered within %.0f ms\n", k + 1, limit * 1e3);
			show_streams(p);
			fail();
		}
		latency[k] = now_s() - t_write;
		mslen += (size_t)snprintf(ms + mslen, sizeof(ms) - mslen, "%s%.1f", k ? ", " : "", latency[k] * 1e3);
		/* A partial batch waits for its linger time: an early answer would mean no batching. */
		if (latency[k] < linger - 0.005) {
			print_error("line %zu answered after %.1f ms, before the %.0f ms linger\n", k + 1,
				    latency[k] * 1e3, linger * 1e3);
			fail();
		}
		sleep_s(t_write + gap - now_s());
	}
	print_message("# FIFO latencies with --linger-ms 50: %s ms\n", ms);

	world.extra_fd = -1;
	assert_int_equal(close(fd), 0);
	finish(p, 10);
	assert_exit_status(p, 0);
	assert_int_equal(assert_prefix(p), 5);
}

/* ------------------------------------------------------------------------------------------ */
/* 6. check                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* `cfgpool check PATH` exits 1 by itself (no signal), says why on stderr and nothing on stdout. */
static const struct proc *check_refuses(const char *path, const char *needle)
{
	struct proc *p = run_to_end(10, "check", path, NULL);

	assert_exit_status(p, 1);
	assert_string_equal(buf_str(&p->o), "");
	assert_true(p->e.len > 0);
	if (needle != NULL)
		assert_contains(buf_str(&p->e), needle);
	return p;
}

/* The example project's portfolio under `paths` Monte Carlo paths, its plug-in at var.so beside it. */
static void var_config(const char *path, long paths)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"pool\": {\"workers\": 2}, \"kernel\": {\"plugin\": \"var.so\", \"name\": \"portfolio_var\", "
		 "\"assets\": [{\"drift\": 0.0003, \"volatility\": 0.012}, {\"drift\": 0.0001, \"volatility\": 0.004}, "
		 "{\"drift\": 0.0002, \"volatility\": 0.009}], "
		 "\"correlation\": [[1, -0.2, 0.1], [-0.2, 1, 0.3], [0.1, 0.3, 1]], \"paths\": %ld, \"seed\": 7}}",
		 paths);
	replace_file(path, text);
}

/* Installs the built example plug-in as tmp/var.so: a new file renamed over the old, as a build does. */
static void install_var_plugin(const char *so)
{
	const char *build = getenv("CFGPOOL_BUILD");
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cp '%s/tests/plugins/.libs/example_var.so' '%s.new' && mv '%s.new' '%s'",
		 build != NULL ? build : ".", so, so, so);
	assert_int_equal(system(cmd), 0);
}

/* The paths of result line n (1-based), which must have run against `version`. */
static json_int_t var_paths_of_line(const struct proc *p, size_t n, json_int_t version)
{
	json_t **lines;
	size_t count = parse_lines(p, &lines);
	json_int_t paths;

	assert_true(count >= n);
	paths = integer(assert_result(lines[n - 1], version), "paths");
	free_lines(lines, count);
	return paths;
}

/*
 * A plug-in under `cfgpool run`: the example project's kernel with its codec answers a
 * line; SIGHUP with the same file and new parameters is version 2; SIGHUP after the file
 * was rebuilt is refused with the reason and version 2 stays. A library without the JSON
 * writer the codec calls cannot load it (dlopen(RTLD_NOW) refuses unresolved symbols):
 * the run is then a configuration error naming the file and the missing symbol.
 */
static void plugin_reload_over_sighup(void **state)
{
	static const char input[] = "{\"id\": \"v\", \"positions\": [1000000, 1000000, 250000]}\n";
	char so[PATH_MAX], cfg[PATH_MAX], want[PATH_MAX + 64];
	struct proc *p;

	(void)state;
	tmp_path(so, sizeof(so), "var.so");
	tmp_path(cfg, sizeof(cfg), "var.json");
	install_var_plugin(so);
	var_config(cfg, 2000);
	if (dlsym(RTLD_DEFAULT, "cfgpool_write_double") == NULL) {
		p = run_to_end(10, "run", "-c", cfg, NULL);
		assert_exit_status(p, 2);
		assert_contains(buf_str(&p->e), "kernel.plugin");
		assert_contains(buf_str(&p->e), so);
		assert_contains(buf_str(&p->e), "undefined symbol: cfgpool_write_");
		return;
	}
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--linger-ms", "10", NULL);
	write_line(p, input);
	wait_lines(p, 1, 5);
	assert_int_equal(var_paths_of_line(p, 1, 1), 2000);

	/* The same plug-in file, new parameters: reloaded. */
	var_config(cfg, 4000);
	assert_int_equal(kill(p->pid, SIGHUP), 0);
	wait_stderr(p, "configuration version 2", 5);
	write_line(p, input);
	wait_lines(p, 2, 5);
	assert_int_equal(var_paths_of_line(p, 2, 2), 4000);

	/* The plug-in rebuilt: refused, the running code and configuration stay. */
	install_var_plugin(so);
	var_config(cfg, 8000);
	assert_int_equal(kill(p->pid, SIGHUP), 0);
	wait_stderr(p, "restart to load the new build", 5);
	snprintf(want, sizeof(want), "%s changed since the pool opened", so);
	assert_contains(buf_str(&p->e), want);
	assert_contains(buf_str(&p->e), "keeping configuration version 2");
	write_line(p, input);
	wait_lines(p, 3, 5);
	assert_int_equal(var_paths_of_line(p, 3, 2), 4000);

	finish(p, 10);
	assert_exit_status(p, 0);
}

static void check_command(void **state)
{
	static const char *const kernel_cases[] = {
	    "{\"kernel\": 5}",
	    "{\"kernel\": []}",
	    "{\"kernel\": {\"name\": 7}}",
	    "{\"kernel\": {\"name\": \"mc_option\", \"rate\": \"high\", \"volatility\": 0.2, \"paths\": 10, \"seed\": "
	    "1}}",
	    "{\"kernel\": {\"name\": \"mc_option\", \"rate\": 0.03, \"volatility\": 0.2, \"paths\": [], \"seed\": 1}}",
	    "{\"kernel\": {\"name\": \"no-such-kernel\"}}",
	};
	char example[PATH_MAX], path[PATH_MAX], garbage[4096];
	const struct proc *p;
	uint64_t x = 0x9e3779b97f4a7c15u;

	(void)state;
	p = run_to_end(10, "check", test_data_path(example, sizeof(example), "../examples/config.json"), NULL);
	assert_exit_status(p, 0);
	assert_true(strncmp(buf_str(&p->o), "ok", 2) == 0);
	assert_contains(buf_str(&p->o), "kernel mc_option");
	assert_string_equal(buf_str(&p->e), "");

	/* Syntax: FILE:LINE:COLUMN: with the line of the stray comma. */
	tmp_path(path, sizeof(path), "syntax.json");
	write_text(path, "{\n  \"pool\": {\"workers\": 2,,},\n  \"kernel\": {\"name\": \"spin\"}\n}\n");
	p = check_refuses(path, NULL);
	if (location_column(buf_str(&p->e), path, 2) == 0) {
		print_error("expected %s:2:COLUMN: in \"%s\"\n", path, buf_str(&p->e));
		fail();
	}

	/* Schema: the JSON path of the value. */
	tmp_path(path, sizeof(path), "schema.json");
	write_text(path, "{\"pool\": {\"workers\": 0}, \"kernel\": {\"name\": \"spin\"}}\n");
	check_refuses(path, "pool.workers");

	tmp_path(path, sizeof(path), "missing.json");
	check_refuses(path, path);
	check_refuses(world.dir, world.dir);

	tmp_path(path, sizeof(path), "empty.json");
	write_text(path, "");
	check_refuses(path, path);

	/* Bytes of a xorshift generator: NULs, invalid UTF-8, anything. */
	for (size_t i = 0; i < sizeof(garbage); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		garbage[i] = (char)(x >> 56);
	}
	tmp_path(path, sizeof(path), "garbage.bin");
	write_file(path, garbage, sizeof(garbage));
	check_refuses(path, path);

	for (size_t i = 0; i < sizeof(kernel_cases) / sizeof(kernel_cases[0]); i++) {
		tmp_path(path, sizeof(path), "kernel.json");
		write_text(path, kernel_cases[i]);
		check_refuses(path, "kernel");
	}

	/* Usage errors are 2, not 1. */
	assert_exit_status(run_to_end(10, "check", NULL), 2);
	assert_exit_status(run_to_end(10, "check", example, example, NULL), 2);
	assert_exit_status(run_to_end(10, "check", "--frobnicate", example, NULL), 2);
}

/* ------------------------------------------------------------------------------------------ */
/* 7. Usage                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void assert_usage_error(const struct proc *p, const char *needle)
{
	assert_exit_status(p, 2);
	assert_string_equal(buf_str(&p->o), "");
	if (needle != NULL)
		assert_contains(buf_str(&p->e), needle);
}

static void assert_help(const struct proc *p)
{
	assert_exit_status(p, 0);
	assert_true(strncmp(buf_str(&p->o), "Usage", 5) == 0);
	assert_string_equal(buf_str(&p->e), "");
}

static void usage(void **state)
{
	char cfg[PATH_MAX], broken[PATH_MAX], missing[PATH_MAX], version[64];
	const struct proc *p;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);

	assert_usage_error(run_to_end(10, NULL), "Usage");
	assert_usage_error(run_to_end(10, "frobnicate", NULL), "frobnicate");
	assert_usage_error(run_to_end(10, "run", NULL), "-c CONFIG");
	assert_usage_error(run_to_end(10, "run", "-c", cfg, "--batch", "0", NULL), "--batch");
	assert_usage_error(run_to_end(10, "run", "-c", cfg, "--batch", "65537", NULL), "--batch");
	assert_usage_error(run_to_end(10, "run", "-c", cfg, "--batch", "3x", NULL), "--batch");
	assert_usage_error(run_to_end(10, "run", "-c", cfg, "--linger-ms", "-1", NULL), "--linger-ms");
	assert_usage_error(run_to_end(10, "run", "-c", cfg, "--no-such-option", NULL), NULL);
	assert_usage_error(run_to_end(10, "run", "-c", cfg, "in1", "in2", NULL), "one INPUT");

	assert_help(run_to_end(10, "--help", NULL));
	assert_help(run_to_end(10, "-h", NULL));
	assert_help(run_to_end(10, "run", "--help", NULL));
	assert_help(run_to_end(10, "check", "--help", NULL));

	snprintf(version, sizeof(version), "cfgpool %s\n", CFGPOOL_VERSION_STRING);
	assert_string_equal(buf_str(&run_to_end(10, "--version", NULL)->o), version);
	assert_string_equal(buf_str(&run_to_end(10, "-V", NULL)->o), version);

	/* Configuration errors in run: 2, the location on stderr, nothing on stdout. */
	tmp_path(broken, sizeof(broken), "broken.json");
	write_text(broken, "{\"kernel\": {\"name\": \"spin\"},\n \"pool\": }\n");
	p = run_to_end(10, "run", "-c", broken, NULL);
	assert_usage_error(p, NULL);
	assert_true(location_column(buf_str(&p->e), broken, 2) > 0);
	tmp_path(missing, sizeof(missing), "missing.json");
	assert_usage_error(run_to_end(10, "run", "-c", missing, NULL), missing);
	/* And an INPUT that cannot be opened. */
	assert_usage_error(run_to_end(10, "run", "-c", cfg, missing, NULL), missing);
}

/* ------------------------------------------------------------------------------------------ */
/* 8. --stats                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void stats_flag(void **state)
{
	const size_t n = 100;
	char cfg[PATH_MAX];
	struct buf in = {0};
	const char *err, *last;
	json_int_t tasks = 0;
	json_error_t je;
	struct proc *p;
	json_t *st, *workers, *w;
	size_t i;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	option_inputs(&in, n);
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--stats", "--batch", "7", NULL);
	start_feeder(p, in.data, in.len, 0);
	finish(p, 20);
	assert_exit_status(p, 0);
	assert_int_equal(assert_prefix(p), n);

	err = buf_str(&p->e);
	assert_true(p->e.len > 0 && err[p->e.len - 1] == '\n');
	last = p->e.len > 1 ? memrchr(err, '\n', p->e.len - 1) : NULL;
	last = last ? last + 1 : err;
	st = json_loads(last, 0, &je);
	if (st == NULL || !json_is_object(st)) {
		print_error("the last stderr line is not a JSON object (%s): %s\n", je.text, last);
		fail();
	}
	assert_int_equal(integer(st, "submitted"), n);
	assert_int_equal(integer(st, "completed"), n);
	assert_int_equal(integer(st, "failed"), 0);
	assert_int_equal(integer(st, "cancelled"), 0);
	assert_int_equal(integer(st, "config_version"), 1);
	/* Every completed task ran on a worker or on the helping caller. */
	workers = member(st, "workers");
	assert_true(json_is_array(workers) && json_array_size(workers) > 0);
	json_array_foreach(workers, i, w) tasks += integer(w, "tasks");
	assert_int_equal(tasks + integer(st, "caller_tasks"), n);
	json_decref(st);
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 9. The line length limit                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* What came back for the first input into `out`: its "error" message, or "" for a result. */
static void first_outcome(const struct proc *p, char *out, size_t size)
{
	json_t **v;
	size_t n = parse_lines(p, &v);
	json_t *err;

	assert_int_equal(n, 2);
	assert_id_str(v[1], "after");
	assert_result(v[1], 1);
	err = json_object_get(v[0], "error");
	snprintf(out, size, "%s", err ? json_string_value(json_object_get(err, "message")) : "");
	free_lines(v, n);
}

/*
 * "line longer than 1048576 bytes" should be about the line, not about how its bytes
 * arrived: a line of MAX_LINE + 1 bytes is refused and one of exactly MAX_LINE bytes is
 * taken, from a file as from a pipe. Both inputs here are well-formed, so a line that is
 * let through comes back with a result.
 */
static void line_length_limit_is_exact(void **state)
{
	static const char after[] = "{\"id\": \"after\", \"spot\": 100, \"strike\": 95, \"maturity\": 1}\n";
	char cfg[PATH_MAX], input[PATH_MAX];
	char over_from_file[512], exact_from_pipe[512];
	struct buf big = {0};
	struct proc *p;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);

	/* MAX_LINE + 1 bytes, first in a file: one read() brings the whole line. */
	too_long_input(&big, MAX_LINE + 1, "over");
	buf_append(&big, "\n", 1);
	buf_append(&big, after, strlen(after));
	write_file(tmp_path(input, sizeof(input), "over.jsonl"), big.data, big.len);
	p = run_to_end(20, "run", "-c", cfg, input, NULL);
	first_outcome(p, over_from_file, sizeof(over_from_file));
	buf_free(&big);

	/* Exactly MAX_LINE bytes through a pipe, its newline a moment later. */
	too_long_input(&big, MAX_LINE, "exact");
	buf_append(&big, "\n", 1);
	buf_append(&big, after, strlen(after));
	p = spawn(STDIN_PIPE, "run", "-c", cfg, NULL);
	write_bytes(p, big.data, MAX_LINE);
	sleep_s(0.2); /* cfgpool has read the whole line but not its end */
	write_line(p, big.data + MAX_LINE);
	finish(p, 20);
	first_outcome(p, exact_from_pipe, sizeof(exact_from_pipe));
	buf_free(&big);

	print_message("# %u + 1 bytes from a file: %s; %u bytes from a pipe: %s\n", MAX_LINE,
		      *over_from_file ? over_from_file : "a result", MAX_LINE,
		      *exact_from_pipe ? exact_from_pipe : "a result");
	if (*over_from_file == '\0')
		print_error("a line of %u bytes from a file was parsed, not refused\n", MAX_LINE + 1);
	if (*exact_from_pipe != '\0')
		print_error("a line of exactly %u bytes from a pipe was refused: %s\n", MAX_LINE, exact_from_pipe);
	assert_contains(over_from_file, "longer than");
	assert_string_equal(exact_from_pipe, "");

	/* The CR of a CRLF line is not counted: MAX_LINE bytes and "\r\n" from a file is taken. */
	too_long_input(&big, MAX_LINE, "crlf");
	buf_append(&big, "\r\n", 2);
	buf_append(&big, after, strlen(after));
	write_file(tmp_path(input, sizeof(input), "crlf.jsonl"), big.data, big.len);
	p = run_to_end(20, "run", "-c", cfg, input, NULL);
	first_outcome(p, exact_from_pipe, sizeof(exact_from_pipe));
	assert_string_equal(exact_from_pipe, "");
	buf_free(&big);

	/* The limit the help states is the one in force. */
	assert_contains(buf_str(&run_to_end(10, "run", "--help", NULL)->o), "1048576 bytes");
}

/* ------------------------------------------------------------------------------------------ */
/* 10. Results that are not finite                                                            */
/* ------------------------------------------------------------------------------------------ */

/* An error line for input line `line`: no result, and a message containing `needle`. */
static void assert_error_line(json_t *v, json_int_t line, const char *needle)
{
	json_t *err = member(v, "error");

	assert_null(json_object_get(v, "result"));
	assert_int_equal(integer(err, "line"), line);
	assert_true(json_is_string(member(err, "message")));
	assert_contains(json_string_value(member(err, "message")), needle);
}

/*
 * JSON has no NaN or infinity: an output field that is not finite makes that input's answer
 * an error naming the field, counted as a failure, and the inputs around it are answered
 * as usual.
 */
static void non_finite_results_are_errors(void **state)
{
	static const struct {
		const char *config, *input, *message;
	} cases[] = {
	    /* One path: the standard error of one sample is unknown. */
	    {"{\"kernel\": {\"name\": \"mc_option\", \"rate\": 0, \"volatility\": 0.2, \"paths\": 1, \"seed\": 1}}",
	     "\"spot\": 100, \"strike\": 95, \"maturity\": 1", "result field std_error is not finite (nan)"},
	    /* A price that fits in a double whose squared payoffs do not. */
	    {"{\"kernel\": {\"name\": \"mc_option\", \"rate\": 0, \"volatility\": 0.2, \"paths\": 100, \"seed\": 1}}",
	     "\"spot\": 1e200, \"strike\": 95, \"maturity\": 1", "result field std_error is not finite"},
	    /* Ten values of 1e308 add up past the largest double. */
	    {"{\"kernel\": {\"name\": \"curve\", \"points\": [[0, 1e308], [1, 1e308]]}}", "\"seed\": 1, \"count\": 10",
	     "result field sum is not finite (inf)"},
	};
	char cfg[PATH_MAX], input[PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf in = {0};
		struct proc *p;
		json_t **v;
		size_t n;

		write_text(tmp_path(cfg, sizeof(cfg), "config.json"), cases[i].config);
		buf_printf(&in, "{\"id\": \"bad\", %s}\n\n{\"id\": \"bad too\", %s}\n", cases[i].input, cases[i].input);
		write_file(tmp_path(input, sizeof(input), "inputs.jsonl"), in.data, in.len);
		p = run_to_end(20, "run", "-c", cfg, input, NULL);
		assert_exit_status(p, 1);
		n = parse_lines(p, &v);
		assert_int_equal(n, 2);
		assert_id_str(v[0], "bad");
		assert_error_line(v[0], 1, cases[i].message);
		assert_id_str(v[1], "bad too");
		assert_error_line(v[1], 3, cases[i].message);
		print_message("# %s\n", json_string_value(member(member(v[0], "error"), "message")));
		free_lines(v, n);
		buf_free(&in);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* 11. Ids echoed as written                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * An id comes back byte for byte as the input wrote it: no rounding of reals, no decoding
 * of escapes, its spacing kept. Each case is an input line around its id; NULL: no id.
 */
static void ids_echoed_as_written(void **state)
{
	static const struct {
		const char *line; /* "%s" stands for the contract */
		const char *id;   /* the text expected after {"id": in the result line */
	} cases[] = {
	    {"{\"id\": 0.1234567890123456789, %s}", "0.1234567890123456789"},
	    {"{\"id\":1e2,%s}", "1e2"},
	    {"{\"id\": -0.0, %s}", "-0.0"},
	    {"{\"id\": 1.5E+300 , %s}", "1.5E+300"},
	    {"{\"id\": \"caf\\u00e9\", %s}", "\"caf\\u00e9\""},
	    {"{\"id\": \"a \\\"quoted\\\" }{ ][ \\\\\", %s}", "\"a \\\"quoted\\\" }{ ][ \\\\\""},
	    {"{\"id\": {\"b\": [1, 2.50, {\"c\": null}], \"d\": \"}\"}, %s}",
	     "{\"b\": [1, 2.50, {\"c\": null}], \"d\": \"}\"}"},
	    {"{\"id\": [], %s}", "[]"},
	    {"{\"id\": null, %s}", "null"},
	    {"{\"id\": true, %s}", "true"},
	    /* The top-level member, not one of the same name further in, nor one named "idx". */
	    {"{\"x\": {\"id\": 1}, \"idx\": 2, \"ids\": [\"id\"], \"id\": 3.0, %s}", "3.0"},
	    /* The member's name may itself be written with escapes. */
	    {"{%s, \"\\u0069d\": 7.70}", "7.70"},
	    /* After the kernel's fields, with the tab and CR of a hand-edited line. */
	    {"{%s,\t\"id\"\t:\t\"last\"\t}\r", "\"last\""},
	    {"{%s}", NULL},
	    /* A line that fails still has its id echoed. */
	    {"{\"id\": 2.000000000000000000001, \"spot\": -1, \"strike\": 95, \"maturity\": 1}",
	     "2.000000000000000000001"},
	};
	char cfg[PATH_MAX], input[PATH_MAX];
	struct buf in = {0};
	const char *out;
	struct proc *p;
	json_t **v;
	size_t n;

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *at = strstr(cases[i].line, "%s");

		if (at == NULL) {
			buf_printf(&in, "%s\n", cases[i].line);
			continue;
		}
		buf_append(&in, cases[i].line, (size_t)(at - cases[i].line));
		buf_printf(&in, "%s%s\n", contract, at + 2);
	}
	write_file(tmp_path(input, sizeof(input), "inputs.jsonl"), in.data, in.len);
	p = run_to_end(20, "run", "-c", cfg, input, NULL);
	assert_exit_status(p, 1); /* the last case fails on purpose */
	n = parse_lines(p, &v); /* every line is still one JSON object */
	assert_int_equal(n, sizeof(cases) / sizeof(cases[0]));
	free_lines(v, n);

	out = buf_str(&p->o);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *nl = strchr(out, '\n');
		char want[256];

		if (cases[i].id != NULL)
			snprintf(want, sizeof(want), "{\"id\":%s,\"config_version\":1,", cases[i].id);
		else
			snprintf(want, sizeof(want), "{\"id\":%zu,\"config_version\":1,", i + 1);
		if (strncmp(out, want, strlen(want)) != 0) {
			print_error("input line %zu: expected the result to start %s, got %.*s\n", i + 1, want,
				    (int)(nl - out), out);
			fail();
		}
		out = nl + 1;
	}
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 12. SIGTERM answers every line already read                                                */
/* ------------------------------------------------------------------------------------------ */

/* Waits until the child has read everything written to its stdin pipe. */
static void wait_pipe_drained(const struct proc *p, double base)
{
	double deadline = deadline_in(base);
	int queued;

	for (;;) {
		assert_int_equal(ioctl(p->in, FIONREAD, &queued), 0);
		if (queued == 0)
			return;
		if (now_s() > deadline) {
			print_error("cfgpool left %d bytes of its input unread for %.1f s\n", queued,
				    base * test_timeout_multiplier());
			fail();
		}
		sleep_s(0.001);
	}
}

/*
 * Lines waiting in a pipe are all read at once into cfgpool's buffer; a SIGTERM then must
 * not drop them: every complete line read gets its answer, and a last line cut short (its
 * newline not yet written) gets an error saying so, since it too was taken from the pipe,
 * unless it is blank. The kernel is slowed down so that most lines are still unanswered
 * when the signal lands.
 */
static void sigterm_answers_every_line_read(void **state)
{
	size_t n = test_scaled(400, 100);
	char cfg[PATH_MAX];

	(void)state;
	option_config(cfg, sizeof(cfg), "config.json", 50000, 42);
	/* Rounds: nothing after the last newline, a cut input, a cut blank line. */
	for (int round = 0; round < 3; round++) {
		bool cut = round == 1;
		struct buf in = {0};
		size_t before, k;
		struct proc *p;
		json_t **v;

		option_inputs(&in, n);
		if (round > 0)
			buf_printf(&in, "%s", cut ? "{\"id\": \"cut\", \"spot\": 100, " : " \t ");
		assert_true(in.len < 65536); /* a pipe's default capacity: the writes cannot block */
		p = spawn(STDIN_PIPE, "run", "-c", cfg, NULL);
		write_bytes(p, in.data, in.len);
		wait_pipe_drained(p, 10);
		before = count_lines(&p->o);
		assert_int_equal(kill(p->pid, SIGTERM), 0);
		finish(p, 60);
		k = parse_lines(p, &v);
		print_message("# SIGTERM with %zu lines read%s: %zu answered (%zu before the signal)\n", n,
			      round == 0 ? "" : cut ? " and an input cut short" : " and a blank one cut short", k, before);
		if (k != n + (size_t)cut) {
			print_error("%zu answers for %zu lines read\n", k, n + (size_t)cut);
			show_streams(p);
			fail();
		}
		assert_results_in_order(v, n);
		if (cut) {
			assert_int_equal(integer(v[n], "id"), n + 1);
			assert_error_line(v[n], (json_int_t)n + 1, "cut short");
			/* The cut line failed, so the run did: the same status as without a signal. */
			assert_exit_status(p, 1);
		} else {
			assert_exit_status(p, 0);
		}
		free_lines(v, k);
		buf_free(&in);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* 13. A failed item's message, and the id's span, called directly                            */
/* ------------------------------------------------------------------------------------------ */

#define FLAT_CURVE (-4100)

static const char *fake_strerror(int code)
{
	return code == FLAT_CURVE ? "the curve is flat" : NULL;
}

/*
 * A kernel's own message wins where it has one; cfgpool_strerror() fills in for the codes
 * it has none for and for a kernel without the member. Through the binary, a built-in
 * kernel's failure reads the same way.
 */
static void kernel_error_messages(void **state)
{
	const cfgpool_kernel_t with = {.name = "fake", .strerror = fake_strerror}, without = {.name = "plain"};
	char msg[256], want[256], cfg[PATH_MAX], input[PATH_MAX];
	static const char line[] = "{\"id\": \"huge\", \"spot\": 1e308, \"strike\": 95, \"maturity\": 1}\n";
	struct proc *p;
	json_t **v;
	size_t n;

	(void)state;
	cli_kernel_error(&with, FLAT_CURVE, msg, sizeof(msg));
	assert_string_equal(msg, "kernel fake: the curve is flat (UNKNOWN)");
	cli_kernel_error(&with, -ERANGE, msg, sizeof(msg));
	snprintf(want, sizeof(want), "kernel fake: %s (ERANGE)", cfgpool_strerror(-ERANGE));
	assert_string_equal(msg, want);
	cli_kernel_error(&without, FLAT_CURVE, msg, sizeof(msg));
	snprintf(want, sizeof(want), "kernel plain: %s (UNKNOWN)", cfgpool_strerror(FLAT_CURVE));
	assert_string_equal(msg, want);

	/* A spot so large that the paths overflow: mc_option's run fails with -ERANGE. */
	option_config(cfg, sizeof(cfg), "config.json", FAST_PATHS, 42);
	write_text(tmp_path(input, sizeof(input), "inputs.jsonl"), line);
	p = run_to_end(20, "run", "-c", cfg, input, NULL);
	assert_exit_status(p, 1);
	n = parse_lines(p, &v);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "kernel mc_option: %s (ERANGE)", cfgpool_strerror(-ERANGE));
	assert_error_line(v[0], 1, want);
	/* The kernel ran, so its time is reported, as for a result; only inputs it never saw have 0. */
	assert_true(number(v[0], "elapsed_us") > 0);
	print_message("# %s\n", json_string_value(member(member(v[0], "error"), "message")));
	free_lines(v, n);
}

/* Texts that are not what the skipper expects: it finds nothing and stays inside them. */
static void id_span_on_broken_text(void **state)
{
	static const struct {
		const char *text;
		const char *span; /* NULL: not found */
	} cases[] = {
	    {"", NULL},
	    {"{", NULL},
	    {"[\"id\", 1]", NULL},
	    {"{\"id\"", NULL},
	    {"{\"id\":", ""},
	    {"{\"id\": \"abc", "\"abc"},
	    {"{\"id\": [1, {\"a\": \"]\"", "[1, {\"a\": \"]\""},
	    {"{\"i\\", NULL},
	    {"{\"a\": }, \"id\": 1}", NULL},
	    {"{\"a\": \"\\\\\", \"id\": 5}", "5"},
	    {"{\"id\": 1}", "1"},
	    {" \t{\"\\u0069d\"\n:\n{}}", "{}"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text), start = 0, stop = 0;
		/* An exact-size copy, so that a read past the end is caught by a sanitizer or valgrind. */
		char *text = malloc(len ? len : 1);
		int rc;

		assert_non_null(text);
		memcpy(text, cases[i].text, len);
		rc = cli_json_member_span(text, len, "id", &start, &stop);
		if (cases[i].span == NULL) {
			assert_int_equal(rc, -1);
		} else {
			assert_int_equal(rc, 0);
			assert_true(start <= stop && stop <= len);
			assert_int_equal(stop - start, strlen(cases[i].span));
			assert_memory_equal(text + start, cases[i].span, stop - start);
		}
		free(text);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* 14. Results written by the kernel's codec                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * Each result's numbers read back as the very doubles the kernel computed (the same inputs
 * run through the library here), and each input the codec refuses is answered with the
 * field's name and what was expected.
 */
static void results_read_back_exactly(void **state)
{
	static const char config[] = "{\"kernel\": {\"name\": \"mc_option\", \"rate\": 0.03, \"volatility\": 0.2, "
				     "\"paths\": 64, \"seed\": 7}}";
	static const char *const bad[][2] = {
	    {"{\"spot\": 100, \"strike\": true, \"maturity\": 1}", "field \"strike\": expected a positive number"},
	    {"{\"spot\": 100, \"strike\": 95}", "missing field \"maturity\": expected a positive number"},
	    {"{\"spot\": 100, \"strike\": 95, \"maturity\": 1, \"type\": \"Put\"}",
	     "field \"type\": expected \"call\" or \"put\""},
	};
	enum { N = 50 };
	cfgpool_option_input_t in[N];
	cfgpool_option_output_t out[N];
	cfgpool_result_t res[N];
	char cfg[PATH_MAX], input[PATH_MAX];
	cfgpool_pool_t *pool;
	struct buf b = {0};
	struct proc *p;
	json_t **v;
	size_t n;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		in[i] = (cfgpool_option_input_t){.spot = 80 + 0.37 * (double)i, .strike = 100 - 0.11 * (double)i,
						 .maturity = 0.1 + 0.03 * (double)i, .type = i % 2 ? CFGPOOL_PUT : CFGPOOL_CALL};
		/* %.17g: the command reads back the very doubles the library is given. */
		buf_printf(&b, "{\"spot\": %.17g, \"strike\": %.17g, \"maturity\": %.17g, \"type\": \"%s\"}\n", in[i].spot,
			   in[i].strike, in[i].maturity, i % 2 ? "put" : "call");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		buf_printf(&b, "%s\n", bad[i][0]);
	assert_int_equal(cfgpool_pool_open_string(config, strlen(config), NULL, NULL, &pool, NULL), 0);
	assert_int_equal(cfgpool_pool_map(pool, in, 0, out, 0, N, res, 0), 0);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);

	write_text(tmp_path(cfg, sizeof(cfg), "config.json"), config);
	write_file(tmp_path(input, sizeof(input), "inputs.jsonl"), b.data, b.len);
	p = run_to_end(20, "run", "-c", cfg, input, NULL);
	assert_exit_status(p, 1);
	n = parse_lines(p, &v);
	assert_int_equal(n, N + sizeof(bad) / sizeof(bad[0]));
	for (size_t i = 0; i < N; i++) {
		json_t *r = assert_result(v[i], 1);

		assert_true(json_is_real(member(r, "price")) && json_is_real(member(r, "std_error")));
		assert_true(json_real_value(member(r, "price")) == out[i].price);
		assert_true(json_real_value(member(r, "std_error")) == out[i].std_error);
		assert_int_equal(integer(r, "paths"), 64);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *err = member(v[N + i], "error");

		assert_string_equal(json_string_value(member(err, "message")), bad[i][1]);
	}
	free_lines(v, n);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(order_kept_over_thousands_of_lines, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(malformed_lines_answered_in_place, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(sighup_mid_stream, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(plugin_reload_over_sighup, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(sigterm_mid_stream, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(fifo_fed_slowly, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(check_command, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(usage, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(stats_flag, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(line_length_limit_is_exact, setup_world, teardown_world),
    cmocka_unit_test_setup_teardown(non_finite_results_are_errors, setup_world, teardown_world),
    cmocka_unit_test_setup_teardown(ids_echoed_as_written, setup_world, teardown_world),
    cmocka_unit_test_setup_teardown(sigterm_answers_every_line_read, setup_world, teardown_world),
    cmocka_unit_test_setup_teardown(kernel_error_messages, setup_world, teardown_world),
    cmocka_unit_test(id_span_on_broken_text),
    cmocka_unit_test_setup_teardown(results_read_back_exactly, setup_world, teardown_world),
	};

	/* A child that exits early must not kill the test with SIGPIPE while it is fed. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
