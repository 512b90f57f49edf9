"""tag_invalidation.py - tag invalidation: every cached thing derived from
user 42 (its name, a profile card, a rendered page) carries the tag
"user:42", whatever its key; one cache.invalidate_tag("user:42") makes all
of them miss, for every process, in O(1), without knowing their keys.

    cache.set(key, value, ttl=..., tags=["user:42"])   for each of them
    on a change of user 42:  cache.invalidate_tag("user:42")

An item carries up to 4 tags.  Invalidation is exact for the tag named and
never makes an item of another tag hit stale; two tags that share a slot of
the segment's table may make the other's items miss too (a spurious miss,
never a stale read).

Promise checked: after the tag is invalidated, the three items of user 42
miss and the items of user 43 still hit.
"""

from harness import check, run

VIEWS = ("user:%d:name", "user:%d:card", "page:/users/%d")


def cache_views(cache, db, user_id):
    """Build and cache every view of USER_ID, each tagged "user:ID"."""
    name = db.user_name(user_id)
    for view in VIEWS:
        key = view % user_id
        cache.set(key, "%s of %s" % (key, name), ttl=60,
                  tags=["user:%d" % user_id])


def views_cached(cache, user_id):
    return sum(cache.get(view % user_id) is not None for view in VIEWS)


def main(cache, db):
    cache_views(cache, db, 42)
    cache_views(cache, db, 43)
    check(views_cached(cache, 42) == views_cached(cache, 43) == 3,
          "both users' views are cached")

    db.rename(42, "carol")
    cache.invalidate_tag("user:42")
    hits42, hits43 = views_cached(cache, 42), views_cached(cache, 43)
    print('after invalidate_tag("user:42"): %d of 3 views of user 42 '
          'hit, %d of 3 of user 43' % (hits42, hits43))
    check(hits42 == 0, "every item tagged user:42 misses")
    check(hits43 == 3, "items of another tag still hit")

    cache_views(cache, db, 42)  # rebuilt from the database: carol
    check(views_cached(cache, 42) == 3,
          "items set after the invalidation hit again")


if __name__ == "__main__":
    run("tags", main)
