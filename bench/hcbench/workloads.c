/*
 * workloads.c - the implementations, the data sets and the workloads of a
 * run, the plan that makes them from the options, and the run of one
 * workload on one implementation.
 */
#include <string.h>

#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- implementations, data sets, workloads --------------------------------- */

const char *const impl_names[NIMPLS] = {
	"hostcache", "private", "rwlock", "mutex", "memcached", "redis"
};

const char *const dist_names[] = { "uniform", "zipf", "one_key" };

struct dataset datasets[MAX_DATASETS];
unsigned ndatasets;
struct workload workloads[MAX_WORKLOADS];
unsigned nworkloads;

const unsigned micro_procs[] = { 1, 2 };
unsigned scale_procs[MAX_LIST] = { 1, 2, 4, 8 };
unsigned nscale_procs = 4;

uint64_t l2_bytes, l3_bytes;     /* the .used of these: */
struct cache_level l2_cache, l3_cache;
uint64_t fit_segment = FIT_SEGMENT;      /* --quick: smaller */
long online_cpus = 1;
unsigned max_procs_used = 2;

/* Bytes a set's data takes in a cache, roughly: key, value and 32 bytes of
 * index and header per item. */
static uint64_t footprint(unsigned value, uint64_t items)
{
	return items * (KEY_LEN + value + 32);
}

static const char *fits_of(unsigned value, uint64_t items)
{
	uint64_t f = footprint(value, items);

	return f <= l2_bytes / 4 ? "l2" : f <= l3_bytes / 8 ? "l3" : "dram";
}

static struct dataset *dataset_add(unsigned value, uint32_t items,
                                   const char *fits, bool servers)
{
	struct dataset *d = &datasets[ndatasets];

	if (ndatasets == MAX_DATASETS)
		fail("too many data sets");
	memset(d, 0, sizeof *d);
	d->id = ndatasets++;
	d->value = value;
	d->items = items;
	d->fits = fits != NULL ? fits : fits_of(value, items);
	d->servers = servers;
	return d;
}

static void workload_add(const char *bench, struct dataset *d,
                         unsigned set_percent, enum dist dist, bool scaling)
{
	struct workload *w = &workloads[nworkloads];

	if (nworkloads == MAX_WORKLOADS)
		fail("too many workloads");
	w->bench = bench;
	w->ds = d;
	w->set_percent = set_percent;
	w->dist = dist;
	w->scaling = scaling;
	nworkloads++;
}

unsigned workload_procs(const struct workload *w, const unsigned **list)
{
	if (w->scaling) {
		*list = scale_procs;
		return nscale_procs;
	}
	*list = micro_procs;
	return 2;
}

/* ---- the run ------------------------------------------------------------ */

/* Whether D's segment dropped live items since it was loaded. */
static bool segment_evicted(struct dataset *d)
{
	hc_stats st;
	int rc;

	if ((rc = hc_stats_get(d->owner, &st)) != 0)
		fail("hc_stats_get: %s", hc_strerror(rc));
	return st.evictions + st.bucket_evictions > d->evictions;
}

/* One measurement of W on IMPL with PROCS processes, into the results.
 * False if it could not be made (a note says why). */
bool run_one(const struct workload *w, enum impl_id impl,
	     unsigned procs, unsigned rep, const struct seq *seqs)
{
	struct dataset *d = w->ds;
	struct measurement m;

	if (impl == PRIVATE && procs > online_cpus) {
		note("private runs with at most one process per CPU (%ld): more "
		     "would only share the same CPUs, each with its own copy of "
		     "the table", online_cpus);
		return false;
	}
	if (impl == PRIVATE && w->set_percent > 0 &&
	    !affordable((uint64_t)procs * table_mapping_bytes(d->table))) {
		note("private with %u processes on the %u B %s set is skipped: a "
		     "copy per process needs more memory than is available", procs,
		     d->value, d->fits);
		return false;
	}
	/* Gets on hostcache find every key: a segment that dropped keys to
	 * make room for sets is loaded again. */
	if (impl == HOSTCACHE && d->owner != NULL && w->set_percent < 100 &&
	    segment_evicted(d))
		segment_drop(d);
	if (impl == HOSTCACHE && d->owner == NULL && !preload_segment(d)) {
		note("the %u B %s set is skipped: /dev/shm cannot hold its segment",
		     d->value, d->fits);
		d->skip = true;
		return false;
	}
	hc_stats before, after;

	if (impl == HOSTCACHE && hc_stats_get(d->owner, &before) != 0)
		fail("hc_stats_get failed");
	measure(w, impl, procs, seconds, seqs, &m);
	m.rep = rep;
	if (impl == HOSTCACHE) {
		if (hc_stats_get(d->owner, &after) != 0)
			fail("hc_stats_get failed");
		m.evictions = after.evictions - before.evictions;
		m.bucket_evictions = after.bucket_evictions - before.bucket_evictions;
	}
	record(&m);
	print_measurement_json(&m);
	return true;
}

