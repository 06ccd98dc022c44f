/*
 * dir.c - the plain-directory backend, for hosts without btrfs: a dataset
 * is a directory, a snapshot or clone is a full copy (`cp -a
 * --reflink=auto`, so a filesystem with reflinks shares the blocks). A
 * snapshot is made read-only, even for root, by the immutable attribute on
 * every directory and file in it (where the filesystem supports it). Space
 * is what the tree's blocks add up to; quotas are not supported.
 *
 * A copy is made under a temporary name beside its target and renamed into
 * place when whole, so a failure never leaves half a snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"
#include "pool/backend.h"
#include "pool/dirstream.h"

static int d_create(struct pool *p, const char *path, struct hull_err *err)
{
	if (mkdir(path, 0755) < 0)
		return hull_err_sys(err, errno, "create %s", path);
	return 0;
}

/* Sets or clears FS_IMMUTABLE_FL on one directory or regular file. A
 * filesystem without the attribute is not an error. */
static int flag_set(const char *path, bool dir, bool on)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
				(dir ? O_DIRECTORY : 0));
	if (fd < 0)
		return -errno;
	int flags = 0, r = 0;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		int want =
		    on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
		if (want != flags && ioctl(fd, FS_IOC_SETFLAGS, &want) < 0)
			r = -errno;
	}
	close(fd);
	if (r == -ENOTTY || r == -EOPNOTSUPP)
		r = 0;
	return r;
}

/* nftw has no user pointer: the walk's settings, one walk at a time per
 * thread (the instance library is called from threads). */
static _Thread_local bool walk_on;
static _Thread_local const char *walk_skip;

static int walk_entry(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	if (walk_skip && strcmp(path, walk_skip) == 0)
		return 0;
	if (type == FTW_D || type == FTW_DP || S_ISREG(st->st_mode)) {
		int r =
		    flag_set(path, type == FTW_D || type == FTW_DP, walk_on);
		if (r < 0)
			return -r;
	}
	return 0;
}

/* Sets or clears immutability on a whole tree, skipping its top when
 * skip_top (the top is sealed last, after a rename). */
int pool_dir_tree_flags(const char *path, bool on, bool skip_top,
			struct hull_err *err)
{
	walk_on = on;
	walk_skip = skip_top ? path : NULL;
	int r = nftw(path, walk_entry, 32, FTW_PHYS | FTW_MOUNT);
	walk_skip = NULL;
	if (r != 0)
		return hull_err_sys(err, r > 0 ? r : errno, "%s %s",
				    on ? "seal" : "unseal", path);
	return 0;
}

static int d_seal(struct pool *p, const char *path, bool on,
		  struct hull_err *err)
{
	int r = flag_set(path, true, on);
	if (r < 0)
		return hull_err_sys(err, -r, "%s %s", on ? "seal" : "unseal",
				    path);
	return 0;
}

static char *sibling_temp(const char *path, const char *what)
{
	_cleanup_free_ char *a = xstrdup(path), *b = xstrdup(path);
	return xasprintf("%s/.%s-%s", dirname(a), what, basename(b));
}

int pool_dir_copy(const char *src, const char *dst, bool readonly,
		  bool seal_top, struct hull_err *err)
{
	_cleanup_free_ char *tmp = sibling_temp(dst, "copy");
	char *argv[] = {
	    "cp", "-a", "--reflink=auto", "--no-target-directory", (char *)src,
	    tmp,  NULL};
	int r = hull_run(argv, -1, -1, NULL, err);
	if (r == 0) {
		/* A copy of a snapshot carries no flags (cp does not copy
		 * them), so a clone starts writable. */
		if (readonly)
			r = pool_dir_tree_flags(tmp, true, true, err);
	}
	if (r == 0 && rename(tmp, dst) < 0)
		r = hull_err_sys(err, errno, "rename %s", tmp);
	if (r == 0 && readonly && seal_top) {
		int e = flag_set(dst, true, true);
		if (e < 0) {
			r = hull_err_sys(err, -e, "seal %s", dst);
			pool_dir_tree_flags(dst, false, false, NULL);
			hull_rm_rf(dst, NULL);
		}
	}
	if (r < 0 && hull_path_exists(tmp)) {
		pool_dir_tree_flags(tmp, false, false, NULL);
		hull_rm_rf(tmp, NULL);
	}
	return r;
}

static int d_snapshot(struct pool *p, const char *src, const char *dst,
		      bool readonly, struct hull_err *err)
{
	return pool_dir_copy(src, dst, readonly, true, err);
}

static int d_remove(struct pool *p, const char *path, struct hull_err *err)
{
	if (!hull_path_exists(path))
		return 0;
	/* Moved aside first, so a failing delete never leaves half a tree
	 * under the dataset's name. */
	_cleanup_free_ char *trash = sibling_temp(path, "trash");
	flag_set(path, true, false);
	if (rename(path, trash) < 0)
		return hull_err_sys(err, errno, "remove %s", path);
	int r = pool_dir_tree_flags(trash, false, false, err);
	if (r == 0)
		r = hull_rm_rf(trash, err);
	return r;
}

static _Thread_local uint64_t walk_bytes;

static int walk_count(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	walk_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

static int d_space(struct pool *p, const char *path, struct pool_space *out,
		   struct hull_err *err)
{
	walk_bytes = 0;
	if (nftw(path, walk_count, 32, FTW_PHYS | FTW_MOUNT) != 0)
		return hull_err_sys(err, errno, "measure %s", path);
	/* Copies share nothing (reflinks aside): all of it is its own. */
	out->used = out->referenced = walk_bytes;
	out->quota = 0;
	return 0;
}

static int d_sync(struct pool *p, struct hull_err *err)
{
	return 0;
}

static int d_quota_set(struct pool *p, const char *path, uint64_t bytes,
		       struct hull_err *err)
{
	return hull_err_set(err, ENOTSUP,
			    "quotas need the btrfs backend (this pool is dir)");
}

const struct pool_ops pool_dir_ops = {
    .create = d_create,
    .snapshot = d_snapshot,
    .remove = d_remove,
    .space = d_space,
    .sync = d_sync,
    .quota_set = d_quota_set,
    .send = pool_dirstream_send,
    .receive = pool_dirstream_receive,
    .seal = d_seal,
};
