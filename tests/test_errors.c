/*
 * Error codes, their names and messages, and the cfgpool_error_t helpers.
 *
 * The tables below are generated from CFGPOOL_ERRNO_MAP itself, so a code added to the map
 * is checked without touching this file.
 */
#define _GNU_SOURCE

#include <iconv.h>
#include <pthread.h>

#include "helpers.h"

struct code_entry {
	const char *name;
	int value;
	const char *msg;
};

static const struct code_entry codes[] = {
#define CODE_ENTRY(name, value, msg) {#name, value, msg},
    CFGPOOL_ERRNO_MAP(CODE_ENTRY)
#undef CODE_ENTRY
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* --- names and messages ------------------------------------------------------------------ */

static void strerror_matches_the_map_for_every_code(void **state)
{
	for (size_t i = 0; i < NCODES; i++) {
		const char *msg = cfgpool_strerror(codes[i].value);

		assert_non_null(msg);
		assert_string_equal(msg, codes[i].msg);
	}
}

static void err_name_matches_the_map_for_every_code(void **state)
{
	for (size_t i = 0; i < NCODES; i++) {
		const char *name = cfgpool_err_name(codes[i].value);

		assert_non_null(name);
		assert_string_equal(name, codes[i].name);
	}
}

static void every_code_has_a_distinct_name_and_value(void **state)
{
	for (size_t i = 0; i < NCODES; i++) {
		for (size_t j = i + 1; j < NCODES; j++) {
			assert_int_not_equal(codes[i].value, codes[j].value);
			assert_string_not_equal(cfgpool_err_name(codes[i].value), cfgpool_err_name(codes[j].value));
		}
	}
}

static void every_code_is_negative(void **state)
{
	for (size_t i = 0; i < NCODES; i++)
		assert_true(codes[i].value < 0);
}

/*
 * The map promises that errno codes keep their system values, so a caller may compare a
 * result with -ENOENT as well as with CFGPOOL_ENOENT.
 */
static void errno_codes_equal_the_negated_system_values(void **state)
{
	assert_int_equal(CFGPOOL_EPERM, -EPERM);
	assert_int_equal(CFGPOOL_ENOENT, -ENOENT);
	assert_int_equal(CFGPOOL_EIO, -EIO);
	assert_int_equal(CFGPOOL_E2BIG, -E2BIG);
	assert_int_equal(CFGPOOL_EBADF, -EBADF);
	assert_int_equal(CFGPOOL_EAGAIN, -EAGAIN);
	assert_int_equal(CFGPOOL_ENOMEM, -ENOMEM);
	assert_int_equal(CFGPOOL_EACCES, -EACCES);
	assert_int_equal(CFGPOOL_EBUSY, -EBUSY);
	assert_int_equal(CFGPOOL_EEXIST, -EEXIST);
	assert_int_equal(CFGPOOL_ENOTDIR, -ENOTDIR);
	assert_int_equal(CFGPOOL_EISDIR, -EISDIR);
	assert_int_equal(CFGPOOL_EINVAL, -EINVAL);
	assert_int_equal(CFGPOOL_EMFILE, -EMFILE);
	assert_int_equal(CFGPOOL_ERANGE, -ERANGE);
	assert_int_equal(CFGPOOL_ENOSYS, -ENOSYS);
	assert_int_equal(CFGPOOL_ELOOP, -ELOOP);
	assert_int_equal(CFGPOOL_EOVERFLOW, -EOVERFLOW);
	assert_int_equal(CFGPOOL_ESHUTDOWN, -ESHUTDOWN);
	assert_int_equal(CFGPOOL_ETIMEDOUT, -ETIMEDOUT);
	assert_int_equal(CFGPOOL_ECANCELED, -ECANCELED);
}

/* cfgpool's own codes must never be mistaken for an errno value. */
static void own_codes_lie_outside_the_errno_range(void **state)
{
	const int own[] = {CFGPOOL_ETYPE, CFGPOOL_ESYNTAX, CFGPOOL_ESCHEMA, CFGPOOL_EPATH, CFGPOOL_EKERNEL, CFGPOOL_EFORKED};

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		assert_true(own[i] <= -4000);
}

static void zero_is_success_and_ok(void **state)
{
	assert_string_equal(cfgpool_strerror(0), "success");
	assert_string_equal(cfgpool_err_name(0), "OK");
}

static void unknown_codes_give_unknown_error_and_unknown(void **state)
{
	/* Past the errno range, both sides of the own-code block, positives and extremes. */
	const int unknown[] = {-4095, -4000, -4007, -5000, 1, 2, EDOM, 4001, INT_MIN, INT_MAX};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		const char *msg = cfgpool_strerror(unknown[i]);
		const char *name = cfgpool_err_name(unknown[i]);

		assert_non_null(msg);
		assert_non_null(name);
		assert_string_equal(msg, "unknown error");
		assert_string_equal(name, "UNKNOWN");
	}
}

