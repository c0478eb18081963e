/*
 * Caller slots and their recycling (see caller.h).
 *
 * A thread keeps, per pool it helps, a tie: a record in its own memory that names the
 * pool's slot array and links the slot it owns there. The pool's slot links back to the
 * tie. Both links are cut together under the ties lock, by whichever comes first:
 *   - the thread exiting (its key destructor): it marks the slot FINALISING, cuts the
 *     links, and after the lock runs worker_fini on itself, then frees the slot with one
 *     release store, its last touch of the pool;
 *   - the pool closing: it cuts the links of every owned slot and finalises their states
 *     on the closing thread; then it waits until no slot is FINALISING, so it frees the
 *     pool only after every exiting thread let go of it.
 * A thread never touches a slot it has no link to, so an exiting thread never touches a
 * closed pool; a closing pool never touches a tie after the lock, so the thread frees its
 * ties whenever it likes. Thread exit and close are rare; a mutex keeps this simple.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "caller.h"

enum { SLOT_FREE = 0, SLOT_OWNED = 1, SLOT_FINALISING = 2 };

struct cfgpool__tie {
	const struct cfgpool__caller *slots; /* which pool; never read through */
	/* The slot this thread owns there; NULL once cut. Written under ties_lock; the
	 * thread reads it outside the lock only for a pool it is calling (which therefore
	 * cannot be closing) and, acquire, to drop cut ties (pairs with the release in cut). */
	_Atomic(struct cfgpool__caller *) slot;
	struct cfgpool__tie *next; /* the thread's list */
};

static pthread_mutex_t ties_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ties_once = PTHREAD_ONCE_INIT;
static pthread_key_t ties_key;
static bool ties_key_made;
static __thread struct cfgpool__tie *ties;

static void finalise(struct cfgpool__caller *s)
{
	if (s->init_rc == 0 && s->run->kernel->worker_fini != NULL)
		s->run->kernel->worker_fini(s->kstate.state, s->index);
	s->kstate.state = NULL;
	/* Relaxed: read by close on its own thread after cfgpool__callers_close(). */
	atomic_store_explicit(&s->initialized, false, memory_order_relaxed);
	/* Release: the finalised slot is visible to the next claimant (its acquire CAS) and
	 * to close waiting for FINALISING to end (its acquire load). The pool may be freed
	 * right after this store: nothing below touches the slot. */
	atomic_store_explicit(&s->state, SLOT_FREE, memory_order_release);
}

/* Cuts both links of s's tie. Under ties_lock. */
static void cut(struct cfgpool__caller *s)
{
	/* Release: pairs with the acquire load in drop_cut_ties(). */
	atomic_store_explicit(&s->tie->slot, NULL, memory_order_release);
	s->tie = NULL;
}

/* The key's destructor: the thread is exiting. */
static void thread_exit(void *arg)
{
	struct cfgpool__tie *t = arg, *next;

	for (; t != NULL; t = next) {
		struct cfgpool__caller *s;

		next = t->next;
		cfgpool__check(pthread_mutex_lock(&ties_lock));
		s = atomic_load_explicit(&t->slot, memory_order_relaxed);
		if (s != NULL) {
			/* Relaxed: close reads it under the same lock, or (waiting) acquires the
			 * FREE stored by finalise(). */
			atomic_store_explicit(&s->state, SLOT_FINALISING, memory_order_relaxed);
			cut(s);
		}
		cfgpool__check(pthread_mutex_unlock(&ties_lock));
		if (s != NULL)
			finalise(s); /* on the exiting thread, whose state it is */
		free(t);
	}
	ties = NULL;
}

static void make_key(void)
{
	ties_key_made = pthread_key_create(&ties_key, thread_exit) == 0;
}

/* A library unloaded with threads still alive must not leave them a destructor to call. */
__attribute__((destructor)) static void delete_key(void)
{
	if (ties_key_made)
		pthread_key_delete(ties_key);
}

/* Frees this thread's ties whose pool was closed. */
static void drop_cut_ties(void)
{
	struct cfgpool__tie **p = &ties;

	while (*p != NULL) {
		struct cfgpool__tie *t = *p;

		if (atomic_load_explicit(&t->slot, memory_order_acquire) == NULL) {
			*p = t->next;
			free(t);
		} else {
			p = &t->next;
		}
	}
}

