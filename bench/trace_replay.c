/*
 * trace_replay.c - eviction quality: real traces through a real segment.
 *
 *   trace_replay [--json] [--value N] [--fractions F,F,..] [--refs FILE]
 *                [--zipf A,A,..] [--zipf-keys N] [--zipf-requests N]
 *                [--plot-data FILE] [TRACE...]
 *
 *   TRACE            a text trace, one request a line: "<key> <size>"
 *   --value N        value bytes for a trace without sizes (every size 1),
 *                    and for the Zipf traces (default 200)
 *   --fractions      cache sizes as fractions of the unique keys' footprint
 *                    (default 0.001,0.01,0.1)
 *   --refs FILE      published miss ratios to print beside the simulators
 *                    (default: references.tsv beside the first trace)
 *   --zipf A,..      also replay synthetic Zipf(A) traces
 *   --zipf-keys N    keys of a Zipf trace (default 200000)
 *   --zipf-requests  requests of a Zipf trace (default 2000000)
 *   --plot-data FILE write miss ratios per trace and size for gnuplot
 *   --json           only the JSON lines
 *
 * What is measured
 * ----------------
 * Each trace is replayed cache-aside: hc_get(key); on a miss, hc_set(key)
 * with a value as long as the request's size.  The key is the trace key in
 * decimal.  The object miss ratio counts every get that missed, cold misses
 * included; the byte miss ratio weighs each request by its size.
 *
 * Sizing.  Item memory holds whole items: a 24-byte header, the key and
 * the value, rounded up to 8 bytes (item_bytes() below).  The footprint of a
 * trace is the sum of that over its unique keys (first size seen), and a
 * cache of fraction f gets a segment whose item memory (blocks x block size,
 * from hc_info_get) is as close to f x footprint as whole blocks allow.  The
 * segment has one process slot, max_value = the largest size in the trace
 * (so blocks are the smallest power of two that holds the largest item), and
 * avg_item_size = the footprint's mean item, which sizes the index.  A
 * fraction that needs fewer blocks than the smallest segment (10 blocks for
 * one process slot: one open block per slot plus a reserve of 4, twice over)
 * is reported as out of range rather than silently made larger.
 *
 * Simulators.  In the same run, the same requests go through exact LRU,
 * FIFO, CLOCK with a 1-bit and with a 2-bit counter (FIFO with reinsertion,
 * one decrement per pass), SIEVE and S3-FIFO, each given exactly the item
 * memory of the segment, in the same item bytes.  They isolate the policy:
 * what hostcache loses against CLOCK-2bit is the price of its blocks, and
 * what it loses against LRU is the price of the policy.
 *
 * The model.  "model" replays hostcache's own algorithm in private memory:
 * the log of blocks, the reserve of free blocks, reinsertion of items with a
 * non-zero counter while what one eviction keeps stays under half a block,
 * and the lossy index (buckets of 8 slots placed by the same XXH3 hash; a
 * full bucket drops its coldest entry).  When the segment and the model
 * agree to the last miss, the model is a faithful stand-in, and its
 * variants measure what each design choice costs on this trace:
 *   no_lossy_index      an index that never drops an entry
 *   budget_whole_block  one eviction may keep a whole block, not half
 *   reserve_1           one free block kept for evictors instead of 4
 *   small_log_10pct     S3-FIFO in blocks: new items go to a small log (10%
 *                       of item memory); evicting its oldest block moves the
 *                       items read since they were written to the main log
 *                       and drops the others into a ghost list; a miss in
 *                       the ghost goes straight to the main log
 *   blocks_x8           the same item memory in blocks 8 times larger
 *
 * Published references.  The simulators are also run count-based (each
 * object weighs 1) at the capacities of the references file, so their
 * numbers can be checked against the published ones.
 *
 * Output: readable tables, then one JSON object per line.  Every number is
 * a count of misses: the output is the same on every run.  The exit status
 * is non-zero only when a trace cannot be read or an hc_* call fails.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "hostcache.h"

#define ITEM_HEADER 24u          /* lib/item.h: HC_ITEM_HEADER */
#define BUCKET_SLOTS 8u          /* lib/layout.h: HC_BUCKET_SLOTS */
#define RESERVE_BLOCKS 4u        /* lib/layout.h: HC_RESERVE_BLOCKS */
#define CLOCK_MAX 3u             /* 2-bit counter */
#define MIN_BLOCKS (2u * (1u + RESERVE_BLOCKS)) /* one process slot */
#define MAX_FRACTIONS 8
#define MAX_TRACES 16
#define MAX_REFS 256
#define DEFAULT_VALUE 200u

/* ---- failing, and never leaving a segment behind --------------------- */

static char segment_name[64];

static void segment_remove(void)
{
	if (segment_name[0] != '\0')
		hc_unlink(segment_name);
	segment_name[0] = '\0';
}

static void on_signal(int sig)
{
	(void)sig;
	if (segment_name[0] != '\0')
		hc_unlink(segment_name);
	_exit(130);
}

