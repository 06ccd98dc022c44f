/*
 * hulladm - the operator's CLI on a head node, in the SmartOS style: one
 * error line on stderr, exit 1 on error and 2 on usage, -j for JSON.
 *
 *   hulladm [-j] [--config FILE] setup [--db sqlite|postgresql://...]
 *           [--listen ADDR:PORT] [--tls|--no-tls] [--cert F --key F]
 *   hulladm user add LOGIN [--email E] [--password-file F]
 *   hulladm user passwd LOGIN --password-file F
 *   hulladm user key-add LOGIN PUBKEY_FILE [--name N]
 *   hulladm package add NAME --memory MiB --disk MiB --vcpus N [--swap MiB]
 *           [--cpu-cap N] [--brand B] [--replication SECONDS
 *           [--replication-keep N]]
 *   hulladm network create|add NAME --subnet CIDR --provision-start IP
 *           --provision-end IP --nic-tag TAG [--gateway IP] [--vlan N]
 *           [--mtu N] [--resolvers IP,...] [--route DEST=GW]...
 *           [--description D] [--public] [--owner LOGIN]
 *   hulladm network list | get NET | delete NET
 *   hulladm address reserve NET [IP] | unreserve NET IP | list NET
 *   hulladm network-pool add NAME --networks NET,... [--description D]
 *           [--owner LOGIN,...] | update POOL [--name N]
 *           [--networks NET,...] [--description D] [--owner LOGIN,...]
 *           | list | get POOL | delete POOL
 *   hulladm image import -m MANIFEST -f FILE
 *   hulladm join-token
 *   hulladm server list | get UUID | reserve UUID | unreserve UUID |
 *           forget UUID
 *
 * The head node is HULL_ROOT's (HULL_ROOT/head), or the one whose
 * config.json --config names.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head/admin.h"
#include "head/migrate.h"
#include "head/replicate.h"
#include "head/networks.h"
#include "head/placecfg.h"
#include "head/placement.h"
#include "head/servers.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/subcmd.h"
#include "lib/xalloc.h"

static bool json_out;
static const char *config_path;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hulladm [-j] [--config FILE] COMMAND ...\n"
		"  setup [--db sqlite|postgresql://...] [--listen ADDR:PORT]\n"
		"        [--tls|--no-tls] [--cert FILE --key FILE]\n"
		"  user add LOGIN [--email E] [--password-file F]\n"
		"  user passwd LOGIN --password-file F\n"
		"  user key-add LOGIN PUBKEY_FILE [--name N]\n"
		"  package add NAME --memory MiB --disk MiB --vcpus N "
		"[--swap MiB]\n"
		"        [--cpu-cap N] [--brand B] [--replication SECONDS\n"
		"        [--replication-keep N]]\n"
		"  network create NAME --subnet CIDR --provision-start IP\n"
		"        --provision-end IP --nic-tag TAG [--gateway IP]\n"
		"        [--vlan N] [--mtu N] [--resolvers IP,...]\n"
		"        [--route DEST=GW]... [--description D] [--public]\n"
		"        [--owner LOGIN]\n"
		"  network list | get NET | delete NET\n"
		"  address reserve NET [IP] | unreserve NET IP | list NET\n"
		"  network-pool add NAME --networks NET,... [--description D]\n"
		"        [--owner LOGIN,...] | update POOL [--name N]\n"
		"        [--networks NET,...] [--description D] "
		"[--owner LOGIN,...]\n"
		"        | list | get POOL | delete POOL\n"
		"  image import -m MANIFEST -f FILE\n"
		"  join-token\n"
		"  server list | get UUID | reserve UUID | unreserve UUID |"
		" forget UUID\n"
		"  placement [show] | set [--spread|--pack] "
		"[--weight-ram|disk|owner|random W]\n"
		"        [--cpu-ratio|--ram-ratio|--disk-ratio R] "
		"[--vm-limit N]\n"
		"  reserve [show] | set --share PERCENT | --largest N | "
		"--none\n"
		"  migration pin VM SERVER | unpin VM | limit VM MBPS\n"
		"  replication set VM --interval SECONDS [--keep N] | list\n"
		"  server evacuate UUID\n");
}

#define usage_error(...) subcmd_usage_error("hulladm", NULL, __VA_ARGS__)

static int fail(const struct hull_err *err)
{
	fprintf(stderr, "hulladm: %s\n", err->msg);
	return 1;
}

static char *config_file(void)
{
	return config_path ? xstrdup(config_path) : head_config_default_path();
}

/* Opens the head node's config and state. */
static int open_head(struct head_config *c, struct store **s,
		     struct hull_err *err)
{
	char *path = config_file();
	int r = head_config_load(path, c, err);
	free(path);
	if (r < 0)
		return r;
	if ((r = store_open(c->db, s, err)) < 0)
		head_config_fini(c);
	return r;
}

static long num(const char *opt, const char *v, bool *bad)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < 0) {
		usage_error("%s %s: not a whole number", opt, v);
		*bad = true;
	}
	return n;
}

