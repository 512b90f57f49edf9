/*
 * fit.c - the fit workloads: overwrites of data that fits in the segment.
 */
#include <string.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- data that fits -------------------------------------------------- */

static const unsigned fit_procs[] = { 1, 2, FIT_PROCS_MAX };
#define NFIT_PROCS (sizeof fit_procs / sizeof *fit_procs)
#define MAX_FIT_RESULTS 16
static struct fit_result fit_results[MAX_FIT_RESULTS];
static unsigned nfit_results;

static void stats_of(hc_cache *c, hc_stats *st)
{
	int rc = hc_stats_get(c, st);

	if (rc != 0)
		fail("hc_stats_get: %s", hc_strerror(rc));
}

static void fit_set(struct dataset *d, uint32_t i, unsigned char *val)
{
	char key[KEY_LEN];
	int rc;

	key_of(d->id, i, key);
	value_stamp(d->id, i, val);
	if ((rc = hc_set(d->owner, key, KEY_LEN, val, d->value, 0)) != 0)
		fail("fit load: hc_set: %s", hc_strerror(rc));
}

/* D's segment, made afresh and loaded with as many items as fill
 * D->fill_pct of its item memory; the geometry into F.  False if /dev/shm
 * cannot hold the segment. */
static bool fit_load(struct dataset *d, struct fit_result *f)
{
	unsigned char *val = xmalloc(d->value);
	hc_info info;
	hc_stats st;
	int rc;

	if (!segment_make(d)) {
		free(val);
		return false;
	}
	if ((rc = hc_info_get(d->owner, &info)) != 0)
		fail("hc_info_get: %s", hc_strerror(rc));
	f->segment_bytes = info.size;
	f->item_memory = info.item_memory;
	f->block_size = info.block_size;
	f->blocks = info.blocks;
	/* What an item takes is what the library counts for it (header,
	 * key, value, padding): ask it rather than assume a layout. */
	value_init(d->id, d->value, val);
	fit_set(d, 0, val);
	stats_of(d->owner, &st);
	f->item_bytes = (uint32_t)st.bytes_set;
	if (f->item_bytes == 0)
		fail("fit load: a set appended no bytes");

	uint64_t items = f->item_memory * d->fill_pct / 100 / f->item_bytes;

	/* The key sequences are drawn over d->items: it must not change
	 * between the runs of a set (it cannot, the geometry is the same). */
	if (d->items != 0 && d->items != items)
		fail("fit set %s: %llu items, was %u", d->fits,
		     (unsigned long long)items, d->items);
	d->items = (uint32_t)items;
	for (uint32_t i = 1; i < d->items; i++)
		fit_set(d, i, val);
	free(val);
	stats_of(d->owner, &st);
	f->lost_at_load = st.evictions + st.bucket_evictions;
	/* The loader's open block would stay open, half filled, through
	 * the run: seal it, as a loader that is done would. */
	hc_close(d->owner);
	if ((rc = hc_open(d->name, &d->owner)) != 0)
		fail("hc_open %s: %s", d->name, hc_strerror(rc));
	return true;
}

/* From T0 on the common clock, operations of S until LIM->sets of them
 * were sets (or LIM->deadline passed); all of them are timed together. */
static void proc_fit(struct conn *c, const struct dataset *d,
                     const struct seq *s, uint64_t t0,
                     const struct run_limit *lim, struct proc_result *r)
{
	unsigned char *val = xmalloc(d->value), *buf = xmalloc(d->value);
	uint64_t i = s->start, cpu0;

	value_init(d->id, d->value, val);
	while (kit_now_ns() < t0)
		;
	cpu0 = kit_cpu_ns();
	do {
		for (int j = 0; j < 16; j++)
			step(c, d, s, i++, val, buf, r);
	} while (r->sets < lim->sets && kit_now_ns() < lim->deadline);
	r->ns = kit_now_ns() - t0;
	r->cpu_ns = kit_cpu_ns() - cpu0;
	r->ops = i - s->start;
	free(val);
	free(buf);
}

/* Loaded keys of D that its segment no longer has.  A value read is
 * checked as in the run. */
