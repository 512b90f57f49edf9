# tap.sh - what the cachectl shell tests share: finding the programs, TAP
# output, running cachectl with its output captured, checking its exit
# status and messages, segments kept busy, and cleaning up.  Sourced, not run.
#
# The programs are found under $HC_BUILD (default ./build).  Sourcing makes
# TMP, a private directory holding an empty file $TMP/empty; the sourcing
# script then sets SEGMENTS (the names cleanup destroys) and background
# (pids cleanup kills) as it goes:
#   . "$(dirname "$0")/tap.sh"
#   need_programs "$CACHECTL" "$WORKER"

HC_BUILD=${HC_BUILD:-./build}
CACHECTL=$HC_BUILD/cachectl
WORKER=$HC_BUILD/tests/h_worker
CORRUPT=$HC_BUILD/tests/h_corrupt
SEGMENTS=${SEGMENTS:-}
background=

cleanup() {
	rm -f "$TMP/writing"
	for pid in $background; do
		kill "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	for segment in $SEGMENTS; do
		"$CACHECTL" destroy "$segment" >/dev/null 2>&1
	done
	rm -rf "$TMP"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX") || exit 1
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
: >"$TMP/empty"

# need_programs PROGRAM...: skip the whole script unless each is built.
need_programs() {
	for program in "$@"; do
		if [ ! -x "$program" ]; then
			echo "1..0 # SKIP $program is not built"
			exit 0
		fi
	done
}

test_count=0
pass() { test_count=$((test_count + 1)); echo "ok $test_count - $1"; }
# fail DESCRIPTION [DIAGNOSTIC...]: each diagnostic may span lines.
fail() {
	test_count=$((test_count + 1))
	echo "not ok $test_count - $1"
	shift
	for diagnostic in "$@"; do
		printf '%s\n' "$diagnostic" | sed 's/^/#   /'
	done
}
todo() { test_count=$((test_count + 1)); echo "not ok $test_count - $1 # TODO $2"; }
skip() { test_count=$((test_count + 1)); echo "ok $test_count - $1 # SKIP $2"; }

# run ARGS...: cachectl ARGS with no input, stdout in $TMP/out, stderr in
# $TMP/err, the exit status in $status.
run() {
	"$CACHECTL" "$@" <"$TMP/empty" >"$TMP/out" 2>"$TMP/err"
	status=$?
}

# run_with_input FILE ARGS...: the same, with FILE as stdin.
run_with_input() {
	input=$1
	shift
	"$CACHECTL" "$@" <"$input" >"$TMP/out" 2>"$TMP/err"
	status=$?
}

# What the last run did, for a failed test's diagnostics.
last_run() {
	echo "exit status: $status"
	echo "stdout: $(head -c 2000 "$TMP/out")"
	echo "stderr: $(cat "$TMP/err")"
}

# expect_success DESCRIPTION: the last run exited 0 and printed no error.
expect_success() {
	if [ "$status" -eq 0 ] && [ ! -s "$TMP/err" ]; then
		pass "$1"
	else
		fail "$1" "want exit status 0 and an empty stderr" "$(last_run)"
	fi
}

# expect_failure STATUS PATTERN DESCRIPTION: the last run exited STATUS
# (or, for "nonzero", anything but 0) and printed exactly one line on
# stderr, "cachectl: ...", matching the extended regex PATTERN.
expect_failure() {
	want=$1
	pattern=$2
	lines=$(wc -l <"$TMP/err")
	if [ "$want" = nonzero ]; then
		status_ok=$([ "$status" -ne 0 ] && echo yes)
	else
		status_ok=$([ "$status" -eq "$want" ] && echo yes)
	fi
	if [ "$status_ok" = yes ] && [ "$lines" -eq 1 ] &&
	    grep -Eq "^cachectl: .*($pattern)" "$TMP/err"; then
		pass "$3"
	else
		fail "$3" "want exit status $want and one stderr line" \
		    "matching /^cachectl: .*($pattern)/, got $lines lines" \
		    "$(last_run)"
	fi
}

# expect_output FILE DESCRIPTION: the last run exited 0 and its stdout is
# byte for byte FILE.
expect_output() {
	if [ "$status" -eq 0 ] && cmp -s "$1" "$TMP/out"; then
		pass "$2"
	else
		fail "$2" "want exit status 0 and stdout equal to $1" \
		    "$(last_run)" "$(cmp "$1" "$TMP/out" 2>&1)"
	fi
}

# expect_stdout_line REGEX DESCRIPTION: the last run exited 0 and printed
# a line matching the extended regex.
expect_stdout_line() {
	if [ "$status" -eq 0 ] && grep -Eq "$1" "$TMP/out"; then
		pass "$2"
	else
		fail "$2" "want exit status 0 and a line matching /$1/" \
		    "$(last_run)"
	fi
}

# json_number KEY: the number under KEY in the one-line JSON in $TMP/out.
json_number() {
	sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$TMP/out"
}

has_line() { grep -Eq "$1" "$TMP/out"; }

# CONDITION; verdict WANT_STATUS DESCRIPTION: pass when the last run
# exited WANT_STATUS and the command just before verdict succeeded.
verdict() {
	condition=$?
	if [ "$status" -eq "$1" ] && [ "$condition" -eq 0 ]; then
		pass "$2"
	else
		fail "$2" "want exit status $1; the condition held: $(
		    [ "$condition" -eq 0 ] && echo yes || echo no)" "$(last_run)"
	fi
}

