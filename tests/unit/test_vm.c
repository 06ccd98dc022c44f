/*
 * test_vm.c - the payload module: property table, create/update
 * validation, defaults, update rules, filters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/err.h"
#include "lib/json.h"
#include "vm/check.h"
#include "vm/filter.h"
#include "vm/nics.h"
#include "vm/payload.h"
#include "vm/proptable.h"

#define IMG "\"image_uuid\":\"01b2c898-945f-11e1-a523-af1afbe22822\""

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	if (!j)
		fail_msg("bad test JSON %s: %s", s, je.text);
	return j;
}

/* Checks a create payload is refused with the property in bucket. */
static void refused(const char *payload, const char *bucket, const char *prop,
		    const char *msg_part)
{
	struct hull_err err = {0};
	json_t *p = J(payload);
	json_t *bad = vm_payload_check_create(p, &err);
	if (!bad)
		fail_msg("accepted: %s", payload);
	json_t *a = json_object_get(bad, bucket);
	bool found = json_is_string(a) && !strcmp(json_string_value(a), prop);
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) found =
	    found || !strcmp(json_string_value(e), prop);
	if (!found)
		fail_msg("%s not in %s for %s (%s)", prop, bucket, payload,
			 err.msg);
	assert_non_null(strstr(err.msg, prop));
	if (msg_part)
		assert_non_null(strstr(err.msg, msg_part));
	json_decref(bad);
	json_decref(p);
}

static void accepted(const char *payload)
{
	struct hull_err err = {0};
	json_t *p = J(payload);
	json_t *bad = vm_payload_check_create(p, &err);
	if (bad)
		fail_msg("refused %s: %s", payload, err.msg);
	json_decref(p);
}

static void test_table_sorted_and_found(void **state)
{
	unsigned n;
	const struct vm_prop *all = vm_prop_all(&n);
	for (unsigned i = 1; i < n; i++)
		assert_true(strcmp(all[i - 1].name, all[i].name) < 0);
	for (unsigned i = 0; i < n; i++)
		assert_ptr_equal(vm_prop_find(all[i].name), &all[i]);
	assert_null(vm_prop_find("nosuch"));
	assert_int_equal(vm_prop_find("max_swap")->min, 256);
	assert_int_equal(vm_prop_find("cpu_shares")->max, 65535);
	assert_true(vm_prop_find("kernel_version")->flags & VM_P_REQUIRED);
	assert_int_equal(vm_brand_from_name("lx"), VM_BRAND_LX);
	assert_int_equal(vm_brand_from_name("solaris"), 0);
	assert_string_equal(vm_brand_type(VM_BRAND_BHYVE), "BHYV");
}

static void test_smartos_samples_accepted(void **state)
{
	accepted("{\"brand\":\"joyent\"," IMG ",\"alias\":\"web01\","
		 "\"hostname\":\"web01\",\"max_physical_memory\":512,"
		 "\"quota\":20,\"resolvers\":[\"198.51.100.53\"],"
		 "\"nics\":[{\"nic_tag\":\"admin\",\"ip\":\"198.51.100.10\","
		 "\"netmask\":\"255.255.255.0\",\"gateway\":\"198.51.100.1\"}],"
		 "\"customer_metadata\":{\"user-script\":\"#!/bin/sh\"},"
		 "\"tags\":{\"role\":\"web\",\"prod\":true,\"tier\":3}}");
	accepted("{\"brand\":\"lx\"," IMG ",\"kernel_version\":\"4.3.0\","
		 "\"ram\":1024,\"nics\":[{\"nic_tag\":\"external\","
		 "\"ips\":[\"203.0.113.5/24\",\"addrconf\"],"
		 "\"gateways\":[\"203.0.113.1\"],\"primary\":true}]}");
	accepted("{" IMG "}");
	accepted("{\"brand\":\"joyent-minimal\",\"docker\":true," IMG
		 ",\"internal_metadata\":{\"docker:cmd\":\"[\\\"sh\\\"]\"}}");
	accepted("{\"brand\":\"kvm\",\"ram\":1024,\"vcpus\":2}");
	accepted("{\"brand\":\"joyent\"," IMG ",\"routes\":{\"10.0.0.0/8\":"
		 "\"198.51.100.1\",\"192.0.2.7\":\"nics[0]\"}}");
}

