/*
 * index.c - the lock-free hash table.
 *
 * nbuckets buckets of 8 one-word slots, one cache line each, sized at
 * creation and never rehashed.  A key hashes (XXH3) to its first bucket
 * (the low 32 bits of the hash, scaled to nbuckets by a multiply, so any
 * count works); 16 of the high bits are its fingerprint, so a lookup
 * compares full keys only on a fingerprint match.  Its second bucket is
 * bucket_other(first, fp) (internal.h), computable from a slot word and the
 * bucket it sits in.  The slot word format is in item.h.
 *
 * Two choices and displacement (bucketized cuckoo hashing, as in MemC3 and
 * libcuckoo, without their locks).  A new entry goes to its first bucket if
 * it has room, else to its second; when both are full, an entry of one of
 * them moves to its own other bucket (or, two deep, an entry of that bucket
 * moves first) to make room.  Tested to 90 % of the slots at load and
 * under churn (t_index; a simulation of the scheme lost no key at 95 %
 * either).  In the simulation the second bucket holds 3 % of the entries
 * at a load of 1/2, 16 % at 0.7 and 44 % at 0.9: segment.c sizes the index
 * for 2/3 when item memory is full of average items, so most hits read one
 * bucket line; a miss reads two.  Only when moves find no room does the
 * pair evict its coldest entry (counted as a bucket eviction).
 *
 * Invariants:
 *  1. A slot changes only by a CAS of the whole word (full barrier).  The
 *     word carries the block generation's low bits and the CLOCK counter, so
 *     a block reused or an item touched since the word was read makes the
 *     CAS fail.
 *  2. A slot that locates a block of another generation (or a FREE block)
 *     is stale: lookups skip it, inserts may overwrite it.
 *  3. One entry per key.  Two writers of one absent key may both find an
 *     empty slot.  Each rescans both buckets after its publishing CAS (a
 *     full barrier), so the later publisher always sees both entries.  A
 *     set that sees its key more than once keeps the newest write
 *     (item_newer: stamp, then CAS id) and unlinks the others, whichever
 *     is its own: every process applies the same order, so they never
 *     remove all, and a writer whose lookup missed its key's entry (it was
 *     being moved) can never lose its write to that older copy.  Swaps
 *     (a set over a found entry, an evictor's copy) do not rescan: a
 *     rescan whose unlink fails because the slot changed under it rescans
 *     again, so the entry swapped in is weighed in its turn.  An add that
 *     sees its key twice withdraws its own entry (at most one add of a key
 *     can succeed) and tries again.  A move ends with the same rescan.
 *  4. A lookup writes nothing shared except, while it is below its maximum,
 *     the CLOCK counter of the slot it hit (ops.c).
 *  5. A lookup that reads a slot's item from a block that moved on (a
 *     match or a mismatch alike) re-reads the slot: an evictor may have
 *     swung it to a reinserted copy, and skipping it would report the key
 *     absent.
 *  6. A move never hides a key from a lookup that reports it absent.  The
 *     mover, holding its process's lock and with the move written in its
 *     process slot for a reaper, (a) takes a vacant slot of the destination
 *     with its RES marker, (b) bumps the header's index_moves, (c) swaps the
 *     entry for its TOMB marker, (d) swaps RES for the entry, (e) clears
 *     TOMB.  The entry is in no slot only between (c) and (d), while both
 *     of its key's buckets hold a marker.  A miss counts only when a pass
 *     over both buckets saw no marker and index_moves did not change from
 *     before the pass to after it: then no move of the key began (a) or
 *     ended (e) between the pass's two bucket reads.  Otherwise the pass is
 *     repeated, waiting for a live mover however long it is descheduled
 *     (up to about a second, for one that is stopped: pass_settled).  A
 *     hit needs no such proof.
 *  7. A killed mover is finished by whoever reaps its slot
 *     (do_index_move_recover): TOMB in the source means (c) happened, so RES
 *     still in the destination gets the entry; no TOMB means it did not, so
 *     RES is cleared.  Either way nothing is lost and no marker stays.
 */
