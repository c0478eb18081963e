/* Small internal helpers shared by every file in src/. Not installed. */
#ifndef CFGPOOL_SRC_COMPAT_H
#define CFGPOOL_SRC_COMPAT_H

#include <stdio.h>
#include <stdlib.h>

#define cfgpool_likely(x) __builtin_expect(!!(x), 1)
#define cfgpool_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * The functions a batch runs through, from cfgpool_pool_map() to the kernel and back. The
 * compiler puts them in .text.hot, which the linker keeps together: a call after an idle
 * spell touches one or two code pages instead of one per source file.
 */
#define CFGPOOL_HOT __attribute__((hot))

#define CFGPOOL_CACHELINE 64
#define CFGPOOL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A broken invariant or a pthread call that cannot fail when used correctly: there is no
 * sane way to continue, so say where and why, then abort (like liburcu's urcu_die()).
 */
#define cfgpool__die(cause)                                                                          \
	do {                                                                                         \
		fprintf(stderr, "cfgpool: fatal: %s:%d: %s(): %s\n", __FILE__, __LINE__, __func__, (cause)); \
		abort();                                                                             \
	} while (0)

/* Aborts with the call's text when a pthread-style call (returning an errno) fails. */
#define cfgpool__check(call)                                                                         \
	do {                                                                                         \
		int cfgpool__rc = (call);                                                            \
		if (cfgpool_unlikely(cfgpool__rc != 0))                                              \
			cfgpool__die(#call " failed");                                               \
	} while (0)

#endif /* CFGPOOL_SRC_COMPAT_H */
