/* The RCU holder: internal entry points for the pool. */
#ifndef CFGPOOL_SRC_SNAPSHOT_H
#define CFGPOOL_SRC_SNAPSHOT_H

#include <stdbool.h>

#include <cfgpool/cfgpool.h>

/* Whether the calling thread is inside a read-side section. */
bool cfgpool__reader_in_section(void);

/* The current snapshot; the caller must be inside a read-side section. */
const struct cfgpool_config *cfgpool__holder_deref(cfgpool_holder_t *h);

/*
 * Withdraws the current snapshot (only after a failed start, with no reader left) and
 * returns it unpublished: version 0, owned by nobody. The holder's version is unchanged.
 */
struct cfgpool_config *cfgpool__holder_unpublish(cfgpool_holder_t *h);

#endif /* CFGPOOL_SRC_SNAPSHOT_H */
