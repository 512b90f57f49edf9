/*
 * segment.c - names, geometry, and the life of a segment.
 *
 * Creation: shm_open(O_CREAT|O_EXCL) decides the single creator; the file
 * is sized, its memory reserved with posix_fallocate (tmpfs reserves nothing
 * on ftruncate, and a full /dev/shm would otherwise kill a writer with
 * SIGBUS long after creation), mapped, and initialised.  A fresh tmpfs file
 * reads as zeros, and zero is the initial state of every shared word (FREE
 * blocks of generation 0, empty slots, free process slots), so only the
 * header needs writing.  The magic word is stored last, with release.
 *
 * Opening: nothing past the header is read before the header is checked:
 * magic (an opener that meets a zero magic retries for a bounded time, then
 * fails with HC_EINIT), layout word (HC_EVERSION), recorded size against the
 * file size (HC_ECORRUPT), and the geometry, recomputed from the
 * configuration and compared region by region (HC_ECORRUPT).  Only then are
 * the offsets used, and from private copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define HC_DEFAULT_SIZE (64ULL << 20)
#define HC_DEFAULT_MAX_KEY 250u
#define HC_DEFAULT_MAX_PROCS 64u
#define HC_DEFAULT_AVG_ITEM 80u
#define HC_DEFAULT_WATERMARK_PCT 90u
#define HC_DEFAULT_LATENCY_EVERY 64u
#define HC_NAME_MAX 250u
#define HC_OPEN_WAIT_MS 1000u
#define HC_LAYOUT_REVISION 7u
#define HC_MAX_JITTER_PCT 50u

HC_API void hc_config_init(hc_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->size = HC_DEFAULT_SIZE;
	cfg->max_key = HC_DEFAULT_MAX_KEY;
	cfg->max_procs = HC_DEFAULT_MAX_PROCS;
	cfg->mode = 0600;
	cfg->avg_item_size = HC_DEFAULT_AVG_ITEM;
	cfg->delimiter = ':';
}

/* POSIX shm names: "/name" with no other slash.  We accept "name" too. */
int segment_name_check(const char *name, char *out, size_t cap)
{
	if (name == NULL)
		return hc_fail(HC_ENAME, "segment name is missing");
	const char *n = name[0] == '/' ? name + 1 : name;
	size_t len = strlen(n);

	if (len == 0)
		return hc_fail(HC_ENAME, "segment name '%s' is empty", name);
	if (len > HC_NAME_MAX)
		return hc_fail(HC_ENAME,
		               "segment name is %zu bytes; at most %u are allowed",
		               len, HC_NAME_MAX);
	if (strchr(n, '/') != NULL)
		return hc_fail(HC_ENAME,
		               "segment name '%s' has a '/' inside; use a plain name",
		               name);
	if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		return hc_fail(HC_ENAME, "segment name '%s' is not allowed", name);
	if (len + 2 > cap)
		return hc_fail(HC_ENAME, "segment name too long");
	out[0] = '/';
	memcpy(out + 1, n, len + 1);
	return 0;
}

/* ---- geometry ---------------------------------------------------------- */

struct geometry {
	uint64_t size;
	uint32_t max_key, max_value, max_procs, block_size, nblocks, nbuckets;
	uint32_t ninval, nleases, njournal, writeback_bytes;
	uint64_t off_procs, off_block_words, off_block_meta, off_index,
		off_inval, off_leases, off_journal, off_writeback, off_items,
		item_memory, end;
};

/* Lease entries: room for every process to refresh a few keys at once. */
static uint32_t lease_count(uint32_t procs)
{
	uint32_t n = procs * 8;

	return n < 64 ? 64 : n;
}

static uint64_t page_align(uint64_t n)
{
	return (n + HC_PAGE - 1) & ~(uint64_t)(HC_PAGE - 1);
}

static uint64_t pow2_floor(uint64_t n)
{
	uint64_t p = 1;

	while (p * 2 <= n && p < (1ULL << 62))
		p *= 2;
	return p;
}

static uint64_t pow2_ceil(uint64_t n)
{
	uint64_t p = 1;

	while (p < n && p < (1ULL << 62))
		p *= 2;
	return p;
}

/* Words of the free map and of the window sums after the block words. */
static uint64_t block_map_words(uint32_t nblocks)
{
	return (nblocks + 63) / 64 +
	       (nblocks + HC_WINDOW_BLOCKS - 1) / HC_WINDOW_BLOCKS;
}

