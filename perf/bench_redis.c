/*
 * Question: what do Redis Streams cost `cfgpool run`, end to end, against the same inputs
 * read from a file, and what is the latency from XADD to the result entry?
 *
 * A redis-server of its own on a Unix socket in a temporary directory (persistence off).
 * Throughput: N inputs already in the stream, K consumers (1, 2, 4) started at once, timed
 * until the sink holds N results; against `cfgpool run -c CONFIG FILE > /dev/null` on the
 * same N lines. RUNS runs each, a fresh stream every run; inputs/s per run.
 * Latency: K consumers idle on the stream; one input at a time is added with XADD and its
 * result awaited with XREAD BLOCK on the sink, SAMPLES times; against one line at a time
 * written to `cfgpool run -b 1` on a pipe and its result line read back (-b 1, so that
 * neither waits for --linger-ms). The kernel is spin, 10000 iterations an input (about
 * 10 µs), on the default pool (one worker per CPU) in every process, with the default batch
 * (one input per worker), and once with --batch 64 and 1 consumer.
 *
 * One JSON line per figure (bench.h). Run from the build directory (`make bench`): the
 * command is ./cfgpool. CFGPOOL_BENCH_SCALE scales N and SAMPLES.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define RUNS 5
#define MAX_CONSUMERS 4

extern char **environ;

static char dir[256], sock[300], cfg[300], inputs[300];
static pid_t server;
static redisContext *rc;

static void die(const char *what)
{
	fprintf(stderr, "bench_redis: %s: %s\n", what, rc && rc->err ? rc->errstr : strerror(errno));
	if (server > 0)
		kill(server, SIGKILL);
	exit(1);
}

static redisReply *cmd(const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		die(r ? r->str : "redis");
	return r;
}

static long long cmd_int(const char *fmt, const char *arg)
{
	redisReply *r = cmd(fmt, arg);
	long long v = r->integer;

	freeReplyObject(r);
	return v;
}

static pid_t spawn(const char *const *argv, int in_fd, int out_fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	if (in_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0)
		die(argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static void start_server(void)
{
	const char *argv[] = {"redis-server", "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
			      "--dir", dir, "--daemonize", "no", "--loglevel", "warning", NULL};

	int devnull = open("/dev/null", O_WRONLY);

	server = spawn(argv, -1, devnull);
	close(devnull);
	for (int i = 0; i < 500; i++) {
		rc = redisConnectUnix(sock);
		if (rc && rc->err == 0)
			return;
		if (rc)
			redisFree(rc);
		rc = NULL;
		usleep(10000);
	}
	die("redis-server did not start");
}

/* `batch`: the --batch of the consumer, NULL for the default (one input per worker). */
static pid_t start_consumer(const char *stream, const char *group, int k, const char *batch)
{
	char src[512], sink[400], name[16];
	const char *argv[] = {"./cfgpool", "run", "-c", cfg, "-q", "--source", src, "--sink", sink,
			      batch ? "-b" : NULL, batch, NULL};
	int devnull = open("/dev/null", O_RDWR);
	pid_t pid;

	snprintf(name, sizeof(name), "c%d", k);
	snprintf(src, sizeof(src), "unix://%s?stream=%s&group=%s&consumer=%s", sock, stream, group, name);
	snprintf(sink, sizeof(sink), "unix://%s?stream=%s:out", sock, stream);
	pid = spawn(argv, devnull, devnull);
	close(devnull);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Fills `stream` with the n inputs of the file, pipelined. */
static void fill(const char *stream, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char line[64];

		snprintf(line, sizeof(line), "{\"id\": %zu, \"iterations\": 10000}", i);
		redisAppendCommand(rc, "XADD %s * input %s", stream, line);
	}
	for (size_t i = 0; i < n; i++) {
		void *r;

		if (redisGetReply(rc, &r) != REDIS_OK)
			die("XADD");
		freeReplyObject(r);
	}
}