/* The record as JSON with -j, else the one-line message. */
#define print_rec(rec, ...)                                                    \
	(json_out ? (hull_json_print(rec), 0) : printf(__VA_ARGS__))

static int cmd_setup(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"listen", required_argument, NULL, 'l'},
	    {"tls", no_argument, NULL, 't'},
	    {"no-tls", no_argument, NULL, 'T'},
	    {"cert", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {NULL, 0, NULL, 0},
	};
	char *path = config_file();
	struct head_setup o = {.config = path, .tls = -1};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.db = optarg;
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 't':
			o.tls = 1;
			break;
		case 'T':
			o.tls = 0;
			break;
		case 'c':
			o.cert = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		default:
			free(path);
			return usage_error("setup: bad option");
		}
	}
	if (optind != argc) {
		free(path);
		return usage_error("setup: unexpected argument %s",
				   argv[optind]);
	}
	struct hull_err err = {0};
	json_t *out = NULL;
	int r = head_setup_run(&o, &out, &err);
	free(path);
	if (r < 0)
		return fail(&err);
	if (json_out)
		hull_json_print(out);
	else
		printf("head node: %s (state: %s, datacenter %s)\n"
		       "admin account: %s\n"
		       "to join a compute node, run there (the token works "
		       "once):\n  %s\n",
		       hull_json_str(out, "url", ""),
		       hull_json_str(out, "db", ""),
		       hull_json_str(out, "datacenter", ""),
		       hull_json_str(out, "admin", ""),
		       hull_json_str(out, "command", ""));
	json_decref(out);
	return 0;
}

static char *read_small(const char *path, size_t max, struct hull_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	if (hull_file_read(path, max, &buf, &len, err) < 0)
		return NULL;
	buf = xrealloc(buf, len + 1);
	buf[len] = '\0';
	return buf;
}

static int cmd_user(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"email", required_argument, NULL, 'e'},
	    {"password-file", required_argument, NULL, 'p'},
	    {"name", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	if (argc < 2)
		return usage_error("user: add or key-add");
	const char *sub = argv[1];
	const char *email = NULL, *pwfile = NULL, *name = NULL;
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			email = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			return usage_error("user: bad option");
		}
	}
	bool add = !strcmp(sub, "add"), keyadd = !strcmp(sub, "key-add");
	bool passwd = !strcmp(sub, "passwd");
	if ((!add && !keyadd && !passwd) || argc - optind != (keyadd ? 2 : 1) ||
	    ((add || passwd) && name) || (keyadd && (email || pwfile)) ||
	    (passwd && (email || !pwfile)))
		return usage_error("user add LOGIN [--email E] "
				   "[--password-file F] | user passwd LOGIN "
				   "--password-file F | user key-add LOGIN "
				   "PUBKEY_FILE [--name N]");
	const char *login = argv[optind];
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	char *pw = NULL;
	json_t *rec = NULL, *acct = NULL;
	int r = -1;
	if (pwfile) {
		if (!(pw = read_small(pwfile, 4096, &err)))
			return fail(&err);
		pw[strcspn(pw, "\n")] = '\0';
		if (!*pw) {
			free(pw);
			return usage_error("--password-file %s is empty",
					   pwfile);
		}
	}
	if (open_head(&cfg, &s, &err) < 0)
		goto out;
	if (passwd) {
		if ((r = head_user_passwd(s, login, pw, &err)) == 0) {
			rec = json_pack("{s:s}", "login", login);
			print_rec(rec, "changed the password of %s\n", login);
		}
		goto out;
	}
	if (add) {
		if ((r = head_user_add(s, login, email, pw, &rec, &err)) == 0) {
			json_object_del(rec, "password");
			print_rec(rec, "added account %s (%s)\n", login,
				  hull_json_str(rec, "uuid", ""));
		}
		goto out;
	}
	char *line = NULL;
	if ((r = head_account_by_login(s, login, &acct, &err)) < 0 ||
	    !(line = read_small(argv[optind + 1], 16384, &err))) {
		r = -1;
		goto out;
	}
	r = head_key_add(s, hull_json_str(acct, "uuid", ""), line, strlen(line),
			 name, &rec, &err);
	free(line);
	if (r < 0) {
		hull_err_prefix(&err, "%s", argv[optind + 1]);
		goto out;
	}
	print_rec(rec, "added key %s to %s\n",
		  hull_json_str(rec, "fingerprint", ""), login);
out:
	free(pw);
	json_decref(rec);
	json_decref(acct);
	if (s) {
		store_close(s);
		head_config_fini(&cfg);
	}
	return r < 0 ? fail(&err) : 0;
}

