/*
 * qemu.h - the kvm brand's launcher: a pure function from an instance
 * (inst/inst.h, the parsed SmartOS VM object) and facts about the host to
 * the argv of qemu-system-x86_64, the way SmartOS's vmadm built QEMU's
 * command line.
 * See docs/hvm.md for the full mapping; in short:
 *
 *   -machine pc (q35 with bootrom uefi), accel=kvm where /dev/kvm offers
 *   full hardware virtualization, else accel=tcg; -cpu cpu_type (qemu64,
 *   or host, which under TCG is "max"); -smp vcpus; -m ram;
 *   -smbios type=1 with SmartOS's identity (product "SmartDC HVM", serial
 *   and uuid = the instance UUID), so cloud-init finds its datasource;
 *   -kernel/-initrd/-append from the boot loader (bootdisk.h), or the
 *   bootrom (SeaBIOS for bios, OVMF for uefi) with -boot from `boot`;
 *   COM1 = the console (a unix socket, or a pty), COM2 = the metadata
 *   channel (a unix socket QEMU listens on, the metadata server
 *   connects), a QMP socket the supervisor holds (events, powerdown)
 *   and a second one for commands that want an answer (sysrq, the VNC
 *   password); VNC (vnc_port >= 0, the default) with a std VGA on
 *   vnc.sock, which the supervisor relays to a TCP port;
 *   disks[] as raw drives with serial= (virtio, ide or scsi), nics[] as
 *   tap descriptors handed in, with their mac and model; qemu_extra_opts
 *   appended last, split on blanks, as SmartOS does.
 *
 * Nothing here opens a file or looks at the host: the caller probes KVM,
 * runs the boot loader and opens the taps.
 */
#ifndef HULL_HVM_QEMU_H
#define HULL_HVM_QEMU_H

#include <stdbool.h>
#include <stddef.h>

#include "inst/inst.h"
#include "lib/err.h"

#define HVM_QEMU_BIN "qemu-system-x86_64"
#define HVM_QEMU_SEABIOS "/usr/share/seabios/bios-256k.bin"
#define HVM_QEMU_OVMF "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define HVM_QEMU_VCPUS_MAX 255
#define HVM_QEMU_RAM_MIN 32	       /* MiB */
#define HVM_QEMU_RAM_MAX (1024 * 1024) /* MiB */
#define HVM_QEMU_DISKS_MAX 16
#define HVM_QEMU_NICS_MAX 16

/* The sockets in the run directory. */
#define HVM_QEMU_CONSOLE_SOCK "console.sock"
#define HVM_QEMU_COM2_SOCK "ttyb.sock"
#define HVM_QEMU_QMP_SOCK "qmp.sock"
#define HVM_QEMU_QMPC_SOCK "qmp-cmd.sock"
#define HVM_QEMU_VNC_SOCK "vnc.sock"
/* The block nodes of hull's -drive N: its raw format node and that
 * node's file child (printf formats of N, a size_t). */
#define HVM_QEMU_NODE_FMT "hull-fmt%zu"
#define HVM_QEMU_NODE_FILE "hull-file%zu"
/* SmartOS's bound: VNC authentication uses the first 8 characters. */
#define HVM_QEMU_VNC_PASSWORD_MAX 8

struct hvm_qemu_host {
	bool kvm;		 /* /dev/kvm usable for full guests */
	const char *qemu;	 /* binary; NULL: HVM_QEMU_BIN */
	const char *run_dir;	 /* where the sockets go (required) */
	bool console_pty;	 /* COM1 on a pty instead of a socket */
	const char *console_log; /* COM1 output also appended here, or NULL */
	/* Direct boot (from the boot loader); kernel NULL: use the bootrom. */
	const char *kernel, *initrd, *cmdline;
	/* One tap descriptor per nics[] entry, already open in the child. */
	const int *tap_fds;
	size_t ntap_fds;
};

/* Builds the argv (NULL-terminated, owned: free with hull_strv_free).
 * Errors name the property at fault ("disks.1.model: ..."). */
char **hvm_qemu_argv(const struct inst *inst, const struct hvm_qemu_host *h,
		     struct hull_err *err);

#endif
