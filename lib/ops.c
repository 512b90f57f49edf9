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
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"


#define DECIMAL_MAX 20 /* digits of 2^64 - 1 */


/* Why key_check() refused KEY. */
int key_check_fail(const hc_cache *c, const void *key, size_t klen)
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

/* Is the entry F found for K usable as a value at NOW_MSEC: not expired
 * and not invalidated? */
static bool entry_live(hc_cache *c, const struct key *k, const struct found *f,
                       uint64_t now_msec)
{
	return !item_expired_at(&f->hdr, now_msec) &&
	       !item_invalidated(c, &f->hdr, f->at, k->ptr, k->len);
}

/* Publish WORD for K according to R's mode.  0; INDEX_LOST, an add that
 * lost to a racing writer who also accounted its item dead; or the reason
 * it was not published (the caller then accounts the item dead). */
static int store_publish(hc_cache *c, const struct key *k, uint64_t word,
                         const struct hc_item *hdr, const struct store_req *r,
                         uint64_t now_msec)
{
	struct found f;
	enum store_mode mode = r->mode;

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		if (index_find(c, k, &f) == 0) {
			bool live = entry_live(c, k, &f, now_msec);

			if (mode == MODE_ADD && live)
				return HC_EEXISTS;
			if ((mode == MODE_REPLACE || mode == MODE_CAS) && !live)
				return HC_ENOTFOUND;
			if (mode == MODE_CAS && item_cas(&f.hdr) != r->expect)
				return HC_ECASMISMATCH;
			/* A fill replaces only what was written before its
			 * lease was granted; a write in the same microsecond
			 * may have come after, so it is kept too. */
			if (mode == MODE_FILL && live &&
			    item_stamp(&f.hdr) >= item_stamp(hdr))
				return HC_EEXISTS;
			if (index_swap(c, f.bucket, f.slot, f.word, word)) {
				block_mark_dead_sized(c, f.word, item_size(&f.hdr));
				return 0;
			}
			continue; /* the entry changed under us: decide again */
		}
		if (mode == MODE_REPLACE || mode == MODE_CAS)
			return HC_ENOTFOUND;
		int rc = index_publish_new(c, k, word, mode == MODE_ADD);

		if (rc == 0 || rc == INDEX_LOST)
			return rc;
		if (rc == HC_EEXISTS)
			sched_yield(); /* a racing add: let it settle, look again */
	}
	return HC_EBUSY;
}

static int store_untimed(hc_cache *c, const void *key, size_t klen,
                         const void *val, size_t vlen,
                         const struct store_req *r)
{
	struct hc_item hdr;
	struct key k;
	uint64_t word;
	uint32_t extra[HC_MAX_EXTRA / 4];
	unsigned nextra = r->ntags, flags = r->flags;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0 ||
	    (rc = value_check(c, val, vlen, r->ttl_ms)) < 0)
		return rc;
	if (r->ntags > HC_MAX_TAGS)
		return hc_fail(HC_EINVAL, "at most %u tags per item", HC_MAX_TAGS);
	memcpy(extra, r->tags, 4u * r->ntags);
	if (r->delta_ms != 0) {
		flags |= HC_IFLAG_DELTA;
		extra[nextra++] = r->delta_ms;
	}
	if (r->client_flags != 0) { /* item_extra()'s order: after the delta */
		flags |= HC_IFLAG_CLIENT;
		extra[nextra++] = r->client_flags;
	}
	key_prepare(c, &k, key, klen);
	uint64_t now_msec = now_ms(c);
	uint64_t stamp = r->stamp ? r->stamp : stamp_now(c);

	item_encode(&hdr, next_cas(c), flags, r->ntags, stamp, k.len,
	            expiry_of(now_msec, ttl_jittered(c, r->ttl_ms)), (uint32_t)vlen);
	if ((rc = item_write(c, &k, &hdr, extra, val, (uint32_t)vlen, &word)) < 0)
		return rc;
	rc = store_publish(c, &k, word, &hdr, r, now_msec);
	if (rc == INDEX_LOST)
		return HC_EEXISTS;
	if (rc < 0) {
		block_mark_dead(c, word);
		/* A fill that found a newer value did its job. */
		return r->mode == MODE_FILL && rc == HC_EEXISTS ? 0 : rc;
	}
	counter_add(c, HC_CTR_SETS, 1);
	journal_append(c, HC_JOURNAL_KEY, key, klen, r->stamp ? 0 : stamp);
	if (r->cas_out != NULL)
		*r->cas_out = item_cas(&hdr);
	return 0;
}

