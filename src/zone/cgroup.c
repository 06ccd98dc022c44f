/*
 * cgroup.c - creating, limiting, emptying and removing a zone's cgroup.
 *
 * v2 hosts: /sys/fs/cgroup/<parent>/<uuid> with cpu, memory, pids and io
 * enabled from the root down. v1 and hybrid hosts (v1 controllers, an empty
 * v2 tree): the same path in each hierarchy mounted under /sys/fs/cgroup.
 * cpuset needs cpus and mems copied down before a task may join, and the
 * devices hierarchy gets a whitelist of the nodes a zone's /dev holds.
 * Where /sys/fs/cgroup shows no hierarchy (under `ip netns exec`), they are
 * mounted privately first (lib/cgroupfs.h); where that fails too, nothing
 * is made and zone_cgroup_create says why: no instance runs without its
 * limits.
 */
#include "zone/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "lib/cgroupfs.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "zone/devfilter.h"

#define CG_ROOT HULL_CGROUP_ROOT

static const char *const v1_hierarchies[] = {
    "cpu",     "cpuacct", "cpuset", "memory",  "devices",
    "freezer", "blkio",	  "pids",   "systemd", "unified",
};

const char *zone_cgroup_parent(void)
{
	const char *p = getenv("HULL_CGROUP_PARENT");
	return p && *p ? p : "hull";
}

static bool is_fs(const char *path, long magic)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == magic;
}

void zone_cgroup_init(struct zone_cgroup *cg, const char *uuid)
{
	memset(cg, 0, sizeof(*cg));
	cg->rel = xasprintf("%s/%s", zone_cgroup_parent(), uuid);
	struct hull_err e = {0};
	if (hull_cgroupfs_ensure(&e) < 0) {
		cg->unavailable = xstrdup(e.msg);
		return;
	}
	cg->v2 = is_fs(CG_ROOT, CGROUP2_SUPER_MAGIC);
	if (cg->v2) {
		cg->dirs[0] = xasprintf(CG_ROOT "/%s", cg->rel);
		cg->payload[0] =
		    xasprintf("%s/" ZONE_CGROUP_PAYLOAD, cg->dirs[0]);
		cg->ctl[0] = xstrdup("");
		cg->ndirs = 1;
		return;
	}
	/* cpu and cpuacct may be one hierarchy behind two links; keep one. */
	char seen[ZONE_CGROUP_MAX_DIRS][64] = {{0}};
	for (size_t i = 0; i < sizeof(v1_hierarchies) / sizeof(*v1_hierarchies);
	     i++) {
		char *mnt = xasprintf(CG_ROOT "/%s", v1_hierarchies[i]);
		char real[64] = "";
		char *rp = realpath(mnt, NULL);
		bool ok = rp && (is_fs(rp, CGROUP_SUPER_MAGIC) ||
				 is_fs(rp, CGROUP2_SUPER_MAGIC));
		if (rp)
			snprintf(real, sizeof(real), "%s", rp);
		free(rp);
		for (size_t k = 0; ok && k < cg->ndirs; k++)
			if (strcmp(seen[k], real) == 0)
				ok = false;
		if (ok && cg->ndirs < ZONE_CGROUP_MAX_DIRS) {
			snprintf(seen[cg->ndirs], sizeof(seen[0]), "%s", real);
			cg->dirs[cg->ndirs] = xasprintf("%s/%s", mnt, cg->rel);
			cg->payload[cg->ndirs] = xasprintf(
			    "%s/" ZONE_CGROUP_PAYLOAD, cg->dirs[cg->ndirs]);
			cg->ctl[cg->ndirs] = xstrdup(v1_hierarchies[i]);
			cg->ndirs++;
		}
		free(mnt);
	}
}

void zone_cgroup_fini(struct zone_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->ndirs; i++) {
		free(cg->dirs[i]);
		free(cg->payload[i]);
		free(cg->ctl[i]);
	}
	free(cg->rel);
	free(cg->unavailable);
	memset(cg, 0, sizeof(*cg));
}

const char *zone_cgroup_dir(struct zone_cgroup *cg, const char *controller)
{
	for (size_t i = 0; i < cg->ndirs; i++)
		if (cg->v2 || strcmp(cg->ctl[i], controller) == 0)
			return cg->dirs[i];
	return NULL;
}

