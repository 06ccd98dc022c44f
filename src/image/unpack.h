/*
 * unpack.h - unpacking a root filesystem archive (tar, optionally gzip,
 * bzip2, xz or zstd compressed) with libarchive, refusing hostile entries:
 * absolute paths, "..", symlinks or hard links whose target resolves outside
 * the destination, device nodes, and anything that would write through a
 * symlink. Extraction goes through openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)
 * style confinement to the destination directory.
 */
#ifndef HULL_IMAGE_UNPACK_H
#define HULL_IMAGE_UNPACK_H

#include "lib/err.h"

enum unpack_flags {
	/* Apply OCI/Docker layer whiteouts: ".wh.NAME" removes NAME already in
	 * dest, ".wh..wh..opq" empties its directory first. */
	UNPACK_WHITEOUTS = 1 << 0,
};

/* Unpacks the archive at path into the existing directory dest. The
 * compression is detected from the content. */
int image_unpack(const char *path, const char *dest, unsigned flags,
		 struct hull_err *err);

#endif
