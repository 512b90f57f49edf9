/*
 * evict.c - freeing blocks: cleaning dead space first, CLOCK eviction when
 * the live data really is too large.
 *
 * When free blocks run low (block.c), a writer frees one SEALED block.  It
 * looks at the two windows of HC_WINDOW_BLOCKS blocks from the claim hint
 * on: claims go around the table in order, so the blocks just ahead of the
 * hint are the oldest of the log.  There it finds two candidates: the block
 * with the most dead bytes, and the oldest (lowest seal sequence).  Each
 * window scanned leaves its live bytes (committed minus dead) in the
 * segment, and each choice also refreshes one more window in turn, so the
 * sum of the windows' words is the live data, as of at most a lap of
 * refreshes ago, without a scan of the whole table.  Only when those
 * windows hold no SEALED block does it look at the rest.
 *
 *   - Cleaning.  While the live bytes are under the segment's watermark
 *     (clean_watermark_pct of item memory, 90 by default) and the deadest
 *     block is at least an eighth dead, that block is cleaned: every live
 *     item moves forward, byte for byte (same CAS id, stamp, expiry, tags)
 *     and with its CLOCK counter unchanged.  Nothing live is dropped; an
 *     overwrite-heavy load on data that fits loses no key.  This is the log
 *     cleaner of LFS and RAMCloud, the merge of Segcache, in its greedy form.
 *   - Eviction.  Otherwise the oldest block goes, as FIFO with reinsertion:
 *     an item whose counter is above zero, while what this walk keeps stays
 *     under half a block, moves forward with its counter lowered by one (its
 *     second chance); the rest is unlinked (evicted).
 *
 * Both walk their block the same way:
 *
 *   1. Claim it by CAS, SEALED(g) -> EVICTING(me, g).  A block EVICTING
 *      under a live owner is never waited for: it is simply not a candidate.
 *   2. Walk it up to `committed`.  For each item, rehash its key and find
 *      the slot that still locates it (same offset, same generation bits).
 *      No such slot: the item is already dead.  Expired or invalidated:
 *      unlink it.  Otherwise move or evict it as above.
 *   3. Free it by CAS, EVICTING(me, g) -> FREE(g+1).  The new generation
 *      invalidates every reader still copying from it (block.c, invariant 3)
 *      and every slot word that might still name it (index.c, invariant 2).
 *
 * A walk is done in steps, by the writers as they go (space.c): a writer
 * that took a block while free blocks were down to the reserve plus
 * HC_WALK_LEAD claims a victim as its walk (do_walk_begin) and then every
 * write it makes advances the walk by a few items, the write's size times
 * the walk's pace, until the block is freed; the walk is private to the
 * handle and lives across calls, its block EVICTING under our slot
 * meanwhile (no one else touches it, readers still read it).  Only a
 * writer that finds no room at all finishes its walk, or walks a whole
 * block, at once (evict_one).  Detaching finishes the walk.
 *
 * Every step acts only if the slot still locates the item (a CAS on the
 * whole word), so a walk may be repeated: the reaper of a killed evictor or
 * cleaner finishes its block with do_evict_finish(), which moves what is
 * still live there and frees the block: a kill mid-clean loses nothing.
 * Moved items go into the walker's own OPEN block for moved items (block.c
 * keeps them apart from its fresh writes: survivors of a lap of the log fill
 * blocks that stay live, and blocks of fresh writes die faster, which is
 * what makes the deadest block dead enough to be cheap), and the reserve of FREE
 * blocks means it has room: a cleaned block is at least an eighth dead and an
 * evicted one keeps under half, so every walk frees more than it consumes.
 * Should the reserve run dry all the same, the item is evicted instead.
 */
#include "internal.h"

/* How a walk settles the live items of its block. */
enum walk_mode {
	WALK_CLOCK,  /* eviction: second chance for items read since */
	WALK_CLEAN,  /* cleaning: move every live item forward */
};

/* do_reinsert(): the slot changed between our look and the swing (a
 * reader raised its CLOCK counter, a writer replaced or removed the entry):
 * look again. */
#define REINSERT_RACED 1

/* Move the item at AT: append a copy to our open block, byte for byte,
 * and swing its slot there with CLOCK counter CLOCK.  0, REINSERT_RACED,
 * or HC_ENOMEM when not even the reserve had room.  Caller holds
 * c->lock. */
static int do_reinsert(hc_cache *c, uint32_t bucket, unsigned slot,
                       uint64_t word, const unsigned char *at,
                       const struct hc_item *hdr, uint64_t size,
                       unsigned fp, unsigned clock)
{
	uint64_t copy;

	if (do_item_clone(c, at, hdr, size, fp, clock, &copy) != 0)
		return HC_ENOMEM;
	if (cas_full(slot_at(c, bucket, slot), word, copy))
		return 0;
	block_mark_dead(c, copy); /* the slot changed meanwhile */
	return REINSERT_RACED;
}

