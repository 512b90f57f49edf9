/*
 * t_race - processes released at the same instant on the same absent key:
 * of racing adds exactly one succeeds, and racing sets leave exactly one
 * entry whose value is one of theirs.  Many rounds, each on a fresh key.
 */
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "testutil.h"
#include "atomic.h"

#define RACERS 4
#define ROUNDS 300

struct board {
	hc_word go;              /* round number the racers may start */
	hc_word ready;           /* racers waiting for it */
	hc_word wins[ROUNDS];    /* successful adds per round */
};

static char name[64];

static void racer(struct board *b, unsigned id, bool use_add)
{
	hc_cache *c;

	if (hc_open(name, &c) != 0)
		_exit(2);
	for (unsigned r = 0; r < ROUNDS; r++) {
		char key[32], val[32];
		int kl = snprintf(key, sizeof key, "race:%u", r);
		int vl = snprintf(val, sizeof val, "racer %u", id);

		fetch_add_full(&b->ready, 1);
		while (load_acquire(&b->go) != r + 1)
			; /* spin: released together */
		int rc = use_add ? hc_add(c, key, (size_t)kl, val, (size_t)vl, 0)
		                 : hc_set(c, key, (size_t)kl, val, (size_t)vl, 0);

		if (rc == 0 && use_add)
			fetch_add_full(&b->wins[r], 1);
		else if (rc != 0 && !(use_add && rc == HC_EEXISTS))
			_exit(3);
	}
	_exit(hc_close(c) == 0 ? 0 : 4);
}

static void run_race(bool use_add)
{
	struct board *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	hc_config cfg;
	hc_cache *c;
	pid_t pids[RACERS];

	assert_true(b != MAP_FAILED);
	cfg = test_config(8 << 20, 8);
	assert_hc_ok(test_segment_create(name, sizeof name,
	                                 use_add ? "raceadd" : "raceset", &cfg,
	                                 &c));
	for (unsigned i = 0; i < RACERS; i++)
		if ((pids[i] = fork()) == 0)
			racer(b, i, use_add);
	for (unsigned r = 0; r < ROUNDS; r++) {
		while (load_acquire(&b->ready) < (r + 1) * RACERS)
			sched_yield();
		store_release(&b->go, r + 1);
	}
	for (unsigned i = 0; i < RACERS; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	/* check reports a key indexed twice. */
	assert_check_clean(c);
	for (unsigned r = 0; r < ROUNDS; r++) {
		char key[32], buf[32];
		size_t n;
		int kl = snprintf(key, sizeof key, "race:%u", r);

		if (use_add && load_relaxed(&b->wins[r]) != 1)
			fail_msg("round %u: %llu adds succeeded", r,
			         (unsigned long long)load_relaxed(&b->wins[r]));
		assert_hc_ok(hc_get(c, key, (size_t)kl, buf, sizeof buf, &n));
		assert_true(n > 6 && memcmp(buf, "racer ", 6) == 0);
		assert_hc_ok(hc_delete(c, key, (size_t)kl));
		assert_hc(hc_get(c, key, (size_t)kl, buf, sizeof buf, &n),
		          HC_ENOTFOUND);
	}
	test_segment_remove(name, c);
	munmap(b, sizeof *b);
}

static void test_racing_adds_one_wins(void **state)
{
	(void)state;
	run_race(true);
}

static void test_racing_sets_leave_one_entry(void **state)
{
	(void)state;
	run_race(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_racing_adds_one_wins),
		cmocka_unit_test(test_racing_sets_leave_one_entry),
	};

	return run_tap_group(tests, NULL, NULL);
}
