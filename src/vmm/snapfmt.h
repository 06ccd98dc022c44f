/*
 * snapfmt.h - the layout of hull-vmm's memory snapshot file (format 1,
 * docs/hull-vmm.md "Snapshot file") and its reader: a pure function from
 * the file's first bytes to a checked header and section table, fuzzed
 * by tests/fuzz/fuzz_vmm_snapshot.c.
 *
 *   0          header (SNAP_HEADER_SIZE bytes, below)
 *   96         sections: {u32 tag, u32 instance, u64 len, len bytes,
 *              zero padding to 8}; state_len bytes in all, CRC-32 checked
 *   mem_off    guest RAM, mem_size bytes, page-aligned: RAM below the
 *              PCI hole, then RAM from 4 GiB; zero pages are holes
 *
 * All numbers are little-endian (the file is x86-only, like the VMM).
 */
#ifndef HULL_VMM_SNAPFMT_H
#define HULL_VMM_SNAPFMT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define SNAP_MAGIC "HULLVMMS"
/* Bumped on any change to a layout below or to a section's contents; a
 * reader accepts its own format only (no older or newer one). */
#define SNAP_FORMAT 1
#define SNAP_HEADER_SIZE 96
#define SNAP_STATE_MAX (16u << 20)
#define SNAP_SECTIONS_MAX 160
#define SNAP_PAGE 4096
/* The furthest RAM may start: past the largest state (a live switch's
 * staged file puts it here, before it knows the state's length). */
#define SNAP_MEM_OFF_MAX                                                       \
	((SNAP_HEADER_SIZE + SNAP_STATE_MAX + SNAP_PAGE - 1) &                 \
	 ~(uint64_t)(SNAP_PAGE - 1))

enum snap_tag {
	SNAP_VCPU = 1,	  /* instance: vCPU index; struct snap_vcpu + MSRs */
	SNAP_IRQCHIP = 2, /* instance: KVM_IRQCHIP_PIC_MASTER/SLAVE/IOAPIC */
	SNAP_PIT = 3,	  /* struct kvm_pit_state2 */
	SNAP_CLOCK = 4,	  /* struct kvm_clock_data */
	SNAP_SERIAL = 5,  /* instance 0 COM1, 1 COM2 */
	SNAP_I8042 = 6,
	SNAP_RTC = 7,
	SNAP_PM = 8,
	SNAP_PCI = 9,	  /* the host bridge's address register */
	SNAP_VIRTIO = 10, /* instance: virtio device index */
	SNAP_TAG_MAX = 10,
};

struct snap_header {
	char magic[8];
	uint32_t format;
	uint32_t header_size;
	uint64_t state_len;
	uint32_t state_crc;
	uint32_t ncpus;
	uint64_t mem_size;
	uint64_t mem_off;
	uint32_t n_sections;
	uint32_t n_virtio;
	char vmm_version[32]; /* NUL-padded, informational */
	uint32_t header_crc;  /* CRC-32 of the bytes before it */
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct snap_header) == SNAP_HEADER_SIZE,
	       "snapshot header layout");

struct snap_section {
	uint32_t tag, instance;
	const uint8_t *data; /* into the buffer given to snap_parse */
	uint64_t len;
};

struct snap_file {
	struct snap_header hdr;
	struct snap_section sec[SNAP_SECTIONS_MAX];
	unsigned n;
};

/* Checks the header in buf (at least SNAP_HEADER_SIZE bytes): magic,
 * format, sizes, CRC. A file of another format is refused naming both
 * formats and the hull-vmm that wrote it. */
int snap_header_parse(const uint8_t *buf, size_t len, struct snap_header *h,
		      struct hull_err *err);

/* Checks the header and the sections in buf (header + state_len bytes):
 * CRC, bounds, known tags, no duplicates, fixed lengths. out's data
 * pointers point into buf. */
int snap_parse(const uint8_t *buf, size_t len, struct snap_file *out,
	       struct hull_err *err);

/* CRC-32 (zlib's). */
uint32_t snap_crc(const void *p, size_t len);

#endif
