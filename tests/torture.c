/*
 * torture - the long form of t_kill9: a supervisor that runs h_worker
 * processes (exec'd, unrelated) against tiny segments for a time budget,
 * SIGKILLs them at random moments and restarts them, and checks the
 * segment all along.
 *
 *   torture [--seconds N] [--workers N] [--round S] [--check-every S]
 *           [--seed X] [--keep DIR] [--max-findings N] [--config I]
 *
 * The budget is cut into rounds; each round creates a fresh segment with
 * the next configuration of a small list (segments a fraction of the
 * workers' data, so eviction never stops; uniform and Zipf key spaces) and
 * runs --workers workers of the full mix (h_worker --mix full).  Kills come
 * in three kinds:
 *   random    after 1-50 ms, a random worker: mostly mid-operation;
 *   attach    a worker restarted 0-3 ms earlier: during exec, attach,
 *             reaping of the slot it took;
 *   evicting  the owner of a block seen EVICTING in the block table (the
 *             supervisor reads the table through its own mapping); a kill
 *             that leaves the block EVICTING was a kill mid-eviction;
 *   lease     the holder of a lease seen in the lease table, while it
 *             "computes" the value (its waiters must take over).
 * Every --check-every seconds the supervisor reaps (hc_reap) and checks
 * (hc_check) while the workers run.  At the end of a round it kills every
 * worker, reaps, and requires a clean check with no dead process, no block
 * open or evicting for a dead owner, no lease still held, and every block
 * accounted; then it
 * walks every item and verifies it (self-verifying values, decimal
 * counters), and runs one fresh worker that must exit cleanly.
 *
 * Findings: a worker that reports a violation or exits by itself, one that
 * dies of anything but our SIGKILL, one that makes no progress for 30 s
 * (killed with SIGABRT for a backtrace), a check that reports a problem, an
 * item that does not verify.  Each is printed with "FINDING"; with --keep,
 * the segment of a round with findings is copied there.  The run stops
 * early after --max-findings (default 20).  --config I runs every round
 * with configuration I of the list (0-based) instead of cycling.  Exits 1 if there was any
 * finding, 0 otherwise, 2 on a setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostcache.h"
#include "internal.h"
#include "selfcheck.h"
#include "spawn.h"
#include "worker_counters.h"

#define MAX_WORKERS 32
#define HANG_SECONDS 30
#define RUN_FOREVER_MS "864000000"

struct round_config {
	uint64_t size;
	uint32_t max_procs;
	uint32_t keys;
	uint32_t journal;        /* journal entries; 0: none */
	const char *what;
};

/* Small on purpose: the workers' data (three key spaces of up to 2 KiB
 * values) is several times the item memory, so blocks are evicted all the
 * time and kills land during eviction. */
static const struct round_config configs[] = {
	{ 1u << 20, 8, 2000, 0, "1 MiB, 8 slots" },
	{ 4u << 20, 16, 2000, 4096, "4 MiB, 16 slots, journal" },
	{ 512u << 10, 8, 400, 0, "512 KiB, 8 slots, few keys" },
	{ 2u << 20, 12, 8000, 64, "2 MiB, 12 slots, many keys, small journal" },
};

#define NCONFIGS (sizeof configs / sizeof configs[0])

struct totals {
	uint64_t kills_random, kills_attach, kills_evicting, mid_eviction;
	uint64_t kills_lease;
	uint64_t end_kills, checks, findings, rounds, items_verified;
	uint64_t reaped, spawned;
	uint64_t sets, gets, hits, evictions, blocks_evicted, second_chances,
		expirations;
};

struct worker_slot {
	pid_t pid;
	uint64_t started_ns;
	uint64_t last_heartbeat;
	uint64_t last_progress_ns;
	int zipf;
};

static struct {
	unsigned seconds, workers, round_s, check_every, max_findings;
	int config;           /* --config, or -1: cycle */
	uint64_t seed;
	const char *keep;
	char counters_path[128];
	struct worker_counters *counters;
	uint64_t rng;
	char name[96];
	hc_cache *c;
	const struct round_config *cfg;
	struct worker_slot w[MAX_WORKERS];
	struct totals t;
	uint64_t round_findings;
} S;

