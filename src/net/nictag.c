/*
 * nictag.c - the nic tag store and its bridges (see nictag.h).
 *
 * R/var/nictags.json: {"tags": {NAME: {"type": "normal"|"etherstub",
 * "mac": "..", "link": "..", "mtu": N, "bridge": ".."}}}. Changes take
 * R/var/nictags.lock; the kernel side is made first and undone when the
 * store cannot be written, so a failed command leaves neither behind.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/if_bridge.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "net/netlink.h"
#include "net/nictag.h"

void net_tag_bridge_name(const char *tag, char out[IFNAMSIZ])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	if (strlen(tag) + 2 < IFNAMSIZ) {
		snprintf(out, IFNAMSIZ, "hb%s", tag);
		return;
	}
	for (const char *p = tag; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(out, IFNAMSIZ, "hb%.5s%08x", tag, h);
}

static char *store_path(void)
{
	return hull_root_path("var/nictags.json");
}

/* The store's "tags" object (new reference), empty when there is no file. */
static json_t *store_load(struct hull_err *err)
{
	_cleanup_free_ char *p = store_path();
	json_t *j, *tags;

	if (!hull_path_exists(p))
		return json_object();
	if (!(j = hull_json_load_file(p, err)))
		return NULL;
	tags = json_object_get(j, "tags");
	if (!json_is_object(tags)) {
		json_decref(j);
		hull_err_set(err, EINVAL, "%s: no tags object", p);
		return NULL;
	}
	json_incref(tags);
	json_decref(j);
	return tags;
}

static int store_save(json_t *tags, struct hull_err *err)
{
	_cleanup_free_ char *p = store_path();
	_cleanup_free_ char *dir = hull_root_path("var");
	json_t *j;
	int r;

	if ((r = hull_mkdir_p(dir, 0755, err)))
		return r;
	j = json_pack("{sO}", "tags", tags);
	r = hull_json_save_file(p, j, err);
	json_decref(j);
	return r;
}

static int store_lock(struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var");
	_cleanup_free_ char *p = hull_root_path("var/nictags.lock");
	int r;

	if ((r = hull_mkdir_p(dir, 0755, err)))
		return r;
	return hull_lock_take(p, true, err);
}

static void tag_from_json(const char *name, json_t *o, struct net_tag *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->etherstub =
	    strcmp(hull_json_str(o, "type", "normal"), "etherstub") == 0;
	snprintf(t->mac, sizeof(t->mac), "%s", hull_json_str(o, "mac", ""));
	snprintf(t->link, sizeof(t->link), "%s", hull_json_str(o, "link", ""));
	t->mtu = (unsigned)hull_json_int(o, "mtu", 0);
	snprintf(t->bridge, sizeof(t->bridge), "%s",
		 hull_json_str(o, "bridge", ""));
	if (!t->bridge[0])
		net_tag_bridge_name(name, t->bridge);
}

static json_t *tag_to_json(const struct net_tag *t)
{
	json_t *o =
	    json_pack("{ss ss}", "type", t->etherstub ? "etherstub" : "normal",
		      "bridge", t->bridge);
	if (t->mac[0])
		json_object_set_new(o, "mac", json_string(t->mac));
	if (t->link[0])
		json_object_set_new(o, "link", json_string(t->link));
	if (t->mtu)
		json_object_set_new(o, "mtu", json_integer(t->mtu));
	return o;
}

int net_tag_get(const char *name, struct net_tag *out, struct hull_err *err)
{
	json_t *tags = store_load(err), *o;

	if (!tags)
		return -err->code;
	o = json_object_get(tags, name);
	if (!o) {
		json_decref(tags);
		return hull_err_set(err, ENOENT, "nic tag '%s' does not exist",
				    name);
	}
	tag_from_json(name, o, out);
	json_decref(tags);
	return 0;
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(((const struct net_tag *)a)->name,
		      ((const struct net_tag *)b)->name);
}

