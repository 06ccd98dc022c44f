/*
 * platform.h - the machine hull-vmm builds around the vCPUs: legacy PC
 * devices, PCI with the virtio devices the config asks for, and the
 * firmware tables (MP table, SMBIOS) guests read.
 */
#ifndef HULL_VMM_PLATFORM_H
#define HULL_VMM_PLATFORM_H

#include "lib/err.h"
#include "vmm/config.h"
#include "vmm/vm.h"

/* Creates every device and table (opening disks and taps); before the
 * kernel is loaded. */
int platform_init(struct vm *vm, const struct vmm_config *cfg,
		  struct hull_err *err);
/* Starts device I/O on the I/O thread. */
int platform_start(struct vm *vm, struct hull_err *err);
/* Descriptors the devices hold (disks, taps, eventfds). */
unsigned platform_fds(struct vm *vm, int *out, unsigned max);
void platform_fini(struct vm *vm);

#endif
