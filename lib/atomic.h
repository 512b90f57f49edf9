/*
 * atomic.h - the one door to shared words.
 *
 * Every word of the segment that more than one process touches is an
 * hc_word (libatomic_ops' AO_t, 64 bits here) and is read or written only
 * through these wrappers, each naming its ordering.  Nothing in the library
 * uses `volatile` to synchronise.
 *
 * libatomic_ops maps these onto the compiler's __atomic builtins, which
 * ThreadSanitizer instruments, so TSan sees every shared access as what it
 * is.  Item bytes are copied in and out with relaxed word loads and stores
 * (shm_copy_in / shm_copy_out below) for the same reason: a reader copying
 * a block that is concurrently reused is a benign race that validation
 * (the block word re-read) resolves, and the sanitizer must not flag it.
 */
#ifndef HC_ATOMIC_H
#define HC_ATOMIC_H

#include <atomic_ops.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef AO_t hc_word;

_Static_assert(sizeof(AO_t) == 8, "hostcache needs 64-bit words");

static inline uint64_t load_relaxed(const hc_word *p)
{
	return AO_load(p);
}

static inline uint64_t load_acquire(const hc_word *p)
{
	return AO_load_acquire(p);
}

static inline void store_relaxed(hc_word *p, uint64_t v)
{
	AO_store(p, (AO_t)v);
}

static inline void store_release(hc_word *p, uint64_t v)
{
	AO_store_release(p, (AO_t)v);
}

/* Compare-and-swap with a full barrier on both sides: every publication in
 * the index and every block state change goes through this, so that the
 * ordering arguments in the files that use it need only name the CAS. */
static inline bool cas_full(hc_word *p, uint64_t expect, uint64_t desired)
{
	return AO_compare_and_swap_full(p, (AO_t)expect, (AO_t)desired) != 0;
}

/* Counter increments: atomic but unordered. */
static inline uint64_t fetch_add_relaxed(hc_word *p, uint64_t v)
{
	return AO_fetch_and_add(p, (AO_t)v);
}

static inline uint64_t fetch_add_full(hc_word *p, uint64_t v)
{
	return AO_fetch_and_add_full(p, (AO_t)v);
}

/* Bit flags of a word (block.c's free map), with a full barrier. */
static inline void or_full(hc_word *p, uint64_t bits)
{
	AO_or_full(p, (AO_t)bits);
}

static inline void and_full(hc_word *p, uint64_t bits)
{
	AO_and_full(p, (AO_t)bits);
}

static inline void fence_acquire(void)
{
	AO_nop_read();
}

static inline void fence_release(void)
{
	AO_nop_write();
}

static inline void fence_full(void)
{
	AO_nop_full();
}

