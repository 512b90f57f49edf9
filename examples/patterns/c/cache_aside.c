/*
 * cache_aside.c - cache-aside: the application asks the cache first; on a
 * miss it queries the database itself and stores the answer with a TTL.
 *
 *     value = get(key)
 *     on a miss:  value = query(db);  set(key, value, ttl)
 *
 * Promise checked: 200 requests over 20 users ask the database 20 times
 * (once per user), and an entry that has outlived its TTL is asked for
 * again.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define TTL_MS 60000   /* how long a cached name may be served */

/* The pattern: one function that every reader calls. */
static int user_name(hc_cache *c, source *db, long id, uint64_t ttl_ms,
                     char *buf, size_t cap)
{
	char key[32];
	int klen = snprintf(key, sizeof key, "user:%ld:name", id);
	int rc = get_string(c, key, (size_t)klen, buf, cap);

	if (rc == 0)
		return 1;
	/* HC_EBUFSIZE would mean a value larger than BUF: with names of a
	 * known bound it is a bug, so it is treated like any other error. */
	if (rc != HC_ENOTFOUND)
		hc_must(rc, key);
	if (!source_user_name(db, id, buf, cap))
		return 0;  /* no such user: see negative_caching.c */
	/* A failed set only costs a later miss; report it and go on. */
	rc = hc_set(c, key, (size_t)klen, buf, strlen(buf), ttl_ms);
	if (rc != 0)
		fprintf(stderr, "%s: not cached: %s\n", key, hc_last_error());
	return 1;
}

int main(void)
{
	char name[64], want[64];
	bool right = true;

	source_init();
	hc_cache *c = segment_create("cache-aside", NULL);
	source *db = source_open(1);

	for (int i = 0; i < 200; i++) {
		long id = 1 + i % 20;

		snprintf(want, sizeof want, "user%ld", id);
		right &= user_name(c, db, id, TTL_MS, name, sizeof name) &&
		         strcmp(name, want) == 0;
	}
	long queries = source_queries(db);

	printf("200 requests for 20 users: %ld database queries\n", queries);
	check(right, "every request got the user's name");
	check(queries == 20, "one query per user (%ld)", queries);

	/* Expiry: a short TTL, then past it the entry is a miss again. */
	struct timespec past_ttl = { 0, 150 * 1000000L };

	hc_must(hc_delete(c, "user:1:name", 11), "delete user:1:name");
	user_name(c, db, 1, 50, name, sizeof name);
	nanosleep(&past_ttl, NULL);
	user_name(c, db, 1, 50, name, sizeof name);
	queries = source_queries(db) - queries;
	check(queries == 2, "past its TTL an entry is queried again (%ld "
	      "queries for 2 requests)", queries);

	source_close(db);
	hc_close(c);
	return check_status();
}
