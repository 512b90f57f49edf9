#!/bin/sh
# loadtest.sh [SECONDS] - examples/prefork/prefork_http with 4 workers,
# load-tested with wrk on random items, first without the cache (every
# request reads SQLite), then with one segment shared by the workers.
# Prints requests/s for each and the cache's hit ratio (cachectl stats).
# Builds nothing: it runs $BUILD/examples/prefork/prefork_http and
# $BUILD/cachectl (BUILD defaults to build; run make first).  Installs wrk
# from Debian when it is missing (as root).
set -eu
cd "$(dirname "$0")/../.."
SECONDS_RUN=${1:-10}
BUILD=$(cd "${BUILD:-build}" 2>/dev/null && pwd) ||
	{ echo "loadtest: no build directory ${BUILD:-build}; run make first" >&2; exit 1; }
SERVER=$BUILD/examples/prefork/prefork_http
CACHECTL=$BUILD/cachectl
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hc-prefork.XXXXXX")
SEGMENT=prefork-loadtest-$$

for program in "$SERVER" "$CACHECTL"; do
	[ -x "$program" ] || { echo "loadtest: no $program; run make first" >&2; exit 1; }
done
if ! dpkg -s wrk >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	"$CACHECTL" destroy "$SEGMENT" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

"$SERVER" --init-db "$TMP/db.sqlite" >/dev/null
cat > "$TMP/random.lua" <<'LUA'
math.randomseed(os.time())
request = function()
	return wrk.format("GET", "/item/" .. math.random(1, 10000))
end
LUA

run() { # FLAGS...: start the server, load it, stop it; $rps, $port
	"$SERVER" --db "$TMP/db.sqlite" --workers 4 --port 0 "$@" \
		>"$TMP/server.out" 2>"$TMP/server.err" &
	server=$!
	port=
	for _ in $(seq 100); do
		# (The shell may not have made server.out yet.)
		port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' \
			"$TMP/server.out" 2>/dev/null) || true
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "loadtest: the server did not start:" >&2
		cat "$TMP/server.err" >&2; exit 1; }
	rps=$(wrk -t2 -c16 -d"${SECONDS_RUN}s" -s "$TMP/random.lua" \
		"http://127.0.0.1:$port" | sed -n 's/^Requests\/sec: *//p')
}
stop() {
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=
}

echo "10,000 users, 200,000 orders in SQLite; GET /item/<uniform random id>;"
echo "prefork_http --workers 4; wrk -t2 -c16 for $SECONDS_RUN s each"
run --no-cache
stop
echo "without a cache:   $rps requests/s (every request reads SQLite)"
run --segment "$SEGMENT" --create 64M --unlink-on-exit
ratio=$("$CACHECTL" stats "$SEGMENT" --json | sed -n \
	's/.*"hits":\([0-9]*\),"misses":\([0-9]*\),.*/\1 \2/p' |
	awk '{ printf "%.1f %%", 100 * $1 / ($1 + $2 > 0 ? $1 + $2 : 1) }')
stop
echo "with hostcache:    $rps requests/s, hit ratio $ratio"
