/*
 * test_vmm_smbios.c - the SMBIOS entry point and structures: checksums,
 * strings, and the UUID's mixed-endian layout.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/smbios.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static const char *str(const uint8_t *st, unsigned idx)
{
	const char *s = (const char *)st + st[1];
	while (--idx)
		s += strlen(s) + 1;
	return s;
}

static void test_uuid_parse(void **state)
{
	uint8_t u[16];
	assert_int_equal(
	    smbios_parse_uuid("5b1e0b6a-8a0c-4a5e-9c9f-2f3b3a9f0e01", u), 0);
	assert_int_equal(u[0], 0x5b);
	assert_int_equal(u[15], 0x01);
	assert_int_equal(
	    smbios_parse_uuid("5B1E0B6A8A0C4A5E9C9F2F3B3A9F0E01", u), 0);
	assert_int_equal(
	    smbios_parse_uuid("5b1e0b6a-8a0c-4a5e-9c9f-2f3b3a9f0e0", u),
	    -EINVAL);
	assert_int_equal(
	    smbios_parse_uuid("zz1e0b6a-8a0c-4a5e-9c9f-2f3b3a9f0e01", u),
	    -EINVAL);
	assert_int_equal(
	    smbios_parse_uuid("5b1e0b6a-8a0c-4a5e-9c9f-2f3b3a9f0e0101", u),
	    -EINVAL);
}

static void test_tables(void **state)
{
	uint8_t buf[1024];
	struct smbios_info si = {
	    "Joyent", "SmartDC HVM", "hull-vmm 0.1.0", "serial-1", {0}};
	smbios_parse_uuid("00112233-4455-6677-8899-aabbccddeeff", si.uuid);
	size_t n = smbios_build(buf, sizeof(buf), 0xf1000, &si);
	assert_true(n > 31 && n < sizeof(buf));
	assert_memory_equal(buf, "_SM_", 4);
	assert_int_equal(sum(buf, 31), 0);
	assert_memory_equal(buf + 16, "_DMI_", 5);
	assert_int_equal(sum(buf + 16, 15), 0);
	uint32_t addr;
	uint16_t len, count;
	memcpy(&len, buf + 22, 2);
	memcpy(&addr, buf + 24, 4);
	memcpy(&count, buf + 28, 2);
	assert_int_equal(count, 3);
	assert_int_equal(addr, 0xf1000 + 32);
	assert_int_equal(32 + len, n);

	const uint8_t *t = buf + 32;
	unsigned seen_types = 0;
	for (unsigned i = 0; i < count; i++) {
		if (t[0] == 1) {
			assert_string_equal(str(t, t[4]), "Joyent");
			assert_string_equal(str(t, t[5]), "SmartDC HVM");
			assert_string_equal(str(t, t[7]), "serial-1");
			static const uint8_t want[16] = {
			    0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
			    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
			assert_memory_equal(t + 8, want, 16);
		}
		seen_types |= 1u << (t[0] == 127 ? 2 : t[0]);
		const uint8_t *s = t + t[1];
		while (s[0] || s[1])
			s++;
		t = s + 2;
	}
	assert_int_equal(seen_types, 7);
	assert_true(t == buf + n);
	assert_int_equal(smbios_build(buf, 40, 0xf1000, &si), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uuid_parse),
	    cmocka_unit_test(test_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
