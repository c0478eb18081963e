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
#include "plugin.h"

/* The names of the built-in kernels, for messages: "mc_option, spin, curve". */
static void builtin_names(char *buf, size_t size)
{
	const cfgpool_kernel_t *const *k = cfgpool_kernel_list();
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; k[i] != NULL && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", k[i]->name);
}

/*
 * Binds to the plug-in `file` (kernel.plugin): the pool's own when it runs one (the same
 * file, unchanged, sharing its reference), else a fresh load. Refused when the pool runs
 * a kernel that is not a plug-in, or when `name` (kernel.name) names another kernel.
 */
static int bind_plugin(const cfgpool_kernel_t *want, struct cfgpool__plugin *want_plugin, const char *file,
		       const char *name, const cfgpool_node_t *root, struct cfgpool__kernel_block *kb,
		       cfgpool_error_t *err)
{
	const char *dir = cfgpool__config_dir(root);
	int rc;

	if (want_plugin != NULL) {
		rc = cfgpool__plugin_same(want_plugin, file, dir, err);
		if (rc != 0)
			return rc;
		cfgpool__plugin_ref(want_plugin);
		kb->plugin = want_plugin;
	} else if (want != NULL) {
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.plugin",
					 "this pool runs kernel \"%s\", which is not a plug-in", want->name);
	} else {
		rc = cfgpool__plugin_load(file, dir, &kb->plugin, err);
		if (rc != 0)
			return rc;
	}
	kb->kernel = kb->plugin->kernel;
	if (name != NULL && strcmp(name, kb->kernel->name) != 0) {
		rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name", "plug-in %s holds kernel \"%s\", not \"%s\"",
				       kb->plugin->path, kb->kernel->name, name);
		cfgpool__plugin_unref(kb->plugin);
		kb->plugin = NULL;
		return rc;
	}
	return 0;
}

/* The built-in or host kernel: `want`, or the built-in `name` names. */
static int bind_named(const cfgpool_kernel_t *want, bool name_required, const char *name,
		      struct cfgpool__kernel_block *kb, cfgpool_error_t *err)
{
	const cfgpool_kernel_t *kernel = want;
	char names[128];

	builtin_names(names, sizeof(names));
	if (kernel == NULL || name_required) {
		if (name == NULL)
			return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name",
						 "missing: name the kernel to run (%s) or a plug-in (kernel.plugin)", names);
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
	return 0;
}

int cfgpool__kernel_bind(const cfgpool_kernel_t *want, struct cfgpool__plugin *want_plugin, bool name_required,
			 const cfgpool_node_t *base, const cfgpool_node_t *root, struct cfgpool__kernel_block *kb,
			 cfgpool_error_t *err)
{
	const cfgpool_node_t *section = NULL;
	const char *name = NULL, *file = NULL;
	int rc;

	rc = base != NULL ? cfgpool_object_get(base, "kernel", 6, &section) : -ENOENT;
	if (rc == -ENOENT)
		section = NULL;
	else if (section->type != CFGPOOL_TYPE_OBJECT)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel", "expected an object, got %s",
					 cfgpool_type_name(section->type));
	if (section != NULL && cfgpool_get_string(section, "name", &name, NULL) == CFGPOOL_ETYPE)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name", "expected a string");
	if (section != NULL && cfgpool_get_string(section, "plugin", &file, NULL) == CFGPOOL_ETYPE)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.plugin",
					 "expected a string, the file name of a shared object");

	kb->params = NULL;
	kb->plugin = NULL;
	if (file != NULL)
		rc = bind_plugin(want, want_plugin, file, name, root, kb, err);
	else if (want_plugin != NULL)
		rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.plugin", "missing: this pool runs plug-in %s (kernel \"%s\")",
				       want_plugin->path, want->name);
	else
		rc = bind_named(want, name_required, name, kb, err);
	if (rc != 0)
		return rc;

	if (kb->kernel->prepare_arg != NULL)
		rc = kb->kernel->prepare_arg(kb->kernel->arg, section, root, &kb->params, err);
	else if (kb->kernel->prepare != NULL)
		rc = kb->kernel->prepare(section, root, &kb->params, err);
	if (rc == 0)
		return 0;
	if (rc > 0)
		rc = -EINVAL; /* a kernel that broke the sign convention */
	cfgpool_error_set(err, rc, "kernel", "kernel %s rejected its section", kb->kernel->name);
	cfgpool__plugin_unref(kb->plugin);
	kb->plugin = NULL;
	return rc;
}

void cfgpool__kernel_unbind(struct cfgpool__kernel_block *kb)
{
	if (kb->kernel != NULL && kb->kernel->release != NULL)
		kb->kernel->release(kb->params);
	/* Last: the release above may be the plug-in's own code. */
	cfgpool__plugin_unref(kb->plugin);
}