static int write_str(const char *dir, const char *file, const char *val,
		     struct hull_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", p);
	ssize_t n = write(fd, val, strlen(val));
	int e = errno;
	close(fd);
	if (n < 0)
		return hull_err_sys(err, e, "write %s to %s", val, p);
	return 0;
}

static char *read_str(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	char *s = NULL;
	size_t len;
	if (hull_file_read(p, 1 << 20, &s, &len, NULL) < 0)
		return NULL;
	return s;
}

static bool has_file(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	return access(p, F_OK) == 0;
}

/* Is word one of the space-separated words in list? */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p && (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* v2: enable the controllers we use in subtree_control on the way down. */
static int v2_enable(const char *dir, struct hull_err *err)
{
	_cleanup_free_ char *avail = read_str(dir, "cgroup.controllers");
	_cleanup_free_ char *on = read_str(dir, "cgroup.subtree_control");
	static const char *const want[] = {"cpu", "memory", "pids", "io"};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		if (!has_word(avail, want[i]) || has_word(on, want[i]))
			continue;
		char buf[16];
		snprintf(buf, sizeof(buf), "+%s", want[i]);
		if (write_str(dir, "cgroup.subtree_control", buf, err) < 0)
			return -err->code;
	}
	return 0;
}

/* v2: v2_enable on the root and on each level below it down to dir. */
static int v2_enable_down(const char *dir, struct hull_err *err)
{
	_cleanup_free_ char *p = xstrdup(dir);
	size_t root = strlen(CG_ROOT);
	for (char *s = p + root;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		int r = v2_enable(p, err);
		*s = c;
		if (r < 0)
			return r;
		if (!c)
			return 0;
	}
}

/* cpuset v1: a new cgroup starts with empty cpus/mems; copy the parent's. */
static int cpuset_fill(const char *dir, struct hull_err *err)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *cur = read_str(dir, files[i]);
		if (cur && strspn(cur, " \n") != strlen(cur))
			continue;
		_cleanup_free_ char *parent = xstrdup(dir);
		*strrchr(parent, '/') = '\0';
		_cleanup_free_ char *val = read_str(parent, files[i]);
		if (!val)
			return hull_err_set(err, EIO, "read %s/%s", parent,
					    files[i]);
		if (write_str(dir, files[i], val, err) < 0)
			return -err->code;
	}
	return 0;
}

/* Character devices a zone may use: what zone_dev_populate creates, plus
 * the pty slaves and /dev/net/tun (for a VMM zone). Block devices: none. */
static const char *const dev_allow[] = {
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",	  "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
};

static int devices_setup(const char *dir, struct hull_err *err)
{
	if (write_str(dir, "devices.deny", "a", err) < 0)
		return -err->code;
	for (size_t i = 0; i < sizeof(dev_allow) / sizeof(*dev_allow); i++)
		if (write_str(dir, "devices.allow", dev_allow[i], err) < 0)
			return -err->code;
	return 0;
}

static int rmdir_tree(const char *dir);

/* The hierarchies without which a zone's limits cannot all be set. */
static const char *const v1_required[] = {"cpu", "memory", "pids"};

