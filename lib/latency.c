/*
 * latency.c - how long gets and sets take, across every process.
 *
 * Timing every operation would cost two clock reads each (about 40 ns on
 * a virtual machine, more than a third of a get).  So each thread counts
 * down, gets and sets apart, from the segment's latency_every and times only the operation that
 * reaches zero: the others pay a thread-local decrement and a branch
 * (latency_due in internal.h).  A timed operation adds one to a bucket
 * of its process slot's histogram with an atomic add (the threads of a
 * process share the slot); readers sum the slots, as they sum counters.
 *
 * Buckets: 0 holds [0, 32) ns; bucket 1 + 4 (o - 5) + s, for o >= 5 and
 * s in 0..3, holds [2^o + s 2^(o-2), 2^o + (s+1) 2^(o-2)): four per power
 * of two, each 1/5 to 1/4 of its lower bound wide, so a quantile read from
 * them is within 25 % of the truth.  The last bucket holds everything from
 * 2^24 + 2 2^22 ns (about 25 ms) up: a process descheduled mid-operation.
 */
#include <math.h>

#include "internal.h"

_Static_assert(HC_LATENCY_BUCKETS == HC_LAT_BUCKETS,
               "public and segment bucket counts");

__thread uint32_t hc_latency_countdown[2];

static unsigned bucket_of(uint64_t ns)
{
	if (ns < 32)
		return 0;
	unsigned o = 63u - (unsigned)__builtin_clzll(ns);
	unsigned i = 1 + 4 * (o - 5) + (unsigned)((ns >> (o - 2)) & 3);

	return i < HC_LAT_BUCKETS ? i : HC_LAT_BUCKETS - 1;
}

/* The countdown reached zero: start it again, and time this operation
 * unless the segment times none.  Returns its start (never 0), or 0.  A
 * thread's first operation starts its countdown at a random point of the
 * cycle instead of being timed: otherwise every short-lived process (a
 * cachectl) would time its first, cold, operation. */
uint64_t latency_arm(const hc_cache *c, enum latency_op op)
{
	uint32_t every = c->latency_every;
	struct timespec ts;

	if (every == 0) {
		hc_latency_countdown[op] = UINT32_MAX;
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (hc_latency_countdown[op] == 0 && every > 1) {
		uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;

		hc_latency_countdown[op] = 1 + (uint32_t)((x * 0x9e3779b97f4a7c15ULL) >> 33) % every;
		return 0;
	}
	hc_latency_countdown[op] = every;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + 1;
}

/* Count the operation started at T0 that returned RC.  One refused for
 * its arguments did no work, and leaves the segment untouched. */
void latency_record(hc_cache *c, enum latency_op op, uint64_t t0, int rc)
{
	struct timespec ts;

	if (c->self == NULL || rc == HC_EINVAL || rc == HC_EKEYLEN ||
	    rc == HC_EVALUE || rc == HC_ETTL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + 1;

	fetch_add_relaxed(&c->self->latency[op][bucket_of(t > t0 ? t - t0 : 0)], 1);
}

HC_API int hc_latency_get(hc_cache *c, hc_latency *out)
{
	int rc;

	if (out == NULL)
		return hc_ret(hc_fail(HC_EINVAL, "hc_latency_get: out is NULL"));
	if ((rc = handle_ready(c)) < 0)
		return hc_ret(rc);
	memset(out, 0, sizeof *out);
	out->every = c->latency_every;
	for (unsigned s = 0; s < c->max_procs; s++) {
		const struct hc_proc *p = &c->procs[s];

		for (unsigned i = 0; i < HC_LAT_BUCKETS; i++) {
			out->get[i] += load_relaxed(&p->latency[LATENCY_GET][i]);
			out->set[i] += load_relaxed(&p->latency[LATENCY_SET][i]);
		}
	}
	return 0;
}

HC_API void hc_latency_bucket(unsigned i, uint64_t *lower, uint64_t *upper)
{
	uint64_t lo = 0, hi = 32;

	if (i >= HC_LAT_BUCKETS)
		i = HC_LAT_BUCKETS - 1;
	if (i > 0) {
		unsigned o = 5 + (i - 1) / 4, s = (i - 1) % 4;

		lo = (1ULL << o) + s * (1ULL << (o - 2));
		hi = lo + (1ULL << (o - 2));
	}
	if (i == HC_LAT_BUCKETS - 1)
		hi = UINT64_MAX;
	if (lower != NULL)
		*lower = lo;
	if (upper != NULL)
		*upper = hi;
}

HC_API uint64_t hc_latency_quantile(const uint64_t hist[HC_LATENCY_BUCKETS],
                                    double q)
{
	uint64_t total = 0, seen = 0, lo, hi;

	if (hist == NULL)
		return 0;
	for (unsigned i = 0; i < HC_LAT_BUCKETS; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	if (!(q > 0))
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t want = (uint64_t)ceil(q * (double)total);

	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HC_LAT_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want) {
			hc_latency_bucket(i, &lo, &hi);
			return hi == UINT64_MAX ? lo : hi;
		}
	}
	return 0; /* not reached */
}
