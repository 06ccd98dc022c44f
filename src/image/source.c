/*
 * source.c - image sources: the configured list, IMGAPI over HTTP(S) with
 * libcurl, and local folders (see source.h).
 *
 * A source's answers are untrusted: JSON bodies are capped in size and
 * every manifest is validated; a download is capped at the size its
 * manifest declares (the SHA-1 is checked by the installer while it
 * unpacks). A transfer that stalls for a minute or drops is an error, and
 * the partial file is removed.
 */
#include "image/source.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/manifest.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* An IMGAPI answer for /images on a big public server is a few MB. */
#define BODY_MAX (64u << 20)
/* IMGAPI's largest page of /images. */
#define IMGAPI_PAGE 1000

/* ---- the configured list ---- */

json_t *image_sources_load(struct hull_err *err)
{
	_cleanup_free_ char *path = hull_root_path("var/imgadm/sources.json");
	if (!hull_path_exists(path))
		return json_pack("[{s:s, s:s}]", "url", IMAGE_SOURCE_DEFAULT,
				 "type", "imgapi");
	json_t *j = hull_json_load_file(path, err);
	if (!j)
		return NULL;
	json_t *list = json_object_get(j, "sources");
	if (!json_is_array(list)) {
		json_decref(j);
		hull_err_set(err, EINVAL, "%s: 'sources' is not an array",
			     path);
		return NULL;
	}
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s)
	{
		if (!json_is_string(json_object_get(s, "url")) ||
		    !json_is_string(json_object_get(s, "type"))) {
			json_decref(j);
			hull_err_set(err, EINVAL,
				     "%s: source %zu needs a url and a type",
				     path, i);
			return NULL;
		}
	}
	json_incref(list);
	json_decref(j);
	return list;
}

