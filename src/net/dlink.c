/*
 * dlink.c - dladm's links over rtnetlink (see dlink.h).
 *
 * The list is one RTM_GETLINK dump parsed attribute by attribute (libnl's
 * link cache drops the bond and macvlan data dladm shows); links are made
 * with libnl's message API as in netlink.c. Each create is undone when a
 * later step fails, so a failed command leaves nothing behind.
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "net/dlink.h"
#include "net/netlink.h"

/* linux/if_bonding.h's values, spelled here: the header drags in
 * definitions that clash with glibc's. */
#define BOND_MODE_ACTIVEBACKUP 1
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h, which clashes with net/if.h */
#endif
#define BOND_MODE_8023AD 4

static const char *const class_names[] = {
    [NET_DL_PHYS] = "phys",	      [NET_DL_AGGR] = "aggr",
    [NET_DL_VLAN] = "vlan",	      [NET_DL_VNIC] = "vnic",
    [NET_DL_ETHERSTUB] = "etherstub", [NET_DL_BRIDGE] = "bridge",
    [NET_DL_OTHER] = "other",
};

const char *net_dl_class_name(enum net_dl_class c)
{
	return class_names[c];
}

bool net_dl_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') ||
	      (name[0] >= 'A' && name[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.'))
			return false;
	}
	return name[n - 1] >= '0' && name[n - 1] <= '9';
}

struct dump {
	struct net_dl_link *v;
	size_t n, cap;
};

static void parse_info(struct nlattr *linkinfo, struct net_dl_link *l)
{
	struct nlattr *info[IFLA_INFO_MAX + 1];
	struct nlattr *data[IFLA_BOND_MAX + 1 > IFLA_VLAN_MAX + 1
				? IFLA_BOND_MAX + 1
				: IFLA_VLAN_MAX + 1];

	if (nla_parse_nested(info, IFLA_INFO_MAX, linkinfo, NULL) < 0)
		return;
	if (info[IFLA_INFO_KIND])
		snprintf(l->kind, sizeof(l->kind), "%s",
			 nla_get_string(info[IFLA_INFO_KIND]));
	if (!info[IFLA_INFO_DATA])
		return;
	if (!strcmp(l->kind, "bond") &&
	    nla_parse_nested(data, IFLA_BOND_MAX, info[IFLA_INFO_DATA], NULL) >=
		0) {
		if (data[IFLA_BOND_MODE])
			l->bond_mode = nla_get_u8(data[IFLA_BOND_MODE]);
		if (data[IFLA_BOND_AD_LACP_RATE])
			l->lacp_rate = nla_get_u8(data[IFLA_BOND_AD_LACP_RATE]);
		if (data[IFLA_BOND_AD_LACP_ACTIVE])
			l->lacp_active =
			    nla_get_u8(data[IFLA_BOND_AD_LACP_ACTIVE]);
		if (data[IFLA_BOND_XMIT_HASH_POLICY])
			l->xmit_hash =
			    nla_get_u8(data[IFLA_BOND_XMIT_HASH_POLICY]);
	} else if (!strcmp(l->kind, "vlan") &&
		   nla_parse_nested(data, IFLA_VLAN_MAX, info[IFLA_INFO_DATA],
				    NULL) >= 0) {
		if (data[IFLA_VLAN_ID])
			l->vid = nla_get_u16(data[IFLA_VLAN_ID]);
	}
}

static enum net_dl_class classify(const struct net_dl_link *l)
{
	const char *k = l->kind;

	if (!k[0] || !strcmp(k, "dummy"))
		return NET_DL_PHYS;
	if (!strcmp(k, "veth"))
		return strncmp(l->alias, "hull:", 5) ? NET_DL_PHYS
						     : NET_DL_VNIC;
	if (!strcmp(k, "bond"))
		return NET_DL_AGGR;
	if (!strcmp(k, "vlan"))
		return strcmp(l->alias, NET_VNIC_VLAN_ALIAS) ? NET_DL_VLAN
							     : NET_DL_OTHER;
	if (!strcmp(k, "macvlan") || !strcmp(k, "ipvlan") || !strcmp(k, "tun"))
		return NET_DL_VNIC;
	if (!strcmp(k, "bridge"))
		return strcmp(l->alias, NET_ETHERSTUB_ALIAS) ? NET_DL_BRIDGE
							     : NET_DL_ETHERSTUB;
	return NET_DL_OTHER;
}

