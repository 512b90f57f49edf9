/*
 * hcmiss - hostcache's miss ratio beside exact LRU, FIFO and SIEVE.
 *
 *   hcmiss [--json] [--jsonl FILE] [--plot-data FILE] [--value N]
 *          [--fractions F,..] [--zipf A,..] [--zipf-keys N]
 *          [--zipf-requests N] [TRACE...]
 *
 *   TRACE            a text trace, one request a line: "<key> <size>"
 *                    (bench/traces/ has real ones)
 *   --fractions      cache sizes as fractions of the unique keys' footprint
 *                    (default 0.001,0.01,0.1)
 *   --zipf A,..      also replay synthetic Zipf(A) traces, A in (0, 5]
 *   --zipf-keys N    keys of a Zipf trace (default 1000000)
 *   --zipf-requests  requests of a Zipf trace (default 2000000)
 *   --value N        value bytes for a trace without sizes (every size 1)
 *                    and for the Zipf traces (default 200)
 *   --json           print only the JSON lines
 *   --jsonl FILE     also write the JSON lines to FILE
 *   --plot-data FILE write miss ratios per trace and size for gnuplot
 *                    (bench/hcmiss/miss.gp)
 *
 * What is measured
 * ----------------
 * Each trace is replayed cache-aside through a real segment: hc_get(key);
 * on a miss, hc_set(key) with a value as long as the request's size.  The
 * key is the trace key in decimal.  The object miss ratio counts every get
 * that missed, cold misses included; the byte miss ratio weighs each
 * request by its size (bytes missed / bytes requested).
 *
 * Sizes.  A size is a fraction of the trace's footprint: the item bytes
 * (24-byte header + key + value, rounded up to 8) of its unique keys.  The
 * segment gets the whole number of blocks of item memory nearest to that,
 * one process slot, max_value = the largest size in the trace.  A fraction
 * that needs fewer blocks than the smallest segment has (10) is reported
 * "too small" and skipped: the segment is never silently made larger.
 *
 * capacity_items, "the number of items hostcache actually held": the mean
 * of hc_stats.items (items in the segment not known dead: in this replay,
 * with no TTL and no overwrite, the keys a get would find) over samples
 * taken with hc_stats_get() after every nreq/2000-th request (every
 * request for traces under 2000 requests), counting only samples taken
 * once a block has been evicted, that is once the segment has filled;
 * rounded to the nearest integer, at least 1.  It is less than item memory
 * / item size: open blocks, the free blocks kept in reserve, the unused
 * tail of each block and items evicted from full index buckets all take
 * room.  (With no sample, the segment never filled, and it is the count at
 * the end.)
 *
 * The simulators.  Exact LRU, FIFO and SIEVE, run on the same requests in
 * the same program, each holding at most capacity_items objects (every
 * object weighs 1): the policy against hostcache's policy at the same
 * number of items.  Their byte miss ratios are reported too.  For
 * reference, the same three are also run with the segment's item memory
 * as a byte budget, each object weighing its item bytes ("mem_lru" and
 * so on: the same memory, where hostcache pays for its blocks).
 *
 * Target: hostcache's object miss ratio <= exact LRU's at capacity_items,
 * at every size.  hcmiss prints whether each size meets it and a summary;
 * a missed target is a result, not an error.
 *
 * Output: a table per trace and a summary table (stdout), and one JSON
 * object per trace and size: trace, size_fraction, capacity_items,
 * hostcache, lru, fifo, sieve (object miss ratios), byte_miss_hostcache,
 * byte_miss_lru/fifo/sieve, mem_lru/fifo/sieve (object miss ratios at the
 * same item memory), le_lru (the target), and the segment's geometry.  A
 * size that is too small has in_range false and null ratios.  Every
 * number is a count of misses or of items in a single-threaded replay, so
 * the output is the same on every run.  The exit status is non-zero only
 * for bad arguments (2), or when a trace cannot be read, a file cannot be
 * written or an hc_* call fails (1).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostcache.h"
#include "kit/kit.h"
#include "replay/replay.h"

#define MAX_FRACTIONS REPLAY_MAX_FRACTIONS
#define MAX_TRACES REPLAY_MAX_TRACES

/* The policies compared, in output order. */
static const enum policy compared[] = { LRU, FIFO, SIEVE };
#define NCOMPARED (sizeof compared / sizeof compared[0])

