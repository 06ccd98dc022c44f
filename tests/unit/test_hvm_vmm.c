/*
 * test_hvm_vmm.c - the bhyve brand's hull-vmm command line, and what it
 * refuses (no hardware virtualization, firmware, non-virtio devices).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hvm/qemu.h"
#include "hvm/vmm.h"
#include "lib/err.h"
#include "lib/strv.h"
#include "lib/xalloc.h"

#define UUID "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
#define RUN "/zones/" UUID "/run"

static const int taps[] = {9};

static json_t *vm_new(const char *extra)
{
	char *t = xasprintf(
	    "{\"uuid\": \"" UUID "\", \"brand\": \"bhyve\", \"vcpus\": 2, "
	    "\"ram\": 1024, \"disks\": [{\"path\": \"/zones/" UUID
	    "/disks/disk0.img\", \"boot\": true, \"model\": \"virtio\"}], "
	    "\"nics\": [{\"nic_tag\": \"admin\", \"mac\": "
	    "\"02:08:20:aa:bb:cc\"}]%s}",
	    extra ? extra : "");
	json_error_t je;
	json_t *vm = json_loads(t, 0, &je);
	free(t);
	assert_non_null(vm);
	return vm;
}

/* The argv of vm, through its typed form (inst/inst.h) as the supervisor
 * builds it; the refusals of either step. */
static char **vmm_argv(json_t *vm, const struct hvm_vmm_host *h,
		       struct hull_err *err)
{
	struct inst inst;
	if (inst_parse(vm, &inst, err) < 0)
		return NULL;
	char **av = hvm_vmm_argv(&inst, h, err);
	inst_fini(&inst);
	return av;
}

static void host_init(struct hvm_vmm_host *h)
{
	*h = (struct hvm_vmm_host){.kvm = true,
				   .run_dir = RUN,
				   .kernel = RUN "/kernel",
				   .initrd = RUN "/initrd",
				   .cmdline = "console=ttyS0",
				   .tap_fds = taps,
				   .ntap_fds = 1};
}

static void test_argv(void **state)
{
	json_t *vm = vm_new(NULL);
	struct hvm_vmm_host h;
	host_init(&h);
	struct hull_err err = {0};
	char **av = vmm_argv(vm, &h, &err);
	assert_non_null(av);
	const char *want[] = {"hull-vmm",
			      "--memory",
			      "1024M",
			      "--cpus",
			      "2",
			      "--kernel",
			      RUN "/kernel",
			      "--initrd",
			      RUN "/initrd",
			      "--cmdline",
			      "console=ttyS0",
			      "--disk",
			      "/zones/" UUID
			      "/disks/disk0.img,serial=hull-disk0",
			      "--net",
			      "fd=9,mac=02:08:20:aa:bb:cc",
			      "--rng",
			      "--console",
			      "unix:" RUN "/console.sock",
			      "--metadata",
			      "unix:" RUN "/ttyb.sock",
			      "--control",
			      "unix:" RUN "/vmm.sock",
			      "--uuid",
			      UUID,
			      "--product",
			      "SmartDC HVM",
			      NULL};
	for (size_t i = 0; want[i]; i++) {
		assert_non_null(av[i]);
		assert_string_equal(av[i], want[i]);
	}
	hull_strv_free(av);
	json_decref(vm);
}

static void refused(const char *extra, bool kvm, const char *want)
{
	json_t *vm = vm_new(extra);
	struct hvm_vmm_host h;
	host_init(&h);
	h.kvm = kvm;
	struct hull_err err = {0};
	char **av = vmm_argv(vm, &h, &err);
	if (av)
		fail_msg("accepted %s", extra ? extra : "");
	if (!strstr(err.msg, want))
		fail_msg("got '%s', want '%s'", err.msg, want);
	json_decref(vm);
}

static void test_refused(void **state)
{
	refused(NULL, false, "brand bhyve needs hardware virtualization");
	refused(", \"bootrom\": \"uefi\"", true, "bootrom");
	refused(", \"vcpus\": 65", true, "vcpus");
	refused(", \"ram\": 1", true, "ram");
	refused(", \"disks\": [{\"path\": \"/a\", \"model\": \"nvme\"}]", true,
		"disks.0.model");
	refused(", \"disks\": [{\"path\": \"/a\", \"media\": \"cdrom\"}]", true,
		"disks.0.media");
	refused(", \"disks\": [{\"path\": \"/a,ro\"}]", true, "disks.0.path");
	refused(", \"nics\": [{\"nic_tag\": \"admin\", \"mac\": "
		"\"02:00:00:00:00:01\", \"model\": \"e1000\"}]",
		true, "nics.0.model");
	refused(", \"nics\": [{\"nic_tag\": \"admin\"}, {}]", true,
		"nics.0: no mac");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_argv),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
