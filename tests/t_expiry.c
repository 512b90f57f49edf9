/*
 * t_expiry.c - TTLs: items expire when their TTL has passed and not
 * before; 0 never expires; hc_touch() moves the deadline either way;
 * hc_get_ex() reports what is left; expired items count as absent for
 * every operation and are counted in stats.expirations.
 *
 * TTLs here are tens to hundreds of milliseconds against sleeps of a few
 * times that, so the kernel tick (1-4 ms, the coarse clock) never decides
 * a result.  Every test works on its own small segment, removed by the
 * teardown even when the test fails.
 */
#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include "testutil.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
	                       .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static void test_short_ttl_expires(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-short", NULL);
	char buf[16];
	size_t vlen;
	int checked = 0;

	/* The hit must come within the TTL; a run descheduled for longer
	 * than that proves nothing and is tried again. */
	for (int attempt = 0; attempt < 5 && !checked; attempt++) {
		uint64_t t0 = now_ms();
		assert_hc_ok(hc_set(c, KEY("short"), KEY("lived"), 50));
		int rc = hc_get(c, KEY("short"), buf, sizeof(buf), &vlen);
		if (now_ms() - t0 >= 40)
			continue;
		assert_hc(rc, 0);
		assert_u64_equal(vlen, 5);
		assert_memory_equal(buf, "lived", 5);
		checked = 1;
	}
	if (!checked)
		skip();

	sleep_ms(200);
	assert_missing(c, KEY("short"));
	assert_hc(hc_get_ex(c, KEY("short"), buf, sizeof(buf), NULL),
	          HC_ENOTFOUND);
}

static void test_zero_ttl_never_expires(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-zero", NULL);
	assert_hc_ok(hc_set(c, KEY("forever"), KEY("young"), 0));
	assert_hc_ok(hc_set(c, KEY("brief"), KEY("x"), 50));
	sleep_ms(300);
	assert_value(c, KEY("forever"), "young", 5);
	assert_u64_equal(item_info_of(c, KEY("forever")).ttl_ms, 0);
	/* The clock did move on for the other item. */
	assert_missing(c, KEY("brief"));
}

/*
 * Set "k" to expire in 100 ms, touch it to TTL_MS, and wait 300 ms: the
 * touch replaced the first TTL, so "k" is still there.
 */
static void touch_outlives_first_ttl(hc_cache *c, uint64_t ttl_ms)
{
	assert_hc_ok(hc_set(c, KEY("k"), KEY("kept"), 100));
	assert_hc_ok(hc_touch(c, KEY("k"), ttl_ms));
	sleep_ms(300);
	assert_value(c, KEY("k"), "kept", 4);
}

static void test_touch_extends_and_shortens(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-touch", NULL);
	touch_outlives_first_ttl(c, 5000);
	assert_in_range(item_info_of(c, KEY("k")).ttl_ms, 4000, 5000);

	assert_hc_ok(hc_touch(c, KEY("k"), 50));
	assert_in_range(item_info_of(c, KEY("k")).ttl_ms, 0, 50);
	sleep_ms(200);
	assert_missing(c, KEY("k"));
}

static void test_touch_zero_removes_expiry(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-touch0", NULL);
	touch_outlives_first_ttl(c, 0);
	assert_u64_equal(item_info_of(c, KEY("k")).ttl_ms, 0);
}

static void test_touch_missing(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-touchmiss", NULL);
	assert_hc(hc_touch(c, KEY("never-set"), 1000), HC_ENOTFOUND);
	assert_missing(c, KEY("never-set"));

	assert_hc_ok(hc_set(c, KEY("deleted"), KEY("v"), 0));
	assert_hc_ok(hc_delete(c, KEY("deleted")));
	assert_hc(hc_touch(c, KEY("deleted"), 1000), HC_ENOTFOUND);
	assert_missing(c, KEY("deleted"));

	/* Touching an expired item does not bring it back. */
	assert_hc_ok(hc_set(c, KEY("expired"), KEY("v"), 30));
	sleep_ms(150);
	assert_hc(hc_touch(c, KEY("expired"), 5000), HC_ENOTFOUND);
	assert_missing(c, KEY("expired"));
}

