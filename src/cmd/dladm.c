/*
 * dladm - administer data links, as illumos's dladm(8) on SmartOS: show
 * the host's links, make vnics, etherstubs, aggregations and VLANs. On
 * Linux these are macvlans, bridges, bonds and 802.1Q links, made over
 * netlink in the namespace dladm runs in (src/net/dlink.c). See
 * docs/dladm.md.
 *
 * Exit codes: 0 success, 1 error (one line on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/json.h"
#include "lib/ofmt.h"
#include "lib/subcmd.h"
#include "lib/xalloc.h"
#include "net/dlink.h"
#include "net/netcfg.h"
#include "net/netlink.h"
#include "net/nictag.h"

#define EXIT_USAGE 2

#define usage_error(...)                                                       \
	subcmd_usage_error("dladm", "dladm --help", __VA_ARGS__)

static int fail(struct hull_err *err)
{
	fprintf(stderr, "dladm: %s\n", err->msg);
	return 1;
}

static int bad_option(const char *cmd)
{
	if (optopt)
		return usage_error("%s: unknown option '-%c'", cmd, optopt);
	return usage_error("%s: unknown option", cmd);
}

/* Records a change in the platform's configuration, or says it is not
 * kept. temporary: -t was given. */
static int persist(const char *key, const char *name, json_t *obj,
		   bool temporary)
{
	struct hull_err err = {0};

	if (temporary)
		return 0;
	if (!net_cfg_platform()) {
		fprintf(stderr,
			"dladm: note: changed the running system only "
			"(this pool has no platform host configuration, "
			"usbkey/config)\n");
		return 0;
	}
	if (net_cfg_put("links", key, name, obj, &err))
		return fail(&err);
	return 0;
}

static struct nl_sock *open_sk(struct hull_err *err)
{
	return net_nl_open(-1, err);
}

/* --- show-* ---------------------------------------------------------- */

struct show_opts {
	bool parsable;
	const char *fields;
	const char *link;
};

static int show_args(int argc, char **argv, struct show_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt(argc, argv, "po:P")) != -1) {
		switch (c) {
		case 'p':
			o->parsable = true;
			break;
		case 'o':
			o->fields = optarg;
			break;
		case 'P':
			break; /* persistent view: the same here */
		default:
			return bad_option(argv[0]);
		}
	}
	if (argc - optind > 1)
		return usage_error("%s: too many arguments", argv[0]);
	if (optind < argc)
		o->link = argv[optind];
	return 0;
}

