/*
 * warming.c - cache warming: fill the cache with the hot set before the
 * first request, then keep it warm on a schedule, so that requests for
 * the hot set never miss: neither the first ones after a start (a deploy,
 * a new segment) nor any later one when entries reach their TTL.
 *
 *     start-up:    for each hot key: set(key, query(db), TTL)
 *     every TICK:  for each hot key: get_ex(key, &info); when it is missing
 *                  or info.ttl_ms < THRESHOLD: set(key, query(db), TTL)
 *
 * The hot set comes from what the application knows: here the first 30
 * users; often the keys most read the day before, or the items of a dump
 * (cachectl dump, then cachectl restore into the new segment).  The
 * schedule runs in a process of its own, a sidecar that stops when its
 * pipe from the application closes.  Re-warming long before the TTL ends
 * (THRESHOLD many TICKs) leaves room for a warmer that runs late.
 *
 * Promises checked: right after warming, the first request for every hot
 * key hits (30 of 30); while the schedule runs, over more than two TTLs,
 * no request misses and no request queries the database, while a key set
 * at the same time outside the schedule expires.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define HOT 30             /* the hot set: users 1..HOT */
#define TTL_MS 1500
#define THRESHOLD_MS 1000  /* re-warm a key with less TTL than this left */
#define TICK_MS 100        /* how often the warmer looks */
#define RUN_MS 4000        /* how long the requests go on: over two TTLs */

static int user_key(long id, char *key, size_t cap)
{
	return snprintf(key, cap, "user:%ld:name", id);
}

static void load(hc_cache *c, source *db, long id)
{
	char key[32], name[64];
	int klen = user_key(id, key, sizeof key);

	source_user_name(db, id, name, sizeof name);
	hc_must(hc_set(c, key, (size_t)klen, name, strlen(name), TTL_MS), key);
}

/* The pattern, on a schedule: re-warm the hot keys that expire soon. */
static void rewarm(hc_cache *c, source *db)
{
	char key[32];
	hc_item_info info;

	for (long id = 1; id <= HOT; id++) {
		int klen = user_key(id, key, sizeof key);
		int rc = hc_get_ex(c, key, (size_t)klen, NULL, 0, &info);

		/* A length probe: HC_EBUFSIZE when the key is there. */
		if (rc != HC_EBUFSIZE && rc != HC_ENOTFOUND)
			hc_must(rc, key);
		if (rc == HC_ENOTFOUND || info.ttl_ms < THRESHOLD_MS)
			load(c, db, id);
	}
}

/* The warmer: every TICK_MS, until its pipe STOP closes. */
static void warmer(hc_cache *c, int stop)
{
	struct pollfd p = { .fd = stop, .events = POLLIN };
	source *db = source_open(1);

	while (poll(&p, 1, TICK_MS) == 0)
		rewarm(c, db);
	source_close(db);
}

/* A request: 1 hit, 0 miss (then read through, cache-aside). */
static int request(hc_cache *c, source *db, long id)
{
	char key[32], name[64];
	size_t len;
	int klen = user_key(id, key, sizeof key);
	int rc = hc_get(c, key, (size_t)klen, name, sizeof name, &len);

	if (rc == 0)
		return 1;
	if (rc != HC_ENOTFOUND)
		hc_must(rc, key);
	load(c, db, id);
	return 0;
}

int main(void)
{
	int stop[2], hits = 0, status;
	long requests = 0, misses = 0;

	source_init();
	hc_cache *c = segment_create("warming", NULL);
	source *db = source_open(1);

	for (long id = 1; id <= HOT; id++)  /* start-up */
		load(c, db, id);
	load(c, db, HOT + 1);  /* the same TTL, not in the schedule */
	if (pipe(stop) != 0)
		hc_must(HC_ESYS, "pipe");
	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0) {
		close(stop[1]);
		warmer(c, stop[0]);
		hc_close(c);
		_exit(0);
	}
	close(stop[0]);
	long warmed = source_queries(db);

	for (long id = 1; id <= HOT; id++)
		hits += request(c, db, id);
	check(hits == HOT, "after warming, the first request for each hot key "
	      "hits (%d of %d)", hits, HOT);

	for (long end = now_ms() + RUN_MS; now_ms() < end; sleep_ms(10)) {
		for (long id = 1; id <= HOT; id++, requests++)
			misses += !request(c, db, id);
	}
	long queries = source_queries(db);

	close(stop[1]);  /* the warmer stops */
	waitpid(pid, &status, 0);
	char key[32];
	int klen = user_key(HOT + 1, key, sizeof key);
	int outside = hc_get(c, key, (size_t)klen, NULL, 0, NULL);

	printf("%d hot keys and one outside the schedule warmed with %ld "
	       "queries; %ld requests in %d s (TTL %d ms): %ld misses; %ld "
	       "queries since\n", HOT, warmed,
	       requests, RUN_MS / 1000, TTL_MS, misses, queries - warmed);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the warmer ran "
	      "to the end");
	check(misses == 0, "no hot key expired while the schedule ran "
	      "(misses: %ld)", misses);
	check(queries - warmed - misses >= HOT, "the warmer re-warmed them "
	      "(%ld queries)", queries - warmed - misses);
	check(outside == HC_ENOTFOUND, "a key outside the schedule expired");

	source_close(db);
	hc_close(c);
	return check_status();
}
