/*
 * t_badinput - the table of bad input: every input a caller can get wrong
 * gets its own documented error, and a refused call changes nothing: the
 * segment's bytes (items, index, block table, counters, everything) are
 * compared before and after.
 *
 *   input                                   error            test
 *   --------------------------------------  ---------------  --------------------
 *   empty key (every keyed call)            HC_EKEYLEN       empty_key
 *   key of max_key bytes                    accepted         key_at_limit
 *   key of max_key + 1 .. SIZE_MAX bytes    HC_EKEYLEN       key_over_limit
 *   value of max_value bytes                accepted         value_at_limit
 *   value of max_value + 1 bytes            HC_EVALUE        value_over_limit
 *   value larger than the whole segment     HC_EVALUE        value_over_segment
 *   NUL bytes in keys                       accepted, keys   nul_in_keys
 *                                           stay distinct
 *   names "", "/", "a/b", "/a/b", "//", ".", HC_ENAME        bad_names
 *   "..", 251 bytes, NULL
 *   opening a missing segment               HC_ENOSEG        open_missing
 *   creating an existing segment            HC_ESEGEXISTS    create_existing
 *   a segment of another layout             HC_EVERSION      other_layout
 *   a segment cut short (or grown)          HC_ECORRUPT      cut_short
 *   a file shorter than a header            HC_EINIT or      cut_below_header
 *                                           HC_ECORRUPT
 *   all process slots taken                 HC_EPROCS        out_of_slots
 *   TTL over HC_TTL_MAX (set/add/replace/   HC_ETTL          ttl_overflow
 *   cas/touch)
 *   NULL key, value, buffer, handle, out    HC_EINVAL        null_arguments
 *   incr/decr of a value that is no number  HC_ENOTNUM       not_a_number
 *   a configuration that cannot work        HC_ECONFIG /     impossible_config
 *                                           HC_EINVAL
 *   a 0600 segment of another user          HC_EPERM         t_badinput_root.c
 *                                                            (needs root)
 *
 * t_segment.c and t_ops.c test several of these for their own sake (names,
 * files that are not segments, configurations, limits); this table is the
 * complete list, and adds the "changes nothing" check to each.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "testutil.h"
#include "internal.h" /* HC_BACKUP_OFF */

#define SEG_SIZE ((uint64_t)2 << 20)
#define SEG_PROCS 4

struct fixture {
	char name[96];
	char extra[128];   /* a second segment some rows make */
	hc_cache *c;
	hc_cache *more[SEG_PROCS];
	hc_info info;
	unsigned char *before;
	size_t before_len;
};

