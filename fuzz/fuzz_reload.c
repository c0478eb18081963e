/*
 * Fuzz target (d): a reload sequence. A holder with a small preparer of its own publishes a
 * valid configuration; then each piece of the input (pieces are separated by the byte 0xff,
 * which valid UTF-8 never holds; at most MAX_RELOADS) is reloaded as a document. The last
 * byte of a piece picks how: bit 0 synchronous or not, bit 1 from inside a read-side
 * section. The valid configuration is reloaded once more at the end, then the holder is
 * destroyed.
 *
 * Contracts checked:
 *  - a reload fails exactly when a cfgpool_config_load_string() of the same bytes with the
 *    same options fails, with the same error; a synchronous one inside a read-side section
 *    is -EBUSY whatever the bytes;
 *  - on failure nothing changes: the same snapshot is current, with the same version and
 *    the same content (a hash of a walk of the whole tree), the error struct is valid and
 *    stats.failed went up by one while stats.published did not;
 *  - on success the version is the previous one + 1 (and *version says so), the new
 *    snapshot is what the standalone load froze, stats.published and stats.retired went up
 *    by one; after a synchronous one the old snapshot has been freed;
 *  - a snapshot taken inside a read-side section stays intact until the section ends, even
 *    when a reload replaces it meanwhile;
 *  - after a barrier every retired snapshot has been freed, and after destroy every block
 *    the preparer made has been released exactly once (and LeakSanitizer sees no leak).
 */
#include "fuzz.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

const char *const fuzz_target_name = "reload";

#define MAX_RELOADS 8
#define BLOCK_MAGIC 0x636667706f6f6c21ull /* "cfgpool!" */

static const char base[] = "{\"kernel\": {\"name\": \"scale\", \"scale\": 2.5}, \"data\": [1, 2, 3]}";

/* Blocks made and released; release runs on the holder's reclaim thread. */
static atomic_ulong prepared, released;

struct block {
	uint64_t magic;
	double scale;
};

/* `kernel.scale`, if present, must be a positive number; the block holds it. */
static int prepare(const cfgpool_node_t *root, void **params, cfgpool_error_t *err, void *arg)
{
	const cfgpool_node_t *kernel;
	struct block *b;
	double scale = 1.0;
	int rc = cfgpool_lookup(root, "kernel", &kernel);

	(void)arg;
	if (rc == 0) {
		if (cfgpool_node_type(kernel) != CFGPOOL_TYPE_OBJECT)
			return cfgpool_error_set(err, CFGPOOL_ESCHEMA, "kernel", "expected an object");
		rc = cfgpool_get_double(kernel, "scale", &scale);
		if (rc == CFGPOOL_ETYPE)
			return cfgpool_error_set(err, CFGPOOL_ETYPE, "kernel.scale", "expected a number");
		if (rc == 0 && !(scale > 0))
			return cfgpool_error_set(err, -ERANGE, "kernel.scale", "expected a positive number, got %g",
						 scale);
	}
	b = malloc(sizeof(*b));
	if (b == NULL)
		return cfgpool_error_set(err, -ENOMEM, NULL, "out of memory");
	*b = (struct block){BLOCK_MAGIC, scale};
	*params = b;
	atomic_fetch_add_explicit(&prepared, 1, memory_order_relaxed);
	return 0;
}

static void release(void *params, void *arg)
{
	struct block *b = params;

	(void)arg;
	FUZZ_CHECK(b->magic == BLOCK_MAGIC);
	b->magic = 0; /* a second release of the same block fails the check above */
	free(b);
	atomic_fetch_add_explicit(&released, 1, memory_order_relaxed);
}

static const cfgpool_prep_t prep = {.name = "scale", .prepare = prepare, .release = release};
static const cfgpool_load_opts_t opts = {.preps = &prep, .nprep = 1};

/* The current snapshot's content hash, taken inside a read-side section. */
static uint64_t current_hash(const cfgpool_holder_t *h, const cfgpool_config_t **snap)
{
	uint64_t hash;

	*snap = cfgpool_holder_read_begin(h);
	FUZZ_CHECK(*snap != NULL);
	hash = fuzz_tree_hash(cfgpool_config_root(*snap));
	cfgpool_holder_read_end(h);
	return hash;
}

/* What a standalone load of the bytes gives: its rc, error, and tree hash on success. */
static int load_alone(const char *text, size_t len, cfgpool_error_t *err, uint64_t *hash)
{
	cfgpool_config_t *cfg = NULL;
	int rc;

	cfgpool_error_init(err);
	rc = cfgpool_config_load_string(text, len, &opts, &cfg, err);
	if (rc == 0) {
		*hash = fuzz_tree_hash(cfgpool_config_root(cfg));
		cfgpool_config_free(cfg);
	}
	return rc;
}

