/*
 * netlink.c - rtnetlink through libnl (see netlink.h).
 *
 * Simple objects (addresses, routes, the link list) go through libnl-route's
 * object API; messages libnl 3.7 has no setter for (bridge VLAN filtering,
 * bridge port VLANs, a veth peer born in another namespace, aliases) are
 * built with libnl's message API, attribute by attribute as rtnetlink(7)
 * and linux/if_link.h describe them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "net/dlink.h"
#include "net/netlink.h"

struct netns_call {
	int fd;
	int (*fn)(void *);
	void *arg;
	int ret;
	int setns_errno;
};

static void *netns_thread(void *p)
{
	struct netns_call *c = p;

	if (c->fd >= 0 && setns(c->fd, CLONE_NEWNET) < 0) {
		c->setns_errno = errno;
		return NULL;
	}
	c->ret = c->fn(c->arg);
	return NULL;
}

int net_in_netns(int netns_fd, int (*fn)(void *arg), void *arg,
		 struct hull_err *err)
{
	struct netns_call c = {.fd = netns_fd, .fn = fn, .arg = arg};
	pthread_t t;
	int r;

	/* setns(CLONE_NEWNET) changes only the calling thread, so a
	 * short-lived thread visits the namespace and the caller stays put. */
	if ((r = pthread_create(&t, NULL, netns_thread, &c)))
		return hull_err_sys(err, r, "start netns thread");
	pthread_join(t, NULL);
	if (c.setns_errno)
		return hull_err_sys(err, c.setns_errno,
				    "enter network namespace");
	return c.ret;
}

struct nl_open {
	struct nl_sock *sk;
	int nlerr;
};

static int nl_open_here(void *arg)
{
	struct nl_open *o = arg;

	o->sk = nl_socket_alloc();
	if (!o->sk) {
		o->nlerr = -NLE_NOMEM;
		return -ENOMEM;
	}
	/* libnl opens the socket with SOCK_CLOEXEC. */
	if ((o->nlerr = nl_connect(o->sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(o->sk);
		o->sk = NULL;
		return -EIO;
	}
	return 0;
}

struct nl_sock *net_nl_open(int netns_fd, struct hull_err *err)
{
	struct nl_open o = {0};

	if (netns_fd < 0) {
		nl_open_here(&o);
	} else if (net_in_netns(netns_fd, nl_open_here, &o, err) < 0 &&
		   !o.nlerr) {
		return NULL;
	}
	if (!o.sk)
		hull_err_set(err, EIO, "netlink socket: %s",
			     nl_geterror(o.nlerr));
	return o.sk;
}

void net_nl_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

int net_link_index(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = NULL;
	int idx;

	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0 || !l)
		return -ENODEV;
	idx = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return idx;
}

int net_link_master(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = NULL;
	int m;

	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0 || !l)
		return -ENODEV;
	m = (int)rtnl_link_get_master(l);
	rtnl_link_put(l);
	return m;
}

int net_link_mac(struct nl_sock *sk, const char *name,
		 uint8_t mac[HULL_MAC_LEN], struct hull_err *err)
{
	struct rtnl_link *l = NULL;
	struct nl_addr *a;
	int r = 0;

	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0 || !l)
		return hull_err_set(err, ENODEV, "no link %s", name);
	a = rtnl_link_get_addr(l);
	if (!a || nl_addr_get_len(a) != HULL_MAC_LEN)
		r = hull_err_set(err, EINVAL, "link %s has no MAC address",
				 name);
	else
		memcpy(mac, nl_addr_get_binary_addr(a), HULL_MAC_LEN);
	rtnl_link_put(l);
	return r;
}

static bool alias_is_hull(const char *alias)
{
	return alias && strncmp(alias, "hull:", 5) == 0;
}

