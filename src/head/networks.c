/*
 * networks.c - networks, fabric VLANs and addresses (networks.h).
 *
 * Addresses are numbers (128 bits wide, IPv4 in the low 32) so that one
 * set of range checks serves both families. Uniqueness never rests on a
 * read: an address is taken by writing its ips record only if the key is
 * new, and a VNI by writing its vnis record the same way, so two
 * hull-api processes on one database can race and only one wins.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "head/networks.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

typedef unsigned __int128 u128;

int head_ip_parse(const char *s, struct head_ip *out)
{
	unsigned char b[16];
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, b) == 1) {
		out->af = AF_INET;
		out->v = ((u128)b[0] << 24) | ((u128)b[1] << 16) |
			 ((u128)b[2] << 8) | b[3];
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		out->af = AF_INET6;
		out->v = 0;
		for (int i = 0; i < 16; i++)
			out->v = (out->v << 8) | b[i];
		return 0;
	}
	return -EINVAL;
}

void head_ip_format(const struct head_ip *ip, char out[INET6_ADDRSTRLEN])
{
	unsigned char b[16];
	int n = ip->af == AF_INET ? 4 : 16;
	for (int i = 0; i < n; i++)
		b[i] = (unsigned char)(ip->v >> (8 * (n - 1 - i)));
	inet_ntop(ip->af, b, out, INET6_ADDRSTRLEN);
}

static int width(int af)
{
	return af == AF_INET ? 32 : 128;
}

static u128 mask_of(int af, int bits)
{
	int w = width(af);
	u128 all = w == 128 ? ~(u128)0 : (((u128)1 << w) - 1);
	return bits == 0 ? 0 : (all << (w - bits)) & all;
}

struct cidr {
	struct head_ip base;
	int bits;
};

static int cidr_parse(const char *what, const char *s, struct cidr *c,
		      struct hull_err *err)
{
	char buf[64];
	const char *slash = s ? strchr(s, '/') : NULL;
	char *end = NULL;
	long bits = slash ? strtol(slash + 1, &end, 10) : -1;
	if (!slash || (size_t)(slash - s) >= sizeof(buf) || end == slash + 1 ||
	    *end)
		return hull_err_set(err, EINVAL, "%s %.60s: not a CIDR subnet",
				    what, s ? s : "(none)");
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - s), s);
	if (head_ip_parse(buf, &c->base) < 0)
		return hull_err_set(err, EINVAL, "%s %.60s: not a CIDR subnet",
				    what, s);
	if (bits < 0 || bits > width(c->base.af))
		return hull_err_set(err, EINVAL, "%s %.60s: bad prefix length",
				    what, s);
	c->bits = (int)bits;
	return 0;
}

static bool inside(const struct cidr *c, const struct head_ip *ip)
{
	u128 m = mask_of(c->base.af, c->bits);
	return ip->af == c->base.af && (ip->v & m) == c->base.v;
}

static bool overlaps(const struct cidr *a, const struct cidr *b)
{
	if (a->base.af != b->base.af)
		return false;
	int bits = a->bits < b->bits ? a->bits : b->bits;
	u128 m = mask_of(a->base.af, bits);
	return (a->base.v & m) == (b->base.v & m);
}

static bool name_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len < 1 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("_.-", n[i]))
			return false;
	return true;
}

/* An address field of the network: present, of the subnet's family and
 * inside it. */
static int addr_in(json_t *in, const char *field, const struct cidr *c,
		   bool need, struct head_ip *out, struct hull_err *err)
{
	json_t *v = json_object_get(in, field);
	if (!v && !need)
		return 0;
	if (!json_is_string(v) || head_ip_parse(json_string_value(v), out) < 0)
		return hull_err_set(err, EINVAL, "%s: not an IP address",
				    field);
	if (!inside(c, out))
		return hull_err_set(err, EINVAL, "%s %s is outside the subnet",
				    field, json_string_value(v));
	if (c->base.af == AF_INET && c->bits <= 30) {
		u128 host =
		    out->v & ~mask_of(AF_INET, c->bits) & mask_of(AF_INET, 32);
		u128 bcast = ~mask_of(AF_INET, c->bits) & mask_of(AF_INET, 32);
		if (host == 0 || host == bcast)
			return hull_err_set(err, EINVAL,
					    "%s %s is the subnet's network or "
					    "broadcast address",
					    field, json_string_value(v));
	}
	return 1;
}

