/*
 * nics.c - defaults for nics and the upgrade of their older address form
 * (see nics.h).
 */
#include "vm/nics.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mac.h"
#include "vm/check.h"
#include "vm/proptable.h"

void vm_nics_assign(json_t *nics, unsigned brand)
{
	if (!json_is_array(nics))
		return;
	const char *pfx = brand == VM_BRAND_LX ? "eth" : "net";
	int next = 0;
	size_t i;
	json_t *nic;
	bool primary = false;
	json_array_foreach(nics, i, nic)
	{
		const char *ifc =
		    json_string_value(json_object_get(nic, "interface"));
		if (ifc && strlen(ifc) > 3 && atoi(ifc + 3) >= next)
			next = atoi(ifc + 3) + 1;
		primary =
		    primary || json_is_true(json_object_get(nic, "primary"));
	}
	json_array_foreach(nics, i, nic)
	{
		if (!json_is_object(nic))
			continue;
		if (!json_object_get(nic, "interface")) {
			char name[16];
			snprintf(name, sizeof(name), "%s%d", pfx, next++);
			json_object_set_new(nic, "interface",
					    json_string(name));
		}
		if (!primary) {
			json_object_set_new(nic, "primary", json_true());
			primary = true;
		}
	}
}

void vm_nics_fill_macs(json_t *nics, unsigned (*rand32)(void))
{
	size_t i;
	json_t *nic;
	json_array_foreach(nics, i, nic)
	{
		if (!json_is_object(nic) || json_object_get(nic, "mac"))
			continue;
		char mac[HULL_MAC_STRLEN];
		json_t *vrid = json_object_get(nic, "vrrp_vrid");
		if (json_is_integer(vrid)) {
			snprintf(mac, sizeof(mac), "00:00:5e:00:01:%02x",
				 (unsigned)json_integer_value(vrid) & 0xff);
		} else {
			unsigned a = rand32(), b = rand32();
			const uint8_t r[HULL_MAC_LEN] = {
			    (uint8_t)(a >> 24), (uint8_t)(a >> 16),
			    (uint8_t)(a >> 8),	(uint8_t)a,
			    (uint8_t)(b >> 8),	(uint8_t)b};
			uint8_t m[HULL_MAC_LEN];
			hull_mac_from_random(r, m);
			hull_mac_format(m, mac);
		}
		json_object_set_new(nic, "mac", json_string(mac));
	}
}

static bool autoconf(const char *s)
{
	return s && (!strcmp(s, "dhcp") || !strcmp(s, "addrconf"));
}

/* "ADDR/BITS" for an IPv4 address with a prefix length from 8 to 32, as
 * SmartOS's representative-address rule wants; fills addr and bits. */
static bool cidr4(const char *s, char addr[INET_ADDRSTRLEN], unsigned *bits)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash - s >= INET_ADDRSTRLEN)
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, addr, &a) != 1)
		return false;
	char *end;
	long b = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end || b < 8 || b > 32)
		return false;
	*bits = (unsigned)b;
	return true;
}

int vm_nic_upgrade(json_t *nic, char *why, size_t n)
{
	const char *ip = json_string_value(json_object_get(nic, "ip"));
	const char *mask = json_string_value(json_object_get(nic, "netmask"));
	unsigned bits;
	if (mask && !vm_check_netmask(mask, &bits)) {
		snprintf(why, n, "netmask %s is not an IPv4 netmask", mask);
		return -1;
	}
	if (ip && !json_object_get(nic, "ips")) {
		char cidr[INET6_ADDRSTRLEN + 8];
		if (autoconf(ip)) {
			snprintf(cidr, sizeof(cidr), "%s", ip);
		} else if (mask) {
			snprintf(cidr, sizeof(cidr), "%s/%u", ip, bits);
			json_object_del(nic, "netmask");
		} else {
			snprintf(why, n, "ip %s needs a netmask", ip);
			return -1;
		}
		json_object_set_new(nic, "ips", json_pack("[s]", cidr));
	}
	json_object_del(nic, "ip");
	json_t *gw = json_object_get(nic, "gateway");
	if (json_is_string(gw) && !json_object_get(nic, "gateways"))
		json_object_set_new(nic, "gateways", json_pack("[O]", gw));
	json_object_del(nic, "gateway");
	return 0;
}

