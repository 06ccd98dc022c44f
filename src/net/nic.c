/*
 * nic.c - parse and check nics[] and routes from an instance record.
 *
 * Follows SmartOS's vmadm: `ips` (CIDR, "dhcp", "addrconf") wins over the
 * legacy ip/netmask pair, `gateways` over `gateway`; `dhcp_server` is the old
 * name of allow_dhcp_spoofing, which implies allow_ip_spoofing. hull is
 * stricter than vmadm where a mistake would leave an unreachable instance: a
 * gateway must lie in one of the nic's subnets.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "net/nic.h"

bool net_tag_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= NET_TAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return false;
	return true;
}

bool net_etherstub_name_valid(const char *name)
{
	return net_tag_name_valid(name) &&
	       isdigit((unsigned char)name[strlen(name) - 1]);
}

const char *net_brand_ifprefix(const char *brand)
{
	return brand && strcmp(brand, "lx") == 0 ? "eth" : "net";
}

static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static int get_bool(json_t *nic, const char *key, unsigned idx, bool *out,
		    struct hull_err *err)
{
	json_t *v = json_object_get(nic, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return hull_err_set(err, EINVAL, "nics.%u.%s: not a boolean",
				    idx, key);
	*out = *out || json_is_true(v);
	return 0;
}

static int get_uint(json_t *nic, const char *key, unsigned idx, unsigned lo,
		    unsigned hi, unsigned *out, struct hull_err *err)
{
	json_t *v = json_object_get(nic, key);
	json_int_t n;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		/* SmartOS tools accept numbers given as strings. */
		const char *s = json_string_value(v);
		char *end;
		long long x;
		errno = 0;
		x = strtoll(s, &end, 10);
		if (!*s || *end || errno)
			return hull_err_set(err, EINVAL,
					    "nics.%u.%s: not a number: '%s'",
					    idx, key, s);
		n = x;
	} else if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else {
		return hull_err_set(err, EINVAL, "nics.%u.%s: not a number",
				    idx, key);
	}
	if (n < lo || n > hi)
		return hull_err_set(err, ERANGE,
				    "nics.%u.%s: %lld is out of range (%u-%u)",
				    idx, key, (long long)n, lo, hi);
	*out = (unsigned)n;
	return 0;
}

static int add_ip(struct net_nic *out, const char *s, unsigned idx,
		  struct hull_err *err)
{
	struct net_addr a;

	if (strcmp(s, "dhcp") == 0) {
		out->dhcp = true;
		return 0;
	}
	if (strcmp(s, "addrconf") == 0) {
		out->addrconf = true;
		return 0;
	}
	if (net_cidr_parse(s, false, &a) < 0)
		return hull_err_set(err, EINVAL,
				    "nics.%u.ips: not an address in CIDR form, "
				    "'dhcp' or 'addrconf': '%s'",
				    idx, s);
	for (size_t i = 0; i < out->nips; i++)
		if (net_addr_equal(&out->ips[i], &a))
			return hull_err_set(err, EINVAL,
					    "nics.%u.ips: duplicate address %s",
					    idx, s);
	if (out->nips >= NET_MAX_IPS)
		return hull_err_set(err, E2BIG,
				    "nics.%u.ips: more than %d addresses", idx,
				    NET_MAX_IPS);
	out->ips[out->nips++] = a;
	return 0;
}

static int parse_ips(json_t *nic, unsigned idx, struct net_nic *out,
		     struct hull_err *err)
{
	json_t *ips = json_object_get(nic, "ips"), *v;
	const char *ip = hull_json_str(nic, "ip", NULL);
	const char *mask = hull_json_str(nic, "netmask", NULL);
	size_t i;
	int r;

	if (ips && !json_is_null(ips)) {
		if (!json_is_array(ips))
			return hull_err_set(err, EINVAL,
					    "nics.%u.ips: not an array", idx);
		json_array_foreach(ips, i, v)
		{
			if (!json_is_string(v))
				return hull_err_set(err, EINVAL,
						    "nics.%u.ips: not a string",
						    idx);
			if ((r = add_ip(out, json_string_value(v), idx, err)))
				return r;
		}
		return 0;
	}
	if (json_object_get(nic, "ip") && !ip)
		return hull_err_set(err, EINVAL, "nics.%u.ip: not a string",
				    idx);
	if (!ip)
		return 0;
	if (strcmp(ip, "dhcp") == 0) {
		out->dhcp = true;
		return 0;
	}
	{
		struct net_addr a;
		unsigned prefix;
		if (net_addr_parse(ip, &a) < 0 || a.family != AF_INET)
			return hull_err_set(err, EINVAL,
					    "nics.%u.ip: not an IPv4 address: "
					    "'%s'",
					    idx, ip);
		if (!mask)
			return hull_err_set(err, EINVAL,
					    "nics.%u: ip %s needs a netmask",
					    idx, ip);
		if (net_netmask_parse(mask, &prefix) < 0)
			return hull_err_set(err, EINVAL,
					    "nics.%u.netmask: not a netmask: "
					    "'%s'",
					    idx, mask);
		a.prefix = prefix;
		out->ips[out->nips++] = a;
	}
	return 0;
}

