/*
 * fuzz_oci.c - the JSON documents of OCI layouts and docker save archives
 * (index, manifest, docker manifest.json, image config), as imgadm reads
 * them from an untrusted archive. Every path they yield must stay
 * relative and free of "..", and an error about a document that is not
 * JSON never quotes it (the bytes may be a host file's).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/manifest.h"
#include "image/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Absolute, or a ".." segment ("a..b" is a fine name). */
static void check_path(const char *p)
{
	if (!p)
		return;
	if (p[0] == '/' || !strcmp(p, "..") || !strncmp(p, "../", 3) ||
	    strstr(p, "/../") ||
	    (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err = {0};
	json_t *j = oci_json_parse("doc", (const char *)data, size, &err);
	if (!j) {
		static const char want[] = "doc: not valid JSON (line ";
		if (strncmp(err.msg, want, sizeof(want) - 1) ||
		    strchr(err.msg, '\''))
			__builtin_trap();
		return 0;
	}
	char *path = NULL, *sha = NULL, *ref = NULL;
	int is_index;
	if (oci_index_manifest(j, &path, &sha, &ref, &is_index, &err) == 0) {
		check_path(path);
		free(path);
		free(sha);
		free(ref);
	}
	struct oci_image img = {0};
	if (oci_manifest_parse(j, &img, &err) == 0)
		for (size_t i = 0; i < img.nlayers; i++)
			check_path(img.layers[i].path);
	oci_image_fini(&img);
	if (oci_docker_manifest_parse(j, &img, &err) == 0) {
		check_path(img.config_path);
		for (size_t i = 0; i < img.nlayers; i++)
			check_path(img.layers[i].path);
	}
	oci_image_fini(&img);
	json_t *m = oci_image_manifest(j,
				       "0123456789abcdef0123456789abcdef"
				       "0123456789abcdef0123456789abcdef",
				       "repo:tag", &err);
	if (m && image_manifest_validate(m, &err) != 0)
		__builtin_trap();
	json_decref(m);
	json_decref(j);
	return 0;
}
