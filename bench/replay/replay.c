/*
 * replay.c - what trace_replay and hcmiss share: traces (text files and
 * synthetic Zipf), the textbook policies simulated exactly, and the replay
 * of a trace through a real segment.  See replay.h.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostcache.h"
#include "kit/kit.h"
#include "replay.h"

/* ---- failing, and never leaving a segment behind --------------------- */

const char *replay_prog = "replay";
static char segment_name[80];

static void segment_remove(void)
{
	if (segment_name[0] != '\0')
		hc_unlink(segment_name);
	segment_name[0] = '\0';
}

static void on_signal(int sig)
{
	(void)sig;
	if (segment_name[0] != '\0')
		hc_unlink(segment_name);
	_exit(130);
}

void replay_init(const char *prog)
{
	replay_prog = prog;
	atexit(segment_remove);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

void api_fail(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s (%s)\n", replay_prog, what, hc_strerror(rc),
	        hc_last_error());
	exit(1);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory (%zu x %zu bytes)\n",
		        replay_prog, n, size);
		exit(1);
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		fprintf(stderr, "%s: out of memory (%zu bytes)\n", replay_prog,
		        n);
		exit(1);
	}
	return p;
}

/* ---- traces ------------------------------------------------------------ */

static unsigned decimal_len(uint64_t k)
{
	unsigned n = 1;

	while (k >= 10) {
		k /= 10;
		n++;
	}
	return n;
}

int key_text(uint64_t k, char *out)
{
	return sprintf(out, "%llu", (unsigned long long)k);
}

/* Bytes an item takes in item memory: lib/item.h, item_total(0, k, v). */
uint64_t item_bytes(uint64_t klen, uint64_t vlen)
{
	return (ITEM_HEADER + klen + vlen + 7) & ~7ULL;
}

/* Keys to dense ids: open addressing, grown at half load. */
struct idmap {
	uint64_t *keys;
	uint32_t *ids;   /* id + 1; 0 = empty */
	uint64_t cap, n;
};

static void idmap_grow(struct idmap *m)
{
	struct idmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 1024;
	m->keys = xcalloc(m->cap, sizeof *m->keys);
	m->ids = xcalloc(m->cap, sizeof *m->ids);
	m->n = 0;
	for (uint64_t i = 0; i < old.cap; i++) {
		if (old.ids[i] == 0)
			continue;
		uint64_t j = kit_mix64(old.keys[i]) & (m->cap - 1);

		while (m->ids[j] != 0)
			j = (j + 1) & (m->cap - 1);
		m->keys[j] = old.keys[i];
		m->ids[j] = old.ids[i];
		m->n++;
	}
	free(old.keys);
	free(old.ids);
}

/* The id of KEY; a new one (*fresh) if KEY was never seen. */
static uint32_t idmap_get(struct idmap *m, uint64_t key, bool *fresh)
{
	if (2 * (m->n + 1) > m->cap)
		idmap_grow(m);
	uint64_t j = kit_mix64(key) & (m->cap - 1);

	while (m->ids[j] != 0) {
		if (m->keys[j] == key) {
			*fresh = false;
			return m->ids[j] - 1;
		}
		j = (j + 1) & (m->cap - 1);
	}
	m->keys[j] = key;
	m->ids[j] = (uint32_t)++m->n;
	*fresh = true;
	return (uint32_t)(m->n - 1);
}

/* Append request (KEY, SIZE) to T, whose arrays hold CAP requests and
 * OCAP objects. */
static void trace_add(struct trace *t, struct idmap *m, uint64_t key,
                      uint32_t size, uint64_t *cap, uint64_t *ocap)
{
	bool fresh;

	if (t->nreq == *cap) {
		*cap = *cap ? *cap * 2 : 65536;
		t->id = xrealloc(t->id, *cap * sizeof *t->id);
		t->vlen = xrealloc(t->vlen, *cap * sizeof *t->vlen);
	}
	uint32_t o = idmap_get(m, key, &fresh);

	if (fresh) {
		if (o == *ocap) {
			*ocap = *ocap ? *ocap * 2 : 65536;
			t->key = xrealloc(t->key, *ocap * sizeof *t->key);
			t->klen = xrealloc(t->klen, *ocap * sizeof *t->klen);
			t->first_vlen = xrealloc(t->first_vlen,
			                         *ocap * sizeof *t->first_vlen);
		}
		t->key[o] = key;
		t->klen[o] = (uint8_t)decimal_len(key);
		t->first_vlen[o] = size;
		t->nobj = o + 1;
	}
	t->id[t->nreq] = o;
	t->vlen[t->nreq] = size;
	t->nreq++;
}