/* Place every region, given the counts. */
static void geometry_place(struct geometry *g)
{
	g->off_procs = 2 * HC_PAGE; /* the header's page, its backup's */
	g->off_block_words =
		page_align(g->off_procs + (uint64_t)g->max_procs * sizeof(struct hc_proc));
	g->off_block_meta =
		page_align(g->off_block_words +
		           (g->nblocks + block_map_words(g->nblocks)) * sizeof(hc_word));
	g->off_index = page_align(g->off_block_meta +
	                          (uint64_t)g->nblocks * sizeof(struct hc_block_meta));
	g->off_inval = page_align(g->off_index +
	                          (uint64_t)g->nbuckets * sizeof(struct hc_bucket));
	g->off_leases = page_align(g->off_inval + (uint64_t)g->ninval * sizeof(hc_word));
	g->off_journal = page_align(g->off_leases +
	                            (uint64_t)g->nleases * sizeof(struct hc_lease_entry));
	g->off_writeback = page_align(g->off_journal +
	                              (uint64_t)g->njournal * sizeof(struct hc_journal_slot));
	g->off_items = page_align(g->off_writeback + g->writeback_bytes);
	g->item_memory = (uint64_t)g->nblocks * g->block_size;
	g->end = g->off_items + g->item_memory;
}

/* The largest value an item of a block can hold with a key of max_key bytes
 * and every tag. */
static uint64_t block_value_room(uint64_t block_size, uint32_t max_key)
{
	uint64_t fixed = item_total(HC_MAX_EXTRA, max_key, 0);

	if (block_size <= fixed)
		return 0;
	uint64_t room = (block_size - fixed) & ~7ULL;
	return room > HC_VLEN_MASK ? HC_VLEN_MASK : room;
}

/* Each attached process may hold three blocks at once (its open block,
 * its open block for moved items, and the block its walk is freeing: a
 * process that stops writing keeps them), so twice the reserve beyond
 * that are always FREE or SEALED: a writer can always claim or free one. */
static uint32_t min_blocks(uint32_t procs)
{
	return 3 * procs + 2 * HC_RESERVE_BLOCKS;
}

/* Count blocks and buckets for block size BS into what SIZE leaves. */
static void geometry_fill(struct geometry *g, uint64_t avg)
{
	uint64_t fixed = page_align(HC_PAGE + (uint64_t)g->max_procs *
	                                          sizeof(struct hc_proc)) + 8 * HC_PAGE +
	                 (uint64_t)g->ninval * sizeof(hc_word) +
	                 (uint64_t)g->nleases * sizeof(struct hc_lease_entry) +
	                 (uint64_t)g->njournal * sizeof(struct hc_journal_slot) +
	                 g->writeback_bytes;
	uint64_t avail = g->size > fixed ? g->size - fixed : 0;
	/* Each block costs its bytes, its word and meta, and index slots
	 * for the items of AVG bytes it holds at a load of 2/3, where nearly
	 * every hit is in a key's first bucket.  The index keeps every key
	 * to a load of 9/10 (index.c), so items down to 3/4 of AVG fill item
	 * memory before they fill the index. */
	uint64_t per_block = g->block_size + sizeof(hc_word) +
	                     sizeof(struct hc_block_meta) +
	                     g->block_size * 8 * 3 / (2 * avg);
	uint64_t n = avail / per_block;

	if (n > HC_MAX_BLOCKS)
		n = HC_MAX_BLOCKS;
	g->nblocks = (uint32_t)n;
	for (;;) {
		uint64_t slots = (uint64_t)g->nblocks * g->block_size / avg * 3 / 2;
		uint64_t buckets = slots / HC_BUCKET_SLOTS + 1;

		g->nbuckets = (uint32_t)(buckets > (1u << 30) ? (1u << 30) : buckets);
		geometry_place(g);
		if (g->end <= g->size || g->nblocks == 0)
			return;
		g->nblocks--;
	}
}