int net_tag_list(struct net_tag **out, size_t *n, struct hull_err *err)
{
	json_t *tags = store_load(err), *o;
	const char *name;
	size_t i = 0;

	if (!tags)
		return -err->code;
	*out = xcalloc(json_object_size(tags) + 1, sizeof(**out));
	json_object_foreach(tags, name, o) tag_from_json(name, o, &(*out)[i++]);
	*n = i;
	qsort(*out, i, sizeof(**out), tag_cmp);
	json_decref(tags);
	return 0;
}

/* Resolves link_or_mac to the uplink's name and normalised MAC. */
static int resolve_uplink(struct nl_sock *sk, const char *link_or_mac,
			  struct net_tag *t, struct hull_err *err)
{
	uint8_t mac[HULL_MAC_LEN];
	int master, r;

	if (hull_mac_parse(link_or_mac, mac) == 0) {
		if (net_link_find_by_mac(sk, mac, t->link) < 0) {
			hull_mac_format(mac, t->mac);
			return hull_err_set(
			    err, ENODEV, "no link with MAC address %s", t->mac);
		}
	} else {
		if (strlen(link_or_mac) >= IFNAMSIZ ||
		    net_link_index(sk, link_or_mac) < 0)
			return hull_err_set(err, ENODEV,
					    "no link or MAC address '%s'",
					    link_or_mac);
		snprintf(t->link, sizeof(t->link), "%s", link_or_mac);
		if ((r = net_link_mac(sk, t->link, mac, err)))
			return r;
	}
	hull_mac_format(mac, t->mac);
	/* A tag over a dladm etherstub uses that bridge itself: a bridge
	 * cannot be a port of another. */
	if (net_link_is_etherstub(sk, t->link)) {
		snprintf(t->bridge, sizeof(t->bridge), "%s", t->link);
		return 0;
	}
	/* Never take a link from a bridge or bond hull did not make. */
	master = net_link_master(sk, t->link);
	if (master > 0 && master != net_link_index(sk, t->bridge))
		return hull_err_set(err, EBUSY,
				    "link %s already has a master (another "
				    "bridge or a bond)",
				    t->link);
	return 0;
}

/* True when the link named in t exists and has the tag's MAC. */
static bool uplink_is(struct nl_sock *sk, const struct net_tag *t)
{
	struct hull_err ignore;
	uint8_t have[HULL_MAC_LEN], want[HULL_MAC_LEN];

	return t->link[0] && hull_mac_parse(t->mac, want) == 0 &&
	       net_link_mac(sk, t->link, have, &ignore) == 0 &&
	       memcmp(have, want, HULL_MAC_LEN) == 0;
}

/* A normal tag whose uplink is a dladm etherstub: its bridge is that link. */
static bool over_etherstub(const struct net_tag *t)
{
	return !t->etherstub && t->link[0] && !strcmp(t->link, t->bridge);
}

/* Creates the bridge when missing, binds the uplink, applies the MTU and
 * brings both up. *created says whether the bridge is new. */
static int bridge_make(struct nl_sock *sk, struct net_tag *t, bool *created,
		       struct hull_err *err);

/* The bridge's ifindex when it exists and is up (the common case when an
 * instance starts: nothing to change), else what bridge_make() returns. */
static int bridge_get(struct nl_sock *sk, struct net_tag *t, bool *created,
		      struct hull_err *err)
{
	struct rtnl_link *l = NULL;
	int idx = -1;

	*created = false;
	if (rtnl_link_get_kernel(sk, 0, t->bridge, &l) >= 0 && l) {
		if (rtnl_link_get_flags(l) & IFF_UP)
			idx = rtnl_link_get_ifindex(l);
		rtnl_link_put(l);
	}
	return idx > 0 ? idx : bridge_make(sk, t, created, err);
}

static int bridge_make(struct nl_sock *sk, struct net_tag *t, bool *created,
		       struct hull_err *err)
{
	struct net_link_change c = NET_LINK_CHANGE_INIT;
	_cleanup_free_ char *alias = xasprintf("hull-tag:%s", t->name);
	bool vf;
	int br, up, r;