/* Copy fewer than 8 bytes: a loop, not a call to the library memcpy. */
static inline void copy_small(unsigned char *d, const unsigned char *s, size_t n)
{
	while (n-- > 0)
		*d++ = *s++;
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shm_copy_out/shm_write assume a little-endian machine"
#endif

/* Store the low N (< 8) bytes of V at D, a store per set bit of N. */
static inline __attribute__((always_inline)) void
store_tail(unsigned char *d, uint64_t v, size_t n)
{
	if (n & 4) {
		uint32_t x = (uint32_t)v;

		memcpy(d, &x, 4);
		d += 4;
		v >>= 32;
	}
	if (n & 2) {
		uint16_t x = (uint16_t)v;

		memcpy(d, &x, 2);
		d += 2;
		v >>= 16;
	}
	if (n & 1)
		*d = (unsigned char)v;
}

/* shm_copy_out() from the aligned word W on: whole words (four a turn, a
 * 64-byte value in two), then the part of the last one. */
static inline __attribute__((always_inline)) void
shm_copy_words(unsigned char *d, const hc_word *w, size_t n)
{
	for (; n >= 32; n -= 32, d += 32, w += 4) {
		uint64_t v0 = load_relaxed(&w[0]), v1 = load_relaxed(&w[1]);
		uint64_t v2 = load_relaxed(&w[2]), v3 = load_relaxed(&w[3]);

		memcpy(d, &v0, 8);
		memcpy(d + 8, &v1, 8);
		memcpy(d + 16, &v2, 8);
		memcpy(d + 24, &v3, 8);
	}
	for (; n >= 8; n -= 8, d += 8) {
		uint64_t v = load_relaxed(w++);

		memcpy(d, &v, 8);
	}
	if (n > 0)
		store_tail(d, load_relaxed(w), n);
}

/*
 * Copy N bytes out of shared memory at SRC into private DST.  SRC need not
 * be aligned: the enclosing aligned words are loaded (relaxed) and the
 * wanted bytes extracted.  The caller guarantees that those aligned words
 * lie inside the mapping (items are 8-aligned and padded to 8, so the words
 * covering an item never leave its block).  The body moves whole words;
 * only the first and last word are split.
 */
static inline void shm_copy_out(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	uintptr_t s = (uintptr_t)src;
	size_t head = s & 7;
	const hc_word *w = (const hc_word *)(s - head);

	if (n == 0)
		return;
	if (head != 0) {
		size_t take = 8 - head < n ? 8 - head : n;

		store_tail(d, load_relaxed(w++) >> (8 * head), take);
		d += take;
		n -= take;
	}
	shm_copy_words(d, w, n);
}

/* shm_copy_out(), inlined where it is hot (the get's value). */
static inline __attribute__((always_inline)) void
shm_copy_out_hot(void *dst, const void *src, size_t n)
{
	if (__builtin_expect(((uintptr_t)src & 7) == 0, 1))
		shm_copy_words(dst, (const hc_word *)src, n);
	else
		shm_copy_out(dst, src, n);
}

/* shm_equal() of a SRC that is not word-aligned. */
static inline bool shm_equal_unaligned(uintptr_t s, const unsigned char *k,
                                       size_t n)
{
	unsigned char buf[64];

	while (n > 0) {
		size_t take = n < sizeof buf ? n : sizeof buf;

		shm_copy_out(buf, (const void *)s, take);
		if (memcmp(buf, k, take) != 0)
			return false;
		s += take;
		k += take;
		n -= take;
	}
	return true;
}

/* Compare N shared bytes at SRC with private KEY, as shm_copy_out reads.
 * Keys of untagged and two-tag items start word-aligned: compare a word at
 * a time there. */
static inline __attribute__((always_inline)) bool
shm_equal(const void *src, const void *key, size_t n)
{
	const unsigned char *k = key;
	uintptr_t s = (uintptr_t)src;

	if (__builtin_expect((s & 7) == 0, 1)) {
		const hc_word *w = (const hc_word *)s;

		for (; n >= 8; n -= 8, k += 8) {
			uint64_t a = load_relaxed(w++), b;

			memcpy(&b, k, 8);
			if (a != b)
				return false;
		}
		if (n == 0)
			return true;
		uint64_t a = load_relaxed(w), b = 0;

		copy_small((unsigned char *)&b, k, n);
		return (a & (~0ULL >> (64 - 8 * n))) == b;
	}
	return shm_equal_unaligned(s, k, n);
}

/*
 * A sequential writer into shared memory that this process has just claimed
 * (beyond a block's committed offset): bytes are gathered into whole words
 * and each word is stored relaxed.  Publication (the release store of
 * `committed` and the index CAS) orders them for readers.
 */
typedef struct shm_writer {
	hc_word *p;
	uint64_t acc;
	unsigned fill;
} shm_writer;

static inline void shm_writer_init(shm_writer *w, void *dst)
{
	w->p = dst;
	w->acc = 0;
	w->fill = 0;
}

static inline void shm_write(shm_writer *w, const void *src, size_t n)
{
	const unsigned char *s = src;
	unsigned shift = w->fill * 8;

	/* Whole source words: each completes the pending word and leaves its
	 * high bytes pending (little-endian: byte i is bits 8i..8i+7). */
	for (; n >= 8; n -= 8, s += 8) {
		uint64_t v;

		memcpy(&v, s, 8);
		if (shift == 0) {
			store_relaxed(w->p++, v);
		} else {
			store_relaxed(w->p++, w->acc | (v << shift));
			w->acc = v >> (64 - shift);
		}
	}
	while (n > 0) {
		size_t take = 8 - w->fill < n ? 8 - w->fill : n;

		copy_small((unsigned char *)&w->acc + w->fill, s, take);
		w->fill += (unsigned)take;
		s += take;
		n -= take;
		if (w->fill == 8) {
			store_relaxed(w->p++, w->acc);
			w->acc = 0;
			w->fill = 0;
		}
	}
}

/* Store the last partial word, zero-padded. */
static inline void shm_writer_flush(shm_writer *w)
{
	if (w->fill > 0) {
		store_relaxed(w->p++, w->acc);
		w->acc = 0;
		w->fill = 0;
	}
}

#endif /* HC_ATOMIC_H */
