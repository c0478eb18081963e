/*
 * Stream URLs, connections that come back, and the answer script (see redis.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "redis.h"

/* ------------------------------------------------------------------------------------------ */
/* URLs                                                                                       */
/* ------------------------------------------------------------------------------------------ */

bool cli_redis_is_url(const char *text)
{
	return text != NULL && (strncmp(text, "redis://", 8) == 0 || strncmp(text, "unix://", 7) == 0);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A malloc'ed, percent-decoded copy of s[0, n), or NULL when an escape is broken. */
static char *decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval(s[i + 2]) : -1;

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

static int set_string(char **field, const char *value, const char *key, char *msg, size_t size)
{
	if (*field != NULL) {
		snprintf(msg, size, "%s given twice", key);
		return -1;
	}
	if (*value == '\0') {
		snprintf(msg, size, "%s is empty", key);
		return -1;
	}
	*field = strdup(value);
	return *field ? 0 : -1;
}

static int set_number(long *field, const char *value, const char *key, long min, long max, char *msg, size_t size)
{
	char *end;
	long v;

	if (*field != -1) {
		snprintf(msg, size, "%s given twice", key);
		return -1;
	}
	errno = 0;
	v = strtol(value, &end, 10);
	if (*value == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		snprintf(msg, size, "%s: expected an integer from %ld to %ld, got '%s'", key, min, max, value);
		return -1;
	}
	*field = v;
	return 0;
}

/* One KEY=VALUE setting, from the URL's query or a config section. */
static int set_key(struct cli_redis_url *u, const char *key, const char *value, char *msg, size_t size)
{
	if (strcmp(key, "stream") == 0)
		return set_string(&u->stream, value, key, msg, size);
	if (strcmp(key, "group") == 0)
		return set_string(&u->group, value, key, msg, size);
	if (strcmp(key, "consumer") == 0)
		return set_string(&u->consumer, value, key, msg, size);
	if (strcmp(key, "dead_letter") == 0)
		return set_string(&u->dead_letter, value, key, msg, size);
	if (strcmp(key, "max_deliveries") == 0)
		return set_number(&u->max_deliveries, value, key, 1, 1000000, msg, size);
	if (strcmp(key, "claim_idle_ms") == 0)
		return set_number(&u->claim_idle_ms, value, key, 1, 86400000, msg, size);
	if (strcmp(key, "reconnect_ms") == 0)
		return set_number(&u->reconnect_ms, value, key, 0, 86400000, msg, size);
	if (strcmp(key, "task_timeout_ms") == 0)
		return set_number(&u->task_timeout_ms, value, key, 0, 86400000, msg, size);
	if (strcmp(key, "guard_keep_ms") == 0)
		return set_number(&u->guard_keep_ms, value, key, 0, 604800000, msg, size);
	snprintf(msg, size, "unknown setting '%s' (known: stream, group, consumer, dead_letter, max_deliveries, "
			    "claim_idle_ms, reconnect_ms, task_timeout_ms, guard_keep_ms)", key);
	return -1;
}

static int parse_query(struct cli_redis_url *u, const char *q, char *msg, size_t size)
{
	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		char *key, *value;
		int rc;

		if (eq == NULL) {
			snprintf(msg, size, "expected KEY=VALUE in the query, got '%.*s'", (int)n, q);
			return -1;
		}
		key = decode(q, (size_t)(eq - q));
		value = decode(eq + 1, n - (size_t)(eq - q) - 1);
		if (key == NULL || value == NULL) {
			snprintf(msg, size, "a broken %%-escape in '%.*s'", (int)n, q);
			rc = -1;
		} else {
			rc = set_key(u, key, value, msg, size);
		}
		free(key);
		free(value);
		if (rc != 0)
			return -1;
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

int cli_redis_url_parse(const char *text, struct cli_redis_url *u, char *msg, size_t size)
{
	const char *rest, *q, *slash;

	*u = (struct cli_redis_url){
		.max_deliveries = -1, .claim_idle_ms = -1, .reconnect_ms = -1, .task_timeout_ms = -1,
		.guard_keep_ms = -1};
	u->text = strdup(text);
	if (u->text == NULL) {
		snprintf(msg, size, "out of memory");
		return -1;
	}
	q = strchr(text, '?');
	if (strncmp(text, "unix://", 7) == 0) {
		rest = text + 7;
		if (*rest != '/') {
			snprintf(msg, size, "expected unix:///PATH/TO/redis.sock?stream=STREAM");
			return -1;
		}
		u->path = decode(rest, q ? (size_t)(q - rest) : strlen(rest));
		if (u->path == NULL || u->path[1] == '\0') {
			snprintf(msg, size, "expected unix:///PATH/TO/redis.sock?stream=STREAM");
			return -1;
		}
	} else if (strncmp(text, "redis://", 8) == 0) {
		const char *colon, *end;

		rest = text + 8;
		end = q ? q : rest + strlen(rest);
		slash = memchr(rest, '/', (size_t)(end - rest));
		if (slash == NULL)
			slash = end;
		colon = memchr(rest, ':', (size_t)(slash - rest));
		u->host = decode(rest, (size_t)((colon ? colon : slash) - rest));
		if (u->host == NULL || u->host[0] == '\0') {
			snprintf(msg, size, "expected redis://HOST[:PORT]/STREAM");
			return -1;
		}
		u->port = 6379;
		if (colon != NULL) {
			char port[8];
			char *pend;
			long v;

			snprintf(port, sizeof(port), "%.*s", (int)(slash - colon - 1), colon + 1);
			v = strtol(port, &pend, 10);
			if (slash - colon - 1 < 1 || slash - colon - 1 > 5 || *pend != '\0' || v < 1 || v > 65535) {
				snprintf(msg, size, "the port must be a number from 1 to 65535, got '%.*s'",
					 (int)(slash - colon - 1), colon + 1);
				return -1;
			}
			u->port = (int)v;
		}
		if (slash < end && slash + 1 < end) {
			u->stream = decode(slash + 1, (size_t)(end - slash - 1));
			if (u->stream == NULL) {
				snprintf(msg, size, "a broken %%-escape in the stream's name");
				return -1;
			}
		}
	} else {
		snprintf(msg, size, "expected redis://HOST[:PORT]/STREAM or unix:///PATH?stream=STREAM");
		return -1;
	}
	return parse_query(u, q ? q + 1 : NULL, msg, size);
}

int cli_redis_url_merge(struct cli_redis_url *u, const json_t *section, char *msg, size_t size)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)section, key, value) {
		char buf[32];
		const char *v = buf;
		char **sfield = NULL;
		long *nfield = NULL;

		if (strcmp(key, "url") == 0)
			continue;
		if (json_is_string(value))
			v = json_string_value(value);
		else if (json_is_integer(value))
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(value));
		else {
			snprintf(msg, size, "\"%s\": expected a string or an integer", key);
			return -1;
		}
		/* What the URL set wins; only what it left unset is taken from the section. */
		if (strcmp(key, "stream") == 0)
			sfield = &u->stream;
		else if (strcmp(key, "group") == 0)
			sfield = &u->group;
		else if (strcmp(key, "consumer") == 0)
			sfield = &u->consumer;
		else if (strcmp(key, "dead_letter") == 0)
			sfield = &u->dead_letter;
		else if (strcmp(key, "max_deliveries") == 0)
			nfield = &u->max_deliveries;
		else if (strcmp(key, "claim_idle_ms") == 0)
			nfield = &u->claim_idle_ms;
		else if (strcmp(key, "reconnect_ms") == 0)
			nfield = &u->reconnect_ms;
		else if (strcmp(key, "task_timeout_ms") == 0)
			nfield = &u->task_timeout_ms;
		else if (strcmp(key, "guard_keep_ms") == 0)
			nfield = &u->guard_keep_ms;
		if ((sfield && *sfield) || (nfield && *nfield != -1))
			continue;
		if (set_key(u, key, v, msg, size) != 0)
			return -1;
	}
	return 0;
}

