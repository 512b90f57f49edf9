# make coverage - line and branch coverage of lib/ by make check's tests.
# Builds everything with gcc --coverage into build/cov (objects never mix
# with the plain build; counters updated atomically, since tests run
# threads and processes at once), runs make check there, and prints gcovr's table
# and summary for lib/ (Debian's gcovr, installed by make deps); the full
# report is left in build/cov/coverage.txt and coverage-branches.txt.

COV_BUILD ?= build/cov
GCOVR_FLAGS := --root . --filter 'lib/' --exclude-unreachable-branches

.PHONY: coverage
coverage: deps
	$(MAKE) deps DEPS=gcovr
	@if [ -d $(COV_BUILD) ]; then find $(COV_BUILD) -name '*.gcda' -delete; fi
	$(MAKE) BUILD=$(COV_BUILD) OPT="-O0 -g" SAN="--coverage -fprofile-update=atomic" all
	@# Tests that run a program as another user (nobody) must be able to
	@# record its counts too, and gcov must not print into their stderr.
	chmod -R a+rwX $(COV_BUILD)
	umask 000 && GCOV_ERROR_FILE=/dev/null \
	  $(MAKE) BUILD=$(COV_BUILD) OPT="-O0 -g" SAN="--coverage -fprofile-update=atomic" check
	gcovr $(GCOVR_FLAGS) --branches --output $(COV_BUILD)/coverage-branches.txt \
	  $(COV_BUILD)/obj
	gcovr $(GCOVR_FLAGS) --output $(COV_BUILD)/coverage.txt $(COV_BUILD)/obj
	@cat $(COV_BUILD)/coverage.txt
	@echo "lib/ coverage by make check (build/cov):"
	@gcovr $(GCOVR_FLAGS) --branches --print-summary $(COV_BUILD)/obj \
	  | grep -E '^(lines|branches):'