struct size_result {
	double fraction;
	struct segment_run seg;
	uint64_t capacity;                  /* capacity_items */
	struct outcome count[NCOMPARED];    /* at capacity objects */
	struct outcome mem[NCOMPARED];      /* at the segment's item memory */
};

struct options {
	struct replay_plan plan;
	bool json_only;
	const char *jsonl;
	const char *plot_data;
};

static FILE *jsonl, *plot;

/* One line of the summary: a trace at a size. */
struct summary_row {
	char trace[64];
	double fraction;
	bool in_range;
	uint64_t capacity;
	double hostcache, policy[NCOMPARED];
	bool met;
};

static struct summary_row *summary;
static unsigned nsummary, summary_cap;

/* ---- one trace at one size --------------------------------------------- */

static void run_size(const struct trace *t, double fraction,
                     struct size_result *r)
{
	memset(r, 0, sizeof *r);
	r->fraction = fraction;
	segment_replay_fraction(t, fraction, &r->seg);
	if (!r->seg.in_range)
		return;
	r->capacity = (uint64_t)llround(r->seg.mean_items);
	if (r->capacity == 0)
		r->capacity = 1;
	for (unsigned p = 0; p < NCOMPARED; p++) {
		r->count[p] = sim_run(t, compared[p], r->capacity, true);
		r->mem[p] = sim_run(t, compared[p], r->seg.item_memory, false);
	}
}

static bool meets_target(const struct size_result *r)
{
	return r->seg.out.misses <= r->count[0].misses; /* compared[0] is LRU */
}

/* ---- output ------------------------------------------------------------ */

/* BYTES in KiB, MiB or GiB, in BUF. */
static const char *size_text(uint64_t bytes, char *buf)
{
	const char *unit = "KMG";
	double v = (double)bytes / 1024;

	while (v >= 1024 && unit[1] != '\0') {
		v /= 1024;
		unit++;
	}
	snprintf(buf, 32, "%.*f%c", v < 10 ? 2 : 1, v, *unit);
	return buf;
}

static void print_table(const struct trace *t, const struct size_result *rs,
                        unsigned n)
{
	printf("%45s | %-41s | %-34s | %s\n", "", "object miss ratio",
	       "byte miss ratio", "same item memory");
	printf("%6s %9s %12s %9s %5s | %9s %7s %7s %7s %7s | %10s %7s %7s %7s"
	       " | %7s %7s %7s\n", "size", "item mem", "blocks", "capacity",
	       "fill", "hostcache", "LRU", "FIFO", "SIEVE", "<=LRU", "hostcache",
	       "LRU", "FIFO", "SIEVE", "LRU", "FIFO", "SIEVE");
	for (unsigned i = 0; i < n; i++) {
		const struct size_result *r = &rs[i];
		char blocks[32], mem[32];

		if (!r->seg.in_range) {
			printf("%5.1f%% %9s  too small: fewer than the %u blocks "
			       "of %u KiB (%u KiB) of the smallest segment\n",
			       100 * r->fraction, size_text(r->seg.want_memory, mem),
			       MIN_BLOCKS, r->seg.block_size >> 10,
			       MIN_BLOCKS * (r->seg.block_size >> 10));
			continue;
		}
		snprintf(blocks, sizeof blocks, "%u x %uK", r->seg.blocks,
		         r->seg.block_size >> 10);
		printf("%5.1f%% %9s %12s %9llu %4.0f%% | %9.4f",
		       100 * r->fraction, size_text(r->seg.item_memory, mem),
		       blocks, (unsigned long long)r->capacity, 100 * r->seg.fill,
		       ratio(r->seg.out.misses, t->nreq));
		for (unsigned p = 0; p < NCOMPARED; p++)
			printf(" %7.4f", ratio(r->count[p].misses, t->nreq));
		printf(" %7s | %10.4f", meets_target(r) ? "yes" : "NO",
		       ratio(r->seg.out.miss_bytes, t->total_bytes));
		for (unsigned p = 0; p < NCOMPARED; p++)
			printf(" %7.4f", ratio(r->count[p].miss_bytes, t->total_bytes));
		printf(" |");
		for (unsigned p = 0; p < NCOMPARED; p++)
			printf(" %7.4f", ratio(r->mem[p].misses, t->nreq));
		putchar('\n');
	}
}