static void mac_text(const uint8_t *m, char out[HULL_MAC_STRLEN])
{
	/* illumos prints MAC addresses without zero padding. */
	snprintf(out, HULL_MAC_STRLEN, "%x:%x:%x:%x:%x:%x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static const char *state_text(const struct net_dl_link *l)
{
	if (l->cls == NET_DL_ETHERSTUB)
		return "unknown";
	return l->up && l->lower_up ? "up" : "down";
}

typedef void (*row_fn)(const struct net_dl_link *v, size_t n,
		       const struct net_dl_link *l, char vals[][128]);

static int show(int argc, char **argv, const struct ofmt_field *fields,
		size_t nf, const char *defaults, int only_class, row_fn fn)
{
	struct hull_err err = {0};
	struct show_opts o;
	struct ofmt fmt;
	struct net_dl_link *v = NULL;
	struct nl_sock *sk;
	size_t n;
	int r, shown = 0;

	if ((r = show_args(argc, argv, &o)))
		return r;
	if (ofmt_open(&fmt, fields, nf, o.fields, defaults, o.parsable, &err))
		return usage_error("%s: %s", argv[0], err.msg);
	if (!(sk = open_sk(&err)) || net_dl_list(sk, &v, &n, &err)) {
		net_nl_close(sk);
		return fail(&err);
	}
	net_nl_close(sk);
	if (o.link) {
		const struct net_dl_link *l = net_dl_find(v, n, o.link);
		if (!l || (only_class >= 0 && (int)l->cls != only_class)) {
			free(v);
			hull_err_set(&err, ENODEV, "%s: no %s%s%s", argv[0],
				     only_class >= 0
					 ? net_dl_class_name(only_class)
					 : "link",
				     " ", o.link);
			return fail(&err);
		}
	}
	char *h = ofmt_header(&fmt);
	for (size_t i = 0; i < n; i++) {
		const struct net_dl_link *l = &v[i];
		char vals[OFMT_MAX_FIELDS][128];
		const char *p[OFMT_MAX_FIELDS];
		if (only_class >= 0 && (int)l->cls != only_class)
			continue;
		if (only_class < 0 && l->cls == NET_DL_OTHER)
			continue;
		if (o.link && strcmp(o.link, l->name))
			continue;
		memset(vals, 0, sizeof(vals));
		fn(v, n, l, vals);
		for (size_t k = 0; k < nf; k++)
			p[k] = vals[k];
		if (h && !shown++)
			printf("%s\n", h);
		char *line = ofmt_line(&fmt, p);
		printf("%s\n", line);
		free(line);
	}
	if (h && !shown)
		printf("%s\n", h);
	free(h);
	free(v);
	return 0;
}

static const char *name_of(const struct net_dl_link *v, size_t n, int idx)
{
	const struct net_dl_link *l =
	    idx > 0 ? net_dl_find_index(v, n, idx) : NULL;
	return l ? l->name : "";
}

static const struct ofmt_field link_fields[] = {
    {"LINK", 12}, {"CLASS", 10},  {"MTU", 7},
    {"STATE", 9}, {"BRIDGE", 11}, {"OVER", 30},
};

static void link_row(const struct net_dl_link *v, size_t n,
		     const struct net_dl_link *l, char vals[][128])
{
	const struct net_dl_link *m =
	    l->master > 0 ? net_dl_find_index(v, n, l->master) : NULL;

	snprintf(vals[0], 128, "%s", l->name);
	snprintf(vals[1], 128, "%s", net_dl_class_name(l->cls));
	snprintf(vals[2], 128, "%u", l->mtu);
	snprintf(vals[3], 128, "%s", state_text(l));
	if (m && (m->cls == NET_DL_BRIDGE || m->cls == NET_DL_ETHERSTUB))
		snprintf(vals[4], 128, "%s", m->name);
	if (l->cls == NET_DL_AGGR) {
		size_t len = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].master == l->ifindex && len < 120)
				len += (size_t)snprintf(
				    vals[5] + len, 128 - len, "%s%s",
				    len ? " " : "", v[i].name);
	} else if (l->cls == NET_DL_VNIC) {
		unsigned vid;
		const struct net_dl_link *o = net_dl_vnic_over(v, n, l, &vid);
		snprintf(vals[5], 128, "%s", o ? o->name : "");
	} else {
		snprintf(vals[5], 128, "%s", name_of(v, n, l->lower));
	}
}

static int cmd_show_link(int argc, char **argv)
{
	return show(argc, argv, link_fields, 6, NULL, -1, link_row);
}

static const struct ofmt_field phys_fields[] = {
    {"LINK", 13},   {"MEDIA", 21},  {"STATE", 11}, {"SPEED", 7},
    {"DUPLEX", 10}, {"DEVICE", 13}, {"FLAGS", 7},
};

static void phys_row(const struct net_dl_link *v, size_t n,
		     const struct net_dl_link *l, char vals[][128])
{
	unsigned speed;
	char duplex[8], driver[32];

	(void)v;
	(void)n;
	net_dl_ethtool(l->name, &speed, duplex, driver);
	snprintf(vals[0], 128, "%s", l->name);
	snprintf(vals[1], 128, "Ethernet");
	snprintf(vals[2], 128, "%s", state_text(l));
	snprintf(vals[3], 128, "%u", speed);
	snprintf(vals[4], 128, "%s", duplex);
	snprintf(vals[5], 128, "%s",
		 driver[0]    ? driver
		 : l->kind[0] ? l->kind
			      : "");
	snprintf(vals[6], 128, "-----");
}

static int cmd_show_phys(int argc, char **argv)
{
	return show(argc, argv, phys_fields, 7,
		    "link,media,state,speed,duplex,device", NET_DL_PHYS,
		    phys_row);
}

static const struct ofmt_field vnic_fields[] = {
    {"LINK", 13},	{"OVER", 13},	     {"SPEED", 7},
    {"MACADDRESS", 18}, {"MACADDRTYPE", 20}, {"VID", 7},
};

