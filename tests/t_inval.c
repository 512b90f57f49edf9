/*
 * t_inval - invalidation by tag, by delimiter prefix (O(1)), by any prefix
 * (scan), and flush; negative entries; and the contract, raced across
 * processes: once an invalidation returns, no process reads an item set
 * before it started, and an item set after it is visible.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "testutil.h"
#include "atomic.h"

static char name[64];
static hc_cache *c;

static int setup(void **state)
{
	hc_config cfg;

	(void)state;
	cfg = test_config(8 << 20, 8);
	return test_segment_create(name, sizeof name, "inval",
	                           &cfg, &c) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	test_segment_remove(name, c);
	return 0;
}

static int set_tagged(const char *key, const char *t1, const char *t2)
{
	const char *tags[2] = { t1, t2 };
	hc_set_options o;

	memset(&o, 0, sizeof o);
	o.tags = tags;
	o.ntags = t2 ? 2 : 1;
	return hc_set_ex(c, key, strlen(key), "v", 1, &o);
}

static int get(const char *key)
{
	char buf[64];
	size_t n;

	return hc_get(c, key, strlen(key), buf, sizeof buf, &n);
}

static void test_tag(void **state)
{
	hc_stats s;

	(void)state;
	assert_hc_ok(set_tagged("a", "red", NULL));
	assert_hc_ok(set_tagged("b", "blue", "red"));
	assert_hc_ok(set_tagged("c", "blue", NULL));
	assert_hc_ok(hc_set(c, "d", 1, "v", 1, 0));
	assert_hc_ok(hc_invalidate_tag(c, "red"));
	assert_hc(get("a"), HC_ENOTFOUND);
	assert_hc(get("b"), HC_ENOTFOUND);
	assert_hc_ok(get("c"));
	assert_hc_ok(get("d"));
	/* Set after the invalidation: visible. */
	assert_hc_ok(set_tagged("a", "red", NULL));
	assert_hc_ok(get("a"));
	assert_hc_ok(hc_stats_get(c, &s));
	assert_int_equal(s.inval_tag, 1);
	assert_true(s.inval_reclaimed >= 2);
	assert_hc(hc_invalidate_tag(c, ""), HC_EINVAL);
	char long_tag[80];

	memset(long_tag, 't', sizeof long_tag - 1);
	long_tag[sizeof long_tag - 1] = '\0';
	assert_hc(hc_invalidate_tag(c, long_tag), HC_EINVAL);
	const char *five[5] = { "1", "2", "3", "4", "5" };
	hc_set_options o;

	memset(&o, 0, sizeof o);
	o.tags = five;
	o.ntags = 5;
	assert_hc(hc_set_ex(c, "e", 1, "v", 1, &o), HC_EINVAL);
	assert_hc(get("e"), HC_ENOTFOUND);
}

static void test_delimiter_prefix(void **state)
{
	uint64_t n = 99;

	(void)state;
	assert_hc_ok(hc_set(c, "user:42:profile", 15, "p", 1, 0));
	assert_hc_ok(hc_set(c, "user:42:cart", 12, "c", 1, 0));
	assert_hc_ok(hc_set(c, "user:43:profile", 15, "p", 1, 0));
	assert_hc_ok(hc_set(c, "user:420", 8, "x", 1, 0));
	assert_hc_ok(hc_invalidate_prefix(c, "user:42:", 8, &n));
	assert_int_equal(n, 0); /* O(1): no count */
	assert_hc(get("user:42:profile"), HC_ENOTFOUND);
	assert_hc(get("user:42:cart"), HC_ENOTFOUND);
	assert_hc_ok(get("user:43:profile"));
	assert_hc_ok(get("user:420"));
	assert_hc_ok(hc_set(c, "user:42:profile", 15, "p2", 2, 0));
	assert_hc_ok(get("user:42:profile"));
	assert_hc_ok(hc_invalidate_prefix(c, "user:", 5, NULL));
	assert_hc(get("user:43:profile"), HC_ENOTFOUND);
	assert_hc(get("user:420"), HC_ENOTFOUND);
}

static void test_scan_prefix(void **state)
{
	uint64_t n = 0;

	(void)state;
	for (int i = 0; i < 100; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "img%03d", i);

		assert_hc_ok(hc_set(c, key, (size_t)kl, "v", 1, 0));
	}
	assert_hc_ok(hc_set(c, "imx", 3, "v", 1, 0));
	assert_hc_ok(hc_invalidate_prefix(c, "img0", 4, &n));
	assert_int_equal(n, 100);
	assert_hc(get("img042"), HC_ENOTFOUND);
	assert_hc_ok(get("imx"));
	assert_hc(hc_invalidate_prefix(c, "", 0, &n), HC_EINVAL);
}

