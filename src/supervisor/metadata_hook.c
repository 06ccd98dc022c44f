/*
 * metadata_hook.c - the instance's metadata channel (docs/hull-metadata.md):
 * the metadata server core serves R/<uuid>/run/zonecontrol/metadata.sock,
 * which the zone sees read-only at /.zonecontrol/metadata.sock
 * (/native/.zonecontrol/ for lx), and, for an HVM instance, the stream to
 * its emulator's COM2.
 *
 * The server is a process of its own, a child of the supervisor, one per
 * boot of the instance, and it sits in the instance's cgroup (the leaf
 * <parent>/<uuid>/metadata, beside the zone's tree): what a guest makes
 * it buffer, read and write is charged to the guest's own memory, CPU and
 * I/O limits, and a guest that floods it slows only itself, never the
 * supervisor (zlogin, vmadm stop). Its privilege budget: uid 0 (it
 * rewrites the root-owned record under the root-owned lock), no
 * capabilities, no_new_privs; it holds the listening socket, the COM2
 * stream and the supervisor's log, nothing else. It dies with the
 * supervisor (PR_SET_PDEATHSIG) and with the instance's cgroup; if it dies
 * while the instance runs, the supervisor starts another (unless it keeps
 * dying as it starts).
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
#include <sys/syscall.h>
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
#include "supervisor/holder.h"
#include "supervisor/log.h"
#include "supervisor/vm.h"
#include "zone/caps.h"
#include "zone/cgroup.h"
#include "hvm/com2.h"
#include "hvm/qemu.h"

/* The cgroup leaf the server runs in, below <parent>/<uuid>. */
#define MD_CGROUP_LEAF "metadata"

static int md_listen_fd = -1; /* the zone socket, the supervisor's */
static pid_t md_pid = -1;     /* this boot's server process */
static int md_pidfd = -1;     /* watched: the server died */
static time_t md_spawned;     /* CLOCK_MONOTONIC seconds */
static int md_quick_deaths;   /* in a row, each within a second of its start */
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

/* Everything above 2 closed but keep[0..n) (ascending). */
static void close_all_but(const int *keep, size_t n)
{
	unsigned from = 3;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1,
				0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

/* The child: waits until the supervisor moved it into the instance's
 * cgroup (go), then serves until it is killed. Never returns. */
__attribute__((noreturn)) static void md_serve(const char *uuid, int listen_fd,
					       int com2_fd, int go)
{
	struct hull_err err = {0};
	sigset_t none;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "hull-metadata");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int keep[3] = {listen_fd, com2_fd, go};
	for (int i = 1; i < 3; i++) /* ascending, for close_all_but */
		for (int j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	close_all_but(keep, 3);
	if (read(go, &c, 1) != 1)
		_exit(1); /* the supervisor gave up on us */
	close(go);
	int r = zone_caps_drop_all();
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	if (r < 0) {
		sv_log("error", "metadata server: drop capabilities: %s",
		       strerror(-r));
		_exit(1);
	}
	_cleanup_free_ char *rec = inst_record_path(uuid);
	struct zone_cgroup cg;
	zone_cgroup_init(&cg, uuid);
	struct metadata_file_store *fs = metadata_file_store_new(rec);
	struct metadata_store store;
	metadata_file_store_bind(fs, &store);
	struct metadata_server *srv = metadata_server_new(&store, NULL, &err);
	if (!srv) {
		sv_log("error", "metadata server: %s", err.msg);
		_exit(1);
	}
	metadata_server_set_log(srv, md_log, NULL);
	metadata_server_set_peer_check(srv, md_peer_ok, cg.rel);
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
	if (md_pidfd >= 0) {
		if (md_loop)
			sv_loop_del(md_loop, md_pidfd);
		close(md_pidfd);
		md_pidfd = -1;
	}
	if (md_pid > 0) {
		kill(md_pid, SIGKILL);
		/* The supervisor's SIGCHLD handler may have reaped it. */
		while (waitpid(md_pid, NULL, 0) < 0 && errno == EINTR)
			;
		md_pid = -1;
	}
}

static int md_spawn(const char *uuid, struct hull_err *err);

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
	struct hull_err err = {0};
	sv_log("warn", "metadata server died; starting another");
	if (md_spawn(md_uuid, &err) < 0)
		sv_log("error", "metadata: %s", err.msg);
}

static int md_spawn(const char *uuid, struct hull_err *err)
{
	struct zone_cgroup cg;
	int go[2] = {-1, -1};
	int r;

	zone_cgroup_init(&cg, uuid);
	int com2 = hvm_com2_open(uuid, cg.rel, err);
	if (com2 < -1) {
		zone_cgroup_fini(&cg);
		return com2 + 1;
	}
	if (pipe2(go, O_CLOEXEC) < 0) {
		r = hull_err_sys(err, errno, "metadata server: pipe");
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		r = hull_err_sys(err, errno, "metadata server: fork");
		goto out;
	}
	if (pid == 0) {
		close(go[1]);
		md_serve(uuid, md_listen_fd, com2, go[0]);
	}
	md_pid = pid;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	md_spawned = now.tv_sec;
	/* Into the instance's cgroup before it allocates anything: memory
	 * is charged where it is first touched. */
	if ((r = zone_cgroup_attach_leaf(&cg, MD_CGROUP_LEAF, pid, err)) < 0) {
		md_reap();
		goto out;
	}
	md_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (md_pidfd < 0) {
		r = hull_err_sys(err, errno, "metadata server: pidfd");
		md_reap();
		goto out;
	}
	fcntl(md_pidfd, F_SETFD, FD_CLOEXEC);
	if ((r = sv_loop_add(md_loop, md_pidfd, EPOLLIN, on_md_exit, NULL,
			     err)) < 0) {
		md_reap();
		goto out;
	}
	r = write(go[1], "g", 1) == 1
		? 0
		: hull_err_sys(err, errno, "metadata server: start");
	if (r < 0)
		md_reap();
out:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	if (com2 >= 0)
		close(com2);
	zone_cgroup_fini(&cg);
	return r;
}

static int md_started(struct sv_loop *loop, const struct zone_config *cfg,
		      pid_t init, struct hull_err *err)
{
	md_loop = loop;
	snprintf(md_uuid, sizeof(md_uuid), "%s", cfg->uuid);
	md_hvm = inst_is_hvm(&cfg->inst);
	if (md_listen_fd < 0)
		md_listen_fd = sv_holder_take("metadata");
	if (md_listen_fd < 0) {
		_cleanup_free_ char *sock = hull_root_path(
		    "%s/run/zonecontrol/metadata.sock", cfg->uuid);
		md_listen_fd = metadata_channel_listen(sock, err);
		if (md_listen_fd < 0)
			return md_listen_fd;
		sv_holder_put("metadata", md_listen_fd);
	}
	md_reap();
	md_quick_deaths = 0;
	return md_spawn(cfg->uuid, err);
}

static void md_stopped(struct sv_loop *loop, const struct zone_config *cfg)
{
	md_reap();
}

const struct sv_hook metadata_hook = {
    .name = "metadata",
    .zone_started = md_started,
    .zone_stopped = md_stopped,
};
