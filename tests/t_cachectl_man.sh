#!/bin/sh
# t_cachectl_man.sh - the man pages: they render without a warning, they
# cover every function of include/hostcache.h and every command and option
# of cachectl, and make install-man installs them.
#
# Prints TAP; run by prove --exec sh from the top of the tree.

. "$(dirname "$0")/tap.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)

PAGE1=$ROOT/man/cachectl.1
PAGE3=$ROOT/man/hostcache.3

# ---------------------------------------------------------------------
# Rendering

for page in "$PAGE1" "$PAGE3"; do
	name=$(basename "$page")
	if ! command -v groff >/dev/null 2>&1; then
		skip "$name renders without warnings" "groff is not installed"
		continue
	fi
	warnings=$(groff -man -Tutf8 -wall "$page" 2>&1 >/dev/null)
	if [ -z "$warnings" ]; then
		pass "$name renders with groff -wall and no warning"
	else
		fail "$name renders with groff -wall and no warning" "$warnings"
	fi
done

if command -v man >/dev/null 2>&1; then
	MANWIDTH=80 man -l "$PAGE1" >"$TMP/rendered" 2>/dev/null
	if grep -q '^NAME' "$TMP/rendered" &&
	    grep -q 'cachectl - create, inspect' "$TMP/rendered"; then
		pass "man -l renders cachectl(1)"
	else
		fail "man -l renders cachectl(1)" "$(head -20 "$TMP/rendered")"
	fi
else
	skip "man -l renders cachectl(1)" "man is not installed"
fi

# ---------------------------------------------------------------------
# hostcache(3) covers the header: each function in the synopsis and
# described under its own name.

functions=$(sed -n 's/^[a-z].*[ *]\(hc_[a-z_]*\)(.*/\1/p' \
    "$ROOT/include/hostcache.h" | sort -u)
missing=
for f in $functions; do
	grep -q "[ *\"]$f(" "$PAGE3" &&
	    grep -Eq "^\.BR .*$f \"?\(\)" "$PAGE3" || missing="$missing $f"
done
if [ -n "$functions" ] && [ -z "$missing" ]; then
	pass "hostcache(3) documents all $(echo $functions | wc -w) functions of hostcache.h"
else
	fail "hostcache(3) documents every function of hostcache.h" \
	    "missing:$missing"
fi

missing=
for code in $(sed -n 's/^[[:space:]]*\(HC_E[A-Z]*\) = .*/\1/p' \
    "$ROOT/include/hostcache.h"); do
	grep -q "^\.B $code$" "$PAGE3" || missing="$missing $code"
done
if [ -z "$missing" ]; then
	pass "hostcache(3) describes every error code"
else
	fail "hostcache(3) describes every error code" "missing:$missing"
fi

# ---------------------------------------------------------------------
# cachectl(1) covers the tool: every command, every option.

if [ -x "$CACHECTL" ]; then
	"$CACHECTL" --help >"$TMP/help"
	commands=$(sed -n 's/^  \([a-z]*\) .*/\1/p' "$TMP/help")
	missing=
	for command in $commands; do
		grep -Eq "^\.BR? (.* )?$command( |\$)" "$PAGE1" ||
		    missing="$missing $command"
		for option in $("$CACHECTL" "$command" --help | head -n 1 |
		    grep -o -- '--[a-z-]*'); do
			escaped=$(printf '%s' "$option" | sed 's/-/\\\\-/g')
			grep -q -- "$escaped" "$PAGE1" ||
			    missing="$missing $command$option"
		done
	done
	if [ -n "$commands" ] && [ -z "$missing" ]; then
		pass "cachectl(1) describes all $(echo $commands | wc -w) commands and their options"
	else
		fail "cachectl(1) describes every command and option" \
		    "missing:$missing"
	fi
else
	skip "cachectl(1) describes every command" "$CACHECTL is not built"
fi

# ---------------------------------------------------------------------
# make install-man

if make -s -C "$ROOT" install-man DESTDIR="$TMP/dest" PREFIX=/usr \
    >"$TMP/make.out" 2>&1; then
	man=$TMP/dest/usr/share/man
	stubs_ok=yes
	for f in $functions; do
		[ "$(cat "$man/man3/$f.3" 2>/dev/null)" = ".so man3/hostcache.3" ] ||
		    stubs_ok=no
	done
	if cmp -s "$PAGE1" "$man/man1/cachectl.1" &&
	    cmp -s "$PAGE3" "$man/man3/hostcache.3" && [ "$stubs_ok" = yes ]; then
		pass "make install-man installs both pages and a page per function"
	else
		fail "make install-man installs both pages and a page per function" \
		    "$(cd "$TMP/dest" && find . | sort)"
	fi
else
	fail "make install-man installs both pages" "$(cat "$TMP/make.out")"
fi

echo "1..$test_count"
