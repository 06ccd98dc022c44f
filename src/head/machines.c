/*
 * machines.c - CloudAPI's machines: see machines.h. Creates and actions
 * become tasks for the agent of the machine's server (servers.h); the
 * machine's state is what that agent reports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head/admin.h"
#include "head/console.h"
#include "head/machines.h"
#include "head/migrate.h"
#include "head/networks.h"
#include "head/placement.h"
#include "head/replicate.h"
#include "head/affinity.h"
#include "head/fwrules.h"
#include "head/lostcreate.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* The audit entries kept per machine. */
#define AUDIT_MAX 50

static int not_found(struct api_req *q)
{
	return api_error(q, 404, "ResourceNotFound", "%.200s does not exist",
			 q->path);
}

static const char *me(struct api_req *q)
{
	return hull_json_str(q->account, "uuid", "");
}

static bool is(struct api_req *q, const char *m)
{
	return !strcmp(q->method, m);
}

const char *machine_state_of_vm(const char *s)
{
	if (!strcmp(s, "installed") || !strcmp(s, "down") ||
	    !strcmp(s, "configured"))
		return "stopped";
	if (!strcmp(s, "shutting_down"))
		return "stopping";
	if (!strcmp(s, "ready"))
		return "provisioning";
	return s;
}

/* hull's own fields of a machine record, never shown. */
static const char *const internal[] = {
    "owner",   "server",       "payload",	 "audit",
    "task",    "retried",      "first_try",	 "resize",
    "cpu_cap", "stray_server", "stray_discarded"};

/* The machine as CloudAPI shows it: the record less hull's own fields.
 * The view shares the record's values (a list of 1,000 machines copies
 * no more than their top-level keys): neither may change them after. */
json_t *machine_view(json_t *m)
{
	json_t *v = json_object();
	const char *k;
	json_t *x;
	json_object_foreach(m, k, x)
	{
		bool hidden = false;
		for (size_t i = 0; i < sizeof(internal) / sizeof(*internal);
		     i++)
			hidden |= !strcmp(k, internal[i]);
		if (!hidden)
			json_object_set(v, k, x);
	}
	return v;
}

/* CloudAPI keeps metadata's "credentials" key out of machines and
 * metadata lists unless the caller asks with ?credentials=true. */
static bool show_credentials(struct api_req *q)
{
	const char *c = api_query(q, "credentials");
	return c && !strcmp(c, "true");
}

/* The machine as this caller's request shows it (new reference). */
static json_t *machine_shown(struct api_req *q, json_t *m)
{
	json_t *v = machine_view(m);
	json_t *md = json_object_get(v, "metadata");
	if (!show_credentials(q) && json_object_get(md, "credentials")) {
		md = json_copy(md); /* the record's own stays whole */
		json_object_del(md, "credentials");
		json_object_set_new(v, "metadata", md);
	}
	return v;
}

static void audit_add(json_t *m, const char *action, bool ok, const char *login)
{
	json_t *a = json_object_get(m, "audit");
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(m, "audit", a);
	}
	char now[32];
	head_now_iso(now);
	json_array_append_new(
	    a, json_pack("{s:s, s:{}, s:s, s:s, s:{s:s, s:s}}", "action",
			 action, "parameters", "success", ok ? "yes" : "no",
			 "time", now, "caller", "type", "signature", "login",
			 login ? login : ""));
	while (json_array_size(a) > AUDIT_MAX)
		json_array_remove(a, 0);
}

/* Reads a machine of the caller's: 404 unless it is theirs, 410 once it
 * is deleted. *etag may be NULL. */
static int machine_load(struct api_req *q, const char *id, json_t **m,
			char **etag)
{
	struct hull_err err = {0};
	json_t *rec = NULL;
	if (!hull_uuid_valid(id) ||
	    store_get(q->store, "machines", id, &rec, etag, &err) < 0 ||
	    strcmp(hull_json_str(rec, "owner", ""), me(q))) {
		json_decref(rec);
		if (etag) {
			free(*etag);
			*etag = NULL;
		}
		not_found(q);
		return -ENOENT;
	}
	if (!strcmp(hull_json_str(rec, "state", ""), "deleted")) {
		if (etag) {
			free(*etag);
			*etag = NULL;
		}
		/* CloudAPI's 410 carries the deleted machine, which the
		 * CLI shows with its state. */
		api_reply(q, 410, machine_view(rec));
		json_decref(rec);
		return -ENOENT;
	}
	*m = rec;
	return 0;
}

/* ---- list ---- */

/* The machine as machine_shown shows it, made of m itself (a record this
 * list owns and shares with nobody): hull's fields deleted in place, no
 * second object built (a list of 1,000 builds 1,000 fewer). */
static json_t *machine_shown_owned(struct api_req *q, json_t *m)
{
	for (size_t i = 0; i < sizeof(internal) / sizeof(*internal); i++)
		json_object_del(m, internal[i]);
	if (!show_credentials(q))
		json_object_del(json_object_get(m, "metadata"), "credentials");
	return json_incref(m);
}

struct filter_ctx {
	json_t *tags; /* {key: value} wanted */
};

static void collect_tag(void *cls, const char *key, const char *value)
{
	struct filter_ctx *f = cls;
	if (!strncmp(key, "tag.", 4) && key[4] && value)
		json_object_set_new(f->tags, key + 4, json_string(value));
}

static bool matches(struct api_req *q, json_t *m, json_t *want_tags)
{
	if (!strcmp(hull_json_str(m, "state", ""), "deleted"))
		return false;
	static const char *const exact[] = {"name", "state", "image", "brand",
					    "memory"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(*exact); i++) {
		const char *want = api_query(q, exact[i]);
		if (!want)
			continue;
		json_t *v = json_object_get(m, exact[i]);
		char buf[32];
		const char *have = json_string_value(v);
		if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)json_integer_value(v));
			have = buf;
		}
		if (!have || strcmp(have, want))
			return false;
	}
	const char *key;
	json_t *val;
	json_object_foreach(want_tags, key, val)
	{
		json_t *t = json_object_get(json_object_get(m, "tags"), key);
		char buf[32];
		const char *have = json_string_value(t);
		if (json_is_boolean(t))
			have = json_is_true(t) ? "true" : "false";
		else if (json_is_integer(t)) {
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)json_integer_value(t));
			have = buf;
		}
		if (!have || strcmp(have, json_string_value(val)))
			return false;
	}
	return true;
}

/* ListMachines: offset/limit paging with x-resource-count, which the CLI
 * needs to stop (triton-wave2.md 3.2); filters name, state, image, brand,
 * memory and tag.KEY. */
