#!/bin/sh
# t_cachectl.sh - cachectl end to end, as a user and a script see it:
# exit statuses, one-line messages on stderr, bytes on stdout.
#
# Prints TAP; run by prove --exec sh.  Finds the tool as $HC_BUILD/cachectl
# (HC_BUILD defaults to ./build).  Segment names carry the process id, so
# that runs in parallel do not meet, and are removed on exit.

. "$(dirname "$0")/tap.sh"
need_programs "$CACHECTL"

SEG=hc-t-cachectl-$$
SEG2=hc-t-cachectl-opts-$$
SEGMENTS="$SEG $SEG2"

# ---------------------------------------------------------------------
# Help and usage errors (exit status 2)

run --help
expect_stdout_line '^  stats ' "--help lists the commands on stdout"

run set --help
expect_stdout_line '^usage: cachectl set NAME KEY VALUE' \
    "set --help prints the command's usage on stdout"

run
expect_failure 2 'missing command' "no command is a usage error"

run frobnicate "$SEG"
expect_failure 2 "unknown command 'frobnicate'" \
    "an unknown command is a usage error"

run info "$SEG" --frobnicate
expect_failure 2 "unknown option '--frobnicate'" \
    "an unknown option is a usage error"

run get "$SEG"
expect_failure 2 'missing KEY' "a missing argument is a usage error"

run del "$SEG" key extra
expect_failure 2 "unexpected argument 'extra'" \
    "an extra argument is a usage error"

run create "$SEG" --size 12Q
expect_failure 2 'bad --size' "a size with an unknown unit is a usage error"

run create "$SEG" --size
expect_failure 2 '--size needs a value' "an option without its value is a usage error"

run create "$SEG" --mode 0999
expect_failure 2 'bad --mode' "a mode that is not octal is a usage error"

run set "$SEG" key value --ttl -1
expect_failure 2 'bad --ttl' "a negative TTL is a usage error"

run set "$SEG" key value --ttl 1e3
expect_failure 2 'bad --ttl' "a TTL in exponent notation is a usage error"

run stats "$SEG" --json=yes
expect_failure 2 '--json takes no value' "a flag given a value is a usage error"

# ---------------------------------------------------------------------
# Segments

run info "$SEG"
expect_failure 3 "no (such )?segment.*create it with: cachectl create '$SEG'" \
    "info on a missing segment exits 3 and says how to create it"

run create "$SEG" --size 8M
expect_success "create makes a segment"

run info "$SEG"
expect_stdout_line '^size: +8388608 ' "info shows the size given at creation"
run info "/$SEG"
expect_stdout_line '^mode: +0600$' \
    "info accepts the /name form and shows the default mode 0600"

run create "$SEG" --size 8M
expect_failure nonzero "already exists.*cachectl destroy '$SEG'" \
    "create of an existing name fails and says what to do"

run create --max-procs 8 --mode 0660 "$SEG2" --size 4M
if [ "$status" -eq 0 ]; then
	run info "$SEG2"
	if grep -Eq '^mode: +0660$' "$TMP/out" &&
	    grep -Eq '^attached processes: +1 of 8 ' "$TMP/out"; then
		pass "create takes options before and after the name"
	else
		fail "create takes options before and after the name" \
		    "want mode 0660 and 8 process slots" "$(last_run)"
	fi
else
	fail "create takes options before and after the name" "$(last_run)"
fi

for bad in 'a/b' ''; do
	run create "$bad"
	expect_failure nonzero "create '$bad': .*name" \
	    "create refuses the bad name '$bad'"
done
run info 'a/b'
expect_failure nonzero "info 'a/b': .*name" "info refuses a bad name"

# ---------------------------------------------------------------------
# set, get, del

run set "$SEG" greeting 'hello, world'
expect_success "set stores a value given as an argument"
printf 'hello, world' >"$TMP/want"
run get "$SEG" greeting
expect_output "$TMP/want" "get prints the value exactly, no newline added"

# On a terminal (script(1) gives it one) a newline ends the value.
if command -v script >/dev/null 2>&1 &&
    script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	script -qec "$CACHECTL get $SEG greeting" /dev/null </dev/null \
	    >"$TMP/tty.out" 2>&1
	printf 'world\r\n' >"$TMP/tty.want" # the terminal's \n is \r\n
	if tail -c 7 "$TMP/tty.out" | cmp -s - "$TMP/tty.want"; then
		pass "get on a terminal ends the value with a newline"
	else
		fail "get on a terminal ends the value with a newline" \
		    "$(od -c "$TMP/tty.out" | tail -3)"
	fi
else
	skip "get on a terminal" "needs script(1)"
fi

printf 'a\000b\nc\n\000' >"$TMP/want"
run_with_input "$TMP/want" set "$SEG" binary -
run get "$SEG" binary
expect_output "$TMP/want" "a value with NUL bytes read from stdin round-trips"

head -c 5000 /dev/urandom >"$TMP/want"
run_with_input "$TMP/want" set "$SEG" random -
run get "$SEG" random
expect_output "$TMP/want" "5000 random bytes from stdin round-trip"

