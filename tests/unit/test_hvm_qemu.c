/*
 * test_hvm_qemu.c - the kvm brand's QEMU command line: from an instance
 * record and host facts to argv, and the properties it refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvm/com2.h"
#include "hvm/qemu.h"
#include "hvm/qmp.h"
#include "inst/inst.h"
#include "lib/err.h"
#include "lib/strv.h"
#include "lib/xalloc.h"

#define UUID "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

static json_t *vm_new(const char *extra)
{
	char *text = xasprintf(
	    "{\"uuid\": \"" UUID "\", \"brand\": \"kvm\", \"vcpus\": 2, "
	    "\"ram\": 512, \"disks\": [{\"path\": \"/zones/" UUID
	    "/disks/disk0.img\", \"boot\": true, \"model\": \"virtio\", "
	    "\"uuid\": \"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\"}, {\"path\": "
	    "\"/zones/" UUID "/disks/d,1.img\", \"model\": \"ide\"}], "
	    "\"nics\": [{\"nic_tag\": \"admin\", \"mac\": "
	    "\"02:08:20:aa:bb:cc\", \"model\": \"virtio\"}]%s}",
	    extra ? extra : "");
	json_error_t je;
	json_t *vm = json_loads(text, 0, &je);
	free(text);
	assert_non_null(vm);
	return vm;
}

/* The argv of vm, through its typed form (inst/inst.h) as the supervisor
 * builds it; the refusals of either step. */
static char **qemu_argv(json_t *vm, const struct hvm_qemu_host *h,
			struct hull_err *err)
{
	struct inst inst;
	if (inst_parse(vm, &inst, err) < 0)
		return NULL;
	char **av = hvm_qemu_argv(&inst, h, err);
	inst_fini(&inst);
	return av;
}

/* The value after opt whose text contains want (NULL: none). */
static const char *find(char **av, const char *opt, const char *want)
{
	for (char **p = av; *p; p++)
		if (!strcmp(*p, opt) && p[1] && strstr(p[1], want))
			return p[1];
	return NULL;
}

static bool has(char **av, const char *word)
{
	for (char **p = av; *p; p++)
		if (!strcmp(*p, word))
			return true;
	return false;
}

static const int taps[] = {7};

static void host_init(struct hvm_qemu_host *h, bool kvm)
{
	*h = (struct hvm_qemu_host){.kvm = kvm,
				    .run_dir = "/zones/" UUID "/run",
				    .kernel = "/zones/" UUID "/run/kernel",
				    .initrd = "/zones/" UUID "/run/initrd",
				    .cmdline = "console=ttyS0 ro",
				    .tap_fds = taps,
				    .ntap_fds = 1};
}