/* SIGINT or SIGTERM: finish the round (kill, reap, check) and stop. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static uint64_t rnd(uint64_t n)
{
	return n ? sv_rand(&S.rng) % n : 0;
}

__attribute__((format(printf, 1, 2)))
static void finding(const char *fmt, ...)
{
	va_list ap;

	S.t.findings++;
	S.round_findings++;
	fprintf(stderr, "torture: FINDING: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void report_problem(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "torture:   check: %s\n", msg);
}

static void start_worker(unsigned i)
{
	char ids[16], seed[32], keys[16];
	char *argv[16];
	int n = 0;

	snprintf(ids, sizeof ids, "%u", i + 1);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)(sv_rand(&S.rng) | 1));
	snprintf(keys, sizeof keys, "%u", S.cfg->keys);
	argv[n++] = "h_worker";
	argv[n++] = S.name;
	argv[n++] = ids;
	argv[n++] = RUN_FOREVER_MS;
	argv[n++] = "--mix";
	argv[n++] = "full";
	argv[n++] = "--counters";
	argv[n++] = S.counters_path;
	argv[n++] = "--keys";
	argv[n++] = keys;
	argv[n++] = "--seed";
	argv[n++] = seed;
	if (S.w[i].zipf)
		argv[n++] = "--zipf";
	argv[n] = NULL;
	S.w[i].pid = spawn("h_worker", argv);
	S.w[i].started_ns = mono_ns();
	S.w[i].last_progress_ns = S.w[i].started_ns;
	S.w[i].last_heartbeat = __atomic_load_n(&S.counters[i + 1].heartbeat_ns,
	                                        __ATOMIC_RELAXED);
	S.t.spawned++;
	if (S.w[i].pid < 0) {
		fprintf(stderr, "torture: fork: %s\n", strerror(errno));
		exit(2);
	}
}

/* Judge how worker I ended, given that we did (or did not) kill it. */
static void judge_exit(unsigned i, int st, int killed_by_us)
{
	if (killed_by_us && st == 128 + SIGKILL)
		return;
	if (st == 1)
		finding("worker %u (pid %d) reported a violation (its message "
		        "is above)", i + 1, (int)S.w[i].pid);
	else if (st == 2)
		finding("worker %u (pid %d) could not attach (message above)",
		        i + 1, (int)S.w[i].pid);
	else if (st > 128)
		finding("worker %u (pid %d) died of signal %d", i + 1,
		        (int)S.w[i].pid, st - 128);
	else
		finding("worker %u (pid %d) exited with status %d by itself",
		        i + 1, (int)S.w[i].pid, st);
}

/* SIGKILL worker I and judge how it ended (a death of anything else, or
 * an exit of its own before the signal landed, is a finding). */
static void kill_worker(unsigned i)
{
	kill(S.w[i].pid, SIGKILL);
	judge_exit(i, wait_status(S.w[i].pid), 1);
}

static void kill_and_restart(unsigned i)
{
	kill_worker(i);
	start_worker(i);
}

/* Workers run "forever": one that ended is a finding.  Restart it. */
static void collect_exited(void)
{
	for (unsigned i = 0; i < S.workers; i++) {
		int st;
		pid_t p = waitpid(S.w[i].pid, &st, WNOHANG);

		if (p != S.w[i].pid)
			continue;
		judge_exit(i, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), 0);
		start_worker(i);
	}
}

/* A worker whose counters have not moved for HANG_SECONDS is stuck: no
 * process may wait for another (DESIGN).  SIGABRT makes it print a
 * backtrace (h_worker's crash handler). */
static void watch_progress(void)
{
	uint64_t now = mono_ns();

	for (unsigned i = 0; i < S.workers; i++) {
		uint64_t hb = __atomic_load_n(&S.counters[i + 1].heartbeat_ns,
		                              __ATOMIC_RELAXED);

		if (hb != S.w[i].last_heartbeat) {
			S.w[i].last_heartbeat = hb;
			S.w[i].last_progress_ns = now;
			continue;
		}
		if (now - S.w[i].last_progress_ns < HANG_SECONDS * 1000000000ULL)
			continue;
		finding("worker %u (pid %d) made no progress for %d s", i + 1,
		        (int)S.w[i].pid, HANG_SECONDS);
		kill(S.w[i].pid, SIGABRT);
		sleep_us(200000);
		kill(S.w[i].pid, SIGKILL);
		wait_status(S.w[i].pid);
		start_worker(i);
	}
}

/* Kill the worker attached to process slot SLOT (see kill_worker).
 * Returns its index, or -1 when the slot is none of our workers'. */
