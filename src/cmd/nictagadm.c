/*
 * nictagadm - manage nic tags, as SmartOS's nictagadm(8) does: a tag names
 * a network an instance's nic joins (here: a Linux bridge bound to a host
 * link, or an etherstub with no link). See docs/nictagadm.md.
 *
 * Exit codes: 0 success, 1 error (one line on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/subcmd.h"
#include "lib/xalloc.h"
#include "net/nictag.h"

static bool verbose;

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: nictagadm [-v] <command> [options]\n"
	    "\n"
	    "Manage nic tags (Linux bridges that instances' nics join).\n"
	    "\n"
	    "Commands:\n"
	    "  add [-l] [-p prop=value,...] <name> [mac|link]\n"
	    "                 add a tag bound to the host link with that MAC\n"
	    "                 address or name; -l: a local etherstub\n"
	    "  update [-p prop=value,...] <name> [mac|link]\n"
	    "                 rebind a tag or change its mtu\n"
	    "  delete [-f] <name>\n"
	    "                 remove a tag; -f even while instances use it\n"
	    "  exists [-l] <name>...\n"
	    "                 exit 0 when every tag exists; -l: print the\n"
	    "                 missing names on stderr\n"
	    "  list [-l | -L] [-p] [-d delim]\n"
	    "                 list tags (-l etherstubs only, -L no\n"
	    "                 etherstubs, -p parsable, -d delimiter)\n"
	    "  vms <name>     list the instances that use a tag\n"
	    "  restore        recreate missing bridges (after a reboot)\n"
	    "\n"
	    "Properties: mac=<MAC>, mtu=<1500-9000> (576-9000 for etherstubs)\n"
	    "Options: -h help, -v verbose. Tags live in "
	    "$HULL_ROOT/var/nictags.json.\n");
}

static int fail(struct hull_err *err)
{
	fprintf(stderr, "nictagadm: %s\n", err->msg);
	return 1;
}

#define usage_error(...)                                                       \
	subcmd_usage_error("nictagadm", "nictagadm -h", __VA_ARGS__)

static int bad_option(void)
{
	if (optopt == 0)
		return usage_error("unknown option");
	return usage_error("unknown option '-%c'", optopt);
}

/* -p mac=...,mtu=... */
static int parse_props(char *s, const char **mac, unsigned *mtu)
{
	for (char *save = NULL, *kv = strtok_r(s, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return usage_error("property needs a value: '%s'", kv);
		*eq++ = 0;
		if (!strcmp(kv, "mac")) {
			*mac = eq;
		} else if (!strcmp(kv, "mtu")) {
			char *end;
			unsigned long v = strtoul(eq, &end, 10);
			if (!*eq || *end || v > 65535)
				return usage_error("mtu is not a number: '%s'",
						   eq);
			*mtu = (unsigned)v;
		} else {
			return usage_error("unknown property '%s'", kv);
		}
	}
	return 0;
}

static int cmd_add_update(int argc, char **argv, bool add)
{
	struct hull_err err = {0};
	const char *mac = NULL;
	unsigned mtu = 0;
	bool local = false;
	int c, r;

	while ((c = getopt(argc, argv, add ? "lp:v" : "p:v")) != -1) {
		switch (c) {
		case 'l':
			local = true;
			break;
		case 'p':
			if ((r = parse_props(optarg, &mac, &mtu)))
				return r;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			return bad_option();
		}
	}
	if (optind >= argc)
		return usage_error("%s: a tag name is needed",
				   add ? "add" : "update");
	if (argc - optind > 2)
		return usage_error("%s: too many arguments",
				   add ? "add" : "update");
	if (argc - optind == 2) {
		if (mac)
			return usage_error("%s: MAC given twice",
					   add ? "add" : "update");
		mac = argv[optind + 1];
	}
	if (add && local && mac)
		return usage_error("add: an etherstub (-l) has no MAC address");
	if (add)
		r = net_tag_add(argv[optind], local, mac, mtu, &err);
	else if (!mac && !mtu)
		return usage_error("update: nothing to change for '%s'",
				   argv[optind]);
	else
		r = net_tag_update(argv[optind], mac, mtu, &err);
	if (r)
		return fail(&err);
	if (verbose)
		fprintf(stderr, "nictagadm: %s %s\n", add ? "added" : "updated",
			argv[optind]);
	return 0;
}

static int cmd_delete(int argc, char **argv)
{
	struct hull_err err = {0};
	bool force = false;
	int c;

	while ((c = getopt(argc, argv, "fv")) != -1) {
		if (c == 'f')
			force = true;
		else if (c == 'v')
			verbose = true;
		else
			return bad_option();
	}
	if (argc - optind != 1)
		return usage_error("delete: one tag name is needed");
	if (net_tag_delete(argv[optind], force, &err))
		return fail(&err);
	return 0;
}

static int cmd_exists(int argc, char **argv)
{
	struct hull_err err = {0};
	bool list = false;
	char *missing = NULL;
	size_t nmissing = 0;
	int c;

	while ((c = getopt(argc, argv, "lv")) != -1) {
		if (c == 'l')
			list = true;
		else if (c == 'v')
			verbose = true;
		else
			return bad_option();
	}
	if (optind >= argc)
		return usage_error("exists: a tag name is needed");
	for (int i = optind; i < argc; i++) {
		struct net_tag t;
		if (net_tag_get(argv[i], &t, &err) == 0)
			continue;
		if (err.code != ENOENT)
			return fail(&err);
		char *n = xasprintf("%s%s%s", missing ? missing : "",
				    missing ? " " : "", argv[i]);
		free(missing);
		missing = n;
		nmissing++;
	}
	if (!nmissing)
		return 0;
	if (list)
		fprintf(stderr, "%s\n", missing);
	else
		fprintf(stderr, "nictagadm: nic tag%s not found: %s\n",
			nmissing > 1 ? "s" : "", missing);
	free(missing);
	return 1;
}

/* Parsable output escapes the delimiter when it is ':' (MACs hold it). */
static void put_field(const char *s, const char *delim, bool first)
{
	if (!first)
		fputs(delim, stdout);
	for (; *s; s++) {
		if (strlen(delim) == 1 && *s == delim[0])
			putchar('\\');
		putchar(*s);
	}
}

static int cmd_list(int argc, char **argv)
{
	struct hull_err err = {0};
	struct net_tag *tags = NULL;
	bool only_stubs = false, no_stubs = false, parsable = false;
	const char *delim = ":";
	size_t n = 0;
	int c;

	while ((c = getopt(argc, argv, "lLpd:v")) != -1) {
		switch (c) {
		case 'l':
			only_stubs = true;
			break;
		case 'L':
			no_stubs = true;
			break;
		case 'p':
			parsable = true;
			break;
		case 'd':
			delim = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			return bad_option();
		}
	}
	if (only_stubs && no_stubs)
		return usage_error("list: -l and -L exclude each other");
	if (optind != argc)
		return usage_error("list: unexpected argument '%s'",
				   argv[optind]);
	if (net_tag_list(&tags, &n, &err))
		return fail(&err);
	if (!parsable)
		printf("%-14s %-18s %-14s %-16s\n", "NAME", "MACADDRESS",
		       "LINK", "TYPE");
	for (size_t i = 0; i < n; i++) {
		const struct net_tag *t = &tags[i];
		const char *mac = t->etherstub ? "-" : t->mac;
		const char *link = t->etherstub ? "-" : t->link;
		const char *type = t->etherstub ? "etherstub" : "normal";
		if ((only_stubs && !t->etherstub) || (no_stubs && t->etherstub))
			continue;
		if (parsable) {
			put_field(t->name, delim, true);
			put_field(mac, delim, false);
			put_field(link, delim, false);
			put_field(type, delim, false);
			putchar('\n');
		} else {
			printf("%-14s %-18s %-14s %-16s\n", t->name, mac, link,
			       type);
		}
	}
	free(tags);
	return 0;
}

static int cmd_vms(int argc, char **argv)
{
	struct hull_err err = {0};
	struct net_tag t;
	json_t *users, *v;
	size_t i;

	if (argc != 2)
		return usage_error("vms: one tag name is needed");
	if (net_tag_get(argv[1], &t, &err))
		return fail(&err);
	users = net_tag_users(argv[1], &err);
	json_array_foreach(users, i, v) printf("%s\n", json_string_value(v));
	json_decref(users);
	return 0;
}

static int cmd_restore(int argc, char **argv)
{
	struct hull_err err = {0};

	if (argc != 1)
		return usage_error("restore: unexpected argument '%s'",
				   argv[1]);
	if (net_tag_restore_all(&err))
		return fail(&err);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int c;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		/* nictagadm has no long options. */
		if (!strncmp(argv[i], "--", 2) && argv[i][2])
			return usage_error("unknown option '%s'", argv[i]);
	}
	opterr = 0; /* our own one-line messages */
	while ((c = getopt(argc, argv, "+hv")) != -1) {
		if (c == 'v') {
			verbose = true;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			return bad_option();
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: 0 re-initialises getopt for the new argv */
	if (!strcmp(cmd, "add"))
		return cmd_add_update(argc, argv, true);
	if (!strcmp(cmd, "update"))
		return cmd_add_update(argc, argv, false);
	if (!strcmp(cmd, "delete"))
		return cmd_delete(argc, argv);
	if (!strcmp(cmd, "exists"))
		return cmd_exists(argc, argv);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc, argv);
	if (!strcmp(cmd, "vms"))
		return cmd_vms(argc, argv);
	if (!strcmp(cmd, "restore"))
		return cmd_restore(argc, argv);
	return usage_error("unknown command '%s'", cmd);
}
