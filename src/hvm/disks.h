/*
 * disks.h - an HVM instance's disks at create time: checking and filling
 * in disks[] (spec/smartos.md §1.7) and making the disk files, for
 * vmadm create of the kvm and bhyve brands.
 *
 * Disks are files in the instance's dataset, R/<uuid>/disks/diskN.img:
 * created sparse from `size`, or cloned from an installed `zvol` image's
 * disk (a reflink where the filesystem has them, so constant time on
 * btrfs). A `path` given in the payload must name a file there; paths
 * elsewhere on the host are refused.
 */
#ifndef HULL_HVM_DISKS_H
#define HULL_HVM_DISKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define HVM_DISK_SIZE_MAX (16ll << 20) /* MiB: 16 TiB */

/* What hvm_disks_plan needs to know about an installed image. */
struct hvm_image_info {
	const char *type;   /* manifest type ("zvol", ...) */
	int64_t image_size; /* MiB, or -1 when the manifest has none */
};

/* Looks an image up: 0 and *out filled, or -ENOENT when not installed.
 * Strings in *out must stay valid until hvm_disks_plan returns. */
typedef int (*hvm_image_lookup_fn)(void *ctx, const char *uuid,
				   struct hvm_image_info *out);

/* Checks vm's disks[] for brand ("kvm" or "bhyve") and fills in what is
 * derived: path (inst_dir/disks/diskN.img), model (disk_driver, else
 * virtio), media (disk), image_size (from the image). Errors name the
 * property ("disks.1.path: ..."); vm is unchanged then. Pure apart from
 * the lookups. */
int hvm_disks_plan(json_t *vm, const char *brand, const char *inst_dir,
		   hvm_image_lookup_fn lookup, void *ctx, struct hull_err *err);

/* Makes the disk file at path (which must not exist): a clone of
 * clone_from when given (reflink, else a copy with copy_file_range),
 * grown to size_mib when that is larger; else a sparse file of size_mib.
 * Nothing is left at path on failure. */
int hvm_disk_make(const char *path, int64_t size_mib, const char *clone_from,
		  struct hull_err *err);

#endif
