"""cas_update.py - read-modify-write with CAS: cache.gets() returns a value
with its CAS id; cache.cas() stores the changed value only if nobody wrote
the key since (else it returns False and the caller reads again).  No lock,
and no update lost between processes that change one entry at once (for
plain counters, cache.incr() is one call).

    while True:
        value, cas = cache.gets(key)
        if cache.cas(key, change(value), cas):
            break

Here 4 processes each add 300 visits to a user's cached "name visits"
record, loaded once from the database.

Promise checked: the record ends at 1200 visits: no update was lost, at
any number of retries.
"""

from harness import check, fork_together, run

PROCS, VISITS = 4, 300


def add_visit(cache):
    """The pattern: add one visit; returns how many retries it took."""
    retries = 0
    while True:
        value, cas = cache.gets("user:3:visits")
        name, visits = value.decode().split()
        if cache.cas("user:3:visits", "%s %d" % (name, int(visits) + 1), cas):
            return retries
        retries += 1


def visitor(cache, i):
    retries = sum(add_visit(cache) for _ in range(VISITS))
    print("process %d: %d visits, %d retries" % (i, VISITS, retries))
    return 0


def main(cache, db):
    cache.set("user:3:visits", "%s 0" % db.user_name(3))
    codes = fork_together(PROCS, lambda i: visitor(cache, i))
    value = cache.get("user:3:visits").decode()
    want = "user3 %d" % (PROCS * VISITS)
    check(codes == [0] * PROCS, "every process finished its updates")
    check(value == want, 'no update was lost: "%s" (want "%s")'
          % (value, want))


if __name__ == "__main__":
    run("cas", main)
