/*
 * vm_migrate.c - a kvm-brand VM's live migration on one host (see
 * vm_migrate.h).
 */
#include "supervisor/vm_migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hvm/com2.h"
#include "hvm/probe.h"
#include "hvm/qemu.h"
#include "hvm/qemumig.h"
#include "hvm/qmp.h"
#include "lib/root.h"
#include "lib/strv.h"
#include "lib/xalloc.h"
#include "supervisor/log.h"
#include "supervisor/metadata_hook.h"

/* How often the loop asks QEMU how far the migration is. */
#define TICK_NS 10000000L
/* One QMP command's bound; the target's switch to running. */
#define QMP_MS 10000
#define SWITCH_MS 30000
/* The source's exit after its quit, before it is killed. */
#define QUIT_MS 5000

static const char *const socks[] = {HVM_QEMU_CONSOLE_SOCK, HVM_QEMU_COM2_SOCK,
				    HVM_QEMU_QMP_SOCK,	   HVM_QEMU_QMPC_SOCK,
				    HVM_QEMU_VNC_SOCK,	   NULL};

enum mig_phase { MIG_COPY, MIG_CANCEL, MIG_TARGET, MIG_QUIT };

struct sv_vm_mig {
	struct sv_vm *vm;
	struct sv_vm_mig_opts o;
	struct sv_vm_mig_cb cb;
	enum mig_phase phase;
	pid_t src_pid, dst_pid;
	int src_pidfd;
	struct hvm_qmp *qs, *qd; /* the source's and target's command QMP */
	int dst_console, dst_qmp;
	int timer;
	long long start_ms, deadline_ms;
	/* when the source said completed, the target ran, the source went
	 * (ms after start_ms), for the log */
	long long done_ms, run_ms, gone_ms;
	bool killed;   /* the source was sent SIGKILL in MIG_QUIT */
	char why[256]; /* a cancel's reason */
	struct hvm_qemu_mig_stat last;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *run_path(const char *uuid, const char *prefix, const char *name)
{
	return hull_root_path("%s/run/" SV_VM_RUN_SUBDIR "/%s%s", uuid, prefix,
			      name);
}

static void mig_free(struct sv_vm_mig *m)
{
	if (m->timer >= 0) {
		sv_loop_del(m->vm->loop, m->timer);
		close(m->timer);
	}
	hvm_qmp_close(m->qs);
	hvm_qmp_close(m->qd);
	if (m->dst_console >= 0)
		close(m->dst_console);
	if (m->dst_qmp >= 0)
		close(m->dst_qmp);
	if (m->src_pidfd >= 0)
		close(m->src_pidfd);
	m->vm->mig = NULL;
	free(m);
}

/* The guest stays on the source: the target goes, the source runs. */
static void mig_undo(struct sv_vm_mig *m)
{
	if (m->dst_pid > 0)
		kill(m->dst_pid, SIGKILL); /* reaped by the loop's SIGCHLD */
	for (const char *const *s = socks; *s; s++) {
		_cleanup_free_ char *p =
		    run_path(m->vm->uuid, HVM_QEMU_MIG_PREFIX, *s);
		unlink(p);
	}
	struct hull_err e2 = {0};
	char st[32] = "";
	if (m->qs && hvm_qmp_status(m->qs, st, sizeof(st), QMP_MS, &e2) == 0 &&
	    strcmp(st, "running") &&
	    hvm_qmp_execute(m->qs, "cont", NULL, QMP_MS, &e2) < 0)
		sv_log("error", "live migration: resuming the source: %s",
		       e2.msg);
	if (sv_vm_limits_reset(m->vm, &e2) < 0)
		sv_log("warn", "live migration: cgroup limits: %s", e2.msg);
}

static void mig_fail(struct sv_vm_mig *m, struct hull_err *err)
{
	mig_undo(m);
	sv_log("error", "live migration failed, the guest runs on: %s",
	       err->msg);
	struct sv_vm_mig_cb cb = m->cb;
	mig_free(m);
	cb.done(cb.data, err->code ? -err->code : -EIO, NULL, err);
}

/* The target runs the guest: its console is the instance's at once, and
 * the source is told to quit. Its exit (QEMU unmapping the guest's memory
 * takes tens of ms, hundreds under load) is awaited by the loop's tick
 * (mig_quit_tick), not here: meanwhile the loop relays what the guest
 * writes in the target, which the outside would otherwise see as part of
 * the downtime. */
static void mig_switch(struct sv_vm_mig *m)
{
	struct hull_err err = {0};
	/* The console first: the source, paused for good, writes nothing
	 * more, and what the guest writes in the target is relayed at once
	 * (the supervisor reads what the source wrote before). */
	struct sv_vm_mig_switch sw = {.pid = m->dst_pid,
				      .console_fd = m->dst_console};
	m->dst_console = -1;
	m->run_ms = now_ms() - m->start_ms;
	m->cb.sw(m->cb.data, &sw);
	/* The source quits before its sockets' names go to the target:
	 * QEMU removes its listening sockets' paths as it exits. */
	if (hvm_qmp_execute(m->qs, "quit", NULL, QMP_MS, &err) < 0) {
		kill(m->src_pid, SIGKILL);
		m->killed = true;
	}
	m->phase = MIG_QUIT;
	m->deadline_ms = now_ms() + QUIT_MS;
}

/* The source is gone: the target's sockets take their names, and the
 * target is adopted. */
static void mig_finish(struct sv_vm_mig *m)
{
	struct sv_vm *vm = m->vm;
	struct hull_err err = {0};
	struct sv_vm_mig_cb cb = m->cb;
	m->gone_ms = now_ms() - m->start_ms;
	hvm_qmp_close(m->qs);
	m->qs = NULL;
	for (const char *const *s = socks; *s; s++) {
		_cleanup_free_ char *from =
		    run_path(vm->uuid, HVM_QEMU_MIG_PREFIX, *s);
		_cleanup_free_ char *to = run_path(vm->uuid, "", *s);
		if (rename(from, to) < 0 && errno != ENOENT)
			sv_log("warn", "live migration: rename %s: %s", from,
			       strerror(errno));
	}
	int qmp = m->dst_qmp;
	m->dst_qmp = -1;
	if (sv_vm_qmp_replace(vm, qmp, &err) < 0)
		sv_log("warn", "live migration: QMP: %s", err.msg);
	if (sv_vm_limits_reset(vm, &err) < 0)
		sv_log("warn", "live migration: cgroup limits: %s", err.msg);
	if (sv_metadata_restart(&err) < 0)
		sv_log("warn", "live migration: metadata: %s", err.msg);
	json_t *res = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:b}", "downtime_ms",
	    (json_int_t)m->last.downtime_ms, "total_ms",
	    (json_int_t)m->last.total_ms, "passes", (json_int_t)m->last.passes,
	    "transferred", (json_int_t)m->last.transferred, "throttle_pct",
	    (json_int_t)m->last.throttle_pct, "pid", (int)m->dst_pid,
	    "source_pid", (int)m->src_pid, "downtime_limit_ms",
	    (json_int_t)m->o.downtime_ms, "auto_converge", m->o.auto_converge);
	sv_log("info",
	       "live migration done: QEMU pid %d runs the guest (downtime "
	       "%lld ms, %lld passes, %lld bytes)",
	       (int)m->dst_pid, (long long)m->last.downtime_ms,
	       (long long)m->last.passes, (long long)m->last.transferred);
	sv_log("info",
	       "live migration steps: source completed at %lld ms, target "
	       "ran at %lld ms, source gone at %lld ms, adopted at %lld ms",
	       m->done_ms, m->run_ms, m->gone_ms, now_ms() - m->start_ms);
	mig_free(m);
	cb.done(cb.data, 0, res, NULL);
	json_decref(res);
}

