/*
 * internal.h - the handle and the interfaces between the library's files.
 *
 * The layers.  A file calls only files below it (or beside it on its own
 * row, never back); nothing calls up.  Reaping, cleaning and eviction call
 * down, so a dead process's work is finished with the same pieces a live
 * one uses.
 *
 *   API     segment.c  batch.c  walk.c  stats.c  check.c
 *   ops     stampede.c  get-or-lease, fill, abandon (stale-while-revalidate)
 *           ops.c      get, set, add, replace, cas, delete, incr/decr, touch
 *           inval.c    invalidation: stamps, tags, prefixes, flush
 *   space   space.c    finding room for a write: claim, else clean or
 *                      evict, else reap the dead, else the reserve
 *   procs   proc.c     attach, detach, fork; reaping a dead slot (its open
 *                      blocks, its walk, its index move, its leases)
 *   walks   evict.c    freeing a block: cleaning the deadest (its live items
 *                      move forward) under the watermark, else CLOCK
 *                      eviction of the oldest
 *           lease.c    the lease table: claims, takeovers, futex sleeps
 *           journal.c  the ring of changes for other hosts
 *           writeback.c the write-behind queue: reservations for
 *                      hc_set_ex, the one consumer's peek and pop
 *   slots   index.c    hashing, two buckets per key, moves, publication,
 *                      one entry per key
 *   blocks  block.c    the block log: states, claim, append, commit, seal,
 *                      dead accounting
 *   base    lock.c     process-slot locks: who is alive
 *           latency.c  timing one operation in N into per-slot histograms
 *           error.c    error codes and messages
 *
 * Functions named do_* expect the caller to hold the handle's append lock.
 */
#ifndef HC_INTERNAL_H
#define HC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The key hash inlined: a short key hashes in a few dozen instructions,
 * less than the call into the shared library would cost. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hostcache.h"
#include "item.h"
#include "layout.h"

#define HC_API __attribute__((visibility("default")))
#define HC_HOT static inline __attribute__((always_inline))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Bounds of retry loops over shared state (DESIGN: no unbounded loop). */
#define HC_RETRY_MAX 64
#define HC_CLAIM_TRIES 64

/* An open block of this process: where its next append goes. */
struct open_block {
	int64_t block;            /* -1 when none */
	uint64_t gen;
	uint32_t used;            /* bytes appended (private copy of committed) */
	uint32_t items;
};

/* A walk of one EVICTING block of ours, advanced in steps (evict.c). */
struct walk {
	int64_t block;            /* -1 when none */
	uint64_t word;            /* its EVICTING word */
	uint64_t off, end;        /* next item; committed bytes */
	uint64_t kept;            /* bytes moved forward so far */
	uint32_t pace;            /* bytes walked per byte written */
	bool clean;               /* cleaning, else CLOCK eviction */
};

/* Free blocks beyond the reserve below which writers start walks. */
#define HC_WALK_LEAD 4u

/*
 * A handle: one attachment of one process.  Everything here is private to
 * the process.  The configuration is copied out of the header once, after
 * validation, and never re-read: a segment scribbled on later cannot move
 * the bounds this process checks against.
 */
struct hc_cache {
	unsigned char *base;
	size_t map_size;
	int fd;
	struct hc_header *hdr;
	struct hc_proc *procs;
	hc_word *block_words;
	hc_word *free_map;        /* after block_words: nblocks bits */
	hc_word *window_live;     /* then: live bytes per window (evict.c) */
	uint32_t nmap, nwindows;  /* their word counts */
	struct hc_block_meta *block_meta;
	struct hc_bucket *index;
	hc_word *inval;
	struct hc_lease_entry *leases;
	struct hc_journal_slot *journal; /* njournal entries (journal.c) */
	uint32_t njournal;
	uint32_t journal_origin;  /* what this handle's entries carry */
	hc_word *writeback;       /* the write-behind ring (writeback.c) */
	uint32_t wb_size;         /* its bytes; 0: none */
	unsigned char *items;
	uint32_t ninval, nleases, stale_grace_ms, clean_watermark_pct;
	uint32_t latency_every;   /* 0: no operation is timed */
	uint32_t latency_cap;     /* the largest countdown of this handle:
	                             latency_every, UINT32_MAX with none */
	unsigned char delimiter;

