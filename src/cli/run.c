/*
 * `cfgpool run -c CONFIG [INPUT]`: JSON Lines in, one JSON Lines result per input out, in
 * input order, through a pool running the configured kernel.
 *
 * The main thread reads lines (poll() on the input and on a self-pipe), groups them into
 * batches of --batch lines, flushes a partial batch --linger-ms after its first line
 * arrived, runs each batch with cfgpool_pool_map() and writes its results with one
 * write() sequence under out_lock. A signal thread owns SIGHUP, SIGINT and SIGTERM
 * (blocked everywhere else): SIGHUP asks for a reload, the first SIGINT/SIGTERM asks the
 * main thread to stop reading and answer every line already in its buffer, a second one
 * exits at once, dropping queued work (taking out_lock if it is free, so that a result
 * line is cut only if one was being written then).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The help text and the man page state the number. */
_Static_assert(CLI_MAX_LINE == 1048576, "say the new limit in usage() and cfgpool.1");
#define MAX_BATCH 65536

struct settings {
	const char *config;
	const char *input;
	size_t batch;
	int linger_ms;
	bool quiet;
	bool stats;
};

/*
 * Set by the signal thread, read by the main thread. Each is a request on its own and
 * publishes no other data, so relaxed orders suffice: the write to wake_pipe that follows
 * each store, and the main thread's poll() that sees it, are what make the main thread
 * look again.
 */
static atomic_bool reload_requested;
static atomic_bool stop_requested;
static int wake_pipe[2] = {-1, -1};
/* Held while result lines are written, so a forced exit between writes cuts none. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------------------------ */
/* Signals                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int stops = 0;

	for (;;) {
		int sig;

		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			atomic_store_explicit(&reload_requested, true, memory_order_relaxed);
		} else if (++stops == 1) {
			atomic_store_explicit(&stop_requested, true, memory_order_relaxed);
		} else {
			/*
			 * Second signal: leave now. When no write is under way, out_lock keeps one
			 * from starting, so no line is cut; when one is, it may be blocked for ever
			 * on a reader that stalled, so waiting for it could mean never leaving: the
			 * last line may then be cut, the one case where that is allowed.
			 */
			(void)pthread_mutex_trylock(&out_lock);
			_exit(128 + sig);
		}
		if (write(wake_pipe[1], "x", 1) < 0 && errno != EAGAIN)
			cli_err("cannot wake the main thread: %s", strerror(errno));
	}
	return NULL;
}

static int start_signal_thread(void)
{
	static sigset_t set;
	pthread_t t;

	if (pipe(wake_pipe) != 0)
		return -1;
	fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Blocked before the pool starts, so every thread inherits the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	/* pthread_create() returns its error; the caller reports errno. */
	errno = pthread_create(&t, NULL, signal_thread, &set);
	if (errno != 0)
		return -1;
	pthread_detach(t);
	return 0;
}

