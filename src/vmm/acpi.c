/*
 * acpi.c - the ACPI tables (ACPI 6.4 chapter 5), laid out in one block:
 *
 *   RSDP (36 bytes, revision 2) -> RSDT (32-bit) and XSDT (64-bit), each
 *   listing the FADT and the MADT; the FADT names the FACS and the DSDT.
 *
 * The FADT is a full (not hardware-reduced) one: PM1a event and control
 * blocks and a 24-bit PM timer at ACPI_PM_BASE, SCI on ISA IRQ 9, no
 * SMI_CMD (the machine is always in ACPI mode: SCI_EN reads as set), the
 * reset register at 0xcf9, the fixed power button (pressed from the
 * control socket) and no sleep button. The DSDT holds
 * one object, Name (\_S5, Package () {5, 5, 0, 0}): Linux's poweroff writes
 * SLP_TYP 5 with SLP_EN to PM1a_CNT, and pm.c ends the VM (exit status 0).
 * The MADT lists a local APIC per vCPU (APIC ID = processor UID = vCPU
 * index), the IOAPIC (ID ncpus, GSIs 0-23, as in the MP table), interrupt
 * source overrides for IRQ 0 (identity: KVM routes the PIT to pin 0) and
 * IRQ 9 (the SCI: level, active high), and LINT1 as NMI on every CPU.
 */
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/vm.h"

#define HDR 36
#define FADT_LEN 276
#define FACS_LEN 64
#define N_TABLES 2

/* AML: Name (_S5_, Package (4) {5, 5, 0, 0}) */
static const uint8_t dsdt_aml[] = {
    0x08, '_',	       'S',  '5',	  '_', /* NameOp, NameSeg */
    0x12, 0x08,	       0x04, /* PackageOp, PkgLength 8, 4 elements */
    0x0a, ACPI_S5_TYP, 0x0a, ACPI_S5_TYP, /* BytePrefix 5, BytePrefix 5 */
    0x00, 0x00,				  /* ZeroOp, ZeroOp */
};

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static size_t madt_len(unsigned ncpus)
{
	return 44 + 8 * (size_t)ncpus + 12 + 10 * 2 + 6;
}

/* The offsets of each table in the block. */
struct layout {
	size_t rsdp, facs, rsdt, xsdt, fadt, dsdt, madt, end;
};

static struct layout layout_of(unsigned ncpus)
{
	struct layout l;
	l.rsdp = 0;
	l.facs = 64; /* 64-byte aligned */
	l.rsdt = l.facs + FACS_LEN;
	l.xsdt = align16(l.rsdt + HDR + 4 * N_TABLES);
	l.fadt = align16(l.xsdt + HDR + 8 * N_TABLES);
	l.dsdt = align16(l.fadt + FADT_LEN);
	l.madt = align16(l.dsdt + HDR + sizeof(dsdt_aml));
	l.end = l.madt + madt_len(ncpus);
	return l;
}

size_t acpi_size(unsigned ncpus)
{
	return layout_of(ncpus).end;
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
static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* The common table header; the checksum is set by header_sum once the
 * body is written. */
static void header(uint8_t *t, const char sig[4], size_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, (uint32_t)len);
	t[8] = rev;
	memcpy(t + 10, "HULL  ", 6);   /* OEM ID */
	memcpy(t + 16, "HULL-VMM", 8); /* OEM table ID */
	put32(t + 24, 1);	       /* OEM revision */
	memcpy(t + 28, "HULL", 4);     /* creator ID */
	put32(t + 32, 1);	       /* creator revision */
}

static void header_sum(uint8_t *t)
{
	uint32_t len;
	memcpy(&len, t + 4, 4);
	t[9] = 0;
	t[9] = checksum(t, len);
}

/* A Generic Address Structure for an I/O port block. */
static void gas_io(uint8_t *g, uint16_t port, unsigned bytes, uint8_t access)
{
	g[0] = 1;		     /* system I/O space */
	g[1] = (uint8_t)(bytes * 8); /* register bit width */
	g[2] = 0;		     /* bit offset */
	g[3] = access;		     /* 1 byte, 2 word, 3 dword */
	put64(g + 4, port);
}

