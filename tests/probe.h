/*
 * The probe kernel, shared by the fault tests and the soak: a kernel that counts what the
 * pool does with it and lets a task prove which snapshot it ran against.
 *
 * Its section is {"name": "probe", "salt": S} with S an integer >= 0 (anything else is
 * CFGPOOL_ESCHEMA at kernel.salt). prepare allocates a block holding S and a value mixed
 * from it; run copies the snapshot's version (ctx->version), S and a value computed from
 * the block and the input into the output, so a check can tell that the version and the
 * prepared block came from one snapshot (a document for version v carries salt v).
 * A task whose input has a gate waits while the gate is set, so a test can hold workers.
 * worker_init allocates a small state, so the paths that make it are swept for allocation
 * failures too. Every call is counted; release and worker_fini check a magic number, so a
 * block freed twice is counted as such instead of being freed again.
 *
 * Include after helpers.h (or after <cfgpool/cfgpool.h> and the C library headers).
 */
#ifndef CFGPOOL_TESTS_PROBE_H
#define CFGPOOL_TESTS_PROBE_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <cfgpool/cfgpool.h>

#define PROBE_MAGIC 0x70726f6265ULL
#define PROBE_DEAD 0xdeadULL

struct probe_params {
	uint64_t magic;
	uint64_t salt;
	uint64_t mix;
};

struct probe_state {
	uint64_t magic;
	uint64_t runs;
};

struct probe_input {
	uint64_t id;
	uint64_t x;
	uint64_t spin;             /* iterations of busy work, to make a task last */
	const atomic_bool *gate; /* when not NULL, the task waits while it is set */
};

struct probe_output {
	uint64_t id;
	uint64_t version;
	uint64_t salt;
	uint64_t value;
};

/* Process-wide counters of the probe's calls. */
static struct {
	atomic_ulong prepared, released, bad_release;
	atomic_ulong inits, finis, bad_fini;
	atomic_ulong runs;
} probe_counts;

/* A value that depends on every bit of both arguments (splitmix64's finaliser). */
static inline uint64_t probe_mix(uint64_t a, uint64_t b)
{
	uint64_t z = a * 0x9e3779b97f4a7c15ULL + b;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* What run must write as `value` for input x against a block prepared from `salt`. */
static inline uint64_t probe_expected(uint64_t salt, uint64_t x)
{
	return probe_mix(probe_mix(salt, 1), x);
}

static inline int probe_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
				cfgpool_error_t *err)
{
	struct probe_params *p;
	int64_t salt;

	(void)root;
	if (section == NULL || cfgpool_get_int(section, "salt", &salt) != 0 || salt < 0)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.salt", "an integer >= 0 is required");
	p = malloc(sizeof(*p));
	if (p == NULL)
		return cfgpool_error_set(err, -ENOMEM, "kernel", "out of memory for the probe's block");
	p->magic = PROBE_MAGIC;
	p->salt = (uint64_t)salt;
	p->mix = probe_mix((uint64_t)salt, 1);
	*params = p;
	atomic_fetch_add(&probe_counts.prepared, 1);
	return 0;
}

static inline void probe_release(void *params)
{
	struct probe_params *p = params;

	if (p->magic != PROBE_MAGIC) {
		atomic_fetch_add(&probe_counts.bad_release, 1);
		return;
	}
	p->magic = PROBE_DEAD;
	atomic_fetch_add(&probe_counts.released, 1);
	free(p);
}

static inline int probe_worker_init(const cfgpool_config_t *config, const void *params, unsigned worker,
				    void **state)
{
	struct probe_state *s = malloc(sizeof(*s));

	(void)config;
	(void)params;
	(void)worker;
	if (s == NULL)
		return -ENOMEM;
	s->magic = PROBE_MAGIC;
	s->runs = 0;
	*state = s;
	atomic_fetch_add(&probe_counts.inits, 1);
	return 0;
}

static inline void probe_worker_fini(void *state, unsigned worker)
{
	struct probe_state *s = state;

	(void)worker;
	if (s == NULL || s->magic != PROBE_MAGIC) {
		atomic_fetch_add(&probe_counts.bad_fini, 1);
		return;
	}
	s->magic = PROBE_DEAD;
	atomic_fetch_add(&probe_counts.finis, 1);
	free(s);
}

static inline int probe_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct probe_params *p = ctx->params;
	const struct probe_input *in = input;
	struct probe_output *out = output;
	struct probe_state *s = ctx->state;
	volatile uint64_t acc = in->x;

	while (in->gate != NULL && atomic_load_explicit(in->gate, memory_order_acquire))
		sched_yield();
	for (uint64_t i = 0; i < in->spin; i++)
		acc = acc * 6364136223846793005ULL + 1442695040888963407ULL;
	out->id = in->id;
	out->version = ctx->version;
	out->salt = p->salt;
	/* Read the block after the version: both must come from the one pinned snapshot. */
	out->value = probe_mix(p->mix, in->x);
	s->runs++;
	atomic_fetch_add_explicit(&probe_counts.runs, 1, memory_order_relaxed);
	return p->magic == PROBE_MAGIC ? 0 : -EFAULT;
}

static const cfgpool_kernel_t probe_kernel = {
	.name = "probe",
	.input_size = sizeof(struct probe_input),
	.output_size = sizeof(struct probe_output),
	.prepare = probe_prepare,
	.release = probe_release,
	.worker_init = probe_worker_init,
	.worker_fini = probe_worker_fini,
	.run = probe_run,
};

#endif /* CFGPOOL_TESTS_PROBE_H */
