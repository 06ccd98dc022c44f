/*
 * snapshot.c - an instance's snapshots (include/hull/snapshot.h; vmadm
 * create-snapshot, delete-snapshot, rollback-snapshot).
 *
 * As on SmartOS: a snapshot of the instance dataset named
 * <uuid>@vmsnap-<name>, listed newest first in the instance's `snapshots`
 * property as {name, created_at}; rollback stops the instance, puts the
 * dataset back, deletes every newer snapshot and starts it again when it
 * was running. The instance record itself is not rolled back: it is kept
 * as it is now (less the deleted snapshots) and written back afterwards,
 * as SmartOS keeps the zone's configuration outside the snapshot.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hull/snapshot.h"
#include "inst/record.h"
#include "inst/txn.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/client.h"
#include "vm/proptable.h"
#include "vm/record.h"

enum snap_op { SNAP_CREATE, SNAP_DELETE, SNAP_ROLLBACK };

bool hull_snapshot_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.:%", *p))
			return false;
	return true;
}

/* Index of name in the record's snapshots (newest first), or -1. */
static long snap_find(json_t *vm, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(
	    json_object_get(vm, "snapshots"), i,
	    e) if (!strcmp(hull_json_str(e, "name", ""), name)) return (long)i;
	return -1;
}

static int snap_create(struct pool *pool, json_t *vm, const char *uuid,
		       long idx, const char *name,
		       const struct hull_progress *pr, struct hull_err *err)
{
	if (idx >= 0)
		return hull_err_set(err, EEXIST,
				    "Snapshot %s of VM %s already exists", name,
				    uuid);
	char *snap = xasprintf("%s@vmsnap-%s", uuid, name);
	int r = pool_snapshot_create(pool, snap, err);
	if (r == 0) {
		inst_progress(pr, HULL_STEP_SNAPSHOT, uuid, name);
		json_t *list = json_object_get(vm, "snapshots");
		if (!json_is_array(list)) {
			list = json_array();
			json_object_set_new(vm, "snapshots", list);
		}
		char now[32];
		vm_time_iso(now);
		json_array_insert_new(
		    list, 0,
		    json_pack("{s:s,s:s}", "name", name, "created_at", now));
		r = vm_record_save(vm, err);
		if (r < 0)
			pool_snapshot_destroy(pool, snap, NULL);
	}
	free(snap);
	return r;
}

static int snap_delete(struct pool *pool, json_t *vm, const char *uuid,
		       long idx, const char *name,
		       const struct hull_progress *pr, struct hull_err *err)
{
	char *snap = xasprintf("%s@vmsnap-%s", uuid, name);
	int r = pool_snapshot_destroy(pool, snap, err);
	free(snap);
	if (r < 0)
		return r;
	inst_progress(pr, HULL_STEP_SNAPSHOT, uuid, name);
	json_array_remove(json_object_get(vm, "snapshots"), (size_t)idx);
	return vm_record_save(vm, err);
}

static int snap_rollback(struct pool *pool, json_t *vm, const char *uuid,
			 long idx, const char *name,
			 const struct hull_progress *pr, struct hull_err *err)
{
	bool was_running = supervisor_alive(uuid);
	int r = inst_stop_locked(uuid, false, 60, pr, err);
	if (r < 0)
		return r;
	char *snap = xasprintf("%s@vmsnap-%s", uuid, name);
	r = pool_rollback(pool, snap, err);
	free(snap);
	if (r < 0)
		return r;
	inst_progress(pr, HULL_STEP_SNAPSHOT, uuid, name);
	/* Newer snapshots go, newest first, as SmartOS does. */
	json_t *list = json_object_get(vm, "snapshots");
	while (idx-- > 0) {
		const char *newer =
		    hull_json_str(json_array_get(list, 0), "name", "");
		char *s = xasprintf("%s@vmsnap-%s", uuid, newer);
		r = pool_snapshot_destroy(pool, s, err);
		free(s);
		if (r < 0)
			return r;
		json_array_remove(list, 0);
	}
	json_int_t quota = hull_json_int(vm, "quota", 0);
	r = pool_quota_set(pool, uuid, (uint64_t)quota << 30, err);
	if (r < 0 && r != -ENOTSUP && r != -EOPNOTSUPP)
		return r;
	r = vm_record_save(vm, err);
	if (r < 0)
		return r;
	if (was_running) {
		r = inst_start_locked(uuid, pr, err);
		if (r > 0)
			r = 0;
	}
	return r;
}

static int snapshot_op(const char *uuid, const char *name, enum snap_op op,
		       const struct hull_progress *pr, struct hull_err *err)
{
	static const char *const cmds[] = {"create-snapshot", "delete-snapshot",
					   "rollback-snapshot"};
	const char *cmd = cmds[op];
	struct hull_err local;
	if (!err)
		err = &local;
	if (!hull_snapshot_name_valid(name))
		return hull_err_set(err, EINVAL,
				    "Invalid snapshot name \"%s\": 1 to 64 of "
				    "A-Z a-z 0-9 - _ . : %%",
				    name);
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	unsigned brand = vm_brand_from_name(hull_json_str(vm, "brand", ""));
	bool failed = !strcmp(hull_json_str(vm, "state", ""), "failed");
	json_decref(vm);
	if (!(brand & VM_BRANDS_OS))
		return hull_err_set(err, EINVAL,
				    "Cannot %s VM %s: snapshots are supported "
				    "for OS brands only",
				    cmd, uuid);
	if (failed)
		return hull_err_set(
		    err, EINVAL, "Cannot %s VM %s: state is failed", cmd, uuid);
	struct pool *pool;
	int r = pool_open(&pool, err);
	if (r < 0)
		return r;
	int lock = inst_lock(uuid, true, err);
	bool pending;
	r = lock;
	vm = lock < 0 ? NULL : vm_record_load_raw(uuid, &pending, err);
	if (!vm) {
		if (r >= 0)
			r = -err->code;
		goto out;
	}
	/* Looked up under the lock: a concurrent call's change is seen. */
	long idx = snap_find(vm, name);
	if (op != SNAP_CREATE && idx < 0) {
		r = hull_err_set(err, ENOENT, "Snapshot %s of VM %s not found",
				 name, uuid);
		goto out;
	}
	r = op == SNAP_CREATE ? snap_create(pool, vm, uuid, idx, name, pr, err)
	    : op == SNAP_DELETE
		? snap_delete(pool, vm, uuid, idx, name, pr, err)
		: snap_rollback(pool, vm, uuid, idx, name, pr, err);
out:
	hull_lock_release(lock);
	json_decref(vm);
	pool_close(pool);
	return r;
}

int hull_snapshot_create(const char *uuid, const char *name,
			 const struct hull_progress *pr, struct hull_err *err)
{
	return snapshot_op(uuid, name, SNAP_CREATE, pr, err);
}

int hull_snapshot_delete(const char *uuid, const char *name,
			 const struct hull_progress *pr, struct hull_err *err)
{
	return snapshot_op(uuid, name, SNAP_DELETE, pr, err);
}

int hull_snapshot_rollback(const char *uuid, const char *name,
			   const struct hull_progress *pr, struct hull_err *err)
{
	return snapshot_op(uuid, name, SNAP_ROLLBACK, pr, err);
}
