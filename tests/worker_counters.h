/*
 * worker_counters.h - what h_worker reports to the torture supervisor.
 *
 * The supervisor makes a file of WORKER_COUNTERS_MAX records; worker ID
 * maps it and adds each batch of counts to record ID with atomic adds, so
 * the totals survive the worker being killed (at most one batch is lost per
 * kill) and grow across the lives of one ID.  The file is the test's own:
 * nothing of it lives in the cache segment.
 */
#ifndef HC_WORKER_COUNTERS_H
#define HC_WORKER_COUNTERS_H

#include <stdint.h>

#define WORKER_COUNTERS_MAX 64

struct worker_counters {
	uint64_t ops;        /* operations completed */
	uint64_t hits, misses;
	uint64_t verified;   /* values read and verified (selfcheck.h) */
	uint64_t sets;       /* successful set/add/replace */
	uint64_t deletes, cas, touches, arith;
	uint64_t busy;       /* HC_EBUSY / HC_ENOMEM (tolerated, counted) */
	uint64_t lives;      /* processes started with this ID */
	uint64_t attached;   /* of them, how many attached */
	uint64_t invalidations;
	uint64_t lease_grants; /* leases granted (then filled or abandoned) */
	uint64_t lease_waits;  /* hc_get_or_lease that timed out waiting */
	uint64_t heartbeat_ns; /* CLOCK_MONOTONIC of the last batch */
};

/* The fields that add up: all before the heartbeat. */
#define WORKER_COUNTERS_SUMMED 15

static inline void worker_counters_add(struct worker_counters *to,
                                       const struct worker_counters *n)
{
	uint64_t *d = (uint64_t *)to;
	const uint64_t *s = (const uint64_t *)n;

	for (int i = 0; i < WORKER_COUNTERS_SUMMED; i++)
		if (s[i] != 0)
			__atomic_fetch_add(&d[i], s[i], __ATOMIC_RELAXED);
}

#endif
