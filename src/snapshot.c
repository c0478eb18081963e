/*
 * The RCU holder: publishes the current configuration snapshot, reloads it, and retires
 * the old one after a grace period.
 *
 * Flavour: liburcu's memb (sys_membarrier). A read-side section costs a thread-local
 * counter update and a compiler barrier; readers need no quiescent-state announcements,
 * so any host thread can read. The writer pays for it with a membarrier per grace period,
 * which at reload rates (rare, human-driven) is nothing. perf/bench_snapshot measures the
 * read cost.
 *
 * Shared state and what protects it:
 *   h->current      RCU-protected pointer: exchanged (C11 acq_rel, the equivalent of
 *                   rcu_xchg_pointer) under h->lock, loaded (acquire, rcu_dereference's
 *                   equivalent: a plain load on x86) inside read-side sections
 *   h->version      written under h->lock (release), read anywhere (acquire)
 *   h->stats_*      atomic counters, relaxed: they are statistics, ordered by nothing
 *   cfg->owner      compare-and-swap once, so a configuration is published at most once
 * Lock order: h->lock is the only lock; nothing is called with it held that could take
 * another (grace periods are waited for after it is released).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "rcu.h"
#include "config_tree.h"
#include "snapshot.h"

#ifdef CFGPOOL_TSAN
char cfgpool__grace_sync;
#endif

struct cfgpool_holder {
	_Atomic(struct cfgpool_config *) current; /* RCU-protected, see above */
	pthread_mutex_t lock;           /* serializes publishers */
	_Atomic uint64_t version;
	cfgpool_load_opts_t opts;
	_Atomic uint64_t stats_published;
	_Atomic uint64_t stats_failed;
	_Atomic uint64_t stats_retired;
	_Atomic uint64_t stats_freed;
};

/* ------------------------------------------------------------------------------------------ */
/* Reader registration                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Whether this thread is registered with liburcu; a key destructor unregisters at exit. */
static __thread bool reader_registered;
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_exit(void *unused)
{
	(void)unused;
	if (reader_registered) {
		urcu_memb_unregister_thread();
		reader_registered = false;
	}
}

static void reader_key_create(void)
{
	cfgpool__check(pthread_key_create(&reader_key, reader_exit));
}

int cfgpool_reader_register(void)
{
	int rc;

	if (reader_registered)
		return 0;
	cfgpool__check(pthread_once(&reader_once, reader_key_create));
	/* The destructor runs only for a non-NULL value: set it before registering. */
	rc = pthread_setspecific(reader_key, &reader_registered);
	if (rc != 0)
		return -rc;
	urcu_memb_register_thread();
	reader_registered = true;
	return 0;
}

void cfgpool_reader_unregister(void)
{
	if (!reader_registered)
		return;
	if (urcu_memb_read_ongoing())
		cfgpool__die("cfgpool_reader_unregister() inside a read-side section");
	urcu_memb_unregister_thread();
	reader_registered = false;
	pthread_setspecific(reader_key, NULL);
}

const cfgpool_config_t *cfgpool_holder_read_begin(cfgpool_holder_t *h)
{
	if (cfgpool_unlikely(!reader_registered) && cfgpool_reader_register() != 0)
		cfgpool__die("cannot register the thread as an RCU reader");
	cfgpool__read_lock();
	/* Pairs with the exchange in publish(): the snapshot's contents are visible. */
	return atomic_load_explicit(&h->current, memory_order_acquire);
}

void cfgpool_holder_read_end(cfgpool_holder_t *h)
{
	(void)h;
	cfgpool__read_unlock();
}

bool cfgpool__reader_in_section(void)
{
	return reader_registered && urcu_memb_read_ongoing();
}

/* ------------------------------------------------------------------------------------------ */
/* The holder                                                                                 */
/* ------------------------------------------------------------------------------------------ */