static int kill_worker_in_slot(unsigned slot)
{
	uint64_t pid = load_relaxed(&S.c->procs[slot].pid);

	for (unsigned i = 0; i < S.workers; i++)
		if ((uint64_t)S.w[i].pid == pid) {
			kill_worker(i);
			return (int)i;
		}
	return -1;
}

/* Wait up to 200 ms for a block to be EVICTING under one of our workers,
 * and kill that worker.  Returns 1 if a kill happened. */
static int kill_an_evictor(void)
{
	hc_cache *c = S.c;
	uint64_t until = mono_ns() + 200000000ULL;

	while (mono_ns() < until) {
		for (uint32_t b = 0; b < c->nblocks; b++) {
			uint64_t w = load_relaxed(&c->block_words[b]);

			if (bw_state(w) != HC_BLOCK_EVICTING ||
			    bw_owner(w) >= c->max_procs)
				continue;
			int i = kill_worker_in_slot(bw_owner(w));

			if (i < 0)
				continue;
			S.t.kills_evicting++;
			if (load_relaxed(&c->block_words[b]) == w)
				S.t.mid_eviction++;
			start_worker((unsigned)i);
			return 1;
		}
	}
	return 0;
}

/* Wait up to 200 ms for a lease held by one of our workers, and kill the
 * holder.  Returns 1 if a kill happened. */
static int kill_a_lease_holder(void)
{
	hc_cache *c = S.c;
	uint64_t until = mono_ns() + 200000000ULL;

	while (mono_ns() < until) {
		for (uint32_t e = 0; e < c->nleases; e++) {
			uint64_t owner = load_relaxed(&c->leases[e].owner);
			unsigned slot = (unsigned)(owner & 0xffff);

			if (owner == 0 || slot == 0 || slot > c->max_procs)
				continue;
			int i = kill_worker_in_slot(slot - 1);

			if (i < 0)
				continue;
			S.t.kills_lease++;
			start_worker((unsigned)i);
			return 1;
		}
		sleep_us(200);
	}
	return 0;
}

static void one_kill(void)
{
	unsigned kind = (unsigned)rnd(10);
	unsigned i = (unsigned)rnd(S.workers);

	if (kind < 2 && kill_an_evictor())
		return;
	if (kind == 9 && kill_a_lease_holder())
		return;
	if (kind < 4) {
		/* Restart, then kill the new process while it attaches. */
		sleep_us(1000 + rnd(20000));
		kill_and_restart(i);
		sleep_us(rnd(3000));
		kill_and_restart(i);
		S.t.kills_random++;
		S.t.kills_attach++;
		return;
	}
	sleep_us(1000 + rnd(50000));
	kill_and_restart(i);
	S.t.kills_random++;
}

/* Reap, then check while the workers run.  No kill happens between the
 * two (we are the only killer), so a dead process left over is a finding. */
static void check_now(const char *when)
{
	hc_check_result r;
	int n = hc_reap(S.c);

	if (n < 0)
		finding("hc_reap failed %s: %s", when, hc_strerror(n));
	else
		S.t.reaped += (uint64_t)n;
	int rc = hc_check(S.c, 0, report_problem, NULL, &r);

	S.t.checks++;
	if (rc != 0)
		finding("hc_check %s: %d (%s): %llu problems", when, rc,
		        rc < 0 ? hc_strerror(rc) : "problems",
		        (unsigned long long)r.problems);
}

struct verify_walk {
	uint64_t items, bad;
};

/* The journal the killed workers wrote: every entry whole (a kind, a
 * length that fits), in sequence order; what they left half written is
 * counted lost, never returned. */
static void journal_verify(void)
{
	static hc_journal_entry e[64];
	hc_journal_cursor cur = { 0 };
	uint64_t last = 0, read = 0;
	long n;

	if (S.cfg->journal == 0)
		return;
	while ((n = hc_journal_read(S.c, &cur, e, 64)) > 0) {
		for (long i = 0; i < n; i++) {
			if (e[i].kind < HC_JOURNAL_KEY || e[i].kind > HC_JOURNAL_FLUSH ||
			    e[i].len > 256 || (read > 0 && e[i].seq <= last))
				finding("journal entry %llu: kind %u, %u bytes, after "
				        "%llu", (unsigned long long)e[i].seq, e[i].kind,
				        e[i].len, (unsigned long long)last);
			last = e[i].seq;
			read++;
		}
	}
	if (n < 0)
		finding("hc_journal_read failed: %s", hc_strerror((int)n));
}

