/*
 * hvm.c - create's (and update's add_disks') part for the HVM brands (kvm,
 * bhyve): the checks against the brand's and the host's limits, the defaults an
 * image's manifest gives (disk_driver, nic_driver, cpu_type), disks[]
 * planned by hvm_disks_plan (src/hvm/disks.h) and the disk files made
 * in the instance's dataset (R/<uuid>/disks/), cloned from the image's
 * disk or sparse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inst/txn.h"
#include "hvm/disks.h"
#include "hvm/qemu.h"
#include "hvm/vmm.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "pool/pool.h"

struct lookup_ctx {
	struct pool *pool;
	json_t *recs; /* image uuid -> its manifest record, kept for plan */
};

/* The image's record (R/var/images/<uuid>.json) when it is installed. */
static json_t *image_record(struct pool *pool, const char *uuid)
{
	char *snap = xasprintf("images/%s@final", uuid);
	bool installed = pool_dataset_exists(pool, snap);
	free(snap);
	if (!installed)
		return NULL;
	char *mpath = hull_root_path("var/images/%s.json", uuid);
	json_t *rec = hull_json_load_file(mpath, NULL);
	free(mpath);
	return rec;
}

static int image_lookup(void *data, const char *uuid,
			struct hvm_image_info *out)
{
	struct lookup_ctx *c = data;
	json_t *rec = json_object_get(c->recs, uuid);
	if (!rec) {
		rec = image_record(c->pool, uuid);
		if (!rec)
			return -ENOENT;
		json_object_set_new(c->recs, uuid, rec);
	}
	json_t *m = json_object_get(rec, "manifest");
	out->type = hull_json_str(m, "type", "");
	json_t *sz = json_object_get(m, "image_size");
	out->image_size = json_is_integer(sz) ? json_integer_value(sz) : -1;
	return 0;
}

/* vcpus and ram within the brand's bounds and the host's memory. */
static int limits_check(json_t *vm, bool bhyve, struct hull_err *err)
{
	json_int_t vcpus = hull_json_int(vm, "vcpus", 1);
	json_int_t vmax = bhyve ? HVM_VMM_VCPUS_MAX : HVM_QEMU_VCPUS_MAX;
	if (vcpus < 1 || vcpus > vmax)
		return hull_err_set(err, EINVAL,
				    "Invalid value for vcpus: %lld is more "
				    "than the %s brand allows (1 to %lld)",
				    (long long)vcpus, bhyve ? "bhyve" : "kvm",
				    (long long)vmax);
	json_int_t ram = hull_json_int(vm, "ram", 256);
	if (ram < HVM_QEMU_RAM_MIN || ram > HVM_QEMU_RAM_MAX)
		return hull_err_set(err, EINVAL,
				    "Invalid value for ram: must be from %d "
				    "to %d MiB",
				    HVM_QEMU_RAM_MIN, HVM_QEMU_RAM_MAX);
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	long long host =
	    pages > 0 && psz > 0 ? (long long)pages * psz / (1024 * 1024) : 0;
	if (host > 0 && ram > host)
		return hull_err_set(err, EINVAL,
				    "Invalid value for ram: %lld MiB is more "
				    "than this host's memory (%lld MiB)",
				    (long long)ram, host);
	return 0;
}

/* disk_driver, nic_driver and cpu_type default to the boot disk's
 * image's (SmartOS takes them from the image manifest). */
static void image_defaults(json_t *vm, struct lookup_ctx *c)
{
	json_t *disks = json_object_get(vm, "disks"), *d, *pick = NULL;
	size_t i;
	json_array_foreach(disks, i, d)
	{
		if (!json_is_object(d) ||
		    !json_is_string(json_object_get(d, "image_uuid")))
			continue;
		if (!pick || json_is_true(json_object_get(d, "boot")))
			pick = d;
	}
	if (!pick)
		return;
	struct hvm_image_info info;
	const char *img = hull_json_str(pick, "image_uuid", "");
	if (image_lookup(c, img, &info) < 0)
		return;
	json_t *m = json_object_get(json_object_get(c->recs, img), "manifest");
	static const char *const keys[] = {"disk_driver", "nic_driver",
					   "cpu_type"};
	for (size_t k = 0; k < 3; k++) {
		json_t *v = json_object_get(m, keys[k]);
		if (json_is_string(v) && !json_object_get(vm, keys[k]))
			json_object_set(vm, keys[k], v);
	}
}

