/*
 * fuzz_hvm_disks.c - a payload's disks through hvm_disks_plan (create),
 * hvm_disks_plan_added (update's add_disks, the first byte saying how
 * many disks were there already) and hvm_disks_remove_plan (update's
 * remove_disks, from the payload's "remove_disks").
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hvm/disks.h"
#include "lib/json.h"

#define INST "/zones/3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *ctx, const char *uuid, struct hvm_image_info *out)
{
	(void)ctx;
	if (uuid[0] == '1') {
		out->type = "zvol";
		out->image_size = uuid[1] == '1' ? 1024 : -1;
		return 0;
	}
	return -1;
}

/* Every disk the plan passed has a path in INST/disks/. */
static void paths_inside(json_t *vm, size_t first)
{
	json_t *disks = json_object_get(vm, "disks");
	for (size_t i = first; i < json_array_size(disks); i++) {
		const char *p = json_string_value(
		    json_object_get(json_array_get(disks, i), "path"));
		size_t l = strlen(INST "/disks/");
		if (!p || strncmp(p, INST "/disks/", l) || !p[l] ||
		    strchr(p + l, '/') || !strcmp(p + l, "..") ||
		    !strcmp(p + l, "."))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t first = data[0] % 20;
	json_t *vm = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	if (!json_is_object(vm)) {
		json_decref(vm);
		return 0;
	}
	struct hull_err err = {0};
	const char *brand = first % 2 ? "bhyve" : "kvm";
	json_t *copy = json_deep_copy(vm);
	if (hvm_disks_plan(copy, brand, INST, lookup, NULL, &err) == 0)
		paths_inside(copy, 0);
	json_decref(copy);
	json_t *disks = json_object_get(vm, "disks");
	if (json_is_array(disks) && first <= json_array_size(disks)) {
		copy = json_deep_copy(vm);
		if (hvm_disks_plan_added(copy, first, brand, INST, lookup, NULL,
					 &err) == 0)
			paths_inside(copy, first);
		json_decref(copy);
	}
	json_t *rm = json_object_get(vm, "remove_disks");
	if (rm)
		hvm_disks_remove_plan(vm, rm, &err);
	json_decref(vm);
	return 0;
}
