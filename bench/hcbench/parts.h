/*
 * parts.h - what the files of hcbench call of each other: the limits and
 * types of a run, and each file's functions and tables.
 */
#ifndef BENCH_HCBENCH_PARTS_H
#define BENCH_HCBENCH_PARTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"

/* A cache size as the data sets use it, and what it was made from. */
struct cache_level {
	int level;
	uint64_t reported;       /* by sysfs or sysconf; 0 if neither knew */
	uint64_t used;           /* what the l2 or l3 sets are sized from */
	const char *source;      /* "sysfs", "sysconf", "--l2"/"--l3", "default" */
	bool capped;             /* REPORTED was above the cap */
};

/* The operations of one process, cycled: a key index (OP_SET for a set)
 * and the key, formatted in advance. */
struct seq {
	uint32_t *ops;
	char (*keys)[KEY_LEN];
	size_t len;              /* a power of two */
	size_t start;            /* where the process begins in it */
};

struct proc_result {
	uint64_t ops, ns;          /* throughput phase */
	uint64_t cpu_ns;           /* this process's CPU time in that phase */
	uint64_t gets, misses;     /* both phases */
	uint64_t sets;
	uint64_t errors, wrong;
	uint64_t lat_ops;
	struct kit_hist hist;
};

/* The counters of the processes of a run, summed (ns: the longest). */
struct proc_totals {
	uint64_t ops, ns, cpu_ns;
	uint64_t gets, misses, sets;
	uint64_t errors, wrong;
	uint64_t lat_ops;
};

/* How long each process of a run goes on. */
struct run_limit {
	double seconds;            /* proc_run: the counted phase */
	uint64_t sets;             /* proc_fit: the sets to make... */
	uint64_t deadline;         /*   unless kit_now_ns() reaches this first */
};

/* What each process of a run does once attached: operations of S on D
 * through C from T0 on the common clock, within LIM, counted into R. */
typedef void proc_fn(struct conn *c, const struct dataset *d,
                     const struct seq *s, uint64_t t0,
                     const struct run_limit *lim, struct proc_result *r);

struct measurement {
	const struct workload *w;
	enum impl_id impl;
	unsigned procs, rep;
	double ops_per_sec;
	double cpu_ns_per_op;      /* client CPU per operation */
	double p50, p99, p999;
	uint64_t ops, gets, misses, lat_ops;
	/* hostcache: live items the segment dropped during the measurement,
	 * to make room and from full index buckets */
	uint64_t evictions, bucket_evictions;
};

/* What the processes of a run are told. */
struct procs_plan {
	const struct workload *w;
	enum impl_id impl;
	const struct seq *seqs;
	proc_fn *fn;
	const struct run_limit *lim;
};

struct overhead {
	unsigned value;
	uint64_t size, items;
	double header;             /* item bytes beyond key and value */
	double slot;               /* index bytes per slot */
	double index_per_item;     /* index bytes per item held */
	double segment;            /* segment bytes per item beyond key, value */
};

enum field { F_OPS, F_P50, F_P99, F_P999, F_CPU, F_MISS };

/* A median over the repetitions, with its range. */
struct stat {
	double med, min, max;
	unsigned n;
};

/* One fit run: a mix on a fresh segment filled to a share of its item
 * memory, for at least FIT_WRAPS wraps of its log. */
struct fit_result {
	const struct workload *w;
	unsigned procs;
	uint64_t segment_bytes, item_memory;
	uint32_t block_size, blocks;
	uint32_t item_bytes;       /* one item, as bytes_set counts it */
	uint64_t ops, gets, sets, misses;
	double seconds;            /* wall time of the slowest process */
	double ops_per_sec;
	uint64_t lost_at_load;     /* keys dropped while they were loaded */
	uint64_t lost;             /* loaded keys absent at the end */
	/* of the run alone: after minus before */
	uint64_t evictions, bucket_evictions, blocks_evicted, blocks_cleaned;
	uint64_t second_chances, bytes_set, bytes_cleaned;
	double write_amp;          /* bytes_cleaned / bytes_set */
	double wraps;              /* bytes_set / item memory */
	double live_end;           /* live bytes / item memory at the end */
	bool complete;             /* every process made its sets in time */
};

/* hcbench.c */
#define NVALUES 3u
extern const unsigned value_sizes[NVALUES];    /* bytes of the values */
extern pid_t main_pid;
extern bool json_only;
extern struct kit_team team;
extern const char *const fits_names[3];
void stores_remove(void);
void out_check(void);
/* "hcbench: " and the message on stderr, no newline: for fail() and
 * usage_error(), which say what follows. */