	uint64_t size;
	uint64_t item_memory;
	uint64_t epoch_ns;
	uint32_t max_key, max_value, max_procs;
	uint32_t block_size, nblocks, nbuckets, reserve, ttl_jitter_pct;
	unsigned block_shift;

	unsigned slot;            /* our process slot */
	bool no_reap;             /* HC_OPEN_NO_REAP: leave dead slots be */
	struct hc_proc *self;
	uint64_t fork_gen;        /* hc_fork_gen when we attached */

	/* The open blocks, shared by this process's threads under `lock`:
	 * one for what the process writes, one for the items its cleaning
	 * and eviction move.  Moved items are the ones that lived through a
	 * whole lap of the log; kept apart from fresh writes, they fill blocks
	 * that stay live, and fresh blocks die faster (LFS, RAMCloud). */
	pthread_mutex_t lock;
	pthread_mutex_t wb_lock;  /* one write-behind set at a time: the
	                             slot has one wb_inflight word */
	struct open_block open, moved;
	struct walk walk;         /* the block we are freeing, if any */
	uint32_t free_seen;       /* FREE blocks our last claim counted */
	hc_word moving;           /* a move of ours is in flight (index.c) */

	char name[256];
	/* The header's geometry as this handle verified it (check.c
	 * compares the header and its backup with it). */
	unsigned char geom[HC_GEOMETRY_BYTES];
};

/* error.c */
int hc_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int hc_ret_error(int rc);

/* What an entry point returns: RC, remembered for hc_last_error() when it
 * is an error. */
static inline int hc_ret(int rc)
{
	return likely(rc >= 0) ? rc : hc_ret_error(rc);
}

/* segment.c */
int segment_name_check(const char *name, char *out, size_t cap);
int segment_map_fd(hc_cache *c, int fd, const char *name, unsigned flags);
void header_backup_write(hc_cache *c, const struct hc_header *h);
void header_restore(hc_cache *c, const void *geom);

/* proc.c */
extern hc_word hc_fork_gen;
int proc_attach(hc_cache *c);
void proc_detach(hc_cache *c);
int do_proc_reap_dead(hc_cache *c);
void do_proc_reap_slot(hc_cache *c, unsigned slot);
int proc_after_fork(hc_cache *c);
int handle_check(hc_cache *c);

/* 0 when handle C may be used: not NULL, not inherited across a fork
 * without its own slot yet, holding a slot.  The checks of the common case
 * inline; handle_check() attaches after a fork and says what is wrong. */
static inline int handle_ready(hc_cache *c)
{
	if (likely(c != NULL && c->self != NULL &&
	           load_relaxed(&hc_fork_gen) == c->fork_gen))
		return 0;
	return handle_check(c);
}

/* lock.c */
int proc_slot_lock(int fd, unsigned slot, short type);
bool proc_slot_alive(hc_cache *c, unsigned slot);
int proc_lock_slot(hc_cache *c, unsigned slot);
void proc_unlock_slot(hc_cache *c, unsigned slot);
int fd_above_stdio(int fd);

static inline int proc_check_fork(hc_cache *c)
{
	if (unlikely(load_relaxed(&hc_fork_gen) != c->fork_gen))
		return proc_after_fork(c);
	return 0;
}

static inline void counter_add(hc_cache *c, enum hc_counter k, uint64_t n)
{
	fetch_add_relaxed(&c->self->counters[k], n);
}

/* block.c */

int do_block_append(hc_cache *c, uint64_t size, bool moved, uint64_t *loc,
                    uint64_t *gen);
int do_block_claim_reserve(hc_cache *c, bool moved);
uint32_t block_free_count(hc_cache *c, uint32_t enough);
void block_map_free(hc_cache *c, uint32_t b);
bool block_free(hc_cache *c, uint32_t b, uint64_t w);
void block_map_sync(hc_cache *c);
uint64_t do_block_clone_at(hc_cache *c, uint64_t loc, uint64_t gen,
                           const unsigned char *src, const struct hc_item *hdr,
                           uint64_t size, bool moved, unsigned fp,
                           unsigned clock);
void do_block_commit(hc_cache *c, bool moved, uint64_t size);
void do_block_seal_open(hc_cache *c);
void block_seal(hc_cache *c, uint32_t b, uint64_t w);
void block_mark_dead(hc_cache *c, uint64_t word);
void block_mark_dead_sized(hc_cache *c, uint64_t word, uint64_t size);

static inline uint32_t block_of(const hc_cache *c, uint64_t loc)
{
	return (uint32_t)(loc >> c->block_shift);
}

