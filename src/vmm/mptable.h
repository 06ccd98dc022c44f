/*
 * mptable.h - the Intel MultiProcessor Specification 1.4 table: how a guest
 * without ACPI finds its CPUs, the IOAPIC and the ISA interrupt wiring.
 */
#ifndef HULL_VMM_MPTABLE_H
#define HULL_VMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes the table needs for ncpus (it lives in the BIOS area at 0xf0000,
 * where a guest scans for it). */
size_t mptable_size(unsigned ncpus, unsigned pci_slots);

/* Writes the floating pointer and the configuration table into buf, which
 * the guest sees at guest address base: ncpus processors, and INTA# of
 * PCI slots 1..pci_slots-1 routed to IOAPIC pins 16 + slot % 8 (level,
 * active high, as hull-vmm drives them). Pure. Returns bytes written, or
 * 0 when len is too small. */
size_t mptable_build(uint8_t *buf, size_t len, uint32_t base, unsigned ncpus,
		     unsigned pci_slots);

#endif
