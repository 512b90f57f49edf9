/*
 * t_moved_item - lookups that race with CLOCK reinsertion must still find
 * the item (index.c, invariant 6), made deterministic.
 *
 * The race: an evictor re-appends an item (its second chance), swings the
 * key's slot to the copy and frees the old block with a new generation,
 * while another process is between two steps of a lookup of that key.
 * Two windows, and three places in the library that give up in them
 * instead of reading the slot again:
 *
 *   A. between loading the slot word and loading the old block's word:
 *      the generation no longer matches, and the lookup treats the key as
 *      absent although the slot now locates the copy.
 *        index.c slot_holds_now(): get misses; delete returns
 *          HC_ENOTFOUND and leaves the copy readable; incr, replace,
 *          touch report HC_ENOTFOUND for a present key.    (tests 2, 4)
 *        inval.c prefix_scan(): hc_invalidate_prefix() with a prefix
 *          that does not end at the delimiter returns, and the copy of an
 *          item written before it stays readable.          (test 8)
 *   B. between finding the item and the unlinking CAS: the CAS fails
 *      because the slot changed, and the entry is skipped, not re-read.
 *        index.c index_remove_key(): delete returns HC_ENOTFOUND and the
 *          copy stays readable.                             (test 6)
 *        inval.c prefix_scan(): as above.                   (test 10)
 *
 *   C. between loading the old block's word and comparing the key: the
 *      block is recycled and another key's item now lies where ours was.
 *      The key differs, and the lookup took that for "not this key"
 *      without checking that the bytes were still of the generation it
 *      located.                                            (test 12)
 *
 * The torture run (tests/torture.c) found them as "incr found nothing,
 * then add found it present", "a key this worker deleted came back" and
 * "read after invalidation".
 *
 * To hit a window every time, the reader has its own handle (its own
 * mapping of the segment) and a page of its mapping is made inaccessible:
 * for A the page of block words, whose first load faults; for B first the
 * block words and then, once the item's block word was loaded, the index,
 * whose next load is the unlinking CAS's; for C the page of the item, whose
 * header is loaded right after the block word.  At that fault the SIGSEGV
 * handler restores the page and runs the evictor (another handle, another
 * mapping) until the item's block was recycled, then lets the load run
 * again.  Everything runs in one thread, in a fixed order.
 *
 * Plain TAP.  These found bugs in all three places (fixed: each now reads
 * the slot again when the item it located has moved).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"


static hc_cache *evictor, *reader;
static unsigned char *blocks_page, *index_page, *item_page;
static size_t blocks_len, index_len, item_len;
static uint64_t victim_loc;
static int rewritten;
static uint32_t victim;
static uint64_t victim_gen;
static int two_stage, stage, recycled, tests;
static unsigned filler;

static void fill_one(void)
{
	char key[32], val[200];
	int kl = snprintf(key, sizeof key, "filler:%u", filler++);

	memset(val, 'f', sizeof val);
	hc_set(evictor, key, (size_t)kl, val, sizeof val, 0);
}

/* The evictor writes until the victim block has a new life. */
static void evict_victim(void)
{
	for (int i = 0; i < 100000; i++) {
		if (bw_gen(load_relaxed(&evictor->block_words[victim])) != victim_gen) {
			recycled = 1;
			return;
		}
		fill_one();
	}
}

/* The same, and then until the victim block was claimed again and an
 * item of another key was written where the victim's item was. */
static void evict_and_rewrite_victim(void)
{
	evict_victim();
	for (int i = 0; recycled && i < 100000; i++) {
		uint64_t w = load_relaxed(&evictor->block_words[victim]);
		uint64_t used = load_relaxed(&evictor->block_meta[victim].committed) &
		                0xffffffffULL;

		if (bw_gen(w) != victim_gen && bw_state(w) != HC_BLOCK_FREE &&
		    block_start(evictor, victim) + used > victim_loc + HC_ITEM_HEADER) {
			rewritten = 1;
			return;
		}
		fill_one();
	}
}

