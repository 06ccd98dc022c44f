/*
 * supervisor.c - the per-zone supervisor's state machine and event loop.
 *
 *   booting ──ok──> running ──init exits──> (policy) ──> running (restart)
 *                      │                          └────> done
 *                      ├─ stop ──> stopping ──init exits──> done
 *                      └─ reboot ─> rebooting ─init exits─> booting
 *
 * Every path to "done" kills what is left in the zone's cgroup, removes
 * it and the run files, and answers waiting clients.
 */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/fdpass.h"
#include "lib/fileio.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"
#include "supervisor/control.h"
#include "supervisor/holder.h"
#include "supervisor/holder_proto.h"
#include "supervisor/log.h"
#include "supervisor/sock.h"
#include "supervisor/vm.h"
#include "supervisor/vm_migrate.h"
#include "supervisor/vmmove.h"
#include "zone/cgroup.h"
#include "zone/start.h"
#include "zone/uname.h"

#define CONSOLE_LOG_MAX (4 << 20)
#define BACKOFF_MAX_S 60
#define QUICK_EXIT_S 10

enum sv_state {
	SV_BOOTING,
	SV_RUNNING,
	SV_STOPPING,
	SV_REBOOTING,
	SV_BACKOFF,
	SV_DONE
};

struct sv_client {
	int fd;
	bool console;
	bool waiting;  /* a stop/reboot answer is owed */
	int passed_fd; /* a descriptor that came with the request, or -1 */
	char held[HOLDER_NAME_MAX]; /* a console client's name at the holder */
	size_t len;
	char buf[CONTROL_LINE_MAX + 1];
	struct sv_client *next;
};

struct supervisor {
	char uuid[HULL_UUID_LEN + 1];
	struct zone_config cfg;
	struct zone_cgroup cg;
	struct zone_proc proc;
	struct sv_loop *loop;
	enum sv_state state;
	int sig_fd, timer_fd, ctl_fd, con_fd, log_fd, lock_fd;
	char *run_dir, *log_path;
	char boot_ts[32];
	time_t boot_mono;
	int restarts, backoff_s, failures;
	int64_t oom_seen;
	bool owns_run;	 /* we hold the pid lock: the run files are ours */
	bool booted;	 /* the instance ran under us (booted or adopted) */
	int ready_fd;	 /* the first boot's report to vmadm, or -1 */
	int rc;		 /* the exit status */
	struct sv_vm vm; /* brands kvm and bhyve: the emulator (vm.h) */
	struct sv_client *clients;
	struct sv_client *mig_client; /* owed a live migration's answer */
	struct sv_client *mover;     /* who asked for the live move under way */
	unsigned client_seq;	     /* for the holder's names of clients */
	char pushed[HOLDER_MSG_MAX]; /* the state the holder has */
};

/* The one supervisor of this process, for callbacks whose data is a
 * client. */
static struct supervisor *sv_self;

static const struct sv_hook *hooks[4];
static size_t nhooks;

void supervisor_hook_register(const struct sv_hook *hook)
{
	if (nhooks < sizeof(hooks) / sizeof(*hooks))
		hooks[nhooks++] = hook;
}

static time_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void timer_arm(struct supervisor *sv, int seconds)
{
	struct itimerspec it = {.it_value = {seconds, seconds ? 0 : 1}};
	timerfd_settime(sv->timer_fd, 0, &it, NULL);
}

static void timer_disarm(struct supervisor *sv)
{
	struct itimerspec it = {{0, 0}, {0, 0}};
	timerfd_settime(sv->timer_fd, 0, &it, NULL);
}

/* ---- clients ---------------------------------------------------------- */

