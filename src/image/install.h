/*
 * install.h - putting an image into the pool, all or nothing.
 *
 * An image is installed as dataset "images/<uuid>" with a read-only snapshot
 * "images/<uuid>@final" that instances clone; its manifest is kept at
 * <root>/var/images/<uuid>.json as {"manifest": {...}, "source": URL|null}.
 * Content is written into a temporary dataset ("images/<uuid>-partial") and
 * only renamed into place after it is verified, so a failure at any point
 * leaves the pool as it was. Installs into one pool are serialised by a
 * lock on the pool root directory (a lock file would itself change the
 * pool), held from begin to commit or abort.
 *
 * The layout inside an image dataset:
 *   zone-dataset, lx-dataset, docker, lxd, other:  root/   the root filesystem
 *   zvol:                                          disk    the raw disk image
 */
#ifndef HULL_IMAGE_INSTALL_H
#define HULL_IMAGE_INSTALL_H

#include <jansson.h>

#include "lib/err.h"
#include "pool/pool.h"

struct image_txn; /* opaque: one install in progress */

/* Starts an install of the image the (already validated) manifest names:
 * refuses a duplicate uuid (EEXIST), creates the temporary dataset. The txn
 * borrows pool and keeps its own reference to manifest. */
int image_install_begin(struct pool *pool, json_t *manifest,
			struct image_txn **out, struct hull_err *err);

/* Absolute path of the temporary dataset, where content goes (borrowed). */
const char *image_txn_path(const struct image_txn *txn);

/* Snapshots, renames into place, writes the manifest record; frees txn
 * (also on failure, after undoing what it did). */
int image_install_commit(struct image_txn *txn, const char *source,
			 struct hull_err *err);

/* Destroys the temporary dataset; frees txn. NULL is fine. */
void image_install_abort(struct image_txn *txn);

/* The whole of `imgadm install -m -f`: checks file against the manifest's
 * files[0] (size before anything is written, sha1 while it is unpacked),
 * unpacks it per type and compression, commits. source is recorded (NULL
 * for a local install). */
int image_install_file(struct pool *pool, json_t *manifest, const char *file,
		       const char *source, struct hull_err *err);

/* Takes the pool's install lock (a descriptor to close), waiting for an
 * install in progress. */
int image_install_lock(struct hull_err *err);

/* Destroys the temporary datasets installs killed midway left behind
 * (none can be in progress: the install lock is held meanwhile); their
 * names go into *removed (a new array). */
int image_install_partials_clean(struct pool *pool, json_t **removed,
				 struct hull_err *err);

/* Hex SHA-1 of a whole file (41 bytes with the NUL). */
int image_file_sha1(const char *path, char out[41], struct hull_err *err);

#endif
