/*
 * The command's Redis side: stream URLs, one connection that comes back after a loss, and
 * the answer script. Used by the stream source and sink of `cfgpool run`, and by `cfgpool
 * feed` and `cfgpool collect`. Built only with hiredis (HAVE_REDIS).
 *
 * A connection (struct cli_redis) belongs to one thread at a time: hiredis contexts are not
 * thread-safe, so the stream source's reading thread and the main thread each have their
 * own.
 */
#ifndef CFGPOOL_SRC_CLI_REDIS_H
#define CFGPOOL_SRC_CLI_REDIS_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Exit statuses: the server was lost and did not come back within reconnect_ms; a batch
 * from the stream ran in the pool longer than task_timeout_ms.
 */
enum { EXIT_REDIS_LOST = 3, EXIT_TASK_TIMEOUT = 4 };

/*
 * A stream as a URL names it:
 *   redis://HOST[:PORT]/STREAM[?KEY=VALUE&...]
 *   unix:///PATH/TO/redis.sock?stream=STREAM[&KEY=VALUE...]
 * Keys: group, consumer (a source's), dead_letter, max_deliveries, claim_idle_ms,
 * reconnect_ms, task_timeout_ms, guard_keep_ms. Values are percent-decoded. Unset numbers are -1, unset strings NULL, until
 * cli_redis_url_defaults() fills them.
 */
struct cli_redis_url {
	char *text;     /* the URL as given, for messages */
	char *host;     /* NULL for a Unix socket */
	int port;
	char *path;     /* the socket's path, or NULL */
	char *stream;
	char *group;
	char *consumer;
	char *dead_letter;
	long max_deliveries;
	long claim_idle_ms;
	long reconnect_ms;
	long task_timeout_ms; /* 0: none */
	long guard_keep_ms;   /* how long a sink's guard remembers an answered entry; 0: for good */
};

/* Whether `text` is a URL this file parses (redis:// or unix://). */
bool cli_redis_is_url(const char *text);

/*
 * Parses `text` into *u; 0, or -1 with the reason in msg. *u is the caller's to free with
 * cli_redis_url_free() either way.
 */
int cli_redis_url_parse(const char *text, struct cli_redis_url *u, char *msg, size_t size);

/*
 * Fills what the URL left unset from a config section (an object holding "url" and the
 * same keys): the URL's own settings win. 0, or -1 with the reason in msg.
 */
int cli_redis_url_merge(struct cli_redis_url *u, const json_t *section, char *msg, size_t size);

/* Defaults: consumer = host name, dead_letter = STREAM:dead, max_deliveries 3, ... */
void cli_redis_url_defaults(struct cli_redis_url *u);

void cli_redis_url_free(struct cli_redis_url *u);

/* One connection and what reconnecting needs. */
struct cli_redis {
	const struct cli_redis_url *url;
	redisContext *c;
	int timeout_ms;          /* per command, beyond which the connection counts as lost */
	unsigned long reconnects; /* bumped by every reconnection: replies may have been lost */
	char sha[41];            /* the answer script's, loaded on each connection */
};

/*
 * Connects, retrying with backoff for up to url->reconnect_ms. 0, or -1 after saying why on
 * standard error.
 */
int cli_redis_open(struct cli_redis *r, const struct cli_redis_url *u, int timeout_ms);
void cli_redis_close(struct cli_redis *r);

/*
 * Runs one command and returns its reply (the caller frees it with freeReplyObject()). On
 * a lost connection it reconnects with backoff and sends the command again, so a command
 * must be safe to repeat; r->reconnects tells the caller that a reply may have been lost.
 * NULL when the server did not come back within reconnect_ms (said on standard error).
 * An error reply is returned as a reply.
 */
redisReply *cli_redis_argv(struct cli_redis *r, int argc, const char **argv, const size_t *lens);

/* The same with a printf-like format, as redisCommand() takes. */
redisReply *cli_redis_cmd(struct cli_redis *r, const char *fmt, ...);

/*
 * The answer script (the atomic step): for each answered entry, unless the guard hash
 * already holds its entry id, the result entry is added to the sink (and to the dead-letter
 * stream for a dead-lettered one) and the guard set; then the entry is acknowledged,
 * whether it was fresh or not. The guard forgets entries answered more than its keep time
 * ago (its clock, a sorted set, says when each was). Arguments as cli_redis_answer_args
 * builds them.
 */
struct cli_redis_answer {
	const char *entry;      /* the input entry's id, or NULL for an input from a line */
	const char *id;         /* the input id's JSON text */
	size_t id_len;
	uint64_t version;
	const char *line;       /* the result line, without its newline */
	size_t line_len;
	const char *input;      /* dead-lettered only: the input as the entry held it */
	size_t input_len;
	const char *reason;     /* non-NULL: dead-lettered, for this reason */
	long deliveries;
};

/* A sink's guard: the hash of answered entries, the sorted set of when each was answered,
 * and how long an entry is remembered (0: for good). */
struct cli_redis_guard {
	const char *hash;  /* SINK:answered:STREAM */
	const char *clock; /* SINK:answered-at:STREAM */
	long keep_ms;
};

/*
 * Writes n answers in one script call: to `sink` (NULL: none), acknowledging in `source`
 * / `group` (NULL: none), with `guard` (NULL: none), dead letters to `dead`. 0, -1 on a
 * server error (said), or -2 when the server was lost for good.
 */
int cli_redis_answer(struct cli_redis *r, const char *source, const char *group, const char *sink,
		     const struct cli_redis_guard *guard, const char *dead, const struct cli_redis_answer *a, size_t n);

/* The text of a string or status reply field, or NULL. */
const char *cli_redis_str(const redisReply *rep, size_t *len);

#endif /* CFGPOOL_SRC_CLI_REDIS_H */
