/*
 * cachectl_dump.c - dump and restore: the items of a segment in a file.
 *
 * A dump warms a cache after a restart or on another host, so the file is
 * portable: every number is little-endian with a fixed width, nothing
 * depends on the segment's layout, and a reader refuses what it does not
 * understand rather than guess.
 *
 *   header (24 bytes)
 *     magic     8 bytes  89 48 43 44 55 4d 50 0a  ("\x89HCDUMP\n": the
 *                        high byte and the newline catch 7-bit and
 *                        text-mode transfers, as PNG's magic does)
 *     version   u32      2 (1 had no client flags; both are read)
 *     flags     u32      0; a reader refuses any bit it does not know
 *     dumped_ns u64      CLOCK_REALTIME when the dump started, ns since
 *                        the Unix epoch: TTLs below count from here
 *   records, each starting with a kind byte:
 *     'I' item  u16 klen (1..65535), u8 ntags (0..4), u8 flags (bit 0: a
 *               cached "known absent", HC_ITEM_NEGATIVE; bit 1: client
 *               flags follow the tags; restore skips an item with a bit it
 *               does not know), u32 vlen, u64 ttl_ms (left when dumped;
 *               0 = none), ntags x u32 tag hash (as hc_walk() reports
 *               them; restore gives them back with hc_set_ex()), with bit
 *               1 u32 client flags (hc_set_options.client_flags), klen key
 *               bytes, vlen value bytes
 *     'E' end   u64 count (items in the file), u64 checksum: XXH3-64,
 *               seed 0, of every byte of the file before the checksum
 *   nothing after the end record.
 *
 * A file without its end record is truncated; a wrong count or checksum
 * means damage.  restore checks a regular file whole before it stores
 * anything; from a pipe it cannot, and stops at the first damage it reads,
 * saying how many items it had already stored.
 *
 * A dump is written to a temporary file beside FILE (mode 0600: it holds
 * the cache's data) and renamed over FILE once complete, so an interrupted
 * dump never leaves a truncated FILE behind, nor replaces a good one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "cachectl.h"

#define DUMP_MAGIC "\x89HCDUMP\n"
#define DUMP_MAGIC_LEN 8
#define DUMP_VERSION 2 /* 2: item flags bit 1, client flags */
#define DUMP_HEADER_LEN 24
#define RECORD_ITEM 'I'
#define RECORD_END 'E'
#define ITEM_FIXED_LEN 16  /* after the kind byte, before the tags */
#define DUMP_MAX_TAGS 4
#define DUMP_FLAG_CLIENT 0x2u  /* a u32 of client flags after the tags */
#define DUMP_KNOWN_FLAGS (HC_ITEM_NEGATIVE | DUMP_FLAG_CLIENT)

/* ------------------------------------------------------------------ */
/* Little-endian fields                                                */

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ------------------------------------------------------------------ */
/* dump                                                                */

struct dump {
	FILE *f;
	XXH3_state_t *hash;
	uint64_t items, bytes;
	int write_errno;      /* non-zero once a write failed */
};

static void dump_write(struct dump *d, const void *p, size_t n)
{
	if (d->write_errno != 0 || n == 0)
		return;
	if (fwrite(p, 1, n, d->f) != n) {
		d->write_errno = errno != 0 ? errno : EIO;
		return;
	}
	XXH3_64bits_update(d->hash, p, n);
	d->bytes += n;
}