/* Settle one item of an EVICTING block according to MODE. */
static void evict_item(hc_cache *c, uint64_t loc, uint64_t gen,
                       const unsigned char *at, const struct hc_item *hdr,
                       uint64_t size, enum walk_mode mode, uint64_t *kept)
{
	struct key k;

	/* The key lives in a block no one else writes while it is EVICTING;
	 * hash it from a private copy all the same (relaxed loads). */
	unsigned char keybuf[HC_MAX_KEY_LIMIT];
	uint32_t klen = item_klen(hdr);

	shm_copy_out(keybuf, item_key_at(at, hdr), klen);
	key_prepare(c, &k, keybuf, klen);
	/* An item over this handle's limits (a header damaged in a way that
	 * stays consistent shrinks them) is one check calls malformed and
	 * drops: dropped here too, not copied into our block for check to
	 * find there. */
	bool move = klen <= c->max_key && item_vlen(hdr) <= c->max_value;

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		uint64_t w;
		uint32_t bucket;
		unsigned slot;

		if (!index_locate_item(c, &k, loc, gen, &bucket, &slot, &w))
			return; /* dead already */
		/* Expired past the stale grace period: nobody may serve it. */
		uint64_t now = now_ms(c);

		if (item_expired_at(hdr, now > c->stale_grace_ms
		                             ? now - c->stale_grace_ms : 0)) {
			if (index_unlink(c, bucket, slot, w)) {
				counter_add(c, HC_CTR_EXPIRATIONS, 1);
				return;
			}
			continue;
		}
		if (item_invalidated(c, hdr, at, keybuf, klen)) {
			if (index_unlink(c, bucket, slot, w)) {
				counter_add(c, HC_CTR_INVAL_RECLAIMED, 1);
				return;
			}
			continue;
		}
		/* Cleaning keeps every live item and its counter; CLOCK
		 * keeps what was read, with the counter lowered, while what
		 * it keeps stays under half a block.  A move that raced a
		 * change of the slot looks again: a reader's CLOCK bump must
		 * not turn a move into an eviction. */
		bool second = mode == WALK_CLOCK && sw_clock(w) > 0 &&
		              *kept + size <= c->block_size / 2;

		if (move && (mode == WALK_CLEAN || second)) {
			int rc = do_reinsert(c, bucket, slot, w, at, hdr, size,
			                     k.fp, sw_clock(w) - second);

			if (rc == REINSERT_RACED)
				continue;
			if (rc == 0) {
				*kept += size;
				if (second)
					counter_add(c, HC_CTR_SECOND_CHANCES, 1);
				return;
			}
			move = false; /* no room even in the reserve: evict */
		}
		if (index_unlink(c, bucket, slot, w)) {
			counter_add(c, HC_CTR_EVICTIONS, 1);
			return;
		}
	}
}

/* Bytes walked per byte written when evicting: a walk keeps under half. */
#define WALK_PACE_EVICT 2

/* Begin walking EVICTING block B (our word W) into WK. */
static void walk_init(hc_cache *c, struct walk *wk, uint32_t b, uint64_t w,
                      bool clean, uint32_t pace)
{
	uint64_t committed = load_acquire(&c->block_meta[b].committed) & 0xffffffffULL;

	wk->block = b;
	wk->word = w;
	wk->off = 0;
	wk->end = committed > c->block_size ? c->block_size : committed;
	wk->kept = 0;
	wk->pace = pace;
	wk->clean = clean;
}

/*
 * Step 2 for at least BUDGET bytes of WK's items (at least one item), then
 * step 3 once the walk reaches the end.  True when the block was freed.
 */
