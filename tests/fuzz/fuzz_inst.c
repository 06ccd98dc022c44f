/*
 * fuzz_inst.c - an instance record (which can come from a payload)
 * through inst_parse, and on to the zone runtime's view of it.
 */
#include <stddef.h>
#include <stdint.h>

#include "inst/inst.h"
#include "zone/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (!j)
		return 0;
	struct inst in;
	if (inst_parse(j, &in, NULL) == 0) {
		struct zone_config c;
		zone_config_from_inst(&in, &c, NULL);
		zone_config_fini(&c);
	}
	inst_fini(&in);
	json_decref(j);
	return 0;
}
