/*
 * fuzz_zone_config.c - an instance record (with docker:* keys from an
 * image config) through zone_config_parse.
 */
#include <stddef.h>
#include <stdint.h>

#include "lib/json.h"
#include "zone/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (!j)
		return 0;
	struct zone_config c;
	zone_config_parse(j, &c, NULL);
	zone_config_fini(&c);
	json_decref(j);
	return 0;
}