void vsay(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* machine.c */
void cache_level_choose(struct cache_level *l, int level,
			uint64_t override, uint64_t cap,
			uint64_t fallback);
const char *cache_level_str(const struct cache_level *l, char *buf,
			    size_t cap);
/* Its fields of the "run" object: "l3_bytes", "l3_reported_bytes" (null
 * when nothing was reported or an option gave the size), "l3_source",
 * "l3_capped". */
void cache_level_json(struct kit_json *j, const struct cache_level *l);
uint64_t mem_available(void);
bool affordable(uint64_t bytes);
double load_average(void);
extern char *notes[MAX_NOTES];
extern unsigned nnotes;
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cache_level_note(const struct cache_level *l);

/* options.c */
extern const char usage_text[];
extern const char help_text[];
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                            noreturn));
uint64_t parse_count(const char *opt, const char *arg, uint64_t min,
		     uint64_t max, bool suffix);
bool in_list(const char *list, const char *name);
void check_list(const char *opt, const char *list,
		const char *const *names, unsigned nnames);
void server_versions(void);

/* data.c */
void key_of(unsigned ds, uint32_t i, char out[KEY_LEN]);
void value_stamp(unsigned ds, uint32_t i, unsigned char *out);
void value_init(unsigned ds, unsigned v, unsigned char *out);
bool value_ok(unsigned ds, uint32_t i, unsigned v,
	      const unsigned char *got, size_t len);
extern size_t seq_len;
extern size_t fit_seq_len;
void seq_make(struct seq *s, const struct workload *w, unsigned proc,
	      size_t len);
void seq_free(struct seq *s);
unsigned segment_item(unsigned value);
uint64_t segment_bytes(const struct dataset *d);
bool segment_make(struct dataset *d);
void segment_drop(struct dataset *d);
bool preload_segment(struct dataset *d);
void preload_table(struct dataset *d);
void preload_server(struct dataset *d, enum impl_id impl);

/* measure.c */
extern uint64_t timer_cost;
void step(struct conn *c, const struct dataset *d,
	  const struct seq *s, uint64_t i, unsigned char *val,
	  unsigned char *buf, struct proc_result *r);
void procs_run(const struct workload *w, enum impl_id impl,
	       unsigned procs, const struct seq *seqs, proc_fn *fn,
	       const struct run_limit *lim);
void proc_totals_add(struct proc_totals *t, const struct proc_result *r);
void measure(const struct workload *w, enum impl_id impl,
	     unsigned procs, double span, const struct seq *seqs,
	     struct measurement *m);

/* overhead.c */
extern struct overhead overheads[NVALUES];
extern unsigned noverheads;
void measure_overhead(unsigned value, uint64_t size, struct overhead *o);

/* results.c */
extern unsigned reps;
extern double seconds;
extern bool quick;
void record(const struct measurement *m);
const struct measurement *find(const struct workload *w, int impl,
			       unsigned procs, unsigned rep);
bool stat_of(const struct workload *w, int impl, unsigned procs,
	     enum field f, struct stat *s);
bool ratio_of(const struct workload *wa, int ia, unsigned pa,
	      const struct workload *wb, int ib, unsigned pb,
	      enum field f, struct stat *s);
const struct workload *find_workload(const char *bench, enum dist dist,
				     unsigned value, const char *fits);

/* output.c */
extern FILE *table_out;
void tprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *count_str(uint64_t n, char *buf, size_t cap);
/* Begin a JSON line on stdout with the fields every record starts with:
 * TYPE, then W's (bench, sizes, items, fits, dist, sets), then IMPL and
 * PROCS, the processes it ran with. */
void json_record_begin(struct kit_json *j, const char *type,
                       const struct workload *w, const char *impl,
                       unsigned procs);
void print_measurement_json(const struct measurement *m);
void print_summaries(const bool *enabled);
void print_scaling(const bool *enabled);
void print_overheads(void);
void print_verdicts(void);
void write_plot_data(const char *dir);

/* fit.c */
void print_fits(void);
void run_dataset(struct dataset *d, const bool *enabled,
		 uint64_t started);

/* workloads.c */
extern struct dataset datasets[MAX_DATASETS];
extern unsigned ndatasets;
extern struct workload workloads[MAX_WORKLOADS];
extern unsigned nworkloads;
extern const unsigned micro_procs[2];
extern unsigned scale_procs[MAX_LIST];
extern unsigned nscale_procs;
extern uint64_t fit_segment;
extern long online_cpus;
extern unsigned max_procs_used;
unsigned workload_procs(const struct workload *w, const unsigned **list);
bool run_one(const struct workload *w, enum impl_id impl,
	     unsigned procs, unsigned rep, const struct seq *seqs);
extern uint64_t l2_bytes, l3_bytes;
extern struct cache_level l2_cache, l3_cache;
/* The data sets and workloads of this run. */
void plan(const char *bench_list, const char *fits_list,
          uint32_t dram_items, uint32_t ycsb_items);
/* The memory D's stores need with PROCS processes of private. */
uint64_t dataset_memory(const struct dataset *d, unsigned procs);

#endif
