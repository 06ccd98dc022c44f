/*
 * fuzz_bootcfg.c - what the firmware-less boot loader reads from a guest's
 * disk: the first byte picks the parser, the rest is its input.
 *   0: grub.cfg (hvm_grub_parse)
 *   1: a BLS entry (hvm_bls_parse)
 *   2: the names in /boot, one per line (hvm_boot_newest)
 *   3: the head of a disk (hvm_parttab_parse), its size in the next 8
 *      bytes
 * Every result is checked for the invariants the boot loader relies on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hvm/bootcfg.h"
#include "hvm/parttab.h"
#include "lib/err.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ent(const struct hvm_bootent *e)
{
	if (!e->kernel || !e->cmdline || e->ninitrd > HVM_BOOTCFG_INITRD_MAX ||
	    strlen(e->cmdline) >= HVM_BOOTCFG_CMDLINE_MAX)
		abort();
	for (size_t i = 0; i < e->ninitrd; i++)
		if (!e->initrd[i])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 4;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	struct hull_err err;
	struct hvm_bootent e;
	if (mode == 0) {
		if (hvm_grub_parse(text, len, &e, &err) == 0) {
			check_ent(&e);
			hvm_bootent_fini(&e);
		}
	} else if (mode == 1) {
		char *ver;
		if (hvm_bls_parse(text, len, &e, &ver, &err) == 0) {
			check_ent(&e);
			hvm_bootent_fini(&e);
			free(ver);
		}
	} else if (mode == 2) {
		char *copy = xstrndup(text, len);
		char *names[HVM_BOOTCFG_ENTRIES_MAX];
		size_t n = 0;
		char *save = NULL;
		for (char *t = strtok_r(copy, "\n", &save);
		     t && n < HVM_BOOTCFG_ENTRIES_MAX;
		     t = strtok_r(NULL, "\n", &save))
			names[n++] = t;
		if (hvm_boot_newest(names, n, &e, &err) == 0) {
			check_ent(&e);
			hvm_bootent_fini(&e);
		}
		free(copy);
	} else {
		if (len < 8)
			return 0;
		uint64_t disk = 0;
		memcpy(&disk, text, 8);
		struct hvm_part parts[HVM_PART_MAX];
		size_t n;
		enum hvm_parttab_kind kind;
		if (hvm_parttab_parse((const uint8_t *)text + 8, len - 8, disk,
				      parts, &n, &kind, &err) == 0) {
			if (n > HVM_PART_MAX)
				abort();
			for (size_t i = 0; i < n; i++)
				if (parts[i].offset > disk ||
				    parts[i].size > disk - parts[i].offset)
					abort();
		}
	}
	return 0;
}
