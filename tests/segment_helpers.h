/*
 * segment_helpers.h - more shared bits of the test programs, on top of
 * testutil.h: a segment made to a given shape, and an item read back with
 * what hc_get_ex() reports about it.
 */
#ifndef HC_SEGMENT_HELPERS_H
#define HC_SEGMENT_HELPERS_H

#include "testutil.h"

/* Create the segment named after TAG (the name goes to NAME) of SIZE bytes
 * and PROCS process slots, its index sized for items of AVG_ITEM bytes on
 * average: small for a roomy index, large for one that fills before item
 * memory does.  Asserts that it worked. */
static inline hc_cache *test_segment_shaped(char *name, size_t cap,
                                            const char *tag, uint64_t size,
                                            uint32_t procs, uint32_t avg_item)
{
	hc_config cfg = test_config(size, procs);
	hc_cache *c;

	cfg.avg_item_size = avg_item;
	assert_hc_ok(test_segment_create(name, cap, tag, &cfg, &c));
	return c;
}

/* What hc_get_ex() reports about KEY, which must be present with a value
 * of at most 256 bytes.  The report starts out as a pattern no call
 * writes, so that a field the call leaves alone shows as garbage rather
 * than as a plausible zero. */
static inline hc_item_info item_info_of(hc_cache *c, const void *key,
                                        size_t klen)
{
	char buf[256];
	hc_item_info info;

	memset(&info, 0xa5, sizeof(info));
	assert_hc_ok(hc_get_ex(c, key, klen, buf, sizeof(buf), &info));
	return info;
}

#endif
