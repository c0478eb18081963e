/*
 * `cfgpool feed URL [FILE]`: JSON Lines in, one stream entry per line out, the line in the
 * entry's `input` field, as `cfgpool run --source` reads it. Blank lines are skipped; any
 * other line is written as it is, so a malformed one reaches the consumer and is answered
 * there with its error. XADDs are pipelined, a thousand at a time.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "redis.h"

#define PIPELINE 1000

static void usage(FILE *f)
{
	fputs("Usage: cfgpool feed URL [FILE]\n"
	      "Write each JSON Lines input of FILE (or standard input when absent or -) as one entry of\n"
	      "the Redis stream URL names (redis://HOST:PORT/STREAM or unix:///PATH/redis.sock?stream=S),\n"
	      "the line in its \"input\" field; blank lines are skipped. Progress on a terminal.\n"
	      "Exit status: 0 every line written, 2 usage error, 3 the server could not be reached.\n",
	      f);
}

/* Reads the replies of `n` pipelined XADDs; 0 or -1 (said). */
static int replies(struct cli_redis *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *rep;

		if (redisGetReply(r->c, &rep) != REDIS_OK) {
			cli_err("feed: lost the connection to %s: %s", r->url->text, r->c->errstr);
			return -1;
		}
		if (((redisReply *)rep)->type == REDIS_REPLY_ERROR) {
			cli_err("feed: %s: XADD: %s", r->url->text, ((redisReply *)rep)->str);
			freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
	}
	return 0;
}

int cli_feed(int argc, char **argv)
{
	struct cli_redis_url u;
	struct cli_redis r;
	char msg[512], *line = NULL;
	size_t cap = 0, queued = 0;
	unsigned long written = 0;
	bool tty = isatty(STDERR_FILENO);
	FILE *in = stdin;
	ssize_t len;
	int st = 0;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || argc > 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cli_redis_url_parse(argv[1], &u, msg, sizeof(msg)) != 0 || u.stream == NULL) {
		cli_err("feed: %s: %s", argv[1], u.stream == NULL && msg[0] == 0 ? "no stream named" : msg);
		cli_redis_url_free(&u);
		return EXIT_USAGE;
	}
	cli_redis_url_defaults(&u);
	if (argc == 3 && strcmp(argv[2], "-") != 0 && (in = fopen(argv[2], "r")) == NULL) {
		cli_err("feed: cannot open %s: %s", argv[2], strerror(errno));
		cli_redis_url_free(&u);
		return EXIT_USAGE;
	}
	if (cli_redis_open(&r, &u, 10000) != 0) {
		st = EXIT_REDIS_LOST;
		goto out;
	}
	while ((len = getline(&line, &cap, in)) >= 0) {
		const char *argv_[] = {"XADD", u.stream, "*", "input", line};
		size_t lens[] = {4, strlen(u.stream), 1, 5, 0};

		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (cli_line_is_blank(line, (size_t)len))
			continue;
		lens[4] = (size_t)len;
		redisAppendCommandArgv(r.c, 5, argv_, lens);
		if (++queued == PIPELINE) {
			if (replies(&r, queued) != 0) {
				st = EXIT_REDIS_LOST;
				goto out;
			}
			written += queued;
			queued = 0;
			if (tty)
				fprintf(stderr, "\rcfgpool: fed %lu entries", written);
		}
	}
	if (replies(&r, queued) != 0) {
		st = EXIT_REDIS_LOST;
		goto out;
	}
	written += queued;
	if (tty)
		fprintf(stderr, "\rcfgpool: fed %lu entries to %s\n", written, u.stream);
out:
	if (st != 0)
		cli_err("feed: %lu entries were written before the failure", written);
	free(line);
	if (in != stdin)
		fclose(in);
	cli_redis_close(&r);
	cli_redis_url_free(&u);
	return st;
}
