/*
 * disks.c - status, scrub, replace and add for a btrfs pool over its disks
 * (see disks.h).
 */
#include "pool/disks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"
#include "pool/btrfs.h"

static int root_open(const char *root, struct hull_err *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", root);
	return fd;
}

/* The recorded paths of var/pool.json, by position (devid - 1 for a pool
 * hull made: mkfs numbers the disks from 1 in the order given). */
static json_t *record_load(const char *root)
{
	_cleanup_free_ char *cfg = xasprintf("%s/var/pool.json", root);
	return hull_json_load_file(cfg, NULL);
}

static char *recorded_path(json_t *rec, uint64_t devid)
{
	json_t *ids = rec ? json_object_get(rec, "devids") : NULL;
	_cleanup_free_ char *key = xasprintf("%llu", (unsigned long long)devid);
	json_t *v = ids ? json_object_get(ids, key) : NULL;
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static bool sysfs_missing(const char *fsid, uint64_t devid)
{
	_cleanup_free_ char *p =
	    xasprintf("/sys/fs/btrfs/%s/devinfo/%llu/missing", fsid,
		      (unsigned long long)devid);
	char *buf = NULL;
	size_t len;
	if (hull_file_read(p, 16, &buf, &len, NULL) < 0)
		return false;
	bool m = len > 0 && buf[0] == '1';
	free(buf);
	return m;
}

/* Profiles of one kind of block group ("raid1", "raid1+single"). */
static char *profiles_of(const struct btrfs_ioctl_space_args *sa, uint64_t type,
			 bool *mixed)
{
	char *acc = NULL;
	for (uint64_t i = 0; i < sa->total_spaces; i++) {
		const struct btrfs_ioctl_space_info *s = &sa->spaces[i];
		if ((s->flags & BTRFS_BLOCK_GROUP_TYPE_MASK) != type ||
		    s->total_bytes == 0)
			continue;
		const char *p = pool_profile_of_flags(s->flags);
		if (!acc) {
			acc = xstrdup(p);
			continue;
		}
		char *n = xasprintf("%s+%s", acc, p);
		free(acc);
		acc = n;
		*mixed = true;
	}
	return acc ? acc : xstrdup("-");
}

static int space_get(int fd, struct pool_status *s, struct hull_err *err)
{
	struct btrfs_ioctl_space_args probe = {0};
	if (ioctl(fd, BTRFS_IOC_SPACE_INFO, &probe) < 0)
		return hull_err_sys(err, errno, "space info");
	size_t n = probe.total_spaces;
	struct btrfs_ioctl_space_args *sa =
	    xcalloc(1, sizeof(*sa) + n * sizeof(struct btrfs_ioctl_space_info));
	sa->space_slots = n;
	if (ioctl(fd, BTRFS_IOC_SPACE_INFO, sa) < 0) {
		int e = errno;
		free(sa);
		return hull_err_sys(err, e, "space info");
	}
	if (sa->total_spaces > n)
		sa->total_spaces = n;
	s->data_profile = profiles_of(sa, BTRFS_BLOCK_GROUP_DATA, &s->mixed);
	s->meta_profile =
	    profiles_of(sa, BTRFS_BLOCK_GROUP_METADATA, &s->mixed);
	for (uint64_t i = 0; i < sa->total_spaces; i++)
		if (sa->spaces[i].flags & BTRFS_BLOCK_GROUP_DATA)
			s->used += sa->spaces[i].used_bytes;
	free(sa);
	return 0;
}

static void scrub_get(const char *root, struct pool_scrub_info *out)
{
	char *argv[] = {"btrfs", "scrub", "status", "-R", (char *)root, NULL};
	char *text = NULL;
	if (hull_run(argv, -1, -1, &text, NULL) < 0) {
		pool_scrub_info_parse("", 0, out);
		return;
	}
	pool_scrub_info_parse(text, strlen(text), out);
	free(text);
}

int pool_status_get(const char *root, struct pool_status *s,
		    struct hull_err *err)
{
	memset(s, 0, sizeof(*s));
	int fd = root_open(root, err);
	if (fd < 0)
		return fd;
	struct btrfs_ioctl_fs_info_args fi;
	memset(&fi, 0, sizeof(fi));
	if (ioctl(fd, BTRFS_IOC_FS_INFO, &fi) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "%s: not a btrfs pool", root);
	}
	int r = pool_btrfs_fsid(root, s->fsid, err);
	json_t *rec = record_load(root);
	for (uint64_t id = 1; r == 0 && id <= fi.max_id; id++) {
		struct btrfs_ioctl_dev_info_args di;
		memset(&di, 0, sizeof(di));
		di.devid = id;
		if (ioctl(fd, BTRFS_IOC_DEV_INFO, &di) < 0) {
			if (errno == ENODEV)
				continue; /* removed or replaced */
			r = hull_err_sys(err, errno, "device %llu",
					 (unsigned long long)id);
			break;
		}
		s->disks =
		    xrealloc(s->disks, (s->ndisks + 1) * sizeof(*s->disks));
		struct pool_disk *d = &s->disks[s->ndisks++];
		memset(d, 0, sizeof(*d));
		d->devid = id;
		di.path[sizeof(di.path) - 1] = '\0';
		const char *path = (const char *)di.path;
		d->missing = sysfs_missing(s->fsid, id) || !*path ||
			     strcmp(path, "<missing disk>") == 0;
		if (!d->missing)
			d->path = xstrdup(path);
		d->last = recorded_path(rec, id);
		d->size = di.total_bytes;
		d->allocated = di.bytes_used;
		s->size += di.total_bytes;
		s->allocated += di.bytes_used;
		struct btrfs_ioctl_get_dev_stats st;
		memset(&st, 0, sizeof(st));
		st.devid = id;
		st.nr_items = BTRFS_DEV_STAT_VALUES_MAX;
		if (ioctl(fd, BTRFS_IOC_GET_DEV_STATS, &st) == 0)
			for (int k = 0;
			     k < POOL_DISK_NSTATS && (uint64_t)k < st.nr_items;
			     k++)
				d->stats[k] = st.values[k];
		if (d->missing)
			s->degraded = true;
	}
	if (r == 0)
		r = space_get(fd, s, err);
	close(fd);
	struct statvfs sv;
	if (r == 0 && statvfs(root, &sv) == 0)
		s->available = (uint64_t)sv.f_bavail * sv.f_frsize;
	const char *layout = rec ? hull_json_str(rec, "layout", NULL) : NULL;
	if (layout) {
		s->layout = xstrdup(layout);
	} else if (r == 0) {
		int l =
		    pool_layout_of_profiles(s->data_profile, s->meta_profile);
		s->layout = xstrdup(
		    l < 0 ? "custom" : pool_layout_name((enum pool_layout)l));
	}
	json_decref(rec);
	if (r == 0)
		scrub_get(root, &s->scrub);
	if (r < 0)
		pool_status_fini(s);
	return r;
}

