"""warming.py - cache warming: fill the cache with the hot set before the
first request, then keep it warm on a schedule, so that requests for the
hot set never miss: neither the first ones after a start (a deploy, a new
segment) nor any later one when entries reach their TTL.

    start-up:    for each hot key: cache.set(key, query(db), ttl=TTL)
    every TICK:  for each hot key: item = cache.get_item(key); when it is
                 None or item["ttl"] < THRESHOLD: cache.set(key, ...)

The hot set comes from what the application knows: here the first 30
users; often the keys most read the day before, or the items of a dump
(cachectl dump, then cachectl restore into the new segment).  The schedule
runs in a process of its own, a sidecar that stops when its pipe from the
application closes.  Re-warming long before the TTL ends (THRESHOLD many
TICKs) leaves room for a warmer that runs late.

Promises checked: right after warming, the first request for every hot key
hits (30 of 30); while the schedule runs, over more than two TTLs, no
request misses and no request queries the database, while a key set at the
same time outside the schedule expires.
"""

import os
import select
import time

from harness import Source, check, fork_one, run

HOT = 30          # the hot set: users 1..HOT
TTL = 1.5
THRESHOLD = 1.0   # re-warm a key with less TTL than this left
TICK = 0.1        # how often the warmer looks
RUN = 4.0         # how long the requests go on: over two TTLs


def load(cache, db, user_id):
    cache.set("user:%d:name" % user_id, db.user_name(user_id), ttl=TTL)


def rewarm(cache, db):
    """The pattern, on a schedule: re-warm the hot keys that expire
    soon."""
    for user_id in range(1, HOT + 1):
        item = cache.get_item("user:%d:name" % user_id)
        if item is None or item["ttl"] < THRESHOLD:
            load(cache, db, user_id)


def warmer(cache, stop):
    """Every TICK, until the pipe STOP closes."""
    db = Source()
    while not select.select([stop], [], [], TICK)[0]:
        rewarm(cache, db)
    db.close()


def start_warmer(cache):
    """The warmer in a process of its own; the pipe end that stops it."""
    r, w = os.pipe()

    def body():
        os.close(w)
        warmer(cache, r)

    pid = fork_one(body)
    os.close(r)
    return pid, w


def request(cache, db, user_id):
    """A request: True on a hit; on a miss read through (cache-aside)."""
    if cache.get("user:%d:name" % user_id) is not None:
        return True
    load(cache, db, user_id)
    return False


def main(cache, db):
    for user_id in range(1, HOT + 1):  # start-up
        load(cache, db, user_id)
    load(cache, db, HOT + 1)  # the same TTL, not in the schedule
    pid, stop = start_warmer(cache)
    warmed = db.queries()

    hits = sum(request(cache, db, i) for i in range(1, HOT + 1))
    check(hits == HOT, "after warming, the first request for each hot "
          "key hits (%d of %d)" % (hits, HOT))

    requests = misses = 0
    end = time.monotonic() + RUN
    while time.monotonic() < end:
        for user_id in range(1, HOT + 1):
            requests += 1
            misses += not request(cache, db, user_id)
        time.sleep(0.01)
    queries = db.queries()

    os.close(stop)  # the warmer stops
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    outside = cache.get("user:%d:name" % (HOT + 1))
    print("%d hot keys and one outside the schedule warmed with %d "
          "queries; %d requests in %d s (TTL %d ms): %d misses; %d "
          "queries since" % (HOT, warmed, requests, RUN, TTL * 1000,
                             misses, queries - warmed))
    check(code == 0, "the warmer ran to the end")
    check(misses == 0, "no hot key expired while the schedule ran "
          "(misses: %d)" % misses)
    check(queries - warmed - misses >= HOT, "the warmer re-warmed them "
          "(%d queries)" % (queries - warmed - misses))
    check(outside is None, "a key outside the schedule expired")


if __name__ == "__main__":
    run("warming", main)
