/*
 * index.c - the lock-free hash table.
 *
 * nbuckets buckets of 8 one-word slots, one cache line each, sized at
 * creation and never rehashed.  A key hashes (XXH3) to one bucket (the low
 * 32 bits of the hash, scaled to nbuckets by a multiply, so any count
 * works); 16 of the high bits are its fingerprint, so a lookup compares full
 * keys only on a fingerprint match.  The slot word format is in item.h.
 *
 * Invariants:
 *  1. A slot changes only by a CAS of the whole word (full barrier).  The
 *     word carries the block generation's low bits and the CLOCK counter, so
 *     a block reused or an item touched since the word was read makes the
 *     CAS fail.
 *  2. A slot that locates a block of another generation (or a FREE block)
 *     is stale: lookups skip it, inserts may overwrite it.
 *  3. One entry per key.  Two writers of one absent key may both find an
 *     empty slot.  Each rescans the bucket after its publishing CAS (a full
 *     barrier), so the later publisher always sees both entries.  A set that
 *     sees its key twice keeps the newer write (item_newer: stamp, then CAS
 *     id) and unlinks the other, whichever is its own: every process applies
 *     the same order, so they never remove both, and a writer whose lookup
 *     missed its key's entry (it was being moved by an evictor) can never
 *     lose its write to that older copy.  An add that sees its key twice
 *     withdraws its own entry (at most one add of a key can succeed) and
 *     tries again.
 *  6. A lookup that reads a slot's item from a block that moved on (a
 *     match or a mismatch alike) re-reads the slot: an evictor may have
 *     swung it to a reinserted copy, and skipping it would report the key
 *     absent.
 *  4. A lookup writes nothing shared except, while it is below its maximum,
 *     the CLOCK counter of the slot it hit (ops.c).
 *  5. A full bucket evicts within itself (a lossy index): the entry with the
 *     lowest CLOCK counter goes.
 */
#include <sched.h>
#include <string.h>

/* The key hash inlined: a short key hashes in a few dozen instructions,
 * less than the call into the shared library would cost. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "internal.h"

void key_prepare(const hc_cache *c, struct key *k, const void *key,
                 size_t klen)
{
	k->ptr = key;
	k->len = (uint32_t)klen;
	k->hash = XXH3_64bits(key, klen);
	k->bucket = (uint32_t)(((k->hash & 0xffffffffULL) * c->nbuckets) >> 32);
	k->fp = hash_fp(k->hash);
}

enum holds { HOLDS_NO, HOLDS_YES, HOLDS_MOVED };

/* Does slot word W hold key K?  Fills F when it does.  HOLDS_MOVED: the
 * block moved on while we read, so the slot has probably been swung to a
 * copy (reinsertion): the caller must look again. */
static enum holds slot_holds(hc_cache *c, const struct key *k, uint64_t w,
                             struct found *f)
{
	if (w == 0 || sw_fp(w) != k->fp)
		return HOLDS_NO;
	/* Its block freed or reused: stale, or just moved by an evictor
	 * that swung the slot to a copy; the caller reads the slot again. */
	if (item_locate(c, w, &f->block_word, &f->at, &f->hdr) != 0)
		return HOLDS_MOVED;
	bool match = key_matches(&f->hdr, f->at, k);

	/* Bytes read from a block being reused are garbage, whether they
	 * match or not: a mismatch may be another key's item written where
	 * ours was, after an evictor moved ours (window C of t_moved_item).
	 * Confirm the generation before trusting either answer. */
	if (!item_validate(c, w, f->block_word))
		return HOLDS_MOVED;
	return match ? HOLDS_YES : HOLDS_NO;
}

/* slot_holds() on slot I, re-reading the slot while its item moves. */
static bool slot_holds_now(hc_cache *c, const struct key *k, unsigned i,
                           struct found *f)
{
	hc_word *p = slot_at(c, k->bucket, i);

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		/* Acquire: pairs with the publishing CAS, so the item bytes
		 * the word locates are visible. */
		uint64_t w = load_acquire(p);

		switch (slot_holds(c, k, w, f)) {
		case HOLDS_NO:
			return false;
		case HOLDS_YES:
			f->bucket = k->bucket;
			f->slot = i;
			f->word = w;
			return true;
		case HOLDS_MOVED:
			if (load_acquire(p) == w)
				return false; /* the item is gone, not moved */
			break;
		}
	}
	return false;
}

int index_find(hc_cache *c, const struct key *k, struct found *f)
{
	hc_word *slots = c->index[k->bucket].slot;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		/* The common case, a fingerprint that differs, without the
		 * call. */
		uint64_t w = load_relaxed(&slots[i]);

		if (w != 0 && sw_fp(w) == k->fp && slot_holds_now(c, k, i, f))
			return 0;
	}
	return HC_ENOTFOUND;
}

/* Replace OLD in the slot by WORD.  A CLOCK bump since OLD was read does
 * not count as a change of item; anything else does. */
