/*
 * dirstream.c - send and receive for the dir backend (see dirstream.h).
 *
 * A stream is:
 *   "hull-dir-stream 1 <n>\n"    intro line
 *   <n> bytes of JSON             {"snapshot": S, "base": B|null,
 *                                  "removed": [relative paths]}
 *   a POSIX (pax) tar             the entries of S; for an incremental
 *                                  stream only those that differ from B
 *
 * An entry is taken as unchanged when its type, mode, owner, size, mtime
 * (to the nanosecond) and link target match the base's, as rsync does by
 * default. Folders always travel (they are small), so their metadata is
 * exact. Hard links travel as separate files.
 *
 * The receiver copies the base (when there is one), deletes what the
 * header says is gone, and unpacks the tar over it with libarchive's
 * secure extraction, all under a temporary name; only a complete result is
 * renamed into place as the snapshot.
 */
#include "pool/dirstream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/xalloc.h"
#include "pool/name.h"

/* ---- the opening, parsed purely ---- */

bool pool_dirstream_path_valid(const char *path)
{
	if (!path || !*path || path[0] == '/' || strlen(path) > 4096)
		return false;
	const char *s = path;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		/* One trailing slash (how tar names folders) is fine. */
		if (n == 0)
			return slash == NULL && s != path;
		if ((n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
		if (!*s)
			return true;
	}
}

int pool_dirstream_intro_parse(const char *line, size_t *header_len,
			       struct hull_err *err)
{
	const char *magic = POOL_DIRSTREAM_MAGIC " ";
	size_t ml = strlen(magic);
	if (strncmp(line, magic, ml) != 0)
		return hull_err_set(err, EINVAL,
				    "not a dir-backend stream (a btrfs stream "
				    "needs a btrfs pool)");
	const char *c = line + ml;
	unsigned long ver = 0, len = 0;
	int nd = 0;
	for (; *c >= '0' && *c <= '9' && nd < 6; c++, nd++)
		ver = ver * 10 + (unsigned long)(*c - '0');
	if (nd == 0 || *c != ' ')
		return hull_err_set(err, EINVAL, "stream: bad intro line");
	if (ver != POOL_DIRSTREAM_VERSION)
		return hull_err_set(
		    err, ENOTSUP, "stream: version %lu is not supported", ver);
	c++;
	for (nd = 0; *c >= '0' && *c <= '9' && nd < 10; c++, nd++)
		len = len * 10 + (unsigned long)(*c - '0');
	if (nd == 0 || *c != '\0' || len == 0 ||
	    len > POOL_DIRSTREAM_HEADER_MAX)
		return hull_err_set(err, EINVAL, "stream: bad header length");
	*header_len = len;
	return 0;
}

void pool_dirstream_header_free(struct pool_dirstream_header *h)
{
	if (!h)
		return;
	free(h->snapshot);
	free(h->base);
	for (size_t i = 0; i < h->n_removed; i++)
		free(h->removed[i]);
	free(h->removed);
	memset(h, 0, sizeof(*h));
}

int pool_dirstream_header_parse(const char *buf, size_t len,
				struct pool_dirstream_header *h,
				struct hull_err *err)
{
	memset(h, 0, sizeof(*h));
	json_t *j = hull_json_load_buf("stream header", buf, len, err);
	if (!j)
		return -err->code;
	int r = 0;
	json_t *snap = json_object_get(j, "snapshot");
	json_t *base = json_object_get(j, "base");
	json_t *rm = json_object_get(j, "removed");
	if (!json_is_object(j) || !json_is_string(snap) ||
	    !pool_segment_valid(json_string_value(snap)))
		r = hull_err_set(err, EINVAL,
				 "stream header: no valid snapshot name");
	else if (base && !json_is_null(base) &&
		 (!json_is_string(base) ||
		  !pool_segment_valid(json_string_value(base))))
		r = hull_err_set(err, EINVAL,
				 "stream header: base is not a snapshot name");
	else if (!json_is_array(rm))
		r = hull_err_set(err, EINVAL,
				 "stream header: removed is not a list");
	else if (json_array_size(rm) > 0 && !json_is_string(base))
		r = hull_err_set(
		    err, EINVAL,
		    "stream header: a full stream removes nothing");
	if (r == 0) {
		h->snapshot = xstrdup(json_string_value(snap));
		if (json_is_string(base))
			h->base = xstrdup(json_string_value(base));
		size_t i;
		json_t *v;
		h->removed =
		    xcalloc(json_array_size(rm) + 1, sizeof(*h->removed));
		json_array_foreach(rm, i, v)
		{
			const char *s = json_string_value(v);
			if (!pool_dirstream_path_valid(s)) {
				r = hull_err_set(
				    err, EINVAL,
				    "stream header: bad removed path");
				break;
			}
			h->removed[h->n_removed++] = xstrdup(s);
		}
	}
	json_decref(j);
	if (r < 0)
		pool_dirstream_header_free(h);
	return r;
}

/* ---- send ---- */

/* nftw has no user pointer: one send at a time, its state here. */
static struct {
	const char *snap, *base;
	size_t snap_len, base_len;
	json_t *removed;
	struct archive *tar, *disk;
	struct hull_err *err;
	int code;
} S;

static bool same_entry(const struct stat *a, const char *pa,
		       const struct stat *b, const char *pb)
{
	if ((a->st_mode & S_IFMT) != (b->st_mode & S_IFMT))
		return false;
	if (S_ISDIR(a->st_mode))
		return false; /* folders always travel */
	if (a->st_mode != b->st_mode || a->st_uid != b->st_uid ||
	    a->st_gid != b->st_gid || a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
	    a->st_rdev != b->st_rdev)
		return false;
	if (S_ISLNK(a->st_mode)) {
		char la[4096], lb[4096];
		ssize_t na = readlink(pa, la, sizeof(la));
		ssize_t nb = readlink(pb, lb, sizeof(lb));
		return na == nb && na >= 0 && memcmp(la, lb, (size_t)na) == 0;
	}
	return true;
}

static int removed_entry(const char *path, const struct stat *st, int type,
			 struct FTW *ftw)
{
	if (ftw->level == 0)
		return FTW_CONTINUE;
	const char *rel = path + S.base_len + 1;
	_cleanup_free_ char *other = xasprintf("%s/%s", S.snap, rel);
	struct stat ost;
	if (lstat(other, &ost) == 0 &&
	    (ost.st_mode & S_IFMT) == (st->st_mode & S_IFMT))
		return FTW_CONTINUE;
	json_array_append_new(S.removed, json_string(rel));
	return type == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

static int send_data(int fd)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (archive_write_data(S.tar, buf, (size_t)n) != n)
			return -EIO;
	}
}

