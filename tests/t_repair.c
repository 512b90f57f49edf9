/*
 * t_repair - check --repair brings a damaged segment back to a consistent
 * state in one run.
 *
 * Each round fills a fresh segment (items with tags and TTLs, overwrites
 * that leave dead copies and sealed blocks, an invalidation), starts a
 * worker process that keeps setting and getting, and then damages the
 * segment's bytes through its file: a region chosen at random (the
 * process table, the block words, the block accounting, the index, item
 * memory, the invalidation table, the lease table, the header's run-time
 * words, or anywhere), a size from 8 bytes to 64 KiB, and a pattern
 * (random bytes, zeros, ones, flipped bits, or a copy of another part of
 * the segment), one to three times.  The worker goes on for a moment (it must not crash or
 * hang: it is a process like any other), then exits or is SIGKILLed.  A
 * repairing process then runs one hc_check with repair, and a second,
 * read-only check must find nothing; a key set afterwards reads back, and
 * a fresh attach works.  Each round runs in a child under an alarm, so a
 * crash or a hang fails the test instead of stopping it.
 *
 * The repairing process attached before the damage: it rewrites the
 * header's geometry (and its backup copy) from what it verified then.  A
 * process that attaches after the damage is refused, and with
 * HC_OPEN_REPAIR restores the header from its backup copy (tested below).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"
#include "testutil.h"

#define ROUNDS 160
#define NKEYS 600u
#define ROUND_ALARM_S 30

static char name[64];

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void put(hc_cache *c, unsigned i, unsigned round, uint64_t ttl_ms)
{
	char key[32], val[200];
	int kl = snprintf(key, sizeof key, "r:%u", i);
	int vl = snprintf(val, sizeof val, "value %u of round %u", i, round);
	size_t len = (size_t)vl + (i % 5) * 30;
	const char *tags[] = { i % 3 ? "even" : "odd" };

	memset(val + vl, 'x', len - (size_t)vl);
	hc_set_options o = { .ttl_ms = ttl_ms, .tags = tags, .ntags = 1 };

	hc_set_ex(c, key, (size_t)kl, val, len, &o);
}

static void fill(hc_cache *c)
{
	for (unsigned r = 0; r < 4; r++)
		for (unsigned i = 0; i < NKEYS; i++)
			put(c, i, r, i % 7 == 0 ? 50 : 0);
	hc_invalidate_tag(c, "odd");
	for (unsigned i = 0; i < NKEYS; i += 2)
		put(c, i, 9, 0);
}

/* Keep working on the segment until killed or DEADLINE_MS passes. */
static void worker(unsigned deadline_ms)
{
	hc_cache *c;
	struct timespec t0, t;
	char buf[256];
	size_t len;

	if (hc_open(name, &c) != 0)
		_exit(0); /* refused (damage came first): fine */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned n = 0;; n++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "r:%u", n % NKEYS);

		if (n % 3 == 0)
			put(c, n % NKEYS, 20, 0);
		else
			hc_get(c, key, (size_t)kl, buf, sizeof buf, &len);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > deadline_ms)
			break;
	}
	hc_close(c);
	_exit(0);
}

