/*
 * writeback.c - the write-behind queue: writes accepted on this host, for a
 * sidecar to send upstream later.
 *
 * A worker that writes behind stores its value locally and must not wait
 * on the network; the write is queued in the segment, so that it outlives
 * the worker and the sidecar alike, and a full queue must refuse the write
 * rather than drop it.  The queue is a ring of writeback_bytes bytes of
 * variable records (layout.h: a mark word, five header words, key, value,
 * 8-aligned).  Positions are byte counts that only grow (2^64 bytes: no
 * wrap in practice); a position's place in the ring is pos % size and its
 * lap pos / size.  Two header words, each on its own line: wb_head, where
 * the next record goes (producers), and wb_tail, the oldest record (the
 * one consumer).  [tail, head) is in use, [head, tail + size) is free.
 *
 * A producer reserves the record at head by CAS of the record's own mark
 * word, from the free word of head's lap to a reserved mark that holds
 * its length, its slot and the lap's tag; then it advances head by CAS
 * (anyone who finds a reserved mark at head helps it on the same way).  A
 * record that would cross the ring's end is reserved with the pad up to
 * the end, in the same mark (the wrap bit): its body starts at offset 0.
 * It writes the body, stores the local item (ops.c), then the CAS id and
 * the mark, done (or cancelled when the local store failed), with release.
 *
 * Invariants:
 *  1. Every word of the free part holds HC_WB_FREE(tag) of the lap it
 *     will next be used in: the creator writes lap 0's, and the consumer
 *     rewrites each record's words with the next lap's before it moves
 *     tail past them (store_release of wb_tail, which producers acquire).
 *     So a producer that finds head's free word with head's tag, and room
 *     for its record against a tail it read, owns [head, head + len) by
 *     its CAS: nobody else can reserve there (their CAS expects the same
 *     free word), and nothing there is in use.  A stale head fails the
 *     CAS, since that word meanwhile holds a mark of its lap or a free
 *     word of a later one.  (A producer stopped between reading the free
 *     word and its CAS for 2^23 laps of the ring, or user bytes equal to
 *     the free word of that lap at that place, could take a word in use;
 *     both are beyond what we guard against, like the block generation's
 *     low bits in an index slot.)
 *  2. head moves only from a reserved position P to P + the length in
 *     P's mark, by CAS, and the mark's CAS (a full barrier) comes before:
 *     whoever acquire-loads head > T finds T's mark reserved or later.
 *  3. A producer stores its slot's wb_inflight = P + 1 (release) before
 *     the mark's CAS at P, and clears it (release) only after the done or
 *     cancelled mark (release).  So a consumer that finds P reserved, and
 *     its slot alive with wb_inflight P + 1, waits; one that finds the
 *     slot dead or wb_inflight elsewhere (acquire) re-reads the mark: still
 *     reserved means the writer died (or its slot was reaped and taken
 *     again, which resets wb_inflight), so the record is skipped.  Its
 *     writer never returned success: nothing accepted is lost.  The
 *     threads of one handle share a slot and take wb_lock for the call.
 *  4. A done record is immutable until the consumer frees it: only the
 *     consumer writes a done record's words (invariant 1), so the copy
 *     out needs no seqlock, only the acquire of the done mark (pairing
 *     with the producer's release).
 *  5. One consumer at a time: wb_consumer holds (attaches << 12 | slot)
 *     + 1 of its holder, taken by CAS from 0 or from a holder whose slot
 *     is dead or attached again since (attaches moved on).  Only the
 *     holder writes wb_tail and wb_freeing.  A pop stores wb_freeing (the
 *     record's end), then (store-store fence) frees the words, then moves
 *     wb_tail: a consumer that took the claim from a dead one finishes a
 *     pop it finds in progress (freeing is idempotent) before anything
 *     else.  A record is popped only after the consumer sent it, so a
 *     consumer killed before its pop has the next one send it again: at
 *     least once.
 *
 * Every length read from a mark or header is checked against the ring and
 * the used span before use; a damaged ring yields HC_ECORRUPT, never an
 * access outside it.  Every loop is bounded.
 */
