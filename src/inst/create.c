/*
 * create.c - create, validate and delete an instance
 * (include/hull/instance.h; vmadm create, validate, delete).
 *
 * A create is ordered so that a kill -9 at any point leaves either nothing
 * or a `failed` instance that delete removes (record.h):
 *   1. validate, check the image (nothing on disk yet)
 *   2. take the pending lock, refuse a duplicate uuid
 *   3. write the pending record          <- from here: `failed` if we die
 *   4. clone the image into <uuid>, set its quota
 *   5. write config/vm.json              <- from here: a complete instance
 *   6. remove the pending record
 *   7. start it when autoboot is set
 * Any error before 6 undoes 3-5, so a refused create leaves nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inst/record.h"
#include "inst/txn.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/client.h"
#include "vm/idmap.h"
#include "vm/netcheck.h"
#include "vm/payload.h"
#include "vm/proptable.h"
#include "vm/record.h"
#include "zone/config.h"

/* The image types that fit an instance (spec §1.5, §2.3). */
static bool image_type_fits(const char *type, unsigned brand, bool docker)
{
	if (docker)
		return !strcmp(type, "docker");
	if (brand == VM_BRAND_LX)
		return !strcmp(type, "lx-dataset") || !strcmp(type, "docker");
	return !strcmp(type, "zone-dataset");
}

/* The image must be installed (images/<uuid>@final, store.h) and of a type
 * that fits. Read directly rather than through image_store_get(), which
 * also counts the image's clones: a walk of every dataset, too slow for a
 * create on a pool with thousands of instances. */
static int image_check(struct pool *pool, json_t *vm, struct hull_err *err)
{
	const char *img = hull_json_str(vm, "image_uuid", NULL);
	unsigned brand = vm_brand_from_name(hull_json_str(vm, "brand", ""));
	bool docker = hull_json_bool(vm, "docker", false);
	char *snap = xasprintf("images/%s@final", img);
	bool installed = pool_dataset_exists(pool, snap);
	free(snap);
	if (!installed)
		return hull_err_set(err, ENOENT,
				    "Image %s is not installed (see 'imgadm "
				    "import %s')",
				    img, img);
	char *mpath = hull_root_path("var/images/%s.json", img);
	json_t *rec = hull_json_load_file(mpath, err);
	free(mpath);
	if (!rec)
		return hull_err_prefix(err, "image %s", img);
	const char *type =
	    hull_json_str(json_object_get(rec, "manifest"), "type", "");
	int r = 0;
	if (!image_type_fits(type, brand, docker))
		r = hull_err_set(err, EINVAL,
				 "Image %s is of type %s, which does not fit "
				 "%s%s",
				 img, *type ? type : "(unknown)",
				 docker ? "a docker instance of brand "
					: "brand ",
				 hull_json_str(vm, "brand", ""));
	json_decref(rec);
	return r;
}

/* Undoes a create that failed before it completed. */
static void create_undo(struct pool *pool, const char *uuid, bool cloned)
{
	if (cloned && pool_dataset_exists(pool, uuid))
		pool_dataset_destroy(pool, uuid, NULL);
	char *pp = vm_pending_path(uuid);
	unlink(pp);
	free(pp);
}

/* delegate_dataset: SmartOS's zones/<uuid>/data, here the dataset
 * <uuid>/data (a subvolume nested in the instance's on btrfs), limited
 * like the instance by `quota`, named in `datasets`, mounted in the zone
 * at every boot (zone/fs.h) and destroyed with the instance. */
static int delegated_make(struct pool *pool, json_t *vm, struct hull_err *err)
{
	json_object_del(vm, "datasets");
	if (!hull_json_bool(vm, "delegate_dataset", false))
		return 0;
	const char *uuid = hull_json_str(vm, "uuid", "");
	_cleanup_free_ char *ds = xasprintf("%s/data", uuid);
	int r = pool_dataset_create(pool, ds, err);
	if (r < 0)
		return r;
	json_int_t quota = hull_json_int(vm, "quota", 0);
	r = pool_quota_set(pool, ds, (uint64_t)quota << 30, err);
	if (r == -ENOTSUP || r == -EOPNOTSUPP)
		r = 0;
	if (r < 0)
		return r;
	_cleanup_free_ char *name =
	    xasprintf("%s/%s", hull_json_str(vm, "zpool", "zones"), ds);
	json_object_set_new(vm, "datasets", json_pack("[s]", name));
	return 0;
}

