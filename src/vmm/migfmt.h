/*
 * migfmt.h - the layout of hull-vmm's live migration stream (version 2,
 * docs/hull-vmm.md "Live migration") and its reader: pure functions from
 * the stream's bytes to a checked header and checked record headers,
 * fuzzed by tests/fuzz/fuzz_vmm_migstream.c.
 *
 *   header     MIG_HEADER_SIZE bytes (below)
 *   records    {u32 type, u32 count, u64 arg} then the record's payload:
 *     MIG_PAGES  arg: RAM offset, count pages of 4 KiB follow
 *     MIG_ZERO   arg: RAM offset, count pages are zero now (no payload)
 *     MIG_STATE  arg: payload bytes: a snapshot file's header and state
 *                sections (snapfmt.h), every vCPU and device
 *     MIG_END    the stream is complete (after MIG_STATE)
 *     MIG_ABORT  the source gave up; the target must not run
 *     MIG_DISKS  count: disks, then count u64s: each disk's size in
 *                bytes (version 2 on; once, before MIG_STATE), which the
 *                target's disks must match when it takes them
 *
 * A RAM offset counts guest RAM as one run (below the PCI hole, then
 * from 4 GiB), as the snapshot file does. All numbers little-endian.
 */
#ifndef HULL_VMM_MIGFMT_H
#define HULL_VMM_MIGFMT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define MIG_MAGIC "HULLVMML"
/* Bumped on any change to the layout or to what a record means. A
 * receiver reads MIG_VERSION_MIN to MIG_VERSION: version 1 is version 2
 * without MIG_DISKS (no size check). Senders write MIG_VERSION. */
#define MIG_VERSION 2
#define MIG_VERSION_MIN 1
#define MIG_DISKS_MAX 16 /* disks in a MIG_DISKS record */
#define MIG_HEADER_SIZE 72
#define MIG_RECORD_SIZE 16
#define MIG_PAGE 4096
#define MIG_PAGES_MAX 256 /* pages in one MIG_PAGES record (1 MiB) */

enum mig_type {
	MIG_PAGES = 1,
	MIG_ZERO = 2,
	MIG_STATE = 3,
	MIG_END = 4,
	MIG_ABORT = 5,
	MIG_DISKS = 6,
};

struct mig_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t mem_size;
	uint32_t ncpus;
	uint32_t n_virtio;
	char vmm_version[32]; /* NUL-padded, informational */
	uint32_t header_crc;  /* CRC-32 of the bytes before it */
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct mig_header) == MIG_HEADER_SIZE,
	       "migration header layout");

struct mig_record {
	uint32_t type;
	uint32_t count;
	uint64_t arg;
	uint64_t payload; /* bytes that follow the record header */
};

/* Checks a stream's header (buf holds at least MIG_HEADER_SIZE bytes):
 * magic, version, CRC, sizes. Another version is refused naming both. */
int mig_header_parse(const uint8_t *buf, size_t len, struct mig_header *h,
		     struct hull_err *err);

/* Checks one record header against a guest of mem_size bytes, in a
 * stream of the given version: known type, pages inside guest RAM,
 * payload bounded. */
int mig_record_parse(const uint8_t *buf, size_t len, uint32_t version,
		     uint64_t mem_size, struct mig_record *r,
		     struct hull_err *err);

/* A MIG_DISKS record's payload (r->payload bytes): each disk's size,
 * a whole number of 512-byte sectors, into sizes[r->count]. */
int mig_disks_parse(const uint8_t *buf, size_t len, const struct mig_record *r,
		    uint64_t *sizes, struct hull_err *err);

#endif
