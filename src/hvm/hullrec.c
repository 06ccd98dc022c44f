/*
 * hullrec.c - an instance record's part of its double hull (hullrec.h).
 */
#include "hvm/hullrec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/uuid.h"

/* An integer property in [lo, hi], or dflt when absent. */
static int get_int(json_t *o, const char *key, json_int_t dflt, json_int_t lo,
		   json_int_t hi, json_int_t *out, struct hull_err *err)
{
	json_t *v = json_object_get(o, key);
	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return hull_err_set(err, EINVAL,
				    "%s: must be an integer from %lld to %lld",
				    key, (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

int hvm_hull_from_record(json_t *vm, struct hvm_hull *h, struct hull_err *err)
{
	if (!json_is_object(vm))
		return hull_err_set(err, EINVAL,
				    "the VM record must be an object");
	const char *uuid = json_string_value(json_object_get(vm, "uuid"));
	if (!uuid || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "uuid: must be a UUID");
	json_int_t ram = 0, cap = 0;
	int r;
	if ((r = get_int(vm, "ram", 256, 1, 1 << 30, &ram, err)) < 0 ||
	    (r = get_int(vm, "cpu_cap", 0, 0, 100 * 1024, &cap, err)) < 0)
		return r;
	json_t *disks = json_object_get(vm, "disks");
	if (disks && !json_is_array(disks))
		return hull_err_set(err, EINVAL, "disks: must be an array");
	if (json_array_size(disks) > HVM_HULL_PATHS_MAX)
		return hull_err_set(err, EINVAL, "disks: more than %d",
				    HVM_HULL_PATHS_MAX);
	size_t n = 0, i;
	json_t *d;
	json_array_foreach(disks, i, d)
	{
		const char *path =
		    json_string_value(json_object_get(d, "path"));
		if (!path || path[0] != '/')
			return hull_err_set(
			    err, EINVAL,
			    "disks.%zu.path: must be an absolute "
			    "path",
			    i);
		const char *media =
		    json_string_value(json_object_get(d, "media"));
		bool ro = json_is_true(json_object_get(d, "read_only")) ||
			  (media && !strcmp(media, "cdrom"));
		h->files[n++] = (struct hvm_hull_path){path, !ro, true};
	}
	json_int_t uid = 0, gid = 0;
	json_t *ids = json_object_get(vm, "hull_userns");
	if (ids &&
	    (!json_is_object(ids) ||
	     (r = get_int(ids, "uid", 0, 1, UINT32_MAX - 1, &uid, err)) < 0 ||
	     (r = get_int(ids, "gid", 0, 1, UINT32_MAX - 1, &gid, err)) < 0 ||
	     !uid || !gid))
		return hull_err_set(err, EINVAL,
				    "hull_userns: must hold a uid and a gid "
				    "other than 0");
	h->uuid = uuid;
	h->nfiles = n;
	h->ram_mib = ram;
	h->cpu_cap = cap;
	h->uid = (uid_t)uid;
	h->gid = (gid_t)gid;
	return 0;
}
