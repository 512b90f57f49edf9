/*
 * data.c - keys, values and key sequences of the data sets, and the stores
 * a data set is loaded into (a segment, the tables, the servers).
 */
#include <string.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- keys and values ------------------------------------------------------ */

/* Key I of set DS: "dNN:" and 12 decimal digits, printable as the
 * memcached text protocol wants. */
void key_of(unsigned ds, uint32_t i, char out[KEY_LEN])
{
	uint64_t v = i;

	out[0] = 'd';
	out[1] = (char)('0' + ds / 10 % 10);
	out[2] = (char)('0' + ds % 10);
	out[3] = ':';
	for (int p = KEY_LEN - 1; p >= 4; p--) {
		out[p] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* A value of set DS is a fill byte of the set, with key I and DS in its
 * first 8 bytes: a get that returns another key's value, or a value cut
 * short, is caught. */
static unsigned char fill_of(unsigned ds)
{
	return (unsigned char)('a' + ds % 26);
}

void value_stamp(unsigned ds, uint32_t i, unsigned char *out)
{
	uint32_t tag = 0x5a000000u | ds;

	memcpy(out, &i, 4);
	memcpy(out + 4, &tag, 4);
}

void value_init(unsigned ds, unsigned v, unsigned char *out)
{
	memset(out, fill_of(ds), v);
}

bool value_ok(unsigned ds, uint32_t i, unsigned v,
	      const unsigned char *got, size_t len)
{
	unsigned char want[8];

	value_stamp(ds, i, want);
	return len == v && memcmp(got, want, 8) == 0 &&
	       got[v - 1] == fill_of(ds);
}

/* ---- key sequences ----------------------------------------------------- */

size_t seq_len = 1u << 20;
/* A fit run makes millions of sets: one sequence, longer, that every
 * process cycles from its own start, so that no short cycle narrows the
 * keys that are set. */
size_t fit_seq_len = 1u << 23;

void seq_make(struct seq *s, const struct workload *w, unsigned proc,
	      size_t len)
{
	struct dataset *d = w->ds;
	uint64_t rng = 1000 + proc * 7919ULL + d->id * 104729ULL +
	               w->set_percent * 31ULL + w->dist;

	if (w->dist == ZIPF && !d->zipf_ready) {
		kit_zipf_init(&d->zipf, d->items, ZIPF_THETA);
		d->zipf_ready = true;
	}
	s->len = len;
	s->start = 0;
	s->ops = xmalloc(s->len * sizeof *s->ops);
	s->keys = xmalloc(s->len * sizeof *s->keys);
	for (size_t i = 0; i < s->len; i++) {
		uint32_t k;

		if (w->dist == HOT)
			k = 0;
		else if (w->dist == ZIPF) /* ranks scattered over the keys */
			k = (uint32_t)(kit_zipf_next(&d->zipf, &rng) * 2654435761ULL %
			               d->items);
		else
			k = (uint32_t)(kit_rng_next(&rng) % d->items);
		key_of(d->id, k, s->keys[i]);
		if (kit_rng_next(&rng) % 100 < w->set_percent)
			k |= OP_SET;
		s->ops[i] = k;
	}
}

void seq_free(struct seq *s)
{
	free(s->ops);
	free(s->keys);
	memset(s, 0, sizeof *s);
}

/* ---- the stores of a data set -------------------------------------------- */

unsigned segment_item(unsigned value)
{
	return (ITEM_HEADER + KEY_LEN + value + 7) & ~7u;
}

uint64_t segment_bytes(const struct dataset *d)
{
	if (d->fill_pct)
		return fit_segment;
	return 3ULL * d->items * segment_item(d->value) + (4u << 20);
}

/* D's segment, made afresh: item memory for three times its items (room
 * for overwrites before anything is evicted), the index sized for their
 * item size, as a user would size a cache for known data; for a fit set,
 * the fit segment, with slots for its processes whatever --procs says.
 * False if /dev/shm cannot hold it. */
bool segment_make(struct dataset *d)
{
	hc_config cfg;
	int rc;

	hc_config_init(&cfg);
	cfg.avg_item_size = segment_item(d->value);
	cfg.size = segment_bytes(d);
	cfg.max_procs = (d->fill_pct ? FIT_PROCS_MAX : max_procs_used) + 2;
	snprintf(d->name, sizeof d->name, "/hcbench_%ld_%u", (long)main_pid,
	         d->id);
	rc = hc_create(d->name, &cfg, &d->owner);
	if (rc == HC_ENOSPC) {
		d->name[0] = '\0';
		return false;
	}
	if (rc != 0)
		fail("hc_create %s (%llu bytes): %s", d->name,
		     (unsigned long long)cfg.size, hc_last_error());
	return true;
}

void segment_drop(struct dataset *d)
{
	if (d->owner != NULL)
		hc_close(d->owner);
	d->owner = NULL;
	if (d->name[0] != '\0')
		hc_unlink(d->name);
	d->name[0] = '\0';
}

/* Every key of D into its segment, made afresh.  False if /dev/shm
 * cannot hold the segment. */
bool preload_segment(struct dataset *d)
{
	unsigned char *val = xmalloc(d->value);
	hc_stats st;
	int rc;

	if (!segment_make(d))
		return false;
	value_init(d->id, d->value, val);
	for (uint32_t i = 0; i < d->items; i++) {
		char key[KEY_LEN];

		key_of(d->id, i, key);
		value_stamp(d->id, i, val);
		if ((rc = hc_set(d->owner, key, KEY_LEN, val, d->value, 0)) != 0)
			fail("preload: hc_set: %s", hc_strerror(rc));
	}
	free(val);
	if ((rc = hc_stats_get(d->owner, &st)) != 0)
		fail("hc_stats_get: %s", hc_strerror(rc));
	/* A bucket holds 8 entries and a full one drops its coldest (the
	 * index is lossy): even in an index several times larger than the
	 * keys, a few buckets overflow (the Poisson tail). */
	if (st.evictions + st.bucket_evictions > 0)
		note("hostcache: %llu of the %u keys of the %u B %s set were "
		     "dropped while it was loaded (%llu evicted, %llu from full "
		     "index buckets): gets of them miss",
		     (unsigned long long)(st.evictions + st.bucket_evictions),
		     d->items, d->value, d->fits, (unsigned long long)st.evictions,
		     (unsigned long long)st.bucket_evictions);
	d->evictions = st.evictions + st.bucket_evictions;
	return true;
}

/* Every key of D into a shared table, and a private copy of it. */
void preload_table(struct dataset *d)
{
	unsigned char *val = xmalloc(d->value);

	d->table = table_create(d);
	value_init(d->id, d->value, val);
	for (uint32_t i = 0; i < d->items; i++) {
		char key[KEY_LEN];

		key_of(d->id, i, key);
		value_stamp(d->id, i, val);
		table_set(d->table, LOCK_MUTEX, key, val, d->value);
	}
	free(val);
	d->priv = table_copy_private(d->table);
	table_fork(d->priv, false);
}

/* Every key of D into a server, many requests in flight (only the loading
 * is pipelined; the measurements send one request at a time), then a
 * sample read back. */
void preload_server(struct dataset *d, enum impl_id impl)
{
	unsigned char *val = xmalloc(d->value), *buf = xmalloc(d->value);
	const uint32_t batch = 512;
	struct conn c;

	value_init(d->id, d->value, val);
	conn_open(&c, impl, d, NULL);
	if (impl == MEMCACHED) {
		memcached_behavior_set(c.mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
		memcached_behavior_set(c.mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
	}
	for (uint32_t i = 0; i < d->items; i += batch) {
		uint32_t n = d->items - i < batch ? d->items - i : batch;

		for (uint32_t j = i; j < i + n; j++) {
			char key[KEY_LEN];

			key_of(d->id, j, key);
			value_stamp(d->id, j, val);
			if (impl == MEMCACHED) {
				memcached_return_t rc = memcached_set(
					c.mc, key, KEY_LEN, (const char *)val, d->value, 0, 0);

				if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED)
					fail("preload: memcached set: %s",
					     memcached_strerror(c.mc, rc));
			} else if (redisAppendCommand(c.redis, "SET %b %b", key,
			                              (size_t)KEY_LEN, val,
			                              (size_t)d->value) != REDIS_OK) {
				fail("preload: redis: %s", c.redis->errstr);
			}
		}
		if (impl == MEMCACHED) {
			memcached_return_t rc = memcached_flush_buffers(c.mc);

			if (rc != MEMCACHED_SUCCESS)
				fail("preload: memcached: %s",
				     memcached_strerror(c.mc, rc));
			continue;
		}
		for (uint32_t j = 0; j < n; j++) {
			void *reply = NULL;
			redisReply *r;

			if (redisGetReply(c.redis, &reply) != REDIS_OK)
				fail("preload: redis: %s", c.redis->errstr);
			r = reply;
			if (r->type != REDIS_REPLY_STATUS)
				fail("preload: redis SET: %s",
				     r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
			freeReplyObject(r);
		}
	}
	conn_close(&c);
	/* A fresh connection reads a sample back, the last key first. */
	conn_open(&c, impl, d, NULL);
	for (uint32_t s = 0; s < 64 && s < d->items; s++) {
		uint32_t i = s == 0 ? d->items - 1 : (uint32_t)(s * 2654435761ULL %
		                                                d->items);
		char key[KEY_LEN];
		size_t len = 0;
		int rc;

		key_of(d->id, i, key);
		rc = conn_get(&c, key, buf, d->value, &len);
		if (rc != 0 || !value_ok(d->id, i, d->value, buf, len))
			fail("%s lost or changed key %.*s after loading %u items "
			     "(out of memory?)", impl_names[impl], KEY_LEN, key,
			     d->items);
	}
	conn_close(&c);
	free(val);
	free(buf);
}
