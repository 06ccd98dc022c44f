/*
 * layout.c - pool layouts and their btrfs profiles (see layout.h).
 *
 * The table follows btrfs's own advice (mkfs.btrfs(8), "Profiles", and
 * btrfs(5)'s status of features): raid1 and raid10 are stable for data and
 * metadata; raid5 and raid6 data are not (a crash mid-stripe can lose a
 * stripe's parity: the "write hole"), and btrfs says to keep their
 * metadata on raid1 and raid1c3 so that the filesystem's own trees never
 * sit on parity. The minimum counts are those below which a layout gives
 * nothing a simpler one does not (raid5 on two disks is a mirror, raid6 on
 * three keeps what raid1c3 keeps), as SmartOS's disklayout(1M) asks three
 * disks of a raidz.
 */
#include "pool/layout.h"

#include <linux/btrfs_tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct layout_row {
	const char *name;
	size_t min;
	bool stable;
	const char *data;
	const char *meta; /* NULL: by the disk count (single) */
};

static const struct layout_row rows[] = {
    [POOL_LAYOUT_SINGLE] = {"single", 1, true, "single", NULL},
    [POOL_LAYOUT_MIRROR] = {"mirror", 2, true, "raid1", "raid1"},
    [POOL_LAYOUT_RAID10] = {"raid10", 4, true, "raid10", "raid10"},
    [POOL_LAYOUT_RAID5] = {"raid5", 3, false, "raid5", "raid1"},
    [POOL_LAYOUT_RAID6] = {"raid6", 4, false, "raid6", "raid1c3"},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

int pool_layout_parse(const char *s, enum pool_layout *out)
{
	for (size_t i = 0; s && i < NROWS; i++)
		if (strcmp(s, rows[i].name) == 0) {
			*out = (enum pool_layout)i;
			return 0;
		}
	return -1;
}

const char *pool_layout_name(enum pool_layout l)
{
	return rows[l].name;
}

enum pool_layout pool_layout_default(size_t ndevices)
{
	return ndevices > 1 ? POOL_LAYOUT_MIRROR : POOL_LAYOUT_SINGLE;
}

size_t pool_layout_min_devices(enum pool_layout l)
{
	return rows[l].min;
}

bool pool_layout_stable(enum pool_layout l)
{
	return rows[l].stable;
}

const char *pool_layout_data_profile(enum pool_layout l, size_t n)
{
	(void)n;
	return rows[l].data;
}

const char *pool_layout_meta_profile(enum pool_layout l, size_t n)
{
	if (rows[l].meta)
		return rows[l].meta;
	/* mkfs.btrfs's own default: two copies of the metadata, on two
	 * disks when there are two. */
	return n > 1 ? "raid1" : "dup";
}

const char *pool_profile_of_flags(uint64_t flags)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} bits[] = {
	    {BTRFS_BLOCK_GROUP_RAID0, "raid0"},
	    {BTRFS_BLOCK_GROUP_RAID1, "raid1"},
	    {BTRFS_BLOCK_GROUP_DUP, "dup"},
	    {BTRFS_BLOCK_GROUP_RAID10, "raid10"},
	    {BTRFS_BLOCK_GROUP_RAID5, "raid5"},
	    {BTRFS_BLOCK_GROUP_RAID6, "raid6"},
	    {BTRFS_BLOCK_GROUP_RAID1C3, "raid1c3"},
	    {BTRFS_BLOCK_GROUP_RAID1C4, "raid1c4"},
	};
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (flags & bits[i].bit)
			return bits[i].name;
	return "single";
}

int pool_layout_of_profiles(const char *data, const char *meta)
{
	if (!data || !meta)
		return -1;
	for (size_t i = 0; i < NROWS; i++) {
		if (strcmp(rows[i].data, data) != 0)
			continue;
		if (rows[i].meta ? strcmp(rows[i].meta, meta) == 0
				 : (strcmp(meta, "dup") == 0 ||
				    strcmp(meta, "raid1") == 0 ||
				    strcmp(meta, "single") == 0))
			return (int)i;
	}
	return -1;
}

/* Copies the text after "key:" (blanks skipped) when line starts with
 * key. */
static bool take_text(const char *line, size_t len, const char *key, char *out,
		      size_t outlen)
{
	size_t k = strlen(key);
	if (len < k || memcmp(line, key, k) != 0)
		return false;
	size_t i = k;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	size_t n = len - i;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, line + i, n);
	out[n] = '\0';
	return true;
}

static void take_count(const char *line, size_t len, const char *key,
		       uint64_t *out)
{
	char buf[32];
	if (!take_text(line, len, key, buf, sizeof(buf)))
		return;
	char *end;
	unsigned long long v = strtoull(buf, &end, 10);
	if (end != buf && *end == '\0')
		*out = v;
}

void pool_scrub_info_parse(const char *text, size_t len,
			   struct pool_scrub_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->status, sizeof(out->status), "none");
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *line = text + pos;
		size_t n = end - pos;
		while (n && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		take_text(line, n, "Scrub started:", out->started,
			  sizeof(out->started));
		take_text(line, n, "Status:", out->status, sizeof(out->status));
		take_text(line, n, "Duration:", out->duration,
			  sizeof(out->duration));
		take_count(line, n, "data_bytes_scrubbed:", &out->data_bytes);
		take_count(line, n, "tree_bytes_scrubbed:", &out->tree_bytes);
		take_count(line, n, "read_errors:", &out->read_errors);
		take_count(line, n, "csum_errors:", &out->csum_errors);
		take_count(line, n, "verify_errors:", &out->verify_errors);
		take_count(line, n, "super_errors:", &out->super_errors);
		take_count(line, n,
			   "corrected_errors:", &out->corrected_errors);
		take_count(line, n,
			   "uncorrectable_errors:", &out->uncorrectable_errors);
		take_count(line, n,
			   "unverified_errors:", &out->unverified_errors);
		pos = end + 1;
	}
	/* A NUL inside the text would end a field early; strings stay
	 * terminated either way. */
	if (!out->started[0] && strcmp(out->status, "none") != 0 &&
	    strcmp(out->status, "running") != 0)
		snprintf(out->status, sizeof(out->status), "none");
}