static int verify_item(void *arg, const hc_item_view *v)
{
	struct verify_walk *vw = arg;
	const char *k = v->key;
	char why[200];

	vw->items++;
	if (v->klen > 2 && (k[0] == 's' || k[0] == 'p' || k[0] == 'l') &&
	    k[1] == ':') {
		if (sv_verify(v->value, v->vlen, v->key, v->klen, NULL, why,
		              sizeof why) == 0)
			return 0;
	} else if (v->klen > 2 && (k[0] == 'c' || k[0] == 'n') && k[1] == ':') {
		const char *d = v->value;
		uint32_t j = 0;

		while (j < v->vlen && d[j] >= '0' && d[j] <= '9')
			j++;
		if (v->vlen > 0 && v->vlen <= 20 && j == v->vlen)
			return 0;
		snprintf(why, sizeof why, "counter of %u bytes is not a number",
		         v->vlen);
	} else {
		snprintf(why, sizeof why, "no worker writes such a key");
	}
	vw->bad++;
	finding("walk: item '%.*s' does not verify: %s", (int)(v->klen > 60 ? 60 : v->klen),
	        k, why);
	return vw->bad >= 10;
}

/* The end of a round: everyone dead, reaped, and the segment whole. */
static void end_round_checks(void)
{
	hc_check_result r;
	hc_stats s;

	for (unsigned i = 0; i < S.workers; i++) {
		kill_worker(i);
		S.t.end_kills++;
	}
	int n = hc_reap(S.c);

	if (n >= 0)
		S.t.reaped += (uint64_t)n;
	int rc = hc_check(S.c, 0, report_problem, NULL, &r);

	S.t.checks++;
	if (rc != 0)
		finding("final hc_check: %d problems", rc);
	if (r.dead_procs != 0 || r.dead_blocks != 0)
		finding("after reaping: %llu dead processes, %llu blocks of dead "
		        "owners", (unsigned long long)r.dead_procs,
		        (unsigned long long)r.dead_blocks);
	if (r.blocks[HC_CHECK_BLOCK_EVICTING] != 0 || r.blocks[HC_CHECK_BLOCK_OPEN] > 1)
		finding("after reaping: %llu blocks evicting, %llu open (at most "
		        "ours expected)",
		        (unsigned long long)r.blocks[HC_CHECK_BLOCK_EVICTING],
		        (unsigned long long)r.blocks[HC_CHECK_BLOCK_OPEN]);
	for (uint32_t e = 0; e < S.c->nleases; e++) {
		uint64_t owner = load_relaxed(&S.c->leases[e].owner);

		if (owner != 0 || load_relaxed(&S.c->leases[e].key) != 0)
			finding("after reaping: lease entry %u still held (owner "
			        "%#llx)", e, (unsigned long long)owner);
	}
	if (hc_stats_get(S.c, &s) != 0) {
		finding("hc_stats_get failed");
	} else {
		if (s.procs_attached != 1)
			finding("after reaping: %u processes attached, expected 1 "
			        "(the supervisor)", s.procs_attached);
		if (s.blocks_free + s.blocks_open + s.blocks_sealed +
		            s.blocks_evicting != s.blocks_total)
			finding("blocks by state do not add up to %llu",
			        (unsigned long long)s.blocks_total);
		if (s.bytes_live + s.bytes_dead > s.bytes_limit)
			finding("live + dead bytes exceed item memory");
		S.t.sets += s.sets;
		S.t.gets += s.gets;
		S.t.hits += s.hits;
		S.t.evictions += s.evictions;
		S.t.blocks_evicted += s.blocks_evicted;
		S.t.second_chances += s.second_chances;
		S.t.expirations += s.expirations;
	}

	journal_verify();

	struct verify_walk vw = { 0, 0 };
	long walked = hc_walk(S.c, NULL, 0, HC_WALK_VALUES, verify_item, &vw);

	if (walked < 0)
		finding("hc_walk failed: %s", hc_strerror((int)walked));
	S.t.items_verified += vw.items - vw.bad;

	/* Life goes on: a fresh worker attaches, reads what the dead left
	 * (verifying every value) and writes its own. */
	char *argv[] = { "h_worker", S.name, "63", "1000", "--mix", "full", NULL };
	pid_t p = spawn("h_worker", argv);
	int st = wait_status(p);

	S.t.spawned++;
	if (st != 0)
		finding("a fresh worker after the round exited with %d", st);
	rc = hc_check(S.c, 0, report_problem, NULL, &r);
	S.t.checks++;
	if (rc != 0)
		finding("hc_check after the fresh worker: %d problems", rc);
}

