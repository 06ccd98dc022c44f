/*
 * manifest.c - validation of untrusted SmartOS image manifests (v2).
 *
 * Manifests come from image sources, local files and OCI archives: anything
 * the rest of imgadm reads from one is checked here first, so the store,
 * the installer and vmadm can trust a record's shape. Field rules follow
 * IMGAPI's (see spec/smartos.md §2.3); hull also accepts zstd compression.
 */
#include "image/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "lib/json.h"
#include "lib/uuid.h"

static const char *const types[] = {
    "zone-dataset", "lx-dataset", "zvol", "docker", "lxd", "other", NULL};
static const char *const oses[] = {"smartos", "linux", "windows", "bsd",
				   "illumos", "other", NULL};
static const char *const states[] = {"active",	 "unactivated", "disabled",
				     "creating", "failed",	NULL};
static const char *const compressions[] = {"none", "gzip", "bzip2",
					   "xz",   "zstd", NULL};

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static int bad(struct hull_err *err, const char *field, const char *what)
{
	return hull_err_set(err, EINVAL, "manifest: %s: %s", field, what);
}

/* A string field: absent is fine unless required; max 0 means no limit. */
static int check_str(json_t *m, const char *key, bool required, size_t max,
		     struct hull_err *err)
{
	json_t *v = json_object_get(m, key);
	if (!v)
		return required ? bad(err, key, "is missing") : 0;
	if (!json_is_string(v))
		return bad(err, key, "must be a string");
	size_t n = json_string_length(v);
	if (required && n == 0)
		return bad(err, key, "must not be empty");
	if (max && n > max)
		return hull_err_set(err, EINVAL,
				    "manifest: %s: longer than %zu characters",
				    key, max);
	if (strlen(json_string_value(v)) != n)
		return bad(err, key, "contains a NUL character");
	return 0;
}

static int check_enum(json_t *m, const char *key, bool required,
		      const char *const *list, struct hull_err *err)
{
	int r = check_str(m, key, required, 64, err);
	if (r < 0)
		return r;
	json_t *v = json_object_get(m, key);
	if (v && !in_list(json_string_value(v), list))
		return hull_err_set(err, EINVAL,
				    "manifest: %s: unknown %s '%s'", key, key,
				    json_string_value(v));
	return 0;
}

static int check_uuid(json_t *m, const char *key, bool required,
		      struct hull_err *err)
{
	json_t *v = json_object_get(m, key);
	if (!v)
		return required ? bad(err, key, "is missing") : 0;
	if (!json_is_string(v) || !hull_uuid_valid(json_string_value(v)))
		return bad(err, key, "must be a UUID");
	return 0;
}

static int check_bool(json_t *m, const char *key, struct hull_err *err)
{
	json_t *v = json_object_get(m, key);
	if (v && !json_is_boolean(v))
		return bad(err, key, "must be true or false");
	return 0;
}

static int check_object(json_t *m, const char *key, struct hull_err *err)
{
	json_t *v = json_object_get(m, key);
	if (v && !json_is_object(v))
		return bad(err, key, "must be an object");
	return 0;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

/* ISO 8601 as IMGAPI writes it: YYYY-MM-DDTHH:MM:SS[.fff]Z (the date part
 * alone is accepted too). Only the shape is checked. */
static bool iso_date(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;
	for (i = 0; shape[i] && s[i]; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i])
				    : s[i] != shape[i])
			return false;
	}
	if (i == 10 && s[i] == '\0')
		return true;
	if (shape[i])
		return false;
	s += i;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return !strcmp(s, "Z") || !strcmp(s, "") ||
	       ((s[0] == '+' || s[0] == '-') && strlen(s) == 6);
}

