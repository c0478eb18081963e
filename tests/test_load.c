/*
 * Loading: files and strings, the error reported for every kind of bad document, the pool
 * schema, nesting limits and a large document.
 *
 * Bad documents are data, one folder per case under tests/invalid/ (as in jansson's
 * test/suites/invalid/):
 *
 *   input   the exact bytes of the document
 *   error   four lines:
 *             1. the error name, as cfgpool_err_name() gives it ("ESCHEMA")
 *             2. LINE:COLUMN as jansson counts them; either half, or the whole line, may
 *                be "-" when it is not checked
 *             3. the JSON path of the offending value, or "-" when not checked
 *             4. a substring err.text must contain, or "-" when not checked
 *
 * main() turns every folder into its own cmocka test, so each case is its own TAP line and
 * adding a case needs no code. Documents that are easier to generate than to store (deep
 * nesting, 50 MB) are built by the tests below.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"

/* --- data-driven cases ------------------------------------------------------------------- */

/*
 * The `pool` section means something only to the pool: its schema is the pool's
 * preparer's (cfgpool_kernel_prep()). The schema tests load through it, bound to the
 * built-in spin kernel, which needs no `kernel` section.
 */
static const cfgpool_load_opts_t *pool_opts(const char *source)
{
	static cfgpool_prep_t prep;
	static cfgpool_load_opts_t opts;

	cfgpool_kernel_prep(cfgpool_kernel_find("spin"), &prep);
	opts = (cfgpool_load_opts_t){.preps = &prep, .nprep = 1, .source = source};
	return &opts;
}

static int load_pool(const char *json, cfgpool_config_t **out, cfgpool_error_t *err)
{
	return load_str_opts(json, pool_opts(NULL), out, err);
}

static cfgpool_config_t *load_pool_ok(const char *json)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char buf[1024];
	int rc = load_pool(json, &cfg, &err);

	if (rc != 0)
		print_error("load failed: %s (%s)\n", cfgpool_error_format(&err, buf, sizeof(buf)), cfgpool_err_name(rc));
	assert_int_equal(rc, 0);
	return cfg;
}

struct invalid_case {
	char name[256];
	char test_name[272];
	char dir[PATH_MAX + 272];
};

struct expected_error {
	char name[64];
	char linecol[64];
	char path[CFGPOOL_ERROR_PATH_LEN];
	char text[CFGPOOL_ERROR_TEXT_LEN];
};

static size_t ncases;

/* Reads the four lines of an `error` file; a malformed one fails the case, not silently. */
static void read_expected(const char *file, struct expected_error *want)
{
	char *fields[4] = {want->name, want->linecol, want->path, want->text};
	const size_t sizes[4] = {sizeof(want->name), sizeof(want->linecol), sizeof(want->path), sizeof(want->text)};
	FILE *f = fopen(file, "r");

	if (!f)
		print_error("cannot open %s: %s\n", file, strerror(errno));
	assert_non_null(f);
	for (int i = 0; i < 4; i++) {
		size_t len;

		if (!fgets(fields[i], (int)sizes[i], f)) {
			print_error("%s: line %d is missing\n", file, i + 1);
			fclose(f);
			fail();
		}
		len = strlen(fields[i]);
		if (len > 0 && fields[i][len - 1] == '\n')
			fields[i][len - 1] = '\0';
	}
	fclose(f);
}

/* Reads a whole file into a buffer of exactly its size (no NUL), so overreads show. */
static char *read_whole_file(const char *file, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *f = fopen(file, "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	*len = (size_t)st.st_size;
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	if (*len)
		assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void check_linecol(const char *spec, const cfgpool_error_t *err)
{
	char line[32], col[32];

	if (strcmp(spec, "-") == 0)
		return;
	if (sscanf(spec, "%31[^:]:%31s", line, col) != 2) {
		print_error("bad LINE:COLUMN \"%s\"\n", spec);
		fail();
	}
	if (strcmp(line, "-") != 0)
		assert_int_equal(err->line, atoi(line));
	if (strcmp(col, "-") != 0)
		assert_int_equal(err->column, atoi(col));
}

static void run_invalid_case(void **state)
{
	const struct invalid_case *c = *state;
	struct expected_error want;
	char input[sizeof(c->dir) + 8], errfile[sizeof(c->dir) + 8], buf[1024];
	cfgpool_config_t *sentinel = (cfgpool_config_t *)&want;
	cfgpool_config_t *cfg = sentinel;
	cfgpool_load_opts_t opts = {0};
	cfgpool_error_t err, serr;
	char *text;
	size_t len;
	int rc, src;

	snprintf(input, sizeof(input), "%s/input", c->dir);
	snprintf(errfile, sizeof(errfile), "%s/error", c->dir);
	read_expected(errfile, &want);

	cfgpool_error_init(&err);
	rc = cfgpool_config_load_file(input, pool_opts(NULL), &cfg, &err);
	print_message("# %s: %s -> %s\n", c->name, cfgpool_err_name(rc), cfgpool_error_format(&err, buf, sizeof(buf)));
	assert_string_equal(cfgpool_err_name(rc), want.name);
	assert_int_equal(err.code, rc);
	assert_ptr_equal(cfg, sentinel);
	check_linecol(want.linecol, &err);
	if (strcmp(want.path, "-") != 0)
		assert_string_equal(err.path, want.path);
	if (strcmp(want.text, "-") != 0)
		assert_contains(err.text, want.text);
	/* The source is the path as given, cut to fit the field. */
	assert_int_equal(strncmp(err.source, input, CFGPOOL_ERROR_SOURCE_LEN - 1), 0);

	/* The same bytes loaded from memory must fail in exactly the same way. */
	text = read_whole_file(input, &len);
	opts = *pool_opts(input);
	cfgpool_error_init(&serr);
	src = cfgpool_config_load_string(text, len, &opts, &cfg, &serr);
	free(text);
	assert_int_equal(src, rc);
	assert_ptr_equal(cfg, sentinel);
	assert_int_equal(serr.code, err.code);
	assert_int_equal(serr.line, err.line);
	assert_int_equal(serr.column, err.column);
	assert_string_equal(serr.path, err.path);
	assert_string_equal(serr.text, err.text);
	assert_string_equal(serr.source, err.source);
}

static int compare_cases(const void *a, const void *b)
{
	return strcmp(((const struct invalid_case *)a)->name, ((const struct invalid_case *)b)->name);
}

/* Lists the case folders, sorted so the TAP output is stable from run to run. */
static struct invalid_case *collect_cases(size_t *n)
{
	char dir[PATH_MAX + 16];
	struct invalid_case *cases = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d;

	*n = 0;
	snprintf(dir, sizeof(dir), "%s/invalid", test_data_dir());
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "# cannot open %s: %s\n", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		struct invalid_case *c;
		struct stat st;
		char sub[PATH_MAX + 272];

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			cases = realloc(cases, cap * sizeof(*cases));
			if (!cases)
				abort();
		}
		c = &cases[(*n)++];
		snprintf(c->name, sizeof(c->name), "%s", de->d_name);
		snprintf(c->test_name, sizeof(c->test_name), "invalid/%s", de->d_name);
		snprintf(c->dir, sizeof(c->dir), "%s", sub);
	}
	closedir(d);
	if (*n)
		qsort(cases, *n, sizeof(*cases), compare_cases);
	return cases;
}

