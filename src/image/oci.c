/*
 * oci.c - OCI image layouts and docker save archives as hull images (see
 * oci.h).
 */
#include "image/oci.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image/manifest.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/xalloc.h"

#define DOC_MAX (16u << 20)

void oci_image_fini(struct oci_image *img)
{
	if (!img)
		return;
	free(img->config_path);
	free(img->config_sha256);
	for (size_t i = 0; i < img->nlayers; i++) {
		free(img->layers[i].path);
		free(img->layers[i].sha256);
	}
	free(img->layers);
	free(img->ref);
	memset(img, 0, sizeof(*img));
}

static bool hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return false;
	return true;
}

/* A relative path inside the layout: no "/" at the start, no "..". */
static bool rel_path_ok(const char *p)
{
	if (!*p || p[0] == '/')
		return false;
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return true;
}

/* "sha256:<hex>" -> blobs/sha256/<hex>, and the hex. */
static int digest_path(json_t *desc, const char *what, char **path,
		       char **sha256, struct hull_err *err)
{
	const char *d = hull_json_str(desc, "digest", NULL);
	if (!d)
		return hull_err_set(err, EINVAL, "OCI %s: no digest", what);
	if (strncmp(d, "sha256:", 7) || !hex64(d + 7)) {
		/* Name the algorithm when it looks like one; never echo the
		 * document's bytes otherwise. */
		size_t n = strcspn(d, ":");
		bool named =
		    n && n <= 16 && d[n] == ':' &&
		    strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789+._-") >= n;
		if (named && strncmp(d, "sha256:", 7))
			return hull_err_set(err, EINVAL,
					    "OCI %s: unsupported digest "
					    "algorithm '%.*s'",
					    what, (int)n, d);
		return hull_err_set(err, EINVAL, "OCI %s: malformed digest",
				    what);
	}
	*path = xasprintf("blobs/sha256/%s", d + 7);
	*sha256 = xstrdup(d + 7);
	return 0;
}

static bool platform_ok(json_t *desc)
{
	json_t *pl = json_object_get(desc, "platform");
	if (!pl)
		return true;
	const char *os = hull_json_str(pl, "os", "linux");
	const char *arch = hull_json_str(pl, "architecture", "amd64");
	return !strcmp(os, "linux") && !strcmp(arch, "amd64");
}

int oci_index_manifest(json_t *index, char **path, char **sha256, char **ref,
		       int *is_index, struct hull_err *err)
{
	json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms) || json_array_size(ms) == 0)
		return hull_err_set(err, EINVAL,
				    "OCI index: no manifests listed");
	size_t i;
	json_t *d;
	json_array_foreach(ms, i, d)
	{
		if (!json_is_object(d) || !platform_ok(d))
			continue;
		const char *mt = hull_json_str(d, "mediaType", "");
		*is_index = strstr(mt, "index") || strstr(mt, "manifest.list");
		json_t *ann = json_object_get(d, "annotations");
		const char *r =
		    hull_json_str(ann, "io.containerd.image.name", NULL);
		if (!r)
			r = hull_json_str(
			    ann, "org.opencontainers.image.ref.name", NULL);
		*ref = r ? xstrdup(r) : NULL;
		int rc = digest_path(d, "index", path, sha256, err);
		if (rc < 0) {
			free(*ref);
			*ref = NULL;
		}
		return rc;
	}
	return hull_err_set(err, ENOENT,
			    "OCI index: no manifest for linux/amd64");
}

int oci_manifest_parse(json_t *m, struct oci_image *out, struct hull_err *err)
{
	if (!json_is_object(m))
		return hull_err_set(err, EINVAL, "OCI manifest: not an object");
	json_t *cfg = json_object_get(m, "config");
	if (!json_is_object(cfg))
		return hull_err_set(err, EINVAL, "OCI manifest: no config");
	int r = digest_path(cfg, "config", &out->config_path,
			    &out->config_sha256, err);
	if (r < 0)
		return r;
	json_t *layers = json_object_get(m, "layers");
	if (!json_is_array(layers))
		return hull_err_set(err, EINVAL, "OCI manifest: no layers");
	out->layers =
	    xcalloc(json_array_size(layers) + 1, sizeof(*out->layers));
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	{
		struct oci_layer *ol = &out->layers[out->nlayers];
		if ((r = digest_path(l, "layer", &ol->path, &ol->sha256, err)) <
		    0)
			return r;
		out->nlayers++;
	}
	return 0;
}