static int send_entry(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	if (ftw->level == 0)
		return FTW_CONTINUE;
	const char *rel = path + S.snap_len + 1;
	if (S.base) {
		_cleanup_free_ char *other = xasprintf("%s/%s", S.base, rel);
		struct stat ost;
		if (lstat(other, &ost) == 0 &&
		    same_entry(st, path, &ost, other))
			return FTW_CONTINUE;
	}
	int fd = -1;
	if (S_ISREG(st->st_mode)) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			S.code = hull_err_sys(S.err, errno, "read %s", path);
			return FTW_STOP;
		}
	}
	struct archive_entry *e = archive_entry_new();
	archive_entry_copy_pathname(e, rel);
	archive_entry_copy_sourcepath(e, path);
	int r = archive_read_disk_entry_from_file(S.disk, e, fd, st);
	/* Snapshots are immutable on disk; their copies must not be. */
	archive_entry_set_fflags(e, 0, 0);
	if (r >= ARCHIVE_WARN)
		r = archive_write_header(S.tar, e);
	if (r >= ARCHIVE_WARN && fd >= 0 && send_data(fd) < 0)
		r = ARCHIVE_FATAL;
	archive_entry_free(e);
	if (fd >= 0)
		close(fd);
	if (r < ARCHIVE_WARN) {
		S.code = hull_err_set(S.err, EIO, "send %s: %s", rel,
				      archive_error_string(S.tar)
					  ? archive_error_string(S.tar)
					  : "write failed");
		return FTW_STOP;
	}
	return FTW_CONTINUE;
}

