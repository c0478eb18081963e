/*
 * The work queue on its own (src/queue.h, linked with src/queue.c as perf/bench_queue is):
 * a producer stalled between claiming a position and publishing it. queue.h says every
 * consumer then finds the queue empty though size() counts the claimed slots, also those
 * published behind the stalled one, and that cfgpool__queue_front() tells that window
 * (STALLED) from an empty queue, which is what an idle worker looks at to yield instead of
 * spinning.
 */
#define _GNU_SOURCE

#include "helpers.h"

#include "queue.h"

static struct cfgpool__task task_of(size_t i)
{
	struct cfgpool__task t = {.index = i};

	return t;
}

/* What every consumer sees while the oldest claimed position is unpublished. */
static void assert_stalled(struct cfgpool__queue *q, size_t size)
{
	struct cfgpool__task t, out[4];

	assert_int_equal(cfgpool__queue_size(q), size);
	assert_int_equal(cfgpool__queue_front(q, memory_order_seq_cst), CFGPOOL__QUEUE_STALLED);
	assert_false(cfgpool__queue_pop(q, &t));
	assert_int_equal(cfgpool__queue_pop_many(q, out, 4), 0);
}

static void a_stalled_producer_holds_up_every_consumer(void **state)
{
	struct cfgpool__queue q;
	struct cfgpool__task t, out[4];
	size_t stalled, next;

	(void)state;
	assert_int_equal(cfgpool__queue_init(&q, 4), 0);
	assert_int_equal(cfgpool__queue_front(&q, memory_order_seq_cst), CFGPOOL__QUEUE_EMPTY);
	assert_false(cfgpool__queue_pop(&q, &t));

	/* The stalled producer: a position claimed, nothing published. */
	assert_true(cfgpool__queue_claim(&q, &stalled));
	assert_stalled(&q, 1);

	/* Another producer gets through, but its task is stuck behind the stalled slot. */
	t = task_of(2);
	assert_true(cfgpool__queue_push(&q, &t));
	assert_stalled(&q, 2);

	/* The stalled producer resumes: both come out, in order. */
	t = task_of(1);
	cfgpool__queue_publish(&q, stalled, &t);
	assert_int_equal(cfgpool__queue_front(&q, memory_order_seq_cst), CFGPOOL__QUEUE_READY);
	assert_int_equal(cfgpool__queue_pop_many(&q, out, 4), 2);
	assert_int_equal(out[0].index, 1);
	assert_int_equal(out[1].index, 2);
	assert_int_equal(cfgpool__queue_front(&q, memory_order_seq_cst), CFGPOOL__QUEUE_EMPTY);

	/* A later lap: the claim and the publish still pair up, and a full ring refuses. */
	for (size_t i = 0; i < 4; i++)
		assert_true(cfgpool__queue_claim(&q, &next));
	assert_false(cfgpool__queue_claim(&q, &stalled));
	assert_stalled(&q, 4);
	for (size_t i = 0; i < 4; i++) {
		t = task_of(10 + i);
		cfgpool__queue_publish(&q, next - 3 + i, &t);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_true(cfgpool__queue_pop(&q, &t));
		assert_int_equal(t.index, 10 + i);
	}
	cfgpool__queue_destroy(&q);
}

/*
 * claim_n claims a whole run or nothing: a run longer than the free room (or than the
 * queue, or empty) is refused without claiming a position, and one that fits comes out
 * in order after what was queued before it, also across the end of the ring.
 */
static void claim_n_claims_a_whole_run_or_nothing(void **state)
{
	struct cfgpool__queue q;
	struct cfgpool__task t, out[8];
	size_t pos;

	(void)state;
	assert_int_equal(cfgpool__queue_init(&q, 4), 0);
	assert_false(cfgpool__queue_claim_n(&q, 0, &pos));
	assert_false(cfgpool__queue_claim_n(&q, 5, &pos));
	t = task_of(100);
	assert_true(cfgpool__queue_push(&q, &t));
	assert_true(cfgpool__queue_push(&q, &t));
	/* Two free: a run of 3 is refused and claims nothing. */
	assert_false(cfgpool__queue_claim_n(&q, 3, &pos));
	assert_int_equal(cfgpool__queue_size(&q), 2);
	assert_int_equal(cfgpool__queue_pop_many(&q, out, 8), 2);
	/* Four free, from position 2: the run wraps around the ring. */
	assert_true(cfgpool__queue_claim_n(&q, 4, &pos));
	assert_int_equal(pos, 2);
	assert_int_equal(cfgpool__queue_size(&q), 4);
	assert_false(cfgpool__queue_claim_n(&q, 1, &pos));
	for (size_t i = 0; i < 4; i++) {
		t = task_of(i);
		cfgpool__queue_publish(&q, 2 + i, &t);
	}
	assert_int_equal(cfgpool__queue_pop_many(&q, out, 8), 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(out[i].index, i);
	cfgpool__queue_destroy(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_stalled_producer_holds_up_every_consumer),
	    cmocka_unit_test(claim_n_claims_a_whole_run_or_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
