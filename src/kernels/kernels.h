/*
 * The built-in kernels: their tables, for the registry, and the helpers they share to
 * check a `kernel` section and to generate reproducible random numbers. Internal.
 */
#ifndef CFGPOOL_SRC_KERNELS_H
#define CFGPOOL_SRC_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfgpool/cfgpool.h>

extern const cfgpool_kernel_t cfgpool__kernel_mc_option;
extern const cfgpool_kernel_t cfgpool__kernel_spin;
extern const cfgpool_kernel_t cfgpool__kernel_curve;

/*
 * Checks the shape of a `kernel` section before a kernel reads its fields: that it is an
 * object (or absent, when `required` is false), that "name", if present, is the string
 * `kernel`, and that every other key is one of the `nkeys` names in `keys`, or "plugin": a
 * kernel built as a plug-in is given its whole section, and the loader has checked that key
 * already (a built-in kernel never sees it: the binding refuses a plug-in section for a pool
 * of a built-in kernel). Reports the first violation with its path and returns
 * CFGPOOL_ESCHEMA, else 0.
 */
int cfgpool__kernel_check_section(const cfgpool_node_t *section, bool required, const char *kernel,
				  const char *const *keys, size_t nkeys, cfgpool_error_t *err);

/*
 * Renders a value for an error message like cfgpool__node_describe(), except that a real
 * is written with the fewest digits that read back as the same double ("-0.2", not
 * "-0.20000000000000001"), so a message quotes the number the way the user wrote it.
 */
void cfgpool__kernel_describe(const cfgpool_node_t *node, char *buf, size_t size);

/* Writes "kernel.<key>" (quoted when the key needs it) into `buf`. */
void cfgpool__kernel_path(char *buf, size_t size, const char *key);

/*
 * Codec helpers. cfgpool__codec_number() reads the member `field` of the input object `in`
 * as a finite number (> 0 when `positive`); cfgpool__codec_uint() as an integer from 0 to
 * `max`. On failure each reports, with `field` as the path, -ENOENT (missing),
 * CFGPOOL_ETYPE (another type) or -ERANGE (out of range), the message saying what was
 * expected. cfgpool__codec_real() writes the member `key` with a double; the writer's
 * -EDOM names the key when the value is not finite.
 */
int cfgpool__codec_number(const cfgpool_node_t *in, const char *field, bool positive, double *out,
			  cfgpool_error_t *err);
int cfgpool__codec_uint(const cfgpool_node_t *in, const char *field, uint64_t max, uint64_t *out,
			cfgpool_error_t *err);
int cfgpool__codec_real(cfgpool_writer_t *w, const char *key, double value);

/*
 * splitmix64 (Steele, Lea and Flood; the public-domain reference by Vigna): a 64-bit
 * counter passed through a strong mixer. Every output of a seed's sequence is equally
 * good, so it both seeds bigger generators and serves directly where its period of 2^64
 * is plenty. Always inline: the kernels call it in their innermost loops.
 */
static inline uint64_t cfgpool__splitmix64_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t cfgpool__splitmix64(uint64_t *state)
{
	*state += UINT64_C(0x9e3779b97f4a7c15);
	return cfgpool__splitmix64_mix(*state);
}

/* The top 53 bits of a random word as a double uniform in [0, 1). */
static inline double cfgpool__unit_double(uint64_t x)
{
	return (double)(x >> 11) * 0x1.0p-53;
}

#endif /* CFGPOOL_SRC_KERNELS_H */