static void reload_checked(cfgpool_holder_t *h, const char *text, size_t len, unsigned how)
{
	unsigned flags = how & 1 ? CFGPOOL_RELOAD_SYNC : 0;
	bool in_section = (how & 2) != 0;
	const cfgpool_config_t *before, *after, *held = NULL;
	cfgpool_holder_stats_t s0, s1;
	cfgpool_error_t err, want_err;
	uint64_t v0 = cfgpool_holder_version(h), v = 0xdead, hash0, held_hash = 0, want_hash = 0;
	int rc, want;

	hash0 = current_hash(h, &before);
	FUZZ_CHECK(cfgpool_config_version(before) == v0);
	want = load_alone(text, len, &want_err, &want_hash);
	if (in_section && flags) {
		want = -EBUSY;
		want_err.code = 0;
	}
	cfgpool_holder_stats(h, &s0);

	cfgpool_error_init(&err);
	if (in_section) {
		held = cfgpool_holder_read_begin(h);
		held_hash = fuzz_tree_hash(cfgpool_config_root(held));
	}
	rc = cfgpool_holder_reload_string(h, text, len, flags, &v, &err);
	if (in_section) {
		/* Whatever the reload did, the snapshot this section holds is intact. */
		FUZZ_CHECK(fuzz_tree_hash(cfgpool_config_root(held)) == held_hash);
		cfgpool_holder_read_end(h);
	}
	cfgpool_holder_stats(h, &s1);

	FUZZ_CHECK(rc == want);
	if (rc != 0) {
		fuzz_check_error(&err, rc);
		if (want_err.code != 0)
			FUZZ_CHECK(fuzz_same_error(&err, &want_err));
		FUZZ_CHECK(v == 0xdead);
		FUZZ_CHECK(cfgpool_holder_version(h) == v0);
		FUZZ_CHECK(current_hash(h, &after) == hash0);
		FUZZ_CHECK(after == before);
		FUZZ_CHECK(s1.failed == s0.failed + 1);
		FUZZ_CHECK(s1.published == s0.published && s1.retired == s0.retired);
		FUZZ_CHECK(s1.current_size == s0.current_size);
		return;
	}
	FUZZ_CHECK(v == v0 + 1);
	FUZZ_CHECK(cfgpool_holder_version(h) == v0 + 1);
	FUZZ_CHECK(current_hash(h, &after) == want_hash);
	FUZZ_CHECK(cfgpool_config_version(after) == v0 + 1);
	FUZZ_CHECK(s1.published == s0.published + 1 && s1.retired == s0.retired + 1);
	FUZZ_CHECK(s1.failed == s0.failed);
	if (flags)
		FUZZ_CHECK(s1.freed >= s0.freed + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long made = atomic_load(&prepared), gone = atomic_load(&released);
	const char *text = (const char *)data, *end = text + size;
	cfgpool_holder_stats_t st;
	cfgpool_holder_t *h;
	cfgpool_error_t err;
	uint64_t v = 0;

	FUZZ_CHECK(cfgpool_holder_create(&opts, &h) == 0);
	FUZZ_CHECK(cfgpool_holder_reload_string(h, base, sizeof(base) - 1, CFGPOOL_RELOAD_SYNC, &v, &err) == 0);
	FUZZ_CHECK(v == 1);
	for (int n = 0; n < MAX_RELOADS && text <= end; n++) {
		const char *cut = memchr(text, 0xff, (size_t)(end - text));
		size_t len = (size_t)((cut ? cut : end) - text);
		/* A copy of exactly the piece, so reading past it shows under ASan. */
		char *piece = malloc(len ? len : 1);

		FUZZ_CHECK(piece != NULL);
		memcpy(piece, text, len);
		reload_checked(h, piece, len, len > 0 ? (unsigned char)piece[len - 1] : 0);
		free(piece);
		if (cut == NULL)
			break;
		text = cut + 1;
	}
	reload_checked(h, base, sizeof(base) - 1, 0);
	FUZZ_CHECK(cfgpool_holder_barrier(h) == 0);
	cfgpool_holder_stats(h, &st);
	FUZZ_CHECK(st.freed == st.retired);
	FUZZ_CHECK(st.published == st.retired + 1);
	cfgpool_holder_destroy(h);
	FUZZ_CHECK(atomic_load(&prepared) - made == atomic_load(&released) - gone);
	return 0;
}