static int dump_item(void *arg, const hc_item_view *v)
{
	struct dump *d = arg;
	unsigned char head[1 + ITEM_FIXED_LEN + 4 * DUMP_MAX_TAGS + 4];
	unsigned ntags = v->ntags < DUMP_MAX_TAGS ? v->ntags : DUMP_MAX_TAGS;
	size_t len = 17 + 4 * ntags;

	head[0] = RECORD_ITEM;
	put_le(head + 1, v->klen, 2);
	head[3] = (unsigned char)ntags;
	/* Only the public HC_ITEM_* flags: the file outlives this library. */
	head[4] = (unsigned char)((v->flags & HC_ITEM_NEGATIVE) |
	                          (v->client_flags != 0 ? DUMP_FLAG_CLIENT : 0));
	put_le(head + 5, v->vlen, 4);
	put_le(head + 9, v->ttl_ms, 8);
	for (unsigned i = 0; i < ntags; i++)
		put_le(head + 17 + 4 * i, v->tags[i], 4);
	if (v->client_flags != 0) {
		put_le(head + len, v->client_flags, 4);
		len += 4;
	}
	dump_write(d, head, len);
	dump_write(d, v->key, v->klen);
	dump_write(d, v->value, v->vlen);
	d->items++;
	return d->write_errno != 0; /* stop the walk on a write error */
}

static void dump_header(struct dump *d)
{
	unsigned char head[DUMP_HEADER_LEN];

	memcpy(head, DUMP_MAGIC, DUMP_MAGIC_LEN);
	put_le(head + 8, DUMP_VERSION, 4);
	put_le(head + 12, 0, 4);
	put_le(head + 16, realtime_ns(), 8);
	dump_write(d, head, sizeof(head));
}

static void dump_end(struct dump *d)
{
	unsigned char end[17];

	end[0] = RECORD_END;
	put_le(end + 1, d->items, 8);
	dump_write(d, end, 9);
	/* The checksum covers everything before it, so it is not hashed. */
	put_le(end + 9, XXH3_64bits_digest(d->hash), 8);
	if (d->write_errno == 0 && fwrite(end + 9, 1, 8, d->f) != 8)
		d->write_errno = errno != 0 ? errno : EIO;
	d->bytes += 8;
}

/* Walk the segment into D->f.  The file's own errors are left in D. */
static int dump_items(const struct args *a, hc_cache *c, struct dump *d)
{
	const char *prefix;
	size_t plen;
	char *owned;
	long visited;
	int status = prefix_option(a, &prefix, &plen, &owned);

	if (status != STATUS_OK)
		return status;
	dump_header(d);
	visited = hc_walk(c, prefix, plen, HC_WALK_VALUES, dump_item, d);
	free(owned);
	if (visited < 0)
		return fail_hc(a, (int)visited);
	dump_end(d);
	return STATUS_OK;
}

/* The open file's side of a dump: a temporary file beside the target, or
 * stdout. */
struct dump_file {
	const char *target;   /* FILE, or "-" */
	char *temp;           /* malloc'd temporary name, NULL for stdout */
};