/* MIG_QUIT: the source's exit, seen on its pidfd; killed if it takes
 * longer than QUIT_MS, and given up on QUIT_MS after that. */
static void mig_quit_tick(struct sv_vm_mig *m)
{
	struct pollfd pfd = {m->src_pidfd, POLLIN, 0};
	if (poll(&pfd, 1, 0) > 0 || now_ms() > m->deadline_ms + QUIT_MS) {
		mig_finish(m);
		return;
	}
	if (now_ms() > m->deadline_ms && !m->killed) {
		kill(m->src_pid, SIGKILL);
		m->killed = true;
	}
}

static void on_tick(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vm_mig *m = data;
	struct hull_err err = {0};
	uint64_t ticks;
	if (fd >= 0)
		(void)!read(fd, &ticks, sizeof(ticks));
	if (m->phase == MIG_QUIT) {
		mig_quit_tick(m);
		return;
	}
	if (m->phase == MIG_TARGET) {
		char st[32] = "";
		if (hvm_qmp_status(m->qd, st, sizeof(st), QMP_MS, &err) < 0) {
			hull_err_prefix(&err, "the target QEMU");
			mig_fail(m, &err);
			return;
		}
		if (!strcmp(st, "running")) {
			mig_switch(m);
			return;
		}
		if (now_ms() > m->deadline_ms) {
			hull_err_set(&err, ETIMEDOUT,
				     "the target QEMU did not run the guest "
				     "in %d s (state %s)",
				     SWITCH_MS / 1000, st);
			mig_fail(m, &err);
		}
		return;
	}
	json_t *v = NULL;
	if (hvm_qmp_execute(m->qs, "query-migrate", &v, QMP_MS, &err) < 0) {
		hull_err_prefix(&err, "the source QEMU");
		mig_fail(m, &err);
		return;
	}
	struct hvm_qemu_mig_stat st;
	hvm_qemu_mig_stat_parse(v, &st);
	json_decref(v);
	m->last = st;
	switch (st.state) {
	case HVM_QEMU_MIG_COMPLETED:
		/* Even after a cancel: QEMU finished first. The target is
		 * asked at once. */
		m->phase = MIG_TARGET;
		m->done_ms = now_ms() - m->start_ms;
		m->deadline_ms = now_ms() + SWITCH_MS;
		on_tick(loop, -1, 0, m);
		return;
	case HVM_QEMU_MIG_FAILED:
	case HVM_QEMU_MIG_CANCELLED:
	case HVM_QEMU_MIG_NONE:
		if (m->phase == MIG_CANCEL)
			hull_err_set(&err, ETIMEDOUT, "%s", m->why);
		else
			hull_err_set(&err, EIO, "QEMU: migration %s: %s",
				     st.state == HVM_QEMU_MIG_FAILED
					 ? "failed"
					 : "cancelled",
				     st.error);
		mig_fail(m, &err);
		return;
	case HVM_QEMU_MIG_ACTIVE:
		break;
	}
	if (m->phase == MIG_CANCEL)
		return;
	int passes = m->o.max_passes;
	if (!m->o.auto_converge && st.passes > passes)
		snprintf(m->why, sizeof(m->why),
			 "did not converge within the downtime limit of %d "
			 "ms after %d passes (%lld bytes left; allow "
			 "auto-converge to throttle the guest)",
			 m->o.downtime_ms, passes, (long long)st.remaining);
	else if (now_ms() > m->deadline_ms)
		snprintf(m->why, sizeof(m->why),
			 "not done in %d s (%lld bytes left)", m->o.timeout_s,
			 (long long)st.remaining);
	else
		return;
	sv_log("warn", "live migration: %s: cancelling", m->why);
	m->phase = MIG_CANCEL;
	if (hvm_qmp_execute(m->qs, "migrate_cancel", NULL, QMP_MS, &err) < 0) {
		hull_err_prefix(&err, "migrate_cancel");
		mig_fail(m, &err);
	}
}