/* Damage the segment's bytes through its file. */
static void damage(hc_cache *c, uint64_t *s, char *what, size_t cap)
{
	/* The geometry as the handle verified it: an earlier damage may
	 * have hit the header. */
	const struct hc_header *h = (const struct hc_header *)c->geom;
	struct { const char *name; uint64_t off, len; } regions[] = {
		{ "process table", h->off_procs, h->off_block_words - h->off_procs },
		{ "block words", h->off_block_words,
		  h->off_block_meta - h->off_block_words },
		{ "block accounting", h->off_block_meta,
		  h->off_index - h->off_block_meta },
		{ "index", h->off_index, h->off_items - h->off_index },
		{ "item memory", h->off_items, h->item_memory },
		{ "invalidation table", h->off_inval, (uint64_t)h->ninval * 8 },
		{ "lease table", h->off_leases, (uint64_t)h->nleases * 64 },
		{ "header geometry words", 0, HC_GEOMETRY_BYTES },
		{ "header run-time words", HC_GEOMETRY_BYTES,
		  sizeof *h - HC_GEOMETRY_BYTES },
		{ "the header's page", 0, HC_PAGE },
		{ "the header's backup", HC_BACKUP_OFF, HC_PAGE },
		{ "anywhere", 0, c->size },
	};
	unsigned nr = sizeof regions / sizeof *regions;
	unsigned r = (unsigned)(rng(s) % nr);
	uint64_t rlen = regions[r].len;
	uint64_t len = 8ull << (rng(s) % 14); /* 8 B .. 64 KiB */

	if (len > rlen)
		len = rlen;
	uint64_t off = regions[r].off + rng(s) % (rlen - len + 1);
	unsigned char *buf = malloc(len);
	const char *pattern;

	char path[128];

	assert_non_null(buf);
	snprintf(path, sizeof path, "/dev/shm%s", name);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	switch (rng(s) % 5) {
	case 0:
		pattern = "random bytes";
		for (uint64_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rng(s);
		break;
	case 1:
		pattern = "zeros";
		memset(buf, 0, len);
		break;
	case 2:
		pattern = "ones";
		memset(buf, 0xff, len);
		break;
	case 3:
		pattern = "flipped bits";
		assert_true(pread(fd, buf, len, (off_t)off) == (ssize_t)len);
		for (uint64_t i = 0, n = 1 + rng(s) % 16; i < n; i++)
			buf[rng(s) % len] ^= (unsigned char)(1u << (rng(s) % 8));
		break;
	default: {
		pattern = "a copy of another part";
		uint64_t from = rng(s) % (c->size - len);

		assert_true(pread(fd, buf, len, (off_t)from) == (ssize_t)len);
		break;
	}
	}
	assert_true(pwrite(fd, buf, len, (off_t)off) == (ssize_t)len);
	close(fd);
	free(buf);
	snprintf(what, cap, "%s: %llu bytes at offset %llu, %s",
	         regions[r].name, (unsigned long long)len,
	         (unsigned long long)off, pattern);
}

static void say(void *arg, const char *msg)
{
	unsigned *n = arg;

	if ((*n)++ < 5)
		printf("#   left: %s\n", msg);
}

/* One round, in a child: 0 clean, 1 problems left, 2 a key set after the
 * repair did not read back, 3 a fresh attach failed. */
static int round_run(unsigned round)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL * (round + 1);
	hc_config cfg;
	hc_cache *c;
	char what[200];
	int st;

	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = 2u << 20;
	cfg.max_procs = 4;
	if (hc_create(name, &cfg, &c) != 0) {
		printf("# round %u: create: %s\n", round, hc_last_error());
		return 4;
	}
	fill(c);
	pid_t w = fork();

	if (w == 0)
		worker(200);
	struct timespec ts = { 0, (long)(rng(&s) % 20) * 1000000L };

	nanosleep(&ts, NULL);
	/* One to three damages; WHAT says the last (and how many). */
	unsigned nd = 1 + (unsigned)(rng(&s) % 3);

	for (unsigned d = 0; d < nd; d++)
		damage(c, &s, what, sizeof what);
	size_t wl = strlen(what);

	snprintf(what + wl, sizeof what - wl, " (damage %u of %u)", nd, nd);
	ts.tv_nsec = (long)(rng(&s) % 30) * 1000000L;
	nanosleep(&ts, NULL);
	if (rng(&s) % 2)
		kill(w, SIGKILL);
	waitpid(w, &st, 0);
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL) {
		printf("# round %u: the worker died of signal %d after %s\n",
		       round, WTERMSIG(st), what);
		return 5;
	}
	/* One repair, then a read-only look. */
	hc_check_result r;
	unsigned shown = 0;

	if (hc_check(c, 1, NULL, NULL, &r) < 0 ||
	    hc_check(c, 0, say, &shown, &r) < 0) {
		printf("# round %u: check after %s: %s\n", round, what,
		       hc_last_error());
		return 4;
	}
	if (r.problems != 0) {
		printf("# round %u: %llu problems left after one repair of %s\n",
		       round, (unsigned long long)r.problems, what);
		return 1;
	}
	char val[64], got[64];
	size_t len;
	int vl = snprintf(val, sizeof val, "after repair %u", round);

	if (hc_set(c, "after", 5, val, (size_t)vl, 0) != 0 ||
	    hc_get(c, "after", 5, got, sizeof got, &len) != 0 ||
	    len != (size_t)vl || memcmp(got, val, len) != 0) {
		printf("# round %u: a key set after repairing %s did not read "
		       "back\n", round, what);
		return 2;
	}
	hc_cache *fresh;

	if (hc_open(name, &fresh) != 0) {
		printf("# round %u: attach after repairing %s: %s\n", round,
		       what, hc_last_error());
		return 3;
	}
	hc_close(fresh);
	test_segment_remove(name, c);
	return 0;
}

