/*
 * check.c - walk a segment and say what is wrong with it.
 *
 * The walk is read-only (unless asked to repair) and runs while other
 * processes keep working, so every finding is confirmed against a second
 * read before it is reported: a block whose word changed during its walk is
 * skipped, an index entry whose block moved on is stale (harmless), and a
 * duplicate key must still be there on a second look.
 *
 * What it checks:
 *  - every block word: a valid owner for OPEN and EVICTING blocks, and that
 *    owner alive (a dead owner's block waits for a reaper: reported);
 *  - every block's items up to `committed`: well-formed, inside the block;
 *  - every block's accounting: the bytes the index still locates plus the
 *    bytes counted dead never exceed what was committed
 *    (live + dead + unused == size, with live recomputed, not trusted);
 *  - every index entry: in bounds, well-formed, in the bucket its key
 *    hashes to, with the right fingerprint, below its block's committed
 *    offset, and no key twice;
 *  - every attached process slot: its process alive.
 *
 *  - the header's geometry and its backup copy, against what the handle
 *    verified at attach;
 *  - the process slots' states and counters, and the invalidation stamps
 *    (none later than now; the latest at least the flush).
 *
 * Repair first seals and ends our own open blocks and walk, reaps dead
 * processes (sealing their open blocks, finishing their walks) and settles
 * blocks owned by slots nobody holds.  Then, as it meets them, it drops
 * what damaged bytes make untrustworthy and sets right what can be
 * recomputed: a SEALED block that cannot be walked is claimed, the index
 * pass moves out every item still located there that is well-formed and
 * hashes to its slot (the others' entries are cleared), and the block is
 * freed, with every entry still naming it; index entries that cannot be
 * their item's are cleared (outside item memory, malformed, another
 * bucket's key, past the block's end, a free block's current generation,
 * the older of two of one key); impossible block words, slot states and
 * counters, future stamps, and accounting that overflows are rewritten.
 * Every change is a CAS from what was read, so live processes keep
 * working.  One run is a fixed point (t_repair, fuzz_segment): a check
 * after it finds nothing, unless a live process holds a damaged OPEN
 * block.  It never unlinks a well-formed live item.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct checker {
	hc_cache *c;
	bool repair;
	hc_check_fn report;
	void *arg;
	hc_check_result *r;
	uint64_t *live;   /* per block: bytes the index locates */
	uint8_t *damaged; /* per block: claimed by repair, emptied by the
	                   * index pass, freed after it */
};