static const char *const net_fields[] = {"name",
					 "subnet",
					 "gateway",
					 "provision_start_ip",
					 "provision_end_ip",
					 "resolvers",
					 "routes",
					 "vlan_id",
					 "mtu",
					 "internet_nat",
					 "description",
					 "nic_tag",
					 NULL};

static int check_resolvers(json_t *res, struct hull_err *err)
{
	if (!json_is_array(res) || json_array_size(res) > 8)
		return hull_err_set(err, EINVAL,
				    "resolvers: an array of at most 8 "
				    "addresses");
	size_t i;
	json_t *v;
	struct head_ip ip;
	json_array_foreach(
	    res, i,
	    v) if (!json_is_string(v) ||
		   head_ip_parse(json_string_value(v), &ip) <
		       0) return hull_err_set(err, EINVAL,
					      "resolvers: not an IP address");
	return 0;
}

/* routes: {"DEST": "GATEWAY"}, DEST an address or a subnet. */
static int check_routes(json_t *routes, int af, struct hull_err *err)
{
	if (!json_is_object(routes) || json_object_size(routes) > 32)
		return hull_err_set(err, EINVAL,
				    "routes: an object of at most 32 "
				    "destination: gateway pairs");
	const char *k;
	json_t *v;
	json_object_foreach(routes, k, v)
	{
		struct head_ip ip, gw;
		struct cidr c;
		struct hull_err e2;
		bool dest = strchr(k, '/')
				? cidr_parse("route", k, &c, &e2) == 0 &&
				      (ip = c.base, true)
				: head_ip_parse(k, &ip) == 0;
		if (!dest || ip.af != af || !json_is_string(v) ||
		    head_ip_parse(json_string_value(v), &gw) < 0 || gw.af != af)
			return hull_err_set(err, EINVAL,
					    "routes: %.60s: not an address or "
					    "subnet with a gateway of the "
					    "network's family",
					    k);
	}
	return 0;
}