static int geometry_choose(const hc_config *cfg, struct geometry *g)
{
	uint64_t avg = cfg->avg_item_size ? cfg->avg_item_size : HC_DEFAULT_AVG_ITEM;
	int rc;

	memset(g, 0, sizeof *g);
	g->size = cfg->size ? cfg->size : HC_DEFAULT_SIZE;
	g->max_key = cfg->max_key ? cfg->max_key : HC_DEFAULT_MAX_KEY;
	g->max_procs = cfg->max_procs ? cfg->max_procs : HC_DEFAULT_MAX_PROCS;
	g->ninval = HC_NINVAL;
	g->nleases = lease_count(g->max_procs > HC_MAX_PROCS ? HC_MAX_PROCS : g->max_procs);
	g->njournal = cfg->journal_entries;
	if (cfg->journal_entries > HC_JOURNAL_MAX)
		return hc_fail(HC_EINVAL, "journal_entries %u is over the limit of %u",
		               cfg->journal_entries, HC_JOURNAL_MAX);
	if ((rc = writeback_size(cfg->writeback_bytes, &g->writeback_bytes)) < 0)
		return rc;
	if (avg < 32)
		avg = 32;
	if (g->max_key > HC_MAX_KEY_LIMIT)
		return hc_fail(HC_EINVAL, "max_key %u is over the limit of %u bytes",
		               g->max_key, HC_MAX_KEY_LIMIT);
	if (cfg->latency_every > 1000000 && cfg->latency_every != HC_LATENCY_OFF)
		return hc_fail(HC_EINVAL, "latency_every %u is over 1000000 (time "
		               "one operation in at most a million, or none with "
		               "HC_LATENCY_OFF)", cfg->latency_every);
	if (cfg->clean_watermark_pct > 100)
		return hc_fail(HC_EINVAL, "clean_watermark_pct %u is over 100",
		               cfg->clean_watermark_pct);
	if (cfg->ttl_jitter_pct > HC_MAX_JITTER_PCT)
		return hc_fail(HC_EINVAL, "ttl_jitter_pct %u is over the limit of %u",
		               cfg->ttl_jitter_pct, HC_MAX_JITTER_PCT);
	if (g->max_procs > HC_MAX_PROCS)
		return hc_fail(HC_EINVAL, "max_procs %u is over the limit of %u",
		               g->max_procs, HC_MAX_PROCS);
	if (g->size > HC_MAX_ITEM_MEMORY + (HC_MAX_ITEM_MEMORY >> 2))
		return hc_fail(HC_ETOOBIG, "segment size %llu is over the limit of %llu bytes",
		               (unsigned long long)g->size,
		               (unsigned long long)(HC_MAX_ITEM_MEMORY + (HC_MAX_ITEM_MEMORY >> 2)));

	uint32_t need_blocks = min_blocks(g->max_procs);
	uint64_t key_item = item_total(HC_MAX_EXTRA, g->max_key, 0);
	uint64_t bs;

	if (cfg->max_value) {
		bs = pow2_ceil(item_total(HC_MAX_EXTRA, g->max_key, cfg->max_value));
	} else {
		/* Open blocks (one per process) and the reserve should take a
		 * small share of item memory: aim at 4 blocks per slot. */
		bs = pow2_floor(g->size / (4ULL * (g->max_procs + HC_RESERVE_BLOCKS)));
		if (bs > (1u << 20))
			bs = 1u << 20;
		/* A larger key limit needs room for at least a few items. */
		while (bs < 8 * key_item)
			bs *= 2;
	}
	if (bs < HC_MIN_BLOCK)
		bs = HC_MIN_BLOCK;
	/* Many tiny blocks make the block-table scans long: each block
	 * claimed or evicted reads every block word, a cost a block's items
	 * share.  Past HC_TARGET_BLOCKS, larger blocks instead. */
	while (bs < HC_MAX_BLOCK && g->size / bs > HC_TARGET_BLOCKS)
		bs *= 2;
	if (bs > HC_MAX_BLOCK)
		return hc_fail(HC_ECONFIG,
		               "max_value %u needs blocks larger than %u bytes; "
		               "the largest value possible is %llu bytes",
		               cfg->max_value, HC_MAX_BLOCK,
		               (unsigned long long)block_value_room(HC_MAX_BLOCK, g->max_key));
	g->block_size = (uint32_t)bs;
	geometry_fill(g, avg);

	if (g->nblocks < need_blocks) {
		/* Say what would fit: the largest value these slots allow, and
		 * the size this value limit needs. */
		uint64_t fixed = page_align(HC_PAGE + (uint64_t)g->max_procs *
		                            sizeof(struct hc_proc)) + 12 * HC_PAGE +
		                 (uint64_t)g->ninval * sizeof(hc_word) +
		                 (uint64_t)g->nleases * sizeof(struct hc_lease_entry) +
		                 (uint64_t)g->njournal * sizeof(struct hc_journal_slot) +
		                 g->writeback_bytes;
		uint64_t need_size = fixed + (uint64_t)need_blocks *
		                     (bs + 40 + bs * 8 * 3 / (2 * avg));
		uint64_t fit_bs = g->size > fixed
		                  ? pow2_floor((g->size - fixed) / (need_blocks + 1)) / 2
		                  : 0;
		uint64_t fit_value = fit_bs >= HC_MIN_BLOCK
		                     ? block_value_room(fit_bs, g->max_key) : 0;

		if (cfg->max_value && fit_value > 0)
			return hc_fail(HC_ECONFIG,
			               "a segment of %llu bytes with %u process slots cannot "
			               "hold values of %u bytes (blocks of %llu bytes, %u "
			               "needed); use a size of at least %llu bytes, "
			               "max_value <= %llu, or fewer process slots",
			               (unsigned long long)g->size, g->max_procs,
			               cfg->max_value, (unsigned long long)bs, need_blocks,
			               (unsigned long long)need_size,
			               (unsigned long long)fit_value);
		return hc_fail(HC_ECONFIG,
		               "a segment of %llu bytes is too small for %u process "
		               "slots (it needs %u blocks of %llu bytes); use a size "
		               "of at least %llu bytes or fewer process slots",
		               (unsigned long long)g->size, g->max_procs, need_blocks,
		               (unsigned long long)bs, (unsigned long long)need_size);
	}
	if (g->item_memory > HC_MAX_ITEM_MEMORY)
		return hc_fail(HC_ETOOBIG, "item memory of %llu bytes is over the "
		               "limit of %llu", (unsigned long long)g->item_memory,
		               (unsigned long long)HC_MAX_ITEM_MEMORY);
	uint64_t room = block_value_room(bs, g->max_key);

	if (cfg->max_value && cfg->max_value > room)
		return hc_fail(HC_ECONFIG, "max_value %u does not fit a block",
		               cfg->max_value);
	g->max_value = cfg->max_value ? cfg->max_value : (uint32_t)room;
	return 0;
}

