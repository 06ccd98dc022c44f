/*
 * cgroup.h - one cgroup per zone, on cgroup v2 hosts and on v1/hybrid hosts.
 *
 * The zone's cgroup is <parent>/<uuid>; parent is "hull" or
 * $HULL_CGROUP_PARENT. On v1 the same relative path is made in every
 * mounted hierarchy (and in the v2 tree of a hybrid host, which systemd
 * inside a zone uses for its own tracking).
 *
 * Limits are written on <parent>/<uuid>; the zone's processes live one
 * level down, in <parent>/<uuid>/zone, which is the root of the zone's
 * cgroup namespace. The zone may write its own tree (systemd does), but
 * what it can reach is below the limits, so it cannot lift them.
 */
#ifndef HULL_ZONE_CGROUP_H
#define HULL_ZONE_CGROUP_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"
#include "zone/config.h"

#define ZONE_CGROUP_MAX_DIRS 16

struct zone_cgroup {
	bool v2;   /* pure v2 host */
	char *rel; /* "<parent>/<uuid>" */
	size_t ndirs;
	/* absolute paths of the zone's cgroup, in each hierarchy */
	char *dirs[ZONE_CGROUP_MAX_DIRS];
	/* dirs[i]/zone: where the zone's tasks go */
	char *payload[ZONE_CGROUP_MAX_DIRS];
	/* controller of each (v1), "" for v2 */
	char *ctl[ZONE_CGROUP_MAX_DIRS];
	/* zone_cgroup_create made the limits level (it did not exist) */
	bool fresh;
	/* why no hierarchy could be reached (ndirs is 0), else NULL */
	char *unavailable;
};

/* Fills cg with the paths for uuid (nothing is created). Where
 * /sys/fs/cgroup shows no hierarchy, as under `ip netns exec`, the first
 * call in a process mounts them in a mount namespace of the process's own
 * (hull_cgroupfs_ensure(), lib/cgroupfs.h); where that fails, cg has no
 * folder and zone_cgroup_create fails with the reason. */
void zone_cgroup_init(struct zone_cgroup *cg, const char *uuid);
void zone_cgroup_fini(struct zone_cgroup *cg);
/* The cgroup parent in use ("hull" or $HULL_CGROUP_PARENT). */
const char *zone_cgroup_parent(void);
/* Makes the cgroup in every hierarchy; fails, making nothing, where the
 * hierarchies are unreachable or (v1) cpu, memory or pids is missing. */
int zone_cgroup_create(struct zone_cgroup *cg, struct hull_err *err);
/* A zone's device whitelist: v1 writes it when it makes the cgroup (the
 * devices controller refuses a new one once there are children); v2, which
 * has no such controller, attaches it here as a device program
 * (devfilter.h), on a cgroup zone_cgroup_create just made. */
int zone_cgroup_devices_limit(struct zone_cgroup *cg, struct hull_err *err);
/* The same with extra whitelist lines: a VMM's hull adds /dev/kvm and its
 * disks that are device nodes (src/hvm/vmmzone.c). */
int zone_cgroup_devices_limit_with(struct zone_cgroup *cg,
				   const char *const *extra, size_t nextra,
				   struct hull_err *err);
#define ZONE_CGROUP_PAYLOAD "zone"
/* Moves pid, which must be single-threaded (a freshly cloned init), into
 * the zone's cgroup (its payload level) in every hierarchy. */
int zone_cgroup_attach(struct zone_cgroup *cg, pid_t pid, struct hull_err *err);
/* Moves pid, which must be single-threaded, into the leaf
 * <parent>/<uuid>/<name>, made here in every hierarchy: a helper process
 * of the instance (its metadata server) charged to the instance's limits,
 * beside the zone's tree and out of the zone's reach. zone_cgroup_kill
 * and zone_cgroup_destroy take it with the rest. */
/*
 * A process that joins its cgroups by itself. A task that moves itself
 * ("0") through a v1 `tasks` file skips the kernel's
 * cgroup_threadgroup_rwsem, whose write side waits for an RCU grace period
 * (about 10 ms) whenever a parent moves a child by pid or any process
 * moves through cgroup.procs; a v2 directory can instead be joined at
 * birth (zone_ns_clone_into, CLONE_INTO_CGROUP), with no migration at all.
 * zone_cgroup_join_open opens, before the fork, the join file of every
 * hierarchy (and the v2 directory) of the zone's payload cgroup, or of
 * leaf name (made as zone_cgroup_attach_leaf makes it); the child calls
 * zone_cgroup_join_self, which allocates nothing. On a failure (-1, the
 * descriptors closed) the parent attaches the child by pid as before.
 */