int oci_docker_manifest_parse(json_t *m, struct oci_image *out,
			      struct hull_err *err)
{
	json_t *e = json_array_get(m, 0);
	if (!json_is_object(e))
		return hull_err_set(err, EINVAL,
				    "docker manifest.json: not an array of "
				    "images");
	const char *cfg = hull_json_str(e, "Config", NULL);
	if (!cfg || !rel_path_ok(cfg))
		return hull_err_set(err, EINVAL,
				    "docker manifest.json: bad Config");
	out->config_path = xstrdup(cfg);
	/* Config is "<hex>.json" or "blobs/sha256/<hex>": the image id. */
	const char *base = strrchr(cfg, '/') ? strrchr(cfg, '/') + 1 : cfg;
	char hex[65] = "";
	if (strlen(base) >= 64) {
		memcpy(hex, base, 64);
		if (hex64(hex) && (!base[64] || !strcmp(base + 64, ".json")))
			out->config_sha256 = xstrdup(hex);
	}
	json_t *tags = json_object_get(e, "RepoTags");
	const char *t = json_is_array(tags)
			    ? json_string_value(json_array_get(tags, 0))
			    : NULL;
	if (t)
		out->ref = xstrdup(t);
	json_t *layers = json_object_get(e, "Layers");
	if (!json_is_array(layers))
		return hull_err_set(err, EINVAL,
				    "docker manifest.json: no Layers");
	out->layers =
	    xcalloc(json_array_size(layers) + 1, sizeof(*out->layers));
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	{
		const char *p = json_string_value(l);
		if (!p || !rel_path_ok(p))
			return hull_err_set(err, EINVAL,
					    "docker manifest.json: bad layer "
					    "path");
		struct oci_layer *ol = &out->layers[out->nlayers++];
		ol->path = xstrdup(p);
		if (!strncmp(p, "blobs/sha256/", 13) && hex64(p + 13))
			ol->sha256 = xstrdup(p + 13);
	}
	return 0;
}

json_t *oci_json_parse(const char *what, const char *buf, size_t len,
		       struct hull_err *err)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	/* jansson's text quotes the bytes near the error: not repeated, so
	 * that no message ever carries a file's content. */
	if (!j)
		hull_err_set(err, EINVAL,
			     "%s: not valid JSON (line %d, column %d)", what,
			     je.line, je.column);
	return j;
}

/* openat2 without RESOLVE_IN_ROOT (kernels before 5.6): walk the path one
 * component at a time, refusing every symlink. */
static int blob_open_walk(int dirfd, const char *rel, int flags)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *copy = xstrdup(rel);
	char *save = NULL;
	char *c = strtok_r(copy, "/", &save);
	while (c) {
		char *next = strtok_r(NULL, "/", &save);
		int nfd =
		    next ? openat(fd, c,
				  O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			 : openat(fd, c, flags | O_NOFOLLOW);
		int e = errno;
		close(fd);
		if (nfd < 0) {
			errno = e;
			return -1;
		}
		fd = nfd;
		c = next;
	}
	return fd;
}

int oci_blob_open(int dirfd, const char *rel, struct hull_err *err)
{
	if (!rel_path_ok(rel))
		return hull_err_set(err, EINVAL, "%s: path outside the image",
				    rel);
	/* Non-blocking, so that a FIFO or a device answers at once instead
	 * of holding the import (and the pool's install lock) forever. */
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct open_how how = {.flags = (uint64_t)flags,
			       .resolve =
				   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = blob_open_walk(dirfd, rel, flags);
	if (fd < 0 && errno == ENOENT)
		return hull_err_set(err, ENOENT,
				    "%s: not found in the image (symlinks "
				    "may not lead out of it)",
				    rel);
	if (fd < 0)
		return hull_err_sys(err, errno, "%s", rel);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "%s", rel);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return hull_err_set(err, EINVAL, "%s: not a regular file", rel);
	}
	if (fcntl(fd, F_SETFL, O_RDONLY) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "%s", rel);
	}
	return fd;
}

int oci_blob_read(int dirfd, const char *rel, size_t max, char **out,
		  size_t *len, struct hull_err *err)
{
	int fd = oci_blob_open(dirfd, rel, err);
	if (fd < 0)
		return fd;
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap > max)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return hull_err_sys(err, e, "read %s", rel);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(buf);
		return hull_err_set(err, EFBIG, "%s: larger than %zu bytes",
				    rel, max);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static json_t *doc_load(int dirfd, const char *rel, struct hull_err *err)
{
	char *buf;
	size_t len;
	if (oci_blob_read(dirfd, rel, DOC_MAX, &buf, &len, err) < 0)
		return NULL;
	json_t *j = oci_json_parse(rel, buf, len, err);
	free(buf);
	return j;
}

/* Whether rel exists under the layout (as a name: what it is gets checked
 * when it is opened). */
