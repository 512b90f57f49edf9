# cachectl is several files: tools/cachectl.c (main, the command table) and
# tools/cachectl_*.c (one concern each, in the layers tools/cachectl.h
# shows).  The rule in the Makefile compiles tools/cachectl.c and links what
# LDLIBS names, so the other files are compiled here and put in front of the
# link through a target-specific LDLIBS (with the library again after them,
# as they call it).

CACHECTL_PARTS := $(wildcard tools/cachectl_*.c)
CACHECTL_OBJ := $(CACHECTL_PARTS:tools/%.c=$(BUILD)/tools/%.o) \
                $(BUILD)/tools/stat_fields.o

$(BUILD)/tools/cachectl_%.o: tools/cachectl_%.c tools/*.h include/hostcache.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The list of the segment's fields, shared with hostcached's /metrics.
$(BUILD)/tools/stat_fields.o: tools/stat_fields.c tools/stat_fields.h \
    include/hostcache.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/cachectl: $(CACHECTL_OBJ) tools/*.h
$(BUILD)/cachectl: LDLIBS := $(CACHECTL_OBJ) $(BUILD)/libhostcache.a $(LDLIBS)
