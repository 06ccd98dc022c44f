/*
 * test_hvm_disks.c - disks[] of an HVM instance at create (checks, filled
 * defaults, the image lookup) and the disk files (sparse, cloned).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvm/disks.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"

#define INST "/zones/3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
#define ZVOL "11111111-2222-4333-8444-555555555555"
#define ZONE_IMG "66666666-7777-4888-9999-aaaaaaaaaaaa"

static int lookup(void *ctx, const char *uuid, struct hvm_image_info *out)
{
	if (!strcmp(uuid, ZVOL)) {
		out->type = "zvol";
		out->image_size = 10240;
		return 0;
	}
	if (!strcmp(uuid, ZONE_IMG)) {
		out->type = "zone-dataset";
		return 0;
	}
	return -ENOENT;
}

static json_t *vm_with(const char *disks, const char *extra)
{
	char *t = xasprintf("{\"brand\": \"kvm\", \"disks\": %s%s}", disks,
			    extra ? extra : "");
	json_error_t je;
	json_t *vm = json_loads(t, 0, &je);
	if (!vm)
		fail_msg("%s: %s", t, je.text);
	free(t);
	return vm;
}

static void test_plan_fills(void **state)
{
	json_t *vm =
	    vm_with("[{\"image_uuid\": \"" ZVOL "\", \"boot\": true},"
		    " {\"size\": 2048, \"model\": \"ide\"},"
		    " {\"size\": 10, \"path\": \"" INST "/disks/data.img\"}]",
		    ", \"disk_driver\": \"scsi\"");
	struct hull_err err = {0};
	assert_int_equal(hvm_disks_plan(vm, "kvm", INST, lookup, NULL, &err),
			 0);
	json_t *d = json_object_get(vm, "disks");
	json_t *d0 = json_array_get(d, 0), *d1 = json_array_get(d, 1);
	assert_string_equal(json_string_value(json_object_get(d0, "path")),
			    INST "/disks/disk0.img");
	assert_string_equal(json_string_value(json_object_get(d0, "model")),
			    "scsi");
	assert_string_equal(json_string_value(json_object_get(d0, "media")),
			    "disk");
	assert_int_equal(json_integer_value(json_object_get(d0, "image_size")),
			 10240);
	assert_string_equal(json_string_value(json_object_get(d1, "path")),
			    INST "/disks/disk1.img");
	assert_string_equal(json_string_value(json_object_get(d1, "model")),
			    "ide");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(d, 2), "path")),
	    INST "/disks/data.img");
	json_decref(vm);
}

static void refused(const char *brand, const char *disks, const char *want)
{
	json_t *vm = vm_with(disks, NULL);
	char *before = json_dumps(vm, JSON_SORT_KEYS);
	struct hull_err err = {0};
	if (hvm_disks_plan(vm, brand, INST, lookup, NULL, &err) == 0)
		fail_msg("accepted %s", disks);
	if (!strstr(err.msg, want))
		fail_msg("%s: got '%s', want '%s'", disks, err.msg, want);
	/* Nothing filled in on a refusal. */
	char *after = json_dumps(vm, JSON_SORT_KEYS);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(vm);
}

