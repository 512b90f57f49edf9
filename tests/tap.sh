# tap.sh - what the cachectl shell tests share: TAP output, running
# cachectl with its output captured, and cleaning up.  Sourced, not run.
#
# The sourcing script sets CACHECTL, TMP (a private directory), SEGMENTS
# (the names cleanup destroys) and background (pids cleanup kills), then:
#   . "$(dirname "$0")/tap.sh"

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
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

test_count=0
pass() { test_count=$((test_count + 1)); echo "ok $test_count - $1"; }
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

# run ARGS...: cachectl ARGS, stdout in $TMP/out, stderr in $TMP/err, the
# exit status in $status.
run() {
	"$CACHECTL" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	status=$?
}

last_run() {
	echo "exit status: $status"
	echo "stdout: $(head -c 2000 "$TMP/out")"
	echo "stderr: $(cat "$TMP/err")"
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
