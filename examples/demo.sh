#!/bin/sh
# demo.sh - several processes share one cache in front of a slow source.
#
#   BUILD=build sh examples/demo.sh        (or: make demo)
#
# 1. cachectl creates a 32 MiB segment.
# 2. Four workers (examples/demo.c) attach it and each serve 3000 requests
#    for user profiles with the cache-aside pattern: get; on a miss, load
#    from a data source that takes 2 ms, then set with a TTL of 5 s.
# 3. We add up how often the source was asked, show the segment's
#    statistics, and destroy it.
#
# Exit status: 0 when every worker succeeded and every value it read from
# the cache was right; non-zero otherwise.

set -u

BUILD=${BUILD:-build}
CACHECTL=$BUILD/cachectl
DEMO=$BUILD/examples/demo
NAME=hostcache-demo-$$     # one segment per run
WORKERS=4
REQUESTS=3000

for program in "$CACHECTL" "$DEMO"; do
	if [ ! -x "$program" ]; then
		echo "demo.sh: $program is missing; run make first" >&2
		exit 2
	fi
done

OUT=$(mktemp -d) || exit 2
PIDS=
CREATED=no

cleanup() {
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null
	done
	[ "$CREATED" = yes ] && "$CACHECTL" destroy "$NAME" >/dev/null 2>&1
	rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== cachectl create $NAME --size 32M"
"$CACHECTL" create "$NAME" --size 32M || exit 2
CREATED=yes

echo "== $WORKERS workers, $REQUESTS requests each, source load 2 ms, TTL 5 s"
i=1
while [ "$i" -le "$WORKERS" ]; do
	"$DEMO" worker "$NAME" "$i" "$REQUESTS" >"$OUT/worker.$i" &
	PIDS="$PIDS $!"
	i=$((i + 1))
done

failed=0
for pid in $PIDS; do
	wait "$pid" || failed=$((failed + 1))
done
[ "$failed" -ne 0 ] && echo "demo.sh: $failed worker(s) failed" >&2
PIDS=
cat "$OUT"/worker.*

# Each worker line reads "worker N: R requests, H hits, M misses, L loads, ...":
# add up the number in front of each word.
awk '
	{
		workers++
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^requests,/) requests += $(i - 1)
			if ($i ~ /^hits,/) hits += $(i - 1)
			if ($i ~ /^loads,/) loads += $(i - 1)
		}
	}
	END {
		if (requests == 0)
			exit
		printf "== summary: %d requests, %d cache hits, %d loads from the source\n",
		       requests, hits, loads
		printf "   without the cache the source would have been asked %d times " \
		       "(%.1f s of loading);\n", requests, requests * 0.002
		printf "   with one cache shared by %d processes it was asked %d times " \
		       "(%.1f s): %.1f%% of the load saved\n",
		       workers, loads, loads * 0.002, 100 * (requests - loads) / requests
	}' "$OUT"/worker.*

echo "== cachectl stats $NAME"
"$CACHECTL" stats "$NAME" || failed=$((failed + 1))

echo "== cachectl destroy $NAME"
"$CACHECTL" destroy "$NAME" && CREATED=no || failed=$((failed + 1))

if [ "$failed" -ne 0 ]; then
	echo "demo.sh: failed" >&2
	exit 1
fi
echo "== done"