int zone_cgroup_create(struct zone_cgroup *cg, struct hull_err *err)
{
	int r;
	cg->fresh = false;
	if (cg->unavailable)
		return hull_err_set(err, ENOENT, "cgroup: %s", cg->unavailable);
	for (size_t i = 0;
	     !cg->v2 && i < sizeof(v1_required) / sizeof(*v1_required); i++)
		if (!zone_cgroup_dir(cg, v1_required[i]))
			return hull_err_set(err, ENOENT,
					    "cgroup: no %s hierarchy under %s",
					    v1_required[i], CG_ROOT);
	for (size_t i = 0; i < cg->ndirs; i++) {
		const char *d = cg->dirs[i];
		_cleanup_free_ char *parent = xstrdup(d);
		*strrchr(parent, '/') = '\0';
		if ((r = hull_mkdir_p(parent, 0755, err)) < 0)
			return hull_err_prefix(err, "cgroup");
		if (strcmp(cg->ctl[i], "cpuset") == 0 &&
		    (r = cpuset_fill(parent, err)) < 0)
			return hull_err_prefix(err, "cgroup");
		/* Every level from the root to the parent delegates the
		 * controllers to the next (a parent may be "a.slice/hull"). */
		if (cg->v2 && (r = v2_enable_down(parent, err)) < 0)
			return hull_err_prefix(err, "cgroup");
		bool fresh = mkdir(d, 0755) == 0;
		if (!fresh && errno != EEXIST)
			return hull_err_sys(err, errno, "cgroup: mkdir %s", d);
		if (strcmp(cg->ctl[i], "cpuset") == 0 &&
		    (r = cpuset_fill(d, err)) < 0)
			return hull_err_prefix(err, "cgroup");
		/* (v1 refuses a new whitelist once there are children: set
		 * it when the cgroup is made; a reboot keeps it.) */
		if (fresh && strcmp(cg->ctl[i], "devices") == 0 &&
		    (r = devices_setup(d, err)) < 0)
			return hull_err_prefix(err, "cgroup");
		cg->fresh |= fresh;
		if (strcmp(cg->ctl[i], "memory") == 0)
			write_str(d, "memory.use_hierarchy", "1", NULL);
		/* The payload level below the limits. */
		if (cg->v2 && (r = v2_enable(d, err)) < 0)
			return hull_err_prefix(err, "cgroup");
		const char *pl = cg->payload[i];
		/* v2: what the zone's last boot made below its root (systemd's
		 * slices, the controllers it enabled there) would leave the
		 * payload an inner node, which no process may join (EBUSY):
		 * start from an empty one. The zone is down, so all of it is
		 * empty. */
		if (cg->v2)
			rmdir_tree(pl);
		if (mkdir(pl, 0755) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "cgroup: mkdir %s", pl);
		if (strcmp(cg->ctl[i], "cpuset") == 0 &&
		    (r = cpuset_fill(pl, err)) < 0)
			return hull_err_prefix(err, "cgroup");
	}
	return 0;
}

int zone_cgroup_devices_limit_with(struct zone_cgroup *cg,
				   const char *const *extra, size_t nextra,
				   struct hull_err *err)
{
	/* v2 has no devices controller: the same whitelist as a device
	 * program, attached once, where the zone cannot reach. */
	if (!cg->v2 || !cg->fresh || !cg->ndirs)
		return 0;
	size_t nz = sizeof(dev_allow) / sizeof(*dev_allow);
	_cleanup_free_ const char **rules =
	    xcalloc(nz + nextra + 1, sizeof(*rules));
	for (size_t i = 0; i < nz; i++)
		rules[i] = dev_allow[i];
	for (size_t i = 0; i < nextra; i++)
		rules[nz + i] = extra[i];
	int r = zone_devfilter_attach(cg->dirs[0], rules, nz + nextra, err);
	return r < 0 ? hull_err_prefix(err, "cgroup") : 0;
}

int zone_cgroup_devices_limit(struct zone_cgroup *cg, struct hull_err *err)
{
	return zone_cgroup_devices_limit_with(cg, NULL, 0, err);
}

const char *zone_cgroup_join_file(const struct zone_cgroup *cg, size_t i)
{
	/* A hybrid host's v2 tree sits among the v1 ones as "unified". */
	bool v2 = !cg->ctl[i][0] || strcmp(cg->ctl[i], "unified") == 0;
	return v2 ? "cgroup.procs" : "tasks";
}

int zone_cgroup_attach(struct zone_cgroup *cg, pid_t pid, struct hull_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->ndirs; i++)
		if (write_str(cg->payload[i], zone_cgroup_join_file(cg, i), buf,
			      err) < 0)
			return hull_err_prefix(err, "cgroup attach");
	return 0;
}

int zone_cgroup_attach_leaf(struct zone_cgroup *cg, const char *name, pid_t pid,
			    struct hull_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->ndirs; i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", cg->dirs[i], name);
		if (mkdir(d, 0755) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "cgroup: mkdir %s", d);
		if (strcmp(cg->ctl[i], "cpuset") == 0 &&
		    cpuset_fill(d, err) < 0)
			return hull_err_prefix(err, "cgroup");
		if (write_str(d, zone_cgroup_join_file(cg, i), buf, err) < 0)
			return hull_err_prefix(err, "cgroup attach");
	}
	return 0;
}