static int machines_list(struct api_req *q)
{
	long offset = 0, limit = 1000;
	const char *o = api_query(q, "offset"), *l = api_query(q, "limit");
	char *end;
	if (o && ((offset = strtol(o, &end, 10)) < 0 || *end || !*o))
		return api_error(q, 409, "InvalidArgument",
				 "offset must be a number 0 or more");
	if (l &&
	    ((limit = strtol(l, &end, 10)) < 1 || limit > 1000 || *end || !*l))
		return api_error(q, 409, "InvalidArgument",
				 "limit must be a number from 1 to 1000");
	struct hull_err err = {0};
	json_t *all = NULL;
	/* The page after the last (the CLI asks for it whenever a page was
	 * full): empty when the account has no more records than offset,
	 * known from the index without reading 1,000 of them. */
	long n = 0;
	if (offset > 0 &&
	    store_count(q->store, "machines", "owner", me(q), &n, &err) == 0 &&
	    n <= offset)
		all = json_array();
	else if (store_find(q->store, "machines", "owner", me(q), &all, &err) <
		 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	struct filter_ctx f = {json_object()};
	api_query_foreach(q, collect_tag, &f);
	json_t *out = json_array();
	size_t i;
	json_t *m;
	long seen = 0;
	json_array_foreach(all, i, m)
	{
		if (!matches(q, m, f.tags))
			continue;
		if (seen++ < offset || (long)json_array_size(out) >= limit)
			continue;
		json_array_append_new(out, machine_shown_owned(q, m));
	}
	json_decref(f.tags);
	json_decref(all);
	q->resource_count = (long)json_array_size(out);
	if (is(q, "HEAD")) {
		json_decref(out);
		return api_reply(q, 200, NULL);
	}
	return api_reply(q, 200, out);
}

/* ---- create ---- */

struct create_ctx {
	json_t *machine;  /* the record to write (server, nics filled in) */
	json_t *payload;  /* the vmadm payload (nics filled in) */
	json_t *networks; /* network records */
	json_t *servers;  /* candidates, best first */
	const struct placement_req *rq;
	const char *login;
	bool spread; /* a retry: addresses picked at random */
	struct hull_err *err;
};

static int create_txn(struct store *s, void *arg)
{
	struct create_ctx *c = arg;
	const char *id = hull_json_str(c->machine, "id", "");
	int r = -ENOSPC;
	const char *server = NULL;
	size_t i;
	json_t *sv;
	json_array_foreach(c->servers, i, sv)
	{
		server = json_string_value(sv);
		r = placement_take(s, server, c->rq, c->err);
		if (r != -ENOSPC)
			break;
	}
	if (r < 0)
		return r;
	json_t *nics = json_array(), *pnics = json_array(), *ips = json_array();
	json_t *want, *used = json_array();
	json_array_foreach(c->networks, i, want)
	{
		char ip[INET6_ADDRSTRLEN];
		json_t *net = NULL;
		/* A pool gives the first member network with room; the nic
		 * is that network's (NAPI's). */
		if (head_is_pool(want))
			r = head_pool_allocate(s, want, id, c->spread, ip, &net,
					       c->err);
		else if ((r = head_ip_allocate(s, want, id, c->spread, ip,
					       c->err)) == 0)
			net = json_incref(want);
		if (r < 0)
			break;
		json_array_append_new(used, net);
		json_t *gw = json_object_get(net, "gateway");
		bool v6 = !strcmp(hull_json_str(net, "family", "ipv4"), "ipv6");
		json_t *nic = json_pack(
		    "{s:s, s:b, s:O*, s:O*, s:O}", "ip", ip, "primary", i == 0,
		    "netmask", json_object_get(net, "netmask"), "gateway", gw,
		    "network", json_object_get(net, "id"));
		json_array_append_new(nics, nic);
		/* The payload's nic: vmadm's fields, the network's values;
		 * antispoof follows the address given here. */
		/* A fabric nic is on its VLAN's VXLAN segment (the VNI
		 * keeps it apart, so no 802.1Q tag inside), through the
		 * segment's nic tag the agent makes. */
		bool fabric = hull_json_bool(net, "fabric", false);
		char mac[18];
		head_mac_new(mac);
		json_object_set_new(nic, "mac", json_string(mac));
		char *tag = fabric ? xasprintf("%s_%" JSON_INTEGER_FORMAT,
					       HEAD_FABRIC_NIC_TAG,
					       hull_json_int(net, "vnet_id", 0))
				   : xstrdup(hull_json_str(net, "nic_tag", ""));
		json_t *pn = json_pack(
		    "{s:s, s:s, s:b, s:I, s:I, s:O}", "nic_tag", tag, "mac",
		    mac, "primary", i == 0, "vlan_id",
		    (json_int_t)(fabric ? 0 : hull_json_int(net, "vlan_id", 0)),
		    "mtu",
		    (json_int_t)hull_json_int(net, "mtu", HEAD_UNDERLAY_MTU),
		    "network_uuid", json_object_get(net, "id"));
		free(tag);
		if (v6) {
			const char *sub = hull_json_str(net, "subnet", "");
			const char *sl = strchr(sub, '/');
			char *cidr = xasprintf("%s%s", ip, sl ? sl : "/64");
			json_object_set_new(pn, "ips", json_pack("[s]", cidr));
			free(cidr);
			if (json_is_string(gw))
				json_object_set_new(pn, "gateways",
						    json_pack("[O]", gw));
		} else {
			json_object_set_new(pn, "ip", json_string(ip));
			json_object_set(pn, "netmask",
					json_object_get(net, "netmask"));
			if (json_is_string(gw))
				json_object_set(pn, "gateway", gw);
		}
		if (hull_json_bool(net, "fabric", false))
			json_object_set(pn, "vnet_id",
					json_object_get(net, "vnet_id"));
		/* An HVM guest's nics are virtio, as VMAPI gives them. */
		if (head_brand_is_hvm(hull_json_str(c->payload, "brand", NULL)))
			json_object_set_new(pn, "model", json_string("virtio"));
		json_t *res = json_object_get(net, "resolvers");
		if (i == 0 && json_array_size(res))
			json_object_set(c->payload, "resolvers", res);
		json_array_append_new(pnics, pn);
		json_array_append_new(ips, json_string(ip));
	}
	if (r < 0) {
		json_decref(nics);
		json_decref(pnics);
		json_decref(ips);
		json_decref(used);
		return r;
	}
	json_object_set_new(c->payload, "nics", pnics);
	json_object_set(c->machine, "nics", nics);
	json_object_set_new(c->machine, "networks", json_array());
	json_t *net;
	json_array_foreach(used, i, net)
	    json_array_append(json_object_get(c->machine, "networks"),
			      json_object_get(net, "id"));
	json_decref(used);
	json_object_set_new(c->machine, "ips", ips);
	if (json_array_size(nics))
		json_object_set(c->machine, "primaryIp",
				json_object_get(json_array_get(nics, 0), "ip"));
	json_decref(nics);
	json_object_set_new(c->machine, "compute_node", json_string(server));
	json_object_set_new(c->machine, "server", json_string(server));
	/* The payload is kept until the create is done (a retry on another
	 * server sends it again), the cpu_cap for placement always. */
	json_object_set(c->machine, "payload", c->payload);
	if (json_is_integer(json_object_get(c->payload, "cpu_cap")))
		json_object_set(c->machine, "cpu_cap",
				json_object_get(c->payload, "cpu_cap"));
	audit_add(c->machine, "provision", true, c->login);
	if ((r = store_put(s, "machines", id, c->machine, "", NULL, c->err)) <
	    0)
		return r;
	/* The owner's firewall rules reach the server before the instance
	 * that may need them. */
	if ((r = fwrules_queue_to(s, hull_json_str(c->machine, "owner", ""),
				  server, c->err)) < 0)
		return r;
	return task_queue(s, server, id, "create", NULL, c->payload, NULL,
			  c->err);
}

bool head_brand_is_hvm(const char *brand)
{
	return brand && (!strcmp(brand, "bhyve") || !strcmp(brand, "kvm"));
}

/* Whether image img can boot an instance of brand: a zvol image only an
 * HVM guest, any other type only a zone, and an image that names its
 * brand (requirements.brand) only that one. NULL when it can, else why
 * not. */
static const char *brand_mismatch(json_t *img, const char *brand)
{
	const char *need =
	    hull_json_str(json_object_get(img, "requirements"), "brand", NULL);
	bool zvol = !strcmp(hull_json_str(img, "type", ""), "zvol");
	if (need && strcmp(need, brand))
		return "requires another brand";
	if (zvol && !head_brand_is_hvm(brand))
		return "is a zvol image, for bhyve or kvm only";
	if (!zvol && head_brand_is_hvm(brand))
		return "is not a zvol image";
	return NULL;
}

/* A bhyve or kvm payload as VMAPI builds it from a package and a zvol
 * image: ram and vcpus from the package, the image's disk to boot from
 * and a data disk of the package's disk size, and a 10 GiB zone root
 * quota; the zone-only memory caps go (vmadm derives them from ram). */
static void hvm_payload(json_t *payload, json_t *img, json_t *pkg)
{
	long memory = (long)hull_json_int(pkg, "memory", 0);
	json_object_del(payload, "max_physical_memory");
	json_object_del(payload, "max_swap");
	json_object_set_new(payload, "ram", json_integer(memory));
	json_object_set_new(payload, "vcpus",
			    json_integer(hull_json_int(pkg, "vcpus", 1) > 0
					     ? hull_json_int(pkg, "vcpus", 1)
					     : 1));
	json_object_set_new(payload, "quota", json_integer(10));
	json_t *disks = json_array();
	json_t *boot = json_pack("{s:O, s:b}", "image_uuid",
				 json_object_get(img, "uuid"), "boot", 1);
	if (json_is_integer(json_object_get(img, "image_size")))
		json_object_set(boot, "image_size",
				json_object_get(img, "image_size"));
	json_array_append_new(disks, boot);
	long disk = (long)hull_json_int(pkg, "disk", 0);
	if (disk > 0)
		json_array_append_new(
		    disks, json_pack("{s:I}", "size", (json_int_t)disk));
	json_object_set_new(payload, "disks", disks);
}

/* The brand a machine of image m and package p gets (vmadm's brands). */
static const char *brand_for(json_t *img, json_t *pkg)
{
	const char *b = hull_json_str(pkg, "brand", NULL);
	if (b)
		return b;
	b = hull_json_str(json_object_get(img, "requirements"), "brand", NULL);
	if (b)
		return b;
	const char *t = hull_json_str(img, "type", "");
	if (!strcmp(t, "lx-dataset") || !strcmp(t, "docker"))
		return "lx";
	if (!strcmp(t, "zone-dataset"))
		return "joyent";
	/* A zvol image that names no brand is a kvm image, as CloudAPI
	 * takes it. */
	if (!strcmp(t, "zvol"))
		return "kvm";
	return NULL;
}

/* 1 to max characters of A-Z a-z 0-9 and those in extra. */
static bool chars_ok(const char *n, size_t max, const char *extra)
{
	size_t len = strlen(n);
	if (!len || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(n[i] >= 'a' && n[i] <= 'z') &&
		    !(n[i] >= 'A' && n[i] <= 'Z') &&
		    !(n[i] >= '0' && n[i] <= '9') && !strchr(extra, n[i]))
			return false;
	return true;
}

static bool name_ok(const char *n)
{
	return chars_ok(n, 189, "-_.");
}

/* metadata.K / tag.K body fields, and metadata / tags objects. */
static int gather(struct api_req *q, const char *prefix, const char *obj,
		  json_t *into)
{
	const char *key;
	json_t *v;
	size_t pl = strlen(prefix);
	json_t *o = json_object_get(q->body, obj);
	if (o && !json_is_object(o))
		return api_error(q, 409, "InvalidArgument",
				 "%s must be an object", obj);
	json_object_foreach(o, key, v) json_object_set(into, key, v);
	json_object_foreach(q->body, key, v)
	{
		if (strncmp(key, prefix, pl) || !key[pl])
			continue;
		if (!json_is_string(v) && !json_is_boolean(v) &&
		    !json_is_number(v))
			return api_error(q, 409, "InvalidArgument",
					 "%s must be a string, number or "
					 "boolean",
					 key);
		json_object_set(into, key + pl, v);
	}
	return 1;
}

static json_t *find_by_id_or_name(struct api_req *q, const char *bucket,
				  const char *id_field, const char *want)
{
	json_t *all = NULL, *hit = NULL;
	if (store_find(q->store, bucket, NULL, NULL, &all, NULL) < 0)
		return NULL;
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
	{
		if (!strcmp(hull_json_str(v, id_field, ""), want) ||
		    !strcmp(hull_json_str(v, "name", ""), want)) {
			hit = json_incref(v);
			break;
		}
	}
	json_decref(all);
	return hit;
}

static bool image_usable(struct api_req *q, json_t *m)
{
	if (strcmp(hull_json_str(m, "state", ""), "active"))
		return false;
	if (hull_json_bool(m, "public", false) ||
	    !strcmp(hull_json_str(m, "owner", ""), me(q)))
		return true;
	size_t i;
	json_t *u;
	json_array_foreach(json_object_get(m, "acl"), i, u)
	{
		if (!strcmp(json_string_value(u) ?: "", me(q)))
			return true;
	}
	return false;
}

/* The networks asked for (uuids, or {ipv4_uuid}), or the first public
 * one; each must be the caller's to use. */
static int networks_for(struct api_req *q, json_t **out)
{
	json_t *want = json_object_get(q->body, "networks");
	json_t *nets = json_array();
	if (want && (!json_is_array(want) || !json_array_size(want))) {
		json_decref(nets);
		return api_error(q, 409, "InvalidArgument",
				 "networks must be a non-empty array");
	}
	if (!want) {
		json_t *all = NULL;
		store_find(q->store, "networks", NULL, NULL, &all, NULL);
		size_t i;
		json_t *n;
		json_array_foreach(all, i, n)
		{
			if (hull_json_bool(n, "public", false)) {
				json_array_append(nets, n);
				break;
			}
		}
		json_decref(all);
		if (!json_array_size(nets)) {
			json_decref(nets);
			return api_error(q, 409, "InvalidArgument",
					 "no network given and no public "
					 "network exists");
		}
		*out = nets;
		return 1;
	}
	size_t i;
	json_t *w;
	json_array_foreach(want, i, w)
	{
		const char *id = json_string_value(w);
		if (json_is_object(w))
			id = hull_json_str(w, "ipv4_uuid", NULL);
		json_t *n = NULL;
		if (id)
			head_netpool_lookup(q->store, me(q), id, &n, NULL);
		if (!n) {
			json_decref(n);
			json_decref(nets);
			return api_error(q, 409, "InvalidArgument",
					 "network %.60s does not exist",
					 id ? id : "(not a string)");
		}
		if (!hull_json_str(n, "nic_tag", NULL)) {
			json_decref(n);
			json_decref(nets);
			return api_error(q, 409, "InvalidArgument",
					 "network %.60s has no nic tag", id);
		}
		json_array_append_new(nets, n);
	}
	*out = nets;
	return 1;
}

static const char *const create_fields[] = {"name",
					    "image",
					    "package",
					    "networks",
					    "metadata",
					    "tags",
					    "firewall_enabled",
					    "affinity",
					    "locality",
					    "locality",
					    "deletion_protection",
					    NULL};

/* Whether one of the caller's machines (not deleted) is named name. */
static bool name_taken(struct api_req *q, const char *name)
{
	json_t *same = NULL;
	store_find(q->store, "machines", "name", name, &same, NULL);
	size_t i;
	json_t *o;
	bool dup = false;
	json_array_foreach(same, i, o) dup |=
	    !strcmp(hull_json_str(o, "owner", ""), me(q)) &&
	    strcmp(hull_json_str(o, "state", ""), "deleted");
	json_decref(same);
	return dup;
}

static int machines_create(struct api_req *q)
{
	json_t *body = q->body ? q->body : json_object();
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		bool known =
		    !strncmp(key, "metadata.", 9) || !strncmp(key, "tag.", 4);
		for (int i = 0; !known && create_fields[i]; i++)
			known = !strcmp(key, create_fields[i]);
		if (!known) {
			if (!q->body)
				json_decref(body);
			return api_error(q, 409, "InvalidArgument",
					 "unknown field %.60s", key);
		}
	}
	if (!q->body)
		json_decref(body);
	const char *img_id = hull_json_str(q->body, "image", NULL);
	const char *pkg_id = hull_json_str(q->body, "package", NULL);
	if (!img_id)
		return api_error(q, 409, "MissingParameter",
				 "image is a required argument");
	if (!pkg_id)
		return api_error(q, 409, "MissingParameter",
				 "package is a required argument");
	json_t *img = NULL, *pkg = NULL, *nets = NULL, *meta = NULL,
	       *tags = NULL, *m = NULL, *payload = NULL, *servers = NULL;
	img = find_by_id_or_name(q, "images", "uuid", img_id);
	if (!img || !image_usable(q, img)) {
		api_error(q, 404, "ResourceNotFound", "image %.60s not found",
			  img_id);
		goto out;
	}
	pkg = find_by_id_or_name(q, "packages", "id", pkg_id);
	if (!pkg) {
		api_error(q, 404, "ResourceNotFound", "package %.60s not found",
			  pkg_id);
		goto out;
	}
	const char *brand = brand_for(img, pkg);
	bool hvm = head_brand_is_hvm(brand);
	if (!brand ||
	    (!hvm && strcmp(brand, "joyent") &&
	     strcmp(brand, "joyent-minimal") && strcmp(brand, "lx"))) {
		api_error(q, 409, "InvalidArgument",
			  "image %s (type %s) needs a brand this head node "
			  "cannot provision",
			  img_id, hull_json_str(img, "type", "?"));
		goto out;
	}
	const char *why = brand_mismatch(img, brand);
	if (why) {
		api_error(q, 409, "InvalidArgument",
			  "package %s has brand %s, but image %s (type %s) %s",
			  hull_json_str(pkg, "name", ""), brand, img_id,
			  hull_json_str(img, "type", "?"), why);
		goto out;
	}
	char id[HULL_UUID_LEN + 1];
	hull_uuid_generate(id);
	const char *name = hull_json_str(q->body, "name", NULL);
	json_t *jn = json_object_get(q->body, "name");
	if (jn && (!json_is_string(jn) || !name_ok(name))) {
		api_error(q, 409, "InvalidArgument",
			  "name must be 1 to 189 of [a-zA-Z0-9_.-]");
		goto out;
	}
	char shortid[9];
	memcpy(shortid, id, 8);
	shortid[8] = '\0';
	if (!name)
		name = shortid;
	if (name_taken(q, name)) {
		api_error(q, 409, "InvalidArgument",
			  "an instance named %s already exists", name);
		goto out;
	}
	json_t *fw = json_object_get(q->body, "firewall_enabled");
	if (fw && !json_is_boolean(fw)) {
		api_error(q, 409, "InvalidArgument",
			  "firewall_enabled must be a boolean");
		goto out;
	}
	meta = json_object();
	tags = json_object();
	if (gather(q, "metadata.", "metadata", meta) <= 0 ||
	    gather(q, "tag.", "tags", tags) <= 0)
		goto out;
	if (networks_for(q, &nets) <= 0)
		goto out;
	long memory = (long)hull_json_int(pkg, "memory", 0);
	long disk = (long)hull_json_int(pkg, "disk", 0);
	/* A VM's disk is the sum of its disks', as CloudAPI shows it: the
	 * boot disk (the image's size) and the package's; that is what
	 * placement books, as DAPI adds image_size for HVM. */
	if (hvm)
		disk += (long)hull_json_int(img, "image_size", 0);
	char now[32];
	head_now_iso(now);
	m = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:O, s:I, s:I, s:O, s:O, s:s, s:s, "
	    "s:b, s:b, s:b, s:O, s:s}",
	    "id", id, "name", name, "type",
	    hvm ? "virtualmachine" : "smartmachine", "brand", brand, "state",
	    "provisioning", "image", json_object_get(img, "uuid"), "memory",
	    (json_int_t)memory, "disk", (json_int_t)disk, "metadata", meta,
	    "tags", tags, "created", now, "updated", now, "docker", 0,
	    "firewall_enabled", json_is_true(fw), "deletion_protection", 0,
	    "package", json_object_get(pkg, "name"), "owner", me(q));
	payload = json_pack(
	    "{s:s, s:s, s:s, s:O, s:I, s:I, s:I, s:s, s:s, s:O, s:O, s:b, "
	    "s:b}",
	    "uuid", id, "alias", name, "brand", brand, "image_uuid",
	    json_object_get(img, "uuid"), "max_physical_memory",
	    (json_int_t)memory, "max_swap",
	    (json_int_t)hull_json_int(pkg, "swap", memory * 2), "quota",
	    (json_int_t)((disk + 1023) / 1024), "owner_uuid", me(q),
	    "billing_id", hull_json_str(pkg, "id", ""), "customer_metadata",
	    meta, "tags", tags, "firewall_enabled", json_is_true(fw),
	    "autoboot", 1);
	/* An lx instance's kernel_version comes from its image's tags, as
	 * VMAPI takes it; an image without one gets the version lx images
	 * have long used. */
	if (!strcmp(brand, "lx"))
		json_object_set_new(
		    payload, "kernel_version",
		    json_string(hull_json_str(json_object_get(img, "tags"),
					      "kernel_version", "4.3.0")));
	if (hvm)
		hvm_payload(payload, img, pkg);
	if (json_is_integer(json_object_get(pkg, "cpu_cap")))
		json_object_set(payload, "cpu_cap",
				json_object_get(pkg, "cpu_cap"));
	struct hull_err err = {0};
	json_t *hints = NULL;
	if (affinity_hints(q->store, me(q), q->body, &hints, &err) < 0) {
		api_error(q, 409, "InvalidArgument", "%s", err.msg);
		goto out;
	}
	struct placement_req rq = {
	    .ram_mib = memory,
	    .disk_mib = disk,
	    .cpu_cap = (long)hull_json_int(pkg, "cpu_cap", 0),
	    .brand = brand,
	    .owner = me(q),
	    .hints = hints,
	};
	int r = -ECANCELED;
	/* A conflict (a booking or an address another create took between
	 * our read and our write) reruns placement on fresh records. */
	for (int tries = 0; tries < 16 && r == -ECANCELED; tries++) {
		json_decref(servers);
		servers = NULL;
		if ((r = placement_choose(q->store, &rq, &servers, &err)) < 0)
			break;
		struct create_ctx c = {
		    m,	       payload, nets,
		    servers,   &rq,	hull_json_str(q->account, "login", ""),
		    tries > 0, &err};
		r = store_txn(q->store, create_txn, &c, &err);
	}
	bool hinted = hints != NULL;
	json_decref(hints);
	/* No free address (a network's, or every one of a pool's) is the
	 * network's error, not the servers'. */
	if (r == -ENOSPC && !strstr(err.msg, "address") &&
	    !strstr(err.msg, "are full")) {
		api_error(q, 409, "InsufficientCapacity",
			  "no compute node has room for package %s "
			  "(%ld MiB RAM, %ld MiB disk)%s",
			  hull_json_str(pkg, "name", ""), memory, disk,
			  hinted ? " that meets its affinity" : "");
		goto out;
	}
	if (r == -ENOSPC) {
		api_error(q, 409, "InvalidArgument", "%s", err.msg);
		goto out;
	}
	if (r == -ECANCELED) {
		/* Lost every race for the room or the addresses it wanted:
		 * nothing was written; the client may try again. */
		api_error(q, 503, "ServiceUnavailable",
			  "too many concurrent creates; retry");
		goto out;
	}
	if (r < 0) {
		api_error(q, 500, "InternalError", "%s", err.msg);
		goto out;
	}
	/* The package's replication policy (hull's, beyond Triton): when
	 * no other server has room for a standby the instance has none
	 * (absent from `hulladm replication list`; `replication set`
	 * tries again). */
	replica_from_package(q->store, id, pkg, NULL);
	api_reply(q, 201, machine_shown(q, m));
