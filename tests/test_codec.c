/*
 * Codecs (<cfgpool/codec.h>): every sentence of the writer's contract, with the text read
 * back by jansson (a parser that is not the writer's) and compared value by value; and the
 * built-in kernels' codecs, field by field.
 */
#define _GNU_SOURCE

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>

#include "helpers.h"

static cfgpool_writer_t *new_writer(size_t max_bytes)
{
	cfgpool_writer_t *w = NULL;

	assert_int_equal(cfgpool_writer_create(max_bytes, &w), 0);
	assert_non_null(w);
	return w;
}

/* The writer's text, which must exist, as a string. */
static const char *text_of(const cfgpool_writer_t *w)
{
	size_t len = SIZE_MAX;
	const char *t = cfgpool_writer_text(w, &len);

	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	return t;
}

/* The text parsed by jansson, which must accept it whole. */
static json_t *parsed(const cfgpool_writer_t *w)
{
	json_error_t je;
	json_t *v = json_loads(text_of(w), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);

	if (v == NULL) {
		print_error("jansson refused \"%s\": %s\n", text_of(w), je.text);
		fail();
	}
	return v;
}

/* The writer holds `code`, its message contains `needle`, and it has no text. */
static void assert_stuck(const cfgpool_writer_t *w, int code, const char *needle)
{
	const char *msg = NULL;

	assert_int_equal(cfgpool_writer_error(w, &msg), code);
	assert_non_null(msg);
	if (strstr(msg, needle) == NULL) {
		print_error("message \"%s\" lacks \"%s\"\n", msg, needle);
		fail();
	}
	assert_null(cfgpool_writer_text(w, NULL));
}

/* --- structure ------------------------------------------------------------------------------- */

static void starts_empty_without_error(void **state)
{
	cfgpool_writer_t *w = new_writer(0);
	const char *msg = NULL;

	(void)state;
	assert_string_equal(text_of(w), "");
	assert_int_equal(cfgpool_writer_error(w, &msg), 0);
	assert_string_equal(msg, "");
	cfgpool_writer_destroy(w);
	cfgpool_writer_destroy(NULL);
	assert_int_equal(cfgpool_writer_create(0, NULL), -EINVAL);
}

static void nested_values_read_back(void **state)
{
	cfgpool_writer_t *w = new_writer(0);
	json_t *got, *want;

	(void)state;
	assert_int_equal(cfgpool_write_object_begin(w), 0);
	assert_int_equal(cfgpool_write_key(w, "n"), 0);
	assert_int_equal(cfgpool_write_null(w), 0);
	assert_int_equal(cfgpool_write_key(w, "t"), 0);
	assert_int_equal(cfgpool_write_bool(w, true), 0);
	assert_int_equal(cfgpool_write_key(w, "f"), 0);
	assert_int_equal(cfgpool_write_bool(w, false), 0);
	assert_int_equal(cfgpool_write_key(w, "arr"), 0);
	assert_int_equal(cfgpool_write_array_begin(w), 0);
	assert_int_equal(cfgpool_write_int(w, -3), 0);
	assert_int_equal(cfgpool_write_string(w, "two", 3), 0);
	assert_int_equal(cfgpool_write_array_begin(w), 0);
	assert_int_equal(cfgpool_write_array_end(w), 0);
	assert_int_equal(cfgpool_write_object_begin(w), 0);
	assert_int_equal(cfgpool_write_key(w, "k"), 0);
	assert_int_equal(cfgpool_write_double(w, 2.5), 0);
	assert_int_equal(cfgpool_write_object_end(w), 0);
	assert_int_equal(cfgpool_write_array_end(w), 0);
	assert_int_equal(cfgpool_write_key(w, "empty"), 0);
	assert_int_equal(cfgpool_write_object_begin(w), 0);
	assert_int_equal(cfgpool_write_object_end(w), 0);
	assert_int_equal(cfgpool_write_object_end(w), 0);

	got = parsed(w);
	want = json_loads("{\"n\": null, \"t\": true, \"f\": false, \"arr\": [-3, \"two\", [], {\"k\": 2.5}], \"empty\": {}}",
			  0, NULL);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	cfgpool_writer_destroy(w);
}