static int create_instance(struct pool *pool, json_t *vm,
			   const struct hull_progress *pr, struct hull_err *err)
{
	const char *uuid = hull_json_str(vm, "uuid", NULL);
	char *pdir = vm_pending_dir();
	int r = hull_mkdir_p(pdir, 0700, err);
	if (r < 0) {
		free(pdir);
		return r;
	}
	char *lpath = vm_pending_lock_path(uuid);
	int lock = hull_lock_take(lpath, true, err);
	if (lock < 0) {
		free(pdir);
		free(lpath);
		return lock;
	}
	bool cloned = false;
	if (vm_record_exists(uuid)) {
		r = hull_err_set(err, EEXIST, "VM %s already exists", uuid);
		goto out;
	}
	/* A userns zone's id range, or an HVM instance's (its emulator runs
	 * as the range's first uid and gid, hvm/vmmzone.h): picked and
	 * recorded (in the pending record) under the pool's allocation lock
	 * (vm/idmap.h). */
	int idlock = -1;
	json_object_del(vm, "hull_userns");
	if (zone_config_userns_flag(json_object_get(vm, "internal_metadata"),
				    NULL) == 1 ||
	    (vm_brand_from_name(hull_json_str(vm, "brand", "")) &
	     VM_BRANDS_HVM)) {
		if ((idlock = vm_idmap_lock(err)) < 0) {
			r = idlock;
			goto out;
		}
		if ((r = vm_idmap_assign(vm, err)) < 0) {
			hull_lock_release(idlock);
			goto out;
		}
	}
	r = vm_pending_write(vm, err);
	hull_lock_release(idlock);
	if (r < 0)
		goto out;
	inst_progress(pr, HULL_STEP_PENDING, uuid, NULL);

	const bool hvm =
	    vm_brand_from_name(hull_json_str(vm, "brand", "")) & VM_BRANDS_HVM;
	if (hvm) {
		/* An HVM instance's dataset holds its disks, not a root. */
		r = pool_dataset_create(pool, uuid, err);
	} else {
		char *snap = xasprintf("images/%s@final",
				       hull_json_str(vm, "image_uuid", ""));
		r = pool_clone(pool, snap, uuid, err);
		free(snap);
	}
	if (r < 0)
		goto undo;
	cloned = true;
	inst_progress(pr, HULL_STEP_CLONE, uuid, NULL);

	json_int_t quota = hull_json_int(vm, "quota", 0);
	r = pool_quota_set(pool, uuid, (uint64_t)quota << 30, err);
	if (r == -ENOTSUP || r == -EOPNOTSUPP)
		r = 0;
	if (r < 0)
		goto undo;
	inst_progress(pr, HULL_STEP_QUOTA, uuid, NULL);
	if (!hvm && (r = delegated_make(pool, vm, err)) < 0)
		goto undo;

	/* R/<uuid> (a clone of the image's dataset, whose top was 0755)
	 * and its config/, run/ and logs/: root's alone (lib/root.h). */
	if ((r = hull_instance_secure(uuid, err)) < 0)
		goto undo;
	if (hvm && (r = inst_hvm_disks_make(vm, err)) < 0)
		goto undo;
	/* Its folder is fsync'd by hull_instance_create, while the
	 * supervisor boots when it starts the instance. */
	r = vm_record_save_first(vm, err);
	if (r < 0)
		goto undo;
	inst_progress(pr, HULL_STEP_RECORD, uuid, NULL);

	char *pp = vm_pending_path(uuid);
	unlink(pp);
	free(pp);
	unlink(lpath);
	inst_progress(pr, HULL_STEP_DONE, uuid, NULL);
	goto out;
undo:
	hull_err_prefix(err, "create %s", uuid);
	create_undo(pool, uuid, cloned);
out:
	hull_lock_release(lock);
	free(pdir);
	free(lpath);
	return r;
}