static void client_send(struct sv_client *c, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return;
	size_t len = strlen(s);
	s[len] = '\n';
	/* Answers are small; a client that does not read loses its answer. */
	(void)!send(c->fd, s, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(s);
}

static void client_error(struct sv_client *c, const char *msg)
{
	client_send(c, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

static void client_close(struct supervisor *sv, struct sv_client *c)
{
	for (struct sv_client **pp = &sv->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (sv->mig_client == c)
		sv->mig_client = NULL;
	if (sv->mover == c)
		sv->mover = NULL;
	sv_loop_del(sv->loop, c->fd);
	close(c->fd);
	if (*c->held)
		sv_holder_drop(c->held);
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	free(c);
}

/* Answers every client waiting for a stop or reboot. */
static void clients_answer_waiting(struct supervisor *sv, const char *error)
{
	for (struct sv_client *c = sv->clients; c; c = c->next) {
		if (!c->waiting)
			continue;
		c->waiting = false;
		if (error)
			client_error(c, error);
		else
			client_send(c, json_pack("{s:b}", "ok", 1));
	}
}

/* ---- console ---------------------------------------------------------- */

static void console_log_open(struct supervisor *sv)
{
	if (sv->log_fd >= 0)
		close(sv->log_fd);
	sv->log_fd =
	    open(sv->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static void console_log_write(struct supervisor *sv, const char *buf, size_t n)
{
	struct stat st;
	if (sv->log_fd >= 0 && fstat(sv->log_fd, &st) == 0 &&
	    st.st_size > CONSOLE_LOG_MAX) {
		_cleanup_free_ char *old = xasprintf("%s.0", sv->log_path);
		rename(sv->log_path, old);
		console_log_open(sv);
	}
	if (sv->log_fd >= 0)
		(void)!write(sv->log_fd, buf, n);
}

/* One read of the console, logged and relayed: what read returned. */
static ssize_t console_relay(struct supervisor *sv, int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return n;
	console_log_write(sv, buf, (size_t)n);
	for (struct sv_client *c = sv->clients; c; c = c->next)
		if (c->console)
			(void)!send(c->fd, buf, (size_t)n,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
	return n;
}

static void on_console(struct sv_loop *loop, int fd, uint32_t events,
		       void *data)
{
	struct supervisor *sv = data;
	ssize_t n = console_relay(sv, fd);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EIO: no process holds the console any more. Stop
		 * watching it; the next boot brings a new one. */
		sv_loop_del(loop, fd);
		return;
	}
}

static void on_console_client(struct sv_loop *loop, int fd, uint32_t events,
			      void *data)
{
	struct sv_client *c = data;
	struct supervisor *sv = sv_self;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(sv, c);
		return;
	}
	if (sv->proc.console_fd >= 0)
		(void)!write(sv->proc.console_fd, buf, (size_t)n);
}

/* ---- boot and exit ---------------------------------------------------- */

/* zlogin's uname listeners (lx), kept by the holder as "ls.<fd>". */
static void listener_name(int fd, char name[HOLDER_NAME_MAX])
{
	snprintf(name, HOLDER_NAME_MAX, "ls.%d", fd);
}

static void listener_forget(int fd)
{
	char name[HOLDER_NAME_MAX];
	listener_name(fd, name);
	sv_holder_drop(name);
}

static void listener_keep(int fd)
{
	char name[HOLDER_NAME_MAX];
	listener_name(fd, name);
	sv_holder_put(name, fd);
}

static void on_uname(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct supervisor *sv = data;
	struct hull_err err = {0};
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Every task under this filter is gone. */
		sv_loop_del(loop, fd);
		if (fd != sv->proc.notify_fd) {
			listener_forget(fd);
			close(fd);
		}
		return;
	}
	if (zone_uname_handle(fd, sv->cfg.kernel_version, &err) < 0)
		sv_log("warn", "uname: %s", err.msg);
}

static int sv_booted(struct supervisor *sv, struct hull_err *err);
static void write_init_record(struct supervisor *sv);
static void boot_ended(void *data, int r, struct hull_err *err);

/* 0: booted; 1: an HVM instance's boot loader runs, boot_ended comes
 * later; < 0: failed. inst: the instance as read at the supervisor's
 * start (taken over), or NULL to read it again (a reboot picks up what
 * vmadm update changed in the record). The record is read once per boot. */
static int sv_boot(struct supervisor *sv, struct inst *inst,
		   struct hull_err *err)
{
	int r;
	struct inst fresh;
	if (!inst) {
		if ((r = inst_load(sv->uuid, &fresh, err)) < 0)
			return r;
		inst = &fresh;
	}
	struct zone_config cfg;
	if (inst_is_hvm(inst)) {
		/* An HVM instance: the emulator instead of init (vm.h). Its
		 * zone_config carries only the instance; the hull sets the
		 * cgroup's limits from ram and cpu_cap. */
		zone_config_fini(&sv->cfg);
		sv->cfg.inst = *inst;
		memset(inst, 0, sizeof(*inst));
		snprintf(sv->cfg.uuid, sizeof(sv->cfg.uuid), "%s", sv->uuid);
		sv->cfg.restart = ZONE_RESTART_NEVER;
		sv->state = SV_BOOTING;
		/* An emulator starts in a new tree, as it always has. */
		if ((r = zone_cgroup_destroy(&sv->cg, err)) < 0)
			return r;
		r = sv_vm_boot(&sv->vm, &sv->cfg.inst, &sv->cg, sv->loop,
			       &sv->proc, boot_ended, sv, err);
		if (r != 0)
			return r;
		return sv_booted(sv, err);
	}
	if ((r = zone_config_from_inst(inst, &cfg, err)) < 0) {
		zone_config_fini(&cfg);
		return r;
	}
	zone_config_fini(&sv->cfg);
	sv->cfg = cfg;
	if ((r = zone_cgroup_create(&sv->cg, err)) < 0 ||
	    (r = zone_cgroup_devices_limit(&sv->cg, err)) < 0 ||
	    (r = zone_cgroup_limits_apply(&sv->cg, &sv->cfg.limits, err)) < 0)
		return r;
	if (sv->cfg.userns &&
	    (r = zone_cgroup_delegate(&sv->cg, sv->cfg.userns_uid,
				      sv->cfg.userns_gid, err)) < 0)
		return r;
	if ((r = zone_start(&sv->cfg, &sv->cg, &sv->proc, err)) < 0)
		return r;
	return sv_booted(sv, err);
}

/* Watches the running init (or emulator): its console and uname
 * listener, which the holder keeps too (they outlive us). */
static int sv_watch(struct supervisor *sv, struct hull_err *err)
{
	int r;
	fcntl(sv->proc.console_fd, F_SETFL, O_NONBLOCK);
	if ((r = sv_loop_add(sv->loop, sv->proc.console_fd, EPOLLIN, on_console,
			     sv, err)) < 0)
		return r;
	if (sv->proc.notify_fd >= 0 &&
	    (r = sv_loop_add(sv->loop, sv->proc.notify_fd, EPOLLIN, on_uname,
			     sv, err)) < 0)
		return r;
	sv_holder_put("console", sv->proc.console_fd);
	sv_holder_put("console_hold", sv->proc.console_hold_fd);
	sv_holder_put("notify", sv->proc.notify_fd);
	sv_holder_put("qmp", sv->vm.qmp_fd);
	sv->oom_seen = zone_cgroup_oom_kills(&sv->cg);
	sv->booted = true;
	return 0;
}

static int hooks_started(struct supervisor *sv, struct hull_err *err)
{
	for (size_t i = 0; i < nhooks; i++) {
		if (hooks[i]->zone_started &&
		    hooks[i]->zone_started(sv->loop, &sv->cfg, sv->proc.pid,
					   err) < 0)
			return hull_err_prefix(err, "%s", hooks[i]->name);
	}
	return 0;
}

/* The instance's init (or emulator) runs: watch it. */
static int sv_booted(struct supervisor *sv, struct hull_err *err)
{
	int r;
	if ((r = sv_watch(sv, err)) < 0)
		return r;
	sv_log_timestamp(sv->boot_ts);
	sv->boot_mono = mono_now();
	sv->state = SV_RUNNING;
	write_init_record(sv);
	sv_log("info", "zone booted: init %s is pid %d",
	       sv->cfg.argv ? sv->cfg.argv[0] : "(the emulator)",
	       (int)sv->proc.pid);
	return hooks_started(sv, err);
}

/* R/<uuid>/run/init.json: what vmadm get and list show of a running
 * instance (pid, boot_timestamp, zoneid) without asking us; removed when
 * init or the emulator is gone. zoneid is the inode of its pid namespace,
 * the kernel's number for this boot of the instance, as a zone id is. */
static void write_init_record(struct supervisor *sv)
{
	_cleanup_free_ char *ns =
	    xasprintf("/proc/%d/ns/pid", (int)sv->proc.pid);
	struct stat st;
	json_t *j = json_pack("{s:i, s:s}", "pid", (int)sv->proc.pid,
			      "boot_timestamp", sv->boot_ts);
	if (stat(ns, &st) == 0)
		json_object_set_new(j, "zoneid",
				    json_integer((json_int_t)st.st_ino));
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	_cleanup_free_ char *p = xasprintf("%s/init.json", sv->run_dir);
	struct hull_err err = {0};
	/* Not synced: it describes this boot only (a host that lost power
	 * runs nothing), and two fsyncs were most of a start's time. */
	if (hull_file_replace(p, text, strlen(text), 0600, &err) < 0)
		sv_log("error", "record boot: %s", err.msg);
	free(text);
}

static void remove_init_record(struct supervisor *sv)
{
	_cleanup_free_ char *p = xasprintf("%s/init.json", sv->run_dir);
	unlink(p);
}

static void write_lastexited(struct supervisor *sv, int status)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%lld %d\n",
			 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
			 status);
	_cleanup_free_ char *p = hull_root_path("%s/lastexited", sv->uuid);
	struct hull_err err = {0};
	if (hull_file_write_atomic(p, buf, (size_t)n, 0600, &err) < 0)
		sv_log("error", "record exit: %s", err.msg);
}

static void sv_zone_down(struct supervisor *sv)
{
	struct hull_err err = {0};
	for (size_t i = 0; i < nhooks; i++)
		if (hooks[i]->zone_stopped)
			hooks[i]->zone_stopped(sv->loop, &sv->cfg);
	if (sv->proc.console_fd >= 0) {
		/* What init wrote last is still in the pty. */
		char buf[4096];
		ssize_t n;
		while ((n = read(sv->proc.console_fd, buf, sizeof(buf))) > 0)
			console_log_write(sv, buf, (size_t)n);
		sv_loop_del(sv->loop, sv->proc.console_fd);
	}
	if (sv->proc.notify_fd >= 0)
		sv_loop_del(sv->loop, sv->proc.notify_fd);
	static const char *const held[] = {"console", "console_hold", "notify",
					   "qmp"};
	for (size_t i = 0; i < sizeof(held) / sizeof(*held); i++)
		sv_holder_drop(held[i]);
	remove_init_record(sv);
	zone_proc_close(&sv->proc);
	sv_vmmove_cancel(&sv->vm);
	if (sv->vm.hvm) /* QMP and the taps (a second call is harmless) */
		sv_vm_down(&sv->vm, sv->uuid, sv->loop, 0);
	sv->proc.pid = -1;
	/* init's death killed its pid namespace; a zlogin'd process that
	 * escaped it cannot exist, but make sure the cgroup is empty. */
	if (zone_cgroup_kill(&sv->cg, 5000, &err) < 0)
		sv_log("error", "%s", err.msg);
}

static bool want_restart(struct supervisor *sv, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP)
		return true; /* reboot(2) from inside */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT)
		return false; /* halt or power off from inside */
	switch (sv->cfg.restart) {
	case ZONE_RESTART_ALWAYS:
		return true;
	case ZONE_RESTART_ON_FAILURE:
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return false;
		return sv->cfg.restart_max == 0 ||
		       sv->failures <= sv->cfg.restart_max;
	case ZONE_RESTART_NEVER:
		break;
	}
	return false;
}

