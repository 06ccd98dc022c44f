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
#include "lib/subcmd.h"
#include "lib/xalloc.h"
#include "net/antispoof.h"
#include "pool/disks.h"
#include "pool/init.h"
#include "pool/pool.h"
#include "pool/size.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: hull [--help] [--version] COMMAND [ARGS...]\n"
    "\n"
    "  init [--backend btrfs|dir] [--size SIZE] [--file PATH |\n"
    "       --device DEV [--device DEV...] [--layout LAYOUT]]\n"
    "       [--quota simple|full|none]\n"
    "                          make (or mount again) the pool at the root;\n"
    "                          LAYOUT: single, mirror, raid10, raid5, raid6\n"
    "  fini                    unmount the pool; its data stays in the file\n"
    "  status [-j]             the pool's layout, disks, errors and scrub\n"
    "  scrub [start [-w]|status|cancel]\n"
    "                          verify (and repair) every block of the pool\n"
    "  replace OLD NEW         copy a disk (or a missing one's data) to NEW\n"
    "  add DEVICE              add a disk to the pool\n"
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

#define usage_error(...) subcmd_usage_error("hull", "hull --help", __VA_ARGS__)

/* Options end at the first operand; leftover operands are counted here. */
static int need_args(int argc, int first, int n, const char *cmd)
{
	if (argc - first != n)
		return usage_error("%s: wrong number of arguments", cmd);
	return 0;
}

/* The btrfs pool at the root, for the commands on its disks. */
static int disks_pool_open(const char *cmd, struct pool **p)
{
	struct hull_err err = {0};
	if (pool_open(p, &err) < 0)
		return fail(&err);
	enum pool_backend b = pool_backend_get(*p);
	if (b != POOL_BACKEND_BTRFS) {
		pool_close(*p);
		hull_err_set(&err, EINVAL,
			     "%s: a %s pool has no disks of its own", cmd,
			     pool_backend_name(b));
		return fail(&err);
	}
	return 0;
}

/* One line on stderr when the pool runs without one of its disks. */
static void warn_degraded(void)
{
	struct pool *p;
	if (pool_open(&p, NULL) < 0)
		return;
	struct pool_status s;
	if (pool_backend_get(p) == POOL_BACKEND_BTRFS &&
	    pool_status_get(pool_root_path(p), &s, NULL) == 0) {
		size_t missing = 0;
		for (size_t i = 0; i < s.ndisks; i++)
			missing += s.disks[i].missing;
		if (s.degraded)
			fprintf(stderr,
				"hull: warning: pool at %s is DEGRADED: %zu of "
				"%zu disks missing (see hull status; hull "
				"replace)\n",
				pool_root_path(p), missing, s.ndisks);
		pool_status_fini(&s);
	}
	pool_close(p);
}

static const char *const stat_names[POOL_DISK_NSTATS] = {
    "write_errs", "read_errs", "flush_errs", "corruption_errs",
    "generation_errs"};

static json_t *status_json(const char *root, const struct pool_status *s)
{
	json_t *disks = json_array();
	for (size_t i = 0; i < s->ndisks; i++) {
		const struct pool_disk *d = &s->disks[i];
		json_t *st = json_object();
		for (int k = 0; k < POOL_DISK_NSTATS; k++)
			json_object_set_new(
			    st, stat_names[k],
			    json_integer((json_int_t)d->stats[k]));
		json_array_append_new(
		    disks,
		    json_pack("{s:I, s:o, s:o, s:s, s:I, s:I, s:o}", "devid",
			      (json_int_t)d->devid, "path",
			      d->path ? json_string(d->path) : json_null(),
			      "last_path",
			      d->last ? json_string(d->last) : json_null(),
			      "state", d->missing ? "MISSING" : "ONLINE",
			      "size", (json_int_t)d->size, "allocated",
			      (json_int_t)d->allocated, "errors", st));
	}
	const struct pool_scrub_info *c = &s->scrub;
	json_t *scrub = json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "status",
	    c->status, "started", c->started, "duration", c->duration,
	    "bytes_scrubbed", (json_int_t)(c->data_bytes + c->tree_bytes),
	    "read_errors", (json_int_t)c->read_errors, "csum_errors",
	    (json_int_t)c->csum_errors, "verify_errors",
	    (json_int_t)c->verify_errors, "super_errors",
	    (json_int_t)c->super_errors, "corrected_errors",
	    (json_int_t)c->corrected_errors, "uncorrectable_errors",
	    (json_int_t)c->uncorrectable_errors);
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:I, s:I, s:I, "
	    "s:I, s:o}",
	    "pool", root, "state", s->degraded ? "DEGRADED" : "ONLINE",
	    "layout", s->layout, "data_profile", s->data_profile,
	    "metadata_profile", s->meta_profile, "mixed_profiles", s->mixed,
	    "disks", disks, "size", (json_int_t)s->size, "allocated",
	    (json_int_t)s->allocated, "used", (json_int_t)s->used, "available",
	    (json_int_t)s->available, "scrub", scrub);
}

