#!/bin/sh
# t_prefork.sh - the prefork HTTP server (examples/prefork/prefork_http)
# with 3 workers on a fresh segment, driven by a small Python client:
# cached pages, invalidation by an update, errors, several workers
# serving, a worker SIGKILLed, shutdown by SIGTERM; then the server on a
# segment it did not create, which it must leave in place.

. "$(dirname "$0")/tap.sh"

SERVER=$HC_BUILD/examples/prefork/prefork_http
PY=/usr/bin/python3
need_programs "$CACHECTL" "$SERVER"
if [ ! -x "$PY" ]; then
	echo "1..0 # SKIP needs $PY for its HTTP client"
	exit 0
fi
SEGMENT=hc-prefork-$$
OWNED=hc-prefork-owned-$$
SIDECAR=hc-prefork-sidecar-$$
SEGMENTS="$SEGMENT $OWNED $SIDECAR"
HOSTCACHED=$HC_BUILD/hostcached
echo "1..15"

# client.py PORT page PATH [METHOD]: "STATUS WORKER CACHE", then the body.
# client.py PORT raw BYTES: the status line of the answer to BYTES.
# client.py PORT workers PATH N: N connections open at once, one request
# on each: how many distinct workers answered.
cat >"$TMP/client.py" <<'PY'
import http.client, socket, sys
port, what = int(sys.argv[1]), sys.argv[2]
def page(path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path)
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    return "%d %s %s\n%s" % (r.status, r.getheader("X-Worker"),
                             r.getheader("X-Cache", "-"), body)
if what == "page":
    sys.stdout.write(page(*sys.argv[3:5]))
elif what == "raw":
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(sys.argv[3].encode().decode("unicode_escape").encode())
        print(s.makefile("rb").readline().decode().strip())
elif what == "workers":
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10)
             for _ in range(int(sys.argv[4]))]
    for c in conns:
        c.connect()
    pids = set()
    for c in conns:
        c.request("GET", sys.argv[3])
        r = c.getresponse()
        r.read()
        pids.add(r.getheader("X-Worker"))
    print(len(pids))
PY
client() { "$PY" "$TMP/client.py" "$port" "$@" 2>&1; }
hits() { "$CACHECTL" stats "$1" --json | sed -n 's/.*"hits":\([0-9]*\).*/\1/p'; }

# start ARGS...: the server on a free port ($port), its pid $server.
start() {
	rm -f "$TMP/server.out"	# not the last server's: it names another port
	"$SERVER" --db "$TMP/db.sqlite" --port 0 --workers 3 "$@" \
		>"$TMP/server.out" 2>"$TMP/server.err" &
	server=$!
	background=$server
	for _ in $(seq 100); do
		grep -qs listening "$TMP/server.out" && break
		sleep 0.1
	done
	port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/server.out" \
		2>/dev/null)
}
# children PID: the pids of PID's children (from /proc, not pgrep: procps
# may not be installed).
children() {
	awk -v parent="$1" '$4 == parent { print $1 }' /proc/[0-9]*/stat 2>/dev/null
}
server_log() { cat "$TMP/server.out" "$TMP/server.err"; }

"$SERVER" --init-db "$TMP/db.sqlite" --users 100 --orders 2000 >/dev/null
start --segment "$SEGMENT" --create 16M --unlink-on-exit
if [ -n "$port" ]; then
	pass "the server starts on a fresh segment"
else
	fail "the server starts on a fresh segment" "$(server_log)"
fi

first=$(client page /item/7)
before=$(hits "$SEGMENT")
second=$(client page /item/7)
after=$(hits "$SEGMENT")
if [ "$(echo "$first" | sed 1d)" = "$(echo "$second" | sed 1d)" ] &&
	echo "$first" | grep -q '^200 .* miss$'; then
	pass "the same page twice: the same body"
else
	fail "the same page twice: the same body" "first: $first" "second: $second"
fi
if [ -n "$before" ] && [ "$after" -gt "$before" ] &&
	echo "$second" | grep -q '^200 .* hit$'; then
	pass "the second read is a cache hit (cachectl stats hits increase)"
else
	fail "the second read is a cache hit (cachectl stats hits increase)" \
		"hits before $before, after $after" "second: $second"
fi

orders=$(echo "$second" | sed -n 's|<p>orders: \([0-9]*\)</p>|\1|p')
update=$(client page '/item/7?amount=1234' POST)
third=$(client page /item/7)
if echo "$update" | grep -q '^200 ' &&
	echo "$third" | grep -q "<p>orders: $((orders + 1))</p>" &&
	echo "$third" | grep -q '^200 .* miss$'; then
	pass "POST /item/ID invalidates: the next read renders the new data"
else
	fail "POST /item/ID invalidates: the next read renders the new data" \
		"before: $second" "update: $update" "after: $third"
fi
update=$(client page /update/7)
fourth=$(client page /item/7)
if echo "$update" | grep -q '^200 ' &&
	echo "$fourth" | grep -q "<p>orders: $((orders + 2))</p>"; then
	pass "GET /update/ID does the same"
else
	fail "GET /update/ID does the same" "update: $update" "after: $fourth"
fi

path=$(client page /nothing/here)
item=$(client page /item/100000)
if echo "$path" | grep -q '^404 ' && echo "$item" | grep -q '^404 '; then
	pass "404 for an unknown path and an unknown item"
else
	fail "404 for an unknown path and an unknown item" "$path" "$item"
fi

