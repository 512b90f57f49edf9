/*
 * bench_setpath.c - the write path: how sets scale and how long their tail
 * is when the segment is full.
 *
 *   bench_setpath [--procs LIST] [--size MiB] [--value B] [--seconds S]
 *                 [--mode new|fit|both]
 *
 * A segment of --size MiB (default 64) with the default options.  Two
 * workloads, each run with every process count of --procs (default 1,2):
 *
 *   new   every set writes a key never written before, into a segment that
 *         is already full (loaded with 1.5 times its item memory first):
 *         each byte set makes a byte free, by eviction.
 *   fit   overwrites, uniform over keys whose items fill half the item
 *         memory (loaded first): each byte set makes a byte free, by
 *         cleaning dead copies.  Nothing should be evicted.
 *
 * Keys are 16 bytes, values --value bytes (default 256).  Each process
 * attaches on its own, waits at a common start, then sets for S seconds
 * (default 2), after an untimed lap of the log that maps the segment's
 * pages into the process, timing every set with CLOCK_MONOTONIC into a log-linear
 * histogram (16 buckets per octave); the cost of a clock read, calibrated
 * first, is subtracted.  Printed per run: sets per second over all
 * processes, the ratio to one process, p50, p99, p999 and the largest set,
 * and the evictions and blocks cleaned of the run.
 *
 * One readable line per run, then one JSON object per run.  Never fails on
 * a number; the exit status is non-zero only when an hc_* call fails.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostcache.h"
#include "kit/kit.h"

#define KEY_LEN 16
#define MAX_PROCS 16

static unsigned vlen = 256, nprocs_list[MAX_PROCS] = { 1, 2 }, nlist = 2;
static uint64_t size_mib = 64;
static double seconds = 2;

/* What the processes of a run share, beside their results. */
struct shared {
	int warm;                       /* processes done warming up */
	uint64_t t0;                    /* when the timed sets began */
};

/* What each process reports: its timed sets. */
struct worker_result {
	struct kit_hist hist;
	int rc;
};

/* What a run tells its processes. */
struct run_plan {
	const char *name;
	unsigned nprocs;
	uint64_t fit, first, lap, cost;
	struct shared *sh;
};

static int key_of(unsigned proc, uint64_t i, char *key)
{
	return snprintf(key, KEY_LEN + 1, "%x:%013llx", proc,
	                (unsigned long long)i);
}

static void die_hc(const char *what, int rc)
{
	fprintf(stderr, "bench_setpath: %s: %s\n", what, hc_strerror(rc));
	exit(1);
}

/* One process: set for SECONDS; new keys (FIT == 0) or overwrites of
 * FIT keys. */
static int worker(struct kit_team *team, unsigned me, void *arg)
{
	const struct run_plan *plan = arg;
	struct worker_result *r = kit_team_result(team, me);
	struct shared *sh = plan->sh;
	unsigned nprocs = plan->nprocs;
	uint64_t fit = plan->fit, first = plan->first, lap = plan->lap;
	hc_cache *c;
	char key[KEY_LEN + 1], *val = malloc(vlen);
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (me + 1), n = 0, seq = 0;
	int rc = hc_open(plan->name, &c);

	kit_team_ready(team);
	if (rc != 0 || val == NULL) {
		r->rc = rc ? rc : -1;
		return 0;
	}
	memset(val, 'v', vlen);
	/* Warm up, untimed: a lap of the log between the processes, so
	 * that this process has mapped the pages of the segment (a first
	 * touch costs a page fault, a cost of attaching, not of a set). */
	uint64_t warm = lap / (vlen + KEY_LEN + 24) / nprocs + 1;
	uint64_t end = UINT64_MAX;

	for (bool timed = false;;) {
		if (!timed && n == warm) {
			timed = true;
			n = 0;
			kit_hist_clear(&r->hist);
			__atomic_add_fetch(&sh->warm, 1, __ATOMIC_ACQ_REL);
			while (__atomic_load_n(&sh->warm, __ATOMIC_ACQUIRE) <
			       (int)nprocs)
				;
			end = kit_now_ns() + (uint64_t)(seconds * 1e9);
			if (me == 0)
				__atomic_store_n(&sh->t0, kit_now_ns(),
				                 __ATOMIC_RELEASE);
		}
		uint64_t i;

		if (fit) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			i = rng % fit;
		} else {
			i = first + seq++ * nprocs + me;
		}
		int kl = key_of(fit ? 0 : 1, i, key);
		uint64_t t0 = kit_now_ns();

		rc = hc_set(c, key, (size_t)kl, val, vlen, 0);
		uint64_t t1 = kit_now_ns(), cost = plan->cost;
		uint64_t d = t1 - t0 > cost ? t1 - t0 - cost : 0;

		if (rc != 0)
			break;
		kit_hist_add(&r->hist, d);
		n++;
		if (t1 >= end)
			break;
	}
	r->rc = rc;
	hc_close(c);
	return 0;
}

