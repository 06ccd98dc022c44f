/*
 * ipaddr.c - ipadm's address objects (see ipaddr.h).
 *
 * The map: {"boot_id": "...", "addrs": {AOBJ: {"ifname": .., "type": ..,
 * "addr": "a/len" (static), "pidfile": ".." (dhcp)}}}, written under
 * R/var/ipadm/lock. The kernel side is changed first and the map after;
 * a failure to write the map undoes the kernel change.
 */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"
#include "net/ipaddr.h"
#include "net/netlink.h"

static const char *const type_names[] = {
    [NET_ADDR_STATIC] = "static",
    [NET_ADDR_DHCP] = "dhcp",
    [NET_ADDR_ADDRCONF] = "addrconf",
};

const char *net_addr_type_name(enum net_addr_type t)
{
	return type_names[t];
}

int net_addr_type_parse(const char *s, enum net_addr_type *t)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(*type_names); i++)
		if (!strcmp(s, type_names[i])) {
			*t = (enum net_addr_type)i;
			return 0;
		}
	return -EINVAL;
}

bool net_aobj_valid(const char *aobj, size_t *slash)
{
	const char *s = strchr(aobj, '/');
	size_t n;

	if (!s || s == aobj || (size_t)(s - aobj) >= IFNAMSIZ)
		return false;
	*slash = (size_t)(s - aobj);
	s++;
	n = strlen(s);
	if (n == 0 || n > 32 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* The map of this network namespace. */
static char *map_path(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) < 0)
		st.st_ino = 0;
	return hull_root_path("var/ipadm/aobj-%lu.json",
			      (unsigned long)st.st_ino);
}

static void boot_id(char out[64])
{
	char *s = NULL;
	size_t n = 0;
	struct hull_err ignore;

	out[0] = 0;
	if (hull_file_read("/proc/sys/kernel/random/boot_id", 64, &s, &n,
			   &ignore) == 0) {
		s[strcspn(s, "\n")] = 0;
		snprintf(out, 64, "%s", s);
	}
	free(s);
}

/* The "addrs" object (new reference); empty for another boot's map. */
static json_t *map_load(struct hull_err *err)
{
	_cleanup_free_ char *p = map_path();
	char id[64];
	json_t *j, *a;

	if (!hull_path_exists(p))
		return json_object();
	if (!(j = hull_json_load_file(p, err)))
		return NULL;
	boot_id(id);
	a = json_object_get(j, "addrs");
	if (strcmp(hull_json_str(j, "boot_id", ""), id) || !json_is_object(a))
		a = json_object();
	else
		json_incref(a);
	json_decref(j);
	return a;
}

static int map_save(json_t *addrs, struct hull_err *err)
{
	_cleanup_free_ char *p = map_path();
	char id[64];
	json_t *j;
	int r;

	boot_id(id);
	j = json_pack("{ss sO}", "boot_id", id, "addrs", addrs);
	r = hull_json_save_file(p, j, err);
	json_decref(j);
	return r;
}

static int map_lock(struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var/ipadm");
	_cleanup_free_ char *p = hull_root_path("var/ipadm/lock");
	int r;

	if ((r = hull_mkdir_p(dir, 0700, err)))
		return r;
	return hull_lock_take(p, true, err);
}

/* Kernel addresses, unnamed. */
struct kaddr {
	int ifindex;
	struct net_addr a;
	bool permanent, tentative;
};

struct adump {
	struct kaddr *v;
	size_t n, cap;
};

static int addr_cb(struct nl_msg *msg, void *arg)
{
	struct adump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct ifaddrmsg *ifa = nlmsg_data(h);
	struct nlattr *tb[IFA_MAX + 1], *at;
	uint32_t flags;
	struct kaddr *k;

	if (h->nlmsg_type != RTM_NEWADDR ||
	    nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return NL_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return NL_OK;
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at || nla_len(at) != (ifa->ifa_family == AF_INET ? 4 : 16))
		return NL_OK;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	k = &d->v[d->n++];
	memset(k, 0, sizeof(*k));
	k->ifindex = (int)ifa->ifa_index;
	k->a.family = ifa->ifa_family;
	k->a.prefix = ifa->ifa_prefixlen;
	memcpy(k->a.a, nla_data(at), (size_t)nla_len(at));
	flags = tb[IFA_FLAGS] ? nla_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	k->permanent = flags & IFA_F_PERMANENT;
	k->tentative = flags & IFA_F_TENTATIVE;
	return NL_OK;
}