int net_link_find_by_mac(struct nl_sock *sk, const uint8_t mac[HULL_MAC_LEN],
			 char name[IFNAMSIZ])
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int r = -ENODEV;

	if (rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache) < 0)
		return -EIO;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		struct nl_addr *a = rtnl_link_get_addr(l);
		const char *type = rtnl_link_get_type(l);

		if (!a || nl_addr_get_len(a) != HULL_MAC_LEN ||
		    memcmp(nl_addr_get_binary_addr(a), mac, HULL_MAC_LEN))
			continue;
		/* A bridge wears the MAC of a port; hull's own ports are
		 * never a tag's uplink. */
		if ((type && strcmp(type, "bridge") == 0) ||
		    alias_is_hull(rtnl_link_get_ifalias(l)))
			continue;
		/* A bond's ports wear the bond's MAC: the bond is the link. */
		struct rtnl_link *m =
		    rtnl_link_get_master(l)
			? rtnl_link_get(cache, (int)rtnl_link_get_master(l))
			: NULL;
		const char *mtype = m ? rtnl_link_get_type(m) : NULL;
		bool port_of_bond = mtype && strcmp(mtype, "bond") == 0;
		if (m)
			rtnl_link_put(m);
		if (port_of_bond)
			continue;
		snprintf(name, IFNAMSIZ, "%s", rtnl_link_get_name(l));
		r = 0;
		break;
	}
	nl_cache_free(cache);
	return r;
}

int net_link_foreach(struct nl_sock *sk, const char *prefix,
		     int (*fn)(const char *name, const char *alias, int master,
			       void *arg),
		     void *arg, struct hull_err *err)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int r;

	if ((r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0)
		return hull_err_set(err, EIO, "list links: %s", nl_geterror(r));
	r = 0;
	for (o = nl_cache_get_first(cache); o && !r; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *alias = rtnl_link_get_ifalias(l);

		if (prefix &&
		    (!alias || strncmp(alias, prefix, strlen(prefix))))
			continue;
		r = fn(rtnl_link_get_name(l), alias,
		       (int)rtnl_link_get_master(l), arg);
	}
	nl_cache_free(cache);
	return r;
}

bool net_link_is_etherstub(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = NULL;
	bool r;

	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0 || !l)
		return false;
	r = rtnl_link_get_type(l) && !strcmp(rtnl_link_get_type(l), "bridge") &&
	    rtnl_link_get_ifalias(l) &&
	    !strcmp(rtnl_link_get_ifalias(l), NET_ETHERSTUB_ALIAS);
	rtnl_link_put(l);
	return r;
}

static int bridge_create(struct nl_sock *sk, const char *name, unsigned mtu,
			 bool vlan_filtering, struct hull_err *err);

int net_bridge_create(struct nl_sock *sk, const char *name, unsigned mtu,
		      bool *vlan_filtering, struct hull_err *err)
{
	int r = bridge_create(sk, name, mtu, true, err);

	*vlan_filtering = r == 0;
	/* Kernels built without CONFIG_BRIDGE_VLAN_FILTERING refuse the
	 * attribute: make a plain bridge; nics with a vlan_id are refused
	 * on it (see instance.c). */
	if (r == -EOPNOTSUPP)
		r = bridge_create(sk, name, mtu, false, err);
	return r;
}

/* Sends msg (consumed) and waits for the kernel's answer. */
static int send_sync(struct nl_sock *sk, struct nl_msg *msg, const char *what,
		     const char *name, struct hull_err *err)
{
	int r = nl_send_sync(sk, msg);

	if (r < 0)
		return hull_err_set(err,
				    r == -NLE_EXIST	  ? EEXIST
				    : r == -NLE_OPNOTSUPP ? EOPNOTSUPP
							  : EIO,
				    "%s %s: %s", what, name, nl_geterror(r));
	return 0;
}

static struct nl_msg *link_msg(int type, int flags, int family, int ifindex)
{
	struct ifinfomsg ifi = {.ifi_family = (unsigned char)family,
				.ifi_index = ifindex};
	struct nl_msg *msg = nlmsg_alloc_simple(type, flags);

	if (!msg)
		abort();
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
		abort();
	return msg;
}

int net_link_change(struct nl_sock *sk, const char *name,
		    const struct net_link_change *c, struct hull_err *err)
{
	int idx = net_link_index(sk, name);
	struct nl_msg *msg;
	struct ifinfomsg *ifi;

	if (idx < 0)
		return hull_err_set(err, ENODEV, "no link %s", name);
	msg = link_msg(RTM_NEWLINK, 0, AF_UNSPEC, idx);
	ifi = nlmsg_data(nlmsg_hdr(msg));
	if (c->up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = c->up ? IFF_UP : 0;
	}
	if (c->mtu)
		NLA_PUT_U32(msg, IFLA_MTU, c->mtu);
	if (c->mac)
		NLA_PUT(msg, IFLA_ADDRESS, HULL_MAC_LEN, c->mac);
	if (c->alias)
		NLA_PUT_STRING(msg, IFLA_IFALIAS, c->alias);
	if (c->master >= 0)
		NLA_PUT_U32(msg, IFLA_MASTER, (uint32_t)c->master);
	return send_sync(sk, msg, "change link", name, err);
nla_put_failure:
	nlmsg_free(msg);
	return hull_err_set(err, ENOBUFS, "change link %s: message too big",
			    name);
}

