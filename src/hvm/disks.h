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

/* Checks and fills the disks that vmadm update's add_disks appended to
 * vm's disks[] (from index first on) as hvm_disks_plan does at create,
 * against the disks already there too: a path already used, more than 16
 * disks or a second boot disk are refused. Errors name the entry
 * ("add_disks.0.size: ..."); vm is unchanged then. The default path is
 * the first inst_dir/disks/diskN.img no disk uses. */
int hvm_disks_plan_added(json_t *vm, size_t first, const char *brand,
			 const char *inst_dir, hvm_image_lookup_fn lookup,
			 void *ctx, struct hull_err *err);

/* Checks remove_disks (an array of paths) against the record vm: each
 * must name one of its disks, once, and not the boot disk (as Triton
 * refuses to delete it). Changes nothing. */
int hvm_disks_remove_plan(json_t *vm, json_t *remove, struct hull_err *err);

/* Sets the files of remove_disks aside (renamed to PATH.removing, in
 * their directory) so that a failed record save can put them back
 * (hvm_disks_aside_undo) and a good one drop them (hvm_disks_aside_drop).
 * A file that is already gone is skipped. All or nothing. */
int hvm_disks_aside(json_t *remove, struct hull_err *err);
void hvm_disks_aside_undo(json_t *remove, size_t n);
void hvm_disks_aside_drop(json_t *remove);

/* Makes the disk file at path (which must not exist): a clone of
 * clone_from when given (reflink, else a copy with copy_file_range),
 * grown to size_mib when that is larger; else a sparse file of size_mib.
 * Nothing is left at path on failure. */
int hvm_disk_make(const char *path, int64_t size_mib, const char *clone_from,
		  struct hull_err *err);

/* One disk file to resize (vmadm update's update_disks). */
struct hvm_disk_resize {
	const char *path;  /* borrowed from the record */
	int64_t old_bytes; /* the file's size now */
	int64_t new_bytes;
};

/* Checks update_disks (SmartOS: [{path, size (MiB), boot, model,
 * dangerous_allow_shrink}], keyed by path) against the record vm (its
 * brand and disks[], before the update) and the disk files, and lists the
 * resizes it asks for in *plan (n entries, caller frees; grows first,
 * shrinks last). A size is changed only while the VM is stopped
 * (running), never for a cdrom, and made smaller only with
 * dangerous_allow_shrink: true. Errors name the entry and property
 * ("Invalid value for update_disks.0.size: ..."). Changes nothing. */
int hvm_disks_update_plan(json_t *vm, json_t *update_disks, bool running,
			  struct hvm_disk_resize **plan, size_t *n,
			  struct hull_err *err);

/* Resizes the files as planned (sparse: growing allocates nothing);
 * on failure, what was done is undone (a grow is; a shrink, done last,
 * cannot give back its data). */
int hvm_disks_resize(const struct hvm_disk_resize *plan, size_t n,
		     struct hull_err *err);

/* Puts the files back to their old sizes (after a later step failed). */
void hvm_disks_resize_undo(const struct hvm_disk_resize *plan, size_t n);

/* Drops what an update must not store (dangerous_allow_shrink) from
 * disks[] after update_disks was merged in. */
void hvm_disks_update_scrub(json_t *vm);

#endif
