/*
 * vmm.h - the bhyve brand's launcher: a pure function from an instance
 * (inst/inst.h, the parsed SmartOS VM object) and host facts to the argv
 * of hull-vmm, hull's own VMM (docs/hull-vmm.md), the counterpart of
 * qemu.h for the kvm brand. hull-vmm boots kernels directly (the boot loader of
 * bootdisk.h finds them) and emulates virtio devices only, so:
 *
 *   --memory ramM --cpus vcpus --kernel/--initrd/--cmdline from the boot
 *   loader; --disk PATH[,serial=ID] per disks[] entry (model virtio);
 *   --net fd=N,mac=MAC per nics[] entry (tap descriptors handed in);
 *   --rng; COM1 --console unix:RUN/console.sock, COM2 --metadata
 *   unix:RUN/ttyb.sock (the metadata server connects, as for QEMU),
 *   --control unix:RUN/vmm.sock; --uuid UUID --product "SmartDC HVM".
 *
 * The brand needs hardware virtualization: without it the function
 * refuses, saying so, rather than start a VMM that cannot run a guest.
 */
#ifndef HULL_HVM_VMM_H
#define HULL_HVM_VMM_H

#include <stdbool.h>
#include <stddef.h>

#include "inst/inst.h"
#include "lib/err.h"

#define HVM_VMM_BIN "hull-vmm"
#define HVM_VMM_CONTROL_SOCK "vmm.sock"
#define HVM_VMM_VCPUS_MAX 64
#define HVM_VMM_DISKS_MAX 16
#define HVM_VMM_NICS_MAX 8

struct hvm_vmm_host {
	bool kvm;	     /* full hardware virtualization (hvm_kvm_full) */
	const char *vmm;     /* binary; NULL: HVM_VMM_BIN */
	const char *run_dir; /* where the sockets go (required) */
	const char *kernel, *initrd, *cmdline; /* from the boot loader */
	const int *tap_fds;		       /* one per nics[] entry */
	size_t ntap_fds;
};

/* Builds the argv (NULL-terminated; free with hull_strv_free). Errors
 * name the property at fault. */
char **hvm_vmm_argv(const struct inst *inst, const struct hvm_vmm_host *h,
		    struct hull_err *err);

#endif