static void shm_path(char *path, size_t cap, const char *name)
{
	snprintf(path, cap, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
}

/* The bytes of segment file NAME (malloc'd), or NULL. */
static unsigned char *file_bytes(const char *name, size_t *len)
{
	char path[300];
	struct stat st;

	shm_path(path, sizeof path, name);
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	unsigned char *b = malloc((size_t)st.st_size + 1);
	ssize_t n = pread(fd, b, (size_t)st.st_size, 0);

	close(fd);
	if (n != st.st_size) {
		free(b);
		return NULL;
	}
	*len = (size_t)st.st_size;
	return b;
}

static void snapshot(struct fixture *f, const char *name)
{
	free(f->before);
	f->before = file_bytes(name, &f->before_len);
	assert_non_null(f->before);
}

/* The file NAME holds exactly the bytes of the last snapshot. */
static void assert_unchanged(struct fixture *f, const char *name,
                             const char *after_what)
{
	size_t len = 0;
	unsigned char *now = file_bytes(name, &len);

	if (now == NULL)
		fail_msg("after %s: segment file %s is gone", after_what, name);
	if (len != f->before_len) {
		free(now);
		fail_msg("after %s: segment file is %zu bytes, was %zu", after_what,
		         len, f->before_len);
	}
	for (size_t i = 0; i < len; i++) {
		if (now[i] != f->before[i]) {
			unsigned char was = f->before[i], is = now[i];

			free(now);
			fail_msg("after %s: the segment changed at byte %zu "
			         "(0x%02x -> 0x%02x)", after_what, i, was, is);
		}
	}
	free(now);
}

static void assert_no_file(const char *name)
{
	char path[600];
	struct stat st;

	shm_path(path, sizeof path, name);
	if (stat(path, &st) == 0)
		fail_msg("%s exists after a refused call", path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	hc_config cfg;
	unsigned char val[300];

	if (f == NULL)
		return -1;
	*state = f;
	test_segment_name(f->name, sizeof f->name, "badinput");
	snprintf(f->extra, sizeof f->extra, "%s-extra", f->name);
	shm_unlink(f->name);
	shm_unlink(f->extra);
	hc_config_init(&cfg);
	cfg.size = SEG_SIZE;
	cfg.max_procs = SEG_PROCS;
	if (hc_create(f->name, &cfg, &f->c) != 0 || hc_info_get(f->c, &f->info) != 0)
		return -1;
	/* Something to lose: items, a counter, an expiring item. */
	for (unsigned i = 0; i < 200; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "item:%u", i);

		memset(val, 'a' + (int)(i % 26), sizeof val);
		if (hc_set(f->c, key, (size_t)kl, val, i % sizeof val, 0) != 0)
			return -1;
	}
	if (hc_set(f->c, KEY("counter"), KEY("41"), 0) != 0 ||
	    hc_set(f->c, KEY("text"), KEY("not a number"), 0) != 0 ||
	    hc_set(f->c, KEY("ttl"), KEY("v"), 60000) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < SEG_PROCS; i++)
		if (f->more[i] != NULL)
			hc_close(f->more[i]);
	if (f->c != NULL)
		hc_close(f->c);
	shm_unlink(f->name);
	shm_unlink(f->extra);
	free(f->before);
	free(f);
	return 0;
}

/* Every call that takes a key, with KEY of KLEN bytes: each must return
 * WANT. */
static void all_keyed_calls(hc_cache *c, const void *key, size_t klen, int want)
{
	char buf[16];
	size_t vlen;
	uint64_t r;
	hc_item_info info;

	assert_hc(hc_set(c, key, klen, KEY("v"), 0), want);
	assert_hc(hc_add(c, key, klen, KEY("v"), 0), want);
	assert_hc(hc_replace(c, key, klen, KEY("v"), 0), want);
	assert_hc(hc_cas(c, key, klen, KEY("v"), 0, 1, NULL), want);
	assert_hc(hc_get(c, key, klen, buf, sizeof buf, &vlen), want);
	assert_hc(hc_get_ex(c, key, klen, buf, sizeof buf, &info), want);
	assert_hc(hc_delete(c, key, klen), want);
	assert_hc(hc_incr(c, key, klen, 1, &r), want);
	assert_hc(hc_decr(c, key, klen, 1, &r), want);
	assert_hc(hc_touch(c, key, klen, 0), want);
}

/* ---- the rows ---------------------------------------------------------- */

static void test_empty_key(void **state)
{
	struct fixture *f = *state;

	snapshot(f, f->name);
	all_keyed_calls(f->c, "", 0, HC_EKEYLEN);
	all_keyed_calls(f->c, "x", 0, HC_EKEYLEN);
	assert_unchanged(f, f->name, "calls with an empty key");
}

static void test_key_at_limit(void **state)
{
	struct fixture *f = *state;
	size_t n = f->info.max_key;
	char *key = malloc(n);

	memset(key, 'k', n);
	assert_hc_ok(hc_set(f->c, key, n, KEY("longest"), 0));
	assert_value(f->c, key, n, "longest", 7);
	assert_hc(hc_add(f->c, key, n, KEY("again"), 0), HC_EEXISTS);
	assert_hc_ok(hc_delete(f->c, key, n));
	free(key);
}

static void test_key_over_limit(void **state)
{
	struct fixture *f = *state;
	size_t n = f->info.max_key;
	char *key = malloc(n + 1);

	memset(key, 'k', n + 1);
	snapshot(f, f->name);
	all_keyed_calls(f->c, key, n + 1, HC_EKEYLEN);
	all_keyed_calls(f->c, key, HC_MAX_KEY_LIMIT + 1, HC_EKEYLEN);
	/* A length no buffer has: the length is refused before any byte of
	 * the key is read (ASan in make sanitize would see a read). */
	all_keyed_calls(f->c, key, SIZE_MAX, HC_EKEYLEN);
	assert_unchanged(f, f->name, "calls with a key over the limit");
	free(key);
}

static void test_value_at_limit(void **state)
{
	struct fixture *f = *state;
	size_t n = f->info.max_value;
	unsigned char *val = malloc(n);

	for (size_t i = 0; i < n; i++)
		val[i] = (unsigned char)(i * 7);
	assert_hc_ok(hc_set(f->c, KEY("largest"), val, n, 0));
	assert_value(f->c, KEY("largest"), val, n);
	free(val);
}

static void test_value_over_limit(void **state)
{
	struct fixture *f = *state;
	size_t n = f->info.max_value + 1;
	unsigned char *val = calloc(1, n);

	snapshot(f, f->name);
	assert_hc(hc_set(f->c, KEY("item:7"), val, n, 0), HC_EVALUE);
	assert_hc(hc_add(f->c, KEY("new"), val, n, 0), HC_EVALUE);
	assert_hc(hc_replace(f->c, KEY("item:7"), val, n, 0), HC_EVALUE);
	assert_hc(hc_cas(f->c, KEY("item:7"), val, n, 0, 1, NULL), HC_EVALUE);
	assert_unchanged(f, f->name, "values over the limit");
	free(val);
}

static void test_value_over_segment(void **state)
{
	struct fixture *f = *state;
	char one = 'x';

	snapshot(f, f->name);
	/* Lengths past the one-byte buffer: refused before it is read. */
	assert_hc(hc_set(f->c, KEY("big"), &one, SEG_SIZE + 1, 0), HC_EVALUE);
	assert_hc(hc_set(f->c, KEY("big"), &one, SIZE_MAX, 0), HC_EVALUE);
	assert_hc(hc_add(f->c, KEY("big"), &one, (size_t)1 << 40, 0), HC_EVALUE);
	assert_unchanged(f, f->name, "values larger than the segment");
}

static void test_nul_in_keys(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *k;
		size_t len;
	} keys[] = {
		{ "a", 1 }, { "a\0", 2 }, { "a\0b", 3 }, { "a\0c", 3 }, { "\0", 1 },
		{ "\0\0", 2 }, { "\0a", 2 },
	};
	enum { N = sizeof keys / sizeof keys[0] };

	for (int i = 0; i < N; i++)
		assert_hc_ok(hc_set(f->c, keys[i].k, keys[i].len, &i, sizeof i, 0));
	for (int i = 0; i < N; i++)
		assert_value(f->c, keys[i].k, keys[i].len, &i, sizeof i);
	/* Deleting one leaves the keys that differ only after a NUL. */
	assert_hc_ok(hc_delete(f->c, "a\0b", 3));
	for (int i = 0; i < N; i++) {
		char buf[16];
		size_t vlen;

		if (keys[i].len == 3 && keys[i].k[2] == 'b')
			assert_hc(hc_get(f->c, keys[i].k, keys[i].len, buf, sizeof buf,
			                 &vlen), HC_ENOTFOUND);
		else
			assert_value(f->c, keys[i].k, keys[i].len, &i, sizeof i);
	}
}

