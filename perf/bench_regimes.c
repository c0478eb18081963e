/*
 * Question: for the work cfgpool exists for (batches of about 8 CPU-bound tasks against a
 * shared read-only configuration), how does it compare with what a C programmer would use
 * instead: OpenMP (libgomp), a textbook mutex+condvar pool, GLib's GThreadPool? The answer
 * depends on the regime, so each is measured on its own, every peer side by side in the
 * same run:
 *   b2b_tiny          batches of 8 empty tasks back to back: pure dispatch and wake-up cost
 *                     while the workers are hot (spinning peers win here)
 *   periodic_tiny     the same batch every 10 ms: the workers have gone to sleep in between,
 *                     so this is the cost of waking them (the seed's "8 inputs from a topic,
 *                     periodically")
 *   b2b_20us          8 x 20 us tasks back to back, and
 *   periodic_20us     every 10 ms: how much of the CPUs the tasks actually get; efficiency
 *                     = 8 x (one task alone) / (batch latency x CPUs), 1.0 being perfect
 *   tasks_1ms         8 x 1 ms tasks back to back: parallel efficiency when dispatch is
 *                     negligible = task work / (wall time x CPUs)
 *   throughput_empty  one thread submits empty tasks one at a time, asynchronously, and
 *                     waits for all: the cost of one submission and completion (OpenMP has
 *                     no per-task submission and is skipped)
 * and two sweeps, run when asked for (--regime, or their lists given):
 *   sweep_task        8 tasks of each length of --task-us back to back: efficiency against
 *                     task length
 *   sweep_batch       batches of each size of --batch of empty tasks back to back: latency
 *                     against batch size
 * --workers N gives every peer N threads instead of one per CPU, so the same program
 * measures 1 to ncpu workers (perf/run sweeps it for throughput_empty).
 * Every result is one JSON line (perf/bench.h) with the median and p99 over samples; after
 * each regime a "ratios" line gives peer median / cfgpool median for every peer.
 *
 * OpenMP reads OMP_WAIT_POLICY once, at start-up, so each OpenMP setting runs in a child
 * process (this program re-executed with --child and the variable set) that prints its
 * own line; the parent forwards the line and reads the median back for the ratios.
 *
 * Every peer runs the same work: the `spin` kernel's run function, called directly (spin
 * reads no configuration) by the peers, through the pool by cfgpool. The task lengths
 * come from one calibration in the parent, passed to the children as iteration counts.
 */
#include "config.h"

#include <cfgpool/cfgpool.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef HAVE_GLIB
#include <glib.h>
#endif
#ifdef HAVE_TBB
#include "peer_tbb.h"
#endif

#include "bench.h"

#define BATCH 8       /* tasks per batch of the fixed regimes */
#define MAX_BATCH 64  /* the largest --batch */
#define MAX_SWEEP 32  /* points per sweep list */

static const cfgpool_kernel_t *spin;
static unsigned ncpu;     /* CPUs this process may run on */
static unsigned nthreads; /* threads every peer gets: --workers, default ncpu */
static double count_scale = 1.0;         /* bench_scale(), divided by 10 with --quick */
static const char *pool_section = "{}";  /* cfgpool's `pool` section (--pool) */
static const cfgpool_spin_input_t zero_input = {0};

/* What is being measured, for the watchdog's message. */
static char watchdog_what[128];

/*
 * A peer that deadlocks must fail `make bench`, not hang it: each measurement arms an alarm
 * far beyond its expected time (seconds, even with CFGPOOL_BENCH_SCALE), and this handler
 * ends the process. Only async-signal-safe calls here.
 */
static void watchdog(int sig)
{
	static const char head[] = "bench_regimes: watchdog: no progress in ";

	(void)sig;
	(void)!write(STDERR_FILENO, head, sizeof(head) - 1);
	(void)!write(STDERR_FILENO, watchdog_what, strlen(watchdog_what));
	(void)!write(STDERR_FILENO, ", giving up\n", 12);
	_exit(3);
}