static void scrub_line(const struct pool_scrub_info *c)
{
	char b[32];
	pool_size_format(c->data_bytes + c->tree_bytes, b, sizeof(b));
	if (strcmp(c->status, "none") == 0) {
		printf("  scan: none requested\n");
		return;
	}
	uint64_t errs = c->read_errors + c->csum_errors + c->verify_errors +
			c->super_errors;
	printf("  scan: scrub %s, started %s, %s, %s scrubbed, %llu errors "
	       "(%llu corrected, %llu uncorrectable)\n",
	       c->status, c->started, c->duration, b, (unsigned long long)errs,
	       (unsigned long long)c->corrected_errors,
	       (unsigned long long)c->uncorrectable_errors);
}

static int cmd_status(int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "-j") == 0;
	if (argc != 1 && !json)
		return usage_error("status: %s", "takes only -j");
	struct pool *p;
	int r = disks_pool_open("status", &p);
	if (r)
		return r;
	struct hull_err err = {0};
	struct pool_status s;
	const char *root = pool_root_path(p);
	if (pool_status_get(root, &s, &err) < 0) {
		pool_close(p);
		hull_err_prefix(&err, "status");
		return fail(&err);
	}
	if (json) {
		json_t *o = status_json(root, &s);
		hull_json_print(o);
		json_decref(o);
	} else {
		char sz[32], al[32], av[32];
		printf("  pool: %s\n", root);
		printf(" state: %s\n", s.degraded ? "DEGRADED" : "ONLINE");
		if (s.degraded)
			printf("status: a disk is missing; the pool runs "
			       "without its redundancy. Replace it with "
			       "'hull replace OLD NEW'.\n");
		if (s.mixed)
			printf("status: some data is not in the layout's "
			       "profiles (written while degraded)\n");
		printf("layout: %s (data %s, metadata %s)\n", s.layout,
		       s.data_profile, s.meta_profile);
		scrub_line(&s.scrub);
		pool_size_format(s.size, sz, sizeof(sz));
		pool_size_format(s.allocated, al, sizeof(al));
		pool_size_format(s.available, av, sizeof(av));
		printf(" space: %s on disks, %s allocated, %s available\n", sz,
		       al, av);
		printf("config:\n\n");
		printf("\t%-5s  %-24s  %-7s  %6s  %5s  %5s  %5s  %5s  %5s\n",
		       "DEVID", "DEVICE", "STATE", "SIZE", "READ", "WRITE",
		       "FLUSH", "CKSUM", "GEN");
		uint64_t total = 0;
		for (size_t i = 0; i < s.ndisks; i++) {
			const struct pool_disk *d = &s.disks[i];
			const uint64_t *e = d->stats;
			for (int k = 0; k < POOL_DISK_NSTATS; k++)
				total += e[k];
			pool_size_format(d->size, sz, sizeof(sz));
			printf(
			    "\t%-5llu  %-24s  %-7s  %6s  %5llu  %5llu  "
			    "%5llu  %5llu  %5llu\n",
			    (unsigned long long)d->devid,
			    d->path ? d->path : (d->last ? d->last : "-"),
			    d->missing ? "MISSING" : "ONLINE", sz,
			    (unsigned long long)e[POOL_DISK_READ_ERRS],
			    (unsigned long long)e[POOL_DISK_WRITE_ERRS],
			    (unsigned long long)e[POOL_DISK_FLUSH_ERRS],
			    (unsigned long long)e[POOL_DISK_CORRUPTION_ERRS],
			    (unsigned long long)e[POOL_DISK_GENERATION_ERRS]);
		}
		printf("\n");
		if (total || s.scrub.uncorrectable_errors)
			printf(
			    "errors: %llu counted on the disks, %llu "
			    "uncorrectable in the last scrub\n",
			    (unsigned long long)total,
			    (unsigned long long)s.scrub.uncorrectable_errors);
		else
			printf("errors: No known data errors\n");
	}
	pool_status_fini(&s);
	pool_close(p);
	return 0;
}