int pool_dirstream_send(struct pool *p, const char *snap, const char *base,
			const char *snap_name, const char *base_name, int fd,
			struct hull_err *err)
{
	memset(&S, 0, sizeof(S));
	S.snap = snap;
	S.snap_len = strlen(snap);
	S.base = base;
	S.base_len = base ? strlen(base) : 0;
	S.err = err;
	S.removed = json_array();
	int r = 0;
	if (base && nftw(base, removed_entry, 32,
			 FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL) != 0)
		r = hull_err_sys(err, errno, "read %s", base);
	if (r == 0) {
		json_t *h = json_pack("{s:s, s:s?, s:O}", "snapshot", snap_name,
				      "base", base_name, "removed", S.removed);
		char *text = json_dumps(h, JSON_COMPACT);
		json_decref(h);
		_cleanup_free_ char *intro =
		    xasprintf("%s %d %zu\n", POOL_DIRSTREAM_MAGIC,
			      POOL_DIRSTREAM_VERSION, strlen(text));
		int w = hull_write_all(fd, intro, strlen(intro));
		if (w == 0)
			w = hull_write_all(fd, text, strlen(text));
		free(text);
		if (w < 0)
			r = hull_err_sys(err, -w, "write stream");
	}
	json_decref(S.removed);
	if (r < 0)
		return r;

	S.tar = archive_write_new();
	S.disk = archive_read_disk_new();
	archive_write_set_format_pax_restricted(S.tar);
	/* Pad only to the 512-byte block: nothing but tar follows. */
	archive_write_set_bytes_in_last_block(S.tar, 1);
	if (archive_write_open_fd(S.tar, fd) != ARCHIVE_OK)
		r = hull_err_set(err, EIO, "write stream: %s",
				 archive_error_string(S.tar));
	if (r == 0 && nftw(snap, send_entry, 32,
			   FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL) != 0)
		r = S.code ? S.code : hull_err_sys(err, errno, "read %s", snap);
	if (archive_write_close(S.tar) != ARCHIVE_OK && r == 0)
		r = hull_err_set(err, EIO, "write stream: %s",
				 archive_error_string(S.tar));
	archive_write_free(S.tar);
	archive_read_free(S.disk);
	memset(&S, 0, sizeof(S));
	return r;
}

/* ---- receive ---- */

static int read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

/* Reads the intro and header, byte by byte for the intro, so that nothing
 * of the tar after them is consumed. */