static void test_bad_names(void **state)
{
	struct fixture *f = *state;
	char long_name[300];
	hc_config cfg;

	memset(long_name, 'n', 251);
	long_name[251] = '\0';
	const char *bad[] = { "", "/", "a/b", "/a/b", "//", ".", "..", "/..",
	                      long_name };
	hc_config_init(&cfg);
	cfg.size = SEG_SIZE;
	cfg.max_procs = SEG_PROCS;
	snapshot(f, f->name);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		hc_cache *c = NULL;

		assert_hc(hc_create(bad[i], &cfg, &c), HC_ENAME);
		assert_null(c);
		assert_hc(hc_open(bad[i], &c), HC_ENAME);
		assert_null(c);
		assert_hc(hc_unlink(bad[i]), HC_ENAME);
	}
	hc_cache *c = NULL;

	assert_hc(hc_create(NULL, &cfg, &c), HC_ENAME);
	assert_hc(hc_open(NULL, &c), HC_ENAME);
	assert_hc(hc_unlink(NULL), HC_ENAME);
	assert_no_file("a");
	assert_no_file(long_name);
	assert_unchanged(f, f->name, "calls with bad names");
}

static void test_open_missing(void **state)
{
	struct fixture *f = *state;
	hc_cache *c = NULL;

	assert_hc(hc_open(f->extra, &c), HC_ENOSEG);
	assert_null(c);
	assert_hc(hc_unlink(f->extra), HC_ENOSEG);
	assert_no_file(f->extra);
}

