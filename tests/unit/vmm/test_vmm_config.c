/*
 * test_vmm_config.c - hull-vmm's option and JSON parsing: accepted forms,
 * ranges, and the one-line messages for bad values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/config.h"

static int parse(struct vmm_config *c, struct hull_err *err, ...)
{
	char *argv[32] = {"hull-vmm"};
	int argc = 1;
	va_list ap;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	char *text = NULL;
	vmm_config_init(c);
	int r = vmm_config_parse_args(c, argc, argv, &text, err);
	free(text);
	return r;
}

static void test_sizes(void **state)
{
	struct hull_err err;
	uint64_t v;
	assert_int_equal(vmm_parse_size("512", &v, &err), 0);
	assert_true(v == 512ull << 20);
	assert_int_equal(vmm_parse_size("2G", &v, &err), 0);
	assert_true(v == 2ull << 30);
	assert_int_equal(vmm_parse_size("64MiB", &v, &err), 0);
	assert_true(v == 64ull << 20);
	assert_int_equal(vmm_parse_size("4k", &v, &err), 0);
	assert_true(v == 4096);
	assert_int_equal(vmm_parse_size("1T", &v, &err), 0);
	assert_int_equal(vmm_parse_size("", &v, &err), -EINVAL);
	assert_int_equal(vmm_parse_size("M", &v, &err), -EINVAL);
	assert_int_equal(vmm_parse_size("12Q", &v, &err), -EINVAL);
	assert_string_equal(err.msg, "not a size: '12Q'");
	assert_int_equal(vmm_parse_size("99999999999999999999G", &v, &err),
			 -EINVAL);
	assert_int_equal(vmm_parse_size("17179869184T", &v, &err), -ERANGE);
}

static void test_mac(void **state)
{
	struct hull_err err;
	uint8_t mac[6];
	assert_int_equal(vmm_parse_mac("02:00:5E:10:00:42", mac, &err), 0);
	assert_int_equal(mac[0], 2);
	assert_int_equal(mac[5], 0x42);
	assert_int_equal(vmm_parse_mac("02:00:5e:10:00", mac, &err), -EINVAL);
	assert_int_equal(vmm_parse_mac("02:00:5e:10:00:4", mac, &err), -EINVAL);
	assert_int_equal(vmm_parse_mac("02-00-5e-10-00-42", mac, &err),
			 -EINVAL);
	assert_int_equal(vmm_parse_mac("02:00:5e:10:00:4g", mac, &err),
			 -EINVAL);
	assert_int_equal(vmm_parse_mac("03:00:00:00:00:01", mac, &err),
			 -EINVAL);
	assert_string_equal(err.msg,
			    "MAC address is multicast: '03:00:00:00:00:01'");
	assert_int_equal(vmm_parse_mac("00:00:00:00:00:00", mac, &err),
			 -EINVAL);
}

static void test_disk_and_net(void **state)
{
	struct hull_err err;
	struct vmm_disk_config d;
	struct vmm_net_config n;
	assert_int_equal(vmm_parse_disk("a.img,ro,serial=xyz", &d, &err), 0);
	assert_string_equal(d.path, "a.img");
	assert_true(d.readonly);
	assert_string_equal(d.serial, "xyz");
	free(d.path);
	assert_int_equal(
	    vmm_parse_disk("a.img,serial=123456789012345678901", &d, &err),
	    -EINVAL);
	assert_null(d.path);
	assert_int_equal(
	    vmm_parse_net("tap=t0,mac=02:00:00:00:00:01", &n, &err), 0);
	assert_string_equal(n.tap, "t0");
	assert_true(n.has_mac);
	free(n.tap);
	assert_int_equal(vmm_parse_net("fd=7", &n, &err), 0);
	assert_int_equal(n.fd, 7);
	assert_int_equal(vmm_parse_net("fd=7,tap=x", &n, &err), -EINVAL);
	assert_null(n.tap);
	assert_int_equal(vmm_parse_net("", &n, &err), -EINVAL);
}

static void test_args(void **state)
{
	struct vmm_config c;
	struct hull_err err;
	assert_int_equal(parse(&c, &err, "--memory", "1G", "--cpus", "4",
			       "--kernel", "k", "--disk", "a", "--disk", "b,ro",
			       "--rng", "--cmdline", "x y", NULL),
			 0);
	assert_true(c.memory == 1ull << 30);
	assert_int_equal(c.cpus, 4);
	assert_int_equal(c.n_disks, 2);
	assert_true(c.rng);
	assert_string_equal(c.cmdline, "x y");
	assert_int_equal(vmm_config_validate(&c, &err), 0);
	vmm_config_fini(&c);

	assert_int_equal(parse(&c, &err, "--cpus", "65", NULL), -ERANGE);
	assert_string_equal(err.msg, "cpus: '65' is out of range (1 to 64)");
	vmm_config_fini(&c);
	assert_int_equal(parse(&c, &err, "--memory", "9M", NULL), -EINVAL);
	assert_string_equal(err.msg, "memory: '9M' is not a multiple of 2M");
	vmm_config_fini(&c);
	assert_int_equal(parse(&c, &err, "--nope", NULL), -EINVAL);
	vmm_config_fini(&c);
	assert_int_equal(parse(&c, &err, "--disk", "a", "--disk", "a",
			       "--kernel", "k", NULL),
			 0);
	assert_int_equal(vmm_config_validate(&c, &err), -EBUSY);
	vmm_config_fini(&c);
	assert_int_equal(parse(&c, &err, "--disk", "a,ro", "--disk", "a,ro",
			       "--kernel", "k", NULL),
			 0);
	assert_int_equal(vmm_config_validate(&c, &err), 0);
	vmm_config_fini(&c);
	assert_int_equal(parse(&c, &err, NULL), 0);
	assert_int_equal(vmm_config_validate(&c, &err), -EINVAL);
	vmm_config_fini(&c);
}

static int apply(struct vmm_config *c, const char *json, struct hull_err *err)
{
	vmm_config_init(c);
	return vmm_config_apply_json(c, json, strlen(json), err);
}

static void test_json(void **state)
{
	struct vmm_config c;
	struct hull_err err;
	assert_int_equal(
	    apply(&c,
		  "{\"memory\": 128, \"cpus\": 2, \"kernel\": \"k\","
		  " \"disks\": [{\"path\": \"d\", \"readonly\": true, "
		  "\"serial\": \"s\"}],"
		  " \"nets\": [{\"tap\": \"t0\", \"mac\": "
		  "\"02:00:00:00:00:09\"}],"
		  " \"console\": \"unix:/run/c\", \"control\": \"unix:/run/x\","
		  " \"uuid\": \"5b1e0b6a-8a0c-4a5e-9c9f-2f3b3a9f0e01\", "
		  "\"rng\": true}",
		  &err),
	    0);
	assert_true(c.memory == 128ull << 20);
	assert_int_equal(c.cpus, 2);
	assert_int_equal(c.n_disks, 1);
	assert_true(c.disks[0].readonly);
	assert_int_equal(c.n_nets, 1);
	assert_int_equal(c.nets[0].mac[5], 9);
	assert_int_equal(c.console, VMM_CONSOLE_UNIX);
	assert_string_equal(c.console_path, "/run/c");
	vmm_config_fini(&c);

	static const struct {
		const char *json, *msg;
	} bad[] = {
	    {"{\"cpus\": 0}", "config: cpus: '0' is out of range (1 to 64)"},
	    {"{\"cpus\": 1.5}", "config: cpus: must be an integer"},
	    {"{\"memory\": \"1X\"}", "config: memory: not a size: '1X'"},
	    {"{\"disks\": [{\"path\": 1}]}",
	     "config: disks[].path: must be a string"},
	    {"{\"nets\": [{\"tap\": \"a\", \"fd\": 4}]}",
	     "config: nets[0]: give exactly one of tap or fd"},
	    {"{\"x\": 1}", "config: unknown field 'x'"},
	    {"{\"kernel\": \"a\", \"kernel\": \"b\"}", NULL},
	    {"[1]", "config: must be a JSON object"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(apply(&c, bad[i].json, &err) < 0);
		if (bad[i].msg)
			assert_string_equal(err.msg, bad[i].msg);
		vmm_config_fini(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),	 cmocka_unit_test(test_mac),
	    cmocka_unit_test(test_disk_and_net), cmocka_unit_test(test_args),
	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
