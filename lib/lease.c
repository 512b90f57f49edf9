/*
 * lease.c - the lease table: one process recomputes a missing key while
 * the others wait for it.  The read path over it (get-or-lease, fill,
 * abandon) is stampede.c.
 *
 * Leases live in a table of cache-line entries, not in item memory (items
 * are immutable and evictable).  An entry names the key by its 64-bit hash,
 * its holder by (attach count << 16 | slot + 1), a deadline, the stamp taken
 * at grant (the fill carries it: an invalidation during the computation
 * still wins, inval.c), and a 32-bit futex word: a sequence bumped at each
 * release, with a waiters bit so that a release makes a system call only
 * when someone sleeps.
 *
 * Invariants:
 *  1. An entry is claimed by CAS of its key word from 0.  A key probes a
 *     fixed run of entries; a claimer first looks for its key in the whole
 *     run, and after claiming looks again: if the key holds two entries, the
 *     one nearer the start of the run wins and the other is given back (the
 *     same rule for everyone, so never both).
 *  2. Only the holder releases (owner CAS to 0, key to 0, bump the futex);
 *     a lease whose holder is dead (its slot's lock is free, or the slot was
 *     attached again since) or past its deadline is taken over by CAS of the
 *     owner word, and the taker gets a new stamp and deadline.
 *  3. Waiters sleep on the futex in slices of at most HC_LEASE_POLL_MS, and
 *     check the holder between slices, so a holder killed with SIGKILL is
 *     replaced within one slice, reaper or not.  The reaper of a dead slot
 *     also releases its leases, waking the waiters at once.
 *  4. A delete beats a fill under way.  hc_delete() raises the deleted word
 *     of every entry holding its key to its stamp (full barrier), then
 *     unlinks the key's item.  A fill publishes its item (full barrier),
 *     then reads the deleted word of its entry and withdraws the item if
 *     the word is at or after its grant's stamp.  Either the delete finds
 *     the filled item, or the fill sees the delete.  A delete before the
 *     grant has a smaller stamp: the loader read the source after it.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define HC_LEASE_PROBE 16
#define FUTEX_WAITERS_BIT (1u << 31)

static uint64_t owner_id(const hc_cache *c)
{
	return (load_relaxed(&c->self->attaches) << 16) | (c->slot + 1);
}

/* Is the holder named by OWNER alive, and still the same attachment? */
static bool owner_alive(hc_cache *c, uint64_t owner)
{
	unsigned slot = (unsigned)(owner & 0xffff);

	if (slot == 0 || slot > c->max_procs)
		return false;
	slot--;
	return load_acquire(&c->procs[slot].state) == HC_PROC_ATTACHED &&
	       load_relaxed(&c->procs[slot].attaches) == (owner >> 16) &&
	       proc_slot_alive(c, slot);
}

static struct hc_lease_entry *entry_at(hc_cache *c, uint64_t h, unsigned i)
{
	return &c->leases[(h + i) % c->nleases];
}

static void grant(hc_cache *c, struct hc_lease_entry *e, uint64_t lease_ms,
                  hc_lease *lease)
{
	lease->stamp = stamp_now(c);
	store_relaxed(&e->stamp, lease->stamp);
	store_release(&e->deadline, now_ms(c) + lease_ms);
	lease->entry = (uint32_t)(e - c->leases);
	lease->owner = owner_id(c);
	lease->held = 1;
	counter_add(c, HC_CTR_LEASE_GRANTS, 1);
}

/* Wake whoever sleeps on E's futex (invariant 2: after the release). */
static void futex_bump(struct hc_lease_entry *e)
{
	for (int i = 0; i < HC_RETRY_MAX; i++) {
		uint64_t v = load_relaxed(&e->futex);
		uint64_t nv = (v & ~0xffffffffULL) | (((uint32_t)v + 1) & ~FUTEX_WAITERS_BIT);

		if (!cas_full(&e->futex, v, nv))
			continue;
		if ((uint32_t)v & FUTEX_WAITERS_BIT)
			syscall(SYS_futex, (uint32_t *)&e->futex, FUTEX_WAKE, INT_MAX,
			        NULL, NULL, 0);
		return;
	}
}

void lease_release(struct hc_lease_entry *e, uint64_t key, uint64_t owner)
{
	if (!cas_full(&e->owner, owner, 0))
		return; /* taken over: not ours to release */
	cas_full(&e->key, key, 0);
	futex_bump(e);
}

/* Invariant 2: take over E's lease from a dead or late holder. */
static bool try_takeover(hc_cache *c, struct hc_lease_entry *e, uint64_t owner,
                         uint64_t lease_ms, hc_lease *lease, bool *saw_unowned)
{
	uint64_t deadline = load_acquire(&e->deadline);
	bool late = owner != 0 && deadline != 0 && now_ms(c) >= deadline;

	if (owner == 0) {
		/* Claimed but not yet named: its claimer is between two
		 * stores, or died there.  Seen so twice, a poll apart: dead. */
		if (!*saw_unowned) {
			*saw_unowned = true;
			return false;
		}
	} else if (!late && owner_alive(c, owner)) {
		return false;
	}
	if (!cas_full(&e->owner, owner, owner_id(c)))
		return false;
	grant(c, e, lease_ms, lease);
	counter_add(c, HC_CTR_LEASE_TAKEOVERS, 1);
	return true;
}

