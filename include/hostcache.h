/*
 * hostcache.h - a host-local cache in one POSIX shared-memory segment.
 *
 * Every process on a host that opens the same segment shares one set of
 * items: get, set and delete run at memory speed, with no socket and no
 * system call on the hot path.  This header is the manual.
 *
 * Model
 * -----
 * A *segment* is a named POSIX shared-memory object of a fixed size, made
 * once by hc_create() and attached by any number of processes with
 * hc_open().  Inside it, a lock-free hash table indexes *items* (key, value,
 * expiry, CAS id) kept in a log of equal *blocks*; when free blocks run low,
 * the oldest block is evicted with CLOCK (second chance): items read since
 * they were written are re-appended, the rest are dropped.  The memory bound
 * is fixed at creation; a set never fails because the cache is full.
 *
 * Keys are binary, 1..max_key bytes (default 250, at most 65535).  Values
 * are binary, 0..max_value bytes; max_value is bounded by the block size,
 * which hc_create() chooses from the segment size and the number of process
 * slots (hc_info() reports both).
 *
 * Return values
 * -------------
 * Every int-returning function returns 0 on success or a negative HC_E*
 * code.  hc_strerror() gives a one-line message for each.
 *
 * Time
 * ----
 * TTLs are relative, in milliseconds, on CLOCK_MONOTONIC (read through the
 * coarse clock, so expiry has the resolution of the kernel tick, 1-4 ms).
 * 0 means "never expires".  A TTL above HC_TTL_MAX is refused (HC_ETTL).
 *
 * Processes and threads
 * ---------------------
 * A handle (hc_cache *) is one attachment: it holds one slot of the
 * segment's process table, whose liveness the kernel tracks with an
 * open-file-description lock.  A process killed at any instruction leaves
 * nothing that blocks the others; whoever next attaches, or calls
 * hc_reap(), reclaims what it held.  A handle may be shared by the threads
 * of one process.  A child forked after hc_open() attaches anew on its first
 * call through the inherited handle.
 *
 * Caveats
 * -------
 *  - A cache may forget: an item can be evicted at any time, and two
 *    processes that set the same key at once leave one of the two values.
 *  - Items written by a process that is killed before it publishes them are
 *    lost; nothing else is.
 *  - Expiry is checked against the coarse monotonic clock; a segment created
 *    in another time namespace is refused (HC_ETIMENS).
 *  - The segment lives in /dev/shm (tmpfs) and disappears on reboot.
 *  - Anybody who can write the segment can make other processes miss or read
 *    wrong values; by writing its bytes, nobody can make them crash or read
 *    outside the mapping.  Truncating the file is another matter: a process
 *    with write access that shrinks it with ftruncate makes every attached
 *    process die of SIGBUS at its next access past the new end.  Use the
 *    file mode (default 0600) to decide who may attach.
 */
#ifndef HOSTCACHE_H
#define HOSTCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HC_VERSION_MAJOR 0
#define HC_VERSION_MINOR 1
#define HC_VERSION_PATCH 0
#define HC_VERSION_STRING "0.1.0"

/* Error codes: a reserved negative range, so that they never collide with
 * -errno values. */
enum {
	HC_OK = 0,
	HC_ENOTFOUND = -30901,  /* key not found (or expired) */
	HC_EEXISTS = -30902,    /* add: key already present */
	HC_EINVAL = -30903,     /* invalid argument */
	HC_EKEYLEN = -30904,    /* key empty or longer than max_key */
	HC_EVALUE = -30905,     /* value larger than max_value */
	HC_ESEGEXISTS = -30906, /* create: a segment of that name exists */
	HC_ENOSEG = -30907,     /* open: no segment of that name */
	HC_EPERM = -30908,      /* permission denied on the segment */
	HC_EVERSION = -30909,   /* segment made by another layout/version */
	HC_ECORRUPT = -30910,   /* segment is damaged or not a segment */
	HC_EPROCS = -30911,     /* all process slots are taken */
	HC_ENOMEM = -30912,     /* no block can be freed for this item now */
	HC_ENOSPC = -30913,     /* not enough shared memory to create; or a
	                           write-behind set: the queue is full */
	HC_EBUSY = -30914,      /* too much contention; try again */
	HC_EBUFSIZE = -30915,   /* get: buffer too small (*vlen says how big) */
	HC_ENAME = -30916,      /* bad segment name */
	HC_ENOTNUM = -30917,    /* incr/decr: value is not a decimal number */
	HC_ECASMISMATCH = -30918, /* cas: the item changed since it was read */
	HC_ETTL = -30919,       /* TTL larger than HC_TTL_MAX */
	HC_ETIMENS = -30920,    /* segment made in another time namespace */
	HC_EINIT = -30921,      /* segment not initialised (creator died?) */
	HC_ECONFIG = -30922,    /* configuration cannot work (see hc_create) */
	HC_ESYS = -30923,       /* unexpected system error (errno kept) */
	HC_ETOOBIG = -30924,    /* create: size beyond what the layout encodes */
	HC_ENEGATIVE = -30925,  /* get: the key is cached as known absent */
	HC_ETIMEDOUT = -30926,  /* lease: waited the time given, no value came */
	HC_ENOLEASE = -30927,   /* lease: not held (taken over, or never) */
};

