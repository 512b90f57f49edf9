# prefork.mk - the prefork HTTP server example (examples/prefork/): one
# program in front of a SQLite database, linked with the static library.
# Built by `make examples` (and so by `make` and `make check`); run by
# tests/t_prefork.sh and load-tested by examples/prefork/loadtest.sh.

PREFORK_SRC := $(wildcard examples/prefork/*.c)
PREFORK_BIN := $(BUILD)/examples/prefork/prefork_http

examples: $(PREFORK_BIN)

$(PREFORK_BIN): $(PREFORK_SRC) include/hostcache.h $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PREFORK_SRC) -o $@ $(BUILD)/libhostcache.a \
	  -lsqlite3 $(LDLIBS)