/*
 * A negative errno value the map does not list still gets the system's message and name,
 * not "unknown error": gaps between mapped codes and codes past the last one.
 */
static void unmapped_errno_codes_give_the_system_message_and_name(void **state)
{
	static const struct {
		int code;
		const char *name;
	} unmapped[] = {{EDOM, "EDOM"}, {ENOTSUP, "EOPNOTSUPP"}, {ESRCH, "ESRCH"}, {EINTR, "EINTR"},
			{ENXIO, "ENXIO"}, {ENOTEMPTY, "ENOTEMPTY"}, {EHWPOISON, "EHWPOISON"}};

	for (size_t i = 0; i < sizeof(unmapped) / sizeof(unmapped[0]); i++) {
		const char *msg = cfgpool_strerror(-unmapped[i].code);

		assert_non_null(msg);
		assert_string_equal(msg, strerror(unmapped[i].code));
		assert_string_not_equal(msg, "unknown error");
		assert_string_equal(cfgpool_err_name(-unmapped[i].code), unmapped[i].name);
	}
	assert_string_equal(cfgpool_strerror(-EDOM), "Numerical argument out of domain");
}

/* The messages are static strings: the same pointer from every thread, every time. */
static void *strerror_of_edom(void *arg)
{
	(void)arg;
	return (void *)cfgpool_strerror(-EDOM);
}

static void unmapped_errno_messages_are_static(void **state)
{
	pthread_t t;
	void *other;

	assert_int_equal(pthread_create(&t, NULL, strerror_of_edom, NULL), 0);
	assert_int_equal(pthread_join(t, &other), 0);
	assert_ptr_equal(other, cfgpool_strerror(-EDOM));
}

/* --- cfgpool_error_t ---------------------------------------------------------------------- */

static void error_init_clears_every_field(void **state)
{
	cfgpool_error_t err;

	memset(&err, 0x5a, sizeof(err));
	cfgpool_error_init(&err);
	assert_int_equal(err.code, 0);
	assert_int_equal(err.line, 0);
	assert_int_equal(err.column, 0);
	assert_string_equal(err.source, "");
	assert_string_equal(err.path, "");
	assert_string_equal(err.text, "");
}

static void error_set_records_code_path_and_formatted_text(void **state)
{
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_error_set(&err, -ERANGE, "kernel.paths", "at most %d paths, got %s", 4, "five"),
			 -ERANGE);
	assert_int_equal(err.code, -ERANGE);
	assert_string_equal(err.path, "kernel.paths");
	assert_string_equal(err.text, "at most 4 paths, got five");
}

static void error_set_returns_code_when_err_is_null(void **state)
{
	assert_int_equal(cfgpool_error_set(NULL, -ERANGE, "kernel.paths", "ignored %d", 1), -ERANGE);
	assert_int_equal(cfgpool_error_set(NULL, CFGPOOL_ESCHEMA, NULL, "ignored"), CFGPOOL_ESCHEMA);
}

static void error_set_with_null_path_leaves_path_empty(void **state)
{
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_error_set(&err, -EINVAL, NULL, "no path here"), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_string_equal(err.path, "");
	assert_string_equal(err.text, "no path here");
}

static void error_set_first_error_wins(void **state)
{
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_error_set(&err, -ERANGE, "kernel.paths", "first"), -ERANGE);
	/* The second call still returns its own code: the caller propagates what it saw. */
	assert_int_equal(cfgpool_error_set(&err, CFGPOOL_ESCHEMA, "pool.workers", "second"), CFGPOOL_ESCHEMA);
	assert_int_equal(err.code, -ERANGE);
	assert_string_equal(err.path, "kernel.paths");
	assert_string_equal(err.text, "first");
}

/* The contract allows a zeroed struct instead of cfgpool_error_init(). */
static void error_set_works_on_a_zeroed_struct(void **state)
{
	cfgpool_error_t err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(cfgpool_error_set(&err, -ENOMEM, "a.b", "%s", "zeroed"), -ENOMEM);
	assert_int_equal(err.code, -ENOMEM);
	assert_string_equal(err.path, "a.b");
	assert_string_equal(err.text, "zeroed");
}