int head_network_parse(json_t *in, bool fabric, json_t **out,
		       struct hull_err *err)
{
	if (!json_is_object(in))
		return hull_err_set(err, EINVAL, "a network is an object");
	const char *k;
	json_t *v;
	json_object_foreach(in, k, v)
	{
		bool known = false;
		for (int i = 0; !known && net_fields[i]; i++)
			known = !strcmp(k, net_fields[i]);
		if (!known)
			return hull_err_set(err, EINVAL, "unknown field %.60s",
					    k);
	}
	const char *name = hull_json_str(in, "name", NULL);
	if (!name_ok(name))
		return hull_err_set(err, EINVAL,
				    "name: 1 to 64 letters, digits and _.-");
	struct cidr c;
	int r =
	    cidr_parse("subnet", hull_json_str(in, "subnet", NULL), &c, err);
	if (r < 0)
		return r;
	int af = c.base.af;
	if (af == AF_INET && (c.bits < 8 || c.bits > 30))
		return hull_err_set(err, EINVAL,
				    "subnet %s: an IPv4 prefix of /8 to /30",
				    hull_json_str(in, "subnet", ""));
	if (af == AF_INET6 && (c.bits < 16 || c.bits > 126))
		return hull_err_set(err, EINVAL,
				    "subnet %s: an IPv6 prefix of /16 to /126",
				    hull_json_str(in, "subnet", ""));
	if (fabric && af != AF_INET)
		return hull_err_set(err, EINVAL,
				    "subnet: fabric networks are IPv4");
	if (c.base.v & ~mask_of(af, c.bits))
		return hull_err_set(err, EINVAL, "subnet %s: host bits are set",
				    hull_json_str(in, "subnet", ""));
	struct head_ip lo, hi, gw;
	int has_gw;
	if ((r = addr_in(in, "provision_start_ip", &c, true, &lo, err)) < 0 ||
	    (r = addr_in(in, "provision_end_ip", &c, true, &hi, err)) < 0 ||
	    (has_gw = addr_in(in, "gateway", &c, false, &gw, err)) < 0)
		return r < 0 ? r : has_gw;
	if (lo.v > hi.v)
		return hull_err_set(err, EINVAL,
				    "provision_start_ip is after "
				    "provision_end_ip");
	json_t *res = json_object_get(in, "resolvers");
	if (res && (r = check_resolvers(res, err)) < 0)
		return r;
	json_t *routes = json_object_get(in, "routes");
	if (routes && (r = check_routes(routes, af, err)) < 0)
		return r;
	json_t *vl = json_object_get(in, "vlan_id");
	if (vl && (!json_is_integer(vl) || json_integer_value(vl) < 0 ||
		   json_integer_value(vl) > 4094))
		return hull_err_set(err, EINVAL, "vlan_id: 0 to 4094");
	long maxmtu = fabric ? HEAD_FABRIC_MTU : 9000;
	json_t *mtu = json_object_get(in, "mtu");
	if (mtu && (!json_is_integer(mtu) || json_integer_value(mtu) < 576 ||
		    json_integer_value(mtu) > maxmtu))
		return hull_err_set(err, EINVAL, "mtu: 576 to %ld", maxmtu);
	json_t *nat = json_object_get(in, "internet_nat");
	if (nat && !json_is_boolean(nat))
		return hull_err_set(err, EINVAL, "internet_nat: true or false");
	if (nat && json_is_true(nat) && !has_gw)
		return hull_err_set(err, EINVAL,
				    "internet_nat needs a gateway");
	json_t *desc = json_object_get(in, "description");
	if (desc &&
	    (!json_is_string(desc) || strlen(json_string_value(desc)) > 255))
		return hull_err_set(err, EINVAL,
				    "description: a string of at most 255 "
				    "characters");
	const char *tag = hull_json_str(in, "nic_tag", NULL);
	if (!fabric && !name_ok(tag))
		return hull_err_set(err, EINVAL, "nic_tag is needed");
	char lo_s[INET6_ADDRSTRLEN], hi_s[INET6_ADDRSTRLEN], base[64];
	head_ip_format(&lo, lo_s);
	head_ip_format(&hi, hi_s);
	head_ip_format(&c.base, base);
	char *subnet = xasprintf("%s/%d", base, c.bits);
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:I, s:I, s:b, s:s, s:s}",
	    "name", name, "family", af == AF_INET ? "ipv4" : "ipv6", "subnet",
	    subnet, "provision_start_ip", lo_s, "provision_end_ip", hi_s,
	    "resolvers", res ? res : json_array(), "routes",
	    routes ? routes : json_object(), "vlan_id",
	    (json_int_t)(vl ? json_integer_value(vl) : 0), "mtu",
	    (json_int_t)(mtu ? json_integer_value(mtu)
			     : (fabric ? HEAD_FABRIC_MTU : HEAD_UNDERLAY_MTU)),
	    "fabric", fabric, "description",
	    desc ? json_string_value(desc) : "", "nic_tag",
	    fabric ? HEAD_FABRIC_NIC_TAG : tag);
	free(subnet);
	/* json_pack's O took a reference to the fresh empties above too. */
	if (!res)
		json_decref(json_object_get(o, "resolvers"));
	if (!routes)
		json_decref(json_object_get(o, "routes"));
	if (af == AF_INET) {
		struct head_ip m = {AF_INET, mask_of(AF_INET, c.bits)};
		char ms[INET6_ADDRSTRLEN];
		head_ip_format(&m, ms);
		json_object_set_new(o, "netmask", json_string(ms));
	}
	if (has_gw) {
		char gs[INET6_ADDRSTRLEN];
		head_ip_format(&gw, gs);
		json_object_set_new(o, "gateway", json_string(gs));
	}
	if (fabric)
		json_object_set_new(
		    o, "internet_nat",
		    json_boolean(nat ? json_is_true(nat) : has_gw > 0));
	*out = o;
	return 0;
}

json_t *head_network_view(json_t *n)
{
	json_t *v = json_deep_copy(n);
	static const char *const own[] = {"owner", "nic_tag", "vnet_id",
					  "family", "nat"};
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
		json_object_del(v, own[i]);
	return v;
}

