/*
 * bench_ops.c - what one cache operation costs, and what one item weighs.
 *
 *   bench_ops [--reps N] [--ops N] [--seconds S] [--ttl MS]
 *   bench_ops --procs N [--seconds S] [--ttl MS]
 *
 *   --procs N     run only the multi-process mix (4 below) with N processes
 *   --reps N      timed batches per measurement, median reported (default 5)
 *   --ops N       operations per timed batch (default 1048576)
 *   --seconds S   length of one multi-process run (default 2)
 *   --ttl MS      TTL of every item written (default 0: no expiry)
 *
 * What is measured
 * ----------------
 * 1. One process, ns per operation: hc_get of present keys (get_hit) and of
 *    absent keys (get_miss); hc_set of present keys (set_overwrite); hc_set
 *    of keys never seen before, in a full cache, so that every set also
 *    pays for eviction (set_new).  Keys are 16 bytes, values 32 bytes and
 *    1 KiB.  The working set (items plus their index slots) is twice the L3
 *    cache, so a uniform key choice pays for memory misses while Zipf(0.99)
 *    shows the usual skewed traffic.  Item memory is about 2.5 times the
 *    working set, so every key of it stays in the cache, and the log has
 *    gone once through all of it before any timing (no first-touch page
 *    faults).  Key choices are drawn before the clock starts; each batch of
 *    operations is timed as a whole with CLOCK_MONOTONIC.
 * 2. A reference point that is not hostcache: the same keys and values in
 *    a plain open-addressing hash table in this process's heap (no sharing,
 *    no eviction, no validation, no counters).
 * 3. Memory: a 64 MiB segment filled with three times the items it can
 *    hold, all of one size; its item memory divided by the items it still
 *    holds, against their raw key + value bytes; and how many sets found
 *    their index bucket full and dropped another item.
 * 4. Several processes: N forked processes each attach the segment with
 *    hc_open() and run 90% get / 10% set (Zipf) for a fixed time; aggregate
 *    and per-process Mops/s.
 *
 * Output: readable tables, then one JSON object per line.  Timings never
 * fail the run: the exit status is non-zero only when an hc_* call fails
 * or a get returns a value that was never written for its key.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "hostcache.h"
#include "kit/kit.h"

#define KEY_LEN 16
#define MAX_VALUE 1024
#define DEFAULT_OPS (1u << 20)
#define DEFAULT_REPS 5
#define DEFAULT_SECONDS 2.0
#define ZIPF_THETA 0.99
#define MEMORY_SEGMENT (64ULL << 20)
#define MAX_RESULTS 64
#define MAX_PROCS 256
#define MIX_SET_PERCENT 10

/* Key ids: the working set is 0..n-1; the other spaces never meet it. */
#define MISS_BIT (1ULL << 63)
#define NEW_BIT (1ULL << 62)

static const unsigned value_sizes[] = { 32, 1024 };

struct options {
	unsigned reps;
	size_t ops;
	double seconds;
	uint64_t ttl_ms;
	unsigned procs;        /* 0: the full run */
};

/* ---- failing, and never leaving a segment behind --------------------- */

static char segment_name[64];  /* the segment this run made, "" if none */
static pid_t main_pid;
static uint64_t wrong_values;  /* gets that returned another key's bytes */

static void segment_remove(void)
{
	if (segment_name[0] != '\0' && getpid() == main_pid)
		hc_unlink(segment_name);
	segment_name[0] = '\0';
}

static void on_signal(int sig)
{
	(void)sig;
	if (segment_name[0] != '\0' && getpid() == main_pid)
		hc_unlink(segment_name);
	_exit(130);
}

/* An API error ends the run (exit also removes the segment; a forked
 * child leaves that to its parent). */