static void keep_segment(unsigned round)
{
	char src[160], dst[512];

	if (S.keep == NULL)
		return;
	snprintf(src, sizeof src, "/dev/shm%s", S.name);
	snprintf(dst, sizeof dst, "%s/round-%u.seg", S.keep, round);
	mkdir(S.keep, 0755);
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char buf[65536];
	ssize_t n;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	fprintf(stderr, "torture: segment of round %u kept in %s\n", round, dst);
}

static void run_round(unsigned round, uint64_t until)
{
	hc_config cfg;
	uint64_t next_check;
	int rc;

	S.cfg = &configs[S.config >= 0 ? (unsigned)S.config
	                                : round % NCONFIGS];
	S.round_findings = 0;
	snprintf(S.name, sizeof S.name, "/hc-torture-%ld-%u", (long)getpid(), round);
	hc_unlink(S.name);
	hc_config_init(&cfg);
	cfg.size = S.cfg->size;
	cfg.max_procs = S.cfg->max_procs;
	cfg.stale_grace_ms = 50; /* leased keys are served stale a while */
	cfg.journal_entries = S.cfg->journal;
	if ((rc = hc_create(S.name, &cfg, &S.c)) != 0) {
		fprintf(stderr, "torture: create %s: %s\n", S.name, hc_last_error());
		exit(2);
	}
	uint64_t kills0 = S.t.kills_random + S.t.kills_evicting + S.t.kills_attach +
	                  S.t.kills_lease;

	for (unsigned i = 0; i < S.workers; i++) {
		S.w[i].zipf = (int)((i + round) % 2);
		start_worker(i);
	}
	next_check = mono_ns() + (uint64_t)S.check_every * 1000000000ULL;
	while (mono_ns() < until && S.t.findings < S.max_findings &&
	       !stop_requested) {
		one_kill();
		collect_exited();
		watch_progress();
		if (mono_ns() >= next_check) {
			check_now("while workers run");
			next_check = mono_ns() + (uint64_t)S.check_every * 1000000000ULL;
		}
	}
	end_round_checks();
	S.t.rounds++;
	printf("round %u (%s): %llu kills, %llu findings\n", round, S.cfg->what,
	       (unsigned long long)(S.t.kills_random + S.t.kills_evicting +
	                            S.t.kills_attach + S.t.kills_lease - kills0),
	       (unsigned long long)S.round_findings);
	fflush(stdout);
	if (S.round_findings > 0)
		keep_segment(round);
	hc_close(S.c);
	S.c = NULL;
	hc_unlink(S.name);
}

static void counters_create(void)
{
	size_t size = WORKER_COUNTERS_MAX * sizeof(struct worker_counters);

	snprintf(S.counters_path, sizeof S.counters_path,
	         "/dev/shm/hc-torture-counters-%ld", (long)getpid());
	int fd = open(S.counters_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		fprintf(stderr, "torture: %s: %s\n", S.counters_path, strerror(errno));
		exit(2);
	}
	S.counters = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (S.counters == MAP_FAILED) {
		fprintf(stderr, "torture: mmap counters: %s\n", strerror(errno));
		exit(2);
	}
}