/* Each sequence ends in a misplaced call, which is -EINVAL. */
static void misplaced_calls_are_einval(void **state)
{
	enum { OB, OE, AB, AE, KEY, INT };
	static const struct {
		int ops[6];
		int n;
		const char *needle;
	} cases[] = {
	    {{KEY}, 1, "outside an object"},
	    {{AB, KEY}, 2, "outside an object"},
	    {{OB, INT}, 2, "key belongs"},
	    {{OB, KEY, KEY}, 3, "value of \"k\" belongs"},
	    {{OE}, 1, "nothing open"},
	    {{AE}, 1, "nothing open"},
	    {{AB, OE}, 2, "inside an array"},
	    {{OB, AE}, 2, "inside an object"},
	    {{OB, KEY, OE}, 3, "without its value"},
	    {{INT, INT}, 2, "second value at the top level"},
	    {{OB, OE, AB}, 3, "second value at the top level"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfgpool_writer_t *w = new_writer(0);
		int rc = 0;

		for (int k = 0; k < cases[i].n; k++) {
			switch (cases[i].ops[k]) {
			case OB: rc = cfgpool_write_object_begin(w); break;
			case OE: rc = cfgpool_write_object_end(w); break;
			case AB: rc = cfgpool_write_array_begin(w); break;
			case AE: rc = cfgpool_write_array_end(w); break;
			case KEY: rc = cfgpool_write_key(w, "k"); break;
			default: rc = cfgpool_write_int(w, 1); break;
			}
			assert_int_equal(rc, k == cases[i].n - 1 ? -EINVAL : 0);
		}
		assert_stuck(w, -EINVAL, cases[i].needle);
		cfgpool_writer_destroy(w);
	}
}

/* The first error sticks: every later call returns it, even a valid one; reset clears it. */
static void first_error_sticks_until_reset(void **state)
{
	cfgpool_writer_t *w = new_writer(0);
	const char *msg;

	(void)state;
	assert_int_equal(cfgpool_write_object_begin(w), 0);
	assert_int_equal(cfgpool_write_int(w, 1), -EINVAL);
	assert_int_equal(cfgpool_write_key(w, "a"), -EINVAL);
	assert_int_equal(cfgpool_write_double(w, NAN), -EINVAL);
	assert_int_equal(cfgpool_write_string(w, "\xff", 1), -EINVAL);
	assert_int_equal(cfgpool_write_object_end(w), -EINVAL);
	assert_int_equal(cfgpool_write_array_begin(w), -EINVAL);
	assert_int_equal(cfgpool_write_array_end(w), -EINVAL);
	assert_int_equal(cfgpool_write_null(w), -EINVAL);
	assert_int_equal(cfgpool_write_bool(w, true), -EINVAL);
	assert_int_equal(cfgpool_write_uint(w, 1), -EINVAL);
	assert_stuck(w, -EINVAL, "key belongs");

	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_writer_error(w, &msg), 0);
	assert_string_equal(msg, "");
	assert_string_equal(text_of(w), "");
	assert_int_equal(cfgpool_write_int(w, 7), 0);
	assert_string_equal(text_of(w), "7");
	cfgpool_writer_destroy(w);
}

/* --- the errors that are not about places ------------------------------------------------------ */

