/*
 * test_manifest.c - validation of untrusted image manifests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/manifest.h"

static const char good[] =
    "{\"v\": 2, \"uuid\": \"3f0e8a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b\","
    " \"owner\": \"00000000-0000-0000-0000-000000000000\","
    " \"name\": \"base\", \"version\": \"1.0+x\", \"type\": \"zone-dataset\","
    " \"os\": \"smartos\", \"state\": \"active\", \"disabled\": false,"
    " \"public\": true, \"published_at\": \"2012-05-02T15:14:45.805Z\","
    " \"files\": [{\"sha1\": \"97f20b32c2016782257176fb58a35e5044f05840\","
    "   \"size\": 46271847, \"compression\": \"bzip2\"}],"
    " \"requirements\": {\"networks\": [{\"name\": \"net0\","
    "   \"description\": \"public\"}], \"min_ram\": 256, \"brand\": "
    "\"joyent\"},"
    " \"tags\": {\"role\": \"os\", \"n\": 3, \"b\": true,"
    "   \"docker:config\": {\"Cmd\": [\"sh\"]}}}";

static json_t *load_good(void)
{
	json_error_t je;
	json_t *m = json_loads(good, 0, &je);
	assert_non_null(m);
	return m;
}

/* Applies an edit (a JSON object merged in; null deletes) and expects the
 * validation message to contain want. */
