/*
 * test_metadata_resolve.c - metadata key resolution, the PUT/DELETE rules,
 * one request answered end to end (dispatch) and the record-file store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/xalloc.h"
#include "metadata/dispatch.h"
#include "metadata/resolve.h"
#include "metadata/store.h"

static const char *record_text =
    "{\"uuid\": \"4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b\","
    " \"alias\": \"web0\", \"hostname\": \"web0\","
    " \"owner_uuid\": \"930896af-bf8c-48d4-885c-6573a94b1853\","
    " \"server_uuid\": \"44454c4c-5000-104d-8037-b7c04f5a5131\","
    " \"datacenter_name\": \"us-test-1\", \"dns_domain\": \"example.com\","
    " \"max_physical_memory\": 512, \"do_not_inventory\": false,"
    " \"tmpfs\": 256,"
    " \"zonepath\": \"/zones/4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b\","
    " \"customer_metadata\": {\"user-script\": \"#!/bin/sh\\necho hi\\n\","
    "   \"root_authorized_keys\": \"ssh-ed25519 AAAA test\","
    "   \"cloud-init:user-data\": \"#cloud-config\\n\","
    "   \"root_pw\": \"shadowed\", \"secret:x\": \"shadowed\","
    "   \"num\": 5, \"obj\": {\"a\": 1}},"
    " \"internal_metadata\": {\"operator-script\": \"#!/bin/sh\\ntrue\\n\","
    "   \"sdc:volumes\": \"[]\", \"admin_pw\": \"pw1\","
    "   \"secret:x\": \"s3cr3t\", \"hidden:y\": \"no\", \"plain\": \"no\"},"
    " \"internal_metadata_namespaces\": [\"secret\"],"
    " \"tags\": {\"role\": \"web\", \"n\": 3},"
    " \"resolvers\": [\"192.0.2.53\", \"192.0.2.54\"],"
    " \"nics\": [{\"mac\": \"02:00:00:00:00:01\", \"interface\": \"net0\","
    "   \"ips\": [\"192.0.2.10/24\"], \"primary\": true,"
    "   \"gateways\": [\"192.0.2.1\"]},"
    "  {\"mac\": \"02:00:00:00:00:02\", \"interface\": \"net1\","
    "   \"ip\": \"198.51.100.7\", \"netmask\": \"255.255.255.0\"},"
    "  {\"mac\": \"02:00:00:00:00:03\", \"interface\": \"net2\","
    "   \"ips\": [\"dhcp\"]}],"
    " \"routes\": {\"203.0.113.0/24\": \"nics[1]\","
    "   \"198.51.100.128/25\": \"macs[02:00:00:00:00:01]\","
    "   \"192.0.2.128/25\": \"192.0.2.254\","
    "   \"10.0.0.0/8\": \"nics[2]\", \"10.1.0.0/16\": \"nics[9]\"}}";

static json_t *record(void)
{
	json_t *j = json_loads(record_text, 0, NULL);
	assert_non_null(j);
	return j;
}

static void expect(json_t *vm, const char *key, enum metadata_status st,
		   const char *want)
{
	char *v;
	size_t n;
	assert_int_equal(metadata_resolve(vm, key, &v, &n), st);
	if (want) {
		assert_non_null(v);
		assert_string_equal(v, want);
		assert_int_equal(n, strlen(want));
	} else if (st == METADATA_NOTFOUND) {
		assert_null(v);
	}
	free(v);
}

static void test_sdc_scalars(void **state)
{
	json_t *vm = record();
	expect(vm, "sdc:uuid", METADATA_SUCCESS,
	       "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b");
	expect(vm, "sdc:hostname", METADATA_SUCCESS, "web0");
	expect(vm, "sdc:alias", METADATA_SUCCESS, "web0");
	expect(vm, "sdc:owner_uuid", METADATA_SUCCESS,
	       "930896af-bf8c-48d4-885c-6573a94b1853");
	expect(vm, "sdc:server_uuid", METADATA_SUCCESS,
	       "44454c4c-5000-104d-8037-b7c04f5a5131");
	expect(vm, "sdc:datacenter_name", METADATA_SUCCESS, "us-test-1");
	expect(vm, "sdc:dns_domain", METADATA_SUCCESS, "example.com");
	expect(vm, "sdc:max_physical_memory", METADATA_SUCCESS, "512");
	expect(vm, "sdc:do_not_inventory", METADATA_SUCCESS, "false");
	expect(vm, "sdc:image_uuid", METADATA_NOTFOUND, NULL);
	/* Walking maps and arrays. */
	expect(vm, "sdc:nics.0.mac", METADATA_SUCCESS, "02:00:00:00:00:01");
	expect(vm, "sdc:nics.1.interface", METADATA_SUCCESS, "net1");
	expect(vm, "sdc:nics.0.ips.0", METADATA_SUCCESS, "192.0.2.10/24");
	expect(vm, "sdc:nics.7.mac", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:nics.-1.mac", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:nics.x.mac", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:nics.0", METADATA_FAILURE, NULL);
	expect(vm, "sdc:uuid.x", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:tags.role", METADATA_SUCCESS, "web");
	expect(vm, "sdc:tags.n", METADATA_SUCCESS, "3");
	expect(vm, "sdc:tags.none", METADATA_NOTFOUND, NULL);
	/* Never outside the allow list: internal data, host paths. */
	expect(vm, "sdc:internal_metadata.secret:x", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:internal_metadata", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:customer_metadata.user-script", METADATA_NOTFOUND,
	       NULL);
	expect(vm, "sdc:zonepath", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:", METADATA_NOTFOUND, NULL);
	json_decref(vm);
}

static void test_sdc_json_keys(void **state)
{
	json_t *vm = record();
	char *v;
	size_t n;

	assert_int_equal(metadata_resolve(vm, "sdc:nics", &v, &n),
			 METADATA_SUCCESS);
	json_t *nics = json_loads(v, 0, NULL);
	assert_true(json_equal(nics, json_object_get(vm, "nics")));
	json_decref(nics);
	free(v);
	expect(vm, "sdc:resolvers", METADATA_SUCCESS,
	       "[\"192.0.2.53\",\"192.0.2.54\"]");
	expect(vm, "sdc:tmpfs", METADATA_SUCCESS, "256");
	expect(vm, "sdc:tags", METADATA_SUCCESS, "{\"role\":\"web\",\"n\":3}");
	expect(vm, "sdc:operator-script", METADATA_SUCCESS,
	       "#!/bin/sh\ntrue\n");
	expect(vm, "sdc:volumes", METADATA_SUCCESS, "[]");
	/* Routes: nics[N] and macs[..] become that nic's address,
	 * link-local; dhcp or missing nics are skipped (spec §3.6). */
	expect(vm, "sdc:routes", METADATA_SUCCESS,
	       "[{\"dst\":\"203.0.113.0/24\",\"gateway\":\"198.51.100.7\","
	       "\"linklocal\":true},"
	       "{\"dst\":\"198.51.100.128/25\",\"gateway\":\"192.0.2.10\","
	       "\"linklocal\":true},"
	       "{\"dst\":\"192.0.2.128/25\",\"gateway\":\"192.0.2.254\","
	       "\"linklocal\":false}]");
	json_decref(vm);

	/* An instance without these properties. */
	vm = json_pack("{s:s}", "uuid", "u");
	expect(vm, "sdc:nics", METADATA_SUCCESS, "[]");
	expect(vm, "sdc:resolvers", METADATA_SUCCESS, "[]");
	expect(vm, "sdc:routes", METADATA_SUCCESS, "[]");
	expect(vm, "sdc:tags", METADATA_SUCCESS, "{}");
	expect(vm, "sdc:tmpfs", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:operator-script", METADATA_NOTFOUND, NULL);
	expect(vm, "user-script", METADATA_NOTFOUND, NULL);
	expect(vm, "sdc:vendor-data", METADATA_NOTFOUND, NULL);
	json_decref(vm);
}

static void test_customer_and_internal_keys(void **state)
{
	json_t *vm = record();
	expect(vm, "user-script", METADATA_SUCCESS, "#!/bin/sh\necho hi\n");
	expect(vm, "cloud-init:user-data", METADATA_SUCCESS, "#cloud-config\n");
	expect(vm, "root_authorized_keys", METADATA_SUCCESS,
	       "ssh-ed25519 AAAA test");
	expect(vm, "num", METADATA_SUCCESS, "5");
	expect(vm, "obj", METADATA_FAILURE, NULL);
	expect(vm, "missing", METADATA_NOTFOUND, NULL);
	/* _pw and readable namespaces come from internal_metadata. */
	expect(vm, "admin_pw", METADATA_SUCCESS, "pw1");
	expect(vm, "root_pw", METADATA_NOTFOUND, NULL);
	expect(vm, "secret:x", METADATA_SUCCESS, "s3cr3t");
	/* Internal keys outside the readable namespaces are never served. */
	expect(vm, "hidden:y", METADATA_NOTFOUND, NULL);
	expect(vm, "plain", METADATA_NOTFOUND, NULL);
	expect(vm, "operator-script", METADATA_NOTFOUND, NULL);
	json_decref(vm);
}

static void test_keys_listing(void **state)
{
	json_t *vm = record();
	size_t n;
	char *keys = metadata_keys(vm, &n);
	assert_string_equal(keys, "user-script\nroot_authorized_keys\n"
				  "cloud-init:user-data\nnum\nobj\n"
				  "admin_pw\nsecret:x");
	assert_int_equal(n, strlen(keys));
	free(keys);
	json_decref(vm);
	vm = json_object();
	keys = metadata_keys(vm, &n);
	assert_string_equal(keys, "");
	free(keys);
	json_decref(vm);
}

static void test_put_delete_rules(void **state)
{
	json_t *vm = record();
	json_t *before = json_deep_copy(vm);
	char *msg;

	assert_int_equal(metadata_apply(vm, "sdc:uuid", "x", 1, &msg),
			 METADATA_FAILURE);
	assert_string_equal(msg, "Cannot update the \"sdc\" Namespace.");
	free(msg);
	assert_int_equal(metadata_apply(vm, "secret:x", "x", 1, &msg),
			 METADATA_FAILURE);
	assert_string_equal(msg, "Cannot update the \"secret\" Namespace.");
	free(msg);
	assert_int_equal(metadata_apply(vm, "secret:x", NULL, 0, &msg),
			 METADATA_FAILURE);
	free(msg);
	assert_int_equal(metadata_apply(vm, "sdc:alias", NULL, 0, &msg),
			 METADATA_FAILURE);
	free(msg);
	assert_int_equal(metadata_apply(vm, "operator-script", "x", 1, &msg),
			 METADATA_FAILURE);
	free(msg);
	assert_int_equal(metadata_apply(vm, "bad", "\xff\xfe", 2, &msg),
			 METADATA_FAILURE);
	free(msg);
	assert_true(json_equal(vm, before));

	assert_int_equal(metadata_apply(vm, "foo", "bar baz", 7, &msg),
			 METADATA_SUCCESS);
	assert_null(msg);
	expect(vm, "foo", METADATA_SUCCESS, "bar baz");
	assert_int_equal(metadata_apply(vm, "new_pw", "pw2", 3, &msg),
			 METADATA_SUCCESS);
	assert_string_equal(
	    hull_json_str(json_object_get(vm, "internal_metadata"), "new_pw",
			  ""),
	    "pw2");
	assert_null(json_object_get(json_object_get(vm, "customer_metadata"),
				    "new_pw"));
	assert_int_equal(metadata_apply(vm, "foo", NULL, 0, &msg),
			 METADATA_SUCCESS);
	expect(vm, "foo", METADATA_NOTFOUND, NULL);
	/* Deleting a missing key succeeds (spec §3.5). */
	assert_int_equal(metadata_apply(vm, "foo", NULL, 0, &msg),
			 METADATA_SUCCESS);
	json_decref(before);
	json_decref(vm);

	/* A record without customer_metadata gets one. */
	vm = json_object();
	assert_int_equal(metadata_apply(vm, "k", "v", 1, &msg),
			 METADATA_SUCCESS);
	expect(vm, "k", METADATA_SUCCESS, "v");
	json_decref(vm);
}

static void test_put_total_size_bound(void **state)
{
	json_t *vm = json_object();
	char *msg;
	size_t chunk = 400 * 1024;
	char *big = xmalloc(chunk);
	memset(big, 'x', chunk);
	int i;
	for (i = 0; i < 100; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		if (metadata_apply(vm, key, big, chunk, &msg) !=
		    METADATA_SUCCESS)
			break;
	}
	/* each entry: "kN" and the quoted value, as the file holds them */
	assert_int_equal(i, METADATA_RECORD_MAX / (chunk + 6));
	assert_string_equal(msg, "Metadata too large");
	free(msg);
	/* Replacing a value with a smaller one is always allowed. */
	assert_int_equal(metadata_apply(vm, "k0", "y", 1, &msg),
			 METADATA_SUCCESS);
	free(big);
	json_decref(vm);
}

/* The bound counts what the record file holds: a value of control
 * characters is six bytes each there ("\u0001"), so 400 KiB of them
 * (2.4 MiB in the file) is over the 2 MiB bound although 400 KiB of
 * letters is not. */
static void test_put_size_counts_json_escapes(void **state)
{
	json_t *vm = json_object();
	char *msg;
	size_t n = 400 * 1024;
	char *v = xmalloc(n);
	memset(v, 0x01, n);
	assert_int_equal(metadata_apply(vm, "k", v, n, &msg), METADATA_FAILURE);
	assert_string_equal(msg, "Metadata too large");
	free(msg);
	assert_null(
	    json_object_get(json_object_get(vm, "customer_metadata"), "k"));
	memset(v, 'x', n);
	assert_int_equal(metadata_apply(vm, "k", v, n, &msg), METADATA_SUCCESS);
	/* and a quote or a backslash is two bytes */
	memset(v, '"', n);
	assert_int_equal(metadata_apply(vm, "k2", v, n, &msg),
			 METADATA_SUCCESS);
	assert_int_equal(metadata_apply(vm, "k3", v, n, &msg),
			 METADATA_SUCCESS);
	assert_int_equal(metadata_apply(vm, "k4", v, n, &msg),
			 METADATA_FAILURE);
	free(msg);
	free(v);
	json_decref(vm);
}

/* An in-memory store for dispatch. */
struct memstore {
	json_t *vm;
	int writes;
};

static json_t *mem_read(void *ctx, struct hull_err *err)
{
	return json_incref(((struct memstore *)ctx)->vm);
}

static int mem_modify(void *ctx, int (*edit)(json_t *, void *), void *arg,
		      struct hull_err *err)
{
	struct memstore *m = ctx;
	json_t *copy = json_deep_copy(m->vm);
	int r = edit(copy, arg);
	if (r == 0) {
		json_decref(m->vm);
		m->vm = copy;
		m->writes++;
	} else {
		json_decref(copy);
	}
	return r;
}

static void roundtrip(struct metadata_store *st, const char *line,
		      const char *want)
{
	struct metadata_buf out = {0};
	struct hull_err err = {0};
	assert_int_equal(metadata_dispatch(st, line, strlen(line), &out, &err),
			 0);
	assert_non_null(out.data);
	assert_string_equal(out.data, want);
	metadata_buf_fini(&out);
}

static void test_dispatch_worked_example(void **state)
{
	struct memstore m = {.vm = record()};
	struct metadata_store st = {mem_read, mem_modify, &m};

	roundtrip(&st, "NEGOTIATE V2", "V2_OK\n");
	roundtrip(&st, "V2 25 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=",
		  "V2 65 3695fa49 8c2a91f0 SUCCESS "
		  "NGYyYjFjM2UtNmE3ZC00ZThmLTlhMGItMWMyZDNlNGY1YTZi\n");
	roundtrip(&st, "V2 37 a369e757 8c2a91f0 PUT Wm05diBZbUZ5SUdKaGVnPT0=",
		  "V2 21 dabf1d7c 8c2a91f0 SUCCESS T0s=\n");
	assert_int_equal(m.writes, 1);
	roundtrip(&st, "GET foo", "SUCCESS\nbar baz\n.\n");
	roundtrip(&st, "V2 20 4dbe7744 8c2a91f0 DELETE Zm9v",
		  "V2 21 dabf1d7c 8c2a91f0 SUCCESS T0s=\n");
	roundtrip(&st, "GET foo", "NOTFOUND\n");
	/* PUT sdc:uuid = "x": refused with the spec's exact frame. */
	struct metadata_buf req = {0};
	metadata_frame_v2(&req, "8c2a91f0", "PUT", "c2RjOnV1aWQ= eA==", 17);
	req.data[--req.len] = '\0';
	roundtrip(&st, req.data,
		  "V2 65 2fc64522 8c2a91f0 FAILURE "
		  "Q2Fubm90IHVwZGF0ZSB0aGUgInNkYyIgTmFtZXNwYWNlLg==\n");
	metadata_buf_fini(&req);
	assert_int_equal(m.writes, 2);
	/* Errors each get the protocol's answer. */
	roundtrip(&st, "", "invalid command\n");
	roundtrip(&st, "PUT foo bar", "invalid command\n");
	roundtrip(&st, "V2 25 c4192fce 8c2a91f0 GET c2RjOnV1aWQ=",
		  "invalid command\n");
	roundtrip(&st, "NEGOTIATE V9", "FAILURE\n");
	roundtrip(&st, "GET sdc:nics.0", "FAILURE\n");
	roundtrip(&st, "KEYS",
		  "SUCCESS\nuser-script\nroot_authorized_keys\n"
		  "cloud-init:user-data\nnum\nobj\nadmin_pw\nsecret:x\n.\n");
	json_decref(m.vm);
}

static void test_file_store(void **state)
{
	char dir[] = "/tmp/hull-md-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/vm.json", dir);
	json_t *vm = record();
	assert_int_equal(hull_json_save_file(path, vm, NULL), 0);

	struct metadata_file_store *fs = metadata_file_store_new(path);
	struct metadata_store st;
	struct hull_err err;
	metadata_file_store_bind(fs, &st);
	roundtrip(&st, "GET sdc:alias", "SUCCESS\nweb0\n.\n");

	/* vmadm update rewrites the file: the next GET sees it. */
	json_object_set_new(vm, "alias", json_string("web1"));
	assert_int_equal(hull_json_save_file(path, vm, NULL), 0);
	roundtrip(&st, "GET sdc:alias", "SUCCESS\nweb1\n.\n");

	/* PUT is durable: in the file, under the lock beside it. */
	roundtrip(&st, "V2 37 a369e757 8c2a91f0 PUT Wm05diBZbUZ5SUdKaGVnPT0=",
		  "V2 21 dabf1d7c 8c2a91f0 SUCCESS T0s=\n");
	json_t *disk = hull_json_load_file(path, &err);
	assert_non_null(disk);
	assert_string_equal(
	    hull_json_str(json_object_get(disk, "customer_metadata"), "foo",
			  ""),
	    "bar baz");
	assert_string_equal(hull_json_str(disk, "alias", ""), "web1");
	json_decref(disk);
	char *lock = xasprintf("%s/.lock", dir);
	assert_true(hull_path_exists(lock));

	/* Writes are rate-bounded: with no refill, the burst is all. */
	metadata_file_store_set_rate(fs, 0, 2);
	roundtrip(&st, "V2 20 4dbe7744 8c2a91f0 DELETE Zm9v",
		  "V2 21 dabf1d7c 8c2a91f0 SUCCESS T0s=\n");
	roundtrip(&st, "V2 20 4dbe7744 8c2a91f0 DELETE Zm9v",
		  "V2 21 dabf1d7c 8c2a91f0 SUCCESS T0s=\n");
	struct metadata_buf busy = {0};
	assert_true(metadata_dispatch(&st,
				      "V2 20 4dbe7744 8c2a91f0 DELETE Zm9v", 35,
				      &busy, &err) == -EBUSY);
	struct metadata_response resp;
	assert_int_equal(
	    metadata_response_parse(busy.data, busy.len - 1, &resp), 0);
	assert_int_equal(resp.status, METADATA_FAILURE);
	assert_string_equal(resp.payload, "Instance busy, try again");
	metadata_response_fini(&resp);
	metadata_buf_fini(&busy);
	metadata_file_store_set_rate(fs, 20, 200);

	/* A record that cannot be read: FAILURE, and the caller hears why. */
	unlink(path);
	struct metadata_buf out = {0};
	assert_true(metadata_dispatch(&st, "GET sdc:alias", 13, &out, &err) <
		    0);
	assert_string_equal(out.data, "FAILURE\n");
	assert_non_null(strstr(err.msg, "vm.json"));
	metadata_buf_fini(&out);

	metadata_file_store_free(fs);
	json_decref(vm);
	unlink(lock);
	rmdir(dir);
	free(lock);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sdc_scalars),
	    cmocka_unit_test(test_sdc_json_keys),
	    cmocka_unit_test(test_customer_and_internal_keys),
	    cmocka_unit_test(test_keys_listing),
	    cmocka_unit_test(test_put_delete_rules),
	    cmocka_unit_test(test_put_total_size_bound),
	    cmocka_unit_test(test_put_size_counts_json_escapes),
	    cmocka_unit_test(test_dispatch_worked_example),
	    cmocka_unit_test(test_file_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
