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
 * Traces, the textbook simulators and the replay through a segment are
 * in replay/replay.c, shared with hcmiss; the model and the output are here.
 *
 * Output: readable tables, then one JSON object per line.  Every number is
 * a count of misses: the output is the same on every run.  The exit status
 * is non-zero only when a trace cannot be read or an hc_* call fails.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "hostcache.h"
#include "kit/kit.h"
#include "replay/replay.h"

#define MAX_FRACTIONS REPLAY_MAX_FRACTIONS
#define MAX_TRACES REPLAY_MAX_TRACES
#define MAX_REFS 256

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

		/* An empty slot j is taken when i reaches it. */
		if (b[j] >= 0 && m->clock[b[j]] < coldest) {
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
	segment_replay_fraction(t, fraction, &r->seg);
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
	if (!json_only)
		trace_print_heading(t);
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
	const struct segment_run *seg = &r->seg;
	struct kit_json j;
	char key[64];

	trace_json_begin(&j, stdout, "trace", t, r->fraction, seg);
	if (!seg->in_range) {
		kit_json_uint(&j, "block_size", seg->block_size);
		for (int p = 0; p < NPOLICIES; p++)
			kit_json_num(&j, policy_names[p], 4,
			             ratio(r->policy[p].misses, t->nreq));
		kit_json_end(&j);
		return;
	}
	segment_json_layout(&j, seg);
	kit_json_num(&j, "capacity_items", 0, seg->mean_items);
	kit_json_num(&j, "fill", 4, seg->fill);
	kit_json_num(&j, "hostcache", 4, ratio(seg->out.misses, t->nreq));
	kit_json_num(&j, "byte_miss_hostcache", 4,
	             ratio(seg->out.miss_bytes, t->total_bytes));
	for (int p = 0; p < NPOLICIES; p++) {
		kit_json_num(&j, policy_names[p], 4,
		             ratio(r->policy[p].misses, t->nreq));
		snprintf(key, sizeof key, "byte_miss_%s", policy_names[p]);
		kit_json_num(&j, key, 4,
		             ratio(r->policy[p].miss_bytes, t->total_bytes));
	}
	for (int v = 0; v < NVARIANTS; v++)
		if (r->variant[v].misses != UINT64_MAX)
			kit_json_num(&j, variant_names[v], 4,
			             variant_ratio(r, (enum variant)v, t->nreq));
	kit_json_uint(&j, "evictions", seg->stats.evictions);
	kit_json_uint(&j, "second_chances", seg->stats.second_chances);
	kit_json_uint(&j, "blocks_evicted", seg->stats.blocks_evicted);
	kit_json_uint(&j, "bucket_evictions", seg->stats.bucket_evictions);
	kit_json_uint(&j, "model_bucket_evictions", r->variant_drops[V_MODEL]);
	kit_json_end(&j);
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
		struct kit_json j;

		kit_json_begin(&j, stdout);
		kit_json_str(&j, "bench", "trace_objects");
		kit_json_str(&j, "trace", t->name);
		kit_json_g(&j, "size_fraction", fractions[i]);
		kit_json_uint(&j, "capacity_items", cap);
		for (int p = 0; p < NPOLICIES; p++) {
			const struct reference *ref =
				ref_find(t->name, cap, policy_names[p]);
			char key[64];

			kit_json_num(&j, policy_names[p], 4,
			             ratio(o[p].misses, t->nreq));
			snprintf(key, sizeof key, "published_%s", policy_names[p]);
			if (ref != NULL)
				kit_json_num(&j, key, 4, ref->miss);
		}
		kit_json_end(&j);
	}
}

/* ---- options, main ------------------------------------------------------ */

struct options {
	struct replay_plan plan;
	const char *refs;
	const char *plot_data;
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
	replay_plan_defaults(&o->plan, 200000);
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : "";
		char *end = NULL;
		bool ok = true;

