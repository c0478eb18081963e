/*
 * Question: how much memory does the frozen tree take, against the JSON text and against
 * jansson's own tree of the same document, and how long do loading and a path lookup take?
 * Three JSON lines per document: by default the seed example, ~1 MB and ~50 MB generated
 * configurations; --sizes picks others (perf/run: 1 KB to 100 MB).
 * jansson's bytes are counted through json_set_alloc_funcs(): the usable size of every
 * live block plus 8 bytes of malloc header each, measured once the document is parsed.
 */
#include <cfgpool/cfgpool.h>
#include <jansson.h>
#include <malloc.h>
#include <stdbool.h>

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

/* "seed", or a size: a number with an optional KB, MB or GB suffix (powers of 1000); 0 if bad. */
static double parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v <= 0)
		return 0;
	if (*end == '\0')
		return v;
	if (strcmp(end, "KB") == 0)
		return v * 1e3;
	if (strcmp(end, "MB") == 0)
		return v * 1e6;
	if (strcmp(end, "GB") == 0)
		return v * 1e9;
	return 0;
}

/* Repetitions: fewer as documents grow, so that 100 MB stays a few seconds per path. */
static int reps_for(double bytes, bool quick)
{
	int reps = bytes < 1e5 ? 21 : bytes < 2e6 ? 11 : bytes < 2e7 ? 5 : 3;

	return quick ? (reps + 2) / 3 : reps;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_tree [--sizes LIST] [--quick] [--workers N]\n"
		   "  --sizes LIST  comma-separated documents: seed, or sizes such as 1KB,10MB,100MB\n"
		   "                (default seed,1MB,50MB); each generated as perf/bench.h describes\n"
		   "  --quick       a third of the repetitions\n"
		   "  --workers N   accepted like every benchmark's, unused: loading is one thread's work\n"
		   "  CFGPOOL_BENCH_SCALE multiplies the generated sizes\n");
}

int main(int argc, char **argv)
{
	static const char seed[] = "{\"version\": 1, \"disable_existing_loggers\": false, \"loggers\": "
				   "{\"\": {\"level\": \"INFO\"}, \"another.module\": {\"level\": \"DEBUG\"}}}";
	const char *sizes = "seed,1MB,50MB";
	double scale = bench_scale();
	bool quick = false;
	char buf[512], *save = NULL;

	for (int i = 1; i < argc; i++) {
		if (bench_common_option(argc, argv, &i, &quick, NULL, usage))
			continue;
		if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
			sizes = argv[++i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	json_set_alloc_funcs(counting_malloc, counting_free);
	snprintf(buf, sizeof(buf), "%s", sizes);
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		double bytes;
		size_t len;
		char *text;

		if (strcmp(tok, "seed") == 0) {
			bench_doc("seed", seed, sizeof(seed) - 1, reps_for(0, quick));
			continue;
		}
		bytes = parse_size(tok);
		if (bytes <= 0) {
			fprintf(stderr, "bench_tree: --sizes: '%s' is neither seed nor a size such as 10KB or 100MB\n",
				tok);
			return 2;
		}
		text = bench_gen_config((size_t)(bytes * scale), NULL, &len);
		if (text == NULL) {
			fprintf(stderr, "bench_tree: out of memory for a %s document\n", tok);
			return 1;
		}
		bench_doc(tok, text, len, reps_for(bytes * scale, quick));
		free(text);
	}
	return 0;
}
