/*
 * btrfs.c - the btrfs backend: datasets are subvolumes, snapshots read-only
 * snapshots, clones writable snapshots (all through libbtrfsutil, constant
 * time). Space comes from the qgroups `hull init` enables, read from sysfs
 * (/sys/fs/btrfs/<fsid>/qgroups/0_<id>/, kernel 5.9+); a quota is a limit
 * on the subvolume's qgroup (BTRFS_IOC_QGROUP_LIMIT). Streams are btrfs
 * send/receive, run through btrfs-progs.
 */
#include <btrfsutil.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"
#include "pool/backend.h"
#include "pool/btrfs.h"

/* libbtrfsutil leaves errno set by the failing call. */
static int util_err(struct hull_err *err, enum btrfs_util_error e,
		    const char *what, const char *path)
{
	if (errno)
		return hull_err_sys(err, errno, "%s %s", what, path);
	return hull_err_set(err, EIO, "%s %s: %s", what, path,
			    btrfs_util_strerror(e));
}

static int b_create(struct pool *p, const char *path, struct hull_err *err)
{
	errno = 0;
	enum btrfs_util_error e =
	    btrfs_util_create_subvolume(path, 0, NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return util_err(err, e, "create subvolume", path);
	return 0;
}

static int b_snapshot(struct pool *p, const char *src, const char *dst,
		      bool readonly, struct hull_err *err)
{
	errno = 0;
	enum btrfs_util_error e = btrfs_util_create_snapshot(
	    src, dst, readonly ? BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY : 0, NULL,
	    NULL);
	if (e != BTRFS_UTIL_OK)
		return util_err(err, e, "snapshot", src);
	return 0;
}

static int b_remove(struct pool *p, const char *path, struct hull_err *err)
{
	if (!hull_path_exists(path))
		return 0;
	if (btrfs_util_is_subvolume(path) != BTRFS_UTIL_OK)
		return hull_rm_rf(path, err);
	errno = 0;
	enum btrfs_util_error e = btrfs_util_delete_subvolume(
	    path, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
	if (e != BTRFS_UTIL_OK)
		return util_err(err, e, "delete subvolume", path);
	return 0;
}

int pool_btrfs_fsid(const char *path, char out[37], struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	struct btrfs_ioctl_fs_info_args fi;
	memset(&fi, 0, sizeof(fi));
	int r = ioctl(fd, BTRFS_IOC_FS_INFO, &fi);
	int e = errno;
	close(fd);
	if (r < 0)
		return hull_err_sys(err, e, "%s: not on btrfs", path);
	const uint8_t *u = fi.fsid;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

static int read_u64(const char *path, uint64_t *out)
{
	char *buf = NULL;
	size_t len;
	if (hull_file_read(path, 64, &buf, &len, NULL) < 0)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	int r = (errno || end == buf) ? -1 : 0;
	free(buf);
	*out = v;
	return r;
}

static int b_space(struct pool *p, const char *path, struct pool_space *out,
		   struct hull_err *err)
{
	char fsid[37];
	int r = pool_btrfs_fsid(path, fsid, err);
	if (r < 0)
		return r;
	uint64_t id;
	errno = 0;
	enum btrfs_util_error e = btrfs_util_subvolume_id(path, &id);
	if (e != BTRFS_UTIL_OK)
		return util_err(err, e, "subvolume id of", path);
	_cleanup_free_ char *dir = xasprintf("/sys/fs/btrfs/%s/qgroups/0_%llu",
					     fsid, (unsigned long long)id);
	_cleanup_free_ char *rf = xasprintf("%s/referenced", dir);
	_cleanup_free_ char *ex = xasprintf("%s/exclusive", dir);
	_cleanup_free_ char *mx = xasprintf("%s/max_referenced", dir);
	if (read_u64(rf, &out->referenced) < 0 ||
	    read_u64(ex, &out->used) < 0) {
		/* Quotas off: what it references is still countable. */
		out->used = out->quota = 0;
		return pool_btrfs_referenced(path, &out->referenced, err);
	}
	if (read_u64(mx, &out->quota) < 0 || out->quota == UINT64_MAX)
		out->quota = 0;
	/* Simple quotas charge shared extents to their writer only: what a
	 * snapshot or clone sees is counted from its tree instead. */
	if (p->simple_quotas)
		return pool_btrfs_referenced(path, &out->referenced, err);
	return 0;
}

static int b_sync(struct pool *p, struct hull_err *err)
{
	errno = 0;
	enum btrfs_util_error e = btrfs_util_sync(p->root);
	if (e != BTRFS_UTIL_OK)
		return util_err(err, e, "sync", p->root);
	return 0;
}

static int b_quota_set(struct pool *p, const char *path, uint64_t bytes,
		       struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	struct btrfs_ioctl_qgroup_limit_args a;
	memset(&a, 0, sizeof(a));
	a.qgroupid = 0; /* the qgroup of the subvolume fd is in */
	a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
	/* All ones clears the limit (the kernel's CLEAR_VALUE). */
	a.lim.max_rfer = bytes ? bytes : UINT64_MAX;
	int r = ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &a);
	int e = errno;
	close(fd);
	if (r < 0 && e == ENOTCONN)
		return hull_err_set(err, ENOTSUP,
				    "quotas are off in this pool (hull init "
				    "--quota none)");
	if (r < 0)
		return hull_err_sys(err, e, "set quota");
	return 0;
}

/* Simple quotas (kernel 6.7+): usage is charged to the subvolume that
 * wrote an extent, so a snapshot needs no accounting pass. */
#ifndef BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA
#define BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA 4
#endif

int pool_btrfs_quota_enable(const char *root, bool simple, struct hull_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", root);
	struct btrfs_ioctl_quota_ctl_args a;
	memset(&a, 0, sizeof(a));
	a.cmd = simple ? BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA
		       : BTRFS_QUOTA_CTL_ENABLE;
	int r = ioctl(fd, BTRFS_IOC_QUOTA_CTL, &a);
	int e = errno;
	if (r == 0 && !simple) {
		/* Enabling starts a rescan; wait so the first figures are
		 * right. */
		while (ioctl(fd, BTRFS_IOC_QUOTA_RESCAN_WAIT) < 0 &&
		       errno == EINTR)
			;
	}
	close(fd);
	if (r < 0)
		return hull_err_sys(err, e, "enable %s quotas on %s",
				    simple ? "simple" : "full", root);
	return 0;
}

static int b_send(struct pool *p, const char *snap, const char *base,
		  const char *snap_name, const char *base_name, int fd,
		  struct hull_err *err)
{
	const char *argv[8];
	int n = 0;
	argv[n++] = "btrfs";
	argv[n++] = "-q";
	argv[n++] = "send";
	if (base) {
		argv[n++] = "-p";
		argv[n++] = base;
	}
	argv[n++] = snap;
	argv[n] = NULL;
	return hull_run((char *const *)argv, -1, fd, NULL, err);
}

/* Names in dir, for telling what a receive added. */
static char **entries(const char *dir, size_t *n)
{
	char **v = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		v = xrealloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	return v;
}

static bool in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool uuid_zero(const uint8_t u[16])
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return false;
	return true;
}

/* True when a snapshot in snapdir has the given subvolume uuid. */
static bool snapdir_has_uuid(const char *snapdir, const uint8_t u[16])
{
	DIR *d = snapdir ? opendir(snapdir) : NULL;
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_name[0] == '@')
			continue;
		_cleanup_free_ char *s = xasprintf("%s/%s", snapdir, e->d_name);
		struct btrfs_util_subvolume_info si;
		if (btrfs_util_subvolume_info(s, 0, &si) == BTRFS_UTIL_OK &&
		    memcmp(si.uuid, u, 16) == 0)
			found = true;
	}
	closedir(d);
	return found;
}

