/*
 * Kernels as plug-ins (<cfgpool/plugin.h>): loading a shared object named by
 * kernel.plugin, the ABI and version check, every way a load fails (each a configuration
 * error at kernel.plugin naming the file), relative file names, the object's lifetime,
 * the reload rule (the same file unchanged is accepted; another file, a rebuilt one or
 * none is refused and the old configuration stays) and `cfgpool check`.
 *
 * The plug-ins are tests/plugins/scale.c built by `make check` in several variants
 * (tests/plugins/.libs/NAME.so under $CFGPOOL_BUILD). Each test works in its own
 * temporary directory, where it writes configurations and copies of plug-ins.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"

#include "var.h" /* examples/kernels: the example plug-in's input, output and closed form */

static char tmp[512]; /* the test's directory; short, so paths under it fit PATH_MAX */

/* The built plug-in NAME.so. */
static const char *plugin_path(const char *name)
{
	static char buf[4][PATH_MAX];
	static unsigned next;
	const char *build = getenv("CFGPOOL_BUILD");
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/tests/plugins/.libs/%s.so", build != NULL ? build : ".", name);
	return p;
}

/* tmp/REL. */
static const char *tmp_path(const char *rel)
{
	static char buf[4][PATH_MAX];
	static unsigned next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", tmp, rel);
	return p;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	write_fd_and_close(fd, text, strlen(text));
}

/* Copies `from` to a new file beside `to`, then renames it over `to` (a new inode, as a linker makes). */
static void install_copy(const char *from, const char *to)
{
	char part[PATH_MAX + 8], buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	assert_true(in >= 0);
	snprintf(part, sizeof(part), "%s.part", to);
	out = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	assert_int_equal(close(out), 0);
	assert_int_equal(rename(part, to), 0);
}

/* Writes tmp/NAME: a configuration running `plugin` with `factor` and `extra` members. */
static const char *write_config(const char *name, const char *plugin, double factor, const char *extra)
{
	const char *path = tmp_path(name);
	char text[2 * PATH_MAX];

	snprintf(text, sizeof(text), "{\"pool\": {\"workers\": 2}, \"kernel\": {\"plugin\": \"%s\", \"factor\": %g%s}}",
		 plugin, factor, extra);
	write_file(path, text);
	return path;
}

