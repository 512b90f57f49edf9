/*
 * t_clean - a cache keeps everything that fits.  Overwrites leave dead
 * copies in the block log; while the live data is under the watermark,
 * making room cleans the deadest block (its live items move forward)
 * instead of evicting, so no live key is lost however long the overwrites
 * go on: in one process, in several at once, and when a writer is killed
 * mid-clean (its reaper finishes the move).  hc_maintain() does that work
 * ahead of the writers.
 */
#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#include "testutil.h"
#include "internal.h" /* the free map, for test_free_map_bits_come_back */

#define NKEYS 12000u
#define VLEN 200u

static char name[64];

/* An 8 MiB segment; 12,000 items of about 240 bytes are about 40 % of its
 * item memory.  A roomy index, so that only the log is under test. */
static hc_cache *make_segment(void)
{
	return test_segment_shaped(name, sizeof name, "clean", 8u << 20, 8, 64);
}

/* Key i's value in round r: self-describing, so a read can tell whose
 * bytes it got. */
static size_t value_of(unsigned i, unsigned r, char *val)
{
	int n = snprintf(val, VLEN, "key %u round %u ", i, r);

	memset(val + n, 'v', VLEN - (size_t)n);
	return VLEN;
}

static int put(hc_cache *c, unsigned i, unsigned r)
{
	char key[32], val[VLEN];
	int kl = snprintf(key, sizeof key, "k:%u", i);

	return hc_set(c, key, (size_t)kl, val, value_of(i, r, val), 0);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Overwrite random keys of [FIRST, FIRST+N) for OPS sets; every tenth key
 * is hot (set five times as often), so blocks die unevenly. */
static void overwrite(hc_cache *c, unsigned first, unsigned n, unsigned ops,
                      uint64_t seed)
{
	uint64_t s = seed | 1;

	for (unsigned op = 0; op < ops; op++) {
		uint64_t x = rng_next(&s);
		unsigned i = (x & 7) < 4 ? (unsigned)(x >> 8) % (n / 10) * 10
		                         : (unsigned)(x >> 8) % n;

		assert_hc_ok(put(c, first + i, op + 1));
	}
}

/* How many of [0, NKEYS) are missing or hold another key's bytes. */
static unsigned count_lost(hc_cache *c)
{
	unsigned lost = 0;

	for (unsigned i = 0; i < NKEYS; i++) {
		char key[32], val[VLEN + 1], want[32];
		size_t len;
		int kl = snprintf(key, sizeof key, "k:%u", i);
		int wl = snprintf(want, sizeof want, "key %u round ", i);

		if (hc_get(c, key, (size_t)kl, val, sizeof val, &len) != 0 ||
		    len != VLEN || memcmp(val, want, (size_t)wl) != 0)
			lost++;
	}
	return lost;
}

static void load_all(hc_cache *c)
{
	for (unsigned i = 0; i < NKEYS; i++)
		assert_hc_ok(put(c, i, 0));
}

/* The log wraps many times; every key stays, nothing is evicted, and the
 * cleaning shows in the statistics. */
static void test_overwrites_keep_every_key(void **state)
{
	hc_cache *c = make_segment();
	hc_stats s;

	load_all(c);
	/* 12,000 x 240 B written 25 times over: the 8 MiB log wraps
	 * about 8 times. */
	overwrite(c, 0, NKEYS, 25 * NKEYS, 42);
	assert_hc_ok(hc_stats_get(c, &s));
	unsigned lost = count_lost(c);

	if (lost != 0 || s.evictions != 0 || s.bucket_evictions != 0)
		fail_msg("lost %u of %u keys; %llu evictions, %llu bucket "
		         "evictions (want 0 each)", lost, NKEYS,
		         (unsigned long long)s.evictions,
		         (unsigned long long)s.bucket_evictions);
	if (s.blocks_cleaned == 0 || s.bytes_cleaned == 0)
		fail_msg("no block was cleaned (%llu blocks, %llu bytes)",
		         (unsigned long long)s.blocks_cleaned,
		         (unsigned long long)s.bytes_cleaned);
	if (s.bytes_set < 25ull * NKEYS * VLEN)
		fail_msg("bytes_set %llu is below the %llu bytes of values set",
		         (unsigned long long)s.bytes_set,
		         25ull * NKEYS * VLEN);
	printf("# %llu blocks cleaned, write amplification %.3f\n",
	       (unsigned long long)s.blocks_cleaned,
	       (double)s.bytes_cleaned / (double)s.bytes_set);
	test_segment_remove(name, c);
}

/* Over the watermark, eviction does its job: a set never fails. */
static void test_over_watermark_evicts(void **state)
{
	hc_cache *c = make_segment();
	hc_stats s;

	for (unsigned i = 0; i < 4 * NKEYS; i++)
		assert_hc_ok(put(c, i, 0));
	assert_hc_ok(hc_stats_get(c, &s));
	if (s.evictions == 0)
		fail_msg("4x the capacity set, yet no eviction");
	test_segment_remove(name, c);
}

static pid_t spawn_overwriter(unsigned first, unsigned n, unsigned ops,
                              uint64_t seed)
{
	hc_cache *c;
	pid_t pid = fork_attached(name, &c);

	if (pid == 0) {
		overwrite(c, first, n, ops, seed);
		hc_close(c);
		_exit(0);
	}
	return pid;
}

/* Two processes overwrite their halves of the keys at once. */
static void test_two_writers_keep_every_key(void **state)
{
	hc_cache *c = make_segment();
	pid_t a, b;

	load_all(c);
	a = spawn_overwriter(0, NKEYS / 2, 12 * NKEYS, 7);
	b = spawn_overwriter(NKEYS / 2, NKEYS / 2, 12 * NKEYS, 9);
	assert_int_equal(wait_status(a), 0);
	assert_int_equal(wait_status(b), 0);
	unsigned lost = count_lost(c);

	if (lost != 0)
		fail_msg("lost %u of %u keys with two writers", lost, NKEYS);
	test_segment_remove(name, c);
}

/* Read keys drawn as overwrite() draws them, raising their CLOCK counters
 * while the cleaner moves them, until killed. */
static pid_t spawn_reader(uint64_t seed)
{
	hc_cache *c;
	pid_t pid = fork_attached(name, &c);

	if (pid == 0) {
		uint64_t s = seed | 1;
		char key[32], val[VLEN];

		for (;;) {
			uint64_t x = rng_next(&s);
			unsigned i = (x & 7) < 4 ? (unsigned)(x >> 8) % (NKEYS / 10) * 10
			                         : (unsigned)(x >> 8) % NKEYS;
			int kl = snprintf(key, sizeof key, "k:%u", i);

			(void)hc_get(c, key, (size_t)kl, val, sizeof val, NULL);
		}
	}
	return pid;
}

/* Readers raise the CLOCK counters of the very slots a cleaner is
 * swinging: a move that loses that race looks again, it never evicts. */
static void test_readers_during_cleaning_evict_nothing(void **state)
{
	hc_cache *c = make_segment();
	pid_t r = spawn_reader(3), w;
	hc_stats s;

	load_all(c);
	w = spawn_overwriter(0, NKEYS, 40 * NKEYS, 11);
	assert_int_equal(wait_status(w), 0);
	kill(r, SIGKILL);
	assert_int_equal(waitpid(r, NULL, 0), r);
	assert_true(hc_reap(c) >= 0);
	assert_hc_ok(hc_stats_get(c, &s));
	unsigned lost = count_lost(c);

	printf("# %llu blocks cleaned, %llu hits read meanwhile\n",
	       (unsigned long long)s.blocks_cleaned,
	       (unsigned long long)s.hits);
	if (lost != 0 || s.evictions != 0)
		fail_msg("lost %u of %u keys, %llu evictions (want 0 each)", lost,
		         NKEYS, (unsigned long long)s.evictions);
	test_segment_remove(name, c);
}

/* A writer SIGKILLed at random points, many of them inside a clean: the
 * reaper moves what the dead cleaner had not, so no key is lost. */
static void test_kill_mid_clean_loses_nothing(void **state)
{
	hc_cache *c = make_segment();
	unsigned mid_walk = 0, rounds = 0;
	uint64_t s = 12345;

	load_all(c);
	for (; rounds < 60 || (mid_walk < 3 && rounds < 400); rounds++) {
		pid_t pid = spawn_overwriter(0, NKEYS, 1u << 30, rounds + 1);
		struct timespec ts = { 0, (long)(2000000 + rng_next(&s) % 8000000) };
		hc_stats st;
		int ws;

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &ws, 0), pid);
		assert_hc_ok(hc_stats_get(c, &st));
		mid_walk += st.blocks_evicting > 0;
		assert_true(hc_reap(c) >= 0);
	}
	unsigned lost = count_lost(c);

	hc_stats st;

	assert_hc_ok(hc_stats_get(c, &st));
	printf("# %u kills, %u of them inside a clean; %llu evictions, "
	       "%llu expirations, %llu bucket evictions\n", rounds, mid_walk,
	       (unsigned long long)st.evictions,
	       (unsigned long long)st.expirations,
	       (unsigned long long)st.bucket_evictions);
	if (lost != 0)
		fail_msg("lost %u of %u keys after %u kills (%u mid-clean)", lost,
		         NKEYS, rounds, mid_walk);
	test_segment_remove(name, c);
}