static inline uint64_t block_start(const hc_cache *c, uint32_t b)
{
	return (uint64_t)b << c->block_shift;
}

/* Time: microseconds / milliseconds since the segment's epoch, from the
 * coarse monotonic clock (the hot path reads it at most once). */
static inline uint64_t now_ns(const hc_cache *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return t > c->epoch_ns ? t - c->epoch_ns : 0;
}

/* A stamp: microseconds since the epoch from the fine monotonic clock,
 * never 0 (every invalidation word starts at 0 and a hit needs stamp >
 * word; inval.c). */
static inline uint64_t stamp_now(const hc_cache *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	uint64_t us = t > c->epoch_ns ? (t - c->epoch_ns) / 1000 : 0;

	return us ? us : 1;
}

/* index.c */

/* What a validated read of an item found. */
struct found {
	uint32_t bucket;
	unsigned slot;           /* index in the bucket */
	uint64_t word;           /* the slot word as read */
	uint64_t block_word;     /* the block word as read */
	struct hc_item hdr;      /* private copy of the header */
	const unsigned char *at; /* the item in shared memory */
	const unsigned char *key_at; /* its key, where hdr says */
};

struct key {
	const void *ptr;
	uint32_t len;
	uint64_t hash;
	uint32_t bucket;         /* the first choice */
	unsigned fp;
};

/*
 * The other bucket of an entry with fingerprint FP that sits in bucket B.
 * other(other(b)) == b, so an entry's slot word and bucket are enough to
 * know where it may move (index.c): (H(fp) - b) mod nbuckets, with H(fp)
 * the fingerprint scrambled and scaled to nbuckets by a multiply.
 */
static inline uint32_t bucket_other(const hc_cache *c, uint32_t b, unsigned fp)
{
	uint32_t h = (uint32_t)(((uint64_t)(uint32_t)(fp * 0x9e3779b1u) *
	                         c->nbuckets) >> 32);

	return h >= b ? h - b : h + c->nbuckets - b;
}

/* K's second bucket. */
static inline uint32_t key_alt(const hc_cache *c, const struct key *k)
{
	return bucket_other(c, k->bucket, k->fp);
}

/* K for KEY: its hash, fingerprint and first bucket (key_alt() is the
 * second, needed only past the first). */
static inline void key_prepare_hashed(const hc_cache *c, struct key *k,
                                      const void *key, size_t klen,
                                      uint64_t hash)
{
	k->ptr = key;
	k->len = (uint32_t)klen;
	k->hash = hash;
	k->bucket = (uint32_t)(((hash & 0xffffffffULL) * c->nbuckets) >> 32);
	k->fp = hash_fp(hash);
}

static inline void key_prepare(const hc_cache *c, struct key *k,
                               const void *key, size_t klen)
{
	key_prepare_hashed(c, k, key, klen, XXH3_64bits(key, klen));
}

int index_find_passes(hc_cache *c, const struct key *k, struct found *f);
/* index_publish_new(): an add whose entry another writer removed (and
 * accounted dead) before it could withdraw it. */
#define INDEX_LOST 1
int index_publish_new(hc_cache *c, const struct key *k, uint64_t word,
                      bool exclusive);
bool index_swap(hc_cache *c, uint32_t bucket, unsigned slot, uint64_t old,
                uint64_t word);
bool index_unlink(hc_cache *c, uint32_t bucket, unsigned slot, uint64_t word);
int index_remove_key(hc_cache *c, const struct key *k, uint64_t now);
bool index_locate_item(hc_cache *c, const struct key *k, uint64_t loc,
                       uint64_t gen, uint32_t *bucket, unsigned *slot,
                       uint64_t *word);
void do_index_move_recover(hc_cache *c, unsigned slot);

/*
 * Find where slot word WORD points, check that its block is live in the
 * generation the word names, and copy the item's header out.  Every length
 * is checked against the block's end, so whatever the bytes say, the item
 * lies inside its block.  Returns 0, or HC_ENOTFOUND for a stale or
 * malformed item.  The caller validates with item_validate() after reading.
 */
HC_HOT int item_locate(const hc_cache *c, uint64_t word, uint64_t *bw,
                              const unsigned char **at,
                              struct hc_item *hdr)
{
	uint64_t loc = sw_loc(word);

