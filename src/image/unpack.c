/*
 * unpack.c - confined extraction of image archives (see unpack.h).
 *
 * libarchive reads and decompresses; the writing is ours, not
 * archive_write_disk's, because every write must stay under the destination
 * even against an archive built to escape it. Each entry's path is
 * normalised and refused when absolute or holding "..", then its parent is
 * reached by walking components from a descriptor of the destination with
 * O_NOFOLLOW, creating missing directories on the way. The final component
 * is created relative to that parent descriptor, never by path.
 *
 * Directory modes and times are applied at the end, deepest first, so a
 * read-only directory in the archive does not stop its own content being
 * written (as tar does).
 */
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/xalloc.h"

#define READ_BLOCK (1u << 20)
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

struct deferred_dir {
	char *path;
	mode_t mode;
	struct timespec mtime;
	bool has_mtime;
};

struct unpacker {
	int rootfd;
	unsigned flags;
	bool root_user; /* may chown; otherwise owners are left as they are */
	/* The last parent reached, kept open: archives list siblings
	 * together, so most entries reuse it. */
	char *cached_parent;
	int cached_fd;
	struct deferred_dir *dirs;
	size_t ndirs, dirs_cap;
	char *buf;	/* data copy buffer for holes */
	uint64_t limit; /* 0: none */
	const char *limit_why;
	uint64_t *used;
	uint64_t used_here; /* what used points to when the caller gave none */
};

struct fd_source {
	int fd;
	char *buf;
	const struct unpack_opts *o;
};

/* A name safe to put in a one-line message: control characters become '?'
 * and long names are cut. */
static void printable(const char *in, char *out, size_t outsz)
{
	size_t i = 0;
	for (; in && *in && i + 4 < outsz; in++)
		out[i++] =
		    ((unsigned char)*in < 0x20 || *in == 0x7f) ? '?' : *in;
	if (in && *in) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static int entry_err(struct hull_err *err, int code, const char *name,
		     const char *what)
{
	char p[160];
	printable(name, p, sizeof(p));
	return hull_err_set(err, code, "archive entry '%s': %s", p, what);
}

static int entry_sys(struct hull_err *err, int code, const char *name,
		     const char *what)
{
	char p[160];
	printable(name, p, sizeof(p));
	return hull_err_sys(err, code, "archive entry '%s': %s", p, what);
}

/*
 * Normalises an entry path into out: drops "." segments, empty segments and
 * trailing slashes. Refuses absolute paths and "..". An empty result is the
 * root itself.
 */
static int path_normalise(const char *in, char **out, struct hull_err *err)
{
	if (!in)
		return hull_err_set(err, EINVAL,
				    "archive entry without a name");
	if (in[0] == '/')
		return entry_err(err, EPERM, in, "absolute path refused");
	size_t n = strlen(in);
	char *o = xmalloc(n + 1);
	size_t len = 0;
	const char *p = in;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t sl = e ? (size_t)(e - p) : strlen(p);
		if (sl == 2 && p[0] == '.' && p[1] == '.') {
			free(o);
			return entry_err(err, EPERM, in,
					 "path with '..' refused");
		}
		if (sl && !(sl == 1 && p[0] == '.')) {
			if (len)
				o[len++] = '/';
			memcpy(o + len, p, sl);
			len += sl;
		}
		p += sl;
		if (*p == '/')
			p++;
	}
	o[len] = '\0';
	*out = o;
	return 0;
}

/* True when a symlink at entry path `path` with target `target` would
 * resolve above the image root (judged lexically; an absolute target is
 * taken from the image root). */
static bool symlink_escapes(const char *path, const char *target)
{
	long depth = 0;
	if (target[0] != '/') {
		for (const char *p = path; *p; p++)
			if (*p == '/')
				depth++;
	}
	const char *p = target;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t sl = e ? (size_t)(e - p) : strlen(p);
		if (sl == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (!(sl == 1 && p[0] == '.')) {
			depth++;
		}
		p += sl;
	}
	return false;
}

static void cache_drop(struct unpacker *u)
{
	free(u->cached_parent);
	u->cached_parent = NULL;
	if (u->cached_fd >= 0)
		close(u->cached_fd);
	u->cached_fd = -1;
}

/*
 * Opens directory `dir` (normalised, relative to the root; "" is the root)
 * as an O_PATH descriptor, creating missing components (0755) when create
 * is set. A component that is a symlink or not a directory is refused.
 * Returns a descriptor the caller must not close (it is cached).
 */
