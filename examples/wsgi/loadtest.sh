#!/bin/sh
# loadtest.sh [SECONDS] - examples/wsgi/app.py under gunicorn (4 workers,
# one segment shared by all), load-tested with wrk on random users, first
# without the cache (every request reads SQLite), then with it.  Prints
# requests/s for each and the cache's hit ratio.  Installs gunicorn and
# wrk from Debian when they are missing (as root).
set -eu
cd "$(dirname "$0")"
SECONDS_RUN=${1:-10}
PORT=${HC_WSGI_PORT:-18731}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hc-wsgi.XXXXXX")
PY=/usr/bin/python3
SEGMENT=wsgi-loadtest-$$
export HOSTCACHE_LIB=${HOSTCACHE_LIB:-$(cd ../.. && pwd)/build/libhostcache.so}

missing=
for p in python3-gunicorn wrk python3-cffi; do
	dpkg -s $p >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
[ -f "$HOSTCACHE_LIB" ] || { echo "loadtest: no $HOSTCACHE_LIB; run make first" >&2; exit 1; }

server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	"$PY" -c "import sys; sys.path.insert(0, '../../python'); import hostcache
try: hostcache.unlink('$SEGMENT')
except hostcache.NoSegment: pass"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

"$PY" app.py init "$TMP/db.sqlite"
cat > "$TMP/random.lua" <<'LUA'
math.randomseed(os.time())
request = function()
	return wrk.format("GET", "/user/" .. math.random(1, 10000))
end
LUA

run() { # CACHE: start the server, load it, print a line
	HC_WSGI_DB=$TMP/db.sqlite HC_WSGI_SEGMENT=$SEGMENT HC_WSGI_CACHE=$1 \
		"$PY" -m gunicorn -w 4 --preload -b 127.0.0.1:$PORT \
		--log-level warning app:application &
	server=$!
	for _ in $(seq 100); do
		"$PY" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/user/1')" \
			2>/dev/null && break
		sleep 0.1
	done
	rps=$(wrk -t2 -c16 -d"${SECONDS_RUN}s" -s "$TMP/random.lua" \
		"http://127.0.0.1:$PORT" | sed -n 's/^Requests\/sec: *//p')
	if [ "$1" = 1 ]; then
		ratio=$("$PY" -c "import json, urllib.request as u
s = json.load(u.urlopen('http://127.0.0.1:$PORT/stats'))
print('%.1f %%' % (100.0 * s['hits'] / max(1, s['hits'] + s['misses'])))")
		echo "with hostcache:    $rps requests/s, hit ratio $ratio"
	else
		echo "without a cache:   $rps requests/s (every request reads SQLite)"
	fi
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=
}
echo "10,000 users, 200,000 orders in SQLite; GET /user/<uniform random id>;"
echo "gunicorn -w 4 --preload; wrk -t2 -c16 for $SECONDS_RUN s each"
run 0
run 1
