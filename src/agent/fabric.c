/*
 * fabric.c - the compute node's side of the fabrics: one VXLAN segment
 * per VNI (a vxlan link "hvx<VNI>", learning off, its underlay address
 * the one this node reaches the head node from), carried by a nic tag of
 * its own whose bridge has the vxlan link as its uplink, so that
 * instances' nics join it as they join any nic tag. Forwarding is
 * programmed from the head node's fabric map (head/networks.h,
 * head_fabric_map), polled every FABRIC_POLL_MS: a unicast FDB entry per
 * remote instance's MAC, and an all-zero MAC entry per remote VTEP for
 * broadcast and unknown unicast (head-end replication, no multicast in
 * the underlay). An nftables table of hull's own (inet hull_fabric)
 * drops VXLAN (UDP 4789) from any address but the compute nodes' the map
 * lists. A fabric network with internet_nat has its NAT gateway on one
 * node (the map says which): see nat_make.
 *
 * Everything goes through netlink (libnl-route) and libnftables, never
 * `ip` or `bridge`. The kernel is the state: each round reads the FDB and
 * the links back and changes only what differs, so a restarted agent
 * picks up where it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/random.h>
#include <linux/neighbour.h>
#include <netdb.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/msg.h>
#include <netlink/route/neighbour.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "agent/agent.h"
#include "lib/json.h"
#include "lib/nft.h"
#include "lib/xalloc.h"
#include "net/addr.h"
#include "net/netlink.h"
#include "net/nictag.h"

#define VXLAN_PORT 4789
#define ALIAS_PREFIX "hull-fabric:"
/* A segment made for a create is kept this long even when the map does
 * not list it yet (the instance's record is written after its nic). */
#define PIN_S 120

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long pinned[64];
static time_t pinned_at[64];

int agent_fabric_local_ip(const struct agent_conf *c, char out[64],
			  struct hull_err *err)
{
	/* http(s)://HOST[:PORT][/...] */
	const char *h = strstr(c->head, "://");
	h = h ? h + 3 : c->head;
	char host[256];
	size_t n = strcspn(h, ":/");
	if (*h == '[') {
		h++;
		n = strcspn(h, "]");
	}
	if (n == 0 || n >= sizeof(host))
		return hull_err_set(err, EINVAL, "head URL %s has no host",
				    c->head);
	memcpy(host, h, n);
	host[n] = '\0';
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_DGRAM};
	struct addrinfo *ai = NULL;
	if (getaddrinfo(host, "4789", &hints, &ai) != 0 || !ai)
		return hull_err_set(err, ENOENT, "head %s has no IPv4 address",
				    host);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	int r = 0;
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &len) < 0)
		r = hull_err_sys(err, errno, "the route to %s", host);
	else
		inet_ntop(AF_INET, &me.sin_addr, out, 64);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

static void link_name(long vni, char out[IFNAMSIZ])
{
	snprintf(out, IFNAMSIZ, "hvx%ld", vni);
}

static int vxlan_make(struct nl_sock *sk, long vni, unsigned mtu,
		      const char *local, struct hull_err *err)
{
	char name[IFNAMSIZ];
	link_name(vni, name);
	if (net_link_index(sk, name) > 0)
		return 0;
	struct rtnl_link *l = rtnl_link_vxlan_alloc();
	struct in_addr a;
	inet_pton(AF_INET, local, &a);
	struct nl_addr *la = nl_addr_build(AF_INET, &a, sizeof(a));
	rtnl_link_set_name(l, name);
	rtnl_link_vxlan_set_id(l, (uint32_t)vni);
	rtnl_link_vxlan_set_local(l, la);
	rtnl_link_vxlan_set_port(l, VXLAN_PORT);
	rtnl_link_vxlan_set_learning(l, 0);
	/* No outer UDP checksum (RFC 7348: SHOULD be zero over IPv4): the
	 * inner packets carry their own, and it costs a pass over each
	 * frame. */
	rtnl_link_vxlan_set_udp_csum(l, 0);
	rtnl_link_set_mtu(l, mtu);
	int e = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	nl_addr_put(la);
	rtnl_link_put(l);
	if (e < 0 && e != -NLE_EXIST)
		return hull_err_set(err, EIO, "vxlan %s: %s", name,
				    nl_geterror(e));
	char alias[64];
	snprintf(alias, sizeof(alias), ALIAS_PREFIX "%ld", vni);
	struct net_link_change ch = NET_LINK_CHANGE_INIT;
	ch.alias = alias;
	ch.up = 1;
	return net_link_change(sk, name, &ch, err);
}