static void watchdog_arm(const char *what)
{
	double limit = 120.0 * (count_scale > 1 ? count_scale : 1);

	snprintf(watchdog_what, sizeof(watchdog_what), "%s", what);
	signal(SIGALRM, watchdog);
	alarm((unsigned)limit);
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_regimes: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static void check(int rc, const char *what)
{
	if (rc != 0)
		die(what, strerror(rc > 0 ? rc : -rc));
}

/* One task of the spin kernel on the calling thread, exactly what a pool worker runs. */
static void run_spin(const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out)
{
	static const cfgpool_task_ctx_t ctx; /* spin reads neither config, params nor state */

	if (spin->run(&ctx, in, out) != 0)
		die("spin kernel failed", NULL);
}

static unsigned count_cpus(void)
{
	cpu_set_t set;

	/* Every pool here sizes itself by the affinity mask, as cfgpool and libgomp do. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	return (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
}

/* Writes `s` as the inside of a JSON string (quotes and backslashes escaped, controls dropped). */
static void json_escape(char *dst, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 3 < size; s++) {
		if (*s == '"' || *s == '\\')
			dst[n++] = '\\';
		if ((unsigned char)*s >= 0x20)
			dst[n++] = *s;
	}
	dst[n] = '\0';
}

/*
 * CPU time used by everything else on the machine, in seconds: all busy time in /proc/stat
 * minus this process's own user+system time. Sampled around each measurement, it tells
 * how much of the CPUs another process took meanwhile (a build, a test suite): with two
 * CPUs that ruins the figures, and the JSON line says so. Jiffy resolution (10 ms), so it
 * only means something for measurements of a second or more; -1 if /proc is not there.
 */
static double others_cpu_s(void)
{
	double busy = bench_machine_busy_s(), own = bench_own_cpu_s();

	return busy < 0 || own < 0 ? -1 : busy - own;
}

/* ------------------------------------------------------------------------------------------ */
/* Peers                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * What every peer provides. `batch` runs n tasks and returns when all are done; `stream`
 * submits n tasks one at a time (each reads `in`, task i writes out[i]) and returns when
 * all are done, or is NULL when the peer has no per-task submission. `counters` (may be
 * NULL) appends the peer's own counters since the previous call with buf == NULL, divided
 * by `per`, as a JSON fragment. A peer with `child` set runs in a child process with
 * OMP_WAIT_POLICY=`wait_policy` (NULL: unset): libgomp reads it at start-up, and oneTBB's
 * worker threads outlive its arena, so neither may run in the process that measures the
 * next peer.
 */
struct peer {
	const char *name;
	bool available;
	bool child;
	const char *needs; /* what configure must find for the peer to be built */
	const char *wait_policy;
	int (*open)(void **self);
	void (*batch)(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n);
	void (*stream)(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n);
	void (*counters)(void *self, double per, char *buf, size_t len);
	void (*close)(void *self);
	void (*setting)(char *buf, size_t len);
};

/* A queued task of the condvar and GLib pools; the caller owns the storage. */
struct task {
	struct task *next;
	const cfgpool_spin_input_t *in;
	cfgpool_spin_output_t *out;
};

/* Grows a task array kept by a peer across calls (never on a timed path after warm-up). */
static struct task *task_array(struct task **tasks, size_t *cap, size_t n)
{
	if (n > *cap) {
		free(*tasks);
		*tasks = calloc(n, sizeof(**tasks));
		if (*tasks == NULL)
			die("out of memory", NULL);
		*cap = n;
	}
	return *tasks;
}

/* --- cfgpool -------------------------------------------------------------------------------- */

/*
 * done counts completions of a stream: incremented by the completion callback on a worker
 * (release), read by the submitter (acquire), so the outputs are visible once it reaches n.
 */
#define MAX_REPORTED_WORKERS 16

struct cfgpool_peer {
	cfgpool_pool_t *pool;
	_Atomic uint64_t done;
	cfgpool_pool_stats_t mark;
	cfgpool_worker_stats_t wmark[MAX_REPORTED_WORKERS];
};

/*
 * The `pool` section cfgpool is opened with: --pool, plus "workers": N when --workers was
 * given and --pool does not set workers itself.
 */
static bool workers_given;

static const char *pool_with_workers(void)
{
	static char buf[600];
	const char *brace = strchr(pool_section, '{'), *rest;

	if (!workers_given || brace == NULL || strstr(pool_section, "\"workers\"") != NULL)
		return pool_section;
	rest = brace + 1 + strspn(brace + 1, " \t\r\n");
	snprintf(buf, sizeof(buf), "%.*s{\"workers\": %u%s%s", (int)(brace - pool_section), pool_section, nthreads,
		 *rest == '}' ? "" : ", ", rest);
	return buf;
}

static int cfgpool_peer_open(void **self)
{
	struct cfgpool_peer *p = calloc(1, sizeof(*p));
	char text[1024], msg[512];
	cfgpool_error_t err;
	int rc;

	if (p == NULL)
		return -ENOMEM;
	snprintf(text, sizeof(text), "{\"pool\": %s, \"kernel\": {\"name\": \"spin\"}}", pool_with_workers());
	cfgpool_error_init(&err);
	rc = cfgpool_pool_open_string(text, strlen(text), NULL, NULL, &p->pool, &err);
	if (rc != 0) {
		fprintf(stderr, "bench_regimes: cfgpool: %s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
		free(p);
		return rc;
	}
	*self = p;
	return 0;
}

static void cfgpool_peer_batch(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct cfgpool_peer *p = self;
	int rc = cfgpool_pool_map(p->pool, in, 0, out, 0, n, NULL, 0);

	if (rc != 0)
		die("cfgpool_pool_map failed", cfgpool_strerror(rc));
}

static void cfgpool_peer_done(void *arg, void *output, const cfgpool_result_t *result)
{
	struct cfgpool_peer *p = arg;

	(void)output;
	if (result->status != 0)
		die("cfgpool task failed", cfgpool_strerror(result->status));
	/* Pairs with the acquire load in cfgpool_peer_stream(). */
	atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
}

static void cfgpool_peer_stream(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct cfgpool_peer *p = self;

	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	for (size_t i = 0; i < n; i++) {
		int rc = cfgpool_pool_submit(p->pool, in, &out[i], cfgpool_peer_done, p, 0);

		if (rc != 0)
			die("cfgpool_pool_submit failed", cfgpool_strerror(rc));
	}
	/* Yield rather than spin: on a machine with as many workers as CPUs the submitter
	 * shares a CPU with a worker, which must be let to run the last tasks. */
	while (atomic_load_explicit(&p->done, memory_order_acquire) < n)
		sched_yield();
}

static void cfgpool_peer_counters(void *self, double per, char *buf, size_t len)
{
	struct cfgpool_peer *p = self;
	cfgpool_worker_stats_t wnow[MAX_REPORTED_WORKERS];
	cfgpool_pool_stats_t now;
	unsigned nw;
	int off;

	memset(wnow, 0, sizeof(wnow));
	cfgpool_pool_stats(p->pool, &now, wnow, MAX_REPORTED_WORKERS);
	nw = now.workers < MAX_REPORTED_WORKERS ? now.workers : MAX_REPORTED_WORKERS;
	if (buf != NULL) {
		off = snprintf(buf, len,
			       ", \"parks_per_batch\": %.3g, \"wakes_per_batch\": %.3g, \"caller_tasks_per_batch\": %.3g, "
			       "\"queue_high_water\": %llu, \"workers\": %u, \"worker_tasks_per_batch\": [",
			       (double)(now.parks - p->mark.parks) / per, (double)(now.wakes - p->mark.wakes) / per,
			       (double)(now.caller_tasks - p->mark.caller_tasks) / per,
			       (unsigned long long)now.queue_high_water, now.workers);
		for (unsigned i = 0; i < nw && off > 0 && (size_t)off < len; i++)
			off += snprintf(buf + off, len - (size_t)off, "%s%.3g", i ? ", " : "",
					(double)(wnow[i].tasks - p->wmark[i].tasks) / per);
		if (off > 0 && (size_t)off < len)
			snprintf(buf + off, len - (size_t)off, "]");
	}
	p->mark = now;
	memcpy(p->wmark, wnow, sizeof(wnow));
}

static void cfgpool_peer_close(void *self)
{
	struct cfgpool_peer *p = self;

	cfgpool_pool_close(p->pool, CFGPOOL_CLOSE_DRAIN);
	free(p);
}

static void cfgpool_peer_setting(char *buf, size_t len)
{
	char esc[512];

	json_escape(esc, sizeof(esc), pool_with_workers());
	snprintf(buf, len, "pool section %s, map for batches, submit + callback for streams", esc);
}

/* --- OpenMP --------------------------------------------------------------------------------- */

#ifdef _OPENMP
static int omp_peer_open(void **self)
{
	*self = NULL;
	return 0;
}

/* The loop a numerical programmer would write: one parallel region per batch. */
static void omp_peer_batch(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	(void)self;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
	for (long i = 0; i < (long)n; i++)
		run_spin(&in[i], &out[i]);
}

static void omp_peer_close(void *self)
{
	(void)self;
}
#define OMP_PEER_OPS omp_peer_open, omp_peer_batch, NULL, NULL, omp_peer_close
#define OMP_AVAILABLE true
#else
#define OMP_PEER_OPS NULL, NULL, NULL, NULL, NULL
#define OMP_AVAILABLE false
#endif

static void omp_setting(char *buf, size_t len, const char *policy)
{
	snprintf(buf, len, "parallel for schedule(dynamic,1), %u threads, OMP_WAIT_POLICY %s, OMP_PROC_BIND unset",
		 nthreads, policy);
}

static void omp_active_setting(char *buf, size_t len)
{
	omp_setting(buf, len, "active");
}

static void omp_default_setting(char *buf, size_t len)
{
	omp_setting(buf, len, "unset (libgomp spins a while, then sleeps)");
}

static void omp_passive_setting(char *buf, size_t len)
{
	omp_setting(buf, len, "passive");
}

/* --- a textbook mutex + condvar pool --------------------------------------------------------- */

/*
 * One mutex protects everything shared: the FIFO (head, tail), the completion count, the
 * waiter's target and the stop flag. Workers wait on `work`; the submitter waits on `idle`
 * until `completed` reaches its target, and is signalled only then. Lock order: mu only.
 */
struct cv_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;
	pthread_cond_t idle;
	struct task *head, *tail;
	uint64_t completed;
	uint64_t target;
	bool waiting;
	bool stop;
	/* Submitter-side only. */
	uint64_t submitted;
	struct task batch[MAX_BATCH];
	struct task *tasks;
	size_t cap;
	unsigned nthreads;
	pthread_t threads[];
};

static void *cv_worker(void *arg)
{
	struct cv_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct task *t;

		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->head == NULL)
			break;
		t = p->head;
		p->head = t->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		run_spin(t->in, t->out);
		pthread_mutex_lock(&p->mu);
		p->completed++;
		if (p->waiting && p->completed >= p->target)
			pthread_cond_signal(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void cv_push(struct cv_pool *p, struct task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = t;
	else
		p->head = t;
	p->tail = t;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	p->submitted++;
}

static void cv_wait_all(struct cv_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->target = p->submitted;
	while (p->completed < p->target) {
		p->waiting = true;
		pthread_cond_wait(&p->idle, &p->mu);
	}
	p->waiting = false;
	pthread_mutex_unlock(&p->mu);
}

static int cv_open(void **self)
{
	struct cv_pool *p = calloc(1, sizeof(*p) + nthreads * sizeof(pthread_t));

	if (p == NULL)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	for (p->nthreads = 0; p->nthreads < nthreads; p->nthreads++)
		check(pthread_create(&p->threads[p->nthreads], NULL, cv_worker, p), "pthread_create");
	*self = p;
	return 0;
}

static void cv_batch(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct cv_pool *p = self;

	for (size_t i = 0; i < n; i++) {
		p->batch[i].in = &in[i];
		p->batch[i].out = &out[i];
		cv_push(p, &p->batch[i]);
	}
	cv_wait_all(p);
}

static void cv_stream(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct cv_pool *p = self;
	struct task *t = task_array(&p->tasks, &p->cap, n);

	for (size_t i = 0; i < n; i++) {
		t[i].in = in;
		t[i].out = &out[i];
		cv_push(p, &t[i]);
	}
	cv_wait_all(p);
}

static void cv_close(void *self)
{
	struct cv_pool *p = self;

	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p->tasks);
	free(p);
}

static void cv_setting(char *buf, size_t len)
{
	snprintf(buf, len, "%u unpinned workers, one mutex, condvars for work and completion, linked FIFO", nthreads);
}

/* --- GLib's GThreadPool --------------------------------------------------------------------- */

#ifdef HAVE_GLIB
/*
 * mu protects completed and target; the task function signals cv once completed reaches
 * the target the submitter waits for (GLib's GCond makes a futex call on every signal, so
 * signalling each completion would charge GLib for the harness).
 */
struct glib_peer {
	GThreadPool *pool;
	GMutex mu;
	GCond cv;
	guint64 completed;
	guint64 target;
	/* Submitter-side only. */
	guint64 submitted;
	struct task batch[MAX_BATCH];
	struct task *tasks;
	size_t cap;
};

static void glib_task(gpointer data, gpointer user_data)
{
	struct task *t = data;
	struct glib_peer *p = user_data;

	run_spin(t->in, t->out);
	g_mutex_lock(&p->mu);
	if (++p->completed == p->target)
		g_cond_signal(&p->cv);
	g_mutex_unlock(&p->mu);
}

static void glib_push(struct glib_peer *p, struct task *t)
{
	GError *error = NULL;

	if (!g_thread_pool_push(p->pool, t, &error))
		die("g_thread_pool_push failed", error ? error->message : NULL);
	p->submitted++;
}

static void glib_wait_all(struct glib_peer *p)
{
	g_mutex_lock(&p->mu);
	p->target = p->submitted;
	while (p->completed < p->target)
		g_cond_wait(&p->cv, &p->mu);
	g_mutex_unlock(&p->mu);
}

static int glib_open(void **self)
{
	struct glib_peer *p = calloc(1, sizeof(*p));
	GError *error = NULL;

	if (p == NULL)
		return -ENOMEM;
	g_mutex_init(&p->mu);
	g_cond_init(&p->cv);
	/* exclusive: the ncpu threads are started now and belong to this pool alone. */
	p->pool = g_thread_pool_new(glib_task, p, (gint)nthreads, TRUE, &error);
	if (p->pool == NULL) {
		fprintf(stderr, "bench_regimes: g_thread_pool_new: %s\n", error ? error->message : "failed");
		free(p);
		return -EAGAIN;
	}
	*self = p;
	return 0;
}

static void glib_batch(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct glib_peer *p = self;

	for (size_t i = 0; i < n; i++) {
		p->batch[i].in = &in[i];
		p->batch[i].out = &out[i];
		glib_push(p, &p->batch[i]);
	}
	glib_wait_all(p);
}

static void glib_stream(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct glib_peer *p = self;
	struct task *t = task_array(&p->tasks, &p->cap, n);

	for (size_t i = 0; i < n; i++) {
		t[i].in = in;
		t[i].out = &out[i];
		glib_push(p, &t[i]);
	}
	glib_wait_all(p);
}

static void glib_close(void *self)
{
	struct glib_peer *p = self;

	g_thread_pool_free(p->pool, FALSE, TRUE);
	g_cond_clear(&p->cv);
	g_mutex_clear(&p->mu);
	free(p->tasks);
	free(p);
}
#define GLIB_PEER_OPS glib_open, glib_batch, glib_stream, NULL, glib_close
#define GLIB_AVAILABLE true
#else
#define GLIB_PEER_OPS NULL, NULL, NULL, NULL, NULL
#define GLIB_AVAILABLE false
#endif

static void glib_setting(char *buf, size_t len)
{
	snprintf(buf, len, "g_thread_pool_new(max_threads %u, exclusive TRUE), GMutex+GCond completion count", nthreads);
}

/* --- oneTBB --------------------------------------------------------------------------------- */

#ifdef HAVE_TBB
/* A batch or stream as perf/peer_tbb.cpp sees it: item i runs in[i] (or in[0]) into out[i]. */
struct tbb_work {
	const cfgpool_spin_input_t *in;
	cfgpool_spin_output_t *out;
	bool same_input;
};

static void tbb_item(void *arg, size_t i)
{
	const struct tbb_work *w = arg;

	run_spin(w->same_input ? w->in : &w->in[i], &w->out[i]);
}

static int tbb_open(void **self)
{
	return peer_tbb_open(nthreads, (struct peer_tbb **)self);
}

static void tbb_batch(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct tbb_work w = {in, out, false};

	peer_tbb_batch(self, n, tbb_item, &w);
}

static void tbb_stream(void *self, const cfgpool_spin_input_t *in, cfgpool_spin_output_t *out, size_t n)
{
	struct tbb_work w = {in, out, true};

	peer_tbb_stream(self, n, tbb_item, &w);
}

static void tbb_close(void *self)
{
	peer_tbb_close(self);
}
#define TBB_PEER_OPS tbb_open, tbb_batch, tbb_stream, NULL, tbb_close
#define TBB_AVAILABLE true
#define TBB_VERSION peer_tbb_version()
#else
#define TBB_PEER_OPS NULL, NULL, NULL, NULL, NULL
#define TBB_AVAILABLE false
#define TBB_VERSION "none"
#endif

static void tbb_setting(char *buf, size_t len)
{
	snprintf(buf, len,
		 "oneTBB %s: task_arena(%u) (the caller takes a slot); batch = parallel_for(blocked_range grain 1, "
		 "simple_partitioner), stream = task_group::run per task, then wait",
		 TBB_VERSION, nthreads);
}

static const struct peer peers[] = {
	{"cfgpool", true, false, NULL, NULL, cfgpool_peer_open, cfgpool_peer_batch, cfgpool_peer_stream,
	 cfgpool_peer_counters, cfgpool_peer_close, cfgpool_peer_setting},
	{"omp_active", OMP_AVAILABLE, true, "OpenMP", "ACTIVE", OMP_PEER_OPS, omp_active_setting},
	{"omp_default", OMP_AVAILABLE, true, "OpenMP", NULL, OMP_PEER_OPS, omp_default_setting},
	{"omp_passive", OMP_AVAILABLE, true, "OpenMP", "PASSIVE", OMP_PEER_OPS, omp_passive_setting},
	{"tbb", TBB_AVAILABLE, true, "tbb (libtbb-dev)", NULL, TBB_PEER_OPS, tbb_setting},
	{"condvar", true, false, NULL, NULL, cv_open, cv_batch, cv_stream, NULL, cv_close, cv_setting},
	{"glib", GLIB_AVAILABLE, false, "glib-2.0 (libglib2.0-dev)", NULL, GLIB_PEER_OPS, glib_setting},
};
#define NPEERS (sizeof(peers) / sizeof(peers[0]))

/* ------------------------------------------------------------------------------------------ */
/* Regimes                                                                                    */
/* ------------------------------------------------------------------------------------------ */

enum efficiency { EFF_NONE, EFF_BATCH, EFF_WALL };

/*
 * count: batches (latency regimes; a sweep's ceiling) or tasks per repetition (throughput),
 * before scaling; min: the floor after scaling; warmup: untimed batches first; period_ms:
 * 0 = back to back; batch: tasks per batch. A sweep point has budget_s > 0: its number of
 * batches is what fits in budget_s (x the count scale) at the batch time the warm-up
 * measured, within [min, count], so that 1 us and 10 ms tasks both take about as long;
 * label is its value in the config ("20us", "16").
 */
struct regime {
	const char *name;
	bool throughput;
	double task_us;
	double count;
	size_t min;
	size_t warmup;
	unsigned period_ms;
	enum efficiency efficiency;
	size_t batch;
	double budget_s;
	char label[24];
};

#define THROUGHPUT_REPS 7
#define SWEEP_BUDGET_S 0.25

static const struct regime regimes[] = {
	{"b2b_tiny", false, 0, 20000, 200, 1000, 0, EFF_NONE, BATCH, 0, ""},
	{"periodic_tiny", false, 0, 300, 20, 3, 10, EFF_NONE, BATCH, 0, ""},
	{"b2b_20us", false, 20, 5000, 100, 200, 0, EFF_BATCH, BATCH, 0, ""},
	{"periodic_20us", false, 20, 300, 20, 3, 10, EFF_BATCH, BATCH, 0, ""},
	{"tasks_1ms", false, 1000, 200, 20, 5, 0, EFF_WALL, BATCH, 0, ""},
	{"throughput_empty", true, 0, 200000, 1000, 0, 0, EFF_NONE, BATCH, 0, ""},
	/* The sweeps: task_us (sweep_task) or batch (sweep_batch) comes from its list. */
	{"sweep_task", false, 0, 20000, 10, 0, 0, EFF_BATCH, BATCH, SWEEP_BUDGET_S, ""},
	{"sweep_batch", false, 0, 20000, 20, 50, 0, EFF_NONE, 0, SWEEP_BUDGET_S, ""},
};
#define NREGIMES (sizeof(regimes) / sizeof(regimes[0]))
#define NFIXED 6 /* regimes[0..NFIXED) run by default; the sweeps when asked for */

static const double default_task_us[] = {1, 3, 10, 30, 100, 300, 1000, 3000, 10000};
static const double default_batch[] = {1, 2, 4, 8, 16, 32, 64};

static bool is_sweep(const struct regime *r)
{
	return r->budget_s > 0;
}

/* A sweep's point at `value` (task length in us for sweep_task, batch size for sweep_batch). */
static struct regime sweep_point(const struct regime *base, double value)
{
	struct regime r = *base;

	if (strcmp(base->name, "sweep_task") == 0) {
		r.task_us = value;
		r.warmup = value >= 1000 ? 3 : value >= 100 ? 10 : 50;
		snprintf(r.label, sizeof(r.label), "%gus", value);
	} else {
		r.batch = (size_t)value;
		snprintf(r.label, sizeof(r.label), "%zu", r.batch);
	}
	return r;
}

static size_t scaled(const struct regime *r)
{
	double n = r->count * count_scale;

	return n < (double)r->min ? r->min : (size_t)n;
}

/*
 * The time one task of `iterations` takes alone on the calling thread, in ns: the fastest
 * of `reps` runs, as cfgpool_spin_calibrate() does, because preemption only ever adds time
 * (a median taken while another process held the CPU once made 1 ms tasks "take" 2.8 ms).
 */
static double task_ns(uint64_t iterations, size_t reps)
{
	cfgpool_spin_input_t in = {iterations};
	cfgpool_spin_output_t out;
	double best = INFINITY;

	run_spin(&in, &out);
	for (size_t i = 0; i < reps; i++) {
		uint64_t t0 = bench_now_ns();
		double t;

		run_spin(&in, &out);
		t = (double)(bench_now_ns() - t0);
		if (t < best)
			best = t;
	}
	return best;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * A peer that returned before running every task would look fast: spin's output is the
 * cosine of the iteration count (1.0 for none), never exactly 0, so a zeroed output that
 * is still 0 was never written.
 */
static void check_outputs(const struct regime *r, const struct peer *peer, const cfgpool_spin_output_t *out,
			  size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].value == 0.0) {
			fprintf(stderr, "bench_regimes: %s %s: task %zu of %zu was not run\n", r->name, peer->name, i,
				n);
			exit(1);
		}
}

