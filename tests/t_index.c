/*
 * t_index - the index keeps every key while it has room.  Two buckets per
 * key and moves between them (index.c) keep every key at 90 % of the slots
 * in use, at load and under churn; a reader never misses a key that is
 * there while other processes move entries around it, nor while a mover is
 * stalled mid-move; a mover killed at
 * any point loses nothing once reaped; and with the default creation
 * options, a million small items in a segment twice their size all stay.
 */
#include <signal.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "testutil.h"
#include "internal.h"

static char name[64];

/* A segment whose item memory holds many more small items than its index
 * has slots, so that only the index is under test. */
static hc_cache *make_segment(uint64_t size)
{
	return test_segment_shaped(name, sizeof name, "index", size, 8, 1024);
}

static uint32_t slots_of(hc_cache *c)
{
	hc_info info;

	assert_hc_ok(hc_info_get(c, &info));
	return info.index_slots;
}

static int put(hc_cache *c, char tag, unsigned i)
{
	char key[32], val[16];
	int kl = snprintf(key, sizeof key, "%c:%u", tag, i);
	int vl = snprintf(val, sizeof val, "v%u", i);

	return hc_set(c, key, (size_t)kl, val, (size_t)vl, 0);
}

static int del(hc_cache *c, char tag, unsigned i)
{
	char key[32];
	int kl = snprintf(key, sizeof key, "%c:%u", tag, i);

	return hc_delete(c, key, (size_t)kl);
}

/* Is key TAG:I there, with its own value? */
static bool has(hc_cache *c, char tag, unsigned i)
{
	char key[32], val[16], want[16];
	size_t len;
	int kl = snprintf(key, sizeof key, "%c:%u", tag, i);
	int wl = snprintf(want, sizeof want, "v%u", i);

	return hc_get(c, key, (size_t)kl, val, sizeof val, &len) == 0 &&
	       len == (size_t)wl && memcmp(val, want, len) == 0;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void no_loss(hc_cache *c, const char *what, unsigned lost, unsigned n)
{
	hc_stats s;

	assert_hc_ok(hc_stats_get(c, &s));
	printf("# %s: %u keys, %llu moves, %llu bucket evictions, %llu "
	       "evictions\n", what, n, (unsigned long long)s.index_moves,
	       (unsigned long long)s.bucket_evictions,
	       (unsigned long long)s.evictions);
	if (lost != 0 || s.bucket_evictions != 0 || s.evictions != 0)
		fail_msg("%s: lost %u of %u keys; %llu bucket evictions, %llu "
		         "evictions (want 0 each)", what, lost, n,
		         (unsigned long long)s.bucket_evictions,
		         (unsigned long long)s.evictions);
	if (s.index_moves == 0)
		fail_msg("%s: no entry moved, so the test proves nothing", what);
}

/* Load 90 % of the slots: every key stays. */
static void test_load_to_90_percent(void **state)
{
	hc_cache *c = make_segment(16u << 20);
	unsigned n = slots_of(c) / 10 * 9, lost = 0;

	for (unsigned i = 0; i < n; i++)
		assert_hc_ok(put(c, 'k', i));
	for (unsigned i = 0; i < n; i++)
		lost += !has(c, 'k', i);
	no_loss(c, "load to 90%", lost, n);
	test_segment_remove(name, c);
}

/* At 90 %, delete a random key and set a new one, four times as many times
 * as there are slots: the entries that moved to their second bucket do not
 * clog it, and every key stays. */
static void test_churn_at_90_percent(void **state)
{
	hc_cache *c = make_segment(8u << 20);
	unsigned n = slots_of(c) / 10 * 9, next = n, lost = 0;
	unsigned *live = malloc(sizeof *live * n);
	uint64_t s = 99;

	assert_non_null(live);
	for (unsigned i = 0; i < n; i++) {
		assert_hc_ok(put(c, 'k', i));
		live[i] = i;
	}
	for (unsigned op = 0; op < 4 * slots_of(c); op++) {
		unsigned at = (unsigned)(rng_next(&s) % n);

		assert_hc_ok(del(c, 'k', live[at]));
		live[at] = next++;
		assert_hc_ok(put(c, 'k', live[at]));
	}
	for (unsigned i = 0; i < n; i++)
		lost += !has(c, 'k', live[i]);
	no_loss(c, "churn at 90%", lost, n);
	free(live);
	test_segment_remove(name, c);
}

/* Churn keys TAG:0..2N-1, N of them present at a time (each set deletes
 * the key N behind it), until killed or OPS ops are done. */
static void churn(hc_cache *c, char tag, unsigned n, unsigned ops)
{
	for (unsigned op = 0; op < ops; op++) {
		if (op >= n && del(c, tag, (op - n) % (2 * n)) != 0)
			_exit(3);
		if (put(c, tag, op % (2 * n)) != 0)
			_exit(4);
	}
}

static pid_t spawn_churner(char tag, unsigned n, unsigned ops)
{
	hc_cache *c;
	pid_t pid = fork_attached(name, &c);

	if (pid == 0) {
		churn(c, tag, n, ops);
		hc_close(c);
		_exit(0);
	}
	return pid;
}

/* Reads the stable keys s:0..N-1 until the stop word is set; exits 1 if
 * one was ever missing. */
static pid_t spawn_reader(unsigned n, volatile int *stop)
{
	hc_cache *c;
	pid_t pid = fork_attached(name, &c);

	if (pid == 0) {
		unsigned misses = 0, reads = 0;

		while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE))
			for (unsigned i = 0; i < n; i++, reads++)
				misses += !has(c, 's', i);
		if (misses)
			fprintf(stderr, "reader: %u misses of %u reads\n", misses,
			        reads);
		hc_close(c);
		_exit(misses ? 1 : 0);
	}
	return pid;
}