void pool_status_fini(struct pool_status *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndisks; i++) {
		free(s->disks[i].path);
		free(s->disks[i].last);
	}
	free(s->disks);
	free(s->layout);
	free(s->data_profile);
	free(s->meta_profile);
	memset(s, 0, sizeof(*s));
}

int pool_scrub_start(const char *root, bool wait, struct hull_err *err)
{
	struct pool_scrub_info before;
	scrub_get(root, &before);
	if (strcmp(before.status, "running") == 0)
		return hull_err_set(err, EBUSY,
				    "scrub: a scrub of %s is already running",
				    root);
	/* A scrub verifies what is on the disks: what sits in the page
	 * cache goes there first, so that it is verified too. */
	int fd = root_open(root, err);
	if (fd < 0)
		return fd;
	syncfs(fd);
	close(fd);
	/* -B keeps btrfs in the foreground until every disk is done; without
	 * it btrfs detaches and runs on, as zpool scrub does. */
	char *argv[] = {"btrfs",      "scrub", "start", wait ? "-B" : "-q",
			(char *)root, NULL};
	char *out = NULL;
	struct hull_err e2 = {0};
	int r = hull_run(argv, -1, -1, &out, &e2);
	free(out);
	if (!wait)
		return r < 0 ? hull_err_set(err, -r, "scrub: %s", e2.msg) : 0;
	/* btrfs exits 3 when it found errors it could not correct: the
	 * record says which. */
	struct pool_scrub_info after;
	scrub_get(root, &after);
	if (after.uncorrectable_errors)
		return hull_err_set(
		    err, EIO,
		    "scrub: %llu uncorrectable errors (%llu corrected): see "
		    "hull status",
		    (unsigned long long)after.uncorrectable_errors,
		    (unsigned long long)after.corrected_errors);
	if (r < 0)
		return hull_err_set(err, -r, "scrub: %s", e2.msg);
	if (strcmp(after.status, "finished") != 0)
		return hull_err_set(err, EINTR, "scrub: %s", after.status);
	return 0;
}

