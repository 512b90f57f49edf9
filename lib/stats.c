/*
 * stats.c - statistics and static facts.
 *
 * Counters are per process slot and cumulative: the totals are the sum over
 * every slot, so they never go backwards and include processes that have
 * detached or died.  Gauges (items, bytes, blocks by state) are computed
 * from the block table at the time of the call; they count what is known
 * dead (unlinked by someone who accounted it), so an item whose writer was
 * killed before publishing it counts as live until its block is evicted.
 */
#include <string.h>

#include "internal.h"

static void counters_into(hc_stats *s, const uint64_t *v)
{
	s->hits = v[HC_CTR_HITS];
	s->misses = v[HC_CTR_MISSES];
	s->gets = s->hits + s->misses;
	s->sets = v[HC_CTR_SETS];
	s->deletes = v[HC_CTR_DELETES];
	s->evictions = v[HC_CTR_EVICTIONS];
	s->second_chances = v[HC_CTR_SECOND_CHANCES];
	s->expirations = v[HC_CTR_EXPIRATIONS];
	s->blocks_evicted = v[HC_CTR_BLOCKS_EVICTED];
	s->bucket_evictions = v[HC_CTR_BUCKET_EVICTIONS];
	s->inval_tag = v[HC_CTR_INVAL_TAG];
	s->inval_prefix = v[HC_CTR_INVAL_PREFIX];
	s->inval_scanned = v[HC_CTR_INVAL_SCANNED];
	s->flushes = v[HC_CTR_FLUSHES];
	s->inval_reclaimed = v[HC_CTR_INVAL_RECLAIMED];
	s->stale_hits = v[HC_CTR_STALE_HITS];
	s->lease_grants = v[HC_CTR_LEASE_GRANTS];
	s->lease_waits = v[HC_CTR_LEASE_WAITS];
	s->lease_timeouts = v[HC_CTR_LEASE_TIMEOUTS];
	s->lease_takeovers = v[HC_CTR_LEASE_TAKEOVERS];
	s->early_refreshes = v[HC_CTR_EARLY_REFRESH];
	s->negative_hits = v[HC_CTR_NEGATIVE_HITS];
	s->blocks_cleaned = v[HC_CTR_BLOCKS_CLEANED];
	s->bytes_cleaned = v[HC_CTR_BYTES_CLEANED];
	s->bytes_set = v[HC_CTR_BYTES_SET];
	s->wb_enqueued = v[HC_CTR_WB_ENQUEUED];
	s->wb_drained = v[HC_CTR_WB_DRAINED];
	s->wb_refused_full = v[HC_CTR_WB_REFUSED_FULL];
	s->wb_skipped_dead = v[HC_CTR_WB_SKIPPED_DEAD];
}

static void block_gauges(hc_cache *c, hc_stats *s)
{
	for (uint32_t b = 0; b < c->nblocks; b++) {
		uint64_t w = load_acquire(&c->block_words[b]);

		switch (bw_state(w)) {
		case HC_BLOCK_FREE:
			s->blocks_free++;
			continue;
		case HC_BLOCK_OPEN:
			s->blocks_open++;
			break;
		case HC_BLOCK_SEALED:
			s->blocks_sealed++;
			break;
		default:
			s->blocks_evicting++;
			break;
		}
		uint64_t com = load_acquire(&c->block_meta[b].committed);
		uint64_t dead = load_relaxed(&c->block_meta[b].dead);
		uint64_t bytes = com & 0xffffffffULL, items = com >> 32;
		uint64_t dbytes = 0, ditems = 0;

		if (((dead >> HC_DEAD_GEN_SHIFT) & 0xffff) == (bw_gen(w) & 0xffff)) {
			dbytes = dead & HC_DEAD_BYTES_MASK;
			ditems = (dead >> HC_DEAD_ITEMS_SHIFT) & HC_DEAD_ITEMS_MASK;
		}
		/* Racing updates can make dead run ahead of committed for an
		 * instant; never report a negative. */
		if (dbytes > bytes)
			dbytes = bytes;
		if (ditems > items)
			ditems = items;
		s->bytes_live += bytes - dbytes;
		s->bytes_dead += dbytes;
		s->items += items - ditems;
	}
	s->blocks_total = c->nblocks;
	s->bytes_limit = c->item_memory;
}

