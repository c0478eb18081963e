/*
 * The schema of the `pool` section. One table lists every field with its type, range and
 * default; validation walks the section once, reports the first violation with its JSON
 * path, and compiles the values into struct cfgpool__pool_params. Everything outside
 * `pool` belongs to the application or the kernel and is not looked at here.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "config_tree.h"
#include "schema.h"

enum field_kind { FIELD_UINT, FIELD_BOOL, FIELD_CPUS };

struct field {
	const char *name;
	enum field_kind kind;
	int64_t min, max;
	size_t offset; /* into struct cfgpool__pool_params */
};

/* Keep README's configuration reference in step with this table. */
static const struct field pool_fields[] = {
	{"workers", FIELD_UINT, 1, CFGPOOL__MAX_WORKERS, offsetof(struct cfgpool__pool_params, workers)},
	{"cpus", FIELD_CPUS, 0, CFGPOOL__MAX_CPUS - 1, 0},
	{"pin", FIELD_BOOL, 0, 1, offsetof(struct cfgpool__pool_params, pin)},
	{"queue_capacity", FIELD_UINT, 1, 1 << 24, offsetof(struct cfgpool__pool_params, queue_capacity)},
	{"idle_spin_us", FIELD_UINT, 0, 1000000, offsetof(struct cfgpool__pool_params, idle_spin_us)},
	{"caller_helps", FIELD_BOOL, 0, 1, offsetof(struct cfgpool__pool_params, caller_helps)},
	{"wake_threshold_us", FIELD_UINT, 0, 1000000, offsetof(struct cfgpool__pool_params, wake_threshold_us)},
	{"periodic_spin_us", FIELD_UINT, 0, 100000, offsetof(struct cfgpool__pool_params, periodic_spin_us)},
};

/* Defaults for absent fields; see README. */
static void pool_defaults(struct cfgpool__pool_params *p)
{
	memset(p, 0, sizeof(*p));
	p->pin = true;
	p->queue_capacity = 1024;
	p->idle_spin_us = 50;
	p->caller_helps = true;
	p->wake_threshold_us = 50;
	p->periodic_spin_us = 200; /* waking ahead of periodic batches (README) */
}

static int type_error(cfgpool_error_t *err, const char *path, const char *expected, const cfgpool_node_t *got)
{
	char desc[64];

	cfgpool__node_describe(got, desc, sizeof(desc));
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path, "expected %s, got %s", expected, desc);
}

static int check_int(const cfgpool_node_t *v, const struct field *f, const char *path, int64_t *out,
		     cfgpool_error_t *err)
{
	char expected[80];

	snprintf(expected, sizeof(expected), "an integer from %lld to %lld", (long long)f->min, (long long)f->max);
	if (v->type != CFGPOOL_TYPE_INT || v->u.i < f->min || v->u.i > f->max)
		return type_error(err, path, expected, v);
	*out = v->u.i;
	return 0;
}

static int check_cpus(const cfgpool_node_t *v, const struct field *f, const char *path,
		      struct cfgpool__pool_params *p, cfgpool_error_t *err)
{
	uint8_t seen[CFGPOOL__MAX_CPUS / 8] = {0};
	char elem[CFGPOOL_ERROR_PATH_LEN];

	if (v->type != CFGPOOL_TYPE_ARRAY || v->len == 0)
		return type_error(err, path, "a non-empty array of CPU numbers", v);
	if (v->len > CFGPOOL__MAX_CPUS)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path, "expected at most %d CPUs, got %u",
					 CFGPOOL__MAX_CPUS, v->len);
	for (uint32_t i = 0; i < v->len; i++) {
		int64_t cpu;
		int rc;

		snprintf(elem, sizeof(elem), "%s", path);
		cfgpool__path_index(elem, sizeof(elem), i);
		rc = check_int(&v->u.items[i], f, elem, &cpu, err);
		if (rc != 0)
			return rc;
		if (seen[cpu / 8] & (1u << (cpu % 8)))
			return cfgpool_error_set(err, CFGPOOL_ESCHEMA, elem, "duplicate CPU %lld", (long long)cpu);
		seen[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
	}
	p->ncpus = v->len;
	p->cpus = v;
	return 0;
}

static int check_field(const cfgpool_node_t *v, const struct field *f, const char *path,
		       struct cfgpool__pool_params *p, cfgpool_error_t *err)
{
	int64_t value;
	int rc;

	switch (f->kind) {
	case FIELD_BOOL:
		if (v->type != CFGPOOL_TYPE_BOOL)
			return type_error(err, path, "a boolean", v);
		*(bool *)((char *)p + f->offset) = v->u.b;
		return 0;
	case FIELD_UINT:
		rc = check_int(v, f, path, &value, err);
		if (rc == 0)
			*(uint32_t *)((char *)p + f->offset) = (uint32_t)value;
		return rc;
	case FIELD_CPUS:
		return check_cpus(v, f, path, p, err);
	}
	cfgpool__die("unknown field kind");
}

