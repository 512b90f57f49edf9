"""write_behind.py - write-behind: a write is queued in the segment and
returns at once; a worker process (the drainer) applies the queue to the
database later, in order.  Readers go through the cache, which has the new
value at once; the database catches up.

    writer:   seq = cache.incr("q:seq"); cache.add("q:%d" % seq, "id name")
              cache.set("user:<id>:name", name)
    drainer:  for next = 1, 2, ...: cache.get("q:%d" % next), apply it to
              the database, cache.incr("q:done"), cache.delete(...)

The queue lives in the segment, not in the writer: a writer killed after
enqueueing loses nothing, because its entries are items like any other and
the drainer is another process.  incr() gives every entry its own number in
one order, so that writes to a key are applied in the order they were made.
A writer that dies between its incr() and its add() leaves a hole: a number
taken and no entry.  The drainer, after waiting a while for it, fills the
hole itself with add() ("skip").  Of the two add()s of one number exactly
one succeeds, so an entry is either applied or skipped, never lost once
added; a writer that loses (it was only slow) takes a new number.

The writer queues first and sets the cache second: the cache never shows a
write that is not queued.  Exactly once: there is one drainer, and it
applies each number once, in order.  A drainer that may itself die must
store its position in the same database transaction as the write it
applies, and resume from there.

Promises checked: a read through the cache sees a queued write that the
database does not have yet; of a writer's 200 writes and those of a writer
SIGKILLed while it enqueues, every one reaches the database once and in the
writer's order (so in order per key), including those queued before the
kill; the hole of a writer killed between its two calls is skipped; the
queue is empty afterwards.
"""

import json
import os
import signal
import time

from harness import Source, check, fork_one, run

WRITES_A = 200         # writer a: users 1..10, then exits
ACKS_BEFORE_KILL = 50  # writer b: users 11..20, killed after this many
HOLE = 0.2             # seconds a taken number may stay without entry
POLL = 0.005           # the drainer's pause when the queue is empty
TTL = 600              # cached values: far longer than the queue's lag


def user_rename(cache, user_id, name):
    """The pattern, writer side: queue the write, then show it in the
    cache."""
    while not cache.add("q:%d" % cache.incr("q:seq"), "%d %s"
                        % (user_id, name)):
        pass  # the drainer skipped that number: take another
    cache.set("user:%d:name" % user_id, name, ttl=TTL)


def writer(cache, w, writes, ack=None):
    """Writer W (0: 'a', users 1..10; 1: 'b', users 11..20): its N-th
    write names user base + N % 10 "<w><n>", so that the drainer can tell
    its order.  An ACK byte after each write (b pauses between)."""
    for n in range(writes):
        user_rename(cache, 1 + 10 * w + n % 10, "%s%d" % ("ab"[w], n))
        if ack is not None:
            os.write(ack, b"+")
            time.sleep(0.001)


def counter(cache, key):
    return int(cache.get(key, b"0"))


def drain(cache):
    """The pattern, drainer side: until "q:stop" is set and the queue is
    empty.  Returns what it applied."""
    db = Source(delay=0)
    d = {"applied": [0, 0], "others": 0, "skipped": 0, "disorder": 0}
    next_seq, waited = 1, 0.0
    while True:
        key = "q:%d" % next_seq
        entry = cache.get(key)
        if entry is not None:
            if entry != b"skip":
                user_id, name = entry.decode().split(" ", 1)
                db.rename(int(user_id), name)
                w = "ab".find(name[0])
                if w >= 0 and name[1:].isdigit():
                    d["disorder"] += int(name[1:]) != d["applied"][w]
                    d["applied"][w] += 1
                else:
                    d["others"] += 1
            cache.incr("q:done")
            cache.delete(key)
            next_seq, waited = next_seq + 1, 0.0
        elif counter(cache, "q:seq") < next_seq:  # empty
            if cache.get("q:stop") is not None:
                break
            time.sleep(POLL)
        elif waited < HOLE:  # taken: the entry is coming
            time.sleep(POLL)
            waited += POLL
        elif cache.add(key, "skip"):  # a hole, unless the entry came
            d["skipped"] += 1  # then read back as done above
    db.close()
    return d