run set "$SEG" empty ''
run get "$SEG" empty
expect_output "$TMP/empty" "an empty value round-trips"

printf '%s' -1 >"$TMP/want"
run set "$SEG" negative -1
run get "$SEG" negative
expect_output "$TMP/want" "a value starting with a dash is a value"

run info "$SEG"
max_value=$(sed -n 's/^max value: *\([0-9]*\) bytes$/\1/p' "$TMP/out")
if [ -n "$max_value" ]; then
	head -c $((max_value + 1)) /dev/zero >"$TMP/big"
	run_with_input "$TMP/big" set "$SEG" big -
	expect_failure 3 "value.*limit.*cachectl info '$SEG'" \
	    "a value over max value ($max_value) fails and points to info"
else
	fail "a value over max value fails" "no max value in info" "$(last_run)"
fi

run get "$SEG" no-such-key
expect_failure 1 'not found' "get of a missing key exits 1 with a message"

run del "$SEG" greeting
expect_success "del removes a key"
run get "$SEG" greeting
expect_failure 1 'not found' "get after del exits 1"
run del "$SEG" greeting
expect_failure 1 'not found' "del of a missing key exits 1"

# ---------------------------------------------------------------------
# TTL

run set "$SEG" lasting value --ttl 60
expect_success "--ttl may follow the arguments"

# A second of TTL: a loaded machine (sanitizers, parallel jobs) can take
# a few tenths between two commands.
run set --ttl 1 "$SEG" fleeting value
run get "$SEG" fleeting
if [ "$status" -eq 0 ]; then
	sleep 1.3
	run get "$SEG" fleeting
	expect_failure 1 'not found' "a value set with --ttl 1 expires"
else
	fail "a value set with --ttl 1 expires" \
	    "it was not found right after the set" "$(last_run)"
fi

printf 'value' >"$TMP/want"
run get "$SEG" lasting
expect_output "$TMP/want" "a value with a long TTL is still there"

# ---------------------------------------------------------------------
# stats

run get "$SEG" binary
run stats "$SEG" --json
lines=$(wc -l <"$TMP/out")
sets=$(json_number sets)
items=$(json_number items)
if [ "$status" -eq 0 ] && [ "$lines" -eq 1 ] &&
    grep -Eq '^\{.*\}$' "$TMP/out" &&
    [ "${sets:-0}" -ge 1 ] && [ "${items:-0}" -ge 1 ]; then
	pass "stats --json is one line with sets >= 1 and items >= 1"
else
	fail "stats --json is one line with sets >= 1 and items >= 1" \
	    "sets='$sets' items='$items' lines=$lines" "$(last_run)"
fi

live=$(json_number bytes_live)
dead=$(json_number bytes_dead)
used=$(json_number bytes_used)
hits=$(json_number hits)
ratio=$(json_number hit_ratio)
if [ -n "$used" ] && [ "$used" -eq $((live + dead)) ] &&
    [ "${hits:-0}" -ge 1 ] && [ -n "$ratio" ]; then
	pass "stats --json: bytes_used = live + dead, hits and hit_ratio"
else
	fail "stats --json: bytes_used = live + dead, hits and hit_ratio" \
	    "live='$live' dead='$dead' used='$used' hits='$hits'" \
	    "hit_ratio='$ratio'" "$(last_run)"
fi

run stats "$SEG"
expect_stdout_line '^hit ratio: +[0-9]' "stats prints a readable table"

# ---------------------------------------------------------------------
# Closed standard descriptors: the segment's descriptor must not take
# their numbers, or a value written to "stdout" lands in the segment.

"$CACHECTL" get "$SEG" lasting >&- 2>"$TMP/err"
status=$?
: >"$TMP/out"
expect_failure 3 'writing stdout' "get with stdout closed fails"
"$CACHECTL" set "$SEG" lasting - <&- >"$TMP/out" 2>"$TMP/err"
status=$?
expect_failure 3 'reading stdin' "set - with stdin closed fails"
printf 'value' >"$TMP/want"
run get "$SEG" lasting
expect_output "$TMP/want" "the segment and the value survive closed descriptors"

# ---------------------------------------------------------------------
# Permissions: only root can run a command as another user here.

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$CACHECTL" --version >/dev/null 2>&1; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$CACHECTL" get "$SEG" lasting >"$TMP/out" 2>"$TMP/err" </dev/null
	status=$?
	expect_failure 3 "permission.*/dev/shm" \
	    "another user is refused a 0600 segment and told to check the mode"
else
	skip "another user is refused a 0600 segment" \
	    "needs root, setpriv and a tool that user nobody can run"
fi

# ---------------------------------------------------------------------
# destroy

run destroy "$SEG"
expect_success "destroy removes the segment"
run info "$SEG"
expect_failure 3 'no (such )?segment' "info after destroy says there is no such segment"
run destroy "$SEG"
expect_failure 3 'no (such )?segment' "destroy of a missing segment fails"

echo "1..$test_count"