void zone_cgroup_join_close(struct zone_cgroup_join *j)
{
	for (size_t i = 0; i < j->n; i++)
		close(j->fd[i]);
	j->n = 0;
	if (j->v2_dir >= 0)
		close(j->v2_dir);
	j->v2_dir = j->v2_fd = -1;
}

int zone_cgroup_join_open(struct zone_cgroup *cg, const char *leaf,
			  struct zone_cgroup_join *j)
{
	j->n = 0;
	j->v2_fd = j->v2_dir = -1;
	j->placed = false;
	for (size_t i = 0; i < cg->ndirs; i++) {
		_cleanup_free_ char *d =
		    leaf ? xasprintf("%s/%s", cg->dirs[i], leaf)
			 : xstrdup(cg->payload[i]);
		if (leaf) {
			struct hull_err ignore;
			if ((mkdir(d, 0755) < 0 && errno != EEXIST) ||
			    (strcmp(cg->ctl[i], "cpuset") == 0 &&
			     cpuset_fill(d, &ignore) < 0))
				goto fail;
		}
		const char *file = zone_cgroup_join_file(cg, i);
		_cleanup_free_ char *f = xasprintf("%s/%s", d, file);
		int fd = open(f, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		j->fd[j->n++] = fd;
		if (strcmp(file, "tasks") != 0 && j->v2_fd < 0) {
			j->v2_fd = fd;
			j->v2_dir = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (j->v2_dir < 0)
				goto fail;
		}
	}
	return 0;
fail:
	zone_cgroup_join_close(j);
	return -1;
}

int zone_cgroup_join_self(const struct zone_cgroup_join *j, bool skip_v2)
{
	for (size_t i = 0; i < j->n; i++)
		if (!(skip_v2 && j->fd[i] == j->v2_fd) &&
		    write(j->fd[i], "0", 1) != 1)
			return -1;
	return 0;
}

int zone_cgroup_delegate(struct zone_cgroup *cg, uid_t uid, gid_t gid,
			 struct hull_err *err)
{
	for (size_t i = 0; i < cg->ndirs; i++) {
		const char *pl = cg->payload[i];
		if (chown(pl, uid, gid) < 0)
			return hull_err_sys(err, errno, "cgroup: chown %s", pl);
		DIR *dh = opendir(pl);
		if (!dh)
			return hull_err_sys(err, errno, "cgroup: open %s", pl);
		struct dirent *de;
		int r = 0;
		while ((de = readdir(dh))) {
			if (de->d_type != DT_REG)
				continue;
			if (fchownat(dirfd(dh), de->d_name, uid, gid,
				     AT_SYMLINK_NOFOLLOW) < 0) {
				r = hull_err_sys(err, errno,
						 "cgroup: chown %s/%s", pl,
						 de->d_name);
				break;
			}
		}
		closedir(dh);
		if (r < 0)
			return r;
	}
	return 0;
}

char *zone_cgroup_of_pid(const struct zone_cgroup *cg, pid_t pid)
{
	if (!cg->v2 || pid <= 0)
		return NULL;
	_cleanup_free_ char *f = xasprintf("/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *s = NULL;
	size_t len;
	if (hull_file_read(f, 1 << 16, &s, &len, NULL) < 0)
		return NULL;
	/* v2 has one line, "0::/path" (from our own, the host's, namespace). */
	if (strncmp(s, "0::", 3) != 0)
		return NULL;
	char *path = s + 3;
	path[strcspn(path, "\n")] = '\0';
	_cleanup_free_ char *below =
	    xasprintf("/%s/" ZONE_CGROUP_PAYLOAD "/", cg->rel);
	size_t n = strlen(below);
	if (strncmp(path, below, n) != 0 || !path[n] || strstr(path, "/../") ||
	    strstr(path, "/./"))
		return NULL;
	return xasprintf(CG_ROOT "%s", path);
}

/* systemd's mapping of cpu.shares (default 1024) onto cpu.weight (1..10000,
 * default 100): proportional, so a zone weighs against the host's other
 * cgroups as its cpu.shares does on v1 (not runc's range-to-range map,
 * which gives 1024 shares a weight of 39). */
static int64_t shares_to_weight(int64_t s)
{
	int64_t w = s * 100 / 1024;
	return w < 1 ? 1 : w > 10000 ? 10000 : w;
}

static int write_i64(const char *dir, const char *file, int64_t v,
		     struct hull_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return write_str(dir, file, buf, err);
}

static int memory_v1(const char *d, const struct inst_limits *l,
		     struct hull_err *err)
{
	int64_t mem =
	    l->max_physical_memory >= 0 ? l->max_physical_memory << 20 : -1;
	int64_t sw = l->max_swap >= 0 ? l->max_swap << 20 : -1;
	if (mem < 0 && sw < 0)
		return 0;
	bool memsw = has_file(d, "memory.memsw.limit_in_bytes");
	/* memsw must stay >= limit at every step: lift it, set the limit,
	 * then set memsw to its value. */
	if (memsw)
		write_str(d, "memory.memsw.limit_in_bytes", "-1", NULL);
	if (mem >= 0 && write_i64(d, "memory.limit_in_bytes", mem, err) < 0)
		return -err->code;
	if (memsw && sw >= 0) {
		if (mem >= 0 && sw < mem)
			sw = mem;
		if (write_i64(d, "memory.memsw.limit_in_bytes", sw, err) < 0)
			return -err->code;
	}
	return 0;
}

static int limits_v1(struct zone_cgroup *cg, size_t i,
		     const struct inst_limits *l, struct hull_err *err)
{
	const char *d = cg->dirs[i], *c = cg->ctl[i];
	if (strcmp(c, "cpu") == 0) {
		if (l->cpu_cap >= 0) {
			if (write_str(d, "cpu.cfs_period_us", "100000", err) <
				0 ||
			    write_i64(d, "cpu.cfs_quota_us",
				      l->cpu_cap ? l->cpu_cap * 1000 : -1,
				      err) < 0)
				return -err->code;
		}
		if (l->cpu_shares >= 0 &&
		    write_i64(d, "cpu.shares",
			      l->cpu_shares < 2 ? 2 : l->cpu_shares, err) < 0)
			return -err->code;
	} else if (strcmp(c, "memory") == 0) {
		return memory_v1(d, l, err);
	} else if (strcmp(c, "pids") == 0 && l->max_lwps >= 0) {
		if (l->max_lwps == 0)
			return write_str(d, "pids.max", "max", err);
		return write_i64(d, "pids.max", l->max_lwps, err);
	} else if (strcmp(c, "blkio") == 0 && l->zfs_io_priority >= 0) {
		/* v1 weights run 10..1000 (cfq) or 1..1000 (bfq). */
		int64_t w = l->zfs_io_priority;
		w = w < 10 ? 10 : w > 1000 ? 1000 : w;
		if (has_file(d, "blkio.weight"))
			return write_i64(d, "blkio.weight", w, err);
		if (has_file(d, "blkio.bfq.weight"))
			return write_i64(d, "blkio.bfq.weight", w, err);
	}
	return 0;
}

static int limits_v2(const char *d, const struct inst_limits *l,
		     struct hull_err *err)
{
	char buf[64];
	if (l->cpu_cap >= 0) {
		if (l->cpu_cap)
			snprintf(buf, sizeof(buf), "%lld 100000",
				 (long long)l->cpu_cap * 1000);
		else
			snprintf(buf, sizeof(buf), "max 100000");
		if (write_str(d, "cpu.max", buf, err) < 0)
			return -err->code;
	}
	if (l->cpu_shares >= 0 &&
	    write_i64(d, "cpu.weight", shares_to_weight(l->cpu_shares), err) <
		0)
		return -err->code;
	if (l->max_physical_memory >= 0 &&
	    write_i64(d, "memory.max", l->max_physical_memory << 20, err) < 0)
		return -err->code;
	if (l->max_swap >= 0 && has_file(d, "memory.swap.max")) {
		int64_t sw =
		    l->max_swap -
		    (l->max_physical_memory > 0 ? l->max_physical_memory : 0);
		if (write_i64(d, "memory.swap.max", (sw < 0 ? 0 : sw) << 20,
			      err) < 0)
			return -err->code;
	}
	if (l->max_lwps >= 0) {
		int r = l->max_lwps ? write_i64(d, "pids.max", l->max_lwps, err)
				    : write_str(d, "pids.max", "max", err);
		if (r < 0)
			return r;
	}
	if (l->zfs_io_priority >= 0) {
		int64_t w = l->zfs_io_priority;
		w = w < 1 ? 1 : w > 10000 ? 10000 : w;
		/* Both when both are there: io.weight acts through iocost,
		 * io.bfq.weight on the devices BFQ schedules. */
		if (has_file(d, "io.weight")) {
			snprintf(buf, sizeof(buf), "default %lld",
				 (long long)w);
			if (write_str(d, "io.weight", buf, err) < 0)
				return -err->code;
		}
		if (has_file(d, "io.bfq.weight") &&
		    write_i64(d, "io.bfq.weight", w > 1000 ? 1000 : w, err) < 0)
			return -err->code;
	}
	return 0;
}

int zone_cgroup_limits_apply(struct zone_cgroup *cg,
			     const struct inst_limits *l, struct hull_err *err)
{
	int r;
	/* A tree kept from an earlier boot still holds that boot's limits:
	 * what the record no longer sets goes back to the kernel's default
	 * (unlimited, 1024 shares), as a new cgroup would have it. */
	struct inst_limits dflt = *l;
	if (!cg->fresh) {
		if (dflt.cpu_cap < 0)
			dflt.cpu_cap = 0;
		if (dflt.cpu_shares < 0)
			dflt.cpu_shares = 1024;
		if (dflt.max_lwps < 0)
			dflt.max_lwps = 0;
		l = &dflt;
	}
	for (size_t i = 0; i < cg->ndirs; i++) {
		if (!cg->fresh && !cg->v2 &&
		    strcmp(cg->ctl[i], "memory") == 0) {
			/* memsw first: it must stay >= the limit (memory_v1
			 * sets it again when the record has max_swap). */
			if (l->max_swap < 0 || l->max_physical_memory < 0)
				write_str(cg->dirs[i],
					  "memory.memsw.limit_in_bytes", "-1",
					  NULL);
			if (l->max_physical_memory < 0)
				write_str(cg->dirs[i], "memory.limit_in_bytes",
					  "-1", NULL);
		}
		if (!cg->fresh && cg->v2) {
			if (l->max_physical_memory < 0)
				write_str(cg->dirs[i], "memory.max", "max",
					  NULL);
			if (l->max_swap < 0 &&
			    has_file(cg->dirs[i], "memory.swap.max"))
				write_str(cg->dirs[i], "memory.swap.max", "max",
					  NULL);
		}
		r = cg->v2 ? limits_v2(cg->dirs[i], l, err)
			   : limits_v1(cg, i, l, err);
		if (r < 0)
			return hull_err_prefix(err, "cgroup limits");
	}
	return 0;
}

/* Calls fn(pid) for every process in dir and its descendants; returns how
 * many there were. */
static size_t procs_walk(const char *dir, void (*fn)(pid_t))
{
	size_t n = 0;
	_cleanup_free_ char *procs = read_str(dir, "cgroup.procs");
	for (char *save = NULL,
		  *t = procs ? strtok_r(procs, "\n", &save) : NULL;
	     t; t = strtok_r(NULL, "\n", &save)) {
		n++;
		if (fn)
			fn((pid_t)atoi(t));
	}
	DIR *dh = opendir(dir);
	if (!dh)
		return n;
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
		n += procs_walk(sub, fn);
	}
	closedir(dh);
	return n;
}

/* The hierarchy that tells best whether processes remain: v2's, else pids,
 * else the first. */
static const char *census_dir(struct zone_cgroup *cg)
{
	const char *d = zone_cgroup_dir(cg, "pids");
	return d ? d : cg->ndirs ? cg->dirs[0] : NULL;
}

const char *zone_cgroup_census_dir(struct zone_cgroup *cg)
{
	return census_dir(cg);
}

bool zone_cgroup_dir_populated(const char *d, bool v2)
{
	if (v2) {
		_cleanup_free_ char *ev = read_str(d, "cgroup.events");
		if (ev)
			return strstr(ev, "populated 1") != NULL;
		return false;
	}
	/* pids.current counts the whole subtree: 0 says "empty" in one read
	 * (a stopped zone keeps its empty tree, vmadm list asks). It also
	 * counts zombies, which cgroup.procs does not list: walk otherwise. */
	_cleanup_free_ char *pc = read_str(d, "pids.current");
	if (pc && strtoll(pc, NULL, 10) == 0)
		return false;
	return procs_walk(d, NULL) > 0;
}

static bool dir_populated(const struct zone_cgroup *cg, const char *d)
{
	return zone_cgroup_dir_populated(d, cg->v2);
}

bool zone_cgroup_populated(struct zone_cgroup *cg)
{
	const char *d = census_dir(cg);
	return d && dir_populated(cg, d);
}

bool zone_cgroup_payload_populated(struct zone_cgroup *cg)
{
	const char *d = census_dir(cg);
	for (size_t i = 0; d && i < cg->ndirs; i++)
		if (cg->dirs[i] == d)
			return dir_populated(cg, cg->payload[i]);
	return false;
}

static void kill_one(pid_t pid)
{
	if (pid > 1)
		kill(pid, SIGKILL);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int zone_cgroup_kill(struct zone_cgroup *cg, int timeout_ms,
		     struct hull_err *err)
{
	const char *d = census_dir(cg);
	if (!d || !hull_is_dir(d))
		return 0;
	/* A stopped zone's kept tree is empty: nothing to freeze. */
	if (!zone_cgroup_populated(cg))
		return 0;
	const char *fz = zone_cgroup_dir(cg, "freezer");
	bool v2kill = cg->v2 && has_file(d, "cgroup.kill");
	for (int waited = 0;; waited += 10) {
		if (v2kill) {
			write_str(d, "cgroup.kill", "1", NULL);
		} else {
			/* Freeze first so a fork bomb cannot outrun the killer;
			 * SIGKILL is delivered to frozen tasks once thawed. */
			if (fz && hull_is_dir(fz))
				write_str(fz, "freezer.state", "FROZEN", NULL);
			procs_walk(d, kill_one);
			if (fz && hull_is_dir(fz))
				write_str(fz, "freezer.state", "THAWED", NULL);
		}
		if (!zone_cgroup_populated(cg))
			return 0;
		if (waited >= timeout_ms)
			return hull_err_set(
			    err, EBUSY,
			    "cgroup %s: processes remain after SIGKILL",
			    cg->rel);
		sleep_ms(10);
	}
}

static int rmdir_tree(const char *dir)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
		rmdir_tree(sub);
	}
	closedir(dh);
	for (int i = 0; i < 50; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		sleep_ms(
		    10); /* exiting tasks leave the cgroup asynchronously */
	}
	return -EBUSY;
}

