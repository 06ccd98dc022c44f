/*
 * fuzz_vmm_migstream.c - hull-vmm's live migration stream reader
 * (src/vmm/migfmt.c): the header, then every record header the way the
 * receiver walks them, each page record checked to lie inside the guest
 * memory the header announced, and a state record's payload handed to
 * the snapshot reader as the receiver does, and a disk record's sizes
 * read as the receiver reads them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmm/migfmt.h"
#include "vmm/snapfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap_file f;
	struct hull_err err = {0};
	struct mig_header h;
	if (mig_header_parse(data, size, &h, &err) < 0)
		return 0;
	size_t off = MIG_HEADER_SIZE;
	while (off < size) {
		struct mig_record r;
		if (mig_record_parse(data + off, size - off, h.version,
				     h.mem_size, &r, &err) < 0)
			return 0;
		off += MIG_RECORD_SIZE;
		if (r.type == MIG_PAGES || r.type == MIG_ZERO) {
			/* the receiver writes [arg, arg + count pages) */
			if (r.arg + (uint64_t)r.count * MIG_PAGE > h.mem_size)
				abort();
		}
		if (r.payload > size - off)
			return 0;
		if (r.type == MIG_STATE &&
		    snap_parse(data + off, (size_t)r.payload, &f, &err) == 0)
			for (unsigned i = 0; i < f.n; i++)
				if (f.sec[i].data < data + off ||
				    f.sec[i].data + f.sec[i].len >
					data + off + r.payload)
					abort();
		if (r.type == MIG_DISKS) {
			uint64_t sizes[MIG_DISKS_MAX];
			if (r.count > MIG_DISKS_MAX ||
			    r.payload != (uint64_t)r.count * 8)
				abort();
			if (mig_disks_parse(data + off, (size_t)r.payload, &r,
					    sizes, &err) == 0)
				for (unsigned i = 0; i < r.count; i++)
					if (sizes[i] % 512)
						abort();
		}
		if (r.type == MIG_END || r.type == MIG_ABORT)
			return 0;
		off += (size_t)r.payload;
	}
	return 0;
}
