/*
 * `cfgpool run -c CONFIG [INPUT]`: JSON Lines in, one JSON Lines result per input out, in
 * input order, through a pool running the configured kernel.
 *
 * Inputs come from a source, one at a time (next_input()): the line reader below, or a
 * Redis stream's consumer group (--source, stream.c), which also says where each batch it
 * fetched ends (RUN_FLUSH). Answers go to a sink: standard output, or a Redis stream
 * (--sink, stream.c), which writes them and acknowledges their entries in one step; with
 * a stream source and standard output, entries are acknowledged once their lines are
 * written. What follows describes the line source and standard output.
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
#if CLI_REDIS
#include "redis.h"
#endif
#include "run.h"

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
	const char *source; /* --source URL, or NULL */
	const char *sink;   /* --sink URL, or NULL */
};

/*
 * Set by the signal thread, read by the main thread. Each is a request on its own and
 * publishes no other data, so relaxed orders suffice: the write to wake_pipe that follows
 * each store, and the main thread's poll() that sees it, are what make the main thread
 * look again.
 */
static atomic_bool reload_requested;
atomic_bool run_stop_requested;
static int wake_pipe[2] = {-1, -1};
int run_wake_fd = -1;
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
			atomic_store_explicit(&run_stop_requested, true, memory_order_relaxed);
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
	run_wake_fd = wake_pipe[0];
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

enum { LINE = RUN_ITEM, TIMEOUT = RUN_TIMEOUT, END = RUN_END, WOKEN = RUN_WOKEN, READ_ERROR = RUN_READ_ERROR };


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
	struct run_input *ins;      /* what each item was taken as */
	struct run_answer *answers; /* each item's result line, for a stream sink */
	size_t nitems;
	size_t nvalid; /* items that decoded; their inputs are inputs[0, nvalid) */
	char *inputs, *outputs;
	cfgpool_result_t *results;
	unsigned long lines;
	unsigned long done, failed; /* result lines written whole, and of those the errors */
	uint64_t start_ns, last_progress_ns;
	bool progress;
	int status;
#if CLI_REDIS
	struct stream_source *source; /* NULL: lines */
	struct stream_sink *sink;     /* NULL: standard output */
#endif
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *dup_text(const char *s, size_t n, size_t *len)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
		*len = n;
	}
	return d;
}

/* The JSON text of a string: "..." with what JSON escapes escaped; malloc'ed, or NULL. */
static char *json_quote(const char *s, size_t n, size_t *len)
{
	json_t *str = json_stringn(s, n);
	char *text = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;

	json_decref(str);
	if (text)
		*len = strlen(text);
	return text;
}

/*
 * Parses one input into the batch: a kernel input, or an error kept for its result. An
 * input from a stream entry that states no id of its own takes the entry's `id` field, or
 * else the entry's ID; a dead-lettered one is not decoded, only answered with its reason.
 */