int inst_hvm_plan(struct pool *pool, json_t *vm, struct hull_err *err)
{
	const char *brand = hull_json_str(vm, "brand", "");
	const char *uuid = hull_json_str(vm, "uuid", "");
	int r = limits_check(vm, !strcmp(brand, "bhyve"), err);
	if (r < 0)
		return r;
	json_t *nics = json_object_get(vm, "nics");
	if (nics && !json_is_array(nics))
		return hull_err_set(err, EINVAL,
				    "Invalid value for nics: must be an array");
	if (json_array_size(nics) > HVM_QEMU_NICS_MAX)
		return hull_err_set(err, EINVAL,
				    "Invalid value for nics: at most %d",
				    HVM_QEMU_NICS_MAX);
	if (!json_object_get(vm, "disks"))
		json_object_set_new(vm, "disks", json_array());
	struct lookup_ctx c = {.pool = pool, .recs = json_object()};
	image_defaults(vm, &c);
	char *inst = hull_root_path("%s", uuid);
	r = hvm_disks_plan(vm, brand, inst, image_lookup, &c, err);
	free(inst);
	json_decref(c.recs);
	return r;
}

int inst_hvm_disks_plan_added(json_t *vm, size_t first, struct hull_err *err)
{
	struct pool *pool;
	int r = pool_open(&pool, err);
	if (r < 0)
		return r;
	struct lookup_ctx c = {.pool = pool, .recs = json_object()};
	char *inst = hull_root_path("%s", hull_json_str(vm, "uuid", ""));
	r = hvm_disks_plan_added(vm, first, hull_json_str(vm, "brand", ""),
				 inst, image_lookup, &c, err);
	free(inst);
	json_decref(c.recs);
	pool_close(pool);
	return r;
}

void inst_hvm_disks_unmake(json_t *vm, size_t first, size_t end)
{
	json_t *disks = json_object_get(vm, "disks");
	for (size_t i = first; i < end && i < json_array_size(disks); i++) {
		json_t *d = json_array_get(disks, i);
		if (!json_is_true(json_object_get(d, "nocreate")))
			unlink(hull_json_str(d, "path", ""));
	}
}

int inst_hvm_disks_make_from(json_t *vm, size_t first, struct hull_err *err)
{
	const char *uuid = hull_json_str(vm, "uuid", "");
	char *dir = hull_root_path("%s/disks", uuid);
	int r = hull_mkdir_p(dir, 0700, err);
	free(dir);
	if (r < 0)
		return r;
	json_t *disks = json_object_get(vm, "disks"), *d;
	for (size_t i = first; i < json_array_size(disks); i++) {
		d = json_array_get(disks, i);
		if (json_is_true(json_object_get(d, "nocreate")))
			continue;
		const char *path = hull_json_str(d, "path", "");
		const char *img = hull_json_str(d, "image_uuid", NULL);
		json_int_t size =
		    hull_json_int(d, "size", hull_json_int(d, "image_size", 0));
		char *from = img ? hull_root_path("images/%s/disk", img) : NULL;
		r = hvm_disk_make(path, size, from, err);
		free(from);
		if (r < 0) {
			inst_hvm_disks_unmake(vm, first, i);
			return first ? hull_err_prefix(err, "add_disks.%zu",
						       i - first)
				     : hull_err_prefix(err, "disks.%zu", i);
		}
	}
	return 0;
}

int inst_hvm_disks_make(json_t *vm, struct hull_err *err)
{
	return inst_hvm_disks_make_from(vm, 0, err);
}
