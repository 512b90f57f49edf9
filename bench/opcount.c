/*
 * opcount - a fixed, single-threaded load for counting what one get or one
 * set costs, under valgrind (bench/callgrind.sh runs it).
 *
 *   opcount prepare --segment NAME --items N --state get|set
 *                   [--latency-every N] (default 64; 0: none timed)
 *                   [--journal N] (journal entries; default 0: none)
 *                   [--writeback BYTES] (write-behind queue; default 0)
 *   opcount run     --segment NAME --items N
 *                   --bench get_hit|get_miss|set|set_ex|set_wb|delete
 *                   --ops N
 *   opcount remove  --segment NAME
 *
 * Keys are 16 bytes (key i is the 16 hex digits of a 64-bit mix of i),
 * values 64 bytes: items of 104 bytes in item memory (24-byte header).
 *
 * Phases, each in a process of its own, so that a tool watching the run
 * sees the measured operations and nothing of the preparation:
 *
 *   prepare  creates the segment NAME (one process slot, item memory for
 *            about twice N items or the smallest segment if that is more,
 *            an index sized for it) and fills it, natively:
 *              state get: keys 0..N-1 set once each, in order; every key
 *                         is there and nothing has been evicted.
 *              state set: the same, then sets of keys drawn at random
 *                         from 0..N-1 (overwrites) until as many blocks
 *                         have been evicted as the segment has: the log
 *                         has gone round, and the segment is full, in the
 *                         steady state of random overwrites.
 *   run      attaches the segment and calls measure(), which does OPS
 *            operations and nothing else:
 *              get_hit:  hc_get of a key drawn at random from 0..N-1 (on
 *                        the get state: a hit, unless the key's index
 *                        bucket overflowed, which the report shows)
 *              get_miss: hc_get of a key drawn at random from N..2N-1,
 *                        never set: a miss
 *              set:      hc_set of a key drawn at random from 0..N-1 with
 *                        a 64-byte value (on the set state: an overwrite
 *                        that appends, and pays its share of evicting the
 *                        oldest block)
 *              set_ex:   the same through hc_set_ex with no option
 *              set_wb:   hc_set_ex written behind (.writeback), on a
 *                        segment prepared with --writeback large enough
 *                        for OPS records of 128 bytes (nothing drains)
 *              delete:   hc_delete of a key drawn as for get_miss: what
 *                        every delete pays (journal, leases, index
 *                        look) without the unlink
 *            then prints one line, "key=value ...": the bench, ops, and
 *            what this attachment's counters say it did (hits, misses,
 *            sets, evictions, second chances, blocks evicted), and
 *            detaches.  OPS 0 gives the cost of everything but the
 *            operations (attach, detach, the program itself), for
 *            subtracting.
 *   remove   unlinks the segment.
 *
 * Keys are drawn from a fixed seed (splitmix64), the same on every run, and
 * made in a 16-byte buffer on the stack: the driver itself touches no
 * memory but that and the segment.  measure() is never inlined, so that a
 * profiler can be told to count only inside it, or only inside hc_get and
 * hc_set (what callgrind.sh does).
 *
 * Exit status: 0, or 2 for bad arguments, 1 when an hc_* call fails.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostcache.h"
#include "kit/kit.h"

#define KEY_LEN 16
#define VALUE_LEN 64
#define ITEM_LEN 104             /* 24-byte header + 16 + 64, 8-aligned */
#define MISS_BASE (1ULL << 40)   /* get_miss keys: N..2N-1 shifted far */

enum bench { GET_HIT, GET_MISS, SET, SET_EX, SET_WB, DELETE };

static const char *const bench_names[] = { "get_hit", "get_miss", "set",
                                            "set_ex", "set_wb", "delete" };

static void api_fail(const char *what, int rc)
{
	fprintf(stderr, "opcount: %s: %s (%s)\n", what, hc_strerror(rc),
	        hc_last_error());
	exit(1);
}

/* A number drawn uniformly from 0..N-1 (N < 2^32). */
static uint64_t rng_below(uint64_t *state, uint64_t n)
{
	return ((kit_rng_next(state) >> 32) * n) >> 32;
}

/* Key I: the 16 hex digits of kit_mix64(I). */
static void make_key(uint64_t i, char *key)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = kit_mix64(i);

	for (int d = KEY_LEN - 1; d >= 0; d--) {
		key[d] = hex[h & 15];
		h >>= 4;
	}
}

/* ---- prepare ------------------------------------------------------------ */

/* prepare --latency-every: the segment's creation option (0: off). */
static uint32_t latency_every;
static uint32_t journal_entries; /* prepare --journal */
static uint64_t writeback_bytes; /* prepare --writeback */

