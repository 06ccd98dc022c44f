/*
 * cloudapi.c - the CloudAPI endpoints hull-api serves now, with
 * CloudAPI's names, fields, status codes and errors (sdc-cloudapi
 * docs/index.md): the account, services, keys, packages, networks,
 * images and the machine list; and the IMGAPI subset hull's image client
 * (and the agents) import from: /imgapi/ping, /imgapi/images[/:uuid[/file]].
 *
 * Another account's path answers 404 whether that account exists or not,
 * so a caller learns nothing about other logins.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "head/admin.h"
#include "head/opsapi.h"
#include "head/api.h"
#include "head/fwrules.h"
#include "head/machines.h"
#include "head/migrate.h"
#include "head/networks.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

static int not_found(struct api_req *q)
{
	return api_error(q, 404, "ResourceNotFound", "%.200s does not exist",
			 q->path);
}

static int bad_method(struct api_req *q)
{
	return api_error(q, 405, "MethodNotAllowed",
			 "%s is not allowed on %.200s", q->method, q->path);
}

static bool is(struct api_req *q, const char *m)
{
	return !strcmp(q->method, m);
}

static const char *me(struct api_req *q)
{
	return hull_json_str(q->account, "uuid", "");
}

static json_t *account_view(json_t *a)
{
	json_t *v = json_pack(
	    "{s:O, s:O, s:s, s:O, s:O, s:b}", "id", json_object_get(a, "uuid"),
	    "login", json_object_get(a, "login"), "email",
	    hull_json_str(a, "email", ""), "created",
	    json_object_get(a, "created"), "updated",
	    json_object_get(a, "updated"), "triton_cns_enabled", 0);
	static const char *const opt[] = {"firstName", "lastName",
					  "companyName", "phone"};
	for (size_t i = 0; i < sizeof(opt) / sizeof(*opt); i++)
		if (json_object_get(a, opt[i]))
			json_object_set(v, opt[i], json_object_get(a, opt[i]));
	return v;
}

static json_t *key_view(json_t *k)
{
	return json_pack("{s:O, s:O, s:O}", "name", json_object_get(k, "name"),
			 "fingerprint", json_object_get(k, "fingerprint"),
			 "key", json_object_get(k, "key"));
}

static int keys(struct api_req *q)
{
	struct hull_err err = {0};
	if (q->nseg == 2 && is(q, "GET")) {
		json_t *all = NULL;
		if (store_find(q->store, "keys", "account", me(q), &all, &err) <
		    0)
			return api_error(q, 500, "InternalError", "%s",
					 err.msg);
		json_t *out = json_array();
		size_t i;
		json_t *k;
		json_array_foreach(all, i, k)
		    json_array_append_new(out, key_view(k));
		json_decref(all);
		return api_reply(q, 200, out);
	}
	if (q->nseg == 2 && is(q, "POST")) {
		const char *line = hull_json_str(q->body, "key", NULL);
		json_t *name = json_object_get(q->body, "name");
		if (!line)
			return api_error(q, 409, "MissingParameter",
					 "key is a required argument");
		if (name && !json_is_string(name))
			return api_error(q, 409, "InvalidArgument",
					 "name must be a string");
		json_t *rec = NULL;
		int r = head_key_add(q->store, me(q), line, strlen(line),
				     json_string_value(name), &rec, &err);
		if (r == -EEXIST)
			return api_error(q, 409, "InvalidArgument", "%s",
					 err.msg);
		if (r < 0)
			return api_error(q, 409, "InvalidArgument", "%s",
					 err.msg);
		api_reply(q, 201, key_view(rec));
		json_decref(rec);
		return 0;
	}
	if (q->nseg == 3 && (is(q, "GET") || is(q, "DELETE"))) {
		json_t *rec = NULL;
		if (head_key_find(q->store, me(q), q->seg[2], &rec, &err) < 0)
			return not_found(q);
		if (is(q, "GET")) {
			api_reply(q, 200, key_view(rec));
		} else {
			char *k =
			    xasprintf("%s/%s", me(q),
				      hull_json_str(rec, "fingerprint", ""));
			if (store_del(q->store, "keys", k, NULL, &err) < 0)
				api_error(q, 500, "InternalError", "%s",
					  err.msg);
			else
				api_reply(q, 204, NULL);
			free(k);
		}
		json_decref(rec);
		return 0;
	}
	return q->nseg <= 3 ? bad_method(q) : not_found(q);
}

/* The records of bucket the caller may see, by id or name. */
static int list_or_get(struct api_req *q, const char *bucket,
		       bool (*visible)(struct api_req *, json_t *),
		       json_t *(*view)(json_t *), const char *id_field)
{
	struct hull_err err = {0};
	if (!is(q, "GET") && !is(q, "HEAD"))
		return bad_method(q);
	if (q->nseg > 3)
		return not_found(q);
	json_t *all = NULL;
	if (store_find(q->store, bucket, NULL, NULL, &all, &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	json_t *out = q->nseg == 2 ? json_array() : NULL;
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
	{
		if (!visible(q, v))
			continue;
		if (!out) {
			if (strcmp(hull_json_str(v, id_field, ""), q->seg[2]) &&
			    strcmp(hull_json_str(v, "name", ""), q->seg[2]))
				continue;
			out = view(v);
			break;
		}
		json_array_append_new(out, view(v));
	}
	json_decref(all);
	if (!out)
		return not_found(q);
	return api_reply(q, 200, out);
}

static bool all_visible(struct api_req *q, json_t *v)
{
	return true;
}

static json_t *package_view(json_t *p)
{
	return json_incref(p);
}

static bool network_visible(struct api_req *q, json_t *n)
{
	return hull_json_bool(n, "public", false) ||
	       !strcmp(hull_json_str(n, "owner", ""), me(q));
}

static json_t *network_view(json_t *n)
{
	return head_network_view(n);
}

/*
 * ListNetworks and GetNetwork with the network pools the caller may use
 * among the networks, as sdc-cloudapi lists them: a network that one of
 * those pools names is left out of the list (GetNetwork still shows it).
 */
static int networks_list_or_get(struct api_req *q)
{
	struct hull_err err = {0};
	json_t *pools = NULL;
	if ((is(q, "GET") || is(q, "HEAD")) && q->nseg <= 3 &&
	    store_find(q->store, "network_pools", NULL, NULL, &pools, &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	json_t *mine = json_array();
	size_t i;
	json_t *p;
	json_array_foreach(pools, i, p) if (head_pool_visible(p, me(q)))
	    json_array_append(mine, p);
	json_decref(pools);
	if (q->nseg == 3 && json_array_size(mine)) {
		/* a network's id or name first, then a pool's */
		json_t *n = NULL;
		if (head_network_lookup(q->store, me(q), q->seg[2], &n, NULL) <
		    0) {
			for (int pass = 0; pass < 2; pass++)
				json_array_foreach(
				    mine, i,
				    p) if (!strcmp(hull_json_str(p,
								 pass ? "name"
								      : "id",
								 ""),
						   q->seg[2]))
				{
					json_t *v = head_pool_view(p);
					json_decref(mine);
					return api_reply(q, 200, v);
				}
		}
		json_decref(n);
	}
	if (q->nseg != 2 || !json_array_size(mine) ||
	    (!is(q, "GET") && !is(q, "HEAD"))) {
		json_decref(mine);
		return list_or_get(q, "networks", network_visible, network_view,
				   "id");
	}
	json_t *all = NULL;
	if (store_find(q->store, "networks", NULL, NULL, &all, &err) < 0) {
		json_decref(mine);
		return api_error(q, 500, "InternalError", "%s", err.msg);
	}
	json_t *out = json_array();
	json_t *n;
	json_array_foreach(all, i, n)
	{
		if (!network_visible(q, n))
			continue;
		bool pooled = false;
		size_t j;
		json_array_foreach(mine, j, p)
		{
			size_t k;
			json_t *id;
			json_array_foreach(json_object_get(p, "networks"), k,
					   id) pooled |=
			    !strcmp(json_string_value(id) ?: "",
				    hull_json_str(n, "id", ""));
		}
		if (!pooled)
			json_array_append_new(out, network_view(n));
	}
	json_array_foreach(mine, i, p)
	    json_array_append_new(out, head_pool_view(p));
	json_decref(all);
	json_decref(mine);
	return api_reply(q, 200, out);
}

static bool image_visible(struct api_req *q, json_t *m)
{
	if (hull_json_bool(m, "public", false) ||
	    !strcmp(hull_json_str(m, "owner", ""), me(q)))
		return true;
	json_t *acl = json_object_get(m, "acl");
	size_t i;
	json_t *u;
	json_array_foreach(acl, i, u) if (!strcmp(json_string_value(u) ?: "",
						  me(q))) return true;
	return false;
}

/* CloudAPI's image object from an IMGAPI manifest (sdc-cloudapi
 * lib/datasets.js translate). */
static json_t *image_view(json_t *m)
{
	json_t *v = json_object();
	static const char *const keep[] = {
	    "name",	    "version",	   "os",     "requirements",
	    "type",	    "description", "tags",   "homepage",
	    "published_at", "owner",	   "public", "state",
	    "origin",	    "eula",	   "acl",    "error"};
	json_object_set(v, "id", json_object_get(m, "uuid"));
	for (size_t i = 0; i < sizeof(keep) / sizeof(*keep); i++)
		if (json_object_get(m, keep[i]))
			json_object_set(v, keep[i],
					json_object_get(m, keep[i]));
	if (!json_object_get(v, "requirements"))
		json_object_set_new(v, "requirements", json_object());
	json_t *files = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(m, "files"), i, f)
	    json_array_append_new(
		files, json_pack("{s:O*, s:O*, s:O*}", "compression",
				 json_object_get(f, "compression"), "sha1",
				 json_object_get(f, "sha1"), "size",
				 json_object_get(f, "size")));
	json_object_set_new(v, "files", files);
	return v;
}

/* ListImages' filters (CloudAPI): exact name, os, version, public,
 * owner, type; state defaults to active, "all" for every state. */
static bool image_matches(struct api_req *q, json_t *m)
{
	static const char *const exact[] = {"name", "os", "version", "owner",
					    "type"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(*exact); i++) {
		const char *want = api_query(q, exact[i]);
		if (want && strcmp(hull_json_str(m, exact[i], ""), want))
			return false;
	}
	const char *pub = api_query(q, "public");
	if (pub &&
	    strcmp(hull_json_bool(m, "public", false) ? "true" : "false", pub))
		return false;
	const char *state = api_query(q, "state");
	if (!state)
		state = "active";
	if (strcmp(state, "all") &&
	    strcmp(hull_json_str(m, "state", ""), state))
		return false;
	return true;
}

static bool image_listed(struct api_req *q, json_t *m)
{
	return image_visible(q, m) && (q->nseg == 3 || image_matches(q, m));
}

int cloudapi_dispatch(struct api_req *q)
{
	const char *login = hull_json_str(q->account, "login", "");
	if (q->nseg == 0)
		return not_found(q);
	/* /my/... is the caller; any other login is 404, existing or not. */
	if (strcmp(q->seg[0], "my") && strcmp(q->seg[0], login))
		return not_found(q);
	if (q->nseg == 1) {
		if (!is(q, "GET") && !is(q, "HEAD"))
			return bad_method(q);
		return api_reply(q, 200, account_view(q->account));
	}
	const char *what = q->seg[1];
	if (!strcmp(what, "keys"))
		return keys(q);
	if (!strcmp(what, "services") && q->nseg == 2) {
		if (!is(q, "GET"))
			return bad_method(q);
		char *url = head_url(q->cfg, -1);
		api_reply(q, 200, json_pack("{s:s}", "cloudapi", url));
		free(url);
		return 0;
	}
	if ((!strcmp(what, "packages") || !strcmp(what, "images") ||
	     (!strcmp(what, "networks") && q->nseg <= 3)) &&
	    !is(q, "GET") && !is(q, "HEAD"))
		return ops_dispatch(q, what);
	if (!strcmp(what, "packages"))
		return list_or_get(q, "packages", all_visible, package_view,
				   "id");
	if (!strcmp(what, "networks") && q->nseg > 3)
		return network_ips_dispatch(q);
	if (!strcmp(what, "networks"))
		return networks_list_or_get(q);
	if (!strcmp(what, "fabrics"))
		return fabrics_dispatch(q);
	if (!strcmp(what, "images"))
		return list_or_get(q, "images", image_listed, image_view,
				   "uuid");
	if (!strcmp(what, "machines"))
		return machines_dispatch(q);
	if (!strcmp(what, "migrations"))
		return migrate_list_dispatch(q);
	if (!strcmp(what, "fwrules"))
		return fwrules_dispatch(q);
	return not_found(q);
}

/* IMGAPI (sdc-imgapi docs): public, active images only, without
 * authentication, as hull's imgadm reads a source. Private images reach
 * their owners' compute nodes through the agents' authenticated API. */
static bool imgapi_visible(json_t *m)
{
	return hull_json_bool(m, "public", false) &&
	       !strcmp(hull_json_str(m, "state", ""), "active");
}

int imgapi_dispatch(struct api_req *q)
{
	if (!is(q, "GET") && !is(q, "HEAD"))
		return bad_method(q);
	if (q->nseg == 2 && !strcmp(q->seg[1], "ping"))
		return api_reply(q, 200,
				 json_pack("{s:s, s:b, s:s}", "ping", "pong",
					   "imgapi", 1, "version", "4.0.0"));
	if (q->nseg < 2 || q->nseg > 4 || strcmp(q->seg[1], "images"))
		return not_found(q);
	struct hull_err err = {0};
	if (q->nseg == 2) {
		const char *marker = api_query(q, "marker");
		const char *l = api_query(q, "limit");
		long limit = l ? atol(l) : 1000;
		if (limit < 1 || limit > 1000)
			limit = 1000;
		json_t *all = NULL;
		if (store_find(q->store, "images", NULL, NULL, &all, &err) < 0)
			return api_error(q, 500, "InternalError", "%s",
					 err.msg);
		json_t *out = json_array();
		size_t i;
		json_t *m;
		/* Sorted by uuid, so a uuid marker pages on after itself. */
		json_array_foreach(all, i, m)
		{
			if (!imgapi_visible(m) ||
			    (marker &&
			     strcmp(hull_json_str(m, "uuid", ""), marker) <= 0))
				continue;
			if ((long)json_array_size(out) < limit)
				json_array_append(out, m);
		}
		json_decref(all);
		return api_reply(q, 200, out);
	}
	json_t *m = NULL;
	if (!hull_uuid_valid(q->seg[2]) ||
	    store_get(q->store, "images", q->seg[2], &m, NULL, &err) < 0 ||
	    !imgapi_visible(m)) {
		json_decref(m);
		return api_error(q, 404, "ResourceNotFound",
				 "image %.40s not found", q->seg[2]);
	}
	if (q->nseg == 3) {
		api_reply(q, 200, m);
		return 0;
	}
	json_decref(m);
	if (strcmp(q->seg[3], "file"))
		return not_found(q);
	char *dir = head_images_dir(q->cfg);
	char *path = xasprintf("%s/%s/file0", dir, q->seg[2]);
	free(dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return api_error(q, 404, "ResourceNotFound",
				 "image %.40s has no file", q->seg[2]);
	}
	q->file_fd = fd;
	q->file_size = (uint64_t)st.st_size;
	q->status = 200;
	return 0;
}
