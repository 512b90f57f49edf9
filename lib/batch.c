/*
 * batch.c - calls over arrays of keys, and the cache-aside helper.
 *
 * hc_get_many() hashes every key first and prefetches their buckets, so
 * that the cache misses of a batch overlap instead of queueing one behind
 * the other; then it gets them one by one.  hc_get_or_load() is the
 * read-through pattern on top of leases (lease.c): one process per missing
 * key calls the loader, the others wait for its value.
 */
#include <string.h>
#include <time.h>

#include "internal.h"

#define PREFETCH_AHEAD 8

HC_API int hc_get_many(hc_cache *c, size_t n, const void *const *keys,
                       const size_t *klens, void *const *bufs,
                       const size_t *caps, size_t *vlens, int *results)
{
	size_t hits = 0;

	if (c == NULL || (n > 0 && (keys == NULL || klens == NULL ||
	                            bufs == NULL || caps == NULL ||
	                            vlens == NULL || results == NULL)))
		return hc_ret(hc_fail(HC_EINVAL, "hc_get_many: NULL argument"));
	for (size_t i = 0; i < n; i++) {
		/* Bring the bucket of a key a few places ahead into cache. */
		size_t j = i + PREFETCH_AHEAD < n ? i + PREFETCH_AHEAD : n;

		for (size_t p = i == 0 ? 0 : j - 1; p < j; p++) {
			if (klens[p] == 0 || klens[p] > c->max_key)
				continue;
			struct key k;

			key_prepare(c, &k, keys[p], klens[p]);
			__builtin_prefetch(&c->index[k.bucket]);
		}
		results[i] = hc_get(c, keys[i], klens[i], bufs[i], caps[i], &vlens[i]);
		hits += results[i] == 0;
	}
	return (int)(hits > 0x7fffffff ? 0x7fffffff : hits);
}

HC_API int hc_set_many(hc_cache *c, size_t n, const void *const *keys,
                       const size_t *klens, const void *const *vals,
                       const size_t *vlens, uint64_t ttl_ms, int *results)
{
	int failed = 0;

	if (c == NULL || (n > 0 && (keys == NULL || klens == NULL ||
	                            vals == NULL || vlens == NULL || results == NULL)))
		return hc_ret(hc_fail(HC_EINVAL, "hc_set_many: NULL argument"));
	for (size_t i = 0; i < n; i++) {
		results[i] = hc_set(c, keys[i], klens[i], vals[i], vlens[i], ttl_ms);
		failed += results[i] != 0;
	}
	return failed;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

HC_API int hc_get_or_load(hc_cache *c, const void *key, size_t klen, void *buf,
                          size_t cap, size_t *vlen, const hc_load_options *o,
                          hc_loader_fn load, void *arg)
{
	hc_item_info info;
	hc_lease lease;
	uint64_t ttl = 0;
	size_t len = 0;

	if (o == NULL || load == NULL || vlen == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "hc_get_or_load: NULL argument"));
	int rc = hc_get_or_lease(c, key, klen, buf, cap, &info, o->lease_ms,
	                         o->wait_ms, &lease);

	if (rc == 0 || rc == HC_EBUFSIZE || rc == HC_ENEGATIVE) {
		*vlen = info.vlen;
		if (!lease.held)
			return rc;
		/* Stale, and ours to refresh: serve it after refreshing. */
	} else if (rc != HC_ENOTFOUND && rc != HC_ETIMEDOUT) {
		return rc;
	}
	uint64_t t0 = mono_ms();
	int lrc = load(arg, key, klen, buf, cap, &len, &ttl);

	if (lrc != 0) {
		if (lease.held)
			hc_lease_abandon(c, &lease);
		return lrc;
	}
	*vlen = len;
	if (len > cap) {
		if (lease.held)
			hc_lease_abandon(c, &lease);
		return hc_ret(HC_EBUFSIZE);
	}
	hc_set_options so;

	memset(&so, 0, sizeof so);
	so.ttl_ms = ttl ? ttl : o->ttl_ms;
	so.tags = o->tags;
	so.ntags = o->ntags;
	so.compute_ms = (uint32_t)(mono_ms() - t0);
	if (so.compute_ms == 0)
		so.compute_ms = 1;
	if (lease.held)
		hc_lease_fill(c, &lease, key, klen, buf, len, &so);
	else
		hc_set_ex(c, key, klen, buf, len, &so);
	return 0;
}
