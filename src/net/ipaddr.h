/*
 * ipaddr.h - ipadm's address objects on Linux.
 *
 * An address object ("net0/v4") names the addresses one `ipadm create-addr`
 * made: a static address, the lease of a DHCP client, or IPv6 stateless
 * autoconfiguration (a link-local address and router advertisements).
 * Linux has no such names, so they are kept in a map beside the pool
 * (R/var/ipadm/aobj-<netns inode>.json, one per network namespace), tied
 * to the boot it was made in; an entry only counts while the kernel still
 * holds its address. Addresses nobody named show as "IF/?", as illumos
 * shows them.
 *
 * DHCP is Debian's ISC client, dhclient(8), started per interface with its
 * pid and lease files under R/var/ipadm/; without it -T dhcp is refused.
 */
#ifndef HULL_NET_IPADDR_H
#define HULL_NET_IPADDR_H
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "net/addr.h"

struct nl_sock;

#define NET_AOBJ_MAX 64

enum net_addr_type { NET_ADDR_STATIC, NET_ADDR_DHCP, NET_ADDR_ADDRCONF };

struct net_ipaddr {
	char aobj[NET_AOBJ_MAX]; /* "net0/v4", or "net0/?" */
	char ifname[IFNAMSIZ];
	enum net_addr_type type;
	bool has_addr;	      /* false: a DHCP object still waiting */
	struct net_addr addr; /* with prefix */
	bool tentative;	      /* IPv6 DAD not done */
	bool up;	      /* its interface is up */
};

const char *net_addr_type_name(enum net_addr_type t);
/* Parses "static", "dhcp", "addrconf"; -EINVAL otherwise. */
int net_addr_type_parse(const char *s, enum net_addr_type *t);

/* True for "IF/NAME": IF a link name, NAME a letter then up to 31 letters
 * and digits (illumos's rule); *slash is where IF ends. */
bool net_aobj_valid(const char *aobj, size_t *slash);

/* Every address of the namespace, named, sorted by interface index. */
int net_ipaddr_list(struct nl_sock *sk, struct net_ipaddr **out, size_t *n,
		    struct hull_err *err);

/* Creates aobj. static: addr (with prefix); dhcp: starts dhclient;
 * addrconf: IPv6 link-local from the MAC and SLAAC on. */
int net_ipaddr_create(struct nl_sock *sk, const char *aobj,
		      enum net_addr_type type, const struct net_addr *addr,
		      struct hull_err *err);
/* Removes aobj's addresses (stops its DHCP client) and its name. */
int net_ipaddr_delete(struct nl_sock *sk, const char *aobj,
		      struct hull_err *err);
#endif
