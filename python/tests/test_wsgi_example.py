"""examples/wsgi/app.py, called as a WSGI server would: hits after the
first request, and never a stale summary after an order is added, even
from another process."""

import importlib.util
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "..", "..", "examples", "wsgi", "app.py")

import hostcache  # noqa: E402  (tests/tap.py put python/ on the path)


def call(app, method, path, query=""):
    got = {}

    def start(status, headers):
        got["status"] = int(status.split()[0])
    body = b"".join(app.application({"REQUEST_METHOD": method,
                                     "PATH_INFO": path,
                                     "QUERY_STRING": query}, start))
    return got["status"], body


class WsgiExampleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.segment = "hc-test-wsgi-%d" % os.getpid()
        os.environ.update(HC_WSGI_DB=os.path.join(self.dir, "db.sqlite"),
                          HC_WSGI_SEGMENT=self.segment, HC_WSGI_CACHE="1")
        spec = importlib.util.spec_from_file_location("wsgi_app", APP)
        self.app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.app)
        self.app.init(os.environ["HC_WSGI_DB"], users=100, orders=1000)

    def tearDown(self):
        if self.app._cache is not None:
            self.app._cache.close()
        try:
            hostcache.unlink(self.segment)
        except hostcache.NoSegment:
            pass
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)

    def stats(self):
        return json.loads(call(self.app, "GET", "/stats")[1])

    def test_hits_after_the_first_request(self):
        status, first = call(self.app, "GET", "/user/7")
        self.assertEqual(status, 200)
        before = self.stats()
        self.assertEqual(call(self.app, "GET", "/user/7"), (200, first))
        after = self.stats()
        self.assertEqual(after["hits"], before["hits"] + 1)
        self.assertEqual(after["misses"], before["misses"])
        self.assertEqual(call(self.app, "GET", "/user/100000")[0], 404)
        self.assertEqual(call(self.app, "GET", "/user/x")[0], 400)

    def test_no_stale_summary_after_an_order(self):
        s0 = json.loads(call(self.app, "GET", "/user/3")[1])
        self.assertEqual(call(self.app, "POST", "/user/3/order",
                              "amount=250")[0], 204)
        s1 = json.loads(call(self.app, "GET", "/user/3")[1])
        self.assertEqual(s1["orders"], s0["orders"] + 1)
        self.assertEqual(s1["total_cents"], s0["total_cents"] + 250)
        # Orders added by another process, read back here after each.
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for _ in range(20):
                    call(self.app, "POST", "/user/3/order", "amount=1")
                    os.write(w, b"x")
                code = 0
            finally:
                os._exit(code)
        for n in range(1, 21):
            self.assertEqual(os.read(r, 1), b"x")
            s = json.loads(call(self.app, "GET", "/user/3")[1])
            self.assertGreaterEqual(s["orders"], s1["orders"] + n)
        self.assertEqual(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), 0)
        os.close(r)
        os.close(w)
        s = json.loads(call(self.app, "GET", "/user/3")[1])
        self.assertEqual(s["orders"], s1["orders"] + 20)
        self.assertEqual(s["total_cents"], s1["total_cents"] + 20)


if __name__ == "__main__":
    unittest.main()
