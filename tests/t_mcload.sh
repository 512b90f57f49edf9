#!/bin/sh
# t_mcload.sh - mcload (bench/mcload/) is a correct load generator, not a
# fast one: against memcached on a private unix socket it reads back what
# it set, in the text and the binary protocol, with no error; and it fails
# loudly against servers that answer garbage, answer nothing, or return
# values other than the ones it set.
#
# Prints TAP; run by prove --exec sh.  memcached (make check installs it)
# runs on a socket in the private $TMP; without it, its tests are skipped
# with the reason and the fake-server tests still run.

. "$(dirname "$0")/tap.sh"
MCLOAD=$HC_BUILD/mcload
need_programs "$MCLOAD"

# mcload_run ARGS...: mcload ARGS, stdout in $TMP/out, stderr in $TMP/err,
# the exit status in $status (what last_run shows).
mcload_run() {
	timeout 60 "$MCLOAD" "$@" <"$TMP/empty" >"$TMP/out" 2>"$TMP/err"
	status=$?
}

# field NAME: the value of NAME in the JSON line of all requests.
field() {
	grep '"op":"all"' "$TMP/out" | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"
}

# ran_clean DESCRIPTION: the last run exited 0 with no protocol error and
# some requests answered.
ran_clean() {
	[ "$(field errors)" = 0 ] && [ "$(field ops)" -gt 0 ] 2>/dev/null
	verdict 0 "$1"
}

MC=$TMP/memcached.sock
mc_skip=
if ! command -v memcached >/dev/null 2>&1; then
	mc_skip="memcached is not installed (make check installs it)"
else
	user=
	[ "$(id -u)" = 0 ] && user="-u root"
	# shellcheck disable=SC2086
	timeout 300 memcached -s "$MC" -a 0600 -m 64 -t 1 $user \
	    >"$TMP/memcached.log" 2>&1 &
	background="$background $!"
	# Until it listens, 10 s at most (mcload --wait).
	mcload_run --unix "$MC" --wait 10 --ops 1
	[ "$status" = 0 ] ||
	    mc_skip="memcached did not start: $(head -c 300 "$TMP/memcached.log" "$TMP/err")"
fi

# Every run on memcached sets values of 100 bytes: a value depends on its
# key and the value size only, and a get checks it against that.
for proto in text binary; do
	if [ -n "$mc_skip" ]; then
		skip "$proto: every get after --warm hits, no error" "$mc_skip"
		skip "$proto: a mixed pipelined Zipf load, no error" "$mc_skip"
		continue
	fi
	mcload_run --unix "$MC" --proto "$proto" --warm --get-ratio 1 \
	    --keys 2000 --value-size 100 --conns 4 --threads 2 --ops 5000
	[ "$(field hit_ratio)" = 1.0000 ]
	ran_clean "$proto: every get after --warm hits, no error"

	mcload_run --unix "$MC" --proto "$proto" --get-ratio 0.7 --zipf 0.99 \
	    --keys 5000 --value-size 100 --conns 6 --threads 2 --pipeline 16 \
	    --ops 20000 --seed 7
	ran_clean "$proto: a mixed pipelined Zipf load, no error"
done

# A get that expects 90 bytes where 100 were set must fail.
if [ -n "$mc_skip" ]; then
	skip "a value of another length is an error" "$mc_skip"
else
	mcload_run --unix "$MC" --get-ratio 1 --keys 2000 --value-size 90 \
	    --ops 100
	[ "$(field errors)" -gt 0 ] && grep -q 'want 90' "$TMP/err"
	verdict 1 "a value of another length is an error"
fi

# fake_server MODE PATH: a server on PATH that answers every read with a
# line of garbage (MODE garbage) or never answers (MODE silent); mcload
# --wait waits for it to listen.
fake_server() {
	/usr/bin/python3 - "$1" "$2" <<'PY' >"$TMP/fake.log" 2>&1 &
import os, socket, sys, threading
mode, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(64)
def serve(c):
    while True:
        data = c.recv(65536)
        if not data:
            return
        if mode == "garbage":
            c.sendall(b"GARBAGE\r\n")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
	background="$background $!"
}

if [ ! -x /usr/bin/python3 ]; then
	for what in "garbage: text" "garbage: binary" "no reply"; do
		skip "$what is an error" "needs /usr/bin/python3 for the fake server"
	done
else
	fake_server garbage "$TMP/garbage.sock"
	for proto in text binary; do
		mcload_run --unix "$TMP/garbage.sock" --proto "$proto" --conns 2 \
		    --ops 100 --wait 10
		[ "$(field errors)" -gt 0 ] 2>/dev/null &&
		    grep -q 'connection' "$TMP/err"
		verdict 1 "garbage: $proto replies that are no replies are errors"
	done
	fake_server silent "$TMP/silent.sock"
	mcload_run --unix "$TMP/silent.sock" --ops 10 --timeout 0.3 --wait 10
	[ "$(field errors)" = 1 ] && grep -q 'no reply in 0.3 s' "$TMP/err"
	verdict 1 "no reply within --timeout is an error"
fi

mcload_run --unix "$TMP/nothing-listens.sock" --ops 10
grep -q 'cannot connect' "$TMP/err"
verdict 2 "no server: a clear message, exit status 2"

echo "1..$test_count"