static void non_finite_is_edom_naming_the_key(void **state)
{
	static const struct {
		double v;
		const char *what;
	} cases[] = {{NAN, "nan"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfgpool_writer_t *w = new_writer(0);
		char needle[64];

		assert_int_equal(cfgpool_write_object_begin(w), 0);
		assert_int_equal(cfgpool_write_key(w, "std_error"), 0);
		assert_int_equal(cfgpool_write_double(w, cases[i].v), -EDOM);
		snprintf(needle, sizeof(needle), "std_error is not finite (%s)", cases[i].what);
		assert_stuck(w, -EDOM, needle);
		/* In an array the last key written is still named. */
		cfgpool_writer_reset(w);
		assert_int_equal(cfgpool_write_object_begin(w), 0);
		assert_int_equal(cfgpool_write_key(w, "xs"), 0);
		assert_int_equal(cfgpool_write_array_begin(w), 0);
		assert_int_equal(cfgpool_write_double(w, 1), 0);
		assert_int_equal(cfgpool_write_double(w, cases[i].v), -EDOM);
		assert_stuck(w, -EDOM, "xs");
		cfgpool_writer_destroy(w);
	}
}

static void invalid_utf8_is_eilseq(void **state)
{
	static const char *const bad[] = {
	    "\xff",             /* never in UTF-8 */
	    "a\x80",            /* a continuation byte alone */
	    "\xc0\x80",         /* overlong NUL */
	    "\xe0\x80\xaf",     /* overlong '/' */
	    "\xed\xa0\x80",     /* a surrogate */
	    "\xf4\x90\x80\x80", /* past U+10FFFF */
	    "\xe2\x82",         /* cut short */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfgpool_writer_t *w = new_writer(0);

		assert_int_equal(cfgpool_write_string(w, bad[i], strlen(bad[i])), -EILSEQ);
		assert_stuck(w, -EILSEQ, "not valid UTF-8");
		cfgpool_writer_reset(w);
		assert_int_equal(cfgpool_write_object_begin(w), 0);
		assert_int_equal(cfgpool_write_key(w, bad[i]), -EILSEQ);
		assert_stuck(w, -EILSEQ, "key that is not valid UTF-8");
		cfgpool_writer_destroy(w);
	}
}

static void past_max_bytes_is_e2big(void **state)
{
	cfgpool_writer_t *w = new_writer(8);
	size_t len;
	char *big;

	(void)state;
	/* Eight bytes exactly fit; a ninth does not. */
	assert_int_equal(cfgpool_write_string(w, "abcdef", 6), 0);
	assert_string_equal(text_of(w), "\"abcdef\"");
	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_string(w, "abcdefg", 7), -E2BIG);
	assert_stuck(w, -E2BIG, "limit of 8 bytes");
	/* The limit stays across a reset. */
	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_array_begin(w), 0);
	assert_int_equal(cfgpool_write_int(w, 1234567), 0);
	assert_int_equal(cfgpool_write_array_end(w), -E2BIG);
	cfgpool_writer_destroy(w);

	/* 0: a mebibyte. */
	w = new_writer(0);
	len = ((size_t)1 << 20) - 2;
	big = malloc(len + 1);
	assert_non_null(big);
	memset(big, 'x', len + 1);
	assert_int_equal(cfgpool_write_string(w, big, len), 0);
	assert_non_null(cfgpool_writer_text(w, &len));
	assert_int_equal(len, (size_t)1 << 20);
	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_string(w, big, len - 1), -E2BIG);
	free(big);
	cfgpool_writer_destroy(w);
}

static void nesting_past_the_limit_is_eloop(void **state)
{
	cfgpool_writer_t *w = new_writer(0);
	json_t *v;

	(void)state;
	for (int i = 0; i < CFGPOOL_MAX_DEPTH; i++)
		assert_int_equal(i % 2 ? cfgpool_write_array_begin(w) : cfgpool_write_object_begin(w) ||
							 cfgpool_write_key(w, "k"),
				 0);
	assert_int_equal(cfgpool_write_array_begin(w), -ELOOP);
	assert_stuck(w, -ELOOP, "limit of 64");

	/* Exactly the limit is fine, and reads back. */
	cfgpool_writer_reset(w);
	for (int i = 0; i < CFGPOOL_MAX_DEPTH; i++)
		assert_int_equal(cfgpool_write_array_begin(w), 0);
	for (int i = 0; i < CFGPOOL_MAX_DEPTH; i++)
		assert_int_equal(cfgpool_write_array_end(w), 0);
	v = parsed(w);
	assert_true(json_is_array(v));
	json_decref(v);
	cfgpool_writer_destroy(w);
}

/* --- strings and numbers ------------------------------------------------------------------------ */