int cfgpool_holder_create(const cfgpool_load_opts_t *opts, cfgpool_holder_t **out)
{
	cfgpool_holder_t *h;
	int rc;

	if (out == NULL || (opts != NULL && opts->nprep > 0 && opts->preps == NULL))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	rc = pthread_mutex_init(&h->lock, NULL);
	if (rc != 0) {
		free(h);
		return -rc;
	}
	if (opts != NULL && opts->nprep > 0) {
		cfgpool_prep_t *preps = malloc(opts->nprep * sizeof(*preps));

		if (preps == NULL) {
			pthread_mutex_destroy(&h->lock);
			free(h);
			return -ENOMEM;
		}
		memcpy(preps, opts->preps, opts->nprep * sizeof(*preps));
		h->opts = *opts;
		h->opts.preps = preps;
	} else if (opts != NULL) {
		h->opts = *opts;
	}
	*out = h;
	return 0;
}

/* call_rcu callback: the grace period after retirement has passed. */
static void free_retired(struct rcu_head *head)
{
	struct cfgpool_config *cfg = caa_container_of(head, struct cfgpool_config, rcu);
	cfgpool_holder_t *h;

	cfgpool__tsan_acquire(); /* the grace period ended every section that could see cfg */
	h = atomic_load_explicit(&cfg->owner, memory_order_relaxed);
	cfgpool__config_destroy(cfg);
	atomic_fetch_add_explicit(&h->stats_freed, 1, memory_order_relaxed);
	cfgpool__tsan_release(); /* for whoever waits in urcu_memb_barrier() */
}

