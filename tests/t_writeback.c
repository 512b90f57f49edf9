/*
 * t_writeback.c - the write-behind queue: off unless asked for; a set
 * written behind is stored and queued with its TTL, flags and CAS id, and
 * comes out in order, once popped; a full queue refuses with HC_ENOSPC
 * and stores nothing, then takes writes again once drained; a record over
 * half the ring is refused; a failed local store cancels its record; many
 * laps of mixed sizes through a small ring, checked record by record;
 * producer processes with a concurrent consumer: each accepted record
 * once, in per-producer order; the consumer killed mid-way and another
 * taking over: each at least once, in order; producers killed at random
 * points: nothing accepted lost, the consumer never stuck, the skips
 * counted; a record a killed writer left reserved skipped, one a live
 * writer holds waited for; a second consumer refused while the first
 * lives; threads of one handle producing while another consumes (the
 * part `make tsan` runs).
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "internal.h" /* to leave a record reserved, as a killed writer does */

#define RING (64u << 10)

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

static hc_cache *create_queue(struct test_fixture *f, const char *tag,
                              uint64_t bytes)
{
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);

	cfg.writeback_bytes = bytes;
	return test_fixture_create(f, tag, &cfg);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* xorshift64 */
static uint64_t next_random(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	return x ^ (x << 17);
}

/* A set of KEY to VAL written behind, with TTL. */
static int set_behind(hc_cache *c, const void *key, size_t klen,
                      const void *val, size_t vlen, uint64_t ttl_ms)
{
	hc_set_options o;

	memset(&o, 0, sizeof o);
	o.ttl_ms = ttl_ms;
	o.writeback = 1;
	return hc_set_ex(c, key, klen, val, vlen, &o);
}

/* Value bytes of record (P, I), LEN of them: they check themselves. */
static void value_fill(unsigned char *v, size_t len, unsigned p, unsigned i)
{
	for (size_t k = 0; k < len; k++)
		v[k] = (unsigned char)(p * 31 + i * 7 + k);
}

static bool value_ok(const unsigned char *v, size_t len, unsigned p,
                     unsigned i)
{
	for (size_t k = 0; k < len; k++)
		if (v[k] != (unsigned char)(p * 31 + i * 7 + k))
			return false;
	return true;
}

static void assert_record(const hc_writeback_rec *r, const char *key,
                          const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);

	if (r->klen != kl || r->vlen != vl || memcmp(r->key, key, kl) != 0 ||
	    memcmp(r->value, val, vl) != 0)
		fail_msg("record at %llu is '%.*s' = '%.*s'; want '%s' = '%s'",
		         (unsigned long long)r->pos, (int)r->klen,
		         (const char *)r->key, (int)r->vlen,
		         (const char *)r->value, key, val);
}

static void test_off_by_default(void **state)
{
	hc_cache *c = test_fixture_create(*state, "wb-off", NULL);
	hc_writeback_rec r;
	char buf[64];

	assert_hc(set_behind(c, KEY("k"), KEY("v"), 0), HC_EINVAL);
	assert_non_null(strstr(hc_last_error(), "writeback_bytes"));
	assert_missing(c, KEY("k"));
	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_EINVAL);
	assert_int_equal(((struct test_fixture *)*state)->info.writeback_bytes, 0);
}