	*created = false;
	if (over_etherstub(t)) {
		/* dladm made the bridge and owns it: only bring it up. */
		if ((br = net_link_index(sk, t->bridge)) < 0)
			return hull_err_set(err, ENODEV,
					    "nic tag '%s': no etherstub %s "
					    "(dladm create-etherstub)",
					    t->name, t->bridge);
		c.up = 1;
		if ((r = net_link_change(sk, t->bridge, &c, err)))
			return r;
		return br;
	}
	if ((br = net_link_index(sk, t->bridge)) < 0) {
		if ((r = net_bridge_create(sk, t->bridge, t->mtu, &vf, err)))
			return r;
		*created = true;
		br = net_link_index(sk, t->bridge);
	}
	c.alias = alias;
	c.mtu = t->mtu;
	c.up = 1;
	/* A bridge without an address of its own takes its lowest port's,
	 * and changes it when that port goes: the host's neighbours would
	 * hold a stale MAC for its address. Give it a fixed one: the
	 * uplink's, or a new one for an etherstub. */
	uint8_t fixed[HULL_MAC_LEN];
	if (*created && (t->etherstub || hull_mac_parse(t->mac, fixed) < 0))
		hull_mac_generate(fixed);
	if (*created)
		c.mac = fixed;
	if ((r = net_link_change(sk, t->bridge, &c, err)))
		return r;
	if (t->etherstub)
		return br;
	if (!uplink_is(sk, t)) {
		/* Link names can change across reboots (and go to another
		 * link); the MAC stays. */
		uint8_t mac[HULL_MAC_LEN];
		if (hull_mac_parse(t->mac, mac) < 0 ||
		    net_link_find_by_mac(sk, mac, t->link) < 0)
			return hull_err_set(err, ENODEV,
					    "nic tag '%s': no link with MAC "
					    "address %s",
					    t->name, t->mac);
	}
	up = net_link_index(sk, t->link);
	c = (struct net_link_change)NET_LINK_CHANGE_INIT;
	c.master = br;
	c.mtu = t->mtu;
	c.up = 1;
	if ((r = net_link_change(sk, t->link, &c, err)))
		return hull_err_prefix(err, "nic tag '%s'", t->name);
	/* The uplink is a trunk: every VLAN an instance may use, tagged
	 * (nothing to do on a kernel without bridge VLAN filtering). */
	r = net_bridge_vlan(sk, up, false, 2, NET_VLAN_MAX, 0, err);
	if (r && r != -EOPNOTSUPP)
		return hull_err_prefix(err, "nic tag '%s'", t->name);
	return br;
}

static int bridge_destroy(struct nl_sock *sk, const struct net_tag *t)
{
	struct hull_err ignore;
	struct net_link_change c = NET_LINK_CHANGE_INIT;

	if (over_etherstub(t))
		return 0; /* dladm's, not the tag's */
	/* Release the uplink first so it keeps working on its own. */
	if (!t->etherstub && t->link[0] && net_link_index(sk, t->link) > 0) {
		c.master = 0;
		net_link_change(sk, t->link, &c, &ignore);
	}
	if (net_link_index(sk, t->bridge) < 0)
		return 0;
	return net_link_delete(sk, t->bridge, &ignore);
}

static int check_uplink_free(json_t *tags, const struct net_tag *t,
			     struct hull_err *err)
{
	const char *name;
	json_t *o;

	json_object_foreach(tags, name, o)
	{
		struct net_tag other;
		tag_from_json(name, o, &other);
		if (strcmp(name, t->name) && !other.etherstub &&
		    strcmp(other.mac, t->mac) == 0)
			return hull_err_set(err, EBUSY,
					    "link %s (%s) already carries nic "
					    "tag '%s'",
					    t->link, t->mac, name);
	}
	return 0;
}

