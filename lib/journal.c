/*
 * journal.c - a ring of the changes made on this host, for other hosts.
 *
 * A cache on one host is one of several; a change made here (a store, a
 * delete, an invalidation) makes the other hosts' copies stale.  The
 * library never talks to them: it appends what changed to a ring in the
 * segment, and a sidecar reads the ring and carries it on.  Appending must
 * never wait, and a reader must know what it missed.
 *
 * Writers take sequence numbers by fetch-add on journal_head and write
 * entry seq % njournal.  Each entry's mark word says which sequence it
 * holds, which process slot writes it, and whether it is done:
 *
 *   mark = (seq + 1) << 13 | slot << 1 | done      (0: never written)
 *
 * Invariants:
 *  1. A writer takes its entry by CAS of the mark, only from a mark of an
 *     older sequence that is done (or 0), or that a dead slot left half
 *     written; so two writers never write one entry at once.  If a newer
 *     sequence holds the entry, or an older writer that is alive is still
 *     at it (the ring lapped within one append), the append is dropped:
 *     readers count it lost.
 *  2. The writer stores the entry's words, then the mark with done and
 *     release.  A reader acquire-loads the mark, copies, and re-reads the
 *     mark after an acquire fence: the same done mark of the sequence it
 *     wants means the copy is whole (a seqlock).
 *  3. A reader waits for the entry it wants while its writer may still
 *     come (half written by a live slot, or not yet taken), up to
 *     HC_JOURNAL_WAIT_NS; an entry a dead slot left half written, one
 *     overwritten by a newer sequence, and one waited for longer than that
 *     are lost, counted in the cursor, and skipped.
 */
#include <string.h>
#include <time.h>

#include "internal.h"

#define HC_JOURNAL_WAIT_NS 100000000ULL /* 100 ms */

static uint64_t mark_seq(uint64_t m)
{
	return (m >> HC_JOURNAL_SEQ_SHIFT) - 1; /* for m != 0 */
}

static unsigned mark_slot(uint64_t m)
{
	return (unsigned)((m >> 1) & 0xfff);
}

/* May a writer of sequence SEQ take an entry marked M? */
static bool entry_takeable(hc_cache *c, uint64_t m, uint64_t seq)
{
	if (m == 0)
		return true;
	if (mark_seq(m) >= seq)
		return false; /* a newer sequence has it */
	return (m & 1) || !proc_slot_alive(c, mark_slot(m));
}

