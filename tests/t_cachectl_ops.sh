#!/bin/sh
# t_cachectl_ops.sh - cachectl's operator commands against segments that
# other live processes use at the same time: info, stats, top and ps while
# h_worker processes hammer one segment (and verify every value they read);
# keys and the one-key commands on another, while a reader (cachectl top)
# stays attached and a shell loop keeps setting keys.
#
# Prints TAP; run by prove --exec sh.  Finds the programs under $HC_BUILD
# (default ./build).  Segment names carry the process id and are removed on
# exit, with every background process.

. "$(dirname "$0")/tap.sh"
need_programs "$CACHECTL" "$WORKER"

BUSY=hc-t-ops-busy-$$
SEG=hc-t-ops-$$
SEGMENTS="$BUSY $SEG"

# CONDITION; check DESCRIPTION: pass when the last run exited 0 with an
# empty stderr and the command just before check succeeded.
check() {
	condition=$?
	if [ "$status" -eq 0 ] && [ ! -s "$TMP/err" ] && [ "$condition" -eq 0 ]
	then
		pass "$1"
	else
		fail "$1" "the condition before it held: $([ "$condition" -eq 0 ] &&
		    echo yes || echo no)" "$(last_run)"
	fi
}

line_count_is() { [ "$(wc -l <"$TMP/out")" -eq "$1" ]; }
out_is() { printf '%s' "$1" | cmp -s - "$TMP/out"; }

number_at_least() { [ -n "$1" ] && awk "BEGIN { exit !($1 >= $2) }"; }

: >"$TMP/empty"

# ---------------------------------------------------------------------
# A busy segment: two h_worker processes for a few seconds.  They verify
# every value they read and exit 0 only if all were right.

"$CACHECTL" create "$BUSY" --size 16M >/dev/null || exit 1
start_workers "$BUSY" 6000 400

# ---------------------------------------------------------------------
# info

run info "$BUSY"
has_line '^created: +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} ' &&
    has_line '^layout: +0x[0-9a-f]{16}$' && has_line '^version: +[0-9]+\.[0-9]+$'
check "info shows the creation time, layout and version"
has_line '^attached processes: +3 of 64 '
check "info counts the attached workers and itself"

run info "$BUSY" --json
line_count_is 1 && has_line '"procs_attached":3[,}]' &&
    has_line '"layout":"0x[0-9a-f]{16}"'
check "info --json is one line with the attached count and the layout"

# ---------------------------------------------------------------------
# stats

run stats "$BUSY" --json
gets1=$(json_number gets)
number_at_least "$gets1" 1
check "stats --json sees the workers' gets"
sleep 0.2
run stats "$BUSY" --json
gets2=$(json_number gets)
number_at_least "$gets2" "${gets1:-0}"
check "counters only grow between two samples ($gets1, then $gets2)"

run stats "$BUSY"
has_line '^hit ratio: +0\.[0-9]{4}$'
check "stats prints a table with the hit ratio"

run stats "$BUSY" --blocks
# The four states add up to the total.
sum=$(awk '$1 ~ /^(free|open|sealed|evicting)$/ { n += $2 } END { print n }' \
    "$TMP/out")
has_line '^STATE +BLOCKS +SHARE +BYTES$' &&
    [ "$sum" -gt 0 ] && has_line "^blocks total: +$sum$"
check "stats --blocks: a row per block state, adding up to the total ($sum)"

run stats "$BUSY" --per-process
has_line "^ +[0-9]+ +$worker1 +h_worker +alive " &&
    has_line "^ +[0-9]+ +$worker2 +h_worker +alive "
check "stats --per-process lists both workers, alive"

run stats "$BUSY" --json --per-process
has_line "\"processes\":\[.*\"pid\":$worker1,\"command\":\"h_worker\",\"state\":\"alive\""
check "stats --json --per-process has the workers under processes"

