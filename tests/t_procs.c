/*
 * t_procs - process slots: running out of them, a child forked after
 * attach taking its own, a process that dies attached being reaped with what
 * it held, and counters that outlive the processes that made them.
 */
#include <sys/wait.h>

#include "testutil.h"

static char name[64];

static int setup(void **state)
{
	(void)state;
	test_segment_name(name, sizeof name, "procs");
	hc_unlink(name);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hc_unlink(name);
	return 0;
}

static hc_cache *make_segment(uint32_t procs)
{
	hc_config cfg;
	hc_cache *c;

	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = 4 << 20;
	cfg.max_procs = procs;
	assert_hc_ok(hc_create(name, &cfg, &c));
	return c;
}

static void test_out_of_slots(void **state)
{
	hc_cache *a = make_segment(2), *b, *x;

	(void)state;
	assert_hc_ok(hc_open(name, &b));
	assert_hc(hc_open(name, &x), HC_EPROCS);
	assert_null(x);
	/* A slot freed by close is taken again. */
	assert_hc_ok(hc_close(b));
	assert_hc_ok(hc_open(name, &b));
	hc_close(b);
	hc_close(a);
}

static void test_fork_child_attaches_anew(void **state)
{
	hc_cache *c = make_segment(8);
	hc_stats s;

	(void)state;
	assert_hc_ok(hc_set(c, "parent", 6, "p", 1, 0));
	pid_t pid = fork();

	if (pid == 0) {
		hc_stats cs;
		char buf[8];
		size_t n;

		/* The inherited handle works, through a slot of our own. */
		if (hc_get(c, "parent", 6, buf, sizeof buf, &n) != 0 ||
		    hc_set(c, "child", 5, "c", 1, 0) != 0 ||
		    hc_stats_get(c, &cs) != 0 || cs.procs_attached != 2)
			_exit(1);
		_exit(hc_close(c) == 0 ? 0 : 2);
	}
	assert_int_equal(wait_status(pid), 0);
	char buf[8];
	size_t n;

	assert_hc_ok(hc_get(c, "child", 5, buf, sizeof buf, &n));
	assert_memory_equal(buf, "c", 1);
	/* The child's close released its own slot, not ours. */
	assert_hc_ok(hc_stats_get(c, &s));
	assert_int_equal(s.procs_attached, 1);
	assert_hc_ok(hc_set(c, "still", 5, "ok", 2, 0));
	hc_close(c);
}

static void test_dead_process_is_reaped(void **state)
{
	hc_cache *c = make_segment(4);
	hc_check_result r;

	hc_cache *own;

	(void)state;
	pid_t pid = fork_attached(name, &own);

	if (pid == 0) {
		for (int i = 0; i < 100; i++) {
			char key[16];
			int kl = snprintf(key, sizeof key, "dead:%d", i);

			if (hc_set(own, key, (size_t)kl, key, (size_t)kl, 0) != 0)
				_exit(3);
		}
		_exit(0); /* dies attached, holding an open block */
	}
	assert_int_equal(wait_status(pid), 0);
	/* The check sees the dead slot and the block it holds. */
	assert_true(hc_check(c, 0, NULL, NULL, &r) > 0);
	assert_int_equal(r.dead_procs, 1);
	assert_int_equal(r.dead_blocks, 1);
	assert_int_equal(hc_reap(c), 1);
	assert_int_equal(hc_reap(c), 0);
	assert_int_equal(hc_check(c, 0, NULL, NULL, &r), 0);
	/* Its items survive: its block was sealed, not dropped. */
	for (int i = 0; i < 100; i++) {
		char key[16], buf[16];
		size_t n;
		int kl = snprintf(key, sizeof key, "dead:%d", i);

		assert_hc_ok(hc_get(c, key, (size_t)kl, buf, sizeof buf, &n));
		assert_memory_equal(buf, key, n);
	}
	hc_close(c);
}

static void test_counters_outlive_processes(void **state)
{
	hc_cache *c = make_segment(4);
	hc_stats before, after, self;
	hc_cache *own;

	(void)state;
	assert_hc_ok(hc_stats_get(c, &before));
	pid_t pid = fork_attached(name, &own);

	if (pid == 0) {
		for (int i = 0; i < 10; i++)
			if (hc_set(own, "k", 1, "v", 1, 0) != 0)
				_exit(3);
		_exit(hc_close(own) == 0 ? 0 : 4);
	}
	assert_int_equal(wait_status(pid), 0);
	assert_hc_ok(hc_stats_get(c, &after));
	assert_int_equal(after.sets - before.sets, 10);
	/* Our own counters did not move. */
	assert_hc_ok(hc_stats_self(c, &self));
	assert_int_equal(self.sets, 0);
	/* A later attachment of the same slot starts from zero for itself
	 * and adds to the totals. */
	hc_cache *again;

	assert_hc_ok(hc_open(name, &again));
	assert_hc_ok(hc_stats_self(again, &self));
	assert_int_equal(self.sets, 0);
	assert_hc_ok(hc_set(again, "k", 1, "v", 1, 0));
	assert_hc_ok(hc_stats_get(c, &after));
	assert_int_equal(after.sets - before.sets, 11);
	hc_close(again);
	hc_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_out_of_slots),
		cmocka_unit_test(test_fork_child_attaches_anew),
		cmocka_unit_test(test_dead_process_is_reaped),
		cmocka_unit_test(test_counters_outlive_processes),
	};

	return run_tap_group(tests, setup, teardown);
}