static int inside(const unsigned char *a, const unsigned char *p, size_t len)
{
	return a >= p && a < p + len;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	unsigned char *a = si->si_addr;

	(void)uc;
	if (stage == 0 && inside(a, blocks_page, blocks_len)) {
		mprotect(blocks_page, blocks_len, PROT_READ | PROT_WRITE);
		if (two_stage) {
			/* The item's block word is loaded next: the lookup
			 * goes on to the unlinking CAS, whose load faults. */
			mprotect(index_page, index_len, PROT_NONE);
			stage = 1;
			return;
		}
		stage = 2;
		evict_victim();
		return;
	}
	if (stage == 3 && inside(a, item_page, item_len)) {
		mprotect(item_page, item_len, PROT_READ | PROT_WRITE);
		stage = 2;
		evict_and_rewrite_victim();
		return;
	}
	if (stage == 1 && inside(a, index_page, index_len)) {
		mprotect(index_page, index_len, PROT_READ | PROT_WRITE);
		stage = 2;
		evict_victim();
		return;
	}
	signal(sig, SIG_DFL); /* a real crash: re-executes and dies */
}

/* A fresh segment with two handles: the evictor's and the reader's. */
static int fresh_segment(void)
{
	static unsigned n;
	char name[64];
	hc_config cfg;

	if (reader != NULL)
		hc_close(reader);
	if (evictor != NULL)
		hc_close(evictor);
	reader = evictor = NULL;
	snprintf(name, sizeof name, "/hc-test-moved-%ld-%u", (long)getpid(), n++);
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = 1 << 20;
	cfg.max_procs = 4;
	if (hc_create(name, &cfg, &evictor) != 0 || hc_open(name, &reader) != 0)
		return -1;
	hc_unlink(name);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	blocks_page = (unsigned char *)reader->block_words;
	blocks_len = ((size_t)reader->nblocks * sizeof(hc_word) + page - 1) &
	             ~(page - 1);
	index_page = (unsigned char *)reader->index;
	index_len = ((size_t)reader->nbuckets * sizeof(struct hc_bucket) + page - 1) &
	            ~(page - 1);
	filler = 0;
	return 0;
}

/* In a fresh segment, set KEY through the evictor, read it twice (CLOCK
 * bits > 0, so eviction re-appends it), fill until its block is sealed,
 * and arm the trap.  With ONLY_KEY, the fillers are deleted again, so that
 * KEY is the only item a scan of the index meets. */
static void prepare(const char *key, int stages, int only_key)
{
	char buf[64];
	size_t len;

	if (fresh_segment() != 0) {
		printf("Bail out! cannot create a segment: %s\n", hc_last_error());
		exit(1);
	}
	hc_set(evictor, key, strlen(key), "value", 5, 0);
	hc_get(evictor, key, strlen(key), buf, sizeof buf, &len);
	hc_get(evictor, key, strlen(key), buf, sizeof buf, &len);
	victim = (uint32_t)evictor->open.block;
	victim_gen = bw_gen(load_relaxed(&evictor->block_words[victim]));
	while (evictor->open.block == (int64_t)victim)
		fill_one();
	if (only_key) {
		for (unsigned i = 0; i < filler; i++) {
			char k[32];
			int kl = snprintf(k, sizeof k, "filler:%u", i);

			hc_delete(evictor, k, (size_t)kl);
		}
	}
	two_stage = stages == 2;
	stage = recycled = rewritten = 0;
	if (stages == 3) {
		/* Window C: trap the load of the item's header. */
		struct key k;
		struct found f;
		size_t page = (size_t)sysconf(_SC_PAGESIZE);

		key_prepare(evictor, &k, key, strlen(key));
		if (index_find(evictor, &k, &f) != 0) {
			printf("Bail out! %s is not in the segment\n", key);
			exit(1);
		}
		victim_loc = sw_loc(f.word);
		item_page = (unsigned char *)(((uintptr_t)(reader->items + victim_loc)) &
		                              ~(uintptr_t)(page - 1));
		item_len = page;
		stage = 3;
		mprotect(item_page, item_len, PROT_NONE);
		return;
	}
	mprotect(blocks_page, blocks_len, PROT_NONE);
}

