# hostcache - build, test, install.
#
#   make                 library, cachectl, tests, examples, benchmarks into build/
#   make check           run every test under prove (TAP)
#   make sanitize        the tests under ASan + UBSan
#   make tsan            the multi-threaded stress under ThreadSanitizer
#   make demo            the cache-aside demo, then cachectl stats
#   make bench           the benchmarks (numbers, never pass/fail)
#   make install PREFIX=/usr/local DESTDIR=
#   make deps            install the Debian packages the build needs (root)

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build

SOVERSION := 0
VERSION   := 0.1.0

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  ?=
SAN     ?=
override CFLAGS += -std=gnu11 $(OPT) $(SAN) $(WARN) -fvisibility=hidden \
           -Iinclude -Ilib -D_GNU_SOURCE
LDLIBS  += -lxxhash -lpthread -lrt -lm

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:lib/%.c=$(BUILD)/obj/%.o)
LIB_PIC := $(LIB_SRC:lib/%.c=$(BUILD)/pic/%.o)

TEST_SRC := $(wildcard tests/t_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(wildcard tests/h_*.c)
TEST_HELPER_BIN := $(TEST_HELPERS:tests/%.c=$(BUILD)/tests/%)

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

DEPS := libatomic-ops-dev libxxhash-dev libcmocka-dev libjemalloc-dev \
        pkg-config make gcc libc6-dev perl libsqlite3-dev libevent-dev \
        libinih-dev libhiredis-dev
DEPS_TSAN := clang libclang-rt-dev
# The Python binding's tests (tests/t_python.sh); memcached for mcload's
# (tests/t_mcload.sh); pymemcache and libmemcached's memcapable for
# hostcached's (tests/t_hostcached.sh); redis-server for hostcached's link
# between hosts (tests/t_redis.sh).
DEPS_CHECK := python3 python3-cffi python3-django memcached python3-pymemcache \
              libmemcached-tools redis-server

.PHONY: all lib tools tests examples bench-bin check sanitize tsan demo bench \
        install clean deps

all: lib tools tests examples bench-bin

lib: $(BUILD)/libhostcache.a $(BUILD)/libhostcache.so
tools: $(BUILD)/cachectl
tests: $(TEST_BIN) $(TEST_HELPER_BIN)
examples: $(EXAMPLE_BIN)
bench-bin: $(BENCH_BIN)

$(BUILD)/obj/%.o: lib/%.c lib/*.h include/hostcache.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/pic/%.o: lib/%.c lib/*.h include/hostcache.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/libhostcache.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libhostcache.so: $(LIB_PIC) lib/hostcache.map
	$(CC) $(SAN) -shared -Wl,-soname,libhostcache.so.$(SOVERSION) \
	  -Wl,--version-script=lib/hostcache.map -Wl,--no-undefined \
	  -o $@.$(VERSION) $(LIB_PIC) $(LDLIBS)
	ln -sf libhostcache.so.$(VERSION) $(BUILD)/libhostcache.so.$(SOVERSION)
	ln -sf libhostcache.so.$(VERSION) $@

# The tools use jemalloc for their own heap; the library never allocates on
# the hot path and leaves the choice of allocator to the application.
$(BUILD)/cachectl: tools/cachectl.c $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libhostcache.a $(LDLIBS) -ljemalloc

$(BUILD)/tests/%: tests/%.c tests/*.h fuzz/*.c fuzz/*.h $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $< -o $@ $(BUILD)/libhostcache.a $(LDLIBS) -lcmocka -lm

# The bench kit (bench/kit/): clocks, key generators, the latency
# histogram, processes that start together, JSON lines; every benchmark
# links it.
BENCH_KIT := $(BUILD)/bench/kit.o

$(BENCH_KIT): bench/kit/kit.c bench/kit/kit.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/bench/%: bench/%.c bench/kit/kit.h $(BENCH_KIT) $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench $< -o $@ $(BENCH_KIT) $(BUILD)/libhostcache.a \
	  $(LDLIBS) -lm

$(BUILD)/examples/%: examples/%.c $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libhostcache.a $(LDLIBS)

# Tests: every build/tests/t_* program and every tests/t_*.sh prints TAP.
TEST_SH := $(wildcard tests/t_*.sh)
PROVE   ?= prove
PROVE_FLAGS ?= -f

# prove honours only its last --exec, so C programs and shell scripts go in
# two runs.
check: deps
	$(MAKE) deps DEPS="$(DEPS_CHECK)"
	$(MAKE) all
	HC_BUILD=$(abspath $(BUILD)) $(PROVE) $(PROVE_FLAGS) --exec '' $(TEST_BIN)
	$(if $(TEST_SH),HC_BUILD=$(abspath $(BUILD)) $(PROVE) $(PROVE_FLAGS) --exec sh $(TEST_SH))

# Separate build trees, so that instrumented objects never mix with plain ones.
sanitize: deps
	$(MAKE) BUILD=build/asan \
	  OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" check

tsan: deps
	$(MAKE) deps DEPS="$(DEPS_TSAN)"
	$(MAKE) BUILD=build/tsan CC=clang OPT="-O1 -g" SAN="-fsanitize=thread" tests
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  $(PROVE) $(PROVE_FLAGS) --exec '' build/tsan/tests/t_threads \
	  build/tsan/tests/t_tsan_planted build/tsan/tests/t_writeback

demo: deps
	$(MAKE) all
	BUILD=$(abspath $(BUILD)) sh examples/demo.sh

# The benchmark suite: mk/bench.mk (make bench, make bench-quick).
bench:

install: lib tools
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/hostcache.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libhostcache.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libhostcache.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libhostcache.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libhostcache.so.$(SOVERSION)
	ln -sf libhostcache.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libhostcache.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	  lib/hostcache.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/hostcache.pc
	install -m 755 $(BUILD)/cachectl $(DESTDIR)$(PREFIX)/bin/

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	missing=$$(for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf build

# Further targets (fuzzing, torture, man pages, benchmarks) live in mk/.
-include $(wildcard mk/*.mk)
