/*
 * fabrics.c - CloudAPI's fabric endpoints (sdc-cloudapi docs/index.md,
 * "Fabrics"), as the triton CLI calls them (lib/cloudapi2.js):
 *
 *   GET|POST   /:login/fabrics/default/vlans
 *   GET|DELETE /:login/fabrics/default/vlans/:vlan_id
 *   GET|POST   /:login/fabrics/default/vlans/:vlan_id/networks
 *   GET|DELETE /:login/fabrics/default/vlans/:vlan_id/networks/:id
 *
 * and the addresses of a network (CloudAPI's ListNetworkIPs/GetNetworkIP,
 * `triton network ip list|get`):
 *
 *   GET /:login/networks/:id/ips[/:ip]
 *
 * Everything is the caller's own: another account's VLAN or network
 * answers 404 as a missing one does; on a public network the caller sees
 * only its own instances' addresses. The records and their rules live in
 * networks.c; this file maps them to HTTP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "head/api.h"
#include "head/networks.h"
#include "lib/json.h"

static bool is(struct api_req *q, const char *m)
{
	return !strcmp(q->method, m);
}

static const char *me(struct api_req *q)
{
	return hull_json_str(q->account, "uuid", "");
}

/* A store error as CloudAPI's answer. */
static int fail(struct api_req *q, int r, struct hull_err *err)
{
	if (r == -ENOENT)
		return api_error(q, 404, "ResourceNotFound", "%s", err->msg);
	if (r == -EBUSY)
		return api_error(q, 409, "InUseError", "%s", err->msg);
	if (r == -EINVAL || r == -EEXIST || r == -ENOSPC)
		return api_error(q, 409, "InvalidArgument", "%s", err->msg);
	return api_error(q, 500, "InternalError", "%s", err->msg);
}

static json_t *vlan_view(json_t *v)
{
	return json_pack("{s:O, s:O, s:O}", "vlan_id",
			 json_object_get(v, "vlan_id"), "name",
			 json_object_get(v, "name"), "description",
			 json_object_get(v, "description"));
}

/* A VLAN id segment: 0 to 4095 digits only, else -1. */
static long vlan_num(const char *s)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!*s || *end || s[0] == '-' || s[0] == '+' || v > 4095)
		return -1;
	return v;
}

