/*
 * vm.c - the supervisor's HVM variant (see vm.h).
 */
#include "supervisor/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hull/snapshot.h"
#include "hvm/bootdisk.h"
#include "hvm/com2.h"
#include "hvm/hullrec.h"
#include "hvm/loader.h"
#include "hvm/probe.h"
#include "hvm/qemu.h"
#include "hvm/qemustate.h"
#include "hvm/qmp.h"
#include "hvm/vmm.h"
#include "hvm/vmmzone.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/prog.h"
#include "lib/root.h"
#include "lib/strv.h"
#include "lib/xalloc.h"
#include "net/instance.h"
#include "net/nic.h"
#include "supervisor/holder.h"
#include "supervisor/log.h"
#include "supervisor/vm_migrate.h"
#include "supervisor/vnc.h"

/* What QEMU reads besides its argv: firmware and option ROMs (SeaBIOS
 * runs even for a direct kernel boot, linuxboot_dma.bin loads the
 * kernel). Bound read-only into the hull where they exist. */
static const char *const qemu_data[] = {"/usr/share/qemu", "/usr/share/seabios",
					"/usr/lib/ipxe/qemu", "/usr/share/OVMF",
					NULL};
/* Debian builds TCG as a module QEMU loads by path (brought in like a
 * dlopen()ed library: executable, with its closure). */
#define QEMU_TCG_MODULE "/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so"
/* Loading a memory snapshot into QEMU: a few seconds for a small guest
 * under TCG; the bound is for a large one on a slow disk. */
#define SV_VM_RESUME_TIMEOUT_MS 120000

void sv_vm_init(struct sv_vm *vm, const struct inst *inst)
{
	memset(vm, 0, sizeof(*vm));
	vm->qmp_fd = -1;
	vm->loader_timer = -1;
	vm->hvm = inst_is_hvm(inst);
	vm->kvm_brand = inst->brand == INST_BRAND_KVM;
	for (size_t i = 0; i < NET_MAX_NICS; i++)
		vm->taps[i] = -1;
}

/* bhyve: the taps kept for a live move (vm.h), closed and dropped from
 * the holder. */
static void taps_forget(struct sv_vm *vm)
{
	for (size_t i = 0; i < NET_MAX_NICS; i++) {
		if (vm->taps[i] < 0)
			continue;
		char name[32];
		snprintf(name, sizeof(name), "tap.%zu", i);
		sv_holder_drop(name);
		close(vm->taps[i]);
		vm->taps[i] = -1;
	}
	vm->ntaps = 0;
}

static void taps_keep(struct sv_vm *vm, int *taps, size_t n)
{
	taps_forget(vm);
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "tap.%zu", i);
		vm->taps[i] = taps[i];
		taps[i] = -1;
		sv_holder_put(name, vm->taps[i]);
	}
	vm->ntaps = n;
}

/* The disk the boot loader reads: the one marked boot, else the first. */
static const char *boot_disk(const struct inst *inst)
{
	for (size_t i = 0; i < inst->ndisks; i++)
		if (inst->disks[i].boot)
			return inst->disks[i].path;
	return inst->ndisks ? inst->disks[0].path : NULL;
}

