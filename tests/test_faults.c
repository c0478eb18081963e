/*
 * The `cfgpool` command under faults, end to end: killed with SIGKILL mid-stream (writing
 * to a file and into a pipe), a reader that closes its end early, a full disk (/dev/full,
 * and a 64 KiB tmpfs mounted in a private mount namespace when that is permitted), thread
 * creation refused at open and at reload and no memory for a batch's result lines
 * (tests/fault_shim.c preloaded), few file descriptors (RLIMIT_NOFILE set before exec), and
 * a storm of SIGHUP reloads alternating good and broken documents while lines stream.
 *
 * The inputs are spin's, {"id": K, "iterations": I} with K from 1, and every result line
 * is checked to be {"id": K, "config_version": V, "elapsed_us": T, "result": {...}} for
 * the K of its place. Spawning and collecting are tests/cli_helpers.h; counts scale with
 * CFGPOOL_TEST_SCALE and time limits with CFGPOOL_TEST_TIMEOUT_MULTIPLIER.
 */
#define _GNU_SOURCE

#include <sched.h>
#include <sys/mount.h>

#include <jansson.h>

#include "helpers.h"

#include "cli_helpers.h"

static const char spin_config[] = "{\"kernel\": {\"name\": \"spin\"}}\n";
/* A syntax error on line 1. */
static const char broken_config[] = "{\"kernel\": {\"name\": \"spin\",, }}\n";

/* n spin inputs with ids 1..n. */
static void spin_inputs(struct buf *b, size_t first, size_t n, unsigned iterations)
{
	for (size_t k = first; k < first + n; k++)
		buf_printf(b, "{\"id\": %zu, \"iterations\": %u}\n", k, iterations);
}

static const char *spin_config_file(char *path, size_t size)
{
	tmp_path(path, size, "spin.json");
	write_text(path, spin_config);
	return path;
}

/* What check_output() found. */
struct outcome {
	size_t whole;	  /* whole result lines, ids 1..whole */
	size_t cut;	  /* bytes of a last line without its newline */
	json_int_t first_version, last_version;
};

/*
 * Checks that `out` is the results of inputs 1..K, in order, each a whole successful line
 * with config_version between 1 and max_version and never going down; with cut_ok, a last
 * line without its newline is allowed if it is the start of input K+1's line.
 */
static struct outcome check_output(const char *out, size_t len, json_int_t max_version, bool cut_ok)
{
	struct outcome o = {0};
	const char *s = out, *end = out + len;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		json_error_t je;
		json_t *v, *res;
		json_int_t version;

		if (nl == NULL) {
			char want[64];
			size_t wlen = (size_t)snprintf(want, sizeof(want), "{\"id\":%zu,\"config_version\":", o.whole + 1);

			o.cut = (size_t)(end - s);
			if (!cut_ok || memcmp(s, want, o.cut < wlen ? o.cut : wlen) != 0) {
				print_error("output ends with a partial line after %zu whole ones: %.200s\n", o.whole, s);
				fail();
			}
			break;
		}
		v = json_loadb(s, (size_t)(nl - s), JSON_REJECT_DUPLICATES, &je);
		if (v == NULL || !json_is_object(v) || json_integer_value(json_object_get(v, "id")) != (json_int_t)o.whole + 1) {
			print_error("output line %zu is not the result of input %zu (%s): %.*s\n", o.whole + 1, o.whole + 1,
				    v ? "wrong id" : je.text, (int)(nl - s), s);
			fail();
		}
		res = json_object_get(v, "result");
		version = json_integer_value(json_object_get(v, "config_version"));
		if (!json_is_object(res) || json_object_get(v, "error") != NULL || version < 1 || version > max_version ||
		    version < o.last_version) {
			print_error("output line %zu: no result, or version %lld after %lld (at most %lld): %.*s\n",
				    o.whole + 1, (long long)version, (long long)o.last_version, (long long)max_version,
				    (int)(nl - s), s);
			fail();
		}
		if (o.whole == 0)
			o.first_version = version;
		o.last_version = version;
		json_decref(v);
		o.whole++;
		s = nl + 1;
	}
	return o;
}