static void add_input(struct run *r, const struct run_input *in)
{
	struct cli_item *it = &r->items[r->nitems];

	r->ins[r->nitems++] = *in;
	it->line = ++r->lines;
	it->slot = r->nvalid;
	if (in->dead != NULL) {
		/* Decoded only for its id; the decoded input is not run. */
		(void)cli_line_decode(&r->conv, it, in->text, in->len, in->kind,
				      r->inputs + r->nvalid * r->kernel->input_size);
		snprintf(it->error, sizeof(it->error), "dead-lettered: %s", in->dead);
	} else if (in->entry != NULL && in->len == 0) {
		it->id = NULL;
		it->id_len = 0;
		snprintf(it->error, sizeof(it->error), "stream entry %s has no \"input\" field", in->entry);
	} else if (cli_line_decode(&r->conv, it, in->text, in->len, in->kind,
				   r->inputs + r->nvalid * r->kernel->input_size)) {
		r->nvalid++;
	}
#if CLI_REDIS
	/* A stream sink states the id in a field of its own: the line number, as the line does. */
	if (in->entry == NULL && it->id == NULL && r->sink != NULL) {
		char num[24];

		snprintf(num, sizeof(num), "%lu", it->line);
		it->id = dup_text(num, strlen(num), &it->id_len);
	}
#endif
	if (in->entry != NULL && it->id == NULL) {
		if (in->id != NULL) {
			json_t *v = json_loadb(in->id, in->id_len, JSON_DECODE_ANY, NULL);

			/* The field as JSON when it is JSON, else as a string. */
			it->id = v ? dup_text(in->id, in->id_len, &it->id_len) : json_quote(in->id, in->id_len, &it->id_len);
			json_decref(v);
		} else {
			it->id = json_quote(in->entry, strlen(in->entry), &it->id_len);
		}
	}
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

/*
 * The result line of an item from a stream entry: the line's members with the entry's ID
 * after the id, {"id":...,"entry":"1-0","config_version":...}. `scratch` is reused.
 */
static bool answer_entry(struct run *r, struct cli_item *it, const struct run_input *in,
			 const cfgpool_result_t *res, uint64_t version, FILE *mem, FILE *scratch, char **sbuf)
{
	size_t skip = 6 + it->id_len + 1; /* {"id":ID, */
	bool failed;
	long n;

	rewind(scratch);
	failed = cli_line_answer(&r->conv, it, res, r->outputs + it->slot * r->kernel->output_size, version, scratch);
	fflush(scratch);
	n = ftell(scratch);
	if (it->id == NULL || n < (long)skip) {
		fwrite(*sbuf, 1, (size_t)n, mem);
		return failed;
	}
	fwrite(*sbuf, 1, skip, mem);
	fprintf(mem, "\"entry\":\"%s\",", in->entry);
	fwrite(*sbuf + skip, 1, (size_t)n - skip, mem);
	return failed;
}

/* Writes the batch's lines to standard output; how many items were written whole in *whole. */
static int write_stdout(struct run *r, const char *buf, size_t buflen, size_t *whole)
{
	size_t sent, done = 0;
	int rc;

	pthread_mutex_lock(&out_lock);
	rc = write_all(STDOUT_FILENO, buf, buflen, &sent);
	/* Only lines written whole count, in progress and --stats as in the exit status. */
	while (done < r->nitems && r->items[done].end <= sent)
		done++;
	if (rc != 0)
		take_back(sent - (done ? r->items[done - 1].end : 0));
	pthread_mutex_unlock(&out_lock);
	*whole = done;
	return rc;
}

/*
 * Puts the batch's result lines together in *buf (malloc'ed, *buflen bytes) and r->answers.
 * 0, or -ENOMEM when there was no memory for them (*buf is then NULL).
 */
static int format_answers(struct run *r, char **buf, size_t *buflen)
{
	size_t slen = 0;
	char *sbuf = NULL;
	FILE *mem, *scratch = NULL;
	bool broken = false;

	*buf = NULL;
	*buflen = 0;
	mem = open_memstream(buf, buflen);
	if (mem == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < r->nitems; i++) {
		struct cli_item *it = &r->items[i];
		cfgpool_result_t *res = it->error[0] ? NULL : &r->results[it->slot];
		uint64_t version = res ? res->version : cfgpool_pool_version(r->pool);
		long start = ftell(mem);

		if (r->ins[i].entry != NULL && scratch == NULL) {
			scratch = open_memstream(&sbuf, &slen);
			if (scratch == NULL) {
				broken = true;
				break;
			}
		}
		if (r->ins[i].entry != NULL) {
			it->failed = answer_entry(r, it, &r->ins[i], res, version, mem, scratch, &sbuf);
			broken |= ferror(scratch) != 0; /* answer_entry() rewinds it, which clears it */
		} else
			it->failed = cli_line_answer(&r->conv, it, res, r->outputs + it->slot * r->kernel->output_size,
						     version, mem);
		it->end = (size_t)ftell(mem);
		r->answers[i] = (struct run_answer){.in = &r->ins[i], .id = it->id, .id_len = it->id_len,
						    .version = version, .line = (const char *)(uintptr_t)start,
						    .len = it->end - (size_t)start - 1};
	}
	/* A stream that could not grow has a write error, or (glibc's memory streams) none:
	 * what did not fit is dropped, so every line must end where it began plus its text,
	 * in a newline (answer_entry()'s copy of a cut scratch line is cut too). */
	broken |= ferror(mem) != 0;
	broken |= fclose(mem) != 0;
	for (size_t i = 0, at = 0; !broken && i < r->nitems; i++) {
		size_t start = (size_t)(uintptr_t)r->answers[i].line, end = r->items[i].end;

		broken = start != at || end <= start || end > *buflen || (*buf)[end - 1] != '\n';
		at = end;
	}
	if (scratch != NULL)
		fclose(scratch);
	free(sbuf);
	if (broken) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->nitems; i++)
		r->answers[i].line = *buf + (uintptr_t)r->answers[i].line;
	return 0;
}

/*
 * When format_answers() had no memory: answers every item of the batch on standard output
 * with an error line written from the stack, so that each input read still gets exactly one
 * answer. Takes nothing from the heap. As write_stdout().
 */
