/*
 * hcbench.c - hostcache against what a host would use instead.
 *
 *   hcbench [--quick] [--json] [--table FILE] [--plot-data DIR]
 *           [--memcached SOCKET] [--redis SOCKET]
 *           [--reps N] [--seconds S] [--procs N,N..]
 *           [--bench NAME,..] [--impl NAME,..] [--fits l2,l3,dram]
 *           [--dram-items N] [--ycsb-items N] [--l2 BYTES] [--l3 BYTES]
 *
 * bench/run.sh starts memcached and redis-server on unix sockets, runs
 * this program against them and draws the plots; `make bench` and
 * `make bench-quick` run that script.
 *
 * Implementations, measured side by side in one run:
 *
 *   hostcache  the library: a segment per data set with item memory for
 *              three times its items, avg_item_size set to their item
 *              size, every process attached to it
 *   private    an open-addressing hash table (linear probing, load factor
 *              at most 1/2, slots of used(4) vlen(4) key(16) value) in each
 *              process's private memory, no lock: the upper bound of any
 *              cache.  Workloads with sets give each process a copy of its
 *              own; gets alone read pages inherited copy-on-write, one
 *              physical copy as for the shared implementations.  It runs
 *              with at most one process per CPU
 *   rwlock     the same table in shared memory behind one process-shared
 *              pthread rwlock (what a naive shared-memory cache does)
 *   mutex      likewise behind one process-shared pthread mutex
 *   memcached  memcached over a unix socket, through libmemcached (text
 *              protocol), one request at a time
 *   redis      redis-server over a unix socket, through hiredis, one
 *              request at a time
 *
 * An implementation whose socket is not given is skipped.  The servers
 * run on the L2 and L3 data sets, the YCSB set and the hot key, not on the
 * DRAM sets: those would hold gigabytes in each server for the whole run.
 *
 * Data sets (16-byte keys, every key distinct between sets):
 *
 *   l2, l3     32 B, 256 B and 4 KiB values, as many items as fill a
 *              quarter of the L2, an eighth of the L3, at key + value + 32
 *              bytes each.  The L3 is shared with the other cores, and the
 *              pages must stay within reach of the TLB: a set of a quarter
 *              of the L3 measures DRAM on some machines.
 *   dram       10,000,000 items of 32 B (--dram-items), and 512 MiB of
 *              values for 256 B and 4 KiB (not in --quick)
 *   ycsb       256 B values, 1,000,000 items (--quick: 100,000)
 *   hot        32 B values, 1,024 items, of which one is read
 *   fit50,     256 B values, as many items as fill 50% and 90% of the item
 *   fit90      memory of a 64 MiB segment (--quick: 16 MiB), counting the
 *              item bytes the library counts in bytes_set (header, key,
 *              value, padding: 296 bytes)
 *
 * Cache sizes: sysfs first, then sysconf (CPUID).  Neither is to be
 * trusted on a virtual machine, which reports whatever its hypervisor
 * says: the host's whole socket, or a made-up figure (508 MiB of L3 on
 * one), and an "l3" set sized from that is a DRAM set that mostly measures
 * page faults.  So a reported size is capped at what one core can use:
 *
 *   L2 <= 2 MiB   the private L2 of the largest server cores (Intel
 *                 Sapphire and Granite Rapids 2 MiB, AMD Zen 4 and 5
 *                 1 MiB, Neoverse V2 up to 2 MiB)
 *   L3 <= 32 MiB  what one core reaches at L3 latency: an AMD CCD holds
 *                 32 MiB (96 MiB with V-Cache, shared by its 8 cores); an
 *                 Intel mesh gives each core about 2 MiB of near slices
 *                 and spreads the rest over the die, which every other
 *                 core uses as well
 *
 * A cap that is too low only makes a set smaller, still in that cache; one
 * that is too high moves the set out of it: the caps are at the large end
 * of real cores, not beyond.  The header and a note say when a size was
 * capped; --l2 and --l3 are taken as given, never capped.
 *
 * Workloads:
 *
 *   get_hit    gets of present keys, uniform, on every l2/l3/dram set
 *   set        overwrites of present keys, uniform, on the same sets
 *   ycsb_c     100% get         } on the ycsb set, Zipf 0.99 and uniform
 *   ycsb_b     95% get, 5% set  } ("dist" in the output); ranks are
 *   ycsb_a     50% get, 50% set } scattered over the keys
 *   hot_key    every process reads one key
 *   fit_a      ycsb_a } on the fit sets, hostcache only, Zipf 0.99: does
 *   fit_b      ycsb_b } the cache keep data that fits under overwrites?
 *
 * get_hit and set run with 1 and 2 processes; the YCSB mixes and hot_key
 * with 1, 2, 4 and 8 (--procs): with more processes than CPUs, processes
 * lose the CPU in the middle of operations, and a lock held by one that
 * waits for the CPU stops all the others.  fit_a and fit_b run with 1, 2
 * and 8, whatever --procs says.
 *
 * A fit run makes a fresh segment, loads every key of its set (then closes
 * and reopens the loader's handle, so that no half-filled block of the
 * loader stays open through the run), and runs the mix until the sets have
 * appended at least 5 times the item memory (each process makes its share
 * of the sets): the log wraps 5 times, so whatever the segment does to
 * make room, cleaning or evicting, it does many times over.  Every get is
 * of a loaded key, so every miss is a key the cache lost.  Reported: ops/s
 * (all operations over the wall time of the slowest process), miss % of
 * the gets, loaded keys absent at the end, evictions, blocks cleaned, the
 * write amplification (bytes_cleaned / bytes_set of the run, as cachectl
 * stats defines it) and the wraps (bytes_set / item memory).  A fit run
 * lasts seconds, enough to be steady: it runs once, whatever --reps says.
 *
 * A measurement forks N processes; each attaches or connects on its own
 * and, on a common clock, warms up for a tenth of S, counts operations
 * for S seconds (throughput: wall clock, and the process's CPU time), then
 * times every operation for S/2 seconds into a log-linear histogram (32
 * buckets per octave) from which the percentiles come; the cost of a clock
 * read, calibrated at start, is subtracted.  Keys are chosen and formatted
 * before the clock starts, the same sequences for every implementation.
 * Every value read is checked against the key it was read for.
 *
 * Each data set is loaded once (its segment again whenever sets made it
 * evict keys that gets expect), then its workloads are repeated (--reps):
 * within a repetition the implementations of a workload run back to back,
 * in an order that rotates between repetitions, so that other work on the
 * machine weighs on all of them alike.  Ratios are taken within a
 * repetition, then their median over the repetitions is shown with its
 * range.  Numbers from a shared machine move from run to run: compare
 * ratios, not absolute nanoseconds across runs.  The p50 is the steadiest
 * figure: a process that loses its CPU stretches the wall-clock throughput
 * of its run but barely moves its median operation.
 *
 * Per-item memory of hostcache: segments of the default configuration are
 * filled with distinct keys until they evict; then the item bytes beyond
 * key and value (live bytes / live items - key - value: the header and
 * padding) plus the index slot give the overhead of an item, and segment
 * bytes / live items - key - value what the whole segment spends per item
 * (with the index at its load factor, the blocks kept free, open blocks).
 *
 * A verdict line is printed for each performance target of the library
 * (see print_verdicts).  The exit status is non-zero only on an error (a
 * bad option, a failed call, a wrong value read), never because of a
 * timing or a missed target.
 *
 * Output: a table (stdout, or --table FILE) or, with --json, one JSON
 * object a line on stdout, each with a "type": "run", "measurement" (one
 * per implementation, workload, process count and repetition), "fit" (one
 * per fit run), "overhead", "summary" (medians over the repetitions),
 * "verdict", "note", "end".
 * --plot-data DIR writes the data files of bench/plot.gp.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

const unsigned value_sizes[NVALUES] = { 32, 256, 4096 };

/* ---- failing ----------------------------------------------------------- */