static int cmd_scrub(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "start";
	bool wait = false;
	if (strcmp(sub, "start") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "-w") != 0)
				return usage_error(
				    "scrub start: unknown argument '%s'",
				    argv[i]);
			wait = true;
		}
	} else if (strcmp(sub, "status") == 0 || strcmp(sub, "cancel") == 0) {
		if (argc > 2)
			return usage_error("scrub %s: %s", sub,
					   "takes no arguments");
	} else {
		return usage_error("scrub: takes start, status or cancel, not "
				   "'%s'",
				   sub);
	}
	struct pool *p;
	int r = disks_pool_open("scrub", &p);
	if (r)
		return r;
	struct hull_err err = {0};
	const char *root = pool_root_path(p);
	if (strcmp(sub, "start") == 0) {
		r = pool_scrub_start(root, wait, &err);
		if (r == 0)
			printf("hull: scrub of %s %s\n", root,
			       wait ? "finished" : "started");
	} else if (strcmp(sub, "cancel") == 0) {
		r = pool_scrub_cancel(root, &err);
		if (r == 0)
			printf("hull: scrub of %s cancelled\n", root);
	} else {
		struct pool_status s;
		r = pool_status_get(root, &s, &err);
		if (r == 0) {
			scrub_line(&s.scrub);
			pool_status_fini(&s);
		}
	}
	pool_close(p);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_replace(int argc, char **argv)
{
	if (argc != 3)
		return usage_error("replace: %s", "takes OLD and NEW");
	struct pool *p;
	int r = disks_pool_open("replace", &p);
	if (r)
		return r;
	struct hull_err err = {0};
	r = pool_disk_replace(pool_root_path(p), argv[1], argv[2], &err);
	if (r == 0)
		printf("hull: %s replaced by %s\n", argv[1], argv[2]);
	pool_close(p);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_add(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("add: %s", "takes one DEVICE");
	struct pool *p;
	int r = disks_pool_open("add", &p);
	if (r)
		return r;
	struct hull_err err = {0};
	r = pool_disk_add(pool_root_path(p), argv[1], &err);
	if (r == 0)
		printf("hull: %s added to the pool at %s\n", argv[1],
		       pool_root_path(p));
	pool_close(p);
	return r < 0 ? fail(&err) : 0;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"backend", required_argument, NULL, 'b'},
	    {"size", required_argument, NULL, 's'},
	    {"file", required_argument, NULL, 'f'},
	    {"device", required_argument, NULL, 'd'},
	    {"quota", required_argument, NULL, 'q'},
	    {"layout", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct pool_init_opts o = {.backend = POOL_BACKEND_BTRFS};
	/* At most one device per argument: argc bounds the list. */
	_cleanup_free_ const char **devs = xcalloc((size_t)argc, sizeof(*devs));
	o.devices = devs;
	int c;
	while ((c = getopt_long(argc, argv, "+b:s:f:d:q:l:h", opts, NULL)) !=
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
			devs[o.ndevices++] = optarg;
			break;
		case 'l':
			if (pool_layout_parse(optarg, &o.layout) < 0)
				return usage_error(
				    "init: --layout takes single, mirror, "
				    "raid10, raid5 or raid6, not '%s'",
				    optarg);
			o.layout_set = true;
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
	if (o.layout_set && !o.ndevices && o.backend != POOL_BACKEND_DIR)
		return usage_error("init: %s", "--layout needs --device");
	if (pool_init(&o, &res, &err) < 0)
		return fail(&err);
	static const char *const said[] = {
	    [POOL_INIT_CREATED] = "created",
	    [POOL_INIT_MOUNTED] = "mounted",
	    [POOL_INIT_ALREADY] = "already initialised",
	};
	printf("hull: pool at %s %s\n", hull_root(), said[res]);
	if (res == POOL_INIT_CREATED && o.layout_set &&
	    !pool_layout_stable(o.layout))
		fprintf(stderr,
			"hull: warning: btrfs does not call %s data stable "
			"(a crash can lose parity: the write hole); see "
			"hull(8)\n",
			pool_layout_name(o.layout));
	warn_degraded();
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
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "scrub"))
		return cmd_scrub(argc - 1, argv + 1);
	if (!strcmp(cmd, "replace"))
		return cmd_replace(argc - 1, argv + 1);
	if (!strcmp(cmd, "add"))
		return cmd_add(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", cmd);
}