static void test_create_existing(void **state)
{
	struct fixture *f = *state;
	hc_config cfg;
	hc_cache *c = NULL;

	hc_config_init(&cfg);
	cfg.size = 2 * SEG_SIZE;
	cfg.max_procs = 2;
	snapshot(f, f->name);
	assert_hc(hc_create(f->name, &cfg, &c), HC_ESEGEXISTS);
	assert_null(c);
	assert_hc(hc_create(f->name + 1, NULL, &c), HC_ESEGEXISTS);
	assert_unchanged(f, f->name, "creating an existing segment");
	assert_value(f->c, KEY("counter"), "41", 2);
}

/* Close our handle, damage the file with DAMAGE, and expect hc_open to
 * refuse it with WANT (or ALSO) without writing to it. */
static void refuse_damaged(struct fixture *f, void (*damage)(const char *path),
                           int want, int also, const char *what)
{
	char path[300];
	hc_cache *c = NULL;

	if (f->c != NULL)
		assert_hc_ok(hc_close(f->c));
	f->c = NULL;
	shm_path(path, sizeof path, f->name);
	damage(path);
	snapshot(f, f->name);
	int rc = hc_open(f->name, &c);

	if (rc != want && rc != also)
		fail_msg("hc_open(%s) returned %d (%s), expected %d (%s)", what, rc,
		         hc_strerror(rc), want, hc_strerror(want));
	assert_null(c);
	assert_unchanged(f, f->name, what);
}

static void flip_layout(const char *path)
{
	int fd = open(path, O_RDWR);
	unsigned char b;

	assert_true(fd >= 0);
	/* In the header and in its backup copy, as a library of another
	 * layout would have written both. */
	for (off_t at = 8; at <= HC_BACKUP_OFF + 16; at += HC_BACKUP_OFF + 8) {
		assert_int_equal(pread(fd, &b, 1, at), 1);
		b ^= 0x10;
		assert_int_equal(pwrite(fd, &b, 1, at), 1);
	}
	close(fd);
}

static void cut_in_half(const char *path)
{
	assert_int_equal(truncate(path, (off_t)(SEG_SIZE / 2)), 0);
}

static void grow(const char *path)
{
	assert_int_equal(truncate(path, (off_t)(SEG_SIZE + 4096)), 0);
}

static void cut_to_100(const char *path)
{
	assert_int_equal(truncate(path, 100), 0);
}

static void test_other_layout(void **state)
{
	refuse_damaged(*state, flip_layout, HC_EVERSION, HC_EVERSION,
	               "a segment of another layout");
}

static void test_cut_short(void **state)
{
	struct fixture *f = *state;

	refuse_damaged(f, cut_in_half, HC_ECORRUPT, HC_ECORRUPT,
	               "a segment cut in half");
	/* Grown back past its size: still not the segment its header
	 * describes. */
	refuse_damaged(f, grow, HC_ECORRUPT, HC_ECORRUPT, "a segment grown");
}

static void test_cut_below_header(void **state)
{
	refuse_damaged(*state, cut_to_100, HC_EINIT, HC_ECORRUPT,
	               "a segment cut below its header");
}

static void test_out_of_slots(void **state)
{
	struct fixture *f = *state;
	hc_cache *c = NULL;

	for (int i = 1; i < SEG_PROCS; i++)
		assert_hc_ok(hc_open(f->name, &f->more[i]));
	snapshot(f, f->name);
	assert_hc(hc_open(f->name, &c), HC_EPROCS);
	assert_null(c);
	assert_hc(hc_open(f->name, &c), HC_EPROCS);
	assert_unchanged(f, f->name, "attaching with every slot taken");
	/* One slot freed is one attach possible. */
	assert_hc_ok(hc_close(f->more[2]));
	f->more[2] = NULL;
	assert_hc_ok(hc_open(f->name, &f->more[2]));
}

static void test_ttl_overflow(void **state)
{
	struct fixture *f = *state;
	const uint64_t ttls[] = { HC_TTL_MAX + 1, UINT64_MAX, (uint64_t)1 << 63 };
	hc_item_info info;
	char buf[8];

	assert_hc_ok(hc_get_ex(f->c, KEY("counter"), buf, sizeof buf, &info));
	snapshot(f, f->name);
	for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++) {
		uint64_t t = ttls[i];

		assert_hc(hc_set(f->c, KEY("counter"), KEY("1"), t), HC_ETTL);
		assert_hc(hc_set(f->c, KEY("fresh"), KEY("1"), t), HC_ETTL);
		assert_hc(hc_add(f->c, KEY("fresh"), KEY("1"), t), HC_ETTL);
		assert_hc(hc_replace(f->c, KEY("counter"), KEY("1"), t), HC_ETTL);
		assert_hc(hc_cas(f->c, KEY("counter"), KEY("1"), t, info.cas, NULL),
		          HC_ETTL);
		assert_hc(hc_touch(f->c, KEY("counter"), t), HC_ETTL);
	}
	assert_unchanged(f, f->name, "TTLs over the limit");
	/* The limit itself is accepted. */
	assert_hc_ok(hc_touch(f->c, KEY("counter"), HC_TTL_MAX));
	assert_value(f->c, KEY("counter"), "41", 2);
}

