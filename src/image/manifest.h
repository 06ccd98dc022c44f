/*
 * manifest.h - the SmartOS image manifest (v2): validation of untrusted
 * manifests, and the computed fields `imgadm list` shows.
 */
#ifndef HULL_IMAGE_MANIFEST_H
#define HULL_IMAGE_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* The largest image file a manifest may name (IMGAPI's limit). */
#define IMAGE_FILE_MAX_SIZE (20ull << 30)

/* Checks a manifest: required fields present and of the right type, a known
 * type, os and compression, sizes and lengths in range. The message names
 * the offending field ("manifest: files[0].sha1: ..."). files[] is optional
 * (docker images installed from layers have none); when present, every
 * entry is checked. Pure: no I/O. */
int image_manifest_validate(json_t *manifest, struct hull_err *err);

/* Parses a manifest from untrusted bytes and validates it. Returns a new
 * reference or NULL with err set. Pure. */
json_t *image_manifest_parse(const char *buf, size_t len, struct hull_err *err);

/* True for the types whose file is a root filesystem tarball. */
bool image_type_is_rootfs(const char *type);

/* Adds the fields SmartOS fills in when a manifest omits them (state
 * "active", disabled false, public false, v 2). */
void image_manifest_defaults(json_t *manifest);

#endif
