/*
 * t_lease - stampede protection.  Processes missing one key at once call
 * the loader exactly once; a lease holder killed with SIGKILL is replaced
 * by a waiter long before its deadline; a late holder is replaced at its
 * deadline; an invalidation or a delete during the computation wins over
 * the fill (two processes racing too); a
 * newer set is not overwritten by a fill; stale values are served while one
 * process refreshes; XFetch asks for early refreshes; batch calls.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "atomic.h"

#define RACERS 6

static char name[64];
static hc_cache *c;

static int setup(void **state)
{
	hc_config cfg;

	(void)state;
	cfg = test_config(8 << 20, 16);
	cfg.stale_grace_ms = 5000;
	return test_segment_create(name, sizeof name, "lease",
	                           &cfg, &c) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	test_segment_remove(name, c);
	return 0;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct board {
	hc_word go, ready, loads, done;
};

static struct board *board_new(void)
{
	struct board *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(b != MAP_FAILED);
	return b;
}

/* A miss of KEY that grants this process its lease (5 s, no wait). */
static void lease_miss(const char *key, size_t klen, hc_lease *l)
{
	char buf[16];

	assert_hc(hc_get_or_lease(c, key, klen, buf, sizeof buf, NULL, 5000, 0, l),
	          HC_ENOTFOUND);
	assert_true(l->held);
}

static int slow_loader(void *arg, const void *key, size_t klen, void *buf,
                       size_t cap, size_t *vlen, uint64_t *ttl_ms)
{
	struct board *b = arg;

	(void)key;
	(void)klen;
	(void)ttl_ms;
	fetch_add_full(&b->loads, 1);
	usleep(50000); /* a slow source */
	*vlen = 6;
	if (cap >= 6)
		memcpy(buf, "loaded", 6);
	return 0;
}

