/*
 * userns.h - starting a zone in a user namespace of its own.
 *
 * Three processes, so that the zone's namespaces belong to its user
 * namespace while the mounts that protect the host are locked
 * (mount_namespaces(7)):
 *
 *  1. a helper, cloned into a new mount namespace (the host's user
 *     namespace owns it), unshares a user namespace; the supervisor writes
 *     its uid and gid maps (0..count-1 onto the zone's host range; written
 *     by a privileged process, so setgroups(2) stays allowed inside); the
 *     helper becomes that namespace's root, unshares the pid, net, uts
 *     and ipc namespaces (owned by the new user namespace) and forks init
 *     as the supervisor's child (CLONE_PARENT), pid 1 of the zone;
 *  2. a mounter, the host's root, joins init's mount, net and pid
 *     namespaces and builds the zone's filesystem exactly as for any zone
 *     (the root through an idmapped mount, so the image keeps its
 *     ownership on disk); its pivot_root moves init's root too;
 *  3. init then unshares its mount namespace: the copy belongs to the
 *     zone's user namespace, so the kernel locks every mount in it. The
 *     zone root, with CAP_SYS_ADMIN there, can mount and unmount its own
 *     mounts but can neither remove the masks over /proc and /sys, nor
 *     lift the read-only binds, nor mount a fresh procfs or sysfs beside
 *     them (refused while the visible one is partly covered by locked
 *     mounts).
 */
#ifndef HULL_ZONE_USERNS_H
#define HULL_ZONE_USERNS_H
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"

/* Writes /proc/<pid>/uid_map and gid_map: "0 uid count", "0 gid count". */
int zone_userns_write_maps(pid_t pid, uint32_t uid, uint32_t gid,
			   uint32_t count, struct hull_err *err);
/* For a process inside the zone's user namespace whose ids are still the
 * host's root (unmapped there): uid and gid 0, no supplementary groups,
 * parent-death signal kept. */
int zone_userns_root_ids(struct hull_err *err);
/* clone(CLONE_PARENT): the child is our parent's child. 0 in the child,
 * its pid in the caller, -errno. */
pid_t zone_userns_fork_sibling(void);
#endif
