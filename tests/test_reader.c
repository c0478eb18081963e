/*
 * The inline read-side API of <cfgpool/holder.h> (CFGPOOL_INLINE_READ):
 * cfgpool_holder_read_begin_inline(), cfgpool_holder_read_end_inline() and
 * cfgpool_holder_current_inline(). Each sentence of its contract has a case here: the same
 * snapshot as the calls, nesting in any mix with them, every "inside a section" refusal of
 * the library seen for inline sections too, registration on first use (and a thread the
 * host registered with liburcu itself left as it is), sections that a synchronous reload, a
 * barrier and the reclaim thread wait for, readers hammered by a reloader (every read sees
 * one whole version, never a freed one), thread exit inside a section, and fork().
 *
 * Every holder runs a preparer whose block holds the document's "a" and a magic word that
 * its release poisons before freeing, so a snapshot freed too early shows even without
 * ASan. cmocka's assertions stay on the main thread: other threads record failures in
 * atomics.
 */
#define _GNU_SOURCE
#define CFGPOOL_INLINE_READ

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#include <urcu/urcu-memb.h> /* the host's own registration, without _LGPL_SOURCE */

#define BLOCK_LIVE 0x4c495645u
#define BLOCK_DEAD 0xdeadbeefu

struct block {
	atomic_uint magic;
	int64_t a;
};

static atomic_uint_fast64_t n_prepared, n_released;

static int block_prepare(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg)
{
	struct block *b = malloc(sizeof(*b));

	(void)arg;
	if (b == NULL)
		return cfgpool_error_set(err, -ENOMEM, NULL, "out of memory");
	atomic_init(&b->magic, BLOCK_LIVE);
	b->a = -1;
	(void)cfgpool_get_int(root, "a", &b->a);
	*params = b;
	atomic_fetch_add_explicit(&n_prepared, 1, memory_order_relaxed);
	return 0;
}

/* Runs after a grace period: no section can still see the block. */
static void block_release(void *params, void *arg)
{
	struct block *b = params;

	(void)arg;
	atomic_store_explicit(&b->magic, BLOCK_DEAD, memory_order_relaxed);
	free(b);
	/* Release: pairs with the acquire in released(). */
	atomic_fetch_add_explicit(&n_released, 1, memory_order_release);
}

static uint64_t released(void)
{
	return atomic_load_explicit(&n_released, memory_order_acquire);
}

static const cfgpool_prep_t preps[] = {{"block", block_prepare, block_release, NULL}};
static const cfgpool_load_opts_t opts = {.preps = preps, .nprep = 1};

static cfgpool_holder_t *new_holder(void)
{
	cfgpool_holder_t *h = NULL;

	assert_int_equal(cfgpool_holder_create(&opts, &h), 0);
	return h;
}

/* {"a": a, "b": [a, a, a], "c": {"d": a}, "pad": "p...d"}: a whole version has a everywhere. */
static size_t make_doc(char *buf, size_t size, int64_t a)
{
	size_t pad = (size_t)(a % 61) + 16;
	int n = snprintf(buf, size, "{\"a\": %lld, \"b\": [%lld, %lld, %lld], \"c\": {\"d\": %lld}, \"pad\": \"p",
			 (long long)a, (long long)a, (long long)a, (long long)a, (long long)a);

	assert_true(n > 0 && (size_t)n + pad + 8 < size);
	memset(buf + n, 'x', pad - 2);
	n += (int)pad - 2;
	n += snprintf(buf + n, size - (size_t)n, "d\"}");
	return (size_t)n;
}

static int reload(cfgpool_holder_t *h, int64_t a, unsigned flags)
{
	char doc[256];
	size_t len = make_doc(doc, sizeof(doc), a);

	return cfgpool_holder_reload_string(h, doc, len, flags, NULL, NULL);
}

