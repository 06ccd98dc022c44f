/*
 * disks.h - the disks under a btrfs pool: what `hull status`, `hull scrub`,
 * `hull replace` and `hull add` do (see docs/hull.md).
 *
 * The facts come from the kernel through btrfs's ioctls (FS_INFO,
 * DEV_INFO, GET_DEV_STATS, SPACE_INFO) and sysfs; what neither the kernel's
 * ioctls nor libbtrfsutil offer as one call (a scrub over every disk with
 * its record, a replace, adding a disk, a profile conversion) runs
 * btrfs-progs, as the send and receive streams do.
 */
#ifndef HULL_POOL_DISKS_H
#define HULL_POOL_DISKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "pool/layout.h"

/* btrfs's five per-device counters, in the kernel's order. */
enum {
	POOL_DISK_WRITE_ERRS,
	POOL_DISK_READ_ERRS,
	POOL_DISK_FLUSH_ERRS,
	POOL_DISK_CORRUPTION_ERRS,
	POOL_DISK_GENERATION_ERRS,
	POOL_DISK_NSTATS,
};

struct pool_disk {
	uint64_t devid;
	char *path; /* NULL when missing; the recorded path is in *last */
	char *last; /* the path var/pool.json last recorded, or NULL */
	bool missing;
	uint64_t size; /* bytes btrfs uses of it */
	uint64_t allocated;
	uint64_t stats[POOL_DISK_NSTATS];
};

struct pool_status {
	char fsid[37];
	char *layout;	    /* from var/pool.json, or guessed from profiles */
	char *data_profile; /* "raid1", or "raid1+single" while mixed */
	char *meta_profile;
	bool mixed;    /* more than one profile of a kind */
	bool degraded; /* a disk is missing */
	struct pool_disk *disks;
	size_t ndisks;
	uint64_t size, allocated, used, available;
	struct pool_scrub_info scrub;
};

/* The status of the btrfs pool mounted at root. */
int pool_status_get(const char *root, struct pool_status *out,
		    struct hull_err *err);
void pool_status_fini(struct pool_status *s);

/* Starts a scrub of every disk; with wait, runs it to its end. */
int pool_scrub_start(const char *root, bool wait, struct hull_err *err);
int pool_scrub_cancel(const char *root, struct hull_err *err);

/* Checks that dev can join a pool: a block device, not in use (mounted,
 * held, open exclusively), holding no filesystem or partition table. */
int pool_disk_check_free(const char *dev, struct hull_err *err);

/* Replaces old (a path of the pool's, a recorded path of a missing disk,
 * or a devid) by new_dev, waiting for the copy; then converts what a
 * degraded mount wrote with lesser profiles back to the layout's. */
int pool_disk_replace(const char *root, const char *old, const char *new_dev,
		      struct hull_err *err);

/* Adds dev to the pool. */
int pool_disk_add(const char *root, const char *dev, struct hull_err *err);

/* Writes the pool's present disks into var/pool.json ("devices"). */
int pool_disks_record(const char *root, struct hull_err *err);

#endif
