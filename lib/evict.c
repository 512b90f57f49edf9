/*
 * evict.c - CLOCK, as FIFO with reinsertion.
 *
 * When free blocks run low (block.c), a writer evicts the SEALED block with
 * the lowest seal sequence, the oldest in the FIFO:
 *
 *   1. Claim it by CAS, SEALED(g) -> EVICTING(me, g).  A block EVICTING
 *      under a live owner is never waited for: it is simply not a candidate.
 *   2. Walk it up to `committed`.  For each item, rehash its key and find
 *      the slot that still locates it (same offset, same generation bits).
 *      No such slot: the item is already dead.  Expired: unlink it.  CLOCK
 *      counter above zero, and what this walk keeps is still under half a
 *      block: re-append it byte for byte (same CAS id, same stamp) and swing
 *      the slot to the copy with the counter lowered by one: its second
 *      chance.  Otherwise unlink it: evicted.
 *   3. Free it by CAS, EVICTING(me, g) -> FREE(g+1).  The new generation
 *      invalidates every reader still copying from it (block.c, invariant 3)
 *      and every slot word that might still name it (index.c, invariant 2).
 *
 * Every step acts only if the slot still locates the item (a CAS on the
 * whole word), so a walk may be repeated: the reaper of a killed evictor
 * finishes its block with evict_finish(), which unlinks what is left and
 * frees the block.  Reinsertion goes into the evictor's own OPEN block, and
 * the reserve of FREE blocks means it always has room; keeping under half a
 * block means every eviction frees more than it consumes.
 */
#include "internal.h"

/* Find the slot of K's bucket that locates the item at LOC of generation
 * GEN.  Returns the slot index, or -1. */
static int slot_locating(hc_cache *c, const struct key *k, uint64_t loc,
                         uint64_t gen, uint64_t *word)
{
	hc_word *slots = c->index[k->bucket].slot;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		uint64_t w = load_acquire(&slots[i]);

		if (w != 0 && sw_loc(w) == loc && sw_gen(w) == (gen & SW_GEN_MASK)) {
			*word = w;
			return (int)i;
		}
	}
	return -1;
}

/* Give the item at AT a second chance: append a copy to our open block
 * and swing its slot there.  Caller holds c->lock. */
static bool do_reinsert(hc_cache *c, const struct key *k, int slot,
                        uint64_t word, const unsigned char *at,
                        const struct hc_item *hdr, uint64_t size)
{
	uint64_t copy;

	if (do_item_clone(c, at, hdr, size, true, k->fp, sw_clock(word) - 1,
	                  &copy) != 0)
		return false;
	if (cas_full(slot_at(c, k->bucket, (unsigned)slot), word, copy))
		return true;
	block_mark_dead(c, copy); /* the slot changed meanwhile */
	return false;
}

/* Settle one item of an EVICTING block.  REINSERT is false for a reaper. */
static void evict_item(hc_cache *c, uint64_t loc, uint64_t gen,
                       const unsigned char *at, const struct hc_item *hdr,
                       uint64_t size, bool reinsert, uint64_t *kept)
{
	struct key k;

	/* The key lives in a block no one else writes while it is EVICTING;
	 * hash it from a private copy all the same (relaxed loads). */
	unsigned char keybuf[HC_MAX_KEY_LIMIT];
	uint32_t klen = item_klen(hdr);

	shm_copy_out(keybuf, item_key_at(at, hdr), klen);
	key_prepare(c, &k, keybuf, klen);

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		uint64_t w;
		int slot = slot_locating(c, &k, loc, gen, &w);

		if (slot < 0)
			return; /* dead already */
		/* Expired past the stale grace period: nobody may serve it. */
		uint64_t now = now_ms(c);

		if (item_expired_at(hdr, now > c->stale_grace_ms
		                             ? now - c->stale_grace_ms : 0)) {
			if (index_unlink(c, k.bucket, (unsigned)slot, w)) {
				counter_add(c, HC_CTR_EXPIRATIONS, 1);
				return;
			}
			continue;
		}
		if (item_invalidated(c, hdr, at, keybuf, klen)) {
			if (index_unlink(c, k.bucket, (unsigned)slot, w)) {
				counter_add(c, HC_CTR_INVAL_RECLAIMED, 1);
				return;
			}
			continue;
		}
		if (reinsert && sw_clock(w) > 0 && *kept + size <= c->block_size / 2) {
			if (do_reinsert(c, &k, slot, w, at, hdr, size)) {
				*kept += size;
				counter_add(c, HC_CTR_SECOND_CHANCES, 1);
				return;
			}
			reinsert = false; /* no room, or the slot moved: no retry */
			continue;
		}
		if (index_unlink(c, k.bucket, (unsigned)slot, w)) {
			counter_add(c, HC_CTR_EVICTIONS, 1);
			return;
		}
	}
}