static void wait_ok(pid_t pid, const char *who)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s exited with status %#x", who, st);
}

static unsigned count_stable_lost(hc_cache *c, unsigned n)
{
	unsigned lost = 0;

	for (unsigned i = 0; i < n; i++)
		lost += !has(c, 's', i);
	return lost;
}

/* Two processes churn keys at 90 % of the slots, moving entries of
 * a stable set back and forth; a third reads the stable set all along and
 * must never miss one of its keys. */
static void test_reader_never_misses_during_moves(void **state)
{
	hc_cache *c = make_segment(8u << 20);
	unsigned slots = slots_of(c), stable = slots / 2, n = slots / 5 - 2;
	volatile int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(stop != MAP_FAILED);
	for (unsigned i = 0; i < stable; i++)
		assert_hc_ok(put(c, 's', i));
	pid_t r = spawn_reader(stable, stop);
	pid_t a = spawn_churner('a', n, 30 * n);
	pid_t b = spawn_churner('b', n, 30 * n);

	int sa, sb;

	assert_int_equal(waitpid(a, &sa, 0), a);
	assert_int_equal(waitpid(b, &sb, 0), b);
	/* Stop the reader first, whatever the churners say: a failure must
	 * not leave it reading for ever. */
	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
	wait_ok(r, "reader (it missed a key that was there)");
	if (!WIFEXITED(sa) || WEXITSTATUS(sa) != 0 ||
	    !WIFEXITED(sb) || WEXITSTATUS(sb) != 0)
		fail_msg("churners exited with status %#x and %#x (3: a key "
		         "it had set was not there to delete)", sa, sb);
	no_loss(c, "moves under a reader", count_stable_lost(c, stable), stable);
	assert_check_clean(c);
	munmap((void *)stop, 4096);
	test_segment_remove(name, c);
}

/* A mover stalled between steps (c) and (d) of index.c's invariant 6, its
 * entry in no slot and both of the key's buckets marked, as when it is
 * descheduled there.  Planted by hand: K's entry leaves its slot for our
 * TOMB, our RES takes a vacant slot of K's other bucket.  Fills *SRC,
 * *DST and *W. */
