/*
 * The Redis Streams source and sink of `cfgpool run` (run.h).
 *
 * The source's reading thread owns one connection and fetches batches with XREADGROUP:
 * first this consumer's own pending entries (ID 0, following the last ID read), then, in
 * turn, entries idle longer than claim_idle_ms in the whole group (XAUTOCLAIM, following
 * its cursor) and new entries (">", COUNT batch, BLOCK linger). Entries that were
 * delivered before (pending or claimed) have their delivery count read with XPENDING; one
 * delivered more than max_deliveries times is handed out marked dead, to be answered with
 * an error and dead-lettered instead of run. Each batch is handed to the main thread through
 * a one-slot mailbox, so the next batch is fetched while the pool computes the current one;
 * a byte on `ready` wakes the main thread's poll().
 *
 * The main thread owns a second connection, the sink's (or the source's own for
 * acknowledging when results go to standard output): answers are written, guarded and
 * acknowledged by the answer script (redis.c) in one step.
 *
 * Lock order: `lock` only, never held across a Redis command or a write to `ready`.
 * Shared fields (struct stream_source): slot, holding, ended, status, stopping, running,
 * running_since, running_batch, closing: under lock.
 *
 * With task_timeout_ms, a watchdog thread ends the process (status 4) when a batch has
 * been in the pool longer than that: a kernel cannot be stopped from outside, so the
 * process goes, like one that crashed, and its entries stay pending, to be delivered again
 * one at a time and dead-lettered after max_deliveries.
 *
 * Entries delivered before (this consumer's pending ones, and claimed ones) may be the
 * poison that killed a consumer: they are read one at a time (COUNT 1) and only once the
 * main thread has answered everything before them, so that each delivery count moves only
 * for the entry actually running, and an entry that kills its consumer does not take the
 * delivery counts of its neighbours with it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "redis.h"
#include "run.h"

struct entry {
	char *eid;
	char *input;
	size_t input_len;
	char *id;
	size_t id_len;
	long deliveries;
	char *dead;
};

struct batch {
	struct entry *e;
	size_t n;
};

struct stream_source {
	struct cli_redis_url url;
	struct cli_redis rd;  /* the reading thread's */
	struct cli_redis ack; /* the main thread's, for stream_source_ack() */
	bool ack_open;
	size_t count;
	int linger_ms;
	pthread_t thread;
	bool started;
	int ready[2];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch *slot; /* fetched, not yet taken */
	bool holding;       /* the main thread has a batch it has not answered yet */
	bool ended;         /* the thread will post nothing more */
	bool stopping;
	int status;
	bool running;               /* the main thread has a batch in the pool */
	uint64_t running_since;     /* mono_ms() when it went in */
	const struct batch *running_batch;
	bool closing;
	pthread_cond_t wd_cond;     /* the watchdog's, on CLOCK_MONOTONIC */
	pthread_t wd;
	bool wd_started;

	/* The main thread's. */
	struct batch *cur, *prev;
	size_t next;
	bool flushed;

	/* The reading thread's counts, read after it was joined. */
	unsigned long read, claimed, dead, deleted, redelivered;
	unsigned long prefetched; /* batches fetched while the main thread had one (under lock) */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void free_batch(struct batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->e[i].eid);
		free(b->e[i].input);
		free(b->e[i].id);
		free(b->e[i].dead);
	}
	free(b->e);
	free(b);
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* ------------------------------------------------------------------------------------------ */
/* The reading thread                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Ends the thread's work with `status` (already said), handing out what it has. */
static void fail(struct stream_source *s, int status)
{
	pthread_mutex_lock(&s->lock);
	if (s->status == 0)
		s->status = status;
	pthread_mutex_unlock(&s->lock);
}

