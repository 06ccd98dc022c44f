/*
 * hull-vmm - hull's virtual machine monitor: one process per VM on /dev/kvm.
 *
 * main is the edge: it parses the VM description, opens and checks
 * everything (kernel, initrd, disks, taps, sockets) before a single guest
 * instruction runs, confines the process, then runs the I/O loop until the
 * guest powers off or reboots, and reports that as the exit status:
 *   0 power-off, 1 error, 2 reboot, 3 stopped from the control socket,
 *   4 handed over to a live migration's target.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/xalloc.h"
#include "vmm/archive_dl.h"
#include "vmm/boot.h"
#include "vmm/config.h"
#include "vmm/confine.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/devices.h"
#include "vmm/iothread.h"
#include "vmm/migrate.h"
#include "vmm/platform.h"
#include "vmm/snapfmt.h"
#include "vmm/snapshot.h"
#include "vmm/virtio_devices.h"
#include "vmm/vm.h"

#define KERNEL_MAX (512u << 20)

struct blob {
	uint8_t *data;
	size_t len;
};

static int read_file(const char *what, const char *path, struct blob *b,
		     struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return hull_err_sys(err, errno, "%s %s", what, path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hull_err_set(err, EINVAL, "%s %s: not a regular file",
				    what, path);
	}
	if ((uint64_t)st.st_size > KERNEL_MAX) {
		close(fd);
		return hull_err_set(err, EFBIG, "%s %s: larger than 512 MiB",
				    what, path);
	}
	b->len = (size_t)st.st_size;
	b->data = xmalloc(b->len ? b->len : 1);
	size_t got = 0;
	while (got < b->len) {
		ssize_t n = read(fd, b->data + got, b->len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return hull_err_sys(err, e, "read %s %s", what, path);
		}
		got += (size_t)n;
	}
	close(fd);
	return 0;
}

static int load_kernel(struct vm *vm, const struct vmm_config *cfg,
		       struct hull_err *err)
{
	struct blob k = {0}, i = {0};
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	int r;

	if ((r = read_file("kernel", cfg->kernel, &k, err)) < 0)
		goto out;
	if (cfg->initrd) {
		if ((r = read_file("initrd", cfg->initrd, &i, err)) < 0)
			goto out;
		if ((r = boot_initrd_check(i.data, i.len, err)) < 0) {
			hull_err_prefix(err, "%s", cfg->initrd);
			goto out;
		}
	}
	switch (boot_detect(k.data, k.len)) {
	case BOOT_BZIMAGE: {
		uint8_t *elf = NULL;
		size_t elf_len = 0;
		if (cfg->boot != VMM_BOOT_LINUX &&
		    boot_bzimage_payload(k.data, k.len, &elf, &elf_len) == 0 &&
		    boot_pvh_capable(elf, elf_len)) {
			r = boot_pvh_load(vm, elf, elf_len, i.data, i.len,
					  cmdline, err);
			free(elf);
			break;
		}
		free(elf);
		if (cfg->boot == VMM_BOOT_PVH) {
			r = hull_err_set(err, EINVAL,
					 "kernel: --boot pvh, but the bzImage "
					 "holds no ELF kernel with a PVH note");
			break;
		}
		r = boot_linux_load(vm, k.data, k.len, i.data, i.len, cmdline,
				    err);
		break;
	}
	case BOOT_PVH:
		r = boot_pvh_load(vm, k.data, k.len, i.data, i.len, cmdline,
				  err);
		break;
	default:
		r = hull_err_set(
		    err, EINVAL,
		    "kernel: neither a Linux bzImage nor an ELF kernel");
		break;
	}
	if (r < 0)
		hull_err_prefix(err, "%s", cfg->kernel);
out:
	free(k.data);
	free(i.data);
	archive_dl_put();
	return r;
}

/* --restore: opens the snapshot and checks its header and state, before
 * anything else is set up (a bad file costs nothing). */
static int restore_open(const struct vmm_config *cfg, int *fd,
			struct snap_file **f, uint8_t **buf,
			struct hull_err *err)
{
	*fd = cfg->restore ? open(cfg->restore, O_RDONLY | O_CLOEXEC)
			   : cfg->restore_fd;
	if (*fd < 0)
		return hull_err_sys(err, errno, "restore %s", cfg->restore);
	if (cfg->restore_fd >= 0 && fcntl(*fd, F_SETFD, FD_CLOEXEC) < 0)
		return hull_err_sys(err, errno, "restore fd=%d", *fd);
	if (vmm_snapshot_open(*fd, f, buf, err) < 0)
		return -err->code;
	return 0;
}

static volatile sig_atomic_t stop_signal;
static int signal_wake_fd = -1;

static void on_wake(void *arg, uint32_t events)
{
	uint64_t v;
	struct vm *vm = arg;
	if (read(vm->wake_fd, &v, sizeof(v)) < 0) {
		/* nothing to do: the loop re-checks exit_reason */
	}
	if (stop_signal)
		vm_request_exit(vm, VM_EXIT_STOPPED);
}