static int cmd_package(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"memory", required_argument, NULL, 'm'},
	    {"disk", required_argument, NULL, 'd'},
	    {"vcpus", required_argument, NULL, 'v'},
	    {"swap", required_argument, NULL, 's'},
	    {"cpu-cap", required_argument, NULL, 'c'},
	    {"brand", required_argument, NULL, 'b'},
	    {"replication", required_argument, NULL, 'r'},
	    {"replication-keep", required_argument, NULL, 'k'},
	    {NULL, 0, NULL, 0},
	};
	struct head_package p = {
	    .memory = -1, .disk = -1, .vcpus = -1, .swap = -1, .cpu_cap = -1};
	if (argc < 2 || strcmp(argv[1], "add"))
		return usage_error("package add NAME --memory MiB --disk MiB "
				   "--vcpus N");
	optind = 2;
	bool bad = false;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			p.memory = num("--memory", optarg, &bad);
			break;
		case 'd':
			p.disk = num("--disk", optarg, &bad);
			break;
		case 'v':
			p.vcpus = num("--vcpus", optarg, &bad);
			break;
		case 's':
			p.swap = num("--swap", optarg, &bad);
			break;
		case 'c':
			p.cpu_cap = num("--cpu-cap", optarg, &bad);
			break;
		case 'b':
			p.brand = optarg;
			break;
		case 'r':
			p.replication = num("--replication", optarg, &bad);
			break;
		case 'k':
			p.replication_keep =
			    num("--replication-keep", optarg, &bad);
			break;
		default:
			return usage_error("package: bad option");
		}
		if (bad)
			return 2;
	}
	if (argc - optind != 1)
		return usage_error("package add NAME: one name");
	if (p.memory < 0 || p.disk < 0 || p.vcpus < 0)
		return usage_error("package add: --memory, --disk and --vcpus "
				   "are required");
	p.name = argv[optind];
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	json_t *rec = NULL;
	if (open_head(&cfg, &s, &err) < 0)
		return fail(&err);
	int r = head_package_add(s, &p, &rec, &err);
	if (r == 0)
		print_rec(rec, "added package %s (%s)\n", p.name,
			  hull_json_str(rec, "id", ""));
	json_decref(rec);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

/* "DEST=GW" into routes; false when it is not of that form. */
static bool route_add(json_t *routes, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1] || strchr(eq + 1, '='))
		return false;
	char *dest = xstrndup(arg, (size_t)(eq - arg));
	json_object_set_new(routes, dest, json_string(eq + 1));
	free(dest);
	return true;
}

