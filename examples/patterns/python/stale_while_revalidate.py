"""stale_while_revalidate.py - keep serving while a value is recomputed.

A segment created with a stale grace (Cache.create(..., stale_grace=S))
keeps expired items for S more seconds.  cache.get_or_set() serves such an
item to everybody while the one caller that gets the lease refreshes it
(it calls the loader and returns the new value); the others are given the
old value at once instead of waiting.  cache.get() never returns an expired
item.

(Early refresh before expiry, XFetch, is refresh_ahead.py: a value set
with its compute time, cache.set(..., compute=seconds), and the read's
hint, cache.get_item(key)["refresh"].)

Promises checked: while one process refreshes an expired value, another is
served the old one without waiting; the database is asked once.
"""

import time

from harness import check, fork_together, run


def other_reader(cache):
    """Another process, during the refresh: served the stale value, with
    no wait and no load of its own?"""
    value = cache.get_or_set("user:9", lambda: "loaded again", ttl=60,
                             wait=0)
    return 0 if value == b"user9" else 1


def main(cache, db):
    cache.set("user:9", "user9", ttl=0.1)
    db.rename(9, "dave")
    time.sleep(0.2)  # past the TTL, within the grace
    check(cache.get("user:9") is None, "get() misses an expired item")

    served = []

    def refresh():  # called with the lease held
        served.extend(fork_together(1, lambda i: other_reader(cache)))
        return db.user_name(9)

    value = cache.get_or_set("user:9", refresh, ttl=60)
    check(served == [0], "meanwhile another process is served the "
          "stale value without waiting")
    check(value == b"dave" and cache.get("user:9") == b"dave",
          "after the refresh: %s" % value.decode())
    queries = db.queries()
    check(queries == 1, "the database was asked once (%d)" % queries)


if __name__ == "__main__":
    run("swr", main, delay=0.1, stale_grace=60)
