/*
 * fuzz_manifest.c - image manifest validation on arbitrary bytes: parse
 * (with the v1 upgrade), validate, and the defaults imgadm adds before
 * installing; an upgraded manifest upgrades to itself.
 */
#include <stddef.h>
#include <stdint.h>

#include "image/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err;
	json_t *m = image_manifest_parse((const char *)data, size, &err);
	if (m) {
		json_t *again = json_deep_copy(m);
		if (image_manifest_upgrade(again, &err) != 0 ||
		    !json_equal(again, m))
			__builtin_trap(); /* an upgraded manifest stays put */
		json_decref(again);
		image_manifest_defaults(m);
		if (image_manifest_validate(m, &err) != 0)
			__builtin_trap(); /* defaults must keep it valid */
		json_decref(m);
	}
	return 0;
}
