/*
 * manifest.c - validation of untrusted SmartOS image manifests (v2).
 *
 * Manifests come from image sources, local files and OCI archives: anything
 * the rest of imgadm reads from one is checked here first, so the store,
 * the installer and vmadm can trust a record's shape. Field rules follow
 * IMGAPI's (see spec/smartos.md §2.3); hull also accepts zstd compression.
 * v1 (DSAPI) manifests are first upgraded to v2 by imgmanifest's rules, as
 * SmartOS's imgadm does before it installs one.
 */
#include "image/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

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
		return bad(err, "v", "is missing");
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

/* ---- v1 (DSAPI) manifests ---- */

/* JavaScript's Boolean(v): what the upgrade rules test a value with. */
static bool js_truthy(json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_number(v))
		return json_number_value(v) != 0;
	return true;
}

/* True when s holds YYYY-MM-DDTHH:MMZ (a DSAPI date without seconds). */
static bool date_without_seconds(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:ddZ";
	size_t n = strlen(s), k = sizeof(shape) - 1;
	for (size_t at = 0; at + k <= n; at++) {
		size_t i = 0;
		for (; i < k; i++)
			if (shape[i] == 'd' ? !isdigit((unsigned char)s[at + i])
					    : s[at + i] != shape[i])
				break;
		if (i == k)
			return true;
	}
	return false;
}

/* path.extname's idea of a file's compression: .gz, .bz2, else none. */
static const char *compression_of(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *dot = strrchr(base, '.');
	if (!dot || dot == base)
		return "none";
	if (!strcmp(dot, ".gz"))
		return "gzip";
	if (!strcmp(dot, ".bz2"))
		return "bzip2";
	return "none";
}

static int upgrade_to_2(json_t *m, struct hull_err *err)
{
	if (!json_is_string(json_object_get(m, "uuid")) ||
	    !hull_uuid_valid(json_string_value(json_object_get(m, "uuid"))))
		return bad(err, "uuid", "must be a UUID");
	json_t *creator = json_object_get(m, "creator_uuid");
	if (!js_truthy(creator))
		return bad(err, "creator_uuid",
			   "is missing (an old DSAPI manifest has one)");
	if (json_object_get(m, "owner"))
		return bad(err, "owner",
			   "must not be given with creator_uuid (v1)");
	json_object_set(m, "owner", creator);
	static const char *const dropped[] = {"creator_uuid", "vendor_uuid",
					      "creator_name", "cloud_name",
					      "creator_admin"};
	for (size_t i = 0; i < sizeof(dropped) / sizeof(*dropped); i++)
		json_object_del(m, dropped[i]);

	json_t *restricted = json_object_get(m, "restricted_to_uuid");
	if (js_truthy(restricted)) {
		if (json_object_get(m, "public"))
			return bad(err, "public",
				   "must not be given with restricted_to_uuid "
				   "(v1)");
		json_object_set_new(m, "public", json_false());
		json_t *acl = json_array();
		json_array_append(acl, restricted);
		json_object_set_new(m, "acl", acl);
	} else {
		json_object_set_new(m, "public", json_true());
	}
	json_object_del(m, "restricted_to_uuid");
	json_object_del(m, "owner_uuid");

	bool disabled = js_truthy(json_object_get(m, "disabled"));
	json_object_set_new(m, "disabled", json_boolean(disabled));
	json_object_set_new(m, "state",
			    json_string(disabled ? "disabled" : "active"));

	json_t *created = json_object_get(m, "created_at");
	if (!js_truthy(json_object_get(m, "published_at")) &&
	    js_truthy(created))
		json_object_set(m, "published_at", created);
	json_t *pub = json_object_get(m, "published_at");
	if (json_is_string(pub) &&
	    date_without_seconds(json_string_value(pub))) {
		const char *p = json_string_value(pub);
		char *fixed = xasprintf("%.*s:00Z", (int)strlen(p) - 1, p);
		json_object_set_new(m, "published_at", json_string(fixed));
		free(fixed);
	}

	json_t *files = json_object_get(m, "files");
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f)
	{
		if (!json_is_object(f))
			continue;
		if (!js_truthy(json_object_get(f, "compression"))) {
			const char *name =
			    json_string_value(json_object_get(f, "path"));
			if (!name || !*name)
				name = json_string_value(
				    json_object_get(f, "url"));
			json_object_set_new(
			    f, "compression",
			    json_string(compression_of(name ? name : "")));
		}
		json_object_del(f, "path");
		json_object_del(f, "url");
	}

	/* IMGAPI-104: image_size is a number (DSAPI had strings). */
	json_t *size = json_object_get(m, "image_size");
	if (json_is_string(size) && js_truthy(size)) {
		const char *t = json_string_value(size);
		char *end;
		errno = 0;
		long long n = strtoll(t, &end, 10);
		if (!errno && end != t && !*end)
			json_object_set_new(m, "image_size", json_integer(n));
	}

	static const char *const gone[] = {"platform_type", "created_at",
					   "updated_at", "_url"};
	for (size_t k = 0; k < sizeof(gone) / sizeof(*gone); k++)
		json_object_del(m, gone[k]);
	json_object_set_new(m, "v", json_integer(2));
	return 0;
}

int image_manifest_upgrade(json_t *m, struct hull_err *err)
{
	if (!json_is_object(m))
		return hull_err_set(err, EINVAL, "manifest: not a JSON object");
	json_t *v = json_object_get(m, "v");
	if (!js_truthy(v)) {
		/* creator_uuid is a v1 field that v2 dropped. */
		if (!js_truthy(json_object_get(m, "creator_uuid")))
			return bad(err, "v", "is missing");
		return upgrade_to_2(m, err);
	}
	if (json_is_integer(v) && json_integer_value(v) < 2)
		return upgrade_to_2(m, err);
	return 0;
}

json_t *image_manifest_parse(const char *buf, size_t len, struct hull_err *err)
{
	json_t *m = hull_json_load_buf("manifest", buf, len, err);
	if (!m)
		return NULL;
	if (image_manifest_upgrade(m, err) < 0 ||
	    image_manifest_validate(m, err) < 0) {
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