static int dir_open(struct unpacker *u, const char *dir, bool create,
		    const char *entry, struct hull_err *err)
{
	if (u->cached_parent && !strcmp(u->cached_parent, dir))
		return u->cached_fd;
	cache_drop(u);
	int fd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return hull_err_sys(err, errno, "dup");
	char *copy = xstrdup(dir);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		int nfd = openat(fd, c,
				 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
				int e = errno;
				close(fd);
				free(copy);
				return entry_sys(err, e, entry,
						 "cannot create parent");
			}
			nfd = openat(fd, c,
				     O_PATH | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
		}
		if (nfd < 0) {
			int e = errno;
			struct stat st;
			bool link =
			    fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode);
			close(fd);
			free(copy);
			if (link || e == ELOOP)
				return entry_err(err, EPERM, entry,
						 "refusing to write through a "
						 "symlink");
			if (e == ENOTDIR)
				return entry_err(err, ENOTDIR, entry,
						 "a parent is not a directory");
			return entry_sys(err, e, entry, "cannot open parent");
		}
		close(fd);
		fd = nfd;
	}
	free(copy);
	u->cached_parent = xstrdup(dir);
	u->cached_fd = fd;
	return fd;
}

/* Splits a normalised path into its parent ("" for top level) and name. */
static void path_split(char *path, const char **parent, const char **name)
{
	char *slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		*parent = path;
		*name = slash + 1;
	} else {
		*parent = "";
		*name = path;
	}
}

int image_rm_rf_at(int dfd, const char *name, struct hull_err *err)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0
				       : hull_err_sys(err, errno, "%s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return hull_err_sys(err, errno, "remove %s", name);
		return 0;
	}
	int fd =
	    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", name);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "open %s", name);
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((r = image_rm_rf_at(dirfd(d), de->d_name, err)) < 0)
			break;
	}
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = hull_err_sys(err, errno, "remove %s", name);
	return r;
}

/* Empties directory name under dirfd (an opaque whiteout). */
static int dir_empty(int dfd, const char *name, struct hull_err *err)
{
	int fd = openat(dfd, name[0] ? name : ".",
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", name);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return hull_err_sys(err, errno, "open %s", name);
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((r = image_rm_rf_at(dirfd(d), de->d_name, err)) < 0)
			break;
	}
	closedir(d);
	return r;
}

/* Makes room for a new entry `name`: an existing non-directory is removed;
 * an existing directory is kept when the new entry is one too, otherwise
 * removed with its content (a later layer replacing it). */
static int make_room(struct unpacker *u, int pfd, const char *name,
		     bool new_is_dir, bool *exists_dir, struct hull_err *err)
{
	struct stat st;
	*exists_dir = false;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0
				       : hull_err_sys(err, errno, "%s", name);
	if (S_ISDIR(st.st_mode) && new_is_dir) {
		*exists_dir = true;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		/* The cached parent may be (under) what goes away. */
		int r = image_rm_rf_at(pfd, name, err);
		return r;
	}
	if (unlinkat(pfd, name, 0) < 0)
		return hull_err_sys(err, errno, "replace %s", name);
	(void)u;
	return 0;
}

static int set_xattrs(struct archive_entry *e, int fd, const char *path,
		      struct hull_err *err)
{
	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	const char *name;
	const void *value;
	size_t size;
	while (archive_entry_xattr_next(e, &name, &value, &size) ==
	       ARCHIVE_OK) {
		if (!name || !*name)
			continue;
		if (fsetxattr(fd, name, value, size, 0) < 0 &&
		    errno != ENOTSUP && errno != EPERM && errno != EINVAL)
			return entry_sys(err, errno, path,
					 "cannot set extended attribute");
	}
	return 0;
}

static int set_owner(struct unpacker *u, int fd, struct archive_entry *e,
		     const char *path, struct hull_err *err)
{
	if (!u->root_user)
		return 0;
	if (fchown(fd, (uid_t)archive_entry_uid(e),
		   (gid_t)archive_entry_gid(e)) < 0)
		return entry_sys(err, errno, path, "cannot set owner");
	return 0;
}

static int over_limit(uint64_t limit, const char *why, struct hull_err *err)
{
	return hull_err_set(err, EFBIG, "unpacks to more than %llu MiB (%s)",
			    (unsigned long long)(limit >> 20),
			    why ? why : "the limit for this image");
}

