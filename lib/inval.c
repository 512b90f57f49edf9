/*
 * inval.c - invalidation by tag, by prefix, and flush.
 *
 * Every item carries a stamp: CLOCK_MONOTONIC in us since the segment's
 * epoch, taken when the operation that wrote it started (reinsertion and
 * touch keep it; a lease fill carries the lease's).  Invalidation never
 * touches items.  It raises a word to "now", and a hit requires the item's
 * stamp to be later than every word that applies to it:
 *
 *   flush_at          one word in the header: applies to every item;
 *   inval[h % n]      a table of words: h is the hash of one of the item's
 *                     tags, or of one of its key's delimiter-ended prefixes
 *                     ("user:" and "user:42:" of "user:42:profile");
 *   inval_latest      the latest of all of them: an item stamped after it
 *                     needs no other look, which is the common case.
 *
 * The table never fills.  Two tags (or prefixes) that share a word make each
 * other's items miss too (extra misses, never stale hits).
 *
 * Invariants:
 *  1. Invalidation CAS-raises its word, then inval_latest (full barriers),
 *     then waits until the clock has passed the stamp it wrote, so any set
 *     that starts after it returns is stamped later and stays visible.
 *  2. Readers load the words (acquire) after the slot that located the
 *     item.  A reader that still sees the old word is concurrent with the
 *     invalidation; once hc_invalidate_* has returned, every reader sees the
 *     new word, so no process reads an item written before it.
 *  3. Invalidated items are reclaimed lazily: unlinked by the get that finds
 *     them, or dropped by the evictor.
 *
 * A prefix that does not end at the delimiter has no word that readers
 * consult: it is invalidated by a scan of the index that unlinks every
 * matching entry, one CAS at a time, blocking nobody, and reports how many
 * it dropped.  Before scanning it raises a word of its own hash domain
 * (SEED_SCAN), which only lease fills read: a fill carries the stamp of its
 * grant, and a scan that started after the grant must win over it even if
 * the fill is published after the scan passed its bucket (invariant 4).
 *
 *  4. A scan raises its word (full barrier), then scans.  A fill publishes
 *     (full barrier), then reads the scan words of every prefix of its key
 *     and withdraws its entry if one is at or after its stamp.  Either the
 *     scan sees the entry or the fill sees the word.
 */
#include <sched.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define SEED_TAG 0x7461677461677461ULL    /* separate hash domains, so that */
#define SEED_PREFIX 0x7072656669787072ULL /* tag "a:" and prefix "a:" differ */
#define SEED_SCAN 0x7363616e7363616eULL   /* scanned prefixes (lease fills) */
#define HC_MAX_TAG_LEN 64u
#define CLOCK_PASS_SPINS 1000000

uint32_t tag_hash(const void *tag, size_t len)
{
	return (uint32_t)XXH3_64bits_withSeed(tag, len, SEED_TAG);
}

static uint32_t prefix_hash(const void *prefix, size_t len)
{
	return (uint32_t)XXH3_64bits_withSeed(prefix, len, SEED_PREFIX);
}

static hc_word *inval_word(hc_cache *c, uint32_t h)
{
	return &c->inval[h % c->ninval];
}

/* Does any word that applies to an item stamped STAMP, with tag hashes
 * TAGS and key KEY, forbid it?  Slow path of item_invalidated(). */
bool item_invalidated_slow(hc_cache *c, uint64_t stamp, const uint32_t *tags,
                           unsigned ntags, const void *key, uint32_t klen)
{
	const unsigned char *k = key;

	if (stamp <= load_acquire(&c->hdr->flush_at))
		return true;
	for (unsigned i = 0; i < ntags; i++)
		if (stamp <= load_acquire(inval_word(c, tags[i])))
			return true;
	for (uint32_t i = 0; i < klen; i++)
		if (k[i] == c->delimiter &&
		    stamp <= load_acquire(inval_word(c, prefix_hash(k, i + 1))))
			return true;
	return false;
}

/* Has a scanning prefix invalidation of a prefix of KEY started at or
 * after STAMP?  For lease fills (invariant 4); the caller has published
 * its entry with a full barrier. */
bool scanned_since(hc_cache *c, const void *key, uint32_t klen, uint64_t stamp)
{
	fence_full();
	for (uint32_t i = 1; i <= klen; i++) {
		uint32_t h = (uint32_t)XXH3_64bits_withSeed(key, i, SEED_SCAN);

		if (stamp <= load_acquire(inval_word(c, h)))
			return true;
	}
	return false;
}

/* Raise *W to at least V. */
static void word_raise(hc_word *w, uint64_t v)
{
	for (int i = 0; i < HC_RETRY_MAX * 16; i++) {
		uint64_t cur = load_relaxed(w);

		if (cur >= v || cas_full(w, cur, v))
			return;
	}
}

/* Invariant 1: raise WORD (or only the global words when NULL), then wait
 * for the clock to pass the stamp written. */