	if (loc >= c->item_memory || sw_fp(word) == 0) /* a move marker */
		return HC_ENOTFOUND;
	uint32_t b = block_of(c, loc);
	uint64_t off = loc & ((uint64_t)c->block_size - 1); /* a power of 2 */

	if (off + HC_ITEM_HEADER > c->block_size)
		return HC_ENOTFOUND;
	/* Acquire: pairs with the claim and free CASes of the block word, so
	 * the bytes we read next are at least as new as this generation. */
	uint64_t w = load_acquire(&c->block_words[b]);

	if (bw_state(w) == HC_BLOCK_FREE ||
	    ((bw_gen(w) ^ sw_gen(word)) & SW_GEN_MASK) != 0)
		return HC_ENOTFOUND;
	*at = c->items + loc;
	/* Items are 8-aligned: three relaxed word loads. */
	const hc_word *hw = (const hc_word *)*at;

	hdr->cas_flags = load_relaxed(&hw[0]);
	hdr->stamp_klen = load_relaxed(&hw[1]);
	hdr->expire_vlen = load_relaxed(&hw[2]);
	/* The unpadded end: OFF and the block size are multiples of 8. */
	if (item_klen(hdr) == 0 || item_ntags(hdr) > HC_MAX_TAGS ||
	    off + HC_ITEM_HEADER + item_extra(hdr) + item_klen(hdr) +
	    item_vlen(hdr) > c->block_size)
		return HC_ENOTFOUND;
	*bw = w;
	return 0;
}

/* After copying bytes of an item found with item_locate(): were they all
 * of the generation we located?  The acquire fence orders the copy before
 * the reload; it pairs with the full-barrier CAS that changes the
 * generation before a block's bytes are reused (block.c, invariant 3). */
static inline bool block_word_still(const hc_word *bwp, uint64_t bw)
{
	fence_acquire();
	uint64_t now = load_relaxed(bwp);

	return bw_gen(now) == bw_gen(bw) && bw_state(now) != HC_BLOCK_FREE;
}

static inline const hc_word *block_word_of(const hc_cache *c, uint64_t word)
{
	return &c->block_words[block_of(c, sw_loc(word))];
}

static inline bool item_validate(const hc_cache *c, uint64_t word,
                                 uint64_t bw)
{
	return block_word_still(block_word_of(c, word), bw);
}

/* item_locate() into F, with where its key starts worked out once: the
 * get reads the key and then the value after it. */
HC_HOT int found_locate(const hc_cache *c, uint64_t word, struct found *f)
{
	int rc = item_locate(c, word, &f->block_word, &f->at, &f->hdr);

	if (rc == 0)
		f->key_at = item_key_at(f->at, &f->hdr);
	return rc;
}

/* Is the item F located that of key K?  (Its bytes still need
 * item_validate().) */
HC_HOT bool key_is(const struct hc_item *hdr, const unsigned char *key_at,
                   const struct key *k)
{
	return item_klen(hdr) == k->len && shm_equal(key_at, k->ptr, k->len);
}

HC_HOT bool key_matches(const struct found *f, const struct key *k)
{
	return key_is(&f->hdr, f->key_at, k);
}

static inline hc_word *slot_at(hc_cache *c, uint32_t bucket, unsigned i)
{
	return &c->index[bucket].slot[i];
}

/* The read side of index.c that the get inlines. */

enum holds { HOLDS_NO, HOLDS_YES, HOLDS_MOVED };

/* Does slot word W hold key K?  Fills F when it does.  HOLDS_MOVED: the
 * block moved on while we read, so the slot has probably been swung to a
 * copy (reinsertion): the caller must look again. */
HC_HOT enum holds slot_holds(hc_cache *c, const struct key *k, uint64_t w,
                             struct found *f)
{
	if (w == 0 || sw_fp(w) != k->fp)
		return HOLDS_NO;
	/* Its block freed or reused: stale, or just moved by an evictor
	 * that swung the slot to a copy; the caller reads the slot again. */
	if (found_locate(c, w, f) != 0)
		return HOLDS_MOVED;
	bool match = key_matches(f, k);

	/* Bytes read from a block being reused are garbage, whether they
	 * match or not: a mismatch may be another key's item written where
	 * ours was, after an evictor moved ours (window C of t_moved_item).
	 * Confirm the generation before trusting either answer. */
	if (!item_validate(c, w, f->block_word))
		return HOLDS_MOVED;
	return match ? HOLDS_YES : HOLDS_NO;
}