/* The whole content of `path`, NUL-terminated. */
static void read_file(const char *path, struct buf *b)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	assert_true(fd >= 0);
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(b, chunk, (size_t)got);
	assert_true(got == 0);
	close(fd);
	buf_append(b, "", 0);
}

static void assert_killed_by(const struct proc *p, int sig)
{
	if (WIFSIGNALED(p->status) && WTERMSIG(p->status) == sig)
		return;
	print_error("cfgpool ended with wait status %#x, expected signal %d\n", p->status, sig);
	show_streams(p);
	fail();
}

/* The --stats object: the last line of stderr that starts with '{'. A new reference. */
static json_t *stats_of(const struct proc *p)
{
	const char *e = buf_str(&p->e), *at = NULL;
	json_error_t je;
	json_t *st;

	for (const char *s = e; (s = strchr(s, '{')) != NULL; s++) {
		if (s == e || s[-1] == '\n')
			at = s;
	}
	if (at == NULL) {
		print_error("no --stats object on stderr\n");
		show_streams(p);
		fail();
	}
	st = json_loadb(at, strcspn(at, "\n"), 0, &je);
	if (!json_is_object(st)) {
		print_error("--stats is not a JSON object (%s): %s\n", je.text, at);
		fail();
	}
	return st;
}

/* Occurrences of `needle` in `haystack`. */
static size_t count_of(const char *haystack, const char *needle)
{
	size_t n = 0;

	for (const char *s = haystack; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

/* ------------------------------------------------------------------------------------------ */
/* 1. SIGKILL mid-stream                                                                      */
/* ------------------------------------------------------------------------------------------ */

static off_t file_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

/*
 * Killed while it writes results to a file: the file holds the results of a whole prefix
 * of the inputs, in order, and at most the start of the next line.
 */
static void sigkill_writing_to_a_file(void **state)
{
	size_t rounds = test_scaled(6, 2), n = test_scaled(200000, 20000), cuts = 0;
	char cfg[PATH_MAX], out[PATH_MAX];
	struct buf in = {0};

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, n, 100);
	for (size_t r = 0; r < rounds; r++) {
		struct spawn_opts o = {.in = STDIN_PIPE};
		const char *args[] = {"run", "-c", cfg, "--batch", r % 2 ? "4096" : "64", NULL};
		off_t want = (off_t)(r + 1) * 40000;
		double deadline = deadline_in(20);
		struct buf b = {0};
		struct outcome res;
		struct proc *p;

		tmp_path(out, sizeof(out), "out.jsonl");
		o.out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		assert_true(o.out_fd > 0);
		p = spawn_with(&o, args);
		start_feeder(p, in.data, in.len, 0);
		while (file_size(o.out_fd) < want && still_running(p) && now_s() < deadline)
			sleep_s(0.0005);
		assert_true(still_running(p));
		assert_int_equal(kill(p->pid, SIGKILL), 0);
		finish(p, 10);
		close(o.out_fd);
		assert_killed_by(p, SIGKILL);
		read_file(out, &b);
		res = check_output(buf_str(&b), b.len, 1, true);
		print_message("# SIGKILL at %lld bytes of a file (batch %s): %zu whole lines, last line cut: %s\n",
			      (long long)b.len, args[4], res.whole, res.cut ? "yes" : "no");
		assert_true(res.whole > 0 && res.whole < n);
		cuts += res.cut > 0;
		buf_free(&b);
	}
	print_message("# %zu of %zu kills left a cut last line in the file\n", cuts, rounds);
	buf_free(&in);
}

/*
 * Killed while it writes into a pipe, once with the reader keeping up and once with the
 * reader stalled (cfgpool blocked inside a write): what the reader gets is a whole prefix
 * of the results and at most the start of the next line.
 */
static void sigkill_writing_to_a_pipe(void **state)
{
	size_t n = test_scaled(200000, 20000);
	char cfg[PATH_MAX];
	struct buf in = {0};

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, n, 100);
	for (int stalled = 0; stalled < 2; stalled++) {
		struct proc *p = spawn(STDIN_PIPE, "run", "-c", cfg, "--batch", "4096", NULL);
		struct outcome res;

		start_feeder(p, in.data, in.len, 0);
		if (stalled)
			wait_pipe_full(p, 20);
		else
			wait_lines(p, 5000, 20);
		assert_int_equal(kill(p->pid, SIGKILL), 0);
		finish(p, 10);
		assert_killed_by(p, SIGKILL);
		res = check_output(buf_str(&p->o), p->o.len, 1, true);
		print_message("# SIGKILL with the reader %s: %zu whole lines, last line cut: %s (%zu bytes)\n",
			      stalled ? "stalled" : "reading", res.whole, res.cut ? "yes" : "no", res.cut);
		assert_true(res.whole > 0 && res.whole < n);
	}
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. A reader that closes early                                                              */
/* ------------------------------------------------------------------------------------------ */

static void reader_closes_early(void **state)
{
	/* More than cfgpool's input buffer (1 MiB + 64 KiB) and a pipe hold, however scaled. */
	size_t n = test_scaled(200000, 100000), got;
	char cfg[PATH_MAX];
	struct buf in = {0};
	json_int_t written;
	struct feeder *f;
	struct proc *p;
	json_t *st;
	double t0;

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, n, 100);
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--batch", "256", "--stats", NULL);
	f = start_feeder(p, in.data, in.len, 0);
	wait_lines(p, 1000, 20);
	got = check_output(buf_str(&p->o), p->o.len, 1, true).whole;
	close(p->out);
	p->out = -1;
	t0 = now_s();
	finish(p, 10);
	print_message("# reader closed after %zu lines: exit status %d %.1f ms later; stderr: %s", got,
		      WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1, (now_s() - t0) * 1e3, buf_str(&p->e));
	/* Not killed by SIGPIPE: it says why and exits with the status for a failed output. */
	assert_exit_status(p, 1);
	assert_int_equal(count_of(buf_str(&p->e), "cfgpool: writing results: Broken pipe\n"), 1);
	/* It stopped reading too: the feeder never got to the end of its input (it met the
	 * closed pipe, or was stopped by finish() while its last write was cut short). */
	assert_true(atomic_load(&f->lines) < n);
	assert_true(atomic_load(&f->error) == 0 || atomic_load(&f->error) == EPIPE);
	st = stats_of(p);
	written = json_integer_value(json_object_get(st, "written"));
	assert_true(written >= (json_int_t)got && written < (json_int_t)n);
	json_decref(st);
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. A full disk                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* The count in the last progress line, "cfgpool: N inputs, R/s, E errors", on a terminal. */
static long progress_count(const struct proc *p)
{
	const char *e = buf_str(&p->e), *last = NULL;
	long count = -1;

	for (const char *s = e; (s = strstr(s, "cfgpool: ")) != NULL; s++) {
		if (strstr(s, " inputs, ") != NULL && s[9] >= '0' && s[9] <= '9')
			last = s;
	}
	if (last != NULL)
		count = strtol(last + 9, NULL, 10);
	return count;
}

/*
 * /dev/full as standard output: every write fails with ENOSPC. A clear message, status 1,
 * and neither the progress line (stderr on a terminal) nor --stats claims a line written.
 */
static void dev_full(void **state)
{
	size_t n = test_scaled(20000, 2000);
	char cfg[PATH_MAX], input[PATH_MAX];
	struct spawn_opts o = {.in = STDIN_NULL, .err_on_tty = true};
	const char *args[] = {"run", "-c", cfg, "--stats", input, NULL};
	struct buf in = {0};
	struct proc *p;
	json_t *st;

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, n, 100);
	write_file(tmp_path(input, sizeof(input), "in.jsonl"), in.data, in.len);
	o.out_fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	assert_true(o.out_fd > 0);
	p = spawn_with(&o, args);
	close(o.out_fd);
	finish(p, 20);
	print_message("# /dev/full: exit status %d; stderr: %s\n", WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1,
		      buf_str(&p->e));
	assert_exit_status(p, 1);
	assert_int_equal(count_of(buf_str(&p->e), "cfgpool: writing results: No space left on device"), 1);
	st = stats_of(p);
	assert_int_equal(json_integer_value(json_object_get(st, "written")), 0);
	json_decref(st);
	if (progress_count(p) != 0) {
		print_error("the progress line claims %ld inputs done, none of them written\n", progress_count(p));
		show_streams(p);
		fail();
	}
	buf_free(&in);
}