static void vnic_row(const struct net_dl_link *v, size_t n,
		     const struct net_dl_link *l, char vals[][128])
{
	unsigned vid;
	const struct net_dl_link *low = net_dl_vnic_over(v, n, l, &vid);
	unsigned speed = 0;
	char duplex[8], driver[32], mac[HULL_MAC_STRLEN] = "";

	if (low)
		net_dl_ethtool(low->name, &speed, duplex, driver);
	if (l->has_mac)
		mac_text(l->mac, mac);
	snprintf(vals[0], 128, "%s", l->name);
	snprintf(vals[1], 128, "%s",
		 low ? low->name : name_of(v, n, l->master));
	snprintf(vals[2], 128, "%u", speed);
	snprintf(vals[3], 128, "%s", mac);
	snprintf(vals[4], 128, "%s",
		 !strcmp(l->alias, NET_VNIC_ALIAS_RANDOM) ? "random" : "fixed");
	snprintf(vals[5], 128, "%u", vid);
}

static int cmd_show_vnic(int argc, char **argv)
{
	return show(argc, argv, vnic_fields, 6, NULL, NET_DL_VNIC, vnic_row);
}

static const struct ofmt_field stub_fields[] = {{"LINK", 13}};

static void stub_row(const struct net_dl_link *v, size_t n,
		     const struct net_dl_link *l, char vals[][128])
{
	(void)v;
	(void)n;
	snprintf(vals[0], 128, "%s", l->name);
}

static int cmd_show_etherstub(int argc, char **argv)
{
	return show(argc, argv, stub_fields, 1, NULL, NET_DL_ETHERSTUB,
		    stub_row);
}

static const struct ofmt_field aggr_fields[] = {
    {"LINK", 16},	  {"POLICY", 9},     {"ADDRPOLICY", 21},
    {"LACPACTIVITY", 14}, {"LACPTIMER", 12}, {"FLAGS", 8},
};

static const char *const hash_names[] = {"L2",	  "L3,L4", "L2,L3",
					 "E2,E3", "E3,E4", "VLAN,SRCMAC"};

static void aggr_row(const struct net_dl_link *v, size_t n,
		     const struct net_dl_link *l, char vals[][128])
{
	char mac[HULL_MAC_STRLEN] = "";
	bool lacp = l->bond_mode == 4;

	(void)v;
	(void)n;
	if (l->has_mac)
		mac_text(l->mac, mac);
	snprintf(vals[0], 128, "%s", l->name);
	if (!lacp)
		snprintf(vals[1], 128, "failover");
	else if (l->xmit_hash >= 0 && l->xmit_hash < 6)
		snprintf(vals[1], 128, "%s", hash_names[l->xmit_hash]);
	if (!strcmp(l->alias, NET_AGGR_ALIAS_FIXED))
		snprintf(vals[2], 128, "fixed (%s)", mac);
	else
		snprintf(vals[2], 128, "auto");
	snprintf(vals[3], 128, "%s",
		 !lacp		       ? "off"
		 : l->lacp_active == 0 ? "passive"
				       : "active");
	snprintf(vals[4], 128, "%s", l->lacp_rate == 1 ? "short" : "long");
	snprintf(vals[5], 128, "-----");
}

static int cmd_show_aggr(int argc, char **argv)
{
	return show(argc, argv, aggr_fields, 6, NULL, NET_DL_AGGR, aggr_row);
}

static const struct ofmt_field vlan_fields[] = {
    {"LINK", 16}, {"VID", 9}, {"OVER", 13}, {"FLAGS", 7}};

static void vlan_row(const struct net_dl_link *v, size_t n,
		     const struct net_dl_link *l, char vals[][128])
{
	snprintf(vals[0], 128, "%s", l->name);
	snprintf(vals[1], 128, "%u", l->vid);
	snprintf(vals[2], 128, "%s", name_of(v, n, l->lower));
	snprintf(vals[3], 128, "-----");
}

static int cmd_show_vlan(int argc, char **argv)
{
	return show(argc, argv, vlan_fields, 4, NULL, NET_DL_VLAN, vlan_row);
}

/* --- create / delete ------------------------------------------------- */

static int one_name(int argc, char **argv, const char *what)
{
	if (optind >= argc)
		return usage_error("%s: a %s name is needed", argv[0], what);
	if (argc - optind > 1)
		return usage_error("%s: too many arguments", argv[0]);
	return 0;
}

