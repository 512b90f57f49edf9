/*
 * hcbench.h - what the files of hcbench share: sizes and limits, the
 * implementations measured, the data sets and the workloads run on them.
 * hcbench.c holds the tables of data sets and workloads and the run.
 */
#ifndef BENCH_HCBENCH_H
#define BENCH_HCBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostcache.h"
#include "kit/kit.h"

#define KEY_LEN 16
#define ITEM_HEADER 24            /* hostcache's item header, for sizing */
#define MAX_PROCS KIT_MAX_PROCS
#define MAX_REPS 16
#define MAX_LIST 8                /* entries of --procs */
#define MAX_DATASETS 16
#define MAX_WORKLOADS 32
#define MAX_NOTES 32
#define ZIPF_THETA 0.99
#define DRAM_ITEMS 10000000u      /* the 32 B DRAM set */
#define DRAM_BYTES (512u << 20)   /* of values, for the larger DRAM sets */
#define YCSB_ITEMS 1000000u
#define YCSB_ITEMS_QUICK 100000u
#define HOT_ITEMS 1024u
#define OP_SET 0x80000000u        /* in an op: a set, not a get */
#define L2_CAP (2u << 20)         /* a reported size above is not believed */
#define L3_CAP (32u << 20)        /*   (see the top of the file) */
#define FIT_VALUE 256u
#define FIT_SEGMENT (64u << 20)
#define FIT_SEGMENT_QUICK (16u << 20)
#define FIT_WRAPS 5               /* sets of a fit run: this x item memory */
#define FIT_PROCS_MAX 8
#define FIT_TIME_LIMIT 60         /* s: a fit run stops there, wrapped or not */

enum impl_id { HOSTCACHE, PRIVATE, RWLOCK, MUTEX, MEMCACHED, REDIS, NIMPLS };

extern const char *const impl_names[NIMPLS];

static inline bool is_server(int impl)
{
	return impl == MEMCACHED || impl == REDIS;
}

enum dist { UNIFORM, ZIPF, HOT };

extern const char *const dist_names[];


struct table;

struct dataset {
	unsigned id;             /* in every key: sets never share a key */
	unsigned value;          /* value bytes */
	uint32_t items;
	const char *fits;        /* "l2", "l3", "dram", "fit50", "fit90" */
	unsigned fill_pct;       /* a fit set: this share of item memory
	                            (items known once its segment is made) */
	bool servers;            /* memcached and redis are run on it */
	bool skip;               /* not run (a note says why) */
	/* The segment and the shared table are made afresh in each
	 * repetition; the servers are loaded once. */
	char name[64];
	hc_cache *owner;
	struct table *table;     /* shared, for rwlock and mutex */
	struct table *priv;      /* private to this process, for private */
	bool loaded[NIMPLS];
	uint64_t evictions;      /* of the segment when it was loaded */
	struct kit_zipf zipf;      /* over the items, rank 0 the hottest */
	bool zipf_ready;
};

struct workload {
	const char *bench;
	struct dataset *ds;
	unsigned set_percent;
	enum dist dist;
	bool scaling;            /* at the --procs counts, else at 1 and 2 */
};

/* "hcbench: " and the message on stderr, then exit status 1 (a forked
 * process: _exit, leaving the cleaning up to the parent). */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                               noreturn));

/* malloc, or fail(). */
void *xmalloc(size_t n);

#endif
