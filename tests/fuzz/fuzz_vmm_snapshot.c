/*
 * fuzz_vmm_snapshot.c - hull-vmm's snapshot file reader (src/vmm/snapfmt.c):
 * the header and section table of a state file, which a restore reads
 * before anything else.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmm/snapfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap_file f;
	struct hull_err err = {0};
	if (snap_parse(data, size, &f, &err) == 0) {
		/* every section lies inside the input */
		for (unsigned i = 0; i < f.n; i++)
			if (f.sec[i].data < data ||
			    f.sec[i].data + f.sec[i].len > data + size)
				abort();
	}
	return 0;
}
