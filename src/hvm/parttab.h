/*
 * parttab.h - a guest disk's partition table (MBR or GPT), read by the
 * firmware-less boot loader (bootdisk.h) to find the filesystems that may
 * hold a kernel. Pure: the first bytes of the disk in, partitions out.
 * The bytes are the guest's and untrusted; fuzzed by fuzz_bootcfg.c.
 *
 * Sectors are 512 bytes (raw disk files). MBR: the four primary entries
 * (extended partitions and their logical ones are not followed). GPT: the
 * primary header at LBA 1, its CRCs checked, entries within the bytes
 * given. No table (no 0x55AA signature, or an MBR without entries): no
 * partitions, and the caller reads the whole disk as one filesystem.
 */
#ifndef HULL_HVM_PARTTAB_H
#define HULL_HVM_PARTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define HVM_PART_MAX 128	    /* partitions reported */
#define HVM_PARTTAB_READ (1u << 20) /* bytes a caller should pass */

struct hvm_part {
	unsigned index;	 /* 1-based, as the guest numbers it */
	uint64_t offset; /* bytes from the start of the disk */
	uint64_t size;	 /* bytes */
	bool boot;	 /* MBR active flag / GPT legacy-BIOS-bootable */
};

enum hvm_parttab_kind { HVM_PARTTAB_NONE, HVM_PARTTAB_MBR, HVM_PARTTAB_GPT };

/* buf holds the first len bytes of a disk of disk_size bytes. Fills
 * parts[] (room for HVM_PART_MAX) with the used entries, bootable ones
 * first and otherwise in table order; *n of them. */
int hvm_parttab_parse(const uint8_t *buf, size_t len, uint64_t disk_size,
		      struct hvm_part *parts, size_t *n,
		      enum hvm_parttab_kind *kind, struct hull_err *err);

#endif