/* Largest TTL accepted: 2^40 ms, about 34 years. */
#define HC_TTL_MAX ((uint64_t)1 << 40)

/* Largest configurable key length. */
#define HC_MAX_KEY_LIMIT 65535u

typedef struct hc_cache hc_cache;

/* Creation parameters.  Initialise with hc_config_init(), then change what
 * you need.  A zero field means "choose for me". */
typedef struct hc_config {
	uint64_t size;          /* total segment bytes (default 64 MiB) */
	uint32_t max_key;       /* longest key (default 250, max 65535) */
	uint32_t max_value;     /* longest value; 0 = as large as a block allows */
	uint32_t max_procs;     /* process slots (default 64) */
	uint32_t mode;          /* file mode (default 0600; 0660 for a group) */
	uint32_t avg_item_size; /* expected bytes per item (header, key and
	                           value): the index gets 3/2 slots per this
	                           many bytes of item memory (default 80; 8
	                           bytes per slot) */
	uint32_t ttl_jitter_pct; /* 0..50: each TTL set is shortened by a random
	                           0..pct percent, so that keys set together do
	                           not all expire together (default 0) */
	uint32_t stale_grace_ms; /* how long an expired item stays available as
	                           a stale value to hc_get_or_lease (default 0) */
	char delimiter;         /* prefix delimiter for invalidation (default ':') */
	uint32_t clean_watermark_pct; /* 1..100: while live item bytes are under
	                           this share of item memory, making room moves
	                           live items out of the block with the most dead
	                           bytes instead of evicting (default 90) */
	uint32_t latency_every; /* time one get and one set in this many, per
	                           thread, into the segment's latency histograms
	                           (hc_latency_get; default 64; HC_LATENCY_OFF:
	                           none) */
	uint32_t journal_entries; /* 0 (default): no journal; else a ring of this
	                           many invalidations (up to 1048576, 320 bytes
	                           each) for hc_journal_read() */
	uint64_t writeback_bytes; /* 0 (default): no write-behind queue; else
	                           its ring of this many bytes, rounded up to
	                           a multiple of 4096, from 65536 to 268435456
	                           (hc_set_options.writeback, hc_writeback_peek) */
} hc_config;

#define HC_LATENCY_OFF 0xffffffffu

void hc_config_init(hc_config *cfg);

/* Create a new segment NAME ("name" or "/name") and attach it.  Fails with
 * HC_ESEGEXISTS if one exists, HC_ECONFIG if the configuration cannot work
 * (the message from hc_last_error() says what would fit), HC_ENOSPC if
 * /dev/shm cannot hold it (its memory is reserved now, so a full /dev/shm
 * fails here rather than with SIGBUS later).  The file gets exactly
 * cfg->mode, whatever the umask.  Creation is race-free: of several
 * processes creating one name at once, one succeeds and the others get
 * HC_ESEGEXISTS (then hc_open). */
int hc_create(const char *name, const hc_config *cfg, hc_cache **out);

/* Attach an existing segment. */
int hc_open(const char *name, hc_cache **out);

/* hc_open() with FLAGS.  HC_OPEN_NO_REAP: take a free slot and leave the
 * slots of dead processes as they are, so that an inspecting tool can see
 * them (hc_procs, hc_check); only when no slot is free is a dead one
 * reaped and taken. */
#define HC_OPEN_NO_REAP 1u
/* HC_OPEN_REPAIR: a segment whose header is damaged but whose backup copy
 * of it is intact (it is kept in the next page) has its header restored
 * from the copy, and is attached; without it such a segment is refused
 * with HC_ECORRUPT and a message that says to repair it.  cachectl check
 * --repair opens with it. */
#define HC_OPEN_REPAIR 2u
int hc_open_ex(const char *name, unsigned flags, hc_cache **out);

/* The hash of TAG as items carry it (hc_item_view.tags), or 0 for a bad
 * tag (empty, or longer than 64 bytes). */
uint32_t hc_tag_hash(const char *tag);

/* Detach: seal this attachment's open block and free its process slot.
 * The handle is freed even on error. */
int hc_close(hc_cache *c);

/* Remove the segment NAME.  Attached processes keep working on their
 * mapping; new hc_open() calls fail with HC_ENOSEG. */
int hc_unlink(const char *name);

