/*
 * fuzz_payload.c - libFuzzer target for payload handling: the bytes as a
 * create payload (validate, then defaults), as an update payload applied
 * to an instance, and as list filters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "vm/filter.h"
#include "vm/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned fixed_rand(void)
{
	return 0x12345678;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err;
	json_error_t je;
	json_t *j =
	    json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	if (j) {
		json_t *bad = vm_payload_check_create(j, &err);
		if (!bad) {
			json_t *vm = vm_payload_defaults(j);
			vm_payload_fill_generated(
			    vm, "7c5e1f0a-0000-4000-8000-000000000001",
			    "2026-01-01T00:00:00.000Z", fixed_rand);
			json_decref(vm);
		}
		json_decref(bad);

		json_t *vm = json_pack(
		    "{s:s,s:s,s:i,s:i,s:i,s:{s:s},s:[{s:s,s:s}]}", "brand",
		    "joyent", "uuid", "7c5e1f0a-0000-4000-8000-000000000001",
		    "max_physical_memory", 512, "max_swap", 512,
		    "max_locked_memory", 512, "tags", "a", "b", "nics", "mac",
		    "02:00:00:00:00:01", "nic_tag", "admin");
		bad = vm_payload_check_update(j, "joyent", &err);
		if (!bad) {
			bool live, restart;
			vm_payload_apply_update(vm, j, &live, &restart, &err);
		}
		json_decref(bad);
		/* prepare: bad properties dropped, types converted, nics
		 * upgraded, as vmadm create and update do */
		json_t *warn = json_array();
		json_t *c = json_deep_copy(j);
		if (vm_payload_prepare(c, NULL, warn, &err) == 0) {
			json_t *d = vm_payload_defaults(c);
			json_decref(d);
		}
		json_decref(c);
		c = json_deep_copy(j);
		if (vm_payload_prepare(c, vm, warn, &err) == 0) {
			bool live, restart;
			vm_payload_apply_update(vm, c, &live, &restart, &err);
		}
		json_decref(c);
		json_decref(warn);
		json_decref(vm);
		json_decref(j);
	}
	/* filters: one per line */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	json_t *vm =
	    json_pack("{s:s,s:i,s:{s:s},s:[{s:s}]}", "alias", "web", "ram", 256,
		      "tags", "k", "v", "nics", "ip", "192.0.2.1");
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct vm_filter f;
		if (vm_filter_parse(line, &f, &err) == 0) {
			vm_filter_match(&f, vm);
			vm_filter_fini(&f);
		}
	}
	json_decref(vm);
	free(s);
	return 0;
}
