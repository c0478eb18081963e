/*
 * What the built-in kernels' codecs share: reading a required number field of an input
 * object with a message that names it, and writing a finite real member. Each kernel's
 * file holds its own codec, built from these.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

int cfgpool__codec_number(const cfgpool_node_t *in, const char *field, bool positive, double *out,
			  cfgpool_error_t *err)
{
	const char *expected = positive ? "expected a positive number" : "expected a number";
	const cfgpool_node_t *v;
	double d;

	if (cfgpool_object_get(in, field, strlen(field), &v) != 0)
		return cfgpool_error_set(err, -ENOENT, field, "%s", expected);
	if (cfgpool_get_double(v, NULL, &d) != 0)
		return cfgpool_error_set(err, CFGPOOL_ETYPE, field, "%s", expected);
	if (!isfinite(d) || (positive && !(d > 0)))
		return cfgpool_error_set(err, -ERANGE, field, "%s", expected);
	*out = d;
	return 0;
}

int cfgpool__codec_uint(const cfgpool_node_t *in, const char *field, uint64_t max, uint64_t *out,
			cfgpool_error_t *err)
{
	const cfgpool_node_t *v;
	int64_t i;

	if (cfgpool_object_get(in, field, strlen(field), &v) != 0)
		return cfgpool_error_set(err, -ENOENT, field, "expected an integer from 0 to %llu",
					 (unsigned long long)max);
	if (cfgpool_get_int(v, NULL, &i) != 0)
		return cfgpool_error_set(err, CFGPOOL_ETYPE, field, "expected an integer from 0 to %llu",
					 (unsigned long long)max);
	if (i < 0 || (uint64_t)i > max)
		return cfgpool_error_set(err, -ERANGE, field, "expected an integer from 0 to %llu",
					 (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

int cfgpool__codec_real(cfgpool_writer_t *w, const char *key, double value)
{
	int rc = cfgpool_write_key(w, key);

	return rc != 0 ? rc : cfgpool_write_double(w, value);
}