static void sv_finish(struct supervisor *sv, const char *why)
{
	sv_log("info", "zone stopped: %s", why);
	sv->state = SV_DONE;
}

static void ready_report(int *ready_fd, const char *msg)
{
	if (*ready_fd < 0)
		return;
	(void)!write(*ready_fd, msg, strlen(msg));
	(void)!write(*ready_fd, "\n", 1);
	close(*ready_fd);
	*ready_fd = -1;
}

/* How a boot ended: a restart answers the clients waiting for it, the
 * first boot reports to the vmadm that started us. */
static void boot_done(struct supervisor *sv, int r, struct hull_err *err)
{
	if (r == 0) {
		if (sv->ready_fd >= 0)
			ready_report(&sv->ready_fd, "OK");
		else
			sv->restarts++;
		clients_answer_waiting(sv, NULL);
		return;
	}
	sv_log("error", "boot: %s", err->msg);
	if (sv->proc.pid > 0)
		sv_zone_down(sv);
	if (sv->ready_fd >= 0) {
		ready_report(&sv->ready_fd, err->msg);
		sv->rc = 1;
	}
	clients_answer_waiting(sv, err->msg);
	sv_finish(sv, "boot failed");
}

/* The HVM boot loader has answered (vm.h). */
static void boot_ended(void *data, int r, struct hull_err *err)
{
	struct supervisor *sv = data;
	if (r == 0)
		r = sv_booted(sv, err);
	boot_done(sv, r, err);
}

static void sv_try_boot(struct supervisor *sv)
{
	struct hull_err err = {0};
	int r = sv_boot(sv, NULL, &err);
	if (r != 1)
		boot_done(sv, r, &err);
}

static void move_done(void *data, struct sv_vmmove_result *res);

static void on_init_exit(struct supervisor *sv, int status)
{
	/* The source QEMU ended under a live migration: the target goes. */
	sv_vm_migrate_abort(&sv->vm, "the VM stopped during the migration");
	/* hull-vmm's status 4: it handed the guest over in a live move that
	 * our predecessor started and did not see end (vmmove.h) */
	struct sv_vmmove_result moved;
	if (sv->state == SV_RUNNING && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 4 &&
	    sv_vmmove_recover(&sv->vm, sv->proc.pid, &moved) == 0) {
		sv_log("info", "live move: the old hull-vmm handed over while "
			       "no supervisor watched; taking the new one");
		sv->mover = NULL;
		move_done(sv, &moved);
		return;
	}
	write_lastexited(sv, status);
	/* A guest's reboot ends its emulator: start it again, running the
	 * boot loader again. A power-off leaves it stopped. */
	if (sv->vm.hvm && sv_vm_down(&sv->vm, sv->uuid, sv->loop, status) &&
	    sv->state == SV_RUNNING) {
		sv_log("info", "the guest rebooted");
		sv->state = SV_REBOOTING;
	}
	int64_t ooms = zone_cgroup_oom_kills(&sv->cg);
	if (ooms > sv->oom_seen)
		sv_log("warn",
		       "out of memory: %lld process(es) killed in the zone",
		       (long long)(ooms - sv->oom_seen));
	sv->oom_seen = ooms;
	if (WIFEXITED(status))
		sv_log("info", "init exited with status %d",
		       WEXITSTATUS(status));
	else
		sv_log("info", "init killed by signal %d", WTERMSIG(status));
	bool ran_long = mono_now() - sv->boot_mono >= QUICK_EXIT_S;
	sv_zone_down(sv);
	timer_disarm(sv);
	switch (sv->state) {
	case SV_STOPPING:
		sv_finish(sv, "stop requested");
		return;
	case SV_REBOOTING:
		sv_try_boot(sv);
		return;
	default:
		break;
	}
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		sv->failures++;
	if (!want_restart(sv, status)) {
		sv_finish(sv, "init exited");
		return;
	}
	sv->backoff_s = ran_long ? 0 : sv->backoff_s ? sv->backoff_s * 2 : 1;
	if (sv->backoff_s > BACKOFF_MAX_S)
		sv->backoff_s = BACKOFF_MAX_S;
	sv_log("info", "restarting init in %d s", sv->backoff_s);
	sv->state = SV_BACKOFF;
	timer_arm(sv, sv->backoff_s);
}

