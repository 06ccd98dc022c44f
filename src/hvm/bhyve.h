/*
 * bhyve.h - the bhyve brand's launcher: a pure function from an instance
 * record (the SmartOS VM object) and what the caller prepared (the boot
 * loader's kernel, initrd and command line, the open taps, the run
 * directory) to the argv of hull-vmm, which plays bhyve's part:
 *
 *   hull-vmm --uuid UUID --product "SmartDC HVM" --cpus vcpus
 *            --memory ramM --kernel K [--initrd I] [--cmdline C]
 *            --disk PATH[,ro],serial=S ...   (disks[], in order)
 *            --net fd=N,mac=MAC ...          (nics[], in order)
 *            --console unix:RUN/console.sock --metadata unix:RUN/ttyb.sock
 *            --control unix:RUN/vmm.sock
 *
 * hull-vmm has no firmware: a VM boots the kernel the boot loader
 * (bootdisk.h) found on its boot disk, so kernel is required. Its devices
 * are virtio only: disks[].model and nics[].model (and disk_driver,
 * nic_driver) must be virtio when given. A cdrom is a read-only disk. ram
 * is rounded up to an even number of MiB (hull-vmm maps 2 MiB pages).
 * See docs/hvm.md.
 */
#ifndef HULL_HVM_BHYVE_H
#define HULL_HVM_BHYVE_H

#include <jansson.h>
#include <stddef.h>

#include "lib/err.h"

#define HVM_BHYVE_BIN "hull-vmm"
#define HVM_BHYVE_PRODUCT "SmartDC HVM"
/* What hull-vmm dlopen()s during set-up (kernel payloads and initrds): the
 * double hull must hold it too (hvm_hull.dlopen_libs). */
#define HVM_BHYVE_DLOPEN "libarchive.so.13"
#define HVM_BHYVE_VCPUS_MAX 64
#define HVM_BHYVE_RAM_MIN 8		/* MiB */
#define HVM_BHYVE_RAM_MAX (1024 * 1024) /* MiB */
#define HVM_BHYVE_DISKS_MAX 16
#define HVM_BHYVE_NICS_MAX 8

/* The sockets in the run directory. */
#define HVM_BHYVE_CONSOLE_SOCK "console.sock"
#define HVM_BHYVE_COM2_SOCK "ttyb.sock"
#define HVM_BHYVE_CONTROL_SOCK "vmm.sock"

struct hvm_bhyve_host {
	const char *vmm;     /* the binary; NULL: HVM_BHYVE_BIN */
	const char *run_dir; /* where the sockets go (required) */
	/* From the boot loader: kernel required, the others optional. */
	const char *kernel, *initrd, *cmdline;
	/* One tap descriptor per nics[] entry, already open in the child
	 * (opened with IFF_VNET_HDR). */
	const int *tap_fds;
	size_t ntap_fds;
};

/* Builds the argv (NULL-terminated, owned: free with hvm_strv_free from
 * qemu.h). Errors name the property at fault ("disks.1.model: ..."). */
char **hvm_bhyve_argv(json_t *vm, const struct hvm_bhyve_host *h,
		      struct hull_err *err);

#endif