/* Every write of a new value; one in latency_every timed. */
int store_item(hc_cache *c, const void *key, size_t klen, const void *val,
               size_t vlen, const struct store_req *r)
{
	uint64_t t0 = latency_due(c, LATENCY_SET) ? latency_arm(c, LATENCY_SET) : 0;
	int rc = store_untimed(c, key, klen, val, vlen, r);

	if (unlikely(t0 != 0))
		latency_record(c, LATENCY_SET, t0, rc);
	return rc;
}

static int store(hc_cache *c, const void *key, size_t klen, const void *val,
                 size_t vlen, uint64_t ttl_ms, enum store_mode mode,
                 uint64_t expect, uint64_t *new_cas)
{
	struct store_req r;

	memset(&r, 0, sizeof r);
	r.mode = mode;
	r.ttl_ms = ttl_ms;
	r.expect = expect;
	r.cas_out = new_cas;
	return hc_ret(store_item(c, key, klen, val, vlen, &r));
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

/* Fill R's tag hashes from OPT's tag strings and hashes. */
int set_options_apply(const hc_set_options *opt, struct store_req *r)
{
	if (opt->ntags + opt->nhashes > HC_MAX_TAGS ||
	    (opt->ntags > 0 && opt->tags == NULL) ||
	    (opt->nhashes > 0 && opt->tag_hashes == NULL))
		return hc_fail(HC_EINVAL, "at most %u tags per item", HC_MAX_TAGS);
	if (opt->flags & ~HC_IFLAG_NEGATIVE)
		return hc_fail(HC_EINVAL, "unknown item flags %#x", opt->flags);
	if (opt->mode > HC_STORE_CAS)
		return hc_fail(HC_EINVAL, "unknown store mode %u (HC_STORE_SET, "
		               "_ADD, _REPLACE or _CAS)", opt->mode);
	for (unsigned i = 0; i < opt->ntags; i++) {
		size_t len;
		int rc = tag_check(opt->tags[i], &len);

		if (rc < 0)
			return rc;
		r->tags[r->ntags++] = tag_hash(opt->tags[i], len);
	}
	for (unsigned i = 0; i < opt->nhashes; i++)
		r->tags[r->ntags++] = opt->tag_hashes[i];
	r->ttl_ms = opt->ttl_ms;
	r->flags = opt->flags;
	r->delta_ms = opt->compute_ms;
	r->client_flags = opt->client_flags;
	r->mode = (enum store_mode)opt->mode;
	r->expect = opt->cas;
	r->cas_out = opt->cas_out;
	r->writeback = opt->writeback != 0;
	return 0;
}

/*
 * A store written behind (writeback.c): the record is reserved and
 * written first, then the item stored, then the record marked done with
 * the item's CAS id, or cancelled when the store failed.  So success
 * means both, and a failure neither: a full queue stores nothing.
 */
static int store_written_behind(hc_cache *c, const void *key, size_t klen,
                                const void *val, size_t vlen,
                                struct store_req *r)
{
	struct wb_record rec = {
		.key = key, .val = val, .klen = (uint32_t)klen,
		.vlen = (uint32_t)vlen, .ttl_ms = r->ttl_ms,
		.client_flags = r->client_flags, .flags = r->flags,
	};
	struct wb_reservation res;
	uint64_t cas = 0, *caller_cas = r->cas_out;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0 ||
	    (rc = value_check(c, val, vlen, r->ttl_ms)) < 0)
		return rc;
	pthread_mutex_lock(&c->wb_lock);
	if ((rc = do_writeback_reserve(c, &rec, &res)) == 0) {
		r->cas_out = &cas;
		rc = store_item(c, key, klen, val, vlen, r);
		do_writeback_finish(c, &res, cas, rc == 0);
	}
	pthread_mutex_unlock(&c->wb_lock);
	if (rc == 0 && caller_cas != NULL)
		*caller_cas = cas;
	return rc;
}

