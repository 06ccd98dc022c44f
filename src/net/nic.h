/*
 * nic.h - the network part of an instance record, parsed and checked: the
 * nics[] array (SmartOS sub-fields, spec/smartos.md §5.2) and the routes
 * object. Pure: JSON in, structs out, no I/O, so the payload parser can be
 * unit-tested and fuzzed (tests/fuzz/fuzz_net_nics.c).
 *
 * What needs the host (does the nic tag exist, is a MAC used by another
 * instance) is checked by the callers in instance.c.
 */
#ifndef HULL_NET_NIC_H
#define HULL_NET_NIC_H
#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "net/addr.h"
#include "lib/mac.h"

#define NET_MAX_NICS 32 /* bounded so names stay in IFNAMSIZ */
#define NET_MAX_IPS 20	/* SmartOS: ips has at most 20 entries */
#define NET_MAX_ALLOWED 64
#define NET_MAX_GATEWAYS 8
#define NET_MAX_ROUTES 64
#define NET_MAX_BLOCKED 64
#define NET_TAG_MAX 31	  /* SmartOS: tag names are < 31 characters */
#define NET_VLAN_MAX 4094 /* 4095 is reserved by 802.1Q; Linux refuses it */

struct net_nic {
	unsigned index; /* position in nics[] */
	char tag[NET_TAG_MAX + 1];
	uint8_t mac[HULL_MAC_LEN];
	char interface[IFNAMSIZ]; /* the name inside the instance */
	unsigned vlan_id;	  /* 0: untagged */
	unsigned mtu;		  /* 0: the link's default */
	bool primary;
	bool dhcp;     /* ips holds "dhcp" (or ip is "dhcp") */
	bool addrconf; /* ips holds "addrconf": SLAAC/DHCPv6 */
	size_t nips;
	struct net_addr ips[NET_MAX_IPS]; /* static addresses with prefix */
	size_t ngateways;
	struct net_addr gateways[NET_MAX_GATEWAYS];
	size_t nallowed;
	struct net_addr allowed[NET_MAX_ALLOWED]; /* allowed_ips */
	bool allow_ip_spoofing;
	bool allow_mac_spoofing;
	bool allow_dhcp_spoofing; /* implies allow_ip_spoofing */
	bool allow_restricted_traffic;
	bool allow_unfiltered_promisc; /* VMs: more MACs behind the nic */
	size_t nblocked;
	uint16_t blocked_ports[NET_MAX_BLOCKED]; /* blocked_outgoing_ports */
};

struct net_route {
	struct net_addr dst; /* with prefix */
	bool linklocal;	     /* gw was nics[N] or macs[...]: on-link via nic */
	unsigned nic;	     /* with linklocal: index into nics[] */
	struct net_addr gw;  /* without linklocal */
};

struct net_config {
	size_t nnics;
	struct net_nic nics[NET_MAX_NICS];
	size_t nroutes;
	struct net_route routes[NET_MAX_ROUTES];
	int primary; /* index of the primary nic, -1 when there are none */
};

/* True for a SmartOS nic tag name: [A-Za-z0-9_], 1..30 characters. */
bool net_tag_name_valid(const char *name);
/* True for an etherstub name: a tag name that ends in a digit. */
bool net_etherstub_name_valid(const char *name);

/* The interface prefix a brand's guests see: "eth" for lx, else "net". */
const char *net_brand_ifprefix(const char *brand);

/* Parses one nics[] entry (index is its position, brand picks the default
 * interface name). Messages name the field: "nics.1.vlan_id: ...". */
int net_nic_parse(json_t *nic, unsigned index, const char *brand,
		  struct net_nic *out, struct hull_err *err);
/* Parses record's nics[] and routes, checks what spans nics (duplicate MACs
 * and interface names, one primary, routes naming a nic). */
int net_config_parse(json_t *record, struct net_config *out,
		     struct hull_err *err);
#endif