/* Reads /proc/PID/cmdline. */
static char **src_argv(pid_t pid, struct hull_err *err)
{
	_cleanup_free_ char *p = xasprintf("/proc/%d/cmdline", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hull_err_sys(err, errno, "%s", p);
		return NULL;
	}
	enum { MAX = 256 << 10 };
	char *buf = xmalloc(MAX);
	size_t n = 0;
	for (;;) {
		ssize_t k = read(fd, buf + n, MAX - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		if (n == MAX)
			break;
	}
	close(fd);
	char **argv = hvm_qemu_cmdline_parse(buf, n, err);
	free(buf);
	return argv;
}

/* QEMU makes its sockets one after the other (each bound, then
 * listening): connects to path's QMP once it listens. */
static struct hvm_qmp *qmp_open_wait(const char *path, int timeout_ms,
				     struct hull_err *err)
{
	long long end = now_ms() + timeout_ms;
	for (;;) {
		struct hvm_qmp *q = hvm_qmp_open(path, timeout_ms, err);
		if (q || (err->code != ENOENT && err->code != ECONNREFUSED) ||
		    now_ms() > end)
			return q;
		nanosleep(&(struct timespec){0, 2000000L}, NULL);
	}
}

static int qmp_args(struct hvm_qmp *q, const char *cmd, json_t *a,
		    struct hull_err *err)
{
	int r = hvm_qmp_execute_args(q, cmd, a, NULL, QMP_MS, err);
	json_decref(a);
	return r < 0 ? hull_err_prefix(err, "%s", cmd) : 0;
}

/*
 * The taps' virtio-net header sizes (TUNGETVNETHDRSZ), 0 where unknown.
 * The target QEMU's tap set-up (QEMU's net/tap.c and virtio-net's
 * realize) sets the header back to its 10-byte default on the open file
 * it shares with the source, whose guest negotiated 12 bytes: the source
 * would read every packet 2 bytes off, and its guest would drop them all,
 * from the target's start to the switch (or for good, should the
 * migration fail). taps_hdr_put gives the source its size back once the
 * target is set up; the target sets the guest's own size again as it
 * loads the guest's state. (It also turns the tap's offloads off, which
 * costs the source speed, not packets: the kernel then hands over whole,
 * checksummed frames.)
 */
static void taps_hdr_get(const int *fds, int n, int *lens)
{
	for (int i = 0; i < n; i++)
		if (ioctl(fds[i], TUNGETVNETHDRSZ, &lens[i]) < 0)
			lens[i] = 0;
}

static void taps_hdr_put(const int *fds, int n, const int *lens)
{
	for (int i = 0; i < n; i++) {
		int l = lens[i];
		if (l > 0 && ioctl(fds[i], TUNSETVNETHDRSZ, &l) < 0)
			sv_log("warn",
			       "live migration: tap %d's header size: %s", i,
			       strerror(errno));
	}
}

/* Steps 1 and 2 (vm_migrate.h); on failure the caller cleans up. */
static int mig_begin(struct sv_vm_mig *m, struct hull_err *err)
{
	struct sv_vm *vm = m->vm;
	const char *uuid = vm->uuid;
	int taps[HVM_QEMU_MIG_TAPS_MAX], mine[HVM_QEMU_MIG_TAPS_MAX];
	int hdr[HVM_QEMU_MIG_TAPS_MAX] = {0};
	int sp[2] = {-1, -1};
	char **argv = NULL, **nargv = NULL;
	int ntaps = 0, r;
	for (size_t i = 0; i < HVM_QEMU_MIG_TAPS_MAX; i++)
		mine[i] = -1;
	_cleanup_free_ char *run =
	    hull_root_path("%s/run/" SV_VM_RUN_SUBDIR, uuid);
	_cleanup_free_ char *qmpc = run_path(uuid, "", HVM_QEMU_QMPC_SOCK);
	/* the target's sockets */
	_cleanup_free_ char *con =
	    run_path(uuid, HVM_QEMU_MIG_PREFIX, HVM_QEMU_CONSOLE_SOCK);
	_cleanup_free_ char *qe =
	    run_path(uuid, HVM_QEMU_MIG_PREFIX, HVM_QEMU_QMP_SOCK);
	_cleanup_free_ char *qc =
	    run_path(uuid, HVM_QEMU_MIG_PREFIX, HVM_QEMU_QMPC_SOCK);

	m->src_pidfd = (int)syscall(SYS_pidfd_open, m->src_pid, 0);
	if (m->src_pidfd < 0) {
		r = hull_err_sys(err, errno, "pidfd of QEMU");
		goto out;
	}
	fcntl(m->src_pidfd, F_SETFD, FD_CLOEXEC);
	if (!(argv = src_argv(m->src_pid, err))) {
		r = -err->code;
		goto out;
	}
	if ((ntaps = hvm_qemu_argv_taps(argv, taps, HVM_QEMU_MIG_TAPS_MAX,
					err)) < 0) {
		r = ntaps;
		goto out;
	}
	/* The taps are single-queue: the target shares the source's open
	 * files, which only the running guest reads. */
	for (int i = 0; i < ntaps; i++) {
		mine[i] =
		    (int)syscall(SYS_pidfd_getfd, m->src_pidfd, taps[i], 0);
		if (mine[i] < 0) {
			r = hull_err_sys(err, errno, "tap %d of QEMU (fd %d)",
					 i, taps[i]);
			goto out;
		}
	}
	taps_hdr_get(mine, ntaps, hdr);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		r = hull_err_sys(err, errno, "socketpair");
		goto out;
	}
	if (!(nargv =
		  hvm_qemu_migrate_argv(argv, run, mine, (size_t)ntaps, err))) {
		r = -err->code;
		goto out;
	}
	/* The source's command socket, before anything else listens. */
	if (!(m->qs = hvm_qmp_open(qmpc, QMP_MS, err))) {
		r = hull_err_prefix(err, "the source QEMU");
		goto out;
	}
	for (const char *const *s = socks; *s; s++) {
		_cleanup_free_ char *p =
		    run_path(uuid, HVM_QEMU_MIG_PREFIX, *s);
		unlink(p);
	}
	int keep[HVM_QEMU_MIG_TAPS_MAX + 1];
	memcpy(keep, mine, (size_t)ntaps * sizeof(int));
	keep[ntaps] = sp[1];
	if ((r = sv_vm_emulator_start(vm, nargv, keep, (size_t)ntaps + 1,
				      hvm_kvm_full(), 2, &m->dst_pid, err)) <
	    0) {
		hull_err_prefix(err, "the target QEMU");
		goto out;
	}
	sv_log("info", "live migration: target QEMU is pid %d",
	       (int)m->dst_pid);
	if ((m->dst_console = hvm_com2_connect(con, QMP_MS, err)) < 0 ||
	    (m->dst_qmp = hvm_com2_connect(qe, QMP_MS, err)) < 0 ||
	    !(m->qd = qmp_open_wait(qc, QMP_MS, err))) {
		r = hull_err_prefix(err, "the target QEMU");
		goto out;
	}
	static const char caps[] = "{\"execute\": \"qmp_capabilities\"}\n";
	(void)!send(m->dst_qmp, caps, sizeof(caps) - 1, MSG_NOSIGNAL);
	char uri[32];
	snprintf(uri, sizeof(uri), "fd:%d", sp[1]);
	if ((r = qmp_args(m->qd, "migrate-incoming",
			  json_pack("{s:s}", "uri", uri), err)) < 0)
		goto out;
	/* the target answered: its devices (and taps) are set up */
	taps_hdr_put(mine, ntaps, hdr);
	json_t *cap =
	    json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability",
		      "auto-converge", "state", m->o.auto_converge);
	json_int_t bw =
	    m->o.max_bandwidth > 0 ? m->o.max_bandwidth : (json_int_t)1 << 40;
	if ((r = qmp_args(m->qs, "migrate-set-capabilities", cap, err)) < 0 ||
	    (r = qmp_args(m->qs, "migrate-set-parameters",
			  json_pack("{s:I, s:I}", "downtime-limit",
				    (json_int_t)m->o.downtime_ms,
				    "max-bandwidth", bw),
			  err)) < 0)
		goto out;
	if ((r = hvm_qmp_getfd(m->qs, "hull-migrate", sp[0], QMP_MS, err)) <
	    0) {
		hull_err_prefix(err, "getfd");
		goto out;
	}
	if ((r = qmp_args(m->qs, "migrate",
			  json_pack("{s:s}", "uri", "fd:hull-migrate"), err)) <
	    0)
		goto out;
	r = 0;