run stats "$BUSY" --prometheus --per-process
cp "$TMP/out" "$TMP/metrics"
# Every sample's metric is announced by # HELP and # TYPE first; names are
# hostcache_*, counters end in _total, every value is a number.
problems=$(awk '
	/^# HELP / { help[$3] = 1; next }
	/^# TYPE / { type[$3] = $4; next }
	/^#/ || /^$/ { next }
	{
		name = $1; sub(/\{.*/, "", name)
		if (name !~ /^hostcache_[a-z0-9_]+$/) print "bad name " name
		if (!(name in help) || !(name in type)) print "unannounced " name
		if (type[name] == "counter" && name !~ /_total$/) print "counter " name
		if ($NF !~ /^[0-9]+(\.[0-9]+)?$/) print "bad value " $0
		if ($0 !~ /segment="\/'"$BUSY"'"/) print "no segment label " $0
	}' "$TMP/metrics")
[ -z "$problems" ]
check "stats --prometheus is well-formed textfile format"
[ -n "$problems" ] && echo "$problems" | sed 's/^/#   /'
grep -Eq '^hostcache_gets_total\{segment="[^"]*"\} [1-9][0-9]*$' "$TMP/metrics" &&
    grep -Eq '^hostcache_blocks\{segment="[^"]*",state="sealed"\} [0-9]+$' "$TMP/metrics" &&
    grep -Eq "^hostcache_process_gets_total\{.*pid=\"$worker1\",command=\"h_worker\"\} [0-9]+$" "$TMP/metrics"
check "stats --prometheus has the totals, blocks by state and per-process rows"

run stats "$BUSY" --json --prometheus
expect_failure 2 'one of --json and --prometheus' \
    "stats refuses --json with --prometheus"

# ---------------------------------------------------------------------
# ps

run ps "$BUSY"
has_line '^SLOT +PID +COMMAND +STATE +UPTIME +GETS +HIT% +SETS ' &&
    has_line "^ +[0-9]+ +$worker1 +h_worker +alive +[0-9.hmds]+ +[1-9][0-9]* " &&
    has_line "^ +[0-9]+ +$worker2 +h_worker +alive +[0-9.hmds]+ +[1-9][0-9]* "
check "ps lists both workers, alive, with their own gets"
has_line "^ +[0-9]+ +[0-9]+ +cachectl \(this\) +alive "
check "ps marks its own row"

run ps "$BUSY" --json
line_count_is 1 &&
    has_line "\{\"slot\":[0-9]+,\"pid\":$worker1,\"command\":\"h_worker\",\"state\":\"alive\",\"attached_ns\":[0-9]+,\"attaches\":[0-9]+,\"gets\":[1-9]"
check "ps --json has the workers with state and counters"

# ---------------------------------------------------------------------
# top, not on a terminal: one line per interval

started=$(date +%s)
run top "$BUSY" --interval 0.2 --iterations 3
elapsed=$(($(date +%s) - started))
rates=$(awk 'NR > 1 { print $2 }' "$TMP/out" | tr '\n' ' ')
line_count_is 4 && has_line '^TIME +GETS/S +HIT% +SETS/S +EVICTIONS/S ' &&
    [ "$(awk 'NR > 1 && $2 > 0' "$TMP/out" | wc -l)" -eq 3 ] &&
    [ "$elapsed" -le 3 ]
check "top --iterations 3 prints a header and 3 lines with gets/s > 0 ($rates)"

run top "$BUSY" --json --interval 0.2 --iterations 2
line_count_is 2 && has_line '^\{"time_ns":[0-9]+,.*"gets_per_s":[1-9]' &&
    has_line '"hit_ratio":0\.[0-9]+,"sets_per_s":[0-9]' &&
    has_line '"get_p50_ns":[1-9][0-9]*,"get_p99_ns":[1-9][0-9]*,'
check "top --json prints one object per interval with the rates and latency"

run top "$BUSY" --interval 0
expect_failure 2 'bad --interval' "top refuses an interval of 0"
run top "$BUSY" --iterations many
expect_failure 2 'bad --iterations' "top refuses a count that is not a number"

# On a terminal (script(1) gives it one): the screen is redrawn in place,
# q quits at once, and the terminal is as it was.
if command -v script >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1 &&
    script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	(sleep 0.8; printf q) | timeout 10 script -qec "sh -c 'stty -g \
	    >$TMP/tty.before; $CACHECTL top $BUSY --interval 0.2; \
	    echo top-exit=\$?; stty -g >$TMP/tty.after'" /dev/null \
	    >"$TMP/tty.out" 2>&1
	status=$?
	if [ "$status" -eq 0 ] && grep -q 'top-exit=0' "$TMP/tty.out" &&
	    grep -q 'hostcache top - /'"$BUSY" "$TMP/tty.out" &&
	    grep -q 'h_worker' "$TMP/tty.out" &&
	    cmp -s "$TMP/tty.before" "$TMP/tty.after"; then
		pass "top on a terminal refreshes in place, quits on q, restores the terminal"
	else
		fail "top on a terminal refreshes in place, quits on q, restores the terminal" \
		    "exit status $status" "$(tail -c 600 "$TMP/tty.out" | cat -v)"
	fi
	timeout 10 script -qec "sh -c 'stty -g >$TMP/tty.before; \
	    timeout --foreground -s TERM 0.7 $CACHECTL top $BUSY \
	    --interval 0.2; stty -g >$TMP/tty.after'" /dev/null \
	    </dev/null >"$TMP/tty.out" 2>&1
	if cmp -s "$TMP/tty.before" "$TMP/tty.after" &&
	    tail -c 40 "$TMP/tty.out" | grep -q "$(printf '\033\\[?1049l')"; then
		pass "top on a terminal restores it when killed by SIGTERM"
	else
		fail "top on a terminal restores it when killed by SIGTERM" \
		    "$(tail -c 600 "$TMP/tty.out" | cat -v)"
	fi
else
	skip "top on a terminal" "needs script(1) and timeout(1)"
	skip "top on a terminal, SIGTERM" "needs script(1) and timeout(1)"
fi

# The workers finish: they verified every read while cachectl looked on.
workers_verified "cachectl inspected"

run ps "$BUSY"
! has_line ' h_worker ' 
check "ps leaves out slots whose process detached"
run ps "$BUSY" --all
# A slot shows its last attachment: the other worker's slot may be reused.
has_line "^ +[0-9]+ +($worker1|$worker2) +h_worker +free "
check "ps --all shows a detached worker's slot as free"

# A worker killed while attached: its slot is reclaimed by the next
# process to attach, which is cachectl ps itself.
"$WORKER" "$BUSY" 3 60000 >/dev/null 2>&1 &
victim=$!
background=$victim
sleep 0.3
kill -9 "$victim"
wait "$victim" 2>/dev/null
background=
run ps "$BUSY" --all
! has_line " $victim +h_worker +alive "
check "ps after kill -9: the killed worker is not shown alive (its slot was reaped)"
# ps attaches as an observer: a killed process shows as dead until some
# other process reaps its slot.
"$WORKER" "$BUSY" 4 60000 >/dev/null 2>&1 &
victim=$!
sleep 0.3
kill -9 "$victim"
wait "$victim" 2>/dev/null
run ps "$BUSY" --all --json
has_line "\"pid\":$victim,\"command\":\"h_worker\",\"state\":\"dead\""
check "ps shows a killed process as dead until it is reaped"

# ---------------------------------------------------------------------
# A quieter segment for the key commands: a reader stays attached
# (cachectl top) and a shell loop keeps setting keys bg:*.

"$CACHECTL" create "$SEG" --size 16M >/dev/null || exit 1
keep_busy "$SEG"
sleep 0.2

# ---------------------------------------------------------------------
# set, get, del with escaped keys

run set "$SEG" 't:bin\x00\xff\x5c' 'binary key' --escaped
run get "$SEG" 't:bin\x00\xff\x5c' --escaped
out_is 'binary key'
check "set and get --escaped reach a key with NUL, 0xff and a backslash"

run set "$SEG" 't:bad\x0' v --escaped
expect_failure 2 'bad escape in the key at character 6' \
    "an incomplete \\x escape is a usage error"
run get "$SEG" 't:a\nb' --escaped
expect_failure 2 'bad escape' "a backslash other than \\xNN is a usage error"

run set "$SEG" 't:plain\x41' literal
run get "$SEG" 't:plain\x41'
out_is literal
check "without --escaped a key is taken byte for byte"

# ---------------------------------------------------------------------
# keys

run set "$SEG" t:ttl 'with a ttl' --ttl 300
run set "$SEG" 't:utf8:é' 'text'
run set "$SEG" "$(printf 't:ctl\001\nz')" 'control'
run keys "$SEG" --prefix t:
cat >"$TMP/want" <<'EOF'
KEY                SIZE    TTL  FLAGS  TAGS
t:bin\x00\xff\x5c    10      -  -      -
t:ctl\x01\x0az        7      -  -      -
t:plain\x5cx41        7      -  -      -
t:ttl                10  5m00s  -      -
t:utf8:é              4      -  -      -
EOF
# The TTL counts down: 4m59s or 5m00s, the same width.
sed 's/ 4m59s / 5m00s /' "$TMP/out" >"$TMP/got"
if [ "$status" -eq 0 ] && cmp -s "$TMP/want" "$TMP/got"; then
	pass "keys --prefix lists the keys sorted, escaped, with size and TTL"
else
	fail "keys --prefix lists the keys sorted, escaped, with size and TTL" \
	    "want:" "$(cat "$TMP/want")" "$(last_run)"
fi

run keys "$SEG" --prefix t: --json
line_count_is 1 && has_line '"count":5\}$' &&
    has_line '\{"key":"t:bin\\\\x00\\\\xff\\\\x5c","size":10,"ttl_ms":null,"flags":0,"client_flags":0,"tags":\[\]\}' &&
    has_line '\{"key":"t:ttl","size":10,"ttl_ms":[0-9]{6},'
check "keys --json: every key escaped, ttl_ms null when none"

run keys "$SEG" --prefix 't:bin\x00' --escaped
line_count_is 2 && has_line '^t:bin\\x00\\xff\\x5c '
check "keys --prefix --escaped takes an escaped prefix"

run keys "$SEG" --prefix t:ctl --raw
printf 't:ctl\001\nz\n' | cmp -s - "$TMP/out"
check "keys --raw prints only the keys' bytes"

run keys "$SEG" --prefix t: --limit 2
line_count_is 3
check "keys --limit 2 lists two keys"

run keys "$SEG" --limit 0
expect_failure 2 'bad --limit' "keys refuses --limit 0"
run keys "$SEG" --json --raw
expect_failure 2 'one of --json and --raw' "keys refuses --raw with --json"

# ---------------------------------------------------------------------
# incr, decr, touch, del

run set "$SEG" t:n 41
run incr "$SEG" t:n
out_is '42
'
check "incr adds 1 and prints the result"
run incr "$SEG" t:n 8
out_is '50
'
check "incr adds DELTA"
run decr "$SEG" t:n 100
out_is '0
'
check "decr stops at 0"
run incr "$SEG" t:n 18446744073709551615
run incr "$SEG" t:n 2
out_is '1
'
check "incr wraps at 2^64"
run incr "$SEG" t:missing
expect_failure 1 'not found' "incr of a missing key exits 1"
run incr "$SEG" t:ttl
expect_failure 3 'decimal' "incr of a value that is not a number exits 3"
run incr "$SEG" t:n -5
expect_failure 2 'bad DELTA' "incr refuses a negative DELTA"

run set "$SEG" t:touched value
run touch "$SEG" t:touched 0.3
status_touch=$status
run get "$SEG" t:touched
status_get=$status
sleep 0.6
run get "$SEG" t:touched
if [ "$status_touch" -eq 0 ] && [ "$status_get" -eq 0 ] && [ "$status" -eq 1 ]; then
	pass "touch gives a key a TTL after which it expires"
else
	fail "touch gives a key a TTL after which it expires" \
	    "touch $status_touch, get $status_get, get later $status"
fi
run touch "$SEG" t:ttl 0
run keys "$SEG" --prefix t:ttl
has_line '^t:ttl +10 +- '
check "touch 0 removes the expiry"
run touch "$SEG" t:missing 5
expect_failure 1 'not found' "touch of a missing key exits 1"
run touch "$SEG" t:ttl soon
expect_failure 2 'bad SECONDS' "touch refuses SECONDS that are not a number"

run del "$SEG" 't:bin\x00\xff\x5c' --escaped
run get "$SEG" 't:bin\x00\xff\x5c' --escaped
expect_failure 1 'not found' "del --escaped removes the binary key"

# ---------------------------------------------------------------------
# Latency: create --latency-every, and stats shows the quantiles

LAT=hc-t-ops-lat-$$
SEGMENTS="$SEGMENTS $LAT"
run create "$LAT" --size 4M --latency-every 1
for i in 1 2 3 4 5; do "$CACHECTL" set "$LAT" "k$i" v >/dev/null; done
run stats "$LAT" --json
has_line '"latency_every":1,' && has_line '"set_timed":5,' &&
    has_line '"set_p50_ns":[1-9][0-9]*,' && has_line '"get_p99_ns":0,'
check "stats shows store latency from every operation timed (5 sets, no gets)"
run stats "$LAT" --prometheus
has_line '^hostcache_set_p999_nanoseconds\{segment="/'"$LAT"'"\} [1-9]'
check "stats --prometheus exports the latency quantiles"
"$CACHECTL" destroy "$LAT"
run create "$LAT" --latency-every off
[ "$status" -eq 0 ] && "$CACHECTL" set "$LAT" k v &&
    "$CACHECTL" stats "$LAT" --json | grep -q '"latency_every":0,"get_timed":0,'
check "create --latency-every off times nothing"
"$CACHECTL" destroy "$LAT"
run create "$LAT" --latency-every 0
expect_failure 2 'latency-every.*from 1 to 1000000, or off' \
    "create refuses --latency-every 0"

# ---------------------------------------------------------------------
# The journal: create --journal, then every change in order

JN=hc-t-ops-journal-$$
SEGMENTS="$SEGMENTS $JN"
run create "$JN" --size 4M --journal 16
"$CACHECTL" set "$JN" user:1 a >/dev/null &&
    "$CACHECTL" del "$JN" user:2 >/dev/null 2>&1
"$CACHECTL" invalidate "$JN" --tag t1 >/dev/null &&
    "$CACHECTL" invalidate "$JN" --prefix p: >/dev/null &&
    "$CACHECTL" flush "$JN" >/dev/null
run journal "$JN"
out_is '0 key origin 0 user:1
1 key origin 0 user:2
2 tag origin 0 t1
3 prefix origin 0 p:
4 flush origin 0 
'
check "journal lists a set, a delete of an absent key, tag and prefix invalidations and a flush, in order"
for i in $(seq 1 20); do "$CACHECTL" set "$JN" "k$i" v >/dev/null; done
run journal "$JN" --json
line_count_is 16 && has_line '^\{"seq":24,"kind":"key","origin":0,"stamp_us":[0-9]+,"whole":true,"data":"k20"\}$' &&
    [ ! -s "$TMP/err" ]
check "journal --json: a full ring of 16 shows the newest 16, a new reader losing none"
"$CACHECTL" destroy "$JN"
run create "$JN" --size 4M
run journal "$JN"
expect_failure 3 'keeps no journal' "journal of a segment without one says so"
"$CACHECTL" destroy "$JN"

# ---------------------------------------------------------------------
# The write-behind queue: create --writeback, set --writeback, what info
# and stats show, a full queue's error

WB=hc-t-ops-writeback-$$
SEGMENTS="$SEGMENTS $WB"
run create "$WB" --size 4M --writeback 64K
expect_success "create --writeback 64K"
run info "$WB"
has_line '^write-behind queue: +65536 \(64\.0 KiB\)$' &&
    has_line '^write-behind limit: +32768 ' &&
    has_line '^write-behind waiting: 0 records, 0 bytes$'
check "info shows the write-behind queue's size, record limit and depth"
big=$(head -c 4000 /dev/zero | tr '\0' x)
for i in $(seq 1 16); do "$CACHECTL" set "$WB" "wb$i" "$big" --writeback; done
run set "$WB" wb17 "$big" --writeback
expect_failure 3 'write-behind queue is full: 64896 of its 65536 bytes wait.*may not be draining.*writeback' \
    "set --writeback into a full queue fails, saying what waits and what sizes it"
run get "$WB" wb17
[ "$status" -eq 1 ] && pass "the refused set stored nothing" ||
    fail "the refused set stored nothing" "$(last_run)"
run set "$WB" plain v
run stats "$WB"
has_line '^wb enqueued: +16$' && has_line '^wb drained: +0$' &&
    has_line '^wb refused full: +1$' && has_line '^wb skipped dead: +0$' &&
    has_line '^wb depth records: +16$' && has_line '^wb depth bytes: +64896 '
check "stats counts what was queued and refused, and the depth"
run stats "$WB" --json
[ "$(json_number wb_enqueued)" = 16 ] && [ "$(json_number wb_depth_bytes)" = 64896 ]
check "stats --json has the write-behind counters"
run info "$WB" --json
[ "$(json_number writeback_bytes)" = 65536 ] &&
    [ "$(json_number writeback_depth_records)" = 16 ]
check "info --json has the queue's size and depth"
"$CACHECTL" destroy "$WB"
run create "$WB" --size 4M --writeback 1K
expect_failure 3 'writeback_bytes 1024 is outside 65536\.\.268435456' \
    "create refuses a queue under 64 KiB, naming the option"
run create "$WB" --size 4M --writeback lots
expect_failure 2 'writeback' "create refuses a --writeback that is not a size"
run create "$WB" --size 4M
run set "$WB" k v --writeback
expect_failure 3 'no write-behind queue.*--writeback' \
    "set --writeback on a segment without a queue says how to make one"
"$CACHECTL" destroy "$WB"

# ---------------------------------------------------------------------
# Every command has --help

run --help
commands=$(sed -n 's/^  \([a-z]*\) .*/\1/p' "$TMP/out")
missing=
for command in $commands; do
	"$CACHECTL" "$command" --help >"$TMP/help" 2>&1 &&
	    grep -q "^usage: cachectl $command " "$TMP/help" || missing="$missing $command"
done
if [ -n "$commands" ] && [ -z "$missing" ]; then
	pass "every command prints its usage with --help ($(echo $commands | wc -w) commands)"
else
	fail "every command prints its usage with --help" "without:$missing"
fi

# ---------------------------------------------------------------------
# The reader stayed attached throughout.

reader_ran

echo "1..$test_count"
