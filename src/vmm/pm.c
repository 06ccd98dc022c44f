/*
 * pm.c - the ACPI power management registers the FADT names (acpi.h):
 *
 *   PM1a_EVT (ACPI_PM_BASE + 0): status (write 1 to clear) and enable.
 *     Nothing raises an event (no power button), so status stays 0 and
 *     the SCI is never asserted; enable bits are kept for read-back.
 *   PM1a_CNT (+4): SCI_EN reads as set (no SMI_CMD: always ACPI mode);
 *     SLP_EN (bit 13) with SLP_TYP 5 (the DSDT's \_S5) powers off, as does
 *     SLP_TYP 0 (QEMU's value, so guests written for QEMU work). Other
 *     sleep states are not offered and are ignored.
 *   PM_TMR (+8): the 24-bit ACPI timer at 3.579545 MHz.
 *
 * And the reset control register at 0xcf9 (bit 2 resets, as on PIIX/ICH;
 * the FADT's RESET_REG).
 */
#include <stdlib.h>
#include <time.h>

#include "vmm/acpi.h"
#include "vmm/devices.h"
#include "lib/xalloc.h"

struct pm {
	struct vm *vm;
	uint16_t en;
	uint16_t cnt;
};

static uint16_t le16(const uint8_t *data, unsigned len)
{
	return data[0] | (len > 1 ? (uint16_t)(data[1] << 8) : 0);
}

static void put_le(uint8_t *data, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void pm_write(void *dev, uint64_t off, const uint8_t *data,
		     unsigned len)
{
	struct pm *pm = dev;
	if (off == 2 && len >= 2) {                 /* PM1a enable */
		pm->en = le16(data, len);
	} else if (off == 4 && len >= 2) {          /* PM1a control */
		uint16_t v = le16(data, len);
		pm->cnt = v & 0x1c06;               /* SLP_TYP, GBL_RLS, BM_RLD */
		unsigned typ = ACPI_PM1_SLP_TYP(v);
		if ((v & ACPI_PM1_SLP_EN) && (typ == ACPI_S5_TYP || typ == 0))
			vm_request_exit(pm->vm, VM_EXIT_POWEROFF);
	}
	/* status (off 0): write 1 to clear, and nothing is ever set */
}

static void pm_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pm *pm = dev;
	uint32_t v = 0;
	if (off == 2)
		v = pm->en;
	else if (off == 4)
		v = pm->cnt | ACPI_PM1_SCI_EN;
	else if (off == 8) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		unsigned __int128 ns = (unsigned __int128)ts.tv_sec * 1000000000u +
				       (unsigned)ts.tv_nsec;
		v = (uint32_t)(ns * 3579545u / 1000000000u) & 0xffffff;
	}
	put_le(data, len, v);
}

static void rst_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	put_le(data, len, 0);
}

static void rst_write(void *dev, uint64_t off, const uint8_t *data,
		      unsigned len)
{
	if (len == 1 && (data[0] & 0x04))
		vm_request_exit(dev, VM_EXIT_REBOOT);
}

static const struct vm_io_ops pm_ops = {pm_read, pm_write};
static const struct vm_io_ops rst_ops = {rst_read, rst_write};

int pm_init(struct vm *vm, struct hull_err *err)
{
	struct pm *pm = xcalloc(1, sizeof(*pm));
	pm->vm = vm;
	/* kept for the VM's lifetime, as the other legacy devices */
	if (vm_pio_register(vm, ACPI_PM_BASE, 12, &pm_ops, pm, err) < 0) {
		free(pm);
		return -err->code;
	}
	if (vm_pio_register(vm, ACPI_RESET_PORT, 1, &rst_ops, vm, err) < 0)
		return -err->code;
	return 0;
}
