/*
 * t_ops.c - the item operations of one process: set, get, add, replace,
 * cas, delete, incr, decr; the limits on keys, values and TTLs; argument
 * checks; the counters that these operations move.
 *
 * Every test works on its own small segment (test_segment_name() with its
 * own tag); the teardown closes and unlinks it even when the test fails.
 */
#include <sys/mman.h>

#include "testutil.h"

/* Create the test's segment, named after TAG, with MAX_KEY (0: default). */
static hc_cache *fixture_create_keys(struct test_fixture *f, const char *tag,
                                     uint32_t max_key)
{
	hc_config cfg = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);

	cfg.max_key = max_key;
	return test_fixture_create(f, tag, &cfg);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131u + seed * 7u) ^ (i >> 8));
}

static void test_set_get_roundtrip(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-roundtrip", NULL);

	assert_hc_ok(hc_set(c, KEY("alpha"), KEY("one"), 0));
	assert_value(c, KEY("alpha"), "one", 3);

	/* Binary keys: NUL bytes are part of the key, and so is the length. */
	static const char k1[] = { 'a', '\0', 'b' };
	static const char k2[] = { 'a', '\0', 'c' };
	static const char k3[] = { 'a' };
	static const char k4[] = { '\0' };
	static const char k5[] = { '\0', '\0' };
	assert_hc_ok(hc_set(c, k1, sizeof(k1), KEY("v-a0b"), 0));
	assert_hc_ok(hc_set(c, k2, sizeof(k2), KEY("v-a0c"), 0));
	assert_hc_ok(hc_set(c, k3, sizeof(k3), KEY("v-a"), 0));
	assert_hc_ok(hc_set(c, k4, sizeof(k4), KEY("v-0"), 0));
	assert_hc_ok(hc_set(c, k5, sizeof(k5), KEY("v-00"), 0));
	assert_value(c, k1, sizeof(k1), "v-a0b", 5);
	assert_value(c, k2, sizeof(k2), "v-a0c", 5);
	assert_value(c, k3, sizeof(k3), "v-a", 3);
	assert_value(c, k4, sizeof(k4), "v-0", 3);
	assert_value(c, k5, sizeof(k5), "v-00", 4);

	/* Binary values: every byte value, NULs included. */
	unsigned char key[64], val[300];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(255 - i * 4);
	key[10] = 0;
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (unsigned char)i;
	assert_hc_ok(hc_set(c, key, sizeof(key), val, sizeof(val), 0));
	assert_value(c, key, sizeof(key), val, sizeof(val));

	/* A value exactly as large as the buffer fits. */
	char exact[300];
	size_t vlen = 0;
	assert_hc_ok(hc_get(c, key, sizeof(key), exact, sizeof(exact), &vlen));
	assert_u64_equal(vlen, sizeof(val));
	assert_memory_equal(exact, val, sizeof(val));
}

/* Every split of key and value across the item's words: keys of 1..17
 * bytes (the value starts at every offset within a word), values of
 * 0..70 bytes (every tail length), each read back exactly, and not one
 * byte of the buffer past the value written. */
static void test_get_every_alignment(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-align", NULL);
	unsigned char key[17], val[70], buf[80];

	for (size_t kl = 1; kl <= sizeof(key); kl++) {
		for (size_t vl = 0; vl <= sizeof(val); vl++) {
			size_t vlen = 999;

			fill_pattern(key, kl, (unsigned)vl);
			fill_pattern(val, vl, (unsigned)(kl * 100 + vl));
			assert_hc_ok(hc_set(c, key, kl, val, vl, 0));
			memset(buf, 0xa5, sizeof(buf));
			assert_hc_ok(hc_get(c, key, kl, buf, vl, &vlen));
			assert_u64_equal(vlen, vl);
			assert_memory_equal(buf, val, vl);
			for (size_t i = vl; i < sizeof(buf); i++)
				assert_int_equal(buf[i], 0xa5);
		}
	}
}

