/*
 * instance.c - set up and tear down an instance's ports (see instance.h).
 *
 * Order matters for safety: ports are made down, their antispoof chains are
 * loaded (one nftables transaction for the whole instance), and only then
 * are they brought up, so no frame leaves an instance unchecked. Inside the
 * instance, links come up before routes (the kernel refuses a gateway on a
 * link that is down).
 */
#include <errno.h>
#include <linux/if_bridge.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "net/antispoof.h"
#include "net/instance.h"
#include "net/netlink.h"
#include "net/nictag.h"
#include "net/tap.h"

bool net_brand_is_hvm(const char *brand)
{
	return inst_brand_is_hvm(inst_brand_from_name(brand));
}

/* What one call made, so a failure can undo exactly that. */
struct made {
	size_t n;
	char ports[NET_MAX_NICS][IFNAMSIZ];
	int tap_fds[NET_MAX_NICS];
};

static char *port_alias(const char *uuid, const uint8_t mac[HULL_MAC_LEN])
{
	char m[HULL_MAC_STRLEN];

	hull_mac_format(mac, m);
	return xasprintf("hull:%s:%s", uuid, m);
}

/* Removes ports (links and antispoof chains) in one nft transaction. */
static int ports_remove(struct nl_sock *sk, char (*ports)[IFNAMSIZ], size_t n,
			struct hull_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r = 0, r2;

	if (n == 0)
		return 0;
	if (!(f = open_memstream(&buf, &len)))
		abort();
	for (size_t i = 0; i < n; i++) {
		char *c =
		    net_antispoof_port_remove(net_antispoof_table(), ports[i]);
		fputs(c, f);
		free(c);
	}
	fclose(f);
	/* Links first: once a port is gone no frame can use its chain. */
	for (size_t i = 0; i < n; i++) {
		struct hull_err e;
		if (net_link_index(sk, ports[i]) > 0 &&
		    (r2 = net_link_delete(sk, ports[i], &e)) && !r) {
			*err = e;
			r = r2;
		}
	}
	r2 = net_antispoof_apply(buf, r ? NULL : err);
	free(buf);
	if (!r && !r2)
		r2 = net_antispoof_legacy_forget(ports, n, err);
	return r ? r : r2;
}

static int any_port_cb(const char *name, const char *alias, int master,
		       void *arg)
{
	return 1;
}

/* Drops this pool's antispoof table once none of its ports is left. */
static int table_gc(struct hull_err *err)
{
	return net_antispoof_table_gc(net_antispoof_table(), err);
}

static int collect_cb(const char *name, const char *alias, int master,
		      void *arg)
{
	struct made *m = arg;

	if (m->n < NET_MAX_NICS)
		snprintf(m->ports[m->n++], IFNAMSIZ, "%s", name);
	return 0;
}

/* One lock per pool for port and antispoof changes: the pool's antispoof
 * table is shared by its instances, and the last one out removes it, which
 * must not race with another instance adding its first chain. Other pools
 * have tables of their own. */
static int net_lock(struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var");
	_cleanup_free_ char *p = hull_root_path("var/net.lock");
	int r;

	if ((r = hull_mkdir_p(dir, 0755, err)))
		return r;
	return hull_lock_take(p, true, err);
}

static int teardown_locked(const char *uuid, struct hull_err *err);

int net_instance_teardown(const char *uuid, struct hull_err *err)
{
	int lock, r;

	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "not a UUID: '%s'", uuid);
	if ((lock = net_lock(err)) < 0)
		return lock;
	r = teardown_locked(uuid, err);
	hull_lock_release(lock);
	return r;
}

static int teardown_locked(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *prefix = xasprintf("hull:%s:", uuid);
	struct nl_sock *sk;
	struct made m = {0};
	int r;

	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "not a UUID: '%s'", uuid);
	if (!(sk = net_nl_open(-1, err)))
		return -err->code;
	r = net_link_foreach(sk, prefix, collect_cb, &m, err);
	if (!r && m.n)
		r = ports_remove(sk, m.ports, m.n, err);
	if (!r && m.n)
		r = table_gc(err);
	net_nl_close(sk);
	return r;
}

