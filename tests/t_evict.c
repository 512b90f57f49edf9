/*
 * t_evict - a full segment evicts instead of failing, and CLOCK gives a
 * second chance: an item read since it was written outlives one that was
 * not, and a working set read over and over survives a scan of one-time
 * keys many times the size of the cache.  In a segment of the fewest
 * blocks its process count allows, processes that began freeing a block
 * and then stopped writing never leave a writer without room.
 */

#include "testutil.h"

static char name[64];

/* A roomy index, so that what we observe is CLOCK, not a full bucket. */
static hc_cache *make_segment(uint64_t size)
{
	return test_segment_shaped(name, sizeof name, "evict", size, 4, 64);
}

static int put(hc_cache *c, const char *prefix, unsigned i, size_t vlen)
{
	char key[32], val[1024];
	int kl = snprintf(key, sizeof key, "%s:%u", prefix, i);

	memset(val, 'a' + (int)(i % 26), vlen);
	return hc_set(c, key, (size_t)kl, val, vlen, 0);
}

static bool present(hc_cache *c, const char *prefix, unsigned i)
{
	char key[32];
	size_t n;
	int kl = snprintf(key, sizeof key, "%s:%u", prefix, i);

	return hc_get(c, key, (size_t)kl, NULL, 0, &n) == HC_EBUFSIZE;
}

static void test_full_segment_never_fails_a_set(void **state)
{
	hc_cache *c = make_segment(4 << 20);
	hc_stats s;
	hc_info in;

	(void)state;
	assert_hc_ok(hc_info_get(c, &in));
	/* Ten times what the segment holds. */
	unsigned n = (unsigned)(in.item_memory * 10 / 500);

	for (unsigned i = 0; i < n; i++)
		assert_hc_ok(put(c, "fill", i, 500));
	assert_hc_ok(hc_stats_get(c, &s));
	assert_true(s.evictions > 0);
	assert_true(s.blocks_evicted > 0);
	assert_true(s.bytes_live + s.bytes_dead <= s.bytes_limit);
	/* The newest items are there; the oldest are gone. */
	assert_true(present(c, "fill", n - 1));
	assert_false(present(c, "fill", 0));
	assert_check_clean(c);
	test_segment_remove(name, c);
}

static void test_read_item_gets_second_chance(void **state)
{
	hc_cache *c = make_segment(4 << 20);
	hc_stats s;

	(void)state;
	/* Written together, so they share the oldest block. */
	assert_hc_ok(put(c, "hot", 0, 100));
	assert_hc_ok(put(c, "cold", 0, 100));
	assert_true(present(c, "hot", 0));
	/* Write until the first block has been evicted, and a little more,
	 * reading nothing. */
	unsigned i = 0;

	do {
		assert_hc_ok(put(c, "filler", i++, 500));
		assert_hc_ok(hc_stats_get(c, &s));
	} while (s.blocks_evicted < 2);
	assert_true(present(c, "hot", 0));
	assert_false(present(c, "cold", 0));
	assert_true(s.second_chances >= 1);
	test_segment_remove(name, c);
}

static void test_working_set_survives_scan(void **state)
{
	hc_cache *c = make_segment(4 << 20);
	hc_info in;
	unsigned hot = 200, kept = 0;

	(void)state;
	assert_hc_ok(hc_info_get(c, &in));
	for (unsigned i = 0; i < hot; i++)
		assert_hc_ok(put(c, "ws", i, 200));
	/* A scan of one-time keys, 8 times the item memory, with the
	 * working set read between every batch. */
	unsigned scan = (unsigned)(in.item_memory * 8 / 500), batch = 500;

	for (unsigned i = 0; i < scan; i++) {
		assert_hc_ok(put(c, "scan", i, 500));
		if (i % batch == 0)
			for (unsigned j = 0; j < hot; j++)
				(void)present(c, "ws", j);
	}
	for (unsigned j = 0; j < hot; j++)
		kept += present(c, "ws", j);
	print_message("working set kept: %u of %u\n", kept, hot);
	assert_true(kept >= hot * 95 / 100);
	assert_false(present(c, "scan", 0));
	test_segment_remove(name, c);
}

