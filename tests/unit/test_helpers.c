/*
 * test_helpers.c - the small shared helpers of src/lib: string vectors,
 * MAC addresses, descriptor passing.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/fdpass.h"
#include "lib/mac.h"
#include "lib/strv.h"
#include "lib/xalloc.h"

static void test_strv_build_steal_free(void **state)
{
	struct hull_strv s = {0};
	char **empty = hull_strv_steal(&s);
	assert_non_null(empty);
	assert_null(empty[0]);
	assert_int_equal(hull_strv_len(empty), 0);
	hull_strv_free(empty);

	for (int i = 0; i < 100; i++)
		hull_strv_push(&s, xasprintf("a%d", i));
	hull_strv_add(&s, "last");
	assert_int_equal(s.n, 101);
	assert_null(s.v[101]);
	assert_string_equal(s.v[99], "a99");
	char **v = hull_strv_steal(&s);
	assert_null(s.v);
	assert_int_equal(s.n, 0);
	assert_int_equal(hull_strv_len(v), 101);
	char **d = hull_strv_dup(v);
	assert_ptr_not_equal(d[0], v[0]);
	assert_string_equal(d[100], "last");
	hull_strv_free(v);
	hull_strv_append(&d, "more");
	assert_int_equal(hull_strv_len(d), 102);
	assert_string_equal(d[101], "more");
	assert_null(d[102]);
	hull_strv_free(d);

	char **p = NULL;
	hull_strv_append(&p, "x");
	assert_int_equal(hull_strv_len(p), 1);
	hull_strv_free(p);
	hull_strv_free(NULL);
	assert_int_equal(hull_strv_len(NULL), 0);
	assert_null(hull_strv_dup(NULL));
	hull_strv_add(&s, "y");
	hull_strv_fini(&s);
	hull_strv_fini(&s); /* idempotent */
	assert_null(s.v);
}

static void test_mac_parse_forms(void **state)
{
	uint8_t m[HULL_MAC_LEN];
	char txt[HULL_MAC_STRLEN];
	/* SmartOS's lenient form: one or two digits, ':' or '-'. */
	assert_int_equal(hull_mac_parse("0:c:29:A:b:1", m), 0);
	hull_mac_format(m, txt);
	assert_string_equal(txt, "00:0c:29:0a:0b:01");
	assert_int_equal(hull_mac_parse("02-00-5e-10-00-42", m), 0);
	assert_int_equal(hull_mac_parse("02:00-5e:10:00:42", m), -EINVAL);
	assert_int_equal(hull_mac_parse("02:00:5e:10:00", m), -EINVAL);
	assert_int_equal(hull_mac_parse("02:00:5e:10:00:42:", m), -EINVAL);
	assert_int_equal(hull_mac_parse(NULL, m), -EINVAL);
	/* The canonical form only. */
	assert_int_equal(hull_mac_parse_canonical("02:00:5E:10:00:42", m), 0);
	hull_mac_format(m, txt);
	assert_string_equal(txt, "02:00:5e:10:00:42");
	assert_int_equal(hull_mac_parse_canonical("2:00:5e:10:00:42", m),
			 -EINVAL);
	assert_int_equal(hull_mac_parse_canonical("02-00-5e-10-00-42", m),
			 -EINVAL);
	assert_int_equal(hull_mac_parse_canonical("02:00:5e:10:00:4g", m),
			 -EINVAL);
	assert_int_equal(hull_mac_parse_canonical("02:00:5e:10:00:421", m),
			 -EINVAL);
	/* Generated MACs: X2, unicast. */
	const uint8_t r[HULL_MAC_LEN] = {0xf7, 1, 2, 3, 4, 5};
	hull_mac_from_random(r, m);
	hull_mac_format(m, txt);
	assert_string_equal(txt, "f2:01:02:03:04:05");
	assert_true(hull_mac_is_unicast(m));
	const uint8_t zero[HULL_MAC_LEN] = {0}, multi[HULL_MAC_LEN] = {1};
	assert_false(hull_mac_is_unicast(zero));
	assert_false(hull_mac_is_unicast(multi));
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_fdpass_round_trip(void **state)
{
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	int fds[2] = {p[0], p[1]};
	assert_int_equal(hull_fd_send(sp[0], "hi", 2, fds, 2), 0);
	char buf[16];
	int got[2] = {-1, -1};
	size_t n;
	assert_int_equal(hull_fd_recv(sp[1], buf, sizeof(buf), got, 2, &n), 2);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "hi", 2);
	/* The received ends work and are close-on-exec. */
	assert_int_equal(fcntl(got[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(write(got[1], "x", 1), 1);
	assert_int_equal(read(p[0], buf, 1), 1);
	assert_int_equal(buf[0], 'x');

	/* More than the receiver takes: the extra one is closed. */
	int keep[1] = {-1};
	assert_int_equal(hull_fd_send(sp[0], "y", 1, fds, 2), 0);
	assert_int_equal(hull_fd_recv(sp[1], buf, sizeof(buf), keep, 1, &n), 1);
	assert_int_equal(n, 1);
	assert_true(fd_open(keep[0]));
	close(keep[0]);

	/* Plain data, no descriptors. */
	assert_int_equal(hull_fd_send(sp[0], "z", 1, NULL, 0), 0);
	assert_int_equal(hull_fd_recv(sp[1], buf, sizeof(buf), keep, 1, &n), 1);
	assert_int_equal(n, 0);

	/* Errors as -errno; end of stream as 0. */
	assert_int_equal(hull_fd_send(sp[0], "", 0, NULL, 0), -EINVAL);
	int many[HULL_FDPASS_MAX + 1] = {0};
	assert_int_equal(hull_fd_send(sp[0], "m", 1, many, HULL_FDPASS_MAX + 1),
			 -EINVAL);
	assert_int_equal(hull_fd_send(-1, "m", 1, NULL, 0), -EBADF);
	close(sp[0]);
	assert_int_equal(hull_fd_recv(sp[1], buf, sizeof(buf), keep, 1, &n), 0);
	close(sp[1]);
	for (int i = 0; i < 2; i++) {
		close(got[i]);
		close(p[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strv_build_steal_free),
	    cmocka_unit_test(test_mac_parse_forms),
	    cmocka_unit_test(test_fdpass_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
