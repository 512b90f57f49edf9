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
 * Repair reaps dead processes (sealing their open blocks, finishing their
 * evictions), settles blocks owned by slots nobody holds, clears index
 * entries that are malformed, and moves the well-formed items out of a
 * block that holds a malformed one before freeing it.  It never unlinks a
 * well-formed live item.
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

/* Processes: attached slots whose holder is gone. */
static void check_procs(struct checker *k)
{
	hc_cache *c = k->c;

	for (unsigned i = 0; i < c->max_procs; i++) {
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
 * Repair a SEALED block B (word W) that holds a malformed item: nothing
 * after that item can be walked, so eviction would drop the well-formed
 * items behind it.  Claim the block as its evictor, move every item the
 * index still locates in it (each checked well-formed by item_locate) to
 * our open block, swinging its slot, and free the block.  No well-formed
 * live item is lost.
 */
static bool repair_block(struct checker *k, uint32_t b, uint64_t w)
{
	hc_cache *c = k->c;
	uint64_t mine = bw_make(HC_BLOCK_EVICTING, c->slot, bw_gen(w));

	if (bw_state(w) != HC_BLOCK_SEALED ||
	    !cas_full(&c->block_words[b], w, mine))
		return false;
	for (uint32_t bucket = 0; bucket < c->nbuckets; bucket++) {
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
			uint64_t sw = load_acquire(slot_at(c, bucket, i));
			const unsigned char *at;
			struct hc_item hdr;
			uint64_t bw, copy;

			if (sw == 0 || sw_loc(sw) >= c->item_memory ||
			    block_of(c, sw_loc(sw)) != b ||
			    item_locate(c, sw, &bw, &at, &hdr) != 0)
				continue;
			pthread_mutex_lock(&c->lock);
			int rc = do_item_clone(c, at, &hdr, item_size(&hdr),
			                       sw_fp(sw), sw_clock(sw), &copy);
			pthread_mutex_unlock(&c->lock);
			if (rc == 0 && !cas_full(slot_at(c, bucket, i), sw, copy))
				block_mark_dead(c, copy);
		}
	}
	cas_full(&c->block_words[b], mine, bw_make(HC_BLOCK_FREE, 0, bw_gen(w) + 1));
	return true;
}

/* Walk block B's items; returns false if the block changed meanwhile. */
static bool walk_block(struct checker *k, uint32_t b, uint64_t w)
{
	hc_cache *c = k->c;
	uint64_t com = load_acquire(&c->block_meta[b].committed);
	uint64_t bytes = com & 0xffffffffULL, items = com >> 32, n = 0, off = 0;
	const unsigned char *start = c->items + block_start(c, b);

	if (bytes > c->block_size) {
		if (load_acquire(&c->block_words[b]) == w)
			problem(k, "block %u: committed offset %llu is past its end",
			        b, (unsigned long long)bytes);
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
			if (k->repair && repair_block(k, b, w))
				k->r->repaired++;
			return true;
		}
		off += size;
		n++;
	}
	return load_acquire(&c->block_words[b]) == w;
}

