/*
 * The plug-in ABI: a kernel built as a shared object, named by a configuration and loaded
 * by the pool's preparer. Included by <cfgpool/cfgpool.h>; compiles on its own, as C and
 * as C++.
 *
 * A plug-in exports one function, CFGPOOL_PLUGIN_SYMBOL, which returns a cfgpool_plugin_t:
 * the ABI number and cfgpool version it was built against and its kernel table (whose
 * `codec` member gives its JSON inputs and outputs). CFGPOOL_PLUGIN(table) defines it:
 *
 *     static const cfgpool_kernel_t my_kernel = {.name = "my_kernel", ...};
 *     CFGPOOL_PLUGIN(my_kernel)
 *
 * A configuration names it with `"kernel": {"plugin": "PATH.so", ...}`. A relative PATH is
 * relative to the directory of the configuration file; for a configuration loaded from a
 * string, relative to the working directory. A `kernel.name` beside it, if given, must be
 * the plug-in kernel's name; the kernel's prepare gets the whole section, `plugin` and
 * `name` included. The loader opens the file with dlopen(RTLD_NOW | RTLD_LOCAL),
 * calls the entry point and refuses the plug-in unless
 *  - its `abi` equals this library's CFGPOOL_PLUGIN_ABI, and
 *  - its `version` has this library's major and minor version: a minor release may
 *    change the kernel table (it grew in 0.2), a patch release does not, so the patch
 *    level does not matter.
 * The message of a refusal states both versions. Every failure is a configuration error at
 * `kernel.plugin` naming the file: -ENOENT (or the file system's code) when the file cannot
 * be found, CFGPOOL_ESCHEMA when dlopen() fails (with dlerror()'s text), when the entry
 * point is missing, when the versions do not match, when the table has no name or no run,
 * or when `kernel.name` names another kernel.
 *
 * Trust. A configuration naming a plug-in runs that plug-in's code in the process that
 * loads it, with its privileges, as soon as it is loaded (`cfgpool check` included): treat
 * configuration files like code, and let nobody write them whom you would not let write
 * the program.
 *
 * Lifetime. Every configuration prepared with the plug-in holds a reference to the loaded
 * object, dropped when the configuration is released (for a published one, after its
 * grace period, so never while a task of that configuration runs); a pool holds its own
 * for as long as it is open. The object is closed (dlclose) with its last reference.
 *
 * Reload. A pool runs the one plug-in it was opened with. A reload naming the same file,
 * unchanged (same device, inode, size and modification time), is accepted and shares the
 * loaded object. A reload naming another file, or the same file changed on disk since the
 * pool opened, or no plug-in, is refused with CFGPOOL_ESCHEMA at `kernel.plugin` and the
 * old configuration stays: dlopen() of a path already loaded returns the code already in
 * memory, so a rebuilt plug-in only takes effect in a new process.
 */
#ifndef CFGPOOL_PLUGIN_H
#define CFGPOOL_PLUGIN_H

#include <stdint.h>

#include <cfgpool/kernel.h>
#include <cfgpool/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The plug-in ABI number: the layout of cfgpool_plugin_t and the entry point's name. */
#define CFGPOOL_PLUGIN_ABI 1

/* What a plug-in's entry point returns. Static, valid while the object is loaded. */
typedef struct cfgpool_plugin {
	uint32_t abi;                   /* CFGPOOL_PLUGIN_ABI when it was built */
	uint32_t version;               /* CFGPOOL_VERSION_NUMBER when it was built */
	const cfgpool_kernel_t *kernel; /* the kernel table, codec included */
} cfgpool_plugin_t;

/* The name of the one symbol a plug-in exports, as dlsym() is given it. */
#define CFGPOOL_PLUGIN_SYMBOL "cfgpool_plugin_v1"

/* Exports the entry point from a plug-in built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define CFGPOOL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CFGPOOL_PLUGIN_EXPORT
#endif

/*
 * The entry point's prototype. Called on the loading thread each time the loader opens
 * the object; it must return the same static struct every time.
 */
typedef const cfgpool_plugin_t *cfgpool_plugin_entry_t(void);
CFGPOOL_PLUGIN_EXPORT const cfgpool_plugin_t *cfgpool_plugin_v1(void);

/*
 * Defines the entry point returning the kernel table `table` (an object, not a pointer),
 * built against the headers in use. Write it once, at file scope, in one source file.
 */
#define CFGPOOL_PLUGIN(table)                                                                     \
	CFGPOOL_PLUGIN_EXPORT const cfgpool_plugin_t *cfgpool_plugin_v1(void)                     \
	{                                                                                         \
		static const cfgpool_plugin_t cfgpool_plugin_self = {CFGPOOL_PLUGIN_ABI,          \
								     CFGPOOL_VERSION_NUMBER, &(table)}; \
		return &cfgpool_plugin_self;                                                      \
	}

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_PLUGIN_H */
