/*
 * stream.c - send and receive: a snapshot as a byte stream and back (the
 * backends write and read the streams; this file orders the steps so a
 * failed receive leaves the pool as it was).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "pool/backend.h"
#include "pool/btrfs.h"
#include "pool/name.h"
#include "pool/pool.h"

int pool_send(struct pool *p, const char *snapshot, const char *from_snapshot,
	      int fd, struct hull_err *err)
{
	int r = pool_check_snapshot(p, snapshot, err);
	_cleanup_free_ char *ds = NULL, *snap = NULL, *bds = NULL,
			    *bsnap = NULL;
	if (r == 0)
		pool_name_split(snapshot, &ds, &snap);
	if (r == 0 && from_snapshot) {
		r = pool_check_snapshot(p, from_snapshot, err);
		if (r == 0)
			pool_name_split(from_snapshot, &bds, &bsnap);
		if (r == 0 && strcmp(ds, bds) != 0)
			r = hull_err_set(err, EINVAL,
					 "%s is not a snapshot of %s",
					 from_snapshot, ds);
		if (r == 0 && strcmp(snap, bsnap) == 0)
			r = hull_err_set(
			    err, EINVAL,
			    "incremental source is the snapshot itself");
	}
	_cleanup_free_ char *path = pool_dataset_path(p, snapshot);
	_cleanup_free_ char *base =
	    from_snapshot ? pool_dataset_path(p, from_snapshot) : NULL;
	if (r == 0)
		r = p->ops->send(p, path, base, snap, bsnap, fd, err);
	return r < 0 ? hull_err_prefix(err, "send %s", snapshot) : 0;
}

/* Makes the received snapshot dir/snap take effect. Full stream: dir is
 * the new dataset's record, still under a temporary name; the dataset is
 * made a writable copy of the snapshot and the record renamed into place.
 * Incremental: dir is the dataset's record and its files are replaced by
 * the new snapshot's. On failure the snapshot is removed. */
static int receive_commit(struct pool *p, const char *name, const char *dir,
			  const char *snap, bool incremental, bool keep_head,
			  struct hull_err *err)
{
	_cleanup_free_ char *got = xasprintf("%s/%s", dir, snap);
	_cleanup_free_ char *full = xasprintf("%s@%s", name, snap);
	int r = 0;
	if (!pool_snapshot_name_valid(full))
		r = hull_err_set(err, EINVAL,
				 "stream names an invalid snapshot: %s", snap);
	if (r == 0 && incremental) {
		if (!keep_head)
			r = pool_head_replace(p, name, got, err);
	} else if (r == 0) {
		_cleanup_free_ char *path = pool_dataset_path(p, name);
		_cleanup_free_ char *m = pool_meta_dir(p, name);
		r = p->ops->snapshot(p, got, path, false, err);
		if (r == 0 && rename(dir, m) < 0) {
			r = hull_err_sys(err, errno, "store %s", full);
			p->ops->remove(p, path, NULL);
		}
		if (r == 0) {
			free(got);
			got = xasprintf("%s/%s", m, snap);
		}
	}
	if (r == 0)
		r = p->ops->seal(p, got, true, err);
	if (r < 0)
		p->ops->remove(p, got, NULL);
	return r;
}

static int receive(struct pool *p, const char *name, int fd, bool keep_head,
		   struct hull_err *err)
{
	if (!pool_dataset_name_valid(name))
		return hull_err_set(
		    err, EINVAL, "receive: not a valid dataset name: %s", name);
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	bool exists = pool_dataset_exists(p, name);
	if (!exists && keep_head)
		r = hull_err_set(err, ENOENT,
				 "an incremental stream needs %s with its "
				 "base snapshot",
				 name);
	else if (!exists)
		r = pool_check_new_dataset(p, name, err);
	/* A full stream lands in a new record made aside; an incremental
	 * one in the dataset's own record, beside its base. */
	_cleanup_free_ char *dir =
	    exists ? pool_meta_dir(p, name) : pool_temp_path(p, "new");
	char *snap = NULL;
	bool incremental = false;
	if (r == 0 && !exists && mkdir(dir, 0700) < 0)
		r = hull_err_sys(err, errno, "create %s", dir);
	else if (r == 0) {
		r = p->ops->receive(p, dir, exists ? dir : NULL, fd, &snap,
				    &incremental, err);
		if (r == 0 && (exists != incremental)) {
			_cleanup_free_ char *got =
			    xasprintf("%s/%s", dir, snap);
			p->ops->remove(p, got, NULL);
			r = exists ? hull_err_set(err, EEXIST,
						  "%s already exists (a full "
						  "stream makes a new dataset)",
						  name)
				   : hull_err_set(err, ENOENT,
						  "an incremental stream needs "
						  "%s with its base snapshot",
						  name);
		}
		if (r == 0)
			r = receive_commit(p, name, dir, snap, incremental,
					   keep_head, err);
		if (r < 0 && !exists)
			pool_meta_remove(p, dir);
	}
	free(snap);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "receive %s", name) : 0;
}