int net_link_delete(struct nl_sock *sk, const char *name, struct hull_err *err)
{
	int idx = net_link_index(sk, name);

	if (idx < 0)
		return hull_err_set(err, ENODEV, "no link %s", name);
	return send_sync(sk, link_msg(RTM_DELLINK, 0, AF_UNSPEC, idx),
			 "delete link", name, err);
}

static int bridge_create(struct nl_sock *sk, const char *name, unsigned mtu,
			 bool vlan_filtering, struct hull_err *err)
{
	struct nl_msg *msg =
	    link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	struct nlattr *info, *data;

	NLA_PUT_STRING(msg, IFLA_IFNAME, name);
	if (mtu)
		NLA_PUT_U32(msg, IFLA_MTU, mtu);
	if (!(info = nla_nest_start(msg, IFLA_LINKINFO)))
		goto nla_put_failure;
	NLA_PUT_STRING(msg, IFLA_INFO_KIND, "bridge");
	if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)))
		goto nla_put_failure;
	/* VLAN filtering: each port carries only its nic's vlan_id. */
	if (vlan_filtering)
		NLA_PUT_U8(msg, IFLA_BR_VLAN_FILTERING, 1);
	/* A port forwards as soon as it is up (no STP listening delay). */
	NLA_PUT_U32(msg, IFLA_BR_STP_STATE, 0);
	NLA_PUT_U32(msg, IFLA_BR_FORWARD_DELAY, 0);
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	return send_sync(sk, msg, "create bridge", name, err);
nla_put_failure:
	nlmsg_free(msg);
	return hull_err_set(err, ENOBUFS, "create bridge %s: message too big",
			    name);
}

int net_veth_create(struct nl_sock *sk, const char *host_name, int master,
		    unsigned mtu, int peer_netns_fd, const char *peer_name,
		    const uint8_t peer_mac[HULL_MAC_LEN], struct hull_err *err)
{
	struct nl_msg *msg =
	    link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	struct ifinfomsg peer_ifi = {.ifi_family = AF_UNSPEC};
	struct nlattr *info, *data, *peer;

	NLA_PUT_STRING(msg, IFLA_IFNAME, host_name);
	if (mtu)
		NLA_PUT_U32(msg, IFLA_MTU, mtu);
	if (master > 0)
		NLA_PUT_U32(msg, IFLA_MASTER, (uint32_t)master);
	if (!(info = nla_nest_start(msg, IFLA_LINKINFO)))
		goto nla_put_failure;
	NLA_PUT_STRING(msg, IFLA_INFO_KIND, "veth");
	if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)))
		goto nla_put_failure;
	/* VETH_INFO_PEER holds an ifinfomsg and then the peer's own link
	 * attributes; the peer is created directly in its namespace, under
	 * its final name, so no temporary name ever shows on the host. */
	if (!(peer = nla_nest_start(msg, VETH_INFO_PEER)))
		goto nla_put_failure;
	if (nlmsg_append(msg, &peer_ifi, sizeof(peer_ifi), NLMSG_ALIGNTO) < 0)
		goto nla_put_failure;
	NLA_PUT_STRING(msg, IFLA_IFNAME, peer_name);
	NLA_PUT(msg, IFLA_ADDRESS, HULL_MAC_LEN, peer_mac);
	if (mtu)
		NLA_PUT_U32(msg, IFLA_MTU, mtu);
	if (peer_netns_fd >= 0)
		NLA_PUT_U32(msg, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
	nla_nest_end(msg, peer);
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	return send_sync(sk, msg, "create veth", host_name, err);
nla_put_failure:
	nlmsg_free(msg);
	return hull_err_set(err, ENOBUFS, "create veth %s: message too big",
			    host_name);
}

