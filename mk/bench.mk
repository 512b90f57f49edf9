# bench.mk - the benchmark suite, and eviction quality on real traces.
# Included by the Makefile.  Numbers, never pass/fail: these targets fail
# only when something cannot be installed, built or run.
#
#   make bench           build/hcbench: hostcache against a private table,
#                        a shared table behind a rwlock or a mutex,
#                        memcached and redis (started by bench/run.sh on
#                        unix sockets), then bench-miss and bench-callgrind
#                        (mk/miss.mk); about 15 minutes on 2 cores
#   make bench-quick     the same, smaller and shorter (a few minutes)
#   make bench-python    gets and sets from Python: the binding against
#                        pymemcache to hostcached and to memcached
#                        (bench/bench_python.py)
#   make bench-mc        memcached under build/mcload, the load generator
#                        for memcached-protocol servers (bench/mcbench.sh)
#   make bench-redis     the link between hosts (hostcached --redis): a
#                        get hit from the segment beside a Redis GET, the
#                        propagation delay A -> B at 10,000 changes/s for
#                        10 s, the journal's instructions per set
#                        (bench/redisbench.sh; about a minute; not part of
#                        make bench)
#   make bench-traces    replay bench/traces/*.trace and Zipf traces through
#                        real segments, beside LRU, FIFO, CLOCK, SIEVE and
#                        S3-FIFO at the same memory
#
# bench and bench-quick write into bench/results/: hcbench.jsonl (one JSON
# object a line), hcbench.txt (the table), hcbench-*.svg and .png (plots).
# BENCH_ARGS passes more options to build/hcbench, for example
# BENCH_ARGS="--reps 5" or BENCH_ARGS="--bench ycsb_b --procs 1,2,4";
# BENCH_QUICK=1 makes `make bench` the quick run.  bench-traces writes into
# $(BUILD)/bench/; TRACE_ARGS passes options to its trace_replay.

BENCH_DEPS         := memcached redis-server libhiredis-dev libmemcached-dev \
                      gnuplot-nox coreutils python3-cffi python3-pymemcache
