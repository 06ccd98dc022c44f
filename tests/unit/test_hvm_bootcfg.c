/*
 * test_hvm_bootcfg.c - the firmware-less boot loader's pure parts: grub.cfg
 * default entries, BLS entries and their order, the newest-kernel rule,
 * MBR and GPT tables, and the KVM probe's cpuinfo reading.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hvm/bootcfg.h"
#include "hvm/parttab.h"
#include "hvm/probe.h"
#include "lib/err.h"
#include "lib/xalloc.h"
#include "metadata/crc32.h"

static int grub(const char *text, struct hvm_bootent *e, struct hull_err *err)
{
	return hvm_grub_parse(text, strlen(text), e, err);
}

/* Debian's update-grub output, shortened: the default from `set
 * default="0"` after an `if` that sets it from a variable. */
static void test_grub_debian(void **state)
{
	const char *cfg =
	    "set default=\"0\"\n"
	    "if [ \"${next_entry}\" ] ; then\n"
	    "   set default=\"${next_entry}\"\n"
	    "fi\n"
	    "function load_video {\n"
	    "  linux /not/this\n"
	    "}\n"
	    "menuentry 'Debian GNU/Linux' --class debian "
	    "$menuentry_id_option 'gnulinux-simple-1234' {\n"
	    "\tload_video\n"
	    "\tsearch --no-floppy --fs-uuid --set=root 1234\n"
	    "\tlinux\t/boot/vmlinuz-6.1.0-9-amd64 root=UUID=1234 ro quiet "
	    "$vt_handoff\n"
	    "\tinitrd\t/boot/initrd.img-6.1.0-9-amd64\n"
	    "}\n"
	    "submenu 'Advanced options' $menuentry_id_option 'adv' {\n"
	    "\tmenuentry 'Debian, recovery' $menuentry_id_option 'rec' {\n"
	    "\t\tlinux /boot/vmlinuz-old single\n"
	    "\t}\n"
	    "}\n";
	struct hvm_bootent e;
	struct hull_err err = {0};
	assert_int_equal(grub(cfg, &e, &err), 0);
	assert_int_equal(e.source, HVM_BOOT_GRUB);
	assert_string_equal(e.title, "Debian GNU/Linux");
	assert_string_equal(e.kernel, "/boot/vmlinuz-6.1.0-9-amd64");
	assert_int_equal(e.ninitrd, 1);
	assert_string_equal(e.initrd[0], "/boot/initrd.img-6.1.0-9-amd64");
	assert_string_equal(e.cmdline, "root=UUID=1234 ro quiet");
	hvm_bootent_fini(&e);
}

static void test_grub_default_forms(void **state)
{
	const char *body =
	    "menuentry 'A' --id a { linux /a\n}\n"
	    "submenu 'S' --id s {\n"
	    "  menuentry 'B' --id b { linux /b x=1\n}\n"
	    "  menuentry \"C \\\"quoted\\\"\" { linux (hd0,gpt2)/c\n"
	    "initrd ($root)/i1 /i2\n}\n"
	    "}\n";
	static const struct {
		const char *deflt, *kernel;
	} cases[] = {
	    {"set default=0\n", "/a"},
	    {"set default=1>0\n", "/b"},
	    {"set default='1>1'\n", "/c"},
	    {"set default=b\n", "/a"}, /* an id only inside its submenu */
	    {"set default=s>b\n", "/b"},
	    {"set default='S>C \"quoted\"'\n", "/c"},
	    {"set default=A\n", "/a"},
	    {"set default=7\n", "/a"},	   /* no such entry: the first */
	    {"set default=1\n", "/a"},	   /* a submenu: the first entry */
	    {"set default=saved\n", "/a"}, /* unknown: the first */
	    {"", "/a"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cfg = xasprintf("%s%s", cases[i].deflt, body);
		struct hvm_bootent e;
		struct hull_err err = {0};
		assert_int_equal(grub(cfg, &e, &err), 0);
		assert_string_equal(e.kernel, cases[i].kernel);
		if (!strcmp(cases[i].kernel, "/c")) {
			assert_string_equal(e.title, "C \"quoted\"");
			assert_int_equal(e.ninitrd, 2);
			assert_string_equal(e.initrd[0], "/i1");
			assert_string_equal(e.initrd[1], "/i2");
		}
		hvm_bootent_fini(&e);
		free(cfg);
	}
}

static void test_grub_bad(void **state)
{
	struct hvm_bootent e;
	struct hull_err err = {0};
	assert_int_equal(grub("set timeout=5\ninsmod ext2\n", &e, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "no menuentry"));
	assert_int_equal(grub("menuentry 'x' {\n echo hi\n}\n", &e, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "no linux line"));
	assert_int_equal(grub("menuentry 'x' {\n linux /k\n", &e, &err),
			 -EINVAL);
	assert_int_equal(grub("}\n", &e, &err), -EINVAL);
	/* Nesting beyond the bound. */
	char deep[400] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "if x {\n");
	assert_int_equal(grub(deep, &e, &err), -EINVAL);
	/* Too many initrd files. */
	assert_int_equal(grub("menuentry x {\nlinux /k\ninitrd 1 2 3 4 5 6 7 "
			      "8 9\n}\n",
			      &e, &err),
			 -EINVAL);
	/* A huge command line. */
	char *big = xmalloc(HVM_BOOTCFG_CMDLINE_MAX + 64);
	strcpy(big, "menuentry x {\nlinux /k ");
	size_t l = strlen(big);
	memset(big + l, 'a', HVM_BOOTCFG_CMDLINE_MAX);
	strcpy(big + l + HVM_BOOTCFG_CMDLINE_MAX, "\n}\n");
	assert_int_equal(grub(big, &e, &err), -EINVAL);
	free(big);
}

