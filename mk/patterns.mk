# patterns.mk - the caching-pattern examples (examples/patterns/): each
# pattern a C program in front of a SQLite database, linked with the
# static library and the examples' shared harness (harness.c).  Built by
# `make examples` (and so by `make` and `make check`); run and checked by
# tests/t_patterns.sh.

PATTERN_SRC := $(filter-out examples/patterns/c/harness.c, \
                 $(wildcard examples/patterns/c/*.c))
PATTERN_BIN := $(PATTERN_SRC:examples/patterns/c/%.c=$(BUILD)/examples/patterns/%)
PATTERN_HARNESS := $(BUILD)/examples/patterns/harness.o

examples: $(PATTERN_BIN)

$(PATTERN_HARNESS): examples/patterns/c/harness.c examples/patterns/c/harness.h \
                    include/hostcache.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/examples/patterns/%: examples/patterns/c/%.c \
                              examples/patterns/c/harness.h $(PATTERN_HARNESS) \
                              $(BUILD)/libhostcache.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(PATTERN_HARNESS) $(BUILD)/libhostcache.a \
	  -lsqlite3 $(LDLIBS)
