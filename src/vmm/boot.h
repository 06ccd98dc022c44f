/*
 * boot.h - kernel loaders: a Linux bzImage (boot protocol 2.06+, 32-bit
 * entry) or an ELF kernel with a PVH entry note. Both check the whole file
 * and the initrd before anything is written, and fill vm->entry*.
 */
#ifndef HULL_VMM_BOOT_H
#define HULL_VMM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/vm.h"

enum boot_kind { BOOT_BZIMAGE, BOOT_PVH, BOOT_UNKNOWN };

/* What kind of kernel the bytes are (by their magic). Pure. */
enum boot_kind boot_detect(const uint8_t *buf, size_t len);

/* Validates an initrd (a cpio archive, maybe compressed): a truncated or
 * garbled one is refused here rather than by the guest much later. */
int boot_initrd_check(const uint8_t *buf, size_t len, struct hull_err *err);

int boot_linux_load(struct vm *vm, const uint8_t *kernel, size_t klen,
		    const uint8_t *initrd, size_t ilen, const char *cmdline,
		    struct hull_err *err);
int boot_pvh_load(struct vm *vm, const uint8_t *kernel, size_t klen,
		  const uint8_t *initrd, size_t ilen, const char *cmdline,
		  struct hull_err *err);

/* Decompresses a bzImage's payload (the vmlinux ELF) into a new buffer.
 * Returns 0, or a negative code when the payload is absent or unreadable. */
int boot_bzimage_payload(const uint8_t *k, size_t klen, uint8_t **out,
			 size_t *out_len);

/* True when buf is an ELF kernel with a PVH entry note. Pure. */
bool boot_pvh_capable(const uint8_t *buf, size_t len);

/* Where the initrd goes: the highest page-aligned spot below limit that is
 * above min_addr, or 0 if it does not fit. */
uint64_t boot_initrd_addr(uint64_t low_size, uint64_t limit, uint64_t min_addr,
			  size_t len);

#endif