static void test_round_trip(void **state)
{
	hc_cache *c = create_queue(*state, "wb-trip", 100000);
	hc_writeback_rec r;
	hc_set_options o;
	hc_stats s;
	hc_info info;
	uint64_t cas = 0, records, bytes;
	char buf[64];

	assert_hc_ok(hc_info_get(c, &info));
	assert_u64_equal(info.writeback_bytes, 102400); /* rounded to pages */
	assert_u64_equal(info.writeback_max_record, 51200);
	memset(&o, 0, sizeof o);
	o.writeback = 1;
	o.ttl_ms = 60000;
	o.client_flags = 77;
	o.cas_out = &cas;
	assert_hc_ok(hc_set_ex(c, KEY("a"), KEY("one"), &o));
	assert_hc_ok(set_behind(c, KEY("b"), KEY("two"), 0));
	assert_hc_ok(set_behind(c, KEY("c"), KEY(""), 0));
	assert_value(c, KEY("a"), "one", 3); /* stored locally too */
	assert_hc_ok(hc_writeback_depth(c, &records, &bytes));
	assert_u64_equal(records, 3);
	assert_u64_equal(bytes, 56 + 56 + 56);

	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf));
	assert_record(&r, "a", "one");
	assert_u64_equal(r.ttl_ms, 60000);
	assert_u64_equal(r.client_flags, 77);
	assert_u64_equal(r.cas, cas);
	assert_true(cas != 0);
	assert_u64_equal(r.slot, c->slot);
	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf)); /* same again */
	assert_record(&r, "a", "one");
	assert_hc_ok(hc_writeback_pop(c, &r));
	assert_hc(hc_writeback_pop(c, &r), HC_EINVAL); /* twice */
	assert_hc(hc_writeback_peek(c, &r, buf, 2), HC_EBUFSIZE);
	assert_u64_equal(r.klen + r.vlen, 4);
	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf));
	assert_record(&r, "b", "two");
	assert_u64_equal(r.ttl_ms, 0);
	assert_hc_ok(hc_writeback_pop(c, &r));
	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf));
	assert_record(&r, "c", "");
	assert_hc_ok(hc_writeback_pop(c, &r));
	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_ENOTFOUND);
	assert_hc_ok(hc_writeback_depth(c, &records, &bytes));
	assert_u64_equal(records, 0);
	assert_u64_equal(bytes, 0);

	/* A plain set is not queued; an add that fails cancels its record. */
	assert_hc_ok(hc_set(c, KEY("plain"), KEY("v"), 0));
	memset(&o, 0, sizeof o);
	o.writeback = 1;
	o.mode = HC_STORE_ADD;
	assert_hc(hc_set_ex(c, KEY("a"), KEY("again"), &o), HC_EEXISTS);
	assert_value(c, KEY("a"), "one", 3);
	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_ENOTFOUND);
	assert_hc_ok(hc_stats_get(c, &s));
	assert_u64_equal(s.wb_enqueued, 3);
	assert_u64_equal(s.wb_drained, 3);
	assert_u64_equal(s.wb_refused_full, 0);
	assert_u64_equal(s.wb_skipped_dead, 0);
	assert_u64_equal(s.wb_depth_bytes, 0);
}

static void test_full_queue(void **state)
{
	hc_cache *c = create_queue(*state, "wb-full", RING);
	static unsigned char val[2000], buf[4096];
	hc_writeback_rec r;
	hc_stats s;
	char key[32];
	int n = 0, rc;

	memset(val, 'x', sizeof val);
	for (;; n++) {
		int kl = snprintf(key, sizeof key, "full:%d", n);

		if ((rc = set_behind(c, key, (size_t)kl, val, sizeof val, 0)) != 0)
			break;
	}
	/* 2,056-byte records: 31 fit in 64 KiB, the 32nd does not. */
	assert_int_equal(n, 31);
	assert_hc(rc, HC_ENOSPC);
	assert_non_null(strstr(hc_last_error(), "full"));
	assert_non_null(strstr(hc_last_error(), "63736 of its 65536 bytes"));
	assert_non_null(strstr(hc_last_error(), "may not be draining"));
	assert_non_null(strstr(hc_last_error(), "writeback_bytes"));
	assert_missing(c, KEY("full:31")); /* refused: not stored either */
	assert_hc_ok(hc_stats_get(c, &s));
	assert_u64_equal(s.wb_refused_full, 1);
	assert_u64_equal(s.wb_depth_records, 31);

	/* Too large for the ring at all: half of it is the limit. */
	static unsigned char big[40000];

	assert_hc(set_behind(c, KEY("big"), big, sizeof big, 0), HC_EVALUE);
	assert_non_null(strstr(hc_last_error(), "half its ring"));

	/* Drained one: room for one more (it wraps round the end). */
	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf));
	assert_hc_ok(hc_writeback_pop(c, &r));
	assert_hc_ok(set_behind(c, KEY("full:31"), val, sizeof val, 0));
	assert_hc(set_behind(c, KEY("full:32"), val, sizeof val, 0), HC_ENOSPC);
	for (int i = 1; i <= 31; i++) {
		int kl = snprintf(key, sizeof key, "full:%d", i);

		assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf));
		if (r.klen != (uint32_t)kl || memcmp(r.key, key, (size_t)kl) != 0)
			fail_msg("record %d is '%.*s'", i, (int)r.klen,
			         (const char *)r.key);
		assert_hc_ok(hc_writeback_pop(c, &r));
	}
	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_ENOTFOUND);
}

