/*
 * h_corrupt - break one thing in a segment, for the tests of cachectl check.
 *
 *   h_corrupt NAME index-outside          an empty index slot made to point
 *                                         past the end of item memory
 *   h_corrupt NAME item-overrun KEY       KEY's item header made to claim a
 *                                         value that runs past its block
 *   h_corrupt NAME orphan-open KEY        the sealed block holding KEY marked
 *                                         OPEN by a process slot nobody holds
 *   h_corrupt NAME orphan-evicting        a free block marked EVICTING by a
 *                                         process slot nobody holds
 *   h_corrupt NAME killed-evicting KEY... store each KEY (value = KEY) in a
 *                                         block of its own, mark that block
 *                                         EVICTING as an evictor would, and
 *                                         die by SIGKILL while attached
 *
 * It attaches like any process, so it runs beside live workers; every
 * change to a shared word is a CAS from the value it read, so a racing
 * writer makes it fail (exit 1) rather than tear anything.  Prints what it
 * broke as one line.  Exit 0 when done, 1 when nothing suitable was found,
 * 2 on a usage or attach error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static hc_cache *c;

static int usage(void)
{
	fprintf(stderr, "usage: h_corrupt NAME index-outside | item-overrun KEY "
	        "| orphan-open KEY | orphan-evicting | killed-evicting KEY...\n");
	return 2;
}

/* The index word of KEY's entry.  False if absent. */
static bool find_key(const char *key, uint64_t *word)
{
	struct key k;

	key_prepare(c, &k, key, strlen(key));
	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		uint64_t w = load_acquire(slot_at(c, k.bucket, i));
		struct found f;

		if (w == 0 || sw_fp(w) != k.fp || found_locate(c, w, &f) != 0 ||
		    !key_matches(&f, &k))
			continue;
		*word = w;
		return true;
	}
	fprintf(stderr, "h_corrupt: key '%s' not found\n", key);
	return false;
}

/* A process slot that nobody holds and that reads free: the owner we
 * name in a block word.  The highest such slot, because attaching takes
 * the lowest free one and would settle the block at once. */
static bool unheld_slot(unsigned *out)
{
	for (unsigned i = c->max_procs; i-- > 0;) {
		if (i == c->slot ||
		    load_acquire(&c->procs[i].state) != HC_PROC_FREE ||
		    proc_slot_alive(c, i))
			continue;
		*out = i;
		return true;
	}
	fprintf(stderr, "h_corrupt: every process slot is held\n");
	return false;
}

static int index_outside(void)
{
	uint64_t word = sw_make(0, 0, 1, c->item_memory + 64);

	for (uint32_t b = 0; b < c->nbuckets; b++)
		for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++)
			if (cas_full(slot_at(c, b, i), 0, word)) {
				printf("index bucket %u slot %u points past item "
				       "memory\n", b, i);
				return 0;
			}
	fprintf(stderr, "h_corrupt: no empty index slot\n");
	return 1;
}

static int item_overrun(const char *key)
{
	uint64_t word;

	if (!find_key(key, &word))
		return 1;
	/* An item is immutable once published, so a plain store is all
	 * it takes; the new length runs far past the block. */
	hc_word *hw = (hc_word *)(c->items + sw_loc(word));
	uint64_t ev = load_relaxed(&hw[2]);

	store_relaxed(&hw[2], (ev & ~HC_VLEN_MASK) | HC_VLEN_MASK);
	printf("item of '%s' at offset %llu now claims %llu value bytes\n", key,
	       (unsigned long long)sw_loc(word), (unsigned long long)HC_VLEN_MASK);
	return 0;
}

/* Mark block B (word W) STATE, owned by a slot nobody holds.  False if
 * the block changed meanwhile (a writer claimed it). */
static bool orphan(uint32_t b, uint64_t w, unsigned state, unsigned owner)
{
	if (!cas_full(&c->block_words[b], w, bw_make(state, owner, bw_gen(w))))
		return false;
	printf("block %u is now %s by process slot %u, which nobody holds\n", b,
	       state == HC_BLOCK_OPEN ? "open" : "evicting", owner);
	return true;
}

static int orphan_open(const char *key)
{
	uint64_t word;

	if (!find_key(key, &word))
		return 1;
	uint32_t b = block_of(c, sw_loc(word));
	uint64_t w = load_acquire(&c->block_words[b]);

	unsigned owner;

	if (bw_state(w) != HC_BLOCK_SEALED) {
		fprintf(stderr, "h_corrupt: the block of '%s' is not sealed\n", key);
		return 1;
	}
	if (!unheld_slot(&owner))
		return 1;
	if (!orphan(b, w, HC_BLOCK_OPEN, owner)) {
		fprintf(stderr, "h_corrupt: block %u changed meanwhile\n", b);
		return 1;
	}
	return 0;
}

/* The last free block: writers claim from a moving hint, and a claim
 * racing ours only sends us to the next one. */
static int orphan_evicting(void)
{
	unsigned owner;

	if (!unheld_slot(&owner))
		return 1;
	for (uint32_t b = c->nblocks; b-- > 0;) {
		uint64_t w = load_acquire(&c->block_words[b]);

		if (bw_state(w) == HC_BLOCK_FREE &&
		    orphan(b, w, HC_BLOCK_EVICTING, owner))
			return 0;
	}
	fprintf(stderr, "h_corrupt: no free block\n");
	return 1;
}

/* A process killed half-way through an eviction: its block is EVICTING
 * under its slot, which stays attached with no live holder. */
static int killed_evicting(int nkeys, char **keys)
{
	for (int i = 0; i < nkeys; i++) {
		int rc = hc_set(c, keys[i], strlen(keys[i]), keys[i],
		                strlen(keys[i]), 0);

		if (rc != 0) {
			fprintf(stderr, "h_corrupt: set: %s\n", hc_strerror(rc));
			return 1;
		}
	}
	if (c->open.block < 0) {
		fprintf(stderr, "h_corrupt: no open block\n");
		return 1;
	}
	uint32_t b = (uint32_t)c->open.block;
	uint64_t w = load_acquire(&c->block_words[b]);

	if (!cas_full(&c->block_words[b], w,
	              bw_make(HC_BLOCK_EVICTING, c->slot, bw_gen(w)))) {
		fprintf(stderr, "h_corrupt: block %u changed meanwhile\n", b);
		return 1;
	}
	printf("block %u is evicting by process slot %u, whose process dies "
	       "now\n", b, c->slot);
	fflush(stdout);
	raise(SIGKILL);
	return 1;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 3)
		return usage();
	if ((rc = hc_open(argv[1], &c)) != 0) {
		fprintf(stderr, "h_corrupt: open %s: %s\n", argv[1], hc_last_error());
		return 2;
	}
	if (strcmp(argv[2], "index-outside") == 0 && argc == 3)
		rc = index_outside();
	else if (strcmp(argv[2], "item-overrun") == 0 && argc == 4)
		rc = item_overrun(argv[3]);
	else if (strcmp(argv[2], "orphan-open") == 0 && argc == 4)
		rc = orphan_open(argv[3]);
	else if (strcmp(argv[2], "orphan-evicting") == 0 && argc == 3)
		rc = orphan_evicting();
	else if (strcmp(argv[2], "killed-evicting") == 0 && argc >= 4)
		rc = killed_evicting(argc - 3, argv + 3);
	else
		rc = usage();
	hc_close(c);
	return rc;
}