static void api_fail(const char *what, int rc)
{
	fprintf(stderr, "trace_replay: %s: %s (%s)\n", what, hc_strerror(rc),
	        hc_last_error());
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL) {
		fprintf(stderr, "trace_replay: out of memory (%zu x %zu bytes)\n",
		        n, size);
		exit(1);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		fprintf(stderr, "trace_replay: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

/* ---- traces ------------------------------------------------------------ */

/* A trace with dense object ids: request i asks for object id[i] with a
 * value of vlen[i] bytes.  key[o] is object o's key in decimal. */
struct trace {
	char name[64];
	uint64_t nreq;
	uint32_t nobj;
	uint32_t *id;
	uint32_t *vlen;
	uint64_t *key;        /* the trace's key, per object */
	uint8_t *klen;        /* decimal length of key, per object */
	uint32_t *first_vlen; /* value length when first seen, per object */
	bool sized;           /* the trace had sizes (not all 1) */
	uint32_t max_vlen, max_klen;
	uint64_t footprint;   /* sum of item_bytes over unique objects */
	uint64_t total_bytes; /* sum of vlen over requests */
};

static unsigned decimal_len(uint64_t k)
{
	unsigned n = 1;

	while (k >= 10) {
		k /= 10;
		n++;
	}
	return n;
}

static int key_text(uint64_t k, char *out)
{
	return sprintf(out, "%llu", (unsigned long long)k);
}

/* Bytes an item takes in item memory: lib/item.h, item_total(0, k, v). */
static uint64_t item_bytes(uint64_t klen, uint64_t vlen)
{
	return (ITEM_HEADER + klen + vlen + 7) & ~7ULL;
}

/* Keys to dense ids: open addressing, grown at half load. */
struct idmap {
	uint64_t *keys;
	uint32_t *ids;   /* id + 1; 0 = empty */
	uint64_t cap, n;
};

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

static void idmap_grow(struct idmap *m)
{
	struct idmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 1024;
	m->keys = xcalloc(m->cap, sizeof *m->keys);
	m->ids = xcalloc(m->cap, sizeof *m->ids);
	m->n = 0;
	for (uint64_t i = 0; i < old.cap; i++) {
		if (old.ids[i] == 0)
			continue;
		uint64_t j = mix64(old.keys[i]) & (m->cap - 1);

		while (m->ids[j] != 0)
			j = (j + 1) & (m->cap - 1);
		m->keys[j] = old.keys[i];
		m->ids[j] = old.ids[i];
		m->n++;
	}
	free(old.keys);
	free(old.ids);
}

/* The id of KEY; a new one (*fresh) if KEY was never seen. */
static uint32_t idmap_get(struct idmap *m, uint64_t key, bool *fresh)
{
	if (2 * (m->n + 1) > m->cap)
		idmap_grow(m);
	uint64_t j = mix64(key) & (m->cap - 1);

	while (m->ids[j] != 0) {
		if (m->keys[j] == key) {
			*fresh = false;
			return m->ids[j] - 1;
		}
		j = (j + 1) & (m->cap - 1);
	}
	m->keys[j] = key;
	m->ids[j] = (uint32_t)++m->n;
	*fresh = true;
	return (uint32_t)(m->n - 1);
}

/* Append request (KEY, SIZE) to T, whose arrays hold CAP requests and
 * OCAP objects. */
static void trace_add(struct trace *t, struct idmap *m, uint64_t key,
                      uint32_t size, uint64_t *cap, uint64_t *ocap)
{
	bool fresh;

	if (t->nreq == *cap) {
		*cap = *cap ? *cap * 2 : 65536;
		t->id = xrealloc(t->id, *cap * sizeof *t->id);
		t->vlen = xrealloc(t->vlen, *cap * sizeof *t->vlen);
	}
	uint32_t o = idmap_get(m, key, &fresh);

	if (fresh) {
		if (o == *ocap) {
			*ocap = *ocap ? *ocap * 2 : 65536;
			t->key = xrealloc(t->key, *ocap * sizeof *t->key);
			t->klen = xrealloc(t->klen, *ocap * sizeof *t->klen);
			t->first_vlen = xrealloc(t->first_vlen,
			                         *ocap * sizeof *t->first_vlen);
		}
		t->key[o] = key;
		t->klen[o] = (uint8_t)decimal_len(key);
		t->first_vlen[o] = size;
		t->nobj = o + 1;
	}
	t->id[t->nreq] = o;
	t->vlen[t->nreq] = size;
	t->nreq++;
}

/* Sizes, footprint and limits, once every request is in.  A trace whose
 * sizes are all 1 has no sizes: every value gets VALUE bytes. */
static void trace_finish(struct trace *t, uint32_t value)
{
	t->sized = false;
	for (uint64_t i = 0; i < t->nreq; i++)
		if (t->vlen[i] != 1)
			t->sized = true;
	if (!t->sized) {
		for (uint64_t i = 0; i < t->nreq; i++)
			t->vlen[i] = value;
		for (uint32_t o = 0; o < t->nobj; o++)
			t->first_vlen[o] = value;
	}
	t->max_vlen = t->max_klen = 0;
	t->footprint = t->total_bytes = 0;
	for (uint64_t i = 0; i < t->nreq; i++) {
		if (t->vlen[i] > t->max_vlen)
			t->max_vlen = t->vlen[i];
		t->total_bytes += t->vlen[i];
	}
	for (uint32_t o = 0; o < t->nobj; o++) {
		if (t->klen[o] > t->max_klen)
			t->max_klen = t->klen[o];
		t->footprint += item_bytes(t->klen[o], t->first_vlen[o]);
	}
}

static bool trace_load(struct trace *t, const char *path, uint32_t value)
{
	FILE *f = fopen(path, "r");
	struct idmap m = { 0 };
	uint64_t cap = 0, ocap = 0, line = 0;
	unsigned long long key, size;
	int got;

	memset(t, 0, sizeof *t);
	if (f == NULL) {
		fprintf(stderr, "trace_replay: %s: %s\n", path, strerror(errno));
		return false;
	}
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	snprintf(t->name, sizeof t->name, "%.*s", (int)strcspn(base, "."), base);
	while ((got = fscanf(f, "%llu %llu", &key, &size)) == 2) {
		line++;
		if (size == 0 || size > (16u << 20)) {
			fprintf(stderr, "trace_replay: %s:%llu: size %llu out of "
			        "range\n", path, (unsigned long long)line, size);
			fclose(f);
			return false;
		}
		trace_add(t, &m, key, (uint32_t)size, &cap, &ocap);
	}
	bool ok = got == EOF && !ferror(f) && t->nreq > 0;

	if (!ok)
		fprintf(stderr, "trace_replay: %s: unreadable after line %llu "
		        "(want \"<key> <size>\" a line)\n", path,
		        (unsigned long long)line);
	fclose(f);
	free(m.keys);
	free(m.ids);
	if (ok)
		trace_finish(t, value);
	return ok;
}

/* splitmix64 */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Zipf(ALPHA) over KEYS keys, REQUESTS requests, from a fixed seed: rank r
 * is drawn with probability proportional to 1/r^alpha (inverse CDF). */
static void trace_zipf(struct trace *t, double alpha, uint32_t keys,
                       uint64_t requests, uint32_t value)
{
	double *cdf = xcalloc(keys, sizeof *cdf);
	struct idmap m = { 0 };
	uint64_t cap = 0, ocap = 0, seed = 42;
	double sum = 0;

	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "zipf%.1f", alpha);
	for (uint32_t r = 0; r < keys; r++) {
		sum += 1.0 / pow((double)r + 1, alpha);
		cdf[r] = sum;
	}
	for (uint64_t i = 0; i < requests; i++) {
		double u = (double)(rng_next(&seed) >> 11) * 0x1p-53 * sum;
		uint32_t lo = 0, hi = keys - 1;

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* Scatter ranks over the key space, as real ids would be. */
		trace_add(t, &m, mix64(lo) % 1000000000000ULL, 1, &cap, &ocap);
	}
	free(cdf);
	free(m.keys);
	free(m.ids);
	trace_finish(t, value);
}

/* ---- results ----------------------------------------------------------- */

struct outcome {
	uint64_t misses;
	uint64_t miss_bytes;  /* sum of the missed requests' sizes */
};

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

/* What one request weighs in a simulator: its item bytes, or 1 when the
 * simulator counts objects. */
static uint64_t weight_of(const struct trace *t, uint64_t i, bool count)
{
	return count ? 1 : item_bytes(t->klen[t->id[i]], t->vlen[i]);
}

/* ---- textbook policies --------------------------------------------------
 *
 * Every simulator keeps its objects on intrusive doubly-linked lists over
 * the dense ids: `newer`/`older` links, head = newest, tail = oldest.  An
 * object's weight is fixed when it is inserted (a hit with another size
 * keeps the cached one, as the segment does).
 */

enum policy { LRU, FIFO, CLOCK1, CLOCK2, SIEVE, S3FIFO, NPOLICIES };

static const char *const policy_names[NPOLICIES] = {
	"lru", "fifo", "clock", "clock2", "sieve", "s3fifo"
};

struct list {
	int32_t head, tail;
	uint64_t weight;
};

struct sim {
	uint64_t cap, used;
	int32_t *newer, *older;
	uint64_t *weight;      /* 0 = not cached */
	uint8_t *freq;
	uint8_t *queue;        /* S3-FIFO: 1 small, 2 main */
	struct list main, small;
	int32_t hand;          /* SIEVE */
	/* S3-FIFO's ghost: ids evicted from the small queue, FIFO */
	uint32_t *ghost_ids;
	uint64_t *ghost_w;
	uint64_t *ghost_seq;   /* per id: sequence + 1 of its ghost entry */
	uint64_t ghost_head, ghost_tail, ghost_weight, ghost_cap;
};

static void list_push_head(struct sim *s, struct list *l, int32_t o)
{
	s->older[o] = l->head;
	s->newer[o] = -1;
	if (l->head >= 0)
		s->newer[l->head] = o;
	l->head = o;
	if (l->tail < 0)
		l->tail = o;
	l->weight += s->weight[o];
}

static void list_remove(struct sim *s, struct list *l, int32_t o)
{
	if (s->newer[o] >= 0)
		s->older[s->newer[o]] = s->older[o];
	else
		l->head = s->older[o];
	if (s->older[o] >= 0)
		s->newer[s->older[o]] = s->newer[o];
	else
		l->tail = s->newer[o];
	l->weight -= s->weight[o];
}

static void sim_init(struct sim *s, const struct trace *t, uint64_t cap)
{
	memset(s, 0, sizeof *s);
	s->cap = cap;
	s->newer = xcalloc(t->nobj, sizeof *s->newer);
	s->older = xcalloc(t->nobj, sizeof *s->older);
	s->weight = xcalloc(t->nobj, sizeof *s->weight);
	s->freq = xcalloc(t->nobj, sizeof *s->freq);
	s->queue = xcalloc(t->nobj, sizeof *s->queue);
	s->ghost_ids = xcalloc(t->nreq, sizeof *s->ghost_ids);
	s->ghost_w = xcalloc(t->nreq, sizeof *s->ghost_w);
	s->ghost_seq = xcalloc(t->nobj, sizeof *s->ghost_seq);
	s->main = s->small = (struct list){ -1, -1, 0 };
	s->hand = -1;
}

static void sim_free(struct sim *s)
{
	free(s->newer);
	free(s->older);
	free(s->weight);
	free(s->freq);
	free(s->queue);
	free(s->ghost_ids);
	free(s->ghost_w);
	free(s->ghost_seq);
}

static void sim_drop(struct sim *s, struct list *l, int32_t o)
{
	list_remove(s, l, o);
	s->used -= s->weight[o];
	s->weight[o] = 0;
	s->queue[o] = 0;
}

/* FIFO with reinsertion: the tail goes unless its counter is above zero,
 * in which case it is lowered and the object goes back to the head.  With
 * MAX 1 this is CLOCK; with MAX 3, CLOCK with a 2-bit counter. */
static void evict_clock(struct sim *s)
{
	for (;;) {
		int32_t o = s->main.tail;

		if (s->freq[o] == 0) {
			sim_drop(s, &s->main, o);
			return;
		}
		s->freq[o]--;
		list_remove(s, &s->main, o);
		list_push_head(s, &s->main, o);
	}
}

/* SIEVE: the hand walks from the tail towards the head, clearing visited
 * bits, and evicts the first unvisited object; new objects go to the
 * head and never move. */
static void evict_sieve(struct sim *s)
{
	int32_t o = s->hand >= 0 ? s->hand : s->main.tail;

	while (s->freq[o]) {
		s->freq[o] = 0;
		o = s->newer[o] >= 0 ? s->newer[o] : s->main.tail;
	}
	s->hand = s->newer[o];
	sim_drop(s, &s->main, o);
}

static void ghost_add(struct sim *s, uint32_t o, uint64_t w)
{
	uint64_t seq = s->ghost_tail++;

	s->ghost_ids[seq] = o;
	s->ghost_w[seq] = w;
	s->ghost_seq[o] = seq + 1;
	s->ghost_weight += w;
	while (s->ghost_weight > s->ghost_cap && s->ghost_head < s->ghost_tail) {
		uint64_t h = s->ghost_head++;

		s->ghost_weight -= s->ghost_w[h];
		if (s->ghost_seq[s->ghost_ids[h]] == h + 1)
			s->ghost_seq[s->ghost_ids[h]] = 0;
	}
}

/*
 * S3-FIFO (Yang et al., SOSP'23): a small FIFO (10% of the capacity), a
 * main FIFO with a 2-bit counter (CLOCK2 above), and a ghost FIFO of ids
 * recently evicted from the small queue (90% of the capacity).  A miss
 * found in the ghost goes to main, any other to small.  The small queue's
 * tail moves to main if it was read more than once there (freq > 1, as in
 * the paper's algorithm), else to the ghost.
 */
static void evict_s3fifo(struct sim *s)
{
	uint64_t small_cap = s->cap / 10;

	while (s->small.tail >= 0 &&
	       (s->small.weight >= small_cap || s->main.tail < 0)) {
		int32_t o = s->small.tail;

		if (s->freq[o] >= 2) {
			list_remove(s, &s->small, o);
			s->freq[o] = 0;
			s->queue[o] = 2;
			list_push_head(s, &s->main, o);
			continue;
		}
		uint64_t w = s->weight[o];

		sim_drop(s, &s->small, o);
		ghost_add(s, (uint32_t)o, w);
		return;
	}
	evict_clock(s);
}

static struct outcome sim_run(const struct trace *t, enum policy p,
                              uint64_t cap, bool count)
{
	struct outcome r = { 0, 0 };
	struct sim s;

	sim_init(&s, t, cap);
	s.ghost_cap = cap - cap / 10;
	for (uint64_t i = 0; i < t->nreq; i++) {
		int32_t o = (int32_t)t->id[i];
		uint64_t w = weight_of(t, i, count);

		if (s.weight[o] != 0) {
			if (p == LRU) {
				list_remove(&s, &s.main, o);
				list_push_head(&s, &s.main, o);
			} else if (p == CLOCK1 || p == SIEVE) {
				s.freq[o] = 1;
			} else if (p == CLOCK2 || p == S3FIFO) {
				if (s.freq[o] < CLOCK_MAX)
					s.freq[o]++;
			}
			continue;
		}
		r.misses++;
		r.miss_bytes += t->vlen[i];
		if (w > cap)
			continue;
		while (s.used + w > cap) {
			if (p == LRU || p == FIFO)
				sim_drop(&s, &s.main, s.main.tail);
			else if (p == SIEVE)
				evict_sieve(&s);
			else if (p == S3FIFO)
				evict_s3fifo(&s);
			else
				evict_clock(&s);
		}
		s.weight[o] = w;
		s.freq[o] = 0;
		s.used += w;
		if (p == S3FIFO && s.ghost_seq[o] == 0) {
			s.queue[o] = 1;
			list_push_head(&s, &s.small, o);
		} else {
			s.ghost_seq[o] = 0;
			s.queue[o] = 2;
			list_push_head(&s, &s.main, o);
		}
	}
	sim_free(&s);
	return r;
}

/* ---- hostcache's algorithm, in private memory ----------------------------
 *
 * The log of blocks exactly as lib/block.c and lib/evict.c run it for one
 * process: items are appended to the open block; a full block is sealed
 * into the FIFO; a writer takes a FREE block only while more than the
 * reserve are free, else it evicts the oldest sealed block.  Eviction walks
 * the block in order: an item still located there whose counter is above
 * zero is re-appended (counter lowered) while the bytes kept stay within
 * the budget, the others are dropped; re-appends go into the evictor's own
 * open block, which may use the reserve.  A hit raises the counter to at
 * most 3.  The index is lib/index.c's: the key's bucket is picked by XXH3
 * as there, a new key takes the first empty slot, and a full bucket drops
 * the entry with the lowest counter, starting the search at the slot the
 * hash's high half names.
 */

struct model_params {
	const char *name;
	uint64_t block_size;
	uint32_t nblocks;
	uint32_t nbuckets;     /* 0: an index that never drops anything */
	uint32_t reserve;
	double budget;         /* share of a block one eviction may keep */
	double small_share;    /* > 0: S3-FIFO in blocks (below) */
};

struct model_entry {
	uint32_t id, version;
};

struct model_block {
	struct model_entry *entry;
	uint32_t n, cap;
	uint64_t used;
};

/* A log: its open block and its sealed blocks, oldest first. */
enum { MAIN_LOG, SMALL_LOG, NLOGS };

struct model_log {
	uint32_t *fifo;
	uint32_t head, n;
	int64_t open;
	uint64_t sealed_bytes;
};

struct model {
	struct model_params p;
	const struct trace *t;
	struct model_block *block;
	struct model_log log[NLOGS];
	uint32_t *free_list, nfree;
	int32_t *where;        /* block of the live copy, -1 = not cached */
	uint32_t *version;     /* bumped by every append of the object */
	uint8_t *clock;
	uint32_t *size;        /* item bytes of the cached copy */
	int32_t *slots;        /* index: nbuckets x 8 object ids, -1 empty */
	uint32_t *bucket;      /* per object */
	uint8_t *tie;          /* per object: where the victim search starts */
	struct sim ghost;      /* S3-FIFO: ids dropped from the small log */
	uint64_t items;
	uint64_t bucket_drops;
};

static void model_init(struct model *m, const struct trace *t,
                       const struct model_params *p)
{
	memset(m, 0, sizeof *m);
	m->p = *p;
	m->t = t;
	m->block = xcalloc(p->nblocks, sizeof *m->block);
	for (int l = 0; l < NLOGS; l++) {
		m->log[l].fifo = xcalloc(p->nblocks, sizeof *m->log[l].fifo);
		m->log[l].open = -1;
	}
	m->free_list = xcalloc(p->nblocks, sizeof *m->free_list);
	for (uint32_t b = 0; b < p->nblocks; b++)
		m->free_list[m->nfree++] = p->nblocks - 1 - b;
	m->where = xcalloc(t->nobj, sizeof *m->where);
	m->version = xcalloc(t->nobj, sizeof *m->version);
	m->clock = xcalloc(t->nobj, sizeof *m->clock);
	m->size = xcalloc(t->nobj, sizeof *m->size);
	for (uint32_t o = 0; o < t->nobj; o++)
		m->where[o] = -1;
	sim_init(&m->ghost, t, 0);
	m->ghost.ghost_cap = (uint64_t)((double)(p->nblocks * p->block_size) *
	                                (1 - p->small_share));
	if (p->nbuckets == 0)
		return;
	m->slots = xcalloc((size_t)p->nbuckets * BUCKET_SLOTS, sizeof *m->slots);
	for (size_t i = 0; i < (size_t)p->nbuckets * BUCKET_SLOTS; i++)
		m->slots[i] = -1;
	m->bucket = xcalloc(t->nobj, sizeof *m->bucket);
	m->tie = xcalloc(t->nobj, sizeof *m->tie);
	for (uint32_t o = 0; o < t->nobj; o++) {
		char k[24];
		int n = key_text(t->key[o], k);
		uint64_t h = XXH3_64bits(k, (size_t)n);

		m->bucket[o] = (uint32_t)(((h & 0xffffffffULL) * p->nbuckets) >> 32);
		m->tie[o] = (uint8_t)((h >> 32) % BUCKET_SLOTS);
	}
}

static void model_free(struct model *m)
{
	for (uint32_t b = 0; b < m->p.nblocks; b++)
		free(m->block[b].entry);
	free(m->block);
	for (int l = 0; l < NLOGS; l++)
		free(m->log[l].fifo);
	free(m->free_list);
	free(m->where);
	free(m->version);
	free(m->clock);
	free(m->size);
	free(m->slots);
	free(m->bucket);
	free(m->tie);
	sim_free(&m->ghost);
}

static void model_unindex(struct model *m, uint32_t o)
{
	m->where[o] = -1;
	m->items--;
	if (m->slots == NULL)
		return;
	int32_t *b = &m->slots[(size_t)m->bucket[o] * BUCKET_SLOTS];

	for (unsigned i = 0; i < BUCKET_SLOTS; i++)
		if (b[i] == (int32_t)o)
			b[i] = -1;
}

/* A new entry for O: the first empty slot, else the coldest entry goes. */
static void model_index(struct model *m, uint32_t o)
{
	m->items++;
	if (m->slots == NULL)
		return;
	int32_t *b = &m->slots[(size_t)m->bucket[o] * BUCKET_SLOTS];
	unsigned victim = 0, coldest = CLOCK_MAX + 1;

	for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
		if (b[i] < 0) {
			b[i] = (int32_t)o;
			return;
		}
		unsigned j = (i + m->tie[o]) % BUCKET_SLOTS;

		if (m->clock[b[j]] < coldest) {
			coldest = m->clock[b[j]];
			victim = j;
		}
	}
	model_unindex(m, (uint32_t)b[victim]);
	m->bucket_drops++;
	b[victim] = (int32_t)o;
}