/* An empty or missing data directory would otherwise pass by testing nothing. */
static void invalid_case_folders_are_present(void **state)
{
	print_message("# %zu cases under %s/invalid\n", ncases, test_data_dir());
	assert_true(ncases >= 39);
}

/* --- files ------------------------------------------------------------------------------- */

static void missing_file_is_enoent_naming_the_file(void **state)
{
	char path[PATH_MAX];
	cfgpool_config_t *sentinel = (cfgpool_config_t *)path;
	cfgpool_config_t *cfg = sentinel;
	cfgpool_error_t err;

	test_data_path(path, sizeof(path), "invalid/no-such-file.json");
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_file(path, NULL, &cfg, &err), -ENOENT);
	assert_ptr_equal(cfg, sentinel);
	assert_int_equal(err.code, -ENOENT);
	assert_int_equal(strncmp(err.source, path, CFGPOOL_ERROR_SOURCE_LEN - 1), 0);
	assert_contains(err.text, "no-such-file.json");
}

static void directory_is_eisdir(void **state)
{
	char path[PATH_MAX];
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	test_data_path(path, sizeof(path), "invalid");
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_file(path, NULL, &cfg, &err), -EISDIR);
	assert_null(cfg);
	assert_int_equal(err.code, -EISDIR);
	assert_int_equal(strncmp(err.source, path, CFGPOOL_ERROR_SOURCE_LEN - 1), 0);
}

static void path_through_a_regular_file_is_enotdir(void **state)
{
	char file[PATH_MAX], path[PATH_MAX + 8];
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	int rc;

	write_temp_file("{}", 2, file, sizeof(file));
	snprintf(path, sizeof(path), "%s/x.json", file);
	cfgpool_error_init(&err);
	rc = cfgpool_config_load_file(path, NULL, &cfg, &err);
	unlink(file);
	assert_int_equal(rc, -ENOTDIR);
	assert_int_equal(err.code, -ENOTDIR);
	assert_null(cfg);
}

/* A temporary directory under $TMPDIR (or /tmp); its path goes to `dir`. */
static void make_temp_dir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(dir, size, "%s/cfgpool-dir-XXXXXX", tmp && *tmp ? tmp : "/tmp");

	assert_true(n > 0 && (size_t)n < size);
	assert_non_null(mkdtemp(dir));
}

/*
 * A symlink loop is a file error: its message is the system's, not the map's "nesting too
 * deep", which is about documents.
 */