/* 0 when `snap` is one whole, live version whose "a" is *a_out; else what is wrong. */
static const char *check_whole(const cfgpool_config_t *snap, int64_t *a_out)
{
	const cfgpool_node_t *root = cfgpool_config_root(snap);
	const struct block *blk = cfgpool_config_params(snap, 0);
	const char *pad = NULL;
	size_t pad_len = 0;
	int64_t a = -1, x = -2;

	if (blk == NULL || atomic_load_explicit(&blk->magic, memory_order_relaxed) != BLOCK_LIVE)
		return "parameter block freed";
	if (cfgpool_get_int(root, "a", &a) != 0 || a != blk->a || (uint64_t)a != cfgpool_config_version(snap))
		return "a differs from the block or the version";
	for (size_t i = 0; i < 3; i++) {
		char path[8];

		snprintf(path, sizeof(path), "b[%zu]", i);
		if (cfgpool_get_int(root, path, &x) != 0 || x != a)
			return "b[i] differs from a";
	}
	if (cfgpool_get_int(root, "c.d", &x) != 0 || x != a)
		return "c.d differs from a";
	if (cfgpool_get_string(root, "pad", &pad, &pad_len) != 0 || pad_len != (size_t)(a % 61) + 16 || pad[0] != 'p' ||
	    pad[pad_len - 1] != 'd')
		return "pad damaged";
	*a_out = a;
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* --- the contract, one sentence at a time ---------------------------------------------------- */

static void inline_and_call_return_the_same_snapshot(void **state)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *a, *b;

	(void)state;
	/* NULL before the first publish, as read_begin. */
	assert_null(cfgpool_holder_read_begin_inline(h));
	cfgpool_holder_read_end_inline(h);
	assert_int_equal(reload(h, 1, 0), 0);
	a = cfgpool_holder_read_begin_inline(h);
	b = cfgpool_holder_read_begin(h);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_int_equal(cfgpool_config_version(a), 1);
	cfgpool_holder_read_end(h);
	cfgpool_holder_read_end_inline(h);
	cfgpool_holder_destroy(h);
}

/* Sections of both forms nest in any mix; the thread is inside a section until the last
 * end: a synchronous reload is -EBUSY inside, and works once every section has ended. */
static void sections_nest_in_any_mix_with_the_calls(void **state)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *outer, *p;

	(void)state;
	assert_int_equal(reload(h, 1, 0), 0);
	outer = cfgpool_holder_read_begin_inline(h);
	p = cfgpool_holder_read_begin(h);
	assert_ptr_equal(p, outer);
	p = cfgpool_holder_read_begin_inline(h);
	assert_ptr_equal(p, outer);
	assert_int_equal(reload(h, 2, CFGPOOL_RELOAD_SYNC), -EBUSY);
	cfgpool_holder_read_end_inline(h);
	assert_int_equal(reload(h, 2, CFGPOOL_RELOAD_SYNC), -EBUSY);
	cfgpool_holder_read_end(h);
	assert_int_equal(cfgpool_holder_barrier(h), -EBUSY);
	/* An asynchronous reload inside: the outer snapshot stays intact. */
	assert_int_equal(reload(h, 2, 0), 0);
	assert_int_equal(cfgpool_holder_version(h), 2);
	assert_int_equal(cfgpool_config_version(outer), 1);
	cfgpool_holder_read_end_inline(h);
	/* The last end: outside now. */
	assert_int_equal(cfgpool_holder_barrier(h), 0);
	assert_int_equal(reload(h, 3, CFGPOOL_RELOAD_SYNC), 0);
	cfgpool_holder_destroy(h);
}

/* A thread that never called cfgpool_reader_register(): its first inline section registers
 * it, and that section holds a synchronous reload on another thread back. */
struct holdup {
	cfgpool_holder_t *h;
	atomic_int stage; /* 1: in the section; 2: the main thread saw the reload still waiting */
	atomic_bool freed_while_inside;
	int64_t a_seen;
};