struct zone_cgroup_join {
	int fd[ZONE_CGROUP_MAX_DIRS]; /* join files, write-only */
	size_t n;
	int v2_fd;   /* which of fd is the v2 cgroup.procs, or -1 */
	int v2_dir;  /* the v2 directory, for CLONE_INTO_CGROUP, or -1 */
	bool placed; /* the child was born in v2_dir */
};
int zone_cgroup_join_open(struct zone_cgroup *cg, const char *leaf,
			  struct zone_cgroup_join *j);
/* In the child: writes "0" to every join file (but v2's when skip_v2);
 * -1 with errno on a failure. */
int zone_cgroup_join_self(const struct zone_cgroup_join *j, bool skip_v2);
void zone_cgroup_join_close(struct zone_cgroup_join *j);

int zone_cgroup_attach_leaf(struct zone_cgroup *cg, const char *name, pid_t pid,
			    struct hull_err *err);
/* The file that moves a single-threaded process into hierarchy i:
 * "tasks" on v1, whose one-thread move skips the kernel's global
 * threadgroup lock (an RCU grace period, ~10 ms, on every cgroup.procs
 * write), and "cgroup.procs" on v2, which has no such file. */
const char *zone_cgroup_join_file(const struct zone_cgroup *cg, size_t i);
/* Hands the payload level (the root of the zone's cgroup namespace) and
 * every file in it to uid/gid in every hierarchy, for a zone whose root
 * is that host uid (a user namespace): systemd inside makes and fills its
 * own cgroups below. The limits one level up stay the host's. */
int zone_cgroup_delegate(struct zone_cgroup *cg, uid_t uid, gid_t gid,
			 struct hull_err *err);
/* v2: the folder of pid's cgroup when it lies strictly below the zone's
 * payload level (a process of the zone that its own init moved there, as
 * systemd moves itself to init.scope), else NULL. Once the zone enables
 * controllers below its root, the root is an inner node that no process
 * may join (EBUSY); zlogin joins init's cgroup instead. */
char *zone_cgroup_of_pid(const struct zone_cgroup *cg, pid_t pid);
/* Writes the limits that are set (>= 0). */
int zone_cgroup_limits_apply(struct zone_cgroup *cg,
			     const struct inst_limits *l, struct hull_err *err);
/* Does the cgroup (or a descendant) hold a process? */
bool zone_cgroup_populated(struct zone_cgroup *cg);
/* Does its payload level (the zone's init and its tree, a VM's emulator)
 * hold a process? Helpers in leaves beside it (the boot loader, the
 * metadata server) do not count. */
bool zone_cgroup_payload_populated(struct zone_cgroup *cg);
/* The folder zone_cgroup_populated() reads (the pids hierarchy's, or the
 * first), or NULL. */
const char *zone_cgroup_census_dir(struct zone_cgroup *cg);
/* Whether the census folder d (zone_cgroup_census_dir, of a v2 tree or
 * not) or anything below it holds a process. */
bool zone_cgroup_dir_populated(const char *d, bool v2);
/* SIGKILLs everything in it (cgroup.kill, or freeze + kill on v1) and waits
 * up to timeout_ms for it to be empty. */
int zone_cgroup_kill(struct zone_cgroup *cg, int timeout_ms,
		     struct hull_err *err);
/* Kills what is left and removes what the zone made below its payload
 * level (systemd's slices), keeping the tree hull made for the next boot
 * (a stopped zone's). */
int zone_cgroup_empty(struct zone_cgroup *cg, struct hull_err *err);
/* Kills what is left and removes the cgroup (descendants first) in every
 * hierarchy; a missing cgroup is fine. */
int zone_cgroup_destroy(struct zone_cgroup *cg, struct hull_err *err);
/* OOM kills inside the zone so far. */
int64_t zone_cgroup_oom_kills(struct zone_cgroup *cg);
/* The memory cgroup's directory (for reading usage), or NULL. */
const char *zone_cgroup_dir(struct zone_cgroup *cg, const char *controller);
#endif
