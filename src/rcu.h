/*
 * The RCU primitives cfgpool uses, in one place: liburcu's memb flavour with its read-side
 * fast paths inlined, plus what ThreadSanitizer needs to see them.
 *
 * _LGPL_SOURCE inlines liburcu's read-side lock and unlock (small static inline functions,
 * which the LGPL allows in code under any licence) instead of calling into the library.
 *
 * ThreadSanitizer cannot see a grace period (liburcu ends it with sys_membarrier), so under
 * TSan every read-side unlock releases, and every free after a grace period acquires, one
 * synchronization object: exactly the happens-before edge a grace period provides. The
 * object is liburcu's grace-period state, urcu_memb_gp, which a host's inline sections
 * (<cfgpool/holder.h>, CFGPOOL_INLINE_READ) can name too and release in their unlock.
 * Publication itself uses C11 atomics, which TSan sees.
 *
 * A host built with TSan needs the library built with it too (--enable-sanitizers=thread):
 * an uninstrumented library's publishing exchange is invisible to TSan, which then reports
 * the readers' loads as races with the writes that built the snapshot.
 */
#ifndef CFGPOOL_SRC_RCU_H
#define CFGPOOL_SRC_RCU_H

#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-memb.h>

#if defined(__SANITIZE_THREAD__)
#define CFGPOOL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CFGPOOL_TSAN 1
#endif
#endif

#ifdef CFGPOOL_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define cfgpool__tsan_release() __tsan_release(&urcu_memb_gp)
#define cfgpool__tsan_acquire() __tsan_acquire(&urcu_memb_gp)
#else
#define cfgpool__tsan_release() ((void)0)
#define cfgpool__tsan_acquire() ((void)0)
#endif

static inline void cfgpool__read_lock(void)
{
	urcu_memb_read_lock();
}

static inline void cfgpool__read_unlock(void)
{
	cfgpool__tsan_release();
	urcu_memb_read_unlock();
}

/* Waits for a grace period: every read-side section that began before has ended. */
static inline void cfgpool__synchronize(void)
{
	urcu_memb_synchronize_rcu();
	cfgpool__tsan_acquire();
}

#endif /* CFGPOOL_SRC_RCU_H */
