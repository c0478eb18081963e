/*
 * Running the `cfgpool` binary from a cmocka test: the shared part of tests/test_cli.c
 * and tests/test_faults.c.
 *
 * The binary is $CFGPOOL_BIN (set by `make check`), else ../cfgpool next to this file's
 * directory, which is right when a program is run by hand from the top of an in-tree
 * build. Every wait on a child has a deadline stretched by CFGPOOL_TEST_TIMEOUT_MULTIPLIER;
 * a child that misses it is killed and the test fails with what it wrote so far. Children
 * and feeder threads are registered with the test's world, so a failed assertion (which
 * longjmps out of the test) still has them killed, joined and their temporary files
 * removed by the teardown.
 *
 * Only static inline functions, as in helpers.h. Include it after helpers.h and
 * <jansson.h>.
 */
#ifndef CFGPOOL_TESTS_CLI_HELPERS_H
#define CFGPOOL_TESTS_CLI_HELPERS_H

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "helpers.h"

#define MAX_ARGS 16
#define MAX_PROCS 64
#define MAX_FEEDERS 16


/* ------------------------------------------------------------------------------------------ */
/* Time                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static inline void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A deadline `base` seconds from now, stretched by the multiplier. */
static inline double deadline_in(double base)
{
	return now_s() + base * test_timeout_multiplier();
}

/* ------------------------------------------------------------------------------------------ */
/* Growing buffers, always NUL-terminated once used                                           */
/* ------------------------------------------------------------------------------------------ */

struct buf {
	char *data;
	size_t len, cap;
};

static inline void buf_append(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->data = realloc(b->data, cap);
		assert_non_null(b->data);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if ((size_t)n < sizeof(small)) {
		buf_append(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);

	assert_non_null(big);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_append(b, big, (size_t)n);
	free(big);
}

static inline const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

static inline size_t count_lines(const struct buf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

static inline void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){0};
}

/* ------------------------------------------------------------------------------------------ */
/* The world of one test: its children, feeder threads and temporary directory               */
/* ------------------------------------------------------------------------------------------ */

enum stdin_mode { STDIN_PIPE, STDIN_NULL };

struct proc {
	pid_t pid;
	int in;	      /* write end of the child's stdin; -1 when closed or given to a feeder */
	int out, err; /* read ends of its stdout and stderr; -1 after EOF */
	struct buf o, e;
	int status;
	bool reaped;
};

/* Writes `data` into a child's stdin from its own thread, all at once or a line at a time. */
struct feeder {
	pthread_t thread;
	const struct proc *owner; /* finish() joins the feeders of its process */
	int fd; /* owned: closed when the feeder ends */
	const char *data;
	size_t len;
	double line_gap_s; /* 0: everything at once */
	atomic_bool stop;
	atomic_size_t lines; /* whole lines written */
	atomic_int error;    /* errno of a failed write: EPIPE once the child has gone */
	bool joined;
};

static struct {
	struct proc *procs[MAX_PROCS];
	size_t nprocs;
	struct feeder *feeders[MAX_FEEDERS];
	size_t nfeeders;
	int extra_fd; /* a FIFO's write end, closed by the teardown if the test did not */
	char dir[PATH_MAX];
} world;

static inline int setup_world(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	memset(&world, 0, sizeof(world));
	world.extra_fd = -1;
	snprintf(world.dir, sizeof(world.dir), "%s/cfgpool-cli-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(world.dir) != NULL ? 0 : -1;
}

static inline void reap_blocking(struct proc *p)
{
	while (!p->reaped) {
		pid_t r = waitpid(p->pid, &p->status, 0);

		if (r == p->pid || (r < 0 && errno != EINTR))
			p->reaped = true;
	}
}

static inline int teardown_world(void **state)
{
	DIR *d;

	(void)state;
	/* Children first: a feeder blocked on a full pipe then fails with EPIPE and ends. */
	for (size_t i = 0; i < world.nprocs; i++) {
		struct proc *p = world.procs[i];

		if (!p->reaped)
			kill(p->pid, SIGKILL);
		reap_blocking(p);
		if (p->in >= 0)
			close(p->in);
		if (p->out >= 0)
			close(p->out);
		if (p->err >= 0)
			close(p->err);
		buf_free(&p->o);
		buf_free(&p->e);
		free(p);
	}
	for (size_t i = 0; i < world.nfeeders; i++) {
		struct feeder *f = world.feeders[i];

		atomic_store(&f->stop, true);
		if (!f->joined)
			pthread_join(f->thread, NULL);
		free(f);
	}
	if (world.extra_fd >= 0)
		close(world.extra_fd);
	d = opendir(world.dir);
	if (d != NULL) {
		struct dirent *de;

		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	rmdir(world.dir);
	memset(&world, 0, sizeof(world));
	return 0;
}

/* "<test's temporary directory>/<name>" in `buf`. */
static inline const char *tmp_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", world.dir, name);

	assert_true(n > 0 && (size_t)n < size);
	return buf;
}

static inline void write_file(const char *path, const void *data, size_t len)
{
	write_fd_and_close(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), data, len);
}