#include <string.h>

#include "internal.h"

enum wb_state { WB_FREE = 0, WB_RESERVED = 1, WB_DONE = 2, WB_CANCELLED = 3 };
#define WB_WRAP 4u
#define WB_SKIPS_PER_PEEK 256 /* dead records skipped before peek returns */

static uint64_t lap_tag(const hc_cache *c, uint64_t pos)
{
	return (pos / c->wb_size) & HC_WB_TAG_MASK;
}

static uint64_t free_word(uint64_t tag)
{
	return ((tag & HC_WB_TAG_MASK) << HC_WB_TAG_SHIFT) ^ HC_WB_FREE_MAGIC;
}

static uint64_t mark_make(uint64_t tag, unsigned slot, uint64_t len,
                          bool wrap, enum wb_state state)
{
	return tag << HC_WB_TAG_SHIFT | (len / 8) << HC_WB_LEN_SHIFT |
	       (uint64_t)(slot & 0xfff) << 3 | (wrap ? WB_WRAP : 0) | state;
}

static enum wb_state mark_state(uint64_t m)
{
	return (enum wb_state)(m & 3);
}

static uint64_t mark_len(uint64_t m)
{
	return ((m >> HC_WB_LEN_SHIFT) & HC_WB_LEN_MASK) * 8;
}

static unsigned mark_slot(uint64_t m)
{
	return (unsigned)((m >> 3) & 0xfff);
}

static uint64_t mark_tag(uint64_t m)
{
	return m >> HC_WB_TAG_SHIFT;
}

static hc_word *ring_word(const hc_cache *c, uint64_t pos)
{
	return &c->writeback[(pos % c->wb_size) / 8];
}

/* Bytes of a record of KLEN and VLEN bytes, header included. */
static uint64_t record_size(uint64_t klen, uint64_t vlen)
{
	return (HC_WB_HEADER + klen + vlen + 7) & ~7ULL;
}

static uint64_t max_record(const hc_cache *c)
{
	/* Half the ring: an empty ring then takes any record wherever its
	 * head is, wrap pad included. */
	return c->wb_size / 2;
}

/* The ring's size for hc_config.writeback_bytes ASKED, into *BYTES. */
int writeback_size(uint64_t asked, uint32_t *bytes)
{
	*bytes = 0;
	if (asked == 0)
		return 0;
	if (asked < HC_WB_MIN_BYTES || asked > HC_WB_MAX_BYTES)
		return hc_fail(HC_EINVAL, "writeback_bytes %llu is outside %u..%u "
		               "(the write-behind queue's ring; 0 for none)",
		               (unsigned long long)asked, HC_WB_MIN_BYTES,
		               HC_WB_MAX_BYTES);
	*bytes = (uint32_t)((asked + HC_PAGE - 1) & ~(uint64_t)(HC_PAGE - 1));
	return 0;
}

/* Rewrite [FROM, TO) with the free words of each word's next lap
 * (invariant 1). */
static void ring_free(hc_cache *c, uint64_t from, uint64_t to)
{
	/* Positions come from the segment: whatever they say, stay inside
	 * the ring and within one lap of words. */
	if (((from | to) & 7) != 0 || to < from || to - from > c->wb_size)
		return;
	for (uint64_t n = (to - from) / 8, p = from; n > 0; n--, p += 8)
		store_relaxed(&c->writeback[(p % c->wb_size) / 8],
		              free_word(p / c->wb_size + 1));
}

/* At creation: every word free for lap 0. */
void writeback_init(hc_cache *c)
{
	for (uint32_t i = 0; i < c->wb_size / 8; i++)
		store_relaxed(&c->writeback[i], free_word(0));
}

static int no_queue(void)
{
	return hc_fail(HC_EINVAL, "this segment has no write-behind queue "
	               "(create it with writeback_bytes, cachectl create "
	               "--writeback SIZE)");
}