out:
	for (int i = 0; i < HVM_QEMU_MIG_TAPS_MAX; i++)
		if (mine[i] >= 0)
			close(mine[i]);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	hull_strv_free(argv);
	hull_strv_free(nargv);
	return r;
}

int sv_vm_migrate_start(struct sv_vm *vm, const struct sv_vm_mig_opts *o,
			const struct sv_vm_mig_cb *cb, struct hull_err *err)
{
	if (!vm->hvm || !vm->kvm_brand)
		return hull_err_set(err, ENOTSUP,
				    "live migration on one host is for kvm VMs "
				    "only");
	if (vm->mig)
		return hull_err_set(err, EBUSY,
				    "a live migration is already under way");
	if (!vm->proc || vm->proc->pid <= 0 || vm->qmp_fd < 0)
		return hull_err_set(err, EINVAL, "VM is not running");
	struct sv_vm_mig *m = xcalloc(1, sizeof(*m));
	m->vm = vm;
	m->o = *o;
	if (m->o.downtime_ms <= 0)
		m->o.downtime_ms = SV_VM_MIG_DOWNTIME_MS;
	if (m->o.max_passes <= 0)
		m->o.max_passes = SV_VM_MIG_PASSES;
	if (m->o.timeout_s <= 0)
		m->o.timeout_s = SV_VM_MIG_TIMEOUT_S;
	m->cb = *cb;
	m->src_pid = vm->proc->pid;
	m->src_pidfd = m->dst_console = m->dst_qmp = m->timer = -1;
	m->start_ms = now_ms();
	m->deadline_ms = m->start_ms + (long long)m->o.timeout_s * 1000;
	vm->mig = m;
	sv_log("info",
	       "live migration: starting (downtime limit %d ms, "
	       "auto-converge %s)",
	       m->o.downtime_ms, m->o.auto_converge ? "on" : "off");
	int r = mig_begin(m, err);
	struct itimerspec it = {.it_value = {0, TICK_NS},
				.it_interval = {0, TICK_NS}};
	if (r == 0) {
		m->timer =
		    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (m->timer < 0 || timerfd_settime(m->timer, 0, &it, NULL) < 0)
			r = hull_err_sys(err, errno, "timer");
		else
			r = sv_loop_add(vm->loop, m->timer, EPOLLIN, on_tick, m,
					err);
	}
	if (r < 0) {
		sv_log("error", "live migration failed, the guest runs on: %s",
		       err->msg);
		mig_undo(m);
		mig_free(m);
		return r;
	}
	return 0;
}

