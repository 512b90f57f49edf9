"""The Django cache backend, through Django's own cache API."""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

try:
    import django
except ImportError:  # pragma: no cover - reported as a skip
    django = None

import hostcache  # noqa: E402

NAME = "hc-test-django-%d" % os.getpid()


@unittest.skipIf(django is None, "needs Django (Debian python3-django)")
class DjangoBackendTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from django.conf import settings
        if not settings.configured:
            settings.configure(CACHES={
                "default": {"BACKEND": "hostcache.django.HostcacheCache",
                            "LOCATION": NAME, "TIMEOUT": 300,
                            "OPTIONS": {"size": 8 << 20}},
                "v2": {"BACKEND": "hostcache.django.HostcacheCache",
                       "LOCATION": NAME, "VERSION": 2, "KEY_PREFIX": "p"},
            })
            django.setup()
        from django.core.cache import caches
        cls.caches = caches

    @classmethod
    def tearDownClass(cls):
        try:
            hostcache.unlink(NAME)
        except hostcache.NoSegment:
            pass

    def setUp(self):
        self.cache = self.caches["default"]
        self.cache.clear()

    def test_get_set_add_delete(self):
        c = self.cache
        self.assertIsNone(c.get("k"))
        self.assertEqual(c.get("k", "dflt"), "dflt")
        c.set("k", {"a": [1, 2]})
        self.assertEqual(c.get("k"), {"a": [1, 2]})
        self.assertFalse(c.add("k", "other"))
        self.assertTrue(c.add("new", b"bytes"))
        self.assertEqual(c.get("new"), b"bytes")
        self.assertTrue(c.has_key("k"))
        self.assertTrue(c.delete("k"))
        self.assertFalse(c.delete("k"))
        self.assertFalse(c.has_key("k"))
        for v in (0, 7, -3, 2 ** 70, True, None, "text", 1.5):
            c.set("v", v)
            self.assertEqual(c.get("v", "miss"), v)
            self.assertIs(type(c.get("v", "miss")), type(v))

    def test_many(self):
        c = self.cache
        self.assertEqual(c.set_many({"a": 1, "b": "two"}), [])
        self.assertEqual(c.get_many(["a", "b", "c"]), {"a": 1, "b": "two"})
        c.delete_many(["a", "b"])
        self.assertEqual(c.get_many(["a", "b"]), {})

    def test_incr_decr(self):
        c = self.cache
        with self.assertRaises(ValueError):
            c.incr("n")
        c.set("n", 10)
        self.assertEqual(c.incr("n"), 11)
        self.assertEqual(c.incr("n", 5), 16)
        self.assertEqual(c.decr("n", 20), -4)  # below zero, as Django says
        self.assertEqual(c.get("n"), -4)
        self.assertEqual(c.incr("n", 10), 6)
        c.set("m", 5, timeout=1)
        self.assertEqual(c.decr("m", 10), -5)  # keeps its TTL
        time.sleep(1.3)
        self.assertIsNone(c.get("m"))
        # Numbers are decimal text in the segment: C workers can read them.
        h = hostcache.Cache.open(NAME)
        self.assertEqual(h.get(c.make_key("n")), b"6")
        h.close()

    def test_timeouts(self):
        c = self.cache
        c.set("short", 1, timeout=0.05)
        c.set("never", 1, timeout=None)
        c.set("gone", 1, timeout=0)
        self.assertIsNone(c.get("gone"))
        c.set("neg", 1)
        c.set("neg", 2, timeout=-1)
        self.assertIsNone(c.get("neg"))
        time.sleep(0.2)
        self.assertIsNone(c.get("short"))
        self.assertEqual(c.get("never"), 1)
        c.set("t", 1)
        self.assertTrue(c.touch("t", 0.05))
        self.assertFalse(c.touch("absent", 10))
        time.sleep(0.2)
        self.assertIsNone(c.get("t"))

    def test_versions_and_prefix(self):
        c, v2 = self.cache, self.caches["v2"]
        c.set("k", "v1")
        self.assertIsNone(v2.get("k"))
        v2.set("k", "v2")
        self.assertEqual(c.get("k"), "v1")
        self.assertEqual(v2.get("k"), "v2")
        c.set("k", "old", version=1)
        self.assertEqual(c.incr_version("k"), 2)
        self.assertIsNone(c.get("k", version=1))
        self.assertEqual(c.get("k", version=2), "old")

    def test_clear(self):
        c = self.cache
        c.set("a", 1)
        c.clear()
        self.assertIsNone(c.get("a"))
        c.set("a", 2)
        self.assertEqual(c.get("a"), 2)


if __name__ == "__main__":
    unittest.main()