static void test_empty_value(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-empty", NULL);
	char buf[16] = "untouched";
	size_t vlen = 99;

	assert_hc_ok(hc_set(c, KEY("empty"), "", 0, 0));
	assert_hc_ok(hc_get(c, KEY("empty"), buf, sizeof(buf), &vlen));
	assert_u64_equal(vlen, 0);
	/* A zero-length value fits a zero-capacity probe. */
	vlen = 99;
	assert_hc_ok(hc_get(c, KEY("empty"), NULL, 0, &vlen));
	assert_u64_equal(vlen, 0);

	hc_item_info info;
	memset(&info, 0xff, sizeof(info));
	assert_hc_ok(hc_get_ex(c, KEY("empty"), buf, sizeof(buf), &info));
	assert_u64_equal(info.vlen, 0);
}

static void test_buffer_too_small(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-bufsize", NULL);
	unsigned char val[100], buf[100];
	fill_pattern(val, sizeof(val), 1);
	assert_hc_ok(hc_set(c, KEY("big"), val, sizeof(val), 0));

	size_t vlen = 0;
	memset(buf, 0xee, sizeof(buf));
	assert_hc(hc_get(c, KEY("big"), buf, 10, &vlen), HC_EBUFSIZE);
	assert_u64_equal(vlen, sizeof(val));
	/* Nothing was copied. */
	unsigned char untouched[100];
	memset(untouched, 0xee, sizeof(untouched));
	assert_memory_equal(buf, untouched, sizeof(buf));

	vlen = 0;
	assert_hc(hc_get(c, KEY("big"), buf, sizeof(val) - 1, &vlen),
	          HC_EBUFSIZE);
	assert_u64_equal(vlen, sizeof(val));

	/* The length probe. */
	vlen = 0;
	assert_hc(hc_get(c, KEY("big"), NULL, 0, &vlen), HC_EBUFSIZE);
	assert_u64_equal(vlen, sizeof(val));

	hc_item_info info;
	memset(&info, 0, sizeof(info));
	assert_hc(hc_get_ex(c, KEY("big"), buf, 10, &info), HC_EBUFSIZE);
	assert_u64_equal(info.vlen, sizeof(val));

	/* And then the whole value still reads. */
	assert_value(c, KEY("big"), val, sizeof(val));
}

static void test_get_missing(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-missing", NULL);
	char buf[16];
	size_t vlen;
	assert_hc(hc_get(c, KEY("nobody"), buf, sizeof(buf), &vlen),
	          HC_ENOTFOUND);
	assert_hc(hc_get(c, KEY("nobody"), NULL, 0, &vlen), HC_ENOTFOUND);
	hc_item_info info;
	assert_hc(hc_get_ex(c, KEY("nobody"), buf, sizeof(buf), &info),
	          HC_ENOTFOUND);
	/* A different key of the same prefix is still missing. */
	assert_hc_ok(hc_set(c, KEY("nobody2"), KEY("x"), 0));
	assert_missing(c, KEY("nobody"));
}

static void check_key_limits(hc_cache *c, size_t max_key)
{
	char *key = malloc(max_key + 2);
	assert_non_null(key);
	memset(key, 'k', max_key + 1);
	char buf[16];
	size_t vlen;

	assert_hc(hc_set(c, "", 0, KEY("v"), 0), HC_EKEYLEN);
	assert_hc(hc_get(c, "", 0, buf, sizeof(buf), &vlen), HC_EKEYLEN);
	assert_hc(hc_delete(c, "", 0), HC_EKEYLEN);

	assert_hc(hc_set(c, key, max_key + 1, KEY("v"), 0), HC_EKEYLEN);
	assert_hc(hc_add(c, key, max_key + 1, KEY("v"), 0), HC_EKEYLEN);
	assert_hc(hc_get(c, key, max_key + 1, buf, sizeof(buf), &vlen),
	          HC_EKEYLEN);

	assert_hc_ok(hc_set(c, key, max_key, KEY("longest"), 0));
	assert_value(c, key, max_key, "longest", 7);
	/* The key one byte shorter is another key. */
	assert_missing(c, key, max_key - 1);
	free(key);
}

