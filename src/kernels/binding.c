/*
 * The kernel binding: resolving the kernel a document is for and running its prepare
 * step. The pool's preparer calls it for every load and reload, with the kernel the pool
 * runs once it has one, so that no route can publish a document for another kernel.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_tree.h"
#include "binding.h"

/* The names of the built-in kernels, for messages: "mc_option, spin, curve". */
static void builtin_names(char *buf, size_t size)
{
	const cfgpool_kernel_t *const *k = cfgpool_kernel_list();
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; k[i] != NULL && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", k[i]->name);
}

int cfgpool__kernel_bind(const cfgpool_kernel_t *want, bool name_required, const cfgpool_node_t *base,
			 const cfgpool_node_t *root, struct cfgpool__kernel_block *kb, cfgpool_error_t *err)
{
	const cfgpool_kernel_t *kernel = want;
	const cfgpool_node_t *section = NULL;
	const char *name = NULL;
	char names[128];
	int rc;

	rc = base != NULL ? cfgpool_object_get(base, "kernel", 6, &section) : -ENOENT;
	if (rc == -ENOENT)
		section = NULL;
	else if (section->type != CFGPOOL_TYPE_OBJECT)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel", "expected an object, got %s",
					 cfgpool_type_name(section->type));
	if (section != NULL && cfgpool_get_string(section, "name", &name, NULL) == CFGPOOL_ETYPE)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name", "expected a string");
	builtin_names(names, sizeof(names));
	if (kernel == NULL || name_required) {
		if (name == NULL)
			return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name",
						 "missing: name the kernel to run (%s)", names);
	}
	if (kernel == NULL) {
		kernel = cfgpool_kernel_find(name);
		if (kernel == NULL)
			return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name",
						 "unknown kernel \"%s\" (built in: %s)", name, names);
	} else if (name != NULL && strcmp(name, kernel->name) != 0) {
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name", "this pool runs kernel \"%s\", got \"%s\"",
					 kernel->name, name);
	}

	kb->kernel = kernel;
	kb->params = NULL;
	if (kernel->prepare_arg != NULL)
		rc = kernel->prepare_arg(kernel->arg, section, root, &kb->params, err);
	else if (kernel->prepare != NULL)
		rc = kernel->prepare(section, root, &kb->params, err);
	else
		return 0;
	if (rc == 0)
		return 0;
	if (rc > 0)
		rc = -EINVAL; /* a kernel that broke the sign convention */
	return cfgpool_error_set(err, rc, "kernel", "kernel %s rejected its section", kernel->name);
}

void cfgpool__kernel_unbind(struct cfgpool__kernel_block *kb)
{
	if (kb->kernel != NULL && kb->kernel->release != NULL)
		kb->kernel->release(kb->params);
}