HC_API int hc_set_ex(hc_cache *c, const void *key, size_t klen, const void *val,
                     size_t vlen, const hc_set_options *opt)
{
	struct store_req r;
	int rc;

	memset(&r, 0, sizeof r);
	r.mode = MODE_SET;
	if (opt != NULL && (rc = set_options_apply(opt, &r)) < 0)
		return hc_ret(rc);
	if (unlikely(r.writeback))
		return hc_ret(store_written_behind(c, key, klen, val, vlen, &r));
	return hc_ret(store_item(c, key, klen, val, vlen, &r));
}

/* Unlink F's entry, found dead by a reader, counting it under CTR. */
static void reclaim(hc_cache *c, const struct found *f, enum hc_counter ctr)
{
	if (index_unlink(c, f->bucket, f->slot, f->word)) {
		block_mark_dead_sized(c, f->word, item_size(&f->hdr));
		counter_add(c, ctr, 1);
	}
}

/* Find K's entry.  0: live.  HC_ENOTFOUND: none, or invalidated, or
 * expired (then *STALE says whether it is still within the segment's stale
 * grace period, and only past it is the entry unlinked).  PASSES: skip
 * index_find()'s first look, the caller having just made it (get_hit()).
 * Inlined into the get; find_entry() for the others. */
HC_HOT int entry_find(hc_cache *c, const struct key *k, struct found *f,
                      uint64_t *now_msec, bool *stale, bool passes)
{
	*stale = false;
	if ((passes ? index_find_passes(c, k, f) : index_find(c, k, f)) != 0)
		return HC_ENOTFOUND;
	if (item_invalidated(c, &f->hdr, f->at, k->ptr, k->len)) {
		reclaim(c, f, HC_CTR_INVAL_RECLAIMED);
		return HC_ENOTFOUND;
	}
	uint64_t exp = item_expire(&f->hdr);

	if (likely(exp == 0))
		return 0;
	*now_msec = now_ms(c);
	if (exp > *now_msec)
		return 0;
	if (exp + c->stale_grace_ms > *now_msec)
		*stale = true;
	else
		reclaim(c, f, HC_CTR_EXPIRATIONS);
	return HC_ENOTFOUND;
}

int find_entry(hc_cache *c, const struct key *k, struct found *f,
               uint64_t *now_msec, bool *stale)
{
	return entry_find(c, k, f, now_msec, stale, false);
}

static int find_live(hc_cache *c, const struct key *k, struct found *f,
                     uint64_t *now_msec)
{
	bool stale;

	return find_entry(c, k, f, now_msec, &stale);
}

/* Raise the slot's CLOCK counter, unless it is at its maximum: hot keys
 * stop writing their slot after a few reads (index.c, invariant 4). */
HC_HOT void slot_touch(hc_word *slot, uint64_t word)
{
	unsigned clock = sw_clock(word);

	if (clock < SW_CLOCK_MAX)
		cas_full(slot, word, sw_with_clock(word, clock + 1));
}

static void clock_touch(hc_cache *c, const struct found *f)
{
	slot_touch(slot_at(c, f->bucket, f->slot), f->word);
}

static const unsigned char *item_value(const struct found *f)
{
	return f->key_at + item_klen(&f->hdr);
}