static void emit_json(FILE *f, const struct trace *t,
                      const struct size_result *r)
{
	const struct segment_run *seg = &r->seg;
	struct kit_json j;
	char key[64];

	trace_json_begin(&j, f, "miss", t, r->fraction, seg);
	if (!seg->in_range) {
		kit_json_uint(&j, "min_item_memory",
		              (uint64_t)MIN_BLOCKS * seg->block_size);
		kit_json_null(&j, "capacity_items");
		kit_json_null(&j, "hostcache");
		for (unsigned p = 0; p < NCOMPARED; p++)
			kit_json_null(&j, policy_names[compared[p]]);
		kit_json_null(&j, "byte_miss_hostcache");
		kit_json_null(&j, "le_lru");
		kit_json_end(&j);
		return;
	}
	kit_json_uint(&j, "capacity_items", r->capacity);
	kit_json_num(&j, "hostcache", 4, ratio(seg->out.misses, t->nreq));
	for (unsigned p = 0; p < NCOMPARED; p++)
		kit_json_num(&j, policy_names[compared[p]], 4,
		             ratio(r->count[p].misses, t->nreq));
	kit_json_num(&j, "byte_miss_hostcache", 4,
	             ratio(seg->out.miss_bytes, t->total_bytes));
	for (unsigned p = 0; p < NCOMPARED; p++) {
		snprintf(key, sizeof key, "byte_miss_%s", policy_names[compared[p]]);
		kit_json_num(&j, key, 4,
		             ratio(r->count[p].miss_bytes, t->total_bytes));
	}
	for (unsigned p = 0; p < NCOMPARED; p++) {
		const char *name = policy_names[compared[p]];

		snprintf(key, sizeof key, "mem_%s", name);
		kit_json_num(&j, key, 4, ratio(r->mem[p].misses, t->nreq));
		snprintf(key, sizeof key, "byte_miss_mem_%s", name);
		kit_json_num(&j, key, 4,
		             ratio(r->mem[p].miss_bytes, t->total_bytes));
	}
	kit_json_bool(&j, "le_lru", meets_target(r));
	kit_json_uint(&j, "misses_hostcache", seg->out.misses);
	kit_json_uint(&j, "misses_lru", r->count[0].misses);
	kit_json_num(&j, "capacity_mean", 2, seg->mean_items);
	kit_json_uint(&j, "capacity_samples", seg->samples);
	kit_json_uint(&j, "items_end", seg->stats.items);
	kit_json_num(&j, "fill", 4, seg->fill);
	segment_json_layout(&j, seg);
	kit_json_uint(&j, "evictions", seg->stats.evictions);
	kit_json_uint(&j, "second_chances", seg->stats.second_chances);
	kit_json_uint(&j, "bucket_evictions", seg->stats.bucket_evictions);
	kit_json_end(&j);
}

/* One gnuplot data block per trace: "# NAME", a header, a row per size;
 * NaN where the size is too small. */
static void plot_trace(const struct trace *t, const struct size_result *rs,
                       unsigned n)
{
	plot_trace_begin(plot, t, compared, NCOMPARED);
	for (unsigned i = 0; i < n; i++) {
		const struct size_result *r = &rs[i];
		double miss[1 + NCOMPARED];

		miss[0] = r->seg.in_range ? ratio(r->seg.out.misses, t->nreq) : NAN;
		for (unsigned p = 0; p < NCOMPARED; p++)
			miss[1 + p] = r->seg.in_range ?
			              ratio(r->count[p].misses, t->nreq) : NAN;
		plot_row(plot, r->fraction, miss, NCOMPARED);
	}
}

static void summary_add(const struct trace *t, const struct size_result *r)
{
	struct summary_row *s;

	if (nsummary == summary_cap) {
		summary_cap = summary_cap ? 2 * summary_cap : 32;
		summary = xrealloc(summary, summary_cap * sizeof *summary);
	}
	s = &summary[nsummary++];
	memset(s, 0, sizeof *s);
	snprintf(s->trace, sizeof s->trace, "%s", t->name);
	s->fraction = r->fraction;
	s->in_range = r->seg.in_range;
	if (!s->in_range)
		return;
	s->capacity = r->capacity;
	s->hostcache = ratio(r->seg.out.misses, t->nreq);
	for (unsigned p = 0; p < NCOMPARED; p++)
		s->policy[p] = ratio(r->count[p].misses, t->nreq);
	s->met = meets_target(r);
}

