/*
 * dev.c - a zone's /dev, made from scratch in a tmpfs.
 *
 * The nodes are created with mknod (the devices cgroup on v1 hosts allows
 * exactly these); the console is the supervisor's pty slave, cloned as a
 * detached mount (open_tree) before the pivot, because the host's devpts is
 * unreachable afterwards, and moved onto /dev/console here.
 */
#include "zone/dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zone/rootfs.h"

static const struct {
	const char *path;
	unsigned maj, min;
	mode_t mode;
} nodes[] = {
    {"/dev/null", 1, 3, 0666},	  {"/dev/zero", 1, 5, 0666},
    {"/dev/full", 1, 7, 0666},	  {"/dev/random", 1, 8, 0666},
    {"/dev/urandom", 1, 9, 0666}, {"/dev/tty", 5, 0, 0666},
};

static const struct {
	const char *target, *path;
} links[] = {
    {"/proc/self/fd", "/dev/fd"},	{"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
    {"pts/ptmx", "/dev/ptmx"},		{"/proc/kcore", "/dev/core"},
};

int zone_dev_populate(int console_fd, struct hull_err *err)
{
	int r = zone_mkdir_p("/dev", 0755);
	if (r < 0)
		return hull_err_sys(err, -r, "mkdir /dev");
	if ((r = zone_mountpoint_check("/dev", err)) < 0)
		return r;
	char data[128];
	snprintf(data, sizeof(data), "mode=755,size=65536k%s",
		 zone_rootfs_tmpfs_owner());
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, data) <
	    0)
		return hull_err_sys(err, errno, "mount tmpfs on /dev");
	mode_t old = umask(0);
	for (size_t i = 0; i < sizeof(nodes) / sizeof(*nodes); i++) {
		if (mknod(nodes[i].path, S_IFCHR | nodes[i].mode,
			  makedev(nodes[i].maj, nodes[i].min)) < 0) {
			umask(old);
			return hull_err_sys(err, errno, "mknod %s",
					    nodes[i].path);
		}
	}
	umask(old);
	for (size_t i = 0; i < sizeof(links) / sizeof(*links); i++)
		if (symlink(links[i].target, links[i].path) < 0)
			return hull_err_sys(err, errno, "symlink %s",
					    links[i].path);
	snprintf(data, sizeof(data),
		 "newinstance,ptmxmode=0666,mode=0620,gid=%u",
		 (unsigned)zone_rootfs_tty_gid());
	if (mkdir("/dev/pts", 0755) < 0 ||
	    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, data) <
		0)
		return hull_err_sys(err, errno, "mount devpts");
	snprintf(data, sizeof(data), "mode=1777,size=65536k%s",
		 zone_rootfs_tmpfs_owner());
	if (mkdir("/dev/shm", 01777) < 0 ||
	    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, data) < 0)
		return hull_err_sys(err, errno, "mount /dev/shm");
	mkdir("/dev/mqueue", 0755);
	if (console_fd >= 0) {
		int fd =
		    open("/dev/console", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return hull_err_sys(err, errno, "create /dev/console");
		close(fd);
		if (syscall(SYS_move_mount, console_fd, "", AT_FDCWD,
			    "/dev/console", MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return hull_err_sys(err, errno, "bind console");
	}
	return 0;
}
