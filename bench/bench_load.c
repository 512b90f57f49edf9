/*
 * bench_load.c - does the index keep every key it has room for?
 *
 *   bench_load [--keys N] [--value B] [--avg-item B]
 *
 * Creates a segment with the default options (or --avg-item) of twice the
 * bytes of N keys of 16 bytes with values of B bytes (default 1,000,000 x
 * 32 B), loads the N keys once, and reads every one back.  Prints how many
 * were dropped (gone at the read-back), the bucket evictions and CLOCK
 * evictions, the index moves, the index load (N over its slots), the index
 * memory, and the set rate.  Nothing is overwritten: item memory holds
 * every key, so a dropped key is the index's doing.
 *
 * One readable line, then one JSON object.  Never fails on a number; the
 * exit status is non-zero only when an hc_* call fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostcache.h"
#include "kit/kit.h"

static unsigned arg_num(int argc, char **argv, const char *name, unsigned def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return (unsigned)strtoul(argv[i + 1], NULL, 10);
	return def;
}

int main(int argc, char **argv)
{
	unsigned n = arg_num(argc, argv, "--keys", 1000000);
	unsigned vlen = arg_num(argc, argv, "--value", 32);
	unsigned avg = arg_num(argc, argv, "--avg-item", 0);
	char name[64], key[17], *val = calloc(1, vlen + 1), *got = malloc(vlen + 1);
	hc_config cfg;
	hc_cache *c;
	hc_stats s;
	hc_info info;
	int rc;

	if (val == NULL || got == NULL)
		return 3;
	snprintf(name, sizeof name, "/hc-bench-load-%ld", (long)getpid());
	hc_config_init(&cfg);
	cfg.size = 2ull * n * (16 + vlen);
	if (avg)
		cfg.avg_item_size = avg;
	if ((rc = hc_create(name, &cfg, &c)) != 0) {
		fprintf(stderr, "bench_load: %s\n", hc_last_error());
		return 1;
	}
	memset(val, 'v', vlen);
	double t0 = kit_now_s();

	for (unsigned i = 0; i < n; i++) {
		snprintf(key, sizeof key, "key:%012u", i);
		memcpy(val, key, vlen < 16 ? vlen : 16);
		if ((rc = hc_set(c, key, 16, val, vlen, 0)) != 0) {
			fprintf(stderr, "bench_load: set: %s\n", hc_last_error());
			return 1;
		}
	}
	double t1 = kit_now_s();
	unsigned dropped = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len;

		snprintf(key, sizeof key, "key:%012u", i);
		dropped += hc_get(c, key, 16, got, vlen + 1, &len) != 0 ||
		           len != vlen || memcmp(got, key, vlen < 16 ? vlen : 16) != 0;
	}
	hc_stats_get(c, &s);
	hc_info_get(c, &info);
	printf("load %u keys of 16+%u B into %.1f MiB: %u dropped, %" PRIu64
	       " bucket evictions, %" PRIu64 " evictions, %" PRIu64 " moves, "
	       "index %.1f%% full (%" PRIu32 " slots, %.1f MiB), %.2f M sets/s\n",
	       n, vlen, (double)cfg.size / 1048576.0, dropped, s.bucket_evictions,
	       s.evictions, s.index_moves, 100.0 * n / info.index_slots,
	       info.index_slots, (double)info.index_memory / 1048576.0,
	       n / (t1 - t0) / 1e6);
	struct kit_json j;

	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", "load");
	kit_json_uint(&j, "keys", n);
	kit_json_uint(&j, "value", vlen);
	kit_json_uint(&j, "size", cfg.size);
	kit_json_uint(&j, "dropped", dropped);
	kit_json_uint(&j, "bucket_evictions", s.bucket_evictions);
	kit_json_uint(&j, "evictions", s.evictions);
	kit_json_uint(&j, "index_moves", s.index_moves);
	kit_json_uint(&j, "index_slots", info.index_slots);
	kit_json_uint(&j, "index_memory", info.index_memory);
	kit_json_num(&j, "sets_per_s", 0, n / (t1 - t0));
	kit_json_end(&j);
	hc_close(c);
	hc_unlink(name);
	return 0;
}
