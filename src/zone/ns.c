/*
 * ns.c - clone3 into fresh namespaces, setns into a zone's.
 */
#include "zone/ns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

pid_t zone_ns_clone(unsigned long flags)
{
	return zone_ns_clone_into(flags, -1, NULL);
}

pid_t zone_ns_clone_into(unsigned long flags, int cgroup_fd, bool *placed)
{
	if (placed)
		*placed = false;
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	args.flags = flags;
	args.exit_signal = SIGCHLD;
	long r;
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
		r = syscall(SYS_clone3, &args, sizeof(args));
		if (r >= 0 && placed)
			*placed = true;
		if (r >= 0 || (errno != EINVAL && errno != ENOSYS &&
			       errno != E2BIG && errno != EOPNOTSUPP))
			return r < 0 ? -errno : (pid_t)r;
		/* a kernel before 5.7: the caller attaches the child */
		args.flags = flags;
		args.cgroup = 0;
	}
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r < 0 && errno == ENOSYS) {
		/* Kernels before 5.3: clone(2) with a fork-like stack. */
		r = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
	}
	return r < 0 ? -errno : (pid_t)r;
}

static const struct {
	const char *name;
	int type;
} ns_order[ZONE_NS_COUNT] = {
    {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},	  {"pid", CLONE_NEWPID},
    {"mnt", CLONE_NEWNS},
};

static bool same_ns(const char *name, int fd)
{
	char p[64];
	struct stat a, b;
	snprintf(p, sizeof(p), "/proc/self/ns/%s", name);
	return stat(p, &a) == 0 && fstat(fd, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int zone_ns_open(pid_t pid, struct zone_ns_fds *ns, struct hull_err *err)
{
	memset(ns, 0, sizeof(*ns));
	for (size_t i = 0; i < ZONE_NS_COUNT; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid,
			 ns_order[i].name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			zone_ns_close(ns);
			return hull_err_sys(err, e, "open %s", p);
		}
		/* setns into our own user namespace is EINVAL; skip equals. */
		if (same_ns(ns_order[i].name, fd)) {
			close(fd);
			continue;
		}
		ns->fd[ns->n] = fd;
		ns->type[ns->n] = ns_order[i].type;
		ns->n++;
	}
	return 0;
}

int zone_ns_enter(struct zone_ns_fds *ns, int types, struct hull_err *err)
{
	for (size_t i = 0; i < ns->n; i++)
		if ((ns->type[i] & types) && setns(ns->fd[i], ns->type[i]) < 0)
			return hull_err_sys(err, errno, "setns(%#x)",
					    ns->type[i]);
	return 0;
}

void zone_ns_close(struct zone_ns_fds *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		if (ns->fd[i] >= 0)
			close(ns->fd[i]);
	ns->n = 0;
}