int pool_scrub_cancel(const char *root, struct hull_err *err)
{
	struct pool_scrub_info now;
	scrub_get(root, &now);
	if (strcmp(now.status, "running") != 0)
		return hull_err_set(err, ENOENT,
				    "scrub cancel: no scrub of %s is running",
				    root);
	char *argv[] = {"btrfs", "scrub", "cancel", (char *)root, NULL};
	int r = hull_run(argv, -1, -1, NULL, err);
	return r < 0 ? hull_err_prefix(err, "scrub cancel") : 0;
}

int pool_disk_check_free(const char *dev, struct hull_err *err)
{
	struct stat st;
	if (stat(dev, &st) < 0)
		return hull_err_sys(err, errno, "%s", dev);
	if (!S_ISBLK(st.st_mode))
		return hull_err_set(err, ENOTBLK, "%s is not a block device",
				    dev);
	/* An exclusive open fails while the kernel has the device in use:
	 * mounted, in another btrfs, under device-mapper or md, or held
	 * by a program. */
	int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			return hull_err_set(
			    err, EBUSY,
			    "%s is in use (mounted, or held by another "
			    "filesystem or program)",
			    dev);
		return hull_err_sys(err, errno, "open %s", dev);
	}
	close(fd);
	char *out = NULL;
	char *argv[] = {"blkid", "-p", "-o", "export", (char *)dev, NULL};
	/* blkid -p exits 2 when it finds no signature at all. */
	if (hull_run(argv, -1, -1, &out, NULL) < 0)
		return 0;
	int r = 0;
	for (char *line = strtok(out, "\n"); line && r == 0;
	     line = strtok(NULL, "\n")) {
		if (strncmp(line, "TYPE=", 5) == 0)
			r = hull_err_set(
			    err, EEXIST,
			    "%s holds a %s filesystem: refusing to use it", dev,
			    line + 5);
		else if (strncmp(line, "PTTYPE=", 7) == 0)
			r = hull_err_set(err, EEXIST,
					 "%s holds a %s partition table: "
					 "refusing to use it",
					 dev, line + 7);
	}
	free(out);
	return r;
}

int pool_disks_record(const char *root, struct hull_err *err)
{
	_cleanup_free_ char *cfg = xasprintf("%s/var/pool.json", root);
	json_t *rec = hull_json_load_file(cfg, err);
	if (!rec)
		return -EIO;
	struct pool_status s;
	int r = pool_status_get(root, &s, err);
	if (r < 0) {
		json_decref(rec);
		return r;
	}
	json_t *ids = json_object_get(rec, "devids");
	if (!json_is_object(ids)) {
		ids = json_object();
		json_object_set_new(rec, "devids", ids);
	}
	json_t *list = json_array();
	for (size_t i = 0; i < s.ndisks; i++) {
		_cleanup_free_ char *key =
		    xasprintf("%llu", (unsigned long long)s.disks[i].devid);
		if (s.disks[i].path) {
			json_object_set_new(ids, key,
					    json_string(s.disks[i].path));
			json_array_append_new(list,
					      json_string(s.disks[i].path));
		}
	}
	/* Replaced and removed disks leave the record. */
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(ids, tmp, key, v)
	{
		bool present = false;
		for (size_t i = 0; i < s.ndisks; i++)
			if (strtoull(key, NULL, 10) == s.disks[i].devid)
				present = true;
		if (!present)
			json_object_del(ids, key);
	}
	json_object_set_new(rec, "devices", list);
	if (json_array_size(list) > 0 && json_object_get(rec, "device"))
		json_object_set(rec, "device", json_array_get(list, 0));
	pool_status_fini(&s);
	r = hull_json_save_file(cfg, rec, err);
	json_decref(rec);
	return r;
}

