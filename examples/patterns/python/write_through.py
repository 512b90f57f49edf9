"""write_through.py - write-through: every write goes to the database and
then, in the same helper, to the cache, so that the cache holds the new
value before the write returns and readers never have to miss for it.

    update(db, key, value);  then  cache.set(key, value, ttl=...)

The database comes first: it is the record.  Had the cache been set first
and the update failed, readers would be served a value that was never
stored.  When the set fails after the update, the key is deleted, so that
the next read goes to the database rather than to the old value.

Promise checked: after 50 renames through the helper, reading every renamed
user returns the new name without one database query.
"""

import sys

import hostcache
from harness import check, run

TTL = 60


def user_rename(cache, db, user_id, name):
    """The pattern: the only way the application changes a name."""
    key = "user:%d:name" % user_id
    db.rename(user_id, name)
    try:
        cache.set(key, name, ttl=TTL)
    except hostcache.HostcacheError as e:
        print("%s: %s; dropping it" % (key, e), file=sys.stderr)
        cache.delete(key)


def user_name(cache, db, user_id):
    """Readers: cache-aside (cache_aside.py), which here never misses."""
    value = cache.get("user:%d:name" % user_id)
    return value.decode() if value is not None else db.user_name(user_id)


def main(cache, db):
    for user_id in range(1, 51):
        user_rename(cache, db, user_id, "renamed%d" % user_id)
    before = db.queries()
    right = sum(user_name(cache, db, i) == "renamed%d" % i
                for i in range(1, 51))
    queries = db.queries() - before
    print("50 renames written through, then 50 reads: %d queries"
          % queries)
    check(right == 50, "every read returned the new name (%d of 50)"
          % right)
    check(queries == 0, "no read went to the database (%d)" % queries)


if __name__ == "__main__":
    run("write-through", main)
