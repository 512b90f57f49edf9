/*
 * t_security - what a segment exposes, and to whom.
 *
 *  - Default mode 0600 (with no umask to hide other bits), and an explicit
 *    group mode: t_segment.c, test_default_mode_is_0600 and
 *    test_group_mode_0660.  Another user's 0600 segment is refused with
 *    HC_EPERM and left as it was: t_badinput_root.c.
 *  - Creation is exclusive (O_EXCL): a file or a symbolic link planted
 *    under the name beforehand is never opened, followed, truncated or
 *    written; of creators racing for one name exactly one wins.  Here.
 *  - No pointer is ever stored in the segment: after every kind of call,
 *    from two processes, no 8-byte word of the segment holds an address
 *    inside any mapping of either process.  Here.
 *  - A process that scribbles over the segment can make others miss or
 *    read wrong values, never crash, hang or read outside the mapping: the
 *    segment fuzzer, fuzz/fuzz_segment.c (make fuzz), and the replay of its
 *    corpus in t_fuzz_replay_segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"

#define SEG_SIZE ((uint64_t)2 << 20)

struct fixture {
	char name[96];
	char path[128];
	char target[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	test_segment_name(f->name, sizeof f->name, "security");
	snprintf(f->path, sizeof f->path, "/dev/shm%s", f->name);
	snprintf(f->target, sizeof f->target, "/dev/shm%s-target", f->name);
	unlink(f->path);
	unlink(f->target);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	unlink(f->target);
	free(f);
	return 0;
}

static void small_config(hc_config *cfg)
{
	hc_config_init(cfg);
	cfg->size = SEG_SIZE;
	cfg->max_procs = 8;
}

/* ---- O_EXCL ------------------------------------------------------------ */

static void test_planted_file_is_left_alone(void **state)
{
	struct fixture *f = *state;
	static char planted[8192];
	hc_config cfg;
	hc_cache *c = NULL;
	struct stat st;
	static char back[sizeof planted + 1];

	for (size_t i = 0; i < sizeof planted; i++)
		planted[i] = "planted by someone else\n"[i % 24];
	int fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0666);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, planted, sizeof planted), sizeof planted);
	fchmod(fd, 0666);
	close(fd);
	small_config(&cfg);
	assert_hc(hc_create(f->name, &cfg, &c), HC_ESEGEXISTS);
	assert_null(c);
	/* Not truncated, not resized, not re-moded, not written. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, sizeof planted);
	assert_int_equal(st.st_mode & 0777, 0666);
	fd = open(f->path, O_RDONLY);
	assert_int_equal(read(fd, back, sizeof back), sizeof planted);
	close(fd);
	assert_memory_equal(back, planted, sizeof planted);
	/* And it is not taken for a segment either. */
	assert_hc(hc_open(f->name, &c), HC_ECORRUPT);
}

static void test_planted_symlink_is_not_followed(void **state)
{
	struct fixture *f = *state;
	hc_config cfg;
	hc_cache *c = NULL;
	struct stat st;

	/* A dangling link: creating through it would make the target. */
	assert_int_equal(symlink(f->target, f->path), 0);
	small_config(&cfg);
	assert_hc(hc_create(f->name, &cfg, &c), HC_ESEGEXISTS);
	assert_null(c);
	if (lstat(f->target, &st) == 0)
		fail_msg("hc_create followed a planted symlink and made %s",
		         f->target);

	/* A link to a real segment: opening must not follow it either. */
	char real[128];

	snprintf(real, sizeof real, "%s-target", f->name);
	assert_hc_ok(hc_create(real, &cfg, &c));
	assert_hc_ok(hc_set(c, "k", 1, "v", 1, 0));
	hc_cache *via = NULL;
	int rc = hc_open(f->name, &via);

	if (rc == 0) {
		hc_close(via);
		fail_msg("hc_open attached through a symbolic link");
	}
	test_segment_remove(real, c);
}

