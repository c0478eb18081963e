/*
 * The soak: millions of tasks against a configuration reloaded every ~100 us, counted.
 *
 * For each of K pools (--pools, default 1), running at once: two submitter threads mix
 * cfgpool_pool_map() batches of 8 with cfgpool_pool_submit() calls carrying completion
 * callbacks, while a third thread reloads the pool's configuration every ~100 us,
 * alternating good and broken documents, synchronous (CFGPOOL_RELOAD_SYNC) and not. The
 * kernel is the probe (tests/probe.h): the document published as version v carries salt
 * v, and every task writes the version it ran against and a value computed from the
 * prepared block, so each result shows whether the task saw one snapshot throughout.
 *
 * Phase 1 runs N tasks (--tasks, default 10^6 scaled by CFGPOOL_TEST_SCALE, split over
 * the pools) and checks: every task completed exactly once, with status 0, against a
 * version >= 1 and <= the pool's version at completion, with the salt and value of that
 * version's block; no result of a submitter shows a version older than one it had
 * already received; every good document published the next version and every broken one
 * changed nothing; after a barrier every retired snapshot was freed and the pool counted
 * what was done (submitted == completed == N, nothing failed). Phase 2 keeps submitting
 * longer tasks, shuts the pool down while the submitters still queue, lets them see
 * -ESHUTDOWN and stop, and closes with CFGPOOL_CLOSE_CANCEL: every accepted task
 * completed exactly once, with 0 or -ECANCELED, its callback included, some were
 * cancelled, and no refused one ran. At the end every prepared block was released once
 * and every worker state freed once.
 *
 * --seconds S stops phase 1's submitters after S seconds (0: no limit; every task's slot
 * is still allocated up front, 48 bytes each). The figures go to stdout as one JSON line
 * (phase 1's tasks; reloads of both phases; retired and freed at phase 1's barrier);
 * any violation prints a message to stderr and exits 1, a hang past a scaled 600 s exits 2.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "helpers.h"
#include "probe.h"

#define MAX_POOLS 16
#define BATCH 8
#define SEEN_VERSIONS (1u << 20) /* versions counted as seen; later ones still checked */
#define ID_POOL_SHIFT 40         /* a task's id: its pool's index above, its slot below */
#define PHASE2_SLOTS (1u << 16)  /* per submitter */
#define PHASE1_SPIN 256          /* iterations a phase-1 task spins: a fraction of a us */
#define PHASE2_SPIN 1000         /* iterations a phase-2 task spins */

struct soak_pool;

struct submitter {
	struct soak_pool *sp;
	pthread_t thread;
	size_t first, count; /* the task slots it fills, [first, first + count) */
	bool phase2;
	/* The highest version among the results this submitter received; raised by its
	 * callbacks on the workers. Release: pairs with the acquire load before each
	 * submission, so a task queued after a result was seen runs on that version or later. */
	_Atomic uint64_t max_version;
	size_t next; /* slots used so far (the submitter's own) */
	uint64_t maps, map_tasks, submits, nonblock_retries, refused;
	atomic_ulong callbacks, cancelled;
};

struct soak_pool {
	unsigned index;
	cfgpool_pool_t *pool;
	size_t ntasks; /* phase 1 */
	size_t nslots; /* phase 1 and phase 2 */
	struct probe_input *in;
	struct probe_output *out;
	atomic_uchar *done; /* completions per slot */
	uint64_t *floor;    /* the submitter's max_version when the slot was queued */
	atomic_uchar *seen; /* versions results showed */
	struct submitter sub[2];
	pthread_t reloader;
	atomic_bool stop_reloads;
	/* Set while phase 2's tasks hold the workers, so the queue fills; opened once the
	 * close has started. */
	atomic_bool gate;
	pthread_t closer;
	int close_rc;
	/* Above every version published so far: set before each reload is tried. */
	_Atomic uint64_t bound;
	uint64_t reloads_ok, reloads_failed, reloads_sync, reloads_async;
	uint64_t versions, versions_seen, max_queue, retired, freed;
};

static struct soak_pool pools[MAX_POOLS];
static double deadline; /* phase 1's submitters stop here; 0: never */


