#!/bin/sh
# run.sh - run hcbench against memcached and redis-server, and plot.
#
#   sh bench/run.sh HCBENCH RESULTS_DIR [hcbench options...]
#
# Starts memcached and redis-server on unix sockets in a private temporary
# directory (no TCP port is opened), runs HCBENCH (build/hcbench) against
# them and the library, and stops both servers whatever happens.  Every
# process it starts is bounded in time with timeout(1) (BENCH_TIME_LIMIT
# seconds, default 1800), so nothing outlives a killed run by more than
# that.  Works as root (memcached then runs with -u root).
#
# Writes into RESULTS_DIR:
#   hcbench.jsonl   one JSON object a line (see the header of hcbench.c)
#   hcbench.txt     the table, the verdicts and the notes
#   hcbench-scaling.svg/.png     ops/s by process count, YCSB and hot key
#   hcbench-latency.svg/.png     get_hit p50 and p99 by data set, 1 process
#   hcbench-throughput.svg/.png  get_hit and set ops/s by data set
#
# Exit status: that of hcbench (non-zero only on errors), or 1 when a
# server cannot be started or a plot cannot be drawn.
set -u

usage="usage: run.sh HCBENCH RESULTS_DIR [hcbench options...]"
bin=${1:?$usage}
out=${2:?$usage}
shift 2
limit=${BENCH_TIME_LIMIT:-1800}
here=$(dirname "$0")

for cmd in memcached redis-server gnuplot timeout; do
	if ! command -v $cmd >/dev/null 2>&1; then
		echo "run.sh: $cmd is not installed (make bench installs it)" >&2
		exit 1
	fi
done
if [ ! -x "$bin" ]; then
	echo "run.sh: $bin is not built (make $bin)" >&2
	exit 1
fi
mkdir -p "$out" || exit 1

dir=$(mktemp -d "${TMPDIR:-/tmp}/hcbench.XXXXXX") || exit 1
mc_pid=
redis_pid=
bench_pid=

# timeout(1) runs its command in a process group of its own, where a ^C
# does not reach: whatever ends this script ends what it started.
stop() {
	for pid in $bench_pid $mc_pid $redis_pid; do
		kill "$pid" 2>/dev/null
	done
	for pid in $bench_pid $mc_pid $redis_pid; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP

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
# 1 GiB of item memory (more than the benchmark stores), 2 worker threads,
# unix socket only: memcached opens no network port when -s is given.
# shellcheck disable=SC2086
timeout "$limit" memcached -s "$dir/memcached.sock" -a 0600 -m 1024 -t 2 \
	-c 256 $user_opt >"$dir/memcached.log" 2>&1 &
mc_pid=$!
# No TCP port, no persistence: a pure in-memory cache, as it is deployed in
# front of a database.
timeout "$limit" redis-server --port 0 --unixsocket "$dir/redis.sock" \
	--unixsocketperm 600 --save "" --appendonly no --dir "$dir" \
	--maxmemory 2gb --loglevel warning >"$dir/redis.log" 2>&1 &
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

# In the background, so that a signal to this script is handled at once.
timeout "$limit" "$bin" --json --table "$out/hcbench.txt" \
	--plot-data "$dir" --memcached "$dir/memcached.sock" \
	--redis "$dir/redis.sock" "$@" >"$out/hcbench.jsonl" &
bench_pid=$!
wait $bench_pid
rc=$?
bench_pid=
if [ $rc -eq 124 ]; then
	echo "run.sh: $bin ran out of time (BENCH_TIME_LIMIT=$limit s)" >&2
fi
[ $rc -ne 0 ] && exit $rc
cat "$out/hcbench.txt"

for fmt in svg png; do
	if ! gnuplot -e "data='$dir'; out='$out/hcbench'; fmt='$fmt'" \
		"$here/plot.gp"; then
		echo "run.sh: gnuplot failed" >&2
		exit 1
	fi
done
echo "results: $out/hcbench.txt hcbench.jsonl hcbench-*.svg hcbench-*.png"
exit 0
