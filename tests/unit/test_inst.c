/*
 * test_inst.c - the instance module (src/inst): the brand table, the typed
 * parse of a record (every brand, the typed parts, bad values refused with
 * a message naming the property) and the record on disk (path, atomic
 * 0600 save, load, lock, the walk over every instance).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "inst/brand.h"
#include "inst/inst.h"
#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/xalloc.h"
#include "net/nic.h"
#include "zone/fs.h"

#define U1 "11111111-2222-4333-8444-555555555555"
#define U2 "22222222-2222-4333-8444-555555555555"
#define U3 "33333333-2222-4333-8444-555555555555"

static char root[64];

static json_t *rec(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return j;
}

static void test_brand_table(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "joyent", "joyent-minimal", "builder", "lx", "kvm", "bhyve"};
	for (size_t i = 0; i < 6; i++) {
		unsigned b = inst_brand_from_name(names[i]);
		assert_true(b != 0);
		assert_string_equal(inst_brand_name(b), names[i]);
	}
	assert_int_equal(inst_brand_from_name("solaris"), 0);
	assert_int_equal(inst_brand_from_name(NULL), 0);
	assert_null(inst_brand_name(INST_BRAND_LX | INST_BRAND_KVM));
	assert_string_equal(inst_brand_type(INST_BRAND_LX), "LX");
	assert_string_equal(inst_brand_type(INST_BRAND_BHYVE), "BHYV");
	assert_string_equal(inst_brand_type(INST_BRAND_KVM), "KVM");
	assert_string_equal(inst_brand_type(INST_BRAND_JOYENT_MINIMAL), "OS");
	assert_true(inst_brand_is_hvm(INST_BRAND_KVM));
	assert_true(inst_brand_is_hvm(INST_BRAND_BHYVE));
	assert_false(inst_brand_is_hvm(INST_BRAND_LX));
	assert_false(inst_brand_is_hvm(INST_BRAND_BUILDER));
}

static void test_parse_every_brand(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum inst_brand brand;
		bool hvm;
	} cases[] = {
	    {"joyent", INST_BRAND_JOYENT, false},
	    {"joyent-minimal", INST_BRAND_JOYENT_MINIMAL, false},
	    {"builder", INST_BRAND_BUILDER, false},
	    {"lx", INST_BRAND_LX, false},
	    {"kvm", INST_BRAND_KVM, true},
	    {"bhyve", INST_BRAND_BHYVE, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text),
			 "{\"uuid\":\"" U1 "\",\"brand\":\"%s\","
			 "\"kernel_version\":\"4.4.0\"}",
			 cases[i].name);
		json_t *j = rec(text);
		struct inst in;
		struct hull_err err = {0};
		assert_int_equal(inst_parse(j, &in, &err), 0);
		assert_int_equal(in.brand, cases[i].brand);
		assert_int_equal(inst_is_hvm(&in), cases[i].hvm);
		assert_string_equal(inst_brand_str(&in), cases[i].name);
		/* uname's release is an lx property only */
		if (cases[i].brand == INST_BRAND_LX)
			assert_string_equal(in.kernel_version, "4.4.0");
		else
			assert_null(in.kernel_version);
		/* the stored record is kept, the same object */
		assert_ptr_equal(in.json, j);
		inst_fini(&in);
		json_decref(j);
	}
}

static void test_parse_defaults(void **state)
{
	(void)state;
	json_t *j = rec("{\"uuid\":\"" U1 "\",\"ram\":512,\"max_lwps\":40}");
	struct inst in;
	assert_int_equal(inst_parse(j, &in, NULL), 0);
	assert_int_equal(in.brand, INST_BRAND_JOYENT);
	assert_string_equal(in.hostname, U1);
	assert_string_equal(in.zpool, "zones");
	assert_false(in.docker);
	assert_false(in.firewall_enabled);
	assert_null(in.alias);
	assert_int_equal(in.ram, 512);
	assert_int_equal(in.vcpus, -1);
	/* no cpu_cap is no cap; memory follows ram */
	assert_int_equal(in.limits.cpu_cap, 0);
	assert_int_equal(in.limits.max_physical_memory, 512);
	assert_int_equal(in.limits.max_lwps, 40);
	assert_int_equal(in.limits.cpu_shares, -1);
	assert_int_equal(in.net->nnics, 0);
	assert_int_equal(in.ndisks, 0);
	assert_int_equal(in.nfs, 0);
	assert_false(in.ids.set);
	inst_fini(&in);
	inst_fini(&in); /* twice is fine */
	inst_fini(NULL);
	json_decref(j);
}

