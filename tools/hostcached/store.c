/*
 * store.c - memcached's item semantics over the hostcache library.
 *
 * The protocol layer speaks memcached (exptime in seconds or as a unix
 * time, 32-bit client flags, append and prepend); the library speaks TTLs
 * in milliseconds, CAS ids and immutable items.  This file is the whole
 * translation, so that another protocol (meta commands) reuses it.
 *
 * Every write is one hc_set_ex() call, whose options carry the client
 * flags and the condition (add, replace, cas).  append and prepend are
 * read-modify-write: read the value with its CAS id, TTL and flags, build
 * the new value, store it on condition that the CAS id is unchanged, and
 * retry a bounded number of times if somebody wrote the key in between.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hostcached.h"

/* memcached: a larger exptime is an absolute unix time. */
#define REALTIME_MAXDELTA (60 * 60 * 24 * 30)

/* Read-modify-write attempts before reporting contention. */
#define CAS_RETRIES 64

bool exptime_to_ttl_ms(int64_t exptime, uint64_t *ttl_ms)
{
	int64_t left;

	if (exptime == 0) {
		*ttl_ms = 0;
		return true;
	}
	if (exptime < 0)
		return false;
	left = exptime <= REALTIME_MAXDELTA ? exptime
	                                    : exptime - (int64_t)time(NULL);
	if (left <= 0)
		return false;
	*ttl_ms = (uint64_t)left * 1000 > HC_TTL_MAX ? HC_TTL_MAX
	                                             : (uint64_t)left * 1000;
	return true;
}

static enum store_result store_error(int rc)
{
	switch (rc) {
	case 0:
		return STORE_STORED;
	case HC_ENOTFOUND:
		return STORE_NOT_FOUND;
	case HC_EEXISTS:
		return STORE_NOT_STORED;
	case HC_ECASMISMATCH:
		return STORE_EXISTS;
	case HC_EVALUE:
		return STORE_TOO_LARGE;
	case HC_EKEYLEN:
		return STORE_BAD_KEY;
	case HC_ENOTNUM:
		return STORE_NOT_NUMBER;
	case HC_ENOMEM:
		return STORE_NO_MEMORY;
	case HC_EBUSY:
		return STORE_BUSY;
	default:
		log_msg(LOG_WARN, "store: %s", hc_last_error());
		return STORE_ERROR;
	}
}

int store_get(struct store *s, const void *key, size_t klen, void *buf,
              size_t cap, struct store_item *it)
{
	hc_item_info info;
	int rc = hc_get_ex(s->cache, key, klen, buf, cap, &info);

	if (rc == HC_ENEGATIVE)
		return HC_ENOTFOUND;
	if (rc == 0)
		store_item_from(it, &info);
	return rc;
}

void store_item_from(struct store_item *it, const hc_item_info *info)
{
	it->cas = info->cas;
	it->ttl_ms = info->ttl_ms;
	it->vlen = info->vlen;
	it->flags = info->client_flags;
}

static bool key_present(struct store *s, const void *key, size_t klen)
{
	size_t vlen;
	int rc = hc_get(s->cache, key, klen, NULL, 0, &vlen);

	return rc == 0 || rc == HC_EBUFSIZE;
}

/* A write with an exptime already past: memcached stores an item that no
 * read will find, so the key reads absent afterwards. */
static enum store_result store_expired(struct store *s, enum store_mode mode,
                                       const void *key, size_t klen,
                                       const void *val, size_t vlen,
                                       uint64_t cas)
{
	int rc;

	switch (mode) {
	case MODE_SET:
		hc_delete(s->cache, key, klen);
		return STORE_STORED;
	case MODE_ADD:
		return key_present(s, key, klen) ? STORE_NOT_STORED
		                                 : STORE_STORED;
	case MODE_REPLACE:
		return hc_delete(s->cache, key, klen) == 0 ? STORE_STORED
		                                           : STORE_NOT_STORED;
	case MODE_CAS:
		/* The condition still decides the reply; the item, stored
		 * with the shortest TTL, is removed at once. */
		rc = hc_cas(s->cache, key, klen, val, vlen, 1, cas, NULL);
		if (rc == 0)
			hc_delete(s->cache, key, klen);
		return store_error(rc);
	default:
		return STORE_ERROR;
	}
}