#define IDLE_PROCS 11
#define BIG_VALUE (4u << 10)

/* Child ID of test_idle_walkers, attached as C: set fresh keys, reading each once (so
 * that eviction moves them, and we hold an open block for moved items
 * too), until a walk of ours is under way between sets (ID others hold
 * theirs); say so on TOLD, and stay attached, writing nothing, until WAIT
 * closes. */
static void idle_walker(hc_cache *c, unsigned id, int told, int wait)
{
	static char val[BIG_VALUE];
	hc_stats st;
	char key[32], ok = 'w', buf;

	for (unsigned i = 0;; i++) {
		int kl = snprintf(key, sizeof key, "idle%u:%u", id, i);

		size_t n;

		if (i == 100000 || hc_set(c, key, (size_t)kl, val, sizeof val, 0) != 0 ||
		    hc_get(c, key, (size_t)kl, NULL, 0, &n) != HC_EBUFSIZE ||
		    hc_stats_get(c, &st) != 0) {
			ok = 'x';
			break;
		}
		if (st.blocks_evicting >= id + 1 && st.second_chances > 0)
			break;
	}
	if (write(told, &ok, 1) != 1 || ok != 'w')
		_exit(3);
	while (read(wait, &buf, 1) > 0)
		;
	_exit(hc_close(c) == 0 ? 0 : 4);
}

static void test_idle_walkers_never_starve_a_writer(void **state)
{
	static char val[BIG_VALUE];
	int told[2], wait[2];
	pid_t pids[IDLE_PROCS];
	hc_config cfg;
	hc_cache *c = NULL;
	hc_info in;
	hc_stats st;

	(void)state;
	test_segment_name(name, sizeof name, "idlewalk");
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.max_procs = IDLE_PROCS + 1;
	cfg.max_value = 30000; /* 32 KiB blocks */
	/* The smallest segment this geometry allows. */
	for (cfg.size = 1 << 20; hc_create(name, &cfg, &c) != 0; cfg.size += 32 << 10)
		assert_true(cfg.size < (64u << 20));
	assert_hc_ok(hc_info_get(c, &in));
	printf("# %llu blocks of %llu bytes for %u processes\n",
	       (unsigned long long)in.blocks, (unsigned long long)in.block_size,
	       cfg.max_procs);
	assert_int_equal(pipe(told), 0);
	assert_int_equal(pipe(wait), 0);
	for (unsigned i = 0; i < IDLE_PROCS; i++) {
		hc_cache *own;
		char ok = 0;

		if ((pids[i] = fork_attached(name, &own)) == 0) {
			close(wait[1]);
			idle_walker(own, i, told[1], wait[0]);
		}
		assert_int_equal(read(told[0], &ok, 1), 1);
		if (ok != 'w')
			fail_msg("process %u never held a walk between its sets", i);
	}
	assert_hc_ok(hc_stats_get(c, &st));
	printf("# under idle processes: %llu blocks EVICTING, %llu OPEN, "
	       "%llu FREE\n", (unsigned long long)st.blocks_evicting,
	       (unsigned long long)st.blocks_open,
	       (unsigned long long)st.blocks_free);
	assert_true(st.blocks_evicting >= IDLE_PROCS);
	/* Many laps of the log with every idle walk held. */
	for (unsigned i = 0; i < 20 * in.blocks; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "busy:%u", i);

		assert_hc_ok(hc_set(c, key, (size_t)kl, val, sizeof val, 0));
	}
	close(wait[1]);
	for (unsigned i = 0; i < IDLE_PROCS; i++)
		assert_int_equal(wait_status(pids[i]), 0);
	close(wait[0]);
	close(told[0]);
	close(told[1]);
	assert_check_clean(c);
	hc_close(c);
	hc_unlink(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_segment_never_fails_a_set),
		cmocka_unit_test(test_read_item_gets_second_chance),
		cmocka_unit_test(test_working_set_survives_scan),
		cmocka_unit_test(test_idle_walkers_never_starve_a_writer),
	};

	return run_tap_group(tests, NULL, NULL);
}