static void model_seal(struct model *m, struct model_log *l)
{
	uint32_t b = (uint32_t)l->open;

	l->open = -1;
	if (m->block[b].used == 0) {
		m->free_list[m->nfree++] = b;
		return;
	}
	l->fifo[(l->head + l->n++) % m->p.nblocks] = b;
	l->sealed_bytes += m->block[b].used;
}

static uint32_t model_sealed(const struct model *m)
{
	return m->log[MAIN_LOG].n + m->log[SMALL_LOG].n;
}

static bool model_append(struct model *m, int log, uint32_t o, uint32_t size,
                         bool evictor);

/* Take the oldest sealed block of log L out of its FIFO. */
static uint32_t model_pop(struct model *m, struct model_log *l)
{
	uint32_t b = l->fifo[l->head];

	l->head = (l->head + 1) % m->p.nblocks;
	l->n--;
	l->sealed_bytes -= m->block[b].used;
	return b;
}

/*
 * Evict one block.  With one log: the oldest, CLOCK as lib/evict.c runs
 * it.  With a small log (S3-FIFO in blocks): while the small log holds at
 * least its share of item memory, its oldest block goes instead; each of
 * its items that was read since it was written moves to the main log
 * (counter lowered), the others are dropped and remembered in the ghost.
 */