bool head_network_visible(json_t *n, const char *owner)
{
	if (!owner)
		return true;
	return hull_json_bool(n, "public", false) ||
	       !strcmp(hull_json_str(n, "owner", ""), owner);
}

int head_network_lookup(struct store *s, const char *owner,
			const char *id_or_name, json_t **out,
			struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "networks", NULL, NULL, &all, err);
	if (r < 0)
		return r;
	json_t *hit = NULL;
	size_t i;
	json_t *n;
	/* An id wins over a name, as CloudAPI resolves them. */
	for (int pass = 0; pass < 2 && !hit; pass++)
		json_array_foreach(all, i, n)
		{
			if (!head_network_visible(n, owner))
				continue;
			if (!strcmp(hull_json_str(n, pass ? "name" : "id", ""),
				    id_or_name)) {
				hit = json_incref(n);
				break;
			}
		}
	json_decref(all);
	if (!hit)
		return hull_err_set(err, ENOENT, "network %.60s not found",
				    id_or_name);
	*out = hit;
	return 0;
}

/*
 * A fabric network with internet_nat gets the outside half of its NAT
 * gateway now: an address on the first public IPv4 network with a
 * gateway (Triton's NAT pool), held as "nat:NETWORK" in the ips bucket.
 * rec gets {network, ip, prefix, gateway, nic_tag, vlan_id} as "nat".
 */
static int nat_address(struct store *s, json_t *rec, struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "networks", NULL, NULL, &all, err);
	if (r < 0)
		return r;
	json_t *ext = NULL;
	size_t i;
	json_t *n;
	json_array_foreach(all, i, n)
	{
		if (!ext && hull_json_bool(n, "public", false) &&
		    !hull_json_bool(n, "fabric", false) &&
		    !strcmp(hull_json_str(n, "family", "ipv4"), "ipv4") &&
		    hull_json_str(n, "gateway", NULL))
			ext = json_incref(n);
	}
	json_decref(all);
	if (!ext)
		return hull_err_set(err, EINVAL,
				    "internet_nat: no public IPv4 network with "
				    "a gateway to reach the internet through "
				    "(use --no-nat)");
	char *who = xasprintf("nat:%s", hull_json_str(rec, "id", ""));
	char ip[INET6_ADDRSTRLEN];
	r = head_ip_allocate(s, ext, who, false, ip, err);
	free(who);
	if (r == 0) {
		const char *sub = hull_json_str(ext, "subnet", "");
		const char *sl = strchr(sub, '/');
		json_object_set_new(
		    rec, "nat",
		    json_pack("{s:O, s:s, s:i, s:O, s:O, s:O}", "network",
			      json_object_get(ext, "id"), "ip", ip, "prefix",
			      sl ? atoi(sl + 1) : 24, "gateway",
			      json_object_get(ext, "gateway"), "nic_tag",
			      json_object_get(ext, "nic_tag"), "vlan_id",
			      json_object_get(ext, "vlan_id")));
	}
	json_decref(ext);
	return r;
}

struct create_ctx {
	json_t *rec;
	const char *owner;
	bool fabric;
	struct hull_err *err;
};