static void *holdup_main(void *arg)
{
	struct holdup *u = arg;
	const cfgpool_config_t *snap = cfgpool_holder_read_begin_inline(u->h);
	const struct block *blk = cfgpool_config_params(snap, 0);

	atomic_store(&u->stage, 1);
	while (atomic_load(&u->stage) != 2)
		sleep_ms(1);
	/* The reload has been waiting for this section: the block must still be live. */
	if (atomic_load_explicit(&blk->magic, memory_order_relaxed) != BLOCK_LIVE || released() != 0)
		atomic_store(&u->freed_while_inside, true);
	(void)cfgpool_get_int(cfgpool_config_root(snap), "a", &u->a_seen);
	cfgpool_holder_read_end_inline(u->h);
	return NULL;
}

struct sync_reloader {
	cfgpool_holder_t *h;
	atomic_bool done;
	int rc;
};

static void *sync_reloader_main(void *arg)
{
	struct sync_reloader *s = arg;

	s->rc = reload(s->h, 2, CFGPOOL_RELOAD_SYNC);
	atomic_store(&s->done, true);
	return NULL;
}

static void sync_reload_waits_for_an_inline_section_that_registered_its_thread(void **state)
{
	struct holdup u = {.a_seen = -1};
	struct sync_reloader s = {0};
	pthread_t reader, reloader;

	(void)state;
	alarm(test_timeout_seconds(60));
	atomic_store(&n_released, 0);
	u.h = s.h = new_holder();
	assert_int_equal(reload(u.h, 1, 0), 0);
	assert_int_equal(pthread_create(&reader, NULL, holdup_main, &u), 0);
	while (atomic_load(&u.stage) != 1)
		sleep_ms(1);
	assert_int_equal(pthread_create(&reloader, NULL, sync_reloader_main, &s), 0);
	/* Give the reload every chance to return early (it must not). */
	sleep_ms(100);
	assert_false(atomic_load(&s.done));
	assert_int_equal(released(), 0);
	atomic_store(&u.stage, 2);
	assert_int_equal(pthread_join(reader, NULL), 0);
	assert_int_equal(pthread_join(reloader, NULL), 0);
	assert_int_equal(s.rc, 0);
	assert_false(atomic_load(&u.freed_while_inside));
	assert_int_equal(u.a_seen, 1);
	/* The synchronous reload freed version 1 before returning. */
	assert_int_equal(released(), 1);
	cfgpool_holder_destroy(u.h);
	alarm(0);
}

/* The reclaim thread's grace period (asynchronous reloads, barrier) waits for inline
 * sections too. */
static void barrier_waits_for_an_inline_section(void **state)
{
	struct holdup u = {.a_seen = -1};
	pthread_t reader;

	(void)state;
	alarm(test_timeout_seconds(60));
	atomic_store(&n_released, 0);
	u.h = new_holder();
	assert_int_equal(reload(u.h, 1, 0), 0);
	assert_int_equal(pthread_create(&reader, NULL, holdup_main, &u), 0);
	while (atomic_load(&u.stage) != 1)
		sleep_ms(1);
	assert_int_equal(reload(u.h, 2, 0), 0); /* retires version 1 to the reclaim thread */
	sleep_ms(100);
	assert_int_equal(released(), 0);
	atomic_store(&u.stage, 2);
	assert_int_equal(pthread_join(reader, NULL), 0);
	assert_int_equal(cfgpool_holder_barrier(u.h), 0);
	assert_int_equal(released(), 1);
	assert_false(atomic_load(&u.freed_while_inside));
	cfgpool_holder_destroy(u.h);
	alarm(0);
}

/* --- hammering ------------------------------------------------------------------------------ */

struct hammer {
	cfgpool_holder_t *h;
	atomic_bool stop;
	atomic_uint_fast64_t errors, reads;
	atomic_flag reported;
	char first_error[160];
};

struct hammer_reader {
	struct hammer *m;
	pthread_t thread;
	unsigned style; /* 0: inline; 1: inline nested in a call; 2: call nested in inline */
	atomic_uint_fast64_t reads;
};