static uint64_t fit_count_lost(struct dataset *d)
{
	unsigned char *buf = xmalloc(d->value);
	uint64_t lost = 0;

	for (uint32_t i = 0; i < d->items; i++) {
		char key[KEY_LEN];
		size_t len = 0;
		int rc;

		key_of(d->id, i, key);
		rc = hc_get(d->owner, key, KEY_LEN, buf, d->value, &len);
		if (rc == HC_ENOTFOUND)
			lost++;
		else if (rc != 0)
			fail("fit: hc_get: %s", hc_strerror(rc));
		else if (!value_ok(d->id, i, d->value, buf, len))
			fail("fit: key %u of the %s set read a wrong value", i, d->fits);
	}
	free(buf);
	return lost;
}

/* W with PROCS processes on its loaded segment, each process with its
 * sequence of SEQS, until the sets have appended FIT_WRAPS times the item
 * memory; the rest of F. */
static void fit_run(const struct workload *w, unsigned procs,
                    const struct seq *seqs, struct fit_result *f)
{
	struct dataset *d = w->ds;
	uint64_t want = (FIT_WRAPS * f->item_memory + f->item_bytes - 1) /
	                f->item_bytes;
	struct run_limit lim = {
		.sets = (want + procs - 1) / procs,
		.deadline = kit_now_ns() + FIT_TIME_LIMIT * 1000000000ULL,
	};
	struct proc_totals sum = { 0 };
	hc_stats before, after;

	f->w = w;
	f->procs = procs;
	stats_of(d->owner, &before);

	procs_run(w, HOSTCACHE, procs, seqs, proc_fit, &lim);

	stats_of(d->owner, &after);
	f->complete = true;
	for (unsigned p = 0; p < procs; p++) {
		const struct proc_result *r = kit_team_result(&team, p);

		proc_totals_add(&sum, r);
		f->complete = f->complete && r->sets >= lim.sets;
	}
	kit_team_free(&team);
	if (sum.errors || sum.wrong)
		fail("hostcache on %s (%s set): %llu failed calls, %llu wrong "
		     "values read", w->bench, d->fits,
		     (unsigned long long)sum.errors,
		     (unsigned long long)sum.wrong);
	f->ops += sum.ops;
	f->gets += sum.gets;
	f->sets += sum.sets;
	f->misses += sum.misses;
	f->seconds = (double)sum.ns / 1e9;
	f->ops_per_sec = sum.ns ? (double)f->ops * 1e9 / (double)sum.ns : 0;
	f->lost = fit_count_lost(d);
	f->evictions = after.evictions - before.evictions;
	f->bucket_evictions = after.bucket_evictions - before.bucket_evictions;
	f->blocks_evicted = after.blocks_evicted - before.blocks_evicted;
	f->blocks_cleaned = after.blocks_cleaned - before.blocks_cleaned;
	f->second_chances = after.second_chances - before.second_chances;
	f->bytes_set = after.bytes_set - before.bytes_set;
	f->bytes_cleaned = after.bytes_cleaned - before.bytes_cleaned;
	f->write_amp = f->bytes_set ? (double)f->bytes_cleaned /
	                              (double)f->bytes_set : 0;
	f->wraps = (double)f->bytes_set / (double)f->item_memory;
	f->live_end = (double)after.bytes_live / (double)after.bytes_limit;
	if (!f->complete)
		note("%s with %u processes on the %s set stopped at the %d s "
		     "limit, after %.1f wraps of the log instead of %d", w->bench,
		     procs, d->fits, FIT_TIME_LIMIT, f->wraps, FIT_WRAPS);
}

