#!/bin/sh
# t_patterns.sh - the caching-pattern examples (examples/patterns/): every
# C program (built by make examples) and every Python script (under
# /usr/bin/python3 and this tree's binding, as t_python.sh runs it) checks
# its own pattern's promise and exits 0 when it held.  One TAP line per
# example, with its output when it fails; an example must also leave
# neither its segment nor its database behind.

. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/python_env.sh"

PATTERNS=$(cd "$(dirname "$0")/../examples/patterns" && pwd) || exit 1
export TMPDIR="$TMP" PYTHONPATH="$PATTERNS/../../python"

names=$(cd "$PATTERNS/c" && ls ./*.c | sed -e 's|^\./||' -e 's|\.c$||' |
	grep -vx harness)
echo "1..$(($(echo "$names" | wc -l) * 2))"

# run_example DESCRIPTION COMMAND...: COMMAND in the background (so that
# its pid, which names its segment and database, is known), then the
# verdict on its exit status and what it left.
run_example() {
	description=$1
	shift
	"$@" >"$TMP/out" 2>&1 &
	pid=$!
	wait "$pid"
	status=$?
	left=$(ls /dev/shm/hc-pattern-*-"$pid" "$TMP/hc-pattern-$pid.db" 2>/dev/null)
	if [ "$status" -eq 0 ] && [ -z "$left" ]; then
		pass "$description"
	else
		fail "$description" "exit status $status" "$(cat "$TMP/out")" \
		    ${left:+"left behind: $left"}
		rm -f $left
	fi
}

for name in $names; do
	program=$HC_BUILD/examples/patterns/$name
	if [ -x "$program" ]; then
		run_example "C $name" "$program"
	else
		skip "C $name" "$program is not built (make examples)"
	fi
done
for name in $names; do
	script=$PATTERNS/python/$name.py
	if [ -n "$python_missing" ]; then
		skip "Python $name" "$python_missing"
	elif [ ! -f "$script" ]; then
		fail "Python $name" "$script is missing"
	else
		run_example "Python $name" python_run "$script"
	fi
done
