#!/bin/sh
# t_cachectl_inval.sh - cachectl invalidate, flush and set --tag, and tags
# kept through dump and restore, while a reader stays attached and a shell
# loop keeps setting keys.
#
# Prints TAP; run by prove --exec sh.  Finds the programs under $HC_BUILD.

. "$(dirname "$0")/tap.sh"
need_programs "$CACHECTL"

SEG=hc-t-inval-$$
DST=hc-t-inval-dst-$$
SEGMENTS="$SEG $DST"

# present SEGMENT KEY... / absent SEGMENT KEY...
present() {
	segment=$1
	shift
	for key in "$@"; do
		"$CACHECTL" get "$segment" "$key" >/dev/null 2>&1 || return 1
	done
}
absent() {
	segment=$1
	shift
	for key in "$@"; do
		"$CACHECTL" get "$segment" "$key" >/dev/null 2>&1
		[ $? -eq 1 ] || return 1
	done
}

# A segment in use: a reader attached, a writer loop on bg:* keys.
"$CACHECTL" create "$SEG" --size 16M >/dev/null || exit 1
"$CACHECTL" create "$DST" --size 16M >/dev/null || exit 1
keep_busy "$SEG"

run set "$SEG" user:42:name Ada --tag users --tag user-42
present "$SEG" user:42:name
verdict 0 "set --tag stores an item with two tags"
"$CACHECTL" set "$SEG" user:42:mail ada@example.org --tag users --tag user-42
"$CACHECTL" set "$SEG" user:43:name Bob --tag users
"$CACHECTL" set "$SEG" user:43:mail bob@example.org --tag users
"$CACHECTL" set "$SEG" page:home '<html>'

run keys "$SEG" --prefix user:42:name
has_line '^user:42:name +3 +- +- +[0-9a-f]{8},[0-9a-f]{8}$'
verdict 0 "keys shows the item's two tag hashes"

run keys "$SEG" --tag user-42
has_line '^user:42:mail ' && has_line '^user:42:name ' && ! has_line '^user:43:' &&
    [ "$(wc -l <"$TMP/out")" -eq 3 ]
verdict 0 "keys --tag lists exactly the items with that tag"
run keys "$SEG" --tag users --prefix user:43: --json
grep -q '"count":2}$' "$TMP/out"
verdict 0 "keys --tag with --prefix lists the items that match both"
run keys "$SEG" --tag no-such-tag
[ "$(wc -l <"$TMP/out")" -eq 1 ]
verdict 0 "keys --tag of a tag nobody uses lists nothing"
[ -z "$(ls /dev/shm 2>/dev/null | grep '^cachectl-tag-')" ]
status=0
verdict 0 "keys --tag leaves no scratch segment behind"

run set "$SEG" many x --tag a --tag b --tag c --tag d --tag e
[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q 'tags' "$TMP/err"
verdict 3 "set with five tags fails with one line"

# Tags go through dump and restore: the restored copy answers to them.
run dump "$SEG" "$TMP/tagged.hcd" --prefix user:
run restore "$DST" "$TMP/tagged.hcd"
has_line '^restored 4 of 4 items; .*0 with unknown flags$'
verdict 0 "restore stores items with their tags"
run invalidate "$DST" --tag user-42
absent "$DST" user:42:name user:42:mail && present "$DST" user:43:name
verdict 0 "invalidate --tag on the restored copy drops exactly the tagged items"

run invalidate "$SEG" --tag user-42
has_line "^invalidated every item tagged 'user-42'$" &&
    absent "$SEG" user:42:name user:42:mail &&
    present "$SEG" user:43:name user:43:mail page:home
verdict 0 "invalidate --tag makes the tagged items a miss, no other"

run keys "$SEG" --prefix user:
! has_line '^user:42:' && has_line '^user:43:name '
verdict 0 "keys no longer lists invalidated items"

"$CACHECTL" set "$SEG" user:42:name Ada2 --tag user-42
present "$SEG" user:42:name
status=0
verdict 0 "an item set after the invalidation is visible"

run invalidate "$SEG" --prefix user:43:
has_line "^invalidated every key starting with 'user:43:'$" &&
    absent "$SEG" user:43:name user:43:mail && present "$SEG" user:42:name
verdict 0 "invalidate --prefix ending with the delimiter drops that prefix"

"$CACHECTL" set "$SEG" user:44:a 1
"$CACHECTL" set "$SEG" user:45:a 1
run invalidate "$SEG" --prefix 'user:4'
has_line "^invalidated [0-9]+ items starting with 'user:4'$" &&
    absent "$SEG" user:42:name user:44:a user:45:a && present "$SEG" page:home
verdict 0 "invalidate --prefix of any other prefix scans and counts"

run invalidate "$SEG" --prefix 'page\x3a' --escaped
absent "$SEG" page:home
verdict 0 "invalidate --prefix --escaped takes an escaped prefix"

run invalidate "$SEG"

[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q 'one of --prefix and --tag' "$TMP/err"
verdict 2 "invalidate needs --prefix or --tag"
run invalidate "$SEG" --prefix a --tag b
grep -q 'one of --prefix and --tag' "$TMP/err"
verdict 2 "invalidate refuses both"

"$CACHECTL" set "$SEG" k:1 one
"$CACHECTL" set "$SEG" k:2 two
run flush "$SEG"
has_line '^flushed ' && absent "$SEG" k:1 k:2
verdict 0 "flush makes every item a miss"
"$CACHECTL" set "$SEG" k:3 three
present "$SEG" k:3
status=0
verdict 0 "an item set after the flush is visible"

run stats "$SEG" --json
has_line '"inval_tag":[1-9]' && has_line '"inval_prefix":[1-9]' &&
    has_line '"flushes":1,'
verdict 0 "stats counts invalidations and flushes"

reader_ran

echo "1..$test_count"