/* Many laps of a small ring with records of mixed sizes, the producer
 * running ahead of the consumer by random amounts; every record checked
 * against what was queued, in order. */
static void test_wraparound(void **state)
{
	hc_cache *c = create_queue(*state, "wb-wrap", RING);
	static unsigned char val[8192], buf[8192 + 64];
	static unsigned lens[4096];
	unsigned queued = 0, drained = 0, wrote = 0;
	uint64_t rng = 88172645463325252ULL, bytes_through = 0;
	hc_writeback_rec r;

	while (bytes_through < 40ULL * RING && wrote < 100000) {
		/* Fill a random stretch, up to full. */
		rng = next_random(rng);
		for (unsigned burst = (unsigned)(rng % 64); burst > 0; burst--) {
			rng = next_random(rng);
			unsigned vlen = (unsigned)(rng % 8) == 0 ? (unsigned)(rng % 8000)
			                                         : (unsigned)(rng % 200);
			char key[32];
			int kl = snprintf(key, sizeof key, "w%u", queued);

			value_fill(val, vlen, 1, queued);
			int rc = set_behind(c, key, (size_t)kl, val, vlen, queued);

			if (rc == HC_ENOSPC)
				break;
			assert_hc_ok(rc);
			lens[queued++ % 4096] = vlen;
			assert_true(queued - drained < 4096);
		}
		/* Drain a random stretch. */
		rng = next_random(rng);
		for (unsigned burst = (unsigned)(rng % 80); burst > 0; burst--) {
			int rc = hc_writeback_peek(c, &r, buf, sizeof buf);

			if (rc == HC_ENOTFOUND) {
				assert_int_equal(drained, queued);
				break;
			}
			assert_hc_ok(rc);
			char key[32];
			int kl = snprintf(key, sizeof key, "w%u", drained);

			if (r.klen != (uint32_t)kl || memcmp(r.key, key, (size_t)kl) ||
			    r.vlen != lens[drained % 4096] || r.ttl_ms != drained ||
			    !value_ok(r.value, r.vlen, 1, drained))
				fail_msg("record %u: '%.*s', %u bytes, ttl %llu", drained,
				         (int)r.klen, (const char *)r.key, r.vlen,
				         (unsigned long long)r.ttl_ms);
			assert_hc_ok(hc_writeback_pop(c, &r));
			bytes_through += r.klen + r.vlen + 48;
			drained++;
		}
		wrote++;
	}
	print_message("# %u records, %llu laps of a 64 KiB ring, %u rounds\n",
	              drained, (unsigned long long)(bytes_through / RING), wrote);
	assert_true(drained > 1000);
}

/* ------------------------------------------------------------------ */
/* processes                                                           */

#define PRODUCERS 4
#define PER_PRODUCER 3000

/* What the processes of a test share, in an anonymous shared mapping:
 * which records were accepted, how often each was seen, and the order the
 * consumers saw them in. */
