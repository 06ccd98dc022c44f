/*
 * btrfs.h - btrfs facts the pool's set-up and sysinfo need besides the
 * backend itself (see btrfs.c).
 */
#ifndef HULL_POOL_BTRFS_H
#define HULL_POOL_BTRFS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* The filesystem UUID of the btrfs holding path, as text. */
int pool_btrfs_fsid(const char *path, char out[37], struct hull_err *err);

/* Turns on quota groups for the filesystem mounted at root: simple quotas
 * (kernel 6.7+; -EINVAL before) or full accounting, waiting for its first
 * scan. */
int pool_btrfs_quota_enable(const char *root, bool simple,
			    struct hull_err *err);

/* Data bytes the subvolume at path references, each extent once, from a
 * walk of its tree (see btrfs_refer.c). */
int pool_btrfs_referenced(const char *path, uint64_t *out,
			  struct hull_err *err);

/* A subvolume's uuid (32 hex digits) and ctransid. */
int pool_btrfs_ident(const char *path, char id[33], uint64_t *ctransid,
		     struct hull_err *err);

/* A read-only snapshot of src at dst that btrfs receive takes for the
 * subvolume id (pool_btrfs_ident of the sender's copy) as the parent of a
 * stream: its received uuid and stransid are set to id and ctransid. */
int pool_btrfs_shim(const char *src, const char *dst, const char *id,
		    uint64_t ctransid, struct hull_err *err);

#endif