/* Claims a free slot. Acquire: pairs with the release in finalise(). */
static struct cfgpool__caller *claim(struct cfgpool__caller *slots)
{
	for (unsigned i = 0; i < CFGPOOL__MAX_CALLERS; i++) {
		uint32_t expected = SLOT_FREE;

		if (atomic_load_explicit(&slots[i].state, memory_order_relaxed) == SLOT_FREE &&
		    atomic_compare_exchange_strong_explicit(&slots[i].state, &expected, SLOT_OWNED,
							    memory_order_acquire, memory_order_relaxed)) {
			slots[i].index = CFGPOOL_CALLER_WORKER + i;
			return &slots[i];
		}
	}
	return NULL;
}

/* Claims and initialises a slot for the calling thread, and ties it to the thread. Once
 * per thread and pool: kept out of line, so that the lookup stays a few instructions. */
__attribute__((noinline, cold)) static struct cfgpool__caller *adopt(struct cfgpool__caller *slots, const struct cfgpool__runner *run,
				     const _Atomic uint64_t *ewma_seed, bool *full)
{
	struct cfgpool__tie *t;
	struct cfgpool__caller *s;

	cfgpool__check(pthread_once(&ties_once, make_key));
	drop_cut_ties();
	if (!ties_key_made || (t = malloc(sizeof(*t))) == NULL)
		return NULL;
	s = claim(slots);
	if (s == NULL) {
		free(t);
		*full = true;
		return NULL;
	}
	s->run = run;
	s->kstate.state = NULL;
	s->last_end_ns = 0;
	s->ran_last = false;
	/* Until it has timed a task, assume tasks are as long as the workers found them
	 * (relaxed: single-writer statistics, as task.c's counters). */
	atomic_store_explicit(&s->c.ewma_ns, atomic_load_explicit(ewma_seed, memory_order_relaxed), memory_order_relaxed);
	atomic_store_explicit(&s->c.ewma_at, 0, memory_order_relaxed);
	s->init_rc = cfgpool__task_worker_init(run, s->index, &s->kstate);
	atomic_store_explicit(&s->initialized, true, memory_order_relaxed); /* as in finalise() */

	t->slots = slots;
	cfgpool__check(pthread_mutex_lock(&ties_lock));
	atomic_store_explicit(&t->slot, s, memory_order_relaxed); /* under the lock: see the tie */
	s->tie = t;
	cfgpool__check(pthread_mutex_unlock(&ties_lock));
	t->next = ties;
	ties = t;
	cfgpool__check(pthread_setspecific(ties_key, ties));
	return s;
}

CFGPOOL_HOT struct cfgpool__caller *cfgpool__caller_get(struct cfgpool__caller *slots, const struct cfgpool__runner *run,
					    const _Atomic uint64_t *ewma_seed, bool *full)
{
	struct cfgpool__caller *s = NULL;

	for (struct cfgpool__tie *t = ties; t != NULL; t = t->next) {
		/* Relaxed: only this pool's close cuts the link, and it cannot run while this
		 * thread is inside a call on the pool. */
		if (t->slots == slots && (s = atomic_load_explicit(&t->slot, memory_order_relaxed)) != NULL)
			break;
	}
	if (s == NULL)
		s = adopt(slots, run, ewma_seed, full);
	return s != NULL && s->init_rc == 0 ? s : NULL;
}

void cfgpool__callers_close(struct cfgpool__caller *slots)
{
	bool mine[CFGPOOL__MAX_CALLERS] = {false};

	cfgpool__check(pthread_mutex_lock(&ties_lock));
	for (unsigned i = 0; i < CFGPOOL__MAX_CALLERS; i++) {
		if (slots[i].tie != NULL) {
			cut(&slots[i]);
			mine[i] = true;
		}
	}
	cfgpool__check(pthread_mutex_unlock(&ties_lock));
	for (unsigned i = 0; i < CFGPOOL__MAX_CALLERS; i++) {
		/* Acquire: pairs with the exiting thread's release in finalise(). */
		while (atomic_load_explicit(&slots[i].state, memory_order_acquire) == SLOT_FINALISING)
			sched_yield();
		if (mine[i])
			finalise(&slots[i]); /* its thread is alive but will never call this pool again */
	}
}
