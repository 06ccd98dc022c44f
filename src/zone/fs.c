/*
 * fs.c - the `filesystems` of an OS instance (see fs.h).
 *
 * SmartOS hands each entry to zonecfg as an `fs` resource that zoneadmd
 * mounts at every boot; hull does the same from the supervisor's start of
 * the zone. Only lofs exists here (a bind mount); options are SmartOS's
 * lofs ones that mean something on Linux. nosuid and nodev are always set:
 * a host folder may be shared by several zones, and a setuid file one zone
 * root leaves there must not make another zone's user root.
 */
#include "zone/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/root.h"
#include "lib/xalloc.h"
#include "zone/rootfs.h"

#define ZONE_FS_PATH_MAX 1024

__attribute__((format(printf, 3, 4))) static bool why_set(char *why, size_t n,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return false;
}

/* An absolute path without empty, "." or ".." components. */
static bool path_ok(json_t *v, const char *what, bool root_ok, char *why,
		    size_t n)
{
	if (!json_is_string(v))
		return why_set(why, n, "%s must be a string", what);
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (strlen(s) != len || len == 0 || len > ZONE_FS_PATH_MAX)
		return why_set(why, n, "%s must be a path", what);
	if (s[0] != '/')
		return why_set(why, n, "%s must be an absolute path", what);
	if (!root_ok && len == 1)
		return why_set(why, n, "%s must not be /", what);
	for (const char *p = s; *p;) {
		p++; /* past '/' */
		const char *e = strchr(p, '/');
		size_t cl = e ? (size_t)(e - p) : strlen(p);
		if ((cl == 0 && (e || len > 1)) || (cl == 1 && p[0] == '.') ||
		    (cl == 2 && p[0] == '.' && p[1] == '.'))
			return why_set(why, n,
				       "%s must not hold empty, . or .. "
				       "components",
				       what);
		p += cl;
	}
	return true;
}

/* Sets *ro and *noexec from an options array; false (with why) for an
 * option hull does not honour. */
static bool options_parse(json_t *opts, bool *ro, bool *noexec, char *why,
			  size_t n)
{
	*ro = *noexec = false;
	if (!opts)
		return true;
	if (!json_is_array(opts) || json_array_size(opts) > 32)
		return why_set(why, n, "%s must be an array of strings",
			       "options");
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o)
	{
		const char *s = json_string_value(o);
		if (!s)
			return why_set(why, n, "%s must be an array of strings",
				       "options");
		if (!strcmp(s, "ro"))
			*ro = true;
		else if (!strcmp(s, "rw"))
			*ro = false;
		else if (!strcmp(s, "noexec"))
			*noexec = true;
		else if (!strcmp(s, "exec"))
			*noexec = false;
		else if (strcmp(s, "nodevice") && strcmp(s, "nodevices") &&
			 strcmp(s, "nosuid") && strcmp(s, "nosetuid"))
			/* devices, setuid, suid: hull never honours device
			 * nodes or setuid bits in a zone's lofs mounts. */
			return why_set(why, n,
				       "option %s is not supported (hull "
				       "takes ro, rw, exec, noexec, nodevice, "
				       "nodevices, nosuid, nosetuid)",
				       s);
	}
	return true;
}

bool zone_fs_check(json_t *e, bool partial, char *why, size_t n)
{
	if (!json_is_object(e))
		return why_set(why, n, "%s must be an object", "filesystem");
	const char *k;
	json_t *v;
	json_object_foreach(e, k, v)
	{
		if (strcmp(k, "type") && strcmp(k, "source") &&
		    strcmp(k, "target") && strcmp(k, "options"))
			return why_set(why, n,
				       !strcmp(k, "raw")
					   ? "%s: raw devices are not "
					     "supported, only lofs"
					   : "%s is not a filesystem property",
				       k);
	}
	if (!path_ok(json_object_get(e, "target"), "target", false, why, n))
		return false;
	json_t *type = json_object_get(e, "type");
	if (type || !partial) {
		if (!json_is_string(type))
			return why_set(why, n, "%s must be a string", "type");
		if (strcmp(json_string_value(type), "lofs"))
			return why_set(why, n,
				       "type %s is not supported, only lofs",
				       json_string_value(type));
	}
	json_t *src = json_object_get(e, "source");
	if ((src || !partial) && !path_ok(src, "source", true, why, n))
		return false;
	bool ro, noexec;
	return options_parse(json_object_get(e, "options"), &ro, &noexec, why,
			     n);
}

bool zone_fs_check_list(json_t *arr, char *why, size_t n)
{
	if (!json_is_array(arr))
		return why_set(why, n, "%s must be an array of objects",
			       "filesystems");
	if (json_array_size(arr) > ZONE_FS_MAX)
		return why_set(why, n, "%s: too many entries", "filesystems");
	size_t i, j;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		char sub[256];
		if (!zone_fs_check(e, false, sub, sizeof(sub))) {
			snprintf(why, n, "filesystem %zu: %s", i, sub);
			return false;
		}
		const char *t = json_string_value(json_object_get(e, "target"));
		for (j = 0; j < i; j++)
			if (!strcmp(t, json_string_value(json_object_get(
					   json_array_get(arr, j), "target"))))
				return why_set(why, n,
					       "target %s is used twice", t);
	}
	return true;
}

