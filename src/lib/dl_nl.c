/*
 * dl_nl.c - libnl-3 and libnl-route-3, loaded on first use (dl.h).
 *
 * A zone's supervisor (its loopback, its NICs), a VM's taps and the
 * network commands talk netlink, but vmadm start, list and most other
 * commands do not; linked, the two libraries cost every exec their
 * relocations and libnl-route's constructors (its link, qdisc and
 * classifier types, /etc/libnl/classid), 0.15-0.3 ms of CPU (bench/README.md,
 * issue 12's fifth pass). nl_socket_alloc loads
 * both and returns NULL when they cannot be loaded, nl_geterror answers
 * without them; the others load their library as well and abort when it
 * is missing: each builds or uses an object for a socket's call, so that
 * is a broken install (the package depends on both).
 */
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "lib/dl.h"

/* Lazily bound, as they were when linked: the supervisor loads them at
 * each zone start (the loopback), and binding all of libnl-route's calls
 * at once cost about 0.1 ms more (a test program's dlopen, RTLD_NOW
 * against RTLD_LAZY). */
struct hull_dl hull_dl_nl = HULL_DL_INIT_LAZY("libnl-3.so.200");
struct hull_dl hull_dl_nl_route = HULL_DL_INIT_LAZY("libnl-route-3.so.200");
#define L3 hull_dl_nl
#define LR hull_dl_nl_route

struct nl_sock *nl_socket_alloc(void)
{
	/* the route library too: a socket is for its calls */
	if (hull_dl_open(&LR, NULL) < 0)
		return NULL;
	__typeof__(&nl_socket_alloc) f = HULL_DL_TRY(L3, nl_socket_alloc);
	return f ? f() : NULL;
}

const char *nl_geterror(int error)
{
	if (!hull_dl_loaded(&L3))
		return "netlink library not loaded";
	return HULL_DL_NEED(L3, nl_geterror)(error);
}

void nl_cache_foreach(struct nl_cache *cache,
		      void (*cb)(struct nl_object *, void *), void *arg)
{
	HULL_DL_NEED(L3, nl_cache_foreach)(cache, cb, arg);
}

HULL_DL_FWD3(L3, struct nl_addr *, nl_addr_build, int, const void *, size_t)
HULL_DL_FWD1(L3, void *, nl_addr_get_binary_addr, const struct nl_addr *)
HULL_DL_FWD1(L3, int, nl_addr_get_family, const struct nl_addr *)
HULL_DL_FWD1(L3, unsigned int, nl_addr_get_len, const struct nl_addr *)
HULL_DL_VOID1(L3, nl_addr_put, struct nl_addr *)
HULL_DL_VOID2(L3, nl_addr_set_prefixlen, struct nl_addr *, int)
HULL_DL_VOID1(L3, nl_cache_free, struct nl_cache *)
HULL_DL_FWD1(L3, struct nl_object *, nl_cache_get_first, struct nl_cache *)
HULL_DL_FWD1(L3, struct nl_object *, nl_cache_get_next, struct nl_object *)
HULL_DL_FWD1(L3, struct nl_cb *, nl_cb_alloc, enum nl_cb_kind)
HULL_DL_VOID1(L3, nl_cb_put, struct nl_cb *)
HULL_DL_FWD5(L3, int, nl_cb_set, struct nl_cb *, enum nl_cb_type,
	     enum nl_cb_kind, nl_recvmsg_msg_cb_t, void *)
HULL_DL_FWD2(L3, int, nl_connect, struct nl_sock *, int)
HULL_DL_FWD2(L3, int, nl_recvmsgs, struct nl_sock *, struct nl_cb *)
HULL_DL_FWD5(L3, int, nl_send_simple, struct nl_sock *, int, int, void *,
	     size_t)
HULL_DL_FWD2(L3, int, nl_send_sync, struct nl_sock *, struct nl_msg *)
HULL_DL_VOID1(L3, nl_socket_free, struct nl_sock *)
HULL_DL_FWD1(L3, void *, nla_data, const struct nlattr *)
HULL_DL_FWD1(L3, char *, nla_get_string, const struct nlattr *)
HULL_DL_FWD1(L3, uint16_t, nla_get_u16, const struct nlattr *)
HULL_DL_FWD1(L3, uint32_t, nla_get_u32, const struct nlattr *)
HULL_DL_FWD1(L3, uint8_t, nla_get_u8, const struct nlattr *)
HULL_DL_FWD1(L3, int, nla_len, const struct nlattr *)
HULL_DL_FWD2(L3, int, nla_nest_end, struct nl_msg *, struct nlattr *)
HULL_DL_FWD2(L3, struct nlattr *, nla_nest_start, struct nl_msg *, int)
HULL_DL_FWD4(L3, int, nla_parse_nested, struct nlattr **, int, struct nlattr *,
	     const struct nla_policy *)
HULL_DL_FWD4(L3, int, nla_put, struct nl_msg *, int, int, const void *)
HULL_DL_FWD3(L3, int, nla_put_string, struct nl_msg *, int, const char *)
HULL_DL_FWD3(L3, int, nla_put_u32, struct nl_msg *, int, uint32_t)
HULL_DL_FWD2(L3, struct nl_msg *, nlmsg_alloc_simple, int, int)
HULL_DL_FWD4(L3, int, nlmsg_append, struct nl_msg *, void *, size_t, int)
HULL_DL_FWD1(L3, void *, nlmsg_data, const struct nlmsghdr *)
HULL_DL_VOID1(L3, nlmsg_free, struct nl_msg *)
HULL_DL_FWD1(L3, struct nlmsghdr *, nlmsg_hdr, struct nl_msg *)
HULL_DL_FWD5(L3, int, nlmsg_parse, struct nlmsghdr *, int, struct nlattr **,
	     int, const struct nla_policy *)

