/*
 * layout.h - the shared structures of a segment, byte for byte.
 *
 * A segment is, in order (every region page-aligned):
 *
 *   header       one page: magic, layout word, configuration, region offsets,
 *                and a few global words each on its own cache line
 *   proc table   max_procs slots of 512 bytes (struct hc_proc)
 *   block words  one 64-bit state word per block, then the free map (a
 *                bit per block, set while it may be FREE) and the live
 *                bytes of each window of HC_WINDOW_BLOCKS blocks (block.c,
 *                evict.c): what claims and victim choices read instead
 *                of the whole table
 *   block meta   32 bytes per block (struct hc_block_meta)
 *   index        nbuckets buckets of 8 one-word slots (64 bytes each)
 *   inval table  ninval invalidated_at words (inval.c)
 *   lease table  nleases entries of 64 bytes (lease.c)
 *   journal      njournal entries of 320 bytes (journal.c), when asked for
 *   write-behind writeback_bytes of records (writeback.c), when asked for
 *   items        nblocks blocks of block_size bytes
 *
 * No pointer is ever stored in the segment: every reference is an offset
 * or an index, and every one read back is bounds-checked before use.
 * The layout word (segment.c) is a hash of the sizes and offsets below, so
 * a library with a different layout refuses the segment.
 */
#ifndef HC_LAYOUT_H
#define HC_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "atomic.h"

#define HC_CACHELINE 64
#define HC_PAGE 4096
#define HC_MAGIC_WORD 0x31304745534348ULL /* "HCSEG01\0" little-endian */

/* Limits of the encodings below. */
#define HC_MAX_PROCS 4096u           /* owner field of a block word */
#define HC_MIN_BLOCK 4096u
#define HC_MAX_BLOCK (16u << 20)     /* 24-bit value length, 28-bit dead bytes */
#define HC_MAX_BLOCKS 65536u         /* keeps the block-table scans short */
#define HC_TARGET_BLOCKS 8192u        /* creation makes blocks larger rather
                                         than more than this: a reaper scans
                                         the block table */
#define HC_WINDOW_BLOCKS 64u         /* blocks a victim choice looks at, per
                                         window; one live-bytes word each */
#define HC_MAX_ITEM_MEMORY (1ULL << 39) /* 36-bit slot location in 8-byte units */
#define HC_RESERVE_BLOCKS 4u         /* free blocks kept for evictors */
#define HC_LAT_BUCKETS 80u           /* latency histogram (latency.c) */
#ifndef HC_MAX_TAGS
#define HC_MAX_TAGS 4u
#endif

/*
 * The header.  Everything before `magic` is published by the release store
 * of `magic` in hc_create(); openers acquire-load `magic` before trusting the
 * rest.  The configuration fields never change after creation.
 */
struct hc_header {
	hc_word magic;          /* HC_MAGIC_WORD, stored last (release) */
	uint64_t layout;        /* hc_layout_word() of the creator */
	uint64_t size;          /* total bytes of the segment */
	uint32_t version_major;
	uint32_t version_minor;
	uint32_t max_key;
	uint32_t max_value;
	uint32_t max_procs;
	uint32_t block_size;
	uint32_t nblocks;
	uint32_t nbuckets;
	uint32_t reserve_blocks;
	uint32_t mode;
	uint32_t delimiter;
	uint32_t ttl_jitter_pct; /* 0..50, applied to every TTL set */
	uint64_t created_ns;    /* CLOCK_REALTIME at creation, for display */
	uint64_t epoch_ns;      /* CLOCK_MONOTONIC at creation: time zero */
	int64_t timens_offset;  /* creator's monotonic time-namespace offset */
	uint64_t off_procs;
	uint64_t off_block_words;
	uint64_t off_block_meta;
	uint64_t off_index;
	uint64_t off_items;
	uint64_t item_memory;
	uint64_t off_inval;
	uint64_t off_leases;
	uint32_t ninval;
	uint32_t nleases;
	uint32_t stale_grace_ms; /* expired items stay usable as stale this long */
	uint32_t clean_watermark_pct; /* evict only with live data above this
	                                 share of item memory; else clean */
	uint32_t latency_every; /* time one get and one set in this many
	                           (latency.c); 0: none */
	uint32_t njournal;      /* journal entries (journal.c); 0: none */
	uint64_t off_journal;
	uint32_t writeback_bytes; /* write-behind ring (writeback.c); 0: none */
	uint32_t pad1a;
	uint64_t off_writeback;
	hc_word index_moves;    /* entries moved between buckets (index.c) */
	uint64_t pad1b[5];
	/* Global words, each alone on its line: they are written rarely (once
	 * per block seal, per invalidation), read often. */
	hc_word seal_seq;       /* next seal sequence number (fetch-add) */
	uint64_t pad2[7];
	hc_word alloc_hint;     /* where block claims start scanning */
	hc_word window_next;    /* the next window a victim choice refreshes */
	uint64_t pad3[6];
	hc_word flush_at;       /* stamp of the last flush (inval.c) */
	hc_word inval_latest;   /* stamp of the latest invalidation of any kind */
	uint64_t pad4[6];
	hc_word journal_head;   /* the next journal sequence number (fetch-add) */
	uint64_t pad5[7];
	/* The write-behind queue (writeback.c): producers CAS the head; the
	 * one consumer alone writes the next line, so neither side's writes
	 * take the other's line away on every record. */
	hc_word wb_head;        /* byte position where the next record goes */
	uint64_t pad6[7];
	hc_word wb_tail;        /* byte position of the oldest record */
	hc_word wb_freeing;     /* end of a pop in progress (> wb_tail) */
	hc_word wb_consumer;    /* claim: attaches << 12 | slot, + 1; 0: none */
	uint64_t pad7[5];
};
_Static_assert(sizeof(struct hc_header) == 640, "header size");

