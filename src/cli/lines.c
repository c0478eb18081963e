/*
 * The line format, both ways: an input line decoded through the kernel's codec into its
 * input struct, or into the error its answer carries; an answer (result or error) encoded
 * into one result line, the id first as the input wrote it. No I/O, no threads, no pool:
 * what `cfgpool run` does to each line, and what fuzz/fuzz_cli.c checks.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Empty or only JSON whitespace: a line of the file, but not an input. */
bool cli_line_is_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
			return false;
	}
	return true;
}

/* Whether bytes outside JSON's grammar (control bytes: jansson tolerates a raw NUL
 * between tokens) lie between the value's tokens. Strings cannot hold them raw. */
static bool has_stray_bytes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return true;
	}
	return false;
}

/*
 * Keeps the text of the line's id, byte for byte: printing the value again would change it
 * (reals rounded, escapes decoded). Only if the text cannot be found, which the skipper
 * rules out for a line the parser accepted, or it holds bytes the parser tolerated but JSON
 * does not have, is the id printed by jansson, at full precision.
 */
static bool copy_id(struct cli_item *it, const char *text, size_t len)
{
	size_t start, stop;

	if (cli_json_member_span(text, len, "id", &start, &stop) == 0 &&
	    !has_stray_bytes(text + start, stop - start)) {
		it->id = malloc(stop - start + 1);
		if (it->id != NULL) {
			memcpy(it->id, text + start, stop - start);
			it->id[stop - start] = '\0';
		}
		it->id_len = stop - start;
	} else {
		json_t *line = json_loadb(text, len, JSON_ALLOW_NUL, NULL);

		it->id = json_dumps(json_object_get(line, "id"), JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
		it->id_len = it->id ? strlen(it->id) : 0;
		json_decref(line);
	}
	if (it->id == NULL)
		snprintf(it->error, sizeof(it->error), "out of memory keeping the id");
	return it->id != NULL;
}

/*
 * Decodes one line: the line is loaded as a small frozen tree, the node the kernel's codec
 * reads, and freed at once.
 */
bool cli_line_decode(const struct cli_lines *l, struct cli_item *it, const char *text, size_t len, int kind,
		     void *input)
{
	const cfgpool_node_t *id;
	cfgpool_config_t *line;
	cfgpool_error_t err;
	int rc;

	it->id = NULL;
	it->id_len = 0;
	it->error[0] = '\0';
	if (kind == CLI_TOO_LONG) {
		snprintf(it->error, sizeof(it->error), "line longer than %u bytes", CLI_MAX_LINE);
		return false;
	}
	if (kind == CLI_CUT_SHORT) {
		/* Its bytes were taken from the input, so it is answered, but it is not all of a line. */
		snprintf(it->error, sizeof(it->error), "line cut short: the input stopped before its newline");
		return false;
	}
	cfgpool_error_init(&err);
	rc = cfgpool_config_load_string(text, len, NULL, &line, &err);
	if (rc == CFGPOOL_ESCHEMA) {
		snprintf(it->error, sizeof(it->error), "expected a JSON object, e.g. %s",
			 l->codec->example ? l->codec->example : "{}");
		return false;
	}
	if (rc == CFGPOOL_ESYNTAX || rc == -ELOOP) {
		snprintf(it->error, sizeof(it->error), "invalid JSON at column %d: %s", err.column, err.text);
		return false;
	}
	if (rc != 0) {
		snprintf(it->error, sizeof(it->error), "cannot read the line: %s (%s)", err.text, cfgpool_err_name(rc));
		return false;
	}
	if (cfgpool_object_get(cfgpool_config_root(line), "id", 2, &id) == 0 && !copy_id(it, text, len)) {
		cfgpool_config_free(line);
		return false;
	}
	memset(input, 0, l->kernel->input_size);
	cfgpool_error_init(&err);
	rc = l->codec->decode(l->kernel->arg, cfgpool_config_root(line), input, &err);
	if (rc != 0)
		cli_decode_error(l->kernel, rc < 0 ? rc : -EINVAL, &err, it->error, sizeof(it->error));
	cfgpool_config_free(line);
	return rc == 0;
}

/*
 * Writes the members of a result line after its id into the writer: the version, the time
 * and either the encoded result or the error. 0, or the writer's or the codec's code.
 */
static int put_answer(const struct cli_lines *l, const struct cli_item *it, const cfgpool_result_t *res,
		      const void *output, const char *msg, uint64_t version)
{
	cfgpool_writer_t *w = l->writer;
	int rc;

	cfgpool_writer_reset(w);
	(void)(cfgpool_write_object_begin(w) || cfgpool_write_key(w, "config_version") ||
	       cfgpool_write_uint(w, version) || cfgpool_write_key(w, "elapsed_us"));
	/* An input that never reached the kernel took no time; one that ran did, whatever came of it. */
	if (it->error[0] != '\0')
		cfgpool_write_int(w, 0);
	else
		cfgpool_write_double(w, (double)res->elapsed_ns / 1000.0);
	if (msg != NULL) {
		(void)(cfgpool_write_key(w, "error") || cfgpool_write_object_begin(w) || cfgpool_write_key(w, "line") ||
		       cfgpool_write_uint(w, it->line) || cfgpool_write_key(w, "message") ||
		       cfgpool_write_string(w, msg, strlen(msg)) || cfgpool_write_object_end(w));
	} else if (cfgpool_write_key(w, "result") == 0 && cfgpool_write_object_begin(w) == 0) {
		rc = l->codec->encode(l->kernel->arg, output, w);
		if (rc != 0)
			return rc;
		cfgpool_write_object_end(w);
	}
	cfgpool_write_object_end(w);
	return cfgpool_writer_error(w, NULL);
}

/*
 * Writes one result line for `it` to `mem` and returns true when it is an error. The id
 * goes first, as the text it was written as; the writer writes the rest. A line that cannot
 * be built (no memory) is still written, as an error with a fixed message.
 */
bool cli_line_answer(const struct cli_lines *l, const struct cli_item *it, const cfgpool_result_t *res,
		     const void *output, uint64_t version, FILE *mem)
{
	char msg[sizeof(it->error) + 320] = "";
	bool failed = true;
	const char *text;
	size_t len;
	int rc = 0;

	if (it->error[0] != '\0') {
		snprintf(msg, sizeof(msg), "%s", it->error);
	} else if (res->status != 0) {
		/* Every status here is the kernel's: the batches have no deadline and are never cancelled. */
		cli_kernel_error(l->kernel, res->status, msg, sizeof(msg));
	} else {
		rc = put_answer(l, it, res, output, NULL, version);
		if (rc == 0)
			failed = false;
		else
			cli_encode_error(l->kernel, l->writer, rc, msg, sizeof(msg));
	}
	if (failed)
		rc = put_answer(l, it, res, output, msg, version);

	if (it->id != NULL) {
		fputs("{\"id\":", mem);
		fwrite(it->id, 1, it->id_len, mem);
		fputc(',', mem);
	} else {
		fprintf(mem, "{\"id\":%lu,", it->line);
	}
	text = cfgpool_writer_text(l->writer, &len);
	/* The object's members without its opening brace follow the id. */
	if (rc == 0 && text != NULL) {
		fwrite(text + 1, 1, len - 1, mem);
		fputc('\n', mem);
		return failed;
	}
	fprintf(mem, "\"config_version\":%llu,\"elapsed_us\":0,\"error\":{\"line\":%lu,\"message\":\"%s (%s)\"}}\n",
		(unsigned long long)version, it->line, "the answer could not be written", cfgpool_err_name(rc));
	return true;
}

