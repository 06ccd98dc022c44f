/*
 * fuzz_virtq.c - hostile virtqueues against the device-side queue code
 * (src/vmm/virtq.c). The input is a guest's memory plus the queue set-up
 * its driver programmed: descriptor chains with loops, out-of-range
 * addresses and lengths, wrapped and runaway indexes, indirect tables.
 * Every segment popped is touched end to end, so AddressSanitizer catches
 * any buffer that strays outside the guest memory; libFuzzer's timeout
 * catches a pop that never returns. The harness stops after twice the
 * largest ring: segments the device writes may overlap the driver's ring
 * (a hostile guest can arrange that), so "runs dry" is not a property;
 * devices bound their work per notification instead (VIRTQ_BUDGET).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm/virtq.h"

#define MEM_SIZE (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[MEM_SIZE];
	static struct virtq_chain c;
	struct {
		uint16_t size, last_avail;
		uint32_t desc, avail, used;
		uint8_t high; /* also map a second region at 4 GiB */
	} __attribute__((packed)) hdr;

	if (size < sizeof(hdr))
		return 0;
	memcpy(&hdr, data, sizeof(hdr));
	data += sizeof(hdr);
	size -= sizeof(hdr);
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data, size < sizeof(mem) ? size : sizeof(mem));

	struct guest_mem gm = {.n = 1};
	gm.region[0].gpa = 0;
	gm.region[0].size = hdr.high & 1 ? MEM_SIZE / 2 : MEM_SIZE;
	gm.region[0].host = mem;
	if (hdr.high & 1) {
		gm.region[1].gpa = 1ull << 32;
		gm.region[1].size = MEM_SIZE / 2;
		gm.region[1].host = mem + MEM_SIZE / 2;
		gm.n = 2;
	}
	struct virtq q = {
	    .size = (uint16_t)(1u << (hdr.size % 11)),
	    .desc = hdr.desc % (MEM_SIZE + 64),
	    .avail = hdr.avail % (MEM_SIZE + 64),
	    .used = hdr.used % (MEM_SIZE + 64),
	    .mem = &gm,
	};
	if (hdr.high & 2)
		q.desc |= 1ull << 32;
	if (virtq_enable(&q) < 0)
		return 0;
	q.last_avail = hdr.last_avail;

	for (unsigned pops = 0; pops < 2u * VIRTQ_MAX_SIZE; pops++) {
		(void)virtq_pending(&q);
		int r = virtq_pop(&q, &c);
		if (r <= 0)
			return 0;
		uint64_t total = 0;
		for (unsigned i = 0; i < c.n; i++) {
			volatile uint8_t sink = 0;
			if (c.seg[i].len) {
				sink ^= c.seg[i].ptr[0];
				sink ^= c.seg[i].ptr[c.seg[i].len - 1];
				if (c.seg[i].write)
					c.seg[i].ptr[c.seg[i].len - 1] = sink;
			}
			total += c.seg[i].len;
		}
		uint8_t buf[64];
		virtq_chain_read(&c, 0, buf, sizeof(buf));
		virtq_chain_write(&c, total / 2, buf, sizeof(buf));
		virtq_push(&q, c.head, (uint32_t)total);
		(void)virtq_should_notify(&q);
	}
	return 0;
}