/* Writers free blocks in steps: a walk stays under way between sets (a
 * block EVICTING while no set runs), a child forked with the handle
 * leaves its parent's walk alone, and detaching finishes the walk. */
static void test_walks_in_steps_and_detach_finishes(void **state)
{
	hc_cache *c = make_segment();
	hc_check_result r;
	hc_stats st;
	unsigned between = 0, polls = 0;

	load_all(c);
	for (unsigned round = 0; round < 25 && between < 20; round++) {
		for (unsigned k = 0; k < 200; k++) {
			overwrite(c, 0, NKEYS, 50, round * 1000 + k + 1);
			assert_hc_ok(hc_stats_get(c, &st));
			polls++;
			between += st.blocks_evicting > 0;
		}
	}
	printf("# a walk was under way between sets at %u of %u polls\n",
	       between, polls);
	if (between == 0)
		fail_msg("no block stayed EVICTING between sets: walks are "
		         "not spread over the writers");
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Through the inherited handle: a slot of its own. */
		overwrite(c, 0, NKEYS, 4 * NKEYS, 77);
		hc_close(c);
		_exit(0);
	}
	assert_int_equal(wait_status(pid), 0);
	overwrite(c, 0, NKEYS, 4 * NKEYS, 78);
	assert_int_equal(count_lost(c), 0);
	hc_close(c);

	assert_hc_ok(hc_open(name, &c));
	assert_hc_ok(hc_stats_get(c, &st));
	assert_true(hc_check(c, 0, NULL, NULL, &r) >= 0);
	if (st.blocks_evicting != 0 || r.problems != 0)
		fail_msg("after every writer detached: %llu blocks EVICTING, "
		         "%llu problems (want 0 each)",
		         (unsigned long long)st.blocks_evicting,
		         (unsigned long long)r.problems);
	assert_int_equal(count_lost(c), 0);
	assert_int_equal(st.evictions, 0);
	test_segment_remove(name, c);
}

