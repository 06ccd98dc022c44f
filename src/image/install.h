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
#include <stdint.h>

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

/*
 * How much unpacking an image may write into the pool (item of struct
 * unpack_opts): refuses with ENOSPC when the pool's free space is below the
 * compressed size (nothing can fit); otherwise the smaller of
 *   - the pool's free space less a reserve (1%, between 16 MiB and 4 GiB),
 *     so that an import never fills the pool the instances live on, and
 *   - IMAGE_MAX_EXPANSION times the compressed size, or the ratio in
 *     $IMGADM_MAX_EXPANSION (0: no ratio limit): real images expand a few
 *     times, a decompression bomb a thousand.
 * what names the file for the ENOSPC message.
 */
#define IMAGE_MAX_EXPANSION 100
struct image_budget {
	uint64_t limit;
	char why[128];
};
int image_budget_get(struct pool *pool, const char *what, uint64_t compressed,
		     struct image_budget *b, struct hull_err *err);

/*
 * The scratch folder an import of an archive unpacks it into,
 * R/var/.oci-XXXXXX, held with an exclusive flock on *lock_fd for as long
 * as the import lives, so that a sweep tells a live one from one a killed
 * import left behind. *path is new; close *lock_fd after removing it.
 */
int image_scratch_make(char **path, int *lock_fd, struct hull_err *err);

/*
 * What imports killed midway leave, removed: scratch folders nobody holds,
 * and images/UUID-partial datasets unless an install is in progress right
 * now (then it may be its own; they are left for the next sweep). The
 * names removed go into *removed (a new array). For `hull init`.
 */
int image_leftovers_clean(struct pool *pool, json_t **removed,
			  struct hull_err *err);

/* Hex SHA-1 of a whole file (41 bytes with the NUL). */
int image_file_sha1(const char *path, char out[41], struct hull_err *err);

#endif