/* The segment's vxlan link and nic tag. */
static int segment_ensure(struct nl_sock *sk, const char *tag, long vni,
			  unsigned mtu, const char *local, struct hull_err *err)
{
	int r = vxlan_make(sk, vni, mtu, local, err);
	if (r < 0)
		return r;
	struct net_tag t;
	struct hull_err e2 = {0};
	if (net_tag_get(tag, &t, &e2) == 0)
		return net_tag_bridge_ensure(tag, &t, err) < 0 ? -err->code : 0;
	char name[IFNAMSIZ];
	link_name(vni, name);
	/* The tag keeps its uplink's MTU (nic tags start at 1500; the
	 * vxlan link has the fabric's); the nics get theirs from the
	 * payload. */
	return net_tag_add(tag, false, name, 0, err);
}

static void pin(long vni)
{
	time_t now = time(NULL);
	int slot = 0;
	for (int i = 0; i < 64; i++) {
		if (pinned[i] == vni || now - pinned_at[i] > PIN_S) {
			slot = i;
			break;
		}
	}
	pinned[slot] = vni;
	pinned_at[slot] = now;
}

static bool is_pinned(long vni)
{
	time_t now = time(NULL);
	for (int i = 0; i < 64; i++)
		if (pinned[i] == vni && now - pinned_at[i] <= PIN_S)
			return true;
	return false;
}

/* Before a create task makes the node's first vxlan link, ahead of the
 * fabric map: a filter that lets no VXLAN in until the map's next pass
 * puts the compute nodes in it. Called with lock held. */
static bool filter_loaded;
static int vteps_apply(json_t *vteps, char **applied, struct hull_err *err);
static int filter_first(struct hull_err *err)
{
	if (filter_loaded)
		return 0;
	char *none = NULL;
	int r = vteps_apply(NULL, &none, err);
	free(none);
	if (r == 0)
		filter_loaded = true;
	return r;
}

int agent_fabric_prepare(const struct agent_conf *c, json_t *payload,
			 struct hull_err *err)
{
	size_t i;
	json_t *nic;
	int r = 0;
	char local[64] = "";
	pthread_mutex_lock(&lock);
	json_array_foreach(json_object_get(payload, "nics"), i, nic)
	{
		json_t *vni = json_object_get(nic, "vnet_id");
		if (!json_is_integer(vni))
			continue;
		if (!local[0] &&
		    ((r = agent_fabric_local_ip(c, local, err)) < 0 ||
		     (r = filter_first(err)) < 0))
			break;
		struct nl_sock *sk = net_nl_open(-1, err);
		if (!sk) {
			r = -err->code;
			break;
		}
		pin((long)json_integer_value(vni));
		r = segment_ensure(sk, hull_json_str(nic, "nic_tag", ""),
				   (long)json_integer_value(vni),
				   (unsigned)hull_json_int(nic, "mtu", 1450),
				   local, err);
		net_nl_close(sk);
		if (r < 0)
			break;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/* ---- forwarding entries ---- */

struct fdb_read {
	int ifindex;
	json_t *have; /* "mac dst" -> true */
};

static void fdb_each(struct nl_object *o, void *arg)
{
	struct fdb_read *f = arg;
	struct rtnl_neigh *n = (struct rtnl_neigh *)o;
	if (rtnl_neigh_get_family(n) != AF_BRIDGE ||
	    rtnl_neigh_get_ifindex(n) != f->ifindex)
		return;
	struct nl_addr *ll = rtnl_neigh_get_lladdr(n);
	struct nl_addr *dst = rtnl_neigh_get_dst(n);
	if (!ll || !dst || nl_addr_get_family(dst) != AF_INET)
		return;
	char mac[32], ip[64];
	const unsigned char *b = nl_addr_get_binary_addr(ll);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5]);
	inet_ntop(AF_INET, nl_addr_get_binary_addr(dst), ip, sizeof(ip));
	char *k = xasprintf("%s %s", mac, ip);
	json_object_set_new(f->have, k, json_true());
	free(k);
}