__attribute__((format(printf, 2, 3)))
static void problem(struct checker *k, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	k->r->problems++;
	if (k->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	k->report(k->arg, msg);
}

/* A counter at or above this cannot have been counted: at a billion
 * events a second it would take over two years.  Byte counters get 2^63:
 * at 10 GB/s a slot reaches 2^56 bytes in 83 days. */
#define COUNTER_IMPOSSIBLE (1ULL << 56)
#define BYTES_IMPOSSIBLE (1ULL << 63)

static uint64_t counter_impossible(unsigned n)
{
	return n == HC_CTR_BYTES_CLEANED || n == HC_CTR_BYTES_SET
	       ? BYTES_IMPOSSIBLE : COUNTER_IMPOSSIBLE;
}

/* Counters of slot I that cannot be true (scribbled): reset to zero, with
 * their base, by CAS from what was read (a live holder's concurrent add
 * makes the CAS fail; the next check sees the counter again). */
static void check_counters(struct checker *k, unsigned i)
{
	struct hc_proc *p = &k->c->procs[i];

	for (unsigned n = 0; n < HC_NCOUNTERS; n++) {
		uint64_t v = load_relaxed(&p->counters[n]);
		uint64_t b = load_relaxed(&p->base[n]);

		if (v < counter_impossible(n) && b <= v)
			continue;
		problem(k, "process slot %u: counter %u reads %llu (since attach "
		        "%llu), which cannot be true; %s", i, n,
		        (unsigned long long)v, (unsigned long long)b,
		        k->repair ? "reset to 0" : "repair resets it to 0");
		if (k->repair && cas_full(&p->counters[n], v, 0)) {
			store_relaxed(&p->base[n], 0);
			k->r->repaired++;
		}
	}
}

/* A slot state that is neither FREE nor ATTACHED: reaped as a dead
 * holder's, if no live process holds the slot's lock. */
static void check_state(struct checker *k, unsigned i)
{
	hc_cache *c = k->c;
	uint64_t st = load_acquire(&c->procs[i].state);

	if (st == HC_PROC_FREE || st == HC_PROC_ATTACHED)
		return;
	problem(k, "process slot %u: state %llu is neither free nor attached",
	        i, (unsigned long long)st);
	if (!k->repair)
		return;
	/* Held by a live process (us, perhaps): it is attached. */
	if (proc_slot_alive(c, i)) {
		if (cas_full(&c->procs[i].state, st, HC_PROC_ATTACHED))
			k->r->repaired++;
		return;
	}
	if (proc_lock_slot(c, i) < 0)
		return;
	pthread_mutex_lock(&c->lock);
	do_proc_reap_slot(c, i);
	pthread_mutex_unlock(&c->lock);
	proc_unlock_slot(c, i);
	k->r->repaired++;
}

/*
 * Invalidation stamps later than now cannot have been written
 * (invalidation stamps "now" and waits for the clock to pass it): they
 * would hide every item set from now on.  Repair lowers them to now, which
 * hides no more than they did.  inval_latest must be at least the flush
 * (every flush raises both), or items stamped between would be served past
 * the flush: repair raises it.  (Scanned-prefix words do not raise it:
 * only lease fills read them.)  Table words first, the latest last.
 */
static void check_stamps(struct checker *k)
{
	hc_cache *c = k->c;
	uint64_t flush = 0;

	for (uint32_t i = 0; i <= c->ninval; i++) {
		hc_word *w = i < c->ninval ? &c->inval[i] : &c->hdr->flush_at;
		uint64_t v = load_acquire(w), now = stamp_now(c);

		if (v > now) {
			if (i < c->ninval)
				problem(k, "invalidation word %u is stamped %llu us, "
				        "later than now (%llu us)", i,
				        (unsigned long long)v, (unsigned long long)now);
			else
				problem(k, "the flush is stamped %llu us, later than "
				        "now (%llu us)", (unsigned long long)v,
				        (unsigned long long)now);
			if (k->repair && cas_full(w, v, now))
				k->r->repaired++;
		}
		if (i == c->ninval)
			flush = load_acquire(w);
	}
	hc_word *latest = &c->hdr->inval_latest;
	uint64_t v = load_acquire(latest), now = stamp_now(c);

	if (v > now || v < flush) {
		problem(k, "the latest invalidation is stamped %llu us, but the "
		        "flush %llu us (now %llu us)", (unsigned long long)v,
		        (unsigned long long)flush, (unsigned long long)now);
		if (k->repair && cas_full(latest, v, flush > now ? now : flush))
			k->r->repaired++;
	}
}

/* The header's geometry and its backup copy, against what this handle
 * verified when it attached (processes never read the geometry again, so
 * rewriting it under them is safe). */
static void check_header(struct checker *k)
{
	hc_cache *c = k->c;
	const struct hc_header_backup *b =
		(const struct hc_header_backup *)(c->base + HC_BACKUP_OFF);
	hc_word now[HC_GEOMETRY_BYTES / 8], copy[HC_GEOMETRY_BYTES / 8];

	for (size_t i = 0; i < HC_GEOMETRY_BYTES / 8; i++) {
		now[i] = load_relaxed((const hc_word *)c->base + i);
		copy[i] = load_relaxed((const hc_word *)b->geom + i);
	}
	if (memcmp(now, c->geom, sizeof now) != 0) {
		problem(k, "the segment header's geometry words are damaged (new "
		        "attaches are refused); %s", k->repair ? "rewritten"
		        : "repair rewrites them");
		if (k->repair) {
			header_restore(c, c->geom);
			k->r->repaired++;
		}
	}
	if (load_acquire(&b->sum) == 0 || memcmp(copy, c->geom, sizeof copy) != 0) {
		problem(k, "the header's backup copy is damaged or missing; %s",
		        k->repair ? "rewritten" : "repair rewrites it");
		if (k->repair) {
			header_backup_write(c, (const struct hc_header *)c->geom);
			k->r->repaired++;
		}
	}
}

/* Processes: attached slots whose holder is gone, impossible states and
 * counters. */
static void check_procs(struct checker *k)
{
	hc_cache *c = k->c;

	for (unsigned i = 0; i < c->max_procs; i++) {
		check_state(k, i);
		check_counters(k, i);
		if (load_relaxed(&c->procs[i].state) != HC_PROC_ATTACHED ||
		    proc_slot_alive(c, i))
			continue;
		if (load_acquire(&c->procs[i].state) != HC_PROC_ATTACHED)
			continue; /* detached meanwhile */
		k->r->dead_procs++;
		problem(k, "process slot %u (pid %llu) is attached but its process "
		        "is dead; reap it", i,
		        (unsigned long long)load_relaxed(&c->procs[i].pid));
	}
}

/*
 * A SEALED block B (word W) that cannot be walked (a malformed item, a
 * committed offset past its end): nothing after the damage can be parsed,
 * so eviction would drop the well-formed items behind it.  Repair claims
 * it as its evictor; the index pass (check_entry) then moves every item
 * the index still locates there, checked well-formed and hashing to its
 * slot, to our open block, or unlinks the entry, and repair_damaged()
 * frees the block.  No well-formed live item is lost.
 */
static bool damage_claim(struct checker *k, uint32_t b, uint64_t w)
{
	hc_cache *c = k->c;

	if (bw_state(w) != HC_BLOCK_SEALED ||
	    !cas_full(&c->block_words[b], w,
	              bw_make(HC_BLOCK_EVICTING, c->slot, bw_gen(w))))
		return false;
	k->damaged[b] = 1;
	return true;
}

/* An entry W in slot I of BUCKET that locates an item of a damaged block:
 * move the item, HDR at AT, if it is its key's (KEY), else unlink. */
static void damaged_entry(struct checker *k, uint32_t bucket, unsigned i,
                          uint64_t w, const unsigned char *at,
                          const struct hc_item *hdr, bool sound)
{
	hc_cache *c = k->c;
	uint64_t copy;
	int rc = -1;

	if (sound) {
		pthread_mutex_lock(&c->lock);
		rc = do_item_clone(c, at, hdr, item_size(hdr), sw_fp(w),
		                   sw_clock(w), &copy);
		pthread_mutex_unlock(&c->lock);
	}
	if (rc == 0 && !cas_full(slot_at(c, bucket, i), w, copy))
		block_mark_dead(c, copy);
	else if (rc != 0)
		index_unlink(c, bucket, i, w);
}

/* Once the index pass emptied the damaged blocks, clear the entries still
 * naming them (stale, but a scribbled generation could match a block's
 * next one and come back to life), then free the blocks. */
static void repair_damaged(struct checker *k)
{
	hc_cache *c = k->c;
	bool any = false;

	for (uint32_t b = 0; b < c->nblocks && !any; b++)
		any = k->damaged[b];
	/* First, while the blocks are still EVICTING under our slot and no
	 * one can claim them and publish into them. */
	for (uint32_t bucket = 0; any && bucket < c->nbuckets; bucket++) {
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
			uint64_t w = load_acquire(slot_at(c, bucket, i));

			if (w != 0 && !sw_is_marker(w) &&
			    sw_loc(w) < c->item_memory &&
			    k->damaged[block_of(c, sw_loc(w))])
				index_unlink(c, bucket, i, w);
		}
	}
	for (uint32_t b = 0; b < c->nblocks; b++) {
		if (!k->damaged[b])
			continue;
		uint64_t w = load_acquire(&c->block_words[b]);

		if (bw_state(w) == HC_BLOCK_EVICTING && bw_owner(w) == c->slot &&
		    block_free(c, b, w))
			k->r->repaired++;
	}
}