/* Check a header's geometry: every field in range, every region where the
 * configuration puts it, everything inside the file. */
static int geometry_verify(const struct hc_header *h, uint64_t file_size)
{
	struct geometry g;

	memset(&g, 0, sizeof g);
	if (h->size != file_size)
		return hc_fail(HC_ECORRUPT, "segment file is %llu bytes but its header "
		               "says %llu (truncated or damaged)",
		               (unsigned long long)file_size, (unsigned long long)h->size);
	if (h->max_key == 0 || h->max_key > HC_MAX_KEY_LIMIT ||
	    h->max_procs == 0 || h->max_procs > HC_MAX_PROCS ||
	    h->block_size < HC_MIN_BLOCK || h->block_size > HC_MAX_BLOCK ||
	    (h->block_size & (h->block_size - 1)) != 0 ||
	    h->nblocks == 0 || h->nblocks > HC_MAX_BLOCKS ||
	    h->nbuckets == 0 || h->nbuckets > (1u << 30) ||
	    h->max_value == 0 ||
	    h->max_value > block_value_room(h->block_size, h->max_key) ||
	    h->reserve_blocks != HC_RESERVE_BLOCKS ||
	    h->ttl_jitter_pct > HC_MAX_JITTER_PCT ||
	    h->clean_watermark_pct > 100 || h->latency_every > 1000000 ||
	    h->ninval != HC_NINVAL || h->nleases != lease_count(h->max_procs) ||
	    h->njournal > HC_JOURNAL_MAX ||
	    (h->writeback_bytes != 0 &&
	     (h->writeback_bytes < HC_WB_MIN_BYTES ||
	      h->writeback_bytes > HC_WB_MAX_BYTES ||
	      h->writeback_bytes % HC_PAGE != 0)))
		return hc_fail(HC_ECORRUPT, "segment header holds an impossible "
		               "configuration");
	g.size = h->size;
	g.max_procs = h->max_procs;
	g.block_size = h->block_size;
	g.nblocks = h->nblocks;
	g.nbuckets = h->nbuckets;
	g.ninval = h->ninval;
	g.nleases = h->nleases;
	g.njournal = h->njournal;
	g.writeback_bytes = h->writeback_bytes;
	geometry_place(&g);
	if (g.end > h->size || g.off_procs != h->off_procs ||
	    g.off_block_words != h->off_block_words ||
	    g.off_block_meta != h->off_block_meta ||
	    g.off_index != h->off_index || g.off_items != h->off_items ||
	    g.off_inval != h->off_inval || g.off_leases != h->off_leases ||
	    g.off_journal != h->off_journal ||
	    g.off_writeback != h->off_writeback ||
	    g.item_memory != h->item_memory)
		return hc_fail(HC_ECORRUPT, "segment header's regions do not match "
		               "its configuration");
	return 0;
}

