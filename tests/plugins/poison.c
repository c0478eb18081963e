/*
 * The test plug-in of tests/test_redis: kernel "poison", output {"y": 2 x} for an input
 * {"x": X}. An input with "crash": true kills the process that runs it (SIGKILL, as the
 * kernel's OOM killer would), so the entry is never answered by that consumer: a poison
 * input. One with "fail": true makes the kernel fail with -EDOM: a normal error result.
 * One with "wait_for": PATH does not finish before the file PATH exists, so that a test
 * can hold a batch in the pool for as long as it needs, without timing anything.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cfgpool/cfgpool.h>

struct poison_input {
	double x;
	bool crash;
	bool fail;
	char wait_for[256];
};

static int poison_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
			  cfgpool_error_t *err)
{
	(void)section;
	(void)root;
	(void)err;
	*params = NULL;
	return 0;
}

static void poison_release(void *params)
{
	(void)params;
}

static int poison_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct poison_input *in = input;

	(void)ctx;
	if (in->crash)
		raise(SIGKILL);
	while (in->wait_for[0] != '\0' && access(in->wait_for, F_OK) != 0) {
		struct timespec ms = {0, 1000000};

		nanosleep(&ms, NULL);
	}
	if (in->fail)
		return -EDOM;
	*(double *)output = 2 * in->x;
	return 0;
}

static int poison_decode(void *arg, const cfgpool_node_t *in, void *input, cfgpool_error_t *err)
{
	struct poison_input *p = input;
	int rc;

	(void)arg;
	rc = cfgpool_get_double(in, "x", &p->x);
	if (rc != 0)
		return cfgpool_error_set(err, rc, "x", "expected a number");
	rc = cfgpool_get_bool(in, "crash", &p->crash);
	if (rc != 0 && rc != -ENOENT)
		return cfgpool_error_set(err, rc, "crash", "expected true or false");
	rc = cfgpool_get_bool(in, "fail", &p->fail);
	if (rc != 0 && rc != -ENOENT)
		return cfgpool_error_set(err, rc, "fail", "expected true or false");
	const char *path;
	size_t len;

	rc = cfgpool_get_string(in, "wait_for", &path, &len);
	if (rc == 0 && len < sizeof(p->wait_for))
		memcpy(p->wait_for, path, len + 1);
	else if (rc != -ENOENT)
		return cfgpool_error_set(err, -EINVAL, "wait_for", "expected a path shorter than 256 bytes");
	return 0;
}

static int poison_encode(void *arg, const void *output, cfgpool_writer_t *w)
{
	int rc;

	(void)arg;
	rc = cfgpool_write_key(w, "y");
	return rc ? rc : cfgpool_write_double(w, *(const double *)output);
}

static const cfgpool_codec_t poison_codec = {
	.example = "{\"x\": 1.5}",
	.decode = poison_decode,
	.encode = poison_encode,
};

static const cfgpool_kernel_t poison_kernel = {
	.name = "poison",
	.input_size = sizeof(struct poison_input),
	.output_size = sizeof(double),
	.prepare = poison_prepare,
	.release = poison_release,
	.run = poison_run,
	.codec = &poison_codec,
};

CFGPOOL_PLUGIN(poison_kernel)