static void test_key_length_limits(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-keylen", NULL);
	assert_u64_equal(((struct test_fixture *)*state)->info.max_key, 250);
	check_key_limits(c, 250);
}

static void test_configured_key_length(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = fixture_create_keys(f, "ops-keylen16", 16);
	assert_u64_equal(f->info.max_key, 16);
	check_key_limits(c, 16);
}

static void test_value_size_limits(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = test_fixture_create(f, "ops-valsize", NULL);
	size_t max = f->info.max_value;
	assert_true(max > 0);

	unsigned char *val = malloc(max + 1);
	unsigned char *buf = malloc(max + 1);
	assert_non_null(val);
	assert_non_null(buf);
	fill_pattern(val, max + 1, 3);

	assert_hc_ok(hc_set(c, KEY("largest"), val, max, 0));
	size_t vlen = 0;
	assert_hc_ok(hc_get(c, KEY("largest"), buf, max + 1, &vlen));
	assert_u64_equal(vlen, max);
	assert_memory_equal(buf, val, max);

	assert_hc(hc_set(c, KEY("too-large"), val, max + 1, 0), HC_EVALUE);
	assert_missing(c, KEY("too-large"));
	/* A refused overwrite leaves the old value. */
	assert_hc(hc_set(c, KEY("largest"), val, max + 1, 0), HC_EVALUE);
	vlen = 0;
	assert_hc_ok(hc_get(c, KEY("largest"), buf, max + 1, &vlen));
	assert_u64_equal(vlen, max);
	assert_memory_equal(buf, val, max);
	free(buf);
	free(val);
}

static void test_set_overwrites(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-overwrite", NULL);
	assert_hc_ok(hc_set(c, KEY("k"), KEY("first"), 0));
	assert_hc_ok(hc_set(c, KEY("k"), KEY("second, and longer"), 0));
	assert_value(c, KEY("k"), "second, and longer", 18);
	assert_hc_ok(hc_set(c, KEY("k"), KEY("3rd"), 0));
	assert_value(c, KEY("k"), "3rd", 3);
	/* Overwriting one key leaves its neighbours alone. */
	assert_hc_ok(hc_set(c, KEY("k2"), KEY("other"), 0));
	assert_hc_ok(hc_set(c, KEY("k"), KEY("4th"), 0));
	assert_value(c, KEY("k2"), "other", 5);
	assert_value(c, KEY("k"), "4th", 3);
}

static void test_add(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-add", NULL);
	assert_hc_ok(hc_add(c, KEY("fresh"), KEY("added"), 0));
	assert_value(c, KEY("fresh"), "added", 5);
	assert_hc(hc_add(c, KEY("fresh"), KEY("again"), 0), HC_EEXISTS);
	assert_value(c, KEY("fresh"), "added", 5);

	assert_hc_ok(hc_set(c, KEY("present"), KEY("set"), 0));
	assert_hc(hc_add(c, KEY("present"), KEY("add"), 0), HC_EEXISTS);
	assert_value(c, KEY("present"), "set", 3);

	/* After a delete the key is absent again. */
	assert_hc_ok(hc_delete(c, KEY("present")));
	assert_hc_ok(hc_add(c, KEY("present"), KEY("re-added"), 0));
	assert_value(c, KEY("present"), "re-added", 8);
}

static void test_replace(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-replace", NULL);
	assert_hc(hc_replace(c, KEY("absent"), KEY("x"), 0), HC_ENOTFOUND);
	assert_missing(c, KEY("absent"));

	assert_hc_ok(hc_set(c, KEY("present"), KEY("old"), 0));
	assert_hc_ok(hc_replace(c, KEY("present"), KEY("new value"), 0));
	assert_value(c, KEY("present"), "new value", 9);
}