static int answer_without_memory(struct run *r, size_t *whole)
{
	static const char reason[] = "out of memory: its result could not be put together (ENOMEM)";
	size_t done = 0, partial = 0, sent;
	int rc = 0;

	pthread_mutex_lock(&out_lock);
	for (; done < r->nitems && rc == 0; done++) {
		struct cli_item *it = &r->items[done];
		const char *entry = r->ins[done].entry;
		char head[96], tail[sizeof(reason) + 128];
		const char *part[6];
		/* The version its task ran against, as a line put together would state it. */
		uint64_t version = it->error[0] == '\0' && r->results[it->slot].version != 0
					   ? r->results[it->slot].version
					   : cfgpool_pool_version(r->pool);

		it->failed = true;
		it->end = 0;
		r->answers[done] = (struct run_answer){.in = &r->ins[done], .id = it->id, .id_len = it->id_len,
						       .version = version, .line = ""};
		if (it->id != NULL)
			snprintf(head, sizeof(head), "{\"id\":");
		else
			snprintf(head, sizeof(head), "{\"id\":%lu", it->line);
		snprintf(tail, sizeof(tail),
			 ",\"config_version\":%llu,\"elapsed_us\":0,\"error\":{\"line\":%lu,\"message\":\"%s\"}}\n",
			 (unsigned long long)r->answers[done].version, it->line, reason);
		/* {"id":ID[,"entry":"E"],...}: an entry's ID is its stream's, digits and one '-'. */
		part[0] = head;
		part[1] = it->id != NULL ? it->id : "";
		part[2] = entry != NULL ? ",\"entry\":\"" : "";
		part[3] = entry != NULL ? entry : "";
		part[4] = entry != NULL ? "\"" : "";
		part[5] = tail;
		partial = 0;
		for (int k = 0; k < 6 && rc == 0; k++) {
			size_t n = k == 1 && it->id != NULL ? it->id_len : strlen(part[k]); /* the id: its own length */

			rc = write_all(STDOUT_FILENO, part[k], n, &sent);
			partial += sent;
		}
	}
	if (rc != 0) {
		done--;
		take_back(partial);
	}
	pthread_mutex_unlock(&out_lock);
	*whole = done;
	return rc;
}

/*
 * Runs the batch, writes its results in input order, acknowledges what came from a stream,
 * empties it. 0, -errno when standard output failed, or 1 when a stream failed (said, and
 * r->status set).
 */
static int flush_batch(struct run *r)
{
	size_t buflen = 0, whole = 0;
	char *buf = NULL;
	int rc = 0;

	if (r->nitems == 0)
		return 0;
	/* A failing item is reported in its result line; the others run regardless. A map
	 * that ran nothing (-ESHUTDOWN, -EAGAIN, -EINVAL, -EDEADLK) leaves the results as they
	 * were: each of its items is answered with that error instead. */
	if (r->nvalid > 0) {
#if CLI_REDIS
		if (r->source != NULL)
			stream_source_running(r->source, true);
#endif
		int mrc = cfgpool_pool_map(r->pool, r->inputs, 0, r->outputs, 0, r->nvalid, r->results, 0);

#if CLI_REDIS
		if (r->source != NULL)
			stream_source_running(r->source, false);
#endif
		for (size_t i = 0; mrc != 0 && mrc != CFGPOOL_EKERNEL && i < r->nvalid; i++)
			r->results[i] = (cfgpool_result_t){.status = mrc};
	}

	if (format_answers(r, &buf, &buflen) != 0) {
#if CLI_REDIS
		if (r->sink != NULL) {
			/* Writing to the sink needs memory too: nothing is written or acknowledged. */
			cli_err("out of memory putting together the results of lines %lu to %lu: not written to the "
				"sink%s",
				r->items[0].line, r->items[r->nitems - 1].line,
				r->source != NULL ? "; their entries stay pending and are delivered again" : "");
			r->status = EXIT_SOME_FAILED;
			rc = 1;
		} else
#endif
		{
			cli_err("out of memory putting together the results of lines %lu to %lu: each is answered "
				"with an error",
				r->items[0].line, r->items[r->nitems - 1].line);
			rc = answer_without_memory(r, &whole);
		}
	} else {
#if CLI_REDIS
		if (r->sink != NULL) {
			int src = stream_sink_write(r->sink, r->answers, r->nitems);

			whole = src == 0 ? r->nitems : 0;
			if (src != 0) {
				r->status = src == -2 ? EXIT_REDIS_LOST : EXIT_SOME_FAILED;
				rc = 1;
			}
		} else
#endif
			rc = write_stdout(r, buf, buflen, &whole);
	}
#if CLI_REDIS
	/* Results on standard output: acknowledged once written, so a crash in between
	 * answers them again (at least once). */
	if (r->sink == NULL && r->source != NULL && whole > 0) {
		int arc = stream_source_ack(r->source, r->answers, whole);

		if (arc != 0) {
			r->status = arc == -2 ? EXIT_REDIS_LOST : EXIT_SOME_FAILED;
			rc = rc ? rc : 1;
		}
	}
#endif
	for (size_t i = 0; i < r->nitems; i++) {
		if (i < whole) {
			r->done++;
			r->failed += r->items[i].failed;
		}
		free(r->items[i].id);
		r->items[i].id = NULL;
	}
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
	      "       cfgpool run -c CONFIG --source URL [--sink URL] [OPTION]...\n"
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
	      "      --source URL      read inputs from a Redis stream's consumer group instead:\n"
	      "                        redis://HOST:PORT/STREAM?group=GROUP&consumer=NAME or\n"
	      "                        unix:///PATH/redis.sock?stream=STREAM&group=GROUP&consumer=NAME\n"
	      "      --sink URL        write results to a Redis stream (redis://HOST:PORT/STREAM or\n"
	      "                        unix:///PATH/redis.sock?stream=STREAM) instead of standard output\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "SIGHUP reloads CONFIG (a broken file is reported and the old one stays).\n"
	      "SIGINT/SIGTERM: stop reading and answer every line already read (an unterminated last\n"
	      "one with an error); a second one exits at once, even if standard output is blocked,\n"
	      "and the last line written may then be cut.\n"
	      "Exit status, with or without a signal: 0 every input succeeded, 1 some failed or the\n"
	      "output could not be written, 2 usage or configuration error, or no thread or file\n"
	      "descriptor to start with, 3 the Redis server was lost for longer than reconnect_ms,\n"
	      "4 a batch from a stream ran longer than its task_timeout_ms.\n",
	      f);
}