static int present(const char *key)
{
	char buf[64];
	size_t len;

	return hc_get(evictor, key, strlen(key), buf, sizeof buf, &len) == 0;
}

static void report(int ok, const char *todo, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(int ok, const char *todo, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", ++tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (todo != NULL)
		printf(" # %s", todo);
	printf("\n");
	fflush(stdout);
}

static void report_setup(void)
{
	report(stage == 2 && recycled, NULL, "the race was set up: the lookup "
	       "stopped in the window and the item's block was recycled");
}

/* Delete KEY while the evictor moves it at race STAGES (see prepare()),
 * WHEN as the report says; reports the setup, then that KEY is gone. */
static void delete_moved(const char *key, int stages, const char *when)
{
	int rc, still;

	prepare(key, stages, 0);
	rc = hc_delete(reader, key, strlen(key));
	still = present(key);
	report_setup();
	report(rc == 0 && !still, NULL, "delete removes an item an evictor "
	       "moved %s (delete returned %d %s; the key is %s afterwards)",
	       when, rc, hc_strerror(rc), still ? "still readable" : "gone");
}

/* The same for the scan of hc_invalidate_prefix("moved:scan"). */
static void scan_moved(const char *key, int stages, const char *when)
{
	uint64_t count = 0;
	int rc, still;

	prepare(key, stages, 1);
	rc = hc_invalidate_prefix(reader, "moved:scan", 10, &count);
	still = present(key);
	report_setup();
	report(rc == 0 && !still, NULL, "a prefix scan drops an item an "
	       "evictor moved %s (returned %d, dropped %llu; the key is %s "
	       "afterwards)", when, rc, (unsigned long long)count,
	       still ? "still readable" : "gone");
}

int main(void)
{
	char buf[64];
	size_t len = 0;
	struct sigaction sa;
	int rc;

	if (fresh_segment() != 0) {
		printf("1..0 # SKIP cannot create a segment: %s\n", hc_last_error());
		return 0;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);

	printf("1..12\n");

	/* A, in a get. */
	prepare("moved:get", 1, 0);
	rc = hc_get(reader, "moved:get", 9, buf, sizeof buf, &len);
	report_setup();
	report(rc == 0, NULL, "get finds an item an evictor moved during the "
	       "lookup (got %d %s; the copy is %s)", rc, hc_strerror(rc),
	       present("moved:get") ? "present" : "absent");

	/* A and B, in a delete. */
	delete_moved("moved:delete", 1, "during the lookup");
	delete_moved("moved:unlink", 2, "between lookup and unlink");

	/* A and B, in the scan of hc_invalidate_prefix (no delimiter at the
	 * end). */
	scan_moved("moved:scan-a", 1, "during the scan");
	scan_moved("moved:scan-b", 2, "between finding and unlinking it");

	/* C, in a get. */
	prepare("moved:rewritten", 3, 0);
	rc = hc_get(reader, "moved:rewritten", 15, buf, sizeof buf, &len);
	report(stage == 2 && recycled && rewritten, NULL, "the race was set up: "
	       "the lookup stopped before reading the item, whose block was "
	       "recycled and written over with another key's item");
	report(rc == 0, NULL, "get finds an item an evictor moved while the "
	       "lookup compared its key with another key's bytes (got %d %s; "
	       "the copy is %s)", rc, hc_strerror(rc),
	       present("moved:rewritten") ? "present" : "absent");

	hc_close(reader);
	hc_close(evictor);
	return 0;
}
