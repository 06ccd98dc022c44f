/*
 * opsapi.c - the operator's create and delete of packages, networks and
 * images over HTTP: see opsapi.h. Each is the hulladm operation of
 * admin.h or networks.h behind an operator check; an image import from
 * a URL downloads the manifest and the file into a private temporary
 * folder first (on the request's own time: an operator's rare action).
 */
#include "head/opsapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "head/admin.h"
#include "head/headconf.h"
#include "head/networks.h"
#include "head/store.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* How long an import may take to download, and the largest manifest. */
#define IMPORT_TIMEOUT_S 600
#define IMPORT_MANIFEST_MAX (1024 * 1024)

static bool is(struct api_req *q, const char *m)
{
	return !strcmp(q->method, m);
}

static int fail(struct api_req *q, int r, const struct hull_err *err)
{
	if (r == -ENOENT)
		return api_error(q, 404, "ResourceNotFound", "%s", err->msg);
	if (r == -EEXIST || r == -EINVAL || r == -EBUSY || r == -ERANGE)
		return api_error(q, 409, "InvalidArgument", "%s", err->msg);
	return api_error(q, 500, "InternalError", "%s", err->msg);
}

/* How many instances (not deleted) have field equal to value (or to
 * value2). */
static size_t machines_using(struct api_req *q, const char *field,
			     const char *value, const char *value2)
{
	json_t *all = NULL;
	if (store_find(q->store, "machines", NULL, NULL, &all, NULL) < 0)
		return 0;
	size_t i, n = 0;
	json_t *m;
	json_array_foreach(all, i, m)
	{
		const char *v = hull_json_str(m, field, "");
		if (!strcmp(hull_json_str(m, "state", ""), "deleted"))
			continue;
		if (!strcmp(v, value) || (value2 && !strcmp(v, value2)))
			n++;
	}
	json_decref(all);
	return n;
}

static long num(json_t *b, const char *key, long dflt)
{
	json_t *v = json_object_get(b, key);
	return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

static int packages(struct api_req *q)
{
	struct hull_err err = {0};
	if (q->nseg == 2 && is(q, "POST")) {
		json_t *b = q->body;
		const char *keys[] = {"memory", "disk", "vcpus", "swap",
				      "cpu_cap"};
		if (!json_is_object(b) ||
		    !json_is_string(json_object_get(b, "name")))
			return api_error(q, 409, "MissingParameter",
					 "name is required");
		for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
			json_t *v = json_object_get(b, keys[i]);
			if ((v || i < 3) && !json_is_integer(v))
				return api_error(q, 409, "InvalidArgument",
						 "%s must be a whole number",
						 keys[i]);
		}
		struct head_package p = {
		    .name = hull_json_str(b, "name", ""),
		    .brand = hull_json_str(b, "brand", NULL),
		    .memory = num(b, "memory", 0),
		    .disk = num(b, "disk", 0),
		    .vcpus = num(b, "vcpus", 0),
		    .swap = num(b, "swap", -1),
		    .cpu_cap = num(b, "cpu_cap", -1),
		};
		json_t *rec = NULL;
		int r = head_package_add(q->store, &p, &rec, &err);
		if (r < 0)
			return fail(q, r, &err);
		return api_reply(q, 201, rec);
	}
	if (q->nseg == 3 && is(q, "DELETE")) {
		json_t *p = NULL;
		if (!hull_uuid_valid(q->seg[2]) ||
		    store_get(q->store, "packages", q->seg[2], &p, NULL, NULL) <
			0)
			return api_error(q, 404, "ResourceNotFound",
					 "package %.64s not found", q->seg[2]);
		size_t n = machines_using(q, "package", q->seg[2],
					  hull_json_str(p, "name", NULL));
		if (n) {
			api_error(q, 409, "InvalidArgument",
				  "package %s is used by %zu instance%s",
				  hull_json_str(p, "name", ""), n,
				  n == 1 ? "" : "s");
			json_decref(p);
			return 0;
		}
		json_decref(p);
		int r = store_del(q->store, "packages", q->seg[2], NULL, &err);
		if (r < 0)
			return fail(q, r, &err);
		return api_reply(q, 204, NULL);
	}
	return api_error(q, 405, "MethodNotAllowed",
			 "%s is not allowed on %.200s", q->method, q->path);
}

