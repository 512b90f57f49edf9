/*
 * bench_inval - what invalidation costs.
 *
 *   bench_inval
 *
 * Measures, in one process and one run: a get hit on an item with 0 tags
 * and with 4 tags, first when no invalidation happened since the items were
 * written (the common case: one extra load), then after an unrelated
 * invalidation (every hit checks its tags and its key's prefixes); and the
 * cost of hc_invalidate_tag, of a delimiter-prefix hc_invalidate_prefix
 * (both O(1)) and of a scanning prefix invalidation.  Prints a table and
 * one JSON object per line.  Timings only; never fails on them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostcache.h"
#include "kit/kit.h"

#define KEYS 4096
#define GETS 2000000

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_inval: %s: %s\n", what, hc_strerror(rc));
	exit(1);
}

static void report(const char *what, double ns)
{
	printf("%-44s %10.1f ns\n", what, ns);
	struct kit_json j;

	kit_json_begin(&j, stderr);
	kit_json_str(&j, "bench", what);
	kit_json_num(&j, "ns_per_op", 1, ns);
	kit_json_end(&j);
}

/* Keys are made before timing, so that only the gets are timed.  Misses
 * are counted, not fatal: an invalidation word shared by a tag and a
 * prefix (the table has HC_NINVAL words) makes that key miss. */
static char keys[KEYS][32];
static size_t klens[KEYS];

static double time_gets(hc_cache *c, const char *prefix, unsigned *misses)
{
	char buf[64];
	size_t n;

	for (unsigned i = 0; i < KEYS; i++)
		klens[i] = (size_t)snprintf(keys[i], sizeof keys[i], "%s:%u:v",
		                            prefix, i);
	*misses = 0;
	double t0 = kit_now_s();

	for (unsigned i = 0; i < GETS; i++) {
		int rc = hc_get(c, keys[i % KEYS], klens[i % KEYS], buf, sizeof buf, &n);

		if (rc == HC_ENOTFOUND)
			++*misses;
		else if (rc != 0)
			die("get", rc);
	}
	return (kit_now_s() - t0) / GETS * 1e9;
}

static void fill(hc_cache *c, const char *prefix, unsigned ntags)
{
	const char *tags[4] = { "alpha", "beta", "gamma", "delta" };
	hc_set_options o;

	memset(&o, 0, sizeof o);
	o.tags = tags;
	o.ntags = ntags;
	for (unsigned i = 0; i < KEYS; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "%s:%u:v", prefix, i);
		int rc = hc_set_ex(c, key, (size_t)kl, "value-of-32-bytes-.............", 32, &o);

		if (rc != 0)
			die("set", rc);
	}
}

int main(void)
{
	hc_config cfg;
	hc_cache *c;
	int rc;

	hc_config_init(&cfg);
	cfg.size = 64 << 20;
	hc_unlink("bench-inval");
	if ((rc = hc_create("bench-inval", &cfg, &c)) != 0)
		die("create", rc);
	fill(c, "t0", 0);
	fill(c, "t4", 4);
	printf("hostcache %s: %u keys of 3 parts (\"t4:N:v\"), 32-byte values, "
	       "%u gets each\n", hc_version(), KEYS, GETS);
	unsigned m;

	for (int round = 0; round < 3; round++) {
		report("get, 0 tags, no invalidation since set", time_gets(c, "t0", &m));
		report("get, 4 tags, no invalidation since set", time_gets(c, "t4", &m));
	}
	if ((rc = hc_invalidate_tag(c, "unrelated")) != 0)
		die("invalidate", rc);
	for (int round = 0; round < 3; round++) {
		report("get, 0 tags, after an unrelated invalidation",
		       time_gets(c, "t0", &m));
		report("get, 4 tags, after an unrelated invalidation",
		       time_gets(c, "t4", &m));
	}
	printf("  (keys made to miss by a shared invalidation word: %u of %u)\n",
	       m / (GETS / KEYS), KEYS);

	unsigned n = 2000;
	double t0 = kit_now_s();

	for (unsigned i = 0; i < n; i++) {
		char tag[16];

		snprintf(tag, sizeof tag, "tag%u", i);
		if ((rc = hc_invalidate_tag(c, tag)) != 0)
			die("invalidate tag", rc);
	}
	report("hc_invalidate_tag", (kit_now_s() - t0) / n * 1e9);
	t0 = kit_now_s();
	for (unsigned i = 0; i < n; i++) {
		char p[16];
		int pl = snprintf(p, sizeof p, "x%u:", i);

		if ((rc = hc_invalidate_prefix(c, p, (size_t)pl, NULL)) != 0)
			die("invalidate prefix", rc);
	}
	report("hc_invalidate_prefix, delimiter-ended (O(1))", (kit_now_s() - t0) / n * 1e9);
	uint64_t dropped = 0;

	t0 = kit_now_s();
	if ((rc = hc_invalidate_prefix(c, "t0", 2, &dropped)) != 0)
		die("invalidate scan", rc);
	printf("%-44s %10.1f us (%llu items dropped)\n",
	       "hc_invalidate_prefix, scan of the index", (kit_now_s() - t0) * 1e6,
	       (unsigned long long)dropped);
	hc_close(c);
	hc_unlink("bench-inval");
	return 0;
}
