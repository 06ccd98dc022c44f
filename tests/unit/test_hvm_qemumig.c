/*
 * test_hvm_qemumig.c - the pure half of the kvm brand's live migration
 * (src/hvm/qemumig.c): QEMU's command line read back, the taps found and
 * renumbered, the sockets renamed, -incoming defer; query-migrate's
 * answer read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hvm/qemumig.h"
#include "lib/strv.h"

#define RUN "/r/zones/u/run/vm"

static char *const src[] = {
    "/usr/bin/qemu-system-x86_64",
    "-chardev",
    "socket,id=com1,path=" RUN "/console.sock,server=on,wait=off",
    "-chardev",
    "socket,id=qmpc,path=" RUN "/qmp-cmd.sock,server=on,wait=off",
    "-vnc",
    "unix:" RUN "/vnc.sock,password=on",
    "-netdev",
    "tap,id=net0,fd=7",
    "-device",
    "virtio-net-pci,netdev=net0,mac=90:b8:d0:00:00:01",
    "-netdev",
    "tap,id=net1,fd=12",
    "-incoming",
    "defer",
    "-append",
    "console=ttyS0 path=" RUN "/console.sockets",
    NULL};

static void test_cmdline_parse(void **state)
{
	(void)state;
	static const char buf[] = "qemu\0-m\0"
				  "256\0";
	struct hull_err err = {0};
	char **v = hvm_qemu_cmdline_parse(buf, sizeof(buf) - 1, &err);
	assert_non_null(v);
	assert_string_equal(v[0], "qemu");
	assert_string_equal(v[2], "256");
	assert_null(v[3]);
	hull_strv_free(v);
	/* not NUL-terminated, empty */
	assert_null(hvm_qemu_cmdline_parse("qemu", 4, &err));
	assert_int_equal(err.code, EINVAL);
	assert_null(hvm_qemu_cmdline_parse("", 0, &err));
	/* too many arguments */
	size_t n = 600 * 2;
	char *many = calloc(1, n);
	for (size_t i = 0; i < n; i += 2)
		many[i] = 'a';
	assert_null(hvm_qemu_cmdline_parse(many, n, &err));
	assert_int_equal(err.code, E2BIG);
	free(many);
}

static void test_taps(void **state)
{
	(void)state;
	int fds[4];
	struct hull_err err = {0};
	assert_int_equal(hvm_qemu_argv_taps(src, fds, 4, &err), 2);
	assert_int_equal(fds[0], 7);
	assert_int_equal(fds[1], 12);
	assert_int_equal(hvm_qemu_argv_taps(src, fds, 1, &err), -E2BIG);
	char *const bad[] = {"q", "-netdev", "tap,id=net0,fd=x", NULL};
	assert_int_equal(hvm_qemu_argv_taps(bad, fds, 4, &err), -EINVAL);
	char *const low[] = {"q", "-netdev", "tap,id=net0,fd=2", NULL};
	assert_int_equal(hvm_qemu_argv_taps(low, fds, 4, &err), -EINVAL);
}

static void test_migrate_argv(void **state)
{
	(void)state;
	struct hull_err err = {0};
	int mine[] = {30, 31};
	char **v = hvm_qemu_migrate_argv(src, RUN, mine, 2, &err);
	assert_non_null(v);
	size_t n = 0;
	while (v[n])
		n++;
	/* the source's -incoming went, one -incoming defer came at the end */
	assert_int_equal(n, sizeof(src) / sizeof(*src) - 1 - 2 + 2);
	assert_string_equal(v[n - 2], "-incoming");
	assert_string_equal(v[n - 1], "defer");
	assert_string_equal(v[2], "socket,id=com1,path=" RUN
				  "/mig-console.sock,server=on,"
				  "wait=off");
	assert_string_equal(v[4], "socket,id=qmpc,path=" RUN
				  "/mig-qmp-cmd.sock,server=on,wait=off");
	assert_string_equal(v[6], "unix:" RUN "/mig-vnc.sock,password=on");
	assert_string_equal(v[8], "tap,id=net0,fd=30");
	assert_string_equal(v[12], "tap,id=net1,fd=31");
	/* only whole socket paths are renamed */
	assert_string_equal(v[14],
			    "console=ttyS0 path=" RUN "/console.sockets");
	hull_strv_free(v);
	/* as many descriptors as taps */
	assert_null(hvm_qemu_migrate_argv(src, RUN, mine, 1, &err));
	assert_int_equal(err.code, EINVAL);
	int three[] = {30, 31, 32};
	assert_null(hvm_qemu_migrate_argv(src, RUN, three, 3, &err));
}

static void test_stat(void **state)
{
	(void)state;
	struct hvm_qemu_mig_stat st;
	json_t *v = json_loads(
	    "{\"status\": \"completed\", \"downtime\": 11, \"total-time\": "
	    "1770, \"ram\": {\"dirty-sync-count\": 3, \"transferred\": "
	    "99029976, \"remaining\": 0}}",
	    0, NULL);
	hvm_qemu_mig_stat_parse(v, &st);
	assert_int_equal(st.state, HVM_QEMU_MIG_COMPLETED);
	assert_int_equal(st.downtime_ms, 11);
	assert_int_equal(st.total_ms, 1770);
	assert_int_equal(st.passes, 3);
	assert_int_equal(st.transferred, 99029976);
	json_decref(v);
	v = json_loads("{\"status\": \"failed\", \"error-desc\": \"Broken "
		       "pipe\"}",
		       0, NULL);
	hvm_qemu_mig_stat_parse(v, &st);
	assert_int_equal(st.state, HVM_QEMU_MIG_FAILED);
	assert_string_equal(st.error, "Broken pipe");
	json_decref(v);
	v = json_loads("{\"status\": \"pre-switchover\", \"ram\": 5}", 0, NULL);
	hvm_qemu_mig_stat_parse(v, &st);
	assert_int_equal(st.state, HVM_QEMU_MIG_ACTIVE);
	assert_int_equal(st.passes, 0);
	json_decref(v);
	hvm_qemu_mig_stat_parse(NULL, &st);
	assert_int_equal(st.state, HVM_QEMU_MIG_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmdline_parse),
	    cmocka_unit_test(test_taps),
	    cmocka_unit_test(test_migrate_argv),
	    cmocka_unit_test(test_stat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