static uint64_t cas_of(hc_cache *c, const void *key, size_t klen)
{
	return item_info_of(c, key, klen).cas;
}

static void test_cas(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-cas", NULL);
	char buf[64];
	hc_item_info info;

	assert_hc_ok(hc_set(c, KEY("k"), KEY("v1"), 0));
	memset(&info, 0, sizeof(info));
	assert_hc_ok(hc_get_ex(c, KEY("k"), buf, sizeof(buf), &info));
	assert_u64_equal(info.vlen, 2);
	assert_memory_equal(buf, "v1", 2);
	assert_u64_equal(info.ttl_ms, 0);
	uint64_t cas1 = info.cas;
	/* Reading does not change the CAS id. */
	assert_u64_equal(cas_of(c, KEY("k")), cas1);
	/* INFO may be NULL. */
	assert_hc_ok(hc_get_ex(c, KEY("k"), buf, sizeof(buf), NULL));

	uint64_t cas2 = cas1;
	assert_hc_ok(hc_cas(c, KEY("k"), KEY("v2"), 0, cas1, &cas2));
	if (cas2 == cas1)
		fail_msg("hc_cas gave the new item the old CAS id %llu",
		         (unsigned long long)cas1);
	assert_value(c, KEY("k"), "v2", 2);
	assert_u64_equal(cas_of(c, KEY("k")), cas2);

	/* The old id is stale now. */
	assert_hc(hc_cas(c, KEY("k"), KEY("v3"), 0, cas1, NULL),
	          HC_ECASMISMATCH);
	assert_value(c, KEY("k"), "v2", 2);
	assert_u64_equal(cas_of(c, KEY("k")), cas2);

	/* A plain set changes the id too. */
	assert_hc_ok(hc_set(c, KEY("k"), KEY("v4"), 0));
	uint64_t cas4 = cas_of(c, KEY("k"));
	if (cas4 == cas2)
		fail_msg("hc_set kept the CAS id %llu",
		         (unsigned long long)cas2);
	assert_hc(hc_cas(c, KEY("k"), KEY("v5"), 0, cas2, NULL),
	          HC_ECASMISMATCH);
	assert_value(c, KEY("k"), "v4", 2);
	assert_hc_ok(hc_cas(c, KEY("k"), KEY("v5"), 0, cas4, NULL));
	assert_value(c, KEY("k"), "v5", 2);

	/* Different keys have different ids. */
	assert_hc_ok(hc_set(c, KEY("other"), KEY("v5"), 0));
	if (cas_of(c, KEY("other")) == cas_of(c, KEY("k")))
		fail_msg("two items share the CAS id %llu",
		         (unsigned long long)cas_of(c, KEY("k")));

	assert_hc(hc_cas(c, KEY("missing"), KEY("x"), 0, cas4, NULL),
	          HC_ENOTFOUND);
	assert_missing(c, KEY("missing"));
	assert_hc_ok(hc_delete(c, KEY("other")));
	assert_hc(hc_cas(c, KEY("other"), KEY("x"), 0, cas4, NULL),
	          HC_ENOTFOUND);
	assert_missing(c, KEY("other"));
}

/* The client flags of an item, or a failed test. */
static uint32_t client_flags_of(hc_cache *c, const void *key, size_t klen)
{
	return item_info_of(c, key, klen).client_flags;
}

static int view_flags(void *arg, const hc_item_view *v)
{
	*(uint32_t *)arg = v->client_flags;
	return 1;
}

/* memcached's per-item flags: kept as set, by every path that rewrites an
 * item, and the store modes of hc_set_ex(). */