/* Walk block B's items; returns false if the block changed meanwhile. */
static bool walk_block(struct checker *k, uint32_t b, uint64_t w)
{
	hc_cache *c = k->c;
	uint64_t com = load_acquire(&c->block_meta[b].committed);
	uint64_t bytes = com & 0xffffffffULL, items = com >> 32, n = 0, off = 0;
	const unsigned char *start = c->items + block_start(c, b);

	if (bytes > c->block_size) {
		if (load_acquire(&c->block_words[b]) == w) {
			bool held = bw_state(w) != HC_BLOCK_SEALED;

			problem(k, "block %u: committed offset %llu is past its "
			        "end%s%u%s", b, (unsigned long long)bytes,
			        held ? " (held by live process slot " : "",
			        held ? bw_owner(w) : 0u,
			        held ? ": it mends it on its next write, or "
			               "repair does once it detaches)" : "");
			if (k->repair)
				damage_claim(k, b, w);
		}
		return true;
	}
	while (off + HC_ITEM_HEADER <= bytes && n < items) {
		struct hc_item hdr;

		shm_copy_out(&hdr, start + off, sizeof hdr);
		uint64_t size = item_size(&hdr);

		if (item_klen(&hdr) == 0 || item_klen(&hdr) > c->max_key ||
		    item_vlen(&hdr) > c->max_value || item_ntags(&hdr) > HC_MAX_TAGS ||
		    off + size > bytes) {
			if (load_acquire(&c->block_words[b]) != w)
				return false;
			problem(k, "block %u: item at offset %llu is malformed "
			        "(key %u bytes, value %u bytes)", b,
			        (unsigned long long)off, item_klen(&hdr),
			        item_vlen(&hdr));
			if (k->repair)
				damage_claim(k, b, w);
			return true;
		}
		off += size;
		n++;
	}
	/* Items lie end to end up to the committed offset, as many as it
	 * counts: a header whose lengths were changed in place, still
	 * within the block, breaks that chain, and its value would take in
	 * the next item's bytes.  (An OPEN block is its owner's to seal
	 * first.) */
	if ((off != bytes || n != items) && bw_state(w) != HC_BLOCK_OPEN) {
		if (load_acquire(&c->block_words[b]) != w)
			return false;
		problem(k, "block %u: its items end at offset %llu after %llu "
		        "items, but its committed offset is %llu after %llu "
		        "(an item's lengths were changed)", b,
		        (unsigned long long)off, (unsigned long long)n,
		        (unsigned long long)bytes, (unsigned long long)items);
		if (k->repair)
			damage_claim(k, b, w);
		return true;
	}
	return load_acquire(&c->block_words[b]) == w;
}

