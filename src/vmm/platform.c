/*
 * platform.c - assembles the machine: legacy devices at their PC
 * addresses, then (when configured) PCI and the virtio devices, then the
 * firmware tables. Adding a device is a line here and a file of its own.
 */
#include <errno.h>

#include "vmm/devices.h"
#include "vmm/mptable.h"
#include "vmm/platform.h"

int platform_init(struct vm *vm, const struct vmm_config *cfg,
		  struct hull_err *err)
{
	if (!(vm->com1 = serial_new(vm, 0x3f8, 4, err)) ||
	    !(vm->com2 = serial_new(vm, 0x2f8, 3, err)) ||
	    !(vm->kbd = i8042_new(vm, err)) ||
	    rtc_init(vm, err) < 0 || pm_init(vm, err) < 0)
		return -err->code;
	if (cfg->boot_timer && boot_timer_init(vm, err) < 0)
		return -err->code;

	for (unsigned i = 0; i < cfg->n_disks; i++) {
		if (disk_open(&vm->disks[i], &cfg->disks[i], err) < 0)
			return -err->code;
		vm->n_disks++;
	}

	size_t mplen = mptable_size(vm->ncpus);
	uint8_t *mp = vm_gpa(vm, VMM_MPTABLE_ADDR, mplen);
	if (!mp || VMM_MPTABLE_ADDR + mplen > VMM_SMBIOS_ADDR ||
	    !mptable_build(mp, mplen, VMM_MPTABLE_ADDR, vm->ncpus))
		return hull_err_set(err, E2BIG, "cpus: MP table does not fit");
	return 0;
}

int platform_start(struct vm *vm, struct hull_err *err)
{
	return 0;
}

unsigned platform_fds(struct vm *vm, int *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < vm->n_disks && n < max; i++)
		out[n++] = vm->disks[i].fd;
	return n;
}

void platform_fini(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_disks; i++)
		disk_close(&vm->disks[i]);
	vm->n_disks = 0;
}