static int network_create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"subnet", required_argument, NULL, 's'},
	    {"gateway", required_argument, NULL, 'g'},
	    {"provision-start", required_argument, NULL, 'a'},
	    {"provision-end", required_argument, NULL, 'z'},
	    {"nic-tag", required_argument, NULL, 't'},
	    {"vlan", required_argument, NULL, 'v'},
	    {"mtu", required_argument, NULL, 'm'},
	    {"resolvers", required_argument, NULL, 'r'},
	    {"route", required_argument, NULL, 'R'},
	    {"description", required_argument, NULL, 'd'},
	    {"public", no_argument, NULL, 'p'},
	    {"owner", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	json_t *in = json_object(), *res = json_array(),
	       *routes = json_object();
	const char *owner = NULL;
	bool public = false, bad = false;
	int c, rc = 0;
	optind = 2;
	while (!rc && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		static const char *const field[128] = {
		    ['s'] = "subnet",
		    ['g'] = "gateway",
		    ['a'] = "provision_start_ip",
		    ['z'] = "provision_end_ip",
		    ['t'] = "nic_tag",
		    ['d'] = "description"};
		if (c > 0 && c < 128 && field[c]) {
			json_object_set_new(in, field[c], json_string(optarg));
			continue;
		}
		switch (c) {
		case 'v':
		case 'm':
			json_object_set_new(
			    in, c == 'v' ? "vlan_id" : "mtu",
			    json_integer(num(c == 'v' ? "--vlan" : "--mtu",
					     optarg, &bad)));
			if (bad)
				rc = 2;
			break;
		case 'r': {
			char *copy = xstrdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				json_array_append_new(res, json_string(t));
			free(copy);
			break;
		}
		case 'R':
			if (!route_add(routes, optarg))
				rc = usage_error("--route %s: not DEST=GATEWAY",
						 optarg);
			break;
		case 'p':
			public
			= true;
			break;
		case 'o':
			owner = optarg;
			break;
		default:
			rc = usage_error("network create: bad option");
		}
	}
	if (!rc && argc - optind != 1)
		rc = usage_error("network create NAME: one name");
	if (!rc && (!json_object_get(in, "subnet") ||
		    !json_object_get(in, "provision_start_ip") ||
		    !json_object_get(in, "provision_end_ip") ||
		    !json_object_get(in, "nic_tag")))
		rc = usage_error("network create: --subnet, --provision-start, "
				 "--provision-end and --nic-tag are required");
	if (rc) {
		json_decref(in);
		json_decref(res);
		json_decref(routes);
		return rc;
	}
	json_object_set_new(in, "name", json_string(argv[optind]));
	json_object_set_new(in, "resolvers", res);
	json_object_set_new(in, "routes", routes);
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	json_t *rec = NULL, *acct = NULL;
	if (open_head(&cfg, &s, &err) < 0) {
		json_decref(in);
		return fail(&err);
	}
	int r = 0;
	if (owner && (r = head_account_by_login(s, owner, &acct, &err)) == 0)
		owner = hull_json_str(acct, "uuid", NULL);
	if (r == 0 && (r = head_network_create(s, in, owner, false, public,
					       &rec, &err)) == 0)
		print_rec(rec, "added network %s (%s)\n",
			  hull_json_str(rec, "name", ""),
			  hull_json_str(rec, "id", ""));
	json_decref(in);
	json_decref(rec);
	json_decref(acct);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

/* network list | get NET | delete NET, and address reserve NET [IP] |
 * unreserve NET IP | list NET. */
static int network_other(int argc, char **argv, bool address)
{
	const char *verb = argv[1];
	bool list = !strcmp(verb, "list");
	int want = address ? (!strcmp(verb, "unreserve") ? 4
			      : !strcmp(verb, "reserve") ? -1
							 : 3)
			   : (list ? 2 : 3);
	if ((want > 0 && argc != want) || (want < 0 && (argc < 3 || argc > 4)))
		return usage_error("%s %s: wrong arguments", argv[0], verb);
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	if (open_head(&cfg, &s, &err) < 0)
		return fail(&err);
	json_t *net = NULL, *out = NULL;
	int r = 0;
	if (!address && list) {
		r = store_find(s, "networks", NULL, NULL, &out, &err);
		if (r == 0 && !json_out) {
			size_t i;
			json_t *n;
			printf("%-36s  %-16s  %-20s  %-5s  %s\n", "ID", "NAME",
			       "SUBNET", "VLAN", "OWNER");
			json_array_foreach(out, i, n) printf(
			    "%-36s  %-16s  %-20s  %-5" JSON_INTEGER_FORMAT
			    "  %s\n",
			    hull_json_str(n, "id", ""),
			    hull_json_str(n, "name", ""),
			    hull_json_str(n, "subnet", ""),
			    hull_json_int(n, "vlan_id", 0),
			    hull_json_bool(n, "public", false)
				? "(public)"
				: hull_json_str(n, "owner", "-"));
		} else if (r == 0) {
			hull_json_print(out);
		}
		goto out;
	}
	if ((r = head_network_lookup(s, NULL, argv[2], &net, &err)) < 0)
		goto out;
	const char *nid = hull_json_str(net, "id", "");
	char ip[INET6_ADDRSTRLEN];
	if (!address && !strcmp(verb, "get")) {
		hull_json_print(net);
	} else if (!address && !strcmp(verb, "delete")) {
		if ((r = head_network_delete(s, nid, &err)) == 0 && !json_out)
			printf("deleted network %s (%s)\n",
			       hull_json_str(net, "name", ""), nid);
	} else if (address && list) {
		if ((r = head_ip_list(s, net, &out, &err)) == 0)
			hull_json_print(out);
	} else if (address && !strcmp(verb, "reserve")) {
		if ((r = head_ip_reserve(s, net, argc == 4 ? argv[3] : NULL, ip,
					 &err)) == 0)
			printf(json_out ? "{\"ip\": \"%s\"}\n"
					: "reserved %s\n",
			       ip);
	} else if (address && !strcmp(verb, "unreserve")) {
		if ((r = head_ip_unreserve(s, net, argv[3], &err)) == 0 &&
		    !json_out)
			printf("unreserved %s\n", argv[3]);
	} else {
		r = usage_error("%s: unknown subcommand %s", argv[0], verb);
		json_decref(net);
		store_close(s);
		head_config_fini(&cfg);
		return r;
	}
out:
	json_decref(net);
	json_decref(out);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_network(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("network create|list|get|delete ...");
	if (!strcmp(argv[1], "add") || !strcmp(argv[1], "create"))
		return network_create(argc, argv);
	return network_other(argc, argv, false);
}

/* A comma list as a JSON array of strings. */
static json_t *comma_list(const char *arg)
{
	json_t *a = json_array();
	char *copy = xstrdup(arg), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(t));
	free(copy);
	return a;
}

/* network-pool add NAME --networks N1,N2 [--description D]
 * [--owner LOGIN,...] | update POOL [--name N] [--networks ...]
 * [--description D] [--owner LOGIN,...|""] | list | get POOL |
 * delete POOL (NAPI's network pools). */
static int cmd_network_pool(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"networks", required_argument, NULL, 'n'},
	    {"description", required_argument, NULL, 'd'},
	    {"owner", required_argument, NULL, 'o'},
	    {"name", required_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0},
	};
	if (argc < 2)
		return usage_error(
		    "network-pool add|list|get|update|delete ...");
	const char *verb = argv[1];
	bool add = !strcmp(verb, "add") || !strcmp(verb, "create");
	bool update = !strcmp(verb, "update");
	bool list = !strcmp(verb, "list");
	if (!add && !update && !list && strcmp(verb, "get") &&
	    strcmp(verb, "delete"))
		return usage_error("network-pool: unknown subcommand %s", verb);
	json_t *in = json_object();
	const char *owners = NULL;
	int c, rc = 0;
	optind = 2;
	while ((add || update) && !rc &&
	       (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			json_object_set_new(in, "networks", comma_list(optarg));
			break;
		case 'd':
			json_object_set_new(in, "description",
					    json_string(optarg));
			break;
		case 'o':
			owners = optarg;
			break;
		case 'N':
			if (!update)
				rc = usage_error("network-pool %s: bad option",
						 verb);
			else
				json_object_set_new(in, "name",
						    json_string(optarg));
			break;
		default:
			rc = usage_error("network-pool %s: bad option", verb);
		}
	}
	int want = list ? 0 : 1;
	if (!rc && argc - optind != want)
		rc = usage_error("network-pool %s: %s", verb,
				 list  ? "no arguments"
				 : add ? "one name"
				       : "one pool (id or name)");
	if (!rc && add && !json_object_get(in, "networks"))
		rc = usage_error("network-pool add: --networks is required");
	if (rc) {
		json_decref(in);
		return rc;
	}
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	if (open_head(&cfg, &s, &err) < 0) {
		json_decref(in);
		return fail(&err);
	}
	json_t *pool = NULL, *rec = NULL, *out = NULL;
	int r = 0;
	if (owners) {
		/* account logins (or uuids) to the pool's owner_uuids */
		json_t *names = comma_list(owners), *uuids = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(names, i, v)
		{
			json_t *acct = NULL;
			if (r == 0 &&
			    (r = head_account_by_login(s, json_string_value(v),
						       &acct, &err)) == 0)
				json_array_append(
				    uuids, json_object_get(acct, "uuid"));
			json_decref(acct);
		}
		json_decref(names);
		json_object_set_new(in, "owner_uuids", uuids);
	}
	if (r < 0) {
	} else if (add) {
		json_object_set_new(in, "name", json_string(argv[optind]));
		if ((r = head_pool_create(s, in, &rec, &err)) == 0)
			print_rec(rec, "added network pool %s (%s)\n",
				  hull_json_str(rec, "name", ""),
				  hull_json_str(rec, "id", ""));
	} else if (list) {
		r = store_find(s, "network_pools", NULL, NULL, &out, &err);
		if (r == 0 && !json_out) {
			size_t i;
			json_t *p;
			printf("%-36s  %-16s  %-6s  %-10s  %s\n", "ID", "NAME",
			       "FAMILY", "NIC_TAG", "NETWORKS");
			json_array_foreach(out, i, p)
			{
				printf("%-36s  %-16s  %-6s  %-10s  ",
				       hull_json_str(p, "id", ""),
				       hull_json_str(p, "name", ""),
				       hull_json_str(p, "family", ""),
				       hull_json_str(p, "nic_tag", ""));
				size_t k;
				json_t *id;
				json_array_foreach(
				    json_object_get(p, "networks"), k, id)
				{
					json_t *n = NULL;
					head_network_lookup(
					    s, NULL,
					    json_string_value(id) ?: "", &n,
					    NULL);
					printf("%s%s", k ? "," : "",
					       n ? hull_json_str(n, "name", "")
						 : json_string_value(id));
					json_decref(n);
				}
				printf("\n");
			}
		} else if (r == 0) {
			hull_json_print(out);
		}
	} else if ((r = head_pool_lookup(s, NULL, argv[optind], &pool, &err)) <
		   0) {
	} else if (!strcmp(verb, "get")) {
		hull_json_print(pool);
	} else if (update) {
		if ((r = head_pool_update(s, pool, in, &rec, &err)) == 0)
			print_rec(rec, "updated network pool %s (%s)\n",
				  hull_json_str(rec, "name", ""),
				  hull_json_str(rec, "id", ""));
	} else {
		const char *pid = hull_json_str(pool, "id", "");
		if ((r = head_pool_delete(s, pid, &err)) == 0 && !json_out)
			printf("deleted network pool %s (%s)\n",
			       hull_json_str(pool, "name", ""), pid);
	}
	json_decref(in);
	json_decref(pool);
	json_decref(rec);
	json_decref(out);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_address(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("address reserve|unreserve|list NET ...");
	return network_other(argc, argv, true);
}