static void test_create_refusals_name_property(void **state)
{
	refused("{" IMG ",\"foo\":1}", "bad_properties", "foo", NULL);
	refused("{" IMG ",\"ram\":\"lots\"}", "bad_values", "ram", "integer");
	refused("{" IMG ",\"ram\":0}", "bad_values", "ram", NULL);
	refused("{" IMG ",\"cpu_shares\":70000}", "bad_values", "cpu_shares",
		"65535");
	refused("{" IMG ",\"max_swap\":128}", "bad_values", "max_swap", "256");
	refused("{" IMG ",\"vcpus\":2}", "bad_properties", "vcpus", "joyent");
	refused("{" IMG ",\"kernel_version\":\"3.13.0\"}", "bad_properties",
		"kernel_version", NULL);
	refused("{\"brand\":\"lx\"," IMG "}", "missing_properties",
		"kernel_version", NULL);
	refused("{\"alias\":\"x\"}", "missing_properties", "image_uuid", NULL);
	refused("{\"image_uuid\":\"nope\"}", "bad_values", "image_uuid",
		"UUID");
	refused("{" IMG ",\"autoboot\":\"yes\"}", "bad_values", "autoboot",
		NULL);
	refused("{" IMG ",\"state\":\"running\"}", "bad_properties", "state",
		NULL);
	refused("{" IMG ",\"docker\":true}", "bad_properties", "docker", NULL);
	refused("{" IMG ",\"hostname\":\"-bad\"}", "bad_values", "hostname",
		NULL);
	refused("{" IMG ",\"resolvers\":[\"8.8.8\"]}", "bad_values",
		"resolvers", NULL);
	refused("{" IMG ",\"customer_metadata\":{\"a\":1}}", "bad_values",
		"customer_metadata", NULL);
	refused("{" IMG ",\"nics\":[{\"nic_tag\":\"a\",\"vlan_id\":5000}]}",
		"bad_values", "nics", "vlan_id");
	refused("{" IMG ",\"nics\":[{\"ip\":\"192.0.2.1\"}]}", "bad_values",
		"nics", "nic_tag");
	refused("{" IMG ",\"nics\":[{\"nic_tag\":\"a\",\"primary\":true},"
		"{\"nic_tag\":\"b\",\"primary\":true}]}",
		"bad_values", "nics", "primary");
	refused("{" IMG ",\"max_physical_memory\":512,"
		"\"max_locked_memory\":1024}",
		"bad_values", "max_locked_memory", NULL);
	refused("{" IMG ",\"routes\":{\"10.0.0.0/8\":\"nowhere\"}}",
		"bad_values", "routes", NULL);
	refused("{\"brand\":\"solaris\"}", "bad_brand", "\"solaris\"", NULL);
}

/* A metadata value may be as long as the metadata protocol carries (512
 * KiB: a user-script); a tag and other strings at most 4 KiB. */
static void test_metadata_value_sizes(void **state)
{
	static const char fmt[] = "{" IMG ",\"%s\":{\"k\":\"%s\"}}";
	size_t big = 512 * 1024;
	char *v = malloc(big + 2);
	char *p = malloc(big + 128);
	memset(v, 'a', big + 1);
	v[100 * 1024] = '\0';
	snprintf(p, big + 128, fmt, "customer_metadata", v);
	accepted(p);
	v[100 * 1024] = 'a';
	v[big] = '\0';
	snprintf(p, big + 128, fmt, "internal_metadata", v);
	accepted(p);
	v[big] = 'a';
	v[big + 1] = '\0';
	snprintf(p, big + 128, fmt, "customer_metadata", v);
	refused(p, "bad_values", "customer_metadata", "524288 bytes");
	v[4097] = '\0';
	snprintf(p, big + 128, fmt, "tags", v);
	refused(p, "bad_values", "tags", "4096 bytes");
	free(p);
	free(v);
}

