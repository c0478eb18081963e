/*
 * Question: what does a reader pay to take the current snapshot (enter a read-side
 * section, get the pointer, read one word through it, leave), through cfgpool's inline
 * read-side API, through its out-of-line calls, and against what else a reader could
 * use: liburcu's own inline memb reader, a bare pointer with no protection at all (the
 * floor), a reader-writer lock, an atomic reference count; with 1 to N readers (--readers
 * N, or --workers N, default: the CPUs this process may use), and with one reader while
 * another thread reloads nonstop.
 *
 * Every variant runs the same loop body, inlined into its own loop (no call through a
 * pointer per operation): begin, load the pointer, one dependent load of the first word
 * it points to, end. Readers are pinned one per CPU while there are CPUs. A sample times
 * BATCH operations on every reader; the variants run in turn, ROUNDS times over, so a
 * disturbance on this shared machine hits all of them alike. A line's median and p99 are
 * over the per-operation costs of every sample of every reader, and after each reader
 * count a "ratios" line gives each variant's median over liburcu inline's.
 *
 * Built a second time as perf/bench_snapshot_dlopen (BENCH_DLOPEN): not linked with the
 * library, it loads it with dlopen() as a plug-in host or a language binding does, from
 * $CFGPOOL_LIB or .libs/libcfgpool.so, and calls it through the pointers dlsym() gives
 * (its thread-local storage may then live outside the static TLS block). The inline API
 * needs the library and liburcu-memb at link time, so that build measures the calls only.
 *
 * Both cfgpool forms are liburcu-memb's read lock and unlock around an acquire load of the
 * holder's current snapshot: the inline form compiles them into this program (it tests
 * liburcu's registered flag first), the calls run the library's copy of them.
 */
#define _GNU_SOURCE
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE /* liburcu's inline reader, the peer (this benchmark is not installed) */
#endif
#ifndef BENCH_DLOPEN
#define CFGPOOL_INLINE_READ /* cfgpool's inline read side, as a host opts in to it */
#endif
#include <cfgpool/cfgpool.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "bench.h"

#ifdef BENCH_DLOPEN
#include <dlfcn.h>

/* The calls below go through these pointers, filled by load_library(). */
static __typeof__(cfgpool_holder_create) *p_holder_create;
static __typeof__(cfgpool_holder_destroy) *p_holder_destroy;
static __typeof__(cfgpool_holder_reload_string) *p_holder_reload_string;
static __typeof__(cfgpool_holder_read_begin) *p_holder_read_begin;
static __typeof__(cfgpool_holder_read_end) *p_holder_read_end;
#define cfgpool_holder_create p_holder_create
#define cfgpool_holder_destroy p_holder_destroy
#define cfgpool_holder_reload_string p_holder_reload_string
#define cfgpool_holder_read_begin p_holder_read_begin
#define cfgpool_holder_read_end p_holder_read_end
#define LOADED " (dlopen)"

static void *must_find(void *lib, const char *name)
{
	void *p = dlsym(lib, name);

	if (p == NULL) {
		fprintf(stderr, "bench_snapshot: %s\n", dlerror());
		exit(1);
	}
	return p;
}

static void load_library(void)
{
	const char *path = getenv("CFGPOOL_LIB") ? getenv("CFGPOOL_LIB") : ".libs/libcfgpool.so";
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		fprintf(stderr, "bench_snapshot: %s\n", dlerror());
		exit(1);
	}
	/* POSIX makes a data pointer from dlsym() convertible to a function pointer. */
	*(void **)&p_holder_create = must_find(lib, "cfgpool_holder_create");
	*(void **)&p_holder_destroy = must_find(lib, "cfgpool_holder_destroy");
	*(void **)&p_holder_reload_string = must_find(lib, "cfgpool_holder_reload_string");
	*(void **)&p_holder_read_begin = must_find(lib, "cfgpool_holder_read_begin");
	*(void **)&p_holder_read_end = must_find(lib, "cfgpool_holder_read_end");
}
#else
#define LOADED ""
static void load_library(void)
{
}
#endif

#define BATCH 10000
#define MAX_READERS 64

static cfgpool_holder_t *holder;
static atomic_bool stop_reloading;
static _Atomic uint64_t reloads;
static int samples_per_round = 41, rounds = 7;

/* The peers' shared object: one word, read through the pointer as the snapshot's is. */
struct object {
	uint64_t word;
};
static struct object the_object = {1};
static struct object *rcu_object;	     /* liburcu: rcu_assign_pointer / rcu_dereference */
static _Atomic(struct object *) bare_object; /* no protection: the floor */
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic uint64_t refs __attribute__((aligned(64)));

static const char doc[] = "{\"version\": 1, \"loggers\": {\"\": {\"level\": \"INFO\"}}, \"pool\": {\"workers\": 2}}";

