/*
 * test_vmm_virtq.c - the split virtqueue against a fake guest memory:
 * ordinary chains, indirect tables, and the hostile cases (loops,
 * out-of-range buffers, runaway indexes, bad ordering).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/virtq.h"

#define MEM (64 * 1024)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000

static uint8_t mem[MEM];
static struct guest_mem gm = {.region = {{0, MEM, mem}}, .n = 1};

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *e = mem + DESC + 16 * i;
	memcpy(e, &addr, 8);
	memcpy(e + 8, &len, 4);
	memcpy(e + 12, &flags, 2);
	memcpy(e + 14, &next, 2);
}

static void avail(uint16_t slot, uint16_t head, uint16_t idx)
{
	memcpy(mem + AVAIL + 4 + 2 * slot, &head, 2);
	memcpy(mem + AVAIL + 2, &idx, 2);
}

static struct virtq q;
static struct virtq_chain c;

static int setup(void **state)
{
	memset(mem, 0, sizeof(mem));
	memset(&q, 0, sizeof(q));
	q.size = 8;
	q.desc = DESC;
	q.avail = AVAIL;
	q.used = USED;
	q.mem = &gm;
	return virtq_enable(&q);
}

static void test_enable_checks(void **state)
{
	struct virtq b = q;
	b.size = 6;
	assert_int_equal(virtq_enable(&b), -EINVAL);
	b.size = 8;
	b.desc = MEM - 64;
	assert_int_equal(virtq_enable(&b), -EINVAL);
	b.desc = DESC + 8;
	assert_int_equal(virtq_enable(&b), -EINVAL);
	b.desc = DESC;
	b.used = AVAIL + 8; /* overlaps the avail ring */
	assert_int_equal(virtq_enable(&b), -EINVAL);
}

static void test_simple_chain(void **state)
{
	assert_int_equal(virtq_pop(&q, &c), 0);
	desc(0, 0x4000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x5000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(2, 0x6000, 1, VIRTQ_DESC_F_WRITE, 0);
	avail(0, 0, 1);
	assert_true(virtq_pending(&q));
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.n, 3);
	assert_true(c.seg[0].ptr == mem + 0x4000 && !c.seg[0].write);
	assert_true(c.read_len == 16 && c.write_len == 513);
	assert_false(virtq_pending(&q));
	uint8_t b = 0xab;
	assert_int_equal(virtq_chain_write(&c, 512, &b, 1), 1);
	assert_int_equal(mem[0x6000], 0xab);
	virtq_push(&q, c.head, 513);
	uint16_t uidx;
	uint32_t id, len;
	memcpy(&uidx, mem + USED + 2, 2);
	memcpy(&id, mem + USED + 4, 4);
	memcpy(&len, mem + USED + 8, 4);
	assert_int_equal(uidx, 1);
	assert_int_equal(id, 0);
	assert_int_equal(len, 513);
	assert_int_equal(virtq_pop(&q, &c), 0);
}

static void test_loop_is_an_error(void **state)
{
	desc(0, 0x4000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x4000, 16, VIRTQ_DESC_F_NEXT, 0);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
	assert_true(q.broken);
	assert_int_equal(virtq_pop(&q, &c), 0);
}

static void test_out_of_range(void **state)
{
	desc(0, MEM - 8, 16, 0, 0);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
	setup(state);
	desc(0, UINT64_MAX - 4, 16, 0, 0);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
	setup(state);
	desc(0, 0x4000, 16, VIRTQ_DESC_F_NEXT, 9);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
	setup(state);
	avail(0, 8, 1); /* head past the table */
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
}

static void test_runaway_index(void **state)
{
	desc(0, 0x4000, 16, 0, 0);
	avail(0, 0, 9); /* 9 pending in a ring of 8 */
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
}

static void test_wrapped_index(void **state)
{
	q.last_avail = 0xffff;
	desc(3, 0x4000, 16, 0, 0);
	avail(0xffff % 8, 3, 0); /* idx wrapped to 0: one pending */
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(q.last_avail, 0);
}

static void test_write_then_read_is_malformed(void **state)
{
	desc(0, 0x4000, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(1, 0x5000, 16, 0, 0);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
}

static void test_indirect(void **state)
{
	/* table at 0x7000: two entries */
	uint8_t *t = mem + 0x7000;
	uint64_t a = 0x4000;
	uint32_t l = 16;
	uint16_t f = VIRTQ_DESC_F_NEXT, n = 1;
	memcpy(t, &a, 8);
	memcpy(t + 8, &l, 4);
	memcpy(t + 12, &f, 2);
	memcpy(t + 14, &n, 2);
	a = 0x5000;
	f = VIRTQ_DESC_F_WRITE;
	n = 0;
	memcpy(t + 16, &a, 8);
	memcpy(t + 24, &l, 4);
	memcpy(t + 28, &f, 2);
	memcpy(t + 30, &n, 2);
	desc(0, 0x7000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.n, 2);
	assert_true(c.seg[1].write);

	/* an indirect table that loops on itself */
	setup(state);
	n = 0;
	f = VIRTQ_DESC_F_NEXT;
	memcpy(t + 12, &f, 2);
	memcpy(t + 14, &n, 2);
	desc(0, 0x7000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);

	/* nested indirect */
	setup(state);
	f = VIRTQ_DESC_F_INDIRECT;
	memcpy(t + 12, &f, 2);
	desc(0, 0x7000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail(0, 0, 1);
	assert_int_equal(virtq_pop(&q, &c), -EINVAL);
}

static void test_two_regions(void **state)
{
	static uint8_t hi[4096];
	struct guest_mem two = {
	    .region = {{0, MEM, mem}, {1ull << 32, 4096, hi}}, .n = 2};
	assert_ptr_equal(guest_mem_ptr(&two, 1ull << 32, 16), hi);
	assert_null(guest_mem_ptr(&two, MEM - 8, 16));
	assert_null(guest_mem_ptr(&two, (1ull << 32) + 4090, 16));
	assert_non_null(guest_mem_ptr(&two, MEM, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_enable_checks, setup),
	    cmocka_unit_test_setup(test_simple_chain, setup),
	    cmocka_unit_test_setup(test_loop_is_an_error, setup),
	    cmocka_unit_test_setup(test_out_of_range, setup),
	    cmocka_unit_test_setup(test_runaway_index, setup),
	    cmocka_unit_test_setup(test_wrapped_index, setup),
	    cmocka_unit_test_setup(test_write_then_read_is_malformed, setup),
	    cmocka_unit_test_setup(test_indirect, setup),
	    cmocka_unit_test(test_two_regions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