static void plant_stall(hc_cache *c, unsigned owner, unsigned *key_i,
                        hc_word **src, hc_word **dst, uint64_t *w,
                        bool logged)
{
	char key[256]; /* room for every length XXH3 reads, as gcc sees it */
	struct key k;
	struct found f;
	uint32_t alt;

	for (unsigned i = 0;; i++) {
		int kl = snprintf(key, sizeof key, "s:%u", i);

		assert_hc_ok(put(c, 's', i));
		key_prepare(c, &k, key, (size_t)kl);
		alt = key_alt(c, &k);
		assert_int_equal(index_find(c, &k, &f), 0);
		if (alt != k.bucket) {
			*key_i = i;
			break;
		}
	}
	uint32_t other = f.bucket == k.bucket ? alt : k.bucket;

	*src = slot_at(c, f.bucket, f.slot);
	*dst = NULL;
	for (unsigned i = 0; i < HC_BUCKET_SLOTS && *dst == NULL; i++)
		if (load_acquire(slot_at(c, other, i)) == 0)
			*dst = slot_at(c, other, i);
	assert_non_null(*dst);
	*w = f.word;
	if (logged) { /* as do_move logs it, before its first marker */
		hc_word *log = c->procs[owner].move;
		uint32_t to = f.bucket == k.bucket ? alt : k.bucket;

		store_relaxed(&log[1], (uint64_t)to << 4 |
		              (unsigned)(*dst - slot_at(c, to, 0)));
		store_relaxed(&log[2], *w);
		store_release(&log[0], (uint64_t)f.bucket << 4 | f.slot |
		              MOVE_LOGGED);
	}
	store_release(*dst, sw_marker(SW_MARK_RES, owner));
	store_release(*src, sw_marker(SW_MARK_TOMB, owner));
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A child that attaches, says so in SHARED[0], times one lookup of s:KI
 * into *WAITED (ms) and exits 0 on a hit, 1 on a miss. */
static pid_t spawn_timed_lookup(unsigned ki, volatile int *shared,
                                volatile double *waited)
{
	hc_cache *r;
	pid_t pid = fork_attached(name, &r);

	if (pid == 0) {
		struct timespec t0;

		__atomic_store_n(&shared[0], 1, __ATOMIC_RELEASE);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		bool hit = has(r, 's', ki);

		*waited = ms_since(&t0);
		_exit(hit ? 0 : 1);
	}
	return pid;
}

/* A reader that meets a live mover's markers waits for the move to land
 * rather than report the key absent, however long the mover is off the
 * CPU; behind a dead mover's markers it gives up at once (the reaper lands
 * or undoes the move). */
static void test_reader_waits_for_stalled_mover(void **state)
{
	hc_cache *c = make_segment(8u << 20);
	volatile int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile double *waited = (volatile double *)(shared + 2);
	hc_word *src, *dst;
	unsigned ki;
	uint64_t w;
	int st;

	assert_true(shared != MAP_FAILED);
	plant_stall(c, c->slot, &ki, &src, &dst, &w, true);
	pid_t pid = spawn_timed_lookup(ki, shared, waited);
	while (!__atomic_load_n(&shared[0], __ATOMIC_ACQUIRE))
		sched_yield();
	struct timespec stall = { 0, 50 * 1000000L };

	nanosleep(&stall, NULL);
	store_release(dst, w);   /* (d) */
	store_release(src, 0);   /* (e) */
	store_release(&c->self->move[0], 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("the reader reported s:%u absent while its move was "
		         "stalled (status %#x)", ki, st);
	printf("# the reader waited %.1f ms for a mover stalled 50 ms\n",
	       *waited);
	if (*waited < 10)
		fail_msg("the reader read before the stall ended (%.1f ms): "
		         "the test proved nothing", *waited);

	/* Now a dead owner: a child takes a process slot and dies. */
	shared[0] = 0;
	hc_cache *m;

	if ((pid = fork_attached(name, &m)) == 0) {
		shared[1] = (int)m->slot;
		_exit(0);
	}
	assert_int_equal(wait_status(pid), 0);
	store_release(dst, sw_marker(SW_MARK_RES, (unsigned)shared[1]));
	store_release(src, sw_marker(SW_MARK_TOMB, (unsigned)shared[1]));
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool hit = has(c, 's', ki);
	double dead_ms = ms_since(&t0);

	printf("# behind a dead mover's markers a lookup returned in %.2f ms\n",
	       dead_ms);
	assert_false(hit); /* the entry is in no slot and no log */
	if (dead_ms > 500)
		fail_msg("a dead mover stalled the lookup %.0f ms", dead_ms);
	store_release(dst, 0);
	store_release(src, w);
	assert_true(hc_reap(c) >= 0);
	assert_true(has(c, 's', ki));

	/* Markers of a live slot with no move logged (scribbled bytes): no
	 * move will take them back, and neither their owner nor another
	 * process waits on them. */
	store_release(dst, sw_marker(SW_MARK_RES, c->slot));
	store_release(src, sw_marker(SW_MARK_TOMB, c->slot));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hit = has(c, 's', ki);
	double own_ms = ms_since(&t0);

	pid = spawn_timed_lookup(ki, shared, waited);
	assert_int_equal(wait_status(pid), 1); /* a miss */
	assert_false(hit);
	printf("# behind scribbled markers of a live slot a lookup returned "
	       "in %.2f ms (their owner), %.2f ms (another process)\n",
	       own_ms, *waited);
	if (own_ms > 500 || *waited > 500)
		fail_msg("scribbled markers stalled a lookup %.0f / %.0f ms",
		         own_ms, *waited);
	store_release(dst, 0);
	store_release(src, w);
	assert_true(has(c, 's', ki));
	assert_true(hc_reap(c) >= 0); /* the slot of the child */
	assert_check_clean(c);
	munmap((void *)shared, 4096);
	test_segment_remove(name, c);
}

/* Churners SIGKILLed at random points, some of them mid-move: once the
 * dead are reaped, every stable key is there and no marker is left. */
static void test_kill_mid_move_loses_nothing(void **state)
{
	hc_cache *c = make_segment(8u << 20);
	unsigned slots = slots_of(c), stable = slots / 2, n = slots / 5;
	uint64_t s = 4242, moves0 = 0;
	unsigned rounds;
	hc_stats st;

	for (unsigned i = 0; i < stable; i++)
		assert_hc_ok(put(c, 's', i));
	for (rounds = 0; rounds < 40; rounds++) {
		pid_t pid = spawn_churner((char)('A' + rounds % 20), n, 1u << 30);
		struct timespec ts = { 0, (long)(5000000 + rng_next(&s) % 20000000) };
		int ws;

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &ws, 0), pid);
		assert_true(hc_reap(c) >= 0);
		/* Room for the next churner: drop what this one left. */
		for (unsigned i = 0; i < 2 * n; i++)
			del(c, (char)('A' + rounds % 20), i);
	}
	assert_hc_ok(hc_stats_get(c, &st));
	moves0 = st.index_moves;
	printf("# %u kills during %llu moves\n", rounds,
	       (unsigned long long)moves0);
	unsigned lost = count_stable_lost(c, stable);

	if (lost != 0)
		fail_msg("lost %u of %u stable keys after %u kills (%llu bucket "
		         "evictions, %llu evictions)", lost, stable, rounds,
		         (unsigned long long)st.bucket_evictions,
		         (unsigned long long)st.evictions);
	if (moves0 == 0)
		fail_msg("no entry moved, so the test proves nothing");
	assert_check_clean(c);
	test_segment_remove(name, c);
}