struct shared_log {
	int stop;                              /* producers are done */
	unsigned accepted[PRODUCERS][PER_PRODUCER];
	unsigned seen[PRODUCERS][PER_PRODUCER];
	unsigned last[PRODUCERS];              /* + 1 of the last seen */
	unsigned out_of_order;
	unsigned bad;                          /* a record that lied */
	unsigned long consumed;
};

static struct shared_log *log_new(void)
{
	struct shared_log *l = mmap(NULL, sizeof *l, PROT_READ | PROT_WRITE,
	                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(l != MAP_FAILED);
	memset(l, 0, sizeof *l);
	return l;
}

/* A producer process: records P:0.. in order, waiting (bounded) while
 * the queue is full; each success noted in L. */
static void producer(hc_cache *c, struct shared_log *l, unsigned p,
                     unsigned count)
{
	static unsigned char val[600];

	for (unsigned i = 0; i < count; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "p%u:%u", p, i), rc;
		size_t vlen = (i * 37u + p) % sizeof val;

		value_fill(val, vlen, p, i);
		for (int waits = 0; waits < 20000; waits++) {
			rc = set_behind(c, key, (size_t)kl, val, vlen, 0);
			if (rc != HC_ENOSPC)
				break;
			nap_us(100);
		}
		if (rc != 0)
			_exit(3);
		__atomic_store_n(&l->accepted[p][i], 1, __ATOMIC_RELEASE);
	}
}

/* Note record R in L: a record of ours (p, i) with its value intact, in
 * per-producer order (the one re-sent after a consumer's death may
 * repeat). */
static void log_record(struct shared_log *l, const hc_writeback_rec *r)
{
	char key[32] = { 0 };
	unsigned p, i;

	memcpy(key, r->key, r->klen < 31 ? r->klen : 31);
	if (sscanf(key, "p%u:%u", &p, &i) != 2 || p >= PRODUCERS ||
	    i >= PER_PRODUCER || r->vlen != (i * 37u + p) % 600 ||
	    !value_ok(r->value, r->vlen, p, i)) {
		l->bad++;
		return;
	}
	if (i + 1 < l->last[p])
		l->out_of_order++;
	l->last[p] = i + 1;
	l->seen[p][i]++;
	l->consumed++;
}

/* A consumer: drain into L until the producers are done and the queue is
 * empty; with KILL_AT, stop dead (pause for SIGKILL) between a peek and
 * its pop after that many records. */
static void consumer(hc_cache *c, struct shared_log *l, unsigned long kill_at)
{
	static unsigned char buf[1024];
	hc_writeback_rec r;
	uint64_t deadline = ms_now() + 60000;

	while (ms_now() < deadline) {
		int rc = hc_writeback_peek(c, &r, buf, sizeof buf);

		if (rc == HC_ENOTFOUND) {
			uint64_t bytes = 1;

			if (__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE) &&
			    hc_writeback_depth(c, NULL, &bytes) == 0 && bytes == 0)
				return;
			nap_us(50);
			continue;
		}
		if (rc != 0)
			_exit(5);
		log_record(l, &r);
		if (kill_at != 0 && l->consumed == kill_at)
			for (;;)
				pause(); /* sent, not popped: the parent kills us */
		if (hc_writeback_pop(c, &r) != 0)
			_exit(6);
	}
	_exit(7); /* stuck */
}

static void start_producers(struct test_fixture *f, struct shared_log *l,
                            pid_t *pids)
{
	hc_cache *w;

	for (unsigned p = 0; p < PRODUCERS; p++)
		if ((pids[p] = fork_attached(f->name, &w)) == 0) {
			producer(w, l, p, PER_PRODUCER);
			_exit(hc_close(w) == 0 ? 0 : 4);
		}
}