/* The signal init treats as "shut down cleanly". */
static int stop_signal(struct supervisor *sv)
{
	if (sv->cfg.docker)
		return SIGTERM;
	_cleanup_free_ char *p =
	    hull_root_path("%s/root%s", sv->uuid, sv->cfg.argv[0]);
	char link[256] = "";
	ssize_t n = readlink(p, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	const char *name = n > 0 ? link : sv->cfg.argv[0];
	if (strstr(name, "systemd"))
		return SIGRTMIN + 3;
	if (strstr(name, "busybox"))
		return SIGUSR2;
	return SIGTERM;
}

static void sv_stop_begin(struct supervisor *sv, enum sv_state next,
			  int timeout, bool force)
{
	if (sv->state == SV_BACKOFF || sv->state == SV_BOOTING) {
		timer_disarm(sv);
		/* The boot loader may run: a stop (forced or not) ends it at
		 * once; a reboot starts it again. */
		sv_vm_boot_cancel(&sv->vm);
		if (next == SV_REBOOTING) {
			sv_try_boot(sv);
		} else {
			sv_finish(sv, "stop requested");
		}
		return;
	}
	sv->state = next;
	if (force || timeout == 0) {
		kill(sv->proc.pid, SIGKILL);
		return;
	}
	if (sv->vm.hvm) {
		struct hull_err err = {0};
		sv_log("info", "stopping: power button, %d s to go", timeout);
		if (sv_vm_powerdown(&sv->vm, sv->uuid, &err) < 0)
			kill(sv->proc.pid, SIGKILL);
		else
			timer_arm(sv, timeout);
		return;
	}
	int sig = stop_signal(sv);
	sv_log("info", "stopping: signal %d to init, %d s to go", sig, timeout);
	kill(sv->proc.pid, sig);
	timer_arm(sv, timeout);
}

static void on_timer(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct supervisor *sv = data;
	uint64_t ticks;
	(void)!read(fd, &ticks, sizeof(ticks));
	if (sv->state == SV_BACKOFF) {
		sv_try_boot(sv);
	} else if ((sv->state == SV_STOPPING || sv->state == SV_REBOOTING) &&
		   sv->proc.pid > 0) {
		sv_log("info", "init did not stop in time: killing the zone");
		kill(sv->proc.pid, SIGKILL);
	}
}

static void on_signal(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct supervisor *sv = data;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
		if (sv->state == SV_RUNNING || sv->state == SV_BACKOFF ||
		    sv->state == SV_BOOTING)
			sv_stop_begin(sv, SV_STOPPING, 30, false);
		return;
	}
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		if (sv_vmmove_reaped(&sv->vm, pid, status))
			continue;
		if (pid == sv->proc.pid)
			on_init_exit(sv, status);
	}
}

/* ---- the holder -------------------------------------------------------- */

/* What a successor needs of us that the kernel does not keep: pushed
 * after each turn of the loop when it changed. */
static void state_push(struct supervisor *sv)
{
	char t[HOLDER_MSG_MAX];
	snprintf(t, sizeof(t),
		 "st=%d pid=%d restarts=%d failures=%d "
		 "backoff=%d boot=%s",
		 (int)sv->state, (int)sv->proc.pid, sv->restarts, sv->failures,
		 sv->backoff_s, *sv->boot_ts ? sv->boot_ts : "-");
	if (!strcmp(t, sv->pushed))
		return;
	memcpy(sv->pushed, t, sizeof(t));
	sv_holder_state(t);
}

/* The holder reaped a process: after an adoption, the instance's init or
 * emulator is its child, no longer ours. */
static void on_holder(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct supervisor *sv = data;
	pid_t pid;
	int status, r;
	while ((r = sv_holder_read(&pid, &status)) > 0)
		if (!sv_vmmove_reaped(&sv->vm, pid, status) &&
		    pid == sv->proc.pid)
			on_init_exit(sv, status);
	if (r == 0)
		return;
	/* Nothing can adopt the instance any more: stop it rather than
	 * leave it without a supervisor one day. */
	sv_loop_del(loop, fd);
	close(fd);
	sv_holder_attach(-1, false, NULL);
	if (sv->state == SV_DONE)
		return;
	sv_log("error", "the holder is gone: stopping the instance");
	timer_disarm(sv);
	sv_vm_boot_cancel(&sv->vm);
	if (sv->proc.pid > 0) {
		kill(sv->proc.pid, SIGKILL);
		sv_zone_down(sv);
	}
	sv_finish(sv, "the holder is gone");
}

/* ---- control ---------------------------------------------------------- */