HULL_DL_FWD3(LR, int, rtnl_addr_add, struct nl_sock *, struct rtnl_addr *, int)
HULL_DL_FWD0(LR, struct rtnl_addr *, rtnl_addr_alloc)
HULL_DL_FWD3(LR, int, rtnl_addr_delete, struct nl_sock *, struct rtnl_addr *,
	     int)
HULL_DL_VOID1(LR, rtnl_addr_put, struct rtnl_addr *)
HULL_DL_FWD2(LR, int, rtnl_addr_set_broadcast, struct rtnl_addr *,
	     struct nl_addr *)
HULL_DL_VOID2(LR, rtnl_addr_set_flags, struct rtnl_addr *, unsigned int)
HULL_DL_VOID2(LR, rtnl_addr_set_ifindex, struct rtnl_addr *, int)
HULL_DL_FWD2(LR, int, rtnl_addr_set_local, struct rtnl_addr *, struct nl_addr *)
HULL_DL_VOID2(LR, rtnl_addr_set_prefixlen, struct rtnl_addr *, int)
HULL_DL_FWD3(LR, int, rtnl_link_add, struct nl_sock *, struct rtnl_link *, int)
HULL_DL_FWD3(LR, int, rtnl_link_alloc_cache, struct nl_sock *, int,
	     struct nl_cache **)
HULL_DL_FWD2(LR, struct rtnl_link *, rtnl_link_get, struct nl_cache *, int)
HULL_DL_FWD1(LR, struct nl_addr *, rtnl_link_get_addr, struct rtnl_link *)
HULL_DL_FWD1(LR, unsigned int, rtnl_link_get_flags, struct rtnl_link *)
HULL_DL_FWD1(LR, const char *, rtnl_link_get_ifalias, struct rtnl_link *)
HULL_DL_FWD1(LR, int, rtnl_link_get_ifindex, struct rtnl_link *)
HULL_DL_FWD4(LR, int, rtnl_link_get_kernel, struct nl_sock *, int, const char *,
	     struct rtnl_link **)
HULL_DL_FWD1(LR, int, rtnl_link_get_master, struct rtnl_link *)
HULL_DL_FWD1(LR, char *, rtnl_link_get_name, struct rtnl_link *)
HULL_DL_FWD1(LR, char *, rtnl_link_get_type, struct rtnl_link *)
HULL_DL_VOID1(LR, rtnl_link_put, struct rtnl_link *)
HULL_DL_VOID2(LR, rtnl_link_set_mtu, struct rtnl_link *, unsigned int)
HULL_DL_VOID2(LR, rtnl_link_set_name, struct rtnl_link *, const char *)
HULL_DL_FWD0(LR, struct rtnl_link *, rtnl_link_vxlan_alloc)
HULL_DL_FWD2(LR, int, rtnl_link_vxlan_set_id, struct rtnl_link *, uint32_t)
HULL_DL_FWD2(LR, int, rtnl_link_vxlan_set_learning, struct rtnl_link *, uint8_t)
HULL_DL_FWD2(LR, int, rtnl_link_vxlan_set_local, struct rtnl_link *,
	     struct nl_addr *)
HULL_DL_FWD2(LR, int, rtnl_link_vxlan_set_port, struct rtnl_link *, uint32_t)
HULL_DL_FWD2(LR, int, rtnl_link_vxlan_set_udp_csum, struct rtnl_link *, uint8_t)
HULL_DL_FWD3(LR, int, rtnl_neigh_alloc_cache_flags, struct nl_sock *,
	     struct nl_cache **, unsigned int)
HULL_DL_FWD1(LR, struct nl_addr *, rtnl_neigh_get_dst, struct rtnl_neigh *)
HULL_DL_FWD1(LR, int, rtnl_neigh_get_family, struct rtnl_neigh *)
HULL_DL_FWD1(LR, int, rtnl_neigh_get_ifindex, struct rtnl_neigh *)
HULL_DL_FWD1(LR, struct nl_addr *, rtnl_neigh_get_lladdr, struct rtnl_neigh *)
HULL_DL_FWD3(LR, int, rtnl_route_add, struct nl_sock *, struct rtnl_route *,
	     int)
HULL_DL_VOID2(LR, rtnl_route_add_nexthop, struct rtnl_route *,
	      struct rtnl_nexthop *)
HULL_DL_FWD0(LR, struct rtnl_route *, rtnl_route_alloc)
HULL_DL_FWD0(LR, struct rtnl_nexthop *, rtnl_route_nh_alloc)
HULL_DL_VOID2(LR, rtnl_route_nh_set_gateway, struct rtnl_nexthop *,
	      struct nl_addr *)
HULL_DL_VOID2(LR, rtnl_route_nh_set_ifindex, struct rtnl_nexthop *, int)
HULL_DL_VOID1(LR, rtnl_route_put, struct rtnl_route *)
HULL_DL_FWD2(LR, int, rtnl_route_set_dst, struct rtnl_route *, struct nl_addr *)
HULL_DL_FWD2(LR, int, rtnl_route_set_family, struct rtnl_route *, uint8_t)
HULL_DL_VOID2(LR, rtnl_route_set_protocol, struct rtnl_route *, uint8_t)
HULL_DL_VOID2(LR, rtnl_route_set_scope, struct rtnl_route *, uint8_t)
HULL_DL_VOID2(LR, rtnl_route_set_table, struct rtnl_route *, uint32_t)