static int create_txn(struct store *s, void *arg)
{
	struct create_ctx *c = arg;
	json_t *all = NULL;
	int r = store_find(s, "networks", NULL, NULL, &all, c->err);
	if (r < 0)
		return r;
	struct cidr mine;
	struct hull_err e2;
	cidr_parse("subnet", hull_json_str(c->rec, "subnet", ""), &mine, &e2);
	const char *name = hull_json_str(c->rec, "name", "");
	size_t i;
	json_t *n;
	json_array_foreach(all, i, n)
	{
		bool seen = c->owner ? head_network_visible(n, c->owner) ||
					   !hull_json_str(n, "owner", NULL)
				     : true;
		if (seen && !strcmp(hull_json_str(n, "name", ""), name)) {
			r = hull_err_set(c->err, EEXIST, "network %s exists",
					 name);
			break;
		}
		struct cidr other;
		if (c->fabric && hull_json_bool(n, "fabric", false) &&
		    !strcmp(hull_json_str(n, "owner", ""), c->owner) &&
		    cidr_parse("subnet", hull_json_str(n, "subnet", ""), &other,
			       &e2) == 0 &&
		    overlaps(&mine, &other)) {
			r = hull_err_set(c->err, EEXIST,
					 "subnet %s overlaps network %s (%s)",
					 hull_json_str(c->rec, "subnet", ""),
					 hull_json_str(n, "name", ""),
					 hull_json_str(n, "subnet", ""));
			break;
		}
	}
	json_decref(all);
	if (r < 0)
		return r;
	if (c->fabric) {
		json_t *vlan = NULL;
		if ((r = head_vlan_get(
			 s, c->owner, (long)hull_json_int(c->rec, "vlan_id", 0),
			 &vlan, c->err)) < 0)
			return r;
		json_object_set(c->rec, "vnet_id",
				json_object_get(vlan, "vnet_id"));
		json_decref(vlan);
	}
	if (c->fabric && hull_json_bool(c->rec, "internet_nat", false) &&
	    (r = nat_address(s, c->rec, c->err)) < 0)
		return r;
	return store_put(s, "networks", hull_json_str(c->rec, "id", ""), c->rec,
			 "", NULL, c->err);
}

int head_network_create(struct store *s, json_t *in, const char *owner,
			bool fabric, bool public, json_t **rec,
			struct hull_err *err)
{
	json_t *v = NULL;
	int r = head_network_parse(in, fabric, &v, err);
	if (r < 0)
		return r;
	char uuid[HULL_UUID_LEN + 1];
	hull_uuid_generate(uuid);
	json_object_set_new(v, "id", json_string(uuid));
	json_object_set_new(v, "public", json_boolean(public && !fabric));
	if (owner)
		json_object_set_new(v, "owner", json_string(owner));
	struct create_ctx c = {v, owner, fabric, err};
	r = store_txn(s, create_txn, &c, err);
	if (r == 0 && rec)
		*rec = json_incref(v);
	json_decref(v);
	return r;
}

struct del_ctx {
	const char *id;
	char *etag; /* the network's, as read in the transaction */
	struct hull_err *err;
};

static int delete_txn(struct store *s, void *arg)
{
	struct del_ctx *c = arg;
	json_t *used = NULL, *pool = NULL, *net = NULL;
	/* Deleted on the etag read before the pools are: a pool that names
	 * it, committed meanwhile, has rewritten it (netpools.c
	 * members_touch), and the delete is tried again. */
	free(c->etag);
	c->etag = NULL;
	int r = store_get(s, "networks", c->id, &net, &c->etag, c->err);
	json_decref(net);
	if (r < 0)
		return r;
	/* NAPI refuses to delete a network a pool names (InUse). */
	r = head_pool_naming(s, c->id, &pool, c->err);
	if (r == 0 && pool)
		r = hull_err_set(c->err, EBUSY,
				 "network %s is in use by network pool %s",
				 c->id, hull_json_str(pool, "name", ""));
	json_decref(pool);
	if (r < 0)
		return r;
	r = store_find(s, "ips", "network", c->id, &used, c->err);
	if (r < 0)
		return r;
	size_t i;
	json_t *u;
	json_array_foreach(used, i, u)
	{
		if (hull_json_str(u, "machine", NULL) &&
		    strncmp(hull_json_str(u, "machine", ""), "nat:", 4)) {
			r = hull_err_set(c->err, EBUSY,
					 "network %s is in use by instance %s",
					 c->id,
					 hull_json_str(u, "machine", ""));
			break;
		}
	}
	json_array_foreach(used, i, u)
	{
		if (r < 0)
			break;
		char *key =
		    xasprintf("%s/%s", c->id, hull_json_str(u, "ip", ""));
		r = store_del(s, "ips", key, NULL, c->err);
		free(key);
	}
	json_decref(used);
	if (r < 0)
		return r;
	/* the NAT gateway's outside address goes with it */
	char *who = xasprintf("nat:%s", c->id);
	r = head_ips_release(s, who, c->err);
	free(who);
	if (r < 0)
		return r;
	return store_del(s, "networks", c->id, c->etag, c->err);
}