static void print_summary(void)
{
	unsigned measured = 0, met = 0;

	printf("\nsummary: object miss ratio, LRU, FIFO and SIEVE holding "
	       "capacity_items objects; target hostcache <= LRU\n");
	printf("%-14s %6s %9s | %9s %7s %7s %7s | %s\n", "trace", "size",
	       "capacity", "hostcache", "LRU", "FIFO", "SIEVE", "<= LRU");
	for (unsigned i = 0; i < nsummary; i++) {
		const struct summary_row *s = &summary[i];

		printf("%-14s %5.1f%%", s->trace, 100 * s->fraction);
		if (!s->in_range) {
			printf(" %9s | too small for a segment\n", "-");
			continue;
		}
		measured++;
		met += s->met;
		printf(" %9llu | %9.4f", (unsigned long long)s->capacity,
		       s->hostcache);
		for (unsigned p = 0; p < NCOMPARED; p++)
			printf(" %7.4f", s->policy[p]);
		if (s->met)
			printf(" | yes\n");
		else
			printf(" | NO (+%.4f)\n", s->hostcache - s->policy[0]);
	}
	printf("target hostcache <= LRU: met at %u of %u sizes", met, measured);
	if (met < measured) {
		const char *sep = "; missed at ";

		for (unsigned i = 0; i < nsummary; i++) {
			if (!summary[i].in_range || summary[i].met)
				continue;
			printf("%s%s %.1f%%", sep, summary[i].trace,
			       100 * summary[i].fraction);
			sep = ", ";
		}
	}
	if (measured < nsummary)
		printf(" (%u too small for a segment)", nsummary - measured);
	printf("\n");
}

static void replay(const struct trace *t, void *arg)
{
	const struct options *o = arg;
	struct size_result rs[MAX_FRACTIONS];

	for (unsigned i = 0; i < o->plan.nfractions; i++)
		run_size(t, o->plan.fractions[i], &rs[i]);
	if (!o->json_only) {
		trace_print_heading(t);
		print_table(t, rs, o->plan.nfractions);
	}
	for (unsigned i = 0; i < o->plan.nfractions; i++) {
		if (o->json_only)
			emit_json(stdout, t, &rs[i]);
		if (jsonl != NULL)
			emit_json(jsonl, t, &rs[i]);
		summary_add(t, &rs[i]);
	}
	if (plot != NULL)
		plot_trace(t, rs, o->plan.nfractions);
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: hcmiss [--json] [--jsonl FILE] [--plot-data FILE] "
	        "[--value N]\n"
	        "              [--fractions F,..] [--zipf A,..] [--zipf-keys N] "
	        "[--zipf-requests N]\n"
	        "              [TRACE...]\n"
	        "  TRACE is a text file, one request a line: \"<key> <size>\"\n"
	        "  example: hcmiss --zipf 0.6,0.8,1.0,1.2 bench/traces/*.trace\n");
}

static bool bad(const char *opt, const char *arg, const char *why)
{
	fprintf(stderr, "hcmiss: %s '%s': %s\n", opt, arg, why);
	return false;
}

/* A comma-separated list of numbers in (0, MAX]. */
static bool parse_list(const char *opt, const char *arg, double max,
                       double *out, unsigned cap, unsigned *n,
                       const char *example)
{
	char *end, why[160];

	*n = 0;
	for (const char *p = arg;; p = end + 1) {
		if (*n == cap) {
			snprintf(why, sizeof why, "more than %u values", cap);
			return bad(opt, arg, why);
		}
		errno = 0;
		out[*n] = strtod(p, &end);
		if (end == p || errno != 0 || (*end != ',' && *end != '\0') ||
		    !(out[*n] > 0 && out[*n] <= max)) {
			snprintf(why, sizeof why, "want numbers in (0, %g] separated "
			         "by commas, for example %s", max, example);
			return bad(opt, arg, why);
		}
		(*n)++;
		if (*end == '\0')
			return true;
	}
}

