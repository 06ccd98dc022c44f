/*
 * boot_linux.c - the Linux x86 boot protocol for a bzImage
 * (Documentation/arch/x86/boot.rst): validate the setup header, copy the
 * protected-mode kernel to 1 MiB, build the zero page (setup header copy,
 * command line, initrd, e820 map) and enter at code32_start with ESI
 * pointing at the zero page.
 */
#include <errno.h>
#include <string.h>

#include "vmm/boot.h"
#include "vmm/e820.h"

#define HDR_SETUP_SECTS 0x1f1
#define HDR_VID_MODE 0x1fa
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_CMDLINE_SIZE 0x238
#define HDR_INIT_SIZE 0x260
#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE 0x2d0
#define LOADED_HIGH 0x01

static uint32_t rd32(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p, size_t off)
{
	uint16_t v;
	memcpy(&v, p + off, 2);
	return v;
}

static void wr32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

enum boot_kind boot_detect(const uint8_t *buf, size_t len)
{
	if (len >= 4 && !memcmp(buf, "\177ELF", 4))
		return BOOT_PVH;
	if (len >= 0x210 && rd16(buf, HDR_BOOT_FLAG) == 0xaa55 &&
	    rd32(buf, HDR_MAGIC) == 0x53726448)
		return BOOT_BZIMAGE;
	return BOOT_UNKNOWN;
}

uint64_t boot_initrd_addr(uint64_t low_size, uint64_t limit, uint64_t min_addr,
			  size_t len)
{
	uint64_t top = low_size < limit ? low_size : limit;
	if (len > top)
		return 0;
	uint64_t addr = (top - len) & ~0xfffull;
	return addr >= min_addr ? addr : 0;
}

int boot_linux_load(struct vm *vm, const uint8_t *k, size_t klen,
		    const uint8_t *initrd, size_t ilen, const char *cmdline,
		    struct hull_err *err)
{
	if (klen < 0x264)
		return hull_err_set(err, EINVAL,
				    "kernel: too short for a bzImage");
	uint16_t version = rd16(k, HDR_VERSION);
	if (version < 0x206)
		return hull_err_set(err, EINVAL,
				    "kernel: boot protocol %u.%02u is too old "
				    "(2.06 or later needed)",
				    version >> 8, version & 0xff);
	if (!(k[HDR_LOADFLAGS] & LOADED_HIGH))
		return hull_err_set(err, EINVAL,
				    "kernel: not a bzImage (zImage loaded low "
				    "is not supported)");
	unsigned setup_sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
	size_t setup_len = ((size_t)setup_sects + 1) * 512;
	if (setup_len >= klen)
		return hull_err_set(
		    err, EINVAL,
		    "kernel: truncated (setup is %zu bytes, file %zu)",
		    setup_len, klen);
	size_t pm_len = klen - setup_len;
	/* syssize counts 16-byte paragraphs, so it may round the file up */
	uint64_t syssize = (uint64_t)rd32(k, 0x1f4) * 16;
	if (syssize > pm_len + 15)
		return hull_err_set(err, EINVAL,
				    "kernel: truncated (header says %llu bytes "
				    "of kernel, file has %zu)",
				    (unsigned long long)syssize, pm_len);

	/* The kernel decompresses in place and needs init_size bytes from its
	 * load address before it reads the memory map (boot.rst, init_size). */
	uint64_t need = pm_len;
	if (version >= 0x20a && rd32(k, HDR_INIT_SIZE) > need)
		need = rd32(k, HDR_INIT_SIZE);
	uint64_t kend = VMM_KERNEL_ADDR + need;
	if (kend > vm->low_size)
		return hull_err_set(err, ENOMEM,
				    "kernel: needs %llu MiB from 1 MiB, more "
				    "than the guest memory",
				    (unsigned long long)(need >> 20) + 1);

	size_t cmdlen = strlen(cmdline);
	uint32_t cmdmax = rd32(k, HDR_CMDLINE_SIZE);
	if (cmdlen > cmdmax)
		return hull_err_set(
		    err, E2BIG,
		    "cmdline: %zu bytes, this kernel takes at most %u", cmdlen,
		    cmdmax);

	uint64_t iaddr = 0;
	if (initrd) {
		uint32_t imax = rd32(k, HDR_INITRD_ADDR_MAX);
		iaddr = boot_initrd_addr(vm->low_size, (uint64_t)imax + 1,
					 (kend + 0xfff) & ~0xfffull, ilen);
		if (!iaddr)
			return hull_err_set(err, ENOMEM,
					    "initrd: %zu bytes do not fit in "
					    "guest memory beside the kernel",
					    ilen);
	}

	/* All checked: write the guest. */
	uint8_t *zp = vm_gpa(vm, VMM_ZERO_PAGE_ADDR, 4096);
	char *cl = vm_gpa(vm, VMM_CMDLINE_ADDR, cmdlen + 1);
	uint8_t *kdst = vm_gpa(vm, VMM_KERNEL_ADDR, pm_len);
	if (!zp || !cl || !kdst)
		return hull_err_set(err, ENOMEM, "guest memory too small");
	memset(zp, 0, 4096);
	size_t hdr_end = 0x202 + k[HDR_JUMP + 1];
	if (hdr_end > 0x280)
		hdr_end = 0x280;
	memcpy(zp + HDR_SETUP_SECTS, k + HDR_SETUP_SECTS,
	       hdr_end - HDR_SETUP_SECTS);
	zp[HDR_VID_MODE] = 0xff;
	zp[HDR_VID_MODE + 1] = 0xff;
	zp[HDR_TYPE_OF_LOADER] = 0xff;
	wr32(zp, HDR_CMD_LINE_PTR, VMM_CMDLINE_ADDR);
	memcpy(cl, cmdline, cmdlen + 1);
	memcpy(kdst, k + setup_len, pm_len);
	if (initrd) {
		memcpy(vm_gpa(vm, iaddr, ilen), initrd, ilen);
		wr32(zp, HDR_RAMDISK_IMAGE, (uint32_t)iaddr);
		wr32(zp, HDR_RAMDISK_SIZE, (uint32_t)ilen);
	}
	struct e820_entry map[E820_MAX];
	unsigned n = e820_build(vm->mem_size, map);
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + i * 20;
		memcpy(e, &map[i].addr, 8);
		memcpy(e + 8, &map[i].size, 8);
		memcpy(e + 16, &map[i].type, 4);
	}
	/* code32_start as the header gives it: the kernel's 32-bit entry when
	 * loaded at 1 MiB. */
	vm->entry = rd32(k, HDR_CODE32_START);
	if (vm->entry != VMM_KERNEL_ADDR)
		vm->entry = VMM_KERNEL_ADDR;
	vm->entry_esi = VMM_ZERO_PAGE_ADDR;
	vm->entry_ebx = 0;
	return 0;
}
