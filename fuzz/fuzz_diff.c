/*
 * fuzz_diff - differential fuzzer: the input is a program of API calls run
 * on a real (small) segment and on a model, and every answer of the cache
 * must be one that its rules allow.
 *
 * The model knows, per key of a small key space, either that the key is
 * absent (never set, deleted, or seen missing: in one thread nothing brings
 * a key back but our own writes) or the last value written and maybe its
 * CAS id and a time after which it must have expired.  A cache may forget,
 * so where the model says "maybe present" every answer that means "absent"
 * is allowed (and the model learns the key is absent).  Never allowed:
 *   - a get returning anything but the last value written, whole;
 *   - a hit, an EEXISTS from add, or a successful replace, cas, incr,
 *     touch or delete for a key known absent; an add of such a key failing;
 *   - a cas succeeding with a CAS id that is not the item's, or failing
 *     with HC_ECASMISMATCH with the id a get just reported;
 *   - an incr/decr result that does not follow from the value (decimal,
 *     wrapping at 2^64, flooring at 0), or one on a non-number;
 *   - a CAS id that changes without a write (touch keeps it);
 *   - a hit after the item's TTL (plus clock slack) has passed;
 *   - a hit, for any key, on a value written before an invalidation that
 *     applies to it (hc_flush, hc_invalidate_prefix with and without the
 *     delimiter, hc_invalidate_tag on values set with hc_set_ex tags);
 *   - an invalid argument accepted, or a refused call changing anything;
 *   - hc_check finding a problem, hc_walk showing an item the model does
 *     not have;
 *   - a negative entry (hc_set_ex with HC_ITEM_NEGATIVE) read as a value,
 *     or HC_ENEGATIVE for a key whose last write was a value;
 *   - hc_get_many / hc_set_many answering for a key what hc_get / hc_set
 *     could not;
 *   - a lease granted to the other handle while one is held, or a lease
 *     fill whose value reads after an invalidation made since the grant
 *     (flush, a prefix with or without the delimiter): the grant's time
 *     is the value's.
 * Two handles (two process slots) take turns; one can "die" (its
 * descriptor closed without detaching, as SIGKILL would leave it) and
 * attach again, which makes the survivors reap its slot and open block.
 *
 * Build and run: make fuzz (mk/fuzz.mk).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "fuzz_input.h"

#define NKEYS 16
#define MAX_KEY 32
#define VALUE_CAP 4096
#define MAX_OPS 1000
#define MAX_SLEEP_MS 40


enum state { ABSENT, MAYBE };

/* Tags that hc_set_ex may give a value; bit i of model_key.tags. */
static const char *const tag_names[] = { "red", "green", "blue" };
#define NTAGS 3

struct model_key {
	enum state state;
	unsigned tags;         /* tags of the last value written */
	int invalidated;       /* absent by an invalidation, its entry maybe
	                          still indexed (see op_delete) */
	int negative;          /* the last write was a negative entry */
	uint32_t client_flags; /* of the last write (hc_set_ex; others 0) */
	uint32_t len;
	unsigned char val[VALUE_CAP];
	int cas_known;
	uint64_t cas;
	uint64_t must_expire_ns; /* 0: no TTL */
};

static struct {
	char name[64];
	hc_cache *h[2];
	struct model_key m[NKEYS];
	uint32_t max_value;
	uint64_t seq;
	uint64_t slack_ns;
	unsigned slept_ms;
	int may_sleep;
	struct pending {       /* a lease held on key k, not yet filled */
		hc_lease lease;
		unsigned who;      /* the handle holding it */
		int written;       /* the key was written since the grant */
		int invalidated;   /* an invalidation since the grant applies */
	} pending[NKEYS];
	int held[NKEYS];
	unsigned char buf[VALUE_CAP + 64];
	unsigned char val[VALUE_CAP + 64];
} F;

/* The key space: short keys, the longest allowed, keys with NUL bytes
 * and keys that are prefixes of each other. */
static const struct {
	const char *k;
	size_t len;
} keys[NKEYS] = {
	{ "a", 1 }, { "b", 1 }, { "ab", 2 }, { "abc", 3 }, { "user:1", 6 },
	{ "user:2", 6 }, { "user:10", 7 }, { "k7", 2 }, { "k8", 2 }, { "k9", 2 },
	{ "\0", 1 }, { "a\0b", 3 }, { "a\0c", 3 }, { "\0\0\0\0", 4 },
	{ "0123456789abcdef0123456789abcdef", MAX_KEY }, { "zz", 2 },
};

#define fail(...) fuzz_fail("fuzz_diff: DIVERGENCE: ", __VA_ARGS__)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Has the model's deadline for key I passed?  Then it must read absent. */
static int must_be_expired(const struct model_key *m)
{
	return m->must_expire_ns != 0 && mono_ns() > m->must_expire_ns;
}

