/*
 * fuzz_subid.c - /etc/subuid and /etc/subgid text (a host file that other
 * tools write) through zone_subid_parse, looking up "root" and the empty
 * name.
 */
#include <stddef.h>
#include <stdint.h>

#include "zone/idrange.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zone_idrange r;
	if (zone_subid_parse((const char *)data, size, "root", &r) == 0 &&
	    (uint64_t)r.start + r.count > UINT32_MAX)
		__builtin_trap();
	zone_subid_parse((const char *)data, size, "", &r);
	return 0;
}