static bool is_prog(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* An absolute path for the emulator: hull's own where hull_helper_find
 * finds it (the build tree or the install's libexecdir), else in PATH. */
static char *find_prog(const char *name)
{
	char *own = hull_helper_find(name);
	if (own)
		return own;
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy =
	    xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		char *c = xasprintf("%s/%s", d, name);
		if (*d == '/' && is_prog(c))
			return c;
		free(c);
	}
	return NULL;
}

static void qmp_send(struct sv_vm *vm, const char *cmd)
{
	char line[96];
	int n = snprintf(line, sizeof(line), "{\"execute\": \"%s\"}\n", cmd);
	if (vm->qmp_fd >= 0)
		(void)!send(vm->qmp_fd, line, (size_t)n,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
}

int sv_vm_qmp_event(const char *line, size_t len)
{
	json_t *name = NULL;
	if (hvm_qmp_reply_parse(line, len, &name, NULL) != HVM_QMP_EVENT) {
		json_decref(name);
		return SV_VM_EV_OTHER;
	}
	bool shutdown = !strcmp(json_string_value(name), "SHUTDOWN");
	json_decref(name);
	if (!shutdown)
		return SV_VM_EV_OTHER;
	/* The line parsed as QMP above, so it is one bounded JSON object. */
	json_t *o = json_loadb(line, len, 0, NULL);
	const char *reason =
	    hull_json_str(json_object_get(o, "data"), "reason", "");
	/* guest-reset, or host-qmp-system-reset: a reboot either way */
	int r = strstr(reason, "reset") ? SV_VM_EV_RESET : SV_VM_EV_SHUTDOWN;
	json_decref(o);
	return r;
}

/* One line from QEMU: a SHUTDOWN event whose reason is a reset is a
 * reboot (QEMU runs with -no-reboot). */
static void qmp_line(struct sv_vm *vm, const char *line, size_t len)
{
	int ev = sv_vm_qmp_event(line, len);
	if (ev == SV_VM_EV_OTHER)
		return;
	vm->reset = ev == SV_VM_EV_RESET;
	sv_log("info", "guest %s", vm->reset ? "reboots" : "shut down");
}

/* Reads what QMP has; false at its end. */
static bool qmp_read(struct sv_vm *vm)
{
	for (;;) {
		ssize_t n = read(vm->qmp_fd, vm->qbuf + vm->qlen,
				 sizeof(vm->qbuf) - vm->qlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		vm->qlen += (size_t)n;
		char *nl;
		while ((nl = memchr(vm->qbuf, '\n', vm->qlen))) {
			size_t l = (size_t)(nl - vm->qbuf);
			qmp_line(vm, vm->qbuf, l);
			memmove(vm->qbuf, nl + 1, vm->qlen - l - 1);
			vm->qlen -= l + 1;
		}
		if (vm->qlen == sizeof(vm->qbuf))
			vm->qlen = 0; /* a line too long for us: dropped */
	}
}

static void on_qmp(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vm *vm = data;
	if (!qmp_read(vm))
		sv_loop_del(loop, fd);
}

/* The relay (vnc.h): it listens at once and sets the password over QMP
 * without waiting for QEMU, which meanwhile lets no client in; a client
 * that comes before QEMU listens waits for it. The boot does not wait
 * for QEMU's VNC (some 200 ms under TCG). */
static void vnc_setup(struct sv_vm *vm, const char *uuid, const char *run,
		      struct sv_loop *loop)
{
	_cleanup_free_ char *sock = xasprintf("%s/%s", run, HVM_QEMU_VNC_SOCK);
	_cleanup_free_ char *qmp = xasprintf("%s/%s", run, HVM_QEMU_QMPC_SOCK);
	struct hull_err err = {0};
	vm->vnc =
	    sv_vnc_start(loop, uuid, sock, qmp, (int)vm->inst->vm.vnc_port,
			 vm->inst->vm.vnc_password, &err);
	if (!vm->vnc)
		sv_log("warn", "vnc: no relay: %s", err.msg);
}

static void taps_close(int *taps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (taps[i] >= 0)
			close(taps[i]);
}

static int boot_rest(struct sv_vm *vm, struct hvm_boot *boot, bool direct,
		     struct hull_err *err);

static void loader_stop(struct sv_vm *vm)
{
	if (vm->loader) {
		sv_loop_del(vm->loop, hvm_loader_fd(vm->loader));
		hvm_loader_cancel(vm->loader);
		vm->loader = NULL;
	}
	if (vm->loader_timer >= 0) {
		sv_loop_del(vm->loop, vm->loader_timer);
		close(vm->loader_timer);
		vm->loader_timer = -1;
	}
}

bool sv_vm_loading(const struct sv_vm *vm)
{
	return vm->loader != NULL;
}

void sv_vm_boot_cancel(struct sv_vm *vm)
{
	if (vm->loader)
		sv_log("info", "boot loader stopped");
	loader_stop(vm);
}

/* The loader has ended (its pidfd) or run out of time (its timer). */
static void on_loader(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vm *vm = data;
	struct hull_err err = {0};
	struct hvm_boot boot = {0};
	int r;
	if (fd == vm->loader_timer) {
		r = hull_err_set(&err, ETIMEDOUT,
				 "boot loader: took longer than %d s",
				 hvm_loader_wall_s(vm->loader));
		loader_stop(vm);
	} else {
		struct hvm_loader *l = vm->loader;
		sv_loop_del(loop, fd);
		vm->loader = NULL;
		loader_stop(vm);
		r = hvm_loader_finish(l, &boot, &err);
		if (r == 0)
			r = boot_rest(vm, &boot, true, &err);
	}
	hvm_boot_fini(&boot);
	vm->booted(vm->booted_data, r, &err);
}

/* $HULL_LOADER_TIMEOUT: the boot loader's wall-clock limit in seconds, for
 * an operator with slow disks or a test (docs/hvm.md); 0 when unset (the
 * default, HVM_LOADER_WALL_S). */
static int loader_wall_s(int *out, struct hull_err *err)
{
	*out = 0;
	const char *v = getenv("HULL_LOADER_TIMEOUT");
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	long s = strtol(v, &end, 10);
	if (errno || *end || s < 1 || s > 3600)
		return hull_err_set(err, EINVAL,
				    "HULL_LOADER_TIMEOUT: \"%.32s\" is not a "
				    "number of seconds from 1 to 3600",
				    v);
	*out = (int)s;
	return 0;
}

int sv_vm_boot(struct sv_vm *vm, const struct inst *inst,
	       struct zone_cgroup *cg, struct sv_loop *loop,
	       struct zone_proc *proc,
	       void (*booted)(void *data, int r, struct hull_err *err),
	       void *data, struct hull_err *err)
{
	int r;
	const char *uuid = inst->uuid;
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	vm->inst = inst;
	vm->cg = cg;
	vm->loop = loop;
	vm->proc = proc;
	vm->booted = booted;
	vm->booted_data = data;
	vm->loader_timer = -1;
	_cleanup_free_ char *run =
	    hull_root_path("%s/run/" SV_VM_RUN_SUBDIR, uuid);
	_cleanup_free_ char *root = hull_root_path("%s/root", uuid);
	vm->reset = false;
	vm->qlen = 0;

	if ((r = hull_mkdir_p(run, 0700, err)) < 0 ||
	    (r = hull_mkdir_p(root, 0755, err)) < 0)
		goto out;
	static const char *const socks[] = {HVM_QEMU_CONSOLE_SOCK,
					    HVM_QEMU_COM2_SOCK,
					    HVM_QEMU_QMP_SOCK,
					    HVM_QEMU_QMPC_SOCK,
					    HVM_QEMU_VNC_SOCK,
					    HVM_VMM_CONTROL_SOCK,
					    NULL};
	for (const char *const *s = socks; *s; s++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", run, *s);
		unlink(p);
	}
	/* 1. the boot loader, in its sandbox (hvm/loader.h), while the
	 * loop keeps serving: a stop ends it at once */
	if (inst->vm.bootrom) {
		r = boot_rest(vm, NULL, false, err);
		goto out;
	}
	const char *disk = boot_disk(inst);
	if (!disk) {
		r = hull_err_set(err, EINVAL, "disks: no disk to boot from");
		goto out;
	}
	struct hvm_hull ids = {0};
	int wall_s = 0;
	if ((r = hvm_hull_from_inst(vm->inst, &ids, err)) < 0 ||
	    (r = loader_wall_s(&wall_s, err)) < 0)
		goto out;
	/* The loader runs in a leaf of the instance's cgroup, under the
	 * VM's own limits, beside where the emulator will run. */
	if ((r = hvm_hull_cgroup_setup(&ids, cg, err)) < 0)
		goto out;
	struct hvm_loader_cfg lc = {.disk = disk,
				    .dir = run,
				    .uid = ids.uid,
				    .gid = ids.gid,
				    .wall_s = wall_s,
				    .cg = cg};
	if ((r = hvm_loader_start(&lc, &vm->loader, err)) < 0)
		goto out;
	struct itimerspec it = {.it_value = {hvm_loader_wall_s(vm->loader), 0}};
	vm->loader_timer =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->loader_timer < 0 ||
	    timerfd_settime(vm->loader_timer, 0, &it, NULL) < 0) {
		r = hull_err_sys(err, errno, "boot loader: timer");
		loader_stop(vm);
		goto out;
	}
	if ((r = sv_loop_add(loop, hvm_loader_fd(vm->loader), EPOLLIN,
			     on_loader, vm, err)) < 0 ||
	    (r = sv_loop_add(loop, vm->loader_timer, EPOLLIN, on_loader, vm,
			     err)) < 0) {
		loader_stop(vm);
		goto out;
	}
	r = 1;
out:
	return r;
}

/* Feeds QEMU (started with -incoming defer) the state in its descriptor
 * fd and resumes the guest. */
static int qemu_resume(const char *run, int fd, struct hull_err *err)
{
	_cleanup_free_ char *sock = xasprintf("%s/%s", run, HVM_QEMU_QMPC_SOCK);
	/* QEMU makes the command socket after the QMP one just connected:
	 * it may not listen yet. */
	struct hvm_qmp *q = NULL;
	for (int i = 0; i < 5000 && !q; i++) {
		q = hvm_qmp_open(sock, 10000, err);
		if (!q && err->code != ENOENT && err->code != ECONNREFUSED)
			break;
		if (!q)
			nanosleep(&(struct timespec){0, 2000000L}, NULL);
	}
	if (!q)
		return hull_err_prefix(err, "memory snapshot");
	int r = hvm_qemu_state_load(q, fd, SV_VM_RESUME_TIMEOUT_MS, err);
	hvm_qmp_close(q);
	if (r < 0)
		return hull_err_prefix(err, "memory snapshot");
	sv_log("info", "QEMU resumed the memory snapshot");
	return 0;
}

int sv_vm_emulator_start(struct sv_vm *vm, char **argv, const int *keep,
			 size_t nkeep, bool kvm, int ram_copies, pid_t *pid,
			 struct hull_err *err)
{
	static char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
	static const char *const vmm_libs[] = {HVM_HULL_VMM_DLOPEN};
	static const char *const qemu_libs[] = {QEMU_TCG_MODULE};
	_cleanup_free_ char *run =
	    hull_root_path("%s/run/" SV_VM_RUN_SUBDIR, vm->uuid);
	_cleanup_free_ char *root = hull_root_path("%s/root", vm->uuid);
	struct hvm_hull hh = {0};
	int r;
	/* uuid, the disks (read-write but cdroms and read_only), ram and
	 * cpu_cap from the instance */
	if ((r = hvm_hull_from_inst(vm->inst, &hh, err)) < 0)
		return r;
	/* A live migration runs two emulators in the cgroup for a while:
	 * room for both guests' memory until the first is gone. */
	if (hh.ram_mib > 0 && ram_copies > 1)
		hh.ram_mib =
		    hh.ram_mib * ram_copies + hvm_hull_overhead_mib(hh.ram_mib);
	hh.argv = argv;
	hh.envp = envp;
	hh.root = root;
	hh.run_dir = run;
	hh.keep_fds = keep;
	hh.nkeep_fds = nkeep;
	if (!vm->kvm_brand) {
		hh.dlopen_libs = vmm_libs;
		hh.ndlopen = 1;
	}
	for (const char *const *f = qemu_data; vm->kvm_brand && *f; f++)
		if (hull_path_exists(*f) && hh.nfiles < HVM_HULL_PATHS_MAX)
			hh.files[hh.nfiles++] =
			    (struct hvm_hull_path){*f, false};
	if (vm->kvm_brand && !kvm && hull_path_exists(QEMU_TCG_MODULE)) {
		hh.dlopen_libs = qemu_libs;
		hh.ndlopen = 1;
	}
	return hvm_hull_start(&hh, vm->cg, pid, err);
}

int sv_vm_limits_reset(struct sv_vm *vm, struct hull_err *err)
{
	struct hvm_hull hh = {0};
	int r = hvm_hull_from_inst(vm->inst, &hh, err);
	return r < 0 ? r : hvm_hull_cgroup_setup(&hh, vm->cg, err);
}

/* Steps 2 to 6, once the kernel and initrd are in place (boot, or NULL
 * with a bootrom). */
static int boot_rest(struct sv_vm *vm, struct hvm_boot *bootp, bool direct,
		     struct hull_err *err)
{
	int r;
	const char *uuid = vm->uuid;
	struct sv_loop *loop = vm->loop;
	struct zone_proc *proc = vm->proc;
	_cleanup_free_ char *run =
	    hull_root_path("%s/run/" SV_VM_RUN_SUBDIR, uuid);
	int taps[NET_MAX_NICS];
	for (size_t i = 0; i < NET_MAX_NICS; i++)
		taps[i] = -1;
	size_t ntaps = vm->inst->net->nnics;
	struct hvm_boot none = {0};
	struct hvm_boot boot = bootp ? *bootp : none;
	char **argv = NULL, *bin = NULL;
	pid_t pid = -1;
	int state_fd = -1;
	int keep[NET_MAX_NICS + 1];
	/* 2. the taps */
	if (ntaps > 0 && (r = net_instance_setup(vm->inst, -1, taps, err)) < 0)
		goto out;
	/* 3. the argv */
	/* HULL_TEST_KVM_SMALL (tests only): let the bhyve brand use a KVM
	 * that runs small guests only, for hull-vmm's own test guest. */
	bool kvm = hvm_kvm_full() ||
		   (!vm->kvm_brand && getenv("HULL_TEST_KVM_SMALL") != NULL);
	if (vm->kvm_brand) {
		bin = find_prog(HVM_QEMU_BIN);
		struct hvm_qemu_host h = {.kvm = kvm,
					  .qemu = bin,
					  .run_dir = run,
					  .kernel = boot.kernel_file,
					  .initrd = boot.initrd_file,
					  .cmdline = boot.ent.cmdline,
					  .tap_fds = taps,
					  .ntap_fds = ntaps};
		if (!bin) {
			r = hull_err_set(err, ENOENT, "%s is not installed",
					 HVM_QEMU_BIN);
			goto out;
		}
		argv = hvm_qemu_argv(vm->inst, &h, err);
	} else {
		bin = find_prog("hull-vmm");
		struct hvm_vmm_host h = {.kvm = kvm,
					 .vmm = bin,
					 .run_dir = run,
					 .kernel = boot.kernel_file,
					 .initrd = boot.initrd_file,
					 .cmdline = boot.ent.cmdline,
					 .tap_fds = taps,
					 .ntap_fds = ntaps};
		argv = hvm_vmm_argv(vm->inst, &h, err);
		if (argv && !bin) {
			r = hull_err_set(err, ENOENT,
					 "hull-vmm is not installed");
			goto out;
		}
	}
	/* After a rollback to a memory snapshot (hull/snapshot.h) the
	 * dataset holds its state: hull-vmm resumes it instead of booting,
	 * QEMU waits for it (-incoming defer) and is fed it below. Used
	 * once: the file goes as it is opened. */
	{
		_cleanup_free_ char *st =
		    hull_root_path("%s/" HULL_VMSTATE_FILE, uuid);
		if (argv && (state_fd = open(st, O_RDONLY | O_CLOEXEC |
						     O_NOFOLLOW)) >= 0) {
			unlink(st);
			_cleanup_free_ char *sum =
			    xasprintf("%s" HVM_QEMU_STATE_SUM_SUFFIX, st);
			unlink(sum);
			struct hull_strv v = {0};
			for (char **a = argv; *a; a++)
				hull_strv_add(&v, *a);
			if (vm->kvm_brand) {
				hull_strv_add(&v, "-incoming");
				hull_strv_add(&v, "defer");
			} else {
				hull_strv_add(&v, "--restore");
				hull_strv_push(&v,
					       xasprintf("fd=%d", state_fd));
			}
			hull_strv_free(argv);
			argv = hull_strv_steal(&v);
			sv_log("info", "resuming the memory snapshot in %s",
			       st);
		}
	}
	/* A live migration's target (agent/live_kvm.h): QEMU waits paused
	 * for the stream, which the agent gives it over QMP. */
	if (argv && state_fd < 0 && vm->kvm_brand) {
		_cleanup_free_ char *inc =
		    hull_root_path("%s/" HULL_VMSTATE_INCOMING, uuid);
		if (unlink(inc) == 0) {
			struct hull_strv v = {0};
			for (char **a = argv; *a; a++)
				hull_strv_add(&v, *a);
			hull_strv_add(&v, "-S");
			hull_strv_add(&v, "-incoming");
			hull_strv_add(&v, "defer");
			hull_strv_free(argv);
			argv = hull_strv_steal(&v);
			sv_log("info", "waiting paused for a live migration's "
				       "stream");
		}
	}
	if (!argv) {
		r = -err->code;
		goto out;
	}
	/* 4. the emulator in its hull */
	memcpy(keep, taps, ntaps * sizeof(int));
	if (state_fd >= 0)
		keep[ntaps] = state_fd;
	if ((r = sv_vm_emulator_start(vm, argv, keep, ntaps + (state_fd >= 0),
				      kvm, 1, &pid, err)) < 0)
		goto out;
	proc->pid = pid;
	proc->notify_fd = -1;
	/* 5. the console and QMP */
	char *con = xasprintf("%s/%s", run, HVM_QEMU_CONSOLE_SOCK);
	proc->console_fd = hvm_com2_connect(con, 10000, err);
	free(con);
	if (proc->console_fd < 0) {
		r = hull_err_prefix(err, "console");
		goto out;
	}
	if (vm->kvm_brand) {
		char *q = xasprintf("%s/%s", run, HVM_QEMU_QMP_SOCK);
		vm->qmp_fd = hvm_com2_connect(q, 10000, err);
		free(q);
		if (vm->qmp_fd < 0) {
			r = hull_err_prefix(err, "qmp");
			goto out;
		}
		qmp_send(vm, "qmp_capabilities");
		if ((r = sv_loop_add(loop, vm->qmp_fd, EPOLLIN, on_qmp, vm,
				     err)) < 0)
			goto out;
		/* the memory snapshot, through the command socket; QEMU
		 * holds the descriptor under the same number. The loop
		 * waits meanwhile, as it does for the sockets above. */
		if (state_fd >= 0 && (r = qemu_resume(run, state_fd, err)) < 0)
			goto out;
	}
	/* 6. VNC */
	if (vm->kvm_brand && vm->inst->vm.vnc_port >= 0)
		vnc_setup(vm, uuid, run, loop);
	sv_log("info", "%s started: %s, pid %d, %s",
	       vm->kvm_brand ? "QEMU" : "hull-vmm",
	       direct ? boot.ent.kernel : "bootrom", (int)pid,
	       kvm ? "KVM" : "TCG");
	/* hull-vmm: the taps stay with us too, for a live move */
	if (!vm->kvm_brand)
		taps_keep(vm, taps, ntaps);
	r = 0;
out:
	/* The emulator holds its own copies of the taps. */
	taps_close(taps, NET_MAX_NICS);
	if (state_fd >= 0)
		close(state_fd);
	if (r < 0 && ntaps > 0)
		net_instance_teardown(uuid, NULL);
	hull_strv_free(argv);
	free(bin);
	/* On failure the caller kills proc->pid (our child) if set. */
	return r;
}

int sv_vm_adopt(struct sv_vm *vm, const struct inst *inst,
		struct zone_cgroup *cg, struct sv_loop *loop,
		struct zone_proc *proc, int qmp, struct hull_err *err)
{
	const char *uuid = inst->uuid;
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	vm->cg = cg;
	vm->loop = loop;
	vm->proc = proc;
	vm->reset = false;
	vm->qlen = 0;
	proc->notify_fd = -1;
	vm->qmp_fd = qmp;
	if (qmp >= 0) {
		fcntl(qmp, F_SETFL, O_NONBLOCK);
		if (sv_loop_add(loop, qmp, EPOLLIN, on_qmp, vm, err) < 0)
			return -err->code;
	}
	vm->inst = inst;
	/* the taps our predecessor kept for a live move */
	vm->ntaps = 0;
	for (size_t i = 0; !vm->kvm_brand && i < inst->net->nnics; i++) {
		char name[32];
		snprintf(name, sizeof(name), "tap.%zu", i);
		if ((vm->taps[i] = sv_holder_take(name)) < 0)
			break;
		vm->ntaps = i + 1;
	}
	_cleanup_free_ char *run =
	    hull_root_path("%s/run/" SV_VM_RUN_SUBDIR, uuid);
	struct hull_err merr = {0};
	if (vm->kvm_brand && sv_vm_migrate_recover(vm, &merr) < 0)
		sv_log("error", "%s", merr.msg);
	if (vm->kvm_brand && inst->vm.vnc_port >= 0)
		vnc_setup(vm, uuid, run, loop);
	return 0;
}

int sv_vm_qmp_replace(struct sv_vm *vm, int qmp, struct hull_err *err)
{
	if (vm->qmp_fd >= 0) {
		sv_loop_del(vm->loop, vm->qmp_fd);
		close(vm->qmp_fd);
	}
	vm->qmp_fd = qmp;
	vm->qlen = 0;
	fcntl(qmp, F_SETFL, O_NONBLOCK);
	int r = sv_loop_add(vm->loop, qmp, EPOLLIN, on_qmp, vm, err);
	_cleanup_free_ char *qmpc = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_QEMU_QMPC_SOCK, vm->uuid);
	if (r == 0)
		r = sv_vnc_qemu_changed(vm->vnc, qmpc,
					vm->inst->vm.vnc_password, err);
	return r;
}

int sv_vm_powerdown(struct sv_vm *vm, const char *uuid, struct hull_err *err)
{
	if (vm->kvm_brand) {
		if (vm->qmp_fd < 0)
			return hull_err_set(err, ENOTCONN, "no QMP connection");
		qmp_send(vm, "system_powerdown");
		return 0;
	}
	/* hull-vmm: its control socket's ACPI power button. */
	_cleanup_free_ char *p = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_VMM_CONTROL_SOCK, uuid);
	int fd = hvm_com2_connect(p, 1000, err);
	if (fd < 0)
		return fd;
	static const char req[] = "{\"command\": \"powerdown\"}\n";
	ssize_t n = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
	close(fd);
	if (n != (ssize_t)sizeof(req) - 1)
		return hull_err_sys(err, errno, "%s", p);
	return 0;
}

bool sv_vm_down(struct sv_vm *vm, const char *uuid, struct sv_loop *loop,
		int status)
{
	sv_vnc_stop(vm->vnc);
	vm->vnc = NULL;
	if (vm->qmp_fd >= 0) {
		qmp_read(vm);
		sv_loop_del(loop, vm->qmp_fd);
		close(vm->qmp_fd);
		vm->qmp_fd = -1;
	}
	taps_forget(vm);
	struct hull_err err = {0};
	if (net_instance_teardown(uuid, &err) < 0)
		sv_log("warn", "taps: %s", err.msg);
	bool reboot = vm->reset;
	/* hull-vmm ends with status 2 for a reboot from inside. */
	if (!vm->kvm_brand && WIFEXITED(status) && WEXITSTATUS(status) == 2)
		reboot = true;
	vm->reset = false;
	return reboot;
}
