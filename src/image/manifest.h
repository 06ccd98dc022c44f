/*
 * manifest.h - the SmartOS image manifest (v2): validation of untrusted
 * manifests, and the computed fields `imgadm list` shows.
 */
#ifndef HULL_IMAGE_MANIFEST_H
#define HULL_IMAGE_MANIFEST_H

#include <jansson.h>

#include "lib/err.h"

/* Checks a manifest: required fields present and of the right type, a known
 * type, os and compression, sizes and lengths in range. The message names
 * the offending field. Pure: no I/O. */
int image_manifest_validate(json_t *manifest, struct hull_err *err);

#endif
