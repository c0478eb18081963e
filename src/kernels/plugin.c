/*
 * The plug-in loader. A configuration's `kernel.plugin` names a shared object; it is
 * opened here with dlopen(RTLD_NOW | RTLD_LOCAL), its entry point called and its ABI and
 * version checked before anything of it runs. The loaded object is shared by reference
 * count between the configurations prepared with it and the pools running it, so it is
 * closed only when none is left: a published configuration drops its reference after its
 * grace period, a pool after its workers have exited.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cfgpool/plugin.h>

#include "error.h"
#include "plugin.h"

#define PATH_KEY "kernel.plugin"

/* "0.2.0" from a CFGPOOL_VERSION_NUMBER. */
static void version_text(uint32_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u", (unsigned)(v >> 16), (unsigned)(v >> 8 & 0xff), (unsigned)(v & 0xff));
}

/* The version rule of <cfgpool/plugin.h>: the same major and minor version, any patch level. */
static bool version_compatible(uint32_t plugin, uint32_t library)
{
	return plugin >> 8 == library >> 8;
}

/*
 * The file `name` names: itself when absolute, else under `dir` (NULL: the working
 * directory). Always with a slash, so dlopen() opens that file and never searches the
 * library path for a bare name.
 */
static int resolve(const char *name, const char *dir, char *buf, size_t size, cfgpool_error_t *err)
{
	int n;

	if (*name == '\0')
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY, "expected the file name of a shared object, got \"\"");
	if (*name == '/')
		n = snprintf(buf, size, "%s", name);
	else
		n = snprintf(buf, size, "%s/%s", dir != NULL ? dir : ".", name);
	if (n < 0 || (size_t)n >= size)
		return cfgpool_error_set(err, -EINVAL, PATH_KEY, "%s: the file name is longer than %zu bytes", name,
					 size - 1);
	return 0;
}

static int stat_file(const char *path, struct stat *st, cfgpool_error_t *err)
{
	int rc;

	if (stat(path, st) == 0)
		return 0;
	rc = -errno;
	return cfgpool_error_set(err, rc, PATH_KEY, "cannot open plug-in %s: %s", path, cfgpool__system_strerror(rc));
}

/* What the entry point returned, checked; 0 or the refusal, naming `path` and both versions. */
static int check_plugin(const cfgpool_plugin_t *pl, const char *path, cfgpool_error_t *err)
{
	char theirs[16], ours[16];

	if (pl == NULL)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY, "plug-in %s: %s() returned NULL", path,
					 CFGPOOL_PLUGIN_SYMBOL);
	version_text(pl->version, theirs, sizeof(theirs));
	version_text(CFGPOOL_VERSION_NUMBER, ours, sizeof(ours));
	if (pl->abi != CFGPOOL_PLUGIN_ABI || !version_compatible(pl->version, CFGPOOL_VERSION_NUMBER))
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY,
					 "plug-in %s was built for cfgpool %s (plug-in ABI %u); this is cfgpool %s "
					 "(plug-in ABI %u): rebuild it against this version",
					 path, theirs, (unsigned)pl->abi, ours, (unsigned)CFGPOOL_PLUGIN_ABI);
	if (pl->kernel == NULL || pl->kernel->name == NULL || pl->kernel->name[0] == '\0' || pl->kernel->run == NULL)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY,
					 "plug-in %s: its kernel table needs a name and a run function", path);
	return 0;
}

int cfgpool__plugin_load(const char *name, const char *dir, struct cfgpool__plugin **out, cfgpool_error_t *err)
{
	char path[PATH_MAX];
	struct cfgpool__plugin *p;
	cfgpool_plugin_entry_t *entry;
	const cfgpool_plugin_t *pl;
	size_t len;
	int rc;

	rc = resolve(name, dir, path, sizeof(path), err);
	if (rc != 0)
		return rc;
	len = strlen(path);
	p = calloc(1, sizeof(*p) + len + 1);
	if (p == NULL)
		return cfgpool_error_set(err, -ENOMEM, PATH_KEY, "out of memory");
	memcpy(p->path, path, len + 1);
	rc = stat_file(path, &p->st, err);
	if (rc != 0)
		goto fail;
	/* From here on the plug-in's own code runs: its constructors, then its entry point. */
	p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (p->handle == NULL) {
		const char *why = dlerror();

		rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY, "cannot load plug-in %s: %s", path,
				       why != NULL ? why : "dlopen failed");
		goto fail;
	}
	dlerror();
	*(void **)&entry = dlsym(p->handle, CFGPOOL_PLUGIN_SYMBOL);
	if (entry == NULL) {
		const char *why = dlerror();

		rc = cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY, "plug-in %s has no entry point %s(): %s", path,
				       CFGPOOL_PLUGIN_SYMBOL, why != NULL ? why : "the symbol is NULL");
		goto fail;
	}
	pl = entry();
	rc = check_plugin(pl, path, err);
	if (rc != 0)
		goto fail;
	p->kernel = pl->kernel;
	atomic_init(&p->refs, 1);
	*out = p;
	return 0;
fail:
	if (p->handle != NULL)
		dlclose(p->handle);
	free(p);
	return rc;
}

int cfgpool__plugin_same(const struct cfgpool__plugin *p, const char *name, const char *dir, cfgpool_error_t *err)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	rc = resolve(name, dir, path, sizeof(path), err);
	if (rc == 0)
		rc = stat_file(path, &st, err);
	if (rc != 0)
		return rc;
	if (st.st_dev == p->st.st_dev && st.st_ino == p->st.st_ino && st.st_size == p->st.st_size &&
	    st.st_mtim.tv_sec == p->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == p->st.st_mtim.tv_nsec)
		return 0;
	if (strcmp(path, p->path) == 0 || (st.st_dev == p->st.st_dev && st.st_ino == p->st.st_ino))
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY,
					 "%s changed since the pool opened; restart to load the new build", path);
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, PATH_KEY,
				 "this pool runs plug-in %s (kernel \"%s\"), not %s; restart to load another", p->path,
				 p->kernel->name, path);
}

void cfgpool__plugin_ref(struct cfgpool__plugin *p)
{
	/* Relaxed: the caller already holds a reference, so the count cannot reach 0 meanwhile. */
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void cfgpool__plugin_unref(struct cfgpool__plugin *p)
{
	if (p == NULL)
		return;
	/* Acq_rel: every use of the object by the other holders happens before the dlclose
	 * of whoever drops the last reference (the acquire half pairs with their release). */
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	dlclose(p->handle);
	free(p);
}