void cli_redis_url_defaults(struct cli_redis_url *u)
{
	char host[256];

	if (u->consumer == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "cfgpool");
		host[sizeof(host) - 1] = '\0';
		u->consumer = strdup(host);
	}
	if (u->dead_letter == NULL && u->stream != NULL) {
		size_t n = strlen(u->stream) + 6;

		u->dead_letter = malloc(n);
		if (u->dead_letter)
			snprintf(u->dead_letter, n, "%s:dead", u->stream);
	}
	if (u->max_deliveries == -1)
		u->max_deliveries = 3;
	if (u->claim_idle_ms == -1)
		u->claim_idle_ms = 60000;
	if (u->reconnect_ms == -1)
		u->reconnect_ms = 30000;
	if (u->task_timeout_ms == -1)
		u->task_timeout_ms = 0;
	/* The guard must outlive every other copy of an answered entry (one claimed from a
	 * slow consumer, or that consumer's own). A copy is in a batch read before the first
	 * answer, which runs after at most the batch ahead of it, and whose answer a lost
	 * server can hold back for reconnect_ms; only task_timeout_ms bounds how long each
	 * batch stays in the pool, so without it the guard keeps everything. */
	if (u->guard_keep_ms == -1)
		u->guard_keep_ms = u->task_timeout_ms > 0 ? 4 * u->task_timeout_ms + u->reconnect_ms : 0;
}