/* XFetch (Vattani et al.): refresh early with a probability that grows as
 * expiry nears, scaled by how long the value took to compute, so that one
 * reader refreshes before the crowd misses. */
static int should_refresh(const struct found *f, uint64_t now_msec)
{
	static __thread uint64_t rng;
	uint64_t exp = item_expire(&f->hdr);
	uint32_t delta;

	if (!(item_flags(&f->hdr) & HC_IFLAG_DELTA) || exp == 0)
		return 0;
	shm_copy_out(&delta, f->at + item_delta_off(&f->hdr), 4);
	if (rng == 0)
		rng = ((uint64_t)(uintptr_t)&rng * 0x9e3779b97f4a7c15ULL) | 1;
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	double u = ((double)(rng >> 11) + 1.0) / 9007199254740993.0; /* (0,1] */

	return (double)now_msec - (double)delta * log(u) >= (double)exp;
}

/* Copy F's value out (if it fits CAP) and fill INFO (if not NULL);
 * validated.  0, or HC_EBUFSIZE, or HC_EBUSY when the block moved on
 * during the copy (the caller looks again).  Inlined into the get;
 * copy_value() for the others. */
HC_HOT int value_copy(hc_cache *c, const struct found *f, void *buf,
                      size_t cap, uint64_t now_msec, hc_item_info *info)
{
	uint32_t vlen = item_vlen(&f->hdr), client_flags = 0;
	int refresh = 0;

	if (likely(vlen <= cap))
		shm_copy_out(buf, item_value(f), vlen);
	if (info != NULL && item_expire(&f->hdr) != 0) {
		if (now_msec == 0)
			now_msec = now_ms(c);
		refresh = should_refresh(f, now_msec);
	}
	if (info != NULL && (item_flags(&f->hdr) & HC_IFLAG_CLIENT))
		shm_copy_out(&client_flags, f->at + item_client_off(&f->hdr), 4);
	if (unlikely(!item_validate(c, f->word, f->block_word)))
		return HC_EBUSY;
	if (info != NULL) {
		uint64_t exp = item_expire(&f->hdr);

		info->cas = item_cas(&f->hdr);
		info->vlen = vlen;
		info->ttl_ms = exp == 0 ? 0 : exp > now_msec ? exp - now_msec : 0;
		info->flags = item_flags(&f->hdr) & HC_IFLAG_NEGATIVE;
		info->client_flags = client_flags;
		info->refresh = refresh;
		info->stale = 0;
		if (refresh)
			counter_add(c, HC_CTR_EARLY_REFRESH, 1);
	}
	/* A probe with too small a buffer still asked for the key: it counts
	 * as an access for CLOCK, not as a hit. */
	clock_touch(c, f);
	return vlen > cap ? HC_EBUFSIZE : 0;
}

int copy_value(hc_cache *c, const struct found *f, void *buf, size_t cap,
               uint64_t now_msec, hc_item_info *info)
{
	return value_copy(c, f, buf, cap, now_msec, info);
}

/* Any get of prepared key K, INFO NULL or not: both buckets, with retries,
 * reclaiming what it finds dead.  INFO may be NULL, and then only the
 * length goes to *VLEN (if not NULL).  LOOKED: get_hit() has just looked
 * in the first bucket. */
HC_HOT int get_found(hc_cache *c, const struct key *k, void *buf,
                     size_t cap, hc_item_info *info, size_t *vlen,
                     bool looked)
{
	struct found f;
	int rc;

	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		uint64_t now_msec = 0;
		bool stale;

		if (entry_find(c, k, &f, &now_msec, &stale,
		               looked && tries == 0) != 0)
			break;
		rc = value_copy(c, &f, buf, cap, now_msec, info);
		if (unlikely(rc == HC_EBUSY))
			continue; /* the block moved on while we copied */
		if (unlikely(item_flags(&f.hdr) & HC_IFLAG_NEGATIVE)) {
			counter_add(c, HC_CTR_NEGATIVE_HITS, 1);
			return hc_ret(HC_ENEGATIVE);
		}
		if (vlen != NULL)
			*vlen = item_vlen(&f.hdr);
		if (likely(rc == 0))
			counter_add(c, HC_CTR_HITS, 1);
		return hc_ret(rc);
	}
	counter_add(c, HC_CTR_MISSES, 1);
	return hc_ret(HC_ENOTFOUND);
}