static void test_direct_boot_tcg(void **state)
{
	json_t *vm = vm_new(NULL);
	struct hvm_qemu_host h;
	host_init(&h, false);
	struct hull_err err = {0};
	char **av = qemu_argv(vm, &h, &err);
	assert_non_null(av);
	assert_string_equal(av[0], "qemu-system-x86_64");
	assert_non_null(find(av, "-machine", "pc,accel=tcg"));
	assert_non_null(find(av, "-cpu", "qemu64"));
	assert_string_equal(find(av, "-smp", ""), "2");
	/* 8 KiB more under TCG: QEMU 7.2's dirty tracking (qemu.c) */
	assert_string_equal(find(av, "-m", ""), "524296k");
	/* spec §0.1, what cloud-init's SmartOS datasource looks for. */
	assert_string_equal(
	    find(av, "-smbios", "type=1"),
	    "type=1,manufacturer=Joyent,product=SmartDC HVM,version=7.0,"
	    "serial=" UUID ",uuid=" UUID ",sku=001,family=Virtual Machine");
	assert_string_equal(find(av, "-kernel", ""),
			    "/zones/" UUID "/run/kernel");
	assert_string_equal(find(av, "-initrd", ""),
			    "/zones/" UUID "/run/initrd");
	assert_string_equal(find(av, "-append", ""), "console=ttyS0 ro");
	assert_null(find(av, "-bios", ""));
	/* VNC by default (vnc_port 0), on a socket, without a password */
	assert_false(has(av, "-nographic"));
	assert_string_equal(find(av, "-vnc", ""),
			    "unix:/zones/" UUID "/run/vnc.sock");
	assert_string_equal(find(av, "-vga", ""), "std");
	assert_true(has(av, "-nodefaults"));
	assert_true(has(av, "-no-reboot"));
	/* COM1 console, COM2 metadata, QMP: sockets QEMU listens on. */
	assert_string_equal(find(av, "-chardev", "id=com1"),
			    "socket,id=com1,path=/zones/" UUID
			    "/run/console.sock,server=on,wait=off");
	assert_string_equal(find(av, "-chardev", "id=com2"),
			    "socket,id=com2,path=/zones/" UUID
			    "/run/ttyb.sock,server=on,wait=off");
	assert_non_null(
	    find(av, "-chardev", "id=qmp,path=/zones/" UUID "/run/qmp.sock"));
	assert_non_null(find(av, "-mon", "chardev=qmp,mode=control"));
	assert_non_null(find(av, "-chardev",
			     "id=qmpc,path=/zones/" UUID "/run/qmp-cmd.sock"));
	assert_non_null(find(av, "-mon", "chardev=qmpc,mode=control"));
	/* COM1 before COM2. */
	const char *first = NULL;
	for (char **p = av; *p; p++)
		if (!strcmp(*p, "-serial")) {
			first = p[1];
			break;
		}
	assert_string_equal(first, "chardev:com1");
	/* Disks: serials, models; a comma in a path is doubled; no
	 * bootindex on a direct boot (the loader ROM holds it). */
	assert_string_equal(find(av, "-device", "drive=disk0"),
			    "virtio-blk-pci,drive=disk0,"
			    "serial=aaaaaaaabbbbccccdddd");
	assert_non_null(find(av, "-drive",
			     "/disks/disk0.img,if=none,"
			     "id=disk0,format=raw,media=disk,"
			     "node-name=hull-fmt0,file.node-name=hull-file0"));
	assert_non_null(find(av, "-drive", "/disks/d,,1.img,if=none"));
	assert_string_equal(find(av, "-device", "drive=disk1"),
			    "ide-hd,drive=disk1,bus=ide.0,unit=0,"
			    "serial=hull-disk1");
	assert_string_equal(find(av, "-netdev", "tap"), "tap,id=net0,fd=7");
	assert_string_equal(find(av, "-device", "netdev=net0"),
			    "virtio-net-pci,netdev=net0,mac=02:08:20:aa:bb:cc");
	hull_strv_free(av);
	json_decref(vm);
}

static void test_kvm_host_cpu(void **state)
{
	json_t *vm = vm_new(", \"cpu_type\": \"host\", \"qemu_extra_opts\": "
			    "\"-device  virtio-balloon -S\"");
	struct hvm_qemu_host h;
	host_init(&h, true);
	h.console_pty = true;
	h.console_log = "/zones/x/logs/console.log";
	struct hull_err err = {0};
	char **av = qemu_argv(vm, &h, &err);
	assert_non_null(av);
	assert_non_null(find(av, "-machine", "pc,accel=kvm"));
	assert_string_equal(find(av, "-cpu", ""), "host");
	assert_string_equal(find(av, "-m", ""), "512");
	assert_string_equal(find(av, "-chardev", "id=com1"),
			    "pty,id=com1,logfile=/zones/x/logs/console.log,"
			    "logappend=on");
	/* qemu_extra_opts last, split on blanks. */
	size_t n = 0;
	while (av[n])
		n++;
	assert_string_equal(av[n - 3], "-device");
	assert_string_equal(av[n - 2], "virtio-balloon");
	assert_string_equal(av[n - 1], "-S");
	hull_strv_free(av);
	json_decref(vm);

	/* "host" without KVM: QEMU's nearest, "max". */
	vm = vm_new(", \"cpu_type\": \"host\"");
	host_init(&h, false);
	av = qemu_argv(vm, &h, &err);
	assert_string_equal(find(av, "-cpu", ""), "max");
	hull_strv_free(av);
	json_decref(vm);
}

