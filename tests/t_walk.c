/*
 * t_walk - hc_walk visits every live item once, whole, filtered by prefix,
 * skipping expired and deleted ones; hc_procs lists the slots with their
 * own counters and tells the dead from the living.
 */
#include "testutil.h"

static char name[64];

struct seen {
	unsigned count;
	unsigned char mask[1000];
	int bad;
};

static int visit(void *arg, const hc_item_view *v)
{
	struct seen *s = arg;
	unsigned i;
	char key[32];

	if (v->klen >= sizeof key || v->value == NULL) {
		s->bad++;
		return 0;
	}
	memcpy(key, v->key, v->klen);
	key[v->klen] = '\0';
	if (sscanf(key, "user:%u", &i) != 1 || i >= 1000 || s->mask[i]++ ||
	    v->vlen != v->klen || memcmp(v->value, v->key, v->klen) != 0)
		s->bad++;
	s->count++;
	return 0;
}

static int stop_after_ten(void *arg, const hc_item_view *v)
{
	(void)v;
	return ++*(unsigned *)arg == 10;
}

static void test_walk(void **state)
{
	hc_config cfg;
	hc_cache *c;
	struct seen s;
	unsigned n = 0;

	(void)state;
	cfg = test_config(8 << 20, 4);
	assert_hc_ok(test_segment_create(name, sizeof name, "walk", &cfg, &c));
	for (unsigned i = 0; i < 1000; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "user:%u", i);

		assert_hc_ok(hc_set(c, key, (size_t)kl, key, (size_t)kl,
		                    i < 100 ? 1 : 0));
		kl = snprintf(key, sizeof key, "other:%u", i);
		assert_hc_ok(hc_set(c, key, (size_t)kl, "x", 1, 0));
	}
	for (unsigned i = 900; i < 1000; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "user:%u", i);

		assert_hc_ok(hc_delete(c, key, (size_t)kl));
	}
	usleep(20000); /* the first 100 expire (1 ms TTL, coarse clock) */
	memset(&s, 0, sizeof s);
	assert_int_equal(hc_walk(c, "user:", 5, HC_WALK_VALUES, visit, &s), 800);
	assert_int_equal(s.count, 800);
	assert_int_equal(s.bad, 0);
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(s.mask[i], i >= 100 && i < 900);
	assert_int_equal(hc_walk(c, NULL, 0, 0, stop_after_ten, &n), 10);
	assert_int_equal(hc_walk(c, NULL, 0, 0, stop_after_ten, &(unsigned){ 0 }), 10);
	test_segment_remove(name, c);
}

static void test_procs(void **state)
{
	hc_config cfg;
	hc_cache *c;
	hc_cache *own;
	hc_proc_info info[8];
	unsigned n;

	(void)state;
	cfg = test_config(4 << 20, 8);
	assert_hc_ok(test_segment_create(name, sizeof name, "procs2",
	                                 &cfg, &c));
	pid_t pid = fork_attached(name, &own);

	if (pid == 0) {
		for (int i = 0; i < 7; i++)
			hc_set(own, "k", 1, "v", 1, 0);
		_exit(0); /* dies attached */
	}
	assert_int_equal(wait_status(pid), 0);
	assert_hc(hc_get(c, "nope", 4, NULL, 0, &(size_t){ 0 }), HC_ENOTFOUND);
	assert_hc_ok(hc_procs(c, info, 8, &n));
	assert_int_equal(n, 2);
	assert_int_equal(info[0].pid, getpid());
	assert_true(info[0].alive);
	assert_int_equal(info[0].own.misses, 1);
	assert_int_equal(info[1].pid, pid);
	assert_true(info[1].attached);
	assert_false(info[1].alive);
	assert_int_equal(info[1].own.sets, 7);
	assert_string_equal(info[0].comm, "t_walk");
	test_segment_remove(name, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_procs),
	};

	return run_tap_group(tests, NULL, NULL);
}
