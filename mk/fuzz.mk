# make fuzz SECONDS=N - run each libFuzzer fuzzer for N seconds (default 60):
#   fuzz_diff     API calls on a real segment against a model (fuzz/fuzz_diff.c)
#   fuzz_segment  a filled segment with bytes mutated, then operations,
#                 check and walk: clean errors or misses only (fuzz/fuzz_segment.c)
# Built with clang -fsanitize=fuzzer,address,undefined into build/fuzz/
# (the library too, instrumented).  New inputs go to build/fuzz/corpus/NAME,
# seeded from fuzz/corpus/NAME (kept in the repository, small; make
# fuzz-merge adds what reaches new code).  A crash, a sanitizer
# report or a timeout (-timeout, a hang) fails the run and leaves its input
# in build/fuzz/artifacts/.  FUZZ_FLAGS passes more libFuzzer options.
# Repeat a finding: build/fuzz/fuzz_NAME build/fuzz/artifacts/FILE

FUZZ_CC     ?= clang
FUZZ_BUILD  ?= build/fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra \
               -Wno-unused-parameter -Iinclude -Ilib -D_GNU_SOURCE
FUZZ_FLAGS  ?=
FUZZERS     := diff segment
FUZZ_LIB_OBJ := $(LIB_SRC:lib/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN    := $(FUZZERS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-bin fuzz-merge
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_BUILD)/obj/%.o: lib/%.c lib/*.h include/hostcache.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/*.h $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) \
	  -o $@ -lxxhash -lpthread -lrt -lm

fuzz-bin: deps
	$(MAKE) deps DEPS="$(DEPS_TSAN)"
	$(MAKE) $(FUZZ_BIN)

fuzz: fuzz-bin
	@set -e; for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$f $(FUZZ_BUILD)/artifacts; \
	  echo "== fuzz_$$f for $(if $(SECONDS),$(SECONDS),60) s"; \
	  $(FUZZ_BUILD)/fuzz_$$f -max_total_time=$(if $(SECONDS),$(SECONDS),60) \
	    -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$f- $(FUZZ_FLAGS) \
	    $(FUZZ_BUILD)/corpus/$$f fuzz/corpus/$$f; \
	done

# Add to the kept corpora the inputs of the working corpora that reach code
# they do not (edges only, -use_counters=0, so the kept set stays small).
fuzz-merge: fuzz-bin
	@set -e; for f in $(FUZZERS); do \
	  $(FUZZ_BUILD)/fuzz_$$f -merge=1 -use_counters=0 -max_len=4096 \
	    fuzz/corpus/$$f $(FUZZ_BUILD)/corpus/$$f; \
	done