static bool stopping(struct stream_source *s)
{
	bool v;

	pthread_mutex_lock(&s->lock);
	v = s->stopping || s->status != 0;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* Hands a batch to the main thread, waiting while the slot is full. */
static void post(struct stream_source *s, struct batch *b)
{
	pthread_mutex_lock(&s->lock);
	/* Fetched while the main thread had a batch to answer: the pipelining --stats shows. */
	if (s->holding || s->slot != NULL)
		s->prefetched++;
	while (s->slot != NULL)
		pthread_cond_wait(&s->cond, &s->lock);
	s->slot = b;
	pthread_mutex_unlock(&s->lock);
	if (write(s->ready[1], "b", 1) < 0 && errno != EAGAIN)
		cli_err("cannot wake the main thread: %s", strerror(errno));
}

/*
 * Turns an array of [id, [field, value, ...]] (XREADGROUP's and XAUTOCLAIM's entries) into
 * a batch. An entry without fields was deleted while pending (only history reads show
 * those): it is counted, said, and acknowledged, since there is nothing to answer.
 */
static struct batch *to_batch(struct stream_source *s, const redisReply *arr)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (b == NULL || (arr->elements > 0 && (b->e = calloc(arr->elements, sizeof(*b->e))) == NULL)) {
		free(b);
		return NULL;
	}
	for (size_t i = 0; i < arr->elements; i++) {
		const redisReply *en = arr->element[i];
		struct entry *e = &b->e[b->n];

		if (en->type != REDIS_REPLY_ARRAY || en->elements < 2 || en->element[0]->type != REDIS_REPLY_STRING)
			continue;
		if (en->element[1]->type != REDIS_REPLY_ARRAY) {
			redisReply *rep;

			s->deleted++;
			cli_err("%s: entry %s was deleted while pending; acknowledged without an answer", s->url.text,
				en->element[0]->str);
			rep = cli_redis_cmd(&s->rd, "XACK %s %s %s", s->url.stream, s->url.group, en->element[0]->str);
			if (rep)
				freeReplyObject(rep);
			continue;
		}
		const redisReply *f = en->element[1];

		e->eid = dup_n(en->element[0]->str, en->element[0]->len);
		for (size_t k = 0; k + 1 < f->elements; k += 2) {
			const char *name = f->element[k]->str;
			const redisReply *v = f->element[k + 1];

			if (name == NULL || v->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(name, "input") == 0 && e->input == NULL) {
				e->input = dup_n(v->str, v->len);
				e->input_len = v->len;
			} else if (strcmp(name, "id") == 0 && e->id == NULL) {
				e->id = dup_n(v->str, v->len);
				e->id_len = v->len;
			}
		}
		b->n++;
	}
	return b;
}

/*
 * Reads the delivery counts of entries delivered before (XPENDING over their ID range, for
 * this consumer, who holds them now) and marks those delivered too often.
 */
static int mark_redelivered(struct stream_source *s, struct batch *b)
{
	redisReply *rep;
	size_t j = 0;

	if (b->n == 0)
		return 0;
	rep = cli_redis_cmd(&s->rd, "XPENDING %s %s %s %s %lu %s", s->url.stream, s->url.group, b->e[0].eid,
			    b->e[b->n - 1].eid, (unsigned long)(b->n * 2 + 16), s->url.consumer);
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY) {
		cli_err("%s: XPENDING: %s", s->url.text, rep->str ? rep->str : "unexpected reply");
		freeReplyObject(rep);
		return -1;
	}
	/* Both lists are in ID order. */
	for (size_t i = 0; i < rep->elements && j < b->n; i++) {
		const redisReply *p = rep->element[i];

		if (p->type != REDIS_REPLY_ARRAY || p->elements < 4)
			continue;
		while (j < b->n && strcmp(b->e[j].eid, p->element[0]->str) != 0)
			j++;
		if (j == b->n)
			break;
		b->e[j].deliveries = p->element[3]->integer;
		if (b->e[j].deliveries > 1)
			s->redelivered++;
		if (b->e[j].deliveries > s->url.max_deliveries) {
			char why[256];

			snprintf(why, sizeof(why),
				 "delivered %ld times without an answer (max_deliveries %ld): its consumer died, ran "
				 "past task_timeout_ms or did not answer within claim_idle_ms %ld",
				 b->e[j].deliveries, s->url.max_deliveries, s->url.claim_idle_ms);
			b->e[j].dead = strdup(why);
			s->dead++;
			cli_err("%s: entry %s %s; dead-lettered to %s", s->url.text, b->e[j].eid, why, s->url.dead_letter);
		}
		j++;
	}
	freeReplyObject(rep);
	return 0;
}