static void print_fit_json(const struct fit_result *f)
{
	if (!json_only)
		return;
	struct kit_json j;

	json_record_begin(&j, "fit", f->w, "hostcache", f->procs);
	kit_json_uint(&j, "fill_pct", f->w->ds->fill_pct);
	kit_json_uint(&j, "segment_bytes", f->segment_bytes);
	kit_json_uint(&j, "item_memory", f->item_memory);
	kit_json_uint(&j, "block_size", f->block_size);
	kit_json_uint(&j, "blocks", f->blocks);
	kit_json_uint(&j, "item_bytes", f->item_bytes);
	kit_json_uint(&j, "ops", f->ops);
	kit_json_uint(&j, "gets", f->gets);
	kit_json_uint(&j, "sets", f->sets);
	kit_json_num(&j, "seconds", 3, f->seconds);
	kit_json_num(&j, "ops_per_sec", 0, f->ops_per_sec);
	kit_json_uint(&j, "misses", f->misses);
	kit_json_num(&j, "miss_ratio", 6,
	             f->gets ? (double)f->misses / (double)f->gets : 0);
	kit_json_uint(&j, "keys_lost", f->lost);
	kit_json_uint(&j, "keys_lost_at_load", f->lost_at_load);
	kit_json_uint(&j, "evictions", f->evictions);
	kit_json_uint(&j, "bucket_evictions", f->bucket_evictions);
	kit_json_uint(&j, "blocks_evicted", f->blocks_evicted);
	kit_json_uint(&j, "blocks_cleaned", f->blocks_cleaned);
	kit_json_uint(&j, "second_chances", f->second_chances);
	kit_json_uint(&j, "bytes_set", f->bytes_set);
	kit_json_uint(&j, "bytes_cleaned", f->bytes_cleaned);
	kit_json_num(&j, "write_amplification", 4, f->write_amp);
	kit_json_num(&j, "wraps", 2, f->wraps);
	kit_json_num(&j, "live_ratio_end", 4, f->live_end);
	kit_json_bool(&j, "complete", f->complete);
	kit_json_end(&j);
	out_check();
}

/* Every run of the workloads of fit set D: a fresh segment for each,
 * loaded, then the mix with 1, 2 and 8 processes.  The sequence is made
 * once per workload, after the first load has told how many keys there
 * are; process P of N starts at P/N of it (the children read the parent's
 * copy: fork shares the pages). */
static void fit_dataset(struct dataset *d, uint64_t started)
{
	for (unsigned wi = 0; wi < nworkloads && !d->skip; wi++) {
		const struct workload *w = &workloads[wi];
		struct seq all = { 0 }, views[FIT_PROCS_MAX];

		if (w->ds != d)
			continue;
		for (unsigned pi = 0; pi < NFIT_PROCS; pi++) {
			struct fit_result *f = &fit_results[nfit_results];
			unsigned procs = fit_procs[pi];

			if (nfit_results == MAX_FIT_RESULTS)
				fail("too many fit runs");
			memset(f, 0, sizeof *f);
			if (!fit_load(d, f)) {
				note("the %s set is skipped: /dev/shm cannot hold its "
				     "segment", d->fits);
				d->skip = true;
				break;
			}
			fprintf(stderr, "hcbench: %5.0f s: %s %s, %u B x %u (%s), %u "
			        "process%s\n", (double)(kit_now_ns() - started) / 1e9,
			        w->bench, dist_names[w->dist], d->value, d->items,
			        d->fits, procs, procs == 1 ? "" : "es");
			if (all.ops == NULL)
				seq_make(&all, w, 0, fit_seq_len);
			for (unsigned p = 0; p < procs; p++) {
				views[p] = all;
				views[p].start = all.len / procs * p;
			}
			fit_run(w, procs, views, f);
			segment_drop(d);
			nfit_results++;
			print_fit_json(f);
		}
		if (all.ops != NULL)
			seq_free(&all);
	}
}