#include <sched.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---- passes: proving a miss (invariant 6) ---- */

struct pass {
	uint64_t moves;          /* index_moves before the pass */
	bool marks;              /* a move marker was seen in K's buckets */
	unsigned owner;          /* the process slot of the last one seen */
	const hc_word *at;       /* where it was, and what it read */
	uint64_t marker;
	unsigned stale;          /* naps in a row it looked left behind */
};

static void pass_begin(hc_cache *c, struct pass *p)
{
	/* Acquire: pairs with the mover's full-barrier bump, which follows
	 * its RES marker; a bump we see has its marker visible to the pass. */
	p->moves = load_acquire(&c->hdr->index_moves);
	p->marks = false;
}

static void pass_saw(struct pass *p, uint64_t w, const hc_word *at)
{
	p->marks = true;
	p->owner = sw_marker_owner(w);
	p->at = at;
	p->marker = w;
}

/* Passes spun, then yielded, before a marker is taken for a stall. */
#define PASS_SPINS 4
#define PASS_YIELDS 64
/* 50 us naps waiting on a live mover: about a second at most. */
#define PASS_NAPS 20000
#define PASS_NAP_NS 50000
/* Naps in a row after which a marker no move owns is taken for a
 * scribble. */
#define PASS_STALE_NAPS 8

/* Has slot OWNER a move in flight?  Our own slot is asked of this handle,
 * whose flag the segment's bytes cannot fake. */
static bool move_logged(hc_cache *c, unsigned owner)
{
	if (owner == c->slot && c->self != NULL)
		return load_acquire(&c->moving) != 0;
	return (load_acquire(&c->procs[owner].move[0]) & MOVE_LOGGED) != 0;
}

/*
 * Is the marker the pass saw left behind by no move (scribbled bytes)?  A
 * mover logs its move (release) before it plants its first marker and
 * clears the log after its last.  So when the owner has no move logged,
 * the marker is still in its slot, and the owner still has none logged,
 * either no move will ever take the marker back, or a whole move began
 * and ended between the two looks.  Seen so at PASS_STALE_NAPS naps in a
 * row, 50 us apart, it is the former.
 */
static bool marker_stale(hc_cache *c, struct pass *p)
{
	if (move_logged(c, p->owner) || load_acquire(p->at) != p->marker ||
	    move_logged(c, p->owner)) {
		p->stale = 0;
		return false;
	}
	return ++p->stale >= PASS_STALE_NAPS;
}

/*
 * Is the pass done?  True when it saw both buckets without a move in its
 * way (a proof), or when waiting longer cannot help: after PASS_YIELDS
 * passes with no marker left in sight (moves elsewhere keep changing the
 * count, but none of them is K's), or with a marker whose owner is dead
 * (its reaper lands or undoes the move) or that no move owns
 * (marker_stale), or after PASS_NAPS naps behind a live owner that does
 * not get to run (stopped).  A live mover between (c) and (d) that was
 * descheduled holds K's entry in no slot: readers wait for it rather than
 * report K absent.
 */
static bool pass_settled(hc_cache *c, struct pass *p, int tries)
{
	/* Acquire: the slot loads of the pass come before the reload, which
	 * then sees the bump of any move whose end (e) the pass saw. */
	fence_acquire();
	if (!p->marks && load_relaxed(&c->hdr->index_moves) == p->moves)
		return true;
	if (tries < PASS_SPINS) {
		p->stale = 0;
		return false;
	}
	if (tries < PASS_YIELDS) {
		sched_yield();
		return false;
	}
	if (!p->marks || tries >= PASS_YIELDS + PASS_NAPS ||
	    p->owner >= c->max_procs || !proc_slot_alive(c, p->owner) ||
	    marker_stale(c, p))
		return true;
	struct timespec nap = { 0, PASS_NAP_NS };

	nanosleep(&nap, NULL);
	return false;
}

/* The buckets of K: one, or two when they differ. */
static unsigned key_buckets(const hc_cache *c, const struct key *k,
                            uint32_t out[2])
{
	out[0] = k->bucket;
	out[1] = key_alt(c, k);
	return out[1] == k->bucket ? 1 : 2;
}