static void check_blocks(struct checker *k)
{
	hc_cache *c = k->c;

	for (uint32_t b = 0; b < c->nblocks; b++) {
		uint64_t w = load_acquire(&c->block_words[b]);
		unsigned st = bw_state(w), owner = bw_owner(w);

		if ((st == HC_BLOCK_FREE || st == HC_BLOCK_SEALED) &&
		    owner != 0) {
			/* Only OPEN and EVICTING name an owner. */
			problem(k, "block %u is %s but names owner slot %u", b,
			        st == HC_BLOCK_FREE ? "free" : "sealed", owner);
			uint64_t fixed = bw_make(st, 0, bw_gen(w));

			if (k->repair && cas_full(&c->block_words[b], w, fixed)) {
				k->r->repaired++;
				w = fixed;
			}
		}
		k->r->blocks[st]++;
		if (st == HC_BLOCK_FREE) {
			if (k->repair)
				block_map_free(c, b); /* a hint: no problem */
			continue;
		}
		if ((st == HC_BLOCK_OPEN || st == HC_BLOCK_EVICTING) &&
		    (owner >= c->max_procs || !proc_slot_alive(c, owner)) &&
		    load_acquire(&c->block_words[b]) == w) {
			k->r->dead_blocks++;
			problem(k, "block %u is %s by process slot %u, which no "
			        "live process holds", b,
			        st == HC_BLOCK_OPEN ? "open" : "being evicted", owner);
		}
		walk_block(k, b, w);
	}
}

/* Clear index entry W in slot I of BUCKET when repairing (the entry is
 * not its item's: what it locates is dead or not an item at all). */
static void drop_entry(struct checker *k, uint32_t bucket, unsigned i,
                       uint64_t w)
{
	if (k->repair && index_unlink(k->c, bucket, i, w))
		k->r->repaired++;
}

