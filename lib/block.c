/*
 * block.c - item memory as a log of equal blocks.
 *
 * Every block is FREE, OPEN (one owner appends to it), SEALED (full, in FIFO
 * order of its seal sequence) or EVICTING (one evictor walks it).  The
 * state, the owner slot and a generation share one word, changed only by
 * CAS:
 *
 *   FREE(g) --claim--> OPEN(o,g) --seal--> SEALED(g) --evict--> EVICTING(e,g)
 *      ^                                                          |
 *      +------------------------- free: generation g+1 -----------+
 *
 * Invariants:
 *  1. Only the owner of an OPEN block writes into it, and only beyond its
 *     committed offset; a published item is never written again.
 *  2. An item is published (index CAS) only after `committed` covers it
 *     (release store), so walkers that stop at `committed` see whole items.
 *  3. A block's bytes are rewritten only in a later generation: the claim
 *     CAS (full barrier) that makes it OPEN comes before any new byte, and
 *     the generation changed on the way to FREE.  A reader that loaded the
 *     block word before copying and finds the same generation after its
 *     acquire fence copied bytes of that generation only.
 *  4. Only the owner or the reaper of the owner's slot seals a block, so
 *     nothing still being written is ever evicted.
 *
 * The free map beside the block words has a bit per block, set after the CAS
 * that makes it FREE and cleared by the claim that wins it, so a claim reads
 * a word per 64 blocks, from a shared hint, and the block words of the bits
 * it finds set (at most nblocks / 64 + the few it counts).  The block word
 * stays the truth and the map a hint: a set bit of a block that is not FREE
 * is skipped (a claimer killed before clearing it; the next claim of that
 * block clears it), and a FREE block whose bit a killed process never set
 * is found again by the reaper of its slot (block_map_sync).  Nothing but a
 * claim winner clears a bit, so no race hides a FREE block from the map
 * for longer than a reap.
 */
#include <string.h>

#include "internal.h"

/* Mark block B FREE in the free map (after the CAS that made it so). */
void block_map_free(hc_cache *c, uint32_t b)
{
	uint64_t bit = 1ULL << (b & 63);

	if (!(load_relaxed(&c->free_map[b >> 6]) & bit))
		or_full(&c->free_map[b >> 6], bit);
}

/* Free block B, expected in word W: FREE in the next generation (which
 * invalidates every reader and slot word of this one), then in the map.
 * False when the word changed. */
bool block_free(hc_cache *c, uint32_t b, uint64_t w)
{
	if (!cas_full(&c->block_words[b], w,
	              bw_make(HC_BLOCK_FREE, 0, bw_gen(w) + 1)))
		return false;
	block_map_free(c, b);
	return true;
}

/* Put back in the map every FREE block a killed process left out of it
 * (the reaper, check --repair).  A scan of the block table: rare. */
void block_map_sync(hc_cache *c)
{
	for (uint32_t b = 0; b < c->nblocks; b++)
		if (bw_state(load_acquire(&c->block_words[b])) == HC_BLOCK_FREE)
			block_map_free(c, b);
}

/* Seal OPEN block B (word W).  The seal sequence is stored before the
 * state CAS, which publishes it (full barrier) to evictors that
 * acquire-load the word. */
void block_seal(hc_cache *c, uint32_t b, uint64_t w)
{
	uint64_t used = load_acquire(&c->block_meta[b].committed) & 0xffffffffULL;

	if (used == 0) {
		/* Nothing was ever published here: straight back to FREE. */
		block_free(c, b, w);
		return;
	}
	uint64_t seq = fetch_add_relaxed(&c->hdr->seal_seq, 1);

	store_relaxed(&c->block_meta[b].seal_seq, seq);
	cas_full(&c->block_words[b], w, bw_make(HC_BLOCK_SEALED, 0, bw_gen(w)));
}

static void do_seal(hc_cache *c, struct open_block *ob)
{
	if (ob->block < 0)
		return;
	uint32_t b = (uint32_t)ob->block;
	uint64_t w = load_acquire(&c->block_words[b]);

	if (bw_state(w) == HC_BLOCK_OPEN && bw_owner(w) == c->slot)
		block_seal(c, b, w);
	ob->block = -1;
}

/* Seal both of our open blocks (detach). */
void do_block_seal_open(hc_cache *c)
{
	do_seal(c, &c->open);
	do_seal(c, &c->moved);
}

