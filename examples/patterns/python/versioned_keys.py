"""versioned_keys.py - versioned keys: the version of a namespace is an item
of its own ("v:users"), and every key of the namespace carries it
("users:v<N>:<id>").  Bumping the version (incr) makes every key of the old
version unreachable at once, for every process: readers build their keys
with the new number and miss; the old items are not read again and age out
by their TTL, or by eviction before.

    n = cache.get("v:users")     (None: add it, see below)
    key = "users:v%d:%d" % (n, user_id);  cache-aside on key
    invalidate them all:         cache.incr("v:users")

A new segment holds no keys yet, so its version may start at 1.  The
version item has no TTL, but a cache may still evict it; were it made
again at 1, the keys of versions 1, 2... would be reachable again, with
what they held then.  So a version found missing is made (add(): one
process wins) from the realtime clock in ms, larger than any version before
it as long as bumps are fewer than one per ms.

Promises checked: after the database is changed and the version bumped, no
read returns an old name, and the database is asked again exactly once per
key (20 queries for 20 users read twice); the old items are still in the
cache, unreachable, until their TTL.  A version item lost and made again
reaches no old key.
"""

import time

from harness import check, run

USERS = 20
TTL = 60


def users_version(cache):
    """The namespace's version: read, or made if missing (or evicted)."""
    while True:
        value = cache.get("v:users")
        if value is not None:
            return int(value)
        cache.add("v:users", "%d" % (time.time() * 1000))  # one wins


def user_name(cache, db, user_id):
    """The pattern: cache-aside under the current version's key."""
    key = "users:v%d:%d" % (users_version(cache), user_id)
    value = cache.get(key)
    if value is not None:
        return value.decode()
    name = db.user_name(user_id)
    cache.set(key, name, ttl=TTL)
    return name


def read_all(cache, db, name):
    """Read every user twice: how many reads returned NAME<id>."""
    return sum(user_name(cache, db, i) == "%s%d" % (name, i)
               for _ in range(2) for i in range(1, USERS + 1))


def main(cache, db):
    cache.set("v:users", "1")
    right = read_all(cache, db, "user")
    queries = db.queries()
    old = users_version(cache)
    check(right == 2 * USERS and queries == USERS, "version %d: %d "
          "reads, %d right, %d queries" % (old, 2 * USERS, right,
                                          queries))

    for user_id in range(1, USERS + 1):
        db.rename(user_id, "new%d" % user_id)
    now = cache.incr("v:users")
    right = read_all(cache, db, "new")
    queries = db.queries() - queries
    print("renamed every user, bumped the version to %d; %d reads: %d "
          "new names, %d queries" % (now, 2 * USERS, right, queries))
    check(right == 2 * USERS, "no read after the bump returned an old "
          "name (%d of %d new)" % (right, 2 * USERS))
    check(queries == USERS, "the database was asked once per key (%d "
          "for %d)" % (queries, USERS))
    key = "users:v%d:1" % old
    check(cache.get(key) is not None, "%s is still in the cache, "
          "unreachable, until its TTL" % key)

    # The version item lost, as an eviction would lose it.
    cache.delete("v:users")
    name = user_name(cache, db, 1)
    made = users_version(cache)
    check(made > now and name == "new1", "a version made again (%d) "
          "reaches no old key (%s)" % (made, name))


if __name__ == "__main__":
    run("versioned", main)