/* The create payload made ready: checked, defaults applied, generated
 * properties filled in. NULL with err on a refusal. */
static json_t *create_prepare(json_t *payload, const struct hull_progress *pr,
			      struct hull_err *err)
{
	json_t *work = json_deep_copy(payload);
	json_t *warnings = json_array();
	int pr_r = vm_payload_prepare(work, NULL, warnings, err);
	if (pr_r == 0)
		inst_warnings(pr, NULL, warnings);
	json_decref(warnings);
	if (pr_r < 0) {
		json_decref(work);
		return NULL;
	}
	json_t *vm = vm_payload_defaults(work);
	json_decref(work);
	const char *bname = hull_json_str(vm, "brand", "");
	int userns = zone_config_userns_flag(
	    json_object_get(vm, "internal_metadata"), err);
	if (userns == 1 && (vm_brand_from_name(bname) & VM_BRANDS_HVM))
		userns = hull_err_set(err, EINVAL,
				      "Invalid value for internal_metadata "
				      "hull:userns: only zones run in user "
				      "namespaces, not brand %s",
				      bname);
	if (userns >= 0 && !vm_brand_supported(vm_brand_from_name(bname)))
		userns = hull_err_set(err, EINVAL,
				      "Invalid value for brand: %s VMs are not "
				      "yet supported by hull",
				      bname);
	if (userns < 0) {
		json_decref(vm);
		return NULL;
	}
	char uuid[HULL_UUID_LEN + 1], now[32];
	hull_uuid_generate(uuid);
	vm_time_iso(now);
	vm_payload_fill_generated(vm, uuid, now, inst_rand32);
	const char *id = hull_json_str(vm, "uuid", uuid);
	char *zonepath = hull_root_path("%s", id);
	json_object_set_new(vm, "zonepath", json_string(zonepath));
	free(zonepath);
	return vm;
}

int hull_instance_create(json_t *payload, const struct hull_progress *pr,
			 char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			 struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	uuid_out[0] = '\0';
	bool synced = false; /* the new record's folder fsync'd */
	json_t *vm = create_prepare(payload, pr, err);
	if (!vm)
		return -err->code;
	const char *id = hull_json_str(vm, "uuid", "");
	struct pool *pool;
	int r = pool_open(&pool, err);
	if (r < 0) {
		json_decref(vm);
		return r;
	}
	if ((r = vm_nics_host_check(vm, err)) < 0) {
		hull_err_prefix(err, "Invalid value for nics");
		goto out;
	}
	bool hvm =
	    vm_brand_from_name(hull_json_str(vm, "brand", "")) & VM_BRANDS_HVM;
	if ((r = hvm ? inst_hvm_plan(pool, vm, err)
		     : image_check(pool, vm, err)) < 0 ||
	    (r = create_instance(pool, vm, pr, err)) < 0)
		goto out;
	/* From here the instance exists, whatever follows; its record is
	 * durable once its folder is fsync'd (synced), before this returns. */
	snprintf(uuid_out, HULL_INSTANCE_UUID_LEN + 1, "%s", id);
	/* Rules naming tags or all vms follow the new instance. */
	if ((r = inst_fw_reload_for(vm, err)) < 0)
		goto out;
	inst_progress(pr, HULL_STEP_CREATED, id, NULL);
	if (hull_json_bool(vm, "autoboot", true)) {
		int lock = inst_lock(id, true, err);
		r = lock < 0 ? lock : inst_start_locked_first(id, pr, err);
		synced = lock >= 0;
		hull_lock_release(lock);
		if (r < 0)
			hull_err_prefix(err, "start %s", id);
		else
			r = 0;
	}
out:
	if (uuid_out[0] && !synced) {
		_cleanup_free_ char *cfg = inst_config_dir(id);
		struct hull_err serr;
		int sr = hull_fsync_dir(cfg, &serr);
		if (sr < 0 && r == 0) {
			*err = serr;
			r = sr;
		}
	}
	pool_close(pool);
	json_decref(vm);
	return r;
}

