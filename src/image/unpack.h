/*
 * unpack.h - unpacking a root filesystem archive (tar, optionally gzip,
 * bzip2, xz or zstd compressed) with libarchive, refusing hostile entries:
 * absolute paths, "..", symlinks or hard links whose target resolves outside
 * the destination, device nodes, and anything that would write through a
 * symlink.
 *
 * Confinement: every path is walked one component at a time from a
 * descriptor of the destination, each component opened with O_NOFOLLOW (the
 * equivalent of openat2's RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, without
 * needing a kernel that has it), so no entry can reach outside the
 * destination or through a symlink it planted. Symlinks are created as
 * given; a relative target that climbs above the root is refused, an
 * absolute target is taken as relative to the image root (as the instance
 * will see it) and may not climb above it either.
 *
 * Owners (numeric), modes (set-id bits too), modification times, extended
 * attributes of files and directories, hard links and symlinks inside the
 * tree and FIFOs are preserved; sockets are skipped.
 */
#ifndef HULL_IMAGE_UNPACK_H
#define HULL_IMAGE_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum unpack_flags {
	/* Apply OCI/Docker layer whiteouts: ".wh.NAME" removes NAME already in
	 * dest, ".wh..wh..opq" empties its directory first. Whiteout entries
	 * themselves are never written. */
	UNPACK_WHITEOUTS = 1 << 0,
};

struct unpack_opts {
	unsigned flags;
	/* The compression the archive must have ("none", "gzip", "bzip2",
	 * "xz", "zstd"), or NULL to accept whatever is detected. */
	const char *compression;
	/* When set, sees every byte of the input once, in order, to the end
	 * of the file (so a caller can hash it while it is unpacked). */
	void (*tap)(void *ctx, const void *buf, size_t len);
	void *tap_ctx;
	/* The most this unpack may write, 0 for no limit: the data of
	 * regular files (holes of sparse files not counted) and
	 * UNPACK_ENTRY_COST for every entry. Past it the unpack stops with
	 * EFBIG, "unpacks to more than N MiB (limit_why)". */
	uint64_t limit;
	const char *limit_why;
	/* The running count against limit, shared by the calls that fill one
	 * image (its layers); NULL counts this call alone. */
	uint64_t *used;
	/* image_unpack_raw_fd only: the largest disk allowed (the manifest's
	 * image_size), 0 for any. */
	uint64_t max_disk;
};

/* What an entry costs besides its data: an inode and a directory entry,
 * about what its tar header takes. */
#define UNPACK_ENTRY_COST 512u

/* Unpacks the archive at path into the existing directory dest. The
 * compression is detected from the content. */
int image_unpack(const char *path, const char *dest, unsigned flags,
		 struct hull_err *err);

/* Same, from a descriptor (read to its end; borrowed). */
int image_unpack_fd(int fd, const char *dest, const struct unpack_opts *o,
		    struct hull_err *err);

/* Same, from bytes in memory (what the fuzzer drives). */
int image_unpack_mem(const void *buf, size_t len, const char *dest,
		     unsigned flags, struct hull_err *err);

/* Decompresses a raw (zvol) image from fd into the new file dest_file,
 * keeping holes where the data is zero. */
int image_unpack_raw_fd(int fd, const char *dest_file,
			const struct unpack_opts *o, struct hull_err *err);

/* Removes name under dirfd recursively without following symlinks. */
int image_rm_rf_at(int dirfd, const char *name, struct hull_err *err);

#endif
