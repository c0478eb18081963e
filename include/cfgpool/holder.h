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
 *   read_begin/read_end   any threads, concurrently with everything but destroy; the
 *   (and _inline forms)   same for the inline forms (current_inline: inside a section)
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
 * In such a child (one forked while any holder or pool existed, or another thread was
 * registered by cfgpool) holder_create returns CFGPOOL_EFORKED: liburcu's registry there
 * still lists the parent's threads and no grace period can run.
 */
typedef struct cfgpool_holder cfgpool_holder_t;

/*
 * Creates a holder with no configuration yet (read_begin returns NULL until the first
 * successful reload or publish). `opts` (may be NULL) is copied, preparers included;
 * `source` is borrowed. Starts the holder's reclaim thread, so that a later reload never
 * needs a thread it cannot have. Returns 0, -EINVAL, -ENOMEM, -EAGAIN (no thread), or
 * CFGPOOL_EFORKED (a forked child, see fork() above).
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
 * These two are calls into the library, for bindings and for hosts that load it with
 * dlopen(); a program compiled against this header can have the same sections compiled
 * into it instead (cfgpool_holder_read_begin_inline() below, with CFGPOOL_INLINE_READ).
 */
CFGPOOL_API const cfgpool_config_t *cfgpool_holder_read_begin(const cfgpool_holder_t *h);
CFGPOOL_API void cfgpool_holder_read_end(const cfgpool_holder_t *h);

/*
 * Reader registration. cfgpool_holder_read_begin() (and its inline form) registers a thread
 * with liburcu on first use and the registration is dropped when the thread exits; a thread
 * may also register and unregister explicitly (e.g. before a long-lived thread goes on to
 * other work). A thread the host registered with liburcu-memb itself
 * (urcu_memb_register_thread()) is used as it is: register returns 0 at once, and neither
 * unregister nor the thread's exit drops a registration cfgpool did not make.
 * unregister must not be called inside a read-side section (it aborts, saying so).
 * register returns 0, or a negative errno from pthread_setspecific() (-ENOMEM).
 */
CFGPOOL_API int cfgpool_reader_register(void);
CFGPOOL_API void cfgpool_reader_unregister(void);

/* ------------------------------------------------------------------------------------------ */
/* Inline read-side sections (opt-in: define CFGPOOL_INLINE_READ before the first include)     */
/* ------------------------------------------------------------------------------------------ */