/* Sizes, footprint and limits, once every request is in.  A trace whose
 * sizes are all 1 has no sizes: every value gets VALUE bytes. */
static void trace_finish(struct trace *t, uint32_t value)
{
	t->sized = false;
	for (uint64_t i = 0; i < t->nreq; i++)
		if (t->vlen[i] != 1)
			t->sized = true;
	if (!t->sized) {
		for (uint64_t i = 0; i < t->nreq; i++)
			t->vlen[i] = value;
		for (uint32_t o = 0; o < t->nobj; o++)
			t->first_vlen[o] = value;
	}
	t->max_vlen = t->max_klen = 0;
	t->footprint = t->total_bytes = 0;
	for (uint64_t i = 0; i < t->nreq; i++) {
		if (t->vlen[i] > t->max_vlen)
			t->max_vlen = t->vlen[i];
		t->total_bytes += t->vlen[i];
	}
	for (uint32_t o = 0; o < t->nobj; o++) {
		if (t->klen[o] > t->max_klen)
			t->max_klen = t->klen[o];
		t->footprint += item_bytes(t->klen[o], t->first_vlen[o]);
	}
}

bool trace_load(struct trace *t, const char *path, uint32_t value)
{
	FILE *f = fopen(path, "r");
	struct idmap m = { 0 };
	uint64_t cap = 0, ocap = 0, line = 0;
	unsigned long long key, size;
	int got;

	memset(t, 0, sizeof *t);
	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", replay_prog, path,
		        strerror(errno));
		return false;
	}
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	snprintf(t->name, sizeof t->name, "%.*s", (int)strcspn(base, "."), base);
	while ((got = fscanf(f, "%llu %llu", &key, &size)) == 2) {
		line++;
		if (size == 0 || size > (16u << 20)) {
			fprintf(stderr, "%s: %s:%llu: size %llu out of range "
			        "(1..16 MiB)\n", replay_prog, path,
			        (unsigned long long)line, size);
			fclose(f);
			return false;
		}
		trace_add(t, &m, key, (uint32_t)size, &cap, &ocap);
	}
	bool ok = got == EOF && !ferror(f) && t->nreq > 0;

	if (!ok)
		fprintf(stderr, "%s: %s: unreadable after line %llu "
		        "(want \"<key> <size>\" a line)\n", replay_prog, path,
		        (unsigned long long)line);
	fclose(f);
	free(m.keys);
	free(m.ids);
	if (ok)
		trace_finish(t, value);
	return ok;
}

/* Zipf(ALPHA) over KEYS keys, REQUESTS requests, from a fixed seed: rank r
 * is drawn with probability proportional to 1/r^alpha (inverse CDF). */
void trace_zipf(struct trace *t, double alpha, uint32_t keys,
                       uint64_t requests, uint32_t value)
{
	struct kit_zipf_table zipf;
	struct idmap m = { 0 };
	uint64_t cap = 0, ocap = 0, seed = 42;

	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "zipf%.1f", alpha);
	if (kit_zipf_table_init(&zipf, keys, alpha) != 0) {
		fprintf(stderr, "%s: out of memory (a Zipf table of %u keys)\n",
		        replay_prog, keys);
		exit(1);
	}
	for (uint64_t i = 0; i < requests; i++) {
		uint32_t rank = kit_zipf_table_rank(&zipf, kit_rng_unit(&seed));

		/* Scatter ranks over the key space, as real ids would be. */
		trace_add(t, &m, kit_mix64(rank) % 1000000000000ULL, 1, &cap,
		          &ocap);
	}
	kit_zipf_table_free(&zipf);
	free(m.keys);
	free(m.ids);
	trace_finish(t, value);
}

