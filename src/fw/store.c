/*
 * store.c - rule records and their files (see store.h).
 */
#include "fw/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* Triton's limit on description and created_by. */
#define FW_STRING_MAX 255

char *fw_rec_version_new(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	long long ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	return xasprintf("%lld.%06d", ms, (int)getpid());
}

static bool uuid_lower(const char *s)
{
	if (!hull_uuid_valid(s))
		return false;
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			return false;
	return true;
}

/* A boolean field as Triton takes it: true/false or "true"/"false". */
static int get_bool(json_t *j, const char *key, bool *out, bool *present,
		    struct hull_err *err)
{
	json_t *v = json_object_get(j, key);
	*present = v != NULL;
	if (!v)
		return 0;
	if (json_is_boolean(v))
		*out = json_is_true(v);
	else if (json_is_string(v) && !strcmp(json_string_value(v), "true"))
		*out = true;
	else if (json_is_string(v) && !strcmp(json_string_value(v), "false"))
		*out = false;
	else
		return hull_err_set(err, EINVAL, "%s must be true or false",
				    key);
	return 0;
}

static int get_string(json_t *j, const char *key, char **out,
		      struct hull_err *err)
{
	json_t *v = json_object_get(j, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return hull_err_set(err, EINVAL, "%s must be a string", key);
	if (json_string_length(v) > FW_STRING_MAX)
		return hull_err_set(err, EINVAL,
				    "%s must be shorter than %d characters",
				    key, FW_STRING_MAX);
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int fw_rec_from_json(json_t *j, const struct fw_rec *base, struct fw_rec *rec,
		     struct hull_err *err)
{
	memset(rec, 0, sizeof(*rec));
	if (!json_is_object(j))
		return hull_err_set(err, EINVAL,
				    "a rule must be a JSON object");
	static const char *const known[] = {
	    "uuid",   "rule",	     "enabled",	   "log",     "owner_uuid",
	    "global", "description", "created_by", "version", NULL};
	const char *key;
	json_t *val;
	json_object_foreach(j, key, val)
	{
		size_t k = 0;
		while (known[k] && strcmp(known[k], key))
			k++;
		if (!known[k])
			return hull_err_set(err, EINVAL,
					    "unknown rule property "
					    "\"%s\"",
					    key);
	}
	if (base) {
		memcpy(rec->uuid, base->uuid, sizeof(rec->uuid));
		rec->enabled = base->enabled;
		rec->log = base->log;
		rec->owner_uuid = dup_or_null(base->owner_uuid);
		rec->description = dup_or_null(base->description);
		rec->created_by = dup_or_null(base->created_by);
	}
	json_t *u = json_object_get(j, "uuid");
	if (u) {
		if (!json_is_string(u) || !uuid_lower(json_string_value(u)))
			return hull_err_set(err, EINVAL, "invalid rule UUID");
		if (base && strcmp(base->uuid, json_string_value(u)))
			return hull_err_set(err, EINVAL,
					    "rule UUID cannot change");
		snprintf(rec->uuid, sizeof(rec->uuid), "%s",
			 json_string_value(u));
	} else if (!base) {
		hull_uuid_generate(rec->uuid);
	}
	json_t *o = json_object_get(j, "owner_uuid");
	if (o) {
		if (!json_is_string(o) || !uuid_lower(json_string_value(o)))
			return hull_err_set(err, EINVAL, "invalid owner UUID");
		free(rec->owner_uuid);
		rec->owner_uuid = xstrdup(json_string_value(o));
	}
	bool present, global = false;
	if (get_bool(j, "global", &global, &present, err) < 0)
		return -EINVAL;
	if (present && global && o)
		return hull_err_set(
		    err, EINVAL, "cannot specify both global and owner_uuid");
	if (present && global) {
		free(rec->owner_uuid);
		rec->owner_uuid = NULL;
	}
	if (get_bool(j, "enabled", &rec->enabled, &present, err) < 0 ||
	    get_bool(j, "log", &rec->log, &present, err) < 0 ||
	    get_string(j, "description", &rec->description, err) < 0 ||
	    get_string(j, "created_by", &rec->created_by, err) < 0)
		return -EINVAL;
	json_t *r = json_object_get(j, "rule");
	const char *text =
	    r ? json_string_value(r) : (base ? base->text : NULL);
	if (r && !json_is_string(r))
		return hull_err_set(err, EINVAL, "rule must be a string");
	if (!text)
		return hull_err_set(err, EINVAL, "no rule specified");
	if (fw_rule_parse(text, &rec->rule, err) < 0)
		return hull_err_prefix(err, "rule \"%s\"", text);
	rec->text = fw_rule_print(&rec->rule);
	const char *ver = hull_json_str(j, "version", NULL);
	rec->version = ver && !base ? xstrdup(ver) : fw_rec_version_new();
	return 0;
}

json_t *fw_rec_to_json(const struct fw_rec *rec)
{
	json_t *j = json_object();
	json_object_set_new(j, "uuid", json_string(rec->uuid));
	json_object_set_new(j, "rule", json_string(rec->text));
	json_object_set_new(j, "enabled", json_boolean(rec->enabled));
	json_object_set_new(j, "log", json_boolean(rec->log));
	if (rec->owner_uuid)
		json_object_set_new(j, "owner_uuid",
				    json_string(rec->owner_uuid));
	else
		json_object_set_new(j, "global", json_true());
	if (rec->description)
		json_object_set_new(j, "description",
				    json_string(rec->description));
	if (rec->created_by)
		json_object_set_new(j, "created_by",
				    json_string(rec->created_by));
	json_object_set_new(j, "version", json_string(rec->version));
	return j;
}

void fw_rec_free(struct fw_rec *rec)
{
	if (!rec)
		return;
	free(rec->text);
	fw_rule_free(&rec->rule);
	free(rec->owner_uuid);
	free(rec->description);
	free(rec->created_by);
	free(rec->version);
	memset(rec, 0, sizeof(*rec));
}

void fw_rec_free_all(struct fw_rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fw_rec_free(&recs[i]);
	free(recs);
}

char *fw_store_dir(void)
{
	return hull_root_path("var/fw/rules");
}

int fw_store_lock(struct hull_err *err)
{
	char *dir = hull_root_path("var/fw");
	int rc = hull_mkdir_p(dir, 0755, err);
	free(dir);
	if (rc < 0)
		return rc;
	char *path = hull_root_path("var/fw/.lockfile");
	rc = hull_lock_take(path, true, err);
	free(path);
	return rc;
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fw_rec *)a)->uuid,
		      ((const struct fw_rec *)b)->uuid);
}

