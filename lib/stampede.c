/*
 * stampede.c - stampede protection on the read path: hc_get_or_lease lets
 * one process recompute a missing key while the others wait for it (or are
 * served the stale value, stale-while-revalidate); hc_lease_fill stores
 * what it computed under the grant's stamp, hc_lease_abandon gives the
 * lease up.  The lease table itself, its claims, takeovers and futex
 * sleeps, is lease.c; the reads and writes are ops.c's.
 */
#include <string.h>

#include "internal.h"

/* Waiters look at the holder at least this often (lease.c, invariant 3). */
#define HC_LEASE_POLL_MS 20

/* A hit on F, whose copy returned RC: a negative entry reads as
 * HC_ENEGATIVE, as it does for hc_get(). */
static int hit_result(hc_cache *c, const struct found *f, int rc)
{
	if (item_flags(&f->hdr) & HC_IFLAG_NEGATIVE) {
		counter_add(c, HC_CTR_NEGATIVE_HITS, 1);
		return HC_ENEGATIVE;
	}
	counter_add(c, HC_CTR_HITS, 1);
	return rc;
}

HC_API int hc_get_or_lease(hc_cache *c, const void *key, size_t klen,
                           void *buf, size_t cap, hc_item_info *info,
                           uint64_t lease_ms, uint64_t wait_ms, hc_lease *lease)
{
	hc_item_info local;
	struct found f;
	struct key k;
	int rc;

	if (lease == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "lease is NULL"));
	memset(lease, 0, sizeof *lease);
	if ((rc = get_args(c, key, klen, buf, cap)) < 0)
		return hc_ret(rc);
	if (info == NULL)
		info = &local;
	key_prepare(c, &k, key, klen);
	lease->key_hash = lease_hash(&k);
	uint64_t wait_end = now_ms(c) + wait_ms;
	bool waited = false, saw_unowned = false;

	for (int tries = 0; tries < 1 << 20; tries++) {
		uint64_t now_msec = 0;
		bool stale = false;

		if (find_entry(c, &k, &f, &now_msec, &stale) == 0) {
			rc = copy_value(c, &f, buf, cap, now_msec, info);
			if (rc == HC_EBUSY)
				continue;
			return hc_ret(hit_result(c, &f, rc));
		}
		struct hc_lease_entry *held = NULL;
		enum claim cl = lease_claim(c, lease->key_hash, lease_ms, lease, &held,
		                            &saw_unowned);

		if (stale && cl != CLAIM_FULL) {
			/* Stale-while-revalidate: whoever refreshes, everyone
			 * is served the stale value meanwhile. */
			rc = copy_value(c, &f, buf, cap, now_msec, info);
			if (rc == HC_EBUSY) {
				if (lease->held)
					hc_lease_abandon(c, lease);
				continue;
			}
			info->stale = 1;
			counter_add(c, HC_CTR_STALE_HITS, 1);
			return hc_ret(item_flags(&f.hdr) & HC_IFLAG_NEGATIVE
			              ? HC_ENEGATIVE : rc);
		}
		if (cl != CLAIM_HELD) {
			/* Granted: the caller computes.  Full table: no lease
			 * to be had, the caller computes all the same. */
			counter_add(c, HC_CTR_MISSES, 1);
			return hc_ret(HC_ENOTFOUND);
		}
		uint64_t now = now_ms(c);

		if (now >= wait_end) {
			if (waited)
				counter_add(c, HC_CTR_LEASE_TIMEOUTS, 1);
			counter_add(c, HC_CTR_MISSES, 1);
			return hc_ret(HC_ETIMEDOUT);
		}
		if (!waited)
			counter_add(c, HC_CTR_LEASE_WAITS, 1);
		waited = true;
		uint64_t slice = wait_end - now;

		lease_sleep(held, lease->key_hash,
		            slice < HC_LEASE_POLL_MS ? slice : HC_LEASE_POLL_MS);
	}
	return hc_ret(HC_EBUSY);
}

/* Unlink KEY's entry if it is still the item with CAS id CAS. */
static void withdraw(hc_cache *c, const void *key, size_t klen, uint64_t cas)
{
	struct found f;
	struct key k;

	key_prepare(c, &k, key, klen);
	for (int tries = 0; tries < HC_RETRY_MAX; tries++) {
		if (index_find(c, &k, &f) != 0 || item_cas(&f.hdr) != cas)
			return;
		if (index_unlink(c, f.bucket, f.slot, f.word)) {
			block_mark_dead_sized(c, f.word, item_size(&f.hdr));
			return;
		}
	}
}

HC_API int hc_lease_fill(hc_cache *c, hc_lease *lease, const void *key,
                         size_t klen, const void *val, size_t vlen,
                         const hc_set_options *opt)
{
	struct store_req r;
	int rc;

	if (c == NULL || lease == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "NULL argument"));
	if (!lease->held)
		return hc_ret(hc_fail(HC_ENOLEASE, "this lease is not held"));
	memset(&r, 0, sizeof r);
	if (opt != NULL && (rc = set_options_apply(opt, &r)) < 0)
		return hc_ret(rc);
	if (r.mode != MODE_SET)
		return hc_ret(hc_fail(HC_EINVAL, "a lease fill takes no store "
		                      "mode: leave hc_set_options.mode 0"));
	if (r.writeback)
		return hc_ret(hc_fail(HC_EINVAL, "a lease fill stores what was "
		                      "loaded from upstream: it is not written "
		                      "behind (leave hc_set_options.writeback 0)"));
	/* The grant's stamp: an invalidation since the grant wins, and a
	 * newer value set meanwhile is kept (MODE_FILL). */
	r.mode = MODE_FILL;
	r.stamp = lease->stamp;
	uint64_t mine = 0, *user_cas = r.cas_out;

	r.cas_out = &mine;
	struct hc_lease_entry *e = lease_entry(c, lease);

	rc = store_item(c, key, klen, val, vlen, &r);
	if (rc == 0 && mine != 0 &&
	    (scanned_since(c, key, (uint32_t)klen, lease->stamp) ||
	     lease_deleted_since(c, lease))) {
		/* A scanning invalidation (inval.c, invariant 4) or a delete
		 * (lease.c, invariant 4) since the grant: take our value
		 * back out. */
		withdraw(c, key, klen, mine);
		mine = 0;
	}
	if (user_cas != NULL)
		*user_cas = mine;
	if (e != NULL)
		lease_release(e, lease->key_hash, lease->owner);
	lease->held = 0;
	if (rc < 0)
		return hc_ret(rc);
	return e != NULL ? 0 : hc_ret(hc_fail(HC_ENOLEASE, "the lease was taken "
	                                      "over before the fill; the value was "
	                                      "stored unless a newer one was there"));
}

HC_API int hc_lease_abandon(hc_cache *c, hc_lease *lease)
{
	if (c == NULL || lease == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "NULL argument"));
	struct hc_lease_entry *e = lease_entry(c, lease);

	lease->held = 0;
	if (e == NULL)
		return hc_ret(HC_ENOLEASE);
	lease_release(e, lease->key_hash, lease->owner);
	return 0;
}