static int parse_args(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"batch", required_argument, NULL, 'b'},
		{"linger-ms", required_argument, NULL, 'l'}, {"quiet", no_argument, NULL, 'q'},
		{"stats", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
		{"source", required_argument, NULL, 'S'}, {"sink", required_argument, NULL, 'K'}, {NULL, 0, NULL, 0},
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
		case 'S':
			s->source = optarg;
			break;
		case 'K':
			s->sink = optarg;
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
	if (s->source != NULL && optind < argc) {
		cli_err("run: an INPUT and --source both name where inputs come from: give one");
		return -1;
	}
	s->input = optind < argc ? argv[optind] : "-";
	return 0;
}

static void print_stats(const struct run *r, json_t *extra)
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
	json_object_update(o, extra);
	text = json_dumps(o, JSON_COMPACT);
	fprintf(stderr, "%s\n", text ? text : "{}");
	free(text);
	json_decref(o);
}

/*
 * The config's "source" and "sink" sections, read once at start (a reload changes the
 * pool's configuration only). 0, or the exit status to return.
 */
static int stream_sections(struct run *r, json_t **root, const json_t **source, const json_t **sink)
{
	json_error_t jerr;

	*root = json_load_file(r->s.config, JSON_REJECT_DUPLICATES, &jerr);
	*source = json_object_get(*root, "source");
	*sink = json_object_get(*root, "sink");
	if ((*source != NULL && !json_is_object(*source)) || (*sink != NULL && !json_is_object(*sink))) {
		cli_err("%s: \"%s\" must be an object with a \"url\"", r->s.config,
			*source != NULL && !json_is_object(*source) ? "source" : "sink");
		return EXIT_USAGE;
	}
#if !CLI_REDIS
	if (r->s.source || r->s.sink || *source || *sink) {
		cli_err("run: %s: this cfgpool was built without Redis support (configure --with-redis, with "
			"libhiredis-dev installed)",
			r->s.source ? "--source" : r->s.sink ? "--sink" : *source ? "the config's source section"
										  : "the config's sink section");
		return EXIT_USAGE;
	}
#endif
	return 0;
}

/* Opens the stream source and sink, when there are any; 0 or the exit status to return. */
static int open_streams(struct run *r)
{
	json_t *root;
	const json_t *source, *sink;
	int st = stream_sections(r, &root, &source, &sink);

#if CLI_REDIS
	if (st == 0 && (r->s.source || source) && strcmp(r->s.input, "-") != 0) {
		cli_err("run: an INPUT and a source both name where inputs come from: give one");
		st = EXIT_USAGE;
	}
	if (st == 0 && (r->s.source || source))
		st = stream_source_open(r->s.source, source, r->s.batch, r->s.linger_ms, &r->source);
	if (st == 0 && (r->s.sink || sink))
		st = stream_sink_open(r->s.sink, sink, r->source, &r->sink);
#else
	(void)source;
	(void)sink;
#endif
	json_decref(root);
	return st;
}