/* get_found() for a key of hash HASH, out of line: hc_get()'s way when
 * get_hit() declines. */
static __attribute__((noinline)) int
get_general(hc_cache *c, const void *key, size_t klen, uint64_t hash,
            void *buf, size_t cap, size_t *vlen)
{
	struct key k;

	key_prepare_hashed(c, &k, key, klen, hash);
	return get_found(c, &k, buf, cap, NULL, vlen, true);
}

/* get_hit(): not a hit it can serve; nothing was changed. */
#define GET_DECLINED 1

/*
 * The common hit of hc_get(): K's entry in its first bucket, live, not
 * negative, not invalidated, not expired, its value fitting CAP.  One
 * bucket line and the item's lines, the same reads and checks as
 * get_found() (item_locate(), the key compared, the value copied, then
 * item_validate() with the same block word), with no structure whose
 * address a call could keep, so that the compiler keeps the state in
 * registers.
 * Anything else (a miss in the first bucket, an item that moved, a
 * negative entry, a buffer too small, a TTL reached, a stamp at or below
 * the latest invalidation) returns GET_DECLINED having written nothing
 * shared, and the caller asks get_general(), which decides.
 */
HC_HOT int get_hit(hc_cache *c, const struct key *k, void *buf, size_t cap,
                   size_t *vlen)
{
	hc_word *slots = c->index[k->bucket].slot;

	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		/* Acquire: pairs with the publishing CAS (index_find()). */
		uint64_t w = load_acquire(&slots[i]), bw;
		const unsigned char *at;
		struct hc_item hdr;

		if (sw_fp(w) != k->fp)
			continue;
		if (item_locate(c, w, &bw, &at, &hdr) != 0)
			return GET_DECLINED;
		const unsigned char *key_at = item_key_at(at, &hdr);

		if (!key_is(&hdr, key_at, k)) {
			/* Another key's item, unless these bytes were being
			 * reused (slot_holds()). */
			if (!item_validate(c, w, bw))
				return GET_DECLINED;
			continue;
		}
		uint32_t n = item_vlen(&hdr);
		uint64_t exp = item_expire(&hdr);

		if ((item_flags(&hdr) & HC_IFLAG_NEGATIVE) || n > cap ||
		    !item_after_invalidations(c, &hdr) ||
		    (exp != 0 && exp <= now_ms(c)))
			return GET_DECLINED;
		/* Before the copy, which may store anywhere in the
		 * compiler's eyes. */
		const hc_word *bwp = block_word_of(c, w);
		hc_word *hits = &c->self->counters[HC_CTR_HITS];

		shm_copy_out_hot(buf, key_at + k->len, n);
		if (!block_word_still(bwp, bw))
			return GET_DECLINED;
		slot_touch(&slots[i], w);
		if (vlen != NULL)
			*vlen = n;
		fetch_add_relaxed(hits, 1);
		return 0;
	}
	return GET_DECLINED;
}

/* The get, untimed: hc_get() (INFO NULL) tries get_hit() first. */
HC_HOT int get_untimed(hc_cache *c, const void *key, size_t klen, void *buf,
                       size_t cap, hc_item_info *info, size_t *vlen)
{
	struct key k;
	int rc;

	if ((rc = get_args(c, key, klen, buf, cap)) < 0)
		return hc_ret(rc);
	key_prepare(c, &k, key, klen);
	if (info != NULL)
		return get_found(c, &k, buf, cap, info, vlen, false);
	if (likely((rc = get_hit(c, &k, buf, cap, vlen)) != GET_DECLINED))
		return rc;
	return get_general(c, key, klen, k.hash, buf, cap, vlen);
}