static void model_evict(struct model *m)
{
	struct model_log *small = &m->log[SMALL_LOG], *main = &m->log[MAIN_LOG];
	bool from_small = small->n > 0 &&
		(main->n == 0 || (double)small->sealed_bytes >=
		 m->p.small_share * (double)(m->p.nblocks * m->p.block_size));
	uint32_t b = model_pop(m, from_small ? small : main);
	struct model_block *blk = &m->block[b];
	uint64_t kept = 0, budget = (uint64_t)((double)m->p.block_size * m->p.budget);

	for (uint32_t i = 0; i < blk->n; i++) {
		uint32_t o = blk->entry[i].id;

		if (m->where[o] != (int32_t)b || m->version[o] != blk->entry[i].version)
			continue; /* dead: replaced or dropped from the index */
		if (m->clock[o] > 0 && (from_small || kept + m->size[o] <= budget) &&
		    model_append(m, MAIN_LOG, o, m->size[o], true)) {
			m->clock[o]--;
			kept += m->size[o];
			continue;
		}
		if (from_small)
			ghost_add(&m->ghost, o, m->size[o]);
		model_unindex(m, o);
	}
	blk->n = 0;
	blk->used = 0;
	m->free_list[m->nfree++] = b;
}

/* lib/block.c, do_block_append(): false when an evictor finds no room. */
static bool model_append(struct model *m, int log, uint32_t o, uint32_t size,
                         bool evictor)
{
	struct model_log *l = &m->log[log];

	for (;;) {
		if (l->open >= 0) {
			struct model_block *blk = &m->block[l->open];

			if (blk->used + size <= m->p.block_size) {
				if (blk->n == blk->cap) {
					blk->cap = blk->cap ? blk->cap * 2 : 64;
					blk->entry = xrealloc(blk->entry,
					                      blk->cap * sizeof *blk->entry);
				}
				blk->entry[blk->n++] =
					(struct model_entry){ o, ++m->version[o] };
				blk->used += size;
				m->where[o] = (int32_t)l->open;
				m->size[o] = size;
				return true;
			}
			model_seal(m, l);
		}
		if (m->nfree > m->p.reserve || (evictor && m->nfree > 0) ||
		    (model_sealed(m) == 0 && m->nfree > 0)) {
			uint32_t b = m->free_list[--m->nfree];

			m->block[b].n = 0;
			m->block[b].used = 0;
			l->open = b;
			continue;
		}
		if (evictor || model_sealed(m) == 0)
			return false;
		model_evict(m);
	}
}

