/*
 * platform.c - assembles the machine: legacy devices at their PC
 * addresses, then (when configured) PCI and the virtio devices, then the
 * firmware tables. Adding a device is a line here and a file of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "vmm/acpi.h"
#include "vmm/devices.h"
#include "vmm/mptable.h"
#include "vmm/pci.h"
#include "vmm/smbios.h"
#include "vmm/virtio_devices.h"
#include "vmm/platform.h"

int platform_init(struct vm *vm, const struct vmm_config *cfg,
		  struct hull_err *err)
{
	if (!(vm->com1 = serial_new(vm, 0x3f8, 4, err)) ||
	    !(vm->com2 = serial_new(vm, 0x2f8, 3, err)) ||
	    !(vm->kbd = i8042_new(vm, err)) || rtc_init(vm, err) < 0 ||
	    pm_init(vm, err) < 0)
		return -err->code;
	if (cfg->boot_timer && boot_timer_init(vm, err) < 0)
		return -err->code;

	for (unsigned i = 0; i < cfg->n_disks; i++) {
		/* a live migration's target takes its disks once the stream
		 * has ended (migrate_receive_disks), not now */
		if (cfg->incoming_fd >= 0)
			disk_init(&vm->disks[i], &cfg->disks[i]);
		else if (disk_open(&vm->disks[i], &cfg->disks[i], true, err) <
			 0)
			return -err->code;
		vm->n_disks++;
	}
	if (cfg->n_disks || cfg->n_nets || cfg->rng || cfg->vconsole) {
		if (!(vm->pci = pci_new(vm, err)))
			return -err->code;
	}
	for (unsigned i = 0; i < cfg->n_disks; i++) {
		struct virtio_dev *v =
		    virtio_blk_new(vm, vm->pci, &vm->disks[i], err);
		if (!v)
			return -err->code;
		vm->virtio[vm->n_virtio++] = v;
	}
	for (unsigned i = 0; i < cfg->n_nets; i++) {
		struct virtio_dev *v =
		    virtio_net_new(vm, vm->pci, &cfg->nets[i], err);
		if (!v)
			return -err->code;
		vm->virtio[vm->n_virtio++] = v;
	}
	if (cfg->rng) {
		struct virtio_dev *v = virtio_rng_new(vm, vm->pci, err);
		if (!v)
			return -err->code;
		vm->virtio[vm->n_virtio++] = v;
	}
	if (cfg->vconsole) {
		if (!(vm->vcon = virtio_console_new(vm, vm->pci, err)))
			return -err->code;
		vm->virtio[vm->n_virtio++] = vm->vcon;
	}

	/* A restored guest's RAM already holds the tables (and whatever the
	 * guest did with them). */
	if (vm->restoring)
		return 0;
	unsigned slots = vm->pci ? pci_slots_used(vm->pci) : 0;
	size_t mplen = mptable_size(vm->ncpus, slots);
	uint8_t *mp = vm_gpa(vm, VMM_MPTABLE_ADDR, mplen);
	if (!mp || VMM_MPTABLE_ADDR + mplen > VMM_SMBIOS_ADDR ||
	    !mptable_build(mp, mplen, VMM_MPTABLE_ADDR, vm->ncpus, slots))
		return hull_err_set(err, E2BIG, "cpus: MP table does not fit");

	size_t acpilen = acpi_size(vm->ncpus);
	uint8_t *acpi = vm_gpa(vm, VMM_ACPI_ADDR, acpilen);
	if (!acpi || VMM_ACPI_ADDR + acpilen > VMM_MPTABLE_ADDR ||
	    !acpi_build(acpi, acpilen, VMM_ACPI_ADDR, vm->ncpus))
		return hull_err_set(err, E2BIG, "cpus: ACPI tables do not fit");

	struct smbios_info si = {
	    .manufacturer = "Joyent",
	    .product = cfg->product ? cfg->product : "SmartDC HVM",
	    .version = "hull-vmm " HULL_VERSION,
	};
	char serial[37];
	if (cfg->uuid) {
		smbios_parse_uuid(cfg->uuid,
				  si.uuid); /* checked by the config */
	} else {
		/* a random (version 4) UUID, as a VM without one gets on
		 * SmartOS */
		if (getrandom(si.uuid, sizeof(si.uuid), 0) != sizeof(si.uuid))
			return hull_err_sys(err, errno, "getrandom");
		si.uuid[6] = (uint8_t)((si.uuid[6] & 0x0f) | 0x40);
		si.uuid[8] = (uint8_t)((si.uuid[8] & 0x3f) | 0x80);
	}
	const uint8_t *u = si.uuid;
	snprintf(serial, sizeof(serial),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%"
		 "02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	si.serial = serial;
	uint8_t *sm = vm_gpa(vm, VMM_SMBIOS_ADDR, 0x1000);
	if (!sm || !smbios_build(sm, 0x1000, VMM_SMBIOS_ADDR, &si))
		return hull_err_set(err, E2BIG, "SMBIOS tables do not fit");
	return 0;
}

int platform_start(struct vm *vm, struct hull_err *err)
{
	return 0;
}

unsigned platform_fds(struct vm *vm, int *out, unsigned max)
{
	unsigned n = 0;
	if (vm->com1)
		n += serial_fds(vm->com1, out + n, max - n);
	if (vm->com2)
		n += serial_fds(vm->com2, out + n, max - n);
	for (unsigned i = 0; i < vm->n_disks && n < max; i++)
		if (vm->disks[i].fd >= 0)
			out[n++] = vm->disks[i].fd;
	for (unsigned i = 0; i < vm->n_virtio; i++) {
		n += virtio_pci_fds(vm->virtio[i], out + n, max - n);
		n += virtio_net_fds(vm->virtio[i], out + n, max - n);
	}
	return n;
}

void platform_fini(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_disks; i++)
		disk_close(&vm->disks[i]);
	vm->n_disks = 0;
}