/* The header's words up to here are written once, at creation, and never
 * again: the geometry every attach verifies. */
#define HC_GEOMETRY_BYTES offsetof(struct hc_header, index_moves)

/*
 * A copy of the geometry, in the page after the header's (a damage of
 * the header's page leaves it): written at creation after the header is
 * published, checked by its sum.  An attach that finds the header damaged
 * and the copy intact says so, and with HC_OPEN_REPAIR restores the
 * header from it (segment.c); check compares both with what the handle
 * verified at attach and repair rewrites either.
 */
struct hc_header_backup {
	hc_word sum;            /* header_sum() of geom, 0 while unwritten */
	unsigned char geom[HC_GEOMETRY_BYTES];
};
#define HC_BACKUP_OFF HC_PAGE
_Static_assert(offsetof(struct hc_header, layout) == 8,
               "the layout word sits right after the magic");
_Static_assert(offsetof(struct hc_header, seal_seq) % HC_CACHELINE == 0,
               "seal_seq on its own line");
_Static_assert(offsetof(struct hc_header, alloc_hint) % HC_CACHELINE == 0,
               "alloc_hint on its own line");
_Static_assert(offsetof(struct hc_header, flush_at) % HC_CACHELINE == 0,
               "flush_at on its own line");
_Static_assert(offsetof(struct hc_header, journal_head) % HC_CACHELINE == 0,
               "journal_head on its own line");
_Static_assert(offsetof(struct hc_header, wb_head) % HC_CACHELINE == 0 &&
               offsetof(struct hc_header, wb_tail) % HC_CACHELINE == 0,
               "write-behind head and tail on lines of their own");

/* Per-process counters, cumulative over the life of the segment. */
enum hc_counter {
	HC_CTR_HITS,
	HC_CTR_MISSES,
	HC_CTR_SETS,
	HC_CTR_DELETES,
	HC_CTR_EVICTIONS,
	HC_CTR_SECOND_CHANCES,
	HC_CTR_EXPIRATIONS,
	HC_CTR_BLOCKS_EVICTED,
	HC_CTR_BUCKET_EVICTIONS,
	HC_CTR_INVAL_TAG,
	HC_CTR_INVAL_PREFIX,
	HC_CTR_INVAL_SCANNED,
	HC_CTR_FLUSHES,
	HC_CTR_INVAL_RECLAIMED,
	HC_CTR_STALE_HITS,
	HC_CTR_LEASE_GRANTS,
	HC_CTR_LEASE_WAITS,
	HC_CTR_LEASE_TIMEOUTS,
	HC_CTR_LEASE_TAKEOVERS,
	HC_CTR_EARLY_REFRESH,
	HC_CTR_NEGATIVE_HITS,
	HC_CTR_BLOCKS_CLEANED,  /* blocks freed by moving their live items */
	HC_CTR_BYTES_CLEANED,   /* bytes those moves wrote */
	HC_CTR_BYTES_SET,       /* item bytes appended by writes (sets, incr...) */
	HC_CTR_WB_ENQUEUED,     /* write-behind records accepted (writeback.c) */
	HC_CTR_WB_DRAINED,      /* popped by a consumer after sending them */
	HC_CTR_WB_REFUSED_FULL, /* refused: the queue had no room */
	HC_CTR_WB_SKIPPED_DEAD, /* left half written by a dead producer */
	HC_NCOUNTERS_USED,
	HC_NCOUNTERS = 32       /* room for later counters, same layout */
};
_Static_assert(HC_NCOUNTERS_USED <= HC_NCOUNTERS, "counter room");

