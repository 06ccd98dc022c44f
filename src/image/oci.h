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

/* Reads the layout at dir into out (follows index -> manifest). */
int oci_image_load(const char *dir, struct oci_image *out,
		   struct hull_err *err);

/* The deterministic image uuid for a config digest (64 hex digits). */
void oci_uuid_from_digest(const char *sha256_hex, char out[37]);

/* The hull manifest for an image: config is the parsed config blob, its
 * digest the image id. Returns a new, validated manifest or NULL. */
json_t *oci_image_manifest(json_t *config, const char *config_sha256,
			   const char *ref, struct hull_err *err);

#endif