static int fdb_change(struct nl_sock *sk, int ifindex, const char *entry,
		      bool add, struct hull_err *err)
{
	unsigned m[6];
	char ip[64];
	if (sscanf(entry, "%x:%x:%x:%x:%x:%x %63s", &m[0], &m[1], &m[2], &m[3],
		   &m[4], &m[5], ip) != 7)
		return 0;
	unsigned char mac[6];
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)m[i];
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return 0;
	/* libnl 3.7's neighbour object leaves NDA_DST out of an AF_BRIDGE
	 * request: the message is built by hand (rtnetlink(7), ndmsg). */
	struct nl_msg *msg =
	    nlmsg_alloc_simple(add ? RTM_NEWNEIGH : RTM_DELNEIGH,
			       add ? NLM_F_CREATE | NLM_F_APPEND : 0);
	struct ndmsg nd = {.ndm_family = AF_BRIDGE,
			   .ndm_ifindex = ifindex,
			   .ndm_state = NUD_PERMANENT | NUD_NOARP,
			   .ndm_flags = NTF_SELF};
	int e = nlmsg_append(msg, &nd, sizeof(nd), NLMSG_ALIGNTO);
	if (e == 0)
		e = nla_put(msg, NDA_LLADDR, 6, mac);
	if (e == 0)
		e = nla_put(msg, NDA_DST, sizeof(a), &a);
	if (e == 0)
		e = nl_send_sync(sk, msg); /* frees msg */
	else
		nlmsg_free(msg);
	if (e < 0 && e != -NLE_EXIST && e != -NLE_OBJ_NOTFOUND)
		return hull_err_set(err, EIO, "fdb %s %s: %s",
				    add ? "add" : "delete", entry,
				    nl_geterror(e));
	return 0;
}

/* Makes the FDB of segment seg's vxlan link what the map says. */
static int fdb_sync(struct nl_sock *sk, struct nl_cache *cache, json_t *seg,
		    struct hull_err *err)
{
	char name[IFNAMSIZ];
	link_name((long)hull_json_int(seg, "vni", 0), name);
	int ifindex = net_link_index(sk, name);
	if (ifindex <= 0)
		return 0;
	json_t *want = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(seg, "remotes"), i, v)
	{
		char *k = xasprintf("00:00:00:00:00:00 %s",
				    json_string_value(v) ?: "");
		json_object_set_new(want, k, json_true());
		free(k);
	}
	const char *mac;
	json_object_foreach(json_object_get(seg, "macs"), mac, v)
	{
		char *k = xasprintf("%s %s", mac, json_string_value(v) ?: "");
		json_object_set_new(want, k, json_true());
		free(k);
	}
	struct fdb_read f = {ifindex, json_object()};
	nl_cache_foreach(cache, fdb_each, &f);
	int r = 0;
	const char *k;
	json_object_foreach(want, k,
			    v) if (!json_object_get(f.have, k) &&
				   (r = fdb_change(sk, ifindex, k, true, err)) <
				       0) break;
	json_object_foreach(f.have, k,
			    v) if (r == 0 && !json_object_get(want, k)) r =
	    fdb_change(sk, ifindex, k, false, err);
	json_decref(f.have);
	json_decref(want);
	return r;
}

/* ---- segments no longer needed ---- */

struct stale {
	json_t *keep; /* vni text -> true */
	json_t *drop; /* vni numbers */
};

static int stale_cb(const char *name, const char *alias, int master, void *arg)
{
	(void)name;
	(void)master;
	struct stale *s = arg;
	const char *vni = alias + strlen(ALIAS_PREFIX);
	if (!json_object_get(s->keep, vni) && !is_pinned(atol(vni)))
		json_array_append_new(s->drop, json_integer(atol(vni)));
	return 0;
}

