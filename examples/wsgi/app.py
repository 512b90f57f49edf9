"""A WSGI application that keeps per-user order summaries in hostcache,
cache-aside over SQLite, shared by every worker process of the server.

    GET  /user/ID          the user's order count and total, as JSON
    POST /user/ID/order    add an order of ?amount=N (cents) and invalidate
                           the user's cached summary (tag user:ID)
    GET  /stats            the segment's hits and misses, as JSON

Environment: HC_WSGI_DB (the SQLite file, made by `app.py init DB`),
HC_WSGI_SEGMENT (default "wsgi-demo", created if absent), HC_WSGI_CACHE=0
to serve every request from SQLite (the baseline).  Run under gunicorn:

    gunicorn -w 4 --preload -b 127.0.0.1:8000 app:application
"""

import json
import os
import random
import sqlite3
import sys
import threading
from urllib.parse import parse_qs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "python"))
import hostcache  # noqa: E402

DB = os.environ.get("HC_WSGI_DB", "wsgi-demo.sqlite")
SEGMENT = os.environ.get("HC_WSGI_SEGMENT", "wsgi-demo")
USE_CACHE = os.environ.get("HC_WSGI_CACHE", "1") != "0"
TTL = 300

_local = threading.local()
_cache = None


def cache():
    global _cache
    if _cache is None:
        try:
            _cache = hostcache.Cache.open(SEGMENT)
        except hostcache.NoSegment:
            try:
                _cache = hostcache.Cache.create(SEGMENT, size=64 << 20)
            except hostcache.SegmentExists:
                _cache = hostcache.Cache.open(SEGMENT)
    return _cache


def db():
    """One connection per thread and process (sqlite3 objects must not
    cross a fork)."""
    conn = getattr(_local, "conn", None)
    if conn is None or _local.pid != os.getpid():
        conn = sqlite3.connect(DB)
        _local.conn, _local.pid = conn, os.getpid()
    return conn


def summary_from_db(user):
    row = db().execute("SELECT u.name, count(o.id), coalesce(sum(o.amount), 0)"
                       " FROM users u LEFT JOIN orders o ON o.user_id = u.id"
                       " WHERE u.id = ? GROUP BY u.id", (user,)).fetchone()
    if row is None:
        return None
    return json.dumps({"user": user, "name": row[0], "orders": row[1],
                       "total_cents": row[2]}).encode()


def summary(user):
    if not USE_CACHE:
        return summary_from_db(user)
    body = cache().get_or_set("user:%d:summary" % user,
                              lambda: summary_from_db(user) or b"",
                              ttl=TTL, tags=["user:%d" % user])
    return body or None


def add_order(user, amount):
    conn = db()
    with conn:
        conn.execute("INSERT INTO orders (user_id, amount) VALUES (?, ?)",
                     (user, amount))
    if USE_CACHE:
        # After the commit: a reader that refills from now on sees it.
        cache().invalidate_tag("user:%d" % user)


def respond(start, status, body, ctype="application/json"):
    start(status, [("Content-Type", ctype),
                   ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    parts = path.strip("/").split("/")
    try:
        if method == "GET" and len(parts) == 2 and parts[0] == "user":
            body = summary(int(parts[1]))
            if body is None:
                return respond(start, "404 Not Found", b'{"error":"no user"}')
            return respond(start, "200 OK", body)
        if method == "POST" and len(parts) == 3 and parts[0] == "user" \
                and parts[2] == "order":
            q = parse_qs(environ.get("QUERY_STRING", ""))
            add_order(int(parts[1]), int(q.get("amount", ["100"])[0]))
            return respond(start, "204 No Content", b"")
        if method == "GET" and path == "/stats":
            st = cache().stats()
            return respond(start, "200 OK", json.dumps(
                {"hits": st["hits"], "misses": st["misses"]}).encode())
    except ValueError:
        return respond(start, "400 Bad Request", b'{"error":"bad id"}')
    return respond(start, "404 Not Found", b'{"error":"no such path"}')


def init(path, users=10000, orders=200000, seed=1):
    """Make the SQLite database: USERS users, ORDERS orders among them."""
    if os.path.exists(path):
        os.unlink(path)
    conn = sqlite3.connect(path)
    rnd = random.Random(seed)
    with conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, "
                     "user_id INTEGER, amount INTEGER)")
        conn.executemany("INSERT INTO users VALUES (?, ?)",
                         ((i, "user %d" % i) for i in range(1, users + 1)))
        conn.executemany("INSERT INTO orders (user_id, amount) VALUES (?, ?)",
                         ((rnd.randint(1, users), rnd.randint(100, 10000))
                          for _ in range(orders)))
        conn.execute("CREATE INDEX orders_user ON orders (user_id)")
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "init":
        init(sys.argv[2])
    else:
        sys.exit("usage: app.py init DB.sqlite")