static void test_defaults(void **state)
{
	json_t *p = J("{" IMG ",\"ram\":512}");
	json_t *vm = vm_payload_defaults(p);
	assert_string_equal(hull_json_str(vm, "brand", ""), "joyent");
	assert_int_equal(hull_json_int(vm, "max_physical_memory", 0), 512);
	assert_int_equal(hull_json_int(vm, "max_locked_memory", 0), 512);
	assert_int_equal(hull_json_int(vm, "max_swap", 0), 512);
	assert_int_equal(hull_json_int(vm, "max_lwps", 0), 2000);
	assert_int_equal(hull_json_int(vm, "quota", 0), 10);
	assert_int_equal(hull_json_int(vm, "cpu_shares", 0), 100);
	assert_int_equal(hull_json_int(vm, "zfs_io_priority", 0), 100);
	assert_true(hull_json_bool(vm, "autoboot", false));
	assert_string_equal(hull_json_str(vm, "dns_domain", ""), "local");
	assert_string_equal(hull_json_str(vm, "owner_uuid", ""),
			    "00000000-0000-0000-0000-000000000000");
	json_decref(vm);
	json_decref(p);

	p = J("{" IMG "}");
	vm = vm_payload_defaults(p);
	assert_int_equal(hull_json_int(vm, "max_physical_memory", 0), 256);
	assert_int_equal(hull_json_int(vm, "max_swap", 0), 256);
	json_decref(vm);
	json_decref(p);

	p = J("{\"brand\":\"kvm\",\"ram\":1024}");
	vm = vm_payload_defaults(p);
	assert_int_equal(hull_json_int(vm, "max_physical_memory", 0), 2048);
	json_decref(vm);
	json_decref(p);
}

static unsigned fixed_rand(void)
{
	return 0xa1b2c3d4;
}

static void test_nics_defaults(void **state)
{
	json_t *p = J("{\"brand\":\"lx\",\"kernel_version\":\"4.3.0\"," IMG
		      ",\"nics\":[{\"nic_tag\":\"a\"},{\"nic_tag\":\"b\","
		      "\"vrrp_vrid\":7}]}");
	json_t *vm = vm_payload_defaults(p);
	vm_payload_fill_generated(vm, "2b0d1a6a-1c43-4b3e-8a55-3c8d5d4f1e90",
				  "2026-01-01T00:00:00.000Z", fixed_rand);
	json_t *n0 = json_array_get(json_object_get(vm, "nics"), 0);
	json_t *n1 = json_array_get(json_object_get(vm, "nics"), 1);
	assert_string_equal(hull_json_str(n0, "interface", ""), "eth0");
	assert_string_equal(hull_json_str(n1, "interface", ""), "eth1");
	assert_true(hull_json_bool(n0, "primary", false));
	assert_false(hull_json_bool(n1, "primary", false));
	const char *mac = hull_json_str(n0, "mac", "");
	assert_true(vm_check_mac(mac));
	assert_int_equal(mac[1], '2');
	assert_string_equal(hull_json_str(n1, "mac", ""), "00:00:5e:00:01:07");
	assert_string_equal(hull_json_str(vm, "zonename", ""),
			    "2b0d1a6a-1c43-4b3e-8a55-3c8d5d4f1e90");
	json_decref(vm);
	json_decref(p);
}

static json_t *vm_sample(void)
{
	json_t *p = J("{" IMG ",\"max_physical_memory\":512,"
		      "\"customer_metadata\":{\"a\":\"1\",\"b\":\"2\"},"
		      "\"tags\":{\"t\":\"x\"},\"alias\":\"one\"}");
	json_t *vm = vm_payload_defaults(p);
	json_decref(p);
	return vm;
}

static void update_ok(json_t *vm, const char *upd, bool *live, bool *restart)
{
	struct hull_err err = {0};
	json_t *u = J(upd);
	json_t *bad = vm_payload_check_update(u, "joyent", &err);
	if (bad)
		fail_msg("update %s refused: %s", upd, err.msg);
	if (vm_payload_apply_update(vm, u, live, restart, &err) < 0)
		fail_msg("update %s failed: %s", upd, err.msg);
	json_decref(u);
}