static __attribute__((noinline)) int
get_timed(hc_cache *c, const void *key, size_t klen, void *buf, size_t cap,
          hc_item_info *info, size_t *vlen)
{
	uint64_t t0 = latency_arm(c, LATENCY_GET);
	int rc = get_untimed(c, key, klen, buf, cap, info, vlen);

	if (t0 != 0)
		latency_record(c, LATENCY_GET, t0, rc);
	return rc;
}

/* The same, one in latency_every timed (latency.c). */
HC_HOT int get(hc_cache *c, const void *key, size_t klen, void *buf,
               size_t cap, hc_item_info *info, size_t *vlen)
{
	if (unlikely(latency_due(c, LATENCY_GET)))
		return get_timed(c, key, klen, buf, cap, info, vlen);
	return get_untimed(c, key, klen, buf, cap, info, vlen);
}

HC_API int hc_get_ex(hc_cache *c, const void *key, size_t klen, void *buf,
                     size_t cap, hc_item_info *info)
{
	return get(c, key, klen, buf, cap, info, NULL);
}

HC_API int hc_get(hc_cache *c, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *vlen)
{
	return get(c, key, klen, buf, cap, NULL, vlen);
}

HC_API int hc_delete(hc_cache *c, const void *key, size_t klen)
{
	struct key k;
	int rc;

	if ((rc = handle_ready(c)) < 0 || (rc = key_check(c, key, klen)) < 0)
		return hc_ret(rc);
	key_prepare(c, &k, key, klen);
	/* Journaled either way: the data changed, whether or not this host
	 * held a copy. */
	journal_append(c, HC_JOURNAL_KEY, key, klen, 0);
	/* A fill under way computed from data older than this delete must
	 * not store after it (lease.c, invariant 4). */
	lease_note_delete(c, lease_hash(&k));
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
		uint32_t extra[HC_MAX_EXTRA / 4];
		uint64_t v, word;
		struct hc_item hdr;

		if (find_live(c, &k, &f, &now_msec) != 0)
			return hc_ret(HC_ENOTFOUND);
		uint32_t vlen = item_vlen(&f.hdr);

		if (vlen <= DECIMAL_MAX)
			shm_copy_out(digits, item_value(&f), vlen);
		shm_copy_out(extra, f.at + HC_ITEM_HEADER, item_extra(&f.hdr));
		if (!item_validate(c, f.word, f.block_word))
			continue;
		if (vlen > DECIMAL_MAX || parse_decimal(digits, vlen, &v) < 0)
			return hc_ret(hc_fail(HC_ENOTNUM, "value of the key is not "
			                      "a decimal number of at most 20 digits"));
		v = incr ? v + delta : (v > delta ? v - delta : 0);
		int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);

		if ((uint32_t)len > c->max_value)
			return hc_ret(hc_fail(HC_EVALUE, "%s of the key would make "
			                      "its value %d bytes, more than the "
			                      "segment's max_value %u", incr ?
			                      "incr" : "decr", len, c->max_value));

		/* A new item: new CAS id and stamp; the old expiry, tags and
		 * flags. */
		item_encode(&hdr, next_cas(c), item_flags(&f.hdr), item_ntags(&f.hdr),
		            stamp_now(c), k.len, item_expire(&f.hdr), (uint32_t)len);
		if ((rc = item_write(c, &k, &hdr, extra, digits, (uint32_t)len,
		                     &word)) < 0)
			return hc_ret(rc);
		if (index_swap(c, f.bucket, f.slot, f.word, word)) {
			block_mark_dead_sized(c, f.word, item_size(&f.hdr));
			counter_add(c, HC_CTR_SETS, 1);
			journal_append(c, HC_JOURNAL_KEY, key, klen, 0);
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
		rc = do_space_clone(c, f.at, &hdr, item_size(&f.hdr), k.fp,
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