/*
 * cfgpool_holder_read_begin_inline() and cfgpool_holder_read_end_inline() are
 * cfgpool_holder_read_begin() and cfgpool_holder_read_end() compiled into the caller: the
 * same sections with the same contract, on the same reader state (liburcu-memb's, one per
 * thread), so the two forms nest inside each other in any mix, and everything the library
 * refuses inside a section (a synchronous reload or publish: -EBUSY; a barrier: -EBUSY;
 * pool shutdown: -EDEADLK; pool close: abort) it refuses inside an inline one too.
 *
 *     #define CFGPOOL_INLINE_READ
 *     #include <cfgpool/cfgpool.h>
 *
 *     const cfgpool_config_t *snap = cfgpool_holder_read_begin_inline(h);
 *     ... read snap ...
 *     cfgpool_holder_read_end_inline(h);
 *
 * What the host must know:
 *  - Build: GCC or Clang, C or C++. The section is liburcu's own inline memb read lock and
 *    unlock (<urcu/static/urcu-memb.h>, included here; _LGPL_SOURCE is not defined, so the
 *    host's other liburcu includes keep their out-of-line calls) around an acquire load, so
 *    the program links liburcu-memb: `pkg-config --cflags --libs cfgpool` says so (cfgpool.pc
 *    requires liburcu-memb). liburcu's read lock and unlock are small static inline
 *    functions, which the LGPL 2.1 (section 5) allows in code under any licence.
 *  - Registration: none to do. The begin tests liburcu's own `registered` flag of the
 *    thread and, the first time on a thread, calls cfgpool_holder_read_begin() instead,
 *    which registers the thread and arranges for its exit to unregister it. Nothing to call
 *    at thread exit. A thread must not exit inside a section (one that cfgpool registered
 *    is unregistered all the same, so grace periods do not wait for it).
 *  - fork(): sections keep working in a child, on the copy (see fork() above).
 *  - Plug-ins and dlopen() hosts (tests/check_dlopen.sh) and language bindings
 *    (tests/check_ctypes.sh) have no link-time liburcu to compile against: they use the
 *    out-of-line calls, which share the reader state with inline sections in one process.
 *  - ThreadSanitizer: in a host built with it, the inline end tells it what a grace period
 *    orders, as the library's own sections do (one release of a synchronization object,
 *    liburcu's urcu_memb_gp, that every grace period of the library acquires). The library
 *    must be built with TSan too (--enable-sanitizers=thread), or TSan sees neither the
 *    acquire nor the publishing exchange.
 *  - The holder's first member is its current snapshot (struct cfgpool_holder_head): that
 *    layout is compiled into the caller and is part of the library's ABI.
 *
 * Memory order, in the C11 model. liburcu-memb's read lock stores the thread's nesting
 * counter (with the grace-period phase) and its unlock stores it back, with only compiler
 * barriers around them when the kernel has membarrier(); a grace period (liburcu's
 * synchronize_rcu) runs membarrier() on every running thread of the process around its
 * scans of those counters, so each lock and unlock is ordered against the writer as by a
 * pair of atomic_thread_fence(memory_order_seq_cst) (without membarrier liburcu issues real
 * fences on both sides). So either the grace period that precedes a free sees a section's
 * counter and waits for its unlock, which comes after every read of the section, or the
 * section began after the exchange that unpublished the snapshot and its load cannot return
 * the old pointer. The load of the holder's current snapshot is an acquire load
 * (rcu_dereference, with acquire for consume): it pairs with the release of the exchange
 * that published the snapshot, so the snapshot's contents as published are visible.
 */
#ifdef CFGPOOL_INLINE_READ

#if !defined(__GNUC__)
#error "CFGPOOL_INLINE_READ needs GCC or Clang (liburcu's inline read side does)"
#endif

#include <urcu/static/urcu-memb.h>

/* The first member of every holder (not API: use the functions). */
struct cfgpool_holder_head {
	const cfgpool_config_t *current; /* accessed only with __atomic builtins */
};

#if defined(__SANITIZE_THREAD__)
#define CFGPOOL_INLINE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CFGPOOL_INLINE_TSAN 1
#endif
#endif
#ifdef CFGPOOL_INLINE_TSAN
void __tsan_release(void *addr);
#endif

/*
 * The holder's current snapshot, inside a read-side section (of either form): the same
 * acquire load as the begin's. Valid until the caller's section ends. Wait-free.
 */
static inline const cfgpool_config_t *cfgpool_holder_current_inline(const cfgpool_holder_t *h)
{
	/* Acquire: pairs with the release of the exchange that published the snapshot. */
	return __atomic_load_n(&((const struct cfgpool_holder_head *)(const void *)h)->current, __ATOMIC_ACQUIRE);
}

/* As cfgpool_holder_read_begin(), inline. Wait-free (the first call on a thread registers it
 * out of line, taking a mutex once). */
static inline const cfgpool_config_t *cfgpool_holder_read_begin_inline(const cfgpool_holder_t *h)
{
	if (__builtin_expect(!URCU_TLS(urcu_memb_reader).registered, 0))
		return cfgpool_holder_read_begin(h);
	_urcu_memb_read_lock();
	return cfgpool_holder_current_inline(h);
}

/* As cfgpool_holder_read_end(), inline. Wait-free. */
static inline void cfgpool_holder_read_end_inline(const cfgpool_holder_t *h)
{
	(void)h;
#ifdef CFGPOOL_INLINE_TSAN
	/* Every read of the section happens before the free that follows a grace period. */
	__tsan_release((void *)&urcu_memb_gp);
#endif
	_urcu_memb_read_unlock();
}

#endif /* CFGPOOL_INLINE_READ */

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