static int create_group(struct cli_redis *c, const struct cli_redis_url *u)
{
	redisReply *rep = cli_redis_cmd(c, "XGROUP CREATE %s %s 0 MKSTREAM", u->stream, u->group);
	int rc = 0;

	if (rep == NULL)
		return EXIT_REDIS_LOST;
	if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) != 0) {
		cli_err("%s: cannot create the group %s: %s", u->text, u->group, rep->str);
		rc = EXIT_USAGE;
	}
	freeReplyObject(rep);
	return rc;
}

/* An error reply of a group command: the group is created again if it is gone. */
static int on_error(struct stream_source *s, const redisReply *rep, const char *what)
{
	if (strncmp(rep->str, "NOGROUP", 7) == 0) {
		cli_err("%s: the group %s is gone (%s); creating it again", s->url.text, s->url.group, what);
		return create_group(&s->rd, &s->url);
	}
	if (strstr(rep->str, "unknown command") != NULL) {
		cli_err("%s: the server does not know %s: Redis 6.2 or later is needed (%s)", s->url.text, what,
			rep->str);
		return EXIT_USAGE;
	}
	cli_err("%s: %s: %s", s->url.text, what, rep->str);
	return EXIT_USAGE;
}

/* Waits until the main thread has answered every batch it was given. */
static void wait_idle(struct stream_source *s)
{
	pthread_mutex_lock(&s->lock);
	while ((s->slot != NULL || s->holding) && !s->stopping)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void *reader(void *arg)
{
	struct stream_source *s = arg;
	char cursor[64] = "0", claim[64] = "0-0", block[24];
	bool history = true;
	uint64_t next_claim = 0;
	unsigned long seen_reconnects = 0;
	char count[24];

	snprintf(count, sizeof(count), "%zu", s->count);
	snprintf(block, sizeof(block), "%d", s->linger_ms > 0 ? s->linger_ms : 1);
	while (!stopping(s)) {
		redisReply *rep;
		struct batch *b = NULL;
		bool again = false; /* delivered before: read the delivery counts */
		bool claiming = !history && mono_ms() >= next_claim;

		if (history || claiming) {
			wait_idle(s);
			if (stopping(s))
				break;
		}
		if (history) {
			rep = cli_redis_cmd(&s->rd, "XREADGROUP GROUP %s %s COUNT 1 STREAMS %s %s", s->url.group,
					    s->url.consumer, s->url.stream, cursor);
			again = true;
		} else if (claiming) {
			char idle[24];

			snprintf(idle, sizeof(idle), "%ld", s->url.claim_idle_ms);
			rep = cli_redis_cmd(&s->rd, "XAUTOCLAIM %s %s %s %s %s COUNT 1", s->url.stream, s->url.group,
					    s->url.consumer, idle, claim);
			again = true;
		} else {
			const char *argv[] = {"XREADGROUP", "GROUP", s->url.group, s->url.consumer, "COUNT", count,
					      "BLOCK", block, "STREAMS", s->url.stream, ">"};

			rep = cli_redis_argv(&s->rd, 11, argv, NULL);
		}
		if (rep == NULL) {
			fail(s, EXIT_REDIS_LOST);
			break;
		}
		/* Replies may have been lost with the connection: what they delivered is in this
		 * consumer's pending entries, read again from the start. */
		if (s->rd.reconnects != seen_reconnects) {
			seen_reconnects = s->rd.reconnects;
			freeReplyObject(rep);
			history = true;
			snprintf(cursor, sizeof(cursor), "0");
			continue;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			int st = on_error(s, rep, claiming ? "XAUTOCLAIM" : "XREADGROUP");

			freeReplyObject(rep);
			if (st != 0) {
				fail(s, st);
				break;
			}
			continue;
		}
		if (history) {
			/* [[stream, [entries]]]; an empty list: no more pending entries. */
			const redisReply *entries = rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
							    rep->element[0]->elements == 2
						    ? rep->element[0]->element[1]
						    : NULL;

			if (entries == NULL || entries->elements == 0) {
				history = false;
			} else {
				const redisReply *last = entries->element[entries->elements - 1];

				snprintf(cursor, sizeof(cursor), "%s", last->element[0]->str);
				b = to_batch(s, entries);
			}
		} else if (claiming) {
			/* [cursor, [entries], [deleted ids]] (the third since Redis 7.0). */
			if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
				snprintf(claim, sizeof(claim), "%s", rep->element[0]->str);
				if (rep->elements >= 3) {
					for (size_t i = 0; i < rep->element[2]->elements; i++) {
						s->deleted++;
						cli_err("%s: pending entry %s was deleted from the stream before it was "
							"answered; XAUTOCLAIM dropped it from the group",
							s->url.text, rep->element[2]->element[i]->str);
					}
				}
				if (rep->element[1]->elements > 0) {
					b = to_batch(s, rep->element[1]);
					if (b)
						s->claimed += b->n;
				}
			}
			/* A whole pass done: the next one once entries may have become idle. */
			if (strcmp(claim, "0-0") == 0)
				next_claim = mono_ms() + (uint64_t)(s->url.claim_idle_ms / 4 + 1);
		} else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
			b = to_batch(s, rep->element[0]->element[1]);
			again = false;
		}
		freeReplyObject(rep);
		if (b == NULL)
			continue;
		if (again && mark_redelivered(s, b) != 0) {
			free_batch(b);
			fail(s, EXIT_REDIS_LOST);
			break;
		}
		if (b->n == 0) {
			free_batch(b);
			continue;
		}
		s->read += b->n;
		post(s, b);
	}
	pthread_mutex_lock(&s->lock);
	s->ended = true;
	pthread_mutex_unlock(&s->lock);
	if (write(s->ready[1], "e", 1) < 0 && errno != EAGAIN)
		cli_err("cannot wake the main thread: %s", strerror(errno));
	return NULL;
}

