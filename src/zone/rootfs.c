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
#include <strings.h>
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

/* The files hull writes in the zone's /etc are the zone's to change, so a
 * link the zone planted there must never carry a write elsewhere: the
 * folder is reached without following any symbolic link, and a file is
 * replaced by renaming a new one over it, never written through. */

/* The folder dir (absolute, in the zone's root), created when missing. */
static int etc_dir(const char *dir, struct hull_err *err)
{
	return zone_rootfs_open_in_root(dir, true, err);
}

/* The text of name in dfd when it is a regular file of at most `max`
 * bytes (never through a link), else NULL. */
static char *read_at(int dfd, const char *name, size_t max)
{
	int fd =
	    openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size <= max) {
		buf = xmalloc(max + 1);
		size_t off = 0;
		ssize_t n;
		while (off < max && (n = read(fd, buf + off, max - off)) > 0)
			off += (size_t)n;
		if (off >= max) { /* grew past max while read */
			free(buf);
			buf = NULL;
		} else {
			buf[off] = '\0';
		}
	}
	close(fd);
	return buf;
}

static bool exists_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

/* dir/name (dfd is dir) becomes a regular file holding text: written
 * to a fresh file beside it and renamed over it, as the zone's root. */
static int replace_at(int dfd, const char *dir, const char *name,
		      const char *text, struct hull_err *err)
{
	char tmp[256];
	if (snprintf(tmp, sizeof(tmp), ".%s.hull", name) >= (int)sizeof(tmp))
		return hull_err_set(err, ENAMETOOLONG, "%s/%s", dir, name);
	/* As the zone's root throughout: in an idmapped root only an id the
	 * mount maps may create, rename or remove. */
	as_zone_root(true);
	unlinkat(dfd, tmp, 0);
	int fd =
	    openat(dfd, tmp,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	int e = errno;
	const char *what = "create";
	if (fd >= 0) {
		size_t len = strlen(text);
		ssize_t n = write(fd, text, len);
		e = n < 0 ? errno : EIO;
		what = "write";
		if (n == (ssize_t)len && fchmod(fd, 0644) == 0) {
			what = "replace";
			e = renameat(dfd, tmp, dfd, name) < 0 ? errno : 0;
		} else if (n == (ssize_t)len) {
			e = errno;
		}
		close(fd);
		if (e)
			unlinkat(dfd, tmp, 0);
	}
	as_zone_root(false);
	if (e)
		return hull_err_sys(err, e, "%s %s/%s", what, dir, name);
	return 0;
}

static int write_etc_file(const char *dir, const char *name, const char *text,
			  struct hull_err *err)
{
	int dfd = etc_dir(dir, err);
	if (dfd < 0)
		return dfd;
	int r = replace_at(dfd, dir, name, text, err);
	close(dfd);
	return r;
}

/* The comment that marks the /etc/hosts line hull keeps. */
#define HOSTS_MARK "# hull: the zone's hostname"

/* Does a line of /etc/hosts (not ours) name host (a name after the
 * address, before any comment)? */
static bool hosts_line_names(const char *line, size_t len, const char *host)
{
	size_t hl = strlen(host), i = 0;
	for (int word = 0;; word++) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		size_t w = i;
		while (i < len && line[i] != ' ' && line[i] != '\t' &&
		       line[i] != '#')
			i++;
		if (i == w)
			return false;
		if (word > 0 && i - w == hl && !strncasecmp(line + w, host, hl))
			return true;
	}
}

/* /etc/hosts keeps what the image has; a line for the hostname is added
 * (and a previous one of ours dropped) unless one of the image's lines
 * names it already. */
