/*
 * Question: what does a reader pay to take the current snapshot (enter a read-side
 * section, get the pointer, read one field, leave), alone, with a reader on every core, and
 * while another thread reloads nonstop; and how does that compare with what else a reader
 * could use: a reader-writer lock, or an atomic reference count on the shared object?
 * The peers are cheap with one thread but their shared cache line bounces between cores
 * as soon as two threads read; RCU readers write only thread-local state.
 * Each sample times BATCH operations on every thread; the JSON line gives the median and
 * p99 over samples of the per-operation cost (thread 0's view).
 * Built a second time as perf/bench_snapshot_dlopen (BENCH_DLOPEN): not linked with the
 * library, it loads it with dlopen() as a plug-in host or a language binding does, from
 * $CFGPOOL_LIB or .libs/libcfgpool.so, and calls it through the pointers dlsym() gives;
 * thread-local storage may then live outside the static TLS block.
 */
#include <cfgpool/cfgpool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bench.h"

#ifdef BENCH_DLOPEN
#include <dlfcn.h>

/* The calls below go through these pointers, filled by load_library(). */
static __typeof__(cfgpool_holder_create) *p_holder_create;
static __typeof__(cfgpool_holder_destroy) *p_holder_destroy;
static __typeof__(cfgpool_holder_reload_string) *p_holder_reload_string;
static __typeof__(cfgpool_holder_read_begin) *p_holder_read_begin;
static __typeof__(cfgpool_holder_read_end) *p_holder_read_end;
static __typeof__(cfgpool_config_version) *p_config_version;
#define cfgpool_holder_create p_holder_create
#define cfgpool_holder_destroy p_holder_destroy
#define cfgpool_holder_reload_string p_holder_reload_string
#define cfgpool_holder_read_begin p_holder_read_begin
#define cfgpool_holder_read_end p_holder_read_end
#define cfgpool_config_version p_config_version
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
	*(void **)&p_config_version = must_find(lib, "cfgpool_config_version");
}
#else
#define LOADED ""
static void load_library(void)
{
}
#endif

#define BATCH 10000
#define SAMPLES 301

static cfgpool_holder_t *holder;
static atomic_bool stop_reloading;
static _Atomic uint64_t reloads;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic uint64_t refs;
static uint64_t shared_version = 1;

static const char doc[] = "{\"version\": 1, \"loggers\": {\"\": {\"level\": \"INFO\"}}, \"pool\": {\"workers\": 2}}";

typedef uint64_t (*read_fn)(void);

static uint64_t read_snapshot(void)
{
	const cfgpool_config_t *snap = cfgpool_holder_read_begin(holder);
	uint64_t v = cfgpool_config_version(snap);

	cfgpool_holder_read_end(holder);
	return v;
}

static uint64_t read_rwlock(void)
{
	uint64_t v;

	pthread_rwlock_rdlock(&rwlock);
	v = *(volatile uint64_t *)&shared_version;
	pthread_rwlock_unlock(&rwlock);
	return v;
}

static uint64_t read_refcount(void)
{
	uint64_t v;

	atomic_fetch_add_explicit(&refs, 1, memory_order_acquire);
	v = *(volatile uint64_t *)&shared_version;
	atomic_fetch_sub_explicit(&refs, 1, memory_order_release);
	return v;
}

struct run {
	read_fn fn;
	pthread_barrier_t *start;
	double ns[SAMPLES];
};

static void *reader(void *arg)
{
	struct run *r = arg;
	uint64_t sink = 0;

	pthread_barrier_wait(r->start);
	for (int s = 0; s < SAMPLES; s++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < BATCH; i++)
			sink += r->fn();
		r->ns[s] = (double)(bench_now_ns() - t0) / BATCH;
	}
	__asm__ volatile("" : : "r"(sink));
	return NULL;
}

static void *reloader(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop_reloading, memory_order_relaxed)) {
		if (cfgpool_holder_reload_string(holder, doc, sizeof(doc) - 1, 0, NULL, NULL) != 0)
			abort();
		atomic_fetch_add_explicit(&reloads, 1, memory_order_relaxed);
	}
	return NULL;
}

static void measure(const char *config, read_fn fn, int threads, bool reload)
{
	struct run runs[8];
	pthread_t tid[8], rt;
	pthread_barrier_t start;
	uint64_t reloads0 = atomic_load(&reloads);

	pthread_barrier_init(&start, NULL, (unsigned)threads);
	atomic_store(&stop_reloading, false);
	if (reload)
		pthread_create(&rt, NULL, reloader, NULL);
	for (int t = 0; t < threads; t++) {
		runs[t].fn = fn;
		runs[t].start = &start;
		pthread_create(&tid[t], NULL, reader, &runs[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	atomic_store(&stop_reloading, true);
	if (reload)
		pthread_join(rt, NULL);
	pthread_barrier_destroy(&start);
	bench_report("snapshot", config, "ns", runs[0].ns, SAMPLES, (uint64_t)SAMPLES * BATCH * (uint64_t)threads,
		     "\"threads\": %d, \"reloads\": %llu", threads,
		     (unsigned long long)(atomic_load(&reloads) - reloads0));
}

int main(void)
{
	load_library();
	if (cfgpool_holder_create(NULL, &holder) != 0 ||
	    cfgpool_holder_reload_string(holder, doc, sizeof(doc) - 1, 0, NULL, NULL) != 0)
		return 1;
	measure("cfgpool read_begin+read_end, 1 reader" LOADED, read_snapshot, 1, false);
	measure("cfgpool read_begin+read_end, 2 readers" LOADED, read_snapshot, 2, false);
	measure("cfgpool read_begin+read_end, 1 reader + nonstop reloads" LOADED, read_snapshot, 1, true);
	measure("peer: pthread_rwlock, 1 reader", read_rwlock, 1, false);
	measure("peer: pthread_rwlock, 2 readers", read_rwlock, 2, false);
	measure("peer: atomic refcount, 1 reader", read_refcount, 1, false);
	measure("peer: atomic refcount, 2 readers", read_refcount, 2, false);
	cfgpool_holder_destroy(holder);
	return 0;
}
