/*
 * cachectl_stats.c - stats (a table, JSON or Prometheus) and ps.
 *
 * The counters are cumulative per process slot and summed by the library,
 * so they never go backwards: a Prometheus scrape can treat them as
 * counters, and rates come from two samples (top).  A process's own
 * numbers (ps, --per-process) count from when it attached.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachectl.h"
#include "stat_fields.h"

/* Bytes cleaning wrote per byte the writes appended: what keeping every
 * live item through overwrites costs.  0 before anything was set. */
static double write_amplification(const hc_stats *s)
{
	return s->bytes_set == 0 ? 0.0
	                         : (double)s->bytes_cleaned / (double)s->bytes_set;
}

static double hit_ratio(uint64_t hits, uint64_t gets)
{
	return gets == 0 ? 0.0 : (double)hits / (double)gets;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */

/* Adds row ROW of a table, or nothing for a row left out; false when out
 * of memory. */
typedef bool (*add_row_fn)(struct table *t, size_t row, const void *rows);

/* Print a table of COUNT rows, each added by ADD_ROW from ROWS, under
 * TITLE (when not NULL) once it is complete: every table of stats and ps.
 * False, with nothing printed, when out of memory. */
static bool print_table_rows(int columns, const char *const *headers,
                             const bool *right, const char *title,
                             size_t count, add_row_fn add_row,
                             const void *rows)
{
	struct table *t = table_new(columns, headers, right);
	bool ok = t != NULL;

	for (size_t r = 0; ok && r < count; r++)
		ok = add_row(t, r, rows);
	if (ok) {
		if (title != NULL)
			fputs(title, stdout);
		table_print(t, stdout);
	}
	table_free(t);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */

/* Every slot that was ever attached.  *OUT is malloc'd. */
int fetch_procs(hc_cache *c, hc_proc_info **out, unsigned *n)
{
	hc_info info;
	hc_proc_info *procs;
	int err = hc_info_get(c, &info);

	if (err != 0)
		return err;
	if ((procs = calloc(info.max_procs, sizeof(*procs))) == NULL)
		return HC_ESYS;
	if ((err = hc_procs(c, procs, info.max_procs, n)) != 0) {
		free(procs);
		return err;
	}
	if (*n > info.max_procs)
		*n = info.max_procs;
	*out = procs;
	return 0;
}

/* "alive"; "dead" for a slot attached by a process that is gone and not
 * yet reaped; "free" for a slot attached before. */
const char *proc_state_name(const hc_proc_info *p)
{
	if (!p->attached)
		return "free";
	return p->alive ? "alive" : "dead";
}

static void format_ratio_cell(uint64_t hits, uint64_t gets, char *buf,
                              size_t cap)
{
	if (gets == 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.1f%%", 100.0 * hit_ratio(hits, gets));
}

/* The command column: this cachectl marks itself. */
static void format_command(const hc_proc_info *p, char *buf, size_t cap)
{
	char *name = escape_alloc(p->comm, strlen(p->comm));

	snprintf(buf, cap, "%s%s", name != NULL ? name : "?",
	         p->alive && p->pid == (uint32_t)getpid() ? " (this)" : "");
	free(name);
}

/* The rows of a process table. */
struct proc_rows {
	const hc_proc_info *procs;
	bool all;          /* also the slots that are free now */
	uint64_t now;      /* realtime_ns(), for the uptimes */
};

static bool proc_row(struct table *t, size_t row, const void *rows)
{
	const struct proc_rows *r = rows;
	const hc_proc_info *p = &r->procs[row];
	uint64_t now = r->now;
	char slot[16], pid[16], command[96], uptime[32], gets[24], ratio[16];
	char sets[24], deletes[24], evictions[24];
	const char *cells[] = {slot, pid, command, proc_state_name(p), uptime,
	                       gets, ratio, sets, deletes, evictions};

	if (!r->all && !p->attached)
		return true;
	snprintf(slot, sizeof(slot), "%" PRIu32, p->slot);
	snprintf(pid, sizeof(pid), "%" PRIu32, p->pid);
	format_command(p, command, sizeof(command));
	if (p->attached)
		format_duration_ms(now > p->attached_ns ?
		                   (now - p->attached_ns) / 1000000 : 0,
		                   uptime, sizeof(uptime));
	else
		snprintf(uptime, sizeof(uptime), "-");
	snprintf(gets, sizeof(gets), "%" PRIu64, p->own.gets);
	format_ratio_cell(p->own.hits, p->own.gets, ratio, sizeof(ratio));
	snprintf(sets, sizeof(sets), "%" PRIu64, p->own.sets);
	snprintf(deletes, sizeof(deletes), "%" PRIu64, p->own.deletes);
	snprintf(evictions, sizeof(evictions), "%" PRIu64, p->own.evictions);
	return table_add(t, cells);
}

static bool print_procs_table(const hc_proc_info *procs, unsigned n,
                              bool all, const char *title)
{
	static const char *const headers[] = {
		"SLOT", "PID", "COMMAND", "STATE", "UPTIME", "GETS", "HIT%",
		"SETS", "DELETES", "EVICTIONS"};
	static const bool right[] = {true, true, false, false, true,
	                             true, true, true, true, true};
	struct proc_rows rows = {procs, all, realtime_ns()};

	return print_table_rows(10, headers, right, title, n, proc_row, &rows);
}

static void print_proc_json(const hc_proc_info *p)
{
	const hc_stats *o = &p->own;

	printf("{\"slot\":%" PRIu32 ",\"pid\":%" PRIu32 ",\"command\":",
	       p->slot, p->pid);
	json_bytes(stdout, p->comm, strlen(p->comm));
	printf(",\"state\":\"%s\",\"attached_ns\":%" PRIu64
	       ",\"attaches\":%" PRIu64 ",\"gets\":%" PRIu64 ",\"hits\":%" PRIu64
	       ",\"misses\":%" PRIu64 ",\"sets\":%" PRIu64 ",\"deletes\":%" PRIu64
	       ",\"evictions\":%" PRIu64 ",\"second_chances\":%" PRIu64
	       ",\"expirations\":%" PRIu64 ",\"blocks_evicted\":%" PRIu64 "}",
	       proc_state_name(p), p->attached_ns, p->attaches, o->gets,
	       o->hits, o->misses, o->sets, o->deletes, o->evictions,
	       o->second_chances, o->expirations, o->blocks_evicted);
}

static void print_procs_json_array(const hc_proc_info *procs, unsigned n,
                                   bool all)
{
	bool first = true;

	putchar('[');
	for (unsigned i = 0; i < n; i++) {
		if (!all && !procs[i].attached)
			continue;
		if (!first)
			putchar(',');
		print_proc_json(&procs[i]);
		first = false;
	}
	putchar(']');
}

static int show_procs(const struct args *a, hc_cache *c)
{
	hc_proc_info *procs;
	unsigned n;
	bool all = option_given(a, "all");
	int err = fetch_procs(c, &procs, &n);
	int status = STATUS_OK;

	if (err != 0)
		return fail_hc(a, err);
	if (option_given(a, "json")) {
		fputs("{\"processes\":", stdout);
		print_procs_json_array(procs, n, all);
		fputs("}\n", stdout);
	} else if (!print_procs_table(procs, n, all, NULL)) {
		status = fail_msg(a, "no memory for the table");
	}
	free(procs);
	return status;
}

int cmd_ps(const struct args *a)
{
	return with_segment_observing(a, show_procs);
}

/* ------------------------------------------------------------------ */
/* stats: table and JSON                                               */

static void print_stats_table(const hc_stats *s, const hc_latency *l)
{
	struct stat_field f[STAT_FIELDS_MAX];
	int count = collect_stat_fields(s, l, f);

	for (int i = 0; i < count; i++) {
		char label[LABEL_WIDTH + 1];

		snprintf(label, sizeof(label), "%s", f[i].key);
		for (char *p = label; *p != '\0'; p++)
			if (*p == '_')
				*p = ' ';
		if (f[i].kind == STAT_BYTES)
			print_bytes_field(label, f[i].value);
		else
			print_field(label, "%" PRIu64, f[i].value);
	}
	print_field("hit ratio", "%.4f", hit_ratio(s->hits, s->gets));
	print_field("write amplification", "%.3f",
	            write_amplification(s));
}

static const char *const block_state_names[] = {"free", "open", "sealed",
                                                "evicting"};

static void block_counts(const hc_stats *s, uint64_t *count)
{
	count[0] = s->blocks_free;
	count[1] = s->blocks_open;
	count[2] = s->blocks_sealed;
	count[3] = s->blocks_evicting;
}

/* The rows of the blocks table: one a block state. */
struct block_rows {
	uint64_t count[4];     /* blocks in each state (block_counts) */
	uint64_t total;        /* blocks */
	uint32_t block_size;
};

static bool block_row(struct table *t, size_t row, const void *rows)
{
	const struct block_rows *r = rows;
	uint64_t count = r->count[row];
	char blocks[24], share[16], bytes[24];
	const char *cells[] = {block_state_names[row], blocks, share, bytes};

	snprintf(blocks, sizeof(blocks), "%" PRIu64, count);
	snprintf(share, sizeof(share), "%.1f%%",
	         r->total == 0 ? 0.0 : 100.0 * (double)count / (double)r->total);
	format_bytes_short(count * r->block_size, bytes, sizeof(bytes));
	return table_add(t, cells);
}

static bool print_blocks_table(const hc_stats *s, const hc_info *info)
{
	static const char *const headers[] = {"STATE", "BLOCKS", "SHARE",
	                                      "BYTES"};
	static const bool right[] = {false, true, true, true};
	struct block_rows rows = {.total = s->blocks_total,
	                          .block_size = info->block_size};
	char size[24], title[48];

	block_counts(s, rows.count);
	format_bytes_short(info->block_size, size, sizeof(size));
	snprintf(title, sizeof(title), "\nblocks of %s:\n", size);
	return print_table_rows(4, headers, right, title, 4, block_row, &rows);
}

static void print_stats_json(const hc_stats *s, const hc_latency *l,
                             const hc_info *info, const hc_proc_info *procs,
                             unsigned nprocs, const struct args *a)
{
	struct stat_field f[STAT_FIELDS_MAX];
	int count = collect_stat_fields(s, l, f);

	putchar('{');
	for (int i = 0; i < count; i++)
		printf("\"%s\":%" PRIu64 ",", f[i].key, f[i].value);
	printf("\"hit_ratio\":%.6f", hit_ratio(s->hits, s->gets));
	printf(",\"write_amplification\":%.6f", write_amplification(s));
	if (option_given(a, "blocks"))
		printf(",\"block_size\":%" PRIu32, info->block_size);
	if (procs != NULL) {
		fputs(",\"processes\":", stdout);
		print_procs_json_array(procs, nprocs, false);
	}
	fputs("}\n", stdout);
}

/* ------------------------------------------------------------------ */
/* stats: Prometheus                                                   */

/*
 * The node_exporter textfile format: for each metric a "# HELP" and a
 * "# TYPE" line, then its samples, every one labelled with the segment so
 * that several segments can share one file.  Counters end in _total.
 * Write to a temporary file and rename it into the collector's directory,
 * so that node_exporter never reads half a file.
 */

/* A label value: backslash, double quote and newline escaped. */
static void print_label_value(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_metric_header(const char *name, const char *type,
                                const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void print_sample_start(const char *name, const char *segment)
{
	printf("%s{segment=", name);
	print_label_value(segment);
}

static void print_prometheus_fields(const hc_stats *s, const hc_latency *l,
                                    const char *segment)
{
	struct stat_field f[STAT_FIELDS_MAX];
	int count = collect_stat_fields(s, l, f);

	for (int i = 0; i < count; i++) {
		if (f[i].metric == NULL)
			continue; /* blocks are one metric below; used is a sum */
		print_metric_header(f[i].metric, f[i].kind == STAT_COUNTER ?
		                    "counter" : "gauge", f[i].help);
		print_sample_start(f[i].metric, segment);
		printf("} %" PRIu64 "\n", f[i].value);
	}
}

static void print_prometheus_blocks(const hc_stats *s, const hc_info *info,
                                    const char *segment)
{
	uint64_t count[4];

	block_counts(s, count);
	print_metric_header("hostcache_blocks", "gauge",
	                    "Blocks of item memory by state.");
	for (int i = 0; i < 4; i++) {
		print_sample_start("hostcache_blocks", segment);
		printf(",state=\"%s\"} %" PRIu64 "\n", block_state_names[i],
		       count[i]);
	}
	print_metric_header("hostcache_block_size_bytes", "gauge",
	                    "Bytes per block of item memory.");
	print_sample_start("hostcache_block_size_bytes", segment);
	printf("} %" PRIu32 "\n", info->block_size);
	print_metric_header("hostcache_size_bytes", "gauge",
	                    "Bytes of the shared-memory segment.");
	print_sample_start("hostcache_size_bytes", segment);
	printf("} %" PRIu64 "\n", info->size);
	print_metric_header("hostcache_created_seconds", "gauge",
	                    "When the segment was created, in seconds since "
	                    "the Unix epoch.");
	print_sample_start("hostcache_created_seconds", segment);
	printf("} %" PRIu64 ".%03" PRIu64 "\n", info->created_ns / 1000000000u,
	       info->created_ns / 1000000u % 1000);
}

struct proc_metric {
	const char *name;
	const char *help;
	size_t offset; /* of the counter in hc_stats */
};

static void print_prometheus_procs(const hc_proc_info *procs, unsigned n,
                                   const char *segment)
{
	static const struct proc_metric metrics[] = {
		{"hostcache_process_gets_total", "Lookups by one attached "
		 "process since it attached.", offsetof(hc_stats, gets)},
		{"hostcache_process_hits_total", "Hits of one attached "
		 "process since it attached.", offsetof(hc_stats, hits)},
		{"hostcache_process_sets_total", "Items stored by one attached "
		 "process since it attached.", offsetof(hc_stats, sets)},
		{"hostcache_process_deletes_total", "Deletes of one attached "
		 "process since it attached.", offsetof(hc_stats, deletes)},
		{"hostcache_process_evictions_total", "Items evicted by one "
		 "attached process since it attached.",
		 offsetof(hc_stats, evictions)},
	};

	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		print_metric_header(metrics[m].name, "counter", metrics[m].help);
		for (unsigned i = 0; i < n; i++) {
			const hc_proc_info *p = &procs[i];
			uint64_t v;

			if (!p->attached || !p->alive)
				continue;
			memcpy(&v, (const char *)&p->own + metrics[m].offset,
			       sizeof(v));
			print_sample_start(metrics[m].name, segment);
			char *command = escape_alloc(p->comm, strlen(p->comm));

			printf(",slot=\"%" PRIu32 "\",pid=\"%" PRIu32
			       "\",command=", p->slot, p->pid);
			print_label_value(command != NULL ? command : "?");
			free(command);
			printf("} %" PRIu64 "\n", v);
		}
	}
}

static void print_stats_prometheus(const hc_stats *s, const hc_latency *l,
                                   const hc_info *info,
                                   const hc_proc_info *procs,
                                   unsigned nprocs)
{
	char *segment = escape_alloc(info->name, strlen(info->name));
	const char *label = segment != NULL ? segment : info->name;

	print_prometheus_fields(s, l, label);
	print_prometheus_blocks(s, info, label);
	if (procs != NULL)
		print_prometheus_procs(procs, nprocs, label);
	free(segment);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

static int show_stats(const struct args *a, hc_cache *c)
{
	bool per_process = option_given(a, "per-process");
	hc_proc_info *procs = NULL;
	unsigned nprocs = 0;
	hc_stats stats;
	hc_latency lat;
	hc_info info;
	int err, status = STATUS_OK;

	if ((err = hc_stats_get(c, &stats)) != 0 ||
	    (err = hc_latency_get(c, &lat)) != 0 ||
	    (err = hc_info_get(c, &info)) != 0 ||
	    (per_process && (err = fetch_procs(c, &procs, &nprocs)) != 0))
		return fail_hc(a, err);
	if (option_given(a, "json")) {
		print_stats_json(&stats, &lat, &info, procs, nprocs, a);
	} else if (option_given(a, "prometheus")) {
		print_stats_prometheus(&stats, &lat, &info, procs, nprocs);
	} else {
		print_stats_table(&stats, &lat);
		if ((option_given(a, "blocks") &&
		     !print_blocks_table(&stats, &info)) ||
		    (per_process &&
		     !print_procs_table(procs, nprocs, false, "\nprocesses:\n")))
			status = fail_msg(a, "no memory for the table");
	}
	free(procs);
	return status;
}

int cmd_stats(const struct args *a)
{
	if (option_given(a, "json") && option_given(a, "prometheus"))
		return usage_error(a->cmd, "choose one of --json and "
		                   "--prometheus");
	return with_segment(a, show_stats);
}