/* A free host port name: "hv" + 8 hex digits of the uuid + a number. */
static int port_name(struct nl_sock *sk, const char *uuid, char out[IFNAMSIZ],
		     struct hull_err *err)
{
	for (unsigned k = 0; k < 100; k++) {
		snprintf(out, IFNAMSIZ, "hv%.8s%u", uuid, k);
		if (net_link_index(sk, out) < 0)
			return 0;
	}
	return hull_err_set(err, ENOSPC, "no free port name for %s", uuid);
}

struct mac_owner {
	const char *uuid;
	char mac[HULL_MAC_STRLEN];
	char owner[HULL_UUID_LEN + 1];
};

/* Port aliases are "hull:<uuid>:<mac>": a live port of another instance
 * with the same MAC is a conflict on the wire. (Records that are not
 * running are vmadm's to keep unique.) */
static int mac_owner_cb(const char *name, const char *alias, int master,
			void *arg)
{
	struct mac_owner *o = arg;
	const char *u = alias + 5, *m = u + HULL_UUID_LEN + 1;

	if (strlen(alias) != 5 + HULL_UUID_LEN + 1 + HULL_MAC_STRLEN - 1 ||
	    !strncmp(u, o->uuid, HULL_UUID_LEN) || strcmp(m, o->mac))
		return 0;
	snprintf(o->owner, sizeof(o->owner), "%.*s", HULL_UUID_LEN, u);
	return 1;
}

/* Host-side checks of one nic: its tag exists (its bridge is made when
 * missing) and no other running instance owns its MAC. Returns the bridge
 * ifindex. */
static int nic_check(struct nl_sock *sk, const char *uuid,
		     const struct net_nic *n, bool *etherstub,
		     struct hull_err *err)
{
	struct mac_owner o = {.uuid = uuid};
	struct net_tag t;
	int br, r;

	hull_mac_format(n->mac, o.mac);
	r = net_link_foreach(sk, "hull:", mac_owner_cb, &o, err);
	if (r < 0)
		return r;
	if (r == 1)
		return hull_err_set(err, EEXIST,
				    "nics.%u.mac: %s is already used by "
				    "instance %s",
				    n->index, o.mac, o.owner);
	br = net_tag_bridge_ensure(n->tag, &t, err);
	if (br < 0)
		return hull_err_prefix(err, "nics.%u", n->index);
	*etherstub = t.etherstub;
	return br;
}

/* Makes the (down) host port of nic n on bridge br. */
static int port_make(struct nl_sock *sk, const char *uuid,
		     const struct net_nic *n, int br, bool etherstub,
		     int netns_fd, bool hvm, struct made *m,
		     struct hull_err *err)
{
	char *name = m->ports[m->n];
	_cleanup_free_ char *alias = port_alias(uuid, n->mac);
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	int fd = -1, idx, r;

	if ((r = port_name(sk, uuid, name, err)))
		return r;
	if (hvm) {
		if ((fd = net_tap_open(name, err)) < 0)
			return fd;
		c.master = br;
		c.mtu = n->mtu;
	} else if ((r = net_veth_create(sk, name, br, n->mtu, netns_fd,
					n->interface, n->mac, err))) {
		return hull_err_prefix(err, "nics.%u", n->index);
	}
	m->tap_fds[m->n] = fd;
	m->n++;
	c.alias = alias;
	if ((r = net_link_change(sk, name, &c, err)))
		return hull_err_prefix(err, "nics.%u", n->index);
	if (n->vlan_id) {
		/* An access port: vlan_id untagged in and out, nothing else. */
		idx = net_link_index(sk, name);
		if ((r = net_bridge_vlan(sk, idx, true, 1, 1, 0, err)) ||
		    (r = net_bridge_vlan(sk, idx, false, n->vlan_id, n->vlan_id,
					 BRIDGE_VLAN_INFO_PVID |
					     BRIDGE_VLAN_INFO_UNTAGGED,
					 err))) {
			/* No bridge VLAN filtering in this kernel: on an
			 * etherstub the antispoof table keeps VLANs apart
			 * (antispoof.h); an uplink cannot carry the tags. */
			if (r == -EOPNOTSUPP && etherstub)
				return 0;
			if (r == -EOPNOTSUPP)
				return hull_err_set(
				    err, EOPNOTSUPP,
				    "nics.%u: vlan_id %u on a tag with an "
				    "uplink needs bridge VLAN filtering, which "
				    "this kernel lacks "
				    "(CONFIG_BRIDGE_VLAN_FILTERING)",
				    n->index, n->vlan_id);
			return hull_err_prefix(err, "nics.%u: vlan %u",
					       n->index, n->vlan_id);
		}
	}
	return 0;
}

