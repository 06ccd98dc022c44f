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

/* Upgrades a v1 (DSAPI) manifest to v2 in place, by imgmanifest's rules
 * (creator_uuid becomes owner, restricted_to_uuid public false and acl,
 * disabled and state, published_at from created_at with seconds, files'
 * compression from their path, image_size a number; DSAPI-only fields
 * dropped). A manifest without v is v1 when it has creator_uuid. v2 and
 * later are left alone. Pure. */
int image_manifest_upgrade(json_t *manifest, struct hull_err *err);

/* Parses a manifest from untrusted bytes, upgrades a v1 one and validates
 * it. Returns a new reference or NULL with err set. Pure. */
json_t *image_manifest_parse(const char *buf, size_t len, struct hull_err *err);

/* True for the types whose file is a root filesystem tarball. */
bool image_type_is_rootfs(const char *type);

/* Adds the fields SmartOS fills in when a manifest omits them (state
 * "active", disabled false, public false, v 2). */
void image_manifest_defaults(json_t *manifest);

#endif
