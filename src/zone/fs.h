/*
 * fs.h - the `filesystems` of an OS instance: host folders (or files)
 * bound into the zone, SmartOS's lofs mounts.
 *
 * An entry is {"type": "lofs", "source": host path, "target": path in the
 * zone, "options": [...]}. zone_fs_check() is the pure check shared by
 * vmadm's validation and the zone runtime's record parser; it is fuzzed
 * through tests/fuzz/fuzz_zone_config.c.
 *
 * At every boot (zone/start.c), before the pivot, zone_fs_clone() makes a
 * detached, non-recursive bind of each source with its flags set (always
 * nosuid and nodev, read-only for "ro", noexec for "noexec"); after the
 * pivot, zone_fs_attach() mounts it on the target, which is resolved inside
 * the zone's root without following any symbolic link (the zone owns every
 * folder on the way), so a link planted by the zone cannot move the mount
 * onto the host or anywhere but the path the operator named.
 */
#ifndef HULL_ZONE_FS_H
#define HULL_ZONE_FS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define ZONE_FS_MAX 64

struct zone_fs {
	char *source; /* absolute host path */
	char *target; /* absolute path in the zone */
	bool ro;
	bool noexec;
	/* The delegated dataset: in a userns zone mounted idmapped like the
	 * zone's root, so its files keep the zone's ids on disk. */
	bool idmap;
};

/* Checks one entry. partial: an update_filesystems entry, which needs only
 * its target. Writes the reason to why on failure. */
bool zone_fs_check(json_t *e, bool partial, char *why, size_t n);
/* Checks a whole `filesystems` array (each entry, no target twice). */
bool zone_fs_check_list(json_t *arr, char *why, size_t n);
/* Parses the record's `filesystems` into a new array of *count entries
 * (NULL and 0 when there are none). */
int zone_fs_parse(json_t *arr, struct zone_fs **out, size_t *count,
		  struct hull_err *err);
void zone_fs_free(struct zone_fs *fs, size_t count);
/* The delegated dataset (delegate_dataset): R/<uuid>/data, read-write, at
 * /<zpool>/<uuid>/data in the zone, as SmartOS mounts zones/<uuid>/data.
 * Appended to *fs; EINVAL for a zpool that is not one name. */
int zone_fs_add_delegated(struct zone_fs **fs, size_t *count, const char *uuid,
			  const char *zpool, struct hull_err *err);

/* In the zone's mount namespace, before the pivot: detached binds of each
 * source, into trees[count] (descriptors, caller closes). On failure every
 * tree made is closed and err names the source. */
int zone_fs_clone(const struct zone_fs *fs, size_t count, int *trees,
		  struct hull_err *err);
/* After the pivot: mounts trees[i] on fs[i].target and closes it. */
int zone_fs_attach(const struct zone_fs *fs, size_t count, int *trees,
		   struct hull_err *err);
#endif