# keep_busy SEGMENT: a reader stays attached (cachectl top, pid $reader)
# and a shell loop keeps setting keys bg:0..bg:9 (pid $writer) until
# cleanup; both are the new $background.  The loop pauses while the file
# $TMP/paused exists, for a test that needs a dead slot to stay unreaped:
# any ordinary attach reaps it.
keep_busy() {
	"$CACHECTL" top "$1" --json --interval 0.1 >/dev/null 2>&1 &
	reader=$!
	: >"$TMP/writing"
	(
		i=0
		while [ -f "$TMP/writing" ]; do
			i=$((i + 1))
			[ -f "$TMP/paused" ] ||
			    "$CACHECTL" set "$1" "bg:$((i % 10))" "value $i" \
			    >/dev/null 2>&1
			sleep 0.1
		done
	) &
	writer=$!
	background="$reader $writer"
}

# reader_ran: the reader keep_busy started is still attached at the end.
reader_ran() {
	if kill -0 "$reader" 2>/dev/null; then
		pass "the attached reader (cachectl top) ran throughout"
	else
		fail "the attached reader (cachectl top) ran throughout"
	fi
}

# start_workers SEGMENT MS KEYS: two h_worker processes on SEGMENT for MS
# milliseconds over KEYS keys ($worker1 uniform, $worker2 Zipf, their
# output in $TMP/worker1 and $TMP/worker2), which verify every value they
# read; they are the new $background, given a moment to attach.
start_workers() {
	"$WORKER" "$1" 1 "$2" --keys "$3" >"$TMP/worker1" 2>&1 &
	worker1=$!
	"$WORKER" "$1" 2 "$2" --keys "$3" --zipf >"$TMP/worker2" 2>&1 &
	worker2=$!
	background="$worker1 $worker2"
	sleep 0.3
}

# workers_verified WHILE: wait for $worker1 and $worker2 (h_worker), which
# pass when every value they read was right, then clear $background.
workers_verified() {
	wait "$worker1"
	status1=$?
	wait "$worker2"
	status2=$?
	background=
	if [ "$status1" -eq 0 ] && [ "$status2" -eq 0 ]; then
		pass "the workers read only right values while $1"
	else
		fail "the workers read only right values while $1" \
		    "exit statuses $status1 $status2" \
		    "$(cat "$TMP/worker1" "$TMP/worker2")"
	fi
}
