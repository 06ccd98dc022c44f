/*
 * test_hvm_bhyve.c - the bhyve brand's hull-vmm command line: from an
 * instance record and what the caller prepared to argv, and what it
 * refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hvm/bhyve.h"
#include "hvm/qemu.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#define UUID "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
#define RUN "/zones/" UUID "/run"

static json_t *vm_new(const char *extra)
{
	char *text = xasprintf(
	    "{\"uuid\": \"" UUID "\", \"brand\": \"bhyve\", \"vcpus\": 2, "
	    "\"ram\": 511, \"disks\": [{\"path\": \"/dev/zvol/" UUID
	    "-disk0\", \"boot\": true, \"model\": \"virtio\", "
	    "\"uuid\": \"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\"}, {\"path\": "
	    "\"/zones/" UUID "/cd.iso\", \"media\": \"cdrom\"}], "
	    "\"nics\": [{\"mac\": \"02:08:20:aa:bb:cc\", \"model\": "
	    "\"virtio\"}, {\"mac\": \"02:08:20:aa:bb:cd\"}]%s}",
	    extra ? extra : "");
	json_error_t je;
	json_t *vm = json_loads(text, 0, &je);
	free(text);
	assert_non_null(vm);
	return vm;
}

static const int taps[] = {7, 9};

static struct hvm_bhyve_host host(void)
{
	return (struct hvm_bhyve_host){
	    .run_dir = RUN,
	    .kernel = RUN "/boot/kernel",
	    .initrd = RUN "/boot/initrd",
	    .cmdline = "root=/dev/vda1 console=ttyS0",
	    .tap_fds = taps,
	    .ntap_fds = 2,
	};
}

static void test_full_argv(void **state)
{
	json_t *vm = vm_new(NULL);
	struct hvm_bhyve_host h = host();
	struct hull_err err = {0};
	char **av = hvm_bhyve_argv(vm, &h, &err);
	assert_non_null(av);
	static const char *const want[] = {
	    "hull-vmm",
	    "--uuid",
	    UUID,
	    "--product",
	    "SmartDC HVM",
	    "--cpus",
	    "2",
	    "--memory",
	    "512M",
	    "--kernel",
	    RUN "/boot/kernel",
	    "--initrd",
	    RUN "/boot/initrd",
	    "--cmdline",
	    "root=/dev/vda1 console=ttyS0",
	    "--disk",
	    "/dev/zvol/" UUID "-disk0,serial=aaaaaaaabbbbccccdddd",
	    "--disk",
	    "/zones/" UUID "/cd.iso,ro,serial=hull-disk1",
	    "--net",
	    "fd=7,mac=02:08:20:aa:bb:cc",
	    "--net",
	    "fd=9,mac=02:08:20:aa:bb:cd",
	    "--console",
	    "unix:" RUN "/console.sock",
	    "--metadata",
	    "unix:" RUN "/ttyb.sock",
	    "--control",
	    "unix:" RUN "/vmm.sock",
	};
	size_t n = 0;
	while (av[n])
		n++;
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(av[i], want[i]);
	hvm_strv_free(av);
	json_decref(vm);
}

static void test_defaults(void **state)
{
	json_t *vm = json_pack("{s:s}", "uuid", UUID);
	struct hvm_bhyve_host h = {
	    .vmm = "/opt/hull/bin/hull-vmm", .run_dir = "/r", .kernel = "/r/k"};
	struct hull_err err = {0};
	char **av = hvm_bhyve_argv(vm, &h, &err);
	assert_non_null(av);
	assert_string_equal(av[0], "/opt/hull/bin/hull-vmm");
	bool cpus = false, mem = false;
	for (char **p = av; *p; p++) {
		assert_string_not_equal(*p, "--initrd");
		assert_string_not_equal(*p, "--cmdline");
		assert_string_not_equal(*p, "--disk");
		assert_string_not_equal(*p, "--net");
		if (!strcmp(*p, "--cpus"))
			cpus = !strcmp(p[1], "1");
		if (!strcmp(*p, "--memory"))
			mem = !strcmp(p[1], "256M");
	}
	assert_true(cpus && mem);
	hvm_strv_free(av);
	json_decref(vm);
}

/* Each bad record: the argv is refused with an error naming the field. */
static void refused(const char *extra, const struct hvm_bhyve_host *h,
		    const char *msg)
{
	json_t *vm = vm_new(extra);
	struct hull_err err = {0};
	struct hvm_bhyve_host hh = h ? *h : host();
	char **av = hvm_bhyve_argv(vm, &hh, &err);
	if (av)
		fail_msg("accepted: %s", extra ? extra : "(host)");
	assert_int_equal(err.code, EINVAL);
	if (!strstr(err.msg, msg))
		fail_msg("'%s' does not contain '%s'", err.msg, msg);
	json_decref(vm);
}

static void test_refusals(void **state)
{
	refused(", \"vcpus\": 65", NULL, "vcpus: must be an integer");
	refused(", \"vcpus\": 0", NULL, "vcpus");
	refused(", \"ram\": 4", NULL, "ram: must be an integer");
	refused(", \"ram\": \"1G\"", NULL, "ram");
	refused(", \"uuid\": \"nope\"", NULL, "uuid: must be a UUID");
	refused(", \"disk_driver\": \"nvme\"", NULL,
		"disk_driver: nvme is not offered");
	refused(", \"nic_driver\": \"e1000\"", NULL, "nic_driver: e1000");
	refused(", \"disks\": [{\"path\": \"rel.img\"}]", NULL,
		"disks.0.path: must be an absolute path");
	refused(", \"disks\": [{\"path\": \"/a,b.img\"}]", NULL,
		"disks.0.path: must not contain ','");
	refused(", \"disks\": [{\"path\": \"/a\", \"model\": \"ahci\"}]", NULL,
		"disks.0.model: ahci is not offered");
	refused(", \"disks\": [{\"path\": \"/a\", \"media\": \"floppy\"}]",
		NULL, "disks.0.media: must be disk or cdrom");
	refused(", \"disks\": [{\"path\": \"/a\", \"boot\": 1}]", NULL,
		"disks.0.boot");
	refused(", \"disks\": {}", NULL, "disks: must be an array");
	refused(", \"nics\": [{\"mac\": \"02:08:20\"}]", NULL,
		"nics.0.mac: must be a MAC address");
	refused(", \"nics\": [{\"mac\": \"02:08:20:aa:bb:cc\", \"model\": "
		"\"e1000\"}]",
		NULL, "nics.0.model");
	struct hvm_bhyve_host h = host();
	h.ntap_fds = 1;
	refused(NULL, &h, "nics.1: no tap device");
	h = host();
	h.kernel = NULL;
	refused(NULL, &h, "no kernel from the boot loader");
	h = host();
	h.run_dir = "run";
	refused(NULL, &h, "run directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_argv),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