static int kaddr_list(struct nl_sock *sk, struct kaddr **out, size_t *n,
		      struct hull_err *err)
{
	struct ifaddrmsg ifa = {.ifa_family = AF_UNSPEC};
	struct adump d = {0};
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int r;

	if (!cb)
		abort();
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, addr_cb, &d);
	r = nl_send_simple(sk, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	if (r >= 0)
		r = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (r < 0) {
		free(d.v);
		return hull_err_set(err, EIO, "list addresses: %s",
				    nl_geterror(r));
	}
	*out = d.v;
	*n = d.n;
	return 0;
}

static bool is_linklocal6(const struct net_addr *a)
{
	return a->family == AF_INET6 && a->a[0] == 0xfe &&
	       (a->a[1] & 0xc0) == 0x80;
}

/* Does map entry e (of interface ifname) own kernel address k? */
static bool entry_owns(json_t *e, const struct kaddr *k)
{
	enum net_addr_type t = NET_ADDR_STATIC;
	struct net_addr a;

	net_addr_type_parse(hull_json_str(e, "type", ""), &t);
	switch (t) {
	case NET_ADDR_STATIC:
		return net_cidr_parse(hull_json_str(e, "addr", ""), false,
				      &a) == 0 &&
		       net_addr_equal(&a, &k->a) && a.prefix == k->a.prefix;
	case NET_ADDR_DHCP:
		return k->a.family == AF_INET && !k->permanent;
	case NET_ADDR_ADDRCONF:
		return k->a.family == AF_INET6 &&
		       (is_linklocal6(&k->a) || !k->permanent);
	}
	return false;
}

static enum net_addr_type guess_type(const struct kaddr *k)
{
	if (k->a.family == AF_INET6 && (is_linklocal6(&k->a) || !k->permanent))
		return NET_ADDR_ADDRCONF;
	if (k->a.family == AF_INET && !k->permanent)
		return NET_ADDR_DHCP;
	return NET_ADDR_STATIC;
}

struct ifinfo {
	int ifindex;
	char name[IFNAMSIZ];
	bool up;
};

static int if_name(struct nl_sock *sk, int ifindex, char name[IFNAMSIZ],
		   bool *up)
{
	struct rtnl_link *l = NULL;

	if (rtnl_link_get_kernel(sk, ifindex, NULL, &l) < 0 || !l)
		return -ENODEV;
	snprintf(name, IFNAMSIZ, "%s", rtnl_link_get_name(l));
	*up = rtnl_link_get_flags(l) & IFF_UP;
	rtnl_link_put(l);
	return 0;
}

int net_ipaddr_list(struct nl_sock *sk, struct net_ipaddr **out, size_t *n,
		    struct hull_err *err)
{
	struct kaddr *k = NULL;
	size_t nk = 0, cap, m = 0;
	json_t *map, *e;
	const char *aobj;
	struct net_ipaddr *v;
	int r;

