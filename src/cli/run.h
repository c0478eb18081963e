/*
 * What `cfgpool run` (run.c) shares with its stream source and sink (stream.c): the
 * source hands the run loop inputs one at a time and says where its batches end; the run
 * loop answers them and gives the answers back for writing and acknowledging.
 *
 * The line source lives in run.c; the stream source and sink exist only with Redis
 * support (CLI_REDIS).
 */
#ifndef CFGPOOL_SRC_CLI_RUN_H
#define CFGPOOL_SRC_CLI_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli.h"

/* What a source's next() returns. */
enum { RUN_ITEM, RUN_TIMEOUT, RUN_END, RUN_WOKEN, RUN_READ_ERROR, RUN_FLUSH };

/* One input as the source took it. */
struct run_input {
	const char *text; /* the input's JSON object (valid until the source's next batch) */
	size_t len;
	int kind;          /* CLI_WHOLE, CLI_TOO_LONG, CLI_CUT_SHORT */
	const char *entry; /* the stream entry's id, or NULL for a line */
	const char *id;    /* the entry's own `id` field, as JSON text, or NULL */
	size_t id_len;
	long deliveries;    /* how many times the entry has been delivered, 0 if unknown */
	const char *dead;   /* non-NULL: not run, dead-lettered for this reason */
};

/* One answer, for the sink: the result line and what it answers. */
struct run_answer {
	const struct run_input *in;
	const char *id; /* the JSON text of the id the line states */
	size_t id_len;
	uint64_t version;
	const char *line; /* without its newline */
	size_t len;
};

/* The signal thread's requests and the pipe it writes to after each (run.c). */
extern atomic_bool run_stop_requested;
extern int run_wake_fd;

#if CLI_REDIS
struct stream_source;
struct stream_sink;

/*
 * Opens the source the URL names (its config section, or NULL), creates the group when
 * missing, and starts its reading thread. `batch` is XREADGROUP's COUNT, linger_ms its
 * BLOCK. 0, or the exit status to return (said on standard error).
 */
int stream_source_open(const char *url, const json_t *section, size_t batch, int linger_ms,
		       struct stream_source **out);

/*
 * The next input in *in (valid until the call after the RUN_FLUSH that ends its batch), or
 * RUN_FLUSH at the end of each batch the server gave, RUN_WOKEN when run_wake_fd was
 * written to, RUN_END when stopped (or lost) and everything read has been handed out.
 * Waits for at most timeout_ms (-1: no limit) and then returns RUN_TIMEOUT.
 */
int stream_source_next(struct stream_source *s, int timeout_ms, struct run_input *in);

/*
 * Says that the batch last handed out is in the pool (on) or out of it (off), for the
 * watchdog of task_timeout_ms; nothing without one.
 */
void stream_source_running(struct stream_source *s, bool on);

/* Asks the reading thread to stop reading; what it has read is still handed out. */
void stream_source_stop(struct stream_source *s);

/*
 * Acknowledges answered entries that a sink other than the source's server wrote, and
 * dead-letters those that were. 0, or -1 (said).
 */
int stream_source_ack(struct stream_source *s, const struct run_answer *a, size_t n);

/* The exit status the source ended with (0, or EXIT_REDIS_LOST / EXIT_USAGE). */
int stream_source_status(const struct stream_source *s);
/* Joins the thread, prints its counts with --stats into `stats` (may be NULL), frees. */
void stream_source_close(struct stream_source *s, json_t *stats);

/* Opens the sink the URL names. `source` (may be NULL) is acknowledged with the writes. */
int stream_sink_open(const char *url, const json_t *section, struct stream_source *source,
		     struct stream_sink **out);
/*
 * Writes n answers, with the acknowledgements and dead letters of stream inputs, in one
 * atomic step when source and sink are on one server. 0, -1 (said), or -2 when the server
 * was lost for good.
 */
int stream_sink_write(struct stream_sink *k, const struct run_answer *a, size_t n);
void stream_sink_close(struct stream_sink *k);
#endif

#endif /* CFGPOOL_SRC_CLI_RUN_H */
