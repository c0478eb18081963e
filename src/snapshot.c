/*
 * The RCU holder: publishes the current configuration snapshot, reloads it, and retires
 * the old one after a grace period, on a reclaim thread of its own.
 *
 * Flavour: liburcu's memb (sys_membarrier). A read-side section costs a thread-local
 * counter update and a compiler barrier; readers need no quiescent-state announcements,
 * so any host thread can read. The writer pays for it with a membarrier per grace period,
 * which at reload rates (rare, human-driven) is nothing. perf/bench_snapshot measures the
 * read cost.
 *
 * Reclaim. liburcu's call_rcu creates its worker thread lazily, on the first call, and
 * aborts the process when it cannot; it also wants its callers registered as readers.
 * The holder instead starts its own reclaim thread when it is created, so that running
 * out of threads is -EAGAIN from cfgpool_holder_create() and never an abort at a later
 * reload. A retired snapshot is queued for that thread, which waits for one grace period
 * per run of queued snapshots (synchronize_rcu needs no registration), frees them, and
 * counts them; cfgpool_holder_barrier() waits on that count. The thread blocks every
 * signal (a host's signal handling is not disturbed) and is joined by destroy.
 *
 * Shared state and what protects it:
 *   h->current      RCU-protected pointer: exchanged (C11 acq_rel, the equivalent of
 *                   rcu_xchg_pointer) under h->lock, loaded (acquire, rcu_dereference's
 *                   equivalent: a plain load on x86) inside read-side sections, here and
 *                   in a host's inline ones (cfgpool_holder_current_inline())
 *   h->version      written under h->lock (release), read anywhere (acquire)
 *   h->stats_*      atomic counters, relaxed: they are statistics, ordered by nothing
 *   cfg->publication compare-and-swap once (NULL -> the snapshot record), so a
 *                   configuration is published at most once
 *   h->retired, h->queued, h->reclaimed, h->stopping
 *                   under h->reclaim_lock; h->reclaim_cond signals work for the reclaim
 *                   thread, h->reclaimed_cond progress to barrier waiters
 * Lock order: h->lock, then h->reclaim_lock (a publish queues the old snapshot after its
 * exchange). Nothing is called with either held that could take another lock, and no
 * grace period is waited for with either held.
 */
#include "config.h"

/* The inline read side of <cfgpool/holder.h>, whose view of the holder is checked below. */
#define CFGPOOL_INLINE_READ 1

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "rcu.h"
#include "config_tree.h"
#include "snapshot.h"

struct cfgpool_holder {
	_Atomic(struct cfgpool_config *) current; /* RCU-protected, see above */
	pthread_mutex_t lock;                     /* serializes publishers */
	_Atomic uint64_t version;
	cfgpool_load_opts_t opts;
	_Atomic uint64_t stats_published;
	_Atomic uint64_t stats_failed;
	_Atomic uint64_t stats_retired;
	_Atomic uint64_t stats_freed;

	pthread_mutex_t reclaim_lock;
	pthread_cond_t reclaim_cond;   /* retired is non-empty, or stopping */
	pthread_cond_t reclaimed_cond; /* reclaimed advanced */
	struct cfgpool__snapshot *retired;
	uint64_t queued;    /* snapshots handed to the reclaim thread so far */
	uint64_t reclaimed; /* of those, freed so far */
	bool stopping;
	pthread_t reclaimer;
	uint32_t fork_generation; /* set at create; see snapshot.h */
};

/* A host's inline sections read `current` as the first member of struct cfgpool_holder_head,
 * with an __atomic acquire load of a plain pointer, which GCC and Clang lay out and load as
 * the _Atomic pointer here (the library's own accesses stay on the _Atomic member). */
_Static_assert(offsetof(struct cfgpool_holder, current) == offsetof(struct cfgpool_holder_head, current),
	       "the holder's current snapshot is where <cfgpool/holder.h> reads it");