static inline void write_text(const char *path, const char *text)
{
	write_file(path, text, strlen(text));
}

/* Replaces `path` the way an editor or a deployment does: a new file renamed over it. */
static inline void replace_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	write_text(tmp, text);
	assert_int_equal(rename(tmp, path), 0);
}

/* The configuration of examples/config.json with the kernel's paths and seed replaced. */
static inline const char *option_config(char *path, size_t size, const char *name, long paths, long seed)
{
	char example[PATH_MAX];
	json_error_t je;
	json_t *root = json_load_file(test_data_path(example, sizeof(example), "../examples/config.json"), 0, &je);
	json_t *kernel;

	if (root == NULL)
		print_error("%s:%d:%d: %s\n", example, je.line, je.column, je.text);
	assert_non_null(root);
	kernel = json_object_get(root, "kernel");
	assert_true(json_is_object(kernel));
	assert_string_equal(json_string_value(json_object_get(kernel, "name")), "mc_option");
	json_object_set_new(kernel, "paths", json_integer(paths));
	json_object_set_new(kernel, "seed", json_integer(seed));
	tmp_path(path, size, name);
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
	return path;
}

/* ------------------------------------------------------------------------------------------ */
/* Running the binary                                                                         */
/* ------------------------------------------------------------------------------------------ */

static inline const char *cli_bin(void)
{
	static char fallback[PATH_MAX];
	const char *bin = getenv("CFGPOOL_BIN");
	const char *slash;

	if (bin && *bin)
		return bin;
	slash = strrchr(__FILE__, '/');
	snprintf(fallback, sizeof(fallback), "%.*s/../cfgpool", slash ? (int)(slash - __FILE__) : 1,
		 slash ? __FILE__ : ".");
	return fallback;
}

/* How spawn_with() sets up the child, beyond stdin; zero for pipes on stdout and stderr. */
struct spawn_opts {
	enum stdin_mode in;
	int out_fd;	    /* > 0: the child's stdout (the caller keeps and closes its copy) */
	bool err_on_tty;    /* stderr on a pseudo-terminal, so that cfgpool shows its progress */
	rlim_t nofile;	    /* > 0: RLIMIT_NOFILE of the child, set before exec, with only fds 0-2 open */
	bool elf;	    /* run the ELF binary, not libtool's wrapper script (see spawn_with) */
	const char *env[4]; /* "NAME=VALUE" added to the environment, up to a NULL */
};

/*
 * The ELF binary behind libtool's wrapper script, with the LD_LIBRARY_PATH the wrapper
 * would set, in `path` and `ldpath`; false when `bin` is no wrapper (a static build).
 */
static inline bool elf_bin(const char *bin, char *path, size_t size, char *ldpath, size_t ldsize)
{
	const char *slash = strrchr(bin, '/');
	int dir = slash ? (int)(slash - bin) : 1;

	snprintf(path, size, "%.*s/.libs/cfgpool", dir, slash ? bin : ".");
	snprintf(ldpath, ldsize, "LD_LIBRARY_PATH=%.*s/.libs", dir, slash ? bin : ".");
	return access(path, X_OK) == 0;
}

/*
 * Starts `cfgpool ARGV...` (NULL-terminated) as `o` says. With o->elf the binary itself is
 * run: the wrapper is a shell that needs descriptors of its own and would run under
 * LD_PRELOAD too.
 */