int image_sources_save(json_t *sources, struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var/imgadm");
	int r = hull_mkdir_p(dir, 0755, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = hull_root_path("var/imgadm/sources.json");
	json_t *j = json_pack("{s:O}", "sources", sources);
	r = hull_json_save_file(path, j, err);
	json_decref(j);
	return r;
}

const char *image_source_type_guess(const char *url)
{
	if (url[0] == '/' || !strncmp(url, "file://", 7))
		return "dir";
	return "imgapi";
}

int image_source_type_check(const char *type, struct hull_err *err)
{
	if (!strcmp(type, "imgapi") || !strcmp(type, "dir"))
		return 0;
	if (!strcmp(type, "docker") || !strcmp(type, "dsapi"))
		return hull_err_set(err, ENOTSUP,
				    "source type '%s' is not supported (use "
				    "imgapi or dir; docker images are imported "
				    "from docker save or OCI archives)",
				    type);
	return hull_err_set(err, EINVAL, "unknown source type '%.64s'", type);
}

static const char *src_url(json_t *src)
{
	return hull_json_str(src, "url", "");
}

static bool is_dir_source(json_t *src)
{
	return !strcmp(hull_json_str(src, "type", ""), "dir");
}

static const char *dir_path(json_t *src)
{
	const char *u = src_url(src);
	return strncmp(u, "file://", 7) ? u : u + 7;
}

/* ---- HTTP ---- */

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

static size_t body_write(char *p, size_t sz, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t add = sz * n;
	if (b->len + add > BODY_MAX) {
		b->too_big = true;
		return 0;
	}
	b->buf = xrealloc(b->buf, b->len + add + 1);
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

/* base + path, keeping a "?query" of base (a channel) at the end, joined
with one the path may carry. */
static char *url_join(const char *base, const char *path)
{
	const char *q = strchr(base, '?');
	size_t n = q ? (size_t)(q - base) : strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	if (q && strchr(path, '?'))
		return xasprintf("%.*s%s&%s", (int)n, base, path, q + 1);
	return xasprintf("%.*s%s%s", (int)n, base, path, q ? q : "");
}

static CURL *easy_new(const char *url)
{
	static bool inited;
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	CURL *c = curl_easy_init();
	if (!c)
		abort();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
	/* A stalled transfer (under 1 byte/s for a minute) is a failure. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT,
			 "imgadm/" HULL_VERSION " (hull)");
	const char *insecure = getenv("IMGADM_INSECURE");
	if (insecure && !strcmp(insecure, "1")) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return c;
}

/* GET url; the body in *out (caller frees). ENOENT on 404. */
static int http_get(const char *base, const char *path, char **out, size_t *len,
		    struct hull_err *err)
{
	_cleanup_free_ char *url = url_join(base, path);
	CURL *c = easy_new(url);
	struct body b = {0};
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	int r = 0;
	if (b.too_big)
		r = hull_err_set(err, EFBIG,
				 "source %s: answer larger than "
				 "%u MiB",
				 base, BODY_MAX >> 20);
	else if (cc != CURLE_OK)
		r = hull_err_set(err, EHOSTUNREACH, "source %s: %s", base,
				 curl_easy_strerror(cc));
	else if (status == 404)
		r = hull_err_set(err, ENOENT, "source %s: %s not found", base,
				 path);
	else if (status < 200 || status >= 300)
		r = hull_err_set(err, EIO, "source %s: %s: HTTP status %ld",
				 base, path, status);
	if (r < 0) {
		free(b.buf);
		return r;
	}
	*out = b.buf ? b.buf : xstrdup("");
	*len = b.len;
	return 0;
}

struct download {
	int fd;
	uint64_t limit;
	uint64_t done;
	bool too_big;
	int werr;
	image_progress_fn progress;
	void *ctx;
};

static size_t download_write(char *p, size_t sz, size_t n, void *ctx)
{
	struct download *d = ctx;
	size_t len = sz * n;
	if (d->done + len > d->limit) {
		d->too_big = true;
		return 0;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(d->fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->werr = errno;
			return 0;
		}
		off += (size_t)w;
	}
	d->done += len;
	return len;
}

static int download_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
			     curl_off_t ultotal, curl_off_t ulnow)
{
	struct download *d = ctx;
	(void)ultotal;
	(void)ulnow;
	if (d->progress)
		d->progress(d->ctx, (uint64_t)dlnow,
			    dltotal > 0 ? (uint64_t)dltotal : d->limit);
	return 0;
}

static int http_download(const char *base, const char *path, int fd,
			 uint64_t limit, image_progress_fn progress, void *ctx,
			 struct hull_err *err)
{
	_cleanup_free_ char *url = url_join(base, path);
	CURL *c = easy_new(url);
	struct download d = {
	    .fd = fd, .limit = limit, .progress = progress, .ctx = ctx};
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, download_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
	if (progress) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION,
				 download_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
	}
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (d.too_big)
		return hull_err_set(err, EFBIG,
				    "source %s: %s: more bytes than the "
				    "manifest's size (%llu)",
				    base, path, (unsigned long long)limit);
	if (d.werr)
		return hull_err_sys(err, d.werr, "download %s", path);
	if (cc != CURLE_OK)
		return hull_err_set(err, EIO, "source %s: download of %s: %s",
				    base, path, curl_easy_strerror(cc));
	if (status == 404)
		return hull_err_set(err, ENOENT, "source %s: %s not found",
				    base, path);
	if (status < 200 || status >= 300)
		return hull_err_set(err, EIO, "source %s: %s: HTTP status %ld",
				    base, path, status);
	return 0;
}

/* ---- folders ---- */

/* Calls fn for each manifest file in a dir source; stops at non-zero. */
typedef int (*manifest_fn)(const char *mpath, void *ctx);

static int dir_walk(json_t *src, manifest_fn fn, void *ctx,
		    struct hull_err *err)
{
	const char *dir = dir_path(src);
	DIR *d = opendir(dir);
	if (!d)
		return hull_err_sys(err, errno, "source %s", dir);
	struct dirent *de;
	int r = 0;
	while (!r && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 5 && !strcmp(de->d_name + n - 5, ".json") &&
		    de->d_name[0] != '.') {
			_cleanup_free_ char *p =
			    xasprintf("%s/%s", dir, de->d_name);
			r = fn(p, ctx);
		}
	}
	closedir(d);
	if (r)
		return r;
	_cleanup_free_ char *images = xasprintf("%s/images", dir);
	d = opendir(images);
	if (!d)
		return 0;
	while (!r && (de = readdir(d))) {
		if (!hull_uuid_valid(de->d_name))
			continue;
		_cleanup_free_ char *p =
		    xasprintf("%s/%s/manifest.json", images, de->d_name);
		if (hull_path_exists(p))
			r = fn(p, ctx);
	}
	closedir(d);
	return r;
}

