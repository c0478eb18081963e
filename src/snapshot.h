/*
 * The RCU holder: internal entry points for the pool, and the holder's record of one
 * publication of a configuration.
 */
#ifndef CFGPOOL_SRC_SNAPSHOT_H
#define CFGPOOL_SRC_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

#include "config_tree.h"

/*
 * What the holder keeps beside a configuration it published: the configuration's
 * `publication` points here from the claim to the free. Written before the configuration
 * is made current (the exchange's release orders it for readers), then read-only, except
 * `next`, which only the holder's reclaim side touches, under its lock.
 */
struct cfgpool__snapshot {
	struct cfgpool_config *cfg;
	cfgpool_holder_t *holder;
	uint64_t version;
	struct cfgpool__snapshot *next; /* retired, waiting for a grace period */
};

/*
 * The version a holder published `cfg` as, 0 if none. Inside a read-side section, on a
 * snapshot obtained in it, the record cannot change: relaxed is enough, since the
 * acquire load that returned `cfg` ordered the record's contents before it.
 */
static inline uint64_t cfgpool__snapshot_version(const struct cfgpool_config *cfg)
{
	const struct cfgpool__snapshot *s = atomic_load_explicit(&cfg->publication, memory_order_relaxed);

	return s != NULL ? s->version : 0;
}

/*
 * fork(). A pthread_atfork() child handler, registered by the first
 * cfgpool__fork_generation() call, adds one to cfgpool__forks in every child; a pool or
 * holder records the generation it was made in, and in a child, where none of its threads
 * exist, refuses with CFGPOOL_EFORKED every call that would need them. Relaxed: the
 * counter changes only in the child, before fork() returns there and while the child has
 * one thread, so the thread that reads it is the one that wrote it (or the counter never
 * changes in its process); the other threads a child may start later are created after
 * the increment, which pthread_create orders before them.
 */
extern _Atomic uint32_t cfgpool__forks;

/* The current generation, registering the handler first if it is not yet. */
uint32_t cfgpool__fork_generation(void);

/*
 * Whether this process is a child forked while threads besides the forking one were in
 * liburcu's registry or could run a grace period (snapshot.c): no new holder or pool can
 * work here, and cfgpool_holder_create refuses with CFGPOOL_EFORKED. One load.
 */
bool cfgpool__fork_refused(void);

/* Whether the process is a child forked after `generation` was taken. One load, no syscall. */
static inline bool cfgpool__forked(uint32_t generation)
{
	return atomic_load_explicit(&cfgpool__forks, memory_order_relaxed) != generation;
}

/* Whether the calling thread is inside a read-side section. */
bool cfgpool__reader_in_section(void);

/* The current snapshot; the caller must be inside a read-side section. */
const struct cfgpool_config *cfgpool__holder_deref(const cfgpool_holder_t *h);

/*
 * Publishes the first configuration of a holder the caller has just created and not yet
 * shared, without the check that it was loaded with the holder's own preparers: the pool
 * loads its first configuration by kernel name, then binds its holder to the kernel it
 * found. Otherwise as cfgpool_holder_publish(). 0, -EBUSY (published before) or -ENOMEM.
 */
int cfgpool__holder_publish_first(cfgpool_holder_t *h, struct cfgpool_config *cfg);

/*
 * Withdraws the current snapshot (only after a failed start, with no reader left) and
 * returns it unpublished: version 0, owned by nobody. The holder's version is unchanged.
 */
struct cfgpool_config *cfgpool__holder_unpublish(cfgpool_holder_t *h);

#endif /* CFGPOOL_SRC_SNAPSHOT_H */
