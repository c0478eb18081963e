/* The wording of a result's error (words.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "words.h"

void cli_kernel_error(const cfgpool_kernel_t *kernel, int code, char *msg, size_t size)
{
	const char *text = kernel->strerror != NULL ? kernel->strerror(code) : NULL;

	snprintf(msg, size, "kernel %s: %s (%s)", kernel->name, text != NULL ? text : cfgpool_strerror(code),
		 cfgpool_err_name(code));
}

void cli_decode_error(const cfgpool_kernel_t *kernel, int rc, const cfgpool_error_t *err, char *msg, size_t size)
{
	if (err->code == 0 || (err->path[0] == '\0' && err->text[0] == '\0'))
		cli_kernel_error(kernel, rc, msg, size);
	else if (err->path[0] == '\0')
		snprintf(msg, size, "%s", err->text);
	else if (err->code == -ENOENT)
		snprintf(msg, size, "missing field \"%s\"%s%s", err->path, err->text[0] ? ": " : "", err->text);
	else
		snprintf(msg, size, "field \"%s\": %s", err->path, err->text);
}

void cli_encode_error(const cfgpool_kernel_t *kernel, const cfgpool_writer_t *w, int rc, char *msg, size_t size)
{
	const char *why;
	char kmsg[256];

	if (cfgpool_writer_error(w, &why) == -EDOM) {
		snprintf(msg, size, "result %s", why); /* "result field std_error is not finite (nan)" */
	} else if (cfgpool_writer_error(w, NULL) != 0) {
		snprintf(msg, size, "result could not be encoded: %s", why);
	} else {
		cli_kernel_error(kernel, rc, kmsg, sizeof(kmsg));
		snprintf(msg, size, "result could not be encoded: %s", kmsg);
	}
}