/* slot_holds() on slot I of bucket B, re-reading the slot while its item
 * moves. */
HC_HOT bool slot_holds_now(hc_cache *c, const struct key *k, uint32_t b,
                           unsigned i, struct found *f)
{
	hc_word *p = slot_at(c, b, i);

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		/* Acquire: pairs with the publishing CAS, so the item bytes
		 * the word locates are visible. */
		uint64_t w = load_acquire(p);

		switch (slot_holds(c, k, w, f)) {
		case HOLDS_NO:
			return false;
		case HOLDS_YES:
			f->bucket = b;
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

/* Look for K in bucket B; notes move markers in P. */
HC_HOT bool bucket_find(hc_cache *c, const struct key *k, uint32_t b,
                        struct found *f, struct pass *p)
{
	hc_word *slots = c->index[b].slot;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		/* The common case, a fingerprint that differs, without the
		 * call. */
		uint64_t w = load_relaxed(&slots[i]);

		if (w == 0)
			continue;
		if (sw_fp(w) == k->fp) {
			if (slot_holds_now(c, k, b, i, f))
				return true;
		} else if (sw_fp(w) == 0) {
			pass_saw(p, w, &slots[i]);
		}
	}
	return false;
}

/* index_find() past the first bucket: both buckets, in passes until one
 * proves a miss (invariant 6). */
int index_find_passes(hc_cache *c, const struct key *k, struct found *f)
{
	struct pass p;
	uint32_t bs[2];
	unsigned n = key_buckets(c, k, bs);

	for (int tries = 0;; tries++) {
		pass_begin(c, &p);
		for (unsigned j = 0; j < n; j++)
			if (bucket_find(c, k, bs[j], f, &p))
				return 0;
		if (pass_settled(c, &p, tries))
			break;
	}
	return HC_ENOTFOUND;
}

/* What a visit of key_passes() says of the slot it was shown. */
enum visit { VISIT_ON, VISIT_DONE };

/* What a pass_end callback of key_passes() asks for. */
enum pass_end { END_PROVE, END_AGAIN, END_STOP };

struct key_pass {
	hc_cache *c;
	const struct key *k;
	enum visit (*visit)(struct key_pass *kp, uint32_t b, unsigned i,
	                    uint64_t w);
	enum pass_end (*end)(struct key_pass *kp); /* NULL: END_PROVE */
};

/*
 * Show KP->visit every slot of K's two buckets that is not a move marker
 * (those the pass notes), pass after pass, until a visit says VISIT_DONE or
 * KP->end says END_STOP (true), or a pass is settled (false; invariant 6).
 * After each pass KP->end may ask for another one whatever the proof
 * (END_AGAIN: a pass that changed slots confirms itself).  The walks of
 * the write side all go through this; the get's look is index_find().
 */
static bool key_passes(struct key_pass *kp)
{
	hc_cache *c = kp->c;
	uint32_t bs[2];
	unsigned n = key_buckets(c, kp->k, bs);
	struct pass p;

	for (int tries = 0;; tries++) {
		pass_begin(c, &p);
		for (unsigned j = 0; j < n; j++) {
			for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
				hc_word *at = slot_at(c, bs[j], i);
				/* Acquire: pairs with the publishing CAS. */
				uint64_t w = load_acquire(at);

				if (sw_is_marker(w))
					pass_saw(&p, w, at);
				else if (kp->visit(kp, bs[j], i, w) == VISIT_DONE)
					return true;
			}
		}
		enum pass_end e = kp->end != NULL ? kp->end(kp) : END_PROVE;

		if (e == END_STOP)
			return true;
		if (e == END_PROVE && pass_settled(c, &p, tries))
			return false;
	}
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

/* Is W an entry we may overwrite without evicting anything?  A move
 * marker is not: its owner (or its reaper) clears it. */
static bool slot_is_vacant(hc_cache *c, uint64_t w)
{
	const unsigned char *at;
	struct hc_item hdr;
	uint64_t bw;

	return w == 0 ||
	       (!sw_is_marker(w) && item_locate(c, w, &bw, &at, &hdr) != 0);
}

/* A vacant slot of bucket B, or -1; *WORD is what it holds. */
static int bucket_vacancy(hc_cache *c, uint32_t b, uint64_t *word)
{
	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		uint64_t w = load_acquire(slot_at(c, b, i));

		if (slot_is_vacant(c, w)) {
			*word = w;
			return (int)i;
		}
	}
	return -1;
}