out:
	json_decref(img);
	json_decref(pkg);
	json_decref(nets);
	json_decref(meta);
	json_decref(tags);
	json_decref(m);
	json_decref(payload);
	json_decref(servers);
	return 0;
}

/* ---- actions, delete, audit ---- */

/* Queues action for machine id's agent and answers status with body
 * (stolen; NULL for none). audit as task_queue's. */
static int queue_action(struct api_req *q, const char *id, const char *action,
			const char *audit, json_t *params, unsigned status,
			json_t *body)
{
	struct hull_err err = {0};
	for (int tries = 0; tries < 5; tries++) {
		json_t *m = NULL;
		char *etag = NULL;
		if (machine_load(q, id, &m, &etag) < 0) {
			json_decref(body);
			return 0;
		}
		const char *st = hull_json_str(m, "state", "");
		if (!strcmp(action, "delete") &&
		    hull_json_bool(m, "deletion_protection", false)) {
			free(etag);
			json_decref(m);
			json_decref(body);
			return api_error(q, 409, "CannotDestroyMachine",
					 "Instance has \"deletion_protection\" "
					 "enabled, preventing deletion");
		}
		if (!strcmp(action, "delete") && migrate_active(q->store, id)) {
			free(etag);
			json_decref(m);
			json_decref(body);
			return api_error(q, 409, "InvalidState",
					 "instance is being migrated: abort "
					 "or finalize the migration first");
		}
		if (strcmp(action, "delete") &&
		    (!strcmp(st, "provisioning") || !strcmp(st, "failed"))) {
			free(etag);
			json_decref(m);
			json_decref(body);
			return api_error(q, 409, "InvalidState",
					 "instance is %s", st);
		}
		char now[32];
		head_now_iso(now);
		json_object_set_new(m, "updated", json_string(now));
		/* The etag write makes two requests on one machine queue in
		 * the order they were taken. */
		int r =
		    store_put(q->store, "machines", id, m, etag, NULL, &err);
		if (r == 0)
			r = task_queue(q->store, hull_json_str(m, "server", ""),
				       id, action, audit, params, NULL, &err);
		free(etag);
		json_decref(m);
		if (r == -ECANCELED)
			continue;
		if (r < 0) {
			json_decref(body);
			return api_error(q, 500, "InternalError", "%s",
					 err.msg);
		}
		return api_reply(q, status, body);
	}
	json_decref(body);
	return api_error(q, 503, "ServiceUnavailable",
			 "too many concurrent changes to %s", id);
}