static void do_status(struct supervisor *sv, struct sv_client *c)
{
	/* SV_BOOTING: an HVM instance's boot loader reads its disk; no
	 * process of the guest runs yet (illumos's "ready" zone). */
	const char *state = sv->state == SV_RUNNING	? "running"
			    : sv->state == SV_BOOTING	? "ready"
			    : sv->state == SV_STOPPING	? "stopping"
			    : sv->state == SV_REBOOTING ? "rebooting"
			    : sv->state == SV_BACKOFF	? "restarting"
							: "stopped";
	json_t *j = json_pack(
	    "{s:b, s:s, s:i, s:s, s:i, s:I, s:s}", "ok", 1, "state", state,
	    "supervisor_pid", (int)getpid(), "boot_timestamp", sv->boot_ts,
	    "restarts", sv->restarts, "oom_kills",
	    (json_int_t)zone_cgroup_oom_kills(&sv->cg), "cgroup", sv->cg.rel);
	if (sv->proc.pid > 0)
		json_object_set_new(j, "pid", json_integer(sv->proc.pid));
	json_object_set_new(j, "brand",
			    json_string(inst_brand_str(&sv->cfg.inst)));
	json_object_set_new(j, "docker", json_boolean(sv->cfg.docker));
	json_object_set_new(j, "sys_admin", json_boolean(sv->cfg.sys_admin));
	/* limit_priv's capabilities, for zlogin's processes (exec.c) */
	json_object_set_new(j, "cap_add",
			    json_integer((json_int_t)sv->cfg.privs.add));
	json_object_set_new(j, "cap_drop",
			    json_integer((json_int_t)sv->cfg.privs.drop));
	if (sv->cfg.userns)
		json_object_set_new(
		    j, "userns",
		    json_pack("{s:I, s:I, s:I}", "uid",
			      (json_int_t)sv->cfg.userns_uid, "gid",
			      (json_int_t)sv->cfg.userns_gid, "count",
			      (json_int_t)sv->cfg.userns_count));
	client_send(c, j);
}

/* ---- live migration (vm_migrate.h) ----------------------------------- */

/* The new QEMU runs the guest: it is the instance's emulator now. */
static void mig_switched(void *data, const struct sv_vm_mig_switch *s)
{
	struct supervisor *sv = data;
	struct hull_err err = {0};
	int old = sv->proc.console_fd;
	if (old >= 0) {
		/* all the source wrote (it has quit), then its end */
		while (console_relay(sv, old) > 0)
			;
		sv_loop_del(sv->loop, old);
		close(old);
	}
	sv->proc.pid = s->pid;
	sv->proc.console_fd = s->console_fd;
	fcntl(s->console_fd, F_SETFL, O_NONBLOCK);
	if (sv_loop_add(sv->loop, s->console_fd, EPOLLIN, on_console, sv,
			&err) < 0)
		sv_log("error", "live migration: console: %s", err.msg);
	sv_holder_drop("console");
	sv_holder_put("console", s->console_fd);
	sv_holder_drop("qmp");
	sv_holder_put("qmp", sv->vm.qmp_fd);
	write_init_record(sv);
}

static void mig_done(void *data, int r, json_t *result, struct hull_err *err)
{
	struct supervisor *sv = data;
	struct sv_client *c = sv->mig_client;
	sv->mig_client = NULL;
	if (!c)
		return;
	if (r < 0) {
		client_error(c, err->msg);
		return;
	}
	json_t *j = json_deep_copy(result);
	json_object_set_new(j, "ok", json_true());
	client_send(c, j);
}

static void do_migrate(struct supervisor *sv, struct sv_client *c,
		       const struct control_req *req)
{
	struct hull_err err = {0};
	if (sv->state != SV_RUNNING) {
		client_error(c, "VM is not running");
		return;
	}
	struct sv_vm_mig_opts o = {.downtime_ms = req->downtime_ms,
				   .auto_converge = req->auto_converge,
				   .max_bandwidth = req->max_bandwidth,
				   .max_passes = req->max_passes};
	struct sv_vm_mig_cb cb = {mig_switched, mig_done, sv};
	if (sv_vm_migrate_start(&sv->vm, &o, &cb, &err) < 0) {
		client_error(c, err.msg);
		return;
	}
	sv->mig_client = c;
}

/* ---- live move (bhyve) ------------------------------------------------ */

/* The move is over (vmmove.h): the new emulator is the instance's. */
static void move_done(void *data, struct sv_vmmove_result *res)
{
	struct supervisor *sv = data;
	struct sv_client *c = sv->mover;
	sv->mover = NULL;
	if (!res->moved) {
		sv_log("warn", "live move failed, the VM runs on: %s",
		       res->error);
		if (c) {
			_cleanup_free_ char *m =
			    xasprintf("live migration: %s", res->error);
			client_error(c, m);
		}
		if (res->old_ended)
			on_init_exit(sv, res->old_status);
		return;
	}
	/* what the old COM1 still holds goes to the log first */
	if (sv->proc.console_fd >= 0) {
		char buf[4096];
		ssize_t n;
		while ((n = read(sv->proc.console_fd, buf, sizeof(buf))) > 0) {
			console_log_write(sv, buf, (size_t)n);
			for (struct sv_client *k = sv->clients; k; k = k->next)
				if (k->console)
					(void)!send(k->fd, buf, (size_t)n,
						    MSG_NOSIGNAL |
							MSG_DONTWAIT);
		}
		sv_loop_del(sv->loop, sv->proc.console_fd);
		close(sv->proc.console_fd);
	}
	sv->proc.pid = res->pid;
	sv->proc.console_fd = res->console_fd;
	struct hull_err err = {0};
	if (sv->proc.console_fd >= 0) {
		fcntl(sv->proc.console_fd, F_SETFL, O_NONBLOCK);
		if (sv_loop_add(sv->loop, sv->proc.console_fd, EPOLLIN,
				on_console, sv, &err) < 0)
			sv_log("error", "console: %s", err.msg);
		sv_holder_put("console", sv->proc.console_fd);
	}
	write_init_record(sv);
	for (size_t i = 0; i < nhooks; i++)
		if (hooks[i]->emulator_moved)
			hooks[i]->emulator_moved(sv->loop, &sv->cfg,
						 sv->proc.pid);
	json_t *a = res->answer;
	sv_log(
	    "info",
	    "live move: hull-vmm pid %d took over (%lld passes, "
	    "downtime %lld us)",
	    (int)res->pid,
	    (long long)json_integer_value(json_object_get(a, "iterations")),
	    (long long)json_integer_value(json_object_get(a, "downtime_ns")) /
		1000);
	if (c) {
		json_t *j = json_deep_copy(a);
		json_object_set_new(j, "pid", json_integer(res->pid));
		client_send(c, j);
	}
}

static void do_move(struct supervisor *sv, struct sv_client *c,
		    const struct control_req *req)
{
	struct hull_err err = {0};
	if (sv->state != SV_RUNNING) {
		client_error(c, "live migration: the VM is not running");
		return;
	}
	struct sv_vmmove_opts o = {.downtime_ms = req->downtime_ms,
				   .auto_converge = req->auto_converge,
				   .bandwidth_mib = req->bandwidth_mib};
	if (sv_vmmove_start(&sv->vm, &o, move_done, sv, &err) < 0) {
		_cleanup_free_ char *m =
		    xasprintf("live migration: %s", err.msg);
		client_error(c, m);
		return;
	}
	sv->mover = c;
}

