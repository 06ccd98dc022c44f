/*
 * portolan.c - who is where on the fabrics (Triton's portolan role): for
 * one compute node, the VXLAN segments it must carry and, for each, the
 * other nodes' VTEPs and the MACs behind them; and every compute node's
 * underlay address, from which alone VXLAN is accepted. Built from the
 * records on each call (machines, networks, servers), so it is never
 * out of date with them: an instance created, moved or deleted shows in
 * the next answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "head/networks.h"
#include "lib/json.h"
#include "lib/xalloc.h"

void head_mac_new(char out[18])
{
	unsigned char b[6] = {0};
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0x5a, sizeof(b));
	b[0] = (unsigned char)((b[0] & 0xfe) | 0x02);
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5]);
}

static bool present(json_t *m)
{
	const char *st = hull_json_str(m, "state", "");
	return strcmp(st, "deleted") && strcmp(st, "failed");
}

/* The NAT gateways of a segment that server runs: each network's gateway
 * runs on one node, the lowest server uuid with an instance on the
 * segment (one gateway address, one MAC, on one segment). */
static json_t *nats_here(json_t *seg, const char *server)
{
	json_t *out = json_array();
	const char *first = NULL, *u;
	json_t *x;
	json_object_foreach(json_object_get(seg, "uuids"), u, x)
	{
		if (!first || strcmp(u, first) < 0)
			first = u;
	}
	if (!first || strcmp(first, server))
		return out;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(seg, "nets"), i, n)
	{
		const char *sub = hull_json_str(n, "subnet", "");
		const char *sl = strchr(sub, '/');
		json_t *nat = json_object_get(n, "nat");
		if (!hull_json_str(n, "gateway", NULL))
			continue;
		json_array_append_new(
		    out,
		    json_pack("{s:O, s:O, s:i, s:O, s:O, s:O, s:O, s:O}", "id",
			      json_object_get(n, "id"), "gateway",
			      json_object_get(n, "gateway"), "prefix",
			      sl ? atoi(sl + 1) : 24, "ext_ip",
			      json_object_get(nat, "ip"), "ext_prefix",
			      json_object_get(nat, "prefix"), "ext_gateway",
			      json_object_get(nat, "gateway"), "ext_nic_tag",
			      json_object_get(nat, "nic_tag"), "ext_vlan_id",
			      json_object_get(nat, "vlan_id")));
	}
	return out;
}

int head_fabric_map(struct store *s, const char *server, json_t **out,
		    struct hull_err *err)
{
	json_t *servers = NULL, *nets = NULL, *machines = NULL;
	int r;
	if ((r = store_find(s, "servers", NULL, NULL, &servers, err)) < 0 ||
	    (r = store_find(s, "networks", NULL, NULL, &nets, err)) < 0 ||
	    (r = store_find(s, "machines", NULL, NULL, &machines, err)) < 0) {
		json_decref(servers);
		json_decref(nets);
		return r;
	}
	json_t *vtep = json_object(), *vteps = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(servers, i, v)
	{
		/* What the agent reported: an IPv4 address, or nothing. */
		const char *ip = hull_json_str(v, "underlay_ip", NULL);
		struct head_ip a;
		if (!ip || head_ip_parse(ip, &a) < 0 || a.af != AF_INET)
			continue;
		json_object_set_new(vtep, hull_json_str(v, "uuid", ""),
				    json_string(ip));
		json_array_append_new(vteps, json_string(ip));
	}
	json_t *fabric = json_object(); /* network id -> network */
	json_array_foreach(nets, i, v) if (hull_json_bool(v, "fabric", false))
	    json_object_set(fabric, hull_json_str(v, "id", ""), v);
	/* vni -> {nic_tag, mtu, here, servers: {uuid: true}, macs} */
	json_t *segs = json_object();
	json_array_foreach(machines, i, v)
	{
		if (!present(v))
			continue;
		const char *at = hull_json_str(v, "server", "");
		size_t k;
		json_t *nic;
		json_array_foreach(json_object_get(v, "nics"), k, nic)
		{
			json_t *net = json_object_get(
			    fabric, hull_json_str(nic, "network", ""));
			if (!net)
				continue;
			char vni[24];
			snprintf(vni, sizeof(vni), "%" JSON_INTEGER_FORMAT,
				 hull_json_int(net, "vnet_id", 0));
			json_t *seg = json_object_get(segs, vni);
			if (!seg) {
				char *tag = xasprintf("%s_%s",
						      HEAD_FABRIC_NIC_TAG, vni);
				seg = json_pack(
				    "{s:I, s:s, s:I, s:b, s:{}, s:{}, s:{}, "
				    "s:[]}",
				    "vni", hull_json_int(net, "vnet_id", 0),
				    "nic_tag", tag, "mtu",
				    hull_json_int(net, "mtu", HEAD_FABRIC_MTU),
				    "here", 0, "servers", "macs", "uuids",
				    "nets");
				free(tag);
				json_object_set_new(segs, vni, seg);
			}
			json_object_set(json_object_get(seg, "uuids"), at,
					json_true());
			if (json_object_get(net, "nat")) {
				json_t *on = json_object_get(seg, "nets");
				bool have = false;
				size_t q;
				json_t *x;
				json_array_foreach(on, q, x) have |= x == net;
				if (!have)
					json_array_append(on, net);
			}
			if (!strcmp(at, server)) {
				json_object_set_new(seg, "here", json_true());
				continue;
			}
			const char *ip = hull_json_str(vtep, at, NULL);
			if (!ip)
				continue;
			json_object_set(json_object_get(seg, "servers"), ip,
					json_true());
			const char *mac = hull_json_str(nic, "mac", NULL);
			if (mac)
				json_object_set_new(
				    json_object_get(seg, "macs"), mac,
				    json_string(ip));
		}
	}
	json_t *res = json_array();
	const char *key;
	json_object_foreach(segs, key, v)
	{
		if (!hull_json_bool(v, "here", false))
			continue;
		json_t *remotes = json_array();
		const char *ip;
		json_t *x;
		json_object_foreach(json_object_get(v, "servers"), ip, x)
		    json_array_append_new(remotes, json_string(ip));
		json_array_append_new(
		    res, json_pack("{s:O, s:O, s:O, s:o, s:O, s:o}", "vni",
				   json_object_get(v, "vni"), "nic_tag",
				   json_object_get(v, "nic_tag"), "mtu",
				   json_object_get(v, "mtu"), "remotes",
				   remotes, "macs", json_object_get(v, "macs"),
				   "nats", nats_here(v, server)));
	}
	*out = json_pack("{s:o, s:o}", "vteps", vteps, "segments", res);
	json_decref(segs);
	json_decref(fabric);
	json_decref(vtep);
	json_decref(servers);
	json_decref(nets);
	json_decref(machines);
	return 0;
}