/* Counts n more bytes written; fails once the limit is passed. */
static int charge(struct unpacker *u, uint64_t n, struct hull_err *err)
{
	*u->used += n;
	if (u->limit && *u->used > u->limit)
		return over_limit(u->limit, u->limit_why, err);
	return 0;
}

static int write_data(struct unpacker *u, struct archive *a, int fd,
		      struct archive_entry *e, const char *path,
		      struct hull_err *err)
{
	const void *block;
	size_t size;
	la_int64_t offset;
	la_int64_t end = 0;
	for (;;) {
		int r = archive_read_data_block(a, &block, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return hull_err_set(err, EIO, "%s",
					    archive_error_string(a)
						? archive_error_string(a)
						: "archive read error");
		/* Charged before it is written: a bomb stops at the limit,
		 * not one block past it. */
		if (charge(u, size, err) < 0)
			return -EFBIG;
		const char *p = block;
		while (size) {
			ssize_t w = pwrite(fd, p, size, offset);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return entry_sys(err, errno, path, "write");
			}
			p += w;
			size -= (size_t)w;
			offset += w;
		}
		if (offset > end)
			end = offset;
	}
	/* A sparse file may end in a hole. */
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
	    ftruncate(fd, archive_entry_size(e)) < 0)
		return entry_sys(err, errno, path, "truncate");
	return 0;
}

