/*
 * rootfs.c - pivot_root into the instance root and mount what a zone sees.
 *
 * joyent and lx zones get /proc, /dev, /sys (read-only) with their own
 * cgroup tree writable under /sys/fs/cgroup (systemd needs it), and tmpfs
 * on /run, /run/lock and /tmp; joyent-minimal gets /proc and /dev only.
 */
#include "zone/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "lib/xalloc.h"
#include <stdlib.h>
#include "zone/dev.h"
#include "zone/mask.h"

static struct {
	bool set;
	int user_fd;
	uid_t uid;
	gid_t gid;
	char tmpfs[64];
} owner = {.user_fd = -1};

void zone_rootfs_set_owner(int user_fd, uid_t uid, gid_t gid)
{
	owner.set = true;
	owner.user_fd = user_fd;
	owner.uid = uid;
	owner.gid = gid;
	snprintf(owner.tmpfs, sizeof(owner.tmpfs), ",uid=%u,gid=%u",
		 (unsigned)uid, (unsigned)gid);
}

int zone_rootfs_owner_userns(void)
{
	return owner.set ? owner.user_fd : -1;
}

const char *zone_rootfs_tmpfs_owner(void)
{
	return owner.set ? owner.tmpfs : "";
}

gid_t zone_rootfs_tty_gid(void)
{
	return owner.set ? owner.gid + 5 : 5;
}

/* Creating in an idmapped root needs a file system id the mount maps
 * (the host's root is not one of the zone's ids): act as the zone's root
 * for the call. (setfsuid to non-zero drops the file capabilities; back at
 * 0 they return.) */
static void as_zone_root(bool on)
{
	if (!owner.set)
		return;
	setfsgid(on ? owner.gid : 0);
	setfsuid(on ? owner.uid : 0);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				return 0;
		}
	}
}

int zone_mkdir_p(const char *path, mode_t mode)
{
	as_zone_root(true);
	int r = mkdir_p(path, mode);
	as_zone_root(false);
	return r;
}

/* The instance root onto itself: a plain bind, or for a userns zone a
 * clone made idmapped through the zone's user namespace. */
