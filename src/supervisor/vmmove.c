/*
 * vmmove.c - the live move of a bhyve VM to a fresh hull-vmm (vmmove.h).
 */
#include "supervisor/vmmove.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvm/com2.h"
#include "hvm/hullrec.h"
#include "hvm/probe.h"
#include "hvm/qemu.h"
#include "hvm/vmm.h"
#include "hvm/vmmzone.h"
#include "lib/fdpass.h"
#include "lib/prog.h"
#include "lib/root.h"
#include "lib/strv.h"
#include "lib/xalloc.h"
#include "supervisor/log.h"

struct sv_vmmove {
	struct sv_vm *vm;
	pid_t new_pid, old_pid;
	bool new_ended; /* the new emulator was reaped */
	bool answered;	/* done() was called */
	bool moved;	/* ... and the VM moved */
	bool old_ended; /* the old emulator was reaped */
	int old_status; /* ... with this status */
	int ctl_fd;	/* the old emulator's control connection, or -1 */
	void (*done)(void *data, struct sv_vmmove_result *res);
	void *data;
	size_t len;
	char buf[4096];
};

/* The sockets hull-vmm listens on (hvm/vmm.h), moved over the old ones. */
static const char *const socks[] = {HVM_QEMU_CONSOLE_SOCK, HVM_QEMU_COM2_SOCK,
				    HVM_VMM_CONTROL_SOCK};

static char *run_path(const struct sv_vm *vm, const char *name)
{
	return hull_root_path("%s/run/" SV_VM_RUN_SUBDIR "%s%s", vm->uuid,
			      name ? "/" : "", name ? name : "");
}

/* run/vm/move and what is in it. */
static void move_dir_remove(const struct sv_vm *vm)
{
	for (size_t i = 0; i < sizeof(socks) / sizeof(*socks); i++) {
		_cleanup_free_ char *p = hull_root_path(
		    "%s/run/" SV_VM_RUN_SUBDIR "/" SV_VMMOVE_SUBDIR "/%s",
		    vm->uuid, socks[i]);
		unlink(p);
	}
	_cleanup_free_ char *d = run_path(vm, SV_VMMOVE_SUBDIR);
	rmdir(d);
}

/* The cgroup's limits as for one emulator again. */
static void limit_restore(struct sv_vm *vm)
{
	struct hvm_hull hh = {0};
	struct hull_err err = {0};
	if (hvm_hull_from_inst(vm->inst, &hh, &err) < 0 ||
	    hvm_hull_cgroup_setup(&hh, vm->cg, &err) < 0)
		sv_log("warn", "live move: memory limit: %s", err.msg);
}

static void move_free(struct sv_vm *vm)
{
	struct sv_vmmove *m = vm->move;
	if (!m)
		return;
	if (m->ctl_fd >= 0) {
		sv_loop_del(vm->loop, m->ctl_fd);
		close(m->ctl_fd);
	}
	free(m);
	vm->move = NULL;
}

/* Both the answer and the emulator that lost are in: the move is over. */
static void move_maybe_end(struct sv_vm *vm)
{
	struct sv_vmmove *m = vm->move;
	if (!m->answered || !(m->moved ? m->old_ended : m->new_ended))
		return;
	limit_restore(vm);
	move_free(vm);
}

/* The new hull-vmm's sockets replace the old one's in run/vm/; its COM1
 * connected. */
static int take_over(struct sv_vm *vm, int *console, struct hull_err *err)
{
	_cleanup_free_ char *con = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" SV_VMMOVE_SUBDIR "/%s", vm->uuid,
	    HVM_QEMU_CONSOLE_SOCK);
	*console = hvm_com2_connect(con, 10000, err);
	if (*console < 0)
		return hull_err_prefix(err, "console");
	for (size_t i = 0; i < sizeof(socks) / sizeof(*socks); i++) {
		_cleanup_free_ char *from = hull_root_path(
		    "%s/run/" SV_VM_RUN_SUBDIR "/" SV_VMMOVE_SUBDIR "/%s",
		    vm->uuid, socks[i]);
		_cleanup_free_ char *to = run_path(vm, socks[i]);
		if (rename(from, to) < 0)
			sv_log("warn", "live move: %s: %s", from,
			       strerror(errno));
	}
	move_dir_remove(vm);
	return 0;
}