/* The fit runs as a table, a block per workload. */
void print_fits(void)
{
	static const char *const benches[] = { "fit_a", "fit_b" };
	const struct fit_result *g = nfit_results ? &fit_results[0] : NULL;

	if (g == NULL)
		return;
	tprintf("\nData that fits: hostcache, %u B values, a fresh %llu MiB "
	        "segment per run\n(%.1f MiB of item memory in %u blocks of %u "
	        "KiB; %u B an item, as\nbytes_set counts it); every key loaded, "
	        "then Zipf %.2f until the sets have\nappended %d x the item "
	        "memory.  miss%%: gets (all of loaded keys) that\nmissed.  lost: "
	        "loaded keys absent at the end.  evicted: live items dropped\nto "
	        "make room (idx: dropped from full index buckets).  cleaned: "
	        "blocks freed\nby moving their live items.  wamp: bytes moved by "
	        "cleaning per byte set.\nwraps: bytes set / item memory.  Mops/s: "
	        "all processes, over the wall time.\nAt 90%% the live data is at the "
	        "default watermark (90%% of item memory): there CLOCK\nevicts, "
	        "by design.\n", FIT_VALUE,
	        (unsigned long long)(g->segment_bytes >> 20),
	        (double)g->item_memory / 1048576.0, g->blocks,
	        g->block_size >> 10, g->item_bytes, ZIPF_THETA, FIT_WRAPS);
	for (unsigned b = 0; b < sizeof benches / sizeof *benches; b++) {
		bool header = false;

		for (unsigned i = 0; i < nfit_results; i++) {
			const struct fit_result *f = &fit_results[i];
			char items[32], lost[32], evicted[32];

			if (strcmp(f->w->bench, benches[b]) != 0)
				continue;
			if (!header) {
				tprintf("\n%s %s, %u%% sets\nprocs fill    items  Mops/s  "
				        "miss%%     lost  evicted    idx  cleaned   wamp  "
				        "wraps\n", f->w->bench, dist_names[f->w->dist],
				        f->w->set_percent);
				header = true;
			}
			tprintf("%5u %3u%% %8s %7.3f %6.2f %8s %8s %6llu %8llu %6.3f "
			        "%6.2f%s\n", f->procs, f->w->ds->fill_pct,
			        count_str(f->w->ds->items, items, sizeof items),
			        f->ops_per_sec / 1e6,
			        f->gets ? 100.0 * (double)f->misses / (double)f->gets : 0,
			        count_str(f->lost, lost, sizeof lost),
			        count_str(f->evictions, evicted, sizeof evicted),
			        (unsigned long long)f->bucket_evictions,
			        (unsigned long long)f->blocks_cleaned, f->write_amp,
			        f->wraps, f->complete ? "" : "  (time limit)");
		}
	}
}

/* Every workload on D, every repetition.  D is loaded once: into a shared
 * table (which private copies), into a segment (loaded again only when it
 * evicted), into the servers (once for the run).  Within a repetition the
 * implementations of a workload run back to back, in an order that
 * rotates from one repetition to the next. */
void run_dataset(struct dataset *d, const bool *enabled,
		 uint64_t started)
{
	if (d->skip)
		return;
	if (d->fill_pct && !enabled[HOSTCACHE]) {
		note("fit_a and fit_b run on hostcache only, which --impl leaves "
		     "out");
		return;
	}
	if (d->fill_pct) {
		fit_dataset(d, started);
		return;
	}
	preload_table(d);
	for (int impl = MEMCACHED; impl <= REDIS; impl++)
		if (enabled[impl] && d->servers && !d->loaded[impl]) {
			preload_server(d, (enum impl_id)impl);
			d->loaded[impl] = true;
		}
	for (unsigned rep = 0; rep < reps && !d->skip; rep++) {
		for (unsigned wi = 0; wi < nworkloads && !d->skip; wi++) {
			const struct workload *w = &workloads[wi];
			const unsigned *procs;
			unsigned np = workload_procs(w, &procs), maxp = 0;
			struct seq seqs[MAX_PROCS];

			if (w->ds != d)
				continue;
			for (unsigned pi = 0; pi < np; pi++)
				maxp = procs[pi] > maxp ? procs[pi] : maxp;
			fprintf(stderr, "hcbench: %5.0f s: %s %s, %u B x %u (%s), "
			        "repetition %u/%u\n", (double)(kit_now_ns() - started) / 1e9,
			        w->bench, dist_names[w->dist], d->value, d->items,
			        d->fits, rep + 1, reps);
			for (unsigned p = 0; p < maxp; p++)
				seq_make(&seqs[p], w, p, seq_len);
			for (unsigned pi = 0; pi < np && !d->skip; pi++)
				for (int k = 0; k < NIMPLS && !d->skip; k++) {
					int impl = (k + (int)rep) % NIMPLS;

					if (enabled[impl] && (!is_server(impl) || d->servers))
						run_one(w, (enum impl_id)impl, procs[pi], rep, seqs);
				}
			for (unsigned p = 0; p < maxp; p++)
				seq_free(&seqs[p]);
		}
	}
	table_destroy(d->table);
	table_destroy(d->priv);
	d->table = d->priv = NULL;
	segment_drop(d);
}