static void test_plan_refuses(void **state)
{
	refused("kvm", "{}", "disks: must be an array");
	refused("kvm", "[1]", "disks.0: must be an object");
	refused("kvm", "[{\"size\": 1}, {}]", "disks.1.size: required");
	refused("kvm", "[{\"size\": 0}]", "disks.0.size");
	refused("kvm", "[{\"size\": \"5\"}]", "disks.0.size");
	refused("kvm", "[{\"size\": 1, \"path\": \"/etc/shadow\"}]",
		"disks.0.path: must be a file in " INST "/disks/");
	refused("kvm",
		"[{\"size\": 1, \"path\": \"" INST
		"/disks/../config/vm.json\"}]",
		"disks.0.path");
	refused("kvm", "[{\"size\": 1, \"path\": \"" INST "/disks/\"}]",
		"disks.0.path");
	refused("kvm", "[{\"size\": 1, \"path\": \"" INST "/disks/a/b\"}]",
		"disks.0.path");
	refused("kvm",
		"[{\"size\": 1, \"path\": \"" INST "/disks/x\"}, {\"size\": 1, "
		"\"path\": \"" INST "/disks/x\"}]",
		"disks.1.path: the same as disks.0.path");
	refused("kvm", "[{\"size\": 1, \"model\": \"nvme\"}]", "disks.0.model");
	refused("bhyve", "[{\"size\": 1, \"model\": \"ide\"}]",
		"disks.0.model");
	refused("kvm", "[{\"size\": 1, \"media\": \"tape\"}]", "disks.0.media");
	refused("kvm", "[{\"size\": 1, \"boot\": \"yes\"}]", "disks.0.boot");
	refused("kvm",
		"[{\"size\": 1, \"boot\": true}, {\"size\": 1, \"boot\":"
		" true}]",
		"more than one boot disk");
	refused("kvm", "[{\"size\": 1, \"block_size\": 3000}]",
		"disks.0.block_size");
	refused("kvm", "[{\"size\": 1, \"pci_slot\": \"0:4:0\"}]",
		"disks.0.pci_slot: only for the bhyve brand");
	refused("kvm", "[{\"size\": 1, \"colour\": \"red\"}]",
		"disks.0.colour: unknown property");
	refused("kvm", "[{\"image_uuid\": \"" ZVOL "\", \"size\": 5}]",
		"disks.0.size: not allowed with image_uuid");
	refused("kvm", "[{\"image_uuid\": \"" ZVOL "\", \"image_size\": 5}]",
		"EBADSIZE");
	refused("kvm", "[{\"image_uuid\": \"" ZONE_IMG "\"}]",
		"of type zone-dataset, not zvol");
	refused("kvm",
		"[{\"image_uuid\": \"99999999-2222-4333-8444-555555555555\"}]",
		"not installed");
	refused("kvm", "[{\"image_uuid\": \"nope\"}]", "disks.0.image_uuid");
	refused("joyent", "[]", "brand");
}

/* add_disks: disks[first..] planned against those already there. */
static json_t *added(const char *brand, const char *have, const char *add,
		     int want_r, const char *want)
{
	char *t = xasprintf("{\"brand\": \"%s\", \"disks\": %s}", brand, have);
	json_t *vm = json_loads(t, 0, NULL);
	assert_non_null(vm);
	free(t);
	size_t first = json_array_size(json_object_get(vm, "disks"));
	json_t *a = json_loads(add, 0, NULL);
	assert_non_null(a);
	json_array_extend(json_object_get(vm, "disks"), a);
	json_decref(a);
	json_t *before = json_deep_copy(vm);
	struct hull_err err = {0};
	int r =
	    hvm_disks_plan_added(vm, first, brand, INST, lookup, NULL, &err);
	if (want_r == 0) {
		if (r != 0)
			fail_msg("%s: %s", add, err.msg);
	} else {
		assert_int_equal(r, want_r);
		if (!strstr(err.msg, want))
			fail_msg("%s: want '%s', got '%s'", add, want, err.msg);
		assert_true(json_equal(vm, before)); /* unchanged */
	}
	json_decref(before);
	return vm;
}