static void test_null_arguments(void **state)
{
	struct fixture *f = *state;
	hc_config cfg;
	size_t vlen;
	uint64_t r;

	hc_config_init(&cfg);
	snapshot(f, f->name);
	all_keyed_calls(NULL, KEY("counter"), HC_EINVAL);
	all_keyed_calls(f->c, NULL, 3, HC_EINVAL);
	assert_hc(hc_set(f->c, KEY("counter"), NULL, 5, 0), HC_EINVAL);
	assert_hc(hc_add(f->c, KEY("fresh"), NULL, 5, 0), HC_EINVAL);
	assert_hc(hc_get(f->c, KEY("counter"), NULL, 8, &vlen), HC_EINVAL);
	assert_hc(hc_incr(NULL, KEY("counter"), 1, &r), HC_EINVAL);
	assert_hc(hc_open(f->name, NULL), HC_EINVAL);
	assert_hc(hc_create(f->extra, &cfg, NULL), HC_EINVAL);
	assert_hc(hc_close(NULL), HC_EINVAL);
	assert_hc(hc_walk(f->c, NULL, 3, 0, NULL, NULL), HC_EINVAL);
	assert_unchanged(f, f->name, "calls with NULL arguments");
	assert_no_file(f->extra);
}

static void test_not_a_number(void **state)
{
	struct fixture *f = *state;
	uint64_t r = 12345;

	assert_hc_ok(hc_set(f->c, KEY("huge"), KEY("18446744073709551616"), 0));
	assert_hc_ok(hc_set(f->c, KEY("signed"), KEY("-1"), 0));
	assert_hc_ok(hc_set(f->c, KEY("empty"), "", 0, 0));
	snapshot(f, f->name);
	assert_hc(hc_incr(f->c, KEY("text"), 1, &r), HC_ENOTNUM);
	assert_hc(hc_decr(f->c, KEY("text"), 1, &r), HC_ENOTNUM);
	assert_hc(hc_incr(f->c, KEY("huge"), 1, &r), HC_ENOTNUM);
	assert_hc(hc_incr(f->c, KEY("signed"), 1, &r), HC_ENOTNUM);
	assert_hc(hc_incr(f->c, KEY("empty"), 1, &r), HC_ENOTNUM);
	assert_unchanged(f, f->name, "incr/decr of values that are no numbers");
	assert_int_equal(r, 12345);
	assert_value(f->c, KEY("text"), "not a number", 12);
}

static void test_impossible_config(void **state)
{
	struct fixture *f = *state;
	hc_config cfg;
	hc_cache *c = NULL;

	hc_config_init(&cfg);
	cfg.size = 4096;
	assert_hc(hc_create(f->extra, &cfg, &c), HC_ECONFIG);
	hc_config_init(&cfg);
	cfg.size = SEG_SIZE;
	cfg.max_value = (uint32_t)SEG_SIZE;
	assert_hc(hc_create(f->extra, &cfg, &c), HC_ECONFIG);
	hc_config_init(&cfg);
	cfg.max_key = HC_MAX_KEY_LIMIT + 1;
	assert_hc(hc_create(f->extra, &cfg, &c), HC_EINVAL);
	assert_null(c);
	assert_no_file(f->extra);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest table[] = {
		T(test_empty_key),
		T(test_key_at_limit),
		T(test_key_over_limit),
		T(test_value_at_limit),
		T(test_value_over_limit),
		T(test_value_over_segment),
		T(test_nul_in_keys),
		T(test_bad_names),
		T(test_open_missing),
		T(test_create_existing),
		T(test_other_layout),
		T(test_cut_short),
		T(test_cut_below_header),
		T(test_out_of_slots),
		T(test_ttl_overflow),
		T(test_null_arguments),
		T(test_not_a_number),
		T(test_impossible_config),
	};
#undef T
	return run_tap_group(table, NULL, NULL);
}
