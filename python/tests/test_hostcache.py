"""The Python binding: the API over a real segment, shared with C (cachectl)
and with other processes: forked after open, racing on one lease, and
killed while attached."""

import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import hostcache  # noqa: E402

BUILD = os.environ.get("HC_BUILD",
                       os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                    "build"))
CACHECTL = os.path.join(BUILD, "cachectl")


class CacheTest(unittest.TestCase):
    def setUp(self):
        self.name = "hc-test-py-%d-%s" % (os.getpid(), self._testMethodName)
        try:
            hostcache.unlink(self.name)
        except hostcache.NoSegment:
            pass
        self.cache = hostcache.Cache.create(self.name, size=8 << 20,
                                            max_procs=16)

    def tearDown(self):
        self.cache.close()
        hostcache.unlink(self.name)

    def children(self, n, body):
        """Fork N children running BODY(i) on the inherited Cache; each
        exits 0 when BODY returns, 1 when it raises.  Returns the exit
        statuses."""
        pids = []
        for i in range(n):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    body(i)
                    code = 0
                except BaseException as e:  # report, never fall through
                    print("# child %d: %r" % (i, e), file=sys.stderr)
                finally:
                    os._exit(code)
            pids.append(pid)
        return [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]

    def test_get_set_bytes_and_str(self):
        self.cache.set(b"k1", b"v1")
        self.cache.set("k\u00e9", "v\u00e9")
        self.assertEqual(self.cache.get("k1"), b"v1")
        self.assertEqual(self.cache.get(b"k\xc3\xa9"), "v\u00e9".encode())
        self.assertIsNone(self.cache.get("absent"))
        self.assertEqual(self.cache.get("absent", b"dflt"), b"dflt")
        self.assertIn("k1", self.cache)
        self.assertNotIn("absent", self.cache)
        with self.assertRaises(TypeError):
            self.cache.set(42, b"v")
        # set() returns the new item's CAS id, with tags or without.
        self.assertEqual(self.cache.set("c1", b"x"), self.cache.gets("c1")[1])
        self.assertEqual(self.cache.set("c2", b"y", tags=["t"]),
                         self.cache.gets("c2")[1])

    def test_values_larger_than_the_first_buffer(self):
        self.cache._INITIAL = 1024  # so that 40 KiB makes it grow
        big = bytes(range(256)) * 160
        self.cache.set("big", big)
        self.assertEqual(self.cache.get("big"), big)
        value, cas = self.cache.gets("big")
        self.assertEqual(value, big)
        self.assertGreater(cas, 0)

    def test_add_replace_cas_delete(self):
        self.assertFalse(self.cache.replace("k", b"x"))
        self.assertTrue(self.cache.add("k", b"one"))
        self.assertFalse(self.cache.add("k", b"two"))
        self.assertEqual(self.cache.get("k"), b"one")
        self.assertTrue(self.cache.replace("k", b"three"))
        value, cas = self.cache.gets("k")
        self.assertEqual(value, b"three")
        self.assertTrue(self.cache.cas("k", b"four", cas))
        self.assertFalse(self.cache.cas("k", b"five", cas))
        self.assertEqual(self.cache.get("k"), b"four")
        self.assertTrue(self.cache.delete("k"))
        self.assertFalse(self.cache.delete("k"))
        self.assertEqual(self.cache.gets("k"), (None, None))

    def test_incr_decr_touch(self):
        self.assertIsNone(self.cache.incr("n"))
        self.cache.set("n", b"10")
        self.assertEqual(self.cache.incr("n", 5), 15)
        self.assertEqual(self.cache.decr("n", 20), 0)
        self.cache.set("s", b"text")
        with self.assertRaises(hostcache.NotANumber) as e:
            self.cache.incr("s")
        self.assertEqual(e.exception.name, "HC_ENOTNUM")
        self.assertTrue(self.cache.touch("n", 0.05))
        self.assertFalse(self.cache.touch("absent", 1))
        time.sleep(0.2)
        self.assertIsNone(self.cache.get("n"))

    def test_ttl_in_seconds(self):
        self.cache.set("short", b"v", ttl=0.05)
        self.cache.set("long", b"v", ttl=60)
        self.cache.set("tiny", b"v", ttl=0.0001)  # rounds up, not to "never"
        self.assertEqual(self.cache.get("short"), b"v")
        time.sleep(0.2)
        self.assertIsNone(self.cache.get("short"))
        self.assertIsNone(self.cache.get("tiny"))
        self.assertEqual(self.cache.get("long"), b"v")
        for bad in (-1, float("nan"), float("inf")):
            with self.assertRaises(ValueError):
                self.cache.set("k", b"v", ttl=bad)
        with self.assertRaises(TypeError):
            self.cache.set("k", b"v", ttl="10")

    def test_tags_prefix_flush(self):
        self.cache.set("user:1:name", b"a", tags=["user:1"])
        self.cache.set("user:1:mail", b"b", tags=["user:1"])
        self.cache.set("user:2:name", b"c", tags=["user:2"])
        self.cache.invalidate_tag("user:1")
        self.assertIsNone(self.cache.get("user:1:name"))
        self.assertIsNone(self.cache.get("user:1:mail"))
        self.assertEqual(self.cache.get("user:2:name"), b"c")
        self.cache.set("page:a", b"1")
        self.cache.set("page:b", b"2")
        self.assertEqual(self.cache.invalidate_prefix("page:"), 0)  # O(1)
        self.assertIsNone(self.cache.get("page:a"))
        self.cache.flush()
        self.assertIsNone(self.cache.get("user:2:name"))
        self.cache.set("after", b"v")
        self.assertEqual(self.cache.get("after"), b"v")

    def test_errors_carry_the_library_message(self):
        with self.assertRaises(hostcache.HostcacheError) as e:
            self.cache.set(b"k" * 300, b"v")
        self.assertEqual(e.exception.name, "HC_EKEYLEN")
        self.assertIn("key", str(e.exception))
        with self.assertRaises(hostcache.NoSegment):
            hostcache.Cache.open("hc-test-py-no-such-segment")
        with self.assertRaises(hostcache.SegmentExists):
            hostcache.Cache.create(self.name)
        with self.assertRaises(TypeError):
            hostcache.Cache.create("x", no_such_option=1)
        other = hostcache.Cache.open(self.name)
        other.close()
        other.close()  # twice is harmless
        with self.assertRaises(hostcache.HostcacheError):
            other.get("k")

    def test_shared_with_cachectl(self):
        if not os.access(CACHECTL, os.X_OK):
            self.skipTest("no cachectl at %s (build it with make)" % CACHECTL)
        self.cache.set("from:py", b"python value")
        out = subprocess.run([CACHECTL, "get", self.name, "from:py"],
                             capture_output=True, check=True)
        self.assertEqual(out.stdout.rstrip(b"\n"), b"python value")
        subprocess.run([CACHECTL, "set", self.name, "from:c", "c value"],
                       capture_output=True, check=True)
        self.assertEqual(self.cache.get("from:c"), b"c value")

    def test_fork_after_open(self):
        def body(i):
            for j in range(200):
                self.cache.set("f:%d:%d" % (i, j), b"%d" % (i * 1000 + j))
        self.assertEqual(self.children(4, body), [0, 0, 0, 0])
        for i in range(4):
            for j in range(200):
                self.assertEqual(self.cache.get("f:%d:%d" % (i, j)),
                                 b"%d" % (i * 1000 + j))
        self.assertEqual(self.cache.stats()["procs_attached"], 1)

    def test_get_or_set_loads_once_across_processes(self):
        def loader():
            self.cache.incr("loads")
            time.sleep(0.2)  # long enough for every child to miss
            return b"computed"

        self.cache.set("loads", b"0")

        def body(i):
            if self.cache.get_or_set("hot", loader, ttl=60) != b"computed":
                raise AssertionError("wrong value")
        self.assertEqual(self.children(6, body), [0] * 6)
        self.assertEqual(self.cache.get("loads"), b"1")
        self.assertEqual(self.cache.get_or_set("hot", loader), b"computed")

    def test_get_or_set_loader_failure_gives_the_lease_back(self):
        def failing():
            raise RuntimeError("source down")
        with self.assertRaises(RuntimeError):
            self.cache.get_or_set("k", failing, wait=0.1)
        start = time.monotonic()
        self.assertEqual(self.cache.get_or_set("k", lambda: b"v", wait=5),
                         b"v")
        self.assertLess(time.monotonic() - start, 2.0)

    def test_killed_worker_loses_nothing_else(self):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            child = hostcache.Cache.open(self.name)
            child.set("before-kill", b"kept")
            os.write(w, b"x")
            while True:
                child.set("churn", os.urandom(100))
        os.close(w)
        self.assertEqual(os.read(r, 1), b"x")
        time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        self.assertGreaterEqual(self.cache.reap(), 1)
        self.assertEqual(self.cache.get("before-kill"), b"kept")
        self.assertEqual(self.cache.stats()["procs_attached"], 1)
        self.cache.set("after-kill", b"v")
        self.assertEqual(self.cache.get("after-kill"), b"v")

    def test_cached_decorator(self):
        calls = []

        @hostcache.cached(self.cache, ttl=60, tags=["users"])
        def profile(user_id, full=False):
            calls.append(user_id)
            return None if user_id == 0 else {"id": user_id, "full": full}

        self.assertEqual(profile(7), {"id": 7, "full": False})
        self.assertEqual(profile(7), {"id": 7, "full": False})
        self.assertEqual(profile(7, full=True), {"id": 7, "full": True})
        self.assertEqual(calls, [7, 7])
        self.assertIsNone(profile(0))
        self.assertIsNone(profile(0))
        self.assertEqual(calls, [7, 7, 0, 0])  # None is not stored
        self.cache.invalidate_tag("users")
        profile(7)
        self.assertEqual(calls, [7, 7, 0, 0, 7])

        @hostcache.cached(self.cache, negative=True, key=lambda n: "row:%d" % n)
        def row(n):
            calls.append(("row", n))
            return None

        self.assertIsNone(row(1))
        self.assertIsNone(row(1))
        self.assertEqual(calls[-1:], [("row", 1)])
        self.assertIn("row:1", self.cache)

        @hostcache.cached(self.cache)
        def echo(s):
            calls.append("echo")
            return len(s)

        self.assertEqual(echo("x" * 1000), 1000)  # a key hashed to fit
        self.assertEqual(echo("x" * 1000), 1000)
        self.assertEqual(calls.count("echo"), 1)

    def test_stats_info_maintain(self):
        self.cache.set("k", b"v")
        self.cache.get("k")
        self.cache.get("absent")
        st = self.cache.stats()
        self.assertGreaterEqual(st["sets"], 1)
        self.assertGreaterEqual(st["hits"], 1)
        self.assertGreaterEqual(st["misses"], 1)
        info = self.cache.info()
        self.assertEqual(info["size"], 8 << 20)
        self.assertGreater(info["blocks"], 0)
        self.assertGreaterEqual(self.cache.maintain(0.001), 0)

    def test_set_writeback(self):
        name = self.name + "-wb"
        try:
            hostcache.unlink(name)
        except hostcache.NoSegment:
            pass
        c = hostcache.Cache.create(name, size=4 << 20,
                                   writeback_bytes=64 << 10)
        try:
            c.set("wb", b"v" * 4000, writeback=True)
            self.assertEqual(c.get("wb"), b"v" * 4000)
            st = c.stats()
            self.assertEqual(st["wb_enqueued"], 1)
            self.assertEqual(st["wb_depth_records"], 1)
            for i in range(15):
                c.set("wb%d" % i, b"v" * 4000, writeback=True)
            with self.assertRaises(hostcache.HostcacheError) as e:
                c.set("full", b"v" * 4000, writeback=True)
            self.assertEqual(e.exception.name, "HC_ENOSPC")
            self.assertIn("write-behind queue is full", str(e.exception))
            self.assertIsNone(c.get("full"))
        finally:
            c.close()
            hostcache.unlink(name)
        with self.assertRaises(hostcache.HostcacheError) as e:
            self.cache.set("k", b"v", writeback=True)
        self.assertIn("no write-behind queue", str(e.exception))

    def test_item_options_negative_compute_client_flags(self):
        self.cache.set("nf", b"", ttl=60, negative=True)
        self.assertIsNone(self.cache.get("nf"))
        item = self.cache.get_item("nf")
        self.assertTrue(item["negative"])
        self.assertIsNone(item["value"])
        self.cache.set("cf", b"v", client_flags=0xFFFFFFFF, tags=("t",))
        item = self.cache.get_item("cf")
        self.assertEqual(item["value"], b"v")
        self.assertEqual(item["client_flags"], 0xFFFFFFFF)
        self.assertFalse(item["negative"])
        self.assertIsNone(item["ttl"])
        with self.assertRaises(ValueError):
            self.cache.set("cf", b"w", client_flags=1 << 32)
        self.assertEqual(self.cache.get("cf"), b"v")
        # An expensive value close to its expiry is refreshed early by
        # nearly every reader (XFetch); a cheap one far from it never.
        self.cache.set("slow", b"x", ttl=0.2, compute=10.0)
        self.cache.set("cheap", b"x", ttl=3600, compute=0.001)
        early = sum(self.cache.get_item("slow")["refresh"] for _ in range(20))
        never = sum(self.cache.get_item("cheap")["refresh"] for _ in range(200))
        self.assertGreaterEqual(early, 15)
        self.assertEqual(never, 0)
        self.assertIsNone(self.cache.get_item("absent"))

    def test_latency(self):
        with hostcache.Cache.create(self.name + "-lat", size=4 << 20,
                                    latency_every=1) as c:
            try:
                for i in range(100):
                    c.set("k%d" % i, b"v")
                    c.get("k%d" % i)
                lat = c.latency()
                self.assertEqual(lat["every"], 1)
                self.assertEqual(lat["get"]["timed"], 100)
                self.assertEqual(lat["set"]["timed"], 100)
                for op in ("get", "set"):
                    q = lat[op]
                    self.assertTrue(0 < q["p50"] <= q["p99"] <= q["p999"], q)
            finally:
                hostcache.unlink(self.name + "-lat")


if __name__ == "__main__":
    unittest.main()
