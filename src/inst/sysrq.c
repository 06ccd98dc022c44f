/*
 * sysrq.c - an HVM instance's sysrq (include/hull/instance.h; vmadm sysrq
 * UUID nmi|screenshot, SmartOS's VM.sysrq, with its messages): an
 * NMI for the guest's kernel, or a picture of the kvm brand's VGA
 * console. The work is src/hvm/sysrq.h's; this file
 * checks what SmartOS checks, in its order: the request type (a usage
 * error), the state (running or stopping), the brand (kvm or bhyve),
 * what the brand supports (bhyve: nmi only).
 *
 * A screenshot lands in the instance's dataset at R/<uuid>/tmp/vm.ppm
 * (SmartOS: <zonepath>/root/tmp/vm.ppm), replaced by each new one; its
 * path is returned (vmadm prints it on stdout).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hull/instance.h"
#include "hvm/sysrq.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "supervisor/vm.h"
#include "vm/record.h"

bool hull_sysrq_type_valid(const char *type)
{
	return hvm_sysrq_parse(type) >= 0;
}

int hull_instance_sysrq(const char *uuid, const char *type, char **screenshot,
			struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	*screenshot = NULL;
	int req = hvm_sysrq_parse(type);
	if (req < 0)
		return hull_err_set(err, EINVAL, "Invalid sysrq type: %s",
				    type);
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	int r;
	_cleanup_free_ char *run =
	    hull_root_path("%s/run/" SV_VM_RUN_SUBDIR, uuid);
	_cleanup_free_ char *dir = hull_root_path("%s/tmp", uuid);
	char *ppm = xasprintf("%s/vm.ppm", dir);
	const char *state = hull_json_str(vm, "state", "");
	const char *brand = hull_json_str(vm, "brand", "");
	bool kvm = !strcmp(brand, "kvm");
	if (strcmp(state, "running") && strcmp(state, "stopping")) {
		r = hull_err_set(err, EINVAL,
				 "Unable to send request to vm from state "
				 "\"%s\", must be \"running\" or \"stopping\".",
				 state);
		goto out;
	}
	if (!kvm && strcmp(brand, "bhyve")) {
		r = hull_err_set(err, EINVAL,
				 "The sysrq command is only supported for VMs "
				 "with brand \"bhyve\" or \"kvm\".");
		goto out;
	}
	if (!kvm && req != HVM_SYSRQ_NMI) {
		/* hull-vmm has no framebuffer */
		r = hull_err_set(err, EINVAL,
				 "Invalid sysrq \"%s\" valid values: \"nmi\".",
				 type);
		goto out;
	}
	if (req == HVM_SYSRQ_SCREENSHOT &&
	    hull_json_int(vm, "vnc_port", 0) < 0) {
		r = hull_err_set(err, EINVAL,
				 "Cannot take a screenshot of VM %s: it has no "
				 "display (vnc_port is -1)",
				 uuid);
		goto out;
	}
	if (req == HVM_SYSRQ_SCREENSHOT &&
	    (r = hull_mkdir_p(dir, 0700, err)) < 0)
		goto out;
	r = hvm_sysrq_send(run, kvm, (enum hvm_sysrq_req)req, ppm, err);
	if (r < 0) {
		hull_err_prefix(err, "sysrq %s %s", type, uuid);
		goto out;
	}
	if (req == HVM_SYSRQ_SCREENSHOT) {
		*screenshot = ppm;
		ppm = NULL;
	}
out:
	free(ppm);
	json_decref(vm);
	return r;
}