static void api_fail(const char *what, int rc)
{
	fprintf(stderr, "bench_ops: %s: %s (%s)\n", what, hc_strerror(rc),
	        hc_last_error());
	if (getpid() != main_pid)
		_exit(1);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL) {
		fprintf(stderr, "bench_ops: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

/* ---- time, randomness, keys, values ---------------------------------- */

/* A 16-byte binary key: a fixed prefix, then the id. */
static inline void key_make(unsigned char *key, uint64_t id)
{
	memcpy(key, "hc-bench", 8);
	memcpy(key + 8, &id, 8);
}

/* A value of VLEN bytes (>= 16) that names its key's id at both ends, so a
 * reader can tell a value of another key, or a torn one. */
static void value_make(unsigned char *val, size_t vlen, uint64_t id)
{
	memset(val, 'v', vlen);
	memcpy(val, &id, 8);
	memcpy(val + vlen - 8, &id, 8);
}

static inline void value_stamp(unsigned char *val, size_t vlen, uint64_t id)
{
	memcpy(val, &id, 8);
	memcpy(val + vlen - 8, &id, 8);
}

static inline bool value_is_of(const unsigned char *val, size_t vlen,
                               uint64_t id)
{
	uint64_t head, tail;

	if (vlen < 16)
		return false;
	memcpy(&head, val, 8);
	memcpy(&tail, val + vlen - 8, 8);
	return head == id && tail == id;
}

/* ---- key choices ------------------------------------------------------ */

/* Zipf ranks: kit_zipf (kit/kit.h). */

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

enum dist { DIST_ZIPF, DIST_UNIFORM };
static const char *const dist_names[] = { "zipf", "uniform" };

/*
 * COUNT key ids in 0..n-1.  Zipf ranks are scattered over the ids by a
 * multiplication modulo n, so that the hot keys are not the first ones
 * written, side by side in one block.
 */
static uint32_t *draws_make(enum dist d, uint64_t n, size_t count,
                            uint64_t seed)
{
	uint32_t *draw = xmalloc(count * sizeof *draw);
	uint64_t mult = 2654435761ULL % n;
	struct kit_zipf z;

	while (mult == 0 || gcd(mult, n) != 1)
		mult++;
	if (d == DIST_ZIPF)
		kit_zipf_init(&z, n, ZIPF_THETA);
	for (size_t i = 0; i < count; i++) {
		uint64_t id = d == DIST_ZIPF
		              ? kit_zipf_next(&z, &seed) * mult % n
		              : kit_rng_next(&seed) % n;

		draw[i] = (uint32_t)id;
	}
	return draw;
}

/* ---- results ---------------------------------------------------------- */

struct result {
	const char *bench, *dist;
	unsigned value;
	double ns_med, ns_min, ns_max;
	double hit_ratio;       /* < 0: not a get */
	double evicted_per_op;  /* < 0: not measured */
	bool reference;         /* not hostcache */
};

static struct result results[MAX_RESULTS];
static unsigned nresults;

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct result *result_add(const char *bench, const char *dist,
                                 unsigned value, double *ns, unsigned reps)
{
	struct result *r = &results[nresults < MAX_RESULTS ? nresults++ : 0];

	qsort(ns, reps, sizeof *ns, compare_double);
	r->bench = bench;
	r->dist = dist;
	r->value = value;
	r->ns_med = reps % 2 ? ns[reps / 2] : (ns[reps / 2 - 1] + ns[reps / 2]) / 2;
	r->ns_min = ns[0];
	r->ns_max = ns[reps - 1];
	r->hit_ratio = -1;
	r->evicted_per_op = -1;
	r->reference = false;
	return r;
}

/* ---- timed batches on a segment --------------------------------------- */

struct bench {
	hc_cache *cache;
	unsigned value;        /* value bytes */
	uint64_t nkeys;        /* the working set: ids 0..nkeys-1 */
	uint64_t next_new;     /* next never-seen id for set_new */
	uint64_t ttl_ms;
	unsigned char val[MAX_VALUE];
};

/* One batch: N operations on the ids in DRAW.  Returns the elapsed ns; *HITS
 * gets the number of hits for a get batch. */
typedef uint64_t batch_fn(void *ctx, const uint32_t *draw, size_t n,
                          uint64_t *hits);

static uint64_t gets_of(struct bench *b, const uint32_t *draw, size_t n,
                        uint64_t id_bits, uint64_t *hits)
{
	unsigned char key[KEY_LEN], buf[MAX_VALUE];
	uint64_t found = 0, bad = 0;
	uint64_t t0 = kit_now_ns();

	for (size_t i = 0; i < n; i++) {
		uint64_t id = draw[i] | id_bits;
		size_t vlen;

		key_make(key, id);
		int rc = hc_get(b->cache, key, KEY_LEN, buf, sizeof buf, &vlen);

		if (rc == 0) {
			found++;
			bad += !value_is_of(buf, vlen, id);
		} else if (rc != HC_ENOTFOUND) {
			api_fail("hc_get", rc);
		}
	}
	uint64_t elapsed = kit_now_ns() - t0;

	wrong_values += bad;
	*hits = found;
	return elapsed;
}

static uint64_t get_hit_batch(void *ctx, const uint32_t *draw, size_t n,
                              uint64_t *hits)
{
	return gets_of(ctx, draw, n, 0, hits);
}

static uint64_t get_miss_batch(void *ctx, const uint32_t *draw, size_t n,
                               uint64_t *hits)
{
	return gets_of(ctx, draw, n, MISS_BIT, hits);
}

/* N sets, of the ids in DRAW or, when DRAW is NULL, of ids never seen
 * before (each one a miss that makes room).  Returns the elapsed ns. */
static uint64_t sets_of(struct bench *b, const uint32_t *draw, size_t n)
{
	unsigned char key[KEY_LEN];
	uint64_t t0 = kit_now_ns();

	for (size_t i = 0; i < n; i++) {
		uint64_t id = draw != NULL ? draw[i] : NEW_BIT | b->next_new++;

		key_make(key, id);
		value_stamp(b->val, b->value, id);
		int rc = hc_set(b->cache, key, KEY_LEN, b->val, b->value, b->ttl_ms);

		if (rc < 0)
			api_fail("hc_set", rc);
	}
	return kit_now_ns() - t0;
}

static uint64_t set_overwrite_batch(void *ctx, const uint32_t *draw, size_t n,
                                    uint64_t *hits)
{
	(void)hits;
	return sets_of(ctx, draw, n);
}

static uint64_t set_new_batch(void *ctx, const uint32_t *draw, size_t n,
                              uint64_t *hits)
{
	(void)draw;
	(void)hits;
	return sets_of(ctx, NULL, n);
}

/* Live items dropped so far by this attachment: CLOCK and full buckets. */
static uint64_t items_evicted(hc_cache *c)
{
	hc_stats s;
	int rc;

	if (c == NULL)
		return 0;
	if ((rc = hc_stats_self(c, &s)) < 0)
		api_fail("hc_stats_self", rc);
	return s.evictions + s.bucket_evictions;
}

/* Run REPS batches of FN and record the median.  CACHE (NULL for the
 * reference table) supplies the eviction count. */
static struct result *measure(const char *bench, const char *dist,
                              unsigned value, batch_fn *fn, void *ctx,
                              hc_cache *cache, const uint32_t *draw,
                              const struct options *o, bool is_get)
{
	double ns[64];
	unsigned reps = o->reps < 64 ? o->reps : 64;
	uint64_t hits = 0, evicted = items_evicted(cache);

	for (unsigned r = 0; r < reps; r++) {
		uint64_t h = 0;

		ns[r] = (double)fn(ctx, draw, o->ops, &h) / (double)o->ops;
		hits += h;
	}
	struct result *res = result_add(bench, dist, value, ns, reps);
	double total = (double)o->ops * reps;

	if (is_get)
		res->hit_ratio = (double)hits / total;
	if (cache != NULL && !is_get)
		res->evicted_per_op = (double)(items_evicted(cache) - evicted) / total;
	return res;
}

/* ---- one value size on a segment -------------------------------------- */

static uint64_t working_set_bytes(uint64_t l3)
{
	return 2 * l3;
}

/* Bytes one item of VALUE bytes takes: header and slot (item_overhead),
 * key, value, padding to 8. */
static uint64_t item_bytes(uint32_t overhead, unsigned value)
{
	return overhead + ((KEY_LEN + value + 7) & ~7ULL);
}

static void segment_create(hc_cache **out, uint64_t size, unsigned value)
{
	hc_config cfg;
	int rc;

	snprintf(segment_name, sizeof segment_name, "hc-bench-%ld",
	         (long)main_pid);
	hc_config_init(&cfg);
	cfg.size = size;
	/* Size the index for the items we will store: 24 bytes of item
	 * header, the key and the value. */
	cfg.avg_item_size = 24 + KEY_LEN + value;
	rc = hc_create(segment_name, &cfg, out);
	if (rc == HC_ESEGEXISTS) {  /* left by a killed run with our pid */
		hc_unlink(segment_name);
		rc = hc_create(segment_name, &cfg, out);
	}
	if (rc < 0) {
		segment_name[0] = '\0';
		api_fail("hc_create", rc);
	}
}

static void segment_done(hc_cache *c)
{
	hc_close(c);
	segment_remove();
}

/* Write ids FIRST..FIRST+COUNT-1 (with ID_BITS), untimed. */
static void fill(struct bench *b, uint64_t first, uint64_t count,
                 uint64_t id_bits)
{
	unsigned char key[KEY_LEN];

	for (uint64_t id = first; id < first + count; id++) {
		key_make(key, id | id_bits);
		value_stamp(b->val, b->value, id | id_bits);
		int rc = hc_set(b->cache, key, KEY_LEN, b->val, b->value, b->ttl_ms);

		if (rc < 0)
			api_fail("hc_set", rc);
	}
}

static void bench_setup(struct bench *b, unsigned value, uint64_t l3,
                        const struct options *o)
{
	uint64_t ws = working_set_bytes(l3);
	hc_info info;
	int rc;

	memset(b, 0, sizeof *b);
	b->value = value;
	b->ttl_ms = o->ttl_ms;
	value_make(b->val, value, 0);
	segment_create(&b->cache, ws * 5 / 2 + (16ULL << 20), value);
	if ((rc = hc_info_get(b->cache, &info)) < 0)
		api_fail("hc_info_get", rc);
	b->nkeys = ws / item_bytes(info.item_overhead, value);
	if (b->nkeys > UINT32_MAX)
		b->nkeys = UINT32_MAX;
	/* Write the working set until the log has gone once through all of
	 * item memory: the first touch of each page of a mapping costs a
	 * page fault, which is not what a set costs in a process that has run
	 * for a while.  Overwriting leaves only dead copies behind, so no
	 * other key takes index slots or memory from the working set. */
	for (uint64_t written = 0; written <= info.item_memory;
	     written += b->nkeys * item_bytes(info.item_overhead, value))
		fill(b, 0, b->nkeys, 0);
	printf("  %4u B values: segment %llu MiB, item memory %llu MiB, "
	       "index %llu MiB, working set %llu keys (%llu MiB)\n", value,
	       (unsigned long long)(info.size >> 20),
	       (unsigned long long)(info.item_memory >> 20),
	       (unsigned long long)(info.index_memory >> 20),
	       (unsigned long long)b->nkeys,
	       (unsigned long long)(b->nkeys * item_bytes(info.item_overhead,
	                                                   value) >> 20));
	fflush(stdout);
}

static void bench_value(unsigned value, uint64_t l3, const struct options *o)
{
	struct bench b;

	bench_setup(&b, value, l3, o);
	for (unsigned d = DIST_ZIPF; d <= DIST_UNIFORM; d++) {
		uint32_t *draw = draws_make((enum dist)d, b.nkeys, o->ops,
		                            0x5eed0000ULL + d);
		const char *dn = dist_names[d];

		/* Every key of the working set present, and nothing older
		 * than this pass left to evict but dead copies. */
		fill(&b, 0, b.nkeys, 0);
		measure("get_hit", dn, value, get_hit_batch, &b, b.cache, draw,
		        o, true);
		measure("get_miss", dn, value, get_miss_batch, &b, b.cache, draw,
		        o, true);
		measure("set_overwrite", dn, value, set_overwrite_batch, &b,
		        b.cache, draw, o, false);
		free(draw);
	}
	/* Write never-seen keys until nothing older is left (twice what the
	 * item memory holds), so that from the first timed set on, every set
	 * evicts items of the same kind. */
	hc_info info;
	int rc;

	if ((rc = hc_info_get(b.cache, &info)) < 0)
		api_fail("hc_info_get", rc);
	uint64_t warm = 2 * info.item_memory / item_bytes(info.item_overhead, value);

	fill(&b, 0, warm, NEW_BIT);
	b.next_new = warm;
	measure("set_new", "unique", value, set_new_batch, &b, b.cache, NULL,
	        o, false);
	segment_done(b.cache);
}

/* ---- the reference: a process-local open-addressing hash table -------- */

/*
 * Linear probing over slots of (hash, record index); records (key, value)
 * in one array.  No sharing, no eviction, no expiry, no validation: what
 * "hash the key, find it, copy the value" costs on this machine.
 */
struct local_slot {
	uint64_t hash;         /* 0: empty */
	uint64_t record;
};

struct local_table {
	struct local_slot *slots;
	size_t mask;
	unsigned char *records;
	size_t stride, count, capacity;
	unsigned value;
};

static uint64_t local_hash(const unsigned char *key)
{
	return XXH3_64bits(key, KEY_LEN) | 1;
}

static struct local_slot *local_find(struct local_table *t,
                                     const unsigned char *key, uint64_t h)
{
	for (size_t i = h & t->mask, probes = 0; probes <= t->mask;
	     i = (i + 1) & t->mask, probes++) {
		struct local_slot *s = &t->slots[i];

		if (s->hash == 0)
			return s;
		if (s->hash == h &&
		    memcmp(t->records + s->record * t->stride, key, KEY_LEN) == 0)
			return s;
	}
	return NULL;
}

static void local_set(struct local_table *t, const unsigned char *key,
                      const unsigned char *val)
{
	uint64_t h = local_hash(key);
	struct local_slot *s = local_find(t, key, h);

	if (s == NULL || (s->hash == 0 && t->count == t->capacity))
		return; /* full: cannot happen at the sizes used here */
	if (s->hash == 0) {
		s->hash = h;
		s->record = t->count++;
		memcpy(t->records + s->record * t->stride, key, KEY_LEN);
	}
	memcpy(t->records + s->record * t->stride + KEY_LEN, val, t->value);
}

static bool local_get(struct local_table *t, const unsigned char *key,
                      unsigned char *buf)
{
	struct local_slot *s = local_find(t, key, local_hash(key));

	if (s == NULL || s->hash == 0)
		return false;
	memcpy(buf, t->records + s->record * t->stride + KEY_LEN, t->value);
	return true;
}

static uint64_t local_get_batch(void *ctx, const uint32_t *draw, size_t n,
                                uint64_t *hits)
{
	struct local_table *t = ctx;
	unsigned char key[KEY_LEN], buf[MAX_VALUE];
	uint64_t found = 0, bad = 0, t0 = kit_now_ns();

	for (size_t i = 0; i < n; i++) {
		key_make(key, draw[i]);
		if (local_get(t, key, buf)) {
			found++;
			bad += !value_is_of(buf, t->value, draw[i]);
		}
	}
	uint64_t elapsed = kit_now_ns() - t0;

	wrong_values += bad;
	*hits = found;
	return elapsed;
}

static uint64_t local_set_batch(void *ctx, const uint32_t *draw, size_t n,
                                uint64_t *hits)
{
	struct local_table *t = ctx;
	unsigned char key[KEY_LEN], val[MAX_VALUE];
	uint64_t t0 = kit_now_ns();

	value_make(val, t->value, 0);
	for (size_t i = 0; i < n; i++) {
		key_make(key, draw[i]);
		value_stamp(val, t->value, draw[i]);
		local_set(t, key, val);
	}
	(void)hits;
	return kit_now_ns() - t0;
}

static void reference_value(unsigned value, uint64_t l3, const struct options *o)
{
	struct local_table t;
	unsigned char key[KEY_LEN], val[MAX_VALUE];
	uint64_t nkeys = working_set_bytes(l3) / item_bytes(32, value);
	size_t slots = 1;

	while (slots < 2 * nkeys)
		slots *= 2;
	memset(&t, 0, sizeof t);
	t.slots = calloc(slots, sizeof *t.slots);
	t.mask = slots - 1;
	t.value = value;
	t.stride = KEY_LEN + value;
	t.capacity = nkeys;
	t.records = xmalloc(nkeys * t.stride);
	if (t.slots == NULL)
		api_fail("calloc", -ENOMEM);
	for (uint64_t id = 0; id < nkeys; id++) {
		key_make(key, id);
		value_make(val, value, id);
		local_set(&t, key, val);
	}
	for (unsigned d = DIST_ZIPF; d <= DIST_UNIFORM; d++) {
		uint32_t *draw = draws_make((enum dist)d, nkeys, o->ops,
		                            0x5eed0000ULL + d);

		measure("reference_get_hit", dist_names[d], value,
		        local_get_batch, &t, NULL, draw, o, true)->reference = true;
		measure("reference_set_overwrite", dist_names[d], value,
		        local_set_batch, &t, NULL, draw, o, false)->reference = true;
		free(draw);
	}
	free(t.slots);
	free(t.records);
}

/* ---- memory per item -------------------------------------------------- */

struct memory_result {
	unsigned value;
	uint32_t item_overhead;
	uint64_t segment, item_memory, index_memory;
	uint64_t written, held, items_gauge, bucket_evictions;
};

static struct memory_result memory_results[8];
static unsigned nmemory;

static void measure_memory(unsigned value)
{
	struct memory_result *m = &memory_results[nmemory++];
	unsigned char key[KEY_LEN], buf[MAX_VALUE];
	struct bench b;
	hc_info info;
	hc_stats st;
	int rc;

	memset(&b, 0, sizeof b);
	b.value = value;
	value_make(b.val, value, 0);
	segment_create(&b.cache, MEMORY_SEGMENT, value);
	if ((rc = hc_info_get(b.cache, &info)) < 0)
		api_fail("hc_info_get", rc);
	m->value = value;
	m->item_overhead = info.item_overhead;
	m->segment = info.size;
	m->item_memory = info.item_memory;
	m->index_memory = info.index_memory;
	m->written = 3 * info.item_memory / item_bytes(info.item_overhead, value);
	fill(&b, 0, m->written, 0);
	if ((rc = hc_stats_get(b.cache, &st)) < 0)
		api_fail("hc_stats_get", rc);
	m->items_gauge = st.items;
	m->bucket_evictions = st.bucket_evictions;
	/* Count what is really there: ask for every key ever written. */
	for (uint64_t id = 0; id < m->written; id++) {
		size_t vlen;

		key_make(key, id);
		rc = hc_get(b.cache, key, KEY_LEN, buf, sizeof buf, &vlen);
		if (rc == 0) {
			m->held++;
			wrong_values += !value_is_of(buf, vlen, id);
		} else if (rc != HC_ENOTFOUND) {
			api_fail("hc_get", rc);
		}
	}
	segment_done(b.cache);
}

/* ---- several processes ------------------------------------------------ */

struct mix_result {
	uint64_t ops, gets, hits, sets, busy, wrong;
	double seconds;
	int error;             /* an hc_* error code, 0 if none */
};

struct mix_plan {
	const char *name;
	const uint32_t *draw;
	size_t ndraw;
	unsigned value;
	uint64_t ttl_ms;
	double seconds;
};

/* Run the mix until the deadline, checking the clock every 1024 ops. */
static void mix_loop(hc_cache *c, const struct mix_plan *p, uint64_t seed,
                     size_t at, struct mix_result *r)
{
	unsigned char key[KEY_LEN], buf[MAX_VALUE], val[MAX_VALUE];
	uint64_t t0 = kit_now_ns();
	uint64_t deadline = t0 + (uint64_t)(p->seconds * 1e9);

	value_make(val, p->value, 0);
	for (uint64_t now = t0; now < deadline; now = kit_now_ns()) {
		for (unsigned i = 0; i < 1024; i++, r->ops++) {
			uint64_t id = p->draw[at++ % p->ndraw];
			size_t vlen;
			int rc;

			key_make(key, id);
			if (kit_rng_next(&seed) % 100 < MIX_SET_PERCENT) {
				value_stamp(val, p->value, id);
				rc = hc_set(c, key, KEY_LEN, val, p->value, p->ttl_ms);
				r->sets++;
			} else {
				rc = hc_get(c, key, KEY_LEN, buf, sizeof buf, &vlen);
				r->gets++;
				if (rc == 0) {
					r->hits++;
					r->wrong += !value_is_of(buf, vlen, id);
				} else if (rc == HC_ENOTFOUND) {
					rc = 0;
				}
			}
			if (rc == HC_EBUSY) {
				r->busy++;  /* contention: the caller may retry */
			} else if (rc < 0) {
				r->error = rc;
				return;
			}
		}
	}
	r->seconds = (double)(kit_now_ns() - t0) / 1e9;
}

/* A child: attach, wait for the common start, run, report. */
static int mix_child(struct kit_team *team, unsigned index, void *arg)
{
	const struct mix_plan *p = arg;
	struct mix_result *r = kit_team_result(team, index);
	hc_cache *c = NULL;

	r->error = hc_open(p->name, &c);
	kit_team_ready(team);
	if (r->error == 0) {
		mix_loop(c, p, 0xc0ffeeULL * (index + 1),
		         p->ndraw / team->procs * index, r);
		hc_close(c);
	}
	if (r->error != 0)
		fprintf(stderr, "bench_ops: process %u: %s (%s)\n", index,
		        hc_strerror(r->error), hc_last_error());
	return r->error != 0;
}

struct mix_total {
	unsigned procs;
	double mops, mops_per_proc_min, mops_per_proc_max, hit_ratio, seconds;
	uint64_t busy;
};

static struct mix_total mix_totals[16];
static unsigned nmix;

static bool mix_run(const struct mix_plan *p, unsigned procs)
{
	struct mix_total *t = &mix_totals[nmix < 16 ? nmix++ : 0];
	struct kit_team team;
	int rc = kit_team_start(&team, procs, sizeof(struct mix_result),
	                        mix_child, (void *)p);

	if (rc != 0)
		api_fail("starting the processes", rc);
	bool ok = kit_team_wait(&team);

	memset(t, 0, sizeof *t);
	t->procs = procs;
	t->mops_per_proc_min = 1e30;
	uint64_t gets = 0, hits = 0;

	for (unsigned i = 0; i < procs; i++) {
		const struct mix_result *r = kit_team_result(&team, i);

		if (r->error != 0 || r->seconds <= 0) {
			ok = false;
			continue;
		}
		double mops = (double)r->ops / r->seconds / 1e6;

		t->mops += mops;
		t->mops_per_proc_min = mops < t->mops_per_proc_min ? mops : t->mops_per_proc_min;
		t->mops_per_proc_max = mops > t->mops_per_proc_max ? mops : t->mops_per_proc_max;
		t->seconds = r->seconds > t->seconds ? r->seconds : t->seconds;
		t->busy += r->busy;
		gets += r->gets;
		hits += r->hits;
		wrong_values += r->wrong;
	}
	t->hit_ratio = gets ? (double)hits / (double)gets : 0;
	kit_team_free(&team);
	return ok;
}

/* Make a segment for 32-byte values, fill the working set, run the mix with
 * each process count of PROCS. */
static bool mix_all(const unsigned *procs, unsigned n, uint64_t l3,
                    const struct options *o)
{
	struct bench b;
	bool ok = true;

	bench_setup(&b, 32, l3, o);
	fill(&b, 0, b.nkeys, 0);

	struct mix_plan p = {
		.name = segment_name, .ndraw = o->ops, .value = 32,
		.ttl_ms = o->ttl_ms, .seconds = o->seconds,
	};
	uint32_t *draw = draws_make(DIST_ZIPF, b.nkeys, o->ops, 0x5eed0000ULL);

	p.draw = draw;
	for (unsigned i = 0; i < n; i++)
		ok = mix_run(&p, procs[i]) && ok;
	free(draw);
	segment_done(b.cache);
	return ok;
}

/* ---- output ----------------------------------------------------------- */

static void print_ops_table(bool reference)
{
	printf("\n%-24s %-8s %6s %9s %9s %9s %8s %7s %9s\n", "operation",
	       "keys", "value", "ns/op", "min", "max", "Mops/s", "hit%",
	       "evict/op");
	for (unsigned i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		char hit[16] = "-", evict[16] = "-";

		if (r->reference != reference)
			continue;
		if (r->hit_ratio >= 0)
			snprintf(hit, sizeof hit, "%.1f", 100 * r->hit_ratio);
		if (r->evicted_per_op >= 0)
			snprintf(evict, sizeof evict, "%.3f", r->evicted_per_op);
		printf("%-24s %-8s %6u %9.1f %9.1f %9.1f %8.2f %7s %9s\n",
		       r->bench, r->dist, r->value, r->ns_med, r->ns_min,
		       r->ns_max, 1e3 / r->ns_med, hit, evict);
	}
}

static void print_memory_table(void)
{
	printf("\nMemory per item: a %llu MiB segment, each filled with three "
	       "times what it holds\n", (unsigned long long)(MEMORY_SEGMENT >> 20));
	printf("(item_overhead from hc_info_get: %u bytes per item; \"bucket "
	       "evict\": sets whose index bucket\nwas full, so that another "
	       "item was dropped from the index)\n\n",
	       nmemory ? memory_results[0].item_overhead : 0);
	printf("%6s %7s %10s %11s %11s %10s %11s %9s %12s\n", "value",
	       "raw B", "items held", "items gauge", "item mem/it",
	       "segment/it", "overhead/it", "raw share", "bucket evict");
	for (unsigned i = 0; i < nmemory; i++) {
		const struct memory_result *m = &memory_results[i];
		double held = m->held ? (double)m->held : 1;
		double per_item = (double)m->item_memory / held;
		double raw = KEY_LEN + m->value;

		printf("%6u %7.0f %10llu %11llu %11.1f %10.1f %11.1f %8.1f%% "
		       "%11.2f%%\n", m->value, raw, (unsigned long long)m->held,
		       (unsigned long long)m->items_gauge, per_item,
		       (double)m->segment / held, (double)m->segment / held - raw,
		       100 * raw / ((double)m->segment / held),
		       100 * (double)m->bucket_evictions / (double)m->written);
	}
}

static void print_mix_heading(unsigned value, const struct options *o)
{
	printf("\nSeveral processes: %d%% get / %d%% set, Zipf(%.2f), %u B keys, "
	       "%u B values, %.1f s each\n", 100 - MIX_SET_PERCENT,
	       MIX_SET_PERCENT, ZIPF_THETA, KEY_LEN, value, o->seconds);
}

static void print_mix_table(void)
{
	printf("\n%6s %12s %18s %7s %8s\n", "procs", "Mops/s total",
	       "Mops/s per proc", "hit%", "busy");
	for (unsigned i = 0; i < nmix; i++) {
		const struct mix_total *t = &mix_totals[i];
		char per[40];

		snprintf(per, sizeof per, "%.2f-%.2f", t->mops_per_proc_min,
		         t->mops_per_proc_max);
		printf("%6u %12.2f %18s %7.1f %8llu\n", t->procs, t->mops, per,
		       100 * t->hit_ratio, (unsigned long long)t->busy);
	}
}

static void print_result_json(const struct result *r, const struct options *o)
{
	struct kit_json j;

	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", r->bench);
	kit_json_str(&j, "dist", r->dist);
	kit_json_uint(&j, "value", r->value);
	kit_json_num(&j, "ns_per_op", 2, r->ns_med);
	kit_json_uint(&j, "key", KEY_LEN);
	kit_json_num(&j, "ns_min", 2, r->ns_min);
	kit_json_num(&j, "ns_max", 2, r->ns_max);
	kit_json_uint(&j, "reps", o->reps);
	kit_json_uint(&j, "ops", o->ops);
	if (r->hit_ratio >= 0)
		kit_json_num(&j, "hit_ratio", 4, r->hit_ratio);
	if (r->evicted_per_op >= 0)
		kit_json_num(&j, "evicted_per_op", 4, r->evicted_per_op);
	kit_json_bool(&j, "reference", r->reference);
	kit_json_end(&j);
}

static void print_memory_json(const struct memory_result *m)
{
	struct kit_json j;

	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", "memory");
	kit_json_uint(&j, "value", m->value);
	kit_json_uint(&j, "key", KEY_LEN);
	kit_json_uint(&j, "item_overhead", m->item_overhead);
	kit_json_uint(&j, "segment", m->segment);
	kit_json_uint(&j, "item_memory", m->item_memory);
	kit_json_uint(&j, "index_memory", m->index_memory);
	kit_json_uint(&j, "written", m->written);
	kit_json_uint(&j, "held", m->held);
	kit_json_uint(&j, "items_gauge", m->items_gauge);
	kit_json_uint(&j, "bucket_evictions", m->bucket_evictions);
	kit_json_num(&j, "item_memory_per_item", 2,
	             m->held ? (double)m->item_memory / (double)m->held : 0);
	kit_json_num(&j, "segment_per_item", 2,
	             m->held ? (double)m->segment / (double)m->held : 0);
	kit_json_uint(&j, "raw_per_item", KEY_LEN + m->value);
	kit_json_end(&j);
}

static void print_mix_json(const struct mix_total *t)
{
	struct kit_json j;

	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", "mix_get90_set10");
	kit_json_str(&j, "dist", "zipf");
	kit_json_uint(&j, "value", 32);
	kit_json_uint(&j, "key", KEY_LEN);
	kit_json_uint(&j, "procs", t->procs);
	kit_json_num(&j, "seconds", 2, t->seconds);
	kit_json_num(&j, "mops", 3, t->mops);
	kit_json_num(&j, "mops_per_proc_min", 3, t->mops_per_proc_min);
	kit_json_num(&j, "mops_per_proc_max", 3, t->mops_per_proc_max);
	kit_json_num(&j, "hit_ratio", 4, t->hit_ratio);
	kit_json_uint(&j, "busy", t->busy);
	kit_json_end(&j);
}

static void print_json(const struct options *o)
{
	putchar('\n');
	for (unsigned i = 0; i < nresults; i++)
		print_result_json(&results[i], o);
	for (unsigned i = 0; i < nmemory; i++)
		print_memory_json(&memory_results[i]);
	for (unsigned i = 0; i < nmix; i++)
		print_mix_json(&mix_totals[i]);
}

/* ---- the machine, the options, main ------------------------------------ */

/* L3 size from sysfs, else from sysconf; 32 MiB if neither knows. */
static uint64_t l3_size(const char **source)
{
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
	unsigned long long n = 0;
	char unit = 0;

	if (f != NULL) {
		int got = fscanf(f, "%llu%c", &n, &unit);

		fclose(f);
		if (got >= 1 && n > 0) {
			*source = "sysfs";
			if (unit == 'K')
				return n << 10;
			return unit == 'M' ? n << 20 : n;
		}
	}
	long s = sysconf(_SC_LEVEL3_CACHE_SIZE);

	if (s > 0) {
		*source = "sysconf";
		return (uint64_t)s;
	}
	*source = "assumed";
	return 32ULL << 20;
}

/* Other work on the machine skews every number: say how much there was. */
static void print_load(const char *when)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double one;

	if (f == NULL)
		return;
	if (fscanf(f, "%lf", &one) == 1)
		printf("load average %s: %.2f\n", when, one);
	fclose(f);
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_ops [--procs N] [--reps N] [--ops N] "
	        "[--seconds S] [--ttl MS]\n");
	return 2;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	o->reps = DEFAULT_REPS;
	o->ops = DEFAULT_OPS;
	o->seconds = DEFAULT_SECONDS;
	o->ttl_ms = 0;
	o->procs = 0;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;

		if (arg == NULL)
			return false;
		i++;
		if (strcmp(opt, "--procs") == 0)
			o->procs = (unsigned)strtoul(arg, &end, 10);
		else if (strcmp(opt, "--reps") == 0)
			o->reps = (unsigned)strtoul(arg, &end, 10);
		else if (strcmp(opt, "--ops") == 0)
			o->ops = strtoull(arg, &end, 10);
		else if (strcmp(opt, "--seconds") == 0)
			o->seconds = strtod(arg, &end);
		else if (strcmp(opt, "--ttl") == 0)
			o->ttl_ms = strtoull(arg, &end, 10);
		else
			return false;
		if (end == arg || *end != '\0')
			return false;
	}
	return o->reps >= 1 && o->reps <= 64 && o->ops >= 1000 &&
	       o->ops <= UINT32_MAX && o->seconds > 0 && o->procs <= MAX_PROCS;
}