/* Deletion protection is the head node's own (CloudAPI refuses the
 * delete): set on the record at once. */
static int protect(struct api_req *q, const char *id, const char *action,
		   bool on)
{
	struct hull_err err = {0};
	for (int tries = 0; tries < 5; tries++) {
		json_t *m = NULL;
		char *etag = NULL;
		if (machine_load(q, id, &m, &etag) < 0)
			return 0;
		char now[32];
		head_now_iso(now);
		json_object_set_new(m, "deletion_protection", json_boolean(on));
		json_object_set_new(m, "updated", json_string(now));
		audit_add(m, action, true,
			  hull_json_str(q->account, "login", ""));
		int r =
		    store_put(q->store, "machines", id, m, etag, NULL, &err);
		free(etag);
		json_decref(m);
		if (r == -ECANCELED)
			continue;
		if (r < 0)
			return api_error(q, 500, "InternalError", "%s",
					 err.msg);
		return api_reply(q, 202, NULL);
	}
	return api_error(q, 503, "ServiceUnavailable",
			 "too many concurrent changes to %s", id);
}

/* ---- resize ---- */

struct resize_ctx {
	const char *id, *login;
	json_t *pkg;
	struct hull_err *err;
};

/* The new size is booked on the machine's own server at once (a
 * concurrent create cannot take the room), the package name changes once
 * the agent has applied it (`triton instance resize -w` waits for that),
 * and a failed update gives the old size back (apply_done). */
