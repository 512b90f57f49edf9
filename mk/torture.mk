# make torture SECONDS=N - the long form of the SIGKILL test (tests/torture.c):
# N seconds of h_worker processes killed and restarted at random moments on
# tiny segments, with checks all along.  TORTURE_WORKERS (default 4) runs
# that many at a time; TORTURE_FLAGS passes more options (--seed X to
# repeat a run, --round S, --check-every S, --config I for one kind of round).  Segments of rounds with
# findings are kept in $(BUILD)/torture/.

TORTURE_WORKERS ?= 4
TORTURE_FLAGS ?=

.PHONY: torture
torture: deps
	$(MAKE) $(BUILD)/tests/torture $(BUILD)/tests/h_worker
	$(BUILD)/tests/torture --seconds $(if $(SECONDS),$(SECONDS),60) \
	  --workers $(TORTURE_WORKERS) --keep $(BUILD)/torture $(TORTURE_FLAGS)
