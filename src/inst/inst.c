/*
 * inst.c - the typed instance, parsed once (inst.h).
 *
 * Builds on the parsers that already own a part of the record: nics[]
 * and routes (net/nic.h) and filesystems (zone/fs.h), both pure.
 */
#include "inst/inst.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inst/record.h"
#include "lib/json.h"
#include "lib/xalloc.h"
#include "net/nic.h"
#include "zone/fs.h"

/* SmartOS bounds hostname and uname's release at 64 bytes (utsname). */
#define INST_NAME_MAX 64
/* More disks than any hypervisor here attaches (hvm/vmmzone.h's bound is
 * smaller and checked there). */
#define INST_DISKS_MAX 64

/* A property that must be a string when present (null is absent). */
static int get_str(json_t *o, const char *key, const char *what,
		   const char **out, struct hull_err *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return hull_err_set(err, EINVAL, "%s%s: must be a string", what,
				    key);
	*out = json_string_value(v);
	return 0;
}

static int get_bool(json_t *o, const char *key, const char *what, bool *out,
		    struct hull_err *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return hull_err_set(err, EINVAL, "%s%s: must be true or false",
				    what, key);
	*out = json_is_true(v);
	return 0;
}

/* A non-negative number (an integer, or a real SmartOS wrote for a size)
 * when present; -1 when absent. */
static int get_num(json_t *o, const char *key, const char *what, int64_t *out,
		   struct hull_err *err)
{
	json_t *v = json_object_get(o, key);
	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    json_real_value(v) < 9.2e18) {
		*out = (int64_t)json_real_value(v);
		return 0;
	}
	return hull_err_set(err, EINVAL, "%s%s: must be a number 0 or more",
			    what, key);
}