/* ------------------------------------------------------------------ */
/* producers                                                           */

/* Write R's body at BODY: everything but the mark and the CAS id. */
static void body_write(hc_cache *c, uint64_t body, const struct wb_record *r)
{
	hc_word *w = ring_word(c, body);
	shm_writer out;

	store_relaxed(&w[1], (uint64_t)r->klen << 32 | r->vlen);
	store_relaxed(&w[2], r->ttl_ms);
	store_relaxed(&w[3], (uint64_t)r->client_flags << 32 | r->flags);
	store_relaxed(&w[4], 0);
	store_relaxed(&w[5], stamp_now(c));
	shm_writer_init(&out, &w[HC_WB_HEADER / 8]);
	shm_write(&out, r->key, r->klen);
	shm_write(&out, r->val, r->vlen);
	shm_writer_flush(&out);
}

static int queue_full(hc_cache *c, uint64_t used, uint64_t need)
{
	counter_add(c, HC_CTR_WB_REFUSED_FULL, 1);
	return hc_fail(HC_ENOSPC, "the write-behind queue is full: %llu of its "
	               "%u bytes wait to be sent upstream and this write needs "
	               "%llu; the consumer (sidecar) may not be draining it, or "
	               "the queue is too small for the rate (writeback_bytes, "
	               "cachectl create --writeback)", (unsigned long long)used,
	               c->wb_size, (unsigned long long)need);
}

/*
 * Reserve a record for R at head and write its body (invariants 1-3);
 * the caller holds wb_lock, and ends it with do_writeback_finish().
 */
int do_writeback_reserve(hc_cache *c, const struct wb_record *r,
                         struct wb_reservation *out)
{
	uint64_t body = record_size(r->klen, r->vlen), size = c->wb_size;

	if (size == 0)
		return no_queue();
	if (body > max_record(c))
		return hc_fail(HC_EVALUE, "a write-behind record of %llu bytes (key "
		               "%u, value %u, header %u) is over the queue's limit of "
		               "%llu bytes (half its ring); create the segment with a "
		               "larger writeback_bytes", (unsigned long long)body,
		               r->klen, r->vlen, HC_WB_HEADER,
		               (unsigned long long)max_record(c));
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		/* Acquire both: head pairs with the CAS that moved it (the mark
		 * before it, invariant 2), tail with the consumer's release
		 * after freeing (invariant 1). */
		uint64_t head = load_acquire(&c->hdr->wb_head);
		uint64_t tail = load_acquire(&c->hdr->wb_tail);

		if (((head | tail) & 7) != 0)
			return hc_fail(HC_ECORRUPT, "write-behind queue damaged: "
			               "head %llu or tail %llu off the word grid; "
			               "recreate the segment",
			               (unsigned long long)head,
			               (unsigned long long)tail);
		if (tail > head || head - tail > size)
			continue; /* head read before the consumer passed it */
		uint64_t off = head % size, need = body;
		bool wrap = off + body > size;

		if (wrap)
			need += size - off;
		if (need > size - (head - tail))
			return queue_full(c, head - tail, need);
		hc_word *mw = ring_word(c, head);
		uint64_t tag = lap_tag(c, head), m = load_acquire(mw);