void cli_redis_url_free(struct cli_redis_url *u)
{
	free(u->text);
	free(u->host);
	free(u->path);
	free(u->stream);
	free(u->group);
	free(u->consumer);
	free(u->dead_letter);
	*u = (struct cli_redis_url){0};
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * The answer script. KEYS: the input stream, the sink, the guard hash, the dead-letter
 * stream, the guard's clock (a sorted set: entry ID by when it was answered, in the
 * server's milliseconds) ("" for each one not used). ARGV: the group ("": no
 * acknowledgement), the count, guard_keep_ms (0: keep for good), then 8 values an answer:
 * entry id, input id, config_version, result line, dead flag, input, deliveries, reason.
 * A Lua script runs whole or not at all, with no other command between its calls, so the
 * guard check, the writes and the XACK are one step. The guard forgets entries answered
 * more than guard_keep_ms ago, at most 2n + 16 of them a call: more than each call adds,
 * so that a backlog of them goes; in runs of 1000, below what Lua's unpack takes.
 */
static const char answer_script[] =
	"local n = tonumber(ARGV[2])\n"
	"local keep = tonumber(ARGV[3])\n"
	"local written, acked = 0, 0\n"
	"local now = nil\n"
	"if KEYS[3] ~= '' and keep > 0 then\n"
	"  local t = redis.call('TIME')\n"
	"  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"end\n"
	"for i = 0, n - 1 do\n"
	"  local b = 3 + i * 8\n"
	"  local eid = ARGV[b + 1]\n"
	"  local fresh = true\n"
	"  if KEYS[3] ~= '' and eid ~= '' then\n"
	"    fresh = redis.call('HSETNX', KEYS[3], eid, '') == 1\n"
	"    if fresh and now then redis.call('ZADD', KEYS[5], now, eid) end\n"
	"  end\n"
	"  if fresh then\n"
	"    if KEYS[2] ~= '' then\n"
	"      local rid = redis.call('XADD', KEYS[2], '*', 'id', ARGV[b + 2], 'entry', eid,\n"
	"        'config_version', ARGV[b + 3], 'line', ARGV[b + 4])\n"
	"      if KEYS[3] ~= '' and eid ~= '' then redis.call('HSET', KEYS[3], eid, rid) end\n"
	"      written = written + 1\n"
	"    end\n"
	"    if ARGV[b + 5] == '1' and KEYS[4] ~= '' then\n"
	"      redis.call('XADD', KEYS[4], '*', 'entry', eid, 'id', ARGV[b + 2], 'input', ARGV[b + 6],\n"
	"        'deliveries', ARGV[b + 7], 'reason', ARGV[b + 8])\n"
	"    end\n"
	"  end\n"
	"  if ARGV[1] ~= '' and eid ~= '' then\n"
	"    acked = acked + redis.call('XACK', KEYS[1], ARGV[1], eid)\n"
	"  end\n"
	"end\n"
	"if now then\n"
	"  local old = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - keep, 'LIMIT', 0, 2 * n + 16)\n"
	"  for j = 1, #old, 1000 do\n"
	"    local e = math.min(j + 999, #old)\n"
	"    redis.call('HDEL', KEYS[3], unpack(old, j, e))\n"
	"    redis.call('ZREM', KEYS[5], unpack(old, j, e))\n"
	"  end\n"
	"end\n"
	"return {written, acked}\n";

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One attempt; on failure the reason in msg. */
static redisContext *connect_once(const struct cli_redis_url *u, int timeout_ms, char *sha, char *msg, size_t size)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	redisContext *c = u->path ? redisConnectUnixWithTimeout(u->path, tv) : redisConnectWithTimeout(u->host, u->port, tv);

	if (c == NULL) {
		snprintf(msg, size, "out of memory");
		return NULL;
	}
	if (c->err) {
		snprintf(msg, size, "%s", c->errstr);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(msg, size, "cannot set the timeout: %s", c->errstr);
		redisFree(c);
		return NULL;
	}
	redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", answer_script);

	if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
		snprintf(msg, size, "cannot load the answer script: %s",
			 rep ? (rep->str ? rep->str : "unexpected reply") : c->errstr);
		if (rep)
			freeReplyObject(rep);
		redisFree(c);
		return NULL;
	}
	snprintf(sha, 41, "%s", rep->str);
	freeReplyObject(rep);
	return c;
}

