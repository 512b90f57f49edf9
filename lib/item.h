/*
 * item.h - the item format and the index slot word.
 *
 * An item is written once into a block and never changed:
 *
 *   +0   cas_flags    CAS id (bits 0-55) | flags (56-60) | tag count (61-63)
 *   +8   stamp_klen   stamp in us since the epoch (bits 16-63) | key length
 *   +16  expire_vlen  expiry in ms since the epoch, 0 = none (bits 24-63)
 *                     | value length (bits 0-23)
 *   +24  tag hashes   4 bytes each
 *        compute time 4 bytes, ms, when flags has HC_IFLAG_DELTA (XFetch)
 *        client flags 4 bytes, when flags has HC_IFLAG_CLIENT (memcached's
 *                     per-item flags; absent means 0)
 *        key bytes
 *        value bytes
 *        zero padding to a multiple of 8
 *
 * 24 bytes of header; with the 8-byte index slot, 32 bytes of overhead per
 * untagged item.  Items start 8-aligned, so the words covering an item never
 * leave its block (see shm_copy_out).
 *
 * The slot word locates an item:
 *
 *   bits 62-63  CLOCK counter (0..3): readers raise it, the evictor lowers it
 *   bits 52-61  low 10 bits of the item's block generation
 *   bits 36-51  key fingerprint (16 bits of the hash, never 0)
 *   bits  0-35  item offset in item memory, in 8-byte units
 *
 * An empty slot is 0; a used one is never 0 because its fingerprint is not.
 * A word with fingerprint 0 that is not 0 is a move marker (index.c): a
 * slot held by the process in its low bits while it moves an entry from
 * one of its key's two buckets to the other.  It locates no item.
 * Every change of a slot is a CAS of the whole word, so a block reused since
 * the slot was read, or a CLOCK bump, makes the CAS fail (no ABA).
 */
#ifndef HC_ITEM_H
#define HC_ITEM_H

#include <stdbool.h>
#include <stdint.h>

#define HC_ITEM_HEADER 24u
#ifndef HC_MAX_TAGS
#define HC_MAX_TAGS 4u
#endif

struct hc_item {
	uint64_t cas_flags;
	uint64_t stamp_klen;
	uint64_t expire_vlen;
};
_Static_assert(sizeof(struct hc_item) == HC_ITEM_HEADER, "item header");

#define HC_CAS_MASK ((1ULL << 56) - 1)
#define HC_FLAGS_SHIFT 56
#define HC_NTAGS_SHIFT 61
#define HC_KLEN_MASK 0xffffULL
#define HC_VLEN_BITS 24
#define HC_VLEN_MASK ((1ULL << HC_VLEN_BITS) - 1)
#define HC_EXPIRE_MAX ((1ULL << 40) - 1)

static inline uint64_t item_cas(const struct hc_item *it)
{
	return it->cas_flags & HC_CAS_MASK;
}

static inline unsigned item_ntags(const struct hc_item *it)
{
	return (unsigned)(it->cas_flags >> HC_NTAGS_SHIFT);
}

static inline unsigned item_flags(const struct hc_item *it)
{
	return (unsigned)((it->cas_flags >> HC_FLAGS_SHIFT) & 0x1f);
}

static inline uint32_t item_klen(const struct hc_item *it)
{
	return (uint32_t)(it->stamp_klen & HC_KLEN_MASK);
}

static inline uint64_t item_stamp(const struct hc_item *it)
{
	return it->stamp_klen >> 16;
}

static inline uint32_t item_vlen(const struct hc_item *it)
{
	return (uint32_t)(it->expire_vlen & HC_VLEN_MASK);
}

static inline uint64_t item_expire(const struct hc_item *it)
{
	return it->expire_vlen >> HC_VLEN_BITS;
}

static inline void item_encode(struct hc_item *it, uint64_t cas,
                               unsigned flags, unsigned ntags, uint64_t stamp,
                               uint32_t klen, uint64_t expire, uint32_t vlen)
{
	it->cas_flags = (cas & HC_CAS_MASK) |
	                ((uint64_t)(flags & 0x1f) << HC_FLAGS_SHIFT) |
	                ((uint64_t)ntags << HC_NTAGS_SHIFT);
	it->stamp_klen = (stamp << 16) | klen;
	it->expire_vlen = (expire << HC_VLEN_BITS) | vlen;
}

/* Flags of the item header (5 bits).  HC_ITEM_NEGATIVE is public. */
#define HC_IFLAG_NEGATIVE 1u
#define HC_IFLAG_DELTA 2u
#define HC_IFLAG_CLIENT 4u
#define HC_IFLAGS_KNOWN 7u

/* Offset from the item's start of its compute time (with HC_IFLAG_DELTA). */
static inline unsigned item_delta_off(const struct hc_item *it)
{
	return HC_ITEM_HEADER + 4 * item_ntags(it);
}

/* Offset of its client flags (with HC_IFLAG_CLIENT). */
static inline unsigned item_client_off(const struct hc_item *it)
{
	return item_delta_off(it) + ((item_flags(it) & HC_IFLAG_DELTA) ? 4 : 0);
}

/* Bytes between the header and the key (tag hashes, compute time, client
 * flags) for the top byte TOP of cas_flags (flags, tag count), as a table:
 * the read path looks it up instead of working it out. */
