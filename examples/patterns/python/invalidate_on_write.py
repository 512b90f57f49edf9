"""invalidate_on_write.py - invalidate on write: a write updates the
database and then removes the cached copy; the next read misses and loads
the new value.  Unlike write-through, the writer need not know how to build
the cached value (it may be a rendering of several rows).

    update(db, ...);  then  cache.delete(key)  or  cache.invalidate_tag(tag)

Order matters: deleting before the update lets a reader reload the old row
in between and cache it again.  One race remains even after the update: a
reader that read the old row just before the update stores it just after
the delete.  Reads through get_or_set (a lease) close it: a value loaded
under a lease loses to a delete of the key, or to any invalidation of its
tags, made since the lease was granted.

Promises checked: after a write, the next read returns the new name; a read
that loaded the old name before the write does not cache it.
"""

from harness import check, run


def user_name(cache, db, user_id, load=None):
    """Reads: under a lease, tagged with the user."""
    tag = "user:%d" % user_id
    return cache.get_or_set(tag + ":name",
                            load or (lambda: db.user_name(user_id)),
                            ttl=60, tags=[tag]).decode()


def user_rename(cache, db, user_id, name):
    """The pattern: the write, then the invalidation of what it changed."""
    db.rename(user_id, name)
    cache.invalidate_tag("user:%d" % user_id)


def main(cache, db):
    user_name(cache, db, 5)  # cached: user5
    user_rename(cache, db, 5, "alice")
    name = user_name(cache, db, 5)
    check(name == "alice", "the read after a write gets the new name "
          "(%s)" % name)

    # The race, step by step: a read loads the old row, a write
    # commits and invalidates, then the read stores what it loaded.
    def slow_read():
        old = db.user_name(6)
        user_rename(cache, db, 6, "bob")  # another process, meanwhile
        return old

    stored = user_name(cache, db, 6, load=slow_read)
    print('a read loaded "%s", a write made it "bob", then the read '
          'stored "%s"' % (stored, stored))
    name = user_name(cache, db, 6)
    check(name == "bob", "the late fill lost to the write's "
          "invalidation: the next read gets %s" % name)


if __name__ == "__main__":
    run("invalidate", main)
