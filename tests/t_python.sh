#!/bin/sh
# t_python.sh - the Python binding's tests (python/tests), under Debian's
# own /usr/bin/python3 whatever else is first on PATH, against this
# build's library.  Prints TAP; run by prove --exec sh from the top of the
# tree.

HC_BUILD=${HC_BUILD:-./build}
PYTHON=/usr/bin/python3

if [ ! -x "$PYTHON" ] || ! "$PYTHON" -c 'import cffi' 2>/dev/null; then
	echo "1..0 # SKIP needs /usr/bin/python3 with cffi (make deps installs python3-cffi)"
	exit 0
fi
# A library built with AddressSanitizer (make sanitize) needs its runtime
# loaded before Python; Python's own allocations are not checked for leaks.
asan=$(ldd "$HC_BUILD/libhostcache.so" 2>/dev/null |
	sed -n 's/.*libasan[^ ]* => \([^ ]*\).*/\1/p')
if [ -n "$asan" ]; then
	export LD_PRELOAD="$asan" ASAN_OPTIONS=detect_leaks=0
fi
HOSTCACHE_LIB=$HC_BUILD/libhostcache.so HC_BUILD=$HC_BUILD \
	exec "$PYTHON" "$(dirname "$0")/../python/tests/tap.py"
