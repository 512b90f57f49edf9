/*
 * stat_fields.h - the segment's counters, gauges and latency quantiles as
 * one list of named fields, so that every output (cachectl's table, JSON
 * and Prometheus text, hostcached's /metrics) names them the same way.
 * Shared by cachectl and hostcached; it calls only the library.
 */
#ifndef HC_STAT_FIELDS_H
#define HC_STAT_FIELDS_H

#include <stdint.h>

#include "hostcache.h"

enum stat_kind { STAT_COUNTER, STAT_GAUGE, STAT_BYTES };

struct stat_field {
	const char *key;    /* JSON key; the table shows it with spaces */
	uint64_t value;
	enum stat_kind kind;
	const char *metric; /* Prometheus name; NULL: not exported alone */
	const char *help;   /* for Prometheus' # HELP */
};

#define STAT_FIELDS_MAX 56

/* The latency fields alone (9 of them): the timed counts and the p50,
 * p99 and p999 of gets and of stores.  Returns the number filled in. */
int collect_latency_fields(const hc_latency *l, struct stat_field *f);

/* Fill F (room for STAT_FIELDS_MAX) from S and L.  Returns the number
 * filled in. */
int collect_stat_fields(const hc_stats *s, const hc_latency *l,
                        struct stat_field *f);

#endif /* HC_STAT_FIELDS_H */
