/*
 * replay.h - what trace_replay and hcmiss share.
 *
 * Traces: a text file, one request a line ("<key> <size>"), or a synthetic
 * Zipf trace, loaded with dense object ids.  Textbook policies (LRU, FIFO,
 * CLOCK, CLOCK with a 2-bit counter, SIEVE, S3-FIFO) simulated exactly,
 * each object weighing its item bytes or 1.  And the replay of a trace
 * through a real segment, cache-aside: hc_get(key); on a miss, hc_set(key)
 * with a value as long as the request's size.
 *
 * Sizing.  Item memory holds whole items: a 24-byte header, the key and
 * the value, rounded up to 8 bytes (item_bytes()).  The footprint of a
 * trace is the sum of that over its unique keys (first size seen).
 * segment_replay() makes a segment whose item memory is the whole number
 * of blocks nearest to segment_run.want_memory, or reports it out of range
 * when that is fewer blocks than the smallest segment has (MIN_BLOCKS, for
 * the one process slot it uses).
 *
 * Every function here that fails prints "PROG: what went wrong" and exits
 * with status 1; the segment it made is removed on exit and on SIGINT or
 * SIGTERM once replay_init() has run.
 */
#ifndef BENCH_REPLAY_H
#define BENCH_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hostcache.h"

#define ITEM_HEADER 24u          /* lib/item.h: HC_ITEM_HEADER */
#define BUCKET_SLOTS 8u          /* lib/layout.h: HC_BUCKET_SLOTS */
#define RESERVE_BLOCKS 4u        /* lib/layout.h: HC_RESERVE_BLOCKS */
#define CLOCK_MAX 3u             /* 2-bit counter */
#define MIN_BLOCKS (2u * (1u + RESERVE_BLOCKS)) /* one process slot */

/* The program's name, for messages; set by replay_init(). */
extern const char *replay_prog;

/* Name the program and remove the segment on exit, SIGINT and SIGTERM. */
void replay_init(const char *prog);

void api_fail(const char *what, int rc);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);

/* ---- traces ---- */

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

/* Load PATH; a trace whose sizes are all 1 has no sizes and every value
 * gets VALUE bytes.  False (with a message) when it cannot be read. */
bool trace_load(struct trace *t, const char *path, uint32_t value);

/* Zipf(ALPHA) over KEYS keys, REQUESTS requests of VALUE bytes, from a
 * fixed seed: the same trace on every run. */
void trace_zipf(struct trace *t, double alpha, uint32_t keys,
                uint64_t requests, uint32_t value);
void trace_free(struct trace *t);

/* A line on stdout: T's name, requests, keys, sizes and footprint. */
void trace_print_heading(const struct trace *t);

/* The key of object O in decimal, as the segment sees it; its length. */
int key_text(uint64_t k, char *out);

/* Bytes an item takes in item memory: lib/item.h, item_total(0, k, v). */
uint64_t item_bytes(uint64_t klen, uint64_t vlen);

/* ---- results ---- */

struct outcome {
	uint64_t misses;
	uint64_t miss_bytes;  /* sum of the missed requests' sizes */
};

/* a / b, 0 when b is 0. */
double ratio(uint64_t a, uint64_t b);

struct kit_json;

/* ---- textbook policies ---- */

enum policy { LRU, FIFO, CLOCK1, CLOCK2, SIEVE, S3FIFO, NPOLICIES };

/* "lru", "fifo", "clock", "clock2", "sieve", "s3fifo" */
extern const char *const policy_names[NPOLICIES];

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

void sim_init(struct sim *s, const struct trace *t, uint64_t cap);
void sim_free(struct sim *s);

/* Remember O (weight W) in S's ghost FIFO, forgetting the oldest entries
 * beyond ghost_cap. */
void ghost_add(struct sim *s, uint32_t o, uint64_t w);