_Static_assert(sizeof(((struct cfgpool_holder *)0)->current) == sizeof(((struct cfgpool_holder_head *)0)->current) &&
		   _Alignof(_Atomic(struct cfgpool_config *)) == _Alignof(const cfgpool_config_t *),
	       "an _Atomic pointer is laid out as a plain one");

/* ------------------------------------------------------------------------------------------ */
/* fork()                                                                                     */
/* ------------------------------------------------------------------------------------------ */

_Atomic uint32_t cfgpool__forks;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/*
 * liburcu's memb flavour wants every thread's registration dropped before a fork that is
 * not followed by exec: the child's registry still lists the parent's other threads,
 * whose thread-local entries glibc hands to the next threads the child creates, and a
 * grace period in the child walks them (it crashed, or waited for ever on a lock a
 * parent thread held). rcu_threads counts the threads that can be in that state: those
 * cfgpool registered (workers, and host threads at their first section) and the reclaim
 * threads, which run grace periods. A child forked while any besides the forking thread
 * existed gets rcu_unusable, and holder_create (so every pool open) refuses there.
 * Relaxed: a count read by the forking thread in the child handler, where the other
 * threads are gone; the increments come before the thread can be in the registry (or in
 * a grace period), the decrements after it left.
 */
static atomic_long rcu_threads;
static atomic_bool rcu_unusable;
static __thread bool cfgpool_registered;

static void fork_child(void)
{
	/* Relaxed: see snapshot.h; the child has this one thread. */
	atomic_fetch_add_explicit(&cfgpool__forks, 1, memory_order_relaxed);
	if (atomic_load_explicit(&rcu_threads, memory_order_relaxed) - (cfgpool_registered ? 1 : 0) > 0)
		atomic_store_explicit(&rcu_unusable, true, memory_order_relaxed);
}

static void fork_register(void)
{
	cfgpool__check(pthread_atfork(NULL, NULL, fork_child));
}

bool cfgpool__fork_refused(void)
{
	return atomic_load_explicit(&rcu_unusable, memory_order_relaxed);
}

uint32_t cfgpool__fork_generation(void)
{
	cfgpool__check(pthread_once(&fork_once, fork_register));
	return atomic_load_explicit(&cfgpool__forks, memory_order_relaxed);
}

/* ------------------------------------------------------------------------------------------ */
/* Reader registration                                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * Registration. liburcu's own flag (urcu_memb_reader.registered, thread-local) says whether
 * the thread is registered, by cfgpool or by the host: it is what the inline read side of
 * <cfgpool/holder.h> tests, so it is what the library tests too. cfgpool_registered says
 * whether cfgpool made the registration, so that only those are dropped, by unregister or
 * by the key's destructor at thread exit.
 */
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static bool urcu_registered(void)
{
	return URCU_TLS(urcu_memb_reader).registered;
}

/* Drops the calling thread's registration that cfgpool made (the host may have dropped
 * liburcu's itself), and its count in rcu_threads. */
static void drop_registration(void)
{
	if (!cfgpool_registered)
		return;
	if (urcu_registered())
		urcu_memb_unregister_thread();
	atomic_fetch_sub_explicit(&rcu_threads, 1, memory_order_relaxed);
	cfgpool_registered = false;
}

static void reader_exit(void *unused)
{
	(void)unused;
	drop_registration();
}

static void reader_key_create(void)
{
	cfgpool__check(pthread_key_create(&reader_key, reader_exit));
}

CFGPOOL_HOT int cfgpool_reader_register(void)
{
	int rc;

	if (urcu_registered())
		return 0;
	cfgpool__check(pthread_once(&reader_once, reader_key_create));
	/* The destructor runs only for a non-NULL value: set it before registering. */
	rc = pthread_setspecific(reader_key, &cfgpool_registered);
	if (rc != 0)
		return -rc;
	cfgpool__check(pthread_once(&fork_once, fork_register));
	atomic_fetch_add_explicit(&rcu_threads, 1, memory_order_relaxed);
	urcu_memb_register_thread();
	cfgpool_registered = true;
	return 0;
}