static int b_receive(struct pool *p, const char *dir, const char *snapdir,
		     int fd, char **snap_name, bool *incremental,
		     struct hull_err *err)
{
	/* btrfs receive names the new subvolume itself, inside dir; what is
	 * new in dir afterwards is what it made. A read-only subvolume
	 * cannot move to another folder, so dir is its final place. */
	size_t nb, na;
	char **before = entries(dir, &nb);
	/* Confined: its own mount, network, IPC and UTS namespaces (what it
	 * mounts or changes there goes with it), chrooted into dir (-C), so
	 * a path in the stream cannot reach anything outside it; no new
	 * privileges, and only the capabilities that replaying a stream of
	 * files needs (owners, modes, device nodes, xattrs, the chroot;
	 * CAP_SYS_ADMIN for the tree search that finds an incremental
	 * stream's parent and for security.* xattrs). -e: stop at the
	 * stream's end marker. */
	char *argv[] = {"unshare",
			"--mount",
			"--net",
			"--ipc",
			"--uts",
			"--propagation",
			"private",
			"--",
			"setpriv",
			"--no-new-privs",
			"--inh-caps=-all",
			"--bounding-set=-all,+chown,+dac_override,+dac_read_"
			"search,+fowner,+fsetid,+mknod,+sys_chroot,+sys_admin,"
			"+setfcap,+linux_immutable",
			"--",
			"btrfs",
			"-q",
			"receive",
			"-e",
			"-C",
			(char *)dir,
			NULL};
	int r = hull_run(argv, fd, -1, NULL, err);
	if (r < 0 && err && !strncmp(err->msg, "unshare: ", 9)) {
		/* Name the program that failed, not its wrapper. */
		char m[sizeof(err->msg)];
		snprintf(m, sizeof(m), "btrfs receive: %s", err->msg + 9);
		hull_err_set(err, err->code, "%s", m);
	}
	char **after = entries(dir, &na);
	char *name = NULL;
	int added = 0;
	for (size_t i = 0; i < na; i++) {
		if (in_list(before, nb, after[i]))
			continue;
		added++;
		if (!name && after[i][0] != '.' && after[i][0] != '@')
			name = xstrdup(after[i]);
		if (r < 0) {
			_cleanup_free_ char *s =
			    xasprintf("%s/%s", dir, after[i]);
			b_remove(p, s, NULL);
		}
	}
	list_free(before, nb);
	list_free(after, na);
	if (r < 0) {
		free(name);
		return r;
	}
	_cleanup_free_ char *path = name ? xasprintf("%s/%s", dir, name) : NULL;
	if (added != 1 || !name) {
		if (path)
			b_remove(p, path, NULL);
		free(name);
		return hull_err_set(
		    err, EINVAL,
		    "the stream did not hold exactly one snapshot");
	}
	struct btrfs_util_subvolume_info si;
	errno = 0;
	enum btrfs_util_error e = btrfs_util_subvolume_info(path, 0, &si);
	if (e != BTRFS_UTIL_OK) {
		r = util_err(err, e, "inspect", path);
		b_remove(p, path, NULL);
		free(name);
		return r;
	}
	/* An incremental stream is received as a snapshot of its base. */
	*incremental = !uuid_zero(si.parent_uuid);
	if (*incremental && !snapdir_has_uuid(snapdir, si.parent_uuid)) {
		b_remove(p, path, NULL);
		free(name);
		return hull_err_set(err, ENOENT,
				    "the base of the incremental stream is not "
				    "a snapshot of this dataset");
	}
	*snap_name = name;
	return 0;
}