static int fail_hook(unsigned index, struct hull_err *err)
{
	const char *v = getenv(NET_TEST_FAIL_ENV);

	if (v && *v && (unsigned)atoi(v) == index)
		return hull_err_set(err, EIO, "nics.%u: failing as %s asks",
				    index, NET_TEST_FAIL_ENV);
	return 0;
}

static int ports_antispoof(const struct net_nic **nics, struct made *m,
			   size_t from, struct hull_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		abort();
	for (size_t i = from; i < m->n; i++) {
		char *c = net_antispoof_port_rules(net_antispoof_table(),
						   nics[i - from], m->ports[i]);
		fputs(c, f);
		free(c);
	}
	fclose(f);
	r = net_antispoof_apply(buf, err);
	free(buf);
	/* A port of the same name an older version set up has its chain in
	 * the legacy table: this pool's new chain is in force, so drop it. */
	if (!r)
		r = net_antispoof_legacy_forget(m->ports + from, m->n - from,
						err);
	return r;
}

static int ports_up(struct nl_sock *sk, struct made *m, size_t from,
		    struct hull_err *err)
{
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	int r;

	c.up = 1;
	for (size_t i = from; i < m->n; i++)
		if ((r = net_link_change(sk, m->ports[i], &c, err)))
			return r;
	return 0;
}

struct sysctl_job {
	const struct net_nic **nics;
	size_t n;
	struct hull_err *err;
};

static int sysctl_job_run(void *arg)
{
	struct sysctl_job *j = arg;
	int r;

	for (size_t i = 0; i < j->n; i++) {
		/* A gratuitous ARP when the nic comes up with its addresses,
		 * as illumos announces an address it brings up: switches
		 * and bridges learn the MAC's new port at once (an
		 * instance that moved to another server). */
		_cleanup_free_ char *an = xasprintf(
		    "net/ipv4/conf/%s/arp_notify", j->nics[i]->interface);
		if ((r = net_sysctl_write(an, "1", j->err)))
			return r;
		const char *v = j->nics[i]->addrconf ? "1" : "0";
		_cleanup_free_ char *ra = xasprintf(
		    "net/ipv6/conf/%s/accept_ra", j->nics[i]->interface);
		_cleanup_free_ char *ac = xasprintf("net/ipv6/conf/%s/autoconf",
						    j->nics[i]->interface);
		/* A namespace without IPv6 has no such files: nothing to do. */
		if (access("/proc/sys/net/ipv6", F_OK) < 0)
			return 0;
		if ((r = net_sysctl_write(ra, v, j->err)) ||
		    (r = net_sysctl_write(ac, v, j->err)))
			return r;
	}
	return 0;
}

/* Inside the instance: addresses and link state of nics, then the default
 * routes when the primary is among them, then the record's routes that go
 * through them. */
static int inside_configure(struct nl_sock *isk, int netns_fd,
			    const struct net_config *cfg,
			    const struct net_nic **nics, size_t n,
			    struct hull_err *err)
{
	struct sysctl_job job = {.nics = nics, .n = n, .err = err};
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	int idx[NET_MAX_NICS];
	int r;