/* A maintainer frees blocks ahead of need, by cleaning, so that a writer
 * that follows it writes without freeing any itself. */
static void test_maintain_frees_ahead_of_writers(void **state)
{
	hc_cache *c = make_segment(), *m;
	hc_stats before, after;
	hc_info in;
	long freed = 0, n;
	int ws;

	(void)state;
	load_all(c);
	overwrite(c, 0, NKEYS, 4 * NKEYS, 91);
	assert_hc_ok(hc_close(c)); /* finishes its walk */
	assert_hc_ok(hc_open(name, &m));
	assert_hc_ok(hc_info_get(m, &in));
	assert_hc_ok(hc_stats_get(m, &before));
	for (unsigned calls = 0; (n = hc_maintain(m, 1000000)) > 0; calls++) {
		freed += n;
		assert_true(calls < 1000);
	}
	assert_int_equal(n, 0);
	assert_hc_ok(hc_stats_get(m, &after));
	printf("# free blocks %llu -> %llu; %ld freed, %llu cleaned, "
	       "%llu evicted\n", (unsigned long long)before.blocks_free,
	       (unsigned long long)after.blocks_free, freed,
	       (unsigned long long)(after.blocks_cleaned - before.blocks_cleaned),
	       (unsigned long long)(after.blocks_evicted - before.blocks_evicted));
	assert_true(freed > 0);
	assert_true(after.blocks_free > before.blocks_free);
	assert_int_equal(after.blocks_evicting, 0);
	assert_int_equal(after.evictions, before.evictions);
	assert_int_equal(hc_maintain(m, 0), 0); /* nothing left to do */

	hc_cache *w;
	pid_t pid = fork_attached(name, &w);

	if (pid == 0) {
		hc_stats self;

		/* Half a block of overwrites, in a slot of its own. */
		for (unsigned i = 0; i < in.block_size / 2 / (VLEN + 40); i++)
			if (put(w, i, 9000) != 0)
				_exit(3);
		if (hc_stats_self(w, &self) != 0 || hc_close(w) != 0)
			_exit(4);
		_exit(self.blocks_cleaned + self.blocks_evicted == 0 ? 0 : 5);
	}
	ws = wait_status(pid);
	if (ws != 0)
		fail_msg("the writer after hc_maintain exited %d (5: it freed "
		         "blocks itself)", ws);
	assert_int_equal(count_lost(m), 0);
	assert_check_clean(m);
	assert_hc(hc_maintain(NULL, 0), HC_EINVAL);
	hc_close(m);
	hc_unlink(name);
}

