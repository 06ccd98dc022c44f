/*
 * netlink.h - the kernel side of hull's networking, through libnl-3 and
 * libnl-route-3 (never `ip` subprocesses): bridges with VLAN filtering, veth
 * pairs whose peer is born inside an instance's network namespace, links'
 * MTU/MAC/alias/master/state, bridge port VLANs, addresses and routes.
 *
 * A struct nl_sock works in the network namespace it was opened in;
 * net_nl_open() opens one in any namespace (a helper thread setns(2)s, opens
 * the socket and exits), so the caller's own namespace never changes.
 * Functions take link names and return 0 or a negative errno-style code with
 * err set.
 */
#ifndef HULL_NET_NETLINK_H
#define HULL_NET_NETLINK_H
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "net/addr.h"
#include "lib/mac.h"

struct nl_sock;

/* Runs fn(arg) on a new thread that has joined the network namespace
 * netns_fd (-1: the caller's). Returns fn's result. */
int net_in_netns(int netns_fd, int (*fn)(void *arg), void *arg,
		 struct hull_err *err);

/* A route socket in netns_fd (-1: the caller's namespace). Owned by the
 * caller; net_nl_close() accepts NULL. */
struct nl_sock *net_nl_open(int netns_fd, struct hull_err *err);
void net_nl_close(struct nl_sock *sk);

/* ifindex of name, or -ENODEV. */
int net_link_index(struct nl_sock *sk, const char *name);
/* Finds a link whose address is mac (bridges and veth/tap ports of hull
 * excluded); writes its name. 0 or -ENODEV. */
int net_link_find_by_mac(struct nl_sock *sk, const uint8_t mac[HULL_MAC_LEN],
			 char name[IFNAMSIZ]);
/* The ifindex of a link's master (0: none), or -ENODEV. */
int net_link_master(struct nl_sock *sk, const char *name);
/* True when name is an etherstub dladm made (see dlink.h). */
bool net_link_is_etherstub(struct nl_sock *sk, const char *name);
/* The MAC of a link. */
int net_link_mac(struct nl_sock *sk, const char *name,
		 uint8_t mac[HULL_MAC_LEN], struct hull_err *err);
/* Calls fn for every link whose alias starts with prefix (all links when
 * prefix is NULL); stops at the first non-zero return, which it returns. */
int net_link_foreach(struct nl_sock *sk, const char *prefix,
		     int (*fn)(const char *name, const char *alias, int master,
			       void *arg),
		     void *arg, struct hull_err *err);

/* Changes of one link; fields left at their "unchanged" value are not sent. */
struct net_link_change {
	unsigned mtu;	    /* 0: unchanged */
	const uint8_t *mac; /* NULL: unchanged */
	const char *alias;  /* NULL: unchanged */
	int master;	    /* -1: unchanged, 0: no master, else ifindex */
	int up;		    /* -1: unchanged, 0: down, 1: up */
};
#define NET_LINK_CHANGE_INIT                                                   \
	{                                                                      \
		.master = -1, .up = -1                                         \
	}
int net_link_change(struct nl_sock *sk, const char *name,
		    const struct net_link_change *c, struct hull_err *err);
int net_link_delete(struct nl_sock *sk, const char *name, struct hull_err *err);

/* A bridge, down, with VLAN filtering on where the kernel has it
 * (*vlan_filtering says); mtu 0 for the default. */
int net_bridge_create(struct nl_sock *sk, const char *name, unsigned mtu,
		      bool *vlan_filtering, struct hull_err *err);

/* A veth pair: host_name on the host side (down, enslaved to master when
 * master > 0), the peer created directly inside peer_netns_fd as peer_name
 * with peer_mac; both with mtu (0: default). */
int net_veth_create(struct nl_sock *sk, const char *host_name, int master,
		    unsigned mtu, int peer_netns_fd, const char *peer_name,
		    const uint8_t peer_mac[HULL_MAC_LEN], struct hull_err *err);

/* Adds (or with del, removes) VLANs from..to on bridge port ifindex, with
 * flags BRIDGE_VLAN_INFO_PVID / _UNTAGGED. */
int net_bridge_vlan(struct nl_sock *sk, int ifindex, bool del, unsigned from,
		    unsigned to, unsigned flags, struct hull_err *err);

/* Adds address a (with its prefix) to ifindex; IPv6 without DAD, so it is
 * usable at once. */
int net_addr_add(struct nl_sock *sk, int ifindex, const struct net_addr *a,
		 struct hull_err *err);
/* A route to dst (NULL: default route of family) via gw (NULL: on-link) out
 * of ifindex (0: wherever the kernel reaches gw). */
int net_route_add(struct nl_sock *sk, int family, const struct net_addr *dst,
		  const struct net_addr *gw, int ifindex, struct hull_err *err);

/* Writes value to /proc/sys/<path> in the calling thread's namespace. */
int net_sysctl_write(const char *path, const char *value, struct hull_err *err);
#endif
