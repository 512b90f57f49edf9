/*
 * demo.c - cache-aside in front of a slow data source, shared by processes.
 *
 *     demo worker NAME ID [REQUESTS]
 *
 * examples/demo.sh starts several workers on one segment NAME.  Each serves
 * REQUESTS (default 3000) requests for user profiles, with the pattern every
 * cache user knows:
 *
 *     value = cache.get(key)
 *     on a miss:
 *         value = source.load(key)         slow: 2 ms
 *         cache.set(key, value, ttl)
 *
 * The cache is one shared-memory segment, so a profile that one worker
 * loaded is a hit for every other worker: the source is asked about once
 * per key and TTL for the whole host, not once per key in every process.
 *
 * A few profiles are popular and most are not: keys are drawn from a Zipf
 * distribution over 2000 users ("user:<n>:profile").  Each worker checks
 * every value the cache gives it against what the source would produce.
 *
 * Exit status: 0 success, 1 a value from the cache was wrong, 2 anything
 * else (bad arguments, an hc_* call failed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostcache.h"

#define USERS 2000            /* distinct keys */
#define SOURCE_DELAY_MS 2     /* what one load from the source costs */
#define TTL_MS 5000           /* how long a cached profile stays fresh */
#define DEFAULT_REQUESTS 3000
#define VALUE_MAX 256

enum { EXIT_WRONG_VALUE = 1, EXIT_TROUBLE = 2 };

/* ---- the data source ------------------------------------------------- */

/* A profile as the source would return it: a pure function of the user
 * number, so that anyone can check a cached copy. */
static int profile_render(unsigned user, char *buf, size_t cap)
{
	unsigned karma = (user * 2654435761u) % 10000u;

	return snprintf(buf, cap,
	                "{\"id\":%u,\"name\":\"user%u\",\"karma\":%u}",
	                user, user, karma);
}

/* The slow part: a database query, a remote call, a rendering job. */
static unsigned long source_loads;

static int source_load(unsigned user, char *buf, size_t cap)
{
	struct timespec delay = { 0, SOURCE_DELAY_MS * 1000000L };

	nanosleep(&delay, NULL);
	source_loads++;
	return profile_render(user, buf, cap);
}

/* ---- which user a request asks for ----------------------------------- */

/* Zipf with exponent 1: user n (from 1) is asked n times less often than
 * user 1.  cdf[i] is the probability of a user <= i + 1. */
static double cdf[USERS];

static void popularity_init(void)
{
	double sum = 0;

	for (unsigned i = 0; i < USERS; i++)
		cdf[i] = (sum += 1.0 / (i + 1));
	for (unsigned i = 0; i < USERS; i++)
		cdf[i] /= sum;
}

/* xorshift64*: a small, fast generator; each worker seeds its own. */
static uint64_t rng_state;

static double random_unit(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
}

static unsigned next_user(void)
{
	double u = random_unit();
	unsigned lo = 0, hi = USERS - 1;

	while (lo < hi) {     /* the first user whose cdf reaches u */
		unsigned mid = (lo + hi) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo + 1;
}

/* ---- the worker ------------------------------------------------------ */

struct tally {
	unsigned long requests, hits, misses;
};

static int fail(const char *what, int rc)
{
	fprintf(stderr, "demo: %s: %s\n", what,
	        rc < 0 ? hc_last_error() : "unexpected result");
	return EXIT_TROUBLE;
}

/* Serve one request for USER: the cache-aside pattern. */
static int serve(hc_cache *cache, unsigned user, struct tally *t)
{
	char key[32], value[VALUE_MAX], expected[VALUE_MAX];
	size_t vlen;
	int klen = snprintf(key, sizeof key, "user:%u:profile", user);

	t->requests++;
	int rc = hc_get(cache, key, (size_t)klen, value, sizeof value, &vlen);

	if (rc == 0) {
		t->hits++;
		int elen = profile_render(user, expected, sizeof expected);

		if (vlen != (size_t)elen || memcmp(value, expected, vlen) != 0) {
			fprintf(stderr, "demo: %s: the cache returned '%.*s', "
			        "the source says '%s'\n", key, (int)vlen, value,
			        expected);
			return EXIT_WRONG_VALUE;
		}
		return 0;
	}
	if (rc != HC_ENOTFOUND)
		return fail("get", rc);

	t->misses++;
	int len = source_load(user, value, sizeof value);

	/* Another worker may be loading the same key right now; whichever
	 * set comes last wins, and both values are the same. */
	rc = hc_set(cache, key, (size_t)klen, value, (size_t)len, TTL_MS);
	return rc < 0 ? fail("set", rc) : 0;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int worker(const char *name, unsigned id, unsigned long requests)
{
	struct tally t = { 0, 0, 0 };
	struct timespec start;
	hc_cache *cache;
	int rc = hc_open(name, &cache);

	if (rc < 0)
		return fail("open", rc);
	popularity_init();
	rng_state = 0x9e3779b97f4a7c15ULL * (id + 1);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned long i = 0; i < requests && rc == 0; i++)
		rc = serve(cache, next_user(), &t);
	double elapsed = seconds_since(&start);

	hc_close(cache);
	if (rc != 0)
		return rc;
	printf("worker %u: %lu requests, %lu hits, %lu misses, %lu loads, "
	       "%.2f s, %.0f requests/s\n", id, t.requests, t.hits, t.misses,
	       source_loads, elapsed, (double)t.requests / elapsed);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: demo worker NAME ID [REQUESTS]\n");
	return EXIT_TROUBLE;
}

int main(int argc, char **argv)
{
	unsigned long requests = DEFAULT_REQUESTS;
	char *end;

	if (argc < 4 || argc > 5 || strcmp(argv[1], "worker") != 0)
		return usage();
	unsigned long id = strtoul(argv[3], &end, 10);

	if (*end != '\0' || id > 1000000)
		return usage();
	if (argc == 5) {
		requests = strtoul(argv[4], &end, 10);
		if (*end != '\0' || requests == 0)
			return usage();
	}
	return worker(argv[2], (unsigned)id, requests);
}
