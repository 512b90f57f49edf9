#!/bin/sh
# t_cachectl_check.sh - cachectl check [--repair] against live segments:
# clean while h_worker processes hammer a segment; and on a segment that
# h_corrupt breaks one way at a time, while a reader stays attached and a
# shell loop keeps setting keys: check reports each break (exit 3), repair
# fixes what it claims (a second check is clean) and every well-formed
# item still reads back.
#
# Prints TAP; run by prove --exec sh.  Finds the programs under $HC_BUILD.

. "$(dirname "$0")/tap.sh"
need_programs "$CACHECTL" "$WORKER" "$CORRUPT"

BUSY=hc-t-check-busy-$$
SEG=hc-t-check-$$
SRC=hc-t-check-src-$$
SEGMENTS="$BUSY $SEG $SRC"

# The known keys k:1..k:20 all read back with their values, except those
# named in $lost.
known_keys_intact() {
	bad=
	i=1
	while [ "$i" -le 20 ]; do
		case " $lost " in
		*" k:$i "*) ;;
		*)
			value=$("$CACHECTL" get "$SEG" "k:$i" 2>&1)
			[ "$value" = "value of k:$i" ] || bad="$bad k:$i($value)"
			;;
		esac
		i=$((i + 1))
	done
	[ -z "$bad" ]
}

check_known_keys() {
	if known_keys_intact; then
		pass "$1"
	else
		fail "$1" "wrong or missing:$bad"
	fi
}

# ---------------------------------------------------------------------
# A healthy segment under load: no finding is invented.

"$CACHECTL" create "$BUSY" --size 16M >/dev/null || exit 1
start_workers "$BUSY" 3000 500

clean_runs=0
for attempt in 1 2 3 4 5; do
	run check "$BUSY"
	if [ "$status" -eq 0 ] && has_line '; problems 0$' &&
	    [ ! -s "$TMP/err" ]; then
		clean_runs=$((clean_runs + 1))
	else
		cp "$TMP/out" "$TMP/unclean"
	fi
done
if [ "$clean_runs" -eq 5 ]; then
	pass "check of a healthy segment under two writers is clean, 5 times of 5"
else
	fail "check of a healthy segment under two writers is clean, 5 times of 5" \
	    "$clean_runs clean" "$(cat "$TMP/unclean")"
fi

run check "$BUSY" --json
has_line '^\{"problems":\[\],.*"items":[1-9][0-9]*,.*"clean":true\}$'
verdict 0 "check --json of the busy segment: no problems, items counted"

workers_verified "check walked the segment"

# ---------------------------------------------------------------------
# The segment to break.  Twenty known keys go in with one restore, so
# that they share a block (each cachectl set would take a block of its
# own).  A reader stays attached and a loop keeps writing bg:* keys.

"$CACHECTL" create "$SRC" --size 4M >/dev/null || exit 1
i=1
while [ "$i" -le 20 ]; do
	"$CACHECTL" set "$SRC" "k:$i" "value of k:$i" || exit 1
	i=$((i + 1))
done
"$CACHECTL" dump "$SRC" "$TMP/known.hcd" >/dev/null || exit 1
"$CACHECTL" create "$SEG" --size 16M >/dev/null || exit 1
"$CACHECTL" restore "$SEG" "$TMP/known.hcd" >/dev/null || exit 1

keep_busy "$SEG"
sleep 0.2
lost=

run check "$SEG"
has_line '^summary: items [0-9]+, .*; problems 0$'
verdict 0 "check of the fresh segment is clean"

# break KIND [ARG...]: run h_corrupt, keeping what it says.
break_segment() {
	"$CORRUPT" "$SEG" "$@" >"$TMP/broke" 2>&1
	corrupt_status=$?
}