int head_network_delete(struct store *s, const char *id, struct hull_err *err)
{
	struct del_ctx c = {id, NULL, err};
	int r = -ECANCELED;
	for (int tries = 0; tries < 8 && r == -ECANCELED; tries++)
		r = store_txn(s, delete_txn, &c, err);
	free(c.etag);
	return r;
}

/* The ips records of net as an object ip -> record. */
static int taken_of(struct store *s, const char *nid, json_t **out,
		    struct hull_err *err)
{
	json_t *used = NULL;
	int r = store_find(s, "ips", "network", nid, &used, err);
	if (r < 0)
		return r;
	json_t *taken = json_object();
	size_t i;
	json_t *u;
	json_array_foreach(used, i, u)
	    json_object_set(taken, hull_json_str(u, "ip", ""), u);
	json_decref(used);
	*out = taken;
	return 0;
}

/* How many free addresses a spread allocation picks among: enough that
 * a crowd of retrying writers rarely meets on one. */
#define SPREAD 64

static int ip_take(struct store *s, json_t *net, json_t *rec, bool spread,
		   char out[INET6_ADDRSTRLEN], struct hull_err *err)
{
	const char *nid = hull_json_str(net, "id", "");
	struct head_ip lo, hi, gw = {0, 0};
	if (head_ip_parse(hull_json_str(net, "provision_start_ip", ""), &lo) <
		0 ||
	    head_ip_parse(hull_json_str(net, "provision_end_ip", ""), &hi) < 0)
		return hull_err_set(err, EIO, "network %s has no range", nid);
	bool has_gw =
	    head_ip_parse(hull_json_str(net, "gateway", ""), &gw) == 0;
	json_t *taken = NULL;
	int r = taken_of(s, nid, &taken, err);
	if (r < 0)
		return r;
	char cand[SPREAD][INET6_ADDRSTRLEN];
	int n = 0;
	for (u128 a = lo.v; a <= hi.v && n < (spread ? SPREAD : 1); a++) {
		struct head_ip ip = {lo.af, a};
		if (has_gw && a == gw.v)
			continue;
		head_ip_format(&ip, cand[n]);
		if (!json_object_get(taken, cand[n]))
			n++;
		if (a == hi.v)
			break; /* the top of the space: no wrap */
	}
	json_decref(taken);
	if (!n)
		return hull_err_set(err, ENOSPC,
				    "network %s has no free address",
				    hull_json_str(net, "name", nid));
	int pick = 0;
	if (n > 1) {
		unsigned x = 0;
		if (getrandom(&x, sizeof(x), 0) == (ssize_t)sizeof(x))
			pick = (int)(x % (unsigned)n);
	}
	char *key = xasprintf("%s/%s", nid, cand[pick]);
	json_object_set_new(rec, "network", json_string(nid));
	json_object_set_new(rec, "ip", json_string(cand[pick]));
	r = store_put(s, "ips", key, rec, "", NULL, err);
	free(key);
	if (r == 0)
		memcpy(out, cand[pick], INET6_ADDRSTRLEN);
	return r;
}

int head_ip_allocate(struct store *s, json_t *net, const char *machine,
		     bool spread, char out[INET6_ADDRSTRLEN],
		     struct hull_err *err)
{
	json_t *rec = json_pack("{s:s}", "machine", machine);
	int r = ip_take(s, net, rec, spread, out, err);
	json_decref(rec);
	return r;
}