int net_tag_add(const char *name, bool etherstub, const char *link_or_mac,
		unsigned mtu, struct hull_err *err)
{
	struct net_tag t = {0};
	struct nl_sock *sk = NULL;
	json_t *tags = NULL;
	bool created = false;
	int lock, r;

	if (etherstub ? !net_etherstub_name_valid(name)
		      : !net_tag_name_valid(name))
		return hull_err_set(err, EINVAL,
				    etherstub
					? "invalid etherstub name '%s': "
					  "use [A-Za-z0-9_], fewer than 31 "
					  "characters, ending in a digit"
					: "invalid nic tag name '%s': use "
					  "[A-Za-z0-9_], fewer than 31 "
					  "characters",
				    name);
	if (!etherstub && !link_or_mac)
		return hull_err_set(err, EINVAL,
				    "nic tag '%s' needs a MAC address or link "
				    "(or -l for an etherstub)",
				    name);
	if (mtu && (mtu < (etherstub ? 576u : 1500u) || mtu > 9000))
		return hull_err_set(err, ERANGE,
				    "mtu %u is out of range (%u-9000)", mtu,
				    etherstub ? 576u : 1500u);
	if ((lock = store_lock(err)) < 0)
		return lock;
	snprintf(t.name, sizeof(t.name), "%s", name);
	t.etherstub = etherstub;
	t.mtu = mtu;
	net_tag_bridge_name(name, t.bridge);
	if (!(tags = store_load(err))) {
		r = -err->code;
		goto out;
	}
	if (json_object_get(tags, name)) {
		r = hull_err_set(err, EEXIST, "nic tag '%s' already exists",
				 name);
		goto out;
	}
	if (!(sk = net_nl_open(-1, err))) {
		r = -err->code;
		goto out;
	}
	if (net_link_index(sk, t.bridge) > 0) {
		r = hull_err_set(err, EEXIST,
				 "nic tag '%s': link %s already exists", name,
				 t.bridge);
		goto out;
	}
	if (!etherstub && ((r = resolve_uplink(sk, link_or_mac, &t, err)) ||
			   (r = check_uplink_free(tags, &t, err))))
		goto out;
	r = bridge_make(sk, &t, &created, err);
	if (r >= 0) {
		json_object_set_new(tags, name, tag_to_json(&t));
		r = store_save(tags, err);
	}
	if (r < 0 && created)
		bridge_destroy(sk, &t);
	if (r > 0)
		r = 0;
out:
	net_nl_close(sk);
	json_decref(tags);
	hull_lock_release(lock);
	return r;
}

int net_tag_update(const char *name, const char *link_or_mac, unsigned mtu,
		   struct hull_err *err)
{
	struct net_tag t, old;
	struct nl_sock *sk = NULL;
	json_t *tags = NULL, *o;
	bool created;
	int lock, r;

	if ((lock = store_lock(err)) < 0)
		return lock;
	if (!(tags = store_load(err))) {
		r = -err->code;
		goto out;
	}
	if (!(o = json_object_get(tags, name))) {
		r = hull_err_set(err, ENOENT, "nic tag '%s' does not exist",
				 name);
		goto out;
	}
	tag_from_json(name, o, &t);
	old = t;
	if (mtu && (mtu < (t.etherstub ? 576u : 1500u) || mtu > 9000)) {
		r = hull_err_set(err, ERANGE,
				 "mtu %u is out of range (%u-9000)", mtu,
				 t.etherstub ? 576u : 1500u);
		goto out;
	}
	if (link_or_mac && t.etherstub) {
		r = hull_err_set(err, EINVAL,
				 "nic tag '%s' is an etherstub: it has no MAC "
				 "address",
				 name);
		goto out;
	}
	if (!(sk = net_nl_open(-1, err))) {
		r = -err->code;
		goto out;
	}
	if (mtu)
		t.mtu = mtu;
	if (link_or_mac && ((r = resolve_uplink(sk, link_or_mac, &t, err)) ||
			    (r = check_uplink_free(tags, &t, err))))
		goto out;
	if (link_or_mac && strcmp(old.link, t.link) &&
	    net_link_index(sk, old.link) > 0) {
		struct net_link_change c = NET_LINK_CHANGE_INIT;
		c.master = 0;
		if ((r = net_link_change(sk, old.link, &c, err)))
			goto out;
	}
	if ((r = bridge_make(sk, &t, &created, err)) < 0)
		goto out;
	json_object_set_new(tags, name, tag_to_json(&t));
	r = store_save(tags, err);
out:
	net_nl_close(sk);
	json_decref(tags);
	hull_lock_release(lock);
	return r;
}

