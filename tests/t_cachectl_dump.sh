#!/bin/sh
# t_cachectl_dump.sh - cachectl dump and restore: a round trip of binary
# keys and values with their TTLs, through a file and through a pipe, while
# other processes use the segments (a reader stays attached, a loop keeps
# setting keys; one dump is taken under two h_worker processes); and every
# kind of bad file refused before anything is stored.
#
# Prints TAP; run by prove --exec sh.  Finds the programs under $HC_BUILD.

. "$(dirname "$0")/tap.sh"
need_programs "$CACHECTL" "$WORKER"

SRC=hc-t-dump-src-$$
DST=hc-t-dump-dst-$$
EMPTY=hc-t-dump-empty-$$
SMALL=hc-t-dump-small-$$
BUSY=hc-t-dump-busy-$$
SEGMENTS="$SRC $DST $EMPTY $SMALL $BUSY"

# refused PATTERN DESCRIPTION: the last run exited 3 with one stderr line
# matching PATTERN, and the empty segment is still empty.
refused() {
	lines=$(wc -l <"$TMP/err")
	items=$("$CACHECTL" keys "$EMPTY" --json | sed -n 's/.*"count":\([0-9]*\)}$/\1/p')
	if [ "$status" -eq 3 ] && [ "$lines" -eq 1 ] &&
	    grep -Eq "^cachectl: restore .*($1)" "$TMP/err" && [ "$items" = 0 ]; then
		pass "$2"
	else
		fail "$2" "want exit status 3, one line matching /$1/, nothing stored" \
		    "items stored: $items" "$(last_run)"
	fi
}

# empty_out: EMPTY made empty again.
empty_out() {
	"$CACHECTL" destroy "$EMPTY" && "$CACHECTL" create "$EMPTY" --size 16M
}

# ---------------------------------------------------------------------
# The source: known keys with binary keys and values, with and without
# TTLs.  The values live in files, named by number.

for segment in "$SRC" "$DST" "$EMPTY"; do
	"$CACHECTL" create "$segment" --size 16M >/dev/null || exit 1
done
"$CACHECTL" create "$SMALL" --size 4M --max-value 1K >/dev/null || exit 1

keep_busy "$SRC"

: >"$TMP/v1"
printf 'x' >"$TMP/v2"
printf 'a\000b\nc\377' >"$TMP/v3"
head -c 1000 /dev/urandom >"$TMP/v4"
head -c 30000 /dev/urandom >"$TMP/v5"
printf 'plain text' >"$TMP/v6"
# KEY (escaped) and value file for each known key; k:ttl expires in 300 s.
cat >"$TMP/known" <<'EOF'
k:empty v1
k:one v2
k:\x00nul\x00 v3
k:\xff\xfe\x0a v4
k:big v5
k:ttl v6
EOF
set_ok=yes
while read -r key file; do
	ttl=0
	[ "$key" = k:ttl ] && ttl=300
	"$CACHECTL" set "$SRC" "$key" - --escaped --ttl "$ttl" <"$TMP/$file" ||
	    set_ok=no
done <"$TMP/known"
[ "$set_ok" = yes ] || { echo "Bail out! cannot set the known keys"; exit 1; }

# same_values SEGMENT: every known key of SEGMENT holds its value.
same_values() {
	differ=
	while read -r key file; do
		"$CACHECTL" get "$1" "$key" --escaped >"$TMP/got" 2>&1 &&
		    cmp -s "$TMP/got" "$TMP/$file" || differ="$differ $key"
	done <"$TMP/known"
	[ -z "$differ" ]
}

# ---------------------------------------------------------------------
# Round trip through a file

run dump "$SRC" "$TMP/src.hcd"
has_line '^dumped [0-9]+ items, [0-9]+' && [ -s "$TMP/src.hcd" ] &&
    [ "$(ls "$TMP" | grep -c 'src\.hcd\.tmp')" -eq 0 ]
verdict 0 "dump writes the file, says how much, leaves no temporary file"
dumped=$(sed -n 's/^dumped \([0-9]*\) items.*/\1/p' "$TMP/out")

run restore "$DST" "$TMP/src.hcd"
has_line "^restored $dumped of $dumped items; skipped 0 expired since the dump, 0 too large for this segment, 0 with unknown flags$"
verdict 0 "restore stores all $dumped items of the dump"

same_values "$DST"
verdict 0 "every binary key and value reads back identical after the round trip"