static void test_bootrom(void **state)
{
	struct hvm_qemu_host h;
	struct hull_err err = {0};
	json_t *vm = vm_new(", \"bootrom\": \"bios\", \"vnc_port\": 0");
	host_init(&h, false);
	h.kernel = h.initrd = h.cmdline = NULL;
	char **av = qemu_argv(vm, &h, &err);
	assert_non_null(av);
	assert_string_equal(find(av, "-bios", ""), HVM_QEMU_SEABIOS);
	assert_string_equal(find(av, "-boot", ""), "order=cd");
	assert_null(find(av, "-kernel", ""));
	assert_string_equal(find(av, "-device", "drive=disk0"),
			    "virtio-blk-pci,drive=disk0,"
			    "serial=aaaaaaaabbbbccccdddd,bootindex=0");
	assert_false(has(av, "-nographic"));
	assert_string_equal(find(av, "-vnc", ""),
			    "unix:/zones/" UUID "/run/vnc.sock");
	hull_strv_free(av);
	json_decref(vm);

	/* vnc_port -1: no display at all; a password turns VNC auth on */
	vm = vm_new(", \"vnc_port\": -1");
	av = qemu_argv(vm, &h, &err);
	assert_non_null(av);
	assert_true(has(av, "-nographic"));
	assert_null(find(av, "-vnc", ""));
	assert_null(find(av, "-vga", ""));
	hull_strv_free(av);
	json_decref(vm);
	vm = vm_new(", \"vnc_port\": 5901, \"vnc_password\": \"s3cr,t\"");
	av = qemu_argv(vm, &h, &err);
	assert_non_null(av);
	assert_string_equal(find(av, "-vnc", ""),
			    "unix:/zones/" UUID "/run/vnc.sock,password=on");
	assert_null(find(av, "-vnc", "s3cr")); /* never on the command line */
	hull_strv_free(av);
	json_decref(vm);

	vm = vm_new(", \"bootrom\": \"uefi\", \"boot\": \"order=c\"");
	av = qemu_argv(vm, &h, &err);
	assert_non_null(av);
	assert_non_null(find(av, "-machine", "q35,accel=tcg"));
	assert_non_null(find(av, "-drive", "if=pflash"));
	assert_non_null(find(av, "-drive", HVM_QEMU_OVMF));
	assert_string_equal(find(av, "-boot", ""), "order=c");
	hull_strv_free(av);
	json_decref(vm);
}

static void refused(const char *extra, const char *want, bool no_taps)
{
	json_t *vm = vm_new(extra);
	struct hvm_qemu_host h;
	host_init(&h, false);
	if (no_taps)
		h.ntap_fds = 0;
	struct hull_err err = {0};
	char **av = qemu_argv(vm, &h, &err);
	if (av)
		fail_msg("accepted %s", extra);
	if (!strstr(err.msg, want))
		fail_msg("%s: got '%s', want '%s'", extra, err.msg, want);
	json_decref(vm);
}

static void test_refused(void **state)
{
	refused(", \"vcpus\": 0", "vcpus", false);
	refused(", \"vcpus\": 1000", "vcpus", false);
	refused(", \"vcpus\": \"2\"", "vcpus", false);
	refused(", \"ram\": 8", "ram", false);
	refused(", \"cpu_type\": \"pentium\"", "cpu_type", false);
	refused(", \"bootrom\": \"coreboot\"", "bootrom", false);
	refused(", \"uuid\": \"nope\"", "uuid", false);
	refused(", \"disks\": [{\"path\": \"rel.img\"}]", "disks.0.path",
		false);
	refused(", \"disks\": [{\"path\": \"/a\", \"model\": \"nvme\"}]",
		"disks.0.model", false);
	refused(", \"disks\": [{\"path\": \"/a\", \"media\": \"tape\"}]",
		"disks.0.media", false);
	refused(", \"disks\": [{\"path\": \"/a\", \"media\": \"cdrom\"}]",
		"disks.0.model", false);
	refused(", \"disks\": [{\"path\": \"/a\", \"boot\": 1}]",
		"disks.0.boot", false);
	refused(", \"disks\": {}", "disks", false);
	refused(", \"disks\": [1]", "disks.0", false);
	refused(", \"nics\": [{\"nic_tag\": \"admin\", \"mac\": \"zz\"}]",
		"nics.0.mac", false);
	refused(", \"nics\": [{\"nic_tag\": \"admin\", \"mac\": "
		"\"02:00:00:00:00:01\", \"model\": \"ne2k\"}]",
		"nics.0.model", false);
	refused("", "nics.0: no tap device", true);
	refused(", \"vnc_port\": 70000", "vnc_port", false);
	refused(", \"vnc_port\": -2", "vnc_port", false);
	refused(", \"vnc_password\": \"123456789\"", "vnc_password", false);
	refused(", \"vnc_password\": 5", "vnc_password", false);
}