/* Tries until connected or reconnect_ms have passed since `since`; 0 or -1 (said). */
static int connect_retrying(struct cli_redis *r, uint64_t since)
{
	long backoff = 50;
	char msg[256];

	for (;;) {
		r->c = connect_once(r->url, r->timeout_ms, r->sha, msg, sizeof(msg));
		if (r->c != NULL)
			return 0;
		if (mono_ms() - since >= (uint64_t)r->url->reconnect_ms) {
			cli_err("cannot connect to %s: %s (gave up after %ld ms)", r->url->text, msg, r->url->reconnect_ms);
			return -1;
		}
		if (r->reconnects == 0 && backoff == 50)
			cli_err("cannot connect to %s: %s; retrying for up to %ld ms", r->url->text, msg,
				r->url->reconnect_ms);
		sleep_ms(backoff);
		backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
	}
}

int cli_redis_open(struct cli_redis *r, const struct cli_redis_url *u, int timeout_ms)
{
	*r = (struct cli_redis){.url = u, .timeout_ms = timeout_ms};
	return connect_retrying(r, mono_ms());
}

void cli_redis_close(struct cli_redis *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
}

/*
 * Sends a command already in the protocol's form and returns its reply; on a lost
 * connection, reconnects and sends it again (see cli_redis_argv()).
 */
static redisReply *send_formatted(struct cli_redis *r, const char *cmd, int len)
{
	uint64_t since = 0;

	if (len < 0) {
		/* Not the connection: a command that cannot be formatted (a bug, or no memory). */
		cli_err("%s: cannot format a command", r->url->text);
		return NULL;
	}
	for (;;) {
		void *rep = NULL;

		if (r->c && redisAppendFormattedCommand(r->c, cmd, (size_t)len) == REDIS_OK)
			(void)redisGetReply(r->c, &rep);
		if (rep != NULL) {
			if (since != 0)
				cli_err("reconnected to %s", r->url->text);
			return rep;
		}
		/* The connection is gone (or timed out, which counts the same): the reply, if
		 * the command ran, is lost, which the caller learns from r->reconnects. */
		if (since == 0) {
			since = mono_ms();
			cli_err("lost the connection to %s: %s; reconnecting for up to %ld ms", r->url->text,
				r->c ? r->c->errstr : "not connected", r->url->reconnect_ms);
		}
		cli_redis_close(r);
		r->reconnects++;
		if (connect_retrying(r, since) != 0)
			return NULL;
	}
}

