/*
 * pm.c - the ACPI power management registers the FADT names (acpi.h):
 *
 *   PM1a_EVT (ACPI_PM_BASE + 0): status (write 1 to clear) and enable.
 *     The one event is the fixed power button (PWRBTN_STS/EN, bit 8),
 *     pressed from the control socket ("powerdown"): while its status and
 *     enable bits are both set, the SCI (ISA IRQ 9, level, active high) is
 *     asserted, so Linux's button driver sees it and powers off cleanly.
 *   PM1a_CNT (+4): SCI_EN reads as set (no SMI_CMD: always ACPI mode);
 *     SLP_EN (bit 13) with SLP_TYP 5 (the DSDT's \_S5) powers off, as does
 *     SLP_TYP 0 (QEMU's value, so guests written for QEMU work). Other
 *     sleep states are not offered and are ignored.
 *   PM_TMR (+8): the 24-bit ACPI timer at 3.579545 MHz.
 *
 * And the reset control register at 0xcf9 (bit 2 resets, as on PIIX/ICH;
 * the FADT's RESET_REG).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/acpi.h"
#include "vmm/devices.h"
#include "lib/xalloc.h"

#define PM1_PWRBTN 0x0100
#define PM1_STS_MASK 0x8d31 /* the write-1-to-clear status bits */

struct pm {
	struct vm *vm;
	pthread_mutex_t lock; /* vCPU threads and the I/O thread */
	uint16_t sts, en;
	uint16_t cnt;
};

/* The SCI follows status & enable (called with the lock held). */
static void sci_update(struct pm *pm)
{
	vm_irq_line(pm->vm, ACPI_SCI_IRQ, (pm->sts & pm->en) != 0);
}

void pm_power_button(struct pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

static uint16_t le16(const uint8_t *data, unsigned len)
{
	return data[0] | (len > 1 ? (uint16_t)(data[1] << 8) : 0);
}

static void put_le(uint8_t *data, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void pm_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pm *pm = dev;
	bool off_now = false;
	pthread_mutex_lock(&pm->lock);
	if (off == 0 && len >= 2) { /* PM1a status */
		pm->sts &= (uint16_t) ~(le16(data, len) & PM1_STS_MASK);
		if (len == 4) /* and enable */
			pm->en = le16(data + 2, 2);
		sci_update(pm);
	} else if (off == 2 && len >= 2) { /* PM1a enable */
		pm->en = le16(data, len);
		sci_update(pm);
	} else if (off == 4 && len >= 2) { /* PM1a control */
		uint16_t v = le16(data, len);
		pm->cnt = v & 0x1c06; /* SLP_TYP, GBL_RLS, BM_RLD */
		unsigned typ = ACPI_PM1_SLP_TYP(v);
		off_now =
		    (v & ACPI_PM1_SLP_EN) && (typ == ACPI_S5_TYP || typ == 0);
	}
	pthread_mutex_unlock(&pm->lock);
	if (off_now)
		vm_request_exit(pm->vm, VM_EXIT_POWEROFF);
}

static void pm_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pm *pm = dev;
	uint32_t v = 0;
	pthread_mutex_lock(&pm->lock);
	if (off == 0)
		v = pm->sts | (uint32_t)pm->en << 16;
	else if (off == 2)
		v = pm->en;
	else if (off == 4)
		v = pm->cnt | ACPI_PM1_SCI_EN;
	pthread_mutex_unlock(&pm->lock);
	if (off == 8) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		unsigned __int128 ns =
		    (unsigned __int128)ts.tv_sec * 1000000000u +
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
	pthread_mutex_init(&pm->lock, NULL);
	/* kept for the VM's lifetime, as the other legacy devices */
	if (vm_pio_register(vm, ACPI_PM_BASE, 12, &pm_ops, pm, err) < 0) {
		free(pm);
		return -err->code;
	}
	vm->pm = pm;
	if (vm_pio_register(vm, ACPI_RESET_PORT, 1, &rst_ops, vm, err) < 0)
		return -err->code;
	return 0;
}

/* Snapshot state (docs/hull-vmm.md): PM1a status, enable and control;
 * the PM timer runs on the host's clock. */
size_t pm_save(struct pm *pm, uint8_t *buf, size_t max)
{
	uint16_t st[3];
	if (max < sizeof(st))
		return 0;
	pthread_mutex_lock(&pm->lock);
	st[0] = pm->sts;
	st[1] = pm->en;
	st[2] = pm->cnt;
	pthread_mutex_unlock(&pm->lock);
	memcpy(buf, st, sizeof(st));
	return sizeof(st);
}

int pm_load(struct pm *pm, const uint8_t *buf, size_t len)
{
	uint16_t st[3];
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(st, buf, sizeof(st));
	pthread_mutex_lock(&pm->lock);
	pm->sts = st[0] & PM1_STS_MASK;
	pm->en = st[1];
	pm->cnt = st[2] & 0x1c06;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}
