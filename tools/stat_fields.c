/*
 * stat_fields.c - the one list of the segment's fields (stat_fields.h).
 */
#include <string.h>

#include "stat_fields.h"

/* The timed operations of a histogram. */
static uint64_t latency_samples(const uint64_t *hist)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HC_LATENCY_BUCKETS; i++)
		n += hist[i];
	return n;
}

/* Get and set latency quantiles (ns, since the segment was created, from
 * one operation in l->every), after the counters at F.  Returns the
 * number filled in. */
int collect_latency_fields(const hc_latency *l, struct stat_field *f)
{
	const struct stat_field fields[] = {
		{"latency_every", l->every, STAT_GAUGE,
		 "hostcache_latency_sample_every",
		 "One get and one set in this many are timed, per thread (0: "
		 "none)."},
		{"get_timed", latency_samples(l->get), STAT_COUNTER,
		 "hostcache_get_timed_total", "Gets timed for the quantiles."},
		{"get_p50_ns", hc_latency_quantile(l->get, 0.5), STAT_GAUGE,
		 "hostcache_get_p50_nanoseconds",
		 "Median get latency (within 25 %), since creation."},
		{"get_p99_ns", hc_latency_quantile(l->get, 0.99), STAT_GAUGE,
		 "hostcache_get_p99_nanoseconds", "99th percentile get latency."},
		{"get_p999_ns", hc_latency_quantile(l->get, 0.999), STAT_GAUGE,
		 "hostcache_get_p999_nanoseconds",
		 "99.9th percentile get latency."},
		{"set_timed", latency_samples(l->set), STAT_COUNTER,
		 "hostcache_set_timed_total", "Stores timed for the quantiles."},
		{"set_p50_ns", hc_latency_quantile(l->set, 0.5), STAT_GAUGE,
		 "hostcache_set_p50_nanoseconds",
		 "Median store latency (within 25 %), since creation."},
		{"set_p99_ns", hc_latency_quantile(l->set, 0.99), STAT_GAUGE,
		 "hostcache_set_p99_nanoseconds",
		 "99th percentile store latency."},
		{"set_p999_ns", hc_latency_quantile(l->set, 0.999), STAT_GAUGE,
		 "hostcache_set_p999_nanoseconds",
		 "99.9th percentile store latency."},
	};

	memcpy(f, fields, sizeof(fields));
	return (int)(sizeof(fields) / sizeof(fields[0]));
}

/* One list of fields for every output, so that the table, the JSON and
 * the metrics never disagree.  Returns the number filled in. */