static struct open_block *open_for(hc_cache *c, bool moved)
{
	return moved ? &c->moved : &c->open;
}

/*
 * Count the FREE blocks the map shows, from block START on, around the
 * table once, up to ENOUGH.  Each counted is FREE by its block word
 * (relaxed: a claim's CAS decides); *FIRST (-1: none) and *FIRST_WORD get
 * the first.
 */
static uint32_t free_blocks_scan(hc_cache *c, uint32_t start, uint32_t enough,
                                 int64_t *first, uint64_t *first_word)
{
	uint32_t count = 0, w0 = start >> 6;

	*first = -1;
	for (uint32_t k = 0; k <= c->nmap && count < enough; k++) {
		uint32_t wi = w0 + k < c->nmap ? w0 + k : w0 + k - c->nmap;
		uint64_t bits = load_relaxed(&c->free_map[wi]);
		unsigned low = start & 63;

		/* The first word from START on; its low bits once around. */
		if (k == 0)
			bits &= ~0ULL << low;
		else if (k == c->nmap)
			bits &= low ? (1ULL << low) - 1 : 0;
		for (; bits != 0 && count < enough; bits &= bits - 1) {
			uint32_t b = wi * 64 + (uint32_t)__builtin_ctzll(bits);
			uint64_t w;

			if (b >= c->nblocks)
				break;
			w = load_relaxed(&c->block_words[b]);
			if (bw_state(w) != HC_BLOCK_FREE)
				continue;
			if (count++ == 0) {
				*first = b;
				*first_word = w;
			}
		}
	}
	return count;
}

/* FREE blocks, counted up to ENOUGH (the scan stops there). */
uint32_t block_free_count(hc_cache *c, uint32_t enough)
{
	int64_t first;
	uint64_t w;

	return free_blocks_scan(c, 0, enough, &first, &w);
}

/*
 * Claim a FREE block as our OPEN block OB.  Returns 0 on success, 1 when
 * none may be taken (free blocks at or below the reserve, for a writer),
 * HC_ENOMEM when none is FREE at all.  c->free_seen says how many FREE
 * blocks the scan counted, up to the reserve plus HC_WALK_LEAD plus one:
 * space.c starts freeing blocks when it is down to that lead.  Moved items may dip into the
 * reserve: that is what it is for, so that cleaning always has room.
 */
static int do_block_claim(hc_cache *c, bool use_reserve,
                          struct open_block *ob)
{
	uint32_t hint = (uint32_t)(load_relaxed(&c->hdr->alloc_hint) % c->nblocks);
	uint64_t first_word = 0;
	int64_t found;
	uint32_t free_count = free_blocks_scan(c, hint, c->reserve + HC_WALK_LEAD + 1,
	                                       &found, &first_word);

	c->free_seen = free_count;
	if (found < 0)
		return HC_ENOMEM;
	if (free_count <= c->reserve && !use_reserve)
		return 1;
	uint32_t first = (uint32_t)found;

	/* Full barrier: the claim is ordered before every byte we write into
	 * the block (invariant 3). */
	if (!cas_full(&c->block_words[first], first_word,
	              bw_make(HC_BLOCK_OPEN, c->slot, bw_gen(first_word))))
		return 0; /* lost the race: OB has no block, the caller looks again */
	and_full(&c->free_map[first >> 6], ~(1ULL << (first & 63)));
	store_relaxed(&c->hdr->alloc_hint, first + 1);
	store_relaxed(&c->block_meta[first].committed, 0);
	store_relaxed(&c->block_meta[first].dead,
	              (bw_gen(first_word) & 0xffff) << HC_DEAD_GEN_SHIFT);
	ob->block = first;
	ob->gen = bw_gen(first_word);
	ob->used = 0;
	ob->items = 0;
	return 0;
}

/*
 * Reserve SIZE bytes at the end of our open block (MOVED: the one for
 * moved items), claiming a FREE block when it is full.  On success *LOC is
 * the item's offset in item memory and *GEN the block's generation; the
 * caller writes the item and calls do_block_commit().  HC_ENOMEM when no
 * block may be claimed: for a writer, free blocks are down to the reserve
 * (space.c then makes one FREE); for moved items, none is FREE at all.
 * Caller holds c->lock.
 */