void trace_print_heading(const struct trace *t)
{
	printf("\n%s: %llu requests, %u keys (%.1f%% of requests are first "
	       "accesses), ", t->name, (unsigned long long)t->nreq, t->nobj,
	       100.0 * t->nobj / (double)t->nreq);
	if (t->sized)
		printf("sizes from the trace (max %u B)", t->max_vlen);
	else
		printf("no sizes: every value %u B", t->max_vlen);
	printf(", footprint %.2f MiB of items\n",
	       (double)t->footprint / (1 << 20));
}

/* ---- results ----------------------------------------------------------- */

double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

void trace_json_begin(struct kit_json *j, FILE *f, const char *bench,
                      const struct trace *t, double fraction,
                      const struct segment_run *s)
{
	kit_json_begin(j, f);
	kit_json_str(j, "bench", bench);
	kit_json_str(j, "trace", t->name);
	kit_json_uint(j, "requests", t->nreq);
	kit_json_uint(j, "keys", t->nobj);
	kit_json_uint(j, "footprint", t->footprint);
	kit_json_g(j, "size_fraction", fraction);
	kit_json_bool(j, "in_range", s->in_range);
	if (!s->in_range)
		kit_json_uint(j, "want_item_memory", s->want_memory);
}

/* What one request weighs in a simulator: its item bytes, or 1 when the
 * simulator counts objects. */
static uint64_t weight_of(const struct trace *t, uint64_t i, bool count)
{
	return count ? 1 : item_bytes(t->klen[t->id[i]], t->vlen[i]);
}

/* ---- textbook policies --------------------------------------------------
 *
 * Every simulator keeps its objects on intrusive doubly-linked lists over
 * the dense ids: `newer`/`older` links, head = newest, tail = oldest.  An
 * object's weight is fixed when it is inserted (a hit with another size
 * keeps the cached one, as the segment does).
 */

const char *const policy_names[NPOLICIES] = {
	"lru", "fifo", "clock", "clock2", "sieve", "s3fifo"
};

static void list_push_head(struct sim *s, struct list *l, int32_t o)
{
	s->older[o] = l->head;
	s->newer[o] = -1;
	if (l->head >= 0)
		s->newer[l->head] = o;
	l->head = o;
	if (l->tail < 0)
		l->tail = o;
	l->weight += s->weight[o];
}

static void list_remove(struct sim *s, struct list *l, int32_t o)
{
	if (s->newer[o] >= 0)
		s->older[s->newer[o]] = s->older[o];
	else
		l->head = s->older[o];
	if (s->older[o] >= 0)
		s->newer[s->older[o]] = s->newer[o];
	else
		l->tail = s->newer[o];
	l->weight -= s->weight[o];
}

void sim_init(struct sim *s, const struct trace *t, uint64_t cap)
{
	memset(s, 0, sizeof *s);
	s->cap = cap;
	s->newer = xcalloc(t->nobj, sizeof *s->newer);
	s->older = xcalloc(t->nobj, sizeof *s->older);
	s->weight = xcalloc(t->nobj, sizeof *s->weight);
	s->freq = xcalloc(t->nobj, sizeof *s->freq);
	s->queue = xcalloc(t->nobj, sizeof *s->queue);
	s->ghost_ids = xcalloc(t->nreq, sizeof *s->ghost_ids);
	s->ghost_w = xcalloc(t->nreq, sizeof *s->ghost_w);
	s->ghost_seq = xcalloc(t->nobj, sizeof *s->ghost_seq);
	s->main = s->small = (struct list){ -1, -1, 0 };
	s->hand = -1;
}

void sim_free(struct sim *s)
{
	free(s->newer);
	free(s->older);
	free(s->weight);
	free(s->freq);
	free(s->queue);
	free(s->ghost_ids);
	free(s->ghost_w);
	free(s->ghost_seq);
}

static void sim_drop(struct sim *s, struct list *l, int32_t o)
{
	list_remove(s, l, o);
	s->used -= s->weight[o];
	s->weight[o] = 0;
	s->queue[o] = 0;
}

