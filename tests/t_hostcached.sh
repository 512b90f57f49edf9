#!/bin/sh
# t_hostcached.sh - hostcached end to end (tests/hostcached_test.py):
# every text protocol command, lifecycle, bad flags and bad input, many
# clients, and the same items through cachectl.  Runs Debian's own
# /usr/bin/python3 whatever else is first on PATH.  Prints TAP; run by
# prove --exec sh from the top of the tree.

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
# Under make sanitize the daemon is an ASan build: a leak at exit makes
# its exit status non-zero, which the tests check on every stop.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0}
HC_BUILD=$HC_BUILD exec "$PYTHON" "$(dirname "$0")/hostcached_test.py"
