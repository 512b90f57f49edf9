/*
 * tag_invalidation.c - tag invalidation: every cached thing derived from
 * user 42 (its name, a profile card, a rendered page) carries the tag
 * "user:42", whatever its key; one hc_invalidate_tag("user:42") makes all
 * of them miss, for every process, in O(1), without knowing their keys.
 *
 *     set_ex(key, value, { .tags = { "user:42" } })   for each of them
 *     on a change of user 42:  invalidate_tag("user:42")
 *
 * An item carries up to HC_MAX_ITEM_TAGS (4) tags.  Invalidation is
 * exact for the tag named and never makes an item of another tag hit
 * stale; two tags that share a slot of the segment's table may make the
 * other's items miss too (a spurious miss, never a stale read).
 *
 * Promise checked: after the tag is invalidated, the three items of user
 * 42 miss and the items of user 43 still hit.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static const char *const views[] = { "user:%ld:name", "user:%ld:card",
                                     "page:/users/%ld" };
#define NVIEWS 3

/* Build and cache every view of user ID, each tagged "user:ID". */
static void cache_views(hc_cache *c, source *db, long id)
{
	char tag[32], key[64], name[64], value[192];
	const char *tags[] = { tag };
	hc_set_options opt = { .ttl_ms = 60000, .tags = tags, .ntags = 1 };

	snprintf(tag, sizeof tag, "user:%ld", id);
	source_user_name(db, id, name, sizeof name);
	for (int v = 0; v < NVIEWS; v++) {
		snprintf(key, sizeof key, views[v], id);
		snprintf(value, sizeof value, "%s of %s", key, name);
		hc_must(hc_set_ex(c, key, strlen(key), value, strlen(value), &opt),
		        key);
	}
}

/* How many views of user ID hit. */
static int views_cached(hc_cache *c, long id)
{
	char key[64], value[192];
	int hits = 0;

	for (int v = 0; v < NVIEWS; v++) {
		size_t len;

		snprintf(key, sizeof key, views[v], id);
		int rc = hc_get(c, key, strlen(key), value, sizeof value, &len);

		if (rc != HC_ENOTFOUND)
			hc_must(rc, key);
		hits += rc == 0;
	}
	return hits;
}

int main(void)
{
	source_init();
	hc_cache *c = segment_create("tags", NULL);
	source *db = source_open(1);

	cache_views(c, db, 42);
	cache_views(c, db, 43);
	check(views_cached(c, 42) == NVIEWS && views_cached(c, 43) == NVIEWS,
	      "both users' views are cached");

	source_rename(db, 42, "carol");
	hc_must(hc_invalidate_tag(c, "user:42"), "invalidate user:42");
	int hits42 = views_cached(c, 42), hits43 = views_cached(c, 43);

	printf("after invalidate_tag(\"user:42\"): %d of %d views of user 42 "
	       "hit, %d of %d of user 43\n", hits42, NVIEWS, hits43, NVIEWS);
	check(hits42 == 0, "every item tagged user:42 misses");
	check(hits43 == NVIEWS, "items of another tag still hit");

	cache_views(c, db, 42);  /* rebuilt from the database: named carol */
	check(views_cached(c, 42) == NVIEWS, "items set after the "
	      "invalidation hit again");

	source_close(db);
	hc_close(c);
	return check_status();
}