static int vlans(struct api_req *q)
{
	struct hull_err err = {0};
	int r;
	if (is(q, "GET") || is(q, "HEAD")) {
		json_t *all = NULL;
		if ((r = head_vlan_list(q->store, me(q), &all, &err)) < 0)
			return fail(q, r, &err);
		json_t *out = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(all, i, v)
		    json_array_append_new(out, vlan_view(v));
		json_decref(all);
		return api_reply(q, 200, out);
	}
	if (!is(q, "POST"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed here", q->method);
	if (!json_is_object(q->body))
		return api_error(q, 409, "InvalidArgument",
				 "the body must be a JSON object");
	json_t *rec = NULL;
	if ((r = head_vlan_create(q->store, me(q), q->body, &rec, &err)) < 0)
		return fail(q, r, &err);
	json_t *v = vlan_view(rec);
	json_decref(rec);
	return api_reply(q, 201, v);
}

static int vlan_one(struct api_req *q, long id)
{
	struct hull_err err = {0};
	json_t *rec = NULL;
	int r = head_vlan_get(q->store, me(q), id, &rec, &err);
	if (r < 0)
		return fail(q, r, &err);
	if (is(q, "GET") || is(q, "HEAD")) {
		json_t *v = vlan_view(rec);
		json_decref(rec);
		return api_reply(q, 200, v);
	}
	json_decref(rec);
	if (!is(q, "DELETE"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed here", q->method);
	if ((r = head_vlan_delete(q->store, me(q), id, &err)) < 0)
		return fail(q, r, &err);
	return api_reply(q, 204, NULL);
}

/* The caller's fabric networks on VLAN id. */
static int vlan_networks(struct api_req *q, long id, json_t **out)
{
	json_t *all = NULL;
	struct hull_err err = {0};
	int r = store_find(q->store, "networks", "owner", me(q), &all, &err);
	if (r < 0)
		return fail(q, r, &err);
	json_t *res = json_array();
	size_t i;
	json_t *n;
	json_array_foreach(all, i, n) if (hull_json_bool(n, "fabric", false) &&
					  hull_json_int(n, "vlan_id", -1) == id)
	    json_array_append(res, n);
	json_decref(all);
	*out = res;
	return 1;
}

static int networks(struct api_req *q, long id)
{
	struct hull_err err = {0};
	json_t *vlan = NULL;
	int r = head_vlan_get(q->store, me(q), id, &vlan, &err);
	if (r < 0)
		return fail(q, r, &err);
	json_decref(vlan);
	if (is(q, "GET") || is(q, "HEAD")) {
		json_t *nets = NULL;
		if (vlan_networks(q, id, &nets) <= 0)
			return 0;
		json_t *out = json_array();
		size_t i;
		json_t *n;
		json_array_foreach(nets, i, n)
		    json_array_append_new(out, head_network_view(n));
		json_decref(nets);
		return api_reply(q, 200, out);
	}
	if (!is(q, "POST"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed here", q->method);
	if (!json_is_object(q->body))
		return api_error(q, 409, "InvalidArgument",
				 "the body must be a JSON object");
	json_t *in = json_deep_copy(q->body);
	json_t *given = json_object_get(in, "vlan_id");
	if (given &&
	    (!json_is_integer(given) || json_integer_value(given) != id)) {
		json_decref(in);
		return api_error(q, 409, "InvalidArgument",
				 "vlan_id does not match the path");
	}
	json_object_set_new(in, "vlan_id", json_integer(id));
	json_t *rec = NULL;
	r = head_network_create(q->store, in, me(q), true, false, &rec, &err);
	json_decref(in);
	if (r < 0)
		return fail(q, r, &err);
	json_t *v = head_network_view(rec);
	json_decref(rec);
	return api_reply(q, 201, v);
}

static int network_one(struct api_req *q, long id, const char *nid)
{
	struct hull_err err = {0};
	json_t *nets = NULL, *hit = NULL;
	if (vlan_networks(q, id, &nets) <= 0)
		return 0;
	size_t i;
	json_t *n;
	json_array_foreach(
	    nets, i, n) if (!strcmp(hull_json_str(n, "id", ""), nid)) hit = n;
	if (!hit) {
		json_decref(nets);
		return api_error(q, 404, "ResourceNotFound",
				 "network %.60s not found", nid);
	}
	if (is(q, "GET") || is(q, "HEAD")) {
		json_t *v = head_network_view(hit);
		json_decref(nets);
		return api_reply(q, 200, v);
	}
	json_decref(nets);
	if (!is(q, "DELETE"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed here", q->method);
	int r = head_network_delete(q->store, nid, &err);
	if (r < 0)
		return fail(q, r, &err);
	return api_reply(q, 204, NULL);
}

int fabrics_dispatch(struct api_req *q)
{
	/* seg: login fabrics default vlans [id [networks [id]]] */
	if (q->nseg < 4 || strcmp(q->seg[2], "default") ||
	    strcmp(q->seg[3], "vlans") || q->nseg > 7)
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	if (q->nseg == 4)
		return vlans(q);
	long id = vlan_num(q->seg[4]);
	if (id < 0)
		return api_error(q, 404, "ResourceNotFound",
				 "vlan %.20s not found", q->seg[4]);
	if (q->nseg == 5)
		return vlan_one(q, id);
	if (strcmp(q->seg[5], "networks"))
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	if (q->nseg == 6)
		return networks(q, id);
	return network_one(q, id, q->seg[6]);
}

/* CloudAPI's view of one ips record: the owner's instance, a
 * reservation, or one hull manages (a NAT gateway's). */
static json_t *ip_view(struct api_req *q, json_t *net, json_t *rec)
{
	const char *m = hull_json_str(rec, "machine", NULL);
	bool managed = m && !strncmp(m, "nat:", 4);
	json_t *v =
	    json_pack("{s:O, s:b, s:b, s:b}", "ip", json_object_get(rec, "ip"),
		      "reserved", hull_json_bool(rec, "reserved", false),
		      "managed", managed, "free", 0);
	if (m && !managed) {
		json_t *mach = NULL;
		if (store_get(q->store, "machines", m, &mach, NULL, NULL) ==
			0 &&
		    !strcmp(hull_json_str(mach, "owner", ""), me(q))) {
			json_object_set_new(v, "belongs_to_uuid",
					    json_string(m));
			json_object_set_new(v, "belongs_to_type",
					    json_string("zone"));
			json_object_set_new(v, "owner_uuid",
					    json_string(me(q)));
		}
		json_decref(mach);
	}
	(void)net;
	return v;
}

int network_ips_dispatch(struct api_req *q)
{
	/* seg: login networks id ips [ip] */
	if (q->nseg < 4 || q->nseg > 5 || strcmp(q->seg[3], "ips"))
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	if (!is(q, "GET") && !is(q, "HEAD"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed here", q->method);
	struct hull_err err = {0};
	json_t *net = NULL;
	int r = head_network_lookup(q->store, me(q), q->seg[2], &net, &err);
	json_t *pool = NULL;
	if (r == -ENOENT &&
	    head_pool_lookup(q->store, me(q), q->seg[2], &pool, NULL) == 0) {
		/* sdc-cloudapi's words: a pool has no addresses of its own */
		api_error(q, 409, "InvalidArgument",
			  "cannot get IPs in a network pool: %s",
			  hull_json_str(pool, "id", ""));
		json_decref(pool);
		return 0;
	}
	if (r < 0)
		return fail(q, r, &err);
	bool mine = !strcmp(hull_json_str(net, "owner", ""), me(q));
	json_t *all = NULL;
	if ((r = head_ip_list(q->store, net, &all, &err)) < 0) {
		json_decref(net);
		return fail(q, r, &err);
	}
	json_t *out = json_array();
	size_t i;
	json_t *rec;
	json_array_foreach(all, i, rec)
	{
		json_t *v = ip_view(q, net, rec);
		/* a public network: the caller's instances' addresses only */
		if (mine || json_object_get(v, "belongs_to_uuid"))
			json_array_append(out, v);
		json_decref(v);
	}
	json_decref(all);
	json_decref(net);
	if (q->nseg == 4)
		return api_reply(q, 200, out);
	struct head_ip want;
	char norm[INET6_ADDRSTRLEN];
	if (head_ip_parse(q->seg[4], &want) < 0) {
		json_decref(out);
		return api_error(q, 404, "ResourceNotFound",
				 "ip %.60s not found", q->seg[4]);
	}
	head_ip_format(&want, norm);
	json_t *hit = NULL;
	json_array_foreach(out, i,
			   rec) if (!strcmp(hull_json_str(rec, "ip", ""), norm))
	    hit = json_incref(rec);
	json_decref(out);
	if (!hit)
		return api_error(q, 404, "ResourceNotFound",
				 "ip %.60s not found", q->seg[4]);
	return api_reply(q, 200, hit);
}