static void test_flush(void **state)
{
	hc_stats s;

	(void)state;
	assert_hc_ok(hc_set(c, "f1", 2, "v", 1, 0));
	assert_hc_ok(set_tagged("f2", "x", NULL));
	assert_hc_ok(hc_flush(c));
	assert_hc(get("f1"), HC_ENOTFOUND);
	assert_hc(get("f2"), HC_ENOTFOUND);
	assert_hc(hc_add(c, "f1", 2, "new", 3, 0), 0); /* absent now */
	assert_hc_ok(get("f1"));
	assert_hc_ok(hc_stats_get(c, &s));
	assert_int_equal(s.flushes, 1);
}

static void test_negative_entry(void **state)
{
	hc_set_options o;
	hc_item_info info;
	char buf[8];

	(void)state;
	memset(&o, 0, sizeof o);
	o.flags = HC_ITEM_NEGATIVE;
	o.ttl_ms = 1000;
	assert_hc_ok(hc_set_ex(c, "ghost", 5, NULL, 0, &o));
	assert_hc(get("ghost"), HC_ENEGATIVE);
	assert_hc(hc_get_ex(c, "ghost", 5, buf, sizeof buf, &info), HC_ENEGATIVE);
	assert_int_equal(info.flags, HC_ITEM_NEGATIVE);
	/* A real value replaces it. */
	assert_hc_ok(hc_set(c, "ghost", 5, "here", 4, 0));
	assert_hc_ok(get("ghost"));
	o.flags = 0x10;
	assert_hc(hc_set_ex(c, "bad", 3, NULL, 0, &o), HC_EINVAL);
}

/* The race: a writer sets keys carrying a tag (and a delimiter prefix)
 * and publishes, after each set returns, how far it got; the invalidator
 * notes that number, invalidates, and then must never read a value at or
 * below it; and a value it sets itself afterwards must be readable. */
struct shared {
	hc_word done;   /* highest sequence whose set has returned */
	hc_word stop;
};

static void writer(struct shared *sh)
{
	hc_cache *w;
	const char *tags[1] = { "race" };
	hc_set_options o;

	if (hc_open(name, &w) != 0)
		_exit(2);
	memset(&o, 0, sizeof o);
	o.tags = tags;
	o.ntags = 1;
	for (uint64_t seq = 1; !load_acquire(&sh->stop); seq++) {
		char val[24];
		int vl = snprintf(val, sizeof val, "%llu", (unsigned long long)seq);

		if (hc_set_ex(w, "race:k", 6, val, (size_t)vl, &o) != 0)
			_exit(3);
		store_release(&sh->done, seq);
	}
	hc_close(w);
	_exit(0);
}

static void race(int kind)
{
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned stale = 0, rounds = 0;

	assert_true(sh != MAP_FAILED);
	memset(sh, 0, sizeof *sh);
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		writer(sh);
	}
	for (int i = 0; load_acquire(&sh->done) < 10; i++) {
		if (i > 50000 || waitpid(pid, NULL, WNOHANG) == pid)
			fail_msg("the writer never got going (it died, or "
			         "hc_set_ex failed)");
		usleep(100);
	}
	for (rounds = 0; rounds < 2000; rounds++) {
		uint64_t before = load_acquire(&sh->done);
		char buf[32];
		size_t n;

		if (kind == 0)
			assert_hc_ok(hc_invalidate_tag(c, "race"));
		else if (kind == 1)
			assert_hc_ok(hc_invalidate_prefix(c, "race:", 5, NULL));
		else
			assert_hc_ok(hc_flush(c));
		int rc = hc_get(c, "race:k", 6, buf, sizeof buf - 1, &n);

		if (rc == 0) {
			buf[n] = '\0';
			if (strtoull(buf, NULL, 10) <= before)
				stale++;
		}
		assert_hc_ok(hc_set(c, "race:mine", 9, "m", 1, 0));
		if (kind == 2)
			continue; /* a flush also drops race:mine, later */
		assert_hc_ok(hc_get(c, "race:mine", 9, buf, sizeof buf, &n));
	}
	store_release(&sh->stop, 1);
	int st;

	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	print_message("kind %d: %u rounds, writer reached %llu, stale reads %u\n",
	              kind, rounds, (unsigned long long)load_relaxed(&sh->done),
	              stale);
	assert_int_equal(stale, 0);
	munmap(sh, sizeof *sh);
}

static void test_race_tag(void **state)
{
	(void)state;
	race(0);
}

static void test_race_prefix(void **state)
{
	(void)state;
	race(1);
}

static void test_race_flush(void **state)
{
	(void)state;
	race(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_delimiter_prefix),
		cmocka_unit_test(test_scan_prefix),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_negative_entry),
		cmocka_unit_test(test_race_tag),
		cmocka_unit_test(test_race_prefix),
		cmocka_unit_test(test_race_flush),
	};

	return run_tap_group(tests, setup, teardown);
}