HC_API uint64_t hc_layout_word(void)
{
	const uint64_t facts[] = {
		HC_VERSION_MAJOR, HC_LAYOUT_REVISION, HC_PAGE, HC_CACHELINE,
		sizeof(struct hc_header), offsetof(struct hc_header, seal_seq),
		offsetof(struct hc_header, flush_at), offsetof(struct hc_header, off_items),
		sizeof(struct hc_proc), offsetof(struct hc_proc, counters), HC_NCOUNTERS,
		sizeof(struct hc_block_meta), sizeof(struct hc_bucket), HC_BUCKET_SLOTS,
		sizeof(struct hc_item), HC_BW_GEN_SHIFT, SW_LOC_BITS, SW_FP_SHIFT,
		SW_GEN_SHIFT, SW_CLOCK_SHIFT, HC_VLEN_BITS, HC_MAX_TAGS,
		HC_RESERVE_BLOCKS, HC_DEAD_GEN_SHIFT, sizeof(void *) == 8,
		sizeof(struct hc_lease_entry), HC_NINVAL, offsetof(struct hc_header, off_inval),
		HC_IFLAG_DELTA, HC_IFLAG_CLIENT, HC_MAX_EXTRA,
		sizeof(struct hc_journal_slot), offsetof(struct hc_header, journal_head),
		offsetof(struct hc_header, wb_head), offsetof(struct hc_header, wb_tail),
		offsetof(struct hc_proc, wb_inflight), HC_WB_HEADER, HC_WB_LEN_SHIFT,
		HC_WB_TAG_SHIFT, HC_WB_FREE_MAGIC,
	};

	return XXH64(facts, sizeof facts, 0x686f737463616368ULL);
}

/* The monotonic offset of this process's time namespace, in ns (0 when the
 * kernel has no time namespaces). */
static int64_t timens_offset(void)
{
	FILE *f = fopen("/proc/self/timens_offsets", "re");
	char clock[32];
	long long sec, nsec;
	int64_t off = 0;

	if (f == NULL)
		return 0;
	while (fscanf(f, "%31s %lld %lld", clock, &sec, &nsec) == 3)
		if (strcmp(clock, "monotonic") == 0 || strcmp(clock, "1") == 0)
			off = sec * 1000000000LL + nsec;
	fclose(f);
	return off;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}


static int errno_to_hc(int e, const char *name, const char *what)
{
	switch (e) {
	case ENOENT:
		return hc_fail(HC_ENOSEG, "no segment '%s'", name);
	case EEXIST:
		return hc_fail(HC_ESEGEXISTS, "segment '%s' already exists", name);
	case EACCES:
	case EPERM:
		return hc_fail(HC_EPERM, "no permission to %s segment '%s' "
		               "(check its owner and mode in /dev/shm)", what, name);
	case ENAMETOOLONG:
	case EINVAL:
		return hc_fail(HC_ENAME, "bad segment name '%s'", name);
	case ENOSPC:
	case ENOMEM:
	case EFBIG:
		return hc_fail(HC_ENOSPC, "not enough shared memory to %s segment "
		               "'%s' (is /dev/shm full?)", what, name);
	default:
		errno = e;
		return hc_fail(HC_ESYS, "cannot %s segment '%s': %s", what, name,
		               strerror(e));
	}
}

/* The arguments every attach checks first: OUT (set to NULL), and NAME,
 * whose shm_open() name goes to SHM.  FN names the caller in the error. */
static int segment_args(const char *fn, const char *name, char *shm,
                        size_t cap, hc_cache **out)
{
	if (out == NULL)
		return hc_fail(HC_EINVAL, "%s: out is NULL", fn);
	*out = NULL;
	return segment_name_check(name, shm, cap);
}

/* Fill the handle's private copies and region pointers from a verified
 * header. */
static void handle_bind(hc_cache *c, const struct hc_header *h)
{
	c->hdr = (struct hc_header *)c->base;
	c->procs = (struct hc_proc *)(c->base + h->off_procs);
	c->block_words = (hc_word *)(c->base + h->off_block_words);
	c->nmap = (h->nblocks + 63) / 64;
	c->nwindows = (h->nblocks + HC_WINDOW_BLOCKS - 1) / HC_WINDOW_BLOCKS;
	c->free_map = c->block_words + h->nblocks;
	c->window_live = c->free_map + c->nmap;
	c->block_meta = (struct hc_block_meta *)(c->base + h->off_block_meta);
	c->index = (struct hc_bucket *)(c->base + h->off_index);
	c->inval = (hc_word *)(c->base + h->off_inval);
	c->leases = (struct hc_lease_entry *)(c->base + h->off_leases);
	c->journal = (struct hc_journal_slot *)(c->base + h->off_journal);
	c->njournal = h->njournal;
	c->writeback = (hc_word *)(c->base + h->off_writeback);
	c->wb_size = h->writeback_bytes;
	c->ninval = h->ninval;
	c->nleases = h->nleases;
	c->stale_grace_ms = h->stale_grace_ms;
	c->latency_every = h->latency_every <= 1000000 ? h->latency_every : 0;
	c->latency_cap = c->latency_every ? c->latency_every : UINT32_MAX;
	/* 0 in a segment made before the option existed: the default. */
	c->clean_watermark_pct = h->clean_watermark_pct ? h->clean_watermark_pct
	                                                : HC_DEFAULT_WATERMARK_PCT;
	c->delimiter = (unsigned char)h->delimiter;
	c->items = c->base + h->off_items;
	c->size = h->size;
	c->item_memory = h->item_memory;
	c->epoch_ns = h->epoch_ns;
	c->max_key = h->max_key;
	c->max_value = h->max_value;
	c->max_procs = h->max_procs;
	c->block_size = h->block_size;
	c->nblocks = h->nblocks;
	c->nbuckets = h->nbuckets;
	c->reserve = h->reserve_blocks;
	c->ttl_jitter_pct = h->ttl_jitter_pct;
	c->block_shift = (unsigned)__builtin_ctz(h->block_size);
	/* As published: at creation the magic comes after this. */
	memcpy(c->geom, h, HC_GEOMETRY_BYTES);
	((struct hc_header *)c->geom)->magic = HC_MAGIC_WORD;
}