static void hammer_error(struct hammer *m, const char *what, int64_t a)
{
	atomic_fetch_add(&m->errors, 1);
	if (!atomic_flag_test_and_set(&m->reported))
		snprintf(m->first_error, sizeof(m->first_error), "version %lld: %s", (long long)a, what);
}

static void *hammer_main(void *arg)
{
	struct hammer_reader *r = arg;
	struct hammer *m = r->m;
	int64_t last = 0;

	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		const cfgpool_config_t *snap, *inner = NULL;
		const char *why;
		int64_t a = -1, a2 = -1;

		if (r->style == 1)
			(void)cfgpool_holder_read_begin(m->h);
		snap = cfgpool_holder_read_begin_inline(m->h);
		if (r->style == 2)
			inner = cfgpool_holder_read_begin(m->h);
		why = check_whole(snap, &a);
		if (why != NULL)
			hammer_error(m, why, a);
		else if (a < last)
			hammer_error(m, "versions went back", a);
		/* The outer snapshot is unchanged after everything above, and whole once more. */
		if (why == NULL && (check_whole(snap, &a2) != NULL || a2 != a))
			hammer_error(m, "the snapshot changed inside its section", a);
		if (inner != NULL && cfgpool_config_version(inner) < (uint64_t)a)
			hammer_error(m, "a nested section saw an older version", a);
		if (r->style == 2)
			cfgpool_holder_read_end(m->h);
		cfgpool_holder_read_end_inline(m->h);
		if (r->style == 1)
			cfgpool_holder_read_end(m->h);
		last = a;
		atomic_fetch_add_explicit(&r->reads, 1, memory_order_relaxed);
	}
	return NULL;
}

#define NHAMMER 4

static void hammer(unsigned flags, size_t n)
{
	struct hammer m = {.reported = ATOMIC_FLAG_INIT};
	struct hammer_reader readers[NHAMMER];
	uint64_t total = 0, prepared0 = atomic_load(&n_prepared), released0;

	alarm(test_timeout_seconds(120));
	atomic_store(&n_released, 0);
	m.h = new_holder();
	assert_int_equal(reload(m.h, 1, 0), 0);
	for (int i = 0; i < NHAMMER; i++) {
		readers[i].m = &m;
		readers[i].style = (unsigned)i % 3;
		atomic_init(&readers[i].reads, 0);
		assert_int_equal(pthread_create(&readers[i].thread, NULL, hammer_main, &readers[i]), 0);
	}
	/* Every reader reads before the reloads start, so they overlap even under valgrind. */
	for (int i = 0; i < NHAMMER; i++)
		while (atomic_load(&readers[i].reads) == 0)
			sched_yield();
	for (size_t k = 2; k <= n; k++)
		if (reload(m.h, (int64_t)k, (k % 4 == 0) ? flags : 0) != 0)
			hammer_error(&m, "reload failed", (int64_t)k);
	atomic_store(&m.stop, true);
	for (int i = 0; i < NHAMMER; i++) {
		assert_int_equal(pthread_join(readers[i].thread, NULL), 0);
		total += atomic_load(&readers[i].reads);
	}
	print_message("# %zu reloads against %d inline readers: %llu reads\n", n, NHAMMER, (unsigned long long)total);
	if (atomic_load(&m.errors) != 0)
		print_error("%llu errors; first: %s\n", (unsigned long long)atomic_load(&m.errors), m.first_error);
	assert_int_equal(atomic_load(&m.errors), 0);
	assert_int_equal(cfgpool_holder_barrier(m.h), 0);
	released0 = released();
	assert_int_equal(released0, n - 1);
	cfgpool_holder_destroy(m.h);
	assert_int_equal(atomic_load(&n_prepared) - prepared0, n);
	assert_int_equal(released(), n);
	alarm(0);
}

static void inline_readers_see_whole_versions_under_async_reloads(void **state)
{
	(void)state;
	hammer(0, test_scaled(4000, 40));
}

static void inline_readers_see_whole_versions_under_sync_reloads(void **state)
{
	(void)state;
	hammer(CFGPOOL_RELOAD_SYNC, test_scaled(2000, 20));
}