/* The nic's one IPv4 address and netmask, for an update that changes
 * only one of them (SmartOS needs exactly one IPv4 address there). */
static bool nic_one_ipv4(json_t *nic, char addr[INET_ADDRSTRLEN],
			 char mask[INET_ADDRSTRLEN])
{
	json_t *ips = json_object_get(nic, "ips");
	unsigned bits;
	mask[0] = '\0';
	if (json_is_array(ips)) {
		const char *s = json_string_value(json_array_get(ips, 0));
		if (json_array_size(ips) != 1 || !s || !cidr4(s, addr, &bits))
			return false;
		struct in_addr m = {
		    .s_addr = htonl(bits ? 0xffffffffu << (32 - bits) : 0)};
		inet_ntop(AF_INET, &m, mask, INET_ADDRSTRLEN);
		return true;
	}
	const char *ip = json_string_value(json_object_get(nic, "ip"));
	const char *nm = json_string_value(json_object_get(nic, "netmask"));
	if (!ip || strlen(ip) >= INET_ADDRSTRLEN)
		return false;
	snprintf(addr, INET_ADDRSTRLEN, "%s", ip);
	if (nm && strlen(nm) < INET_ADDRSTRLEN)
		snprintf(mask, INET_ADDRSTRLEN, "%s", nm);
	return true;
}

int vm_nic_upgrade_update(json_t *upd, json_t *old, char *why, size_t n)
{
	char addr[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];
	const char *ip = json_string_value(json_object_get(upd, "ip"));
	bool has_mask = json_object_get(upd, "netmask") != NULL;
	bool half = has_mask ? !ip : ip && !autoconf(ip);
	if (!json_object_get(upd, "ips") && half) {
		if (!old || !nic_one_ipv4(old, addr, mask)) {
			snprintf(why, n,
				 "changing ip or netmask needs the nic to "
				 "have exactly one IPv4 address");
			return -1;
		}
		if (!ip)
			json_object_set_new(upd, "ip", json_string(addr));
		if (!has_mask) {
			if (!mask[0]) {
				snprintf(why, n,
					 "ip %s needs a netmask and the nic "
					 "has none",
					 ip);
				return -1;
			}
			json_object_set_new(upd, "netmask", json_string(mask));
		}
	}
	return vm_nic_upgrade(upd, why, n);
}

void vm_nic_represent(json_t *nic)
{
	if (!json_is_object(nic))
		return;
	char why[64];
	if (json_object_get(nic, "ip") || json_object_get(nic, "gateway")) {
		/* An older record: upgrade what can be, keep what cannot. */
		json_t *copy = json_deep_copy(nic);
		if (vm_nic_upgrade(copy, why, sizeof(why)) == 0)
			json_object_update(nic, copy);
		json_decref(copy);
		if (!json_object_get(nic, "ips"))
			return;
	}
	json_t *ips = json_object_get(nic, "ips");
	json_t *gws = json_object_get(nic, "gateways");
	json_object_del(nic, "ip");
	json_object_del(nic, "netmask");
	json_object_del(nic, "gateway");
	size_t i;
	json_t *e;
	json_array_foreach(ips, i, e)
	{
		const char *s = json_string_value(e);
		char addr[INET_ADDRSTRLEN];
		unsigned bits;
		if (s && !strcmp(s, "dhcp")) {
			json_object_set_new(nic, "ip", json_string(s));
			break;
		}
		if (s && cidr4(s, addr, &bits)) {
			struct in_addr m = {
			    .s_addr = htonl(0xffffffffu << (32 - bits))};
			char mask[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &m, mask, sizeof(mask));
			json_object_set_new(nic, "ip", json_string(addr));
			json_object_set_new(nic, "netmask", json_string(mask));
			break;
		}
	}
	json_array_foreach(gws, i, e)
	{
		const char *s = json_string_value(e);
		struct in_addr a;
		if (s && inet_pton(AF_INET, s, &a) == 1) {
			json_object_set_new(nic, "gateway", json_string(s));
			break;
		}
	}
}

void vm_nics_represent(json_t *nics)
{
	size_t i;
	json_t *nic;
	json_array_foreach(nics, i, nic) vm_nic_represent(nic);
}
