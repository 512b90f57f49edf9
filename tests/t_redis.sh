#!/bin/sh
# t_redis.sh - hostcached --redis end to end (tests/hostcached_redis_test.py):
# a real redis-server and two hostcached on two segments standing for two
# hosts; invalidations from one reach the other, and a lost Redis, a
# restarted sidecar or an overrun journal end in a resync.  Prints TAP;
# run by prove --exec sh from the top of the tree.

HC_BUILD=${HC_BUILD:-./build}
PYTHON=/usr/bin/python3

if [ ! -x "$PYTHON" ]; then
	echo "1..0 # SKIP needs /usr/bin/python3 (make deps installs python3)"
	exit 0
fi
if [ ! -x "$HC_BUILD/hostcached" ]; then
	echo "1..0 # SKIP $HC_BUILD/hostcached is not built"
	exit 0
fi
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
	echo "1..0 # SKIP needs redis-server (make check installs the Debian package redis-server)"
	exit 0
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0}
HC_BUILD=$HC_BUILD exec "$PYTHON" "$(dirname "$0")/hostcached_redis_test.py"