enum hc_proc_state { HC_PROC_FREE = 0, HC_PROC_ATTACHED = 1 };

/*
 * A process slot: one per attachment, 2 KiB (counters of neighbours on
 * other lines).  Slot i is held by whoever holds the open-file-description
 * lock on byte i of the segment file; only the holder writes the slot,
 * except `counters`, `latency` and `cas_seq`, which the threads of the
 * holding process update with atomic adds.  Others read everything relaxed, for display and
 * for summing statistics.
 */
struct hc_proc {
	hc_word state;          /* hc_proc_state; release on attach/detach */
	hc_word pid;            /* of the attaching process, for display */
	hc_word attached_ns;    /* CLOCK_REALTIME at attach */
	hc_word attaches;       /* how many times this slot was attached */
	hc_word comm[2];        /* command name, 16 bytes, NUL-padded */
	hc_word cas_seq;        /* CAS ids issued by this slot, never reset */
	hc_word wb_inflight;    /* write-behind: position + 1 of the record
	                           this slot is reserving or writing, stored
	                           before its reservation (writeback.c) */
	hc_word counters[HC_NCOUNTERS]; /* never zeroed: totals never go back */
	hc_word base[HC_NCOUNTERS];     /* counters when the holder attached */
	/* The entry this slot is moving between buckets (index.c), for
	 * the reaper: from bucket << 4 | slot | MOVE_LOGGED, to bucket << 4
	 * | slot, and the slot word moved. */
	hc_word move[3];
	hc_word pad1[5];
	/* Timed operations by latency bucket (latency.c), get then set:
	 * like the counters, never zeroed. */
	hc_word latency[2][HC_LAT_BUCKETS];
	hc_word pad2[16];
};
_Static_assert(sizeof(struct hc_proc) == 2048, "proc slot size");
#define MOVE_LOGGED 8u /* in move[0]: a move is in flight */

/*
 * The block word: state in bits 0-1, owner slot in bits 2-17 (OPEN,
 * EVICTING), generation in bits 18-63.  The generation changes only on
 * EVICTING -> FREE, by CAS; that CAS is the barrier every reader's
 * validation pairs with.
 */
enum hc_block_state {
	HC_BLOCK_FREE = 0,
	HC_BLOCK_OPEN = 1,
	HC_BLOCK_SEALED = 2,
	HC_BLOCK_EVICTING = 3
};

#define HC_BW_OWNER_SHIFT 2
#define HC_BW_OWNER_MASK 0xffffULL
#define HC_BW_GEN_SHIFT 18

static inline unsigned bw_state(uint64_t w)
{
	return (unsigned)(w & 3);
}

static inline unsigned bw_owner(uint64_t w)
{
	return (unsigned)((w >> HC_BW_OWNER_SHIFT) & HC_BW_OWNER_MASK);
}

static inline uint64_t bw_gen(uint64_t w)
{
	return w >> HC_BW_GEN_SHIFT;
}

static inline uint64_t bw_make(unsigned state, unsigned owner, uint64_t gen)
{
	return (gen << HC_BW_GEN_SHIFT) |
	       ((uint64_t)(owner & HC_BW_OWNER_MASK) << HC_BW_OWNER_SHIFT) |
	       state;
}

/*
 * Per-block accounting, beside (not in) the dense word array.
 *  committed  items << 32 | bytes: how far walkers may read.  Only the
 *             owner of an OPEN block stores it, with release, after the
 *             bytes it covers; walkers load it with acquire.
 *  dead       gen16 << 48 | items << 28 | bytes: what has been unlinked.
 *             Anyone who unlinks an item adds to it by CAS, only while the
 *             low 16 bits of the generation still match, so a late add never
 *             lands on the block's next life.
 *  seal_seq   the FIFO position, stored before the SEALED state (release
 *             by the state CAS).
 */
