/*
 * The frozen configuration tree: path lookup, typed getters, iteration, sizes, and the
 * preparers that compile parts of a document into parameter blocks.
 *
 * Most tests read one representative document, loaded once by the group setup, that holds
 * every JSON type and the awkward corners (int64 limits, \u0000 inside a string, keys that
 * need quoting, an object large enough that an implementation may index it). The seed
 * example from the project's question is checked value by value on its own.
 */
#define _GNU_SOURCE

#include <math.h>

#include "helpers.h"

/* --- the representative document --------------------------------------------------------- */

static const char doc_text[] =
    "{\n"
    "  \"null\": null,\n"
    "  \"t\": true,\n"
    "  \"f\": false,\n"
    "  \"zero\": 0,\n"
    "  \"neg\": -42,\n"
    "  \"int_max\": 9223372036854775807,\n"
    "  \"int_min\": -9223372036854775808,\n"
    "  \"real\": 3.25,\n"
    "  \"neg_real\": -0.5,\n"
    "  \"exp\": 1e300,\n"
    "  \"one_point_oh\": 1.0,\n"
    "  \"empty_str\": \"\",\n"
    "  \"nul_str\": \"a\\u0000b\",\n"
    "  \"escaped_unicode\": \"\\u00e9\\u20ac\\ud83d\\ude00\",\n"
    "  \"raw_utf8\": \"h\xc3\xa9llo w\xc3\xb6rld\",\n"
    "  \"escapes\": \"tab\\there \\\"q\\\" back\\\\slash\\n\",\n"
    "  \"empty_arr\": [],\n"
    "  \"empty_obj\": {},\n"
    "  \"arr\": [1, \"two\", 3.5, true, null, [10, 20], {\"k\": \"v\"}],\n"
    "  \"nested\": {\"a\": {\"b\": {\"c\": [0, {\"d\": \"deep\"}]}}},\n"
    "  \"dotted.key\": \"dot\",\n"
    "  \"weird\": {\"with space\": 1, \"br[acket\": 2, \"quo\\\"te\": 3, \"back\\\\slash\": 4,\n"
    "            \"\": 5, \"a.b\": 6, \"both\\\\\\\"\": 7, \"close]\": 8},\n"
    "  \"big\": {\"m9\": 100, \"m5\": 101, \"Zed\": 102, \"m8\": 103, \"m7\": 104, \"m\": 105,\n"
    "          \"m14\": 106, \"m19\": 107, \"m10a\": 108, \"m18\": 109, \"m13\": 110,\n"
    "          \"_under\": 111, \"m15\": 112, \"m16\": 113, \"m0\": 114, \"m6\": 115,\n"
    "          \"alpha\": 116, \"m11\": 117, \"m3\": 118, \"m17\": 119, \"m2\": 120, \"m1\": 121,\n"
    "          \"m1x\": 122, \"m12\": 123, \"m4\": 124, \"m10\": 125}\n"
    "}\n";

/* The root's keys in document order. */
static const char *const root_keys[] = {
    "null",	"t",	    "f",	 "zero",	 "neg",	      "int_max", "int_min",
    "real",	"neg_real", "exp",	 "one_point_oh", "empty_str", "nul_str", "escaped_unicode",
    "raw_utf8", "escapes",  "empty_arr", "empty_obj",	 "arr",	      "nested",	 "dotted.key",
    "weird",	"big",
};

#define NROOT (sizeof(root_keys) / sizeof(root_keys[0]))

struct member {
	const char *key;
	int64_t value;
};

/*
 * The members of "big", in document order. More than 16, in no sorted order, with keys that
 * are prefixes of one another, so a sorted index or a hash must still find each exactly.
 */
static const struct member big_members[] = {
    {"m9", 100},  {"m5", 101},	 {"Zed", 102},	 {"m8", 103},  {"m7", 104},	{"m", 105},   {"m14", 106},
    {"m19", 107}, {"m10a", 108}, {"m18", 109},	 {"m13", 110}, {"_under", 111}, {"m15", 112}, {"m16", 113},
    {"m0", 114},  {"m6", 115},	 {"alpha", 116}, {"m11", 117}, {"m3", 118},	{"m17", 119}, {"m2", 120},
    {"m1", 121},  {"m1x", 122},	 {"m12", 123},	 {"m4", 124},  {"m10", 125},
};

#define NBIG (sizeof(big_members) / sizeof(big_members[0]))

static cfgpool_config_t *doc;

static const cfgpool_node_t *root(void)
{
	return cfgpool_config_root(doc);
}

