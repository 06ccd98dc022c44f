/*
 * boot_pvh.c - direct boot of an ELF kernel through its PVH entry
 * (Xen's "HVM direct boot ABI", xen/include/public/arch-x86/hvm/start_info.h):
 * load the PT_LOAD segments at their physical addresses, find the
 * XEN_ELFNOTE_PHYS32_ENTRY note, and enter in 32-bit protected mode with
 * EBX = the hvm_start_info structure (command line, initrd module, memory
 * map). Linux vmlinux with CONFIG_PVH and the test guests boot this way.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot.h"
#include "vmm/e820.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578
#define PVH_MODLIST_ADDR (VMM_PVH_INFO_ADDR + 0x40)

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct seg {
	uint64_t off, filesz, memsz, paddr;
};

#define MAX_SEGS 16

struct elf_info {
	struct seg segs[MAX_SEGS];
	unsigned nseg;
	uint64_t entry;
	uint64_t end; /* highest byte loaded */
};

static int in_file(size_t len, uint64_t off, uint64_t n)
{
	return off <= len && n <= len - off;
}

/* Scans one PT_NOTE region for the PVH entry. */
static int find_note(const uint8_t *k, uint64_t off, uint64_t n,
		     uint64_t *entry)
{
	uint64_t p = off, end = off + n;
	while (end - p >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, k + p, 4);
		memcpy(&descsz, k + p + 4, 4);
		memcpy(&type, k + p + 8, 4);
		uint64_t name = p + 12;
		uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ull);
		if (next > end)
			return 0;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    !memcmp(k + name, "Xen", 4) &&
		    (descsz == 4 || descsz == 8)) {
			uint64_t v = 0;
			memcpy(&v, k + desc, descsz);
			*entry = v;
			return 1;
		}
		p = next;
	}
	return 0;
}

static int elf_parse(const uint8_t *k, size_t len, struct elf_info *info,
		     struct hull_err *err)
{
	bool is64;
	uint64_t phoff;
	unsigned phnum, phentsize;

