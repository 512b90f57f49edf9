/*
 * t_segment.c - the life of a segment: create, open, close, unlink; names;
 * file modes; refusing files that are not (whole, current) segments;
 * impossible configurations; hc_info_get(), hc_version(), hc_strerror().
 *
 * Every test works on segments named by test_segment_name() with its own
 * tag; the teardown closes what the test left open and unlinks every name
 * it used, so a failed test leaves nothing behind in /dev/shm.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"
#include "internal.h" /* HC_BACKUP_OFF */

#define MAX_NAMES 4
#define MAX_HANDLES 10

struct fixture {
	char names[MAX_NAMES][TEST_NAME_CAP];
	int nnames;
	hc_cache *c[MAX_HANDLES]; /* handles the teardown closes if not NULL */
	int umask_changed;
	mode_t old_umask;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < MAX_HANDLES; i++)
		if (f->c[i] != NULL)
			hc_close(f->c[i]);
	for (int i = 0; i < f->nnames; i++) {
		hc_unlink(f->names[i]);
		/* Junk files and damaged segments may be refused by
		 * hc_unlink(); remove them directly. */
		shm_unlink(f->names[i]);
	}
	if (f->umask_changed)
		umask(f->old_umask);
	free(f);
	return 0;
}

/* A fresh segment name for TAG, removed again by the teardown. */
static const char *fixture_name(struct fixture *f, const char *tag)
{
	assert_true(f->nnames < MAX_NAMES);
	char *name = f->names[f->nnames++];
	test_segment_name(name, TEST_NAME_CAP, tag);
	/* Left over from an earlier run that died with the same pid. */
	shm_unlink(name);
	return name;
}

static void fixture_umask(struct fixture *f, mode_t mask)
{
	mode_t old = umask(mask);
	if (!f->umask_changed) {
		f->old_umask = old;
		f->umask_changed = 1;
	}
}

static void small_config(hc_config *cfg)
{
	*cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);
}

/* Create the segment named after TAG with the usual small configuration,
 * as handle 0 of F; its name. */
static const char *fixture_create(struct fixture *f, const char *tag)
{
	const char *name = fixture_name(f, tag);
	hc_config cfg;

	small_config(&cfg);
	assert_hc_ok(hc_create(name, &cfg, &f->c[0]));
	return name;
}

