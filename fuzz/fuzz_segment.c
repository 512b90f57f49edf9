/*
 * fuzz_segment - a hostile segment: whatever its bytes say, a process that
 * attaches to it gets clean errors or misses, never a crash, a read
 * outside its mapping, an endless loop or a hang (DESIGN: "every offset
 * read from shared memory is bounds-checked", "every loop over shared
 * state has a bound").
 *
 * Once, at start-up, real segments are made and filled through the API
 * (items of many sizes, expired and deleted ones, counters, eviction, a
 * block left EVICTING by a dead slot; in one, a write-behind queue that
 * has gone round, its consumer claim held by a slot dead in the copy)
 * and their bytes kept as templates.
 * Each input then:
 *   1. copies a template into a fresh shared-memory file, mapped here
 *      between two inaccessible pages;
 *   2. applies the input's first mutations to it and attaches with
 *      hc_open(), which must verify the header: it either refuses the
 *      segment with an error or attaches;
 *   3. places an inaccessible page below the library's own mapping (the
 *      page above is the one below ours), so a read just outside the
 *      mapping faults;
 *   4. runs the rest of the input: mutations through our mapping while the
 *      handle is attached (the header was checked once; everything else is
 *      read at run time), interleaved with every operation, hc_check (with
 *      and without repair), hc_walk, hc_stats_get, hc_procs, hc_reap, the
 *      write-behind queue's set, peek, pop and depth, and a second attach.
 *   5. detaches the second handle, repairs once with hc_check, and then
 *      a read-only hc_check must find nothing, and a key set reads back.
 * Every result must be 0 or an HC_E* code; buffers handed to the library
 * are heap blocks of exactly the stated size, so ASan sees any write past
 * them.  libFuzzer's -timeout catches hangs.
 *
 * Build and run: make fuzz (mk/fuzz.mk).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "fuzz_input.h"

#define NTEMPLATES 3
#define PAGE 4096
#define NKEYS 48
#define MAX_STEPS 200



struct template {
	unsigned char *bytes;
	uint64_t size;
	struct hc_header h; /* a private copy: offsets of the regions */
};

static struct template templates[NTEMPLATES];

static struct {
	char name[64];
	int fd;
	unsigned char *reserve, *seg; /* our mapping, between guard pages */
	uint64_t size;
	const struct template *t;
	hc_cache *h[2];
	unsigned char *guard[2];      /* pages placed below library mappings */
	unsigned long attaches, guarded;
} F;

/* FUZZ_SEGMENT_STATS=1: say at exit how often the guard page below the
 * library's mapping could be placed. */
static void print_stats(void)
{
	fprintf(stderr, "fuzz_segment: %lu attaches, %lu with a guard page "
	        "below the mapping\n", F.attaches, F.guarded);
}

#define fail(...) fuzz_fail("fuzz_segment: ", __VA_ARGS__)

static void key_of(unsigned i, char *key, size_t cap, size_t *len)
{
	*len = (size_t)snprintf(key, cap, i < 40 ? "key:%u" : "ctr:%u", i);
}

/* ---- templates --------------------------------------------------------- */

static void template_fill(hc_cache *c, unsigned variant)
{
	unsigned char val[3000];
	char key[32];
	size_t klen;
	hc_info info;

	hc_info_get(c, &info);
	for (unsigned round = 0; round < 3 + variant * 2; round++) {
		for (unsigned i = 0; i < NKEYS; i++) {
			size_t vlen = (i * 37 + round * 11) % 700;

			if (vlen > info.max_value)
				vlen = info.max_value;
			memset(val, 'a' + (int)(i % 26), vlen);
			key_of(i, key, sizeof key, &klen);
			if (i >= 40) {
				hc_set(c, key, klen, "12345", 5, 0);
				continue;
			}
			hc_set(c, key, klen, val, vlen, i % 7 == 0 ? 1 : 0);
			if (i % 3 == 0) {
				char buf[8];
				size_t n;

				hc_get(c, key, klen, buf, 0, &n); /* CLOCK bits */
			}
		}
		for (unsigned i = 0; i < NKEYS; i += 5) {
			key_of(i, key, sizeof key, &klen);
			if (round % 2)
				hc_delete(c, key, klen);
			else
				hc_touch(c, key, klen, 0);
		}
	}
	if (info.writeback_bytes != 0) {
		/* Records of many sizes, round the ring's end; some drained
		 * (the claim is then this handle's, dead in the copy). */
		hc_set_options o;
		hc_writeback_rec r;

		memset(&o, 0, sizeof o);
		o.writeback = 1;
		for (unsigned i = 0; i < 120; i++) {
			key_of(i % NKEYS, key, sizeof key, &klen);
			if (hc_set_ex(c, key, klen, val, (i * 131) % 1500, &o) ==
			    HC_ENOSPC ||
			    i % 3 == 0)
				if (hc_writeback_peek(c, &r, val, sizeof val) == 0)
					hc_writeback_pop(c, &r);
		}
	}
	if (variant == 2) {
		/* A wide key and a value as large as allowed. */
		memset(val, 'z', sizeof val);
		hc_set(c, val, info.max_key, val,
		       info.max_value < sizeof val ? info.max_value : sizeof val, 0);
	}
}