static void segments_prune(struct nl_sock *sk, json_t *segs)
{
	struct stale s = {json_object(), json_array()};
	size_t i;
	json_t *v;
	json_array_foreach(segs, i, v)
	{
		char k[24];
		snprintf(k, sizeof(k), "%" JSON_INTEGER_FORMAT,
			 hull_json_int(v, "vni", 0));
		json_object_set_new(s.keep, k, json_true());
	}
	struct hull_err err = {0};
	net_link_foreach(sk, ALIAS_PREFIX, stale_cb, &s, &err);
	json_array_foreach(s.drop, i, v)
	{
		long vni = (long)json_integer_value(v);
		char tag[64], name[IFNAMSIZ];
		snprintf(tag, sizeof(tag), "sdc_overlay_%ld", vni);
		json_t *users = net_tag_users(tag, NULL);
		bool used = json_array_size(users) > 0;
		json_decref(users);
		if (used)
			continue;
		link_name(vni, name);
		struct hull_err e = {0};
		net_tag_delete(tag, true, &e);
		net_link_delete(sk, name, &e);
		agent_log("info", json_pack("{s:I}", "vni", (json_int_t)vni),
			  "fabric segment %ld removed", vni);
	}
	json_decref(s.keep);
	json_decref(s.drop);
}

/* ---- who may send VXLAN ---- */

static int vteps_apply(json_t *vteps, char **applied, struct hull_err *err)
{
	char *set = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&set, &len);
	size_t i;
	json_t *v;
	bool any = false;
	json_array_foreach(vteps, i, v)
	{
		struct in_addr a;
		if (!json_is_string(v) ||
		    inet_pton(AF_INET, json_string_value(v), &a) != 1)
			continue;
		fprintf(f, "%s%s", any ? ", " : "", json_string_value(v));
		any = true;
	}
	fclose(f);
	if (*applied && !strcmp(*applied, set)) {
		free(set);
		return 0;
	}
	char *cmds = xasprintf(
	    "table inet hull_fabric\n"
	    "delete table inet hull_fabric\n"
	    "table inet hull_fabric {\n"
	    "  set vteps { type ipv4_addr; %s%s%s }\n"
	    "  chain input {\n"
	    "    type filter hook input priority -150; policy accept;\n"
	    "    udp dport %d ip saddr != @vteps drop\n"
	    "    udp dport %d meta nfproto ipv6 drop\n"
	    "  }\n"
	    "}\n",
	    any ? "elements = { " : "", set, any ? " };" : "", VXLAN_PORT,
	    VXLAN_PORT);
	struct nft_ctx *nft = hull_nft_open(err);
	int r = 0;
	if (!nft) {
		r = -err->code;
	} else {
		if (nft_run_cmd_from_buffer(nft, cmds) != 0)
			r = hull_err_set(err, EIO,
					 "nftables: hull_fabric: %.200s",
					 nft_ctx_get_error_buffer(nft) ?: "");
		nft_ctx_free(nft);
	}
	free(cmds);
	if (r == 0) {
		free(*applied);
		*applied = set;
	} else {
		free(set);
	}
	return r;
}

/* ---- NAT gateways ---- */

/*
 * A fabric network's NAT gateway on the node the map names: a network
 * namespace of the agent's own (kept alive by its descriptor), with a
 * veth on the fabric's bridge at the network's gateway address and one
 * on the external network's nic tag at the NAT address, forwarding on
 * and nftables masquerade out of the external side. The namespace lives
 * as long as the agent holds it; a restarted agent makes it again.
 */
struct nat {
	char id[40];
	char *sig; /* the map entry it was made from */
	int fd;
};
static struct nat nats[32];