static bool walk_step(hc_cache *c, struct walk *wk, uint64_t budget)
{
	uint32_t b = (uint32_t)wk->block;
	uint64_t gen = bw_gen(wk->word), start = block_start(c, b), walked = 0;
	enum walk_mode mode = wk->clean ? WALK_CLEAN : WALK_CLOCK;

	while (wk->off + HC_ITEM_HEADER <= wk->end && walked < budget) {
		const unsigned char *at = c->items + start + wk->off;
		struct hc_item hdr;

		shm_copy_out(&hdr, at, sizeof hdr);
		uint64_t size = item_size(&hdr);

		/* A malformed item ends the walk: what follows cannot be
		 * parsed, and its slots go stale when the generation moves. */
		if (item_klen(&hdr) == 0 || item_ntags(&hdr) > HC_MAX_TAGS ||
		    wk->off + size > wk->end) {
			wk->off = wk->end;
			break;
		}
		evict_item(c, start + wk->off, gen, at, &hdr, size, mode,
		           &wk->kept);
		wk->off += size;
		walked += size;
	}
	if (wk->off + HC_ITEM_HEADER <= wk->end)
		return false;
	/* Step 3: full barrier; every reader's validation pairs with it.  It
	 * fails only when a repair took the block from us. */
	wk->block = -1;
	if (!block_free(c, b, wk->word))
		return false;
	if (wk->clean) {
		counter_add(c, HC_CTR_BLOCKS_CLEANED, 1);
		counter_add(c, HC_CTR_BYTES_CLEANED, wk->kept);
	} else {
		counter_add(c, HC_CTR_BLOCKS_EVICTED, 1);
	}
	return true;
}

/* Reaper: finish block B left EVICTING (word W) by a dead slot.  Every
 * live item still there moves forward, whether the dead walker was
 * cleaning or evicting (it may have died before it could say which):
 * nothing it left behind is lost while the reserve has room.  Caller
 * holds c->lock. */
void do_evict_finish(hc_cache *c, uint32_t b, uint64_t w)
{
	struct walk wk;

	walk_init(c, &wk, b, w, true, 1);
	walk_step(c, &wk, UINT64_MAX);
}

/* Dead bytes of block B (word W) by the generation they were counted in. */
static uint64_t block_dead_bytes(hc_cache *c, uint32_t b, uint64_t w)
{
	uint64_t d = load_relaxed(&c->block_meta[b].dead);

	if (((d >> HC_DEAD_GEN_SHIFT) & 0xffff) != (bw_gen(w) & 0xffff))
		return 0;
	return d & HC_DEAD_BYTES_MASK;
}

/* What one pass over the block table tells the evictor. */
struct victims {
	int64_t oldest;          /* SEALED block with the lowest seal sequence */
	uint64_t oldest_word;
	int64_t deadest;         /* SEALED block cleaning would free most of */
	uint64_t deadest_word;
	uint64_t deadest_bytes;  /* its dead bytes plus its unused tail */
	uint64_t live;           /* committed minus dead, over non-FREE blocks */
};

/* Scan window WIN: store its live bytes, and with V, weigh its SEALED
 * blocks as candidates. */
static void window_scan(hc_cache *c, uint32_t win, struct victims *v,
                        uint64_t *best_seq)
{
	uint32_t end = (win + 1) * HC_WINDOW_BLOCKS;
	uint64_t live = 0;

	for (uint32_t b = win * HC_WINDOW_BLOCKS; b < end && b < c->nblocks; b++) {
		/* Acquire: pairs with the sealing CAS, which published
		 * seal_seq. */
		uint64_t w = load_acquire(&c->block_words[b]);

		if (bw_state(w) == HC_BLOCK_FREE)
			continue;
		uint64_t used = load_relaxed(&c->block_meta[b].committed) & 0xffffffffULL;
		uint64_t dead = block_dead_bytes(c, b, w);

		if (used > c->block_size)
			used = c->block_size;
		live += used > dead ? used - dead : 0;
		if (v == NULL || bw_state(w) != HC_BLOCK_SEALED)
			continue;
		uint64_t seq = load_relaxed(&c->block_meta[b].seal_seq);

		if (seq < *best_seq) {
			*best_seq = seq;
			v->oldest = b;
			v->oldest_word = w;
		}
		/* What cleaning frees: the dead bytes, and the tail a seal
		 * left unused (a killed writer's block, a cleaner's last
		 * block). */
		uint64_t free_bytes = dead + (c->block_size - used);

		if (free_bytes > v->deadest_bytes) {
			v->deadest_bytes = free_bytes;
			v->deadest = b;
			v->deadest_word = w;
		}
	}
	store_relaxed(&c->window_live[win], live);
}

/* The live bytes of item memory: the sum of the windows' words, each at
 * most a window's bytes (the words are the segment's, and only a hint). */
static uint64_t windows_live(hc_cache *c)
{
	uint64_t cap = (uint64_t)HC_WINDOW_BLOCKS * c->block_size, live = 0;

	for (uint32_t i = 0; i < c->nwindows; i++) {
		uint64_t x = load_relaxed(&c->window_live[i]);

		live += x < cap ? x : cap;
	}
	return live;
}

