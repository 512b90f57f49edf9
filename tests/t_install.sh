#!/bin/sh
# t_install.sh - make install into a DESTDIR: the header, both libraries,
# hostcache.pc, cachectl and the Python package land where they belong, and
# the installed package imports (from DESTDIR, not from this tree) and
# works over the installed libhostcache.so.

. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/python_env.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
DEST=$TMP/dest
PREFIX=/usr/local
echo "1..3"

if ! make -s -C "$ROOT" install BUILD="$HC_BUILD" DESTDIR="$DEST" \
    PREFIX="$PREFIX" >"$TMP/make.out" 2>&1; then
	fail "make install DESTDIR=... PREFIX=$PREFIX succeeds" "$(cat "$TMP/make.out")"
	skip "the Python package is installed" "make install failed"
	skip "the installed package imports and works" "make install failed"
	exit 0
fi
top=$DEST$PREFIX
missing=
for f in include/hostcache.h lib/libhostcache.a lib/libhostcache.so \
    lib/libhostcache.so.0 lib/pkgconfig/hostcache.pc bin/cachectl; do
	[ -e "$top/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
	pass "make install puts the header, libraries, .pc file and cachectl in place"
else
	fail "make install puts the header, libraries, .pc file and cachectl in place" \
	    "missing:$missing" "$(cd "$DEST" && find . | sort)"
fi

if [ -n "$python_missing" ]; then
	skip "the Python package is installed" "$python_missing"
	skip "the installed package imports and works" "$python_missing"
	exit 0
fi
# Where Debian's python3 looks under /usr/local (mk/python.mk).
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
site=$top/lib/python$version/dist-packages
same=yes
for f in "$ROOT"/python/hostcache/*.py; do
	cmp -s "$f" "$site/hostcache/$(basename "$f")" || same=no
done
if [ "$same" = yes ]; then
	pass "the Python package is installed in lib/python$version/dist-packages"
else
	fail "the Python package is installed in lib/python$version/dist-packages" \
	    "$(cd "$DEST" && find . | sort)"
fi

# Run from $TMP, so that neither the current directory nor the tree is on
# the path: the package must come from DESTDIR.
python_lib=$top/lib/libhostcache.so.0
if (cd "$TMP" && PYTHONPATH=$site HOSTCACHE_INCLUDE=$top/include \
    python_run -c '
import os, sys, hostcache
name = "hc-test-install-%d" % os.getpid()
with hostcache.Cache.create(name, size=4 << 20) as cache:
    cache.set("k", "v")
    ok = cache.get("k") == b"v"
hostcache.unlink(name)
maps = open("/proc/self/maps").read()
ok = ok and os.path.realpath(os.environ["HOSTCACHE_LIB"]) in maps
print(hostcache.__file__)
sys.exit(0 if ok else 1)' >"$TMP/py.out" 2>&1) &&
    [ "$(cat "$TMP/py.out")" = "$site/hostcache/__init__.py" ]; then
	pass "the installed package imports from DESTDIR and works over the installed library"
else
	fail "the installed package imports from DESTDIR and works over the installed library" \
	    "$(cat "$TMP/py.out")"
fi