run keys "$DST" --prefix k: --json
ttl=$(sed -n 's/.*"key":"k:ttl","size":10,"ttl_ms":\([0-9]*\),.*/\1/p' "$TMP/out")
[ -n "$ttl" ] && [ "$ttl" -gt 280000 ] && [ "$ttl" -le 300000 ] &&
    has_line '"key":"k:big","size":30000,"ttl_ms":null,'
verdict 0 "restored items keep their TTL (k:ttl: $ttl ms left of 300 s), the others none"

# ---------------------------------------------------------------------
# Through a pipe, with --prefix

"$CACHECTL" dump "$SRC" - --prefix 'k:\x00' --escaped 2>"$TMP/err.dump" |
    "$CACHECTL" restore "$EMPTY" - >"$TMP/out" 2>"$TMP/err"
status=$?
has_line '^restored 1 of 1 items' && [ ! -s "$TMP/err.dump" ] &&
    "$CACHECTL" get "$EMPTY" 'k:\x00nul\x00' --escaped | cmp -s - "$TMP/v3"
verdict 0 "dump - | restore - carries the items of an escaped --prefix"
empty_out

"$CACHECTL" set "$SRC" f:max v --flags 4294967295 --tag t:f
"$CACHECTL" set "$SRC" f:zero w
"$CACHECTL" dump "$SRC" - --prefix f: 2>"$TMP/err.dump" |
    "$CACHECTL" restore "$EMPTY" - >"$TMP/out" 2>"$TMP/err"
status=$?
run keys "$EMPTY" --json
has_line '"key":"f:max",[^}]*"client_flags":4294967295,"tags":\["[0-9a-f]{8}"\]' &&
    has_line '"key":"f:zero",[^}]*"client_flags":0,'
verdict 0 "client flags and tags survive dump and restore"
empty_out
run set "$SRC" f:big v --flags 4294967296
[ "$status" -eq 2 ] && grep -q 'flags' "$TMP/err" &&
    ! "$CACHECTL" get "$SRC" f:big >/dev/null 2>&1
verdict 2 "set --flags refuses a number over 32 bits and stores nothing"

if command -v script >/dev/null 2>&1 &&
    script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	script -qec "$CACHECTL dump $SRC -; echo dump-exit=\$?" /dev/null \
	    </dev/null >"$TMP/out" 2>&1
	status=0
	grep -q 'refusing to write a binary dump to a terminal' "$TMP/out" &&
	    grep -q 'dump-exit=3' "$TMP/out"
	verdict 0 "dump - refuses to write to a terminal"
else
	skip "dump - refuses to write to a terminal" "needs script(1)"
fi

# ---------------------------------------------------------------------
# Under load: a dump taken while two h_worker processes write restores
# whole, and the restored segment checks clean.

"$CACHECTL" create "$BUSY" --size 16M >/dev/null || exit 1
"$WORKER" "$BUSY" 1 2000 --keys 300 >/dev/null 2>&1 &
worker1=$!
"$WORKER" "$BUSY" 2 2000 --keys 300 >/dev/null 2>&1 &
worker2=$!
background="$background $worker1 $worker2"
sleep 0.3
run dump "$BUSY" "$TMP/busy.hcd"
busy_items=$(sed -n 's/^dumped \([0-9]*\) items.*/\1/p' "$TMP/out")
"$CACHECTL" destroy "$DST" && "$CACHECTL" create "$DST" --size 16M >/dev/null
run restore "$DST" "$TMP/busy.hcd"
has_line "^restored $busy_items of $busy_items items" && [ "${busy_items:-0}" -gt 100 ] &&
    "$CACHECTL" check "$DST" >/dev/null
verdict 0 "a dump taken under two writers ($busy_items items) restores whole and checks clean"
wait "$worker1" "$worker2"

# ---------------------------------------------------------------------
# TTLs count from the dump; --keep-ttl; items too large for the target

"$CACHECTL" set "$SRC" k:short soon --ttl 0.5
"$CACHECTL" dump "$SRC" "$TMP/short.hcd" --prefix k:short >/dev/null
"$CACHECTL" del "$SRC" k:short
sleep 0.7
run restore "$EMPTY" "$TMP/short.hcd"
has_line 'skipped 1 expired since the dump' &&
    ! "$CACHECTL" get "$EMPTY" k:short >/dev/null 2>&1
verdict 0 "an item that expired since the dump is not restored"
run restore "$EMPTY" "$TMP/short.hcd" --keep-ttl
has_line 'skipped 0 expired' && [ "$("$CACHECTL" get "$EMPTY" k:short)" = soon ]
verdict 0 "restore --keep-ttl gives it the TTL it had when dumped"
empty_out