/* Where the segment NAME ("/name") lives in the file system. */
static void shm_path(char *path, size_t cap, const char *name)
{
	snprintf(path, cap, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
}

static int shm_stat(const char *name, struct stat *st)
{
	char path[TEST_NAME_CAP + 16];
	shm_path(path, sizeof(path), name);
	return stat(path, st);
}

static void assert_no_file(const char *name)
{
	struct stat st;
	int rc = shm_stat(name, &st);
	if (rc == 0 || errno != ENOENT)
		fail_msg("segment file of %s: stat returned %d (%s), expected "
		         "ENOENT", name, rc, rc == 0 ? "exists" : strerror(errno));
}

static int open_shm_file(const char *name, int flags)
{
	char path[TEST_NAME_CAP + 16];
	shm_path(path, sizeof(path), name);
	int fd = open(path, flags, 0600);
	if (fd < 0)
		fail_msg("open(%s): %s", path, strerror(errno));
	return fd;
}

static double elapsed_s(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static void test_create_open_close_unlink(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-life");
	hc_config cfg;
	small_config(&cfg);

	assert_hc(hc_open(name, &f->c[0]), HC_ENOSEG);
	assert_hc_ok(hc_create(name, &cfg, &f->c[0]));
	assert_non_null(f->c[0]);
	assert_hc_ok(hc_set(f->c[0], KEY("k"), KEY("v1"), 0));
	assert_hc_ok(hc_close(f->c[0]));
	f->c[0] = NULL;

	/* The segment outlives its creator's handle, at its fixed size. */
	struct stat st;
	assert_int_equal(shm_stat(name, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_u64_equal(st.st_size, TEST_SEG_SIZE);

	assert_hc_ok(hc_open(name, &f->c[0]));
	assert_non_null(f->c[0]);
	assert_value(f->c[0], KEY("k"), "v1", 2);

	/* A second attachment sees the same items, both ways. */
	assert_hc_ok(hc_open(name, &f->c[1]));
	assert_value(f->c[1], KEY("k"), "v1", 2);
	assert_hc_ok(hc_set(f->c[1], KEY("k2"), KEY("from-second"), 0));
	assert_value(f->c[0], KEY("k2"), "from-second", 11);

	/* Unlink: the name is gone, the attachments keep working. */
	assert_hc_ok(hc_unlink(name));
	assert_no_file(name);
	hc_cache *late = NULL;
	assert_hc(hc_open(name, &late), HC_ENOSEG);
	assert_value(f->c[0], KEY("k"), "v1", 2);
	assert_hc_ok(hc_set(f->c[0], KEY("k3"), KEY("after-unlink"), 0));
	assert_value(f->c[1], KEY("k3"), "after-unlink", 12);

	assert_hc_ok(hc_close(f->c[1]));
	f->c[1] = NULL;
	assert_hc_ok(hc_close(f->c[0]));
	f->c[0] = NULL;
	assert_hc(hc_unlink(name), HC_ENOSEG);
}

static void test_name_with_or_without_slash(void **state)
{
	struct fixture *f = *state;
	const char *slashed = fixture_name(f, "seg-slash");
	const char *bare = slashed + 1;
	hc_config cfg;
	small_config(&cfg);

	assert_hc_ok(hc_create(bare, &cfg, &f->c[0]));
	assert_hc_ok(hc_set(f->c[0], KEY("where"), KEY("here"), 0));
	struct stat st;
	assert_int_equal(shm_stat(slashed, &st), 0);

	assert_hc_ok(hc_open(slashed, &f->c[1]));
	assert_value(f->c[1], KEY("where"), "here", 4);
	hc_cache *again = NULL;
	assert_hc(hc_create(slashed, &cfg, &again), HC_ESEGEXISTS);
	assert_hc(hc_create(bare, &cfg, &again), HC_ESEGEXISTS);

	assert_hc_ok(hc_unlink(slashed));
	assert_hc(hc_open(bare, &again), HC_ENOSEG);
	assert_hc(hc_open(slashed, &again), HC_ENOSEG);
	assert_no_file(slashed);
}

static void test_create_existing_leaves_it_alone(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_create(f, "seg-exists");

	assert_hc_ok(hc_set(f->c[0], KEY("keep"), KEY("data"), 0));

	hc_config other;
	hc_config_init(&other);
	other.size = 2 * TEST_SEG_SIZE;
	other.max_procs = 4;
	other.max_key = 32;
	hc_cache *second = NULL;
	assert_hc(hc_create(name, &other, &second), HC_ESEGEXISTS);

	assert_value(f->c[0], KEY("keep"), "data", 4);
	struct stat st;
	assert_int_equal(shm_stat(name, &st), 0);
	assert_u64_equal(st.st_size, TEST_SEG_SIZE);
	assert_hc_ok(hc_close(f->c[0]));
	f->c[0] = NULL;

	assert_hc_ok(hc_open(name, &f->c[0]));
	assert_value(f->c[0], KEY("keep"), "data", 4);
	hc_info info;
	assert_hc_ok(hc_info_get(f->c[0], &info));
	assert_u64_equal(info.size, TEST_SEG_SIZE);
	assert_u64_equal(info.max_procs, TEST_SEG_PROCS);
	assert_u64_equal(info.max_key, 250);
}

static void test_open_missing(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-missing");
	hc_cache *c = NULL;

	assert_hc(hc_open(name, &c), HC_ENOSEG);
	assert_hc(hc_open(name + 1, &c), HC_ENOSEG);
	/* A failed open creates nothing. */
	assert_no_file(name);
}

static void test_bad_names(void **state)
{
	(void)state;
	char long_bare[301], long_slashed[302];
	memset(long_bare, 'n', 300);
	long_bare[300] = '\0';
	long_slashed[0] = '/';
	memcpy(long_slashed + 1, long_bare, sizeof(long_bare));
	const char *bad[] = { "", "/", "a/b", "/a/b", "//", long_bare,
	                      long_slashed };
	hc_config cfg;
	small_config(&cfg);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hc_cache *c = NULL;
		int rc = hc_create(bad[i], &cfg, &c);
		if (rc != HC_ENAME) {
			if (rc == 0) {
				hc_close(c);
				hc_unlink(bad[i]);
			}
			fail_msg("hc_create(\"%.40s\"%s) returned %d (%s), "
			         "expected HC_ENAME", bad[i],
			         strlen(bad[i]) > 40 ? "..." : "", rc,
			         hc_strerror(rc));
		}
		rc = hc_open(bad[i], &c);
		if (rc != HC_ENAME) {
			if (rc == 0)
				hc_close(c);
			fail_msg("hc_open(\"%.40s\"%s) returned %d (%s), "
			         "expected HC_ENAME", bad[i],
			         strlen(bad[i]) > 40 ? "..." : "", rc,
			         hc_strerror(rc));
		}
		rc = hc_unlink(bad[i]);
		if (rc != HC_ENAME)
			fail_msg("hc_unlink(\"%.40s\"%s) returned %d (%s), "
			         "expected HC_ENAME", bad[i],
			         strlen(bad[i]) > 40 ? "..." : "", rc,
			         hc_strerror(rc));
	}
}

static void assert_file_mode(const char *name, mode_t want)
{
	struct stat st;
	assert_int_equal(shm_stat(name, &st), 0);
	if ((st.st_mode & 07777) != want)
		fail_msg("segment file mode is 0%o, expected 0%o",
		         (unsigned)(st.st_mode & 07777), (unsigned)want);
}

static void test_default_mode_is_0600(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-mode0600");
	hc_config cfg;
	small_config(&cfg);

	/* With no umask to hide them, any bits beyond 0600 would show. */
	fixture_umask(f, 0);
	assert_hc_ok(hc_create(name, &cfg, &f->c[0]));
	assert_file_mode(name, 0600);
	hc_info info;
	assert_hc_ok(hc_info_get(f->c[0], &info));
	if ((info.mode & 07777) != 0600)
		fail_msg("hc_info.mode is 0%o, expected 0600",
		         (unsigned)(info.mode & 07777));

	/* A zero mode means "choose for me": the same default. */
	const char *zero = fixture_name(f, "seg-mode0");
	cfg.mode = 0;
	assert_hc_ok(hc_create(zero, &cfg, &f->c[1]));
	assert_file_mode(zero, 0600);
}

static void test_group_mode_0660(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-mode0660");
	hc_config cfg;
	small_config(&cfg);
	cfg.mode = 0660;

	fixture_umask(f, 0);
	assert_hc_ok(hc_create(name, &cfg, &f->c[0]));
	assert_file_mode(name, 0660);
	hc_info info;
	assert_hc_ok(hc_info_get(f->c[0], &info));
	if ((info.mode & 07777) != 0660)
		fail_msg("hc_info.mode is 0%o, expected 0660",
		         (unsigned)(info.mode & 07777));
}

static void test_junk_file_is_corrupt(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-junk");
	enum { JUNK = 1 << 20 };
	char *junk = malloc(JUNK);
	assert_non_null(junk);
	memset(junk, 'x', JUNK);

	int fd = open_shm_file(name, O_CREAT | O_EXCL | O_RDWR);
	ssize_t n = write(fd, junk, JUNK);
	close(fd);
	assert_int_equal(n, JUNK);

	assert_hc(hc_open(name, &f->c[0]), HC_ECORRUPT);

	/* Refusing it must not have written to it. */
	struct stat st;
	assert_int_equal(shm_stat(name, &st), 0);
	assert_u64_equal(st.st_size, JUNK);
	char *back = malloc(JUNK);
	assert_non_null(back);
	fd = open_shm_file(name, O_RDONLY);
	n = pread(fd, back, JUNK, 0);
	close(fd);
	assert_int_equal(n, JUNK);
	assert_memory_equal(back, junk, JUNK);
	free(back);
	free(junk);
}

static void flip_layout_bit(const char *name)
{
	int fd = open_shm_file(name, O_RDWR);
	unsigned char byte;
	/* In the header and in its backup copy, as a library of another
	 * layout would have written both (the copy's sum no longer matches
	 * either: no copy to restore from). */
	for (off_t at = 8; at <= HC_BACKUP_OFF + 16; at += HC_BACKUP_OFF + 8) {
		assert_int_equal(pread(fd, &byte, 1, at), 1);
		byte ^= 1;
		assert_int_equal(pwrite(fd, &byte, 1, at), 1);
	}
	close(fd);
}

static void test_other_layout_is_refused(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_create(f, "seg-layout");

	assert_hc_ok(hc_set(f->c[0], KEY("k"), KEY("v"), 0));
	hc_info info;
	assert_hc_ok(hc_info_get(f->c[0], &info));
	assert_u64_equal(info.layout, hc_layout_word());
	assert_hc_ok(hc_close(f->c[0]));
	f->c[0] = NULL;

	/* The layout word follows the 8-byte magic. */
	int fd = open_shm_file(name, O_RDONLY);
	uint64_t stored = 0;
	assert_int_equal(pread(fd, &stored, sizeof(stored), 8), 8);
	close(fd);
	assert_u64_equal(stored, hc_layout_word());

	flip_layout_bit(name);
	assert_hc(hc_open(name, &f->c[0]), HC_EVERSION);

	/* Nothing else was wrong: restored, it opens with its data. */
	flip_layout_bit(name);
	assert_hc_ok(hc_open(name, &f->c[0]));
	assert_value(f->c[0], KEY("k"), "v", 1);
}

static void test_truncated_segment_is_corrupt(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_create(f, "seg-trunc");

	assert_hc_ok(hc_set(f->c[0], KEY("k"), KEY("v"), 0));
	assert_hc_ok(hc_close(f->c[0]));
	f->c[0] = NULL;

	char path[TEST_NAME_CAP + 16];
	shm_path(path, sizeof(path), name);
	assert_int_equal(truncate(path, (off_t)(TEST_SEG_SIZE / 2)), 0);
	assert_hc(hc_open(name, &f->c[0]), HC_ECORRUPT);
}

static void test_empty_file_fails_fast(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-empty");
	close(open_shm_file(name, O_CREAT | O_EXCL | O_RDWR));

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = hc_open(name, &f->c[0]);
	double took = elapsed_s(&t0);
	if (rc != HC_EINIT && rc != HC_ECORRUPT)
		fail_msg("hc_open(empty file) returned %d (%s), expected "
		         "HC_EINIT or HC_ECORRUPT", rc, hc_strerror(rc));
	if (took >= 10.0)
		fail_msg("hc_open(empty file) took %.1f s, expected < 10 s",
		         took);
}

/* What a creator killed before publishing its magic leaves behind: a file
 * of the right size, all zeros. */
static void test_unpublished_segment_fails_fast(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-zeroed");
	int fd = open_shm_file(name, O_CREAT | O_EXCL | O_RDWR);
	int rc = ftruncate(fd, (off_t)TEST_SEG_SIZE);
	close(fd);
	assert_int_equal(rc, 0);

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = hc_open(name, &f->c[0]);
	double took = elapsed_s(&t0);
	assert_hc(rc, HC_EINIT);
	if (took >= 10.0)
		fail_msg("hc_open(zeroed file) took %.1f s, expected < 10 s",
		         took);
}

/* hc_create(NAME, CFG) must fail with WANT (or ALSO, if not 0), say more
 * than the generic message, and leave no segment behind. */
static void assert_config_refused(const char *name, const hc_config *cfg,
                                  const char *what, int want, int also)
{
	hc_cache *c = NULL;
	int rc = hc_create(name, cfg, &c);
	if (rc == 0) {
		test_segment_remove(name, c);
	}
	if (rc != want && (also == 0 || rc != also))
		fail_msg("hc_create(%s) returned %d (%s), expected %d (%s)",
		         what, rc, hc_strerror(rc), want, hc_strerror(want));
	const char *msg = hc_last_error();
	assert_non_null(msg);
	if (msg[0] == '\0')
		fail_msg("hc_create(%s): hc_last_error() is empty", what);
	if (rc == HC_ECONFIG && strcmp(msg, hc_strerror(HC_ECONFIG)) == 0)
		fail_msg("hc_create(%s): hc_last_error() is only \"%s\"; it "
		         "should say what would fit", what, msg);
	assert_hc(hc_open(name, &c), HC_ENOSEG);
	assert_no_file(name);
}

static void test_impossible_configs(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-config");
	hc_config cfg;

	small_config(&cfg);
	cfg.size = 4096;
	assert_config_refused(name, &cfg, "size 4096", HC_ECONFIG, 0);

	small_config(&cfg);
	cfg.max_value = (uint32_t)TEST_SEG_SIZE + 1;
	assert_config_refused(name, &cfg, "max_value > size", HC_ECONFIG, 0);

	/* More process slots than the size holds; a count beyond any
	 * segment may be refused as an invalid argument instead. */
	small_config(&cfg);
	cfg.max_procs = 4000;
	assert_config_refused(name, &cfg, "4000 procs in 8 MiB", HC_ECONFIG,
	                      0);
	small_config(&cfg);
	cfg.max_procs = 100000;
	assert_config_refused(name, &cfg, "100000 procs", HC_EINVAL,
	                      HC_ECONFIG);

	small_config(&cfg);
	cfg.max_key = 70000;
	assert_config_refused(name, &cfg, "max_key 70000", HC_EINVAL,
	                      HC_ECONFIG);

	/* After all that, the name is free and max_key 0 means the default. */
	small_config(&cfg);
	cfg.max_key = 0;
	assert_hc_ok(hc_create(name, &cfg, &f->c[0]));
	hc_info info;
	assert_hc_ok(hc_info_get(f->c[0], &info));
	assert_u64_equal(info.max_key, 250);
}

static void test_info_reports_config(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_name(f, "seg-info");
	hc_config cfg;
	small_config(&cfg);
	cfg.max_key = 100;
	cfg.delimiter = '|';

	struct timespec before;
	clock_gettime(CLOCK_REALTIME, &before);
	assert_hc_ok(hc_create(name, &cfg, &f->c[0]));

	hc_info info;
	memset(&info, 0xa5, sizeof(info));
	assert_hc_ok(hc_info_get(f->c[0], &info));
	assert_u64_equal(info.size, TEST_SEG_SIZE);
	assert_u64_equal(info.max_key, 100);
	assert_u64_equal(info.max_procs, TEST_SEG_PROCS);
	assert_u64_equal(info.version_major, HC_VERSION_MAJOR);
	assert_u64_equal(info.version_minor, HC_VERSION_MINOR);
	assert_u64_equal(info.layout, hc_layout_word());
	assert_int_equal(info.delimiter, '|');
	assert_true(info.block_size > 0);
	assert_true(info.blocks > 0);
	assert_in_range(info.item_overhead, 1, 32);
	assert_true(info.max_value > 0);
	assert_true(info.max_value < info.block_size);
	assert_true(info.index_buckets > 0);
	assert_true(info.index_slots >= info.index_buckets);
	/* Every byte is accounted for inside the segment. */
	assert_in_range(info.item_memory, 1, TEST_SEG_SIZE);
	assert_in_range(info.index_memory, 1, TEST_SEG_SIZE);
	assert_in_range((uint64_t)info.blocks * info.block_size, 1, TEST_SEG_SIZE);
	assert_true(info.item_memory + info.index_memory <= TEST_SEG_SIZE);

	uint64_t before_ns = (uint64_t)before.tv_sec * 1000000000u +
	                     (uint64_t)before.tv_nsec;
	assert_in_range(info.created_ns, before_ns - 1000000000u,
	                before_ns + 60 * 1000000000ull);

	assert_non_null(memchr(info.name, '\0', sizeof(info.name)));
	const char *reported = info.name[0] == '/' ? info.name + 1 : info.name;
	assert_string_equal(reported, name + 1);

	/* A second attachment reports the same facts. */
	hc_info again;
	assert_hc_ok(hc_open(name, &f->c[1]));
	assert_hc_ok(hc_info_get(f->c[1], &again));
	assert_u64_equal(again.size, info.size);
	assert_u64_equal(again.block_size, info.block_size);
	assert_u64_equal(again.blocks, info.blocks);
	assert_u64_equal(again.max_value, info.max_value);
	assert_u64_equal(again.created_ns, info.created_ns);
}

static void test_default_delimiter(void **state)
{
	struct fixture *f = *state;
	hc_info info;

	fixture_create(f, "seg-delim");
	assert_hc_ok(hc_info_get(f->c[0], &info));
	assert_int_equal(info.delimiter, ':');
}

static void test_process_slots_run_out(void **state)
{
	struct fixture *f = *state;
	const char *name = fixture_create(f, "seg-procs");

	for (int i = 1; i < TEST_SEG_PROCS; i++)
		assert_hc_ok(hc_open(name, &f->c[i]));
	hc_stats st;
	assert_hc_ok(hc_stats_get(f->c[0], &st));
	assert_u64_equal(st.procs_attached, TEST_SEG_PROCS);
	assert_u64_equal(st.procs_max, TEST_SEG_PROCS);

	assert_hc(hc_open(name, &f->c[TEST_SEG_PROCS]), HC_EPROCS);
	f->c[TEST_SEG_PROCS] = NULL;

	/* A closed slot is free again at once. */
	assert_hc_ok(hc_close(f->c[3]));
	f->c[3] = NULL;
	assert_hc_ok(hc_open(name, &f->c[3]));
	assert_hc_ok(hc_set(f->c[3], KEY("k"), KEY("v"), 0));
	assert_value(f->c[0], KEY("k"), "v", 1);
}

static void test_version(void **state)
{
	(void)state;
	assert_non_null(hc_version());
	assert_string_equal(hc_version(), HC_VERSION_STRING);
}

static void test_strerror(void **state)
{
	(void)state;
	static const int codes[] = {
		HC_ENOTFOUND, HC_EEXISTS,   HC_EINVAL,       HC_EKEYLEN,
		HC_EVALUE,    HC_ESEGEXISTS, HC_ENOSEG,      HC_EPERM,
		HC_EVERSION,  HC_ECORRUPT,  HC_EPROCS,       HC_ENOMEM,
		HC_ENOSPC,    HC_EBUSY,     HC_EBUFSIZE,     HC_ENAME,
		HC_ENOTNUM,   HC_ECASMISMATCH, HC_ETTL,      HC_ETIMENS,
		HC_EINIT,     HC_ECONFIG,   HC_ESYS,         HC_ETOOBIG,
	};
	enum { N = sizeof(codes) / sizeof(codes[0]) };

	for (int i = 0; i < N; i++) {
		const char *a = hc_strerror(codes[i]);
		if (a == NULL || a[0] == '\0')
			fail_msg("hc_strerror(%d) is %s", codes[i],
			         a == NULL ? "NULL" : "empty");
		for (int j = 0; j < i; j++)
			if (strcmp(a, hc_strerror(codes[j])) == 0)
				fail_msg("hc_strerror(%d) and hc_strerror(%d) "
				         "are both \"%s\"", codes[i], codes[j],
				         a);
	}
	/* Success, -errno values and unknown codes still get a message. */
	const int others[] = { 0, -ENOENT, -30999, 12345 };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		const char *m = hc_strerror(others[i]);
		if (m == NULL || m[0] == '\0')
			fail_msg("hc_strerror(%d) is %s", others[i],
			         m == NULL ? "NULL" : "empty");
	}
	assert_non_null(hc_last_error());
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest group[] = {
		T(test_create_open_close_unlink),
		T(test_name_with_or_without_slash),
		T(test_create_existing_leaves_it_alone),
		T(test_open_missing),
		T(test_bad_names),
		T(test_default_mode_is_0600),
		T(test_group_mode_0660),
		T(test_junk_file_is_corrupt),
		T(test_other_layout_is_refused),
		T(test_truncated_segment_is_corrupt),
		T(test_empty_file_fails_fast),
		T(test_unpublished_segment_fails_fast),
		T(test_impossible_configs),
		T(test_info_reports_config),
		T(test_default_delimiter),
		T(test_process_slots_run_out),
		T(test_version),
		T(test_strerror),
	};
#undef T
	return run_tap_group(group, NULL, NULL);
}
