/*
 * metadata_hook.c - the instance's metadata channel (docs/hull-metadata.md):
 * the metadata server core serves R/<uuid>/run/zonecontrol/metadata.sock,
 * which the zone sees read-only at /.zonecontrol/metadata.sock
 * (/native/.zonecontrol/ for lx), and, for an HVM instance, the stream to
 * its emulator's COM2.
 *
 * The server runs in processes of its own, children of the supervisor,
 * started at each boot, and they sit in the instance's cgroup (the leaf
 * <parent>/<uuid>/metadata, beside the zone's tree): what a guest makes
 * them buffer, read and write is charged to the guest's own memory, CPU
 * and I/O limits, and a guest that floods them slows only itself, never
 * the supervisor (zlogin, vmadm stop). Two of them, with their privilege
 * budgets (vmd's split):
 *   - hull-md-keeper, the supervisor's child: uid 0 without capabilities
 *     (all sets empty), no_new_privs, a seccomp allow-list of file calls;
 *     it holds the record (root's, 0600: it reads it and rewrites it
 *     under the root-owned lock) and one socket to the server, and
 *     answers typed requests (metadata/remote.h), never a guest's bytes;
 *   - hull-metadata, the keeper's child: the instance's own unprivileged
 *     uid and gid (supervisor/privsep.h), no capabilities, no_new_privs, a
 *     seccomp allow-list of socket I/O; it holds the listening socket,
 *     the COM2 stream, the socket to the keeper and the log, and parses
 *     every byte a guest writes.
 * Both die with their parent (PR_SET_PDEATHSIG) and with the instance's
 * cgroup; the keeper ends when the server does. If they die while the
 * instance runs, the supervisor starts the pair again (at once, then
 * with a back-off for a pair that dies as it starts, and not before the
 * next boot after a few of those).
 *
 * The listening socket is the supervisor's, kept across boots and, by
 * the holder, across a supervisor's death (holder.h); every
 * connection's peer must be the instance or host root (metadata/peer.h).
 */
#include "supervisor/metadata_hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "inst/record.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "metadata/channel.h"
#include "metadata/peer.h"
#include "metadata/server.h"
#include "metadata/store.h"
#include "metadata/remote.h"
#include "supervisor/holder.h"
#include "supervisor/log.h"
#include "supervisor/privsep.h"
#include "supervisor/vm.h"
#include "zone/cgroup.h"
#include "hvm/com2.h"
#include "hvm/qemu.h"

/* The cgroup leaf the server runs in, below <parent>/<uuid>. */
#define MD_CGROUP_LEAF "metadata"

static int md_listen_fd = -1; /* the zone socket, the supervisor's */
/* This boot's processes, [MD_SERVER] and [MD_KEEPER], and their pidfds
 * (watched: either died). */
enum { MD_SERVER, MD_KEEPER, MD_NPROC };
static pid_t md_pid[MD_NPROC] = {-1, -1};
static int md_pidfd[MD_NPROC] = {-1, -1};
static int md_timer = -1;   /* a restart waiting out its back-off */
static time_t md_spawned;   /* CLOCK_MONOTONIC seconds */
static int md_quick_deaths; /* in a row, each within a second of its start */
/* A server that dies this many times in a row right after it started is
 * not started again before the next boot (a crash loop, not a kill). */
#define MD_QUICK_DEATHS_MAX 3
static struct sv_loop *md_loop;
static char md_uuid[64];
static bool md_hvm; /* this boot's instance is a VM (from its record) */

/* ---- the server process ----------------------------------------------- */

static void md_log(void *ctx, const char *msg)
{
	sv_log("warn", "%s", msg);
}

static bool md_peer_ok(void *ctx, int fd)
{
	return metadata_peer_allowed(fd, ctx, NULL, NULL);
}

/* Waits until the supervisor moved the process into the instance's
 * cgroup (go). */
static void md_wait_go(int go)
{
	char c;
	sigset_t none;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (read(go, &c, 1) != 1)
		_exit(1); /* the supervisor gave up on us */
	close(go);
}

/* The server: unprivileged (privsep.h), serves the guest's channels from
 * the keeper's store (keeper_fd). Never returns. */
