"""refresh_ahead.py - refresh-ahead (probabilistic early refresh, XFetch):
an expensive value is recomputed by one reader shortly before it expires,
while everybody else is still served the old one, so that no reader ever
misses it and waits for the database.

    cache.set(key, value, ttl=TTL, compute=seconds_it_took)
    item = cache.get_item(key)
    hit and item["refresh"]:  if cache.add(lock, ...): recompute, set (with
                              its new compute time), delete the lock
    miss:                     recompute (refresh-ahead failed to be ahead)

get_item() says "refresh" with a probability that grows as expiry nears,
the faster the longer the value took to compute (Vattani et al.: now -
compute * ln(random) >= expiry).  With many reads, some read is told to
refresh about compute * ln(compute / time between reads) before expiry:
early enough for the recompute to finish in time, late enough that the
value is recomputed about once per TTL.  Readers told so at once are
several; the lock (add() of a key with a TTL, so that a refresher that dies
frees it) lets one of them recompute.

Promises checked: 4 processes reading one value every millisecond for two
TTLs, the value taking 0.2 s to compute, never miss it; the database is
asked once to load it and once per refresh, and the refreshes are about a
TTL apart (at most two per TTL).
"""

import time

from harness import Source, check, fork_together, run

READERS = 4
TTL = 4.0        # the value's lifetime
QUERY = 0.2      # what it takes to compute
RUN = 8.0        # how long the readers read: two TTLs
LOCK = 5.0       # a refresher that dies frees the lock after this


def load(cache, db):
    """Compute user 5's name and set it with the time that took."""
    t0 = time.monotonic()
    name = db.user_name(5)
    cache.set("user:5", name, ttl=TTL, compute=time.monotonic() - t0)


def read_once(cache, db, seen):
    """The pattern: one read of user 5's name."""
    seen["reads"] += 1
    item = cache.get_item("user:5")
    if item is None:
        seen["misses"] += 1
        load(cache, db)
        return
    if not item["refresh"]:
        return
    seen["told"] += 1
    if not cache.add("lock:user:5", "1", ttl=LOCK):
        return  # another reader refreshes it
    # Refreshed since this read said so (between the read and the add)?
    now = cache.get_item("user:5")
    if now is not None and now["cas"] == item["cas"]:
        load(cache, db)
        seen["refreshes"] += 1
        seen["least_left"] = min(seen["least_left"], item["ttl"])
    cache.delete("lock:user:5")


def reader(cache, i):
    """One process: read for RUN seconds, then print what it saw."""
    seen = {"reads": 0, "misses": 0, "told": 0, "refreshes": 0,
            "least_left": TTL}
    db = Source(delay=QUERY)
    end = time.monotonic() + RUN
    while time.monotonic() < end:
        read_once(cache, db, seen)
        time.sleep(0.001)
    db.close()
    print("reader %d: %d reads, %d misses, %d told to refresh early, %d "
          "refreshes" % (i, seen["reads"], seen["misses"], seen["told"],
                         seen["refreshes"]))
    # The parent adds up what matters from the counters below.
    cache.incr("count:misses", seen["misses"])
    cache.incr("count:refreshes", seen["refreshes"])
    cache.incr("count:told", seen["told"])
    if seen["refreshes"]:
        cache.set("count:left:%d" % i, "%d" % (seen["least_left"] * 1000))
    return 0


def main(cache, db):
    load(cache, db)
    for counter in ("misses", "refreshes", "told"):
        cache.set("count:" + counter, "0")
    codes = fork_together(READERS, lambda i: reader(cache, i))
    misses, refreshes, told = (int(cache.get("count:" + counter))
                               for counter in ("misses", "refreshes",
                                               "told"))
    lefts = [int(cache.get("count:left:%d" % i) or TTL * 1000)
             for i in range(READERS)]
    queries = db.queries()
    print("%d readers, %d s, TTL %d s: %d misses, %d told to refresh "
          "early, %d refreshes (%d ms or more before expiry), %d queries"
          % (READERS, RUN, TTL, misses, told, refreshes, min(lefts),
             queries))
    check(codes == [0] * READERS, "every reader ran to the end")
    check(misses == 0, "no reader missed the value (misses: %d)"
          % misses)
    check(refreshes >= RUN // TTL, "it was refreshed before it "
          "expired, every TTL (%d refreshes)" % refreshes)
    check(refreshes <= 2 * RUN // TTL, "about once per TTL, not once "
          "per reader told to (%d refreshes, %d told)"
          % (refreshes, told))
    check(queries == 1 + refreshes + misses, "the database was asked "
          "once to load and once per refresh (%d)" % queries)


if __name__ == "__main__":
    run("refresh-ahead", main, delay=QUERY)