pid_t main_pid;
bool json_only;
struct kit_team team;   /* of the measurement under way */

static void on_signal(int sig)
{
	(void)sig;
	if (getpid() == main_pid)
		for (unsigned i = 0; i < team.procs; i++)
			if (team.pid[i] > 0)
				kill(team.pid[i], SIGKILL);
	stores_remove();
	_exit(130);
}

void vsay(const char *fmt, va_list ap)
{
	fputs("hcbench: ", stderr);
	vfprintf(stderr, fmt, ap);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() != main_pid)
		_exit(1);
	exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fail("out of memory");
	return p;
}

/* Stdout going away (`hcbench --json | head`) ends the run quietly; any
 * other failure to write results is an error. */
void out_check(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return;
	if (errno == EPIPE)
		exit(0);
	fail("writing the results: %s", strerror(errno));
}

/* ---- main ---------------------------------------------------------------- */

static const char *const bench_names[] = {
	"get_hit", "set", "ycsb_c", "ycsb_b", "ycsb_a", "hot_key", "fit_a",
	"fit_b"
};
#define NBENCH_NAMES (sizeof bench_names / sizeof *bench_names)
const char *const fits_names[3] = { "l2", "l3", "dram" };

int main(int argc, char **argv)
{
	const char *plot_dir = NULL, *table_path = NULL;
	const char *bench_list = NULL, *impl_list = NULL, *fits_list = NULL;
	uint32_t dram_items = DRAM_ITEMS, ycsb_items = 0;
	uint64_t l2_option = 0, l3_option = 0;
	bool seconds_set = false, reps_set = false;

	main_pid = getpid();
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			return 0;
		}
		if (strcmp(opt, "--json") == 0) {
			json_only = true;
			continue;
		}
		if (strcmp(opt, "--quick") == 0) {
			quick = true;
			continue;
		}
		static const char *const with_value[] = {
			"--memcached", "--redis", "--reps", "--seconds", "--table",
			"--plot-data", "--bench", "--impl", "--fits", "--dram-items",
			"--ycsb-items", "--l2", "--l3", "--procs"
		};
		bool known = false;

		for (unsigned k = 0; k < sizeof with_value / sizeof *with_value; k++)
			known = known || strcmp(opt, with_value[k]) == 0;
		if (!known)
			usage_error("unknown option '%s'", opt);
		if (arg == NULL)
			usage_error("%s needs a value", opt);
		i++;
		if (strcmp(opt, "--memcached") == 0) {
			memcached_socket = arg;
		} else if (strcmp(opt, "--redis") == 0) {
			redis_socket = arg;
		} else if (strcmp(opt, "--reps") == 0) {
			reps = (unsigned)parse_count(opt, arg, 1, MAX_REPS, false);
			reps_set = true;
		} else if (strcmp(opt, "--seconds") == 0) {
			char *end;

			seconds = strtod(arg, &end);
			if (end == arg || *end != '\0' || !(seconds >= 0.01) ||
			    seconds > 60)
				usage_error("--seconds wants 0.01 to 60, not '%s'", arg);
			seconds_set = true;
		} else if (strcmp(opt, "--table") == 0) {
			table_path = arg;
		} else if (strcmp(opt, "--plot-data") == 0) {
			plot_dir = arg;
		} else if (strcmp(opt, "--bench") == 0) {
			check_list(opt, arg, bench_names, NBENCH_NAMES);
			bench_list = arg;
		} else if (strcmp(opt, "--impl") == 0) {
			check_list(opt, arg, impl_names, NIMPLS);
			impl_list = arg;
		} else if (strcmp(opt, "--fits") == 0) {
			check_list(opt, arg, fits_names, 3);
			fits_list = arg;
		} else if (strcmp(opt, "--dram-items") == 0) {
			dram_items = (uint32_t)parse_count(opt, arg, 1000, 200000000,
			                                   false);
		} else if (strcmp(opt, "--ycsb-items") == 0) {
			ycsb_items = (uint32_t)parse_count(opt, arg, 100, 100000000,
			                                   false);
		} else if (strcmp(opt, "--l2") == 0) {
			l2_option = parse_count(opt, arg, 4096, 1ULL << 40, true);
		} else if (strcmp(opt, "--l3") == 0) {
			l3_option = parse_count(opt, arg, 4096, 1ULL << 40, true);
		} else if (strcmp(opt, "--procs") == 0) {
			char *end;

			nscale_procs = 0;
			for (const char *p = arg; *p != '\0'; p = end + (*end == ',')) {
				unsigned long n = strtoul(p, &end, 10);

				if (end == p || (*end != ',' && *end != '\0') || n < 1 ||
				    n > MAX_PROCS || nscale_procs == MAX_LIST)
					usage_error("--procs wants up to %d counts from 1 to %d, "
					            "not '%s'", MAX_LIST, MAX_PROCS, arg);
				scale_procs[nscale_procs++] = (unsigned)n;
			}
			if (nscale_procs == 0)
				usage_error("--procs wants at least one count");
		}
	}
	if (quick) {
		if (!reps_set)
			reps = 1;
		if (!seconds_set)
			seconds = 0.06;
		seq_len = 1u << 17;
		fit_seq_len = 1u << 21;
		fit_segment = FIT_SEGMENT_QUICK;
	}
	if (ycsb_items == 0)
		ycsb_items = quick ? YCSB_ITEMS_QUICK : YCSB_ITEMS;
	cache_level_choose(&l2_cache, 2, l2_option, L2_CAP, 512u << 10);
	cache_level_choose(&l3_cache, 3, l3_option, L3_CAP, 8u << 20);
	l2_bytes = l2_cache.used;
	l3_bytes = l3_cache.used;
	for (unsigned i = 0; i < nscale_procs; i++)
		if (scale_procs[i] > max_procs_used)
			max_procs_used = scale_procs[i];

	bool enabled[NIMPLS];

	for (int impl = 0; impl < NIMPLS; impl++)
		enabled[impl] = in_list(impl_list, impl_names[impl]);
	if (enabled[MEMCACHED] && memcached_socket == NULL)
		enabled[MEMCACHED] = false;
	if (enabled[REDIS] && redis_socket == NULL)
		enabled[REDIS] = false;
	if (impl_list != NULL && in_list(impl_list, "memcached") &&
	    memcached_socket == NULL)
		usage_error("--impl memcached needs --memcached SOCKET");
	if (impl_list != NULL && in_list(impl_list, "redis") &&
	    redis_socket == NULL)
		usage_error("--impl redis needs --redis SOCKET");
	if (table_path != NULL && (table_out = fopen(table_path, "w")) == NULL)
		fail("cannot write %s: %s", table_path, strerror(errno));
	if (table_out == NULL && !json_only)
		table_out = stdout;
	plan(bench_list, fits_list, dram_items, ycsb_items);

	atexit(stores_remove);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	timer_cost = kit_clock_cost_ns();
	server_versions();

	uint64_t started = kit_now_ns();
	char dram_str[32], ycsb_str[32], l2_str[96], l3_str[96];
	double load_start = load_average();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	online_cpus = cpus > 0 ? cpus : 1;

	tprintf("hostcache %s benchmark: %ld CPUs; %s run: %u repetition%s of "
	        "%.2f s\n(+%.2f s timed per operation) per measurement, "
	        "implementations interleaved; clock read %llu ns\n(subtracted "
	        "from each latency); 16-byte keys\n", hc_version(), cpus,
	        quick ? "quick" : "full", reps, reps == 1 ? "" : "s", seconds,
	        seconds / 2, (unsigned long long)timer_cost);
	tprintf("caches: L2 %s, L3 %s\n",
	        cache_level_str(&l2_cache, l2_str, sizeof l2_str),
	        cache_level_str(&l3_cache, l3_str, sizeof l3_str));
	tprintf("memcached: %s%s; redis: %s%s (unix sockets, one request at a "
	        "time)\n", memcached_socket ? memcached_version_str : "skipped",
	        memcached_socket ? "" : " (no --memcached)",
	        redis_socket ? redis_version_str : "skipped",
	        redis_socket ? "" : " (no --redis)");
	tprintf("data sets: l2, l3  a quarter of the L2, an eighth of the L3, at "
	        "key + value + 32 B\n                   per item\n"
	        "           dram    %s%s items of 32 B, 512 MiB of larger "
	        "values\n           ycsb    %s items of 256 B\n"
	        "           hot     1,024 items of 32 B, one of them read\n"
	        "           fit50, fit90  256 B items filling 50%% and 90%% of "
	        "the item memory\n                   of a %u MiB segment\n",
	        quick ? "none in a quick run, else " : "",
	        count_str(dram_items, dram_str, sizeof dram_str),
	        count_str(ycsb_items, ycsb_str, sizeof ycsb_str),
	        (quick ? FIT_SEGMENT_QUICK : FIT_SEGMENT) >> 20);
	if (json_only) {
		struct kit_json j;

		kit_json_begin(&j, stdout);
		kit_json_str(&j, "type", "run");
		kit_json_str(&j, "hostcache", hc_version());
		kit_json_int(&j, "cpus", cpus);
		cache_level_json(&j, &l2_cache);
		cache_level_json(&j, &l3_cache);
		kit_json_bool(&j, "quick", quick);
		kit_json_uint(&j, "reps", reps);
		kit_json_num(&j, "seconds", 3, seconds);
		kit_json_num(&j, "latency_seconds", 3, seconds / 2);
		kit_json_uint(&j, "timer_ns", timer_cost);
		if (memcached_socket)
			kit_json_str(&j, "memcached", memcached_version_str);
		else
			kit_json_null(&j, "memcached");
		if (redis_socket)
			kit_json_str(&j, "redis", redis_version_str);
		else
			kit_json_null(&j, "redis");
		kit_json_num(&j, "load_start", 2, load_start);
		kit_json_end(&j);
		out_check();
	}
	if (cpus > 0 && cpus < 2)
		note("one CPU: 2 processes share it, so no process count shows "
		     "parallel speed-up");
	cache_level_note(&l2_cache);
	cache_level_note(&l3_cache);
	for (unsigned i = 0; i < ndatasets; i++)
		if ((enabled[MEMCACHED] || enabled[REDIS]) && !datasets[i].servers &&
		    datasets[i].fill_pct == 0)
			note("memcached and redis are not run on the DRAM sets of "
			     "get_hit and set: each server would hold them for the whole "
			     "run, gigabytes of memory on top of the local stores");
	for (unsigned i = 0; i < ndatasets; i++) {
		struct dataset *d = &datasets[i];
		uint64_t need = dataset_memory(d, 2);

		if (!affordable(need)) {
			d->skip = true;
			note("the %u B %s set (%u items) is skipped: it needs %.1f GiB "
			     "of memory, %.1f GiB are available", d->value, d->fits,
			     d->items, (double)need / (1 << 30),
			     (double)mem_available() / (1 << 30));
		}
	}

	/* Per-item memory: segments filled until they evict. */
	if (enabled[HOSTCACHE])
		for (unsigned v = 0; v < NVALUES; v++)
			measure_overhead(value_sizes[v], quick ? 16u << 20 : 64u << 20,
			                 &overheads[noverheads++]);

	for (unsigned di = 0; di < ndatasets; di++)
		run_dataset(&datasets[di], enabled, started);

	double load_end = load_average();

	if (cpus > 0 && (load_start > cpus || load_end > cpus))
		note("the load average (%.1f at start, %.1f at end) was above the "
		     "%ld CPUs: other work took CPU time from the measurements, "
		     "so a second process could not always run in parallel",
		     load_start, load_end, cpus);

	tprintf("load average %.2f at start, %.2f at end; %.0f s\n", load_start,
	        load_end, (double)(kit_now_ns() - started) / 1e9);
	print_summaries(enabled);
	print_fits();
	print_scaling(enabled);
	print_overheads();
	print_verdicts();
	if (nnotes > 0)
		tprintf("\nNotes:\n");
	for (unsigned i = 0; i < nnotes; i++) {
		tprintf("- %s\n", notes[i]);
		if (json_only) {
			struct kit_json j;

			kit_json_begin(&j, stdout);
			kit_json_str(&j, "type", "note");
			kit_json_str(&j, "text", notes[i]);
			kit_json_end(&j);
			out_check();
		}
	}
	if (json_only) {
		struct kit_json j;

		kit_json_begin(&j, stdout);
		kit_json_str(&j, "type", "end");
		kit_json_num(&j, "load_end", 2, load_end);
		kit_json_num(&j, "seconds", 1,
		             (double)(kit_now_ns() - started) / 1e9);
		kit_json_end(&j);
		out_check();
	}
	if (plot_dir != NULL)
		write_plot_data(plot_dir);
	if (table_out != NULL && table_out != stdout &&
	    (ferror(table_out) | fclose(table_out)))
		fail("writing %s failed", table_path);
	out_check();
	return 0;
}