/* append (AT_END) or prepend VAL to KEY's value, keeping its TTL and
 * client flags, as memcached does. */
static enum store_result store_concat(struct store *s, bool at_end,
                                      const void *key, size_t klen,
                                      const void *val, size_t vlen,
                                      uint64_t cas, uint64_t *cas_out)
{
	for (int attempt = 0; attempt < CAS_RETRIES; attempt++) {
		hc_item_info info;
		int rc = hc_get_ex(s->cache, key, klen, s->scratch,
		                   s->value_cap, &info);

		if (rc == HC_ENOTFOUND || rc == HC_ENEGATIVE)
			return STORE_NOT_STORED;
		if (rc == HC_EBUFSIZE)
			return STORE_TOO_LARGE;
		if (rc != 0)
			return store_error(rc);
		/* The binary protocol's append may name the CAS id it read. */
		if (cas != 0 && info.cas != cas)
			return STORE_EXISTS;
		if (info.vlen + vlen > s->value_cap)
			return STORE_TOO_LARGE;
		if (at_end) {
			memcpy(s->scratch + info.vlen, val, vlen);
		} else {
			memmove(s->scratch + vlen, s->scratch, info.vlen);
			memcpy(s->scratch, val, vlen);
		}
		hc_set_options o = {
			.ttl_ms = info.ttl_ms,
			.client_flags = info.client_flags,
			.mode = HC_STORE_CAS,
			.cas = info.cas,
			.cas_out = cas_out,
		};

		rc = hc_set_ex(s->cache, key, klen, s->scratch,
		               info.vlen + vlen, &o);
		if (rc == HC_ENOTFOUND)
			return STORE_NOT_STORED;
		if (rc != HC_ECASMISMATCH)
			return store_error(rc);
	}
	return STORE_BUSY;
}

enum store_result store_write(struct store *s, const struct store_req *req,
                              const void *key, size_t klen, const void *val,
                              size_t vlen)
{
	static const unsigned store_modes[] = {
		[MODE_SET] = HC_STORE_SET,
		[MODE_ADD] = HC_STORE_ADD,
		[MODE_REPLACE] = HC_STORE_REPLACE,
		[MODE_CAS] = HC_STORE_CAS,
	};
	hc_set_options o = { 0 };
	uint64_t ttl_ms;
	int rc;

	if (klen == 0 || klen > s->key_max)
		return STORE_BAD_KEY;
	if (vlen > s->value_cap)
		return STORE_TOO_LARGE;
	if (req->mode == MODE_APPEND || req->mode == MODE_PREPEND)
		return store_concat(s, req->mode == MODE_APPEND, key, klen, val,
		                    vlen, req->cas, req->cas_out);
	if (!exptime_to_ttl_ms(req->exptime, &ttl_ms))
		return store_expired(s, req->mode, key, klen, val, vlen, req->cas);
	o.ttl_ms = ttl_ms;
	o.client_flags = req->flags;
	o.mode = store_modes[req->mode];
	o.cas = req->cas;
	o.cas_out = req->cas_out;
	rc = hc_set_ex(s->cache, key, klen, val, vlen, &o);
	/* replace of an absent key is NOT_STORED, cas's is NOT_FOUND. */
	if (rc == HC_ENOTFOUND && req->mode == MODE_REPLACE)
		return STORE_NOT_STORED;
	return store_error(rc);
}

enum store_result store_delete(struct store *s, const void *key, size_t klen)
{
	if (klen == 0 || klen > s->key_max)
		return STORE_BAD_KEY;
	return store_error(hc_delete(s->cache, key, klen));
}

