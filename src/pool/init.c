/*
 * init.c - `hull init` and `hull fini` (see init.h).
 *
 * A btrfs pool is a filesystem mounted at the root, made with mkfs.btrfs on
 * a sparse file (through a loop device) or on a block device. Its record,
 * R/var/pool.json, lives inside that filesystem, so an unmounted pool looks
 * uninitialised to every command, and mounting it again brings the record
 * back with the data. A file or device that already holds a btrfs is never
 * formatted again: after a reboot `hull init` just mounts it.
 *
 * Every step that makes something (root folder, file, loop device, mount)
 * is remembered in struct undo and taken back when a later step fails.
 */
#include "pool/init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <mntent.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/install.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"
#include "pool/btrfs.h"
#include "pool/disks.h"
#include "pool/loop.h"
#include "pool/size.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

/* btrfs's superblock sits at 64 KiB; its magic at offset 0x40 in it. */
#define BTRFS_SB_OFFSET 0x10000
#define BTRFS_MAGIC_OFFSET 0x40
#define BTRFS_MAGIC_TEXT "_BHRfS_M"

static const char *const quota_names[] = {
    [POOL_QUOTA_AUTO] = "auto",
    [POOL_QUOTA_SIMPLE] = "simple",
    [POOL_QUOTA_FULL] = "full",
    [POOL_QUOTA_NONE] = "none",
};

int pool_quota_mode_parse(const char *s, enum pool_quota_mode *out)
{
	for (size_t i = 0; i < sizeof(quota_names) / sizeof(*quota_names); i++)
		if (s && strcmp(s, quota_names[i]) == 0) {
			*out = (enum pool_quota_mode)i;
			return 0;
		}
	return -1;
}

const char *pool_quota_mode_name(enum pool_quota_mode m)
{
	return quota_names[m];
}

char *pool_default_file(const char *root)
{
	if (strcmp(root, HULL_DEFAULT_ROOT) == 0)
		return xstrdup(POOL_DEFAULT_FILE);
	return xasprintf("%s.img", root);
}

static bool is_mount_point(const char *path)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
		  &stx) < 0)
		return false;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	/* Older kernels: a mount point sits on another device than its
	 * parent. */
	_cleanup_free_ char *up = xasprintf("%s/..", path);
	struct stat a, b;
	return stat(path, &a) == 0 && stat(up, &b) == 0 && a.st_dev != b.st_dev;
}

