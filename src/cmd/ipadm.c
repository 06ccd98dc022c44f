/*
 * ipadm - administer IP addresses, as illumos's ipadm(8) on SmartOS:
 * static addresses, DHCP (Debian's dhclient) and IPv6 autoconfiguration,
 * named by address objects ("net0/v4"). See src/net/ipaddr.c and
 * docs/ipadm.md.
 *
 * Exit codes: 0 success, 1 error (one line on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/ofmt.h"
#include "lib/root.h"
#include "lib/subcmd.h"
#include "lib/xalloc.h"
#include "net/dlink.h"
#include "net/ipaddr.h"
#include "net/netcfg.h"
#include "net/netlink.h"

#define EXIT_USAGE 2

#define usage_error(...)                                                       \
	subcmd_usage_error("ipadm", "ipadm --help", __VA_ARGS__)

static int fail(struct hull_err *err)
{
	fprintf(stderr, "ipadm: %s\n", err->msg);
	return 1;
}

static int bad_option(const char *cmd)
{
	if (optopt)
		return usage_error("%s: unknown option '-%c'", cmd, optopt);
	return usage_error("%s: unknown option", cmd);
}

static int persist(const char *aobj, json_t *obj, bool temporary)
{
	struct hull_err err = {0};

	if (temporary)
		return 0;
	if (!net_cfg_platform()) {
		fprintf(stderr,
			"ipadm: note: changed the running system only "
			"(this pool has no platform host configuration, "
			"usbkey/config)\n");
		return 0;
	}
	if (net_cfg_put("addrs", "addrobj", aobj, obj, &err))
		return fail(&err);
	return 0;
}

static int create(const char *aobj, enum net_addr_type type, const char *addr,
		  struct hull_err *err)
{
	struct net_addr a;
	struct nl_sock *sk;
	int r;

	if (type == NET_ADDR_STATIC && net_cidr_parse(addr, false, &a))
		return hull_err_set(err, EINVAL,
				    "invalid address '%s': use ADDRESS/PREFIX",
				    addr);
	if (!(sk = net_nl_open(-1, err)))
		return -err->code;
	r = net_ipaddr_create(sk, aobj, type, &a, err);
	net_nl_close(sk);
	return r;
}

static int cmd_create_addr(int argc, char **argv)
{
	struct hull_err err = {0};
	const char *types = NULL, *addr = NULL;
	enum net_addr_type type;
	bool temp = false;
	int c;

	while ((c = getopt(argc, argv, "tT:a:w:h:")) != -1) {
		switch (c) {
		case 't':
			temp = true;
			break;
		case 'T':
			types = optarg;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'w':
		case 'h':
			break; /* dhcp wait time and hostname: not used */
		default:
			return bad_option(argv[0]);
		}
	}
	if (!types)
		return usage_error("create-addr: -T static|dhcp|addrconf is "
				   "needed");
	if (net_addr_type_parse(types, &type))
		return usage_error("create-addr: invalid address type '%s'",
				   types);
	if (type == NET_ADDR_STATIC && !addr)
		return usage_error("create-addr: -T static needs -a "
				   "ADDRESS/PREFIX");
	if (type != NET_ADDR_STATIC && addr)
		return usage_error("create-addr: -a goes with -T static only");
	if (optind >= argc)
		return usage_error("create-addr: an address object "
				   "(INTERFACE/NAME) is needed");
	if (argc - optind > 1)
		return usage_error("create-addr: too many arguments");
	if (create(argv[optind], type, addr, &err))
		return fail(&err);
	json_t *o =
	    json_pack("{ss ss}", "addrobj", argv[optind], "type", types);
	if (addr)
		json_object_set_new(o, "addr", json_string(addr));
	int r = persist(argv[optind], o, temp);
	json_decref(o);
	return r;
}

static int cmd_delete_addr(int argc, char **argv)
{
	struct hull_err err = {0};
	struct nl_sock *sk;
	bool temp = false;
	int c, r;

	while ((c = getopt(argc, argv, "tr")) != -1) {
		if (c == 't')
			temp = true;
		else if (c != 'r')
			return bad_option(argv[0]);
	}
	if (argc - optind != 1)
		return usage_error("delete-addr: one address object is needed");
	if (!(sk = net_nl_open(-1, &err)))
		return fail(&err);
	r = net_ipaddr_delete(sk, argv[optind], &err);
	net_nl_close(sk);
	if (r)
		return fail(&err);
	return persist(argv[optind], NULL, temp);
}