void cfgpool_reader_unregister(void)
{
	if (!cfgpool_registered)
		return;
	if (urcu_memb_read_ongoing())
		cfgpool__die("cfgpool_reader_unregister() inside a read-side section");
	drop_registration();
	pthread_setspecific(reader_key, NULL);
}

const cfgpool_config_t *cfgpool_holder_read_begin(const cfgpool_holder_t *h)
{
	if (cfgpool_unlikely(!urcu_registered()) && cfgpool_reader_register() != 0)
		cfgpool__die("cannot register the thread as an RCU reader");
	cfgpool__read_lock();
	/* Pairs with the exchange in publish(): the snapshot's contents are visible. */
	return atomic_load_explicit(&h->current, memory_order_acquire);
}

void cfgpool_holder_read_end(const cfgpool_holder_t *h)
{
	(void)h;
	cfgpool__read_unlock();
}

/* liburcu's nesting counter, which inline sections in the host update too. */
bool cfgpool__reader_in_section(void)
{
	return urcu_memb_read_ongoing();
}

/* ------------------------------------------------------------------------------------------ */
/* Snapshot records and reclaim                                                               */
/* ------------------------------------------------------------------------------------------ */

/* Frees a retired snapshot: its grace period has passed, no reader can see it. */
static void snapshot_free(struct cfgpool__snapshot *s)
{
	cfgpool_holder_t *h = s->holder;

	cfgpool__config_destroy(s->cfg);
	free(s);
	atomic_fetch_add_explicit(&h->stats_freed, 1, memory_order_relaxed);
}

static void *reclaim_main(void *arg)
{
	cfgpool_holder_t *h = arg;

	cfgpool__check(pthread_mutex_lock(&h->reclaim_lock));
	for (;;) {
		struct cfgpool__snapshot *batch;
		uint64_t n = 0;

		while (h->retired == NULL && !h->stopping)
			cfgpool__check(pthread_cond_wait(&h->reclaim_cond, &h->reclaim_lock));
		if (h->retired == NULL)
			break; /* stopping, and nothing left */
		batch = h->retired;
		h->retired = NULL;
		cfgpool__check(pthread_mutex_unlock(&h->reclaim_lock));

		/* One grace period for everything retired so far. */
		cfgpool__synchronize();
		while (batch != NULL) {
			struct cfgpool__snapshot *next = batch->next;

			snapshot_free(batch);
			batch = next;
			n++;
		}

		cfgpool__check(pthread_mutex_lock(&h->reclaim_lock));
		h->reclaimed += n;
		cfgpool__check(pthread_cond_broadcast(&h->reclaimed_cond));
	}
	cfgpool__check(pthread_mutex_unlock(&h->reclaim_lock));
	return NULL;
}

/* Hands a retired snapshot to the reclaim thread. Called with h->lock held. */
static void retire(cfgpool_holder_t *h, struct cfgpool__snapshot *s)
{
	cfgpool__check(pthread_mutex_lock(&h->reclaim_lock));
	s->next = h->retired;
	h->retired = s;
	h->queued++;
	cfgpool__check(pthread_cond_signal(&h->reclaim_cond));
	cfgpool__check(pthread_mutex_unlock(&h->reclaim_lock));
}

/* Starts the reclaim thread with every signal blocked. 0 or a negative errno. */
static int reclaim_start(cfgpool_holder_t *h)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	atomic_fetch_add_explicit(&rcu_threads, 1, memory_order_relaxed); /* fork_child() */
	cfgpool__check(pthread_sigmask(SIG_SETMASK, &all, &old));
	rc = pthread_create(&h->reclaimer, NULL, reclaim_main, h);
	cfgpool__check(pthread_sigmask(SIG_SETMASK, &old, NULL));
	if (rc != 0) {
		atomic_fetch_sub_explicit(&rcu_threads, 1, memory_order_relaxed);
		return -rc;
	}
	/* Visible in top -H and in debuggers. */
	pthread_setname_np(h->reclaimer, "cfgpool/reclaim");
	return 0;
}