static int dump_cb(struct nl_msg *msg, void *arg)
{
	struct dump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct ifinfomsg *ifi = nlmsg_data(h);
	struct nlattr *tb[IFLA_MAX + 1];
	struct net_dl_link *l;

	if (h->nlmsg_type != RTM_NEWLINK ||
	    nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 ||
	    !tb[IFLA_IFNAME] || (ifi->ifi_flags & IFF_LOOPBACK))
		return NL_OK;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	l = &d->v[d->n++];
	memset(l, 0, sizeof(*l));
	l->bond_mode = l->lacp_active = -1;
	snprintf(l->name, sizeof(l->name), "%s",
		 nla_get_string(tb[IFLA_IFNAME]));
	l->ifindex = ifi->ifi_index;
	l->up = ifi->ifi_flags & IFF_UP;
	l->lower_up = ifi->ifi_flags & IFF_LOWER_UP;
	if (tb[IFLA_MTU])
		l->mtu = nla_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_MASTER])
		l->master = (int)nla_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINK])
		l->lower = (int)nla_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == HULL_MAC_LEN) {
		l->has_mac = true;
		memcpy(l->mac, nla_data(tb[IFLA_ADDRESS]), HULL_MAC_LEN);
	}
	if (tb[IFLA_IFALIAS])
		snprintf(l->alias, sizeof(l->alias), "%s",
			 nla_get_string(tb[IFLA_IFALIAS]));
	if (tb[IFLA_LINKINFO])
		parse_info(tb[IFLA_LINKINFO], l);
	/* A veth's IFLA_LINK names its peer, not a lower link. */
	if (!strcmp(l->kind, "veth") || tb[IFLA_LINK_NETNSID])
		l->lower = 0;
	l->cls = classify(l);
	return NL_OK;
}

static int cmp_index(const void *a, const void *b)
{
	const struct net_dl_link *x = a, *y = b;

	return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

int net_dl_list(struct nl_sock *sk, struct net_dl_link **out, size_t *n,
		struct hull_err *err)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	struct dump d = {0};
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int r;

	if (!cb)
		abort();
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, dump_cb, &d);
	r = nl_send_simple(sk, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	if (r >= 0)
		r = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (r < 0) {
		free(d.v);
		return hull_err_set(err, EIO, "list links: %s", nl_geterror(r));
	}
	if (d.v)
		qsort(d.v, d.n, sizeof(*d.v), cmp_index);
	*out = d.v ? d.v : xcalloc(1, sizeof(**out));
	*n = d.n;
	return 0;
}

const struct net_dl_link *net_dl_find(const struct net_dl_link *v, size_t n,
				      const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

const struct net_dl_link *net_dl_find_index(const struct net_dl_link *v,
					    size_t n, int ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ifindex == ifindex)
			return &v[i];
	return NULL;
}

static int send_sync(struct nl_sock *sk, struct nl_msg *msg, const char *what,
		     const char *name, struct hull_err *err)
{
	int r = nl_send_sync(sk, msg);

	if (r >= 0)
		return 0;
	/* "Operation not supported" from RTM_NEWLINK with a kind means the
	 * kernel has no driver for it (bonding, 8021q not built or loaded). */
	if (r == -NLE_OPNOTSUPP || r == -NLE_NOATTR)
		return hull_err_set(err, EOPNOTSUPP,
				    "%s %s: the kernel has no support for it "
				    "(%s)",
				    what, name, nl_geterror(r));
	return hull_err_set(err,
			    r == -NLE_EXIST   ? EEXIST
			    : r == -NLE_BUSY  ? EBUSY
			    : r == -NLE_INVAL ? EINVAL
			    : r == -NLE_RANGE ? ERANGE
					      : EIO,
			    "%s %s: %s", what, name, nl_geterror(r));
}

static struct nl_msg *new_link_msg(const char *name, int lower)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	struct nl_msg *msg =
	    nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);

	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
	    (lower > 0 && nla_put_u32(msg, IFLA_LINK, (uint32_t)lower) < 0))
		abort();
	return msg;
}