static int b_seal(struct pool *p, const char *path, bool on,
		  struct hull_err *err)
{
	return 0; /* btrfs snapshots are read-only subvolumes: always sealed */
}

const struct pool_ops pool_btrfs_ops = {
    .create = b_create,
    .snapshot = b_snapshot,
    .remove = b_remove,
    .space = b_space,
    .sync = b_sync,
    .quota_set = b_quota_set,
    .send = b_send,
    .receive = b_receive,
    .seal = b_seal,
};

int pool_btrfs_ident(const char *path, char id[33], uint64_t *ctransid,
		     struct hull_err *err)
{
	struct btrfs_util_subvolume_info si;
	errno = 0;
	enum btrfs_util_error e = btrfs_util_subvolume_info(path, 0, &si);
	if (e != BTRFS_UTIL_OK)
		return util_err(err, e, "inspect", path);
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", si.uuid[i]);
	*ctransid = si.ctransid;
	return 0;
}

static int hex_nibble(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
				      : -1;
}

/*
 * btrfs receive finds the parent of an incremental stream by its
 * received uuid (then by its own uuid): a subvolume that was received
 * from the sender's parent. A copy made here from the same bytes (an
 * image both pools installed from one file) is marked as such with
 * BTRFS_IOC_SET_RECEIVED_SUBVOL, the call btrfs receive itself ends with,
 * which the kernel accepts only on a writable subvolume; it is made
 * read-only afterwards, as a parent must be.
 */
int pool_btrfs_shim(const char *src, const char *dst, const char *id,
		    uint64_t ctransid, struct hull_err *err)
{
	struct btrfs_ioctl_received_subvol_args rs;
	memset(&rs, 0, sizeof(rs));
	if (strlen(id) != 32)
		return hull_err_set(err, EINVAL, "bad subvolume id %s", id);
	for (int i = 0; i < 16; i++) {
		int hi = hex_nibble(id[2 * i]), lo = hex_nibble(id[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return hull_err_set(err, EINVAL, "bad subvolume id %s",
					    id);
		rs.uuid[i] = (char)(hi << 4 | lo);
	}
	rs.stransid = ctransid;
	errno = 0;
	enum btrfs_util_error e =
	    btrfs_util_create_snapshot(src, dst, 0, NULL, NULL);
	if (e != BTRFS_UTIL_OK)
		return util_err(err, e, "snapshot", src);
	int r = 0;
	int fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BTRFS_IOC_SET_RECEIVED_SUBVOL, &rs) < 0)
		r = hull_err_sys(err, errno, "mark %s as received", dst);
	if (fd >= 0)
		close(fd);
	errno = 0;
	if (r == 0 && (e = btrfs_util_set_subvolume_read_only(dst, true)) !=
			  BTRFS_UTIL_OK)
		r = util_err(err, e, "make read-only", dst);
	if (r < 0)
		btrfs_util_delete_subvolume(dst, 0);
	return r;
}