BENCH_TRACE_DEPS   := xz-utils gnuplot-nox
BENCH_TRACES       := $(sort $(wildcard bench/traces/*.trace))
BENCH_ZIPF         ?= 0.6,0.8,1.0,1.2
BENCH_ARGS         ?=
TRACE_ARGS         ?=
BENCH_RESULTS      ?= bench/results

.PHONY: bench-quick bench-traces bench-overwrite bench-load bench-setpath \
        bench-python bench-mc bench-redis

# Built here rather than by the generic bench/% rule: it links the client
# libraries of memcached and redis, which plain builds do not need.
HCBENCH_SRC := $(wildcard bench/hcbench/*.c)

# One program in several files; link-time optimisation inlines across them
# as within one file, so that the timed loop (measure.c) calls into the
# competitors (competitors.c) and the value checks (data.c) as cheaply as
# when they were one file.

$(BUILD)/hcbench: $(HCBENCH_SRC) bench/hcbench/*.h include/hostcache.h \
                  bench/kit/kit.h $(BENCH_KIT) $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -flto -Ibench $(HCBENCH_SRC) -o $@ $(BENCH_KIT) \
	  $(BUILD)/libhostcache.a -lhiredis -lmemcached $(LDLIBS) -lm

# mcload (bench/mcload/): a load generator speaking the memcached text and
# binary protocols, for memcached and hostcached alike.  It needs no client
# library, so plain builds (make all) build it too: tests/t_mcload.sh runs it.
MCLOAD_SRC := $(wildcard bench/mcload/*.c)

$(BUILD)/mcload: $(MCLOAD_SRC) bench/mcload/*.h bench/kit/kit.h $(BENCH_KIT)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench $(MCLOAD_SRC) -o $@ $(BENCH_KIT) -lpthread -lm

bench-bin: $(BUILD)/mcload

# memcached, then hostcached, under mcload: gets and sets over a unix
# socket and loopback TCP, text and binary (hostcached: the protocols it
# speaks), 1, 8 and 50 connections (bench/mcbench.sh): medians of 3, about
# three minutes a server.  SERVER=memcached or hostcached runs one;
# SECONDS=N lengthens each run (default 2), REPS=N changes the 3;
# SERVER_THREADS sets both servers' threads (default 2).  Writes
# mcbench-SERVER.txt and .jsonl.
BENCH_MC_DEPS := memcached coreutils python3

bench-mc:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(BENCH_MC_DEPS)"
	$(MAKE) $(BUILD)/mcload $(BUILD)/hostcached
	for server in $(if $(SERVER),$(SERVER),memcached hostcached); do \
	  SERVER=$$server \
	  SERVER_THREADS=$(if $(SERVER_THREADS),$(SERVER_THREADS),2) \
	  SECONDS=$(if $(SECONDS),$(SECONDS),2) HOSTCACHED=$(BUILD)/hostcached \
	  sh bench/mcbench.sh $(BUILD)/mcload $(BENCH_RESULTS) || exit 1; \
	done

bench:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(BENCH_DEPS)"
	$(MAKE) $(BUILD)/hcbench
	sh bench/run.sh $(BUILD)/hcbench $(BENCH_RESULTS) \
	  $(if $(filter 1,$(BENCH_QUICK)),--quick) $(BENCH_ARGS)
	$(if $(wildcard mk/miss.mk),$(MAKE) bench-miss bench-callgrind \
	  $(if $(filter 1,$(BENCH_QUICK)),BENCH_QUICK=1))
	$(MAKE) bench-overwrite $(if $(filter 1,$(BENCH_QUICK)),BENCH_QUICK=1)
	$(MAKE) bench-load $(if $(filter 1,$(BENCH_QUICK)),BENCH_QUICK=1)
	$(MAKE) bench-setpath $(if $(filter 1,$(BENCH_QUICK)),BENCH_QUICK=1)
	$(MAKE) bench-python $(if $(filter 1,$(BENCH_QUICK)),BENCH_QUICK=1)

bench-quick:
	$(MAKE) bench BENCH_QUICK=1

# Overwrites on data that fits: before (eviction only, watermark 1) and
# after (cleaning, the default watermark), 1 and 2 processes.
bench-overwrite: $(BUILD)/bench/bench_overwrite
	@mkdir -p $(BENCH_RESULTS)
	for w in 1 90; do for p in 1 2; do \
	  $(BUILD)/bench/bench_overwrite --watermark $$w --procs $$p \
	    $(if $(filter 1,$(BENCH_QUICK)),--ops 400000) || exit 1; \
	done; done > $(BENCH_RESULTS)/overwrite.out
	grep -v '^{' $(BENCH_RESULTS)/overwrite.out > $(BENCH_RESULTS)/overwrite.txt
	grep '^{' $(BENCH_RESULTS)/overwrite.out > $(BENCH_RESULTS)/overwrite.jsonl
	rm -f $(BENCH_RESULTS)/overwrite.out
	cat $(BENCH_RESULTS)/overwrite.txt

# Loading 1 M and 10 M small keys (16 + 32 bytes) into default segments of
# twice their size: keys dropped by the index (quick: 1 M only).
bench-load: $(BUILD)/bench/bench_load
	@mkdir -p $(BENCH_RESULTS)
	for n in 1000000 $(if $(filter 1,$(BENCH_QUICK)),,10000000); do \
	  $(BUILD)/bench/bench_load --keys $$n || exit 1; \
	done > $(BENCH_RESULTS)/load.out
	grep -v '^{' $(BENCH_RESULTS)/load.out > $(BENCH_RESULTS)/load.txt
	grep '^{' $(BENCH_RESULTS)/load.out > $(BENCH_RESULTS)/load.jsonl
	rm -f $(BENCH_RESULTS)/load.out
	cat $(BENCH_RESULTS)/load.txt



bench-traces:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(BENCH_TRACE_DEPS)"
	$(MAKE) $(BUILD)/bench/trace_replay
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bench/trace_replay --zipf $(BENCH_ZIPF) \
	  --plot-data $(BUILD)/bench/traces.dat $(TRACE_ARGS) $(BENCH_TRACES) \
	  > $(BUILD)/bench/traces.out
	grep -v '^{' $(BUILD)/bench/traces.out > $(BUILD)/bench/traces.txt || true
	grep '^{' $(BUILD)/bench/traces.out > $(BUILD)/bench/traces.json || true
	cat $(BUILD)/bench/traces.out
	gnuplot -e "data='$(BUILD)/bench/traces.dat'; out='$(BUILD)/bench/traces.png'" \
	  bench/traces.gp
	@echo "results: $(BUILD)/bench/traces.txt traces.json traces.png"

# The write path in a full segment: sets of new keys (eviction) and
# overwrites of data at half the item memory (cleaning), 1 and 2
# processes: sets/s, scaling, p50/p99/p999 (quick: 0.5 s runs).
bench-setpath: $(BUILD)/bench/bench_setpath
	@mkdir -p $(BENCH_RESULTS)
	$(BUILD)/bench/bench_setpath --procs 1,2 \
	  $(if $(filter 1,$(BENCH_QUICK)),--seconds 0.5) > $(BENCH_RESULTS)/setpath.out
	grep -v '^{' $(BENCH_RESULTS)/setpath.out > $(BENCH_RESULTS)/setpath.txt
	grep '^{' $(BENCH_RESULTS)/setpath.out > $(BENCH_RESULTS)/setpath.jsonl
	rm -f $(BENCH_RESULTS)/setpath.out
	cat $(BENCH_RESULTS)/setpath.txt

# Gets and sets from Python: the binding against pymemcache to memcached.
bench-python: $(BUILD)/libhostcache.so $(BUILD)/hostcached
	@mkdir -p $(BENCH_RESULTS)
	HOSTCACHE_LIB=$(abspath $(BUILD))/libhostcache.so /usr/bin/python3 \
	  bench/bench_python.py --hostcached $(BUILD)/hostcached \
	  $(if $(filter 1,$(BENCH_QUICK)),--ops 20000) \
	  > $(BENCH_RESULTS)/python.out
	grep -v '^{' $(BENCH_RESULTS)/python.out > $(BENCH_RESULTS)/python.txt
	grep '^{' $(BENCH_RESULTS)/python.out > $(BENCH_RESULTS)/python.jsonl
	rm -f $(BENCH_RESULTS)/python.out
	cat $(BENCH_RESULTS)/python.txt

# The link between hosts: bench/redisbench.sh starts a redis-server and
# two hostcached on two segments, runs build/bench/redislink (latency,
# propagation) and counts the journal's cost per set under callgrind
# (bench/opcount).  RATE=N and SECONDS=N change the propagation run.
# Writes redis.txt and redis.jsonl.
BENCH_REDIS_DEPS := redis-server redis-tools valgrind python3 coreutils

$(BUILD)/bench/redislink: bench/redislink/redislink.c bench/kit/kit.h \
                          $(BENCH_KIT) $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench $< -o $@ $(BENCH_KIT) $(BUILD)/libhostcache.a \
	  -lhiredis $(LDLIBS) -lm

bench-bin: $(BUILD)/bench/redislink

bench-redis:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(BENCH_REDIS_DEPS)"
	$(MAKE) $(BUILD)/bench/redislink $(BUILD)/bench/opcount \
	  $(BUILD)/hostcached $(BUILD)/cachectl
	$(if $(RATE),RATE=$(RATE)) $(if $(SECONDS),SECONDS=$(SECONDS)) \
	  sh bench/redisbench.sh $(BUILD) $(BENCH_RESULTS)
