/*
 * create.c - vmadm create, validate and delete.
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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
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

static int create_instance(struct pool *pool, json_t *vm, struct hull_err *err)
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
	vmadm_test_crash("pending");

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
	vmadm_test_crash("clone");

	json_int_t quota = hull_json_int(vm, "quota", 0);
	r = pool_quota_set(pool, uuid, (uint64_t)quota << 30, err);
	if (r == -ENOTSUP || r == -EOPNOTSUPP)
		r = 0;
	if (r < 0)
		goto undo;
	vmadm_test_crash("quota");
	if (!hvm && (r = delegated_make(pool, vm, err)) < 0)
		goto undo;

	/* R/<uuid> (a clone of the image's dataset, whose top was 0755)
	 * and its config/, run/ and logs/: root's alone (lib/root.h). */
	if ((r = hull_instance_secure(uuid, err)) < 0)
		goto undo;
	if (hvm && (r = vmadm_hvm_disks_make(vm, err)) < 0)
		goto undo;
	r = vm_record_save(vm, err);
	if (r < 0)
		goto undo;
	vmadm_test_crash("record");

	char *pp = vm_pending_path(uuid);
	unlink(pp);
	free(pp);
	unlink(lpath);
	vmadm_test_crash("done");
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

int vmadm_create(int argc, char **argv)
{
	const char *file = NULL;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("create");
	}
	if (optind != argc)
		return vmadm_usage("create");
	struct hull_err err;
	json_t *payload = vmadm_read_payload(file, "create", &err);
	if (!payload)
		return vmadm_fail_err(&err);
	json_t *warnings = json_array();
	int pr = vm_payload_prepare(payload, NULL, warnings, &err);
	if (pr == 0)
		vmadm_print_warnings(warnings);
	json_decref(warnings);
	if (pr < 0) {
		json_decref(payload);
		return vmadm_fail_err(&err);
	}
	json_t *vm = vm_payload_defaults(payload);
	json_decref(payload);
	const char *bname = hull_json_str(vm, "brand", "");
	int userns = zone_config_userns_flag(
	    json_object_get(vm, "internal_metadata"), &err);
	if (userns == 1 && (vm_brand_from_name(bname) & VM_BRANDS_HVM))
		userns = hull_err_set(&err, EINVAL,
				      "Invalid value for internal_metadata "
				      "hull:userns: only zones run in user "
				      "namespaces, not brand %s",
				      bname);
	if (userns < 0) {
		json_decref(vm);
		return vmadm_fail_err(&err);
	}
	if (!vm_brand_supported(vm_brand_from_name(bname))) {
		vmadm_fail("Invalid value for brand: %s VMs are not yet "
			   "supported by hull",
			   bname);
		json_decref(vm);
		return VMADM_ERROR;
	}
	char uuid[HULL_UUID_LEN + 1], now[32];
	hull_uuid_generate(uuid);
	vm_time_iso(now);
	vm_payload_fill_generated(vm, uuid, now, vmadm_rand32);
	const char *id = hull_json_str(vm, "uuid", uuid);
	char *zonepath = hull_root_path("%s", id);
	json_object_set_new(vm, "zonepath", json_string(zonepath));
	free(zonepath);

	struct pool *pool;
	int rc = VMADM_ERROR;
	if (pool_open(&pool, &err) < 0) {
		json_decref(vm);
		return vmadm_fail_err(&err);
	}
	if (vm_nics_host_check(vm, &err) < 0) {
		hull_err_prefix(&err, "Invalid value for nics");
		vmadm_fail_err(&err);
		goto out;
	}
	bool hvm = vm_brand_from_name(bname) & VM_BRANDS_HVM;
	if ((hvm ? vmadm_hvm_plan(pool, vm, &err)
		 : image_check(pool, vm, &err)) < 0 ||
	    create_instance(pool, vm, &err) < 0) {
		vmadm_fail_err(&err);
		goto out;
	}
	/* Rules naming tags or all vms follow the new instance. */
	if (vmadm_fw_reload_for(vm, &err) < 0) {
		vmadm_fail_err(&err);
		goto out;
	}
	fprintf(stderr, "Successfully created VM %s\n", id);
	rc = VMADM_OK;
	if (hull_json_bool(vm, "autoboot", true)) {
		int lock = vmadm_lock(id, &err);
		if (lock < 0 || vmadm_start_locked(id, vm, &err) < 0) {
			hull_err_prefix(&err, "start %s", id);
			rc = vmadm_fail_err(&err);
		}
		hull_lock_release(lock);
	}