/* Withdraw our entry WORD, published in slot MINE of bucket MB, wherever
 * it is now (a move may have carried it to K's other bucket).  True if we
 * unlinked it. */
struct unlink_pass {
	struct key_pass kp;
	uint64_t word;
};

static enum visit unlink_visit(struct key_pass *kp, uint32_t b, unsigned i,
                               uint64_t w)
{
	uint64_t word = ((struct unlink_pass *)kp)->word;

	return w != 0 && sw_loc(w) == sw_loc(word) && sw_fp(w) == sw_fp(word) &&
	       index_unlink(kp->c, b, i, w) ? VISIT_DONE : VISIT_ON;
}

static bool unlink_mine(hc_cache *c, const struct key *k, uint32_t mb,
                        unsigned mine, uint64_t word)
{
	struct unlink_pass u = { { c, k, unlink_visit, NULL }, word };

	return index_unlink(c, mb, mine, word) || key_passes(&u.kp);
}

/* Did a pass already see the write HDR is (in SEEN[0..N))?  A move or an
 * evictor's copy during the pass can show it one write twice (in both
 * buckets; at its old place and its new): copies keep the CAS id, and it
 * is one entry, not a duplicate to unlink. */
static bool seen_before(const struct found *seen, unsigned n,
                        const struct hc_item *hdr)
{
	for (unsigned e = 0; e < n; e++)
		if (item_cas(&seen[e].hdr) == item_cas(hdr))
			return true;
	return false;
}

/*
 * After publishing WORD (K's item) in slot MINE of bucket MB, look at both
 * of K's buckets for other entries of K (invariant 3), in passes until one
 * sees at most one and proves it.  EXCLUSIVE (add): when there is another,
 * withdraw ours and return HC_EEXISTS, or INDEX_LOST when another writer
 * had already removed ours (and accounted it dead).  Otherwise the newest
 * entry stays and the others are unlinked and accounted dead, whoever
 * wrote them; an unlink that fails means the slot changed (a set swapped
 * in its write, an evictor its copy), so the pass is repeated.  Returns 0
 * when WORD stays published or lost to a newer entry.
 */
struct resolve_pass {
	struct key_pass kp;
	uint64_t word;           /* ours */
	bool exclusive;
	unsigned ns, newest;     /* SEEN[0..NS): K's writes this pass */
	bool others;             /* one of them is not ours */
	struct found seen[2 * HC_BUCKET_SLOTS];
};

static enum visit resolve_visit(struct key_pass *kp, uint32_t b, unsigned i,
                                uint64_t w)
{
	struct resolve_pass *r = (struct resolve_pass *)kp;
	struct found *f = &r->seen[r->ns];

	if (!slot_holds_now(kp->c, kp->k, b, i, f) ||
	    seen_before(r->seen, r->ns, &f->hdr))
		return VISIT_ON;
	r->others |= sw_loc(f->word) != sw_loc(r->word);
	if (item_newer(&f->hdr, &r->seen[r->newest].hdr))
		r->newest = r->ns;
	r->ns++;
	return VISIT_ON;
}

static enum pass_end resolve_end(struct key_pass *kp)
{
	struct resolve_pass *r = (struct resolve_pass *)kp;
	unsigned ns = r->ns, newest = r->newest;

	if (r->exclusive && r->others)
		return END_STOP;
	r->ns = r->newest = 0;
	r->others = false;
	if (ns <= 1)
		return END_PROVE;
	for (unsigned e = 0; e < ns; e++)
		if (e != newest &&
		    index_unlink(kp->c, r->seen[e].bucket, r->seen[e].slot,
		                 r->seen[e].word))
			block_mark_dead_sized(kp->c, r->seen[e].word,
			                      item_size(&r->seen[e].hdr));
	return END_AGAIN; /* confirm by a pass that sees one */
}

