/*
 * ns.h - namespaces: creating a process in new ones (clone3) and joining
 * those of a running zone (setns).
 */
#ifndef HULL_ZONE_NS_H
#define HULL_ZONE_NS_H
#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"

/* The namespaces every zone gets (user namespaces are separate). */
#define ZONE_NS_FLAGS                                                          \
	(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |            \
	 CLONE_NEWNET)

/* fork() into new namespaces: returns the child's pid in the parent, 0 in the
 * child, -errno on failure. */
pid_t zone_ns_clone(unsigned long flags);

/* The same, born in the cgroup v2 directory cgroup_fd (CLONE_INTO_CGROUP:
 * no migration, so none of the cgroup_threadgroup_rwsem write lock whose
 * RCU grace period a migration waits for); *placed says whether it was.
 * Where the kernel cannot (before 5.7), the child is born in the caller's
 * cgroup and *placed is false. */
pid_t zone_ns_clone_into(unsigned long flags, int cgroup_fd, bool *placed);

/* The namespaces of pid, opened (O_CLOEXEC) in the order they must be
 * joined: user (when it differs from ours), cgroup, ipc, uts, net, pid,
 * mnt last (it changes root and cwd). */
#define ZONE_NS_COUNT 7
struct zone_ns_fds {
	int fd[ZONE_NS_COUNT];
	int type[ZONE_NS_COUNT];
	size_t n;
};
int zone_ns_open(pid_t pid, struct zone_ns_fds *ns, struct hull_err *err);
/* Joins those whose type is in `types` (CLONE_NEW* flags); the caller is
 * single-threaded. After joining the pid namespace a fork() lands in it. */
int zone_ns_enter(struct zone_ns_fds *ns, int types, struct hull_err *err);
void zone_ns_close(struct zone_ns_fds *ns);
#endif
