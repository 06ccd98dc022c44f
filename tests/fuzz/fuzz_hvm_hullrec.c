/*
 * fuzz_hvm_hullrec.c - an instance record through inst_parse and
 * hvm_hull_from_inst (the double hull's uuid, disks, ram and cpu_cap).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hvm/hullrec.h"
#include "lib/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (!j)
		return 0;
	struct hvm_hull h;
	struct hull_err err = {0};
	struct inst inst;
	memset(&h, 0, sizeof(h));
	if (inst_parse(j, &inst, &err) == 0 &&
	    hvm_hull_from_inst(&inst, &h, &err) == 0) {
		/* every path it hands on is absolute and inside the record */
		for (size_t i = 0; i < h.nfiles; i++)
			if (!h.files[i].path || h.files[i].path[0] != '/')
				__builtin_trap();
		if (h.nfiles > HVM_HULL_PATHS_MAX)
			__builtin_trap();
	}
	inst_fini(&inst);
	json_decref(j);
	return 0;
}
