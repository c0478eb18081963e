/*
 * The work queue: a bounded multi-producer multi-consumer ring of task records, lock-free
 * (Dmitry Vyukov's design: each slot carries a sequence number that says whether it is
 * free for the producer of that lap or full for its consumer). Task records are stored in
 * the slots, so queuing allocates nothing. Internal.
 *
 * Synchronization table: push and pop may run concurrently from any number of threads;
 * init and destroy need exclusive access. Progress: lock-free for producers; consumers
 * are blocked by a stalled producer. A producer preempted between claiming a slot and
 * publishing it holds up every consumer, not only that slot's: pops take positions in
 * order, so while the oldest claimed slot is unpublished every pop finds the queue empty,
 * though size() counts the claimed slots and later ones may be full. cfgpool__queue_front()
 * tells that window (STALLED) from an empty queue, so that an idle consumer can yield the
 * CPU, or sleep for a while, instead of spinning on it.
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

/*
 * One unit of work: item `index` of a batch (map or map_async), or a submitted task with
 * its callback and group. `batch` says which: the other member of the union is not set.
 * With the slot's sequence it fills one cache line (checked in queue.c).
 */
struct cfgpool__task {
	const void *input;
	void *output;
	uint64_t deadline_ns;         /* absolute CLOCK_MONOTONIC; 0: none */
	struct cfgpool__batch *batch; /* the batch, or NULL for a submitted task */
	union {
		size_t index; /* batch item: its position in the batch */
		struct {      /* submitted task */
			cfgpool_done_fn done;
			void *arg;
			cfgpool_group_t *group;
		};
	};
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

/*
 * push() in its two steps, for tests of the window between them and for claim_n: claim a
 * position (false: full), then publish a task into it. Between the two the queue is STALLED.
 */
bool cfgpool__queue_claim(struct cfgpool__queue *q, size_t *pos);
void cfgpool__queue_publish(struct cfgpool__queue *q, size_t pos, const struct cfgpool__task *task);

/*
 * Claims `n` consecutive positions at once, or none (false: fewer than n slots are free,
 * or n is 0 or above the capacity): what an asynchronous batch that must be queued whole
 * or not at all uses. Publish each with cfgpool__queue_publish(pos + i, ...); until the
 * first is published the queue is STALLED, so publish them at once. Ordered as push's claim.
 */
bool cfgpool__queue_claim_n(struct cfgpool__queue *q, size_t n, size_t *pos);

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

enum cfgpool__queue_front {
	CFGPOOL__QUEUE_EMPTY,   /* nothing claimed */
	CFGPOOL__QUEUE_READY,   /* a pop may succeed (or the view was stale: retry) */
	CFGPOOL__QUEUE_STALLED, /* the oldest position is claimed but not yet published */
};

/*
 * What a consumer would find at the front. The head is loaded with `head_order` (seq_cst
 * for a worker about to park: its half of the park/wake handshake, see worker.c), the
 * tail relaxed, which can only make the queue look fuller than it is. Then, if some
 * position is claimed, the front slot's sequence (acquire: pairs with the release in
 * publish) says whether its task is there.
 */
static inline enum cfgpool__queue_front cfgpool__queue_front(struct cfgpool__queue *q, memory_order head_order)
{
	size_t head = atomic_load_explicit(&q->head, head_order);
	size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	size_t seq;

	if (head == tail)
		return CFGPOOL__QUEUE_EMPTY;
	seq = atomic_load_explicit(&q->slots[tail & q->mask].seq, memory_order_acquire);
	return (intptr_t)seq - (intptr_t)(tail + 1) < 0 ? CFGPOOL__QUEUE_STALLED : CFGPOOL__QUEUE_READY;
}

#endif /* CFGPOOL_SRC_QUEUE_H */