int fw_store_load_all(struct fw_rec **out, size_t *n, struct hull_err *err)
{
	*out = NULL;
	*n = 0;
	char *dir = fw_store_dir();
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		free(dir);
		return e == ENOENT ? 0
				   : hull_err_sys(err, e, "open rule store");
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len != 41 || strcmp(de->d_name + 36, ".json"))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		json_t *j = hull_json_load_file(path, err);
		free(path);
		if (!j) {
			rc = -EINVAL;
			break;
		}
		struct fw_rec rec;
		rc = fw_rec_from_json(j, NULL, &rec, err);
		json_decref(j);
		if (rc < 0) {
			fw_rec_free(&rec);
			hull_err_prefix(err, "stored rule %.36s", de->d_name);
			break;
		}
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = rec;
	}
	closedir(d);
	free(dir);
	if (rc < 0) {
		fw_rec_free_all(*out, *n);
		*out = NULL;
		*n = 0;
		return rc;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), rec_cmp);
	return 0;
}

int fw_store_save(const struct fw_rec *rec, struct hull_err *err)
{
	char *dir = fw_store_dir();
	int rc = hull_mkdir_p(dir, 0755, err);
	if (rc == 0) {
		char *path = xasprintf("%s/%s.json", dir, rec->uuid);
		json_t *j = fw_rec_to_json(rec);
		rc = hull_json_save_file(path, j, err);
		json_decref(j);
		free(path);
	}
	free(dir);
	return rc;
}

int fw_store_delete(const char *uuid, struct hull_err *err)
{
	char *dir = fw_store_dir();
	char *path = xasprintf("%s/%s.json", dir, uuid);
	int rc = 0;
	if (unlink(path) < 0 && errno != ENOENT)
		rc = hull_err_sys(err, errno, "remove rule %s", uuid);
	else
		rc = hull_fsync_dir(dir, err);
	free(path);
	free(dir);
	return rc;
}
