/*
 * fileio.c - whole-file reads, atomic writes, mkdir -p and rm -rf.
 */
#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"

bool hull_path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

bool hull_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int hull_fsync_dir(const char *dir, struct hull_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", dir);
	int r = fsync(fd);
	int e = errno;
	close(fd);
	if (r < 0)
		return hull_err_sys(err, e, "fsync %s", dir);
	return 0;
}

int hull_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int hull_fd_copy(int in, int out)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
	}
}

/* How far replace() waits for the disk. */
enum replace_sync {
	REPLACE_CACHED,	 /* no fsync */
	REPLACE_ORDERED, /* the file's data, before the rename */
	REPLACE_DURABLE, /* the data, then the rename (the folder) */
};

static int replace(const char *path, const void *data, size_t len, mode_t mode,
		   enum replace_sync sync, struct hull_err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, getpid());
	_cleanup_free_ char *dcopy = xstrdup(path);
	const char *dir = dirname(dcopy);

	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return hull_err_sys(err, errno, "create %s", tmp);
	int r = hull_write_all(fd, data, len);
	if (r == 0 && sync != REPLACE_CACHED && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return hull_err_sys(err, -r, "write %s", path);
	}
	return sync == REPLACE_DURABLE ? hull_fsync_dir(dir, err) : 0;
}

int hull_file_write_atomic(const char *path, const void *data, size_t len,
			   mode_t mode, struct hull_err *err)
{
	return replace(path, data, len, mode, REPLACE_DURABLE, err);
}

int hull_file_write_ordered(const char *path, const void *data, size_t len,
			    mode_t mode, struct hull_err *err)
{
	return replace(path, data, len, mode, REPLACE_ORDERED, err);
}

int hull_file_replace(const char *path, const void *data, size_t len,
		      mode_t mode, struct hull_err *err)
{
	return replace(path, data, len, mode, REPLACE_CACHED, err);
}

int hull_file_read(const char *path, size_t max, char **out, size_t *len,
		   struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	/* Read up to max + 1 bytes: one byte past the limit proves it is
	 * exceeded without reading a hostile file to its end. */
	size_t limit = max + 1, cap = limit < 4096 ? limit : 4096, n = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap == limit)
				break;
			cap = cap * 2 > limit ? limit : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			return hull_err_sys(err, e, "read %s", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(buf);
		close(fd);
		return hull_err_set(err, EFBIG, "%s: larger than %zu bytes",
				    path, max);
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int hull_mkdir_p(const char *path, mode_t mode, struct hull_err *err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "mkdir %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return hull_err_sys(err, errno, "mkdir %s", p);
	if (!hull_is_dir(p))
		return hull_err_set(err, ENOTDIR, "%s: not a directory", p);
	return 0;
}

int hull_chmod_exact(const char *path, mode_t mode, struct hull_err *err)
{
	/* O_PATH, so a socket or a file we may not read is no obstacle;
	 * fchmod takes no O_PATH descriptor, /proc/self/fd does. */
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return hull_err_sys(err, errno, "open %s", path);
	}
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = hull_err_sys(err, errno, "stat %s", path);
	} else if (S_ISLNK(st.st_mode)) {
		r = hull_err_set(err, ELOOP, "%s: is a symbolic link", path);
	} else if ((st.st_mode & 07777) != mode) {
		char fdp[64];
		snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
		if (chmod(fdp, mode) < 0)
			r = hull_err_sys(err, errno, "chmod %s", path);
	}
	close(fd);
	return r;
}

int hull_mkdir_mode(const char *path, mode_t mode, struct hull_err *err)
{
	int r = hull_mkdir_p(path, mode, err);
	if (r < 0)
		return r;
	return hull_chmod_exact(path, mode, err);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int r = flag == FTW_DP ? rmdir(path) : unlink(path);
	return r < 0 && errno != ENOENT ? errno : 0;
}

int hull_rm_rf(const char *path, struct hull_err *err)
{
	if (!hull_path_exists(path))
		return 0;
	int r = nftw(path, rm_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (r != 0)
		return hull_err_sys(err, r > 0 ? r : errno, "remove %s", path);
	return 0;
}