/* Store VAL under KEY with a TTL in ms (0 = no expiry).  Never fails
 * because the cache is full: the oldest block is evicted to make room.  Of
 * two processes setting one key at once, both succeed and one value stays. */
int hc_set(hc_cache *c, const void *key, size_t klen, const void *val,
           size_t vlen, uint64_t ttl_ms);
/* Options of hc_set_ex().  Zero-initialise, then set what you need. */
typedef struct hc_set_options {
	uint64_t ttl_ms;           /* 0 = no expiry */
	const char *const *tags;   /* up to HC_MAX_ITEM_TAGS tags, 1..64 bytes */
	unsigned ntags;
	const uint32_t *tag_hashes; /* or tag hashes as hc_walk reports them */
	unsigned nhashes;          /*   (for restoring dumps); tags + hashes <= 4 */
	unsigned flags;            /* HC_ITEM_NEGATIVE: a cached "known absent" */
	uint32_t compute_ms;       /* how long the value took to compute: lets
	                              readers refresh early (XFetch, hc_get_ex) */
	uint64_t *cas_out;         /* if not NULL, gets the new item's CAS id */
	uint32_t client_flags;     /* opaque to the cache, returned by hc_get_ex
	                              (memcached's per-item flags); 0 costs
	                              nothing, others 4 bytes of the item */
	unsigned mode;             /* HC_STORE_*: set (0), add, replace, cas */
	uint64_t cas;              /* HC_STORE_CAS: the CAS id the item must
	                              have (as hc_cas()) */
	unsigned writeback;        /* 1: also queue the write for upstream
	                              (write-behind, below); the segment needs
	                              writeback_bytes */
} hc_set_options;

/* hc_set_options.mode: the conditions of hc_set(), hc_add(), hc_replace()
 * and hc_cas(), with their return codes. */
#define HC_STORE_SET 0u
#define HC_STORE_ADD 1u
#define HC_STORE_REPLACE 2u
#define HC_STORE_CAS 3u

#define HC_MAX_ITEM_TAGS 4

/* hc_set() with tags, flags, a compute time and client flags; with
 * OPT->mode, hc_add(), hc_replace() or hc_cas() with them (and their return
 * codes).  A negative item (flags HC_ITEM_NEGATIVE, usually with an empty
 * value and a short TTL) makes hc_get()/hc_get_ex() return HC_ENEGATIVE
 * instead of a value: the source is known not to have the key. */
int hc_set_ex(hc_cache *c, const void *key, size_t klen, const void *val,
              size_t vlen, const hc_set_options *opt);

/* Make every item carrying TAG a miss for every process, in O(1).  Returns
 * once the invalidation is visible everywhere: no process reads an item
 * set before it; an item set after it is visible. */
int hc_invalidate_tag(hc_cache *c, const char *tag);

/* Invalidate every key starting with PREFIX (LEN >= 1).  When PREFIX ends
 * with the segment's delimiter (hc_config.delimiter, default ':'), this is
 * O(1) like a tag and *COUNT (if not NULL) is set to 0.  Any other prefix
 * is an incremental scan of the index that blocks no reader or writer;
 * *COUNT gets how many items it dropped.  Same guarantee as
 * hc_invalidate_tag(). */
int hc_invalidate_prefix(hc_cache *c, const void *prefix, size_t len,
                         uint64_t *count);

/* Make every item a miss, in O(1).  Same guarantee as hc_invalidate_tag(). */
int hc_flush(hc_cache *c);

/* Store only if KEY is absent (HC_EEXISTS otherwise).  Of several
 * processes adding one absent key at once, at most one succeeds. */
int hc_add(hc_cache *c, const void *key, size_t klen, const void *val,
           size_t vlen, uint64_t ttl_ms);
/* Store only if KEY is present (HC_ENOTFOUND otherwise). */
int hc_replace(hc_cache *c, const void *key, size_t klen, const void *val,
               size_t vlen, uint64_t ttl_ms);
/* Store only if KEY's current CAS id is CAS (HC_ECASMISMATCH if it changed,
 * HC_ENOTFOUND if it is gone).  On success *new_cas (if not NULL) gets the
 * new item's CAS id. */
int hc_cas(hc_cache *c, const void *key, size_t klen, const void *val,
           size_t vlen, uint64_t ttl_ms, uint64_t cas, uint64_t *new_cas);

/* Copy KEY's value into BUF (capacity CAP).  0 on a hit, HC_ENOTFOUND on a
 * miss.  *vlen gets the value's full length even when it is larger than CAP,
 * in which case nothing is copied and HC_EBUFSIZE is returned.  BUF may be
 * NULL when CAP is 0 (a length probe).  A probe counts as an access for
 * eviction (the item gets its second chance) but not as a hit.  The copy is
 * validated: a value overwritten or evicted while it was copied is never
 * returned in pieces. */