__attribute__((noreturn)) static void md_server(const char *rel, int listen_fd,
						int com2_fd, int keeper_fd,
						int go, pid_t parent, uid_t uid,
						gid_t gid)
{
	struct hull_err err = {0};
	prctl(PR_SET_NAME, "hull-metadata");
	int keep[4] = {listen_fd, com2_fd, keeper_fd, go};
	sv_privsep_close_all_but(keep, 4);
	md_wait_go(go);
	if (sv_privsep_enter(uid, gid, SV_PRIVSEP_MD_SERVER, &err) < 0) {
		sv_log("error", "metadata server: %s", err.msg);
		_exit(1);
	}
	if (getppid() != parent)
		_exit(1); /* the supervisor died before the signal held */
	struct metadata_remote *rs = metadata_remote_new(keeper_fd);
	struct metadata_store store = {0};
	metadata_remote_bind(rs, &store);
	struct metadata_server *srv = metadata_server_new(&store, NULL, &err);
	if (!srv) {
		sv_log("error", "metadata server: %s", err.msg);
		_exit(1);
	}
	metadata_server_set_log(srv, md_log, NULL);
	metadata_server_set_peer_check(srv, md_peer_ok, (void *)rel);
	if (metadata_server_add_listener(srv, listen_fd, &err) < 0 ||
	    (com2_fd >= 0 &&
	     metadata_server_add_stream(srv, com2_fd, &err) < 0)) {
		sv_log("error", "metadata server: %s", err.msg);
		_exit(1);
	}
	for (;;) {
		if (metadata_server_run(srv, -1, &err) < 0) {
			sv_log("error", "metadata server: %s", err.msg);
			_exit(1);
		}
	}
}

/* The keeper: keeps the record for the server until the server goes.
 * Never returns. */
__attribute__((noreturn)) static void md_keeper(const char *uuid, int sock,
						int go, pid_t parent)
{
	struct hull_err err = {0};
	prctl(PR_SET_NAME, "hull-md-keeper");
	int keep[2] = {sock, go};
	sv_privsep_close_all_but(keep, 2);
	md_wait_go(go);
	/* Root without capabilities: the record is root's (0600) and only
	 * its owner writes it; nothing else of root's is needed. */
	if (sv_privsep_enter(0, 0, SV_PRIVSEP_MD_KEEPER, &err) < 0) {
		sv_log("error", "metadata keeper: %s", err.msg);
		_exit(1);
	}
	if (getppid() != parent)
		_exit(1); /* the supervisor died before the signal held */
	_cleanup_free_ char *rec = inst_record_path(uuid);
	struct metadata_file_store *fs = metadata_file_store_new(rec);
	struct metadata_store store = {0};
	metadata_file_store_bind(fs, &store);
	if (metadata_remote_serve(sock, &store, &err) < 0)
		sv_log("error", "metadata keeper: %s", err.msg);
	_exit(1);
}

/* ---- in the supervisor ------------------------------------------------ */

/* An HVM instance's guest speaks the protocol on its COM2, which its
 * emulator listens on at run/vm/ttyb.sock (supervisor/vm.h): connect to
 * it, and make sure it is the emulator that listens there (the emulator
 * owns that folder; a socket another user planted would be someone
 * else's). Returns the stream, -1 for a zone, or a negative code - 1. */
static int hvm_com2_open(const char *uuid, const char *rel,
			 struct hull_err *err)
{
	if (!md_hvm)
		return -1;
	_cleanup_free_ char *p = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_QEMU_COM2_SOCK, uuid);
	int fd = hvm_com2_connect(p, 10000, err);
	if (fd < 0)
		return hull_err_prefix(err, "COM2") - 1;
	uid_t uid;
	pid_t pid;
	if (!metadata_peer_allowed(fd, rel, &uid, &pid)) {
		close(fd);
		return hull_err_set(err, EPERM,
				    "COM2: %s is not the emulator's (uid %u, "
				    "pid %d)",
				    p, (unsigned)uid, (int)pid) -
		       1;
	}
	return fd;
}