static void test_update_rules(void **state)
{
	json_t *vm = vm_sample();
	bool live, restart;
	update_ok(vm,
		  "{\"set_customer_metadata\":{\"c\":\"3\",\"a\":\"9\"},"
		  "\"remove_customer_metadata\":[\"b\"],"
		  "\"set_tags\":{\"n\":5},\"alias\":\"two\"}",
		  &live, &restart);
	json_t *md = json_object_get(vm, "customer_metadata");
	assert_string_equal(hull_json_str(md, "a", ""), "9");
	assert_string_equal(hull_json_str(md, "c", ""), "3");
	assert_null(json_object_get(md, "b"));
	assert_int_equal(hull_json_int(json_object_get(vm, "tags"), "n", 0), 5);
	assert_string_equal(hull_json_str(vm, "alias", ""), "two");
	assert_false(live);
	assert_false(restart);

	/* memory: raising max_physical_memory drags max_swap and the locked
	 * cap along; ram follows on OS brands */
	update_ok(vm, "{\"max_physical_memory\":1024}", &live, &restart);
	assert_true(live);
	assert_int_equal(hull_json_int(vm, "max_swap", 0), 1024);
	assert_int_equal(hull_json_int(vm, "max_locked_memory", 0), 1024);
	assert_int_equal(hull_json_int(vm, "ram", 0), 1024);
	update_ok(vm, "{\"ram\":768}", &live, &restart);
	assert_int_equal(hull_json_int(vm, "max_physical_memory", 0), 768);
	assert_int_equal(hull_json_int(vm, "max_locked_memory", 0), 768);

	/* 0 removes cpu_cap, keeps quota 0; null removes */
	update_ok(vm, "{\"cpu_cap\":100}", &live, &restart);
	assert_int_equal(hull_json_int(vm, "cpu_cap", 0), 100);
	update_ok(vm, "{\"cpu_cap\":0,\"quota\":0,\"alias\":null}", &live,
		  &restart);
	assert_null(json_object_get(vm, "cpu_cap"));
	assert_int_equal(hull_json_int(vm, "quota", -1), 0);
	assert_null(json_object_get(vm, "alias"));

	/* nics by mac */
	update_ok(vm,
		  "{\"add_nics\":[{\"nic_tag\":\"admin\",\"mac\":"
		  "\"02:00:00:00:00:01\"}]}",
		  &live, &restart);
	assert_true(restart);
	json_t *n0 = json_array_get(json_object_get(vm, "nics"), 0);
	assert_string_equal(hull_json_str(n0, "interface", ""), "net0");
	assert_true(hull_json_bool(n0, "primary", false));
	update_ok(vm,
		  "{\"update_nics\":[{\"mac\":\"02:00:00:00:00:01\","
		  "\"vlan_id\":12}]}",
		  &live, &restart);
	assert_int_equal(hull_json_int(n0, "vlan_id", 0), 12);
	update_ok(vm, "{\"remove_nics\":[\"02:00:00:00:00:01\"]}", &live,
		  &restart);
	assert_int_equal(json_array_size(json_object_get(vm, "nics")), 0);
	json_decref(vm);
}

static void update_refused(const char *upd, const char *prop)
{
	struct hull_err err = {0};
	json_t *u = J(upd);
	json_t *bad = vm_payload_check_update(u, "joyent", &err);
	if (!bad)
		fail_msg("update %s accepted", upd);
	assert_non_null(strstr(err.msg, prop));
	json_decref(bad);
	json_decref(u);
}

static void test_update_refusals(void **state)
{
	update_refused("{\"brand\":\"lx\"}", "brand");
	update_refused("{\"uuid\":\"01b2c898-945f-11e1-a523-af1afbe22822\"}",
		       "uuid");
	update_refused(
	    "{\"image_uuid\":\"01b2c898-945f-11e1-a523-af1afbe22822\"}",
	    "image_uuid");
	update_refused("{\"customer_metadata\":{}}", "customer_metadata");
	update_refused("{\"set_tags\":[1]}", "set_tags");
	update_refused("{\"remove_nics\":[\"zz\"]}", "remove_nics");
	update_refused("{\"vcpus\":2}", "vcpus");
	update_refused("{\"bogus\":2}", "bogus");
	update_refused("{\"max_lwps\":-5}", "max_lwps");

	/* a cross-property rule refuses the whole update, vm unchanged */
	json_t *vm = vm_sample();
	json_t *before = json_deep_copy(vm);
	json_t *u = J("{\"max_swap\":300}");
	bool live, restart;
	struct hull_err err = {0};
	assert_null(vm_payload_check_update(u, "joyent", &err));
	assert_int_equal(vm_payload_apply_update(vm, u, &live, &restart, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "max_swap"));
	assert_true(json_equal(vm, before));
	json_decref(u);
	json_decref(before);
	json_decref(vm);
}