/* The key is gone for good: expired past doubt, or known absent. */
static int known_absent(const struct model_key *m)
{
	return m->state == ABSENT || must_be_expired(m);
}

static uint64_t ttl_of(uint8_t b)
{
	if (b < 200)
		return 0;
	if (b < 250)
		return (uint64_t)(b - 199); /* 1..50 ms */
	return 1000000; /* long: never expires during a run */
}

static void model_write(struct model_key *m, const void *val, uint32_t len,
                        uint64_t ttl_ms, uint64_t t_end)
{
	m->state = MAYBE;
	m->tags = 0;
	m->client_flags = 0;
	m->invalidated = 0;
	m->negative = 0;
	if (F.held[m - F.m])
		F.pending[m - F.m].written = 1;
	m->len = len;
	memcpy(m->val, val, len);
	m->cas_known = 0;
	m->must_expire_ns = ttl_ms ? t_end + ttl_ms * 1000000ULL + F.slack_ns : 0;
}

/* An invalidation applies to M: whatever it held reads absent from now. */
static void model_invalidate(struct model_key *m)
{
	if (m->state == MAYBE)
		m->invalidated = 1;
	m->state = ABSENT;
	m->cas_known = 0;
	m->must_expire_ns = 0;
}

static void model_forget(struct model_key *m)
{
	m->state = ABSENT;
	m->invalidated = 0;
	m->negative = 0;
	m->cas_known = 0;
	m->must_expire_ns = 0;
}

/* An invalidation of key I (flush, prefix): a fill of a lease granted
 * before it must not read.  (A tag does not apply: fills carry no tags.) */
static void pending_invalidate(unsigned i)
{
	if (F.held[i])
		F.pending[i].invalidated = 1;
}

static uint32_t value_make(struct input *in, unsigned key)
{
	uint32_t len = ((uint32_t)next(in) << 8 | next(in)) % (F.max_value + 1);

	F.seq++;
	for (uint32_t i = 0; i < len; i++)
		F.val[i] = (unsigned char)(F.seq * 131 + i * 7 + key);
	return len;
}

/* A decimal (or nearly decimal) value for incr/decr. */
static uint32_t number_make(struct input *in)
{
	uint8_t b = next(in);
	char s[40];
	int n;

	switch (next(in) % 8) {
	case 0:
		n = snprintf(s, sizeof s, "%u", b);
		break;
	case 1:
		n = snprintf(s, sizeof s, "%" PRIu64, UINT64_MAX - b);
		break;
	case 2:
		n = snprintf(s, sizeof s, "99999999999999999999"); /* > 2^64 */
		break;
	case 3:
		n = snprintf(s, sizeof s, "000%u", b); /* leading zeros */
		break;
	case 4:
		n = snprintf(s, sizeof s, "-%u", b);
		break;
	case 5:
		n = 0; /* empty */
		break;
	case 6:
		n = snprintf(s, sizeof s, "123456789012345678901"); /* 21 digits */
		break;
	default:
		n = snprintf(s, sizeof s, "%u ", b); /* trailing junk */
		break;
	}
	memcpy(F.val, s, (size_t)n);
	return (uint32_t)n;
}

