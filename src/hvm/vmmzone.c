/*
 * vmmzone.c - the double hull (see vmmzone.h).
 *
 * The parent works out every bind (the program's libraries included) and
 * makes the cgroup; the child is cloned into its namespaces (and, on the
 * v2 hierarchy, straight into its cgroup), joins the v1 hierarchies
 * itself, builds its root, drops every privilege and execs. Between fork
 * and exec the child only makes system calls; a failure comes back as one
 * line on a close-on-exec pipe, whose plain EOF means the exec happened.
 */
#include "hvm/vmmzone.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvm/ldlist.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "zone/config.h"
#include "zone/ns.h"
#include "zone/rootfs.h"
#include "zone/seccomp.h"

#define HULL_NS_FLAGS                                                          \
	(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |            \
	 CLONE_NEWNET)
#define HULL_PIDS_MAX 1024

int64_t hvm_hull_overhead_mib(int64_t ram_mib)
{
	int64_t o = 64 + ram_mib / 16;
	return o > 1024 ? 1024 : o;
}

/* What a bind mount may do once remounted. */
enum {
	B_RW = 1,   /* writable */
	B_EXEC = 2, /* programs and libraries */
	B_DEV = 4,  /* device nodes */
};

/* One bind mount of the hull's root, worked out by the parent so that the
 * child, between fork and exec, only makes system calls. */
struct bind {
	char *src;
	char *dst; /* root + src */
	int flags;
	bool dir;
	char *node;  /* a device node made anew here (the hull's /dev), owned
			by the uid, bound at dst instead of src; or NULL */
	mode_t type; /* S_IFBLK or S_IFCHR, for node */
	dev_t rdev;
};

struct plan {
	struct bind *b;
	size_t n;
	char *proc; /* root/proc */
	char *dev;  /* root/dev, the hull's own /dev tmpfs (a uid only) */
	char *kvm;  /* root/dev/kvm, made there; or NULL */
	uid_t uid;
	gid_t gid;
};

static void plan_fini(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->b[i].src);
		free(p->b[i].dst);
		free(p->b[i].node);
	}
	free(p->b);
	free(p->proc);
	free(p->dev);
	free(p->kvm);
	memset(p, 0, sizeof(*p));
}

static int plan_add(struct plan *p, const char *root, const char *src,
		    int flags, struct hull_err *err)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return hull_err_sys(err, errno, "%s", src);
	if (strlen(root) + strlen(src) >= PATH_MAX)
		return hull_err_set(err, ENAMETOOLONG, "%s: path too long",
				    src);
	if ((S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)) && !(flags & B_DEV))
		flags |= B_DEV; /* a disk that is a device node */
	p->b = xrealloc(p->b, (p->n + 1) * sizeof(*p->b));
	struct bind *b = &p->b[p->n];
	*b = (struct bind){.src = xstrdup(src),
			   .dst = xasprintf("%s%s", root, src),
			   .flags = flags,
			   .dir = S_ISDIR(st.st_mode)};
	/* run as a uid: a device node that is not for everyone (a disk) is
	 * made anew for it; the host's node stays root's */
	if (p->uid && (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)) &&
	    (st.st_mode & 0666) != 0666) {
		b->node = xasprintf("%s/.node%zu", p->dev, p->n);
		b->type = st.st_mode & S_IFMT;
		b->rdev = st.st_rdev;
	}
	p->n++;
	return 0;
}

/* mkdir -p of path's parent, without allocating (in the child). */
static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *q = buf + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*q = '/';
	}
	return 0;
}

/* Binds b->src at b->dst (creating an empty file or directory to mount
 * on), then remounts it with only what its flags allow. */
