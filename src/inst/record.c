/*
 * record.c - record paths, load, save, lock and the walk (record.h).
 */
#include "inst/record.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "vm/mdfiles.h"

char *inst_dir_path(const char *uuid)
{
	return hull_root_path("%s", uuid);
}

char *inst_config_dir(const char *uuid)
{
	return hull_root_path("%s/config", uuid);
}

char *inst_record_path(const char *uuid)
{
	return hull_root_path("%s/" INST_RECORD_REL, uuid);
}

char *inst_lock_path(const char *uuid)
{
	return hull_root_path("%s/config/.lock", uuid);
}

static json_t *load_path(const char *path, bool full, struct hull_err *err)
{
	json_t *rec = full ? vm_mdfiles_load(path, NULL, err)
			   : hull_json_load_file(path, err);
	if (rec && !json_is_object(rec)) {
		json_decref(rec);
		hull_err_set(err, EINVAL, "%s: not a JSON object", path);
		return NULL;
	}
	return rec;
}

json_t *inst_record_load(const char *uuid, struct hull_err *err)
{
	if (!hull_uuid_valid(uuid)) {
		hull_err_set(err, EINVAL, "not a UUID: '%.64s'", uuid);
		return NULL;
	}
	_cleanup_free_ char *p = inst_record_path(uuid);
	return load_path(p, true, err);
}

int inst_record_save(json_t *rec, struct hull_err *err)
{
	const char *uuid = hull_json_str(rec, "uuid", NULL);
	if (!uuid || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "record without a valid uuid");
	_cleanup_free_ char *p = inst_record_path(uuid);
	return vm_mdfiles_save(p, rec, NULL, err);
}

int inst_record_save_first(json_t *rec, struct hull_err *err)
{
	const char *uuid = hull_json_str(rec, "uuid", NULL);
	if (!uuid || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "record without a valid uuid");
	_cleanup_free_ char *p = inst_record_path(uuid);
	return vm_mdfiles_save_first(p, rec, err);
}

json_t *inst_record_load_stored(const char *uuid, struct hull_err *err)
{
	if (!hull_uuid_valid(uuid)) {
		hull_err_set(err, EINVAL, "not a UUID: '%.64s'", uuid);
		return NULL;
	}
	_cleanup_free_ char *p = inst_record_path(uuid);
	return load_path(p, false, err);
}

int inst_record_save_stored_ordered(json_t *rec, struct hull_err *err)
{
	const char *uuid = hull_json_str(rec, "uuid", NULL);
	if (!uuid || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "record without a valid uuid");
	_cleanup_free_ char *p = inst_record_path(uuid);
	return hull_json_save_file_ordered(p, rec, err);
}

int inst_lock(const char *uuid, bool wait, struct hull_err *err)
{
	_cleanup_free_ char *dir = inst_config_dir(uuid);
	if (!hull_is_dir(dir))
		return hull_err_set(err, ENOENT,
				    "VM %s has no complete record (its "
				    "provisioning failed, or it was deleted)",
				    uuid);
	_cleanup_free_ char *p = inst_lock_path(uuid);
	return wait ? hull_lock_take(p, true, err) : hull_lock_try(p, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void inst_uuids_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int inst_uuids(char ***out, size_t *n, struct hull_err *err)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(hull_root());
	if (!d)
		return errno == ENOENT
			   ? 0
			   : hull_err_sys(err, errno, "open %s", hull_root());
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!hull_uuid_valid(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xrealloc(*out, cap * sizeof(char *));
		}
		(*out)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(char *), cmp_str);
	return 0;
}

int inst_record_foreach(unsigned flags,
			int (*fn)(const char *uuid, json_t *rec, void *arg),
			void *arg, struct hull_err *err)
{
	char **uuids;
	size_t n;
	int r = inst_uuids(&uuids, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct hull_err e = {0};
		_cleanup_free_ char *p = inst_record_path(uuids[i]);
		json_t *rec = load_path(p, flags & INST_WALK_FULL, &e);
		if (!rec) {
			/* no record: a create in progress or a failed one */
			if (e.code != ENOENT && (flags & INST_WALK_STRICT)) {
				if (err)
					*err = e;
				r = hull_err_prefix(err, "instance %s",
						    uuids[i]);
			}
			continue;
		}
		r = fn(uuids[i], rec, arg);
		json_decref(rec);
	}
	inst_uuids_free(uuids, n);
	return r;
}
