/*
 * Fuzz target (c): the command's input-line decoder and result encoder together, as
 * `cfgpool run` uses them (src/cli/lines.c), for each built-in kernel.
 *
 * Input: byte 0 picks the kernel and the result's status; bytes 1..16 become the kernel's
 * output struct (any bit pattern: NaN, infinities, huge counts); the rest, up to its first
 * newline, is one input line. The line is decoded; the answer is encoded with that output (as if the kernel had
 * run) or with a failed status, into one result line.
 *
 * Contracts checked (the command's own):
 *  - the result line is one line of valid JSON (\u0000 allowed, as the loader allows it),
 *    an object, ending in "\n";
 *  - it has exactly one of "result" and "error", and "config_version" equal to the one given;
 *  - an input that decoded with status 0 and finite output members has "result" exactly
 *    when the codec could encode it; a line that did not decode has "error";
 *  - the id: when the line has one, the result line's id is the same bytes as the input
 *    wrote them and the same value jansson reads there; otherwise it is the line number,
 *    and a line jansson reads with an id lost it only because the loader refused the line.
 */
#include "fuzz.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char *const fuzz_target_name = "cli";

enum { OUTPUT_BYTES = 16, LINE_NO = 7 };

/* The bytes of the top-level member `key` of an object parsed by jansson, or NULL. */
static bool member_text(const char *text, size_t len, const char *key, const char **start, size_t *n)
{
	size_t a, b;

	if (cli_json_member_span(text, len, key, &a, &b) != 0)
		return false;
	*start = text + a;
	*n = b - a;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cfgpool_kernel_t *const *kernels = cfgpool_kernel_list();
	const cfgpool_kernel_t *kernel;
	struct cli_lines conv;
	struct cli_item it;
	cfgpool_result_t res = {0};
	unsigned char input[256], output[256];
	const char *line;
	size_t nkernels = 0, len, outlen = 0;
	char *out = NULL;
	json_t *doc, *in;
	FILE *mem;
	bool decoded, failed;

	if (size < 1 + OUTPUT_BYTES)
		return 0;
	while (kernels[nkernels] != NULL)
		nkernels++;
	kernel = kernels[data[0] % nkernels];
	FUZZ_CHECK(kernel->codec != NULL && kernel->input_size <= sizeof(input) &&
		   kernel->output_size <= sizeof(output));
	memset(output, 0, sizeof(output));
	memcpy(output, data + 1, OUTPUT_BYTES < kernel->output_size ? OUTPUT_BYTES : kernel->output_size);
	res.status = (data[0] / nkernels) % 4 == 3 ? CFGPOOL_EKERNEL : 0;
	res.version = 3;
	res.elapsed_ns = data[0];
	line = (const char *)data + 1 + OUTPUT_BYTES;
	len = size - 1 - OUTPUT_BYTES;
	/* A line as the reader hands it over: up to its newline, which it never holds. */
	if (memchr(line, '\n', len) != NULL)
		len = (size_t)((const char *)memchr(line, '\n', len) - line);

	conv.kernel = kernel;
	conv.codec = kernel->codec;
	FUZZ_CHECK(cfgpool_writer_create(0, &conv.writer) == 0);
	memset(&it, 0, sizeof(it));
	it.line = LINE_NO;
	decoded = cli_line_decode(&conv, &it, line, len, len > CLI_MAX_LINE ? CLI_TOO_LONG : CLI_WHOLE, input);
	FUZZ_CHECK(decoded == (it.error[0] == '\0'));
	FUZZ_CHECK(fuzz_utf8_valid(it.error, strlen(it.error)));

	mem = open_memstream(&out, &outlen);
	FUZZ_CHECK(mem != NULL);
	failed = cli_line_answer(&conv, &it, decoded ? &res : NULL, output, decoded ? res.version : 9, mem);
	FUZZ_CHECK(fclose(mem) == 0);

	/* One line of valid JSON: an object with exactly one of result and error. */
	FUZZ_CHECK(outlen > 0 && out[outlen - 1] == '\n' && memchr(out, '\n', outlen) == out + outlen - 1);
	doc = json_loadb(out, outlen - 1, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	FUZZ_CHECK(doc != NULL && json_is_object(doc));
	FUZZ_CHECK((json_object_get(doc, "result") != NULL) != (json_object_get(doc, "error") != NULL));
	FUZZ_CHECK(failed == (json_object_get(doc, "error") != NULL));
	FUZZ_CHECK(json_integer_value(json_object_get(doc, "config_version")) == (decoded ? 3 : 9));
	if (!decoded || res.status != 0)
		FUZZ_CHECK(failed);

	/* The id, echoed exactly: the bytes the input wrote, the same value jansson reads. */
	in = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (it.id != NULL) {
		const char *b;
		size_t nb;

		FUZZ_CHECK(member_text(out, outlen - 1, "id", &b, &nb));
		FUZZ_CHECK(nb == it.id_len && memcmp(it.id, b, nb) == 0);
		FUZZ_CHECK(in != NULL && json_equal(json_object_get(in, "id"), json_object_get(doc, "id")));
	} else {
		FUZZ_CHECK(json_integer_value(json_object_get(doc, "id")) == LINE_NO);
		/* Only a line the loader refused (or cut short) loses its id. */
		if (in != NULL && json_is_object(in) && json_object_get(in, "id") != NULL)
			FUZZ_CHECK(strncmp(it.error, "invalid JSON", 12) == 0 || strncmp(it.error, "line ", 5) == 0 ||
				   strncmp(it.error, "cannot read", 11) == 0);
	}
	json_decref(in);
	json_decref(doc);
	free(out);
	free(it.id);
	cfgpool_writer_destroy(conv.writer);
	return 0;
}