static int add_gateway(struct net_nic *out, json_t *v, unsigned idx,
		       struct hull_err *err)
{
	const char *s = json_string_value(v);
	struct net_addr a;

	if (!s || net_addr_parse(s, &a) < 0)
		return hull_err_set(err, EINVAL,
				    "nics.%u.gateways: not an address: '%s'",
				    idx, s ? s : "(not a string)");
	if (out->ngateways >= NET_MAX_GATEWAYS)
		return hull_err_set(err, E2BIG,
				    "nics.%u.gateways: more than %d", idx,
				    NET_MAX_GATEWAYS);
	out->gateways[out->ngateways++] = a;
	return 0;
}

static bool is_ipv6_ll(const struct net_addr *a)
{
	return a->family == AF_INET6 && a->a[0] == 0xfe &&
	       (a->a[1] & 0xc0) == 0x80;
}

static int check_gateways(struct net_nic *out, unsigned idx,
			  struct hull_err *err)
{
	for (size_t g = 0; g < out->ngateways; g++) {
		const struct net_addr *gw = &out->gateways[g];
		bool has_family = false, inside = false;
		char txt[NET_ADDR_STRLEN];

		if (is_ipv6_ll(gw))
			continue; /* link-local routers are always on-link */
		for (size_t i = 0; i < out->nips; i++) {
			if (out->ips[i].family != gw->family)
				continue;
			has_family = true;
			if (net_addr_in_subnet(&out->ips[i], gw))
				inside = true;
		}
		/* Learned addresses (dhcp/addrconf) have unknown subnets. */
		if (!has_family)
			continue;
		if (!inside) {
			net_addr_format(gw, false, txt, sizeof(txt));
			return hull_err_set(err, EINVAL,
					    "nics.%u: gateway %s is outside "
					    "the nic's subnets",
					    idx, txt);
		}
	}
	return 0;
}

static int parse_gateways(json_t *nic, unsigned idx, struct net_nic *out,
			  struct hull_err *err)
{
	json_t *gws = json_object_get(nic, "gateways"), *v;
	size_t i;
	int r;

	if (gws && !json_is_null(gws)) {
		if (!json_is_array(gws))
			return hull_err_set(
			    err, EINVAL, "nics.%u.gateways: not an array", idx);
		json_array_foreach(gws, i, v)
		{
			if ((r = add_gateway(out, v, idx, err)))
				return r;
		}
	} else if ((v = json_object_get(nic, "gateway")) && !json_is_null(v) &&
		   !(json_is_string(v) && !*json_string_value(v))) {
		if ((r = add_gateway(out, v, idx, err)))
			return r;
	}
	return check_gateways(out, idx, err);
}

static int parse_blocked(json_t *nic, unsigned idx, struct net_nic *out,
			 struct hull_err *err)
{
	json_t *a = json_object_get(nic, "blocked_outgoing_ports"), *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return hull_err_set(err, EINVAL,
				    "nics.%u.blocked_outgoing_ports: not an "
				    "array",
				    idx);
	if (json_array_size(a) > NET_MAX_BLOCKED)
		return hull_err_set(err, E2BIG,
				    "nics.%u.blocked_outgoing_ports: more than "
				    "%d",
				    idx, NET_MAX_BLOCKED);
	json_array_foreach(a, i, v)
	{
		json_int_t p = json_is_integer(v) ? json_integer_value(v) : -1;
		if (p < 1 || p > 65535)
			return hull_err_set(err, EINVAL,
					    "nics.%u.blocked_outgoing_ports: "
					    "not a port (1-65535)",
					    idx);
		out->blocked_ports[out->nblocked++] = (uint16_t)p;
	}
	return 0;
}