/* Checks that name is a free, valid link name. */
static int check_new_name(struct nl_sock *sk, const char *name,
			  struct hull_err *err)
{
	if (!net_dl_name_valid(name))
		return hull_err_set(err, EINVAL,
				    "invalid link name '%s': a letter, then "
				    "letters, digits, '_' or '.', ending in a "
				    "digit, at most %d characters",
				    name, IFNAMSIZ - 1);
	if (net_link_index(sk, name) > 0)
		return hull_err_set(err, EEXIST, "link %s already exists",
				    name);
	return 0;
}

static int bring_up(struct nl_sock *sk, const char *name, const uint8_t *mac,
		    const char *alias, struct hull_err *err)
{
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	int r;

	c.up = 1;
	c.mac = mac;
	c.alias = alias;
	if ((r = net_link_change(sk, name, &c, err))) {
		struct hull_err ignore;
		net_link_delete(sk, name, &ignore);
	}
	return r;
}

int net_dl_etherstub_create(struct nl_sock *sk, const char *name,
			    struct hull_err *err)
{
	uint8_t mac[HULL_MAC_LEN];
	bool vf;
	int r;

	if ((r = check_new_name(sk, name, err)))
		return r;
	if ((r = net_bridge_create(sk, name, 0, &vf, err)))
		return r;
	/* A fixed address: a bridge without one takes its lowest port's and
	 * changes it as ports come and go. */
	hull_mac_generate(mac);
	return bring_up(sk, name, mac, NET_ETHERSTUB_ALIAS, err);
}

/* The lower link of a vnic or vlan: it exists and is of a class that can
 * carry one. */
static int check_lower(struct nl_sock *sk, const char *over, bool vnic,
		       int *ifindex, struct hull_err *err)
{
	struct net_dl_link *v = NULL;
	const struct net_dl_link *l;
	size_t n;
	int r;

	if ((r = net_dl_list(sk, &v, &n, err)))
		return r;
	l = net_dl_find(v, n, over);
	if (!l)
		r = hull_err_set(err, ENODEV, "no link %s", over);
	else if (!(l->cls == NET_DL_PHYS || l->cls == NET_DL_AGGR ||
		   (vnic &&
		    (l->cls == NET_DL_VLAN || l->cls == NET_DL_ETHERSTUB))))
		r = hull_err_set(err, EINVAL,
				 "link %s is a%s %s: a %s goes over a phys%s "
				 "link or an aggr",
				 over, l->cls == NET_DL_AGGR ? "n" : "",
				 net_dl_class_name(l->cls),
				 vnic ? "vnic" : "vlan",
				 vnic ? ", vlan or etherstub" : "");
	else if (l->master > 0 && net_dl_find_index(v, n, l->master))
		r = hull_err_set(
		    err, EBUSY, "link %s is a port of %s %s", over,
		    net_dl_class_name(net_dl_find_index(v, n, l->master)->cls),
		    net_dl_find_index(v, n, l->master)->name);
	else
		*ifindex = l->ifindex;
	free(v);
	return r;
}

static int vlan_make(struct nl_sock *sk, const char *name, int lower,
		     unsigned vid, const char *alias, struct hull_err *err);

static bool is_vnic_vlan(const struct net_dl_link *l)
{
	return l && !strcmp(l->kind, "vlan") &&
	       !strcmp(l->alias, NET_VNIC_VLAN_ALIAS);
}

/*
 * The 802.1Q link with vid over `over` for a vnic -v: the one there is
 * (Linux allows one per VID and link: a vlan dladm made, or one made for
 * another vnic), else a new one named OVER.VID (vq<ifindex>.VID when that
 * is too long or taken). *made says a new one was made.
 */
static int vnic_vlan_get(struct nl_sock *sk, const char *over, unsigned vid,
			 int *ifindex, bool *made, struct hull_err *err)
{
	struct net_dl_link *v = NULL;
	char name[64];
	size_t n;
	int lower, r;

	*made = false;
	if (vid < 1 || vid > 4094)
		return hull_err_set(err, ERANGE,
				    "VLAN ID %u is out of range (1-4094)", vid);
	if ((r = check_lower(sk, over, false, &lower, err)))
		return r;
	if ((r = net_dl_list(sk, &v, &n, err)))
		return r;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].kind, "vlan") && v[i].lower == lower &&
		    v[i].vid == vid) {
			*ifindex = v[i].ifindex;
			free(v);
			return 0;
		}
	snprintf(name, sizeof(name), "%s.%u", over, vid);
	if (strlen(name) >= IFNAMSIZ || net_dl_find(v, n, name))
		snprintf(name, sizeof(name), "vq%d.%u", lower, vid);
	free(v);
	if ((r = vlan_make(sk, name, lower, vid, NET_VNIC_VLAN_ALIAS, err))) {
		if (r == -EOPNOTSUPP)
			return hull_err_set(err, EOPNOTSUPP,
					    "the kernel has no 802.1Q VLAN "
					    "support (8021q), which -v needs");
		return r;
	}
	*made = true;
	if ((*ifindex = net_link_index(sk, name)) <= 0)
		return hull_err_set(err, ENODEV, "no link %s", name);
	return 0;
}

