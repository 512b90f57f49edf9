# miss.mk - miss ratios against exact LRU, FIFO and SIEVE, and instruction
# and cache-miss counts per operation.  Included by the Makefile.  Numbers,
# never pass/fail: these targets fail only when something cannot be
# installed, built or run.
#
#   make bench-miss        build/hcmiss over bench/traces/*.trace and Zipf
#                          0.6/0.8/1.0/1.2 traces: bench/results/miss.jsonl
#                          (one object per trace and size), miss.txt (the
#                          tables) and miss.svg, miss.png (gnuplot)
#   make bench-callgrind   instructions per get and per set (callgrind) and
#                          D1/LL misses per operation (cachegrind), with a
#                          working set in L1 and one far larger than L3:
#                          bench/results/callgrind.txt and callgrind.jsonl
#
# A full run of each takes about a minute on 2 cores; BENCH_QUICK=1 runs
# smaller versions (3 sizes and shorter Zipf traces; 1M instead of 2M
# items under valgrind), in about 20 seconds each.  MISS_ARGS replaces
# hcmiss's options (sizes, Zipf keys and requests), MISS_ZIPF the Zipf
# exponents.

MISS_DEPS      := gnuplot-nox
CALLGRIND_DEPS := valgrind
MISS_TRACES    := $(sort $(wildcard bench/traces/*.trace))
MISS_ZIPF      ?= 0.6,0.8,1.0,1.2
MISS_RESULTS    = $(or $(BENCH_RESULTS),bench/results)
ifeq ($(BENCH_QUICK),1)
MISS_ARGS      ?= --fractions 0.001,0.01,0.1 --zipf-requests 1000000
else
MISS_ARGS      ?= --fractions 0.001,0.002,0.005,0.01,0.02,0.05,0.1
endif

REPLAY_OBJ := $(BUILD)/bench/replay.o

.PHONY: bench-miss bench-callgrind

# What trace_replay and hcmiss share.  It lives in a directory of its own,
# so that the generic rule, which makes a program of every bench/*.c, does
# not try to make one of it.
$(REPLAY_OBJ): bench/replay/replay.c bench/replay/replay.h include/hostcache.h \
               bench/kit/kit.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench -c $< -o $@

# trace_replay is built by the generic rule, with the shared object in
# front of the library it calls.
$(BUILD)/bench/trace_replay: $(REPLAY_OBJ) bench/replay/replay.h
$(BUILD)/bench/trace_replay: LDLIBS := $(REPLAY_OBJ) $(BUILD)/libhostcache.a $(LDLIBS)

$(BUILD)/hcmiss: bench/hcmiss/hcmiss.c bench/replay/replay.h $(REPLAY_OBJ) \
                 bench/kit/kit.h $(BENCH_KIT) $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench $< $(REPLAY_OBJ) $(BENCH_KIT) -o $@ \
	  $(BUILD)/libhostcache.a $(LDLIBS) -lm

bench-bin: $(BUILD)/hcmiss

bench-miss:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(MISS_DEPS)"
	$(MAKE) $(BUILD)/hcmiss
	@mkdir -p $(MISS_RESULTS) $(BUILD)/bench
	$(BUILD)/hcmiss --zipf $(MISS_ZIPF) --plot-data $(BUILD)/bench/miss.dat \
	  --jsonl $(MISS_RESULTS)/miss.jsonl $(MISS_ARGS) $(MISS_TRACES) \
	  > $(MISS_RESULTS)/miss.txt
	cat $(MISS_RESULTS)/miss.txt
	gnuplot -e "data='$(BUILD)/bench/miss.dat'; out='$(MISS_RESULTS)/miss'" \
	  bench/hcmiss/miss.gp
	@echo "results: $(MISS_RESULTS)/miss.txt miss.jsonl miss.svg miss.png"

bench-callgrind:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(CALLGRIND_DEPS)"
	$(MAKE) $(BUILD)/bench/opcount
	@mkdir -p $(MISS_RESULTS)
	sh bench/callgrind.sh $(BUILD)/bench/opcount $(MISS_RESULTS)/callgrind \
	  $(if $(filter 1,$(BENCH_QUICK)),--quick)
	@echo "results: $(MISS_RESULTS)/callgrind.txt callgrind.jsonl"
