/*
 * cachectl_check.c - check [--repair]: is the segment sound?
 *
 * hc_check() walks every block, index entry and process slot while other
 * processes keep working, and reports each finding as one line.  check
 * prints them and a summary, and fails (exit status 3) when there is any.
 *
 * --repair then runs the check with repair on (dead processes reaped,
 * blocks no process owns settled, malformed index entries cleared; never a
 * well-formed live item), and checks again without repair: what that last
 * pass finds ("left: ...") is what repair could not fix, and decides the
 * exit status.  So "check --repair" succeeding means a plain check would
 * now pass.
 *
 * check attaches as an observer (HC_OPEN_NO_REAP), so the slots of dead
 * processes and what they hold are still there to be reported; --repair
 * reaps them.  A damaged header with an intact backup copy is refused on
 * attach; --repair restores it (HC_OPEN_REPAIR) before it checks.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cachectl.h"

/* JSON output keeps at most this many findings per pass; a badly broken
 * segment can have one per index slot. */
#define KEPT_PROBLEMS_MAX 10000

struct findings {
	bool json;
	const char *label;  /* "problem", or "left" after a repair */
	char **kept;        /* JSON: the lines */
	size_t count, cap;
	uint64_t omitted;
};

static void keep_finding(struct findings *f, const char *problem)
{
	char *copy;

	if (f->count == KEPT_PROBLEMS_MAX) {
		f->omitted++;
		return;
	}
	if (f->count == f->cap) {
		size_t cap = f->cap == 0 ? 64 : f->cap * 2;
		char **bigger = realloc(f->kept, cap * sizeof(*bigger));

		if (bigger == NULL) {
			f->omitted++;
			return;
		}
		f->kept = bigger;
		f->cap = cap;
	}
	if ((copy = escape_alloc(problem, strlen(problem))) == NULL) {
		f->omitted++;
		return;
	}
	f->kept[f->count++] = copy;
}

static void on_finding(void *arg, const char *problem)
{
	struct findings *f = arg;
	char *text;

	if (f->json) {
		keep_finding(f, problem);
		return;
	}
	/* The library's lines are plain ASCII; escaped all the same, so
	 * that one finding stays one line whatever it says. */
	text = escape_alloc(problem, strlen(problem));
	printf("%s: %s\n", f->label, text != NULL ? text : problem);
	free(text);
}

static void free_findings(struct findings *f)
{
	for (size_t i = 0; i < f->count; i++)
		free(f->kept[i]);
	free(f->kept);
}

static void print_summary(const hc_check_result *r)
{
	printf("summary: items %" PRIu64 ", bytes live %" PRIu64 ", bytes dead "
	       "%" PRIu64 ", stale index entries %" PRIu64 ", dead processes "
	       "%" PRIu64 ", blocks held by dead processes %" PRIu64 "; blocks "
	       "free %" PRIu64 ", open %" PRIu64 ", sealed %" PRIu64 ", evicting "
	       "%" PRIu64 "; problems %" PRIu64 "\n",
	       r->items, r->bytes_live, r->bytes_dead, r->stale_slots,
	       r->dead_procs, r->dead_blocks,
	       r->blocks[HC_CHECK_BLOCK_FREE], r->blocks[HC_CHECK_BLOCK_OPEN],
	       r->blocks[HC_CHECK_BLOCK_SEALED],
	       r->blocks[HC_CHECK_BLOCK_EVICTING], r->problems);
}

static void print_findings_json(const char *key, const struct findings *f)
{
	printf("\"%s\":[", key);
	for (size_t i = 0; i < f->count; i++) {
		if (i > 0)
			putchar(',');
		json_string(stdout, f->kept[i]);
	}
	printf("],\"%s_omitted\":%" PRIu64, key, f->omitted);
}

