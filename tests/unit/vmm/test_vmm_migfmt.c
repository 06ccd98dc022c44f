/*
 * test_vmm_migfmt.c - the live migration stream's reader: a good header
 * and each record type, and the refusals the receiver relies on (another
 * version, a bad checksum, pages outside guest memory, oversized
 * records, unknown types), and version 2's disk record; and the
 * snapshot header's RAM offset, which a live switch's staged file puts
 * at SNAP_MEM_OFF_MAX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/migfmt.h"
#include "vmm/snapfmt.h"

#define MEM (64ull << 20)

static void header(uint8_t *b, uint32_t version, uint64_t mem)
{
	struct mig_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, MIG_MAGIC, 8);
	h.version = version;
	h.header_size = MIG_HEADER_SIZE;
	h.mem_size = mem;
	h.ncpus = 1;
	memcpy(h.vmm_version, "9.9.9", 5);
	h.header_crc = snap_crc(&h, offsetof(struct mig_header, header_crc));
	memcpy(b, &h, sizeof(h));
}

static int rec_v(uint32_t version, uint32_t type, uint32_t count, uint64_t arg,
		 struct mig_record *r, struct hull_err *err)
{
	uint8_t b[MIG_RECORD_SIZE];
	memcpy(b, &type, 4);
	memcpy(b + 4, &count, 4);
	memcpy(b + 8, &arg, 8);
	return mig_record_parse(b, sizeof(b), version, MEM, r, err);
}

static int rec(uint32_t type, uint32_t count, uint64_t arg,
	       struct mig_record *r, struct hull_err *err)
{
	return rec_v(MIG_VERSION, type, count, arg, r, err);
}

static void test_header(void **state)
{
	(void)state;
	uint8_t b[MIG_HEADER_SIZE];
	struct mig_header h;
	struct hull_err err = {0};
	header(b, MIG_VERSION, MEM);
	assert_int_equal(mig_header_parse(b, sizeof(b), &h, &err), 0);
	assert_int_equal(h.mem_size, MEM);
	header(b, 7, MEM);
	assert_true(mig_header_parse(b, sizeof(b), &h, &err) < 0);
	assert_string_equal(err.msg,
			    "migration: stream version 7 (from hull-vmm "
			    "9.9.9); this hull-vmm reads versions 1 to 2");
	/* version 1 (no disk record) is still read */
	header(b, 1, MEM);
	assert_int_equal(mig_header_parse(b, sizeof(b), &h, &err), 0);
	header(b, 0, MEM);
	assert_true(mig_header_parse(b, sizeof(b), &h, &err) < 0);
	header(b, MIG_VERSION, MEM);
	b[20] ^= 1; /* inside mem_size: the checksum no longer matches */
	assert_true(mig_header_parse(b, sizeof(b), &h, &err) < 0);
	assert_string_equal(err.msg, "migration: header checksum mismatch");
	header(b, MIG_VERSION, MEM + 4096); /* not a whole 2 MiB */
	assert_true(mig_header_parse(b, sizeof(b), &h, &err) < 0);
	assert_true(mig_header_parse(b, 10, &h, &err) < 0);
}

static void test_records(void **state)
{
	(void)state;
	struct mig_record r;
	struct hull_err err = {0};
	assert_int_equal(rec(MIG_PAGES, 256, 0, &r, &err), 0);
	assert_int_equal(r.payload, 256 * 4096);
	assert_int_equal(rec(MIG_PAGES, 1, MEM - 4096, &r, &err), 0);
	assert_true(rec(MIG_PAGES, 2, MEM - 4096, &r, &err) < 0);
	assert_true(rec(MIG_PAGES, 1, MEM, &r, &err) < 0);
	assert_true(rec(MIG_PAGES, 1, 100, &r, &err) < 0); /* unaligned */
	assert_true(rec(MIG_PAGES, 257, 0, &r, &err) < 0);
	assert_true(rec(MIG_PAGES, 0, 0, &r, &err) < 0);
	/* a huge count must not wrap past the end of guest memory */
	assert_true(rec(MIG_ZERO, UINT32_MAX, 4096, &r, &err) < 0);
	assert_int_equal(rec(MIG_ZERO, MEM / 4096, 0, &r, &err), 0);
	assert_int_equal(r.payload, 0);
	assert_int_equal(rec(MIG_STATE, 0, 5000, &r, &err), 0);
	assert_int_equal(r.payload, 5000);
	assert_true(rec(MIG_STATE, 0, 1ull << 40, &r, &err) < 0);
	assert_true(rec(MIG_STATE, 0, 10, &r, &err) < 0);
	assert_int_equal(rec(MIG_END, 0, 0, &r, &err), 0);
	assert_true(rec(MIG_END, 1, 0, &r, &err) < 0);
	assert_true(rec(99, 0, 0, &r, &err) < 0);
	assert_string_equal(err.msg, "migration: unknown record type 99");
}