static void test_parse_typed_parts(void **state)
{
	(void)state;
	json_t *j = rec(
	    "{\"uuid\":\"" U1 "\",\"brand\":\"joyent\",\"alias\":\"web\","
	    "\"hostname\":\"web0\",\"autoboot\":true,\"docker\":false,"
	    "\"firewall_enabled\":true,\"cpu_cap\":150,"
	    "\"max_physical_memory\":1024,\"quota\":10,"
	    "\"nics\":[{\"nic_tag\":\"admin\",\"mac\":\"02:08:20:01:02:03\","
	    "\"ips\":[\"192.0.2.10/24\"],\"gateways\":[\"192.0.2.1\"],"
	    "\"primary\":true}],"
	    "\"filesystems\":[{\"type\":\"lofs\",\"source\":\"/srv/a\","
	    "\"target\":\"/a\",\"options\":[\"ro\"]}],"
	    "\"customer_metadata\":{\"user-script\":\"true\"},"
	    "\"internal_metadata\":{},\"tags\":{\"role\":\"web\"},"
	    "\"hull_userns\":{\"uid\":100000,\"gid\":100000,"
	    "\"count\":65536},\"resolvers\":[\"192.0.2.53\"],"
	    "\"not_used_by_the_runtime\":{\"x\":1}}");
	struct inst in;
	struct hull_err err = {0};
	assert_int_equal(inst_parse(j, &in, &err), 0);
	assert_string_equal(in.alias, "web");
	assert_string_equal(in.hostname, "web0");
	assert_true(in.autoboot);
	assert_true(in.firewall_enabled);
	assert_int_equal(in.limits.cpu_cap, 150);
	assert_int_equal(in.limits.max_physical_memory, 1024);
	assert_int_equal(in.quota, 10);
	assert_int_equal(in.net->nnics, 1);
	assert_string_equal(in.net->nics[0].tag, "admin");
	assert_string_equal(in.net->nics[0].interface, "net0");
	assert_true(in.net->nics[0].primary);
	assert_int_equal(in.nfs, 1);
	assert_string_equal(in.fs[0].target, "/a");
	assert_true(in.fs[0].ro);
	assert_string_equal(json_string_value(json_object_get(
				in.customer_metadata, "user-script")),
			    "true");
	assert_non_null(in.tags);
	assert_true(in.ids.set);
	assert_int_equal(in.ids.uid, 100000);
	assert_int_equal(in.ids.count, 65536);
	/* what the runtime does not use stays in the record */
	assert_non_null(json_object_get(in.json, "not_used_by_the_runtime"));
	inst_fini(&in);
	json_decref(j);

	j = rec("{\"uuid\":\"" U2 "\",\"brand\":\"bhyve\",\"ram\":1024,"
		"\"vcpus\":2,\"disks\":[{\"path\":\"/zones/" U2
		"/disks/disk0.img\",\"size\":10240,\"model\":\"virtio\"},"
		"{\"path\":\"/zones/" U2 "/disks/disk1.img\",\"boot\":true,"
		"\"media\":\"cdrom\"}],"
		"\"nics\":[{\"nic_tag\":\"admin\",\"mac\":"
		"\"02:08:20:01:02:04\",\"ips\":[\"dhcp\"]}]}");
	assert_int_equal(inst_parse(j, &in, &err), 0);
	assert_true(inst_is_hvm(&in));
	assert_int_equal(in.vcpus, 2);
	assert_int_equal(in.ndisks, 2);
	assert_int_equal(in.disks[0].size, 10240);
	assert_string_equal(in.disks[0].model, "virtio");
	assert_false(in.disks[0].boot);
	assert_true(in.disks[1].boot);
	assert_true(in.disks[1].cdrom);
	assert_int_equal(in.disks[1].size, -1);
	assert_int_equal(in.net->nnics, 1);
	assert_true(in.net->nics[0].dhcp);
	/* the emulator's options: absent, their defaults */
	assert_null(in.vm.bootrom);
	assert_int_equal(in.vm.vnc_port, 0);
	assert_null(in.vm.nic_model[0]);
	inst_fini(&in);
	json_decref(j);

	j = rec("{\"uuid\":\"" U2 "\",\"brand\":\"kvm\",\"bootrom\":"
		"\"uefi\",\"boot\":\"order=c\",\"cpu_type\":\"host\","
		"\"vnc_port\":-1,\"vnc_password\":\"pw\",\"disk_driver\":"
		"\"ide\",\"nic_driver\":\"e1000\",\"qemu_extra_opts\":\"-S\","
		"\"disks\":[{\"path\":\"/d\",\"uuid\":\"" U1 "\"}],"
		"\"nics\":[{\"nic_tag\":\"admin\",\"mac\":"
		"\"02:08:20:01:02:05\",\"model\":\"rtl8139\"}]}");
	assert_int_equal(inst_parse(j, &in, &err), 0);
	assert_string_equal(in.vm.bootrom, "uefi");
	assert_string_equal(in.vm.boot, "order=c");
	assert_string_equal(in.vm.cpu_type, "host");
	assert_int_equal(in.vm.vnc_port, -1);
	assert_string_equal(in.vm.vnc_password, "pw");
	assert_string_equal(in.vm.disk_driver, "ide");
	assert_string_equal(in.vm.nic_driver, "e1000");
	assert_string_equal(in.vm.qemu_extra_opts, "-S");
	assert_string_equal(in.disks[0].uuid, U1);
	assert_string_equal(in.vm.nic_model[0], "rtl8139");
	inst_fini(&in);
	json_decref(j);
}