/*
 * A child that mounts a tmpfs of `size` bytes on `dir` in a mount namespace of its own
 * and holds it open through `path` inside it; the parent reaches the file through
 * /proc/PID/fd. Returns the child's descriptor number, or -errno when mounting is not
 * permitted; the mount goes with the last descriptor of the file.
 */
static int mount_small_tmpfs(const char *dir, const char *name, const char *size, struct proc **holder)
{
	int status[2], hold[2], fd = -1;
	struct proc *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(pipe2(status, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		char path[PATH_MAX + 64], opts[64];
		char c;
		int rc = 0;

		/* After fork this process has one thread, as unshare(CLONE_NEWNS) needs. */
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
		if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", dir, "tmpfs", 0, opts) != 0 ||
		    (rc = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0)
			rc = -errno;
		if (write(status[1], &rc, sizeof(rc)) != sizeof(rc))
			_exit(1);
		/* Holds the namespace until the parent has opened the file and closed its end. */
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(status[1]);
	close(hold[0]);
	p->in = hold[1];
	p->out = -1;
	p->err = -1;
	world.procs[world.nprocs++] = p;
	*holder = p;
	assert_int_equal(read(status[0], &fd, sizeof(fd)), sizeof(fd));
	close(status[0]);
	return fd;
}

/*
 * A 64 KiB tmpfs as the output's file system: it fills during a batch. A clear message,
 * status 1, and the file holds whole result lines only, exactly as many as --stats says
 * were written.
 */
static void small_tmpfs(void **state)
{
	size_t n = test_scaled(20000, 4000);
	char cfg[PATH_MAX], input[PATH_MAX], mnt[PATH_MAX], proc_path[64];
	struct spawn_opts o = {.in = STDIN_NULL};
	const char *args[] = {"run", "-c", cfg, "--stats", "--batch", "300", input, NULL};
	struct proc *holder, *p;
	struct outcome res;
	struct buf in = {0}, b = {0};
	json_int_t written;
	json_t *st;
	int fd;

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, n, 100);
	write_file(tmp_path(input, sizeof(input), "in.jsonl"), in.data, in.len);
	assert_int_equal(mkdir(tmp_path(mnt, sizeof(mnt), "tmpfs"), 0700), 0);
	fd = mount_small_tmpfs(mnt, "out.jsonl", "64k", &holder);
	if (fd < 0) {
		print_message("# cannot mount a tmpfs here (%s): only /dev/full is tested\n", strerror(-fd));
		finish(holder, 10);
		skip();
	}
	snprintf(proc_path, sizeof(proc_path), "/proc/%d/fd/%d", (int)holder->pid, fd);
	o.out_fd = open(proc_path, O_WRONLY | O_CLOEXEC);
	assert_true(o.out_fd > 0);
	finish(holder, 10);
	assert_exit_status(holder, 0);

	p = spawn_with(&o, args);
	finish(p, 20);
	print_message("# a 64 KiB tmpfs: exit status %d; stderr: %s\n",
		      WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1, buf_str(&p->e));
	assert_exit_status(p, 1);
	assert_int_equal(count_of(buf_str(&p->e), "cfgpool: writing results: No space left on device"), 1);
	/* Read back through the same open file: its mount is gone from every namespace. */
	assert_int_equal(lseek(o.out_fd, 0, SEEK_SET), 0);
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", o.out_fd);
	read_file(proc_path, &b);
	close(o.out_fd);
	res = check_output(buf_str(&b), b.len, 1, false);
	st = stats_of(p);
	written = json_integer_value(json_object_get(st, "written"));
	print_message("# %zu bytes in the file, %zu whole lines, --stats written %lld\n", b.len, res.whole,
		      (long long)written);
	assert_true(res.whole > 0 && res.whole < n);
	assert_int_equal(written, res.whole);
	json_decref(st);
	buf_free(&b);
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. Thread creation refused                                                                 */
/* ------------------------------------------------------------------------------------------ */

static struct proc *spawn_refusing_threads(enum stdin_mode mode, unsigned after, const char *const *args)
{
	return spawn_refusing(mode, "CFGPOOL_FAIL_THREADS_AFTER", after, args);
}

/*
 * Runs `cfgpool run` with 1, 2, ... threads allowed until it starts. Every run that could
 * not start must exit 2 with a message naming the cause and write nothing; returns the
 * number of threads `cfgpool run` creates before it reads its first line.
 */
static unsigned threads_at_open(const char *cfg, const char *input, size_t n, bool verbose)
{
	const char *args[] = {"run", "-c", cfg, input, NULL};

	for (unsigned after = 0; after < 256; after++) {
		struct proc *p = spawn_refusing_threads(STDIN_NULL, after, args);
		const char *e;

		finish(p, 20);
		e = buf_str(&p->e);
		if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0) {
			assert_int_equal(check_output(buf_str(&p->o), p->o.len, 1, false).whole, n);
			assert_int_equal(count_of(e, "refused"), 0);
			return after;
		}
		if (verbose)
			print_message("# %u threads allowed: exit %d, %s", after,
				      WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1,
				      strstr(e, "cfgpool: ") ? strstr(e, "cfgpool: ") : e);
		assert_exit_status(p, 2);
		assert_int_equal(p->o.len, 0);
		assert_int_equal(count_of(e, "fault_shim: pthread_create refused\n"), 1);
		/* The message is cfgpool's and names the cause, EAGAIN, whatever its case. */
		if (strstr(e, "\ncfgpool: ") == NULL || strcasestr(e, "resource temporarily unavailable") == NULL ||
		    strstr(e, "Success") != NULL) {
			print_error("with %u threads allowed, no clear message\n", after);
			show_streams(p);
			fail();
		}
		/* The pool's own threads (holder, workers) are the configuration's: named by file. */
		if (strstr(e, "signal handling") == NULL && strstr(e, cfg) == NULL) {
			print_error("with %u threads allowed, the message does not name %s\n", after, cfg);
			show_streams(p);
			fail();
		}
	}
	fail_msg("cfgpool run never started with up to 255 threads");
	return 0;
}

static void threads_refused_at_open(void **state)
{
	size_t n = 100;
	char cfg[PATH_MAX], input[PATH_MAX];
	struct buf in = {0};
	unsigned threads;

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, n, 100);
	write_file(tmp_path(input, sizeof(input), "in.jsonl"), in.data, in.len);
	threads = threads_at_open(cfg, input, n, true);
	print_message("# cfgpool run starts with %u threads\n", threads);
	/* The signal thread, the configuration holder's reclaim thread and one worker at least. */
	assert_true(threads >= 3);
	buf_free(&in);
}