static int dump_file_open(const struct args *a, struct dump_file *df,
                          FILE **f)
{
	int fd;

	df->target = a->positional[1];
	df->temp = NULL;
	if (strcmp(df->target, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			return fail_msg(a, "refusing to write a binary dump to a "
			                "terminal; redirect stdout or name a FILE");
		*f = stdout;
		return STATUS_OK;
	}
	if ((df->temp = malloc(strlen(df->target) + 16)) == NULL)
		return fail_msg(a, "no memory");
	sprintf(df->temp, "%s.tmp.XXXXXX", df->target);
	if ((fd = mkstemp(df->temp)) < 0 || (*f = fdopen(fd, "wb")) == NULL) {
		int saved = errno;

		if (fd >= 0) {
			close(fd);
			unlink(df->temp);
		}
		free(df->temp);
		return fail_msg(a, "cannot create a file beside it: %s",
		                strerror(saved));
	}
	return STATUS_OK;
}

/* Finish the file: flushed, synced and renamed into place when STATUS is
 * success and every write went through; removed otherwise. */
static int dump_file_close(const struct args *a, struct dump_file *df,
                           FILE *f, int status, struct dump *d)
{
	if (fflush(f) != 0 && d->write_errno == 0)
		d->write_errno = errno;
	if (df->temp == NULL) {
		if (status == STATUS_OK && d->write_errno != 0)
			status = fail_msg(a, "writing stdout: %s",
			                  strerror(d->write_errno));
		return status;
	}
	if (d->write_errno == 0 && fsync(fileno(f)) != 0)
		d->write_errno = errno;
	if (fclose(f) != 0 && d->write_errno == 0)
		d->write_errno = errno;
	if (status == STATUS_OK && d->write_errno != 0)
		status = fail_msg(a, "writing the dump: %s; nothing was "
		                  "replaced", strerror(d->write_errno));
	if (status == STATUS_OK && rename(df->temp, df->target) != 0)
		status = fail_msg(a, "renaming the dump into place: %s",
		                  strerror(errno));
	if (status != STATUS_OK)
		unlink(df->temp);
	free(df->temp);
	return status;
}

static int run_dump(const struct args *a, hc_cache *c)
{
	struct dump d = {NULL, XXH3_createState(), 0, 0, 0};
	struct dump_file df;
	int status;

	if (d.hash == NULL || XXH3_64bits_reset(d.hash) != XXH_OK) {
		XXH3_freeState(d.hash);
		return fail_msg(a, "no memory");
	}
	if ((status = dump_file_open(a, &df, &d.f)) == STATUS_OK) {
		status = dump_items(a, c, &d);
		status = dump_file_close(a, &df, d.f, status, &d);
	}
	if (status == STATUS_OK && df.temp != NULL) {
		char size[64];

		format_bytes(d.bytes, size, sizeof(size));
		printf("dumped %" PRIu64 " items, %s bytes\n", d.items, size);
	}
	XXH3_freeState(d.hash);
	return status;
}

int cmd_dump(const struct args *a)
{
	return with_segment(a, run_dump);
}

/* ------------------------------------------------------------------ */
/* Reading a dump                                                      */

enum read_result { READ_OK, READ_EOF, READ_ERROR };

struct reader {
	FILE *f;
	XXH3_state_t *hash;
	uint64_t offset;      /* bytes consumed */
	int read_errno;
	char why[160];        /* what is wrong with the file, once known */
};

__attribute__((format(printf, 2, 3)))
static bool damaged(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return false;
}

static enum read_result read_raw(struct reader *r, void *buf, size_t n)
{
	size_t got = fread(buf, 1, n, r->f);

	r->offset += got;
	if (got == n)
		return READ_OK;
	if (ferror(r->f)) {
		r->read_errno = errno != 0 ? errno : EIO;
		return READ_ERROR;
	}
	return READ_EOF;
}

/* Read N bytes into BUF and hash them; false with r->why set when the
 * file ends first. */
static bool read_hashed(struct reader *r, void *buf, size_t n)
{
	enum read_result res = read_raw(r, buf, n);

	if (res == READ_ERROR)
		return damaged(r, "reading: %s", strerror(r->read_errno));
	if (res == READ_EOF)
		return damaged(r, "truncated: the file ends at byte %" PRIu64
		               ", inside a record", r->offset);
	XXH3_64bits_update(r->hash, buf, n);
	return true;
}

/* Consume N bytes, hashed, keeping none of them. */
static bool skip_hashed(struct reader *r, uint64_t n)
{
	unsigned char chunk[65536];

	while (n > 0) {
		size_t step = n < sizeof(chunk) ? (size_t)n : sizeof(chunk);

		if (!read_hashed(r, chunk, step))
			return false;
		n -= step;
	}
	return true;
}

static bool read_header(struct reader *r, uint64_t *dumped_ns)
{
	unsigned char head[DUMP_HEADER_LEN];
	enum read_result res = read_raw(r, head, sizeof(head));
	uint64_t version, flags;

	if (res == READ_ERROR)
		return damaged(r, "reading: %s", strerror(r->read_errno));
	if (r->offset == 0)
		return damaged(r, "the file is empty: not a hostcache dump");
	if (memcmp(head, DUMP_MAGIC, r->offset < DUMP_MAGIC_LEN ?
	           (size_t)r->offset : DUMP_MAGIC_LEN) != 0)
		return damaged(r, "not a hostcache dump: it does not start "
		               "with the dump magic");
	if (res == READ_EOF)
		return damaged(r, "truncated: the file ends at byte %" PRIu64
		               ", inside the header", r->offset);
	XXH3_64bits_update(r->hash, head, sizeof(head));
	version = get_le(head + 8, 4);
	flags = get_le(head + 12, 4);
	if (version > DUMP_VERSION)
		return damaged(r, "dump format version %" PRIu64 " is newer than "
		               "this cachectl reads (%d); restore with a newer "
		               "cachectl", version, DUMP_VERSION);
	if (version == 0)
		return damaged(r, "damaged header: format version 0");
	if (flags != 0)
		return damaged(r, "the dump uses features this cachectl does not "
		               "know (header flags 0x%" PRIx64 ")", flags);
	*dumped_ns = get_le(head + 16, 8);
	return true;
}

struct record {
	uint32_t klen, vlen;
	unsigned ntags, flags;
	uint64_t ttl_ms;
	uint32_t tags[DUMP_MAX_TAGS];
	uint32_t client_flags;
};

/* The fixed part of an item record and its tags (the kind byte is read). */
static bool read_item_head(struct reader *r, struct record *rec)
{
	unsigned char head[ITEM_FIXED_LEN + 4 * DUMP_MAX_TAGS + 4];
	uint64_t at = r->offset - 1;

	if (!read_hashed(r, head, ITEM_FIXED_LEN))
		return false;
	rec->klen = (uint32_t)get_le(head, 2);
	rec->ntags = head[2];
	rec->flags = head[3];
	rec->vlen = (uint32_t)get_le(head + 4, 4);
	rec->ttl_ms = get_le(head + 8, 8);
	if (rec->klen == 0 || rec->ntags > DUMP_MAX_TAGS)
		return damaged(r, "damaged item record at byte %" PRIu64
		               " (key length %" PRIu32 ", %u tags)", at,
		               rec->klen, rec->ntags);
	if (!read_hashed(r, head + ITEM_FIXED_LEN, 4 * rec->ntags))
		return false;
	for (unsigned i = 0; i < rec->ntags; i++)
		rec->tags[i] = (uint32_t)get_le(head + ITEM_FIXED_LEN + 4 * i, 4);
	rec->client_flags = 0;
	if (rec->flags & DUMP_FLAG_CLIENT) {
		if (!read_hashed(r, head, 4))
			return false;
		rec->client_flags = (uint32_t)get_le(head, 4);
	}
	return true;
}

/* The end record: the count must match and the checksum hold, and
 * nothing may follow. */
static bool read_end(struct reader *r, uint64_t items)
{
	unsigned char end[16];
	uint64_t at = r->offset - 1;

	if (!read_hashed(r, end, 8))
		return false;
	uint64_t digest = XXH3_64bits_digest(r->hash);

	if (read_raw(r, end + 8, 8) != READ_OK)
		return damaged(r, "truncated: the file ends at byte %" PRIu64
		               ", inside the end record", r->offset);
	if (get_le(end, 8) != items)
		return damaged(r, "damaged: the end record at byte %" PRIu64
		               " counts %" PRIu64 " items, the file holds %"
		               PRIu64, at, get_le(end, 8), items);
	if (get_le(end + 8, 8) != digest)
		return damaged(r, "damaged: the checksum does not match the "
		               "contents");
	if (fgetc(r->f) != EOF)
		return damaged(r, "damaged: data after the end record at byte %"
		               PRIu64, r->offset);
	return true;
}

/* ------------------------------------------------------------------ */
/* restore                                                             */

struct restore {
	const struct args *a;
	hc_cache *c;          /* NULL for the verifying pass */
	hc_info info;
	uint64_t elapsed_ms;  /* since the dump started */
	bool keep_ttl;
	char *key, *value;    /* buffers: max key, max value of the segment */
	uint64_t items, stored, expired, too_large, unsupported;
};

/* Why an item cannot go into this segment, or NULL. */
static const char *unfit(const struct restore *rs, const struct record *rec)
{
	if (rec->klen > rs->info.max_key || rec->vlen > rs->info.max_value)
		return "too large";
	/* Storing an item without a flag would change what it means (a
	 * cached "known absent" would come back as an empty value): an item
	 * with a flag this cachectl does not know is skipped. */
	if ((rec->flags & ~(unsigned)DUMP_KNOWN_FLAGS) != 0)
		return "unsupported";
	return NULL;
}

/* Tags go back as the hashes they were dumped as. */
static int set_item(const struct restore *rs, const struct record *rec,
                    uint64_t ttl_ms)
{
	if (rec->ntags > 0 || rec->flags != 0) {
		hc_set_options opt;

		memset(&opt, 0, sizeof(opt));
		opt.ttl_ms = ttl_ms;
		opt.tag_hashes = rec->tags;
		opt.nhashes = rec->ntags;
		opt.flags = rec->flags & HC_ITEM_NEGATIVE;
		opt.client_flags = rec->client_flags;
		return hc_set_ex(rs->c, rs->key, rec->klen, rs->value, rec->vlen,
		                 &opt);
	}
	return hc_set(rs->c, rs->key, rec->klen, rs->value, rec->vlen, ttl_ms);
}

/* The TTL to store, or false when the item has expired since the dump. */
static bool remaining_ttl(const struct restore *rs, const struct record *rec,
                          uint64_t *ttl_ms)
{
	*ttl_ms = rec->ttl_ms;
	if (rec->ttl_ms != 0 && !rs->keep_ttl) {
		if (rec->ttl_ms <= rs->elapsed_ms)
			return false;
		*ttl_ms = rec->ttl_ms - rs->elapsed_ms;
	}
	if (*ttl_ms > HC_TTL_MAX)
		*ttl_ms = HC_TTL_MAX;
	return true;
}

/* Store the item just read (key and value in the buffers). */
static int store_item(struct restore *rs, const struct record *rec)
{
	uint64_t ttl_ms;
	int err;

	if (!remaining_ttl(rs, rec, &ttl_ms)) {
		rs->expired++;
		return STATUS_OK;
	}
	err = set_item(rs, rec, ttl_ms);
	if (err == HC_EKEYLEN || err == HC_EVALUE) {
		rs->too_large++;
		return STATUS_OK;
	}
	if (err != 0) {
		char quoted[QUOTED_CAP];

		return fail_msg(rs->a, "storing key %s: %s; %" PRIu64 " items "
		                "were restored before it",
		                quote_bytes(rs->key, rec->klen, quoted),
		                hc_last_error(), rs->stored);
	}
	rs->stored++;
	return STATUS_OK;
}

/* One item record, the kind byte read: stored when restoring and it fits
 * (its bytes are read either way, to be hashed). */
static int restore_item(struct restore *rs, struct reader *r, bool *ok)
{
	struct record rec;
	const char *why;

	*ok = read_item_head(r, &rec);
	if (!*ok)
		return STATUS_OK;
	rs->items++;
	why = unfit(rs, &rec);
	if (rs->c == NULL || why != NULL) {
		if (rs->c != NULL && strcmp(why, "too large") == 0)
			rs->too_large++;
		else if (rs->c != NULL)
			rs->unsupported++;
		*ok = skip_hashed(r, (uint64_t)rec.klen + rec.vlen);
		return STATUS_OK;
	}
	*ok = read_hashed(r, rs->key, rec.klen) &&
	      read_hashed(r, rs->value, rec.vlen);
	return *ok ? store_item(rs, &rec) : STATUS_OK;
}

/* Read the whole file from where R stands: verify it, and store its
 * items when rs->c is set.  A damaged file is reported here. */
static int restore_pass(struct restore *rs, struct reader *r)
{
	uint64_t dumped_ns = 0, now = realtime_ns();
	bool ok = read_header(r, &dumped_ns);
	int status = STATUS_OK;

	rs->elapsed_ms = now > dumped_ns ? (now - dumped_ns) / 1000000 : 0;
	rs->items = 0;
	while (ok && status == STATUS_OK) {
		unsigned char kind;

		if (!read_hashed(r, &kind, 1)) {
			damaged(r, "truncated: the file ends at byte %" PRIu64
			        " without its end record", r->offset);
			ok = false;
		} else if (kind == RECORD_END) {
			ok = read_end(r, rs->items);
			break;
		} else if (kind == RECORD_ITEM) {
			status = restore_item(rs, r, &ok);
		} else {
			ok = damaged(r, "damaged: unknown record kind 0x%02x at "
			             "byte %" PRIu64, kind, r->offset - 1);
		}
	}
	if (status == STATUS_OK && !ok && rs->c != NULL && rs->stored > 0)
		return fail_msg(rs->a, "%s; %" PRIu64 " items before it were "
		                "restored", r->why, rs->stored);
	if (status == STATUS_OK && !ok)
		return fail_msg(rs->a, "%s; nothing was restored", r->why);
	return status;
}

static int reader_init(struct reader *r, FILE *f)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->hash = XXH3_createState();
	return r->hash != NULL && XXH3_64bits_reset(r->hash) == XXH_OK ? 0 : -1;
}