static void do_request(struct supervisor *sv, struct sv_client *c,
		       const char *line, size_t len)
{
	struct control_req req;
	struct hull_err err = {0};
	if (control_request_parse(line, len, &req, &err) < 0) {
		client_error(c, err.msg);
		return;
	}
	switch (req.cmd) {
	case CONTROL_STATUS:
		do_status(sv, c);
		break;
	case CONTROL_STOP:
	case CONTROL_REBOOT:
		c->waiting = true;
		if (sv->state == SV_STOPPING || sv->state == SV_REBOOTING) {
			if (req.force && sv->proc.pid > 0)
				kill(sv->proc.pid, SIGKILL);
			break; /* answered with the stop in progress */
		}
		sv_stop_begin(
		    sv, req.cmd == CONTROL_STOP ? SV_STOPPING : SV_REBOOTING,
		    req.timeout_s, req.force);
		break;
	case CONTROL_KILL:
		if (sv->proc.pid <= 0 || kill(sv->proc.pid, req.signo) < 0)
			client_error(c, "zone is not running");
		else
			client_send(c, json_pack("{s:b}", "ok", 1));
		break;
	case CONTROL_LISTENER:
		if (c->passed_fd < 0 || sv->cfg.brand != INST_BRAND_LX ||
		    sv_loop_add(sv->loop, c->passed_fd, EPOLLIN, on_uname, sv,
				&err) < 0) {
			client_error(
			    c, "listener: no descriptor or not an lx zone");
			break;
		}
		listener_keep(c->passed_fd);
		c->passed_fd = -1;
		client_send(c, json_pack("{s:b}", "ok", 1));
		break;
	case CONTROL_WINSIZE: {
		/* A zone's console is a pty: its size is the terminal's. A
		 * VM's COM1 is a socket, which has none (ENOTTY): the guest
		 * learns a size from its own `stty` or `resize`, so the
		 * request is harmless there and answers ok. */
		struct winsize ws = {.ws_row = req.rows, .ws_col = req.cols};
		if (sv->proc.console_fd >= 0 &&
		    ioctl(sv->proc.console_fd, TIOCSWINSZ, &ws) < 0 &&
		    errno != ENOTTY && errno != EINVAL) {
			client_error(c, strerror(errno));
			break;
		}
		client_send(c, json_pack("{s:b}", "ok", 1));
		break;
	}
	case CONTROL_MIGRATE:
		do_migrate(sv, c, &req);
		break;
	case CONTROL_UPDATE: {
		struct inst inst;
		if (sv->vm.hvm) {
			/* The hull's limits follow ram at the next boot. */
			client_send(c, json_pack("{s:b}", "ok", 1));
			break;
		}
		if (inst_load(sv->uuid, &inst, &err) < 0 ||
		    zone_cgroup_limits_apply(&sv->cg, &inst.limits, &err) < 0) {
			inst_fini(&inst);
			client_error(c, err.msg);
			break;
		}
		sv->cfg.limits = inst.limits;
		inst_fini(&inst);
		client_send(c, json_pack("{s:b}", "ok", 1));
		break;
	}
	case CONTROL_MOVE:
		do_move(sv, c, &req);
		break;
	}
}

static void on_control_client(struct sv_loop *loop, int fd, uint32_t events,
			      void *data)
{
	struct sv_client *c = data;
	struct supervisor *sv = sv_self;
	int pfd;
	size_t npfd;
	ssize_t n = hull_fd_recv(fd, c->buf + c->len, CONTROL_LINE_MAX - c->len,
				 &pfd, 1, &npfd);
	if (npfd) {
		if (c->passed_fd >= 0)
			close(c->passed_fd);
		c->passed_fd = pfd;
	}
	if (n <= 0) {
		if (n == -EAGAIN)
			return;
		client_close(sv, c);
		return;
	}
	c->len += (size_t)n;
	char *nl;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t l = (size_t)(nl - c->buf);
		do_request(sv, c, c->buf, l);
		memmove(c->buf, nl + 1, c->len - l - 1);
		c->len -= l + 1;
	}
	if (c->len == CONTROL_LINE_MAX) {
		client_error(c, "request too long");
		client_close(sv, c);
	}
}

static void on_accept(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct supervisor *sv = sv_self;
	bool console = data != NULL;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	struct sv_client *c = xcalloc(1, sizeof(*c));
	c->fd = cfd;
	c->passed_fd = -1;
	c->console = console;
	if (sv_loop_add(loop, cfd, EPOLLIN,
			console ? on_console_client : on_control_client, c,
			NULL) < 0) {
		close(cfd);
		free(c);
		return;
	}
	c->next = sv->clients;
	sv->clients = c;
	if (console) {
		/* A console session outlives us: its connection is kept. */
		snprintf(c->held, sizeof(c->held), "cc.%u", sv->client_seq++);
		sv_holder_put(c->held, cfd);
	}
}

/* ---- set-up and tear-down --------------------------------------------- */

/* A listening socket: the holder's (adopt), else a new one it keeps. */
static int sv_listen(const char *name, const char *path, struct hull_err *err)
{
	int fd = sv_holder_take(name);
	if (fd >= 0)
		return fd;
	if ((fd = sv_sock_listen(path, err)) >= 0)
		sv_holder_put(name, fd);
	return fd;
}