static int bind_in(const struct bind *b, uid_t uid, gid_t gid,
		   struct hull_err *err)
{
	if (b->node && (mknod(b->node, b->type | 0600, b->rdev) < 0 ||
			chown(b->node, uid, gid) < 0))
		return hull_err_sys(err, errno, "make a node for %s", b->src);
	int r = mkdir_parents(b->dst);
	if (r < 0)
		return hull_err_sys(err, -r, "mkdir for %s", b->src);
	if (b->dir) {
		if (mkdir(b->dst, 0755) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "mkdir %s", b->dst);
	} else {
		int fd = open(b->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return hull_err_sys(err, errno, "create %s", b->dst);
		close(fd);
	}
	if (mount(b->node ? b->node : b->src, b->dst, NULL, MS_BIND, NULL) < 0)
		return hull_err_sys(err, errno, "bind %s", b->src);
	unsigned long mf = MS_REMOUNT | MS_BIND | MS_NOSUID;
	if (!(b->flags & B_RW))
		mf |= MS_RDONLY;
	if (!(b->flags & B_EXEC))
		mf |= MS_NOEXEC;
	if (!(b->flags & B_DEV))
		mf |= MS_NODEV;
	if (mount(NULL, b->dst, NULL, mf, NULL) < 0)
		return hull_err_sys(err, errno, "remount %s", b->src);
	return 0;
}

/* Every capability set emptied (with the bounding set empty, an exec as
 * uid 0 gains none back), the uid and gid when asked (while CAP_SETUID and
 * CAP_SETGID are still effective; leaving uid 0 clears the permitted and
 * effective sets too), then no_new_privs. capset directly: libcap's
 * cap_init allocates, and this runs between fork and exec. */
static int drop_privileges(uid_t uid, gid_t gid, struct hull_err *err)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return hull_err_sys(err, errno, "drop capability %d",
					    c);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return hull_err_sys(err, errno, "clear ambient capabilities");
	if (uid) {
		if (syscall(SYS_setgroups, 0, NULL) < 0)
			return hull_err_sys(err, errno, "setgroups");
		if (syscall(SYS_setresgid, gid, gid, gid) < 0)
			return hull_err_sys(err, errno, "setresgid %u",
					    (unsigned)gid);
		if (syscall(SYS_setresuid, uid, uid, uid) < 0)
			return hull_err_sys(err, errno, "setresuid %u",
					    (unsigned)uid);
	}
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return hull_err_sys(err, errno, "clear capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return hull_err_sys(err, errno, "no_new_privs");
	return 0;
}

static int keep_fds(const struct hvm_hull *h, struct hull_err *err)
{
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		return hull_err_sys(err, errno, "close_range");
	for (size_t i = 0; i < h->nkeep_fds; i++)
		if (fcntl(h->keep_fds[i], F_SETFD, 0) < 0)
			return hull_err_sys(err, errno, "descriptor %d",
					    h->keep_fds[i]);
	return 0;
}

/* In the child, in its new namespaces: everything up to the exec. */
static int child_setup(const struct hvm_hull *h, const struct plan *p,
		       struct hull_err *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return hull_err_sys(err, errno, "make / private");
	if (mount("hull-vmm", h->root, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0755,size=1m") < 0)
		return hull_err_sys(err, errno, "tmpfs on %s", h->root);
	/* a /dev of the hull's own, where device nodes may be opened, for
	 * the nodes made for the uid */
	if (p->dev) {
		if (mkdir(p->dev, 0755) < 0 && errno != EEXIST)
			return hull_err_sys(err, errno, "mkdir %s", p->dev);
		if (mount("hull-dev", p->dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
			  "mode=0755,size=64k") < 0)
			return hull_err_sys(err, errno, "tmpfs on %s", p->dev);
	}
	if (p->kvm && (mknod(p->kvm, S_IFCHR | 0600, makedev(10, 232)) < 0 ||
		       chown(p->kvm, p->uid, p->gid) < 0))
		return hull_err_sys(err, errno, "make /dev/kvm");
	for (size_t i = 0; i < p->n; i++)
		if (bind_in(&p->b[i], p->uid, p->gid, err) < 0)
			return -err->code;
	if (mkdir(p->proc, 0555) < 0 && errno != EEXIST)
		return hull_err_sys(err, errno, "mkdir %s", p->proc);
	if (zone_rootfs_pivot(h->root, err) < 0)
		return -err->code;
	/* Read-only: uid 0 without capabilities may still write many
	 * root-owned sysctls (vm/drop_caches, kernel/printk, ...). */
	if (mount("proc", "/proc", "proc",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0)
		return hull_err_sys(err, errno, "mount /proc");
	if (mount(NULL, "/", NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
		  NULL) < 0)
		return hull_err_sys(err, errno, "remount / read-only");
	if (p->dev &&
	    mount(NULL, "/dev", NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
		  NULL) < 0)
		return hull_err_sys(err, errno, "remount /dev read-only");
	const char *host = h->uuid ? h->uuid : "hull-vmm";
	if (sethostname(host, strlen(host)) < 0)
		return hull_err_sys(err, errno, "sethostname");
	if (keep_fds(h, err) < 0 || drop_privileges(h->uid, h->gid, err) < 0)
		return -err->code;
	return 0;
}

/*
 * The emulator outlives its supervisor once it runs (the instance's holder
 * keeps it until a new supervisor adopts it, docs/internals.md), but a
 * half-made one must not: the parent-death signal set at the clone is
 * cleared by the change of credentials (the kernel's commit_creds), so
 * the last step before the exec makes sure the supervisor is still there.
 * getppid() tells nothing in a new pid namespace (the parent lies
 * outside: 0), so its pidfd, opened before the clone, says. Without a
 * pidfd (before Linux 5.3) the check is skipped; a supervisor that died
 * then is succeeded by one that clears the instance's cgroup.
 */
static int parent_check(int parent_pidfd, struct hull_err *err)
{
	if (parent_pidfd < 0)
		return 0;
	struct pollfd pfd = {parent_pidfd, POLLIN, 0};
	int n;
	while ((n = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
		;
	if (n != 0)
		return hull_err_set(err, ESRCH, "the supervisor is gone");
	return 0;
}

/* An instance's files and run directory are bound as named, never through
 * a symbolic link: the run directory is writable from inside, and a link
 * planted there by an earlier run must not bring a host file in. */
static int no_symlinks(const char *path, struct hull_err *err)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return hull_err_sys(err, errno, "%s", path);
	if (strcmp(real, path))
		return hull_err_set(err, EINVAL,
				    "%s: must be a canonical path (no symbolic "
				    "link, '.', '..' or trailing '/')",
				    path);
	return 0;
}

/* The binds, in order: the program and its libraries (read-only,
 * executable), the device nodes, the files, the run directory. */
static int plan_make(const struct hvm_hull *h, struct plan *p,
		     struct hull_err *err)
{
	struct hvm_ldlist libs;
	memset(p, 0, sizeof(*p));
	if (no_symlinks(h->root, err) < 0)
		return -err->code;
	p->uid = h->uid;
	p->gid = h->gid;
	if (h->uid)
		p->dev = xasprintf("%s/dev", h->root);
	if (hvm_ldlist_resolve(h->argv[0], &libs, err) < 0)
		return -err->code;
	int r = 0;
	for (size_t i = 0; i < h->ndlopen && r == 0; i++)
		r = hvm_ldlist_add_dlopen(&libs, h->dlopen_libs[i], err);
	for (size_t i = 0; i < libs.n && r == 0; i++)
		r = plan_add(p, h->root, libs.paths[i], B_EXEC, err);
	hvm_ldlist_fini(&libs);
	static const char *const devs[] = {"/dev/null", "/dev/urandom",
					   "/dev/kvm"};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]) && r == 0; i++) {
		/* QEMU without KVM (TCG) runs where there is no /dev/kvm */
		if (i == 2 && access(devs[i], F_OK) < 0 && errno == ENOENT)
			continue;
		if (i == 2 && h->uid) {
			p->kvm = xasprintf("%s/kvm", p->dev);
			continue;
		}
		r = plan_add(p, h->root, devs[i], B_RW | B_DEV, err);
	}
	if (r == 0 && h->tun)
		r = plan_add(p, h->root, "/dev/net/tun", B_RW | B_DEV, err);
	for (size_t i = 0; i < h->nfiles && r == 0; i++)
		if ((r = no_symlinks(h->files[i].path, err)) == 0)
			r = plan_add(p, h->root, h->files[i].path,
				     h->files[i].rw ? B_RW : 0, err);
	/* The run directory last: the emulator of an earlier run could write
	 * there, so no mount point is made through it. */
	if (r == 0 && h->run_dir && (r = no_symlinks(h->run_dir, err)) == 0)
		r = plan_add(p, h->root, h->run_dir, B_RW, err);
	p->proc = xasprintf("%s/proc", h->root);
	if (r < 0)
		plan_fini(p);
	return r;
}

/* Before the emulator runs as h->uid: its own files and its run directory
 * (0700) with what is in it (the kernel and initrd copies, sockets of an
 * earlier run) become the uid's. Never through a symbolic link. */
static int hand_over(const struct hvm_hull *h, struct hull_err *err)
{
	int r = 0;
	for (size_t i = 0; i < h->nfiles && r == 0; i++) {
		if (!h->files[i].own)
			continue;
		int fd =
		    open(h->files[i].path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return hull_err_sys(err, errno, "%s", h->files[i].path);
		/* fchown takes no O_PATH descriptor; fchownat with
		 * AT_EMPTY_PATH does */
		struct stat st;
		if (fstat(fd, &st) < 0)
			r = hull_err_sys(err, errno, "%s", h->files[i].path);
		else if (S_ISREG(st.st_mode) && st.st_nlink > 1)
			r = hull_err_set(err, EPERM,
					 "%s: has other hard links; not handed "
					 "to the emulator's uid",
					 h->files[i].path);
		else if (S_ISREG(st.st_mode) &&
			 fchownat(fd, "", h->uid, h->gid, AT_EMPTY_PATH) < 0)
			r = hull_err_sys(err, errno, "chown %s",
					 h->files[i].path);
		close(fd);
	}
	if (r < 0 || !h->run_dir)
		return r;
	int dfd =
	    open(h->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return hull_err_sys(err, errno, "%s", h->run_dir);
	if (fchown(dfd, h->uid, h->gid) < 0 || fchmod(dfd, 0700) < 0) {
		r = hull_err_sys(err, errno, "chown %s", h->run_dir);
		close(dfd);
		return r;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		r = hull_err_sys(err, errno, "%s", h->run_dir);
		close(dfd);
		return r;
	}
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int fd = openat(dirfd(d), de->d_name,
				O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* gone meanwhile */
		struct stat st;
		if (fstat(fd, &st) == 0 &&
		    (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)) &&
		    st.st_nlink == 1 &&
		    fchownat(fd, "", h->uid, h->gid, AT_EMPTY_PATH) < 0)
			r = hull_err_sys(err, errno, "chown %s/%s", h->run_dir,
					 de->d_name);
		close(fd);
	}
	closedir(d);
	return r;
}

static void child_fail(int fd, const struct hull_err *err)
{
	size_t n = strlen(err->msg);
	ssize_t w = write(fd, err->msg, n ? n : 1);
	(void)w;
	_exit(127);
}

static int allow_one(const char *dir, const char *rule, struct hull_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/devices.allow", dir);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", p);
	ssize_t n = write(fd, rule, strlen(rule));
	int e = errno;
	close(fd);
	if (n < 0)
		return hull_err_sys(err, e, "%s: %s", p, rule);
	return 0;
}

/* A zone's device whitelist allows only what a zone's /dev holds
 * (zone/cgroup.c); an emulator also needs /dev/kvm and its disks that are
 * devices (read-only ones for reading only). On v1 an allow rule is added
 * to the zone's cgroup and to its payload level, where the process is; on
 * v2 the zone's whitelist and these rules become the device program
 * attached to the hull's limits level (devfilter.h), which the emulator
 * cannot reach, once, when its cgroup is made (a guest reboot keeps it:
 * disks change only while the VM is stopped). */
static int devices_allow(struct zone_cgroup *cg, const struct hvm_hull *h,
			 struct hull_err *err)
{
	char rules[HVM_HULL_PATHS_MAX + 1][48];
	size_t n = 0;
	snprintf(rules[n++], sizeof(rules[0]), "c 10:232 rwm"); /* kvm */
	/* run as a uid, a disk's node is made in the hull (mknod) */
	const char *m = h->uid ? "m" : "";
	for (size_t i = 0; i < h->nfiles; i++) {
		struct stat st;
		if (stat(h->files[i].path, &st) < 0)
			return hull_err_sys(err, errno, "%s", h->files[i].path);
		if (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))
			snprintf(rules[n++], sizeof(rules[0]), "%c %u:%u %s%s",
				 S_ISBLK(st.st_mode) ? 'b' : 'c',
				 major(st.st_rdev), minor(st.st_rdev),
				 h->files[i].rw ? "rw" : "r", m);
	}
	if (cg->v2) {
		const char *v[HVM_HULL_PATHS_MAX + 1];
		for (size_t k = 0; k < n; k++)
			v[k] = rules[k];
		return zone_cgroup_devices_limit_with(cg, v, n, err);
	}
	for (size_t i = 0; i < cg->ndirs; i++) {
		if (strcmp(cg->ctl[i], "devices"))
			continue;
		for (size_t k = 0; k < n; k++)
			if (allow_one(cg->dirs[i], rules[k], err) < 0 ||
			    allow_one(cg->payload[i], rules[k], err) < 0)
				return hull_err_prefix(err, "cgroup");
	}
	return 0;
}

struct attach {
	const struct zone_cgroup *cg;
	int v2;		/* index of the v2 hierarchy in cg, or -1 */
	bool v2_joined; /* already in it (CLONE_INTO_CGROUP) */
};

/* In the child: joins every hierarchy it is not in yet. Writing 0 to a v1
 * "tasks" file moves the writing thread only, which the kernel does
 * without the global threadgroup lock. */
static int attach_self(const struct attach *at, struct hull_err *err)
{
	for (size_t i = 0; i < at->cg->ndirs; i++) {
		bool v2 = (int)i == at->v2;
		if (v2 && at->v2_joined)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", at->cg->payload[i],
			 v2 ? "cgroup.procs" : "tasks");
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return hull_err_sys(err, errno, "cgroup: open %s", p);
		ssize_t w = write(fd, "0", 1);
		int e = errno;
		close(fd);
		if (w != 1)
			return hull_err_sys(err, e, "cgroup: join %s", p);
	}
	return 0;
}