static void drain_wake_pipe(void)
{
	char buf[64];

	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading lines                                                                              */
/* ------------------------------------------------------------------------------------------ */

struct reader {
	int fd;
	char *buf;
	size_t start, len, cap; /* unread bytes are buf[start, start+len) */
	bool eof;
	bool stopped;  /* no more read(): what the buffer holds is all there is */
	bool skipping; /* inside an over-long line, dropping bytes up to its newline */
};

enum { LINE, TIMEOUT, END, WOKEN, READ_ERROR };


/*
 * Moves one complete line (or the last unterminated one at EOF or stop) out of the buffer;
 * *cut tells a line that ends only because the reading stopped.
 */
static bool take_line(struct reader *r, char **line, size_t *len, bool *cut)
{
	char *nl = memchr(r->buf + r->start, '\n', r->len);

	if (nl == NULL && !((r->eof || r->stopped) && r->len > 0))
		return false;
	*cut = nl == NULL && !r->eof;
	*line = r->buf + r->start;
	*len = nl ? (size_t)(nl - *line) : r->len;
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	r->len -= nl ? (size_t)(nl - (r->buf + r->start)) + 1 : r->len;
	r->start = nl ? (size_t)(nl - r->buf) + 1 : r->start + r->len;
	return true;
}

/*
 * Returns LINE with *line (valid until the next call) and *kind: CLI_WHOLE, CLI_TOO_LONG for a
 * line over CLI_MAX_LINE bytes (its bytes are dropped), or CLI_CUT_SHORT for the unterminated rest
 * of the buffer once the reading has stopped. Otherwise TIMEOUT after timeout_ms (-1:
 * none), END (at EOF, or when stopped and the buffer is empty), WOKEN when the signal
 * thread wrote to the pipe, or READ_ERROR. Once stopped, it never reads or waits again.
 */
static int next_line(struct reader *r, int timeout_ms, char **line, size_t *len, int *kind)
{
	bool cut;

	*kind = CLI_WHOLE;
	for (;;) {
		if (!r->skipping && take_line(r, line, len, &cut)) {
			/* However the bytes arrived, the limit is the same. */
			if (*len > CLI_MAX_LINE) {
				*kind = CLI_TOO_LONG;
				*line = NULL;
				*len = 0;
			} else if (cut) {
				*kind = CLI_CUT_SHORT;
			}
			return LINE;
		}
		if (r->skipping) {
			char *nl = memchr(r->buf + r->start, '\n', r->len);

			if (nl != NULL || r->eof || r->stopped) {
				r->len -= nl ? (size_t)(nl - (r->buf + r->start)) + 1 : r->len;
				r->start = nl ? (size_t)(nl - r->buf) + 1 : 0;
				r->skipping = false;
				*kind = CLI_TOO_LONG;
				*line = NULL;
				*len = 0;
				return LINE;
			}
			r->start = r->len = 0;
		}
		if (r->eof || r->stopped)
			return END;
		/* Make room: move the partial line to the front; a line too long is skipped. */
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->len);
			r->start = 0;
		}
		/* A line of CLI_MAX_LINE bytes may still be followed by "\r\n". */
		if (r->len > CLI_MAX_LINE + 1) {
			r->skipping = true;
			r->len = 0;
			continue;
		}

		struct pollfd fds[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = wake_pipe[0], .events = POLLIN}};
		int n = poll(fds, 2, timeout_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return READ_ERROR;
		if (n == 0)
			return TIMEOUT;
		if (fds[1].revents & POLLIN) {
			drain_wake_pipe();
			return WOKEN;
		}
		ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);

		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return READ_ERROR;
		if (got == 0)
			r->eof = true;
		r->len += (size_t)got;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Batches                                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct run {
	struct settings s;
	cfgpool_pool_t *pool;
	struct cli_lines conv; /* the kernel, its codec, the writer of result lines */
	const cfgpool_kernel_t *kernel;
	struct cli_item *items;
	size_t nitems;
	size_t nvalid; /* items that decoded; their inputs are inputs[0, nvalid) */
	char *inputs, *outputs;
	cfgpool_result_t *results;
	unsigned long lines;
	unsigned long done, failed; /* result lines written whole, and of those the errors */
	uint64_t start_ns, last_progress_ns;
	bool progress;
	int status;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parses one line into the batch: a kernel input, or an error kept for its result. */
static void add_line(struct run *r, const char *text, size_t len, int kind)
{
	struct cli_item *it = &r->items[r->nitems++];

	it->line = ++r->lines;
	it->slot = r->nvalid;
	if (cli_line_decode(&r->conv, it, text, len, kind, r->inputs + r->nvalid * r->kernel->input_size))
		r->nvalid++;
}

/* Writes buf[0, len); 0 or -errno, with the bytes that were written in *sent either way. */
static int write_all(int fd, const char *buf, size_t len, size_t *sent)
{
	*sent = 0;
	while (*sent < len) {
		ssize_t n = write(fd, buf + *sent, len - *sent);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		*sent += (size_t)n;
	}
	return 0;
}

/*
 * After a failed write, takes back the `partial` bytes of a result line that the output
 * got only the start of (a disk that filled up), so that a file holds whole lines only. A
 * pipe or a device cannot be taken back from; a pipe fails that way when its reader has
 * gone, which then sees nothing.
 */
static void take_back(size_t partial)
{
	struct stat st;
	off_t end;

	if (partial == 0 || fstat(STDOUT_FILENO, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	end = lseek(STDOUT_FILENO, 0, SEEK_CUR);
	if (end >= (off_t)partial && ftruncate(STDOUT_FILENO, end - (off_t)partial) == 0)
		(void)lseek(STDOUT_FILENO, end - (off_t)partial, SEEK_SET);
}

static void show_progress(struct run *r, bool final)
{
	uint64_t now = now_ns();
	double secs = (double)(now - r->start_ns) / 1e9;

	if (!r->progress || (!final && now - r->last_progress_ns < 250000000u))
		return;
	r->last_progress_ns = now;
	fprintf(stderr, "\rcfgpool: %lu inputs, %.0f/s, %lu errors%s", r->done, secs > 0 ? (double)r->done / secs : 0,
		r->failed, final ? "\n" : "");
}

/* Runs the batch, writes its results in input order, empties it. */
static int flush_batch(struct run *r)
{
	size_t buflen = 0, sent, whole = 0;
	char *buf = NULL;
	FILE *mem;
	int rc = 0;

	if (r->nitems == 0)
		return 0;
	/* A failing item is reported in its result line; the others run regardless. A map
	 * that ran nothing (-ESHUTDOWN, -EAGAIN, -EINVAL, -EDEADLK) leaves the results as they
	 * were: each of its items is answered with that error instead. */
	if (r->nvalid > 0) {
		int mrc = cfgpool_pool_map(r->pool, r->inputs, 0, r->outputs, 0, r->nvalid, r->results, 0);

		for (size_t i = 0; mrc != 0 && mrc != CFGPOOL_EKERNEL && i < r->nvalid; i++)
			r->results[i] = (cfgpool_result_t){.status = mrc};
	}

	mem = open_memstream(&buf, &buflen);
	if (mem == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < r->nitems; i++) {
		struct cli_item *it = &r->items[i];
		cfgpool_result_t *res = it->error[0] ? NULL : &r->results[it->slot];
		uint64_t version = res ? res->version : cfgpool_pool_version(r->pool);

		it->failed = cli_line_answer(&r->conv, it, res, r->outputs + it->slot * r->kernel->output_size, version,
					     mem);
		it->end = (size_t)ftell(mem);
		free(it->id);
		it->id = NULL;
	}
	fclose(mem);
	pthread_mutex_lock(&out_lock);
	rc = write_all(STDOUT_FILENO, buf, buflen, &sent);
	/* Only lines written whole count, in progress and --stats as in the exit status. */
	for (size_t i = 0; i < r->nitems && r->items[i].end <= sent; i++) {
		r->done++;
		r->failed += r->items[i].failed;
		whole = r->items[i].end;
	}
	if (rc != 0)
		take_back(sent - whole);
	pthread_mutex_unlock(&out_lock);
	free(buf);
	r->nitems = 0;
	r->nvalid = 0;
	show_progress(r, false);
	return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Reload                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void reload(struct run *r)
{
	cfgpool_error_t err;
	uint64_t version;
	char msg[1024];

	cfgpool_error_init(&err);
	if (cfgpool_pool_reload_file(r->pool, r->s.config, 0, &version, &err) == 0)
		cli_err("reloaded %s: configuration version %llu", r->s.config, (unsigned long long)version);
	else
		cli_err("reload failed, keeping configuration version %llu: %s",
			(unsigned long long)cfgpool_pool_version(r->pool), cfgpool_error_format(&err, msg, sizeof(msg)));
}

/* ------------------------------------------------------------------------------------------ */
/* The command                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("Usage: cfgpool run -c CONFIG [OPTION]... [INPUT]\n"
	      "Read JSON Lines inputs from INPUT (or standard input when absent or -), run the\n"
	      "kernel named in CONFIG on each with a pool of pinned workers, and write one JSON\n"
	      "Lines result per input to standard output, in input order. An input line holds at most\n"
	      "1048576 bytes (1 MiB) before its newline, a CR before the newline not counted; a longer\n"
	      "one is answered with an error and skipped. Results:\n"
	      "  {\"id\": ..., \"config_version\": N, \"elapsed_us\": T, \"result\": {...}}\n"
	      "  {\"id\": ..., \"config_version\": N, \"elapsed_us\": T, \"error\": {\"line\": L, \"message\": \"...\"}}\n"
	      "\n"
	      "  -c, --config FILE     the configuration (required)\n"
	      "  -b, --batch N         inputs per batch (default: one per worker)\n"
	      "  -l, --linger-ms MS    run a partial batch MS after its first input (default 50)\n"
	      "  -q, --quiet           no progress on standard error\n"
	      "  -s, --stats           print the pool's final stats as JSON on standard error\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "SIGHUP reloads CONFIG (a broken file is reported and the old one stays).\n"
	      "SIGINT/SIGTERM: stop reading and answer every line already read (an unterminated last\n"
	      "one with an error); a second one exits at once, even if standard output is blocked,\n"
	      "and the last line written may then be cut.\n"
	      "Exit status, with or without a signal: 0 every input succeeded, 1 some failed or the\n"
	      "output could not be written, 2 usage or configuration error, or no thread or file\n"
	      "descriptor to start with.\n",
	      f);
}

static int parse_args(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"batch", required_argument, NULL, 'b'},
		{"linger-ms", required_argument, NULL, 'l'}, {"quiet", no_argument, NULL, 'q'},
		{"stats", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int c;

	*s = (struct settings){.linger_ms = 50};
	while ((c = getopt_long(argc, argv, "c:b:l:qsh", longopts, NULL)) != -1) {
		char *end;
		long v;

		switch (c) {
		case 'c':
			s->config = optarg;
			break;
		case 'b':
		case 'l':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < (c == 'b' ? 1 : 0) ||
			    v > (c == 'b' ? MAX_BATCH : 3600000)) {
				cli_err("--%s: expected an integer from %d to %d, got '%s'", c == 'b' ? "batch" : "linger-ms",
					c == 'b' ? 1 : 0, c == 'b' ? MAX_BATCH : 3600000, optarg);
				return -1;
			}
			if (c == 'b')
				s->batch = (size_t)v;
			else
				s->linger_ms = (int)v;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 's':
			s->stats = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (s->config == NULL) {
		cli_err("run: -c CONFIG is required");
		usage(stderr);
		return -1;
	}
	if (argc - optind > 1) {
		cli_err("run: one INPUT at most");
		return -1;
	}
	s->input = optind < argc ? argv[optind] : "-";
	return 0;
}

static void print_stats(const struct run *r)
{
	cfgpool_pool_stats_t st;
	cfgpool_worker_stats_t ws[64];
	json_t *o, *workers = json_array();
	char *text;

	cfgpool_pool_stats(r->pool, &st, ws, 64);
	for (unsigned i = 0; i < st.workers && i < 64; i++)
		json_array_append_new(workers, json_pack("{s:i, s:I, s:I, s:I, s:I}", "cpu", ws[i].cpu, "tasks",
							 (json_int_t)ws[i].tasks, "busy_us", (json_int_t)(ws[i].busy_ns / 1000),
							 "parks", (json_int_t)ws[i].parks, "wakes", (json_int_t)ws[i].wakes));
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "written",
		      (json_int_t)r->done, "submitted",
		      (json_int_t)st.submitted, "completed", (json_int_t)st.completed, "failed", (json_int_t)st.failed,
		      "cancelled", (json_int_t)st.cancelled, "caller_tasks", (json_int_t)st.caller_tasks,
		      "queue_high_water", (json_int_t)st.queue_high_water, "parks", (json_int_t)st.parks, "wakes",
		      (json_int_t)st.wakes, "reloads", (json_int_t)st.reloads, "reload_failures",
		      (json_int_t)st.reload_failures, "config_version", (json_int_t)cfgpool_pool_version(r->pool),
		      "workers", workers);
	text = json_dumps(o, JSON_COMPACT);
	fprintf(stderr, "%s\n", text ? text : "{}");
	free(text);
	json_decref(o);
}

/* Opens everything; 0 or the exit status to return. */
static int setup(struct run *r, struct reader *rd)
{
	cfgpool_error_t err;
	char msg[1024];

	rd->fd = STDIN_FILENO;
	if (strcmp(r->s.input, "-") != 0) {
		rd->fd = open(r->s.input, O_RDONLY | O_CLOEXEC);
		if (rd->fd < 0) {
			cli_err("cannot open input %s: %s", r->s.input, strerror(errno));
			return EXIT_USAGE;
		}
	}
	if (start_signal_thread() != 0) {
		cli_err("cannot set up signal handling: %s", strerror(errno));
		return EXIT_USAGE;
	}
	cfgpool_error_init(&err);
	if (cfgpool_pool_open_file(r->s.config, NULL, NULL, &r->pool, &err) != 0) {
		cli_err("%s", cfgpool_error_format(&err, msg, sizeof(msg)));
		return EXIT_USAGE;
	}
	r->kernel = cfgpool_pool_kernel(r->pool);
	r->conv.kernel = r->kernel;
	r->conv.codec = r->kernel->codec;
	if (r->conv.codec == NULL || r->conv.codec->decode == NULL || r->conv.codec->encode == NULL) {
		cli_err("%s: kernel %s has no JSON codec", r->s.config, r->kernel->name);
		return EXIT_USAGE;
	}
	if (cfgpool_writer_create(0, &r->conv.writer) != 0) {
		cli_err("out of memory");
		return EXIT_USAGE;
	}
	if (r->s.batch == 0)
		r->s.batch = cfgpool_pool_workers(r->pool);
	r->items = calloc(r->s.batch, sizeof(*r->items));
	r->inputs = calloc(r->s.batch, r->kernel->input_size);
	r->outputs = calloc(r->s.batch, r->kernel->output_size);
	r->results = calloc(r->s.batch, sizeof(*r->results));
	rd->cap = CLI_MAX_LINE + 65536;
	rd->buf = malloc(rd->cap);
	if (!r->items || !r->inputs || !r->outputs || !r->results || !rd->buf) {
		cli_err("out of memory");
		return EXIT_USAGE;
	}
	r->progress = !r->s.quiet && isatty(STDERR_FILENO);
	r->start_ns = now_ns();
	return 0;
}

static void teardown(struct run *r, struct reader *rd)
{
	if (r->pool != NULL) {
		if (r->s.stats)
			print_stats(r);
		cfgpool_pool_close(r->pool, CFGPOOL_CLOSE_DRAIN);
	}
	if (rd->fd > STDIN_FILENO)
		close(rd->fd);
	free(rd->buf);
	free(r->items);
	free(r->inputs);
	free(r->outputs);
	free(r->results);
	cfgpool_writer_destroy(r->conv.writer);
}

int cli_run(int argc, char **argv)
{
	struct run r = {0};
	struct reader rd = {.fd = -1};
	uint64_t deadline = 0;
	int status;

	if (parse_args(argc, argv, &r.s) != 0)
		return EXIT_USAGE;
	status = setup(&r, &rd);
	if (status != 0) {
		teardown(&r, &rd);
		return status;
	}

	for (;;) {
		int timeout = -1, got;
		char *line;
		size_t len;
		int kind;

		if (atomic_exchange_explicit(&reload_requested, false, memory_order_relaxed))
			reload(&r);
		/* Finish what was read: every line already in the buffer, and no more read(). */
		if (atomic_load_explicit(&stop_requested, memory_order_relaxed))
			rd.stopped = true;
		if (r.nitems > 0) {
			uint64_t now = now_ns();

			timeout = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		}
		got = next_line(&rd, timeout, &line, &len, &kind);
		if (got == LINE) {
			if (kind != CLI_TOO_LONG && cli_line_is_blank(line, len)) {
				r.lines++; /* not an input, but still a line of the file */
				continue;
			}
			if (r.nitems == 0)
				deadline = now_ns() + (uint64_t)r.s.linger_ms * 1000000u;
			add_line(&r, line, len, kind);
			if (r.nitems < r.s.batch)
				continue;
		} else if (got == WOKEN) {
			continue;
		} else if (got == READ_ERROR) {
			cli_err("reading %s: %s", r.s.input, strerror(errno));
			r.status = EXIT_SOME_FAILED;
		}
		int wrc = flush_batch(&r);

		if (wrc != 0) {
			cli_err("writing results: %s", strerror(-wrc));
			r.status = EXIT_SOME_FAILED;
			break;
		}
		if (got == END || got == READ_ERROR)
			break;
	}
	if (flush_batch(&r) != 0)
		r.status = EXIT_SOME_FAILED;
	show_progress(&r, true);
	teardown(&r, &rd);
	if (r.status == 0 && r.failed > 0)
		r.status = EXIT_SOME_FAILED;
	return r.status;
}
