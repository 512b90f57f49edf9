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

static unsigned nkeys = 100000, vlen = 256, procs = 1, watermark;
static uint64_t size_mib = 64, nops = 2000000;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int key_of(unsigned i, char *key)
{
	return snprintf(key, 17, "key:%012u", i);
}

/* Zipf(0.99) over [0, n): a cumulative table, searched by bisection. */
static double *zipf_table(unsigned n)
{
	double *cdf = malloc(sizeof *cdf * n), sum = 0;

	if (cdf == NULL)
		exit(3);
	for (unsigned i = 0; i < n; i++)
		cdf[i] = (sum += 1.0 / pow((double)i + 1, 0.99));
	for (unsigned i = 0; i < n; i++)
		cdf[i] /= sum;
	return cdf;
}

static unsigned zipf_draw(const double *cdf, unsigned n, uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	double u = (double)(*rng >> 11) / 9007199254740992.0;
	unsigned lo = 0, hi = n - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Scatter ranks over the key space, so hot keys share no block. */
	return (unsigned)(((uint64_t)lo * 2654435761u) % n);
}

/* Run OPS operations; returns the misses through *MISSES. */
static int run_ops(const char *name, uint64_t ops, uint64_t seed,
                   uint64_t *misses)
{
	hc_cache *c;
	double *cdf = zipf_table(nkeys);
	char *val = malloc(vlen), *buf = malloc(vlen);
	uint64_t rng = seed | 1;
	int rc = hc_open(name, &c);

	if (rc != 0 || val == NULL || buf == NULL)
		return rc ? rc : -1;
	memset(val, 'v', vlen);
	*misses = 0;
	for (uint64_t op = 0; op < ops; op++) {
		char key[17];
		size_t len;
		unsigned i = zipf_draw(cdf, nkeys, &rng);
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
	free(cdf);
	return rc;
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
	uint64_t *misses = mmap(NULL, 64 * sizeof(uint64_t), PROT_READ | PROT_WRITE,
	                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double t0 = now_s();
	int failed = 0;

	for (unsigned p = 0; p < procs; p++) {
		if (fork() == 0)
			_exit(run_ops(name, nops / procs, 7919 * (p + 1), &misses[p]) ? 1 : 0);
	}
	for (unsigned p = 0; p < procs; p++) {
		int st;

		wait(&st);
		failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	double secs = now_s() - t0;
	uint64_t miss = 0;

	for (unsigned p = 0; p < procs; p++)
		miss += misses[p];
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
	printf("{\"bench\":\"overwrite\",\"keys\":%u,\"value_bytes\":%u,"
	       "\"segment_mib\":%" PRIu64 ",\"ops\":%" PRIu64 ",\"procs\":%u,"
	       "\"watermark_pct\":%u,\"get_miss_pct\":%.4f,\"keys_lost\":%u,"
	       "\"keys_lost_at_load\":%u,\"evictions\":%" PRIu64
	       ",\"bucket_evictions\":%" PRIu64 ",\"blocks_cleaned\":%" PRIu64
	       ",\"write_amplification\":%.4f,\"live_bytes\":%" PRIu64
	       ",\"dead_bytes\":%" PRIu64 ",\"mops\":%.3f}\n",
	       nkeys, vlen, size_mib, nops, procs, watermark ? watermark : 90,
	       100.0 * (double)miss / gets, lost, lost_at_load, s.evictions,
	       s.bucket_evictions, s.blocks_cleaned, wamp, s.bytes_live,
	       s.bytes_dead, (double)nops / secs / 1e6);
	hc_close(c);
	hc_unlink(name);
	return failed;
}