/* FIFO with reinsertion: the tail goes unless its counter is above zero,
 * in which case it is lowered and the object goes back to the head.  With
 * MAX 1 this is CLOCK; with MAX 3, CLOCK with a 2-bit counter. */
static void evict_clock(struct sim *s)
{
	for (;;) {
		int32_t o = s->main.tail;

		if (s->freq[o] == 0) {
			sim_drop(s, &s->main, o);
			return;
		}
		s->freq[o]--;
		list_remove(s, &s->main, o);
		list_push_head(s, &s->main, o);
	}
}

/* SIEVE: the hand walks from the tail towards the head, clearing visited
 * bits, and evicts the first unvisited object; new objects go to the
 * head and never move. */
static void evict_sieve(struct sim *s)
{
	int32_t o = s->hand >= 0 ? s->hand : s->main.tail;

	while (s->freq[o]) {
		s->freq[o] = 0;
		o = s->newer[o] >= 0 ? s->newer[o] : s->main.tail;
	}
	s->hand = s->newer[o];
	sim_drop(s, &s->main, o);
}

void ghost_add(struct sim *s, uint32_t o, uint64_t w)
{
	uint64_t seq = s->ghost_tail++;

	s->ghost_ids[seq] = o;
	s->ghost_w[seq] = w;
	s->ghost_seq[o] = seq + 1;
	s->ghost_weight += w;
	while (s->ghost_weight > s->ghost_cap && s->ghost_head < s->ghost_tail) {
		uint64_t h = s->ghost_head++;

		s->ghost_weight -= s->ghost_w[h];
		if (s->ghost_seq[s->ghost_ids[h]] == h + 1)
			s->ghost_seq[s->ghost_ids[h]] = 0;
	}
}

/*
 * S3-FIFO (Yang et al., SOSP'23): a small FIFO (10% of the capacity), a
 * main FIFO with a 2-bit counter (CLOCK2 above), and a ghost FIFO of ids
 * recently evicted from the small queue (90% of the capacity).  A miss
 * found in the ghost goes to main, any other to small.  The small queue's
 * tail moves to main if it was read more than once there (freq > 1, as in
 * the paper's algorithm), else to the ghost.
 */
static void evict_s3fifo(struct sim *s)
{
	uint64_t small_cap = s->cap / 10;

	while (s->small.tail >= 0 &&
	       (s->small.weight >= small_cap || s->main.tail < 0)) {
		int32_t o = s->small.tail;

		if (s->freq[o] >= 2) {
			list_remove(s, &s->small, o);
			s->freq[o] = 0;
			s->queue[o] = 2;
			list_push_head(s, &s->main, o);
			continue;
		}
		uint64_t w = s->weight[o];

		sim_drop(s, &s->small, o);
		ghost_add(s, (uint32_t)o, w);
		return;
	}
	evict_clock(s);
}

struct outcome sim_run(const struct trace *t, enum policy p,
                              uint64_t cap, bool count)
{
	struct outcome r = { 0, 0 };
	struct sim s;

	sim_init(&s, t, cap);
	s.ghost_cap = cap - cap / 10;
	for (uint64_t i = 0; i < t->nreq; i++) {
		int32_t o = (int32_t)t->id[i];
		uint64_t w = weight_of(t, i, count);

		if (s.weight[o] != 0) {
			if (p == LRU) {
				list_remove(&s, &s.main, o);
				list_push_head(&s, &s.main, o);
			} else if (p == CLOCK1 || p == SIEVE) {
				s.freq[o] = 1;
			} else if (p == CLOCK2 || p == S3FIFO) {
				if (s.freq[o] < CLOCK_MAX)
					s.freq[o]++;
			}
			continue;
		}
		r.misses++;
		r.miss_bytes += t->vlen[i];
		if (w > cap)
			continue;
		while (s.used + w > cap) {
			if (p == LRU || p == FIFO)
				sim_drop(&s, &s.main, s.main.tail);
			else if (p == SIEVE)
				evict_sieve(&s);
			else if (p == S3FIFO)
				evict_s3fifo(&s);
			else
				evict_clock(&s);
		}
		s.weight[o] = w;
		s.freq[o] = 0;
		s.used += w;
		if (p == S3FIFO && s.ghost_seq[o] == 0) {
			s.queue[o] = 1;
			list_push_head(&s, &s.small, o);
		} else {
			s.ghost_seq[o] = 0;
			s.queue[o] = 2;
			list_push_head(&s, &s.main, o);
		}
	}
	sim_free(&s);
	return r;
}

