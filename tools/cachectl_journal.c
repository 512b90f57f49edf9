/*
 * cachectl_journal.c - journal: the changes a segment's journal holds, as
 * a sidecar that carries them to other hosts reads them (hc_journal_read),
 * one line each, oldest first; --follow keeps reading.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "cachectl.h"

static const char *kind_name(unsigned kind)
{
	switch (kind) {
	case HC_JOURNAL_KEY: return "key";
	case HC_JOURNAL_PREFIX: return "prefix";
	case HC_JOURNAL_TAG: return "tag";
	case HC_JOURNAL_FLUSH: return "flush";
	default: return "?";
	}
}

static void print_entry(const hc_journal_entry *e, bool json)
{
	if (json) {
		printf("{\"seq\":%" PRIu64 ",\"kind\":\"%s\",\"origin\":%" PRIu32
		       ",\"stamp_us\":%" PRIu64 ",\"whole\":%s,\"data\":", e->seq,
		       kind_name(e->kind), e->origin, e->stamp_us,
		       e->whole ? "true" : "false");
		json_bytes(stdout, e->data, e->len);
		fputs("}\n", stdout);
		return;
	}
	char *data = escape_alloc(e->data, e->len);

	printf("%" PRIu64 " %s origin %" PRIu32 " %s%s\n", e->seq,
	       kind_name(e->kind), e->origin, data != NULL ? data : "?",
	       e->whole ? "" : "...");
	free(data);
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int show_journal(const struct args *a, hc_cache *c)
{
	static hc_journal_entry e[64];
	hc_journal_cursor cur = { 0 };
	bool follow = option_given(a, "follow"), json = option_given(a, "json");
	struct timespec nap = { 0, 100 * 1000000L };
	uint64_t lost = 0;
	long n;

	if (follow) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
	}
	while (!stop) {
		while ((n = hc_journal_read(c, &cur, e, 64)) > 0)
			for (long i = 0; i < n; i++)
				print_entry(&e[i], json);
		if (n < 0)
			return fail_hc(a, (int)n);
		if (cur.lost > lost) {
			fprintf(stderr, "cachectl: journal: %" PRIu64 " entries lost "
			        "(overwritten before they were read, or left half "
			        "written by a killed process)\n", cur.lost - lost);
			lost = cur.lost;
		}
		fflush(stdout);
		if (!follow)
			break;
		nanosleep(&nap, NULL);
	}
	return STATUS_OK;
}

int cmd_journal(const struct args *a)
{
	return with_segment_observing(a, show_journal);
}