int hc_get(hc_cache *c, const void *key, size_t klen, void *buf, size_t cap,
           size_t *vlen);

/* What hc_get_ex() reports besides the value. */
typedef struct hc_item_info {
	uint64_t cas;      /* the item's CAS id */
	uint64_t ttl_ms;   /* milliseconds left, 0 = no expiry */
	uint32_t vlen;     /* full value length */
	unsigned flags;    /* HC_ITEM_* */
	int refresh;       /* XFetch: recompute now, before it expires (only
	                      for items set with a compute time) */
	int stale;         /* hc_get_or_lease: the value expired (it is served
	                      within the segment's stale grace period) */
	uint32_t client_flags; /* as set (hc_set_options.client_flags) */
} hc_item_info;

/* hc_get() that also reports the CAS id and remaining TTL (INFO may be
 * NULL). */
int hc_get_ex(hc_cache *c, const void *key, size_t klen, void *buf,
              size_t cap, hc_item_info *info);

/* A lease: the right, and the duty, to compute a missing key. */
typedef struct hc_lease {
	uint64_t key_hash;
	uint64_t owner;
	uint64_t stamp;
	uint32_t entry;
	int held;              /* 1: this caller holds the lease */
} hc_lease;

/* Get KEY, or the lease to compute it (stampede protection):
 *  - 0: a value is in BUF.  INFO->stale says it expired and is served within
 *    the segment's stale grace period (stale-while-revalidate); then
 *    LEASE->held says whether this caller must refresh it.
 *  - HC_ENOTFOUND with LEASE->held: a miss, and this caller is the one
 *    process that computes the value: hc_lease_fill() or hc_lease_abandon()
 *    within LEASE_MS (after that the lease passes to the next caller).
 *    HC_ENOTFOUND without LEASE->held: a miss and the lease table is full;
 *    compute it anyway.
 *  - HC_ETIMEDOUT: another process holds the lease and no value came within
 *    WAIT_MS (0: do not wait).
 *  - HC_ENEGATIVE: the key is cached as known absent (a negative entry, as
 *    for hc_get()); when it is stale, LEASE->held says whether this caller
 *    must refresh it.
 * Waiters sleep on a futex; a holder that dies is replaced within about
 * 20 ms, one that overruns LEASE_MS at once.  HC_EBUFSIZE as hc_get(). */
int hc_get_or_lease(hc_cache *c, const void *key, size_t klen, void *buf,
                    size_t cap, hc_item_info *info, uint64_t lease_ms,
                    uint64_t wait_ms, hc_lease *lease);

/* Store the value computed under LEASE and release it, waking the waiters.
 * The item is stamped with the lease's grant time: an invalidation since
 * then wins (flush, tag, prefix or scanned prefix: the value does not
 * read; after a scan it is not even kept, and OPT->cas_out gets 0), and a
 * value set meanwhile by hc_set() is kept.  An hc_delete() of the key since
 * the grant wins too: the value is not kept (OPT->cas_out gets 0), so a
 * writer that updates the source and then deletes the key beats a fill
 * computed from the older data (unless the lease was taken over and its new
 * holder released it meanwhile: then only a newer value is kept).
 * Returns HC_ENOLEASE if the lease had been taken over (the value is still
 * stored unless a newer one is there).  OPT may be NULL (no TTL, no tags). */
int hc_lease_fill(hc_cache *c, hc_lease *lease, const void *key, size_t klen,
                  const void *val, size_t vlen, const hc_set_options *opt);

/* Give LEASE back without a value; the next caller gets it. */
int hc_lease_abandon(hc_cache *c, hc_lease *lease);

/* Cache-aside in one call.  LOAD computes KEY's value from the source into
 * BUF (capacity CAP), sets *VLEN and, optionally, *TTL_MS (0: use
 * O->ttl_ms); it returns 0, or an error that hc_get_or_load() passes on
 * (use negative values outside the HC_E* range).  Built on leases: of all
 * processes missing KEY at once, one calls LOAD and the others wait up to
 * O->wait_ms for its value (then call LOAD themselves).  A stale value
 * within the grace period is served while one process refreshes.  The
 * value's compute time is recorded, for early refresh (hc_get_ex).  A
 * loaded value is returned (0) even when storing it fails, for example
 * when it is larger than the segment's max_value: the caller gets its
 * value, and the next call loads again. */
typedef int (*hc_loader_fn)(void *arg, const void *key, size_t klen,
                            void *buf, size_t cap, size_t *vlen,
                            uint64_t *ttl_ms);

