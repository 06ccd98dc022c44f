/*
 * start.c - clone3 into the zone's namespaces and become its init.
 *
 * Parent and child talk over a SOCK_SEQPACKET pair. The child waits for
 * "go" (sent once the parent has moved it into the zone's cgroup, so the
 * cgroup namespace it then unshares is rooted there), sets itself up, sends
 * the uname listener (lx) with SCM_RIGHTS, and execs init; the socket is
 * close-on-exec, so EOF without an error message means init runs. A failure
 * travels back as one message: errno + text.
 *
 * The child holds PR_SET_PDEATHSIG(SIGKILL) while it sets itself up, so a
 * supervisor that dies then leaves no half-made zone; init itself does
 * not: it outlives a killed supervisor, in the care of the instance's
 * holder, until a new supervisor adopts it (docs/internals.md). A
 * supervisor that died before "go" makes the read return EOF.
 */
#include "zone/start.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "lib/fdpass.h"
#include "lib/fileio.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "zone/caps.h"
#include "zone/fs.h"
#include "zone/ns.h"
#include "zone/tools.h"
#include "zone/rootfs.h"
#include "zone/seccomp.h"
#include "zone/user.h"
#include "zone/userns.h"

extern char **environ;

static zone_prepare_fn prepare_fn;

void zone_start_set_prepare(zone_prepare_fn fn)
{
	prepare_fn = fn;
}

void zone_proc_close(struct zone_proc *p)
{
	if (p->console_fd >= 0)
		close(p->console_fd);
	if (p->notify_fd >= 0)
		close(p->notify_fd);
	if (p->console_hold_fd >= 0)
		close(p->console_hold_fd);
	p->console_fd = p->notify_fd = p->console_hold_fd = -1;
}

static __attribute__((noreturn)) void child_fail(int sock, struct hull_err *err)
{
	char msg[HULL_ERR_MSG_MAX + 8];
	int code = err->code ? err->code : EIO;
	memcpy(msg, &code, sizeof(code));
	size_t len = strnlen(err->msg, HULL_ERR_MSG_MAX);
	memcpy(msg + sizeof(code), err->msg, len);
	(void)!send(sock, msg, sizeof(code) + len, MSG_NOSIGNAL);
	_exit(127);
}

static int send_fd(int sock, int fd)
{
	char c = 'F';
	return hull_fd_send(sock, &c, 1, &fd, 1);
}

static char *read_small(const char *path)
{
	char *s = NULL;
	size_t len;
	if (hull_file_read(path, 1 << 20, &s, &len, NULL) < 0)
		return NULL;
	return s;
}

