#!/bin/sh
# callgrind.sh - what one get and one set cost: instructions (callgrind)
# and data-cache misses (cachegrind), for a working set in L1 and one far
# larger than the last-level cache.
#
#   sh bench/callgrind.sh OPCOUNT OUT [--quick]
#
#   OPCOUNT  the driver, build/bench/opcount (bench/opcount.c)
#   OUT      prefix of the results: OUT.txt (table), OUT.jsonl (one object
#            per case and bench)
#   --quick  fewer items and operations: half the time
#
# What is measured.  opcount prepares a segment natively, in a process of
# its own (16-byte keys, 64-byte values, item memory for twice the items),
# then a second process, run under valgrind, attaches it and does OPS
# operations of one kind (get_hit, get_miss, set; see bench/opcount.c):
#
#   instr_per_op    callgrind --collect-atstart=no --toggle-collect=hc_get
#                   (or hc_set): instructions executed inside hc_get or
#                   hc_set and everything they call, and nothing else,
#                   divided by OPS.  Exact, and the same on every machine
#                   that builds the same code.
#   d1_miss_per_op, ll_miss_per_op
#                   cachegrind's D1 and LL data misses (reads + writes) of
#                   the run minus those of the same run with 0 operations
#                   (attach, detach, program start), divided by OPS.  This
#                   includes the driver's loop, which touches only its
#                   stack.  The caches are simulated with fixed geometry,
#                   so the numbers do not depend on the machine: D1 32 KiB
#                   8-way, LL 32 MiB 16-way, 64-byte lines, no prefetcher.
#
# Cases.  l1: 64 keys in the smallest segment (11 blocks of 4 KiB): gets
# touch about 7 KiB of items and the index, which fit in L1; sets write
# through the 44 KiB log.  dram: 2,000,000 keys (1,000,000 with --quick),
# about 200 MiB of items in about 400 MiB of item memory, and a 63 MiB
# index, read at random: far larger than the 32 MiB LL (valgrind is too
# slow for the 10M items of the throughput benchmark; 2M is enough to
# miss LL on nearly every access).  get_* run on a segment where every key
# was set once; set runs on one in the steady state of random overwrites
# (full: the keys fit, so the space of each set is freed by cleaning, not
# eviction), so its count includes its share of freeing blocks.
#
# Exit status: non-zero only when something cannot run; never on a number.
set -eu

usage() {
	echo "usage: sh bench/callgrind.sh OPCOUNT OUT [--quick]" >&2
	echo "  OPCOUNT: the built driver (make build/bench/opcount)" >&2
	echo "  OUT: prefix of the results, e.g. bench/results/callgrind" >&2
	exit 2
}

