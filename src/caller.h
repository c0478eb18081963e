/*
 * Caller slots: the kernel state of each thread that helps run its own batches, one slot
 * per thread and pool, made by worker_init on that thread the first time it helps and
 * finalised by worker_fini when the thread exits (on the exiting thread), or at close
 * (on the closing thread) for threads still alive then. A slot freed by an exited thread
 * serves the next thread that helps. Internal.
 *
 * Shared fields and what protects them:
 *   state          atomic: FREE -> OWNED by the claiming thread's CAS; OWNED -> FINALISING
 *                  under the ties lock; FINALISING -> FREE by the finaliser's release store
 *   tie            the ties lock (caller.c); the owner thread reads its own tie's link
 *   run, init_rc, kstate, index
 *                  written by the owner before it first uses the slot, read by the owner,
 *                  then by whoever finalises it
 *   last_end_ns, ran_last  the owner's only
 *   c              counters, written by the owner (relaxed), read by stats; they carry on
 *                  across owners, so the pool's totals count exited threads' tasks
 * Lock order: the ties lock is a leaf; no kernel code runs under it.
 */
#ifndef CFGPOOL_SRC_CALLER_H
#define CFGPOOL_SRC_CALLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "task.h"

#define CFGPOOL__MAX_CALLERS 64

struct cfgpool__tie;

struct cfgpool__caller {
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint32_t state;
	/* Kept for the pool's close: false once the slot's state was finalised. */
	atomic_bool initialized;
	struct cfgpool__tie *tie; /* the owner thread's record of this slot */
	const struct cfgpool__runner *run;
	unsigned index; /* the worker number the kernel sees: CFGPOOL_CALLER_WORKER + slot */
	int init_rc;
	struct cfgpool__kstate kstate;
	struct cfgpool__counters c;
	uint64_t last_end_ns; /* when the owner's last map on this pool returned (0: unknown) */
	bool ran_last;        /* the owner ran a task in its last map on this pool */
};

/*
 * The calling thread's slot among `slots` (CFGPOOL__MAX_CALLERS of them), claimed and
 * initialised now if it has none. `ewma_seed` (read only then) seeds a fresh slot's
 * task-time average. NULL: the thread does not help (its worker_init failed, or every slot
 * is owned by a live thread: then *full is set). Only the owner thread uses its slot; no
 * release is needed.
 */
struct cfgpool__caller *cfgpool__caller_get(struct cfgpool__caller *slots, const struct cfgpool__runner *run,
					    const _Atomic uint64_t *ewma_seed, bool *full);

/*
 * Close: finalises the state of every slot whose thread is still alive, on the calling
 * thread, and waits for exiting threads finalising theirs. No thread may use `slots`
 * concurrently (close's gate). After it, no slot is initialised.
 */
void cfgpool__callers_close(struct cfgpool__caller *slots);

#endif /* CFGPOOL_SRC_CALLER_H */
