/*
 * negative_caching.c - negative caching: remember, briefly, that the
 * database has no such row, so that lookups of a missing id (a typo in a
 * URL, a crawler, an attacker probing ids) are not a query each.
 *
 *     rc = get(key)
 *     HC_ENEGATIVE:  known absent, answer "not found" without the database
 *     HC_ENOTFOUND:  query; found: set(key, value);
 *                    absent: set_ex(key, "", { .flags = HC_ITEM_NEGATIVE,
 *                                             .ttl_ms = short })
 *
 * The TTL of a negative entry bounds how long a row created meanwhile
 * stays invisible; the writer that creates the row can also delete the
 * key at once (invalidate on write, invalidate_on_write.c).
 *
 * Promises checked: 100 lookups of a missing user ask the database once;
 * once the user is created and its key deleted, the next lookup finds it.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define NEGATIVE_TTL_MS 5000   /* how long "no such user" is believed */

/* The pattern: 1 found (name in BUF), 0 no such user. */
static int user_name(hc_cache *c, source *db, long id, char *buf, size_t cap)
{
	char key[32];
	int klen = snprintf(key, sizeof key, "user:%ld:name", id);
	int rc = get_string(c, key, (size_t)klen, buf, cap);

	if (rc == 0)
		return 1;
	if (rc == HC_ENEGATIVE)
		return 0;
	if (rc != HC_ENOTFOUND)
		hc_must(rc, key);
	if (source_user_name(db, id, buf, cap)) {
		hc_must(hc_set(c, key, (size_t)klen, buf, strlen(buf), 60000), key);
		return 1;
	}
	hc_set_options absent = { .ttl_ms = NEGATIVE_TTL_MS,
	                          .flags = HC_ITEM_NEGATIVE };

	hc_must(hc_set_ex(c, key, (size_t)klen, "", 0, &absent), key);
	return 0;
}

int main(void)
{
	char name[64];
	int found = 0;
	hc_stats st;

	source_init();
	hc_cache *c = segment_create("negative", NULL);
	source *db = source_open(1);
	long missing = SOURCE_USERS + 404;

	for (int i = 0; i < 100; i++)
		found += user_name(c, db, missing, name, sizeof name);
	long queries = source_queries(db);

	hc_must(hc_stats_get(c, &st), "stats");
	printf("100 lookups of missing user %ld: %d found, %ld queries, %llu "
	       "negative hits\n", missing, found, queries,
	       (unsigned long long)st.negative_hits);
	check(found == 0, "the user is reported absent every time");
	check(queries == 1, "the database was asked once (%ld)", queries);

	/* The row appears: its writer drops the negative entry. */
	char key[32];
	int klen = snprintf(key, sizeof key, "user:%ld:name", missing);

	source_rename(db, missing, "erin");
	hc_must(hc_delete(c, key, (size_t)klen), key);
	found = user_name(c, db, missing, name, sizeof name);
	check(found && strcmp(name, "erin") == 0, "after the insert and the "
	      "delete the user is found (%s)", found ? name : "absent");

	source_close(db);
	hc_close(c);
	return check_status();
}