/* One dependent load: the first word of whatever the pointer points to. */
static inline uint64_t first_word(const void *p)
{
	return *(const volatile uint64_t *)p;
}

/* Each variant: `n` operations, inlined into one loop; returns what they read. */
#define VARIANT(name, body)                                                                                            \
	static uint64_t loop_##name(long n)                                                                            \
	{                                                                                                              \
		uint64_t sink = 0;                                                                                     \
		for (long i = 0; i < n; i++) {                                                                         \
			body                                                                                           \
		}                                                                                                      \
		return sink;                                                                                           \
	}

#ifndef BENCH_DLOPEN
VARIANT(cfgpool_inline, {
	const cfgpool_config_t *snap = cfgpool_holder_read_begin_inline(holder);

	sink += first_word(snap);
	cfgpool_holder_read_end_inline(holder);
})
#endif
VARIANT(cfgpool_call, {
	const cfgpool_config_t *snap = cfgpool_holder_read_begin(holder);

	sink += first_word(snap);
	cfgpool_holder_read_end(holder);
})
VARIANT(liburcu_inline, {
	struct object *o;

	urcu_memb_read_lock();
	o = rcu_dereference(rcu_object);
	sink += first_word(o);
	urcu_memb_read_unlock();
})
VARIANT(bare_pointer, { sink += first_word(atomic_load_explicit(&bare_object, memory_order_acquire)); })
VARIANT(rwlock, {
	pthread_rwlock_rdlock(&rwlock);
	sink += first_word(&the_object);
	pthread_rwlock_unlock(&rwlock);
})
VARIANT(refcount, {
	atomic_fetch_add_explicit(&refs, 1, memory_order_acquire);
	sink += first_word(&the_object);
	atomic_fetch_sub_explicit(&refs, 1, memory_order_release);
})

struct variant {
	const char *name, *config;
	uint64_t (*loop)(long n);
	bool liburcu; /* the thread registers with liburcu first */
};

static const struct variant variants[] = {
#ifndef BENCH_DLOPEN
    {"cfgpool_inline", "cfgpool read_begin_inline+read_end_inline", loop_cfgpool_inline, false},
#endif
    {"cfgpool_call", "cfgpool read_begin+read_end (calls)" LOADED, loop_cfgpool_call, false},
    {"liburcu_inline", "peer: liburcu urcu-memb inline (_LGPL_SOURCE)", loop_liburcu_inline, true},
    {"bare_pointer", "peer: bare pointer, acquire load, no protection", loop_bare_pointer, false},
    {"rwlock", "peer: pthread_rwlock", loop_rwlock, false},
    {"refcount", "peer: atomic refcount", loop_refcount, false},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

struct reader_arg {
	int index, ncpu;
	const struct variant *v;
	pthread_barrier_t *start, *done;
	double *ns; /* samples_per_round */
};

static void pin(int index, int ncpu)
{
	cpu_set_t allowed, one;
	int k = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || index >= ncpu)
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &allowed) && k++ == index) {
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
			return;
		}
	}
}

static void *reader(void *arg)
{
	struct reader_arg *a = arg;
	uint64_t sink = 0;

	pin(a->index, a->ncpu);
	if (a->v->liburcu)
		urcu_memb_register_thread();
	/* Warm: registration (cfgpool's happens on first use), caches, branch predictors. */
	sink += a->v->loop(BATCH);
	pthread_barrier_wait(a->start);
	for (int s = 0; s < samples_per_round; s++) {
		uint64_t t0 = bench_now_ns();

		sink += a->v->loop(BATCH);
		a->ns[s] = (double)(bench_now_ns() - t0) / BATCH;
	}
	pthread_barrier_wait(a->done);
	if (a->v->liburcu)
		urcu_memb_unregister_thread();
	__asm__ volatile("" : : "r"(sink));
	return NULL;
}

/*
 * Nonstop reloads: a cfgpool reload (its reclaim thread then runs a grace period), and for
 * the peers the same: liburcu's pointer exchanged and a grace period waited for, the bare
 * pointer exchanged, so each reader sees its shared lines written as often.
 */
static void *reloader(void *arg)
{
	static struct object other = {1};
	bool flip = false;

	(void)arg;
	urcu_memb_register_thread();
	while (!atomic_load_explicit(&stop_reloading, memory_order_relaxed)) {
		struct object *next = flip ? &the_object : &other;

		if (cfgpool_holder_reload_string(holder, doc, sizeof(doc) - 1, 0, NULL, NULL) != 0)
			abort();
		rcu_xchg_pointer(&rcu_object, next);
		urcu_memb_synchronize_rcu();
		atomic_store_explicit(&bare_object, next, memory_order_release);
		flip = !flip;
		atomic_fetch_add_explicit(&reloads, 1, memory_order_relaxed);
	}
	urcu_memb_unregister_thread();
	return NULL;
}