	if (!(map = map_load(err)))
		return -err->code;
	if ((r = kaddr_list(sk, &k, &nk, err))) {
		json_decref(map);
		return r;
	}
	cap = nk + json_object_size(map) + 1;
	v = xcalloc(cap, sizeof(*v));
	for (size_t i = 0; i < nk; i++) {
		struct net_ipaddr *x = &v[m];
		bool up = false;

		if (if_name(sk, k[i].ifindex, x->ifname, &up) < 0)
			continue;
		/* The loopback's addresses: illumos shows lo0/v4 and
		 * lo0/v6 as static. */
		snprintf(x->aobj, sizeof(x->aobj), "%s/?", x->ifname);
		x->type = guess_type(&k[i]);
		json_object_foreach(map, aobj, e)
		{
			if (!strcmp(hull_json_str(e, "ifname", ""),
				    x->ifname) &&
			    entry_owns(e, &k[i])) {
				snprintf(x->aobj, sizeof(x->aobj), "%s", aobj);
				net_addr_type_parse(
				    hull_json_str(e, "type", ""), &x->type);
				break;
			}
		}
		x->has_addr = true;
		x->addr = k[i].a;
		x->tentative = k[i].tentative;
		x->up = up;
		m++;
	}
	/* A DHCP object still waiting for its lease shows with no address. */
	json_object_foreach(map, aobj, e)
	{
		bool found = false, up = false;
		if (strcmp(hull_json_str(e, "type", ""), "dhcp"))
			continue;
		for (size_t i = 0; i < m && !found; i++)
			found = !strcmp(v[i].aobj, aobj);
		if (found)
			continue;
		struct net_ipaddr *x = &v[m];
		snprintf(x->aobj, sizeof(x->aobj), "%s", aobj);
		snprintf(x->ifname, sizeof(x->ifname), "%s",
			 hull_json_str(e, "ifname", ""));
		x->type = NET_ADDR_DHCP;
		int idx = net_link_index(sk, x->ifname);
		char ignore[IFNAMSIZ];
		if (idx > 0)
			if_name(sk, idx, ignore, &up);
		x->up = up;
		m++;
	}
	free(k);
	json_decref(map);
	*out = v;
	*n = m;
	return 0;
}

static int addr_del(struct nl_sock *sk, int ifindex, const struct net_addr *a,
		    struct hull_err *err)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local =
	    nl_addr_build(a->family, a->a, a->family == AF_INET ? 4 : 16);
	char txt[NET_ADDR_STRLEN];
	int r;

	if (!ra || !local)
		abort();
	nl_addr_set_prefixlen(local, (int)a->prefix);
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, (int)a->prefix);
	r = rtnl_addr_delete(sk, ra, 0);
	nl_addr_put(local);
	rtnl_addr_put(ra);
	if (r < 0 && r != -NLE_NOADDR && r != -NLE_OBJ_NOTFOUND) {
		net_addr_format(a, true, txt, sizeof(txt));
		return hull_err_set(err, EIO, "delete address %s: %s", txt,
				    nl_geterror(r));
	}
	return 0;
}