/* ---- plot data --------------------------------------------------------- */

void plot_trace_begin(FILE *f, const struct trace *t,
                      const enum policy *policies, unsigned n)
{
	static bool first = true;

	fprintf(f, "%s# %s\nfraction hostcache", first ? "" : "\n\n", t->name);
	first = false;
	for (unsigned p = 0; p < n; p++)
		fprintf(f, " %s", policy_names[policies != NULL ? policies[p] : p]);
	fputc('\n', f);
}

void plot_row(FILE *f, double fraction, const double *miss, unsigned n)
{
	fprintf(f, "%g", fraction);
	for (unsigned i = 0; i <= n; i++) {
		if (isnan(miss[i]))
			fprintf(f, " NaN");
		else
			fprintf(f, " %.4f", miss[i]);
	}
	fputc('\n', f);
}

/* ---- the real thing ------------------------------------------------------ */

static hc_config segment_config(const struct trace *t, uint64_t size)
{
	hc_config cfg;

	hc_config_init(&cfg);
	cfg.size = size;
	cfg.max_procs = 1;
	cfg.max_key = t->max_klen;
	cfg.max_value = t->max_vlen;
	cfg.avg_item_size = (uint32_t)(t->footprint / t->nobj);
	return cfg;
}

/* The block size hc_create() picks when max_value is set (lib/segment.c):
 * the smallest power of two, at least 4 KiB, that holds the largest item
 * with the most header extras (tags and more, up to 20 bytes) and the
 * longest key.  Only a first guess: hc_info_get() says what it picked. */
static uint64_t expected_block_size(const struct trace *t)
{
	uint64_t need = item_bytes(20u + t->max_klen, t->max_vlen), bs = 4096;

	while (bs < need)
		bs *= 2;
	return bs;
}

/* Create a segment whose item memory is the whole number of blocks
 * nearest to WANT bytes, or return NULL when that is fewer blocks than the
 * smallest segment has.  Segment size and block count move together, so a
 * few corrections converge; the last segment made is used. */
static hc_cache *segment_sized(const struct trace *t, struct segment_run *s)
{
	uint64_t bs = expected_block_size(t), avg = t->footprint / t->nobj;
	uint64_t want_blocks = (s->want_memory + bs / 2) / bs;
	/* A block costs its bytes, its index share and its table entries;
	 * the header and the fixed tables come on top. */
	uint64_t per_block = bs + bs * 16 / (avg < 32 ? 32 : avg) + 64;
	uint64_t fixed = 128u << 10;
	hc_cache *c = NULL;
	hc_info info;

	snprintf(segment_name, sizeof segment_name, "/hc_%s_%ld", replay_prog,
	         (long)getpid());
	for (int round = 0;; round++) {
		s->block_size = (uint32_t)bs;
		if (want_blocks < MIN_BLOCKS)
			return NULL;
		hc_config cfg = segment_config(t, want_blocks * per_block + fixed);
		int rc;

		hc_unlink(segment_name);
		rc = hc_create(segment_name, &cfg, &c);
		if (rc == HC_ECONFIG && round < 12) {
			fixed *= 2; /* the fixed part is larger than guessed */
			continue;
		}
		if (rc != 0)
			api_fail("hc_create", rc);
		rc = hc_info_get(c, &info);
		if (rc != 0)
			api_fail("hc_info_get", rc);
		if (info.block_size != bs) {
			bs = info.block_size;
			want_blocks = (s->want_memory + bs / 2) / bs;
			per_block = bs + bs * 16 / (avg < 32 ? 32 : avg) + 64;
		}
		if (info.blocks == want_blocks || round >= 12)
			break;
		/* Correct the fixed part by what the segment actually holds. */
		int64_t delta = ((int64_t)want_blocks - (int64_t)info.blocks) *
		                (int64_t)per_block;

		hc_close(c);
		fixed = (uint64_t)((int64_t)fixed + delta);
	}
	s->segment = info.size;
	s->item_memory = info.item_memory;
	s->index_memory = info.index_memory;
	s->block_size = info.block_size;
	s->blocks = info.blocks;
	s->buckets = info.index_buckets;
	return c;
}