static struct outcome model_run(const struct trace *t,
                                const struct model_params *p,
                                double *mean_items, uint64_t *bucket_drops)
{
	struct outcome r = { 0, 0 };
	struct model m;
	uint64_t every = t->nreq / 2000 ? t->nreq / 2000 : 1;
	uint64_t held_sum = 0, held_samples = 0;
	bool warm = false;

	model_init(&m, t, p);
	for (uint64_t i = 0; i < t->nreq; i++) {
		uint32_t o = t->id[i];
		uint32_t size = (uint32_t)item_bytes(t->klen[o], t->vlen[i]);

		if (m.where[o] >= 0) {
			if (m.clock[o] < CLOCK_MAX)
				m.clock[o]++;
		} else {
			int log = MAIN_LOG;

			r.misses++;
			r.miss_bytes += t->vlen[i];
			m.clock[o] = 0;
			if (p->small_share > 0 && m.ghost.ghost_seq[o] == 0)
				log = SMALL_LOG;
			m.ghost.ghost_seq[o] = 0;
			if (!model_append(&m, log, o, size, false)) {
				fprintf(stderr, "trace_replay: model %s: no room\n",
				        p->name);
				exit(1);
			}
			model_index(&m, o);
		}
		warm = warm || model_sealed(&m) + 2 + p->reserve >= p->nblocks;
		if (warm && i % every == 0) {
			held_sum += m.items;
			held_samples++;
		}
	}
	*mean_items = held_samples ? (double)held_sum / (double)held_samples
	                           : (double)m.items;
	*bucket_drops = m.bucket_drops;
	model_free(&m);
	return r;
}

/* ---- the real thing ------------------------------------------------------ */

struct segment_run {
	bool in_range;
	uint64_t want_memory;   /* fraction x footprint */
	uint64_t segment, item_memory, index_memory;
	uint32_t block_size, blocks, buckets;
	struct outcome out;
	double mean_items;      /* live items, sampled once warm */
	double fill;            /* mean live bytes / item memory, once warm */
	hc_stats stats;
};

static hc_config segment_config(const struct trace *t, uint64_t size)
{
	hc_config cfg;

	hc_config_init(&cfg);
	cfg.size = size;
	cfg.max_procs = 1;
	cfg.max_key = t->max_klen;
	cfg.max_value = t->max_vlen;
	cfg.avg_item_size = (uint32_t)(t->footprint / t->nobj);
	return cfg;
}

/* The block size hc_create() picks when max_value is set (lib/segment.c):
 * the smallest power of two, at least 4 KiB, that holds the largest item
 * with the most header extras (tags and more, up to 20 bytes) and the
 * longest key.  Only a first guess: hc_info_get() says what it picked. */
static uint64_t expected_block_size(const struct trace *t)
{
	uint64_t need = item_bytes(20u + t->max_klen, t->max_vlen), bs = 4096;

	while (bs < need)
		bs *= 2;
	return bs;
}

/* Create a segment whose item memory is the whole number of blocks
 * nearest to WANT bytes, or return NULL when that is fewer blocks than the
 * smallest segment has.  Segment size and block count move together, so a
 * few corrections converge; the last segment made is used. */
static hc_cache *segment_sized(const struct trace *t, struct segment_run *s)
{
	uint64_t bs = expected_block_size(t), avg = t->footprint / t->nobj;
	uint64_t want_blocks = (s->want_memory + bs / 2) / bs;
	/* A block costs its bytes, its index share and its table entries;
	 * the header and the fixed tables come on top. */
	uint64_t per_block = bs + bs * 16 / (avg < 32 ? 32 : avg) + 64;
	uint64_t fixed = 128u << 10;
	hc_cache *c = NULL;
	hc_info info;

	snprintf(segment_name, sizeof segment_name, "/hc_trace_replay_%ld",
	         (long)getpid());
	for (int round = 0;; round++) {
		s->block_size = (uint32_t)bs;
		if (want_blocks < MIN_BLOCKS)
			return NULL;
		hc_config cfg = segment_config(t, want_blocks * per_block + fixed);
		int rc;

		hc_unlink(segment_name);
		rc = hc_create(segment_name, &cfg, &c);
		if (rc == HC_ECONFIG && round < 12) {
			fixed *= 2; /* the fixed part is larger than guessed */
			continue;
		}
		if (rc != 0)
			api_fail("hc_create", rc);
		rc = hc_info_get(c, &info);
		if (rc != 0)
			api_fail("hc_info_get", rc);
		if (info.block_size != bs) {
			bs = info.block_size;
			want_blocks = (s->want_memory + bs / 2) / bs;
			per_block = bs + bs * 16 / (avg < 32 ? 32 : avg) + 64;
		}
		if (info.blocks == want_blocks || round >= 12)
			break;
		/* Correct the fixed part by what the segment actually holds. */
		int64_t delta = ((int64_t)want_blocks - (int64_t)info.blocks) *
		                (int64_t)per_block;

		hc_close(c);
		fixed = (uint64_t)((int64_t)fixed + delta);
	}
	s->segment = info.size;
	s->item_memory = info.item_memory;
	s->index_memory = info.index_memory;
	s->block_size = info.block_size;
	s->blocks = info.blocks;
	s->buckets = info.index_buckets;
	return c;
}