/* --- threads that go away, fork, limits ------------------------------------------------------ */

static void *exit_inside_main(void *arg)
{
	(void)cfgpool_holder_read_begin_inline(arg);
	return NULL; /* a bug: the section never ends; the exit drops the registration */
}

static void thread_exit_inside_a_section_does_not_block_grace_periods(void **state)
{
	cfgpool_holder_t *h = new_holder();
	pthread_t t;

	(void)state;
	alarm(test_timeout_seconds(30));
	assert_int_equal(reload(h, 1, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, exit_inside_main, h), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	/* Would wait forever for the dead thread's section (SIGALRM ends the test). */
	assert_int_equal(reload(h, 2, CFGPOOL_RELOAD_SYNC), 0);
	assert_int_equal(cfgpool_holder_barrier(h), 0);
	cfgpool_holder_destroy(h);
	alarm(0);
}

struct parked {
	cfgpool_holder_t *h;
	atomic_int stage; /* 1: inside its section; 2: may leave */
};

static void *parked_main(void *arg)
{
	struct parked *p = arg;

	(void)cfgpool_holder_read_begin_inline(p->h);
	atomic_store(&p->stage, 1);
	while (atomic_load(&p->stage) != 2)
		sleep_ms(1);
	cfgpool_holder_read_end_inline(p->h);
	return NULL;
}

/*
 * In a child forked while another thread sits inside a section and the forking thread is in
 * one too: inline sections on the parent's holder keep reading its copy and nest with the
 * calls, the section open at fork is still open in the child, and the holder refuses what
 * needs its threads (CFGPOOL_EFORKED). The child starts no thread (ThreadSanitizer refuses
 * that after a multi-threaded fork) and runs no grace period (liburcu's copy of the
 * registry still holds the parked thread, frozen inside its section).
 */
static int child_after_fork(cfgpool_holder_t *parent_h, const cfgpool_config_t *open_snap)
{
	const cfgpool_config_t *snap, *inner;
	int64_t a = -1;

	snap = cfgpool_holder_read_begin_inline(parent_h);
	inner = cfgpool_holder_read_begin(parent_h);
	if (snap != open_snap || inner != snap || check_whole(snap, &a) != NULL || a != 1)
		return 10;
	if (cfgpool_holder_current_inline(parent_h) != snap)
		return 11;
	cfgpool_holder_read_end(parent_h);
	cfgpool_holder_read_end_inline(parent_h);
	if (reload(parent_h, 2, 0) != CFGPOOL_EFORKED || cfgpool_holder_barrier(parent_h) != CFGPOOL_EFORKED ||
	    cfgpool_holder_version(parent_h) != 1)
		return 12;
	/* The section open at fork is still open here, and ends with its read_end. */
	if (!urcu_memb_read_ongoing())
		return 13;
	cfgpool_holder_read_end_inline(parent_h);
	if (urcu_memb_read_ongoing())
		return 14;
	return 0;
}

static void inline_sections_work_in_a_forked_child(void **state)
{
	struct parked p = {0};
	const cfgpool_config_t *open_snap;
	pthread_t t;
	pid_t pid;
	int status = 0;

	(void)state;
	alarm(test_timeout_seconds(60));
	p.h = new_holder();
	assert_int_equal(reload(p.h, 1, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, parked_main, &p), 0);
	while (atomic_load(&p.stage) != 1)
		sleep_ms(1);
	open_snap = cfgpool_holder_read_begin_inline(p.h);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_after_fork(p.h, open_snap));
	cfgpool_holder_read_end_inline(p.h);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	atomic_store(&p.stage, 2);
	assert_int_equal(pthread_join(t, NULL), 0);
	/* The parent's own grace periods are unaffected. */
	assert_int_equal(reload(p.h, 2, CFGPOOL_RELOAD_SYNC), 0);
	cfgpool_holder_destroy(p.h);
	alarm(0);
}

/* --- registration ------------------------------------------------------------------------------ */