static bool doc_exists(int dirfd, const char *rel)
{
	struct stat st;
	return fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int oci_image_load(int dirfd, struct oci_image *out, struct hull_err *err)
{
	memset(out, 0, sizeof(*out));
	int r;
	if (doc_exists(dirfd, "index.json")) {
		json_t *doc = doc_load(dirfd, "index.json", err);
		char *ref = NULL;
		/* Indexes may nest (a multi-platform image): follow a few. */
		for (int depth = 0; doc && depth < 4; depth++) {
			char *path = NULL, *sha = NULL, *r2 = NULL;
			int is_index = 0;
			r = oci_index_manifest(doc, &path, &sha, &r2, &is_index,
					       err);
			json_decref(doc);
			doc = NULL;
			if (r < 0)
				break;
			if (r2 && !ref)
				ref = r2;
			else
				free(r2);
			json_t *next = doc_load(dirfd, path, err);
			free(path);
			free(sha);
			if (!next)
				break;
			if (is_index || json_object_get(next, "manifests")) {
				doc = next;
				continue;
			}
			r = oci_manifest_parse(next, out, err);
			json_decref(next);
			if (r == 0) {
				out->ref = ref;
				return 0;
			}
			break;
		}
		json_decref(doc);
		free(ref);
		oci_image_fini(out);
		return -(err && err->code ? err->code : EINVAL);
	}
	if (doc_exists(dirfd, "manifest.json")) {
		json_t *doc = doc_load(dirfd, "manifest.json", err);
		if (!doc)
			return -err->code;
		r = oci_docker_manifest_parse(doc, out, err);
		json_decref(doc);
		if (r < 0)
			oci_image_fini(out);
		return r;
	}
	return hull_err_set(err, EINVAL,
			    "not an OCI image layout or docker save archive "
			    "(no index.json or manifest.json)");
}

void oci_uuid_from_digest(const char *hex, char out[37])
{
	char h[32];
	for (int i = 0; i < 32; i++)
		h[i] = (char)tolower((unsigned char)hex[i]);
	/* Mark it as a name-based (version 5 style) RFC 4122 uuid. */
	h[12] = '5';
	static const char variant[] = "89ab";
	int v = isdigit((unsigned char)h[16]) ? h[16] - '0' : h[16] - 'a' + 10;
	h[16] = variant[v & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
		 h + 20);
}

/* Splits "registry/repo:tag" into repo and tag (NULL when absent). */
static void ref_split(const char *ref, char **repo, char **tag)
{
	*repo = NULL;
	*tag = NULL;
	if (!ref || !*ref)
		return;
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	if (colon && (!slash || colon > slash)) {
		*repo = xstrndup(ref, (size_t)(colon - ref));
		*tag = xstrdup(colon + 1);
	} else if (!strchr(ref, '/') && !strchr(ref, ':') &&
		   strspn(ref, "abcdefghijklmnopqrstuvwxyz0123456789._-") ==
		       strlen(ref) &&
		   !strstr(ref, "..")) {
		/* An OCI ref.name annotation alone is usually just a tag. */
		*tag = xstrdup(ref);
	} else {
		*repo = xstrdup(ref);
	}
}

static char *truncate_dup(const char *s, size_t max)
{
	return xstrndup(s, strnlen(s, max));
}

json_t *oci_image_manifest(json_t *config, const char *sha256, const char *ref,
			   struct hull_err *err)
{
	if (!json_is_object(config)) {
		hull_err_set(err, EINVAL, "image config: not an object");
		return NULL;
	}
	char uuid[37];
	oci_uuid_from_digest(sha256, uuid);
	char *repo, *tag;
	ref_split(ref, &repo, &tag);
	_cleanup_free_ char *name =
	    truncate_dup(repo ? repo : "docker-image", 512);
	_cleanup_free_ char *version =
	    truncate_dup(tag ? tag : sha256, tag ? 128 : 12);
	_cleanup_free_ char *id = xasprintf("sha256:%s", sha256);

	json_t *c = json_object_get(config, "config");
	json_t *dc = json_object();
	static const char *const keys[] = {"Entrypoint", "Cmd",	 "Env",
					   "WorkingDir", "User", NULL};
	for (const char *const *k = keys; *k; k++) {
		json_t *v = json_object_get(c, *k);
		bool list = !strcmp(*k, "Entrypoint") || !strcmp(*k, "Cmd") ||
			    !strcmp(*k, "Env");
		if (v && (list ? json_is_array(v) : json_is_string(v)))
			json_object_set(dc, *k, v);
		else
			json_object_set_new(
			    dc, *k, list ? json_null() : json_string(""));
	}
	json_t *tags =
	    json_pack("{s:s, s:o}", "docker:id", id, "docker:config", dc);
	if (repo)
		json_object_set_new(tags, "docker:repo", json_string(repo));
	if (tag) {
		_cleanup_free_ char *k = xasprintf("docker:tag:%.100s", tag);
		json_object_set_new(tags, k, json_true());
	}
	const char *arch = hull_json_str(config, "architecture", NULL);
	if (arch)
		json_object_set_new(tags, "docker:architecture",
				    json_string(arch));
	json_t *m = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, "
			      "s:b, s:o}",
			      "v", 2, "uuid", uuid, "owner",
			      "00000000-0000-0000-0000-000000000000", "name",
			      name, "version", version, "type", "docker", "os",
			      "linux", "state", "active", "disabled", 0,
			      "public", 0, "tags", tags);
	const char *created = hull_json_str(config, "created", NULL);
	if (created)
		json_object_set_new(m, "published_at", json_string(created));
	free(repo);
	free(tag);
	if (image_manifest_validate(m, err) < 0) {
		/* A created date in another shape is not worth refusing. */
		json_object_del(m, "published_at");
		if (image_manifest_validate(m, err) < 0) {
			json_decref(m);
			return NULL;
		}
	}
	return m;
}
