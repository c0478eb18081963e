/*
 * The crew: a pool's worker threads, their run loop, and the one park/wake protocol
 * (written out at the top of worker.c) that every thread queueing work, reserving a
 * worker's CPU or closing takes part in. Internal; the pool talks to its workers through
 * these functions only.
 *
 * Shared fields and what protects them:
 *   run, queue, closing, workers, n  set by the pool before start, read-only after
 *   nparked, worker->state           the park/wake protocol (worker.c)
 *   worker->reserved                 the park/wake protocol (worker.c)
 *   room_wanted, room_seq            a submitter waiting for room: cfgpool__crew_push_wait()
 *   started, go                      the start-up handshake: cfgpool__crew_start()
 *   worker counters, spin_ns, late_ns  written by their worker only (relaxed)
 *   arrivals                         noted by submitters, read by idle workers (arrivals.h)
 */
#ifndef CFGPOOL_SRC_WORKER_H
#define CFGPOOL_SRC_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arrivals.h"
#include "task.h"

enum { WORKER_RUNNING = 0, WORKER_PARKED = 1 };

struct cfgpool__crew;

struct cfgpool__worker {
	/* The park futex word, alone on its line: wakers CAS it. */
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint32_t state;
	/* Callers running their own batch on this worker's CPU: while nonzero the worker
	 * takes no task, so that the CPU is not shared by two threads running tasks. */
	_Atomic uint32_t reserved;
	_Alignas(CFGPOOL_CACHELINE) struct cfgpool__crew *crew;
	unsigned index;
	int cpu; /* pinned CPU, or -1 */
	pthread_t thread;
	struct cfgpool__kstate kstate; /* the kernel's per-worker state */
	uint64_t spin_ns; /* this worker's current spin window (worker.c: idle) */
	uint64_t late_ns; /* how late its timed wake-ups come, on average (worker.c: idle) */
	int init_rc;
	struct cfgpool__counters c;
};

struct cfgpool__crew {
	struct cfgpool__runner run;
	struct cfgpool__queue *queue;
	const atomic_bool *closing; /* set once by close, before cfgpool__crew_wake_all() */
	struct cfgpool__worker *workers;
	unsigned n;
	_Alignas(CFGPOOL_CACHELINE) _Atomic uint32_t nparked;
	_Atomic uint32_t wake_cursor;
	/* A submitter waiting for room in a full queue, and the futex word it sleeps on. */
	_Alignas(CFGPOOL_CACHELINE) atomic_bool room_wanted;
	_Atomic uint32_t room_seq;
	/* Workers that finished worker_init (the futex word start waits on). */
	_Atomic uint32_t started;
	atomic_bool go; /* set by start once every worker started; false means: exit */
	/* When batches arrive (arrivals.h has its own table). */
	struct cfgpool__arrivals arrivals;
};

/*
 * Starts crew->n workers (the pool filled in every field above `nparked` and zeroed the
 * rest), pinned to cpus[i % ncpu] when `pin`, and waits until each ran worker_init. On
 * failure every started worker has exited and crew->n says how many there were.
 */
int cfgpool__crew_start(struct cfgpool__crew *crew, const int *cpus, unsigned ncpu, bool pin, cfgpool_error_t *err);
void cfgpool__crew_join(struct cfgpool__crew *crew);

/* Wakes one parked, unreserved worker other than `skip`. True if one was woken. */
bool cfgpool__crew_wake_one(struct cfgpool__crew *crew, const struct cfgpool__worker *skip);
/* Close: wakes every parked worker, reserved or not, so that each sees `closing`. */
void cfgpool__crew_wake_all(struct cfgpool__crew *crew);

/* Pushes, waiting for room while the queue is full. */
void cfgpool__crew_push_wait(struct cfgpool__crew *crew, const struct cfgpool__task *task);
/* After a pop: wakes a submitter waiting for room once the queue is half empty. */
void cfgpool__crew_room_signal(struct cfgpool__crew *crew);

/* Expected time of one task: the freshest running average, the caller's or a worker's. */
uint64_t cfgpool__crew_estimate_ns(const struct cfgpool__crew *crew, const struct cfgpool__counters *caller);

/*
 * A caller running its batch itself reserves the worker of the CPU it is on (NULL if
 * none); follow moves the reservation when the scheduler moved the caller; unreserve
 * drops it and wakes a worker for what queued up behind it.
 */
struct cfgpool__worker *cfgpool__crew_reserve(struct cfgpool__crew *crew);
void cfgpool__crew_follow(struct cfgpool__crew *crew, struct cfgpool__worker **home);
void cfgpool__crew_unreserve(struct cfgpool__crew *crew, struct cfgpool__worker *home, const struct cfgpool__worker *skip);

#endif /* CFGPOOL_SRC_WORKER_H */