static void test_parse_refuses_bad_values(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
	    {"[1]", "instance record is not an object"},
	    {"{\"uuid\":\"nope\"}", "uuid: must be a UUID"},
	    {"{\"brand\":\"joyent\"}", "uuid: must be a UUID"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"solaris\"}",
	     "brand: unknown brand 'solaris'"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":7}", "brand: must be a string"},
	    {"{\"uuid\":\"" U1 "\",\"autoboot\":\"yes\"}",
	     "autoboot: must be true or false"},
	    {"{\"uuid\":\"" U1 "\",\"firewall_enabled\":1}",
	     "firewall_enabled: must be true or false"},
	    {"{\"uuid\":\"" U1 "\",\"cpu_cap\":-1}",
	     "cpu_cap: must be a number 0 or more"},
	    {"{\"uuid\":\"" U1 "\",\"ram\":\"big\"}",
	     "ram: must be a number 0 or more"},
	    {"{\"uuid\":\"" U1 "\",\"max_lwps\":[]}",
	     "max_lwps: must be a number 0 or more"},
	    {"{\"uuid\":\"" U1 "\",\"hostname\":\"" /* 65 bytes */
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "\"}",
	     "hostname: longer than 64 bytes"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"disks\":{}}",
	     "disks: must be an array"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"disks\":[3]}",
	     "disks.0: must be an object"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"disks\":[{\"path\":"
	     "\"disk0.img\"}]}",
	     "disks.0.path: must be an absolute path"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"disks\":[{\"path\":"
	     "\"/d\"},{\"path\":\"/e\",\"media\":\"tape\"}]}",
	     "disks.1.media: must be disk or cdrom"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"disks\":[{\"boot\":"
	     "\"true\"}]}",
	     "disks.0.boot: must be true or false"},
	    {"{\"uuid\":\"" U1 "\",\"hull_userns\":{\"uid\":0,\"gid\":5,"
	     "\"count\":10}}",
	     "hull_userns: must hold a range of host ids above 0"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"vnc_port\":-2}",
	     "vnc_port: must be an integer from -1 to 65535"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"cpu_type\":5}",
	     "cpu_type: must be a string"},
	    {"{\"uuid\":\"" U1 "\",\"brand\":\"kvm\",\"nics\":[{\"nic_tag\":"
	     "\"a\",\"mac\":\"02:08:20:01:02:04\",\"model\":1}]}",
	     "nics.0.model: must be a string"},
	    {"{\"uuid\":\"" U1 "\",\"hull_userns\":{\"uid\":\"1\"}}",
	     "hull_userns: must hold integers uid, gid and count"},
	    {"{\"uuid\":\"" U1 "\",\"customer_metadata\":[]}",
	     "customer_metadata: must be an object"},
	    {"{\"uuid\":\"" U1 "\",\"nics\":[{\"nic_tag\":\"a\"}]}",
	     "nics.0: no mac"},
	    {"{\"uuid\":\"" U1 "\",\"filesystems\":{}}", "filesystems"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = rec(cases[i].text);
		struct inst in;
		struct hull_err err = {0};
		if (inst_parse(j, &in, &err) != -EINVAL)
			fail_msg("accepted: %s", cases[i].text);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("%s: said \"%s\", not \"%s\"", cases[i].text,
				 err.msg, cases[i].msg);
		/* nothing is held after a failure */
		assert_null(in.json);
		assert_null(in.net);
		inst_fini(&in);
		json_decref(j);
	}
}

