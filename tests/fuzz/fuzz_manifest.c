/*
 * fuzz_manifest.c - image manifest validation on arbitrary bytes: parse,
 * validate, and the defaults imgadm adds before installing.
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
		image_manifest_defaults(m);
		if (image_manifest_validate(m, &err) != 0)
			__builtin_trap(); /* defaults must keep it valid */
		json_decref(m);
	}
	return 0;
}