typedef struct hc_load_options {
	uint64_t ttl_ms;        /* TTL of the loaded value, unless LOAD says */
	uint64_t lease_ms;      /* how long a loader may take before another
	                           process takes over */
	uint64_t wait_ms;       /* how long to wait for another's load */
	const char *const *tags;
	unsigned ntags;
} hc_load_options;

int hc_get_or_load(hc_cache *c, const void *key, size_t klen, void *buf,
                   size_t cap, size_t *vlen, const hc_load_options *o,
                   hc_loader_fn load, void *arg);

/* Batch calls: RESULTS[i] gets what hc_get()/hc_set() returned for key i.
 * hc_get_many overlaps the cache misses of the batch (prefetch) and returns
 * the number of hits; hc_set_many returns the number of failures. */
int hc_get_many(hc_cache *c, size_t n, const void *const *keys,
                const size_t *klens, void *const *bufs, const size_t *caps,
                size_t *vlens, int *results);
int hc_set_many(hc_cache *c, size_t n, const void *const *keys,
                const size_t *klens, const void *const *vals,
                const size_t *vlens, uint64_t ttl_ms, int *results);

/* Remove KEY.  HC_ENOTFOUND if it was absent. */
int hc_delete(hc_cache *c, const void *key, size_t klen);

/* Add DELTA to a decimal value (up to 20 digits, no sign), wrapping at
 * 2^64; decrement floors at 0.  The result goes to *result (if not NULL).
 * The item keeps its expiry. */
int hc_incr(hc_cache *c, const void *key, size_t klen, uint64_t delta,
            uint64_t *result);
int hc_decr(hc_cache *c, const void *key, size_t klen, uint64_t delta,
            uint64_t *result);

/* Give KEY a new TTL (ms, 0 = no expiry). */
int hc_touch(hc_cache *c, const void *key, size_t klen, uint64_t ttl_ms);

/* Reclaim the process slots of processes that died attached, with what they
 * held (open and half-evicted blocks).  Returns the number reaped (>= 0) or
 * an error.  Attaching does this too. */
int hc_reap(hc_cache *c);

/* Do the writers' housekeeping ahead of them, for about BUDGET_US
 * microseconds at most (0: one bounded step): reap dead processes' slots,
 * then free blocks as a set would (cleaning dead space while the live data
 * is under the watermark, evicting by CLOCK over it or when no block is
 * dead enough to clean), until free blocks are one above the point at which
 * sets start freeing blocks themselves; no further.  Sets need no
 * caller of it; one that calls it often (hostcached) keeps that work off
 * their path.  Any attached process may call it, from any thread.  A
 * block freed in part is finished by the next call, or by this handle's
 * writes or hc_close().  Returns the number of blocks freed (>= 0) or an
 * error. */
long hc_maintain(hc_cache *c, unsigned budget_us);

/* Totals summed over every process slot that was ever used, plus gauges
 * computed from the block table at the time of the call. */
typedef struct hc_stats {
	/* cumulative counters; they never go backwards */
	uint64_t gets, hits, misses;
	uint64_t sets, deletes;
	uint64_t evictions;      /* live items dropped to make room */
	uint64_t second_chances; /* items re-appended by CLOCK */
	uint64_t expirations;    /* expired items unlinked */
	uint64_t blocks_evicted; /* blocks recycled by CLOCK */
	uint64_t bucket_evictions; /* items dropped from a full index bucket */
	uint64_t inval_tag;      /* hc_invalidate_tag calls */
	uint64_t inval_prefix;   /* hc_invalidate_prefix calls */
	uint64_t inval_scanned;  /* items dropped by prefix scans */
	uint64_t flushes;        /* hc_flush calls */
	uint64_t inval_reclaimed; /* invalidated items unlinked since */
	uint64_t stale_hits;     /* stale values served (stale-while-revalidate) */
	uint64_t lease_grants, lease_waits, lease_timeouts, lease_takeovers;
	uint64_t early_refreshes; /* reads told to refresh early (XFetch) */
	uint64_t negative_hits;  /* reads that found a cached "known absent" */
	uint64_t blocks_cleaned; /* blocks freed by moving their live items */
	uint64_t bytes_cleaned;  /* item bytes those moves wrote */
	uint64_t bytes_set;      /* item bytes appended by writes */
	uint64_t index_moves;    /* entries moved to their other index bucket
	                            to make room (segment-wide; 0 in
	                            hc_stats_self) */
	uint64_t wb_enqueued;    /* write-behind records accepted */
	uint64_t wb_drained;     /* popped by the consumer (sent upstream) */
	uint64_t wb_refused_full; /* write-behind sets refused: queue full */
	uint64_t wb_skipped_dead; /* records a killed producer left half
	                            written, skipped (never accepted) */
	/* gauges */
	uint64_t items;          /* items in blocks not yet known dead */
	uint64_t bytes_live;     /* item bytes not known dead */
	uint64_t bytes_dead;     /* replaced/deleted item bytes awaiting eviction */
	uint64_t bytes_limit;    /* item memory: blocks x block size */
	uint64_t blocks_total;
	uint64_t blocks_free, blocks_open, blocks_sealed, blocks_evicting;
	uint32_t procs_attached;
	uint32_t procs_max;
	uint64_t wb_depth_bytes; /* write-behind bytes waiting (pads included) */
	uint64_t wb_depth_records; /* records waiting: accepted, not drained */
} hc_stats;