static void prepare(const char *name, uint64_t items, bool steady)
{
	unsigned char value[VALUE_LEN];
	char key[KEY_LEN];
	uint64_t seed = 1;
	hc_config cfg;
	hc_cache *c = NULL;
	hc_info info;
	hc_stats st;
	int rc;

	memset(value, 'v', sizeof value);
	hc_config_init(&cfg);
	cfg.max_procs = 1;
	cfg.max_key = KEY_LEN;
	cfg.max_value = VALUE_LEN;
	cfg.avg_item_size = ITEM_LEN;
	cfg.latency_every = latency_every == 0 ? HC_LATENCY_OFF : latency_every;
	cfg.journal_entries = journal_entries;
	cfg.writeback_bytes = writeback_bytes;
	/* Item memory for twice the items and its index, plus a guess at
	 * the fixed part; grown until the smallest segment fits. */
	cfg.size = items * (2 * ITEM_LEN + 40) + (64u << 10) + writeback_bytes;
	hc_unlink(name);
	while ((rc = hc_create(name, &cfg, &c)) == HC_ECONFIG &&
	       cfg.size < (1ULL << 36))
		cfg.size += cfg.size / 2;
	if (rc != 0)
		api_fail("hc_create", rc);
	for (uint64_t i = 0; i < items; i++) {
		make_key(i, key);
		if ((rc = hc_set(c, key, KEY_LEN, value, VALUE_LEN, 0)) != 0)
			api_fail("hc_set", rc);
	}
	if ((rc = hc_info_get(c, &info)) != 0)
		api_fail("hc_info_get", rc);
	/* The steady state: overwrite keys at random until as many blocks
	 * have been freed (evicted or, with data that fits, cleaned) as the
	 * segment has. */
	for (uint64_t i = 0; steady; i++) {
		make_key(rng_below(&seed, items), key);
		if ((rc = hc_set(c, key, KEY_LEN, value, VALUE_LEN, 0)) != 0)
			api_fail("hc_set", rc);
		if (i % 1024 != 0)
			continue;
		if ((rc = hc_stats_get(c, &st)) != 0)
			api_fail("hc_stats_get", rc);
		if (st.blocks_evicted + st.blocks_cleaned >= info.blocks)
			break;
	}
	if ((rc = hc_stats_get(c, &st)) != 0)
		api_fail("hc_stats_get", rc);
	printf("segment=%llu item_memory=%llu index_memory=%llu block_size=%u "
	       "blocks=%u index_slots=%u items=%llu live_items=%llu "
	       "sets=%llu blocks_evicted=%llu\n", (unsigned long long)info.size,
	       (unsigned long long)info.item_memory,
	       (unsigned long long)info.index_memory, info.block_size,
	       info.blocks, info.index_slots, (unsigned long long)items,
	       (unsigned long long)st.items, (unsigned long long)st.sets,
	       (unsigned long long)st.blocks_evicted);
	if ((rc = hc_close(c)) != 0)
		api_fail("hc_close", rc);
}

/* ---- run ---------------------------------------------------------------- */

struct counts {
	uint64_t ok, notfound;
};

/* The measured operations, and nothing else.  Not static and never
 * inlined: a profiler finds it by name. */
struct counts measure(hc_cache *c, enum bench b, uint64_t items, uint64_t ops);

__attribute__((noinline, noclone)) struct counts
measure(hc_cache *c, enum bench b, uint64_t items, uint64_t ops)
{
	unsigned char value[VALUE_LEN], buf[VALUE_LEN];
	char key[KEY_LEN];
	struct counts n = { 0, 0 };
	uint64_t seed = 2;
	size_t vlen;
	int rc;
	hc_set_options opt;

	memset(&opt, 0, sizeof opt);
	opt.writeback = b == SET_WB;
	memset(value, 'w', sizeof value);
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t k = rng_below(&seed, items);

		if (b == GET_MISS || b == DELETE)
			k += MISS_BASE;
		make_key(k, key);
		if (b == SET)
			rc = hc_set(c, key, KEY_LEN, value, VALUE_LEN, 0);
		else if (b == SET_EX || b == SET_WB)
			rc = hc_set_ex(c, key, KEY_LEN, value, VALUE_LEN, &opt);
		else if (b == DELETE)
			rc = hc_delete(c, key, KEY_LEN);
		else
			rc = hc_get(c, key, KEY_LEN, buf, sizeof buf, &vlen);
		if (rc == 0)
			n.ok++;
		else if (rc == HC_ENOTFOUND)
			n.notfound++;
		else
			api_fail(b == SET ? "hc_set" : b == DELETE ? "hc_delete"
			         : b >= SET_EX ? "hc_set_ex" : "hc_get", rc);
	}
	return n;
}