[ $# -ge 2 ] && [ $# -le 3 ] || usage
opcount=$1
out=$2
quick=${3:-}
if [ -n "$quick" ] && [ "$quick" != --quick ]; then
	echo "callgrind.sh: unknown option '$quick' (only --quick)" >&2
	usage
fi
if [ ! -x "$opcount" ]; then
	echo "callgrind.sh: $opcount: no such program; build it with" \
	     "make build/bench/opcount" >&2
	exit 1
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "callgrind.sh: valgrind is not installed (make deps" \
	     "DEPS=valgrind installs it)" >&2
	exit 1
fi
outdir=$(dirname "$out")
if [ ! -d "$outdir" ]; then
	echo "callgrind.sh: $outdir: no such directory for the results" >&2
	exit 1
fi

# Sets in a full segment of many blocks cost far more than gets (they pay
# for freeing blocks), so they get fewer operations: still dozens of
# blocks freed in the dram case.
if [ "$quick" = --quick ]; then
	l1_items=64 l1_ops=20000 l1_set_ops=20000
	dram_items=1000000 dram_ops=50000 dram_set_ops=5000
else
	l1_items=64 l1_ops=100000 l1_set_ops=100000
	dram_items=2000000 dram_ops=200000 dram_set_ops=20000
fi
D1=32768,8,64
LL=33554432,16,64
I1=32768,8,64

seg=/hc_opcount_$$
tmp=$(mktemp -d)
cleanup() {
	"$opcount" remove --segment "$seg" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

vg_version=$(valgrind --version)
start=$(date +%s)

# A valgrind run; its messages go to a log shown only if it fails.
vg() {
	log=$1
	shift
	if ! valgrind "$@" 2>"$log"; then
		echo "callgrind.sh: valgrind failed: valgrind $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

prepare() { # ITEMS STATE
	"$opcount" prepare --segment "$seg" --items "$1" --state "$2" \
	  > "$tmp/prepare.$2"
}

# callgrind CASE BENCH ITEMS OPS FUNCTION: instructions inside FUNCTION,
# in $tmp/cg.CASE.BENCH.ir, and the functions they were spent in (self
# cost, the lines of each function summed whatever file they were inlined
# from), largest first, in .top.
callgrind() {
	f=$tmp/cg.$1.$2
	vg "$f.log" --tool=callgrind --callgrind-out-file="$f.out" \
	  --collect-atstart=no --toggle-collect="$5" \
	  "$opcount" run --segment "$seg" --items "$3" --bench "$2" --ops "$4" \
	  > "$f.run"
	awk '$1 == "totals:" || $1 == "summary:" { print $2; exit }' "$f.out" \
	  > "$f.ir"
	callgrind_annotate --auto=no --threshold=100 "$f.out" 2>/dev/null | awk '
	  /file:function/ { on = 1; next }
	  on && /^[ 0-9,]+ \( *[0-9.]+%\) / {
	    sub(/ \[[^]]*\]$/, "")
	    n = $1; gsub(/,/, "", n)
	    fn = $NF; sub(/^.*:/, "", fn)
	    cost[fn] += n; total += n
	  }
	  END { for (fn in cost) printf "%d %s\n", cost[fn], fn }' |
	  sort -rn | awk -v total="$(cat "$f.ir")" 'NR <= 4 && total > 0 {
	    printf "%s%s %.0f%%", (NR > 1 ? ", " : ""), $2, 100 * $1 / total }
	    END { print "" }' > "$f.top"
}

# cachegrind CASE BENCH ITEMS OPS: whole-program event totals, as
# "Ir=.. D1mr=.. ..." on one line, in $tmp/cache.CASE.BENCH.OPS.ev.
cachegrind() {
	f=$tmp/cache.$1.$2.$4
	if [ "$4" = 0 ]; then f=$tmp/cache.$1.empty; fi
	vg "$f.log" --tool=cachegrind --cache-sim=yes --I1=$I1 --D1=$D1 \
	  --LL=$LL --cachegrind-out-file="$f.out" \
	  "$opcount" run --segment "$seg" --items "$3" --bench "$2" --ops "$4" \
	  > "$f.run"
	awk '$1 == "events:" { for (i = 2; i <= NF; i++) name[i] = $i }
	     $1 == "summary:" { for (i = 2; i <= NF; i++)
	                          printf "%s=%s ", name[i], $i; print "" }' \
	  "$f.out" > "$f.ev"
}

# measure_case CASE ITEMS GET_OPS SET_OPS.  A get_hit run changes the
# segment (it raises the CLOCK counters of what it reads), so each one
# starts from a segment prepared afresh, on which only runs that change
# nothing (get_miss, and the runs of 0 operations) went before it.  The
# two set runs follow each other in the steady state, which a set run
# leaves as it found it.
measure_case() {
	c=$1 n=$2 ops=$3 set_ops=$4
	echo "== $c: $n keys, $ops gets and $set_ops sets a run" >&2
	prepare "$n" get
	cp "$tmp/prepare.get" "$tmp/geometry.$c"
	callgrind "$c" get_miss "$n" "$ops" hc_get
	callgrind "$c" get_hit "$n" "$ops" hc_get
	prepare "$n" get
	cachegrind "$c" get_miss "$n" 0
	mv "$tmp/cache.$c.empty.ev" "$tmp/base.$c.get"
	cachegrind "$c" get_miss "$n" "$ops"
	cachegrind "$c" get_hit "$n" "$ops"
	prepare "$n" set
	cachegrind "$c" set "$n" 0
	mv "$tmp/cache.$c.empty.ev" "$tmp/base.$c.set"
	callgrind "$c" set "$n" "$set_ops" hc_set
	cachegrind "$c" set "$n" "$set_ops"
	"$opcount" remove --segment "$seg"
}

measure_case l1 $l1_items $l1_ops $l1_set_ops
measure_case dram $dram_items $dram_ops $dram_set_ops
elapsed=$(( $(date +%s) - start ))

# One line per case and bench, everything the report needs as key=value;
# the driver's own line (bench=.. ops=.. ok=..) from the callgrind run.
: > "$tmp/rows"
for c in l1 dram; do
	for b in get_hit get_miss set; do
		if [ $b = set ]; then state=set; else state=get; fi
		ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' "$tmp/cg.$c.$b.run")
		echo "case=$c ir=$(cat "$tmp/cg.$c.$b.ir")" \
		     "$(cat "$tmp/cg.$c.$b.run")" \
		     "$(sed 's/\([A-Za-z0-9]*\)=/cache_\1=/g' "$tmp/cache.$c.$b.$ops.ev")" \
		     "$(sed 's/\([A-Za-z0-9]*\)=/base_\1=/g' "$tmp/base.$c.$state")" \
		     "$(sed 's/\([a-z_]*\)=/geo_\1=/g' "$tmp/geometry.$c")" \
		     "top=$(sed 's/ /~/g' "$tmp/cg.$c.$b.top")" >> "$tmp/rows"
	done
done

awk -v vg="$vg_version" -v d1="$D1" -v ll="$LL" -v json="$out.jsonl" \
    -v elapsed="$elapsed" '
function v(k) { return (k in f) ? f[k] + 0 : 0 }
function size(n) {
	if (n < 1048576)
		return sprintf("%.1f KiB", n / 1024)
	return sprintf("%.1f MiB", n / 1048576)
}
# Misses (or instructions) per operation: the run minus the empty run.
# A few misses more in the empty run (noise of attach and detach) read 0.
function per(k,  d) {
	d = v("cache_" k) - v("base_" k)
	return d > 0 ? d / v("ops") : 0
}
{
	split("", f)
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	ops = v("ops")
	instr = v("ir") / ops
	d1r = per("D1mr"); d1w = per("D1mw"); llr = per("DLmr"); llw = per("DLmw")
	ok = v("ok") / ops
	top = f["top"]; gsub(/~/, " ", top)
	printf "{\"bench\":\"%s\",\"impl\":\"hostcache\",\"case\":\"%s\"," \
	       "\"items\":%s,\"ops\":%d,\"instr_per_op\":%.1f," \
	       "\"d1_miss_per_op\":%.3f,\"ll_miss_per_op\":%.3f," \
	       "\"d1_read_miss_per_op\":%.3f,\"d1_write_miss_per_op\":%.3f," \
	       "\"ll_read_miss_per_op\":%.3f,\"ll_write_miss_per_op\":%.3f," \
	       "\"instr_per_op_with_driver\":%.1f,\"ok_ratio\":%.4f," \
	       "\"evictions_per_op\":%.4f,\"blocks_evicted_per_op\":%.5f," \
	       "\"blocks_cleaned_per_op\":%.5f," \
	       "\"top_functions\":\"%s\",\"block_size\":%d,\"blocks\":%d," \
	       "\"item_memory\":%d,\"index_memory\":%d,\"tool\":\"%s\"," \
	       "\"d1\":\"%s\",\"ll\":\"%s\"}\n",
	       f["bench"], f["case"], f["geo_items"], ops, instr, d1r + d1w,
	       llr + llw, d1r, d1w, llr, llw, per("Ir"), ok,
	       v("evictions") / ops, v("blocks_evicted") / ops,
	       v("blocks_cleaned") / ops, top,
	       v("geo_block_size"), v("geo_blocks"), v("geo_item_memory"),
	       v("geo_index_memory"), vg, d1, ll > json
	row[NR] = sprintf("%-5s %-9s %8s %7d %9.1f %10.3f %10.3f %7.4f %9.4f",
	                  f["case"], f["bench"], f["geo_items"], ops, instr,
	                  d1r + d1w, llr + llw, ok,
	                  (v("blocks_evicted") + v("blocks_cleaned")) / ops)
	where[NR] = sprintf("%-5s %-9s %s", f["case"], f["bench"], top)
	seg[f["case"]] = sprintf("%s: %d blocks of %d KiB, item memory %s, " \
	                 "index %s", f["case"], v("geo_blocks"),
	                 v("geo_block_size") / 1024, size(v("geo_item_memory")),
	                 size(v("geo_index_memory")))
}
END {
	printf "hostcache: what one get and one set cost, under %s " \
	       "(%d s)\n", vg, elapsed
	print "  instr/op    instructions inside hc_get or hc_set and what " \
	      "they call (callgrind)"
	print "  miss/op     data misses, reads + writes, of the run minus a " \
	      "run with no operations"
	printf "              (cachegrind: D1 %s, LL %s = bytes,ways,line)\n",
	       d1, ll
	print "  ok          share of operations that returned 0 (a hit, " \
	      "for a get)"
	print "  blocks/op   blocks freed (evicted or cleaned) per operation"
	print "  16-byte keys, 64-byte values"
	print ""
	printf "%-5s %-9s %8s %7s %9s %10s %10s %7s %9s\n", "case", "bench",
	       "items", "ops", "instr/op", "D1 miss/op", "LL miss/op", "ok",
	       "blocks/op"
	for (i = 1; i <= NR; i++)
		print row[i]
	print ""
	print "where the instructions go (self cost by function, callgrind):"
	for (i = 1; i <= NR; i++)
		print where[i]
	print ""
	print "segments:"
	print "  " seg["l1"]
	print "  " seg["dram"]
}' "$tmp/rows" > "$out.txt"
cat "$out.txt"