static int resolve_duplicates(hc_cache *c, const struct key *k, uint32_t mb,
                              unsigned mine, uint64_t word, bool exclusive)
{
	struct resolve_pass r = { { c, k, resolve_visit, resolve_end }, word,
	                          exclusive, 0, 0, false, { { 0 } } };

	/* The publishing CAS was a full barrier: the first pass sees every
	 * entry published before ours, and any move in its way repeats it. */
	if (!key_passes(&r.kp))
		return 0;
	return unlink_mine(c, k, mb, mine, word) ? HC_EEXISTS : INDEX_LOST;
}

/* ---- moves (invariants 6 and 7) ---- */

/* Move the entry W in slot I of bucket FROM to a vacant slot of bucket TO
 * (its other bucket), by steps (a)-(e) of invariant 6.  False if TO has no
 * vacancy or the entry changed.  Caller holds c->lock (the move log in our
 * process slot is one per process). */
static bool do_move(hc_cache *c, uint32_t from, unsigned i, uint64_t w,
                    uint32_t to)
{
	uint64_t vacant, res = sw_marker(SW_MARK_RES, c->slot);
	uint64_t tomb = sw_marker(SW_MARK_TOMB, c->slot), cur;
	uint64_t clock_mask = 3ULL << SW_CLOCK_SHIFT;
	int j = bucket_vacancy(c, to, &vacant);
	hc_word *src = slot_at(c, from, i), *log = c->self->move;

	if (j < 0)
		return false;
	hc_word *dst = slot_at(c, to, (unsigned)j);

	store_relaxed(&c->moving, 1); /* ordered before (a) by its CAS */
	store_relaxed(&log[1], (uint64_t)to << 4 | (unsigned)j);
	store_relaxed(&log[2], w);
	/* Release: a reaper that reads the log reads all of it. */
	store_release(&log[0], (uint64_t)from << 4 | i | MOVE_LOGGED);
	if (!cas_full(dst, vacant, res))                      /* (a) */
		goto out;
	fetch_add_full(&c->hdr->index_moves, 1);              /* (b) */
	for (int tries = 0;; tries++) {                       /* (c) */
		cur = load_relaxed(src);
		if ((cur & ~clock_mask) != (w & ~clock_mask) ||
		    tries == HC_RETRY_MAX) {
			cas_full(dst, res, 0); /* changed meanwhile: undo (a) */
			goto out;
		}
		if (cas_full(src, cur, tomb))
			break;
	}
	store_relaxed(&log[2], cur); /* with the CLOCK bits it left with */
	if (!cas_full(dst, res, cur)) {                       /* (d) */
		/* Only a repair that took us for dead clears our RES:
		 * put the entry back where it was. */
		cas_full(src, tomb, cur);
		goto out;
	}
	cas_full(src, tomb, 0);                               /* (e) */
	store_release(&log[0], 0);
	store_release(&c->moving, 0);
	return true;
out:
	store_release(&log[0], 0);
	store_release(&c->moving, 0);
	return false;
}

/* The entry W, just moved into bucket B, next to a newer entry of its key
 * that a writer published while it was in flight and did not see: the
 * move's own rescan (invariant 3) withdraws the older. */
static void moved_rescan(hc_cache *c, uint32_t b, uint64_t w)
{
	unsigned char key[HC_MAX_KEY_LIMIT];
	const unsigned char *at;
	struct hc_item hdr;
	struct key k;
	uint64_t bw;

	if (item_locate(c, w, &bw, &at, &hdr) != 0 ||
	    item_klen(&hdr) > c->max_key)
		return;
	shm_copy_out(key, item_key_at(at, &hdr), item_klen(&hdr));
	if (!item_validate(c, w, bw))
		return;
	key_prepare(c, &k, key, item_klen(&hdr));
	if (k.fp != sw_fp(w) || (k.bucket != b && key_alt(c, &k) != b))
		return;
	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		uint64_t cur = load_acquire(slot_at(c, b, i));

		if (sw_loc(cur) == sw_loc(w) && sw_fp(cur) == sw_fp(w)) {
			resolve_duplicates(c, &k, b, i, cur, false);
			return;
		}
	}
}