		if (strcmp(opt, "--json") == 0) {
			json_only = true;
			continue;
		}
		if (opt[0] != '-') {
			if (o->plan.ntraces == MAX_TRACES)
				return false;
			o->plan.traces[o->plan.ntraces++] = opt;
			continue;
		}
		i++;
		if (strcmp(opt, "--value") == 0)
			o->plan.value = (uint32_t)strtoul(arg, &end, 10);
		else if (strcmp(opt, "--zipf-keys") == 0)
			o->plan.zipf_keys = (uint32_t)strtoul(arg, &end, 10);
		else if (strcmp(opt, "--zipf-requests") == 0)
			o->plan.zipf_requests = strtoull(arg, &end, 10);
		else if (strcmp(opt, "--refs") == 0)
			o->refs = arg;
		else if (strcmp(opt, "--plot-data") == 0)
			o->plot_data = arg;
		else if (strcmp(opt, "--fractions") == 0)
			ok = parse_list(arg, o->plan.fractions, MAX_FRACTIONS,
			                &o->plan.nfractions);
		else if (strcmp(opt, "--zipf") == 0)
			ok = parse_list(arg, o->plan.zipf, MAX_TRACES, &o->plan.nzipf);
		else
			return false;
		if (!ok || (end != NULL && (end == arg || *end != '\0')))
			return false;
	}
	const struct replay_plan *p = &o->plan;

	return p->value >= 1 && p->value <= (1u << 20) && p->zipf_keys >= 1000 &&
	       p->zipf_requests >= 1000 && p->ntraces + p->nzipf > 0 &&
	       p->ntraces + p->nzipf <= MAX_TRACES;
}

static FILE *plot;

/* One gnuplot data block per trace: "# NAME", a header, a row per size;
 * the policies' ratios even where hostcache has none. */
static void plot_trace(const struct trace *t, const struct size_result *rs,
                       unsigned n)
{
	plot_trace_begin(plot, t, NULL, NPOLICIES);
	for (unsigned i = 0; i < n; i++) {
		double miss[1 + NPOLICIES];

		miss[0] = rs[i].seg.in_range ? ratio(rs[i].seg.out.misses, t->nreq)
		                             : NAN;
		for (int p = 0; p < NPOLICIES; p++)
			miss[1 + p] = ratio(rs[i].policy[p].misses, t->nreq);
		plot_row(plot, rs[i].fraction, miss, NPOLICIES);
	}
}

static void replay(const struct trace *t, void *arg)
{
	const struct options *o = arg;
	struct size_result rs[MAX_FRACTIONS];

	print_trace_heading(t);
	for (unsigned i = 0; i < o->plan.nfractions; i++)
		run_size(t, o->plan.fractions[i], &rs[i]);
	print_size_table(t, rs, o->plan.nfractions);
	for (unsigned i = 0; i < o->plan.nfractions; i++)
		print_size_json(t, &rs[i]);
	run_references(t, o->plan.fractions, o->plan.nfractions);
	if (plot != NULL)
		plot_trace(t, rs, o->plan.nfractions);
}

int main(int argc, char **argv)
{
	struct options o;

	if (!parse_options(argc, argv, &o))
		return usage();
	replay_init("trace_replay");
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (o.plot_data != NULL && (plot = fopen(o.plot_data, "w")) == NULL) {
		fprintf(stderr, "trace_replay: %s: %s\n", o.plot_data, strerror(errno));
		return 1;
	}
	if (o.refs != NULL) {
		refs_load(o.refs, true);
	} else if (o.plan.ntraces > 0) {
		char path[4096];
		const char *slash = strrchr(o.plan.traces[0], '/');
		int dir = slash ? (int)(slash - o.plan.traces[0] + 1) : 0;

		snprintf(path, sizeof path, "%.*sreferences.tsv", dir, o.plan.traces[0]);
		refs_load(path, false);
	}
	if (!json_only)
		printf("hostcache %s trace replay: cache-aside (get, set on a miss), "
		       "one process, one slot per segment\n", hc_version());
	if (!replay_plan_each(&o.plan, replay, &o))
		return 1;
	if (plot != NULL && fclose(plot) != 0) {
		fprintf(stderr, "trace_replay: %s: %s\n", o.plot_data, strerror(errno));
		return 1;
	}
	return 0;
}
