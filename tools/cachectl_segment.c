/*
 * cachectl_segment.c - create, destroy, info: the segment as a whole.
 */
#include <inttypes.h>
#include <string.h>

#include "cachectl.h"

/* ------------------------------------------------------------------ */
/* create, destroy                                                     */

/* A delimiter is one printable ASCII character other than a space. */
static bool parse_delimiter(const char *s, char *out)
{
	if (strlen(s) != 1 || s[0] <= ' ' || s[0] > '~')
		return false;
	*out = s[0];
	return true;
}

/*
 * The count option NAME of "create", when given, into OUT; a usage error
 * naming WANTED unless it is a number from MIN to MAX.
 */
static int count_option(const struct args *a, const char *name,
                        uint32_t min, uint32_t max, const char *wanted,
                        uint32_t *out)
{
	const char *v = option_value(a, name);
	uint32_t n;

	if (v == NULL)
		return STATUS_OK;
	if (!parse_count(v, &n) || n < min || n > max)
		return bad_option_value(a->cmd, name, v, wanted);
	*out = n;
	return STATUS_OK;
}

/* Fill CFG from the options of "create"; a usage error for a bad one. */
static int config_from_options(const struct args *a, hc_config *cfg)
{
	const struct command *cmd = a->cmd;
	const char *v;
	uint64_t max_value;
	int status;

	hc_config_init(cfg);
	if ((v = option_value(a, "size")) != NULL &&
	    !parse_size(v, UINT64_MAX, &cfg->size))
		return bad_option_value(cmd, "size", v, "bytes, or a number "
		                        "with K, M or G such as 64M");
	if ((v = option_value(a, "mode")) != NULL && !parse_mode(v, &cfg->mode))
		return bad_option_value(cmd, "mode", v, "octal permission bits "
		                        "such as 0600 or 0660");
	if ((status = count_option(a, "max-procs", 1, UINT32_MAX,
	                           "a positive number",
	                           &cfg->max_procs)) != STATUS_OK ||
	    (status = count_option(a, "max-key", 1, UINT32_MAX,
	                           "a positive number",
	                           &cfg->max_key)) != STATUS_OK ||
	    (status = count_option(a, "ttl-jitter", 1, 50,
	                           "a percentage from 1 to 50",
	                           &cfg->ttl_jitter_pct)) != STATUS_OK ||
	    (status = count_option(a, "clean-watermark", 1, 100,
	                           "a percentage from 1 to 100",
	                           &cfg->clean_watermark_pct)) != STATUS_OK ||
	    (status = count_option(a, "avg-item", 32, 65536,
	                           "bytes from 32 to 65536",
	                           &cfg->avg_item_size)) != STATUS_OK)
		return status;
	v = option_value(a, "latency-every");
	if (v != NULL && strcmp(v, "off") == 0)
		cfg->latency_every = HC_LATENCY_OFF;
	else if ((status = count_option(a, "latency-every", 1, 1000000,
	                                "a number from 1 to 1000000, or off",
	                                &cfg->latency_every)) != STATUS_OK)
		return status;
	if ((status = count_option(a, "journal", 1, 1048576,
	                           "a number of entries from 1 to 1048576",
	                           &cfg->journal_entries)) != STATUS_OK)
		return status;
	if ((v = option_value(a, "writeback")) != NULL &&
	    !parse_size(v, UINT64_MAX, &cfg->writeback_bytes))
		return bad_option_value(cmd, "writeback", v, "bytes, or a number "
		                        "with K or M such as 1M");
	if ((v = option_value(a, "delimiter")) != NULL &&
	    !parse_delimiter(v, &cfg->delimiter))
		return bad_option_value(cmd, "delimiter", v, "one printable "
		                        "character such as ':' or '/'");
	if ((v = option_value(a, "max-value")) != NULL) {
		if (!parse_size(v, UINT32_MAX, &max_value))
			return bad_option_value(cmd, "max-value", v, "bytes, or a "
			                        "number with K or M such as 64K");
		cfg->max_value = (uint32_t)max_value;
	}
	return STATUS_OK;
}

int cmd_create(const struct args *a)
{
	hc_config cfg;
	hc_cache *c;
	int status = config_from_options(a, &cfg);
	int err;

	if (status != STATUS_OK)
		return status;
	err = hc_create(a->positional[0], &cfg, &c);
	if (err != 0)
		return fail_hc(a, err);
	return close_segment(a, c, STATUS_OK);
}

