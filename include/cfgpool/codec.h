/*
 * Codecs: how a kernel's inputs and outputs look as JSON, for the command line and the
 * language bindings, without the kernel seeing any JSON library. Included by
 * <cfgpool/cfgpool.h>; compiles on its own, as C and as C++.
 *
 * Decoding reads an input object through the frozen tree's own accessors (the input line
 * is loaded as a small cfgpool_config_t, so paths and typed getters work on it exactly as
 * on a configuration). Encoding writes an output through a writer that can only produce
 * valid JSON: keys and values in the right places, strings checked as UTF-8 and escaped,
 * and no number that is not finite. A writer's first error sticks: every later call
 * returns it and writes nothing, and the result that uses the writer becomes an error.
 */
#ifndef CFGPOOL_CODEC_H
#define CFGPOOL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cfgpool/config.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A JSON writer. Opaque; one is handed to a codec's encode, positioned inside an object. */
typedef struct cfgpool_writer cfgpool_writer_t;

/*
 * Creates a writer whose text starts empty, at the top level. `max_bytes` bounds the text
 * (0: 1 MiB); going past it is -E2BIG. 0, -EINVAL (out is NULL), -ENOMEM. Thread-safe.
 * A writer shares nothing with any other: each call below on one writer must not run
 * concurrently with another on the same writer, and different writers may be used on
 * different threads at once. destroy frees it (NULL is a no-op).
 */
CFGPOOL_API int cfgpool_writer_create(size_t max_bytes, cfgpool_writer_t **out);
CFGPOOL_API void cfgpool_writer_destroy(cfgpool_writer_t *w);

/* Empties the text and any error, back at the top level; the limit stays. */
CFGPOOL_API void cfgpool_writer_reset(cfgpool_writer_t *w);

/*
 * The text written so far (NUL-terminated, valid JSON once every object and array is
 * closed) and its length; borrowed until the next call on the writer. NULL while the
 * writer holds an error.
 */
CFGPOOL_API const char *cfgpool_writer_text(const cfgpool_writer_t *w, size_t *len);

/* The writer's first error (0: none), and its message ("" when none). */
CFGPOOL_API int cfgpool_writer_error(const cfgpool_writer_t *w, const char **message);

/*
 * Structure and values. Inside an object every value must follow a key; inside an array
 * or at the top level a key is an error. Each returns 0 or the writer's (first) error:
 *   -EINVAL   a key where a value belongs or the other way round, an end that closes
 *             nothing or the wrong thing, more than one value at the top level
 *   -EDOM     a number that is not finite (write_double), with the key in the message
 *   -EILSEQ   a string or key that is not valid UTF-8
 *   -E2BIG    the text would pass max_bytes
 *   -ELOOP    nesting deeper than CFGPOOL_MAX_DEPTH
 *   -ENOMEM
 * Numbers: write_int and write_uint write the integer
 * exactly; write_double writes the fewest significant digits that read back as the same
 * double (printf's %g form), with ".0" appended when that text is an integer, so that it
 * reads back as a real and -0.0 keeps its sign. write_string takes `len` bytes (NUL bytes
 * included; s may be NULL when len is 0) and escapes '"', '\\' and every control
 * character; write_key takes a NUL-terminated key and escapes it the same way.
 * Not thread-safe: one writer, one thread at a time.
 */
CFGPOOL_API int cfgpool_write_object_begin(cfgpool_writer_t *w);
CFGPOOL_API int cfgpool_write_object_end(cfgpool_writer_t *w);
CFGPOOL_API int cfgpool_write_array_begin(cfgpool_writer_t *w);
CFGPOOL_API int cfgpool_write_array_end(cfgpool_writer_t *w);
CFGPOOL_API int cfgpool_write_key(cfgpool_writer_t *w, const char *key);
CFGPOOL_API int cfgpool_write_null(cfgpool_writer_t *w);
CFGPOOL_API int cfgpool_write_bool(cfgpool_writer_t *w, bool value);
CFGPOOL_API int cfgpool_write_int(cfgpool_writer_t *w, int64_t value);
CFGPOOL_API int cfgpool_write_uint(cfgpool_writer_t *w, uint64_t value);
CFGPOOL_API int cfgpool_write_double(cfgpool_writer_t *w, double value);
CFGPOOL_API int cfgpool_write_string(cfgpool_writer_t *w, const char *s, size_t len);

/*
 * A kernel's codec.
 *  example  an input object as JSON text, for messages ("{\"spot\": 100, ...}")
 *  decode   fills `input` (the kernel's input_size bytes, zeroed) from the input object
 *           `in` (read it with cfgpool_get_* and paths relative to `in`). On a bad or
 *           missing field it returns a negative code and says which with
 *           cfgpool_error_set(err, code, "field", "expected ..."); the input then gets
 *           an error answer naming that field.
 *  encode   writes the output's members into the result object: the writer is inside
 *           an open object, so the codec writes key/value pairs only (nested objects and
 *           arrays allowed). Returns 0 or a negative code (the writer's error, or its
 *           own); the output then gets an error answer instead of a result.
 *  arg      the kernel table's `arg`, passed to both.
 * Both run on the thread that converts (the command's main thread, a binding's caller),
 * possibly concurrently with the kernel's run on other threads: they must not write
 * anything shared without synchronization.
 */
typedef struct cfgpool_codec {
	const char *example;
	int (*decode)(void *arg, const cfgpool_node_t *in, void *input, cfgpool_error_t *err);
	int (*encode)(void *arg, const void *output, cfgpool_writer_t *w);
} cfgpool_codec_t;

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_CODEC_H */