static json_t *manifest_load(const char *path, struct hull_err *err)
{
	char *buf;
	size_t len;
	if (hull_file_read(path, 1 << 20, &buf, &len, err) < 0)
		return NULL;
	json_t *m = image_manifest_parse(buf, len, err);
	free(buf);
	if (!m)
		hull_err_prefix(err, "%s", path);
	return m;
}

struct dir_find {
	const char *uuid;
	json_t *list; /* collecting, or */
	json_t *found;
	char *found_path;
	struct hull_err *err;
	int fail; /* a bad manifest for the uuid wanted */
};

static int dir_collect(const char *mpath, void *ctx)
{
	struct dir_find *f = ctx;
	struct hull_err e;
	if (f->list) {
		json_t *m = manifest_load(mpath, &e);
		if (m)
			json_array_append_new(f->list, m);
		return 0;
	}
	/* Looking for one uuid: a cheap parse first, then validation. */
	json_t *raw = hull_json_load_file(mpath, &e);
	if (!raw)
		return 0;
	bool match = !strcasecmp(hull_json_str(raw, "uuid", ""), f->uuid);
	json_decref(raw);
	if (!match)
		return 0;
	f->found = manifest_load(mpath, f->err);
	if (!f->found) {
		f->fail = 1;
		return 1;
	}
	f->found_path = xstrdup(mpath);
	return 1;
}

/* The file beside manifest mpath: images/UUID/file, or NAME.<ext>. */
static char *dir_file_for(const char *mpath, struct hull_err *err)
{
	size_t n = strlen(mpath);
	if (n > 14 && !strcmp(mpath + n - 14, "/manifest.json")) {
		char *p = xasprintf("%.*s/file", (int)(n - 14), mpath);
		if (hull_path_exists(p))
			return p;
		free(p);
	}
	_cleanup_free_ char *dir = xstrdup(mpath);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	const char *base = slash + 1;
	size_t blen = strlen(base) - 5; /* without ".json" */
	DIR *d = opendir(dir);
	if (!d) {
		hull_err_sys(err, errno, "%s", dir);
		return NULL;
	}
	struct dirent *de;
	char *found = NULL;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, base, blen) ||
		    de->d_name[blen] != '.' ||
		    !strcmp(de->d_name + blen, ".json"))
			continue;
		found = xasprintf("%s/%s", dir, de->d_name);
		break;
	}
	closedir(d);
	if (!found)
		hull_err_set(err, ENOENT, "%s: no image file beside it", mpath);
	return found;
}

/* ---- the source interface ---- */

int image_source_ping(json_t *src, struct hull_err *err)
{
	if (is_dir_source(src)) {
		if (!hull_is_dir(dir_path(src)))
			return hull_err_set(err, ENOENT,
					    "source %s: not a directory",
					    dir_path(src));
		return 0;
	}
	char *body;
	size_t len;
	int r = http_get(src_url(src), "/ping", &body, &len, err);
	if (r < 0)
		return r;
	free(body);
	return 0;
}

