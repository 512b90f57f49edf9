/*
 * versioned_keys.c - versioned keys: the version of a namespace is an item
 * of its own ("v:users"), and every key of the namespace carries it
 * ("users:v<N>:<id>").  Bumping the version (hc_incr) makes every key of
 * the old version unreachable at once, for every process: readers build
 * their keys with the new number and miss; the old items are not read
 * again and age out by their TTL, or by eviction before.
 *
 *     n = get("v:users")        (absent: add it, see below)
 *     key = "users:v<n>:<id>";  cache-aside on key
 *     invalidate them all:      incr("v:users")
 *
 * A new segment holds no keys yet, so its version may start at 1.  The
 * version item has no TTL, but a cache may still evict it; were it made
 * again at 1, the keys of versions 1, 2... would be reachable again, with
 * what they held then.  So a version found missing is made (hc_add: one
 * process wins) from the realtime clock in ms, larger than any version
 * before it as long as bumps are fewer than one per ms.
 *
 * Promises checked: after the database is changed and the version bumped,
 * no read returns an old name, and the database is asked again exactly
 * once per key (20 queries for 20 users read twice); the old items are
 * still in the cache, unreachable, until their TTL.  A version item lost
 * and made again reaches no old key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define USERS 20
#define TTL_MS 60000

/* The namespace's version: read, or made if missing (or evicted). */
static uint64_t users_version(hc_cache *c)
{
	char buf[32];
	size_t len;
	struct timespec t;

	for (;;) {
		int rc = hc_get(c, "v:users", 7, buf, sizeof buf - 1, &len);

		if (rc == 0) {
			buf[len] = '\0';
			return strtoull(buf, NULL, 10);
		}
		if (rc != HC_ENOTFOUND)
			hc_must(rc, "v:users");
		clock_gettime(CLOCK_REALTIME, &t);
		len = (size_t)snprintf(buf, sizeof buf, "%lld",
		                       t.tv_sec * 1000LL + t.tv_nsec / 1000000);
		rc = hc_add(c, "v:users", 7, buf, len, 0);
		if (rc != HC_EEXISTS)  /* else another made it: read that */
			hc_must(rc, "v:users");
	}
}

/* The pattern: cache-aside under the current version's key. */
static void user_name(hc_cache *c, source *db, long id, char *buf,
                      size_t cap)
{
	char key[64];
	int klen = snprintf(key, sizeof key, "users:v%" PRIu64 ":%ld",
	                    users_version(c), id);
	int rc = get_string(c, key, (size_t)klen, buf, cap);

	if (rc == 0)
		return;
	if (rc != HC_ENOTFOUND)
		hc_must(rc, key);
	source_user_name(db, id, buf, cap);
	hc_must(hc_set(c, key, (size_t)klen, buf, strlen(buf), TTL_MS), key);
}

/* Read every user twice: how many reads returned NAME<id>. */
static int read_all(hc_cache *c, source *db, const char *name)
{
	char got[64], want[64];
	int right = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (long id = 1; id <= USERS; id++) {
			user_name(c, db, id, got, sizeof got);
			snprintf(want, sizeof want, "%s%ld", name, id);
			right += strcmp(got, want) == 0;
		}
	}
	return right;
}

int main(void)
{
	char name[64], key[64];
	size_t len;

	source_init();
	hc_cache *c = segment_create("versioned", NULL);
	source *db = source_open(1);

	hc_must(hc_set(c, "v:users", 7, "1", 1, 0), "v:users");
	int right = read_all(c, db, "user");
	long queries = source_queries(db);
	uint64_t old = users_version(c);

	check(right == 2 * USERS && queries == USERS, "version %" PRIu64 ": "
	      "%d reads, %d right, %ld queries", old, 2 * USERS, right,
	      queries);

	for (long id = 1; id <= USERS; id++) {
		snprintf(name, sizeof name, "new%ld", id);
		source_rename(db, id, name);
	}
	uint64_t now;

	hc_must(hc_incr(c, "v:users", 7, 1, &now), "bump v:users");
	right = read_all(c, db, "new");
	queries = source_queries(db) - queries;
	printf("renamed every user, bumped the version to %" PRIu64 "; %d "
	       "reads: %d new names, %ld queries\n", now, 2 * USERS, right,
	       queries);
	check(right == 2 * USERS, "no read after the bump returned an old name "
	      "(%d of %d new)", right, 2 * USERS);
	check(queries == USERS, "the database was asked once per key (%ld "
	      "for %d)", queries, USERS);

	int klen = snprintf(key, sizeof key, "users:v%" PRIu64 ":1", old);
	int rc = hc_get(c, key, (size_t)klen, name, sizeof name - 1, &len);

	check(rc == 0, "%s is still in the cache, unreachable, until its TTL",
	      key);

	/* The version item lost, as an eviction would lose it. */
	hc_must(hc_delete(c, "v:users", 7), "v:users");
	user_name(c, db, 1, name, sizeof name);
	uint64_t made = users_version(c);

	check(made > now && strcmp(name, "new1") == 0, "a version made again "
	      "(%" PRIu64 ") reaches no old key (%s)", made, name);

	source_close(db);
	hc_close(c);
	return check_status();
}