static int cmd_image(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "import"))
		return usage_error("image import -m MANIFEST -f FILE");
	const char *m = NULL, *f = NULL;
	optind = 2;
	int c;
	while ((c = getopt(argc, argv, "m:f:")) != -1) {
		switch (c) {
		case 'm':
			m = optarg;
			break;
		case 'f':
			f = optarg;
			break;
		default:
			return usage_error("image import: bad option");
		}
	}
	if (!m || !f || optind != argc)
		return usage_error("image import -m MANIFEST -f FILE");
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	json_t *rec = NULL;
	if (open_head(&cfg, &s, &err) < 0)
		return fail(&err);
	int r = head_image_import(s, &cfg, m, f, &rec, &err);
	if (r == 0)
		print_rec(rec, "imported image %s (%s)\n",
			  hull_json_str(rec, "uuid", ""),
			  hull_json_str(rec, "name", ""));
	json_decref(rec);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_join_token(int argc, char **argv)
{
	if (argc != 1)
		return usage_error("join-token takes no arguments");
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	char *token = NULL;
	if (open_head(&cfg, &s, &err) < 0)
		return fail(&err);
	int r = head_join_token_new(s, &token, &err);
	if (r == 0) {
		char *url = head_url(&cfg, -1);
		if (json_out) {
			json_t *j =
			    json_pack("{s:s, s:s}", "url", url, "token", token);
			hull_json_print(j);
			json_decref(j);
		} else {
			printf("%s\n", token);
		}
		free(url);
	}
	free(token);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

/* hulladm server: CNAPI's server list/get and the operator's reserve
 * (placement skips a reserved server) and forget. */
static int cmd_server(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	bool list = sub && !strcmp(sub, "list");
	if (!sub || (list && argc != 2) || (!list && argc != 3))
		return usage_error("usage: server list | get|reserve|unreserve"
				   "|forget|evacuate UUID");
	if (!list && strcmp(sub, "get") && strcmp(sub, "reserve") &&
	    strcmp(sub, "unreserve") && strcmp(sub, "forget") &&
	    strcmp(sub, "evacuate"))
		return usage_error("unknown server command %s", sub);
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	if (open_head(&cfg, &s, &err) < 0)
		return fail(&err);
	int r = 0;
	int64_t now = head_now_ms();
	if (list) {
		json_t *all = NULL, *views = json_array();
		if ((r = store_find(s, "servers", NULL, NULL, &all, &err)) ==
		    0) {
			size_t i;
			json_t *v;
			json_array_foreach(all, i, v) json_array_append_new(
			    views, server_view(s, v, now));
		}
		if (r == 0 && json_out) {
			hull_json_print(views);
		} else if (r == 0) {
			printf("%-36s  %-16s  %-7s  %-8s  %8s  %10s  %s\n",
			       "UUID", "HOSTNAME", "STATUS", "RESERVED", "RAM",
			       "UNRESERVED", "INSTANCES");
			size_t i;
			json_t *v;
			json_array_foreach(views, i, v) printf(
			    "%-36s  %-16s  %-7s  %-8s  %8lld  %10lld  %zu\n",
			    hull_json_str(v, "uuid", "-"),
			    hull_json_str(v, "hostname", "-"),
			    hull_json_str(v, "status", "-"),
			    hull_json_bool(v, "reserved", false) ? "true"
								 : "false",
			    (long long)hull_json_int(v, "ram", 0),
			    (long long)hull_json_int(v, "unreserved_ram", 0),
			    json_object_size(json_object_get(v, "vms")));
		}
		json_decref(all);
		json_decref(views);
	} else if (!strcmp(sub, "get")) {
		json_t *srv = NULL;
		r = store_get(s, "servers", argv[2], &srv, NULL, &err);
		if (r == -ENOENT)
			r = hull_err_set(&err, ENOENT, "server %.40s not found",
					 argv[2]);
		if (r == 0) {
			json_t *v = server_view(s, srv, now);
			hull_json_print(v);
			json_decref(v);
		}
		json_decref(srv);
	} else if (!strcmp(sub, "evacuate")) {
		int n = 0;
		r = replica_evacuate(s, argv[2], &n, &err);
		if (r == 0 && !json_out)
			printf("Server %s: %d instances starting on their "
			       "standbys\n",
			       argv[2], n);
	} else if (!strcmp(sub, "forget")) {
		r = server_forget(s, argv[2], &err);
		if (r == 0 && !json_out)
			printf("Forgot server %s\n", argv[2]);
	} else {
		bool on = !strcmp(sub, "reserve");
		r = server_reserve(s, argv[2], on, &err);
		if (r == 0 && !json_out)
			printf("Server %s %s\n", argv[2],
			       on ? "reserved" : "unreserved");
	}
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

/* A number for the option --opt. */
static bool real(const char *opt, const char *v, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(v, &end);
	if (!*v || *end || errno) {
		usage_error("--%s %s: not a number", opt, v);
		return false;
	}
	return true;
}

static int cmd_placement(int argc, char **argv)
{
	/* Each numeric option: its section of the settings and key. */
	static const struct {
		const char *opt, *section, *key;
	} nums[] = {{"weight-ram", "weights", "ram"},
		    {"weight-disk", "weights", "disk"},
		    {"weight-owner", "weights", "owner"},
		    {"weight-random", "weights", "random"},
		    {"cpu-ratio", "overprovision_ratios", "cpu"},
		    {"ram-ratio", "overprovision_ratios", "ram"},
		    {"disk-ratio", "overprovision_ratios", "disk"}};
	enum { N_NUMS = sizeof(nums) / sizeof(*nums) };
	struct option opts[N_NUMS + 4] = {
	    {"spread", no_argument, NULL, 's'},
	    {"pack", no_argument, NULL, 'p'},
	    {"vm-limit", required_argument, NULL, 'l'}};
	for (int i = 0; i < N_NUMS; i++)
		opts[3 + i] =
		    (struct option){nums[i].opt, required_argument, NULL, 'n'};
	bool show = argc == 1 || !strcmp(argv[1], "show");
	if (!show && strcmp(argv[1], "set"))
		return usage_error("usage: placement [show] | set [--spread|"
				   "--pack] [--weight-ram|disk|owner|random W] "
				   "[--cpu-|ram-|disk-ratio R] [--vm-limit N]");
	json_t *patch = json_object();
	int c, at = 0;
	optind = 2;
	while (!show && (c = getopt_long(argc, argv, "", opts, &at)) != -1) {
		double d;
		bool bad = false;
		if (c == 's' || c == 'p') {
			json_object_set_new(
			    patch, "mode",
			    json_string(c == 's' ? "spread" : "pack"));
		} else if (c == 'l') {
			long n = num("--vm-limit", optarg, &bad);
			json_object_set_new(patch, "vm_limit", json_integer(n));
		} else if (c == 'n' && real(opts[at].name, optarg, &d)) {
			const char *sec = nums[at - 3].section;
			if (!json_object_get(patch, sec))
				json_object_set_new(patch, sec, json_object());
			json_object_set_new(json_object_get(patch, sec),
					    nums[at - 3].key, json_real(d));
		} else {
			if (c != 'n')
				usage_error("unknown option '%s'",
					    argv[optind - 1]);
			bad = true;
		}
		if (bad) {
			json_decref(patch);
			return 2;
		}
	}
	if (!show && optind != argc) {
		json_decref(patch);
		return usage_error("placement set: unexpected %s",
				   argv[optind]);
	}
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	if (open_head(&cfg, &s, &err) < 0) {
		json_decref(patch);
		return fail(&err);
	}
	int r = show ? 0 : placement_cfg_update(s, patch, &err);
	struct placement_cfg pc;
	if (r == 0)
		r = placement_cfg_load(s, &pc, &err);
	if (r == 0) {
		json_t *j = placement_cfg_json(&pc);
		if (json_out)
			hull_json_print(j);
		else
			printf(
			    "mode %s; weights ram %g disk %g owner %g random "
			    "%g; overprovision cpu %g ram %g disk %g; "
			    "vm limit %ld\n",
			    json_string_value(json_object_get(j, "mode")),
			    pc.w_ram, pc.w_disk, pc.w_owner, pc.w_random,
			    pc.ratio_cpu, pc.ratio_ram, pc.ratio_disk,
			    pc.vm_limit);
		json_decref(j);
	}
	json_decref(patch);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_reserve(int argc, char **argv)
{
	bool show = argc == 1 || (argc == 2 && !strcmp(argv[1], "show"));
	json_t *patch = NULL;
	double d;
	bool bad = false;
	if (!show && argc == 4 && !strcmp(argv[1], "set") &&
	    !strcmp(argv[2], "--share") && real("share", argv[3], &d))
		patch = json_pack("{s:{s:f}}", "reserve", "share", d / 100);
	else if (!show && argc == 4 && !strcmp(argv[1], "set") &&
		 !strcmp(argv[2], "--largest")) {
		long n = num("--largest", argv[3], &bad);
		if (bad)
			return 2;
		patch =
		    json_pack("{s:{s:I}}", "reserve", "largest", (json_int_t)n);
	} else if (!show && argc == 3 && !strcmp(argv[1], "set") &&
		   !strcmp(argv[2], "--none"))
		patch = json_pack("{s:n}", "reserve");
	else if (!show)
		return usage_error("usage: reserve [show] | set --share PERCENT"
				   " | --largest N | --none");
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	if (open_head(&cfg, &s, &err) < 0) {
		json_decref(patch);
		return fail(&err);
	}
	int r = patch ? placement_cfg_update(s, patch, &err) : 0;
	json_t *cap = NULL;
	if (r == 0)
		r = placement_capacity(s, &cap, &err);
	if (r == 0 && json_out) {
		hull_json_print(cap);
	} else if (r == 0) {
		printf("%-8s  %12s  %12s  %12s  %12s\n", "RESOURCE", "TOTAL",
		       "RESERVE", "USED", "FREE");
		static const char *const names[] = {"ram", "cpu", "disk"};
		static const char *const units[] = {"RAM (MiB)", "CPU (cap)",
						    "DISK (MiB)"};
		for (int i = 0; i < 3; i++) {
			json_t *v = json_object_get(cap, names[i]);
			printf("%-8s  %12lld  %12lld  %12lld  %12lld\n",
			       units[i],
			       (long long)hull_json_int(v, "total", 0),
			       (long long)hull_json_int(v, "reserve", 0),
			       (long long)hull_json_int(v, "used", 0),
			       (long long)hull_json_int(v, "free", 0));
		}
	}
	json_decref(cap);
	json_decref(patch);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

/* hulladm replication: disaster recovery's policies (replicate.h). */
static int cmd_replication(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	bool list = !strcmp(sub, "list");
	long interval = 0, keep = REPLICA_KEEP;
	if (!list) {
		if (strcmp(sub, "set") || argc < 3)
			return usage_error(
			    "usage: replication set VM --interval "
			    "SECONDS [--keep N] | list");
		for (int i = 3; i < argc; i++) {
			long *dst = !strcmp(argv[i], "--interval") ? &interval
				    : !strcmp(argv[i], "--keep")   ? &keep
								   : NULL;
			char *end = NULL;
			if (!dst || i + 1 == argc)
				return usage_error("replication set: bad "
						   "option %s",
						   argv[i]);
			*dst = strtol(argv[++i], &end, 10);
			if (*end || *dst <= 0)
				return usage_error("%s %s: not a positive "
						   "whole number",
						   argv[i - 1], argv[i]);
		}
		if (!interval)
			return usage_error("replication set needs --interval");
	} else if (argc != 2) {
		return usage_error("usage: replication list");
	}
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	if (open_head(&cfg, &s, &err) < 0)
		return fail(&err);
	json_t *out = NULL;
	int r = list ? replica_list(s, &out, &err)
		     : replica_set(s, argv[2], interval, keep, &out, &err);
	if (r == 0 && json_out) {
		hull_json_print(out);
	} else if (r == 0 && list) {
		printf("%-36s  %-36s  %-9s  %8s  %4s  %-24s  %s\n", "VM",
		       "STANDBY", "STATE", "INTERVAL", "KEEP", "LAST REPLICA",
		       "ERROR");
		size_t i;
		json_t *v;
		json_array_foreach(out, i, v)
		    printf("%-36s  %-36s  %-9s  %8lld  %4lld  %-24s  %s\n",
			   hull_json_str(v, "vm", "-"),
			   hull_json_str(v, "standby", "-"),
			   hull_json_str(v, "state", "-"),
			   (long long)hull_json_int(v, "interval_s", 0),
			   (long long)hull_json_int(v, "keep", REPLICA_KEEP),
			   hull_json_str(v, "last_replica_at", "-"),
			   hull_json_str(v, "error", "-"));
	} else if (r == 0) {
		printf("Instance %s replicates to server %s every %ld s\n",
		       argv[2], hull_json_str(out, "standby", ""), interval);
	}
	json_decref(out);
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

/* hulladm migration: the operator's side of a warm migration: the
 * target of the next begin (VMAPI's override_server_uuid) and a
 * bandwidth cap (cn-agent's zfs_send_mbps_limit, megabits a second). */
static int cmd_migration(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	bool pin = !strcmp(sub, "pin"), unpin = !strcmp(sub, "unpin"),
	     limit = !strcmp(sub, "limit");
	if ((!pin && !unpin && !limit) || argc != (unpin ? 3 : 4))
		return usage_error("usage: migration pin VM SERVER | unpin VM "
				   "| limit VM MBPS");
	long mbps = 0;
	if (limit) {
		char *end;
		mbps = strtol(argv[3], &end, 10);
		if (*end || end == argv[3] || mbps < 0)
			return usage_error("limit %s: not a whole number",
					   argv[3]);
	}
	struct hull_err err = {0};
	struct head_config cfg;
	struct store *s = NULL;
	if (open_head(&cfg, &s, &err) < 0)
		return fail(&err);
	int r = limit ? migrate_limit(s, argv[2], mbps, &err)
		      : migrate_pin(s, argv[2], pin ? argv[3] : NULL, &err);
	if (r == 0 && !json_out) {
		if (limit)
			printf("Migration of %s limited to %ld Mbit/s\n",
			       argv[2], mbps);
		else if (pin)
			printf("Next migration of %s goes to server %s\n",
			       argv[2], argv[3]);
		else
			printf("Migration of %s unpinned\n", argv[2]);
	}
	store_close(s);
	head_config_fini(&cfg);
	return r < 0 ? fail(&err) : 0;
}

int main(int argc, char **argv)
{
	opterr = 0; /* the subcommands print one line of their own */
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j")) {
			json_out = true;
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config_path = argv[++i];
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			return usage_error("unknown option '%s' (see --help)",
					   argv[i]);
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	/* -j may also come after the command (SmartOS tools take both). */
	int n = 0;
	char **args = xcalloc((size_t)(argc - i + 1), sizeof(char *));
	for (int k = i; k < argc; k++) {
		if (!strcmp(argv[k], "-j"))
			json_out = true;
		else
			args[n++] = argv[k];
	}
	const char *cmd = args[0];
	int r;
	if (!strcmp(cmd, "setup"))
		r = cmd_setup(n, args);
	else if (!strcmp(cmd, "user"))
		r = cmd_user(n, args);
	else if (!strcmp(cmd, "package"))
		r = cmd_package(n, args);
	else if (!strcmp(cmd, "network"))
		r = cmd_network(n, args);
	else if (!strcmp(cmd, "address"))
		r = cmd_address(n, args);
	else if (!strcmp(cmd, "network-pool"))
		r = cmd_network_pool(n, args);
	else if (!strcmp(cmd, "image"))
		r = cmd_image(n, args);
	else if (!strcmp(cmd, "join-token"))
		r = cmd_join_token(n, args);
	else if (!strcmp(cmd, "server"))
		r = cmd_server(n, args);
	else if (!strcmp(cmd, "migration"))
		r = cmd_migration(n, args);
	else if (!strcmp(cmd, "replication"))
		r = cmd_replication(n, args);
	else if (!strcmp(cmd, "placement"))
		r = cmd_placement(n, args);
	else if (!strcmp(cmd, "reserve"))
		r = cmd_reserve(n, args);
	else
		r = usage_error("unknown command %s", cmd);
	free(args);
	return r;
}