/*
 * A network pool through the networks' endpoints, told apart as
 * CloudAPI tells a pool from a network (it lists networks): a POST whose
 * body has "networks" makes one (hulladm network-pool add), a DELETE of a
 * pool's id or name removes it. 1 when it was a pool's request.
 */
static int network_pools(struct api_req *q)
{
	struct hull_err err = {0};
	json_t *rec = NULL;
	int r;
	if (q->nseg == 2) {
		if (!json_is_object(q->body) ||
		    !json_object_get(q->body, "networks"))
			return 0;
		if ((r = head_pool_create(q->store, q->body, &rec, &err)) < 0)
			fail(q, r, &err);
		else
			api_reply(q, 201, rec);
		return 1;
	}
	json_t *n = NULL;
	if (head_network_lookup(q->store, NULL, q->seg[2], &n, NULL) == 0 ||
	    head_pool_lookup(q->store, NULL, q->seg[2], &rec, NULL) < 0) {
		json_decref(n);
		return 0;
	}
	if ((r = head_pool_delete(q->store, hull_json_str(rec, "id", ""),
				  &err)) < 0)
		fail(q, r, &err);
	else
		api_reply(q, 204, NULL);
	json_decref(rec);
	return 1;
}

static int networks(struct api_req *q)
{
	struct hull_err err = {0};
	if (network_pools(q))
		return 0;
	if (q->nseg == 2 && is(q, "POST")) {
		if (!json_is_object(q->body))
			return api_error(q, 409, "InvalidArgument",
					 "a network is a JSON object");
		json_t *in = json_deep_copy(q->body);
		bool public = hull_json_bool(in, "public", false);
		json_object_del(in, "public");
		json_t *rec = NULL;
		int r = head_network_create(q->store, in, NULL, false, public,
					    &rec, &err);
		json_decref(in);
		if (r < 0)
			return fail(q, r, &err);
		json_t *v = head_network_view(rec);
		json_decref(rec);
		return api_reply(q, 201, v);
	}
	if (q->nseg == 3 && is(q, "DELETE")) {
		json_t *n = NULL;
		int r =
		    head_network_lookup(q->store, NULL, q->seg[2], &n, &err);
		if (r < 0)
			return fail(q, r, &err);
		/* A user's fabric network goes through CloudAPI's fabrics. */
		if (hull_json_bool(n, "fabric", false)) {
			json_decref(n);
			return api_error(q, 409, "InvalidArgument",
					 "a fabric network is deleted through "
					 "its owner's fabrics");
		}
		char id[64];
		snprintf(id, sizeof(id), "%s", hull_json_str(n, "id", ""));
		json_decref(n);
		r = head_network_delete(q->store, id, &err);
		if (r < 0)
			return fail(q, r, &err);
		return api_reply(q, 204, NULL);
	}
	return api_error(q, 405, "MethodNotAllowed",
			 "%s is not allowed on %.200s", q->method, q->path);
}

/* url into path (at most max bytes), with a reason on failure. */
static int download(const char *url, const char *path, curl_off_t max,
		    struct hull_err *err)
{
	FILE *f = fopen(path, "wxe");
	if (!f)
		return hull_err_sys(err, errno, "%s", path);
	CURL *c = curl_easy_init();
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)IMPORT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	if (max > 0)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, max);
	CURLcode cr = curl_easy_perform(c);
	curl_easy_cleanup(c);
	int w = fclose(f);
	if (cr != CURLE_OK)
		return hull_err_set(err, EINVAL, "%s: %s", url,
				    *ebuf ? ebuf : curl_easy_strerror(cr));
	if (w != 0)
		return hull_err_sys(err, errno, "%s", path);
	return 0;
}