/*
 * With every thread after those of open refused, SIGHUP reloads all the same (a good
 * document taken in, a broken one kept out) and every line is answered: a reload creates
 * no thread.
 */
static void reload_needs_no_thread(void **state)
{
	char cfg[PATH_MAX], input[PATH_MAX];
	struct buf in = {0};
	const char *args[] = {"run", "-c", cfg, "--linger-ms", "5", NULL};
	struct outcome res;
	unsigned threads;
	struct proc *p;

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, 10, 100);
	write_file(tmp_path(input, sizeof(input), "in.jsonl"), in.data, in.len);
	threads = threads_at_open(cfg, input, 10, false);
	buf_free(&in);

	p = spawn_refusing_threads(STDIN_PIPE, threads, args);
	spin_inputs(&in, 1, 100, 100);
	write_bytes(p, in.data, in.len);
	wait_lines(p, 100, 10);
	assert_int_equal(kill(p->pid, SIGHUP), 0);
	wait_stderr(p, "configuration version 2", 10);
	buf_free(&in);
	spin_inputs(&in, 101, 100, 100);
	write_bytes(p, in.data, in.len);
	wait_lines(p, 200, 10);
	replace_file(cfg, broken_config);
	assert_int_equal(kill(p->pid, SIGHUP), 0);
	wait_stderr(p, "reload failed, keeping configuration version 2", 10);
	buf_free(&in);
	spin_inputs(&in, 201, 100, 100);
	write_bytes(p, in.data, in.len);
	finish(p, 10);
	print_message("# %u threads allowed, all taken at open; stderr: %s", threads, buf_str(&p->e));
	assert_exit_status(p, 0);
	assert_int_equal(count_of(buf_str(&p->e), "refused"), 0);
	res = check_output(buf_str(&p->o), p->o.len, 2, false);
	assert_int_equal(res.whole, 300);
	assert_int_equal(res.first_version, 1);
	assert_int_equal(res.last_version, 2);
	buf_free(&in);
}