static void expect_bad(const char *edit, const char *want)
{
	json_t *m = load_good();
	json_error_t je;
	json_t *e = json_loads(edit, 0, &je);
	assert_non_null(e);
	const char *k;
	json_t *v;
	json_object_foreach(e, k, v)
	{
		if (json_is_null(v))
			json_object_del(m, k);
		else
			json_object_set(m, k, v);
	}
	struct hull_err err = {0};
	assert_int_equal(image_manifest_validate(m, &err), -EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("'%s' does not name '%s'", err.msg, want);
	assert_null(strchr(err.msg, '\n'));
	json_decref(e);
	json_decref(m);
}

static void test_good_manifest_passes(void **state)
{
	json_t *m = load_good();
	struct hull_err err = {0};
	assert_int_equal(image_manifest_validate(m, &err), 0);
	json_decref(m);
}

static void test_required_fields(void **state)
{
	expect_bad("{\"v\": null}", "v: is missing");
	expect_bad("{\"uuid\": null}", "uuid: is missing");
	expect_bad("{\"owner\": null}", "owner: is missing");
	expect_bad("{\"name\": null}", "name: is missing");
	expect_bad("{\"version\": null}", "version: is missing");
	expect_bad("{\"type\": null}", "type: is missing");
	expect_bad("{\"os\": null}", "os: is missing");
}

static void test_mistyped_fields(void **state)
{
	expect_bad("{\"v\": \"2\"}", "v: must be an integer");
	expect_bad("{\"v\": 1}", "v: unsupported");
	expect_bad("{\"uuid\": \"abc\"}", "uuid: must be a UUID");
	expect_bad("{\"name\": 5}", "name: must be a string");
	expect_bad("{\"name\": \"\"}", "name: must not be empty");
	expect_bad("{\"disabled\": \"no\"}", "disabled: must be true or false");
	expect_bad("{\"files\": {}}", "files: must be an array");
	expect_bad("{\"files\": [7]}", "files[0]: must be an object");
	expect_bad("{\"files\": [{\"sha1\": \"xyz\", \"size\": 1,"
		   " \"compression\": \"gzip\"}]}",
		   "files[0].sha1");
	expect_bad("{\"files\": [{\"sha1\": "
		   "\"97f20b32c2016782257176fb58a35e5044f05840\","
		   " \"size\": -1, \"compression\": \"gzip\"}]}",
		   "files[0].size");
	expect_bad("{\"files\": [{\"sha1\": "
		   "\"97f20b32c2016782257176fb58a35e5044f05840\","
		   " \"size\": 99999999999999, \"compression\": \"gzip\"}]}",
		   "files[0].size: larger than 20 GiB");
	expect_bad("{\"files\": [{\"sha1\": "
		   "\"97f20b32c2016782257176fb58a35e5044f05840\","
		   " \"size\": 1}]}",
		   "files[0].compression: is missing");
	expect_bad("{\"tags\": {\"x\": {\"y\": 1}}}", "tags.x");
	expect_bad("{\"tags\": []}", "tags: must be an object");
	expect_bad("{\"requirements\": {\"networks\": {}}}",
		   "requirements.networks");
	expect_bad("{\"requirements\": {\"max_ram\": true}}",
		   "requirements.max_ram");
	expect_bad("{\"origin\": \"nope\"}", "origin: must be a UUID");
	expect_bad("{\"published_at\": \"2012-05-02 15:14\"}", "published_at");
	expect_bad("{\"billing_tags\": [1]}", "billing_tags");
	expect_bad("{\"users\": [{}]}", "users");
}

static void test_lengths(void **state)
{
	char edit[1200];
	char name[514];
	memset(name, 'a', 513);
	name[513] = '\0';
	snprintf(edit, sizeof(edit), "{\"name\": \"%s\"}", name);
	expect_bad(edit, "name: longer than 512");
	name[512] = '\0';
	snprintf(edit, sizeof(edit), "{\"name\": \"%s\"}", name);
	json_t *m = load_good();
	json_object_set_new(m, "name", json_string(name));
	assert_int_equal(image_manifest_validate(m, NULL), 0);
	json_decref(m);
	char ver[131];
	memset(ver, '1', 129);
	ver[129] = '\0';
	snprintf(edit, sizeof(edit), "{\"version\": \"%s\"}", ver);
	expect_bad(edit, "version: longer than 128");
}

static void test_enums(void **state)
{
	expect_bad("{\"type\": \"vm\"}", "type: unknown type 'vm'");
	expect_bad("{\"os\": \"plan9\"}", "os: unknown os");
	expect_bad("{\"state\": \"sleepy\"}", "state: unknown state");
	expect_bad("{\"files\": [{\"sha1\": "
		   "\"97f20b32c2016782257176fb58a35e5044f05840\","
		   " \"size\": 1, \"compression\": \"lz4\"}]}",
		   "unknown compression 'lz4'");
	static const char *const types[] = {
	    "zone-dataset", "lx-dataset", "zvol", "docker", "lxd", "other"};
	for (size_t i = 0; i < 6; i++) {
		json_t *m = load_good();
		json_object_set_new(m, "type", json_string(types[i]));
		assert_int_equal(image_manifest_validate(m, NULL), 0);
		json_decref(m);
	}
	static const char *const comps[] = {"none", "gzip", "bzip2", "xz",
					    "zstd"};
	for (size_t i = 0; i < 5; i++) {
		json_t *m = load_good();
		json_t *f = json_array_get(json_object_get(m, "files"), 0);
		json_object_set_new(f, "compression", json_string(comps[i]));
		assert_int_equal(image_manifest_validate(m, NULL), 0);
		json_decref(m);
	}
}

static void test_parse_rejects_non_json_and_non_objects(void **state)
{
	struct hull_err err = {0};
	assert_null(image_manifest_parse("{", 1, &err));
	assert_non_null(strstr(err.msg, "invalid JSON"));
	assert_null(image_manifest_parse("[1]", 3, &err));
	assert_non_null(strstr(err.msg, "not a JSON object"));
	/* Duplicate keys are refused: which one would win is ambiguous. */
	assert_null(image_manifest_parse("{\"v\":2,\"v\":2}", 13, &err));
	json_t *m = image_manifest_parse(good, strlen(good), &err);
	assert_non_null(m);
	json_decref(m);
}

static void test_defaults_and_rootfs_types(void **state)
{
	json_t *m = json_object();
	image_manifest_defaults(m);
	assert_string_equal(json_string_value(json_object_get(m, "state")),
			    "active");
	assert_true(json_is_false(json_object_get(m, "disabled")));
	json_decref(m);
	assert_true(image_type_is_rootfs("lx-dataset"));
	assert_true(image_type_is_rootfs("docker"));
	assert_false(image_type_is_rootfs("zvol"));
	assert_false(image_type_is_rootfs(NULL));
}

/* A DSAPI (v1) manifest, as datasets.joyent.com served them. */
static const char v1[] =
    "{\"uuid\": \"8418dccc-c9c6-11e1-91e4-5b3a5ad5b22a\","
    " \"name\": \"base64\", \"version\": \"1.7.0\","
    " \"urn\": \"sdc:sdc:base64:1.7.0\", \"type\": \"zone-dataset\","
    " \"os\": \"smartos\", \"description\": \"Base\","
    " \"creator_uuid\": \"352971aa-31ba-496c-9ade-a379feaecd52\","
    " \"vendor_uuid\": \"352971aa-31ba-496c-9ade-a379feaecd52\","
    " \"creator_name\": \"sdc\", \"platform_type\": \"smartos\","
    " \"cloud_name\": \"sdc\", \"restricted_to_uuid\":"
    " \"930896af-bf8c-48d4-885c-6573a94b1853\","
    " \"created_at\": \"2012-07-10T17:45Z\","
    " \"updated_at\": \"2012-07-10T17:45Z\","
    " \"files\": [{\"path\": \"base64-1.7.0.zfs.bz2\","
    "   \"sha1\": \"97f20b32c2016782257176fb58a35e5044f05840\","
    "   \"size\": 46271847, \"url\": "
    "\"https://datasets.example/base64-1.7.0.zfs.bz2\"}],"
    " \"requirements\": {\"networks\": [{\"name\": \"net0\","
    "   \"description\": \"public\"}]}}";

static void test_v1_upgrade(void **state)
{
	(void)state;
	struct hull_err err = {0};
	json_t *m = image_manifest_parse(v1, strlen(v1), &err);
	if (!m)
		fail_msg("%s", err.msg);
	assert_int_equal(json_integer_value(json_object_get(m, "v")), 2);
	assert_string_equal(json_string_value(json_object_get(m, "owner")),
			    "352971aa-31ba-496c-9ade-a379feaecd52");
	assert_true(json_is_false(json_object_get(m, "public")));
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(m, "acl"), 0)),
	    "930896af-bf8c-48d4-885c-6573a94b1853");
	assert_string_equal(json_string_value(json_object_get(m, "state")),
			    "active");
	assert_true(json_is_false(json_object_get(m, "disabled")));
	assert_string_equal(
	    json_string_value(json_object_get(m, "published_at")),
	    "2012-07-10T17:45:00Z");
	assert_string_equal(json_string_value(json_object_get(m, "urn")),
			    "sdc:sdc:base64:1.7.0");
	json_t *f = json_array_get(json_object_get(m, "files"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(f, "compression")), "bzip2");
	assert_null(json_object_get(f, "path"));
	assert_null(json_object_get(f, "url"));
	static const char *const gone[] = {
	    "creator_uuid", "vendor_uuid",	 "creator_name",
	    "cloud_name",   "platform_type",	 "created_at",
	    "updated_at",   "restricted_to_uuid"};
	for (size_t i = 0; i < sizeof(gone) / sizeof(*gone); i++)
		if (json_object_get(m, gone[i]))
			fail_msg("%s survived the upgrade", gone[i]);
	json_decref(m);

	/* Unrestricted: public; a disabled one is state disabled; a string
	 * image_size becomes a number. */
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:[{s:s, s:s, s:i}]}",
	    "uuid", "8418dccc-c9c6-11e1-91e4-5b3a5ad5b22a", "creator_uuid",
	    "352971aa-31ba-496c-9ade-a379feaecd52", "name", "vm", "version",
	    "1", "type", "zvol", "os", "linux", "disabled", 1, "image_size",
	    "10240", "files", "path", "vm.zvol.gz", "sha1",
	    "97f20b32c2016782257176fb58a35e5044f05840", "size", 10);
	assert_int_equal(image_manifest_upgrade(o, &err), 0);
	assert_true(json_is_true(json_object_get(o, "public")));
	assert_string_equal(json_string_value(json_object_get(o, "state")),
			    "disabled");
	assert_int_equal(json_integer_value(json_object_get(o, "image_size")),
			 10240);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(o, "files"), 0), "compression")),
	    "gzip");
	assert_int_equal(image_manifest_validate(o, &err), 0);
	json_decref(o);

	/* v1 needs creator_uuid; with owner too it is refused. */
	const char *no_creator = "{\"v\": 1, \"uuid\": "
				 "\"8418dccc-c9c6-11e1-91e4-5b3a5ad5b22a\"}";
	assert_null(image_manifest_parse(no_creator, strlen(no_creator), &err));
	assert_non_null(strstr(err.msg, "creator_uuid"));
	const char *both =
	    "{\"uuid\": \"8418dccc-c9c6-11e1-91e4-5b3a5ad5b22a\","
	    " \"creator_uuid\": \"352971aa-31ba-496c-9ade-a379feaecd52\","
	    " \"owner\": \"352971aa-31ba-496c-9ade-a379feaecd52\"}";
	assert_null(image_manifest_parse(both, strlen(both), &err));
	assert_non_null(strstr(err.msg, "owner"));
	/* No v and no creator_uuid: not a v1 manifest either. */
	assert_null(image_manifest_parse("{}", 2, &err));
	assert_non_null(strstr(err.msg, "v: is missing"));
	/* v2 is left as it is. */
	json_t *g = load_good();
	json_t *copy = json_deep_copy(g);
	assert_int_equal(image_manifest_upgrade(g, &err), 0);
	assert_true(json_equal(g, copy));
	json_decref(g);
	json_decref(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_manifest_passes),
	    cmocka_unit_test(test_required_fields),
	    cmocka_unit_test(test_mistyped_fields),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_enums),
	    cmocka_unit_test(test_parse_rejects_non_json_and_non_objects),
	    cmocka_unit_test(test_defaults_and_rootfs_types),
	    cmocka_unit_test(test_v1_upgrade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