/* Fills samples[0..7) with the tasks/s of repetitions of n empty tasks, after a warm-up. */
static void run_throughput(const struct regime *r, const struct peer *peer, void *self, size_t n, double *samples)
{
	cfgpool_spin_output_t *out = calloc(n, sizeof(*out));

	if (out == NULL)
		die("out of memory", NULL);
	peer->stream(self, &zero_input, out, n / 10 + 1); /* warm-up: threads, queues, pages */
	if (peer->counters != NULL)
		peer->counters(self, 1, NULL, 0);
	for (size_t s = 0; s < THROUGHPUT_REPS; s++) {
		uint64_t t0;

		memset(out, 0, n * sizeof(*out));
		t0 = bench_now_ns();
		peer->stream(self, &zero_input, out, n);
		samples[s] = (double)n * 1e9 / (double)(bench_now_ns() - t0);
		check_outputs(r, peer, out, n);
	}
	free(out);
}

/*
 * Fills samples[0..n) with batch latencies in us, after r->warmup untimed batches, back to
 * back or on the regime's period, and returns n: scaled(r), or for a sweep point what fits
 * in its budget (at most cap). *wall is the wall time of the n timed batches in ns.
 */
/* Back-to-back batches before a latency regime's warm-up: 0.2 s (--quick: 0.02 s). */
#define PREWARM_NS 200000000u
static bool quick_run;