static void segment_replay(const struct trace *t, struct segment_run *s)
{
	hc_cache *c = segment_sized(t, s);
	uint64_t every = t->nreq / 2000 ? t->nreq / 2000 : 1;
	uint64_t held_sum = 0, held_samples = 0;
	double live_sum = 0;
	size_t cap = t->max_vlen;
	unsigned char *value = xcalloc(cap, 1);
	unsigned char *buf = xcalloc(cap, 1);
	hc_stats st;

	s->in_range = c != NULL;
	if (c == NULL)
		return;
	for (uint64_t i = 0; i < t->nreq; i++) {
		char key[24];
		int klen = key_text(t->key[t->id[i]], key);
		size_t vlen;
		int rc = hc_get(c, key, (size_t)klen, buf, cap, &vlen);

		if (rc == HC_ENOTFOUND) {
			s->out.misses++;
			s->out.miss_bytes += t->vlen[i];
			rc = hc_set(c, key, (size_t)klen, value, t->vlen[i], 0);
			if (rc != 0)
				api_fail("hc_set", rc);
		} else if (rc != 0) {
			api_fail("hc_get", rc);
		}
		if (i % every != 0)
			continue;
		rc = hc_stats_get(c, &st);
		if (rc != 0)
			api_fail("hc_stats_get", rc);
		if (st.blocks_evicted > 0) {
			held_sum += st.items;
			live_sum += (double)st.bytes_live;
			held_samples++;
		}
	}
	int rc = hc_stats_get(c, &s->stats);

	if (rc != 0)
		api_fail("hc_stats_get", rc);
	s->mean_items = held_samples ? (double)held_sum / (double)held_samples
	                             : (double)s->stats.items;
	s->fill = held_samples ? live_sum / (double)held_samples /
	                         (double)s->item_memory : 0;
	hc_close(c);
	segment_remove();
	free(value);
	free(buf);
}

/* ---- published references --------------------------------------------- */

struct reference {
	char trace[64];
	double fraction;
	uint64_t capacity;
	char policy[16];
	double miss;
};

static struct reference refs[MAX_REFS];
static unsigned nrefs;

/* Lines "trace fraction capacity policy miss_ratio"; # starts a comment. */
static void refs_load(const char *path, bool must)
{
	FILE *f = fopen(path, "r");
	char line[256];

	if (f == NULL) {
		if (must) {
			fprintf(stderr, "trace_replay: %s: %s\n", path, strerror(errno));
			exit(1);
		}
		return;
	}
	while (fgets(line, sizeof line, f) != NULL && nrefs < MAX_REFS) {
		struct reference *r = &refs[nrefs];
		unsigned long long cap;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%63s %lf %llu %15s %lf", r->trace, &r->fraction,
		           &cap, r->policy, &r->miss) == 5) {
			r->capacity = cap;
			nrefs++;
		}
	}
	fclose(f);
}

static const struct reference *ref_find(const char *trace, uint64_t cap,
                                        const char *policy)
{
	for (unsigned i = 0; i < nrefs; i++)
		if (strcmp(refs[i].trace, trace) == 0 && refs[i].capacity == cap &&
		    strcmp(refs[i].policy, policy) == 0)
			return &refs[i];
	return NULL;
}

/* ---- one trace at one size --------------------------------------------- */

enum variant { V_MODEL, V_NO_INDEX, V_BUDGET_FULL, V_RESERVE_1, V_SMALL_LOG,
               V_BLOCKS_X8, NVARIANTS };

static const char *const variant_names[NVARIANTS] = {
	"model", "no_lossy_index", "budget_whole_block", "reserve_1",
	"small_log_10pct", "blocks_x8"
};

struct size_result {
	double fraction;
	struct segment_run seg;
	struct outcome policy[NPOLICIES];
	struct outcome variant[NVARIANTS];
	double variant_items[NVARIANTS];
	uint64_t variant_drops[NVARIANTS];
};

static void run_size(const struct trace *t, double fraction,
                     struct size_result *r)
{
	memset(r, 0, sizeof *r);
	r->fraction = fraction;
	r->seg.want_memory = (uint64_t)(fraction * (double)t->footprint);
	segment_replay(t, &r->seg);
	for (int p = 0; p < NPOLICIES; p++)
		r->policy[p] = sim_run(t, (enum policy)p, r->seg.in_range ?
		                       r->seg.item_memory : r->seg.want_memory, false);
	if (!r->seg.in_range)
		return;
	for (int v = 0; v < NVARIANTS; v++) {
		struct model_params mp = {
			variant_names[v], r->seg.block_size, r->seg.blocks,
			r->seg.buckets, RESERVE_BLOCKS, 0.5, 0
		};

		if (v == V_NO_INDEX)
			mp.nbuckets = 0;
		else if (v == V_BUDGET_FULL)
			mp.budget = 1.0;
		else if (v == V_RESERVE_1)
			mp.reserve = 1;
		else if (v == V_SMALL_LOG)
			mp.small_share = 0.1;
		if (v == V_BLOCKS_X8) {
			/* The same item memory in blocks 8 times larger. */
			mp.block_size *= 8;
			mp.nblocks /= 8;
			if (mp.nblocks < MIN_BLOCKS) {
				r->variant[v].misses = UINT64_MAX;
				continue;
			}
		}
		r->variant[v] = model_run(t, &mp, &r->variant_items[v],
		                          &r->variant_drops[v]);
	}
}

/* ---- output ------------------------------------------------------------ */

/* A variant's miss ratio, NaN when it could not be run. */
static double variant_ratio(const struct size_result *r, enum variant v,
                            uint64_t nreq)
{
	return r->variant[v].misses == UINT64_MAX ? NAN
	                                          : ratio(r->variant[v].misses, nreq);
}

static bool json_only;

static void print_trace_heading(const struct trace *t)
{
	if (json_only)
		return;
	printf("\n%s: %llu requests, %u keys (%.1f%% of requests are first "
	       "accesses), ", t->name, (unsigned long long)t->nreq, t->nobj,
	       100.0 * t->nobj / (double)t->nreq);
	if (t->sized)
		printf("sizes from the trace (max %u B)", t->max_vlen);
	else
		printf("no sizes: every value %u B", t->max_vlen);
	printf(", footprint %.2f MiB of items\n",
	       (double)t->footprint / (1 << 20));
}