		if (m == free_word(tag)) {
			uint64_t mine = mark_make(tag, c->slot, need, wrap, WB_RESERVED);

			/* Release, and the CAS's full barrier: wb_inflight
			 * before the reservation (invariant 3). */
			store_release(&c->self->wb_inflight, head + 1);
			if (!cas_full(mw, m, mine))
				continue;
			/* Invariant 2; failing means someone helped. */
			cas_full(&c->hdr->wb_head, head, head + need);
			out->pos = head;
			out->mark = mine;
			out->body = wrap ? head + (size - off) : head;
			body_write(c, out->body, r);
			return 0;
		}
		if (mark_state(m) != WB_FREE && mark_tag(m) == tag) {
			uint64_t len = mark_len(m);

			/* Another producer's reservation, judged against a tail
			 * read again: it may have seen a later one than ours
			 * (acquire: its CAS came after its read of that tail). */
			tail = load_acquire(&c->hdr->wb_tail);
			if (len >= 8 && len <= size &&
			    (tail > head || len > size - (head - tail)))
				continue; /* our head is stale: read again */
			if (len < 8 || len > size)
				return hc_fail(HC_ECORRUPT, "write-behind queue damaged: "
				               "a record of %llu bytes at position %llu",
				               (unsigned long long)len,
				               (unsigned long long)head);
			cas_full(&c->hdr->wb_head, head, head + len); /* help */
		}
		/* Else head was stale: the word moved on to a later lap. */
	}
	return hc_fail(HC_EBUSY, "the write-behind queue is too contended; "
	               "try again");
}

/* End the record RES reserved: done with the item's CAS id when the local
 * store was ACCEPTED, else cancelled (the consumer drops it). */
void do_writeback_finish(hc_cache *c, const struct wb_reservation *res,
                         uint64_t cas, bool accepted)
{
	hc_word *mw = ring_word(c, res->pos);

	store_relaxed(&ring_word(c, res->body)[4], cas);
	/* Release: the body before done (invariants 3, 4). */
	store_release(mw, (res->mark & ~3ULL) | (accepted ? WB_DONE : WB_CANCELLED));
	/* Release: done before "nothing in flight" (invariant 3). */
	store_release(&c->self->wb_inflight, 0);
	if (accepted)
		counter_add(c, HC_CTR_WB_ENQUEUED, 1);
}

/* ------------------------------------------------------------------ */
/* the consumer                                                        */

static uint64_t claim_word(hc_cache *c)
{
	return (load_relaxed(&c->self->attaches) << 12 | c->slot) + 1;
}

/* Is the consumer claim W held by a live attachment (invariant 5)? */
static bool claim_alive(hc_cache *c, uint64_t w)
{
	unsigned slot = (unsigned)((w - 1) & 0xfff);

	return slot < c->max_procs && proc_slot_alive(c, slot) &&
	       load_relaxed(&c->procs[slot].attaches) == (w - 1) >> 12;
}

/* Finish the pop a consumer began (invariant 5): free up to wb_freeing,
 * then move wb_tail there. */
static void pop_settle(hc_cache *c)
{
	uint64_t tail = load_relaxed(&c->hdr->wb_tail);
	uint64_t end = load_relaxed(&c->hdr->wb_freeing);

	/* Nothing begun, or a damaged word: never free past head, nor more
	 * than the ring, nor from a position off the word grid. */
	if (end <= tail || end > load_acquire(&c->hdr->wb_head) ||
	    end - tail > c->wb_size || ((tail | end) & 7) != 0)
		return;
	ring_free(c, tail, end);
	/* Release: the free words before the tail that lets producers at
	 * them (invariant 1). */
	store_release(&c->hdr->wb_tail, end);
}

/* Free the record at TAIL, LEN bytes (invariant 5). */
static void pop_record(hc_cache *c, uint64_t tail, uint64_t len)
{
	store_relaxed(&c->hdr->wb_freeing, tail + len);
	/* Store-store: wb_freeing before the first freed word, so that a
	 * consumer taking over finds a pop it could see begun. */
	fence_release();
	pop_settle(c);
}

/* Take the consumer claim for this attachment, or say who has it. */
static int consumer_claim(hc_cache *c)
{
	uint64_t mine = claim_word(c);

	for (int tries = 0; tries < 4; tries++) {
		uint64_t w = load_acquire(&c->hdr->wb_consumer);

		if (w == mine)
			return 0;
		if (w != 0 && claim_alive(c, w)) {
			unsigned slot = (unsigned)((w - 1) & 0xfff);

			return hc_fail(HC_EBUSY, "the write-behind queue already has a "
			               "consumer, pid %llu (process slot %u); one at "
			               "a time", (unsigned long long)
			               load_relaxed(&c->procs[slot].pid), slot);
		}
		/* Full barrier: the dead holder's words are read after it. */
		if (cas_full(&c->hdr->wb_consumer, w, mine)) {
			pop_settle(c);
			return 0;
		}
	}
	return hc_fail(HC_EBUSY, "the write-behind queue's consumer claim is "
	               "contended; try again");
}

