/*
 * proc.c - attachment slots, reaping (the slot locks themselves: lock.c).
 *
 * Slot i of the process table belongs to whoever holds the
 * open-file-description lock (F_OFD_SETLK) on byte i of the segment file.
 * The kernel drops that lock when the last descriptor of the open file
 * description closes, which includes the death of the holder, so a dead
 * process is known dead across pid namespaces and users, and no pid is ever
 * guessed.
 *
 * Invariants:
 *  1. Only the lock holder of slot i writes slot i (its threads add to its
 *     counters atomically), and only it owns blocks whose word names owner i.
 *  2. A slot whose state is ATTACHED and whose lock can be taken belongs to
 *     a dead holder.  Whoever takes the lock reaps it: seals the OPEN blocks
 *     it owned, finishes the block it was evicting, gives back its leases
 *     (waking their waiters), marks it FREE, and then
 *     either releases the lock or keeps the slot for itself.  Every step
 *     checks the shared state again and is harmless to repeat, so a reaper
 *     killed half-way leaves work that the next reaper finishes.
 *  3. A slot's counters are never zeroed: totals summed over all slots never
 *     go backwards, and a process that detached still shows in them.
 *
 * Locks of different open file descriptions conflict even inside one
 * process, so two handles of one process hold two slots, as they should.
 * A child forked after attach shares its parent's open file description
 * (and so its lock); on its first call through the handle it reopens the
 * file through /proc/self/fd, which makes a new description, and attaches
 * to a slot of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

hc_word hc_fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_child(void)
{
	store_relaxed(&hc_fork_gen, load_relaxed(&hc_fork_gen) + 1);
}

static void atfork_register(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}


/* Reclaim what slot SLOT left in the index and the block table.  The caller holds the
 * slot's lock.  A scan of the whole table (not a list kept in the slot)
 * finds blocks claimed by a holder killed before it could record them. */
static void reap_blocks(hc_cache *c, unsigned slot)
{
	/* First an index move it left in flight: its entry lands. */
	do_index_move_recover(c, slot);
	for (uint32_t b = 0; b < c->nblocks; b++) {
		uint64_t w = load_acquire(&c->block_words[b]);

		if (bw_owner(w) != slot)
			continue;
		/* Reaping our own slot at attach: finishing a dead holder's
		 * walk below may claim our open block under this slot
		 * number.  It is ours, not the dead holder's. */
		if (slot == c->slot && ((int64_t)b == c->open.block ||
		                        (int64_t)b == c->moved.block ||
		                        (int64_t)b == c->walk.block))
			continue;
		if (bw_state(w) == HC_BLOCK_OPEN)
			block_seal(c, b, w);
		else if (bw_state(w) == HC_BLOCK_EVICTING)
			do_evict_finish(c, b, w);
	}
	block_map_sync(c); /* blocks it freed without marking the map */
	lease_release_slot(c, slot);
}

void do_proc_reap_slot(hc_cache *c, unsigned slot)
{
	struct hc_proc *p = &c->procs[slot];

	reap_blocks(c, slot);
	/* Release: the blocks above are settled before the slot reads FREE. */
	store_release(&p->state, HC_PROC_FREE);
}

int do_proc_reap_dead(hc_cache *c)
{
	int reaped = 0;

	for (unsigned i = 0; i < c->max_procs; i++) {
		if (i == c->slot)
			continue;
		if (load_relaxed(&c->procs[i].state) != HC_PROC_ATTACHED)
			continue;
		if (proc_slot_lock(c->fd, i, F_WRLCK) < 0)
			continue; /* alive, or another reaper has it */
		/* Re-check under the lock: a reaper may have just finished. */
		if (load_acquire(&c->procs[i].state) == HC_PROC_ATTACHED) {
			do_proc_reap_slot(c, i);
			reaped++;
		}
		proc_slot_lock(c->fd, i, F_UNLCK);
	}
	return reaped;
}