static void build_fadt(uint8_t *t, uint32_t facs, uint32_t dsdt)
{
	header(t, "FACP", FADT_LEN, 6);
	/* FIRMWARE_CTRL stays 0: ACPI 6 wants one of it and X_FIRMWARE_CTRL
	 * (Linux lists the FACS twice otherwise) */
	put32(t + 40, dsdt);
	put16(t + 46, ACPI_SCI_IRQ); /* SCI_INT */
	/* SMI_CMD 0: always in ACPI mode */
	put32(t + 56, ACPI_PM1_EVT); /* PM1a_EVT_BLK */
	put32(t + 64, ACPI_PM1_CNT); /* PM1a_CNT_BLK */
	put32(t + 76, ACPI_PM_TMR);  /* PM_TMR_BLK */
	t[88] = 4;		     /* PM1_EVT_LEN */
	t[89] = 2;		     /* PM1_CNT_LEN */
	t[91] = 4;		     /* PM_TMR_LEN */
	put16(t + 96, 101);	     /* P_LVL2_LAT: no C2 */
	put16(t + 98, 1001);	     /* P_LVL3_LAT: no C3 */
	/* IAPC_BOOT_ARCH: legacy devices, an 8042, no VGA */
	put16(t + 109, 0x0001 | 0x0002 | 0x0004);
	/* flags: WBINVD, PROC_C1, SLP_BUTTON (no sleep button; PWR_BUTTON
	 * clear: the power button is the fixed one in PM1, pm.c),
	 * RESET_REG_SUP */
	put32(t + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 10));
	gas_io(t + 116, ACPI_RESET_PORT, 1, 1);
	t[128] = ACPI_RESET_VALUE;
	t[131] = 4;	      /* FADT minor version: 6.4 */
	put64(t + 132, facs); /* X_FIRMWARE_CTRL */
	put64(t + 140, dsdt); /* X_DSDT */
	gas_io(t + 148, ACPI_PM1_EVT, 4, 2);
	gas_io(t + 172, ACPI_PM1_CNT, 2, 2);
	gas_io(t + 208, ACPI_PM_TMR, 4, 3);
	memcpy(t + 268, "HULL-VMM", 8); /* hypervisor vendor identity */
	header_sum(t);
}

static void build_madt(uint8_t *t, unsigned ncpus)
{
	size_t len = madt_len(ncpus);
	header(t, "APIC", len, 5);
	put32(t + 36, (uint32_t)VMM_LAPIC_ADDR);
	put32(t + 40, 1); /* PCAT_COMPAT: there are 8259s */
	uint8_t *e = t + 44;
	for (unsigned i = 0; i < ncpus; i++, e += 8) {
		e[0] = 0; /* processor local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC ID */
		put32(e + 4, 1);   /* enabled */
	}
	e[0] = 1; /* I/O APIC */
	e[1] = 12;
	e[2] = (uint8_t)ncpus; /* its ID, as in the MP table */
	put32(e + 4, (uint32_t)VMM_IOAPIC_ADDR);
	put32(e + 8, 0); /* GSI base */
	e += 12;
	static const struct {
		uint8_t irq;
		uint16_t flags;
	} iso[2] = {
	    {0, 0x0000},	    /* PIT: pin 0, bus defaults */
	    {ACPI_SCI_IRQ, 0x000d}, /* SCI: active high, level */
	};
	for (unsigned i = 0; i < 2; i++, e += 10) {
		e[0] = 2; /* interrupt source override */
		e[1] = 10;
		e[2] = 0; /* ISA */
		e[3] = iso[i].irq;
		put32(e + 4, iso[i].irq); /* GSI: the pin of the same number */
		put16(e + 8, iso[i].flags);
	}
	e[0] = 4; /* local APIC NMI */
	e[1] = 6;
	e[2] = 0xff; /* every processor */
	put16(e + 3, 0);
	e[5] = 1; /* LINT1 */
	header_sum(t);
}

size_t acpi_build(uint8_t *buf, size_t len, uint32_t base, unsigned ncpus)
{
	if (ncpus == 0 || ncpus > 254)
		return 0;
	struct layout l = layout_of(ncpus);
	if (len < l.end)
		return 0;
	memset(buf, 0, l.end);

	uint8_t *facs = buf + l.facs;
	memcpy(facs, "FACS", 4);
	put32(facs + 4, FACS_LEN);
	facs[32] = 2; /* version */

	uint8_t *dsdt = buf + l.dsdt;
	header(dsdt, "DSDT", HDR + sizeof(dsdt_aml), 2);
	memcpy(dsdt + HDR, dsdt_aml, sizeof(dsdt_aml));
	header_sum(dsdt);

	build_fadt(buf + l.fadt, base + (uint32_t)l.facs,
		   base + (uint32_t)l.dsdt);
	build_madt(buf + l.madt, ncpus);

	const size_t tables[N_TABLES] = {l.fadt, l.madt};
	uint8_t *rsdt = buf + l.rsdt, *xsdt = buf + l.xsdt;
	header(rsdt, "RSDT", HDR + 4 * N_TABLES, 1);
	header(xsdt, "XSDT", HDR + 8 * N_TABLES, 1);
	for (unsigned i = 0; i < N_TABLES; i++) {
		put32(rsdt + HDR + 4 * i, base + (uint32_t)tables[i]);
		put64(xsdt + HDR + 8 * i, base + (uint64_t)tables[i]);
	}
	header_sum(rsdt);
	header_sum(xsdt);

	uint8_t *rsdp = buf + l.rsdp;
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "HULL  ", 6);
	rsdp[15] = 2; /* revision: ACPI 2.0+ */
	put32(rsdp + 16, base + (uint32_t)l.rsdt);
	put32(rsdp + 20, 36);
	put64(rsdp + 24, base + (uint64_t)l.xsdt);
	rsdp[8] = checksum(rsdp, 20);
	rsdp[32] = checksum(rsdp, 36);
	return l.end;
}