static int write_hosts(const char *host, struct hull_err *err)
{
	enum { HOSTS_MAX = 1 << 20 };
	int dfd = etc_dir("/etc", err);
	if (dfd < 0)
		return dfd;
	bool had = exists_at(dfd, "hosts");
	_cleanup_free_ char *old = read_at(dfd, "hosts", HOSTS_MAX);
	if (had && !old) {
		/* Too large to rewrite whole: left as it is. */
		close(dfd);
		return 0;
	}
	if (!old)
		old = xstrdup("127.0.0.1\tlocalhost\n::1\t\tlocalhost\n");
	size_t cap = strlen(old) + strlen(host) + sizeof(HOSTS_MARK) + 32;
	_cleanup_free_ char *out = xmalloc(cap);
	size_t off = 0;
	bool named = false;
	for (const char *l = old; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		bool ours = len >= sizeof(HOSTS_MARK) - 1 &&
			    !memcmp(l + len - (sizeof(HOSTS_MARK) - 1),
				    HOSTS_MARK, sizeof(HOSTS_MARK) - 1);
		if (!ours) {
			named = named || hosts_line_names(l, len, host);
			memcpy(out + off, l, len);
			off += len;
			out[off++] = '\n';
		}
		l += len + (nl ? 1 : 0);
	}
	if (!named)
		off += snprintf(out + off, cap - off, "127.0.1.1\t%s\t%s\n",
				host, HOSTS_MARK);
	out[off] = '\0';
	int r =
	    strcmp(out, old) ? replace_at(dfd, "/etc", "hosts", out, err) : 0;
	close(dfd);
	return r;
}

/* Red Hat's /etc/sysconfig/network: HOSTNAME= is set, NETWORKING=yes
 * added when missing (services that need $network wait on it), every
 * other line kept. */
static int write_sysconfig_network(const char *host, struct hull_err *err)
{
	enum { NET_MAX = 64 << 10 };
	int dfd = etc_dir("/etc/sysconfig", err);
	if (dfd < 0)
		return dfd;
	bool had = exists_at(dfd, "network");
	_cleanup_free_ char *old = read_at(dfd, "network", NET_MAX);
	if (had && !old) {
		close(dfd);
		return 0;
	}
	if (!old)
		old = xstrdup("");
	size_t cap = strlen(old) + strlen(host) + 64;
	_cleanup_free_ char *out = xmalloc(cap);
	size_t off = 0;
	bool networking = false;
	for (const char *l = old; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (len >= 11 && !strncmp(l, "NETWORKING=", 11))
			networking = true;
		if (!(len >= 9 && !strncmp(l, "HOSTNAME=", 9))) {
			memcpy(out + off, l, len);
			off += len;
			out[off++] = '\n';
		}
		l += len + (nl ? 1 : 0);
	}
	off += snprintf(out + off, cap - off, "%sHOSTNAME=%s\n",
			networking ? "" : "NETWORKING=yes\n", host);
	int r = replace_at(dfd, "/etc/sysconfig", "network", out, err);
	close(dfd);
	return r;
}

/* The hostname where the zone's distribution reads it at boot, as
 * SmartOS's brands write it: joyent zones /etc/nodename; lx zones
 * /etc/hostname (Debian, Ubuntu, Alpine, busybox, systemd), a line in
 * /etc/hosts, and on Red Hat's family /etc/sysconfig/network. */
static int write_hostname(const struct zone_config *cfg, struct hull_err *err)
{
	_cleanup_free_ char *line = xasprintf("%s\n", cfg->hostname);
	if (cfg->brand != INST_BRAND_LX)
		return write_etc_file("/etc", "nodename", line, err);
	int r;
	if ((r = write_etc_file("/etc", "hostname", line, err)) < 0 ||
	    (r = write_hosts(cfg->hostname, err)) < 0)
		return r;
	int dfd = etc_dir("/etc", err);
	if (dfd < 0)
		return dfd;
	bool redhat = exists_at(dfd, "redhat-release");
	close(dfd);
	return redhat ? write_sysconfig_network(cfg->hostname, err) : 0;
}

int zone_rootfs_write_etc(const struct zone_config *cfg, struct hull_err *err)
{
	int r;
	if (cfg->resolvers && cfg->resolvers[0]) {
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
		if ((r = write_etc_file("/etc", "resolv.conf", buf, err)) < 0)
			return r;
	}
	return write_hostname(cfg, err);
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
	bool minimal = cfg->brand == INST_BRAND_JOYENT_MINIMAL;
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
