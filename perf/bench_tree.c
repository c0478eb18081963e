/*
 * Question: how much memory does the frozen tree take, against the JSON text and against
 * jansson's own tree of the same document, and how long do loading and a path lookup take?
 * One JSON line per document: the seed example, ~1 MB and ~50 MB generated configurations.
 * jansson's bytes are counted through json_set_alloc_funcs(): the usable size of every
 * live block plus 8 bytes of malloc header each, measured once the document is parsed.
 */
#include <cfgpool/cfgpool.h>
#include <jansson.h>
#include <malloc.h>

#include "bench.h"

static size_t live_bytes, live_blocks;

static void *counting_malloc(size_t n)
{
	void *p = malloc(n);

	if (p != NULL) {
		live_bytes += malloc_usable_size(p) + 8;
		live_blocks++;
	}
	return p;
}

static void counting_free(void *p)
{
	if (p != NULL) {
		live_bytes -= malloc_usable_size(p) + 8;
		live_blocks--;
	}
	free(p);
}

static void bench_doc(const char *name, const char *text, size_t len, int reps)
{
	double load_ms[64], jansson_ms[64], lookup_ns[64];
	size_t tree_bytes = 0, jansson_bytes = 0, jansson_blocks = 0;
	cfgpool_error_t err;

	for (int r = 0; r < reps; r++) {
		cfgpool_config_t *cfg;
		json_error_t je;
		json_t *doc;
		uint64_t t0 = bench_now_ns();

		cfgpool_error_init(&err);
		if (cfgpool_config_load_string(text, len, NULL, &cfg, &err) != 0) {
			char msg[512];

			fprintf(stderr, "load failed: %s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
			exit(1);
		}
		load_ms[r] = (double)(bench_now_ns() - t0) / 1e6;
		tree_bytes = cfgpool_config_size(cfg);

		/* Lookup: one path through a quoted key, repeated. */
		const cfgpool_node_t *root = cfgpool_config_root(cfg);
		const char *level = NULL;
		enum { N = 100000 };
		t0 = bench_now_ns();
		for (int i = 0; i < N; i++) {
			if (cfgpool_get_string(root, "loggers[\"another.module\"].level", &level, NULL) != 0)
				exit(1);
			__asm__ volatile("" : : "r"(level) : "memory");
		}
		lookup_ns[r] = (double)(bench_now_ns() - t0) / N;
		cfgpool_config_free(cfg);

		t0 = bench_now_ns();
		live_bytes = live_blocks = 0;
		doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
		jansson_ms[r] = (double)(bench_now_ns() - t0) / 1e6;
		if (doc == NULL) {
			fprintf(stderr, "jansson: %s\n", je.text);
			exit(1);
		}
		jansson_bytes = live_bytes;
		jansson_blocks = live_blocks;
		json_decref(doc);
	}
	bench_report("tree", name, "ms", load_ms, (size_t)reps, (uint64_t)reps,
		     "\"what\": \"load+freeze\", \"json_bytes\": %zu, \"tree_bytes\": %zu, \"jansson_bytes\": %zu, "
		     "\"jansson_blocks\": %zu, \"tree_over_json\": %.3f, \"jansson_over_json\": %.3f",
		     len, tree_bytes, jansson_bytes, jansson_blocks, (double)tree_bytes / (double)len,
		     (double)jansson_bytes / (double)len);
	bench_report("tree", name, "ms", jansson_ms, (size_t)reps, (uint64_t)reps, "\"what\": \"jansson parse only\"");
	bench_report("tree", name, "ns", lookup_ns, (size_t)reps, (uint64_t)reps * 100000,
		     "\"what\": \"get_string loggers[\\\"another.module\\\"].level\"");
}

int main(void)
{
	static const char seed[] = "{\"version\": 1, \"disable_existing_loggers\": false, \"loggers\": "
				   "{\"\": {\"level\": \"INFO\"}, \"another.module\": {\"level\": \"DEBUG\"}}}";
	double scale = bench_scale();
	size_t len;
	char *text;

	json_set_alloc_funcs(counting_malloc, counting_free);
	bench_doc("seed", seed, sizeof(seed) - 1, 21);

	text = bench_gen_config((size_t)(1e6 * scale), NULL, &len);
	bench_doc("1MB", text, len, 11);
	free(text);

	text = bench_gen_config((size_t)(50e6 * scale), NULL, &len);
	bench_doc("50MB", text, len, 3);
	free(text);
	return 0;
}