static size_t run_latency(const struct regime *r, const struct peer *peer, void *self, uint64_t iterations,
			  size_t cap, double *samples, uint64_t *wall)
{
	uint64_t period = (uint64_t)r->period_ms * 1000000u, next = bench_now_ns(), wall0 = 0, warm0 = 0;
	cfgpool_spin_input_t in[MAX_BATCH];
	cfgpool_spin_output_t out[MAX_BATCH];
	size_t n = cap;

	for (size_t i = 0; i < r->batch; i++)
		in[i].iterations = iterations;
	/* Back-to-back batches before anything counts: on this virtual machine the first peer
	 * measured after a pause (the point's calibration on one thread) ran up to 2x slower,
	 * batch after batch (8 x 100 us: 789 us a batch against 414 us when it came second). */
	for (uint64_t end = bench_now_ns() + (quick_run ? PREWARM_NS / 10 : PREWARM_NS); bench_now_ns() < end;)
		peer->batch(self, in, out, r->batch);
	next = bench_now_ns();
	for (size_t i = 0; i < r->warmup + n; i++) {
		uint64_t t0;

		if (i == r->warmup && peer->counters != NULL)
			peer->counters(self, 1, NULL, 0);
		if (period != 0) {
			next += period;
			sleep_until(next);
		}
		memset(out, 0, sizeof(out));
		t0 = bench_now_ns();
		if (i == 0)
			warm0 = t0;
		if (i == r->warmup) {
			wall0 = t0;
			if (is_sweep(r) && r->warmup > 0) {
				double each = (double)(t0 - warm0) / 1e9 / (double)r->warmup;
				double fit = r->budget_s * count_scale / (each > 0 ? each : 1e-9);

				double lo = count_scale < 1 ? 5 : (double)r->min; /* --quick: a smoke run */

				n = fit < lo ? (size_t)lo : fit > (double)cap ? cap : (size_t)fit;
			}
		}
		peer->batch(self, in, out, r->batch);
		if (i >= r->warmup)
			samples[i - r->warmup] = (double)(bench_now_ns() - t0) / 1e3;
		check_outputs(r, peer, out, r->batch);
	}
	*wall = bench_now_ns() - wall0;
	return n;
}