static void test_get_ex_reports_ttl_left(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-ttlleft", NULL);
	uint64_t t0 = now_ms();
	assert_hc_ok(hc_set(c, KEY("k"), KEY("v"), 10000));
	hc_item_info first = item_info_of(c, KEY("k"));
	assert_in_range(first.ttl_ms, 9000, 10000);
	assert_u64_equal(first.vlen, 1);

	sleep_ms(200);
	hc_item_info second = item_info_of(c, KEY("k"));
	uint64_t elapsed = now_ms() - t0;
	if (second.ttl_ms >= first.ttl_ms)
		fail_msg("ttl_ms did not decrease: %llu, then %llu after "
		         "200 ms", (unsigned long long)first.ttl_ms,
		         (unsigned long long)second.ttl_ms);
	uint64_t dropped = first.ttl_ms - second.ttl_ms;
	/* At least the sleep (less a tick or two), at most what passed. */
	assert_in_range(dropped, 180, elapsed + 10);
	assert_in_range(second.ttl_ms, 10000 - elapsed - 10, 10000 - 180);
	/* Time passing is not a change: the CAS id stays. */
	assert_u64_equal(second.cas, first.cas);
}

static void test_expirations_counted(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-stats", NULL);
	hc_stats all0, self0, all1, self1;

	assert_hc_ok(hc_set(c, KEY("k"), KEY("v"), 30));
	assert_hc_ok(hc_stats_get(c, &all0));
	assert_hc_ok(hc_stats_self(c, &self0));
	sleep_ms(150);
	assert_missing(c, KEY("k"));
	assert_hc_ok(hc_stats_get(c, &all1));
	assert_hc_ok(hc_stats_self(c, &self1));

	if (all1.expirations <= all0.expirations)
		fail_msg("stats.expirations did not grow: %llu -> %llu",
		         (unsigned long long)all0.expirations,
		         (unsigned long long)all1.expirations);
	if (self1.expirations <= self0.expirations)
		fail_msg("own stats.expirations did not grow: %llu -> %llu",
		         (unsigned long long)self0.expirations,
		         (unsigned long long)self1.expirations);
	/* The read of an expired item is a miss, not a hit. */
	assert_u64_equal(all1.misses - all0.misses, 1);
	assert_u64_equal(all1.hits - all0.hits, 0);
}

static void test_incr_keeps_expiry(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-incr", NULL);
	uint64_t result = 0;
	assert_hc_ok(hc_set(c, KEY("n"), KEY("1"), 150));
	assert_hc_ok(hc_incr(c, KEY("n"), 1, &result));
	assert_u64_equal(result, 2);
	assert_in_range(item_info_of(c, KEY("n")).ttl_ms, 1, 150);
	sleep_ms(350);
	assert_missing(c, KEY("n"));
}

static void test_write_sets_new_ttl(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-rewrite", NULL);
	/* A set without expiry replaces one with. */
	assert_hc_ok(hc_set(c, KEY("a"), KEY("v1"), 50));
	assert_hc_ok(hc_set(c, KEY("a"), KEY("v2"), 0));
	/* And the other way round, through replace and cas. */
	assert_hc_ok(hc_set(c, KEY("b"), KEY("v1"), 0));
	assert_hc_ok(hc_replace(c, KEY("b"), KEY("v2"), 50));
	assert_hc_ok(hc_set(c, KEY("c"), KEY("v1"), 0));
	assert_hc_ok(hc_cas(c, KEY("c"), KEY("v2"), 50,
	                    item_info_of(c, KEY("c")).cas, NULL));
	sleep_ms(250);
	assert_value(c, KEY("a"), "v2", 2);
	assert_missing(c, KEY("b"));
	assert_missing(c, KEY("c"));
}