static int show_args(int argc, char **argv, bool *parsable, const char **fields,
		     const char **what)
{
	int c;

	*parsable = false;
	*fields = *what = NULL;
	while ((c = getopt(argc, argv, "po:")) != -1) {
		if (c == 'p')
			*parsable = true;
		else if (c == 'o')
			*fields = optarg;
		else
			return bad_option(argv[0]);
	}
	if (argc - optind > 1)
		return usage_error("%s: too many arguments", argv[0]);
	if (optind < argc)
		*what = argv[optind];
	return 0;
}

static void print_row(const struct ofmt *f, const char *const *v, char **header)
{
	if (*header) {
		printf("%s\n", *header);
		free(*header);
		*header = NULL;
	}
	char *line = ofmt_line(f, v);
	printf("%s\n", line);
	free(line);
}

static const struct ofmt_field addr_fields[] = {
    {"ADDROBJ", 17}, {"TYPE", 9}, {"STATE", 13}, {"ADDR", 35}};

static int cmd_show_addr(int argc, char **argv)
{
	struct hull_err err = {0};
	struct net_ipaddr *v = NULL;
	struct nl_sock *sk;
	struct ofmt f;
	const char *fields, *what;
	bool parsable, found = false;
	size_t n, slash;
	int r;

	if ((r = show_args(argc, argv, &parsable, &fields, &what)))
		return r;
	if (ofmt_open(&f, addr_fields, 4, fields, NULL, parsable, &err))
		return usage_error("show-addr: %s", err.msg);
	if (!(sk = net_nl_open(-1, &err)))
		return fail(&err);
	r = net_ipaddr_list(sk, &v, &n, &err);
	net_nl_close(sk);
	if (r)
		return fail(&err);
	char *h = ofmt_header(&f);
	for (size_t i = 0; i < n; i++) {
		char addr[NET_ADDR_STRLEN] = "";
		const char *state;
		if (what && strcmp(what, v[i].aobj) &&
		    (strchr(what, '/') || strcmp(what, v[i].ifname)))
			continue;
		found = true;
		if (v[i].has_addr)
			net_addr_format(&v[i].addr, true, addr, sizeof(addr));
		state = !v[i].has_addr	 ? "inaccessible"
			: !v[i].up	 ? "down"
			: v[i].tentative ? "tentative"
					 : "ok";
		const char *vals[] = {v[i].aobj, net_addr_type_name(v[i].type),
				      state, v[i].has_addr ? addr : "?"};
		print_row(&f, vals, &h);
	}
	if (h && !what)
		printf("%s\n", h);
	free(h);
	free(v);
	if (what && !found) {
		hull_err_set(&err, ENOENT,
			     strchr(what, '/') ? "address object %s not found"
					       : "no addresses on %s",
			     what);
		return fail(&err);
	}
	(void)slash;
	return 0;
}

static const struct ofmt_field if_fields[] = {
    {"IFNAME", 11}, {"STATE", 9}, {"CURRENT", 13}, {"PERSISTENT", 11}};

