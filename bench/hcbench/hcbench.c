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
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libmemcached/memcached.h>
#include <xxhash.h>

#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"

static const unsigned value_sizes[] = { 32, 256, 4096 };
#define NVALUES (sizeof value_sizes / sizeof *value_sizes)

/* ---- failing ----------------------------------------------------------- */

static pid_t main_pid;
static bool json_only;
static struct kit_team team;   /* of the measurement under way */

static void stores_remove(void);

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

void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("hcbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
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
static void out_check(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return;
	if (errno == EPIPE)
		exit(0);
	fail("writing the results: %s", strerror(errno));
}

/* ---- the machine --------------------------------------------------------- */

static bool read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (f == NULL)
		return false;
	ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* Bytes of CPU 0's data or unified cache of LEVEL, or 0 if unknown: sysfs
 * first (sysconf is wrong on some virtual machines).  *SOURCE gets where
 * the number came from. */
static uint64_t cache_size(int level, const char **source)
{
	*source = "sysfs";
	for (int i = 0; i < 16; i++) {
		char path[96], buf[64];
		char *end;

		snprintf(path, sizeof path,
		         "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
		if (!read_line(path, buf, sizeof buf))
			break;
		if (atoi(buf) != level)
			continue;
		snprintf(path, sizeof path,
		         "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
		if (read_line(path, buf, sizeof buf) &&
		    strcmp(buf, "Instruction") == 0)
			continue;
		snprintf(path, sizeof path,
		         "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		if (!read_line(path, buf, sizeof buf))
			break;
		uint64_t n = strtoull(buf, &end, 10);

		if (*end == 'K')
			n <<= 10;
		else if (*end == 'M')
			n <<= 20;
		if (n > 0)
			return n;
	}
	long n = sysconf(level == 2 ? _SC_LEVEL2_CACHE_SIZE :
	                              _SC_LEVEL3_CACHE_SIZE);
	*source = "sysconf";
	return n > 0 ? (uint64_t)n : 0;
}

/* A cache size as the data sets use it, and what it was made from. */
struct cache_level {
	int level;
	uint64_t reported;       /* by sysfs or sysconf; 0 if neither knew */
	uint64_t used;           /* what the l2 or l3 sets are sized from */
	const char *source;      /* "sysfs", "sysconf", "--l2"/"--l3", "default" */
	bool capped;             /* REPORTED was above the cap */
};

/* Fill L for LEVEL: OVERRIDE (from --l2/--l3) if not 0, as given; else
 * what the machine reports, at most CAP; else FALLBACK. */
static void cache_level_choose(struct cache_level *l, int level,
                               uint64_t override, uint64_t cap,
                               uint64_t fallback)
{
	memset(l, 0, sizeof *l);
	l->level = level;
	if (override != 0) {
		l->used = override;
		l->source = level == 2 ? "--l2" : "--l3";
		return;
	}
	l->reported = cache_size(level, &l->source);
	if (l->reported == 0) {
		l->used = fallback;
		l->source = "default";
	} else if (l->reported > cap) {
		l->used = cap;
		l->capped = true;
	} else {
		l->used = l->reported;
	}
}

/* "1024 KiB (sysfs)", "32768 KiB (sysconf reported 520192 KiB, capped)". */
static const char *cache_level_str(const struct cache_level *l, char *buf,
                                   size_t cap)
{
	if (l->capped)
		snprintf(buf, cap, "%llu KiB (%s reported %llu KiB, capped)",
		         (unsigned long long)(l->used >> 10), l->source,
		         (unsigned long long)(l->reported >> 10));
	else
		snprintf(buf, cap, "%llu KiB (%s)",
		         (unsigned long long)(l->used >> 10), l->source);
	return buf;
}

/* Its fields of the "run" object: "l3_bytes", "l3_reported_bytes" (null
 * when nothing was reported or an option gave the size), "l3_source",
 * "l3_capped". */
static void cache_level_json(const struct cache_level *l)
{
	printf(",\"l%d_bytes\":%llu,\"l%d_reported_bytes\":", l->level,
	       (unsigned long long)l->used, l->level);
	if (l->reported)
		printf("%llu", (unsigned long long)l->reported);
	else
		printf("null");
	printf(",\"l%d_source\":\"%s\",\"l%d_capped\":%s", l->level, l->source,
	       l->level, l->capped ? "true" : "false");
}

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long kb;
	uint64_t bytes = UINT64_MAX;

	if (f == NULL)
		return bytes;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			bytes = (uint64_t)kb << 10;
			break;
		}
	fclose(f);
	return bytes;
}

/* Whether BYTES more can be had and leave half a GiB to the system. */
static bool affordable(uint64_t bytes)
{
	uint64_t avail = mem_available();

	return avail > (512ULL << 20) && bytes < avail - (512ULL << 20);
}

static double load_average(void)
{
	char buf[128];

	return read_line("/proc/loadavg", buf, sizeof buf) ? atof(buf) : -1;
}

/* ---- notes: what the reader of the numbers must know --------------------- */

static char *notes[MAX_NOTES];
static unsigned nnotes;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (unsigned i = 0; i < nnotes; i++)
		if (strcmp(notes[i], buf) == 0)
			return;
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = strdup(buf);
	fprintf(stderr, "hcbench: note: %s\n", buf);
}

/* A cache size that was not believed: the l2 or l3 sets are smaller than
 * a reader of the header would think. */
static void cache_level_note(const struct cache_level *l)
{
	if (l->capped)
		note("%s reports an L%d of %llu KiB, more than one core can use "
		     "(a virtual machine's figure?): the l%d sets are sized for "
		     "%llu KiB; --l%d BYTES gives the size as it is",
		     l->source, l->level, (unsigned long long)(l->reported >> 10),
		     l->level, (unsigned long long)(l->used >> 10), l->level);
}

/* ---- implementations, data sets, workloads --------------------------------- */

const char *const impl_names[NIMPLS] = {
	"hostcache", "private", "rwlock", "mutex", "memcached", "redis"
};

const char *const dist_names[] = { "uniform", "zipf", "one_key" };

static struct dataset datasets[MAX_DATASETS];
static unsigned ndatasets;
static struct workload workloads[MAX_WORKLOADS];
static unsigned nworkloads;

static const unsigned micro_procs[] = { 1, 2 };
static unsigned scale_procs[MAX_LIST] = { 1, 2, 4, 8 };
static unsigned nscale_procs = 4;

static uint64_t l2_bytes, l3_bytes;     /* the .used of these: */
static struct cache_level l2_cache, l3_cache;
static uint64_t fit_segment = FIT_SEGMENT;      /* --quick: smaller */
static long online_cpus = 1;
static unsigned max_procs_used = 2;

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

static unsigned workload_procs(const struct workload *w, const unsigned **list)
{
	if (w->scaling) {
		*list = scale_procs;
		return nscale_procs;
	}
	*list = micro_procs;
	return 2;
}

/* ---- keys and values ------------------------------------------------------ */

/* Key I of set DS: "dNN:" and 12 decimal digits, printable as the
 * memcached text protocol wants. */
static void key_of(unsigned ds, uint32_t i, char out[KEY_LEN])
{
	uint64_t v = i;

	out[0] = 'd';
	out[1] = (char)('0' + ds / 10 % 10);
	out[2] = (char)('0' + ds % 10);
	out[3] = ':';
	for (int p = KEY_LEN - 1; p >= 4; p--) {
		out[p] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* A value of set DS is a fill byte of the set, with key I and DS in its
 * first 8 bytes: a get that returns another key's value, or a value cut
 * short, is caught. */
static unsigned char fill_of(unsigned ds)
{
	return (unsigned char)('a' + ds % 26);
}

static void value_stamp(unsigned ds, uint32_t i, unsigned char *out)
{
	uint32_t tag = 0x5a000000u | ds;

	memcpy(out, &i, 4);
	memcpy(out + 4, &tag, 4);
}

static void value_init(unsigned ds, unsigned v, unsigned char *out)
{
	memset(out, fill_of(ds), v);
}

static bool value_ok(unsigned ds, uint32_t i, unsigned v,
                     const unsigned char *got, size_t len)
{
	unsigned char want[8];

	value_stamp(ds, i, want);
	return len == v && memcmp(got, want, 8) == 0 &&
	       got[v - 1] == fill_of(ds);
}

/* ---- key sequences ----------------------------------------------------- */

/* The operations of one process, cycled: a key index (OP_SET for a set)
 * and the key, formatted in advance. */
struct seq {
	uint32_t *ops;
	char (*keys)[KEY_LEN];
	size_t len;              /* a power of two */
	size_t start;            /* where the process begins in it */
};

static size_t seq_len = 1u << 20;
/* A fit run makes millions of sets: one sequence, longer, that every
 * process cycles from its own start, so that no short cycle narrows the
 * keys that are set. */
static size_t fit_seq_len = 1u << 23;

static void seq_make(struct seq *s, const struct workload *w, unsigned proc,
                     size_t len)
{
	struct dataset *d = w->ds;
	uint64_t rng = 1000 + proc * 7919ULL + d->id * 104729ULL +
	               w->set_percent * 31ULL + w->dist;

	if (w->dist == ZIPF && !d->zipf_ready) {
		kit_zipf_init(&d->zipf, d->items, ZIPF_THETA);
		d->zipf_ready = true;
	}
	s->len = len;
	s->start = 0;
	s->ops = xmalloc(s->len * sizeof *s->ops);
	s->keys = xmalloc(s->len * sizeof *s->keys);
	for (size_t i = 0; i < s->len; i++) {
		uint32_t k;

		if (w->dist == HOT)
			k = 0;
		else if (w->dist == ZIPF) /* ranks scattered over the keys */
			k = (uint32_t)(kit_zipf_next(&d->zipf, &rng) * 2654435761ULL %
			               d->items);
		else
			k = (uint32_t)(kit_rng_next(&rng) % d->items);
		key_of(d->id, k, s->keys[i]);
		if (kit_rng_next(&rng) % 100 < w->set_percent)
			k |= OP_SET;
		s->ops[i] = k;
	}
}

static void seq_free(struct seq *s)
{
	free(s->ops);
	free(s->keys);
	memset(s, 0, sizeof *s);
}

/* ---- the stores of a data set -------------------------------------------- */

static unsigned segment_item(unsigned value)
{
	return (ITEM_HEADER + KEY_LEN + value + 7) & ~7u;
}

static uint64_t segment_bytes(const struct dataset *d)
{
	if (d->fill_pct)
		return fit_segment;
	return 3ULL * d->items * segment_item(d->value) + (4u << 20);
}

/* D's segment, made afresh: item memory for three times its items (room
 * for overwrites before anything is evicted), the index sized for their
 * item size, as a user would size a cache for known data; for a fit set,
 * the fit segment, with slots for its processes whatever --procs says.
 * False if /dev/shm cannot hold it. */
static bool segment_make(struct dataset *d)
{
	hc_config cfg;
	int rc;

	hc_config_init(&cfg);
	cfg.avg_item_size = segment_item(d->value);
	cfg.size = segment_bytes(d);
	cfg.max_procs = (d->fill_pct ? FIT_PROCS_MAX : max_procs_used) + 2;
	snprintf(d->name, sizeof d->name, "/hcbench_%ld_%u", (long)main_pid,
	         d->id);
	rc = hc_create(d->name, &cfg, &d->owner);
	if (rc == HC_ENOSPC) {
		d->name[0] = '\0';
		return false;
	}
	if (rc != 0)
		fail("hc_create %s (%llu bytes): %s", d->name,
		     (unsigned long long)cfg.size, hc_last_error());
	return true;
}

static void segment_drop(struct dataset *d)
{
	if (d->owner != NULL)
		hc_close(d->owner);
	d->owner = NULL;
	if (d->name[0] != '\0')
		hc_unlink(d->name);
	d->name[0] = '\0';
}

/* Every key of D into its segment, made afresh.  False if /dev/shm
 * cannot hold the segment. */
static bool preload_segment(struct dataset *d)
{
	unsigned char *val = xmalloc(d->value);
	hc_stats st;
	int rc;

	if (!segment_make(d))
		return false;
	value_init(d->id, d->value, val);
	for (uint32_t i = 0; i < d->items; i++) {
		char key[KEY_LEN];

		key_of(d->id, i, key);
		value_stamp(d->id, i, val);
		if ((rc = hc_set(d->owner, key, KEY_LEN, val, d->value, 0)) != 0)
			fail("preload: hc_set: %s", hc_strerror(rc));
	}
	free(val);
	if ((rc = hc_stats_get(d->owner, &st)) != 0)
		fail("hc_stats_get: %s", hc_strerror(rc));
	/* A bucket holds 8 entries and a full one drops its coldest (the
	 * index is lossy): even in an index several times larger than the
	 * keys, a few buckets overflow (the Poisson tail). */
	if (st.evictions + st.bucket_evictions > 0)
		note("hostcache: %llu of the %u keys of the %u B %s set were "
		     "dropped while it was loaded (%llu evicted, %llu from full "
		     "index buckets): gets of them miss",
		     (unsigned long long)(st.evictions + st.bucket_evictions),
		     d->items, d->value, d->fits, (unsigned long long)st.evictions,
		     (unsigned long long)st.bucket_evictions);
	d->evictions = st.evictions + st.bucket_evictions;
	return true;
}

/* Every key of D into a shared table, and a private copy of it. */
static void preload_table(struct dataset *d)
{
	unsigned char *val = xmalloc(d->value);

	d->table = table_create(d);
	value_init(d->id, d->value, val);
	for (uint32_t i = 0; i < d->items; i++) {
		char key[KEY_LEN];

		key_of(d->id, i, key);
		value_stamp(d->id, i, val);
		table_set(d->table, LOCK_MUTEX, key, val, d->value);
	}
	free(val);
	d->priv = table_copy_private(d->table);
	table_fork(d->priv, false);
}

/* Every key of D into a server, many requests in flight (only the loading
 * is pipelined; the measurements send one request at a time), then a
 * sample read back. */
static void preload_server(struct dataset *d, enum impl_id impl)
{
	unsigned char *val = xmalloc(d->value), *buf = xmalloc(d->value);
	const uint32_t batch = 512;
	struct conn c;

	value_init(d->id, d->value, val);
	conn_open(&c, impl, d, NULL);
	if (impl == MEMCACHED) {
		memcached_behavior_set(c.mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
		memcached_behavior_set(c.mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
	}
	for (uint32_t i = 0; i < d->items; i += batch) {
		uint32_t n = d->items - i < batch ? d->items - i : batch;

		for (uint32_t j = i; j < i + n; j++) {
			char key[KEY_LEN];

			key_of(d->id, j, key);
			value_stamp(d->id, j, val);
			if (impl == MEMCACHED) {
				memcached_return_t rc = memcached_set(
					c.mc, key, KEY_LEN, (const char *)val, d->value, 0, 0);

				if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED)
					fail("preload: memcached set: %s",
					     memcached_strerror(c.mc, rc));
			} else if (redisAppendCommand(c.redis, "SET %b %b", key,
			                              (size_t)KEY_LEN, val,
			                              (size_t)d->value) != REDIS_OK) {
				fail("preload: redis: %s", c.redis->errstr);
			}
		}
		if (impl == MEMCACHED) {
			memcached_return_t rc = memcached_flush_buffers(c.mc);

			if (rc != MEMCACHED_SUCCESS)
				fail("preload: memcached: %s",
				     memcached_strerror(c.mc, rc));
			continue;
		}
		for (uint32_t j = 0; j < n; j++) {
			void *reply = NULL;
			redisReply *r;

			if (redisGetReply(c.redis, &reply) != REDIS_OK)
				fail("preload: redis: %s", c.redis->errstr);
			r = reply;
			if (r->type != REDIS_REPLY_STATUS)
				fail("preload: redis SET: %s",
				     r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
			freeReplyObject(r);
		}
	}
	conn_close(&c);
	/* A fresh connection reads a sample back, the last key first. */
	conn_open(&c, impl, d, NULL);
	for (uint32_t s = 0; s < 64 && s < d->items; s++) {
		uint32_t i = s == 0 ? d->items - 1 : (uint32_t)(s * 2654435761ULL %
		                                                d->items);
		char key[KEY_LEN];
		size_t len = 0;
		int rc;

		key_of(d->id, i, key);
		rc = conn_get(&c, key, buf, d->value, &len);
		if (rc != 0 || !value_ok(d->id, i, d->value, buf, len))
			fail("%s lost or changed key %.*s after loading %u items "
			     "(out of memory?)", impl_names[impl], KEY_LEN, key,
			     d->items);
	}
	conn_close(&c);
	free(val);
	free(buf);
}

/* ---- one measurement --------------------------------------------------- */

struct proc_result {
	uint64_t ops, ns;          /* throughput phase */
	uint64_t cpu_ns;           /* this process's CPU time in that phase */
	uint64_t gets, misses;     /* both phases */
	uint64_t sets;
	uint64_t errors, wrong;
	uint64_t lat_ops;
	struct kit_hist hist;
};

static uint64_t timer_cost;    /* ns of one clock read, calibrated */

/* One operation of S, its result checked. */
static inline void step(struct conn *c, const struct dataset *d,
                        const struct seq *s, uint64_t i, unsigned char *val,
                        unsigned char *buf, struct proc_result *r)
{
	size_t at = i & (s->len - 1), len = 0;
	uint32_t op = s->ops[at], k = op & ~OP_SET;
	int rc;

	if (op & OP_SET) {
		value_stamp(d->id, k, val);
		rc = conn_set(c, s->keys[at], val, d->value);
		r->sets++;
	} else {
		rc = conn_get(c, s->keys[at], buf, d->value, &len);
		r->gets++;
		if (rc == 0 && !value_ok(d->id, k, d->value, buf, len))
			r->wrong++;
	}
	r->errors += rc < 0;
	r->misses += rc == 1;
}

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

/* From T0 on the common clock: warm up until T0 + WARM, count operations
 * for LIM->seconds, then time each for half as long. */
static void proc_run(struct conn *c, const struct dataset *d,
                     const struct seq *s, uint64_t t0,
                     const struct run_limit *lim, struct proc_result *r)
{
	unsigned char *val = xmalloc(d->value), *buf = xmalloc(d->value);
	double seconds = lim->seconds;
	uint64_t warm = (uint64_t)(seconds * 1e8);
	uint64_t t_count = t0 + warm, t_lat = t_count + (uint64_t)(seconds * 1e9);
	uint64_t t_end = t_lat + (uint64_t)(seconds * 5e8);
	uint64_t i = 0, t;

	value_init(d->id, d->value, val);
	while (kit_now_ns() < t0)
		;
	do {
		for (int j = 0; j < 16; j++)
			step(c, d, s, i++, val, buf, r);
	} while ((t = kit_now_ns()) < t_count);

	uint64_t cpu0 = kit_cpu_ns(), start = t, counted = i;

	do {
		for (int j = 0; j < 16; j++)
			step(c, d, s, i++, val, buf, r);
	} while ((t = kit_now_ns()) < t_lat);
	r->ops = i - counted;
	r->ns = t - start;
	r->cpu_ns = kit_cpu_ns() - cpu0;

	uint64_t before = kit_now_ns(), after;

	do {
		step(c, d, s, i++, val, buf, r);
		after = kit_now_ns();
		uint64_t ns = after - before;

		ns = ns > timer_cost ? ns - timer_cost : 0;
		kit_hist_add(&r->hist, ns);
		r->lat_ops++;
		before = after;
	} while (after < t_end);
	free(val);
	free(buf);
}

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

/* Process P of a run: attach, then FN from the common start. */
static int procs_child(struct kit_team *t, unsigned p, void *arg)
{
	const struct procs_plan *plan = arg;
	struct dataset *d = plan->w->ds;
	struct table *table = d->table;
	struct conn c;

	/* The upper bound: a table in this process's private memory.  Gets
	 * alone read the parent's copy (copy-on-write, pages never
	 * written); a workload with sets makes its own copy, so that no
	 * write is timed with the copying of a page. */
	if (plan->impl == PRIVATE)
		table = plan->w->set_percent == 0 ? d->priv :
		                                    table_copy_private(d->priv);
	conn_open(&c, plan->impl, d, table);
	uint64_t t0 = kit_team_ready(t);

	plan->fn(&c, d, &plan->seqs[p], t0, plan->lim, kit_team_result(t, p));
	conn_close(&c);
	return 0;
}

/* Fork PROCS processes that each attach to IMPL for W, then run FN on
 * their sequence of SEQS within LIM, all from one start, into the team
 * (their results: kit_team_result(); kit_team_free() when read).  Exits if
 * one fails. */
static void procs_run(const struct workload *w, enum impl_id impl,
                      unsigned procs, const struct seq *seqs, proc_fn *fn,
                      const struct run_limit *lim)
{
	struct procs_plan plan = { w, impl, seqs, fn, lim };
	struct dataset *d = w->ds;
	int rc;

	if (impl == PRIVATE)
		table_fork(d->priv, true);
	rc = kit_team_start(&team, procs, sizeof(struct proc_result),
	                    procs_child, &plan);
	if (impl == PRIVATE)
		table_fork(d->priv, false);
	if (rc != 0)
		fail("starting the processes: %s", strerror(-rc));
	if (!kit_team_wait(&team))
		fail("a %s process of %s failed", impl_names[impl], w->bench);
}

/* Fork PROCS processes that each run W on IMPL with their sequence of
 * SEQS; fill M.  Exits on any failed call or wrong value. */
static void measure(const struct workload *w, enum impl_id impl,
                    unsigned procs, double seconds, const struct seq *seqs,
                    struct measurement *m)
{
	struct run_limit lim = { .seconds = seconds };
	struct dataset *d = w->ds;
	static struct kit_hist hist;
	uint64_t cpu = 0, errors = 0, wrong = 0;

	procs_run(w, impl, procs, seqs, proc_run, &lim);
	kit_hist_clear(&hist);
	memset(m, 0, sizeof *m);
	m->w = w;
	m->impl = impl;
	m->procs = procs;
	for (unsigned p = 0; p < procs; p++) {
		const struct proc_result *r = kit_team_result(&team, p);

		m->ops_per_sec += r->ns ? (double)r->ops * 1e9 / (double)r->ns : 0;
		cpu += r->cpu_ns;
		m->ops += r->ops;
		m->gets += r->gets;
		m->misses += r->misses;
		m->lat_ops += r->lat_ops;
		errors += r->errors;
		wrong += r->wrong;
		kit_hist_merge(&hist, &r->hist);
	}
	kit_team_free(&team);
	if (errors || wrong)
		fail("%s on %s (%u B values): %llu failed calls, %llu wrong "
		     "values read", impl_names[impl], w->bench, d->value,
		     (unsigned long long)errors, (unsigned long long)wrong);
	m->cpu_ns_per_op = m->ops ? (double)cpu / (double)m->ops : 0;
	m->p50 = kit_hist_percentile(&hist, 0.5);
	m->p99 = kit_hist_percentile(&hist, 0.99);
	m->p999 = kit_hist_percentile(&hist, 0.999);
}

/* ---- per-item memory ---------------------------------------------------- */

struct overhead {
	unsigned value;
	uint64_t size, items;
	double header;             /* item bytes beyond key and value */
	double slot;               /* index bytes per slot */
	double index_per_item;     /* index bytes per item held */
	double segment;            /* segment bytes per item beyond key, value */
};

static struct overhead overheads[NVALUES];
static unsigned noverheads;
static char overhead_name[64];

/* Fill a segment of SIZE with distinct keys of VALUE-byte values until it
 * has evicted for a while, then read what an item costs. */
static void measure_overhead(unsigned value, uint64_t size, struct overhead *o)
{
	unsigned char *val = xmalloc(value);
	hc_config cfg;
	hc_cache *c;
	hc_stats st;
	hc_info info;
	int rc;

	hc_config_init(&cfg);
	cfg.size = size;
	cfg.avg_item_size = segment_item(value);
	snprintf(overhead_name, sizeof overhead_name, "/hcbench_%ld_size",
	         (long)main_pid);
	if ((rc = hc_create(overhead_name, &cfg, &c)) != 0)
		fail("hc_create %s: %s", overhead_name, hc_last_error());
	value_init(MAX_DATASETS, value, val);
	/* Until it evicts, then a tenth more. */
	uint64_t n = UINT64_MAX;

	for (uint64_t i = 0; i < n; i++) {
		char key[KEY_LEN];

		key_of(MAX_DATASETS, (uint32_t)i, key);
		value_stamp(MAX_DATASETS, (uint32_t)i, val);
		if ((rc = hc_set(c, key, KEY_LEN, val, value, 0)) != 0)
			fail("hc_set: %s", hc_strerror(rc));
		if (n == UINT64_MAX && i % 1024 == 1023) {
			if ((rc = hc_stats_get(c, &st)) != 0)
				fail("hc_stats_get: %s", hc_strerror(rc));
			if (st.evictions > 0)
				n = i + i / 10;
		}
		if (i > 4 * size / value)
			fail("a segment of %llu bytes never evicts",
			     (unsigned long long)size);
	}
	if ((rc = hc_stats_get(c, &st)) != 0 || (rc = hc_info_get(c, &info)) != 0)
		fail("hc_stats_get: %s", hc_strerror(rc));
	if (st.items == 0 || info.index_slots == 0)
		fail("a filled segment holds no items");
	o->value = value;
	o->size = info.size;
	o->items = st.items;
	o->header = (double)st.bytes_live / (double)st.items - (KEY_LEN + value);
	o->slot = (double)info.index_memory / info.index_slots;
	o->index_per_item = (double)info.index_memory / (double)st.items;
	o->segment = (double)info.size / (double)st.items - (KEY_LEN + value);
	hc_close(c);
	hc_unlink(overhead_name);
	overhead_name[0] = '\0';
	free(val);
}

static void stores_remove(void)
{
	if (getpid() != main_pid)
		return;
	for (unsigned i = 0; i < ndatasets; i++)
		if (datasets[i].name[0] != '\0') {
			hc_unlink(datasets[i].name);
			datasets[i].name[0] = '\0';
		}
	if (overhead_name[0] != '\0')
		hc_unlink(overhead_name);
	overhead_name[0] = '\0';
}

/* ---- results ------------------------------------------------------------ */

static struct measurement *results;
static unsigned nresults, results_cap;
static unsigned reps = 3;
static double seconds = 0.25;
static bool quick;

static void record(const struct measurement *m)
{
	if (nresults == results_cap) {
		results_cap = results_cap ? 2 * results_cap : 256;
		results = realloc(results, results_cap * sizeof *results);
		if (results == NULL)
			fail("out of memory");
	}
	results[nresults++] = *m;
}

static const struct measurement *find(const struct workload *w, int impl,
                                      unsigned procs, unsigned rep)
{
	for (unsigned i = 0; i < nresults; i++) {
		const struct measurement *m = &results[i];

		if (m->w == w && (int)m->impl == impl && m->procs == procs &&
		    m->rep == rep)
			return m;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of N values, which it sorts. */
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum field { F_OPS, F_P50, F_P99, F_P999, F_CPU, F_MISS };

static double field_of(const struct measurement *m, enum field f)
{
	switch (f) {
	case F_OPS:
		return m->ops_per_sec;
	case F_P50:
		return m->p50;
	case F_P99:
		return m->p99;
	case F_P999:
		return m->p999;
	case F_CPU:
		return m->cpu_ns_per_op;
	case F_MISS:
		return m->gets ? (double)m->misses / (double)m->gets : 0;
	}
	return 0;
}

/* A median over the repetitions, with its range. */
struct stat {
	double med, min, max;
	unsigned n;
};

static bool stat_of(const struct workload *w, int impl, unsigned procs,
                    enum field f, struct stat *s)
{
	double v[MAX_REPS];
	unsigned n = 0;

	for (unsigned rep = 0; rep < reps; rep++) {
		const struct measurement *m = find(w, impl, procs, rep);

		if (m != NULL)
			v[n++] = field_of(m, f);
	}
	memset(s, 0, sizeof *s);
	if (n == 0)
		return false;
	s->n = n;
	s->med = median(v, n);
	s->min = v[0];
	s->max = v[n - 1];
	return true;
}

/* The median over the repetitions of A's F over B's F, each pair taken
 * within one repetition. */
static bool ratio_of(const struct workload *wa, int ia, unsigned pa,
                     const struct workload *wb, int ib, unsigned pb,
                     enum field f, struct stat *s)
{
	double v[MAX_REPS];
	unsigned n = 0;

	for (unsigned rep = 0; rep < reps; rep++) {
		const struct measurement *a = find(wa, ia, pa, rep);
		const struct measurement *b = find(wb, ib, pb, rep);

		if (a != NULL && b != NULL && field_of(b, f) > 0)
			v[n++] = field_of(a, f) / field_of(b, f);
	}
	memset(s, 0, sizeof *s);
	if (n == 0)
		return false;
	s->n = n;
	s->med = median(v, n);
	s->min = v[0];
	s->max = v[n - 1];
	return true;
}

static const struct workload *find_workload(const char *bench, enum dist dist,
                                            unsigned value, const char *fits)
{
	for (unsigned i = 0; i < nworkloads; i++) {
		const struct workload *w = &workloads[i];

		if (strcmp(w->bench, bench) == 0 && w->dist == dist &&
		    (value == 0 || w->ds->value == value) &&
		    (fits == NULL || strcmp(w->ds->fits, fits) == 0))
			return w;
	}
	return NULL;
}

/* ---- output -------------------------------------------------------------- */

static FILE *table_out;        /* the readable table, or NULL */

static void tprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tprintf(const char *fmt, ...)
{
	va_list ap;

	if (table_out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(table_out, fmt, ap);
	va_end(ap);
}

/* N with thousands separators. */
static const char *count_str(uint64_t n, char *buf, size_t cap)
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

static void json_workload_fields(const struct workload *w)
{
	printf("\"bench\":\"%s\",\"key_size\":%u,\"value_size\":%u,\"items\":%u,"
	       "\"fits\":\"%s\",\"dist\":\"%s\",\"set_percent\":%u",
	       w->bench, KEY_LEN, w->ds->value, w->ds->items, w->ds->fits,
	       dist_names[w->dist], w->set_percent);
}

static void print_measurement_json(const struct measurement *m)
{
	if (!json_only)
		return;
	printf("{\"type\":\"measurement\",");
	json_workload_fields(m->w);
	printf(",\"impl\":\"%s\",\"procs\":%u,\"rep\":%u,\"ops\":%llu,"
	       "\"ops_per_sec\":%.0f,\"cpu_ns_per_op\":%.1f,\"p50_ns\":%.0f,"
	       "\"p99_ns\":%.0f,\"p999_ns\":%.0f,\"latency_samples\":%llu,"
	       "\"gets\":%llu,\"misses\":%llu",
	       impl_names[m->impl], m->procs, m->rep,
	       (unsigned long long)m->ops, m->ops_per_sec, m->cpu_ns_per_op,
	       m->p50, m->p99, m->p999, (unsigned long long)m->lat_ops,
	       (unsigned long long)m->gets, (unsigned long long)m->misses);
	if (m->impl == HOSTCACHE)
		printf(",\"evictions\":%llu,\"bucket_evictions\":%llu",
		       (unsigned long long)m->evictions,
		       (unsigned long long)m->bucket_evictions);
	printf("}\n");
	out_check();
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
static void print_summaries(const bool *enabled)
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
				printf("{\"type\":\"summary\",");
				json_workload_fields(w);
				printf(",\"impl\":\"%s\",\"procs\":%u,\"reps\":%u,"
				       "\"ops\":%llu,\"ops_per_sec\":%.0f,"
				       "\"ops_per_sec_min\":%.0f,\"ops_per_sec_max\":%.0f,"
				       "\"cpu_ns_per_op\":%.1f,\"p50_ns\":%.0f,"
				       "\"p99_ns\":%.0f,\"p999_ns\":%.0f,\"miss_ratio\":%.6f",
				       impl_names[impl], procs[pi], ops.n,
				       (unsigned long long)total, ops.med, ops.min, ops.max,
				       cpu.med, p50.med, p99.med, p999.med, miss.med);
				if (impl != HOSTCACHE && rops.n > 0)
					printf(",\"hostcache_ops_x\":%.3f,"
					       "\"p50_vs_hostcache\":%.3f", rops.med,
					       rp50.med);
				printf("}\n");
				out_check();
			}
		}
	}
}

/* Throughput with more processes than CPUs, over throughput with 2. */
static void print_scaling(const bool *enabled)
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

static void print_overheads(void)
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
		printf("{\"type\":\"overhead\",\"bench\":\"overhead\",\"impl\":"
		       "\"hostcache\",\"key_size\":%u,\"value_size\":%u,"
		       "\"items\":%llu,\"segment_bytes\":%llu,"
		       "\"item_header_bytes\":%.1f,\"index_slot_bytes\":%.1f,"
		       "\"overhead_bytes\":%.1f,\"index_bytes_per_item\":%.1f,"
		       "\"segment_overhead_bytes\":%.1f}\n", KEY_LEN, o->value,
		       (unsigned long long)o->items, (unsigned long long)o->size,
		       o->header, o->slot, o->header + o->slot, o->index_per_item,
		       o->segment);
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
	printf("{\"type\":\"verdict\",\"target\":\"%s\",\"what\":\"%s\","
	       "\"want\":\"%s %g\",", id, what, at_least ? ">=" : "<=", want);
	if (!have)
		printf("\"value\":null,\"met\":null,\"reason\":\"%s\"}\n", why_not);
	else
		printf("\"value\":%.3f,\"min\":%.3f,\"max\":%.3f,\"met\":%s}\n",
		       s->med, s->min, s->max, met ? "true" : "false");
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
static void print_verdicts(void)
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

static void write_plot_data(const char *dir)
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

/* ---- options ------------------------------------------------------------ */

static const char usage_text[] =
	"usage: hcbench [--quick] [--json] [--table FILE] [--plot-data DIR]\n"
	"               [--memcached SOCKET] [--redis SOCKET]\n"
	"               [--reps N] [--seconds S] [--procs N,N..]\n"
	"               [--bench NAME,..] [--impl NAME,..] [--fits l2,l3,dram]\n"
	"               [--dram-items N] [--ycsb-items N] [--l2 BYTES] "
	"[--l3 BYTES]\n";

static const char help_text[] =
	"\n"
	"  --quick          1 repetition of 0.06 s, no DRAM sets, a 100,000-key "
	"YCSB set\n"
	"                   (well under a minute without the servers)\n"
	"  --json           JSON lines on stdout instead of the table\n"
	"  --table FILE     the table into FILE as well\n"
	"  --plot-data DIR  data files for bench/plot.gp into DIR\n"
	"  --memcached, --redis SOCKET\n"
	"                   unix sockets of running servers (else skipped)\n"
	"  --reps N         repetitions, interleaved (default 3, 1..16)\n"
	"  --seconds S      counted phase of a measurement (default 0.25)\n"
	"  --procs LIST     process counts of ycsb_* and hot_key (default "
	"1,2,4,8)\n"
	"  --bench LIST     of get_hit,set,ycsb_c,ycsb_b,ycsb_a,hot_key,fit_a,"
	"fit_b\n"
	"  --impl LIST      of hostcache,private,rwlock,mutex,memcached,redis\n"
	"  --fits LIST      data sets of get_hit and set: l2,l3,dram\n"
	"  --dram-items N   items of the 32 B DRAM set (default 10,000,000)\n"
	"  --ycsb-items N   items of the YCSB set (default 1,000,000)\n"
	"  --l2, --l3 BYTES cache sizes, taken as given (default: from sysfs, "
	"else sysconf,\n"
	"                   at most 2 MiB and 32 MiB); K, M, G suffixes\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                            noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hcbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(2);
}

static uint64_t parse_count(const char *opt, const char *arg, uint64_t min,
                            uint64_t max, bool suffix)
{
	char *end;
	uint64_t n;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (end == arg || errno != 0 || arg[0] == '-')
		usage_error("%s wants a number, not '%s'", opt, arg);
	if (suffix && *end != '\0' && strchr("KkMG", *end) != NULL) {
		n <<= *end == 'G' ? 30 : *end == 'M' ? 20 : 10;
		end++;
	}
	if (*end != '\0')
		usage_error("%s wants a number, not '%s'", opt, arg);
	if (n < min || n > max)
		usage_error("%s wants a number from %llu to %llu, not '%s'", opt,
		            (unsigned long long)min, (unsigned long long)max, arg);
	return n;
}

/* Whether NAME is in the comma-separated LIST (NULL: everything is). */
static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	if (list == NULL)
		return true;
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, name, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* Every name of LIST is one of NAMES. */
static void check_list(const char *opt, const char *list,
                       const char *const *names, unsigned nnames)
{
	if (list == NULL)
		return;
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ",");
		bool known = false;

		for (unsigned i = 0; i < nnames; i++)
			known = known || (strlen(names[i]) == n &&
			                  strncmp(p, names[i], n) == 0);
		if (!known)
			usage_error("%s: unknown name '%.*s'", opt, (int)n, p);
		p += n + (p[n] == ',');
	}
}

static void server_versions(void)
{
	if (memcached_socket != NULL) {
		memcached_st *mc = memcached_create(NULL);

		if (mc == NULL ||
		    memcached_server_add_unix_socket(mc, memcached_socket) !=
		            MEMCACHED_SUCCESS ||
		    memcached_version(mc) != MEMCACHED_SUCCESS)
			fail("memcached: no answer on %s", memcached_socket);
		const memcached_instance_st *in =
			memcached_server_instance_by_position(mc, 0);

		snprintf(memcached_version_str, sizeof memcached_version_str,
		         "%u.%u.%u", memcached_server_major_version(in),
		         memcached_server_minor_version(in),
		         memcached_server_micro_version(in));
		memcached_free(mc);
	}
	if (redis_socket != NULL) {
		redisContext *r = redisConnectUnix(redis_socket);
		redisReply *rep;
		const char *v;

		if (r == NULL || r->err)
			fail("redis: cannot connect to %s", redis_socket);
		rep = redisCommand(r, "INFO server");
		if (rep == NULL || rep->type != REDIS_REPLY_STRING)
			fail("redis: no answer to INFO on %s", redis_socket);
		v = strstr(rep->str, "redis_version:");
		snprintf(redis_version_str, sizeof redis_version_str, "%.*s",
		         v ? (int)strcspn(v + 14, "\r\n") : 1, v ? v + 14 : "?");
		freeReplyObject(rep);
		redisFree(r);
	}
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
static bool run_one(const struct workload *w, enum impl_id impl,
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

/* ---- data that fits -------------------------------------------------- */

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
	uint64_t errors = 0, wrong = 0, ns = 0;
	hc_stats before, after;

	f->w = w;
	f->procs = procs;
	stats_of(d->owner, &before);

	procs_run(w, HOSTCACHE, procs, seqs, proc_fit, &lim);

	stats_of(d->owner, &after);
	f->complete = true;
	for (unsigned p = 0; p < procs; p++) {
		const struct proc_result *r = kit_team_result(&team, p);

		f->ops += r->ops;
		f->gets += r->gets;
		f->sets += r->sets;
		f->misses += r->misses;
		errors += r->errors;
		wrong += r->wrong;
		ns = r->ns > ns ? r->ns : ns;
		f->complete = f->complete && r->sets >= lim.sets;
	}
	kit_team_free(&team);
	if (errors || wrong)
		fail("hostcache on %s (%s set): %llu failed calls, %llu wrong "
		     "values read", w->bench, d->fits, (unsigned long long)errors,
		     (unsigned long long)wrong);
	f->seconds = (double)ns / 1e9;
	f->ops_per_sec = ns ? (double)f->ops * 1e9 / (double)ns : 0;
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
	printf("{\"type\":\"fit\",");
	json_workload_fields(f->w);
	printf(",\"impl\":\"hostcache\",\"procs\":%u,\"fill_pct\":%u,"
	       "\"segment_bytes\":%llu,\"item_memory\":%llu,\"block_size\":%u,"
	       "\"blocks\":%u,\"item_bytes\":%u,\"ops\":%llu,\"gets\":%llu,"
	       "\"sets\":%llu,\"seconds\":%.3f,\"ops_per_sec\":%.0f,"
	       "\"misses\":%llu,\"miss_ratio\":%.6f,\"keys_lost\":%llu,"
	       "\"keys_lost_at_load\":%llu,\"evictions\":%llu,"
	       "\"bucket_evictions\":%llu,\"blocks_evicted\":%llu,"
	       "\"blocks_cleaned\":%llu,\"second_chances\":%llu,"
	       "\"bytes_set\":%llu,\"bytes_cleaned\":%llu,"
	       "\"write_amplification\":%.4f,\"wraps\":%.2f,"
	       "\"live_ratio_end\":%.4f,\"complete\":%s}\n",
	       f->procs, f->w->ds->fill_pct,
	       (unsigned long long)f->segment_bytes,
	       (unsigned long long)f->item_memory, f->block_size, f->blocks,
	       f->item_bytes, (unsigned long long)f->ops,
	       (unsigned long long)f->gets, (unsigned long long)f->sets,
	       f->seconds, f->ops_per_sec, (unsigned long long)f->misses,
	       f->gets ? (double)f->misses / (double)f->gets : 0,
	       (unsigned long long)f->lost, (unsigned long long)f->lost_at_load,
	       (unsigned long long)f->evictions,
	       (unsigned long long)f->bucket_evictions,
	       (unsigned long long)f->blocks_evicted,
	       (unsigned long long)f->blocks_cleaned,
	       (unsigned long long)f->second_chances,
	       (unsigned long long)f->bytes_set,
	       (unsigned long long)f->bytes_cleaned, f->write_amp, f->wraps,
	       f->live_end, f->complete ? "true" : "false");
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
static void print_fits(void)
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
static void run_dataset(struct dataset *d, const bool *enabled,
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

/* ---- main ---------------------------------------------------------------- */

static const char *const bench_names[] = {
	"get_hit", "set", "ycsb_c", "ycsb_b", "ycsb_a", "hot_key", "fit_a",
	"fit_b"
};
#define NBENCH_NAMES (sizeof bench_names / sizeof *bench_names)
static const char *const fits_names[] = { "l2", "l3", "dram" };

/* The data sets and workloads of this run. */
static void plan(const char *bench_list, const char *fits_list,
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
static uint64_t dataset_memory(const struct dataset *d, unsigned procs)
{
	if (d->fill_pct) /* a segment alone: no table for a fit set */
		return segment_bytes(d);
	return segment_bytes(d) + (2 + procs) * table_bytes(d->items, d->value);
}

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
		printf("{\"type\":\"run\",\"hostcache\":\"%s\",\"cpus\":%ld",
		       hc_version(), cpus);
		cache_level_json(&l2_cache);
		cache_level_json(&l3_cache);
		printf(",\"quick\":%s,\"reps\":%u,\"seconds\":%.3f,"
		       "\"latency_seconds\":%.3f,\"timer_ns\":%llu,\"memcached\":",
		       quick ? "true" : "false", reps, seconds, seconds / 2,
		       (unsigned long long)timer_cost);
		if (memcached_socket)
			printf("\"%s\"", memcached_version_str);
		else
			printf("null");
		printf(",\"redis\":");
		if (redis_socket)
			printf("\"%s\"", redis_version_str);
		else
			printf("null");
		printf(",\"load_start\":%.2f}\n", load_start);
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
			printf("{\"type\":\"note\",\"text\":\"");
			for (const char *c = notes[i]; *c != '\0'; c++)
				printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
			printf("\"}\n");
			out_check();
		}
	}
	if (json_only) {
		printf("{\"type\":\"end\",\"load_end\":%.2f,\"seconds\":%.1f}\n",
		       load_end, (double)(kit_now_ns() - started) / 1e9);
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