static void run(const char *name, uint64_t items, enum bench b, uint64_t ops)
{
	hc_cache *c;
	hc_stats st;
	struct counts n;
	int rc;

	if ((rc = hc_open(name, &c)) != 0)
		api_fail("hc_open", rc);
	n = measure(c, b, items, ops);
	if ((rc = hc_stats_self(c, &st)) != 0)
		api_fail("hc_stats_self", rc);
	printf("bench=%s ops=%llu ok=%llu notfound=%llu hits=%llu misses=%llu "
	       "sets=%llu evictions=%llu second_chances=%llu "
	       "blocks_evicted=%llu blocks_cleaned=%llu bucket_evictions=%llu\n",
	       bench_names[b],
	       (unsigned long long)ops, (unsigned long long)n.ok,
	       (unsigned long long)n.notfound, (unsigned long long)st.hits,
	       (unsigned long long)st.misses, (unsigned long long)st.sets,
	       (unsigned long long)st.evictions,
	       (unsigned long long)st.second_chances,
	       (unsigned long long)st.blocks_evicted,
	       (unsigned long long)st.blocks_cleaned,
	       (unsigned long long)st.bucket_evictions);
	if ((rc = hc_close(c)) != 0)
		api_fail("hc_close", rc);
}

/* ---- options ------------------------------------------------------------ */

static int usage(void)
{
	fprintf(stderr,
	        "usage: opcount prepare --segment NAME --items N --state get|set\n"
	        "                       [--latency-every N] [--journal N]\n"
	        "                       [--writeback BYTES]\n"
	        "       opcount run --segment NAME --items N "
	        "--bench get_hit|get_miss|set|set_ex|set_wb|delete --ops N\n"
	        "       opcount remove --segment NAME\n");
	return 2;
}

static bool parse_count(const char *opt, const char *arg, uint64_t min,
                        uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] == '-' || end == arg || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		fprintf(stderr, "opcount: %s '%s': want a whole number from %llu "
		        "to %llu\n", opt, arg, (unsigned long long)min,
		        (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "", *name = NULL;
	const char *state = NULL, *bench = NULL;
	uint64_t items = 0, ops = 0, every = 64;
	bool have_ops = false;
	enum bench b = GET_HIT;

	latency_every = 64;

	if (strcmp(cmd, "prepare") != 0 && strcmp(cmd, "run") != 0 &&
	    strcmp(cmd, "remove") != 0) {
		if (argc > 1)
			fprintf(stderr, "opcount: unknown command '%s'\n", cmd);
		return usage();
	}
	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i];

		if (i + 1 == argc) {
			fprintf(stderr, "opcount: %s needs a value after it\n", opt);
			return usage();
		}
		const char *arg = argv[++i];

		if (strcmp(opt, "--segment") == 0) {
			name = arg;
		} else if (strcmp(opt, "--state") == 0) {
			state = arg;
		} else if (strcmp(opt, "--bench") == 0) {
			bench = arg;
		} else if (strcmp(opt, "--items") == 0) {
			if (!parse_count(opt, arg, 1, 100000000, &items))
				return usage();
		} else if (strcmp(opt, "--latency-every") == 0) {
			if (!parse_count(opt, arg, 0, 1000000, &every))
				return usage();
			latency_every = (uint32_t)every;
		} else if (strcmp(opt, "--journal") == 0) {
			uint64_t entries;

			if (!parse_count(opt, arg, 0, 1u << 20, &entries))
				return usage();
			journal_entries = (uint32_t)entries;
		} else if (strcmp(opt, "--writeback") == 0) {
			if (!parse_count(opt, arg, 0, 256u << 20, &writeback_bytes))
				return usage();
		} else if (strcmp(opt, "--ops") == 0) {
			if (!parse_count(opt, arg, 0, 1000000000, &ops))
				return usage();
			have_ops = true;
		} else {
			fprintf(stderr, "opcount: unknown option '%s'\n", opt);
			return usage();
		}
	}
	if (name == NULL) {
		fprintf(stderr, "opcount: %s needs --segment NAME (a shared-memory "
		        "name such as /hc_opcount)\n", cmd);
		return usage();
	}
	if (strcmp(cmd, "remove") == 0) {
		int rc = hc_unlink(name);

		if (rc != 0 && rc != HC_ENOSEG)
			api_fail("hc_unlink", rc);
		return 0;
	}
	if (items == 0) {
		fprintf(stderr, "opcount: %s needs --items N, the number of keys "
		        "in the working set\n", cmd);
		return usage();
	}
	if (strcmp(cmd, "prepare") == 0) {
		if (state == NULL ||
		    (strcmp(state, "get") != 0 && strcmp(state, "set") != 0)) {
			fprintf(stderr, "opcount: prepare needs --state get (every key "
			        "set once) or --state set (full, after random "
			        "overwrites)\n");
			return usage();
		}
		prepare(name, items, strcmp(state, "set") == 0);
		return 0;
	}
	for (b = GET_HIT; b <= DELETE; b++)
		if (bench != NULL && strcmp(bench, bench_names[b]) == 0)
			break;
	if (b > DELETE || !have_ops) {
		fprintf(stderr, "opcount: run needs --bench get_hit, get_miss, "
		        "set, set_ex, set_wb or delete, and --ops N\n");
		return usage();
	}
	run(name, items, b, ops);
	return 0;
}
