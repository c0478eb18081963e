/*
 * The test plug-in: output = input * kernel.factor + PLUGIN_OFFSET. Built several times by
 * `make check` with different macros, one shared object per case test_plugin loads:
 *  good.so       the kernel "scale", exported by CFGPOOL_PLUGIN()
 *  other.so      the kernel "other" (PLUGIN_NAME, PLUGIN_OFFSET 1000)
 *  badabi.so     an entry point that returns ABI PLUGIN_ABI (99)
 *  badversion.so one that says it was built for the next minor version
 *  patchlevel.so one that says it was built for the next patch level (accepted)
 *  noentry.so    no entry point at all
 *  norun.so      a kernel table without its run function
 */
#include <errno.h>
#include <stdlib.h>

#include <cfgpool/cfgpool.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "scale"
#endif
#ifndef PLUGIN_OFFSET
#define PLUGIN_OFFSET 0.0
#endif

struct scale_params {
	double factor;
};

static int scale_prepare(const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
			 cfgpool_error_t *err)
{
	struct scale_params *p;
	double factor = 1.0;
	int rc;

	(void)root;
	/* The whole `kernel` section, kernel.plugin included (<cfgpool/plugin.h>). */
	if (cfgpool_get_string(section, "plugin", &(const char *){NULL}, NULL) != 0)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel", "prepare did not get kernel.plugin");
	rc = cfgpool_get_double(section, "factor", &factor);
	if (rc != 0 && rc != -ENOENT)
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.factor", "expected a number");
	p = malloc(sizeof(*p));
	if (p == NULL)
		return cfgpool_error_set(err, -ENOMEM, "kernel", "out of memory");
	p->factor = factor;
	*params = p;
	return 0;
}

static void scale_release(void *params)
{
	free(params);
}

/* Unused in the norun variant. */
__attribute__((unused)) static int scale_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const struct scale_params *p = ctx->params;

	*(double *)output = *(const double *)input * p->factor + PLUGIN_OFFSET;
	return 0;
}

static const cfgpool_kernel_t scale_kernel = {
	.name = PLUGIN_NAME,
	.input_size = sizeof(double),
	.output_size = sizeof(double),
	.prepare = scale_prepare,
	.release = scale_release,
#ifndef PLUGIN_NO_RUN
	.run = scale_run,
#endif
};

#if defined(PLUGIN_ABI) || defined(PLUGIN_VERSION)
#ifndef PLUGIN_ABI
#define PLUGIN_ABI CFGPOOL_PLUGIN_ABI
#endif
#ifndef PLUGIN_VERSION
#define PLUGIN_VERSION CFGPOOL_VERSION_NUMBER
#endif
const cfgpool_plugin_t *cfgpool_plugin_v1(void)
{
	static const cfgpool_plugin_t self = {PLUGIN_ABI, PLUGIN_VERSION, &scale_kernel};

	return &self;
}
#elif defined(PLUGIN_NO_ENTRY)
/* Something else exported, so the object is a valid plug-in in every way but the entry point. */
CFGPOOL_PLUGIN_EXPORT const cfgpool_kernel_t *scale_kernel_table(void);
const cfgpool_kernel_t *scale_kernel_table(void)
{
	return &scale_kernel;
}
#else
CFGPOOL_PLUGIN(scale_kernel)
#endif