/* The library's rule for numbers: 1..20 digits, no sign, fits 64 bits. */
static int model_number(const struct model_key *m, uint64_t *out)
{
	uint64_t v = 0;

	if (m->len == 0 || m->len > 20)
		return -1;
	for (uint32_t i = 0; i < m->len; i++) {
		if (m->val[i] < '0' || m->val[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(m->val[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static void op_get(hc_cache *c, unsigned k, struct input *in, int ex)
{
	struct model_key *m = &F.m[k];
	uint8_t capb = next(in);
	size_t cap = capb < 16 ? capb : capb < 32 ? 0 : sizeof F.buf;
	hc_item_info info;
	int absent = known_absent(m);
	int rc = hc_get_ex(c, keys[k].k, keys[k].len, cap ? F.buf : NULL, cap, &info);

	if (rc == HC_ENOTFOUND) {
		model_forget(m);
		return;
	}
	if (rc != 0 && rc != HC_EBUFSIZE && rc != HC_ENEGATIVE)
		fail("get key %u: unexpected %d (%s)", k, rc, hc_strerror(rc));
	if (absent)
		fail("get key %u: %s for a key known absent%s", k, hc_strerror(rc),
		     m->state == MAYBE ? " (its TTL has passed)" : "");
	if ((rc == HC_ENEGATIVE) != m->negative)
		fail("get key %u: %s, and the last write was %s", k,
		     hc_strerror(rc), m->negative ? "a negative entry" : "a value");
	if (rc == HC_ENEGATIVE)
		return;
	if (info.vlen != m->len)
		fail("get key %u: length %u, last written %u", k, info.vlen, m->len);
	if (rc == HC_EBUFSIZE) {
		if (cap >= m->len)
			fail("get key %u: HC_EBUFSIZE with room %zu for %u bytes", k,
			     cap, m->len);
	} else {
		if (cap < m->len)
			fail("get key %u: success into %zu bytes for %u", k, cap, m->len);
		if (memcmp(F.buf, m->val, m->len) != 0)
			fail("get key %u: value is not the last one written", k);
	}
	if (info.client_flags != m->client_flags)
		fail("get key %u: client flags %#" PRIx32 ", last written %#" PRIx32,
		     k, info.client_flags, m->client_flags);
	if (ex && m->cas_known && info.cas != m->cas)
		fail("get key %u: CAS id %" PRIu64 " changed to %" PRIu64
		     " without a write", k, m->cas, info.cas);
	m->cas = info.cas;
	m->cas_known = 1;
}

static void op_store(hc_cache *c, unsigned k, struct input *in, int mode)
{
	struct model_key *m = &F.m[k];
	uint32_t len = mode == 4 ? number_make(in) : value_make(in, k);
	uint64_t ttl = ttl_of(next(in));
	int absent = known_absent(m);
	int rc;
	const char *what = "set";

	switch (mode) {
	case 1:
		what = "add";
		rc = hc_add(c, keys[k].k, keys[k].len, F.val, len, ttl);
		break;
	case 2:
		what = "replace";
		rc = hc_replace(c, keys[k].k, keys[k].len, F.val, len, ttl);
		break;
	default:
		rc = hc_set(c, keys[k].k, keys[k].len, F.val, len, ttl);
		break;
	}
	uint64_t t_end = mono_ns();

	if (rc == 0) {
		if (mode == 2 && absent)
			fail("replace key %u: succeeded on a key known absent", k);
		model_write(m, F.val, len, ttl, t_end);
		return;
	}
	if (mode == 1 && rc == HC_EEXISTS) {
		if (absent)
			fail("add key %u: HC_EEXISTS for a key known absent", k);
		return;
	}
	if (mode == 2 && rc == HC_ENOTFOUND) {
		int inv = m->invalidated; /* replace leaves the entry */

		model_forget(m);
		m->invalidated = inv;
		return;
	}
	fail("%s key %u (%u bytes): unexpected %d (%s): %s", what, k, len, rc,
	     hc_strerror(rc), hc_last_error());
}

static void op_cas(hc_cache *c, unsigned k, struct input *in)
{
	struct model_key *m = &F.m[k];
	int right = next(in) % 3 != 0 && m->cas_known;
	uint64_t cas = right ? m->cas : m->cas_known ? m->cas + 1 : 0;
	uint32_t len = value_make(in, k);
	uint64_t ttl = ttl_of(next(in)), new_cas = 0;
	int absent = known_absent(m);
	int rc = hc_cas(c, keys[k].k, keys[k].len, F.val, len, ttl, cas, &new_cas);
	uint64_t t_end = mono_ns();

	if (rc == HC_ENOTFOUND) {
		int inv = m->invalidated; /* cas leaves the entry */

		model_forget(m);
		m->invalidated = inv;
		return;
	}
	if (absent)
		fail("cas key %u: %d (%s) for a key known absent", k, rc,
		     hc_strerror(rc));
	if (rc == 0) {
		if (!right)
			fail("cas key %u: succeeded with a wrong CAS id %" PRIu64, k, cas);
		model_write(m, F.val, len, ttl, t_end);
		m->cas = new_cas;
		m->cas_known = 1;
		return;
	}
	if (rc == HC_ECASMISMATCH) {
		if (right)
			fail("cas key %u: HC_ECASMISMATCH with the id a get reported", k);
		return;
	}
	fail("cas key %u: unexpected %d (%s)", k, rc, hc_strerror(rc));
}

static void op_delete(hc_cache *c, unsigned k)
{
	struct model_key *m = &F.m[k];
	int absent = known_absent(m);
	int rc = hc_delete(c, keys[k].k, keys[k].len);

	/* An invalidated key is absent for delete too (this once reported
	 * success; tests/t_delete_invalidated.c). */
	if (rc == 0 && absent)
		fail("delete key %u: succeeded on a key known absent", k);
	if (rc != 0 && rc != HC_ENOTFOUND)
		fail("delete key %u: unexpected %d (%s)", k, rc, hc_strerror(rc));
	model_forget(m);
}

static void op_arith(hc_cache *c, unsigned k, struct input *in, int incr)
{
	struct model_key *m = &F.m[k];
	uint8_t b = next(in);
	uint64_t delta = b < 128 ? b : b < 250 ? (uint64_t)b << 40 : UINT64_MAX - b;
	uint64_t result = 0, v = 0;
	int absent = known_absent(m);
	int rc = incr ? hc_incr(c, keys[k].k, keys[k].len, delta, &result)
	              : hc_decr(c, keys[k].k, keys[k].len, delta, &result);

	if (rc == HC_ENOTFOUND) {
		model_forget(m);
		return;
	}
	if (absent)
		fail("%s key %u: %d (%s) for a key known absent", incr ? "incr" : "decr",
		     k, rc, hc_strerror(rc));
	int numeric = model_number(m, &v) == 0;

	if (rc == HC_ENOTNUM) {
		if (numeric)
			fail("incr/decr key %u: HC_ENOTNUM for %" PRIu64, k, v);
		return;
	}
	if (rc != 0)
		fail("incr/decr key %u: unexpected %d (%s)", k, rc, hc_strerror(rc));
	if (!numeric)
		fail("incr/decr key %u: succeeded on a value that is not a number", k);
	uint64_t want = incr ? v + delta : (v > delta ? v - delta : 0);

	if (result != want)
		fail("%s key %u: %" PRIu64 " %s %" PRIu64 " gave %" PRIu64
		     ", expected %" PRIu64, incr ? "incr" : "decr", k, v,
		     incr ? "+" : "-", delta, result, want);
	char s[24];
	int n = snprintf(s, sizeof s, "%" PRIu64, result);
	uint64_t keep_expiry = m->must_expire_ns;
	unsigned keep_tags = m->tags;
	int keep_negative = m->negative;
	uint32_t keep_client = m->client_flags;

	model_write(m, s, (uint32_t)n, 0, 0);
	m->must_expire_ns = keep_expiry; /* incr keeps the expiry */
	m->tags = keep_tags;             /* and the tags */
	m->negative = keep_negative;     /* and the flags */
	m->client_flags = keep_client;
}

static void op_touch(hc_cache *c, unsigned k, struct input *in)
{
	struct model_key *m = &F.m[k];
	uint64_t ttl = ttl_of(next(in));
	int absent = known_absent(m);
	int rc = hc_touch(c, keys[k].k, keys[k].len, ttl);
	uint64_t t_end = mono_ns();

	if (rc == HC_ENOTFOUND) {
		model_forget(m);
		return;
	}
	if (rc != 0)
		fail("touch key %u: unexpected %d (%s)", k, rc, hc_strerror(rc));
	if (absent)
		fail("touch key %u: succeeded on a key known absent", k);
	m->must_expire_ns = ttl ? t_end + ttl * 1000000ULL + F.slack_ns : 0;
}

/* Calls that must be refused, and change nothing (the next reads of the
 * key check that). */
static void op_invalid(hc_cache *c, unsigned k, struct input *in)
{
	static const char longkey[MAX_KEY + 2] = "0123456789abcdef0123456789abcdefX";
	uint64_t r = 0;
	int rc, want;
	const char *what;

	memset(F.val, 'v', F.max_value + 1);
	switch (next(in) % 8) {
	case 0:
		what = "set of an empty key";
		want = HC_EKEYLEN;
		rc = hc_set(c, "", 0, F.val, 1, 0);
		break;
	case 1:
		what = "set of a key over the limit";
		want = HC_EKEYLEN;
		rc = hc_set(c, longkey, MAX_KEY + 1, F.val, 1, 0);
		break;
	case 2:
		what = "set of a value over the limit";
		want = HC_EVALUE;
		rc = hc_set(c, keys[k].k, keys[k].len, F.val, F.max_value + 1, 0);
		break;
	case 3:
		what = "set with a TTL over the limit";
		want = HC_ETTL;
		rc = hc_set(c, keys[k].k, keys[k].len, F.val, 1, HC_TTL_MAX + 1);
		break;
	case 4:
		what = "touch with a TTL over the limit";
		want = HC_ETTL;
		rc = hc_touch(c, keys[k].k, keys[k].len, UINT64_MAX);
		break;
	case 5:
		what = "incr of a key over the limit";
		want = HC_EKEYLEN;
		rc = hc_incr(c, longkey, MAX_KEY + 1, 1, &r);
		break;
	case 6:
		what = "add with a NULL key";
		want = HC_EINVAL;
		rc = hc_add(c, NULL, 3, F.val, 1, 0);
		break;
	default:
		what = "get into a NULL buffer";
		want = HC_EINVAL;
		rc = hc_get(c, keys[k].k, keys[k].len, NULL, 8, NULL);
		break;
	}
	if (rc != want)
		fail("%s: %d (%s), expected %d (%s)", what, rc, hc_strerror(rc), want,
		     hc_strerror(want));
}

static void op_set_tagged(hc_cache *c, unsigned k, struct input *in)
{
	struct model_key *m = &F.m[k];
	unsigned mask = next(in) % (1u << NTAGS);
	uint32_t len = value_make(in, k);
	const char *tags[NTAGS];
	unsigned n = 0;
	uint64_t cas = 0;
	hc_set_options opt;

	for (unsigned t = 0; t < NTAGS; t++)
		if (mask & (1u << t))
			tags[n++] = tag_names[t];
	memset(&opt, 0, sizeof opt);
	opt.ttl_ms = ttl_of(next(in));
	opt.tags = tags;
	opt.ntags = n;
	opt.cas_out = &cas;
	uint8_t fb = next(in);
	/* Client flags half the time, the highest bit among them. */
	opt.client_flags = fb < 128 ? 0 : fb == 255 ? UINT32_MAX : 0x01000193u * fb;
	int rc = hc_set_ex(c, keys[k].k, keys[k].len, F.val, len, &opt);

	if (rc != 0)
		fail("set_ex key %u with %u tags: %d (%s): %s", k, n, rc,
		     hc_strerror(rc), hc_last_error());
	model_write(m, F.val, len, opt.ttl_ms, mono_ns());
	m->tags = mask;
	m->client_flags = opt.client_flags;
	m->cas = cas;
	m->cas_known = 1;
}

static int has_prefix(unsigned k, const char *p, size_t len)
{
	return keys[k].len >= len && memcmp(keys[k].k, p, len) == 0;
}

static void op_invalidate(hc_cache *c, unsigned k, struct input *in)
{
	static const struct {
		const char *p;
		size_t len;
	} prefixes[] = {
		{ "user:", 5 }, { "user:1", 6 }, { "a", 1 }, { "a\0", 2 }, { "k", 1 },
		{ "\0", 1 }, { "ab", 2 }, { "z", 1 },
	};
	uint8_t b = next(in);
	uint64_t count = UINT64_MAX;
	int rc;

	switch (b % 4) {
	case 0:
		if ((rc = hc_flush(c)) != 0)
			fail("flush: %d (%s)", rc, hc_strerror(rc));
		for (unsigned i = 0; i < NKEYS; i++) {
			model_invalidate(&F.m[i]);
			pending_invalidate(i);
		}
		return;
	case 1: case 2: {
		unsigned j = (unsigned)(b >> 2) % (sizeof prefixes / sizeof prefixes[0]);
		const char *p = prefixes[j].p;
		size_t len = prefixes[j].len;
		int by_word = p[len - 1] == ':';
		uint64_t could = 0;

		for (unsigned i = 0; i < NKEYS; i++)
			could += has_prefix(i, p, len) && F.m[i].state == MAYBE;
		if ((rc = hc_invalidate_prefix(c, p, len, &count)) != 0)
			fail("invalidate prefix %u: %d (%s)", j, rc, hc_strerror(rc));
		/* A scan drops the entries: the keys are plainly absent. */
		if (!by_word && count > could)
			fail("invalidate prefix %u dropped %llu items, at most %llu "
			     "could be there", j, (unsigned long long)count,
			     (unsigned long long)could);
		if (by_word && count != 0)
			fail("invalidate prefix %u (ends at the delimiter) reported %llu",
			     j, (unsigned long long)count);
		for (unsigned i = 0; i < NKEYS; i++)
			if (has_prefix(i, p, len)) {
				pending_invalidate(i);
				if (by_word)
					model_invalidate(&F.m[i]);
				else
					model_forget(&F.m[i]);
			}
		return;
	}
	default: {
		unsigned t = (unsigned)(b >> 2) % NTAGS;

		if ((rc = hc_invalidate_tag(c, tag_names[t])) != 0)
			fail("invalidate tag %u: %d (%s)", t, rc, hc_strerror(rc));
		for (unsigned i = 0; i < NKEYS; i++)
			if (F.m[i].state == MAYBE && (F.m[i].tags & (1u << t)))
				model_invalidate(&F.m[i]);
		(void)k;
		return;
	}
	}
}

static void check_report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "fuzz_diff: check: %s\n", msg);
}

static int walk_item(void *arg, const hc_item_view *v)
{
	(void)arg;
	for (unsigned k = 0; k < NKEYS; k++) {
		if (v->klen != keys[k].len || memcmp(v->key, keys[k].k, v->klen) != 0)
			continue;
		const struct model_key *m = &F.m[k];

		if (m->state == ABSENT)
			fail("walk: key %u is visible but known absent", k);
		if (v->vlen != m->len || memcmp(v->value, m->val, m->len) != 0)
			fail("walk: key %u has a value that is not the last written", k);
		return 0;
	}
	fail("walk: an item whose key (%u bytes) was never written", v->klen);
}

/* What a read of key K (hc_get semantics) answered: RC, VLEN, and the
 * value in BUF when it fit CAP.  Shared by the batch and lease reads. */
static void check_read(const char *what, unsigned k, int rc, size_t vlen,
                       const unsigned char *buf, size_t cap)
{
	struct model_key *m = &F.m[k];

	if (rc == HC_ENOTFOUND) {
		model_forget(m);
		return;
	}
	if (rc != 0 && rc != HC_EBUFSIZE && rc != HC_ENEGATIVE)
		fail("%s key %u: unexpected %d (%s)", what, k, rc, hc_strerror(rc));
	if (known_absent(m))
		fail("%s key %u: %s for a key known absent", what, k, hc_strerror(rc));
	if ((rc == HC_ENEGATIVE) != m->negative)
		fail("%s key %u: %s, and the last write was %s", what, k,
		     hc_strerror(rc), m->negative ? "a negative entry" : "a value");
	if (rc == HC_ENEGATIVE)
		return;
	if (vlen != m->len)
		fail("%s key %u: length %zu, last written %u", what, k, vlen, m->len);
	if (rc == 0 && (cap < m->len || memcmp(buf, m->val, m->len) != 0))
		fail("%s key %u: value is not the last one written", what, k);
	if (rc == HC_EBUFSIZE && cap >= m->len)
		fail("%s key %u: HC_EBUFSIZE with room for the value", what, k);
}

/* A negative entry: "known absent at the source", cached. */
static void op_set_negative(hc_cache *c, unsigned k, struct input *in)
{
	struct model_key *m = &F.m[k];
	uint32_t len = value_make(in, k) % 8;
	hc_set_options opt;

	memset(&opt, 0, sizeof opt);
	opt.ttl_ms = ttl_of(next(in));
	opt.flags = HC_ITEM_NEGATIVE;
	int rc = hc_set_ex(c, keys[k].k, keys[k].len, F.val, len, &opt);

	if (rc != 0)
		fail("negative set_ex key %u: %d (%s): %s", k, rc, hc_strerror(rc),
		     hc_last_error());
	model_write(m, F.val, len, opt.ttl_ms, mono_ns());
	m->negative = 1;
}

#define BATCH_MAX 4

static void op_get_many(hc_cache *c, unsigned k, struct input *in)
{
	static unsigned char bufs[BATCH_MAX][VALUE_CAP];
	const void *ks[BATCH_MAX];
	void *bs[BATCH_MAX];
	size_t kl[BATCH_MAX], caps[BATCH_MAX], vlens[BATCH_MAX];
	unsigned which[BATCH_MAX];
	int results[BATCH_MAX];
	size_t n = 1 + next(in) % BATCH_MAX;

	for (size_t i = 0; i < n; i++) {
		which[i] = i == 0 ? k : next(in) % NKEYS;
		ks[i] = keys[which[i]].k;
		kl[i] = keys[which[i]].len;
		bs[i] = bufs[i];
		caps[i] = next(in) < 16 ? 8 : VALUE_CAP;
		vlens[i] = 0;
	}
	int hits = hc_get_many(c, n, ks, kl, bs, caps, vlens, results);
	int count = 0;

	for (size_t i = 0; i < n; i++) {
		count += results[i] == 0;
		check_read("get_many", which[i], results[i], vlens[i], bufs[i],
		           caps[i]);
	}
	if (hits != count)
		fail("get_many: returned %d hits, results show %d", hits, count);
}

static void op_set_many(hc_cache *c, unsigned k, struct input *in)
{
	static unsigned char vals[BATCH_MAX][VALUE_CAP];
	const void *ks[BATCH_MAX], *vs[BATCH_MAX];
	size_t kl[BATCH_MAX], vl[BATCH_MAX];
	unsigned which[BATCH_MAX];
	int results[BATCH_MAX];
	size_t n = 1 + next(in) % BATCH_MAX;
	uint64_t ttl = ttl_of(next(in));

	for (size_t i = 0; i < n; i++) {
		which[i] = i == 0 ? k : next(in) % NKEYS;
		ks[i] = keys[which[i]].k;
		kl[i] = keys[which[i]].len;
		vl[i] = value_make(in, which[i]);
		memcpy(vals[i], F.val, vl[i]);
		vs[i] = vals[i];
	}
	int failed = hc_set_many(c, n, ks, kl, vs, vl, ttl, results);
	uint64_t t_end = mono_ns();

	if (failed != 0)
		fail("set_many of %zu keys: %d failed (first result %d %s)", n,
		     failed, results[0], hc_strerror(results[0]));
	/* In order: a key given twice ends with its last value. */
	for (size_t i = 0; i < n; i++)
		model_write(&F.m[which[i]], vals[i], (uint32_t)vl[i], ttl, t_end);
}

/* hc_get_or_lease from handle WHO.  A lease it is granted stays pending
 * until op_lease_end fills or abandons it. */
static void op_lease(unsigned who, unsigned k, struct input *in)
{
	hc_cache *c = F.h[who];
	struct pending *p = &F.pending[k];
	hc_item_info info;
	hc_lease lease;

	if (F.held[k] && p->who == who)
		return; /* asking again for a lease it holds: not modelled */
	size_t cap = next(in) < 16 ? 8 : sizeof F.buf;
	int rc = hc_get_or_lease(c, keys[k].k, keys[k].len, F.buf, cap, &info,
	                         60000, 0, &lease);

	if (rc == HC_ETIMEDOUT) {
		/* Someone holds it: only one of our handles can. */
		if (!F.held[k])
			fail("lease key %u: HC_ETIMEDOUT and no lease is held", k);
		return;
	}
	if (lease.held && F.held[k])
		fail("lease key %u: granted to handle %u while handle %u holds it",
		     k, who, p->who);
	check_read("get_or_lease", k, rc,
	           rc == HC_ENOTFOUND ? 0 : info.vlen, F.buf, cap);
	if (lease.held) {
		if (rc != HC_ENOTFOUND)
			fail("lease key %u: granted with a value (%d)", k, rc);
		F.held[k] = 1;
		p->lease = lease;
		p->who = who;
		p->written = p->invalidated = 0;
	}
}

/* Fill or abandon the lease pending on K. */
static void op_lease_end(unsigned k, struct input *in)
{
	struct pending *p = &F.pending[k];
	struct model_key *m = &F.m[k];

	if (!F.held[k])
		return;
	hc_cache *c = F.h[p->who];
	int rc;

	F.held[k] = 0;
	if (next(in) % 4 == 0 || p->written) {
		/* A fill after a newer write is kept out by the newer value,
		 * unless that one was evicted meanwhile: the model cannot
		 * tell, so such a lease is given back. */
		rc = hc_lease_abandon(c, &p->lease);
		if (rc != 0)
			fail("lease key %u: abandon: %d (%s)", k, rc, hc_strerror(rc));
		return;
	}
	uint32_t len = value_make(in, k);

	rc = hc_lease_fill(c, &p->lease, keys[k].k, keys[k].len, F.val, len, NULL);
	if (rc != 0)
		fail("lease key %u: fill: %d (%s): %s", k, rc, hc_strerror(rc),
		     hc_last_error());
	if (p->invalidated) {
		/* Computed from what the source held before the
		 * invalidation: it must not read. */
		model_forget(m);
		m->invalidated = 1;
	} else {
		model_write(m, F.val, len, 0, mono_ns());
	}
}

/* Right after a write, with no other write in between, nothing can have
 * made the key forget (eviction and bucket eviction happen in writes, an
 * open block is never evicted): a get must return exactly the value.  This
 * is also "an item written after an invalidation is visible". */
static void read_your_write(hc_cache *c, unsigned k)
{
	const struct model_key *m = &F.m[k];
	hc_item_info info;

	if (m->state != MAYBE || m->must_expire_ns != 0)
		return;
	int rc = hc_get_ex(c, keys[k].k, keys[k].len, F.buf, sizeof F.buf, &info);

	if (m->negative && rc == HC_ENEGATIVE)
		return;
	if (rc != 0 || m->negative)
		fail("key %u: a get right after a write returned %d (%s)", k, rc,
		     hc_strerror(rc));
	if (info.vlen != m->len || memcmp(F.buf, m->val, m->len) != 0)
		fail("key %u: a get right after a write returned another value", k);
}

static void op_check(hc_cache *c)
{
	hc_check_result r;

	if (hc_reap(c) < 0)
		fail("hc_reap failed");
	int rc = hc_check(c, 0, check_report, NULL, &r);

	if (rc != 0)
		fail("hc_check: %d (%llu problems)", rc, (unsigned long long)r.problems);
	long n = hc_walk(c, NULL, 0, HC_WALK_VALUES, walk_item, NULL);

	if (n < 0)
		fail("hc_walk: %ld", n);
	if ((uint64_t)n > r.items)
		fail("hc_walk saw %ld items, hc_check counted %llu", n,
		     (unsigned long long)r.items);
}

/* Handle 1 dies as SIGKILL would leave it: its descriptor (and so its
 * slot lock) goes, nothing is detached or sealed.  Then it attaches
 * again, reaping what it left. */
static void op_die_and_return(void)
{
	hc_cache *d = F.h[1];

	close(d->fd);
	munmap(d->base, d->map_size);
	pthread_mutex_destroy(&d->lock);
	free(d);
	F.h[1] = NULL;
	for (unsigned k = 0; k < NKEYS; k++)
		if (F.held[k] && F.pending[k].who == 1)
			F.held[k] = 0; /* the reaper gives its leases back */
	int rc = hc_open(F.name, &F.h[1]);

	if (rc != 0)
		fail("attach after a death: %d (%s): %s", rc, hc_strerror(rc),
		     hc_last_error());
}

static void run(struct input *in)
{
	unsigned who = 0;

	for (int ops = 0; ops < MAX_OPS && in->n > 0; ops++) {
		uint8_t op = next(in);
		unsigned k = next(in) % NKEYS;
		hc_cache *c = F.h[who];
		int ryw = (op / 24) & 1;

		switch (op % 24) {
		case 0: case 1: case 2:
			op_store(c, k, in, 0);
			if (ryw)
				read_your_write(c, k);
			break;
		case 3:
			op_store(c, k, in, 1);
			break;
		case 4:
			op_store(c, k, in, 2);
			break;
		case 5:
			op_store(c, k, in, 4); /* set a number (or near one) */
			break;
		case 6:
			op_cas(c, k, in);
			break;
		case 7: case 8:
			op_get(c, k, in, 0);
			break;
		case 9:
			op_get(c, k, in, 1);
			break;
		case 10:
			op_delete(c, k);
			break;
		case 11:
			op_arith(c, k, in, 1);
			break;
		case 12:
			op_arith(c, k, in, 0);
			break;
		case 13:
			op_touch(c, k, in);
			break;
		case 14:
			who ^= 1;
			break;
		case 15:
			op_invalid(c, k, in);
			break;
		case 16:
			op_check(c);
			break;
		case 17:
			if (k == 0)
				op_die_and_return();
			else if (hc_reap(c) < 0)
				fail("hc_reap failed");
			break;
		case 18:
			/* Sleeping is slow: only inputs that start with 'T'
			 * may let time pass (for TTLs). */
			if (F.may_sleep && F.slept_ms + (k % 4) <= MAX_SLEEP_MS) {
				F.slept_ms += k % 4;
				usleep((k % 4) * 1000);
			}
			break;
		case 20: case 21:
			op_set_tagged(c, k, in);
			if (ryw)
				read_your_write(c, k);
			break;
		case 22:
			op_invalidate(c, k, in);
			break;
		case 19:
			switch (next(in) % 6) {
			case 0:
				op_set_negative(c, k, in);
				if (ryw)
					read_your_write(c, k);
				break;
			case 1:
				op_get_many(c, k, in);
				break;
			case 2:
				op_set_many(c, k, in);
				break;
			case 3: case 4:
				op_lease(who, k, in);
				break;
			default:
				op_lease_end(k, in);
				break;
			}
			break;
		default:
			/* A burst of large sets: eviction. */
			for (unsigned i = 0; i < (k % 8) + 1; i++) {
				uint8_t bytes[4] = { 0x0f, (uint8_t)(0x80 + i), 0, 0 };
				struct input burst = { bytes, sizeof bytes };

				op_store(c, (k + i) % NKEYS, &burst, 0);
			}
			break;
		}
	}
	op_check(F.h[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	hc_config cfg;
	hc_info info;
	int rc;

	if (F.slack_ns == 0) {
		/* The library reads the coarse clock and rounds to ms: a TTL
		 * is surely over one tick and a few ms after it should be. */
		struct timespec res;

		clock_getres(CLOCK_MONOTONIC_COARSE, &res);
		F.slack_ns = 2 * ((uint64_t)res.tv_sec * 1000000000ULL +
		                  (uint64_t)res.tv_nsec) + 3000000ULL;
	}
	snprintf(F.name, sizeof F.name, "/hc-fuzz-diff-%ld", (long)getpid());
	hc_unlink(F.name);
	hc_config_init(&cfg);
	/* Small: a few dozen blocks of 4 KiB, so a handful of large values
	 * force eviction. */
	cfg.size = 160 << 10;
	cfg.max_procs = 3;
	cfg.max_key = MAX_KEY;
	cfg.avg_item_size = 128;
	/* Grow if the layout no longer fits this small a segment. */
	while ((rc = hc_create(F.name, &cfg, &F.h[0])) == HC_ECONFIG &&
	       cfg.size < (8u << 20))
		cfg.size *= 2;
	if (rc != 0)
		fail("create: %s", hc_last_error());
	if ((rc = hc_open(F.name, &F.h[1])) != 0)
		fail("open: %s", hc_last_error());
	hc_info_get(F.h[0], &info);
	F.max_value = info.max_value < VALUE_CAP ? info.max_value : VALUE_CAP;
	for (unsigned k = 0; k < NKEYS; k++)
		model_forget(&F.m[k]);
	F.slept_ms = 0;
	memset(F.held, 0, sizeof F.held);
	F.may_sleep = size > 0 && data[0] == 'T';
	run(&in);
	hc_close(F.h[1]);
	hc_close(F.h[0]);
	hc_unlink(F.name);
	return 0;
}
