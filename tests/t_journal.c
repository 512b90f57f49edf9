/*
 * t_journal.c - the journal of changes for other hosts: off unless asked
 * for; every store, delete (present or not), incr, tag and prefix
 * invalidation and flush appended in order with its kind, data and
 * origin; a key too long for an entry marked as such; a reader behind a
 * full ring told how many it lost, a new one starting at the oldest entry
 * still there; several writer processes' entries each read once; an entry
 * a killed writer left half written skipped and counted, one a live
 * writer is still on waited for, then skipped.
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "internal.h" /* the journal's entries, to leave one half written */

static hc_cache *create_journal(struct test_fixture *f, const char *tag,
                                uint32_t entries, uint32_t max_key)
{
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);

	cfg.journal_entries = entries;
	if (max_key)
		cfg.max_key = max_key;
	return test_fixture_create(f, tag, &cfg);
}

static void assert_entry(const hc_journal_entry *e, unsigned kind,
                         const char *data)
{
	size_t len = data != NULL ? strlen(data) : 0;

	if (e->kind != kind || e->len != len || !e->whole ||
	    (len > 0 && memcmp(e->data, data, len) != 0))
		fail_msg("journal entry %llu: kind %u, %u bytes '%.*s', whole %d; "
		         "want kind %u '%s'", (unsigned long long)e->seq, e->kind,
		         e->len, (int)e->len, e->data, e->whole, kind,
		         data != NULL ? data : "");
}

static void test_off_by_default(void **state)
{
	hc_cache *c = test_fixture_create(*state, "jn-off", NULL);
	hc_journal_cursor cur = { 0 };
	hc_journal_entry e;

	assert_hc_ok(hc_set(c, KEY("k"), KEY("v"), 0));
	assert_hc(hc_journal_read(c, &cur, &e, 1), HC_EINVAL);
	assert_non_null(strstr(hc_last_error(), "journal"));
}

static void test_every_change_in_order(void **state)
{
	hc_cache *c = create_journal(*state, "jn-order", 64, 0);
	hc_journal_cursor cur = { 0 };
	hc_journal_entry e[16];
	char buf[8];
	size_t len;
	uint64_t n;

	assert_hc_ok(hc_set(c, KEY("a"), KEY("1"), 0));
	assert_hc(hc_delete(c, KEY("absent")), HC_ENOTFOUND);
	assert_hc_ok(hc_incr(c, KEY("a"), 1, &n));
	assert_hc_ok(hc_get(c, KEY("a"), buf, sizeof buf, &len)); /* no entry */
	assert_hc_ok(hc_invalidate_tag(c, "user:7"));
	assert_hc_ok(hc_invalidate_prefix(c, KEY("p:"), NULL));
	assert_hc_ok(hc_journal_origin(c, 7));
	assert_hc_ok(hc_add(c, KEY("b"), KEY("2"), 0));
	assert_hc(hc_add(c, KEY("b"), KEY("3"), 0), HC_EEXISTS); /* no change */
	assert_hc_ok(hc_flush(c));

	long got = hc_journal_read(c, &cur, e, 16);

	assert_int_equal(got, 7);
	assert_entry(&e[0], HC_JOURNAL_KEY, "a");
	assert_entry(&e[1], HC_JOURNAL_KEY, "absent");
	assert_entry(&e[2], HC_JOURNAL_KEY, "a");
	assert_entry(&e[3], HC_JOURNAL_TAG, "user:7");
	assert_entry(&e[4], HC_JOURNAL_PREFIX, "p:");
	assert_entry(&e[5], HC_JOURNAL_KEY, "b");
	assert_entry(&e[6], HC_JOURNAL_FLUSH, NULL);
	for (int i = 0; i < 7; i++) {
		assert_u64_equal(e[i].seq, (uint64_t)i);
		assert_u64_equal(e[i].origin, i < 5 ? 0 : 7);
	}
	assert_true(e[6].stamp_us >= e[0].stamp_us);
	assert_u64_equal(cur.lost, 0);
	assert_int_equal(hc_journal_read(c, &cur, e, 16), 0); /* nothing new */
}

static void test_long_key_is_a_prefix(void **state)
{
	hc_cache *c = create_journal(*state, "jn-long", 16, 300);
	hc_journal_cursor cur = { 0 };
	hc_journal_entry e;
	char key[300];

	memset(key, 'x', sizeof key);
	assert_hc_ok(hc_set(c, key, sizeof key, KEY("v"), 0));
	assert_int_equal(hc_journal_read(c, &cur, &e, 1), 1);
	assert_int_equal(e.whole, 0);
	assert_u64_equal(e.len, 256);
	assert_memory_equal(e.data, key, 256);
}

static void test_full_ring_counts_the_lost(void **state)
{
	hc_cache *c = create_journal(*state, "jn-full", 64, 0);
	hc_journal_cursor old = { 0 }, fresh = { 0 };
	hc_journal_entry e[64];
	char key[16];

	assert_hc_ok(hc_set(c, KEY("first"), KEY("v"), 0));
	assert_int_equal(hc_journal_read(c, &old, e, 64), 1);
	for (int i = 0; i < 200; i++) {
		int kl = snprintf(key, sizeof key, "k%d", i);

		assert_hc_ok(hc_set(c, key, (size_t)kl, KEY("v"), 0));
	}
	assert_int_equal(hc_journal_read(c, &old, e, 64), 64);
	assert_u64_equal(old.lost, 200 - 64);
	assert_entry(&e[0], HC_JOURNAL_KEY, "k136");
	assert_entry(&e[63], HC_JOURNAL_KEY, "k199");
	assert_int_equal(hc_journal_read(c, &fresh, e, 64), 64);
	assert_u64_equal(fresh.lost, 0); /* a new reader starts at the oldest */
	assert_entry(&e[0], HC_JOURNAL_KEY, "k136");
}

