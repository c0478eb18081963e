/*
 * The work queue: a bounded multi-producer multi-consumer ring of task records, lock-free
 * (Dmitry Vyukov's design: each slot carries a sequence number that says whether it is
 * free for the producer of that lap or full for its consumer). Task records are stored in
 * the slots, so queuing allocates nothing. Internal.
 *
 * Synchronization table: push and pop may run concurrently from any number of threads;
 * init and destroy need exclusive access. Progress: lock-free (a thread that is preempted
 * between claiming a slot and publishing it delays only the consumer of that slot).
 */
#ifndef CFGPOOL_SRC_QUEUE_H
#define CFGPOOL_SRC_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

#include "compat.h"

struct cfgpool__batch;

/* One unit of work: either an async task with a callback, or item `index` of a batch. */
struct cfgpool__task {
	const void *input;
	void *output;
	cfgpool_done_fn done; /* async: completion callback */
	void *arg;
	struct cfgpool__batch *batch; /* map: the batch, NULL for async */
	size_t index;
};

/* A slot per cache line: a producer filling one slot and a consumer emptying the next do
 * not share a line. */
struct cfgpool__slot {
	_Alignas(CFGPOOL_CACHELINE) _Atomic size_t seq;
	struct cfgpool__task task;
};

struct cfgpool__queue {
	/* Producers' and consumers' positions on their own cache lines: each is hammered by
	 * its side only. */
	_Alignas(CFGPOOL_CACHELINE) _Atomic size_t head; /* next position to push */
	_Atomic size_t high_water;                        /* sampled by producers */
	_Alignas(CFGPOOL_CACHELINE) _Atomic size_t tail; /* next position to pop */
	_Alignas(CFGPOOL_CACHELINE) struct cfgpool__slot *slots;
	size_t mask;
	size_t capacity;
};

/* Capacity is rounded up to a power of two (at least 2). 0 or -ENOMEM. */
int cfgpool__queue_init(struct cfgpool__queue *q, size_t capacity);
void cfgpool__queue_destroy(struct cfgpool__queue *q);

/*
 * Pushes a copy of *task. Returns true, or false when the queue is full. Release: the
 * task's contents are visible to the thread that pops it (pairs with the acquire in pop).
 * The claim of the slot is sequentially consistent, so that a following seq_cst load (of
 * the pool's parked-worker count) cannot be ordered before it: the submitter's half of
 * the park/wake handshake, without a separate fence.
 */
bool cfgpool__queue_push(struct cfgpool__queue *q, const struct cfgpool__task *task);

/* Pops the oldest task into *task. Returns true, or false when the queue is empty. */
bool cfgpool__queue_pop(struct cfgpool__queue *q, struct cfgpool__task *task);

/*
 * Pops up to `max` of the oldest tasks with one claim on the consumers' position: what a
 * worker does when tasks are tiny, so that it takes the shared line once per run of
 * tasks instead of once per task. Returns how many (0: empty).
 */
size_t cfgpool__queue_pop_many(struct cfgpool__queue *q, struct cfgpool__task *out, size_t max);

/* Records the queue's depth in high_water if it is a new maximum. Called on every 64th
 * push, on a push that finds the queue full, and after each batch is queued, so the mark
 * is exact at those moments and a lower bound of the true maximum in between. */
void cfgpool__queue_note_depth(struct cfgpool__queue *q);

/* Approximate number of queued tasks (exact when nobody pushes or pops). */
static inline size_t cfgpool__queue_size(struct cfgpool__queue *q)
{
	size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

	return head > tail ? head - tail : 0;
}

#endif /* CFGPOOL_SRC_QUEUE_H */