static void test_from_args(void **state)
{
	char *argv[] = {"ram=512", "autoboot=false", "alias=web", "cpu_cap=x"};
	struct hull_err err;
	json_t *u = vm_payload_from_args(4, argv, &err);
	assert_non_null(u);
	assert_int_equal(hull_json_int(u, "ram", 0), 512);
	assert_true(json_is_false(json_object_get(u, "autoboot")));
	assert_string_equal(hull_json_str(u, "alias", ""), "web");
	assert_true(json_is_string(json_object_get(u, "cpu_cap")));
	json_decref(u);
	char *bad[] = {"noequals"};
	assert_null(vm_payload_from_args(1, bad, &err));
}

static bool fmatch(const char *filter, json_t *vm)
{
	struct vm_filter f;
	struct hull_err err;
	if (vm_filter_parse(filter, &f, &err) < 0)
		fail_msg("filter %s: %s", filter, err.msg);
	bool m = vm_filter_match(&f, vm);
	vm_filter_fini(&f);
	return m;
}

static void test_filters(void **state)
{
	json_t *vm = J("{\"alias\":\"web01\",\"ram\":512,\"autoboot\":true,"
		       "\"tags\":{\"role\":\"db\",\"a.b\":\"dot\"},"
		       "\"nics\":[{\"ip\":\"192.0.2.5\",\"nic_tag\":\"admin\"},"
		       "{\"ip\":\"198.51.100.9\",\"nic_tag\":\"external\"}]}");
	assert_true(fmatch("alias=web01", vm));
	assert_false(fmatch("alias=web", vm));
	assert_true(fmatch("alias=~^web", vm));
	assert_false(fmatch("alias=~^db", vm));
	assert_true(fmatch("ram=512", vm));
	assert_true(fmatch("ram>256", vm));
	assert_false(fmatch("ram<256", vm));
	assert_true(fmatch("autoboot=true", vm));
	assert_true(fmatch("tags.role=db", vm));
	assert_true(fmatch("tags.a.b=dot", vm));
	assert_true(fmatch("nics.1.nic_tag=external", vm));
	assert_false(fmatch("nics.0.nic_tag=external", vm));
	assert_true(fmatch("nics.*.ip=198.51.100.9", vm));
	assert_false(fmatch("nics.*.ip=203.0.113.1", vm));
	assert_false(fmatch("hostname=x", vm));
	json_decref(vm);

	struct vm_filter f;
	struct hull_err err;
	assert_int_equal(vm_filter_parse("bogus=1", &f, &err), -EINVAL);
	assert_int_equal(vm_filter_parse("ram>big", &f, &err), -EINVAL);
	assert_int_equal(vm_filter_parse("alias=~(", &f, &err), -EINVAL);
	assert_int_equal(vm_filter_parse("alias", &f, &err), -EINVAL);
	/* patterns that would blow up glibc's regcomp are refused */
	assert_int_equal(vm_filter_parse("alias=~a++", &f, &err), -EINVAL);
	assert_int_equal(vm_filter_parse("alias=~((a{99}){99})", &f, &err),
			 -EINVAL);
	/* many repetitions are fine when they do not multiply */
	assert_int_equal(vm_filter_parse("alias=~a*b*c*d*e*f*g*", &f, &err), 0);
	vm_filter_fini(&f);
	assert_int_equal(vm_filter_parse("alias=~(a{99})", &f, &err), 0);
	vm_filter_fini(&f);
	assert_int_equal(vm_filter_parse("alias=~^(web|db)[0-9]{2}$", &f, &err),
			 0);
	vm_filter_fini(&f);
	assert_true(vm_field_valid("max_physical_memory", true));
	assert_false(vm_field_valid("tags.x", true));
	assert_false(vm_field_valid("customer_metadata", true));
}

static void test_checks(void **state)
{
	assert_true(vm_check_hostname("a-b.example"));
	assert_false(vm_check_hostname("a..b"));
	assert_false(vm_check_hostname("a_b"));
	assert_true(vm_check_cidr("2001:db8::1/64"));
	assert_false(vm_check_cidr("192.0.2.1/33"));
	assert_false(vm_check_cidr("192.0.2.1/"));
	assert_true(vm_check_mac("02:AB:cd:00:11:22"));
	assert_false(vm_check_mac("02:AB:cd:00:11"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_sorted_and_found),
	    cmocka_unit_test(test_smartos_samples_accepted),
	    cmocka_unit_test(test_create_refusals_name_property),
	    cmocka_unit_test(test_metadata_value_sizes),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_nics_defaults),
	    cmocka_unit_test(test_update_rules),
	    cmocka_unit_test(test_update_refusals),
	    cmocka_unit_test(test_from_args),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