/* Opens everything; 0 or the exit status to return. */
static int setup(struct run *r, struct reader *rd)
{
	cfgpool_error_t err;
	char msg[1024];
	int st;

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
	r->ins = calloc(r->s.batch, sizeof(*r->ins));
	r->answers = calloc(r->s.batch, sizeof(*r->answers));
	r->inputs = calloc(r->s.batch, r->kernel->input_size);
	r->outputs = calloc(r->s.batch, r->kernel->output_size);
	r->results = calloc(r->s.batch, sizeof(*r->results));
	rd->cap = CLI_MAX_LINE + 65536;
	rd->buf = malloc(rd->cap);
	if (!r->items || !r->inputs || !r->outputs || !r->results || !rd->buf || !r->ins || !r->answers) {
		cli_err("out of memory");
		return EXIT_USAGE;
	}
	st = open_streams(r);
	if (st != 0)
		return st;
	r->progress = !r->s.quiet && isatty(STDERR_FILENO);
	r->start_ns = now_ns();
	return 0;
}

static void teardown(struct run *r, struct reader *rd)
{
	json_t *extra = json_object();

#if CLI_REDIS
	stream_source_close(r->source, r->s.stats ? extra : NULL);
	stream_sink_close(r->sink);
#endif
	if (r->pool != NULL) {
		if (r->s.stats)
			print_stats(r, extra);
		cfgpool_pool_close(r->pool, CFGPOOL_CLOSE_DRAIN);
	}
	json_decref(extra);
	if (rd->fd > STDIN_FILENO)
		close(rd->fd);
	free(rd->buf);
	free(r->items);
	free(r->ins);
	free(r->answers);
	free(r->inputs);
	free(r->outputs);
	free(r->results);
	cfgpool_writer_destroy(r->conv.writer);
}

/* The next input from the stream source, or else from the lines. */
static int next_input(struct run *r, struct reader *rd, int timeout, struct run_input *in)
{
	char *line;
	size_t len;
	int kind, got;

#if CLI_REDIS
	if (r->source != NULL)
		return stream_source_next(r->source, timeout, in);
#endif
	got = next_line(rd, timeout, &line, &len, &kind);
	if (got == LINE)
		*in = (struct run_input){.text = line, .len = len, .kind = kind};
	return got;
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
		struct run_input in;

		if (atomic_exchange_explicit(&reload_requested, false, memory_order_relaxed))
			reload(&r);
		/* Finish what was read: every line already in the buffer, and no more read(); every
		 * entry a stream gave, and no more XREADGROUP. */
		if (atomic_load_explicit(&run_stop_requested, memory_order_relaxed)) {
			rd.stopped = true;
#if CLI_REDIS
			if (r.source != NULL)
				stream_source_stop(r.source);
#endif
		}
		if (r.nitems > 0) {
			uint64_t now = now_ns();

			timeout = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		}
		got = next_input(&r, &rd, timeout, &in);
		if (got == LINE) {
			if (in.entry == NULL && in.kind != CLI_TOO_LONG && cli_line_is_blank(in.text, in.len)) {
				r.lines++; /* not an input, but still a line of the file */
				continue;
			}
			if (r.nitems == 0)
				deadline = now_ns() + (uint64_t)r.s.linger_ms * 1000000u;
			add_input(&r, &in);
			if (r.nitems < r.s.batch)
				continue;
		} else if (got == WOKEN) {
			continue;
		} else if (got == READ_ERROR) {
			cli_err("reading %s: %s", r.s.input, strerror(errno));
			r.status = EXIT_SOME_FAILED;
		}
		int wrc = flush_batch(&r);

		if (wrc < 0) {
			cli_err("writing results: %s", strerror(-wrc));
			r.status = EXIT_SOME_FAILED;
			break;
		}
		if (wrc > 0)
			break;
		if (got == END || got == READ_ERROR)
			break;
	}
	if (flush_batch(&r) != 0 && r.status == 0)
		r.status = EXIT_SOME_FAILED;
#if CLI_REDIS
	if (r.source != NULL && r.status == 0)
		r.status = stream_source_status(r.source);
#endif
	show_progress(&r, true);
	teardown(&r, &rd);
	if (r.status == 0 && r.failed > 0)
		r.status = EXIT_SOME_FAILED;
	return r.status;
}