def writer_killed(cache):
    """Writer b, killed once it has acknowledged ACKS_BEFORE_KILL writes:
    how many it acknowledged in all."""
    r, w = os.pipe()

    def body():
        os.close(r)
        writer(cache, 1, 1 << 30, w)

    pid = fork_one(body)
    os.close(w)
    acks = 0
    while acks < ACKS_BEFORE_KILL and os.read(r, 1):
        acks += 1
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while True:
        more = os.read(r, 64)
        if not more:
            break
        acks += len(more)
    os.close(r)
    return acks


def writer_killed_midway(cache):
    """A writer killed between its incr() and its add(): a hole."""
    def body():
        cache.incr("q:seq")
        os.kill(os.getpid(), signal.SIGKILL)

    os.waitpid(fork_one(body), 0)


def run_drainer(cache):
    """The drainer in its own process, until the queue is empty: what it
    applied."""
    r, w = os.pipe()

    def body():
        os.close(r)
        os.write(w, json.dumps(drain(cache)).encode())

    pid = fork_one(body)
    os.close(w)
    cache.set("q:stop", "1")
    report = b""
    while True:
        more = os.read(r, 4096)
        if not more:
            break
        report += more
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(report)


def database_has_last(db, w, applied):
    """Does the database have the last of writer W's APPLIED writes to each
    of its users?"""
    return all(db.user_name(1 + 10 * w + n % 10) == "%s%d" % ("ab"[w], n)
               for n in range(applied - 10, applied))


def main(cache, db):
    cache.set("q:seq", "0")
    cache.set("q:done", "0")

    user_rename(cache, 50, "erin")
    name = cache.get("user:50:name").decode()
    check(name == "erin", "a read through the cache sees the queued "
          "write at once (%s)" % name)
    name = db.user_name(50)
    check(name == "user50", "the database does not have it yet (%s)"
          % name)

    pid = fork_one(lambda: writer(cache, 0, WRITES_A))
    acks = writer_killed(cache)
    writer_killed_midway(cache)
    os.waitpid(pid, 0)
    before = counter(cache, "q:seq") - counter(cache, "q:done")
    print("queued: 1 write, %d of writer a, %d acknowledged by writer b "
          "before SIGKILL, a hole; queue depth %d"
          % (WRITES_A, acks, before))

    d = run_drainer(cache)
    after = counter(cache, "q:seq") - counter(cache, "q:done")
    applied = d["applied"]
    print("drained: %d + %d + %d writes applied, holes skipped: %d; "
          "queue depth %d" % (applied[0], applied[1], d["others"],
                              d["skipped"], after))
    # Writer b's kill may have made a second hole.
    check(1 <= d["skipped"] <= 2, "the hole left by a writer killed "
          "between its two calls was skipped (%d skipped)"
          % d["skipped"])
    check(d["disorder"] == 0, "every write was applied once, in its "
          "writer's order (%d out of order)" % d["disorder"])
    check(applied[0] == WRITES_A and d["others"] == 1 and
          database_has_last(db, 0, applied[0]), "the %d writes of the "
          "writer that exited reached the database" % WRITES_A)
    check(acks <= applied[1] <= acks + 1 and
          database_has_last(db, 1, applied[1]), "the killed writer's "
          "queued writes reached the database (%d, %d acknowledged)"
          % (applied[1], acks))
    name = db.user_name(50)
    check(name == "erin", "the database has the first write now (%s)"
          % name)
    check(after == 0, "the queue is empty (depth %d)" % after)


if __name__ == "__main__":
    run("write-behind", main, delay=0)
