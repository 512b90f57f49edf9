/*
 * ops.c - the operations: get, set, add, replace, cas, delete, incr/decr,
 * touch.
 *
 * Every write appends a new immutable item (block.c) and then swings the
 * key's slot to it with one CAS (index.c); the copy it replaced becomes dead
 * bytes, accounted to its block by whoever unlinked it.  Every read copies
 * out and validates (index.c, item_validate), retrying a bounded number of
 * times and reporting a miss after that.
 *
 * An item written but never published (a lost race, a refused add, a
 * killed writer) is dead bytes in its block, and nothing else.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum store_mode { MODE_SET, MODE_ADD, MODE_REPLACE, MODE_CAS };

#define DECIMAL_MAX 20 /* digits of 2^64 - 1 */

static int handle_ready(hc_cache *c)
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

static int key_check(const hc_cache *c, const void *key, size_t klen)
{
	if (key == NULL && klen > 0)
		return hc_fail(HC_EINVAL, "key is NULL");
	if (klen == 0)
		return hc_fail(HC_EKEYLEN, "key is empty");
	if (klen > c->max_key)
		return hc_fail(HC_EKEYLEN, "key of %zu bytes is over the segment's "
		               "limit of %u", klen, c->max_key);
	return 0;
}

static int value_check(const hc_cache *c, const void *val, size_t vlen,
                       uint64_t ttl_ms)
{
	if (val == NULL && vlen > 0)
		return hc_fail(HC_EINVAL, "value is NULL");
	if (vlen > c->max_value)
		return hc_fail(HC_EVALUE, "value of %zu bytes is over the segment's "
		               "limit of %u", vlen, c->max_value);
	if (ttl_ms > HC_TTL_MAX)
		return hc_fail(HC_ETTL, "TTL of %llu ms is over the limit of %llu ms",
		               (unsigned long long)ttl_ms,
		               (unsigned long long)HC_TTL_MAX);
	return 0;
}

/* CAS ids: the slot in the top bits, the slot's own sequence below, so
 * they are unique without a shared counter. */
static uint64_t next_cas(hc_cache *c)
{
	uint64_t seq = fetch_add_relaxed(&c->self->cas_seq, 1) + 1;

	return (((uint64_t)c->slot + 1) << 42 | (seq & ((1ULL << 42) - 1))) &
	       HC_CAS_MASK;
}

/* Shorten TTL by a random 0..pct percent (the segment's jitter), so that
 * keys set together do not all expire together.  Thread-local state: the
 * threads sharing a handle share no generator. */
static uint64_t ttl_jittered(const hc_cache *c, uint64_t ttl_ms)
{
	static __thread uint64_t rng;

	if (c->ttl_jitter_pct == 0 || ttl_ms < 2)
		return ttl_ms;
	if (rng == 0)
		rng = ((uint64_t)(uintptr_t)&rng * 0x9e3779b97f4a7c15ULL) ^
		      (uint64_t)time(NULL) ^ 1;
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	uint64_t span = ttl_ms / 100 * c->ttl_jitter_pct +
	                ttl_ms % 100 * c->ttl_jitter_pct / 100;

	return ttl_ms - rng % (span + 1);
}

static uint64_t expiry_of(uint64_t now_msec, uint64_t ttl_ms)
{
	if (ttl_ms == 0)
		return 0;
	uint64_t e = now_msec + ttl_ms;

	return e > HC_EXPIRE_MAX ? HC_EXPIRE_MAX : e;
}

static void item_header(hc_cache *c, struct hc_item *hdr, uint64_t now,
                        uint32_t klen, uint64_t expire, uint32_t vlen)
{
	item_encode(hdr, next_cas(c), 0, 0, now / 1000, klen, expire, vlen);
}

/* Publish WORD for K according to MODE.  0, or the reason it was not
 * published (the caller then accounts the item dead). */
static int store_publish(hc_cache *c, const struct key *k, uint64_t word,
                         const struct hc_item *hdr, enum store_mode mode,
                         uint64_t expect, uint64_t now_msec)
{
	struct found f;

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		if (index_find(c, k, &f) == 0) {
			bool live = !item_expired_at(&f.hdr, now_msec);

			if (mode == MODE_ADD && live)
				return HC_EEXISTS;
			if ((mode == MODE_REPLACE || mode == MODE_CAS) && !live)
				return HC_ENOTFOUND;
			if (mode == MODE_CAS && item_cas(&f.hdr) != expect)
				return HC_ECASMISMATCH;
			if (index_swap(c, f.bucket, f.slot, f.word, word)) {
				block_mark_dead_sized(c, f.word, item_size(&f.hdr));
				return 0;
			}
			continue; /* the entry changed under us: decide again */
		}
		if (mode == MODE_REPLACE || mode == MODE_CAS)
			return HC_ENOTFOUND;
		int rc = index_publish_new(c, k, word, hdr, mode == MODE_ADD);

		if (rc == 0)
			return 0;
		if (rc == HC_EEXISTS)
			sched_yield(); /* a racing add: let it settle, look again */
	}
	return HC_EBUSY;
}

