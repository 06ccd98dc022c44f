/*
 * cgroupfs.h - the host's cgroup hierarchies, reachable at /sys/fs/cgroup
 * in this process wherever it was started.
 *
 * `ip netns exec NS CMD` runs CMD in a mount namespace of its own with a
 * fresh sysfs on /sys (the new network namespace's), on which nothing is
 * mounted at /sys/fs/cgroup. The hierarchies still exist and CMD is still
 * in them (/proc/self/cgroup lists them); only their mounts are missing.
 * hull_cgroupfs_ensure() mounts them again, privately: mounting a v1
 * hierarchy with the same controllers, or cgroup2, reaches the very
 * hierarchy the host uses, so what hull makes there is in the host's tree.
 */
#ifndef HULL_CGROUPFS_H
#define HULL_CGROUPFS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define HULL_CGROUP_ROOT "/sys/fs/cgroup"

#define HULL_CGROUPFS_MAX 16

/* The hierarchies a process is in, from /proc/self/cgroup. */
struct hull_cgroupfs_layout {
	size_t n;
	/* each v1 hierarchy's controllers, which are also its mount options:
	 * "memory", "cpu,cpuacct", "name=systemd" */
	char v1[HULL_CGROUPFS_MAX][128];
	bool v2; /* the unified hierarchy ("0::") is listed */
};

/* Parses the text of /proc/<pid>/cgroup ("<id>:<controllers>:<path>" per
 * line). Pure. Returns 0, or -EINVAL for a line of another shape or more
 * than HULL_CGROUPFS_MAX hierarchies. */
int hull_cgroupfs_parse(const char *text, size_t len,
			struct hull_cgroupfs_layout *out);

/* Does /sys/fs/cgroup show the hierarchies (cgroup2 mounted there, or a
 * v1 hierarchy below it)? */
bool hull_cgroupfs_mounted(void);

/* Makes sure hull_cgroupfs_mounted() holds: when it does not, moves this
 * process into a mount namespace of its own (a slave of the one it had:
 * the caller's mounts still show, its own go nowhere) and mounts there,
 * at the places a host has them, every hierarchy /proc/self/cgroup lists
 * (v1 ones on a tmpfs, each controller of a shared hierarchy a symlink to
 * it, the unified one as "unified"; a host with the unified hierarchy
 * alone gets cgroup2 on /sys/fs/cgroup itself). Children started later
 * inherit the namespace. Needs CAP_SYS_ADMIN and a single-threaded
 * process in that case; the outcome is kept for the process's life.
 * Returns 0 or a negative code with the reason in err. */
int hull_cgroupfs_ensure(struct hull_err *err);

#endif