/* One index entry W in slot I of BUCKET. */
static void check_entry(struct checker *k, uint32_t bucket, unsigned i,
                        uint64_t w)
{
	hc_cache *c = k->c;
	const unsigned char *at;
	struct hc_item hdr;
	uint64_t bw;
	struct key key;
	unsigned char buf[HC_MAX_KEY_LIMIT];

	if (sw_loc(w) >= c->item_memory) {
		problem(k, "index bucket %u slot %u points outside item memory "
		        "(offset %llu of %llu)", bucket, i,
		        (unsigned long long)sw_loc(w),
		        (unsigned long long)c->item_memory);
		drop_entry(k, bucket, i, w);
		return;
	}
	uint32_t b = block_of(c, sw_loc(w));

	if (item_locate(c, w, &bw, &at, &hdr) != 0) {
		/* Stale, or malformed: tell them apart by the block word. */
		uint64_t cur = load_acquire(&c->block_words[b]);

		if ((bw_gen(cur) & SW_GEN_MASK) != sw_gen(w) ||
		    load_acquire(slot_at(c, bucket, i)) != w) {
			k->r->stale_slots++;
		} else if (bw_state(cur) == HC_BLOCK_FREE) {
			/* Freeing a block moves its generation on, so no entry
			 * names a FREE block's current one; this one would
			 * come back to life when the block is claimed. */
			problem(k, "index bucket %u slot %u names free block %u in "
			        "its current generation", bucket, i, b);
			drop_entry(k, bucket, i, w);
		} else {
			problem(k, "index bucket %u slot %u locates a malformed item "
			        "in block %u", bucket, i, b);
			drop_entry(k, bucket, i, w);
		}
		return;
	}
	uint32_t klen = item_klen(&hdr);
	uint64_t off = sw_loc(w) - block_start(c, b);
	uint64_t committed = load_acquire(&c->block_meta[b].committed) & 0xffffffffULL;
	bool sized = klen <= c->max_key && item_vlen(&hdr) <= c->max_value;

	shm_copy_out(buf, item_key_at(at, &hdr), sized ? klen : 0);
	if (!item_validate(c, w, bw)) {
		k->r->stale_slots++;
		return;
	}
	if (!sized) {
		problem(k, "index bucket %u slot %u: item lengths over the limits "
		        "(key %u, value %u)", bucket, i, klen, item_vlen(&hdr));
		drop_entry(k, bucket, i, w);
		return;
	}
	key_prepare(c, &key, buf, klen);
	uint32_t alt = key_alt(c, &key);
	bool placed = (key.bucket == bucket || alt == bucket) &&
	              key.fp == sw_fp(w);

	if (k->damaged[b]) {
		/* Our claim holds the block: its bytes stay. */
		damaged_entry(k, bucket, i, w, at, &hdr, placed);
		return;
	}
	if (!placed) {
		problem(k, "index bucket %u slot %u holds a key that belongs in "
		        "bucket %u or %u", bucket, i, key.bucket, alt);
		drop_entry(k, bucket, i, w);
		return;
	}
	if (off + item_size(&hdr) > committed && bw_state(bw) != HC_BLOCK_FREE &&
	    item_validate(c, w, bw)) {
		problem(k, "index bucket %u slot %u locates an item past its "
		        "block's committed offset", bucket, i);
		drop_entry(k, bucket, i, w);
		return;
	}
	k->r->items++;
	k->r->bytes_live += item_size(&hdr);
	k->live[b] += item_size(&hdr);
}

/* A move marker: fine while its owner is attached and alive (the move is
 * in flight); otherwise left by a mover killed unreaped, or scribbled.
 * Repair finishes the move from the owner's log, then clears the marker. */
static void check_marker(struct checker *k, uint32_t bucket, unsigned i,
                         uint64_t w)
{
	hc_cache *c = k->c;
	unsigned owner = sw_marker_owner(w);

	if (owner < c->max_procs &&
	    load_acquire(&c->procs[owner].state) == HC_PROC_ATTACHED &&
	    proc_slot_alive(c, owner))
		return;
	problem(k, "index bucket %u slot %u holds a move marker of process "
	        "slot %u, which is not alive", bucket, i, owner);
	if (!k->repair)
		return;
	if (owner < c->max_procs && proc_lock_slot(c, owner) == 0) {
		pthread_mutex_lock(&c->lock);
		do_index_move_recover(c, owner);
		pthread_mutex_unlock(&c->lock);
		proc_unlock_slot(c, owner);
	}
	if (load_acquire(slot_at(c, bucket, i)) != w ||
	    cas_full(slot_at(c, bucket, i), w, 0))
		k->r->repaired++;
}