static int store(hc_cache *c, const void *key, size_t klen, const void *val,
                 size_t vlen, uint64_t ttl_ms, enum store_mode mode,
                 uint64_t expect, uint64_t *new_cas)
{
	struct hc_item hdr;
	struct key k;
	uint64_t word;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0 ||
	    (rc = value_check(c, val, vlen, ttl_ms)) < 0)
		return hc_ret(rc);
	key_prepare(c, &k, key, klen);
	uint64_t now = now_ns(c);

	item_header(c, &hdr, now, k.len,
	            expiry_of(now / 1000000, ttl_jittered(c, ttl_ms)),
	            (uint32_t)vlen);
	if ((rc = item_write(c, &k, &hdr, val, (uint32_t)vlen, &word)) < 0)
		return hc_ret(rc);
	rc = store_publish(c, &k, word, &hdr, mode, expect, now / 1000000);
	if (rc < 0) {
		block_mark_dead(c, word);
		return hc_ret(rc);
	}
	counter_add(c, HC_CTR_SETS, 1);
	if (new_cas != NULL)
		*new_cas = item_cas(&hdr);
	return 0;
}

HC_API int hc_set(hc_cache *c, const void *key, size_t klen, const void *val,
                  size_t vlen, uint64_t ttl_ms)
{
	return store(c, key, klen, val, vlen, ttl_ms, MODE_SET, 0, NULL);
}

HC_API int hc_add(hc_cache *c, const void *key, size_t klen, const void *val,
                  size_t vlen, uint64_t ttl_ms)
{
	return store(c, key, klen, val, vlen, ttl_ms, MODE_ADD, 0, NULL);
}

HC_API int hc_replace(hc_cache *c, const void *key, size_t klen,
                      const void *val, size_t vlen, uint64_t ttl_ms)
{
	return store(c, key, klen, val, vlen, ttl_ms, MODE_REPLACE, 0, NULL);
}

HC_API int hc_cas(hc_cache *c, const void *key, size_t klen, const void *val,
                  size_t vlen, uint64_t ttl_ms, uint64_t cas, uint64_t *new_cas)
{
	return store(c, key, klen, val, vlen, ttl_ms, MODE_CAS, cas, new_cas);
}

/* Find K's live entry; unlink it lazily if it has expired. */
static int find_live(hc_cache *c, const struct key *k, struct found *f,
                     uint64_t *now_msec)
{
	if (index_find(c, k, f) != 0)
		return HC_ENOTFOUND;
	if (item_expire(&f->hdr) == 0)
		return 0;
	*now_msec = now_ms(c);
	if (!item_expired_at(&f->hdr, *now_msec))
		return 0;
	if (index_unlink(c, f->bucket, f->slot, f->word)) {
		block_mark_dead_sized(c, f->word, item_size(&f->hdr));
		counter_add(c, HC_CTR_EXPIRATIONS, 1);
	}
	return HC_ENOTFOUND;
}

/* Raise the slot's CLOCK counter, unless it is at its maximum: hot keys
 * stop writing their slot after a few reads (index.c, invariant 4). */
static void clock_touch(hc_cache *c, const struct found *f)
{
	unsigned clock = sw_clock(f->word);

	if (clock < SW_CLOCK_MAX)
		cas_full(slot_at(c, f->bucket, f->slot), f->word,
		         sw_with_clock(f->word, clock + 1));
}

static const unsigned char *item_value(const struct found *f)
{
	return f->at + HC_ITEM_HEADER + 4 * item_ntags(&f->hdr) +
	       item_klen(&f->hdr);
}

HC_API int hc_get_ex(hc_cache *c, const void *key, size_t klen, void *buf,
                     size_t cap, hc_item_info *info)
{
	struct found f;
	struct key k;
	uint64_t now_msec = 0;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0)
		return hc_ret(rc);
	if (buf == NULL && cap > 0)
		return hc_ret(hc_fail(HC_EINVAL, "buffer is NULL"));
	key_prepare(c, &k, key, klen);
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		if (find_live(c, &k, &f, &now_msec) != 0)
			break;
		uint32_t vlen = item_vlen(&f.hdr);

		if (vlen <= cap)
			shm_copy_out(buf, item_value(&f), vlen);
		if (!item_validate(c, f.word, f.block_word))
			continue; /* the block moved on while we copied */
		if (info != NULL) {
			uint64_t exp = item_expire(&f.hdr);

			if (exp != 0 && now_msec == 0)
				now_msec = now_ms(c);
			info->cas = item_cas(&f.hdr);
			info->vlen = vlen;
			info->ttl_ms = exp == 0 ? 0 : exp - now_msec;
		}
		/* A probe with too small a buffer still asked for the key:
		 * it counts as an access for CLOCK, not as a hit. */
		clock_touch(c, &f);
		if (vlen > cap)
			return hc_ret(HC_EBUFSIZE);
		counter_add(c, HC_CTR_HITS, 1);
		return 0;
	}
	counter_add(c, HC_CTR_MISSES, 1);
	return hc_ret(HC_ENOTFOUND);
}

