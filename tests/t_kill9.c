/*
 * t_kill9 - processes SIGKILLed at random points (during sets, during
 * eviction, during attach) leave a segment that keeps working: the others
 * run on and verify every value they read, whoever notices reaps the dead,
 * and afterwards the segment checks clean, with no block left open or
 * half-evicted by a dead process and every slot reclaimed.
 */
#include <time.h>

#include "testutil.h"

#define WORKERS 4
#define KILLS 60

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static void test_kill_workers_at_random(void **state)
{
	char name[64];
	hc_config cfg;
	hc_cache *c;
	pid_t pids[WORKERS];
	hc_check_result r;
	uint64_t rng = (uint64_t)time(NULL) | 1;
	unsigned kills = 0, reaped = 0;

	(void)state;
	cfg = test_config(4 << 20, 16);
	assert_hc_ok(test_segment_create(name, sizeof name, "kill9", &cfg, &c));
	for (unsigned i = 0; i < WORKERS; i++)
		pids[i] = spawn_worker(name, i + 1, 600000, i % 2);

	for (kills = 0; kills < KILLS; kills++) {
		unsigned victim = (unsigned)(sv_rand(&rng) % WORKERS);
		/* Mostly mid-run; every fourth kill right after a restart,
		 * while the victim is attaching. */
		unsigned delay = kills % 4 == 3 ? (unsigned)(sv_rand(&rng) % 2000)
		                                : 5000 + (unsigned)(sv_rand(&rng) % 40000);

		sleep_us(delay);
		kill(pids[victim], SIGKILL);
		int st = wait_status(pids[victim]);

		if (st != 128 + SIGKILL)
			fail_msg("worker %u ended with status %d before it was killed "
			         "(a verification failure is status 1)", victim + 1, st);
		pids[victim] = spawn_worker(name, victim + 1, 600000, victim % 2);
		if (kills % 10 == 9) {
			int n = hc_reap(c);

			assert_true(n >= 0);
			reaped += (unsigned)n;
			if (hc_check(c, 0, check_say, NULL, &r) != 0)
				fail_msg("check found %llu problems after %u kills",
				         (unsigned long long)r.problems, kills + 1);
		}
	}
	for (unsigned i = 0; i < WORKERS; i++) {
		kill(pids[i], SIGKILL);
		assert_int_equal(wait_status(pids[i]), 128 + SIGKILL);
	}
	int n = hc_reap(c);

	assert_true(n >= 0);
	reaped += (unsigned)n;
	print_message("%u kills, %u slots reaped by the supervisor "
	              "(the workers reap too)\n", kills, reaped);
	assert_int_equal(hc_check(c, 0, check_say, NULL, &r), 0);
	assert_int_equal(r.dead_procs, 0);
	assert_int_equal(r.dead_blocks, 0);
	assert_int_equal(r.blocks[HC_CHECK_BLOCK_EVICTING], 0);
	assert_true(r.blocks[HC_CHECK_BLOCK_OPEN] <= 1); /* ours at most */

	hc_stats s;

	assert_hc_ok(hc_stats_get(c, &s));
	assert_int_equal(s.procs_attached, 1);

	/* The segment keeps working: a fresh worker reads what the killed
	 * ones left (verifying every value) and writes its own. */
	pid_t last = spawn_worker(name, 99, 500, 0);

	assert_int_equal(wait_status(last), 0);
	for (unsigned i = 0; i < 1000; i++) {
		char key[32], buf[64];
		size_t len;
		int kl = snprintf(key, sizeof key, "after:%u", i);

		assert_hc_ok(hc_set(c, key, (size_t)kl, key, (size_t)kl, 0));
		assert_hc_ok(hc_get(c, key, (size_t)kl, buf, sizeof buf, &len));
		assert_memory_equal(buf, key, len);
	}
	assert_check_clean(c);
	test_segment_remove(name, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_workers_at_random),
	};

	return run_tap_group(tests, NULL, NULL);
}