static void assert_log(const struct shared_log *l, bool exactly_once)
{
	unsigned missing = 0, twice = 0;

	for (unsigned p = 0; p < PRODUCERS; p++)
		for (unsigned i = 0; i < PER_PRODUCER; i++) {
			missing += l->accepted[p][i] && l->seen[p][i] == 0;
			twice += l->seen[p][i] > 1;
		}
	if (missing || l->bad || l->out_of_order || (exactly_once && twice))
		fail_msg("%u accepted records never seen, %u seen twice, %u bad, "
		         "%u out of order", missing, twice, l->bad, l->out_of_order);
}

static void test_producers_and_consumer(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_queue(f, "wb-procs", RING), *w;
	struct shared_log *l = log_new();
	pid_t pids[PRODUCERS], cons;
	hc_stats s;

	if ((cons = fork_attached(f->name, &w)) == 0) {
		consumer(w, l, 0);
		_exit(hc_close(w) == 0 ? 0 : 4);
	}
	start_producers(f, l, pids);
	for (unsigned p = 0; p < PRODUCERS; p++)
		assert_int_equal(wait_status(pids[p]), 0);
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(wait_status(cons), 0);
	assert_log(l, true);
	assert_u64_equal(l->consumed, PRODUCERS * PER_PRODUCER);
	assert_hc_ok(hc_stats_get(c, &s));
	assert_u64_equal(s.wb_enqueued, PRODUCERS * PER_PRODUCER);
	assert_u64_equal(s.wb_drained, PRODUCERS * PER_PRODUCER);
	assert_u64_equal(s.wb_depth_records, 0);
	print_message("# %llu refusals of a full queue waited out\n",
	              (unsigned long long)s.wb_refused_full);
	munmap(l, sizeof *l);
}

static void test_consumer_killed(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_queue(f, "wb-ckill", RING), *w;
	struct shared_log *l = log_new();
	pid_t pids[PRODUCERS], cons;
	uint64_t t0;

	if ((cons = fork_attached(f->name, &w)) == 0) {
		consumer(w, l, 2000);
		_exit(8);
	}
	start_producers(f, l, pids);
	t0 = ms_now();
	while (__atomic_load_n(&l->consumed, __ATOMIC_ACQUIRE) < 2000 &&
	       ms_now() - t0 < 30000)
		nap_us(1000);
	nap_us(20000); /* let it sit between peek and pop */
	kill(cons, SIGKILL);
	assert_int_equal(wait_status(cons), 128 + SIGKILL);
	if ((cons = fork_attached(f->name, &w)) == 0) {
		consumer(w, l, 0); /* takes the dead one's claim over */
		_exit(hc_close(w) == 0 ? 0 : 4);
	}
	for (unsigned p = 0; p < PRODUCERS; p++)
		assert_int_equal(wait_status(pids[p]), 0);
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(wait_status(cons), 0);
	assert_log(l, false);
	/* The one in hand when it died is sent again, nothing else. */
	assert_u64_equal(l->consumed, PRODUCERS * PER_PRODUCER + 1);
	(void)c;
	munmap(l, sizeof *l);
}

/* Producers killed after random delays, again and again, while a
 * consumer drains: every record a producer saw accepted is drained, the
 * consumer ends within its bound, and the skipped records are at most one
 * per kill. */