static int check_file(json_t *f, size_t i, struct hull_err *err)
{
	char field[64];
	if (!json_is_object(f)) {
		snprintf(field, sizeof(field), "files[%zu]", i);
		return bad(err, field, "must be an object");
	}
	json_t *sha1 = json_object_get(f, "sha1");
	snprintf(field, sizeof(field), "files[%zu].sha1", i);
	if (!sha1)
		return bad(err, field, "is missing");
	if (!json_is_string(sha1) || json_string_length(sha1) != 40 ||
	    !is_hex(json_string_value(sha1), 40))
		return bad(err, field, "must be 40 hex digits");
	json_t *size = json_object_get(f, "size");
	snprintf(field, sizeof(field), "files[%zu].size", i);
	if (!size)
		return bad(err, field, "is missing");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return bad(err, field, "must be a non-negative integer");
	if ((unsigned long long)json_integer_value(size) > IMAGE_FILE_MAX_SIZE)
		return bad(err, field, "larger than 20 GiB");
	json_t *comp = json_object_get(f, "compression");
	snprintf(field, sizeof(field), "files[%zu].compression", i);
	if (!comp)
		return bad(err, field, "is missing");
	if (!json_is_string(comp))
		return bad(err, field, "must be a string");
	if (!in_list(json_string_value(comp), compressions))
		return hull_err_set(err, EINVAL,
				    "manifest: %s: unknown compression '%s'",
				    field, json_string_value(comp));
	json_t *d = json_object_get(f, "dataset_guid");
	snprintf(field, sizeof(field), "files[%zu].dataset_guid", i);
	if (d && !json_is_string(d))
		return bad(err, field, "must be a string");
	return 0;
}

static int check_files(json_t *m, struct hull_err *err)
{
	json_t *files = json_object_get(m, "files");
	if (!files)
		return 0;
	if (!json_is_array(files))
		return bad(err, "files", "must be an array");
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f)
	{
		int r = check_file(f, i, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* tags: string, number or bool values; docker:* tags may also hold the
 * image config objects SmartOS keeps there (docker:config). */
static int check_tags(json_t *m, struct hull_err *err)
{
	json_t *tags = json_object_get(m, "tags");
	if (!tags)
		return 0;
	if (!json_is_object(tags))
		return bad(err, "tags", "must be an object");
	const char *k;
	json_t *v;
	json_object_foreach(tags, k, v)
	{
		if (json_is_string(v) || json_is_number(v) ||
		    json_is_boolean(v))
			continue;
		if (!strncmp(k, "docker:", 7) &&
		    (json_is_object(v) || json_is_array(v)))
			continue;
		return hull_err_set(err, EINVAL,
				    "manifest: tags.%.64s: must be a string, "
				    "number or boolean",
				    k);
	}
	return 0;
}

static int check_requirements(json_t *m, struct hull_err *err)
{
	json_t *req = json_object_get(m, "requirements");
	if (!req)
		return 0;
	if (!json_is_object(req))
		return bad(err, "requirements", "must be an object");
	json_t *nets = json_object_get(req, "networks");
	if (nets) {
		if (!json_is_array(nets))
			return bad(err, "requirements.networks",
				   "must be an array");
		size_t i;
		json_t *n;
		json_array_foreach(nets, i, n)
		{
			if (!json_is_object(n) ||
			    !json_is_string(json_object_get(n, "name")))
				return bad(err, "requirements.networks",
					   "entries must be objects with a "
					   "name");
		}
	}
	static const char *const ints[] = {"min_ram", "max_ram", NULL};
	for (const char *const *k = ints; *k; k++) {
		json_t *v = json_object_get(req, *k);
		if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
			char field[64];
			snprintf(field, sizeof(field), "requirements.%s", *k);
			return bad(err, field,
				   "must be a non-negative integer");
		}
	}
	static const char *const strs[] = {"brand", "bootrom", NULL};
	for (const char *const *k = strs; *k; k++) {
		json_t *v = json_object_get(req, *k);
		if (v && !json_is_string(v)) {
			char field[64];
			snprintf(field, sizeof(field), "requirements.%s", *k);
			return bad(err, field, "must be a string");
		}
	}
	json_t *ssh = json_object_get(req, "ssh_key");
	if (ssh && !json_is_boolean(ssh))
		return bad(err, "requirements.ssh_key",
			   "must be true or false");
	static const char *const plats[] = {"min_platform", "max_platform",
					    NULL};
	for (const char *const *k = plats; *k; k++) {
		json_t *v = json_object_get(req, *k);
		if (v && !json_is_object(v)) {
			char field[64];
			snprintf(field, sizeof(field), "requirements.%s", *k);
			return bad(err, field, "must be an object");
		}
	}
	return 0;
}

static int check_string_array(json_t *m, const char *key, struct hull_err *err)
{
	json_t *a = json_object_get(m, key);
	if (!a)
		return 0;
	if (!json_is_array(a))
		return bad(err, key, "must be an array");
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return bad(err, key, "entries must be strings");
	}
	return 0;
}