static const char pool_section[] = "\"pool\": {\"queue_capacity\": 4096}";

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void violation(const char *fmt, ...)
{
	va_list ap;

	fputs("soak: violation: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

static void on_alarm(int sig)
{
	static const char msg[] = "soak: timed out: a submitter, a reload or a close never returned\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

/* Warnings and notices are expected (none is); errors are not. */
static void pool_log(void *arg, cfgpool_log_level_t level, const char *message)
{
	(void)arg;
	if (level == CFGPOOL_LOG_ERROR)
		violation("the pool logged an error: %s", message);
}

static const cfgpool_pool_opts_t pool_opts = {.log = pool_log};

static void raise_max(_Atomic uint64_t *max, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(max, memory_order_relaxed);

	while (cur < v && !atomic_compare_exchange_weak_explicit(max, &cur, v, memory_order_release,
								   memory_order_relaxed))
		;
}

static struct submitter *owner_of(struct soak_pool *sp, size_t slot)
{
	return slot >= sp->sub[1].first && slot < sp->sub[1].first + sp->sub[1].count ? &sp->sub[1] : &sp->sub[0];
}

/*
 * Checks one completed task. `now` is the pool's version after it completed, or 0 for a
 * phase-2 callback, which may run inside the close, where the pool may not be asked: the
 * reloader's bound stands in.
 */
static void check_result(struct soak_pool *sp, size_t slot, const cfgpool_result_t *r, uint64_t now)
{
	const struct probe_input *in = &sp->in[slot];
	const struct probe_output *out = &sp->out[slot];
	struct submitter *s = owner_of(sp, slot);
	uint64_t limit = now ? now : atomic_load(&sp->bound);

	if (atomic_fetch_add(&sp->done[slot], 1) != 0)
		violation("pool %u: task %zu completed twice", sp->index, slot);
	if (r->status == -ECANCELED && s->phase2) {
		if (r->version != 0)
			violation("pool %u: task %zu cancelled with version %llu, not 0", sp->index, slot,
				  (unsigned long long)r->version);
		atomic_fetch_add(&s->cancelled, 1);
		return;
	}
	if (r->status != 0)
		violation("pool %u: task %zu completed with %s", sp->index, slot, cfgpool_err_name(r->status));
	if (out->id != in->id)
		violation("pool %u: task %zu wrote the output of task %llu", sp->index, slot,
			  (unsigned long long)out->id);
	if (r->version != out->version)
		violation("pool %u: task %zu: result version %llu, task saw %llu", sp->index, slot,
			  (unsigned long long)r->version, (unsigned long long)out->version);
	if (out->version < 1 || out->version > limit)
		violation("pool %u: task %zu ran against version %llu, never published (pool at %llu)", sp->index,
			  slot, (unsigned long long)out->version, (unsigned long long)limit);
	if (out->salt != out->version)
		violation("pool %u: task %zu saw version %llu with the block of version %llu", sp->index, slot,
			  (unsigned long long)out->version, (unsigned long long)out->salt);
	if (out->value != probe_expected(out->salt, in->x))
		violation("pool %u: task %zu: value not computed from version %llu's block", sp->index, slot,
			  (unsigned long long)out->version);
	if (out->version < sp->floor[slot])
		violation("pool %u: task %zu ran against version %llu after its submitter had seen %llu",
			  sp->index, slot, (unsigned long long)out->version, (unsigned long long)sp->floor[slot]);
	if (out->version < SEEN_VERSIONS)
		atomic_store_explicit(&sp->seen[out->version], 1, memory_order_relaxed);
	raise_max(&s->max_version, out->version);
}

static void on_done(void *arg, void *output, const cfgpool_result_t *result)
{
	const struct probe_input *in = arg;
	struct soak_pool *sp = &pools[in->id >> ID_POOL_SHIFT];
	size_t slot = (size_t)(in->id & ((1ULL << ID_POOL_SHIFT) - 1));

	if (output != &sp->out[slot])
		violation("pool %u: task %zu: callback given another output", sp->index, slot);
	check_result(sp, slot, result, owner_of(sp, slot)->phase2 ? 0 : cfgpool_pool_version(sp->pool));
	atomic_fetch_add_explicit(&owner_of(sp, slot)->callbacks, 1, memory_order_release);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Runs slots [slot, slot + n) as one map. 0, or -ESHUTDOWN (phase 2). */
static int run_map(struct submitter *s, size_t slot, size_t n)
{
	struct soak_pool *sp = s->sp;
	cfgpool_result_t res[BATCH];
	uint64_t floor = atomic_load_explicit(&s->max_version, memory_order_acquire), now;
	int rc;

	for (size_t i = 0; i < n; i++)
		sp->floor[slot + i] = floor;
	rc = cfgpool_pool_map(sp->pool, &sp->in[slot], 0, &sp->out[slot], 0, n, res, 0);
	if (rc == -ESHUTDOWN && s->phase2)
		return rc;
	if (rc != 0)
		violation("pool %u: map of %zu tasks returned %s", sp->index, n, cfgpool_err_name(rc));
	now = cfgpool_pool_version(sp->pool);
	for (size_t i = 0; i < n; i++)
		check_result(sp, slot + i, &res[i], now);
	s->maps++;
	s->map_tasks += n;
	return 0;
}

/* Submits one slot. 0, -EAGAIN (phase 2, queue full) or -ESHUTDOWN (phase 2). */
static int run_submit(struct submitter *s, size_t slot)
{
	struct soak_pool *sp = s->sp;
	int rc;

	sp->floor[slot] = atomic_load_explicit(&s->max_version, memory_order_acquire);
	rc = cfgpool_pool_submit(sp->pool, &sp->in[slot], &sp->out[slot], on_done, &sp->in[slot],
				 s->phase2 ? CFGPOOL_SUBMIT_NONBLOCK : 0);
	if (s->phase2 && (rc == -EAGAIN || rc == -ESHUTDOWN))
		return rc;
	if (rc != 0)
		violation("pool %u: submit returned %s", sp->index, cfgpool_err_name(rc));
	s->submits++;
	return 0;
}

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)s->sp->index << 8) ^ (uint64_t)(s - s->sp->sub) ^ s->phase2;

	while (s->next < s->count) {
		size_t slot = s->first + s->next, n = s->count - s->next;
		int rc = 0;

		if (n > BATCH)
			n = BATCH;
		if (!s->phase2 && deadline > 0 && (s->next & 1023) < BATCH && now_s() > deadline)
			break;
		/* Phase 2 only submits: a helping map would run held tasks and never return. */
		if (!s->phase2 && (xorshift(&rng) & 1)) {
			rc = run_map(s, slot, n);
			if (rc == 0)
				s->next += n;
		} else {
			for (size_t i = 0; i < n && rc == 0; i++) {
				rc = run_submit(s, slot + i);
				if (rc == 0)
					s->next++;
			}
		}
		if (rc == -ESHUTDOWN) {
			s->refused++;
			break; /* every later call is refused too: a host stops here */
		}
		if (rc == -EAGAIN) {
			s->nonblock_retries++;
			sched_yield();
		}
	}
	return NULL;
}

/* The document for version `v`, or a broken one of kind `kind` (0-3). */
static int document(char *buf, size_t size, uint64_t v, int kind)
{
	switch (kind) {
	case 0: /* syntax: cut short */
		return snprintf(buf, size, "{\"kernel\": {\"name\": \"probe\", \"salt\": %llu}, %s",
				(unsigned long long)v, pool_section);
	case 1: /* the kernel's prepare refuses it */
		return snprintf(buf, size, "{\"kernel\": {\"name\": \"probe\", \"salt\": \"%llu\"}, %s}",
				(unsigned long long)v, pool_section);
	case 2: /* the pool's schema refuses it */
		return snprintf(buf, size, "{\"kernel\": {\"name\": \"probe\", \"salt\": %llu}, "
				"\"pool\": {\"queue_capacity\": 0}}", (unsigned long long)v);
	case 3: /* another kernel */
		return snprintf(buf, size, "{\"kernel\": {\"name\": \"spin\"}, %s}", pool_section);
	default:
		return snprintf(buf, size, "{\"kernel\": {\"name\": \"probe\", \"salt\": %llu}, %s}",
				(unsigned long long)v, pool_section);
	}
}

static void *reloader_main(void *arg)
{
	struct soak_pool *sp = arg;
	uint64_t version = cfgpool_pool_version(sp->pool);
	unsigned k = 0;

	while (!atomic_load(&sp->stop_reloads)) {
		struct timespec pause = {0, 100000};
		/* Held workers are inside read-side sections: a synchronous reload would wait for
		 * them, and the shutdown for it. */
		bool good = k % 2 == 0, sync = k % 6 < 2 && !atomic_load(&sp->gate);
		cfgpool_error_t err;
		char text[256];
		uint64_t got = 0;
		int len, rc;

		len = document(text, sizeof(text), version + 1, good ? -1 : (int)(k / 2 % 4));
		atomic_store(&sp->bound, version + 1);
		cfgpool_error_init(&err);
		rc = cfgpool_pool_reload_string(sp->pool, text, (size_t)len, sync ? CFGPOOL_RELOAD_SYNC : 0, &got,
						&err);
		if (rc == -ESHUTDOWN)
			break;
		if (good) {
			if (rc != 0)
				violation("pool %u: a good reload returned %s: %s", sp->index, cfgpool_err_name(rc),
					  err.text);
			if (got != version + 1)
				violation("pool %u: reload published version %llu after %llu", sp->index,
					  (unsigned long long)got, (unsigned long long)version);
			version = got;
			sp->reloads_ok++;
		} else {
			if (rc == 0 || err.code != rc)
				violation("pool %u: a broken document (kind %u) returned %s", sp->index, k / 2 % 4,
					  cfgpool_err_name(rc));
			if (cfgpool_pool_version(sp->pool) != version)
				violation("pool %u: a failed reload changed the version", sp->index);
			sp->reloads_failed++;
		}
		if (sync)
			sp->reloads_sync++;
		else
			sp->reloads_async++;
		k++;
		nanosleep(&pause, NULL);
	}
	sp->versions = version;
	return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int rc = pthread_create(t, NULL, fn, arg);

	if (rc != 0)
		violation("pthread_create: %s", strerror(rc));
}

static void join(pthread_t t)
{
	int rc = pthread_join(t, NULL);

	if (rc != 0)
		violation("pthread_join: %s", strerror(rc));
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		violation("out of memory for %zu x %zu bytes", n, size);
	return p;
}

static void open_pool(struct soak_pool *sp, unsigned index, size_t ntasks)
{
	cfgpool_error_t err;
	char text[256], buf[512];
	int len, rc;

	sp->index = index;
	sp->ntasks = ntasks;
	sp->nslots = ntasks + 2 * (size_t)PHASE2_SLOTS;
	sp->in = xcalloc(sp->nslots, sizeof(*sp->in));
	sp->out = xcalloc(sp->nslots, sizeof(*sp->out));
	sp->done = xcalloc(sp->nslots, sizeof(*sp->done));
	sp->floor = xcalloc(sp->nslots, sizeof(*sp->floor));
	sp->seen = xcalloc(SEEN_VERSIONS, sizeof(*sp->seen));
	for (size_t i = 0; i < sp->nslots; i++) {
		sp->in[i].id = ((uint64_t)index << ID_POOL_SHIFT) | i;
		sp->in[i].x = probe_mix(i, index);
		sp->in[i].spin = i < ntasks ? PHASE1_SPIN : PHASE2_SPIN;
		sp->in[i].gate = i < ntasks ? NULL : &sp->gate;
	}
	len = document(text, sizeof(text), 1, -1);
	cfgpool_error_init(&err);
	rc = cfgpool_pool_open_string(text, (size_t)len, &probe_kernel, &pool_opts, &sp->pool, &err);
	if (rc != 0)
		violation("open: %s", cfgpool_error_format(&err, buf, sizeof(buf)));
	atomic_store(&sp->bound, 1);
}

static void start_submitters(struct soak_pool *sp, bool phase2)
{
	size_t half = sp->ntasks / 2;

	for (int k = 0; k < 2; k++) {
		struct submitter *s = &sp->sub[k];

		s->sp = sp;
		s->phase2 = phase2;
		s->next = 0;
		if (phase2) {
			s->first = sp->ntasks + (size_t)k * PHASE2_SLOTS;
			s->count = PHASE2_SLOTS;
		} else {
			s->first = k == 0 ? 0 : half;
			s->count = k == 0 ? half : sp->ntasks - half;
		}
		start(&s->thread, submitter_main, s);
	}
}

static void start_reloader(struct soak_pool *sp)
{
	atomic_store(&sp->stop_reloads, false);
	start(&sp->reloader, reloader_main, sp);
}

static void stop_reloader(struct soak_pool *sp)
{
	atomic_store(&sp->stop_reloads, true);
	join(sp->reloader);
}

/* Waits until every submitted task of `s` called back. */
static void wait_callbacks(struct submitter *s)
{
	while (atomic_load_explicit(&s->callbacks, memory_order_acquire) < s->submits) {
		struct timespec ts = {0, 200000};

		nanosleep(&ts, NULL);
	}
}

/* Phase 1's counts, once its submitters are joined. */
static void check_phase1(struct soak_pool *sp)
{
	const cfgpool_holder_t *h = cfgpool_pool_holder(sp->pool);
	size_t done = sp->sub[0].next + sp->sub[1].next;
	cfgpool_holder_stats_t hs;
	cfgpool_pool_stats_t ps;

	for (int k = 0; k < 2; k++)
		wait_callbacks(&sp->sub[k]);
	stop_reloader(sp);
	for (int k = 0; k < 2; k++) {
		const struct submitter *s = &sp->sub[k];

		for (size_t i = s->first; i < s->first + s->count; i++) {
			unsigned n = atomic_load(&sp->done[i]);

			if (n != (i < s->first + s->next ? 1u : 0u))
				violation("pool %u: task %zu completed %u times", sp->index, i, n);
		}
	}
	if (cfgpool_holder_barrier(h) != 0)
		violation("pool %u: holder barrier failed", sp->index);
	cfgpool_holder_stats(h, &hs);
	if (hs.published != 1 + sp->reloads_ok || hs.failed != sp->reloads_failed)
		violation("pool %u: holder published %llu and failed %llu, expected %llu and %llu", sp->index,
			  (unsigned long long)hs.published, (unsigned long long)hs.failed,
			  (unsigned long long)(1 + sp->reloads_ok), (unsigned long long)sp->reloads_failed);
	if (hs.retired != hs.published - 1 || hs.freed != hs.retired)
		violation("pool %u: %llu retired and %llu freed of %llu published", sp->index,
			  (unsigned long long)hs.retired, (unsigned long long)hs.freed, (unsigned long long)hs.published);
	cfgpool_pool_stats(sp->pool, &ps, NULL, 0);
	if (ps.submitted != done || ps.completed != done || ps.failed != 0 || ps.cancelled != 0)
		violation("pool %u: stats submitted %llu completed %llu failed %llu cancelled %llu for %zu tasks",
			  sp->index, (unsigned long long)ps.submitted, (unsigned long long)ps.completed,
			  (unsigned long long)ps.failed, (unsigned long long)ps.cancelled, done);
	if (ps.reloads != sp->reloads_ok || ps.reload_failures != sp->reloads_failed)
		violation("pool %u: stats count %llu reloads and %llu failures", sp->index,
			  (unsigned long long)ps.reloads, (unsigned long long)ps.reload_failures);
	sp->retired = hs.retired;
	sp->freed = hs.freed;
	sp->max_queue = ps.queue_high_water;
	for (uint64_t v = 0; v < SEEN_VERSIONS; v++)
		sp->versions_seen += atomic_load(&sp->seen[v]);
}

static void check_phase2(struct soak_pool *sp);

static void *closer_main(void *arg)
{
	struct soak_pool *sp = arg;

	sp->close_rc = cfgpool_pool_close(sp->pool, CFGPOOL_CLOSE_CANCEL);
	return NULL;
}

/*
 * Phase 2's end, for every pool at once. While the workers are held and the queues full,
 * a thread per pool starts its close with cancel; the submitters see -ESHUTDOWN and stop,
 * and are joined, and only then do the gates open: a close cannot return before, as its
 * workers are still running the held tasks, so no call starts after a close returned.
 * (Grace periods are process-wide, so every gate must open before any close goes on.)
 */
static void cancel_all(struct soak_pool *sps, unsigned n)
{
	for (unsigned p = 0; p < n; p++) {
		cfgpool_pool_stats_t ps;

		cfgpool_pool_stats(sps[p].pool, &ps, NULL, 0);
		if (ps.queue_high_water > sps[p].max_queue)
			sps[p].max_queue = ps.queue_high_water;
		start(&sps[p].closer, closer_main, &sps[p]);
	}
	for (unsigned p = 0; p < n; p++) {
		for (int k = 0; k < 2; k++)
			join(sps[p].sub[k].thread);
		stop_reloader(&sps[p]);
	}
	for (unsigned p = 0; p < n; p++)
		atomic_store_explicit(&sps[p].gate, false, memory_order_release);
	for (unsigned p = 0; p < n; p++) {
		join(sps[p].closer);
		if (sps[p].close_rc != 0)
			violation("pool %u: close returned %s", p, cfgpool_err_name(sps[p].close_rc));
		check_phase2(&sps[p]);
	}
}

/* Phase 2's counts, once the pool is closed. */
static void check_phase2(struct soak_pool *sp)
{
	uint64_t accepted = 0, called = 0, cancelled = 0;

	sp->pool = NULL;
	for (int k = 0; k < 2; k++) {
		struct submitter *s = &sp->sub[k];

		if (atomic_load(&s->callbacks) != s->submits)
			violation("pool %u: %lu callbacks for %llu accepted submits after close", sp->index,
				  atomic_load(&s->callbacks), (unsigned long long)s->submits);
		for (size_t i = s->first; i < s->first + s->count; i++) {
			unsigned n = atomic_load(&sp->done[i]);

			if (n != (i < s->first + s->next ? 1u : 0u))
				violation("pool %u: phase-2 task %zu completed %u times", sp->index, i, n);
		}
		accepted += s->next;
		called += s->callbacks;
		cancelled += s->cancelled;
	}
	if (accepted == 0 || called == 0)
		violation("pool %u: phase 2 ran nothing", sp->index);
	if (cancelled == 0)
		violation("pool %u: the close cancelled nothing: nothing was queued when it started", sp->index);
}

static uint64_t parse_count(const char *opt, const char *s)
{
	char *end;
	double v;

	if (s == NULL)
		violation("%s needs a value", opt);
	v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= 0))
		violation("%s: not a number: %s", opt, s);
	return (uint64_t)v;
}