int net_bridge_vlan(struct nl_sock *sk, int ifindex, bool del, unsigned from,
		    unsigned to, unsigned flags, struct hull_err *err)
{
	struct nl_msg *msg =
	    link_msg(del ? RTM_DELLINK : RTM_SETLINK, 0, AF_BRIDGE, ifindex);
	struct bridge_vlan_info vi = {.flags = (uint16_t)flags,
				      .vid = (uint16_t)from};
	struct nlattr *spec;
	char what[32];

	if (!(spec = nla_nest_start(msg, IFLA_AF_SPEC)))
		goto nla_put_failure;
	if (to > from) {
		vi.flags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
		NLA_PUT(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
		vi.flags = (uint16_t)(flags | BRIDGE_VLAN_INFO_RANGE_END);
		vi.vid = (uint16_t)to;
	}
	NLA_PUT(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
	nla_nest_end(msg, spec);
	snprintf(what, sizeof(what), "%u", ifindex);
	return send_sync(sk, msg,
			 del ? "remove vlan on port" : "add vlan on port", what,
			 err);
nla_put_failure:
	nlmsg_free(msg);
	return hull_err_set(err, ENOBUFS, "bridge vlan: message too big");
}

static struct nl_addr *to_nl_addr(const struct net_addr *a, unsigned prefix)
{
	struct nl_addr *n =
	    nl_addr_build(a->family, a->a, a->family == AF_INET ? 4 : 16);
	if (!n)
		abort();
	nl_addr_set_prefixlen(n, (int)prefix);
	return n;
}

int net_addr_add(struct nl_sock *sk, int ifindex, const struct net_addr *a,
		 struct hull_err *err)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = to_nl_addr(a, a->prefix);
	char txt[NET_ADDR_STRLEN];
	int r;

	if (!ra)
		abort();
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_local(ra, local);
	if (a->family == AF_INET && a->prefix < 31) {
		struct net_addr b = *a;
		uint32_t host =
		    a->prefix ? 0xffffffffu >> a->prefix : 0xffffffffu;
		for (int i = 0; i < 4; i++)
			b.a[i] |= (uint8_t)(host >> (24 - 8 * i));
		struct nl_addr *bc = to_nl_addr(&b, 32);
		rtnl_addr_set_broadcast(ra, bc);
		nl_addr_put(bc);
	}
	if (a->family == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	r = rtnl_addr_add(sk, ra, 0);
	nl_addr_put(local);
	rtnl_addr_put(ra);
	if (r < 0) {
		net_addr_format(a, true, txt, sizeof(txt));
		return hull_err_set(err, r == -NLE_EXIST ? EEXIST : EIO,
				    "add address %s: %s", txt, nl_geterror(r));
	}
	return 0;
}

int net_route_add(struct nl_sock *sk, int family, const struct net_addr *dst,
		  const struct net_addr *gw, int ifindex, struct hull_err *err)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct net_addr any = {.family = family, .prefix = 0};
	struct nl_addr *d, *g = NULL;
	char txt[NET_ADDR_STRLEN];
	int r;

	if (!rt || !nh)
		abort();
	d = to_nl_addr(dst ? dst : &any, dst ? dst->prefix : 0);
	rtnl_route_set_family(rt, (uint8_t)family);
	rtnl_route_set_dst(rt, d);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_scope(rt, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	if (ifindex > 0)
		rtnl_route_nh_set_ifindex(nh, ifindex);
	if (gw) {
		g = to_nl_addr(gw, gw->family == AF_INET ? 32 : 128);
		rtnl_route_nh_set_gateway(nh, g);
	}
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
	r = rtnl_route_add(sk, rt, NLM_F_EXCL);
	nl_addr_put(d);
	if (g)
		nl_addr_put(g);
	rtnl_route_put(rt);
	if (r < 0) {
		if (dst)
			net_addr_format(dst, true, txt, sizeof(txt));
		else
			snprintf(txt, sizeof(txt), "default");
		return hull_err_set(err, r == -NLE_EXIST ? EEXIST : EIO,
				    "add route %s: %s", txt, nl_geterror(r));
	}
	return 0;
}

int net_sysctl_write(const char *path, const char *value, struct hull_err *err)
{
	_cleanup_free_ char *p = xasprintf("/proc/sys/%s", path);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(value);
	ssize_t w;

	if (fd < 0)
		return hull_err_sys(err, errno, "sysctl %s", path);
	w = write(fd, value, n);
	if (w != (ssize_t)n) {
		int e = w < 0 ? errno : EIO;
		close(fd);
		return hull_err_sys(err, e, "sysctl %s", path);
	}
	close(fd);
	return 0;
}