static void md_reap(void)
{
	for (int i = 0; i < MD_NPROC; i++) {
		if (md_pidfd[i] >= 0) {
			if (md_loop)
				sv_loop_del(md_loop, md_pidfd[i]);
			close(md_pidfd[i]);
			md_pidfd[i] = -1;
		}
		if (md_pid[i] > 0) {
			kill(md_pid[i], SIGKILL);
			/* The supervisor's SIGCHLD handler may have reaped
			 * it. */
			while (waitpid(md_pid[i], NULL, 0) < 0 &&
			       errno == EINTR)
				;
			md_pid[i] = -1;
		}
	}
}

static void md_timer_stop(void)
{
	if (md_timer < 0)
		return;
	if (md_loop)
		sv_loop_del(md_loop, md_timer);
	close(md_timer);
	md_timer = -1;
}

static int md_spawn(const char *uuid, struct hull_err *err);
static bool md_spawn_in(long delay_ns);

static void on_md_timer(struct sv_loop *loop, int fd, uint32_t events,
			void *data)
{
	struct hull_err err = {0};
	md_timer_stop();
	if (md_spawn(md_uuid, &err) < 0)
		sv_log("error", "metadata: %s", err.msg);
}

static void on_md_exit(struct sv_loop *loop, int fd, uint32_t events,
		       void *data)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - md_spawned < 1)
		md_quick_deaths++;
	else
		md_quick_deaths = 0;
	md_reap();
	if (md_quick_deaths > MD_QUICK_DEATHS_MAX) {
		sv_log("error", "metadata server keeps dying as it starts; "
				"not restarted before the next boot");
		return;
	}
	/* Back-off: at once after a server that ran a while, then 100,
	 * 200, 400 ms after each that died as it started. */
	long delay_ms = md_quick_deaths ? 100L << (md_quick_deaths - 1) : 0;
	sv_log("warn", "metadata server died; starting another in %ld ms",
	       delay_ms);
	struct hull_err err = {0};
	if (delay_ms == 0) {
		if (md_spawn(md_uuid, &err) < 0)
			sv_log("error", "metadata: %s", err.msg);
		return;
	}
	md_spawn_in(delay_ms * 1000000L);
}

/* Spawns the server from the event loop in delay_ns (> 0); false (and
 * logged) when the timer could not be set. */
static bool md_spawn_in(long delay_ns)
{
	struct hull_err err = {0};
	struct itimerspec it = {
	    .it_value = {delay_ns / 1000000000L, delay_ns % 1000000000L}};
	md_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (md_timer < 0 || timerfd_settime(md_timer, 0, &it, NULL) < 0 ||
	    sv_loop_add(md_loop, md_timer, EPOLLIN, on_md_timer, NULL, &err) <
		0) {
		sv_log("error", "metadata: timer: %s",
		       err.msg[0] ? err.msg : strerror(errno));
		if (md_timer >= 0)
			close(md_timer);
		md_timer = -1;
		return false;
	}
	return true;
}

/* Puts child i into the instance's metadata leaf and watches it. */
static int md_fork(int i, struct zone_cgroup *cg, struct hull_err *err)
{
	if (zone_cgroup_attach_leaf(cg, MD_CGROUP_LEAF, md_pid[i], err) < 0)
		return -err->code;
	md_pidfd[i] = (int)syscall(SYS_pidfd_open, md_pid[i], 0);
	if (md_pidfd[i] < 0)
		return hull_err_sys(err, errno, "metadata server: pidfd");
	fcntl(md_pidfd[i], F_SETFD, FD_CLOEXEC);
	return sv_loop_add(md_loop, md_pidfd[i], EPOLLIN, on_md_exit, NULL,
			   err);
}

