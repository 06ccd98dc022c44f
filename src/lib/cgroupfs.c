/*
 * cgroupfs.c - mounting the host's cgroup hierarchies privately where
 * /sys/fs/cgroup shows none (see cgroupfs.h). Used by zone/cgroup.c, so by
 * every program that makes, joins, counts or removes an instance's cgroup.
 */
#include "lib/cgroupfs.h"

#include <errno.h>
#include <pthread.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"

/* ---- pure ---- */

int hull_cgroupfs_parse(const char *text, size_t len,
			struct hull_cgroupfs_layout *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le == p) {
			p = le + 1;
			continue;
		}
		/* "<id>:<controllers>:<path>"; the path may hold ':'. */
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 =
		    c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (!c2 || c1 == p || c2 + 1 >= le || c2[1] != '/')
			return -EINVAL;
		for (const char *d = p; d < c1; d++)
			if (*d < '0' || *d > '9')
				return -EINVAL;
		size_t ctln = (size_t)(c2 - c1 - 1);
		if (c1 - p == 1 && *p == '0' && ctln == 0) {
			out->v2 = true;
		} else if (ctln > 0) {
			if (out->n == HULL_CGROUPFS_MAX ||
			    ctln >= sizeof(out->v1[0]))
				return -EINVAL;
			/* Mount options: controllers and "name=" only. */
			for (const char *d = c1 + 1; d < c2; d++)
				if (*d == '/' || *d == ' ' || *d == '\0')
					return -EINVAL;
			memcpy(out->v1[out->n], c1 + 1, ctln);
			out->v1[out->n][ctln] = '\0';
			out->n++;
		} else {
			return -EINVAL;
		}
		p = le + 1;
	}
	return 0;
}

/* ---- the mounts ---- */

static bool is_cgroupfs(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (sf.f_type == CGROUP_SUPER_MAGIC ||
					  sf.f_type == CGROUP2_SUPER_MAGIC);
}

bool hull_cgroupfs_mounted(void)
{
	static const char *const probe[] = {
	    HULL_CGROUP_ROOT,
	    HULL_CGROUP_ROOT "/memory",
	    HULL_CGROUP_ROOT "/pids",
	    HULL_CGROUP_ROOT "/cpu",
	    HULL_CGROUP_ROOT "/systemd",
	    HULL_CGROUP_ROOT "/unified",
	};
	for (size_t i = 0; i < sizeof(probe) / sizeof(*probe); i++)
		if (is_cgroupfs(probe[i]))
			return true;
	return false;
}

static const unsigned long mnt_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

/* The folder a v1 hierarchy gets, as systemd names it: the controllers
 * ("cpu,cpuacct"), a named hierarchy's name ("systemd"). */
static char *v1_dir(const char *opts)
{
	const char *name = opts;
	if (strncmp(name, "name=", 5) == 0 && !strchr(name, ','))
		name += 5;
	return xasprintf(HULL_CGROUP_ROOT "/%s", name);
}

static int mount_v1(const char *opts, struct hull_err *err)
{
	_cleanup_free_ char *dir = v1_dir(opts);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return hull_err_sys(err, errno, "mkdir %s", dir);
	if (mount("cgroup", dir, "cgroup", mnt_flags, opts) < 0)
		return hull_err_sys(
		    err, errno, "mount cgroup hierarchy %s on %s", opts, dir);
	if (!strchr(opts, ','))
		return 0;
	/* Each controller of a shared hierarchy by its own name too. */
	_cleanup_free_ char *copy = xstrdup(opts);
	const char *base = strrchr(dir, '/') + 1;
	char *save = NULL;
	for (char *c = strtok_r(copy, ",", &save); c;
	     c = strtok_r(NULL, ",", &save)) {
		if (strncmp(c, "name=", 5) == 0)
			continue;
		_cleanup_free_ char *link =
		    xasprintf(HULL_CGROUP_ROOT "/%s", c);
		if (symlink(base, link) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "symlink %s", link);
	}
	return 0;
}

static int mount_all(const struct hull_cgroupfs_layout *l, struct hull_err *err)
{
	if (l->n == 0) {
		if (!l->v2)
			return hull_err_set(err, ENOENT,
					    "this process is in no cgroup "
					    "hierarchy");
		if (mount("cgroup2", HULL_CGROUP_ROOT, "cgroup2", mnt_flags,
			  NULL) < 0)
			return hull_err_sys(err, errno, "mount cgroup2 on %s",
					    HULL_CGROUP_ROOT);
		return 0;
	}
	if (mount("tmpfs", HULL_CGROUP_ROOT, "tmpfs", mnt_flags,
		  "mode=755,size=64k") < 0)
		return hull_err_sys(err, errno, "mount tmpfs on %s",
				    HULL_CGROUP_ROOT);
	for (size_t i = 0; i < l->n; i++)
		if (mount_v1(l->v1[i], err) < 0)
			return -err->code;
	/* A hybrid host's unified tree, which a zone's systemd tracks itself
	 * in; hull makes the zone's folder there as in every hierarchy. */
	if (l->v2) {
		const char *u = HULL_CGROUP_ROOT "/unified";
		if (mkdir(u, 0755) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "mkdir %s", u);
		if (mount("cgroup2", u, "cgroup2", mnt_flags, NULL) < 0)
			return hull_err_sys(err, errno, "mount cgroup2 on %s",
					    u);
	}
	return 0;
}

static int ensure_once(struct hull_err *err)
{
	if (hull_cgroupfs_mounted())
		return 0;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (hull_file_read("/proc/self/cgroup", 1 << 16, &text, &len, err) < 0)
		return -err->code;
	struct hull_cgroupfs_layout l;
	if (hull_cgroupfs_parse(text, len, &l) < 0)
		return hull_err_set(err, EINVAL,
				    "/proc/self/cgroup: unexpected contents");
	/* Our own namespace, so that the caller's (the one `ip netns exec`
	 * made, which its shell may share) is left as it was; a slave of it,
	 * so that nothing mounted here reaches anyone else. */
	if (unshare(CLONE_NEWNS) < 0)
		return hull_err_sys(err, errno, "unshare mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return hull_err_sys(err, errno, "make / a slave mount");
	return mount_all(&l, err);
}

static int ensure_state; /* 0 not yet, 1 done, -1 failed */
static struct hull_err ensure_saved;

static void ensure_run(void)
{
	hull_err_clear(&ensure_saved);
	ensure_state = ensure_once(&ensure_saved) < 0 ? -1 : 1;
	if (ensure_state < 0)
		hull_err_prefix(&ensure_saved,
				"no cgroup hierarchy at %s, and mounting them "
				"failed",
				HULL_CGROUP_ROOT);
}

int hull_cgroupfs_ensure(struct hull_err *err)
{
	/* Once per process, also when threads ask at once. */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, ensure_run);
	const int state = ensure_state;
	const struct hull_err saved = ensure_saved;
	if (state > 0)
		return 0;
	if (err)
		*err = saved;
	return -saved.code;
}
