/*
 * hull-net - a debugging front end to hull's network plumbing (src/net):
 * sets up and tears down an instance's ports from its record the way the
 * supervisor does, adds and removes single nics, checks a record's nics.
 * Tests and benchmarks use it with plain network namespaces standing in
 * for zones. See docs/hull-net.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inst/inst.h"
#include "inst/record.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "net/instance.h"
#include "lib/mac.h"
#include "net/nic.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: hull-net <command> [args]\n"
	    "\n"
	    "Commands (UUID names the record $HULL_ROOT/UUID/config/vm.json;\n"
	    "NETNS is a name under /run/netns or a path to a netns file):\n"
	    "  setup UUID NETNS [BRAND]   set up every nic of the instance\n"
	    "                             (a VM's taps: NETNS is ignored)\n"
	    "  teardown UUID              remove the instance's ports and "
	    "rules\n"
	    "  add-nic UUID MAC NETNS     set up one nic of a running "
	    "instance\n"
	    "  remove-nic UUID MAC        remove one nic's port\n"
	    "  check UUID                 validate the record's nics and "
	    "routes\n"
	    "  bench-add-nic UUID MAC NETNS N\n"
	    "                             add and remove a nic N times in one\n"
	    "                             process; print first and median ms\n"
	    "  mac                        print a new SmartOS-style MAC\n"
	    "  -h, --help                 this help\n");
}

static int fail(struct hull_err *err)
{
	fprintf(stderr, "hull-net: %s\n", err->msg);
	return 1;
}

static int open_netns(const char *s, struct hull_err *err)
{
	_cleanup_free_ char *p =
	    strchr(s, '/') ? xstrdup(s) : xasprintf("/run/netns/%s", s);
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hull_err_sys(err, errno, "network namespace %s", s);
	return fd;
}

static json_t *load_record(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *p = NULL;

	if (!hull_uuid_valid(uuid)) {
		hull_err_set(err, EINVAL, "not a UUID: '%s'", uuid);
		return NULL;
	}
	p = inst_record_path(uuid);
	return hull_json_load_file(p, err);
}

/* The typed instance of uuid's record. */
static int load_inst(const char *uuid, struct inst *inst, struct hull_err *err)
{
	json_t *rec = load_record(uuid, err);
	if (!rec)
		return -EINVAL;
	int r = inst_parse(rec, inst, err);
	json_decref(rec);
	return r;
}

static int cmd_setup(int argc, char **argv)
{
	struct hull_err err = {0};
	int taps[NET_MAX_NICS];
	struct inst inst;
	json_t *rec;
	int fd, r;

	if (argc < 3 || argc > 4) {
		usage(stderr);
		return 2;
	}
	if (!(rec = load_record(argv[1], &err)))
		return fail(&err);
	r = inst_parse(rec, &inst, &err);
	json_decref(rec);
	if (r < 0)
		return fail(&err);
	if (argc == 4 && !(inst.brand = inst_brand_from_name(argv[3]))) {
		hull_err_set(&err, EINVAL, "unknown brand '%s'", argv[3]);
		inst_fini(&inst);
		return fail(&err);
	}
	if (inst_is_hvm(&inst)) {
		fd = -1;
	} else if ((fd = open_netns(argv[2], &err)) < 0) {
		inst_fini(&inst);
		return fail(&err);
	}
	for (size_t i = 0; i < NET_MAX_NICS; i++)
		taps[i] = -1;
	r = net_instance_setup(&inst, fd, taps, &err);
	if (fd >= 0)
		close(fd);
	bool hvm = inst_is_hvm(&inst);
	inst_fini(&inst);
	if (r)
		return fail(&err);
	/* A VM's taps are persistent; the VMM would get these descriptors. */
	if (hvm)
		for (size_t i = 0; i < NET_MAX_NICS; i++)
			if (taps[i] >= 0)
				close(taps[i]);
	return 0;
}

static int cmd_teardown(int argc, char **argv)
{
	struct hull_err err = {0};

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (net_instance_teardown(argv[1], &err))
		return fail(&err);
	return 0;
}

