/*
 * vm.h - the supervisor's HVM variant (brands kvm and bhyve): instead of
 * a zone's init it boots the instance's emulator (docs/hvm.md):
 *
 *   1. the boot loader reads the boot disk into R/<uuid>/run/vm/ (kernel,
 *      initrd, command line; skipped with a bootrom);
 *   2. the nics' taps are opened (src/net);
 *   3. the argv: hvm_qemu_argv (kvm) or hvm_vmm_argv (bhyve), its sockets
 *      in run/vm/ (console.sock = COM1, ttyb.sock = COM2, qmp.sock);
 *   4. the emulator starts inside its own hull (hvm_hull_start: a zone
 *      holding only it, its libraries and firmware, the disks and run/vm),
 *      in the instance's cgroup; it is the supervisor's child, reaped like
 *      a zone's init;
 *   5. the supervisor connects to COM1 (its console descriptor: logged and
 *      relayed to `vmadm console` as a zone's pty is) and, for kvm, to QMP,
 *      where it reads SHUTDOWN events (a guest reset ends QEMU under
 *      -no-reboot; the event's reason tells a reboot from a power-off) and
 *      sends system_powerdown for a stop. The metadata hook connects COM2.
 *   6. kvm with VNC (vnc_port >= 0): the relay (vnc.h) listens on the
 *      host and sets the password, if any, over QEMU's command QMP
 *      socket. A relay that cannot listen (its port taken) is logged and
 *      the VM runs without one, as on SmartOS.
 */
#ifndef HULL_SUPERVISOR_VM_H
#define HULL_SUPERVISOR_VM_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "inst/inst.h"
#include "net/nic.h"
#include "lib/err.h"
#include "supervisor/loop.h"
#include "zone/cgroup.h"
#include "zone/start.h"

/* The run directory's subdirectory for the emulator's sockets and boot
 * files: R/<uuid>/run/vm (run/console.sock is the supervisor's own). */
#define SV_VM_RUN_SUBDIR "vm"

struct sv_vm {
	bool hvm;	    /* the record's brand is kvm or bhyve */
	bool kvm_brand;	    /* kvm (QEMU) rather than bhyve (hull-vmm) */
	int qmp_fd;	    /* kvm: the held QMP connection, or -1 */
	bool reset;	    /* the guest asked for a reset (reboot) */
	struct sv_vnc *vnc; /* kvm: the VNC relay (vnc.h), or NULL */
	size_t qlen;
	char qbuf[8192];
	/* step 1 while it runs: the loader (hvm/loader.h) and its
	 * wall-clock timer, and where the boot goes on afterwards */
	struct hvm_loader *loader;
	int loader_timer;
	struct sv_vm_mig *mig; /* a live migration under way (vm_migrate.h) */
	char uuid[40];
	struct zone_cgroup *cg;
	struct sv_loop *loop;
	struct zone_proc *proc;
	void (*booted)(void *data, int r, struct hull_err *err);
	void *booted_data;
	const struct inst *inst; /* this boot's instance, borrowed */
	/* bhyve: the nics' taps, kept (owned; the holder has them too, as
	 * "tap.N") for a second hull-vmm a live move starts (vmmove.h):
	 * a tap is single-queue and cannot be opened twice */
	int taps[NET_MAX_NICS];
	size_t ntaps;
	struct sv_vmmove *move; /* a live move under way (vmmove.h), or NULL */
};

/* Takes the instance's brand into vm (hvm false for a zone brand). */
void sv_vm_init(struct sv_vm *vm, const struct inst *inst);

/* Steps 1-5: on success proc has the emulator's pid and the console
 * descriptor (a connected socket), and loop watches QMP. Step 1, the boot
 * loader, runs in a child while loop goes on serving: then sv_vm_boot
 * returns 1 and the loop later calls booted(data, r, err) with how the
 * boot ended (0: proc is set). 0: booted already (a bootrom); < 0: it
 * failed. */
int sv_vm_boot(struct sv_vm *vm, const struct inst *inst,
	       struct zone_cgroup *cg, struct sv_loop *loop,
	       struct zone_proc *proc,
	       void (*booted)(void *data, int r, struct hull_err *err),
	       void *data, struct hull_err *err);
/* After a supervisor's death (supervisor.c, adopt): the emulator runs,
 * proc has its pid and the console its predecessor held; qmp is the QMP
 * connection the holder kept (or -1). Watches QMP and starts the VNC
 * relay again. */
int sv_vm_adopt(struct sv_vm *vm, const struct inst *inst,
		struct zone_cgroup *cg, struct sv_loop *loop,
		struct zone_proc *proc, int qmp, struct hull_err *err);

/* Whether step 1 is running; ending it (a stop while it runs) kills the
 * loader and calls nothing. */
bool sv_vm_loading(const struct sv_vm *vm);
void sv_vm_boot_cancel(struct sv_vm *vm);

/* Asks the guest to power off (the ACPI power button): QMP
 * system_powerdown for QEMU, "powerdown" on hull-vmm's control socket. */
int sv_vm_powerdown(struct sv_vm *vm, const char *uuid, struct hull_err *err);

/* After the emulator exited: reads what QMP still holds, closes it and
 * removes the taps. Returns whether the guest asked for a reboot. */
bool sv_vm_down(struct sv_vm *vm, const char *uuid, struct sv_loop *loop,
		int status);

/* One line from QEMU's QMP socket (untrusted: QEMU runs guest-driven
 * code). Pure; fuzzed by tests/fuzz/fuzz_sv_qmp_event.c. */
enum { SV_VM_EV_OTHER, SV_VM_EV_SHUTDOWN, SV_VM_EV_RESET };
int sv_vm_qmp_event(const char *line, size_t len);

/* Step 4 alone: starts argv (the emulator) in its hull in the instance's
 * cgroup, keeping keep[] open at the same numbers; ram_copies > 1 makes
 * room in the cgroup for that many guests (a live migration's two
 * emulators), which sv_vm_limits_reset takes back. kvm: QEMU uses KVM
 * (else TCG's module is brought in). */
int sv_vm_emulator_start(struct sv_vm *vm, char **argv, const int *keep,
			 size_t nkeep, bool kvm, int ram_copies, pid_t *pid,
			 struct hull_err *err);
int sv_vm_limits_reset(struct sv_vm *vm, struct hull_err *err);

/* A live migration's switch (vm_migrate.h): qmp (owned) replaces the
 * held QMP connection, and the VNC relay starts again for the new QEMU. */
int sv_vm_qmp_replace(struct sv_vm *vm, int qmp, struct hull_err *err);

#endif
