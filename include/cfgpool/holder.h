/*
 * Publication through RCU: the holder of the current configuration snapshot.
 * Included by <cfgpool/cfgpool.h>; compiles on its own, as C and as C++.
 */
#ifndef CFGPOOL_HOLDER_H
#define CFGPOOL_HOLDER_H

#include <stdint.h>

#include <cfgpool/config.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Publication through RCU                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * A holder publishes the current configuration to readers through RCU (liburcu's memb
 * flavour). Readers take the current snapshot with no lock and no atomic read-modify-
 * write; a reload parses, validates and prepares away from every reader, publishes the new
 * snapshot with one atomic pointer exchange, and frees the old one after a grace period,
 * on a reclaim thread the holder starts when it is created (every signal blocked there)
 * and joins when it is destroyed.
 *
 * Synchronization table:
 *   read_begin/read_end   any threads, concurrently with everything but destroy
 *   reloads, publish      any threads; serialized with each other by the holder's mutex
 *                         (parsing happens before the mutex is taken)
 *   stats/version/barrier any threads, any time before destroy (barrier not inside a
 *                         read-side section)
 *   destroy               one thread, after every other call on the holder has returned
 *
 * fork(). In a child forked while a holder exists its reclaim thread does not: reloads
 * and publish return CFGPOOL_EFORKED (changing nothing), barrier returns CFGPOOL_EFORKED,
 * destroy returns at once and frees nothing (the copy goes with the child), while
 * read_begin/read_end, version and stats keep reading the copy of the current snapshot.
 */
typedef struct cfgpool_holder cfgpool_holder_t;

/*
 * Creates a holder with no configuration yet (read_begin returns NULL until the first
 * successful reload or publish). `opts` (may be NULL) is copied, preparers included;
 * `source` is borrowed. Starts the holder's reclaim thread, so that a later reload never
 * needs a thread it cannot have. Returns 0, -EINVAL, -ENOMEM, or -EAGAIN (no thread).
 */
CFGPOOL_API int cfgpool_holder_create(const cfgpool_load_opts_t *opts, cfgpool_holder_t **out);

/*
 * Frees the holder and its current snapshot, after waiting for every grace period and
 * deferred free it started. Must not race with any other call on the holder; no reader
 * may be inside a read-side section on it. NULL is a no-op.
 */
CFGPOOL_API void cfgpool_holder_destroy(cfgpool_holder_t *h);

/* Flags for reloads. */
enum {
	/* Return only once no reader can still see the previous snapshot, which is then freed. */
	CFGPOOL_RELOAD_SYNC = 1u << 0,
};

/*
 * Loads a configuration with the holder's options and publishes it as version
 * current+1. On any failure nothing changes: the current snapshot stays published and
 * intact, and `err` says why. Concurrent calls are serialized; each successful one gets
 * its own version. Without CFGPOOL_RELOAD_SYNC the old snapshot is queued for the
 * holder's reclaim thread and freed after a grace period; with it, the call returns once no reader can still see the
 * old snapshot, which it has then freed. A synchronous reload from inside a read-side
 * section would wait for itself: it returns -EBUSY before loading anything.
 * May block (I/O, the holder mutex, a grace period). Returns 0, -EINVAL (NULL holder),
 * -ENOMEM, or the load's error.
 * `version` (may be NULL) receives the published version.
 */
CFGPOOL_API int cfgpool_holder_reload_file(cfgpool_holder_t *h, const char *path, unsigned flags,
					   uint64_t *version, cfgpool_error_t *err);
CFGPOOL_API int cfgpool_holder_reload_string(cfgpool_holder_t *h, const char *text, size_t len, unsigned flags,
					     uint64_t *version, cfgpool_error_t *err);

/*
 * Publishes a configuration loaded with cfgpool_config_load_*() by the caller. It must
 * have been loaded with the same preparers as the holder's (else -EINVAL, and the
 * caller keeps it) and never published before (else -EBUSY). On success the holder takes
 * ownership. -ENOMEM (the holder's record of it) leaves it to the caller. Otherwise as
 * reload.
 */
CFGPOOL_API int cfgpool_holder_publish(cfgpool_holder_t *h, cfgpool_config_t *cfg, unsigned flags,
				       uint64_t *version);

/*
 * Enters a read-side section and returns the current snapshot (NULL before the first
 * publish). The snapshot, and every pointer obtained from it, stays valid and unchanged
 * until the matching cfgpool_holder_read_end(): reloads in the meantime publish new
 * versions without touching it. Sections nest. Wait-free (the first call on a thread
 * registers it with liburcu, which takes a mutex once). Provides acquire ordering: the
 * snapshot's contents as published are visible. A long section delays the freeing of
 * retired snapshots, and a synchronous reload waits for it, so keep sections short.
 */
CFGPOOL_API const cfgpool_config_t *cfgpool_holder_read_begin(const cfgpool_holder_t *h);
CFGPOOL_API void cfgpool_holder_read_end(const cfgpool_holder_t *h);

/*
 * Reader registration. cfgpool_holder_read_begin() registers a thread on first use and the
 * registration is dropped when the thread exits; a thread may also register and
 * unregister explicitly (e.g. before a long-lived thread goes on to other work).
 * unregister must not be called inside a read-side section.
 */
CFGPOOL_API int cfgpool_reader_register(void);
CFGPOOL_API void cfgpool_reader_unregister(void);

/* The version of the current snapshot, 0 before the first publish (and for NULL). Wait-free. */
CFGPOOL_API uint64_t cfgpool_holder_version(const cfgpool_holder_t *h);

/*
 * Waits until every snapshot this holder retired so far has been freed. May block.
 * Returns 0, -EINVAL (NULL), or -EBUSY without waiting when called inside a read-side
 * section (the grace period it waits for would wait for that section).
 */
CFGPOOL_API int cfgpool_holder_barrier(const cfgpool_holder_t *h);

typedef struct cfgpool_holder_stats {
	uint64_t published;     /* successful publishes */
	uint64_t failed;        /* reloads that failed and changed nothing */
	uint64_t retired;       /* snapshots replaced and handed to a grace period */
	uint64_t freed;         /* retired snapshots freed so far */
	size_t current_size;    /* cfgpool_config_size() of the current snapshot, 0 if none */
} cfgpool_holder_stats_t;

/* A consistent-enough copy of the counters (each read atomically; all 0 for NULL). Thread-safe. */
CFGPOOL_API void cfgpool_holder_stats(const cfgpool_holder_t *h, cfgpool_holder_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_HOLDER_H */
