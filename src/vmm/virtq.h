/*
 * virtq.h - the split virtqueue (virtio 1.2 section 2.7), device side.
 *
 * Pure queue code: given a guest memory view and the three ring addresses
 * the driver programmed, it pops descriptor chains as lists of host buffers
 * and pushes used entries. Everything it reads from the guest is hostile:
 * indexes are checked against the ring size, chains are bounded (a loop
 * ends as an error, not a hang), and every buffer must lie wholly inside
 * guest RAM. Fuzzed by tests/fuzz/fuzz_virtq.c.
 */
#ifndef HULL_VMM_VIRTQ_H
#define HULL_VMM_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024
#define VIRTQ_MAX_SEGS 260 /* per chain, indirect tables included */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq {
	uint16_t size; /* power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc, avail, used;
	uint16_t last_avail; /* next avail ring slot to consume */
	uint16_t used_idx;   /* our copy of used->idx */
	bool ready;
	bool broken; /* the driver broke the protocol: stop */
	const struct guest_mem *mem;
};

struct virtq_seg {
	uint8_t *ptr;
	uint32_t len;
	bool write; /* device-writable */
};

struct virtq_chain {
	uint16_t head;
	unsigned n;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
	uint64_t read_len, write_len;
};

/* Checks the rings the driver programmed lie in guest RAM, aligned and
 * apart; marks the queue ready. Returns 0 or -EINVAL. */
int virtq_enable(struct virtq *q);

/* Pops the next available chain. Returns 1 with *c filled, 0 when the ring
 * is empty, -EINVAL when the driver's data is malformed (q->broken set; the
 * device should stop using the queue). Readable segments come before
 * writable ones, as virtio requires; a chain that mixes them otherwise is
 * malformed. */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* How many chains a device handles per notification before it yields to
 * the rest of the I/O loop (and kicks itself to continue): a driver that
 * keeps refilling its ring, even by having the device write over it,
 * cannot hold the I/O thread. */
#define VIRTQ_BUDGET(q) ((unsigned)(q)->size)

/* Whether the driver has made buffers available that were not popped. */
bool virtq_pending(const struct virtq *q);

/* Returns a chain to the driver with len bytes written into it. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* Whether the driver wants an interrupt now (no VIRTIO_F_EVENT_IDX). */
bool virtq_should_notify(const struct virtq *q);

/* Copies between a chain's segments and a flat buffer. Return bytes. */
uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst,
			  uint64_t len);
uint64_t virtq_chain_write(const struct virtq_chain *c, uint64_t off,
			   const void *src, uint64_t len);

#endif
