/*
 * The bounded MPMC ring (see queue.h). Slot i of lap L has seq == L*cap + i when free for
 * the producer of position L*cap + i, and seq == that position + 1 once it holds a task
 * for the consumer of that position. A producer claims a position by a CAS on head, fills
 * the slot and publishes it by storing seq (release); a consumer claims by a CAS on tail,
 * reads the task (after an acquire load of seq) and frees the slot for the next lap.
 * perf/bench_queue compares this ring with liburcu's wfcqueue.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "queue.h"

/* A task record and its sequence fill one line: the slot is claimed and filled in one. */
_Static_assert(sizeof(struct cfgpool__slot) == CFGPOOL_CACHELINE, "a queue slot is one cache line");

int cfgpool__queue_init(struct cfgpool__queue *q, size_t capacity)
{
	size_t cap = 2;

	while (cap < capacity)
		cap <<= 1;
	q->slots = aligned_alloc(CFGPOOL_CACHELINE, cap * sizeof(*q->slots));
	if (q->slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		atomic_init(&q->slots[i].seq, i);
	q->mask = cap - 1;
	q->capacity = cap;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	atomic_init(&q->high_water, 0);
	return 0;
}

void cfgpool__queue_destroy(struct cfgpool__queue *q)
{
	free(q->slots);
	q->slots = NULL;
}

/*
 * Claims n consecutive positions (1 for push(), which inlines it, so the run's loop
 * folds away). Every slot of the run must be free for this lap.
 */
static inline bool claim_run(struct cfgpool__queue *q, size_t n, size_t *pos_out)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);

	for (;;) {
		intptr_t dif = 0;
		size_t k;

		for (k = 0; k < n; k++) {
			/* Acquire: pairs with the consumer's release that freed the slot, so our
			 * write of the task cannot overtake its read of the previous one. */
			size_t seq = atomic_load_explicit(&q->slots[(pos + k) & q->mask].seq, memory_order_acquire);

			dif = (intptr_t)seq - (intptr_t)(pos + k);
			if (dif != 0)
				break;
		}
		if (k == n) {
			/* The run cannot change before the CAS: a slot free for position p is only
			 * filled by the producer that claimed p, and head == pos means nobody claimed
			 * any of them. seq_cst: see queue.h (costs nothing more than relaxed on
			 * x86). A failed CAS reloads pos. */
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + n, memory_order_seq_cst,
								  memory_order_relaxed)) {
				*pos_out = pos;
				return true;
			}
		} else if (dif < 0) {
			/* The slot still holds last lap's task: full, the highest water there is. */
			cfgpool__queue_note_depth(q);
			return false;
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
}

/* push() inlines both steps; the exported pair is for tests and claim_n's users. */
static inline bool claim(struct cfgpool__queue *q, size_t *pos_out)
{
	return claim_run(q, 1, pos_out);
}

static inline void publish(struct cfgpool__queue *q, size_t pos, const struct cfgpool__task *task)
{
	struct cfgpool__slot *s = &q->slots[pos & q->mask];

	s->task = *task;
	/* Release: pairs with the acquire load of seq in pop and in cfgpool__queue_front(). */
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	if ((pos & 63) == 0)
		cfgpool__queue_note_depth(q);
}

bool cfgpool__queue_claim(struct cfgpool__queue *q, size_t *pos)
{
	return claim(q, pos);
}

void cfgpool__queue_publish(struct cfgpool__queue *q, size_t pos, const struct cfgpool__task *task)
{
	publish(q, pos, task);
}

bool cfgpool__queue_claim_n(struct cfgpool__queue *q, size_t n, size_t *pos)
{
	if (n == 0 || n > q->capacity)
		return false;
	return claim_run(q, n, pos);
}

CFGPOOL_HOT bool cfgpool__queue_push(struct cfgpool__queue *q, const struct cfgpool__task *task)
{
	size_t pos;

	if (!claim(q, &pos))
		return false;
	publish(q, pos, task);
	return true;
}

void cfgpool__queue_note_depth(struct cfgpool__queue *q)
{
	size_t depth = cfgpool__queue_size(q);
	size_t hw = atomic_load_explicit(&q->high_water, memory_order_relaxed);

	while (depth > hw && !atomic_compare_exchange_weak_explicit(&q->high_water, &hw, depth, memory_order_relaxed,
								    memory_order_relaxed))
		;
}

CFGPOOL_HOT bool cfgpool__queue_pop(struct cfgpool__queue *q, struct cfgpool__task *task)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

	for (;;) {
		struct cfgpool__slot *s = &q->slots[pos & q->mask];
		/* Acquire: pairs with the release store of seq in push. */
		size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
								  memory_order_relaxed)) {
				*task = s->task;
				/* Release: pairs with the acquire load in push of the next lap. */
				atomic_store_explicit(&s->seq, pos + q->mask + 1, memory_order_release);
				return true;
			}
		} else if (dif < 0) {
			return false; /* not yet filled: empty */
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

CFGPOOL_HOT size_t cfgpool__queue_pop_many(struct cfgpool__queue *q, struct cfgpool__task *out, size_t max)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

	for (;;) {
		size_t k = 0;

		/* Count the filled slots from pos on: each seq says "filled for this lap". */
		while (k < max &&
		       atomic_load_explicit(&q->slots[(pos + k) & q->mask].seq, memory_order_acquire) == pos + k + 1)
			k++;
		if (k == 0) {
			size_t seq = atomic_load_explicit(&q->slots[pos & q->mask].seq, memory_order_acquire);

			if ((intptr_t)seq - (intptr_t)(pos + 1) < 0)
				return 0; /* empty */
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
			continue;
		}
		/* Claiming the run at once: the slots cannot change before the CAS, since only the
		 * consumer of a position frees its slot, and tail == pos means nobody claimed it. */
		if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + k, memory_order_relaxed,
							  memory_order_relaxed)) {
			for (size_t i = 0; i < k; i++) {
				struct cfgpool__slot *s = &q->slots[(pos + i) & q->mask];

				out[i] = s->task;
				/* Release: pairs with the acquire load in push of the next lap. */
				atomic_store_explicit(&s->seq, pos + i + q->mask + 1, memory_order_release);
			}
			return k;
		}
	}
}
