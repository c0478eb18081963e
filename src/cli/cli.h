/* The cfgpool command: shared declarations of its files. */
#ifndef CFGPOOL_SRC_CLI_H
#define CFGPOOL_SRC_CLI_H

#include <cfgpool/cfgpool.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "words.h"

/*
 * The byte span [*start, *stop) of the value of the top-level member `key` of the JSON
 * object in text[0, len), as written there (escapes in the key are decoded, so "\u0069d"
 * is "id"). The text must be an object jansson accepted; any other bytes are read safely,
 * never past len. Returns 0, or -1 when no such member was found.
 */
int cli_json_member_span(const char *text, size_t len, const char *key, size_t *start, size_t *stop);

/* The longest input line, in bytes without its newline. */
#define CLI_MAX_LINE (1u << 20)

/* What a line is: whole, or one answered without being parsed. */
enum { CLI_WHOLE, CLI_TOO_LONG, CLI_CUT_SHORT };

/* One input line and what becomes of it (lines.c). */
struct cli_item {
	unsigned long line; /* from 1 */
	char *id;           /* the text of the input's id as written in its line, or NULL */
	size_t id_len;
	char error[640];    /* non-empty: malformed input; room for a whole cfgpool_error_t */
	size_t slot;        /* index among the valid inputs */
	size_t end;         /* where its result line ends in the batch's output */
	bool failed;        /* its result line is an error */
};


/* What converting lines needs: the kernel, its codec, and a writer for result lines. */
struct cli_lines {
	const cfgpool_kernel_t *kernel;
	const cfgpool_codec_t *codec;
	cfgpool_writer_t *writer;
};

/* Empty or only JSON whitespace: a line of the file, but not an input. */
bool cli_line_is_blank(const char *text, size_t len);

/*
 * Decodes one input line of `kind` into `input` (the kernel's input_size bytes) and returns
 * true, or keeps in it->error why it is answered with an error and returns false. Sets
 * it->id (malloc'ed: the id's text as written) when the line has one; the caller frees it.
 * it->line is the caller's.
 */
bool cli_line_decode(const struct cli_lines *l, struct cli_item *it, const char *text, size_t len, int kind,
		     void *input);

/*
 * Writes the result line of `it` to `mem`: its error when it has one or `res` failed, else
 * `output` encoded (res is NULL for an item with an error). `version` is the configuration
 * version the line states. Always one JSON object with exactly one of "result" and
 * "error"; returns true when it is an error.
 */
bool cli_line_answer(const struct cli_lines *l, const struct cli_item *it, const cfgpool_result_t *res,
		     const void *output, uint64_t version, FILE *mem);

/* Subcommands: each returns the process's exit status. */
int cli_run(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_feed(int argc, char **argv);    /* with Redis support only */
int cli_collect(int argc, char **argv); /* with Redis support only */

/*
 * Whether this build of the command has the Redis Streams source and sink: configure found
 * hiredis (HAVE_REDIS), and the build did not leave them out (tests/cfgpool-noredis does).
 */
#if defined(HAVE_REDIS) && !defined(CFGPOOL_NO_REDIS)
#define CLI_REDIS 1
#else
#define CLI_REDIS 0
#endif

/* Exit statuses. */
enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2 };

/* "cfgpool: " + message on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* CFGPOOL_SRC_CLI_H */
