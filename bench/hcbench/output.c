/*
 * output.c - the table, the JSON lines, the verdicts and the plot data.
 */
#include <errno.h>
#include <string.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- output -------------------------------------------------------------- */

FILE *table_out;        /* the readable table, or NULL */

void tprintf(const char *fmt, ...)
{
	va_list ap;

	if (table_out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(table_out, fmt, ap);
	va_end(ap);
}

/* N with thousands separators. */
const char *count_str(uint64_t n, char *buf, size_t cap)
{
	char digits[32];
	int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
	size_t o = 0;

	for (int i = 0; i < len && o + 2 < cap; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

void json_record_begin(struct kit_json *j, const char *type,
                       const struct workload *w, const char *impl,
                       unsigned procs)
{
	kit_json_begin(j, stdout);
	kit_json_str(j, "type", type);
	kit_json_str(j, "bench", w->bench);
	kit_json_uint(j, "key_size", KEY_LEN);
	kit_json_uint(j, "value_size", w->ds->value);
	kit_json_uint(j, "items", w->ds->items);
	kit_json_str(j, "fits", w->ds->fits);
	kit_json_str(j, "dist", dist_names[w->dist]);
	kit_json_uint(j, "set_percent", w->set_percent);
	kit_json_str(j, "impl", impl);
	kit_json_uint(j, "procs", procs);
}

void print_measurement_json(const struct measurement *m)
{
	if (!json_only)
		return;
	struct kit_json j;

	json_record_begin(&j, "measurement", m->w, impl_names[m->impl],
	                  m->procs);
	kit_json_uint(&j, "rep", m->rep);
	kit_json_uint(&j, "ops", m->ops);
	kit_json_num(&j, "ops_per_sec", 0, m->ops_per_sec);
	kit_json_num(&j, "cpu_ns_per_op", 1, m->cpu_ns_per_op);
	kit_json_num(&j, "p50_ns", 0, m->p50);
	kit_json_num(&j, "p99_ns", 0, m->p99);
	kit_json_num(&j, "p999_ns", 0, m->p999);
	kit_json_uint(&j, "latency_samples", m->lat_ops);
	kit_json_uint(&j, "gets", m->gets);
	kit_json_uint(&j, "misses", m->misses);
	if (m->impl == HOSTCACHE) {
		kit_json_uint(&j, "evictions", m->evictions);
		kit_json_uint(&j, "bucket_evictions", m->bucket_evictions);
	}
	kit_json_end(&j);
	out_check();
}

/* The JSON line of a summary: W on IMPL with PROCS processes, medians
 * (and the range of ops/s) over the repetitions. */
static void print_summary_json(const struct workload *w, int impl,
                               unsigned procs, uint64_t total,
                               const struct stat *ops, const struct stat *cpu,
                               const struct stat *p50, const struct stat *p99,
                               const struct stat *p999,
                               const struct stat *miss,
                               const struct stat *rops,
                               const struct stat *rp50)
{
	struct kit_json j;

	json_record_begin(&j, "summary", w, impl_names[impl], procs);
	kit_json_uint(&j, "reps", ops->n);
	kit_json_uint(&j, "ops", total);
	kit_json_num(&j, "ops_per_sec", 0, ops->med);
	kit_json_num(&j, "ops_per_sec_min", 0, ops->min);
	kit_json_num(&j, "ops_per_sec_max", 0, ops->max);
	kit_json_num(&j, "cpu_ns_per_op", 1, cpu->med);
	kit_json_num(&j, "p50_ns", 0, p50->med);
	kit_json_num(&j, "p99_ns", 0, p99->med);
	kit_json_num(&j, "p999_ns", 0, p999->med);
	kit_json_num(&j, "miss_ratio", 6, miss->med);
	if (impl != HOSTCACHE && rops->n > 0) {
		kit_json_num(&j, "hostcache_ops_x", 3, rops->med);
		kit_json_num(&j, "p50_vs_hostcache", 3, rp50->med);
	}
	kit_json_end(&j);
}

static void ratio_str(const struct stat *s, char *buf, size_t cap)
{
	if (s->n == 0)
		snprintf(buf, cap, "-");
	else if (s->n == 1 || s->min == s->max)
		snprintf(buf, cap, "%.2f", s->med);
	else
		snprintf(buf, cap, "%.2f [%.2f-%.2f]", s->med, s->min, s->max);
}

/* The medians of every measurement: a table row and a "summary" object. */
void print_summaries(const bool *enabled)
{
	tprintf("\nMedians over the repetitions.  Mops/s: all processes, wall "
	        "clock.  CPU ns: the\nclients' CPU time per operation (a "
	        "server's own time not included).  miss%%:\ngets that found no "
	        "value.  hc ops x: hostcache's ops/s over this one's;\np50 x: "
	        "this p50 over hostcache's; both taken within a repetition, "
	        "median\n[min-max]: above 1, hostcache is ahead.\n");
	for (unsigned wi = 0; wi < nworkloads; wi++) {
		const struct workload *w = &workloads[wi];
		const unsigned *procs;
		unsigned np = workload_procs(w, &procs);
		bool header = false;

		for (unsigned pi = 0; pi < np; pi++) {
			for (int impl = 0; impl < NIMPLS; impl++) {
				struct stat ops, cpu, p50, p99, p999, miss, rops, rp50;
				char items[32], a[48], b[48];
				uint64_t total = 0;

				if (!enabled[impl] ||
				    !stat_of(w, impl, procs[pi], F_OPS, &ops))
					continue;
				stat_of(w, impl, procs[pi], F_CPU, &cpu);
				stat_of(w, impl, procs[pi], F_P50, &p50);
				stat_of(w, impl, procs[pi], F_P99, &p99);
				stat_of(w, impl, procs[pi], F_P999, &p999);
				stat_of(w, impl, procs[pi], F_MISS, &miss);
				ratio_of(w, HOSTCACHE, procs[pi], w, impl, procs[pi], F_OPS,
				         &rops);
				ratio_of(w, impl, procs[pi], w, HOSTCACHE, procs[pi], F_P50,
				         &rp50);
				for (unsigned rep = 0; rep < reps; rep++) {
					const struct measurement *m =
						find(w, impl, procs[pi], rep);

					total += m != NULL ? m->ops : 0;
				}
				if (!header) {
					tprintf("\n%s %s, %u B values, %s items (%s), %u%% "
					        "sets\n", w->bench, dist_names[w->dist],
					        w->ds->value,
					        count_str(w->ds->items, items, sizeof items),
					        w->ds->fits, w->set_percent);
					tprintf("procs impl        Mops/s  CPU ns  p50 ns  "
					        "p99 ns  p999 ns  miss%%  hc ops x               "
					        "p50 x\n");
					header = true;
				}
				if (impl == HOSTCACHE) {
					snprintf(a, sizeof a, "-");
					snprintf(b, sizeof b, "-");
				} else {
					ratio_str(&rops, a, sizeof a);
					ratio_str(&rp50, b, sizeof b);
				}
				tprintf("%5u %-10s %7.3f %7.0f %7.0f %7.0f %8.0f %6.2f  "
				        "%-22s %s\n", procs[pi], impl_names[impl],
				        ops.med / 1e6, cpu.med, p50.med, p99.med, p999.med,
				        100 * miss.med, a, b);
				if (!json_only)
					continue;
				print_summary_json(w, impl, procs[pi], total, &ops,
				                   &cpu, &p50, &p99, &p999, &miss,
				                   &rops, &rp50);
				out_check();
			}
		}
	}
}

/* Throughput with more processes than CPUs, over throughput with 2. */
void print_scaling(const bool *enabled)
{
	bool header = false;

	for (unsigned wi = 0; wi < nworkloads; wi++) {
		const struct workload *w = &workloads[wi];

		if (!w->scaling)
			continue;
		for (int impl = 0; impl < NIMPLS; impl++) {
			char line[256];
			int len = 0;
			bool any = false;

			if (!enabled[impl])
				continue;
			len = snprintf(line, sizeof line, "%-8s %-8s %-10s", w->bench,
			               dist_names[w->dist], impl_names[impl]);
			for (unsigned pi = 0; pi < nscale_procs; pi++) {
				struct stat s;
				char r[48];

				if (scale_procs[pi] == 1 || scale_procs[pi] == 2)
					continue;
				if (ratio_of(w, impl, scale_procs[pi], w, impl, 2, F_OPS,
				             &s))
					any = true;
				ratio_str(&s, r, sizeof r);
				len += snprintf(line + len, sizeof line - (size_t)len,
				                "  %2u: %-22s", scale_procs[pi], r);
				if (len >= (int)sizeof line) {
					len = (int)sizeof line - 1;
					break;
				}
			}
			if (!any)
				continue;
			while (len > 0 && line[len - 1] == ' ')
				line[--len] = '\0';
			if (!header) {
				tprintf("\nOps/s at N processes over ops/s at 2, median "
				        "[min-max].  With more processes\nthan the %ld CPUs, "
				        "processes lose the CPU in the middle of operations:"
				        "\nnear 1, nothing collapses when they do.\n",
				        online_cpus);
				header = true;
			}
			tprintf("%s\n", line);
		}
	}
}

void print_overheads(void)
{
	for (unsigned i = 0; i < noverheads; i++) {
		const struct overhead *o = &overheads[i];
		char items[32];

		tprintf("%s per-item memory, %u B values: %.1f B item header + %.0f "
		        "B index slot = %.1f B;\n  a full %llu MiB segment holds %s "
		        "items: %.1f B of segment per item beyond key and value\n  "
		        "(of which %.1f B index: it is sized for 2/3 of its slots in use "
		        "when items\n  average the segment's avg_item_size)\n", i == 0 ? "\n" : "", o->value, o->header, o->slot,
		        o->header + o->slot,
		        (unsigned long long)(o->size >> 20),
		        count_str(o->items, items, sizeof items), o->segment,
		        o->index_per_item);
		if (!json_only)
			continue;
		struct kit_json j;

		kit_json_begin(&j, stdout);
		kit_json_str(&j, "type", "overhead");
		kit_json_str(&j, "bench", "overhead");
		kit_json_str(&j, "impl", "hostcache");
		kit_json_uint(&j, "key_size", KEY_LEN);
		kit_json_uint(&j, "value_size", o->value);
		kit_json_uint(&j, "items", o->items);
		kit_json_uint(&j, "segment_bytes", o->size);
		kit_json_num(&j, "item_header_bytes", 1, o->header);
		kit_json_num(&j, "index_slot_bytes", 1, o->slot);
		kit_json_num(&j, "overhead_bytes", 1, o->header + o->slot);
		kit_json_num(&j, "index_bytes_per_item", 1, o->index_per_item);
		kit_json_num(&j, "segment_overhead_bytes", 1, o->segment);
		kit_json_end(&j);
		out_check();
	}
}

/* One verdict: S's median against WANT, at least or at most. */
static void verdict(const char *id, const char *what, const struct stat *s,
                    bool at_least, double want, const char *unit,
                    const char *why_not)
{
	bool have = s != NULL && s->n > 0;
	bool met = have && (at_least ? s->med >= want : s->med <= want);
	int prec = strcmp(unit, "x") == 0 ? 2 : strcmp(unit, " ns") == 0 ? 0 : 1;
	char val[64];

	if (!have)
		snprintf(val, sizeof val, "-");
	else if (s->n > 1 && s->min != s->max)
		snprintf(val, sizeof val, "%.*f%s [%.*f-%.*f]", prec, s->med, unit,
		         prec, s->min, prec, s->max);
	else
		snprintf(val, sizeof val, "%.*f%s", prec, s->med, unit);
	tprintf("target: %-50s %-24s want %s %g%s: %s\n", what, val,
	        at_least ? ">=" : "<=", want, unit,
	        !have ? why_not : met ? "met" : "MISSED");
	if (!json_only)
		return;
	struct kit_json j;
	char want_text[64];

	snprintf(want_text, sizeof want_text, "%s %g", at_least ? ">=" : "<=",
	         want);
	kit_json_begin(&j, stdout);
	kit_json_str(&j, "type", "verdict");
	kit_json_str(&j, "target", id);
	kit_json_str(&j, "what", what);
	kit_json_str(&j, "want", want_text);
	if (!have) {
		kit_json_null(&j, "value");
		kit_json_null(&j, "met");
		kit_json_str(&j, "reason", why_not);
	} else {
		kit_json_num(&j, "value", 3, s->med);
		kit_json_num(&j, "min", 3, s->min);
		kit_json_num(&j, "max", 3, s->max);
		kit_json_bool(&j, "met", met);
	}
	kit_json_end(&j);
	out_check();
}

/* The targets of the library, each shown met or missed:
 *  - get_hit of 256 B values (the 64-256 B range) on the L3 set, 1
 *    process: at least 0.6 times private's ops/s, and a p50 of at most
 *    50 ns
 *  - ycsb_b over Zipf 0.99: 2 processes at least 1.8 times 1 process, and
 *    at least 3 times rwlock with 2 processes
 *  - the same get_hit with one client: the p50 of memcached and of redis
 *    over a unix socket at least 100 times hostcache's
 *  - per-item overhead, item header and index slot, at most 32 bytes */
void print_verdicts(void)
{
	const struct workload *g = find_workload("get_hit", UNIFORM, 256, "l3");
	const struct workload *b = find_workload("ycsb_b", ZIPF, 0, NULL);
	struct stat s;
	bool have;

	tprintf("\nTargets (medians over the repetitions of ratios taken within "
	        "one; shown, never enforced):\n");
	have = g != NULL && ratio_of(g, HOSTCACHE, 1, g, PRIVATE, 1, F_OPS, &s);
	verdict("get_hit_vs_private", "get_hit 256 B L3, 1 proc: ops/s vs private",
	        have ? &s : NULL, true, 0.6, "x", "not measured");
	have = g != NULL && stat_of(g, HOSTCACHE, 1, F_P50, &s);
	verdict("get_hit_p50", "get_hit 256 B L3, 1 proc: p50 of hostcache",
	        have ? &s : NULL, false, 50, " ns", "not measured");
	have = b != NULL && ratio_of(b, HOSTCACHE, 2, b, HOSTCACHE, 1, F_OPS, &s);
	verdict("ycsb_b_2_vs_1", "ycsb_b zipf: ops/s 2 procs vs 1 proc",
	        have ? &s : NULL, true, 1.8, "x", "not measured");
	have = b != NULL && ratio_of(b, HOSTCACHE, 2, b, RWLOCK, 2, F_OPS, &s);
	verdict("ycsb_b_vs_rwlock", "ycsb_b zipf, 2 procs: ops/s vs rwlock",
	        have ? &s : NULL, true, 3, "x", "not measured");
	have = g != NULL && ratio_of(g, MEMCACHED, 1, g, HOSTCACHE, 1, F_P50, &s);
	verdict("get_p50_vs_memcached",
	        "get_hit 256 B L3, 1 client: p50 memcached / hc",
	        have ? &s : NULL, true, 100, "x",
	        memcached_socket ? "not measured" : "not measured (no --memcached)");
	have = g != NULL && ratio_of(g, REDIS, 1, g, HOSTCACHE, 1, F_P50, &s);
	verdict("get_p50_vs_redis",
	        "get_hit 256 B L3, 1 client: p50 redis / hc",
	        have ? &s : NULL, true, 100, "x",
	        redis_socket ? "not measured" : "not measured (no --redis)");
	double worst = 0;

	for (unsigned i = 0; i < noverheads; i++)
		if (overheads[i].header + overheads[i].slot > worst)
			worst = overheads[i].header + overheads[i].slot;
	s.med = s.min = s.max = worst;
	s.n = noverheads ? 1 : 0;
	verdict("item_overhead", "per-item overhead (header + index slot)",
	        &s, false, 32, " B", "not measured");
}

/* Data files for bench/plot.gp, a column per implementation (NaN where
 * not measured):
 *   scaling.dat     ops/s by process count: 7 blocks, the YCSB mixes with
 *                   Zipf, then uniform, then hot_key
 *   latency.dat     get_hit with 1 process: a row per data set, p50 then
 *                   p99 columns
 *   throughput.dat  ops/s of get_hit (block 0) and set (block 1), a row
 *                   per data set and process count
 *   have.gp         which columns of those hold any number, and the
 *                   process counts */
static FILE *plot_open(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail("cannot write %s: %s", path, strerror(errno));
	return f;
}

static void plot_close(FILE *f, const char *name)
{
	if (ferror(f) | fclose(f))
		fail("writing %s failed", name);
}

/* One column: the median, or NaN.  True for a number. */
static bool plot_value(FILE *f, const struct workload *w, int impl,
                       unsigned procs, enum field field)
{
	struct stat s;

	if (w != NULL && stat_of(w, impl, procs, field, &s)) {
		fprintf(f, " %.0f", s.med);
		return true;
	}
	fprintf(f, " NaN");
	return false;
}

/* NAME[INDEX] (or NAME if INDEX is 0) = "the implementations that HAVE a
 * number", numbered from 1 as the data columns after the first. */
static void plot_columns(FILE *f, const char *name, int index,
                         const bool *have)
{
	const char *sep = "";

	if (index)
		fprintf(f, "%s[%d] = \"", name, index);
	else
		fprintf(f, "%s = \"", name);
	for (int impl = 0; impl < NIMPLS; impl++)
		if (have[impl]) {
			fprintf(f, "%s%d", sep, impl + 1);
			sep = " ";
		}
	fprintf(f, "\"\n");
}

void write_plot_data(const char *dir)
{
	static const char *const mixes[] = { "ycsb_c", "ycsb_b", "ycsb_a" };
	/* Which implementations have a number in each plot: gnuplot fails on
	 * a plot, or a histogram column, without any. */
	bool scaling[7][NIMPLS] = { { false } }, latency[NIMPLS] = { false };
	bool throughput[2][NIMPLS] = { { false } };
	FILE *f = plot_open(dir, "scaling.dat");

	fprintf(f, "# ops/s by process count; columns: procs");
	for (int impl = 0; impl < NIMPLS; impl++)
		fprintf(f, " %s", impl_names[impl]);
	fprintf(f, "\n");
	for (int block = 0; block < 7; block++) {
		const struct workload *w = block == 6 ?
			find_workload("hot_key", HOT, 0, NULL) :
			find_workload(mixes[block % 3], block < 3 ? ZIPF : UNIFORM, 0,
			              NULL);

		fprintf(f, "%s# %s\n", block ? "\n\n" : "",
		        block == 6 ? "hot_key" : mixes[block % 3]);
		for (unsigned pi = 0; pi < nscale_procs; pi++) {
			fprintf(f, "%u", scale_procs[pi]);
			for (int impl = 0; impl < NIMPLS; impl++)
				scaling[block][impl] |= plot_value(f, w, impl,
				                                   scale_procs[pi], F_OPS);
			fprintf(f, "\n");
		}
	}
	plot_close(f, "scaling.dat");

	f = plot_open(dir, "latency.dat");
	fprintf(f, "# get_hit, 1 process: set, p50 ns by impl, p99 ns by impl\n");
	for (unsigned wi = 0; wi < nworkloads; wi++) {
		const struct workload *w = &workloads[wi];

		if (strcmp(w->bench, "get_hit") != 0)
			continue;
		fprintf(f, "%uB/%s", w->ds->value, w->ds->fits);
		for (int impl = 0; impl < NIMPLS; impl++)
			latency[impl] |= plot_value(f, w, impl, 1, F_P50);
		for (int impl = 0; impl < NIMPLS; impl++)
			plot_value(f, w, impl, 1, F_P99);
		fprintf(f, "\n");
	}
	plot_close(f, "latency.dat");

	f = plot_open(dir, "throughput.dat");
	for (int block = 0; block < 2; block++) {
		fprintf(f, "%s# %s: set, ops/s by impl\n", block ? "\n\n" : "",
		        block ? "set" : "get_hit");
		for (unsigned wi = 0; wi < nworkloads; wi++) {
			const struct workload *w = &workloads[wi];

			if (strcmp(w->bench, block ? "set" : "get_hit") != 0)
				continue;
			for (unsigned pi = 0; pi < 2; pi++) {
				fprintf(f, "%uB/%s/%up", w->ds->value, w->ds->fits,
				        micro_procs[pi]);
				for (int impl = 0; impl < NIMPLS; impl++)
					throughput[block][impl] |=
						plot_value(f, w, impl, micro_procs[pi], F_OPS);
				fprintf(f, "\n");
			}
		}
	}
	plot_close(f, "throughput.dat");

	f = plot_open(dir, "have.gp");
	fprintf(f, "procs_tics = \"set xtics (");
	for (unsigned pi = 0; pi < nscale_procs; pi++)
		fprintf(f, "%s%u", pi ? ", " : "", scale_procs[pi]);
	fprintf(f, ")\"\n");
	fprintf(f, "array cols_scaling[7]\n");
	for (int block = 0; block < 7; block++)
		plot_columns(f, "cols_scaling", block + 1, scaling[block]);
	plot_columns(f, "cols_latency", 0, latency);
	fprintf(f, "array cols_throughput[2]\n");
	for (int block = 0; block < 2; block++)
		plot_columns(f, "cols_throughput", block + 1, throughput[block]);
	plot_close(f, "have.gp");
}