void journal_write(hc_cache *c, unsigned kind, const void *data, size_t len,
                   uint64_t stamp)
{
	if (c->self == NULL) /* journal_append() tested njournal */
		return;
	uint64_t seq = fetch_add_relaxed(&c->hdr->journal_head, 1);
	struct hc_journal_slot *e = &c->journal[seq % c->njournal];
	uint64_t mine = ((seq + 1) << HC_JOURNAL_SEQ_SHIFT) | ((uint64_t)c->slot << 1);
	uint64_t m = load_acquire(&e->mark);
	bool taken = false;

	for (int tries = 0; tries < 4 && entry_takeable(c, m, seq); tries++) {
		/* Full barrier: the take is ordered before our stores below
		 * (invariant 1). */
		if ((taken = cas_full(&e->mark, m, mine)))
			break;
		m = load_acquire(&e->mark);
	}
	if (!taken)
		return; /* invariant 1: dropped, and readers count it */
	size_t n = len < HC_JOURNAL_DATA ? len : HC_JOURNAL_DATA;
	const unsigned char *p = data;

	store_relaxed(&e->what, kind | (uint64_t)c->journal_origin << 8 |
	                        (uint64_t)n << 40 |
	                        (uint64_t)(len <= HC_JOURNAL_DATA) << 63);
	store_relaxed(&e->stamp, stamp ? stamp : stamp_now(c));
	/* Word by word, the last one zero-padded; a flush has no data (and
	 * DATA may be NULL). */
	size_t i = 0;
	uint64_t word;

	for (; i + 8 <= n; i += 8) {
		memcpy(&word, p + i, 8);
		store_relaxed(&e->data[i / 8], word);
	}
	if (i < n) {
		word = 0;
		memcpy(&word, p + i, n - i);
		store_relaxed(&e->data[i / 8], word);
	}
	/* Release: the words above before done (invariant 2). */
	store_release(&e->mark, mine | 1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Copy entry E, marked M for sequence SEQ, into OUT; false when it changed
 * meanwhile (invariant 2). */
static bool entry_copy(const struct hc_journal_slot *e, uint64_t m,
                       uint64_t seq, hc_journal_entry *out)
{
	uint64_t what = load_relaxed(&e->what);
	uint32_t len = (uint32_t)((what >> 40) & 0x1ff);

	if (len > HC_JOURNAL_DATA)
		len = HC_JOURNAL_DATA;
	out->seq = seq;
	out->kind = (unsigned)(what & 0xff);
	out->origin = (uint32_t)(what >> 8);
	out->len = len;
	out->whole = (int)(what >> 63);
	out->stamp_us = load_relaxed(&e->stamp);
	shm_copy_out(out->data, e->data, len);
	fence_acquire();
	return load_relaxed(&e->mark) == m;
}

/* One step of the reader at CUR->next: 1 when it copied an entry into
 * OUT, 0 when it skipped one (lost), -1 when it must wait for it. */
static int read_one(hc_cache *c, hc_journal_cursor *cur, hc_journal_entry *out)
{
	uint64_t seq = cur->next;
	const struct hc_journal_slot *e = &c->journal[seq % c->njournal];
	uint64_t m = load_acquire(&e->mark);
	bool ours = m != 0 && mark_seq(m) == seq;

	if (ours && (m & 1)) {
		cur->next++;
		cur->stuck_ns = 0;
		if (entry_copy(e, m, seq, out))
			return 1;
		cur->lost++; /* overwritten while we copied */
		return 0;
	}
	bool gone = (m != 0 && mark_seq(m) > seq) ||
	            (ours && !proc_slot_alive(c, mark_slot(m)));

	if (!gone) {
		uint64_t now = mono_ns();

		if (cur->stuck_ns == 0)
			cur->stuck_ns = now;
		if (now - cur->stuck_ns < HC_JOURNAL_WAIT_NS)
			return -1;
	}
	cur->next++;
	cur->stuck_ns = 0;
	cur->lost++;
	return 0;
}

HC_API long hc_journal_read(hc_cache *c, hc_journal_cursor *cursor,
                            hc_journal_entry *out, size_t max)
{
	int rc;

	if (cursor == NULL || (out == NULL && max > 0))
		return hc_ret(hc_fail(HC_EINVAL, "hc_journal_read: NULL argument"));
	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	if (c->njournal == 0)
		return hc_ret(hc_fail(HC_EINVAL, "this segment keeps no journal "
		                      "(create it with journal_entries)"));
	uint64_t head = load_acquire(&c->hdr->journal_head);

	if (cursor->next > head)
		cursor->next = head; /* a cursor of another segment's life */
	if (head - cursor->next > c->njournal) {
		/* Behind the ring: what was overwritten is lost; a new reader
		 * (next 0) starts at the oldest entry still there. */
		if (cursor->next != 0)
			cursor->lost += head - c->njournal - cursor->next;
		cursor->next = head - c->njournal;
		cursor->stuck_ns = 0;
	}
	long n = 0;

	while ((size_t)n < max && cursor->next < head) {
		int got = read_one(c, cursor, &out[n]);

		if (got < 0)
			break;
		n += got;
	}
	return n;
}

HC_API int hc_journal_origin(hc_cache *c, uint32_t origin)
{
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	c->journal_origin = origin;
	return 0;
}