static void test_bls(void **state)
{
	const char *a = "title Fedora (6.5.6)\nversion 6.5.6-300.fc39\n"
			"linux /vmlinuz-6.5.6-300.fc39.x86_64\n"
			"initrd /initramfs-6.5.6-300.fc39.x86_64.img\n"
			"options root=/dev/vda2 ro\noptions $tuned_params "
			"quiet\n# comment\n";
	struct hvm_bootent e;
	char *ver;
	struct hull_err err = {0};
	assert_int_equal(hvm_bls_parse(a, strlen(a), &e, &ver, &err), 0);
	assert_int_equal(e.source, HVM_BOOT_BLS);
	assert_string_equal(e.kernel, "/vmlinuz-6.5.6-300.fc39.x86_64");
	assert_string_equal(e.cmdline, "root=/dev/vda2 ro quiet");
	assert_string_equal(ver, "6.5.6-300.fc39");
	assert_string_equal(e.title, "Fedora (6.5.6)");
	hvm_bootent_fini(&e);
	free(ver);
	assert_int_equal(hvm_bls_parse("title x\n", 8, &e, &ver, &err),
			 -ENOENT);

	char *names[] = {"a-6.5.9.conf", "a-6.5.10.conf", "a-6.5.2.conf"};
	char *vers[] = {"6.5.9", "6.5.10", NULL};
	assert_int_equal(hvm_bls_pick(names, vers, 3), 1);
	char *nov[] = {NULL, NULL, NULL};
	assert_int_equal(hvm_bls_pick(names, nov, 3), 1);
}

static void test_newest(void **state)
{
	char *names[] = {
	    "config-6.1.0-9-amd64",	"vmlinuz-6.1.0-9-amd64",
	    "vmlinuz-6.1.0-10-amd64",	"initrd.img-6.1.0-10-amd64",
	    "initrd.img-6.1.0-9-amd64", "grub"};
	struct hvm_bootent e;
	struct hull_err err = {0};
	assert_int_equal(hvm_boot_newest(names, 6, &e, &err), 0);
	assert_string_equal(e.kernel, "/boot/vmlinuz-6.1.0-10-amd64");
	assert_int_equal(e.ninitrd, 1);
	assert_string_equal(e.initrd[0], "/boot/initrd.img-6.1.0-10-amd64");
	assert_string_equal(e.cmdline, HVM_BOOT_DEFAULT_CMDLINE);
	hvm_bootent_fini(&e);

	char *fedora[] = {"vmlinuz-6.5.6", "initramfs-6.5.6.img"};
	assert_int_equal(hvm_boot_newest(fedora, 2, &e, &err), 0);
	assert_string_equal(e.initrd[0], "/boot/initramfs-6.5.6.img");
	hvm_bootent_fini(&e);

	char *none[] = {"grub", "vmlinuz-", "config-1"};
	assert_int_equal(hvm_boot_newest(none, 3, &e, &err), -ENOENT);
	char *bare[] = {"vmlinuz-1"};
	assert_int_equal(hvm_boot_newest(bare, 1, &e, &err), 0);
	assert_int_equal(e.ninitrd, 0);
	hvm_bootent_fini(&e);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void test_mbr(void **state)
{
	uint8_t *d = xcalloc(1, 4096);
	struct hvm_part parts[HVM_PART_MAX];
	size_t n;
	enum hvm_parttab_kind kind;
	struct hull_err err = {0};
	/* No signature: a bare filesystem. */
	assert_int_equal(
	    hvm_parttab_parse(d, 4096, 1 << 20, parts, &n, &kind, &err), 0);
	assert_int_equal(kind, HVM_PARTTAB_NONE);
	assert_int_equal(n, 0);
	d[510] = 0x55;
	d[511] = 0xaa;
	/* 1: swap at 2048, 2: bootable Linux after it, 3: extended. */
	uint8_t *e = d + 446;
	e[4] = 0x82;
	put32(e + 8, 2048);
	put32(e + 12, 100);
	e[16] = 0x80;
	e[16 + 4] = 0x83;
	put32(e + 16 + 8, 4096);
	put32(e + 16 + 12, 200);
	e[32 + 4] = 0x05;
	put32(e + 32 + 8, 8192);
	put32(e + 32 + 12, 10);
	assert_int_equal(
	    hvm_parttab_parse(d, 4096, 8 << 20, parts, &n, &kind, &err), 0);
	assert_int_equal(kind, HVM_PARTTAB_MBR);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].index, 2);
	assert_true(parts[0].boot);
	assert_int_equal(parts[0].offset, 4096 * 512);
	assert_int_equal(parts[0].size, 200 * 512);
	assert_int_equal(parts[1].index, 1);
	/* Beyond the end of the disk. */
	assert_int_equal(
	    hvm_parttab_parse(d, 4096, 4096 * 512, parts, &n, &kind, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "partition 2"));
	/* A FAT boot sector ends in 0x55AA too: not a table. */
	e[0] = 0x12;
	assert_int_equal(
	    hvm_parttab_parse(d, 4096, 8 << 20, parts, &n, &kind, &err), 0);
	assert_int_equal(kind, HVM_PARTTAB_NONE);
	free(d);
}