/*
 * Checks that `out` holds one line per input 1..n, in order, each JSON with config_version
 * 1: a result for the first `results` of them, then the out-of-memory error. Returns n.
 */
static size_t check_oom_answers(const char *out, size_t results)
{
	size_t k = 0;

	for (const char *s = out; *s != '\0'; k++) {
		const char *nl = strchr(s, '\n');
		json_error_t je;
		json_t *v, *err;

		assert_non_null(nl);
		v = json_loadb(s, (size_t)(nl - s), JSON_REJECT_DUPLICATES, &je);
		if (v == NULL) {
			print_error("output line %zu is not JSON (%s): %.*s\n", k + 1, je.text, (int)(nl - s), s);
			fail();
		}
		assert_int_equal(json_integer_value(json_object_get(v, "id")), k + 1);
		assert_int_equal(json_integer_value(json_object_get(v, "config_version")), 1);
		err = json_object_get(v, "error");
		if (k < results) {
			assert_null(err);
			assert_true(json_is_object(json_object_get(v, "result")));
		} else {
			assert_null(json_object_get(v, "result"));
			assert_int_equal(json_integer_value(json_object_get(err, "line")), k + 1);
			assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "out of memory"));
		}
		json_decref(v);
		s = nl + 1;
	}
	return k;
}