static bool dir_empty(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	bool empty = true;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

/* True when the file or device at path holds a btrfs. */
static bool holds_btrfs(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char magic[sizeof(BTRFS_MAGIC_TEXT) - 1];
	ssize_t n = pread(fd, magic, sizeof(magic),
			  BTRFS_SB_OFFSET + BTRFS_MAGIC_OFFSET);
	close(fd);
	return n == (ssize_t)sizeof(magic) &&
	       memcmp(magic, BTRFS_MAGIC_TEXT, sizeof(magic)) == 0;
}

struct undo {
	char *root_made;   /* root folder we created */
	char *parent_made; /* folder we created for the pool file */
	char *file_made;   /* pool file we created */
	int loop_fd;	   /* our loop device, until mounted */
	bool mounted;
	const char *const *formatted; /* --device disks we formatted */
	size_t nformatted;
};

static void undo_run(struct undo *u, const char *root)
{
	if (u->mounted && umount2(root, 0) < 0)
		umount2(root, MNT_DETACH);
	if (u->loop_fd >= 0)
		close(u->loop_fd);
	if (u->file_made)
		unlink(u->file_made);
	/* Disks we formatted go back to holding nothing. */
	for (size_t i = 0; i < u->nformatted; i++) {
		char *argv[] = {"wipefs", "-q", "-a", (char *)u->formatted[i],
				NULL};
		hull_run(argv, -1, -1, NULL, NULL);
	}
	if (u->parent_made)
		rmdir(u->parent_made);
	if (u->root_made)
		hull_rm_rf(u->root_made, NULL);
}

static void undo_free(struct undo *u)
{
	if (u->loop_fd >= 0)
		close(u->loop_fd);
	free(u->root_made);
	free(u->parent_made);
	free(u->file_made);
}

/* The folders of a pool and its record. */
static int layout_make(const char *root, enum pool_backend b, const char *file,
		       const char *device, enum pool_quota_mode quota,
		       struct hull_err *err)
{
	static const char *const dirs[] = {"var", "images", ".snapshots"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", root, dirs[i]);
		if (mkdir(d, 0700) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "create %s", d);
	}
	/* A fresh btrfs's top folder is 0755: root's alone (lib/root.h). */
	int r = hull_root_secure(err);
	if (r < 0)
		return r;
	json_t *j = json_pack("{s:s}", "backend", pool_backend_name(b));
	if (file)
		json_object_set_new(j, "file", json_string(file));
	if (device)
		json_object_set_new(j, "device", json_string(device));
	if (b == POOL_BACKEND_BTRFS)
		json_object_set_new(j, "quotas",
				    json_string(pool_quota_mode_name(quota)));
	_cleanup_free_ char *cfg = xasprintf("%s/var/pool.json", root);
	r = hull_json_save_file(cfg, j, err);
	json_decref(j);
	return r;
}

/* Makes a new sparse pool file of size bytes and a btrfs in it. */
static int file_make(const char *file, uint64_t size, struct undo *u,
		     struct hull_err *err)
{
	_cleanup_free_ char *copy = xstrdup(file);
	const char *parent = dirname(copy);
	if (!hull_is_dir(parent)) {
		/* Only the last folder is made (/var/lib/hull); a missing
		 * /var/lib is a broken host, not ours to fix. */
		if (mkdir(parent, 0700) < 0)
			return hull_err_sys(err, errno, "create %s", parent);
		u->parent_made = xstrdup(parent);
	}
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "create %s", file);
	u->file_made = xstrdup(file);
	int r = ftruncate(fd, (off_t)size);
	int e = errno;
	close(fd);
	if (r < 0)
		return hull_err_sys(err, e, "size %s", file);
	char *argv[] = {"mkfs.btrfs", "-q", "-L", "hull", (char *)file, NULL};
	return hull_run(argv, -1, -1, NULL, err);
}

/* What a block device holds: "btrfs", another type, or "" for nothing. */
static int device_probe(const char *dev, char **type, struct hull_err *err)
{
	struct stat st;
	if (stat(dev, &st) < 0)
		return hull_err_sys(err, errno, "%s", dev);
	if (!S_ISBLK(st.st_mode))
		return hull_err_set(err, ENOTBLK, "%s is not a block device",
				    dev);
	if (holds_btrfs(dev)) {
		*type = xstrdup("btrfs");
		return 0;
	}
	char *out = NULL;
	struct hull_err e2;
	char *argv[] = {"blkid", "-p",	 "-o",	      "value",
			"-s",	 "TYPE", (char *)dev, NULL};
	/* blkid -p exits 2 when it finds no signature. */
	if (hull_run(argv, -1, -1, &out, &e2) < 0) {
		*type = xstrdup("");
		return 0;
	}
	out[strcspn(out, "\n")] = '\0';
	*type = out;
	return 0;
}

/* Adds "layout" to a new device pool's record. */
static int record_layout(const char *root, const struct pool_init_opts *o,
			 struct hull_err *err)
{
	_cleanup_free_ char *cfg = xasprintf("%s/var/pool.json", root);
	json_t *j = hull_json_load_file(cfg, err);
	if (!j)
		return -EIO;
	json_object_set_new(j, "layout",
			    json_string(pool_layout_name(o->layout)));
	int r = hull_json_save_file(cfg, j, err);
	json_decref(j);
	return r;
}

/* Looks at every --device before anything is written: either all hold
 * btrfs (a pool to mount again; those missing are left to a degraded
 * mount), or none holds anything and there are enough of them for the
 * layout (then they are formatted together). *mopts gets the mount
 * options that name every disk. */
