/*
 * source.h - where images come from: the configured sources and the two
 * kinds of source.
 *
 * The list lives in <root>/var/imgadm/sources.json as
 * {"sources": [{"url": URL, "type": "imgapi"|"dir"}, ...]}; without that
 * file the list is SmartOS's default, https://images.smartos.org (imgapi).
 *
 *   imgapi  an IMGAPI server over HTTP(S): GET URL/images, URL/images/UUID,
 *           URL/images/UUID/file (a "?channel=..." on URL is kept on every
 *           request). IMGADM_INSECURE=1 skips TLS verification.
 *   dir     a local folder (URL is a path or file://path) holding, for each
 *           image, either a manifest NAME.json with its file beside it
 *           (NAME.<anything else>, e.g. NAME.tar.gz or NAME.file — what
 *           scripts/mkimage-* write), or the IMGAPI-like layout
 *           images/UUID/manifest.json + images/UUID/file.
 *
 * Every manifest a source returns is validated before it is used.
 */
#ifndef HULL_IMAGE_SOURCE_H
#define HULL_IMAGE_SOURCE_H

#include <jansson.h>
#include <stdint.h>

#include "lib/err.h"

#define IMAGE_SOURCE_DEFAULT "https://images.smartos.org"

/* The configured sources: a new array of {url, type}. */
json_t *image_sources_load(struct hull_err *err);
int image_sources_save(json_t *sources, struct hull_err *err);

/* "imgapi" or "dir" from a URL when no type is given. */
const char *image_source_type_guess(const char *url);
/* True for a type this build can use. */
int image_source_type_check(const char *type, struct hull_err *err);

/* Checks that a source answers (GET /ping, or the folder exists). */
int image_source_ping(json_t *src, struct hull_err *err);

/* All valid manifests a source offers: a new array (invalid ones are
 * skipped). */
json_t *image_source_list(json_t *src, struct hull_err *err);

/* One manifest, validated; ENOENT when the source does not have it. */
json_t *image_source_get(json_t *src, const char *uuid, struct hull_err *err);

/* Progress of a download: bytes so far of total (0 when unknown). */
typedef void (*image_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Makes the image's file available as a local path (new string in *path):
 * a dir source gives its own file; an imgapi source downloads into
 * tmp_path (created, removed on failure, at most files[0].size bytes) and
 * gives that. *downloaded tells the caller to remove *path when done.
 */
int image_source_fetch(json_t *src, json_t *manifest, const char *tmp_path,
		       image_progress_fn progress, void *ctx, char **path,
		       int *downloaded, struct hull_err *err);

#endif