static void test_plan_added(void **state)
{
	const char *have =
	    "[{\"path\": \"" INST "/disks/disk0.img\", \"size\": 8, "
	    "\"boot\": true, \"model\": \"virtio\", \"media\": \"disk\"},"
	    " {\"path\": \"" INST "/disks/disk2.img\", \"size\": 8, "
	    "\"model\": \"virtio\", \"media\": \"disk\"}]";
	/* Default paths: the first diskN.img nothing uses. */
	json_t *vm = added("kvm", have,
			   "[{\"size\": 4}, {\"image_uuid\": \"" ZVOL "\"},"
			   " {\"size\": 1, \"path\": \"" INST
			   "/disks/disk3.img\"}, {\"size\": 2}]",
			   0, NULL);
	json_t *d = json_object_get(vm, "disks");
	assert_int_equal(json_array_size(d), 6);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(d, 2), "path")),
	    INST "/disks/disk1.img");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(d, 3), "path")),
	    INST "/disks/disk4.img");
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(d, 3), "image_size")),
			 10240);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(d, 5), "path")),
	    INST "/disks/disk5.img");
	json_decref(vm);

	json_decref(added(
	    "kvm", have,
	    "[{\"size\": 1, \"path\": \"" INST "/disks/disk2.img\"}]", -EEXIST,
	    "add_disks.0.path: the VM already has disk " INST
	    "/disks/disk2.img"));
	json_decref(added("kvm", have, "[{\"size\": 1, \"boot\": true}]",
			  -EINVAL, "add_disks: more than one boot disk"));
	json_decref(added("kvm", have, "[{\"size\": 1}, {\"size\": 0}]",
			  -EINVAL, "add_disks.1.size"));
	json_decref(added(
	    "kvm", have, "[{\"size\": 1, \"path\": \"/etc/shadow\"}]", -EINVAL,
	    "add_disks.0.path: must be a file in " INST "/disks/"));
	json_decref(added("bhyve", have, "[{\"size\": 1, \"model\": \"ide\"}]",
			  -EINVAL, "add_disks.0.model"));
	json_decref(added("kvm", have, "[{\"image_uuid\": \"" ZONE_IMG "\"}]",
			  -EINVAL, "add_disks.0.image_uuid"));
	char many[2048] = "[";
	for (int i = 0; i < 15; i++)
		strcat(many, i ? ", {\"size\": 1}" : "{\"size\": 1}");
	strcat(many, "]");
	json_decref(
	    added("kvm", have, many, -EINVAL, "add_disks: more than 16 disks"));
}

static void test_remove_plan_and_aside(void **state)
{
	char dir[] = "/tmp/hull-unit-rmdisks-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct hull_err err = {0};
	char *boot = xasprintf("%s/boot.img", dir);
	char *data = xasprintf("%s/data.img", dir);
	char *gone = xasprintf("%s/gone.img", dir);
	assert_int_equal(hvm_disk_make(boot, 1, NULL, &err), 0);
	assert_int_equal(hvm_disk_make(data, 2, NULL, &err), 0);
	json_t *vm = json_pack("{s:[{s:s,s:b},{s:s},{s:s}]}", "disks", "path",
			       boot, "boot", 1, "path", data, "path", gone);
	json_t *rm = json_pack("[s]", boot);
	assert_int_equal(hvm_disks_remove_plan(vm, rm, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "remove_disks.0: "));
	assert_non_null(strstr(err.msg, "is the boot disk"));
	json_decref(rm);
	rm = json_pack("[s]", "/nope.img");
	assert_int_equal(hvm_disks_remove_plan(vm, rm, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "the VM has no disk /nope.img"));
	json_decref(rm);
	rm = json_pack("[s,s]", data, data);
	assert_int_equal(hvm_disks_remove_plan(vm, rm, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "remove_disks.1: "));
	json_decref(rm);
	rm = json_pack("[i]", 3);
	assert_int_equal(hvm_disks_remove_plan(vm, rm, &err), -EINVAL);
	json_decref(rm);

	rm = json_pack("[s,s]", gone, data);
	assert_int_equal(hvm_disks_remove_plan(vm, rm, &err), 0);
	/* Set aside, put back (a save failed). */
	assert_int_equal(hvm_disks_aside(rm, &err), 0);
	assert_int_equal(access(data, F_OK), -1);
	hvm_disks_aside_undo(rm, json_array_size(rm));
	struct stat st;
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_size, 2 << 20);
	assert_int_equal(access(gone, F_OK), -1);
	/* Set aside, dropped (the save went through). */
	assert_int_equal(hvm_disks_aside(rm, &err), 0);
	hvm_disks_aside_drop(rm);
	assert_int_equal(access(data, F_OK), -1);
	char *aside = xasprintf("%s.removing", data);
	assert_int_equal(access(aside, F_OK), -1);
	/* A directory where a disk file should be is refused, nothing
	 * moved. */
	json_decref(rm);
	assert_int_equal(mkdir(data, 0700), 0);
	rm = json_pack("[s,s]", boot, data);
	assert_true(hvm_disks_aside(rm, &err) < 0);
	assert_int_equal(access(boot, F_OK), 0);
	assert_int_equal(rmdir(data), 0);

	json_decref(rm);
	json_decref(vm);
	assert_int_equal(hull_rm_rf(dir, &err), 0);
	free(boot);
	free(data);
	free(gone);
	free(aside);
}