static void error_set_truncates_long_text_and_path_safely(void **state)
{
	char big[CFGPOOL_ERROR_TEXT_LEN * 3];
	cfgpool_error_t err;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_error_set(&err, -E2BIG, big, "%s", big), -E2BIG);
	assert_int_equal(strlen(err.text), CFGPOOL_ERROR_TEXT_LEN - 1);
	assert_int_equal(strlen(err.path), CFGPOOL_ERROR_PATH_LEN - 1);
	assert_int_equal(err.text[0], 'x');
	assert_int_equal(err.path[0], 'x');
}

/* --- cfgpool_error_format ----------------------------------------------------------------- */

/* Fails the test unless `s` ends with `suffix`. */
static void assert_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n < m || strcmp(s + n - m, suffix) != 0) {
		print_error("\"%s\" does not end with \"%s\"\n", s, suffix);
		fail();
	}
}

static void format_syntax_error_is_source_line_column_message(void **state)
{
	cfgpool_error_t err;
	char buf[512];

	cfgpool_error_init(&err);
	err.code = CFGPOOL_ESYNTAX;
	err.line = 3;
	err.column = 14;
	err.position = 40;
	snprintf(err.source, sizeof(err.source), "config.json");
	snprintf(err.text, sizeof(err.text), "'}' expected near '\"pin\"'");
	assert_ptr_equal(cfgpool_error_format(&err, buf, sizeof(buf)), buf);
	/* Whether the code's message sits in between is checked on a loaded error below. */
	assert_int_equal(strncmp(buf, "config.json:3:14: ", 18), 0);
	assert_ends_with(buf, ": '}' expected near '\"pin\"'");
}

static void format_schema_error_is_source_path_text(void **state)
{
	cfgpool_error_t err;
	char buf[512];

	cfgpool_error_init(&err);
	err.code = CFGPOOL_ESCHEMA;
	snprintf(err.source, sizeof(err.source), "config.json");
	snprintf(err.path, sizeof(err.path), "pool.workers");
	snprintf(err.text, sizeof(err.text), "expected an integer from 1 to 1024, got \"eight\"");
	assert_ptr_equal(cfgpool_error_format(&err, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "config.json: pool.workers: expected an integer from 1 to 1024, got \"eight\"");
}

/*
 * The same shapes, from errors the loader itself produced. The header's example line is
 * "config.json:3:14: JSON syntax error: ...": the reader learns it is a syntax error, not
 * just jansson's "'}' expected near ...". Whether "JSON syntax error: " is added by the
 * formatter or stored in err.text, it must appear once, right after the location.
 */
static void format_of_a_loaded_syntax_error_names_it_a_json_syntax_error(void **state)
{
	static const char doc[] = "{\n  \"pool\": {\n    \"workers\": 4 \"pin\": true\n  }\n}\n";
	static const char head[] = "config.json:3:22: JSON syntax error: ";
	cfgpool_load_opts_t opts = {.source = "config.json"};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char buf[512];

	assert_int_equal(load_str_opts(doc, &opts, &cfg, &err), CFGPOOL_ESYNTAX);
	assert_null(cfg);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 22);
	cfgpool_error_format(&err, buf, sizeof(buf));
	if (strncmp(buf, head, sizeof(head) - 1) != 0)
		print_error("\"%s\" does not start with \"%s\"\n", buf, head);
	assert_int_equal(strncmp(buf, head, sizeof(head) - 1), 0);
	assert_null(strstr(buf + sizeof(head) - 1, "JSON syntax error"));
	assert_contains(buf, "expected near");
}

static void format_of_a_loaded_schema_error(void **state)
{
	static const char doc[] = "{\"pool\": {\"workers\": \"eight\"}}";
	cfgpool_prep_t prep;
	cfgpool_load_opts_t opts = {.preps = &prep, .nprep = 1, .source = "config.json"};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char buf[512];

	cfgpool_kernel_prep(cfgpool_kernel_find("spin"), &prep); /* the pool's schema */
	assert_int_equal(load_str_opts(doc, &opts, &cfg, &err), CFGPOOL_ESCHEMA);
	assert_null(cfg);
	assert_string_equal(cfgpool_error_format(&err, buf, sizeof(buf)),
			    "config.json: pool.workers: expected an integer from 1 to 1024, got \"eight\"");
}