static bool urcu_registered(void)
{
	return URCU_TLS(urcu_memb_reader).registered;
}

struct first_use {
	cfgpool_holder_t *h;
	bool before, after, same;
};

static void *first_use_main(void *arg)
{
	struct first_use *u = arg;
	const cfgpool_config_t *snap;

	u->before = urcu_registered();
	snap = cfgpool_holder_read_begin_inline(u->h); /* the out-of-line registration */
	u->after = urcu_registered();
	u->same = snap == cfgpool_holder_current_inline(u->h);
	cfgpool_holder_read_end_inline(u->h);
	return NULL;
}

/* A new thread is not registered; its first inline section registers it and is a section. */
static void the_first_inline_section_registers_the_thread(void **state)
{
	struct first_use u = {0};
	pthread_t t;

	(void)state;
	u.h = new_holder();
	assert_int_equal(reload(u.h, 1, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, first_use_main, &u), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(u.before);
	assert_true(u.after);
	assert_true(u.same);
	cfgpool_holder_destroy(u.h);
}

struct host_registered {
	cfgpool_holder_t *h;
	int rc, version;
	bool kept_after_unregister, in_section;
};

/*
 * The host registers the thread with liburcu itself and unregisters it before it exits.
 * Were cfgpool to register it again, or to drop the host's registration (in unregister or
 * at exit), liburcu would abort on the double registration or the double unregistration.
 */
static void *host_registered_main(void *arg)
{
	struct host_registered *r = arg;
	const cfgpool_config_t *snap;

	urcu_memb_register_thread();
	r->rc = cfgpool_reader_register();
	snap = cfgpool_holder_read_begin_inline(r->h);
	r->in_section = urcu_memb_read_ongoing() != 0;
	r->version = (int)cfgpool_config_version(snap);
	cfgpool_holder_read_end_inline(r->h);
	snap = cfgpool_holder_read_begin(r->h);
	cfgpool_holder_read_end(r->h);
	cfgpool_reader_unregister(); /* not cfgpool's registration: left alone */
	r->kept_after_unregister = urcu_registered();
	urcu_memb_unregister_thread();
	return NULL;
}

static void a_thread_the_host_registered_is_used_as_it_is(void **state)
{
	struct host_registered r = {0};
	pthread_t t;

	(void)state;
	r.h = new_holder();
	assert_int_equal(reload(r.h, 1, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, host_registered_main, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.rc, 0);
	assert_true(r.in_section);
	assert_int_equal(r.version, 1);
	assert_true(r.kept_after_unregister);
	/* Grace periods still work: the registry is whole. */
	assert_int_equal(reload(r.h, 2, CFGPOOL_RELOAD_SYNC), 0);
	cfgpool_holder_destroy(r.h);
}

/* --- the library's "inside a section" rules see inline sections -------------------------------- */

static const char spin_doc[] = "{\"kernel\": {\"name\": \"spin\"}, \"pool\": {\"workers\": 1, \"pin\": false}}";

static cfgpool_pool_t *open_spin(void)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_open_string(spin_doc, strlen(spin_doc), NULL, NULL, &pool, &err), 0);
	return pool;
}

static void refusals_inside_an_inline_section(void **state)
{
	cfgpool_holder_t *h = new_holder();
	cfgpool_pool_t *pool = open_spin();
	const cfgpool_holder_t *ph = cfgpool_pool_holder(pool);
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;

	(void)state;
	assert_int_equal(reload(h, 1, 0), 0);
	assert_int_equal(load_str_opts("{\"a\": 2}", &opts, &cfg, &err), 0);
	assert_non_null(cfgpool_holder_read_begin_inline(ph));
	assert_int_equal(cfgpool_holder_publish(h, cfg, CFGPOOL_RELOAD_SYNC, NULL), -EBUSY);
	assert_int_equal(cfgpool_holder_barrier(h), -EBUSY);
	assert_int_equal(cfgpool_pool_reload_string(pool, spin_doc, strlen(spin_doc), CFGPOOL_RELOAD_SYNC, NULL, &err),
			 -EBUSY);
	assert_int_equal(cfgpool_pool_shutdown(pool), -EDEADLK);
	cfgpool_holder_read_end_inline(ph);
	/* Outside again: the same calls go through. */
	assert_int_equal(cfgpool_holder_publish(h, cfg, CFGPOOL_RELOAD_SYNC, NULL), 0);
	assert_int_equal(cfgpool_holder_barrier(h), 0);
	assert_int_equal(cfgpool_pool_shutdown(pool), 0);
	assert_int_equal(cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN), 0);
	cfgpool_holder_destroy(h);
}