int pool_receive(struct pool *p, const char *name, int fd, struct hull_err *err)
{
	return receive(p, name, fd, false, err);
}

int pool_receive_aside(struct pool *p, const char *name, int fd,
		       struct hull_err *err)
{
	return receive(p, name, fd, true, err);
}

int pool_snapshot_ident(struct pool *p, const char *snapshot, char id[33],
			uint64_t *ctransid, struct hull_err *err)
{
	if (p->backend != POOL_BACKEND_BTRFS)
		return hull_err_set(err, ENOTSUP,
				    "snapshot identities are btrfs's");
	int r = pool_check_snapshot(p, snapshot, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = pool_dataset_path(p, snapshot);
	return pool_btrfs_ident(path, id, ctransid, err);
}

int pool_send_from(struct pool *p, const char *snapshot, const char *parent,
		   int fd, struct hull_err *err)
{
	if (p->backend != POOL_BACKEND_BTRFS)
		return hull_err_set(err, ENOTSUP,
				    "send relative to a clone source needs "
				    "btrfs");
	int r = pool_check_snapshot(p, snapshot, err);
	if (r == 0)
		r = pool_check_snapshot(p, parent, err);
	_cleanup_free_ char *ds = NULL, *snap = NULL;
	_cleanup_free_ char *path = pool_dataset_path(p, snapshot);
	_cleanup_free_ char *ppath = pool_dataset_path(p, parent);
	if (r == 0) {
		pool_name_split(snapshot, &ds, &snap);
		r = p->ops->send(p, path, ppath, snap, NULL, fd, err);
	}
	return r < 0 ? hull_err_prefix(err, "send %s", snapshot) : 0;
}

int pool_receive_from(struct pool *p, const char *name, const char *parent,
		      const char *parent_id, uint64_t ctransid, int fd,
		      struct hull_err *err)
{
	if (p->backend != POOL_BACKEND_BTRFS)
		return hull_err_set(err, ENOTSUP,
				    "receive relative to a clone source needs "
				    "btrfs");
	if (!pool_dataset_name_valid(name))
		return hull_err_set(
		    err, EINVAL, "receive: not a valid dataset name: %s", name);
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	if (pool_dataset_exists(p, name))
		r = hull_err_set(err, EEXIST, "%s already exists", name);
	if (r == 0)
		r = pool_check_new_dataset(p, name, err);
	if (r == 0)
		r = pool_check_snapshot(p, parent, err);
	_cleanup_free_ char *dir = pool_temp_path(p, "new");
	_cleanup_free_ char *shim = xasprintf("%s/+parent", dir);
	_cleanup_free_ char *ppath = pool_dataset_path(p, parent);
	char *snap = NULL;
	bool incremental = false, made = false;
	if (r == 0 && mkdir(dir, 0700) < 0)
		r = hull_err_sys(err, errno, "create %s", dir);
	else if (r == 0)
		made = true;
	/* The shim stands in for the sender's parent inside the folder
	 * btrfs receive is confined to. */
	if (r == 0)
		r = pool_btrfs_shim(ppath, shim, parent_id, ctransid, err);
	if (r == 0)
		r = p->ops->receive(p, dir, dir, fd, &snap, &incremental, err);
	p->ops->remove(p, shim, NULL);
	if (r == 0)
		r = receive_commit(p, name, dir, snap, false, false, err);
	if (r < 0 && made)
		pool_meta_remove(p, dir);
	free(snap);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "receive %s", name) : 0;
}
