/*
 * pool.h - the dataset layer (the ZFS role), one interface over two backends:
 * btrfs (subvolumes, read-only snapshots, writable snapshots as clones,
 * qgroups, send/receive) and plain directories (copies instead of clones,
 * for hosts without btrfs).
 *
 * Names follow ZFS, relative to the pool root: a dataset is "images/<uuid>"
 * or "<uuid>" (segments of [A-Za-z0-9._-], '/' between them, the parent
 * folder must exist); a snapshot is "dataset@name". A dataset's files live at
 * pool_dataset_path(). Snapshots live under <root>/.snapshots/ and are never
 * visible inside the dataset, so an instance's root never sees them.
 *
 * All functions return 0 or a negative errno code with err filled in.
 */
#ifndef HULL_POOL_H
#define HULL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum pool_backend {
	POOL_BACKEND_BTRFS,
	POOL_BACKEND_DIR,
};

struct pool; /* opaque */

/* Opens the pool at hull_root(); fails naming `hull init` when there is none.
 */
int pool_open(struct pool **out, struct hull_err *err);
void pool_close(struct pool *p);

enum pool_backend pool_backend_get(const struct pool *p);
const char *pool_backend_name(enum pool_backend b);
/* "btrfs" or "dir"; -1 for anything else. */
int pool_backend_parse(const char *s, enum pool_backend *out);
const char *pool_root_path(const struct pool *p);

/* Absolute path of a dataset or snapshot; caller frees. */
char *pool_dataset_path(const struct pool *p, const char *name);
bool pool_dataset_exists(const struct pool *p, const char *name);
bool pool_name_valid(const char *name);

int pool_dataset_create(struct pool *p, const char *name, struct hull_err *err);
/* Destroys the dataset and its snapshots. Refused (EBUSY) while a clone of
 * one of its snapshots exists. */
int pool_dataset_destroy(struct pool *p, const char *name,
			 struct hull_err *err);
/* Renames a dataset together with its snapshots. */
int pool_dataset_rename(struct pool *p, const char *from, const char *to,
			struct hull_err *err);

int pool_snapshot_create(struct pool *p, const char *snapshot,
			 struct hull_err *err);
int pool_snapshot_destroy(struct pool *p, const char *snapshot,
			  struct hull_err *err);
/* A writable dataset that starts as a copy of snapshot (constant time on
 * btrfs). Its origin is recorded. */
int pool_clone(struct pool *p, const char *snapshot, const char *name,
	       struct hull_err *err);
/* Puts the dataset back to the snapshot's content. */
int pool_rollback(struct pool *p, const char *snapshot, struct hull_err *err);

/* Limits a dataset's referenced bytes; 0 removes the limit. */
int pool_quota_set(struct pool *p, const char *name, uint64_t bytes,
		   struct hull_err *err);

struct pool_entry {
	char *name; /* "ds" or "ds@snap" */
	bool snapshot;
	char *origin;	     /* snapshot a clone came from, or NULL */
	uint64_t used;	     /* bytes exclusive to it */
	uint64_t referenced; /* bytes it can see */
	uint64_t quota;	     /* 0 when none */
};

/* Lists datasets and snapshots, sorted by name. */
int pool_list(struct pool *p, struct pool_entry **out, size_t *count,
	      struct hull_err *err);
void pool_entries_free(struct pool_entry *e, size_t count);

enum pool_list_flags {
	POOL_LIST_NO_SPACE = 1 << 0, /* leave used/referenced/quota 0: fast */
	POOL_LIST_NO_SNAPSHOTS = 1 << 1, /* datasets only */
};
/* Like pool_list, limited to `under` and the datasets nested in it (all
 * when NULL), with flags from enum pool_list_flags. */
int pool_list_select(struct pool *p, const char *under, unsigned flags,
		     struct pool_entry **out, size_t *count,
		     struct hull_err *err);

/* The snapshot a dataset was cloned from (new string) or NULL in *out. */
int pool_origin_get(struct pool *p, const char *name, char **out,
		    struct hull_err *err);

/* Writes a stream of snapshot to fd: full, or incremental from from_snapshot
 * (which the receiving side must already have). */
int pool_send(struct pool *p, const char *snapshot, const char *from_snapshot,
	      int fd, struct hull_err *err);
/* Reads a stream from fd into a new dataset `name` and its snapshot named as
 * in the stream. An incremental stream needs its base snapshot present. */
int pool_receive(struct pool *p, const char *name, int fd,
		 struct hull_err *err);
/* An incremental stream's snapshot only: the dataset's files stay as
 * they are (a live migration's target QEMU holds them), and the caller
 * takes from the snapshot what it needs. */
int pool_receive_aside(struct pool *p, const char *name, int fd,
		       struct hull_err *err);

/* The backend's identity of a snapshot: btrfs's subvolume uuid (32 hex
 * digits) and ctransid. ENOTSUP on the dir backend. */
int pool_snapshot_ident(struct pool *p, const char *snapshot, char id[33],
			uint64_t *ctransid, struct hull_err *err);
/* A full stream of snapshot expressed relative to parent, a snapshot of
 * another dataset (the image a clone came from) that the receiver holds
 * with the same content: only the difference travels. btrfs only. */
int pool_send_from(struct pool *p, const char *snapshot, const char *parent,
		   int fd, struct hull_err *err);
/* Receives such a stream into the new dataset name: parent is this pool's
 * copy of the sender's parent, parent_id and ctransid the sender's
 * pool_snapshot_ident of it. btrfs only. */
int pool_receive_from(struct pool *p, const char *name, const char *parent,
		      const char *parent_id, uint64_t ctransid, int fd,
		      struct hull_err *err);

/* Removes what commands that were killed (or a crash) left half-made:
 * temporary entries no listing shows. hull init runs it on a pool that is
 * already there. *removed counts them. */
int pool_sweep(struct pool *p, unsigned *removed, struct hull_err *err);

/* Size and free bytes of the pool's filesystem. */
int pool_usage(struct pool *p, uint64_t *size, uint64_t *avail,
	       struct hull_err *err);

#endif