static int devices_prepare(const struct pool_init_opts *o, struct undo *u,
			   bool *fresh, char **mopts, struct hull_err *err)
{
	size_t n = o->ndevices, nbtrfs = 0;
	struct stat *sts = xcalloc(n, sizeof(*sts));
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *type = NULL;
		r = device_probe(o->devices[i], &type, err);
		if (r < 0)
			break;
		/* In use (mounted, held) or holding something else. */
		if (strcmp(type, "btrfs") != 0)
			r = pool_disk_check_free(o->devices[i], err);
		else
			nbtrfs++;
		stat(o->devices[i], &sts[i]);
		for (size_t k = 0; r == 0 && k < i; k++)
			if (sts[k].st_rdev == sts[i].st_rdev)
				r = hull_err_set(err, EINVAL,
						 "%s is given twice",
						 o->devices[i]);
	}
	free(sts);
	if (r < 0)
		return r;
	char *opts = NULL;
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s%sdevice=%s", opts ? opts : "",
				       opts ? "," : "", o->devices[i]);
		free(opts);
		opts = next;
	}
	*mopts = opts;
	if (nbtrfs == n)
		return 0;
	if (nbtrfs > 0) {
		for (size_t i = 0; i < n; i++)
			if (!holds_btrfs(o->devices[i]))
				return hull_err_set(
				    err, EINVAL,
				    "%s is empty but %s holds a pool: give "
				    "only the pool's disks (add one with "
				    "hull add)",
				    o->devices[i], o->devices[0]);
	}
	size_t least = pool_layout_min_devices(o->layout);
	if (n < least)
		return hull_err_set(err, EINVAL,
				    "the %s layout takes at least %zu disks, "
				    "not %zu",
				    pool_layout_name(o->layout), least, n);
	size_t argc = 0;
	char **argv = xcalloc(n + 10, sizeof(*argv));
	argv[argc++] = "mkfs.btrfs";
	argv[argc++] = "-q";
	argv[argc++] = "-L";
	argv[argc++] = "hull";
	argv[argc++] = "-d";
	argv[argc++] = (char *)pool_layout_data_profile(o->layout, n);
	argv[argc++] = "-m";
	argv[argc++] = (char *)pool_layout_meta_profile(o->layout, n);
	for (size_t i = 0; i < n; i++)
		argv[argc++] = (char *)o->devices[i];
	argv[argc] = NULL;
	r = hull_run(argv, -1, -1, NULL, err);
	free(argv);
	/* mkfs.btrfs may have written some disks before failing. */
	u->formatted = o->devices;
	u->nformatted = n;
	if (r == 0)
		*fresh = true;
	return r;
}

static int init_dir(const char *root, struct undo *u, struct hull_err *err)
{
	return layout_make(root, POOL_BACKEND_DIR, NULL, NULL, POOL_QUOTA_NONE,
			   err);
}

static int init_btrfs(const struct pool_init_opts *o, const char *root,
		      struct undo *u, enum pool_init_result *res,
		      struct hull_err *err)
{
	if (is_mount_point(root))
		return hull_err_set(
		    err, EBUSY,
		    "%s is already a mount point, but not of a hull pool",
		    root);
	if (!dir_empty(root))
		return hull_err_set(
		    err, ENOTEMPTY,
		    "%s is not empty: a pool is mounted over an empty folder",
		    root);
	uint64_t size = o->size ? o->size : POOL_DEFAULT_SIZE;
	if (size < POOL_MIN_SIZE)
		return hull_err_set(err, EINVAL,
				    "pool size too small: the least is 256M");
	_cleanup_free_ char *file = NULL;
	const char *dev = o->ndevices ? o->devices[0] : NULL;
	bool fresh = false;
	_cleanup_free_ char *loopdev = NULL;
	_cleanup_free_ char *mopts = NULL;
	int r;

	if (dev) {
		r = devices_prepare(o, u, &fresh, &mopts, err);
		if (r < 0)
			return r;
	} else {
		file = o->file ? xstrdup(o->file) : pool_default_file(root);
		struct stat st;
		if (stat(file, &st) == 0) {
			if (!S_ISREG(st.st_mode))
				return hull_err_set(err, EINVAL,
						    "%s is not a regular file "
						    "(use --device for a disk)",
						    file);
			if (!holds_btrfs(file))
				return hull_err_set(
				    err, EEXIST,
				    "%s exists and holds no btrfs: refusing to "
				    "overwrite it",
				    file);
		} else {
			r = file_make(file, size, u, err);
			if (r < 0)
				return r;
			fresh = true;
		}
		r = pool_loop_attach(file, &loopdev, err);
		if (r < 0)
			return r;
		u->loop_fd = r;
		dev = loopdev;
	}