/* Every control character, quote, backslash, a NUL inside and non-ASCII text read back intact. */
static void strings_and_keys_escaped(void **state)
{
	char s[64];
	size_t n = 0;
	cfgpool_writer_t *w = new_writer(0);
	json_t *v, *str;
	const char *key;

	(void)state;
	for (int c = 0; c < 0x20; c++)
		s[n++] = (char)c;
	memcpy(s + n, "\"\\/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 12);
	n += 12;
	assert_int_equal(cfgpool_write_object_begin(w), 0);
	assert_int_equal(cfgpool_write_key(w, "k\"\\\n\x01\xc3\xa9"), 0);
	assert_int_equal(cfgpool_write_string(w, s, n), 0);
	assert_int_equal(cfgpool_write_key(w, "empty"), 0);
	assert_int_equal(cfgpool_write_string(w, NULL, 0), 0);
	assert_int_equal(cfgpool_write_object_end(w), 0);
	/* Nothing below 0x20 is left raw in the text. */
	for (const char *p = text_of(w); *p; p++)
		assert_true((unsigned char)*p >= 0x20);
	assert_non_null(strstr(text_of(w), "\\u0000"));
	assert_non_null(strstr(text_of(w), "\\n"));

	v = parsed(w);
	assert_int_equal(json_object_size(v), 2);
	key = json_object_iter_key(json_object_iter(v));
	assert_string_equal(key, "k\"\\\n\x01\xc3\xa9");
	str = json_object_get(v, key);
	assert_int_equal(json_string_length(str), n);
	assert_memory_equal(json_string_value(str), s, n);
	assert_string_equal(json_string_value(json_object_get(v, "empty")), "");
	json_decref(v);

	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_string(w, NULL, 1), -EINVAL);
	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_object_begin(w), 0);
	assert_int_equal(cfgpool_write_key(w, NULL), -EINVAL);
	cfgpool_writer_destroy(w);
}

static void integers_exact(void **state)
{
	cfgpool_writer_t *w = new_writer(0);
	json_t *v;

	(void)state;
	assert_int_equal(cfgpool_write_array_begin(w), 0);
	assert_int_equal(cfgpool_write_int(w, INT64_MIN), 0);
	assert_int_equal(cfgpool_write_int(w, INT64_MAX), 0);
	assert_int_equal(cfgpool_write_int(w, 0), 0);
	assert_int_equal(cfgpool_write_uint(w, UINT64_MAX), 0);
	assert_int_equal(cfgpool_write_array_end(w), 0);
	assert_string_equal(text_of(w), "[-9223372036854775808,9223372036854775807,0,18446744073709551615]");
	/* jansson's integers stop at INT64_MAX: it reads the signed ones back. */
	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_array_begin(w), 0);
	assert_int_equal(cfgpool_write_int(w, INT64_MIN), 0);
	assert_int_equal(cfgpool_write_uint(w, INT64_MAX), 0);
	assert_int_equal(cfgpool_write_array_end(w), 0);
	v = parsed(w);
	assert_true(json_integer_value(json_array_get(v, 0)) == INT64_MIN);
	assert_true(json_integer_value(json_array_get(v, 1)) == INT64_MAX);
	json_decref(v);
	cfgpool_writer_destroy(w);
}

/* The text of one double, written alone. */
static const char *double_text(cfgpool_writer_t *w, double x)
{
	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_double(w, x), 0);
	return text_of(w);
}