void segment_replay(const struct trace *t, struct segment_run *s)
{
	hc_cache *c = segment_sized(t, s);
	uint64_t every = t->nreq / 2000 ? t->nreq / 2000 : 1;
	uint64_t held_sum = 0, held_samples = 0;
	double live_sum = 0;
	size_t cap = t->max_vlen;
	unsigned char *value, *buf;
	hc_stats st;

	s->in_range = c != NULL;
	if (c == NULL)
		return;
	value = xcalloc(cap, 1);
	buf = xcalloc(cap, 1);
	for (uint64_t i = 0; i < t->nreq; i++) {
		char key[24];
		int klen = key_text(t->key[t->id[i]], key);
		size_t vlen;
		int rc = hc_get(c, key, (size_t)klen, buf, cap, &vlen);

		if (rc == HC_ENOTFOUND) {
			s->out.misses++;
			s->out.miss_bytes += t->vlen[i];
			rc = hc_set(c, key, (size_t)klen, value, t->vlen[i], 0);
			if (rc != 0)
				api_fail("hc_set", rc);
		} else if (rc != 0) {
			api_fail("hc_get", rc);
		}
		if (i % every != 0)
			continue;
		rc = hc_stats_get(c, &st);
		if (rc != 0)
			api_fail("hc_stats_get", rc);
		if (st.blocks_evicted > 0) {
			held_sum += st.items;
			live_sum += (double)st.bytes_live;
			held_samples++;
		}
	}
	s->samples = held_samples;
	int rc = hc_stats_get(c, &s->stats);

	if (rc != 0)
		api_fail("hc_stats_get", rc);
	s->mean_items = held_samples ? (double)held_sum / (double)held_samples
	                             : (double)s->stats.items;
	s->fill = held_samples ? live_sum / (double)held_samples /
	                         (double)s->item_memory : 0;
	hc_close(c);
	segment_remove();
	free(value);
	free(buf);
}

void trace_free(struct trace *t)
{
	free(t->id);
	free(t->vlen);
	free(t->key);
	free(t->klen);
	free(t->first_vlen);
}

void segment_replay_fraction(const struct trace *t, double fraction,
                             struct segment_run *s)
{
	memset(s, 0, sizeof *s);
	s->want_memory = (uint64_t)(fraction * (double)t->footprint);
	segment_replay(t, s);
}

void segment_json_layout(struct kit_json *j, const struct segment_run *s)
{
	kit_json_uint(j, "segment", s->segment);
	kit_json_uint(j, "item_memory", s->item_memory);
	kit_json_uint(j, "index_memory", s->index_memory);
	kit_json_uint(j, "block_size", s->block_size);
	kit_json_uint(j, "blocks", s->blocks);
}

/* ---- a run ------------------------------------------------------------- */

void replay_plan_defaults(struct replay_plan *p, uint32_t zipf_keys)
{
	memset(p, 0, sizeof *p);
	p->fractions[0] = 0.001;
	p->fractions[1] = 0.01;
	p->fractions[2] = 0.1;
	p->nfractions = 3;
	p->zipf_keys = zipf_keys;
	p->zipf_requests = 2000000;
	p->value = REPLAY_DEFAULT_VALUE;
}

bool replay_plan_each(const struct replay_plan *p,
                      void (*fn)(const struct trace *t, void *arg), void *arg)
{
	for (unsigned i = 0; i < p->ntraces; i++) {
		struct trace t;

		if (!trace_load(&t, p->traces[i], p->value))
			return false;
		fn(&t, arg);
		trace_free(&t);
	}
	for (unsigned i = 0; i < p->nzipf; i++) {
		struct trace t;

		trace_zipf(&t, p->zipf[i], p->zipf_keys, p->zipf_requests,
		           p->value);
		fn(&t, arg);
		trace_free(&t);
	}
	return true;
}