static void check_duplicates(struct checker *k, uint32_t bucket)
{
	hc_cache *c = k->c;
	hc_word *slots = c->index[bucket].slot;
	struct found f;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		uint64_t w = load_acquire(&slots[i]);
		unsigned char buf[HC_MAX_KEY_LIMIT];
		const unsigned char *at;
		struct hc_item hdr;
		struct key key;
		uint64_t bw;

		if (w == 0 || item_locate(c, w, &bw, &at, &hdr) != 0 ||
		    item_klen(&hdr) > c->max_key)
			continue;
		shm_copy_out(buf, item_key_at(at, &hdr),
		             item_klen(&hdr));
		if (!item_validate(c, w, bw))
			continue;
		key_prepare(c, &key, buf, item_klen(&hdr));
		/* The later slots of this bucket, and the key's other bucket
		 * when it comes later (so a pair is looked at once). */
		uint32_t other = key.bucket == bucket ? key_alt(c, &key)
		                                      : key.bucket;

		for (unsigned jj = i + 1; jj < 2 * HC_BUCKET_SLOTS; jj++) {
			uint32_t jb = jj < HC_BUCKET_SLOTS ? bucket : other;
			unsigned j = jj % HC_BUCKET_SLOTS;

			if (jj >= HC_BUCKET_SLOTS && other <= bucket)
				break;
			uint64_t wj = load_acquire(slot_at(c, jb, j));

			if (wj == 0 || sw_fp(wj) != key.fp ||
			    found_locate(c, wj, &f) != 0 ||
			    !key_matches(&f, &key) ||
			    !item_validate(c, wj, f.block_word))
				continue;
			/* Writers resolve duplicates right after publishing:
			 * only one that outlives a second look is a finding. */
			if (load_acquire(&slots[i]) != w ||
			    load_acquire(slot_at(c, jb, j)) != wj)
				continue;
			problem(k, "index: one key in bucket %u slot %u and "
			        "bucket %u slot %u", bucket, i, jb, j);
			if (!k->repair)
				continue;
			/* Two entries of one item: drop the second, whose
			 * bytes stay live under the first. */
			if (sw_loc(wj) == sw_loc(w)) {
				if (index_unlink(c, jb, j, wj))
					k->r->repaired++;
				continue;
			}
			/* Keep the newer write, as writers do (index.c).  Its
			 * bytes are not counted dead: another scribbled entry
			 * may still name them (dead counted low is harmless,
			 * see check_accounting). */
			if (item_newer(&f.hdr, &hdr)) {
				if (index_unlink(c, bucket, i, w))
					k->r->repaired++;
				break;
			}
			if (index_unlink(c, jb, j, wj))
				k->r->repaired++;
		}
	}
}

static void check_index(struct checker *k)
{
	hc_cache *c = k->c;

	for (uint32_t bucket = 0; bucket < c->nbuckets; bucket++) {
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
			uint64_t w = load_acquire(slot_at(c, bucket, i));

			if (sw_is_marker(w))
				check_marker(k, bucket, i, w);
			else if (w != 0)
				check_entry(k, bucket, i, w);
		}
		check_duplicates(k, bucket);
	}
}

/* live (recomputed) + dead (counted) must fit in what was committed.  The
 * dead counter is read before the index walk in check_index()... and that
 * is what DEAD0 holds. */
static void check_accounting(struct checker *k, const uint64_t *dead0,
                             const uint64_t *word0)
{
	hc_cache *c = k->c;

	for (uint32_t b = 0; b < c->nblocks; b++) {
		uint64_t w = load_acquire(&c->block_words[b]);

		if (w != word0[b] || bw_state(w) == HC_BLOCK_FREE)
			continue; /* moved on during the walk: nothing to say */
		uint64_t com = load_acquire(&c->block_meta[b].committed) & 0xffffffffULL;
		uint64_t d = dead0[b];
		uint64_t dbytes = ((d >> HC_DEAD_GEN_SHIFT) & 0xffff) == (bw_gen(w) & 0xffff)
		                  ? d & HC_DEAD_BYTES_MASK : 0;

		if (com > c->block_size)
			continue; /* reported by check_blocks */
		k->r->bytes_dead += com > k->live[b] ? com - k->live[b] : 0;
		if (k->live[b] + dbytes <= com)
			continue;
		problem(k, "block %u: %llu bytes indexed + %llu counted dead > "
		        "%llu committed", b, (unsigned long long)k->live[b],
		        (unsigned long long)dbytes, (unsigned long long)com);
		/* Recount: what is committed and not indexed is dead.  An
		 * unlink since the index walk (ours resolving a duplicate, or
		 * a live process's) may go uncounted: dead bytes counted low
		 * only make cleaning pick the block later, and never make
		 * this finding come back. */
		uint64_t fresh = (bw_gen(w) & 0xffff) << HC_DEAD_GEN_SHIFT |
		                 (com > k->live[b] ? com - k->live[b] : 0);

		for (int tries = 0; k->repair && tries < HC_RETRY_MAX; tries++) {
			uint64_t now = load_relaxed(&c->block_meta[b].dead);

			/* Only while the block holds what we counted: one
			 * freed and claimed since has a count of its own. */
			if (load_acquire(&c->block_words[b]) != w)
				break;
			if (cas_full(&c->block_meta[b].dead, now, fresh)) {
				k->r->repaired++;
				break;
			}
		}
	}
}