static void print_size_table(const struct trace *t, const struct size_result *rs,
                             unsigned n)
{
	if (json_only)
		return;
	printf("object miss ratio, every policy given the segment's item memory "
	       "(same item bytes):\n");
	printf("%6s %9s %13s %9s %5s | %9s %7s | %7s %7s %7s %7s %7s %7s | %9s\n",
	       "size", "item mem", "blocks", "items", "fill", "hostcache", "model",
	       "LRU", "FIFO", "CLOCK", "CLOCK2", "SIEVE", "S3FIFO", "byte miss");
	for (unsigned i = 0; i < n; i++) {
		const struct size_result *r = &rs[i];
		char blocks[32];

		if (!r->seg.in_range) {
			/* No segment: the policies alone, at the memory asked. */
			printf("%5.1f%% %8.2fM %13s %9s %5s | %9s %7s |",
			       100 * r->fraction, (double)r->seg.want_memory / (1 << 20),
			       "(too small)", "", "", "-", "-");
			for (int p = 0; p < NPOLICIES; p++)
				printf(" %7.4f", ratio(r->policy[p].misses, t->nreq));
			printf(" | %9s\n", "-");
			continue;
		}
		snprintf(blocks, sizeof blocks, "%u x %uK", r->seg.blocks,
		         r->seg.block_size >> 10);
		printf("%5.1f%% %8.2fM %13s %9.0f %4.0f%% | %9.4f %7.4f |",
		       100 * r->fraction, (double)r->seg.item_memory / (1 << 20),
		       blocks, r->seg.mean_items, 100 * r->seg.fill,
		       ratio(r->seg.out.misses, t->nreq),
		       ratio(r->variant[V_MODEL].misses, t->nreq));
		for (int p = 0; p < NPOLICIES; p++)
			printf(" %7.4f", ratio(r->policy[p].misses, t->nreq));
		printf(" | %9.4f\n", ratio(r->seg.out.miss_bytes, t->total_bytes));
	}
	for (unsigned i = 0; i < n; i++)
		if (!rs[i].seg.in_range) {
			printf("(too small: %.0f KiB of items is fewer blocks than the "
			       "smallest segment has, %u of %u KiB)\n",
			       (double)rs[i].seg.want_memory / 1024, MIN_BLOCKS,
			       rs[i].seg.block_size >> 10);
			break;
		}
	printf("hostcache counters (evictions, second chances, blocks evicted, "
	       "bucket drops) and model variants:\n");
	printf("%6s %10s %10s %8s %8s | %8s %14s %12s %9s %9s %9s\n", "size",
	       "evictions", "2nd chance", "blocks", "buckets", "model",
	       "no lossy index", "budget 100%", "reserve 1", "small log",
	       "blocks x8");
	for (unsigned i = 0; i < n; i++) {
		const struct size_result *r = &rs[i];

		if (!r->seg.in_range)
			continue;
		printf("%5.1f%% %10llu %10llu %8llu %8llu | %8.4f %14.4f %12.4f "
		       "%9.4f %9.4f %9.4f\n", 100 * r->fraction,
		       (unsigned long long)r->seg.stats.evictions,
		       (unsigned long long)r->seg.stats.second_chances,
		       (unsigned long long)r->seg.stats.blocks_evicted,
		       (unsigned long long)r->seg.stats.bucket_evictions,
		       variant_ratio(r, V_MODEL, t->nreq),
		       variant_ratio(r, V_NO_INDEX, t->nreq),
		       variant_ratio(r, V_BUDGET_FULL, t->nreq),
		       variant_ratio(r, V_RESERVE_1, t->nreq),
		       variant_ratio(r, V_SMALL_LOG, t->nreq),
		       variant_ratio(r, V_BLOCKS_X8, t->nreq));
	}
}

static void print_size_json(const struct trace *t, const struct size_result *r)
{
	printf("{\"bench\":\"trace\",\"trace\":\"%s\",\"requests\":%llu,"
	       "\"keys\":%u,\"footprint\":%llu,\"size_fraction\":%g,"
	       "\"in_range\":%s", t->name, (unsigned long long)t->nreq, t->nobj,
	       (unsigned long long)t->footprint, r->fraction,
	       r->seg.in_range ? "true" : "false");
	if (!r->seg.in_range) {
		printf(",\"want_item_memory\":%llu,\"block_size\":%u",
		       (unsigned long long)r->seg.want_memory, r->seg.block_size);
		for (int p = 0; p < NPOLICIES; p++)
			printf(",\"%s\":%.4f", policy_names[p],
			       ratio(r->policy[p].misses, t->nreq));
		printf("}\n");
		return;
	}
	printf(",\"segment\":%llu,\"item_memory\":%llu,\"index_memory\":%llu,"
	       "\"block_size\":%u,\"blocks\":%u,\"capacity_items\":%.0f,"
	       "\"fill\":%.4f,\"hostcache\":%.4f,\"byte_miss_hostcache\":%.4f",
	       (unsigned long long)r->seg.segment,
	       (unsigned long long)r->seg.item_memory,
	       (unsigned long long)r->seg.index_memory, r->seg.block_size,
	       r->seg.blocks, r->seg.mean_items, r->seg.fill,
	       ratio(r->seg.out.misses, t->nreq),
	       ratio(r->seg.out.miss_bytes, t->total_bytes));
	for (int p = 0; p < NPOLICIES; p++)
		printf(",\"%s\":%.4f,\"byte_miss_%s\":%.4f", policy_names[p],
		       ratio(r->policy[p].misses, t->nreq), policy_names[p],
		       ratio(r->policy[p].miss_bytes, t->total_bytes));
	for (int v = 0; v < NVARIANTS; v++)
		if (r->variant[v].misses != UINT64_MAX)
			printf(",\"%s\":%.4f", variant_names[v],
			       variant_ratio(r, (enum variant)v, t->nreq));
	printf(",\"evictions\":%llu,\"second_chances\":%llu,"
	       "\"blocks_evicted\":%llu,\"bucket_evictions\":%llu,"
	       "\"model_bucket_evictions\":%llu}\n",
	       (unsigned long long)r->seg.stats.evictions,
	       (unsigned long long)r->seg.stats.second_chances,
	       (unsigned long long)r->seg.stats.blocks_evicted,
	       (unsigned long long)r->seg.stats.bucket_evictions,
	       (unsigned long long)r->variant_drops[V_MODEL]);
}

/* The simulators counting objects, at the capacities of the references,
 * beside the published numbers. */
static void run_references(const struct trace *t, const double *fractions,
                           unsigned nfractions)
{
	if (!json_only) {
		printf("simulators counting objects (each weighs 1), capacity = "
		       "fraction of the keys;\npublished reference in brackets "
		       "where the references file has one:\n");
		printf("%6s %7s", "size", "objects");
		for (int p = 0; p < NPOLICIES; p++)
			printf(" %17s", policy_names[p]);
		putchar('\n');
	}
	for (unsigned i = 0; i < nfractions; i++) {
		uint64_t cap = (uint64_t)llround(fractions[i] * t->nobj);
		struct outcome o[NPOLICIES];

		if (cap == 0)
			continue;
		for (int p = 0; p < NPOLICIES; p++)
			o[p] = sim_run(t, (enum policy)p, cap, true);
		if (!json_only) {
			printf("%5.1f%% %7llu", 100 * fractions[i],
			       (unsigned long long)cap);
			for (int p = 0; p < NPOLICIES; p++) {
				const struct reference *ref =
					ref_find(t->name, cap, policy_names[p]);
				char cell[32];

				if (ref != NULL)
					snprintf(cell, sizeof cell, "%.4f [%.4f]",
					         ratio(o[p].misses, t->nreq), ref->miss);
				else
					snprintf(cell, sizeof cell, "%.4f",
					         ratio(o[p].misses, t->nreq));
				printf(" %17s", cell);
			}
			putchar('\n');
		}
		printf("{\"bench\":\"trace_objects\",\"trace\":\"%s\","
		       "\"size_fraction\":%g,\"capacity_items\":%llu",
		       t->name, fractions[i],
		       (unsigned long long)cap);
		for (int p = 0; p < NPOLICIES; p++) {
			const struct reference *ref =
				ref_find(t->name, cap, policy_names[p]);

			printf(",\"%s\":%.4f", policy_names[p],
			       ratio(o[p].misses, t->nreq));
			if (ref != NULL)
				printf(",\"published_%s\":%.4f", policy_names[p],
				       ref->miss);
		}
		printf("}\n");
	}
}