static void test_client_flags(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-client-flags", NULL);
	static const char *const tags[] = {"t1", "t2"};
	hc_set_options opt;
	uint64_t cas = 0, n = 0;
	uint32_t seen = 0;

	memset(&opt, 0, sizeof(opt));
	assert_hc_ok(hc_set(c, KEY("plain"), KEY("v"), 0));
	assert_u64_equal(client_flags_of(c, KEY("plain")), 0);

	opt.client_flags = 0xdeadbeefu;
	opt.tags = tags;
	opt.ntags = 2;
	opt.compute_ms = 40;
	opt.ttl_ms = 60000;
	opt.cas_out = &cas;
	assert_hc_ok(hc_set_ex(c, KEY("k"), KEY("12"), &opt));
	assert_value(c, KEY("k"), "12", 2);
	assert_u64_equal(client_flags_of(c, KEY("k")), 0xdeadbeefu);
	assert_u64_equal(hc_walk(c, KEY("k"), 0, view_flags, &seen), 1);
	assert_u64_equal(seen, 0xdeadbeefu);
	/* Rewrites keep them, and the tags still apply. */
	assert_hc_ok(hc_incr(c, KEY("k"), 5, &n));
	assert_u64_equal(n, 17);
	assert_u64_equal(client_flags_of(c, KEY("k")), 0xdeadbeefu);
	assert_hc_ok(hc_touch(c, KEY("k"), 120000));
	assert_u64_equal(client_flags_of(c, KEY("k")), 0xdeadbeefu);
	assert_hc_ok(hc_invalidate_tag(c, "t2"));
	assert_missing(c, KEY("k"));

	/* The store modes, with hc_add()'s, hc_replace()'s and hc_cas()'s
	 * answers. */
	memset(&opt, 0, sizeof(opt));
	opt.client_flags = 7;
	opt.mode = HC_STORE_REPLACE;
	assert_hc(hc_set_ex(c, KEY("m"), KEY("a"), &opt), HC_ENOTFOUND);
	assert_missing(c, KEY("m"));
	opt.mode = HC_STORE_ADD;
	opt.cas_out = &cas;
	assert_hc_ok(hc_set_ex(c, KEY("m"), KEY("b"), &opt));
	assert_hc(hc_set_ex(c, KEY("m"), KEY("c"), &opt), HC_EEXISTS);
	assert_value(c, KEY("m"), "b", 1);
	opt.mode = HC_STORE_CAS;
	opt.cas = cas + 1000;
	opt.client_flags = 8;
	assert_hc(hc_set_ex(c, KEY("m"), KEY("d"), &opt), HC_ECASMISMATCH);
	opt.cas = cas;
	assert_hc_ok(hc_set_ex(c, KEY("m"), KEY("e"), &opt));
	assert_value(c, KEY("m"), "e", 1);
	assert_u64_equal(client_flags_of(c, KEY("m")), 8);
	opt.mode = HC_STORE_REPLACE;
	opt.client_flags = 0;
	assert_hc_ok(hc_set_ex(c, KEY("m"), KEY("f"), &opt));
	assert_u64_equal(client_flags_of(c, KEY("m")), 0);
	opt.mode = 4;
	assert_hc(hc_set_ex(c, KEY("m"), KEY("g"), &opt), HC_EINVAL);
	assert_value(c, KEY("m"), "f", 1);
}

static void test_delete(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-delete", NULL);
	assert_hc_ok(hc_set(c, KEY("doomed"), KEY("v"), 0));
	assert_hc_ok(hc_set(c, KEY("neighbour"), KEY("n"), 0));
	assert_hc_ok(hc_delete(c, KEY("doomed")));
	assert_missing(c, KEY("doomed"));
	assert_value(c, KEY("neighbour"), "n", 1);
	assert_hc(hc_delete(c, KEY("doomed")), HC_ENOTFOUND);
	assert_hc(hc_delete(c, KEY("never-set")), HC_ENOTFOUND);
	/* A deleted key can be set again. */
	assert_hc_ok(hc_set(c, KEY("doomed"), KEY("back"), 0));
	assert_value(c, KEY("doomed"), "back", 4);
}