static void test_one_loader_for_many_missers(void **state)
{
	struct board *b = board_new();
	pid_t pids[RACERS];
	hc_stats s;

	(void)state;
	for (unsigned i = 0; i < RACERS; i++) {
		if ((pids[i] = fork()) == 0) {
			hc_cache *own;
			hc_load_options o = { .ttl_ms = 60000, .lease_ms = 5000,
			                      .wait_ms = 5000 };
			char buf[16];
			size_t n;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (hc_open(name, &own) != 0)
				_exit(2);
			fetch_add_full(&b->ready, 1);
			while (!load_acquire(&b->go))
				;
			if (hc_get_or_load(own, "hot", 3, buf, sizeof buf, &n, &o,
			                   slow_loader, b) != 0 ||
			    n != 6 || memcmp(buf, "loaded", 6) != 0)
				_exit(3);
			hc_close(own);
			_exit(0);
		}
	}
	while (load_acquire(&b->ready) < RACERS)
		usleep(1000);
	store_release(&b->go, 1);
	for (unsigned i = 0; i < RACERS; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(load_relaxed(&b->loads), 1);
	assert_hc_ok(hc_stats_get(c, &s));
	print_message("grants %llu waits %llu\n", (unsigned long long)s.lease_grants,
	              (unsigned long long)s.lease_waits);
	assert_int_equal(s.lease_grants, 1);
	assert_true(s.lease_waits >= 1);
}

static void test_killed_holder_is_replaced(void **state)
{
	struct board *b = board_new();
	hc_lease lease;
	char buf[16];

	(void)state;
	pid_t holder = fork();

	if (holder == 0) {
		hc_cache *own;
		hc_lease l;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (hc_open(name, &own) != 0 ||
		    hc_get_or_lease(own, "k9", 2, buf, sizeof buf, NULL, 60000, 0,
		                    &l) != HC_ENOTFOUND || !l.held)
			_exit(2);
		store_release(&b->ready, 1);
		pause(); /* computing, forever */
		_exit(0);
	}
	while (!load_acquire(&b->ready))
		usleep(1000);
	/* Held by a live process: we wait, and time out. */
	assert_hc(hc_get_or_lease(c, "k9", 2, buf, sizeof buf, NULL, 60000, 100,
	                          &lease), HC_ETIMEDOUT);
	assert_false(lease.held);
	/* A waiter, asleep on the lease when its holder dies. */
	pid_t waiter = fork();

	if (waiter == 0) {
		hc_cache *own;
		hc_lease l;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (hc_open(name, &own) != 0)
			_exit(2);
		store_release(&b->go, 1);
		if (hc_get_or_lease(own, "k9", 2, buf, sizeof buf, NULL, 60000,
		                    10000, &l) != HC_ENOTFOUND || !l.held)
			_exit(3);
		store_release(&b->done, ms_now());
		_exit(hc_lease_fill(own, &l, "k9", 2, "v", 1, NULL) == 0 ? 0 : 4);
	}
	while (!load_acquire(&b->go))
		usleep(1000);
	usleep(100000); /* the waiter is asleep by now */
	uint64_t t0 = ms_now();

	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	int st;

	waitpid(waiter, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	uint64_t took = load_acquire(&b->done) - t0;

	print_message("a waiting process took over %llu ms after SIGKILL "
	              "(lease deadline 60000 ms)\n", (unsigned long long)took);
	assert_true(took < 1000);
	assert_hc_ok(hc_get(c, "k9", 2, buf, sizeof buf, &(size_t){ 0 }));
}

static void test_late_holder_is_replaced(void **state)
{
	hc_lease mine, other;
	char buf[16];
	hc_stats s;

	(void)state;
	assert_hc(hc_get_or_lease(c, "late", 4, buf, sizeof buf, NULL, 50, 0,
	                          &mine), HC_ENOTFOUND);
	assert_true(mine.held);
	/* Another attachment of this process asks: held, not late yet. */
	hc_cache *c2;

	assert_hc_ok(hc_open(name, &c2));
	assert_hc(hc_get_or_lease(c2, "late", 4, buf, sizeof buf, NULL, 50, 0,
	                          &other), HC_ETIMEDOUT);
	usleep(80000);
	assert_hc(hc_get_or_lease(c2, "late", 4, buf, sizeof buf, NULL, 50, 0,
	                          &other), HC_ENOTFOUND);
	assert_true(other.held);
	/* The first holder's fill still stores, but says it lost the lease. */
	assert_hc(hc_lease_fill(c, &mine, "late", 4, "old", 3, NULL), HC_ENOLEASE);
	assert_hc_ok(hc_lease_fill(c2, &other, "late", 4, "new", 3, NULL));
	size_t n;

	assert_hc_ok(hc_get(c, "late", 4, buf, sizeof buf, &n));
	assert_memory_equal(buf, "new", 3);
	assert_hc_ok(hc_stats_get(c, &s));
	assert_true(s.lease_takeovers >= 1);
	hc_close(c2);
}

static void test_invalidation_during_fill_wins(void **state)
{
	hc_lease l;
	char buf[16];
	const char *tags[1] = { "prices" };
	hc_set_options o;

	(void)state;
	memset(&o, 0, sizeof o);
	o.tags = tags;
	o.ntags = 1;
	lease_miss("price:1", 7, &l);
	assert_hc_ok(hc_invalidate_tag(c, "prices")); /* source changed */
	assert_hc_ok(hc_lease_fill(c, &l, "price:1", 7, "old", 3, &o));
	assert_hc(hc_get(c, "price:1", 7, buf, sizeof buf, &(size_t){ 0 }),
	          HC_ENOTFOUND);
	/* Nor does a fill overwrite a newer plain set. */
	lease_miss("price:2", 7, &l);
	assert_hc_ok(hc_set(c, "price:2", 7, "newer", 5, 0));
	assert_hc_ok(hc_lease_fill(c, &l, "price:2", 7, "older", 5, NULL));
	size_t n;

	assert_hc_ok(hc_get(c, "price:2", 7, buf, sizeof buf, &n));
	assert_memory_equal(buf, "newer", 5);
	/* Abandon passes the lease on. */
	lease_miss("price:3", 7, &l);
	assert_hc_ok(hc_lease_abandon(c, &l));
	lease_miss("price:3", 7, &l);
	assert_hc_ok(hc_lease_abandon(c, &l));
	assert_hc(hc_lease_abandon(c, &l), HC_ENOLEASE); /* not held any more */
}

/* A writer that changes the source and then deletes the key beats a fill
 * computed before (lease.c, invariant 4); a delete before the grant does
 * not stop the fill, nor does a delete of another key. */
static void test_delete_during_fill_wins(void **state)
{
	hc_lease l;
	char buf[16];
	uint64_t cas = 1;
	hc_set_options o;

	(void)state;
	memset(&o, 0, sizeof o);
	o.cas_out = &cas;
	lease_miss("row:1", 5, &l);
	assert_hc(hc_delete(c, "row:1", 5), HC_ENOTFOUND); /* nothing cached */
	assert_hc_ok(hc_lease_fill(c, &l, "row:1", 5, "old", 3, &o));
	assert_int_equal(cas, 0);
	assert_hc(hc_get(c, "row:1", 5, buf, sizeof buf, &(size_t){ 0 }),
	          HC_ENOTFOUND);
	/* The lease is released: the next miss gets it, and its fill stays. */
	lease_miss("row:1", 5, &l);
	assert_hc_ok(hc_lease_fill(c, &l, "row:1", 5, "new", 3, &o));
	assert_true(cas != 0);
	assert_hc_ok(hc_get(c, "row:1", 5, buf, sizeof buf, &(size_t){ 0 }));
	assert_memory_equal(buf, "new", 3);
	/* A delete of another key while a fill is under way changes nothing. */
	lease_miss("row:2", 5, &l);
	assert_hc_ok(hc_delete(c, "row:1", 5));
	assert_hc_ok(hc_lease_fill(c, &l, "row:2", 5, "two", 3, NULL));
	assert_hc_ok(hc_get(c, "row:2", 5, buf, sizeof buf, &(size_t){ 0 }));
	assert_memory_equal(buf, "two", 3);
}

/* The same as a race between two processes: a child deletes the key as soon
 * as it sees that the parent holds the lease, while the parent fills at once
 * or a little later.  The delete started after the grant, so after both the
 * key must be absent, whichever finished first. */
#define DELETE_ROUNDS 2000

static void test_delete_races_fill(void **state)
{
	struct board *b = board_new();
	pid_t pid;
	unsigned kept = 0, after = 0;

	(void)state;
	if ((pid = fork()) == 0) {
		hc_cache *own;
		char key[16];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (hc_open(name, &own) != 0)
			_exit(2);
		for (uint64_t r = 1; r <= DELETE_ROUNDS; r++) {
			while (load_acquire(&b->go) != r)
				;
			int n = snprintf(key, sizeof key, "race:%llu",
			                 (unsigned long long)r);
			int rc = hc_delete(own, key, (size_t)n);

			if (rc != 0 && rc != HC_ENOTFOUND)
				_exit(3);
			store_release(&b->done, r);
		}
		hc_close(own);
		_exit(0);
	}
	for (uint64_t r = 1; r <= DELETE_ROUNDS; r++) {
		char key[16], buf[16];
		hc_lease l;
		int n = snprintf(key, sizeof key, "race:%llu", (unsigned long long)r);

		lease_miss(key, (size_t)n, &l);
		store_release(&b->go, r);
		/* Fill at once in some rounds, after a pause of up to a few
		 * microseconds in others, so that both orders happen. */
		for (volatile unsigned spin = 0; spin < (r % 7) * 300; spin++)
			;
		assert_hc_ok(hc_lease_fill(c, &l, key, (size_t)n, "old", 3, NULL));
		if (load_acquire(&b->done) == r)
			after++; /* the delete was over before the fill returned */
		while (load_acquire(&b->done) != r)
			;
		if (hc_get(c, key, (size_t)n, buf, sizeof buf,
		           &(size_t){ 0 }) != HC_ENOTFOUND)
			kept++;
	}
	int st;

	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	print_message("%u rounds, %u with the delete over before the fill "
	              "returned, %u kept the older value\n", DELETE_ROUNDS,
	              after, kept);
	assert_int_equal(kept, 0);
}

/* A prefix that does not end at the delimiter is invalidated by a scan of
 * the index; a fill granted before the scan, published after it passed,
 * must not read either (inval.c, invariant 4). */
static void test_scan_during_fill_wins(void **state)
{
	hc_lease l;
	char buf[16];
	uint64_t dropped = 1;
	uint64_t cas = 7;
	hc_set_options o;

	(void)state;
	memset(&o, 0, sizeof o);
	o.cas_out = &cas;
	lease_miss("scan:1", 6, &l);
	assert_hc_ok(hc_invalidate_prefix(c, "scan", 4, &dropped));
	assert_int_equal(dropped, 0); /* nothing was there yet */
	assert_hc_ok(hc_lease_fill(c, &l, "scan:1", 6, "old", 3, &o));
	assert_int_equal(cas, 0);    /* not stored */
	assert_hc(hc_get(c, "scan:1", 6, buf, sizeof buf, &(size_t){ 0 }),
	          HC_ENOTFOUND);
	/* A scan of another prefix does not touch it. */
	lease_miss("scan:2", 6, &l);
	assert_hc_ok(hc_invalidate_prefix(c, "scab", 4, NULL));
	assert_hc_ok(hc_lease_fill(c, &l, "scan:2", 6, "new", 3, &o));
	assert_true(cas != 0);
	assert_hc_ok(hc_get(c, "scan:2", 6, buf, sizeof buf, &(size_t){ 0 }));
	assert_memory_equal(buf, "new", 3);
	/* And a lease granted after the scan fills as usual. */
	assert_hc_ok(hc_invalidate_prefix(c, "scan:", 5, NULL)); /* the word */
	lease_miss("scan:3", 6, &l);
	assert_hc_ok(hc_lease_fill(c, &l, "scan:3", 6, "now", 3, NULL));
	assert_hc_ok(hc_get(c, "scan:3", 6, buf, sizeof buf, &(size_t){ 0 }));
}

/* A negative entry reads as HC_ENEGATIVE through the lease calls too, not
 * as a value. */
static void test_negative_through_lease(void **state)
{
	hc_lease l;
	char buf[16];
	hc_set_options o;

	(void)state;
	memset(&o, 0, sizeof o);
	o.flags = HC_ITEM_NEGATIVE;
	assert_hc_ok(hc_set_ex(c, "neg:1", 5, "", 0, &o));
	assert_hc(hc_get_or_lease(c, "neg:1", 5, buf, sizeof buf, NULL, 5000, 0,
	                          &l), HC_ENEGATIVE);
	assert_false(l.held);
	assert_hc(hc_get(c, "neg:1", 5, buf, sizeof buf, &(size_t){ 0 }),
	          HC_ENEGATIVE);
}

static void test_stale_while_revalidate(void **state)
{
	hc_lease first, second;
	hc_item_info info;
	char buf[16];
	size_t n;

	(void)state;
	assert_hc_ok(hc_set(c, "swr", 3, "v1", 2, 30));
	usleep(60000);
	assert_hc(hc_get(c, "swr", 3, buf, sizeof buf, &n), HC_ENOTFOUND);
	assert_hc_ok(hc_get_or_lease(c, "swr", 3, buf, sizeof buf, &info, 5000, 0,
	                             &first));
	assert_true(info.stale);
	assert_true(first.held); /* this one refreshes */
	assert_memory_equal(buf, "v1", 2);
	assert_hc_ok(hc_get_or_lease(c, "swr", 3, buf, sizeof buf, &info, 5000, 0,
	                             &second));
	assert_true(info.stale);
	assert_false(second.held); /* served stale, no waiting */
	assert_hc_ok(hc_lease_fill(c, &first, "swr", 3, "v2", 2, NULL));
	assert_hc_ok(hc_get_or_lease(c, "swr", 3, buf, sizeof buf, &info, 5000, 0,
	                             &second));
	assert_false(info.stale);
	assert_memory_equal(buf, "v2", 2);
}

static void test_early_refresh(void **state)
{
	hc_set_options o;
	hc_item_info info;
	char buf[16];
	unsigned slow = 0, fast = 0;

	(void)state;
	memset(&o, 0, sizeof o);
	o.ttl_ms = 2000;
	o.compute_ms = 60000; /* expensive: refresh well ahead */
	assert_hc_ok(hc_set_ex(c, "xf:slow", 7, "v", 1, &o));
	o.ttl_ms = 600000;
	o.compute_ms = 1; /* cheap, far from expiry: never early */
	assert_hc_ok(hc_set_ex(c, "xf:fast", 7, "v", 1, &o));
	for (int i = 0; i < 200; i++) {
		assert_hc_ok(hc_get_ex(c, "xf:slow", 7, buf, sizeof buf, &info));
		slow += info.refresh;
		assert_hc_ok(hc_get_ex(c, "xf:fast", 7, buf, sizeof buf, &info));
		fast += info.refresh;
	}
	print_message("early refresh: %u of 200 (expensive), %u of 200 (cheap)\n",
	              slow, fast);
	assert_true(slow > 150);
	assert_int_equal(fast, 0);
}

static void test_batches(void **state)
{
	const void *keys[4] = { "b1", "b2", "b3", "b4" };
	size_t klens[4] = { 2, 2, 2, 2 }, vlens[4] = { 1, 1, 1, 1 }, got[4];
	const void *vals[4] = { "1", "2", "3", "4" };
	char out[4][8];
	void *bufs[4] = { out[0], out[1], out[2], out[3] };
	size_t caps[4] = { 8, 8, 8, 8 };
	int rcs[4];

	(void)state;
	assert_int_equal(hc_set_many(c, 3, keys, klens, vals, vlens, 0, rcs), 0);
	assert_int_equal(hc_get_many(c, 4, keys, klens, bufs, caps, got, rcs), 3);
	for (int i = 0; i < 3; i++) {
		assert_hc_ok(rcs[i]);
		assert_int_equal(got[i], 1);
		assert_memory_equal(out[i], vals[i], 1);
	}
	assert_hc(rcs[3], HC_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_loader_for_many_missers),
		cmocka_unit_test(test_killed_holder_is_replaced),
		cmocka_unit_test(test_late_holder_is_replaced),
		cmocka_unit_test(test_invalidation_during_fill_wins),
		cmocka_unit_test(test_scan_during_fill_wins),
		cmocka_unit_test(test_delete_during_fill_wins),
		cmocka_unit_test(test_delete_races_fill),
		cmocka_unit_test(test_negative_through_lease),
		cmocka_unit_test(test_stale_while_revalidate),
		cmocka_unit_test(test_early_refresh),
		cmocka_unit_test(test_batches),
	};

	return run_tap_group(tests, setup, teardown);
}