static void slot_init(hc_cache *c, unsigned i)
{
	struct hc_proc *p = &c->procs[i];
	char comm[16] = { 0 };
	hc_word words[2];

	strncpy(comm, program_invocation_short_name, sizeof comm - 1);
	memcpy(words, comm, sizeof words);
	for (unsigned k = 0; k < HC_NCOUNTERS; k++)
		store_relaxed(&p->base[k], load_relaxed(&p->counters[k]));
	store_relaxed(&p->pid, (uint64_t)getpid());
	store_relaxed(&p->comm[0], words[0]);
	store_relaxed(&p->comm[1], words[1]);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	store_relaxed(&p->attached_ns,
	              (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
	/* A dead holder's write-behind record is not ours to finish: the
	 * consumer skips it once the slot says nothing is in flight. */
	store_relaxed(&p->wb_inflight, 0);
	store_relaxed(&p->attaches, load_relaxed(&p->attaches) + 1);
	/* Release: the fields above are visible to whoever sees ATTACHED. */
	store_release(&p->state, HC_PROC_ATTACHED);
}

int proc_attach(hc_cache *c)
{
	uint64_t gen = load_relaxed(&hc_fork_gen);

	pthread_once(&atfork_once, atfork_register);
	c->self = NULL;
	c->slot = UINT32_MAX;
	/* An observer first looks for a slot no one left attached, and takes
	 * a dead one's only when there is none. */
	for (unsigned pass = c->no_reap ? 0 : 1; pass < 2; pass++)
	for (unsigned i = 0; i < c->max_procs; i++) {
		if (pass == 0 &&
		    load_acquire(&c->procs[i].state) == HC_PROC_ATTACHED)
			continue;
		if (proc_slot_lock(c->fd, i, F_WRLCK) < 0) {
			if (errno == EAGAIN || errno == EACCES)
				continue;
			return hc_fail(HC_ESYS, "cannot lock process slot %u: %s", i,
			               strerror(errno));
		}
		/* The slot is ours.  Whatever a previous holder left (it died
		 * attached, or a reaper died half-way) is reclaimed first; the
		 * reclaiming counts its evictions in this slot's counters,
		 * before slot_init() takes their base. */
		c->slot = i;
		c->self = &c->procs[i];
		/* The lock: reaping moves live items into our open block. */
		pthread_mutex_lock(&c->lock);
		reap_blocks(c, i);
		slot_init(c, i);
		if (!c->no_reap)
			do_proc_reap_dead(c);
		pthread_mutex_unlock(&c->lock);
		/* Only now: a child whose reattach failed tries again on its
		 * next call instead of using a slot it does not hold. */
		c->fork_gen = gen;
		return 0;
	}
	return hc_fail(HC_EPROCS, "all %u process slots of the segment are held "
	               "by live processes; detach some or create the segment "
	               "with more slots", c->max_procs);
}

void proc_detach(hc_cache *c)
{
	if (c->self == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	do_walk_end(c);
	do_block_seal_open(c);
	pthread_mutex_unlock(&c->lock);
	store_release(&c->self->state, HC_PROC_FREE);
	proc_slot_lock(c->fd, c->slot, F_UNLCK);
	c->self = NULL;
}

/* In a child forked after attach: make a new open file description (a
 * dup would share the parent's, and its lock), take a slot of our own. */
int proc_after_fork(hc_cache *c)
{
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/proc/self/fd/%d", c->fd);
	fd = fd_above_stdio(open(path, O_RDWR | O_CLOEXEC));
	if (fd < 0)
		return hc_fail(HC_ESYS, "cannot reattach after fork: %s",
		               strerror(errno));
	close(c->fd);
	c->fd = fd;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->wb_lock, NULL);
	memset(&c->open, 0, sizeof c->open);
	memset(&c->moved, 0, sizeof c->moved);
	c->open.block = c->moved.block = -1;
	/* The parent's walk, and any move a parent's thread was making, are
	 * the parent's to finish. */
	memset(&c->walk, 0, sizeof c->walk);
	c->walk.block = -1;
	c->moving = 0;
	c->free_seen = UINT32_MAX;
	return proc_attach(c);
}

/* The checks every operation starts with: a handle, attached in this
 * process (a forked child attaches anew here). */
int handle_check(hc_cache *c)
{
	if (c == NULL)
		return hc_fail(HC_EINVAL, "cache handle is NULL");
	int rc = proc_check_fork(c);

	if (rc < 0)
		return rc;
	if (c->self == NULL)
		return hc_fail(HC_EPROCS, "this handle holds no process slot");
	return 0;
}

HC_API int hc_reap(hc_cache *c)
{
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	pthread_mutex_lock(&c->lock);
	rc = do_proc_reap_dead(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