run restore "$SMALL" "$TMP/src.hcd"
has_line "^restored $((dumped - 1)) of $dumped items; .*, 1 too large for this segment" &&
    ! "$CACHECTL" get "$SMALL" k:big >/dev/null 2>&1 &&
    "$CACHECTL" get "$SMALL" 'k:\xff\xfe\x0a' --escaped | cmp -s - "$TMP/v4"
verdict 0 "restore into a segment with a smaller max value skips the item too large"

# ---------------------------------------------------------------------
# Bad files, refused before anything is stored

size=$(wc -c <"$TMP/src.hcd")
for cut in 1 7 8 23 24 25 40 $((size - 17)) $((size - 9)) $((size - 1)); do
	head -c "$cut" "$TMP/src.hcd" >"$TMP/cut.hcd"
	run restore "$EMPTY" "$TMP/cut.hcd"
	refused 'truncated.*nothing was restored' \
	    "a dump cut to $cut of $size bytes is refused as truncated"
done

# (A regular file on stdin is checked first too: this must be a pipe.)
head -c $((size - 1)) "$TMP/src.hcd" |
    "$CACHECTL" restore "$EMPTY" - >"$TMP/out" 2>"$TMP/err"
status=$?
restored=$(sed -n 's/.*; \([0-9]*\) items before it were restored$/\1/p' "$TMP/err")
if [ "$status" -eq 3 ] && grep -q 'truncated' "$TMP/err" &&
    [ "${restored:-0}" -eq "$dumped" ]; then
	pass "from a pipe, a truncated dump fails at its end and says what was stored ($restored)"
else
	fail "from a pipe, a truncated dump fails at its end and says what was stored" \
	    "$(last_run)"
fi
empty_out

: >"$TMP/empty.hcd"
run restore "$EMPTY" "$TMP/empty.hcd"
refused 'empty' "an empty file is refused"

printf 'hello, world\n' >"$TMP/text.hcd"
run restore "$EMPTY" "$TMP/text.hcd"
refused 'not a hostcache dump' "a text file is refused as not a dump"

run restore "$EMPTY" "$CACHECTL"
refused 'not a hostcache dump' "a program is refused as not a dump"

# patch OFFSET BYTE: a copy of the dump with one byte replaced.
patch() {
	cp "$TMP/src.hcd" "$TMP/patched.hcd"
	printf "$2" | dd of="$TMP/patched.hcd" bs=1 seek="$1" conv=notrunc \
	    2>/dev/null
}

patch 8 '\003'
run restore "$EMPTY" "$TMP/patched.hcd"
refused 'format version 3 is newer than this cachectl reads \(2\)' \
    "a dump of a newer format version is refused"

patch 12 '\001'
run restore "$EMPTY" "$TMP/patched.hcd"
refused 'features this cachectl does not know' \
    "a dump with an unknown header flag is refused"

patch 0 'X'
run restore "$EMPTY" "$TMP/patched.hcd"
refused 'not a hostcache dump' "a dump with a wrong magic is refused"

patch 24 'Z'
run restore "$EMPTY" "$TMP/patched.hcd"
refused 'unknown record kind 0x5a at byte 24' "an unknown record kind is refused"

patch $((size / 2)) '\252'
cmp -s "$TMP/src.hcd" "$TMP/patched.hcd" || {
	run restore "$EMPTY" "$TMP/patched.hcd"
	refused 'damaged' "a dump with one byte changed in the middle is refused"
}

patch $((size - 16)) '\377'
run restore "$EMPTY" "$TMP/patched.hcd"
refused 'counts [0-9]+ items, the file holds' "a dump whose count is wrong is refused"

cp "$TMP/src.hcd" "$TMP/patched.hcd"
printf 'more' >>"$TMP/patched.hcd"
run restore "$EMPTY" "$TMP/patched.hcd"
refused 'data after the end record' "a dump with bytes after its end is refused"

run restore "$EMPTY" "$TMP/no-such-file"
refused 'cannot open it' "a missing file is refused"

# ---------------------------------------------------------------------
# dump failures

run dump "$SRC" "$TMP/no-such-dir/x.hcd"
[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q 'cannot create a file beside it' "$TMP/err"
verdict 3 "dump into a missing directory fails with one line"

printf 'old' >"$TMP/keep.hcd"
run dump hc-t-dump-missing-$$ "$TMP/keep.hcd"
[ "$(cat "$TMP/keep.hcd")" = old ]
verdict 3 "a failed dump leaves an existing file as it was"

# ---------------------------------------------------------------------

reader_ran

echo "1..$test_count"
