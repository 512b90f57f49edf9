"""hostcached end to end: a real daemon on a private unix socket and
segment, driven at the protocol level (raw sockets, exact replies) and
through pymemcache, with cachectl reading and writing the same segment
from another process.  Run by tests/t_hostcached.sh, which prints TAP."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

BUILD = os.environ.get("HC_BUILD", "build")
HOSTCACHED = os.path.join(BUILD, "hostcached")
CACHECTL = os.path.join(BUILD, "cachectl")

try:
    from pymemcache.client.base import Client
except ImportError:  # the tests that need it say skip
    Client = None

# How long a start, a stop or a reply may take before the test gives up.
PATIENCE = 20.0


class Daemon:
    """One hostcached process on segment NAME and socket SOCK under DIR."""

    def __init__(self, name, workdir):
        self.name = name
        self.dir = workdir
        self.sock = os.path.join(workdir, name + ".sock")
        self.pidfile = os.path.join(workdir, name + ".pid")
        self.errfile = os.path.join(workdir, name + ".err")
        self.proc = None

    def argv(self, *extra, size="8M"):
        args = [HOSTCACHED, "--name", self.name, "--socket", self.sock,
                "--pidfile", self.pidfile, "--threads", "2"]
        if size is not None:
            args += ["--size", size]
        return args + list(extra)

    def start(self, *extra, size="8M", expect_ready=True):
        self.err = open(self.errfile, "w")
        self.proc = subprocess.Popen(self.argv(*extra, size=size),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        if not expect_ready:
            return self.wait()
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("hostcached exited %d: %s"
                                     % (self.proc.returncode, self.log()))
            if "ready" in self.log():
                return None
            time.sleep(0.02)
        raise AssertionError("hostcached not ready: " + self.log())

    def wait(self):
        rc = self.proc.wait(timeout=PATIENCE)
        self.err.close()
        return rc

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        rc = self.wait()
        return rc

    def log(self):
        with open(self.errfile) as f:
            return f.read()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(PATIENCE)
        s.connect(self.sock)
        return Conn(s)


class Conn:
    """A raw protocol connection: send bytes, read exact replies."""

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed; unread: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def cmd(self, data):
        self.send(data)
        return self.line()

    def values(self, data):
        """Send a retrieval command; return {key: (flags, value, cas)}."""
        self.send(data)
        found = {}
        while True:
            head = self.line()
            if head == b"END":
                return found
            parts = head.split(b" ")
            if parts[0] != b"VALUE":
                raise AssertionError("unexpected %r" % head)
            value = self.exactly(int(parts[3]) + 2)[:-2]
            cas = int(parts[4]) if len(parts) > 4 else None
            found[parts[1]] = (int(parts[2]), value, cas)

    def stats(self):
        """Send stats; return {name: value} as text."""
        self.send(b"stats\r\n")
        found = {}
        while True:
            line = self.line()
            if line == b"END":
                return found
            _, name, value = line.decode().split(" ", 2)
            found[name] = value

    def closed(self):
        """True when the server closed the connection (after any data)."""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


class BinConn(Conn):
    """A binary protocol connection: requests and replies as tuples."""

    HEADER = struct.Struct(">BBHBBHIIQ")

    @staticmethod
    def request(opcode, key=b"", extras=b"", value=b"", cas=0,
                opaque=0xdeadbeef):
        return BinConn.HEADER.pack(0x80, opcode, len(key), len(extras), 0, 0,
                                   len(extras) + len(key) + len(value),
                                   opaque, cas) + extras + key + value

    def send_request(self, *args, **kw):
        self.send(self.request(*args, **kw))

    def reply(self):
        """One reply: a Reply with its header fields and parts."""
        (magic, opcode, klen, extlen, _, status, bodylen, opaque,
         cas) = self.HEADER.unpack(self.exactly(24))
        body = self.exactly(bodylen)
        if magic != 0x81:
            raise AssertionError("reply magic 0x%02x" % magic)
        return Reply(opcode, status, body[:extlen],
                     body[extlen:extlen + klen], body[extlen + klen:],
                     cas, opaque)

    def call(self, *args, **kw):
        self.send_request(*args, **kw)
        return self.reply()


class Reply:
    def __init__(self, opcode, status, extras, key, value, cas, opaque):
        self.opcode, self.status, self.extras = opcode, status, extras
        self.key, self.value, self.cas, self.opaque = key, value, cas, opaque

    def __repr__(self):
        return "Reply(op=0x%02x status=0x%02x key=%r value=%r cas=%d)" % (
            self.opcode, self.status, self.key, self.value[:40], self.cas)


# Binary opcodes and statuses (memcached's protocol_binary.h).
OP = dict(get=0x00, set=0x01, add=0x02, replace=0x03, delete=0x04,
          incr=0x05, decr=0x06, quit=0x07, flush=0x08, getq=0x09,
          noop=0x0a, version=0x0b, getk=0x0c, getkq=0x0d, append=0x0e,
          prepend=0x0f, stat=0x10, setq=0x11, addq=0x12, replaceq=0x13,
          deleteq=0x14, incrq=0x15, decrq=0x16, quitq=0x17, flushq=0x18,
          appendq=0x19, prependq=0x1a, verbosity=0x1b, touch=0x1c,
          gat=0x1d, gatq=0x1e, gatk=0x23, gatkq=0x24)
OK, NOT_FOUND, EXISTS, TOO_LARGE, INVALID, NOT_STORED, NOT_NUMBER = range(7)
UNKNOWN = 0x81


def set_extras(flags=0, exptime=0):
    return struct.pack(">II", flags, exptime)


def arith_extras(delta, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


class HostcachedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(HOSTCACHED, os.X_OK):
            raise unittest.SkipTest(HOSTCACHED + " is not built")
        cls.tmp = tempfile.TemporaryDirectory(prefix="t_hostcached.")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.name = "hc-t-hcd-%d-%s" % (os.getpid(),
                                        self._testMethodName[5:25])
        self.destroy()
        self.d = Daemon(self.name, self.tmp.name)

    def tearDown(self):
        # Every test ends with a clean stop: a crash, a sanitizer report or
        # a leak (make sanitize) shows as an exit status other than 0.
        try:
            if self.d.proc is not None and self.d.proc.poll() is None:
                self.assertEqual(self.d.stop(), 0, self.d.log())
        finally:
            if self.d.proc is not None and self.d.proc.poll() is None:
                self.d.proc.kill()
                self.d.wait()
            self.destroy()

    def destroy(self):
        subprocess.run([CACHECTL, "destroy", self.name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def started(self, *extra):
        self.d.start(*extra)
        return self.d.connect()

    def cachectl(self, *args):
        return subprocess.run([CACHECTL] + list(args), capture_output=True,
                              timeout=PATIENCE)

    def assert_stops_cleanly(self):
        rc = self.d.stop()
        self.assertEqual(rc, 0, self.d.log())

    # ------------------------------------------------------------------
    # Commands, at the protocol level

    def test_storage_commands(self):
        c = self.started()
        self.assertEqual(c.cmd(b"set a 5 0 3\r\nabc\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"set b 0 0 0\r\n\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"add a 0 0 1\r\nx\r\n"), b"NOT_STORED")
        self.assertEqual(c.cmd(b"add c 0 0 1\r\nx\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"replace nope 0 0 1\r\nx\r\n"), b"NOT_STORED")
        self.assertEqual(c.cmd(b"replace c 0 0 2\r\nyy\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"append a 0 0 2\r\nde\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"prepend a 0 0 2\r\nxy\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"append nope 0 0 1\r\nx\r\n"), b"NOT_STORED")
        self.assertEqual(c.cmd(b"prepend nope 0 0 1\r\nx\r\n"),
                         b"NOT_STORED")
        got = c.values(b"get a b c missing\r\n")
        self.assertEqual({k: v[1] for k, v in got.items()},
                         {b"a": b"xyabcde", b"b": b"", b"c": b"yy"})
        # Binary-safe values: CR LF and NUL inside the data block.
        blob = bytes(range(256)) + b"\r\nEND\r\n"
        self.assertEqual(c.cmd(b"set blob 0 0 %d\r\n%s\r\n"
                               % (len(blob), blob)), b"STORED")
        self.assertEqual(c.values(b"get blob\r\n")[b"blob"][1], blob)

    def test_cas_and_conflicts(self):
        c = self.started()
        self.assertEqual(c.cmd(b"set k 0 0 2\r\nv1\r\n"), b"STORED")
        cas = c.values(b"gets k\r\n")[b"k"][2]
        self.assertIsInstance(cas, int)
        self.assertEqual(c.cmd(b"cas k 0 0 2 %d\r\nv2\r\n" % cas), b"STORED")
        # The same CAS id again: the item changed since.
        self.assertEqual(c.cmd(b"cas k 0 0 2 %d\r\nv3\r\n" % cas), b"EXISTS")
        self.assertEqual(c.values(b"get k\r\n")[b"k"][1], b"v2")
        cas2 = c.values(b"gets k\r\n")[b"k"][2]
        self.assertNotEqual(cas, cas2)
        # Another writer (append) between gets and cas makes cas fail.
        self.assertEqual(c.cmd(b"append k 0 0 1\r\n!\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"cas k 0 0 1 %d\r\nz\r\n" % cas2), b"EXISTS")
        self.assertEqual(c.cmd(b"cas gone 0 0 1 1\r\nz\r\n"), b"NOT_FOUND")
        self.assertEqual(c.cmd(b"cas k 0 0 1 notanumber\r\n"),
                         b"CLIENT_ERROR bad command line format")

    def test_concurrent_appends_lose_nothing(self):
        self.started()
        first = self.d.connect()
        self.assertEqual(first.cmd(b"set log 0 0 0\r\n\r\n"), b"STORED")
        errors = []

        def appender(tag):
            try:
                c = self.d.connect()
                for _ in range(100):
                    reply = c.cmd(b"append log 0 0 1\r\n%s\r\n" % tag)
                    if reply != b"STORED":
                        errors.append(reply)
                c.close()
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=appender, args=(t,))
                   for t in (b"a", b"b", b"c", b"d")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        value = first.values(b"get log\r\n")[b"log"][1]
        self.assertEqual(sorted(value), sorted(b"abcd" * 100))

    def test_retrieval_and_touch(self):
        c = self.started()
        c.cmd(b"set k1 1 0 2\r\nv1\r\n")
        c.cmd(b"set k2 2 0 2\r\nv2\r\n")
        got = c.values(b"gets k1 k2 nope\r\n")
        self.assertEqual(set(got), {b"k1", b"k2"})
        self.assertTrue(all(v[2] is not None for v in got.values()))
        got = c.values(b"gat 100 k1 nope\r\n")
        self.assertEqual(got[b"k1"][1], b"v1")
        self.assertIsNone(got[b"k1"][2])
        got = c.values(b"gats 0 k2\r\n")
        self.assertIsNotNone(got[b"k2"][2])
        # gat with an exptime in the past: the value, then gone.
        self.assertEqual(c.values(b"gat -1 k2\r\n")[b"k2"][1], b"v2")
        self.assertEqual(c.values(b"get k2\r\n"), {})
        self.assertEqual(c.cmd(b"touch k1 100\r\n"), b"TOUCHED")
        self.assertEqual(c.cmd(b"touch nope 100\r\n"), b"NOT_FOUND")
        self.assertEqual(c.cmd(b"touch k1 x\r\n"),
                         b"CLIENT_ERROR invalid exptime argument")
        self.assertEqual(c.cmd(b"get\r\n"), b"ERROR")
        self.assertEqual(c.cmd(b"gat 10\r\n"), b"ERROR")
        self.assertEqual(c.cmd(b"gat x k1\r\n"),
                         b"CLIENT_ERROR invalid exptime argument")
        self.assertEqual(c.cmd(b"get " + b"k" * 251 + b"\r\n"),
                         b"CLIENT_ERROR bad command line format")
        # Many keys on one line, beyond 2048 bytes.
        keys = [b"key-%04d" % i for i in range(400)]
        for k in keys[:10]:
            c.cmd(b"set %s 0 0 1\r\nx\r\n" % k)
        got = c.values(b"get " + b" ".join(keys) + b"\r\n")
        self.assertEqual(sorted(got), keys[:10])

    def test_delete_incr_decr(self):
        c = self.started()
        c.cmd(b"set n 0 0 2\r\n10\r\n")
        self.assertEqual(c.cmd(b"incr n 5\r\n"), b"15")
        self.assertEqual(c.cmd(b"decr n 3\r\n"), b"12")
        self.assertEqual(c.cmd(b"decr n 100\r\n"), b"0")  # floors at 0
        c.cmd(b"set n 0 0 20\r\n18446744073709551615\r\n")
        self.assertEqual(c.cmd(b"incr n 2\r\n"), b"1")     # wraps at 2^64
        self.assertEqual(c.cmd(b"incr n 18446744073709551615\r\n"), b"0")
        self.assertEqual(c.cmd(b"incr nope 1\r\n"), b"NOT_FOUND")
        c.cmd(b"set s 0 0 3\r\nabc\r\n")
        self.assertEqual(c.cmd(b"incr s 1\r\n"), b"CLIENT_ERROR cannot "
                         b"increment or decrement non-numeric value")
        self.assertEqual(c.cmd(b"incr n -1\r\n"),
                         b"CLIENT_ERROR invalid numeric delta argument")
        self.assertEqual(c.cmd(b"incr n 18446744073709551616\r\n"),
                         b"CLIENT_ERROR invalid numeric delta argument")
        self.assertEqual(c.cmd(b"delete n\r\n"), b"DELETED")
        self.assertEqual(c.cmd(b"delete n\r\n"), b"NOT_FOUND")
        c.cmd(b"set n 0 0 1\r\n1\r\n")
        self.assertEqual(c.cmd(b"delete n 0\r\n"), b"DELETED")
        self.assertTrue(c.cmd(b"delete n 5\r\n").startswith(
            b"CLIENT_ERROR bad command line format"))

    def test_noreply(self):
        c = self.started()
        c.send(b"set a 0 0 1 noreply\r\na\r\n"
               b"add b 0 0 1 noreply\r\nb\r\n"
               b"add b 0 0 1 noreply\r\nB\r\n"
               b"replace a 0 0 1 noreply\r\nA\r\n"
               b"append a 0 0 1 noreply\r\n+\r\n"
               b"prepend a 0 0 1 noreply\r\n-\r\n"
               b"set n 0 0 1 noreply\r\n5\r\n"
               b"incr n 10 noreply\r\n"
               b"decr n 1 noreply\r\n"
               b"touch n 100 noreply\r\n"
               b"set d 0 0 1 noreply\r\nd\r\n"
               b"delete d noreply\r\n"
               b"delete nope noreply\r\n"
               b"cas a 0 0 1 1 noreply\r\nx\r\n"
               b"verbosity 1 noreply\r\n")
        # The next reply is the get's: nothing else was said.
        got = c.values(b"get a b n d\r\n")
        self.assertEqual({k: v[1] for k, v in got.items()},
                         {b"a": b"-A+", b"b": b"b", b"n": b"14"})
        c.send(b"flush_all noreply\r\n")
        self.assertEqual(c.values(b"get a\r\n"), {})
        # A value too large is refused aloud even under noreply.
        self.assertEqual(c.cmd(b"set big 0 0 99999999 noreply\r\n"),
                         b"SERVER_ERROR object too large for cache")

    def test_exptime_forms(self):
        c = self.started()
        now = int(time.time())
        c.cmd(b"set never 0 0 1\r\nx\r\n")
        c.cmd(b"set rel 0 2592000 1\r\nx\r\n")          # 30 days: relative
        c.cmd(b"set absfuture 0 %d 1\r\nx\r\n" % (now + 3600))
        self.assertEqual(c.cmd(b"set abspast 0 %d 1\r\nx\r\n" % (now - 10)),
                         b"STORED")
        self.assertEqual(c.cmd(b"set neg 0 -1 1\r\nx\r\n"), b"STORED")
        c.cmd(b"set old 0 0 1\r\nx\r\n")
        self.assertEqual(c.cmd(b"set old 0 -1 1\r\ny\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"add negadd 0 -1 1\r\nx\r\n"), b"STORED")
        self.assertEqual(c.cmd(b"set short 0 1 1\r\nx\r\n"), b"STORED")
        got = c.values(b"get never rel absfuture abspast neg old negadd "
                       b"short\r\n")
        self.assertIn(b"short", got)  # 1 s has not passed yet ...
        del got[b"short"]
        self.assertEqual(sorted(got), [b"absfuture", b"never", b"rel"])
        # ... and the library reports TTLs that match the exptime forms.
        ttls = self.ttls()
        self.assertEqual(ttls.get("never"), 0)
        self.assertGreater(ttls.get("rel", 0), 2591000)
        self.assertLessEqual(ttls.get("rel", 0), 2592000)
        self.assertGreater(ttls.get("absfuture", 0), 3500)
        self.assertLessEqual(ttls.get("absfuture", 0), 3600)
        deadline = time.monotonic() + PATIENCE
        while b"short" in c.values(b"get short\r\n"):
            self.assertLess(time.monotonic(), deadline, "short never expired")
            time.sleep(0.1)
        self.assertEqual(c.cmd(b"set bad 0 x 1\r\n"),
                         b"CLIENT_ERROR bad command line format")

    def ttls(self):
        """KEY -> whole seconds left (0: none), from cachectl keys, another
        process reading the same segment."""
        r = self.cachectl("keys", self.name, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        return {k["key"]: (k["ttl_ms"] or 0) // 1000 for k in doc["keys"]}

    def test_flush_all(self):
        c = self.started()
        c.cmd(b"set a 0 0 1\r\nx\r\n")
        self.assertEqual(c.cmd(b"flush_all\r\n"), b"OK")
        self.assertEqual(c.values(b"get a\r\n"), {})
        c.cmd(b"set a 0 0 1\r\nx\r\n")
        self.assertEqual(c.cmd(b"flush_all 2\r\n"), b"OK")
        self.assertIn(b"a", c.values(b"get a\r\n"))  # not yet
        deadline = time.monotonic() + PATIENCE
        while b"a" in c.values(b"get a\r\n"):
            self.assertLess(time.monotonic(), deadline,
                            "the delayed flush never came")
            time.sleep(0.1)
        self.assertEqual(c.cmd(b"flush_all x\r\n"),
                         b"CLIENT_ERROR bad command line format")

    def test_stats_version_verbosity_quit(self):
        c = self.started()
        c.cmd(b"set a 0 0 1\r\nx\r\n")
        c.values(b"get a\r\n")
        c.values(b"get nope\r\n")
        stats = c.stats()
        self.assertEqual(int(stats["pid"]), self.d.proc.pid)
        self.assertEqual(stats["threads"], "2")
        self.assertEqual(stats["curr_items"], "1")
        self.assertGreaterEqual(int(stats["get_hits"]), 1)
        self.assertGreaterEqual(int(stats["get_misses"]), 1)
        self.assertGreaterEqual(int(stats["curr_connections"]), 1)
        self.assertGreater(int(stats["limit_maxbytes"]), 0)
        for key in ("uptime", "version", "evictions", "bytes", "cmd_get",
                    "cmd_set", "total_connections", "time"):
            self.assertIn(key, stats)
        # The daemon's own counters, summed over its two workers.
        other = self.d.connect()
        for conn in (c, other):
            conn.cmd(b"delete a\r\n")      # one hit, then a miss
            conn.cmd(b"incr nope 1\r\n")   # misses
            conn.cmd(b"touch nope 1\r\n")
            conn.cmd(b"cas nope 0 0 1 1\r\nx\r\n")
        c.cmd(b"set n 0 0 1\r\n1\r\n")
        cas = c.values(b"gets n\r\n")[b"n"][2]
        c.cmd(b"cas n 0 0 1 %d\r\n2\r\n" % cas)
        c.cmd(b"cas n 0 0 1 %d\r\n3\r\n" % cas)
        c.cmd(b"decr n 1\r\n")
        c.cmd(b"md n\r\n")
        stats = c.stats()
        want = {"delete_hits": 2, "delete_misses": 1, "incr_misses": 2,
                "decr_hits": 1, "touch_misses": 2, "cas_misses": 2,
                "cas_hits": 1, "cas_badval": 1, "cmd_touch": 2}
        self.assertEqual({k: int(stats[k]) for k in want}, want)
        self.assertGreater(int(stats["bytes_read"]), 0)
        self.assertGreater(int(stats["bytes_written"]), 0)
        self.assertEqual(c.cmd(b"stats nonsense\r\n"), b"ERROR")
        self.assertTrue(c.cmd(b"version\r\n").startswith(b"VERSION "))
        self.assertEqual(c.cmd(b"verbosity 1\r\n"), b"OK")
        self.assertEqual(c.cmd(b"verbosity\r\n"), b"ERROR")
        self.assertEqual(c.cmd(b"nosuchcommand\r\n"), b"ERROR")
        self.assertEqual(c.cmd(b"\r\n"), b"ERROR")
        c.send(b"quit\r\n")
        self.assertTrue(c.closed())

    def test_stats_latency_quantiles(self):
        c = self.started()
        c.cmd(b"set lat 0 0 1\r\nx\r\n")
        # Gets, then sets: the library's countdown is one per thread for
        # both, so strict alternation could time only one kind.
        for i in range(300):
            c.values(b"get lat\r\n")
        for i in range(300):
            c.cmd(b"set lat%d 0 0 1\r\nx\r\n" % (i % 10))
        stats = c.stats()
        names = ["latency_every"] + ["%s_%s" % (op, q) for op in ("get", "set")
                                     for q in ("timed", "p50_ns", "p99_ns",
                                               "p999_ns")]
        got = {k: int(stats[k]) for k in names}
        self.assertGreater(got["latency_every"], 0, got)
        for op in ("get", "set"):
            # One in latency_every is timed, per thread: 300 is enough.
            self.assertGreater(got[op + "_timed"], 0, got)
            self.assertGreater(got[op + "_p50_ns"], 0, got)
            self.assertLessEqual(got[op + "_p50_ns"], got[op + "_p99_ns"], got)
            self.assertLessEqual(got[op + "_p99_ns"], got[op + "_p999_ns"],
                                 got)
        # The binary protocol's stat says the same names.
        b = self.bin_connect()
        b.send_request(OP["stat"])
        keys = set()
        while True:
            r = b.reply()
            if r.key == b"":
                break
            keys.add(r.key.decode())
        self.assertTrue(set(names) <= keys, set(names) - keys)

    def test_rates_are_sampled(self):
        c = self.started()
        deadline = time.monotonic() + PATIENCE
        while "hc_gets_per_sec" not in c.stats():
            self.assertLess(time.monotonic(), deadline, "no rates")
            time.sleep(0.2)

    # ------------------------------------------------------------------
    # Meta commands

    def meta_value(self, c, line):
        """Send an mg/ma that asks for a value: (header words, value)."""
        head = c.cmd(line).split(b" ")
        if head[0] != b"VA":
            return head, None
        return head, c.exactly(int(head[1]) + 2)[:-2]

    def test_meta_get_and_set(self):
        c = self.started()
        self.assertEqual(c.cmd(b"ms foo 2 T90 F5\r\nhi\r\n"), b"HD")
        head, value = self.meta_value(c, b"mg foo t f v\r\n")
        self.assertEqual((head, value), ([b"VA", b"2", b"t90", b"f5"], b"hi"))
        # Return flags come back in the order asked for.
        head = c.cmd(b"mg foo s k Oab12 c\r\n").split(b" ")
        self.assertEqual(head[:4], [b"HD", b"s2", b"kfoo", b"Oab12"])
        cas = int(head[4][1:])
        self.assertEqual(c.values(b"gets foo\r\n")[b"foo"], (5, b"hi", cas))
        # Classic and meta commands see the same items.
        c.cmd(b"set classic 7 0 3\r\nabc\r\n")
        self.assertEqual(self.meta_value(c, b"mg classic f v\r\n"),
                         ([b"VA", b"3", b"f7"], b"abc"))
        self.assertEqual(c.cmd(b"mg nope v\r\n"), b"EN")
        # Quiet: a miss says nothing; mn marks the end of a pipeline.
        self.assertEqual(c.cmd(b"mg nope v q\r\nmn\r\n"), b"MN")
        # T touches; t with no expiry is -1.
        c.cmd(b"ms forever 1\r\nx\r\n")
        self.assertEqual(c.cmd(b"mg forever t\r\n"), b"HD t-1")
        self.assertEqual(c.cmd(b"mg forever T100 t\r\n"), b"HD t100")
        self.assertEqual(self.ttls()["forever"] > 90, True)

    def test_meta_set_modes_and_cas(self):
        c = self.started()
        self.assertEqual(c.cmd(b"ms k 1 ME\r\na\r\n"), b"HD")
        self.assertEqual(c.cmd(b"ms k 1 ME\r\nb\r\n"), b"NS")
        self.assertEqual(c.cmd(b"ms k 1 MA\r\n+\r\n"), b"HD")
        self.assertEqual(c.cmd(b"ms k 1 MP\r\n-\r\n"), b"HD")
        self.assertEqual(c.cmd(b"ms nope 1 MA\r\nx\r\n"), b"NS")
        self.assertEqual(c.cmd(b"ms nope 1 MR\r\nx\r\n"), b"NS")
        self.assertEqual(c.cmd(b"ms k 3 MR\r\nnew\r\n"), b"HD")
        head = c.cmd(b"ms k 3 c\r\nv_1\r\n").split(b" ")
        cas = int(head[1][1:])
        self.assertEqual(c.cmd(b"ms k 3 C%d\r\nv_2\r\n" % (cas + 1)), b"EX")
        self.assertEqual(c.cmd(b"ms k 3 C%d\r\nv_3\r\n" % cas), b"HD")
        self.assertEqual(c.cmd(b"ms gone 1 C5\r\nx\r\n"), b"NF")
        self.assertEqual(self.meta_value(c, b"mg k v\r\n")[1], b"v_3")
        # Quiet set: nothing on success, errors always.
        self.assertEqual(c.cmd(b"ms q 1 q\r\nx\r\nms q 1 ME q\r\ny\r\n"),
                         b"NS")
        # Too large: refused, its data dropped.
        big = b"v" * (1 << 20)
        self.assertEqual(c.cmd(b"ms big %d\r\n%s\r\n" % (len(big), big)),
                         b"SERVER_ERROR object too large for cache")
        self.assertEqual(c.cmd(b"mn\r\n"), b"MN")

    def test_meta_delete_arith_debug(self):
        c = self.started()
        c.cmd(b"ms d 1\r\nx\r\n")
        self.assertEqual(c.cmd(b"md d k\r\n"), b"HD kd")
        self.assertEqual(c.cmd(b"md d Oz\r\n"), b"NF Oz")
        self.assertEqual(c.cmd(b"md d q\r\nms d 1 q\r\nx\r\nmd d q\r\nmn\r\n"),
                         b"MN")
        self.assertEqual(c.values(b"get d\r\n"), {})
        self.assertEqual(c.cmd(b"ma n\r\n"), b"NF")
        self.assertEqual(self.meta_value(c, b"ma n N0 J10 v\r\n")[1], b"10")
        self.assertEqual(self.meta_value(c, b"ma n v\r\n")[1], b"11")
        self.assertEqual(self.meta_value(c, b"ma n v D9\r\n")[1], b"20")
        self.assertEqual(self.meta_value(c, b"ma n MD D100 v\r\n")[1], b"0")
        self.assertEqual(c.cmd(b"ma n q\r\nmn\r\n"), b"MN")
        self.assertEqual(self.meta_value(c, b"ma n M- D1 v t\r\n"),
                         ([b"VA", b"1", b"t-1"], b"0"))
        c.cmd(b"ms w 20\r\n18446744073709551615\r\n")
        self.assertEqual(self.meta_value(c, b"ma w v\r\n")[1], b"0")
        c.cmd(b"ms s 3\r\nabc\r\n")
        self.assertEqual(c.cmd(b"ma s\r\n"), b"CLIENT_ERROR cannot "
                         b"increment or decrement non-numeric value")
        self.assertEqual(c.cmd(b"ma n MX\r\n"),
                         b"CLIENT_ERROR invalid mode for ma M token")
        self.assertEqual(c.values(b"get n\r\n")[b"n"][1], b"0")
        self.assertRegex(c.cmd(b"me n\r\n").decode(),
                         r"^ME n exp=-1 cas=\d+ size=1 flags=0$")
        self.assertEqual(c.cmd(b"me nope\r\n"), b"EN")

    def test_meta_base64_keys_and_bad_flags(self):
        c = self.started()
        key = base64.b64encode(b"bin\x00key\xff")
        self.assertEqual(c.cmd(b"ms %s 1 b k\r\nz\r\n" % key),
                         b"HD k%s b" % key)
        self.assertEqual(self.meta_value(c, b"mg %s b v\r\n" % key)[1], b"z")
        r = self.cachectl("get", self.name, "bin\\x00key\\xff", "--escaped")
        self.assertEqual((r.returncode, r.stdout), (0, b"z"), r.stderr)
        self.assertEqual(c.cmd(b"mg !!!! b v\r\n"),
                         b"CLIENT_ERROR error decoding key")
        for line in (b"mg k h\r\n", b"mg k Rx\r\n", b"md k C1\r\n",
                     b"mg k T\r\n", b"mg k O" + b"o" * 33 + b"\r\n"):
            self.assertEqual(c.cmd(line), b"CLIENT_ERROR invalid flag", line)
        # A refused ms drops its data block.
        self.assertEqual(c.cmd(b"ms k 3 Z\r\nabc\r\n"),
                         b"CLIENT_ERROR invalid flag")
        self.assertEqual(c.cmd(b"ms k x\r\n"), b"CLIENT_ERROR bad data chunk")
        self.assertEqual(c.cmd(b"ms k 1\r\nxy\r\n"),
                         b"CLIENT_ERROR bad data chunk")
        self.assertEqual(c.line(), b"ERROR")  # "y" read as a command
        self.assertEqual(c.cmd(b"mg\r\n"), b"CLIENT_ERROR bad command line format")
        self.assertEqual(c.cmd(b"mn\r\n"), b"MN")

    # ------------------------------------------------------------------
    # Stampede protection: win tokens (N, R; W, X, Z) over leases

    def win_flags(self, c, line):
        """An mg that may win: (its win flags, its value)."""
        head, value = self.meta_value(c, line)
        return "".join(w.decode() for w in head if w in (b"W", b"X", b"Z")), value

    def expired(self, c, key, value):
        """Set KEY to VALUE for one second, then wait until it expires."""
        self.assertEqual(c.cmd(b"ms %s %d T1\r\n%s\r\n"
                               % (key, len(value), value)), b"HD")
        deadline = time.monotonic() + PATIENCE
        while c.cmd(b"mg %s\r\n" % key) != b"EN":
            self.assertLess(time.monotonic(), deadline, "never expired")
            time.sleep(0.1)

    def test_meta_vivify_one_winner(self):
        # Three connections: with two workers, two of them share one
        # attachment and the third has the other's.  N30 outlasts the
        # patience of every read: a client made to wait would fail.
        c1, c2, c3 = self.started(), self.d.connect(), self.d.connect()
        head, value = self.meta_value(c1, b"mg k v N30 t s\r\n")
        self.assertEqual((head, value), ([b"VA", b"0", b"t30", b"s0", b"W"],
                                         b""))
        self.assertEqual(self.win_flags(c2, b"mg k v N30\r\n"), ("Z", b""))
        self.assertEqual(self.win_flags(c3, b"mg k v N30\r\n"), ("Z", b""))
        self.assertEqual(c3.cmd(b"mg k N30\r\n"), b"HD Z")
        # The winner asking again is told the token is out, as memcached.
        self.assertEqual(self.win_flags(c1, b"mg k v N30\r\n"), ("Z", b""))
        # No item is made on a miss: without N the key is absent.
        self.assertEqual(c2.cmd(b"mg k v\r\n"), b"EN")
        self.assertEqual(c2.values(b"get k\r\n"), {})
        # The winner's ms fills the lease; everyone reads the value.
        self.assertEqual(c1.cmd(b"ms k 3 T60\r\nnew\r\n"), b"HD")
        for c in (c1, c2, c3):
            self.assertEqual(self.win_flags(c, b"mg k v N30\r\n"), ("", b"new"))
        self.assertEqual(c2.values(b"get k\r\n")[b"k"][1], b"new")
        # A hit with N touches nothing and wins nothing.
        self.assertEqual(c3.cmd(b"mg k N30 t\r\n"), b"HD t60")

    def test_meta_win_token_released(self):
        c1, c2 = self.started(), self.d.connect()
        self.assertEqual(self.win_flags(c1, b"mg a v N30\r\n"), ("W", b""))
        self.assertEqual(self.win_flags(c2, b"mg a v N30\r\n"), ("Z", b""))
        # The winner goes away without a value: its lease is abandoned
        # and the next client to miss wins (once the close is seen).
        c1.close()
        deadline = time.monotonic() + PATIENCE
        while self.win_flags(c2, b"mg a v N30\r\n")[0] != "W":
            self.assertLess(time.monotonic(), deadline, "lease kept")
            time.sleep(0.05)
        c3 = self.d.connect()
        self.assertEqual(self.win_flags(c3, b"mg a v N30\r\n"), ("Z", b""))
        # md by the winner gives the token back at once.
        self.assertEqual(c2.cmd(b"md a\r\n"), b"NF")
        self.assertEqual(self.win_flags(c3, b"mg a v N30\r\n"), ("W", b""))
        # ms with C fills only with the CAS id sent with W (0 on a miss):
        # another is refused and the lease stays.
        self.assertEqual(c3.cmd(b"ms a 1 C7\r\nx\r\n"), b"NF")
        self.assertEqual(self.win_flags(c2, b"mg a v N30\r\n"), ("Z", b""))
        self.assertEqual(c3.cmd(b"ms a 1 C0\r\ny\r\n"), b"HD")
        self.assertEqual(self.win_flags(c2, b"mg a v N30\r\n"), ("", b"y"))
        # Another write that stores (here add) gives the lease back too.
        self.assertEqual(self.win_flags(c2, b"mg b v N30\r\n"), ("W", b""))
        self.assertEqual(c2.cmd(b"ms b 1 ME\r\nz\r\n"), b"HD")
        c2.cmd(b"md b\r\n")
        self.assertEqual(self.win_flags(c3, b"mg b v N30\r\n"), ("W", b""))

    def test_meta_stale_value_with_x(self):
        conf = os.path.join(self.tmp.name, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("[hostcached]\nstale_grace = 600000\n")
        c1 = self.started("--config", conf)
        c2 = self.d.connect()
        self.expired(c1, b"s", b"old")
        # Within the grace period: the value, stale (X), to both; the
        # first wins (W), the other is told a token is out (Z).
        self.assertEqual(self.win_flags(c1, b"mg s v N30\r\n"), ("WX", b"old"))
        self.assertEqual(self.win_flags(c2, b"mg s v N30\r\n"), ("XZ", b"old"))
        self.assertEqual(c2.cmd(b"mg s t N30\r\n"), b"HD t1 X Z")
        # Without N or R an expired item reads as a miss.
        self.assertEqual(c2.cmd(b"mg s v\r\n"), b"EN")
        self.assertEqual(c1.cmd(b"ms s 3 T60\r\nnew\r\n"), b"HD")
        self.assertEqual(self.win_flags(c2, b"mg s v N30\r\n"), ("", b"new"))
        # R alone: the same on a stale value, nothing on a miss.
        self.expired(c1, b"r", b"old")
        self.assertEqual(self.win_flags(c2, b"mg r v R30\r\n"), ("WX", b"old"))
        self.assertEqual(self.win_flags(c1, b"mg r v R30\r\n"), ("XZ", b"old"))
        self.assertEqual(c1.cmd(b"mg nope v R30\r\n"), b"EN")
        self.assertEqual(c1.cmd(b"mg nope v R30 q\r\nmn\r\n"), b"MN")
        self.assertEqual(self.meta_value(c1, b"mg nope v N30 q\r\n"),
                         ([b"VA", b"0", b"W"], b""))
        # The stale winner's CAS id is the one its ms may name.
        cas = int(c2.cmd(b"mg r c R30\r\n").split(b" ")[1][1:])
        self.assertEqual(c2.cmd(b"ms r 3 C%d\r\nnew\r\n" % cas), b"HD")
        self.assertEqual(self.win_flags(c1, b"mg r v R30\r\n"), ("", b"new"))

    def test_meta_stale_grace_flag_and_none(self):
        # --stale-grace sets it when creating the segment ...
        c = self.started("--stale-grace", "600000")
        self.expired(c, b"g", b"v")
        self.assertEqual(self.win_flags(c, b"mg g v N30\r\n"), ("WX", b"v"))
        self.assert_stops_cleanly()
        self.destroy()
        # ... and without it an expired item is simply a miss.
        c = self.started()
        self.expired(c, b"g", b"v")
        self.assertEqual(self.win_flags(c, b"mg g v N30\r\n"), ("W", b""))

    def test_meta_invalidate_and_bad_win_flags(self):
        c1, c2 = self.started(), self.d.connect()
        c1.cmd(b"ms i 1\r\nx\r\n")
        # md I deletes (the library keeps no stale mark on a live item):
        # the next mg with N misses and one client wins.
        self.assertEqual(c1.cmd(b"md i I T30 k\r\n"), b"HD ki")
        self.assertEqual(c1.cmd(b"md i I q\r\nmn\r\n"), b"MN")
        self.assertEqual(self.win_flags(c2, b"mg i v N30\r\n"), ("W", b""))
        self.assertEqual(self.win_flags(c1, b"mg i v N30\r\n"), ("Z", b""))
        for line in (b"mg k N0\r\n", b"mg k N-1\r\n", b"mg k N\r\n",
                     b"mg k R0\r\n", b"mg k Rx\r\n", b"mg k E5\r\n",
                     b"md k T30\r\n", b"md k Ix\r\n", b"mg k I\r\n"):
            self.assertEqual(c1.cmd(line), b"CLIENT_ERROR invalid flag", line)
        self.assertEqual(c1.cmd(b"ms k 1 I\r\nx\r\n"),
                         b"CLIENT_ERROR invalid flag")
        self.assertEqual(c1.cmd(b"mn\r\n"), b"MN")

    # ------------------------------------------------------------------
    # Client flags

    def test_client_flags_round_trip(self):
        c = self.started()
        self.assertEqual(c.cmd(b"set f 12345 0 1\r\nx\r\n"), b"STORED")
        self.assertEqual(c.values(b"get f\r\n")[b"f"][0], 12345)
        self.assertEqual(c.values(b"gets f\r\n")[b"f"][0], 12345)
        c.cmd(b"append f 0 0 1\r\ny\r\n")
        self.assertEqual(c.values(b"get f\r\n")[b"f"], (12345, b"xy", None))
        # incr, touch and gat keep them; cas and replace set new ones.
        c.cmd(b"set n 77 0 1\r\n1\r\n")
        c.cmd(b"incr n 1\r\n")
        c.cmd(b"touch n 100\r\n")
        self.assertEqual(c.values(b"gat 200 n\r\n")[b"n"][:2], (77, b"2"))
        cas = c.values(b"gets n\r\n")[b"n"][2]
        self.assertEqual(c.cmd(b"cas n 78 0 1 %d\r\n3\r\n" % cas), b"STORED")
        self.assertEqual(c.cmd(b"replace n 79 0 1\r\n4\r\n"), b"STORED")
        self.assertEqual(c.values(b"get n\r\n")[b"n"][:2], (79, b"4"))
        c.cmd(b"set f 4294967295 0 1\r\nx\r\n")
        self.assertEqual(c.values(b"get f\r\n")[b"f"][0], 4294967295)
        self.assertEqual(c.cmd(b"set f 4294967296 0 1\r\n"),
                         b"CLIENT_ERROR bad command line format")

    # ------------------------------------------------------------------
    # pymemcache, a real client

    def test_pymemcache(self):
        if Client is None:
            self.skipTest("needs python3-pymemcache (make check installs it)")
        self.d.start()
        mc = Client("unix:" + self.d.sock, timeout=PATIENCE)
        self.assertTrue(mc.set("k", b"v", noreply=False))
        self.assertEqual(mc.get("k"), b"v")
        self.assertTrue(mc.add("k2", b"w", noreply=False))
        self.assertFalse(mc.add("k2", b"w", noreply=False))
        self.assertEqual(mc.get_many(["k", "k2", "nope"]),
                         {"k": b"v", "k2": b"w"})
        value, cas = mc.gets("k")
        self.assertTrue(mc.cas("k", b"v2", cas))
        self.assertFalse(mc.cas("k", b"v3", cas))
        mc.set("n", b"41")
        self.assertEqual(mc.incr("n", 1), 42)
        self.assertEqual(mc.decr("n", 50), 0)
        self.assertTrue(mc.touch("n", 100, noreply=False))
        self.assertTrue(mc.delete("n", noreply=False))
        self.assertIsNone(mc.get("n"))
        self.assertTrue(mc.append("k", b"+", noreply=False))
        self.assertEqual(mc.get("k"), b"v2+")
        self.assertIn(b"curr_items", mc.stats())
        self.assertRegex(mc.version().decode(),
                         r"^1\.6\.\d+-hostcached-\d+\.\d+\.\d+$")
        self.assertTrue(mc.flush_all(noreply=False))
        self.assertIsNone(mc.get("k"))
        mc.close()

    # ------------------------------------------------------------------
    # The same items through the socket and through the library

    def test_cross_path_with_cachectl(self):
        c = self.started()
        self.assertEqual(c.cmd(b"set via:socket 0 0 5\r\nhello\r\n"),
                         b"STORED")
        r = self.cachectl("get", self.name, "via:socket")
        self.assertEqual((r.returncode, r.stdout), (0, b"hello"), r.stderr)
        r = self.cachectl("set", self.name, "via:cachectl", "world")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.values(b"get via:cachectl\r\n"),
                         {b"via:cachectl": (0, b"world", None)})
        c.cmd(b"delete via:cachectl\r\n")
        r = self.cachectl("get", self.name, "via:cachectl")
        self.assertEqual(r.returncode, 1)
        # Client flags cross too.
        r = self.cachectl("set", self.name, "flagged", "v", "--flags", "12345")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.values(b"get flagged\r\n")[b"flagged"][0], 12345)
        c.cmd(b"set flagged2 54321 0 1\r\nw\r\n")
        r = self.cachectl("keys", self.name, "--json", "--prefix", "flagged2")
        self.assertEqual(json.loads(r.stdout)["keys"][0]["client_flags"],
                         54321, r.stdout)

    def test_tcp_port(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        c = self.started("--port", str(port))
        t = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        tc = Conn(t)
        self.assertEqual(tc.cmd(b"set tcp 0 0 1\r\nt\r\n"), b"STORED")
        self.assertEqual(c.values(b"get tcp\r\n")[b"tcp"][1], b"t")
        tc.close()

    # ------------------------------------------------------------------
    # Lifecycle

    def test_warm_restart_keeps_data(self):
        c = self.started()
        c.cmd(b"set warm 0 0 4\r\ndata\r\n")
        c.close()
        self.assert_stops_cleanly()
        self.d.start()
        self.assertIn("attached to the existing segment", self.d.log())
        c = self.d.connect()
        self.assertEqual(c.values(b"get warm\r\n")[b"warm"][1], b"data")
        # Without --size, whatever size the segment has is fine.
        c.close()
        self.assert_stops_cleanly()
        self.d.start(size=None)
        self.assertEqual(self.d.connect().values(b"get warm\r\n")[b"warm"][1],
                         b"data")

    def test_sigterm_keeps_segment_removes_pidfile_and_socket(self):
        self.started()
        with open(self.d.pidfile) as f:
            self.assertEqual(int(f.read()), self.d.proc.pid)
        self.assertTrue(os.path.exists(self.d.sock))
        self.assert_stops_cleanly()
        self.assertFalse(os.path.exists(self.d.pidfile))
        self.assertFalse(os.path.exists(self.d.sock))
        self.assertEqual(self.cachectl("info", self.name).returncode, 0)

    def test_sigint_and_unlink_on_exit(self):
        self.started("--unlink-on-exit")
        self.assertEqual(self.d.stop(signal.SIGINT), 0, self.d.log())
        self.assertNotEqual(self.cachectl("info", self.name).returncode, 0)

    def test_sighup_rereads_log_level(self):
        conf = os.path.join(self.tmp.name, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("[hostcached]\nlog_level = info\n")
        self.started("--config", conf)
        with open(conf, "w") as f:
            f.write("[hostcached]\nlog_level = debug\n")
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + PATIENCE
        while "log level now debug" not in self.d.log():
            self.assertLess(time.monotonic(), deadline, self.d.log())
            time.sleep(0.05)
        self.assertEqual(self.d.connect().cmd(b"version\r\n")[:8],
                         b"VERSION ")
        self.assert_stops_cleanly()

    def test_config_file(self):
        conf = os.path.join(self.tmp.name, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("; a comment\n[hostcached]\nthreads = 3\nmax-conns = 50\n")
        stats = self.started("--config", conf).stats()
        self.assertEqual(stats["threads"], "2")  # the flag wins
        self.assertEqual(stats["max_connections"], "50")

    def test_mismatched_segments_refused(self):
        self.started()
        self.assert_stops_cleanly()
        rc = self.d.start(size="16M", expect_ready=False)
        self.assertEqual(rc, 1)
        self.assertRegex(self.d.log(), r"exists with 8388608 bytes, not the "
                         r"16777216 .*--size 8388608")
        # Another layout, as another version of the library would write:
        # the layout word after the 8-byte magic, in the header and in its
        # backup copy a page further.
        path = "/dev/shm/" + self.name
        with open(path, "r+b") as f:
            for at in (8, os.sysconf("SC_PAGE_SIZE") + 8):
                f.seek(at)
                b = f.read(1)
                f.seek(at)
                f.write(bytes([b[0] ^ 0x10]))
        rc = self.d.start(expect_ready=False)
        self.assertEqual(rc, 1)
        self.assertRegex(self.d.log(), r"segment '%s': .*another version"
                         % re.escape(self.name))
        self.assertRegex(self.d.log(), r"cachectl destroy")

    def test_impossible_segments_refused(self):
        rc = self.d.start(size="64K", expect_ready=False)
        self.assertEqual(rc, 2)
        self.assertRegex(self.d.log(), r"too small .*change --size")
        rc = self.d.start("--max-procs", "2", "--threads", "4",
                          expect_ready=False)
        self.assertEqual(rc, 1)
        self.assertRegex(self.d.log(), r"give fewer --threads or more "
                         r"--max-procs")
        # A start that fails removes the segment it made: nothing in it.
        self.assertNotEqual(self.cachectl("info", self.name).returncode, 0)

    def test_second_daemon_refused(self):
        self.started()
        other = Daemon(self.name, self.tmp.name)
        rc = other.start(expect_ready=False)
        self.assertEqual(rc, 1)
        self.assertIn("held by a running hostcached (pid %d)"
                      % self.d.proc.pid, other.log())
        other.pidfile += ".2"
        rc = subprocess.run(other.argv("--pidfile", other.pidfile),
                            capture_output=True, timeout=PATIENCE)
        self.assertEqual(rc.returncode, 1)
        self.assertIn(b"another server answers on it", rc.stderr)
        # The first one is unharmed.
        self.assertEqual(self.d.connect().cmd(b"version\r\n")[:7], b"VERSION")

    def test_bad_flags_exit_2(self):
        cases = [
            (["--size", "abc"], r"--size 'abc': not a size"),
            (["--size", "0"], r"--size '0': not a size"),
            (["--threads", "0"], r"--threads '0': not a number from 1"),
            (["--threads", "65"], r"--threads '65'"),
            (["--port", "70000"], r"--port '70000': not a number from 1 "
                                  r"to 65535"),
            (["--port"], r"--port needs a value"),
            (["--metrics-port", "x"], r"--metrics-port 'x': not a number"),
            (["--port", "4000", "--metrics-port", "4000"],
             r"--port and --metrics-port are both 4000"),
            (["--log-level", "loud"], r"--log-level 'loud': not a log level"),
            (["--mode", "999"], r"--mode '999': not a file mode"),
            (["--stale-grace", "-1"], r"--stale-grace '-1': not a number "
                                      r"of milliseconds"),
            (["--name", "a/b"], r"--name 'a/b': not a segment name"),
            (["--socket", "/x" * 100], r"--socket .*longer than"),
            (["--bogus"], r"--bogus: unknown option"),
            (["--help=x"], r"--help takes no value"),
            (["stray"], r"'stray': not an option"),
            (["--unlink-on-exit=yes"], r"--unlink-on-exit takes no value"),
            (["--config", "/nonexistent/hcd.conf"],
             r"/nonexistent/hcd.conf: cannot read"),
        ]
        for args, pattern in cases:
            r = subprocess.run([HOSTCACHED] + args, capture_output=True,
                               timeout=PATIENCE)
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, (args, err))
            self.assertEqual(len(err.splitlines()), 1, (args, err))
            self.assertRegex(err, r"^hostcached: " + pattern, args)
        r = subprocess.run([HOSTCACHED, "--version"], capture_output=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^hostcached \d+\.\d+\.\d+\n$")

    def test_bad_config_file_exit_2(self):
        conf = os.path.join(self.tmp.name, self.name + ".conf")
        cases = [
            ("[hostcached]\nsize = huge\n", r":2: size = 'huge': not a size"),
            ("[hostcached]\nthreads = 3\ncolour = red\n",
             r":3: 'colour': not an option"),
            ("[elsewhere]\nsize = 8M\n", r":2: section \[elsewhere\]"),
            ("[hostcached]\nunlink_on_exit = maybe\n",
             r":2: unlink_on_exit = 'maybe': not a boolean"),
            ("[hostcached]\nconfig = other.conf\n", r":2: 'config': not an option"),
            ("this is not ini\n", r":1: not 'key = value'"),
        ]
        for text, pattern in cases:
            with open(conf, "w") as f:
                f.write(text)
            r = subprocess.run([HOSTCACHED, "--config", conf],
                               capture_output=True, timeout=PATIENCE)
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, (text, err))
            self.assertRegex(err, r"^hostcached: " + re.escape(conf)
                             + pattern, text)

    def test_man_page_and_install(self):
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        page = os.path.join(root, "man", "hostcached.8")
        with open(page) as f:
            text = f.read().replace("\\-", "-")
        usage = subprocess.run([HOSTCACHED, "--help"], capture_output=True,
                               text=True).stdout
        for flag in re.findall(r"^  (--[a-z-]+)", usage, re.M):
            self.assertIn(flag, text, "the man page misses " + flag)
        if subprocess.run(["sh", "-c", "command -v groff"],
                          capture_output=True).returncode == 0:
            r = subprocess.run(["groff", "-man", "-Tutf8", "-wall", page],
                               capture_output=True, text=True)
            self.assertEqual(r.stderr, "")
        dest = os.path.join(self.tmp.name, "dest")
        r = subprocess.run(["make", "-s", "-C", root, "install-hostcached",
                            "BUILD=" + os.path.abspath(BUILD),
                            "DESTDIR=" + dest, "PREFIX=/usr"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for path in ("usr/bin/hostcached", "usr/share/man/man8/hostcached.8",
                     "usr/lib/systemd/system/hostcached.service"):
            self.assertTrue(os.path.exists(os.path.join(dest, path)), path)
        with open(os.path.join(dest, "usr/lib/systemd/system/"
                               "hostcached.service")) as f:
            self.assertIn("ExecStart=/usr/bin/hostcached ", f.read())
        self.systemd_verify(root)

    def systemd_verify(self, root):
        """systemd-analyze finds nothing wrong with the unit, installed
        where its ExecStart points (its man page aside: not in MANPATH)."""
        if subprocess.run(["sh", "-c", "command -v systemd-analyze"],
                          capture_output=True).returncode != 0:
            return
        prefix = os.path.join(self.tmp.name, "prefix")
        r = subprocess.run(["make", "-s", "-C", root, "install-hostcached",
                            "BUILD=" + os.path.abspath(BUILD),
                            "PREFIX=" + prefix, "DESTDIR="],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        unit = os.path.join(prefix, "lib/systemd/system/hostcached.service")
        r = subprocess.run(["systemd-analyze", "verify", unit],
                           capture_output=True, text=True, timeout=60)
        complaints = [l for l in (r.stdout + r.stderr).splitlines()
                      if "man hostcached(8)" not in l]
        self.assertEqual(complaints, [])

    # ------------------------------------------------------------------
    # Bad input never hurts the server or the other clients

    def assert_server_answers(self):
        other = self.d.connect()
        self.assertEqual(other.cmd(b"set alive 0 0 2\r\nok\r\n"), b"STORED")
        self.assertEqual(other.values(b"get alive\r\n")[b"alive"][1], b"ok")
        other.close()

    def test_bad_input(self):
        self.started()
        # A line over 2048 bytes without a newline: an error, then closed.
        c = self.d.connect()
        c.send(b"set " + b"x" * 3000)
        self.assertEqual(c.line(), b"CLIENT_ERROR line too long")
        self.assertTrue(c.closed())
        # Bad numbers.
        c = self.d.connect()
        for line in (b"set k abc 0 1", b"set k 0 0 -1", b"set k 0 0 1x",
                     b"set k 4294967296 0 1", b"set k 0 99999999999 1",
                     b"set k 0 0 2147483647"):
            self.assertEqual(c.cmd(line + b"\r\n"),
                             b"CLIENT_ERROR bad command line format", line)
        self.assertEqual(c.cmd(b"set k 0 0\r\n"), b"ERROR")
        self.assertEqual(c.cmd(b"set k 0 0 1 2 3 4 5 6\r\n"), b"ERROR")
        # A data block that does not end where it was declared to.
        self.assertEqual(c.cmd(b"set k 0 0 1\r\nxyz\r\n"),
                         b"CLIENT_ERROR bad data chunk")
        self.assertEqual(c.line(), b"ERROR")  # "z" read as a command
        # A key too long: refused, its data swallowed.
        self.assertEqual(c.cmd(b"set " + b"k" * 251 + b" 0 0 3\r\nabc\r\n"),
                         b"CLIENT_ERROR bad command line format")
        self.assertEqual(c.cmd(b"version\r\n")[:7], b"VERSION")
        # A value larger than the segment takes: refused, data swallowed,
        # and a set leaves no old value behind.
        c.cmd(b"set big 0 0 1\r\nx\r\n")
        big = b"v" * (1 << 20)
        self.assertEqual(c.cmd(b"set big 0 0 %d\r\n%s\r\n" % (len(big), big)),
                         b"SERVER_ERROR object too large for cache")
        self.assertEqual(c.values(b"get big\r\n"), {})
        # A huge declared length: refused at once; the connection waits
        # for that many bytes to drop, so this client closes it.
        self.assertEqual(c.cmd(b"set huge 0 0 2000000000\r\n"),
                         b"SERVER_ERROR object too large for cache")
        c.close()
        # Binary garbage, NUL bytes included.
        c = self.d.connect()
        c.send(bytes(range(256)) * 4 + b"\r\n")
        reply = c.line()
        self.assertTrue(reply in (b"ERROR",
                                  b"CLIENT_ERROR bad command line format"),
                        reply)
        c.close()
        c = self.d.connect()
        c.send(b"\x80\x00\x00\x00" * 1000)  # a binary body over 1 GiB
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")
        # A client that sends its commands and shuts its side: answered.
        c = self.d.connect()
        c.send(b"set half 0 0 1\r\nh\r\nget half\r\n")
        c.s.shutdown(socket.SHUT_WR)
        self.assertEqual(c.line(), b"STORED")
        self.assertEqual(c.line(), b"VALUE half 0 1")
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"h\r\nEND\r\n")
        # Half-sent commands, then the client goes away.
        for partial in (b"get ab", b"set k 0 0 10\r\nabc", b"set k 0 0 5"):
            c = self.d.connect()
            c.send(partial)
            c.close()
        self.assert_server_answers()

    def test_client_that_never_reads(self):
        c = self.started()
        value = b"x" * 16000
        c.cmd(b"set v 0 0 %d\r\n%s\r\n" % (len(value), value))
        # Ask for about 25 GB of replies and read none of them.
        hog = self.d.connect()
        hog.s.setblocking(False)
        request = b"get v v v v v v v v v v\r\n" * 160000
        sent = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sent < len(request):
            try:
                sent += hog.s.send(request[sent:])
            except BlockingIOError:
                time.sleep(0.01)
        # The server stopped reading it long before it had all that.
        self.assertLess(sent, len(request))
        self.assert_server_answers()
        self.assertIn("curr_connections", c.stats())
        hog.close()
        self.assert_server_answers()

    def test_many_connections(self):
        self.started()
        conns = [self.d.connect() for _ in range(200)]
        for i, c in enumerate(conns):
            c.send(b"set conn:%d 0 0 %d\r\n%d\r\n" % (i, len(b"%d" % i), i))
        for c in conns:
            self.assertEqual(c.line(), b"STORED")
        for i, c in enumerate(conns):
            self.assertEqual(c.values(b"get conn:%d\r\n" % i)[b"conn:%d" % i][1],
                             b"%d" % i)
        self.assertGreaterEqual(int(conns[0].stats()["curr_connections"]),
                                200)
        for c in conns:
            c.close()
        self.assert_server_answers()

    def test_max_conns(self):
        self.d.start("--max-conns", "3")
        keep = [self.d.connect() for _ in range(3)]
        for c in keep:
            self.assertEqual(c.cmd(b"version\r\n")[:7], b"VERSION")
        extra = self.d.connect()
        self.assertEqual(extra.line(),
                         b"SERVER_ERROR too many open connections")
        self.assertTrue(extra.closed())
        keep[0].close()
        deadline = time.monotonic() + PATIENCE
        while True:  # the closed one is counted out soon after
            c = self.d.connect()
            try:
                if c.cmd(b"version\r\n")[:7] == b"VERSION":
                    break
            except (EOFError, OSError):
                pass
            c.close()
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)


    # ------------------------------------------------------------------
    # The binary protocol

    def bin_connect(self):
        c = self.d.connect()
        return BinConn(c.s)

    def assert_status(self, reply, status, opcode=None):
        self.assertEqual(reply.status, status, reply)
        if opcode is not None:
            self.assertEqual(reply.opcode, opcode, reply)
        self.assertEqual(reply.opaque, 0xdeadbeef, reply)
        if status != OK:
            self.assertEqual((reply.cas, reply.extras), (0, b""), reply)

    def bin_quiet_then_noop(self, c, *requests):
        """Send REQUESTS and a noop; return the replies before the noop's."""
        c.send(b"".join(c.request(*r) for r in requests) +
               c.request(OP["noop"], opaque=0x1234))
        replies = []
        while True:
            r = c.reply()
            if r.opcode == OP["noop"] and r.opaque == 0x1234:
                return replies
            replies.append(r)

    def test_binary_get_and_store(self):
        self.started()
        c = self.bin_connect()
        r = c.call(OP["set"], b"k", set_extras(77), b"v1")
        self.assert_status(r, OK, OP["set"])
        self.assertNotEqual(r.cas, 0)
        cas = r.cas
        r = c.call(OP["get"], b"k")
        self.assert_status(r, OK, OP["get"])
        self.assertEqual((r.extras, r.key, r.value, r.cas),
                         (struct.pack(">I", 77), b"", b"v1", cas))
        r = c.call(OP["getk"], b"k", opaque=7)
        self.assertEqual((r.key, r.value, r.opaque), (b"k", b"v1", 7))
        r = c.call(OP["get"], b"nope")
        self.assert_status(r, NOT_FOUND)
        self.assertEqual(r.value, b"Not found")
        r = c.call(OP["getk"], b"nope")
        self.assertEqual((r.status, r.key), (NOT_FOUND, b"nope"))
        # The same item through the text protocol, and the other way.
        t = self.d.connect()
        self.assertEqual(t.values(b"gets k\r\n")[b"k"], (77, b"v1", cas))
        t.cmd(b"set fromtext 5 0 2\r\nhi\r\n")
        r = c.call(OP["get"], b"fromtext")
        self.assertEqual((r.extras, r.value), (struct.pack(">I", 5), b"hi"))
        # add, replace
        self.assert_status(c.call(OP["add"], b"k", set_extras(), b"x"),
                           EXISTS)
        self.assert_status(c.call(OP["add"], b"new", set_extras(), b"n"), OK)
        self.assert_status(c.call(OP["replace"], b"gone", set_extras(),
                                  b"x"), NOT_FOUND)
        self.assert_status(c.call(OP["replace"], b"new", set_extras(),
                                  b"N"), OK)
        # CAS: right, wrong, on an absent key; replace by CAS.
        self.assert_status(c.call(OP["set"], b"k", set_extras(), b"v0",
                                  cas=cas + 1), EXISTS)
        r = c.call(OP["set"], b"k", set_extras(), b"v2", cas=cas)
        self.assert_status(r, OK)
        self.assert_status(c.call(OP["replace"], b"k", set_extras(), b"v3",
                                  cas=cas), EXISTS)
        r = c.call(OP["replace"], b"k", set_extras(), b"v3", cas=r.cas)
        self.assert_status(r, OK)
        self.assert_status(c.call(OP["set"], b"absent", set_extras(), b"x",
                                  cas=12345), NOT_FOUND)
        # append, prepend, with and without CAS; on an absent key.
        self.assert_status(c.call(OP["append"], b"k", value=b">"), OK)
        r = c.call(OP["prepend"], b"k", value=b"<")
        self.assert_status(r, OK)
        self.assert_status(c.call(OP["append"], b"k", value=b"!",
                                  cas=r.cas + 1), EXISTS)
        self.assert_status(c.call(OP["append"], b"k", value=b"!",
                                  cas=r.cas), OK)
        self.assert_status(c.call(OP["append"], b"nope", value=b"x"),
                           NOT_STORED)
        self.assert_status(c.call(OP["prepend"], b"nope", value=b"x"),
                           NOT_STORED)
        self.assertEqual(c.call(OP["get"], b"k").value, b"<v3>!")
        # An exptime in the past (an absolute time) stores nothing.
        self.assert_status(c.call(OP["set"], b"past", set_extras(
            0, int(time.time()) - 10), b"x"), OK)
        self.assert_status(c.call(OP["get"], b"past"), NOT_FOUND)
        blob = bytes(range(256)) * 4
        self.assert_status(c.call(OP["set"], b"blob", set_extras(), blob), OK)
        self.assertEqual(c.call(OP["get"], b"blob").value, blob)

    def test_binary_quiet_variants(self):
        self.started()
        c = self.bin_connect()
        c.call(OP["set"], b"hit", set_extras(3), b"h")
        c.call(OP["set"], b"n", set_extras(), b"5")
        # Quiet gets: misses say nothing, hits answer.
        replies = self.bin_quiet_then_noop(
            c, (OP["getq"], b"miss"), (OP["getq"], b"hit"),
            (OP["getkq"], b"miss"), (OP["getkq"], b"hit"),
            (OP["gatq"], b"miss", struct.pack(">I", 0)),
            (OP["gatkq"], b"hit", struct.pack(">I", 0)))
        self.assertEqual([(r.opcode, r.key, r.value) for r in replies],
                         [(OP["getq"], b"", b"h"), (OP["getkq"], b"hit", b"h"),
                          (OP["gatkq"], b"hit", b"h")])
        # Quiet writes: successes say nothing ...
        replies = self.bin_quiet_then_noop(
            c, (OP["setq"], b"a", set_extras(), b"1"),
            (OP["addq"], b"b", set_extras(), b"2"),
            (OP["replaceq"], b"a", set_extras(), b"3"),
            (OP["appendq"], b"a", b"", b"4"),
            (OP["prependq"], b"a", b"", b"2"),
            (OP["incrq"], b"n", arith_extras(10)),
            (OP["decrq"], b"n", arith_extras(1)),
            (OP["deleteq"], b"b"))
        self.assertEqual(replies, [])
        self.assertEqual(c.call(OP["get"], b"a").value, b"234")
        self.assertEqual(c.call(OP["get"], b"n").value, b"14")
        self.assert_status(c.call(OP["get"], b"b"), NOT_FOUND)
        # ... and failures are sent, in order.
        replies = self.bin_quiet_then_noop(
            c, (OP["addq"], b"a", set_extras(), b"x"),
            (OP["replaceq"], b"zz", set_extras(), b"x"),
            (OP["appendq"], b"zz", b"", b"x"),
            (OP["deleteq"], b"zz"),
            (OP["incrq"], b"hit", arith_extras(1)),
            (OP["decrq"], b"zz", arith_extras(1, 0, 0xffffffff)),
            (OP["setq"], b"a", set_extras(), b"x", 999999))
        self.assertEqual([(r.opcode, r.status) for r in replies],
                         [(OP["addq"], EXISTS), (OP["replaceq"], NOT_FOUND),
                          (OP["appendq"], NOT_STORED),
                          (OP["deleteq"], NOT_FOUND),
                          (OP["incrq"], NOT_NUMBER),
                          (OP["decrq"], NOT_FOUND), (OP["setq"], EXISTS)])
        # flushq says nothing; quitq closes without a word.
        self.assertEqual(self.bin_quiet_then_noop(c, (OP["flushq"],)), [])
        self.assert_status(c.call(OP["get"], b"a"), NOT_FOUND)
        c.send_request(OP["quitq"])
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b"")

    def test_binary_delete_incr_decr(self):
        self.started()
        c = self.bin_connect()
        r = c.call(OP["set"], b"d", set_extras(), b"x")
        self.assert_status(c.call(OP["delete"], b"d", cas=r.cas + 1), EXISTS)
        r = c.call(OP["delete"], b"d", cas=r.cas)
        self.assert_status(r, OK, OP["delete"])
        self.assertEqual((r.cas, r.value), (0, b""))
        self.assert_status(c.call(OP["delete"], b"d"), NOT_FOUND)
        # An absent counter: made with the initial value, or refused.
        r = c.call(OP["incr"], b"ctr", arith_extras(5, 100))
        self.assert_status(r, OK, OP["incr"])
        self.assertEqual(struct.unpack(">Q", r.value)[0], 100)
        self.assertNotEqual(r.cas, 0)
        r = c.call(OP["incr"], b"ctr", arith_extras(5, 100))
        self.assertEqual(struct.unpack(">Q", r.value)[0], 105)
        self.assertNotEqual(r.cas, 0)
        r = c.call(OP["decr"], b"ctr", arith_extras(200))
        self.assertEqual(struct.unpack(">Q", r.value)[0], 0)  # floors at 0
        self.assert_status(c.call(OP["decr"], b"other", arith_extras(
            1, 7, 0xffffffff)), NOT_FOUND)
        self.assert_status(c.call(OP["get"], b"other"), NOT_FOUND)
        r = c.call(OP["decr"], b"other", arith_extras(1, 7, 100))
        self.assertEqual(struct.unpack(">Q", r.value)[0], 7)
        t = self.d.connect()
        self.assertEqual(t.values(b"get ctr other\r\n"),
                         {b"ctr": (0, b"0", None), b"other": (0, b"7", None)})
        self.assertGreater(self.ttls()["other"], 0)  # its exptime was kept
        c.call(OP["set"], b"big", set_extras(), b"18446744073709551615")
        r = c.call(OP["incr"], b"big", arith_extras(2))
        self.assertEqual(struct.unpack(">Q", r.value)[0], 1)  # wraps
        c.call(OP["set"], b"text", set_extras(), b"abc")
        r = c.call(OP["incr"], b"text", arith_extras(1))
        self.assert_status(r, NOT_NUMBER)
        self.assertEqual(len(r.value) > 0, True)

    def test_binary_touch_and_gat(self):
        self.started()
        c = self.bin_connect()
        c.call(OP["set"], b"t", set_extras(9), b"tv")
        r = c.call(OP["touch"], b"t", struct.pack(">I", 1000))
        self.assert_status(r, OK, OP["touch"])
        self.assertEqual(r.value, b"")
        self.assertGreater(self.ttls()["t"], 900)
        self.assert_status(c.call(OP["touch"], b"nope", struct.pack(">I", 1)),
                           NOT_FOUND)
        r = c.call(OP["gat"], b"t", struct.pack(">I", 0))
        self.assertEqual((r.status, r.extras, r.key, r.value),
                         (OK, struct.pack(">I", 9), b"", b"tv"))
        self.assertEqual(self.ttls()["t"], 0)
        r = c.call(OP["gatk"], b"t", struct.pack(">I", 2000))
        self.assertEqual((r.status, r.key, r.value), (OK, b"t", b"tv"))
        self.assert_status(c.call(OP["gat"], b"nope", struct.pack(">I", 0)),
                           NOT_FOUND)
        # gat to a time already past: the value once, then gone.
        past = struct.pack(">I", int(time.time()) - 10)
        self.assertEqual(c.call(OP["gat"], b"t", past).status, OK)
        self.assert_status(c.call(OP["get"], b"t"), NOT_FOUND)
        stats = self.d.connect().stats()
        self.assertEqual((int(stats["cmd_touch"]), int(stats["touch_hits"]),
                          int(stats["touch_misses"])), (6, 4, 2))

    def test_binary_flush_noop_version_stat_verbosity_quit(self):
        self.started()
        c = self.bin_connect()
        c.call(OP["set"], b"a", set_extras(), b"x")
        r = c.call(OP["flush"])
        self.assert_status(r, OK, OP["flush"])
        self.assert_status(c.call(OP["get"], b"a"), NOT_FOUND)
        c.call(OP["set"], b"a", set_extras(), b"x")
        self.assert_status(c.call(OP["flush"], extras=struct.pack(">I", 2)),
                           OK)
        self.assertEqual(c.call(OP["get"], b"a").status, OK)  # not yet
        deadline = time.monotonic() + PATIENCE
        while c.call(OP["get"], b"a").status == OK:
            self.assertLess(time.monotonic(), deadline, "no delayed flush")
            time.sleep(0.1)
        r = c.call(OP["noop"], opaque=42)
        self.assertEqual((r.opcode, r.status, r.opaque, r.value),
                         (OP["noop"], OK, 42, b""))
        r = c.call(OP["version"])
        self.assertTrue(r.value.startswith(b"1.6.0-hostcached-"), r)
        c.send_request(OP["stat"])
        stats = {}
        while True:
            r = c.reply()
            self.assert_status(r, OK, OP["stat"])
            if r.key == b"":
                self.assertEqual(r.value, b"")
                break
            stats[r.key.decode()] = r.value.decode()
        self.assertEqual(int(stats["pid"]), self.d.proc.pid)
        for name in ("cmd_get", "curr_items", "curr_connections", "threads",
                     "bytes_read"):
            self.assertIn(name, stats)
        self.assert_status(c.call(OP["stat"], b"settings"), NOT_FOUND)
        self.assert_status(c.call(OP["verbosity"],
                                  extras=struct.pack(">I", 1)), OK)
        # An unknown opcode, and requests of the wrong shape: answered,
        # and the connection goes on.
        self.assert_status(c.call(0x60), UNKNOWN)
        self.assert_status(c.call(OP["get"], b"k", b"xxxx"), INVALID)
        self.assert_status(c.call(OP["get"]), INVALID)
        self.assert_status(c.call(OP["set"], b"k", b"1234", b"v"), INVALID)
        self.assert_status(c.call(OP["noop"], b"k"), INVALID)
        self.assert_status(c.call(OP["delete"], b"k", value=b"v"), INVALID)
        self.assert_status(c.call(OP["incr"], b"k", b"12345678"), INVALID)
        self.assertEqual(c.call(OP["noop"]).status, OK)
        r = c.call(OP["quit"])
        self.assert_status(r, OK, OP["quit"])
        self.assertTrue(c.closed())

    def test_binary_too_large(self):
        self.started()
        c = self.bin_connect()
        c.call(OP["set"], b"big", set_extras(), b"old")
        big = b"v" * (1 << 20)
        r = c.call(OP["set"], b"big", set_extras(), big)
        self.assert_status(r, TOO_LARGE, OP["set"])
        self.assert_status(c.call(OP["get"], b"big"), NOT_FOUND)
        c.call(OP["set"], b"k", set_extras(), b"old")
        self.assertEqual(self.bin_quiet_then_noop(
            c, (OP["appendq"], b"k", b"", big))[0].status, TOO_LARGE)
        self.assertEqual(c.call(OP["get"], b"k").value, b"old")
        # The body came in pieces, and was dropped: the stream goes on.
        self.assertEqual(c.call(OP["noop"]).status, OK)

    def test_binary_bad_frames_close(self):
        self.started()
        head = BinConn.HEADER
        cases = {
            "bad magic after a good request":
                BinConn.request(OP["noop"]) + b"\x81" + b"\0" * 23,
            "text after binary": BinConn.request(OP["noop"]) +
                b"get k\r\n" + b"\0" * 20,
            "body over 1 GiB": head.pack(0x80, OP["set"], 1, 8, 0, 0,
                                         (1 << 30) + 1, 0, 0),
            "key over 250 bytes": head.pack(0x80, OP["get"], 251, 0, 0, 0,
                                            251, 0, 0) + b"k" * 251,
            "key beyond the body": head.pack(0x80, OP["get"], 10, 0, 0, 0,
                                             5, 0, 0) + b"k" * 10,
            "extras and key beyond the body":
                head.pack(0x80, OP["set"], 4, 8, 0, 0, 10, 0, 0) + b"\0" * 10,
            "a get with a body too large for any value":
                head.pack(0x80, OP["get"], 1, 0, 0, 0, (1 << 20) + 1, 0, 0),
        }
        for what, data in cases.items():
            c = self.bin_connect()
            c.send(data)
            self.assertTrue(c.closed(), what)
            # A good request before the bad one is answered first.
            if data[1] == OP["noop"] and data[0] == 0x80:
                self.assertEqual(len(c.buf), 24, what)
            else:
                self.assertEqual(c.buf, b"", what)
            c.close()
            self.assert_server_answers()
        # Half a request, then the client goes away.
        c = self.bin_connect()
        c.send(BinConn.request(OP["set"], b"k", set_extras(),
                               b"v" * 100)[:60])
        c.close()
        self.assert_server_answers()

    def test_binary_over_tcp(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        self.started("--port", str(port))
        t = BinConn(socket.create_connection(("127.0.0.1", port),
                                             timeout=PATIENCE))
        self.assert_status(t.call(OP["set"], b"tcp", set_extras(), b"t"), OK)
        self.assertEqual(t.call(OP["get"], b"tcp").value, b"t")
        t.close()

    # ------------------------------------------------------------------
    # libmemcached's protocol conformance test

    def memcapable(self, mode):
        """Run memcapable MODE (-a ascii, -b binary) against a daemon on a
        free TCP port; return {test name: result word}."""
        prog = shutil.which("memccapable") or shutil.which("memcapable")
        if prog is None:
            self.skipTest("needs memcapable (make deps installs "
                          "libmemcached-tools)")
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        self.started("--port", str(port))
        r = subprocess.run([prog, "-h", "127.0.0.1", "-p", str(port), "-t",
                            "10", mode], capture_output=True, text=True,
                           timeout=PATIENCE * 6)
        results = {}
        for line in r.stdout.splitlines():
            m = re.match(r"^(\S.*?)\s+\[(\w+)\]$", line)
            if m:
                results[m.group(1)] = m.group(2)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("All tests passed", r.stdout)
        return results

    # Every test memcapable has, of either protocol, must pass: none is
    # skipped, as hostcached serves every command they use.
    def test_memcapable_ascii(self):
        results = self.memcapable("-a")
        self.assertGreaterEqual(len(results), 27, results)
        self.assertEqual({k: v for k, v in results.items() if v != "pass"},
                         {})
        self.assertTrue(all(k.startswith("ascii ") for k in results), results)

    def test_memcapable_binary(self):
        results = self.memcapable("-b")
        self.assertGreaterEqual(len(results), 27, results)
        self.assertEqual({k: v for k, v in results.items() if v != "pass"},
                         {})
        self.assertTrue(all(k.startswith("binary ") for k in results),
                        results)

    # ------------------------------------------------------------------
    # HTTP /metrics

    def scrape(self, port, path="/metrics"):
        """GET PATH; return {sample name with labels: value} after checking
        the text format: every sample announced by # HELP and # TYPE,
        counters ending in _total, names hostcache_* or hostcached_*."""
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=PATIENCE) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith(
                "text/plain; version=0.0.4"), r.headers["Content-Type"])
            text = r.read().decode()
        helped, typed, samples = set(), {}, {}
        sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
                            r'(\{[a-z_]+="(?:[^"\\]|\\.)*"'
                            r'(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? (\S+)$')
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, help_text = line[7:].split(" ", 1)
                self.assertTrue(help_text, line)
                helped.add(name)
                continue
            if line.startswith("# TYPE "):
                name, kind = line[7:].split(" ")
                self.assertIn(kind, ("counter", "gauge", "histogram"), line)
                self.assertIn(name, helped, "TYPE before HELP: " + line)
                typed[name] = kind
                continue
            m = sample.match(line)
            self.assertIsNotNone(m, "not a sample: %r" % line)
            name = m.group(1)
            self.assertRegex(name, r"^hostcached?_", line)
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if typed.get(base) == "histogram":
                name = base  # its _bucket{le=...}, _sum and _count
            self.assertIn(name, typed, "sample not announced: " + line)
            if typed[name] == "counter":
                self.assertTrue(name.endswith("_total"), line)
            value = float(m.group(3))
            self.assertGreaterEqual(value, 0, line)
            self.assertNotIn(m.group(1) + (m.group(2) or ""), samples, line)
            samples[m.group(1) + (m.group(2) or "")] = value
        return samples

    def free_port(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        return port

    def test_metrics_endpoint(self):
        port = self.free_port()
        c = self.started("--metrics-port", str(port))
        seg = '{segment="%s"}' % self.name
        before = self.scrape(port)
        for name in ("hostcache_gets_total", "hostcache_hits_total",
                     "hostcache_sets_total", "hostcache_items",
                     "hostcache_get_p50_nanoseconds",
                     "hostcache_get_p99_nanoseconds",
                     "hostcache_set_p999_nanoseconds",
                     "hostcache_latency_sample_every"):
            self.assertIn(name + seg, before)
        for name in ("hostcached_connections", "hostcached_connections_total",
                     "hostcached_threads", 'hostcached_read_bytes_total'
                     '{worker="0"}', 'hostcached_delete_hits_total'
                     '{worker="1"}'):
            self.assertIn(name, before)
        self.assertEqual(before["hostcached_threads"], 2)
        self.assertGreaterEqual(before["hostcached_connections"], 1)
        c.cmd(b"set m 0 0 1\r\nx\r\n")
        for _ in range(3):
            c.values(b"get m\r\n")
        c.values(b"get nope\r\n")
        c.cmd(b"delete m\r\n")
        after = self.scrape(port)
        self.assertGreaterEqual(after["hostcache_gets_total" + seg]
                                - before["hostcache_gets_total" + seg], 4)
        self.assertGreaterEqual(after["hostcache_hits_total" + seg]
                                - before["hostcache_hits_total" + seg], 3)
        self.assertGreaterEqual(after["hostcache_sets_total" + seg]
                                - before["hostcache_sets_total" + seg], 1)
        read = sum(v for k, v in after.items()
                   if k.startswith("hostcached_read_bytes_total"))
        self.assertGreater(read, 0)
        self.assertEqual(sum(v for k, v in after.items()
                             if k.startswith("hostcached_delete_hits_total")),
                         1)
        # Only /metrics is served.
        for path in ("/", "/metricsx", "/other"):
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                       timeout=PATIENCE)
            self.assertEqual(e.exception.code, 404, path)
        self.assertIn("hostcache_gets_total" + seg,
                      self.scrape(port, "/metrics?x=1"))

    def test_metrics_off_by_default_and_from_config(self):
        port = self.free_port()
        self.started()
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                   timeout=PATIENCE)
        self.assert_stops_cleanly()
        conf = os.path.join(self.tmp.name, self.name + ".conf")
        with open(conf, "w") as f:
            f.write("[hostcached]\nmetrics_port = %d\n" % port)
        self.started("--config", conf)
        self.assertIn("hostcached_threads", self.scrape(port))

def run_tap(case):
    """Run the tests of CASE, printing TAP; the exit status."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "python", "tests"))
    import tap  # the binding's TAP printer
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    print("1..%d" % suite.countTestCases(), flush=True)
    result = tap.TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


def main():
    return run_tap(HostcachedTest)


if __name__ == "__main__":
    sys.exit(main())