static void test_disks(void **state)
{
	(void)state;
	struct mig_record r;
	struct hull_err err = {0};
	uint64_t sizes[MIG_DISKS_MAX];
	uint64_t in[2] = {1 << 20, 512};
	assert_int_equal(rec(MIG_DISKS, 2, 0, &r, &err), 0);
	assert_int_equal(r.payload, 16);
	assert_int_equal(
	    mig_disks_parse((const uint8_t *)in, sizeof(in), &r, sizes, &err),
	    0);
	assert_int_equal(sizes[0], 1 << 20);
	assert_int_equal(sizes[1], 512);
	/* too short a payload, a size of part of a sector */
	assert_true(mig_disks_parse((const uint8_t *)in, 8, &r, sizes, &err) <
		    0);
	in[1] = 513;
	assert_true(mig_disks_parse((const uint8_t *)in, sizeof(in), &r, sizes,
				    &err) < 0);
	assert_string_equal(err.msg, "migration: the source's disk 1 is 513 "
				     "bytes, not whole sectors");
	assert_int_equal(rec(MIG_DISKS, 0, 0, &r, &err), 0);
	assert_int_equal(r.payload, 0);
	assert_true(rec(MIG_DISKS, MIG_DISKS_MAX + 1, 0, &r, &err) < 0);
	assert_true(rec(MIG_DISKS, 1, 8, &r, &err) < 0);
	/* version 1 has no such record */
	assert_true(rec_v(1, MIG_DISKS, 1, 0, &r, &err) < 0);
	assert_string_equal(err.msg, "migration: unknown record type 6");
}

/* A snapshot header with 96 bytes of state and RAM at off. */
static int snap_with_mem_off(uint64_t off, struct snap_header *out)
{
	struct snap_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, SNAP_MAGIC, 8);
	h.format = SNAP_FORMAT;
	h.header_size = SNAP_HEADER_SIZE;
	h.state_len = 96;
	h.ncpus = 1;
	h.mem_size = MEM;
	h.mem_off = off;
	h.header_crc = snap_crc(&h, offsetof(struct snap_header, header_crc));
	struct hull_err err = {0};
	return snap_header_parse((const uint8_t *)&h, sizeof(h), out, &err);
}

static void test_snap_mem_off(void **state)
{
	(void)state;
	struct snap_header h;
	/* right past the state, as `snapshot` writes it */
	assert_int_equal(snap_with_mem_off(4096, &h), 0);
	assert_int_equal(h.mem_off, 4096);
	/* further out, up to where a staged file has it */
	assert_int_equal(snap_with_mem_off(8192, &h), 0);
	assert_int_equal(snap_with_mem_off(SNAP_MEM_OFF_MAX, &h), 0);
	/* overlapping the state, unaligned, or beyond the bound */
	assert_true(snap_with_mem_off(0, &h) < 0);
	assert_true(snap_with_mem_off(4096 + 512, &h) < 0);
	assert_true(snap_with_mem_off(SNAP_MEM_OFF_MAX + 4096, &h) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_records),
	    cmocka_unit_test(test_disks),
	    cmocka_unit_test(test_snap_mem_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