static int extract_file(struct unpacker *u, struct archive *a,
			struct archive_entry *e, int pfd, const char *name,
			const char *path, struct hull_err *err)
{
	int fd =
	    openat(pfd, name,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return entry_sys(err, errno, path, "create");
	int r = write_data(u, a, fd, e, path, err);
	if (r == 0)
		r = set_owner(u, fd, e, path, err);
	if (r == 0 && fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		r = entry_sys(err, errno, path, "chmod");
	if (r == 0)
		r = set_xattrs(e, fd, path, err);
	if (r == 0 && archive_entry_mtime_is_set(e)) {
		struct timespec ts[2] = {
		    {.tv_nsec = UTIME_OMIT},
		    {.tv_sec = archive_entry_mtime(e),
		     .tv_nsec = archive_entry_mtime_nsec(e)}};
		if (futimens(fd, ts) < 0)
			r = entry_sys(err, errno, path, "set time");
	}
	close(fd);
	return r;
}

static int extract_hardlink(struct unpacker *u, struct archive_entry *e,
			    int pfd, const char *name, const char *path,
			    struct hull_err *err)
{
	_cleanup_free_ char *target = NULL;
	int r = path_normalise(archive_entry_hardlink(e), &target, err);
	if (r < 0)
		return entry_err(err, EPERM, path,
				 "hard link target outside the image refused");
	if (!*target)
		return entry_err(err, EPERM, path,
				 "hard link to the image root refused");
	/* Reaching the target's parent may replace the cached descriptor, so
	 * take our own reference to the link's parent first. */
	int mine = fcntl(pfd, F_DUPFD_CLOEXEC, 0);
	if (mine < 0)
		return hull_err_sys(err, errno, "dup");
	const char *tparent, *tname;
	path_split(target, &tparent, &tname);
	int tfd = dir_open(u, tparent, false, path, err);
	if (tfd < 0) {
		close(mine);
		return tfd;
	}
	if (linkat(tfd, tname, mine, name, 0) < 0) {
		int e2 = errno;
		close(mine);
		if (e2 == ENOENT)
			return entry_err(err, ENOENT, path,
					 "hard link target does not exist");
		return entry_sys(err, e2, path, "hard link");
	}
	close(mine);
	return 0;
}

static int extract_symlink(struct unpacker *u, struct archive_entry *e, int pfd,
			   const char *name, const char *path,
			   struct hull_err *err)
{
	const char *target = archive_entry_symlink(e);
	if (!target || !*target)
		return entry_err(err, EINVAL, path, "symlink without a target");
	if (symlink_escapes(path, target))
		return entry_err(err, EPERM, path,
				 "symlink pointing outside the image refused");
	if (symlinkat(target, pfd, name) < 0)
		return entry_sys(err, errno, path, "symlink");
	if (u->root_user &&
	    fchownat(pfd, name, (uid_t)archive_entry_uid(e),
		     (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return entry_sys(err, errno, path, "cannot set owner");
	if (archive_entry_mtime_is_set(e)) {
		struct timespec ts[2] = {
		    {.tv_nsec = UTIME_OMIT},
		    {.tv_sec = archive_entry_mtime(e),
		     .tv_nsec = archive_entry_mtime_nsec(e)}};
		utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	}
	return 0;
}

static int extract_dir(struct unpacker *u, struct archive_entry *e, int pfd,
		       const char *name, const char *path, bool exists,
		       struct hull_err *err)
{
	if (!exists && mkdirat(pfd, name, 0700) < 0)
		return entry_sys(err, errno, path, "mkdir");
	int fd =
	    openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return entry_sys(err, errno, path, "open directory");
	int r = set_owner(u, fd, e, path, err);
	if (r == 0)
		r = set_xattrs(e, fd, path, err);
	/* Owner and group may write until the end; the mode comes last. */
	if (r == 0 && fchmod(fd, 0700) < 0)
		r = entry_sys(err, errno, path, "chmod");
	close(fd);
	if (r < 0)
		return r;
	if (u->ndirs == u->dirs_cap) {
		u->dirs_cap = u->dirs_cap ? u->dirs_cap * 2 : 64;
		u->dirs = xrealloc(u->dirs, u->dirs_cap * sizeof(*u->dirs));
	}
	struct deferred_dir *d = &u->dirs[u->ndirs++];
	d->path = xstrdup(path);
	d->mode = archive_entry_perm(e) & 07777;
	d->has_mtime = archive_entry_mtime_is_set(e);
	d->mtime.tv_sec = archive_entry_mtime(e);
	d->mtime.tv_nsec = archive_entry_mtime_nsec(e);
	return 0;
}

static int whiteout(struct unpacker *u, int pfd, const char *parent,
		    const char *name, const char *path, struct hull_err *err)
{
	int r;
	if (!strcmp(name, WH_OPAQUE)) {
		r = dir_empty(pfd, "", err);
	} else {
		const char *victim = name + strlen(WH_PREFIX);
		if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
			return entry_err(err, EINVAL, path, "bad whiteout");
		r = image_rm_rf_at(pfd, victim, err);
	}
	(void)parent;
	cache_drop(u);
	if (r < 0)
		return hull_err_prefix(err, "whiteout %s", path);
	return 0;
}

static int extract_entry(struct unpacker *u, struct archive *a,
			 struct archive_entry *e, struct hull_err *err)
{
	_cleanup_free_ char *path = NULL;
	int r = path_normalise(archive_entry_pathname(e), &path, err);
	if (r < 0)
		return r;
	if ((r = charge(u, UNPACK_ENTRY_COST, err)) < 0)
		return r;
	mode_t type = archive_entry_filetype(e);
	if (!*path)
		return 0; /* "./": the destination itself */
	_cleanup_free_ char *full = xstrdup(path);
	const char *parent, *name;
	path_split(path, &parent, &name);

	if (type == AE_IFCHR || type == AE_IFBLK)
		return entry_err(err, EPERM, full, "device node refused");

	int pfd = dir_open(u, parent, true, full, err);
	if (pfd < 0)
		return pfd;

	if ((u->flags & UNPACK_WHITEOUTS) &&
	    !strncmp(name, WH_PREFIX, strlen(WH_PREFIX)))
		return whiteout(u, pfd, parent, name, full, err);

	bool exists_dir;
	if (archive_entry_hardlink(e) && type != AE_IFDIR) {
		if ((r = make_room(u, pfd, name, false, &exists_dir, err)) < 0)
			return r;
		return extract_hardlink(u, e, pfd, name, full, err);
	}
	if ((r = make_room(u, pfd, name, type == AE_IFDIR, &exists_dir, err)) <
	    0)
		return r;
	switch (type) {
	case AE_IFREG:
		return extract_file(u, a, e, pfd, name, full, err);
	case AE_IFDIR:
		return extract_dir(u, e, pfd, name, full, exists_dir, err);
	case AE_IFLNK:
		return extract_symlink(u, e, pfd, name, full, err);
	case AE_IFIFO:
		if (mknodat(pfd, name, S_IFIFO | 0600, 0) < 0)
			return entry_sys(err, errno, full, "mkfifo");
		if (u->root_user &&
		    fchownat(pfd, name, (uid_t)archive_entry_uid(e),
			     (gid_t)archive_entry_gid(e),
			     AT_SYMLINK_NOFOLLOW) < 0)
			return entry_sys(err, errno, full, "cannot set owner");
		if (fchmodat(pfd, name, archive_entry_perm(e) & 07777, 0) < 0)
			return entry_sys(err, errno, full, "chmod");
		return 0;
	case AE_IFSOCK:
		return 0;
	default:
		return entry_err(err, EINVAL, full, "unknown entry type");
	}
}

/* Applies directory modes and times, deepest (latest) first. */
static int dirs_finish(struct unpacker *u, struct hull_err *err)
{
	for (size_t i = u->ndirs; i-- > 0;) {
		struct deferred_dir *d = &u->dirs[i];
		_cleanup_free_ char *copy = xstrdup(d->path);
		const char *parent, *name;
		path_split(copy, &parent, &name);
		int pfd = dir_open(u, parent, false, d->path, err);
		if (pfd < 0) {
			/* Removed by a later whiteout or replaced: fine. */
			if (err)
				hull_err_clear(err);
			continue;
		}
		int fd = openat(
		    pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		int r = 0;
		if (fchmod(fd, d->mode) < 0)
			r = entry_sys(err, errno, d->path, "chmod");
		if (r == 0 && d->has_mtime) {
			struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
						 d->mtime};
			futimens(fd, ts);
		}
		close(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

static void unpacker_fini(struct unpacker *u)
{
	cache_drop(u);
	for (size_t i = 0; i < u->ndirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	if (u->rootfd >= 0)
		close(u->rootfd);
}

static const char *filter_name(int code)
{
	switch (code) {
	case ARCHIVE_FILTER_NONE:
		return "none";
	case ARCHIVE_FILTER_GZIP:
		return "gzip";
	case ARCHIVE_FILTER_BZIP2:
		return "bzip2";
	case ARCHIVE_FILTER_XZ:
		return "xz";
	case ARCHIVE_FILTER_ZSTD:
		return "zstd";
	default:
		return NULL;
	}
}

static int check_filter(struct archive *a, const char *want,
			struct hull_err *err)
{
	/* The outermost filter is the last one; index 0 is the innermost
	 * decoder libarchive stacked, "none" at the bottom. */
	int n = archive_filter_count(a);
	int code = n >= 2 ? archive_filter_code(a, 0) : ARCHIVE_FILTER_NONE;
	const char *got = filter_name(code);
	if (!got)
		return hull_err_set(err, EINVAL,
				    "archive compressed with %s, which images "
				    "may not use",
				    archive_filter_name(a, 0));
	if (want && strcmp(want, got))
		return hull_err_set(err, EINVAL,
				    "file is %s-compressed but the manifest "
				    "says '%s'",
				    got, want);
	return 0;
}

static int archive_fail(struct archive *a, struct hull_err *err)
{
	const char *s = archive_error_string(a);
	int e = archive_errno(a);
	if (e <= 0)
		e = EINVAL;
	return hull_err_set(err, e, "%s", s ? s : "unreadable archive");
}

static la_ssize_t fd_read(struct archive *a, void *ctx, const void **buf)
{
	struct fd_source *s = ctx;
	for (;;) {
		ssize_t n = read(s->fd, s->buf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "read: %s",
					  strerror(errno));
			return -1;
		}
		if (n > 0 && s->o && s->o->tap)
			s->o->tap(s->o->tap_ctx, s->buf, (size_t)n);
		*buf = s->buf;
		return n;
	}
}

/* Feeds what is left of the file to the tap (tar's trailing padding that
 * libarchive never asks for). */
static int drain(struct fd_source *s, struct hull_err *err)
{
	if (!s->o || !s->o->tap)
		return 0;
	for (;;) {
		ssize_t n = read(s->fd, s->buf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hull_err_sys(err, errno, "read");
		if (n == 0)
			return 0;
		s->o->tap(s->o->tap_ctx, s->buf, (size_t)n);
	}
}

static int unpack_archive(struct archive *a, const char *dest, unsigned flags,
			  const struct unpack_opts *o, struct hull_err *err)
{
	const char *want = o ? o->compression : NULL;
	struct unpacker u = {.rootfd = -1, .cached_fd = -1, .flags = flags};
	u.used = o && o->used ? o->used : &u.used_here;
	u.limit = o ? o->limit : 0;
	u.limit_why = o ? o->limit_why : NULL;
	u.root_user = geteuid() == 0;
	u.rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u.rootfd < 0)
		return hull_err_sys(err, errno, "open %s", dest);
	struct archive_entry *e;
	int r = 0;
	bool first = true;
	for (;;) {
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = archive_fail(a, err);
			break;
		}
		if (first) {
			first = false;
			if ((r = check_filter(a, want, err)) < 0)
				break;
		}
		if ((r = extract_entry(&u, a, e, err)) < 0)
			break;
	}
	if (r == 0 && first)
		r = check_filter(a, want, err);
	if (r == 0)
		r = dirs_finish(&u, err);
	unpacker_fini(&u);
	return r;
}

static struct archive *reader_new(void)
{
	struct archive *a = archive_read_new();
	if (!a)
		abort();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_empty(a);
	return a;
}

int image_unpack_fd(int fd, const char *dest, const struct unpack_opts *o,
		    struct hull_err *err)
{
	struct fd_source s = {.fd = fd, .buf = xmalloc(READ_BLOCK), .o = o};
	struct archive *a = reader_new();
	int r;
	if (archive_read_open(a, &s, NULL, fd_read, NULL) != ARCHIVE_OK)
		r = archive_fail(a, err);
	else
		r = unpack_archive(a, dest, o ? o->flags : 0, o, err);
	archive_read_free(a);
	if (r == 0)
		r = drain(&s, err);
	free(s.buf);
	return r;
}

int image_unpack(const char *path, const char *dest, unsigned flags,
		 struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	struct unpack_opts o = {.flags = flags};
	int r = image_unpack_fd(fd, dest, &o, err);
	close(fd);
	return r;
}

int image_unpack_mem(const void *buf, size_t len, const char *dest,
		     unsigned flags, struct hull_err *err)
{
	struct archive *a = reader_new();
	int r;
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
		r = archive_fail(a, err);
	else
		r = unpack_archive(a, dest, flags, NULL, err);
	archive_read_free(a);
	return r;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int image_unpack_raw_fd(int fd, const char *dest_file,
			const struct unpack_opts *o, struct hull_err *err)
{
	struct fd_source s = {.fd = fd, .buf = xmalloc(READ_BLOCK), .o = o};
	struct archive *a = archive_read_new();
	if (!a)
		abort();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	archive_read_support_format_empty(a);
	int r = 0;
	int out = -1;
	struct archive_entry *e;
	if (archive_read_open(a, &s, NULL, fd_read, NULL) != ARCHIVE_OK) {
		r = archive_fail(a, err);
		goto done;
	}
	int ar = archive_read_next_header(a, &e);
	if (ar < ARCHIVE_WARN) {
		r = archive_fail(a, err);
		goto done;
	}
	if ((r = check_filter(a, o ? o->compression : NULL, err)) < 0)
		goto done;
	out = open(dest_file,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		r = hull_err_sys(err, errno, "create %s", dest_file);
		goto done;
	}
	if (ar == ARCHIVE_EOF)
		goto done;
	uint64_t used_here = 0;
	uint64_t *used = o && o->used ? o->used : &used_here;
	off_t end = 0;
	for (;;) {
		const void *block;
		size_t size;
		la_int64_t offset;
		ar = archive_read_data_block(a, &block, &size, &offset);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = archive_fail(a, err);
			goto done;
		}
		/* Disks are mostly zeros: leave holes for them. */
		const char *p = block;
		for (size_t off = 0; off < size;) {
			size_t chunk = size - off < 65536 ? size - off : 65536;
			if (!all_zero(p + off, chunk)) {
				*used += chunk;
				if (o && o->limit && *used > o->limit) {
					r = over_limit(o->limit, o->limit_why,
						       err);
					goto done;
				}
				size_t done_w = 0;
				while (done_w < chunk) {
					ssize_t w = pwrite(
					    out, p + off + done_w,
					    chunk - done_w,
					    offset + (off_t)(off + done_w));
					if (w < 0 && errno == EINTR)
						continue;
					if (w < 0) {
						r = hull_err_sys(err, errno,
								 "write %s",
								 dest_file);
						goto done;
					}
					done_w += (size_t)w;
				}
			}
			off += chunk;
		}
		if (offset + (off_t)size > end)
			end = offset + (off_t)size;
		if (o && o->max_disk && (uint64_t)end > o->max_disk) {
			r = hull_err_set(
			    err, EFBIG,
			    "disk is larger than the manifest's "
			    "image_size (%llu MiB)",
			    (unsigned long long)(o->max_disk >> 20));
			goto done;
		}
	}
	if (ftruncate(out, end) < 0)
		r = hull_err_sys(err, errno, "truncate %s", dest_file);
done:
	archive_read_free(a);
	if (out >= 0)
		close(out);
	if (r == 0)
		r = drain(&s, err);
	free(s.buf);
	return r;
}
