/* The cfgpool command: shared declarations of its files. */
#ifndef CFGPOOL_SRC_CLI_H
#define CFGPOOL_SRC_CLI_H

#include <cfgpool/cfgpool.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * "kernel NAME: MESSAGE (CODE_NAME)" for an item that `kernel` failed with `code`: the
 * kernel's own message when it has one for the code, else cfgpool_strerror()'s.
 */
void cli_kernel_error(const cfgpool_kernel_t *kernel, int code, char *msg, size_t size);

/*
 * The byte span [*start, *stop) of the value of the top-level member `key` of the JSON
 * object in text[0, len), as written there (escapes in the key are decoded, so "\u0069d"
 * is "id"). The text must be an object jansson accepted; any other bytes are read safely,
 * never past len. Returns 0, or -1 when no such member was found.
 */
int cli_json_member_span(const char *text, size_t len, const char *key, size_t *start, size_t *stop);

/* Subcommands: each returns the process's exit status. */
int cli_run(int argc, char **argv);
int cli_check(int argc, char **argv);

/* Exit statuses. */
enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2 };

/* "cfgpool: " + message on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* CFGPOOL_SRC_CLI_H */