/* The devid that old names: a number, the path of a present disk, or the
 * recorded path of a missing one. */
static int resolve_old(const struct pool_status *s, const char *old,
		       uint64_t *devid, struct hull_err *err)
{
	char *end;
	unsigned long long n = strtoull(old, &end, 10);
	bool numeric = end != old && *end == '\0';
	struct stat want;
	bool have_st = !numeric && stat(old, &want) == 0;
	for (size_t i = 0; i < s->ndisks; i++) {
		const struct pool_disk *d = &s->disks[i];
		if (numeric && d->devid == n)
			goto found;
		if (numeric)
			continue;
		if (d->path && strcmp(d->path, old) == 0)
			goto found;
		struct stat st;
		if (d->path && have_st && stat(d->path, &st) == 0 &&
		    st.st_rdev == want.st_rdev && S_ISBLK(st.st_mode))
			goto found;
		continue;
	found:
		*devid = d->devid;
		return 0;
	}
	for (size_t i = 0; !numeric && i < s->ndisks; i++)
		if (s->disks[i].missing && s->disks[i].last &&
		    strcmp(s->disks[i].last, old) == 0) {
			*devid = s->disks[i].devid;
			return 0;
		}
	return hull_err_set(err, ENOENT, "%s is not a disk of the pool", old);
}

/* What a degraded mount wrote went to lesser profiles (single, where a
 * mirror could not be had): convert those block groups back ("soft"
 * leaves the ones already right alone). */
static int profiles_restore(const char *root, const struct pool_status *s,
			    struct hull_err *err)
{
	enum pool_layout l;
	if (pool_layout_parse(s->layout, &l) < 0)
		return 0;
	size_t n = s->ndisks;
	_cleanup_free_ char *d =
	    xasprintf("-dconvert=%s,soft", pool_layout_data_profile(l, n));
	_cleanup_free_ char *m =
	    xasprintf("-mconvert=%s,soft", pool_layout_meta_profile(l, n));
	char *argv[] = {"btrfs", "balance", "start", d, m, (char *)root, NULL};
	int r = hull_run(argv, -1, -1, NULL, err);
	return r < 0 ? hull_err_prefix(err, "restore profiles") : 0;
}

int pool_disk_replace(const char *root, const char *old, const char *new_dev,
		      struct hull_err *err)
{
	struct pool_status s;
	int r = pool_status_get(root, &s, err);
	if (r < 0)
		return hull_err_prefix(err, "replace");
	uint64_t devid = 0;
	r = resolve_old(&s, old, &devid, err);
	if (r == 0)
		r = pool_disk_check_free(new_dev, err);
	if (r < 0) {
		pool_status_fini(&s);
		return hull_err_prefix(err, "replace");
	}
	_cleanup_free_ char *id = xasprintf("%llu", (unsigned long long)devid);
	char *argv[] = {"btrfs", "replace",	  "start",	"-B",
			id,	 (char *)new_dev, (char *)root, NULL};
	r = hull_run(argv, -1, -1, NULL, err);
	pool_status_fini(&s);
	if (r < 0)
		return hull_err_prefix(err, "replace %s", old);
	r = pool_status_get(root, &s, err);
	if (r == 0 && (s.mixed || !s.degraded))
		r = profiles_restore(root, &s, err);
	pool_status_fini(&s);
	if (r == 0)
		r = pool_disks_record(root, err);
	return r < 0 ? hull_err_prefix(err, "replace %s", old) : 0;
}

int pool_disk_add(const char *root, const char *dev, struct hull_err *err)
{
	int r = pool_disk_check_free(dev, err);
	if (r < 0)
		return hull_err_prefix(err, "add");
	char *argv[] = {"btrfs",     "device",	   "add",
			(char *)dev, (char *)root, NULL};
	r = hull_run(argv, -1, -1, NULL, err);
	if (r == 0)
		r = pool_disks_record(root, err);
	return r < 0 ? hull_err_prefix(err, "add %s", dev) : 0;
}