static void test_disk_make(void **state)
{
	char dir[] = "/tmp/hull-unit-disks-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct hull_err err = {0};
	char *sparse = xasprintf("%s/sparse.img", dir);
	assert_int_equal(hvm_disk_make(sparse, 100, NULL, &err), 0);
	struct stat st;
	assert_int_equal(stat(sparse, &st), 0);
	assert_int_equal(st.st_size, 100 << 20);
	assert_true(st.st_blocks < 64); /* sparse */
	assert_int_equal(st.st_mode & 0777, 0600);
	/* It must not exist already. */
	assert_int_equal(hvm_disk_make(sparse, 1, NULL, &err), -EEXIST);

	char *src = xasprintf("%s/image.disk", dir);
	assert_int_equal(
	    hull_file_write_atomic(src, "bootsector", 10, 0644, &err), 0);
	char *clone = xasprintf("%s/clone.img", dir);
	assert_int_equal(hvm_disk_make(clone, 1, src, &err), 0);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(hull_file_read(clone, 2 << 20, &buf, &len, &err), 0);
	assert_int_equal(len, 1 << 20); /* grown to the size asked */
	assert_memory_equal(buf, "bootsector", 10);
	free(buf);

	char *bad = xasprintf("%s/bad.img", dir);
	assert_true(hvm_disk_make(bad, 1, "/nonexistent/disk", &err) < 0);
	assert_int_equal(access(bad, F_OK), -1); /* nothing left */

	assert_int_equal(hull_rm_rf(dir, &err), 0);
	free(sparse);
	free(src);
	free(clone);
	free(bad);
}

/* update_disks: a plan from the record and the files, grows first; the
 * resize and its undo. */
