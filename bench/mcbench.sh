#!/bin/sh
# mcbench.sh - get and set throughput and p99 of a memcached-protocol
# server, measured by mcload over a unix socket and loopback TCP, in the
# text and the binary protocol, at 1, 8 and 50 connections.
#
#   sh bench/mcbench.sh MCLOAD RESULTS_DIR
#
# Environment (all optional):
#   SERVER          memcached (default) or hostcached
#   SERVER_THREADS  the server's worker threads (default 2)
#   HOSTCACHED      the hostcached program (default build/hostcached)
#   SECONDS         the timed seconds of each run (default 2)
#   CONNS           connection counts (default "1 8 50")
#   THREADS         mcload's threads, at most one a connection (default 2)
#   PIPELINE        requests in flight a connection (default 1)
#   REPS            runs of each kind, interleaved; the table shows the
#                   medians (default 3)
#   KEYS, KEY_SIZE, VALUE_SIZE   the data (default 100000, 16, 64)
#   PROTOS          the protocols (default "text binary")
#
# For each transport the server is started on its own (a unix socket in a
# private directory, or a free loopback port), every key is set once
# (pipelined, untimed), then for each protocol and connection count a run
# of gets (all hits) and a run of sets of the same keys and values.  Writes
# RESULTS_DIR/mcbench-SERVER.jsonl (mcload's JSON lines) and
# mcbench-SERVER.txt (one table), and prints the table.  Every process it
# starts is bounded with timeout(1) and stopped on exit.
#
# Exit status: 0, also when SERVER=hostcached is skipped because it is not
# built; 1 when the server cannot be started or mcload reports an error
# (a wrong reply is a broken run, not a slow one).
set -u

usage="usage: mcbench.sh MCLOAD RESULTS_DIR"
mcload=${1:?$usage}
out=${2:?$usage}
server=${SERVER:-memcached}
server_threads=${SERVER_THREADS:-2}
seconds=${SECONDS:-2}
conns_list=${CONNS:-1 8 50}
client_threads=${THREADS:-2}
reps=${REPS:-3}
pipeline=${PIPELINE:-1}
keys=${KEYS:-100000}
key_size=${KEY_SIZE:-16}
value_size=${VALUE_SIZE:-64}
limit=${BENCH_TIME_LIMIT:-1800}

if [ ! -x "$mcload" ]; then
	echo "mcbench.sh: $mcload is not built (make $mcload)" >&2
	exit 1
fi
mkdir -p "$out" || exit 1
dir=$(mktemp -d "${TMPDIR:-/tmp}/mcbench.XXXXXX") || exit 1
jsonl=$dir/runs.jsonl
: >"$jsonl"
server_pid=

stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
	fi
}
trap 'stop_server; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM HUP

# Item memory for the keys twice over, so that nothing is evicted.
mem_mib=$((keys * (key_size + value_size + 100) * 2 / 1048576 + 64))

# start_memcached TRANSPORT ADDRESS: in the background, $server_pid.
start_memcached() {
	user=
	[ "$(id -u)" = 0 ] && user="-u root"
	if [ "$1" = unix ]; then
		where="-s $2 -a 0600"     # -s alone opens no network port
	else
		where="-l 127.0.0.1 -p $2 -U 0"
	fi
	# shellcheck disable=SC2086
	timeout "$limit" memcached $where -t "$server_threads" -m "$mem_mib" \
	    -c 1024 $user >"$dir/server.log" 2>&1 &
	server_pid=$!
}

# ---- hostcached ------------------------------------------------------------
# start_hostcached TRANSPORT ADDRESS: a fresh segment of its own, big
# enough for $mem_mib MiB of items and their index, removed when it stops;
# on a unix socket, or on 127.0.0.1 port ADDRESS (its unix socket then
# goes unused beside it).
hostcached=${HOSTCACHED:-build/hostcached}
start_hostcached() {
	if [ "$1" = unix ]; then
		where="--socket $2"
	else
		where="--socket $dir/unused.sock --port $2"
	fi
	# shellcheck disable=SC2086
	timeout "$limit" "$hostcached" --name "hc-mcbench-$$" \
	    --size "$((mem_mib * 2))M" $where --threads "$server_threads" \
	    --unlink-on-exit --log-level warn >"$dir/server.log" 2>&1 &
	server_pid=$!
}

protos=${PROTOS:-text binary}
case $server in
memcached)
	if ! command -v memcached >/dev/null 2>&1; then
		echo "mcbench.sh: memcached is not installed (make bench-mc installs it)" >&2
		exit 1
	fi ;;
hostcached)
	if [ ! -x "$hostcached" ]; then
		echo "mcbench.sh: $hostcached is not built: skipping SERVER=hostcached"
		exit 0
	fi
	;;
*)
	echo "mcbench.sh: SERVER=$server: want memcached or hostcached" >&2
	exit 1 ;;
esac

# A free loopback port: the kernel's choice for an ephemeral bind.
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	    echo $((20000 + $$ % 20000))
}