int hc_stats_get(hc_cache *c, hc_stats *out);

/* Counters of the calling attachment alone, since it attached. */
int hc_stats_self(hc_cache *c, hc_stats *out);

/*
 * The journal: with hc_config.journal_entries, every change a process makes
 * (a store of any kind, incr/decr, a delete, an invalidation by tag or
 * prefix, a flush) is also appended to a ring in the segment, for a sidecar
 * to carry to other hosts: the data changed here, so their copies are
 * stale.  Appending never waits: when the ring is full the oldest entries
 * are overwritten, and a reader that fell behind is told how many it lost.
 */
enum {
	HC_JOURNAL_KEY = 1,    /* a key was written or deleted */
	HC_JOURNAL_PREFIX = 2, /* hc_invalidate_prefix */
	HC_JOURNAL_TAG = 3,    /* hc_invalidate_tag */
	HC_JOURNAL_FLUSH = 4   /* hc_flush */
};

typedef struct hc_journal_entry {
	uint64_t seq;          /* its place in the journal */
	unsigned kind;         /* HC_JOURNAL_* */
	uint32_t origin;       /* hc_journal_origin() of the writing handle */
	uint64_t stamp_us;     /* when, in the segment's clock */
	uint32_t len;          /* bytes of data */
	int whole;             /* 0: a key longer than data holds; data is its
	                          first 256 bytes (invalidate that as a prefix) */
	unsigned char data[256];
} hc_journal_entry;

/* Where a reader is: zero-initialise, then pass to every hc_journal_read().
 * A new reader starts at the oldest entry still in the ring. */
typedef struct hc_journal_cursor {
	uint64_t next;         /* the next sequence number to read */
	uint64_t lost;         /* entries this reader will never see (it fell
	                          behind the ring, or a writer died mid-entry) */
	uint64_t stuck_ns;     /* private: since when an entry is awaited */
} hc_journal_cursor;

/* Copy up to MAX entries from CURSOR on into OUT; returns how many (0: none
 * new yet), HC_EINVAL when the segment keeps no journal.  Entries come in
 * sequence order; CURSOR->lost grows by the ones skipped. */
long hc_journal_read(hc_cache *c, hc_journal_cursor *cursor,
                     hc_journal_entry *out, size_t max);

/* The origin this handle's entries carry (default 0: this host).  A
 * sidecar applying another host's invalidations sets that host's origin on
 * the handle it applies them through, so that it does not send them back. */
int hc_journal_origin(hc_cache *c, uint32_t origin);

/*
 * Write-behind: with hc_config.writeback_bytes, hc_set_ex() with
 * opt->writeback stores the value locally *and* queues a record of the
 * write (key, value, ttl_ms, flags, client flags, the new CAS id) in a
 * ring in the segment, for one consumer (a sidecar) to send upstream
 * later, without the writer waiting on the network.
 *
 *  - Nothing accepted is lost: when hc_set_ex() returns 0 the record is
 *    whole in the segment.  It survives the writer's death, the
 *    consumer's death or restart (the queue is in the segment), but not
 *    the segment's removal or a reboot.
 *  - A full queue is an error, never a silent drop: the call fails with
 *    HC_ENOSPC (hc_last_error() says how many bytes wait and which option
 *    sizes the queue) and stores nothing locally either, so that a caller
 *    never believes a write accepted that is not queued.  Likewise when
 *    the local store fails (HC_EEXISTS of an add, HC_ECASMISMATCH...), the
 *    queued record is cancelled: success means both, failure neither.  A
 *    record (48 bytes, key and value, 8-aligned) larger than half the ring
 *    is refused with HC_EVALUE (hc_info.writeback_max_record).
 *  - Ordered: records come out in the order they were reserved; the
 *    records of one process (of one thread) in the order of its calls.
 *  - At least once: the consumer peeks the oldest record, sends it, then
 *    pops it.  A consumer killed between the two leaves it queued, and the
 *    next consumer sends it again.  Make upstream writes idempotent (a SET
 *    is), or dedupe on (slot, cas).
 *  - A writer killed mid-call leaves a record half written; the consumer
 *    skips it once that writer's process slot is dead (the call never
 *    returned success), counting it in wb_skipped_dead.  A live writer
 *    still at it is waited for: peek says HC_ENOTFOUND ("nothing yet").
 *  - One consumer at a time: the first peek or pop claims the queue for
 *    the calling attachment until hc_close() (or hc_writeback_release());
 *    another process's peek gets HC_EBUSY while the holder is alive, and
 *    takes the claim over once it is dead.  The threads of one process
 *    sharing a handle must not consume at once.
 */