int net_dl_vnic_create(struct nl_sock *sk, const char *name, const char *over,
		       const uint8_t *mac, unsigned mtu, unsigned vid,
		       struct hull_err *err)
{
	uint8_t rnd[HULL_MAC_LEN];
	struct nl_msg *msg;
	struct nlattr *info, *data;
	char vname[IFNAMSIZ] = "";
	bool made = false;
	int lower = -1, r;

	if ((r = check_new_name(sk, name, err)))
		return r;
	if (mac && !hull_mac_is_unicast(mac))
		return hull_err_set(err, EINVAL,
				    "vnic %s: not a unicast MAC address", name);
	if (vid) {
		if ((r = vnic_vlan_get(sk, over, vid, &lower, &made, err)))
			return hull_err_prefix(err, "create vnic %s", name);
		if (made)
			if_indextoname((unsigned)lower, vname);
	} else if ((r = check_lower(sk, over, true, &lower, err))) {
		return r;
	}
	if (!mac) {
		hull_mac_generate(rnd);
		mac = rnd;
	}
	msg = new_link_msg(name, lower);
	NLA_PUT(msg, IFLA_ADDRESS, HULL_MAC_LEN, mac);
	if (mtu)
		NLA_PUT_U32(msg, IFLA_MTU, mtu);
	if (!(info = nla_nest_start(msg, IFLA_LINKINFO)))
		goto nla_put_failure;
	NLA_PUT_STRING(msg, IFLA_INFO_KIND, "macvlan");
	if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)))
		goto nla_put_failure;
	/* Bridge mode: vnics over one link reach each other, as illumos's
	 * vnics over one link do. */
	NLA_PUT_U32(msg, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	if (!(r = send_sync(sk, msg, "create vnic", name, err)))
		r = bring_up(sk, name, NULL,
			     mac == rnd ? NET_VNIC_ALIAS_RANDOM
					: NET_VNIC_ALIAS_FIXED,
			     err);
	goto out;
nla_put_failure:
	nlmsg_free(msg);
	r = hull_err_set(err, ENOBUFS, "create vnic %s: message too big", name);
out:
	if (r && made && *vname) {
		struct hull_err ignore;
		net_link_delete(sk, vname, &ignore);
	}
	return r;
}

const struct net_dl_link *net_dl_vnic_over(const struct net_dl_link *v,
					   size_t n,
					   const struct net_dl_link *vnic,
					   unsigned *vid)
{
	const struct net_dl_link *low =
	    vnic->lower > 0 ? net_dl_find_index(v, n, vnic->lower) : NULL;

	*vid = low && !strcmp(low->kind, "vlan") ? low->vid : 0;
	if (is_vnic_vlan(low) && low->lower > 0)
		return net_dl_find_index(v, n, low->lower);
	return low;
}

/* An 802.1Q link name with vid over lower, up, with alias (or none). */
static int vlan_make(struct nl_sock *sk, const char *name, int lower,
		     unsigned vid, const char *alias, struct hull_err *err)
{
	struct nl_msg *msg;
	struct nlattr *info, *data;
	int r;

	msg = new_link_msg(name, lower);
	if (!(info = nla_nest_start(msg, IFLA_LINKINFO)))
		goto nla_put_failure;
	NLA_PUT_STRING(msg, IFLA_INFO_KIND, "vlan");
	if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)))
		goto nla_put_failure;
	NLA_PUT_U16(msg, IFLA_VLAN_ID, (uint16_t)vid);
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	if ((r = send_sync(sk, msg, "create vlan", name, err)))
		return r;
	return bring_up(sk, name, NULL, alias, err);
nla_put_failure:
	nlmsg_free(msg);
	return hull_err_set(err, ENOBUFS, "create vlan %s: message too big",
			    name);
}