static void test_expired_counts_as_absent(void **state)
{
	hc_cache *c = test_fixture_create(*state, "exp-absent", NULL);
	uint64_t result;
	assert_hc_ok(hc_set(c, KEY("add-me"), KEY("old"), 30));
	assert_hc_ok(hc_set(c, KEY("gone"), KEY("7"), 30));
	uint64_t old_cas = item_info_of(c, KEY("gone")).cas;
	sleep_ms(150);

	assert_hc_ok(hc_add(c, KEY("add-me"), KEY("new"), 0));
	assert_value(c, KEY("add-me"), "new", 3);
	assert_u64_equal(item_info_of(c, KEY("add-me")).ttl_ms, 0);

	assert_hc(hc_replace(c, KEY("gone"), KEY("x"), 0), HC_ENOTFOUND);
	assert_hc(hc_cas(c, KEY("gone"), KEY("x"), 0, old_cas, NULL),
	          HC_ENOTFOUND);
	assert_hc(hc_incr(c, KEY("gone"), 1, &result), HC_ENOTFOUND);
	assert_hc(hc_decr(c, KEY("gone"), 1, &result), HC_ENOTFOUND);
	assert_hc(hc_delete(c, KEY("gone")), HC_ENOTFOUND);
	assert_missing(c, KEY("gone"));
}

/* A segment with TTL jitter spreads expiries over [ttl * (1 - pct), ttl];
 * one without keeps them exact. */
static void ttl_spread(hc_cache *c, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (unsigned i = 0; i < 200; i++) {
		char key[16];
		int kl = snprintf(key, sizeof key, "j%u", i);

		assert_hc_ok(hc_set(c, key, (size_t)kl, "v", 1, 10000));
		hc_item_info info = item_info_of(c, key, (size_t)kl);

		*lo = info.ttl_ms < *lo ? info.ttl_ms : *lo;
		*hi = info.ttl_ms > *hi ? info.ttl_ms : *hi;
	}
}

static void test_ttl_jitter(void **state)
{
	struct test_fixture *f = *state;
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);
	hc_info in;
	uint64_t lo, hi;

	cfg.ttl_jitter_pct = 51;
	assert_hc(test_segment_create(f->name, sizeof(f->name), "jitter", &cfg,
	                              &f->c), HC_EINVAL);
	cfg.ttl_jitter_pct = 50;
	assert_hc_ok(hc_create(f->name, &cfg, &f->c));
	assert_hc_ok(hc_info_get(f->c, &in));
	assert_u64_equal(in.ttl_jitter_pct, 50);
	ttl_spread(f->c, &lo, &hi);
	print_message("jitter 50%%: ttl left %llu..%llu ms of 10000\n",
	              (unsigned long long)lo, (unsigned long long)hi);
	assert_true(lo >= 4900 && hi <= 10000);
	assert_true(hi - lo >= 2000);

	struct test_fixture plain = { { 0 }, NULL, { 0 } };

	ttl_spread(test_fixture_create(&plain, "nojit", NULL), &lo, &hi);
	assert_true(lo >= 9900 && hi <= 10000);
	test_segment_remove(plain.name, plain.c);
}

int main(void)
{
	const struct CMUnitTest group[] = {
		fixture_test(test_short_ttl_expires),
		fixture_test(test_zero_ttl_never_expires),
		fixture_test(test_touch_extends_and_shortens),
		fixture_test(test_touch_zero_removes_expiry),
		fixture_test(test_touch_missing),
		fixture_test(test_get_ex_reports_ttl_left),
		fixture_test(test_expirations_counted),
		fixture_test(test_incr_keeps_expiry),
		fixture_test(test_write_sets_new_ttl),
		fixture_test(test_expired_counts_as_absent),
		fixture_test(test_ttl_jitter),
	};
	return run_tap_group(group, NULL, NULL);
}
