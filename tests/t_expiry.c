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

#define SEG_SIZE ((uint64_t)8 << 20)
#define SEG_PROCS 8
#define NAME_CAP 128

#define assert_u64_equal(got, want)                                            \
	do {                                                                   \
		uint64_t got_ = (uint64_t)(got);                               \
		uint64_t want_ = (uint64_t)(want);                             \
		if (got_ != want_)                                             \
			fail_msg("%s is %llu, expected %s = %llu", #got,       \
			         (unsigned long long)got_, #want,              \
			         (unsigned long long)want_);                   \
	} while (0)

#define KEY(literal) (literal), (sizeof(literal) - 1)

#define assert_value(...) assert_value_(__VA_ARGS__)
#define assert_value_(c, key, klen, want, wantlen)                             \
	do {                                                                   \
		char buf_[256];                                                \
		size_t vlen_ = (size_t)-1;                                     \
		assert_hc_ok(hc_get((c), (key), (klen), buf_, sizeof(buf_),    \
		                    &vlen_));                                  \
		assert_u64_equal(vlen_, (wantlen));                            \
		assert_memory_equal(buf_, (want), (wantlen));                  \
	} while (0)

#define assert_missing(...) assert_missing_(__VA_ARGS__)
#define assert_missing_(c, key, klen)                                          \
	do {                                                                   \
		char buf_[256];                                                \
		size_t vlen_;                                                  \
		assert_hc(hc_get((c), (key), (klen), buf_, sizeof(buf_),       \
		                 &vlen_),                                      \
		          HC_ENOTFOUND);                                       \
	} while (0)

struct fixture {
	char name[NAME_CAP];
	hc_cache *c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->c != NULL)
		hc_close(f->c);
	if (f->name[0] != '\0') {
		hc_unlink(f->name);
		shm_unlink(f->name);
	}
	free(f);
	return 0;
}

static hc_cache *fixture_create(struct fixture *f, const char *tag)
{
	test_segment_name(f->name, sizeof(f->name), tag);
	shm_unlink(f->name); /* left over from a dead run with our pid */
	hc_config cfg;
	hc_config_init(&cfg);
	cfg.size = SEG_SIZE;
	cfg.max_procs = SEG_PROCS;
	assert_hc_ok(hc_create(f->name, &cfg, &f->c));
	assert_non_null(f->c);
	return f->c;
}

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

static hc_item_info item_info(hc_cache *c, const void *key, size_t klen)
{
	char buf[256];
	hc_item_info info;
	memset(&info, 0, sizeof(info));
	assert_hc_ok(hc_get_ex(c, key, klen, buf, sizeof(buf), &info));
	return info;
}

static void test_short_ttl_expires(void **state)
{
	hc_cache *c = fixture_create(*state, "exp-short");
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
	hc_cache *c = fixture_create(*state, "exp-zero");
	assert_hc_ok(hc_set(c, KEY("forever"), KEY("young"), 0));
	assert_hc_ok(hc_set(c, KEY("brief"), KEY("x"), 50));
	sleep_ms(300);
	assert_value(c, KEY("forever"), "young", 5);
	assert_u64_equal(item_info(c, KEY("forever")).ttl_ms, 0);
	/* The clock did move on for the other item. */
	assert_missing(c, KEY("brief"));
}

static void test_touch_extends_and_shortens(void **state)
{
	hc_cache *c = fixture_create(*state, "exp-touch");
	assert_hc_ok(hc_set(c, KEY("k"), KEY("kept"), 100));
	assert_hc_ok(hc_touch(c, KEY("k"), 5000));
	sleep_ms(300);
	assert_value(c, KEY("k"), "kept", 4);
	assert_in_range(item_info(c, KEY("k")).ttl_ms, 4000, 5000);

	assert_hc_ok(hc_touch(c, KEY("k"), 50));
	assert_in_range(item_info(c, KEY("k")).ttl_ms, 0, 50);
	sleep_ms(200);
	assert_missing(c, KEY("k"));
}

static void test_touch_zero_removes_expiry(void **state)
{
	hc_cache *c = fixture_create(*state, "exp-touch0");
	assert_hc_ok(hc_set(c, KEY("k"), KEY("kept"), 100));
	assert_hc_ok(hc_touch(c, KEY("k"), 0));
	sleep_ms(300);
	assert_value(c, KEY("k"), "kept", 4);
	assert_u64_equal(item_info(c, KEY("k")).ttl_ms, 0);
}