/* A regular file is verified whole before anything is stored. */
static int verify_first(struct restore *rs, FILE *f)
{
	struct reader r;
	hc_cache *storing = rs->c;
	int status;
	struct stat st;

	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
		return STATUS_OK;
	if (reader_init(&r, f) != 0)
		return fail_msg(rs->a, "no memory");
	rs->c = NULL;
	status = restore_pass(rs, &r);
	rs->c = storing;
	XXH3_freeState(r.hash);
	if (status == STATUS_OK && fseeko(f, 0, SEEK_SET) != 0)
		status = fail_msg(rs->a, "rewinding the file: %s",
		                  strerror(errno));
	return status;
}

static int restore_from(struct restore *rs, FILE *f)
{
	struct reader r;
	int status = verify_first(rs, f);

	if (status != STATUS_OK)
		return status;
	if (reader_init(&r, f) != 0)
		return fail_msg(rs->a, "no memory");
	status = restore_pass(rs, &r);
	XXH3_freeState(r.hash);
	if (status == STATUS_OK)
		printf("restored %" PRIu64 " of %" PRIu64 " items; skipped %"
		       PRIu64 " expired since the dump, %" PRIu64 " too large "
		       "for this segment, %" PRIu64 " with unknown flags\n",
		       rs->stored, rs->items, rs->expired, rs->too_large,
		       rs->unsupported);
	return status;
}

static int run_restore(const struct args *a, hc_cache *c)
{
	const char *name = a->positional[1];
	struct restore rs;
	FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
	int status, err;

	memset(&rs, 0, sizeof(rs));
	rs.a = a;
	rs.c = c;
	rs.keep_ttl = option_given(a, "keep-ttl");
	if (f == NULL)
		return fail_msg(a, "cannot open it: %s", strerror(errno));
	if ((err = hc_info_get(c, &rs.info)) != 0)
		status = fail_hc(a, err);
	else if ((rs.key = malloc(rs.info.max_key)) == NULL ||
	         (rs.value = malloc((size_t)rs.info.max_value + 1)) == NULL)
		status = fail_msg(a, "no memory for a key and a value");
	else
		status = restore_from(&rs, f);
	free(rs.key);
	free(rs.value);
	if (f != stdin)
		fclose(f);
	return status;
}

int cmd_restore(const struct args *a)
{
	return with_segment(a, run_restore);
}