/*
 * No memory to put a batch's result lines together (open_memstream refused from the second
 * batch on): every line is still answered exactly once, in order, those batches' lines with
 * an error that says why, and the run goes on to the end with exit status 1.
 */
static void memory_refused_for_results(void **state)
{
	char cfg[PATH_MAX], input[PATH_MAX];
	const char *args[] = {"run", "-c", cfg, "-b", "4", input, NULL};
	struct buf in = {0};
	const char *e;
	struct proc *p;

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, 12, 100);
	write_file(tmp_path(input, sizeof(input), "in.jsonl"), in.data, in.len);
	p = spawn_refusing(STDIN_NULL, "CFGPOOL_FAIL_MEMSTREAM_AFTER", 1, args);
	finish(p, 20);
	e = buf_str(&p->e);
	assert_exit_status(p, 1);
	assert_int_equal(count_of(e, "fault_shim: open_memstream refused\n"), 2);
	assert_non_null(strstr(e, "out of memory putting together the results of lines 5 to 8"));
	assert_non_null(strstr(e, "out of memory putting together the results of lines 9 to 12"));
	assert_int_equal(check_oom_answers(buf_str(&p->o), 4), 12);
	buf_free(&in);
}

/*
 * A batch's memory stream that stops growing without an error (glibc's, when realloc fails:
 * what does not fit is dropped, and ferror() and fclose() say nothing): the cut is found,
 * and every line of the batch is answered with the out-of-memory error, none lost or cut.
 * A batch that fits is answered as usual.
 */
