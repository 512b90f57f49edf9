/*
 * overhead.c - the per-item memory of hostcache.
 */
#include <unistd.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- per-item memory ---------------------------------------------------- */

struct overhead overheads[NVALUES];
unsigned noverheads;
static char overhead_name[64];

/* Fill a segment of SIZE with distinct keys of VALUE-byte values until it
 * has evicted for a while, then read what an item costs. */
void measure_overhead(unsigned value, uint64_t size, struct overhead *o)
{
	unsigned char *val = xmalloc(value);
	hc_config cfg;
	hc_cache *c;
	hc_stats st;
	hc_info info;
	int rc;

	hc_config_init(&cfg);
	cfg.size = size;
	cfg.avg_item_size = segment_item(value);
	snprintf(overhead_name, sizeof overhead_name, "/hcbench_%ld_size",
	         (long)main_pid);
	if ((rc = hc_create(overhead_name, &cfg, &c)) != 0)
		fail("hc_create %s: %s", overhead_name, hc_last_error());
	value_init(MAX_DATASETS, value, val);
	/* Until it evicts, then a tenth more. */
	uint64_t n = UINT64_MAX;

	for (uint64_t i = 0; i < n; i++) {
		char key[KEY_LEN];

		key_of(MAX_DATASETS, (uint32_t)i, key);
		value_stamp(MAX_DATASETS, (uint32_t)i, val);
		if ((rc = hc_set(c, key, KEY_LEN, val, value, 0)) != 0)
			fail("hc_set: %s", hc_strerror(rc));
		if (n == UINT64_MAX && i % 1024 == 1023) {
			if ((rc = hc_stats_get(c, &st)) != 0)
				fail("hc_stats_get: %s", hc_strerror(rc));
			if (st.evictions > 0)
				n = i + i / 10;
		}
		if (i > 4 * size / value)
			fail("a segment of %llu bytes never evicts",
			     (unsigned long long)size);
	}
	if ((rc = hc_stats_get(c, &st)) != 0 || (rc = hc_info_get(c, &info)) != 0)
		fail("hc_stats_get: %s", hc_strerror(rc));
	if (st.items == 0 || info.index_slots == 0)
		fail("a filled segment holds no items");
	o->value = value;
	o->size = info.size;
	o->items = st.items;
	o->header = (double)st.bytes_live / (double)st.items - (KEY_LEN + value);
	o->slot = (double)info.index_memory / info.index_slots;
	o->index_per_item = (double)info.index_memory / (double)st.items;
	o->segment = (double)info.size / (double)st.items - (KEY_LEN + value);
	hc_close(c);
	hc_unlink(overhead_name);
	overhead_name[0] = '\0';
	free(val);
}

void stores_remove(void)
{
	if (getpid() != main_pid)
		return;
	for (unsigned i = 0; i < ndatasets; i++)
		if (datasets[i].name[0] != '\0') {
			hc_unlink(datasets[i].name);
			datasets[i].name[0] = '\0';
		}
	if (overhead_name[0] != '\0')
		hc_unlink(overhead_name);
	overhead_name[0] = '\0';
}
