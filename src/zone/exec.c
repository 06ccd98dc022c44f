/*
 * exec.c - zlogin's mechanism: join a running zone and run a command.
 *
 * Order: ask the supervisor for init's pid; open init's namespaces and the
 * zone's cgroup.procs files; open a pty in the zone's devpts (through
 * /proc/<init>/root, resolved inside that root), or make three pipes; join
 * the pid namespace, fork, and return to our own. The child (now in the
 * zone's pid namespace) moves itself into the cgroup, joins the other
 * namespaces, the mount namespace last (which also sets its root and cwd to
 * the zone's, so no host directory stays reachable, CVE-2024-21626), starts
 * a session of its own on the pty or the pipes (so no descriptor or
 * controlling terminal of the host reaches the zone, CVE-2016-10124),
 * takes the zone's restrictions and execs. The parent keeps the host's
 * view: it only relays (relay.c) and waits.
 */
#include "zone/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <sched.h>

#include "lib/fdpass.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"
#include "supervisor/sock.h"
#include "zone/caps.h"
#include "zone/cgroup.h"
#include "zone/ns.h"
#include "zone/relay.h"
#include "zone/seccomp.h"
#include "zone/userns.h"

extern char **environ;

struct joined {
	struct zone_ns_fds ns;
	pid_t init;
	int cg_fd[ZONE_CGROUP_MAX_DIRS];
	size_t ncg;
	/* v2: init's cgroup.procs, for when the payload level is busy */
	int cg_init_fd;
	int ctl_fd; /* lx: control socket for the uname listener */
	bool lx, sys_admin;
	struct zone_privs privs; /* limit_priv, as the supervisor has it */
	bool userns; /* the zone has a user namespace; its root is uid/gid */
	uid_t uid;
	gid_t gid;
};

static void joined_close(struct joined *j)
{
	zone_ns_close(&j->ns);
	for (size_t i = 0; i < j->ncg; i++)
		close(j->cg_fd[i]);
	j->ncg = 0;
	if (j->cg_init_fd >= 0)
		close(j->cg_init_fd);
	j->cg_init_fd = -1;
	if (j->ctl_fd >= 0)
		close(j->ctl_fd);
	j->ctl_fd = -1;
}

static int prepare(const char *uuid, struct joined *j, struct hull_err *err)
{
	memset(j, 0, sizeof(*j));
	j->ctl_fd = -1;
	j->cg_init_fd = -1;
	json_t *st = supervisor_status(uuid, err);
	if (!st)
		return -err->code;
	json_t *p = json_object_get(st, "pid");
	pid_t pid = json_is_integer(p) ? (pid_t)json_integer_value(p) : -1;
	const char *brand = json_string_value(json_object_get(st, "brand"));
	j->lx = brand && strcmp(brand, "lx") == 0;
	j->sys_admin = json_is_true(json_object_get(st, "sys_admin"));
	j->privs.add =
	    (uint64_t)json_integer_value(json_object_get(st, "cap_add"));
	j->privs.drop =
	    (uint64_t)json_integer_value(json_object_get(st, "cap_drop"));
	json_t *un = json_object_get(st, "userns");
	if (json_is_object(un)) {
		j->userns = true;
		j->uid = (uid_t)json_integer_value(json_object_get(un, "uid"));
		j->gid = (gid_t)json_integer_value(json_object_get(un, "gid"));
	}
	json_decref(st);
	if (pid <= 0)
		return hull_err_set(err, ESRCH, "zone %s is not running", uuid);
	j->init = pid;
	int r = zone_ns_open(pid, &j->ns, err);
	if (r < 0)
		return r;
	struct zone_cgroup cg;
	zone_cgroup_init(&cg, uuid);
	for (size_t i = 0; i < cg.ndirs; i++) {
		_cleanup_free_ char *f = xasprintf(
		    "%s/%s", cg.payload[i], zone_cgroup_join_file(&cg, i));
		int fd = open(f, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			r = hull_err_sys(err, errno, "open %s", f);
			break;
		}
		j->cg_fd[j->ncg++] = fd;
	}
	_cleanup_free_ char *init_cg = zone_cgroup_of_pid(&cg, pid);
	if (init_cg) {
		_cleanup_free_ char *f = xasprintf("%s/cgroup.procs", init_cg);
		j->cg_init_fd = open(f, O_WRONLY | O_CLOEXEC);
	}
	zone_cgroup_fini(&cg);
	if (r == 0 && j->lx) {
		_cleanup_free_ char *ctl =
		    hull_root_path("%s/run/control.sock", uuid);
		if ((j->ctl_fd = sv_sock_connect(ctl, err)) < 0)
			r = -err->code;
	}
	if (r < 0)
		joined_close(j);
	return r;
}