int head_ips_release(struct store *s, const char *machine, struct hull_err *err)
{
	json_t *used = NULL;
	int r = store_find(s, "ips", "machine", machine, &used, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *u;
	json_array_foreach(used, i, u)
	{
		char *key = xasprintf("%s/%s", hull_json_str(u, "network", ""),
				      hull_json_str(u, "ip", ""));
		int e = store_del(s, "ips", key, NULL, err);
		free(key);
		if (e < 0 && e != -ENOENT && r == 0)
			r = e;
	}
	json_decref(used);
	return r;
}

int head_ip_reserve(struct store *s, json_t *net, const char *ip,
		    char out[INET6_ADDRSTRLEN], struct hull_err *err)
{
	json_t *rec = json_pack("{s:b}", "reserved", 1);
	int r;
	if (!ip) {
		/* A conflict means another writer took that one: look
		 * again, spread out so a crowd converges. */
		r = -ECANCELED;
		for (int tries = 0; tries < 200 && r == -ECANCELED; tries++)
			r = ip_take(s, net, rec, tries > 0, out, err);
		json_decref(rec);
		return r;
	}
	struct head_ip a;
	struct cidr c;
	struct hull_err e2;
	if (head_ip_parse(ip, &a) < 0 ||
	    cidr_parse("subnet", hull_json_str(net, "subnet", ""), &c, &e2) <
		0 ||
	    !inside(&c, &a)) {
		json_decref(rec);
		return hull_err_set(err, EINVAL,
				    "%.60s is not an address of network %s", ip,
				    hull_json_str(net, "name", ""));
	}
	head_ip_format(&a, out);
	const char *nid = hull_json_str(net, "id", "");
	char *key = xasprintf("%s/%s", nid, out);
	json_object_set_new(rec, "network", json_string(nid));
	json_object_set_new(rec, "ip", json_string(out));
	r = store_put(s, "ips", key, rec, "", NULL, err);
	free(key);
	json_decref(rec);
	if (r == -ECANCELED)
		return hull_err_set(err, EEXIST, "%s is taken", out);
	return r;
}

int head_ip_unreserve(struct store *s, json_t *net, const char *ip,
		      struct hull_err *err)
{
	struct head_ip a;
	if (head_ip_parse(ip, &a) < 0)
		return hull_err_set(err, EINVAL, "%.60s: not an IP address",
				    ip);
	char norm[INET6_ADDRSTRLEN];
	head_ip_format(&a, norm);
	char *key = xasprintf("%s/%s", hull_json_str(net, "id", ""), norm);
	json_t *rec = NULL;
	char *etag = NULL;
	int r = store_get(s, "ips", key, &rec, &etag, err);
	if (r == -ENOENT)
		r = hull_err_set(err, ENOENT, "%s is not reserved", norm);
	else if (r == 0 && hull_json_str(rec, "machine", NULL))
		r = hull_err_set(err, EBUSY, "%s belongs to instance %s", norm,
				 hull_json_str(rec, "machine", ""));
	else if (r == 0)
		r = store_del(s, "ips", key, etag, err);
	json_decref(rec);
	free(etag);
	free(key);
	return r;
}

int head_ip_list(struct store *s, json_t *net, json_t **out,
		 struct hull_err *err)
{
	return store_find(s, "ips", "network", hull_json_str(net, "id", ""),
			  out, err);
}

/* ---- fabric VLANs ---- */

static char *vlan_key(const char *owner, long id)
{
	return xasprintf("%s/%ld", owner, id);
}

int head_vlan_get(struct store *s, const char *owner, long vlan_id,
		  json_t **rec, struct hull_err *err)
{
	char *key = vlan_key(owner, vlan_id);
	int r = store_get(s, "vlans", key, rec, NULL, err);
	free(key);
	if (r == -ENOENT)
		return hull_err_set(err, ENOENT, "vlan %ld not found", vlan_id);
	return r;
}

int head_vlan_list(struct store *s, const char *owner, json_t **out,
		   struct hull_err *err)
{
	return store_find(s, "vlans", "owner", owner, out, err);
}

struct vlan_ctx {
	json_t *rec;
	struct hull_err *err;
};

/* The lowest VNI no one holds; the vnis record's key is the lock. VNI 0
 * is left out (some kernels treat it as "any"). */
static int vlan_txn(struct store *s, void *arg)
{
	struct vlan_ctx *c = arg;
	json_t *all = NULL;
	int r = store_find(s, "vnis", NULL, NULL, &all, c->err);
	if (r < 0)
		return r;
	json_t *used = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
	{
		char k[24];
		snprintf(k, sizeof(k), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(v, "vnet_id")));
		json_object_set(used, k, json_true());
	}
	json_decref(all);
	long vni = 1;
	for (;; vni++) {
		char k[24];
		snprintf(k, sizeof(k), "%ld", vni);
		if (!json_object_get(used, k))
			break;
	}
	json_decref(used);
	if (vni > 0xffffff)
		return hull_err_set(c->err, ENOSPC, "no VXLAN VNI is free");
	char key[24];
	snprintf(key, sizeof(key), "%ld", vni);
	json_object_set_new(c->rec, "vnet_id", json_integer(vni));
	json_t *vrec = json_pack("{s:O, s:O, s:I}", "owner",
				 json_object_get(c->rec, "owner"), "vlan_id",
				 json_object_get(c->rec, "vlan_id"), "vnet_id",
				 (json_int_t)vni);
	r = store_put(s, "vnis", key, vrec, "", NULL, c->err);
	json_decref(vrec);
	if (r < 0)
		return r;
	char *vk = vlan_key(hull_json_str(c->rec, "owner", ""),
			    (long)hull_json_int(c->rec, "vlan_id", 0));
	r = store_put(s, "vlans", vk, c->rec, "", NULL, c->err);
	free(vk);
	if (r == -ECANCELED)
		return hull_err_set(c->err, EEXIST, "vlan %ld exists",
				    (long)hull_json_int(c->rec, "vlan_id", 0));
	return r;
}