static void counters(hc_cache *c, uint64_t *evict, uint64_t *cleaned)
{
	hc_stats st;
	int rc = hc_stats_get(c, &st);

	if (rc != 0)
		die_hc("stats", rc);
	*evict = st.evictions;
	*cleaned = st.blocks_cleaned;
}

static void run(const char *mode, unsigned nprocs, double base_rate,
                double *rate_out, uint64_t cost)
{
	char name[64];
	hc_config cfg;
	hc_cache *c;
	hc_info st;
	char key[KEY_LEN + 1], *val = malloc(vlen);
	bool fit = strcmp(mode, "fit") == 0;
	int rc;

	snprintf(name, sizeof name, "/hc_bench_setpath_%d", (int)getpid());
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = size_mib << 20;
	if ((rc = hc_create(name, &cfg, &c)) != 0)
		die_hc("create", rc);
	if ((rc = hc_info_get(c, &st)) != 0)
		die_hc("info", rc);
	memset(val, 'v', vlen);
	uint64_t item = 24 + KEY_LEN + vlen; /* header, key, value: 8-aligned */
	uint64_t nfit = st.item_memory / 2 / item, loaded;

	/* Load: FIT keys, or 1.5 x item memory of new keys. */
	if (fit)
		loaded = nfit;
	else
		loaded = st.item_memory * 3 / 2 / item;
	for (uint64_t i = 0; i < loaded; i++) {
		int kl = key_of(fit ? 0 : 1, i, key);

		if ((rc = hc_set(c, key, (size_t)kl, val, vlen, 0)) != 0)
			die_hc("load", rc);
	}
	uint64_t ev0, cl0, ev1, cl1;

	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED) {
		perror("bench_setpath: mmap");
		exit(1);
	}
	memset(sh, 0, sizeof *sh);
	struct run_plan plan = {
		.name = name, .nprocs = nprocs, .fit = fit ? nfit : 0,
		.first = loaded, .lap = st.item_memory, .cost = cost, .sh = sh,
	};
	struct kit_team team;

	if ((rc = kit_team_start(&team, nprocs, sizeof(struct worker_result),
	                         worker, &plan)) != 0) {
		fprintf(stderr, "bench_setpath: starting the processes: %s\n",
		        strerror(-rc));
		exit(1);
	}
	while (__atomic_load_n(&sh->warm, __ATOMIC_ACQUIRE) < (int)nprocs)
		usleep(100);
	counters(c, &ev0, &cl0); /* of the timed sets, near enough */
	kit_team_wait(&team);
	double wall = (double)(kit_now_ns() - sh->t0) / 1e9;
	static struct kit_hist h;

	kit_hist_clear(&h);
	for (unsigned p = 0; p < nprocs; p++) {
		const struct worker_result *r = kit_team_result(&team, p);

		if (r->rc != 0)
			die_hc("set", r->rc);
		kit_hist_merge(&h, &r->hist);
	}
	kit_team_free(&team);
	counters(c, &ev1, &cl1);
	uint64_t total = h.total, mx = h.max;
	double rate = (double)total / wall;

	*rate_out = rate;
	double p50 = kit_hist_percentile(&h, 0.50);
	double p99 = kit_hist_percentile(&h, 0.99);
	double p999 = kit_hist_percentile(&h, 0.999);

	printf("%-4s %u proc%s  %5.2f M sets/s (%.2fx 1 proc)  p50 %6.0f ns  "
	       "p99 %7.0f ns  p999 %8.0f ns  max %7.1f us  evictions %llu  "
	       "cleaned %llu blocks\n", mode, nprocs, nprocs == 1 ? " " : "s",
	       rate / 1e6, base_rate > 0 ? rate / base_rate : 1.0, p50, p99,
	       p999, (double)mx / 1e3, (unsigned long long)(ev1 - ev0),
	       (unsigned long long)(cl1 - cl0));
	struct kit_json j;

	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", "setpath");
	kit_json_str(&j, "mode", mode);
	kit_json_uint(&j, "procs", nprocs);
	kit_json_uint(&j, "value", vlen);
	kit_json_uint(&j, "segment_mib", size_mib);
	kit_json_uint(&j, "block_size", st.block_size);
	kit_json_uint(&j, "sets", total);
	kit_json_num(&j, "seconds", 3, wall);
	kit_json_num(&j, "sets_per_sec", 0, rate);
	kit_json_num(&j, "scaling", 3, base_rate > 0 ? rate / base_rate : 1.0);
	kit_json_num(&j, "p50_ns", 0, p50);
	kit_json_num(&j, "p99_ns", 0, p99);
	kit_json_num(&j, "p999_ns", 0, p999);
	kit_json_uint(&j, "max_ns", mx);
	kit_json_uint(&j, "evictions", ev1 - ev0);
	kit_json_uint(&j, "blocks_cleaned", cl1 - cl0);
	kit_json_end(&j);
	fflush(stdout);
	munmap(sh, sizeof *sh);
	hc_close(c);
	hc_unlink(name);
	free(val);
}