static void check_blocks(struct checker *k)
{
	hc_cache *c = k->c;

	for (uint32_t b = 0; b < c->nblocks; b++) {
		uint64_t w = load_acquire(&c->block_words[b]);
		unsigned st = bw_state(w), owner = bw_owner(w);

		k->r->blocks[st]++;
		if (st == HC_BLOCK_FREE)
			continue;
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

/* One index entry; returns its block or UINT32_MAX when it is stale or
 * changed under us. */
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
		if (k->repair && index_unlink(c, bucket, i, w))
			k->r->repaired++;
		return;
	}
	if (item_locate(c, w, &bw, &at, &hdr) != 0) {
		/* Stale, or malformed: tell them apart by the block word. */
		uint32_t b = block_of(c, sw_loc(w));
		uint64_t cur = load_acquire(&c->block_words[b]);

		if (bw_state(cur) != HC_BLOCK_FREE &&
		    (bw_gen(cur) & SW_GEN_MASK) == sw_gen(w) &&
		    load_acquire(slot_at(c, bucket, i)) == w) {
			problem(k, "index bucket %u slot %u locates a malformed item "
			        "in block %u", bucket, i, b);
			if (k->repair && index_unlink(c, bucket, i, w))
				k->r->repaired++;
		} else {
			k->r->stale_slots++;
		}
		return;
	}
	uint32_t klen = item_klen(&hdr);
	uint32_t b = block_of(c, sw_loc(w));
	uint64_t off = sw_loc(w) - block_start(c, b);
	uint64_t committed = load_acquire(&c->block_meta[b].committed) & 0xffffffffULL;

	shm_copy_out(buf, item_key_at(at, &hdr),
	             klen > c->max_key ? 0 : klen);
	if (!item_validate(c, w, bw)) {
		k->r->stale_slots++;
		return;
	}
	if (klen > c->max_key || item_vlen(&hdr) > c->max_value) {
		problem(k, "index bucket %u slot %u: item lengths over the limits "
		        "(key %u, value %u)", bucket, i, klen, item_vlen(&hdr));
		return;
	}
	key_prepare(c, &key, buf, klen);
	uint32_t alt = key_alt(c, &key);

	if ((key.bucket != bucket && alt != bucket) || key.fp != sw_fp(w))
		problem(k, "index bucket %u slot %u holds a key that belongs in "
		        "bucket %u or %u", bucket, i, key.bucket, alt);
	if (off + item_size(&hdr) > committed && bw_state(bw) != HC_BLOCK_FREE &&
	    item_validate(c, w, bw))
		problem(k, "index bucket %u slot %u locates an item past its "
		        "block's committed offset", bucket, i);
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
			    item_locate(c, wj, &f.block_word, &f.at, &f.hdr) != 0 ||
			    !key_matches(&f.hdr, f.at, &key) ||
			    !item_validate(c, wj, f.block_word))
				continue;
			/* Writers resolve duplicates right after publishing:
			 * only one that outlives a second look is a finding. */
			if (load_acquire(&slots[i]) == w &&
			    load_acquire(slot_at(c, jb, j)) == wj)
				problem(k, "index: one key in bucket %u slot %u and "
				        "bucket %u slot %u", bucket, i, jb, j);
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

		k->r->bytes_dead += com > k->live[b] ? com - k->live[b] : 0;
		if (k->live[b] + dbytes > com)
			problem(k, "block %u: %llu bytes indexed + %llu counted dead > "
			        "%llu committed", b, (unsigned long long)k->live[b],
			        (unsigned long long)dbytes, (unsigned long long)com);
	}
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
			/* No slot to lock: settle it directly. */
			if (st == HC_BLOCK_OPEN)
				block_seal(c, b, w);
			else
				do_evict_finish(c, b, w);
			k->r->repaired++;
			continue;
		}
		if (owner == c->slot || proc_slot_alive(c, owner))
			continue;
		if (proc_lock_slot(c, owner) < 0)
			continue;
		if (load_acquire(&c->block_words[b]) == w) {
			if (st == HC_BLOCK_OPEN)
				block_seal(c, b, w);
			else
				do_evict_finish(c, b, w);
			k->r->repaired++;
		}
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
	uint64_t *dead0 = calloc(c->nblocks, sizeof *dead0);
	uint64_t *word0 = calloc(c->nblocks, sizeof *word0);

	if (k.live == NULL || dead0 == NULL || word0 == NULL) {
		free(k.live);
		free(dead0);
		free(word0);
		return hc_ret(hc_fail(HC_ESYS, "check: out of memory"));
	}
	if (k.repair) {
		/* The lock: reaping moves live items into our open block. */
		pthread_mutex_lock(&c->lock);
		int n = do_proc_reap_dead(c);

		out->repaired += n > 0 ? (uint64_t)n : 0;
		repair_orphans(&k);
		pthread_mutex_unlock(&c->lock);
	}
	check_procs(&k);
	for (uint32_t b = 0; b < c->nblocks; b++) {
		word0[b] = load_acquire(&c->block_words[b]);
		dead0[b] = load_relaxed(&c->block_meta[b].dead);
	}
	check_blocks(&k);
	check_index(&k);
	check_accounting(&k, dead0, word0);
	free(k.live);
	free(dead0);
	free(word0);
	return (int)(out->problems > 0x7fffffff ? 0x7fffffff : out->problems);
}