bool sv_vm_migrating(const struct sv_vm *vm)
{
	return vm->mig != NULL;
}

void sv_vm_migrate_abort(struct sv_vm *vm, const char *why)
{
	if (!vm->mig)
		return;
	if (vm->mig->phase == MIG_QUIT) {
		/* the target ran the guest already: the switch is over */
		mig_finish(vm->mig);
		return;
	}
	struct hull_err err = {0};
	hull_err_set(&err, ECANCELED, "%s", why);
	if (vm->mig->qs && vm->mig->phase != MIG_TARGET)
		(void)hvm_qmp_execute(vm->mig->qs, "migrate_cancel", NULL,
				      QMP_MS, &err);
	hull_err_set(&err, ECANCELED, "%s", why);
	mig_fail(vm->mig, &err);
}

int sv_vm_migrate_recover(struct sv_vm *vm, struct hull_err *err)
{
	_cleanup_free_ char *tq =
	    run_path(vm->uuid, HVM_QEMU_MIG_PREFIX, HVM_QEMU_QMPC_SOCK);
	if (access(tq, F_OK) < 0)
		return 0;
	sv_log("warn", "live migration: a predecessor's migration was under "
		       "way: the target QEMU goes, the guest stays");
	_cleanup_free_ char *sq = run_path(vm->uuid, "", HVM_QEMU_QMPC_SOCK);
	struct hull_err e2 = {0};
	struct hvm_qmp *qs = hvm_qmp_open(sq, QMP_MS, err);
	if (qs)
		(void)hvm_qmp_execute(qs, "migrate_cancel", NULL, QMP_MS, &e2);
	struct hvm_qmp *qd = hvm_qmp_open(tq, 1000, &e2);
	if (qd) {
		(void)hvm_qmp_execute(qd, "quit", NULL, QMP_MS, &e2);
		hvm_qmp_close(qd);
	}
	for (const char *const *s = socks; *s; s++) {
		_cleanup_free_ char *p =
		    run_path(vm->uuid, HVM_QEMU_MIG_PREFIX, *s);
		unlink(p);
	}
	if (!qs)
		return hull_err_prefix(err, "live migration: the source QEMU");
	/* The source ends its migration (cancelled, or failed with the
	 * target gone; or completed, the guest paused): it runs the guest. */
	int r = 0;
	long long end = now_ms() + SWITCH_MS;
	for (;;) {
		json_t *v = NULL;
		struct hvm_qemu_mig_stat st;
		if ((r = hvm_qmp_execute(qs, "query-migrate", &v, QMP_MS,
					 err)) < 0)
			break;
		hvm_qemu_mig_stat_parse(v, &st);
		json_decref(v);
		if (st.state != HVM_QEMU_MIG_ACTIVE || now_ms() > end)
			break;
		nanosleep(&(struct timespec){0, TICK_NS}, NULL);
	}
	char state[32] = "";
	if (r == 0 &&
	    (r = hvm_qmp_status(qs, state, sizeof(state), QMP_MS, err)) == 0 &&
	    strcmp(state, "running"))
		r = hvm_qmp_execute(qs, "cont", NULL, QMP_MS, err);
	hvm_qmp_close(qs);
	return r < 0 ? hull_err_prefix(err, "live migration: the source QEMU")
		     : 0;
}