static int child_user(const struct zone_config *cfg, struct hull_err *err)
{
	if (!cfg->user)
		return 0;
	_cleanup_free_ char *pw = read_small("/etc/passwd");
	_cleanup_free_ char *gr = read_small("/etc/group");
	uid_t uid;
	gid_t gid;
	int r = zone_user_resolve(cfg->user, pw, gr, &uid, &gid, err);
	if (r < 0)
		return r;
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return hull_err_sys(err, errno, "docker:user %s", cfg->user);
	/* A credential change clears the parent-death signal: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

/* A detached, read-only bind of a host folder, to attach inside the zone
 * after the pivot; exec stays allowed only where asked (the guest tools). */
static int host_tree_clone(const char *path, bool exec, struct hull_err *err)
{
	int t = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	struct mount_attr ro = {
	    .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			MOUNT_ATTR_NODEV | (exec ? 0 : MOUNT_ATTR_NOEXEC)};
	if (t < 0 || mount_setattr(t, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0) {
		int e = errno;
		if (t >= 0)
			close(t);
		return hull_err_sys(err, e, "clone %s", path);
	}
	return t;
}

/* Attaches a tree from host_tree_clone at `at` inside the zone (after the
 * pivot), refusing a mount point the image made a symbolic link. */
static int host_tree_attach(int tree, const char *at, struct hull_err *err)
{
	int r = zone_mkdir_p(at, 0755);
	if (r == 0 && zone_mountpoint_check(at, err) < 0)
		return -EINVAL;
	if (r < 0 ||
	    move_mount(tree, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return hull_err_sys(err, r < 0 ? -r : errno, "mount %s", at);
	close(tree);
	return 0;
}

/*
 * The zone's filesystem: called in its mount namespace by a process with
 * the host root's privileges (init itself, or for a userns zone the
 * mounter of userns.h), before the pivot; returns in the zone's root.
 */
static int zone_mounts(const struct zone_config *cfg, const char *root,
		       const char *pts, const char *zonecontrol,
		       const char *tools, bool cgroup_v2, struct hull_err *err)
{
	/* A detached bind of the console, for /dev/console after the pivot. */
	/* (By path: the slave descriptor's mount is the parent namespace's,
	 * which open_tree refuses to clone.) */
	int tree =
	    pts ? open_tree(AT_FDCWD, pts, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)
		: -1;
	if (pts && tree < 0)
		return hull_err_sys(err, errno, "open_tree console");
	/* The metadata channel's folder and the guest tools (mdata-get…),
	 * read-only, for after the pivot. */
	int zc = -1, tl = -1, r;
	if (zonecontrol && (zc = host_tree_clone(zonecontrol, false, err)) < 0)
		return zc;
	if (tools && (tl = host_tree_clone(tools, true, err)) < 0)
		return tl;
	/* The operator's filesystems: sources are host paths, so cloned
	 * here; targets lie in the zone's tree, so resolved after the
	 * pivot (fs.h). */
	int fst[ZONE_FS_MAX];
	if ((r = zone_fs_clone(cfg->fs, cfg->nfs, fst, err)) < 0)
		return r;
	if ((r = zone_rootfs_pivot(root, err)) < 0 ||
	    (r = zone_rootfs_write_etc(cfg, err)) < 0 ||
	    (r = zone_rootfs_mount(cfg, tree, cgroup_v2, err)) < 0)
		return r;
	if (tree >= 0)
		close(tree);
	if (zc >= 0 && (r = host_tree_attach(zc,
					     cfg->brand == INST_BRAND_LX
						 ? "/native/.zonecontrol"
						 : "/.zonecontrol",
					     err)) < 0)
		return r;
	/* Where SmartOS's LX zones find them; on every zone's PATH. */
	if (tl >= 0 && (r = host_tree_attach(tl, ZONE_TOOLS_DIR, err)) < 0)
		return r;
	return zone_fs_attach(cfg->fs, cfg->nfs, fst, err);
}

static __attribute__((noreturn)) void
child_run(const struct zone_config *cfg, const char *root, int slave,
	  const char *pts, const char *zonecontrol, const char *tools, int sock,
	  bool cgroup_v2, const struct zone_cgroup_join *join)
{
	struct hull_err e = {0}, *err = &e;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The supervisor blocks signals for its signalfd and ignores
	 * SIGPIPE; init starts with neither. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	char go;
	if (read(sock, &go, 1) != 1)
		_exit(127); /* the supervisor is gone */
	/* init joins its cgroups by itself (zone_cgroup_join_open), v2 at
	 * birth when the clone could put it there */
	if (join && zone_cgroup_join_self(join, join->placed) < 0) {
		hull_err_sys(err, errno, "cgroup attach");
		child_fail(sock, err);
	}
	if (unshare(CLONE_NEWCGROUP) < 0) {
		hull_err_sys(err, errno, "unshare cgroup namespace");
		child_fail(sock, err);
	}
	/* (A userns zone's console is a pty of its own devpts, made by the
	 * mounter: init takes it below, from /dev/console.) */
	if (setsid() < 0 ||
	    (slave >= 0 &&
	     (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0 ||
	      ioctl(0, TIOCSCTTY, 0) < 0))) {
		hull_err_sys(err, errno, "console");
		child_fail(sock, err);
	}
	if (slave >= 0)
		close(slave);
	if (sethostname(cfg->hostname, strlen(cfg->hostname)) < 0) {
		hull_err_sys(err, errno, "sethostname");
		child_fail(sock, err);
	}
	if (!cfg->userns &&
	    zone_mounts(cfg, root, pts, zonecontrol, tools, cgroup_v2, err) < 0)
		child_fail(sock, err);
	/* A userns zone's mounts were made for it (userns.h); a mount
	 * namespace of the zone's own locks them. */
	if (cfg->userns && unshare(CLONE_NEWNS) < 0) {
		hull_err_sys(err, errno, "unshare mount namespace");
		child_fail(sock, err);
	}
	/* Init's stdio names /dev/console, as on a real machine (systemd
	 * checks), not the host's pts path. */
	int cfd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (cfd < 0 || (slave < 0 && ioctl(cfd, TIOCSCTTY, 0) < 0) ||
	    dup2(cfd, 0) < 0 || dup2(cfd, 1) < 0 || dup2(cfd, 2) < 0) {
		hull_err_sys(err, errno, "open /dev/console");
		child_fail(sock, err);
	}
	close(cfd);
	if (chdir(cfg->workdir) < 0) {
		hull_err_sys(err, errno, "chdir %s", cfg->workdir);
		child_fail(sock, err);
	}
	if (zone_caps_drop(cfg->sys_admin || cfg->userns, &cfg->privs, err) < 0)
		child_fail(sock, err);
	int nfd =
	    zone_seccomp_load(cfg->brand == INST_BRAND_LX,
			      cfg->brand == INST_BRAND_LX && !cfg->userns, err);
	if (nfd < 0)
		child_fail(sock, err);
	if (nfd > 0) {
		int r = send_fd(sock, nfd);
		close(nfd);
		if (r < 0) {
			hull_err_sys(err, -r, "pass uname listener");
			child_fail(sock, err);
		}
	}
	if (child_user(cfg, err) < 0)
		child_fail(sock, err);
	/* No descriptor of the host survives exec (CVE-2024-21626). */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	environ = cfg->envp;
	/* init outlives its supervisor (the holder adopts it). */
	prctl(PR_SET_PDEATHSIG, 0);
	execvp(cfg->argv[0], cfg->argv);
	hull_err_sys(err, errno, "exec %s", cfg->argv[0]);
	child_fail(sock, err);
}

static int open_pty(int *master, int *slave, char name[64],
		    struct hull_err *err)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return hull_err_sys(err, errno, "open pty");
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, 64)) {
		int e = errno;
		close(m);
		return hull_err_sys(err, e, "pty");
	}
	int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		int e = errno;
		close(m);
		return hull_err_sys(err, e, "open %s", name);
	}
	struct winsize ws = {.ws_row = 25, .ws_col = 80};
	ioctl(m, TIOCSWINSZ, &ws);
	*master = m;
	*slave = s;
	return 0;
}