/* Invariant 1, the second look: does our key hold an entry before ours? */
static bool claim_loses(hc_cache *c, uint64_t h, unsigned mine)
{
	for (unsigned i = 0; i < mine; i++)
		if (load_acquire(&entry_at(c, h, i)->key) == h)
			return true;
	return false;
}

enum claim lease_claim(hc_cache *c, uint64_t h, uint64_t lease_ms,
                              hc_lease *lease, struct hc_lease_entry **held,
                              bool *saw_unowned)
{
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		int free_at = -1;

		for (unsigned i = 0; i < HC_LEASE_PROBE; i++) {
			struct hc_lease_entry *e = entry_at(c, h, i);
			uint64_t key = load_acquire(&e->key);

			if (key == h) {
				uint64_t owner = load_acquire(&e->owner);

				if (try_takeover(c, e, owner, lease_ms, lease,
				                 saw_unowned))
					return CLAIM_GRANTED;
				*held = e;
				return CLAIM_HELD;
			}
			if (key == 0 && free_at < 0)
				free_at = (int)i;
		}
		if (free_at < 0)
			return CLAIM_FULL;
		struct hc_lease_entry *e = entry_at(c, h, (unsigned)free_at);

		if (!cas_full(&e->key, 0, h))
			continue;
		store_release(&e->owner, owner_id(c));
		if (claim_loses(c, h, (unsigned)free_at)) {
			lease_release(e, h, owner_id(c));
			continue; /* look again: the earlier entry is the lease */
		}
		grant(c, e, lease_ms, lease);
		return CLAIM_GRANTED;
	}
	return CLAIM_FULL;
}

/* Sleep on E's futex for at most MS, unless it changed already. */
void lease_sleep(struct hc_lease_entry *e, uint64_t h, uint64_t ms)
{
	uint64_t v = load_acquire(&e->futex);

	if (load_acquire(&e->key) != h)
		return;
	if (!((uint32_t)v & FUTEX_WAITERS_BIT) &&
	    !cas_full(&e->futex, v, v | FUTEX_WAITERS_BIT))
		return;
	if (load_acquire(&e->key) != h)
		return; /* released between our look and the bit */
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	syscall(SYS_futex, (uint32_t *)&e->futex, FUTEX_WAIT,
	        (uint32_t)v | FUTEX_WAITERS_BIT, &ts, NULL, 0);
}

/* Is LEASE still ours?  Returns its entry, or NULL. */
struct hc_lease_entry *lease_entry(hc_cache *c, const hc_lease *lease)
{
	if (!lease->held || lease->entry >= c->nleases)
		return NULL;
	struct hc_lease_entry *e = &c->leases[lease->entry];

	if (load_acquire(&e->key) != lease->key_hash ||
	    load_acquire(&e->owner) != lease->owner)
		return NULL;
	return e;
}

/* Reaper: give back the leases slot SLOT held, waking their waiters. */
void lease_release_slot(hc_cache *c, unsigned slot)
{
	for (uint32_t i = 0; i < c->nleases; i++) {
		struct hc_lease_entry *e = &c->leases[i];
		uint64_t key = load_acquire(&e->key), owner = load_acquire(&e->owner);

		if (key != 0 && (owner & 0xffff) == slot + 1)
			lease_release(e, key, owner);
	}
}

/* Raise the deleted word of the entries in [E, END) that hold key hash H to
 * the stamp *T (taken at the first such entry). */
static void mark_deleted(hc_cache *c, struct hc_lease_entry *e,
                         const struct hc_lease_entry *end, uint64_t h,
                         uint64_t *t)
{
	for (; e < end; e++) {
		if (load_acquire(&e->key) != h)
			continue;
		if (*t == 0)
			*t = stamp_now(c);
		for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
			uint64_t cur = load_relaxed(&e->deleted);

			if (cur >= *t || cas_full(&e->deleted, cur, *t))
				break;
		}
	}
}

/* Invariant 4, the delete's half: mark the leases on key hash H (the
 * lease's key_hash: the key's hash | 1) as deleted now.  The caller unlinks
 * the key's item after this.  Every delete walks the key's run of entries:
 * entry_at() as at most two ranges, with one division. */
void lease_note_delete(hc_cache *c, uint64_t h)
{
	uint32_t n = c->nleases, at = (uint32_t)(h % n);
	uint32_t first = n - at < HC_LEASE_PROBE ? n - at : HC_LEASE_PROBE;
	uint64_t t = 0;

	mark_deleted(c, c->leases + at, c->leases + at + first, h, &t);
	mark_deleted(c, c->leases, c->leases + (HC_LEASE_PROBE - first), h, &t);
	/* Order the marks before the caller's reads of the index. */
	fence_full();
}

/* Invariant 4, the fill's half, after it published: was the key deleted
 * since LEASE was granted?  A lease taken over is judged by its entry while
 * the entry still names the key. */
bool lease_deleted_since(hc_cache *c, const hc_lease *lease)
{
	if (lease->entry >= c->nleases)
		return false;
	struct hc_lease_entry *e = &c->leases[lease->entry];

	fence_full();
	return load_acquire(&e->key) == lease->key_hash &&
	       load_acquire(&e->deleted) >= lease->stamp;
}