static int sv_setup(struct supervisor *sv, bool adopt, struct hull_err *err)
{
	int r;
	_cleanup_free_ char *inst = hull_root_path("%s", sv->uuid);
	if (!hull_is_dir(inst))
		return hull_err_set(err, ENOENT, "no such instance %s",
				    sv->uuid);
	sv->run_dir = hull_root_path("%s/run", sv->uuid);
	_cleanup_free_ char *logs = hull_root_path("%s/logs", sv->uuid);
	_cleanup_free_ char *zc = xasprintf("%s/zonecontrol", sv->run_dir);
	/* Closed to every host user but root on each start (root.h), not
	 * only at create: an instance an older hull made open is closed. */
	if ((r = hull_root_secure(err)) < 0 ||
	    (r = hull_instance_secure(sv->uuid, err)) < 0 ||
	    (r = hull_mkdir_p(zc, 0755, err)) < 0)
		return r;
	sv->log_path = xasprintf("%s/console.log", logs);
	_cleanup_free_ char *pidf = xasprintf("%s/supervisor.pid", sv->run_dir);
	if (adopt) {
		/* The holder kept the lock's open file: it is ours. */
		sv->lock_fd = sv_holder_take("lock");
		if (sv->lock_fd < 0)
			return hull_err_set(err, ENOENT,
					    "adopt: the holder has no lock");
		sv->owns_run = true;
	} else {
		/* A predecessor that exited tore its network down and
		 * removed this file (so does vmadm's cleanup after a killed
		 * one); only a killed supervisor or a host that lost power
		 * leaves it, and with it perhaps antispoof chains. */
		bool stale = access(pidf, F_OK) == 0;
		sv->lock_fd = open(pidf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (sv->lock_fd < 0)
			return hull_err_sys(err, errno, "open %s", pidf);
		if (flock(sv->lock_fd, LOCK_EX | LOCK_NB) < 0)
			return hull_err_set(
			    err, EBUSY, "zone %s is already running", sv->uuid);
		sv->owns_run = true;
		/* The holder keeps the same open file, so the lock stays
		 * held while no supervisor runs between two. */
		sv_holder_put("lock", sv->lock_fd);
		/* What a killed predecessor left: processes in the cgroup,
		 * stale sockets (the emptied tree is kept for this boot). */
		if ((r = zone_cleanup_keep_cgroup(sv->uuid, stale, err)) < 0)
			return r;
		_cleanup_free_ char *hp =
		    xasprintf("%s/holder.pid", sv->run_dir);
		char hb[32];
		int hn = snprintf(hb, sizeof(hb), "%d\n", (int)getppid());
		/* Not synced: it names this boot's holder only. */
		if (sv_holder_active() &&
		    hull_file_replace(hp, hb, (size_t)hn, 0600, err) < 0)
			return -err->code;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	/* Written over the old pid, then cut to length: a reader never
	 * sees an empty file (an adopter replaces its predecessor's pid
	 * while vmadm may read it). */
	if (pwrite(sv->lock_fd, buf, (size_t)n, 0) != n ||
	    ftruncate(sv->lock_fd, n) < 0)
		return hull_err_sys(err, errno, "write %s", pidf);
	console_log_open(sv);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sv->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	sv->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sv->sig_fd < 0 || sv->timer_fd < 0)
		return hull_err_sys(err, errno, "signalfd/timerfd");
	if (!(sv->loop = sv_loop_new(err)))
		return -err->code;
	_cleanup_free_ char *ctl = xasprintf("%s/control.sock", sv->run_dir);
	_cleanup_free_ char *con = xasprintf("%s/console.sock", sv->run_dir);
	if ((sv->ctl_fd = sv_listen("ctl", ctl, err)) < 0 ||
	    (sv->con_fd = sv_listen("con", con, err)) < 0)
		return -err->code;
	if (sv_holder_active() &&
	    (r = sv_loop_add(sv->loop, sv_holder_fd(), EPOLLIN, on_holder, sv,
			     err)) < 0)
		return r;
	if ((r = sv_loop_add(sv->loop, sv->sig_fd, EPOLLIN, on_signal, sv,
			     err)) < 0 ||
	    (r = sv_loop_add(sv->loop, sv->timer_fd, EPOLLIN, on_timer, sv,
			     err)) < 0 ||
	    (r = sv_loop_add(sv->loop, sv->ctl_fd, EPOLLIN, on_accept, NULL,
			     err)) < 0 ||
	    (r = sv_loop_add(sv->loop, sv->con_fd, EPOLLIN, on_accept, sv,
			     err)) < 0)
		return r;
	return 0;
}

static void sv_teardown(struct supervisor *sv)
{
	struct hull_err err = {0};
	sv_vm_boot_cancel(&sv->vm);
	/* Reached with the report still owed only when a stop (vmadm stop,
	 * SIGTERM) ended the first boot, e.g. while its boot loader ran. */
	ready_report(&sv->ready_fd, "stopped by a stop request before it "
				    "booted");
	if (sv->proc.pid > 0) {
		kill(sv->proc.pid, SIGKILL);
		waitpid(sv->proc.pid, NULL, 0);
		sv_zone_down(sv);
	}
	/* A zone that ran keeps its cgroup tree, empty, for its next start
	 * (its limits are written again then; vmadm delete removes it). A
	 * start that failed leaves nothing; an HVM instance's tree goes. */
	bool keep = sv->booted && !sv->vm.hvm;
	if (sv->cg.rel && (keep ? zone_cgroup_empty(&sv->cg, &err)
				: zone_cgroup_destroy(&sv->cg, &err)) < 0)
		sv_log("error", "%s", err.msg);
	if (sv->owns_run) {
		_cleanup_free_ char *ctl =
		    xasprintf("%s/control.sock", sv->run_dir);
		_cleanup_free_ char *con =
		    xasprintf("%s/console.sock", sv->run_dir);
		_cleanup_free_ char *pidf =
		    xasprintf("%s/supervisor.pid", sv->run_dir);
		unlink(ctl);
		unlink(con);
		_cleanup_free_ char *md =
		    xasprintf("%s/zonecontrol/metadata.sock", sv->run_dir);
		unlink(md);
		_cleanup_free_ char *holder =
		    xasprintf("%s/holder.pid", sv->run_dir);
		if (sv->lock_fd >= 0 &&
		    flock(sv->lock_fd, LOCK_EX | LOCK_NB) == 0) {
			unlink(pidf);
			unlink(holder);
		}
	}
	/* Answer stop requests only now: the cgroup is gone. */
	clients_answer_waiting(sv, NULL);
	while (sv->clients)
		client_close(sv, sv->clients);
	sv_loop_free(sv->loop);
	for (int *fd = &sv->sig_fd; fd <= &sv->lock_fd; fd++)
		if (*fd >= 0)
			close(*fd);
	zone_cgroup_fini(&sv->cg);
	zone_config_fini(&sv->cfg);
	free(sv->run_dir);
	free(sv->log_path);
}

/* The instance as the holder kept it: init (or the emulator) runs, or
 * ran when our predecessor died (its exit then comes in the replay). */
static int sv_adopt(struct supervisor *sv, struct inst *inst,
		    struct hull_err *err)
{
	int st = SV_DONE, pid = -1, r;
	char boot[32] = "";
	if (sscanf(sv_holder_replayed_state(),
		   "st=%d pid=%d restarts=%d failures=%d backoff=%d boot=%31s",
		   &st, &pid, &sv->restarts, &sv->failures, &sv->backoff_s,
		   boot) != 6)
		st = SV_BOOTING, pid = -1; /* died before it said anything */
	if (strcmp(boot, "-"))
		snprintf(sv->boot_ts, sizeof(sv->boot_ts), "%s", boot);
	sv->boot_mono = mono_now();
	if (sv->vm.hvm) {
		zone_config_fini(&sv->cfg);
		sv->cfg.inst = *inst;
		memset(inst, 0, sizeof(*inst));
		snprintf(sv->cfg.uuid, sizeof(sv->cfg.uuid), "%s", sv->uuid);
		sv->cfg.restart = ZONE_RESTART_NEVER;
	} else if ((r = zone_config_from_inst(inst, &sv->cfg, err)) < 0) {
		return r;
	}
	/* Console sessions attached to our predecessor go on with us. */
	char name[HOLDER_NAME_MAX];
	int fd;
	while ((fd = sv_holder_take_prefix("cc.", name, sizeof(name))) >= 0) {
		struct sv_client *c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->passed_fd = -1;
		c->console = true;
		snprintf(c->held, sizeof(c->held), "%s", name);
		if (sv_loop_add(sv->loop, fd, EPOLLIN, on_console_client, c,
				NULL) < 0) {
			sv_holder_drop(name);
			close(fd);
			free(c);
			continue;
		}
		c->next = sv->clients;
		sv->clients = c;
	}
	while ((fd = sv_holder_take_prefix("ls.", name, sizeof(name))) >= 0) {
		sv_holder_drop(name);
		if (sv_loop_add(sv->loop, fd, EPOLLIN, on_uname, sv, NULL) <
		    0) {
			close(fd);
			continue;
		}
		listener_keep(fd);
	}
	sv->proc.console_fd = sv_holder_take("console");
	sv->proc.console_hold_fd = sv_holder_take("console_hold");
	sv->proc.notify_fd = sv_holder_take("notify");
	int qmp = sv_holder_take("qmp");
	if (pid <= 0 || sv->proc.console_fd < 0) {
		/* Between two boots, or in the middle of one: whatever a
		 * half-done boot left in the cgroup goes, then the instance
		 * goes on where it was headed. */
		zone_proc_close(&sv->proc);
		if (qmp >= 0)
			close(qmp);
		if (pid > 0)
			kill(pid, SIGKILL);
		if ((r = zone_cgroup_kill(&sv->cg, 5000, err)) < 0)
			return r;
		sv_log("info", "adopted an instance that was not running");
		if (st == SV_STOPPING || st == SV_DONE)
			sv_finish(sv, "stop requested");
		else
			sv_try_boot(sv);
		return 0;
	}
	sv->proc.pid = pid;
	if (sv->vm.hvm && (r = sv_vm_adopt(&sv->vm, &sv->cfg.inst, &sv->cg,
					   sv->loop, &sv->proc, qmp, err)) < 0)
		return r;
	if ((r = sv_watch(sv, err)) < 0 || (r = hooks_started(sv, err)) < 0)
		return r;
	sv->state = SV_RUNNING;
	sv_log("info", "adopted the running instance: init is pid %d",
	       (int)pid);
	if (st == SV_STOPPING || st == SV_REBOOTING) {
		/* A stop or reboot was under way: it ends, forced. */
		sv->state = (enum sv_state)st;
		kill(pid, SIGKILL);
	}
	pid_t xp;
	int status;
	while (sv_holder_replayed_exit(&xp, &status))
		if (xp == sv->proc.pid)
			on_init_exit(sv, status);
	return 0;
}

int supervisor_run(const char *uuid, int ready_fd, int holder_fd, bool adopt)
{
	struct supervisor sv;
	memset(&sv, 0, sizeof(sv));
	sv.sig_fd = sv.timer_fd = sv.ctl_fd = sv.con_fd = sv.log_fd =
	    sv.lock_fd = -1;
	sv.proc.pid = -1;
	sv.proc.console_fd = sv.proc.notify_fd = sv.proc.console_hold_fd = -1;
	sv.vm.qmp_fd = -1;
	sv.vm.loader_timer = -1;
	sv.ready_fd = -1;
	sv_self = &sv;
	snprintf(sv.uuid, sizeof(sv.uuid), "%s", uuid);
	sv_log_init(uuid);
	struct hull_err err = {0};
	int rc = 0;
	if (holder_fd >= 0 && sv_holder_attach(holder_fd, adopt, &err) < 0) {
		sv_log("error", "%s", err.msg);
		return 1; /* the holder starts another */
	}
	if (sv_setup(&sv, adopt, &err) < 0) {
		sv_log("error", "start: %s", err.msg);
		ready_report(&ready_fd, err.msg);
		sv_teardown(&sv);
		sv_holder_quit();
		return 1;
	}
	zone_cgroup_init(&sv.cg, uuid);
	sv.ready_fd = ready_fd;
	struct inst inst;
	int r = inst_load(uuid, &inst, &err);
	if (r == 0) {
		sv_vm_init(&sv.vm, &inst);
		r = adopt ? sv_adopt(&sv, &inst, &err)
			  : sv_boot(&sv, &inst, &err);
		inst_fini(&inst);
	}
	if (r < 0) {
		sv_log("error", "%s: %s", adopt ? "adopt" : "start", err.msg);
		ready_report(&sv.ready_fd, err.msg);
		sv_teardown(&sv);
		sv_holder_quit();
		return 1;
	}
	if (r == 0)
		ready_report(&sv.ready_fd, "OK");
	state_push(&sv);
	while (sv.state != SV_DONE) {
		int n = sv_loop_run_once(sv.loop, -1);
		if (n < 0) {
			sv_log("error", "event loop: %s", strerror(-n));
			ready_report(&sv.ready_fd, "supervisor: event loop "
						   "failed");
			rc = 1;
			break;
		}
		state_push(&sv);
	}
	sv_teardown(&sv);
	sv_log("info", "supervisor exits");
	sv_holder_quit();
	return rc ? rc : sv.rc;
}