static int recv_result(int sock, struct zone_proc *out, struct hull_err *err)
{
	for (;;) {
		char buf[HULL_ERR_MSG_MAX + 8];
		int fd;
		size_t nfd;
		ssize_t n =
		    hull_fd_recv(sock, buf, sizeof(buf) - 1, &fd, 1, &nfd);
		if (n < 0)
			return hull_err_sys(err, (int)-n, "zone start");
		if (n == 0)
			return 0; /* exec'd */
		if (nfd) {
			out->notify_fd = fd;
			continue;
		}
		if ((size_t)n < sizeof(int))
			return hull_err_set(err, EIO,
					    "zone start: short message");
		int code;
		memcpy(&code, buf, sizeof(code));
		buf[n] = '\0';
		return hull_err_set(err, code > 0 ? code : EIO, "%s",
				    buf + sizeof(code));
	}
}

static int send_int(int sock, int v)
{
	return send(sock, &v, sizeof(v), MSG_NOSIGNAL) == sizeof(v) ? 0 : -EIO;
}

static int recv_int(int sock, int *v)
{
	ssize_t n;
	while ((n = recv(sock, v, sizeof(*v), 0)) < 0 && errno == EINTR)
		;
	return n == sizeof(*v) ? 0 : -EIO;
}

/*
 * Step 1 of userns.h: the helper makes the namespaces and forks init (our
 * child, waiting for "go" on sp[1]). Returns init's pid or a negative
 * errno with err set.
 */
