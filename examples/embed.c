/*
 * Embedding cfgpool in a host service: open a pool on a configuration file, price a batch
 * of eight options, read the application's own part of the configuration, reload.
 *   cc embed.c $(pkg-config --cflags --libs cfgpool) -o embed && ./embed config.json
 */
#include <cfgpool/cfgpool.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "config.json";
	cfgpool_option_input_t in[8];
	cfgpool_option_output_t out[8];
	cfgpool_result_t res[8];
	cfgpool_error_t err;
	cfgpool_pool_t *pool;
	char msg[512];
	int rc;

	cfgpool_error_init(&err);
	rc = cfgpool_pool_open_file(path, NULL, NULL, &pool, &err); /* the kernel named in the file */
	if (rc != 0) {
		fprintf(stderr, "%s\n", cfgpool_error_format(&err, msg, sizeof(msg)));
		return 2;
	}

	for (int i = 0; i < 8; i++)
		in[i] = (cfgpool_option_input_t){.spot = 100, .strike = 85 + 5 * i, .maturity = 1,
						 .type = i % 2 ? CFGPOOL_PUT : CFGPOOL_CALL};
	rc = cfgpool_pool_map(pool, in, 0, out, 0, 8, res, 0);
	for (int i = 0; i < 8; i++)
		printf("%s K=%.0f: %.4f +- %.4f (config v%llu)\n", in[i].type == CFGPOOL_PUT ? "put " : "call",
		       in[i].strike, out[i].price, out[i].std_error, (unsigned long long)res[i].version);

	/* The application's sections pass through untouched and read without a lock. */
	const cfgpool_holder_t *holder = cfgpool_pool_holder(pool);
	const cfgpool_config_t *snap = cfgpool_holder_read_begin(holder);
	const char *level = "?";
	cfgpool_get_string(cfgpool_config_root(snap), "loggers[\"another.module\"].level", &level, NULL);
	printf("another.module logs at %s\n", level);
	cfgpool_holder_read_end(holder);

	uint64_t version = 0;
	if (cfgpool_pool_reload_file(pool, path, CFGPOOL_RELOAD_SYNC, &version, &err) == 0)
		printf("reloaded: version %llu\n", (unsigned long long)version);
	cfgpool_pool_close(pool, CFGPOOL_CLOSE_DRAIN);
	return rc == 0 ? 0 : 1;
}