/*
 * Runs `what` in a child inside an inline section; the child must abort saying `message`.
 * The test process has no other thread at this fork, so the child may start the pool's.
 */
static void aborts_inside_an_inline_section(void (*what)(cfgpool_pool_t *), const char *message)
{
	int fds[2], status = 0;
	char buf[512] = {0};
	ssize_t got, len = 0;
	pid_t pid;

	alarm(test_timeout_seconds(30));
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cfgpool_pool_t *pool = open_spin();

		dup2(fds[1], 2);
		close(fds[0]);
		(void)cfgpool_holder_read_begin_inline(cfgpool_pool_holder(pool));
		what(pool);
		_exit(20);
	}
	close(fds[1]);
	while ((got = read(fds[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += got;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_contains(buf, message);
	alarm(0);
}

static void close_pool(cfgpool_pool_t *pool)
{
	(void)cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

static void unregister_reader(cfgpool_pool_t *pool)
{
	(void)pool;
	cfgpool_reader_unregister();
}

static void pool_close_inside_an_inline_section_aborts(void **state)
{
	(void)state;
	aborts_inside_an_inline_section(close_pool, "cfgpool_pool_close() from inside");
}

static void unregister_inside_an_inline_section_aborts(void **state)
{
	(void)state;
	aborts_inside_an_inline_section(unregister_reader, "cfgpool_reader_unregister() inside a read-side section");
}

/* current_inline inside a section sees a newer publish; the section's own snapshot stays. */
static void current_inline_sees_the_newest_snapshot(void **state)
{
	cfgpool_holder_t *h = new_holder();
	const cfgpool_config_t *snap, *now;
	int64_t a = -1;

	(void)state;
	assert_int_equal(reload(h, 1, 0), 0);
	snap = cfgpool_holder_read_begin_inline(h);
	assert_ptr_equal(cfgpool_holder_current_inline(h), snap);
	assert_int_equal(reload(h, 2, 0), 0);
	now = cfgpool_holder_current_inline(h);
	assert_ptr_not_equal(now, snap);
	assert_null(check_whole(now, &a));
	assert_int_equal(a, 2);
	assert_null(check_whole(snap, &a));
	assert_int_equal(a, 1);
	cfgpool_holder_read_end_inline(h);
	cfgpool_holder_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(inline_and_call_return_the_same_snapshot),
	    cmocka_unit_test(sections_nest_in_any_mix_with_the_calls),
	    cmocka_unit_test(sync_reload_waits_for_an_inline_section_that_registered_its_thread),
	    cmocka_unit_test(barrier_waits_for_an_inline_section),
	    cmocka_unit_test(inline_readers_see_whole_versions_under_async_reloads),
	    cmocka_unit_test(inline_readers_see_whole_versions_under_sync_reloads),
	    cmocka_unit_test(thread_exit_inside_a_section_does_not_block_grace_periods),
	    cmocka_unit_test(inline_sections_work_in_a_forked_child),
	    cmocka_unit_test(the_first_inline_section_registers_the_thread),
	    cmocka_unit_test(a_thread_the_host_registered_is_used_as_it_is),
	    cmocka_unit_test(refusals_inside_an_inline_section),
	    cmocka_unit_test(pool_close_inside_an_inline_section_aborts),
	    cmocka_unit_test(unregister_inside_an_inline_section_aborts),
	    cmocka_unit_test(current_inline_sees_the_newest_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