static int resize_txn(struct store *s, void *arg)
{
	struct resize_ctx *c = arg;
	json_t *m = NULL;
	char *etag = NULL;
	int r = store_get(s, "machines", c->id, &m, &etag, c->err);
	if (r < 0)
		return r;
	long ram = (long)hull_json_int(c->pkg, "memory", 0);
	long disk = (long)hull_json_int(c->pkg, "disk", 0);
	long old_ram = (long)hull_json_int(m, "memory", 0);
	long old_disk = (long)hull_json_int(m, "disk", 0);
	const char *server = hull_json_str(m, "server", "");
	if ((ram > old_ram || disk > old_disk) &&
	    (r = placement_book(s, server, ram > old_ram ? ram - old_ram : 0,
				disk > old_disk ? disk - old_disk : 0,
				c->err)) < 0)
		goto out;
	json_object_set_new(m, "resize",
			    json_pack("{s:O, s:I, s:I, s:O*}", "package",
				      json_object_get(c->pkg, "name"), "memory",
				      (json_int_t)old_ram, "disk",
				      (json_int_t)old_disk, "cpu_cap",
				      json_object_get(m, "cpu_cap")));
	json_object_set_new(m, "memory", json_integer(ram));
	json_object_set_new(m, "disk", json_integer(disk));
	if (json_is_integer(json_object_get(c->pkg, "cpu_cap")))
		json_object_set(m, "cpu_cap",
				json_object_get(c->pkg, "cpu_cap"));
	if ((r = store_put(s, "machines", c->id, m, etag, NULL, c->err)) < 0)
		goto out;
	json_t *p = json_pack(
	    "{s:I, s:I, s:I, s:s}", "max_physical_memory", (json_int_t)ram,
	    "max_swap", (json_int_t)hull_json_int(c->pkg, "swap", ram * 2),
	    "quota", (json_int_t)((disk + 1023) / 1024), "billing_id",
	    hull_json_str(c->pkg, "id", ""));
	if (json_is_integer(json_object_get(c->pkg, "cpu_cap")))
		json_object_set(p, "cpu_cap",
				json_object_get(c->pkg, "cpu_cap"));
	r = task_queue(s, server, c->id, "update", "resize", p, NULL, c->err);
	json_decref(p);
out:
	free(etag);
	json_decref(m);
	return r;
}

static int machine_resize(struct api_req *q, const char *id)
{
	const char *want = hull_json_str(q->body, "package", NULL);
	if (!want)
		want = api_query(q, "package");
	if (!want)
		return api_error(q, 409, "MissingParameter",
				 "package is a required argument");
	json_t *m = NULL;
	if (machine_load(q, id, &m, NULL) < 0)
		return 0;
	json_t *pkg = find_by_id_or_name(q, "packages", "id", want);
	const char *st = hull_json_str(m, "state", "");
	const char *brand = hull_json_str(pkg, "brand", NULL);
	if (!pkg)
		api_error(q, 409, "InvalidArgument", "package %.60s not found",
			  want);
	else if (json_object_get(m, "resize"))
		api_error(q, 409, "InvalidState",
			  "instance %s is being resized", id);
	else if (!strcmp(st, "provisioning") || !strcmp(st, "failed"))
		api_error(q, 409, "InvalidState", "instance is %s", st);
	else if (!strcmp(hull_json_str(m, "brand", ""), "kvm"))
		/* CloudAPI's own words for both. */
		api_error(q, 409, "InvalidArgument",
			  "resize is not supported for KVM virtualmachines");
	else if (!strcmp(hull_json_str(m, "brand", ""), "bhyve"))
		/* hull has no flexible disk space (RFD 154), the only
		 * bhyve resize CloudAPI does. */
		api_error(q, 409, "InvalidArgument",
			  "Resizing to a package without flexible disk space "
			  "is not supported");
	else if (brand && strcmp(brand, hull_json_str(m, "brand", "")))
		api_error(q, 409, "InvalidArgument",
			  "package %s is for %s instances, not %s",
			  hull_json_str(pkg, "name", ""), brand,
			  hull_json_str(m, "brand", ""));
	else {
		struct hull_err err = {0};
		struct resize_ctx c = {
		    id, hull_json_str(q->account, "login", ""), pkg, &err};
		int r = -ECANCELED;
		for (int tries = 0; tries < 8 && r == -ECANCELED; tries++)
			r = store_txn(q->store, resize_txn, &c, &err);
		if (r == -ENOSPC)
			api_error(q, 409, "InsufficientCapacity",
				  "the instance's server has no room for "
				  "package %s (%lld MiB RAM, %lld MiB disk)",
				  hull_json_str(pkg, "name", ""),
				  (long long)hull_json_int(pkg, "memory", 0),
				  (long long)hull_json_int(pkg, "disk", 0));
		else if (r < 0)
			api_error(q, 500, "InternalError", "%s", err.msg);
		else
			api_reply(q, 202, NULL);
	}
	json_decref(pkg);
	json_decref(m);
	return 0;
}

static int machine_action(struct api_req *q, const char *id)
{
	const char *action = hull_json_str(q->body, "action", NULL);
	if (!action)
		action = api_query(q, "action");
	if (!action)
		return api_error(q, 409, "MissingParameter",
				 "action is a required argument");
	if (!strcmp(action, "start") || !strcmp(action, "stop") ||
	    !strcmp(action, "reboot"))
		return queue_action(q, id, action, NULL, NULL, 202, NULL);
	/* The firewall and the name are the instance's (vmadm update on
	 * its server); the record follows once the agent has done it. */
	if (!strcmp(action, "enable_firewall") ||
	    !strcmp(action, "disable_firewall")) {
		json_t *p =
		    json_pack("{s:b}", "firewall_enabled", action[0] == 'e');
		queue_action(q, id, "update", action, p, 202, NULL);
		json_decref(p);
		return 0;
	}
	if (!strcmp(action, "rename")) {
		const char *name = hull_json_str(q->body, "name", NULL);
		if (!name)
			name = api_query(q, "name");
		if (!name)
			return api_error(q, 409, "MissingParameter",
					 "name is a required argument");
		if (!name_ok(name))
			return api_error(q, 409, "InvalidArgument",
					 "name must be 1 to 189 of "
					 "[a-zA-Z0-9_.-]");
		json_t *m = NULL;
		if (machine_load(q, id, &m, NULL) < 0)
			return 0;
		bool same = !strcmp(hull_json_str(m, "name", ""), name);
		json_decref(m);
		if (!same && name_taken(q, name))
			return api_error(q, 409, "InvalidArgument",
					 "an instance named %s already exists",
					 name);
		json_t *p = json_pack("{s:s}", "alias", name);
		queue_action(q, id, "update", "rename", p, 202, NULL);
		json_decref(p);
		return 0;
	}
	if (!strcmp(action, "enable_deletion_protection") ||
	    !strcmp(action, "disable_deletion_protection"))
		return protect(q, id, action, action[0] == 'e');
	if (!strcmp(action, "resize"))
		return machine_resize(q, id);
	return api_error(q, 409, "InvalidArgument",
			 "action %.40s is not supported yet", action);
}