typedef int arith_fn(hc_cache *c, const void *key, size_t klen,
                     uint64_t delta, uint64_t *result);

/* ARITH (hc_incr or hc_decr) of KEY by DELTA gives WANT, and KEY then
 * reads as WANT in decimal. */
static void assert_arith(arith_fn *arith, hc_cache *c, const char *key,
                         uint64_t delta, uint64_t want)
{
	uint64_t result = 12345;
	char text[24];
	int n = snprintf(text, sizeof(text), "%llu", (unsigned long long)want);

	assert_hc_ok(arith(c, key, strlen(key), delta, &result));
	assert_u64_equal(result, want);
	assert_value(c, key, strlen(key), text, (size_t)n);
}

static void test_incr_decr(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-incr", NULL);
	uint64_t result = 12345;

	assert_hc_ok(hc_set(c, KEY("n"), KEY("10"), 0));
	assert_arith(hc_incr, c, "n", 5, 15);
	assert_arith(hc_decr, c, "n", 5, 10);

	/* RESULT may be NULL. */
	assert_hc_ok(hc_incr(c, KEY("n"), 90, NULL));
	assert_value(c, KEY("n"), "100", 3);

	/* Decrement floors at 0. */
	assert_hc_ok(hc_set(c, KEY("small"), KEY("3"), 0));
	assert_arith(hc_decr, c, "small", 5, 0);
	assert_hc_ok(hc_decr(c, KEY("small"), 1, &result));
	assert_u64_equal(result, 0);

	/* Increment wraps at 2^64. */
	assert_hc_ok(hc_set(c, KEY("max"), KEY("18446744073709551615"), 0));
	assert_arith(hc_incr, c, "max", 1, 0);
	assert_hc_ok(hc_set(c, KEY("max"), KEY("18446744073709551615"), 0));
	assert_hc_ok(hc_incr(c, KEY("max"), 3, &result));
	assert_u64_equal(result, 2);
	assert_arith(hc_decr, c, "max", 0, 2);

	/* Large values read back in full. */
	assert_hc_ok(hc_set(c, KEY("big"), KEY("18446744073709551610"), 0));
	assert_arith(hc_incr, c, "big", 5, UINT64_MAX);
}

static void test_incr_refuses_non_numbers(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-notnum", NULL);
	uint64_t result;
	static const char *const bad[] = { "abc", "12x", "-1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		assert_hc_ok(hc_set(c, KEY("k"), bad[i], len, 0));
		int rc = hc_incr(c, KEY("k"), 1, &result);
		if (rc != HC_ENOTNUM)
			fail_msg("hc_incr on \"%s\" returned %d (%s), "
			         "expected HC_ENOTNUM", bad[i], rc,
			         hc_strerror(rc));
		rc = hc_decr(c, KEY("k"), 1, &result);
		if (rc != HC_ENOTNUM)
			fail_msg("hc_decr on \"%s\" returned %d (%s), "
			         "expected HC_ENOTNUM", bad[i], rc,
			         hc_strerror(rc));
		assert_value(c, KEY("k"), bad[i], len);
	}

	assert_hc(hc_incr(c, KEY("missing"), 1, &result), HC_ENOTFOUND);
	assert_hc(hc_decr(c, KEY("missing"), 1, &result), HC_ENOTFOUND);
	assert_missing(c, KEY("missing"));
}