static int cmd_show_if(int argc, char **argv)
{
	struct hull_err err = {0};
	struct net_dl_link *l = NULL;
	struct net_ipaddr *a = NULL;
	struct nl_sock *sk;
	struct ofmt f;
	const char *fields, *what;
	bool parsable, found = false;
	size_t nl = 0, na = 0;
	json_t *cfg = NULL;
	int r;

	if ((r = show_args(argc, argv, &parsable, &fields, &what)))
		return r;
	if (ofmt_open(&f, if_fields, 4, fields, NULL, parsable, &err))
		return usage_error("show-if: %s", err.msg);
	if (!(sk = net_nl_open(-1, &err)))
		return fail(&err);
	r = net_dl_list(sk, &l, &nl, &err);
	if (!r)
		r = net_ipaddr_list(sk, &a, &na, &err);
	net_nl_close(sk);
	if (!r && net_cfg_platform() && !(cfg = net_cfg_load(&err)))
		r = -1;
	if (r) {
		free(l);
		free(a);
		return fail(&err);
	}
	char *h = ofmt_header(&f);
	/* The loopback first, as illumos lists lo0 first. */
	const char *lo = "lo";
	for (size_t i = 0; i <= nl; i++) {
		const char *name = i == 0 ? lo : l[i - 1].name;
		bool up = i == 0 || l[i - 1].up;
		bool v4 = false, v6 = false, p4 = false, p6 = false;
		char cur[16], per[8];
		json_t *o;
		size_t k;
		if (what && strcmp(what, name))
			continue;
		for (size_t j = 0; j < na; j++) {
			if (strcmp(a[j].ifname, name) || !a[j].has_addr)
				continue;
			v4 |= a[j].addr.family == AF_INET;
			v6 |= a[j].addr.family == AF_INET6;
		}
		json_array_foreach(json_object_get(cfg, "addrs"), k, o)
		{
			const char *ao = hull_json_str(o, "addrobj", "");
			size_t len = strlen(name);
			if (strncmp(ao, name, len) || ao[len] != '/')
				continue;
			const char *ty = hull_json_str(o, "type", "");
			const char *ad = hull_json_str(o, "addr", "");
			if (!strcmp(ty, "addrconf") || strchr(ad, ':'))
				p6 = true;
			else
				p4 = true;
		}
		/* Only interfaces with an address are IP interfaces. */
		if (!v4 && !v6 && !p4 && !p6)
			continue;
		found = true;
		snprintf(cur, sizeof(cur), "%c%c-------%c%c",
			 i == 0 ? '-' : 'b', i == 0 ? '-' : 'm', v4 ? '4' : '-',
			 v6 ? '6' : '-');
		snprintf(per, sizeof(per), "-%c%c", p4 ? '4' : '-',
			 p6 ? '6' : '-');
		const char *vals[] = {name, up ? "ok" : "down", cur, per};
		print_row(&f, vals, &h);
	}
	if (h && !what)
		printf("%s\n", h);
	free(h);
	free(l);
	free(a);
	json_decref(cfg);
	if (what && !found) {
		hull_err_set(&err, ENXIO, "no IP interface %s", what);
		return fail(&err);
	}
	return 0;
}

/* SmartOS's admin_* keys: the admin address on the link whose MAC is
 * admin_nic (on its nic tag's bridge when it has one). */
static int init_admin(json_t *kv, struct hull_err *err)
{
	const char *nic = hull_json_str(kv, "admin_nic", NULL);
	const char *ip = hull_json_str(kv, "admin_ip", NULL);
	const char *mask = hull_json_str(kv, "admin_netmask", NULL);
	const char *gw = hull_json_str(kv, "admin_gateway", NULL);
	uint8_t mac[HULL_MAC_LEN];
	char link[IFNAMSIZ], aobj[64];
	struct net_addr a, g;
	struct nl_sock *sk;
	int r = 0, m;

	if (!nic || !ip)
		return 0;
	if (hull_mac_parse(nic, mac))
		return hull_err_set(err, EINVAL,
				    "usbkey/config: admin_nic: invalid MAC "
				    "address '%s'",
				    nic);
	if (!(sk = net_nl_open(-1, err)))
		return -err->code;
	if (net_link_find_by_mac(sk, mac, link) < 0) {
		r = hull_err_set(err, ENODEV,
				 "usbkey/config: admin_nic: no link with MAC "
				 "address %s",
				 nic);
		goto out;
	}
	if ((m = net_link_master(sk, link)) > 0) {
		struct rtnl_link;
		struct net_dl_link *v = NULL;
		size_t n;
		if (!net_dl_list(sk, &v, &n, err)) {
			const struct net_dl_link *b =
			    net_dl_find_index(v, n, m);
			if (b && b->cls != NET_DL_AGGR)
				snprintf(link, sizeof(link), "%s", b->name);
			free(v);
		}
	}
	snprintf(aobj, sizeof(aobj), "%s/admin", link);
	if (!strcmp(ip, "dhcp")) {
		r = net_ipaddr_create(sk, aobj, NET_ADDR_DHCP, NULL, err);
		goto out;
	}
	unsigned prefix = 24;
	if (net_addr_parse(ip, &a) || a.family != AF_INET ||
	    (mask && net_netmask_parse(mask, &prefix))) {
		r = hull_err_set(err, EINVAL,
				 "usbkey/config: invalid admin_ip '%s' or "
				 "admin_netmask '%s'",
				 ip, mask ? mask : "");
		goto out;
	}
	a.prefix = prefix;
	r = net_ipaddr_create(sk, aobj, NET_ADDR_STATIC, &a, err);
	if (r == -EEXIST)
		r = 0;
	if (!r && gw) {
		if (net_addr_parse(gw, &g) || g.family != AF_INET)
			r = hull_err_set(err, EINVAL,
					 "usbkey/config: invalid "
					 "admin_gateway '%s'",
					 gw);
		else if ((r = net_route_add(sk, AF_INET, NULL, &g, 0, err)) ==
			 -EEXIST)
			r = 0;
	}
out:
	net_nl_close(sk);
	return r;
}

