/*
 * vmimage.h - making an image from an instance (`imgadm create`): the
 * manifest of the new image, and its file, a tar of the instance's root in
 * the layout `imgadm install` takes back.
 */
#ifndef HULL_IMAGE_VMIMAGE_H
#define HULL_IMAGE_VMIMAGE_H

#include <jansson.h>

#include "lib/err.h"

/*
 * Returns a new manifest for an image made from instance vm (a VM object):
 * base (may be NULL; borrowed) with uuid (when absent), type (zone-dataset,
 * or lx-dataset for lx), os, origin (the instance's image), v, state,
 * published_at and, for lx, requirements.brand filled in. name and version
 * must come from base. Pure: the caller gives the uuid and the time.
 */
json_t *image_manifest_from_vm(json_t *vm, json_t *base, const char *uuid,
			       const char *now_iso, struct hull_err *err);

/*
 * Writes a tar of the directory root (not crossing mounts, symlinks kept as
 * links, owners, modes, times and xattrs kept) to path, compressed with
 * compression ("none", "gzip", "bzip2", "xz"). On failure nothing is left
 * at path.
 */
int image_archive_write(const char *root, const char *path,
			const char *compression, struct hull_err *err);

#endif