/* ---- the plan of a run -------------------------------------------------- */

/* The data sets and workloads of this run. */
void plan(const char *bench_list, const char *fits_list,
          uint32_t dram_items, uint32_t ycsb_items)
{
	bool micro = in_list(bench_list, "get_hit") || in_list(bench_list, "set");

	for (unsigned f = 0; f < 3 && micro; f++) {
		if (!in_list(fits_list, fits_names[f]) || (quick && f == 2))
			continue;
		for (unsigned v = 0; v < NVALUES; v++) {
			unsigned value = value_sizes[v];
			uint64_t items;
			struct dataset *d;

			if (f < 2) {
				items = (f ? l3_bytes / 8 : l2_bytes / 4) /
				        footprint(value, 1);
				if (items < 64)
					items = 64;
			} else {
				items = DRAM_BYTES / (KEY_LEN + value);
				if (items > dram_items || value <= 64)
					items = dram_items;
			}
			d = dataset_add(value, (uint32_t)items, fits_names[f], f < 2);
			if (in_list(bench_list, "get_hit"))
				workload_add("get_hit", d, 0, UNIFORM, false);
			if (in_list(bench_list, "set"))
				workload_add("set", d, 100, UNIFORM, false);
		}
	}
	static const struct {
		const char *bench;
		unsigned set_percent;
	} mixes[] = { { "ycsb_c", 0 }, { "ycsb_b", 5 }, { "ycsb_a", 50 } };
	struct dataset *y = NULL;

	for (unsigned dist = 0; dist < 2; dist++)
		for (unsigned i = 0; i < 3; i++) {
			if (!in_list(bench_list, mixes[i].bench))
				continue;
			if (y == NULL)
				y = dataset_add(256, ycsb_items, NULL, true);
			workload_add(mixes[i].bench, y, mixes[i].set_percent,
			             dist ? UNIFORM : ZIPF, true);
		}
	if (in_list(bench_list, "hot_key"))
		workload_add("hot_key", dataset_add(32, HOT_ITEMS, NULL, true), 0, HOT,
		             true);
	/* Last: the fit runs take a few seconds each.  A set per fill, its
	 * items counted when its segment is made. */
	static const struct {
		const char *bench;
		unsigned set_percent;
	} fit_mixes[] = { { "fit_a", 50 }, { "fit_b", 5 } };
	static const unsigned fills[] = { 50, 90 };
	static const char *const fill_names[] = { "fit50", "fit90" };

	for (unsigned f = 0; f < 2; f++) {
		struct dataset *d = NULL;

		for (unsigned i = 0; i < 2; i++) {
			if (!in_list(bench_list, fit_mixes[i].bench))
				continue;
			if (d == NULL) {
				d = dataset_add(FIT_VALUE, 0, fill_names[f], false);
				d->fill_pct = fills[f];
			}
			workload_add(fit_mixes[i].bench, d, fit_mixes[i].set_percent,
			             ZIPF, false);
		}
	}
	if (nworkloads == 0)
		usage_error("nothing to run: --bench and --fits leave no workload");
}

/* The memory D's stores need with PROCS processes of private. */
uint64_t dataset_memory(const struct dataset *d, unsigned procs)
{
	if (d->fill_pct) /* a segment alone: no table for a fit set */
		return segment_bytes(d);
	return segment_bytes(d) + (2 + procs) * table_bytes(d->items, d->value);
}