/* hull-vmm's answer (one line), or its end without one (line NULL). */
static void answer(struct sv_vm *vm, const char *line, size_t len)
{
	struct sv_vmmove *m = vm->move;
	struct sv_vmmove_result res = {.console_fd = -1};
	struct hull_err err = {0};
	json_t *j = line ? json_loadb(line, len, 0, NULL) : NULL;
	const char *state = json_string_value(json_object_get(j, "state"));
	const char *why = json_string_value(json_object_get(j, "error"));
	sv_loop_del(vm->loop, m->ctl_fd);
	close(m->ctl_fd);
	m->ctl_fd = -1;
	m->answered = true;
	res.answer = j;
	if (json_is_true(json_object_get(j, "ok")) && state &&
	    !strcmp(state, "migrated")) {
		if (take_over(vm, &res.console_fd, &err) < 0)
			sv_log("error", "live move: the VM moved, but %s",
			       err.msg);
		m->moved = true;
		res.moved = true;
		res.pid = m->new_pid;
	} else {
		if (!line)
			why = "the emulator ended without an answer";
		else if (!why)
			why = "the emulator's answer is not one";
		res.error = why;
		res.old_ended = m->old_ended;
		res.old_status = m->old_status;
		if (!m->new_ended)
			kill(m->new_pid, SIGKILL);
		move_dir_remove(vm);
	}
	m->done(m->data, &res);
	json_decref(j);
	if (vm->move)
		move_maybe_end(vm);
}