int head_vlan_create(struct store *s, const char *owner, json_t *in,
		     json_t **rec, struct hull_err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(in, k, v) if (
	    strcmp(k, "vlan_id") && strcmp(k, "name") &&
	    strcmp(k, "description")) return hull_err_set(err, EINVAL,
							  "unknown field %.60s",
							  k);
	json_t *id = json_object_get(in, "vlan_id");
	if (!json_is_integer(id) || json_integer_value(id) < 0 ||
	    json_integer_value(id) > 4094)
		return hull_err_set(err, EINVAL, "vlan_id: 0 to 4094");
	const char *name = hull_json_str(in, "name", NULL);
	if (!name_ok(name))
		return hull_err_set(err, EINVAL,
				    "name: 1 to 64 letters, digits and _.-");
	json_t *desc = json_object_get(in, "description");
	if (desc &&
	    (!json_is_string(desc) || strlen(json_string_value(desc)) > 255))
		return hull_err_set(err, EINVAL,
				    "description: a string of at most 255 "
				    "characters");
	json_t *r_ = json_pack("{s:s, s:O, s:s, s:s}", "owner", owner,
			       "vlan_id", id, "name", name, "description",
			       desc ? json_string_value(desc) : "");
	struct vlan_ctx c = {r_, err};
	int r = -ECANCELED;
	/* A VNI taken between our read and our write: look again. */
	for (int tries = 0; tries < 16 && r == -ECANCELED; tries++)
		r = store_txn(s, vlan_txn, &c, err);
	if (r == 0 && rec)
		*rec = json_incref(r_);
	json_decref(r_);
	return r;
}

struct vdel_ctx {
	const char *owner;
	long id;
	struct hull_err *err;
};

static int vlan_del_txn(struct store *s, void *arg)
{
	struct vdel_ctx *c = arg;
	json_t *vlan = NULL;
	int r = head_vlan_get(s, c->owner, c->id, &vlan, c->err);
	if (r < 0)
		return r;
	json_t *nets = NULL;
	if ((r = store_find(s, "networks", "owner", c->owner, &nets, c->err)) <
	    0) {
		json_decref(vlan);
		return r;
	}
	size_t i;
	json_t *n;
	json_array_foreach(nets, i, n)
	{
		if (hull_json_bool(n, "fabric", false) &&
		    hull_json_int(n, "vlan_id", -1) == c->id) {
			r = hull_err_set(c->err, EBUSY,
					 "vlan %ld has network %s on it", c->id,
					 hull_json_str(n, "name", ""));
			break;
		}
	}
	json_decref(nets);
	if (r == 0) {
		char key[24];
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT,
			 hull_json_int(vlan, "vnet_id", 0));
		char *vk = vlan_key(c->owner, c->id);
		r = store_del(s, "vlans", vk, NULL, c->err);
		free(vk);
		if (r == 0)
			r = store_del(s, "vnis", key, NULL, c->err);
	}
	json_decref(vlan);
	return r;
}

int head_vlan_delete(struct store *s, const char *owner, long vlan_id,
		     struct hull_err *err)
{
	struct vdel_ctx c = {owner, vlan_id, err};
	return store_txn(s, vlan_del_txn, &c, err);
}