int net_dl_vlan_create(struct nl_sock *sk, const char *name, const char *over,
		       unsigned vid, struct hull_err *err)
{
	int lower, r;

	if (vid < 1 || vid > 4094)
		return hull_err_set(err, ERANGE,
				    "VLAN ID %u is out of range (1-4094)", vid);
	if ((r = check_new_name(sk, name, err)) ||
	    (r = check_lower(sk, over, false, &lower, err)))
		return r;
	return vlan_make(sk, name, lower, vid, NULL, err);
}

/* Every port exists, is a phys link, appears once and has no master;
 * was_up[i] says whether port i is up now, to put it back so after a
 * failed create. */
static int check_ports(struct nl_sock *sk, const struct net_aggr_spec *s,
		       bool *was_up, struct hull_err *err)
{
	struct net_dl_link *v = NULL;
	size_t n;
	int r;

	if (s->nports == 0)
		return hull_err_set(err, EINVAL,
				    "an aggr needs at least one port (-l)");
	if ((r = net_dl_list(sk, &v, &n, err)))
		return r;
	for (size_t i = 0; i < s->nports && !r; i++) {
		const struct net_dl_link *l = net_dl_find(v, n, s->ports[i]);
		for (size_t j = 0; j < i && !r; j++)
			if (!strcmp(s->ports[i], s->ports[j]))
				r = hull_err_set(err, EINVAL,
						 "port %s given twice",
						 s->ports[i]);
		if (r)
			break;
		was_up[i] = l && l->up;
		if (!l)
			r = hull_err_set(err, ENODEV, "no link %s",
					 s->ports[i]);
		else if (l->cls != NET_DL_PHYS)
			r = hull_err_set(err, EINVAL,
					 "link %s is not a phys link",
					 s->ports[i]);
		else if (l->master > 0)
			r = hull_err_set(
			    err, EBUSY, "link %s already has a master (%s)",
			    s->ports[i],
			    net_dl_find_index(v, n, l->master)
				? net_dl_find_index(v, n, l->master)->name
				: "?");
	}
	free(v);
	return r;
}

int net_dl_aggr_create(struct nl_sock *sk, const char *name,
		       const struct net_aggr_spec *s, struct hull_err *err)
{
	struct nl_msg *msg;
	struct nlattr *info, *data;
	int bond, r;

	bool was_up[NET_AGGR_MAX_PORTS] = {false};
	if ((r = check_new_name(sk, name, err)) ||
	    (r = check_ports(sk, s, was_up, err)))
		return r;
	msg = new_link_msg(name, 0);
	if (s->mac)
		NLA_PUT(msg, IFLA_ADDRESS, HULL_MAC_LEN, s->mac);
	if (!(info = nla_nest_start(msg, IFLA_LINKINFO)))
		goto nla_put_failure;
	NLA_PUT_STRING(msg, IFLA_INFO_KIND, "bond");
	if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)))
		goto nla_put_failure;
	if (s->lacp == NET_LACP_OFF) {
		/* No LACP: one port carries the traffic, the others stand
		 * by; works with any switch. */
		NLA_PUT_U8(msg, IFLA_BOND_MODE, BOND_MODE_ACTIVEBACKUP);
	} else {
		NLA_PUT_U8(msg, IFLA_BOND_MODE, BOND_MODE_8023AD);
		NLA_PUT_U8(msg, IFLA_BOND_AD_LACP_RATE, s->lacp_short);
		NLA_PUT_U8(msg, IFLA_BOND_AD_LACP_ACTIVE,
			   s->lacp == NET_LACP_ACTIVE);
		NLA_PUT_U8(msg, IFLA_BOND_XMIT_HASH_POLICY,
			   (uint8_t)s->xmit_hash);
	}
	/* Link monitoring, so a failed port is noticed (100 ms). */
	NLA_PUT_U32(msg, IFLA_BOND_MIIMON, 100);
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	if ((r = send_sync(sk, msg, "create aggr", name, err)))
		return r;
	bond = net_link_index(sk, name);
	for (size_t i = 0; i < s->nports && !r; i++) {
		struct net_link_change c = NET_LINK_CHANGE_INIT;
		/* The bond takes only ports that are down (EPERM otherwise),
		 * and brings each up itself. One message with both IFF_UP
		 * and IFLA_MASTER would not do: the kernel applies the flags
		 * first. */
		c.up = 0;
		if (!(r = net_link_change(sk, s->ports[i], &c, err))) {
			c = (struct net_link_change)NET_LINK_CHANGE_INIT;
			c.master = bond;
			r = net_link_change(sk, s->ports[i], &c, err);
		}
	}
	if (r) {
		/* Deleting the bond releases the ports taken so far; the
		 * ports that were up before are brought up again. */
		struct hull_err ignore;
		net_link_delete(sk, name, &ignore);
		for (size_t i = 0; i < s->nports; i++) {
			struct net_link_change c = NET_LINK_CHANGE_INIT;
			c.up = 1;
			if (was_up[i])
				net_link_change(sk, s->ports[i], &c, &ignore);
		}
		return hull_err_prefix(err, "create aggr %s", name);
	}
	return bring_up(sk, name, NULL, s->mac ? NET_AGGR_ALIAS_FIXED : NULL,
			err);
