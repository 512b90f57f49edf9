/*
 * invalidate_on_write.c - invalidate on write: a write updates the
 * database and then removes the cached copy; the next read misses and
 * loads the new value.  Unlike write-through, the writer need not know how
 * to build the cached value (it may be a rendering of several rows).
 *
 *     update(db, ...);  then  delete(key)  or  invalidate_tag("user:ID")
 *
 * Order matters: deleting before the update lets a reader reload the old
 * row in between and cache it again.  One race remains even after the
 * update: a reader that read the old row just before the update stores it
 * just after the delete.  A read under a lease (hc_get_or_lease,
 * hc_lease_fill) closes it: a fill loses to a delete of the key, or to any
 * invalidation of its tags, made since its lease was granted.
 *
 * Promises checked: after a write, the next read returns the new name; a
 * read that loaded the old name before the write does not cache it.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* Entries of user ID: key "user:ID:name", tagged "user:ID". */
static void user_names(long id, char *key, char *tag)
{
	snprintf(key, 32, "user:%ld:name", id);
	snprintf(tag, 32, "user:%ld", id);
}

/* Start a read of user ID's name: a hit fills BUF and returns 1; a miss
 * returns 0 with the lease (if granted) and the name from the database. */
static int read_begin(hc_cache *c, source *db, long id, hc_lease *lease,
                      char *buf, size_t cap)
{
	char key[32], tag[32];
	hc_item_info info;

	user_names(id, key, tag);
	int rc = hc_get_or_lease(c, key, strlen(key), buf, cap - 1, &info,
	                         5000, 5000, lease);

	if (rc == 0) {
		buf[info.vlen] = '\0';
		return 1;
	}
	if (rc != HC_ENOTFOUND && rc != HC_ETIMEDOUT)
		hc_must(rc, key);
	source_user_name(db, id, buf, cap);
	return 0;
}

/* Finish a read that missed: store what was loaded, under the lease. */
static void read_end(hc_cache *c, long id, hc_lease *lease, const char *name)
{
	char key[32], tag[32];
	const char *tags[] = { tag };

	user_names(id, key, tag);
	hc_set_options opt = { .ttl_ms = 60000, .tags = tags, .ntags = 1 };

	if (lease->held)  /* HC_ENOLEASE: taken over; still stored if newest */
		hc_lease_fill(c, lease, key, strlen(key), name, strlen(name), &opt);
	else
		hc_must(hc_set_ex(c, key, strlen(key), name, strlen(name), &opt),
		        key);
}

static void user_name(hc_cache *c, source *db, long id, char *buf, size_t cap)
{
	hc_lease lease;

	if (!read_begin(c, db, id, &lease, buf, cap))
		read_end(c, id, &lease, buf);
}

/* The pattern: the write, then the invalidation of what it changed. */
static void user_rename(hc_cache *c, source *db, long id, const char *name)
{
	char key[32], tag[32];

	user_names(id, key, tag);
	source_rename(db, id, name);
	hc_must(hc_invalidate_tag(c, tag), tag);
}

int main(void)
{
	char name[64];
	hc_lease lease;

	source_init();
	hc_cache *c = segment_create("invalidate", NULL);
	source *db = source_open(1);

	user_name(c, db, 5, name, sizeof name);  /* cached: user5 */
	user_rename(c, db, 5, "alice");
	user_name(c, db, 5, name, sizeof name);
	check(strcmp(name, "alice") == 0, "the read after a write gets the new "
	      "name (%s)", name);

	/* The race, step by step: a read loads the old row, the write
	 * commits and invalidates, then the read stores what it loaded. */
	user_rename(c, db, 6, "user6");  /* nothing cached for user 6 yet */
	read_begin(c, db, 6, &lease, name, sizeof name);
	user_rename(c, db, 6, "bob");
	read_end(c, 6, &lease, name);  /* stores "user6": it must not read */
	printf("a read loaded \"%s\", a write made it \"bob\", then the read "
	       "stored \"%s\"\n", name, name);
	user_name(c, db, 6, name, sizeof name);
	check(strcmp(name, "bob") == 0, "the late fill lost to the write's "
	      "invalidation: the next read gets %s", name);

	source_close(db);
	hc_close(c);
	return check_status();
}