/*
 * The share of one CPU that other processes used since `others0` (from others_cpu_s())
 * and `t0`, warning on stderr when it is enough to disturb a measurement long enough to
 * tell; -1 when unknown.
 */
static double others_share(const char *config, double others0, uint64_t t0)
{
	double others = others_cpu_s(), seconds = (double)(bench_now_ns() - t0) / 1e9;

	if (others < 0 || others0 < 0)
		return -1;
	/* Small negatives are jiffy rounding. */
	others = (others - others0) / seconds;
	others = others < 0 ? 0 : others;
	if (others > 0.1 && seconds >= 0.5)
		fprintf(stderr, "bench_regimes: %s: other processes used %.0f%% of a CPU meanwhile: figures disturbed\n",
			config, others * 100);
	return others;
}

/* "regime peer", or "regime label peer" for a sweep point. */
static void config_name(char *buf, size_t len, const struct regime *r, const char *peer)
{
	if (r->label[0] != '\0')
		snprintf(buf, len, "%s %s %s", r->name, r->label, peer);
	else
		snprintf(buf, len, "%s %s", r->name, peer);
}

/*
 * Measures `peer` in regime `r` with tasks of `iterations` (one alone takes `one_ns`),
 * prints its JSON line and returns the median, or NAN when the peer could not run.
 */