HC_API int hc_stats_get(hc_cache *c, hc_stats *out)
{
	uint64_t sum[HC_NCOUNTERS] = { 0 };

	if (c == NULL || out == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "hc_stats_get: NULL argument"));
	memset(out, 0, sizeof *out);
	for (unsigned i = 0; i < c->max_procs; i++) {
		const struct hc_proc *p = &c->procs[i];

		for (unsigned k = 0; k < HC_NCOUNTERS_USED; k++)
			sum[k] += load_relaxed(&p->counters[k]);
		if (load_relaxed(&p->state) == HC_PROC_ATTACHED &&
		    proc_slot_alive(c, i))
			out->procs_attached++;
	}
	counters_into(out, sum);
	out->index_moves = load_relaxed(&c->hdr->index_moves);
	block_gauges(c, out);
	if (c->wb_size != 0) {
		out->wb_depth_bytes = writeback_bytes_waiting(c);
		out->wb_depth_records = out->wb_enqueued > out->wb_drained
		                        ? out->wb_enqueued - out->wb_drained : 0;
	}
	out->procs_max = c->max_procs;
	return 0;
}

HC_API int hc_stats_self(hc_cache *c, hc_stats *out)
{
	uint64_t v[HC_NCOUNTERS] = { 0 };

	if (c == NULL || out == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "hc_stats_self: NULL argument"));
	memset(out, 0, sizeof *out);
	if (c->self == NULL)
		return hc_ret(HC_EPROCS);
	for (unsigned k = 0; k < HC_NCOUNTERS_USED; k++)
		v[k] = load_relaxed(&c->self->counters[k]) -
		       load_relaxed(&c->self->base[k]);
	counters_into(out, v);
	block_gauges(c, out);
	out->procs_attached = 1;
	out->procs_max = c->max_procs;
	return 0;
}

HC_API int hc_info_get(hc_cache *c, hc_info *out)
{
	if (c == NULL || out == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "hc_info_get: NULL argument"));
	memset(out, 0, sizeof *out);
	out->size = c->size;
	out->layout = c->hdr->layout;
	out->created_ns = c->hdr->created_ns;
	out->version_major = c->hdr->version_major;
	out->version_minor = c->hdr->version_minor;
	out->max_key = c->max_key;
	out->max_value = c->max_value;
	out->max_procs = c->max_procs;
	out->block_size = c->block_size;
	out->blocks = c->nblocks;
	out->index_buckets = c->nbuckets;
	out->index_slots = c->nbuckets * HC_BUCKET_SLOTS;
	out->mode = c->hdr->mode;
	out->ttl_jitter_pct = c->ttl_jitter_pct;
	out->item_overhead = HC_ITEM_HEADER + (uint32_t)sizeof(hc_word);
	out->item_memory = c->item_memory;
	out->index_memory = (uint64_t)c->nbuckets * sizeof(struct hc_bucket);
	out->delimiter = (char)c->hdr->delimiter;
	out->stale_grace_ms = c->stale_grace_ms;
	out->clean_watermark_pct = c->clean_watermark_pct;
	out->latency_every = c->latency_every;
	out->journal_entries = c->njournal;
	out->writeback_bytes = c->wb_size;
	out->writeback_max_record = c->wb_size / 2;
	memcpy(out->name, c->name, sizeof out->name);
	out->name[sizeof out->name - 1] = '\0';
	return 0;
}

HC_API int hc_procs(hc_cache *c, hc_proc_info *out, unsigned cap, unsigned *n)
{
	unsigned count = 0;

	if (c == NULL || n == NULL || (out == NULL && cap > 0))
		return hc_ret(hc_fail(HC_EINVAL, "hc_procs: NULL argument"));
	for (unsigned i = 0; i < c->max_procs; i++) {
		const struct hc_proc *p = &c->procs[i];
		uint64_t attaches = load_relaxed(&p->attaches);

		if (attaches == 0)
			continue;
		if (count < cap) {
			hc_proc_info *o = &out[count];
			uint64_t v[HC_NCOUNTERS] = { 0 };
			hc_word comm[2];

			memset(o, 0, sizeof *o);
			o->slot = i;
			o->pid = (uint32_t)load_relaxed(&p->pid);
			comm[0] = load_relaxed(&p->comm[0]);
			comm[1] = load_relaxed(&p->comm[1]);
			memcpy(o->comm, comm, 16);
			o->comm[16] = '\0';
			o->attached = load_relaxed(&p->state) == HC_PROC_ATTACHED;
			o->alive = o->attached && proc_slot_alive(c, i);
			o->attached_ns = load_relaxed(&p->attached_ns);
			o->attaches = attaches;
			for (unsigned k = 0; k < HC_NCOUNTERS_USED; k++)
				v[k] = load_relaxed(&p->counters[k]) -
				       load_relaxed(&p->base[k]);
			counters_into(&o->own, v);
		}
		count++;
	}
	*n = count;
	return 0;
}
