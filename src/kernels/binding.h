/*
 * The kernel binding: which kernel a configuration is for, and that kernel's prepared
 * block. Internal; the pool's preparer binds every configuration it prepares.
 */
#ifndef CFGPOOL_SRC_BINDING_H
#define CFGPOOL_SRC_BINDING_H

#include <stdbool.h>

#include <cfgpool/cfgpool.h>

struct cfgpool__plugin;

struct cfgpool__kernel_block {
	const cfgpool_kernel_t *kernel;
	void *params;                   /* the kernel's prepare made it; released with it */
	struct cfgpool__plugin *plugin; /* the object `kernel` lives in (one reference), or NULL */
};

/*
 * Binds the document `root` to a kernel: `want` when not NULL (a `kernel.name`, if
 * present, must then name it: the rule "this pool runs kernel K"; with `name_required`
 * it must be present too, unless the document names a plug-in), else the plug-in named
 * by `kernel.plugin` (loaded, relative to the configuration's directory), else the
 * built-in named by `kernel.name`. `want_plugin` is the object `want` lives in when the
 * pool runs a plug-in: the document must then name that same file, unchanged, and the
 * block shares its reference; without it a document naming a plug-in is refused when
 * `want` is set. Runs that kernel's
 * prepare on the `kernel` member of `base` (the object holding cfgpool's sections: `root`
 * or one inside it; NULL: none), with the whole document as its root. 0, or
 * CFGPOOL_ESCHEMA / the kernel's code with `err` naming the path from "kernel".
 */
int cfgpool__kernel_bind(const cfgpool_kernel_t *want, struct cfgpool__plugin *want_plugin, bool name_required, const cfgpool_node_t *base,
			 const cfgpool_node_t *root, struct cfgpool__kernel_block *kb, cfgpool_error_t *err);

/* Releases what cfgpool__kernel_bind() prepared, then its reference to the plug-in. */
void cfgpool__kernel_unbind(struct cfgpool__kernel_block *kb);

#endif /* CFGPOOL_SRC_BINDING_H */