static double measure(const struct regime *r, const struct peer *peer, uint64_t iterations, double one_ns)
{
	size_t cap = scaled(r), n = cap, nsamples;
	double *samples = calloc(r->throughput ? THROUGHPUT_REPS : cap, sizeof(*samples)), median, eff = -1,
	       others0, others;
	char config[128], setting[600], counters[600] = "", effbuf[64] = "", sweepbuf[64] = "";
	uint64_t wall = 0, t0;
	void *self;
	int rc;

	if (samples == NULL)
		die("out of memory", NULL);
	config_name(config, sizeof(config), r, peer->name);
	watchdog_arm(config);
	others0 = others_cpu_s();
	t0 = bench_now_ns();
	rc = peer->open(&self);
	if (rc != 0) {
		fprintf(stderr, "bench_regimes: %s: skipped, open failed: %s\n", config, cfgpool_strerror(rc));
		free(samples);
		alarm(0);
		return NAN;
	}
	if (r->throughput)
		run_throughput(r, peer, self, n, samples);
	else
		n = run_latency(r, peer, self, iterations, cap, samples, &wall);
	nsamples = r->throughput ? THROUGHPUT_REPS : n;
	if (peer->counters != NULL)
		peer->counters(self, r->throughput ? (double)THROUGHPUT_REPS * (double)n : (double)n, counters,
			       sizeof(counters));
	peer->close(self);
	alarm(0);
	others = others_share(config, others0, t0);

	median = bench_quantile(samples, nsamples, 0.5);
	if (r->efficiency == EFF_BATCH)
		eff = (double)r->batch * one_ns / (median * 1e3 * ncpu);
	else if (r->efficiency == EFF_WALL)
		eff = (double)n * (double)r->batch * one_ns / ((double)wall * ncpu);
	if (eff >= 0)
		snprintf(effbuf, sizeof(effbuf), ", \"efficiency\": %.3f", eff);
	if (is_sweep(r))
		snprintf(sweepbuf, sizeof(sweepbuf), ", \"sweep\": \"%s\", \"task_us_nominal\": %g",
			 strcmp(r->name, "sweep_task") == 0 ? "task_us" : "batch", r->task_us);
	peer->setting(setting, sizeof(setting));
	bench_report("regimes", config, r->throughput ? "tasks/s" : "us", samples, nsamples,
		     r->throughput ? (uint64_t)n * THROUGHPUT_REPS : (uint64_t)n,
		     "\"regime\": \"%s\", \"peer\": \"%s\", \"setting\": \"%s\", \"ncpu\": %u, \"threads\": %u, "
		     "\"tasks_per_%s\": %zu, \"task_us\": %.3f%s%s, \"others_cpu\": %.2f%s",
		     r->name, peer->name, setting, ncpu, nthreads, r->throughput ? "repetition" : "batch",
		     r->throughput ? n : r->batch, one_ns / 1e3, effbuf, sweepbuf, others, counters);
	free(samples);
	return median;
}