static int parse_allowed(json_t *nic, unsigned idx, struct net_nic *out,
			 struct hull_err *err)
{
	json_t *a = json_object_get(nic, "allowed_ips"), *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return hull_err_set(err, EINVAL,
				    "nics.%u.allowed_ips: not an array", idx);
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || net_cidr_parse(s, true, &out->allowed[out->nallowed]))
			return hull_err_set(err, EINVAL,
					    "nics.%u.allowed_ips: not an "
					    "address or subnet: '%s'",
					    idx, s ? s : "(not a string)");
		if (++out->nallowed >= NET_MAX_ALLOWED)
			return hull_err_set(err, E2BIG,
					    "nics.%u.allowed_ips: more than %d",
					    idx, NET_MAX_ALLOWED - 1);
	}
	return 0;
}

int net_nic_parse(json_t *nic, unsigned index, const char *brand,
		  struct net_nic *out, struct hull_err *err)
{
	const char *tag, *mac, *ifname;
	json_t *v;
	int r;

	memset(out, 0, sizeof(*out));
	out->index = index;
	if (!json_is_object(nic))
		return hull_err_set(err, EINVAL, "nics.%u: not an object",
				    index);
	tag = hull_json_str(nic, "nic_tag", NULL);
	if (!tag)
		return hull_err_set(err, EINVAL, "nics.%u: no nic_tag", index);
	if (strchr(tag, '/'))
		return hull_err_set(err, ENOTSUP,
				    "nics.%u.nic_tag: overlay nic tags are not "
				    "supported: '%s'",
				    index, tag);
	if (!net_tag_name_valid(tag))
		return hull_err_set(err, EINVAL,
				    "nics.%u.nic_tag: invalid tag name '%s'",
				    index, tag);
	snprintf(out->tag, sizeof(out->tag), "%s", tag);

	mac = hull_json_str(nic, "mac", NULL);
	if (!mac)
		return hull_err_set(err, EINVAL, "nics.%u: no mac", index);
	if (hull_mac_parse(mac, out->mac) < 0)
		return hull_err_set(err, EINVAL,
				    "nics.%u.mac: invalid MAC address '%s'",
				    index, mac);
	if (!hull_mac_is_unicast(out->mac))
		return hull_err_set(err, EINVAL,
				    "nics.%u.mac: not a unicast MAC address "
				    "'%s'",
				    index, mac);

	if ((v = json_object_get(nic, "interface")) && !json_is_null(v)) {
		ifname = json_string_value(v);
		if (!ifname || !ifname_valid(ifname))
			return hull_err_set(err, EINVAL,
					    "nics.%u.interface: invalid name",
					    index);
		snprintf(out->interface, sizeof(out->interface), "%s", ifname);
	} else {
		snprintf(out->interface, sizeof(out->interface), "%s%u",
			 net_brand_ifprefix(brand), index);
	}

	if ((r = get_uint(nic, "vlan_id", index, 0, NET_VLAN_MAX, &out->vlan_id,
			  err)))
		return r;
	if ((r = get_uint(nic, "mtu", index, 576, 9000, &out->mtu, err)))
		return r;
	if ((v = json_object_get(nic, "primary")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return hull_err_set(err, EINVAL,
					    "nics.%u.primary: not a boolean",
					    index);
		out->primary = json_is_true(v);
	}
	if ((r = get_bool(nic, "allow_ip_spoofing", index,
			  &out->allow_ip_spoofing, err)) ||
	    (r = get_bool(nic, "allow_mac_spoofing", index,
			  &out->allow_mac_spoofing, err)) ||
	    (r = get_bool(nic, "allow_dhcp_spoofing", index,
			  &out->allow_dhcp_spoofing, err)) ||
	    (r = get_bool(nic, "dhcp_server", index, &out->allow_dhcp_spoofing,
			  err)) ||
	    (r = get_bool(nic, "allow_restricted_traffic", index,
			  &out->allow_restricted_traffic, err)) ||
	    (r = get_bool(nic, "allow_unfiltered_promisc", index,
			  &out->allow_unfiltered_promisc, err)))
		return r;
	if (out->allow_dhcp_spoofing)
		out->allow_ip_spoofing = true;

	if ((r = parse_ips(nic, index, out, err)) ||
	    (r = parse_gateways(nic, index, out, err)) ||
	    (r = parse_allowed(nic, index, out, err)) ||
	    (r = parse_blocked(nic, index, out, err)))
		return r;
	return 0;
}

/* "nics[N]" or "macs[aa:bb:..]" to a nic index; -1 when it names none. */
static int route_nic(const struct net_config *c, const char *gw)
{
	size_t n = strlen(gw);
	char inner[64];

	if (n < 7 || gw[n - 1] != ']' || n - 6 >= sizeof(inner))
		return -2;
	if (strncmp(gw, "nics[", 5) == 0) {
		char *end;
		long i;
		memcpy(inner, gw + 5, n - 6);
		inner[n - 6] = 0;
		i = strtol(inner, &end, 10);
		if (!*inner || *end || i < 0 || (size_t)i >= c->nnics)
			return -1;
		return (int)i;
	}
	if (strncmp(gw, "macs[", 5) == 0) {
		uint8_t m[HULL_MAC_LEN];
		memcpy(inner, gw + 5, n - 6);
		inner[n - 6] = 0;
		if (hull_mac_parse(inner, m) < 0)
			return -1;
		for (size_t i = 0; i < c->nnics; i++)
			if (memcmp(c->nics[i].mac, m, HULL_MAC_LEN) == 0)
				return (int)i;
		return -1;
	}
	return -2;
}

static int parse_routes(json_t *record, struct net_config *c,
			struct hull_err *err)
{
	json_t *routes = json_object_get(record, "routes"), *v;
	const char *dst;

