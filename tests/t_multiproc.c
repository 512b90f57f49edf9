/*
 * t_multiproc - several unrelated processes (fork + exec) share a segment,
 * writing and reading self-verifying values under eviction pressure.  No
 * worker may see a torn, mixed or wrong-key value, or a private key go back
 * in time (h_worker.c); afterwards the segment must check clean.
 */
#include "testutil.h"

#define WORKERS 4
#define RUN_MS 3000

static void run_workers(int zipf)
{
	char name[64];
	hc_config cfg;
	hc_cache *c;
	pid_t pids[WORKERS];
	hc_stats s;
	hc_check_result r;

	/* Small on purpose: the workers' data is several times larger, so
	 * eviction runs the whole time. */
	cfg = test_config(4 << 20, 16);
	assert_hc_ok(test_segment_create(name, sizeof name, zipf ? "mpz" : "mpu",
	                                 &cfg, &c));
	for (unsigned i = 0; i < WORKERS; i++)
		pids[i] = spawn_worker(name, i + 1, RUN_MS, zipf);
	for (unsigned i = 0; i < WORKERS; i++) {
		int st = wait_status(pids[i]);

		if (st != 0)
			fail_msg("worker %u exited with status %d", i + 1, st);
	}
	int problems = hc_check(c, 0, check_say, NULL, &r);

	assert_int_equal(problems, 0);
	assert_hc_ok(hc_stats_get(c, &s));
	print_message("stale slots %llu items %llu\n", (unsigned long long)r.stale_slots, (unsigned long long)r.items);
	print_message("sets %llu hits %llu misses %llu evictions %llu "
	              "second chances %llu blocks evicted %llu\n",
	              (unsigned long long)s.sets, (unsigned long long)s.hits,
	              (unsigned long long)s.misses, (unsigned long long)s.evictions,
	              (unsigned long long)s.second_chances,
	              (unsigned long long)s.blocks_evicted);
	assert_true(s.sets > 1000);
	assert_true(s.hits > 1000);
	assert_true(s.blocks_evicted > 0);
	/* Every worker detached: only we are attached. */
	assert_int_equal(s.procs_attached, 1);
	assert_int_equal(r.dead_procs, 0);
	assert_int_equal(r.blocks[HC_CHECK_BLOCK_EVICTING], 0);
	test_segment_remove(name, c);
}

static void test_uniform_keys(void **state)
{
	(void)state;
	run_workers(0);
}

static void test_zipf_keys(void **state)
{
	(void)state;
	run_workers(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform_keys),
		cmocka_unit_test(test_zipf_keys),
	};

	return run_tap_group(tests, NULL, NULL);
}
