/*
 * The checks of a `kernel` section that every built-in kernel's prepare step shares. Apart
 * from the registry, so that a kernel's source with these (and config_tree.c) builds on its
 * own, as the plug-in twin of mc_option in the test suite does.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_tree.h"
#include "kernels.h"

void cfgpool__kernel_path(char *buf, size_t size, const char *key)
{
	snprintf(buf, size, "kernel");
	cfgpool__path_key(buf, size, key, strlen(key));
}

void cfgpool__kernel_describe(const cfgpool_node_t *node, char *buf, size_t size)
{
	double d;

	if (cfgpool_node_type(node) != CFGPOOL_TYPE_REAL) {
		cfgpool__node_describe(node, buf, size);
		return;
	}
	/*
	 * 17 significant digits always read back exactly, but usually show the binary
	 * rounding of what was written; the shortest of 15, 16 and 17 that reads back is
	 * what the user most likely typed.
	 */
	cfgpool_get_double(node, NULL, &d);
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* A real that prints like an integer would make "expected an integer, got 3" baffling. */
	if (strpbrk(buf, ".eEni") == NULL && strlen(buf) + 2 < size)
		strcat(buf, ".0");
}

static int unknown_key(cfgpool_error_t *err, const char *path, const char *const *keys, size_t nkeys)
{
	char known[CFGPOOL_ERROR_TEXT_LEN] = "name";

	for (size_t i = 0; i < nkeys; i++) {
		size_t used = strlen(known);

		snprintf(known + used, sizeof(known) - used, ", %s", keys[i]);
	}
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, path, "unknown key (known: %s)", known);
}

static bool key_known(const char *key, size_t len, const char *const *keys, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (strlen(keys[i]) == len && memcmp(keys[i], key, len) == 0)
			return true;
	}
	return false;
}

/*
 * A `kernel` section naming another kernel most likely means the pool was opened with
 * the wrong table or the document was meant for another pool: running the kernel anyway
 * would silently compute something else, so it is a schema error.
 */
static int check_name(const cfgpool_node_t *value, const char *kernel, cfgpool_error_t *err)
{
	char desc[64];
	const char *s;
	size_t len;

	if (cfgpool_get_string(value, NULL, &s, &len) == 0 && len == strlen(kernel) && memcmp(s, kernel, len) == 0)
		return 0;
	cfgpool__kernel_describe(value, desc, sizeof(desc));
	return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel.name", "expected \"%s\", got %s", kernel, desc);
}

int cfgpool__kernel_check_section(const cfgpool_node_t *section, bool required, const char *kernel,
				  const char *const *keys, size_t nkeys, cfgpool_error_t *err)
{
	const cfgpool_node_t *value;
	const char *key;
	char desc[64];
	size_t len;
	int rc;

	if (section == NULL) {
		if (!required)
			return 0;
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel",
					 "missing required section (the %s kernel needs its parameters)", kernel);
	}
	if (cfgpool_node_type(section) != CFGPOOL_TYPE_OBJECT) {
		cfgpool__kernel_describe(section, desc, sizeof(desc));
		return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel", "expected an object, got %s", desc);
	}
	for (size_t i = 0; cfgpool_object_member(section, i, &key, &len, &value) == 0; i++) {
		char path[CFGPOOL_ERROR_PATH_LEN] = "kernel";

		if (len == 4 && memcmp(key, "name", 4) == 0) {
			rc = check_name(value, kernel, err);
			if (rc != 0)
				return rc;
			continue;
		}
		if (len == 6 && memcmp(key, "plugin", 6) == 0)
			continue;
		if (!key_known(key, len, keys, nkeys)) {
			cfgpool__path_key(path, sizeof(path), key, len);
			return unknown_key(err, path, keys, nkeys);
		}
	}
	return 0;
}