/* ---- options, main ------------------------------------------------------ */

struct options {
	double fractions[MAX_FRACTIONS];
	unsigned nfractions;
	double zipf[MAX_TRACES];
	unsigned nzipf;
	uint32_t zipf_keys;
	uint64_t zipf_requests;
	uint32_t value;
	const char *refs;
	const char *plot_data;
	const char *traces[MAX_TRACES];
	unsigned ntraces;
};

static bool parse_list(const char *arg, double *out, unsigned max,
                       unsigned *n)
{
	char *end;

	*n = 0;
	for (const char *p = arg; *p != '\0'; p = end + (*end == ',')) {
		if (*n == max)
			return false;
		out[*n] = strtod(p, &end);
		if (end == p || out[*n] <= 0)
			return false;
		(*n)++;
	}
	return *n > 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: trace_replay [--json] [--value N] "
	        "[--fractions F,..] [--refs FILE] [--zipf A,..] [--zipf-keys N] "
	        "[--zipf-requests N] [--plot-data FILE] [TRACE...]\n");
	return 2;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof *o);
	o->fractions[0] = 0.001;
	o->fractions[1] = 0.01;
	o->fractions[2] = 0.1;
	o->nfractions = 3;
	o->zipf_keys = 200000;
	o->zipf_requests = 2000000;
	o->value = DEFAULT_VALUE;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : "";
		char *end = NULL;
		bool ok = true;

		if (strcmp(opt, "--json") == 0) {
			json_only = true;
			continue;
		}
		if (opt[0] != '-') {
			if (o->ntraces == MAX_TRACES)
				return false;
			o->traces[o->ntraces++] = opt;
			continue;
		}
		i++;
		if (strcmp(opt, "--value") == 0)
			o->value = (uint32_t)strtoul(arg, &end, 10);
		else if (strcmp(opt, "--zipf-keys") == 0)
			o->zipf_keys = (uint32_t)strtoul(arg, &end, 10);
		else if (strcmp(opt, "--zipf-requests") == 0)
			o->zipf_requests = strtoull(arg, &end, 10);
		else if (strcmp(opt, "--refs") == 0)
			o->refs = arg;
		else if (strcmp(opt, "--plot-data") == 0)
			o->plot_data = arg;
		else if (strcmp(opt, "--fractions") == 0)
			ok = parse_list(arg, o->fractions, MAX_FRACTIONS, &o->nfractions);
		else if (strcmp(opt, "--zipf") == 0)
			ok = parse_list(arg, o->zipf, MAX_TRACES, &o->nzipf);
		else
			return false;
		if (!ok || (end != NULL && (end == arg || *end != '\0')))
			return false;
	}
	return o->value >= 1 && o->value <= (1u << 20) && o->zipf_keys >= 1000 &&
	       o->zipf_requests >= 1000 && o->ntraces + o->nzipf > 0 &&
	       o->ntraces + o->nzipf <= MAX_TRACES;
}

static FILE *plot;

/* One gnuplot data block per trace: "# NAME", a header, a row per size. */
static void plot_trace(const struct trace *t, const struct size_result *rs,
                       unsigned n)
{
	static bool first = true;

	fprintf(plot, "%s# %s\nfraction hostcache", first ? "" : "\n\n", t->name);
	first = false;
	for (int p = 0; p < NPOLICIES; p++)
		fprintf(plot, " %s", policy_names[p]);
	fputc('\n', plot);
	for (unsigned i = 0; i < n; i++) {
		fprintf(plot, "%g", rs[i].fraction);
		if (rs[i].seg.in_range)
			fprintf(plot, " %.4f", ratio(rs[i].seg.out.misses, t->nreq));
		else
			fprintf(plot, " NaN");
		for (int p = 0; p < NPOLICIES; p++)
			fprintf(plot, " %.4f", ratio(rs[i].policy[p].misses, t->nreq));
		fputc('\n', plot);
	}
}

static void replay(const struct trace *t, const struct options *o)
{
	struct size_result rs[MAX_FRACTIONS];

	print_trace_heading(t);
	for (unsigned i = 0; i < o->nfractions; i++)
		run_size(t, o->fractions[i], &rs[i]);
	print_size_table(t, rs, o->nfractions);
	for (unsigned i = 0; i < o->nfractions; i++)
		print_size_json(t, &rs[i]);
	run_references(t, o->fractions, o->nfractions);
	if (plot != NULL)
		plot_trace(t, rs, o->nfractions);
}

static void trace_free(struct trace *t)
{
	free(t->id);
	free(t->vlen);
	free(t->key);
	free(t->klen);
	free(t->first_vlen);
}

int main(int argc, char **argv)
{
	struct options o;

	if (!parse_options(argc, argv, &o))
		return usage();
	atexit(segment_remove);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (o.plot_data != NULL && (plot = fopen(o.plot_data, "w")) == NULL) {
		fprintf(stderr, "trace_replay: %s: %s\n", o.plot_data, strerror(errno));
		return 1;
	}
	if (o.refs != NULL) {
		refs_load(o.refs, true);
	} else if (o.ntraces > 0) {
		char path[4096];
		const char *slash = strrchr(o.traces[0], '/');
		int dir = slash ? (int)(slash - o.traces[0] + 1) : 0;

		snprintf(path, sizeof path, "%.*sreferences.tsv", dir, o.traces[0]);
		refs_load(path, false);
	}
	if (!json_only)
		printf("hostcache %s trace replay: cache-aside (get, set on a miss), "
		       "one process, one slot per segment\n", hc_version());
	for (unsigned i = 0; i < o.ntraces; i++) {
		struct trace t;

		if (!trace_load(&t, o.traces[i], o.value))
			return 1;
		replay(&t, &o);
		trace_free(&t);
	}
	for (unsigned i = 0; i < o.nzipf; i++) {
		struct trace t;

		trace_zipf(&t, o.zipf[i], o.zipf_keys, o.zipf_requests, o.value);
		replay(&t, &o);
		trace_free(&t);
	}
	if (plot != NULL && fclose(plot) != 0) {
		fprintf(stderr, "trace_replay: %s: %s\n", o.plot_data, strerror(errno));
		return 1;
	}
	return 0;
}
