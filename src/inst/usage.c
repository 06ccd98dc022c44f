/*
 * usage.c - an instance's current use of memory, CPU, processes, network
 * and disk: see hull/usage.h. Read-only: the cgroup files the limits are
 * written on (zone/cgroup.h; v2 and v1 names), /proc/self/net/dev for the
 * host ends of its ports (net/instance.h names them hv<uuid8><k>), and
 * the pool's space figures for its dataset.
 */
#include "hull/usage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "zone/cgroup.h"

/* The first number in dir/file (or in its line starting with key), or -1;
 * "max" (no limit) is -1 too. */
static int64_t read_num(const char *dir, const char *file, const char *key)
{
	if (!dir)
		return -1;
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	_cleanup_free_ char *s = NULL;
	size_t len;
	if (hull_file_read(p, 1 << 16, &s, &len, NULL) < 0)
		return -1;
	const char *v = s;
	if (key) {
		size_t k = strlen(key);
		for (v = s; v; v = strchr(v, '\n'), v = v ? v + 1 : NULL)
			if (!strncmp(v, key, k) && v[k] == ' ')
				break;
		if (!v)
			return -1;
		v += strlen(key);
	}
	char *end;
	long long n = strtoll(v, &end, 10);
	return end == v || n < 0 ? -1 : (int64_t)n;
}

static void set_num(json_t *o, const char *key, int64_t n)
{
	if (n >= 0)
		json_object_set_new(o, key, json_integer((json_int_t)n));
}

static void cgroup_usage(json_t *o, const char *uuid)
{
	struct zone_cgroup cg;
	zone_cgroup_init(&cg, uuid);
	const char *mem = zone_cgroup_dir(&cg, "memory");
	const char *cpu = zone_cgroup_dir(&cg, cg.v2 ? "cpu" : "cpuacct");
	const char *pids = zone_cgroup_dir(&cg, "pids");
	if (cg.v2) {
		set_num(o, "mem_used_bytes",
			read_num(mem, "memory.current", NULL));
		set_num(o, "mem_limit_bytes",
			read_num(mem, "memory.max", NULL));
		set_num(o, "cpu_usec", read_num(cpu, "cpu.stat", "usage_usec"));
	} else {
		set_num(o, "mem_used_bytes",
			read_num(mem, "memory.usage_in_bytes", NULL));
		/* v1 says "no limit" with a huge number. */
		int64_t lim = read_num(mem, "memory.limit_in_bytes", NULL);
		set_num(o, "mem_limit_bytes", lim < INT64_MAX / 2 ? lim : -1);
		int64_t ns = read_num(cpu, "cpuacct.usage", NULL);
		set_num(o, "cpu_usec", ns >= 0 ? ns / 1000 : -1);
	}
	set_num(o, "processes", read_num(pids, "pids.current", NULL));
	set_num(o, "processes_limit", read_num(pids, "pids.max", NULL));
	zone_cgroup_fini(&cg);
}

static void net_usage(json_t *o, const char *uuid)
{
	FILE *f = fopen("/proc/self/net/dev", "re");
	if (!f)
		return;
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "hv%.8s", uuid);
	size_t pl = strlen(prefix);
	char line[512];
	unsigned long long rx = 0, tx = 0;
	bool any = false;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " ");
		char *colon = strchr(p, ':');
		if (!colon || strncmp(p, prefix, pl))
			continue;
		unsigned long long v[9];
		if (sscanf(colon + 1,
			   "%llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8]) != 9)
			continue;
		/* The host end receives what the instance sends. */
		tx += v[0];
		rx += v[8];
		any = true;
	}
	fclose(f);
	if (any) {
		set_num(o, "net_rx_bytes", (int64_t)rx);
		set_num(o, "net_tx_bytes", (int64_t)tx);
	}
}

static void disk_usage(json_t *o, const char *uuid)
{
	struct pool *pool;
	if (pool_open(&pool, NULL) < 0)
		return;
	struct pool_entry *e = NULL;
	size_t n = 0;
	if (pool_list_select(pool, uuid, POOL_LIST_NO_SNAPSHOTS, &e, &n,
			     NULL) == 0 &&
	    n > 0 && !strcmp(e[0].name, uuid)) {
		set_num(o, "disk_used_bytes", (int64_t)e[0].referenced);
		if (e[0].quota)
			set_num(o, "disk_quota_bytes", (int64_t)e[0].quota);
	}
	pool_entries_free(e, n);
	pool_close(pool);
}

json_t *hull_instance_usage(const char *uuid, bool with_disk)
{
	json_t *o = json_object();
	cgroup_usage(o, uuid);
	net_usage(o, uuid);
	if (with_disk)
		disk_usage(o, uuid);
	return o;
}
