/*
 * bench_overwrite.c - does a cache keep what fits under overwrites?
 *
 *   bench_overwrite [--keys N] [--value B] [--size MiB] [--ops N]
 *                   [--procs P] [--watermark PCT]
 *
 * Loads N keys (16 bytes, values of B bytes; default 100,000 x 256 B,
 * about 30 MiB of items) into a fresh segment (default 64 MiB), then runs
 * OPS operations (default 2,000,000), half sets and half gets, on
 * Zipf(0.99) keys of the same set: no new key, so a cache of this size
 * should miss nothing.  P processes (default 1) share the operations.
 * Prints the get miss ratio, how many of the N keys are gone at the end,
 * evictions, blocks cleaned, the write amplification (bytes moved by
 * cleaning per byte set), live and dead bytes, and the set+get throughput.
 * --watermark 1 makes the segment evict whenever the log is full (the
 * policy before cleaning), for a before/after in one run.
 *
 * One readable line, then one JSON object.  Never fails on a number; the
 * exit status is non-zero only when an hc_* call fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostcache.h"
#include "kit/kit.h"

static unsigned nkeys = 100000, vlen = 256, procs = 1, watermark;
static uint64_t size_mib = 64, nops = 2000000;

static int key_of(unsigned i, char *key)
{
	return snprintf(key, 17, "key:%012u", i);
}

/* Zipf(0.99) over [0, nkeys), exact; made before the processes fork. */
static struct kit_zipf_table zipf;

static unsigned zipf_draw(uint64_t *rng)
{
	uint32_t rank = kit_zipf_table_rank(&zipf, kit_rng_unit(rng));

	/* Scatter ranks over the key space, so hot keys share no block. */
	return (unsigned)(((uint64_t)rank * 2654435761u) % nkeys);
}

/* Run OPS operations; returns the misses through *MISSES. */
static int run_ops(struct kit_team *team, const char *name, uint64_t ops,
                   uint64_t seed, uint64_t *misses)
{
	hc_cache *c;
	char *val = malloc(vlen), *buf = malloc(vlen);
	uint64_t rng = seed;
	int rc = hc_open(name, &c);

	kit_team_ready(team);
	if (rc != 0 || val == NULL || buf == NULL)
		return rc ? rc : -1;
	memset(val, 'v', vlen);
	*misses = 0;
	for (uint64_t op = 0; op < ops; op++) {
		char key[17];
		size_t len;
		unsigned i = zipf_draw(&rng);
		int kl = key_of(i, key);

		if (op & 1) {
			if ((rc = hc_set(c, key, (size_t)kl, val, vlen, 0)) != 0)
				break;
		} else {
			rc = hc_get(c, key, (size_t)kl, buf, vlen, &len);
			if (rc == HC_ENOTFOUND)
				*misses += 1;
			else if (rc != 0)
				break;
			rc = 0;
		}
	}
	hc_close(c);
	return rc;
}

static int ops_child(struct kit_team *team, unsigned p, void *name)
{
	return run_ops(team, name, nops / procs, 7919 * (p + 1),
	               kit_team_result(team, p)) ? 1 : 0;
}