static int users_cb(const char *uuid, json_t *record, void *arg)
{
	json_t **a = arg, *nics = json_object_get(record, "nics"), *nic;
	const char *tag = json_string_value(json_array_get(*a, 0));
	size_t i;

	json_array_foreach(nics, i, nic)
	{
		if (strcmp(hull_json_str(nic, "nic_tag", ""), tag) == 0) {
			json_array_append_new(*a, json_string(uuid));
			break;
		}
	}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *net_tag_users(const char *name, struct hull_err *err)
{
	/* Slot 0 carries the tag name into the callback. */
	json_t *a = json_array(), *out = json_array();
	size_t n;
	const char **v;

	json_array_append_new(a, json_string(name));
	net_records_foreach(users_cb, &a);
	n = json_array_size(a) - 1;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(a, i + 1));
	qsort(v, n, sizeof(*v), str_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, json_string(v[i]));
	free(v);
	json_decref(a);
	return out;
}

int net_tag_delete(const char *name, bool force, struct hull_err *err)
{
	struct net_tag t;
	struct nl_sock *sk = NULL;
	json_t *tags = NULL, *users = NULL, *o;
	int lock, r;

	if ((lock = store_lock(err)) < 0)
		return lock;
	if (!(tags = store_load(err))) {
		r = -err->code;
		goto out;
	}
	if (!(o = json_object_get(tags, name))) {
		r = hull_err_set(err, ENOENT, "nic tag '%s' does not exist",
				 name);
		goto out;
	}
	tag_from_json(name, o, &t);
	users = net_tag_users(name, err);
	if (json_array_size(users) > 0 && !force) {
		r = hull_err_set(
		    err, EBUSY, "nic tag '%s' is used by %zu instance%s (%s%s)",
		    name, json_array_size(users),
		    json_array_size(users) == 1 ? "" : "s",
		    json_string_value(json_array_get(users, 0)),
		    json_array_size(users) > 1 ? ", ..." : "");
		goto out;
	}
	json_object_del(tags, name);
	if ((r = store_save(tags, err)))
		goto out;
	if ((sk = net_nl_open(-1, err)))
		bridge_destroy(sk, &t);
	r = 0;
out:
	net_nl_close(sk);
	json_decref(users);
	json_decref(tags);
	hull_lock_release(lock);
	return r;
}

int net_tag_bridge_ensure(const char *name, struct net_tag *out,
			  struct hull_err *err)
{
	struct nl_sock *sk;
	bool created;
	int r;

	if ((r = net_tag_get(name, out, err)))
		return r;
	if (!(sk = net_nl_open(-1, err)))
		return -err->code;
	r = bridge_get(sk, out, &created, err);
	net_nl_close(sk);
	return r;
}

int net_tag_restore_all(struct hull_err *err)
{
	struct nl_sock *sk = NULL;
	json_t *tags = NULL, *o;
	const char *name;
	bool created, renamed = false;
	int lock, r = 0;

	if ((lock = store_lock(err)) < 0)
		return lock;
	if (!(tags = store_load(err)) || !(sk = net_nl_open(-1, err))) {
		r = -err->code;
		goto out;
	}
	/* Everything re-applied, not only missing bridges: an uplink may have
	 * come back without its master, or under another name (found by its
	 * MAC, and the new name kept). */
	json_object_foreach(tags, name, o)
	{
		struct net_tag t;
		tag_from_json(name, o, &t);
		if ((r = bridge_make(sk, &t, &created, err)) < 0)
			goto out;
		if (strcmp(t.link, hull_json_str(o, "link", ""))) {
			json_object_set_new(o, "link", json_string(t.link));
			renamed = true;
		}
	}
	r = renamed ? store_save(tags, err) : 0;
out:
	net_nl_close(sk);
	json_decref(tags);
	hull_lock_release(lock);
	return r < 0 ? r : 0;
}

int net_records_foreach(int (*fn)(const char *uuid, json_t *record, void *arg),
			void *arg)
{
	return inst_record_foreach(0, fn, arg, NULL);
}