/*
 * Runs `peer` in a child process (this program with --child) with OMP_WAIT_POLICY set as
 * the peer says, forwards its output and returns the median it reported (NAN on failure).
 */
static double measure_in_child(const struct regime *r, const struct peer *peer, uint64_t iterations, double one_ns,
			       bool quick)
{
	char iters[32], ns[32], workers[16], batch[16], task_us[32], line[4096];
	char *argv[24] = {"bench_regimes", "--child", "--regime", (char *)r->name, "--peer", (char *)peer->name,
			  "--iterations", iters, "--task-ns", ns};
	int argc = 10;
	double median = NAN;
	int fd[2], status;
	pid_t pid;
	FILE *f;

	snprintf(iters, sizeof(iters), "%llu", (unsigned long long)iterations);
	snprintf(ns, sizeof(ns), "%.1f", one_ns);
	snprintf(workers, sizeof(workers), "%u", nthreads);
	snprintf(batch, sizeof(batch), "%zu", r->batch);
	snprintf(task_us, sizeof(task_us), "%g", r->task_us);
	if (quick)
		argv[argc++] = "--quick";
	if (workers_given) {
		argv[argc++] = "--workers";
		argv[argc++] = workers;
	}
	if (is_sweep(r)) {
		argv[argc++] = "--batch";
		argv[argc++] = batch;
		argv[argc++] = "--task-us";
		argv[argc++] = task_us;
	}
	argv[argc] = NULL;
	if (pipe(fd) != 0)
		die("pipe", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		close(fd[0]);
		if (dup2(fd[1], STDOUT_FILENO) < 0)
			_exit(127);
		close(fd[1]);
		if (peer->wait_policy != NULL)
			setenv("OMP_WAIT_POLICY", peer->wait_policy, 1);
		else
			unsetenv("OMP_WAIT_POLICY");
		execv("/proc/self/exe", argv);
		fprintf(stderr, "bench_regimes: exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	if (f == NULL)
		die("fdopen", strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *m = strstr(line, "\"median\": ");

		fputs(line, stdout);
		fflush(stdout);
		if (m != NULL && strstr(line, "\"bench\": \"regimes\"") != NULL)
			median = strtod(m + strlen("\"median\": "), NULL);
	}
	fclose(f);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char config[128];

		config_name(config, sizeof(config), r, peer->name);
		fprintf(stderr, "bench_regimes: %s: child failed\n", config);
		return NAN;
	}
	return median;
}

/* Prints peer median / cfgpool median for every peer measured, when cfgpool was. */
static void print_ratios(const struct regime *r, const double *medians)
{
	char config[128];
	int others = 0;

	if (isnan(medians[0]))
		return;
	for (size_t p = 1; p < NPEERS; p++)
		others += !isnan(medians[p]);
	if (others == 0)
		return;
	config_name(config, sizeof(config), r, "");
	config[strlen(config) - 1] = '\0'; /* the space before the empty peer name */
	printf("{\"bench\": \"regimes\", \"config\": \"ratios %s\", \"unit\": \"%s\"", config,
	       r->throughput ? "peer tasks/s over cfgpool tasks/s (below 1: cfgpool faster)"
			     : "peer us over cfgpool us (above 1: cfgpool faster)");
	for (size_t p = 1; p < NPEERS; p++)
		if (!isnan(medians[p]))
			printf(", \"%s_over_cfgpool\": %.4g", peers[p].name, medians[p] / medians[0]);
	printf("}\n");
	fflush(stdout);
}

/* --peer takes a comma-separated list; "omp" stands for every OpenMP setting. */
static bool selected(const char *list, const char *name)
{
	char buf[256], *save = NULL;

	if (list == NULL)
		return true;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, name) == 0 || (strcmp(tok, "omp") == 0 && strncmp(name, "omp_", 4) == 0))
			return true;
	return false;
}

/*
 * Parses a comma-separated list of numbers in [lo, hi] into v[0..MAX_SWEEP); returns how
 * many, or exits with a message naming the option and the bad item.
 */
static size_t parse_list(const char *opt, const char *list, double lo, double hi, bool integer, double *v)
{
	char buf[512], *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		double x = strtod(tok, &end);

		if (end == tok || *end != '\0' || !(x >= lo && x <= hi) || (integer && x != floor(x)) ||
		    n == MAX_SWEEP) {
			fprintf(stderr, "bench_regimes: %s: '%s' is not %s in [%g, %g]%s\n", opt, tok,
				integer ? "an integer" : "a number", lo, hi,
				n == MAX_SWEEP ? " (or the list has too many items)" : "");
			exit(2);
		}
		v[n++] = x;
	}
	if (n == 0) {
		fprintf(stderr, "bench_regimes: %s: empty list\n", opt);
		exit(2);
	}
	return n;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_regimes [--regime NAME[,NAME]] [--peer NAME[,NAME]] [--quick] [--pool JSON]\n"
		   "                     [--workers N] [--task-us LIST] [--batch LIST]\n"
		   "  regimes: b2b_tiny periodic_tiny b2b_20us periodic_20us tasks_1ms throughput_empty (default),\n"
		   "           sweep_task sweep_batch (run when named or when their list is given)\n"
		   "  peers:   cfgpool omp (= omp_active,omp_default,omp_passive) tbb condvar glib\n"
		   "  --quick  10x fewer batches and tasks; CFGPOOL_BENCH_SCALE multiplies the counts\n"
		   "  --pool   cfgpool's `pool` section (default {}: one pinned worker per CPU)\n"
		   "  --workers N    N threads for every peer (cfgpool: \"workers\": N), default one per CPU\n"
		   "  --task-us LIST sweep_task's task lengths in us (default 1,3,10,30,100,300,1000,3000,10000),\n"
		   "                 8 tasks a batch, back to back: efficiency against task length\n"
		   "  --batch LIST   sweep_batch's batch sizes, 1 to %d (default 1,2,4,8,16,32,64), empty tasks\n"
		   "                 back to back: latency against batch size\n",
		MAX_BATCH);
}

