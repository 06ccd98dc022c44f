/*
 * hull - set up the pool (`hull init`, `hull fini`) and work on its
 * datasets by hand (`hull pool ...`, the operator's `zfs`). See docs/hull.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fw/nft.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/nft.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "net/antispoof.h"
#include "pool/init.h"
#include "pool/pool.h"
#include "pool/size.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: hull [--help] [--version] COMMAND [ARGS...]\n"
    "\n"
    "  init [--backend btrfs|dir] [--size SIZE] [--file PATH | --device DEV]\n"
    "       [--quota simple|full|none]\n"
    "                          make (or mount again) the pool at the root\n"
    "  fini                    unmount the pool; its data stays in the file\n"
    "  pool list [-j] [-p] [-H] [-t filesystem|snapshot] [DATASET]\n"
    "  pool create DATASET\n"
    "  pool snapshot DATASET@SNAP\n"
    "  pool clone DATASET@SNAP DATASET\n"
    "  pool rollback DATASET@SNAP\n"
    "  pool destroy DATASET|DATASET@SNAP\n"
    "  pool rename DATASET NEWNAME\n"
    "  pool quota DATASET SIZE|none\n"
    "  pool send [-i DATASET@BASE] DATASET@SNAP > STREAM\n"
    "  pool receive DATASET < STREAM\n"
    "  pool usage [-j]\n"
    "\n"
    "The pool root is /zones, or $HULL_ROOT when set.\n";

static int fail(struct hull_err *err)
{
	fprintf(stderr, "hull: %s\n", err->msg);
	return 1;
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hull: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see hull --help)\n");
	va_end(ap);
	return EXIT_USAGE;
}

/* Options end at the first operand; leftover operands are counted here. */
static int need_args(int argc, int first, int n, const char *cmd)
{
	if (argc - first != n)
		return usage_error("%s: wrong number of arguments", cmd);
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"backend", required_argument, NULL, 'b'},
	    {"size", required_argument, NULL, 's'},
	    {"file", required_argument, NULL, 'f'},
	    {"device", required_argument, NULL, 'd'},
	    {"quota", required_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct pool_init_opts o = {.backend = POOL_BACKEND_BTRFS};
	int c;
	while ((c = getopt_long(argc, argv, "+b:s:f:d:q:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'b':
			if (pool_backend_parse(optarg, &o.backend) < 0)
				return usage_error("init: unknown backend '%s'",
						   optarg);
			o.backend_set = true;
			break;
		case 's':
			if (pool_size_parse(optarg, &o.size) < 0)
				return usage_error("init: not a size: '%s'",
						   optarg);
			break;
		case 'f':
			o.file = optarg;
			break;
		case 'd':
			o.device = optarg;
			break;
		case 'q':
			if (pool_quota_mode_parse(optarg, &o.quota) < 0 ||
			    o.quota == POOL_QUOTA_AUTO)
				return usage_error(
				    "init: --quota takes simple, "
				    "full or none, not '%s'",
				    optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error("init: %s", "bad option");
		}
	}
	if (optind != argc)
		return usage_error("init: unexpected argument '%s'",
				   argv[optind]);
	struct hull_err err = {0};
	enum pool_init_result res;
	if (pool_init(&o, &res, &err) < 0)
		return fail(&err);
	static const char *const said[] = {
	    [POOL_INIT_CREATED] = "created",
	    [POOL_INIT_MOUNTED] = "mounted",
	    [POOL_INIT_ALREADY] = "already initialised",
	};
	printf("hull: pool at %s %s\n", hull_root(), said[res]);
	return 0;
}

static int cmd_fini(int argc, char **argv)
{
	if (argc != 1)
		return usage_error("fini: %s", "takes no arguments");
	struct hull_err err = {0};
	bool done;
	if (pool_fini(&done, &err) < 0)
		return fail(&err);
	/* Nothing of the pool runs once it is unmounted: its tables in this
	 * network namespace go too (its own only, named after the root).
	 * The antispoof table only when no port is left in it. */
	if (done && hull_nft_available() &&
	    (fw_nft_remove(fw_nft_table(), &err) < 0 ||
	     net_antispoof_table_gc(net_antispoof_table(), &err) < 0)) {
		hull_err_prefix(&err, "fini: pool unmounted, but");
		return fail(&err);
	}
	printf("hull: pool at %s %s\n", hull_root(),
	       done ? "unmounted" : "has nothing mounted");
	return 0;
}

static void size_cell(uint64_t v, bool parsable, char *buf, size_t len)
{
	if (parsable)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		pool_size_format(v, buf, len);
}

static int pool_list_cmd(struct pool *p, int argc, char **argv)
{
	bool json = false, parsable = false, header = true;
	int type = 0; /* 0 all, 1 filesystems, 2 snapshots */
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+jpHt:")) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'p':
			parsable = true;
			break;
		case 'H':
			header = false;
			break;
		case 't':
			if (strcmp(optarg, "filesystem") == 0)
				type = 1;
			else if (strcmp(optarg, "snapshot") == 0)
				type = 2;
			else
				return usage_error("list: unknown type '%s'",
						   optarg);
			break;
		default:
			return usage_error("list: %s", "bad option");
		}
	}
	if (argc - optind > 1)
		return usage_error("list: %s", "one dataset at most");
	const char *under = optind < argc ? argv[optind] : NULL;
	struct hull_err err = {0};
	if (under && !pool_dataset_exists(p, under)) {
		hull_err_set(&err, ENOENT, "list: no such dataset: %s", under);
		return fail(&err);
	}
	struct pool_entry *e;
	size_t n;
	if (pool_list_select(p, under, type == 1 ? POOL_LIST_NO_SNAPSHOTS : 0,
			     &e, &n, &err) < 0)
		return fail(&err);
	json_t *arr = json ? json_array() : NULL;
	if (!json && header)
		printf("%-40s  %8s  %8s  %8s  %s\n", "NAME", "USED", "REFER",
		       "QUOTA", "ORIGIN");
	for (size_t i = 0; i < n; i++) {
		if (type == 2 && !e[i].snapshot)
			continue;
		if (json) {
			json_t *o = json_pack(
			    "{s:s, s:s, s:I, s:I, s:I, s:o}", "name", e[i].name,
			    "type", e[i].snapshot ? "snapshot" : "filesystem",
			    "used", (json_int_t)e[i].used, "referenced",
			    (json_int_t)e[i].referenced, "quota",
			    (json_int_t)e[i].quota, "origin",
			    e[i].origin ? json_string(e[i].origin)
					: json_null());
			json_array_append_new(arr, o);
			continue;
		}
		char u[32], r[32], q[32];
		size_cell(e[i].used, parsable, u, sizeof(u));
		size_cell(e[i].referenced, parsable, r, sizeof(r));
		if (e[i].quota)
			size_cell(e[i].quota, parsable, q, sizeof(q));
		else
			snprintf(q, sizeof(q), "none");
		printf("%-40s  %8s  %8s  %8s  %s\n", e[i].name, u, r,
		       e[i].snapshot ? "-" : q,
		       e[i].origin ? e[i].origin : "-");
	}
	if (json) {
		hull_json_print(arr);
		json_decref(arr);
	}
	pool_entries_free(e, n);
	return 0;
}