/* The fewest significant digits of a %.Ng that reads back as x, found by trying every N. */
static int fewest_digits(double x)
{
	char buf[64];
	int digits;

	for (digits = 1; digits < 17; digits++) {
		snprintf(buf, sizeof(buf), "%.*g", digits, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	return digits;
}

/* The significant digits of a number's text: its mantissa without leading or trailing zeros. */
static int significant_digits(const char *t)
{
	const char *first = NULL, *last = NULL;

	for (const char *p = t; *p && *p != 'e'; p++) {
		if (*p >= '1' && *p <= '9') {
			if (first == NULL)
				first = p;
			last = p;
		}
	}
	if (first == NULL)
		return 1; /* zero */
	int n = 0;

	for (const char *p = first; p <= last; p++)
		n += *p >= '0' && *p <= '9';
	return n;
}

/* x written, read back by jansson as a real equal to x bit for bit, with no digit more than needed. */
static void assert_round_trip(cfgpool_writer_t *w, double x)
{
	const char *t = double_text(w, x);
	json_t *v = parsed(w);
	double back;

	if (!json_is_real(v)) {
		print_error("%.17g written as %s, which reads back as no real\n", x, t);
		fail();
	}
	back = json_real_value(v);
	if (memcmp(&back, &x, sizeof(x)) != 0) {
		print_error("%.17g written as %s reads back as %.17g\n", x, t, back);
		fail();
	}
	if (significant_digits(t) != fewest_digits(x)) {
		print_error("%.17g written as %s: %d digits, the fewest are %d\n", x, t, significant_digits(t),
			    fewest_digits(x));
		fail();
	}
	json_decref(v);
}

static void doubles_round_trip_shortest(void **state)
{
	static const double fixed[] = {
	    0.0,     1.0,     -1.0,     0.1,     0.2,      1.0 / 3, 2.0 / 3, 1e308,  -1e308, DBL_MAX,   -DBL_MAX,
	    DBL_MIN, 5e-324,  -5e-324,  1e-310,  DBL_MIN / 3, 123456789012345678.0, 1e21, 1e22, 1e-7,
	    10.450583572185565, 0.5, 100, 9007199254740993.0,
	};
	cfgpool_writer_t *w = new_writer(0);
	uint64_t seed = 42;
	size_t n = test_scaled(50000, 1000);
	json_t *v;

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_round_trip(w, fixed[i]);
	assert_string_equal(double_text(w, 0.1), "0.1");
	assert_string_equal(double_text(w, 1e308), "1e+308");
	assert_string_equal(double_text(w, 5e-324), "5e-324");
	assert_string_equal(double_text(w, 100), "100.0");
	/* -0.0 keeps its sign. */
	assert_string_equal(double_text(w, -0.0), "-0.0");
	v = parsed(w);
	assert_true(json_is_real(v) && json_real_value(v) == 0 && signbit(json_real_value(v)));
	json_decref(v);

	/* Random bit patterns: every exponent, subnormals included. */
	for (size_t i = 0; i < n; i++) {
		uint64_t bits;
		double x;

		seed += UINT64_C(0x9e3779b97f4a7c15);
		bits = seed;
		bits = (bits ^ (bits >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		bits = (bits ^ (bits >> 27)) * UINT64_C(0x94d049bb133111eb);
		bits ^= bits >> 31;
		if (i % 4 == 0)
			bits &= ~(UINT64_C(0x7ff) << 52); /* a subnormal */
		memcpy(&x, &bits, sizeof(x));
		if (!isfinite(x))
			continue;
		assert_round_trip(w, x);
	}
	cfgpool_writer_destroy(w);
}

/* --- threads ---------------------------------------------------------------------------------- */

#define THREADS 4

/* Writes the same array of doubles with a writer of its own; the text must not vary. */
static void *write_alone(void *arg)
{
	char **text = arg;
	cfgpool_writer_t *w = NULL;
	size_t n = test_scaled(20000, 100);
	bool ok = cfgpool_writer_create(0, &w) == 0;

	for (size_t round = 0; ok && round < 4; round++) {
		cfgpool_writer_reset(w);
		ok = cfgpool_write_array_begin(w) == 0;
		for (size_t i = 0; ok && i < n; i++)
			ok = cfgpool_write_double(w, 1.0 / (double)(i + 1)) == 0;
		ok = ok && cfgpool_write_array_end(w) == 0;
	}
	*text = ok ? strdup(cfgpool_writer_text(w, NULL)) : NULL;
	cfgpool_writer_destroy(w);
	return NULL;
}

/* Writers made and used on several threads at once do not disturb each other. */
static void writers_on_threads_at_once(void **state)
{
	pthread_t t[THREADS];
	char *text[THREADS];

	(void)state;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, write_alone, &text[i]), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_non_null(text[i]);
		assert_string_equal(text[i], text[0]);
	}
	for (int i = 0; i < THREADS; i++)
		free(text[i]);
}

/* --- the built-in kernels' codecs --------------------------------------------------------------- */

/* Decodes `json` with `kernel`'s codec into `input` (input_size bytes). */
static int decode(const char *kernel, const char *json, void *input, cfgpool_error_t *err)
{
	const cfgpool_kernel_t *k = cfgpool_kernel_find(kernel);
	cfgpool_config_t *cfg = load_ok(json);
	int rc;

	assert_non_null(k);
	assert_non_null(k->codec);
	memset(input, 0, k->input_size);
	cfgpool_error_init(err);
	rc = k->codec->decode(k->arg, cfgpool_config_root(cfg), input, err);
	cfgpool_config_free(cfg);
	return rc;
}

static void every_builtin_has_a_codec_whose_example_decodes(void **state)
{
	const cfgpool_kernel_t *const *list = cfgpool_kernel_list();
	char input[64];
	cfgpool_error_t err;

	(void)state;
	for (size_t i = 0; list[i] != NULL; i++) {
		const cfgpool_codec_t *c = list[i]->codec;

		assert_non_null(c);
		assert_non_null(c->example);
		assert_non_null(c->decode);
		assert_non_null(c->encode);
		assert_true(list[i]->input_size <= sizeof(input));
		assert_int_equal(decode(list[i]->name, c->example, input, &err), 0);
		assert_int_equal(err.code, 0);
	}
}

static void builtin_decode_reads_every_field(void **state)
{
	cfgpool_option_input_t o;
	cfgpool_spin_input_t s;
	cfgpool_curve_input_t c;
	cfgpool_error_t err;

	(void)state;
	assert_int_equal(decode("mc_option", "{\"id\": 1, \"spot\": 90.5, \"strike\": 95, \"maturity\": 0.25}", &o,
				&err),
			 0);
	assert_true(o.spot == 90.5 && o.strike == 95 && o.maturity == 0.25 && o.type == CFGPOOL_CALL);
	assert_int_equal(decode("mc_option", "{\"spot\": 1, \"strike\": 2, \"maturity\": 3, \"type\": \"put\"}", &o,
				&err),
			 0);
	assert_int_equal(o.type, CFGPOOL_PUT);
	assert_int_equal(decode("mc_option", "{\"spot\": 1, \"strike\": 2, \"maturity\": 3, \"type\": \"call\"}", &o,
				&err),
			 0);
	assert_int_equal(o.type, CFGPOOL_CALL);
	assert_int_equal(decode("spin", "{\"iterations\": 1099511627776}", &s, &err), 0);
	assert_true(s.iterations == UINT64_C(1) << 40);
	assert_int_equal(decode("curve", "{\"seed\": 9223372036854775807, \"count\": 100000000}", &c, &err), 0);
	assert_true(c.seed == UINT64_MAX >> 1 && c.count == 100000000);
}

/* Each bad field is refused with its code, its name as the path and what was expected. */
static void builtin_decode_names_the_bad_field(void **state)
{
	static const struct {
		const char *kernel, *json;
		int code;
		const char *path, *text;
	} cases[] = {
	    {"mc_option", "{\"strike\": 95, \"maturity\": 1}", -ENOENT, "spot", "expected a positive number"},
	    {"mc_option", "{\"spot\": \"x\", \"strike\": 95, \"maturity\": 1}", CFGPOOL_ETYPE, "spot",
	     "expected a positive number"},
	    {"mc_option", "{\"spot\": -1, \"strike\": 95, \"maturity\": 1}", -ERANGE, "spot",
	     "expected a positive number"},
	    {"mc_option", "{\"spot\": 100, \"strike\": 0, \"maturity\": 1}", -ERANGE, "strike",
	     "expected a positive number"},
	    {"mc_option", "{\"spot\": 100, \"strike\": 95}", -ENOENT, "maturity", "expected a positive number"},
	    {"mc_option", "{\"spot\": 100, \"strike\": 95, \"maturity\": 1, \"type\": 1}", CFGPOOL_ETYPE, "type",
	     "expected \"call\" or \"put\""},
	    {"mc_option", "{\"spot\": 100, \"strike\": 95, \"maturity\": 1, \"type\": \"straddle\"}", -ERANGE, "type",
	     "expected \"call\" or \"put\""},
	    {"spin", "{}", -ENOENT, "iterations", "expected an integer from 0 to 1099511627776"},
	    {"spin", "{\"iterations\": 1.5}", CFGPOOL_ETYPE, "iterations", "expected an integer from 0 to 1099511627776"},
	    {"spin", "{\"iterations\": -1}", -ERANGE, "iterations", "expected an integer from 0 to 1099511627776"},
	    {"spin", "{\"iterations\": 1099511627777}", -ERANGE, "iterations", "from 0 to 1099511627776"},
	    {"curve", "{\"count\": 1}", -ENOENT, "seed", "expected an integer from 0 to 9223372036854775807"},
	    {"curve", "{\"seed\": -1, \"count\": 1}", -ERANGE, "seed", "from 0 to 9223372036854775807"},
	    {"curve", "{\"seed\": 1, \"count\": 100000001}", -ERANGE, "count", "expected an integer from 0 to 100000000"},
	    {"curve", "{\"seed\": 1, \"count\": null}", CFGPOOL_ETYPE, "count", "from 0 to 100000000"},
	};
	char input[64];
	cfgpool_error_t err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = decode(cases[i].kernel, cases[i].json, input, &err);

		if (rc != cases[i].code || err.code != rc || strcmp(err.path, cases[i].path) != 0 ||
		    strstr(err.text, cases[i].text) == NULL) {
			print_error("%s %s: %d (%s) at \"%s\": \"%s\"; expected %d at \"%s\": \"%s\"\n", cases[i].kernel,
				    cases[i].json, rc, cfgpool_err_name(rc), err.path, err.text, cases[i].code,
				    cases[i].path, cases[i].text);
			fail();
		}
	}
}

/* Encodes `output` with `kernel`'s codec inside an object, as the command does. */
static int encode(const char *kernel, const void *output, cfgpool_writer_t *w)
{
	const cfgpool_kernel_t *k = cfgpool_kernel_find(kernel);
	int rc;

	cfgpool_writer_reset(w);
	assert_int_equal(cfgpool_write_object_begin(w), 0);
	rc = k->codec->encode(k->arg, output, w);
	if (rc == 0)
		rc = cfgpool_write_object_end(w);
	return rc;
}

static void builtin_encode_writes_every_member(void **state)
{
	cfgpool_writer_t *w = new_writer(0);
	cfgpool_option_output_t o = {.price = 10.450583572185565, .std_error = 0.25, .paths = UINT64_C(100000000)};
	cfgpool_spin_output_t s = {.value = -0.4161468365471423};
	cfgpool_curve_output_t c = {.sum = 1e308};
	json_t *got, *want;

	(void)state;
	assert_int_equal(encode("mc_option", &o, w), 0);
	got = parsed(w);
	want = json_pack("{s:f, s:f, s:I}", "price", o.price, "std_error", 0.25, "paths", (json_int_t)100000000);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	assert_int_equal(encode("spin", &s, w), 0);
	assert_string_equal(text_of(w), "{\"value\":-0.4161468365471423}");
	assert_int_equal(encode("curve", &c, w), 0);
	assert_string_equal(text_of(w), "{\"sum\":1e+308}");
	cfgpool_writer_destroy(w);
}

static void builtin_encode_of_non_finite_is_edom(void **state)
{
	cfgpool_writer_t *w = new_writer(0);
	cfgpool_option_output_t o = {.price = 1, .std_error = NAN, .paths = 1};
	cfgpool_spin_output_t s = {.value = INFINITY};
	cfgpool_curve_output_t c = {.sum = -INFINITY};

	(void)state;
	assert_int_equal(encode("mc_option", &o, w), -EDOM);
	assert_stuck(w, -EDOM, "field std_error is not finite (nan)");
	o = (cfgpool_option_output_t){.price = NAN, .std_error = 1, .paths = 1};
	assert_int_equal(encode("mc_option", &o, w), -EDOM);
	assert_stuck(w, -EDOM, "field price is not finite (nan)");
	assert_int_equal(encode("spin", &s, w), -EDOM);
	assert_stuck(w, -EDOM, "field value is not finite (inf)");
	assert_int_equal(encode("curve", &c, w), -EDOM);
	assert_stuck(w, -EDOM, "field sum is not finite (-inf)");
	cfgpool_writer_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(starts_empty_without_error),
	    cmocka_unit_test(nested_values_read_back),
	    cmocka_unit_test(misplaced_calls_are_einval),
	    cmocka_unit_test(first_error_sticks_until_reset),
	    cmocka_unit_test(non_finite_is_edom_naming_the_key),
	    cmocka_unit_test(invalid_utf8_is_eilseq),
	    cmocka_unit_test(past_max_bytes_is_e2big),
	    cmocka_unit_test(nesting_past_the_limit_is_eloop),
	    cmocka_unit_test(strings_and_keys_escaped),
	    cmocka_unit_test(integers_exact),
	    cmocka_unit_test(doubles_round_trip_shortest),
	    cmocka_unit_test(writers_on_threads_at_once),
	    cmocka_unit_test(every_builtin_has_a_codec_whose_example_decodes),
	    cmocka_unit_test(builtin_decode_reads_every_field),
	    cmocka_unit_test(builtin_decode_names_the_bad_field),
	    cmocka_unit_test(builtin_encode_writes_every_member),
	    cmocka_unit_test(builtin_encode_of_non_finite_is_edom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
