# hostcached, the sidecar daemon: tools/hostcached/*.c (the layers
# tools/hostcached/hostcached.h shows), linked with the static library,
# libevent, libinih, hiredis (--redis: tools/hostcached/redis*.c) and, for
# its own heap, jemalloc as cachectl is.  It shares cachectl's number
# parsing (tools/cachectl_parse.c) and the list of the segment's fields
# (tools/stat_fields.c).

HOSTCACHED_SRC := $(wildcard tools/hostcached/*.c)
HOSTCACHED_OBJ := $(HOSTCACHED_SRC:tools/hostcached/%.c=$(BUILD)/tools/hostcached/%.o)
HOSTCACHED_LIBS := -levent_pthreads -levent -linih -lhiredis -ljemalloc
MANDIR ?= $(PREFIX)/share/man

.PHONY: hostcached install-hostcached
tools: $(BUILD)/hostcached
install: install-hostcached

$(BUILD)/tools/hostcached/%.o: tools/hostcached/%.c tools/hostcached/hostcached.h \
    tools/hostcached/proto.h tools/hostcached/redis_link.h tools/stat_fields.h \
    tools/cachectl_parse.h include/hostcache.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/hostcached: $(HOSTCACHED_OBJ) $(BUILD)/tools/cachectl_parse.o \
    $(BUILD)/tools/stat_fields.o $(BUILD)/libhostcache.a
	$(CC) $(CFLAGS) $(HOSTCACHED_OBJ) $(BUILD)/tools/cachectl_parse.o \
	  $(BUILD)/tools/stat_fields.o \
	  -o $@ $(BUILD)/libhostcache.a $(LDLIBS) $(HOSTCACHED_LIBS)

hostcached: $(BUILD)/hostcached

# The binary, its man page and a systemd unit naming the installed path.
install-hostcached: $(BUILD)/hostcached
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system \
	  $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/hostcached $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/hostcached.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@PREFIX@|$(PREFIX)|g' tools/hostcached/hostcached.service.in \
	  > $(DESTDIR)$(PREFIX)/lib/systemd/system/hostcached.service

# make tsan also drives a ThreadSanitizer build of hostcached through its
# tests: the workers, the listener and the maintenance thread share the
# segment, the counters and the log.
.PHONY: tsan-hostcached
tsan: tsan-hostcached

tsan-hostcached: deps
	$(MAKE) deps DEPS="$(DEPS_TSAN) $(DEPS_CHECK)"
	$(MAKE) BUILD=build/tsan CC=clang OPT="-O1 -g" SAN="-fsanitize=thread" \
	  build/tsan/hostcached build/tsan/cachectl
	HC_BUILD=$(abspath build/tsan) TSAN_OPTIONS="halt_on_error=1" \
	  $(PROVE) $(PROVE_FLAGS) --exec sh tests/t_hostcached.sh
