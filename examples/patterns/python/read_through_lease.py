"""read_through_lease.py - read-through with a lease: when many processes
miss one key at once (a popular entry expired, a deploy emptied the cache),
only one of them queries the database; the others wait for its value
instead of all asking the database the same question (a "stampede").

    value = cache.get_or_set(key, loader, ttl=..., lease=..., wait=...)

Of the processes that miss KEY at once, one calls LOADER and stores what it
returns (hc_get_or_lease / hc_lease_fill underneath); the others wait up to
WAIT seconds for that value, then call LOADER themselves.  A loader that
raises gives the lease back, and the next caller loads.

Promise checked: 6 processes released together on a missing key, the query
taking 0.3 s, ask the database once between them (counted in the
database), and every one of them gets the right value.
"""

import sys

from harness import Source, check, fork_together, segment, status

PROCS = 6
GOT_FROM_CACHE, QUERIED, WRONG = 0, 1, 2


def reader(cache):
    """One process: user 7's name, loaded under the lease if missing."""
    loaded = []

    def load():
        db = Source(delay=0.3)
        try:
            loaded.append(True)
            return db.user_name(7)
        finally:
            db.close()

    value = cache.get_or_set("user:7", load, ttl=60, lease=5, wait=10)
    if value != b"user7":
        return WRONG
    return QUERIED if loaded else GOT_FROM_CACHE


def main():
    Source.create()
    with segment("read-through") as cache:
        outcomes = fork_together(PROCS, lambda i: reader(cache))
        db = Source()
        queries = db.queries()
        db.close()
        print("%d processes missed user:7 at once: %d queried, %d were given "
              "its value (%d waited on the lease)"
              % (PROCS, outcomes.count(QUERIED), outcomes.count(GOT_FROM_CACHE),
                 cache.stats()["lease_waits"]))
        check(all(o in (QUERIED, GOT_FROM_CACHE) for o in outcomes),
              "every process got the right value")
        check(queries == 1, "the database was asked once (%d)" % queries)
    return status()


if __name__ == "__main__":
    sys.exit(main())
