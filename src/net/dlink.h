/*
 * dlink.h - dladm's data links on Linux: what the kernel holds, classified
 * the way illumos's dladm(8) shows it, and the links dladm makes.
 *
 *   phys       a link without a kind (a NIC, virtio), or a veth/dummy that
 *              hull did not make (the "physical" links of a container or a
 *              test namespace)
 *   aggr       a bond (LACP 802.3ad, or active-backup without LACP)
 *   vlan       an 802.1Q link over another
 *   vnic       a macvlan (bridge mode) over a phys, aggr, vlan or
 *              etherstub; hull's own instance ports (veth, tap) show as
 *              vnics too
 *   etherstub  a bridge with no uplink, marked with the alias
 *              NET_ETHERSTUB_ALIAS
 *   bridge     any other bridge (a nic tag's hbNAME)
 *
 * A vnic with a VLAN ID (create-vnic -v, as on illumos) is a macvlan over
 * an 802.1Q link made for it on the fly, marked with the alias
 * NET_VNIC_VLAN_ALIAS: dladm shows it as the vnic's OVER and VID and
 * lists no such link ("other"); it goes when its last vnic goes.
 *
 * Everything works in the network namespace of the socket given; nothing
 * here prints. Functions return 0 or a negative errno-style code with err
 * set.
 */
#ifndef HULL_NET_DLINK_H
#define HULL_NET_DLINK_H
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/mac.h"

struct nl_sock;

#define NET_ETHERSTUB_ALIAS "hull-etherstub"
#define NET_VNIC_ALIAS_RANDOM "hull-vnic:random"
#define NET_VNIC_ALIAS_FIXED "hull-vnic:fixed"
#define NET_AGGR_ALIAS_FIXED "hull-aggr:fixed"
#define NET_VNIC_VLAN_ALIAS "hull-vnic-vlan"
#define NET_AGGR_MAX_PORTS 16

enum net_dl_class {
	NET_DL_PHYS,
	NET_DL_AGGR,
	NET_DL_VLAN,
	NET_DL_VNIC,
	NET_DL_ETHERSTUB,
	NET_DL_BRIDGE,
	NET_DL_OTHER,
};

/* LACP activity of an aggregation; OFF is active-backup. */
enum net_lacp { NET_LACP_OFF, NET_LACP_ACTIVE, NET_LACP_PASSIVE };

struct net_dl_link {
	char name[IFNAMSIZ];
	int ifindex;
	enum net_dl_class cls;
	char kind[16]; /* IFLA_INFO_KIND, "" for none */
	unsigned mtu;
	bool up;       /* IFF_UP */
	bool lower_up; /* IFF_LOWER_UP: carrier */
	int master;    /* ifindex, 0 for none */
	int lower;     /* IFLA_LINK: a vlan's or vnic's link, 0 for none */
	bool has_mac;
	uint8_t mac[HULL_MAC_LEN];
	char alias[128];
	unsigned vid;	 /* vlan: its VID */
	int bond_mode;	 /* aggr: BOND_MODE_*, -1 unknown */
	int lacp_rate;	 /* aggr: 0 slow (long), 1 fast (short) */
	int lacp_active; /* aggr: 1 active, 0 passive, -1 unknown */
	int xmit_hash;	 /* aggr: BOND_XMIT_POLICY_* */
};

/* The class name dladm prints ("phys", "aggr", ...). */
const char *net_dl_class_name(enum net_dl_class c);

/* Every link of the namespace but the loopback, in ifindex order. *out is
 * the caller's to free. */
int net_dl_list(struct nl_sock *sk, struct net_dl_link **out, size_t *n,
		struct hull_err *err);
/* Finds name in a list; NULL when absent. */
const struct net_dl_link *net_dl_find(const struct net_dl_link *v, size_t n,
				      const char *name);
const struct net_dl_link *net_dl_find_index(const struct net_dl_link *v,
					    size_t n, int ifindex);

/* A dladm link name: starts with a letter, then letters, digits, '_' or
 * '.', ends in a digit, fits IFNAMSIZ (illumos's rule, with Linux's
 * length). */
bool net_dl_name_valid(const char *name);

/* Makes an etherstub: a bridge with VLAN filtering (where the kernel has
 * it), up, with a fixed random MAC. */
int net_dl_etherstub_create(struct nl_sock *sk, const char *name,
			    struct hull_err *err);
/* A vnic over link: a macvlan in bridge mode with mac (NULL: a random
 * locally administered one) and mtu (0: the link's), up. vid (1..4094,
 * 0 for none) puts it on that VLAN: over the 802.1Q link with vid over
 * link, made when there is none (a phys link or an aggr only); a kernel
 * without 802.1Q support gives -EOPNOTSUPP. */
int net_dl_vnic_create(struct nl_sock *sk, const char *name, const char *over,
		       const uint8_t *mac, unsigned mtu, unsigned vid,
		       struct hull_err *err);
/* The link a vnic is shown over, and its VID: for a vnic -v, the link
 * under its 802.1Q link. */
const struct net_dl_link *net_dl_vnic_over(const struct net_dl_link *v,
					   size_t n,
					   const struct net_dl_link *vnic,
					   unsigned *vid);
/* An 802.1Q link over over with vid (1..4094), up. */
int net_dl_vlan_create(struct nl_sock *sk, const char *name, const char *over,
		       unsigned vid, struct hull_err *err);

struct net_aggr_spec {
	size_t nports;
	const char *ports[NET_AGGR_MAX_PORTS];
	enum net_lacp lacp;
	bool lacp_short;    /* -T short: fast LACPDUs */
	int xmit_hash;	    /* BOND_XMIT_POLICY_* */
	const uint8_t *mac; /* -u: fixed, or NULL (the first port's) */
};
/* A bond over the ports (each without a master, none already a port). */
int net_dl_aggr_create(struct nl_sock *sk, const char *name,
		       const struct net_aggr_spec *spec, struct hull_err *err);

/* Deletes a link dladm made, after checking it is of class want and that
 * no vlan, vnic or bridge port sits on it. */
int net_dl_delete(struct nl_sock *sk, const char *name, enum net_dl_class want,
		  struct hull_err *err);

/* A link's speed in Mb/s (0: unknown), duplex ("full", "half",
 * "unknown") and driver name ("" unknown), through ethtool's ioctl. */
void net_dl_ethtool(const char *name, unsigned *speed, char duplex[8],
		    char driver[32]);
#endif