/* GET /:login/machines/:id/usage: what the instance uses now, as its
 * server's agent last reported it (each heartbeat: hull/usage.h), with
 * its limits from the record and when it was reported. An instance not
 * running has no figures: only its limits and state. */
static int machine_usage(struct api_req *q, const char *id)
{
	json_t *m = NULL;
	if (machine_load(q, id, &m, NULL) < 0)
		return 0;
	json_t *srv = NULL;
	const char *server = hull_json_str(m, "server", "");
	json_t *out = NULL;
	if (*server && !strcmp(hull_json_str(m, "state", ""), "running") &&
	    store_get(q->store, "servers", server, &srv, NULL, NULL) == 0)
		out = json_deep_copy(
		    json_object_get(json_object_get(srv, "usage"), id));
	if (!out)
		out = json_object();
	else if (json_object_get(srv, "last_heartbeat"))
		json_object_set(out, "sampled",
				json_object_get(srv, "last_heartbeat"));
	json_object_set(out, "state", json_object_get(m, "state"));
	json_object_set(out, "memory", json_object_get(m, "memory"));
	json_object_set(out, "disk", json_object_get(m, "disk"));
	json_decref(srv);
	json_decref(m);
	return api_reply(q, 200, out);
}

static int machine_audit(struct api_req *q, const char *id)
{
	json_t *m = NULL;
	if (machine_load(q, id, &m, NULL) < 0)
		return 0;
	json_t *out = json_array();
	json_t *a = json_object_get(m, "audit");
	for (size_t i = json_array_size(a); i-- > 0;)
		json_array_append(out, json_array_get(a, i));
	json_decref(m);
	return api_reply(q, 200, out);
}

/* ---- tags and metadata ---- */

/* One of a machine's key/value sets: where the record keeps it, the
 * vmadm update keys that change it on the node, and the audit names
 * (CloudAPI's, which `triton instance metadata set -w` waits for). */
struct kv_kind {
	const char *field, *set, *remove;
	const char *audit_set, *audit_remove, *audit_replace;
	bool strings_only;
};

static const struct kv_kind kv_tags = {
    "tags",	   "set_tags",	   "remove_tags", "set_tags",
    "remove_tags", "replace_tags", false};
static const struct kv_kind kv_metadata = {"metadata",
					   "set_customer_metadata",
					   "remove_customer_metadata",
					   "set_metadata",
					   "remove_metadata",
					   "replace_metadata",
					   true};

static int kv_check(struct api_req *q, const struct kv_kind *k, json_t *body)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		if (!*key || strlen(key) > 128)
			return api_error(q, 409, "InvalidArgument",
					 "%s: a key must be 1 to 128 "
					 "characters",
					 k->field);
		if (k->strings_only
			? !json_is_string(v)
			: !json_is_string(v) && !json_is_number(v) &&
			      !json_is_boolean(v))
			return api_error(
			    q, 409, "InvalidArgument",
			    "%s.%.60s must be a string%s", k->field, key,
			    k->strings_only ? "" : ", a number or a boolean");
	}
	return 1;
}

/*
 * GET (all, or one key), POST (set keys), PUT (replace all), DELETE (one
 * key, or all) of a machine's tags or metadata. A change is an update
 * task for the machine's agent (vmadm's set_X / remove_X); the answer is
 * the set as it will be, and the record follows once the agent has done
 * it, as VMAPI's job does.
 */
static int machine_kv(struct api_req *q, const char *id,
		      const struct kv_kind *k)
{
	json_t *m = NULL;
	if (machine_load(q, id, &m, NULL) < 0)
		return 0;
	json_t *cur = json_object_get(m, k->field);
	json_t *have =
	    json_is_object(cur) ? json_deep_copy(cur) : json_object();
	json_decref(m);
	const char *key = q->nseg == 5 ? q->seg[4] : NULL;
	json_t *p = NULL;
	if (is(q, "GET") || is(q, "HEAD")) {
		if (!key && k == &kv_metadata && !show_credentials(q))
			json_object_del(have, "credentials");
		json_t *v = key ? json_object_get(have, key) : have;
		if (!v)
			api_error(q, 404, "ResourceNotFound",
				  "%s %.100s not found", k->field, key);
		else
			api_reply(q, 200, json_incref(v));
	} else if ((is(q, "POST") || is(q, "PUT")) && !key) {
		json_t *want = q->body; /* NULL: no body, nothing to set */
		if (want && kv_check(q, k, want) <= 0)
			goto out;
		json_t *result = json_deep_copy(have);
		p = json_object();
		if (is(q, "PUT")) {
			json_t *gone = json_array();
			const char *hk;
			json_t *hv;
			json_object_foreach(have, hk,
					    hv) if (!json_object_get(want, hk))
			    json_array_append_new(gone, json_string(hk));
			json_object_set_new(p, k->remove, gone);
			json_object_clear(result);
		}
		if (want) {
			json_object_set(p, k->set, want);
			json_object_update(result, want);
		}
		queue_action(q, id, "update",
			     is(q, "PUT") ? k->audit_replace : k->audit_set, p,
			     200, result);
	} else if (is(q, "DELETE")) {
		json_t *gone = json_array();
		if (key && !json_object_get(have, key)) {
			json_decref(gone);
			api_error(q, 404, "ResourceNotFound",
				  "%s %.100s not found", k->field, key);
			goto out;
		}
		if (key) {
			json_array_append_new(gone, json_string(key));
		} else {
			const char *hk;
			json_t *hv;
			json_object_foreach(have, hk, hv)
			    json_array_append_new(gone, json_string(hk));
		}
		p = json_pack("{s:o}", k->remove, gone);
		queue_action(q, id, "update",
			     key ? k->audit_remove : k->audit_replace, p, 204,
			     NULL);
	} else {
		api_error(q, 405, "MethodNotAllowed",
			  "%s is not allowed on %.200s", q->method, q->path);
	}
out:
	json_decref(p);
	json_decref(have);
	return 0;
}

/* ---- snapshots ---- */

/* A snapshot name as the instance library takes it (hull/snapshot.h):
 * 1 to 64 of A-Z a-z 0-9 - _ . : % */
static bool snap_name_ok(const char *n)
{
	return chars_ok(n, 64, "-_.:%");
}

/* The machine's snapshot record named name, or NULL (borrowed). */
static json_t *snap_find(json_t *m, const char *name, size_t *at)
{
	size_t i;
	json_t *sn;
	json_array_foreach(json_object_get(m, "snapshots"), i, sn)
	{
		if (!strcmp(hull_json_str(sn, "name", ""), name)) {
			if (at)
				*at = i;
			return sn;
		}
	}
	return NULL;
}

static json_t *snap_view(json_t *sn)
{
	return json_pack("{s:O, s:O, s:O, s:O}", "name",
			 json_object_get(sn, "name"), "state",
			 json_object_get(sn, "state"), "created",
			 json_object_get(sn, "created"), "updated",
			 json_object_get(sn, "updated"));
}

/* CreateMachineSnapshot: the snapshot is recorded `queued` with the
 * task that makes it on the machine's server, in one write. */