static void invalidate_word(hc_cache *c, hc_word *word, hc_word *global)
{
	uint64_t t = stamp_now(c);

	if (word != NULL)
		word_raise(word, t);
	if (global != NULL)
		word_raise(global, t);
	word_raise(&c->hdr->inval_latest, t);
	for (int i = 0; i < CLOCK_PASS_SPINS && stamp_now(c) <= t; i++)
		sched_yield();
}

int tag_check(const char *tag, size_t *len)
{
	if (tag == NULL)
		return hc_fail(HC_EINVAL, "tag is NULL");
	*len = strlen(tag);
	if (*len == 0 || *len > HC_MAX_TAG_LEN)
		return hc_fail(HC_EINVAL, "tag '%.64s' must be 1..%u bytes", tag,
		               HC_MAX_TAG_LEN);
	return 0;
}

HC_API int hc_invalidate_tag(hc_cache *c, const char *tag)
{
	size_t len;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = tag_check(tag, &len)) < 0)
		return hc_ret(rc);
	invalidate_word(c, inval_word(c, tag_hash(tag, len)), NULL);
	counter_add(c, HC_CTR_INVAL_TAG, 1);
	journal_append(c, HC_JOURNAL_TAG, tag, len, 0);
	return 0;
}

HC_API int hc_flush(hc_cache *c)
{
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	invalidate_word(c, NULL, &c->hdr->flush_at);
	counter_add(c, HC_CTR_FLUSHES, 1);
	journal_append(c, HC_JOURNAL_FLUSH, NULL, 0, 0);
	return 0;
}

/* Unlink slot I of bucket B if it holds a key starting with PREFIX.
 * Returns 1 when it dropped an item a reader could still have seen.  A
 * slot that changes under us (an evictor moving its item to a copy, a
 * racing write) is read again, a bounded number of times: skipping it
 * could leave an item written before the invalidation readable. */
static int scan_slot(hc_cache *c, uint32_t b, unsigned i,
                     const unsigned char *prefix, size_t len, uint64_t now,
                     unsigned char *key)
{
	hc_word *p = slot_at(c, b, i);

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		uint64_t w = load_acquire(p), bw;
		const unsigned char *at;
		struct hc_item hdr;

		if (w == 0)
			return 0;
		if (item_locate(c, w, &bw, &at, &hdr) != 0 ||
		    item_klen(&hdr) > c->max_key) {
			if (load_acquire(p) == w)
				return 0; /* stale, and still so: nothing here */
			continue;
		}
		if (item_klen(&hdr) < len ||
		    !shm_equal(item_key_at(at, &hdr), prefix, len)) {
			if (item_validate(c, w, bw) || load_acquire(p) == w)
				return 0; /* another key */
			continue;
		}
		shm_copy_out(key, item_key_at(at, &hdr), item_klen(&hdr));
		if (!item_validate(c, w, bw))
			continue;
		/* Count only what a reader could still have seen. */
		bool live = !item_expired_at(&hdr, now) &&
		            !item_invalidated(c, &hdr, at, key, item_klen(&hdr));

		if (index_unlink(c, b, i, w)) {
			block_mark_dead_sized(c, w, item_size(&hdr));
			return live;
		}
	}
	return 0;
}

/* Unlink every entry of the index whose key starts with PREFIX. */
static uint64_t prefix_scan(hc_cache *c, const unsigned char *prefix, size_t len)
{
	uint64_t dropped = 0, now = now_ms(c);
	unsigned char key[HC_MAX_KEY_LIMIT];

	for (uint32_t b = 0; b < c->nbuckets; b++)
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++)
			dropped += (uint64_t)scan_slot(c, b, i, prefix, len, now, key);
	return dropped;
}

HC_API int hc_invalidate_prefix(hc_cache *c, const void *prefix, size_t len,
                                uint64_t *count)
{
	const unsigned char *p = prefix;
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	if (prefix == NULL || len == 0 || len > c->max_key)
		return hc_ret(hc_fail(HC_EINVAL, "prefix must be 1..%u bytes (use "
		                      "hc_flush to drop everything)", c->max_key));
	if (count != NULL)
		*count = 0;
	counter_add(c, HC_CTR_INVAL_PREFIX, 1);
	journal_append(c, HC_JOURNAL_PREFIX, p, len, 0);
	if (p[len - 1] == c->delimiter) {
		invalidate_word(c, inval_word(c, prefix_hash(p, len)), NULL);
		return 0;
	}
	/* Invariant 4: the word before the scan. */
	word_raise(inval_word(c, (uint32_t)XXH3_64bits_withSeed(p, len, SEED_SCAN)),
	           stamp_now(c));
	uint64_t n = prefix_scan(c, p, len);

	counter_add(c, HC_CTR_INVAL_SCANNED, n);
	if (count != NULL)
		*count = n;
	return 0;
}

HC_API uint32_t hc_tag_hash(const char *tag)
{
	size_t len;

	return tag != NULL && tag_check(tag, &len) == 0 ? tag_hash(tag, len) : 0;
}