#define WRITERS 4
#define PER_WRITER 500

/* Several processes append at once while the parent reads: every entry
 * once, in sequence order, none lost. */
static void test_writer_processes(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_journal(f, "jn-procs", 4096, 0), *w;
	static hc_journal_entry e[256];
	static unsigned char seen[WRITERS][PER_WRITER];
	hc_journal_cursor cur = { 0 };
	pid_t pids[WRITERS];
	unsigned total = 0;
	uint64_t last = 0;

	memset(seen, 0, sizeof seen);
	for (int p = 0; p < WRITERS; p++) {
		if ((pids[p] = fork_attached(f->name, &w)) == 0) {
			for (int i = 0; i < PER_WRITER; i++) {
				char key[16];
				int kl = snprintf(key, sizeof key, "w%d:%d", p, i);

				if (hc_set(w, key, (size_t)kl, "v", 1, 0) != 0)
					_exit(3);
			}
			_exit(hc_close(w) == 0 ? 0 : 4);
		}
	}
	for (int spins = 0; total < WRITERS * PER_WRITER && spins < 100000;
	     spins++) {
		long n = hc_journal_read(c, &cur, e, 256);

		assert_true(n >= 0);
		for (long i = 0; i < n; i++) {
			char key[32] = { 0 };
			int p, k;

			memcpy(key, e[i].data, e[i].len < 31 ? e[i].len : 31);
			if ((total > 0 && e[i].seq <= last) ||
			    sscanf(key, "w%d:%d", &p, &k) != 2 ||
			    p < 0 || p >= WRITERS || k < 0 || k >= PER_WRITER ||
			    seen[p][k]++)
				fail_msg("entry %llu ('%.*s') out of order or twice",
				         (unsigned long long)e[i].seq, (int)e[i].len,
				         e[i].data);
			last = e[i].seq;
			total++;
		}
		if (n == 0)
			usleep(200);
	}
	for (int p = 0; p < WRITERS; p++)
		assert_int_equal(wait_status(pids[p]), 0);
	assert_u64_equal(cur.lost, 0);
	assert_int_equal(total, WRITERS * PER_WRITER);
}

/* Take the next sequence number as slot SLOT's writer would, and leave
 * its entry half written. */
static void half_write(hc_cache *c, unsigned slot)
{
	uint64_t seq = fetch_add_relaxed(&c->hdr->journal_head, 1);

	store_release(&c->journal[seq % c->njournal].mark,
	              ((seq + 1) << HC_JOURNAL_SEQ_SHIFT) | ((uint64_t)slot << 1));
}

static void test_half_written_entries(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = create_journal(f, "jn-half", 64, 0), *w;
	hc_journal_cursor cur = { 0 };
	hc_journal_entry e[8];
	int ready[2];

	/* A writer killed mid-entry: skipped at once, counted. */
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork_attached(f->name, &w);

	if (pid == 0)
		child_park(ready);
	child_parked(ready);
	unsigned dead_slot = c->slot + 1 < c->max_procs ? c->slot + 1 : 0;
	hc_proc_info procs[TEST_SEG_PROCS];
	unsigned np = 0;

	assert_hc_ok(hc_procs(c, procs, TEST_SEG_PROCS, &np));
	for (unsigned i = 0; i < np; i++)
		if (procs[i].pid == (uint32_t)pid)
			dead_slot = procs[i].slot;
	kill(pid, SIGKILL);
	wait_status(pid);
	half_write(c, dead_slot);
	assert_hc_ok(hc_set(c, KEY("after"), KEY("v"), 0));
	assert_int_equal(hc_journal_read(c, &cur, e, 8), 1);
	assert_entry(&e[0], HC_JOURNAL_KEY, "after");
	assert_u64_equal(cur.lost, 1);

	/* A live writer still at it: waited for, then given up on. */
	half_write(c, c->slot);
	assert_hc_ok(hc_set(c, KEY("later"), KEY("v"), 0));
	assert_int_equal(hc_journal_read(c, &cur, e, 8), 0);
	struct timespec nap = { 0, 150 * 1000000L };

	nanosleep(&nap, NULL);
	assert_int_equal(hc_journal_read(c, &cur, e, 8), 1);
	assert_entry(&e[0], HC_JOURNAL_KEY, "later");
	assert_u64_equal(cur.lost, 2);
}

static void test_bad_arguments(void **state)
{
	char name[64];
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);
	hc_cache *c = NULL;

	(void)state;
	cfg.journal_entries = HC_JOURNAL_MAX + 1;
	assert_hc(test_segment_create(name, sizeof name, "jn-bad", &cfg, &c),
	          HC_EINVAL);
	assert_null(c);
	assert_non_null(strstr(hc_last_error(), "journal_entries"));
	assert_hc(hc_journal_read(NULL, NULL, NULL, 0), HC_EINVAL);
}

int main(void)
{
	const struct CMUnitTest group[] = {
		fixture_test(test_off_by_default),
		fixture_test(test_every_change_in_order),
		fixture_test(test_long_key_is_a_prefix),
		fixture_test(test_full_ring_counts_the_lost),
		fixture_test(test_writer_processes),
		fixture_test(test_half_written_entries),
		fixture_test(test_bad_arguments),
	};
	return run_tap_group(group, NULL, NULL);
}