static int snapshot_create(struct api_req *q, const char *id)
{
	char now[32], dflt[32];
	head_now_iso(now);
	/* CloudAPI's default name: the time, e.g. 20261207T112633Z. */
	snprintf(dflt, sizeof(dflt), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", now, now + 5,
		 now + 8, now + 11, now + 14, now + 17);
	json_t *jn = json_object_get(q->body, "name");
	const char *name = jn ? json_string_value(jn) : dflt;
	if (!name || !snap_name_ok(name))
		return api_error(q, 409, "InvalidArgument",
				 "name must be 1 to 64 of [a-zA-Z0-9_.:%%-]");
	struct hull_err err = {0};
	for (int tries = 0; tries < 5; tries++) {
		json_t *m = NULL;
		char *etag = NULL;
		if (machine_load(q, id, &m, &etag) < 0)
			return 0;
		const char *st = hull_json_str(m, "state", "");
		int r = 0;
		if (!strcmp(st, "provisioning") || !strcmp(st, "failed"))
			r = api_error(q, 409, "InvalidState", "instance is %s",
				      st);
		else if (snap_find(m, name, NULL))
			r = api_error(q, 409, "InvalidArgument",
				      "snapshot %s already exists", name);
		else {
			json_t *list = json_object_get(m, "snapshots");
			if (!json_is_array(list)) {
				list = json_array();
				json_object_set_new(m, "snapshots", list);
			}
			json_t *sn = json_pack("{s:s, s:s, s:s, s:s}", "name",
					       name, "state", "queued",
					       "created", now, "updated", now);
			json_array_append(list, sn);
			json_object_set_new(m, "updated", json_string(now));
			r = store_put(q->store, "machines", id, m, etag, NULL,
				      &err);
			json_t *p = json_pack("{s:s}", "name", name);
			if (r == 0)
				r = task_queue(
				    q->store, hull_json_str(m, "server", ""),
				    id, "snapshot_create", "create_snapshot", p,
				    NULL, &err);
			json_decref(p);
			if (r == 0)
				api_reply(q, 201, snap_view(sn));
			else if (r != -ECANCELED)
				api_error(q, 500, "InternalError", "%s",
					  err.msg);
			json_decref(sn);
		}
		free(etag);
		json_decref(m);
		if (r != -ECANCELED)
			return 0;
	}
	return api_error(q, 503, "ServiceUnavailable",
			 "too many concurrent changes to %s", id);
}

/*
 * /:login/machines/:id/snapshots[/:name]: list, create, get, start from
 * (a stopped machine: rolled back, then started: two tasks in order),
 * delete.
 */
static int machine_snapshots(struct api_req *q, const char *id)
{
	if (q->nseg == 4 && is(q, "POST"))
		return snapshot_create(q, id);
	json_t *m = NULL;
	if (machine_load(q, id, &m, NULL) < 0)
		return 0;
	if (q->nseg == 4) {
		if (is(q, "GET") || is(q, "HEAD")) {
			json_t *out = json_array();
			size_t i;
			json_t *sn;
			json_array_foreach(json_object_get(m, "snapshots"), i,
					   sn)
			    json_array_append_new(out, snap_view(sn));
			api_reply(q, 200, out);
		} else {
			api_error(q, 405, "MethodNotAllowed",
				  "%s is not allowed on %.200s", q->method,
				  q->path);
		}
		json_decref(m);
		return 0;
	}
	const char *name = q->seg[4];
	json_t *sn = snap_find(m, name, NULL);
	if (!sn) {
		api_error(q, 404, "ResourceNotFound",
			  "snapshot %.100s not found", name);
	} else if (is(q, "GET") || is(q, "HEAD")) {
		api_reply(q, 200, snap_view(sn));
	} else if (is(q, "POST")) {
		const char *st = hull_json_str(m, "state", "");
		if (strcmp(hull_json_str(sn, "state", ""), "created"))
			api_error(q, 409, "InvalidState", "snapshot %s is %s",
				  name, hull_json_str(sn, "state", ""));
		else if (strcmp(st, "stopped"))
			api_error(q, 409, "InvalidState",
				  "instance is %s: only a stopped instance "
				  "starts from a snapshot",
				  st);
		else {
			json_t *p = json_pack("{s:s}", "name", name);
			queue_action(q, id, "snapshot_rollback",
				     "rollback_snapshot", p, 202, NULL);
			json_decref(p);
			if (q->status == 202)
				queue_action(q, id, "start", NULL, NULL, 202,
					     NULL);
		}
	} else if (is(q, "DELETE")) {
		json_t *p = json_pack("{s:s}", "name", name);
		queue_action(q, id, "snapshot_delete", "delete_snapshot", p,
			     204, NULL);
		json_decref(p);
	} else {
		api_error(q, 405, "MethodNotAllowed",
			  "%s is not allowed on %.200s", q->method, q->path);
	}
	json_decref(m);
	return 0;
}

int machines_dispatch(struct api_req *q)
{
	/* A user waiting on a create whose only server went silent keeps
	 * asking here: the give-up must not wait for another agent. */
	lost_creates_tick(q->store);
	if (q->nseg == 2) {
		if (is(q, "GET") || is(q, "HEAD"))
			return machines_list(q);
		if (is(q, "POST"))
			return machines_create(q);
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	}
	const char *id = q->seg[2];
	if (q->nseg == 3) {
		if (is(q, "GET") || is(q, "HEAD")) {
			json_t *m = NULL;
			if (machine_load(q, id, &m, NULL) < 0)
				return 0;
			api_reply(q, 200, machine_shown(q, m));
			json_decref(m);
			return 0;
		}
		if (is(q, "POST"))
			return machine_action(q, id);
		if (is(q, "DELETE"))
			return queue_action(q, id, "delete", NULL, NULL, 204,
					    NULL);
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	}
	if (q->nseg == 4 && !strcmp(q->seg[3], "migrate"))
		return migrate_machine_dispatch(q, id);
	if (q->nseg == 4 && !strcmp(q->seg[3], "console"))
		return console_ticket_post(q, id);
	if (q->nseg == 4 && !strcmp(q->seg[3], "audit") && is(q, "GET"))
		return machine_audit(q, id);
	if (q->nseg == 4 && !strcmp(q->seg[3], "usage") && is(q, "GET"))
		return machine_usage(q, id);
	if ((q->nseg == 4 || q->nseg == 5) && !strcmp(q->seg[3], "snapshots"))
		return machine_snapshots(q, id);
	if ((q->nseg == 4 || q->nseg == 5) && !strcmp(q->seg[3], "tags"))
		return machine_kv(q, id, &kv_tags);
	if ((q->nseg == 4 || q->nseg == 5) && !strcmp(q->seg[3], "metadata"))
		return machine_kv(q, id, &kv_metadata);
	if (q->nseg == 4 && !strcmp(q->seg[3], "fwrules")) {
		json_t *m = NULL;
		if (machine_load(q, id, &m, NULL) < 0)
			return 0;
		fwrules_of_machine(q, m);
		json_decref(m);
		return 0;
	}
	return not_found(q);
}

/* ---- the agents' reports ---- */

/* Applies fn to machine id under its etag, retrying on conflicts. */
static int machine_update(struct store *s, const char *id,
			  int (*fn)(json_t *m, void *arg), void *arg,
			  struct hull_err *err)
{
	for (int tries = 0; tries < 8; tries++) {
		json_t *m = NULL;
		char *etag = NULL;
		int r = store_get(s, "machines", id, &m, &etag, err);
		if (r < 0)
			return r;
		r = fn(m, arg);
		if (r > 0) {
			char now[32];
			head_now_iso(now);
			json_object_set_new(m, "updated", json_string(now));
			r = store_put(s, "machines", id, m, etag, NULL, err);
		}
		free(etag);
		json_decref(m);
		if (r != -ECANCELED)
			return r < 0 ? r : 0;
	}
	return hull_err_set(err, EAGAIN,
			    "machine %s: too many concurrent "
			    "writes",
			    id);
}

struct report {
	const char *server, *state;
};

static int apply_report(json_t *m, void *arg)
{
	struct report *rp = arg;
	if (strcmp(hull_json_str(m, "server", ""), rp->server) ||
	    lost_create_is_stray(m, rp->server))
		return -EPERM;
	const char *cur = hull_json_str(m, "state", "");
	if (!strcmp(cur, "deleted") || !strcmp(cur, rp->state))
		return 0;
	/* A create not yet done on the agent: the agent's "provisioning"
	 * and "failed" come through its task report. */
	json_object_set_new(m, "state", json_string(rp->state));
	return 1;
}

int machine_agent_report(struct store *s, const char *server, const char *uuid,
			 const char *vm_state, struct hull_err *err)
{
	struct report rp = {server, machine_state_of_vm(vm_state)};
	int r = machine_update(s, uuid, apply_report, &rp, err);
	if (r == -ENOENT)
		return 0;
	if (r == -EPERM)
		return hull_err_set(err, EPERM,
				    "instance %s is not this server's", uuid);
	return r;
}

struct done {
	const char *action, *state, *error;
	bool ok;
	json_t *params;	   /* the task's */
	const char *audit; /* the task's audit name */
};