struct hc_block_meta {
	hc_word committed;
	hc_word dead;
	hc_word seal_seq;
	hc_word pad;
};
_Static_assert(sizeof(struct hc_block_meta) == 32, "block meta size");

#define HC_DEAD_BYTES_MASK ((1ULL << 28) - 1)
#define HC_DEAD_ITEMS_SHIFT 28
#define HC_DEAD_ITEMS_MASK ((1ULL << 20) - 1)
#define HC_DEAD_GEN_SHIFT 48

/*
 * A lease (lease.c): one per key being recomputed, a cache line each.
 *  key       the key's 64-bit hash | 1; 0 = free.  Claimed by CAS from 0.
 *  owner     (attach count << 16) | (slot + 1) of the holder; 0 = none yet
 *  deadline  ms since the epoch when the lease may be taken over
 *  stamp     us stamp taken at grant: the fill carries it (inval.c)
 *  futex     low 32 bits: sequence (bits 0-30) | waiters (bit 31)
 */
struct hc_lease_entry {
	hc_word key;
	hc_word owner;
	hc_word deadline;
	hc_word stamp;
	hc_word futex;
	hc_word deleted;  /* the stamp of the latest hc_delete() of the key
	                     while the entry held it (lease.c, invariant 4) */
	hc_word pad[2];
};
_Static_assert(sizeof(struct hc_lease_entry) == HC_CACHELINE, "lease entry");

#define HC_NINVAL 4096u

/*
 * A journal entry (journal.c), 320 bytes.
 *  mark     seq << 13 | writer slot << 1 | done: a writer takes the entry
 *           by CAS (only from a done entry of an older sequence, or one a
 *           dead slot left half written), writes the rest, then stores
 *           done with release; readers check it before and after copying
 *  what     kind | origin << 8 | len << 40 (len of data, 0..256) | whole
 *           (bit 63: data is the whole key, prefix or tag; else its first
 *           256 bytes)
 *  stamp    the invalidation's stamp (us since the segment's epoch)
 *  data     the key, prefix or tag
 */
#define HC_JOURNAL_DATA 256u
#define HC_JOURNAL_SEQ_SHIFT 13
#define HC_JOURNAL_MAX (1u << 20)

struct hc_journal_slot {
	hc_word mark;
	hc_word what;
	hc_word stamp;
	hc_word pad[5];
	hc_word data[HC_JOURNAL_DATA / 8];
};
_Static_assert(sizeof(struct hc_journal_slot) == 320, "journal entry");

/*
 * The write-behind ring (writeback.c): writeback_bytes bytes of variable
 * records, 8-aligned, each opening with a mark word:
 *
 *   bits 0-1   state: 0 free, 1 reserved, 2 done, 3 cancelled
 *   bit  2     wrap: a pad up to the ring's end, the record at its start
 *   bits 3-14  the producer's process slot
 *   bits 15-40 the record's length in 8-byte units, pad included
 *   bits 41-63 lap tag: (position / writeback_bytes) mod 2^23
 *
 * A free word holds HC_WB_FREE(lap) of the lap it will next be used in.
 * After the mark: lengths (klen << 32 | vlen), ttl_ms, client_flags << 32
 * | item flags, the set's CAS id, the stamp (us), then key and value.
 */
#define HC_WB_MIN_BYTES (64u << 10)
#define HC_WB_MAX_BYTES (256u << 20)
#define HC_WB_HEADER 48u
#define HC_WB_LEN_SHIFT 15
#define HC_WB_LEN_MASK ((1ULL << 26) - 1)
#define HC_WB_TAG_SHIFT 41
#define HC_WB_TAG_MASK ((1ULL << 23) - 1)
#define HC_WB_FREE_MAGIC 0x00000168c3a5e47cULL /* bits 0-1 zero */

/* One index bucket: a cache line of slot words. */
#define HC_BUCKET_SLOTS 8
struct hc_bucket {
	hc_word slot[HC_BUCKET_SLOTS];
};
_Static_assert(sizeof(struct hc_bucket) == HC_CACHELINE, "bucket is a line");

#endif /* HC_LAYOUT_H */
