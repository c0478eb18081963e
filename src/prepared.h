/*
 * What the pool's preparer compiles into every configuration it loads: the `pool`
 * section and the kernel binding. Internal; read by everything that runs tasks, through
 * cfgpool__prepared() only.
 */
#ifndef CFGPOOL_SRC_PREPARED_H
#define CFGPOOL_SRC_PREPARED_H

#include "config_tree.h"
#include "kernels/binding.h"
#include "schema.h"

struct cfgpool__prepared {
	struct cfgpool__pool_params pool;
	struct cfgpool__kernel_block kernel;
};

/* The pool's block of a configuration loaded with the pool's preparer (always index 0). */
static inline const struct cfgpool__prepared *cfgpool__prepared(const struct cfgpool_config *cfg)
{
	return (const struct cfgpool__prepared *)cfg->params[0];
}

#endif /* CFGPOOL_SRC_PREPARED_H */
