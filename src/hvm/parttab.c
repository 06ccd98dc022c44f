/*
 * parttab.c - MBR and GPT partition tables (see parttab.h). Field offsets
 * are those of the UEFI specification, §5.2 (MBR) and §5.3 (GPT header
 * and partition entry array); all integers little-endian.
 */
#include "hvm/parttab.h"

#include <errno.h>
#include <string.h>

#include "metadata/crc32.h"

#define SECTOR 512u
#define GPT_ENTRIES_MAX 4096u /* entries in the array (128 is usual) */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Adds a partition after checking it lies on the disk. */
static int add(struct hvm_part *parts, size_t *n, unsigned index,
	       uint64_t first_lba, uint64_t sectors, bool boot,
	       uint64_t disk_size, struct hull_err *err)
{
	if (!sectors)
		return 0;
	if (first_lba > UINT64_MAX / SECTOR || sectors > UINT64_MAX / SECTOR ||
	    first_lba * SECTOR > disk_size ||
	    sectors * SECTOR > disk_size - first_lba * SECTOR)
		return hull_err_set(err, EINVAL,
				    "partition %u lies beyond the end of the "
				    "disk",
				    index);
	if (*n >= HVM_PART_MAX)
		return hull_err_set(err, EINVAL, "more than %d partitions",
				    HVM_PART_MAX);
	parts[(*n)++] = (struct hvm_part){.index = index,
					  .offset = first_lba * SECTOR,
					  .size = sectors * SECTOR,
					  .boot = boot};
	return 0;
}

static int gpt_parse(const uint8_t *buf, size_t len, uint64_t disk_size,
		     struct hvm_part *parts, size_t *n, struct hull_err *err)
{
	if (len < 2 * SECTOR)
		return hull_err_set(err, EINVAL, "GPT: disk too small");
	const uint8_t *h = buf + SECTOR;
	if (memcmp(h, "EFI PART", 8))
		return hull_err_set(err, EINVAL,
				    "GPT: protective MBR without a GPT header");
	uint32_t hsize = le32(h + 12);
	if (hsize < 92 || hsize > SECTOR)
		return hull_err_set(err, EINVAL, "GPT: bad header size %u",
				    hsize);
	uint8_t copy[SECTOR];
	memcpy(copy, h, hsize);
	memset(copy + 16, 0, 4);
	if (metadata_crc32(copy, hsize) != le32(h + 16))
		return hull_err_set(err, EINVAL, "GPT: header CRC mismatch");
	uint64_t lba = le64(h + 72);
	uint32_t count = le32(h + 80), esize = le32(h + 84);
	if (esize < 128 || esize % 8 || esize > 4096)
		return hull_err_set(err, EINVAL, "GPT: bad entry size %u",
				    esize);
	if (count > GPT_ENTRIES_MAX)
		return hull_err_set(err, EINVAL, "GPT: more than %u entries",
				    GPT_ENTRIES_MAX);
	uint64_t bytes = (uint64_t)count * esize;
	if (lba < 2 || lba > len / SECTOR || bytes > len - lba * SECTOR)
		return hull_err_set(err, EINVAL,
				    "GPT: entry array outside the first %zu "
				    "bytes",
				    len);
	const uint8_t *ents = buf + lba * SECTOR;
	if (metadata_crc32(ents, bytes) != le32(h + 88))
		return hull_err_set(err, EINVAL,
				    "GPT: entry array CRC mismatch");
	static const uint8_t zero[16];
	size_t nboot = 0;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = ents + (size_t)i * esize;
		if (!memcmp(e, zero, 16))
			continue;
		uint64_t first = le64(e + 32), last = le64(e + 40);
		if (last < first)
			return hull_err_set(err, EINVAL,
					    "GPT: partition %u ends before it "
					    "starts",
					    i + 1);
		bool boot = le64(e + 48) & (1u << 2);
		int r = add(parts, n, i + 1, first, last - first + 1, boot,
			    disk_size, err);
		if (r < 0)
			return r;
		if (boot) {
			/* Keep bootable ones first, in table order. */
			struct hvm_part p = parts[*n - 1];
			memmove(parts + nboot + 1, parts + nboot,
				(*n - 1 - nboot) * sizeof(*parts));
			parts[nboot++] = p;
		}
	}
	return 0;
}

int hvm_parttab_parse(const uint8_t *buf, size_t len, uint64_t disk_size,
		      struct hvm_part *parts, size_t *n,
		      enum hvm_parttab_kind *kind, struct hull_err *err)
{
	*n = 0;
	*kind = HVM_PARTTAB_NONE;
	if (len < SECTOR || buf[510] != 0x55 || buf[511] != 0xaa)
		return 0;
	const uint8_t *e = buf + 446;
	for (int i = 0; i < 4; i++)
		if (e[i * 16 + 4] == 0xee) {
			*kind = HVM_PARTTAB_GPT;
			return gpt_parse(buf, len, disk_size, parts, n, err);
		}
	size_t nboot = 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *p = e + i * 16;
		uint8_t type = p[4];
		if (p[0] != 0 && p[0] != 0x80) {
			/* Not a partition table: the boot sector of a bare
			 * filesystem (FAT, NTFS) also ends in 0x55AA. */
			*n = 0;
			return 0;
		}
		if (type == 0 || type == 0x05 || type == 0x0f || type == 0x85)
			continue;
		size_t before = *n;
		int r = add(parts, n, (unsigned)i + 1, le32(p + 8),
			    le32(p + 12), p[0] == 0x80, disk_size, err);
		if (r < 0) {
			*n = 0;
			return r;
		}
		if (p[0] == 0x80 && *n > before) {
			struct hvm_part q = parts[*n - 1];
			memmove(parts + nboot + 1, parts + nboot,
				(*n - 1 - nboot) * sizeof(*parts));
			parts[nboot++] = q;
		}
	}
	if (*n)
		*kind = HVM_PARTTAB_MBR;
	return 0;
}