static void victims_find(hc_cache *c, struct victims *v)
{
	uint32_t nw = c->nwindows;
	uint32_t first = (uint32_t)(load_relaxed(&c->hdr->alloc_hint) %
	                            c->nblocks) / HC_WINDOW_BLOCKS;
	uint32_t second = first + 1 < nw ? first + 1 : 0;
	uint64_t best_seq = UINT64_MAX;

	v->oldest = v->deadest = -1;
	v->oldest_word = v->deadest_word = 0;
	v->deadest_bytes = 0;
	window_scan(c, first, v, &best_seq);
	if (second != first)
		window_scan(c, second, v, &best_seq);
	if (nw > 2) {
		uint32_t r = (uint32_t)(fetch_add_relaxed(&c->hdr->window_next, 1) % nw);

		if (r != first && r != second)
			window_scan(c, r, NULL, NULL);
	}
	/* Nothing SEALED ahead of the hint (open and walked blocks of many
	 * processes, a small segment): the other windows, in order. */
	for (uint32_t k = 2; v->oldest < 0 && k < nw; k++)
		window_scan(c, (first + k) % nw, v, &best_seq);
	v->live = windows_live(c);
}

/*
 * Clean or evict?  Cleaning pays when the live data is under the segment's
 * watermark and some block is dead enough that moving its live items
 * forward frees a worthwhile share of it: at least an eighth.  Below the
 * watermark such a block usually exists once the free blocks are down to
 * the reserve (dead bytes are then about the share above the watermark,
 * spread over the sealed blocks, and the deadest block holds at least the
 * average); in a segment of a few blocks, where open blocks and the
 * reserve are a large share of item memory, it may not, and the caller
 * falls back to eviction (block.c).  Greedy choice of the deadest block: with immutable items and
 * no age information worth trusting it is what LFS's cost-benefit policy
 * reduces to when every block is equally old, and it needs no state beyond
 * the dead counters.
 */
static bool should_clean(hc_cache *c, const struct victims *v)
{
	return v->deadest >= 0 &&
	       v->live * 100 < c->item_memory * c->clean_watermark_pct &&
	       v->deadest_bytes >= c->block_size / 8;
}

/*
 * Start freeing a block: choose the deadest to clean (keeping every live
 * item) while the live data is under the watermark and MAY_CLEAN, else the
 * oldest to evict by CLOCK, and claim it as our walk.  Its pace is what
 * keeps the writers ahead of what they consume: a cleaned block that frees
 * F of its U committed bytes is walked 5U/4F bytes per byte written (a
 * quarter ahead; at most 10, as cleaned blocks are at least an eighth
 * free), an evicted one, which keeps under half, 2 (WALK_PACE_EVICT).  0,
 * HC_ENOMEM when no block was SEALED, HC_EBUSY when others kept taking the
 * candidates.  Caller holds c->lock.
 */
int do_walk_begin(hc_cache *c, bool may_clean)
{
	if (c->walk.block >= 0)
		return 0;
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		struct victims v;

		victims_find(c, &v);
		if (v.oldest < 0)
			return HC_ENOMEM;
		bool clean = may_clean && should_clean(c, &v);
		int64_t b = clean ? v.deadest : v.oldest;
		uint64_t w = clean ? v.deadest_word : v.oldest_word;
		uint64_t mine = bw_make(HC_BLOCK_EVICTING, c->slot, bw_gen(w));

		if (!cas_full(&c->block_words[b], w, mine))
			continue; /* another evictor took it: find the next */
		walk_init(c, &c->walk, (uint32_t)b, mine, clean, WALK_PACE_EVICT);
		if (clean) {
			uint64_t pace = (5 * c->walk.end + 4 * v.deadest_bytes - 1) /
			                (4 * v.deadest_bytes);

			c->walk.pace = pace > 10 ? 10 : pace < 1 ? 1 : (uint32_t)pace;
		}
		return 0;
	}
	return HC_EBUSY;
}

/* A step of our walk, paid by a write of BYTES: the walk's pace times
 * that.  True when it freed its block. */
bool do_walk_advance(hc_cache *c, uint64_t bytes)
{
	if (c->walk.block < 0)
		return false;
	return walk_step(c, &c->walk, bytes * c->walk.pace);
}

/* Finish our walk, if any (detach, or a writer that found no room). */
void do_walk_end(hc_cache *c)
{
	if (c->walk.block >= 0)
		walk_step(c, &c->walk, UINT64_MAX);
}

/* Free one block now: finish our walk, or walk a new one whole.  0 when a
 * block was freed, else as do_walk_begin().  Caller holds c->lock. */
int evict_one(hc_cache *c, bool may_clean)
{
	int rc = c->walk.block >= 0 ? 0 : do_walk_begin(c, may_clean);

	if (rc == 0)
		do_walk_end(c);
	return rc;
}
