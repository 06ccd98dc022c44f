/*
 * bootdisk.h - the firmware-less boot loader (what bhyveload and
 * grub-bhyve do for bhyve): reads a guest's boot disk, finds the kernel,
 * initrd and command line its own configuration names, and copies the
 * kernel and initrd out so the VMM can boot them directly.
 *
 * The disk: an MBR or GPT partition table (parttab.h), or a bare
 * filesystem. Each filesystem, bootable partitions first, is opened
 * read-only with libext2fs (ext2/3/4) and asked, in this order:
 *   1. the default entry of /boot/grub/grub.cfg (or /boot/grub2/, or
 *      /grub/ on a separate /boot partition);
 *   2. the newest BLS entry in /boot/loader/entries/ (or /loader/entries/);
 *   3. the newest /boot/vmlinuz-* (or /vmlinuz-* on a separate /boot),
 *      with its initrd and the command line HVM_BOOT_DEFAULT_CMDLINE.
 * The first filesystem that answers wins. A path that a configuration
 * names under /boot is also looked for without the /boot prefix, so a
 * separate /boot partition works. Several initrd files are concatenated
 * (the kernel unpacks each cpio in turn).
 *
 * The disk is the guest's: every size read from it is bounded
 * (HVM_BOOT_KERNEL_MAX, HVM_BOOT_INITRD_MAX, the bootcfg.h bounds, the
 * blocks of a directory, the symbolic links of a path), its text goes
 * through the pure parsers of bootcfg.h and parttab.h, and the whole
 * reading runs in the loader's sandbox (loader.h), not as root.
 */
#ifndef HULL_HVM_BOOTDISK_H
#define HULL_HVM_BOOTDISK_H

#include <stdbool.h>
#include <stdint.h>

#include "hvm/bootcfg.h"
#include "lib/err.h"

#define HVM_BOOT_KERNEL_MAX (256ull << 20)
#define HVM_BOOT_INITRD_MAX (1ull << 30) /* all initrd files together */

struct hvm_boot {
	struct hvm_bootent ent; /* what the configuration says */
	unsigned partition;	/* 1-based; 0 for a bare filesystem */
	char *kernel_file;	/* the copy in dir (owned), or NULL */
	char *initrd_file;	/* the copy in dir (owned), or NULL */
};

void hvm_boot_fini(struct hvm_boot *b);

/* What hvm_boot_scan copies and where: two empty files open for writing
 * (owned by the caller), and what the copies already in place were made
 * from. */
struct hvm_boot_copy {
	int kernel_fd, initrd_fd;
	const char *old_stamp;		  /* the copies' stamp, or NULL */
	int64_t have_kernel, have_initrd; /* their sizes, -1: none */
	/* out */
	char *stamp; /* what these copies are made from (owned) */
	uint64_t kernel_size, initrd_size;
	bool reused; /* the copies in place match: nothing was written */
};

/* Loads libext2fs (src/lib/dl_ext2fs.c), which hvm_boot_scan also does on
 * its first call: a sandbox that cannot open files calls this first. */
int hvm_boot_ext2fs_load(struct hull_err *err);

/* Finds what the disk open at fd (named disk in messages) boots. With cp,
 * also writes the kernel and the initrd files (concatenated) to
 * cp->kernel_fd and cp->initrd_fd, unless the copies in place are of the
 * same files. Reads and writes only through these descriptors: it runs
 * inside the loader's sandbox (loader.h), never as root. A disk with no
 * kernel is -ENOENT with a message naming what was searched. */
int hvm_boot_scan(int fd, const char *disk, struct hvm_boot_copy *cp,
		  struct hvm_boot *out, struct hull_err *err);

#endif