int do_block_append(hc_cache *c, uint64_t size, bool moved, uint64_t *loc,
                    uint64_t *gen)
{
	struct open_block *ob = open_for(c, moved);

	if (size > c->block_size)
		return HC_EVALUE;
	for (int tries = 0; tries < HC_CLAIM_TRIES; tries++) {
		if (ob->block >= 0) {
			if (ob->used + size <= c->block_size) {
				*loc = block_start(c, (uint32_t)ob->block) + ob->used;
				*gen = ob->gen;
				return 0;
			}
			do_seal(c, ob);
		}
		int rc = do_block_claim(c, moved, ob);

		if (rc != 0)
			return HC_ENOMEM;
	}
	return HC_ENOMEM;
}

/* Claim a FREE block for our open block even from the reserve: the last
 * resort of a writer (space.c).  0, or HC_ENOMEM. */
int do_block_claim_reserve(hc_cache *c, bool moved)
{
	return do_block_claim(c, true, open_for(c, moved)) == 0 ? 0 : HC_ENOMEM;
}

/* Make the item just written visible to walkers (invariant 2). */
void do_block_commit(hc_cache *c, bool moved, uint64_t size)
{
	struct open_block *ob = open_for(c, moved);

	ob->used += (uint32_t)size;
	ob->items++;
	store_release(&c->block_meta[ob->block].committed,
	              ((uint64_t)ob->items << 32) | ob->used);
}

/*
 * Account SIZE bytes of the item that slot word WORD located as dead, if its
 * block is still in the generation the word names.  Called by whoever
 * unlinked it (exactly one process per item: the one whose CAS removed it).
 */
void block_mark_dead_sized(hc_cache *c, uint64_t word, uint64_t size)
{
	if (sw_loc(word) >= c->item_memory)
		return;
	hc_word *dead = &c->block_meta[block_of(c, sw_loc(word))].dead;

	for (int i = 0; i < HC_RETRY_MAX; i++) {
		uint64_t d = load_relaxed(dead);

		if (((d >> HC_DEAD_GEN_SHIFT) & SW_GEN_MASK) != sw_gen(word))
			return;
		if ((d & HC_DEAD_BYTES_MASK) + size > HC_DEAD_BYTES_MASK ||
		    ((d >> HC_DEAD_ITEMS_SHIFT) & HC_DEAD_ITEMS_MASK) ==
		            HC_DEAD_ITEMS_MASK)
			return;
		if (cas_full(dead, d, d + size + (1ULL << HC_DEAD_ITEMS_SHIFT)))
			return;
	}
}

/* The same, reading the item's size from its header. */
void block_mark_dead(hc_cache *c, uint64_t word)
{
	const unsigned char *at;
	struct hc_item hdr;
	uint64_t bw;

	if (item_locate(c, word, &bw, &at, &hdr) == 0)
		block_mark_dead_sized(c, word, item_size(&hdr));
}

/*
 * Write a copy of the item at SRC (SIZE bytes, 8-aligned) with header HDR
 * in place of its own at LOC, just reserved in the open block MOVED names
 * (generation GEN), and commit it.  Returns its slot word.  The caller
 * validates SRC afterwards (touch) or owns its block (cleaning, eviction).
 * Caller holds c->lock.
 */
uint64_t do_block_clone_at(hc_cache *c, uint64_t loc, uint64_t gen,
                           const unsigned char *src, const struct hc_item *hdr,
                           uint64_t size, bool moved, unsigned fp,
                           unsigned clock)
{
	hc_word *dst = (hc_word *)(c->items + loc);
	const hc_word *from = (const hc_word *)src;

	store_relaxed(&dst[0], hdr->cas_flags);
	store_relaxed(&dst[1], hdr->stamp_klen);
	store_relaxed(&dst[2], hdr->expire_vlen);
	for (uint64_t i = 3; i < size / 8; i++)
		store_relaxed(&dst[i], load_relaxed(&from[i]));
	do_block_commit(c, moved, size);
	return sw_make(clock, gen, fp, loc);
}

/* Move the item at SRC into our open block for moved items (cleaning,
 * eviction, repair): no eviction to make room, the reserve is for this. */
int do_item_clone(hc_cache *c, const unsigned char *src,
                  const struct hc_item *hdr, uint64_t size, unsigned fp,
                  unsigned clock, uint64_t *word)
{
	uint64_t loc, gen;
	int rc = do_block_append(c, size, true, &loc, &gen);

	if (rc != 0)
		return rc;
	*word = do_block_clone_at(c, loc, gen, src, hdr, size, true, fp, clock);
	return 0;
}