/*
 * Find K's entry: F filled, 0; else HC_ENOTFOUND.  Most hits are in the
 * first bucket, and need one line and no proof: that look is inlined.  A
 * miss there, or an item that moved while we read it, goes to
 * index_find_passes().
 */
HC_HOT int index_find(hc_cache *c, const struct key *k, struct found *f)
{
	hc_word *slots = c->index[k->bucket].slot;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		/* Acquire: pairs with the publishing CAS, so the item bytes
		 * the word locates are visible. */
		uint64_t w = load_acquire(&slots[i]);

		if (sw_fp(w) == k->fp && slot_holds(c, k, w, f) == HOLDS_YES) {
			f->bucket = k->bucket;
			f->slot = i;
			f->word = w;
			return 0;
		}
	}
	return index_find_passes(c, k, f);
}

int do_item_clone(hc_cache *c, const unsigned char *src,
                  const struct hc_item *hdr, uint64_t size, unsigned fp,
                  unsigned clock, uint64_t *word);

/* space.c */
int do_space_append(hc_cache *c, uint64_t size, uint64_t *loc, uint64_t *gen);
int item_write(hc_cache *c, const struct key *k, const struct hc_item *hdr,
               const uint32_t *extra, const void *val, uint32_t vlen,
               uint64_t *word);
int do_space_clone(hc_cache *c, const unsigned char *src,
                   const struct hc_item *hdr, uint64_t size, unsigned fp,
                   unsigned clock, uint64_t *word);

/* ops.c */
enum store_mode { MODE_SET, MODE_ADD, MODE_REPLACE, MODE_CAS, MODE_FILL };

/* A write, as store_item() takes it. */
struct store_req {
	enum store_mode mode;
	uint64_t ttl_ms;
	uint64_t expect;         /* MODE_CAS: the CAS id it must have */
	uint64_t stamp;          /* 0: now; a lease fill carries the grant's */
	unsigned flags;          /* HC_IFLAG_NEGATIVE */
	uint32_t tags[HC_MAX_TAGS];
	unsigned ntags;
	uint32_t delta_ms;       /* compute time, for XFetch */
	uint32_t client_flags;   /* memcached's per-item flags */
	uint64_t *cas_out;
	bool writeback;          /* hc_set_options.writeback */
};

int store_item(hc_cache *c, const void *key, size_t klen, const void *val,
               size_t vlen, const struct store_req *r);
int set_options_apply(const hc_set_options *opt, struct store_req *r);
int key_check_fail(const hc_cache *c, const void *key, size_t klen);

/* 0 when KEY, KLEN is a key this segment takes, else why not. */
static inline int key_check(const hc_cache *c, const void *key, size_t klen)
{
	if (likely(key != NULL && klen != 0 && klen <= c->max_key))
		return 0;
	return key_check_fail(c, key, klen);
}

/* The checks every get makes of its arguments: 0, or the error. */
static inline int get_args(hc_cache *c, const void *key, size_t klen,
                           const void *buf, size_t cap)
{
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0)
		return rc;
	if (buf == NULL && cap > 0)
		return hc_fail(HC_EINVAL, "buffer is NULL");
	return 0;
}
int find_entry(hc_cache *c, const struct key *k, struct found *f,
               uint64_t *now_msec, bool *stale);
int copy_value(hc_cache *c, const struct found *f, void *buf, size_t cap,
               uint64_t now_msec, hc_item_info *info);

/* inval.c */
uint32_t tag_hash(const void *tag, size_t len);
int tag_check(const char *tag, size_t *len);
bool item_invalidated_slow(hc_cache *c, uint64_t stamp, const uint32_t *tags,
                           unsigned ntags, const void *key, uint32_t klen);

/* Was the item of header HDR stamped after every invalidation?  Then none
 * forbids it (inval.c, inval_latest). */
static inline bool item_after_invalidations(hc_cache *c,
                                            const struct hc_item *hdr)
{
	return item_stamp(hdr) > load_acquire(&c->hdr->inval_latest);
}

/* Is the item at AT (header HDR, key KEY, a private copy) forbidden by an
 * invalidation?  One load in the common case. */
static inline bool item_invalidated(hc_cache *c, const struct hc_item *hdr,
                                    const unsigned char *at, const void *key,
                                    uint32_t klen)
{
	uint64_t st = item_stamp(hdr);
	uint32_t tags[HC_MAX_TAGS];

	if (likely(item_after_invalidations(c, hdr)))
		return false;
	shm_copy_out(tags, at + HC_ITEM_HEADER, 4u * item_ntags(hdr));
	return item_invalidated_slow(c, st, tags, item_ntags(hdr), key, klen);
}