static void test_ttl_limit(void **state)
{
	hc_cache *c = test_fixture_create(*state, "ops-ttl", NULL);
	assert_hc(hc_set(c, KEY("k"), KEY("v"), HC_TTL_MAX + 1), HC_ETTL);
	assert_missing(c, KEY("k"));
	assert_hc(hc_add(c, KEY("k"), KEY("v"), UINT64_MAX), HC_ETTL);
	assert_missing(c, KEY("k"));

	/* HC_TTL_MAX itself is accepted. */
	assert_hc_ok(hc_set(c, KEY("k"), KEY("v"), HC_TTL_MAX));
	assert_value(c, KEY("k"), "v", 1);

	assert_hc(hc_replace(c, KEY("k"), KEY("w"), HC_TTL_MAX + 1), HC_ETTL);
	assert_hc(hc_cas(c, KEY("k"), KEY("w"), HC_TTL_MAX + 1,
	                 cas_of(c, KEY("k")), NULL),
	          HC_ETTL);
	assert_hc(hc_touch(c, KEY("k"), HC_TTL_MAX + 1), HC_ETTL);
	assert_value(c, KEY("k"), "v", 1);
}

static void test_null_arguments(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = test_fixture_create(f, "ops-null", NULL);
	char buf[16];
	size_t vlen;
	uint64_t result;
	hc_stats st;
	hc_info info;

	assert_hc(hc_set(NULL, KEY("k"), KEY("v"), 0), HC_EINVAL);
	assert_hc(hc_get(NULL, KEY("k"), buf, sizeof(buf), &vlen), HC_EINVAL);
	assert_hc(hc_delete(NULL, KEY("k")), HC_EINVAL);
	assert_hc(hc_incr(NULL, KEY("k"), 1, &result), HC_EINVAL);
	assert_hc(hc_touch(NULL, KEY("k"), 0), HC_EINVAL);
	assert_hc(hc_stats_get(NULL, &st), HC_EINVAL);
	assert_hc(hc_info_get(NULL, &info), HC_EINVAL);

	assert_hc(hc_set(c, NULL, 3, KEY("v"), 0), HC_EINVAL);
	assert_hc(hc_get(c, NULL, 3, buf, sizeof(buf), &vlen), HC_EINVAL);
	assert_hc(hc_delete(c, NULL, 3), HC_EINVAL);
	/* A NULL value with a length, a NULL buffer with a capacity. */
	assert_hc(hc_set(c, KEY("k"), NULL, 5, 0), HC_EINVAL);
	assert_missing(c, KEY("k"));
	assert_hc_ok(hc_set(c, KEY("k"), KEY("v"), 0));
	assert_hc(hc_get(c, KEY("k"), NULL, 16, &vlen), HC_EINVAL);

	assert_hc(hc_stats_get(c, NULL), HC_EINVAL);
	assert_hc(hc_info_get(c, NULL), HC_EINVAL);
	assert_hc(hc_open(f->name, NULL), HC_EINVAL);
	hc_config cfg;
	hc_config_init(&cfg);
	assert_hc(hc_create(f->name, &cfg, NULL), HC_EINVAL);
	assert_value(c, KEY("k"), "v", 1);
}

/* The counters a test moves: AFTER - BEFORE. */
static void assert_counter_delta(const char *what, uint64_t before,
                                 uint64_t after, uint64_t want, int exact)
{
	if (after < before)
		fail_msg("%s went backwards: %llu -> %llu", what,
		         (unsigned long long)before,
		         (unsigned long long)after);
	uint64_t got = after - before;
	if (exact ? got != want : got < want)
		fail_msg("%s grew by %llu, expected %s%llu", what,
		         (unsigned long long)got, exact ? "" : ">= ",
		         (unsigned long long)want);
}

static void check_stats_delta(const hc_stats *a, const hc_stats *b,
                              const char *which)
{
	char what[64];
	snprintf(what, sizeof(what), "%s sets", which);
	assert_counter_delta(what, a->sets, b->sets, 20, 0);
	snprintf(what, sizeof(what), "%s hits", which);
	assert_counter_delta(what, a->hits, b->hits, 20, 1);
	snprintf(what, sizeof(what), "%s misses", which);
	assert_counter_delta(what, a->misses, b->misses, 7, 1);
	snprintf(what, sizeof(what), "%s gets", which);
	assert_counter_delta(what, a->gets, b->gets, 27, 1);
	snprintf(what, sizeof(what), "%s deletes", which);
	assert_counter_delta(what, a->deletes, b->deletes, 3, 1);
}

