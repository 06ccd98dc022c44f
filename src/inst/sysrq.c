/*
 * sysrq.c - vmadm sysrq UUID nmi|screenshot (SmartOS's VM.sysrq, with
 * its messages): an NMI for the guest's kernel, or a picture of the
 * kvm brand's VGA console. The work is src/hvm/sysrq.h's; this file
 * checks what SmartOS checks, in its order: the request type (a usage
 * error), the state (running or stopping), the brand (kvm or bhyve),
 * what the brand supports (bhyve: nmi only).
 *
 * A screenshot lands in the instance's dataset at R/<uuid>/tmp/vm.ppm
 * (SmartOS: <zonepath>/root/tmp/vm.ppm), replaced by each new one; its
 * path is printed on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/vmadm/vmadm.h"
#include "hvm/sysrq.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "supervisor/vm.h"
#include "vm/record.h"

int vmadm_sysrq(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("sysrq");
	if (optind != argc - 2)
		return vmadm_usage("sysrq");
	const char *uuid = argv[optind], *type = argv[optind + 1];
	int req = hvm_sysrq_parse(type);
	if (req < 0) {
		fprintf(stderr, "Invalid sysrq type: %s\n", type);
		return vmadm_usage("sysrq");
	}
	struct hull_err err = {0};
	json_t *vm = vm_record_load(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	int rc = VMADM_ERROR;
	_cleanup_free_ char *run =
	    hull_root_path("%s/run/" SV_VM_RUN_SUBDIR, uuid);
	_cleanup_free_ char *dir = hull_root_path("%s/tmp", uuid);
	_cleanup_free_ char *ppm = xasprintf("%s/vm.ppm", dir);
	const char *state = hull_json_str(vm, "state", "");
	const char *brand = hull_json_str(vm, "brand", "");
	bool kvm = !strcmp(brand, "kvm");
	if (strcmp(state, "running") && strcmp(state, "stopping")) {
		vmadm_fail("Unable to send request to vm from state \"%s\", "
			   "must be \"running\" or \"stopping\".",
			   state);
		goto out;
	}
	if (!kvm && strcmp(brand, "bhyve")) {
		vmadm_fail("The sysrq command is only supported for VMs with "
			   "brand \"bhyve\" or \"kvm\".");
		goto out;
	}
	if (!kvm && req != HVM_SYSRQ_NMI) {
		/* hull-vmm has no framebuffer */
		vmadm_fail("Invalid sysrq \"%s\" valid values: \"nmi\".", type);
		goto out;
	}
	if (req == HVM_SYSRQ_SCREENSHOT &&
	    hull_json_int(vm, "vnc_port", 0) < 0) {
		vmadm_fail("Cannot take a screenshot of VM %s: it has no "
			   "display (vnc_port is -1)",
			   uuid);
		goto out;
	}
	if (req == HVM_SYSRQ_SCREENSHOT && hull_mkdir_p(dir, 0700, &err) < 0) {
		vmadm_fail_err(&err);
		goto out;
	}
	if (hvm_sysrq_send(run, kvm, (enum hvm_sysrq_req)req, ppm, &err) < 0) {
		hull_err_prefix(&err, "sysrq %s %s", type, uuid);
		vmadm_fail_err(&err);
		goto out;
	}
	if (req == HVM_SYSRQ_SCREENSHOT)
		printf("%s\n", ppm);
	fprintf(stderr, "Sent %s sysrq to VM %s\n", type, uuid);
	rc = VMADM_OK;
out:
	json_decref(vm);
	return rc;
}