static pid_t spawn_userns(const struct zone_config *cfg, const char *root,
			  int master, int slave, const char *pts,
			  const char *zc, const char *tools, int sp[2],
			  bool cgroup_v2, struct hull_err *err)
{
	int hs[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hs) < 0)
		return hull_err_sys(err, errno, "socketpair");
	pid_t helper = zone_ns_clone(CLONE_NEWNS);
	if (helper == 0) {
		struct hull_err e = {0};
		close(hs[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Nothing of the host's filesystem stays init's cwd. */
		if (chdir("/") < 0 || unshare(CLONE_NEWUSER) < 0) {
			send_int(hs[1], -errno);
			_exit(126);
		}
		int go;
		if (send_int(hs[1], 0) < 0 || recv_int(hs[1], &go) < 0)
			_exit(126);
		if (zone_userns_root_ids(&e) < 0 ||
		    unshare(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS |
			    CLONE_NEWIPC) < 0) {
			send_int(hs[1], e.code ? -e.code : -errno);
			_exit(126);
		}
		pid_t init = zone_userns_fork_sibling();
		if (init == 0) {
			close(hs[1]);
			close(sp[0]);
			close(master);
			child_run(cfg, root, slave, pts, zc, tools, sp[1],
				  cgroup_v2, NULL);
		}
		send_int(hs[1], init);
		_exit(0);
	}
	close(hs[1]);
	if (helper < 0) {
		close(hs[0]);
		return hull_err_sys(err, -helper, "clone3");
	}
	int v = -EIO, r = 0;
	if (recv_int(hs[0], &v) < 0 || v < 0)
		r = hull_err_sys(err, v < 0 ? -v : EIO,
				 "make the zone's user namespace");
	if (r == 0)
		r = zone_userns_write_maps(helper, cfg->userns_uid,
					   cfg->userns_gid, cfg->userns_count,
					   err);
	if (r == 0 && send_int(hs[0], 1) < 0)
		r = hull_err_set(err, EIO, "start the zone's user namespace");
	if (r == 0 && (recv_int(hs[0], &v) < 0 || v <= 0))
		r = hull_err_sys(err, v < 0 ? -v : EIO,
				 "start init in the zone's namespaces");
	close(hs[0]);
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	return r < 0 ? r : v;
}

/* The console of a userns zone, in the mounter after the mounts: a pty of
 * the zone's own devpts (the host's may not let us hand its ptys to the
 * zone's root), owned by the zone's root and tty group, bound onto
 * /dev/console. pty[0] is the master, pty[1] the slave (both owned). */
static int console_make(const struct zone_config *cfg, int pty[2],
			struct hull_err *err)
{
	int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return hull_err_sys(err, errno, "open /dev/pts/ptmx");
	unsigned n = 0;
	int s = -1;
	if (unlockpt(m) < 0 || ioctl(m, TIOCGPTN, &n) < 0 ||
	    (s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
	    fchown(s, cfg->userns_uid, cfg->userns_gid + 5) < 0)
		return hull_err_sys(err, errno, "console pty");
	struct winsize ws = {.ws_row = 25, .ws_col = 80};
	ioctl(m, TIOCSWINSZ, &ws);
	char path[64];
	snprintf(path, sizeof(path), "/dev/pts/%u", n);
	int fd = open("/dev/console", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "create /dev/console");
	close(fd);
	int t = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (t < 0 || move_mount(t, "", AT_FDCWD, "/dev/console",
				MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return hull_err_sys(err, errno, "bind console");
	close(t);
	pty[0] = m;
	pty[1] = s;
	return 0;
}

static int send_fds(int sock, const int *fds, size_t n)
{
	char c = 'F';
	return hull_fd_send(sock, &c, 1, fds, n);
}

/* The mounter's answer: n descriptors, or an error message. */
static int recv_fds(int sock, int *fds, size_t n, struct hull_err *err)
{
	char buf[HULL_ERR_MSG_MAX + 8];
	size_t got;
	ssize_t r = hull_fd_recv(sock, buf, sizeof(buf) - 1, fds, n, &got);
	if (r < 0)
		return hull_err_sys(err, (int)-r, "the zone's mounts");
	if (got == n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (i < got)
			close(fds[i]);
		fds[i] = -1;
	}
	if ((size_t)r <= sizeof(int))
		return hull_err_set(err, EIO, "the zone's mounts failed");
	int code;
	memcpy(&code, buf, sizeof(code));
	buf[r] = '\0';
	return hull_err_set(err, code > 0 ? code : EIO, "%s",
			    buf + sizeof(code));
}

static int open_ns_of(pid_t pid, const char *name)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, name);
	return open(p, O_RDONLY | O_CLOEXEC);
}

/*
 * Step 2 of userns.h: a child of ours joins init's mount, net and pid
 * namespaces and forks the mounter (in the zone's pid namespace, for
 * procfs; in its cgroup and a cgroup namespace rooted there, for the
 * cgroup mounts), which builds the filesystem with the host root's
 * privileges. Returns once it is built, or the mounter's error.
 */
static int mount_userns(const struct zone_config *cfg, pid_t init,
			struct zone_cgroup *cg, const char *root,
			const char *zc, const char *tools, int pty[2],
			struct hull_err *err)
{
	int ms[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ms) < 0)
		return hull_err_sys(err, errno, "socketpair");
	pid_t g = fork();
	if (g == 0) {
		struct hull_err e = {0};
		close(ms[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int user = open_ns_of(init, "user"),
		    mnt = open_ns_of(init, "mnt"),
		    net = open_ns_of(init, "net"),
		    pid = open_ns_of(init, "pid");
		if (user < 0 || mnt < 0 || net < 0 || pid < 0 ||
		    setns(mnt, CLONE_NEWNS) < 0 ||
		    setns(net, CLONE_NEWNET) < 0 ||
		    setns(pid, CLONE_NEWPID) < 0) {
			hull_err_sys(&e, errno, "join the zone's namespaces");
			child_fail(ms[1], &e);
		}
		pid_t m = fork();
		if (m == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (zone_cgroup_attach(cg, 0, &e) < 0)
				child_fail(ms[1], &e);
			if (unshare(CLONE_NEWCGROUP) < 0) {
				hull_err_sys(&e, errno,
					     "unshare cgroup namespace");
				child_fail(ms[1], &e);
			}
			zone_rootfs_set_owner(user, cfg->userns_uid,
					      cfg->userns_gid);
			int con[2];
			if (zone_mounts(cfg, root, NULL, zc, tools, cg->v2,
					&e) < 0 ||
			    console_make(cfg, con, &e) < 0)
				child_fail(ms[1], &e);
			if (send_fds(ms[1], con, 2) < 0)
				_exit(127);
			_exit(0);
		}
		int st = 0;
		if (m < 0) {
			hull_err_sys(&e, errno, "fork");
			child_fail(ms[1], &e);
		}
		while (waitpid(m, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 127);
	}
	close(ms[1]);
	if (g < 0) {
		close(ms[0]);
		return hull_err_sys(err, errno, "fork");
	}
	int r = recv_fds(ms[0], pty, 2, err);
	close(ms[0]);
	int st = 0;
	while (waitpid(g, &st, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		r = hull_err_set(err, EIO, "the zone's mounts failed");
	if (r < 0) {
		for (int i = 0; i < 2; i++)
			if (pty[i] >= 0)
				close(pty[i]);
		pty[0] = pty[1] = -1;
	}
	return r;
}

int zone_start(const struct zone_config *cfg, struct zone_cgroup *cg,
	       struct zone_proc *out, struct hull_err *err)
{
	out->pid = -1;
	out->console_fd = out->notify_fd = out->console_hold_fd = -1;
	_cleanup_free_ char *root = hull_root_path("%s/root", cfg->uuid);
	_cleanup_free_ char *zc =
	    hull_root_path("%s/run/zonecontrol", cfg->uuid);
	if (!hull_is_dir(zc)) {
		free(zc);
		zc = NULL;
	}
	struct hull_err terr = {0};
	_cleanup_free_ char *tools = zone_tools_prepare(&terr);
	if (!tools && terr.code)
		return hull_err_set(err, terr.code, "%s", terr.msg);
	if (!hull_is_dir(root))
		return hull_err_set(err, ENOENT, "zone root %s is missing",
				    root);
	if (!cfg->argv || !cfg->argv[0])
		return hull_err_set(err, EINVAL, "no init to run");
	int master = -1, slave = -1, sp[2];
	char pts[64] = "";
	int r = cfg->userns ? 0 : open_pty(&master, &slave, pts, err);
	if (r < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = hull_err_sys(err, errno, "socketpair");
		if (master >= 0) {
			close(master);
			close(slave);
		}
		return r;
	}
	pid_t pid;
	struct zone_cgroup_join join;
	bool joined = false;
	if (cfg->userns) {
		pid = spawn_userns(cfg, root, master, slave, pts, zc, tools, sp,
				   cg->v2, err);
	} else {
		joined = zone_cgroup_join_open(cg, NULL, &join) == 0;
		pid = zone_ns_clone_into(ZONE_NS_FLAGS, join.v2_dir,
					 &join.placed);
		if (pid == 0) {
			close(sp[0]);
			close(master);
			child_run(cfg, root, slave, pts, zc, tools, sp[1],
				  cg->v2, joined ? &join : NULL);
		}
		if (pid < 0)
			hull_err_sys(err, -pid, "clone3");
		zone_cgroup_join_close(&join);
	}
	close(sp[1]);
	out->console_hold_fd = slave;
	if (pid < 0) {
		r = -err->code;
		goto fail;
	}
	out->pid = pid;
	out->console_fd = master;
	master = -1;
	/* (init joins by itself when it can: zone_cgroup_join_open) */
	if (!joined && (r = zone_cgroup_attach(cg, pid, err)) < 0)
		goto fail;
	if (prepare_fn && (r = prepare_fn(cfg, pid, err)) < 0)
		goto fail;
	if (cfg->userns) {
		int pty[2] = {-1, -1};
		if ((r = mount_userns(cfg, pid, cg, root, zc, tools, pty,
				      err)) < 0)
			goto fail;
		out->console_fd = pty[0];
		out->console_hold_fd = pty[1];
	}
	if (write(sp[0], "g", 1) != 1) {
		r = hull_err_sys(err, errno, "zone start");
		goto fail;
	}
	r = recv_result(sp[0], out, err);
	close(sp[0]);
	sp[0] = -1;
	if (r < 0)
		goto fail;
	return 0;
fail:
	if (sp[0] >= 0)
		close(sp[0]);
	if (master >= 0)
		close(master);
	if (out->pid > 0) {
		kill(out->pid, SIGKILL);
		while (waitpid(out->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	out->pid = -1;
	zone_proc_close(out);
	return r;
}