static void print_summary(double elapsed)
{
	struct worker_counters sum;

	memset(&sum, 0, sizeof sum);
	for (unsigned i = 0; i < WORKER_COUNTERS_MAX; i++)
		worker_counters_add(&sum, &S.counters[i]);
	uint64_t kills = S.t.kills_random + S.t.kills_attach + S.t.kills_evicting +
	                 S.t.kills_lease;

	printf("torture: %.0f s, %llu rounds, %u workers at a time, seed %llu\n",
	       elapsed, (unsigned long long)S.t.rounds, S.workers,
	       (unsigned long long)S.seed);
	printf("processes: %llu started (%llu attached)\n",
	       (unsigned long long)S.t.spawned, (unsigned long long)sum.attached);
	printf("operations: %llu (verified reads %llu, hits %llu, misses %llu, "
	       "sets %llu, deletes %llu, cas %llu, touches %llu, incr/decr %llu, "
	       "invalidations %llu, leases granted %llu, lease waits timed out "
	       "%llu, busy %llu)\n",
	       (unsigned long long)sum.ops, (unsigned long long)sum.verified,
	       (unsigned long long)sum.hits, (unsigned long long)sum.misses,
	       (unsigned long long)sum.sets, (unsigned long long)sum.deletes,
	       (unsigned long long)sum.cas, (unsigned long long)sum.touches,
	       (unsigned long long)sum.arith,
	       (unsigned long long)sum.invalidations,
	       (unsigned long long)sum.lease_grants,
	       (unsigned long long)sum.lease_waits, (unsigned long long)sum.busy);
	printf("library counters: sets %llu, gets %llu, hits %llu, evictions %llu, "
	       "blocks evicted %llu, second chances %llu, expirations %llu\n",
	       (unsigned long long)S.t.sets, (unsigned long long)S.t.gets,
	       (unsigned long long)S.t.hits, (unsigned long long)S.t.evictions,
	       (unsigned long long)S.t.blocks_evicted,
	       (unsigned long long)S.t.second_chances,
	       (unsigned long long)S.t.expirations);
	printf("kills: %llu (random %llu, of them during attach %llu; of an "
	       "evictor %llu, %llu left the block mid-eviction; of a lease "
	       "holder %llu) + %llu at round ends\n",
	       (unsigned long long)kills, (unsigned long long)S.t.kills_random,
	       (unsigned long long)S.t.kills_attach,
	       (unsigned long long)S.t.kills_evicting,
	       (unsigned long long)S.t.mid_eviction,
	       (unsigned long long)S.t.kills_lease,
	       (unsigned long long)S.t.end_kills);
	printf("checks: %llu, slots reaped by the supervisor %llu, items verified "
	       "at round ends %llu\n",
	       (unsigned long long)S.t.checks, (unsigned long long)S.t.reaped,
	       (unsigned long long)S.t.items_verified);
	printf("findings: %llu\n", (unsigned long long)S.t.findings);
}

static void usage(void)
{
	fprintf(stderr, "usage: torture [--seconds N] [--workers N] [--round S] "
	        "[--check-every S] [--seed X] [--keep DIR] [--max-findings N] "
	        "[--config 0-%u]\n", (unsigned)NCONFIGS - 1);
	exit(2);
}

int main(int argc, char **argv)
{
	S.seconds = 60;
	S.workers = 4;
	S.round_s = 120;
	S.check_every = 5;
	S.max_findings = 20;
	S.config = -1;
	S.seed = (uint64_t)mono_ns() ^ (uint64_t)getpid();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		if (strcmp(a, "--seconds") == 0)
			S.seconds = (unsigned)atoi(v);
		else if (strcmp(a, "--workers") == 0)
			S.workers = (unsigned)atoi(v);
		else if (strcmp(a, "--round") == 0)
			S.round_s = (unsigned)atoi(v);
		else if (strcmp(a, "--check-every") == 0)
			S.check_every = (unsigned)atoi(v);
		else if (strcmp(a, "--seed") == 0)
			S.seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--keep") == 0)
			S.keep = v;
		else if (strcmp(a, "--max-findings") == 0)
			S.max_findings = (unsigned)atoi(v);
		else if (strcmp(a, "--config") == 0)
			S.config = atoi(v);
		else
			usage();
		i++;
	}
	if (S.workers == 0 || S.workers > MAX_WORKERS - 1 || S.seconds == 0 ||
	    S.round_s == 0 || S.check_every == 0 || S.config >= (int)NCONFIGS)
		usage();
	S.rng = S.seed | 1;
	counters_create();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	printf("torture: %u s, %u workers, rounds of %u s, seed %llu\n", S.seconds,
	       S.workers, S.round_s, (unsigned long long)S.seed);
	fflush(stdout);

	uint64_t start = mono_ns(), end = start + (uint64_t)S.seconds * 1000000000ULL;

	for (unsigned round = 0; mono_ns() < end && S.t.findings < S.max_findings &&
	                         !stop_requested; round++) {
		uint64_t until = mono_ns() + (uint64_t)S.round_s * 1000000000ULL;

		run_round(round, until < end ? until : end);
	}
	print_summary((double)(mono_ns() - start) / 1e9);
	unlink(S.counters_path);
	return S.t.findings ? 1 : 0;
}