static void symlink_loop_is_eloop_with_the_system_message(void **state)
{
	char dir[PATH_MAX], a[PATH_MAX + 8], b[PATH_MAX + 8], buf[1024];
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	int rc;

	make_temp_dir(dir, sizeof(dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	assert_int_equal(symlink(b, a), 0);
	assert_int_equal(symlink(a, b), 0);
	cfgpool_error_init(&err);
	rc = cfgpool_config_load_file(a, NULL, &cfg, &err);
	unlink(a);
	unlink(b);
	rmdir(dir);
	print_message("# %s\n", cfgpool_error_format(&err, buf, sizeof(buf)));
	assert_int_equal(rc, -ELOOP);
	assert_int_equal(err.code, -ELOOP);
	assert_null(cfg);
	assert_contains(err.text, strerror(ELOOP));
	assert_null(strstr(err.text, cfgpool_strerror(-ELOOP)));
	assert_null(strstr(cfgpool_error_format(&err, buf, sizeof(buf)), cfgpool_strerror(-ELOOP)));
}

/*
 * Root reads anything, so a root run drops its filesystem uid for the one open(): on Linux
 * setfsuid() is per thread and clears CAP_DAC_OVERRIDE while the fsuid is not 0.
 */
static void unreadable_file_is_eacces(void **state)
{
	char file[PATH_MAX];
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	bool root = geteuid() == 0;
	int rc;

	write_temp_file("{}", 2, file, sizeof(file));
	assert_int_equal(chmod(file, 0), 0);
	if (root)
		setfsuid(65534);
	cfgpool_error_init(&err);
	rc = cfgpool_config_load_file(file, NULL, &cfg, &err);
	if (root)
		setfsuid(0);
	unlink(file);
	assert_int_equal(rc, -EACCES);
	assert_int_equal(err.code, -EACCES);
	assert_null(cfg);
}

static void file_load_reads_the_document(void **state)
{
	static const char doc[] = "{\"pool\": {\"workers\": 4, \"pin\": true}, \"kernel\": {\"gain\": 2.5}}\n";
	char file[PATH_MAX];
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	int64_t workers = 0;
	double gain = 0;
	int rc;

	write_temp_file(doc, strlen(doc), file, sizeof(file));
	cfgpool_error_init(&err);
	rc = cfgpool_config_load_file(file, NULL, &cfg, &err);
	unlink(file);
	assert_int_equal(rc, 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(cfgpool_config_source_size(cfg), strlen(doc));
	assert_int_equal(cfgpool_get_int(cfgpool_config_root(cfg), "pool.workers", &workers), 0);
	assert_int_equal(workers, 4);
	assert_int_equal(cfgpool_get_double(cfgpool_config_root(cfg), "kernel.gain", &gain), 0);
	assert_true(gain == 2.5);
	cfgpool_config_free(cfg);
}

/* --- strings ----------------------------------------------------------------------------- */

static void string_error_source_defaults_to_string_marker(void **state)
{
	cfgpool_load_opts_t opts = {0};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str("{\"a\": }", &cfg, &err), CFGPOOL_ESYNTAX);
	assert_string_equal(err.source, "<string>");
	/* Options without a source name behave the same. */
	assert_int_equal(load_str_opts("{\"a\": }", &opts, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_string_equal(err.source, "<string>");
	assert_null(cfg);
}

static void string_error_source_is_the_given_name(void **state)
{
	cfgpool_load_opts_t opts = {.source = "inline-config"};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str_opts("{\"a\": }", &opts, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_string_equal(err.source, "inline-config");
	assert_int_equal(load_str_opts("{\"pool\": {\"pin\": 0}}", pool_opts("inline-config"), &cfg, &err),
			 CFGPOOL_ESCHEMA);
	assert_string_equal(err.source, "inline-config");
	assert_string_equal(err.path, "pool.pin");
	assert_null(cfg);
}

/* The text is exactly `len` bytes in a buffer of that size: no NUL may be read after it. */
static void string_of_given_length_need_not_be_nul_terminated(void **state)
{
	static const char doc[] = "{\"pool\": {\"workers\": 8}, \"name\": \"exact\"}";
	size_t len = sizeof(doc) - 1;
	char *text = malloc(len);
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	int64_t workers = 0;
	const char *name = NULL;

	assert_non_null(text);
	memcpy(text, doc, len);
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_string(text, len, NULL, &cfg, &err), 0);
	/* The configuration owns its data: the text may go away at once. */
	memset(text, 'x', len);
	free(text);
	assert_int_equal(cfgpool_config_source_size(cfg), len);
	assert_int_equal(cfgpool_get_int(cfgpool_config_root(cfg), "pool.workers", &workers), 0);
	assert_int_equal(workers, 8);
	assert_int_equal(cfgpool_get_string(cfgpool_config_root(cfg), "name", &name, NULL), 0);
	assert_string_equal(name, "exact");
	cfgpool_config_free(cfg);
}

static void string_bytes_after_len_are_ignored(void **state)
{
	static const char text[] = "{\"a\": 1}, this is not JSON";
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	int64_t a = 0;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_string(text, 8, NULL, &cfg, &err), 0);
	assert_int_equal(cfgpool_get_int(cfgpool_config_root(cfg), "a", &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(cfgpool_config_source_size(cfg), 8);
	cfgpool_config_free(cfg);
}

static void string_of_zero_length_is_esyntax(void **state)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_string("{}", 0, NULL, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_int_equal(err.line, 1);
	assert_null(cfg);
}

/* A raw NUL byte inside `len` is part of the text, and not JSON: it must not end it early. */
static void raw_nul_byte_inside_len_is_esyntax(void **state)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_string("{\"a\": 1}\0{", 10, NULL, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_null(cfg);
}

/*
 * jansson's reader skips a raw NUL byte between tokens (it takes it for the end of its
 * buffer), so before the pre-scan refused it these documents loaded as if it were absent.
 */
static void raw_nul_byte_between_tokens_is_esyntax_where_it_is(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		int column;
	} cases[] = {
		{"{\"a\": 1\0}", 9, 8},
		{"{\"a\"\0: 1}", 9, 5},
		{"{\"a\": [1,\0 2]}", 14, 10},
		{"\0{\"a\": 1}", 9, 1},
	};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfgpool_error_init(&err);
		assert_int_equal(cfgpool_config_load_string(cases[i].text, cases[i].len, NULL, &cfg, &err),
				 CFGPOOL_ESYNTAX);
		assert_null(cfg);
		assert_int_equal(err.line, 1);
		assert_int_equal(err.column, cases[i].column);
		assert_non_null(strstr(err.text, "NUL byte outside a string"));
	}
	/* Inside a string it is jansson's own error, and the escape \u0000 still loads. */
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_string("{\"a\": \"x\0y\"}", 12, NULL, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_non_null(strstr(err.text, "control character"));
	assert_int_equal(cfgpool_config_load_string("{\"a\": \"x\\u0000y\"}", 17, NULL, &cfg, NULL), 0);
	cfgpool_config_free(cfg);
}

static void null_err_is_allowed_on_failure_and_success(void **state)
{
	static const char bad_pin[] = "{\"pool\": {\"pin\": 1}}";
	cfgpool_config_t *cfg = NULL;

	assert_int_equal(cfgpool_config_load_string("{", 1, NULL, &cfg, NULL), CFGPOOL_ESYNTAX);
	assert_int_equal(cfgpool_config_load_string(bad_pin, strlen(bad_pin), pool_opts(NULL), &cfg, NULL),
			 CFGPOOL_ESCHEMA);
	assert_null(cfg);
	assert_int_equal(cfgpool_config_load_string("{}", 2, NULL, &cfg, NULL), 0);
	assert_non_null(cfg);
	cfgpool_config_free(cfg);
}

/* --- error details ----------------------------------------------------------------------- */

static void successful_load_leaves_err_clear(void **state)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str("{\"pool\": {\"workers\": 2}}", &cfg, &err), 0);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.path, "");
	assert_string_equal(err.text, "");
	cfgpool_config_free(cfg);
}

/* jansson counts the position as the bytes read up to the end of the offending token. */
static void syntax_error_reports_byte_position(void **state)
{
	static const char doc[] = "{\n  \"pool\": {\n    \"workers\": 4 \"pin\": true\n  }\n}\n";
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str(doc, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 22);
	assert_int_equal(err.position, 36);
	assert_string_equal(err.path, "");
}

/* The parsed tree carries no positions, so a schema error has none to report. */
static void schema_error_has_no_line_column_or_position(void **state)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_pool("{\"pool\": {\"workers\": 0}}", &cfg, &err), CFGPOOL_ESCHEMA);
	assert_int_equal(err.line, 0);
	assert_int_equal(err.column, 0);
	assert_int_equal(err.position, -1);
}

