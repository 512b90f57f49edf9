"""What the pattern examples share, so that each of them shows its pattern
and little else:

- Source, the slow source: a small SQLite database of users (ids 1..USERS,
  each with a name and a team).  Every read it answers adds one to a
  counter kept in the database itself, so that the reads of forked
  processes add up in one place and an example can say how often the
  database was asked;
- segment(), a segment of the example's own, named after it and the pid,
  removed when the example exits;
- check() and status(): each promise of the pattern is one check line,
  and status() is the exit status (0 when every check held);
- run(), the frame of an example: the database, a connection, the
  segment, the example's main(cache, db), and the exit status.

hostcache is imported from where Python finds it (installed, or
PYTHONPATH), else from the source tree these examples sit in.
"""

import atexit
import os
import sqlite3
import sys
import tempfile
import time
import traceback

try:
    import hostcache
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "..", "python"))
    import hostcache

USERS = 100
QUERY_DELAY = 0.001  # seconds a read of the database sleeps, by default
_owner = os.getpid()
_failures = 0


def _remove_at_exit(remove):
    def run():
        if os.getpid() == _owner:  # not in a forked child
            remove()
    atexit.register(run)


class Source:
    """A connection to this run's database.  Open one in each process
    (SQLite connections do not survive a fork).  Every read sleeps DELAY
    seconds first, to stand for a query that is expensive."""

    path = os.path.join(tempfile.gettempdir(), "hc-pattern-%d.db" % _owner)

    @classmethod
    def create(cls):
        """Make this run's database; it is removed at exit."""
        if os.path.exists(cls.path):
            os.unlink(cls.path)
        with sqlite3.connect(cls.path) as db:
            db.executescript("CREATE TABLE users (id INTEGER PRIMARY KEY, "
                             "name TEXT, team INTEGER);"
                             "CREATE TABLE queries (n INTEGER);"
                             "INSERT INTO queries VALUES (0);")
            db.executemany("INSERT INTO users VALUES (?, ?, ?)",
                           [(i, "user%d" % i, i % 10)
                            for i in range(1, USERS + 1)])
        db.close()
        _remove_at_exit(lambda: os.unlink(cls.path))

    def __init__(self, delay=QUERY_DELAY):
        # Autocommit; processes that count queries at once take turns.
        self.db = sqlite3.connect(self.path, timeout=10,
                                  isolation_level=None)
        self.delay = delay

    def close(self):
        self.db.close()

    def _read(self, sql, *args):
        time.sleep(self.delay)
        self.db.execute("UPDATE queries SET n = n + 1")
        return self.db.execute(sql, args).fetchone()

    def user_name(self, user_id):
        """User USER_ID's name, or None.  Counts one query."""
        row = self._read("SELECT name FROM users WHERE id = ?", user_id)
        return row[0] if row else None

    def team_members(self, team):
        """Names of team TEAM's users, "name,name,...".  Counts one."""
        row = self._read("SELECT group_concat(name, ',') FROM (SELECT name "
                         "FROM users WHERE team = ? ORDER BY id)", team)
        return row[0] or ""

    def rename(self, user_id, name):
        """Rename user USER_ID (insert it if absent).  Not counted."""
        self.db.execute("INSERT INTO users (id, name, team) VALUES "
                        "(?1, ?2, ?1 % 10) ON CONFLICT (id) DO UPDATE SET "
                        "name = excluded.name", (user_id, name))

    def queries(self):
        """How many reads the database answered, over every process."""
        return self.db.execute("SELECT n FROM queries").fetchone()[0]


def segment(pattern, **config):
    """Create the segment "hc-pattern-PATTERN-PID" (8 MiB, 16 process
    slots unless CONFIG says), removed at exit."""
    name = "hc-pattern-%s-%d" % (pattern, _owner)
    config.setdefault("size", 8 << 20)
    config.setdefault("max_procs", 16)
    cache = hostcache.Cache.create(name, **config)
    _remove_at_exit(lambda: hostcache.unlink(name))
    return cache


def fork_one(body):
    """Fork a process that runs BODY() and exits with what it returns (an
    int, 0 for None), 2 if it raises.  Returns its pid."""
    sys.stdout.flush()  # else the child prints the parent's buffer too
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = body() or 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code)
    return pid


def fork_together(n, body):
    """Fork N processes released together; each runs BODY(i) and exits
    with what it returns (an int), 2 if it raises.  Returns their exit
    statuses, in order."""
    start_r, start_w = os.pipe()

    def released(i):
        os.close(start_w)
        os.read(start_r, 1)  # EOF once the parent closes it
        return body(i)

    pids = [fork_one(lambda i=i: released(i)) for i in range(n)]
    os.close(start_w)
    os.close(start_r)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def check(cond, what):
    """Print "ok - WHAT" or "FAIL - WHAT", and remember a failure."""
    global _failures
    print("%s - %s" % ("ok" if cond else "FAIL", what), flush=True)
    if not cond:
        _failures += 1
    return cond


def status():
    """0 when every check held, 1 otherwise."""
    return 1 if _failures else 0


def run(pattern, main, delay=QUERY_DELAY, **config):
    """Make this run's database and open it (every read sleeps DELAY
    seconds), call MAIN(cache, db) on the segment of PATTERN (CONFIG as
    for segment()), then close both and exit with status()."""
    Source.create()
    db = Source(delay=delay)
    with segment(pattern, **config) as cache:
        main(cache, db)
    db.close()
    sys.exit(status())