int cmd_destroy(const struct args *a)
{
	int err = hc_unlink(a->positional[0]);

	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

/* ------------------------------------------------------------------ */
/* info                                                                */

static void print_time_field(const char *label, uint64_t ns)
{
	char text[64];

	format_local_time(ns, "%Y-%m-%d %H:%M:%S %z", text, sizeof(text));
	print_field(label, "%s", text);
}

static void print_delimiter_field(const char *label, char delimiter)
{
	unsigned char ch = (unsigned char)delimiter;

	if (ch >= 0x20 && ch < 0x7f)
		print_field(label, "'%c'", ch);
	else
		print_field(label, "\\x%02x", ch);
}

static void print_age_field(const char *label, uint64_t created_ns)
{
	uint64_t now = realtime_ns();
	char text[32];

	format_duration_ms(now > created_ns ? (now - created_ns) / 1000000 : 0,
	                   text, sizeof(text));
	print_field(label, "%s", text);
}

static void print_info_table(const hc_info *info, const hc_stats *stats)
{
	print_field("name", "%s", info->name);
	print_field("layout", "0x%016" PRIx64, info->layout);
	print_field("version", "%" PRIu32 ".%" PRIu32, info->version_major,
	            info->version_minor);
	print_bytes_field("size", info->size);
	print_time_field("created", info->created_ns);
	print_age_field("age", info->created_ns);
	print_field("max key", "%" PRIu32 " bytes", info->max_key);
	print_field("max value", "%" PRIu32 " bytes", info->max_value);
	print_field("ttl jitter", "%" PRIu32 "%%", info->ttl_jitter_pct);
	print_bytes_field("block size", info->block_size);
	print_field("blocks", "%" PRIu32, info->blocks);
	print_field("index buckets", "%" PRIu32, info->index_buckets);
	print_field("index slots", "%" PRIu32, info->index_slots);
	print_bytes_field("item memory", info->item_memory);
	print_bytes_field("index memory", info->index_memory);
	print_field("per-item overhead", "%" PRIu32 " bytes",
	            info->item_overhead);
	print_field("mode", "%04" PRIo32, info->mode);
	print_delimiter_field("delimiter", info->delimiter);
	print_field("stale grace", "%" PRIu32 " ms", info->stale_grace_ms);
	print_field("clean watermark", "%" PRIu32 "%%", info->clean_watermark_pct);
	if (info->latency_every)
		print_field("latency timed", "1 in %" PRIu32, info->latency_every);
	else
		print_field("latency timed", "none");
	print_field("journal", "%" PRIu32 " entries", info->journal_entries);
	if (info->writeback_bytes) {
		print_bytes_field("write-behind queue", info->writeback_bytes);
		print_bytes_field("write-behind limit",
		                  info->writeback_max_record);
		print_field("write-behind waiting", "%" PRIu64 " records, %"
		            PRIu64 " bytes", stats->wb_depth_records,
		            stats->wb_depth_bytes);
	} else {
		print_field("write-behind queue", "none");
	}
	/* This cachectl is attached while it looks, so it counts itself. */
	print_field("attached processes", "%" PRIu32 " of %" PRIu32
	            " (this cachectl included)", stats->procs_attached,
	            stats->procs_max);
}

static void print_info_json(const hc_info *info, const hc_stats *stats)
{
	char delimiter[2] = {info->delimiter, '\0'};

	fputs("{\"name\":", stdout);
	json_string(stdout, info->name);
	printf(",\"layout\":\"0x%016" PRIx64 "\",\"version\":\"%" PRIu32
	       ".%" PRIu32 "\",\"size\":%" PRIu64 ",\"created_ns\":%" PRIu64
	       ",\"max_key\":%" PRIu32 ",\"max_value\":%" PRIu32
	       ",\"max_procs\":%" PRIu32 ",\"ttl_jitter_pct\":%" PRIu32
	       ",\"block_size\":%" PRIu32 ",\"blocks\":%" PRIu32
	       ",\"index_buckets\":%" PRIu32 ",\"index_slots\":%" PRIu32
	       ",\"item_memory\":%" PRIu64 ",\"index_memory\":%" PRIu64
	       ",\"item_overhead\":%" PRIu32 ",\"mode\":\"%04" PRIo32 "\""
	       ",\"delimiter\":",
	       info->layout, info->version_major, info->version_minor,
	       info->size, info->created_ns, info->max_key, info->max_value,
	       info->max_procs, info->ttl_jitter_pct, info->block_size,
	       info->blocks, info->index_buckets, info->index_slots,
	       info->item_memory, info->index_memory, info->item_overhead,
	       info->mode);
	json_bytes(stdout, delimiter, 1);
	printf(",\"stale_grace_ms\":%" PRIu32 ",\"clean_watermark_pct\":%" PRIu32
	       ",\"latency_every\":%" PRIu32 ",\"journal_entries\":%" PRIu32,
	       info->stale_grace_ms, info->clean_watermark_pct,
	       info->latency_every, info->journal_entries);
	printf(",\"writeback_bytes\":%" PRIu32 ",\"writeback_max_record\":%"
	       PRIu32 ",\"writeback_depth_records\":%" PRIu64
	       ",\"writeback_depth_bytes\":%" PRIu64, info->writeback_bytes,
	       info->writeback_max_record, stats->wb_depth_records,
	       stats->wb_depth_bytes);
	printf(",\"procs_attached\":%" PRIu32 "}\n", stats->procs_attached);
}

static int show_info(const struct args *a, hc_cache *c)
{
	hc_info info;
	hc_stats stats;
	int err;

	if ((err = hc_info_get(c, &info)) != 0 ||
	    (err = hc_stats_get(c, &stats)) != 0)
		return fail_hc(a, err);
	if (option_given(a, "json"))
		print_info_json(&info, &stats);
	else
		print_info_table(&info, &stats);
	return STATUS_OK;
}

int cmd_info(const struct args *a)
{
	return with_segment(a, show_info);
}
