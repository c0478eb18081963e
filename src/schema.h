/*
 * The schema of the `pool` section, checked at load time and compiled into a typed block
 * stored with every configuration. Internal.
 */
#ifndef CFGPOOL_SRC_SCHEMA_H
#define CFGPOOL_SRC_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

#define CFGPOOL__MAX_WORKERS 1024
#define CFGPOOL__MAX_CPUS 1024

/* The `pool` section, compiled. A field absent from the document holds its default. */
struct cfgpool__pool_params {
	uint32_t workers; /* 0: one per CPU in the affinity mask (or in `cpus`) */
	uint32_t ncpus;   /* 0: no explicit list; else cpus[] holds ncpus integer nodes */
	bool pin;
	uint32_t queue_capacity;
	uint32_t idle_spin_us;
	bool caller_helps;
	uint32_t wake_threshold_us;
	uint32_t periodic_spin_us;
	const cfgpool_node_t *cpus; /* the `pool.cpus` array inside the same configuration */
	const int *opt_cpus;        /* instead of cpus: the open options' list, borrowed during open */
};

/*
 * Checks the `pool` member of `base` (the object holding cfgpool's sections; NULL or no
 * member: defaults) and fills `out`. Paths in errors start at "pool". 0 or CFGPOOL_ESCHEMA.
 */
int cfgpool__pool_schema(const cfgpool_node_t *base, struct cfgpool__pool_params *out, cfgpool_error_t *err);

/*
 * Overrides `p` with the fields `opts` sets (nonzero), each checked against the range the
 * document's field has; the CPUs only for range and duplicates (the affinity mask is the
 * opener's to check). 0 or -EINVAL with the option's path ("opts.workers").
 */
int cfgpool__pool_apply_opts(const cfgpool_pool_opts_t *opts, struct cfgpool__pool_params *p, cfgpool_error_t *err);

#endif /* CFGPOOL_SRC_SCHEMA_H */