static int consumer_ready(hc_cache *c)
{
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return rc;
	if (c->wb_size == 0)
		return no_queue();
	return consumer_claim(c);
}

static int ring_damaged(uint64_t pos, const char *what)
{
	return hc_fail(HC_ECORRUPT, "write-behind queue damaged at position "
	               "%llu: %s", (unsigned long long)pos, what);
}

/* The mark of the oldest record into *M, checked against the ring; 1 when
 * the queue is empty. */
static int oldest_mark(hc_cache *c, uint64_t tail, uint64_t *m)
{
	/* Acquire: pairs with the head CAS, after the mark's (invariant 2). */
	uint64_t head = load_acquire(&c->hdr->wb_head);

	if (head == tail)
		return 1;
	if (head < tail || head - tail > c->wb_size || ((head | tail) & 7) != 0)
		return ring_damaged(tail, "head and tail disagree");
	*m = load_acquire(ring_word(c, tail));
	if (mark_state(*m) == WB_FREE || mark_tag(*m) != lap_tag(c, tail))
		return ring_damaged(tail, "no mark where a record starts");
	uint64_t len = mark_len(*m);

	if (len < HC_WB_HEADER || len > head - tail)
		return ring_damaged(tail, "a record longer than the queue holds");
	if (!(*m & WB_WRAP) && tail % c->wb_size + len > c->wb_size)
		return ring_damaged(tail, "a record across the ring's end");
	return 0;
}

/* Has the writer of the record marked M at POS gone (invariant 3)? */
static bool writer_gone(hc_cache *c, uint64_t pos, uint64_t m)
{
	unsigned slot = mark_slot(m);

	if (slot < c->max_procs && proc_slot_alive(c, slot) &&
	    load_acquire(&c->procs[slot].wb_inflight) == pos + 1)
		return false;
	return load_acquire(ring_word(c, pos)) == m;
}

/* Copy the done record at TAIL, marked M, into OUT and BUF. */
static int record_copy(hc_cache *c, uint64_t tail, uint64_t m,
                       hc_writeback_rec *out, void *buf, size_t cap)
{
	uint64_t len = mark_len(m), body = tail;

	if (m & WB_WRAP) {
		uint64_t pad = c->wb_size - tail % c->wb_size;

		if (pad >= len)
			return ring_damaged(tail, "a wrapped record without a body");
		body += pad;
		len -= pad;
	}
	const hc_word *w = ring_word(c, body);
	uint64_t lens = load_relaxed(&w[1]), flags = load_relaxed(&w[3]);
	uint32_t klen = (uint32_t)(lens >> 32), vlen = (uint32_t)lens;

	if (record_size(klen, vlen) != len)
		return ring_damaged(tail, "lengths that do not fill the record");
	memset(out, 0, sizeof *out);
	out->pos = tail;
	out->klen = klen;
	out->vlen = vlen;
	out->ttl_ms = load_relaxed(&w[2]);
	out->client_flags = (uint32_t)(flags >> 32);
	out->flags = (unsigned)(flags & 0xffffffffu);
	out->cas = load_relaxed(&w[4]);
	out->stamp_us = load_relaxed(&w[5]);
	out->slot = mark_slot(m);
	if ((uint64_t)klen + vlen > cap)
		return hc_fail(HC_EBUFSIZE, "the write-behind record at %llu needs "
		               "a buffer of %llu bytes (key %u, value %u)",
		               (unsigned long long)tail,
		               (unsigned long long)klen + vlen, klen, vlen);
	/* Invariant 4: immutable while we hold the claim. */
	shm_copy_out(buf, &w[HC_WB_HEADER / 8], (size_t)klen + vlen);
	out->key = buf;
	out->value = (unsigned char *)buf + klen;
	return 0;
}