static inline struct proc *spawn_with(const struct spawn_opts *o, const char *const *args)
{
	extern char **environ;
	const char *argv[MAX_ARGS + 2];
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2];
	char elf[PATH_MAX], ldpath[PATH_MAX + 32];
	const char **envp;
	struct proc *p;
	size_t n = 0, nenv = 0;

	argv[n++] = cli_bin();
	if (access(argv[0], X_OK) != 0) {
		print_error("cannot run %s (set CFGPOOL_BIN): %s\n", argv[0], strerror(errno));
		fail();
	}
	if (o->elf && elf_bin(argv[0], elf, sizeof(elf), ldpath, sizeof(ldpath)))
		argv[0] = elf;
	else
		ldpath[0] = '\0';
	for (; *args != NULL; args++) {
		assert_true(n <= MAX_ARGS);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	assert_true(world.nprocs < MAX_PROCS);

	/* The environment is built before fork: the child may only make async-signal-safe calls. */
	while (environ[nenv] != NULL)
		nenv++;
	envp = calloc(nenv + 6, sizeof(*envp));
	assert_non_null(envp);
	n = 0;
	if (ldpath[0] != '\0')
		envp[n++] = ldpath;
	for (size_t i = 0; i < 4 && o->env[i] != NULL; i++)
		envp[n++] = o->env[i];
	for (size_t i = 0; i < nenv; i++) {
		if (ldpath[0] == '\0' || strncmp(environ[i], "LD_LIBRARY_PATH=", 16) != 0)
			envp[n++] = environ[i];
	}

	if (o->in == STDIN_PIPE) {
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	} else {
		in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(in[0] >= 0);
	}
	if (o->out_fd <= 0)
		assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	else
		out[1] = o->out_fd;
	if (o->err_on_tty) {
		err[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		assert_true(err[0] >= 0);
		assert_int_equal(grantpt(err[0]), 0);
		assert_int_equal(unlockpt(err[0]), 0);
		err[1] = open(ptsname(err[0]), O_RDWR | O_NOCTTY | O_CLOEXEC);
		assert_true(err[1] >= 0);
	} else {
		assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	}
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		struct rlimit lim = {o->nofile, o->nofile};
		sigset_t none;

		/* Only async-signal-safe calls between fork and exec: the parent has threads. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
			_exit(127);
		/* Descriptors inherited without close-on-exec (make's jobserver) would count too. */
		if (o->nofile > 0 && (close_range(3, ~0u, 0) != 0 || setrlimit(RLIMIT_NOFILE, &lim) != 0))
			_exit(127);
		execve(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	free(envp);
	close(in[0]);
	if (o->out_fd <= 0)
		close(out[1]);
	close(err[1]);
	p->in = in[1];
	p->out = out[0];
	p->err = err[0];
	world.procs[world.nprocs++] = p;
	return p;
}

/* `first` and the rest of a NULL-terminated argument list into args[MAX_ARGS + 1]. */
static inline void collect_args(const char *first, va_list ap, const char **args)
{
	size_t n = 0;

	for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
		assert_true(n < MAX_ARGS);
		args[n++] = a;
	}
	args[n] = NULL;
}

/* Starts `cfgpool ARG...` (NULL-terminated) with its standard streams on pipes. */
static inline struct proc *spawn(enum stdin_mode mode, const char *arg, ...)
{
	const struct spawn_opts o = {.in = mode};
	const char *args[MAX_ARGS + 1];
	va_list ap;

	va_start(ap, arg);
	collect_args(arg, ap, args);
	va_end(ap);
	return spawn_with(&o, args);
}

static inline void read_some(struct proc *p, int fd)
{
	char chunk[65536];
	ssize_t got = read(fd, chunk, sizeof(chunk));

	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got <= 0) {
		close(fd);
		if (fd == p->out)
			p->out = -1;
		else
			p->err = -1;
		return;
	}
	buf_append(fd == p->out ? &p->o : &p->e, chunk, (size_t)got);
}

typedef bool (*until_fn)(const struct proc *p, const void *arg);