	if (mount(dev, root, "btrfs", 0, mopts) < 0) {
		/* A pool with a disk gone mounts only when asked to run
		 * degraded; the caller says so (hull status). */
		int e = errno;
		_cleanup_free_ char *deg = mopts
					       ? xasprintf("%s,degraded", mopts)
					       : xstrdup("degraded");
		if (fresh || o->ndevices == 0 ||
		    mount(dev, root, "btrfs", 0, deg) < 0)
			return hull_err_sys(err, e, "mount %s on %s", dev,
					    root);
	}
	u->mounted = true;
	/* Mounted, the loop device is held by the mount; closing our
	 * descriptor lets LO_FLAGS_AUTOCLEAR free it at unmount. */
	if (u->loop_fd >= 0) {
		close(u->loop_fd);
		u->loop_fd = -1;
	}
	_cleanup_free_ char *cfg = xasprintf("%s/var/pool.json", root);
	if (!fresh) {
		if (!hull_path_exists(cfg))
			return hull_err_set(
			    err, EEXIST,
			    "%s holds a btrfs that is not a hull pool",
			    o->ndevices ? o->devices[0] : file);
		if (o->layout_set) {
			json_t *j = hull_json_load_file(cfg, err);
			if (!j)
				return -EIO;
			_cleanup_free_ char *was =
			    xstrdup(hull_json_str(j, "layout", "single"));
			json_decref(j);
			if (strcmp(was, pool_layout_name(o->layout)) != 0)
				return hull_err_set(
				    err, EEXIST, "%s holds a %s pool, not %s",
				    dev, was, pool_layout_name(o->layout));
		}
		*res = POOL_INIT_MOUNTED;
		return 0;
	}
	enum pool_quota_mode q = o->quota;
	r = 0;
	if (q == POOL_QUOTA_AUTO) {
		q = POOL_QUOTA_SIMPLE;
		if (pool_btrfs_quota_enable(root, true, NULL) < 0)
			q = POOL_QUOTA_FULL;
		else
			q = POOL_QUOTA_SIMPLE;
		if (q == POOL_QUOTA_FULL)
			r = pool_btrfs_quota_enable(root, false, err);
	} else if (q != POOL_QUOTA_NONE) {
		r = pool_btrfs_quota_enable(root, q == POOL_QUOTA_SIMPLE, err);
	}
	if (r == 0)
		r = layout_make(root, POOL_BACKEND_BTRFS, file,
				o->ndevices ? o->devices[0] : NULL, q, err);
	if (r == 0 && o->ndevices) {
		r = record_layout(root, o, err);
		if (r == 0)
			r = pool_disks_record(root, err);
	}
	*res = POOL_INIT_CREATED;
	return r;
}

/* An existing pool, mounted again or found in place, is swept of what
 * interrupted commands left: the pool's own temporary entries, then what
 * killed image imports left (their scratch folders and -partial
 * datasets). */
static int sweep(struct hull_err *err)
{
	struct pool *p;
	int r = pool_open(&p, err);
	unsigned n;
	if (r == 0)
		r = pool_sweep(p, &n, err);
	if (r == 0) {
		json_t *removed;
		r = image_leftovers_clean(p, &removed, err);
		json_decref(removed);
	}
	pool_close(p);
	return r;
}

static int init_any(const struct pool_init_opts *o, enum pool_init_result *res,
		    struct hull_err *err);

int pool_init(const struct pool_init_opts *opts, enum pool_init_result *res,
	      struct hull_err *err)
{
	struct pool_init_opts oo = *opts;
	if (!oo.layout_set)
		oo.layout = pool_layout_default(oo.ndevices);
	const struct pool_init_opts *o = &oo;
	int r = init_any(o, res, err);
	if (r == 0 && *res != POOL_INIT_CREATED && sweep(err) < 0)
		return hull_err_prefix(err, "init");
	return r;
}

static int init_any(const struct pool_init_opts *o, enum pool_init_result *res,
		    struct hull_err *err)
{
	const char *root = hull_root();
	_cleanup_free_ char *cfg = xasprintf("%s/var/pool.json", root);
	if (o->file && o->ndevices)
		return hull_err_set(
		    err, EINVAL,
		    "init: --file and --device exclude each other");
	if (o->backend_set && o->backend == POOL_BACKEND_DIR &&
	    (o->file || o->ndevices || o->size || o->layout_set ||
	     o->quota != POOL_QUOTA_AUTO))
		return hull_err_set(
		    err, EINVAL,
		    "init: --file, --device, --layout and --size "
		    "are for "
		    "the btrfs backend");

