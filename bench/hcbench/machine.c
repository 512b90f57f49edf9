/*
 * machine.c - what hcbench learns of the machine (cache sizes, free memory,
 * load) and the notes the reader of the numbers must know.
 */
#include <string.h>
#include <unistd.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- the machine --------------------------------------------------------- */

static bool read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (f == NULL)
		return false;
	ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* Bytes of CPU 0's data or unified cache of LEVEL, or 0 if unknown: sysfs
 * first (sysconf is wrong on some virtual machines).  *SOURCE gets where
 * the number came from. */
static uint64_t cache_size(int level, const char **source)
{
	*source = "sysfs";
	for (int i = 0; i < 16; i++) {
		char path[96], buf[64];
		char *end;

		snprintf(path, sizeof path,
		         "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
		if (!read_line(path, buf, sizeof buf))
			break;
		if (atoi(buf) != level)
			continue;
		snprintf(path, sizeof path,
		         "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
		if (read_line(path, buf, sizeof buf) &&
		    strcmp(buf, "Instruction") == 0)
			continue;
		snprintf(path, sizeof path,
		         "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		if (!read_line(path, buf, sizeof buf))
			break;
		uint64_t n = strtoull(buf, &end, 10);

		if (*end == 'K')
			n <<= 10;
		else if (*end == 'M')
			n <<= 20;
		if (n > 0)
			return n;
	}
	long n = sysconf(level == 2 ? _SC_LEVEL2_CACHE_SIZE :
	                              _SC_LEVEL3_CACHE_SIZE);
	*source = "sysconf";
	return n > 0 ? (uint64_t)n : 0;
}

/* Fill L for LEVEL: OVERRIDE (from --l2/--l3) if not 0, as given; else
 * what the machine reports, at most CAP; else FALLBACK. */
void cache_level_choose(struct cache_level *l, int level,
			uint64_t override, uint64_t cap,
			uint64_t fallback)
{
	memset(l, 0, sizeof *l);
	l->level = level;
	if (override != 0) {
		l->used = override;
		l->source = level == 2 ? "--l2" : "--l3";
		return;
	}
	l->reported = cache_size(level, &l->source);
	if (l->reported == 0) {
		l->used = fallback;
		l->source = "default";
	} else if (l->reported > cap) {
		l->used = cap;
		l->capped = true;
	} else {
		l->used = l->reported;
	}
}

/* "1024 KiB (sysfs)", "32768 KiB (sysconf reported 520192 KiB, capped)". */
const char *cache_level_str(const struct cache_level *l, char *buf,
			    size_t cap)
{
	if (l->capped)
		snprintf(buf, cap, "%llu KiB (%s reported %llu KiB, capped)",
		         (unsigned long long)(l->used >> 10), l->source,
		         (unsigned long long)(l->reported >> 10));
	else
		snprintf(buf, cap, "%llu KiB (%s)",
		         (unsigned long long)(l->used >> 10), l->source);
	return buf;
}

/* Its fields of the "run" object: "l3_bytes", "l3_reported_bytes" (null
 * when nothing was reported or an option gave the size), "l3_source",
 * "l3_capped". */
void cache_level_json(struct kit_json *j, const struct cache_level *l)
{
	char key[32];

	snprintf(key, sizeof key, "l%d_bytes", l->level);
	kit_json_uint(j, key, l->used);
	snprintf(key, sizeof key, "l%d_reported_bytes", l->level);
	if (l->reported)
		kit_json_uint(j, key, l->reported);
	else
		kit_json_null(j, key);
	snprintf(key, sizeof key, "l%d_source", l->level);
	kit_json_str(j, key, l->source);
	snprintf(key, sizeof key, "l%d_capped", l->level);
	kit_json_bool(j, key, l->capped);
}

uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long kb;
	uint64_t bytes = UINT64_MAX;

	if (f == NULL)
		return bytes;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			bytes = (uint64_t)kb << 10;
			break;
		}
	fclose(f);
	return bytes;
}

/* Whether BYTES more can be had and leave half a GiB to the system. */
bool affordable(uint64_t bytes)
{
	uint64_t avail = mem_available();

	return avail > (512ULL << 20) && bytes < avail - (512ULL << 20);
}

double load_average(void)
{
	char buf[128];

	return read_line("/proc/loadavg", buf, sizeof buf) ? atof(buf) : -1;
}

/* ---- notes: what the reader of the numbers must know --------------------- */

char *notes[MAX_NOTES];
unsigned nnotes;

void note(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (unsigned i = 0; i < nnotes; i++)
		if (strcmp(notes[i], buf) == 0)
			return;
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = strdup(buf);
	fprintf(stderr, "hcbench: note: %s\n", buf);
}

/* A cache size that was not believed: the l2 or l3 sets are smaller than
 * a reader of the header would think. */
void cache_level_note(const struct cache_level *l)
{
	if (l->capped)
		note("%s reports an L%d of %llu KiB, more than one core can use "
		     "(a virtual machine's figure?): the l%d sets are sized for "
		     "%llu KiB; --l%d BYTES gives the size as it is",
		     l->source, l->level, (unsigned long long)(l->reported >> 10),
		     l->level, (unsigned long long)(l->used >> 10), l->level);
}
