/*
 * update.c - update an instance (include/hull/instance.h; vmadm update):
 * apply an update payload to an instance under its lock. Quota is applied to
 * the dataset at once; resource controls reach a running zone's cgroup
 * through its supervisor (inst_apply_live); other changes take effect at
 * the next start, as on SmartOS. update_disks[].size resizes a stopped
 * HVM instance's disk files (hvm/disks.h); add_disks makes the files of
 * the new disks (as create does) and remove_disks deletes the removed
 * disks' files, both only while the instance is stopped. All of it is
 * done just before the record is saved and undone when saving fails;
 * removed files are set aside until then and dropped after.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvm/disks.h"
#include "inst/record.h"
#include "inst/txn.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/client.h"
#include "vm/netcheck.h"
#include "vm/nics.h"
#include "vm/payload.h"
#include "vm/record.h"
#include "zone/config.h"

static int update_locked(const char *uuid, json_t *payload,
			 const struct hull_progress *pr, struct hull_err *err)
{
	bool pending;
	json_t *vm = vm_record_load_raw(uuid, &pending, err);
	if (!vm)
		return -ENOENT;
	int r;
	json_t *old_nics = NULL;
	struct hvm_disk_resize *resize = NULL;
	size_t nresize = 0, first_added = 0;
	bool resized = false, aside = false, made = false;
	if (pending) {
		r = hull_err_set(err, EINVAL,
				 "Cannot update VM %s: its provisioning did "
				 "not complete (state failed)",
				 uuid);
		goto out;
	}
	json_t *warnings = json_array();
	r = vm_payload_prepare(payload, vm, warnings, err);
	if (r == 0)
		inst_warnings(pr, uuid, warnings);
	json_decref(warnings);
	if (r < 0)
		goto out;
	/* update_disks: checked against the disk files now; a size is
	 * changed on disk just before the record is saved. */
	bool running = vm_supervisor_alive(uuid);
	json_t *ud = json_object_get(payload, "update_disks");
	json_t *ad = json_object_get(payload, "add_disks");
	json_t *rd = json_object_get(payload, "remove_disks");
	/* A killed supervisor may have left its emulator running with the
	 * disks open (state down): kill it, as vmadm stop -F would, before
	 * a disk changes under it. */
	if ((ud || ad || rd) && !running && zone_cgroup_busy(uuid) &&
	    (r = zone_cleanup(uuid, err)) < 0) {
		hull_err_prefix(err, "Cannot change the disks of VM %s", uuid);
		goto out;
	}
	if (ud && (r = hvm_disks_update_plan(vm, ud, running, &resize, &nresize,
					     err)) < 0)
		goto out;
	/* add_disks, remove_disks: the emulator has its disks open and
	 * bound into its hull, so only while stopped (SmartOS too needs a
	 * restart of a KVM VM for disk changes). */
	if ((ad || rd) && running) {
		r = hull_err_set(err, EBUSY,
				 "Invalid value for %s: cannot %s disks while "
				 "the VM is running: stop it first",
				 ad ? "add_disks" : "remove_disks",
				 ad ? "add" : "remove");
		goto out;
	}
	if (rd && (r = hvm_disks_remove_plan(vm, rd, err)) < 0)
		goto out;
	vm_nics_fill_macs(json_object_get(payload, "add_nics"), inst_rand32);
	old_nics = json_deep_copy(json_object_get(vm, "nics"));
	json_int_t old_quota = hull_json_int(vm, "quota", 0);
	bool live, restart;
	int userns = zone_config_userns_flag(
	    json_object_get(vm, "internal_metadata"), NULL);
	r = vm_payload_apply_update(vm, payload, &live, &restart, err);
	if (r < 0)
		goto out;
	if (ad) {
		size_t n = json_array_size(json_object_get(vm, "disks"));
		first_added = n - json_array_size(ad);
		r = inst_hvm_disks_plan_added(vm, first_added, err);
		if (r < 0)
			goto out;
	}
	/* A zone's user namespace (and its id range) is fixed at create. */
	int now = zone_config_userns_flag(
	    json_object_get(vm, "internal_metadata"), err);
	if (now < 0) {
		r = now;
		goto out;
	}
	if (now != userns) {
		r = hull_err_set(err, EINVAL,
				 "Invalid value for internal_metadata "
				 "hull:userns: it is fixed at create");
		goto out;
	}
	hvm_disks_update_scrub(vm);
	if (!json_equal(old_nics, json_object_get(vm, "nics")) &&
	    (r = vm_nics_host_check(vm, err)) < 0) {
		hull_err_prefix(err, "Invalid value for nics");
		goto out;
	}
	json_int_t quota = hull_json_int(vm, "quota", 0);
	if (quota != old_quota) {
		struct pool *pool;
		r = pool_open(&pool, err);
		if (r < 0)
			goto out;
		r = pool_quota_set(pool, uuid, (uint64_t)quota << 30, err);
		/* The delegated dataset is limited like the instance. */
		_cleanup_free_ char *data = xasprintf("%s/data", uuid);
		if (r == 0 && hull_json_bool(vm, "delegate_dataset", false) &&
		    pool_dataset_exists(pool, data))
			r = pool_quota_set(pool, data, (uint64_t)quota << 30,
					   err);
		pool_close(pool);
		if (r == -ENOTSUP || r == -EOPNOTSUPP)
			r = 0;
		if (r < 0)
			goto out;
	}
	if (nresize && (r = hvm_disks_resize(resize, nresize, err)) < 0)
		goto out;
	resized = true;
	if (rd && (r = hvm_disks_aside(rd, err)) < 0)
		goto undo;
	aside = rd != NULL;
	if (ad && (r = inst_hvm_disks_make_from(vm, first_added, err)) < 0)
		goto undo;
	made = ad != NULL;
	r = vm_record_save(vm, err);
	if (r < 0)
		goto undo;
	if (aside)
		hvm_disks_aside_drop(rd);
	if (live && vm_supervisor_alive(uuid))
		r = inst_apply_live(uuid, err);
	if (r == 0 && vm_supervisor_alive(uuid))
		r = inst_nics_live(uuid, old_nics, vm, err);
	if (r == 0)
		r = inst_fw_reload(err);
	goto out;
undo:
	if (made)
		inst_hvm_disks_unmake(vm, first_added, SIZE_MAX);
	if (aside)
		hvm_disks_aside_undo(rd, json_array_size(rd));
	if (resized)
		hvm_disks_resize_undo(resize, nresize);
out:
	free(resize);
	json_decref(old_nics);
	json_decref(vm);
	return r;
}

int hull_instance_update(const char *uuid, json_t *payload,
			 const struct hull_progress *pr, struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	json_t *probe = vm_record_load(uuid, err);
	if (!probe)
		return -err->code;
	bool failed = !strcmp(hull_json_str(probe, "state", ""), "failed");
	json_decref(probe);
	if (failed)
		return hull_err_set(
		    err, EINVAL, "Cannot update VM %s: state is failed", uuid);
	/* The payload is the caller's: the update works on a copy (it
	 * fills in generated MACs, for one). */
	json_t *work = json_deep_copy(payload);
	int lock = inst_lock(uuid, true, err);
	int r = lock < 0 ? lock : update_locked(uuid, work, pr, err);
	hull_lock_release(lock);
	json_decref(work);
	return r;
}
