/*
 * The plug-in loader: a kernel from a shared object named by `kernel.plugin`, checked
 * against the ABI of <cfgpool/plugin.h>, shared by reference count. Internal; the kernel
 * binding is its only caller.
 */
#ifndef CFGPOOL_SRC_PLUGIN_H
#define CFGPOOL_SRC_PLUGIN_H

#include <stdbool.h>
#include <sys/stat.h>

#include <cfgpool/cfgpool.h>

/*
 * One loaded object. `refs` counts the configurations prepared with it and the pools
 * running it; the last cfgpool__plugin_unref() closes it. Everything else is written once
 * by the load and read-only after.
 */
struct cfgpool__plugin {
	_Atomic unsigned refs;
	void *handle;
	const cfgpool_kernel_t *kernel; /* points into the object */
	struct stat st;                 /* the file as it was when it was opened */
	char path[];                    /* as opened: the configuration's directory applied */
};

/*
 * Loads the plug-in `name` (kernel.plugin's value; relative to `dir`, NULL: the working
 * directory) with one reference. 0, or the error at `kernel.plugin` naming the file
 * (see <cfgpool/plugin.h>). The loading thread only.
 */
int cfgpool__plugin_load(const char *name, const char *dir, struct cfgpool__plugin **out, cfgpool_error_t *err);

/*
 * Whether `name` (resolved as by cfgpool__plugin_load) is the file `p` was opened from,
 * unchanged. Otherwise records why not at `kernel.plugin` and returns CFGPOOL_ESCHEMA (or
 * the file system's code when the file is gone).
 */
int cfgpool__plugin_same(const struct cfgpool__plugin *p, const char *name, const char *dir, cfgpool_error_t *err);

/* Takes one more reference. Any thread. */
void cfgpool__plugin_ref(struct cfgpool__plugin *p);

/* Drops one; the last one closes the object. Any thread; NULL is a no-op. */
void cfgpool__plugin_unref(struct cfgpool__plugin *p);

#endif /* CFGPOOL_SRC_PLUGIN_H */