/* Of creators racing for one name, exactly one succeeds. */
static void test_racing_creators(void **state)
{
	struct fixture *f = *state;
	enum { N = 8 };
	int go[2];
	pid_t pids[N];
	int wins = 0, exists = 0;

	assert_int_equal(pipe(go), 0);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			hc_config cfg;
			hc_cache *c = NULL;
			char b;

			close(go[1]);
			small_config(&cfg);
			if (read(go[0], &b, 1) != 0)
				_exit(3);
			int rc = hc_create(f->name, &cfg, &c);

			_exit(rc == 0 ? 0 : rc == HC_ESEGEXISTS ? 1 : 2);
		}
	}
	close(go[0]);
	close(go[1]); /* everyone's read returns at once */
	for (int i = 0; i < N; i++) {
		int st;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		wins += WEXITSTATUS(st) == 0;
		exists += WEXITSTATUS(st) == 1;
	}
	if (wins != 1 || exists != N - 1)
		fail_msg("%d creators won and %d got HC_ESEGEXISTS, expected 1 and %d",
		         wins, exists, N - 1);
	hc_cache *c = NULL;

	assert_hc_ok(hc_open(f->name, &c));
	test_segment_remove(f->name, c);
}

/* ---- no pointers -------------------------------------------------------- */

struct range {
	uint64_t lo, hi;
	char line[160];
};

struct ranges {
	struct range r[4096];
	unsigned n;
};

/* AddressSanitizer's shadow on x86-64 sits at fixed addresses, low
 * shadow from 0x7fff8000 (mapped in pieces, some under 1 GiB): small
 * numbers such as an item's stamp and key length fall in it.  No stored
 * pointer could point there. */
static int in_asan_shadow(unsigned long long lo, unsigned long long hi)
{
#if defined(__SANITIZE_ADDRESS__) && defined(__x86_64__)
	return hi > 0x7fff7000ULL && lo < 0x10007fff8000ULL;
#else
	(void)lo;
	(void)hi;
	return 0;
#endif
}

static void ranges_parse(struct ranges *rs, const char *maps)
{
	const char *p = maps;

	while (*p != '\0' && rs->n < sizeof rs->r / sizeof rs->r[0]) {
		unsigned long long lo, hi;
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		char perms[8] = "";

		/* Places a stored pointer could point to: not inaccessible
		 * reservations, not the sanitizers' shadow memory (anonymous
		 * mappings of terabytes, covering most small numbers). */
		if (sscanf(p, "%llx-%llx %7s", &lo, &hi, perms) == 3 &&
		    perms[0] != '-' && hi - lo < (1ULL << 30) &&
		    !in_asan_shadow(lo, hi)) {
			struct range *r = &rs->r[rs->n++];

			r->lo = lo;
			r->hi = hi;
			snprintf(r->line, sizeof r->line, "%.*s", (int)len, p);
		}
		p += len + (eol != NULL);
	}
}

static char *read_all(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	return buf;
}

static char *own_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY);
	char *m;

	assert_true(fd >= 0);
	m = read_all(fd);
	close(fd);
	return m;
}

/* Drive every kind of call through C. */
static void exercise(hc_cache *c, unsigned who)
{
	char key[32], val[600], buf[700];
	size_t len;
	uint64_t r;
	hc_item_info info;
	hc_stats st;
	hc_check_result cr;
	hc_proc_info procs[8];
	unsigned n;

	memset(val, 'q', sizeof val);
	for (unsigned i = 0; i < 6000; i++) {
		int kl = snprintf(key, sizeof key, "w%u:key:%u", who, i % 1500);
		size_t vl = 1 + (i * 13) % sizeof val;

		switch (i % 10) {
		case 0: case 1: case 2:
			hc_set(c, key, (size_t)kl, val, vl, i % 7 == 0 ? 1 : 0);
			break;
		case 3:
			hc_add(c, key, (size_t)kl, val, vl, 0);
			break;
		case 4:
			hc_replace(c, key, (size_t)kl, val, vl, 0);
			break;
		case 5:
			if (hc_get_ex(c, key, (size_t)kl, buf, sizeof buf, &info) == 0)
				hc_cas(c, key, (size_t)kl, val, vl, 0, info.cas, &r);
			break;
		case 6:
			hc_get(c, key, (size_t)kl, buf, sizeof buf, &len);
			hc_get(c, key, (size_t)kl, NULL, 0, &len);
			break;
		case 7:
			hc_set(c, "n", 1, "1", 1, 0);
			hc_incr(c, "n", 1, 5, &r);
			hc_decr(c, "n", 1, 2, &r);
			break;
		case 8:
			hc_touch(c, key, (size_t)kl, 1000);
			break;
		default:
			hc_delete(c, key, (size_t)kl);
			break;
		}
	}
	hc_stats_get(c, &st);
	hc_stats_self(c, &st);
	hc_procs(c, procs, 8, &n);
	hc_check(c, 1, NULL, NULL, &cr);
	hc_reap(c);
}