HC_API int hc_get(hc_cache *c, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *vlen)
{
	hc_item_info info;
	int rc = hc_get_ex(c, key, klen, buf, cap, &info);

	if (vlen != NULL && (rc == 0 || rc == HC_EBUFSIZE))
		*vlen = info.vlen;
	return rc;
}

HC_API int hc_delete(hc_cache *c, const void *key, size_t klen)
{
	struct key k;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0)
		return hc_ret(rc);
	key_prepare(c, &k, key, klen);
	if (index_remove_key(c, &k, now_ms(c)) == 0)
		return hc_ret(HC_ENOTFOUND);
	counter_add(c, HC_CTR_DELETES, 1);
	return 0;
}

/* Parse an unsigned decimal of 1..20 digits that fits 64 bits. */
static int parse_decimal(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > DECIMAL_MAX)
		return HC_ENOTNUM;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return HC_ENOTNUM;
		uint64_t d = (uint64_t)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return HC_ENOTNUM;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int arith(hc_cache *c, const void *key, size_t klen, uint64_t delta,
                 bool incr, uint64_t *result)
{
	struct found f;
	struct key k;
	uint64_t now_msec = 0;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0)
		return hc_ret(rc);
	key_prepare(c, &k, key, klen);
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		char digits[DECIMAL_MAX + 1];
		uint64_t v, word;
		struct hc_item hdr;

		if (find_live(c, &k, &f, &now_msec) != 0)
			return hc_ret(HC_ENOTFOUND);
		uint32_t vlen = item_vlen(&f.hdr);

		if (vlen <= DECIMAL_MAX)
			shm_copy_out(digits, item_value(&f), vlen);
		if (!item_validate(c, f.word, f.block_word))
			continue;
		if (vlen > DECIMAL_MAX || parse_decimal(digits, vlen, &v) < 0)
			return hc_ret(hc_fail(HC_ENOTNUM, "value of the key is not "
			                      "a decimal number of at most 20 digits"));
		v = incr ? v + delta : (v > delta ? v - delta : 0);
		int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);

		/* A new item: new CAS id and stamp, the old expiry. */
		item_header(c, &hdr, now_ns(c), k.len, item_expire(&f.hdr),
		            (uint32_t)len);
		if ((rc = item_write(c, &k, &hdr, digits, (uint32_t)len, &word)) < 0)
			return hc_ret(rc);
		if (index_swap(c, f.bucket, f.slot, f.word, word)) {
			block_mark_dead_sized(c, f.word, item_size(&f.hdr));
			counter_add(c, HC_CTR_SETS, 1);
			if (result != NULL)
				*result = v;
			return 0;
		}
		block_mark_dead(c, word);
	}
	return hc_ret(HC_EBUSY);
}

HC_API int hc_incr(hc_cache *c, const void *key, size_t klen, uint64_t delta,
                   uint64_t *result)
{
	return arith(c, key, klen, delta, true, result);
}

HC_API int hc_decr(hc_cache *c, const void *key, size_t klen, uint64_t delta,
                   uint64_t *result)
{
	return arith(c, key, klen, delta, false, result);
}

HC_API int hc_touch(hc_cache *c, const void *key, size_t klen, uint64_t ttl_ms)
{
	struct found f;
	struct key k;
	uint64_t now_msec = 0;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0 ||
	    (rc = value_check(c, NULL, 0, ttl_ms)) < 0)
		return hc_ret(rc);
	key_prepare(c, &k, key, klen);
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		struct hc_item hdr;
		uint64_t word;

		if (find_live(c, &k, &f, &now_msec) != 0)
			return hc_ret(HC_ENOTFOUND);
		/* Same CAS id and stamp (the value did not change), new
		 * expiry. */
		hdr = f.hdr;
		hdr.expire_vlen = (expiry_of(now_ms(c), ttl_jittered(c, ttl_ms))
		                   << HC_VLEN_BITS) |
		                  item_vlen(&f.hdr);
		pthread_mutex_lock(&c->lock);
		rc = do_item_clone(c, f.at, &hdr, item_size(&f.hdr), false, k.fp,
		                   0, &word);
		pthread_mutex_unlock(&c->lock);
		if (rc < 0)
			return hc_ret(rc);
		if (item_validate(c, f.word, f.block_word) &&
		    index_swap(c, f.bucket, f.slot, f.word, word)) {
			block_mark_dead_sized(c, f.word, item_size(&f.hdr));
			return 0;
		}
		block_mark_dead(c, word);
	}
	return hc_ret(HC_EBUSY);
}

HC_API int hc_reap(hc_cache *c)
{
	int rc;

	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	return proc_reap_dead(c);
}
