/*
 * hull/image.h - the pool's images as a library: what imgadm does to them
 * (install, import, delete, vacuum, and the lookups list, get, show),
 * callable from a long-running process.
 *
 * Images are JSON: a manifest in SmartOS's imgmanifest form, and an "info"
 * object {"manifest": {...}, "source": URL|null, ...} as `imgadm get`
 * prints it.
 *
 * Every call opens the pool itself and closes it before it returns: it
 * keeps nothing between calls and uses no global state, so calls may come
 * repeatedly and from several threads or processes at once. The pool is
 * hull_root() (lib/root.h): $HULL_ROOT as the process first reads it (call
 * hull_root() once before starting threads).
 *
 * Locking: installs and imports into one pool are serialised by the pool's
 * install lock (image/install.h), held from the first write to the commit;
 * content goes into a temporary dataset that only a verified, complete
 * image leaves, so a failure or a kill at any point leaves the pool as it
 * was (vacuum removes what a kill leaves). A delete is refused (EBUSY)
 * while an instance or image is cloned from the image or names it as its
 * origin, checked by the pool under its own lock.
 *
 * Nothing is printed and nothing exits. A failure returns a negative
 * errno-style code and fills err with one line; ENOENT with "image X is
 * not installed" when a named image is not installed. What happens along
 * the way (download progress, each image installed or skipped, device
 * nodes left out) is told to an optional event callback, in order, on the
 * calling thread.
 */
#ifndef HULL_IMAGE_H
#define HULL_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum hull_image_event_kind {
	/* Bytes done of total of an image file being downloaded. */
	HULL_IMAGE_EV_DOWNLOAD,
	/* An image was installed (manifest set). An import reports each
	 * origin it brings in first (depth > 0), then the image. */
	HULL_IMAGE_EV_INSTALLED,
	/* The image was installed already, nothing was done (manifest set
	 * when it was read, else only uuid). */
	HULL_IMAGE_EV_SKIPPED,
	/* count device nodes of the image were left out (instances get a
	 * /dev of their own); before the INSTALLED of that image. */
	HULL_IMAGE_EV_NODES_DROPPED,
	/* vacuum: the temporary dataset name, left by an install that was
	 * killed, was removed. */
	HULL_IMAGE_EV_PARTIAL_REMOVED,
	/* vacuum: an unused image was deleted (manifest set). */
	HULL_IMAGE_EV_DELETED,
};

struct hull_image_event {
	enum hull_image_event_kind kind;
	const char *uuid;     /* the image's */
	json_t *manifest;     /* borrowed for the call; may be NULL */
	uint64_t done, total; /* DOWNLOAD */
	uint64_t count;	      /* NODES_DROPPED */
	const char *name;     /* PARTIAL_REMOVED */
	int depth;	      /* 0: the image asked for; n: its nth origin */
};

/* Events of one call (NULL: none). fn runs on the calling thread. */
struct hull_image_events {
	void (*fn)(const struct hull_image_event *ev, void *arg);
	void *arg;
};

/* Installs an image from a manifest (len bytes at manifest; name says
 * where it came from in errors) and its file, as `imgadm install -m -f`:
 * the file is checked against the manifest's files[0] (size before
 * anything is written, sha1 while it is unpacked). An image already
 * installed is skipped (SKIPPED) before the rest of the manifest is
 * looked at, as SmartOS does for provisioning scripts that install again.
 * Returns 0 when installed or skipped. */
int hull_image_install(const char *manifest, size_t len, const char *name,
		       const char *file, const struct hull_image_events *ev,
		       struct hull_err *err);

/* Imports uuid from the image sources (only from source_url when it is
 * not NULL, its type guessed from the URL), its origins first, as
 * `imgadm import UUID`. Downloads go to the pool's var/imgadm and are
 * removed after. Already installed: SKIPPED at depth 0, and 0. ENXIO when
 * no source has it. */
int hull_image_import(const char *uuid, const char *source_url,
		      const struct hull_image_events *ev, struct hull_err *err);

/* Imports a `docker save` archive or an OCI image layout (a folder, or a
 * tar of one) at path as one image of type docker, as `imgadm import
 * PATH`. */
int hull_image_import_archive(const char *path,
			      const struct hull_image_events *ev,
			      struct hull_err *err);

/* Deletes an installed image (EBUSY while it is used). */
int hull_image_delete(const char *uuid, struct hull_err *err);

/* The installed images nothing uses (no clone, no image naming it as
 * origin), repeated until none is left, so an unused chain goes too:
 * *order (new reference) is their info objects in the order to delete
 * them. */
int hull_image_vacuum_plan(json_t **order, struct hull_err *err);

/* Removes what killed installs left (PARTIAL_REMOVED each). */
int hull_image_vacuum_partials(const struct hull_image_events *ev,
			       struct hull_err *err);

/* The whole vacuum without asking: partials, then the plan deleted in
 * order (DELETED each). Stops at the first failure. */
int hull_image_vacuum(const struct hull_image_events *ev, struct hull_err *err);

/* Every installed image's info, sorted by uuid (new reference); with
 * clones, each carries its clone count. */
int hull_image_list(bool clones, json_t **infos, struct hull_err *err);

/* One installed image's info (new reference); with children, also
 * "children": {"clones": [dataset names]}. */
int hull_image_get(const char *uuid, bool children, json_t **info,
		   struct hull_err *err);

/* The manifest of uuid from the first source that has it (new
 * reference); *source_out (may be NULL) gets that source. ENXIO when none
 * has it, ENOENT when no source is configured. */
int hull_image_show(const char *uuid, json_t **manifest, json_t **source_out,
		    struct hull_err *err);

#endif
