/*
 * snapshot.h - memory snapshots of a running VM: every vCPU's state, the
 * in-kernel irqchip, PIT and clock, every device, and guest RAM, in one
 * file (layout: snapfmt.h, docs/hull-vmm.md "Snapshot file").
 *
 * Saving runs on the I/O thread (the control socket's "snapshot" with a
 * descriptor passed alongside): the vCPUs are paused first, and since
 * every virtio request is served on that same thread, no request is half
 * done while the state is taken. Restoring happens at start-up
 * (--restore), before the vCPU threads exist: guest RAM is mapped
 * privately from the file (vm_create_from), the rest is loaded here.
 */
#ifndef HULL_VMM_SNAPSHOT_H
#define HULL_VMM_SNAPSHOT_H

#include <stdint.h>

#include <linux/kvm.h>

#include "lib/err.h"

#define SNAP_MSRS_MAX 256

/* A SNAP_VCPU section: this, then nmsrs struct kvm_msr_entry. The KVM
 * structures are Linux's <linux/kvm.h> ABI, which does not change; every
 * field sits at its natural alignment with no implicit padding (checked
 * in snapshot.c), so the ioctls can fill the fields in place. */
struct snap_vcpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu; /* used when xsave_valid is 0 */
	/* struct kvm_xsave's region: newer <linux/kvm.h> gives the
	 * struct a flexible tail (KVM_GET_XSAVE2), which cannot sit inside
	 * another struct; KVM_GET_XSAVE fills exactly these 4096 bytes. */
	uint32_t xsave[1024];
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	uint32_t mp_pad; /* 0: debugregs at its natural alignment */
	struct kvm_debugregs debugregs;
	uint32_t xsave_valid, xcrs_valid;
	uint32_t nmsrs, reserved;
};

struct vm;
struct snap_file;

/* Writes the VM's snapshot to fd (a regular file, truncated first; guest
 * RAM sparse: zero pages become holes). The VM must be paused. *bytes
 * gets the bytes of RAM written. */
int vmm_snapshot_save(struct vm *vm, int fd, uint64_t *bytes,
		      struct hull_err *err);

/* The snapshot's header and state sections (everything but RAM) in one
 * buffer (*buf, caller frees), as the file's first header + state_len
 * bytes; the live migration stream carries it. The VM must be paused. */
int vmm_snapshot_state(struct vm *vm, uint8_t **buf, size_t *len,
		       struct hull_err *err);

/* Reads and checks a snapshot's header and state from fd, and that the
 * file is long enough for its RAM; *out is allocated (free it with
 * vmm_snapshot_file_free, *buf with free()). */
int vmm_snapshot_open(int fd, struct snap_file **out, uint8_t **buf,
		      struct hull_err *err);
void vmm_snapshot_file_free(struct snap_file *f);

/* Loads everything but RAM into a VM created with vm_create_from on the
 * same file, its devices set up and its vCPUs created but not started. */
int vmm_snapshot_load(struct vm *vm, const struct snap_file *f,
		      struct hull_err *err);

#endif
