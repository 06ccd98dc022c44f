/*
 * netpools.c - network pools (NAPI's network_pools, networks.h): an
 * ordered list of networks of one address family and one nic tag,
 * provisioned on as one network. An instance asking for a pool gets an
 * address from the first member with one free; its nic records that
 * member network, as NAPI's does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head/networks.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* NAPI's limit (lib/models/network-pool.js MAX_NETS). */
#define POOL_MAX_NETS 64

bool head_is_pool(json_t *rec)
{
	return json_is_array(json_object_get(rec, "networks"));
}

bool head_pool_visible(json_t *p, const char *owner)
{
	json_t *owners = json_object_get(p, "owner_uuids");
	if (!owner || !json_array_size(owners))
		return true;
	size_t i;
	json_t *u;
	json_array_foreach(owners, i, u) if (!strcmp(json_string_value(u) ?: "",
						     owner)) return true;
	return false;
}

json_t *head_pool_view(json_t *p)
{
	/* sdc-cloudapi translateNetwork: id, name, public, and the
	 * description when there is one. */
	json_t *v = json_pack("{s:O, s:O, s:b}", "id", json_object_get(p, "id"),
			      "name", json_object_get(p, "name"), "public",
			      hull_json_bool(p, "public", false));
	const char *d = hull_json_str(p, "description", "");
	if (*d)
		json_object_set_new(v, "description", json_string(d));
	return v;
}

int head_pool_lookup(struct store *s, const char *owner, const char *id_or_name,
		     json_t **out, struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "network_pools", NULL, NULL, &all, err);
	if (r < 0)
		return r;
	json_t *hit = NULL;
	size_t i;
	json_t *p;
	for (int pass = 0; pass < 2 && !hit; pass++)
		json_array_foreach(all, i, p)
		{
			if (!head_pool_visible(p, owner))
				continue;
			if (!strcmp(hull_json_str(p, pass ? "name" : "id", ""),
				    id_or_name)) {
				hit = json_incref(p);
				break;
			}
		}
	json_decref(all);
	if (!hit)
		return hull_err_set(err, ENOENT, "network pool %.60s not found",
				    id_or_name);
	*out = hit;
	return 0;
}

int head_netpool_lookup(struct store *s, const char *owner,
			const char *id_or_name, json_t **out,
			struct hull_err *err)
{
	/* ids before names, networks before pools */
	json_t *hit = NULL;
	json_t *nets = NULL, *pools = NULL;
	int r = store_find(s, "networks", NULL, NULL, &nets, err);
	if (r == 0)
		r = store_find(s, "network_pools", NULL, NULL, &pools, err);
	for (int pass = 0; r == 0 && pass < 2 && !hit; pass++) {
		const char *f = pass ? "name" : "id";
		size_t i;
		json_t *n;
		json_array_foreach(nets, i, n)
		{
			if (!hit && head_network_visible(n, owner) &&
			    !strcmp(hull_json_str(n, f, ""), id_or_name))
				hit = json_incref(n);
		}
		json_array_foreach(pools, i, n)
		{
			if (!hit && head_pool_visible(n, owner) &&
			    !strcmp(hull_json_str(n, f, ""), id_or_name))
				hit = json_incref(n);
		}
	}
	json_decref(nets);
	json_decref(pools);
	if (r < 0)
		return r;
	if (!hit)
		return hull_err_set(err, ENOENT, "network %.60s not found",
				    id_or_name);
	*out = hit;
	return 0;
}

struct pool_ctx {
	json_t *in;	/* the caller's fields */
	json_t *old;	/* update: the pool as it is */
	const char *id; /* update, delete */
	json_t *rec;	/* out: the record written */
	struct hull_err *err;
};

static bool has_str(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(
	    arr, i, v) if (!strcmp(json_string_value(v) ?: "", s)) return true;
	return false;
}

/* The member networks' ids, in order, checked as NAPI checks them (all
 * known; one family; one nic tag; owned networks only in pools of their
 * owners), and the pool's family and nic tag set on rec. */