	if (!routes || json_is_null(routes))
		return 0;
	if (!json_is_object(routes))
		return hull_err_set(err, EINVAL, "routes: not an object");
	json_object_foreach(routes, dst, v)
	{
		struct net_route *rt = &c->routes[c->nroutes];
		const char *gw = json_string_value(v);
		int nic;

		if (c->nroutes >= NET_MAX_ROUTES)
			return hull_err_set(err, E2BIG, "routes: more than %d",
					    NET_MAX_ROUTES);
		memset(rt, 0, sizeof(*rt));
		if (net_cidr_parse(dst, true, &rt->dst) < 0)
			return hull_err_set(err, EINVAL,
					    "routes: not an address or subnet: "
					    "'%s'",
					    dst);
		if (!gw)
			return hull_err_set(
			    err, EINVAL, "routes.%s: gateway is not a string",
			    dst);
		nic = route_nic(c, gw);
		if (nic == -1)
			return hull_err_set(err, EINVAL,
					    "routes.%s: '%s' names no nic", dst,
					    gw);
		if (nic >= 0) {
			rt->linklocal = true;
			rt->nic = (unsigned)nic;
		} else if (net_addr_parse(gw, &rt->gw) < 0 ||
			   rt->gw.family != rt->dst.family) {
			return hull_err_set(err, EINVAL,
					    "routes.%s: not a gateway for it: "
					    "'%s'",
					    dst, gw);
		}
		c->nroutes++;
	}
	return 0;
}

int net_config_parse(json_t *record, struct net_config *c, struct hull_err *err)
{
	const char *brand = hull_json_str(record, "brand", "joyent");
	json_t *nics = json_object_get(record, "nics"), *v;
	size_t i;
	int r;

	memset(c, 0, sizeof(*c));
	c->primary = -1;
	if (!json_is_object(record))
		return hull_err_set(err, EINVAL, "record: not an object");
	if (nics && !json_is_null(nics)) {
		if (!json_is_array(nics))
			return hull_err_set(err, EINVAL, "nics: not an array");
		if (json_array_size(nics) > NET_MAX_NICS)
			return hull_err_set(err, E2BIG,
					    "nics: more than %d nics",
					    NET_MAX_NICS);
		json_array_foreach(nics, i, v)
		{
			struct net_nic *n = &c->nics[i];
			char txt[HULL_MAC_STRLEN];

			if ((r = net_nic_parse(v, (unsigned)i, brand, n, err)))
				return r;
			c->nnics = i + 1;
			for (size_t j = 0; j < i; j++) {
				if (!memcmp(c->nics[j].mac, n->mac,
					    HULL_MAC_LEN)) {
					hull_mac_format(n->mac, txt);
					return hull_err_set(
					    err, EEXIST,
					    "nics.%zu.mac: duplicate MAC "
					    "address %s",
					    i, txt);
				}
				if (!strcmp(c->nics[j].interface, n->interface))
					return hull_err_set(
					    err, EEXIST,
					    "nics.%zu.interface: duplicate "
					    "interface %s",
					    i, n->interface);
			}
			if (n->primary) {
				if (c->primary >= 0)
					return hull_err_set(
					    err, EINVAL,
					    "nics.%zu.primary: more than "
					    "one primary nic",
					    i);
				c->primary = (int)i;
			}
		}
		if (c->primary < 0 && c->nnics > 0)
			c->primary = 0;
	}
	return parse_routes(record, c, err);
}
