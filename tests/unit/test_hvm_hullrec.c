/*
 * test_hvm_hullrec.c - the double hull's part of an instance record.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "hvm/hullrec.h"

#define UUID "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

static json_t *rec(const char *text)
{
	json_error_t je;
	json_t *vm = json_loads(text, 0, &je);
	assert_non_null(vm);
	return vm;
}

/* Keeps the typed instance the hull borrows from until the next call. */
static struct inst inst;

static int hull_of(json_t *vm, struct hvm_hull *h, struct hull_err *err)
{
	inst_fini(&inst);
	int r = inst_parse(vm, &inst, err);
	return r < 0 ? r : hvm_hull_from_inst(&inst, h, err);
}

static void test_record(void **state)
{
	json_t *vm =
	    rec("{\"uuid\": \"" UUID "\", \"ram\": 1024, \"cpu_cap\": 150,"
		" \"disks\": [{\"path\": \"/zones/" UUID "/disks/disk0.img\","
		" \"boot\": true}, {\"path\": \"/zones/" UUID "/cd.iso\","
		" \"media\": \"cdrom\"}, {\"path\": \"/zones/d2\","
		" \"read_only\": true}]}");
	struct hvm_hull h = {0};
	struct hull_err err = {0};
	assert_int_equal(hull_of(vm, &h, &err), 0);
	assert_string_equal(h.uuid, UUID);
	assert_int_equal(h.ram_mib, 1024);
	assert_int_equal(h.cpu_cap, 150);
	assert_int_equal(h.nfiles, 3);
	assert_string_equal(h.files[0].path, "/zones/" UUID "/disks/disk0.img");
	assert_true(h.files[0].rw);
	assert_false(h.files[1].rw);
	assert_false(h.files[2].rw);
	/* every disk is the instance's own, handed to its uid */
	assert_true(h.files[0].own && h.files[1].own && h.files[2].own);
	assert_int_equal(h.uid, 0); /* no hull_userns: root, as before */
	assert_int_equal(h.gid, 0);
	json_decref(vm);

	vm = rec("{\"uuid\": \"" UUID "\", \"hull_userns\": {\"uid\": "
		 "2147549184, \"gid\": 2147614720, \"count\": 65536}}");
	memset(&h, 0, sizeof(h));
	assert_int_equal(hull_of(vm, &h, &err), 0);
	assert_int_equal(h.uid, 2147549184u);
	assert_int_equal(h.gid, 2147614720u);
	json_decref(vm);

	vm = rec("{\"uuid\": \"" UUID "\"}");
	memset(&h, 0, sizeof(h));
	assert_int_equal(hull_of(vm, &h, &err), 0);
	assert_int_equal(h.ram_mib, 256);
	assert_int_equal(h.cpu_cap, 0);
	assert_int_equal(h.nfiles, 0);
	json_decref(vm);
}

static void refused(const char *text, const char *msg)
{
	json_t *vm = rec(text);
	struct hvm_hull h = {0};
	struct hull_err err = {0};
	assert_int_equal(hull_of(vm, &h, &err), -EINVAL);
	if (!strstr(err.msg, msg))
		fail_msg("'%s' does not contain '%s'", err.msg, msg);
	json_decref(vm);
}

static void test_refused(void **state)
{
	refused("{}", "uuid: must be a UUID");
	refused("{\"uuid\": \"x\"}", "uuid: must be a UUID");
	refused("{\"uuid\": \"" UUID "\", \"ram\": \"1G\"}", "ram: must be");
	refused("{\"uuid\": \"" UUID "\", \"cpu_cap\": -1}",
		"cpu_cap: must be");
	refused("{\"uuid\": \"" UUID "\", \"disks\": {}}",
		"disks: must be an array");
	refused("{\"uuid\": \"" UUID "\", \"disks\": [{\"path\": \"d.img\"}]}",
		"disks.0.path: must be an absolute path");
	refused("{\"uuid\": \"" UUID "\", \"disks\": [{}]}",
		"disks.0.path: must be an absolute path");
	refused("{\"uuid\": \"" UUID "\", \"hull_userns\": 5}",
		"hull_userns: must hold");
	refused("{\"uuid\": \"" UUID "\", \"hull_userns\": {\"uid\": 0, "
		"\"gid\": 0}}",
		"hull_userns: must hold");
	refused("{\"uuid\": \"" UUID "\", \"hull_userns\": {\"uid\": 7}}",
		"hull_userns: must hold");
	refused("{\"uuid\": \"" UUID "\", \"hull_userns\": {\"uid\": "
		"4294967295, \"gid\": 7}}",
		"hull_userns: must hold");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record),
	    cmocka_unit_test(test_refused),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	inst_fini(&inst);
	return r;
}