typedef struct hc_writeback_rec {
	uint64_t pos;          /* its place in the queue (hc_writeback_pop) */
	uint64_t ttl_ms;       /* the set's TTL (relative, as given; 0: none) */
	uint64_t cas;          /* the CAS id the local item got */
	uint64_t stamp_us;     /* when it was queued, in the segment's clock */
	uint32_t klen, vlen;
	uint32_t client_flags; /* hc_set_options.client_flags */
	unsigned flags;        /* HC_ITEM_NEGATIVE, as set */
	uint32_t slot;         /* the writer's process slot */
	const void *key;       /* into the caller's BUF: klen bytes */
	const void *value;     /* into BUF, after the key: vlen bytes */
} hc_writeback_rec;

/* Copy the oldest complete record into OUT, its key and value into BUF
 * (capacity CAP, at least klen + vlen), claiming the queue for this
 * attachment if nobody alive holds it.  0: a record; HC_ENOTFOUND: none
 * yet (empty, or the oldest is still being written by a live writer);
 * HC_EBUFSIZE: BUF is too small (OUT->klen and OUT->vlen say how large
 * the record is; nothing is consumed); HC_EBUSY: another live process is
 * the consumer; HC_EINVAL: the segment has no queue.  Records that dead
 * writers left half written are skipped on the way.  Peeking again without
 * a pop returns the same record. */
int hc_writeback_peek(hc_cache *c, hc_writeback_rec *out, void *buf,
                      size_t cap);

/* Remove REC, the record the last hc_writeback_peek() returned, once it
 * has been sent upstream.  HC_EINVAL if it is not the oldest record (a
 * pop without a peek, or twice). */
int hc_writeback_pop(hc_cache *c, const hc_writeback_rec *rec);

/* What waits in the queue: *RECORDS (if not NULL) accepted and not yet
 * popped (counted, so a writer killed at the wrong instant can make it
 * one off until the queue empties), *BYTES (if not NULL) of the ring in
 * use, exactly. */
int hc_writeback_depth(hc_cache *c, uint64_t *records, uint64_t *bytes);

/* Give up the consumer claim of this attachment (hc_close() does too). */
int hc_writeback_release(hc_cache *c);

/*
 * Latency: every process times one get and one set in latency_every (a
 * creation option, per thread; the others pay a countdown) from entry to
 * return, into histograms in its process slot.  Bucket 0 holds times
 * under 32 ns; then four buckets per power of two, each a fifth to a
 * quarter wide, up to the last, which holds everything from about 25 ms.
 */
#define HC_LATENCY_BUCKETS 80

typedef struct hc_latency {
	uint32_t every;          /* one operation in this many is timed; 0: none */
	uint64_t get[HC_LATENCY_BUCKETS]; /* timed gets (hc_get, hc_get_ex,
	                                    and the gets of the calls built on
	                                    them) by bucket */
	uint64_t set[HC_LATENCY_BUCKETS]; /* timed stores: set, add, replace,
	                                    cas, hc_set_ex, lease fills */
} hc_latency;

/* The histograms of every process slot, summed: since the segment was
 * created.  Two readings apart give the latency between them. */
int hc_latency_get(hc_cache *c, hc_latency *out);

/* Bucket I's bounds in ns: [lower, upper); the last one's upper is
 * UINT64_MAX. */
void hc_latency_bucket(unsigned i, uint64_t *lower, uint64_t *upper);

/* The latency under which a share Q (0..1) of HIST's operations took: the
 * upper bound of the bucket where that share is reached (its lower bound
 * for the last bucket), or 0 for an empty histogram. */
uint64_t hc_latency_quantile(const uint64_t hist[HC_LATENCY_BUCKETS], double q);

/* Static facts about a segment. */
typedef struct hc_info {
	uint64_t size;          /* segment bytes */
	uint64_t layout;        /* layout word of the segment */
	uint64_t created_ns;    /* CLOCK_REALTIME at creation */
	uint32_t version_major, version_minor;
	uint32_t max_key, max_value, max_procs;
	uint32_t block_size, blocks;
	uint32_t index_buckets, index_slots;
	uint32_t mode;
	uint32_t ttl_jitter_pct;
	uint32_t item_overhead; /* header bytes per untagged item, slot included */
	uint64_t item_memory;   /* bytes of item memory */
	uint64_t index_memory;  /* bytes of the hash table */
	char delimiter;
	char name[256];
	uint32_t stale_grace_ms;      /* the creation options, as in effect */
	uint32_t clean_watermark_pct;
	uint32_t latency_every;       /* 0: none timed */
	uint32_t journal_entries;     /* 0: no journal */
	uint32_t writeback_bytes;     /* write-behind ring; 0: none */
	uint32_t writeback_max_record; /* largest record it takes (bytes) */
} hc_info;