static const struct field *find_field(const char *key, size_t len)
{
	for (size_t i = 0; i < CFGPOOL_ARRAY_SIZE(pool_fields); i++) {
		if (strlen(pool_fields[i].name) == len && memcmp(pool_fields[i].name, key, len) == 0)
			return &pool_fields[i];
	}
	return NULL;
}

static int unknown_key(cfgpool_error_t *err, const char *path)
{
	char known[160] = "";

	for (size_t i = 0; i < CFGPOOL_ARRAY_SIZE(pool_fields); i++) {
		if (i > 0)
			strcat(known, ", ");
		strcat(known, pool_fields[i].name);
	}
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path, "unknown key (known: %s)", known);
}

int cfgpool__pool_schema(const cfgpool_node_t *base, struct cfgpool__pool_params *out, cfgpool_error_t *err)
{
	struct cfgpool__pool_params p;
	const cfgpool_node_t *pool, *value;
	const char *key;
	size_t len;
	int rc;

	pool_defaults(&p);
	rc = base != NULL ? cfgpool_object_get(base, "pool", 4, &pool) : -ENOENT;
	if (rc == -ENOENT) {
		*out = p;
		return 0;
	}
	if (pool->type != CFGPOOL_TYPE_OBJECT)
		return type_error(err, "pool", "an object", pool);

	for (size_t i = 0; cfgpool_object_member(pool, i, &key, &len, &value) == 0; i++) {
		const struct field *f = find_field(key, len);
		char path[CFGPOOL_ERROR_PATH_LEN] = "pool";

		cfgpool__path_key(path, sizeof(path), key, len);
		if (f == NULL)
			return unknown_key(err, path);
		rc = check_field(value, f, path, &p, err);
		if (rc != 0)
			return rc;
	}
	*out = p;
	return 0;
}

/* An option's value outside its document field's range. */
static int opt_range(cfgpool_error_t *err, const char *path, const struct field *f, long long got)
{
	return cfgpool_error_set(err, -EINVAL, path, "expected an integer from %lld to %lld, got %lld",
				 (long long)f->min, (long long)f->max, got);
}

static int apply_opt_cpus(const cfgpool_pool_opts_t *o, struct cfgpool__pool_params *p, cfgpool_error_t *err)
{
	const struct field *f = find_field("cpus", 4);
	uint8_t seen[CFGPOOL__MAX_CPUS / 8] = {0};

	if (o->cpus == NULL)
		return cfgpool_error_set(err, -EINVAL, "opts.cpus", "NULL with ncpus = %zu", o->ncpus);
	if (o->ncpus > CFGPOOL__MAX_CPUS)
		return cfgpool_error_set(err, -EINVAL, "opts.cpus", "expected at most %d CPUs, got %zu",
					 CFGPOOL__MAX_CPUS, o->ncpus);
	for (size_t i = 0; i < o->ncpus; i++) {
		int cpu = o->cpus[i];
		char path[48];

		snprintf(path, sizeof(path), "opts.cpus[%zu]", i);
		if (cpu < f->min || cpu > f->max)
			return opt_range(err, path, f, cpu);
		if (seen[cpu / 8] & (1u << (cpu % 8)))
			return cfgpool_error_set(err, -EINVAL, path, "duplicate CPU %d", cpu);
		seen[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
	}
	p->ncpus = (uint32_t)o->ncpus;
	p->cpus = NULL;
	p->opt_cpus = o->cpus;
	return 0;
}

int cfgpool__pool_apply_opts(const cfgpool_pool_opts_t *o, struct cfgpool__pool_params *p, cfgpool_error_t *err)
{
	const struct field *workers = find_field("workers", 7), *capacity = find_field("queue_capacity", 14);

	if (o == NULL)
		return 0;
	if (o->workers != 0 && o->workers > (unsigned)workers->max)
		return opt_range(err, "opts.workers", workers, (long long)o->workers);
	if (o->queue_capacity != 0 && o->queue_capacity > (unsigned)capacity->max)
		return opt_range(err, "opts.queue_capacity", capacity, (long long)o->queue_capacity);
	if (o->pin < -1 || o->pin > 1)
		return cfgpool_error_set(err, -EINVAL, "opts.pin", "expected 1 (pin), -1 (do not pin) or 0 (not set), got %d",
					 o->pin);
	if (o->ncpus != 0) {
		int rc = apply_opt_cpus(o, p, err);

		if (rc != 0)
			return rc;
	}
	if (o->workers != 0)
		p->workers = o->workers;
	if (o->queue_capacity != 0)
		p->queue_capacity = o->queue_capacity;
	if (o->pin != 0)
		p->pin = o->pin > 0;
	return 0;
}