/* clone3 into the hull's namespaces and straight into the v2 cgroup cgfd. */
static pid_t clone_into(int cgfd)
{
	struct clone_args a;
	memset(&a, 0, sizeof(a));
	a.flags = HULL_NS_FLAGS | CLONE_INTO_CGROUP;
	a.exit_signal = SIGCHLD;
	a.cgroup = (uint64_t)cgfd;
	long r = syscall(SYS_clone3, &a, sizeof(a));
	return r < 0 ? -errno : (pid_t)r;
}

int hvm_hull_cgroup_setup(const struct hvm_hull *h, struct zone_cgroup *cg,
			  struct hull_err *err)
{
	struct inst_limits lim = {
	    .cpu_cap = h->cpu_cap > 0 ? h->cpu_cap : -1,
	    .cpu_shares = -1,
	    .max_physical_memory =
		h->ram_mib > 0 ? h->ram_mib + hvm_hull_overhead_mib(h->ram_mib)
			       : -1,
	    .max_swap = -1,
	    .max_lwps = HULL_PIDS_MAX,
	    .zfs_io_priority = -1,
	};
	lim.max_swap = lim.max_physical_memory;
	int r;
	/* A second call (the emulator's, after the boot loader's) finds the
	 * cgroup made: v2's device program, attached once when it was
	 * made, stays; v1's rules are added again, which changes nothing. */
	if ((r = zone_cgroup_create(cg, err)) < 0 ||
	    (r = zone_cgroup_limits_apply(cg, &lim, err)) < 0 ||
	    (r = devices_allow(cg, h, err)) < 0)
		return r;
	return 0;
}

