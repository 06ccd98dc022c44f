/*
 * test_vmm_acpi.c - the ACPI table builder: the RSDP, RSDT and XSDT
 * checksums and pointers, every table's signature, length and checksum,
 * the FADT's PM registers, the DSDT's \_S5 package and the MADT's entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/acpi.h"
#include "vmm/vm.h"

#define BASE 0xe0000u

static uint8_t buf[0x2000];

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}
static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* The table at guest address a, checked: inside the block, checksum 0,
 * the expected signature. */
static const uint8_t *table(uint64_t a, const char *sig, size_t size)
{
	assert_true(a >= BASE && a + 36 <= BASE + size);
	const uint8_t *t = buf + (a - BASE);
	uint32_t len = rd32(t + 4);
	assert_true(len >= 36 && a + len <= BASE + size);
	assert_memory_equal(t, sig, 4);
	assert_int_equal(sum(t, len), 0);
	return t;
}

static void check(unsigned ncpus)
{
	size_t size = acpi_size(ncpus);
	assert_true(size <= sizeof(buf));
	/* it must fit below the MP table */
	assert_true(BASE + size <= VMM_MPTABLE_ADDR);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(acpi_build(buf, sizeof(buf), BASE, ncpus), size);

	const uint8_t *rsdp = buf;
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(sum(rsdp, 36), 0);
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(rd32(rsdp + 20), 36);

	const uint8_t *rsdt = table(rd32(rsdp + 16), "RSDT", size);
	const uint8_t *xsdt = table(rd64(rsdp + 24), "XSDT", size);
	unsigned n = (rd32(xsdt + 4) - 36) / 8;
	assert_int_equal(n, 2);
	assert_int_equal((rd32(rsdt + 4) - 36) / 4, n);
	const uint8_t *fadt = NULL, *madt = NULL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = rd64(xsdt + 36 + 8 * i);
		assert_int_equal(rd32(rsdt + 36 + 4 * i), a);
		const uint8_t *t = buf + (a - BASE);
		if (!memcmp(t, "FACP", 4))
			fadt = table(a, "FACP", size);
		else
			madt = table(a, "APIC", size);
	}
	assert_non_null(fadt);
	assert_non_null(madt);

	/* FADT: revision 6, full length, PM blocks, DSDT and FACS */
	assert_int_equal(fadt[8], 6);
	assert_int_equal(rd32(fadt + 4), 276);
	assert_int_equal(rd16(fadt + 46), ACPI_SCI_IRQ);
	assert_int_equal(rd32(fadt + 48), 0); /* no SMI_CMD */
	assert_int_equal(rd32(fadt + 56), 0x600);
	assert_int_equal(rd32(fadt + 64), 0x604);
	assert_int_equal(rd32(fadt + 76), 0x608);
	assert_int_equal(fadt[88], 4);
	assert_int_equal(fadt[89], 2);
	assert_int_equal(fadt[91], 4);
	assert_int_equal(rd32(fadt + 112) & (1u << 20), 0); /* not HW-reduced */
	assert_int_equal(rd32(fadt + 112) & (1u << 4),
			 0);		/* fixed power button */
	assert_int_equal(fadt[172], 1); /* X_PM1a_CNT: I/O */
	assert_int_equal(fadt[173], 16);
	assert_int_equal(rd64(fadt + 176), 0x604);
	assert_int_equal(rd64(fadt + 120), ACPI_RESET_PORT);
	assert_int_equal(fadt[128], ACPI_RESET_VALUE);
	assert_int_equal(rd64(fadt + 140), rd32(fadt + 40));
	assert_int_equal(rd32(fadt + 36), 0); /* FACS: X_FIRMWARE_CTRL only */

	uint64_t facs_at = rd64(fadt + 132);
	const uint8_t *facs = buf + (facs_at - BASE);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(rd32(facs + 4), 64);
	assert_int_equal(facs_at % 64, 0);

	const uint8_t *dsdt = table(rd64(fadt + 140), "DSDT", size);
	static const uint8_t s5[] = {0x08, '_',		'S',  '5',  '_',
				     0x12, 0x08,	0x04, 0x0a, ACPI_S5_TYP,
				     0x0a, ACPI_S5_TYP, 0,    0};
	assert_int_equal(rd32(dsdt + 4), 36 + sizeof(s5));
	assert_memory_equal(dsdt + 36, s5, sizeof(s5));

	/* MADT: one enabled local APIC per vCPU, the IOAPIC, two overrides */
	assert_int_equal(rd32(madt + 36), VMM_LAPIC_ADDR);
	uint32_t mlen = rd32(madt + 4);
	unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	for (const uint8_t *e = madt + 44; e < madt + mlen; e += e[1]) {
		assert_true(e[1] >= 2);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[3], lapics);
			assert_int_equal(rd32(e + 4), 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], ncpus);
			assert_int_equal(rd32(e + 4), VMM_IOAPIC_ADDR);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(rd32(e + 4), e[3]);
			if (e[3] == ACPI_SCI_IRQ)
				assert_int_equal(rd16(e + 8), 0x000d);
			isos++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 2);
	assert_int_equal(nmis, 1);
}

static void test_tables(void **state)
{
	check(1);
	check(2);
	check(64);
	check(254);
}

static void test_limits(void **state)
{
	assert_int_equal(acpi_build(buf, acpi_size(4) - 1, BASE, 4), 0);
	assert_int_equal(acpi_build(buf, sizeof(buf), BASE, 0), 0);
	assert_int_equal(acpi_build(buf, sizeof(buf), BASE, 255), 0);
	/* the size grows by one local APIC entry per vCPU */
	assert_int_equal(acpi_size(5) - acpi_size(4), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tables),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