/* Ends the process when a batch stays in the pool longer than task_timeout_ms. */
static void *watchdog(void *arg)
{
	struct stream_source *s = arg;
	uint64_t limit = (uint64_t)s->url.task_timeout_ms;

	pthread_mutex_lock(&s->lock);
	while (!s->closing) {
		uint64_t now = mono_ms();

		if (!s->running) {
			pthread_cond_wait(&s->wd_cond, &s->lock);
			continue;
		}
		if (now - s->running_since >= limit) {
			const struct batch *b = s->running_batch;

			cli_err("%s: a batch of %zu entries (%s to %s) ran longer than task_timeout_ms %ld; exiting, "
				"leaving them pending",
				s->url.text, b ? b->n : 0, b && b->n ? b->e[0].eid : "?", b && b->n ? b->e[b->n - 1].eid : "?",
				s->url.task_timeout_ms);
			_exit(EXIT_TASK_TIMEOUT);
		}
		uint64_t due = s->running_since + limit;
		struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000L};

		pthread_cond_timedwait(&s->wd_cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void stream_source_running(struct stream_source *s, bool on)
{
	if (!s->wd_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->running = on;
	s->running_since = mono_ms();
	s->running_batch = s->cur;
	pthread_cond_signal(&s->wd_cond);
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* The source, on the main thread                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Parses a URL and fills it from its section; 0 or EXIT_USAGE (said). */
static int open_url(const char *what, const char *text, const json_t *section, bool source, struct cli_redis_url *u)
{
	char msg[512];

	if (text == NULL && section != NULL)
		text = json_string_value(json_object_get(section, "url"));
	if (text == NULL) {
		cli_err("%s: the config's \"%s\" section has no \"url\"", what, what);
		return EXIT_USAGE;
	}
	if (cli_redis_url_parse(text, u, msg, sizeof(msg)) != 0 ||
	    (section != NULL && cli_redis_url_merge(u, section, msg, sizeof(msg)) != 0)) {
		cli_err("--%s %s: %s", what, text, msg);
		return EXIT_USAGE;
	}
	cli_redis_url_defaults(u);
	if (u->stream == NULL) {
		cli_err("--%s %s: no stream named (redis://HOST:PORT/STREAM, or ?stream=STREAM)", what, text);
		return EXIT_USAGE;
	}
	if (source && u->group == NULL) {
		cli_err("--%s %s: no consumer group named (?group=GROUP)", what, text);
		return EXIT_USAGE;
	}
	return 0;
}

int stream_source_open(const char *url, const json_t *section, size_t batch, int linger_ms,
		       struct stream_source **out)
{
	struct stream_source *s = calloc(1, sizeof(*s));
	int st;

	*out = s;
	if (s == NULL)
		return EXIT_USAGE;
	pthread_condattr_t monotonic;

	s->ready[0] = s->ready[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wd_cond, &monotonic);
	pthread_condattr_destroy(&monotonic);
	s->count = batch;
	s->linger_ms = linger_ms;
	st = open_url("source", url, section, true, &s->url);
	if (st != 0)
		return st;
	/* A blocked read waits linger_ms; beyond that and a margin the server counts as lost. */
	if (cli_redis_open(&s->rd, &s->url, linger_ms + 10000) != 0)
		return EXIT_REDIS_LOST;
	st = create_group(&s->rd, &s->url);
	if (st != 0)
		return st;
	if (pipe2(s->ready, O_CLOEXEC | O_NONBLOCK) != 0) {
		cli_err("cannot make a pipe: %s", strerror(errno));
		return EXIT_USAGE;
	}
	errno = pthread_create(&s->thread, NULL, reader, s);
	if (errno != 0) {
		cli_err("cannot start the reading thread: %s", strerror(errno));
		return EXIT_USAGE;
	}
	s->started = true;
	if (s->url.task_timeout_ms > 0) {
		errno = pthread_create(&s->wd, NULL, watchdog, s);
		if (errno != 0) {
			cli_err("cannot start the watchdog thread: %s", strerror(errno));
			return EXIT_USAGE;
		}
		s->wd_started = true;
	}
	return 0;
}

void stream_source_stop(struct stream_source *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void to_input(const struct entry *e, struct run_input *in)
{
	*in = (struct run_input){.text = e->input ? e->input : "", .len = e->input ? e->input_len : 0,
				 .kind = CLI_WHOLE, .entry = e->eid, .id = e->id, .id_len = e->id_len,
				 .deliveries = e->deliveries, .dead = e->dead};
}

int stream_source_next(struct stream_source *s, int timeout_ms, struct run_input *in)
{
	for (;;) {
		if (s->cur != NULL && s->next < s->cur->n) {
			to_input(&s->cur->e[s->next++], in);
			return RUN_ITEM;
		}
		if (s->cur != NULL && !s->flushed) {
			s->flushed = true;
			return RUN_FLUSH;
		}
		/* The batch before last is answered now: its texts are no longer read. */
		free_batch(s->prev);
		s->prev = s->cur;
		s->cur = NULL;

		pthread_mutex_lock(&s->lock);
		s->holding = false;
		if (s->slot != NULL) {
			s->cur = s->slot;
			s->slot = NULL;
			s->next = 0;
			s->flushed = false;
			s->holding = true;
		}
		pthread_cond_broadcast(&s->cond);
		bool ended = s->ended && s->cur == NULL;

		pthread_mutex_unlock(&s->lock);
		if (s->cur != NULL)
			continue;
		if (ended)
			return RUN_END;

		struct pollfd fds[2] = {{.fd = s->ready[0], .events = POLLIN}, {.fd = run_wake_fd, .events = POLLIN}};
		int n = poll(fds, 2, timeout_ms);
		char buf[64];

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return RUN_READ_ERROR;
		if (n == 0)
			return RUN_TIMEOUT;
		if (fds[0].revents & POLLIN)
			while (read(s->ready[0], buf, sizeof(buf)) > 0)
				;
		if (fds[1].revents & POLLIN)
			return RUN_WOKEN;
	}
}

/* Whether two URLs name one server. */
static bool same_server(const struct cli_redis_url *a, const struct cli_redis_url *b)
{
	if (a->path || b->path)
		return a->path && b->path && strcmp(a->path, b->path) == 0;
	return strcmp(a->host, b->host) == 0 && a->port == b->port;
}

/* Fills the script's answers from the run loop's. */
static struct cli_redis_answer *to_answers(const struct run_answer *a, size_t n)
{
	struct cli_redis_answer *r = calloc(n ? n : 1, sizeof(*r));

	for (size_t i = 0; r != NULL && i < n; i++) {
		const struct run_input *in = a[i].in;

		r[i] = (struct cli_redis_answer){.entry = in->entry, .id = a[i].id, .id_len = a[i].id_len,
						 .version = a[i].version, .line = a[i].line, .line_len = a[i].len,
						 .reason = in->dead, .deliveries = in->deliveries};
		if (in->dead) {
			r[i].input = in->text;
			r[i].input_len = in->len;
		}
	}
	return r;
}

int stream_source_ack(struct stream_source *s, const struct run_answer *a, size_t n)
{
	struct cli_redis_answer *r;
	int rc;

	if (n == 0)
		return 0;
	if (!s->ack_open) {
		if (cli_redis_open(&s->ack, &s->url, 10000) != 0)
			return -2;
		s->ack_open = true;
	}
	r = to_answers(a, n);
	if (r == NULL)
		return -1;
	rc = cli_redis_answer(&s->ack, s->url.stream, s->url.group, NULL, NULL, s->url.dead_letter, r, n);
	free(r);
	return rc;
}

int stream_source_status(const struct stream_source *s)
{
	int st;

	pthread_mutex_lock((pthread_mutex_t *)&s->lock);
	st = s->status;
	pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
	return st;
}

void stream_source_close(struct stream_source *s, json_t *stats)
{
	if (s == NULL)
		return;
	if (s->started) {
		stream_source_stop(s);
		/* The thread may wait for the slot: empty it. */
		pthread_mutex_lock(&s->lock);
		while (!s->ended) {
			free_batch(s->slot);
			s->slot = NULL;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			struct pollfd fd = {.fd = s->ready[0], .events = POLLIN};
			char buf[64];

			(void)poll(&fd, 1, 100);
			while (read(s->ready[0], buf, sizeof(buf)) > 0)
				;
			pthread_mutex_lock(&s->lock);
		}
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	if (s->wd_started) {
		pthread_mutex_lock(&s->lock);
		s->closing = true;
		pthread_cond_signal(&s->wd_cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->wd, NULL);
	}
	if (stats != NULL) {
		json_object_set_new(
			stats, "source",
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:I}", "read", (json_int_t)s->read,
				  "claimed", (json_int_t)s->claimed, "redelivered", (json_int_t)s->redelivered,
				  "dead_lettered", (json_int_t)s->dead, "deleted", (json_int_t)s->deleted, "prefetched",
				  (json_int_t)s->prefetched, "consumer", s->url.consumer, "dead_letter",
				  s->url.dead_letter, "max_deliveries", (json_int_t)s->url.max_deliveries,
				  "claim_idle_ms", (json_int_t)s->url.claim_idle_ms, "reconnect_ms",
				  (json_int_t)s->url.reconnect_ms));
		json_object_set_new(json_object_get(stats, "source"), "task_timeout_ms",
				    json_integer(s->url.task_timeout_ms));
		json_object_set_new(json_object_get(stats, "source"), "guard_keep_ms",
				    json_integer(s->url.guard_keep_ms));
	}
	free_batch(s->slot);
	free_batch(s->cur);
	free_batch(s->prev);
	if (s->ready[0] >= 0) {
		close(s->ready[0]);
		close(s->ready[1]);
	}
	cli_redis_close(&s->rd);
	cli_redis_close(&s->ack);
	cli_redis_url_free(&s->url);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->wd_cond);
	free(s);
}

/* ------------------------------------------------------------------------------------------ */
/* The sink                                                                                   */
/* ------------------------------------------------------------------------------------------ */

struct stream_sink {
	struct cli_redis_url url;
	struct cli_redis c;
	struct stream_source *source;
	bool together; /* source and sink on one server: one script does both */
	struct cli_redis_guard guard; /* with a source only */
	char *names;                  /* the guard's hash and clock names */
};

int stream_sink_open(const char *url, const json_t *section, struct stream_source *source,
		     struct stream_sink **out)
{
	struct stream_sink *k = calloc(1, sizeof(*k));
	int st;
	size_t n;

	*out = k;
	if (k == NULL)
		return EXIT_USAGE;
	st = open_url("sink", url, section, false, &k->url);
	if (st != 0)
		return st;
	k->source = source;
	k->together = source != NULL && same_server(&source->url, &k->url);
	if (source != NULL) {
		/* One guard per sink and input stream: the entry IDs answered, each with its result's
		 * ID, and when each was answered (a name no stream's guard can have). */
		n = strlen(k->url.stream) + strlen(source->url.stream) + 16;
		k->names = malloc(2 * n);
		if (k->names == NULL)
			return EXIT_USAGE;
		snprintf(k->names, n, "%s:answered:%s", k->url.stream, source->url.stream);
		snprintf(k->names + n, n, "%s:answered-at:%s", k->url.stream, source->url.stream);
		k->guard = (struct cli_redis_guard){.hash = k->names, .clock = k->names + n,
						    .keep_ms = source->url.guard_keep_ms};
	}
	if (cli_redis_open(&k->c, &k->url, 10000) != 0)
		return EXIT_REDIS_LOST;
	return 0;
}

int stream_sink_write(struct stream_sink *k, const struct run_answer *a, size_t n)
{
	const struct stream_source *s = k->source;
	struct cli_redis_answer *r;
	int rc;

	if (n == 0)
		return 0;
	r = to_answers(a, n);
	if (r == NULL)
		return -1;
	if (k->together) {
		rc = cli_redis_answer(&k->c, s->url.stream, s->url.group, k->url.stream, &k->guard, s->url.dead_letter,
				      r, n);
	} else {
		/* Two servers: the guard keeps the results once each, then the source is
		 * acknowledged (and dead letters written) on its own server. */
		rc = cli_redis_answer(&k->c, NULL, NULL, k->url.stream, s ? &k->guard : NULL, NULL, r, n);
		if (rc == 0 && k->source != NULL)
			rc = stream_source_ack(k->source, a, n);
	}
	free(r);
	return rc;
}

void stream_sink_close(struct stream_sink *k)
{
	if (k == NULL)
		return;
	cli_redis_close(&k->c);
	cli_redis_url_free(&k->url);
	free(k->names);
	free(k);
}