static double throughput_file(size_t n)
{
	const char *argv[] = {"./cfgpool", "run", "-c", cfg, "-q", inputs, NULL};
	int devnull = open("/dev/null", O_WRONLY);
	uint64_t t0 = bench_now_ns();
	pid_t pid = spawn(argv, -1, devnull);

	close(devnull);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

static double throughput_stream(size_t n, int consumers, int run, const char *batch)
{
	char stream[32], out[40];
	pid_t pids[MAX_CONSUMERS];
	uint64_t t0;
	double secs;

	snprintf(stream, sizeof(stream), "t%d-%d-%s", consumers, run, batch ? batch : "d");
	snprintf(out, sizeof(out), "%s:out", stream);
	fill(stream, n);
	t0 = bench_now_ns();
	for (int k = 0; k < consumers; k++)
		pids[k] = start_consumer(stream, "g", k, batch);
	while (cmd_int("XLEN %s", out) < (long long)n)
		usleep(1000);
	secs = (double)(bench_now_ns() - t0) / 1e9;
	for (int k = 0; k < consumers; k++)
		stop(pids[k]);
	return (double)n / secs;
}

/* XADD one input, wait for its result on the sink; samples in µs. */
static void latency_stream(int consumers, double *us, size_t samples)
{
	char stream[32], out[40], last[64] = "$";
	pid_t pids[MAX_CONSUMERS];

	snprintf(stream, sizeof(stream), "l%d", consumers);
	snprintf(out, sizeof(out), "%s:out", stream);
	freeReplyObject(cmd("XGROUP CREATE %s g $ MKSTREAM", stream));
	for (int k = 0; k < consumers; k++)
		pids[k] = start_consumer(stream, "g", k, NULL);
	/* Warm-up: every consumer has started and answered once. */
	for (size_t i = 0; i < samples + (size_t)consumers * 4; i++) {
		char line[64];
		uint64_t t0;
		redisReply *r;

		snprintf(line, sizeof(line), "{\"id\": %zu, \"iterations\": 10000}", i);
		t0 = bench_now_ns();
		freeReplyObject(cmd("XADD %s * input %s", stream, line));
		do
			r = cmd("XREAD COUNT 1 BLOCK 10000 STREAMS %s %s", out, last);
		while (r->type != REDIS_REPLY_ARRAY && (freeReplyObject(r), 1));
		snprintf(last, sizeof(last), "%s", r->element[0]->element[1]->element[0]->element[0]->str);
		freeReplyObject(r);
		if (i >= (size_t)consumers * 4)
			us[i - (size_t)consumers * 4] = (double)(bench_now_ns() - t0) / 1e3;
	}
	for (int k = 0; k < consumers; k++)
		stop(pids[k]);
}

/* One line at a time to `cfgpool run -b 1` on a pipe, its result read back; samples in µs. */
static void latency_pipe(double *us, size_t samples)
{
	const char *argv[] = {"./cfgpool", "run", "-c", cfg, "-q", "-b", "1", NULL};
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		die("pipe");
	pid = spawn(argv, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	for (size_t i = 0; i < samples + 4; i++) {
		char line[64], buf[512];
		uint64_t t0;
		int len = snprintf(line, sizeof(line), "{\"id\": %zu, \"iterations\": 10000}\n", i);
		ssize_t got = 0;

		t0 = bench_now_ns();
		if (write(in[1], line, (size_t)len) != len)
			die("write");
		/* One result line, ending with its newline. */
		while (got == 0 || buf[got - 1] != '\n') {
			ssize_t n = read(out[0], buf + got, sizeof(buf) - (size_t)got);

			if (n <= 0)
				die("read");
			got += n;
		}
		if (i >= 4)
			us[i - 4] = (double)(bench_now_ns() - t0) / 1e3;
	}
	close(in[1]);
	close(out[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void cleanup(void)
{
	char path[400];

	if (rc)
		redisFree(rc);
	if (server > 0) {
		kill(server, SIGTERM);
		while (waitpid(server, NULL, 0) < 0 && errno == EINTR)
			;
	}
	unlink(cfg);
	unlink(inputs);
	snprintf(path, sizeof(path), "%s/redis.sock", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	size_t n = (size_t)(20000 * bench_scale()), samples = (size_t)(500 * bench_scale());
	static const int counts[] = {1, 2, 4};
	double v[RUNS], *us = calloc(samples, sizeof(double));
	FILE *f;

	if (system("redis-server --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "bench_redis: skipped, no redis-server on PATH\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/cfgpool-bench-redis-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	snprintf(cfg, sizeof(cfg), "%s/spin.json", dir);
	snprintf(inputs, sizeof(inputs), "%s/inputs.jsonl", dir);
	f = fopen(cfg, "w");
	fputs("{\"kernel\": {\"name\": \"spin\"}}\n", f);
	fclose(f);
	f = fopen(inputs, "w");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "{\"id\": %zu, \"iterations\": 10000}\n", i);
	fclose(f);
	start_server();

	for (int r = 0; r < RUNS; r++)
		v[r] = throughput_file(n);
	bench_report("redis", "file", "inputs/s", v, RUNS, n, "\"consumers\": 0");
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		char config[48];

		for (int r = 0; r < RUNS; r++)
			v[r] = throughput_stream(n, counts[c], r, NULL);
		snprintf(config, sizeof(config), "stream, %d consumer%s", counts[c], counts[c] == 1 ? "" : "s");
		bench_report("redis", config, "inputs/s", v, RUNS, n, "\"consumers\": %d", counts[c]);
	}
	/* Larger batches: one XREADGROUP and one script call for 64 inputs. */
	for (int r = 0; r < RUNS; r++)
		v[r] = throughput_stream(n, 1, r, "64");
	bench_report("redis", "stream, --batch 64", "inputs/s", v, RUNS, n, "\"consumers\": 1");
	latency_pipe(us, samples);
	bench_report("redis", "pipe latency", "us", us, samples, samples, "\"consumers\": 0");
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		char config[48];

		latency_stream(counts[c], us, samples);
		snprintf(config, sizeof(config), "XADD to result latency, %d consumer%s", counts[c],
			 counts[c] == 1 ? "" : "s");
		bench_report("redis", config, "us", us, samples, samples, "\"consumers\": %d", counts[c]);
	}
	free(us);
	cleanup();
	return 0;
}