/* An update's set_X / remove_X applied to the record's field. */
static void apply_set_remove(json_t *m, json_t *params, const char *set,
			     const char *remove, const char *field)
{
	json_t *obj = json_object_get(m, field);
	if (!json_is_object(obj)) {
		obj = json_object();
		json_object_set_new(m, field, obj);
	}
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(params, remove), i, k)
	    json_object_del(obj, json_string_value(k) ?: "");
	json_t *add = json_object_get(params, set);
	if (json_is_object(add))
		json_object_update(obj, add);
}

static int apply_done(json_t *m, void *arg)
{
	struct done *d = arg;
	if (!strcmp(hull_json_str(m, "state", ""), "deleted"))
		return 0;
	if (!strcmp(d->action, "create")) {
		json_object_set_new(
		    m, "state",
		    json_string(d->ok
				    ? machine_state_of_vm(d->state ?: "running")
				    : "failed"));
		/* Done with: every read of the machine parses less. */
		json_object_del(m, "payload");
		if (!d->ok && d->error)
			json_object_set_new(m, "error", json_string(d->error));
		return 1;
	}
	if (!strcmp(d->action, "delete") && d->ok) {
		/* The tombstone: 410 Gone from now on. */
		json_t *keep = json_pack(
		    "{s:O, s:O, s:O, s:O, s:s}", "id", json_object_get(m, "id"),
		    "owner", json_object_get(m, "owner"), "server",
		    json_object_get(m, "server"), "name",
		    json_object_get(m, "name"), "state", "deleted");
		json_object_clear(m);
		json_object_update(m, keep);
		json_decref(keep);
		return 1;
	}
	audit_add(m, d->audit ? d->audit : d->action, d->ok, NULL);
	if (!strncmp(d->action, "snapshot_", 9)) {
		const char *name = hull_json_str(d->params, "name", "");
		json_t *list = json_object_get(m, "snapshots");
		size_t at = 0;
		json_t *sn = snap_find(m, name, &at);
		char now[32];
		head_now_iso(now);
		if (sn && !strcmp(d->action, "snapshot_create")) {
			json_object_set_new(
			    sn, "state",
			    json_string(d->ok ? "created" : "failed"));
			json_object_set_new(sn, "updated", json_string(now));
		} else if (sn && d->ok &&
			   !strcmp(d->action, "snapshot_delete")) {
			json_array_remove(list, at);
		} else if (sn && d->ok &&
			   !strcmp(d->action, "snapshot_rollback")) {
			/* A rollback destroys the newer snapshots. */
			while (json_array_size(list) > at + 1)
				json_array_remove(list, at + 1);
		}
	}
	if (d->ok && !strcmp(d->action, "update")) {
		apply_set_remove(m, d->params, "set_tags", "remove_tags",
				 "tags");
		apply_set_remove(m, d->params, "set_customer_metadata",
				 "remove_customer_metadata", "metadata");
		json_t *alias = json_object_get(d->params, "alias");
		json_t *fw = json_object_get(d->params, "firewall_enabled");
		if (json_is_string(alias))
			json_object_set(m, "name", alias);
		if (json_is_boolean(fw))
			json_object_set(m, "firewall_enabled", fw);
	}
	json_t *rs = json_object_get(m, "resize");
	if (rs && d->audit && !strcmp(d->audit, "resize")) {
		if (d->ok)
			json_object_set(m, "package",
					json_object_get(rs, "package"));
		else {
			json_object_set(m, "memory",
					json_object_get(rs, "memory"));
			json_object_set(m, "disk", json_object_get(rs, "disk"));
			if (json_object_get(rs, "cpu_cap"))
				json_object_set(m, "cpu_cap",
						json_object_get(rs, "cpu_cap"));
			else
				json_object_del(m, "cpu_cap");
		}
		json_object_del(m, "resize");
	}
	if (d->state)
		json_object_set_new(m, "state",
				    json_string(machine_state_of_vm(d->state)));
	return 1;
}

struct retry_ctx {
	const char *id, *failed_server, *error;
	json_t *servers; /* candidates, best first */
	struct hull_err *err;
};

/* What a retry of machine m needs: its own request, the failed server
 * left out. */
static struct placement_req retry_req(json_t *m, const char *failed)
{
	return (struct placement_req){
	    .ram_mib = (long)hull_json_int(m, "memory", 0),
	    .disk_mib = (long)hull_json_int(m, "disk", 0),
	    .cpu_cap = (long)hull_json_int(m, "cpu_cap", 0),
	    .brand = hull_json_str(m, "brand", NULL),
	    .owner = hull_json_str(m, "owner", NULL),
	    .exclude = failed};
}

static int retry_txn(struct store *s, void *arg)
{
	struct retry_ctx *c = arg;
	json_t *m = NULL;
	char *etag = NULL;
	int r = store_get(s, "machines", c->id, &m, &etag, c->err);
	if (r < 0)
		return r;
	/* Once only, and only for the create that failed: a report that
	 * comes again after the retry is queued changes nothing. */
	if (strcmp(hull_json_str(m, "state", ""), "provisioning") ||
	    hull_json_bool(m, "retried", false) ||
	    strcmp(hull_json_str(m, "server", ""), c->failed_server)) {
		r = -EALREADY;
		goto out;
	}
	struct placement_req rq = retry_req(m, c->failed_server);
	const char *server = NULL;
	size_t i;
	json_t *sv;
	r = -ENOSPC;
	json_array_foreach(c->servers, i, sv)
	{
		server = json_string_value(sv);
		r = placement_take(s, server, &rq, c->err);
		if (r != -ENOSPC)
			break;
	}
	if (r < 0)
		goto out;
	/* Moving the machine frees its booking on the failed server (a
	 * server's booked room is that of the machines it holds). */
	json_object_set_new(m, "server", json_string(server));
	json_object_set_new(m, "compute_node", json_string(server));
	json_object_set_new(m, "retried", json_true());
	json_object_set_new(m, "first_try",
			    json_pack("{s:s, s:s}", "server", c->failed_server,
				      "error", c->error ? c->error : ""));
	if ((r = store_put(s, "machines", c->id, m, etag, NULL, c->err)) < 0 ||
	    (r = fwrules_queue_to(s, hull_json_str(m, "owner", ""), server,
				  c->err)) < 0)
		goto out;
	r = task_queue(s, server, c->id, "create", NULL,
		       json_object_get(m, "payload"), NULL, c->err);
out:
	free(etag);
	json_decref(m);
	return r;
}

/* A create that failed on its server is tried once more on another one
 * (placement again, the failed server left out), with the same addresses.
 * 0 when the retry is queued; < 0 when there is none (already retried,
 * no other server with room). */
static int machine_retry(struct store *s, json_t *task, const char *error)
{
	const char *id = hull_json_str(task, "machine", "");
	struct hull_err err = {0};
	json_t *m = NULL;
	if (store_get(s, "machines", id, &m, NULL, &err) < 0)
		return -ENOENT;
	struct placement_req rq =
	    retry_req(m, hull_json_str(task, "server", ""));
	int r = -ECANCELED;
	for (int tries = 0; tries < 8 && r == -ECANCELED; tries++) {
		json_t *servers = NULL;
		if ((r = placement_choose(s, &rq, &servers, &err)) < 0)
			break;
		struct retry_ctx c = {id, hull_json_str(task, "server", ""),
				      error, servers, &err};
		r = store_txn(s, retry_txn, &c, &err);
		json_decref(servers);
	}
	json_decref(m); /* rq's strings were m's */
	return r;
}

int machine_task_done(struct store *s, json_t *task, bool ok, const char *error,
		      const char *vm_state, struct hull_err *err)
{
	const char *id = hull_json_str(task, "machine", "");
	struct done d = {hull_json_str(task, "action", ""),
			 vm_state,
			 error,
			 ok,
			 json_object_get(task, "params"),
			 hull_json_str(task, "audit", NULL)};
	/* The leftover of a create taken from this server: not the
	 * machine's (lostcreate.h). */
	if (!strcmp(d.action, "discard"))
		return 0;
	if (!ok && !strcmp(d.action, "create") &&
	    machine_retry(s, task, error) == 0)
		return 0;
	int r = machine_update(s, id, apply_done, &d, err);
	if (r == -ENOENT)
		return 0;
	if (r == 0 && ((!strcmp(d.action, "create") && !ok) ||
		       (!strcmp(d.action, "delete") && ok)))
		head_ips_release(s, id, NULL);
	return r;
}