/* Stops the reclaim thread once it has freed everything queued, and joins it. */
static void reclaim_stop(cfgpool_holder_t *h)
{
	cfgpool__check(pthread_mutex_lock(&h->reclaim_lock));
	h->stopping = true;
	cfgpool__check(pthread_cond_signal(&h->reclaim_cond));
	cfgpool__check(pthread_mutex_unlock(&h->reclaim_lock));
	cfgpool__check(pthread_join(h->reclaimer, NULL));
}

/* ------------------------------------------------------------------------------------------ */
/* The holder                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void holder_free(cfgpool_holder_t *h)
{
	pthread_cond_destroy(&h->reclaimed_cond);
	pthread_cond_destroy(&h->reclaim_cond);
	pthread_mutex_destroy(&h->reclaim_lock);
	pthread_mutex_destroy(&h->lock);
	free((void *)h->opts.preps);
	free(h);
}

int cfgpool_holder_create(const cfgpool_load_opts_t *opts, cfgpool_holder_t **out)
{
	cfgpool_holder_t *h;
	int rc;

	if (out == NULL || (opts != NULL && opts->nprep > 0 && opts->preps == NULL))
		return -EINVAL;
	if (cfgpool__fork_refused())
		return CFGPOOL_EFORKED;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->fork_generation = cfgpool__fork_generation();
	/* Initialising a default mutex or condition variable cannot fail on Linux. */
	cfgpool__check(pthread_mutex_init(&h->lock, NULL));
	cfgpool__check(pthread_mutex_init(&h->reclaim_lock, NULL));
	cfgpool__check(pthread_cond_init(&h->reclaim_cond, NULL));
	cfgpool__check(pthread_cond_init(&h->reclaimed_cond, NULL));
	if (opts != NULL) {
		h->opts = *opts;
		h->opts.preps = NULL;
	}
	if (opts != NULL && opts->nprep > 0) {
		cfgpool_prep_t *preps = malloc(opts->nprep * sizeof(*preps));

		if (preps == NULL) {
			holder_free(h);
			return -ENOMEM;
		}
		memcpy(preps, opts->preps, opts->nprep * sizeof(*preps));
		h->opts.preps = preps;
	}
	rc = reclaim_start(h);
	if (rc != 0) {
		holder_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void cfgpool_holder_destroy(cfgpool_holder_t *h)
{
	struct cfgpool_config *last;

	if (h == NULL)
		return;
	/* In a forked child the reclaim thread does not exist and a grace period could wait
	 * for the parent's readers forever: the child's copy is left for its exit or exec. */
	if (cfgpool__forked(h->fork_generation))
		return;
	last = atomic_exchange_explicit(&h->current, NULL, memory_order_acq_rel);
	/* Every snapshot this holder retired is freed before the holder, whose counters the
	 * reclaim thread updates. */
	reclaim_stop(h);
	if (last != NULL) {
		struct cfgpool__snapshot *s = (struct cfgpool__snapshot *)atomic_load_explicit(
			&last->publication, memory_order_relaxed);

		cfgpool__synchronize();
		cfgpool__config_destroy(last);
		free(s);
	}
	/* The reclaim thread's count, kept until here: this thread's grace period above holds
	 * liburcu's locks as the reclaim thread's did (fork_child()). */
	atomic_fetch_sub_explicit(&rcu_threads, 1, memory_order_relaxed);
	holder_free(h);
}

/* A configuration fits a holder when it was prepared by the same preparers. */
static bool same_preps(const struct cfgpool_config *cfg, const cfgpool_load_opts_t *opts)
{
	if (cfg->nprep != opts->nprep)
		return false;
	for (size_t i = 0; i < opts->nprep; i++) {
		const cfgpool_prep_t *a = &cfg->preps[i], *b = &opts->preps[i];

		if (a->prepare != b->prepare || a->release != b->release || a->arg != b->arg)
			return false;
	}
	return true;
}

/* Publishes cfg, which its caller checked fits h. */
static int publish(cfgpool_holder_t *h, struct cfgpool_config *cfg, unsigned flags, uint64_t *version)
{
	struct cfgpool__snapshot *s, *old_s = NULL;
	struct cfgpool_config *old;
	const void *expected = NULL;
	uint64_t v;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->cfg = cfg;
	s->holder = h;
	/* Claim the configuration; pairs with nothing but other claims (any order will do). */
	if (!atomic_compare_exchange_strong_explicit(&cfg->publication, &expected, s, memory_order_relaxed,
						     memory_order_relaxed)) {
		free(s);
		return -EBUSY;
	}

	cfgpool__check(pthread_mutex_lock(&h->lock));
	v = atomic_load_explicit(&h->version, memory_order_relaxed) + 1;
	s->version = v;
	/* Release: everything written into cfg and s is visible to a reader that sees the
	 * pointer (acquire in read_begin and cfgpool__holder_deref). */
	old = atomic_exchange_explicit(&h->current, cfg, memory_order_acq_rel);
	/* Pairs with the acquire load in cfgpool_holder_version(). */
	atomic_store_explicit(&h->version, v, memory_order_release);
	if (old != NULL) {
		old_s = (struct cfgpool__snapshot *)atomic_load_explicit(&old->publication, memory_order_relaxed);
		atomic_fetch_add_explicit(&h->stats_retired, 1, memory_order_relaxed);
		if (!(flags & CFGPOOL_RELOAD_SYNC))
			retire(h, old_s);
	}
	cfgpool__check(pthread_mutex_unlock(&h->lock));
	atomic_fetch_add_explicit(&h->stats_published, 1, memory_order_relaxed);

	if (version != NULL)
		*version = v;
	if (old_s != NULL && (flags & CFGPOOL_RELOAD_SYNC)) {
		cfgpool__synchronize();
		snapshot_free(old_s);
	}
	return 0;
}

int cfgpool_holder_publish(cfgpool_holder_t *h, cfgpool_config_t *cfg, unsigned flags, uint64_t *version)
{
	if (h == NULL || cfg == NULL)
		return -EINVAL;
	if (cfgpool__forked(h->fork_generation))
		return CFGPOOL_EFORKED;
	if (!same_preps(cfg, &h->opts))
		return -EINVAL;
	if ((flags & CFGPOOL_RELOAD_SYNC) && cfgpool__reader_in_section())
		return -EBUSY;
	return publish(h, cfg, flags, version);
}

int cfgpool__holder_publish_first(cfgpool_holder_t *h, struct cfgpool_config *cfg)
{
	return publish(h, cfg, 0, NULL);
}

/* Common tail of the reloads: publish what loaded, or count the failure. */
static int publish_loaded(cfgpool_holder_t *h, int rc, cfgpool_config_t *cfg, unsigned flags, uint64_t *version,
			  cfgpool_error_t *err)
{
	if (rc == 0) {
		rc = publish(h, cfg, flags, version);
		if (rc != 0) {
			cfgpool_error_set(err, rc, NULL, "cannot publish the configuration: %s", cfgpool_strerror(rc));
			cfgpool_config_free(cfg);
		}
	}
	if (rc != 0)
		atomic_fetch_add_explicit(&h->stats_failed, 1, memory_order_relaxed);
	return rc;
}

/* A synchronous reload inside a read-side section would wait for itself. */
static int check_reload(cfgpool_holder_t *h, unsigned flags, cfgpool_error_t *err)
{
	if (h == NULL)
		return cfgpool_error_set(err, -EINVAL, NULL, "reload: the holder must not be NULL");
	if (cfgpool__forked(h->fork_generation))
		return cfgpool_error_set(err, CFGPOOL_EFORKED, NULL, "reload: the holder was created by the parent process");
	if (!(flags & CFGPOOL_RELOAD_SYNC) || !cfgpool__reader_in_section())
		return 0;
	atomic_fetch_add_explicit(&h->stats_failed, 1, memory_order_relaxed);
	return cfgpool_error_set(err, -EBUSY, NULL, "synchronous reload from inside a read-side section");
}

int cfgpool_holder_reload_file(cfgpool_holder_t *h, const char *path, unsigned flags, uint64_t *version,
			       cfgpool_error_t *err)
{
	cfgpool_config_t *cfg = NULL;
	int rc = check_reload(h, flags, err);

	if (rc != 0)
		return rc;
	rc = cfgpool_config_load_file(path, &h->opts, &cfg, err);
	return publish_loaded(h, rc, cfg, flags, version, err);
}

int cfgpool_holder_reload_string(cfgpool_holder_t *h, const char *text, size_t len, unsigned flags,
				 uint64_t *version, cfgpool_error_t *err)
{
	cfgpool_config_t *cfg = NULL;
	int rc = check_reload(h, flags, err);

	if (rc != 0)
		return rc;
	rc = cfgpool_config_load_string(text, len, &h->opts, &cfg, err);
	return publish_loaded(h, rc, cfg, flags, version, err);
}

uint64_t cfgpool_holder_version(const cfgpool_holder_t *h)
{
	/* Pairs with the release store in publish(). */
	return h != NULL ? atomic_load_explicit(&h->version, memory_order_acquire) : 0;
}

uint64_t cfgpool_config_version(const cfgpool_config_t *cfg)
{
	return cfgpool__snapshot_version(cfg);
}

int cfgpool_holder_barrier(const cfgpool_holder_t *ch)
{
	cfgpool_holder_t *h = (cfgpool_holder_t *)ch;
	uint64_t target;

	if (h == NULL)
		return -EINVAL;
	if (cfgpool__forked(h->fork_generation))
		return CFGPOOL_EFORKED;
	/* The reclaim thread's grace period would wait for this very section. */
	if (cfgpool__reader_in_section())
		return -EBUSY;
	cfgpool__check(pthread_mutex_lock(&h->reclaim_lock));
	target = h->queued;
	while (h->reclaimed < target)
		cfgpool__check(pthread_cond_wait(&h->reclaimed_cond, &h->reclaim_lock));
	cfgpool__check(pthread_mutex_unlock(&h->reclaim_lock));
	return 0;
}

void cfgpool_holder_stats(const cfgpool_holder_t *h, cfgpool_holder_stats_t *out)
{
	const struct cfgpool_config *cur;

	memset(out, 0, sizeof(*out));
	if (h == NULL)
		return;
	out->published = atomic_load_explicit(&h->stats_published, memory_order_relaxed);
	out->failed = atomic_load_explicit(&h->stats_failed, memory_order_relaxed);
	out->retired = atomic_load_explicit(&h->stats_retired, memory_order_relaxed);
	out->freed = atomic_load_explicit(&h->stats_freed, memory_order_relaxed);
	cur = cfgpool_holder_read_begin(h);
	out->current_size = cur ? cur->size : 0;
	cfgpool_holder_read_end(h);
}

CFGPOOL_HOT const struct cfgpool_config *cfgpool__holder_deref(const cfgpool_holder_t *h)
{
	return atomic_load_explicit(&h->current, memory_order_acquire);
}

struct cfgpool_config *cfgpool__holder_unpublish(cfgpool_holder_t *h)
{
	struct cfgpool__snapshot *s = NULL;
	struct cfgpool_config *cfg;

	cfgpool__check(pthread_mutex_lock(&h->lock));
	cfg = atomic_exchange_explicit(&h->current, NULL, memory_order_acq_rel);
	cfgpool__check(pthread_mutex_unlock(&h->lock));
	cfgpool__synchronize();
	if (cfg != NULL) {
		s = (struct cfgpool__snapshot *)atomic_load_explicit(&cfg->publication, memory_order_relaxed);
		atomic_store_explicit(&cfg->publication, NULL, memory_order_relaxed);
		free(s);
	}
	return cfg;
}
