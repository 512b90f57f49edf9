"""bench_python.py - gets and sets from Python: the hostcache binding
against pymemcache talking to hostcached (the sidecar serving a segment of
its own) and to memcached, each over a unix socket (the servers are started
in a private directory, and stopped).

    /usr/bin/python3 bench/bench_python.py [--ops N] [--reps R]
                                          [--hostcached PROGRAM]

16-byte keys, 64-byte values, 10,000 keys set first, then N operations
per run (get hits on random keys, or overwrites), runs alternated between
the clients, R runs each; prints the median and range of ns per
operation (Python's own call overhead included, as a worker pays it) and
one JSON line per figure.
"""

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import hostcache  # noqa: E402

try:
    from pymemcache.client.base import Client
except ImportError:
    Client = None

KEYS = 10000


def keys_and_value():
    keys = [("k:%012d" % i).encode()[:16] for i in range(KEYS)]
    return keys, b"v" * 64


def timed(fn, keys, value, ops, seed):
    rnd = random.Random(seed)
    picks = [keys[rnd.randrange(KEYS)] for _ in range(ops)]
    t0 = time.perf_counter_ns()
    fn(picks, value)
    return (time.perf_counter_ns() - t0) / ops


def start_server(cmd, sock):
    """Start CMD, which listens on the unix socket SOCK; once it is there,
    (process, pymemcache client)."""
    server = subprocess.Popen(cmd)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return server, Client(sock)


def pymemcache_calls(mc):
    """get, set and put over pymemcache client MC.  noreply=False: wait
    for the server's answer, as a set through the library returns once
    the value is stored."""
    return (lambda ks, v: [mc.get(k) for k in ks],
            lambda ks, v: [mc.set(k, v, noreply=False) for k in ks],
            lambda k, v: mc.set(k, v, noreply=False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=200000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hostcached",
                    default=os.path.join(HERE, "..", "build", "hostcached"))
    args = ap.parse_args()
    keys, value = keys_and_value()
    tmp = tempfile.mkdtemp(prefix="hc-pybench.")
    name = "hc-bench-python-%d" % os.getpid()
    clients = {}
    servers = []
    try:
        cache = hostcache.Cache.create(name, size=64 << 20)
        clients["hostcache"] = (lambda ks, v: [cache.get(k) for k in ks],
                                lambda ks, v: [cache.set(k, v) for k in ks],
                                lambda k, v: cache.set(k, v))
        if Client is not None and os.access(args.hostcached, os.X_OK):
            sock = os.path.join(tmp, "hostcached.sock")
            server, mc = start_server(
                [args.hostcached, "--name", name + "-sidecar", "--size",
                 "64M", "--socket", sock, "--threads", "2",
                 "--unlink-on-exit", "--log-level", "warn"], sock)
            servers.append(server)
            clients["pymemcache+hostcached"] = pymemcache_calls(mc)
        else:
            print("# pymemcache or %s missing: no hostcached column "
                  "(make builds it)" % args.hostcached)
        if Client is not None and shutil.which("memcached"):
            sock = os.path.join(tmp, "memcached.sock")
            cmd = ["memcached", "-s", sock, "-m", "64", "-t", "2"]
            if os.geteuid() == 0:
                cmd += ["-u", "root"]
            server, mc = start_server(cmd, sock)
            servers.append(server)
            clients["pymemcache+memcached"] = pymemcache_calls(mc)
        else:
            print("# pymemcache or memcached missing: no memcached column "
                  "(make bench installs python3-pymemcache and memcached)")
        for _, _, put in clients.values():
            for k in keys:
                put(k, value)
        results = {(c, op): [] for c in clients for op in ("get_hit", "set")}
        for rep in range(args.reps):
            for c, (get, set_, _) in clients.items():
                results[(c, "get_hit")].append(
                    timed(get, keys, value, args.ops, rep))
                results[(c, "set")].append(
                    timed(set_, keys, value, args.ops, rep + 100))
        print("Python %s, %d ops per run, %d runs each, 16 B keys, 64 B "
              "values, %d keys" % (sys.version.split()[0], args.ops,
                                   args.reps, KEYS))
        for (c, op), ns in results.items():
            print("%-22s %-8s %9.0f ns/op  (%.0f-%.0f)" % (
                c, op, statistics.median(ns), min(ns), max(ns)))
        for (c, op), ns in results.items():
            print(json.dumps({"bench": "python", "client": c, "op": op,
                              "ns_per_op": round(statistics.median(ns)),
                              "min": round(min(ns)), "max": round(max(ns)),
                              "ops": args.ops, "reps": args.reps}))
        cache.close()
    finally:
        try:
            hostcache.unlink(name)
        except hostcache.NoSegment:
            pass
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