/* Collects the child's stdout and stderr until `until` holds; false if the deadline passed first. */
static inline bool pump(struct proc *p, double deadline, until_fn until, const void *arg)
{
	for (;;) {
		struct pollfd fds[2];
		nfds_t n = 0;
		double left;
		int rc;

		if (until(p, arg))
			return true;
		if (p->out >= 0)
			fds[n++] = (struct pollfd){.fd = p->out, .events = POLLIN};
		if (p->err >= 0)
			fds[n++] = (struct pollfd){.fd = p->err, .events = POLLIN};
		if (n == 0)
			return false; /* both streams ended: nothing more will come */
		left = deadline - now_s();
		if (left <= 0)
			return false;
		rc = poll(fds, n, (int)(left * 1000.0) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		assert_true(rc >= 0);
		for (nfds_t i = 0; i < n; i++) {
			if (fds[i].revents != 0)
				read_some(p, fds[i].fd);
		}
	}
}

static inline bool at_eof(const struct proc *p, const void *arg)
{
	(void)arg;
	return p->out < 0 && p->err < 0;
}

static inline bool has_lines(const struct proc *p, const void *arg)
{
	return count_lines(&p->o) >= *(const size_t *)arg;
}

static inline bool stderr_has(const struct proc *p, const void *arg)
{
	return strstr(buf_str(&p->e), arg) != NULL;
}

static inline void show_streams(const struct proc *p)
{
	size_t olen = p->o.len;
	const char *o = buf_str(&p->o);

	/* Only the end of a long stdout: the last lines are the ones that tell. */
	if (olen > 2000)
		o += olen - 2000;
	print_error("cfgpool stdout (%zu bytes, %zu lines), its end:\n%s\ncfgpool stderr:\n%s\n", p->o.len,
		    count_lines(&p->o), o, buf_str(&p->e));
}

/* Waits until stdout holds `n` lines, at most `base` seconds (stretched); false on timeout. */
static inline bool lines_by(struct proc *p, size_t n, double deadline)
{
	return pump(p, deadline, has_lines, &n);
}

static inline void wait_lines(struct proc *p, size_t n, double base)
{
	if (!lines_by(p, n, deadline_in(base))) {
		print_error("waited %.1f s for %zu result lines\n", base * test_timeout_multiplier(), n);
		show_streams(p);
		fail();
	}
}

static inline void wait_stderr(struct proc *p, const char *needle, double base)
{
	if (!pump(p, deadline_in(base), stderr_has, needle)) {
		print_error("waited %.1f s for \"%s\" on stderr\n", base * test_timeout_multiplier(), needle);
		show_streams(p);
		fail();
	}
}

/* Waits, without reading, until the child's stdout pipe is full: its writer is then blocked. */
static inline void wait_pipe_full(const struct proc *p, double base)
{
	double deadline = deadline_in(base);
	int size = fcntl(p->out, F_GETPIPE_SZ);
	int queued = 0;

	assert_true(size > 0);
	while (queued < size - 4096) {
		assert_int_equal(ioctl(p->out, FIONREAD, &queued), 0);
		if (now_s() > deadline) {
			print_error("stdout pipe holds %d of %d bytes after %.1f s\n", queued, size,
				    base * test_timeout_multiplier());
			fail();
		}
		sleep_s(0.001);
	}
}

/* True while the child runs; reaps it (and records its status) once it has ended. */
static inline bool still_running(struct proc *p)
{
	pid_t r;

	if (p->reaped)
		return false;
	do
		r = waitpid(p->pid, &p->status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return true;
	p->reaped = true;
	return false;
}

static inline void join_feeder(struct feeder *f);

/* Closes the child's stdin, reads both streams to their end and returns its wait status. */
static inline int finish(struct proc *p, double base)
{
	double deadline = deadline_in(base);

	if (p->in >= 0) {
		close(p->in);
		p->in = -1;
	}
	pump(p, deadline, at_eof, NULL);
	while (still_running(p) && now_s() < deadline)
		sleep_s(0.001);
	if (!p->reaped || p->out >= 0 || p->err >= 0) {
		kill(p->pid, SIGKILL);
		reap_blocking(p);
		print_error("cfgpool did not finish within %.1f s; killed\n", base * test_timeout_multiplier());
		show_streams(p);
		fail();
	}
	/* The child is gone, so its feeders end (at worst on EPIPE): join them, so that the
	 * input they wrote from can be freed. */
	for (size_t i = 0; i < world.nfeeders; i++) {
		if (world.feeders[i]->owner == p)
			join_feeder(world.feeders[i]);
	}
	return p->status;
}

static inline void assert_exit_status(const struct proc *p, int code)
{
	if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == code)
		return;
	if (WIFSIGNALED(p->status))
		print_error("cfgpool was killed by signal %d, expected exit status %d\n", WTERMSIG(p->status), code);
	else
		print_error("cfgpool exited with status %d, expected %d\n", WEXITSTATUS(p->status), code);
	show_streams(p);
	fail();
}

static inline const char *shim_path(void)
{
	const char *shim = getenv("CFGPOOL_FAULT_SHIM");

	if (shim == NULL || access(shim, R_OK) != 0) {
		print_error("CFGPOOL_FAULT_SHIM (%s) is not a readable file: run from make check\n",
			    shim ? shim : "unset");
		fail();
	}
	return shim;
}

/*
 * Starts the ELF binary with tests/fault_shim.c preloaded, refusing every call after the first `after`
 * of what the environment variable `limit` limits (CFGPOOL_FAIL_THREADS_AFTER,
 * CFGPOOL_FAIL_MEMSTREAM_AFTER).
 */
static inline struct proc *spawn_refusing(enum stdin_mode mode, const char *limit, unsigned after, const char *const *args)
{
	static char preload[PATH_MAX + 16], limit_env[64], asan[512];
	const char *asan_opts = getenv("ASAN_OPTIONS");
	struct spawn_opts o = {.in = mode, .elf = true};

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", shim_path());
	snprintf(limit_env, sizeof(limit_env), "%s=%u", limit, after);
	/* A sanitizer's runtime would refuse to come after a preloaded library. */
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=verify_asan_link_order=0%s%s", asan_opts ? ":" : "",
		 asan_opts ? asan_opts : "");
	o.env[0] = preload;
	o.env[1] = limit_env;
	o.env[2] = asan;
	return spawn_with(&o, args);
}

