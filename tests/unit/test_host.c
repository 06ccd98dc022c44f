/*
 * test_host.c - host facts: the pure helpers behind sysinfo, and the facts
 * this host must agree with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/host.h"
#include "lib/uuid.h"

static void test_machine_id_to_uuid(void **state)
{
	char u[37];
	assert_int_equal(
	    host_machine_id_to_uuid("3D1219C7C4C5404AAA1F6D2A48ADFDA4\n", u),
	    0);
	assert_string_equal(u, "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4");
	assert_int_equal(
	    host_machine_id_to_uuid("3d1219c7c4c5404aaa1f6d2a48adfda", u), -1);
	assert_int_equal(
	    host_machine_id_to_uuid("3d1219c7c4c5404aaa1f6d2a48adfda44", u),
	    -1);
	assert_int_equal(
	    host_machine_id_to_uuid("3d1219c7c4c5404aaa1f6d2a48adfdaz", u), -1);
	assert_int_equal(host_machine_id_to_uuid("", u), -1);
}

static void test_cmdline_parse(void **state)
{
	json_t *o =
	    host_cmdline_parse("console=ttyS0 quiet  a=b=c\n -- init-arg x=1");
	assert_int_equal(json_object_size(o), 3);
	assert_string_equal(json_string_value(json_object_get(o, "console")),
			    "ttyS0");
	assert_string_equal(json_string_value(json_object_get(o, "quiet")), "");
	assert_string_equal(json_string_value(json_object_get(o, "a")), "b=c");
	json_decref(o);
	o = host_cmdline_parse(NULL);
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
}

static void test_flatten(void **state)
{
	json_t *o = json_pack("{s:s, s:i, s:b, s:{s:{s:s, s:[s,s]}}}",
			      "Host Name", "it's", "CPU Total Cores", 4,
			      "HVM API", 1, "Network Interfaces", "eth0",
			      "MAC Address", "02:00:00:00:00:01",
			      "IPv4 Addresses", "192.0.2.1", "192.0.2.2");
	char *t = host_sysinfo_flatten(o);
	assert_non_null(strstr(t, "Host_Name='it'\\''s'\n"));
	assert_non_null(strstr(t, "CPU_Total_Cores='4'\n"));
	assert_non_null(strstr(t, "HVM_API='true'\n"));
	assert_non_null(strstr(
	    t, "Network_Interfaces_eth0_MAC_Address='02:00:00:00:00:01'\n"));
	assert_non_null(strstr(
	    t,
	    "Network_Interfaces_eth0_IPv4_Addresses='192.0.2.1,192.0.2.2'\n"));
	free(t);
	json_decref(o);
}

static void test_collect_has_the_core_facts(void **state)
{
	struct hull_err err = {0};
	json_t *o = host_sysinfo_collect(&err);
	assert_non_null(o);
	assert_true(
	    hull_uuid_valid(json_string_value(json_object_get(o, "UUID"))));
	assert_int_equal(
	    json_integer_value(json_object_get(o, "CPU Total Cores")),
	    sysconf(_SC_NPROCESSORS_ONLN));
	const char *layout =
	    json_string_value(json_object_get(o, "Cgroup Layout"));
	assert_true(!strcmp(layout, "v1") || !strcmp(layout, "hybrid") ||
		    !strcmp(layout, "v2"));
	assert_true(json_is_object(json_object_get(o, "Network Interfaces")));
	json_decref(o);
	/* Stable across calls. */
	char a[37], b[37];
	assert_int_equal(host_uuid_get(a, &err), 0);
	assert_int_equal(host_uuid_get(b, &err), 0);
	assert_string_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_machine_id_to_uuid),
	    cmocka_unit_test(test_cmdline_parse),
	    cmocka_unit_test(test_flatten),
	    cmocka_unit_test(test_collect_has_the_core_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