static unsigned count_lost(hc_cache *c, char *buf)
{
	unsigned lost = 0;

	for (unsigned i = 0; i < nkeys; i++) {
		char key[17];
		size_t len;
		int kl = key_of(i, key);

		lost += hc_get(c, key, (size_t)kl, buf, vlen, &len) != 0;
	}
	return lost;
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (!strcmp(o, "--keys"))
			nkeys = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(o, "--value"))
			vlen = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(o, "--size"))
			size_mib = strtoull(v, NULL, 10);
		else if (!strcmp(o, "--ops"))
			nops = strtoull(v, NULL, 10);
		else if (!strcmp(o, "--procs"))
			procs = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(o, "--watermark"))
			watermark = (unsigned)strtoul(v, NULL, 10);
		else {
			fprintf(stderr, "bench_overwrite: unknown option %s\n", o);
			exit(2);
		}
	}
	if (nkeys == 0 || procs == 0 || procs > 64) {
		fprintf(stderr, "bench_overwrite: --keys must be > 0, --procs 1..64\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	char name[64], *val, *buf;
	hc_config cfg;
	hc_cache *c;
	hc_stats s;
	int rc;

	parse_args(argc, argv);
	snprintf(name, sizeof name, "/hc-bench-overwrite-%ld", (long)getpid());
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = size_mib << 20;
	cfg.clean_watermark_pct = watermark;
	if ((rc = hc_create(name, &cfg, &c)) != 0) {
		fprintf(stderr, "bench_overwrite: create: %s\n", hc_last_error());
		return 1;
	}
	val = calloc(1, vlen);
	buf = malloc(vlen);
	memset(val, 'v', vlen);
	for (unsigned i = 0; i < nkeys; i++) {
		char key[17];
		int kl = key_of(i, key);

		if ((rc = hc_set(c, key, (size_t)kl, val, vlen, 0)) != 0) {
			fprintf(stderr, "bench_overwrite: load: %s\n", hc_strerror(rc));
			return 1;
		}
	}
	unsigned lost_at_load = count_lost(c, buf);
	struct kit_team team;

	if (kit_zipf_table_init(&zipf, nkeys, 0.99) != 0 ||
	    (rc = kit_team_start(&team, procs, sizeof(uint64_t), ops_child,
	                         name)) != 0) {
		fprintf(stderr, "bench_overwrite: starting the processes: %s\n",
		        strerror(rc ? -rc : ENOMEM));
		return 1;
	}
	int failed = !kit_team_wait(&team);
	double secs = (double)(kit_now_ns() - kit_team_t0(&team)) / 1e9;
	uint64_t miss = 0;

	for (unsigned p = 0; p < procs; p++)
		miss += *(uint64_t *)kit_team_result(&team, p);
	kit_team_free(&team);
	kit_zipf_table_free(&zipf);
	unsigned lost = count_lost(c, buf);

	hc_stats_get(c, &s);
	double gets = (double)(nops / procs * procs) / 2;
	double wamp = s.bytes_set ? (double)s.bytes_cleaned / (double)s.bytes_set : 0;

	printf("%u keys x %u B in %" PRIu64 " MiB, %" PRIu64 " ops (50%% set), "
	       "%u procs, watermark %u%%: get misses %.3f%%, keys lost %u "
	       "(%u at load), evictions %" PRIu64 ", bucket evictions %" PRIu64
	       ", blocks cleaned %" PRIu64 ", write amp %.3f, live %.1f MiB, "
	       "dead %.1f MiB, %.2f M ops/s\n",
	       nkeys, vlen, size_mib, nops, procs, watermark ? watermark : 90,
	       100.0 * (double)miss / gets, lost, lost_at_load, s.evictions,
	       s.bucket_evictions, s.blocks_cleaned, wamp,
	       (double)s.bytes_live / 1048576.0, (double)s.bytes_dead / 1048576.0,
	       (double)nops / secs / 1e6);
	struct kit_json j;

	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", "overwrite");
	kit_json_uint(&j, "keys", nkeys);
	kit_json_uint(&j, "value_bytes", vlen);
	kit_json_uint(&j, "segment_mib", size_mib);
	kit_json_uint(&j, "ops", nops);
	kit_json_uint(&j, "procs", procs);
	kit_json_uint(&j, "watermark_pct", watermark ? watermark : 90);
	kit_json_num(&j, "get_miss_pct", 4, 100.0 * (double)miss / gets);
	kit_json_uint(&j, "keys_lost", lost);
	kit_json_uint(&j, "keys_lost_at_load", lost_at_load);
	kit_json_uint(&j, "evictions", s.evictions);
	kit_json_uint(&j, "bucket_evictions", s.bucket_evictions);
	kit_json_uint(&j, "blocks_cleaned", s.blocks_cleaned);
	kit_json_num(&j, "write_amplification", 4, wamp);
	kit_json_uint(&j, "live_bytes", s.bytes_live);
	kit_json_uint(&j, "dead_bytes", s.bytes_dead);
	kit_json_num(&j, "mops", 3, (double)nops / secs / 1e6);
	kit_json_end(&j);
	hc_close(c);
	hc_unlink(name);
	return failed;
}