void cfgpool_holder_destroy(cfgpool_holder_t *h)
{
	struct cfgpool_config *last;

	if (h == NULL)
		return;
	last = atomic_exchange_explicit(&h->current, NULL, memory_order_acq_rel);
	cfgpool__synchronize();
	/* Every snapshot this holder handed to call_rcu must be freed before the holder,
	 * whose counters the callbacks update. */
	urcu_memb_barrier();
	cfgpool__tsan_acquire();
	if (last != NULL)
		cfgpool__config_destroy(last);
	cfgpool__check(pthread_mutex_destroy(&h->lock));
	free((void *)h->opts.preps);
	free(h);
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

int cfgpool_holder_publish(cfgpool_holder_t *h, cfgpool_config_t *cfg, unsigned flags, uint64_t *version)
{
	struct cfgpool_config *old;
	void *expected = NULL;
	uint64_t v;

	if (h == NULL || cfg == NULL)
		return -EINVAL;
	if (!same_preps(cfg, &h->opts))
		return -EINVAL;
	if ((flags & CFGPOOL_RELOAD_SYNC) && cfgpool__reader_in_section())
		return -EBUSY;
	/* Claim the configuration; pairs with nothing but other claims (any order will do). */
	if (!atomic_compare_exchange_strong_explicit(&cfg->owner, &expected, h, memory_order_relaxed,
						     memory_order_relaxed))
		return -EBUSY;

	cfgpool__check(pthread_mutex_lock(&h->lock));
	v = atomic_load_explicit(&h->version, memory_order_relaxed) + 1;
	cfg->version = v;
	/* Release: everything written into cfg is visible to a reader that sees the pointer
	 * (acquire in read_begin). */
	old = atomic_exchange_explicit(&h->current, cfg, memory_order_acq_rel);
	/* Pairs with the acquire load in cfgpool_holder_version(). */
	atomic_store_explicit(&h->version, v, memory_order_release);
	cfgpool__check(pthread_mutex_unlock(&h->lock));
	atomic_fetch_add_explicit(&h->stats_published, 1, memory_order_relaxed);

	if (version != NULL)
		*version = v;
	if (old == NULL)
		return 0;
	atomic_fetch_add_explicit(&h->stats_retired, 1, memory_order_relaxed);
	if (flags & CFGPOOL_RELOAD_SYNC) {
		cfgpool__synchronize();
		free_retired(&old->rcu);
	} else {
		cfgpool__tsan_release(); /* hands old over to the call_rcu thread */
		urcu_memb_call_rcu(&old->rcu, free_retired);
	}
	return 0;
}

/* Common tail of the reloads: publish what loaded, or count the failure. */
static int publish_loaded(cfgpool_holder_t *h, int rc, cfgpool_config_t *cfg, unsigned flags, uint64_t *version)
{
	if (rc == 0) {
		rc = cfgpool_holder_publish(h, cfg, flags, version);
		if (rc != 0)
			cfgpool_config_free(cfg);
	}
	if (rc != 0)
		atomic_fetch_add_explicit(&h->stats_failed, 1, memory_order_relaxed);
	return rc;
}

/* A synchronous reload inside a read-side section would wait for itself. */
static int check_sync(cfgpool_holder_t *h, unsigned flags, cfgpool_error_t *err)
{
	if (!(flags & CFGPOOL_RELOAD_SYNC) || !cfgpool__reader_in_section())
		return 0;
	atomic_fetch_add_explicit(&h->stats_failed, 1, memory_order_relaxed);
	return cfgpool_error_set(err, -EBUSY, NULL, "synchronous reload from inside a read-side section");
}

int cfgpool_holder_reload_file(cfgpool_holder_t *h, const char *path, unsigned flags, uint64_t *version,
			       cfgpool_error_t *err)
{
	cfgpool_config_t *cfg = NULL;
	int rc = check_sync(h, flags, err);

	if (rc != 0)
		return rc;
	rc = cfgpool_config_load_file(path, &h->opts, &cfg, err);
	return publish_loaded(h, rc, cfg, flags, version);
}

int cfgpool_holder_reload_string(cfgpool_holder_t *h, const char *text, size_t len, unsigned flags,
				 uint64_t *version, cfgpool_error_t *err)
{
	cfgpool_config_t *cfg = NULL;
	int rc = check_sync(h, flags, err);

	if (rc != 0)
		return rc;
	rc = cfgpool_config_load_string(text, len, &h->opts, &cfg, err);
	return publish_loaded(h, rc, cfg, flags, version);
}

uint64_t cfgpool_holder_version(const cfgpool_holder_t *h)
{
	/* Pairs with the release store in cfgpool_holder_publish(). */
	return atomic_load_explicit(&h->version, memory_order_acquire);
}

void cfgpool_holder_barrier(cfgpool_holder_t *h)
{
	(void)h;
	urcu_memb_barrier();
	cfgpool__tsan_acquire();
}

void cfgpool_holder_stats(const cfgpool_holder_t *h, cfgpool_holder_stats_t *out)
{
	const struct cfgpool_config *cur;

	memset(out, 0, sizeof(*out));
	out->published = atomic_load_explicit(&h->stats_published, memory_order_relaxed);
	out->failed = atomic_load_explicit(&h->stats_failed, memory_order_relaxed);
	out->retired = atomic_load_explicit(&h->stats_retired, memory_order_relaxed);
	out->freed = atomic_load_explicit(&h->stats_freed, memory_order_relaxed);
	cur = cfgpool_holder_read_begin((cfgpool_holder_t *)h);
	out->current_size = cur ? cur->size : 0;
	cfgpool_holder_read_end((cfgpool_holder_t *)h);
}

const struct cfgpool_config *cfgpool__holder_deref(cfgpool_holder_t *h)
{
	return atomic_load_explicit(&h->current, memory_order_acquire);
}

struct cfgpool_config *cfgpool__holder_unpublish(cfgpool_holder_t *h)
{
	struct cfgpool_config *cfg;

	cfgpool__check(pthread_mutex_lock(&h->lock));
	cfg = atomic_exchange_explicit(&h->current, NULL, memory_order_acq_rel);
	cfgpool__check(pthread_mutex_unlock(&h->lock));
	cfgpool__synchronize();
	if (cfg != NULL) {
		cfg->version = 0;
		atomic_store_explicit(&cfg->owner, NULL, memory_order_relaxed);
	}
	return cfg;
}