out:
	pool_close(pool);
	json_decref(vm);
	return rc;
}

int vmadm_validate(int argc, char **argv)
{
	const char *file = NULL;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("validate");
	}
	/* operands: create | update <brand>, -f may also follow them */
	const char *action = optind < argc ? argv[optind++] : NULL;
	const char *brand = NULL;
	if (action && !strcmp(action, "update"))
		brand = optind < argc ? argv[optind++] : NULL;
	while ((c = getopt(argc, argv, "f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("validate");
	}
	if (!action || optind != argc ||
	    (strcmp(action, "create") && strcmp(action, "update")) ||
	    (!strcmp(action, "update") && !brand))
		return vmadm_usage("validate");
	struct hull_err err;
	json_t *payload = vmadm_read_payload(file, "validate", &err);
	if (!payload)
		return vmadm_fail_err(&err);
	json_t *bad = !strcmp(action, "create")
			  ? vm_payload_check_create(payload, &err)
			  : vm_payload_check_update(payload, brand, &err);
	json_t *warnings = json_array();
	vm_payload_warnings(payload, strcmp(action, "create") != 0, warnings);
	vmadm_print_warnings(warnings);
	json_decref(warnings);
	if (bad) {
		hull_json_print(bad);
		json_decref(bad);
		json_decref(payload);
		return vmadm_fail_err(&err);
	}
	if (!brand)
		brand = hull_json_str(payload, "brand", "joyent");
	printf("VALID '%s' payload for %s brand VMs.\n", action, brand);
	json_decref(payload);
	return VMADM_OK;
}

static int delete_pending(struct pool *pool, const char *uuid,
			  struct hull_err *err)
{
	char *lpath = vm_pending_lock_path(uuid);
	int lock = hull_lock_take(lpath, true, err);
	if (lock < 0) {
		free(lpath);
		return lock;
	}
	int r = 0;
	if (pool_dataset_exists(pool, uuid))
		r = pool_dataset_destroy(pool, uuid, err);
	if (r == 0) {
		char *pp = vm_pending_path(uuid);
		unlink(pp);
		free(pp);
		unlink(lpath);
	}
	hull_lock_release(lock);
	free(lpath);
	return r;
}

int vmadm_delete(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("delete");
	if (optind != argc - 1)
		return vmadm_usage("delete");
	const char *uuid = argv[optind];
	struct hull_err err;
	bool pending;
	json_t *vm = vm_record_load_raw(uuid, &pending, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	struct pool *pool;
	if (pool_open(&pool, &err) < 0) {
		json_decref(vm);
		return vmadm_fail_err(&err);
	}
	int rc = VMADM_ERROR, lock = -1;
	if (pending) {
		if (delete_pending(pool, uuid, &err) < 0)
			goto fail;
		goto done;
	}
	lock = vmadm_lock(uuid, &err);
	if (lock < 0)
		goto fail;
	/* Re-read under the lock: an update may have changed it. */
	json_decref(vm);
	vm = vm_record_load_raw(uuid, &pending, &err);
	if (!vm)
		goto fail;
	if (hull_json_bool(vm, "indestructible_zoneroot", false)) {
		hull_err_set(&err, EPERM,
			     "Cannot delete VM %s: indestructible_zoneroot is "
			     "set",
			     uuid);
		goto fail;
	}
	if (vmadm_stop_locked(uuid, true, 0, &err) < 0)
		goto fail;
	/* what the supervisor may leave: an empty cgroup, run files */
	zone_cleanup(uuid, NULL);
	if (pool_dataset_destroy(pool, uuid, &err) < 0)
		goto fail;
	if (vmadm_fw_reload_for(vm, &err) < 0)
		goto fail;
	/* A create killed between writing vm.json and removing its pending
	 * record leaves that record behind; it goes with the instance. */
	char *pp = vm_pending_path(uuid), *lp = vm_pending_lock_path(uuid);
	unlink(pp);
	unlink(lp);
	free(pp);
	free(lp);
done:
	fprintf(stderr, "Successfully deleted VM %s\n", uuid);
	rc = VMADM_OK;
	goto out;
fail:
	if (err.code != EPERM)
		hull_err_prefix(&err, "delete %s", uuid);
	vmadm_fail_err(&err);
out:
	hull_lock_release(lock);
	pool_close(pool);
	json_decref(vm);
	return rc;
}
