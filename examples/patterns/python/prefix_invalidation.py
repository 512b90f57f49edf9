"""prefix_invalidation.py - prefix invalidation: keys are named in
namespaces ("v1:user:42", "v1:team:2"), and one call drops a whole
namespace: after a schema change, a bulk import, or a bug that cached bad
values for one kind of key.

    cache.invalidate_prefix("v1:user:")     O(1): it ends at the delimiter
    cache.invalidate_prefix("v1:user:4")    a scan (returns the count)

A prefix that ends with the segment's delimiter (':' unless the segment was
created with another) costs what a tag does: it is recorded, not searched.
Any other prefix is an incremental scan that blocks nobody but takes time
in proportion to the index.  Versioned namespaces ("v1:", "v2:") give a
third way: readers move to the new prefix and the old keys age out.

Promises checked: a scan of "v1:user:1" drops exactly the keys that start
with it; after invalidate_prefix("v1:user:") every v1:user: key misses and
every v1:team: key still hits.
"""

from harness import check, run


def fill(cache, db, space, n):
    """Cache N keys of SPACE ("user": names, "team": member lists)."""
    load = db.user_name if space == "user" else db.team_members
    for i in range(1, n + 1):
        cache.set("v1:%s:%d" % (space, i), load(i), ttl=60)


def hits(cache, space, n):
    return sum(cache.get("v1:%s:%d" % (space, i)) is not None
               for i in range(1, n + 1))


def main(cache, db):
    fill(cache, db, "user", 50)
    fill(cache, db, "team", 9)

    # Not at the delimiter: a scan, which counts what it dropped.
    dropped = cache.invalidate_prefix("v1:user:1")
    users = hits(cache, "user", 50)
    print('invalidate_prefix("v1:user:1") scanned and dropped %d keys; '
          '%d of 50 user keys hit' % (dropped, users))
    # v1:user:1 and v1:user:10 to v1:user:19 start with it.
    check(dropped == 11 and users == 39, "the scan dropped the 11 keys "
          "that start with v1:user:1 and no other")

    cache.invalidate_prefix("v1:user:")
    users, teams = hits(cache, "user", 50), hits(cache, "team", 9)
    print('invalidate_prefix("v1:user:"): %d of 50 user keys and %d of '
          '9 team keys hit' % (users, teams))
    check(users == 0, "every v1:user: key misses")
    check(teams == 9, "v1:team: keys still hit")


if __name__ == "__main__":
    run("prefix", main)