/* A nesting error has both a location and a path, and the formatted line shows both. */
static void format_of_a_loaded_nesting_error_has_location_and_path(void **state)
{
	char text[CFGPOOL_MAX_DEPTH * 2 + 32] = "{\"a\": {\"b\": [0, 0, ";
	cfgpool_load_opts_t opts = {.source = "config.json"};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	char buf[512], want[128];
	size_t n = strlen(text);

	for (int i = 3; i <= CFGPOOL_MAX_DEPTH; i++)
		text[n++] = '[';
	text[n] = '\0';
	assert_int_equal(load_str_opts(text, &opts, &cfg, &err), -ELOOP);
	assert_null(cfg);
	snprintf(want, sizeof(want), "config.json:1:%zu: %s: a.b[2]", n, cfgpool_strerror(-ELOOP));
	cfgpool_error_format(&err, buf, sizeof(buf));
	assert_contains(buf, want);
	assert_contains(buf, "[0]: objects and arrays nest deeper than the limit of 64");
}

static void format_truncates_to_size_and_terminates(void **state)
{
	cfgpool_error_t err;
	char buf[16];

	cfgpool_error_init(&err);
	err.code = CFGPOOL_ESCHEMA;
	snprintf(err.source, sizeof(err.source), "config.json");
	snprintf(err.path, sizeof(err.path), "pool.workers");
	snprintf(err.text, sizeof(err.text), "a long enough message to be cut");
	memset(buf, '#', sizeof(buf));
	assert_ptr_equal(cfgpool_error_format(&err, buf, 10), buf);
	assert_int_equal(strlen(buf), 9);
	assert_memory_equal(buf, "config.js", 9);
	/* Nothing past `size` may be written. */
	for (size_t i = 10; i < sizeof(buf); i++)
		assert_int_equal(buf[i], '#');
}

static void format_with_size_one_gives_empty_string(void **state)
{
	cfgpool_error_t err;
	char buf[4] = {'a', 'b', 'c', 'd'};

	cfgpool_error_init(&err);
	err.code = CFGPOOL_ESYNTAX;
	err.line = 1;
	err.column = 1;
	snprintf(err.source, sizeof(err.source), "x");
	assert_ptr_equal(cfgpool_error_format(&err, buf, 1), buf);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'b');
}

/* --- UTF-8 ------------------------------------------------------------------------------- */

/* True if `s` is valid UTF-8, by glibc's iconv: independent of cfgpool's own check. */
static bool valid_utf8(const char *s)
{
	iconv_t cd = iconv_open("UTF-8", "UTF-8");
	char out[4096], *in = (char *)s, *o = out;
	size_t inleft = strlen(s), outleft = sizeof(out);
	size_t rc;

	assert_true(cd != (iconv_t)-1);
	assert_true(inleft < sizeof(out));
	rc = iconv(cd, &in, &inleft, &o, &outleft);
	iconv_close(cd);
	return rc != (size_t)-1 && inleft == 0;
}

static void assert_valid_utf8(const char *s)
{
	if (!valid_utf8(s)) {
		print_error("not valid UTF-8: \"%s\"\n", s);
		fail();
	}
}

static void assert_error_is_valid_utf8(const cfgpool_error_t *err)
{
	char buf[1024];

	assert_valid_utf8(err->text);
	assert_valid_utf8(err->path);
	assert_valid_utf8(err->source);
	assert_valid_utf8(cfgpool_error_format(err, buf, sizeof(buf)));
}

/* Lone bytes, a cut sequence, an overlong form, a surrogate and a byte past U+10FFFF. */
static const char bad_bytes[] = "\xff|\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82";

static void error_set_escapes_invalid_utf8_in_text_and_path(void **state)
{
	cfgpool_error_t err;

	assert_false(valid_utf8(bad_bytes));
	cfgpool_error_init(&err);
	cfgpool_error_set(&err, -EINVAL, bad_bytes, "bad key \"%s\", valid \xc3\xa9", bad_bytes);
	assert_error_is_valid_utf8(&err);
	/* Each invalid byte is written as \xNN; valid characters are kept. */
	assert_contains(err.text, "\\xff|\\xc3|\\xc0\\xaf|\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|\\xe2\\x82");
	assert_contains(err.text, "valid \xc3\xa9");
	assert_contains(err.path, "\\xff|");
}

