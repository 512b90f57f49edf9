/*
 * t_latency.c - the latency histograms: with latency_every N each thread
 * times one get and one store in N, the counts add up across processes,
 * HC_LATENCY_OFF times none, and the buckets and quantiles read back what
 * was recorded.  No assertion here is about how fast anything is: the
 * quantiles are only checked to be ordered and within what one run of
 * this program can take.
 */
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

#define OPS 1000u

static hc_cache *create_every(struct test_fixture *f, const char *tag,
                              uint32_t every)
{
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);

	cfg.latency_every = every;
	return test_fixture_create(f, tag, &cfg);
}

static uint64_t timed(const uint64_t *hist)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HC_LATENCY_BUCKETS; i++)
		n += hist[i];
	return n;
}

static void run_ops(hc_cache *c, unsigned n)
{
	char buf[64];
	size_t len;

	for (unsigned i = 0; i < n; i++) {
		char key[16];
		int kl = snprintf(key, sizeof key, "k%u", i % 50);

		assert_hc_ok(hc_set(c, key, (size_t)kl, "value", 5, 0));
		assert_hc_ok(hc_get(c, key, (size_t)kl, buf, sizeof buf, &len));
	}
}

/* Every operation timed with 1; ordered quantiles no larger than the
 * time the whole run took. */
static void test_every_operation(void **state)
{
	hc_cache *c = create_every(*state, "lat-every1", 1);
	hc_latency l;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_ops(c, OPS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_hc_ok(hc_latency_get(c, &l));
	assert_u64_equal(l.every, 1);
	assert_u64_equal(timed(l.get), OPS);
	assert_u64_equal(timed(l.set), OPS);

	uint64_t run_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
	                  (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;

	for (int op = 0; op < 2; op++) {
		const uint64_t *h = op == 0 ? l.get : l.set;
		uint64_t p50 = hc_latency_quantile(h, 0.5);
		uint64_t p99 = hc_latency_quantile(h, 0.99);
		uint64_t p999 = hc_latency_quantile(h, 0.999);

		if (!(p50 > 0 && p50 <= p99 && p99 <= p999 &&
		      p50 <= run_ns / OPS * 5 / 4 + 32))
			fail_msg("%s: p50 %llu, p99 %llu, p999 %llu ns; the run "
			         "took %llu ns for %u", op == 0 ? "get" : "set",
			         (unsigned long long)p50, (unsigned long long)p99,
			         (unsigned long long)p999,
			         (unsigned long long)run_ns, OPS);
	}
}

/* One in ten: about a tenth of the operations, a thread's first one
 * starting the count at a random point. */
static void test_one_in_ten(void **state)
{
	hc_cache *c = create_every(*state, "lat-every10", 10);
	hc_latency l;

	run_ops(c, OPS);
	assert_hc_ok(hc_latency_get(c, &l));
	assert_u64_equal(l.every, 10);
	/* Gets and sets count down apart: one in ten of each, although they
	 * alternate (with a shared countdown and an even N, one kind would
	 * never be timed). */
	for (int op = 0; op < 2; op++) {
		uint64_t n = timed(op == 0 ? l.get : l.set);

		if (n < OPS / 10 - 1 || n > OPS / 10 + 1)
			fail_msg("%llu of %u %s timed with latency_every 10",
			         (unsigned long long)n, OPS, op == 0 ? "gets" : "sets");
	}
}

static void test_off_times_nothing(void **state)
{
	hc_cache *c = create_every(*state, "lat-off", HC_LATENCY_OFF);
	hc_latency l;

	run_ops(c, OPS);
	assert_hc_ok(hc_latency_get(c, &l));
	assert_u64_equal(l.every, 0);
	assert_u64_equal(timed(l.get), 0);
	assert_u64_equal(timed(l.set), 0);
	assert_u64_equal(hc_latency_quantile(l.get, 0.99), 0);
}

/* A child's timings are in the segment for every process to read, after
 * it is gone. */
static void test_counts_add_up_across_processes(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_every(f, "lat-procs", 1), *w;
	hc_latency before, after;

	run_ops(c, 10);
	assert_hc_ok(hc_latency_get(c, &before));

	pid_t pid = fork_attached(f->name, &w);

	if (pid == 0) {
		run_ops(w, OPS);
		_exit(hc_close(w) == 0 ? 0 : 3);
	}
	assert_int_equal(wait_status(pid), 0);
	assert_hc_ok(hc_latency_get(c, &after));
	assert_u64_equal(timed(after.get) - timed(before.get), OPS);
	assert_u64_equal(timed(after.set) - timed(before.set), OPS);
}

static void test_buckets_and_quantiles(void **state)
{
	uint64_t lo, hi, prev_hi = 0;
	uint64_t hist[HC_LATENCY_BUCKETS] = { 0 };

	(void)state;
	for (unsigned i = 0; i < HC_LATENCY_BUCKETS; i++) {
		hc_latency_bucket(i, &lo, &hi);
		assert_u64_equal(lo, prev_hi); /* contiguous from 0 */
		assert_true(hi > lo);
		if (i > 0 && i < HC_LATENCY_BUCKETS - 1 && (hi - lo) * 4 > lo)
			fail_msg("bucket %u [%llu, %llu) is wider than a quarter "
			         "of its lower bound", i, (unsigned long long)lo,
			         (unsigned long long)hi);
		prev_hi = hi;
	}
	assert_u64_equal(prev_hi, UINT64_MAX);
	hc_latency_bucket(HC_LATENCY_BUCKETS - 1, &lo, NULL);
	assert_true(lo > 20000000u && lo < 40000000u); /* about 25 ms */

	assert_u64_equal(hc_latency_quantile(hist, 0.5), 0);
	hist[10] = 900;
	hist[20] = 90;
	hist[30] = 9;
	hist[HC_LATENCY_BUCKETS - 1] = 1;
	hc_latency_bucket(10, NULL, &hi);
	assert_u64_equal(hc_latency_quantile(hist, 0.5), hi);
	assert_u64_equal(hc_latency_quantile(hist, 0.0), hi);
	assert_u64_equal(hc_latency_quantile(hist, 0.9), hi);
	hc_latency_bucket(20, NULL, &hi);
	assert_u64_equal(hc_latency_quantile(hist, 0.99), hi);
	hc_latency_bucket(30, NULL, &hi);
	assert_u64_equal(hc_latency_quantile(hist, 0.999), hi);
	hc_latency_bucket(HC_LATENCY_BUCKETS - 1, &lo, NULL);
	assert_u64_equal(hc_latency_quantile(hist, 1.0), lo);
}

static void test_bad_configuration(void **state)
{
	char name[64];
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);
	hc_cache *c = NULL;
	hc_latency l;

	(void)state;
	cfg.latency_every = 2000000;
	assert_hc(test_segment_create(name, sizeof name, "lat-bad", &cfg, &c),
	          HC_EINVAL);
	assert_null(c);
	assert_non_null(strstr(hc_last_error(), "latency_every"));
	assert_hc(hc_latency_get(NULL, &l), HC_EINVAL);
}

int main(void)
{
	const struct CMUnitTest group[] = {
		fixture_test(test_every_operation),
		fixture_test(test_one_in_ten),
		fixture_test(test_off_times_nothing),
		fixture_test(test_counts_add_up_across_processes),
		fixture_test(test_buckets_and_quantiles),
		fixture_test(test_bad_configuration),
	};
	return run_tap_group(group, NULL, NULL);
}