static int pool_usage_cmd(struct pool *p, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "-j") == 0;
	if (argc != 1 && !json)
		return usage_error("usage: %s", "takes only -j");
	struct hull_err err = {0};
	uint64_t size, avail;
	if (pool_usage(p, &size, &avail, &err) < 0)
		return fail(&err);
	if (json) {
		json_t *o = json_pack(
		    "{s:s, s:s, s:I, s:I}", "root", pool_root_path(p),
		    "backend", pool_backend_name(pool_backend_get(p)), "size",
		    (json_int_t)size, "available", (json_int_t)avail);
		hull_json_print(o);
		json_decref(o);
	} else {
		char s[32], a[32];
		pool_size_format(size, s, sizeof(s));
		pool_size_format(avail, a, sizeof(a));
		printf("%s  %s  size %s  available %s\n", pool_root_path(p),
		       pool_backend_name(pool_backend_get(p)), s, a);
	}
	return 0;
}

static int pool_send_cmd(struct pool *p, int argc, char **argv)
{
	const char *base = NULL;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+i:")) != -1) {
		if (c != 'i')
			return usage_error("send: %s", "bad option");
		base = optarg;
	}
	int r = need_args(argc, optind, 1, "send");
	if (r)
		return r;
	struct hull_err err = {0};
	if (isatty(STDOUT_FILENO)) {
		hull_err_set(&err, EINVAL,
			     "send: refusing to write a stream to a terminal");
		return fail(&err);
	}
	if (pool_send(p, argv[optind], base, STDOUT_FILENO, &err) < 0)
		return fail(&err);
	return 0;
}

