/*
 * Futex wait and wake on a 32-bit word, private to the process. Parking and waking use
 * these directly: a condition variable would add a mutex round trip to every wake, and
 * the wake path is what a periodic batch pays for (about 50 us per park/wake round trip
 * between the two cores of a virtual machine, against under 0.1 us for a spin).
 */
#ifndef CFGPOOL_SRC_FUTEX_H
#define CFGPOOL_SRC_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * Sleeps while *word == expected (checked atomically by the kernel), until woken, a signal,
 * or `timeout` (relative, NULL for none). Spurious returns happen: callers loop.
 */
static inline void cfgpool__futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *timeout)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, timeout, NULL, 0);
}

/*
 * As cfgpool__futex_wait(), until the absolute CLOCK_MONOTONIC time `deadline_ns` (the
 * bitset form of the call takes an absolute time on that clock), so that a caller looping
 * over spurious returns keeps one deadline.
 */
static inline void cfgpool__futex_wait_until(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
	struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};

	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET_PRIVATE, expected, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Wakes up to n threads sleeping on word. */
static inline void cfgpool__futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* A pause for spin loops: tells the core (and a hypervisor) that this is a busy wait. */
static inline void cfgpool__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif /* CFGPOOL_SRC_FUTEX_H */
