/*
 * pm.c - power management without ACPI tables: a PM1a control register at
 * port 0x604 (writing SLP_EN, bit 13, powers off: the port and value QEMU's
 * PC machines use, so test guests and firmware written for them work) and
 * the reset control register at 0xcf9 (bit 2 resets, as on PIIX/ICH).
 */
#include "vmm/devices.h"

static void pm1_write(void *dev, uint64_t off, const uint8_t *data,
		      unsigned len)
{
	struct vm *vm = dev;
	uint16_t v = data[0] | (len > 1 ? (uint16_t)(data[1] << 8) : 0);
	if (off == 0 && len >= 2 && (v & 0x2000))
		vm_request_exit(vm, VM_EXIT_POWEROFF);
}

static void pm1_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		data[i] = 0;
}

static void rst_write(void *dev, uint64_t off, const uint8_t *data,
		      unsigned len)
{
	if (len == 1 && (data[0] & 0x04))
		vm_request_exit(dev, VM_EXIT_REBOOT);
}

static const struct vm_io_ops pm1_ops = {pm1_read, pm1_write};
static const struct vm_io_ops rst_ops = {pm1_read, rst_write};

int pm_init(struct vm *vm, struct hull_err *err)
{
	if (vm_pio_register(vm, 0x604, 2, &pm1_ops, vm, err) < 0 ||
	    vm_pio_register(vm, 0xcf9, 1, &rst_ops, vm, err) < 0)
		return -err->code;
	return 0;
}
