/*
 * walk.c - visit every live item, for listing and dumping.
 *
 * The walk goes bucket by bucket through the index, copies each entry's
 * item out (key, and value when asked) and validates it against its block's
 * generation like any read, so what the callback sees is whole.  It holds
 * nothing and blocks nobody: an item written or removed meanwhile may or may
 * not be seen, and one moved by an evictor from a bucket already walked to
 * one not yet walked cannot be (entries never change buckets).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool walk_entry(hc_cache *c, uint64_t w, const void *prefix, size_t plen,
                       unsigned flags, uint64_t now, unsigned char *buf,
                       hc_item_view *v)
{
	const unsigned char *at;
	struct hc_item hdr;
	uint64_t bw;

	if (w == 0 || item_locate(c, w, &bw, &at, &hdr) != 0)
		return false;
	uint32_t klen = item_klen(&hdr), vlen = item_vlen(&hdr);
	unsigned ntags = item_ntags(&hdr);

	if (klen > c->max_key || vlen > c->max_value || klen < plen ||
	    item_expired_at(&hdr, now))
		return false;
	shm_copy_out(v->tags, at + HC_ITEM_HEADER, 4u * ntags);
	v->client_flags = 0;
	if (item_flags(&hdr) & HC_IFLAG_CLIENT)
		shm_copy_out(&v->client_flags, at + item_client_off(&hdr), 4);
	shm_copy_out(buf, item_key_at(at, &hdr), klen);
	if (flags & HC_WALK_VALUES)
		shm_copy_out(buf + klen, item_key_at(at, &hdr) + klen, vlen);
	if (!item_validate(c, w, bw) ||
	    (plen > 0 && memcmp(buf, prefix, plen) != 0) ||
	    item_invalidated(c, &hdr, at, buf, klen))
		return false;
	uint64_t exp = item_expire(&hdr);

	v->key = buf;
	v->klen = klen;
	v->vlen = vlen;
	v->value = flags & HC_WALK_VALUES ? buf + klen : NULL;
	v->cas = item_cas(&hdr);
	v->ttl_ms = exp == 0 ? 0 : exp - now;
	v->stamp_us = item_stamp(&hdr);
	v->flags = item_flags(&hdr) & HC_IFLAG_NEGATIVE; /* public bits only */
	v->ntags = ntags;
	return true;
}

HC_API long hc_walk(hc_cache *c, const void *prefix, size_t plen,
                    unsigned flags, hc_walk_fn fn, void *arg)
{
	long visited = 0;
	int rc;

	if (c == NULL || fn == NULL || (prefix == NULL && plen > 0))
		return hc_ret(hc_fail(HC_EINVAL, "hc_walk: NULL argument"));
	if ((rc = proc_check_fork(c)) < 0)
		return hc_ret(rc);
	unsigned char *buf = malloc((size_t)c->max_key + c->max_value + 8);

	if (buf == NULL)
		return hc_ret(hc_fail(HC_ESYS, "hc_walk: out of memory"));
	uint64_t now = now_ms(c);

	for (uint32_t b = 0; b < c->nbuckets; b++) {
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
			hc_item_view v;
			uint64_t w = load_acquire(slot_at(c, b, i));

			memset(&v, 0, sizeof v);
			if (!walk_entry(c, w, prefix, plen, flags, now, buf, &v))
				continue;
			visited++;
			if (fn(arg, &v) != 0)
				goto out;
		}
	}
out:
	free(buf);
	return visited;
}
