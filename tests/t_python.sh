#!/bin/sh
# t_python.sh - the Python binding's tests (python/tests), under Debian's
# own /usr/bin/python3 whatever else is first on PATH, against this
# build's library (tests/python_env.sh).  Prints TAP; run by prove --exec
# sh from the top of the tree.

. "$(dirname "$0")/python_env.sh"
if [ -n "$python_missing" ]; then
	echo "1..0 # SKIP $python_missing"
	exit 0
fi
python_run "$(dirname "$0")/../python/tests/tap.py"