static void template_make(unsigned t)
{
	static const uint64_t sizes[NTEMPLATES] = { 160 << 10, 256 << 10, 192 << 10 };
	char name[64];
	hc_config cfg;
	hc_cache *c = NULL, *d;

	snprintf(name, sizeof name, "/hc-fuzz-tmpl-%ld", (long)getpid());
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = sizes[t];
	cfg.max_procs = 3;
	cfg.max_key = t == 2 ? 600 : 64;
	cfg.avg_item_size = 128;
	cfg.writeback_bytes = t == 1 ? 64u << 10 : 0;
	/* The sizes are small on purpose; if the layout grew past them, grow
	 * with it. */
	while (hc_create(name, &cfg, &c) == HC_ECONFIG && cfg.size < (8u << 20))
		cfg.size *= 2;
	if (c == NULL || hc_open(name, &d) != 0)
		fail("template %u: %s", t, hc_last_error());
	template_fill(c, t);
	template_fill(d, t);
	struct template *tp = &templates[t];

	tp->size = c->size;
	tp->bytes = malloc(tp->size);
	memcpy(tp->bytes, c->base, tp->size);
	memcpy(&tp->h, tp->bytes, sizeof tp->h);
	if (t == 1) {
		/* A block left EVICTING by slot 1, whose process is "dead" in
		 * the copy (nobody holds its lock there). */
		hc_word *bw = (hc_word *)(tp->bytes + tp->h.off_block_words);

		for (uint32_t b = 0; b < tp->h.nblocks; b++)
			if (bw_state(bw[b]) == HC_BLOCK_SEALED) {
				bw[b] = bw_make(HC_BLOCK_EVICTING, 1, bw_gen(bw[b]));
				break;
			}
	}
	hc_close(d);
	hc_close(c);
	hc_unlink(name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (unsigned t = 0; t < NTEMPLATES; t++)
		template_make(t);
	if (getenv("FUZZ_SEGMENT_STATS") != NULL)
		atexit(print_stats);
	return 0;
}

/* ---- the segment under test ------------------------------------------ */

static void segment_make(const struct template *t)
{
	snprintf(F.name, sizeof F.name, "/hc-fuzz-seg-%ld", (long)getpid());
	shm_unlink(F.name);
	F.fd = shm_open(F.name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (F.fd < 0 || ftruncate(F.fd, (off_t)t->size) != 0)
		fail("shm: %s", strerror(errno));
	F.size = t->size;
	F.reserve = mmap(NULL, F.size + 2 * PAGE, PROT_NONE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (F.reserve == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	F.seg = mmap(F.reserve + PAGE, F.size, PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_FIXED, F.fd, 0);
	if (F.seg == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	memcpy(F.seg, t->bytes, F.size);
	F.t = t;
}

/* Detach handle I and drop its guard page. */
static void detach(int i)
{
	if (F.h[i] != NULL)
		hc_close(F.h[i]);
	F.h[i] = NULL;
	if (F.guard[i] != NULL)
		munmap(F.guard[i], PAGE);
	F.guard[i] = NULL;
}

static void segment_drop(void)
{
	for (int i = 0; i < 2; i++)
		detach(i);
	munmap(F.reserve, F.size + 2 * PAGE);
	close(F.fd);
	shm_unlink(F.name);
}

/* An inaccessible page right below the library's mapping of handle I, if
 * that address is free (the page above it is usually our lower guard). */
static void guard_below(int i)
{
	unsigned char *at = F.h[i]->base - PAGE;
	void *p = mmap(at, PAGE, PROT_NONE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return;
	if (p != at) {
		munmap(p, PAGE);
		return;
	}
	F.guard[i] = p;
	F.guarded++;
}

/* ---- mutations --------------------------------------------------------- */

/* Values that sit on the edges of what the fields mean. */
static uint64_t interesting(struct input *in)
{
	const struct hc_header *h = &F.t->h;
	uint8_t b = next(in);

	switch (b % 16) {
	case 0: return 0;
	case 1: return ~0ULL;
	case 2: return 1ULL << 63;
	case 3: return h->item_memory;
	case 4: return h->item_memory / 8;
	case 5: return h->block_size;
	case 6: return h->block_size - 8;
	case 7: return h->nblocks;
	case 8: return h->max_procs;
	case 9: return h->size;
	case 10: return 0xffffffffULL;
	case 11: return (uint64_t)next(in) << 56;
	case 12: return next64(in);
	case 13: return (uint64_t)next(in);
	case 14: return (uint64_t)h->block_size << 32 | h->block_size;
	default: return (uint64_t)next32(in);
	}
}

static unsigned char *region(unsigned r, uint64_t *len)
{
	const struct hc_header *h = &F.t->h;

	switch (r % 8) {
	case 0:
		*len = sizeof(struct hc_header);
		return F.seg;
	case 1:
		*len = (uint64_t)h->max_procs * sizeof(struct hc_proc);
		return F.seg + h->off_procs;
	case 2:
		*len = (uint64_t)h->nblocks * sizeof(hc_word);
		return F.seg + h->off_block_words;
	case 3:
		*len = (uint64_t)h->nblocks * sizeof(struct hc_block_meta);
		return F.seg + h->off_block_meta;
	case 4:
		*len = (uint64_t)h->nbuckets * sizeof(struct hc_bucket);
		return F.seg + h->off_index;
	case 5:
		*len = h->item_memory;
		return F.seg + h->off_items;
	case 6:
		*len = h->writeback_bytes ? h->writeback_bytes : F.size;
		return F.seg + (h->writeback_bytes ? h->off_writeback : 0);
	default:
		*len = F.size;
		return F.seg;
	}
}

static void store64(unsigned char *p, uint64_t v)
{
	__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
}

static uint64_t load64(const unsigned char *p)
{
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

/* The Nth used index slot (wrapping), or NULL. */
static unsigned char *nth_used_slot(unsigned n)
{
	const struct hc_header *h = &F.t->h;
	uint64_t slots = (uint64_t)h->nbuckets * HC_BUCKET_SLOTS, used = 0;
	unsigned char *idx = F.seg + h->off_index;

	for (uint64_t i = 0; i < slots; i++)
		used += load64(idx + 8 * i) != 0;
	if (used == 0)
		return NULL;
	n %= used;
	for (uint64_t i = 0; i < slots; i++)
		if (load64(idx + 8 * i) != 0 && n-- == 0)
			return idx + 8 * i;
	return NULL;
}

static void mutate(struct input *in)
{
	const struct hc_header *h = &F.t->h;
	uint8_t kind = next(in);
	uint64_t len;
	unsigned char *base = region(next(in), &len);
	uint32_t off = next32(in);

	switch (kind % 8) {
	case 0: /* a byte anywhere in the region */
		base[off % len] = next(in);
		return;
	case 1: /* a word of the region */
		store64(base + (off % len & ~7ULL), interesting(in));
		return;
	case 2: { /* flip bits of a word */
		unsigned char *p = base + (off % len & ~7ULL);

		store64(p, load64(p) ^ ((uint64_t)next(in) << (next(in) % 57)));
		return;
	}
	case 3: { /* the header or bytes of a live item */
		unsigned char *s = nth_used_slot(off);

		if (s == NULL)
			return;
		uint64_t loc = sw_loc(load64(s)) + 8ULL * (next(in) % 4);

		if (loc + 8 <= h->item_memory)
			store64(F.seg + h->off_items + loc, interesting(in));
		return;
	}
	case 4: { /* a block word: any state, owner, generation */
		uint32_t b = off % h->nblocks;

		store64(F.seg + h->off_block_words + 8ULL * b,
		        bw_make(next(in) % 4, next(in) % 8, next(in) % 4));
		return;
	}
	case 5: { /* an index slot: a location anywhere, a copy of another */
		unsigned char *s = nth_used_slot(off);

		if (s == NULL)
			return;
		uint64_t w = load64(s);

		switch (next(in) % 4) {
		case 0:
			w = sw_make(sw_clock(w), sw_gen(w), sw_fp(w), interesting(in) * 8);
			break;
		case 1:
			w = sw_make(sw_clock(w), sw_gen(w), sw_fp(w), sw_loc(w) + 8 * next(in));
			break;
		case 2: {
			unsigned char *o = nth_used_slot(off + 1 + next(in));

			w = o != NULL ? load64(o) : w;
			break;
		}
		default:
			w ^= (uint64_t)next(in) << 52; /* generation, CLOCK */
			break;
		}
		store64(s, w);
		return;
	}
	case 6: { /* a process slot word */
		uint32_t p = off % h->max_procs;
		unsigned field = next(in) % 64;

		store64(F.seg + h->off_procs + 512ULL * p + 8 * field, interesting(in));
		return;
	}
	default: { /* block accounting: committed, dead, seal sequence */
		uint32_t b = off % h->nblocks;

		store64(F.seg + h->off_block_meta + 32ULL * b + 8 * (next(in) % 3),
		        interesting(in));
		return;
	}
	}
}

/* ---- operations -------------------------------------------------------- */

static void rc_ok(const char *what, long rc)
{
	if (rc > 0 || rc == 0 || (rc <= HC_ENOTFOUND && rc > HC_ENOTFOUND - 99))
		return;
	fail("%s returned %ld, not an HC_E* code", what, rc);
}

static int walk_fn(void *arg, const hc_item_view *v)
{
	unsigned *sum = arg;
	const unsigned char *k = v->key, *val = v->value;

	/* Touch every byte the view claims: ASan checks the private copy. */
	for (uint32_t i = 0; i < v->klen; i++)
		*sum += k[i];
	for (uint32_t i = 0; val != NULL && i < v->vlen; i++)
		*sum += val[i];
	return 0;
}

static void ignore_report(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* The write-behind queue: a set written behind, a peek into a buffer of
 * exactly its stated size, sometimes its pop, the depth. */
static void writeback_operate(struct input *in, hc_cache *c, const char *key,
                              size_t klen)
{
	size_t cap = next(in) % 2 ? 2048 : next(in);
	unsigned char *buf = malloc(cap ? cap : 1);
	hc_writeback_rec r;
	hc_set_options o;
	uint64_t records, bytes;
	int rc;

	memset(&o, 0, sizeof o);
	o.writeback = 1;
	memset(buf, 'q', cap ? cap : 1);
	rc_ok("set written behind", hc_set_ex(c, key, klen, buf,
	                                      cap < 1200 ? cap : 1200, &o));
	rc = hc_writeback_peek(c, &r, cap ? buf : NULL, cap);
	rc_ok("writeback peek", rc);
	if (rc == 0 && (uint64_t)r.klen + r.vlen > cap)
		fail("writeback peek: success with %u + %u bytes into %zu",
		     r.klen, r.vlen, cap);
	if (rc == 0 && next(in) % 2)
		rc_ok("writeback pop", hc_writeback_pop(c, &r));
	rc_ok("writeback depth", hc_writeback_depth(c, &records, &bytes));
	free(buf);
}

static void operate(struct input *in, hc_cache *c)
{
	char key[32];
	size_t klen, vlen = 0;
	unsigned k = next(in) % NKEYS;
	uint8_t op = next(in);
	uint64_t r = 0;
	int rc = 0;

	key_of(k, key, sizeof key, &klen);
	switch (op % 16) {
	case 0: case 1: case 2: {
		size_t cap = next(in) % 2 ? 1024 : next(in);
		unsigned char *buf = malloc(cap ? cap : 1);
		hc_item_info info;

		rc = hc_get_ex(c, key, klen, cap ? buf : NULL, cap, &info);
		rc_ok("get", rc);
		if (rc == 0 && info.vlen > cap)
			fail("get: success with %u bytes into %zu", info.vlen, cap);
		free(buf);
		return;
	}
	case 3: case 4: {
		unsigned char *val = malloc(1200);

		vlen = (size_t)next(in) * 4;
		memset(val, 'x', vlen);
		rc = hc_set(c, key, klen, val, vlen, next(in) % 4 == 0 ? 1 : 0);
		rc_ok("set", rc);
		free(val);
		return;
	}
	case 5:
		rc_ok("add", hc_add(c, key, klen, "v", 1, 0));
		return;
	case 6:
		rc_ok("replace", hc_replace(c, key, klen, "w", 1, 0));
		return;
	case 7:
		rc_ok("cas", hc_cas(c, key, klen, "c", 1, 0, next64(in), &r));
		return;
	case 8:
		rc_ok("delete", hc_delete(c, key, klen));
		return;
	case 9:
		rc_ok("incr", hc_incr(c, key, klen, next(in), &r));
		rc_ok("decr", hc_decr(c, key, klen, next(in), &r));
		return;
	case 10:
		rc_ok("touch", hc_touch(c, key, klen, next(in)));
		return;
	case 11: {
		unsigned sum = 0;
		size_t plen = next(in) % 5;

		rc_ok("walk", hc_walk(c, "key:1", plen, next(in) % 2 ? HC_WALK_VALUES : 0,
		                      walk_fn, &sum));
		return;
	}
	case 12: {
		hc_check_result res;

		rc_ok("check", hc_check(c, next(in) % 2, ignore_report, NULL, &res));
		return;
	}
	case 13: {
		hc_stats st;
		hc_info info;

		rc_ok("stats", hc_stats_get(c, &st));
		rc_ok("stats_self", hc_stats_self(c, &st));
		rc_ok("info", hc_info_get(c, &info));
		writeback_operate(in, c, key, klen);
		return;
	}
	case 14: {
		unsigned cap = next(in) % 4, n = 0;
		hc_proc_info *p = malloc(sizeof *p * (cap ? cap : 1));

		rc_ok("procs", hc_procs(c, cap ? p : NULL, cap, &n));
		free(p);
		return;
	}
	default:
		rc_ok("reap", hc_reap(c));
		return;
	}
}

static void say_left(void *arg, const char *msg)
{
	fprintf(stderr, "left after one repair: %s\n", msg);
}

/* 5. With the damage done and the second handle detached: one repair
 * leaves nothing for a read-only check to find, and a key set afterwards
 * reads back. */
static void repair_round_trip(void)
{
	hc_check_result res;
	char got[16];
	size_t len = 0;

	if (F.h[0] == NULL)
		return;
	detach(1);
	rc_ok("repair", hc_check(F.h[0], 1, ignore_report, NULL, &res));
	long left = hc_check(F.h[0], 0, say_left, NULL, &res);

	rc_ok("check", left);
	if (left > 0)
		fail("%ld problems left after one repair", left);
	/* A damage of the header that stays consistent (a smaller max_key
	 * among them) is a segment of another shape, not a fault: the key
	 * fits whatever limit this handle attached with. */
	hc_info info;
	size_t klen = 5;

	rc_ok("info", hc_info_get(F.h[0], &info));
	if (info.max_key < klen)
		klen = info.max_key;
	int rc = hc_set(F.h[0], "after", klen, "repair", 6, 0);

	if (rc == 0)
		rc = hc_get(F.h[0], "after", klen, got, sizeof got, &len);
	if (rc != 0 || len != 6 || memcmp(got, "repair", 6) != 0)
		fail("a key set after the repair did not read back (%d: %s)",
		     rc, hc_last_error());
}

static int attach(int i)
{
	/* A zero magic makes hc_open wait a second for a creator (DESIGN;
	 * tested in t_segment): keep inputs fast, and many attaches of one
	 * input within libFuzzer's -timeout. */
	if (load64(F.seg) == 0)
		store64(F.seg, 1);
	int rc = hc_open(F.name, &F.h[i]);

	rc_ok("open", rc);
	if (rc != 0) {
		F.h[i] = NULL;
		return rc;
	}
	F.attaches++;
	guard_below(i);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	const struct template *t = &templates[next(&in) % NTEMPLATES];
	unsigned before_open = next(&in) % 4;

	segment_make(t);
	for (unsigned i = 0; i < before_open; i++)
		mutate(&in);
	if (next(&in) == 0xcc) {
		/* Cut short or grown: the header no longer matches the file. */
		if (ftruncate(F.fd, (off_t)(F.size - PAGE * (1 + next(&in) % 8))) != 0)
			fail("ftruncate: %s", strerror(errno));
		if (load64(F.seg) == 0)
			store64(F.seg, 1);
		int rc = hc_open(F.name, &F.h[0]);

		if (rc == 0)
			fail("a segment cut short was attached");
		segment_drop();
		return 0;
	}
	if (attach(0) != 0) {
		segment_drop();
		return 0;
	}
	for (unsigned step = 0; step < MAX_STEPS && in.n > 0; step++) {
		uint8_t what = next(&in);
		int i = F.h[1] != NULL && what & 0x80 ? 1 : 0;

		switch (what % 8) {
		case 0: case 1:
			mutate(&in);
			break;
		case 7:
			if (F.h[1] == NULL) {
				attach(1);
			} else {
				detach(1);
			}
			break;
		default:
			operate(&in, F.h[i]);
			break;
		}
	}
	repair_round_trip();
	segment_drop();
	return 0;
}
