/*
 * sysinfo - this host's facts as JSON, like SmartOS's sysinfo: the host's
 * own (lib/host.c) and, when the pool is initialised, the pool's. See
 * docs/sysinfo.md.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/err.h"
#include "lib/host.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "hvm/probe.h"
#include "net/nictag.h"
#include "pool/pool.h"

#define GIB (1024.0 * 1024 * 1024)

static const char usage_text[] =
    "usage: sysinfo [-p] [--help] [--version]\n"
    "\n"
    "Prints this host's facts as JSON (SmartOS's sysinfo keys).\n"
    "  -p   parsable: one NAME='value' line per fact, for shells\n"
    "The pool's figures appear when the pool at /zones (or $HULL_ROOT)\n"
    "is initialised.\n";

/* The pool's facts, when there is an initialised pool. */
static int pool_facts(json_t *o, struct hull_err *err)
{
	struct hull_err quiet;
	if (hull_root_check(&quiet) < 0)
		return 0;
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	uint64_t size, avail;
	r = pool_usage(p, &size, &avail, err);
	if (r == 0) {
		_cleanup_free_ char *copy = xstrdup(pool_root_path(p));
		json_object_set_new(o, "Zpool", json_string(basename(copy)));
		json_object_set_new(o, "Zpool Root",
				    json_string(pool_root_path(p)));
		json_object_set_new(
		    o, "Zpool Backend",
		    json_string(pool_backend_name(pool_backend_get(p))));
		json_object_set_new(o, "Zpool Size in GiB",
				    json_integer((json_int_t)(size / GIB)));
		json_object_set_new(o, "Zpool Free in GiB",
				    json_integer((json_int_t)(avail / GIB)));
		/* Where the pool lives: its file or device. */
		_cleanup_free_ char *cfg = hull_root_path("var/pool.json");
		json_t *j = hull_json_load_file(cfg, NULL);
		const char *disk = hull_json_str(j, "device", NULL);
		if (!disk)
			disk = hull_json_str(j, "file", NULL);
		if (disk)
			json_object_set_new(o, "Zpool Disks",
					    json_string(disk));
		json_decref(j);
	}
	pool_close(p);
	return r;
}

/* "NIC Names": the nic tags bound to each interface (they live in the
 * pool, so only when there is one). */
static void nic_names(json_t *o)
{
	struct hull_err quiet;
	if (hull_root_check(&quiet) < 0)
		return;
	struct net_tag *tags = NULL;
	size_t n = 0;
	if (net_tag_list(&tags, &n, &quiet) < 0)
		return;
	json_t *nics = json_object_get(o, "Network Interfaces");
	for (size_t i = 0; i < n; i++) {
		json_t *nic = tags[i].link[0]
				  ? json_object_get(nics, tags[i].link)
				  : NULL;
		json_t *names = json_object_get(nic, "NIC Names");
		if (json_is_array(names))
			json_array_append_new(names, json_string(tags[i].name));
	}
	free(tags);
}

/* What the VM brands get here: a /dev/kvm that speaks the API may still run
 * only small guests (no vmx/svm), so the bhyve brand needs more than the
 * API, and the kvm brand falls back to QEMU's TCG. */
static void hvm_facts(json_t *o)
{
	bool full = hvm_kvm_full();
	json_object_set_new(o, "Bhyve Capable", json_boolean(full));
	if (!full)
		json_object_set_new(o, "Bhyve Max Vcpus", json_integer(0));
	json_object_set_new(o, "HVM Acceleration",
			    json_string(full ? "kvm" : "tcg"));
}

int main(int argc, char **argv)
{
	bool parsable = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p")) {
			parsable = true;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("sysinfo (hull) %s\n", HULL_VERSION);
			return 0;
		} else {
			fprintf(stderr,
				"sysinfo: unknown option '%s' (see sysinfo "
				"--help)\n",
				argv[i]);
			return 2;
		}
	}
	struct hull_err err = {0};
	json_t *o = host_sysinfo_collect(&err);
	if (!o || pool_facts(o, &err) < 0) {
		fprintf(stderr, "sysinfo: %s\n", err.msg);
		json_decref(o);
		return 1;
	}
	nic_names(o);
	hvm_facts(o);
	if (parsable) {
		char *text = host_sysinfo_flatten(o);
		fputs(text, stdout);
		free(text);
	} else {
		hull_json_print(o);
	}
	json_decref(o);
	return 0;
}