nla_put_failure:
	nlmsg_free(msg);
	return hull_err_set(err, ENOBUFS, "create aggr %s: message too big",
			    name);
}

int net_dl_delete(struct nl_sock *sk, const char *name, enum net_dl_class want,
		  struct hull_err *err)
{
	struct net_dl_link *v = NULL;
	const struct net_dl_link *l;
	size_t n;
	int r;

	if ((r = net_dl_list(sk, &v, &n, err)))
		return r;
	if (!(l = net_dl_find(v, n, name))) {
		r = hull_err_set(err, ENODEV, "no link %s", name);
		goto out;
	}
	if (l->cls != want) {
		r = hull_err_set(
		    err, EINVAL, "link %s is not a%s %s but a%s %s", name,
		    want == NET_DL_AGGR ? "n" : "", net_dl_class_name(want),
		    l->cls == NET_DL_AGGR ? "n" : "",
		    net_dl_class_name(l->cls));
		goto out;
	}
	/* Deleting a lower link takes its vlans and vnics with it (and
	 * empties a bridge): refuse, as dladm does ("link busy"). */
	for (size_t i = 0; i < n; i++) {
		if (v[i].lower == l->ifindex ||
		    (v[i].master == l->ifindex && want != NET_DL_AGGR)) {
			r = hull_err_set(
			    err, EBUSY, "link %s is busy: %s %s is over it",
			    name, net_dl_class_name(v[i].cls), v[i].name);
			goto out;
		}
		if (l->master > 0 && v[i].ifindex == l->master) {
			r = hull_err_set(err, EBUSY,
					 "link %s is busy: it is a port of %s",
					 name, v[i].name);
			goto out;
		}
	}
	if ((r = net_link_delete(sk, name, err)))
		goto out;
	/* A vnic -v's 802.1Q link goes with its last vnic. */
	const struct net_dl_link *low =
	    l->lower > 0 ? net_dl_find_index(v, n, l->lower) : NULL;
	if (want == NET_DL_VNIC && is_vnic_vlan(low)) {
		size_t users = 0;
		for (size_t i = 0; i < n; i++)
			if ((v[i].lower == low->ifindex ||
			     v[i].master == low->ifindex) &&
			    v[i].ifindex != l->ifindex)
				users++;
		if (!users)
			r = net_link_delete(sk, low->name, err);
	}
out:
	free(v);
	return r;
}

void net_dl_ethtool(const char *name, unsigned *speed, char duplex[8],
		    char driver[32])
{
	struct ethtool_cmd cmd = {.cmd = ETHTOOL_GSET};
	struct ethtool_drvinfo drv = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr;
	/* The socket's namespace is the caller's: so are the links. */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	*speed = 0;
	snprintf(duplex, 8, "unknown");
	driver[0] = 0;
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&cmd;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
		/* ethtool_cmd_speed() shifts a signed int: UB for ~0. */
		uint32_t s = (uint32_t)cmd.speed_hi << 16 | cmd.speed;
		if (s != (uint32_t)SPEED_UNKNOWN && s != 0xffff)
			*speed = s;
		if (cmd.duplex == DUPLEX_FULL)
			snprintf(duplex, 8, "full");
		else if (cmd.duplex == DUPLEX_HALF)
			snprintf(duplex, 8, "half");
	}
	ifr.ifr_data = (void *)&drv;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
		snprintf(driver, 32, "%s", drv.driver);
	close(fd);
}