static int header_read(int fd, struct pool_dirstream_header *h,
		       struct hull_err *err)
{
	char line[POOL_DIRSTREAM_INTRO_MAX + 1];
	size_t n = 0;
	for (;;) {
		if (n == POOL_DIRSTREAM_INTRO_MAX)
			return hull_err_set(err, EINVAL,
					    "not a dir-backend stream");
		int r = read_exact(fd, &line[n], 1);
		if (r < 0)
			return hull_err_set(err, EINVAL,
					    "stream ends before its header");
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	size_t len;
	int r = pool_dirstream_intro_parse(line, &len, err);
	if (r < 0)
		return r;
	char *buf = xmalloc(len);
	r = read_exact(fd, buf, len);
	if (r < 0) {
		free(buf);
		return hull_err_set(err, EINVAL,
				    "stream ends inside its header");
	}
	r = pool_dirstream_header_parse(buf, len, h, err);
	free(buf);
	return r;
}

/* Removes top/rel unless a folder on the way is a symbolic link (then it
 * is not inside top and is left alone). */
static int remove_inside(const char *top, const char *rel, struct hull_err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", top, rel);
	size_t tl = strlen(top);
	for (char *c = path + tl + 1; (c = strchr(c, '/')); c++) {
		*c = '\0';
		struct stat st;
		bool ok = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
		*c = '/';
		if (!ok)
			return 0;
	}
	return hull_rm_rf(path, err);
}

static int extract(const char *dir, int fd, struct hull_err *err)
{
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return hull_err_sys(err, errno, "open .");
	/* libarchive's secure extraction works on paths relative to the
	 * working folder: enter the target for the unpacking. */
	if (chdir(dir) < 0) {
		int e = errno;
		close(cwd);
		return hull_err_sys(err, e, "enter %s", dir);
	}
	struct archive *a = archive_read_new();
	struct archive *w = archive_write_disk_new();
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(
	    w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
		   ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR |
		   ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_UNLINK |
		   ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		   ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	int r = 0;
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
		r = hull_err_set(err, EINVAL, "stream: %s",
				 archive_error_string(a));
	struct archive_entry *e;
	int ar;
	while (r == 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const char *link = archive_entry_hardlink(e);
		if (!pool_dirstream_path_valid(name) ||
		    (link && !pool_dirstream_path_valid(link))) {
			r = hull_err_set(err, EINVAL,
					 "stream: entry outside the snapshot");
			break;
		}
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			r = hull_err_set(err, EIO, "unpack %s: %s", name,
					 archive_error_string(w));
			break;
		}
		const void *buf;
		size_t size;
		int64_t off;
		int dr;
		while ((dr = archive_read_data_block(a, &buf, &size, &off)) ==
		       ARCHIVE_OK) {
			if (archive_write_data_block(w, buf, size, off) <
			    ARCHIVE_WARN) {
				dr = ARCHIVE_FATAL;
				break;
			}
		}
		if (dr != ARCHIVE_EOF) {
			r = hull_err_set(err, EIO, "unpack %s: %s", name,
					 archive_error_string(a)
					     ? archive_error_string(a)
					     : archive_error_string(w));
			break;
		}
		if (archive_write_finish_entry(w) < ARCHIVE_WARN)
			r = hull_err_set(err, EIO, "unpack %s: %s", name,
					 archive_error_string(w));
	}
	if (r == 0 && ar != ARCHIVE_EOF)
		r = hull_err_set(err, EINVAL,
				 "stream is truncated or corrupt: %s",
				 archive_error_string(a));
	/* Closing sets the folders' times and modes, deferred to the end. */
	if (archive_write_close(w) != ARCHIVE_OK && r == 0)
		r = hull_err_set(err, EIO, "unpack: %s",
				 archive_error_string(w));
	archive_write_free(w);
	archive_read_free(a);
	if (fchdir(cwd) < 0 && r == 0)
		r = hull_err_sys(err, errno, "return to the working folder");
	close(cwd);
	return r;
}

int pool_dirstream_receive(struct pool *p, const char *dir, const char *snapdir,
			   int fd, char **snap_name, bool *incremental,
			   struct hull_err *err)
{
	struct pool_dirstream_header h;
	int r = header_read(fd, &h, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *target = xasprintf("%s/%s", dir, h.snapshot);
	_cleanup_free_ char *tmp = xasprintf("%s/.recv-%s", dir, h.snapshot);
	if (hull_path_exists(target))
		r = hull_err_set(err, EEXIST, "snapshot %s already exists",
				 h.snapshot);
	if (r == 0 && hull_path_exists(tmp)) {
		/* Left by a receive that was killed. */
		pool_dir_tree_flags(tmp, false, false, NULL);
		hull_rm_rf(tmp, NULL);
	}
	if (r == 0 && h.base) {
		_cleanup_free_ char *bp =
		    snapdir ? xasprintf("%s/%s", snapdir, h.base) : NULL;
		if (!bp || !hull_is_dir(bp))
			r = hull_err_set(
			    err, ENOENT,
			    "the stream's base snapshot %s is not present",
			    h.base);
		else
			r = pool_dir_copy(bp, tmp, false, false, err);
		for (size_t i = 0; r == 0 && i < h.n_removed; i++)
			r = remove_inside(tmp, h.removed[i], err);
	} else if (r == 0 && mkdir(tmp, 0755) < 0) {
		r = hull_err_sys(err, errno, "create %s", tmp);
	}
	if (r == 0)
		r = extract(tmp, fd, err);
	if (r == 0)
		r = pool_dir_tree_flags(tmp, true, true, err);
	if (r == 0 && rename(tmp, target) < 0)
		r = hull_err_sys(err, errno, "store %s", target);
	if (r < 0 && hull_path_exists(tmp)) {
		pool_dir_tree_flags(tmp, false, false, NULL);
		hull_rm_rf(tmp, NULL);
	}
	if (r == 0) {
		*snap_name = xstrdup(h.snapshot);
		*incremental = h.base != NULL;
	}
	pool_dirstream_header_free(&h);
	return r;
}