static void test_gpt(void **state)
{
	size_t len = 34 * 512;
	uint8_t *d = xcalloc(1, len);
	d[510] = 0x55;
	d[511] = 0xaa;
	d[446 + 4] = 0xee;
	uint8_t *h = d + 512;
	memcpy(h, "EFI PART", 8);
	put32(h + 8, 0x10000);
	put32(h + 12, 92);
	put64(h + 72, 2);
	put32(h + 80, 128);
	put32(h + 84, 128);
	uint8_t *ents = d + 1024;
	/* Entry 1: plain; entry 3: legacy-BIOS-bootable. */
	ents[0] = 1;
	put64(ents + 32, 2048);
	put64(ents + 40, 4095);
	ents[256] = 2;
	put64(ents + 256 + 32, 4096);
	put64(ents + 256 + 40, 8191);
	put64(ents + 256 + 48, 1u << 2);
	put32(h + 88, metadata_crc32(ents, 128 * 128));
	put32(h + 16, metadata_crc32(h, 92));
	struct hvm_part parts[HVM_PART_MAX];
	size_t n;
	enum hvm_parttab_kind kind;
	struct hull_err err = {0};
	assert_int_equal(
	    hvm_parttab_parse(d, len, 64 << 20, parts, &n, &kind, &err), 0);
	assert_int_equal(kind, HVM_PARTTAB_GPT);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].index, 3);
	assert_true(parts[0].boot);
	assert_int_equal(parts[0].offset, 4096 * 512);
	assert_int_equal(parts[0].size, 4096 * 512);
	assert_int_equal(parts[1].index, 1);
	/* A flipped bit in the entries: the CRC catches it. */
	ents[40] ^= 1;
	assert_int_equal(
	    hvm_parttab_parse(d, len, 64 << 20, parts, &n, &kind, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "CRC"));
	ents[40] ^= 1;
	/* Entries past the bytes given. */
	assert_int_equal(
	    hvm_parttab_parse(d, 20 * 512, 64 << 20, parts, &n, &kind, &err),
	    -EINVAL);
	free(d);
}

static void test_cpuinfo(void **state)
{
	const char *a = "processor\t: 0\nflags\t\t: fpu vme vmx sse\n";
	const char *b = "processor\t: 0\nflags\t\t: fpu hypervisor vmxx\n";
	const char *c = "flags : svm\n";
	assert_true(hvm_cpuinfo_has_virt(a, strlen(a)));
	assert_false(hvm_cpuinfo_has_virt(b, strlen(b)));
	assert_true(hvm_cpuinfo_has_virt(c, strlen(c)));
	assert_false(hvm_cpuinfo_has_virt("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grub_debian),
	    cmocka_unit_test(test_grub_default_forms),
	    cmocka_unit_test(test_grub_bad),
	    cmocka_unit_test(test_bls),
	    cmocka_unit_test(test_newest),
	    cmocka_unit_test(test_mbr),
	    cmocka_unit_test(test_gpt),
	    cmocka_unit_test(test_cpuinfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