int zone_cgroup_empty(struct zone_cgroup *cg, struct hull_err *err)
{
	int r = zone_cgroup_kill(cg, 5000, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cg->ndirs; i++) {
		DIR *dh = opendir(cg->payload[i]);
		if (!dh)
			continue;
		struct dirent *de;
		while ((de = readdir(dh))) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			_cleanup_free_ char *sub =
			    xasprintf("%s/%s", cg->payload[i], de->d_name);
			if ((r = rmdir_tree(sub)) < 0) {
				closedir(dh);
				return hull_err_sys(err, -r, "cgroup: rmdir %s",
						    sub);
			}
		}
		closedir(dh);
	}
	return 0;
}

int zone_cgroup_destroy(struct zone_cgroup *cg, struct hull_err *err)
{
	int r = zone_cgroup_kill(cg, 5000, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cg->ndirs; i++) {
		if ((r = rmdir_tree(cg->dirs[i])) < 0)
			return hull_err_sys(err, -r, "cgroup: rmdir %s",
					    cg->dirs[i]);
	}
	return 0;
}

static int64_t oom_kills_in(const char *dir, bool v2)
{
	_cleanup_free_ char *s =
	    read_str(dir, v2 ? "memory.events" : "memory.oom_control");
	char *p = s ? strstr(s, "oom_kill ") : NULL;
	return p ? strtoll(p + 9, NULL, 10) : 0;
}

/* v1 counts an OOM kill only in the victim's own cgroup: sum the tree. */
static int64_t oom_kills_tree(const char *dir)
{
	int64_t n = oom_kills_in(dir, false);
	DIR *dh = opendir(dir);
	if (!dh)
		return n;
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
		n += oom_kills_tree(sub);
	}
	closedir(dh);
	return n;
}

int64_t zone_cgroup_oom_kills(struct zone_cgroup *cg)
{
	const char *d = zone_cgroup_dir(cg, "memory");
	if (!d)
		return 0;
	/* v2's memory.events is hierarchical already. */
	return cg->v2 ? oom_kills_in(d, true) : oom_kills_tree(d);
}