static int load_doc(void **state)
{
	cfgpool_error_t err;
	char buf[512];
	int rc;

	rc = load_str(doc_text, &doc, &err);
	if (rc != 0) {
		print_error("the representative document did not load: %s\n",
			    cfgpool_error_format(&err, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

static int free_doc(void **state)
{
	cfgpool_config_free(doc);
	doc = NULL;
	return 0;
}

/*
 * Checks that reading `path` gives `want`, naming the path on failure: many calls share one
 * helper, and cmocka would otherwise report only the helper's line.
 */
static void assert_path_int(const cfgpool_node_t *from, const char *path, int64_t want)
{
	int64_t v = INT64_C(0x5a5a5a5a);
	int rc = cfgpool_get_int(from, path, &v);

	if (rc != 0 || v != want)
		print_error("get_int(\"%s\"): %s, %lld (want %lld)\n", path ? path : "(null)", cfgpool_err_name(rc),
			    (long long)v, (long long)want);
	assert_int_equal(rc, 0);
	assert_true(v == want);
}

static void assert_path_string(const cfgpool_node_t *from, const char *path, const char *want)
{
	const char *s = NULL;
	size_t len = 12345;
	int rc = cfgpool_get_string(from, path, &s, &len);

	if (rc != 0)
		print_error("get_string(\"%s\"): %s\n", path ? path : "(null)", cfgpool_err_name(rc));
	assert_int_equal(rc, 0);
	assert_non_null(s);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
}

static void assert_lookup_rc(const cfgpool_node_t *from, const char *path, int want)
{
	const cfgpool_node_t *sentinel = (const cfgpool_node_t *)&sentinel;
	const cfgpool_node_t *n = sentinel;
	int rc = cfgpool_lookup(from, path, &n);

	if (rc != want)
		print_error("lookup(\"%s\"): %s, want %s\n", path, cfgpool_err_name(rc), cfgpool_err_name(want));
	assert_int_equal(rc, want);
	if (want != 0)
		assert_ptr_equal(n, sentinel);
}

static const cfgpool_node_t *lookup_ok(const cfgpool_node_t *from, const char *path)
{
	const cfgpool_node_t *n = NULL;
	int rc = cfgpool_lookup(from, path, &n);

	if (rc != 0)
		print_error("lookup(\"%s\"): %s\n", path ? path : "(null)", cfgpool_err_name(rc));
	assert_int_equal(rc, 0);
	assert_non_null(n);
	return n;
}

/*
 * Runs every getter on `path` and checks each returns `want` and leaves its output alone:
 * the contract says outputs are written only on success.
 */
static void assert_all_getters_fail(const cfgpool_node_t *from, const char *path, int want)
{
	const int64_t isent = INT64_C(-0x0123456789abcdef);
	const double dsent = -12345.5;
	const char *ssent = "sentinel";
	int64_t i = isent;
	double d = dsent;
	bool b = true;
	const char *s = ssent;
	size_t slen = 4242;
	size_t len = 4343;

	assert_lookup_rc(from, path, want);
	assert_int_equal(cfgpool_get_int(from, path, &i), want);
	assert_true(i == isent);
	assert_int_equal(cfgpool_get_double(from, path, &d), want);
	assert_true(d == dsent);
	assert_int_equal(cfgpool_get_bool(from, path, &b), want);
	assert_true(b);
	b = false;
	assert_int_equal(cfgpool_get_bool(from, path, &b), want);
	assert_false(b);
	assert_int_equal(cfgpool_get_string(from, path, &s, &slen), want);
	assert_ptr_equal(s, ssent);
	assert_int_equal(slen, 4242);
	assert_int_equal(cfgpool_get_length(from, path, &len), want);
	assert_int_equal(len, 4343);
}

/* --- the configuration object ------------------------------------------------------------- */

static void config_root_is_an_object(void **state)
{
	assert_non_null(root());
	assert_int_equal(cfgpool_node_type(root()), CFGPOOL_TYPE_OBJECT);
}

static void config_size_is_positive(void **state)
{
	assert_true(cfgpool_config_size(doc) > 0);
}

static void config_source_size_equals_text_length(void **state)
{
	assert_int_equal(cfgpool_config_source_size(doc), strlen(doc_text));
}

static void unpublished_config_has_version_zero(void **state)
{
	assert_int_equal(cfgpool_config_version(doc), 0);
}

static void config_without_preparers_has_no_params(void **state)
{
	assert_null(cfgpool_config_params(doc, 0));
	assert_null(cfgpool_config_params(doc, 1));
}

static void config_free_of_null_is_a_noop(void **state)
{
	cfgpool_config_free(NULL);
	/* Reaching this line is the test; the document must still be readable too. */
	assert_path_int(root(), "zero", 0);
}

/* A size that did not grow with the document would mean the tree is not really stored. */
static void config_size_grows_with_the_document(void **state)
{
	cfgpool_config_t *small = load_ok("{}");
	size_t small_size = cfgpool_config_size(small);

	assert_true(small_size > 0);
	assert_true(cfgpool_config_size(doc) > small_size);
	assert_int_equal(cfgpool_config_source_size(small), 2);
	cfgpool_config_free(small);
}

/* --- node types --------------------------------------------------------------------------- */

static void node_type_of_every_json_type(void **state)
{
	static const struct {
		const char *path;
		cfgpool_type_t type;
	} cases[] = {
	    {"null", CFGPOOL_TYPE_NULL},	{"t", CFGPOOL_TYPE_BOOL},
	    {"f", CFGPOOL_TYPE_BOOL},		{"zero", CFGPOOL_TYPE_INT},
	    {"int_min", CFGPOOL_TYPE_INT},	{"real", CFGPOOL_TYPE_REAL},
	    {"exp", CFGPOOL_TYPE_REAL},		{"one_point_oh", CFGPOOL_TYPE_REAL},
	    {"empty_str", CFGPOOL_TYPE_STRING}, {"nul_str", CFGPOOL_TYPE_STRING},
	    {"arr", CFGPOOL_TYPE_ARRAY},	{"empty_arr", CFGPOOL_TYPE_ARRAY},
	    {"nested", CFGPOOL_TYPE_OBJECT},	{"empty_obj", CFGPOOL_TYPE_OBJECT},
	    {"arr[4]", CFGPOOL_TYPE_NULL},	{"arr[5]", CFGPOOL_TYPE_ARRAY},
	    {"arr[6]", CFGPOOL_TYPE_OBJECT},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const cfgpool_node_t *n = lookup_ok(root(), cases[i].path);

		if (cfgpool_node_type(n) != cases[i].type)
			print_error("%s: type %s\n", cases[i].path, cfgpool_type_name(cfgpool_node_type(n)));
		assert_int_equal(cfgpool_node_type(n), cases[i].type);
	}
}

static void type_name_of_every_type(void **state)
{
	assert_string_equal(cfgpool_type_name(CFGPOOL_TYPE_NULL), "null");
	assert_string_equal(cfgpool_type_name(CFGPOOL_TYPE_BOOL), "boolean");
	assert_string_equal(cfgpool_type_name(CFGPOOL_TYPE_INT), "integer");
	assert_string_equal(cfgpool_type_name(CFGPOOL_TYPE_REAL), "real");
	assert_string_equal(cfgpool_type_name(CFGPOOL_TYPE_STRING), "string");
	assert_string_equal(cfgpool_type_name(CFGPOOL_TYPE_ARRAY), "array");
	assert_string_equal(cfgpool_type_name(CFGPOOL_TYPE_OBJECT), "object");
}

/* --- typed getters: values --------------------------------------------------------------- */

static void get_int_reads_zero_and_negative(void **state)
{
	assert_path_int(root(), "zero", 0);
	assert_path_int(root(), "neg", -42);
	assert_path_int(root(), "arr[0]", 1);
}

static void get_int_reads_int64_max_and_min(void **state)
{
	assert_path_int(root(), "int_max", INT64_MAX);
	assert_path_int(root(), "int_min", INT64_MIN);
}

static void get_double_reads_reals(void **state)
{
	double d = 0;

	assert_int_equal(cfgpool_get_double(root(), "real", &d), 0);
	assert_true(d == 3.25);
	assert_int_equal(cfgpool_get_double(root(), "neg_real", &d), 0);
	assert_true(d == -0.5);
	assert_int_equal(cfgpool_get_double(root(), "exp", &d), 0);
	assert_true(d == 1e300);
	assert_int_equal(cfgpool_get_double(root(), "one_point_oh", &d), 0);
	assert_true(d == 1.0);
	assert_int_equal(cfgpool_get_double(root(), "arr[2]", &d), 0);
	assert_true(d == 3.5);
}

static void get_double_accepts_an_integer(void **state)
{
	double d = 0;

	assert_int_equal(cfgpool_get_double(root(), "neg", &d), 0);
	assert_true(d == -42.0);
	assert_int_equal(cfgpool_get_double(root(), "zero", &d), 0);
	assert_true(d == 0.0);
	assert_int_equal(cfgpool_get_double(root(), "int_max", &d), 0);
	assert_true(d == (double)INT64_MAX);
	assert_int_equal(cfgpool_get_double(root(), "int_min", &d), 0);
	assert_true(d == (double)INT64_MIN);
}

static void get_bool_reads_true_and_false(void **state)
{
	bool b = false;

	assert_int_equal(cfgpool_get_bool(root(), "t", &b), 0);
	assert_true(b);
	assert_int_equal(cfgpool_get_bool(root(), "f", &b), 0);
	assert_false(b);
	assert_int_equal(cfgpool_get_bool(root(), "arr[3]", &b), 0);
	assert_true(b);
}

static void get_string_reads_string_and_length(void **state)
{
	assert_path_string(root(), "arr[1]", "two");
	assert_path_string(root(), "arr[6].k", "v");
	assert_path_string(root(), "nested.a.b.c[1].d", "deep");
}

static void get_string_len_may_be_null(void **state)
{
	const char *s = NULL;

	assert_int_equal(cfgpool_get_string(root(), "arr[1]", &s, NULL), 0);
	assert_string_equal(s, "two");
}

static void get_string_of_empty_string_has_length_zero(void **state)
{
	const char *s = NULL;
	size_t len = 99;

	assert_int_equal(cfgpool_get_string(root(), "empty_str", &s, &len), 0);
	assert_non_null(s);
	assert_int_equal(len, 0);
	assert_int_equal(s[0], '\0');
}

static void get_string_with_embedded_nul_reports_full_length(void **state)
{
	const char *s = NULL;
	size_t len = 0;

	assert_int_equal(cfgpool_get_string(root(), "nul_str", &s, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(strlen(s), 1);
	/* The four bytes include the terminating NUL the contract promises after len bytes. */
	assert_memory_equal(s, "a\0b\0", 4);
}

static void get_string_decodes_unicode_escapes_to_utf8(void **state)
{
	const char *s = NULL;
	size_t len = 0;

	assert_int_equal(cfgpool_get_string(root(), "escaped_unicode", &s, &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);
}

static void get_string_keeps_raw_utf8(void **state)
{
	assert_path_string(root(), "raw_utf8", "h\xc3\xa9llo w\xc3\xb6rld");
}

static void get_string_decodes_json_escapes(void **state)
{
	assert_path_string(root(), "escapes", "tab\there \"q\" back\\slash\n");
}

static void get_length_of_arrays_and_objects(void **state)
{
	size_t n = 99;

	assert_int_equal(cfgpool_get_length(root(), "arr", &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(cfgpool_get_length(root(), "arr[5]", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cfgpool_get_length(root(), "weird", &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(cfgpool_get_length(root(), "big", &n), 0);
	assert_int_equal(n, NBIG);
	assert_int_equal(cfgpool_get_length(root(), NULL, &n), 0);
	assert_int_equal(n, NROOT);
}

static void get_length_of_empty_array_and_object_is_zero(void **state)
{
	size_t n = 99;

	assert_int_equal(cfgpool_get_length(root(), "empty_arr", &n), 0);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(cfgpool_get_length(root(), "empty_obj", &n), 0);
	assert_int_equal(n, 0);
}

static void nested_path_reads_a_deep_value(void **state)
{
	assert_path_string(root(), "nested.a.b.c[1].d", "deep");
	assert_path_int(root(), "nested.a.b.c[0]", 0);
}

static void lookup_then_relative_paths_from_the_found_node(void **state)
{
	const cfgpool_node_t *b = lookup_ok(root(), "nested.a.b");

	assert_path_string(b, "c[1].d", "deep");
	assert_path_string(lookup_ok(b, "c"), "[1].d", "deep");
	assert_path_string(lookup_ok(b, "c[1]"), "d", "deep");
}

/* --- typed getters: failures ------------------------------------------------------------- */

static void get_int_rejects_a_real_with_etype(void **state)
{
	int64_t v = 77;

	assert_int_equal(cfgpool_get_int(root(), "real", &v), CFGPOOL_ETYPE);
	assert_int_equal(cfgpool_get_int(root(), "one_point_oh", &v), CFGPOOL_ETYPE);
	assert_int_equal(cfgpool_get_int(root(), "exp", &v), CFGPOOL_ETYPE);
	assert_int_equal(v, 77);
}

static void get_int_rejects_other_types_and_leaves_out(void **state)
{
	static const char *const paths[] = {"t", "null", "empty_str", "arr", "nested", "empty_arr"};
	int64_t v = 77;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(cfgpool_get_int(root(), paths[i], &v), CFGPOOL_ETYPE);
		assert_int_equal(v, 77);
	}
}

static void get_double_rejects_non_numbers_and_leaves_out(void **state)
{
	static const char *const paths[] = {"t", "f", "null", "empty_str", "arr", "nested"};
	double d = 7.5;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(cfgpool_get_double(root(), paths[i], &d), CFGPOOL_ETYPE);
		assert_true(d == 7.5);
	}
}

static void get_bool_rejects_numbers_strings_null_and_leaves_out(void **state)
{
	static const char *const paths[] = {"zero", "arr[0]", "real", "null", "empty_str", "empty_obj"};
	bool b = true;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(cfgpool_get_bool(root(), paths[i], &b), CFGPOOL_ETYPE);
		assert_true(b);
	}
}

static void get_string_rejects_non_strings_and_leaves_out(void **state)
{
	static const char *const paths[] = {"zero", "real", "t", "null", "arr", "empty_obj"};
	const char *s = "untouched";
	size_t len = 9;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(cfgpool_get_string(root(), paths[i], &s, &len), CFGPOOL_ETYPE);
		assert_string_equal(s, "untouched");
		assert_int_equal(len, 9);
	}
}

static void get_length_rejects_scalars_and_leaves_out(void **state)
{
	static const char *const paths[] = {"zero", "real", "t", "null", "empty_str", "raw_utf8"};
	size_t n = 31;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(cfgpool_get_length(root(), paths[i], &n), CFGPOOL_ETYPE);
		assert_int_equal(n, 31);
	}
}

static void missing_key_is_enoent_for_every_getter(void **state)
{
	assert_all_getters_fail(root(), "nope", -ENOENT);
	assert_all_getters_fail(root(), "nested.zz", -ENOENT);
	assert_all_getters_fail(root(), "arr[6].kk", -ENOENT);
	/* Keys are case-sensitive and exact: a prefix or an extension is another key. */
	assert_all_getters_fail(root(), "Zero", -ENOENT);
	assert_all_getters_fail(root(), "zer", -ENOENT);
	assert_all_getters_fail(root(), "zeroo", -ENOENT);
}

static void index_past_the_end_is_enoent_for_every_getter(void **state)
{
	assert_all_getters_fail(root(), "arr[7]", -ENOENT);
	assert_all_getters_fail(root(), "arr[5][2]", -ENOENT);
	assert_all_getters_fail(root(), "empty_arr[0]", -ENOENT);
	assert_all_getters_fail(root(), "arr[1000000]", -ENOENT);
}

static void missing_intermediate_is_enoent_for_every_getter(void **state)
{
	assert_all_getters_fail(root(), "nope.x", -ENOENT);
	assert_all_getters_fail(root(), "nested.zz.b", -ENOENT);
	assert_all_getters_fail(root(), "nested.a.zz.c[0]", -ENOENT);
	assert_all_getters_fail(root(), "empty_arr[0].x", -ENOENT);
	assert_all_getters_fail(root(), "empty_obj.x.y", -ENOENT);
}

static void stepping_into_a_scalar_is_etype_for_every_getter(void **state)
{
	assert_all_getters_fail(root(), "zero.x", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "zero[0]", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "real.x", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "t.x", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "null.x", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "null[0]", CFGPOOL_ETYPE);
	/* A string is not an array of characters. */
	assert_all_getters_fail(root(), "raw_utf8[0]", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "nested.a.b.c[0].x", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "zero[\"x\"]", CFGPOOL_ETYPE);
}

static void index_step_into_an_object_is_etype(void **state)
{
	assert_all_getters_fail(root(), "nested[0]", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "empty_obj[0]", CFGPOOL_ETYPE);
}

static void member_step_into_an_array_is_etype(void **state)
{
	assert_all_getters_fail(root(), "arr.k", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "arr[\"k\"]", CFGPOOL_ETYPE);
	assert_all_getters_fail(root(), "empty_arr.x", CFGPOOL_ETYPE);
}

/* --- path syntax ------------------------------------------------------------------------- */

static void null_and_empty_path_designate_the_node_itself(void **state)
{
	const cfgpool_node_t *n = NULL;

	assert_int_equal(cfgpool_lookup(root(), NULL, &n), 0);
	assert_ptr_equal(n, root());
	n = NULL;
	assert_int_equal(cfgpool_lookup(root(), "", &n), 0);
	assert_ptr_equal(n, root());
}

static void getters_with_null_or_empty_path_read_the_starting_node(void **state)
{
	const cfgpool_node_t *zero = lookup_ok(root(), "neg");
	const cfgpool_node_t *arr = lookup_ok(root(), "arr");
	size_t n = 0;

	assert_path_int(zero, NULL, -42);
	assert_path_int(zero, "", -42);
	assert_path_string(lookup_ok(root(), "arr[1]"), NULL, "two");
	assert_int_equal(cfgpool_get_length(arr, "", &n), 0);
	assert_int_equal(n, 7);
}

static void lookup_of_the_same_path_twice_gives_the_same_node(void **state)
{
	assert_ptr_equal(lookup_ok(root(), "nested.a.b.c[1]"), lookup_ok(root(), "nested.a.b.c[1]"));
	assert_ptr_equal(lookup_ok(root(), "nested.a"), lookup_ok(root(), "[\"nested\"][\"a\"]"));
}

static void bare_first_step_then_dotted_steps(void **state)
{
	assert_path_string(root(), "nested.a.b.c[1].d", "deep");
	assert_path_string(root(), "arr[6].k", "v");
}

static void index_steps_chain(void **state)
{
	assert_path_int(root(), "arr[5][0]", 10);
	assert_path_int(root(), "arr[5][1]", 20);
	assert_path_string(root(), "arr[6][\"k\"]", "v");
}

static void index_first_step_from_an_array_node(void **state)
{
	const cfgpool_node_t *arr = lookup_ok(root(), "arr");

	assert_path_int(arr, "[0]", 1);
	assert_path_int(arr, "[5][1]", 20);
	assert_path_string(arr, "[6].k", "v");
}

static void quoted_first_step_from_root(void **state)
{
	assert_path_string(root(), "[\"dotted.key\"]", "dot");
	assert_path_string(root(), "[\"nested\"].a.b.c[1].d", "deep");
}

static void quoted_step_reads_a_key_with_a_dot(void **state)
{
	assert_path_int(root(), "weird[\"a.b\"]", 6);
}

/* Without quotes, a dot always separates steps: `dotted.key` is `dotted`, then `key`. */
static void bare_dotted_name_is_two_steps_not_a_key_with_a_dot(void **state)
{
	assert_lookup_rc(root(), "dotted.key", -ENOENT);
	assert_lookup_rc(root(), "weird.a.b", -ENOENT);
}

static void quoted_step_reads_the_empty_key(void **state)
{
	assert_path_int(root(), "weird[\"\"]", 5);
}

static void quoted_step_unescapes_quote_and_backslash(void **state)
{
	assert_path_int(root(), "weird[\"quo\\\"te\"]", 3);
	assert_path_int(root(), "weird[\"back\\\\slash\"]", 4);
	/* both\" : a backslash then a quote, each escaped. */
	assert_path_int(root(), "weird[\"both\\\\\\\"\"]", 7);
}

static void quoted_step_reads_keys_with_brackets(void **state)
{
	assert_path_int(root(), "weird[\"br[acket\"]", 2);
	assert_path_int(root(), "weird[\"close]\"]", 8);
}

static void bare_name_may_contain_spaces_and_backslashes(void **state)
{
	/* A bare name excludes only . [ ] and ", so these bytes are taken literally. */
	assert_path_int(root(), "weird.with space", 1);
	assert_path_int(root(), "weird.back\\slash", 4);
}

static void bare_name_reads_utf8_key(void **state)
{
	cfgpool_config_t *cfg = load_ok("{\"gr\xc3\xbc\xc3\x9f\": {\"\xe2\x82\xac\": 3}}");

	assert_path_int(cfgpool_config_root(cfg), "gr\xc3\xbc\xc3\x9f.\xe2\x82\xac", 3);
	cfgpool_config_free(cfg);
}

/*
 * Every malformed path is reported as such. The document makes each valid prefix resolve
 * (`a` is an array, `o` an object), so an implementation that parses step by step reaches
 * the bad syntax instead of stopping early at a missing key or a type mismatch;
 * `malformed_path_is_epath_even_when_its_prefix_is_missing` covers the stricter case.
 */
static void malformed_paths_are_epath(void **state)
{
	static const char *const bad[] = {
	    "a..b",  "a[",    "a[x]",  "a[\"unterminated", ".",	    ".a",    "a.",    "a[-1]",
	    "a[]",   "a]",    "a[1",   "o[\"x\"",	   "a[0]x", "a\"b",  "[",     "]",
	    "a.[0]", "a[0]]", "o..x",  "o[\"x\"]y",	   "a[1x]", "a[+1]", "a[ 1]", "a..",
	    "..",    "o.x.",  "a[0].", "o[\"x\"]]",
	};
	cfgpool_config_t *cfg = load_ok("{\"a\": [{\"b\": 1}, 2], \"o\": {\"x\": {\"y\": 1}}}");
	const cfgpool_node_t *r = cfgpool_config_root(cfg);
	int wrong = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const cfgpool_node_t *sentinel = (const cfgpool_node_t *)&wrong;
		const cfgpool_node_t *n = sentinel;
		int64_t v = 5;
		int rc = cfgpool_lookup(r, bad[i], &n);

		if (rc != CFGPOOL_EPATH || n != sentinel) {
			print_error("lookup(%s) gave %s, want EPATH\n", bad[i], cfgpool_err_name(rc));
			wrong++;
		}
		rc = cfgpool_get_int(r, bad[i], &v);
		if (rc != CFGPOOL_EPATH || v != 5) {
			print_error("get_int(%s) gave %s, want EPATH\n", bad[i], cfgpool_err_name(rc));
			wrong++;
		}
	}
	cfgpool_config_free(cfg);
	assert_int_equal(wrong, 0);
}

/* Only \" and \\ are escapes inside a quoted key; anything else is a malformed path. */
static void unknown_escape_in_quoted_key_is_epath(void **state)
{
	assert_lookup_rc(root(), "weird[\"\\q\"]", CFGPOOL_EPATH);
	assert_lookup_rc(root(), "weird[\"quo\\", CFGPOOL_EPATH);
}

/*
 * A typo in a path must not pass for a missing key, which a caller would treat as "use the
 * default": syntax is checked even where the document runs out first.
 */
static void malformed_path_is_epath_even_when_its_prefix_is_missing(void **state)
{
	assert_lookup_rc(root(), "missing..b", CFGPOOL_EPATH);
	/* An index too large for size_t is malformed, not a missing element. */
	assert_lookup_rc(root(), "weird[184467440737095516160]", CFGPOOL_EPATH);
	assert_lookup_rc(root(), "missing[x]", CFGPOOL_EPATH);
	assert_lookup_rc(root(), "missing.b[", CFGPOOL_EPATH);
	assert_lookup_rc(root(), "zero.x..y", CFGPOOL_EPATH);
}

/* --- iteration and direct access ----------------------------------------------------------- */

static void object_member_iterates_in_document_order(void **state)
{
	const char *key;
	size_t key_len;
	const cfgpool_node_t *value;
	size_t i;

	for (i = 0; cfgpool_object_member(root(), i, &key, &key_len, &value) == 0; i++) {
		assert_true(i < NROOT);
		assert_string_equal(key, root_keys[i]);
		assert_int_equal(key_len, strlen(root_keys[i]));
		assert_non_null(value);
	}
	assert_int_equal(i, NROOT);
}

static void object_member_value_is_the_member_node(void **state)
{
	const char *key = NULL;
	const cfgpool_node_t *value = NULL;
	char path[64];

	for (size_t i = 0; i < NROOT; i++) {
		assert_int_equal(cfgpool_object_member(root(), i, &key, NULL, &value), 0);
		snprintf(path, sizeof(path), "[\"%s\"]", key);
		assert_ptr_equal(value, lookup_ok(root(), path));
	}
}

static void object_member_past_the_end_is_enoent_and_leaves_outputs(void **state)
{
	const char *key = "k";
	size_t key_len = 9;
	const cfgpool_node_t *value = root();

	assert_int_equal(cfgpool_object_member(root(), NROOT, &key, &key_len, &value), -ENOENT);
	assert_int_equal(cfgpool_object_member(lookup_ok(root(), "empty_obj"), 0, &key, &key_len, &value), -ENOENT);
	assert_int_equal(cfgpool_object_member(root(), SIZE_MAX, &key, &key_len, &value), -ENOENT);
	assert_string_equal(key, "k");
	assert_int_equal(key_len, 9);
	assert_ptr_equal(value, root());
}

static void object_member_of_a_non_object_is_etype(void **state)
{
	const char *key = "k";
	const cfgpool_node_t *value = root();

	assert_int_equal(cfgpool_object_member(lookup_ok(root(), "arr"), 0, &key, NULL, &value), CFGPOOL_ETYPE);
	assert_int_equal(cfgpool_object_member(lookup_ok(root(), "zero"), 0, &key, NULL, &value), CFGPOOL_ETYPE);
	assert_int_equal(cfgpool_object_member(lookup_ok(root(), "null"), 0, &key, NULL, &value), CFGPOOL_ETYPE);
	assert_string_equal(key, "k");
	assert_ptr_equal(value, root());
}

static void object_member_gives_keys_exactly_as_decoded(void **state)
{
	static const char *const keys[] = {"with space", "br[acket", "quo\"te",	 "back\\slash",
					   "",		 "a.b",	     "both\\\"", "close]"};
	const cfgpool_node_t *weird = lookup_ok(root(), "weird");
	const char *key;
	size_t key_len;
	const cfgpool_node_t *value;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_int_equal(cfgpool_object_member(weird, i, &key, &key_len, &value), 0);
		assert_string_equal(key, keys[i]);
		assert_int_equal(key_len, strlen(keys[i]));
		assert_path_int(value, NULL, (int64_t)i + 1);
	}
}

static void object_get_finds_a_key_with_a_dot(void **state)
{
	const cfgpool_node_t *n = NULL;

	assert_int_equal(cfgpool_object_get(root(), "dotted.key", 10, &n), 0);
	assert_path_string(n, NULL, "dot");
}

static void object_get_uses_key_len_not_the_nul(void **state)
{
	/* The key bytes come from a larger buffer and are not NUL-terminated at key_len. */
	static const char buf[] = "dotted.keyXYZ";
	const cfgpool_node_t *n = NULL;

	assert_int_equal(cfgpool_object_get(root(), buf, 10, &n), 0);
	assert_path_string(n, NULL, "dot");
	/* A prefix is another key, not a partial match. */
	n = root();
	assert_int_equal(cfgpool_object_get(root(), buf, 6, &n), -ENOENT);
	assert_ptr_equal(n, root());
	assert_int_equal(cfgpool_object_get(root(), buf, sizeof(buf) - 1, &n), -ENOENT);
	assert_ptr_equal(n, root());
}

static void object_get_takes_path_syntax_literally(void **state)
{
	const cfgpool_node_t *n = NULL;
	const cfgpool_node_t *weird = lookup_ok(root(), "weird");

	assert_int_equal(cfgpool_object_get(weird, "quo\"te", 6, &n), 0);
	assert_path_int(n, NULL, 3);
	assert_int_equal(cfgpool_object_get(weird, "br[acket", 8, &n), 0);
	assert_path_int(n, NULL, 2);
	assert_int_equal(cfgpool_object_get(weird, "", 0, &n), 0);
	assert_path_int(n, NULL, 5);
	n = root();
	assert_int_equal(cfgpool_object_get(root(), "nested.a", 8, &n), -ENOENT);
	assert_ptr_equal(n, root());
}

static void object_get_of_a_non_object_is_etype(void **state)
{
	const cfgpool_node_t *n = root();

	assert_int_equal(cfgpool_object_get(lookup_ok(root(), "arr"), "k", 1, &n), CFGPOOL_ETYPE);
	assert_int_equal(cfgpool_object_get(lookup_ok(root(), "empty_str"), "k", 1, &n), CFGPOOL_ETYPE);
	assert_ptr_equal(n, root());
}

static void array_get_returns_elements_in_order(void **state)
{
	const cfgpool_node_t *arr = lookup_ok(root(), "arr");
	const cfgpool_node_t *n = NULL;
	static const cfgpool_type_t types[] = {CFGPOOL_TYPE_INT,   CFGPOOL_TYPE_STRING, CFGPOOL_TYPE_REAL,
					       CFGPOOL_TYPE_BOOL,  CFGPOOL_TYPE_NULL,	CFGPOOL_TYPE_ARRAY,
					       CFGPOOL_TYPE_OBJECT};
	char path[16];

	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(cfgpool_array_get(arr, i, &n), 0);
		assert_int_equal(cfgpool_node_type(n), types[i]);
		snprintf(path, sizeof(path), "[%zu]", i);
		assert_ptr_equal(n, lookup_ok(arr, path));
	}
	assert_int_equal(cfgpool_array_get(arr, 0, &n), 0);
	assert_path_int(n, NULL, 1);
	assert_int_equal(cfgpool_array_get(arr, 1, &n), 0);
	assert_path_string(n, NULL, "two");
}

static void array_get_past_the_end_is_enoent(void **state)
{
	const cfgpool_node_t *n = root();

	assert_int_equal(cfgpool_array_get(lookup_ok(root(), "arr"), 7, &n), -ENOENT);
	assert_int_equal(cfgpool_array_get(lookup_ok(root(), "arr"), SIZE_MAX, &n), -ENOENT);
	assert_int_equal(cfgpool_array_get(lookup_ok(root(), "empty_arr"), 0, &n), -ENOENT);
	assert_ptr_equal(n, root());
}

static void array_get_of_a_non_array_is_etype(void **state)
{
	const cfgpool_node_t *n = root();

	assert_int_equal(cfgpool_array_get(lookup_ok(root(), "nested"), 0, &n), CFGPOOL_ETYPE);
	assert_int_equal(cfgpool_array_get(lookup_ok(root(), "empty_str"), 0, &n), CFGPOOL_ETYPE);
	assert_int_equal(cfgpool_array_get(lookup_ok(root(), "zero"), 0, &n), CFGPOOL_ETYPE);
	assert_ptr_equal(n, root());
}

/* --- objects with many members ----------------------------------------------------------- */

static void big_object_finds_each_member_by_path(void **state)
{
	char path[64];

	for (size_t i = 0; i < NBIG; i++) {
		snprintf(path, sizeof(path), "big.%s", big_members[i].key);
		assert_path_int(root(), path, big_members[i].value);
		snprintf(path, sizeof(path), "big[\"%s\"]", big_members[i].key);
		assert_path_int(root(), path, big_members[i].value);
	}
}

static void big_object_finds_each_member_by_object_get(void **state)
{
	const cfgpool_node_t *big = lookup_ok(root(), "big");

	for (size_t i = 0; i < NBIG; i++) {
		const cfgpool_node_t *n = NULL;

		assert_int_equal(cfgpool_object_get(big, big_members[i].key, strlen(big_members[i].key), &n), 0);
		assert_path_int(n, NULL, big_members[i].value);
	}
}

static void big_object_reports_absent_keys(void **state)
{
	/* Before the first and after the last in byte order, between neighbours, near-misses. */
	static const char *const absent[] = {"big.A",  "big.zzz", "big.m20",  "big.m1y",    "big.m10b",
					     "big.M1", "big.m01", "big.alph", "big.alphaa", "big[\"\"]"};

	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		assert_lookup_rc(root(), absent[i], -ENOENT);
}

static void big_object_iterates_in_document_order(void **state)
{
	const cfgpool_node_t *big = lookup_ok(root(), "big");
	const char *key;
	const cfgpool_node_t *value;
	size_t i;

	for (i = 0; cfgpool_object_member(big, i, &key, NULL, &value) == 0; i++) {
		assert_true(i < NBIG);
		assert_string_equal(key, big_members[i].key);
		assert_path_int(value, NULL, big_members[i].value);
	}
	assert_int_equal(i, NBIG);
}

/* Builds {"o": {<n members in a scrambled order>}} with keys of varied length. */
static char *many_members_doc(size_t n, size_t *order)
{
	size_t cap = 64 + n * 64;
	char *text = malloc(cap);
	size_t len = 0;

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "{\"o\": {");
	for (size_t i = 0; i < n; i++) {
		/* 7919 is prime and does not divide n, so this visits every index once. */
		size_t k = (i * 7919) % n;

		order[i] = k;
		len += (size_t)snprintf(text + len, cap - len, "%s\"key%zu%.*s\": %zu", i ? ", " : "", k, (int)(k % 13),
					"_____________", k);
		assert_true(len < cap);
	}
	len += (size_t)snprintf(text + len, cap - len, "}}");
	assert_true(len < cap);
	return text;
}

static void object_with_a_thousand_members_finds_and_iterates_each(void **state)
{
	const size_t n = 1000;
	size_t *order = calloc(n, sizeof(*order));
	char *text;
	cfgpool_config_t *cfg;
	const cfgpool_node_t *o;
	char key[64];

	assert_non_null(order);
	text = many_members_doc(n, order);
	cfg = load_ok(text);
	o = lookup_ok(cfgpool_config_root(cfg), "o");
	for (size_t k = 0; k < n; k++) {
		const cfgpool_node_t *v = NULL;

		snprintf(key, sizeof(key), "key%zu%.*s", k, (int)(k % 13), "_____________");
		assert_int_equal(cfgpool_object_get(o, key, strlen(key), &v), 0);
		assert_path_int(v, NULL, (int64_t)k);
		assert_path_int(o, key, (int64_t)k);
	}
	for (size_t i = 0; i < n; i++) {
		const char *got;
		const cfgpool_node_t *v;

		assert_int_equal(cfgpool_object_member(o, i, &got, NULL, &v), 0);
		snprintf(key, sizeof(key), "key%zu%.*s", order[i], (int)(order[i] % 13), "_____________");
		assert_string_equal(got, key);
	}
	assert_lookup_rc(o, "key1000", -ENOENT);
	assert_lookup_rc(o, "key1", -ENOENT);
	assert_lookup_rc(o, "key0_", -ENOENT);
	assert_lookup_rc(o, "key", -ENOENT);
	cfgpool_config_free(cfg);
	free(text);
	free(order);
}

/* --- the seed example ---------------------------------------------------------------------- */

static const char seed_text[] = "{\"version\": 1, \"disable_existing_loggers\": false, \"loggers\": "
				"{\"\": {\"level\": \"INFO\"}, \"another.module\": {\"level\": \"DEBUG\"}}}";

static void seed_version_is_one(void **state)
{
	cfgpool_config_t *cfg = load_ok(seed_text);

	assert_path_int(cfgpool_config_root(cfg), "version", 1);
	cfgpool_config_free(cfg);
}

static void seed_disable_existing_loggers_is_false(void **state)
{
	cfgpool_config_t *cfg = load_ok(seed_text);
	bool b = true;

	assert_int_equal(cfgpool_get_bool(cfgpool_config_root(cfg), "disable_existing_loggers", &b), 0);
	assert_false(b);
	cfgpool_config_free(cfg);
}

static void seed_root_logger_level_is_info(void **state)
{
	cfgpool_config_t *cfg = load_ok(seed_text);

	assert_path_string(cfgpool_config_root(cfg), "loggers[\"\"].level", "INFO");
	cfgpool_config_free(cfg);
}

static void seed_another_module_level_is_debug(void **state)
{
	cfgpool_config_t *cfg = load_ok(seed_text);

	assert_path_string(cfgpool_config_root(cfg), "loggers[\"another.module\"].level", "DEBUG");
	cfgpool_config_free(cfg);
}

static void seed_unquoted_dotted_logger_name_is_not_found(void **state)
{
	cfgpool_config_t *cfg = load_ok(seed_text);

	assert_lookup_rc(cfgpool_config_root(cfg), "loggers.another.module.level", -ENOENT);
	cfgpool_config_free(cfg);
}

static void seed_members_in_document_order_with_counts(void **state)
{
	cfgpool_config_t *cfg = load_ok(seed_text);
	const cfgpool_node_t *r = cfgpool_config_root(cfg);
	const cfgpool_node_t *loggers = lookup_ok(r, "loggers");
	const cfgpool_node_t *v;
	const char *key;
	size_t key_len = 99;
	size_t n = 0;

	assert_int_equal(cfgpool_get_length(r, NULL, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(cfgpool_object_member(r, 0, &key, NULL, &v), 0);
	assert_string_equal(key, "version");
	assert_int_equal(cfgpool_object_member(r, 1, &key, NULL, &v), 0);
	assert_string_equal(key, "disable_existing_loggers");
	assert_int_equal(cfgpool_object_member(r, 2, &key, NULL, &v), 0);
	assert_string_equal(key, "loggers");
	assert_ptr_equal(v, loggers);

	assert_int_equal(cfgpool_get_length(loggers, NULL, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cfgpool_object_member(loggers, 0, &key, &key_len, &v), 0);
	assert_string_equal(key, "");
	assert_int_equal(key_len, 0);
	assert_path_string(v, "level", "INFO");
	assert_int_equal(cfgpool_get_length(v, NULL, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cfgpool_object_member(loggers, 1, &key, &key_len, &v), 0);
	assert_string_equal(key, "another.module");
	assert_int_equal(key_len, 14);
	assert_path_string(v, "level", "DEBUG");
	assert_int_equal(cfgpool_object_member(loggers, 2, &key, &key_len, &v), -ENOENT);
	cfgpool_config_free(cfg);
}

static void seed_sizes_and_version(void **state)
{
	cfgpool_config_t *cfg = load_ok(seed_text);

	assert_int_equal(cfgpool_config_source_size(cfg), strlen(seed_text));
	assert_true(cfgpool_config_size(cfg) > 0);
	assert_int_equal(cfgpool_config_version(cfg), 0);
	cfgpool_config_free(cfg);
}

/* --- preparers ---------------------------------------------------------------------------- */

#define BLOCK_LIVE 0x4c495645u
#define BLOCK_DEAD 0xdeadbeefu

/* What one preparer saw; the arg of both callbacks, so each preparer counts separately. */
struct prep_ctx {
	int id;
	int prepared;
	int released;
	int fail;	 /* prepare fails with -ERANGE on kernel.paths when set */
	bool store_null; /* prepare succeeds but stores no block */
	int *order;	 /* shared log of which preparer ran, in order */
	int *norder;
};

struct block {
	uint32_t magic;
	int id;
	int64_t workers;
	size_t npaths;
};

static int test_prepare(const cfgpool_node_t *r, void **params, cfgpool_error_t *err, void *arg)
{
	struct prep_ctx *ctx = arg;
	struct block *b;
	size_t npaths = 0;
	int64_t workers = -1;

	if (ctx->order)
		ctx->order[(*ctx->norder)++] = ctx->id;
	(void)cfgpool_get_int(r, "pool.workers", &workers);
	(void)cfgpool_get_length(r, "kernel.paths", &npaths);
	if (ctx->fail && npaths > 2)
		return cfgpool_error_set(err, -ERANGE, "kernel.paths", "expected at most 2 paths, got %zu", npaths);
	ctx->prepared++;
	if (ctx->store_null) {
		*params = NULL;
		return 0;
	}
	b = malloc(sizeof(*b));
	if (!b)
		return cfgpool_error_set(err, -ENOMEM, NULL, "out of memory");
	b->magic = BLOCK_LIVE;
	b->id = ctx->id;
	b->workers = workers;
	b->npaths = npaths;
	*params = b;
	return 0;
}

static void test_release(void *params, void *arg)
{
	struct prep_ctx *ctx = arg;
	struct block *b = params;

	ctx->released++;
	if (b) {
		/* A second release of the same block would trip this in the test below. */
		assert_int_equal(b->magic, BLOCK_LIVE);
		b->magic = BLOCK_DEAD;
		free(b);
	}
}

static const char prep_doc[] = "{\"pool\": {\"workers\": 3}, \"kernel\": {\"paths\": [\"a\", \"b\"]}}";
static const char prep_doc_bad[] = "{\"pool\": {\"workers\": 3}, \"kernel\": {\"paths\": [\"a\", \"b\", \"c\"]}}";

static void preparer_blocks_come_back_by_index(void **state)
{
	struct prep_ctx c0 = {.id = 10}, c1 = {.id = 11};
	const cfgpool_prep_t preps[] = {
	    {"first", test_prepare, test_release, &c0},
	    {"second", test_prepare, test_release, &c1},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 2};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	const struct block *b0, *b1;

	assert_int_equal(load_str_opts(prep_doc, &opts, &cfg, &err), 0);
	b0 = cfgpool_config_params(cfg, 0);
	b1 = cfgpool_config_params(cfg, 1);
	assert_non_null(b0);
	assert_non_null(b1);
	assert_int_equal(b0->id, 10);
	assert_int_equal(b1->id, 11);
	/* Each preparer saw the whole document. */
	assert_int_equal(b0->workers, 3);
	assert_int_equal(b1->npaths, 2);
	assert_null(cfgpool_config_params(cfg, 2));
	assert_null(cfgpool_config_params(cfg, SIZE_MAX));
	cfgpool_config_free(cfg);
}

static void preparers_run_once_each_in_order(void **state)
{
	int order[8];
	int norder = 0;
	struct prep_ctx c0 = {.id = 1, .order = order, .norder = &norder};
	struct prep_ctx c1 = {.id = 2, .order = order, .norder = &norder};
	const cfgpool_prep_t preps[] = {
	    {"first", test_prepare, test_release, &c0},
	    {"second", test_prepare, test_release, &c1},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 2};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str_opts(prep_doc, &opts, &cfg, &err), 0);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(c0.prepared, 1);
	assert_int_equal(c1.prepared, 1);
	cfgpool_config_free(cfg);
}

static void preparer_blocks_are_released_once_on_free(void **state)
{
	struct prep_ctx c0 = {.id = 1}, c1 = {.id = 2};
	const cfgpool_prep_t preps[] = {
	    {"first", test_prepare, test_release, &c0},
	    {"second", test_prepare, test_release, &c1},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 2};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str_opts(prep_doc, &opts, &cfg, &err), 0);
	/* Nothing is released while the configuration lives. */
	assert_int_equal(c0.released, 0);
	assert_int_equal(c1.released, 0);
	cfgpool_config_free(cfg);
	assert_int_equal(c0.released, 1);
	assert_int_equal(c1.released, 1);
}

static void preparer_without_release_is_allowed(void **state)
{
	struct prep_ctx c0 = {.id = 1, .store_null = true};
	const cfgpool_prep_t preps[] = {
	    {"no-release", test_prepare, NULL, &c0},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 1};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str_opts(prep_doc, &opts, &cfg, &err), 0);
	assert_int_equal(c0.prepared, 1);
	assert_null(cfgpool_config_params(cfg, 0));
	cfgpool_config_free(cfg);
	assert_int_equal(c0.released, 0);
}

static void preparer_storing_null_gives_null_params(void **state)
{
	struct prep_ctx c0 = {.id = 1, .store_null = true}, c1 = {.id = 2};
	const cfgpool_prep_t preps[] = {
	    {"null", test_prepare, test_release, &c0},
	    {"block", test_prepare, test_release, &c1},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 2};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	const struct block *b1;

	assert_int_equal(load_str_opts(prep_doc, &opts, &cfg, &err), 0);
	assert_null(cfgpool_config_params(cfg, 0));
	b1 = cfgpool_config_params(cfg, 1);
	assert_non_null(b1);
	assert_int_equal(b1->id, 2);
	cfgpool_config_free(cfg);
	assert_int_equal(c1.released, 1);
}

static void failing_preparer_rejects_the_document_with_its_code_path_and_text(void **state)
{
	struct prep_ctx c0 = {.id = 1}, c1 = {.id = 2, .fail = 1};
	const cfgpool_prep_t preps[] = {
	    {"first", test_prepare, test_release, &c0},
	    {"kernel", test_prepare, test_release, &c1},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 2};
	cfgpool_config_t *sentinel = (cfgpool_config_t *)&c0;
	cfgpool_config_t *cfg = sentinel;
	cfgpool_error_t err;

	assert_int_equal(load_str_opts(prep_doc_bad, &opts, &cfg, &err), -ERANGE);
	assert_ptr_equal(cfg, sentinel);
	assert_int_equal(err.code, -ERANGE);
	assert_string_equal(err.path, "kernel.paths");
	assert_string_equal(err.text, "expected at most 2 paths, got 3");
	assert_string_equal(err.source, "<string>");
}

static void failing_preparer_releases_the_blocks_made_before_it(void **state)
{
	struct prep_ctx c0 = {.id = 1}, c1 = {.id = 2, .fail = 1}, c2 = {.id = 3};
	const cfgpool_prep_t preps[] = {
	    {"first", test_prepare, test_release, &c0},
	    {"kernel", test_prepare, test_release, &c1},
	    {"third", test_prepare, test_release, &c2},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 3};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	assert_int_equal(load_str_opts(prep_doc_bad, &opts, &cfg, &err), -ERANGE);
	assert_int_equal(c0.prepared, 1);
	assert_int_equal(c0.released, 1);
	/* The failing one made nothing to release. */
	assert_int_equal(c1.prepared, 0);
	assert_int_equal(c1.released, 0);
	/* Whether a later preparer ran is the implementation's business; it must not leak. */
	assert_int_equal(c2.released, c2.prepared);
}

static void same_preparers_accept_a_good_document_after_a_bad_one(void **state)
{
	struct prep_ctx c0 = {.id = 1}, c1 = {.id = 2, .fail = 1};
	const cfgpool_prep_t preps[] = {
	    {"first", test_prepare, test_release, &c0},
	    {"kernel", test_prepare, test_release, &c1},
	};
	cfgpool_load_opts_t opts = {.preps = preps, .nprep = 2};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	const struct block *b1;

	assert_int_equal(load_str_opts(prep_doc_bad, &opts, &cfg, &err), -ERANGE);
	assert_null(cfg);
	assert_int_equal(load_str_opts(prep_doc, &opts, &cfg, &err), 0);
	assert_int_equal(err.code, 0);
	b1 = cfgpool_config_params(cfg, 1);
	assert_non_null(b1);
	assert_int_equal(b1->npaths, 2);
	cfgpool_config_free(cfg);
	assert_int_equal(c0.prepared, 2);
	assert_int_equal(c0.released, 2);
	assert_int_equal(c1.prepared, 1);
	assert_int_equal(c1.released, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(config_root_is_an_object),
	    cmocka_unit_test(config_size_is_positive),
	    cmocka_unit_test(config_source_size_equals_text_length),
	    cmocka_unit_test(unpublished_config_has_version_zero),
	    cmocka_unit_test(config_without_preparers_has_no_params),
	    cmocka_unit_test(config_free_of_null_is_a_noop),
	    cmocka_unit_test(config_size_grows_with_the_document),
	    cmocka_unit_test(node_type_of_every_json_type),
	    cmocka_unit_test(type_name_of_every_type),
	    cmocka_unit_test(get_int_reads_zero_and_negative),
	    cmocka_unit_test(get_int_reads_int64_max_and_min),
	    cmocka_unit_test(get_double_reads_reals),
	    cmocka_unit_test(get_double_accepts_an_integer),
	    cmocka_unit_test(get_bool_reads_true_and_false),
	    cmocka_unit_test(get_string_reads_string_and_length),
	    cmocka_unit_test(get_string_len_may_be_null),
	    cmocka_unit_test(get_string_of_empty_string_has_length_zero),
	    cmocka_unit_test(get_string_with_embedded_nul_reports_full_length),
	    cmocka_unit_test(get_string_decodes_unicode_escapes_to_utf8),
	    cmocka_unit_test(get_string_keeps_raw_utf8),
	    cmocka_unit_test(get_string_decodes_json_escapes),
	    cmocka_unit_test(get_length_of_arrays_and_objects),
	    cmocka_unit_test(get_length_of_empty_array_and_object_is_zero),
	    cmocka_unit_test(nested_path_reads_a_deep_value),
	    cmocka_unit_test(lookup_then_relative_paths_from_the_found_node),
	    cmocka_unit_test(get_int_rejects_a_real_with_etype),
	    cmocka_unit_test(get_int_rejects_other_types_and_leaves_out),
	    cmocka_unit_test(get_double_rejects_non_numbers_and_leaves_out),
	    cmocka_unit_test(get_bool_rejects_numbers_strings_null_and_leaves_out),
	    cmocka_unit_test(get_string_rejects_non_strings_and_leaves_out),
	    cmocka_unit_test(get_length_rejects_scalars_and_leaves_out),
	    cmocka_unit_test(missing_key_is_enoent_for_every_getter),
	    cmocka_unit_test(index_past_the_end_is_enoent_for_every_getter),
	    cmocka_unit_test(missing_intermediate_is_enoent_for_every_getter),
	    cmocka_unit_test(stepping_into_a_scalar_is_etype_for_every_getter),
	    cmocka_unit_test(index_step_into_an_object_is_etype),
	    cmocka_unit_test(member_step_into_an_array_is_etype),
	    cmocka_unit_test(null_and_empty_path_designate_the_node_itself),
	    cmocka_unit_test(getters_with_null_or_empty_path_read_the_starting_node),
	    cmocka_unit_test(lookup_of_the_same_path_twice_gives_the_same_node),
	    cmocka_unit_test(bare_first_step_then_dotted_steps),
	    cmocka_unit_test(index_steps_chain),
	    cmocka_unit_test(index_first_step_from_an_array_node),
	    cmocka_unit_test(quoted_first_step_from_root),
	    cmocka_unit_test(quoted_step_reads_a_key_with_a_dot),
	    cmocka_unit_test(bare_dotted_name_is_two_steps_not_a_key_with_a_dot),
	    cmocka_unit_test(quoted_step_reads_the_empty_key),
	    cmocka_unit_test(quoted_step_unescapes_quote_and_backslash),
	    cmocka_unit_test(quoted_step_reads_keys_with_brackets),
	    cmocka_unit_test(bare_name_may_contain_spaces_and_backslashes),
	    cmocka_unit_test(bare_name_reads_utf8_key),
	    cmocka_unit_test(malformed_paths_are_epath),
	    cmocka_unit_test(unknown_escape_in_quoted_key_is_epath),
	    cmocka_unit_test(malformed_path_is_epath_even_when_its_prefix_is_missing),
	    cmocka_unit_test(object_member_iterates_in_document_order),
	    cmocka_unit_test(object_member_value_is_the_member_node),
	    cmocka_unit_test(object_member_past_the_end_is_enoent_and_leaves_outputs),
	    cmocka_unit_test(object_member_of_a_non_object_is_etype),
	    cmocka_unit_test(object_member_gives_keys_exactly_as_decoded),
	    cmocka_unit_test(object_get_finds_a_key_with_a_dot),
	    cmocka_unit_test(object_get_uses_key_len_not_the_nul),
	    cmocka_unit_test(object_get_takes_path_syntax_literally),
	    cmocka_unit_test(object_get_of_a_non_object_is_etype),
	    cmocka_unit_test(array_get_returns_elements_in_order),
	    cmocka_unit_test(array_get_past_the_end_is_enoent),
	    cmocka_unit_test(array_get_of_a_non_array_is_etype),
	    cmocka_unit_test(big_object_finds_each_member_by_path),
	    cmocka_unit_test(big_object_finds_each_member_by_object_get),
	    cmocka_unit_test(big_object_reports_absent_keys),
	    cmocka_unit_test(big_object_iterates_in_document_order),
	    cmocka_unit_test(object_with_a_thousand_members_finds_and_iterates_each),
	    cmocka_unit_test(seed_version_is_one),
	    cmocka_unit_test(seed_disable_existing_loggers_is_false),
	    cmocka_unit_test(seed_root_logger_level_is_info),
	    cmocka_unit_test(seed_another_module_level_is_debug),
	    cmocka_unit_test(seed_unquoted_dotted_logger_name_is_not_found),
	    cmocka_unit_test(seed_members_in_document_order_with_counts),
	    cmocka_unit_test(seed_sizes_and_version),
	    cmocka_unit_test(preparer_blocks_come_back_by_index),
	    cmocka_unit_test(preparers_run_once_each_in_order),
	    cmocka_unit_test(preparer_blocks_are_released_once_on_free),
	    cmocka_unit_test(preparer_without_release_is_allowed),
	    cmocka_unit_test(preparer_storing_null_gives_null_params),
	    cmocka_unit_test(failing_preparer_rejects_the_document_with_its_code_path_and_text),
	    cmocka_unit_test(failing_preparer_releases_the_blocks_made_before_it),
	    cmocka_unit_test(same_preparers_accept_a_good_document_after_a_bad_one),
	};

	return cmocka_run_group_tests(tests, load_doc, free_doc);
}