int collect_stat_fields(const hc_stats *s, const hc_latency *l,
                               struct stat_field *f)
{
	const struct stat_field fields[] = {
		{"gets", s->gets, STAT_COUNTER, "hostcache_gets_total",
		 "Lookups: hits plus misses."},
		{"hits", s->hits, STAT_COUNTER, "hostcache_hits_total",
		 "Lookups that found a value."},
		{"misses", s->misses, STAT_COUNTER, "hostcache_misses_total",
		 "Lookups that found nothing, or an expired item."},
		{"sets", s->sets, STAT_COUNTER, "hostcache_sets_total",
		 "Items stored."},
		{"deletes", s->deletes, STAT_COUNTER, "hostcache_deletes_total",
		 "Items deleted."},
		{"evictions", s->evictions, STAT_COUNTER,
		 "hostcache_evictions_total",
		 "Live items dropped by CLOCK to make room."},
		{"second_chances", s->second_chances, STAT_COUNTER,
		 "hostcache_second_chances_total",
		 "Items re-appended by CLOCK because they were read."},
		{"expirations", s->expirations, STAT_COUNTER,
		 "hostcache_expirations_total", "Expired items unlinked."},
		{"blocks_evicted", s->blocks_evicted, STAT_COUNTER,
		 "hostcache_blocks_evicted_total",
		 "Blocks of item memory recycled by CLOCK."},
		{"bucket_evictions", s->bucket_evictions, STAT_COUNTER,
		 "hostcache_bucket_evictions_total",
		 "Items dropped from a full index bucket."},
		{"inval_tag", s->inval_tag, STAT_COUNTER,
		 "hostcache_tag_invalidations_total",
		 "Invalidations by tag (hc_invalidate_tag calls)."},
		{"inval_prefix", s->inval_prefix, STAT_COUNTER,
		 "hostcache_prefix_invalidations_total",
		 "Invalidations by prefix (hc_invalidate_prefix calls)."},
		{"inval_scanned", s->inval_scanned, STAT_COUNTER,
		 "hostcache_prefix_scan_drops_total",
		 "Items dropped by prefix scans."},
		{"flushes", s->flushes, STAT_COUNTER, "hostcache_flushes_total",
		 "Flushes (hc_flush calls)."},
		{"inval_reclaimed", s->inval_reclaimed, STAT_COUNTER,
		 "hostcache_invalidated_reclaimed_total",
		 "Invalidated items unlinked since."},
		{"stale_hits", s->stale_hits, STAT_COUNTER,
		 "hostcache_stale_hits_total",
		 "Stale values served while another process refreshes them."},
		{"lease_grants", s->lease_grants, STAT_COUNTER,
		 "hostcache_lease_grants_total", "Leases granted on a miss."},
		{"lease_waits", s->lease_waits, STAT_COUNTER,
		 "hostcache_lease_waits_total",
		 "Lookups that waited for another process's fill."},
		{"lease_timeouts", s->lease_timeouts, STAT_COUNTER,
		 "hostcache_lease_timeouts_total",
		 "Waits for a fill that timed out."},
		{"lease_takeovers", s->lease_takeovers, STAT_COUNTER,
		 "hostcache_lease_takeovers_total",
		 "Leases taken over from a dead or late holder."},
		{"early_refreshes", s->early_refreshes, STAT_COUNTER,
		 "hostcache_early_refreshes_total",
		 "Reads told to refresh a value before it expires."},
		{"negative_hits", s->negative_hits, STAT_COUNTER,
		 "hostcache_negative_hits_total",
		 "Reads that found a cached \"known absent\"."},
		{"blocks_cleaned", s->blocks_cleaned, STAT_COUNTER,
		 "hostcache_blocks_cleaned_total",
		 "Blocks freed by moving their live items forward (no eviction)."},
		{"bytes_cleaned", s->bytes_cleaned, STAT_BYTES,
		 "hostcache_cleaned_bytes_total",
		 "Item bytes written by cleaning; over bytes_set, the write "
		 "amplification."},
		{"bytes_set", s->bytes_set, STAT_BYTES, "hostcache_set_bytes_total",
		 "Item bytes appended by writes (set, add, incr...)."},
		{"index_moves", s->index_moves, STAT_COUNTER,
		 "hostcache_index_moves_total",
		 "Index entries moved to their other bucket to make room."},
		{"wb_enqueued", s->wb_enqueued, STAT_COUNTER,
		 "hostcache_writeback_enqueued_total",
		 "Write-behind records accepted (sets with .writeback)."},
		{"wb_drained", s->wb_drained, STAT_COUNTER,
		 "hostcache_writeback_drained_total",
		 "Write-behind records the consumer sent upstream and popped."},
		{"wb_refused_full", s->wb_refused_full, STAT_COUNTER,
		 "hostcache_writeback_refused_full_total",
		 "Write-behind sets refused because the queue was full."},
		{"wb_skipped_dead", s->wb_skipped_dead, STAT_COUNTER,
		 "hostcache_writeback_skipped_dead_total",
		 "Write-behind records a killed writer left half written "
		 "(never accepted), skipped."},
		{"wb_depth_records", s->wb_depth_records, STAT_GAUGE,
		 "hostcache_writeback_depth_records",
		 "Write-behind records waiting to be sent upstream."},
		{"wb_depth_bytes", s->wb_depth_bytes, STAT_BYTES,
		 "hostcache_writeback_depth_bytes",
		 "Bytes of the write-behind queue in use."},
		{"items", s->items, STAT_GAUGE, "hostcache_items",
		 "Items in item memory not known to be dead."},
		{"bytes_live", s->bytes_live, STAT_BYTES, "hostcache_live_bytes",
		 "Item bytes not known to be dead."},
		{"bytes_dead", s->bytes_dead, STAT_BYTES, "hostcache_dead_bytes",
		 "Bytes of replaced or deleted items awaiting eviction."},
		{"bytes_used", s->bytes_live + s->bytes_dead, STAT_BYTES, NULL,
		 NULL},
		{"bytes_limit", s->bytes_limit, STAT_BYTES,
		 "hostcache_item_memory_bytes",
		 "Item memory: blocks times block size."},
		{"blocks_total", s->blocks_total, STAT_GAUGE, NULL, NULL},
		{"blocks_free", s->blocks_free, STAT_GAUGE, NULL, NULL},
		{"blocks_open", s->blocks_open, STAT_GAUGE, NULL, NULL},
		{"blocks_sealed", s->blocks_sealed, STAT_GAUGE, NULL, NULL},
		{"blocks_evicting", s->blocks_evicting, STAT_GAUGE, NULL, NULL},
		{"procs_attached", s->procs_attached, STAT_GAUGE,
		 "hostcache_processes_attached",
		 "Processes attached and alive."},
		{"procs_max", s->procs_max, STAT_GAUGE, "hostcache_processes_max",
		 "Process slots of the segment."},
	};
	int count = (int)(sizeof(fields) / sizeof(fields[0]));

	_Static_assert(sizeof(fields) / sizeof(fields[0]) + 9 <= STAT_FIELDS_MAX,
	               "raise STAT_FIELDS_MAX");
	memcpy(f, fields, sizeof(fields));
	return count + collect_latency_fields(l, f + count);
}
