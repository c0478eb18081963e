/*
 * `cfgpool collect URL [--count N] [--follow]`: the result lines a `cfgpool run --sink`
 * wrote, as JSON Lines, in the stream's order. An entry without a "line" field (a
 * dead-letter stream's) is printed as a JSON object of its fields.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "redis.h"

static void usage(FILE *f)
{
	fputs("Usage: cfgpool collect URL [--count N] [--follow]\n"
	      "Print the entries of the Redis stream URL names as JSON Lines, from its first: a result\n"
	      "stream's result lines, any other entry as a JSON object of its fields.\n"
	      "  -n, --count N   stop after N entries, waiting for them if need be\n"
	      "  -f, --follow    keep waiting for new entries\n"
	      "Exit status: 0, 2 usage error, 3 the server could not be reached.\n",
	      f);
}

/* Prints one entry [id, [field, value, ...]]. */
static void print_entry(const redisReply *en)
{
	const redisReply *f = en->element[1];
	json_t *o;
	char *text;

	for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
		if (strcmp(f->element[k]->str, "line") == 0) {
			fwrite(f->element[k + 1]->str, 1, f->element[k + 1]->len, stdout);
			fputc('\n', stdout);
			return;
		}
	}
	o = json_object();
	json_object_set_new(o, "stream_id", json_string(en->element[0]->str));
	for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
		json_object_set_new(o, f->element[k]->str, json_stringn(f->element[k + 1]->str, f->element[k + 1]->len));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text)
		puts(text);
	free(text);
	json_decref(o);
}

int cli_collect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"count", required_argument, NULL, 'n'}, {"follow", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	struct cli_redis_url u;
	struct cli_redis r;
	char msg[512], cursor[64] = "0";
	long count = -1, seen = 0;
	bool follow = false;
	int c, st = 0;

	while ((c = getopt_long(argc, argv, "n:fh", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || count < 0) {
				cli_err("collect: --count: expected a non-negative integer, got '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			follow = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cli_redis_url_parse(argv[optind], &u, msg, sizeof(msg)) != 0 || u.stream == NULL) {
		cli_err("collect: %s: %s", argv[optind], u.stream == NULL && msg[0] == 0 ? "no stream named" : msg);
		cli_redis_url_free(&u);
		return EXIT_USAGE;
	}
	cli_redis_url_defaults(&u);
	if (cli_redis_open(&r, &u, 10000) != 0) {
		cli_redis_url_free(&u);
		return EXIT_REDIS_LOST;
	}
	while (count < 0 || seen < count) {
		bool wait = follow || count >= 0;
		redisReply *rep = wait ? cli_redis_cmd(&r, "XREAD COUNT 1000 BLOCK 1000 STREAMS %s %s", u.stream, cursor)
				       : cli_redis_cmd(&r, "XREAD COUNT 1000 STREAMS %s %s", u.stream, cursor);

		if (rep == NULL) {
			st = EXIT_REDIS_LOST;
			break;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			cli_err("collect: %s: %s", u.text, rep->str);
			freeReplyObject(rep);
			st = EXIT_USAGE;
			break;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
			freeReplyObject(rep);
			if (wait)
				continue;
			break;
		}
		const redisReply *entries = rep->element[0]->element[1];

		for (size_t i = 0; i < entries->elements && (count < 0 || seen < count); i++, seen++) {
			print_entry(entries->element[i]);
			snprintf(cursor, sizeof(cursor), "%s", entries->element[i]->element[0]->str);
		}
		fflush(stdout);
		freeReplyObject(rep);
	}
	cli_redis_close(&r);
	cli_redis_url_free(&u);
	return st;
}