static int cmd_add_nic(int argc, char **argv)
{
	struct hull_err err = {0};
	struct timespec t0, t1;
	struct inst inst;
	int fd, tap = -1, r;

	if (argc != 4) {
		usage(stderr);
		return 2;
	}
	if (load_inst(argv[1], &inst, &err) < 0)
		return fail(&err);
	if ((fd = open_netns(argv[3], &err)) < 0) {
		inst_fini(&inst);
		return fail(&err);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = net_nic_add(&inst, argv[2], fd, &tap, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* For bench/net-add-nic: the library call alone, without the cost of
	 * starting a process. */
	if (!r && getenv("HULL_NET_TIMING"))
		fprintf(stderr, "add-nic: %.3f ms\n",
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	close(fd);
	if (tap >= 0)
		close(tap);
	inst_fini(&inst);
	return r ? fail(&err) : 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* bench-add-nic UUID MAC NETNS N: adds and removes the nic N times in this
 * process, as a long-lived caller (the supervisor) would, and prints the
 * first and the median time of net_nic_add() in ms. */
static int cmd_bench_add_nic(int argc, char **argv)
{
	struct hull_err err = {0};
	double *ms, first;
	struct inst inst;
	int fd, n, r = 0;

	if (argc != 5 || (n = atoi(argv[4])) < 1 || n > 10000) {
		usage(stderr);
		return 2;
	}
	if (load_inst(argv[1], &inst, &err) < 0)
		return fail(&err);
	if ((fd = open_netns(argv[3], &err)) < 0) {
		inst_fini(&inst);
		return fail(&err);
	}
	ms = xcalloc((size_t)n, sizeof(*ms));
	for (int i = 0; i < n && !r; i++) {
		struct timespec t0;
		int tap = -1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = net_nic_add(&inst, argv[2], fd, &tap, &err);
		ms[i] = ms_since(&t0);
		if (tap >= 0)
			close(tap);
		if (!r)
			r = net_nic_remove(argv[1], argv[2], &err);
	}
	close(fd);
	inst_fini(&inst);
	if (r) {
		free(ms);
		return fail(&err);
	}
	first = ms[0];
	qsort(ms, (size_t)n, sizeof(*ms), dbl_cmp);
	printf("first %.3f median %.3f min %.3f max %.3f\n", first, ms[n / 2],
	       ms[0], ms[n - 1]);
	free(ms);
	return 0;
}

static int cmd_remove_nic(int argc, char **argv)
{
	struct hull_err err = {0};

	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	if (net_nic_remove(argv[1], argv[2], &err))
		return fail(&err);
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	struct hull_err err = {0};
	struct net_config *cfg;
	json_t *rec;
	int r;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (!(rec = load_record(argv[1], &err)))
		return fail(&err);
	cfg = xcalloc(1, sizeof(*cfg));
	r = net_config_parse(rec, cfg, &err);
	if (!r)
		for (size_t i = 0; i < cfg->nnics; i++) {
			char mac[HULL_MAC_STRLEN];
			hull_mac_format(cfg->nics[i].mac, mac);
			printf("%s %s %s vlan %u%s\n", cfg->nics[i].interface,
			       mac, cfg->nics[i].tag, cfg->nics[i].vlan_id,
			       (int)i == cfg->primary ? " primary" : "");
		}
	free(cfg);
	json_decref(rec);
	return r ? fail(&err) : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	argc--;
	argv++;
	if (!strcmp(cmd, "setup"))
		return cmd_setup(argc, argv);
	if (!strcmp(cmd, "teardown"))
		return cmd_teardown(argc, argv);
	if (!strcmp(cmd, "add-nic"))
		return cmd_add_nic(argc, argv);
	if (!strcmp(cmd, "remove-nic"))
		return cmd_remove_nic(argc, argv);
	if (!strcmp(cmd, "bench-add-nic"))
		return cmd_bench_add_nic(argc, argv);
	if (!strcmp(cmd, "check"))
		return cmd_check(argc, argv);
	if (!strcmp(cmd, "mac")) {
		uint8_t m[HULL_MAC_LEN];
		char s[HULL_MAC_STRLEN];
		hull_mac_generate(m);
		hull_mac_format(m, s);
		printf("%s\n", s);
		return 0;
	}
	fprintf(stderr, "hull-net: unknown command '%s' (see hull-net -h)\n",
		cmd);
	return 2;
}