	if (hull_path_exists(cfg)) {
		json_t *j = hull_json_load_file(cfg, err);
		if (!j)
			return hull_err_prefix(err, "init");
		enum pool_backend b = POOL_BACKEND_DIR;
		int bad =
		    pool_backend_parse(hull_json_str(j, "backend", NULL), &b);
		json_decref(j);
		if (bad < 0)
			return hull_err_set(err, EINVAL,
					    "init: %s names no known backend",
					    cfg);
		if (o->backend_set && o->backend != b)
			return hull_err_set(err, EEXIST,
					    "init: %s is already a %s pool",
					    root, pool_backend_name(b));
		*res = POOL_INIT_ALREADY;
		return 0;
	}

	_cleanup_free_ char *copy = xstrdup(root);
	const char *parent = dirname(copy);
	if (!hull_is_dir(parent))
		return hull_err_set(
		    err, ENOENT,
		    "init: %s does not exist (the pool root %s goes in it)",
		    parent, root);
	struct undo u = {.loop_fd = -1};
	int r = 0;
	struct stat st;
	if (lstat(root, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			r = hull_err_set(err, ENOTDIR, "%s is not a folder",
					 root);
	} else if (mkdir(root, 0700) < 0) {
		r = hull_err_sys(err, errno, "create %s", root);
	} else {
		u.root_made = xstrdup(root);
	}
	if (r == 0) {
		if (o->backend_set && o->backend == POOL_BACKEND_DIR) {
			r = init_dir(root, &u, err);
			*res = POOL_INIT_CREATED;
		} else {
			r = init_btrfs(o, root, &u, res, err);
		}
	}
	if (r < 0)
		undo_run(&u, root);
	undo_free(&u);
	return r < 0 ? hull_err_prefix(err, "init") : 0;
}

/* The device mounted at path ("/dev/loop3"), or NULL. Caller frees. */
static char *mount_source(const char *path)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	if (!f)
		return NULL;
	char *src = NULL;
	struct mntent *m;
	while ((m = getmntent(f)))
		if (strcmp(m->mnt_dir, path) == 0) {
			free(src);
			src = xstrdup(m->mnt_fsname);
		}
	endmntent(f);
	return src;
}

/* The kernel frees an autoclear loop device after the last user goes, in
 * the background (since Linux 5.19): wait for it, so that once fini
 * returns the device is gone. */
static void loop_wait_detached(const char *dev)
{
	if (!dev || strncmp(dev, "/dev/loop", 9) != 0)
		return;
	/* A loop device the operator set up (--device) stays attached. */
	_cleanup_free_ char *ac =
	    xasprintf("/sys/block/%s/loop/autoclear", dev + 5);
	char *flag = NULL;
	size_t len;
	bool autoclear = hull_file_read(ac, 16, &flag, &len, NULL) == 0 &&
			 len > 0 && flag[0] == '1';
	free(flag);
	if (!autoclear)
		return;
	_cleanup_free_ char *bf =
	    xasprintf("/sys/block/%s/loop/backing_file", dev + 5);
	for (int i = 0; i < 500 && hull_path_exists(bf); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int pool_fini(bool *done, struct hull_err *err)
{
	const char *root = hull_root();
	_cleanup_free_ char *cfg = xasprintf("%s/var/pool.json", root);
	*done = false;
	if (!is_mount_point(root))
		return 0; /* a dir pool, or nothing mounted: nothing to undo */
	json_t *j =
	    hull_path_exists(cfg) ? hull_json_load_file(cfg, NULL) : NULL;
	if (!j)
		return hull_err_set(
		    err, EINVAL, "fini: %s is a mount point hull did not make",
		    root);
	bool btrfs = strcmp(hull_json_str(j, "backend", ""), "btrfs") == 0;
	json_decref(j);
	if (!btrfs)
		return 0; /* a dir pool on a mount of the host's own */
	sync();
	_cleanup_free_ char *dev = mount_source(root);
	if (umount2(root, 0) < 0) {
		if (errno == EBUSY)
			return hull_err_set(err, EBUSY,
					    "fini: %s is busy (running "
					    "instances or open files)",
					    root);
		return hull_err_sys(err, errno, "fini: unmount %s", root);
	}
	loop_wait_detached(dev);
	*done = true;
	return 0;
}