/* Seal OPEN block B (word W), or finish it EVICTING, as its reaper. */
static void settle_block(struct checker *k, uint32_t b, uint64_t w)
{
	if (bw_state(w) == HC_BLOCK_OPEN)
		block_seal(k->c, b, w);
	else
		do_evict_finish(k->c, b, w);
	k->r->repaired++;
}

/* Settle blocks that name an owner slot nobody holds and nobody will reap
 * (the slot reads FREE).  We take the slot's lock to be its reaper. */
static void repair_orphans(struct checker *k)
{
	hc_cache *c = k->c;

	for (uint32_t b = 0; b < c->nblocks; b++) {
		uint64_t w = load_acquire(&c->block_words[b]);
		unsigned st = bw_state(w), owner = bw_owner(w);

		if (st != HC_BLOCK_OPEN && st != HC_BLOCK_EVICTING)
			continue;
		if (owner >= c->max_procs) {
			settle_block(k, b, w); /* no slot to lock */
			continue;
		}
		if (owner == c->slot) {
			/* Ours by its word but none of our blocks (we sealed
			 * and ended ours): scribbled.  We are its reaper. */
			if ((int64_t)b == c->open.block ||
			    (int64_t)b == c->moved.block ||
			    (int64_t)b == c->walk.block)
				continue;
			settle_block(k, b, w);
			continue;
		}
		if (proc_slot_alive(c, owner))
			continue;
		if (proc_lock_slot(c, owner) < 0)
			continue;
		if (load_acquire(&c->block_words[b]) == w)
			settle_block(k, b, w);
		proc_unlock_slot(c, owner);
	}
}

HC_API int hc_check(hc_cache *c, int repair, hc_check_fn report, void *arg,
                    hc_check_result *out)
{
	hc_check_result local;
	struct checker k;
	int rc;

	if (c == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "cache handle is NULL"));
	if ((rc = proc_check_fork(c)) < 0)
		return hc_ret(rc);
	if (out == NULL)
		out = &local;
	memset(out, 0, sizeof *out);
	k.c = c;
	k.repair = repair != 0;
	k.report = report;
	k.arg = arg;
	k.r = out;
	k.live = calloc(c->nblocks, sizeof *k.live);
	k.damaged = calloc(c->nblocks, 1);
	uint64_t *dead0 = calloc(c->nblocks, sizeof *dead0);
	uint64_t *word0 = calloc(c->nblocks, sizeof *word0);

	if (k.live == NULL || dead0 == NULL || word0 == NULL ||
	    k.damaged == NULL) {
		free(k.live);
		free(k.damaged);
		free(dead0);
		free(word0);
		return hc_ret(hc_fail(HC_ESYS, "check: out of memory"));
	}
	if (k.repair) {
		/* The lock: reaping moves live items into our open block. */
		pthread_mutex_lock(&c->lock);
		/* Our own blocks first: sealed and freed, they are repaired
		 * like anyone's (an OPEN block's owner is never overruled). */
		do_walk_end(c);
		do_block_seal_open(c);
		int n = do_proc_reap_dead(c);

		out->repaired += n > 0 ? (uint64_t)n : 0;
		repair_orphans(&k);
		pthread_mutex_unlock(&c->lock);
	}
	check_header(&k);
	check_procs(&k);
	check_stamps(&k);
	check_blocks(&k);
	/* After the blocks (whose repair may change their words), before
	 * the index walk (see check_accounting). */
	for (uint32_t b = 0; b < c->nblocks; b++) {
		word0[b] = load_acquire(&c->block_words[b]);
		dead0[b] = load_relaxed(&c->block_meta[b].dead);
	}
	check_index(&k);
	repair_damaged(&k);
	check_accounting(&k, dead0, word0);
	free(k.live);
	free(k.damaged);
	free(dead0);
	free(word0);
	return (int)(out->problems > 0x7fffffff ? 0x7fffffff : out->problems);
}