static void test_touch_missing(void **state)
{
	hc_cache *c = fixture_create(*state, "exp-touchmiss");
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
	hc_cache *c = fixture_create(*state, "exp-ttlleft");
	uint64_t t0 = now_ms();
	assert_hc_ok(hc_set(c, KEY("k"), KEY("v"), 10000));
	hc_item_info first = item_info(c, KEY("k"));
	assert_in_range(first.ttl_ms, 9000, 10000);
	assert_u64_equal(first.vlen, 1);

	sleep_ms(200);
	hc_item_info second = item_info(c, KEY("k"));
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
	hc_cache *c = fixture_create(*state, "exp-stats");
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
	hc_cache *c = fixture_create(*state, "exp-incr");
	uint64_t result = 0;
	assert_hc_ok(hc_set(c, KEY("n"), KEY("1"), 150));
	assert_hc_ok(hc_incr(c, KEY("n"), 1, &result));
	assert_u64_equal(result, 2);
	assert_in_range(item_info(c, KEY("n")).ttl_ms, 1, 150);
	sleep_ms(350);
	assert_missing(c, KEY("n"));
}

static void test_write_sets_new_ttl(void **state)
{
	hc_cache *c = fixture_create(*state, "exp-rewrite");
	/* A set without expiry replaces one with. */
	assert_hc_ok(hc_set(c, KEY("a"), KEY("v1"), 50));
	assert_hc_ok(hc_set(c, KEY("a"), KEY("v2"), 0));
	/* And the other way round, through replace and cas. */
	assert_hc_ok(hc_set(c, KEY("b"), KEY("v1"), 0));
	assert_hc_ok(hc_replace(c, KEY("b"), KEY("v2"), 50));
	assert_hc_ok(hc_set(c, KEY("c"), KEY("v1"), 0));
	assert_hc_ok(hc_cas(c, KEY("c"), KEY("v2"), 50,
	                    item_info(c, KEY("c")).cas, NULL));
	sleep_ms(250);
	assert_value(c, KEY("a"), "v2", 2);
	assert_missing(c, KEY("b"));
	assert_missing(c, KEY("c"));
}

static void test_expired_counts_as_absent(void **state)
{
	hc_cache *c = fixture_create(*state, "exp-absent");
	uint64_t result;
	assert_hc_ok(hc_set(c, KEY("add-me"), KEY("old"), 30));
	assert_hc_ok(hc_set(c, KEY("gone"), KEY("7"), 30));
	uint64_t old_cas = item_info(c, KEY("gone")).cas;
	sleep_ms(150);

	assert_hc_ok(hc_add(c, KEY("add-me"), KEY("new"), 0));
	assert_value(c, KEY("add-me"), "new", 3);
	assert_u64_equal(item_info(c, KEY("add-me")).ttl_ms, 0);

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
		hc_item_info info = item_info(c, key, (size_t)kl);

		*lo = info.ttl_ms < *lo ? info.ttl_ms : *lo;
		*hi = info.ttl_ms > *hi ? info.ttl_ms : *hi;
	}
}

static void test_ttl_jitter(void **state)
{
	struct fixture *f = *state;
	hc_config cfg;
	hc_info in;
	uint64_t lo, hi;

	hc_config_init(&cfg);
	cfg.size = SEG_SIZE;
	cfg.max_procs = SEG_PROCS;
	cfg.ttl_jitter_pct = 51;
	test_segment_name(f->name, sizeof(f->name), "jitter");
	shm_unlink(f->name);
	assert_hc(hc_create(f->name, &cfg, &f->c), HC_EINVAL);
	cfg.ttl_jitter_pct = 50;
	assert_hc_ok(hc_create(f->name, &cfg, &f->c));
	assert_hc_ok(hc_info_get(f->c, &in));
	assert_u64_equal(in.ttl_jitter_pct, 50);
	ttl_spread(f->c, &lo, &hi);
	print_message("jitter 50%%: ttl left %llu..%llu ms of 10000\n",
	              (unsigned long long)lo, (unsigned long long)hi);
	assert_true(lo >= 4900 && hi <= 10000);
	assert_true(hi - lo >= 2000);

	hc_cache *plain = fixture_create(&(struct fixture){ { 0 }, NULL }, "nojit");

	ttl_spread(plain, &lo, &hi);
	assert_true(lo >= 9900 && hi <= 10000);
	char name[NAME_CAP];

	test_segment_name(name, sizeof name, "nojit");
	hc_close(plain);
	hc_unlink(name);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest group[] = {
		T(test_short_ttl_expires),
		T(test_zero_ttl_never_expires),
		T(test_touch_extends_and_shortens),
		T(test_touch_zero_removes_expiry),
		T(test_touch_missing),
		T(test_get_ex_reports_ttl_left),
		T(test_expirations_counted),
		T(test_incr_keeps_expiry),
		T(test_write_sets_new_ttl),
		T(test_expired_counts_as_absent),
		T(test_ttl_jitter),
	};
#undef T
	return run_tap_group(group, NULL, NULL);
}