HC_API int hc_writeback_peek(hc_cache *c, hc_writeback_rec *out, void *buf,
                             size_t cap)
{
	int rc;

	if (out == NULL || (buf == NULL && cap > 0))
		return hc_ret(hc_fail(HC_EINVAL, "hc_writeback_peek: NULL argument"));
	if ((rc = consumer_ready(c)) < 0)
		return hc_ret(rc);
	for (int skips = 0; skips < WB_SKIPS_PER_PEEK; skips++) {
		uint64_t tail = load_relaxed(&c->hdr->wb_tail), m = 0;

		if ((rc = oldest_mark(c, tail, &m)) != 0)
			return hc_ret(rc > 0 ? HC_ENOTFOUND : rc);
		switch (mark_state(m)) {
		case WB_DONE:
			return hc_ret(record_copy(c, tail, m, out, buf, cap));
		case WB_RESERVED:
			if (!writer_gone(c, tail, m))
				return hc_ret(HC_ENOTFOUND); /* a live writer is at it */
			counter_add(c, HC_CTR_WB_SKIPPED_DEAD, 1);
			break;
		default: /* cancelled: the local store failed */
			break;
		}
		pop_record(c, tail, mark_len(m));
	}
	return hc_ret(HC_ENOTFOUND); /* many dead records: the next call
	                              * goes on */
}

HC_API int hc_writeback_pop(hc_cache *c, const hc_writeback_rec *rec)
{
	uint64_t tail, m = 0;
	int rc;

	if (rec == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "hc_writeback_pop: NULL record"));
	if ((rc = consumer_ready(c)) < 0)
		return hc_ret(rc);
	tail = load_relaxed(&c->hdr->wb_tail);
	if ((rc = oldest_mark(c, tail, &m)) < 0)
		return hc_ret(rc);
	if (rc > 0 || rec->pos != tail || mark_state(m) != WB_DONE)
		return hc_ret(hc_fail(HC_EINVAL, "write-behind record %llu is not "
		                      "the oldest (%llu): pop only what the last "
		                      "peek returned, once",
		                      (unsigned long long)rec->pos,
		                      (unsigned long long)tail));
	pop_record(c, tail, mark_len(m));
	counter_add(c, HC_CTR_WB_DRAINED, 1);
	return 0;
}

/* Bytes of the ring in use: head - tail. */
uint64_t writeback_bytes_waiting(hc_cache *c)
{
	uint64_t tail = load_acquire(&c->hdr->wb_tail);
	uint64_t head = load_acquire(&c->hdr->wb_head);

	return head > tail ? head - tail : 0;
}

HC_API int hc_writeback_depth(hc_cache *c, uint64_t *records, uint64_t *bytes)
{
	uint64_t in = 0, outs = 0;
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	if (c->wb_size == 0)
		return hc_ret(no_queue());
	for (unsigned i = 0; i < c->max_procs; i++) {
		in += load_relaxed(&c->procs[i].counters[HC_CTR_WB_ENQUEUED]);
		outs += load_relaxed(&c->procs[i].counters[HC_CTR_WB_DRAINED]);
	}
	if (records != NULL)
		*records = in > outs ? in - outs : 0;
	if (bytes != NULL)
		*bytes = writeback_bytes_waiting(c);
	return 0;
}

/* Give up the consumer claim if this attachment holds it (hc_close). */
void writeback_release(hc_cache *c)
{
	if (c->wb_size == 0 || c->self == NULL)
		return;
	uint64_t mine = claim_word(c);

	if (load_relaxed(&c->hdr->wb_consumer) == mine)
		cas_full(&c->hdr->wb_consumer, mine, 0);
}

HC_API int hc_writeback_release(hc_cache *c)
{
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	writeback_release(c);
	return 0;
}