static hc_cache *handle_new(const char *name)
{
	hc_cache *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->open.block = c->moved.block = c->walk.block = -1;
	c->free_seen = UINT32_MAX;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->wb_lock, NULL);
	snprintf(c->name, sizeof c->name, "%s", name);
	return c;
}

static void handle_free(hc_cache *c)
{
	if (c->base != NULL && c->base != MAP_FAILED)
		munmap(c->base, c->map_size);
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->wb_lock);
	free(c);
}

HC_API int hc_create(const char *name, const hc_config *cfg, hc_cache **out)
{
	char shm[HC_NAME_MAX + 2];
	struct geometry g;
	hc_config defaults;
	hc_cache *c;
	int rc;

	if ((rc = segment_args("hc_create", name, shm, sizeof shm, out)) < 0)
		return hc_ret(rc);
	if (cfg == NULL) {
		hc_config_init(&defaults);
		cfg = &defaults;
	}
	if ((rc = geometry_choose(cfg, &g)) < 0)
		return hc_ret(rc);
	if ((c = handle_new(shm)) == NULL)
		return hc_ret(HC_ESYS);

	mode_t mode = cfg->mode ? (mode_t)(cfg->mode & 0777) : 0600;
	c->fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (c->fd < 0) {
		rc = errno_to_hc(errno, shm, "create");
		goto fail_nounlink;
	}
	if ((c->fd = fd_above_stdio(c->fd)) < 0) {
		rc = errno_to_hc(errno, shm, "create");
		goto fail;
	}
	/* shm_open applies the umask; the caller asked for this mode exactly. */
	if (fchmod(c->fd, mode) < 0 || ftruncate(c->fd, (off_t)g.size) < 0) {
		rc = errno_to_hc(errno, shm, "size");
		goto fail;
	}
	if ((rc = posix_fallocate(c->fd, 0, (off_t)g.size)) != 0) {
		rc = rc == ENOSPC
		     ? hc_fail(HC_ENOSPC, "/dev/shm cannot hold a segment of %llu "
		               "bytes; free space there or choose a smaller size",
		               (unsigned long long)g.size)
		     : errno_to_hc(rc, shm, "reserve memory for");
		goto fail;
	}
	c->map_size = g.size;
	c->base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->base == MAP_FAILED) {
		c->base = NULL;
		rc = errno_to_hc(errno, shm, "map");
		goto fail;
	}

	struct hc_header *h = (struct hc_header *)c->base;

	h->layout = hc_layout_word();
	h->size = g.size;
	h->version_major = HC_VERSION_MAJOR;
	h->version_minor = HC_VERSION_MINOR;
	h->max_key = g.max_key;
	h->max_value = g.max_value;
	h->max_procs = g.max_procs;
	h->block_size = g.block_size;
	h->nblocks = g.nblocks;
	h->nbuckets = g.nbuckets;
	h->reserve_blocks = HC_RESERVE_BLOCKS;
	h->mode = (uint32_t)mode;
	h->delimiter = (unsigned char)(cfg->delimiter ? cfg->delimiter : ':');
	h->ttl_jitter_pct = cfg->ttl_jitter_pct;
	h->created_ns = clock_ns(CLOCK_REALTIME);
	h->epoch_ns = clock_ns(CLOCK_MONOTONIC_COARSE);
	h->timens_offset = timens_offset();
	h->off_procs = g.off_procs;
	h->off_block_words = g.off_block_words;
	h->off_block_meta = g.off_block_meta;
	h->off_index = g.off_index;
	h->off_items = g.off_items;
	h->item_memory = g.item_memory;
	h->off_inval = g.off_inval;
	h->off_leases = g.off_leases;
	h->off_journal = g.off_journal;
	h->njournal = g.njournal;
	h->off_writeback = g.off_writeback;
	h->writeback_bytes = g.writeback_bytes;
	h->ninval = g.ninval;
	h->nleases = g.nleases;
	h->stale_grace_ms = cfg->stale_grace_ms;
	h->latency_every = cfg->latency_every == HC_LATENCY_OFF ? 0
	                   : cfg->latency_every ? cfg->latency_every
	                   : HC_DEFAULT_LATENCY_EVERY;
	h->clean_watermark_pct = cfg->clean_watermark_pct
	                         ? cfg->clean_watermark_pct : HC_DEFAULT_WATERMARK_PCT;
	store_relaxed(&h->seal_seq, 1);
	handle_bind(c, h);
	for (uint32_t b = 0; b < c->nblocks; b++)
		block_map_free(c, b); /* every block starts FREE */
	writeback_init(c);
	/* Publish: pairs with the acquire load of magic in hc_open(). */
	store_release(&h->magic, HC_MAGIC_WORD);
	header_backup_write(c, h);

	if ((rc = proc_attach(c)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	shm_unlink(shm);
fail_nounlink:
	handle_free(c);
	return hc_ret(rc);
}

/* The sum that marks a backup copy of geometry GEOM whole (never 0). */
static uint64_t header_sum(const void *geom)
{
	return XXH3_64bits(geom, HC_GEOMETRY_BYTES) | 1;
}

/* Write the backup of header H (the verified geometry) through the
 * mapping: the copy first, its sum last. */
void header_backup_write(hc_cache *c, const struct hc_header *h)
{
	struct hc_header_backup *b =
		(struct hc_header_backup *)(c->base + HC_BACKUP_OFF);
	hc_word words[HC_GEOMETRY_BYTES / 8];

	memcpy(words, h, sizeof words);
	store_release(&b->sum, 0);
	for (size_t i = 0; i < HC_GEOMETRY_BYTES / 8; i++)
		store_relaxed((hc_word *)b->geom + i, words[i]);
	store_release(&b->sum, header_sum(words));
}

/* Rewrite the header's geometry from GEOM (the backup, or the handle's
 * verified copy), the magic last. */
void header_restore(hc_cache *c, const void *geom)
{
	hc_word words[HC_GEOMETRY_BYTES / 8];
	hc_word *to = (hc_word *)c->base;

	memcpy(words, geom, sizeof words);
	for (size_t i = 1; i < HC_GEOMETRY_BYTES / 8; i++)
		store_relaxed(&to[i], words[i]);
	store_release(&to[0], words[0]);
}

/* Read the backup from FD into B: true if it is whole and describes a
 * segment of FILE_SIZE bytes of our layout. */
static bool backup_read(int fd, uint64_t file_size, struct hc_header *b)
{
	struct hc_header_backup copy;

	if (file_size < HC_BACKUP_OFF + sizeof copy ||
	    pread(fd, &copy, sizeof copy, HC_BACKUP_OFF) != (ssize_t)sizeof copy ||
	    copy.sum == 0 || copy.sum != header_sum(copy.geom))
		return false;
	memset(b, 0, sizeof *b);
	memcpy(b, copy.geom, HC_GEOMETRY_BYTES);
	return b->magic == HC_MAGIC_WORD && b->layout == hc_layout_word() &&
	       b->size == file_size;
}

/* Wait (bounded) for the creator to size the file and publish the magic.
 * Returns the file size, or an error. */
static int wait_initialised(int fd, const char *name, uint64_t *file_size)
{
	for (unsigned waited = 0;; waited++) {
		struct stat st;
		uint64_t magic = 0;

		if (fstat(fd, &st) < 0)
			return errno_to_hc(errno, name, "inspect");
		if ((uint64_t)st.st_size >= sizeof(struct hc_header)) {
			if (pread(fd, &magic, sizeof magic, 0) != (ssize_t)sizeof magic)
				return errno_to_hc(errno, name, "read");
			struct hc_header b;

			/* A whole backup is written after the magic: a header
			 * without one was damaged, not left half-made. */
			if (magic == HC_MAGIC_WORD ||
			    backup_read(fd, (uint64_t)st.st_size, &b)) {
				*file_size = (uint64_t)st.st_size;
				return 0;
			}
			if (magic != 0)
				return hc_fail(HC_ECORRUPT, "'%s' is not a hostcache "
				               "segment (bad magic)", name);
		}
		if (waited >= HC_OPEN_WAIT_MS)
			return hc_fail(HC_EINIT, "segment '%s' was never initialised "
			               "(its creator died?); destroy it and create "
			               "it again", name);
		usleep(1000);
	}
}

/* Verify header H of a file of FILE_SIZE bytes. */
static int header_verify(const struct hc_header *h, uint64_t file_size,
                         const char *name)
{
	if (h->magic != HC_MAGIC_WORD)
		return hc_fail(HC_ECORRUPT, "'%s' is not a hostcache segment "
		               "(bad magic)", name);
	if (h->layout != hc_layout_word())
		return hc_fail(HC_EVERSION, "segment '%s' has layout %016llx, this "
		               "library (%s) uses %016llx; recreate the segment or "
		               "use the matching library", name,
		               (unsigned long long)h->layout, HC_VERSION_STRING,
		               (unsigned long long)hc_layout_word());
	int rc = geometry_verify(h, file_size);

	/* Time zero is the creator's coarse monotonic clock, which only goes
	 * forward: one later than ours by more than a second of slack (in
	 * the same time namespace, checked after) is damage, and would stamp
	 * every item 1, no later than a flush. */
	if (rc == 0 && h->timens_offset == timens_offset() &&
	    h->epoch_ns > clock_ns(CLOCK_MONOTONIC_COARSE) + 1000000000ULL)
		return hc_fail(HC_ECORRUPT, "segment header's clock epoch "
		               "(CLOCK_MONOTONIC at creation) is later than this "
		               "process's clock: damaged, or made in another "
		               "time namespace");
	return rc;
}

int segment_map_fd(hc_cache *c, int fd, const char *name, unsigned flags)
{
	struct hc_header h, b;
	uint64_t file_size = 0;
	bool restore = false;
	int rc;

	if ((rc = wait_initialised(fd, name, &file_size)) < 0)
		return rc;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		return errno_to_hc(errno, name, "read");
	if ((rc = header_verify(&h, file_size, name)) < 0) {
		/* A damaged header with a whole backup: repairable. */
		char why[200];

		snprintf(why, sizeof why, "%s", hc_last_error());
		if (!backup_read(fd, file_size, &b) ||
		    header_verify(&b, file_size, name) < 0)
			return hc_fail(rc, "%s", why);
		if (!(flags & HC_OPEN_REPAIR))
			return hc_fail(HC_ECORRUPT, "%s; the header's backup copy is "
			               "intact: 'cachectl check --repair %s' restores "
			               "it", why, name);
		memcpy(&h, &b, HC_GEOMETRY_BYTES);
		restore = true;
	}
	c->map_size = file_size;
	c->base = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->base == MAP_FAILED) {
		c->base = NULL;
		return errno_to_hc(errno, name, "map");
	}
	if (restore)
		header_restore(c, &h);
	/* Pairs with the release store of magic in hc_create(); then verify
	 * the header again from the mapping, the copy we keep using. */
	struct hc_header *m = (struct hc_header *)c->base;

	if (load_acquire(&m->magic) != HC_MAGIC_WORD)
		return hc_fail(HC_ECORRUPT, "segment '%s' changed while opening", name);
	memcpy(&h, m, sizeof h);
	if (h.layout != hc_layout_word() || (rc = geometry_verify(&h, file_size)) < 0)
		return rc < 0 ? rc : hc_fail(HC_ECORRUPT, "segment '%s' changed "
		                             "while opening", name);
	if (h.timens_offset != timens_offset())
		return hc_fail(HC_ETIMENS, "segment '%s' was made in another time "
		               "namespace; its expiry times would be wrong here", name);
	handle_bind(c, &h);
	return 0;
}