static void test_stats(void **state)
{
	struct test_fixture *f = *state;
	hc_cache *c = test_fixture_create(f, "ops-stats", NULL);
	hc_stats all0, self0, all1, self1;

	/* Something to count before the first sample. */
	assert_hc_ok(hc_set(c, KEY("warm"), KEY("up"), 0));
	assert_value(c, KEY("warm"), "up", 2);
	assert_hc_ok(hc_stats_get(c, &all0));
	assert_hc_ok(hc_stats_self(c, &self0));

	char key[32], buf[32];
	size_t vlen;
	for (int i = 0; i < 20; i++) {
		int n = snprintf(key, sizeof(key), "stats-key-%d", i);
		assert_hc_ok(hc_set(c, key, (size_t)n, key, (size_t)n, 0));
	}
	for (int i = 0; i < 20; i++) {
		int n = snprintf(key, sizeof(key), "stats-key-%d", i);
		assert_hc_ok(hc_get(c, key, (size_t)n, buf, sizeof(buf), &vlen));
	}
	for (int i = 0; i < 7; i++) {
		int n = snprintf(key, sizeof(key), "stats-absent-%d", i);
		assert_hc(hc_get(c, key, (size_t)n, buf, sizeof(buf), &vlen),
		          HC_ENOTFOUND);
	}
	for (int i = 0; i < 3; i++) {
		int n = snprintf(key, sizeof(key), "stats-key-%d", i);
		assert_hc_ok(hc_delete(c, key, (size_t)n));
	}

	assert_hc_ok(hc_stats_get(c, &all1));
	assert_hc_ok(hc_stats_self(c, &self1));
	check_stats_delta(&all0, &all1, "hc_stats_get");
	check_stats_delta(&self0, &self1, "hc_stats_self");

	/* 17 of the 20 plus "warm" are live. */
	if (all1.items < 18)
		fail_msg("stats.items is %llu with 18 live keys",
		         (unsigned long long)all1.items);
	if (all1.bytes_live == 0)
		fail_msg("stats.bytes_live is 0 with 18 live keys");
	assert_u64_equal(all1.evictions, 0);
	assert_u64_equal(all1.procs_attached, 1);
	assert_u64_equal(all1.procs_max, TEST_SEG_PROCS);
	assert_u64_equal(all1.blocks_total, f->info.blocks);
	assert_u64_equal(all1.bytes_limit,
	                 (uint64_t)f->info.blocks * f->info.block_size);
	assert_u64_equal(all1.blocks_free + all1.blocks_open +
	                         all1.blocks_sealed + all1.blocks_evicting,
	                 all1.blocks_total);
	assert_true(all1.blocks_open >= 1);

	/* This process is the only one: its own counters are the totals. */
	assert_u64_equal(self1.sets, all1.sets);
	assert_u64_equal(self1.hits, all1.hits);
	assert_u64_equal(self1.misses, all1.misses);
}

int main(void)
{
	const struct CMUnitTest group[] = {
		fixture_test(test_set_get_roundtrip),
		fixture_test(test_get_every_alignment),
		fixture_test(test_empty_value),
		fixture_test(test_buffer_too_small),
		fixture_test(test_get_missing),
		fixture_test(test_key_length_limits),
		fixture_test(test_configured_key_length),
		fixture_test(test_value_size_limits),
		fixture_test(test_set_overwrites),
		fixture_test(test_add),
		fixture_test(test_replace),
		fixture_test(test_cas),
		fixture_test(test_client_flags),
		fixture_test(test_delete),
		fixture_test(test_incr_decr),
		fixture_test(test_incr_refuses_non_numbers),
		fixture_test(test_ttl_limit),
		fixture_test(test_null_arguments),
		fixture_test(test_stats),
	};
	return run_tap_group(group, NULL, NULL);
}
