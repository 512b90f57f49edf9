#!/bin/sh
# redisbench.sh - the link between hosts (hostcached --redis): a get hit
# from the local segment next to a Redis GET round trip, the propagation
# delay of a change from host A to host B at a steady rate, and what the
# journal adds to a set.
#
#   sh bench/redisbench.sh BUILD RESULTS_DIR
#
# BUILD holds bench/redislink, bench/opcount and hostcached; the results
# go to RESULTS_DIR/redis.txt (the tables) and redis.jsonl (one object a
# line).  Environment (optional): RATE (changes a second, default 10000),
# SECONDS (default 10), OPS (library gets, default 1000000; the socket
# paths do a tenth), SET_OPS (sets under callgrind, default 100000),
# JOURNAL (the journal's entries in the set count, default 1024).
#
# One redis-server (no persistence, a private unix socket and a free
# loopback port) and two hostcached on two segments, A linked over the
# unix socket and B over TCP, as tests/t_redis.sh runs them: two "hosts"
# on one machine.  Every process it starts is bounded with timeout(1)
# and stopped on exit.
#
#   latency    build/bench/redislink latency: hc_get, hostcached's mg over
#              its unix socket, Redis GET over unix and TCP (p50/p99/p999)
#   propagate  build/bench/redislink propagate: sets and deletes on A at
#              RATE, the delay to B's miss, lost keys, resyncs
#   journal    instructions inside hc_set (callgrind, as bench/callgrind.sh
#              counts them) on a segment without a journal and on one with
#              JOURNAL entries (default 1024), 16-byte keys and 64-byte
#              values: 64 keys (the log and index in L1) and 100000 keys
#
# Exit status: 0, or 1 when a server cannot be started or a program fails;
# never on a number.
set -u

usage="usage: redisbench.sh BUILD RESULTS_DIR"
build=${1:?$usage}
out=${2:?$usage}
rate=${RATE:-10000}
seconds=${SECONDS:-10}
ops=${OPS:-1000000}
set_ops=${SET_OPS:-100000}
limit=${BENCH_TIME_LIMIT:-600}
redislink=$build/bench/redislink
opcount=$build/bench/opcount
hostcached=$build/hostcached

for p in "$redislink" "$opcount" "$hostcached"; do
	if [ ! -x "$p" ]; then
		echo "redisbench.sh: $p is not built (make bench-redis builds it)" >&2
		exit 1
	fi
done
if ! command -v redis-server >/dev/null 2>&1; then
	echo "redisbench.sh: redis-server is not installed (make deps" \
	     "DEPS=redis-server installs it)" >&2
	exit 1
fi
mkdir -p "$out" || exit 1
dir=$(mktemp -d "${TMPDIR:-/tmp}/redisbench.XXXXXX") || exit 1
seg_a=hc-bench-redisA-$$
seg_b=hc-bench-redisB-$$
opseg=/hc_bench_journal_$$
pids=

cleanup() {
	for pid in $pids; do
		kill "$pid" 2>/dev/null
	done
	for pid in $pids; do
		wait "$pid" 2>/dev/null
	done
	"$build/cachectl" destroy "$seg_a" >/dev/null 2>&1
	"$build/cachectl" destroy "$seg_b" >/dev/null 2>&1
	"$opcount" remove --segment "$opseg" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	    echo $((20000 + $$ % 20000))
}