static void memory_stream_cut_short(void **state)
{
	char cfg[PATH_MAX], input[PATH_MAX];
	const char *big[] = {"run", "-c", cfg, "-b", "300", input, NULL};
	struct buf in = {0};
	const char *e;
	struct proc *p;

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, 300, 100);
	write_file(tmp_path(input, sizeof(input), "in.jsonl"), in.data, in.len);
	p = spawn_refusing(STDIN_NULL, "CFGPOOL_MEMSTREAM_LIMIT", 4000, big);
	finish(p, 20);
	e = buf_str(&p->e);
	assert_exit_status(p, 1);
	assert_true(count_of(e, "fault_shim: memory stream full\n") >= 1);
	assert_non_null(strstr(e, "out of memory putting together the results of lines 1 to 300"));
	assert_int_equal(check_oom_answers(buf_str(&p->o), 0), 300);

	/* Batches of 4 fit: every line a result. */
	{
		const char *small[] = {"run", "-c", cfg, "-b", "4", input, NULL};

		p = spawn_refusing(STDIN_NULL, "CFGPOOL_MEMSTREAM_LIMIT", 4000, small);
		finish(p, 20);
		assert_exit_status(p, 0);
		assert_int_equal(check_output(buf_str(&p->o), p->o.len, 1, false).whole, 300);
		assert_int_equal(count_of(buf_str(&p->e), "memory stream full"), 0);
	}
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 5. Few file descriptors                                                                    */
/* ------------------------------------------------------------------------------------------ */

/*
 * RLIMIT_NOFILE from 4 (the standard streams and one for the dynamic loader) up: either a
 * clear "Too many open files" with status 2 and no output, or every line answered; from
 * the smallest limit that works up, it keeps working, and a reload there works too.
 */
static void few_descriptors(void **state)
{
	size_t n = 200;
	char cfg[PATH_MAX], input[PATH_MAX];
	struct buf in = {0};

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	spin_inputs(&in, 1, n, 100);
	assert_true(in.len < 65536); /* a pipe's default capacity */
	write_file(tmp_path(input, sizeof(input), "in.jsonl"), in.data, in.len);
	for (int from_stdin = 0; from_stdin < 2; from_stdin++) {
		rlim_t smallest = 0;

		for (rlim_t lim = 4; lim <= 16; lim++) {
			/* In a sanitizer build the leak check at exit needs descriptors of its own:
			 * without any left it fails and changes the exit status under test. */
			struct spawn_opts o = {.in = STDIN_PIPE, .nofile = lim, .elf = true,
					       .env = {"ASAN_OPTIONS=detect_leaks=0"}};
			const char *args[] = {"run", "-c", cfg, from_stdin ? NULL : input, NULL};
			struct proc *p = spawn_with(&o, args);

			/* Into an empty pipe in one write (the input is smaller than it), unless it has gone. */
			if (from_stdin && write(p->in, in.data, in.len) != (ssize_t)in.len)
				assert_int_equal(errno, EPIPE);
			finish(p, 20);
			if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0) {
				assert_int_equal(check_output(buf_str(&p->o), p->o.len, 1, false).whole, n);
				if (smallest == 0)
					smallest = lim;
				continue;
			}
			print_message("# RLIMIT_NOFILE %d, input from %s: exit %d, %s", (int)lim,
				      from_stdin ? "stdin" : "a file", WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1,
				      buf_str(&p->e));
			if (smallest != 0) {
				print_error("works with %d descriptors but not with %d\n", (int)smallest, (int)lim);
				fail();
			}
			assert_exit_status(p, 2);
			assert_int_equal(p->o.len, 0);
			assert_true(strncmp(buf_str(&p->e), "cfgpool: ", 9) == 0);
			assert_contains(buf_str(&p->e), "Too many open files");
		}
		print_message("# input from %s: works from RLIMIT_NOFILE %d\n", from_stdin ? "stdin" : "a file",
			      (int)smallest);
		assert_true(smallest > 0);
		if (from_stdin) {
			/* At the smallest limit, a reload opens the configuration again. */
			struct spawn_opts o = {.in = STDIN_PIPE, .nofile = smallest, .elf = true};
			const char *args[] = {"run", "-c", cfg, "--linger-ms", "5", NULL};
			struct proc *p = spawn_with(&o, args);

			write_bytes(p, in.data, in.len);
			wait_lines(p, n, 10);
			assert_int_equal(kill(p->pid, SIGHUP), 0);
			wait_stderr(p, "\n", 10);
			print_message("# SIGHUP at RLIMIT_NOFILE %d: %s", (int)smallest, buf_str(&p->e));
			assert_contains(buf_str(&p->e), "configuration version 2");
			finish(p, 10);
			assert_exit_status(p, 0);
		}
	}
	buf_free(&in);
}