# repair_and_recheck WHAT: check --repair succeeds, then a plain check is
# clean, and the known keys read back.
repair_and_recheck() {
	run check "$SEG" --repair
	has_line '^repair: [1-9][0-9]* repaired$' && ! has_line '^left: ' &&
	    has_line '; problems 0$'
	verdict 0 "check --repair fixes $1 and exits 0"
	run check "$SEG"
	has_line '; problems 0$'
	verdict 0 "after repairing $1, a second check is clean"
	check_known_keys "after repairing $1, every known key reads back"
}

# ---------------------------------------------------------------------
# An index slot pointing outside item memory

break_segment index-outside
run check "$SEG"
has_line '^problem: index bucket [0-9]+ slot [0-9]+ points outside item memory' &&
    has_line '; problems 1$' &&
    grep -q "repair with: cachectl check --repair '$SEG'" "$TMP/err"
verdict 3 "check reports an index slot pointing outside item memory ($(cat "$TMP/broke"))"
repair_and_recheck "the slot pointing outside item memory"

# ---------------------------------------------------------------------
# A block left OPEN by a process slot that nobody holds (the block of k:5)

break_segment orphan-open k:5
run check "$SEG"
has_line '^problem: block [0-9]+ is open by process slot [0-9]+, which no live process holds$'
verdict 3 "check reports a block open by a slot nobody holds ($(cat "$TMP/broke"))"
repair_and_recheck "the orphaned open block"

# ---------------------------------------------------------------------
# A block left EVICTING by a process slot that nobody holds

break_segment orphan-evicting
run check "$SEG" --json
has_line '"problems":\["block [0-9]+ is being evicted by process slot [0-9]+, which no live process holds"\]' &&
    has_line '"clean":false'
verdict 3 "check --json reports a block evicting by a slot nobody holds ($(cat "$TMP/broke"))"
repair_and_recheck "the orphaned evicting block"

# ---------------------------------------------------------------------
# A block left EVICTING by a process killed with SIGKILL while attached.
# check attaches as an observer, so it sees the dead slot and its block;
# repair reaps it and finishes that walk by moving what is still live in the
# block forward (the dead walker may have been cleaning): the items of the
# block (f:*) are kept, with their values.

: >"$TMP/paused"
sleep 0.3 # let a set in flight finish
break_segment killed-evicting f:1 f:2 f:3
killed_status=$corrupt_status
run check "$SEG"
[ "$killed_status" -eq 137 ] && has_line 'being evicted by process slot' &&
    has_line 'is attached but its process is dead'
verdict 3 "check reports the dead process and the block it left evicting"
repair_and_recheck "the block a killed process left evicting"
rm -f "$TMP/paused"
run get "$SEG" f:1
[ "$status" -eq 0 ] && [ "$(cat "$TMP/out")" = "f:1" ]
verdict 0 "the live items of the finished walk are kept"
check_known_keys "after the killed evictor, every known key reads back"

# ---------------------------------------------------------------------
# An item header whose lengths overrun its block (k:7, in the block that
# holds the other known keys).  Repair moves the well-formed items out of
# that block and frees it.

break_segment item-overrun k:7
run check "$SEG"
has_line '^problem: block [0-9]+: item at offset [0-9]+ is malformed \(key 3 bytes, value 16777215 bytes\)$' &&
    has_line '^problem: index bucket [0-9]+ slot [0-9]+ locates a malformed item in block [0-9]+$'
verdict 3 "check reports an item whose lengths overrun its block ($(cat "$TMP/broke"))"

run check "$SEG" --repair
! has_line '^left: '
verdict 0 "check --repair moves the other items out of the malformed item's block and frees it"
lost=k:7
run get "$SEG" k:7
[ "$status" -eq 1 ]
verdict 1 "the malformed item is a miss"
check_known_keys "every other known key, from the same block, reads back"
run check "$SEG"
has_line '; problems 0$'
verdict 0 "after repairing the malformed item, a second check is clean"

# ---------------------------------------------------------------------

reader_ran

echo "1..$test_count"