static int netns_new(void *arg)
{
	int *fd = arg;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

static int nat_inside(void *arg)
{
	struct hull_err *err = arg;
	int r = net_sysctl_write("net/ipv4/ip_forward", "1", err);
	if (r < 0)
		return r;
	struct nft_ctx *nft = hull_nft_open(err);
	if (!nft)
		return -err->code;
	if (nft_run_cmd_from_buffer(
		nft, "table ip hull_nat {\n"
		     "  chain post {\n"
		     "    type nat hook postrouting priority srcnat;\n"
		     "    oifname \"ext0\" masquerade\n"
		     "  }\n"
		     "}\n") != 0)
		r = hull_err_set(err, EIO, "nftables: hull_nat: %.200s",
				 nft_ctx_get_error_buffer(nft) ?: "");
	nft_ctx_free(nft);
	return r;
}

static void nat_names(const char *id, char fab[IFNAMSIZ], char ext[IFNAMSIZ])
{
	snprintf(fab, IFNAMSIZ, "hnf%.8s", id);
	snprintf(ext, IFNAMSIZ, "hne%.8s", id);
}

static void nat_drop(struct nl_sock *sk, struct nat *n)
{
	char fab[IFNAMSIZ], ext[IFNAMSIZ];
	struct hull_err e = {0};
	nat_names(n->id, fab, ext);
	net_link_delete(sk, fab, &e);
	net_link_delete(sk, ext, &e);
	if (n->fd >= 0)
		close(n->fd);
	free(n->sig);
	memset(n, 0, sizeof(*n));
	n->fd = -1;
}

static int addr_of(const char *ip, long prefix, struct net_addr *a)
{
	if (net_addr_parse(ip, a) < 0)
		return -EINVAL;
	a->prefix = (unsigned)prefix;
	return 0;
}

static int nat_make(struct nl_sock *sk, json_t *seg, json_t *nat, struct nat *n,
		    struct hull_err *err)
{
	const char *id = hull_json_str(nat, "id", "");
	char fab[IFNAMSIZ], ext[IFNAMSIZ];
	nat_names(id, fab, ext);
	snprintf(n->id, sizeof(n->id), "%s", id);
	n->fd = -1;
	struct net_tag ft, et;
	int fbr =
	    net_tag_bridge_ensure(hull_json_str(seg, "nic_tag", ""), &ft, err);
	if (fbr < 0)
		return fbr;
	int ebr = net_tag_bridge_ensure(hull_json_str(nat, "ext_nic_tag", ""),
					&et, err);
	if (ebr < 0)
		return hull_err_prefix(err, "NAT %s", id);
	int r = net_in_netns(-1, netns_new, &n->fd, err);
	if (r < 0)
		return hull_err_set(err, -r, "NAT %s: a network namespace", id);
	uint8_t m1[HULL_MAC_LEN], m2[HULL_MAC_LEN];
	getrandom(m1, sizeof(m1), 0);
	getrandom(m2, sizeof(m2), 0);
	m1[0] = (uint8_t)((m1[0] & 0xfe) | 0x02);
	m2[0] = (uint8_t)((m2[0] & 0xfe) | 0x02);
	if ((r = net_veth_create(sk, fab, fbr,
				 (unsigned)hull_json_int(seg, "mtu", 1450),
				 n->fd, "fab0", m1, err)) < 0 ||
	    (r = net_veth_create(sk, ext, ebr, 0, n->fd, "ext0", m2, err)) < 0)
		return r;
	struct net_link_change up = NET_LINK_CHANGE_INIT;
	up.up = 1;
	if ((r = net_link_change(sk, fab, &up, err)) < 0 ||
	    (r = net_link_change(sk, ext, &up, err)) < 0)
		return r;
	struct nl_sock *in = net_nl_open(n->fd, err);
	if (!in)
		return -err->code;
	struct net_addr ga, ea, gw;
	if (addr_of(hull_json_str(nat, "gateway", ""),
		    hull_json_int(nat, "prefix", 24), &ga) < 0 ||
	    addr_of(hull_json_str(nat, "ext_ip", ""),
		    hull_json_int(nat, "ext_prefix", 24), &ea) < 0 ||
	    net_addr_parse(hull_json_str(nat, "ext_gateway", ""), &gw) < 0) {
		net_nl_close(in);
		return hull_err_set(err, EINVAL, "NAT %s: bad addresses", id);
	}
	if ((r = net_link_change(in, "lo", &up, err)) < 0 ||
	    (r = net_link_change(in, "fab0", &up, err)) < 0 ||
	    (r = net_link_change(in, "ext0", &up, err)) < 0 ||
	    (r = net_addr_add(in, net_link_index(in, "fab0"), &ga, err)) < 0 ||
	    (r = net_addr_add(in, net_link_index(in, "ext0"), &ea, err)) < 0 ||
	    (r = net_route_add(in, AF_INET, NULL, &gw, 0, err)) < 0) {
		net_nl_close(in);
		return hull_err_prefix(err, "NAT %s", id);
	}
	net_nl_close(in);
	struct hull_err ie = {0};
	if ((r = net_in_netns(n->fd, nat_inside, &ie, err)) < 0)
		return hull_err_set(err, ie.code ? ie.code : EIO, "NAT %s: %s",
				    id, ie.msg);
	agent_log("info", json_pack("{s:s}", "network", id),
		  "NAT gateway of %s made", id);
	return 0;
}

static int nats_sync(struct nl_sock *sk, json_t *segs, struct hull_err *err)
{
	json_t *want = json_object(); /* id -> {seg, nat} */
	size_t i, k;
	json_t *seg, *nat;
	json_array_foreach(segs, i, seg)
	{
		json_array_foreach(json_object_get(seg, "nats"), k, nat)
		    json_object_set_new(
			want, hull_json_str(nat, "id", ""),
			json_pack("{s:O, s:O}", "seg", seg, "nat", nat));
	}
	int r = 0;
	for (size_t j = 0; j < sizeof(nats) / sizeof(*nats); j++) {
		if (!nats[j].id[0])
			continue;
		json_t *w = json_object_get(want, nats[j].id);
		char *sig = w ? json_dumps(json_object_get(w, "nat"),
					   JSON_SORT_KEYS | JSON_COMPACT)
			      : NULL;
		if (!sig || strcmp(sig, nats[j].sig))
			nat_drop(sk, &nats[j]);
		else
			json_object_del(want, nats[j].id);
		free(sig);
	}
	const char *id;
	json_t *w, *tmp;
	json_object_foreach_safe(want, tmp, id, w)
	{
		struct nat *slot = NULL;
		for (size_t j = 0; !slot && j < sizeof(nats) / sizeof(*nats);
		     j++)
			if (!nats[j].id[0])
				slot = &nats[j];
		if (!slot)
			break;
		r = nat_make(sk, json_object_get(w, "seg"),
			     json_object_get(w, "nat"), slot, err);
		if (r < 0) {
			nat_drop(sk, slot);
			break;
		}
		slot->sig = json_dumps(json_object_get(w, "nat"),
				       JSON_SORT_KEYS | JSON_COMPACT);
	}
	json_decref(want);
	return r;
}

int agent_fabric_sync(const struct agent_conf *c, json_t *map, char **applied,
		      struct hull_err *err)
{
	char local[64];
	int r = agent_fabric_local_ip(c, local, err);
	if (r < 0)
		return r;
	json_t *segs = json_object_get(map, "segments");
	struct nl_sock *sk = net_nl_open(-1, err);
	if (!sk)
		return -err->code;
	pthread_mutex_lock(&lock);
	/* The filter is kept up to date once the node has a segment (or a
	 * create task made one: filter_first); a node that never had one
	 * has no vxlan link, receives no VXLAN and need not load
	 * libnftables (issue 14's agent memory). */
	if ((*applied || json_array_size(segs)) &&
	    (r = vteps_apply(json_object_get(map, "vteps"), applied, err)) <
		0) {
		pthread_mutex_unlock(&lock);
		net_nl_close(sk);
		return r;
	}
	if (*applied)
		filter_loaded = true;
	size_t i;
	json_t *seg;
	json_array_foreach(segs, i, seg)
	{
		if ((r = segment_ensure(
			 sk, hull_json_str(seg, "nic_tag", ""),
			 (long)hull_json_int(seg, "vni", 0),
			 (unsigned)hull_json_int(seg, "mtu", 1450), local,
			 err)) < 0)
			break;
	}
	struct nl_cache *cache = NULL;
	if (r == 0) {
		int e =
		    rtnl_neigh_alloc_cache_flags(sk, &cache, NL_CACHE_AF_ITER);
		if (e < 0)
			r = hull_err_set(err, EIO, "fdb: %s", nl_geterror(e));
	}
	json_array_foreach(segs, i, seg)
	{
		if (r < 0)
			break;
		r = fdb_sync(sk, cache, seg, err);
	}
	if (cache)
		nl_cache_free(cache);
	if (r == 0)
		r = nats_sync(sk, segs, err);
	if (r == 0)
		segments_prune(sk, segs);
	pthread_mutex_unlock(&lock);
	net_nl_close(sk);
	return r;
}