# wait_for WHAT COMMAND...: until COMMAND succeeds, 10 s at most.
wait_for() {
	what=$1
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "redisbench.sh: $what did not start; its log:" >&2
			cat "$dir"/*.log >&2
			exit 1
		fi
		sleep 0.05
	done
}

linked() { # SOCKET: the link is up and the first resync done
	timeout 2 /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"stats\r\n"); d = b""
while not d.endswith(b"END\r\n"): d += s.recv(65536)
st = dict(l.split(" ")[1:3] for l in d.decode().split("\r\n") if l.startswith("STAT "))
sys.exit(0 if st.get("redis_link_up") == "1" and int(st.get("redis_local_flushes", 0)) >= 1 else 1)
' "$1"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
port=$(free_port)
timeout "$limit" redis-server --port "$port" --bind 127.0.0.1 \
    --unixsocket "$dir/redis.sock" --unixsocketperm 700 --save "" \
    --appendonly no --daemonize no --logfile "$dir/redis.log" &
pids="$pids $!"
wait_for redis-server redis-cli -s "$dir/redis.sock" ping
redis_version=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')

start_host() { # NAME ORIGIN URL
	timeout "$limit" "$hostcached" --name "$1" --socket "$dir/$2.sock" \
	    --threads 2 --redis "$3" --redis-channel "hostcache:bench-$$" \
	    --origin "$2" --log-level warn 2>"$dir/$2.log" &
	pids="$pids $!"
	wait_for "hostcached $2" linked "$dir/$2.sock"
}
start_host "$seg_a" hostA "unix:$dir/redis.sock"
start_host "$seg_b" hostB "redis://127.0.0.1:$port"

res=$dir/results
: >"$res"
echo "== latency" >&2
timeout "$limit" "$redislink" latency --segment "$seg_a" \
    --socket "$dir/hostA.sock" --redis-unix "$dir/redis.sock" \
    --redis-port "$port" --ops "$ops" >>"$res" || exit 1
echo >>"$res"
echo "== propagation, $rate changes/s for $seconds s" >&2
timeout "$limit" "$redislink" propagate --segment-a "$seg_a" \
    --segment-b "$seg_b" --socket-a "$dir/hostA.sock" \
    --socket-b "$dir/hostB.sock" --rate "$rate" --seconds "$seconds" \
    >>"$res" || exit 1
echo >>"$res"

# journal: instructions inside hc_set, without and with a journal.  The
# journal takes its room from the segment opcount sizes, so a small one
# (JOURNAL entries, default 1024) keeps the item memory of the 100000-key
# case nearly the same; the 64-key case gets the smallest segment that
# fits, which a journal makes larger.  The item memory and the blocks a
# set frees are shown beside the count.
journal_entries=${JOURNAL:-1024}
echo "== journal cost under callgrind" >&2
if command -v valgrind >/dev/null 2>&1; then
	echo "instructions inside hc_set (callgrind), sets of random keys" \
	     "in a full segment (bench/opcount --state set), $set_ops sets a" \
	     "run, 16-byte keys, 64-byte values:" >>"$res"
	printf '%-8s %8s %12s %10s %12s\n' keys journal "item memory" \
	    "instr/set" "blocks/set" >>"$res"
	for items in 64 100000; do
		for journal in 0 "$journal_entries"; do
			"$opcount" prepare --segment "$opseg" --items "$items" \
			    --state set --journal "$journal" >"$dir/prep" || exit 1
			timeout "$limit" valgrind --tool=callgrind \
			    --callgrind-out-file="$dir/cg.out" \
			    --collect-atstart=no --toggle-collect=hc_set \
			    "$opcount" run --segment "$opseg" --items "$items" \
			    --bench set --ops "$set_ops" >"$dir/run" \
			    2>"$dir/cg.log" || { cat "$dir/cg.log" >&2; exit 1; }
			"$opcount" remove --segment "$opseg"
			awk '$1 == "totals:" || $1 == "summary:" { print "ir=" $2; exit }' \
			    "$dir/cg.out" | cat - "$dir/prep" "$dir/run" | tr ' ' '\n' |
			awk -F= -v n="$items" -v j="$journal" -v ops="$set_ops" '
			    { v[$1] = $2 }
			    END {
			        x = v["ir"] / ops
			        b = (v["blocks_cleaned"] + v["blocks_evicted"]) / ops
			        printf "%-8d %8d %10.1f MiB %10.1f %12.4f\n", n, j, v["item_memory"] / 1048576, x, b
			        printf "{\"bench\":\"redislink_journal\",\"keys\":%d,\"journal_entries\":%d,\"item_memory\":%d,\"sets\":%d,\"instr_per_set\":%.1f,\"blocks_per_set\":%.4f}\n", n, j, v["item_memory"], ops, x, b
			    }' >>"$res"
		done
	done
else
	echo "journal cost: skipped, valgrind is not installed (make deps" \
	     "DEPS=valgrind)" >>"$res"
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
{
	echo "# hostcached --redis: two hostcached (2 threads each) on two" \
	    "segments and redis-server $redis_version, all on one machine:" \
	    "$(nproc 2>/dev/null) CPUs, load average $load_before before," \
	    "$load_after after"
	grep -v '^{' "$res"
} >"$out/redis.txt"
grep '^{' "$res" >"$out/redis.jsonl"
cat "$out/redis.txt"
