/*
 * oci.h - OCI image layouts and `docker save` archives, read as images.
 *
 * Both are a folder (imgadm unpacks a tar of one first, with the same
 * confinement as any image): an OCI layout has oci-layout and index.json
 * naming a manifest blob, which names a config blob and layer blobs under
 * blobs/<alg>/<hex>; a docker save has manifest.json, an array whose first
 * entry names Config, RepoTags and Layers. Newer docker writes both; the
 * OCI index is preferred.
 *
 * The result is a hull image manifest of type docker whose uuid is derived
 * from the image id (the config's sha256), so importing the same image
 * twice gives the same uuid; the config's Entrypoint, Cmd, Env, WorkingDir
 * and User are kept as the docker:config tag, as SmartOS keeps them.
 */
#ifndef HULL_IMAGE_OCI_H
#define HULL_IMAGE_OCI_H

#include <jansson.h>
#include <stddef.h>

#include "lib/err.h"

struct oci_layer {
	char *path;   /* relative to the layout folder, checked */
	char *sha256; /* expected hex digest, or NULL when unnamed */
};

struct oci_image {
	char *config_path;   /* relative, checked */
	char *config_sha256; /* expected digest of the config, or NULL */
	struct oci_layer *layers;
	size_t nlayers;
	char *ref; /* "repo:tag" or "repo" as the archive names it, or NULL */
};

void oci_image_fini(struct oci_image *img);

/*
 * Pure parsers over the JSON documents of a layout (untrusted):
 *   oci_index_manifest: index.json -> the relative path and digest of the
 *     image manifest to use (the first one for linux/amd64 or without a
 *     platform); nested indexes are followed by the caller.
 *   oci_manifest_parse: an image manifest blob -> config and layers.
 *   oci_docker_manifest_parse: docker's manifest.json -> config, layers, ref.
 * Paths are refused when absolute or holding "..".
 */
int oci_index_manifest(json_t *index, char **path, char **sha256, char **ref,
		       int *is_index, struct hull_err *err);
int oci_manifest_parse(json_t *manifest, struct oci_image *out,
		       struct hull_err *err);
int oci_docker_manifest_parse(json_t *manifest, struct oci_image *out,
			      struct hull_err *err);

/* Parses a JSON document of the layout. The error names what and the line
 * and column, never the bytes there (a blob may be anything). */
json_t *oci_json_parse(const char *what, const char *buf, size_t len,
		       struct hull_err *err);

/*
 * Opens rel, a path the layout names, under the layout folder dirfd, for
 * reading. The layout is untrusted (a user's folder, or an archive unpacked
 * as given), so: the path is resolved as if dirfd were "/" (openat2's
 * RESOLVE_IN_ROOT: a symlink, absolute or climbing with "..", stays inside
 * the layout, as in docker's own archives, where a repeated layer is a
 * relative symlink to the first), and only a regular file is accepted,
 * opened without blocking first (a FIFO or device is refused at once).
 * Returns a close-on-exec descriptor the caller owns.
 */
int oci_blob_open(int dirfd, const char *rel, struct hull_err *err);

/* Reads all of blob rel (at most max bytes) into a new NUL-terminated
 * buffer. */
int oci_blob_read(int dirfd, const char *rel, size_t max, char **out,
		  size_t *len, struct hull_err *err);

/* Reads the layout at dirfd (borrowed) into out (follows index ->
 * manifest). */
int oci_image_load(int dirfd, struct oci_image *out, struct hull_err *err);

/* The deterministic image uuid for a config digest (64 hex digits). */
void oci_uuid_from_digest(const char *sha256_hex, char out[37]);

/* The hull manifest for an image: config is the parsed config blob, its
 * digest the image id. Returns a new, validated manifest or NULL. */
json_t *oci_image_manifest(json_t *config, const char *config_sha256,
			   const char *ref, struct hull_err *err);

#endif