static bool parse_count(const char *opt, const char *arg, uint64_t min,
                        uint64_t max, uint64_t *out)
{
	char *end, why[128];
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] == '-' || end == arg || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		snprintf(why, sizeof why, "want a whole number from %llu to %llu",
		         (unsigned long long)min, (unsigned long long)max);
		return bad(opt, arg, why);
	}
	*out = v;
	return true;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	uint64_t v;

	memset(o, 0, sizeof *o);
	replay_plan_defaults(&o->plan, 1000000);
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg;

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(opt, "--json") == 0) {
			o->json_only = true;
			continue;
		}
		if (opt[0] != '-') {
			if (o->plan.ntraces == MAX_TRACES) {
				fprintf(stderr, "hcmiss: %s: more than %u traces; run "
				        "hcmiss again for the others\n", opt, MAX_TRACES);
				return false;
			}
			o->plan.traces[o->plan.ntraces++] = opt;
			continue;
		}
		if (strcmp(opt, "--fractions") != 0 && strcmp(opt, "--zipf") != 0 &&
		    strcmp(opt, "--zipf-keys") != 0 &&
		    strcmp(opt, "--zipf-requests") != 0 &&
		    strcmp(opt, "--value") != 0 && strcmp(opt, "--jsonl") != 0 &&
		    strcmp(opt, "--plot-data") != 0) {
			fprintf(stderr, "hcmiss: unknown option '%s'\n", opt);
			return false;
		}
		if (i + 1 == argc) {
			fprintf(stderr, "hcmiss: %s needs a value after it\n", opt);
			return false;
		}
		arg = argv[++i];
		if (strcmp(opt, "--fractions") == 0) {
			if (!parse_list(opt, arg, 1, o->plan.fractions, MAX_FRACTIONS,
			                &o->plan.nfractions, "0.001,0.01,0.1"))
				return false;
		} else if (strcmp(opt, "--zipf") == 0) {
			if (!parse_list(opt, arg, 5, o->plan.zipf, MAX_TRACES,
			                &o->plan.nzipf, "0.6,0.8,1.0,1.2"))
				return false;
		} else if (strcmp(opt, "--zipf-keys") == 0) {
			if (!parse_count(opt, arg, 1000, 50000000, &v))
				return false;
			o->plan.zipf_keys = (uint32_t)v;
		} else if (strcmp(opt, "--zipf-requests") == 0) {
			if (!parse_count(opt, arg, 1000, 1000000000,
			                 &o->plan.zipf_requests))
				return false;
		} else if (strcmp(opt, "--value") == 0) {
			if (!parse_count(opt, arg, 1, 1u << 20, &v))
				return false;
			o->plan.value = (uint32_t)v;
		} else if (strcmp(opt, "--jsonl") == 0) {
			o->jsonl = arg;
		} else {
			o->plot_data = arg;
		}
	}
	if (o->plan.ntraces + o->plan.nzipf == 0) {
		fprintf(stderr, "hcmiss: nothing to replay: give a trace file, "
		        "--zipf A,.. or both\n");
		return false;
	}
	if (o->plan.ntraces + o->plan.nzipf > MAX_TRACES) {
		fprintf(stderr, "hcmiss: %u traces and %u Zipf traces: at most %u "
		        "in one run\n", o->plan.ntraces, o->plan.nzipf, MAX_TRACES);
		return false;
	}
	return true;
}

static FILE *open_output(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "hcmiss: cannot write %s: %s\n", path,
		        strerror(errno));
		exit(1);
	}
	return f;
}

static void close_output(FILE *f, const char *path)
{
	if (f != NULL && (ferror(f) || fclose(f) != 0)) {
		fprintf(stderr, "hcmiss: writing %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct options o;

	if (!parse_options(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	replay_init("hcmiss");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.jsonl != NULL)
		jsonl = open_output(o.jsonl);
	if (o.plot_data != NULL)
		plot = open_output(o.plot_data);
	if (!o.json_only) {
		printf("hostcache %s: miss ratios, cache-aside replay (get; set on "
		       "a miss) through a real segment,\n", hc_version());
		printf("one process.  capacity = items the segment held: mean of "
		       "hc_stats.items once full\n(sampled every 1/2000 of the "
		       "trace); exact LRU, FIFO and SIEVE hold that many objects.\n"
		       "\"same mem\": the same policies with the segment's item "
		       "memory, objects weighing\ntheir item bytes.  Sizes are "
		       "fractions of the unique keys' footprint.\n");
	}
	if (!replay_plan_each(&o.plan, replay, &o))
		return 1;
	if (!o.json_only)
		print_summary();
	close_output(jsonl, o.jsonl);
	close_output(plot, o.plot_data);
	free(summary);
	return 0;
}