bool scanned_since(hc_cache *c, const void *key, uint32_t klen,
                   uint64_t stamp);

/* lease.c */
enum claim { CLAIM_GRANTED, CLAIM_HELD, CLAIM_FULL };

enum claim lease_claim(hc_cache *c, uint64_t h, uint64_t lease_ms,
                       hc_lease *lease, struct hc_lease_entry **held,
                       bool *saw_unowned);
void lease_sleep(struct hc_lease_entry *e, uint64_t h, uint64_t ms);
void lease_release(struct hc_lease_entry *e, uint64_t key, uint64_t owner);
struct hc_lease_entry *lease_entry(hc_cache *c, const hc_lease *lease);
void lease_release_slot(hc_cache *c, unsigned slot);
void lease_note_delete(hc_cache *c, uint64_t h);
/* The name of K in the lease table (never 0: 0 is a free entry). */
static inline uint64_t lease_hash(const struct key *k)
{
	return k->hash | 1;
}
bool lease_deleted_since(hc_cache *c, const hc_lease *lease);

/* journal.c */
void journal_write(hc_cache *c, unsigned kind, const void *data, size_t len,
                   uint64_t stamp);

/* Append a change to the journal, if the segment keeps one.  STAMP: when,
 * in the segment's clock (0: now); a store passes its item's. */
static inline void journal_append(hc_cache *c, unsigned kind,
                                  const void *data, size_t len,
                                  uint64_t stamp)
{
	if (unlikely(c->njournal != 0))
		journal_write(c, kind, data, len, stamp);
}

/* writeback.c: the producer side, for hc_set_ex (ops.c). */
struct wb_record {
	const void *key, *val;
	uint32_t klen, vlen;
	uint64_t ttl_ms;
	uint32_t client_flags;
	unsigned flags;
};
struct wb_reservation {
	uint64_t pos;             /* where the record's mark is */
	uint64_t mark;            /* the reserved mark */
	uint64_t body;            /* position of the body (after a wrap pad) */
};
int writeback_size(uint64_t asked, uint32_t *bytes);
void writeback_init(hc_cache *c);
int do_writeback_reserve(hc_cache *c, const struct wb_record *r,
                         struct wb_reservation *out);
void do_writeback_finish(hc_cache *c, const struct wb_reservation *res,
                         uint64_t cas, bool accepted);
void writeback_release(hc_cache *c);
uint64_t writeback_bytes_waiting(hc_cache *c);

/* latency.c: one get and one set in latency_every timed, per thread. */
enum latency_op { LATENCY_GET, LATENCY_SET };
extern __thread uint32_t hc_latency_countdown[2];
uint64_t latency_arm(const hc_cache *c, enum latency_op op);
void latency_record(hc_cache *c, enum latency_op op, uint64_t t0, int rc);

/* At the start of an operation of kind OP: is this one to be timed (then
 * the caller calls latency_arm())?  Gets and sets count down apart, so
 * that a thread alternating them times both.  The untimed ones pay this countdown, and nothing
 * else: the timed ones go through a function of their own, so that the
 * untimed path keeps no start time across the operation. */
HC_HOT bool latency_due(const hc_cache *c, enum latency_op op)
{
	uint32_t n = hc_latency_countdown[op];

	/* A countdown above the cap was started for a segment of another
	 * latency_every (one thread, two segments): start again. */
	if (likely(c != NULL && n > 1 && n <= c->latency_cap)) {
		hc_latency_countdown[op] = n - 1;
		return false;
	}
	return c != NULL;
}

/* evict.c */
int evict_one(hc_cache *c, bool may_clean);
int do_walk_begin(hc_cache *c, bool may_clean);
bool do_walk_advance(hc_cache *c, uint64_t bytes);
void do_walk_end(hc_cache *c);
void do_evict_finish(hc_cache *c, uint32_t b, uint64_t w);

static inline uint64_t now_ms(const hc_cache *c)
{
	return now_ns(c) / 1000000ULL;
}

static inline bool item_expired_at(const struct hc_item *it, uint64_t ms)
{
	uint64_t exp = item_expire(it);

	return exp != 0 && exp <= ms;
}

#endif /* HC_INTERNAL_H */
