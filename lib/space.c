/*
 * space.c - finding room for a write.  A writer appends to its open block
 * (block.c); when that is full and free blocks are down to the reserve, it
 * makes a block FREE: by cleaning or evicting one (evict.c), failing that
 * by reaping what dead processes hold (proc.c), failing that by taking
 * the reserve.  This is the layer above block.c, index.c and evict.c that
 * decides how space is found; ops.c writes through it, and nothing below
 * calls up into it.  hc_maintain() does the same work ahead of the
 * writers, for whoever calls it (hostcached, often).
 */

#include "internal.h"

/*
 * Reserve SIZE bytes in our open block for a write, making a block FREE
 * when it is full.  *LOC and *GEN as do_block_append().
 *
 * Writers pay for the room they take as they go: once a claim found the
 * free blocks down to the reserve plus HC_WALK_LEAD, each write advances
 * this process's walk (evict.c) by a few items, at a pace that frees
 * blocks faster than writes fill them, and starts the next walk when one
 * ends, until a claim finds the lead restored.  No write walks a whole
 * block unless it finds no room at all: then it finishes its walk, or
 * walks one whole.  Cleaning nets as little as an eighth of a
 * block per walk, and in a small segment the open blocks and the reserve
 * can leave it none: past half the tries, evict, so that a set always
 * finds room.  Caller holds c->lock.
 */
int do_space_append(hc_cache *c, uint64_t size, uint64_t *loc, uint64_t *gen)
{
	if (c->walk.block < 0 && c->free_seen <= c->reserve + HC_WALK_LEAD &&
	    do_walk_begin(c, true) != 0)
		c->free_seen = UINT32_MAX; /* nothing to walk: ask at the next claim */
	do_walk_advance(c, size);
	for (int tries = 0; tries < HC_CLAIM_TRIES; tries++) {
		int rc = do_block_append(c, size, false, loc, gen);

		if (rc != HC_ENOMEM)
			return rc;
		if (evict_one(c, tries < HC_CLAIM_TRIES / 2) == 0)
			continue;
		if (do_proc_reap_dead(c) > 0)
			continue;
		do_block_claim_reserve(c, false);
	}
	return hc_fail(HC_ENOMEM, "no block of the segment could be freed: "
	               "every block is open or being evicted by a live process");
}

/*
 * Append a new item built from its parts: header HDR, then the 4-byte
 * words EXTRA (tag hashes, compute time: item_extra(HDR) bytes), key, value.
 * Returns its slot word (clock 0) in *WORD.  Caller holds nothing; this
 * takes c->lock for the append.
 */
int item_write(hc_cache *c, const struct key *k, const struct hc_item *hdr,
               const uint32_t *extra, const void *val, uint32_t vlen,
               uint64_t *word)
{
	uint64_t size = item_total(item_extra(hdr), k->len, vlen);
	uint64_t loc, gen;
	shm_writer w;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = do_space_append(c, size, &loc, &gen);
	if (rc == 0) {
		shm_writer_init(&w, c->items + loc);
		shm_write(&w, hdr, sizeof *hdr);
		shm_write(&w, extra, item_extra(hdr));
		shm_write(&w, k->ptr, k->len);
		shm_write(&w, val, vlen);
		shm_writer_flush(&w);
		do_block_commit(c, false, size);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == 0)
		counter_add(c, HC_CTR_BYTES_SET, size);
	if (rc == 0)
		*word = sw_make(0, gen, k->fp, loc);
	return rc;
}

/* A writer's copy of the item at SRC with header HDR (touch): room as for
 * a write.  Caller holds c->lock and validates SRC afterwards. */
int do_space_clone(hc_cache *c, const unsigned char *src,
                   const struct hc_item *hdr, uint64_t size, unsigned fp,
                   unsigned clock, uint64_t *word)
{
	uint64_t loc, gen;
	int rc = do_space_append(c, size, &loc, &gen);

	if (rc != 0)
		return rc;
	*word = do_block_clone_at(c, loc, gen, src, hdr, size, false, fp, clock);
	return 0;
}

/* Free blocks hc_maintain() keeps: one more than the lead at which writers
 * begin freeing blocks themselves. */
static uint32_t maintain_target(const hc_cache *c)
{
	return c->reserve + HC_WALK_LEAD + 1;
}

/* Bytes of writes one maintenance step stands for: the walk moves its
 * pace times that, and the lock is let go between steps. */
#define MAINTAIN_STEP (16u << 10)

/*
 * Reap dead processes' slots, then free blocks in steps (cleaning first,
 * as a writer would: do_walk_begin) until free blocks are above the lead
 * at which writers start walking, or BUDGET_US has passed.  A walk cut
 * short stays this handle's, for its next call or write to go on with.
 */
HC_API long hc_maintain(hc_cache *c, unsigned budget_us)
{
	uint64_t start;
	long freed = 0;
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	start = stamp_now(c); /* us, from the fine clock; the reap counts */
	if ((rc = hc_reap(c)) < 0)
		return rc;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		if (c->walk.block < 0 &&
		    (block_free_count(c, maintain_target(c)) >= maintain_target(c) ||
		     do_walk_begin(c, true) != 0)) {
			pthread_mutex_unlock(&c->lock);
			break; /* enough room, or nothing SEALED to free */
		}
		freed += do_walk_advance(c, MAINTAIN_STEP);
		pthread_mutex_unlock(&c->lock);
		if (stamp_now(c) - start >= budget_us)
			break;
	}
	return freed;
}