#define ITEM_EXTRA_OF(top) \
	(4u * ((top) >> 5) + (((top) & HC_IFLAG_DELTA) ? 4u : 0u) + \
	 (((top) & HC_IFLAG_CLIENT) ? 4u : 0u))
#define ITEM_EXTRA_4(t) ITEM_EXTRA_OF(t), ITEM_EXTRA_OF((t) + 1), \
	ITEM_EXTRA_OF((t) + 2), ITEM_EXTRA_OF((t) + 3)
#define ITEM_EXTRA_16(t) ITEM_EXTRA_4(t), ITEM_EXTRA_4((t) + 4), \
	ITEM_EXTRA_4((t) + 8), ITEM_EXTRA_4((t) + 12)
#define ITEM_EXTRA_64(t) ITEM_EXTRA_16(t), ITEM_EXTRA_16((t) + 16), \
	ITEM_EXTRA_16((t) + 32), ITEM_EXTRA_16((t) + 48)

static const unsigned char item_extra_of[256] = {
	ITEM_EXTRA_64(0), ITEM_EXTRA_64(64), ITEM_EXTRA_64(128),
	ITEM_EXTRA_64(192),
};

static inline unsigned item_extra(const struct hc_item *it)
{
	return item_extra_of[it->cas_flags >> HC_FLAGS_SHIFT];
}

static inline uint64_t align8(uint64_t n)
{
	return (n + 7) & ~7ULL;
}

/* Bytes an item occupies in its block, padding included, given the bytes
 * of tags, compute time and client flags between header and key. */
static inline uint64_t item_total(unsigned extra, uint64_t klen, uint64_t vlen)
{
	return align8(HC_ITEM_HEADER + (uint64_t)extra + klen + vlen);
}

/* The most that can stand between header and key. */
#define HC_MAX_EXTRA (4u * HC_MAX_TAGS + 8u)

static inline uint64_t item_size(const struct hc_item *it)
{
	return item_total(item_extra(it), item_klen(it), item_vlen(it));
}

static inline const unsigned char *item_key_at(const unsigned char *at,
                                               const struct hc_item *it)
{
	return at + HC_ITEM_HEADER + item_extra(it);
}

/* The slot word. */
#define SW_LOC_BITS 36
#define SW_LOC_MASK ((1ULL << SW_LOC_BITS) - 1)
#define SW_FP_SHIFT 36
#define SW_FP_MASK 0xffffULL
#define SW_GEN_SHIFT 52
#define SW_GEN_MASK 0x3ffULL
#define SW_CLOCK_SHIFT 62
#define SW_CLOCK_MAX 3u

static inline uint64_t sw_loc(uint64_t w)      /* byte offset in item memory */
{
	return (w & SW_LOC_MASK) << 3;
}

static inline unsigned sw_fp(uint64_t w)
{
	return (unsigned)((w >> SW_FP_SHIFT) & SW_FP_MASK);
}

static inline unsigned sw_gen(uint64_t w)
{
	return (unsigned)((w >> SW_GEN_SHIFT) & SW_GEN_MASK);
}

static inline unsigned sw_clock(uint64_t w)
{
	return (unsigned)(w >> SW_CLOCK_SHIFT);
}

static inline uint64_t sw_with_clock(uint64_t w, unsigned clock)
{
	return (w & ~(3ULL << SW_CLOCK_SHIFT)) | ((uint64_t)clock << SW_CLOCK_SHIFT);
}

static inline uint64_t sw_make(unsigned clock, uint64_t gen, unsigned fp,
                               uint64_t loc)
{
	return ((uint64_t)clock << SW_CLOCK_SHIFT) |
	       ((gen & SW_GEN_MASK) << SW_GEN_SHIFT) |
	       ((uint64_t)(fp & SW_FP_MASK) << SW_FP_SHIFT) |
	       ((loc >> 3) & SW_LOC_MASK);
}

/* Move markers (index.c): RES holds the destination slot, TOMB stands
 * where the entry was while it is in flight.  The owner's process slot is
 * in the low bits; the CLOCK bits are set so a marker is never the coldest
 * entry of a bucket. */
#define SW_MARK_RES 1u
#define SW_MARK_TOMB 2u

static inline uint64_t sw_marker(unsigned kind, unsigned slot)
{
	return (3ULL << SW_CLOCK_SHIFT) | ((uint64_t)kind << 16) | slot;
}

static inline bool sw_is_marker(uint64_t w)
{
	return w != 0 && sw_fp(w) == 0;
}

static inline unsigned sw_marker_owner(uint64_t w)
{
	return (unsigned)(w & 0xffffu);
}

/* The fingerprint of a hash: 16 bits the bucket index does not use. */
static inline unsigned hash_fp(uint64_t h)
{
	unsigned fp = (unsigned)(h >> 48);

	return fp ? fp : 1;
}

/* The order of writes, on which every process agrees: the later stamp
 * wins, and CAS ids break ties (they grow within a process slot, and a
 * reinserted or touched copy keeps its original's). */
static inline bool item_newer(const struct hc_item *a, const struct hc_item *b)
{
	if (item_stamp(a) != item_stamp(b))
		return item_stamp(a) > item_stamp(b);
	return item_cas(a) > item_cas(b);
}

#endif /* HC_ITEM_H */