# mcload_at TRANSPORT ADDRESS ARGS...: mcload against the server.
mcload_at() {
	transport=$1
	address=$2
	shift 2
	if [ "$transport" = unix ]; then
		target="--unix $address"
	else
		target="--tcp 127.0.0.1:$address"
	fi
	# shellcheck disable=SC2086
	timeout "$limit" "$mcload" $target --label "$server" --keys "$keys" \
	    --key-size "$key_size" --value-size "$value_size" "$@"
}

# Start the server, then set every key once, once it listens (10 s at
# most).
start_and_fill() {
	"start_$server" "$1" "$2"
	if ! mcload_at "$1" "$2" --wait 10 --warm --ops 1 --conns 4 \
	    --pipeline 64 >/dev/null 2>"$dir/warm.err"; then
		echo "mcbench.sh: $server on $1 $2 did not start or answered wrongly:" >&2
		cat "$dir/warm.err" "$dir/server.log" >&2
		exit 1
	fi
}

# The load before and after: the runs share the CPUs with whatever else runs.
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
version=$server
[ "$server" = memcached ] && version=$(memcached -V 2>/dev/null)
# measure TRANSPORT ADDRESS PROTO CONNS: a run of gets, then of sets; their
# JSON lines (all requests) go into $jsonl.
errors=0
measure() {
	threads=$client_threads
	[ "$threads" -le "$4" ] || threads=$4
	for ratio in 1 0; do
		mcload_at "$1" "$2" --proto "$3" --conns "$4" --threads "$threads" \
		    --pipeline "$pipeline" --get-ratio "$ratio" \
		    --seconds "$seconds" >"$dir/run.out" 2>"$dir/run.err"
		rc=$?
		grep '"op":"all"' "$dir/run.out" >>"$jsonl"
		if [ $rc -ne 0 ]; then
			errors=$((errors + 1))
			echo "mcbench.sh: $1 $3 $4 connections:" >&2
			cat "$dir/run.err" >&2
		fi
	done
}

for transport in unix tcp; do
	if [ "$transport" = unix ]; then
		address=$dir/server.sock
	else
		address=$(free_port)
	fi
	start_and_fill "$transport" "$address"
	rep=0
	while [ $rep -lt "$reps" ]; do
		rep=$((rep + 1))
		for proto in $protos; do
			for conns in $conns_list; do
				measure "$transport" "$address" "$proto" "$conns"
			done
		done
	done
	stop_server
done

cp "$jsonl" "$out/mcbench-$server.jsonl"
{
	echo "# ${version:-$server} ($server_threads threads) under mcload:" \
	    "$(nproc 2>/dev/null) CPUs, load average $load_before before," \
	    "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) after"
	echo "# $keys keys of" \
	    "$key_size B, values of $value_size B, uniform keys, gets all hits;"
	echo "# $seconds s a run, medians of $reps; mcload on up to" \
	    "$client_threads threads, in flight a connection: $pipeline;" \
	    "p99 in microseconds, hits the least hit ratio of the gets," \
	    "client the CPUs mcload itself used (gets)"
	awk -F'[,:{}]' '
	function field(name,   i) {
		for (i = 1; i < NF; i++)
			if ($i == "\"" name "\"") {
				gsub(/"/, "", $(i + 1))
				return $(i + 1)
			}
		return ""
	}
	BEGIN {
		printf "%-5s %-6s %5s %12s %9s %6s %12s %9s %6s %6s\n", "via",
		    "proto", "conns", "get/s", "get p99", "hits", "set/s",
		    "set p99", "client", "errors"
	}
	{
		k = field("transport") " " field("proto") " " field("conns")
		if (!(k in seen)) { seen[k] = 1; order[n++] = k }
		op = field("get_ratio") + 0 == 1 ? "get" : "set"
		j = runs[k, op]++
		rate[k, op, j] = field("ops_per_sec")
		p99[k, op, j] = field("p99_ns") / 1000
		cpus[k, op, j] = field("client_cpus")
		if (op == "get")
			hits[k, j] = field("hit_ratio")
		err[k] += field("errors")
	}
	# The median of v[k, op, 0 .. runs[k, op] - 1].
	function median(v, k, op,   m, i, j, x, a) {
		m = runs[k, op]
		for (i = 0; i < m; i++) {
			x = v[k, op, i] + 0
			for (j = i; j > 0 && a[j - 1] > x; j--)
				a[j] = a[j - 1]
			a[j] = x
		}
		return m ? (a[int((m - 1) / 2)] + a[int(m / 2)]) / 2 : 0
	}
	END {
		for (i = 0; i < n; i++) {
			k = order[i]
			split(k, part, " ")
			low = 1
			for (j = 0; j < runs[k, "get"]; j++)
				if (hits[k, j] + 0 < low)
					low = hits[k, j] + 0
			printf "%-5s %-6s %5s %12.0f %9.1f %6.3f %12.0f %9.1f %6.2f %6d\n",
			    part[1], part[2], part[3], median(rate, k, "get"),
			    median(p99, k, "get"), low, median(rate, k, "set"),
			    median(p99, k, "set"), median(cpus, k, "get"), err[k]
		}
	}' "$jsonl"
} >"$out/mcbench-$server.txt"
cat "$out/mcbench-$server.txt"
[ $errors -eq 0 ]
