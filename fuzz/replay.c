/*
 * Replays inputs through a fuzz target without libFuzzer, so `make check` runs every seed and
 * every kept regression with the normal compiler (and under valgrind or a sanitizer build).
 *
 *   replay_<name> [FILE|DIR]...
 *
 * With no argument it replays $CFGPOOL_TEST_DATA/../fuzz/corpus/<name> and
 * $CFGPOOL_TEST_DATA/../fuzz/regressions/<name> (CFGPOOL_TEST_DATA defaults to "tests").
 * A directory stands for its files, in name order, dot files skipped. Each file runs in a
 * child process, so one that aborts is reported and the rest still run; the input is read
 * into a buffer of exactly its size, as libFuzzer gives it, so an overread shows under a
 * sanitizer or valgrind. Prints TAP, one line per file; exits nonzero if any failed.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct list {
	char **paths;
	size_t n, cap;
};

static void add(struct list *l, const char *path)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->paths = realloc(l->paths, l->cap * sizeof(*l->paths));
	}
	if (l->paths == NULL || (l->paths[l->n] = strdup(path)) == NULL) {
		perror("replay");
		exit(2);
	}
	l->n++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A missing directory is an error: a renamed corpus must not pass by replaying nothing. */
static int collect(struct list *l, const char *path)
{
	struct stat st;
	struct dirent *de;
	size_t first = l->n;
	DIR *d;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		add(l, path);
		return 0;
	}
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char file[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		add(l, file);
	}
	closedir(d);
	qsort(l->paths + first, l->n - first, sizeof(*l->paths), by_name);
	return 0;
}

static unsigned char *read_input(const char *path, size_t *size)
{
	struct stat st;
	unsigned char *buf;
	FILE *f = fopen(path, "rb");

	if (f == NULL || fstat(fileno(f), &st) != 0)
		return NULL;
	*size = (size_t)st.st_size;
	/* malloc(0) may return NULL; a one-byte block keeps the empty input distinct from failure. */
	buf = malloc(*size ? *size : 1);
	if (buf != NULL && *size > 0 && fread(buf, 1, *size, f) != *size) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The path from its corpus/ or regressions/ folder on, so a line reads the same in every tree. */
static const char *label(const char *path)
{
	const char *markers[] = {"/corpus/", "/regressions/"}, *shown = path;

	for (size_t m = 0; m < 2; m++)
		for (const char *p = path; (p = strstr(p, markers[m])) != NULL; p++)
			if (p + 1 > shown)
				shown = p + 1;
	return shown;
}

/* Runs one input in a child; 0 if it passed. */
static int replay_one(const char *path)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		size_t size;
		unsigned char *data = read_input(path, &size);

		if (data == NULL) {
			fprintf(stderr, "replay: cannot read %s\n", path);
			_exit(3);
		}
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		exit(0); /* exit, not _exit: leak checkers and sanitizers report at exit */
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct list inputs = {0};
	int failed = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (collect(&inputs, argv[i]) != 0)
				return 2;
	} else {
		const char *data = getenv("CFGPOOL_TEST_DATA");
		const char *kinds[] = {"corpus", "regressions"};

		for (size_t k = 0; k < 2; k++) {
			char dir[PATH_MAX];

			snprintf(dir, sizeof(dir), "%s/../fuzz/%s/%s", data ? data : "tests", kinds[k], fuzz_target_name);
			if (collect(&inputs, dir) != 0)
				return 2;
		}
	}
	printf("1..%zu\n", inputs.n);
	for (size_t i = 0; i < inputs.n; i++) {
		int rc = replay_one(inputs.paths[i]);

		printf("%sok %zu - fuzz_%s %s\n", rc == 0 ? "" : "not ", i + 1, fuzz_target_name,
		       label(inputs.paths[i]));
		failed |= rc != 0;
		free(inputs.paths[i]);
	}
	free(inputs.paths);
	return failed;
}
