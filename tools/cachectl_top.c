/*
 * cachectl_top.c - top: what the cache is doing now.
 *
 * Rates come from two samples of the cumulative counters (they never go
 * backwards: DESIGN.md, "Statistics"), divided by the time measured
 * between the samples, not the time asked for.
 *
 * Two faces:
 *  - on a terminal, a screen redrawn in place (the alternate screen, as top
 *    does, so the shell's scrollback stays clean): totals, then one row per
 *    attached process, busiest first.  The terminal is put in
 *    non-canonical, no-echo mode so that a single 'q' quits; every way out
 *    (q, --iterations, SIGINT/SIGTERM/SIGHUP, an error) goes through one
 *    exit path that restores it.  Ctrl-Z restores it before stopping and
 *    takes it again on resume.
 *  - otherwise (a pipe, a file, or --json): one line per interval, flushed
 *    at once, for scripts and tests.
 *
 * top stays attached while it runs, so it holds one process slot (it shows
 * itself as "cachectl" in ps).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cachectl.h"

#define INTERVAL_MS_DEFAULT 1000
#define INTERVAL_MS_MAX (24u * 3600 * 1000)

struct sample {
	uint64_t when_ns;         /* CLOCK_MONOTONIC */
	hc_stats stats;
	hc_latency latency;
	hc_proc_info *procs;      /* malloc'd */
	unsigned nprocs;
};

/* Rates between two samples. */
struct rates {
	double seconds;
	double gets, hits, sets, deletes, evictions, expirations, chances;
	bool has_gets;            /* any gets in the interval: a hit ratio */
	/* Latency quantiles of the operations timed in the interval, ns
	 * (0: none timed): get then set, p50, p99, p999. */
	uint64_t latency[2][3];
};

struct top {
	const struct args *a;
	hc_cache *c;
	hc_info info;
	uint64_t interval_ms;
	uint64_t iterations;      /* 0: until stopped */
	bool json;
	bool screen;              /* redraw in place on a terminal */
	bool keyboard;            /* stdin is the terminal: 'q' quits */
	bool header_printed;
};

/* ------------------------------------------------------------------ */
/* Terminal and signals                                                */

static volatile sig_atomic_t stop_requested;
static struct termios saved_termios;
static volatile sig_atomic_t terminal_raw;   /* saved_termios is to restore */
static volatile sig_atomic_t screen_active;  /* alternate screen entered */

#define SCREEN_ENTER "\033[?1049h\033[?25l"  /* alternate screen, no cursor */
#define SCREEN_LEAVE "\033[?25h\033[?1049l"

/* Async-signal-safe: write(2) and tcsetattr(3) only. */
static void terminal_restore(void)
{
	if (screen_active)
		(void)!write(STDOUT_FILENO, SCREEN_LEAVE, sizeof(SCREEN_LEAVE) - 1);
	if (terminal_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
}

static void terminal_take(void)
{
	struct termios raw = saved_termios;

	if (terminal_raw) {
		/* One key at a time, not echoed; signals still work. */
		raw.c_lflag &= (tcflag_t)~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	if (screen_active)
		(void)!write(STDOUT_FILENO, SCREEN_ENTER, sizeof(SCREEN_ENTER) - 1);
}

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Ctrl-Z: give the shell its terminal back, stop, and take it again when
 * continued (the stop happens inside raise()). */
static void on_suspend(int sig)
{
	int saved_errno = errno;

	terminal_restore();
	signal(sig, SIG_DFL);
	raise(sig);
	signal(sig, on_suspend);
	terminal_take();
	errno = saved_errno;
}

static void install_signals(bool screen)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll() returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (screen) {
		sa.sa_handler = on_suspend;
		sigaction(SIGTSTP, &sa, NULL);
	}
}

static void terminal_open(struct top *t)
{
	if (t->keyboard && tcgetattr(STDIN_FILENO, &saved_termios) == 0)
		terminal_raw = 1;
	screen_active = 1;
	terminal_take();
}

static unsigned terminal_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 24;
}

/* ------------------------------------------------------------------ */
/* Samples and rates                                                   */

static int take_sample(struct top *t, struct sample *s)
{
	int err;

	s->procs = NULL;
	s->when_ns = monotonic_ns();
	if ((err = hc_stats_get(t->c, &s->stats)) != 0 ||
	    (err = hc_latency_get(t->c, &s->latency)) != 0)
		return err;
	if (t->screen && (err = fetch_procs(t->c, &s->procs, &s->nprocs)) != 0)
		return err;
	return 0;
}

static double per_second(uint64_t now, uint64_t before, double seconds)
{
	return now >= before ? (double)(now - before) / seconds : 0.0;
}

/* The quantiles of what was timed between two readings. */
static void latency_between(const uint64_t *before, const uint64_t *now,
                            uint64_t *q)
{
	static const double at[3] = {0.5, 0.99, 0.999};
	uint64_t d[HC_LATENCY_BUCKETS];

	for (unsigned i = 0; i < HC_LATENCY_BUCKETS; i++)
		d[i] = now[i] >= before[i] ? now[i] - before[i] : 0;
	for (int k = 0; k < 3; k++)
		q[k] = hc_latency_quantile(d, at[k]);
}

static void rates_between(const hc_stats *b, const hc_stats *n,
                          double seconds, struct rates *r)
{
	r->seconds = seconds;
	r->gets = per_second(n->gets, b->gets, seconds);
	r->hits = per_second(n->hits, b->hits, seconds);
	r->sets = per_second(n->sets, b->sets, seconds);
	r->deletes = per_second(n->deletes, b->deletes, seconds);
	r->evictions = per_second(n->evictions, b->evictions, seconds);
	r->expirations = per_second(n->expirations, b->expirations, seconds);
	r->chances = per_second(n->second_chances, b->second_chances, seconds);
	r->has_gets = n->gets > b->gets;
}

static double seconds_between(const struct sample *before,
                              const struct sample *now)
{
	uint64_t ns = now->when_ns - before->when_ns;

	return ns > 0 ? (double)ns / 1e9 : 1e-9;
}

static void format_ratio(const struct rates *r, char *buf, size_t cap)
{
	if (r->has_gets)
		snprintf(buf, cap, "%.1f%%", 100.0 * r->hits / r->gets);
	else
		snprintf(buf, cap, "-");
}

/* ------------------------------------------------------------------ */
/* One line per interval                                               */

/* A latency for a table: "-" when nothing was timed. */
static void format_latency(uint64_t ns, char *buf, size_t cap)
{
	if (ns == 0)
		snprintf(buf, cap, "-");
	else if (ns < 10000)
		snprintf(buf, cap, "%" PRIu64 "ns", ns);
	else if (ns < 10000000)
		snprintf(buf, cap, "%.1fus", (double)ns / 1e3);
	else
		snprintf(buf, cap, "%.1fms", (double)ns / 1e6);
}

static void print_line(struct top *t, const struct sample *now,
                       const struct rates *r)
{
	const hc_stats *s = &now->stats;
	char clock[16], ratio[16], live[24], dead[24];

	format_local_time(realtime_ns(), "%H:%M:%S", clock, sizeof(clock));
	format_ratio(r, ratio, sizeof(ratio));
	format_bytes_short(s->bytes_live, live, sizeof(live));
	format_bytes_short(s->bytes_dead, dead, sizeof(dead));
	if (!t->header_printed) {
		printf("%-8s  %10s  %6s  %10s  %11s  %10s  %10s  %10s  %5s  %9s  "
		       "%9s\n", "TIME", "GETS/S", "HIT%", "SETS/S", "EVICTIONS/S",
		       "ITEMS", "LIVE", "DEAD", "PROCS", "GET-P99", "SET-P99");
		t->header_printed = true;
	}
	char get99[24], set99[24];

	format_latency(r->latency[0][1], get99, sizeof(get99));
	format_latency(r->latency[1][1], set99, sizeof(set99));
	printf("%-8s  %10.0f  %6s  %10.0f  %11.0f  %10" PRIu64 "  %10s  %10s  "
	       "%5" PRIu32 "  %9s  %9s\n", clock, r->gets, ratio, r->sets,
	       r->evictions, s->items, live, dead, s->procs_attached, get99,
	       set99);
}

static void print_json_line(const struct sample *now, const struct rates *r)
{
	const hc_stats *s = &now->stats;

	printf("{\"time_ns\":%" PRIu64 ",\"seconds\":%.3f,\"gets_per_s\":%.1f,"
	       "\"hits_per_s\":%.1f,\"hit_ratio\":", realtime_ns(), r->seconds,
	       r->gets, r->hits);
	if (r->has_gets)
		printf("%.6f", r->hits / r->gets);
	else
		fputs("null", stdout);
	printf(",\"sets_per_s\":%.1f,\"deletes_per_s\":%.1f,"
	       "\"evictions_per_s\":%.1f,\"expirations_per_s\":%.1f,"
	       "\"second_chances_per_s\":%.1f,\"items\":%" PRIu64
	       ",\"bytes_live\":%" PRIu64 ",\"bytes_dead\":%" PRIu64
	       ",\"procs_attached\":%" PRIu32, r->sets, r->deletes,
	       r->evictions, r->expirations, r->chances, s->items,
	       s->bytes_live, s->bytes_dead, s->procs_attached);
	/* Quantiles of what was timed in the interval; 0: nothing was. */
	printf(",\"get_p50_ns\":%" PRIu64 ",\"get_p99_ns\":%" PRIu64
	       ",\"get_p999_ns\":%" PRIu64 ",\"set_p50_ns\":%" PRIu64
	       ",\"set_p99_ns\":%" PRIu64 ",\"set_p999_ns\":%" PRIu64 "}\n",
	       r->latency[0][0], r->latency[0][1], r->latency[0][2],
	       r->latency[1][0], r->latency[1][1], r->latency[1][2]);
}

/* ------------------------------------------------------------------ */
/* The screen                                                          */

struct proc_rate {
	const hc_proc_info *p;
	struct rates r;
};

/* The same attachment in the earlier sample, if it was there. */
static const hc_proc_info *find_proc(const struct sample *s,
                                     const hc_proc_info *p)
{
	for (unsigned i = 0; i < s->nprocs; i++)
		if (s->procs[i].slot == p->slot &&
		    s->procs[i].attached_ns == p->attached_ns)
			return &s->procs[i];
	return NULL;
}

static int busiest_first(const void *pa, const void *pb)
{
	const struct proc_rate *a = pa, *b = pb;
	double ta = a->r.gets + a->r.sets, tb = b->r.gets + b->r.sets;

	if (ta != tb)
		return ta < tb ? 1 : -1;
	return a->p->slot < b->p->slot ? -1 : a->p->slot > b->p->slot;
}

static void print_totals(FILE *f, const struct rates *r)
{
	static const char *const headers[] = {
		"", "GETS/S", "HIT%", "SETS/S", "DELETES/S", "EVICTIONS/S",
		"EXPIRED/S", "2ND CHANCES/S"};
	static const bool right[] = {false, true, true, true, true, true, true,
	                             true};
	struct table *table = table_new(8, headers, right);
	char cell[7][24];
	const char *cells[8] = {"total", cell[0], cell[1], cell[2], cell[3],
	                        cell[4], cell[5], cell[6]};

	if (table == NULL)
		return;
	snprintf(cell[0], 24, "%.0f", r->gets);
	format_ratio(r, cell[1], 24);
	snprintf(cell[2], 24, "%.0f", r->sets);
	snprintf(cell[3], 24, "%.0f", r->deletes);
	snprintf(cell[4], 24, "%.0f", r->evictions);
	snprintf(cell[5], 24, "%.0f", r->expirations);
	snprintf(cell[6], 24, "%.0f", r->chances);
	if (table_add(table, cells))
		table_print(table, f);
	table_free(table);
}

static void print_proc_rows(FILE *f, struct proc_rate *rows, unsigned n,
                            unsigned max_rows)
{
	static const char *const headers[] = {
		"SLOT", "PID", "COMMAND", "STATE", "GETS/S", "HIT%", "SETS/S",
		"DELETES/S", "EVICTIONS/S"};
	static const bool right[] = {true, true, false, false, true, true,
	                             true, true, true};
	struct table *table = table_new(9, headers, right);

	if (table == NULL)
		return;
	qsort(rows, n, sizeof(*rows), busiest_first);
	for (unsigned i = 0; i < n && i < max_rows; i++) {
		char cell[8][40];
		const char *cells[9] = {cell[0], cell[1], cell[2],
		                        proc_state_name(rows[i].p), cell[3],
		                        cell[4], cell[5], cell[6], cell[7]};
		char *command = escape_alloc(rows[i].p->comm,
		                             strlen(rows[i].p->comm));

		snprintf(cell[0], 40, "%" PRIu32, rows[i].p->slot);
		snprintf(cell[1], 40, "%" PRIu32, rows[i].p->pid);
		snprintf(cell[2], 40, "%s", command != NULL ? command : "?");
		free(command);
		snprintf(cell[3], 40, "%.0f", rows[i].r.gets);
		format_ratio(&rows[i].r, cell[4], 40);
		snprintf(cell[5], 40, "%.0f", rows[i].r.sets);
		snprintf(cell[6], 40, "%.0f", rows[i].r.deletes);
		snprintf(cell[7], 40, "%.0f", rows[i].r.evictions);
		if (!table_add(table, cells))
			break;
	}
	table_print(table, f);
	if (n > max_rows)
		fprintf(f, "(%u more)\n", n - max_rows);
	table_free(table);
}

static void print_procs_section(FILE *f, const struct sample *before,
                                const struct sample *now, unsigned max_rows)
{
	static const hc_stats zero;
	struct proc_rate *rows = calloc(now->nprocs + 1, sizeof(*rows));
	unsigned n = 0;

	if (rows == NULL)
		return;
	for (unsigned i = 0; i < now->nprocs; i++) {
		const hc_proc_info *p = &now->procs[i];
		const hc_proc_info *old;

		if (!p->attached)
			continue;
		old = find_proc(before, p);
		rows[n].p = p;
		/* New since the last sample: its counters started at zero. */
		rates_between(old != NULL ? &old->own : &zero, &p->own,
		              seconds_between(before, now), &rows[n].r);
		n++;
	}
	print_proc_rows(f, rows, n, max_rows);
	free(rows);
}

static void print_screen_header(FILE *f, const struct top *t,
                                const struct sample *now)
{
	const hc_stats *s = &now->stats;
	char clock[16], live[24], dead[24], limit[24];

	format_local_time(realtime_ns(), "%H:%M:%S", clock, sizeof(clock));
	format_bytes_short(s->bytes_live, live, sizeof(live));
	format_bytes_short(s->bytes_dead, dead, sizeof(dead));
	format_bytes_short(s->bytes_limit, limit, sizeof(limit));
	fprintf(f, "hostcache top - %s - %s - every %.3gs%s\n", t->info.name,
	        clock, (double)t->interval_ms / 1000.0,
	        t->keyboard ? " - q quits" : "");
	fprintf(f, "processes %" PRIu32 " of %" PRIu32 "   items %" PRIu64
	        "   memory %s live + %s dead of %s (%.1f%% used)\n",
	        s->procs_attached, s->procs_max, s->items, live, dead, limit,
	        s->bytes_limit == 0 ? 0.0 :
	        100.0 * (double)(s->bytes_live + s->bytes_dead) /
	        (double)s->bytes_limit);
	fprintf(f, "blocks %" PRIu64 ": %" PRIu64 " free, %" PRIu64 " open, "
	        "%" PRIu64 " sealed, %" PRIu64 " evicting\n\n", s->blocks_total,
	        s->blocks_free, s->blocks_open, s->blocks_sealed,
	        s->blocks_evicting);
}

static void print_latency_line(FILE *f, const struct rates *r)
{
	char q[2][3][24];

	for (int op = 0; op < 2; op++)
		for (int k = 0; k < 3; k++)
			format_latency(r->latency[op][k], q[op][k], sizeof(q[op][k]));
	fprintf(f, "latency p50/p99/p999: get %s / %s / %s   set %s / %s / %s\n",
	        q[0][0], q[0][1], q[0][2], q[1][0], q[1][1], q[1][2]);
}

/* Draw the frame in memory, then write it at once: no flicker.  Every
 * line is cleared to its end, and the rest of the screen below. */
static void draw_screen(const struct top *t, const struct sample *before,
                        const struct sample *now, const struct rates *r)
{
	unsigned rows = terminal_rows();
	char *frame = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&frame, &size);

	if (f == NULL)
		return;
	print_screen_header(f, t, now);
	print_totals(f, r);
	print_latency_line(f, r);
	putc('\n', f);
	print_procs_section(f, before, now, rows > 10 ? rows - 10 : 1);
	fclose(f);
	fputs("\033[H", stdout);
	for (char *line = frame, *end; line != NULL && *line != '\0';
	     line = end != NULL ? end + 1 : NULL) {
		end = strchr(line, '\n');
		fwrite(line, 1, end != NULL ? (size_t)(end - line) : strlen(line),
		       stdout);
		fputs(end != NULL ? "\033[K\n" : "\033[K", stdout);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	free(frame);
}

/* ------------------------------------------------------------------ */
/* Waiting                                                             */

/* Read what was typed; true when it asks to quit. */
static bool quit_typed(void)
{
	char keys[32];
	ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));

	for (ssize_t i = 0; i < n; i++)
		if (keys[i] == 'q' || keys[i] == 'Q')
			return true;
	return false;
}

/* Wait until DEADLINE (CLOCK_MONOTONIC ns), watching the keyboard when
 * there is one.  False when asked to stop. */
static bool wait_until(const struct top *t, uint64_t deadline)
{
	for (;;) {
		uint64_t now = monotonic_ns();
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		int timeout_ms;

		if (stop_requested)
			return false;
		if (now >= deadline)
			return true;
		timeout_ms = (int)((deadline - now + 999999) / 1000000);
		if (poll(&pfd, t->keyboard ? 1 : 0, timeout_ms) > 0 &&
		    (pfd.revents & POLLIN) && quit_typed())
			return false;
	}
}

/* ------------------------------------------------------------------ */
/* top                                                                 */

static int show(struct top *t, const struct sample *before,
                const struct sample *now)
{
	struct rates r;

	rates_between(&before->stats, &now->stats,
	              seconds_between(before, now), &r);
	latency_between(before->latency.get, now->latency.get, r.latency[0]);
	latency_between(before->latency.set, now->latency.set, r.latency[1]);
	if (t->screen) {
		draw_screen(t, before, now, &r);
		return STATUS_OK;
	}
	if (t->json)
		print_json_line(now, &r);
	else
		print_line(t, now, &r);
	if (fflush(stdout) != 0)
		return fail_msg(t->a, "writing stdout: %s", strerror(errno));
	return STATUS_OK;
}

static int run_top(struct top *t)
{
	struct sample samples[2];
	uint64_t start, shown = 0;
	int err, status = STATUS_OK;
	int cur = 0;

	if ((err = take_sample(t, &samples[0])) != 0)
		return fail_hc(t->a, err);
	start = samples[0].when_ns;
	while (t->iterations == 0 || shown < t->iterations) {
		uint64_t deadline = start + (shown + 1) * t->interval_ms * 1000000;
		struct sample *before = &samples[cur], *now = &samples[!cur];

		if (!wait_until(t, deadline))
			break;
		if ((err = take_sample(t, now)) != 0) {
			status = fail_hc(t->a, err);
			break;
		}
		status = show(t, before, now);
		free(before->procs);
		before->procs = NULL;
		cur = !cur;
		shown++;
		if (status != STATUS_OK)
			break;
	}
	free(samples[cur].procs);
	return status;
}

static int top_attached(const struct args *a, hc_cache *c, struct top *t)
{
	int err = hc_info_get(c, &t->info);
	int status;

	if (err != 0)
		return fail_hc(a, err);
	t->c = c;
	install_signals(t->screen);
	if (t->screen)
		terminal_open(t);
	status = run_top(t);
	terminal_restore();
	terminal_raw = 0;
	screen_active = 0;
	return status;
}

int cmd_top(const struct args *a)
{
	const char *interval = option_value(a, "interval");
	const char *iterations = option_value(a, "iterations");
	struct top t;
	hc_cache *c;
	int status;

	memset(&t, 0, sizeof(t));
	t.a = a;
	t.interval_ms = INTERVAL_MS_DEFAULT;
	t.json = option_given(a, "json");
	if (interval != NULL && (!parse_ttl_ms(interval, &t.interval_ms) ||
	                         t.interval_ms == 0 ||
	                         t.interval_ms > INTERVAL_MS_MAX))
		return bad_option_value(a->cmd, "interval", interval, "seconds "
		                        "such as 2 or 0.5, at most a day");
	if (iterations != NULL &&
	    (!parse_u64(iterations, &t.iterations) || t.iterations == 0))
		return bad_option_value(a->cmd, "iterations", iterations,
		                        "a positive number");
	t.screen = !t.json && isatty(STDOUT_FILENO);
	t.keyboard = t.screen && isatty(STDIN_FILENO);
	if ((status = open_segment(a, &c)) != STATUS_OK)
		return status;
	return close_segment(a, c, top_attached(a, c, &t));
}
