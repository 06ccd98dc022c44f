/*
 * test_vmm_e820.c - the guest memory map and the MP table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/e820.h"
#include "vmm/mptable.h"
#include "vmm/vm.h"

static uint64_t ram(const struct e820_entry *e, unsigned n)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == E820_RAM)
			t += e[i].size;
	return t;
}

static void test_small(void **state)
{
	struct e820_entry e[E820_MAX];
	unsigned n = e820_build(64ull << 20, e);
	assert_int_equal(n, 4);
	assert_true(e[0].addr == 0 && e[0].size == 0x9fc00 &&
		    e[0].type == E820_RAM);
	assert_true(e[3].addr == 0x100000 &&
		    e[3].addr + e[3].size == 64ull << 20);
	assert_true(ram(e, n) == (64ull << 20) - 0x100000 + 0x9fc00);
	/* sorted, not overlapping */
	for (unsigned i = 1; i < n; i++)
		assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
}

static void test_above_4g(void **state)
{
	struct e820_entry e[E820_MAX];
	unsigned n = e820_build(8ull << 30, e);
	assert_int_equal(n, 5);
	assert_true(e[3].addr + e[3].size == VMM_MMIO_HOLE);
	assert_true(e[4].addr == 1ull << 32);
	assert_true(e[4].size == (8ull << 30) - VMM_MMIO_HOLE);
	assert_true(ram(e, n) == (8ull << 30) - 0x100000 + 0x9fc00);
	/* exactly 3 GiB: nothing above 4 GiB */
	assert_int_equal(e820_build(VMM_MMIO_HOLE, e), 4);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void test_mptable(void **state)
{
	uint8_t buf[4096];
	for (unsigned cpus = 1; cpus <= 64; cpus += 21) {
		size_t len = mptable_size(cpus, cpus % 5);
		assert_true(len < sizeof(buf));
		assert_int_equal(
		    mptable_build(buf, sizeof(buf), 0xf0000, cpus, cpus % 5),
		    len);
		assert_memory_equal(buf, "_MP_", 4);
		assert_int_equal(sum(buf, 16), 0);
		uint32_t cfg;
		memcpy(&cfg, buf + 4, 4);
		assert_int_equal(cfg, 0xf0010);
		uint8_t *c = buf + 16;
		assert_memory_equal(c, "PCMP", 4);
		uint16_t clen, count;
		memcpy(&clen, c + 4, 2);
		memcpy(&count, c + 34, 2);
		assert_int_equal(sum(c, clen), 0);
		unsigned seen = 0;
		uint8_t *e = c + 44;
		for (unsigned i = 0; i < count; i++) {
			if (e[0] == 0) {
				assert_int_equal(e[1], seen);
				assert_int_equal(e[3] & 2, seen == 0 ? 2 : 0);
				seen++;
				e += 20;
			} else {
				e += 8;
			}
		}
		assert_int_equal(seen, cpus);
		assert_true(e == c + clen);
	}
	assert_int_equal(mptable_build(buf, 10, 0xf0000, 1, 0), 0);
	assert_int_equal(mptable_build(buf, sizeof(buf), 0xf0000, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small),
	    cmocka_unit_test(test_above_4g),
	    cmocka_unit_test(test_mptable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