json_t *image_source_list(json_t *src, struct hull_err *err)
{
	if (is_dir_source(src)) {
		struct dir_find f = {.list = json_array(), .err = err};
		if (dir_walk(src, dir_collect, &f, err) < 0) {
			json_decref(f.list);
			return NULL;
		}
		return f.list;
	}
	/* IMGAPI answers at most `limit` (1000) images a page; the next page
	 * starts after the last uuid seen (marker). */
	json_t *out = json_array();
	char marker[37] = "";
	for (int page = 0; page < 100; page++) {
		_cleanup_free_ char *path =
		    marker[0] ? xasprintf("/images?limit=%d&marker=%s",
					  IMGAPI_PAGE, marker)
			      : xasprintf("/images?limit=%d", IMGAPI_PAGE);
		char *body;
		size_t len;
		if (http_get(src_url(src), path, &body, &len, err) < 0)
			goto fail;
		json_t *all = hull_json_load_buf("/images", body, len, err);
		free(body);
		if (!all) {
			hull_err_prefix(err, "source %s", src_url(src));
			goto fail;
		}
		if (!json_is_array(all)) {
			json_decref(all);
			hull_err_set(err, EINVAL,
				     "source %s: /images is not an array",
				     src_url(src));
			goto fail;
		}
		size_t i, n = json_array_size(all);
		json_t *m;
		json_array_foreach(all, i, m)
		{
			if (image_manifest_upgrade(m, NULL) == 0 &&
			    image_manifest_validate(m, NULL) == 0)
				json_array_append(out, m);
		}
		const char *last =
		    hull_json_str(json_array_get(all, n - 1), "uuid", "");
		bool more = n >= IMGAPI_PAGE && hull_uuid_valid(last) &&
			    strcmp(last, marker) != 0;
		if (more)
			snprintf(marker, sizeof(marker), "%s", last);
		json_decref(all);
		if (!more)
			break;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

json_t *image_source_get(json_t *src, const char *uuid, struct hull_err *err)
{
	if (is_dir_source(src)) {
		struct dir_find f = {.uuid = uuid, .err = err};
		if (dir_walk(src, dir_collect, &f, err) < 0)
			return NULL;
		free(f.found_path);
		if (f.fail)
			return NULL;
		if (!f.found)
			hull_err_set(err, ENOENT, "source %s: no image %s",
				     src_url(src), uuid);
		return f.found;
	}
	_cleanup_free_ char *path = xasprintf("/images/%s", uuid);
	char *body;
	size_t len;
	if (http_get(src_url(src), path, &body, &len, err) < 0)
		return NULL;
	json_t *m = image_manifest_parse(body, len, err);
	free(body);
	if (!m) {
		hull_err_prefix(err, "source %s", src_url(src));
		return NULL;
	}
	if (strcasecmp(hull_json_str(m, "uuid", ""), uuid)) {
		json_decref(m);
		hull_err_set(err, EINVAL,
			     "source %s: asked for image %s, got another",
			     src_url(src), uuid);
		return NULL;
	}
	return m;
}

int image_source_fetch(json_t *src, json_t *manifest, const char *tmp_path,
		       image_progress_fn progress, void *ctx, char **path,
		       int *downloaded, struct hull_err *err)
{
	const char *uuid = hull_json_str(manifest, "uuid", "");
	*downloaded = 0;
	if (is_dir_source(src)) {
		struct dir_find f = {.uuid = uuid, .err = err};
		if (dir_walk(src, dir_collect, &f, err) < 0)
			return -err->code;
		json_decref(f.found);
		if (f.fail)
			return -err->code;
		if (!f.found_path)
			return hull_err_set(err, ENOENT,
					    "source %s: no image %s",
					    src_url(src), uuid);
		*path = dir_file_for(f.found_path, err);
		free(f.found_path);
		return *path ? 0 : -err->code;
	}
	json_t *f0 = json_array_get(json_object_get(manifest, "files"), 0);
	json_int_t size = hull_json_int(f0, "size", -1);
	if (size < 0)
		return hull_err_set(err, EINVAL, "image %s has no file", uuid);
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "create %s", tmp_path);
	_cleanup_free_ char *rel = xasprintf("/images/%s/file", uuid);
	int r = http_download(src_url(src), rel, fd, (uint64_t)size, progress,
			      ctx, err);
	if (r == 0 && fsync(fd) < 0)
		r = hull_err_sys(err, errno, "write %s", tmp_path);
	close(fd);
	if (r < 0) {
		unlink(tmp_path);
		return r;
	}
	*path = xstrdup(tmp_path);
	*downloaded = 1;
	return 0;
}
