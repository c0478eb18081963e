/*
 * The `pool` section's defaults, as compiled by the schema (src/schema.c), are the ones the
 * README's configuration reference and cfgpool(1) state: a document without `pool`, and
 * one with an empty `pool`, compile to the same block.
 */
#include "config.h"

#include <string.h>

#include "helpers.h"

#include "schema.h"

static void check_defaults(const char *doc)
{
	struct cfgpool__pool_params p;
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_string(doc, strlen(doc), NULL, &cfg, &err), 0);
	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(cfgpool__pool_schema(cfgpool_config_root(cfg), &p, &err), 0);
	assert_int_equal(p.workers, 0); /* one per CPU of the affinity mask */
	assert_int_equal(p.ncpus, 0);   /* the whole mask */
	assert_true(p.pin);
	assert_int_equal(p.queue_capacity, 1024);
	assert_int_equal(p.idle_spin_us, 50);
	assert_true(p.caller_helps);
	assert_int_equal(p.wake_threshold_us, 50);
	assert_int_equal(p.periodic_spin_us, 200);
	cfgpool_config_free(cfg);
}

static void defaults_are_the_documented_ones(void **state)
{
	(void)state;
	check_defaults("{}");
	check_defaults("{\"pool\": {}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_the_documented_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