static int bind_root(const char *root, struct hull_err *err)
{
	if (!owner.set) {
		if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
			return hull_err_sys(err, errno, "bind %s", root);
		return 0;
	}
	int t = open_tree(AT_FDCWD, root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (t < 0)
		return hull_err_sys(err, errno, "clone %s", root);
	struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV,
			       .userns_fd = (uint64_t)owner.user_fd};
	int r = 0;
	if (mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
		r = hull_err_sys(err, errno,
				 "idmapped mount of %s (the pool's file system "
				 "must support idmapped mounts)",
				 root);
	else if (move_mount(t, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		r = hull_err_sys(err, errno, "mount %s", root);
	close(t);
	return r;
}

int zone_rootfs_pivot(const char *root, struct hull_err *err)
{
	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return hull_err_sys(err, errno, "make / private");
	int r = bind_root(root, err);
	if (r < 0)
		return r;
	/* Device nodes in an image are not honoured; /dev is ours. */
	if (mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_NODEV, NULL) < 0)
		return hull_err_sys(err, errno, "remount %s nodev", root);
	if (chdir(root) < 0)
		return hull_err_sys(err, errno, "chdir %s", root);
	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching "." then drops it without needing a directory for it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return hull_err_sys(err, errno, "pivot_root %s", root);
	if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return hull_err_sys(err, errno, "make old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		return hull_err_sys(err, errno, "detach old root");
	if (chdir("/") < 0)
		return hull_err_sys(err, errno, "chdir /");
	return 0;
}

/* Writes a regular file hull owns, replacing a symlink rather than
 * following it. */
static int write_owned(const char *path, const char *text, struct hull_err *err)
{
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && unlink(path) < 0)
		return hull_err_sys(err, errno, "unlink %s", path);
	as_zone_root(true);
	int fd = open(
	    path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	as_zone_root(false);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len)
		return hull_err_sys(err, n < 0 ? e : EIO, "write %s", path);
	return 0;
}

int zone_rootfs_write_etc(const struct zone_config *cfg, struct hull_err *err)
{
	int r;
	if (cfg->resolvers && cfg->resolvers[0]) {
		zone_mkdir_p("/etc", 0755);
		char buf[4096];
		size_t off = 0;
		if (cfg->dns_domain)
			off += snprintf(buf + off, sizeof(buf) - off,
					"search %s\n", cfg->dns_domain);
		for (char **p = cfg->resolvers; *p && off < sizeof(buf); p++)
			off += snprintf(buf + off, sizeof(buf) - off,
					"nameserver %s\n", *p);
		if (off >= sizeof(buf))
			return hull_err_set(err, E2BIG, "resolvers: too many");
		if ((r = write_owned("/etc/resolv.conf", buf, err)) < 0)
			return r;
	}
	return 0;
}

int zone_mountpoint_check(const char *dst, struct hull_err *err)
{
	/* A symlink in the image could lay a mount over /proc (hiding an
	 * unmasked procfs beneath it, there for the taking by a zone root
	 * that unmounts); mount only on real folders, reached without one. */
	char *real = realpath(dst, NULL);
	bool ok = real && strcmp(real, dst) == 0;
	free(real);
	if (!ok)
		return hull_err_set(err, ELOOP,
				    "the image's %s is a symbolic link or "
				    "lies under one",
				    dst);
	return 0;
}

/* One step of zone_rootfs_open_in_root: name in the folder dfd, never
 * through a symbolic link (a trailing one included: ELOOP). */
static int open_step(int dfd, const char *name, bool dir)
{
	struct open_how how = {
	    .flags = O_PATH | O_CLOEXEC | (dir ? O_DIRECTORY : 0),
	    .resolve =
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int zone_rootfs_open_in_root(const char *path, bool dir, struct hull_err *err)
{
	char buf[4096];
	if (path[0] != '/' ||
	    snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return hull_err_set(err, EINVAL, "%s: not an absolute path",
				    path);
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open /");
	char *save = NULL;
	char *comp = strtok_r(buf, "/", &save);
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		bool want_dir = next || dir;
		int nfd = open_step(fd, comp, want_dir);
		if (nfd == -ENOENT) {
			/* Made as the zone's root: the zone owns its tree. */
			as_zone_root(true);
			int c = want_dir ? mkdirat(fd, comp, 0755)
					 : openat(fd, comp,
						  O_WRONLY | O_CREAT | O_EXCL |
						      O_NOFOLLOW | O_CLOEXEC,
						  0644);
			int e = errno;
			as_zone_root(false);
			if (!want_dir && c >= 0)
				close(c);
			if (c < 0 && e != EEXIST) {
				close(fd);
				return hull_err_sys(err, e, "create %s", path);
			}
			nfd = open_step(fd, comp, want_dir);
		}
		close(fd);
		if (nfd == -ELOOP)
			return hull_err_set(err, ELOOP,
					    "%s is a symbolic link or lies "
					    "under one",
					    path);
		if (nfd < 0)
			return hull_err_sys(err, -nfd, "open %s", path);
		fd = nfd;
		comp = next;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 ||
	    (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		close(fd);
		return hull_err_set(err, dir ? ENOTDIR : EINVAL,
				    "%s is not a %s", path,
				    dir ? "folder" : "regular file");
	}
	return fd;
}

static int mnt(const char *src, const char *dst, const char *type,
	       unsigned long flags, const char *data, struct hull_err *err)
{
	int r = zone_mkdir_p(dst, 0755);
	if (r < 0)
		return hull_err_sys(err, -r, "mkdir %s", dst);
	if ((r = zone_mountpoint_check(dst, err)) < 0)
		return r;
	_cleanup_free_ char *owned = NULL;
	if (owner.set && type && strcmp(type, "tmpfs") == 0)
		data = owned = xasprintf("%s%s", data ? data : "", owner.tmpfs);
	if (mount(src, dst, type, flags, data) < 0)
		return hull_err_sys(err, errno, "mount %s on %s",
				    type ? type : src, dst);
	return 0;
}

/* The zone's own cgroup tree. The caller unshared the cgroup namespace
 * after joining the zone's cgroup, so each mount shows that cgroup as its
 * root, writable, as systemd expects of a container. */
static int mount_cgroups(bool v2, struct hull_err *err)
{
	const unsigned long f = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (v2)
		return mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", f, NULL,
			   err);
	int r;
	if ((r = mnt("tmpfs", "/sys/fs/cgroup", "tmpfs", f, "mode=755,size=64k",
		     err)) < 0)
		return r;
	static const char *const ctl[] = {
	    "cpu",     "cpuacct", "cpuset", "memory",
	    "devices", "freezer", "blkio",  "pids",
	};
	for (size_t i = 0; i < sizeof(ctl) / sizeof(*ctl); i++) {
		_cleanup_free_ char *dst =
		    xasprintf("/sys/fs/cgroup/%s", ctl[i]);
		if (mnt("cgroup", dst, "cgroup", f, ctl[i], NULL) < 0)
			rmdir(dst); /* the host lacks this controller */
	}
	if ((r = mnt("cgroup", "/sys/fs/cgroup/systemd", "cgroup", f,
		     "none,name=systemd", err)) < 0)
		return r;
	mnt("cgroup2", "/sys/fs/cgroup/unified", "cgroup2", f, NULL, NULL);
	_cleanup_free_ char *data =
	    xasprintf("mode=755,size=64k%s", zone_rootfs_tmpfs_owner());
	if (mount(NULL, "/sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | f,
		  data) < 0)
		return hull_err_sys(err, errno, "remount /sys/fs/cgroup ro");
	return 0;
}

int zone_rootfs_mount(const struct zone_config *cfg, int console_fd,
		      bool cgroup_v2, struct hull_err *err)
{
	int r;
	if ((r = mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     NULL, err)) < 0)
		return r;
	if ((r = zone_dev_populate(console_fd, err)) < 0)
		return r;
	bool minimal = cfg->brand == ZONE_BRAND_JOYENT_MINIMAL;
	if (!minimal) {
		if ((r = mnt("sysfs", "/sys", "sysfs",
			     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
			     err)) < 0)
			return r;
		if ((r = mount_cgroups(cgroup_v2, err)) < 0)
			return r;
		if ((r = mnt("tmpfs", "/run", "tmpfs",
			     MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=755",
			     err)) < 0)
			return r;
		/* systemd (252 and later) must find /run/lock mounted: it
		 * cannot mount it itself without CAP_SYS_ADMIN. */
		if ((r = mnt("tmpfs", "/run/lock", "tmpfs",
			     MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME,
			     "mode=1777,size=5m", err)) < 0)
			return r;
		if ((r = mnt("tmpfs", "/tmp", "tmpfs",
			     MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=1777",
			     err)) < 0)
			return r;
	}
	return zone_mask_apply(err);
}
