# bench.mk - benchmarks against the alternatives, and eviction quality on
# real traces.  Included by the Makefile.  Numbers, never pass/fail: these
# targets fail only when something cannot be installed, built or run.
#
#   make bench-traces    replay bench/traces/*.trace and Zipf traces through
#                        real segments, beside LRU, FIFO, CLOCK, SIEVE and
#                        S3-FIFO at the same memory
#   make bench-compare   hostcache against a private table, a locked shared
#                        table, memcached and redis, in one run
#
# Output goes to $(BUILD)/bench/: NAME.txt (table), NAME.json (one object a
# line), NAME.png (gnuplot).  BENCH_ARGS passes options through, for
# example BENCH_ARGS=--quick or BENCH_ARGS="--reps 5 --procs 1,2,4".

BENCH_TRACE_DEPS   := xz-utils gnuplot-nox
BENCH_COMPARE_DEPS := memcached redis-server libhiredis-dev libmemcached-dev \
                      gnuplot-nox coreutils
BENCH_TRACES       := $(sort $(wildcard bench/traces/*.trace))
BENCH_ZIPF         ?= 0.6,0.8,1.0,1.2
BENCH_ARGS         ?=

.PHONY: bench-traces bench-compare

# Built here rather than by the generic bench/% rule: it links the client
# libraries of memcached and redis, which plain builds do not need.
$(BUILD)/bench/bench_compare: bench/hcbench/hcbench.c $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libhostcache.a -lhiredis -lmemcached \
	  $(LDLIBS) -lm

bench-traces:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(BENCH_TRACE_DEPS)"
	$(MAKE) $(BUILD)/bench/trace_replay
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bench/trace_replay --zipf $(BENCH_ZIPF) \
	  --plot-data $(BUILD)/bench/traces.dat $(BENCH_ARGS) $(BENCH_TRACES) \
	  > $(BUILD)/bench/traces.out
	grep -v '^{' $(BUILD)/bench/traces.out > $(BUILD)/bench/traces.txt || true
	grep '^{' $(BUILD)/bench/traces.out > $(BUILD)/bench/traces.json || true
	cat $(BUILD)/bench/traces.out
	gnuplot -e "data='$(BUILD)/bench/traces.dat'; out='$(BUILD)/bench/traces.png'" \
	  bench/traces.gp
	@echo "results: $(BUILD)/bench/traces.txt traces.json traces.png"

bench-compare:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(BENCH_COMPARE_DEPS)"
	$(MAKE) $(BUILD)/bench/bench_compare
	sh bench/run.sh $(BUILD) $(BENCH_ARGS)
	@echo "results: $(BUILD)/bench/compare.txt compare.json compare.png"
