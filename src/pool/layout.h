/*
 * layout.h - how a btrfs pool spreads over its disks: the layouts `hull
 * init --layout` offers, the btrfs profiles each one makes, and the facts
 * `hull status` reads back (profiles from block-group flags, a scrub's
 * record from `btrfs scrub status -R`). Pure functions, no I/O.
 */
#ifndef HULL_POOL_LAYOUT_H
#define HULL_POOL_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pool_layout {
	POOL_LAYOUT_SINGLE,
	POOL_LAYOUT_MIRROR,
	POOL_LAYOUT_RAID10,
	POOL_LAYOUT_RAID5,
	POOL_LAYOUT_RAID6,
};

int pool_layout_parse(const char *s, enum pool_layout *out);
const char *pool_layout_name(enum pool_layout l);

/* The layout used when none is given: single for one disk, else mirror
 * (the redundant layout btrfs calls stable). */
enum pool_layout pool_layout_default(size_t ndevices);

/* The fewest disks the layout takes. */
size_t pool_layout_min_devices(enum pool_layout l);

/* False for the layouts whose data profile btrfs itself calls unstable
 * (raid5, raid6: the write hole). */
bool pool_layout_stable(enum pool_layout l);

/* mkfs.btrfs's data and metadata profiles for the layout on n disks. */
const char *pool_layout_data_profile(enum pool_layout l, size_t n);
const char *pool_layout_meta_profile(enum pool_layout l, size_t n);

/* The profile a block group's flags name ("single", "raid1", ...). */
const char *pool_profile_of_flags(uint64_t flags);

/* The layout a data and metadata profile pair was made by, or -1. */
int pool_layout_of_profiles(const char *data, const char *meta);

/* A scrub's record as `btrfs scrub status -R` prints it. */
struct pool_scrub_info {
	char status[32];  /* "running", "finished", "aborted", ... or "none" */
	char started[64]; /* as btrfs prints it, "" when never run */
	char duration[32];
	uint64_t data_bytes, tree_bytes;
	uint64_t read_errors, csum_errors, verify_errors, super_errors;
	uint64_t corrected_errors, uncorrectable_errors, unverified_errors;
};

/* Parses that output (any bytes: a line it does not know is skipped).
 * Always fills *out. */
void pool_scrub_info_parse(const char *text, size_t len,
			   struct pool_scrub_info *out);

#endif
