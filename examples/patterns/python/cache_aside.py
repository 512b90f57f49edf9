"""cache_aside.py - cache-aside: the application asks the cache first; on a
miss it queries the database itself and stores the answer with a TTL.

    value = cache.get(key)
    on a miss:  value = query(db);  cache.set(key, value, ttl=...)

Promise checked: 200 requests over 20 users ask the database 20 times (once
per user), and an entry that has outlived its TTL is asked for again.
"""

import time

from harness import check, run

TTL = 60  # seconds a cached name may be served


def user_name(cache, db, user_id, ttl=TTL):
    """The pattern: one function that every reader calls."""
    key = "user:%d:name" % user_id
    value = cache.get(key)
    if value is not None:
        return value.decode()
    name = db.user_name(user_id)
    if name is None:
        return None  # no such user: see negative_caching.py
    cache.set(key, name, ttl=ttl)
    return name


def main(cache, db):
    right = all(user_name(cache, db, 1 + i % 20) == "user%d" % (1 + i % 20)
                for i in range(200))
    queries = db.queries()
    print("200 requests for 20 users: %d database queries" % queries)
    check(right, "every request got the user's name")
    check(queries == 20, "one query per user (%d)" % queries)

    # Expiry: a short TTL, then past it the entry is a miss again.
    cache.delete("user:1:name")
    user_name(cache, db, 1, ttl=0.05)
    time.sleep(0.15)
    user_name(cache, db, 1, ttl=0.05)
    queries = db.queries() - queries
    check(queries == 2, "past its TTL an entry is queried again (%d "
          "queries for 2 requests)" % queries)


if __name__ == "__main__":
    run("cache-aside", main)