enum store_result store_delete_if(struct store *s, const void *key,
                                  size_t klen, uint64_t cas)
{
	struct store_item it;
	int rc;

	if (cas == 0)
		return store_delete(s, key, klen);
	if (klen == 0 || klen > s->key_max)
		return STORE_BAD_KEY;
	rc = store_get(s, key, klen, s->scratch, s->value_cap, &it);
	if (rc != 0)
		return store_error(rc);
	if (it.cas != cas)
		return STORE_EXISTS;
	return store_error(hc_delete(s->cache, key, klen));
}

enum store_result store_fill(struct store *s, hc_lease *lease,
                             const struct store_req *req, const void *key,
                             size_t klen, const void *val, size_t vlen)
{
	hc_set_options o = { 0 };
	uint64_t ttl_ms;
	int rc;

	if (klen == 0 || klen > s->key_max || vlen > s->value_cap) {
		hc_lease_abandon(s->cache, lease);
		return klen == 0 || klen > s->key_max ? STORE_BAD_KEY
		                                      : STORE_TOO_LARGE;
	}
	if (!exptime_to_ttl_ms(req->exptime, &ttl_ms)) {
		/* Nothing to fill with: the next client to miss computes. */
		hc_lease_abandon(s->cache, lease);
		return store_expired(s, MODE_SET, key, klen, val, vlen, 0);
	}
	o.ttl_ms = ttl_ms;
	o.client_flags = req->flags;
	o.cas_out = req->cas_out;
	rc = hc_lease_fill(s->cache, lease, key, klen, val, vlen, &o);
	/* Taken over meanwhile (the lease time ran out): the value is
	 * stored all the same unless a newer one is there, as a set. */
	return store_error(rc == HC_ENOLEASE ? 0 : rc);
}

enum store_result store_touch(struct store *s, const void *key, size_t klen,
                              int64_t exptime)
{
	uint64_t ttl_ms;

	if (klen == 0 || klen > s->key_max)
		return STORE_BAD_KEY;
	if (!exptime_to_ttl_ms(exptime, &ttl_ms))
		return store_error(hc_delete(s->cache, key, klen));
	return store_error(hc_touch(s->cache, key, klen, ttl_ms));
}

enum store_result store_arith(struct store *s, bool incr, const void *key,
                              size_t klen, uint64_t delta, uint64_t *result)
{
	int rc;

	if (klen == 0 || klen > s->key_max)
		return STORE_BAD_KEY;
	rc = incr ? hc_incr(s->cache, key, klen, delta, result)
	          : hc_decr(s->cache, key, klen, delta, result);
	return store_error(rc);
}

/* Counter attempts before reporting contention: an absent key is
 * created, unless another client creates it first, and then it counts. */
#define COUNTER_RETRIES 8

enum store_result store_counter(struct store *s, const struct counter_req *req,
                                const void *key, size_t klen,
                                uint64_t *result, uint64_t *cas_out)
{
	struct store_item it;
	enum store_result r;

	for (int attempt = 0; attempt < COUNTER_RETRIES; attempt++) {
		struct store_req add = {
			.mode = MODE_ADD, .exptime = req->exptime, .cas_out = cas_out,
		};
		char number[24];
		int len;

		r = store_arith(s, req->incr, key, klen, req->delta, result);
		if (r == STORE_STORED) {
			/* The library's incr does not say the new CAS id. */
			if (store_get(s, key, klen, s->scratch, s->value_cap,
			              &it) == 0)
				*cas_out = it.cas;
			return r;
		}
		if (r != STORE_NOT_FOUND || !req->create)
			return r;
		len = snprintf(number, sizeof number, "%" PRIu64, req->initial);
		r = store_write(s, &add, key, klen, number, (size_t)len);
		if (r == STORE_STORED)
			*result = req->initial;
		if (r != STORE_NOT_STORED)
			return r;
	}
	return STORE_BUSY;
}