/*
 * Free a slot of bucket B by moving one of its entries to that entry's
 * other bucket; DEPTH 2 may first move an entry out of that bucket.
 * Caller holds c->lock.
 */
static bool do_make_room(hc_cache *c, uint32_t b, int depth)
{
	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		uint64_t w = load_acquire(slot_at(c, b, i)), vacant;

		if (slot_is_vacant(c, w))
			return true; /* room appeared meanwhile */
		if (sw_is_marker(w))
			continue;
		uint32_t o = bucket_other(c, b, sw_fp(w));

		if (o == b)
			continue;
		if (bucket_vacancy(c, o, &vacant) < 0 &&
		    !(depth > 1 && do_make_room(c, o, depth - 1)))
			continue;
		if (do_move(c, b, i, w, o)) {
			moved_rescan(c, o, w);
			return true;
		}
	}
	return false;
}

/* Put WORD into a vacant slot of one of K's buckets (the first by
 * preference), making room by moves when both are full, or else in place
 * of the coldest entry of the two.  Fills *B and returns the slot used, or
 * -1 under contention. */
static int publish_somewhere(hc_cache *c, const struct key *k, uint64_t word,
                             uint32_t *b)
{
	uint32_t bs[2];
	unsigned n = key_buckets(c, k, bs);
	int moves = 0;

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		for (unsigned j = 0; j < n; j++) {
			uint64_t w;
			int i = bucket_vacancy(c, bs[j], &w);

			if (i < 0)
				continue;
			if (cas_full(slot_at(c, bs[j], (unsigned)i), w, word)) {
				*b = bs[j];
				return i;
			}
			goto again;
		}
		if (moves++ < 4) {
			bool room;

			pthread_mutex_lock(&c->lock);
			room = do_make_room(c, bs[0], 2) ||
			       (n > 1 && do_make_room(c, bs[1], 2));
			pthread_mutex_unlock(&c->lock);
			if (room)
				continue;
			moves = 4;
		}
		/* No room within two moves: the coldest entry of the two
		 * buckets goes.  Start the tie-break where the hash says, so
		 * the same slot is not always the victim. */
		unsigned coldest = SW_CLOCK_MAX + 1, vi = 0;
		uint32_t vb = 0;
		uint64_t victim = 0;

		for (unsigned j = 0; j < n; j++) {
			for (unsigned s = 0; s < HC_BUCKET_SLOTS; s++) {
				unsigned i = (s + (unsigned)(k->hash >> 32)) % HC_BUCKET_SLOTS;
				uint64_t w = load_relaxed(slot_at(c, bs[j], i));

				if (w != 0 && !sw_is_marker(w) && sw_clock(w) < coldest) {
					coldest = sw_clock(w);
					victim = w;
					vb = bs[j];
					vi = i;
				}
			}
		}
		if (victim != 0 && cas_full(slot_at(c, vb, vi), victim, word)) {
			block_mark_dead(c, victim);
			counter_add(c, HC_CTR_BUCKET_EVICTIONS, 1);
			*b = vb;
			return (int)vi;
		}
again:;
	}
	return -1;
}

/*
 * Publish WORD (locating a fresh item of key K) in one of K's buckets,
 * where a lookup found no entry of K.  Then resolve duplicates (invariant
 * 3).  Returns 0 when WORD stays published or lost to a newer entry of the
 * same key; when EXCLUSIVE (add) and another entry of K was found,
 * HC_EEXISTS (ours is withdrawn, not accounted dead: the caller decides)
 * or INDEX_LOST (another writer removed ours first); or HC_EBUSY.
 */
int index_publish_new(hc_cache *c, const struct key *k, uint64_t word,
                      bool exclusive)
{
	uint32_t b;
	int mine = publish_somewhere(c, k, word, &b);

	if (mine < 0)
		return HC_EBUSY;
	return resolve_duplicates(c, k, b, (unsigned)mine, word, exclusive);
}