/* Only async-signal-safe work here: flag it and wake the I/O loop, which
 * ends the VM. */
static void on_signal(int sig)
{
	uint64_t one = 1;
	(void)sig;
	stop_signal = 1;
	if (signal_wake_fd >= 0 &&
	    write(signal_wake_fd, &one, sizeof(one)) < 0) {
		/* the eventfd is already readable */
	}
}

static void try_forbidden(enum vmm_forbidden f)
{
	/* Test-only (--test-forbidden-syscall): the seccomp filter must kill
	 * the process here; reaching the lines after is a failure. */
	if (f == VMM_FORBIDDEN_EXECVE) {
		char *argv[] = {"/bin/true", NULL};
		execve(argv[0], argv, environ);
	} else if (f == VMM_FORBIDDEN_OPEN) {
		int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	} else {
		return;
	}
	fprintf(stderr, "hull-vmm: forbidden system call was allowed\n");
	_exit(1);
}

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	struct hull_err err = {0};
	struct vm vm;
	struct console *con = NULL, *meta = NULL;
	struct control *ctl = NULL;
	char *text = NULL;
	int *keep = NULL;
	int status = VM_EXIT_ERROR;
	int r;

	boot_timer_main_ns = boot_timer_now();
	vmm_config_init(&cfg);
	r = vmm_config_parse_args(&cfg, argc, argv, &text, &err);
	if (r == 1) {
		fputs(text, stdout);
		free(text);
		vmm_config_fini(&cfg);
		return 0;
	}
	if (r < 0 || vmm_config_validate(&cfg, &err) < 0) {
		fprintf(stderr, "hull-vmm: %s\n", err.msg);
		vmm_config_fini(&cfg);
		return 1;
	}

	bool restoring = cfg.restore || cfg.restore_fd >= 0;
	if (restoring) {
		/* Resume a snapshot: RAM mapped privately from the file, the
		 * devices and vCPUs set up as for a boot, then every state
		 * loaded over them; no kernel is read. */
		int sfd = -1;
		struct snap_file *sf = NULL;
		uint8_t *sbuf = NULL;
		r = restore_open(&cfg, &sfd, &sf, &sbuf, &err);
		if (r == 0 && sf->hdr.mem_size != cfg.memory)
			r = hull_err_set(
			    &err, EINVAL,
			    "state file: made for %llu MiB of "
			    "memory, this VM has %llu MiB",
			    (unsigned long long)(sf->hdr.mem_size >> 20),
			    (unsigned long long)(cfg.memory >> 20));
		if (r == 0 &&
		    vm_create_from(&vm, &cfg, sfd, sf->hdr.mem_off, &err) < 0)
			r = -err.code;
		else if (r < 0)
			vm_create_none(&vm);
		if (r == 0) {
			vm.restoring = true;
			if (io_init(&err) < 0 ||
			    platform_init(&vm, &cfg, &err) < 0 ||
			    vcpus_create(&vm, &err) < 0 ||
			    vmm_snapshot_load(&vm, sf, &err) < 0)
				r = -err.code;
		}
		if (sfd >= 0)
			close(sfd);
		vmm_snapshot_file_free(sf);
		free(sbuf);
		if (r < 0)
			goto fail;
	} else if (cfg.incoming_fd >= 0) {
		/* A live migration's target: set up as for a boot, then RAM
		 * and every state from the stream; no kernel is read. */
		if (fcntl(cfg.incoming_fd, F_SETFD, FD_CLOEXEC) < 0) {
			vm_create_none(&vm);
			hull_err_sys(&err, errno, "incoming fd=%d",
				     cfg.incoming_fd);
			goto fail;
		}
		if (cfg.incoming_disks_fd >= 0 &&
		    fcntl(cfg.incoming_disks_fd, F_SETFD, FD_CLOEXEC) < 0) {
			vm_create_none(&vm);
			hull_err_sys(&err, errno, "incoming disks=%d",
				     cfg.incoming_disks_fd);
			goto fail;
		}
		if (vm_create(&vm, &cfg, &err) < 0)
			goto fail;
		vm.restoring = true;
		/* the disks are taken only once the stream has ended: the
		 * source is paused then and its disks are final */
		if (io_init(&err) < 0 || platform_init(&vm, &cfg, &err) < 0 ||
		    vcpus_create(&vm, &err) < 0 ||
		    migrate_receive(&vm, cfg.incoming_fd, &err) < 0 ||
		    migrate_receive_disks(&vm, cfg.incoming_fd,
					  cfg.incoming_disks_fd, &err) < 0)
			goto fail;
		if (cfg.incoming_disks_fd >= 0)
			close(cfg.incoming_disks_fd);
		cfg.incoming_disks_fd = -1;
	} else if (vm_create(&vm, &cfg, &err) < 0 || io_init(&err) < 0 ||
		   platform_init(&vm, &cfg, &err) < 0 ||
		   load_kernel(&vm, &cfg, &err) < 0 ||
		   vcpus_create(&vm, &err) < 0) {
		goto fail;
	}
	if (cfg.check_only) {
		status = 0;
		goto out;
	}

	if (io_add(vm.wake_fd, EPOLLIN, on_wake, &vm, &err) < 0)
		goto fail;
	con = console_open(vm.com1, cfg.console, cfg.console_path, &err);
	if (!con) {
		hull_err_prefix(&err, "console");
		goto fail;
	}
	/* COM1 on a socket keeps its last 64 KiB for a late client; COM2,
	 * the metadata channel, does not (stale requests are not replayed) */
	if (cfg.console == VMM_CONSOLE_UNIX)
		serial_keep_backlog(vm.com1, 64 << 10);
	if (vm.vcon) {
		virtio_console_attach(vm.vcon, con);
		console_set_virtio(con, vm.vcon);
	}
	if (cfg.metadata_path) {
		meta = console_open(vm.com2, VMM_CONSOLE_UNIX,
				    cfg.metadata_path, &err);
		if (!meta) {
			hull_err_prefix(&err, "metadata");
			goto fail;
		}
	}
	if (cfg.control_path &&
	    (!(ctl = control_open(&vm, cfg.control_path, &err)) ||
	     migrate_init(&vm, &err) < 0))
		goto fail;
	if (console_start(con, &err) < 0 ||
	    (meta && console_start(meta, &err) < 0) ||
	    platform_start(&vm, &err) < 0)
		goto fail;

	signal_wake_fd = vm.wake_fd;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Confinement: every descriptor it will ever use is open now. */
	unsigned maxkeep = 64 + vm.ncpus + 4 * (VMM_MAX_DISKS + VMM_MAX_NETS);
	keep = xcalloc(maxkeep, sizeof(int));
	unsigned nkeep = 0;
	keep[nkeep++] = vm.kvm_fd;
	keep[nkeep++] = vm.vm_fd;
	keep[nkeep++] = vm.wake_fd;
	for (unsigned i = 0; i < vm.ncpus; i++)
		keep[nkeep++] = vm.vcpus[i].fd;
	nkeep += console_fds(con, keep + nkeep, maxkeep - nkeep);
	if (meta)
		nkeep += console_fds(meta, keep + nkeep, maxkeep - nkeep);
	if (ctl)
		nkeep += control_fds(ctl, keep + nkeep, maxkeep - nkeep);
	nkeep += migrate_fds(&vm, keep + nkeep, maxkeep - nkeep);
	if (cfg.incoming_fd >= 0)
		keep[nkeep++] = cfg.incoming_fd;
	nkeep += platform_fds(&vm, keep + nkeep, maxkeep - nkeep);
	nkeep += io_fds(keep + nkeep, maxkeep - nkeep);
	if (confine_close_fds(keep, nkeep, &err) < 0 ||
	    confine_drop_caps(&err) < 0)
		goto fail;
	vm.paused = true; /* vCPU threads wait until the filter is on */
	if (vcpus_start(&vm, &err) < 0)
		goto fail;
	vcpus_wait_parked(&vm);
	if (confine_seccomp(&err) < 0)
		goto fail;
	if (cfg.incoming_fd >= 0) {
		/* the guest runs here only once the source has let it go */
		if (migrate_receive_commit(&vm, cfg.incoming_fd, &err) < 0)
			goto fail;
		close(cfg.incoming_fd);
		cfg.incoming_fd = -1;
		vm_resume(&vm);
		/* the switches learn where the nics' MACs went */
		for (unsigned i = 0; i < vm.n_virtio; i++)
			virtio_net_announce(vm.virtio[i]);
	} else {
		vm_resume(&vm);
		/* a restored guest may be on another host (a live switch
		 * between hosts restores the state it staged) or port */
		for (unsigned i = 0; restoring && i < vm.n_virtio; i++)
			virtio_net_announce(vm.virtio[i]);
	}
	try_forbidden(cfg.forbidden);

	status = io_run(&vm);
	vcpus_kick(&vm);
	vcpus_join(&vm);
	goto out;
fail:
	fprintf(stderr, "hull-vmm: %s\n", err.msg);
	status = VM_EXIT_ERROR;
	vm_request_exit(&vm, VM_EXIT_ERROR);
	vcpus_join(&vm);
out:
	/* what the guest printed last, perhaps without a newline */
	if (vm.com1)
		serial_flush(vm.com1);
	if (vm.com2)
		serial_flush(vm.com2);
	free(keep);
	migrate_fini(&vm);
	control_close(ctl);
	console_close(meta);
	console_close(con);
	io_fini();
	platform_fini(&vm);
	vm_destroy(&vm);
	vmm_config_fini(&cfg);
	return status;
}