int hull_instance_validate(json_t *payload, bool update, const char *brand,
			   json_t **bad, const struct hull_progress *pr,
			   struct hull_err *err)
{
	if (bad)
		*bad = NULL;
	json_t *b = !update ? vm_payload_check_create(payload, err)
			    : vm_payload_check_update(payload, brand, err);
	json_t *warnings = json_array();
	vm_payload_warnings(payload, update, warnings);
	inst_warnings(pr, NULL, warnings);
	json_decref(warnings);
	if (!b)
		return 0;
	if (bad)
		*bad = b;
	else
		json_decref(b);
	return -(err && err->code ? err->code : EINVAL);
}

static int delete_pending(struct pool *pool, const char *uuid,
			  struct hull_err *err)
{
	/* An orphan dataset on a pool that never had a pending create has
	 * no pending folder yet for its lock. */
	char *pdir = vm_pending_dir();
	int r = hull_mkdir_p(pdir, 0700, err);
	free(pdir);
	if (r < 0)
		return r;
	char *lpath = vm_pending_lock_path(uuid);
	int lock = hull_lock_take(lpath, true, err);
	if (lock < 0) {
		free(lpath);
		return lock;
	}
	if (pool_dataset_exists(pool, uuid))
		r = pool_dataset_destroy(pool, uuid, err);
	if (r == 0) {
		char *pp = vm_pending_path(uuid);
		unlink(pp);
		free(pp);
		unlink(lpath);
		/* What the killed create or receive had half-made in the
		 * pool (a receive's partial subvolume): the sweep runs under
		 * the pool's lock, so nothing of a live command is touched. */
		unsigned swept;
		pool_sweep(pool, &swept, NULL);
	}
	hull_lock_release(lock);
	free(lpath);
	return r;
}

int hull_instance_delete(const char *uuid, const struct hull_progress *pr,
			 struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	bool pending;
	json_t *vm = vm_record_load_raw(uuid, &pending, err);
	if (!vm)
		return -ENOENT;
	struct pool *pool;
	int r = pool_open(&pool, err);
	if (r < 0) {
		json_decref(vm);
		return r;
	}
	int lock = -1;
	if (pending) {
		if ((r = delete_pending(pool, uuid, err)) < 0)
			goto fail;
		goto out;
	}
	lock = inst_lock(uuid, true, err);
	if ((r = lock) < 0)
		goto fail;
	/* Re-read under the lock: an update may have changed it. */
	json_decref(vm);
	vm = vm_record_load_raw(uuid, &pending, err);
	if (!vm) {
		r = -ENOENT;
		goto fail;
	}
	if (hull_json_bool(vm, "indestructible_zoneroot", false)) {
		r = hull_err_set(err, EPERM,
				 "Cannot delete VM %s: indestructible_zoneroot "
				 "is set",
				 uuid);
		goto out;
	}
	if ((r = inst_stop_locked(uuid, true, 0, pr, err)) < 0)
		goto fail;
	/* what the supervisor may leave: an empty cgroup, run files */
	zone_cleanup(uuid, NULL);
	if ((r = pool_dataset_destroy(pool, uuid, err)) < 0)
		goto fail;
	if ((r = inst_fw_reload_for(vm, err)) < 0)
		goto fail;
	/* A create killed between writing vm.json and removing its pending
	 * record leaves that record behind; it goes with the instance. */
	char *pp = vm_pending_path(uuid), *lp = vm_pending_lock_path(uuid);
	unlink(pp);
	unlink(lp);
	free(pp);
	free(lp);
	goto out;
fail:
	hull_err_prefix(err, "delete %s", uuid);
out:
	hull_lock_release(lock);
	pool_close(pool);
	json_decref(vm);
	return r;
}
