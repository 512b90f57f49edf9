/*
 * prefix_invalidation.c - prefix invalidation: keys are named in
 * namespaces ("v1:user:42", "v1:team:2"), and one call drops a whole
 * namespace: after a schema change, a bulk import, or a bug that cached
 * bad values for one kind of key.
 *
 *     invalidate_prefix("v1:user:")     O(1): it ends at the delimiter
 *     invalidate_prefix("v1:user:4")    a scan of the index (count dropped)
 *
 * A prefix that ends with the segment's delimiter (hc_config.delimiter,
 * ':' by default) costs what a tag does: it is recorded, not searched.
 * Any other prefix is an incremental scan that blocks nobody but takes
 * time in proportion to the index.  Versioned namespaces ("v1:", "v2:")
 * give a third way: readers move to the new prefix and the old keys age
 * out.
 *
 * Promises checked: a scan of "v1:user:1" drops exactly the keys that
 * start with it; after invalidate_prefix("v1:user:") every v1:user: key
 * misses and every v1:team: key still hits.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* Cache N keys of SPACE ("user": names, "team": member lists) from the
 * database. */
static void fill(hc_cache *c, source *db, const char *space, int n)
{
	char key[64], value[1024];

	for (int i = 1; i <= n; i++) {
		int klen = snprintf(key, sizeof key, "v1:%s:%d", space, i);

		if (strcmp(space, "user") == 0)
			source_user_name(db, i, value, sizeof value);
		else
			source_team_members(db, i, value, sizeof value);
		hc_must(hc_set(c, key, (size_t)klen, value, strlen(value),
		               60000), key);
	}
}

/* How many of SPACE's N keys hit. */
static int hits(hc_cache *c, const char *space, int n)
{
	char key[64], value[1024];
	int found = 0;

	for (int i = 1; i <= n; i++) {
		size_t len;
		int klen = snprintf(key, sizeof key, "v1:%s:%d", space, i);
		int rc = hc_get(c, key, (size_t)klen, value, sizeof value, &len);

		if (rc != HC_ENOTFOUND)
			hc_must(rc, key);
		found += rc == 0;
	}
	return found;
}

int main(void)
{
	uint64_t dropped;

	source_init();
	hc_cache *c = segment_create("prefix", NULL);
	source *db = source_open(1);

	fill(c, db, "user", 50);
	fill(c, db, "team", 9);

	/* Not at the delimiter: a scan, which counts what it dropped. */
	hc_must(hc_invalidate_prefix(c, "v1:user:1", 9, &dropped), "v1:user:1");
	int users = hits(c, "user", 50);

	printf("invalidate_prefix(\"v1:user:1\") scanned and dropped %llu "
	       "keys; %d of 50 user keys hit\n", (unsigned long long)dropped,
	       users);
	/* v1:user:1 and v1:user:10 to v1:user:19 start with it. */
	check(dropped == 11 && users == 39, "the scan dropped the 11 keys "
	      "that start with v1:user:1 and no other");

	hc_must(hc_invalidate_prefix(c, "v1:user:", 8, &dropped), "v1:user:");
	users = hits(c, "user", 50);
	int teams = hits(c, "team", 9);

	printf("invalidate_prefix(\"v1:user:\"): %d of 50 user keys and %d of "
	       "9 team keys hit\n", users, teams);
	check(users == 0, "every v1:user: key misses");
	check(teams == 9, "v1:team: keys still hit");

	source_close(db);
	hc_close(c);
	return check_status();
}
