/*
 * test_hvm_qemustate.c - the kvm brand's memory snapshot file checks
 * (src/hvm/qemustate.c): the sum file's text both ways, and the digest
 * of a QEMU state stream (its magic, size and SHA-256).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvm/qemustate.h"

/* a version-3 stream header and a few bytes of body */
static const char stream[] = "QEVM\0\0\0\3hello";
#define STREAM_LEN (sizeof(stream) - 1)

static int memfile(const void *data, size_t len)
{
	int fd = memfd_create("qemustate", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

static void test_sum_round_trip(void **state)
{
	(void)state;
	struct hvm_qemu_state_sum s = {.size = 12345}, back = {0};
	memset(s.sha256, 'a', 64);
	s.sha256[64] = 0;
	char *t = hvm_qemu_state_sum_format(&s);
	struct hull_err err = {0};
	assert_int_equal(hvm_qemu_state_sum_parse(t, strlen(t), &back, &err),
			 0);
	assert_int_equal(back.size, 12345);
	assert_string_equal(back.sha256, s.sha256);
	free(t);
}

static void refused(const char *text)
{
	struct hvm_qemu_state_sum s;
	struct hull_err err = {0};
	assert_int_equal(hvm_qemu_state_sum_parse(text, strlen(text), &s, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "sum file is damaged"));
}

static void test_sum_refused(void **state)
{
	(void)state;
	const char *h64 = "0123456789abcdef0123456789abcdef"
			  "0123456789abcdef0123456789abcdef";
	char buf[256];
	refused("");
	refused("[]");
	snprintf(buf, sizeof(buf),
		 "{\"format\": \"hull\", \"size\": 1, \"sha256\": \"%s\"}",
		 h64);
	refused(buf);
	snprintf(buf, sizeof(buf),
		 "{\"format\": \"qemu\", \"size\": 0, \"sha256\": \"%s\"}",
		 h64);
	refused(buf);
	snprintf(buf, sizeof(buf),
		 "{\"format\": \"qemu\", \"size\": \"1\", \"sha256\": \"%s\"}",
		 h64);
	refused(buf);
	refused("{\"format\": \"qemu\", \"size\": 1, \"sha256\": \"abc\"}");
	/* upper case is not what hull writes */
	snprintf(buf, sizeof(buf),
		 "{\"format\": \"qemu\", \"size\": 1, \"sha256\": \"%.63sA\"}",
		 h64);
	refused(buf);
}

static void test_digest(void **state)
{
	(void)state;
	struct hvm_qemu_state_sum s = {0};
	struct hull_err err = {0};
	int fd = memfile(stream, STREAM_LEN);
	assert_int_equal(hvm_qemu_state_digest(fd, &s, &err), 0);
	assert_int_equal(s.size, STREAM_LEN);
	assert_int_equal(strlen(s.sha256), 64);
	/* one byte more changes the sum */
	struct hvm_qemu_state_sum s2 = {0};
	assert_int_equal(write(fd, "!", 1), 1);
	assert_int_equal(hvm_qemu_state_digest(fd, &s2, &err), 0);
	assert_int_equal(s2.size, STREAM_LEN + 1);
	assert_string_not_equal(s.sha256, s2.sha256);
	close(fd);
}

static void test_digest_refuses_other_streams(void **state)
{
	(void)state;
	struct hvm_qemu_state_sum s = {0};
	struct hull_err err = {0};
	int fd = memfile("QEVM\0\0\0\2hello", 13); /* version 2 */
	assert_int_equal(hvm_qemu_state_digest(fd, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a QEMU state stream"));
	close(fd);
	fd = memfile("QEV", 3);
	assert_int_equal(hvm_qemu_state_digest(fd, &s, &err), -EINVAL);
	close(fd);
	fd = memfile("", 0);
	assert_int_equal(hvm_qemu_state_digest(fd, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sum_round_trip),
	    cmocka_unit_test(test_sum_refused),
	    cmocka_unit_test(test_digest),
	    cmocka_unit_test(test_digest_refuses_other_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
