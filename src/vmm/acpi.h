/*
 * acpi.h - ACPI tables (ACPI 6.x): how a guest finds its CPUs, the IOAPIC
 * and the power-off register without the MP table. RSDP, RSDT and XSDT,
 * a FADT with PM1a event/control blocks and a PM timer on I/O ports
 * hull-vmm serves (pm.c), a FACS, a DSDT holding only the \_S5 package, and
 * a MADT with one local APIC per vCPU, the IOAPIC and the ISA overrides.
 */
#ifndef HULL_VMM_ACPI_H
#define HULL_VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* The PM register block (QEMU's ICH9 layout, so firmware written for it
 * works): PM1a status/enable at +0, PM1a control at +4, PM timer at +8. */
#define ACPI_PM_BASE 0x600
#define ACPI_PM1_EVT (ACPI_PM_BASE + 0)
#define ACPI_PM1_CNT (ACPI_PM_BASE + 4)
#define ACPI_PM_TMR (ACPI_PM_BASE + 8)
#define ACPI_SCI_IRQ 9
/* PM1 control: SCI_EN (bit 0), SLP_TYP (bits 10-12), SLP_EN (bit 13). */
#define ACPI_PM1_SCI_EN 0x0001
#define ACPI_PM1_SLP_EN 0x2000
#define ACPI_PM1_SLP_TYP(v) (((v) >> 10) & 7)
/* The sleep type the DSDT's \_S5 package names. */
#define ACPI_S5_TYP 5
/* The reset register (FADT RESET_REG) and the value written to it. */
#define ACPI_RESET_PORT 0xcf9
#define ACPI_RESET_VALUE 0x06

/* Bytes the tables need for ncpus. */
size_t acpi_size(unsigned ncpus);

/* Writes every table into buf, which the guest sees at guest address base
 * (16-byte aligned; the RSDP comes first, where a guest scanning
 * 0xe0000-0xfffff finds it). Pure. Returns bytes written, or 0 when len is
 * too small or ncpus is not 1..254. */
size_t acpi_build(uint8_t *buf, size_t len, uint32_t base, unsigned ncpus);

#endif