static void make_instance(const char *uuid, const char *text)
{
	char *dir = xasprintf("%s/%s/config", root, uuid);
	struct hull_err err = {0};
	assert_int_equal(hull_mkdir_p(dir, 0700, &err), 0);
	if (text) {
		char *p = xasprintf("%s/vm.json", dir);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		free(p);
	}
	free(dir);
}

static void test_record_paths_save_load_lock(void **state)
{
	(void)state;
	char *p = inst_record_path(U1);
	char *want = xasprintf("%s/" U1 "/config/vm.json", root);
	assert_string_equal(p, want);
	free(want);
	char *lp = inst_lock_path(U1);
	want = xasprintf("%s/" U1 "/config/.lock", root);
	assert_string_equal(lp, want);
	free(want);
	free(lp);

	struct hull_err err = {0};
	/* no record, no lock: locking never makes the folders */
	assert_int_equal(inst_lock(U1, true, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "has no complete record"));
	assert_null(inst_record_load(U1, &err));
	assert_int_equal(err.code, ENOENT);

	make_instance(U1, NULL);
	json_t *j = rec("{\"uuid\":\"" U1 "\",\"brand\":\"lx\","
			"\"kernel_version\":\"5.10\",\"extra\":[1,2]}");
	assert_int_equal(inst_record_save(j, &err), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	json_t *back = inst_record_load(U1, &err);
	assert_non_null(back);
	assert_true(json_equal(back, j));
	json_decref(back);

	struct inst in;
	assert_int_equal(inst_load(U1, &in, &err), 0);
	assert_int_equal(in.brand, INST_BRAND_LX);
	assert_string_equal(in.kernel_version, "5.10");
	inst_fini(&in);

	/* a record under another instance's name is refused */
	make_instance(U2, "{\"uuid\":\"" U1 "\"}");
	assert_int_equal(inst_load(U2, &in, &err), -EINVAL);
	if (!strstr(err.msg, "record names " U1))
		fail_msg("said %s", err.msg);
	/* as is a record without a valid uuid, on save */
	json_t *bad = rec("{\"uuid\":\"x\"}");
	assert_int_equal(inst_record_save(bad, &err), -EINVAL);
	json_decref(bad);

	int fd = inst_lock(U1, true, &err);
	assert_true(fd >= 0);
	assert_int_equal(inst_lock(U1, false, &err), -EWOULDBLOCK);
	hull_lock_release(fd);
	fd = inst_lock(U1, false, &err);
	assert_true(fd >= 0);
	hull_lock_release(fd);
	json_decref(j);
	free(p);
}

struct seen {
	int n;
	char uuids[4][40];
};

static int count(const char *uuid, json_t *r, void *arg)
{
	struct seen *s = arg;
	assert_string_equal(json_string_value(json_object_get(r, "uuid")),
			    uuid);
	snprintf(s->uuids[s->n++], 40, "%s", uuid);
	return 0;
}

static void test_walk(void **state)
{
	(void)state;
	/* U3 with a record, U2 with a broken one, U1 with none; and
	 * folders that are not instances */
	char *p = xasprintf("%s/" U1, root);
	char *cmd = xasprintf("rm -rf %s/" U1 " %s/" U2, root, root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	struct hull_err err = {0};
	assert_int_equal(hull_mkdir_p(p, 0700, &err), 0);
	free(p);
	make_instance(U3, "{\"uuid\":\"" U3 "\"}");
	make_instance(U2, "{not json");
	p = xasprintf("%s/images", root);
	assert_int_equal(hull_mkdir_p(p, 0700, &err), 0);
	free(p);

	char **uuids;
	size_t n;
	assert_int_equal(inst_uuids(&uuids, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(uuids[0], U1);
	assert_string_equal(uuids[1], U2);
	assert_string_equal(uuids[2], U3);
	inst_uuids_free(uuids, n);

	struct seen s = {0};
	assert_int_equal(inst_record_foreach(0, count, &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.uuids[0], U3);

	memset(&s, 0, sizeof(s));
	assert_true(inst_record_foreach(INST_WALK_STRICT, count, &s, &err) < 0);
	assert_non_null(strstr(err.msg, "instance " U2));
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/test_inst.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	setenv("HULL_ROOT", root, 1);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_brand_table),
	    cmocka_unit_test(test_parse_every_brand),
	    cmocka_unit_test(test_parse_defaults),
	    cmocka_unit_test(test_parse_typed_parts),
	    cmocka_unit_test(test_parse_refuses_bad_values),
	    cmocka_unit_test(test_record_paths_save_load_lock),
	    cmocka_unit_test(test_walk),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char *cmd = xasprintf("rm -rf %s", root);
	if (system(cmd) != 0)
		r = 1;
	free(cmd);
	return r;
}