static int cmd_pool(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("pool: %s", "needs a subcommand");
	const char *sub = argv[1];
	argc--;
	argv++;
	struct hull_err err = {0};
	struct pool *p;
	if (pool_open(&p, &err) < 0)
		return fail(&err);
	int r = 0;
	if (strcmp(sub, "list") == 0) {
		r = pool_list_cmd(p, argc, argv);
	} else if (strcmp(sub, "usage") == 0) {
		r = pool_usage_cmd(p, argc, argv);
	} else if (strcmp(sub, "send") == 0) {
		r = pool_send_cmd(p, argc, argv);
	} else if (strcmp(sub, "create") == 0) {
		if (!(r = need_args(argc, 1, 1, sub)))
			r = pool_dataset_create(p, argv[1], &err) < 0 ? -1 : 0;
	} else if (strcmp(sub, "snapshot") == 0) {
		if (!(r = need_args(argc, 1, 1, sub)))
			r = pool_snapshot_create(p, argv[1], &err) < 0 ? -1 : 0;
	} else if (strcmp(sub, "clone") == 0) {
		if (!(r = need_args(argc, 1, 2, sub)))
			r = pool_clone(p, argv[1], argv[2], &err) < 0 ? -1 : 0;
	} else if (strcmp(sub, "rollback") == 0) {
		if (!(r = need_args(argc, 1, 1, sub)))
			r = pool_rollback(p, argv[1], &err) < 0 ? -1 : 0;
	} else if (strcmp(sub, "destroy") == 0) {
		if (!(r = need_args(argc, 1, 1, sub)))
			r = pool_dataset_destroy(p, argv[1], &err) < 0 ? -1 : 0;
	} else if (strcmp(sub, "rename") == 0) {
		if (!(r = need_args(argc, 1, 2, sub)))
			r = pool_dataset_rename(p, argv[1], argv[2], &err) < 0
				? -1
				: 0;
	} else if (strcmp(sub, "receive") == 0 || strcmp(sub, "recv") == 0) {
		if (!(r = need_args(argc, 1, 1, sub)))
			r = pool_receive(p, argv[1], STDIN_FILENO, &err) < 0
				? -1
				: 0;
	} else if (strcmp(sub, "quota") == 0) {
		uint64_t bytes = 0;
		if (!(r = need_args(argc, 1, 2, sub))) {
			if (strcmp(argv[2], "none") != 0 &&
			    pool_size_parse(argv[2], &bytes) < 0)
				r = usage_error("quota: not a size: '%s'",
						argv[2]);
			else
				r = pool_quota_set(p, argv[1], bytes, &err) < 0
					? -1
					: 0;
		}
	} else {
		r = usage_error("pool: unknown subcommand '%s'", sub);
	}
	pool_close(p);
	if (r == -1)
		return fail(&err);
	return r;
}

int main(int argc, char **argv)
{
	opterr = 0; /* our own one-line messages */
	if (argc < 2)
		return usage_error("%s", "missing command");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("hull %s\n", HULL_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "init"))
		return cmd_init(argc - 1, argv + 1);
	if (!strcmp(cmd, "fini"))
		return cmd_fini(argc - 1, argv + 1);
	if (!strcmp(cmd, "pool"))
		return cmd_pool(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", cmd);
}