static int import_from_url(struct api_req *q)
{
	struct hull_err err = {0};
	const char *url = hull_json_str(q->body, "url", "");
	const char *uuid = hull_json_str(q->body, "uuid", "");
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return api_error(q, 409, "InvalidArgument",
				 "url must be an http(s) IMGAPI URL");
	if (!hull_uuid_valid(uuid))
		return api_error(q, 409, "InvalidArgument",
				 "uuid must be an image's UUID");
	size_t ul = strlen(url);
	while (ul && url[ul - 1] == '/')
		ul--;
	char tmpl[] = "/tmp/hull-import-XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		return api_error(q, 500, "InternalError", "mkdtemp: %s",
				 strerror(errno));
	char *mpath = xasprintf("%s/manifest.json", dir);
	char *fpath = xasprintf("%s/file", dir);
	char *murl = xasprintf("%.*s/images/%s", (int)ul, url, uuid);
	char *furl = xasprintf("%s/file", murl);
	json_t *rec = NULL;
	int r = download(murl, mpath, IMPORT_MANIFEST_MAX, &err);
	if (r == 0)
		r = download(furl, fpath, 0, &err);
	if (r == 0)
		r = head_image_import(q->store, q->cfg, mpath, fpath, &rec,
				      &err);
	/* The manifest must be the one asked for. */
	if (r == 0 && strcmp(hull_json_str(rec, "uuid", ""), uuid))
		r = hull_err_set(&err, EINVAL, "%s answered image %s", murl,
				 hull_json_str(rec, "uuid", ""));
	unlink(mpath);
	unlink(fpath);
	rmdir(dir);
	free(mpath);
	free(fpath);
	free(murl);
	free(furl);
	if (r < 0) {
		json_decref(rec);
		return fail(q, r, &err);
	}
	return api_reply(q, 201, rec);
}

static int images(struct api_req *q)
{
	struct hull_err err = {0};
	const char *action = api_query(q, "action");
	if (q->nseg == 2 && is(q, "POST") && action &&
	    !strcmp(action, "import-from-url"))
		return import_from_url(q);
	if (q->nseg == 3 && is(q, "DELETE")) {
		json_t *m = NULL;
		if (!hull_uuid_valid(q->seg[2]) ||
		    store_get(q->store, "images", q->seg[2], &m, NULL, NULL) <
			0)
			return api_error(q, 404, "ResourceNotFound",
					 "image %.64s not found", q->seg[2]);
		json_decref(m);
		size_t n = machines_using(q, "image", q->seg[2], NULL);
		if (n)
			return api_error(q, 409, "InvalidArgument",
					 "image %s is used by %zu instance%s",
					 q->seg[2], n, n == 1 ? "" : "s");
		int r = store_del(q->store, "images", q->seg[2], NULL, &err);
		if (r < 0)
			return fail(q, r, &err);
		char *d = head_images_dir(q->cfg);
		char *idir = xasprintf("%s/%s", d, q->seg[2]);
		(void)hull_rm_rf(idir, NULL);
		free(idir);
		free(d);
		return api_reply(q, 204, NULL);
	}
	return api_error(q, 405, "MethodNotAllowed",
			 "%s is not allowed on %.200s", q->method, q->path);
}

int ops_dispatch(struct api_req *q, const char *what)
{
	if (q->nseg > 3)
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	/* Nothing else is a change here, for anyone. */
	if (!(q->nseg == 2 && is(q, "POST")) &&
	    !(q->nseg == 3 && is(q, "DELETE")))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	if (strcmp(hull_json_str(q->account, "login", ""), q->cfg->admin))
		return api_error(q, 403, "NotAuthorized",
				 "only the operator (%s) may change %s",
				 q->cfg->admin, what);
	if (!strcmp(what, "packages"))
		return packages(q);
	if (!strcmp(what, "networks"))
		return networks(q);
	return images(q);
}