/* Hands the child's uname listener to the supervisor. */
static int send_listener(int sock, int fd)
{
	static const char req[] = "{\"cmd\":\"listener\"}\n";
	int r = hull_fd_send(sock, req, sizeof(req) - 1, &fd, 1);
	if (r < 0)
		return r;
	/* Wait for the answer, so the listener is served before we exec. */
	char buf[128];
	return read(sock, buf, sizeof(buf)) > 0 ? 0 : -EIO;
}

/* The command's descriptors 0-2: the pty slave three times, or the ends
 * of its stdin, stdout and stderr pipes. */
struct cmd_stdio {
	int fd[3];
	bool pty;
};

static __attribute__((noreturn)) void child_run(const struct zone_exec_opts *o,
						struct joined *j,
						const struct cmd_stdio *io)
{
	struct hull_err e = {0};
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (size_t i = 0; i < j->ncg; i++) {
		/* v2: a zone that made cgroups with controllers below its
		 * root (systemd) cannot be joined there: join init's. */
		if (write(j->cg_fd[i], "0", 1) != 1 &&
		    (errno != EBUSY || j->cg_init_fd < 0 ||
		     write(j->cg_init_fd, "0", 1) != 1)) {
			dprintf(2, "zlogin: join cgroup: %s\n",
				strerror(errno));
			_exit(126);
		}
	}
	/* The user namespace first (zone_ns_open's order): the others are
	 * owned by it. */
	if (zone_ns_enter(&j->ns, ~CLONE_NEWPID, &e) < 0 ||
	    (j->userns && zone_userns_root_ids(&e) < 0)) {
		dprintf(2, "zlogin: %s\n", e.msg);
		_exit(126);
	}
	prctl(PR_SET_DUMPABLE, 0);
	/* From here on the host's stdio is gone: a session of its own (the
	 * host's terminal is no longer its controlling one), and the pty or
	 * the pipes as 0-2. Errors below reach zlogin's stderr through the
	 * relay. */
	if (setsid() < 0 || dup2(io->fd[0], 0) < 0 || dup2(io->fd[1], 1) < 0 ||
	    dup2(io->fd[2], 2) < 0 || (io->pty && ioctl(0, TIOCSCTTY, 0) < 0))
		_exit(126);
	if (chdir("/") < 0)
		_exit(126);
	if (zone_caps_drop(j->sys_admin || j->userns, &j->privs, &e) < 0) {
		dprintf(2, "zlogin: %s\n", e.msg);
		_exit(126);
	}
	int nfd = zone_seccomp_load(j->lx, j->lx && !j->userns, &e);
	if (nfd < 0) {
		dprintf(2, "zlogin: %s\n", e.msg);
		_exit(126);
	}
	if (nfd > 0 && send_listener(j->ctl_fd, nfd) < 0) {
		dprintf(
		    2,
		    "zlogin: cannot hand uname listener to the supervisor\n");
		_exit(126);
	}
	/* Nothing of the host but stdio reaches the command. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	environ = o->envp;
	execvp(o->argv[0], o->argv);
	int en = errno;
	dprintf(2, "zlogin: %s: %s\n", o->argv[0], strerror(en));
	_exit(en == ENOENT ? 127 : 126);
}

/* A pty of the zone's own devpts instance, opened from outside: the path
 * is resolved with the zone's root as "/", so a symlink the zone planted
 * cannot send us to a host file. */
static int open_zone_pty(pid_t init, int *master, int *slave, int host_tty,
			 struct hull_err *err)
{
	char rootp[64];
	snprintf(rootp, sizeof(rootp), "/proc/%d/root", (int)init);
	int dfd = open(rootp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return hull_err_sys(err, errno, "open %s", rootp);
	struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
			       .resolve =
				   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int m =
	    (int)syscall(SYS_openat2, dfd, "dev/pts/ptmx", &how, sizeof(how));
	int e = errno;
	close(dfd);
	if (m < 0)
		return hull_err_sys(err, e, "open the zone's /dev/pts/ptmx");
	if (unlockpt(m) < 0) {
		e = errno;
		close(m);
		return hull_err_sys(err, e, "unlockpt");
	}
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		e = errno;
		close(m);
		return hull_err_sys(err, e, "open pty peer");
	}
	struct winsize ws;
	if (ioctl(host_tty, TIOCGWINSZ, &ws) == 0)
		ioctl(m, TIOCSWINSZ, &ws);
	*master = m;
	*slave = s;
	return 0;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static void stdio_close(struct cmd_stdio *io, struct zone_relay *rl)
{
	for (int i = 0; i < (io->pty ? 1 : 3); i++)
		if (io->fd[i] >= 0)
			close(io->fd[i]);
	io->fd[0] = io->fd[1] = io->fd[2] = -1;
	if (rl->from_out >= 0 && rl->from_out != rl->to_cmd)
		close(rl->from_out);
	if (rl->to_cmd >= 0)
		close(rl->to_cmd);
	if (rl->from_err >= 0)
		close(rl->from_err);
	rl->to_cmd = rl->from_out = rl->from_err = -1;
}

/* The command's stdio and the relay's ends of it: a pty of the zone, or
 * pipes. Either is made by the host's root: a zone with a user namespace
 * gets them owned by its root, so it may reopen them (/dev/stdin). */
static int stdio_open(const struct zone_exec_opts *o, const struct joined *j,
		      struct cmd_stdio *io, struct zone_relay *rl,
		      struct hull_err *err)
{
	io->fd[0] = io->fd[1] = io->fd[2] = -1;
	io->pty = o->tty;
	*rl = (struct zone_relay){.in_fd = o->in_fd,
				  .out_fd = o->out_fd,
				  .err_fd = o->err_fd,
				  .to_cmd = -1,
				  .from_out = -1,
				  .from_err = -1,
				  .pty = o->tty};
	int r;
	if (o->tty) {
		int m = -1, s = -1;
		if ((r = open_zone_pty(j->init, &m, &s, o->in_fd, err)) < 0)
			return r;
		io->fd[0] = io->fd[1] = io->fd[2] = s;
		rl->to_cmd = rl->from_out = m;
		if (j->userns && fchown(s, j->uid, (gid_t)-1) < 0)
			goto fail;
		return 0;
	}
	int p[3][2];
	for (int i = 0; i < 3; i++) {
		if (pipe2(p[i], O_CLOEXEC) < 0)
			goto fail;
		/* stdin: the command reads [0]; stdout, stderr: it writes
		 * [1]. */
		io->fd[i] = p[i][i == 0 ? 0 : 1];
		int ours = p[i][i == 0 ? 1 : 0];
		if (i == 0)
			rl->to_cmd = ours;
		else if (i == 1)
			rl->from_out = ours;
		else
			rl->from_err = ours;
		if (j->userns && fchown(io->fd[i], j->uid, j->gid) < 0)
			goto fail;
	}
	return 0;
fail:
	r = hull_err_sys(err, errno, "make the command's %s",
			 o->tty ? "pty" : "pipes");
	stdio_close(io, rl);
	return r;
}

int zone_exec(const struct zone_exec_opts *o, struct hull_err *err)
{
	struct joined j;
	int r = prepare(o->uuid, &j, err);
	if (r < 0)
		return r;
	prctl(PR_SET_DUMPABLE, 0);
	struct cmd_stdio io;
	struct zone_relay rl;
	if ((r = stdio_open(o, &j, &io, &rl, err)) < 0) {
		joined_close(&j);
		return r;
	}
	/* The signals the relay serves: they wait for it from now on. */
	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, &old);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		r = hull_err_sys(err, errno, "signalfd");
		sigprocmask(SIG_SETMASK, &old, NULL);
		stdio_close(&io, &rl);
		joined_close(&j);
		return r;
	}
	/* Only the pid namespace, for the fork, and only until the fork: this
	 * process keeps the host's view (the sanitizers' leak checker walks
	 * our /proc/self at exit); the child joins the rest. */
	int self_pid_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (self_pid_ns < 0 ||
	    (r = zone_ns_enter(&j.ns, CLONE_NEWPID, err)) < 0) {
		if (self_pid_ns < 0)
			r = hull_err_sys(err, errno, "open /proc/self/ns/pid");
		else
			close(self_pid_ns);
		close(sfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		stdio_close(&io, &rl);
		joined_close(&j);
		return hull_err_prefix(err, "join zone %s", o->uuid);
	}
	pid_t pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sfd);
		stdio_close(&(struct cmd_stdio){{-1, -1, -1}, false}, &rl);
		child_run(o, &j, &io);
	}
	int e = errno;
	/* Back to our own pid namespace for any later child (allowed: it is
	 * our active namespace). */
	setns(self_pid_ns, CLONE_NEWPID);
	close(self_pid_ns);
	joined_close(&j);
	/* The command's ends are the command's alone: our copies would keep
	 * its stdin open and its output from ending. */
	for (int i = 0; i < (io.pty ? 1 : 3); i++)
		close(io.fd[i]);
	if (pid < 0) {
		r = hull_err_sys(err, e, "fork");
		close(sfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		io.fd[0] = io.fd[1] = io.fd[2] = -1;
		stdio_close(&io, &rl);
		return r;
	}
	int status = zone_relay_run(&rl, pid, sfd);
	close(sfd);
	return exit_code(status);
}