int inst_limits_parse(json_t *rec, struct inst_limits *l, struct hull_err *err)
{
	int r = 0, r1;
	struct {
		const char *key;
		int64_t *out;
	} keys[] = {
	    {"cpu_cap", &l->cpu_cap},
	    {"cpu_shares", &l->cpu_shares},
	    {"max_physical_memory", &l->max_physical_memory},
	    {"max_swap", &l->max_swap},
	    {"max_lwps", &l->max_lwps},
	    {"zfs_io_priority", &l->zfs_io_priority},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((r1 = get_num(rec, keys[i].key, "", keys[i].out,
				  r ? NULL : err)) < 0 &&
		    !r)
			r = r1;
	/* No cpu_cap is no cap (vmadm update cpu_cap=0 removes the
	 * property): say so, or a running zone keeps its old cap. */
	if (l->cpu_cap < 0)
		l->cpu_cap = 0;
	if (l->max_physical_memory < 0) {
		int64_t ram = -1;
		get_num(rec, "ram", "", &ram, NULL);
		l->max_physical_memory = ram;
	}
	return r;
}

static int parse_disk(json_t *d, size_t i, struct inst_disk *out,
		      struct hull_err *err)
{
	char what[32];
	snprintf(what, sizeof(what), "disks.%zu.", i);
	if (!json_is_object(d))
		return hull_err_set(err, EINVAL, "disks.%zu: must be an object",
				    i);
	int r;
	if ((r = get_str(d, "path", what, &out->path, err)) < 0 ||
	    (r = get_str(d, "model", what, &out->model, err)) < 0 ||
	    (r = get_str(d, "uuid", what, &out->uuid, err)) < 0 ||
	    (r = get_str(d, "image_uuid", what, &out->image_uuid, err)) < 0 ||
	    (r = get_str(d, "media", what, &out->media, err)) < 0 ||
	    (r = get_num(d, "size", what, &out->size, err)) < 0 ||
	    (r = get_bool(d, "boot", what, &out->boot, err)) < 0 ||
	    (r = get_bool(d, "read_only", what, &out->read_only, err)) < 0)
		return r;
	if (out->path && out->path[0] != '/')
		return hull_err_set(
		    err, EINVAL, "disks.%zu.path: must be an absolute path", i);
	if (out->media && strcmp(out->media, "disk") &&
	    strcmp(out->media, "cdrom"))
		return hull_err_set(
		    err, EINVAL, "disks.%zu.media: must be disk or cdrom", i);
	out->cdrom = out->media && !strcmp(out->media, "cdrom");
	return 0;
}

static int parse_disks(json_t *rec, struct inst *inst, struct hull_err *err)
{
	json_t *disks = json_object_get(rec, "disks");
	if (!disks || json_is_null(disks))
		return 0;
	if (!json_is_array(disks))
		return hull_err_set(err, EINVAL, "disks: must be an array");
	if (json_array_size(disks) > INST_DISKS_MAX)
		return hull_err_set(err, EINVAL, "disks: more than %d",
				    INST_DISKS_MAX);
	inst->disks = xcalloc(json_array_size(disks) + 1, sizeof(*inst->disks));
	size_t i;
	json_t *d;
	json_array_foreach(disks, i, d)
	{
		int r = parse_disk(d, i, &inst->disks[i], err);
		if (r < 0)
			return r;
		inst->ndisks++;
	}
	return 0;
}

/* hull_userns: the host ids vmadm create handed out (vm/idmap.h). */
static int parse_ids(json_t *rec, struct inst_ids *ids, struct hull_err *err)
{
	json_t *o = json_object_get(rec, "hull_userns");
	if (!o || json_is_null(o))
		return 0;
	json_t *u = json_object_get(o, "uid"), *g = json_object_get(o, "gid"),
	       *c = json_object_get(o, "count");
	if (!json_is_integer(u) || !json_is_integer(g) || !json_is_integer(c))
		return hull_err_set(err, EINVAL,
				    "hull_userns: must hold integers uid, gid "
				    "and count");
	json_int_t ui = json_integer_value(u), gi = json_integer_value(g),
		   ci = json_integer_value(c);
	if (ui <= 0 || gi <= 0 || ci <= 0 || ui + ci > (json_int_t)UINT32_MAX ||
	    gi + ci > (json_int_t)UINT32_MAX)
		return hull_err_set(err, EINVAL,
				    "hull_userns: must hold a range of host "
				    "ids above 0");
	*ids =
	    (struct inst_ids){true, (uint32_t)ui, (uint32_t)gi, (uint32_t)ci};
	return 0;
}

/* The emulator's options of a VM (struct inst_vm). */
static int parse_vm(json_t *rec, struct inst *inst, struct hull_err *err)
{
	struct inst_vm *vm = &inst->vm;
	int r;
	if ((r = get_str(rec, "cpu_type", "", &vm->cpu_type, err)) < 0 ||
	    (r = get_str(rec, "bootrom", "", &vm->bootrom, err)) < 0 ||
	    (r = get_str(rec, "boot", "", &vm->boot, err)) < 0 ||
	    (r = get_str(rec, "qemu_extra_opts", "", &vm->qemu_extra_opts,
			 err)) < 0 ||
	    (r = get_str(rec, "vnc_password", "", &vm->vnc_password, err)) <
		0 ||
	    (r = get_str(rec, "disk_driver", "", &vm->disk_driver, err)) < 0 ||
	    (r = get_str(rec, "nic_driver", "", &vm->nic_driver, err)) < 0)
		return r;
	json_t *v = json_object_get(rec, "vnc_port");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < -1 ||
		    json_integer_value(v) > 65535)
			return hull_err_set(err, EINVAL,
					    "vnc_port: must be an integer from "
					    "-1 to 65535");
		vm->vnc_port = json_integer_value(v);
	}
	/* nics[] is an array of objects here: net_config_parse said so */
	json_t *nics = json_object_get(rec, "nics"), *n;
	size_t i;
	vm->nic_model =
	    xcalloc(json_array_size(nics) + 1, sizeof(*vm->nic_model));
	json_array_foreach(nics, i, n)
	{
		char what[32];
		snprintf(what, sizeof(what), "nics.%zu.", i);
		if ((r = get_str(n, "model", what, &vm->nic_model[i], err)) < 0)
			return r;
	}
	return 0;
}