	c.up = 1;
	if (net_link_index(isk, "lo") > 0 &&
	    (r = net_link_change(isk, "lo", &c, err)))
		return r;
	if ((r = net_in_netns(netns_fd, sysctl_job_run, &job, err)))
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct net_nic *nic = nics[i];
		if ((idx[i] = net_link_index(isk, nic->interface)) < 0)
			return hull_err_set(err, ENODEV,
					    "nics.%u: no %s in the instance",
					    nic->index, nic->interface);
		for (size_t a = 0; a < nic->nips; a++)
			if ((r = net_addr_add(isk, idx[i], &nic->ips[a], err)))
				return hull_err_prefix(err, "nics.%u",
						       nic->index);
		if ((r = net_link_change(isk, nic->interface, &c, err)))
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		const struct net_nic *nic = nics[i];
		bool v4 = false, v6 = false;
		if ((int)nic->index != cfg->primary)
			continue;
		for (size_t g = 0; g < nic->ngateways; g++) {
			const struct net_addr *gw = &nic->gateways[g];
			bool *done = gw->family == AF_INET ? &v4 : &v6;
			if (*done)
				continue; /* one default route per family */
			*done = true;
			if ((r = net_route_add(isk, gw->family, NULL, gw,
					       idx[i], err)))
				return hull_err_prefix(err, "nics.%u",
						       nic->index);
		}
	}
	/* Routes through a nic first, then those whose gateway is reached
	 * through one of them. */
	for (size_t k = 0; k < 2 * cfg->nroutes; k++) {
		const struct net_route *rt = &cfg->routes[k % cfg->nroutes];
		bool second = k >= cfg->nroutes, added = false;
		for (size_t i = 0; i < n && !added; i++) {
			const struct net_nic *nic = nics[i];
			bool via = false;
			if (rt->linklocal) {
				via = rt->nic == nic->index;
			} else {
				for (size_t a = 0; a < nic->nips; a++)
					via = via || net_addr_in_subnet(
							 &nic->ips[a], &rt->gw);
			}
			if (!via)
				continue;
			added = true;
			if (second)
				break;
			if ((r = net_route_add(isk, rt->dst.family, &rt->dst,
					       rt->linklocal ? NULL : &rt->gw,
					       idx[i], err))) {
				char d[NET_ADDR_STRLEN];
				net_addr_format(&rt->dst, true, d, sizeof(d));
				return hull_err_prefix(err, "routes.%s", d);
			}
		}
		/* A gateway on no nic's subnet: let the kernel find the way
		 * (through another route), once every nic is up. */
		if (second && !added && !rt->linklocal && n == cfg->nnics &&
		    (r = net_route_add(isk, rt->dst.family, &rt->dst, &rt->gw,
				       0, err))) {
			char d[NET_ADDR_STRLEN];
			net_addr_format(&rt->dst, true, d, sizeof(d));
			return hull_err_prefix(err, "routes.%s", d);
		}
	}
	return 0;
}

static void made_undo(struct nl_sock *sk, struct made *m)
{
	struct hull_err ignore;

	for (size_t i = 0; i < m->n; i++)
		if (m->tap_fds[i] >= 0)
			close(m->tap_fds[i]);
	ports_remove(sk, m->ports, m->n, &ignore);
	table_gc(&ignore);
	m->n = 0;
}

/* Makes the ports of nics[0..n) and configures them; undoes all on error. */
static int nics_bring_up(const char *uuid, const struct net_config *cfg,
			 const struct net_nic **nics, size_t n, int netns_fd,
			 bool hvm, int *tap_fds, struct hull_err *err)
{
	struct nl_sock *sk = NULL, *isk = NULL;
	struct made *m = xcalloc(1, sizeof(*m));
	int br[NET_MAX_NICS];
	bool stub[NET_MAX_NICS];
	int r = 0;

	if (!hvm && netns_fd < 0) {
		r = hull_err_set(err, EINVAL, "no network namespace given");
		goto out;
	}
	if (!(sk = net_nl_open(-1, err))) {
		r = -err->code;
		goto out;
	}
	for (size_t i = 0; i < n && !r; i++)
		if ((br[i] = nic_check(sk, uuid, nics[i], &stub[i], err)) < 0)
			r = br[i];
	if (r)
		goto out;
	if (!hvm && !(isk = net_nl_open(netns_fd, err))) {
		r = -err->code;
		goto out;
	}
	for (size_t i = 0; i < n && !r; i++) {
		r = port_make(sk, uuid, nics[i], br[i], stub[i], netns_fd, hvm,
			      m, err);
		if (!r)
			r = fail_hook(nics[i]->index, err);
	}
	if (!r)
		r = ports_antispoof(nics, m, 0, err);
	if (!r)
		r = ports_up(sk, m, 0, err);
	if (!r && !hvm)
		r = inside_configure(isk, netns_fd, cfg, nics, n, err);
	if (r) {
		made_undo(sk, m);
		goto out;
	}
	if (tap_fds)
		for (size_t i = 0; i < m->n; i++)
			tap_fds[i] = m->tap_fds[i];
	else
		for (size_t i = 0; i < m->n; i++)
			if (m->tap_fds[i] >= 0)
				close(m->tap_fds[i]);
out:
	net_nl_close(isk);
	net_nl_close(sk);
	free(m);
	return r;
}