bool index_swap(hc_cache *c, uint32_t bucket, unsigned slot, uint64_t old,
                uint64_t word)
{
	hc_word *p = slot_at(c, bucket, slot);
	uint64_t clock_mask = 3ULL << SW_CLOCK_SHIFT;

	for (int i = 0; i < HC_RETRY_MAX; i++) {
		uint64_t cur = load_relaxed(p);

		if ((cur & ~clock_mask) != (old & ~clock_mask))
			return false;
		if (cas_full(p, cur, word))
			return true;
	}
	return false;
}

bool index_unlink(hc_cache *c, uint32_t bucket, unsigned slot, uint64_t word)
{
	return index_swap(c, bucket, slot, word, 0);
}

/* Is W an entry we may overwrite without evicting anything? */
static bool slot_is_vacant(hc_cache *c, uint64_t w)
{
	const unsigned char *at;
	struct hc_item hdr;
	uint64_t bw;

	return w == 0 || item_locate(c, w, &bw, &at, &hdr) != 0;
}

/* Put WORD into an empty or stale slot of K's bucket, or in place of the
 * bucket's coldest entry.  Returns the slot used, or -1 under contention. */
static int publish_somewhere(hc_cache *c, const struct key *k, uint64_t word)
{
	hc_word *slots = c->index[k->bucket].slot;

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		unsigned victim = 0, coldest = SW_CLOCK_MAX + 1;
		uint64_t victim_word = 0;

		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
			uint64_t w = load_acquire(&slots[i]);

			if (slot_is_vacant(c, w)) {
				if (cas_full(&slots[i], w, word))
					return (int)i;
				goto again;
			}
			/* Start the tie-break where the hash says, so the
			 * same slot is not always the victim. */
			unsigned j = (i + (unsigned)(k->hash >> 32)) % HC_BUCKET_SLOTS;
			uint64_t wj = load_relaxed(&slots[j]);

			if (wj != 0 && sw_clock(wj) < coldest) {
				coldest = sw_clock(wj);
				victim = j;
				victim_word = wj;
			}
		}
		if (victim_word != 0 && cas_full(&slots[victim], victim_word, word)) {
			block_mark_dead(c, victim_word);
			counter_add(c, HC_CTR_BUCKET_EVICTIONS, 1);
			return (int)victim;
		}
again:;
	}
	return -1;
}

/* The order of writes, on which every process agrees: the later stamp
 * wins, and CAS ids break ties (they grow within a process slot, and a
 * reinserted or touched copy keeps its original's). */
static bool item_newer(const struct hc_item *a, const struct hc_item *b)
{
	if (item_stamp(a) != item_stamp(b))
		return item_stamp(a) > item_stamp(b);
	return item_cas(a) > item_cas(b);
}

/*
 * Publish WORD (locating the fresh item MINE_HDR of key K) in K's bucket,
 * where a lookup found no entry of K.  Then resolve duplicates (invariant
 * 3).  Returns 0 when WORD stays published or lost to a newer entry of the
 * same key, HC_EEXISTS when EXCLUSIVE (add) and another entry of K was
 * found (ours is withdrawn, not accounted dead: the caller decides), or
 * HC_EBUSY.
 */
int index_publish_new(hc_cache *c, const struct key *k, uint64_t word,
                      const struct hc_item *mine_hdr, bool exclusive)
{
	int mine = publish_somewhere(c, k, word);
	struct found f;

	if (mine < 0)
		return HC_EBUSY;
	/* The publishing CAS was a full barrier: this rescan sees every
	 * entry published before ours. */
	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		if ((int)i == mine || !slot_holds_now(c, k, i, &f))
			continue;
		if (exclusive) {
			index_unlink(c, k->bucket, (unsigned)mine, word);
			return HC_EEXISTS;
		}
		if (item_newer(&f.hdr, mine_hdr)) {
			if (index_unlink(c, k->bucket, (unsigned)mine, word))
				block_mark_dead(c, word);
			return 0;
		}
		if (index_unlink(c, k->bucket, i, f.word))
			block_mark_dead_sized(c, f.word, item_size(&f.hdr));
	}
	return 0;
}

/* Unlink every entry of K (there is one, or transiently two).  Returns how
 * many of them had not expired at NOW (ms). */
int index_remove_key(hc_cache *c, const struct key *k, uint64_t now)
{
	struct found f;
	int live = 0;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		/* A failed unlink means the slot changed: an evictor may have
		 * moved the item, so look at the slot again (bounded). */
		for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
			if (!slot_holds_now(c, k, i, &f))
				break;
			if (!index_unlink(c, k->bucket, i, f.word))
				continue;
			block_mark_dead_sized(c, f.word, item_size(&f.hdr));
			if (!item_expired_at(&f.hdr, now) &&
			    !item_invalidated(c, &f.hdr, f.at, k->ptr, k->len))
				live++;
			break;
		}
	}
	return live;
}