int hvm_hull_start(const struct hvm_hull *h, struct zone_cgroup *cg,
		   pid_t *pidp, struct hull_err *err)
{
	if (!h->argv || !h->argv[0] || h->argv[0][0] != '/')
		return hull_err_set(err, EINVAL,
				    "the emulator must be an absolute path");
	if (!h->root || h->root[0] != '/')
		return hull_err_set(err, EINVAL,
				    "the hull's root must be an absolute path");
	if (h->nfiles > HVM_HULL_PATHS_MAX)
		return hull_err_set(err, E2BIG, "more than %d files",
				    HVM_HULL_PATHS_MAX);
	for (size_t i = 0; i < h->nfiles; i++)
		if (!h->files[i].path || h->files[i].path[0] != '/')
			return hull_err_set(
			    err, EINVAL, "%s: must be an absolute path",
			    h->files[i].path ? h->files[i].path : "(null)");
	if (h->run_dir && h->run_dir[0] != '/')
		return hull_err_set(err, EINVAL, "%s: must be an absolute path",
				    h->run_dir);

	if (!h->uid != !h->gid)
		return hull_err_set(err, EINVAL,
				    "a uid and a gid, or neither, for the "
				    "emulator");
	struct plan plan;
	int r;
	if ((r = plan_make(h, &plan, err)) < 0)
		return r;
	if (h->uid && (r = hand_over(h, err)) < 0) {
		plan_fini(&plan);
		return r;
	}
	if ((r = hvm_hull_cgroup_setup(h, cg, err)) < 0) {
		plan_fini(&plan);
		return r;
	}

	/* The cgroup is joined without the global lock a migration of
	 * another process takes (cgroup_threadgroup_rwsem, whose write side
	 * waits for an RCU grace period: about 10 ms on a busy host): the v2
	 * hierarchy by cloning straight into it, each v1 hierarchy by the
	 * child moving itself, a single thread, through "tasks". */
	struct attach at = {.cg = cg, .v2 = -1};
	int cgfd = -1;
	for (size_t i = 0; i < cg->ndirs; i++) {
		struct statfs sf;
		if (statfs(cg->payload[i], &sf) == 0 &&
		    sf.f_type == CGROUP2_SUPER_MAGIC) {
			at.v2 = (int)i;
			cgfd = open(cg->payload[i],
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
	}
	/* The emulator may write its run directory on the pool: no btrfs
	 * subvolume or snapshot of its own there (its quota's escape), as in
	 * a zone. Built here: the child only loads it. */
	struct sock_fprog btrfs_prog;
	if ((r = zone_seccomp_btrfs_prog(&btrfs_prog, err)) < 0) {
		if (cgfd >= 0)
			close(cgfd);
		plan_fini(&plan);
		return r;
	}
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = errno;
		if (cgfd >= 0)
			close(cgfd);
		free(btrfs_prog.filter);
		plan_fini(&plan);
		return hull_err_sys(err, e, "pipe");
	}
	/* close-on-exec: pidfd_open sets it */
	int ppfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	pid_t pid = cgfd >= 0 ? clone_into(cgfd) : -EBADF;
	if (pid < 0) {
		/* no CLONE_INTO_CGROUP (before 5.7): the child writes its
		 * v2 cgroup.procs too */
		at.v2_joined = false;
		pid = zone_ns_clone(HULL_NS_FLAGS);
	} else {
		at.v2_joined = true;
	}
	if (pid == 0) {
		close(ep[0]);
		struct hull_err cerr = {0};
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		if (attach_self(&at, &cerr) < 0 ||
		    child_setup(h, &plan, &cerr) < 0)
			child_fail(ep[1], &cerr);
		/* no_new_privs is set: no privilege needed to load it */
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
			    &btrfs_prog) < 0) {
			hull_err_sys(&cerr, errno, "seccomp filter");
			child_fail(ep[1], &cerr);
		}
		if (parent_check(ppfd, &cerr) < 0)
			child_fail(ep[1], &cerr);
		prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
		execve(h->argv[0], h->argv, h->envp);
		hull_err_sys(&cerr, errno, "exec %s", h->argv[0]);
		child_fail(ep[1], &cerr);
	}
	if (cgfd >= 0)
		close(cgfd);
	if (ppfd >= 0)
		close(ppfd);
	close(ep[1]);
	free(btrfs_prog.filter);
	plan_fini(&plan);
	if (pid < 0) {
		close(ep[0]);
		return hull_err_sys(err, -pid, "clone");
	}
	/* The child's error line, or EOF once it has exec'd. */
	char msg[HULL_ERR_MSG_MAX];
	ssize_t n;
	while ((n = read(ep[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	int e = errno;
	close(ep[0]);
	if (n != 0) {
		if (n > 0) {
			msg[n] = '\0';
			r = hull_err_set(err, EIO, "hull: %s", msg);
		} else {
			r = hull_err_sys(err, e, "hull: read");
		}
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	*pidp = pid;
	return 0;
}