static void test_producers_killed(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_queue(f, "wb-pkill", RING), *w;
	struct shared_log *l = log_new();
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	unsigned kills = 0;
	pid_t cons;
	hc_stats s;

	if ((cons = fork_attached(f->name, &w)) == 0) {
		consumer(w, l, 0);
		_exit(hc_close(w) == 0 ? 0 : 4);
	}
	for (unsigned round = 0; round < 60; round++) {
		pid_t pid;
		unsigned p = round % PRODUCERS;

		/* Each round's producer counts from 0, its number's log cleared
		 * at the end of the round before. */
		if ((pid = fork_attached(f->name, &w)) == 0) {
			producer(w, l, p, PER_PRODUCER);
			_exit(0);
		}
		rng = next_random(rng);
		nap_us((long)(rng % 4000));
		kill(pid, SIGKILL);
		int st = wait_status(pid);

		kills += st == 128 + SIGKILL;
		/* Its records are drained before its number runs again. */
		uint64_t t0 = ms_now(), bytes = 1;

		while (ms_now() - t0 < 10000 &&
		       (hc_writeback_depth(c, NULL, &bytes) != 0 || bytes != 0))
			nap_us(500);
		if (bytes != 0)
			fail_msg("round %u: %llu bytes never drained (consumer stuck)",
			         round, (unsigned long long)bytes);
		assert_log(l, false);
		memset(l->seen[p], 0, sizeof l->seen[p]);
		memset(l->accepted[p], 0, sizeof l->accepted[p]);
		l->last[p] = 0;
	}
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(wait_status(cons), 0);
	assert_hc_ok(hc_stats_get(c, &s));
	print_message("# %u producers killed, %llu records skipped, %llu drained\n",
	              kills, (unsigned long long)s.wb_skipped_dead,
	              (unsigned long long)s.wb_drained);
	assert_true(s.wb_skipped_dead <= kills);
	/* A producer killed between its done mark and its count leaves one
	 * drained record uncounted as enqueued. */
	if (s.wb_drained < s.wb_enqueued || s.wb_drained > s.wb_enqueued + kills)
		fail_msg("%llu drained, %llu enqueued, %u kills",
		         (unsigned long long)s.wb_drained,
		         (unsigned long long)s.wb_enqueued, kills);
	munmap(l, sizeof *l);
}

/* The slot of the child PID, attached to C's segment. */
static unsigned slot_of(hc_cache *c, pid_t pid)
{
	hc_proc_info procs[TEST_SEG_PROCS];
	unsigned n = 0;

	assert_hc_ok(hc_procs(c, procs, TEST_SEG_PROCS, &n));
	for (unsigned i = 0; i < n && i < TEST_SEG_PROCS; i++)
		if (procs[i].pid == (uint32_t)pid && procs[i].alive)
			return procs[i].slot;
	fail_msg("pid %d holds no slot", (int)pid);
	return 0;
}

/* A child that reserves a record and stops, as a writer would in the
 * middle of a set; or, with CONSUME, claims the consumer. */
static pid_t child_paused(struct test_fixture *f, bool consume)
{
	int ready[2];
	hc_cache *w;

	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork_attached(f->name, &w);

	if (pid == 0) {
		struct wb_record r = { .key = "held", .klen = 4, .val = "v", .vlen = 1 };
		struct wb_reservation res;
		hc_writeback_rec rec;
		char buf[64];
		int rc = consume ? hc_writeback_peek(w, &rec, buf, sizeof buf)
		                 : do_writeback_reserve(w, &r, &res);

		if (rc != 0 && rc != HC_ENOTFOUND)
			_exit(3);
		child_park(ready);
	}
	child_parked(ready);
	return pid;
}

static void test_half_written(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_queue(f, "wb-half", RING);
	hc_writeback_rec r;
	hc_stats s;
	char buf[64];

	pid_t pid = child_paused(f, false);

	assert_hc_ok(set_behind(c, KEY("after"), KEY("v"), 0));
	/* A live writer at it: nothing yet, however long we look. */
	for (int i = 0; i < 3; i++) {
		assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_ENOTFOUND);
		nap_us(10000);
	}
	kill(pid, SIGKILL);
	assert_int_equal(wait_status(pid), 128 + SIGKILL);
	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf));
	assert_record(&r, "after", "v");
	assert_hc_ok(hc_writeback_pop(c, &r));
	assert_hc_ok(hc_stats_get(c, &s));
	assert_u64_equal(s.wb_skipped_dead, 1);
	assert_u64_equal(s.wb_enqueued, 1);

	/* Killed, and its slot attached again by another process: skipped
	 * as well, not waited for on the newcomer's account. */
	pid = child_paused(f, false);
	unsigned slot = slot_of(c, pid);

	kill(pid, SIGKILL);
	wait_status(pid);
	hc_cache *again;

	assert_hc_ok(hc_open(f->name, &again)); /* reaps, may take the slot */
	assert_hc_ok(set_behind(c, KEY("later"), KEY("w"), 0));
	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf));
	assert_record(&r, "later", "w");
	assert_hc_ok(hc_writeback_pop(c, &r));
	print_message("# the reserving slot %u, the new handle's %u\n", slot,
	              again->slot);
	hc_close(again);
	assert_hc_ok(hc_stats_get(c, &s));
	assert_u64_equal(s.wb_skipped_dead, 2);
}