/* Clear every bit of the free map, as processes killed between freeing a
 * block and marking it would leave it. */
static void free_map_lose(hc_cache *c)
{
	for (uint32_t i = 0; i < c->nmap; i++)
		store_relaxed(&c->free_map[i], 0);
	assert_int_equal(block_free_count(c, UINT32_MAX), 0);
}

/* The free map is a hint beside the block words: bits a killed process
 * never set come back when its slot is reaped, and with check --repair;
 * then writes use those blocks, evicting and cleaning nothing. */
static void test_free_map_bits_come_back(void **state)
{
	hc_cache *c = make_segment(), *w;
	hc_check_result r;
	hc_stats st, after;

	(void)state;
	for (unsigned i = 0; i < NKEYS / 4; i++)
		assert_hc_ok(put(c, i, 0));
	assert_hc_ok(hc_stats_get(c, &st));
	assert_true(st.blocks_free > 8);
	assert_int_equal(block_free_count(c, UINT32_MAX), st.blocks_free);

	int ready[2];

	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork_attached(name, &w);

	if (pid == 0)
		child_park(ready);
	child_parked(ready); /* it holds a slot */
	free_map_lose(c);
	kill(pid, SIGKILL);
	wait_status(pid);
	assert_true(hc_reap(c) >= 1);
	assert_int_equal(block_free_count(c, UINT32_MAX), st.blocks_free);

	free_map_lose(c);
	assert_true(hc_check(c, 1, NULL, NULL, &r) >= 0);
	assert_int_equal(block_free_count(c, UINT32_MAX), st.blocks_free);
	for (unsigned i = NKEYS / 4; i < NKEYS; i++)
		assert_hc_ok(put(c, i, 0));
	assert_hc_ok(hc_stats_get(c, &after));
	assert_int_equal(after.evictions, st.evictions);
	assert_int_equal(after.blocks_cleaned, st.blocks_cleaned);
	assert_int_equal(count_lost(c), 0);
	assert_check_clean(c);
	hc_close(c);
	hc_unlink(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overwrites_keep_every_key),
		cmocka_unit_test(test_over_watermark_evicts),
		cmocka_unit_test(test_two_writers_keep_every_key),
		cmocka_unit_test(test_readers_during_cleaning_evict_nothing),
		cmocka_unit_test(test_kill_mid_clean_loses_nothing),
		cmocka_unit_test(test_walks_in_steps_and_detach_finishes),
		cmocka_unit_test(test_maintain_frees_ahead_of_writers),
		cmocka_unit_test(test_free_map_bits_come_back),
	};

	return run_tap_group(tests, NULL, NULL);
}