int hc_info_get(hc_cache *c, hc_info *out);

/* One live item, as hc_walk() reports it.  KEY and VALUE point into a
 * private buffer valid only during the callback. */
typedef struct hc_item_view {
	const void *key;
	uint32_t klen;
	uint32_t vlen;
	const void *value;     /* NULL unless values were asked for */
	uint64_t cas;
	uint64_t ttl_ms;       /* left; 0 = no expiry */
	uint64_t stamp_us;     /* when it was written, us since the segment's epoch */
	unsigned flags;        /* HC_ITEM_* */
	unsigned ntags;
	uint32_t tags[4];      /* tag hashes */
	uint32_t client_flags; /* as set (hc_set_options.client_flags) */
} hc_item_view;

/* Return non-zero from the callback to stop the walk. */
typedef int (*hc_walk_fn)(void *arg, const hc_item_view *item);

#define HC_WALK_VALUES 1u  /* copy values too (for dumps) */

/* Item flags (hc_item_view.flags). */
#define HC_ITEM_NEGATIVE 1u /* a cached "known absent" (hc_set_ex) */

/* Visit every live (unexpired) item whose key starts with PREFIX (PLEN 0:
 * every item), bucket by bucket, while other processes keep working.  Each
 * item is copied out and validated, so it is whole; an item written or
 * removed during the walk may or may not be seen.  Returns the number of
 * items visited, or an error. */
long hc_walk(hc_cache *c, const void *prefix, size_t plen, unsigned flags,
             hc_walk_fn fn, void *arg);

/* One process slot, as hc_procs() reports it. */
typedef struct hc_proc_info {
	uint32_t slot;
	uint32_t pid;
	char comm[17];
	int attached;          /* the slot reads attached */
	int alive;             /* and its holder is alive (else: awaiting reap) */
	uint64_t attached_ns;  /* CLOCK_REALTIME of the attach */
	uint64_t attaches;     /* how often the slot was attached */
	hc_stats own;          /* counters since this attachment (counters only) */
} hc_proc_info;

/* Fill OUT (room for CAP) with the slots that were ever attached; *N gets
 * how many there are (may exceed CAP). */
int hc_procs(hc_cache *c, hc_proc_info *out, unsigned cap, unsigned *n);

/* What hc_check() found. */
typedef struct hc_check_result {
	uint64_t problems;     /* findings reported */
	uint64_t repaired;     /* things repair settled */
	uint64_t items;        /* well-formed index entries */
	uint64_t bytes_live;   /* their bytes, recomputed from the index */
	uint64_t bytes_dead;   /* committed bytes the index no longer locates */
	uint64_t stale_slots;  /* entries naming a reused block (harmless) */
	uint64_t dead_procs;   /* attached slots whose process is gone */
	uint64_t dead_blocks;  /* open/evicting blocks of such slots */
	uint64_t blocks[4];    /* by state: HC_CHECK_BLOCK_* */
} hc_check_result;

enum {
	HC_CHECK_BLOCK_FREE = 0,
	HC_CHECK_BLOCK_OPEN = 1,
	HC_CHECK_BLOCK_SEALED = 2,
	HC_CHECK_BLOCK_EVICTING = 3
};

typedef void (*hc_check_fn)(void *arg, const char *problem);

/* Walk the whole segment while other processes keep working: every block,
 * every index entry, every process slot (see check.c for the list).  Each
 * finding is passed to REPORT (if not NULL) as one line.  With REPAIR, dead
 * processes are reaped first, blocks owned by nobody are settled, and what
 * damaged bytes make untrustworthy is dropped or set right (check.c); no
 * well-formed live item is ever dropped, and a second call without REPAIR
 * finds nothing unless a live process holds a damaged open block.  Returns
 * the number of problems found (0 = clean) or an error. */
int hc_check(hc_cache *c, int repair, hc_check_fn report, void *arg,
             hc_check_result *out);

/* One-line message for an HC_E* code (or for a -errno value). */
const char *hc_strerror(int err);

/* A more specific message about the last failure of this thread, when the
 * library had one (for example what configuration would fit); otherwise the
 * same text as hc_strerror() of the last error.  Never NULL. */
const char *hc_last_error(void);

const char *hc_version(void);

/* The layout word this library writes and accepts. */
uint64_t hc_layout_word(void);

#ifdef __cplusplus
}
#endif
#endif /* HOSTCACHE_H */
