/*
 * btrfs.h - btrfs facts the pool's set-up and sysinfo need besides the
 * backend itself (see btrfs.c).
 */
#ifndef HULL_POOL_BTRFS_H
#define HULL_POOL_BTRFS_H

#include "lib/err.h"

/* The filesystem UUID of the btrfs holding path, as text. */
int pool_btrfs_fsid(const char *path, char out[37], struct hull_err *err);

/* Turns on quota groups for the filesystem mounted at root and waits for
 * the first accounting scan. */
int pool_btrfs_quota_enable(const char *root, struct hull_err *err);

#endif