int main(int argc, char **argv)
{
	uint64_t tasks = test_scaled(1000000, 1000), npools = 1, seconds = 0;
	uint64_t maps = 0, map_tasks = 0, submits = 0, refused = 0, retries = 0, accepted2 = 0, cancelled = 0;
	uint64_t reloads_ok = 0, reloads_failed = 0, sync = 0, async = 0;
	uint64_t versions = 0, versions_seen = 0, max_queue = 0, retired = 0, freed = 0, ran = 0;
	double t0, elapsed;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tasks") == 0)
			tasks = parse_count(argv[i], argv[i + 1]), i++;
		else if (strcmp(argv[i], "--pools") == 0)
			npools = parse_count(argv[i], argv[i + 1]), i++;
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = parse_count(argv[i], argv[i + 1]), i++;
		else {
			fprintf(stderr, "usage: %s [--tasks N] [--pools K] [--seconds S]\n", argv[0]);
			return 64;
		}
	}
	if (npools < 1 || npools > MAX_POOLS || tasks < 2 * npools)
		violation("--pools must be 1..%d and --tasks at least 2 per pool", MAX_POOLS);
	signal(SIGALRM, on_alarm);
	alarm(test_timeout_seconds(600.0 + 3.0 * (double)seconds));

	t0 = now_s();
	for (unsigned p = 0; p < npools; p++)
		open_pool(&pools[p], p, tasks / npools + (p < tasks % npools));
	/* From here: filling the slots of a large --tasks is not the soak's time. */
	if (seconds > 0)
		deadline = now_s() + (double)seconds;
	for (unsigned p = 0; p < npools; p++) {
		start_reloader(&pools[p]);
		start_submitters(&pools[p], false);
	}
	for (unsigned p = 0; p < npools; p++) {
		for (int k = 0; k < 2; k++)
			join(pools[p].sub[k].thread);
		check_phase1(&pools[p]);
	}

	/* Phase 2: every pool queueing longer tasks, reloads going on, then cancel. */
	for (unsigned p = 0; p < npools; p++) {
		for (int k = 0; k < 2; k++) {
			struct submitter *s = &pools[p].sub[k];

			maps += s->maps;
			map_tasks += s->map_tasks;
			submits += s->submits;
			ran += s->next;
			s->maps = s->map_tasks = s->submits = 0;
			atomic_store(&s->callbacks, 0);
		}
		atomic_store(&pools[p].gate, true);
		start_reloader(&pools[p]);
		start_submitters(&pools[p], true);
	}
	{
		struct timespec ts = {0, 50000000};

		nanosleep(&ts, NULL);
	}
	cancel_all(pools, (unsigned)npools);
	elapsed = now_s() - t0;

	if (atomic_load(&probe_counts.prepared) != atomic_load(&probe_counts.released) ||
	    atomic_load(&probe_counts.bad_release) != 0)
		violation("%lu blocks prepared, %lu released, %lu released twice", atomic_load(&probe_counts.prepared),
			  atomic_load(&probe_counts.released), atomic_load(&probe_counts.bad_release));
	if (atomic_load(&probe_counts.inits) != atomic_load(&probe_counts.finis) ||
	    atomic_load(&probe_counts.bad_fini) != 0)
		violation("%lu worker states made, %lu freed, %lu freed twice", atomic_load(&probe_counts.inits),
			  atomic_load(&probe_counts.finis), atomic_load(&probe_counts.bad_fini));
	if (deadline == 0 && ran != tasks)
		violation("%llu of %llu tasks ran", (unsigned long long)ran, (unsigned long long)tasks);

	for (unsigned p = 0; p < npools; p++) {
		struct soak_pool *sp = &pools[p];

		reloads_ok += sp->reloads_ok;
		reloads_failed += sp->reloads_failed;
		sync += sp->reloads_sync;
		async += sp->reloads_async;
		versions += sp->versions;
		versions_seen += sp->versions_seen;
		retired += sp->retired;
		freed += sp->freed;
		if (sp->max_queue > max_queue)
			max_queue = sp->max_queue;
		for (int k = 0; k < 2; k++) {
			refused += sp->sub[k].refused;
			retries += sp->sub[k].nonblock_retries;
			accepted2 += sp->sub[k].next;
			cancelled += sp->sub[k].cancelled;
		}
	}
	printf("{\"pools\": %llu, \"tasks\": %llu, \"maps\": %llu, \"map_tasks\": %llu, \"submits\": %llu, "
	       "\"reloads_ok\": %llu, \"reloads_failed\": %llu, \"reloads_sync\": %llu, \"reloads_async\": %llu, "
	       "\"versions\": %llu, \"versions_seen\": %llu, \"max_queue\": %llu, \"retired\": %llu, "
	       "\"freed\": %llu, \"phase2_accepted\": %llu, \"phase2_refused\": %llu, \"phase2_queue_full\": %llu, "
	       "\"cancelled\": %llu, \"elapsed_s\": %.3f}\n",
	       (unsigned long long)npools, (unsigned long long)ran, (unsigned long long)maps,
	       (unsigned long long)map_tasks, (unsigned long long)submits, (unsigned long long)reloads_ok,
	       (unsigned long long)reloads_failed, (unsigned long long)sync, (unsigned long long)async,
	       (unsigned long long)versions, (unsigned long long)versions_seen, (unsigned long long)max_queue,
	       (unsigned long long)retired, (unsigned long long)freed, (unsigned long long)accepted2,
	       (unsigned long long)refused, (unsigned long long)retries, (unsigned long long)cancelled, elapsed);
	for (unsigned p = 0; p < npools; p++) {
		free(pools[p].in);
		free(pools[p].out);
		free((void *)pools[p].done);
		free(pools[p].floor);
		free((void *)pools[p].seen);
	}
	return 0;
}