static int check_members(struct store *s, json_t *want, json_t *owners,
			 json_t *rec, struct hull_err *err)
{
	if (!json_is_array(want) || !json_array_size(want))
		return hull_err_set(err, EINVAL,
				    "networks: network pool must contain at "
				    "least one network");
	if (json_array_size(want) > POOL_MAX_NETS)
		return hull_err_set(err, EINVAL,
				    "networks: maximum %d networks per network "
				    "pool",
				    POOL_MAX_NETS);
	json_t *ids = json_array();
	const char *family = NULL, *tag = NULL;
	int r = 0;
	size_t i;
	json_t *w;
	json_array_foreach(want, i, w)
	{
		const char *name = json_string_value(w);
		json_t *n = NULL;
		if (!name || head_network_lookup(s, NULL, name, &n, NULL) < 0) {
			r = hull_err_set(err, EINVAL,
					 "networks: unknown network %.60s",
					 name ? name : "(not a string)");
			break;
		}
		const char *nid = hull_json_str(n, "id", "");
		const char *nf = hull_json_str(n, "family", "ipv4");
		const char *nt = hull_json_str(n, "nic_tag", "");
		const char *no = hull_json_str(n, "owner", NULL);
		if (hull_json_bool(n, "fabric", false))
			r = hull_err_set(err, EINVAL,
					 "networks: %s is a fabric network; "
					 "fabric networks cannot be in a "
					 "network pool",
					 hull_json_str(n, "name", ""));
		else if (has_str(ids, nid))
			r = hull_err_set(err, EINVAL,
					 "networks: network %s is named twice",
					 hull_json_str(n, "name", ""));
		else if (family && strcmp(family, nf))
			r = hull_err_set(err, EINVAL,
					 "networks: address family of all "
					 "networks in a network pool must "
					 "match");
		else if (tag && strcmp(tag, nt))
			r = hull_err_set(err, EINVAL,
					 "networks: nic tags of all networks "
					 "in a network pool must match");
		else if (no && !has_str(owners, no))
			r = hull_err_set(err, EINVAL,
					 "networks: network owner_uuids do not "
					 "match the owner_uuids of the pool");
		if (r == 0 && i == 0) {
			/* the pool's family and tag are its first member's */
			json_object_set_new(rec, "family", json_string(nf));
			json_object_set_new(rec, "nic_tag", json_string(nt));
			family = hull_json_str(rec, "family", "");
			tag = hull_json_str(rec, "nic_tag", "");
		}
		if (r == 0)
			json_array_append_new(ids, json_string(nid));
		json_decref(n);
		if (r < 0)
			break;
	}
	if (r == 0)
		json_object_set_new(rec, "networks", ids);
	else
		json_decref(ids);
	return r;
}

/*
 * Rewrites each member network as it is, on its etag. A network delete
 * that checked for pools before this pool was committed then fails on
 * its own etag (network delete_txn), or this write fails on a network
 * deleted meanwhile: on PostgreSQL, where two transactions run at once,
 * no pool can name a network that is gone. Either side retries.
 */