/* One round of one variant with `threads` readers; appends their samples to `all`. */
static void run_round(const struct variant *v, int threads, int ncpu, double *all, size_t *nall)
{
	struct reader_arg args[MAX_READERS];
	pthread_t tid[MAX_READERS];
	pthread_barrier_t start, done;

	pthread_barrier_init(&start, NULL, (unsigned)threads);
	pthread_barrier_init(&done, NULL, (unsigned)threads);
	for (int t = 0; t < threads; t++) {
		args[t] =
		    (struct reader_arg){t, ncpu, v, &start, &done, all + *nall + (size_t)t * (size_t)samples_per_round};
		pthread_create(&tid[t], NULL, reader, &args[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	*nall += (size_t)threads * (size_t)samples_per_round;
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
}

/* Every variant with `threads` readers, interleaved round by round; one line each, then the ratios. */
static void measure_readers(int threads, int ncpu, bool reload, size_t nvariants)
{
	size_t per = (size_t)rounds * (size_t)threads * (size_t)samples_per_round;
	double *all[NVARIANTS], median[NVARIANTS], ref = 0;
	size_t nall[NVARIANTS] = {0};
	uint64_t reloads0 = atomic_load(&reloads);
	pthread_t rt;
	char config[160];

	for (size_t v = 0; v < nvariants; v++)
		all[v] = malloc(per * sizeof(double));
	atomic_store(&stop_reloading, false);
	if (reload)
		pthread_create(&rt, NULL, reloader, NULL);
	for (int r = 0; r < rounds; r++)
		for (size_t v = 0; v < nvariants; v++)
			run_round(&variants[v], threads, ncpu, all[v], &nall[v]);
	atomic_store(&stop_reloading, true);
	if (reload)
		pthread_join(rt, NULL);
	for (size_t v = 0; v < nvariants; v++) {
		snprintf(config, sizeof(config), "%s, %d reader%s%s", variants[v].config, threads,
			 threads > 1 ? "s" : "", reload ? " + nonstop reloads" : "");
		median[v] = bench_quantile(all[v], nall[v], 0.5);
		bench_report("snapshot", config, "ns", all[v], nall[v], (uint64_t)nall[v] * BATCH,
			     "\"variant\": \"%s\", \"readers\": %d, \"threads\": %d, \"reloads\": %llu",
			     variants[v].name, threads, threads,
			     (unsigned long long)(reload ? atomic_load(&reloads) - reloads0 : 0));
		free(all[v]);
	}
	printf(
	    "{\"bench\": \"snapshot\", \"config\": \"ratios, %d reader%s%s\", \"unit\": \"median / liburcu_inline's\", "
	    "\"readers\": %d",
	    threads, threads > 1 ? "s" : "", reload ? " + nonstop reloads" : "", threads);
	for (size_t v = 0; v < nvariants; v++)
		if (strcmp(variants[v].name, "liburcu_inline") == 0)
			ref = median[v];
	for (size_t v = 0; v < nvariants; v++)
		if (strcmp(variants[v].name, "liburcu_inline") != 0)
			printf(", \"%s_over_liburcu_inline\": %.3f", variants[v].name, median[v] / ref);
	printf("}\n");
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_snapshot [--readers N | --workers N] [--quick]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	cpu_set_t allowed;
	int ncpu = 1, max_readers;
	size_t nvariants = NVARIANTS;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		ncpu = CPU_COUNT(&allowed);
	max_readers = ncpu;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "--readers") == 0 || strcmp(argv[i], "--workers") == 0) && i + 1 < argc) {
			max_readers = atoi(argv[++i]);
			if (max_readers < 1 || max_readers > MAX_READERS)
				usage();
		} else if (strcmp(argv[i], "--quick") == 0) {
			rounds = 3;
			samples_per_round = 11;
		} else {
			usage();
		}
	}
	samples_per_round = (int)(samples_per_round * bench_scale());
	load_library();
	if (cfgpool_holder_create(NULL, &holder) != 0 ||
	    cfgpool_holder_reload_string(holder, doc, sizeof(doc) - 1, 0, NULL, NULL) != 0)
		return 1;
	rcu_assign_pointer(rcu_object, &the_object);
	atomic_store_explicit(&bare_object, &the_object, memory_order_release);
	for (int t = 1; t <= max_readers; t++)
		measure_readers(t, ncpu, false, nvariants);
	/* Nonstop reloads: cfgpool's two forms and the liburcu and bare-pointer references. */
	measure_readers(1, ncpu, true, nvariants - 2);
	cfgpool_holder_destroy(holder);
	return 0;
}