redisReply *cli_redis_argv(struct cli_redis *r, int argc, const char **argv, const size_t *lens)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	redisReply *rep = send_formatted(r, cmd, len);

	redisFreeCommand(cmd);
	return rep;
}

redisReply *cli_redis_cmd(struct cli_redis *r, const char *fmt, ...)
{
	char *cmd = NULL;
	redisReply *rep;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	rep = send_formatted(r, cmd, len);
	if (len >= 0)
		redisFreeCommand(cmd);
	return rep;
}

const char *cli_redis_str(const redisReply *rep, size_t *len)
{
	if (rep == NULL || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_STATUS))
		return NULL;
	if (len)
		*len = rep->len;
	return rep->str;
}

int cli_redis_answer(struct cli_redis *r, const char *source, const char *group, const char *sink,
		     const struct cli_redis_guard *guard, const char *dead, const struct cli_redis_answer *a, size_t n)
{
	size_t argc = 11 + n * 8;
	const char **argv = calloc(argc, sizeof(*argv));
	size_t *lens = calloc(argc, sizeof(*lens));
	char *nums = calloc(n + 1, 48);
	const char *ghash = guard ? guard->hash : NULL, *gclock = guard ? guard->clock : NULL;
	redisReply *rep;
	size_t k = 0;
	int rc = 0;

	if (argv == NULL || lens == NULL || nums == NULL) {
		free(argv);
		free(lens);
		free(nums);
		cli_err("out of memory");
		return -1;
	}
#define ARG(p, l) (argv[k] = (p), lens[k] = (l), k++)
#define SARG(p) ARG((p) ? (p) : "", (p) ? strlen(p) : 0)
	ARG("EVALSHA", 7);
	SARG(r->sha);
	ARG("5", 1);
	SARG(source);
	SARG(sink);
	SARG(ghash);
	SARG(dead);
	SARG(gclock);
	SARG(group);
	snprintf(nums, 48, "%zu", n);
	SARG(nums);
	snprintf(nums + 24, 24, "%ld", guard ? guard->keep_ms : 0);
	SARG(nums + 24);
	for (size_t i = 0; i < n; i++) {
		char *num = nums + (i + 1) * 48;

		snprintf(num, 24, "%llu", (unsigned long long)a[i].version);
		snprintf(num + 24, 24, "%ld", a[i].deliveries);
		SARG(a[i].entry);
		ARG(a[i].id, a[i].id_len);
		SARG(num);
		ARG(a[i].line, a[i].line_len);
		ARG(a[i].reason ? "1" : "0", 1);
		ARG(a[i].input ? a[i].input : "", a[i].input ? a[i].input_len : 0);
		SARG(num + 24);
		SARG(a[i].reason);
	}
#undef ARG
#undef SARG
	for (int tries = 0;; tries++) {
		rep = cli_redis_argv(r, (int)k, argv, lens);
		if (rep == NULL) {
			rc = -2;
			break;
		}
		/* A server that lost its script cache (SCRIPT FLUSH) gets the script again, once. */
		if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0 && tries == 0) {
			redisReply *load = cli_redis_cmd(r, "SCRIPT LOAD %s", answer_script);

			if (load && load->type == REDIS_REPLY_STRING)
				snprintf(r->sha, sizeof(r->sha), "%s", load->str);
			if (load)
				freeReplyObject(load);
			freeReplyObject(rep);
			continue;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			cli_err("writing answers to %s: %s", r->url->text, rep->str);
			rc = -1;
		}
		freeReplyObject(rep);
		break;
	}
	free(argv);
	free(lens);
	free(nums);
	return rc;
}
