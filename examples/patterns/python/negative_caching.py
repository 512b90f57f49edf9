"""negative_caching.py - negative caching: remember, briefly, that the
database has no such row, so that lookups of a missing id (a typo in a URL,
a crawler, an attacker probing ids) are not a query each.

    item = cache.get_item(key)
    item["negative"]:  known absent, answer "not found" without the database
    None:              query; found: cache.set(key, value, ttl=...)
                       absent: cache.set(key, b"", ttl=short, negative=True)

A negative entry is an item flagged as "known absent" (HC_ITEM_NEGATIVE in
C): get() reads it as a miss, get_item() says "negative", and
get_or_set() returns None for it without loading.  The TTL of a negative
entry bounds how long a row created meanwhile stays invisible; the writer
that creates the row can also delete the key at once (invalidate on write).
The decorator hostcache.cached(cache, ttl=..., negative=True) caches a
function's None results in the same spirit, at the TTL of its other
results.

Promises checked: 100 lookups of a missing user ask the database once; once
the user is created and its key deleted, the next lookup finds it.
"""

from harness import USERS, check, run

NEGATIVE_TTL = 5  # seconds "no such user" is believed


def user_name(cache, db, user_id):
    """The pattern: the name, or None for no such user."""
    key = "user:%d:name" % user_id
    item = cache.get_item(key)
    if item is not None:
        return None if item["negative"] else item["value"].decode()
    name = db.user_name(user_id)
    if name is None:
        cache.set(key, b"", ttl=NEGATIVE_TTL, negative=True)
    else:
        cache.set(key, name, ttl=60)
    return name


def main(cache, db):
    missing = USERS + 404
    found = [user_name(cache, db, missing) for _ in range(100)]
    queries = db.queries()
    print("100 lookups of missing user %d: %d found, %d queries, %d "
          "negative hits" % (missing, 100 - found.count(None), queries,
                             cache.stats()["negative_hits"]))
    check(found == [None] * 100, "the user is reported absent every "
          "time")
    check(queries == 1, "the database was asked once (%d)" % queries)

    # The row appears: its writer drops the negative entry.
    db.rename(missing, "erin")
    cache.delete("user:%d:name" % missing)
    name = user_name(cache, db, missing)
    check(name == "erin", "after the insert and the delete the user "
          "is found (%s)" % name)


if __name__ == "__main__":
    run("negative", main)