static int cmd_create_etherstub(int argc, char **argv)
{
	struct hull_err err = {0};
	bool temp = false;
	struct nl_sock *sk;
	int c, r;

	while ((c = getopt(argc, argv, "t")) != -1) {
		if (c != 't')
			return bad_option(argv[0]);
		temp = true;
	}
	if ((r = one_name(argc, argv, "etherstub")))
		return r;
	if (!(sk = open_sk(&err)))
		return fail(&err);
	r = net_dl_etherstub_create(sk, argv[optind], &err);
	net_nl_close(sk);
	if (r)
		return fail(&err);
	json_t *o =
	    json_pack("{ss ss}", "name", argv[optind], "class", "etherstub");
	r = persist("name", argv[optind], o, temp);
	json_decref(o);
	return r;
}

static int parse_props(const char *cmd, char *s, unsigned *mtu)
{
	for (char *save = NULL, *kv = strtok_r(s, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *end;
		if (!eq)
			return usage_error("%s: property needs a value: '%s'",
					   cmd, kv);
		*eq++ = 0;
		if (strcmp(kv, "mtu"))
			return usage_error("%s: unknown property '%s'", cmd,
					   kv);
		unsigned long v = strtoul(eq, &end, 10);
		if (!*eq || *end || v < 68 || v > 65535)
			return usage_error("%s: invalid mtu '%s'", cmd, eq);
		*mtu = (unsigned)v;
	}
	return 0;
}

static int cmd_create_vnic(int argc, char **argv)
{
	struct hull_err err = {0};
	const char *over = NULL, *macs = NULL;
	uint8_t mac[HULL_MAC_LEN];
	bool temp = false, have_mac = false;
	unsigned mtu = 0, vid = 0;
	struct nl_sock *sk;
	int c, r;

	while ((c = getopt(argc, argv, "tl:m:v:p:")) != -1) {
		switch (c) {
		case 't':
			temp = true;
			break;
		case 'l':
			over = optarg;
			break;
		case 'm':
			macs = optarg;
			break;
		case 'v': {
			char *end;
			long x = strtol(optarg, &end, 10);
			/* 0: no VLAN, as on illumos. */
			if (!*optarg || *end || x < 0 || x > 4094)
				return usage_error("%s: invalid VLAN ID '%s' "
						   "(1-4094)",
						   argv[0], optarg);
			vid = (unsigned)x;
			break;
		}
		case 'p':
			if ((r = parse_props(argv[0], optarg, &mtu)))
				return r;
			break;
		default:
			return bad_option(argv[0]);
		}
	}
	if (!over)
		return usage_error("%s: the link is needed (-l LINK)", argv[0]);
	if ((r = one_name(argc, argv, "vnic")))
		return r;
	if (macs && strcmp(macs, "random") && strcmp(macs, "auto")) {
		if (hull_mac_parse(macs, mac))
			return usage_error("%s: invalid MAC address '%s'",
					   argv[0], macs);
		have_mac = true;
	}
	if (!(sk = open_sk(&err)))
		return fail(&err);
	r = net_dl_vnic_create(sk, argv[optind], over, have_mac ? mac : NULL,
			       mtu, vid, &err);
	if (!r && !have_mac)
		r = net_link_mac(sk, argv[optind], mac, &err);
	net_nl_close(sk);
	if (r)
		return fail(&err);
	char ms[HULL_MAC_STRLEN];
	hull_mac_format(mac, ms);
	/* Stored with its address, so a vnic comes back with the same MAC. */
	json_t *o = json_pack("{ss ss ss ss}", "name", argv[optind], "class",
			      "vnic", "over", over, "mac", ms);
	if (mtu)
		json_object_set_new(o, "mtu", json_integer(mtu));
	if (vid)
		json_object_set_new(o, "vid", json_integer(vid));
	r = persist("name", argv[optind], o, temp);
	json_decref(o);
	return r;
}

static int cmd_create_vlan(int argc, char **argv)
{
	struct hull_err err = {0};
	const char *over = NULL;
	long vid = -1;
	bool temp = false;
	struct nl_sock *sk;
	char *end;
	int c, r;

	while ((c = getopt(argc, argv, "ftl:v:")) != -1) {
		switch (c) {
		case 'f':
			break;
		case 't':
			temp = true;
			break;
		case 'l':
			over = optarg;
			break;
		case 'v':
			vid = strtol(optarg, &end, 10);
			if (!*optarg || *end || vid < 1 || vid > 4094)
				return usage_error("%s: invalid VLAN ID '%s' "
						   "(1-4094)",
						   argv[0], optarg);
			break;
		default:
			return bad_option(argv[0]);
		}
	}
	if (!over || vid < 0)
		return usage_error("%s: -l LINK and -v VID are needed",
				   argv[0]);
	if ((r = one_name(argc, argv, "vlan")))
		return r;
	if (!(sk = open_sk(&err)))
		return fail(&err);
	r = net_dl_vlan_create(sk, argv[optind], over, (unsigned)vid, &err);
	net_nl_close(sk);
	if (r)
		return fail(&err);
	json_t *o = json_pack("{ss ss ss si}", "name", argv[optind], "class",
			      "vlan", "over", over, "vid", (int)vid);
	r = persist("name", argv[optind], o, temp);
	json_decref(o);
	return r;
}

static int cmd_create_aggr(int argc, char **argv)
{
	struct hull_err err = {0};
	struct net_aggr_spec s = {.lacp = NET_LACP_OFF, .xmit_hash = 1};
	uint8_t mac[HULL_MAC_LEN];
	bool temp = false;
	struct nl_sock *sk;
	int c, r;

	while ((c = getopt(argc, argv, "tl:L:T:P:u:")) != -1) {
		switch (c) {
		case 't':
			temp = true;
			break;
		case 'l':
			if (s.nports == NET_AGGR_MAX_PORTS)
				return usage_error("%s: too many ports",
						   argv[0]);
			s.ports[s.nports++] = optarg;
			break;
		case 'L':
			if (!strcmp(optarg, "off"))
				s.lacp = NET_LACP_OFF;
			else if (!strcmp(optarg, "active"))
				s.lacp = NET_LACP_ACTIVE;
			else if (!strcmp(optarg, "passive"))
				s.lacp = NET_LACP_PASSIVE;
			else
				return usage_error("%s: invalid LACP mode '%s' "
						   "(active, passive or off)",
						   argv[0], optarg);
			break;
		case 'T':
			if (!strcmp(optarg, "short"))
				s.lacp_short = true;
			else if (!strcmp(optarg, "long"))
				s.lacp_short = false;
			else
				return usage_error("%s: invalid LACP timer "
						   "'%s' (short or long)",
						   argv[0], optarg);
			break;
		case 'P':
			/* illumos's policies: L2, L3, L4 and their
			 * combinations; Linux hashes on L2, L2+L3 or L3+L4. */
			if (!strcasecmp(optarg, "L2"))
				s.xmit_hash = 0;
			else if (!strcasecmp(optarg, "L3") ||
				 !strcasecmp(optarg, "L2,L3"))
				s.xmit_hash = 2;
			else if (!strcasecmp(optarg, "L4") ||
				 !strcasecmp(optarg, "L3,L4"))
				s.xmit_hash = 1;
			else
				return usage_error("%s: invalid policy '%s' "
						   "(L2, L3 or L4)",
						   argv[0], optarg);
			break;
		case 'u':
			if (hull_mac_parse(optarg, mac))
				return usage_error("%s: invalid MAC address "
						   "'%s'",
						   argv[0], optarg);
			s.mac = mac;
			break;
		default:
			return bad_option(argv[0]);
		}
	}
	if (!s.nports)
		return usage_error("%s: at least one port is needed (-l LINK)",
				   argv[0]);
	if ((r = one_name(argc, argv, "aggr")))
		return r;
	if (!(sk = open_sk(&err)))
		return fail(&err);
	r = net_dl_aggr_create(sk, argv[optind], &s, &err);
	net_nl_close(sk);
	if (r)
		return fail(&err);
	json_t *ports = json_array();
	for (size_t i = 0; i < s.nports; i++)
		json_array_append_new(ports, json_string(s.ports[i]));
	json_t *o = json_pack("{ss ss so ss sb si}", "name", argv[optind],
			      "class", "aggr", "ports", ports, "lacp",
			      s.lacp == NET_LACP_OFF	  ? "off"
			      : s.lacp == NET_LACP_ACTIVE ? "active"
							  : "passive",
			      "lacp_short", s.lacp_short, "hash", s.xmit_hash);
	if (s.mac) {
		char ms[HULL_MAC_STRLEN];
		hull_mac_format(mac, ms);
		json_object_set_new(o, "mac", json_string(ms));
	}
	r = persist("name", argv[optind], o, temp);
	json_decref(o);
	return r;
}

/* A nic tag whose uplink or bridge is name, or NULL. */
static bool tag_uses(const char *name, char tag[NET_TAG_MAX + 1])
{
	struct hull_err ignore;
	struct net_tag *t = NULL;
	size_t n = 0;
	bool r = false;

	if (net_tag_list(&t, &n, &ignore))
		return false;
	for (size_t i = 0; i < n && !r; i++)
		if (!strcmp(t[i].link, name) || !strcmp(t[i].bridge, name)) {
			snprintf(tag, NET_TAG_MAX + 1, "%s", t[i].name);
			r = true;
		}
	free(t);
	return r;
}

static int delete_link(int argc, char **argv, enum net_dl_class cls)
{
	struct hull_err err = {0};
	char tag[NET_TAG_MAX + 1];
	bool temp = false;
	struct nl_sock *sk;
	int c, r;

	while ((c = getopt(argc, argv, "t")) != -1) {
		if (c != 't')
			return bad_option(argv[0]);
		temp = true;
	}
	if ((r = one_name(argc, argv, net_dl_class_name(cls))))
		return r;
	if (tag_uses(argv[optind], tag)) {
		hull_err_set(&err, EBUSY,
			     "link %s is busy: nic tag '%s' is over it "
			     "(nictagadm delete %s first)",
			     argv[optind], tag, tag);
		return fail(&err);
	}
	if (!(sk = open_sk(&err)))
		return fail(&err);
	r = net_dl_delete(sk, argv[optind], cls, &err);
	net_nl_close(sk);
	if (r)
		return fail(&err);
	return persist("name", argv[optind], NULL, temp);
}

static int cmd_delete_etherstub(int argc, char **argv)
{
	return delete_link(argc, argv, NET_DL_ETHERSTUB);
}

static int cmd_delete_vnic(int argc, char **argv)
{
	return delete_link(argc, argv, NET_DL_VNIC);
}

static int cmd_delete_vlan(int argc, char **argv)
{
	return delete_link(argc, argv, NET_DL_VLAN);
}

static int cmd_delete_aggr(int argc, char **argv)
{
	return delete_link(argc, argv, NET_DL_AGGR);
}

/* --- init ------------------------------------------------------------ */

/* Makes one stored link unless it exists. */
static int init_link(struct nl_sock *sk, json_t *o, struct hull_err *err)
{
	const char *name = hull_json_str(o, "name", "");
	const char *cls = hull_json_str(o, "class", "");
	uint8_t mac[HULL_MAC_LEN];

	if (net_link_index(sk, name) > 0)
		return 0;
	if (!strcmp(cls, "etherstub"))
		return net_dl_etherstub_create(sk, name, err);
	if (!strcmp(cls, "vnic")) {
		bool m = !hull_mac_parse(hull_json_str(o, "mac", ""), mac);
		return net_dl_vnic_create(
		    sk, name, hull_json_str(o, "over", ""), m ? mac : NULL,
		    (unsigned)hull_json_int(o, "mtu", 0),
		    (unsigned)hull_json_int(o, "vid", 0), err);
	}
	if (!strcmp(cls, "vlan"))
		return net_dl_vlan_create(
		    sk, name, hull_json_str(o, "over", ""),
		    (unsigned)hull_json_int(o, "vid", 0), err);
	if (!strcmp(cls, "aggr")) {
		struct net_aggr_spec s = {0};
		json_t *p;
		size_t i;
		const char *lacp = hull_json_str(o, "lacp", "off");
		json_array_foreach(json_object_get(o, "ports"), i, p)
		{
			if (s.nports < NET_AGGR_MAX_PORTS)
				s.ports[s.nports++] = json_string_value(p);
		}
		s.lacp = !strcmp(lacp, "active")    ? NET_LACP_ACTIVE
			 : !strcmp(lacp, "passive") ? NET_LACP_PASSIVE
						    : NET_LACP_OFF;
		s.lacp_short = hull_json_bool(o, "lacp_short", false);
		s.xmit_hash = (int)hull_json_int(o, "hash", 1);
		if (!hull_mac_parse(hull_json_str(o, "mac", ""), mac))
			s.mac = mac;
		return net_dl_aggr_create(sk, name, &s, err);
	}
	return hull_err_set(err, EINVAL, "stored link %s: unknown class '%s'",
			    name, cls);
}

/* SmartOS's etherstub= key: a comma list of etherstubs to make. */
static int init_usbkey_stubs(struct nl_sock *sk, json_t *kv,
			     struct hull_err *err)
{
	_cleanup_free_ char *list = xstrdup(hull_json_str(kv, "etherstub", ""));
	char *save = NULL;
	int r = 0;

	for (char *s = strtok_r(list, ",", &save); s && !r;
	     s = strtok_r(NULL, ",", &save))
		if (net_link_index(sk, s) < 0)
			r = net_dl_etherstub_create(sk, s, err);
	return r;
}

static int cmd_init(int argc, char **argv)
{
	struct hull_err err = {0};
	json_t *cfg = NULL, *kv = NULL, *o;
	struct nl_sock *sk = NULL;
	size_t i;
	int r = 0, failed = 0;

	if (argc != 1)
		return usage_error("init: unexpected argument '%s'", argv[1]);
	if (!net_cfg_platform())
		return 0; /* nothing kept: an ordinary host */
	if (!(kv = net_cfg_usbkey(&err)) || !(cfg = net_cfg_load(&err)) ||
	    !(sk = open_sk(&err))) {
		r = fail(&err);
		goto out;
	}
	if (init_usbkey_stubs(sk, kv, &err)) {
		fail(&err);
		failed = 1;
	}
	/* In the order they were made: a vnic after the link it is over. */
	json_array_foreach(json_object_get(cfg, "links"), i, o)
	{
		if (init_link(sk, o, &err)) {
			fail(&err);
			failed = 1;
		}
	}
	r = failed;
out:
	net_nl_close(sk);
	json_decref(cfg);
	json_decref(kv);
	return r;
}

static const struct subcmd subcommands[] = {
    {"show-phys", NULL, cmd_show_phys, "show-phys [-p] [-o field,...] [link]",
     0},
    {"show-link", NULL, cmd_show_link, "show-link [-p] [-o field,...] [link]",
     0},
    {"create-vnic", NULL, cmd_create_vnic,
     "create-vnic [-t] -l link [-m mac|random] [-v vid] [-p mtu=N] vnic", 0},
    {"delete-vnic", NULL, cmd_delete_vnic, "delete-vnic [-t] vnic", 0},
    {"show-vnic", NULL, cmd_show_vnic, "show-vnic [-p] [-o field,...] [vnic]",
     0},
    {"create-etherstub", NULL, cmd_create_etherstub,
     "create-etherstub [-t] etherstub", 0},
    {"delete-etherstub", NULL, cmd_delete_etherstub,
     "delete-etherstub [-t] etherstub", 0},
    {"show-etherstub", NULL, cmd_show_etherstub,
     "show-etherstub [-p] [-o field,...] [etherstub]", 0},
    {"create-aggr", NULL, cmd_create_aggr,
     "create-aggr [-t] [-P policy] [-L active|passive|off] "
     "[-T short|long] [-u mac] -l link [-l link...] aggr",
     0},
    {"delete-aggr", NULL, cmd_delete_aggr, "delete-aggr [-t] aggr", 0},
    {"show-aggr", NULL, cmd_show_aggr, "show-aggr [-p] [-o field,...] [aggr]",
     0},
    {"create-vlan", NULL, cmd_create_vlan,
     "create-vlan [-t] -l link -v vid vlan", 0},
    {"delete-vlan", NULL, cmd_delete_vlan, "delete-vlan [-t] vlan", 0},
    {"show-vlan", NULL, cmd_show_vlan, "show-vlan [-p] [-o field,...] [vlan]",
     0},
    {"init", NULL, cmd_init,
     "init   (hull) make the links the platform's pool keeps, at boot", 0},
};

static const struct subcmd_prog dladm = {
    .name = "dladm",
    .cmds = subcommands,
    .ncmds = sizeof(subcommands) / sizeof(subcommands[0]),
    .flags = SUBCMD_STRICT_OPTS | SUBCMD_SCAN_HELP,
    .usage_exit = EXIT_USAGE,
    .usage_head = "usage: dladm [--help] [--version] COMMAND [ARGS...]\n"
		  "Administer data links (vnics, etherstubs, aggregations, "
		  "VLANs).\ncommands:\n",
    .list_prefix = "    ",
    .usage_tail = "See the dladm manual (docs/dladm.md).\n",
    .unknown_prefix = "dladm: unknown subcommand '",
    .unknown_suffix = "' (see dladm --help)",
    .cmd_help_prefix = "usage: dladm ",
};

int main(int argc, char **argv)
{
	opterr = 0; /* our own one-line messages */
	return subcmd_main(&dladm, argc, argv);
}