/* SmartOS's hostname (identity-node) and dns_resolvers/dns_domain keys:
 * the host name of this UTS namespace, and the resolv.conf the platform
 * binds over /etc/resolv.conf (removed when the keys are gone, so a
 * stale list does not outlive them). */
static int init_identity(json_t *kv, struct hull_err *err)
{
	_cleanup_free_ char *path = net_cfg_resolv_path();
	_cleanup_free_ char *dir = hull_root_path("var/ipadm");
	char host[NET_CFG_HOSTNAME_MAX];
	char *text = NULL;
	int r;

	if ((r = net_cfg_hostname(kv, host, err)))
		return r;
	if (*host && sethostname(host, strlen(host)) < 0)
		return hull_err_sys(err, errno, "set the host name to %s",
				    host);
	if ((r = net_cfg_resolv_render(kv, &text, err)))
		return r;
	if (!text) {
		if (unlink(path) < 0 && errno != ENOENT)
			return hull_err_sys(err, errno, "remove %s", path);
		return 0;
	}
	if (!(r = hull_mkdir_p(dir, 0755, err)))
		r = hull_file_write_atomic(path, text, strlen(text), 0644, err);
	free(text);
	return r;
}

static int cmd_init(int argc, char **argv)
{
	struct hull_err err = {0};
	json_t *cfg, *kv, *o;
	size_t i;
	int failed = 0;

	if (argc != 1)
		return usage_error("init: unexpected argument '%s'", argv[1]);
	if (!net_cfg_platform())
		return 0;
	if (!(kv = net_cfg_usbkey(&err)))
		return fail(&err);
	if (!(cfg = net_cfg_load(&err))) {
		json_decref(kv);
		return fail(&err);
	}
	if (init_identity(kv, &err)) {
		fail(&err);
		failed = 1;
	}
	if (init_admin(kv, &err)) {
		fail(&err);
		failed = 1;
	}
	json_array_foreach(json_object_get(cfg, "addrs"), i, o)
	{
		enum net_addr_type t = NET_ADDR_STATIC;
		const char *aobj = hull_json_str(o, "addrobj", "");
		net_addr_type_parse(hull_json_str(o, "type", ""), &t);
		int r = create(aobj, t, hull_json_str(o, "addr", ""), &err);
		if (r && r != -EEXIST) {
			fail(&err);
			failed = 1;
		}
	}
	json_decref(cfg);
	json_decref(kv);
	return failed;
}

static const struct subcmd subcommands[] = {
    {"create-addr", NULL, cmd_create_addr,
     "create-addr [-t] -T static -a ADDRESS/PREFIX INTERFACE/NAME\n"
     "    create-addr [-t] -T dhcp INTERFACE/NAME\n"
     "    create-addr [-t] -T addrconf INTERFACE/NAME",
     0},
    {"delete-addr", NULL, cmd_delete_addr, "delete-addr [-t] INTERFACE/NAME",
     0},
    {"show-addr", NULL, cmd_show_addr,
     "show-addr [-p] [-o field,...] [INTERFACE/NAME | INTERFACE]", 0},
    {"show-if", NULL, cmd_show_if, "show-if [-p] [-o field,...] [INTERFACE]",
     0},
    {"init", NULL, cmd_init,
     "init   (hull) apply the addresses the platform's pool keeps, at boot", 0},
};

static const struct subcmd_prog ipadm = {
    .name = "ipadm",
    .cmds = subcommands,
    .ncmds = sizeof(subcommands) / sizeof(subcommands[0]),
    .flags = SUBCMD_STRICT_OPTS | SUBCMD_SCAN_HELP,
    .usage_exit = EXIT_USAGE,
    .usage_head = "usage: ipadm [--help] [--version] COMMAND [ARGS...]\n"
		  "Administer IP addresses.\ncommands:\n",
    .list_prefix = "    ",
    .usage_tail = "See the ipadm manual (docs/ipadm.md).\n",
    .unknown_prefix = "ipadm: unknown subcommand '",
    .unknown_suffix = "' (see ipadm --help)",
    .cmd_help_prefix = "usage: ipadm ",
};

int main(int argc, char **argv)
{
	opterr = 0;
	return subcmd_main(&ipadm, argc, argv);
}
