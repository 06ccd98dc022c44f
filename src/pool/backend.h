/*
 * backend.h - what pool.c asks of a storage backend (btrfs.c, dir.c), and
 * the pool handle they share. Private to src/pool.
 *
 * pool.c owns names, the on-disk layout, locking, origins and the order of
 * steps that keeps every operation all-or-nothing; a backend only turns one
 * absolute path into another: make an empty dataset, copy a tree as a
 * snapshot or clone, delete a tree, account space, stream a snapshot.
 */
#ifndef HULL_POOL_BACKEND_H
#define HULL_POOL_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "pool/pool.h"

struct pool;

struct pool_space {
	uint64_t used;
	uint64_t referenced;
	uint64_t quota;
};

struct pool_ops {
	/* An empty, writable dataset at path (which does not exist). */
	int (*create)(struct pool *p, const char *path, struct hull_err *err);
	/* A copy of src at dst (which does not exist): read-only for a
	 * snapshot, writable for a clone. */
	int (*snapshot)(struct pool *p, const char *src, const char *dst,
			bool readonly, struct hull_err *err);
	/* Deletes the dataset or snapshot at path (nested datasets are
	 * already gone). A missing path is fine. */
	int (*remove)(struct pool *p, const char *path, struct hull_err *err);
	/* Space of the dataset or snapshot at path. */
	int (*space)(struct pool *p, const char *path, struct pool_space *out,
		     struct hull_err *err);
	/* Makes the backend's space figures current (before a listing). */
	int (*sync)(struct pool *p, struct hull_err *err);
	int (*quota_set)(struct pool *p, const char *path, uint64_t bytes,
			 struct hull_err *err);
	/* Writes a stream of snapshot path snap (incremental from base when
	 * not NULL; base and snap both snapshot paths) to fd. */
	int (*send)(struct pool *p, const char *snap, const char *base,
		    const char *snap_name, const char *base_name, int fd,
		    struct hull_err *err);
	/* Reads a stream from fd, leaving one new read-only snapshot in dir
	 * (its final folder), named *snap_name (caller frees), its top
	 * unsealed. An incremental stream (*incremental set) must have its
	 * base among the snapshots in snapdir (NULL: none). On failure dir is
	 * left as it was. */
	int (*receive)(struct pool *p, const char *dir, const char *snapdir,
		       int fd, char **snap_name, bool *incremental,
		       struct hull_err *err);
	/* Seals (on) or unseals the top of a snapshot, which a read-only
	 * tree needs around a rename of it (dir backend). */
	int (*seal)(struct pool *p, const char *path, bool on,
		    struct hull_err *err);
};

extern const struct pool_ops pool_btrfs_ops;
extern const struct pool_ops pool_dir_ops;

struct pool {
	char *root;
	enum pool_backend backend;
	const struct pool_ops *ops;
	int lock_fd;	    /* held while a mutating operation runs, else -1 */
	int depth;	    /* nesting of pool_lock() */
	bool simple_quotas; /* btrfs: simple quotas (see init.h) */
};

/* Helpers pool.c shares with stream.c. */
int pool_lock(struct pool *p, struct hull_err *err); /* re-entrant */
void pool_unlock(struct pool *p);
/* R/.snapshots/<enc>: a dataset's record. Caller frees. */
char *pool_meta_dir(const struct pool *p, const char *ds);
/* A unique temporary entry in R/.snapshots. Caller frees. */
char *pool_temp_path(const struct pool *p, const char *what);
int pool_check_snapshot(const struct pool *p, const char *name,
			struct hull_err *err);
/* A new dataset's name must be free and its parent folder exist. */
int pool_check_new_dataset(const struct pool *p, const char *name,
			   struct hull_err *err);
/* Replaces ds's files by a writable copy of the snapshot at snap_path. */
int pool_head_replace(struct pool *p, const char *ds, const char *snap_path,
		      struct hull_err *err);
/* Deletes a record moved aside: its snapshots, then the rest. */
void pool_meta_remove(struct pool *p, const char *dir);

#endif
