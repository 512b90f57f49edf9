"""hostcached --redis end to end: a real redis-server on a private unix
socket and port, and two hostcached on two segments standing for two
hosts (A and B, different --origin, one channel).  A change made on A,
through cachectl or through the memcached protocol, must make B miss the
key within a bounded wait; B's applying is not sent back; a lost Redis, a
restarted sidecar and an overrun journal end in resyncs and nothing stale.
Run by tests/t_redis.sh, which prints TAP."""

import atexit
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostcached_test as hct  # noqa: E402  the Daemon and Conn harness

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# The bound on A -> B propagation the test holds the daemons to; the
# README states what it measures (well under it).
BOUND = 2.0
DELAY_SAMPLES = 50


STARTED = []  # every redis-server, killed at exit whatever happened


@atexit.register
def kill_started():
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()


class Redis:
    """One redis-server: no persistence, unix socket and a loopback port."""

    def __init__(self, workdir, port):
        self.sock = os.path.join(workdir, "redis.sock")
        self.log = os.path.join(workdir, "redis.log")
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--logfile", self.log],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        STARTED.append(self.proc)
        deadline = time.monotonic() + hct.PATIENCE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited %d: %s" % (
                    self.proc.returncode, open(self.log).read()[-2000:]))
            try:
                if self.command(b"PING") == b"+PONG":
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("redis-server not ready")

    def command(self, *words):
        """One command over the unix socket; the first reply line."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(hct.PATIENCE)
        try:
            s.connect(self.sock)
            req = b"*%d\r\n" % len(words) + b"".join(
                b"$%d\r\n%s\r\n" % (len(w), w) for w in words)
            s.sendall(req)
            reply = b""
            while b"\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply.split(b"\r\n", 1)[0]
        finally:
            s.close()

    def reply(self, *words):
        """One command over the unix socket; its whole reply, a bulk
        string's bytes (None for nil) or the first line of any other."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(hct.PATIENCE)
        try:
            s.connect(self.sock)
            s.sendall(b"*%d\r\n" % len(words) + b"".join(
                b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
            data = b""
            while b"\r\n" not in data:
                data += s.recv(65536)
            head, data = data.split(b"\r\n", 1)
            if not head.startswith(b"$"):
                return head
            if head == b"$-1":
                return None
            size = int(head[1:])
            while len(data) < size + 2:
                data += s.recv(65536)
            return data[:size]
        finally:
            s.close()

    def info(self, section):
        """INFO SECTION as {name: value text}."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(hct.PATIENCE)
        try:
            s.connect(self.sock)
            s.sendall(b"INFO %s\r\n" % section)
            data = b""
            while b"\r\n" not in data:
                data += s.recv(65536)
            head, data = data.split(b"\r\n", 1)
            size = int(head[1:])
            while len(data) < size:
                data += s.recv(65536)
        finally:
            s.close()
        return dict(line.split(":", 1) for line in
                    data[:size].decode().splitlines() if ":" in line)

    def calls(self, command):
        stat = self.info(b"commandstats").get("cmdstat_" + command, "")
        return int(stat.split(",")[0].split("=")[1]) if stat else 0

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def diag(text):
    print("# " + text, flush=True)


class RedisLinkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(hct.HOSTCACHED, os.X_OK):
            raise unittest.SkipTest(hct.HOSTCACHED + " is not built")
        cls.tmp = tempfile.TemporaryDirectory(prefix="t_redis.")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        tag = "%d-%s" % (os.getpid(), self._testMethodName[5:20])
        self.names = ["hc-t-redA-" + tag, "hc-t-redB-" + tag]
        self.channel = "hostcache:t-" + tag
        for n in self.names:
            self.destroy(n)
        self.redis = None
        self.a = hct.Daemon(self.names[0], self.tmp.name)
        self.b = hct.Daemon(self.names[1], self.tmp.name)

    def tearDown(self):
        try:
            for d in (self.a, self.b):
                if d.proc is not None and d.proc.poll() is None:
                    self.assertEqual(d.stop(), 0, d.log())
        finally:
            for d in (self.a, self.b):
                if d.proc is not None and d.proc.poll() is None:
                    d.proc.kill()
                    d.wait()
            if self.redis is not None:
                self.redis.kill()
            for n in self.names:
                self.destroy(n)

    def destroy(self, name):
        subprocess.run([hct.CACHECTL, "destroy", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cachectl(self, *args):
        r = subprocess.run([hct.CACHECTL] + list(args), capture_output=True,
                           timeout=hct.PATIENCE)
        return r

    def need_redis(self):
        if not os.access(REDIS_SERVER, os.X_OK):
            self.skipTest("needs redis-server (make check installs the "
                          "Debian package redis-server)")
        self.redis = Redis(self.tmp.name, hct.HostcachedTest.free_port(self))
        self.redis.start()

    def start_host(self, d, origin, url, *extra):
        d.start("--redis", url, "--redis-channel", self.channel,
                "--origin", origin, *extra)

    def one_host(self):
        """A alone, linked to Redis over the unix socket; a connection."""
        self.start_host(self.a, "hostA", "unix:" + self.redis.sock)
        ca = self.a.connect()
        self.eventually(lambda: self.rstats(ca)["link_up"] == 1, "linked",
                        timeout=hct.PATIENCE)
        return ca

    def hosts(self, a_extra=(), b_extra=()):
        """Redis, A (over the unix socket) and B (over TCP), both linked;
        returns a connection to each."""
        self.need_redis()
        self.start_host(self.a, "hostA", "unix:" + self.redis.sock, *a_extra)
        self.start_host(self.b, "hostB",
                        "redis://127.0.0.1:%d" % self.redis.port, *b_extra)
        ca, cb = self.a.connect(), self.b.connect()
        self.linked(ca, cb)
        return ca, cb

    def rstats(self, c):
        return {k[6:]: int(v) for k, v in c.stats().items()
                if k.startswith("redis_")}

    def eventually(self, pred, what, timeout=BOUND):
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if pred():
                return time.monotonic() - start
            time.sleep(0.0005)
        self.fail("%s: not within %.1f s" % (what, timeout))

    def linked(self, ca, cb, resyncs=1):
        """Both links up, each host's resync sent and its flush done; then
        a pause, so that no flush of the start lands in the test."""
        for c in (ca, cb):
            self.eventually(lambda: (lambda s: s["link_up"] == 1 and
                                     s["resyncs_sent"] >= resyncs and
                                     s["local_flushes"] >= resyncs)(
                                         self.rstats(c)),
                            "links up and resynced", timeout=hct.PATIENCE)
        time.sleep(0.1)

    def present(self, c, key):
        return key in c.values(b"get " + key + b"\r\n")

    def set_on(self, c, key, value=b"v"):
        self.assertEqual(c.cmd(b"set %s 0 0 %d\r\n%s\r\n"
                               % (key, len(value), value)), b"STORED")

    def gone_from(self, c, key, what):
        return self.eventually(lambda: not self.present(c, key), what)

    # ------------------------------------------------------------------

    def test_bad_options(self):
        cases = [("--redis", "http://localhost"), ("--redis", "redis://h:0"),
                 ("--redis", "redis://h:6379/2"), ("--redis", "redis://u:p@h"),
                 ("--redis", "unix:relative.sock"), ("--redis", "redis://"),
                 ("--origin", "two words"), ("--redis-channel", ""),
                 ("--writeback", "1K"), ("--writeback", "1G"),
                 ("--redis-track", ""),
                 ("--redis-channel", "__redis__:invalidate")]
        for flag, value in cases:
            d = hct.Daemon(self.names[0], self.tmp.name)
            rc = d.start(flag, value, expect_ready=False)
            self.assertEqual(rc, 2, (flag, value, d.log()))
            self.assertIn("--" + flag[2:], d.log())
        conf = os.path.join(self.tmp.name, "bad-redis.conf")
        with open(conf, "w") as f:
            f.write("[hostcached]\nredis = tcp://h\n")
        d = hct.Daemon(self.names[0], self.tmp.name)
        self.assertEqual(d.start("--config", conf, expect_ready=False), 2)
        self.assertIn("bad-redis.conf:2: redis = 'tcp://h': not a Redis URL",
                      d.log())
        out = subprocess.run([hct.HOSTCACHED, "--help"], capture_output=True,
                             text=True).stdout
        for flag in ("--redis URL", "--redis-channel", "--origin", "--journal",
                     "--writeback SIZE", "--redis-track PREFIX"):
            self.assertIn(flag, out)
        # Prefixes Redis would refuse, and tracking with no Redis.
        d = hct.Daemon(self.names[0], self.tmp.name)
        self.assertEqual(d.start("--redis", "unix:/nonexistent.sock",
                                 "--redis-track", "user:",
                                 "--redis-track", "user:1",
                                 expect_ready=False), 2)
        self.assertIn("overlaps 'user:'", d.log())
        d = hct.Daemon(self.names[0], self.tmp.name)
        self.assertEqual(d.start("--redis-track", "user:",
                                 expect_ready=False), 2)
        self.assertIn("--redis-track needs --redis", d.log())

    def test_existing_segment_without_journal(self):
        self.assertEqual(self.cachectl("create", self.names[0],
                                       "--size", "8M").returncode, 0)
        rc = self.a.start("--redis", "unix:/nonexistent.sock",
                          expect_ready=False)
        self.assertEqual(rc, 1, self.a.log())
        self.assertIn("without a journal", self.a.log())
        self.assertIn("--journal", self.a.log())

    def test_starts_while_redis_is_down_then_links(self):
        self.need_redis()
        self.redis.kill()
        # the link's options from the configuration file this time
        conf = os.path.join(self.tmp.name, "redis.conf")
        with open(conf, "w") as f:
            f.write("[hostcached]\nredis = unix:%s\norigin = fileA\n"
                    "redis_channel = %s\n" % (self.redis.sock, self.channel))
        self.a.start("--config", conf)
        self.assertIn("origin 'fileA'", self.a.log())
        ca = self.a.connect()
        self.assertEqual(self.rstats(ca)["link_up"], 0)
        self.eventually(lambda: "retrying" in self.a.log(),
                        "the failure logged")
        self.redis.start()
        self.eventually(lambda: self.rstats(ca)["link_up"] == 1,
                        "linked once Redis is up", timeout=10)

    def test_cachectl_changes_reach_the_other_host(self):
        ca, cb = self.hosts()
        A = self.names[0]
        # set, del, incr through the library
        self.set_on(cb, b"k1")
        self.assertEqual(self.cachectl("set", A, "k1", "new").returncode, 0)
        self.gone_from(cb, b"k1", "a set on A")
        self.set_on(cb, b"k2")
        self.cachectl("del", A, "k2")  # A holds no k2: still journaled
        self.gone_from(cb, b"k2", "a delete on A")
        # a prefix ending in the delimiter, and one that does not
        self.set_on(cb, b"user:42:name")
        self.set_on(cb, b"user:43:name")
        self.assertEqual(self.cachectl("invalidate", A, "--prefix",
                                       "user:42:").returncode, 0)
        self.gone_from(cb, b"user:42:name", "a prefix on A")
        self.assertTrue(self.present(cb, b"user:43:name"))
        self.set_on(cb, b"session-9")
        self.cachectl("invalidate", A, "--prefix", "sess")
        self.gone_from(cb, b"session-9", "a scanned prefix on A")
        # a tag: B's item set with it through the library
        B = self.names[1]
        self.assertEqual(self.cachectl("set", B, "tagged", "x", "--tag",
                                       "t1").returncode, 0)
        self.assertEqual(self.cachectl("set", B, "untagged",
                                       "x").returncode, 0)
        self.assertEqual(self.cachectl("invalidate", A, "--tag",
                                       "t1").returncode, 0)
        self.gone_from(cb, b"tagged", "a tag on A")
        self.assertTrue(self.present(cb, b"untagged"))
        # flush
        self.assertEqual(self.cachectl("flush", A).returncode, 0)
        self.gone_from(cb, b"untagged", "a flush on A")
        self.assertEqual(self.cachectl("get", B, "user:43:name").returncode, 1)
        sb = self.rstats(cb)
        self.assertEqual(sb["apply_errors"], 0)
        self.assertGreaterEqual(sb["applied"], 6)

    def test_long_key_invalidates_its_first_256_bytes(self):
        # Segments made beforehand with longer keys than the journal keeps.
        for n in self.names:
            self.assertEqual(self.cachectl("create", n, "--size", "8M",
                                           "--max-key", "1000", "--journal",
                                           "256").returncode, 0)
        ca, cb = self.hosts()
        B = self.names[1]
        stem = "L" * 256
        for key in (stem + "-one", stem + "-two", "short"):
            self.assertEqual(self.cachectl("set", B, key, "v").returncode, 0)
        self.assertEqual(self.cachectl("set", self.names[0], stem + "-one",
                                       "new").returncode, 0)
        self.eventually(lambda: self.cachectl("get", B, stem + "-one")
                        .returncode == 1, "the long key gone from B")
        # The journal kept 256 bytes: B drops every key they start.
        self.assertEqual(self.cachectl("get", B, stem + "-two").returncode, 1)
        self.assertEqual(self.cachectl("get", B, "short").returncode, 0)

    def test_protocol_changes_reach_the_other_host(self):
        ca, cb = self.hosts()
        self.set_on(cb, b"p1")
        self.set_on(ca, b"p1", b"fresh")
        self.gone_from(cb, b"p1", "a set through the protocol on A")
        self.set_on(cb, b"p2")
        self.assertEqual(ca.cmd(b"delete p2\r\n"), b"NOT_FOUND")
        self.gone_from(cb, b"p2", "a delete through the protocol on A")
        self.set_on(cb, b"p3")
        self.assertEqual(ca.cmd(b"md p3\r\n"), b"NF")
        self.gone_from(cb, b"p3", "a meta delete on A")
        self.set_on(cb, b"p4")
        self.assertEqual(ca.cmd(b"flush_all\r\n"), b"OK")
        self.gone_from(cb, b"p4", "flush_all on A")
        # The delay, A's reply to B's miss, over many keys.
        delays = []
        for i in range(DELAY_SAMPLES):
            key = b"d%d" % i
            self.set_on(cb, key)
            self.set_on(ca, key)
            delays.append(self.gone_from(cb, key, "set on A"))
        delays.sort()
        diag("propagation A -> B, A's reply to B's miss: median %.2f ms, "
             "p90 %.2f ms, max %.2f ms (n=%d)" % (
                 statistics.median(delays) * 1e3,
                 delays[int(len(delays) * 0.9)] * 1e3, delays[-1] * 1e3,
                 len(delays)))
        sb = self.rstats(cb)
        diag("B's own count, publish to apply: avg %d us, p50 <= %d us, "
             "p99 <= %d us, max %d us (n=%d)" % (
                 sb["delay_avg_us"], sb["delay_p50_us"], sb["delay_p99_us"],
                 sb["delay_max_us"], sb["delay_count"]))
        self.assertGreaterEqual(sb["delay_count"], DELAY_SAMPLES)

    def test_no_loop(self):
        ca, cb = self.hosts()
        a0, b0 = self.rstats(ca), self.rstats(cb)
        self.set_on(cb, b"n19")
        for i in range(20):
            self.set_on(ca, b"n%d" % i)
        self.gone_from(cb, b"n19", "the last set on A")
        time.sleep(0.2)  # anything sent back would have arrived
        a1, b1 = self.rstats(ca), self.rstats(cb)
        self.assertEqual(a1["published"] - a0["published"], 20)
        self.assertEqual(b1["applied"] - b0["applied"], 20)
        # B's own set of n19 went to A, and nothing else: B's applying
        # of A's 20 is not published.
        self.assertEqual(b1["published"] - b0["published"], 1)
        self.assertEqual(a1["applied"] - a0["applied"], 1)
        # Each host sees its own messages on the channel and skips them.
        self.assertEqual(a1["own_skipped"] - a0["own_skipped"], 20)
        self.assertEqual(b1["own_skipped"] - b0["own_skipped"], 1)
        self.assertTrue(self.present(ca, b"n0"))  # A keeps its own

    def test_redis_lost_and_back(self):
        ca, cb = self.hosts()
        a0, b0 = self.rstats(ca), self.rstats(cb)
        self.set_on(cb, b"during")
        self.redis.kill()
        for c in (ca, cb):
            self.eventually(lambda: self.rstats(c)["link_up"] == 0,
                            "link down")
        # B fills the key (from its database, say); A changes it; nobody
        # can tell B.
        self.set_on(cb, b"outage", b"old")
        self.set_on(ca, b"outage", b"new")
        self.assertEqual(self.cachectl("del", self.names[0],
                                       "during").returncode, 1)
        self.redis.start()
        self.linked(ca, cb, resyncs=a0["resyncs_sent"] + 1)
        a1, b1 = self.rstats(ca), self.rstats(cb)
        self.assertFalse(self.present(cb, b"outage"))
        self.assertFalse(self.present(cb, b"during"))
        for before, after in ((a0, a1), (b0, b1)):
            self.assertGreaterEqual(after["reconnects"] - before["reconnects"],
                                    2)  # both connections
            self.assertGreaterEqual(after["resyncs_sent"] -
                                    before["resyncs_sent"], 1)
            self.assertGreaterEqual(after["local_flushes"] -
                                    before["local_flushes"], 1)
        # and the link carries changes again
        self.set_on(cb, b"after")
        self.set_on(ca, b"after")
        self.gone_from(cb, b"after", "a set on A after the outage")

    def test_publish_refused(self):
        ca, cb = self.hosts()
        a0 = self.rstats(ca)
        self.set_on(cb, b"k")
        self.assertEqual(self.redis.command(b"ACL", b"SETUSER", b"default",
                                            b"-publish"), b"+OK")
        self.set_on(ca, b"k", b"new")  # its PUBLISH is refused
        self.eventually(lambda: self.rstats(ca)["publish_errors"] >
                        a0["publish_errors"], "the refusal counted")
        self.assertEqual(self.redis.command(b"ACL", b"SETUSER", b"default",
                                            b"+publish"), b"+OK")
        # A reconnects after its backoff and resyncs: B flushes.
        self.eventually(lambda: not self.present(cb, b"k"),
                        "B flushed by A's resync", timeout=10)
        # Redis delivers the RESYNC before it answers A's PUBLISH, and A
        # counts it on the answer: B may flush first.
        self.eventually(lambda: self.rstats(ca)["resyncs_sent"] >
                        a0["resyncs_sent"], "A counts its resync")
        self.assertIn("NOPERM", self.a.log())

    def test_sidecar_restarted(self):
        ca, cb = self.hosts()
        self.set_on(cb, b"k")
        ca.close()
        self.a.stop(signal.SIGKILL)
        # A's workers go on without their sidecar: the journal keeps the
        # change, nobody publishes it.
        self.assertEqual(self.cachectl("set", self.names[0], "k",
                                       "new").returncode, 0)
        time.sleep(0.1)
        self.assertTrue(self.present(cb, b"k"))
        b0 = self.rstats(cb)
        self.start_host(self.a, "hostA", "unix:" + self.redis.sock)
        self.eventually(lambda: not self.present(cb, b"k"),
                        "B flushed by A's resync")
        # B counts the resync just after its flush.
        self.eventually(lambda: self.rstats(cb)["resyncs_received"] >
                        b0["resyncs_received"], "B counts the resync")

    def test_journal_overrun(self):
        ca, cb = self.hosts(a_extra=("--journal", "16"))
        a0, b0 = self.rstats(ca), self.rstats(cb)
        self.set_on(cb, b"victim")
        # A's sidecar falls behind (stopped, as a slow link would make it):
        # 40 changes on A overrun its 16-entry journal.
        self.a.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(40):
                self.cachectl("set", self.names[0], "o%d" % i, "x")
        finally:
            self.a.proc.send_signal(signal.SIGCONT)
        self.gone_from(cb, b"victim", "B flushed by A's resync")
        self.eventually(lambda: self.rstats(ca)["resyncs_sent"] >
                        a0["resyncs_sent"], "A counts its resync")
        time.sleep(0.1)
        a1, b1 = self.rstats(ca), self.rstats(cb)
        self.assertGreater(a1["journal_lost"], a0["journal_lost"])
        self.assertEqual(a1["resyncs_sent"], a0["resyncs_sent"] + 1)
        self.assertEqual(a1["reconnects"], a0["reconnects"])
        self.assertEqual(b1["resyncs_received"], b0["resyncs_received"] + 1)

    # ------------------------------------------------------------------
    # mg G: a miss read through from Redis

    def test_read_through(self):
        self.need_redis()
        ca = self.one_host()
        R = self.redis.command
        self.assertEqual(R(b"SET", b"rt:ttl", b"hello", b"PX", b"5000"),
                         b"+OK")
        self.assertEqual(R(b"SET", b"rt:forever", b"v"), b"+OK")
        self.assertEqual(R(b"CONFIG", b"RESETSTAT"), b"+OK")
        # Pipelined: the replies keep the commands' order.
        ca.send(b"mg rt:ttl v t G\r\nmn\r\nmg rt:forever v t G\r\n"
                b"mg rt:absent v G\r\nmg rt:absent v q G\r\nmn\r\n")
        self.assertEqual(ca.line(), b"VA 5 t5")
        self.assertEqual(ca.line(), b"hello")
        self.assertEqual(ca.line(), b"MN")
        self.assertEqual(ca.line(), b"VA 1 t-1")
        self.assertEqual(ca.line(), b"v")
        self.assertEqual(ca.line(), b"EN")
        self.assertEqual(ca.line(), b"MN")
        # Stored with Redis's TTL: a hit now, through the library too.
        self.assertEqual(ca.cmd(b"mg rt:ttl s G\r\n"), b"HD s5")
        got = self.cachectl("get", self.names[0], "rt:ttl")
        self.assertEqual((got.returncode, got.stdout), (0, b"hello"))
        # One GET and PTTL each, absent twice: a miss in Redis is not
        # cached.
        self.assertEqual(self.redis.calls("get"), 4)
        self.assertEqual(self.redis.calls("pttl"), 4)

    def test_read_through_parked_with_a_long_pipeline_behind(self):
        """A command waiting on Redis with more input queued behind it than
        the connection's input bound: every reply comes, in order."""
        self.need_redis()
        ca = self.one_host()
        self.assertEqual(self.redis.command(b"SET", b"rt:big", b"x"), b"+OK")
        n = 80000  # 320 KB of mn behind the mg, over the input bound
        ca.send(b"mg rt:big v G\r\n" + b"mn\r\n" * n)
        self.assertEqual(ca.line(), b"VA 1")
        self.assertEqual(ca.line(), b"x")
        for _ in range(n):
            self.assertEqual(ca.line(), b"MN")

    def test_read_through_on_two_hosts_does_not_thrash(self):
        """A value read from Redis makes no other host's copy older: two
        hosts reading one key through Redis in turn ask it once each."""
        ca, cb = self.hosts()
        self.assertEqual(self.redis.command(b"SET", b"rt:hot", b"h"), b"+OK")
        self.assertEqual(self.redis.command(b"CONFIG", b"RESETSTAT"), b"+OK")
        for _ in range(50):
            for c in (ca, cb):
                self.assertEqual(c.cmd(b"mg rt:hot v G\r\n"), b"VA 1")
                self.assertEqual(c.line(), b"h")
            time.sleep(0.002)
        self.assertEqual(self.redis.calls("get"), 2)

    def test_read_through_asks_once_for_many_clients(self):
        self.need_redis()
        self.start_host(self.a, "hostA", "unix:" + self.redis.sock)
        conns = [self.a.connect() for _ in range(8)]
        self.eventually(lambda: self.rstats(conns[0])["link_up"] == 1,
                        "linked", timeout=hct.PATIENCE)
        self.assertEqual(self.redis.command(b"SET", b"hot", b"value"),
                         b"+OK")
        self.assertEqual(self.redis.command(b"CONFIG", b"RESETSTAT"), b"+OK")
        # Redis stopped: the first miss's read hangs, the 7 others find
        # the lease held and wait for its value.
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            for c in conns:
                c.send(b"mg hot v G\r\n")
            time.sleep(0.1)
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        for c in conns:
            self.assertEqual((c.line(), c.line()), (b"VA 5", b"value"))
        self.assertEqual(self.redis.calls("get"), 1)
        self.assertEqual(self.rstats(conns[0])["reads"], 1)

    def test_read_through_errors(self):
        # Without --redis, G is refused.
        self.a.start()
        ca = self.a.connect()
        self.assertEqual(ca.cmd(b"mg k v G\r\n"), b"CLIENT_ERROR G reads "
                         b"through from Redis: start hostcached with --redis")
        ca.close()
        self.assertEqual(self.a.stop(), 0)
        self.destroy(self.names[0])  # it has no journal
        self.need_redis()
        ca = self.one_host()
        self.assertEqual(ca.cmd(b"mg k v N30 G\r\n"),
                         b"CLIENT_ERROR invalid flag")
        # A client that leaves while its read waits: the lease goes back.
        self.assertEqual(self.redis.command(b"SET", b"k", b"x"), b"+OK")
        self.redis.proc.send_signal(signal.SIGSTOP)
        gone = self.a.connect()
        gone.send(b"mg k v G\r\n")
        time.sleep(0.05)
        gone.close()
        self.redis.proc.send_signal(signal.SIGCONT)
        self.assertEqual(ca.cmd(b"mg k v G\r\n"), b"VA 1")
        self.assertEqual(ca.line(), b"x")
        # Redis down: SERVER_ERROR, and the next try asks again.
        self.redis.kill()
        self.eventually(lambda: self.rstats(ca)["link_up"] == 0, "link down")
        self.assertTrue(ca.cmd(b"mg other v G\r\n").startswith(
            b"SERVER_ERROR"))
        self.assertGreaterEqual(self.rstats(ca)["read_errors"], 1)

    def test_write_through(self):
        ca, cb = self.hosts()
        R = self.redis.reply
        value = b"bin\r\n\x00\xffary"  # binary-safe, CRLF inside
        applied = self.rstats(ca)["applied"]
        self.set_on(cb, b"wt:k", b"old")
        # B's set drops A's copy when it arrives: let it arrive first.
        self.eventually(lambda: self.rstats(ca)["applied"] > applied,
                        "B's set applied on A")
        self.assertEqual(ca.cmd(b"ms wt:k %d T60 F7 G\r\n%s\r\n"
                                % (len(value), value)), b"HD")
        # In Redis with the item's TTL as PX ...
        self.assertEqual(R(b"GET", b"wt:k"), value)
        pttl = int(R(b"PTTL", b"wt:k")[1:])
        self.assertTrue(58000 < pttl <= 60000, pttl)
        # ... here, readable at once, through the library too ...
        self.assertEqual(ca.cmd(b"mg wt:k v f t\r\n"), b"VA %d f7 t60"
                         % len(value))
        self.assertEqual(ca.exactly(len(value) + 2), value + b"\r\n")
        got = self.cachectl("get", self.names[0], "wt:k")
        self.assertEqual((got.returncode, got.stdout), (0, value))
        # ... and the other host's copy dropped, as by any set on A.
        self.gone_from(cb, b"wt:k", "ms G on A")
        # No T: no expiry in Redis either.
        self.assertEqual(ca.cmd(b"ms wt:forever 1 G\r\nv\r\n"), b"HD")
        self.assertEqual(R(b"PTTL", b"wt:forever"), b":-1")
        # md G: gone from Redis, then from here (and from B).
        self.set_on(cb, b"wt:forever", b"b")
        self.assertEqual(ca.cmd(b"md wt:forever G\r\n"), b"HD")
        self.assertEqual(R(b"EXISTS", b"wt:forever"), b":0")
        self.assertFalse(self.present(ca, b"wt:forever"))
        self.gone_from(cb, b"wt:forever", "md G on A")
        # HD when only Redis had it, NF when neither did.
        self.assertEqual(R(b"SET", b"wt:redis-only", b"x"), b"+OK")
        self.assertEqual(ca.cmd(b"md wt:redis-only G\r\n"), b"HD")
        self.assertEqual(R(b"EXISTS", b"wt:redis-only"), b":0")
        self.assertEqual(ca.cmd(b"md wt:redis-only G\r\n"), b"NF")
        self.assertEqual(self.rstats(ca)["writes"], 5)
        self.assertEqual(self.rstats(ca)["write_errors"], 0)

    def test_tracking(self):
        """--redis-track: a write to a tracked key by any Redis client
        drops this host's copy; keys outside the prefixes, and this host's
        own writes through, stay; a FLUSHALL and a Redis restart drop the
        tracked prefixes."""
        self.need_redis()
        self.start_host(self.a, "hostA", "unix:" + self.redis.sock,
                        "--redis-track", "tr:", "--redis-track", "also:")
        ca = self.a.connect()
        self.eventually(lambda: self.rstats(ca)["track_on"] == 1,
                        "tracking on", timeout=hct.PATIENCE)
        R = self.redis.command
        for key in (b"tr:1", b"tr:2", b"also:1", b"other:1"):
            self.set_on(ca, key)
        # This host's own write through is not reported back (NOLOOP).
        self.assertEqual(ca.cmd(b"ms tr:mine 1 G\r\nm\r\n"), b"HD")
        # Another client writes; reports come in order, so once tr:2 is
        # gone, what came before it has been applied too.
        self.assertEqual(R(b"SET", b"other:1", b"x"), b"+OK")
        self.assertEqual(R(b"SET", b"tr:1", b"x"), b"+OK")
        self.assertEqual(R(b"DEL", b"also:1"), b":0")  # no write: kept
        self.assertEqual(R(b"SET", b"tr:2", b"x"), b"+OK")
        took = self.gone_from(ca, b"tr:2", "a tracked key written in Redis")
        diag("tracked write to dropped copy: %.1f ms" % (took * 1000))
        self.assertFalse(self.present(ca, b"tr:1"))
        self.assertTrue(self.present(ca, b"also:1"))
        self.assertTrue(self.present(ca, b"other:1"))
        self.assertTrue(self.present(ca, b"tr:mine"))
        self.assertGreaterEqual(self.rstats(ca)["track_invalidated"], 2)
        # FLUSHALL reports no keys: every tracked prefix is dropped.
        resets = self.rstats(ca)["track_resets"]
        self.set_on(ca, b"also:2")
        self.assertEqual(R(b"FLUSHALL"), b"+OK")
        self.gone_from(ca, b"also:2", "a tracked key after FLUSHALL")
        self.assertFalse(self.present(ca, b"tr:mine"))
        self.assertTrue(self.present(ca, b"other:1"))
        # Counted once the last prefix is dropped.
        self.eventually(lambda: self.rstats(ca)["track_resets"] == resets + 1,
                        "one reset counted")
        # Redis restarted: writes meanwhile went unreported, so tracking's
        # return drops the tracked prefixes (the subscriber's flush too).
        self.redis.kill()
        self.eventually(lambda: self.rstats(ca)["track_on"] == 0,
                        "tracking off with Redis down")
        self.set_on(ca, b"tr:outage")
        self.redis.start()
        self.eventually(lambda: self.rstats(ca)["track_on"] == 1,
                        "tracking on again", timeout=10)
        self.assertFalse(self.present(ca, b"tr:outage"))
        self.assertEqual(self.rstats(ca)["track_errors"], 0)
        self.set_on(ca, b"tr:3")
        self.assertEqual(R(b"SET", b"tr:3", b"x"), b"+OK")
        self.gone_from(ca, b"tr:3", "a tracked write after the restart")

    def test_write_through_pipelined(self):
        self.need_redis()
        ca = self.one_host()
        # Redis stopped while the pipeline arrives: every reply waits for
        # the write before it, and the order holds once Redis answers.
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            ca.send(b"ms p:a 1 G\r\nx\r\nmn\r\nms p:b 2 q G\r\nyy\r\n"
                    b"mg p:a v\r\nmd p:a G\r\nmg p:a v\r\n"
                    b"ms p:c 1 k O9 G\r\nz\r\nmg p:b v\r\nmn\r\n")
            time.sleep(0.1)
            self.assertFalse(self.present(self.a.connect(), b"p:a"),
                             "stored here before Redis answered")
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        for want in (b"HD", b"MN", b"VA 1", b"x", b"HD", b"EN",
                     b"HD kp:c O9", b"VA 2", b"yy", b"MN"):
            self.assertEqual(ca.line(), want)
        self.assertEqual(self.redis.reply(b"MGET", b"p:a", b"p:b", b"p:c"),
                         b"*3")

    def test_write_through_errors(self):
        # Without --redis, G is refused, and the data block dropped.
        self.a.start()
        ca = self.a.connect()
        self.assertEqual(ca.cmd(b"ms k 1 G\r\nv\r\nmn\r\n"),
                         b"CLIENT_ERROR G writes through to Redis: start "
                         b"hostcached with --redis")
        self.assertEqual(ca.line(), b"MN")
        self.assertEqual(ca.cmd(b"md k G\r\n"), b"CLIENT_ERROR G deletes "
                         b"through Redis: start hostcached with --redis")
        ca.close()
        self.assertEqual(self.a.stop(), 0)
        self.destroy(self.names[0])  # it has no journal
        self.need_redis()
        ca = self.one_host()
        R = self.redis.reply
        # Only a plain set writes through.
        for flags in (b"ME", b"MA", b"C5"):
            self.assertEqual(ca.cmd(b"ms k 1 %s G\r\nv\r\nmn\r\n" % flags),
                             b"CLIENT_ERROR G writes through with a plain "
                             b"set only (no M mode, no C)")
            self.assertEqual(ca.line(), b"MN")
        # Redis refuses (out of memory): SERVER_ERROR with its reason,
        # nothing stored here, and the old local copy dropped.
        self.set_on(ca, b"k", b"old")
        self.assertEqual(R(b"CONFIG", b"SET", b"maxmemory", b"1"), b"+OK")
        try:
            reply = ca.cmd(b"ms k 3 G\r\nnew\r\n")
        finally:
            self.assertEqual(R(b"CONFIG", b"SET", b"maxmemory", b"0"),
                             b"+OK")
        self.assertTrue(reply.startswith(b"SERVER_ERROR writing through to "
                                         b"Redis failed, not stored here "
                                         b"either: Redis refused the SET: "
                                         b"OOM"), reply)
        self.assertFalse(self.present(ca, b"k"))
        self.assertIsNone(R(b"GET", b"k"))
        # A client that leaves mid-write: Redis has the value, and this
        # host never keeps its older copy once Redis answered (it stores
        # the new one when the write runs on before the close is seen,
        # else drops the key).
        self.set_on(ca, b"k", b"old")
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            gone = self.a.connect()
            gone.send(b"ms k 3 G\r\nnew\r\n")
            time.sleep(0.05)
            gone.close()
            time.sleep(0.05)
            self.assertTrue(self.present(ca, b"k"))  # Redis has not said
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        self.eventually(lambda: ca.values(b"get k\r\n").get(
            b"k", (0, b"new"))[1] == b"new",
                        "the orphaned write's old local copy gone")
        self.assertEqual(R(b"GET", b"k"), b"new")
        # Redis down: SERVER_ERROR saying so, nothing stored here.
        self.set_on(ca, b"k", b"old")
        self.redis.kill()
        self.eventually(lambda: self.rstats(ca)["link_up"] == 0, "link down")
        self.assertEqual(ca.cmd(b"ms k 3 G\r\nnew\r\n"), b"SERVER_ERROR "
                         b"writing through to Redis failed, not stored here "
                         b"either: the link to Redis is down (see the "
                         b"server's log)")
        self.assertFalse(self.present(ca, b"k"))
        self.assertTrue(ca.cmd(b"md k G\r\n").startswith(b"SERVER_ERROR"))
        self.assertGreaterEqual(self.rstats(ca)["write_errors"], 3)

    # -- write-behind: the queue drained to Redis ------------------------

    def wb_host(self, d, origin="hostA", *extra):
        """D with --redis and a 64K write-behind queue; waits until it
        holds the queue's claim, and returns a connection."""
        self.start_host(d, origin, "unix:" + self.redis.sock,
                        "--writeback", "64K", *extra)
        c = d.connect()
        self.eventually(lambda: self.rstats(c)["wb_claim"] == 2,
                        "the queue claimed", timeout=hct.PATIENCE)
        return c

    def wb_set(self, key, value, *extra):
        r = self.cachectl("set", self.names[0], key, value, "--writeback",
                          *extra)
        self.assertEqual(r.returncode, 0, r.stderr)

    def wb_depth(self):
        info = json.loads(self.cachectl("info", self.names[0],
                                        "--json").stdout)
        return info["writeback_depth_records"]

    def test_writeback_drains_to_redis(self):
        self.need_redis()
        R = self.redis.reply
        ca = self.wb_host(self.a)
        self.wb_set("wb:ttl", "v1", "--ttl", "100")
        self.wb_set("wb:forever", "v2")
        r = subprocess.run([hct.CACHECTL, "set", self.names[0], "wb:bin",
                            "-", "--writeback"], input=b"a\x00b\r\n",
                           capture_output=True, timeout=hct.PATIENCE)
        self.assertEqual(r.returncode, 0, r.stderr)  # binary, from stdin
        self.eventually(lambda: R(b"GET", b"wb:bin") == b"a\x00b\r\n",
                        "the queued writes in Redis")
        self.assertEqual(R(b"GET", b"wb:ttl"), b"v1")
        pttl = int(R(b"PTTL", b"wb:ttl")[1:])
        self.assertTrue(90000 < pttl <= 100000, pttl)
        self.assertEqual(R(b"GET", b"wb:forever"), b"v2")
        self.assertEqual(R(b"PTTL", b"wb:forever"), b":-1")
        self.eventually(lambda: self.rstats(ca)["wb_depth_records"] == 0,
                        "the depth back to 0")
        st = self.rstats(ca)
        self.assertEqual((st["wb_drained"], st["wb_drain_errors"],
                          st["wb_dropped"]), (3, 0, 0), st)
        self.assertEqual(self.wb_depth(), 0)
        # The sidecar killed: writes are still accepted, and wait.
        self.a.stop(signal.SIGKILL)
        for i in range(5):
            for j in range(3):
                self.wb_set("wb:o%d" % j, "%d-%d" % (j, i))
        self.assertEqual(self.wb_depth(), 15)
        time.sleep(0.2)
        self.assertIsNone(R(b"GET", b"wb:o0"))
        # Restarted: all of it drained, the last write of each key last.
        ca = self.wb_host(self.a)
        self.eventually(lambda: self.wb_depth() == 0, "drained after the "
                        "restart")
        for j in range(3):
            self.assertEqual(R(b"GET", b"wb:o%d" % j), b"%d-4" % j)
        self.assertGreaterEqual(self.rstats(ca)["wb_drained"], 15)
        # Redis down: the queue holds; Redis back: drained.
        self.redis.kill()
        self.eventually(lambda: self.rstats(ca)["link_up"] == 0, "link down")
        for i in range(3):
            self.wb_set("wb:down", "d%d" % i)
        time.sleep(0.3)
        self.assertEqual(self.wb_depth(), 3)
        self.eventually(lambda: self.rstats(ca)["wb_depth_records"] == 3,
                        "the depth in stats")
        self.redis.start()
        self.eventually(lambda: self.wb_depth() == 0,
                        "drained once Redis is back", timeout=10)
        self.assertEqual(R(b"GET", b"wb:down"), b"d2")

    def test_writeback_landing_invalidates_other_hosts(self):
        # Redis refuses the SET for a while (out of memory: a refusal
        # that may pass): the record stays queued and is sent again.
        # Meanwhile B gets an older copy of the key (as a read through
        # of Redis's old value would); once the write lands, B's copy
        # goes too.
        ca, cb = self.hosts(a_extra=("--writeback", "64K"))
        self.eventually(lambda: self.rstats(ca)["wb_claim"] == 2,
                        "the queue claimed", timeout=hct.PATIENCE)
        R = self.redis.reply
        self.assertEqual(R(b"CONFIG", b"SET", b"maxmemory", b"1"), b"+OK")
        try:
            self.wb_set("wb:x", "new")
            self.eventually(lambda: self.rstats(ca)["wb_drain_errors"] >= 1,
                            "Redis refused the write")
            time.sleep(0.1)  # the set's own invalidation reached B
            self.set_on(cb, b"wb:x", b"old")
            self.assertEqual(self.wb_depth(), 1)
            self.assertIsNone(R(b"GET", b"wb:x"))
        finally:
            self.assertEqual(R(b"CONFIG", b"SET", b"maxmemory", b"0"),
                             b"+OK")
        self.eventually(lambda: R(b"GET", b"wb:x") == b"new",
                        "the write landed after the refusals", timeout=10)
        self.gone_from(cb, b"wb:x", "the landed write's invalidation")
        self.assertEqual(self.wb_depth(), 0)
        self.assertEqual(self.rstats(ca)["wb_dropped"], 0)
        self.assertIn("kept in the queue", self.a.log())

    def test_writeback_full_queue(self):
        self.need_redis()
        ca = self.wb_host(self.a)
        big = "x" * 4000
        self.redis.proc.send_signal(signal.SIGSTOP)  # nothing answered
        try:
            accepted = 0
            for i in range(40):
                r = self.cachectl("set", self.names[0], "wb:f%d" % i, big,
                                  "--writeback")
                if r.returncode != 0:
                    break
                accepted += 1
            self.assertLess(accepted, 40, "a 64K queue took 160K")
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn(b"write-behind queue is full", r.stderr)
            self.assertIn(b"writeback", r.stderr)
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        self.eventually(lambda: self.wb_depth() == 0, "drained once Redis "
                        "answers", timeout=15)
        for i in range(accepted):
            self.assertEqual(self.redis.reply(b"STRLEN", b"wb:f%d" % i),
                             b":4000")
        self.assertIsNone(self.redis.reply(b"GET", b"wb:f%d" % accepted))

    def test_writeback_one_drainer(self):
        self.need_redis()
        ca = self.wb_host(self.a)
        twin = hct.Daemon(self.names[0], self.tmp.name)
        twin.sock += ".twin"
        twin.pidfile += ".twin"
        twin.errfile += ".twin"
        self.start_host(twin, "hostA2", "unix:" + self.redis.sock,
                        "--writeback", "64K")
        try:
            ct = twin.connect()
            self.eventually(lambda: self.rstats(ct)["wb_claim"] == 3,
                            "the twin sees another drainer",
                            timeout=hct.PATIENCE)
            self.assertIn("another live process drains", twin.log())
            for i in range(10):
                self.wb_set("wb:one", "%d" % i)
            self.eventually(lambda: self.wb_depth() == 0, "drained")
            self.assertEqual(self.rstats(ca)["wb_drained"], 10)
            self.assertEqual(self.rstats(ct)["wb_drained"], 0)
            # The drainer dies: the twin takes over.
            self.a.stop(signal.SIGKILL)
            self.wb_set("wb:one", "after")
            self.eventually(lambda: self.redis.reply(b"GET", b"wb:one") ==
                            b"after", "the twin drains", timeout=5)
            # Redis holds the value before the twin has read its OK and
            # counted the record: wait for the count, then want it exact.
            self.eventually(lambda: self.rstats(ct)["wb_drained"] >= 1,
                            "the twin counts what it drained")
            self.assertEqual(self.rstats(ct)["wb_claim"], 2)
            self.assertEqual(self.rstats(ct)["wb_drained"], 1)
        finally:
            self.assertEqual(twin.stop(), 0, twin.log())

    def test_metrics(self):
        port = hct.HostcachedTest.free_port(self)
        ca, cb = self.hosts(b_extra=("--metrics-port", str(port)))
        self.set_on(cb, b"m")
        self.set_on(ca, b"m")
        self.gone_from(cb, b"m", "a set on A")
        m = hct.HostcachedTest.scrape(self, port)
        self.assertEqual(m["hostcached_redis_link_up"], 1)
        self.assertGreaterEqual(m["hostcached_redis_applied_total"], 1)
        self.assertGreaterEqual(
            m["hostcached_redis_propagation_delay_seconds_count"], 1)
        self.assertEqual(
            m['hostcached_redis_propagation_delay_seconds_bucket{le="+Inf"}'],
            m["hostcached_redis_propagation_delay_seconds_count"])


def main():
    return hct.run_tap(RedisLinkTest)


if __name__ == "__main__":
    sys.exit(main())