static void usage(const char *why)
{
	fprintf(stderr, "bench_setpath: %s\nusage: bench_setpath [--procs LIST] "
	        "[--size MiB] [--value B] [--seconds S] [--mode new|fit|both]\n",
	        why);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = "both";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage("every option takes a value");
		i++;
		if (strcmp(a, "--procs") == 0) {
			char *s = (char *)v, *e;

			nlist = 0;
			while (*s && nlist < MAX_PROCS) {
				unsigned long n = strtoul(s, &e, 10);

				if (e == s || n < 1 || n > MAX_PROCS)
					usage("--procs wants counts from 1 to 16, "
					      "comma-separated");
				nprocs_list[nlist++] = (unsigned)n;
				s = *e == ',' ? e + 1 : e;
				if (*e != ',' && *e != 0)
					usage("--procs wants counts from 1 to 16, "
					      "comma-separated");
			}
		} else if (strcmp(a, "--size") == 0) {
			size_mib = strtoull(v, NULL, 10);
			if (size_mib < 4 || size_mib > 65536)
				usage("--size wants 4 to 65536 MiB");
		} else if (strcmp(a, "--value") == 0) {
			vlen = (unsigned)strtoul(v, NULL, 10);
			if (vlen < 1 || vlen > 65536)
				usage("--value wants 1 to 65536 bytes");
		} else if (strcmp(a, "--seconds") == 0) {
			seconds = strtod(v, NULL);
			if (!(seconds >= 0.05 && seconds <= 600))
				usage("--seconds wants 0.05 to 600");
		} else if (strcmp(a, "--mode") == 0) {
			mode = v;
			if (strcmp(v, "new") && strcmp(v, "fit") && strcmp(v, "both"))
				usage("--mode wants new, fit or both");
		} else {
			usage("unknown option");
		}
	}
	uint64_t cost = kit_clock_cost_ns();

	printf("# sets of %u B values (16 B keys) in a %llu MiB segment, %.2f s "
	       "a run; clock read %llu ns, subtracted\n", vlen,
	       (unsigned long long)size_mib, seconds, (unsigned long long)cost);
	for (int m = 0; m < 2; m++) {
		const char *md = m == 0 ? "new" : "fit";
		double base = 0, rate;

		if (strcmp(mode, "both") != 0 && strcmp(mode, md) != 0)
			continue;
		for (unsigned i = 0; i < nlist; i++) {
			run(md, nprocs_list[i], base, &rate, cost);
			if (nprocs_list[i] == 1)
				base = rate;
		}
	}
	return 0;
}