static int count_item(void *arg, const hc_item_view *v)
{
	(void)v;
	++*(unsigned *)arg;
	return 0;
}

static const char *region_of(const hc_info *info, uint64_t off)
{
	uint64_t items_at = info->size - info->item_memory;

	if (off < 4096)
		return "header";
	if (off >= items_at)
		return "item memory";
	if (off >= items_at - info->index_memory)
		return "index";
	return "process or block table";
}

/* Count the aligned words of the segment file that fall inside one of
 * the ranges RS; print the first few when LOUD. */
static unsigned scan(const struct fixture *f, const hc_info *info,
                     const struct ranges *rs, int loud)
{
	int fd = open(f->path, O_RDONLY);
	uint64_t *words = malloc(info->size);
	unsigned found = 0;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, words, info->size, 0), (ssize_t)info->size);
	close(fd);
	for (uint64_t i = 0; i < info->size / 8; i++) {
		uint64_t w = words[i];

		if (w < 4096)
			continue;
		for (unsigned j = 0; j < rs->n; j++) {
			if (w < rs->r[j].lo || w >= rs->r[j].hi)
				continue;
			if (loud && found < 5)
				print_message("word at offset %" PRIu64 " (%s) is "
				              "0x%" PRIx64 ", inside %s\n", i * 8,
				              region_of(info, i * 8), w, rs->r[j].line);
			found++;
			break;
		}
	}
	free(words);
	return found;
}

static void test_no_pointer_in_the_segment(void **state)
{
	struct fixture *f = *state;
	hc_config cfg;
	hc_cache *c, *c2;
	hc_info info;
	int pipefd[2];
	unsigned visited = 0;

	small_config(&cfg);
	assert_hc_ok(hc_create(f->name, &cfg, &c));
	assert_hc_ok(hc_open(f->name, &c2));
	assert_hc_ok(hc_info_get(c, &info));
	exercise(c, 0);
	exercise(c2, 1);
	assert_true(hc_walk(c, "", 0, HC_WALK_VALUES, count_item, &visited) > 0);

	/* Another process, with mappings of its own: it works, sends its
	 * address map, and is killed while attached (its slot is reaped). */
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();

	if (pid == 0) {
		hc_cache *cc;

		close(pipefd[0]);
		if (hc_open(f->name, &cc) != 0)
			_exit(1);
		exercise(cc, 2);
		char *m = own_maps();
		size_t len = strlen(m);

		if (write(pipefd[1], m, len) != (ssize_t)len)
			_exit(2);
		close(pipefd[1]);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	char *child_maps = read_all(pipefd[0]);

	close(pipefd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_true(hc_reap(c) >= 0);
	exercise(c, 3);

	struct ranges *rs = calloc(1, sizeof *rs);
	char *mine = own_maps();

	ranges_parse(rs, mine);
	ranges_parse(rs, child_maps);
	assert_true(rs->n > 10);

	unsigned found = scan(f, &info, rs, 1);

	print_message("%" PRIu64 " words of the segment scanned against %u "
	              "mappings of two processes; %u items live\n",
	              info.size / 8, rs->n, visited);
	/* The scan itself works: a value that holds an address is seen. */
	void *planted = &visited;
	unsigned control;

	/* (An 8-byte key puts the value on a word boundary.) */
	assert_hc_ok(hc_set(c, "control!", 8, &planted, sizeof planted, 0));
	control = scan(f, &info, rs, 0);
	free(mine);
	free(child_maps);
	free(rs);
	hc_close(c2);
	test_segment_remove(f->name, c);
	if (found != 0)
		fail_msg("%u words of the segment hold addresses of this process "
		         "or of another attached one", found);
	if (control != 1)
		fail_msg("the scan found %u addresses after one was stored on "
		         "purpose, expected 1", control);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_planted_file_is_left_alone),
		T(test_planted_symlink_is_not_followed),
		T(test_racing_creators),
		T(test_no_pointer_in_the_segment),
	};
#undef T
	return run_tap_group(tests, NULL, NULL);
}