static void on_answer(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vm *vm = data;
	struct sv_vmmove *m = vm->move;
	ssize_t n = read(fd, m->buf + m->len, sizeof(m->buf) - m->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		m->len += (size_t)n;
	char *nl = memchr(m->buf, '\n', m->len);
	if (nl)
		answer(vm, m->buf, (size_t)(nl - m->buf));
	else if (n <= 0 || m->len == sizeof(m->buf))
		answer(vm, NULL, 0);
}

/* hvm_vmm_argv's argv for the incoming side: no kernel to boot, the
 * sockets in move/, the stream on fd. */
static char **incoming_argv(struct sv_vm *vm, const char *bin, int fd,
			    struct hull_err *err)
{
	_cleanup_free_ char *dir = run_path(vm, SV_VMMOVE_SUBDIR);
	bool kvm = hvm_kvm_full() || getenv("HULL_TEST_KVM_SMALL") != NULL;
	struct hvm_vmm_host h = {.kvm = kvm,
				 .vmm = bin,
				 .run_dir = dir,
				 .kernel = "-",
				 .tap_fds = vm->taps,
				 .ntap_fds = vm->ntaps};
	char **argv = hvm_vmm_argv(vm->inst, &h, err);
	if (!argv)
		return NULL;
	struct hull_strv v = {0};
	for (char **a = argv; *a; a++) {
		if (a[1] &&
		    (!strcmp(*a, "--kernel") || !strcmp(*a, "--initrd") ||
		     !strcmp(*a, "--cmdline"))) {
			a++;
			continue;
		}
		hull_strv_add(&v, *a);
	}
	hull_strv_free(argv);
	hull_strv_add(&v, "--incoming");
	hull_strv_push(&v, xasprintf("fd=%d", fd));
	return hull_strv_steal(&v);
}

/* The new hull-vmm in its hull, waiting on fd. */
static int start_target(struct sv_vm *vm, int fd, pid_t *pid,
			struct hull_err *err)
{
	static char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
	static const char *const vmm_libs[] = {HVM_HULL_VMM_DLOPEN};
	_cleanup_free_ char *bin = hull_helper_find(HVM_VMM_BIN);
	if (!bin)
		return hull_err_set(err, ENOENT, "hull-vmm is not installed");
	_cleanup_free_ char *run = run_path(vm, NULL);
	_cleanup_free_ char *dir = run_path(vm, SV_VMMOVE_SUBDIR);
	_cleanup_free_ char *root = hull_root_path("%s/root", vm->uuid);
	struct hvm_hull hh = {0};
	int r;
	if ((r = hvm_hull_from_inst(vm->inst, &hh, err)) < 0)
		return r;
	move_dir_remove(vm);
	if (mkdir(dir, 0700) < 0 || chown(dir, hh.uid, hh.gid) < 0)
		return hull_err_sys(err, errno, "%s", dir);
	char **argv = incoming_argv(vm, bin, fd, err);
	if (!argv) {
		move_dir_remove(vm);
		return -err->code;
	}
	int keep[NET_MAX_NICS + 1];
	memcpy(keep, vm->taps, vm->ntaps * sizeof(int));
	keep[vm->ntaps] = fd;
	hh.argv = argv;
	hh.envp = envp;
	hh.root = root;
	hh.run_dir = run;
	hh.keep_fds = keep;
	hh.nkeep_fds = vm->ntaps + 1;
	hh.dlopen_libs = vmm_libs;
	hh.ndlopen = 1;
	/* Both copies of the guest's memory live in the cgroup until the
	 * old one ends: room for two meanwhile (limit_restore). */
	hh.ram_mib *= 2;
	r = hvm_hull_start(&hh, vm->cg, pid, err);
	hull_strv_free(argv);
	if (r < 0) {
		move_dir_remove(vm);
		limit_restore(vm);
	}
	return r;
}

/* "migrate" on the old hull-vmm's control socket, with the stream's end
 * attached; returns the connection its answer comes on. */
static int ask_migrate(struct sv_vm *vm, const struct sv_vmmove_opts *o,
		       int stream, struct hull_err *err)
{
	_cleanup_free_ char *p = run_path(vm, HVM_VMM_CONTROL_SOCK);
	int fd = hvm_com2_connect(p, 1000, err);
	if (fd < 0)
		return hull_err_prefix(err, "control socket");
	json_t *req = json_pack("{s:s}", "command", "migrate");
	if (o->downtime_ms > 0)
		json_object_set_new(req, "downtime_ms",
				    json_integer(o->downtime_ms));
	if (o->auto_converge)
		json_object_set_new(req, "auto_converge", json_true());
	if (o->bandwidth_mib > 0)
		json_object_set_new(
		    req, "bandwidth",
		    json_integer((json_int_t)o->bandwidth_mib << 20));
	char *line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	size_t len = strlen(line);
	line[len] = '\n';
	int r = hull_fd_send(fd, line, len + 1, &stream, 1);
	free(line);
	if (r < 0) {
		close(fd);
		return hull_err_sys(err, -r, "%s", p);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

int sv_vmmove_start(struct sv_vm *vm, const struct sv_vmmove_opts *o,
		    void (*done)(void *data, struct sv_vmmove_result *res),
		    void *data, struct hull_err *err)
{
	if (!vm->hvm || vm->kvm_brand)
		return hull_err_set(err, ENOTSUP,
				    "a live move is for bhyve VMs (hull-vmm)");
	if (vm->move)
		return hull_err_set(err, EBUSY, "a live move is under way");
	if (!vm->proc || vm->proc->pid <= 0 || !vm->inst)
		return hull_err_set(err, EINVAL, "the VM is not running");
	if (vm->ntaps != vm->inst->net->nnics)
		return hull_err_set(err, EINVAL,
				    "the VM's taps were not kept at its boot "
				    "(started by an older hull): stop and "
				    "start it first");
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return hull_err_sys(err, errno, "socketpair");
	pid_t pid = -1;
	int r = start_target(vm, sp[1], &pid, err);
	close(sp[1]);
	if (r < 0) {
		close(sp[0]);
		return hull_err_prefix(err, "new hull-vmm");
	}
	int ctl = ask_migrate(vm, o, sp[0], err);
	close(sp[0]);
	struct sv_vmmove *m = xcalloc(1, sizeof(*m));
	m->vm = vm;
	m->new_pid = pid;
	m->old_pid = vm->proc->pid;
	m->ctl_fd = -1;
	m->done = done;
	m->data = data;
	vm->move = m;
	if (ctl < 0 ||
	    (r = sv_loop_add(vm->loop, ctl, EPOLLIN, on_answer, vm, err)) < 0) {
		if (ctl >= 0)
			close(ctl);
		/* the new one gets no stream and ends; reaped as the
		 * move's, then the limit goes back */
		kill(pid, SIGKILL);
		m->answered = true;
		return -err->code;
	}
	m->ctl_fd = ctl;
	sv_log("info", "live move: new hull-vmm pid %d, migrating from %d",
	       (int)pid, (int)m->old_pid);
	return 0;
}

bool sv_vmmove_reaped(struct sv_vm *vm, pid_t pid, int status)
{
	struct sv_vmmove *m = vm->move;
	if (!m)
		return false;
	if (pid == m->new_pid && !m->moved) {
		m->new_ended = true;
		if (WIFEXITED(status))
			sv_log("info",
			       "live move: the new hull-vmm exited "
			       "with status %d",
			       WEXITSTATUS(status));
		else
			sv_log("info",
			       "live move: the new hull-vmm killed "
			       "by signal %d",
			       WTERMSIG(status));
		move_maybe_end(vm);
		return true;
	}
	if (pid == m->old_pid && (!m->answered || m->moved)) {
		m->old_ended = true;
		m->old_status = status;
		if (m->moved)
			sv_log("info",
			       "live move: the old hull-vmm ended "
			       "(status %d)",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		move_maybe_end(vm);
		return true;
	}
	return false;
}

/* A hull-vmm in the instance's cgroup other than old, started for a
 * move (--incoming), or -1. */
static pid_t find_target(const struct sv_vm *vm, pid_t old)
{
	for (size_t i = 0; i < vm->cg->ndirs; i++) {
		_cleanup_free_ char *p =
		    xasprintf("%s/cgroup.procs", vm->cg->payload[i]);
		FILE *f = fopen(p, "re");
		if (!f)
			continue;
		int pid;
		while (fscanf(f, "%d", &pid) == 1) {
			if (pid == old)
				continue;
			char cmd[4096];
			_cleanup_free_ char *c =
			    xasprintf("/proc/%d/cmdline", pid);
			int fd = open(c, O_RDONLY | O_CLOEXEC);
			ssize_t n =
			    fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (n <= 0)
				continue;
			cmd[n] = '\0';
			const char *base = strrchr(cmd, '/');
			bool vmm = !strcmp(base ? base + 1 : cmd, HVM_VMM_BIN);
			bool incoming = memmem(cmd, (size_t)n, "\0--incoming\0",
					       12) != NULL;
			if (vmm && incoming) {
				fclose(f);
				return pid;
			}
		}
		fclose(f);
	}
	return -1;
}

int sv_vmmove_recover(struct sv_vm *vm, pid_t old, struct sv_vmmove_result *res)
{
	memset(res, 0, sizeof(*res));
	res->console_fd = -1;
	if (!vm->hvm || vm->kvm_brand || vm->move || !vm->cg)
		return -ENOENT;
	_cleanup_free_ char *dir = run_path(vm, SV_VMMOVE_SUBDIR);
	struct stat st;
	if (stat(dir, &st) < 0)
		return -ENOENT;
	pid_t pid = find_target(vm, old);
	if (pid < 0)
		return -ENOENT;
	struct hull_err err = {0};
	if (take_over(vm, &res->console_fd, &err) < 0)
		sv_log("error", "live move: the VM moved, but %s", err.msg);
	limit_restore(vm);
	res->moved = true;
	res->pid = pid;
	return 0;
}

void sv_vmmove_cancel(struct sv_vm *vm)
{
	if (vm->move)
		move_dir_remove(vm);
	move_free(vm);
}
