/*
 * Reading the configuration from host threads with the inline read side: the sections are
 * compiled into the program (liburcu-memb's read lock and unlock around one acquire load),
 * which pkg-config's flags for cfgpool link. Nothing to register, nothing to call at exit.
 *   cc read_inline.c $(pkg-config --cflags --libs cfgpool) -o read_inline && ./read_inline config.json
 */
#define CFGPOOL_INLINE_READ
#include <cfgpool/cfgpool.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static cfgpool_holder_t *holder;

static void *reader(void *arg)
{
	const char *level = "?";
	long same = 0;

	(void)arg;
	for (int i = 0; i < 1000000; i++) {
		const cfgpool_config_t *snap = cfgpool_holder_read_begin_inline(holder);

		if (cfgpool_get_string(cfgpool_config_root(snap), "loggers[\"another.module\"].level", &level, NULL) == 0 &&
		    strcmp(level, "DEBUG") == 0)
			same++;
		cfgpool_holder_read_end_inline(holder);
	}
	return (void *)same;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "config.json";
	cfgpool_error_t err;
	pthread_t t[2];
	long total = 0;
	char msg[512];

	cfgpool_error_init(&err);
	if (cfgpool_holder_create(NULL, &holder) != 0 || cfgpool_holder_reload_file(holder, path, 0, NULL, &err) != 0) {
		fprintf(stderr, "%s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
		return 2;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, reader, NULL);
	/* Reloads run while the threads read; each read sees one whole version. */
	for (int i = 0; i < 10; i++)
		cfgpool_holder_reload_file(holder, path, CFGPOOL_RELOAD_SYNC, NULL, &err);
	for (int i = 0; i < 2; i++) {
		void *same;

		pthread_join(t[i], &same);
		total += (long)same;
	}
	printf("%ld inline reads saw another.module at DEBUG, config v%llu\n", total,
	       (unsigned long long)cfgpool_holder_version(holder));
	cfgpool_holder_destroy(holder);
	return total == 2000000 ? 0 : 1;
}
