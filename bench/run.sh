#!/bin/sh
# run.sh - run bench_compare against memcached and redis-server.
#
#   sh bench/run.sh BUILD_DIR [bench_compare options...]
#
# Starts memcached and redis-server on unix sockets in a private temporary
# directory (no TCP port is opened), runs BUILD_DIR/bench/bench_compare
# against them and the library, and stops both servers whatever happens.
# Every process it starts is bounded in time with timeout(1), so nothing
# outlives a killed run by more than its limit.  Writes the output to
# BUILD_DIR/bench/compare.txt (table) and compare.json (one object a line)
# and, when gnuplot is there, BUILD_DIR/bench/compare.png.
#
# Exit status: that of bench_compare (non-zero only on errors), or 1 when a
# server cannot be started.
set -u

build=${1:?usage: run.sh BUILD_DIR [options]}
shift
out=$build/bench
limit=${BENCH_TIME_LIMIT:-1200}  # seconds any started process may live
mkdir -p "$out"

dir=$(mktemp -d "${TMPDIR:-/tmp}/hc-compare.XXXXXX") || exit 1
mc_pid=
redis_pid=

stop() {
	[ -n "$mc_pid" ] && kill "$mc_pid" 2>/dev/null
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
	[ -n "$mc_pid" ] && wait "$mc_pid" 2>/dev/null
	[ -n "$redis_pid" ] && wait "$redis_pid" 2>/dev/null
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

# Wait until the socket file exists (the server is listening), 10 s at most.
wait_socket() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$1" ]
}

user_opt=
[ "$(id -u)" = 0 ] && user_opt="-u root"
# 1 GiB of item memory (more than the benchmark stores), 2 worker threads
# (this is a 2-core class machine; more would only contend), unix socket
# only: memcached opens no network port when -s is given.
timeout "$limit" memcached -s "$dir/memcached.sock" -a 0600 -m 1024 -t 2 \
	-c 256 $user_opt >"$dir/memcached.log" 2>&1 &
mc_pid=$!
# No TCP port, no persistence: a pure in-memory cache, as it is deployed in
# front of a database.
timeout "$limit" redis-server --port 0 --unixsocket "$dir/redis.sock" \
	--unixsocketperm 600 --save "" --appendonly no --dir "$dir" \
	--maxmemory 1gb --loglevel warning >"$dir/redis.log" 2>&1 &
redis_pid=$!

if ! wait_socket "$dir/memcached.sock"; then
	echo "run.sh: memcached did not start:" >&2
	cat "$dir/memcached.log" >&2
	exit 1
fi
if ! wait_socket "$dir/redis.sock"; then
	echo "run.sh: redis-server did not start:" >&2
	cat "$dir/redis.log" >&2
	exit 1
fi
echo "memcached $(memcached -V 2>/dev/null | cut -d' ' -f2), $(redis-server --version | cut -d' ' -f3) (redis), unix sockets" >&2

timeout "$limit" "$build/bench/bench_compare" --memcached "$dir/memcached.sock" \
	--redis "$dir/redis.sock" --plot-data "$out/compare.dat" "$@" \
	>"$out/compare.out"
rc=$?
grep -v '^{' "$out/compare.out" >"$out/compare.txt"
grep '^{' "$out/compare.out" >"$out/compare.json"
cat "$out/compare.out"
if [ $rc -eq 0 ] && command -v gnuplot >/dev/null 2>&1; then
	gnuplot -e "data='$out/compare.dat'; out='$out/compare.png'" \
		bench/plot.gp && echo "plot: $out/compare.png"
fi
exit $rc
