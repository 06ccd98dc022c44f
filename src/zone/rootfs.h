/*
 * rootfs.h - the zone's filesystem view, built inside its mount namespace.
 *
 * Order matters (see zone_child_run): pivot into the root first, so every
 * path below is resolved inside the zone's root and a symlink planted in an
 * image cannot point a mount or a write at the host; write the files hull
 * owns (resolv.conf) before /proc and /sys exist, so a symlink cannot aim
 * them at a kernel tunable; then mount the pseudo filesystems.
 */
#ifndef HULL_ZONE_ROOTFS_H
#define HULL_ZONE_ROOTFS_H
#include <stdbool.h>
#include "lib/err.h"
#include "zone/config.h"

/*
 * For a zone in a user namespace (userns.h), called in the child before
 * the pivot: user_fd is the zone's user namespace, uid and gid the host
 * ids of its root. The root is then mounted idmapped through user_fd (the
 * image keeps its ownership on disk), what hull creates in the image is
 * created as the zone's root, and the tmpfs and devpts mounts belong to
 * it. Without this call (the default) everything is the host's root's.
 */
void zone_rootfs_set_owner(int user_fd, uid_t uid, gid_t gid);
/* The user namespace descriptor given to zone_rootfs_set_owner, or -1. */
int zone_rootfs_owner_userns(void);
/* ",uid=U,gid=G" for a tmpfs of a userns zone, else "". */
const char *zone_rootfs_tmpfs_owner(void);
/* The host gid of the zone's tty group (5), for devpts. */
gid_t zone_rootfs_tty_gid(void);

/* Makes every mount private, binds root onto itself (nodev), pivots into it
 * and detaches the old root. cwd is "/" afterwards. */
int zone_rootfs_pivot(const char *root, struct hull_err *err);
/* /etc/resolv.conf from resolvers (when there are any) and the hostname
 * where the zone reads it (joyent /etc/nodename; lx /etc/hostname, an
 * /etc/hosts line, Red Hat's /etc/sysconfig/network), each replaced by a
 * file renamed over it in a folder reached without symbolic links. */
int zone_rootfs_write_etc(const struct zone_config *cfg, struct hull_err *err);
/* proc, dev (see dev.h), sys (read-only), cgroup tree, /run and /tmp,
 * masked paths. console_fd is the pty slave bound onto /dev/console;
 * cgroup_v2 says what the host has (decided before the pivot). */
int zone_rootfs_mount(const struct zone_config *cfg, int console_fd,
		      bool cgroup_v2, struct hull_err *err);
/* Fails (ELOOP) unless dst, an absolute path in the current root, is
 * reached without following a symbolic link. */
int zone_mountpoint_check(const char *dst, struct hull_err *err);
/* An O_PATH descriptor of path, absolute in the current root, reached
 * without following any symbolic link; missing folders on the way (and the last
 * one, or an empty regular file when !dir) are created as the zone's root.
 * Fails unless the last component is a folder (dir) or a regular file (!dir).
 */
int zone_rootfs_open_in_root(const char *path, bool dir, struct hull_err *err);
/* mkdir -p of an absolute path, inside the current root. */
int zone_mkdir_p(const char *path, mode_t mode);
#endif
