/*
 * write_through.c - write-through: every write goes to the database and
 * then, in the same helper, to the cache, so that the cache holds the new
 * value before the write returns and readers never have to miss for it.
 *
 *     update(db, key, value);  then  set(key, value, ttl)
 *
 * The database comes first: it is the record.  Had the cache been set
 * first and the update failed, readers would be served a value that was
 * never stored.  When the set fails after the update, the key is deleted,
 * so that the next read goes to the database rather than to the old value.
 *
 * Promise checked: after 50 renames through the helper, reading every
 * renamed user returns the new name without one database query.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define TTL_MS 60000

static int user_key(long id, char *key, size_t cap)
{
	return snprintf(key, cap, "user:%ld:name", id);
}

/* The pattern: the only way the application changes a name. */
static void user_rename(hc_cache *c, source *db, long id, const char *name)
{
	char key[32];
	int klen = user_key(id, key, sizeof key);

	source_rename(db, id, name);
	if (hc_set(c, key, (size_t)klen, name, strlen(name), TTL_MS) != 0) {
		fprintf(stderr, "%s: %s; dropping it\n", key, hc_last_error());
		hc_delete(c, key, (size_t)klen);
	}
}

int main(void)
{
	char key[32], name[64], want[64];
	int right = 0;

	source_init();
	hc_cache *c = segment_create("write-through", NULL);
	source *db = source_open(1);

	for (long id = 1; id <= 50; id++) {
		snprintf(name, sizeof name, "renamed%ld", id);
		user_rename(c, db, id, name);
	}
	long before = source_queries(db);

	/* Readers: a cache-aside read (cache_aside.c) that never misses. */
	for (long id = 1; id <= 50; id++) {
		size_t len;
		int klen = user_key(id, key, sizeof key);
		int rc = hc_get(c, key, (size_t)klen, name, sizeof name - 1, &len);

		if (rc == HC_ENOTFOUND) {
			source_user_name(db, id, name, sizeof name);
			len = strlen(name);
		} else {
			hc_must(rc, key);
		}
		name[len] = '\0';
		snprintf(want, sizeof want, "renamed%ld", id);
		right += strcmp(name, want) == 0;
	}
	long queries = source_queries(db) - before;

	printf("50 renames written through, then 50 reads: %ld queries\n",
	       queries);
	check(right == 50, "every read returned the new name (%d of 50)", right);
	check(queries == 0, "no read went to the database (%ld)", queries);

	source_close(db);
	hc_close(c);
	return check_status();
}