static void schema_message_for_0_is_exact(void **state)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_pool("{\"pool\": {\"workers\": 0}}", &cfg, &err), CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "pool.workers");
	assert_string_equal(err.text, "expected an integer from 1 to 1024, got 0");
}

static void schema_message_for_a_string_is_exact(void **state)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_pool("{\"pool\": {\"workers\": \"eight\"}}", &cfg, &err), CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "pool.workers");
	assert_string_equal(err.text, "expected an integer from 1 to 1024, got \"eight\"");
}

/* --- the pool schema: what it accepts ---------------------------------------------------- */

static void pool_values_at_every_lower_limit_load(void **state)
{
	cfgpool_config_t *cfg = load_pool_ok("{\"pool\": {\"workers\": 1, \"cpus\": [0], \"pin\": false, "
					"\"queue_capacity\": 1, \"idle_spin_us\": 0, \"periodic_spin_us\": 0}}");
	const cfgpool_node_t *r = cfgpool_config_root(cfg);
	int64_t v = -1;
	bool pin = true;

	assert_int_equal(cfgpool_get_int(r, "pool.workers", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cfgpool_get_int(r, "pool.cpus[0]", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cfgpool_get_bool(r, "pool.pin", &pin), 0);
	assert_false(pin);
	assert_int_equal(cfgpool_get_int(r, "pool.queue_capacity", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cfgpool_get_int(r, "pool.idle_spin_us", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cfgpool_get_int(r, "pool.periodic_spin_us", &v), 0);
	assert_int_equal(v, 0);
	cfgpool_config_free(cfg);
}

static void pool_values_at_every_upper_limit_load(void **state)
{
	cfgpool_config_t *cfg = load_pool_ok("{\"pool\": {\"workers\": 1024, \"pin\": true, "
					     "\"queue_capacity\": 16777216, \"idle_spin_us\": 1000000, "
					     "\"periodic_spin_us\": 100000}}");
	const cfgpool_node_t *r = cfgpool_config_root(cfg);
	int64_t v = -1;

	assert_int_equal(cfgpool_get_int(r, "pool.workers", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(cfgpool_get_int(r, "pool.queue_capacity", &v), 0);
	assert_int_equal(v, 16777216);
	assert_int_equal(cfgpool_get_int(r, "pool.idle_spin_us", &v), 0);
	assert_int_equal(v, 1000000);
	assert_int_equal(cfgpool_get_int(r, "pool.periodic_spin_us", &v), 0);
	assert_int_equal(v, 100000);
	cfgpool_config_free(cfg);
}

/*
 * pool.cpus up to CFGPOOL__MAX_CPUS - 1 pass the schema, and the pool's preparer then
 * checks each against the loading thread's affinity mask, naming the first one outside
 * it: what the pool would refuse to open with is refused by the load.
 */
static void pool_cpus_outside_the_mask_are_refused_by_the_load(void **state)
{
	static const char doc[] = "{\"pool\": {\"cpus\": [0, 1023]}}";
	cpu_set_t mask;
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(sched_getaffinity(0, sizeof(mask), &mask), 0);
	if (CPU_ISSET(1023, &mask) || !CPU_ISSET(0, &mask))
		skip();
	assert_int_equal(load_str_opts(doc, pool_opts("pool.json"), &cfg, &err), -EINVAL);
	assert_null(cfg);
	assert_string_equal(err.path, "pool.cpus[1]");
	assert_string_equal(err.source, "pool.json");
	assert_contains(err.text, "CPU 1023 is not in this process's affinity mask");
}

/*
 * The configuration layer gives `pool` and `kernel` no meaning: an application whose own
 * document has keys of those names, of any shape, loads it, and a holder used without a
 * pool publishes it.
 */
static void application_pool_and_kernel_keys_load_without_the_pool(void **state)
{
	static const char doc[] = "{\"pool\": \"db-primary\", \"kernel\": [\"linux\", 6],"
				  " \"x\": {\"pool\": {\"workers\": 0}}}";
	cfgpool_config_t *cfg = load_ok(doc);
	cfgpool_holder_t *h = NULL;
	const char *s = NULL;
	uint64_t v = 0;

	assert_int_equal(cfgpool_get_string(cfgpool_config_root(cfg), "pool", &s, NULL), 0);
	assert_string_equal(s, "db-primary");
	cfgpool_config_free(cfg);
	assert_int_equal(cfgpool_holder_create(NULL, &h), 0);
	assert_int_equal(cfgpool_holder_reload_string(h, doc, strlen(doc), 0, &v, NULL), 0);
	assert_int_equal(v, 1);
	cfgpool_holder_destroy(h);
}

static void document_without_pool_loads(void **state)
{
	cfgpool_config_t *cfg = load_ok("{\"kernel\": {\"name\": \"saxpy\"}}");
	const cfgpool_node_t *n = NULL;

	assert_int_equal(cfgpool_lookup(cfgpool_config_root(cfg), "pool", &n), -ENOENT);
	cfgpool_config_free(cfg);
}

/* Only the top-level `pool` is checked; look-alikes elsewhere are user data. */
static void values_outside_pool_are_never_checked(void **state)
{
	cfgpool_config_t *cfg = load_ok("{\"other\": {\"workers\": \"eight\", \"pin\": 1},"
					" \"kernel\": {\"workers\": 0, \"cpus\": [1, 1], \"bogus\": true},"
					" \"x\": {\"pool\": {\"workers\": 0, \"bogus\": 1}},"
					" \"pools\": 3, \"Pool\": [], \"list\": [{\"pool\": 5}]}");
	const char *s = NULL;
	int64_t v = -1;

	assert_int_equal(cfgpool_get_string(cfgpool_config_root(cfg), "other.workers", &s, NULL), 0);
	assert_string_equal(s, "eight");
	assert_int_equal(cfgpool_get_int(cfgpool_config_root(cfg), "x.pool.workers", &v), 0);
	assert_int_equal(v, 0);
	cfgpool_config_free(cfg);
}

/* --- nesting ----------------------------------------------------------------------------- */

/* {"a": {"a": ... 1 ...}} with `depth` objects in all, the root included. */
static char *nested_objects(int depth)
{
	size_t cap = (size_t)depth * 8 + 16;
	char *text = malloc(cap);
	size_t len = 0;

	assert_non_null(text);
	text[len++] = '{';
	for (int i = 1; i < depth; i++) {
		memcpy(text + len, "\"a\": {", 6);
		len += 6;
	}
	memcpy(text + len, "\"a\": 1", 6);
	len += 6;
	for (int i = 0; i < depth; i++)
		text[len++] = '}';
	text[len] = '\0';
	assert_true(len < cap);
	return text;
}

/* {"d": [[...[1]...]]} with `arrays` arrays below the root object. */
static char *nested_arrays(int arrays)
{
	size_t cap = (size_t)arrays * 2 + 16;
	char *text = malloc(cap);
	size_t len = 0;

	assert_non_null(text);
	memcpy(text, "{\"d\": ", 6);
	len = 6;
	for (int i = 0; i < arrays; i++)
		text[len++] = '[';
	text[len++] = '1';
	for (int i = 0; i < arrays; i++)
		text[len++] = ']';
	text[len++] = '}';
	text[len] = '\0';
	assert_true(len < cap);
	return text;
}

static void nesting_64_deep_loads(void **state)
{
	char *text = nested_objects(CFGPOOL_MAX_DEPTH);
	cfgpool_config_t *cfg = load_ok(text);
	char path[CFGPOOL_MAX_DEPTH * 2 + 1] = "a";
	int64_t v = 0;

	for (int i = 1; i < CFGPOOL_MAX_DEPTH; i++)
		strcat(path, ".a");
	assert_int_equal(cfgpool_get_int(cfgpool_config_root(cfg), path, &v), 0);
	assert_int_equal(v, 1);
	cfgpool_config_free(cfg);
	free(text);

	text = nested_arrays(CFGPOOL_MAX_DEPTH - 1);
	cfg = load_ok(text);
	cfgpool_config_free(cfg);
	free(text);
}

static void nesting_65_deep_objects_is_eloop_with_the_path(void **state)
{
	char *text = nested_objects(CFGPOOL_MAX_DEPTH + 1);
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	/* The 65th object is the value at a.a...a, 64 steps down from the root. */
	char path[CFGPOOL_MAX_DEPTH * 2 + 1] = "a";

	for (int i = 1; i < CFGPOOL_MAX_DEPTH; i++)
		strcat(path, ".a");
	assert_int_equal(load_str(text, &cfg, &err), -ELOOP);
	free(text);
	assert_null(cfg);
	assert_int_equal(err.code, -ELOOP);
	assert_string_equal(err.path, path);
}

static void nesting_65_deep_arrays_is_eloop_with_the_path(void **state)
{
	char *text = nested_arrays(CFGPOOL_MAX_DEPTH);
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char path[CFGPOOL_MAX_DEPTH * 3 + 4] = "d";

	/* The root is level 1 and "d" level 2, so the 64th array, at level 65, is 63 steps below d. */
	for (int i = 1; i < CFGPOOL_MAX_DEPTH; i++)
		strcat(path, "[0]");
	assert_int_equal(load_str(text, &cfg, &err), -ELOOP);
	free(text);
	assert_null(cfg);
	assert_string_equal(err.path, path);
}

/* Past jansson's own limit (2048) the answer must still be -ELOOP, not a syntax error. */
static void nesting_far_beyond_the_limit_is_eloop(void **state)
{
	char *text = nested_arrays(5000);
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str(text, &cfg, &err), -ELOOP);
	free(text);
	assert_null(cfg);
	assert_int_equal(err.code, -ELOOP);
}

/*
 * The depth limit must hold on a thread with a small stack, where a recursive parser would
 * overflow it long before 2048 levels. Each level carries a string full of brackets, escaped
 * quotes and escaped backslashes that must not count as nesting.
 */
#define SMALL_STACK (64 * 1024)
#define NOISE "\"[{\\\"]}\\\\\"" /* the JSON string "[{\"]}\\" */

struct deep_load {
	int depth;      /* objects and arrays in all, the root object included */
	bool arrays;    /* {"d": [NOISE, [NOISE, ...]]} rather than {"k": NOISE, "a": {...}} */
	char *text;
	int rc;
	cfgpool_error_t err;
	cfgpool_config_t *cfg;
};

static char *nested_noisy(int depth, bool arrays)
{
	static const char obj_open[] = "{\"k\": " NOISE ", \"a\": ", arr_open[] = "[" NOISE ", ";
	size_t step = arrays ? sizeof(arr_open) - 1 : sizeof(obj_open) - 1;
	size_t cap = (size_t)depth * (step + 1) + 32, len = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	if (arrays) {
		memcpy(text, "{\"d\": ", 6);
		len = 6;
	}
	for (int i = arrays ? 1 : 0; i < depth; i++) {
		const char *open = arrays ? arr_open : obj_open;

		/* The innermost object holds only a number, so "a" is the deepest key. */
		if (!arrays && i == depth - 1)
			open = "{\"a\": ";
		memcpy(text + len, open, strlen(open));
		len += strlen(open);
	}
	text[len++] = '1';
	for (int i = 0; i < depth; i++)
		text[len++] = arrays && i < depth - 1 ? ']' : '}';
	text[len] = '\0';
	assert_true(len < cap);
	return text;
}

static void *deep_load_thread(void *arg)
{
	struct deep_load *d = arg;

	d->rc = load_str(d->text, &d->cfg, &d->err);
	return NULL;
}

static void load_on_a_small_stack(struct deep_load *d)
{
	pthread_attr_t attr;
	pthread_t t;

	d->text = nested_noisy(d->depth, d->arrays);
	d->cfg = NULL;
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
	assert_int_equal(pthread_create(&t, &attr, deep_load_thread, d), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_attr_destroy(&attr);
}

static void deep_nesting_is_eloop_on_a_64_kib_stack(void **state)
{
	static const int depths[] = {CFGPOOL_MAX_DEPTH + 1, 3000, 100000};
	char want[CFGPOOL_MAX_DEPTH * 4 + 4];

	for (int kind = 0; kind < 2; kind++) {
		for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
			struct deep_load d = {.depth = depths[i], .arrays = kind == 1};
			char buf[1024];

			load_on_a_small_stack(&d);
			print_message("# %d deep %s: %s\n", d.depth, d.arrays ? "arrays" : "objects",
				      cfgpool_error_format(&d.err, buf, sizeof(buf)));
			assert_int_equal(d.rc, -ELOOP);
			assert_null(d.cfg);
			assert_int_equal(d.err.code, -ELOOP);
			assert_contains(d.err.text, "deeper than the limit of 64");
			/* The first container past the limit: 64 steps below the root. */
			strcpy(want, d.arrays ? "d" : "a");
			for (int s = 1; s < CFGPOOL_MAX_DEPTH; s++)
				strcat(want, d.arrays ? "[1]" : ".a");
			assert_string_equal(d.err.path, want);
			/* jansson's conventions: the column of the bracket, the bytes read up to it. */
			assert_int_equal(d.err.line, 1);
			assert_int_equal(d.err.column, d.err.position);
			assert_true(d.err.position > 0 && (size_t)d.err.position < strlen(d.text));
			assert_int_equal(d.text[d.err.position - 1], d.arrays ? '[' : '{');
			free(d.text);
		}
	}
}

static void nesting_64_deep_loads_on_a_64_kib_stack(void **state)
{
	for (int kind = 0; kind < 2; kind++) {
		struct deep_load d = {.depth = CFGPOOL_MAX_DEPTH, .arrays = kind == 1};
		const char *s = NULL;

		load_on_a_small_stack(&d);
		assert_int_equal(d.rc, 0);
		/* The noise string came through intact, so it was parsed as a string. */
		assert_int_equal(cfgpool_get_string(cfgpool_config_root(d.cfg), d.arrays ? "d[0]" : "k", &s, NULL), 0);
		assert_string_equal(s, "[{\"]}\\");
		cfgpool_config_free(d.cfg);
		free(d.text);
	}
}

/* A syntax error before the first level too deep comes first, so it is the one reported. */
static void syntax_error_before_deep_nesting_is_esyntax(void **state)
{
	char *deep = nested_arrays(3000);
	size_t len = strlen(deep);
	char *text = malloc(len + 16);
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_non_null(text);
	/* {"x": tru, "d": [[[...]]]}: the bad token sits on line 2, before the deep arrays. */
	memcpy(text, "{\"x\":\n tru, ", 13);
	memcpy(text + 13, deep + 1, len);
	assert_int_equal(load_str(text, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_null(cfg);
	assert_int_equal(err.line, 2);
	assert_contains(err.text, "invalid token");
	free(text);
	free(deep);
}

/* --- the size limit ---------------------------------------------------------------------- */

#define SMALL_LIMIT 4096

/* `{"pad": "xxx...x"}` of exactly `len` bytes (len >= 12). */
static char *doc_of_size(size_t len)
{
	char *text = malloc(len + 1);

	assert_non_null(text);
	assert_true(len >= 12);
	memcpy(text, "{\"pad\": \"", 9);
	memset(text + 9, 'x', len - 11);
	memcpy(text + len - 2, "\"}", 3);
	return text;
}

/* -E2BIG, with a message that names the limit and the source. */
static void assert_e2big(int rc, const cfgpool_error_t *err, size_t limit, const char *source)
{
	char lim[32];

	assert_int_equal(rc, -E2BIG);
	assert_int_equal(err->code, -E2BIG);
	snprintf(lim, sizeof(lim), "limit of %zu bytes", limit);
	assert_contains(err->text, lim);
	assert_contains(err->text, source);
	assert_string_equal(err->source, source);
}

static void string_at_the_size_limit_loads_and_one_more_byte_is_e2big(void **state)
{
	cfgpool_load_opts_t opts = {.source = "big.json", .max_size = SMALL_LIMIT};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char *text = doc_of_size(SMALL_LIMIT);

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_string(text, SMALL_LIMIT, &opts, &cfg, &err), 0);
	assert_int_equal(cfgpool_config_source_size(cfg), SMALL_LIMIT);
	cfgpool_config_free(cfg);
	free(text);

	cfg = NULL;
	text = doc_of_size(SMALL_LIMIT + 1);
	cfgpool_error_init(&err);
	assert_e2big(cfgpool_config_load_string(text, SMALL_LIMIT + 1, &opts, &cfg, &err), &err, SMALL_LIMIT,
		     "big.json");
	assert_contains(err.text, "4097 bytes");
	assert_null(cfg);
	free(text);
}

static void file_at_the_size_limit_loads_and_one_more_byte_is_e2big(void **state)
{
	cfgpool_load_opts_t opts = {.max_size = SMALL_LIMIT};
	for (size_t len = SMALL_LIMIT; len <= SMALL_LIMIT + 1; len++) {
		char *text = doc_of_size(len), file[PATH_MAX];
		cfgpool_config_t *cfg = NULL;
		cfgpool_error_t err;
		int rc;

		write_temp_file(text, len, file, sizeof(file));
		free(text);
		cfgpool_error_init(&err);
		rc = cfgpool_config_load_file(file, &opts, &cfg, &err);
		unlink(file);
		if (len == SMALL_LIMIT) {
			assert_int_equal(rc, 0);
			cfgpool_config_free(cfg);
			continue;
		}
		assert_e2big(rc, &err, SMALL_LIMIT, file);
		assert_null(cfg);
	}
}

/* Without max_size the limit is CFGPOOL_DEFAULT_MAX_SIZE, checked before a byte is read. */
static void default_size_limit_is_checked_before_reading(void **state)
{
	const size_t len = CFGPOOL_DEFAULT_MAX_SIZE + 1;
	/* Reserved, never touched: reading any of it would show as this test's memory use. */
	char *text = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_true(text != MAP_FAILED);
	assert_true(CFGPOOL_DEFAULT_MAX_SIZE == (size_t)1 << 30);
	cfgpool_error_init(&err);
	assert_e2big(cfgpool_config_load_string(text, len, NULL, &cfg, &err), &err, CFGPOOL_DEFAULT_MAX_SIZE,
		     "<string>");
	assert_null(cfg);
	munmap(text, len);
}

/* An endless source (no size to stat) is cut off just past the limit. */
static void endless_source_is_e2big(void **state)
{
	cfgpool_load_opts_t opts = {.max_size = SMALL_LIMIT};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_e2big(cfgpool_config_load_file("/dev/zero", &opts, &cfg, &err), &err, SMALL_LIMIT, "/dev/zero");
	assert_null(cfg);
}

struct pipe_writer {
	int fd;
	const char *text;
	size_t len;
};

static void *write_pipe(void *arg)
{
	struct pipe_writer *w = arg;

	/* The reader may stop early and close its end: EPIPE (SIGPIPE is ignored) ends the write. */
	for (size_t off = 0; off < w->len;) {
		ssize_t n = write(w->fd, w->text + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(w->fd);
	return NULL;
}

/* A pipe has no size to stat either: the limit is checked as it is read. */
static void pipe_at_the_size_limit_loads_and_one_more_byte_is_e2big(void **state)
{
	cfgpool_load_opts_t opts = {.max_size = SMALL_LIMIT};

	signal(SIGPIPE, SIG_IGN);
	for (size_t len = SMALL_LIMIT; len <= SMALL_LIMIT + 1; len++) {
		char *text = doc_of_size(len), path[64];
		struct pipe_writer w = {.text = text, .len = len};
		cfgpool_config_t *cfg = NULL;
		cfgpool_error_t err;
		pthread_t t;
		int fds[2], rc;

		assert_int_equal(pipe(fds), 0);
		w.fd = fds[1];
		assert_int_equal(pthread_create(&t, NULL, write_pipe, &w), 0);
		snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
		cfgpool_error_init(&err);
		rc = cfgpool_config_load_file(path, &opts, &cfg, &err);
		close(fds[0]);
		assert_int_equal(pthread_join(t, NULL), 0);
		free(text);
		if (len == SMALL_LIMIT) {
			assert_int_equal(rc, 0);
			assert_int_equal(cfgpool_config_source_size(cfg), SMALL_LIMIT);
			cfgpool_config_free(cfg);
			continue;
		}
		assert_e2big(rc, &err, SMALL_LIMIT, path);
		assert_null(cfg);
	}
}

/* --- a large document -------------------------------------------------------------------- */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One record of a realistic shape: strings, numbers, booleans, an array, nested objects. */
static int write_record(FILE *f, size_t i)
{
	return fprintf(f,
		       "%s\n  {\"id\": %zu, \"name\": \"record-%08zu\", \"score\": %zu.25, \"active\": %s, "
		       "\"tags\": [\"t%zu\", \"t%zu\", \"shared\"], "
		       "\"geo\": {\"lat\": %.4f, \"lon\": %.4f}, "
		       "\"owner\": {\"name\": \"Owner %zu\", \"email\": \"owner%zu@example.com\", "
		       "\"limits\": {\"cpu\": %zu, \"mem_mb\": %zu}}, "
		       "\"note\": \"the quick brown fox jumps over the lazy dog\"}",
		       i ? "," : "", i, i, i % 1000, i % 2 ? "false" : "true", i % 17, i % 31,
		       (double)(i % 180) - 90.0 + 0.5, (double)(i % 360) - 180.0 + 0.25, i, i, i % 64, (i % 16) * 256);
}

static void large_document_loads_and_reads_back(void **state)
{
	const size_t target = test_scaled((size_t)50 << 20, 256 << 10);
	char file[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	const cfgpool_node_t *r;
	size_t nrec = 0, text_bytes, n = 0;
	double t0, t1;
	int64_t v = -1;
	double d = 0;
	const char *s = NULL;
	char want[64];
	FILE *f;
	int fd, rc;

	snprintf(file, sizeof(file), "%s/cfgpool-big-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(file);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "{\"pool\": {\"workers\": 4}, \"records\": [");
	while ((size_t)ftell(f) < target)
		assert_true(write_record(f, nrec++) > 0);
	fprintf(f, "\n], \"meta\": {\"count\": %zu, \"generator\": \"test_load\"}}\n", nrec);
	text_bytes = (size_t)ftell(f);
	assert_int_equal(fclose(f), 0);

	t0 = now_seconds();
	cfgpool_error_init(&err);
	rc = cfgpool_config_load_file(file, NULL, &cfg, &err);
	t1 = now_seconds();
	unlink(file);
	assert_int_equal(rc, 0);

	print_message("# large document: %zu records, %zu bytes of text, cfgpool_config_size %zu (%.2fx text), "
		      "loaded in %.2f s\n",
		      nrec, text_bytes, cfgpool_config_size(cfg), (double)cfgpool_config_size(cfg) / (double)text_bytes,
		      t1 - t0);
	assert_true(text_bytes >= target);
	assert_int_equal(cfgpool_config_source_size(cfg), text_bytes);
	assert_true(cfgpool_config_size(cfg) > 0);

	r = cfgpool_config_root(cfg);
	assert_int_equal(cfgpool_get_length(r, "records", &n), 0);
	assert_int_equal(n, nrec);
	assert_int_equal(cfgpool_get_int(r, "meta.count", &v), 0);
	assert_int_equal(v, nrec);

	/* The start. */
	assert_int_equal(cfgpool_get_int(r, "records[0].id", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cfgpool_get_string(r, "records[0].name", &s, NULL), 0);
	assert_string_equal(s, "record-00000000");

	/* The middle. */
	snprintf(want, sizeof(want), "records[%zu].owner.email", nrec / 2);
	assert_int_equal(cfgpool_get_string(r, want, &s, NULL), 0);
	snprintf(want, sizeof(want), "owner%zu@example.com", nrec / 2);
	assert_string_equal(s, want);
	snprintf(want, sizeof(want), "records[%zu].geo.lat", nrec / 2);
	assert_int_equal(cfgpool_get_double(r, want, &d), 0);
	assert_float_equal(d, (double)((nrec / 2) % 180) - 90.0 + 0.5, 1e-9);
	snprintf(want, sizeof(want), "records[%zu].owner.limits.cpu", nrec / 2);
	assert_int_equal(cfgpool_get_int(r, want, &v), 0);
	assert_int_equal(v, (nrec / 2) % 64);

	/* The end. */
	snprintf(want, sizeof(want), "records[%zu].id", nrec - 1);
	assert_int_equal(cfgpool_get_int(r, want, &v), 0);
	assert_int_equal(v, nrec - 1);
	snprintf(want, sizeof(want), "records[%zu].tags[1]", nrec - 1);
	assert_int_equal(cfgpool_get_string(r, want, &s, NULL), 0);
	snprintf(want, sizeof(want), "t%zu", (nrec - 1) % 31);
	assert_string_equal(s, want);
	snprintf(want, sizeof(want), "records[%zu]", nrec);
	assert_int_equal(cfgpool_get_int(r, want, &v), -ENOENT);
	cfgpool_config_free(cfg);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(invalid_case_folders_are_present),
	    cmocka_unit_test(missing_file_is_enoent_naming_the_file),
	    cmocka_unit_test(directory_is_eisdir),
	    cmocka_unit_test(path_through_a_regular_file_is_enotdir),
	    cmocka_unit_test(symlink_loop_is_eloop_with_the_system_message),
	    cmocka_unit_test(unreadable_file_is_eacces),
	    cmocka_unit_test(file_load_reads_the_document),
	    cmocka_unit_test(string_error_source_defaults_to_string_marker),
	    cmocka_unit_test(string_error_source_is_the_given_name),
	    cmocka_unit_test(string_of_given_length_need_not_be_nul_terminated),
	    cmocka_unit_test(string_bytes_after_len_are_ignored),
	    cmocka_unit_test(string_of_zero_length_is_esyntax),
	    cmocka_unit_test(raw_nul_byte_inside_len_is_esyntax),
	    cmocka_unit_test(raw_nul_byte_between_tokens_is_esyntax_where_it_is),
	    cmocka_unit_test(null_err_is_allowed_on_failure_and_success),
	    cmocka_unit_test(successful_load_leaves_err_clear),
	    cmocka_unit_test(syntax_error_reports_byte_position),
	    cmocka_unit_test(schema_error_has_no_line_column_or_position),
	    cmocka_unit_test(schema_message_for_0_is_exact),
	    cmocka_unit_test(schema_message_for_a_string_is_exact),
	    cmocka_unit_test(pool_values_at_every_lower_limit_load),
	    cmocka_unit_test(pool_values_at_every_upper_limit_load),
	    cmocka_unit_test(pool_cpus_outside_the_mask_are_refused_by_the_load),
	    cmocka_unit_test(application_pool_and_kernel_keys_load_without_the_pool),
	    cmocka_unit_test(document_without_pool_loads),
	    cmocka_unit_test(values_outside_pool_are_never_checked),
	    cmocka_unit_test(nesting_64_deep_loads),
	    cmocka_unit_test(nesting_65_deep_objects_is_eloop_with_the_path),
	    cmocka_unit_test(nesting_65_deep_arrays_is_eloop_with_the_path),
	    cmocka_unit_test(nesting_far_beyond_the_limit_is_eloop),
	    cmocka_unit_test(deep_nesting_is_eloop_on_a_64_kib_stack),
	    cmocka_unit_test(nesting_64_deep_loads_on_a_64_kib_stack),
	    cmocka_unit_test(syntax_error_before_deep_nesting_is_esyntax),
	    cmocka_unit_test(string_at_the_size_limit_loads_and_one_more_byte_is_e2big),
	    cmocka_unit_test(file_at_the_size_limit_loads_and_one_more_byte_is_e2big),
	    cmocka_unit_test(default_size_limit_is_checked_before_reading),
	    cmocka_unit_test(endless_source_is_e2big),
	    cmocka_unit_test(pipe_at_the_size_limit_loads_and_one_more_byte_is_e2big),
	    cmocka_unit_test(large_document_loads_and_reads_back),
	};
	const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	struct invalid_case *cases = collect_cases(&ncases);
	struct CMUnitTest *tests = calloc(nfixed + ncases, sizeof(*tests));
	int rc;

	if (!tests)
		abort();
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < ncases; i++) {
		tests[nfixed + i].name = cases[i].test_name;
		tests[nfixed + i].test_func = run_invalid_case;
		tests[nfixed + i].initial_state = &cases[i];
	}
	/* One group, so the TAP stream has a single plan; the macro form needs a fixed array. */
	rc = _cmocka_run_group_tests("test_load", tests, nfixed + ncases, NULL, NULL);
	free(tests);
	free(cases);
	return rc;
}
