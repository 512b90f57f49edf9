# python_env.sh - running Python against this build's library, for the
# shell tests that do (t_python.sh, t_patterns.sh).  Sourced, not run.
#
# Python is Debian's own /usr/bin/python3, whatever else is first on PATH.
# Sourcing sets python_missing to why it cannot run here (empty when it
# can); python_run ARGS... then runs it with HOSTCACHE_LIB naming
# $python_lib (this build's libhostcache.so unless the test changes it),
# by exec, so call it in a subshell to go on.

HC_BUILD=${HC_BUILD:-./build}
PYTHON=/usr/bin/python3
python_missing=
if [ ! -x "$PYTHON" ] || ! "$PYTHON" -c 'import cffi' 2>/dev/null; then
	python_missing="needs /usr/bin/python3 with cffi (make deps installs python3-cffi)"
fi

# A library built with AddressSanitizer (make sanitize) needs its runtime
# loaded before Python; Python's own allocations are not checked for leaks.
python_lib=$HC_BUILD/libhostcache.so
python_asan=$(ldd "$HC_BUILD/libhostcache.so" 2>/dev/null |
	sed -n 's/.*libasan[^ ]* => \([^ ]*\).*/\1/p')

python_run() {
	if [ -n "$python_asan" ]; then
		export LD_PRELOAD="$python_asan" ASAN_OPTIONS=detect_leaks=0
	fi
	HOSTCACHE_LIB=$python_lib HC_BUILD=$HC_BUILD \
		exec "$PYTHON" "$@"
}
