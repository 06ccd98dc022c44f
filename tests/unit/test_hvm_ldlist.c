/*
 * test_hvm_ldlist.c - reading the dynamic loader's --list output, and
 * resolving a real program's closure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvm/ldlist.h"
#include "lib/err.h"

static void test_parse(void **state)
{
	const char *text =
	    "\tlinux-vdso.so.1 (0x00007ffd5c3f0000)\n"
	    "\tlibjansson.so.4 => /lib/x86_64-linux-gnu/libjansson.so.4 "
	    "(0x00007f0c1a000000)\n"
	    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 "
	    "(0x00007f0c19e00000)\n"
	    "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c1a100000)\n"
	    "\tlibweird.so => /opt/a dir/libweird.so (0x1)\n"
	    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 "
	    "(0x00007f0c19e00000)\n"
	    "\n";
	struct hvm_ldlist l = {0};
	struct hull_err err = {0};
	assert_int_equal(hvm_ldlist_parse(text, &l, &err), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.paths[0],
			    "/lib/x86_64-linux-gnu/libjansson.so.4");
	assert_string_equal(l.paths[1], "/lib/x86_64-linux-gnu/libc.so.6");
	assert_string_equal(l.paths[2], "/lib64/ld-linux-x86-64.so.2");
	assert_string_equal(l.paths[3], "/opt/a dir/libweird.so");
	hvm_ldlist_fini(&l);
	hvm_ldlist_fini(&l); /* idempotent */

	assert_int_equal(hvm_ldlist_parse("\tstatically linked\n", &l, &err),
			 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(hvm_ldlist_parse("", &l, &err), 0);
	assert_int_equal(l.n, 0);
}

static void test_not_found(void **state)
{
	struct hvm_ldlist l = {0};
	struct hull_err err = {0};
	assert_int_equal(
	    hvm_ldlist_parse("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n"
			     "\tlibgone.so.1 => not found\n",
			     &l, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "libgone.so.1: not found");
	hvm_ldlist_fini(&l);
}

static void test_resolve(void **state)
{
	struct hvm_ldlist l;
	struct hull_err err = {0};
	if (access(HVM_LDSO, X_OK) < 0)
		skip();
	assert_int_equal(hvm_ldlist_resolve("/bin/sh", &l, &err), 0);
	assert_string_equal(l.paths[0], "/bin/sh");
	int libc = 0, ldso = 0;
	for (size_t i = 0; i < l.n; i++) {
		assert_true(l.paths[i][0] == '/');
		libc |= strstr(l.paths[i], "/libc.so.6") != NULL;
		ldso |= strcmp(l.paths[i], HVM_LDSO) == 0;
	}
	assert_true(libc && ldso);
	hvm_ldlist_fini(&l);

	assert_int_equal(hvm_ldlist_resolve("bin/sh", &l, &err), -EINVAL);
	assert_int_equal(hvm_ldlist_resolve("/nonexistent", &l, &err), -ENOENT);
	assert_int_equal(hvm_ldlist_resolve("/", &l, &err), -EINVAL);
}

static void test_dlopen(void **state)
{
	struct hvm_ldlist l = {0};
	struct hull_err err = {0};
	if (access(HVM_LDSO, X_OK) < 0)
		skip();
	/* libarchive (what hull-vmm loads) and what it needs */
	assert_int_equal(hvm_ldlist_add_dlopen(&l, "libarchive.so.13", &err),
			 0);
	assert_true(l.n > 1);
	assert_non_null(strstr(l.paths[0], "/libarchive.so.13"));
	int libc = 0;
	for (size_t i = 0; i < l.n; i++)
		libc |= strstr(l.paths[i], "/libc.so.6") != NULL;
	assert_true(libc);
	hvm_ldlist_fini(&l);
	assert_int_equal(hvm_ldlist_add_dlopen(&l, "libnonexistent.so.9", &err),
			 -ENOENT);
	assert_string_equal(err.msg, "libnonexistent.so.9: not found in the "
				     "loader's directories");
	assert_int_equal(hvm_ldlist_add_dlopen(&l, "lib/libc.so.6", &err),
			 -EINVAL);
	assert_int_equal(hvm_ldlist_add_dlopen(&l, "/nonexistent.so", &err),
			 -ENOENT);
	assert_int_equal(hvm_ldlist_add_dlopen(&l, "/", &err), -EINVAL);
	hvm_ldlist_fini(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_not_found),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_dlopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
