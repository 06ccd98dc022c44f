/*
 * bootcfg.h - choosing what to boot from a guest disk's own boot
 * configuration, the way bhyveload and grub-bhyve do it: the default entry
 * of /boot/grub/grub.cfg, else the newest Boot Loader Specification entry
 * (/boot/loader/entries/\*.conf), else the newest /boot/vmlinuz-* with its
 * matching initrd.
 *
 * Everything here is pure (text in, struct out, no I/O): the text comes
 * from the guest's disk and is untrusted. Sizes are bounded
 * (HVM_BOOTCFG_TEXT_MAX, HVM_BOOTCFG_ENTRIES_MAX, HVM_BOOTCFG_INITRD_MAX);
 * anything past a bound is an error, not a truncation. A grub.cfg is read
 * as a reasonable subset of grub's script language: `set default=`,
 * `menuentry` and `submenu` blocks (nested), and inside an entry the
 * `linux`/`linuxefi`/`linux16` and `initrd`/`initrdefi`/`initrd16` lines.
 * Other commands (if/fi, insmod, search, set root=…) are skipped; a
 * device prefix such as `($root)` or `(hd0,gpt2)` is dropped from paths and
 * arguments that are bare variables (`$vt_handoff`) are left out.
 */
#ifndef HULL_HVM_BOOTCFG_H
#define HULL_HVM_BOOTCFG_H

#include <stddef.h>

#include "lib/err.h"

#define HVM_BOOTCFG_TEXT_MAX (1u << 20) /* one grub.cfg or BLS entry */
#define HVM_BOOTCFG_ENTRIES_MAX 256	/* menu entries, BLS files, names */
#define HVM_BOOTCFG_INITRD_MAX 8	/* initrd files of one entry */
#define HVM_BOOTCFG_CMDLINE_MAX 4096	/* the kernel command line */

/* Where a choice came from. */
enum hvm_boot_source {
	HVM_BOOT_GRUB = 1,
	HVM_BOOT_BLS,
	HVM_BOOT_NEWEST,
};

/* One bootable choice. Paths are as the configuration gives them (absolute
 * within the filesystem that holds them, device prefix removed). */
struct hvm_bootent {
	enum hvm_boot_source source;
	char *title;			      /* may be NULL */
	char *kernel;			      /* owned */
	char *initrd[HVM_BOOTCFG_INITRD_MAX]; /* owned, ninitrd of them */
	size_t ninitrd;
	char *cmdline; /* owned, never NULL (may be "") */
};

void hvm_bootent_fini(struct hvm_bootent *e);

/* The default entry of a grub.cfg: `set default=` as an index (with `>`
 * for submenus), a title or an entry id; 0 when unset or set from a
 * variable. Returns 0, or -ENOENT when the file has no bootable entry,
 * -EINVAL when it is malformed beyond use or over a bound. */
int hvm_grub_parse(const char *text, size_t len, struct hvm_bootent *out,
		   struct hull_err *err);

/* One BLS entry file (`linux`, `initrd`, `options`, `title`, `version`).
 * *version is the entry's version (owned, may be NULL). -ENOENT when it
 * names no kernel. */
int hvm_bls_parse(const char *text, size_t len, struct hvm_bootent *out,
		  char **version, struct hull_err *err);

/* Which of n BLS entries boots: the one with the highest version, ties
 * (and entries without one) by file name; returns its index. names[i]
 * and versions[i] (may be NULL) describe entry i. */
size_t hvm_bls_pick(char *const *names, char *const *versions, size_t n);

/* The newest-kernel rule over the names in /boot: the vmlinuz-VERSION
 * with the highest VERSION (version order, as sort -V), with
 * initrd.img-VERSION, initrd-VERSION.img or initramfs-VERSION.img when
 * present. Paths are "/boot/...". The command line is
 * HVM_BOOT_DEFAULT_CMDLINE. -ENOENT when there is no vmlinuz-*. */
#define HVM_BOOT_DEFAULT_CMDLINE "console=ttyS0"
int hvm_boot_newest(char *const *names, size_t n, struct hvm_bootent *out,
		    struct hull_err *err);

/* "linux" etc. as a word for messages. */
const char *hvm_boot_source_name(enum hvm_boot_source s);

#endif