/* Runs `cfgpool ARG...` to its end with stdin on /dev/null. */
static inline struct proc *run_to_end(double base, const char *arg, ...)
{
	const struct spawn_opts o = {.in = STDIN_NULL};
	const char *args[MAX_ARGS + 1];
	struct proc *p;
	va_list ap;

	va_start(ap, arg);
	collect_args(arg, ap, args);
	va_end(ap);
	p = spawn_with(&o, args);
	finish(p, base);
	return p;
}

static inline void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;

	while (off < f->len && !atomic_load(&f->stop)) {
		size_t n = f->len - off;
		ssize_t w;

		if (f->line_gap_s > 0) {
			const char *nl = memchr(f->data + off, '\n', n);

			if (nl != NULL)
				n = (size_t)(nl - (f->data + off)) + 1;
		}
		w = write(f->fd, f->data + off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			atomic_store(&f->error, errno);
			break;
		}
		off += (size_t)w;
		if (f->data[off - 1] == '\n') {
			atomic_fetch_add(&f->lines, 1);
			sleep_s(f->line_gap_s);
		}
	}
	close(f->fd);
	return NULL;
}

/* Hands the child's stdin to a thread that writes `data` (kept alive by the caller) and closes it. */
static inline struct feeder *start_feeder(struct proc *p, const char *data, size_t len, double line_gap_s)
{
	struct feeder *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(p->in >= 0);
	assert_true(world.nfeeders < MAX_FEEDERS);
	f->fd = p->in;
	p->in = -1;
	f->data = data;
	f->len = len;
	f->line_gap_s = line_gap_s;
	f->owner = p;
	assert_int_equal(pthread_create(&f->thread, NULL, feed, f), 0);
	world.feeders[world.nfeeders++] = f;
	return f;
}

static inline void join_feeder(struct feeder *f)
{
	atomic_store(&f->stop, true);
	if (!f->joined)
		assert_int_equal(pthread_join(f->thread, NULL), 0);
	f->joined = true;
}

/*
 * Writes all of `data` to the child's standard input, reading its outputs meanwhile: a
 * child blocked writing results nobody reads would otherwise never read more input, and
 * both would wait for ever. Writes at most PIPE_BUF bytes when poll says there is room,
 * so that no write blocks.
 */