static void test_random_damage_repaired_in_one_run(void **state)
{
	unsigned failed = 0, rounds = ROUNDS;
	const char *env = getenv("HC_REPAIR_ROUNDS");

	if (env != NULL && atoi(env) > 0)
		rounds = (unsigned)atoi(env);
	test_segment_name(name, sizeof name, "repair");
	for (unsigned round = 0; round < rounds; round++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(ROUND_ALARM_S);
			int rc = round_run(round);

			fflush(stdout);
			_exit(rc);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (WIFSIGNALED(st)) {
			printf("# round %u: the repairing process died of signal "
			       "%d%s\n", round, WTERMSIG(st),
			       WTERMSIG(st) == SIGALRM ? " (a hang)" : "");
			failed++;
		} else if (WEXITSTATUS(st) != 0) {
			if (WEXITSTATUS(st) == 4)
				printf("# round %u: a call failed: %s\n", round,
				       "see above");
			failed++;
		}
		hc_unlink(name);
	}
	printf("# %u damage patterns; %u left a problem after one repair, "
	       "crashed or hung\n", rounds, failed);
	if (failed != 0)
		fail_msg("%u of %u damaged segments were not repaired in one run",
		         failed, rounds);
}

/* A process that attaches after the header was damaged: refused with a
 * message that names the repair; with HC_OPEN_REPAIR the header comes back
 * from its backup copy and every key is still there.  With the backup
 * damaged too there is no way back, and attach says so. */
static void test_damaged_header_restored_on_attach(void **state)
{
	hc_config cfg;
	hc_cache *c;
	hc_check_result r;
	char path[128], val[16];
	size_t len;
	uint64_t junk[8] = { 0 };

	test_segment_name(name, sizeof name, "header");
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = 2u << 20;
	assert_hc_ok(hc_create(name, &cfg, &c));
	assert_hc_ok(hc_set(c, "kept", 4, "yes", 3, 0));
	hc_close(c);
	snprintf(path, sizeof path, "/dev/shm%s", name);
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	/* The magic, the layout, the size and the limits. */
	assert_true(pwrite(fd, junk, sizeof junk, 0) == sizeof junk);
	assert_hc(hc_open(name, &c), HC_ECORRUPT);
	printf("# %s\n", hc_last_error());
	assert_non_null(strstr(hc_last_error(), "check --repair"));
	assert_hc_ok(hc_open_ex(name, HC_OPEN_REPAIR, &c));
	assert_true(hc_check(c, 0, NULL, NULL, &r) >= 0);
	assert_int_equal(r.problems, 0);
	assert_hc_ok(hc_get(c, "kept", 4, val, sizeof val, &len));
	assert_int_equal(len, 3);
	hc_close(c);
	assert_hc_ok(hc_open(name, &c));
	hc_close(c);

	/* Both copies gone. */
	unsigned char page[HC_PAGE];

	memset(page, 0x5a, sizeof page);
	assert_true(pwrite(fd, page, sizeof page, 0) == sizeof page);
	assert_true(pwrite(fd, page, sizeof page, HC_BACKUP_OFF) == sizeof page);
	close(fd);
	assert_hc(hc_open_ex(name, HC_OPEN_REPAIR, &c), HC_ECORRUPT);
	printf("# %s\n", hc_last_error());
	hc_unlink(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_damage_repaired_in_one_run),
		cmocka_unit_test(test_damaged_header_restored_on_attach),
	};

	return run_tap_group(tests, NULL, NULL);
}