	memset(info, 0, sizeof(*info));
	if (len < sizeof(Elf32_Ehdr) || memcmp(k, ELFMAG, SELFMAG))
		return hull_err_set(err, EINVAL, "kernel: not an ELF file");
	if (k[EI_DATA] != ELFDATA2LSB)
		return hull_err_set(err, EINVAL,
				    "kernel: ELF is not little-endian");
	if (k[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr h;
		if (len < sizeof(h))
			return hull_err_set(err, EINVAL,
					    "kernel: truncated ELF header");
		memcpy(&h, k, sizeof(h));
		if (h.e_machine != EM_X86_64)
			return hull_err_set(err, EINVAL,
					    "kernel: ELF is not for x86");
		is64 = true;
		phoff = h.e_phoff;
		phnum = h.e_phnum;
		phentsize = h.e_phentsize;
		if (phentsize != sizeof(Elf64_Phdr))
			return hull_err_set(err, EINVAL,
					    "kernel: bad ELF program headers");
	} else if (k[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr h;
		memcpy(&h, k, sizeof(h));
		if (h.e_machine != EM_386)
			return hull_err_set(err, EINVAL,
					    "kernel: ELF is not for x86");
		is64 = false;
		phoff = h.e_phoff;
		phnum = h.e_phnum;
		phentsize = h.e_phentsize;
		if (phentsize != sizeof(Elf32_Phdr))
			return hull_err_set(err, EINVAL,
					    "kernel: bad ELF program headers");
	} else {
		return hull_err_set(err, EINVAL, "kernel: unknown ELF class");
	}
	if (!phnum || !in_file(len, phoff, (uint64_t)phnum * phentsize))
		return hull_err_set(
		    err, EINVAL,
		    "kernel: truncated (ELF program headers past the end)");

	bool found = false;
	for (unsigned i = 0; i < phnum; i++) {
		struct seg s;
		uint32_t type;
		const uint8_t *ph = k + phoff + (uint64_t)i * phentsize;
		if (is64) {
			Elf64_Phdr p;
			memcpy(&p, ph, sizeof(p));
			type = p.p_type;
			s = (struct seg){p.p_offset, p.p_filesz, p.p_memsz,
					 p.p_paddr};
		} else {
			Elf32_Phdr p;
			memcpy(&p, ph, sizeof(p));
			type = p.p_type;
			s = (struct seg){p.p_offset, p.p_filesz, p.p_memsz,
					 p.p_paddr};
		}
		if (type == PT_NOTE) {
			if (!in_file(len, s.off, s.filesz))
				return hull_err_set(err, EINVAL,
						    "kernel: truncated (ELF "
						    "note past the end)");
			if (!found)
				found =
				    find_note(k, s.off, s.filesz, &info->entry);
		} else if (type == PT_LOAD && s.memsz) {
			if (!in_file(len, s.off, s.filesz))
				return hull_err_set(err, EINVAL,
						    "kernel: truncated (ELF "
						    "segment past the end)");
			if (s.filesz > s.memsz)
				return hull_err_set(
				    err, EINVAL,
				    "kernel: bad ELF segment sizes");
			if (info->nseg == MAX_SEGS)
				return hull_err_set(
				    err, EINVAL,
				    "kernel: too many ELF segments");
			if (s.paddr + s.memsz < s.paddr)
				return hull_err_set(
				    err, EINVAL,
				    "kernel: bad ELF segment address");
			info->segs[info->nseg++] = s;
			if (s.paddr + s.memsz > info->end)
				info->end = s.paddr + s.memsz;
		}
	}
	if (!found)
		return hull_err_set(
		    err, EINVAL,
		    "kernel: ELF has no PVH entry note "
		    "(XEN_ELFNOTE_PHYS32_ENTRY; Linux needs CONFIG_PVH)");
	if (!info->nseg)
		return hull_err_set(err, EINVAL,
				    "kernel: ELF has nothing to load");
	return 0;
}

bool boot_pvh_capable(const uint8_t *buf, size_t len)
{
	struct elf_info info;
	return elf_parse(buf, len, &info, NULL) == 0;
}

int boot_pvh_load(struct vm *vm, const uint8_t *k, size_t klen,
		  const uint8_t *initrd, size_t ilen, const char *cmdline,
		  struct hull_err *err)
{
	struct elf_info info;
	if (elf_parse(k, klen, &info, err) < 0)
		return -err->code;
	for (unsigned i = 0; i < info.nseg; i++) {
		struct seg *s = &info.segs[i];
		if (s->paddr < VMM_KERNEL_ADDR ||
		    !vm_gpa(vm, s->paddr, s->memsz))
			return hull_err_set(
			    err, ENOMEM,
			    "kernel: ELF segment at 0x%llx (%llu bytes) is "
			    "outside guest RAM above 1 MiB",
			    (unsigned long long)s->paddr,
			    (unsigned long long)s->memsz);
	}
	if (info.entry < VMM_KERNEL_ADDR || info.entry >= info.end)
		return hull_err_set(
		    err, EINVAL,
		    "kernel: PVH entry 0x%llx is outside the loaded kernel",
		    (unsigned long long)info.entry);
	size_t cmdlen = strlen(cmdline);
	uint64_t iaddr = 0;
	if (initrd) {
		iaddr = boot_initrd_addr(vm->low_size, 1ull << 32,
					 (info.end + 0xfff) & ~0xfffull, ilen);
		if (!iaddr)
			return hull_err_set(err, ENOMEM,
					    "initrd: %zu bytes do not fit in "
					    "guest memory beside the kernel",
					    ilen);
	}

	for (unsigned i = 0; i < info.nseg; i++) {
		struct seg *s = &info.segs[i];
		uint8_t *dst = vm_gpa(vm, s->paddr, s->memsz);
		memcpy(dst, k + s->off, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	char *cl = vm_gpa(vm, VMM_CMDLINE_ADDR, cmdlen + 1);
	struct hvm_start_info *si = vm_gpa(vm, VMM_PVH_INFO_ADDR, sizeof(*si));
	struct hvm_memmap_entry *mm =
	    vm_gpa(vm, VMM_PVH_MEMMAP_ADDR, E820_MAX * sizeof(*mm));
	if (!cl || !si || !mm)
		return hull_err_set(err, ENOMEM, "guest memory too small");
	memcpy(cl, cmdline, cmdlen + 1);
	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = VMM_CMDLINE_ADDR;
	si->rsdp_paddr = VMM_ACPI_ADDR; /* acpi.c: the RSDP comes first */
	if (initrd) {
		struct hvm_modlist_entry *m =
		    vm_gpa(vm, PVH_MODLIST_ADDR, sizeof(*m));
		memcpy(vm_gpa(vm, iaddr, ilen), initrd, ilen);
		*m = (struct hvm_modlist_entry){.paddr = iaddr, .size = ilen};
		si->nr_modules = 1;
		si->modlist_paddr = PVH_MODLIST_ADDR;
	}
	struct e820_entry map[E820_MAX];
	unsigned n = e820_build(vm->mem_size, map);
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){map[i].addr, map[i].size,
						  map[i].type, 0};
	si->memmap_paddr = VMM_PVH_MEMMAP_ADDR;
	si->memmap_entries = n;
	vm->entry = info.entry;
	vm->entry_ebx = VMM_PVH_INFO_ADDR;
	vm->entry_esi = 0;
	return 0;
}