int image_manifest_validate(json_t *m, struct hull_err *err)
{
	int r;
	if (!json_is_object(m))
		return hull_err_set(err, EINVAL, "manifest: not a JSON object");

	json_t *v = json_object_get(m, "v");
	if (!v)
		return bad(err, "v",
			   "is missing (v1 manifests are not "
			   "supported)");
	if (!json_is_integer(v))
		return bad(err, "v", "must be an integer");
	if (json_integer_value(v) != 2)
		return bad(err, "v", "unsupported manifest version (want 2)");

	if ((r = check_uuid(m, "uuid", true, err)) < 0 ||
	    (r = check_uuid(m, "owner", true, err)) < 0 ||
	    (r = check_str(m, "name", true, 512, err)) < 0 ||
	    (r = check_str(m, "version", true, 128, err)) < 0 ||
	    (r = check_enum(m, "type", true, types, err)) < 0 ||
	    (r = check_enum(m, "os", true, oses, err)) < 0 ||
	    (r = check_enum(m, "state", false, states, err)) < 0 ||
	    (r = check_str(m, "description", false, 512, err)) < 0 ||
	    (r = check_str(m, "homepage", false, 128, err)) < 0 ||
	    (r = check_str(m, "eula", false, 128, err)) < 0 ||
	    (r = check_str(m, "urn", false, 512, err)) < 0 ||
	    (r = check_bool(m, "disabled", err)) < 0 ||
	    (r = check_bool(m, "public", err)) < 0 ||
	    (r = check_bool(m, "icon", err)) < 0 ||
	    (r = check_bool(m, "generate_passwords", err)) < 0 ||
	    (r = check_uuid(m, "origin", false, err)) < 0 ||
	    (r = check_files(m, err)) < 0 || (r = check_tags(m, err)) < 0 ||
	    (r = check_requirements(m, err)) < 0 ||
	    (r = check_object(m, "traits", err)) < 0 ||
	    (r = check_object(m, "error", err)) < 0 ||
	    (r = check_string_array(m, "billing_tags", err)) < 0 ||
	    (r = check_string_array(m, "acl", err)) < 0 ||
	    (r = check_string_array(m, "channels", err)) < 0)
		return r;

	json_t *pub = json_object_get(m, "published_at");
	if (pub && (!json_is_string(pub) || !iso_date(json_string_value(pub))))
		return bad(err, "published_at", "must be an ISO 8601 date");

	json_t *users = json_object_get(m, "users");
	if (users) {
		size_t i;
		json_t *u;
		if (!json_is_array(users))
			return bad(err, "users", "must be an array");
		json_array_foreach(users, i, u)
		{
			if (!json_is_object(u) ||
			    !json_is_string(json_object_get(u, "name")))
				return bad(err, "users",
					   "entries must be objects with a "
					   "name");
		}
	}

	json_t *inh = json_object_get(m, "inherited_directories");
	if (inh && !json_is_array(inh))
		return bad(err, "inherited_directories", "must be an array");

	if (!strcmp(json_string_value(json_object_get(m, "type")), "zvol")) {
		json_t *sz = json_object_get(m, "image_size");
		if (sz && (!json_is_integer(sz) || json_integer_value(sz) <= 0))
			return bad(err, "image_size",
				   "must be a positive integer (MiB)");
		static const char *const drv[] = {"nic_driver", "disk_driver",
						  "cpu_type", NULL};
		for (const char *const *k = drv; *k; k++)
			if ((r = check_str(m, *k, false, 64, err)) < 0)
				return r;
	}
	return 0;
}

json_t *image_manifest_parse(const char *buf, size_t len, struct hull_err *err)
{
	json_t *m = hull_json_load_buf("manifest", buf, len, err);
	if (!m)
		return NULL;
	if (image_manifest_validate(m, err) < 0) {
		json_decref(m);
		return NULL;
	}
	return m;
}

bool image_type_is_rootfs(const char *type)
{
	return type &&
	       (!strcmp(type, "zone-dataset") || !strcmp(type, "lx-dataset") ||
		!strcmp(type, "docker") || !strcmp(type, "lxd") ||
		!strcmp(type, "other"));
}

void image_manifest_defaults(json_t *m)
{
	if (!json_object_get(m, "state"))
		json_object_set_new(m, "state", json_string("active"));
	if (!json_object_get(m, "disabled"))
		json_object_set_new(m, "disabled", json_false());
	if (!json_object_get(m, "public"))
		json_object_set_new(m, "public", json_false());
}
