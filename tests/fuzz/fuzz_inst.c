/*
 * fuzz_inst.c - an instance record (which can come from a payload)
 * through inst_parse, and on to the zone runtime's view of it and, for a
 * VM, to the emulators' argv and the double hull.
 */
#include <stddef.h>
#include <stdint.h>

#include "hvm/hullrec.h"
#include "hvm/qemu.h"
#include "hvm/vmm.h"
#include "inst/inst.h"
#include "lib/strv.h"
#include "net/nic.h"
#include "zone/config.h"

/* A VM's typed instance through the emulators' argv and its hull, as the
 * supervisor hands it on: every path they pass is absolute. */
static void vm_consumers(const struct inst *in)
{
	static int taps[NET_MAX_NICS] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
					 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
					 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
	struct hvm_qemu_host qh = {
	    .run_dir = "/r", .tap_fds = taps, .ntap_fds = NET_MAX_NICS};
	hull_strv_free(hvm_qemu_argv(in, &qh, NULL));
	qh.kernel = "/r/k";
	hull_strv_free(hvm_qemu_argv(in, &qh, NULL));
	struct hvm_vmm_host vh = {.kvm = true,
				  .run_dir = "/r",
				  .kernel = "/r/k",
				  .tap_fds = taps,
				  .ntap_fds = NET_MAX_NICS};
	hull_strv_free(hvm_vmm_argv(in, &vh, NULL));
	struct hvm_hull h = {0};
	if (hvm_hull_from_inst(in, &h, NULL) == 0)
		for (size_t i = 0; i < h.nfiles; i++)
			if (!h.files[i].path || h.files[i].path[0] != '/')
				__builtin_trap();
}

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
		if (inst_is_hvm(&in))
			vm_consumers(&in);
	}
	inst_fini(&in);
	json_decref(j);
	return 0;
}