/* ------------------------------------------------------------------------------------------ */
/* 6. A SIGHUP storm                                                                          */
/* ------------------------------------------------------------------------------------------ */

static bool stderr_lines(const struct proc *p, const void *arg)
{
	return count_lines(&p->e) >= *(const size_t *)arg;
}

/*
 * Reloads alternating a good document and a broken one, each SIGHUP sent once the previous
 * reload was reported, while lines stream in between: every line answered once, in order,
 * with a version that never goes down, each reload reported, and status 0.
 */
static void sighup_storm(void **state)
{
	size_t reloads = test_scaled(1000, 20) & ~(size_t)1, n = test_scaled(100000, 2000);
	size_t per = n / reloads, sent = 0, goods = 0;
	char cfg[PATH_MAX];
	struct outcome res;
	struct proc *p;
	json_t *st;
	double t0 = now_s();

	(void)state;
	spin_config_file(cfg, sizeof(cfg));
	p = spawn(STDIN_PIPE, "run", "-c", cfg, "--stats", "--linger-ms", "1", NULL);
	for (size_t i = 0; i < reloads; i++) {
		struct buf chunk = {0};
		size_t want = i + 1;

		spin_inputs(&chunk, sent + 1, per, 10);
		write_bytes(p, chunk.data, chunk.len);
		sent += per;
		buf_free(&chunk);
		/* The first answers show that SIGHUP is blocked: before that it would end the process. */
		if (i == 0)
			wait_lines(p, per, 10);
		replace_file(cfg, i % 2 ? broken_config : spin_config);
		goods += i % 2 == 0;
		assert_int_equal(kill(p->pid, SIGHUP), 0);
		if (!pump(p, deadline_in(10), stderr_lines, &want)) {
			print_error("reload %zu was not reported\n", i + 1);
			show_streams(p);
			fail();
		}
	}
	{
		struct buf chunk = {0};

		spin_inputs(&chunk, sent + 1, n - sent, 10);
		write_bytes(p, chunk.data, chunk.len);
		buf_free(&chunk);
	}
	finish(p, 60);
	print_message("# %zu reloads (%zu good) while %zu lines streamed, in %.1f s\n", reloads, goods, n, now_s() - t0);
	assert_exit_status(p, 0);
	res = check_output(buf_str(&p->o), p->o.len, (json_int_t)(1 + goods), false);
	assert_int_equal(res.whole, n);
	assert_int_equal(res.last_version, 1 + goods);
	assert_int_equal(count_of(buf_str(&p->e), "cfgpool: reloaded "), goods);
	assert_int_equal(count_of(buf_str(&p->e), "cfgpool: reload failed, keeping configuration version "),
			 reloads - goods);
	st = stats_of(p);
	assert_int_equal(json_integer_value(json_object_get(st, "reloads")), goods);
	assert_int_equal(json_integer_value(json_object_get(st, "reload_failures")), reloads - goods);
	assert_int_equal(json_integer_value(json_object_get(st, "config_version")), 1 + goods);
	assert_int_equal(json_integer_value(json_object_get(st, "written")), n);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(sigkill_writing_to_a_file, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(sigkill_writing_to_a_pipe, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(reader_closes_early, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(dev_full, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(small_tmpfs, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(threads_refused_at_open, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(reload_needs_no_thread, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(memory_refused_for_results, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(memory_stream_cut_short, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(few_descriptors, setup_world, teardown_world),
	    cmocka_unit_test_setup_teardown(sighup_storm, setup_world, teardown_world),
	};

	/* A child that exits or is killed must not kill the test with SIGPIPE while it is fed. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