static int make_tmp(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "%s/cfgpool-plugin-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int remove_tmp(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static cfgpool_pool_t *open_ok(const char *config)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	char msg[1024];
	int rc;

	cfgpool_error_init(&err);
	rc = cfgpool_pool_open_file(config, NULL, NULL, &pool, &err);
	if (rc != 0)
		print_error("open failed: %s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	return pool;
}

/* Every output of a map of 0..n-1 is i * factor + offset. */
static void assert_map(cfgpool_pool_t *pool, double factor, double offset, uint64_t version)
{
	enum { N = 64 };
	double in[N], out[N];
	cfgpool_result_t res[N];

	for (int i = 0; i < N; i++)
		in[i] = i;
	assert_int_equal(cfgpool_pool_map(pool, in, 0, out, 0, N, res, 0), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(res[i].status, 0);
		assert_int_equal(res[i].version, version);
		assert_true(out[i] == i * factor + offset);
	}
}

/* A load with the pool's preparer that must fail: its code, and err for the caller to read. */
static int load_fails(const char *config, cfgpool_error_t *err)
{
	cfgpool_load_opts_t opts = {.nprep = 1};
	cfgpool_config_t *cfg = NULL;
	cfgpool_prep_t prep;
	int rc;

	cfgpool_kernel_prep(NULL, &prep);
	opts.preps = &prep;
	cfgpool_error_init(err);
	rc = cfgpool_config_load_file(config, &opts, &cfg, err);
	assert_null(cfg);
	assert_int_not_equal(rc, 0);
	assert_int_equal(err->code, rc);
	assert_string_equal(err->path, "kernel.plugin");
	assert_string_equal(err->source, config);
	return rc;
}

static void good_plugin_runs_through_the_pool(void **state)
{
	cfgpool_pool_t *pool;

	(void)state;
	pool = open_ok(write_config("c.json", plugin_path("good"), 3, ", \"name\": \"scale\""));
	assert_string_equal(cfgpool_pool_kernel(pool)->name, "scale");
	assert_int_equal(cfgpool_pool_kernel(pool)->input_size, sizeof(double));
	assert_map(pool, 3, 0, 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* The object stays loaded while the pool is open, and is closed with the pool. */
static void the_object_lives_as_long_as_the_pool(void **state)
{
	const char *so = tmp_path("life.so");
	cfgpool_pool_t *pool;
	void *h;

	(void)state;
	install_copy(plugin_path("good"), so);
	assert_null(dlopen(so, RTLD_NOW | RTLD_NOLOAD));
	pool = open_ok(write_config("c.json", so, 2, ""));
	h = dlopen(so, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	dlclose(h);
	assert_int_equal(cfgpool_pool_reload_file(pool, tmp_path("c.json"), 0, NULL, NULL), 0);
	assert_map(pool, 2, 0, 2);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	assert_null(dlopen(so, RTLD_NOW | RTLD_NOLOAD));
}

/* A configuration loaded without a pool holds its own reference. */
static void a_loaded_configuration_holds_the_object(void **state)
{
	const char *so = tmp_path("cfg.so");
	cfgpool_load_opts_t opts = {.nprep = 1};
	cfgpool_config_t *cfg = NULL;
	cfgpool_prep_t prep;
	void *h;

	(void)state;
	install_copy(plugin_path("good"), so);
	cfgpool_kernel_prep(NULL, &prep);
	opts.preps = &prep;
	assert_int_equal(cfgpool_config_load_file(write_config("c.json", so, 1, ""), &opts, &cfg, NULL), 0);
	h = dlopen(so, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	dlclose(h);
	cfgpool_config_free(cfg);
	assert_null(dlopen(so, RTLD_NOW | RTLD_NOLOAD));
}

static void abi_mismatch_states_both_versions(void **state)
{
	const char *so = plugin_path("badabi");
	cfgpool_error_t err;
	char ours[64];

	(void)state;
	assert_int_equal(load_fails(write_config("c.json", so, 1, ""), &err), CFGPOOL_ESCHEMA);
	snprintf(ours, sizeof(ours), "this is cfgpool %s (plug-in ABI %d)", CFGPOOL_VERSION_STRING, CFGPOOL_PLUGIN_ABI);
	assert_contains(err.text, so);
	assert_contains(err.text, "(plug-in ABI 99)");
	assert_contains(err.text, ours);
}

static void version_mismatch_states_both_versions(void **state)
{
	const char *so = plugin_path("badversion");
	cfgpool_error_t err;
	char theirs[64];

	(void)state;
	assert_int_equal(load_fails(write_config("c.json", so, 1, ""), &err), CFGPOOL_ESCHEMA);
	snprintf(theirs, sizeof(theirs), "built for cfgpool %d.%d.%d", CFGPOOL_VERSION_MAJOR, CFGPOOL_VERSION_MINOR + 1,
		 CFGPOOL_VERSION_PATCH);
	assert_contains(err.text, theirs);
	assert_contains(err.text, "this is cfgpool " CFGPOOL_VERSION_STRING);
}

/* Only the patch level differs: accepted. */
static void another_patch_level_is_accepted(void **state)
{
	cfgpool_pool_t *pool;

	(void)state;
	pool = open_ok(write_config("c.json", plugin_path("patchlevel"), 3, ""));
	assert_map(pool, 3, 0, 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

static void missing_file_is_enoent(void **state)
{
	const char *so = tmp_path("absent.so");
	cfgpool_error_t err;

	(void)state;
	assert_int_equal(load_fails(write_config("c.json", so, 1, ""), &err), -ENOENT);
	assert_contains(err.text, so);
}

static void missing_entry_point_is_named(void **state)
{
	const char *so = plugin_path("noentry");
	cfgpool_error_t err;

	(void)state;
	assert_int_equal(load_fails(write_config("c.json", so, 1, ""), &err), CFGPOOL_ESCHEMA);
	assert_contains(err.text, so);
	assert_contains(err.text, "no entry point cfgpool_plugin_v1()");
	assert_contains(err.text, "undefined symbol"); /* dlerror()'s text */
}

static void a_table_without_run_is_refused(void **state)
{
	const char *so = plugin_path("norun");
	cfgpool_error_t err;

	(void)state;
	assert_int_equal(load_fails(write_config("c.json", so, 1, ""), &err), CFGPOOL_ESCHEMA);
	assert_contains(err.text, so);
	assert_contains(err.text, "needs a name and a run function");
}

static void not_a_shared_object_carries_dlerror(void **state)
{
	const char *so = tmp_path("text.so");
	cfgpool_error_t err;
	char why[512];
	void *h;

	(void)state;
	write_file(so, "this is not an ELF object, only text long enough to have a header's size\n");
	h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	assert_null(h);
	/* Copied: the next dlerror() frees the string. */
	snprintf(why, sizeof(why), "%s", dlerror());
	assert_int_equal(load_fails(write_config("c.json", so, 1, ""), &err), CFGPOOL_ESCHEMA);
	assert_contains(err.text, "cannot load plug-in");
	assert_contains(err.text, why);
}

static void plugin_must_be_a_string(void **state)
{
	const char *config = tmp_path("c.json");
	cfgpool_error_t err;

	(void)state;
	write_file(config, "{\"kernel\": {\"plugin\": 7}}");
	assert_int_equal(load_fails(config, &err), CFGPOOL_ESCHEMA);
	write_file(config, "{\"kernel\": {\"plugin\": \"\"}}");
	assert_int_equal(load_fails(config, &err), CFGPOOL_ESCHEMA);
}

static void name_beside_plugin_must_match(void **state)
{
	cfgpool_load_opts_t opts = {.nprep = 1};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	cfgpool_prep_t prep;

	(void)state;
	cfgpool_kernel_prep(NULL, &prep);
	opts.preps = &prep;
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_config_load_file(write_config("c.json", plugin_path("good"), 1, ", \"name\": \"mc_option\""),
						  &opts, &cfg, &err),
			 CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "kernel.name");
	assert_contains(err.text, "holds kernel \"scale\", not \"mc_option\"");
}

/* The plug-in's own prepare runs: its error is the document's. */
static void the_plugins_prepare_checks_its_section(void **state)
{
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	const char *config = tmp_path("c.json");
	char text[PATH_MAX + 64];

	(void)state;
	snprintf(text, sizeof(text), "{\"kernel\": {\"plugin\": \"%s\", \"factor\": \"two\"}}", plugin_path("good"));
	write_file(config, text);
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_open_file(config, NULL, NULL, &pool, &err), CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "kernel.factor");
	assert_null(pool);
}

/* Relative to the configuration file's directory, whatever the working directory. */
static void relative_paths_follow_the_config_file(void **state)
{
	cfgpool_pool_t *pool;

	(void)state;
	assert_int_equal(mkdir(tmp_path("sub"), 0755), 0);
	install_copy(plugin_path("good"), tmp_path("sub/rel.so"));
	pool = open_ok(write_config("sub/c.json", "rel.so", 5, ""));
	assert_map(pool, 5, 0, 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	pool = open_ok(write_config("c.json", "sub/rel.so", 6, ""));
	assert_map(pool, 6, 0, 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* A string's relative file names are relative to the working directory, and never searched for. */
static void relative_paths_of_a_string_follow_the_working_directory(void **state)
{
	char cwd[PATH_MAX], text[256];
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;

	(void)state;
	install_copy(plugin_path("good"), tmp_path("str.so"));
	snprintf(text, sizeof(text), "{\"kernel\": {\"plugin\": \"str.so\", \"factor\": 7}}");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_open_string(text, strlen(text), NULL, NULL, &pool, &err), -ENOENT);
	assert_contains(err.text, "./str.so");
	assert_int_equal(chdir(tmp), 0);
	assert_int_equal(cfgpool_pool_open_string(text, strlen(text), NULL, NULL, &pool, NULL), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_map(pool, 7, 0, 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* The same file, unchanged: accepted, prepared anew, the same object. */
static void reload_of_the_same_plugin_is_accepted(void **state)
{
	const char *so = tmp_path("same.so");
	cfgpool_pool_t *pool;
	uint64_t version = 0;
	cfgpool_error_t err;

	(void)state;
	install_copy(plugin_path("good"), so);
	pool = open_ok(write_config("c.json", so, 2, ""));
	assert_map(pool, 2, 0, 1);
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_reload_file(pool, write_config("c.json", so, 4, ""), 0, &version, &err), 0);
	assert_int_equal(version, 2);
	assert_map(pool, 4, 0, 2);
	/* By another name for the same file: accepted too. */
	assert_int_equal(cfgpool_pool_reload_file(pool, write_config("c.json", "same.so", 8, ""), 0, &version, &err), 0);
	assert_map(pool, 8, 0, 3);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* Refused at kernel.plugin with `message`; the pool keeps version 1 and factor 2. */
static void assert_refused(cfgpool_pool_t *pool, const char *config, const char *message)
{
	uint64_t version = 0;
	cfgpool_error_t err;

	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_reload_file(pool, config, 0, &version, &err), CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "kernel.plugin");
	assert_string_equal(err.source, config);
	assert_contains(err.text, message);
	assert_int_equal(cfgpool_pool_version(pool), 1);
	assert_map(pool, 2, 0, 1);
}

static void reload_of_another_plugin_is_refused(void **state)
{
	cfgpool_pool_t *pool;
	char message[PATH_MAX + 64];

	(void)state;
	pool = open_ok(write_config("c.json", plugin_path("good"), 2, ""));
	snprintf(message, sizeof(message), "this pool runs plug-in %s (kernel \"scale\"), not %s", plugin_path("good"),
		 plugin_path("other"));
	assert_refused(pool, write_config("d.json", plugin_path("other"), 2, ""), message);
	/* Nor a built-in, nor a document naming no kernel at all. */
	write_file(tmp_path("e.json"), "{\"kernel\": {\"name\": \"spin\"}}");
	assert_refused(pool, tmp_path("e.json"), "missing: this pool runs plug-in");
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* The same path rebuilt (a new file renamed over it) or rewritten in place: refused. */
static void reload_of_a_rebuilt_plugin_is_refused(void **state)
{
	const char *so = tmp_path("rebuilt.so");
	const char *config = write_config("c.json", so, 2, "");
	struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
	char message[PATH_MAX + 64];
	cfgpool_pool_t *pool;

	(void)state;
	install_copy(plugin_path("good"), so);
	pool = open_ok(config);
	snprintf(message, sizeof(message), "%s changed since the pool opened; restart to load the new build", so);
	install_copy(plugin_path("other"), so);
	assert_refused(pool, config, message);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);

	/* The same inode with a new modification time. */
	install_copy(plugin_path("good"), so);
	pool = open_ok(config);
	assert_int_equal(utimensat(AT_FDCWD, so, times, 0), 0);
	assert_refused(pool, config, message);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* A pool running a built-in kernel refuses a document naming a plug-in. */
static void builtin_pool_refuses_a_plugin(void **state)
{
	const char *text = "{\"pool\": {\"workers\": 1}, \"kernel\": {\"name\": \"spin\"}}";
	char doc[PATH_MAX + 64];
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;

	(void)state;
	assert_int_equal(cfgpool_pool_open_string(text, strlen(text), NULL, NULL, &pool, NULL), 0);
	snprintf(doc, sizeof(doc), "{\"kernel\": {\"plugin\": \"%s\"}}", plugin_path("good"));
	cfgpool_error_init(&err);
	assert_int_equal(cfgpool_pool_reload_string(pool, doc, strlen(doc), 0, NULL, &err), CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "kernel.plugin");
	assert_contains(err.text, "this pool runs kernel \"spin\", which is not a plug-in");
	assert_int_equal(cfgpool_pool_version(pool), 1);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

/* So does a load with the preparer of a given kernel. */
static void kernel_prep_of_a_builtin_refuses_a_plugin(void **state)
{
	cfgpool_load_opts_t opts = {.nprep = 1};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	cfgpool_prep_t prep;
	char doc[PATH_MAX + 64];

	(void)state;
	snprintf(doc, sizeof(doc), "{\"kernel\": {\"plugin\": \"%s\"}}", plugin_path("good"));
	cfgpool_kernel_prep(cfgpool_kernel_find("spin"), &prep);
	opts.preps = &prep;
	assert_int_equal(load_str_opts(doc, &opts, &cfg, &err), CFGPOOL_ESCHEMA);
	assert_string_equal(err.path, "kernel.plugin");
	assert_null(cfg);
}

/* Runs `cfgpool ARGS` (shell words) with no input; its exit status, its output in `out`. */
static int run_cfgpool(const char *args, char *out, size_t size)
{
	const char *bin = getenv("CFGPOOL_BIN");
	char cmd[3 * PATH_MAX];
	size_t n;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "'%s' %s </dev/null 2>&1", bin != NULL ? bin : "./cfgpool", args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	status = pclose(p);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * `cfgpool check` loads the plug-in (exit 1 when it cannot); `cfgpool run` exits 2, also for
 * a kernel with no JSON codec.
 */
static void the_command_loads_the_plugin(void **state)
{
	char out[4096], args[2 * PATH_MAX];

	(void)state;
	snprintf(args, sizeof(args), "check '%s'", write_config("c.json", plugin_path("good"), 1, ""));
	assert_int_equal(run_cfgpool(args, out, sizeof(out)), 0);
	assert_contains(out, "ok: ");
	assert_contains(out, "plug-in ");
	snprintf(args, sizeof(args), "check '%s'", write_config("c.json", plugin_path("badabi"), 1, ""));
	assert_int_equal(run_cfgpool(args, out, sizeof(out)), 1);
	assert_contains(out, "kernel.plugin");
	assert_contains(out, "(plug-in ABI 99)");
	snprintf(args, sizeof(args), "run -q -c '%s'", write_config("c.json", plugin_path("noentry"), 1, ""));
	assert_int_equal(run_cfgpool(args, out, sizeof(out)), 2);
	assert_contains(out, "kernel.plugin");
	assert_contains(out, "undefined symbol");
	/* A kernel without a JSON codec can run in a host, not under the command. */
	snprintf(args, sizeof(args), "run -q -c '%s'", write_config("c.json", plugin_path("good"), 1, ""));
	assert_int_equal(run_cfgpool(args, out, sizeof(out)), 2);
	assert_contains(out, "kernel scale has no JSON codec");
}

/* Copies the source tree's examples/kernels/NAME to tmp/NAME. */
static void copy_example(const char *name)
{
	char rel[64], from[PATH_MAX];

	snprintf(rel, sizeof(rel), "../examples/kernels/%s", name);
	install_copy(test_data_path(from, sizeof(from), rel), tmp_path(name));
}

/*
 * The example project's kernel (examples/kernels/var.c, built here without its codec)
 * with the example's own configuration and inputs: every result within 2% of the closed
 * form, the same bit for bit on a second run, and the input with a position missing
 * refused with the kernel's own message.
 */
static void example_kernel_matches_the_closed_form(void **state)
{
	enum { MAX = 16 };
	struct var_input in[MAX];
	struct var_output out[MAX], again[MAX];
	cfgpool_result_t res[MAX];
	const cfgpool_node_t *section;
	struct var_portfolio pf;
	cfgpool_config_t *cfg;
	cfgpool_pool_t *pool;
	char line[1024];
	size_t n = 0;
	FILE *f;

	(void)state;
	install_copy(plugin_path("example_var"), tmp_path("var.so"));
	copy_example("config.json");
	copy_example("inputs.jsonl");
	pool = open_ok(tmp_path("config.json"));
	assert_string_equal(cfgpool_pool_kernel(pool)->name, "portfolio_var");
	memset(in, 0, sizeof(in));
	f = fopen(tmp_path("inputs.jsonl"), "r");
	assert_non_null(f);
	while (n < MAX && fgets(line, sizeof(line), f) != NULL) {
		assert_int_equal(load_str(line, &cfg, NULL), 0);
		assert_int_equal(var_read_input(cfgpool_config_root(cfg), &in[n++], NULL), 0);
		cfgpool_config_free(cfg);
	}
	fclose(f);
	assert_true(n >= 4);
	/* The example's inputs include one the kernel refuses. */
	assert_int_equal(cfgpool_pool_map(pool, in, 0, out, 0, n, res, 0), CFGPOOL_EKERNEL);
	assert_int_equal(cfgpool_pool_map(pool, in, 0, again, 0, n, NULL, 0), CFGPOOL_EKERNEL);

	assert_int_equal(cfgpool_config_load_file(tmp_path("config.json"), NULL, &cfg, NULL), 0);
	assert_int_equal(cfgpool_lookup(cfgpool_config_root(cfg), "kernel", &section), 0);
	assert_int_equal(var_read_portfolio(section, &pf, NULL), 0);
	cfgpool_config_free(cfg);
	for (size_t i = 0; i < n; i++) {
		double var, es;

		if (in[i].npositions != pf.n) {
			assert_true(res[i].status < 0);
			assert_contains(cfgpool_pool_kernel(pool)->strerror(res[i].status), "one number per asset");
			continue;
		}
		assert_int_equal(res[i].status, 0);
		var_closed_form(&pf, &in[i], &var, &es);
		assert_true(fabs(out[i].var - var) <= 0.02 * fabs(var));
		assert_true(fabs(out[i].expected_shortfall - es) <= 0.02 * fabs(es));
		assert_true(out[i].expected_shortfall > out[i].var);
		assert_int_equal(out[i].paths, 200000);
		assert_memory_equal(&out[i], &again[i], sizeof(out[i]));
	}
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(good_plugin_runs_through_the_pool, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(the_object_lives_as_long_as_the_pool, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(a_loaded_configuration_holds_the_object, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(abi_mismatch_states_both_versions, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(version_mismatch_states_both_versions, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(another_patch_level_is_accepted, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(missing_file_is_enoent, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(missing_entry_point_is_named, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(a_table_without_run_is_refused, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(not_a_shared_object_carries_dlerror, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(plugin_must_be_a_string, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(name_beside_plugin_must_match, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(the_plugins_prepare_checks_its_section, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(relative_paths_follow_the_config_file, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(relative_paths_of_a_string_follow_the_working_directory, make_tmp,
					    remove_tmp),
	    cmocka_unit_test_setup_teardown(reload_of_the_same_plugin_is_accepted, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(reload_of_another_plugin_is_refused, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(reload_of_a_rebuilt_plugin_is_refused, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(builtin_pool_refuses_a_plugin, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(kernel_prep_of_a_builtin_refuses_a_plugin, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(the_command_loads_the_plugin, make_tmp, remove_tmp),
	    cmocka_unit_test_setup_teardown(example_kernel_matches_the_closed_form, make_tmp, remove_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
