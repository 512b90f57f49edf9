/*
 * selfcheck.h - self-verifying values for the concurrency tests.
 *
 * A value carries the hash of the key it was written under, its writer,
 * a sequence number, its own length and a checksum of everything before the
 * checksum.  A reader that gets a torn, mixed or wrong-key value cannot miss
 * it: sv_verify() says what is wrong.
 */
#ifndef HC_SELFCHECK_H
#define HC_SELFCHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#define SV_MAGIC 0x31564348u /* "HCV1" */
#define SV_HEAD 32u
#define SV_MIN (SV_HEAD + 8u)

struct sv_head {
	uint32_t magic;
	uint32_t len;
	uint64_t keyhash;
	uint32_t writer;
	uint32_t pad;
	uint64_t seq;
};

/* Build a value of LEN bytes (>= SV_MIN) into BUF. */
static inline void sv_make(unsigned char *buf, size_t len, const void *key,
                           size_t klen, uint32_t writer, uint64_t seq)
{
	struct sv_head h = { SV_MAGIC, (uint32_t)len, XXH64(key, klen, 0),
	                     writer, 0, seq };

	memcpy(buf, &h, sizeof h);
	for (size_t i = SV_HEAD; i < len - 8; i++)
		buf[i] = (unsigned char)(seq + i * 31 + writer);
	uint64_t sum = XXH64(buf, len - 8, 7);

	memcpy(buf + len - 8, &sum, 8);
}

/* 0 if BUF (LEN bytes) is a whole value written under KEY; otherwise a
 * description of what is wrong goes to WHY. */
static inline int sv_verify(const unsigned char *buf, size_t len,
                            const void *key, size_t klen, struct sv_head *out,
                            char *why, size_t cap)
{
	struct sv_head h;
	uint64_t sum;

	if (len < SV_MIN) {
		snprintf(why, cap, "value of %zu bytes is too short", len);
		return -1;
	}
	memcpy(&h, buf, sizeof h);
	memcpy(&sum, buf + len - 8, 8);
	if (h.magic != SV_MAGIC || h.len != len) {
		snprintf(why, cap, "bad magic %08x or length %u (got %zu bytes)",
		         h.magic, h.len, len);
		return -1;
	}
	if (sum != XXH64(buf, len - 8, 7)) {
		snprintf(why, cap, "checksum mismatch (torn or mixed value), "
		         "writer %u seq %llu", h.writer, (unsigned long long)h.seq);
		return -1;
	}
	if (h.keyhash != XXH64(key, klen, 0)) {
		snprintf(why, cap, "value belongs to another key (writer %u seq %llu)",
		         h.writer, (unsigned long long)h.seq);
		return -1;
	}
	if (out != NULL)
		*out = h;
	return 0;
}

/* xorshift64*: a small deterministic generator for workers. */
static inline uint64_t sv_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif
