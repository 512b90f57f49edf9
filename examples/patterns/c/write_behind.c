/*
 * write_behind.c - write-behind: a write is queued in the segment and
 * returns at once; a worker process (the drainer) applies the queue to
 * the database later, in order.  Readers go through the cache, which has
 * the new value at once; the database catches up.
 *
 *     writer:   seq = incr("q:seq"); add("q:<seq>", "id name");
 *               set("user:<id>:name", name)
 *     drainer:  for next = 1, 2, ...: get("q:<next>"), apply it to the
 *               database, incr("q:done"), delete("q:<next>")
 *
 * The queue lives in the segment, not in the writer: a writer killed
 * after enqueueing loses nothing, because its entries are items like any
 * other and the drainer is another process.  hc_incr() gives every entry
 * its own number in one order, so that writes to a key are applied in the
 * order they were made.  A writer that dies between its hc_incr() and its
 * hc_add() leaves a hole: a number taken and no entry.  The drainer, after
 * waiting a while for it, fills the hole itself with hc_add() ("skip").
 * Of the two hc_add()s of one number exactly one succeeds, so an entry is
 * either applied or skipped, never lost once added; a writer that loses
 * (it was only slow) takes a new number.
 *
 * The writer queues first and sets the cache second: the cache never
 * shows a write that is not queued.  Exactly once: there is one drainer,
 * and it applies each number once, in order.  A drainer that may itself
 * die must store its position in the same database transaction as the
 * write it applies, and resume from there.
 *
 * Promises checked: a read through the cache sees a queued write that the
 * database does not have yet; of a writer's 200 writes and those of a
 * writer SIGKILLed while it enqueues, every one reaches the database once
 * and in the writer's order (so in order per key), including those queued
 * before the kill; the hole of a writer killed between its two calls is
 * skipped; the queue is empty afterwards.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define WRITES_A 200     /* writer a: users 1..10, then exits */
#define ACKS_BEFORE_KILL 50 /* writer b: users 11..20, killed after this */
#define HOLE_MS 200      /* how long a taken number may stay without entry */
#define POLL_MS 5        /* the drainer's pause when the queue is empty */
#define TTL_MS 600000    /* cached values: far longer than the queue's lag */

/* What the drainer applied, sent to the parent when it is done. */
struct drained {
	long applied[2];     /* writes of writer a and b */
	long others;         /* other writes */
	long skipped;        /* holes left by a writer that died */
	long disorder;       /* a writer's write out of its order, or twice */
};

static int queue_key(uint64_t seq, char *key, size_t cap)
{
	return snprintf(key, cap, "q:%llu", (unsigned long long)seq);
}

/* A counter's value (0 when absent). */
static uint64_t counter(hc_cache *c, const char *key)
{
	char buf[32];
	size_t len;
	int rc = hc_get(c, key, strlen(key), buf, sizeof buf - 1, &len);

	if (rc == HC_ENOTFOUND)
		return 0;
	hc_must(rc, key);
	buf[len] = '\0';
	return strtoull(buf, NULL, 10);
}

/* The pattern, writer side: queue the write, then show it in the cache. */
static void user_rename(hc_cache *c, long id, const char *name)
{
	char key[32], entry[64];
	int elen = snprintf(entry, sizeof entry, "%ld %s", id, name);
	int klen, rc;
	uint64_t seq;

	do {
		hc_must(hc_incr(c, "q:seq", 5, 1, &seq), "q:seq");
		klen = queue_key(seq, key, sizeof key);
		rc = hc_add(c, key, (size_t)klen, entry, (size_t)elen, 0);
		if (rc != HC_EEXISTS)  /* else the drainer skipped it: again */
			hc_must(rc, key);
	} while (rc != 0);
	klen = snprintf(key, sizeof key, "user:%ld:name", id);
	hc_must(hc_set(c, key, (size_t)klen, name, strlen(name), TTL_MS), key);
}

/* Writer W (0: 'a', users 1..10; 1: 'b', users 11..20): its N-th write
 * names user base + N % 10 "<w><n>", so that the drainer can tell its
 * order.  With an ACK pipe (not -1), a byte to it and a pause of 1 ms
 * after each write. */
static void writer(hc_cache *c, int w, long writes, int ack)
{
	char name[32];

	for (long n = 0; n < writes; n++) {
		snprintf(name, sizeof name, "%c%ld", 'a' + w, n);
		user_rename(c, 1 + 10 * w + n % 10, name);
		if (ack >= 0) {
			if (write(ack, "+", 1) != 1)
				hc_must(HC_ESYS, "ack");
			sleep_ms(1);
		}
	}
}

/* Apply one entry "id name" to the database. */
static void apply(source *db, const char *entry, struct drained *d)
{
	char *end;
	long id = strtol(entry, &end, 10);
	const char *name = end + 1;
	int w = name[0] - 'a';

	source_rename(db, id, name);
	if ((w == 0 || w == 1) && name[1] >= '0' && name[1] <= '9') {
		d->disorder += atol(name + 1) != d->applied[w];
		d->applied[w]++;
	} else {
		d->others++;
	}
}

/* The pattern, drainer side: until "q:stop" is set and the queue is
 * empty. */
static struct drained drain(hc_cache *c)
{
	struct drained d = { { 0, 0 }, 0, 0, 0 };
	source *db = source_open(0);
	uint64_t next = 1;
	long waited = 0;
	char key[32], entry[64];
	size_t len;

	for (;;) {
		int klen = queue_key(next, key, sizeof key);
		int rc = hc_get(c, key, (size_t)klen, entry, sizeof entry - 1,
		                &len);

		if (rc == 0) {
			entry[len] = '\0';
			if (strcmp(entry, "skip") != 0)
				apply(db, entry, &d);
			hc_must(hc_incr(c, "q:done", 6, 1, NULL), "q:done");
			hc_delete(c, key, (size_t)klen);
			next++;
			waited = 0;
			continue;
		}
		if (rc != HC_ENOTFOUND)
			hc_must(rc, key);
		if (counter(c, "q:seq") < next) {  /* empty */
			if (counter(c, "q:stop") != 0)
				break;
			sleep_ms(POLL_MS);
		} else if (waited < HOLE_MS) {  /* taken: the entry is coming */
			sleep_ms(POLL_MS);
			waited += POLL_MS;
		} else {  /* a hole: skip it, unless the entry came meanwhile */
			rc = hc_add(c, key, (size_t)klen, "skip", 4, 0);
			if (rc != HC_EEXISTS)
				hc_must(rc, key);
			d.skipped += rc == 0;  /* then read back as done above */
		}
	}
	source_close(db);
	return d;
}

static long queue_depth(hc_cache *c)
{
	return (long)(counter(c, "q:seq") - counter(c, "q:done"));
}

/* Writer b, killed once it has acknowledged ACKS_BEFORE_KILL writes:
 * returns how many it acknowledged in all. */
static long writer_killed(hc_cache *c)
{
	int ack[2];
	long acks = 0;
	char buf[64];
	ssize_t n;

	if (pipe(ack) != 0)
		hc_must(HC_ESYS, "pipe");
	pid_t pid = fork();

	if (pid == 0) {
		close(ack[0]);
		writer(c, 1, 1L << 30, ack[1]);
		_exit(0);
	}
	close(ack[1]);
	while (acks < ACKS_BEFORE_KILL && (n = read(ack[0], buf, 1)) == 1)
		acks++;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	while ((n = read(ack[0], buf, sizeof buf)) > 0)
		acks += n;
	close(ack[0]);
	return acks;
}

/* A writer killed between its hc_incr() and its hc_add(): a hole. */
static void writer_killed_midway(hc_cache *c)
{
	pid_t pid = fork();

	if (pid == 0) {
		hc_incr(c, "q:seq", 5, 1, NULL);
		raise(SIGKILL);
	}
	waitpid(pid, NULL, 0);
}

static pid_t start_drainer(hc_cache *c, int *report)
{
	int out[2];

	if (pipe(out) != 0)
		hc_must(HC_ESYS, "pipe");
	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0) {
		struct drained d = drain(c);

		close(out[0]);
		hc_close(c);
		_exit(write(out[1], &d, sizeof d) == sizeof d ? 0 : 1);
	}
	close(out[1]);
	*report = out[0];
	return pid;
}

/* Does the database have the last of writer W's APPLIED writes to each of
 * its users? */
static int database_has_last(source *db, int w, long applied)
{
	char got[64], want[32];
	int right = 0;

	for (long n = applied - 10; n < applied; n++) {
		source_user_name(db, 1 + 10 * w + n % 10, got, sizeof got);
		snprintf(want, sizeof want, "%c%ld", 'a' + w, n);
		right += strcmp(got, want) == 0;
	}
	return right == 10;
}

int main(void)
{
	char name[64];
	size_t len;
	struct drained d;
	int report, status;

	source_init();
	hc_cache *c = segment_create("write-behind", NULL);
	source *db = source_open(0);

	hc_must(hc_set(c, "q:seq", 5, "0", 1, 0), "q:seq");
	hc_must(hc_set(c, "q:done", 6, "0", 1, 0), "q:done");

	user_rename(c, 50, "erin");
	hc_must(hc_get(c, "user:50:name", 12, name, sizeof name - 1, &len),
	        "user:50:name");
	name[len] = '\0';
	check(strcmp(name, "erin") == 0, "a read through the cache sees the "
	      "queued write at once (%s)", name);
	source_user_name(db, 50, name, sizeof name);
	check(strcmp(name, "user50") == 0, "the database does not have it "
	      "yet (%s)", name);

	pid_t pid = fork();

	if (pid == 0) {
		writer(c, 0, WRITES_A, -1);
		hc_close(c);
		_exit(0);
	}
	long acks = writer_killed(c);

	writer_killed_midway(c);
	waitpid(pid, &status, 0);
	long before = queue_depth(c);

	printf("queued: 1 write, %d of writer a, %ld acknowledged by writer b "
	       "before SIGKILL, a hole; queue depth %ld\n", WRITES_A, acks,
	       before);
	pid = start_drainer(c, &report);
	hc_must(hc_set(c, "q:stop", 6, "1", 1, 0), "q:stop");
	ssize_t got = read(report, &d, sizeof d);

	waitpid(pid, &status, 0);
	if (got != (ssize_t)sizeof d)
		hc_must(HC_ESYS, "the drainer's report");
	long after = queue_depth(c);

	printf("drained: %ld + %ld + %ld writes applied, holes skipped: %ld; "
	       "queue depth %ld\n", d.applied[0], d.applied[1], d.others,
	       d.skipped, after);
	/* Writer b's kill may have made a second hole. */
	check(d.skipped >= 1 && d.skipped <= 2, "the hole left by a writer "
	      "killed between its two calls was skipped (%ld skipped)",
	      d.skipped);
	check(d.disorder == 0, "every write was applied once, in its writer's "
	      "order (%ld out of order)", d.disorder);
	check(d.applied[0] == WRITES_A && d.others == 1 &&
	      database_has_last(db, 0, d.applied[0]), "the %d writes of the "
	      "writer that exited reached the database", WRITES_A);
	check(d.applied[1] >= acks && d.applied[1] <= acks + 1 &&
	      database_has_last(db, 1, d.applied[1]), "the killed writer's "
	      "queued writes reached the database (%ld, %ld acknowledged)",
	      d.applied[1], acks);
	source_user_name(db, 50, name, sizeof name);
	check(strcmp(name, "erin") == 0, "the database has the first write "
	      "now (%s)", name);
	check(after == 0, "the queue is empty (depth %ld)", after);

	close(report);
	source_close(db);
	hc_close(c);
	return check_status();
}
