/*
 * How a result's error is worded when a kernel failed, when its codec refused an input and
 * when an output could not be encoded: shared by the command (lines.c) and the Python
 * binding (python/pool.c), so that both say the same. Uses the public API only.
 */
#ifndef CFGPOOL_SRC_CLI_WORDS_H
#define CFGPOOL_SRC_CLI_WORDS_H

#include <stddef.h>

#include <cfgpool/cfgpool.h>

/*
 * "kernel NAME: MESSAGE (CODE_NAME)" for an item that `kernel` failed with `code`: the
 * kernel's own message when it has one for the code, else cfgpool_strerror()'s.
 */
void cli_kernel_error(const cfgpool_kernel_t *kernel, int code, char *msg, size_t size);

/*
 * Why `kernel`'s codec refused an input with `rc` and `err`: "field \"PATH\": TEXT", "missing
 * field \"PATH\"" when it is absent (-ENOENT), the codec's text when it named no field, and
 * the kernel's name for the code when it said nothing.
 */
void cli_decode_error(const cfgpool_kernel_t *kernel, int rc, const cfgpool_error_t *err, char *msg, size_t size);

/*
 * Why an output could not be encoded into `w`: "result field F is not finite (nan)" (the
 * writer's -EDOM), the writer's message, or the codec's own code in the kernel's words.
 */
void cli_encode_error(const cfgpool_kernel_t *kernel, const cfgpool_writer_t *w, int rc, char *msg, size_t size);

#endif /* CFGPOOL_SRC_CLI_WORDS_H */
