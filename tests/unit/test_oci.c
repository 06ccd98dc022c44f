/*
 * test_oci.c - reading OCI indexes, OCI manifests and docker save
 * manifests, and the hull manifest made from an image config.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/manifest.h"
#include "image/oci.h"
#include "lib/uuid.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define HC "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	if (!j)
		fail_msg("%s: %s", s, je.text);
	return j;
}

static void test_index_picks_linux_amd64(void **state)
{
	json_t *idx =
	    J("{\"manifests\": ["
	      "{\"digest\": \"sha256:" H1 "\", \"platform\":"
	      " {\"os\": \"linux\", \"architecture\": \"arm64\"}},"
	      "{\"digest\": \"sha256:" H2 "\", \"mediaType\":"
	      " \"application/vnd.oci.image.manifest.v1+json\","
	      " \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"},"
	      " \"annotations\": {\"org.opencontainers.image.ref.name\": "
	      "\"3.19\"}}]}");
	char *path, *sha, *ref;
	int is_index;
	struct hull_err err = {0};
	assert_int_equal(
	    oci_index_manifest(idx, &path, &sha, &ref, &is_index, &err), 0);
	assert_string_equal(path, "blobs/sha256/" H2);
	assert_string_equal(sha, H2);
	assert_string_equal(ref, "3.19");
	assert_false(is_index);
	free(path);
	free(sha);
	free(ref);
	json_decref(idx);

	idx = J("{\"manifests\": [{\"digest\": \"sha512:abc\"}]}");
	assert_true(
	    oci_index_manifest(idx, &path, &sha, &ref, &is_index, &err) < 0);
	assert_non_null(strstr(err.msg, "unsupported digest"));
	json_decref(idx);
	idx = J("{\"manifests\": [{\"digest\": \"sha256:../../etc/passwd\"}]}");
	assert_true(
	    oci_index_manifest(idx, &path, &sha, &ref, &is_index, &err) < 0);
	json_decref(idx);
	idx = J("{}");
	assert_true(
	    oci_index_manifest(idx, &path, &sha, &ref, &is_index, &err) < 0);
	json_decref(idx);
}

static void test_manifest_layers_in_order(void **state)
{
	json_t *m = J("{\"config\": {\"digest\": \"sha256:" HC "\"},"
		      " \"layers\": [{\"digest\": \"sha256:" H1 "\"},"
		      "              {\"digest\": \"sha256:" H2 "\"}]}");
	struct oci_image img = {0};
	struct hull_err err = {0};
	assert_int_equal(oci_manifest_parse(m, &img, &err), 0);
	assert_string_equal(img.config_sha256, HC);
	assert_int_equal(img.nlayers, 2);
	assert_string_equal(img.layers[0].path, "blobs/sha256/" H1);
	assert_string_equal(img.layers[1].sha256, H2);
	oci_image_fini(&img);
	json_decref(m);
}

static void test_docker_manifest(void **state)
{
	json_t *m = J(
	    "[{\"Config\": \"" HC ".json\", \"RepoTags\": [\"busybox:latest\"],"
	    " \"Layers\": [\"abc/layer.tar\", \"blobs/sha256/" H1 "\"]}]");
	struct oci_image img = {0};
	struct hull_err err = {0};
	assert_int_equal(oci_docker_manifest_parse(m, &img, &err), 0);
	assert_string_equal(img.config_sha256, HC);
	assert_string_equal(img.ref, "busybox:latest");
	assert_int_equal(img.nlayers, 2);
	assert_null(img.layers[0].sha256);
	assert_string_equal(img.layers[1].sha256, H1);
	oci_image_fini(&img);
	json_decref(m);

	static const char *const bad[] = {
	    "[{\"Config\": \"../x.json\", \"Layers\": []}]",
	    "[{\"Config\": \"/x.json\", \"Layers\": []}]",
	    "[{\"Config\": \"x.json\", \"Layers\": [\"a/../../b\"]}]",
	    "[{\"Config\": \"x.json\"}]",
	    "{}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = J(bad[i]);
		memset(&img, 0, sizeof(img));
		assert_int_equal(oci_docker_manifest_parse(m, &img, &err),
				 -EINVAL);
		oci_image_fini(&img);
		json_decref(m);
	}
}

static void test_uuid_is_deterministic_and_valid(void **state)
{
	char a[37], b[37];
	oci_uuid_from_digest(HC, a);
	oci_uuid_from_digest(HC, b);
	assert_string_equal(a, b);
	assert_true(hull_uuid_valid(a));
	assert_int_equal(a[14], '5');
	assert_non_null(strchr("89ab", a[19]));
	assert_memory_equal(a, "c0ffee00", 8);
	oci_uuid_from_digest(H1, b);
	assert_string_not_equal(a, b);
}

static void test_image_manifest_keeps_config(void **state)
{
	json_t *cfg = J("{\"architecture\": \"amd64\", \"created\":"
			" \"2024-05-06T07:08:09.123456789Z\", \"config\": {"
			" \"Entrypoint\": [\"/bin/app\"], \"Cmd\": [\"-x\"],"
			" \"Env\": [\"A=1\"], \"WorkingDir\": \"/srv\","
			" \"User\": \"app\", \"Labels\": {\"x\": \"y\"}}}");
	struct hull_err err = {0};
	json_t *m =
	    oci_image_manifest(cfg, HC, "registry.example/team/app:2.1", &err);
	if (!m)
		fail_msg("%s", err.msg);
	assert_int_equal(image_manifest_validate(m, &err), 0);
	assert_string_equal(json_string_value(json_object_get(m, "type")),
			    "docker");
	assert_string_equal(json_string_value(json_object_get(m, "name")),
			    "registry.example/team/app");
	assert_string_equal(json_string_value(json_object_get(m, "version")),
			    "2.1");
	json_t *tags = json_object_get(m, "tags");
	assert_true(json_is_true(json_object_get(tags, "docker:tag:2.1")));
	assert_string_equal(
	    json_string_value(json_object_get(tags, "docker:id")),
	    "sha256:" HC);
	json_t *dc = json_object_get(tags, "docker:config");
	assert_string_equal(
	    json_string_value(json_object_get(dc, "WorkingDir")), "/srv");
	assert_string_equal(json_string_value(json_object_get(dc, "User")),
			    "app");
	assert_int_equal(json_array_size(json_object_get(dc, "Cmd")), 1);
	assert_null(json_object_get(dc, "Labels"));
	json_decref(m);

	/* No ref, no config: still a valid image, named by its id. */
	json_t *empty = J("{\"created\": \"last tuesday\"}");
	m = oci_image_manifest(empty, HC, NULL, &err);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "version")),
			    "c0ffee00c0ff");
	assert_null(json_object_get(m, "published_at"));
	assert_true(json_is_null(json_object_get(
	    json_object_get(json_object_get(m, "tags"), "docker:config"),
	    "Entrypoint")));
	json_decref(m);
	json_decref(empty);
	json_decref(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_picks_linux_amd64),
	    cmocka_unit_test(test_manifest_layers_in_order),
	    cmocka_unit_test(test_docker_manifest),
	    cmocka_unit_test(test_uuid_is_deterministic_and_valid),
	    cmocka_unit_test(test_image_manifest_keeps_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