/* Truncation to the field never cuts a multi-byte character or an escape in two. */
static void error_set_truncates_at_character_boundaries(void **state)
{
	char big[CFGPOOL_ERROR_TEXT_LEN * 3];
	cfgpool_error_t err;

	for (int shift = 0; shift < 4; shift++) {
		size_t n = 0;

		memset(big, 'a', (size_t)shift);
		for (n = (size_t)shift; n + 4 < sizeof(big);) {
			memcpy(big + n, (n / 4) % 2 ? "\xe2\x82\xac" : "\xff", (n / 4) % 2 ? 3 : 1);
			n += (n / 4) % 2 ? 3 : 1;
		}
		big[n] = '\0';
		cfgpool_error_init(&err);
		cfgpool_error_set(&err, -E2BIG, big, "%s", big);
		assert_error_is_valid_utf8(&err);
		assert_true(strlen(err.text) > CFGPOOL_ERROR_TEXT_LEN - 8);
		assert_true(strlen(err.path) > CFGPOOL_ERROR_PATH_LEN - 8);
		/* No escape cut short at the end: the last backslash has its four bytes. */
		assert_true(strlen(strrchr(err.text, '\\')) >= 4);
	}
}

/* A file name with invalid bytes: the source and the message that quotes it. */
static void file_error_with_an_invalid_utf8_name_is_valid_utf8(void **state)
{
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_file("/nonexistent-\xff\xfe/c\xc3.json", NULL, &cfg, &err), -ENOENT);
	assert_error_is_valid_utf8(&err);
	assert_contains(err.source, "\\xff\\xfe");
	assert_contains(err.text, "\\xff\\xfe");
}

/* A quoted value cut at 40 bytes, in the middle of a character. */
static void schema_message_quoting_a_cut_value_is_valid_utf8(void **state)
{
	static const char doc[] = "{\"pool\": {\"workers\": \"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
				  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
				  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}}";
	cfgpool_prep_t prep;
	cfgpool_load_opts_t opts = {.preps = &prep, .nprep = 1};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	cfgpool_kernel_prep(cfgpool_kernel_find("spin"), &prep); /* the pool's schema */
	assert_int_equal(load_str_opts(doc, &opts, &cfg, &err), CFGPOOL_ESCHEMA);
	assert_error_is_valid_utf8(&err);
}

/* A buffer too small for the formatted error is cut at a character boundary too. */
static void format_cuts_at_character_boundaries(void **state)
{
	cfgpool_error_t err;
	char buf[64];

	cfgpool_error_init(&err);
	cfgpool_error_set(&err, CFGPOOL_ESCHEMA, "k", "%s", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	snprintf(err.source, sizeof(err.source), "s");
	for (size_t size = 1; size < sizeof(buf); size++) {
		cfgpool_error_format(&err, buf, size);
		assert_true(strlen(buf) < size);
		assert_valid_utf8(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(strerror_matches_the_map_for_every_code),
	    cmocka_unit_test(err_name_matches_the_map_for_every_code),
	    cmocka_unit_test(every_code_has_a_distinct_name_and_value),
	    cmocka_unit_test(every_code_is_negative),
	    cmocka_unit_test(errno_codes_equal_the_negated_system_values),
	    cmocka_unit_test(own_codes_lie_outside_the_errno_range),
	    cmocka_unit_test(zero_is_success_and_ok),
	    cmocka_unit_test(unknown_codes_give_unknown_error_and_unknown),
	    cmocka_unit_test(unmapped_errno_codes_give_the_system_message_and_name),
	    cmocka_unit_test(unmapped_errno_messages_are_static),
	    cmocka_unit_test(error_init_clears_every_field),
	    cmocka_unit_test(error_set_records_code_path_and_formatted_text),
	    cmocka_unit_test(error_set_returns_code_when_err_is_null),
	    cmocka_unit_test(error_set_with_null_path_leaves_path_empty),
	    cmocka_unit_test(error_set_first_error_wins),
	    cmocka_unit_test(error_set_works_on_a_zeroed_struct),
	    cmocka_unit_test(error_set_truncates_long_text_and_path_safely),
	    cmocka_unit_test(format_syntax_error_is_source_line_column_message),
	    cmocka_unit_test(format_schema_error_is_source_path_text),
	    cmocka_unit_test(format_of_a_loaded_syntax_error_names_it_a_json_syntax_error),
	    cmocka_unit_test(format_of_a_loaded_schema_error),
	    cmocka_unit_test(format_of_a_loaded_nesting_error_has_location_and_path),
	    cmocka_unit_test(format_truncates_to_size_and_terminates),
	    cmocka_unit_test(format_with_size_one_gives_empty_string),
	    cmocka_unit_test(error_set_escapes_invalid_utf8_in_text_and_path),
	    cmocka_unit_test(error_set_truncates_at_character_boundaries),
	    cmocka_unit_test(file_error_with_an_invalid_utf8_name_is_valid_utf8),
	    cmocka_unit_test(schema_message_quoting_a_cut_value_is_valid_utf8),
	    cmocka_unit_test(format_cuts_at_character_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