static inline void write_bytes(struct proc *p, const char *data, size_t len)
{
	double deadline = now_s() + 60.0 * test_timeout_multiplier();

	while (len > 0) {
		struct pollfd fds[3] = {{.fd = p->in, .events = POLLOUT}};
		nfds_t n = 1;
		int rc;

		if (p->out >= 0)
			fds[n++] = (struct pollfd){.fd = p->out, .events = POLLIN};
		if (p->err >= 0)
			fds[n++] = (struct pollfd){.fd = p->err, .events = POLLIN};
		assert_true(now_s() < deadline);
		rc = poll(fds, n, 100);
		if (rc < 0 && errno == EINTR)
			continue;
		assert_true(rc >= 0);
		for (nfds_t i = 1; i < n; i++) {
			if (fds[i].revents != 0)
				read_some(p, fds[i].fd);
		}
		if (fds[0].revents & (POLLERR | POLLHUP))
			fail_msg("the child closed its standard input with %zu bytes left to write", len);
		if (fds[0].revents & POLLOUT) {
			ssize_t w = write(p->in, data, len < PIPE_BUF ? len : PIPE_BUF);

			if (w < 0 && errno == EINTR)
				continue;
			assert_true(w > 0);
			data += w;
			len -= (size_t)w;
		}
	}
}

static inline void write_line(struct proc *p, const char *text)
{
	write_bytes(p, text, strlen(text));
}

/* ------------------------------------------------------------------------------------------ */
/* Reading results                                                                            */
/* ------------------------------------------------------------------------------------------ */

/*
 * Parses every stdout line as a JSON object into a new array (free_lines). A last line
 * without its newline fails the test: the command promises whole lines only.
 */
static inline size_t parse_lines(const struct proc *p, json_t ***out)
{
	size_t n = count_lines(&p->o), k = 0;
	const char *s = buf_str(&p->o), *end = s + p->o.len;
	json_t **v = calloc(n ? n : 1, sizeof(*v));

	assert_non_null(v);
	if (p->o.len > 0 && end[-1] != '\n') {
		const char *last = memrchr(s, '\n', p->o.len);

		print_error("stdout ends with a partial line: %.200s\n", last ? last + 1 : s);
		show_streams(p);
		fail();
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		json_error_t je;

		v[k] = json_loadb(s, (size_t)(nl - s), JSON_REJECT_DUPLICATES, &je);
		if (v[k] == NULL || !json_is_object(v[k])) {
			print_error("stdout line %zu is not a JSON object (%s): %.*s\n", k + 1,
				    v[k] ? "not an object" : je.text, (int)(nl - s), s);
			fail();
		}
		k++;
		s = nl + 1;
	}
	*out = v;
	return n;
}

static inline void free_lines(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
}

/* The member `key` of a result line; fails, showing the line, when it is absent. */
static inline json_t *member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL) {
		char *text = json_dumps(o, JSON_COMPACT);

		print_error("no \"%s\" in %s\n", key, text ? text : "?");
		free(text);
		fail();
	}
	return v;
}

static inline double number(json_t *o, const char *key)
{
	json_t *v = member(o, key);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static inline json_int_t integer(json_t *o, const char *key)
{
	json_t *v = member(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static inline void assert_id(json_t *line, json_t *want)
{
	json_t *id = member(line, "id");

	if (!json_equal(id, want)) {
		char *a = json_dumps(id, JSON_ENCODE_ANY), *b = json_dumps(want, JSON_ENCODE_ANY);

		print_error("id %s, expected %s\n", a ? a : "?", b ? b : "?");
		free(a);
		free(b);
		fail();
	}
}

static inline void assert_id_str(json_t *line, const char *want)
{
	json_t *w = json_string(want);

	assert_id(line, w);
	json_decref(w);
}

/* A successful result line: its version, a non-negative time, a result and no error. */
static inline json_t *assert_result(json_t *line, json_int_t version)
{
	assert_int_equal(integer(line, "config_version"), version);
	assert_true(number(line, "elapsed_us") >= 0);
	assert_null(json_object_get(line, "error"));
	assert_true(json_is_object(member(line, "result")));
	return member(line, "result");
}

#endif /* CFGPOOL_TESTS_CLI_HELPERS_H */
