/*
 * Question: which work queue should the pool use? cfgpool's bounded MPMC ring (src/queue.c)
 * against liburcu's wfcqueue (wait-free enqueue; dequeue under its mutex, since the pool has
 * several consumers), on the pool's access pattern: task records of 48 bytes, producers
 * that are submitters, consumers that are workers.
 *   single thread   push then pop of one task, repeated: the uncontended cost per task
 *   1P/1C           one producer and one consumer on the two cores: tasks per second
 *   2P/2C           two of each (on 2 cores, oversubscribed): tasks per second
 * --workers N measures kP/kC for k = 1, 2, 4, ... up to N (default 2), so that on a larger
 * machine the lines show how the queue's shared head and tail scale with the threads on
 * them; --tasks sets the tasks per repetition (default 2000000), --quick a fiftieth.
 * The wfcqueue variant bounds itself as the pool must (an atomic count of queued tasks) and
 * its tasks are caller-owned nodes, so neither variant allocates per task.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <urcu/wfcqueue.h>

#include "../src/queue.h"
#include "bench.h"

#define CAPACITY 1024

struct wf_task {
	struct cds_wfcq_node node;
	struct cfgpool__task task;
};

struct wfq {
	struct cds_wfcq_head head;
	struct cds_wfcq_tail tail;
	_Atomic size_t count;
};

static bool wf_push(struct wfq *q, struct wf_task *t)
{
	if (atomic_fetch_add_explicit(&q->count, 1, memory_order_relaxed) >= CAPACITY) {
		atomic_fetch_sub_explicit(&q->count, 1, memory_order_relaxed);
		return false;
	}
	cds_wfcq_node_init(&t->node);
	cds_wfcq_enqueue(&q->head, &q->tail, &t->node);
	return true;
}

static bool wf_pop(struct wfq *q, struct cfgpool__task *out)
{
	struct cds_wfcq_node *n = cds_wfcq_dequeue_blocking(&q->head, &q->tail);

	if (n == NULL)
		return false;
	*out = caa_container_of(n, struct wf_task, node)->task;
	atomic_fetch_sub_explicit(&q->count, 1, memory_order_relaxed);
	return true;
}

enum kind { RING, WFCQ };

struct shared {
	enum kind kind;
	struct cfgpool__queue ring;
	struct wfq wf;
	size_t per_producer;
	int producers;
	_Atomic size_t consumed;
	size_t total;
	pthread_barrier_t start;
};

struct producer_arg {
	struct shared *s;
	struct wf_task *nodes; /* per producer, reused round robin: at most CAPACITY queued */
};

