/*
 * store.h - the installed images of a pool: their manifest records, which
 * datasets were cloned from them, and deleting one that nothing uses.
 *
 * An image is installed while dataset images/<uuid> exists; its record
 * <root>/var/images/<uuid>.json holds {"manifest": {...}, "source": URL}.
 * A record without its dataset (a crash between the two steps of a delete)
 * is ignored and removed by the next delete or vacuum.
 *
 * The "info" objects returned here are what `imgadm get` prints and `list
 * -j` lists: {"manifest", "zpool", "source", "clones"}.
 */
#ifndef HULL_IMAGE_STORE_H
#define HULL_IMAGE_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"
#include "pool/pool.h"

/* Writes the record atomically (creating var/images when needed). */
int image_store_record_write(const char *uuid, json_t *rec,
			     struct hull_err *err);

/* Every installed image's info object, sorted by uuid. With clones set,
 * each carries its clone count (one pass over the pool's datasets). */
json_t *image_store_list(struct pool *p, bool clones, struct hull_err *err);

/* One image's info object; ENOENT ("image X is not installed") when it is
 * not installed. */
json_t *image_store_get(struct pool *p, const char *uuid, struct hull_err *err);

/* The datasets cloned from images/<uuid>@final, as a new JSON array of
 * names. */
json_t *image_store_clones(struct pool *p, const char *uuid,
			   struct hull_err *err);

/* Deletes an installed image. Refused (EBUSY) while a dataset is cloned
 * from it or another installed image names it as origin. */
int image_store_delete(struct pool *p, const char *uuid, struct hull_err *err);

#endif