int main(int argc, char **argv)
{
	const char *regime_list = NULL, *peer_list = NULL;
	bool quick = false, child = false, task_given = false, batch_given = false;
	unsigned workers = 0; /* --workers; 0: one thread per CPU */
	uint64_t child_iterations = 0;
	double child_ns = 0, ipus, task_list[MAX_SWEEP], batch_list[MAX_SWEEP];
	size_t rotate = 0; /* which peer a point starts with */
	size_t ntask = sizeof(default_task_us) / sizeof(default_task_us[0]);
	size_t nbatch = sizeof(default_batch) / sizeof(default_batch[0]);

	memcpy(task_list, default_task_us, sizeof(default_task_us));
	memcpy(batch_list, default_batch, sizeof(default_batch));
	ncpu = count_cpus();
	nthreads = ncpu;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (bench_common_option(argc, argv, &i, &quick, &workers, usage)) {
			continue;
		} else if (strcmp(a, "--child") == 0) {
			child = true;
		} else if (v != NULL && strcmp(a, "--regime") == 0) {
			regime_list = argv[++i];
		} else if (v != NULL && strcmp(a, "--peer") == 0) {
			peer_list = argv[++i];
		} else if (v != NULL && strcmp(a, "--pool") == 0) {
			pool_section = argv[++i];
		} else if (v != NULL && strcmp(a, "--task-us") == 0) {
			ntask = parse_list(a, argv[++i], 0, 1e6, false, task_list);
			task_given = true;
		} else if (v != NULL && strcmp(a, "--batch") == 0) {
			nbatch = parse_list(a, argv[++i], 1, MAX_BATCH, true, batch_list);
			batch_given = true;
		} else if (v != NULL && strcmp(a, "--iterations") == 0) {
			child_iterations = strtoull(argv[++i], NULL, 10);
		} else if (v != NULL && strcmp(a, "--task-ns") == 0) {
			child_ns = strtod(argv[++i], NULL);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (workers != 0) {
		nthreads = workers;
		workers_given = true;
	}
	count_scale = bench_scale() * (quick ? 0.1 : 1.0);
	quick_run = quick;
	spin = cfgpool_kernel_find("spin");
	if (spin == NULL)
		die("the spin kernel is not built in", NULL);

	if (child) {
		for (size_t r = 0; r < NREGIMES; r++)
			for (size_t p = 0; p < NPEERS; p++)
				if (strcmp(regimes[r].name, regime_list ? regime_list : "") == 0 &&
				    strcmp(peers[p].name, peer_list ? peer_list : "") == 0 && peers[p].available) {
					struct regime one = regimes[r];

					if (is_sweep(&one))
						one = sweep_point(&regimes[r], strcmp(one.name, "sweep_task") == 0
										      ? task_list[0]
										      : batch_list[0]);
					return isnan(measure(&one, &peers[p], child_iterations, child_ns));
				}
		die("--child needs one available --peer and one --regime", NULL);
	}

	/* perf/run's rounds (CFGPOOL_BENCH_ROUND, 1 to N): each round measures the peers in
	 * another order, so that none is always the first after a pause or the one after
	 * OpenMP's spinning children. */
	if (getenv("CFGPOOL_BENCH_ROUND") != NULL) {
		size_t round = (size_t)strtoul(getenv("CFGPOOL_BENCH_ROUND"), NULL, 10);

		rotate = round > 0 ? (round - 1) % NPEERS : 0;
	}
	ipus = cfgpool_spin_calibrate();
	fprintf(stderr, "bench_regimes: %u CPUs, %u threads a peer, spin %.1f iterations/us, counts x%g\n", ncpu,
		nthreads, ipus, count_scale);
	for (size_t p = 0; p < NPEERS; p++)
		if (selected(peer_list, peers[p].name) && !peers[p].available)
			fprintf(stderr, "bench_regimes: %s: skipped, not built (configure found no %s)\n", peers[p].name,
				peers[p].needs);

	for (size_t ri = 0; ri < NREGIMES; ri++) {
		const struct regime *base = &regimes[ri];
		bool sweep = is_sweep(base), by_task = strcmp(base->name, "sweep_task") == 0;
		size_t points = !sweep ? 1 : by_task ? ntask : nbatch;

		if (regime_list != NULL ? !selected(regime_list, base->name)
					: ri >= NFIXED && !(by_task ? task_given : batch_given))
			continue;
		for (size_t pt = 0; pt < points; pt++) {
			struct regime r = sweep ? sweep_point(base, by_task ? task_list[pt] : batch_list[pt]) : *base;
			uint64_t iterations = (uint64_t)llround(r.task_us * ipus);
			double one_ns, medians[NPEERS];

			one_ns = task_ns(iterations, r.task_us >= 1000 ? 21 : 201);
			for (size_t q = 0; q < NPEERS; q++) {
				size_t p = (q + rotate) % NPEERS;
				const struct peer *peer = &peers[p];

				medians[p] = NAN;
				if (!selected(peer_list, peer->name) || !peer->available)
					continue;
				if (r.throughput && peer->stream == NULL)
					continue; /* OpenMP has no per-task submission */
				medians[p] = peer->child ? measure_in_child(&r, peer, iterations, one_ns, quick)
							 : measure(&r, peer, iterations, one_ns);
			}
			print_ratios(&r, medians);
		}
	}
	return 0;
}
