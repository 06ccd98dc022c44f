/*
 * mptable.c - MP table (Intel MP spec 1.4, chapter 4): one processor entry
 * per vCPU (APIC ID = index), a PCI and an ISA bus, the in-kernel IOAPIC,
 * ISA IRQs wired to the IOAPIC pins of the same number (KVM's routing,
 * irq_routing.c; IRQ 2 is the 8259 cascade and has no entry), PCI INTA#
 * routing, and LINT0/LINT1 as ExtINT and NMI.
 */
#include <string.h>

#include "vmm/mptable.h"
#include "vmm/vm.h"

#define MP_CPU 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_IOINT 3
#define MP_LINT 4

#define ISA_IRQS 16
#define HEADER 44

size_t mptable_size(unsigned ncpus, unsigned pci_slots)
{
	size_t pci = pci_slots > 1 ? pci_slots - 1 : 0;
	return 16 + HEADER + 20 * (size_t)ncpus + 8 * 2 + 8 +
	       8 * (ISA_IRQS - 1) + 8 * pci + 8 * 2;
}

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return (uint8_t)-s;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

size_t mptable_build(uint8_t *buf, size_t len, uint32_t base, unsigned ncpus,
		     unsigned pci_slots)
{
	size_t need = mptable_size(ncpus, pci_slots);
	if (len < need || ncpus == 0 || ncpus > 254)
		return 0;
	memset(buf, 0, need);

	uint8_t *fp = buf;
	uint8_t *cfg = buf + 16;
	uint8_t *e = cfg + HEADER;
	uint16_t count = 0;
	uint8_t ioapic_id = (uint8_t)ncpus;

	for (unsigned i = 0; i < ncpus; i++, count++, e += 20) {
		e[0] = MP_CPU;
		e[1] = (uint8_t)i;		   /* local APIC ID */
		e[2] = 0x14;			   /* local APIC version */
		e[3] = 0x01 | (i == 0 ? 0x02 : 0); /* enabled, bootstrap */
		put32(e + 4, 0x600);		   /* family 6 signature */
		put32(e + 8, 0x201);		   /* FPU, APIC */
	}
	static const struct {
		uint8_t id;
		char name[7];
	} buses[] = {
	    {0, "PCI   "},
	    {1, "ISA   "},
	};
	for (unsigned i = 0; i < 2; i++, count++, e += 8) {
		e[0] = MP_BUS;
		e[1] = buses[i].id;
		memcpy(e + 2, buses[i].name, 6);
	}
	e[0] = MP_IOAPIC;
	e[1] = ioapic_id;
	e[2] = 0x11;
	e[3] = 0x01;
	put32(e + 4, (uint32_t)VMM_IOAPIC_ADDR);
	e += 8;
	count++;
	for (unsigned irq = 0; irq < ISA_IRQS; irq++) {
		if (irq == 2)
			continue; /* the cascade */
		e[0] = MP_IOINT;
		e[1] = 0;	 /* vectored interrupt */
		put16(e + 2, 0); /* conforms to the ISA bus */
		e[4] = 1;	 /* ISA */
		e[5] = (uint8_t)irq;
		e[6] = ioapic_id;
		e[7] = (uint8_t)irq;
		count++;
		e += 8;
	}
	for (unsigned slot = 1; slot < pci_slots; slot++, count++, e += 8) {
		e[0] = MP_IOINT;
		e[1] = 0;
		put16(e + 2, 0x0d);	     /* level, active high */
		e[4] = 0;		     /* PCI bus 0 */
		e[5] = (uint8_t)(slot << 2); /* device, INTA# */
		e[6] = ioapic_id;
		e[7] = (uint8_t)(16 + slot % 8);
	}
	for (unsigned l = 0; l < 2; l++, count++, e += 8) {
		e[0] = MP_LINT;
		e[1] = l == 0 ? 3 : 1; /* ExtINT, NMI */
		put16(e + 2, 0);
		e[4] = 1;
		e[5] = 0;
		e[6] = 0xff; /* every local APIC */
		e[7] = (uint8_t)l;
	}

	memcpy(cfg, "PCMP", 4);
	put16(cfg + 4, (uint16_t)(e - cfg));
	cfg[6] = 4;
	memcpy(cfg + 8, "HULL    ", 8);
	memcpy(cfg + 16, "HULL-VMM    ", 12);
	put16(cfg + 34, count);
	put32(cfg + 36, (uint32_t)VMM_LAPIC_ADDR);
	cfg[7] = checksum(cfg, (size_t)(e - cfg));

	memcpy(fp, "_MP_", 4);
	put32(fp + 4, base + 16);
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = 4; /* spec 1.4 */
	fp[10] = checksum(fp, 16);
	return need;
}