bad=$(client raw 'NONSENSE\r\n\r\n')
next=$(client page /item/8)
if [ "$bad" = "HTTP/1.1 400 Bad Request" ] && echo "$next" | grep -q '^200 '; then
	pass "a malformed request line gets 400, and the next client is served"
else
	fail "a malformed request line gets 400, and the next client is served" \
		"answer: $bad" "next: $next"
fi

# Which worker accepts is the scheduler's choice: on a loaded machine one
# worker may take a whole burst, so up to 5 bursts are tried.
for burst in 1 2 3 4 5; do
	distinct=$(client workers /item/9 50)
	[ "$distinct" -gt 1 ] 2>/dev/null && break
done
if [ "$distinct" -gt 1 ] 2>/dev/null; then
	pass "several workers serve requests ($distinct distinct X-Worker in 50, burst $burst)"
else
	fail "several workers serve requests (distinct X-Worker in 50)" \
		"distinct workers: $distinct" "$(server_log)"
fi

victim=$(client page /item/10 | sed -n '1s/^200 \([0-9]*\) .*/\1/p')
kill -KILL "$victim" 2>/dev/null
for _ in $(seq 50); do
	# Printed once the parent has reaped the worker's slot.
	grep -q "worker $victim killed by signal 9" "$TMP/server.err" && break
	sleep 0.1
done
served=0
for i in $(seq 10); do
	client page "/item/$i" | grep -q '^200 ' && served=$((served + 1))
done
"$CACHECTL" check "$SEGMENT" >"$TMP/check" 2>&1
checked=$?
workers=$(children "$server" | tr '\n' ' ')
if [ -n "$victim" ] && [ $served = 10 ] && [ $checked = 0 ] &&
	[ "$(echo $workers | wc -w)" -eq 3 ]; then
	pass "a worker killed by SIGKILL is replaced; the segment checks clean"
else
	fail "a worker killed by SIGKILL is replaced; the segment checks clean" \
		"victim $victim; workers now: $workers; $served of 10 served" \
		"cachectl check (exit status $checked): $(cat "$TMP/check")" \
		"$(server_log)"
fi

kill -TERM "$server"
wait "$server"
status=$?
background=
left=
for pid in $server $workers; do
	kill -0 "$pid" 2>/dev/null && left="$left $pid"
done
if [ "$status" -eq 0 ] && [ -z "$left" ] &&
	! "$CACHECTL" info "$SEGMENT" >/dev/null 2>&1; then
	pass "SIGTERM stops every process; --unlink-on-exit removes what it created"
else
	fail "SIGTERM stops every process; --unlink-on-exit removes what it created" \
		"exit status $status; still running:$left" "$(server_log)"
fi

"$CACHECTL" create "$OWNED" --size 8M >/dev/null
start --segment "$OWNED" --unlink-on-exit
first=$(client page /item/3)
second=$(client page /item/3)
if echo "$first" | grep -q '^200 ' && echo "$second" | grep -q '^200 .* hit$'; then
	pass "a segment another process created is opened and used"
else
	fail "a segment another process created is opened and used" \
		"$first" "$second" "$(server_log)"
fi
kill -TERM "$server"
wait "$server"
status=$?
background=
if [ "$status" -eq 0 ] && "$CACHECTL" info "$OWNED" >/dev/null 2>&1; then
	pass "the server never removes a segment it did not create"
else
	fail "the server never removes a segment it did not create" \
		"exit status $status" "$(server_log)"
fi

if [ -x "$HOSTCACHED" ]; then
	"$HOSTCACHED" --name "$SIDECAR" --size 16M --socket "$TMP/sidecar.sock" \
		--log-level warn >"$TMP/sidecar.out" 2>&1 &
	sidecar=$!
	for _ in $(seq 100); do
		[ -S "$TMP/sidecar.sock" ] && break
		sleep 0.1
	done
	start --segment "$SIDECAR" --unlink-on-exit
	background="$server $sidecar"
	first=$(client page /item/4)
	second=$(client page /item/4)
	kill -TERM "$server"
	wait "$server"
	status=$?
	kept=$("$CACHECTL" info "$SIDECAR" >/dev/null 2>&1 && echo yes)
	kill -TERM "$sidecar"
	wait "$sidecar"
	background=
	if echo "$second" | grep -q '^200 .* hit$' && [ "$status" -eq 0 ] &&
		[ "$kept" = yes ]; then
		pass "a segment the sidecar (hostcached) owns is used and left to it"
	else
		fail "a segment the sidecar (hostcached) owns is used and left to it" \
			"$first" "$second" "exit status $status; kept: $kept" \
			"$(server_log)" "$(cat "$TMP/sidecar.out")"
	fi
else
	skip "a segment the sidecar (hostcached) owns" "$HOSTCACHED is not built"
fi

"$SERVER" --db "$TMP/db.sqlite" --segment "hc-prefork-none-$$" --port 0 \
	>"$TMP/server.out" 2>"$TMP/server.err"
status=$?
if [ "$status" -eq 2 ] &&
	grep -q "hc-prefork-none-$$: no such segment.*--create" "$TMP/server.err"; then
	pass "a missing segment is an error that says what to do"
else
	fail "a missing segment is an error that says what to do" \
		"exit status $status" "$(server_log)"
fi

"$SERVER" --db "$TMP/missing.sqlite" --no-cache --port 0 \
	>"$TMP/server.out" 2>"$TMP/server.err"
status=$?
if [ "$status" -eq 2 ] && grep -q "missing.sqlite: .*--init-db" "$TMP/server.err"; then
	pass "a missing database is an error that says what to do"
else
	fail "a missing database is an error that says what to do" \
		"exit status $status" "$(server_log)"
fi