static char *dhclient_find(void)
{
	static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin",
					   "/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		char *p = xasprintf("%s/dhclient", dirs[i]);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int dhcp_start(const char *ifname, json_t *e, struct hull_err *err)
{
	_cleanup_free_ char *prog = dhclient_find();
	_cleanup_free_ char *pf = NULL, *lf = NULL;

	if (!prog)
		return hull_err_set(err, ENOENT,
				    "-T dhcp needs Debian's DHCP client "
				    "dhclient (package isc-dhcp-client), "
				    "which is not installed");
	pf = hull_root_path("var/ipadm/dhclient-%s.pid", ifname);
	lf = hull_root_path("var/ipadm/dhclient-%s.leases", ifname);
	/* -nw: go to the background at once; the lease comes when a
	 * server answers, as illumos's dhcpagent does with ipadm -w. */
	char *argv[] = {prog,  "-4", "-nw",	     "-pf", pf,
			"-lf", lf,   (char *)ifname, NULL};
	int r = hull_run(argv, -1, -1, NULL, err);
	if (r)
		return hull_err_prefix(err, "start dhclient on %s", ifname);
	json_object_set_new(e, "pidfile", json_string(pf));
	return 0;
}

/*
 * Stops aobj's client. With release, `dhclient -r` sends the server a
 * DHCPRELEASE for the lease in its lease file and stops the client named
 * by the pid file, as illumos's ipadm delete-addr releases a DHCP lease.
 * Its script is /bin/true: Debian's dhclient-script would flush every
 * IPv4 address of the interface on RELEASE, static ones too; the caller
 * removes the leased address itself. Without release (or when dhclient
 * is gone or fails) the client is only sent SIGTERM.
 */
static void dhcp_stop(json_t *e, bool release)
{
	const char *pf = hull_json_str(e, "pidfile", NULL);
	const char *ifname = hull_json_str(e, "ifname", "");
	_cleanup_free_ char *prog = dhclient_find();
	_cleanup_free_ char *lf = NULL;
	struct hull_err ignore;
	char *s = NULL;
	size_t n;

	if (!pf)
		return;
	if (release && prog && *ifname) {
		lf = hull_root_path("var/ipadm/dhclient-%s.leases", ifname);
		char *argv[] = {prog,	     "-4",	     "-r",	 "-sf",
				"/bin/true", "-pf",	     (char *)pf, "-lf",
				lf,	     (char *)ifname, NULL};
		if (hull_run(argv, -1, -1, NULL, &ignore) == 0) {
			unlink(pf);
			unlink(lf);
			return;
		}
	}
	if (hull_file_read(pf, 64, &s, &n, &ignore))
		return;
	long pid = strtol(s, NULL, 10);
	free(s);
	if (pid > 1)
		kill((pid_t)pid, SIGTERM);
	unlink(pf);
}

static int link_up(struct nl_sock *sk, const char *ifname, struct hull_err *err)
{
	struct net_link_change c = NET_LINK_CHANGE_INIT;

	c.up = 1;
	return net_link_change(sk, ifname, &c, err);
}

static int addrconf_on(struct nl_sock *sk, const char *ifname, int ifindex,
		       struct hull_err *err)
{
	uint8_t mac[HULL_MAC_LEN];
	struct net_addr ll = {.family = AF_INET6, .prefix = 64};
	_cleanup_free_ char *p1 =
	    xasprintf("net/ipv6/conf/%s/disable_ipv6", ifname);
	_cleanup_free_ char *p2 =
	    xasprintf("net/ipv6/conf/%s/autoconf", ifname);
	_cleanup_free_ char *p3 =
	    xasprintf("net/ipv6/conf/%s/accept_ra", ifname);
	int r;

	if ((r = net_link_mac(sk, ifname, mac, err)))
		return r;
	if ((r = net_sysctl_write(p1, "0", err)) ||
	    (r = net_sysctl_write(p2, "1", err)) ||
	    (r = net_sysctl_write(p3, "1", err)))
		return r;
	/* The link-local address is made here rather than left to the
	 * kernel, so it exists when the command returns. */
	hull_mac_to_ipv6_ll(mac, ll.a);
	r = net_addr_add(sk, ifindex, &ll, err);
	return r == -EEXIST ? 0 : r;
}

/* A static entry whose address the kernel no longer holds on ifindex. */
static bool stale(struct nl_sock *sk, int ifindex, json_t *e)
{
	struct hull_err ignore;
	struct kaddr *k = NULL;
	size_t nk = 0;
	bool found = false;

	if (strcmp(hull_json_str(e, "type", ""), "static") ||
	    kaddr_list(sk, &k, &nk, &ignore))
		return false;
	for (size_t i = 0; i < nk && !found; i++)
		found = k[i].ifindex == ifindex && entry_owns(e, &k[i]);
	free(k);
	return !found;
}

int net_ipaddr_create(struct nl_sock *sk, const char *aobj,
		      enum net_addr_type type, const struct net_addr *addr,
		      struct hull_err *err)
{
	char ifname[IFNAMSIZ];
	char txt[NET_ADDR_STRLEN];
	json_t *map = NULL, *e, *o;
	const char *name;
	size_t slash;
	int lock, idx, r;

	if (!net_aobj_valid(aobj, &slash))
		return hull_err_set(err, EINVAL,
				    "invalid address object '%s': use "
				    "INTERFACE/NAME, NAME a letter then "
				    "letters or digits",
				    aobj);
	snprintf(ifname, sizeof(ifname), "%.*s", (int)slash, aobj);
	if ((idx = net_link_index(sk, ifname)) < 0)
		return hull_err_set(err, ENXIO, "no interface %s", ifname);
	if ((lock = map_lock(err)) < 0)
		return lock;
	if (!(map = map_load(err))) {
		r = -err->code;
		goto out;
	}
	if ((o = json_object_get(map, aobj)) && stale(sk, idx, o)) {
		/* Its address is gone (an `ip addr flush`, a link that came
		 * back): the name is free again. */
		json_object_del(map, aobj);
	}
	if (json_object_get(map, aobj)) {
		r = hull_err_set(err, EEXIST,
				 "address object %s already exists", aobj);
		goto out;
	}
	json_object_foreach(map, name, o)
	{
		if (type != NET_ADDR_STATIC &&
		    !strcmp(hull_json_str(o, "ifname", ""), ifname) &&
		    !strcmp(hull_json_str(o, "type", ""),
			    net_addr_type_name(type))) {
			r = hull_err_set(err, EEXIST,
					 "interface %s already has a%s %s "
					 "address object (%s)",
					 ifname,
					 type == NET_ADDR_ADDRCONF ? "n" : "",
					 net_addr_type_name(type), name);
			goto out;
		}
	}
	e = json_pack("{ss ss}", "ifname", ifname, "type",
		      net_addr_type_name(type));
	if ((r = link_up(sk, ifname, err)))
		goto out_e;
	switch (type) {
	case NET_ADDR_STATIC:
		net_addr_format(addr, true, txt, sizeof(txt));
		json_object_set_new(e, "addr", json_string(txt));
		r = net_addr_add(sk, idx, addr, err);
		if (r == -EEXIST)
			r = hull_err_set(err, EEXIST,
					 "address %s already exists on %s", txt,
					 ifname);
		break;
	case NET_ADDR_DHCP:
		r = dhcp_start(ifname, e, err);
		break;
	case NET_ADDR_ADDRCONF:
		r = addrconf_on(sk, ifname, idx, err);
		break;
	}
	if (r)
		goto out_e;
	json_object_set(map, aobj, e);
	if ((r = map_save(map, err))) {
		struct hull_err ignore;
		if (type == NET_ADDR_STATIC)
			addr_del(sk, idx, addr, &ignore);
		else if (type == NET_ADDR_DHCP)
			dhcp_stop(e, true);
	}
out_e:
	json_decref(e);
out:
	json_decref(map);
	hull_lock_release(lock);
	return r;
}

int net_ipaddr_delete(struct nl_sock *sk, const char *aobj,
		      struct hull_err *err)
{
	struct kaddr *k = NULL;
	size_t nk = 0, slash;
	json_t *map = NULL, *e;
	const char *ifname;
	int lock, idx, r;

	if (!net_aobj_valid(aobj, &slash))
		return hull_err_set(err, EINVAL, "invalid address object '%s'",
				    aobj);
	if ((lock = map_lock(err)) < 0)
		return lock;
	if (!(map = map_load(err))) {
		r = -err->code;
		goto out;
	}
	if (!(e = json_object_get(map, aobj))) {
		r = hull_err_set(err, ENOENT, "address object %s not found",
				 aobj);
		goto out;
	}
	ifname = hull_json_str(e, "ifname", "");
	idx = net_link_index(sk, ifname);
	if (!strcmp(hull_json_str(e, "type", ""), "dhcp"))
		dhcp_stop(e, true);
	if (!strcmp(hull_json_str(e, "type", ""), "addrconf")) {
		_cleanup_free_ char *p =
		    xasprintf("net/ipv6/conf/%s/autoconf", ifname);
		struct hull_err ignore;
		if (idx > 0)
			net_sysctl_write(p, "0", &ignore);
	}
	if (idx > 0 && (r = kaddr_list(sk, &k, &nk, err)))
		goto out;
	for (size_t i = 0; i < nk; i++)
		if (k[i].ifindex == idx && entry_owns(e, &k[i]) &&
		    (r = addr_del(sk, idx, &k[i].a, err)))
			goto out;
	json_object_del(map, aobj);
	r = map_save(map, err);
out:
	free(k);
	json_decref(map);
	hull_lock_release(lock);
	return r;
}