static int get_object(json_t *rec, const char *key, json_t **out,
		      struct hull_err *err)
{
	json_t *v = json_object_get(rec, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return hull_err_set(err, EINVAL, "%s: must be an object", key);
	*out = v;
	return 0;
}

static int parse(json_t *rec, struct inst *inst, struct hull_err *err)
{
	int r;
	if (!json_is_object(rec))
		return hull_err_set(err, EINVAL,
				    "instance record is not an object");
	const char *uuid = NULL, *brand = "joyent";
	if ((r = get_str(rec, "uuid", "", &uuid, err)) < 0)
		return r;
	if (!uuid || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "uuid: must be a UUID");
	memcpy(inst->uuid, uuid, HULL_UUID_LEN + 1);
	if ((r = get_str(rec, "brand", "", &brand, err)) < 0)
		return r;
	if (!(inst->brand = inst_brand_from_name(brand)))
		return hull_err_set(err, EINVAL, "brand: unknown brand '%.32s'",
				    brand);
	inst->hostname = uuid; /* borrowed from rec, as every string */
	inst->zpool = "zones";
	if ((r = get_bool(rec, "docker", "", &inst->docker, err)) < 0 ||
	    (r = get_bool(rec, "autoboot", "", &inst->autoboot, err)) < 0 ||
	    (r = get_bool(rec, "firewall_enabled", "", &inst->firewall_enabled,
			  err)) < 0 ||
	    (r = get_bool(rec, "delegate_dataset", "", &inst->delegate_dataset,
			  err)) < 0 ||
	    (r = get_str(rec, "alias", "", &inst->alias, err)) < 0 ||
	    (r = get_str(rec, "hostname", "", &inst->hostname, err)) < 0 ||
	    (r = get_str(rec, "dns_domain", "", &inst->dns_domain, err)) < 0 ||
	    (r = get_str(rec, "zpool", "", &inst->zpool, err)) < 0 ||
	    (r = get_num(rec, "ram", "", &inst->ram, err)) < 0 ||
	    (r = get_num(rec, "vcpus", "", &inst->vcpus, err)) < 0 ||
	    (r = get_num(rec, "quota", "", &inst->quota, err)) < 0 ||
	    (r = inst_limits_parse(rec, &inst->limits, err)) < 0 ||
	    (r = get_object(rec, "customer_metadata", &inst->customer_metadata,
			    err)) < 0 ||
	    (r = get_object(rec, "internal_metadata", &inst->internal_metadata,
			    err)) < 0 ||
	    (r = get_object(rec, "tags", &inst->tags, err)) < 0 ||
	    (r = parse_ids(rec, &inst->ids, err)) < 0)
		return r;
	if (strlen(inst->hostname) > INST_NAME_MAX)
		return hull_err_set(err, EINVAL,
				    "hostname: longer than %d bytes",
				    INST_NAME_MAX);
	if (inst->brand == INST_BRAND_LX) {
		if ((r = get_str(rec, "kernel_version", "",
				 &inst->kernel_version, err)) < 0)
			return r;
		if (inst->kernel_version &&
		    strlen(inst->kernel_version) > INST_NAME_MAX)
			return hull_err_set(err, EINVAL,
					    "kernel_version: longer than %d "
					    "bytes",
					    INST_NAME_MAX);
	}
	inst->net = xcalloc(1, sizeof(*inst->net));
	if ((r = net_config_parse(rec, inst->net, err)) < 0 ||
	    (r = parse_disks(rec, inst, err)) < 0)
		return r;
	if (inst_brand_is_hvm(inst->brand) &&
	    (r = parse_vm(rec, inst, err)) < 0)
		return r;
	if (!inst_brand_is_hvm(inst->brand) &&
	    (r = zone_fs_parse(json_object_get(rec, "filesystems"), &inst->fs,
			       &inst->nfs, err)) < 0)
		return r;
	return 0;
}

int inst_parse(json_t *rec, struct inst *out, struct hull_err *err)
{
	memset(out, 0, sizeof(*out));
	int r = parse(rec, out, err);
	if (r < 0) {
		inst_fini(out);
		return r;
	}
	out->json = json_incref(rec);
	return 0;
}

int inst_load(const char *uuid, struct inst *out, struct hull_err *err)
{
	memset(out, 0, sizeof(*out));
	json_t *rec = inst_record_load(uuid, err);
	if (!rec)
		return err ? -err->code : -EIO;
	int r = inst_parse(rec, out, err);
	json_decref(rec);
	if (r < 0)
		return hull_err_prefix(err, "instance %s", uuid);
	if (strcmp(out->uuid, uuid)) {
		r = hull_err_set(err, EINVAL, "instance %s: record names %s",
				 uuid, out->uuid);
		inst_fini(out);
		return r;
	}
	return 0;
}

void inst_fini(struct inst *inst)
{
	if (!inst)
		return;
	json_decref(inst->json);
	free(inst->net);
	free(inst->disks);
	free(inst->vm.nic_model);
	zone_fs_free(inst->fs, inst->nfs);
	memset(inst, 0, sizeof(*inst));
}