/* Walk EVICTING block B of generation GEN (steps 2 and 3). */
static void evict_walk(hc_cache *c, uint32_t b, uint64_t w, bool reinsert)
{
	uint64_t gen = bw_gen(w);
	uint64_t committed = load_acquire(&c->block_meta[b].committed) & 0xffffffffULL;
	uint64_t start = block_start(c, b);
	uint64_t kept = 0;

	if (committed > c->block_size)
		committed = c->block_size;
	for (uint64_t off = 0; off + HC_ITEM_HEADER <= committed;) {
		const unsigned char *at = c->items + start + off;
		struct hc_item hdr;

		shm_copy_out(&hdr, at, sizeof hdr);
		uint64_t size = item_size(&hdr);

		/* A malformed item ends the walk: what follows cannot be
		 * parsed, and its slots go stale when the generation moves. */
		if (item_klen(&hdr) == 0 || item_ntags(&hdr) > HC_MAX_TAGS ||
		    off + size > committed)
			break;
		evict_item(c, start + off, gen, at, &hdr, size, reinsert, &kept);
		off += size;
	}
	/* Step 3: full barrier; every reader's validation pairs with it. */
	cas_full(&c->block_words[b], w, bw_make(HC_BLOCK_FREE, 0, gen + 1));
	counter_add(c, HC_CTR_BLOCKS_EVICTED, 1);
}

/* Reaper: finish block B left EVICTING (word W) by a dead slot. */
void evict_finish(hc_cache *c, uint32_t b, uint64_t w)
{
	evict_walk(c, b, w, false);
}

/* Pick the SEALED block with the lowest seal sequence.  -1 if none. */
static int64_t oldest_sealed(hc_cache *c, uint64_t *word)
{
	uint64_t best_seq = UINT64_MAX;
	int64_t best = -1;

	for (uint32_t b = 0; b < c->nblocks; b++) {
		/* Acquire: pairs with the sealing CAS, which published
		 * seal_seq. */
		uint64_t w = load_acquire(&c->block_words[b]);

		if (bw_state(w) != HC_BLOCK_SEALED)
			continue;
		uint64_t seq = load_relaxed(&c->block_meta[b].seal_seq);

		if (seq < best_seq) {
			best_seq = seq;
			best = b;
			*word = w;
		}
	}
	return best;
}

/* Evict one block.  0 when a block was freed, HC_ENOMEM when no block was
 * SEALED.  Caller holds c->lock (reinsertion appends to our open block). */
int evict_one(hc_cache *c)
{
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		uint64_t w = 0;
		int64_t b = oldest_sealed(c, &w);

		if (b < 0)
			return HC_ENOMEM;
		uint64_t mine = bw_make(HC_BLOCK_EVICTING, c->slot, bw_gen(w));

		if (!cas_full(&c->block_words[b], w, mine))
			continue; /* another evictor took it: find the next */
		evict_walk(c, (uint32_t)b, mine, true);
		return 0;
	}
	return HC_EBUSY;
}