static void *producer(void *arg)
{
	struct producer_arg *pa = arg;
	struct shared *s = pa->s;

	pthread_barrier_wait(&s->start);
	for (size_t i = 0; i < s->per_producer; i++) {
		struct cfgpool__task t = {.index = i};

		if (s->kind == RING) {
			while (!cfgpool__queue_push(&s->ring, &t))
				sched_yield();
		} else {
			/* A node may be reused once CAPACITY newer ones were pushed: by then the
			 * bound guarantees it was dequeued. */
			struct wf_task *n = &pa->nodes[i % (2 * CAPACITY)];

			n->task = t;
			while (!wf_push(&s->wf, n))
				sched_yield();
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct shared *s = arg;
	struct cfgpool__task t;

	pthread_barrier_wait(&s->start);
	while (atomic_load_explicit(&s->consumed, memory_order_relaxed) < s->total) {
		bool got = s->kind == RING ? cfgpool__queue_pop(&s->ring, &t) : wf_pop(&s->wf, &t);

		if (got)
			atomic_fetch_add_explicit(&s->consumed, 1, memory_order_relaxed);
	}
	return NULL;
}

static double run_mpmc(enum kind kind, int producers, int consumers, size_t per_producer)
{
	struct shared s = {.kind = kind, .per_producer = per_producer, .producers = producers};
	struct producer_arg *pa = calloc((size_t)producers, sizeof(*pa));
	pthread_t *pt = calloc((size_t)producers, sizeof(*pt)), *ct = calloc((size_t)consumers, sizeof(*ct));
	uint64_t t0;

	if (pa == NULL || pt == NULL || ct == NULL) {
		fprintf(stderr, "bench_queue: out of memory\n");
		exit(1);
	}

	s.total = per_producer * (size_t)producers;
	cfgpool__queue_init(&s.ring, CAPACITY);
	cds_wfcq_init(&s.wf.head, &s.wf.tail);
	pthread_barrier_init(&s.start, NULL, (unsigned)(producers + consumers + 1));
	for (int i = 0; i < producers; i++) {
		pa[i].s = &s;
		pa[i].nodes = calloc(2 * CAPACITY, sizeof(struct wf_task));
		pthread_create(&pt[i], NULL, producer, &pa[i]);
	}
	for (int i = 0; i < consumers; i++)
		pthread_create(&ct[i], NULL, consumer, &s);
	pthread_barrier_wait(&s.start);
	t0 = bench_now_ns();
	for (int i = 0; i < producers; i++)
		pthread_join(pt[i], NULL);
	for (int i = 0; i < consumers; i++)
		pthread_join(ct[i], NULL);
	double secs = (double)(bench_now_ns() - t0) / 1e9;

	for (int i = 0; i < producers; i++)
		free(pa[i].nodes);
	free(pa);
	free(pt);
	free(ct);
	cfgpool__queue_destroy(&s.ring);
	cds_wfcq_destroy(&s.wf.head, &s.wf.tail);
	pthread_barrier_destroy(&s.start);
	return (double)s.total / secs;
}

static int single_samples = 101;

static void single_thread(enum kind kind, const char *name)
{
	enum { SAMPLES = 101, BATCH = 100000 };
	double ns[SAMPLES];
	struct cfgpool__queue ring;
	struct wfq wf = {0};
	struct wf_task node;
	struct cfgpool__task t = {0}, out;

	cfgpool__queue_init(&ring, CAPACITY);
	cds_wfcq_init(&wf.head, &wf.tail);
	for (int s = 0; s < single_samples; s++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < BATCH; i++) {
			t.index = (size_t)i;
			if (kind == RING) {
				cfgpool__queue_push(&ring, &t);
				cfgpool__queue_pop(&ring, &out);
			} else {
				node.task = t;
				wf_push(&wf, &node);
				wf_pop(&wf, &out);
			}
			__asm__ volatile("" : : "r"(out.index) : "memory");
		}
		ns[s] = (double)(bench_now_ns() - t0) / BATCH;
	}
	bench_report("queue", name, "ns", ns, (size_t)single_samples, (uint64_t)single_samples * BATCH,
		     "\"what\": \"push + pop, one thread\"");
	cfgpool__queue_destroy(&ring);
	cds_wfcq_destroy(&wf.head, &wf.tail);
}

static double tasks_per_rep = 2000000;

static void mpmc(enum kind kind, const char *name, int p, int c)
{
	enum { REPS = 7 };
	double rate[REPS];
	size_t per = (size_t)(tasks_per_rep * bench_scale()) / (size_t)p;
	char config[96];

	for (int r = 0; r < REPS; r++)
		rate[r] = run_mpmc(kind, p, c, per);
	snprintf(config, sizeof(config), "%s %dP/%dC", name, p, c);
	bench_report("queue", config, "tasks/s", rate, REPS, (uint64_t)REPS * per * (uint64_t)p,
		     "\"producers\": %d, \"consumers\": %d", p, c);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_queue [--workers N] [--tasks N] [--quick]\n"
		   "  --workers N  measure kP/kC for k = 1, 2, 4, ... and N (default 2)\n"
		   "  --tasks N    tasks per repetition of a kP/kC measurement (default 2000000)\n"
		   "  --quick      a fiftieth of the tasks, a fifth of the one-thread samples;\n"
		   "               CFGPOOL_BENCH_SCALE multiplies the tasks\n");
}

int main(int argc, char **argv)
{
	unsigned workers = 2;
	bool quick = false;

	for (int i = 1; i < argc; i++) {
		if (bench_common_option(argc, argv, &i, &quick, &workers, usage))
			continue;
		if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc && atof(argv[i + 1]) >= 1) {
			tasks_per_rep = atof(argv[++i]);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (quick) {
		tasks_per_rep /= 50;
		single_samples = 21;
	}
	single_thread(RING, "ring");
	single_thread(WFCQ, "wfcqueue+mutex");
	for (int k = 1; k <= (int)workers; k = k * 2 > (int)workers && k < (int)workers ? (int)workers : k * 2) {
		mpmc(RING, "ring", k, k);
		mpmc(WFCQ, "wfcqueue+mutex", k, k);
	}
	return 0;
}