HC_API int hc_open(const char *name, hc_cache **out)
{
	return hc_open_ex(name, 0, out);
}

HC_API int hc_open_ex(const char *name, unsigned flags, hc_cache **out)
{
	char shm[HC_NAME_MAX + 2];
	hc_cache *c;
	int rc;

	if ((rc = segment_args("hc_open", name, shm, sizeof shm, out)) < 0)
		return hc_ret(rc);
	if ((c = handle_new(shm)) == NULL)
		return hc_ret(HC_ESYS);
	c->fd = fd_above_stdio(shm_open(shm, O_RDWR | O_CLOEXEC, 0));
	if (c->fd < 0) {
		rc = errno_to_hc(errno, shm, "open");
		goto fail;
	}
	if ((rc = segment_map_fd(c, c->fd, shm, flags)) < 0)
		goto fail;
	c->no_reap = (flags & HC_OPEN_NO_REAP) != 0;
	if ((rc = proc_attach(c)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	handle_free(c);
	return hc_ret(rc);
}

HC_API int hc_close(hc_cache *c)
{
	if (c == NULL)
		return hc_ret(HC_EINVAL);
	/* A child that never used an inherited handle holds no slot of its
	 * own: it must not detach its parent's. */
	if (load_relaxed(&hc_fork_gen) == c->fork_gen) {
		writeback_release(c);
		proc_detach(c);
	}
	handle_free(c);
	return 0;
}

HC_API int hc_unlink(const char *name)
{
	char shm[HC_NAME_MAX + 2];
	int rc;

	if ((rc = segment_name_check(name, shm, sizeof shm)) < 0)
		return hc_ret(rc);
	if (shm_unlink(shm) < 0)
		return hc_ret(errno_to_hc(errno, shm, "remove"));
	return 0;
}