/* Replay T through policy P with capacity CAP: item bytes, or objects
 * when COUNT (each weighs 1).  Every miss counts, cold misses included. */
struct outcome sim_run(const struct trace *t, enum policy p, uint64_t cap,
                       bool count);

/* ---- plot data ---- */

/* gnuplot data, one block per trace, blocks two blank lines apart: "# NAME",
 * a header row "fraction hostcache" and the names of the N POLICIES (NULL:
 * every policy, in order), then plot_row() for each size.  One plot file
 * per program. */
void plot_trace_begin(FILE *f, const struct trace *t,
                      const enum policy *policies, unsigned n);

/* A row: FRACTION, then MISS[0] (hostcache) to MISS[N] (the policies) with
 * four decimals, NaN where a ratio is NAN (a size too small to run). */
void plot_row(FILE *f, double fraction, const double *miss, unsigned n);

/* ---- the real thing ---- */

struct segment_run {
	bool in_range;
	uint64_t want_memory;   /* fraction x footprint */
	uint64_t segment, item_memory, index_memory;
	uint32_t block_size, blocks, buckets;
	struct outcome out;
	double mean_items;      /* live items, sampled once warm */
	double fill;            /* mean live bytes / item memory, once warm */
	uint64_t samples;       /* samples behind mean_items and fill */
	hc_stats stats;         /* at the end of the replay */
};

/*
 * Replay T cache-aside through a new segment of S->want_memory bytes of
 * item memory (in_range false, and nothing else done, when that is fewer
 * blocks than the smallest segment has).  Every nreq / 2000 requests (at
 * least every request), once a block has been evicted (the segment has
 * filled), hc_stats_get() is sampled: mean_items is the mean of its
 * `items` (live items) over those samples, fill the mean of bytes_live
 * over item memory.  With no sample, mean_items is the final count.
 */
void segment_replay(const struct trace *t, struct segment_run *s);

/* Replay T through a new segment whose item memory is FRACTION of T's
 * footprint: S zeroed, then segment_replay(). */
void segment_replay_fraction(const struct trace *t, double fraction,
                             struct segment_run *s);

/* Open a JSON line on F for BENCH, T replayed through segment run S at
 * FRACTION of its footprint: bench, trace, requests, keys, footprint,
 * size_fraction, in_range and, when S was out of range, want_item_memory. */
void trace_json_begin(struct kit_json *j, FILE *f, const char *bench,
                      const struct trace *t, double fraction,
                      const struct segment_run *s);

/* Add the layout of S's segment to J: segment, item_memory, index_memory
 * (bytes), block_size, blocks. */
void segment_json_layout(struct kit_json *j, const struct segment_run *s);

/* ---- a run ---- */

#define REPLAY_MAX_FRACTIONS 8
#define REPLAY_MAX_TRACES 16
#define REPLAY_DEFAULT_VALUE 200u

/* What a run replays, and at which sizes: the trace files, then the Zipf
 * traces. */
struct replay_plan {
	double fractions[REPLAY_MAX_FRACTIONS];
	unsigned nfractions;
	double zipf[REPLAY_MAX_TRACES];      /* exponents */
	unsigned nzipf;
	uint32_t zipf_keys;
	uint64_t zipf_requests;
	uint32_t value;                      /* for traces without sizes */
	const char *traces[REPLAY_MAX_TRACES];
	unsigned ntraces;
};

/* Fractions 0.001, 0.01, 0.1; Zipf traces of ZIPF_KEYS keys and 2,000,000
 * requests; values of REPLAY_DEFAULT_VALUE bytes; nothing to replay. */
void replay_plan_defaults(struct replay_plan *p, uint32_t zipf_keys);

/* Each trace of P in turn, loaded, passed to FN and freed.  False (with a
 * message) when a trace file cannot be read. */
bool replay_plan_each(const struct replay_plan *p,
                      void (*fn)(const struct trace *t, void *arg), void *arg);

#endif