/* Unlink every entry of K (there is one, or transiently two).  Returns how
 * many of them had not expired at NOW (ms). */
struct remove_pass {
	struct key_pass kp;
	uint64_t now;
	int live;
};

static enum visit remove_visit(struct key_pass *kp, uint32_t b, unsigned i,
                               uint64_t w)
{
	struct remove_pass *r = (struct remove_pass *)kp;
	const struct key *k = kp->k;
	struct found f;

	/* A failed unlink means the slot changed: an evictor may have
	 * moved the item, so look at the slot again (bounded). */
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		if (!slot_holds_now(kp->c, k, b, i, &f))
			break;
		if (!index_unlink(kp->c, b, i, f.word))
			continue;
		block_mark_dead_sized(kp->c, f.word, item_size(&f.hdr));
		if (!item_expired_at(&f.hdr, r->now) &&
		    !item_invalidated(kp->c, &f.hdr, f.at, k->ptr, k->len))
			r->live++;
		break;
	}
	return VISIT_ON;
}

int index_remove_key(hc_cache *c, const struct key *k, uint64_t now)
{
	struct remove_pass r = { { c, k, remove_visit, NULL }, now, 0 };

	key_passes(&r.kp);
	return r.live;
}

/* The slot of K's buckets that locates the item at LOC of generation GEN
 * (an evictor's question about an item of its block). */
struct locate_pass {
	struct key_pass kp;
	uint64_t loc, gen;
	uint32_t bucket;
	unsigned slot;
	uint64_t word;
};

static enum visit locate_visit(struct key_pass *kp, uint32_t b, unsigned i,
                               uint64_t w)
{
	struct locate_pass *l = (struct locate_pass *)kp;

	if (w == 0 || sw_loc(w) != l->loc || sw_gen(w) != (l->gen & SW_GEN_MASK))
		return VISIT_ON;
	l->bucket = b;
	l->slot = i;
	l->word = w;
	return VISIT_DONE;
}

bool index_locate_item(hc_cache *c, const struct key *k, uint64_t loc,
                       uint64_t gen, uint32_t *bucket, unsigned *slot,
                       uint64_t *word)
{
	struct locate_pass l = { { c, k, locate_visit, NULL }, loc, gen, 0, 0, 0 };

	if (!key_passes(&l.kp))
		return false;
	*bucket = l.bucket;
	*slot = l.slot;
	*word = l.word;
	return true;
}

/* Finish or undo the move logged in process slot SLOT, whose holder died
 * (invariant 7).  Caller holds c->lock and is SLOT's reaper. */
void do_index_move_recover(hc_cache *c, unsigned slot)
{
	hc_word *log = c->procs[slot].move;
	uint64_t from = load_acquire(&log[0]), to = load_relaxed(&log[1]);
	uint64_t w = load_relaxed(&log[2]);

	if (!(from & MOVE_LOGGED))
		return;
	if ((from >> 4) >= c->nbuckets || (to >> 4) >= c->nbuckets) {
		store_release(&log[0], 0); /* scribbled: check --repair */
		return;                    /* clears the markers */
	}
	hc_word *src = slot_at(c, (uint32_t)(from >> 4), from & 7);
	hc_word *dst = slot_at(c, (uint32_t)(to >> 4), to & 7);
	uint64_t res = sw_marker(SW_MARK_RES, slot);
	uint64_t tomb = sw_marker(SW_MARK_TOMB, slot);

	if (load_acquire(src) == tomb) {
		/* (c) happened: the entry is in flight; land it. */
		if (!sw_is_marker(w) && w != 0 && cas_full(dst, res, w))
			moved_rescan(c, (uint32_t)(to >> 4), w);
		cas_full(dst, res, 0);
		cas_full(src, tomb, 0);
	} else {
		cas_full(dst, res, 0); /* (c) never happened: undo (a) */
	}
	/* Last: a reaper killed half-way leaves the log to the next. */
	store_release(&log[0], 0);
}