int main(int argc, char **argv)
{
	struct options o;
	const char *l3_source = "";

	if (!parse_options(argc, argv, &o))
		return usage();
	main_pid = getpid();
	atexit(segment_remove);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);

	uint64_t l3 = l3_size(&l3_source);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	printf("hostcache %s: %ld CPUs, L3 %llu MiB (%s), working set 2 x L3, "
	       "%u B keys, %zu ops per batch, median of %u, TTL %llu ms\n",
	       hc_version(), cpus, (unsigned long long)(l3 >> 20), l3_source,
	       KEY_LEN, o.ops, o.reps, (unsigned long long)o.ttl_ms);
	print_load("at start");

	bool ok = true;

	if (o.procs > 0) {
		print_mix_heading(32, &o);
		ok = mix_all(&o.procs, 1, l3, &o);
		print_mix_table();
	} else {
		for (unsigned i = 0; i < sizeof value_sizes / sizeof *value_sizes; i++)
			bench_value(value_sizes[i], l3, &o);
		printf("\nhostcache, one process (ns per operation, median of %u "
		       "batches of %zu):", o.reps, o.ops);
		print_ops_table(false);

		for (unsigned i = 0; i < sizeof value_sizes / sizeof *value_sizes; i++)
			reference_value(value_sizes[i], l3, &o);
		printf("\nReference, NOT hostcache: a plain open-addressing hash "
		       "table in this process's heap,\nsame keys and values "
		       "(no sharing, no eviction, no expiry, no validation):");
		print_ops_table(true);

		for (unsigned i = 0; i < sizeof value_sizes / sizeof *value_sizes; i++)
			measure_memory(value_sizes[i]);
		print_memory_table();

		unsigned procs[2] = { 1, cpus > 1 ? (unsigned)cpus : 2 };

		print_mix_heading(32, &o);
		ok = mix_all(procs, 2, l3, &o);
		print_mix_table();
	}
	print_load("at end");
	print_json(&o);
	if (wrong_values != 0) {
		fprintf(stderr, "bench_ops: %llu gets returned a value of another "
		        "key or a torn one\n", (unsigned long long)wrong_values);
		return 1;
	}
	if (!ok) {
		fprintf(stderr, "bench_ops: a multi-process run failed\n");
		return 1;
	}
	return 0;
}
