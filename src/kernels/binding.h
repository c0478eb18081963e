/*
 * The kernel binding: which kernel a configuration is for, and that kernel's prepared
 * block. Internal; the pool's preparer binds every configuration it prepares.
 */
#ifndef CFGPOOL_SRC_BINDING_H
#define CFGPOOL_SRC_BINDING_H

#include <stdbool.h>

#include <cfgpool/cfgpool.h>

struct cfgpool__kernel_block {
	const cfgpool_kernel_t *kernel;
	void *params; /* the kernel's prepare made it; released with it */
};

/*
 * Binds the document `root` to a kernel: `want` when not NULL (a `kernel.name`, if
 * present, must then name it: the rule "this pool runs kernel K"; with `name_required`
 * it must be present too), else the built-in named by `kernel.name`. Runs that kernel's
 * prepare on the `kernel` member of `base` (the object holding cfgpool's sections: `root`
 * or one inside it; NULL: none), with the whole document as its root. 0, or
 * CFGPOOL_ESCHEMA / the kernel's code with `err` naming the path from "kernel".
 */
int cfgpool__kernel_bind(const cfgpool_kernel_t *want, bool name_required, const cfgpool_node_t *base,
			 const cfgpool_node_t *root, struct cfgpool__kernel_block *kb, cfgpool_error_t *err);

/* Releases what cfgpool__kernel_bind() prepared. */
void cfgpool__kernel_unbind(struct cfgpool__kernel_block *kb);

#endif /* CFGPOOL_SRC_BINDING_H */