static int members_touch(struct store *s, json_t *ids, struct hull_err *err)
{
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id)
	{
		json_t *n = NULL;
		char *etag = NULL;
		const char *nid = json_string_value(id);
		int r = store_get(s, "networks", nid, &n, &etag, err);
		if (r == 0)
			r = store_put(s, "networks", nid, n, etag, NULL, err);
		else if (r == -ENOENT)
			r = hull_err_set(err, ECANCELED, "network %s: deleted",
					 nid);
		json_decref(n);
		free(etag);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A name no other pool and no network has. */
static int name_free(struct store *s, const char *name, const char *self,
		     struct hull_err *err)
{
	if (!name || !*name || strlen(name) > 64)
		return hull_err_set(err, EINVAL, "name: 1 to 64 characters");
	json_t *same = NULL;
	int r = store_find(s, "network_pools", "name", name, &same, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *p;
	json_array_foreach(
	    same, i, p) if (!self || strcmp(hull_json_str(p, "id", ""), self))
	    r = hull_err_set(err, EEXIST, "network pool %s exists", name);
	json_decref(same);
	if (r < 0)
		return r;
	if ((r = store_find(s, "networks", "name", name, &same, err)) < 0)
		return r;
	if (json_array_size(same))
		r = hull_err_set(err, EEXIST,
				 "a network is named %s: pool names are "
				 "unique among networks and pools",
				 name);
	json_decref(same);
	return r;
}

static const char *const pool_fields[] = {"name", "networks", "description",
					  "owner_uuids", NULL};

static int check_fields(json_t *in, struct hull_err *err)
{
	if (!json_is_object(in))
		return hull_err_set(err, EINVAL, "a network pool is an object");
	const char *k;
	json_t *v;
	json_object_foreach(in, k, v)
	{
		bool known = false;
		for (int i = 0; !known && pool_fields[i]; i++)
			known = !strcmp(k, pool_fields[i]);
		if (!known)
			return hull_err_set(err, EINVAL, "unknown field %.60s",
					    k);
	}
	json_t *d = json_object_get(in, "description");
	if (d && (!json_is_string(d) || strlen(json_string_value(d)) > 255))
		return hull_err_set(err, EINVAL,
				    "description: a string of at most 255 "
				    "characters");
	json_t *o = json_object_get(in, "owner_uuids");
	size_t i;
	json_t *u;
	if (o && !json_is_array(o))
		return hull_err_set(err, EINVAL,
				    "owner_uuids: an array of account uuids");
	json_array_foreach(o, i, u) if (!json_is_string(u) ||
					!hull_uuid_valid(json_string_value(
					    u))) return hull_err_set(err,
								     EINVAL,
								     "owner_"
								     "uuids: "
								     "an array "
								     "of "
								     "account "
								     "uuids");
	return 0;
}

static int pool_write_txn(struct store *s, void *arg)
{
	struct pool_ctx *c = arg;
	json_t *rec = c->old ? json_deep_copy(c->old) : json_object();
	json_t *in = c->in;
	int r = 0;
	if (c->old) {
		/* the pool as stored now, not as read before */
		json_t *now = NULL;
		char *etag = NULL;
		if ((r = store_get(s, "network_pools", c->id, &now, &etag,
				   c->err)) < 0) {
			json_decref(rec);
			return r;
		}
		json_decref(rec);
		rec = now;
		free(etag);
	} else {
		char uuid[HULL_UUID_LEN + 1];
		hull_uuid_generate(uuid);
		json_object_set_new(rec, "id", json_string(uuid));
	}
	const char *k;
	json_t *v;
	json_object_foreach(in, k, v)
	{
		if (strcmp(k, "networks"))
			json_object_set(rec, k, v);
	}
	if (!json_array_size(json_object_get(rec, "owner_uuids")))
		json_object_del(rec, "owner_uuids");
	if (!json_object_get(rec, "description"))
		json_object_set_new(rec, "description", json_string(""));
	/* Public: every account may provision on it (no owner_uuids). */
	json_object_set_new(rec, "public",
			    json_boolean(!json_array_size(
				json_object_get(rec, "owner_uuids"))));
	const char *old_family =
	    c->old ? hull_json_str(rec, "family", NULL) : NULL;
	char *keep_family = old_family ? xstrdup(old_family) : NULL;
	json_t *want = json_object_get(in, "networks");
	if (!want)
		want = json_object_get(rec, "networks");
	json_incref(want);
	r = name_free(s, hull_json_str(rec, "name", NULL),
		      c->old ? c->id : NULL, c->err);
	if (r == 0)
		r = check_members(s, want, json_object_get(rec, "owner_uuids"),
				  rec, c->err);
	json_decref(want);
	/* NAPI keeps a pool's family for good. */
	if (r == 0 && keep_family &&
	    strcmp(keep_family, hull_json_str(rec, "family", "")))
		r = hull_err_set(c->err, EINVAL,
				 "networks: address family of all networks in "
				 "a network pool must match");
	free(keep_family);
	if (r == 0)
		r = members_touch(s, json_object_get(rec, "networks"), c->err);
	if (r == 0)
		r = store_put(s, "network_pools", hull_json_str(rec, "id", ""),
			      rec, c->old ? NULL : "", NULL, c->err);
	if (r == 0)
		c->rec = json_incref(rec);
	json_decref(rec);
	return r;
}

/* Runs a pool's write, again while it meets a concurrent network
 * delete (members_touch). */
static int pool_write(struct store *s, struct pool_ctx *c, struct hull_err *err)
{
	int r = -ECANCELED;
	for (int tries = 0; tries < 8 && r == -ECANCELED; tries++) {
		json_decref(c->rec);
		c->rec = NULL;
		r = store_txn(s, pool_write_txn, c, err);
	}
	return r;
}

int head_pool_create(struct store *s, json_t *in, json_t **rec,
		     struct hull_err *err)
{
	int r = check_fields(in, err);
	if (r < 0)
		return r;
	if (!json_object_get(in, "name") || !json_object_get(in, "networks"))
		return hull_err_set(err, EINVAL,
				    "a network pool needs a name and networks");
	struct pool_ctx c = {in, NULL, NULL, NULL, err};
	r = pool_write(s, &c, err);
	if (r == 0 && rec)
		*rec = json_incref(c.rec);
	json_decref(c.rec);
	return r;
}

int head_pool_update(struct store *s, json_t *pool, json_t *in, json_t **rec,
		     struct hull_err *err)
{
	int r = check_fields(in, err);
	if (r < 0)
		return r;
	struct pool_ctx c = {in, pool, hull_json_str(pool, "id", ""), NULL,
			     err};
	r = pool_write(s, &c, err);
	if (r == 0 && rec)
		*rec = json_incref(c.rec);
	json_decref(c.rec);
	return r;
}

int head_pool_delete(struct store *s, const char *id, struct hull_err *err)
{
	/* As NAPI: the pool goes whoever provisioned on it; their nics are
	 * on its member networks, which stay. */
	int r = store_del(s, "network_pools", id, NULL, err);
	if (r == -ENOENT)
		return hull_err_set(err, ENOENT, "network pool %s not found",
				    id);
	return r;
}

int head_pool_naming(struct store *s, const char *network_id, json_t **pool,
		     struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "network_pools", NULL, NULL, &all, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *p;
	*pool = NULL;
	json_array_foreach(all, i, p)
	{
		if (!*pool &&
		    has_str(json_object_get(p, "networks"), network_id))
			*pool = json_incref(p);
	}
	json_decref(all);
	return 0;
}

int head_pool_allocate(struct store *s, json_t *pool, const char *machine,
		       bool spread, char out[INET6_ADDRSTRLEN], json_t **net,
		       struct hull_err *err)
{
	/* NAPI's NetworkPoolProvision: the members in turn, the next one
	 * when one is full. The member records are read here, in the
	 * caller's transaction. */
	size_t i;
	json_t *id;
	json_array_foreach(json_object_get(pool, "networks"), i, id)
	{
		json_t *n = NULL;
		int r = store_get(s, "networks", json_string_value(id) ?: "",
				  &n, NULL, err);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		r = head_ip_allocate(s, n, machine, spread, out, err);
		if (r == -ENOSPC) {
			json_decref(n);
			continue;
		}
		if (r < 0) {
			json_decref(n);
			return r;
		}
		*net = n;
		return 0;
	}
	/* NAPI's PoolFullError, as CloudAPI passes it on. */
	return hull_err_set(err, ENOSPC, "All networks in pool %s are full",
			    hull_json_str(pool, "id", ""));
}