void zone_fs_free(struct zone_fs *fs, size_t count)
{
	if (!fs)
		return;
	for (size_t i = 0; i < count; i++) {
		free(fs[i].source);
		free(fs[i].target);
	}
	free(fs);
}

int zone_fs_parse(json_t *arr, struct zone_fs **out, size_t *count,
		  struct hull_err *err)
{
	*out = NULL;
	*count = 0;
	if (!arr || (json_is_array(arr) && json_array_size(arr) == 0))
		return 0;
	char why[256];
	if (!zone_fs_check_list(arr, why, sizeof(why)))
		return hull_err_set(err, EINVAL, "filesystems: %s", why);
	size_t n = json_array_size(arr);
	struct zone_fs *fs = xcalloc(n, sizeof(*fs));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		fs[i].source =
		    xstrdup(json_string_value(json_object_get(e, "source")));
		fs[i].target =
		    xstrdup(json_string_value(json_object_get(e, "target")));
		options_parse(json_object_get(e, "options"), &fs[i].ro,
			      &fs[i].noexec, why, sizeof(why));
	}
	*out = fs;
	*count = n;
	return 0;
}

int zone_fs_add_delegated(struct zone_fs **fs, size_t *count, const char *uuid,
			  const char *zpool, struct hull_err *err)
{
	if (!*zpool || strlen(zpool) > 64 ||
	    strspn(zpool, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789_.-") != strlen(zpool) ||
	    !strcmp(zpool, ".") || !strcmp(zpool, ".."))
		return hull_err_set(err, EINVAL, "zpool: not a pool name: %s",
				    zpool);
	if (*count >= ZONE_FS_MAX)
		return hull_err_set(err, EINVAL,
				    "filesystems: too many entries");
	*fs = xrealloc(*fs, (*count + 1) * sizeof(**fs));
	struct zone_fs *d = &(*fs)[(*count)++];
	memset(d, 0, sizeof(*d));
	d->source = hull_root_path("%s/data", uuid);
	d->target = xasprintf("/%s/%s/data", zpool, uuid);
	d->idmap = true;
	return 0;
}

int zone_fs_clone(const struct zone_fs *fs, size_t count, int *trees,
		  struct hull_err *err)
{
	for (size_t i = 0; i < count; i++)
		trees[i] = -1;
	for (size_t i = 0; i < count; i++) {
		/* Not recursive: what is mounted below the source on the
		 * host stays the host's. */
		int t = open_tree(AT_FDCWD, fs[i].source,
				  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		struct mount_attr a = {
		    .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				(fs[i].ro ? MOUNT_ATTR_RDONLY : 0) |
				(fs[i].noexec ? MOUNT_ATTR_NOEXEC : 0)};
		int userns = zone_rootfs_owner_userns();
		if (fs[i].idmap && userns >= 0) {
			a.attr_set |= MOUNT_ATTR_IDMAP;
			a.userns_fd = (uint64_t)userns;
		}
		if (t < 0 ||
		    mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0) {
			int e = errno;
			if (t >= 0)
				close(t);
			for (size_t j = 0; j < i; j++)
				close(trees[j]);
			return hull_err_sys(err, e, "filesystems: source %s",
					    fs[i].source);
		}
		trees[i] = t;
	}
	return 0;
}

int zone_fs_attach(const struct zone_fs *fs, size_t count, int *trees,
		   struct hull_err *err)
{
	int r = 0;
	for (size_t i = 0; i < count; i++) {
		if (r < 0)
			goto next;
		struct stat st;
		if (fstat(trees[i], &st) < 0) {
			r = hull_err_sys(err, errno, "filesystems: source %s",
					 fs[i].source);
			goto next;
		}
		bool dir = S_ISDIR(st.st_mode);
		if (!dir && !S_ISREG(st.st_mode)) {
			r = hull_err_set(err, EINVAL,
					 "filesystems: source %s is neither a "
					 "folder nor a regular file",
					 fs[i].source);
			goto next;
		}
		int at = zone_rootfs_open_in_root(fs[i].target, dir, err);
		if (at < 0) {
			r = hull_err_prefix(err, "filesystems: target");
			goto next;
		}
		if (move_mount(trees[i], "", at, "",
			       MOVE_MOUNT_F_EMPTY_PATH |
				   MOVE_MOUNT_T_EMPTY_PATH) < 0)
			r = hull_err_sys(err, errno,
					 "filesystems: mount %s on %s",
					 fs[i].source, fs[i].target);
		close(at);
	next:
		close(trees[i]);
		trees[i] = -1;
	}
	return r;
}