static void test_update_plan_and_resize(void **state)
{
	char dir[] = "/tmp/hull-unit-disks-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct hull_err err = {0};
	char *a = xasprintf("%s/disk0.img", dir);
	char *b = xasprintf("%s/disk1.img", dir);
	char *cd = xasprintf("%s/cd.iso", dir);
	assert_int_equal(hvm_disk_make(a, 16, NULL, &err), 0);
	assert_int_equal(hvm_disk_make(b, 16, NULL, &err), 0);
	assert_int_equal(hvm_disk_make(cd, 1, NULL, &err), 0);
	json_t *vm =
	    json_pack("{s:s, s:[{s:s, s:i}, {s:s, s:i}, {s:s, s:s}]}", "brand",
		      "kvm", "disks", "path", a, "size", 16, "path", b, "size",
		      16, "path", cd, "media", "cdrom");
	struct hvm_disk_resize *plan = NULL;
	size_t n = 0;

	/* b shrinks (allowed), a grows: a comes first. */
	json_t *ud =
	    json_pack("[{s:s, s:i, s:b}, {s:s, s:i}]", "path", b, "size", 8,
		      "dangerous_allow_shrink", 1, "path", a, "size", 32);
	assert_int_equal(hvm_disks_update_plan(vm, ud, false, &plan, &n, &err),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(plan[0].path, a);
	assert_int_equal(plan[0].old_bytes, 16 << 20);
	assert_int_equal(plan[0].new_bytes, 32 << 20);
	assert_string_equal(plan[1].path, b);
	assert_int_equal(hvm_disks_resize(plan, n, &err), 0);
	struct stat st;
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_size, 32 << 20);
	assert_int_equal(stat(b, &st), 0);
	assert_int_equal(st.st_size, 8 << 20);
	hvm_disks_resize_undo(plan, n);
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_size, 16 << 20);
	free(plan);
	json_decref(ud);

	/* The same size is no resize; other fields need none. */
	ud = json_pack("[{s:s, s:i, s:b}]", "path", a, "size", 16, "boot", 1);
	assert_int_equal(hvm_disks_update_plan(vm, ud, true, &plan, &n, &err),
			 0);
	assert_int_equal(n, 0);
	free(plan);
	json_decref(ud);

	/* Refusals name the entry and property. */
	static const struct {
		const char *json, *want;
		bool running;
	} bad[] = {
	    {"[{\"path\": \"A\", \"size\": 8}]",
	     "update_disks.0.size: cannot resize", false},
	    {"[{\"path\": \"A\", \"size\": 20}]", "while the VM is running",
	     true},
	    {"[{\"path\": \"/x\", \"size\": 20}]",
	     "update_disks.0.path: the VM has no disk /x", false},
	    {"[{\"path\": \"C\", \"size\": 20}]", "is a cdrom", false},
	    {"[{\"path\": \"A\", \"size\": -1}]", "update_disks.0.size", false},
	    {"[{\"path\": \"A\", \"nocreate\": true}]",
	     "update_disks.0.nocreate: cannot be updated", false},
	    {"[{\"path\": \"A\", \"model\": \"ahci\"}]", "update_disks.0.model",
	     false},
	    {"[7]", "update_disks.0: must be an object", false},
	    {"{}", "must be an array", false},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *text = xstrdup(bad[i].json);
		char *t2 = NULL;
		char *p;
		/* A and C stand for the disk paths */
		if ((p = strchr(text, 'A')) && p[-1] == '"') {
			*p = '\0';
			t2 = xasprintf("%s%s%s", text, a, p + 1);
		} else if ((p = strchr(text, 'C')) && p[-1] == '"') {
			*p = '\0';
			t2 = xasprintf("%s%s%s", text, cd, p + 1);
		} else {
			t2 = xstrdup(text);
		}
		ud = json_loads(t2, 0, NULL);
		assert_non_null(ud);
		plan = NULL;
		int r = hvm_disks_update_plan(vm, ud, bad[i].running, &plan, &n,
					      &err);
		if (r != -EINVAL || !strstr(err.msg, bad[i].want))
			fail_msg("%s: %d '%s'", t2, r, err.msg);
		assert_null(plan);
		json_decref(ud);
		free(text);
		free(t2);
	}
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_size, 16 << 20);

	/* dangerous_allow_shrink is never stored. */
	json_object_set_new(json_array_get(json_object_get(vm, "disks"), 0),
			    "dangerous_allow_shrink", json_true());
	hvm_disks_update_scrub(vm);
	assert_null(
	    json_object_get(json_array_get(json_object_get(vm, "disks"), 0),
			    "dangerous_allow_shrink"));
	json_decref(vm);
	assert_int_equal(hull_rm_rf(dir, &err), 0);
	free(a);
	free(b);
	free(cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_fills),
	    cmocka_unit_test(test_plan_refuses),
	    cmocka_unit_test(test_plan_added),
	    cmocka_unit_test(test_remove_plan_and_aside),
	    cmocka_unit_test(test_disk_make),
	    cmocka_unit_test(test_update_plan_and_resize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