/* The default options: 1,000,000 keys of 16 bytes with 32-byte values in
 * a segment twice the size of that data all stay. */
static void test_million_small_items_default_options(void **state)
{
	const unsigned n = 1000000;
	uint64_t size = 2ull * n * (16 + 32);
	hc_config cfg;
	hc_cache *c;
	unsigned lost = 0;
	char key[17], val[32];

	test_segment_name(name, sizeof name, "index");
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = size;
	int rc = hc_create(name, &cfg, &c);

	if (rc == HC_ENOSPC) {
		printf("# skip: no room for a %llu-byte segment in /dev/shm: "
		       "%s\n", (unsigned long long)size, hc_last_error());
		skip();
	}
	assert_hc_ok(rc);
	memset(val, 'v', sizeof val);
	for (unsigned i = 0; i < n; i++) {
		snprintf(key, sizeof key, "key-%012u", i);
		memcpy(val, key, 16);
		assert_hc_ok(hc_set(c, key, 16, val, sizeof val, 0));
	}
	for (unsigned i = 0; i < n; i++) {
		char got[32];
		size_t len;

		snprintf(key, sizeof key, "key-%012u", i);
		lost += hc_get(c, key, 16, got, sizeof got, &len) != 0 ||
		        len != 32 || memcmp(got, key, 16) != 0;
	}
	hc_stats s;

	assert_hc_ok(hc_stats_get(c, &s));
	printf("# 1,000,000 items of 16+32 bytes in %llu bytes: %u lost, "
	       "%llu moves\n", (unsigned long long)size, lost,
	       (unsigned long long)s.index_moves);
	if (lost != 0)
		fail_msg("lost %u of %u keys with the default options (%llu "
		         "bucket evictions, %llu evictions)", lost, n,
		         (unsigned long long)s.bucket_evictions,
		         (unsigned long long)s.evictions);
	test_segment_remove(name, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_to_90_percent),
		cmocka_unit_test(test_churn_at_90_percent),
		cmocka_unit_test(test_reader_never_misses_during_moves),
		cmocka_unit_test(test_reader_waits_for_stalled_mover),
		cmocka_unit_test(test_kill_mid_move_loses_nothing),
		cmocka_unit_test(test_million_small_items_default_options),
	};

	return run_tap_group(tests, NULL, NULL);
}