static void test_one_consumer(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_queue(f, "wb-one", RING);
	hc_writeback_rec r;
	char buf[64];

	assert_hc_ok(set_behind(c, KEY("k"), KEY("v"), 0));
	pid_t pid = child_paused(f, true);

	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_EBUSY);
	assert_non_null(strstr(hc_last_error(), "already has a consumer"));
	assert_hc(hc_writeback_pop(c, &r), HC_EBUSY);
	kill(pid, SIGKILL);
	assert_int_equal(wait_status(pid), 128 + SIGKILL);
	assert_hc_ok(hc_writeback_peek(c, &r, buf, sizeof buf)); /* taken over */
	assert_record(&r, "k", "v");
	assert_hc_ok(hc_writeback_pop(c, &r));
	/* Released on close: another process may consume. */
	assert_hc_ok(hc_writeback_release(c));
	pid = child_paused(f, true);
	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_EBUSY);
	kill(pid, SIGKILL);
	wait_status(pid);
}

/* ------------------------------------------------------------------ */
/* threads of one handle (make tsan)                                   */

#define THREADS 3
#define PER_THREAD 2000

static struct {
	hc_cache *c;
	unsigned char seen[THREADS][PER_THREAD];
	unsigned got, bad;
	int failed;
} T;

static void *thread_producer(void *arg)
{
	unsigned p = (unsigned)(uintptr_t)arg;
	unsigned char val[300];

	for (unsigned i = 0; i < PER_THREAD; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "t%u:%u", p, i), rc = HC_ENOSPC;
		size_t vlen = (i * 13u) % sizeof val;

		value_fill(val, vlen, p, i);
		for (int waits = 0; waits < 20000 && rc == HC_ENOSPC; waits++)
			if ((rc = set_behind(T.c, key, (size_t)kl, val, vlen, 0)) ==
			    HC_ENOSPC)
				nap_us(50);
		if (rc != 0)
			__atomic_store_n(&T.failed, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *thread_consumer(void *arg)
{
	static unsigned char buf[512];
	unsigned last[THREADS] = { 0 };
	hc_writeback_rec r;
	uint64_t deadline = ms_now() + 60000;

	(void)arg;
	while (T.got < THREADS * PER_THREAD && ms_now() < deadline) {
		int rc = hc_writeback_peek(T.c, &r, buf, sizeof buf);
		unsigned p, i;
		char key[32] = { 0 };

		if (rc == HC_ENOTFOUND) {
			nap_us(20);
			continue;
		}
		if (rc != 0)
			break;
		memcpy(key, r.key, r.klen < 31 ? r.klen : 31);
		if (sscanf(key, "t%u:%u", &p, &i) != 2 || p >= THREADS ||
		    i >= PER_THREAD || i + 1 < last[p] || T.seen[p][i]++ ||
		    !value_ok(r.value, r.vlen, p, i))
			T.bad++;
		else
			last[p] = i + 1;
		T.got++;
		if (hc_writeback_pop(T.c, &r) != 0)
			break;
	}
	return NULL;
}

static void test_threads_of_one_handle(void **state)
{
	pthread_t prod[THREADS], cons;

	memset(&T, 0, sizeof T);
	T.c = create_queue(*state, "wb-threads", RING);
	assert_int_equal(pthread_create(&cons, NULL, thread_consumer, NULL), 0);
	for (unsigned p = 0; p < THREADS; p++)
		assert_int_equal(pthread_create(&prod[p], NULL, thread_producer,
		                                (void *)(uintptr_t)p), 0);
	for (unsigned p = 0; p < THREADS; p++)
		pthread_join(prod[p], NULL);
	pthread_join(cons, NULL);
	assert_int_equal(T.failed, 0);
	assert_int_equal(T.bad, 0);
	assert_int_equal(T.got, THREADS * PER_THREAD);
}

/* Damaged positions in the header (a tail off the word grid, a freeing
 * word far past the ring): the queue says it is damaged, and neither a
 * peek nor a consumer's claim writes outside the ring or loops for ever;
 * the first item word after the ring stays as it was. */
static void test_damaged_positions(void **state)
{
	hc_cache *c = create_queue(*state, "wb-damage", 65536);
	hc_writeback_rec r;
	char buf[64];
	uint64_t size = c->wb_size;
	const hc_word *after = (const hc_word *)c->items;
	uint64_t before;

	assert_hc_ok(set_behind(c, KEY("k"), KEY("v"), 0));
	before = load_relaxed(after);
	store_relaxed(&c->hdr->wb_tail, size - 3);
	store_relaxed(&c->hdr->wb_head, size + 61);
	store_relaxed(&c->hdr->wb_freeing, size + 61);
	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_ECORRUPT);
	assert_hc(set_behind(c, KEY("k2"), KEY("v"), 0), HC_ECORRUPT);
	assert_u64_equal(load_relaxed(after), before);
	store_relaxed(&c->hdr->wb_tail, 0);
	store_relaxed(&c->hdr->wb_head, UINT64_MAX - 7);
	store_relaxed(&c->hdr->wb_freeing, UINT64_MAX - 7);
	assert_hc_ok(hc_writeback_release(c));
	assert_hc(hc_writeback_peek(c, &r, buf, sizeof buf), HC_ECORRUPT);
	assert_u64_equal(load_relaxed(after), before);
}

static void test_bad_arguments(void **state)
{
	char name[64];
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);
	hc_cache *c = NULL;

	(void)state;
	cfg.writeback_bytes = 1000;
	assert_hc(test_segment_create(name, sizeof name, "wb-bad", &cfg, &c),
	          HC_EINVAL);
	assert_null(c);
	assert_non_null(strstr(hc_last_error(), "writeback_bytes 1000 is outside"));
	cfg.writeback_bytes = 1ULL << 32;
	assert_hc(test_segment_create(name, sizeof name, "wb-bad", &cfg, &c),
	          HC_EINVAL);
	assert_hc(hc_writeback_peek(NULL, NULL, NULL, 0), HC_EINVAL);
	assert_hc(hc_writeback_pop(NULL, NULL), HC_EINVAL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest all[] = {
		fixture_test(test_off_by_default),
		fixture_test(test_round_trip),
		fixture_test(test_full_queue),
		fixture_test(test_wraparound),
		fixture_test(test_producers_and_consumer),
		fixture_test(test_consumer_killed),
		fixture_test(test_producers_killed),
		fixture_test(test_half_written),
		fixture_test(test_one_consumer),
		fixture_test(test_threads_of_one_handle),
		fixture_test(test_damaged_positions),
		fixture_test(test_bad_arguments),
	};
	/* Under ThreadSanitizer (make tsan), or with --threads: the part it
	 * can follow.  It sees one mapping's accesses; the processes of the
	 * other tests share the segment through mappings of their own. */
	const struct CMUnitTest threads[] = {
		fixture_test(test_round_trip),
		fixture_test(test_wraparound),
		fixture_test(test_threads_of_one_handle),
	};

	if (UNDER_TSAN || (argc > 1 && strcmp(argv[1], "--threads") == 0))
		return run_tap_group(threads, NULL, NULL);
	return run_tap_group(all, NULL, NULL);
}