static void test_extra_disks(void **state)
{
	/* ide cdrom, scsi bus made once, model from disk_driver. */
	json_t *vm = vm_new(
	    ", \"disk_driver\": \"scsi\", \"disks\": [{\"path\": \"/a\"}, "
	    "{\"path\": \"/b\"}, {\"path\": \"/c.iso\", \"model\": \"ide\", "
	    "\"media\": \"cdrom\"}]");
	struct hvm_qemu_host h;
	host_init(&h, false);
	struct hull_err err = {0};
	char **av = qemu_argv(vm, &h, &err);
	assert_non_null(av);
	int buses = 0;
	for (char **p = av; *p; p++)
		if (!strcmp(*p, "virtio-scsi-pci,id=scsi0"))
			buses++;
	assert_int_equal(buses, 1);
	assert_non_null(find(av, "-device", "scsi-hd,drive=disk1,bus=scsi0.0"));
	assert_non_null(find(av, "-device", "ide-cd,drive=disk2"));
	assert_non_null(find(av, "-drive", "media=cdrom,readonly=on"));
	hull_strv_free(av);
	json_decref(vm);
}

static void test_qmp_parse(void **state)
{
	struct hull_err err = {0};
	json_t *v;
	const char *g = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}";
	assert_int_equal(hvm_qmp_reply_parse(g, strlen(g), &v, &err),
			 HVM_QMP_GREETING);
	assert_null(v);
	const char *r = "{\"return\": {\"status\": \"running\"}}";
	assert_int_equal(hvm_qmp_reply_parse(r, strlen(r), &v, &err),
			 HVM_QMP_RETURN);
	assert_string_equal(json_string_value(json_object_get(v, "status")),
			    "running");
	json_decref(v);
	const char *e = "{\"event\": \"POWERDOWN\", \"timestamp\": {}}";
	assert_int_equal(hvm_qmp_reply_parse(e, strlen(e), &v, &err),
			 HVM_QMP_EVENT);
	assert_string_equal(json_string_value(v), "POWERDOWN");
	json_decref(v);
	const char *x = "{\"error\": {\"class\": \"GenericError\", "
			"\"desc\": \"no such thing\"}}";
	assert_int_equal(hvm_qmp_reply_parse(x, strlen(x), &v, &err),
			 HVM_QMP_ERROR);
	assert_string_equal(err.msg, "QMP: no such thing");
	assert_true(hvm_qmp_reply_parse("[1]", 3, &v, &err) < 0);
	assert_true(hvm_qmp_reply_parse("{\"event\": 1}", 12, &v, &err) < 0);
	assert_true(hvm_qmp_reply_parse("{}", 2, &v, &err) < 0);
	assert_true(hvm_qmp_reply_parse("{\"a\":1,\"a\":2}", 13, &v, &err) < 0);
	assert_true(hvm_qmp_reply_parse("x", HVM_QMP_LINE_MAX + 1, &v, &err) <
		    0);
}

/* The supervisor connects to sockets in a folder the emulator owns: a
 * symbolic link planted there must not lead it elsewhere. */
static void test_sock_connect_refuses_links(void **state)
{
	char dir[] = "/tmp/hull-com2-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *sock = xasprintf("%s/s.sock", dir);
	char *link = xasprintf("%s/l.sock", dir);
	char *file = xasprintf("%s/f", dir);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(symlink(sock, link), 0);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);

	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(hvm_sock_connect(c, sock), 0);
	close(c);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(hvm_sock_connect(c, link), -ENOTSOCK);
	assert_int_equal(hvm_sock_connect(c, file), -ENOTSOCK);
	assert_int_equal(hvm_sock_connect(c, "/nonexistent/x.sock"), -ENOENT);
	close(c);
	struct hull_err err = {0};
	assert_true(hvm_com2_connect(link, 0, &err) < 0);
	int ok = hvm_com2_connect(sock, 0, &err);
	assert_true(ok >= 0);
	close(ok);

	close(l);
	unlink(sock);
	unlink(link);
	unlink(file);
	rmdir(dir);
	free(sock);
	free(link);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_direct_boot_tcg),
	    cmocka_unit_test(test_kvm_host_cpu),
	    cmocka_unit_test(test_bootrom),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_extra_disks),
	    cmocka_unit_test(test_qmp_parse),
	    cmocka_unit_test(test_sock_connect_refuses_links),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
