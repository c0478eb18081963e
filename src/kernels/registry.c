/*
 * The registry of built-in kernels. The tables are static and constant, so lookups need no
 * lock and no initialisation.
 */
#include "config.h"

#include <string.h>

#include "kernels.h"

static const cfgpool_kernel_t *const builtin_kernels[] = {
	&cfgpool__kernel_mc_option,
	&cfgpool__kernel_spin,
	&cfgpool__kernel_curve,
	NULL,
};

const cfgpool_kernel_t *cfgpool_kernel_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; builtin_kernels[i] != NULL; i++) {
		if (strcmp(builtin_kernels[i]->name, name) == 0)
			return builtin_kernels[i];
	}
	return NULL;
}

const cfgpool_kernel_t *const *cfgpool_kernel_list(void)
{
	return builtin_kernels;
}