int net_instance_setup(const struct inst *inst, int netns_fd, int *tap_fds,
		       struct hull_err *err)
{
	const struct net_config *cfg = inst->net;
	const struct net_nic *nics[NET_MAX_NICS];
	const char *uuid = inst->uuid;
	bool hvm = inst_is_hvm(inst);
	int lock, r;

	if (!cfg)
		return hull_err_set(err, EINVAL, "instance %s: not parsed",
				    uuid);
	if (hvm && !tap_fds && cfg->nnics)
		return hull_err_set(err, EINVAL, "a VM's taps need a caller");
	for (size_t i = 0; i < cfg->nnics; i++)
		nics[i] = &cfg->nics[i];
	if ((lock = net_lock(err)) < 0)
		return lock;
	/* A crashed supervisor may have left ports behind. */
	if (!(r = teardown_locked(uuid, err)))
		r = nics_bring_up(uuid, cfg, nics, cfg->nnics, netns_fd, hvm,
				  tap_fds, err);
	hull_lock_release(lock);
	return r;
}

int net_nic_add(const struct inst *inst, const char *mac, int netns_fd,
		int *tap_fd, struct hull_err *err)
{
	const struct net_config *cfg = inst->net;
	const struct net_nic *nic = NULL;
	_cleanup_free_ char *alias = NULL;
	struct nl_sock *sk = NULL;
	uint8_t m[HULL_MAC_LEN];
	const char *uuid = inst->uuid;
	int fds[1] = {-1};
	int lock = -1, r;

	if (hull_mac_parse(mac, m) < 0) {
		r = hull_err_set(err, EINVAL, "invalid MAC address '%s'", mac);
		goto out;
	}
	for (size_t i = 0; i < cfg->nnics; i++)
		if (!memcmp(cfg->nics[i].mac, m, HULL_MAC_LEN))
			nic = &cfg->nics[i];
	if (!nic) {
		r = hull_err_set(err, ENOENT, "instance %s has no nic %s", uuid,
				 mac);
		goto out;
	}
	alias = port_alias(uuid, m);
	if ((lock = net_lock(err)) < 0) {
		r = lock;
		goto out;
	}
	if (!(sk = net_nl_open(-1, err))) {
		r = -err->code;
		goto out;
	}
	if (net_link_foreach(sk, alias, any_port_cb, NULL, err) == 1) {
		r = hull_err_set(err, EEXIST, "nic %s is already set up", mac);
		goto out;
	}
	r = nics_bring_up(uuid, cfg, &nic, 1, netns_fd, inst_is_hvm(inst), fds,
			  err);
	if (!r) {
		if (tap_fd)
			*tap_fd = fds[0];
		else if (fds[0] >= 0)
			close(fds[0]);
	}
out:
	hull_lock_release(lock);
	net_nl_close(sk);
	return r;
}

int net_nic_remove(const char *uuid, const char *mac, struct hull_err *err)
{
	_cleanup_free_ char *alias = NULL;
	struct nl_sock *sk;
	struct made m = {0};
	uint8_t b[HULL_MAC_LEN];
	int lock, r;

	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "not a UUID: '%s'", uuid);
	if (hull_mac_parse(mac, b) < 0)
		return hull_err_set(err, EINVAL, "invalid MAC address '%s'",
				    mac);
	alias = port_alias(uuid, b);
	if ((lock = net_lock(err)) < 0)
		return lock;
	if (!(sk = net_nl_open(-1, err))) {
		hull_lock_release(lock);
		return -err->code;
	}
	if ((r = net_link_foreach(sk, alias, collect_cb, &m, err)))
		goto out;
	if (m.n == 0) {
		r = hull_err_set(err, ENOENT, "instance %s has no port for %s",
				 uuid, mac);
		goto out;
	}
	if (!(r = ports_remove(sk, m.ports, m.n, err)))
		r = table_gc(err);
out:
	net_nl_close(sk);
	hull_lock_release(lock);
	return r;
}