static void print_json(const struct findings *found, uint64_t repaired,
                       bool repair, const hc_check_result *r,
                       const struct findings *left)
{
	putchar('{');
	print_findings_json("problems", found);
	if (repair) {
		printf(",\"repaired\":%" PRIu64 ",", repaired);
		print_findings_json("left", left);
	}
	printf(",\"items\":%" PRIu64 ",\"bytes_live\":%" PRIu64
	       ",\"bytes_dead\":%" PRIu64 ",\"stale_slots\":%" PRIu64
	       ",\"dead_procs\":%" PRIu64 ",\"dead_blocks\":%" PRIu64
	       ",\"blocks_free\":%" PRIu64 ",\"blocks_open\":%" PRIu64
	       ",\"blocks_sealed\":%" PRIu64 ",\"blocks_evicting\":%" PRIu64
	       ",\"problem_count\":%" PRIu64 ",\"clean\":%s}\n",
	       r->items, r->bytes_live, r->bytes_dead, r->stale_slots,
	       r->dead_procs, r->dead_blocks, r->blocks[HC_CHECK_BLOCK_FREE],
	       r->blocks[HC_CHECK_BLOCK_OPEN], r->blocks[HC_CHECK_BLOCK_SEALED],
	       r->blocks[HC_CHECK_BLOCK_EVICTING], r->problems,
	       r->problems == 0 ? "true" : "false");
}

/* One pass; its findings are printed (or kept) under F's label. */
static int check_pass(const struct args *a, hc_cache *c, int repair,
                      struct findings *f, hc_check_result *r)
{
	int rc = hc_check(c, repair, f != NULL ? on_finding : NULL, f, r);

	return rc < 0 ? fail_hc(a, rc) : STATUS_OK;
}

/*
 * Without --repair: one read-only pass.  With it, three: a read-only pass
 * that lists what is wrong, the repair pass (the library settles what it
 * can before it looks, so it would not list what it fixed), and a
 * read-only pass that lists what is left and decides the exit status.
 */
static int run_check(const struct args *a, hc_cache *c)
{
	bool json = option_given(a, "json");
	bool repair = option_given(a, "repair");
	struct findings found = {json, "problem", NULL, 0, 0, 0};
	struct findings left = {json, "left", NULL, 0, 0, 0};
	hc_check_result first, repaired, r;
	char quoted[QUOTED_CAP];
	int status = check_pass(a, c, 0, &found, &first);

	r = first;
	if (status == STATUS_OK && repair) {
		if ((status = check_pass(a, c, 1, NULL, &repaired)) == STATUS_OK &&
		    !json)
			printf("repair: %" PRIu64 " repaired\n", repaired.repaired);
		if (status == STATUS_OK)
			status = check_pass(a, c, 0, &left, &r);
	}
	if (status != STATUS_OK)
		goto out;
	if (json)
		print_json(&found, repair ? repaired.repaired : 0, repair, &r,
		           &left);
	else
		print_summary(&r);
	if (r.problems > 0 && repair)
		status = fail_msg(a, "%" PRIu64 " problem%s left that repair "
		                  "cannot fix", r.problems,
		                  r.problems == 1 ? "" : "s");
	else if (r.problems > 0)
		status = fail_msg(a, "%" PRIu64 " problem%s found; repair with: "
		                  "cachectl check --repair %s", r.problems,
		                  r.problems == 1 ? "" : "s",
		                  quote(a->positional[0], quoted));
out:
	free_findings(&found);
	free_findings(&left);
	return status;
}

/*
 * With --repair, a segment whose header is damaged but whose backup copy
 * of it is intact is attached with HC_OPEN_REPAIR, which restores the
 * header; that finding and its repair are said first.  Without --repair,
 * or with no intact copy, the attach fails with the library's message.
 */
int cmd_check(const struct args *a)
{
	hc_cache *c;
	int err = hc_open_ex(a->positional[0], HC_OPEN_NO_REAP, &c);

	if (err == HC_ECORRUPT && option_given(a, "repair") &&
	    strstr(hc_last_error(), "backup copy is intact") != NULL) {
		if (!option_given(a, "json"))
			printf("problem: %s\n", hc_last_error());
		err = hc_open_ex(a->positional[0],
		                 HC_OPEN_NO_REAP | HC_OPEN_REPAIR, &c);
		if (err == 0 && !option_given(a, "json"))
			printf("repair: the header was restored from its backup "
			       "copy\n");
	}
	if (err != 0)
		return fail_hc(a, err);
	return close_segment(a, c, run_check(a, c));
}