static int md_spawn(const char *uuid, struct hull_err *err)
{
	struct zone_cgroup cg;
	int go[2] = {-1, -1}, sp[2] = {-1, -1};
	uid_t uid;
	gid_t gid;
	int r;

	if ((r = sv_privsep_ids(uuid, SV_PRIVSEP_METADATA, &uid, &gid, err)) <
	    0)
		return hull_err_prefix(err, "metadata server");
	zone_cgroup_init(&cg, uuid);
	int com2 = hvm_com2_open(uuid, cg.rel, err);
	if (com2 < -1) {
		zone_cgroup_fini(&cg);
		return com2 + 1;
	}
	if (pipe2(go, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		r = hull_err_sys(err, errno, "metadata server: pipe");
		goto out;
	}
	pid_t self = getpid();
	for (int i = 0; i < MD_NPROC; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			r = hull_err_sys(err, errno, "metadata server: fork");
			md_reap();
			goto out;
		}
		if (pid == 0 && i == MD_SERVER)
			md_server(cg.rel, md_listen_fd, com2, sp[1], go[0],
				  self, uid, gid);
		if (pid == 0)
			md_keeper(uuid, sp[0], go[0], self);
		md_pid[i] = pid;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	md_spawned = now.tv_sec;
	/* Into the instance's cgroup before they allocate anything: memory
	 * is charged where it is first touched. */
	for (int i = 0; i < MD_NPROC; i++)
		if ((r = md_fork(i, &cg, err)) < 0) {
			md_reap();
			goto out;
		}
	r = write(go[1], "gg", 2) == 2
		? 0
		: hull_err_sys(err, errno, "metadata server: start");
	if (r < 0)
		md_reap();
out:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (sp[i] >= 0)
			close(sp[i]);
	}
	if (com2 >= 0)
		close(com2);
	zone_cgroup_fini(&cg);
	return r;
}

int sv_metadata_start(struct sv_loop *loop, const char *uuid, int listen_fd,
		      struct hull_err *err)
{
	md_loop = loop;
	snprintf(md_uuid, sizeof(md_uuid), "%s", uuid);
	if (listen_fd != md_listen_fd) {
		if (md_listen_fd >= 0)
			close(md_listen_fd);
		md_listen_fd = listen_fd;
	}
	md_timer_stop();
	md_reap();
	md_quick_deaths = 0;
	return md_spawn(uuid, err);
}

int sv_metadata_restart(struct hull_err *err)
{
	if (!md_loop)
		return 0;
	md_timer_stop();
	md_reap();
	md_quick_deaths = 0;
	return md_spawn(md_uuid, err);
}

pid_t sv_metadata_pid(void)
{
	return md_pid[MD_SERVER];
}

static int md_started(struct sv_loop *loop, const struct zone_config *cfg,
		      pid_t init, struct hull_err *err)
{
	md_hvm = inst_is_hvm(&cfg->inst);
	int fd = md_listen_fd;
	if (fd < 0)
		fd = sv_holder_take("metadata");
	if (fd < 0) {
		_cleanup_free_ char *sock = hull_root_path(
		    "%s/run/zonecontrol/metadata.sock", cfg->uuid);
		fd = metadata_channel_listen(sock, err);
		if (fd < 0)
			return fd;
		sv_holder_put("metadata", fd);
	}
	/* The socket listens now (a client's connect waits in its backlog);
	 * the server's two processes are forked and placed in their cgroup
	 * from the event loop, after the supervisor has reported the boot:
	 * they are off vmadm start's path. A failure there is logged and
	 * the server is not restarted before the next boot, as when it
	 * keeps dying. */
	md_loop = loop;
	snprintf(md_uuid, sizeof(md_uuid), "%s", cfg->uuid);
	if (fd != md_listen_fd) {
		if (md_listen_fd >= 0)
			close(md_listen_fd);
		md_listen_fd = fd;
	}
	md_timer_stop();
	md_reap();
	md_quick_deaths = 0;
	return md_spawn_in(1) ? 0 : md_spawn(cfg->uuid, err);
}

static void md_stopped(struct sv_loop *loop, const struct zone_config *cfg)
{
	md_timer_stop();
	md_reap();
}

/* A live move: the server's COM2 stream was the old emulator's; a new
 * pair connects to the new one's (the zone socket stays as it is). */
static void md_moved(struct sv_loop *loop, const struct zone_config *cfg,
		     pid_t pid)
{
	struct hull_err err = {0};
	if (md_listen_fd < 0)
		return;
	if (sv_metadata_start(loop, cfg->uuid, md_listen_fd, &err) < 0)
		sv_log("error", "metadata: %s", err.msg);
}

const struct sv_hook metadata_hook = {
    .name = "metadata",
    .zone_started = md_started,
    .zone_stopped = md_stopped,
    .emulator_moved = md_moved,
};
