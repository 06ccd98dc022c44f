/*
 * test_unpack.c - confined extraction: archives built in memory with
 * libarchive's writer, unpacked into a scratch folder.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/unpack.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"

struct ar {
	struct archive *a;
	char *buf;
	size_t cap;
	size_t used;
};

static void ar_open(struct ar *w, int filter)
{
	w->cap = 4 << 20;
	w->buf = xmalloc(w->cap);
	w->a = archive_write_new();
	archive_write_set_format_pax_restricted(w->a);
	if (filter == ARCHIVE_FILTER_GZIP)
		archive_write_add_filter_gzip(w->a);
	else if (filter == ARCHIVE_FILTER_XZ)
		archive_write_add_filter_xz(w->a);
	else
		archive_write_add_filter_none(w->a);
	assert_int_equal(
	    archive_write_open_memory(w->a, w->buf, w->cap, &w->used),
	    ARCHIVE_OK);
}

static void ar_add(struct ar *w, const char *path, mode_t type, mode_t perm,
		   const char *data, const char *link)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_mtime(e, 1600000000, 0);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(e, makedev(1, 3));
	if (type == AE_IFREG && link) {
		archive_entry_set_hardlink(e, link);
		archive_entry_set_size(e, 0);
	} else if (type == AE_IFREG) {
		archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	}
	assert_int_equal(archive_write_header(w->a, e), ARCHIVE_OK);
	if (type == AE_IFREG && data && !link)
		archive_write_data(w->a, data, strlen(data));
	archive_entry_free(e);
}

static void ar_close(struct ar *w)
{
	archive_write_close(w->a);
	archive_write_free(w->a);
}

static char *scratch(void)
{
	char *d = xstrdup("/tmp/hull-unpack-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void cleanup(char *d)
{
	hull_rm_rf(d, NULL);
	free(d);
}

static char *slurp(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel);
	char *buf = NULL;
	size_t len;
	if (hull_file_read(p, 1 << 20, &buf, &len, NULL) < 0)
		buf = NULL;
	free(p);
	return buf;
}

static int unpack(struct ar *w, const char *dest, unsigned flags,
		  struct hull_err *err)
{
	return image_unpack_mem(w->buf, w->used, dest, flags, err);
}

static void test_regular_tree(void **state)
{
	struct ar w;
	ar_open(&w, ARCHIVE_FILTER_GZIP);
	ar_add(&w, "./", AE_IFDIR, 0755, NULL, NULL);
	ar_add(&w, "./etc/", AE_IFDIR, 0755, NULL, NULL);
	ar_add(&w, "./etc/hosts", AE_IFREG, 0644, "127.0.0.1 localhost\n",
	       NULL);
	ar_add(&w, "./usr/lib/deep/file", AE_IFREG, 0600, "deep", NULL);
	ar_add(&w, "./bin/sh", AE_IFLNK, 0777, NULL, "busybox");
	ar_add(&w, "./bin/abs", AE_IFLNK, 0777, NULL, "/etc/hosts");
	ar_add(&w, "./etc/hosts.hard", AE_IFREG, 0644, NULL, "etc/hosts");
	ar_add(&w, "./ro", AE_IFDIR, 0500, NULL, NULL);
	ar_add(&w, "./ro/f", AE_IFREG, 0400, "r", NULL);
	ar_add(&w, "./etc/hosts", AE_IFREG, 0644, "replaced\n", NULL);
	ar_close(&w);
	char *d = scratch();
	struct hull_err err = {0};
	if (unpack(&w, d, 0, &err) < 0)
		fail_msg("%s", err.msg);
	char *s = slurp(d, "etc/hosts");
	assert_string_equal(s, "replaced\n");
	free(s);
	s = slurp(d, "usr/lib/deep/file");
	assert_string_equal(s, "deep");
	free(s);
	char *p = xasprintf("%s/bin/sh", d);
	char link[64] = "";
	assert_int_equal(readlink(p, link, sizeof(link)), 7);
	free(p);
	struct stat a, b;
	p = xasprintf("%s/etc/hosts.hard", d);
	assert_int_equal(stat(p, &a), 0);
	free(p);
	/* The replaced file is a new inode; the link kept the first one. */
	p = xasprintf("%s/ro", d);
	assert_int_equal(stat(p, &b), 0);
	assert_int_equal(b.st_mode & 07777, 0500);
	assert_int_equal(b.st_mtime, 1600000000);
	free(p);
	cleanup(d);
	free(w.buf);
}

static void expect_refused(void (*build)(struct ar *), const char *want,
			   const char *must_not_exist)
{
	struct ar w;
	ar_open(&w, ARCHIVE_FILTER_NONE);
	build(&w);
	ar_close(&w);
	char *outer = scratch();
	char *d = xasprintf("%s/root", outer);
	assert_int_equal(mkdir(d, 0755), 0);
	struct hull_err err = {0};
	int r = unpack(&w, d, 0, &err);
	assert_true(r < 0);
	if (!strstr(err.msg, want))
		fail_msg("'%s' does not say '%s'", err.msg, want);
	if (must_not_exist) {
		char *p = xasprintf("%s/%s", outer, must_not_exist);
		assert_false(hull_path_exists(p));
		free(p);
	}
	free(d);
	cleanup(outer);
	free(w.buf);
}

static void b_abs(struct ar *w)
{
	ar_add(w, "/etc/evil", AE_IFREG, 0644, "x", NULL);
}
static void b_dotdot(struct ar *w)
{
	ar_add(w, "a/../../escape", AE_IFREG, 0644, "x", NULL);
}
static void b_symlink_up(struct ar *w)
{
	ar_add(w, "a/b/up", AE_IFLNK, 0777, NULL, "../../../x");
}
static void b_symlink_abs_up(struct ar *w)
{
	ar_add(w, "up", AE_IFLNK, 0777, NULL, "/../x");
}
static void b_hardlink_out(struct ar *w)
{
	ar_add(w, "h", AE_IFREG, 0644, NULL, "../outside");
}
static void b_hardlink_abs(struct ar *w)
{
	ar_add(w, "h", AE_IFREG, 0644, NULL, "/etc/shadow");
}
static void b_device(struct ar *w)
{
	ar_add(w, "null", AE_IFCHR, 0666, NULL, NULL);
}
static void b_through_symlink(struct ar *w)
{
	ar_add(w, "l", AE_IFLNK, 0777, NULL, ".");
	ar_add(w, "l/escape", AE_IFREG, 0644, "x", NULL);
}
static void b_through_symlink_hardlink(struct ar *w)
{
	ar_add(w, "f", AE_IFREG, 0644, "x", NULL);
	ar_add(w, "l", AE_IFLNK, 0777, NULL, "/");
	ar_add(w, "h", AE_IFREG, 0644, NULL, "l/f");
}

static void test_hostile_entries(void **state)
{
	expect_refused(b_abs, "absolute path refused", NULL);
	expect_refused(b_dotdot, "'..' refused", "escape");
	expect_refused(b_symlink_up, "symlink pointing outside", NULL);
	expect_refused(b_symlink_abs_up, "symlink pointing outside", NULL);
	expect_refused(b_hardlink_out, "hard link target outside", NULL);
	expect_refused(b_hardlink_abs, "hard link target outside", NULL);
	expect_refused(b_device, "device node refused", NULL);
	expect_refused(b_through_symlink, "through a symlink", NULL);
	expect_refused(b_through_symlink_hardlink, "through a symlink", NULL);
}

static void test_whiteouts(void **state)
{
	char *d = scratch();
	struct hull_err err = {0};
	struct ar w;
	ar_open(&w, ARCHIVE_FILTER_NONE);
	ar_add(&w, "etc/gone", AE_IFREG, 0644, "x", NULL);
	ar_add(&w, "etc/kept", AE_IFREG, 0644, "x", NULL);
	ar_add(&w, "var/cache/a", AE_IFREG, 0644, "x", NULL);
	ar_add(&w, "var/cache/sub/b", AE_IFREG, 0644, "x", NULL);
	ar_add(&w, "tree/x/y", AE_IFREG, 0644, "x", NULL);
	ar_close(&w);
	assert_int_equal(unpack(&w, d, UNPACK_WHITEOUTS, &err), 0);
	free(w.buf);
	ar_open(&w, ARCHIVE_FILTER_NONE);
	ar_add(&w, "etc/.wh.gone", AE_IFREG, 0644, "", NULL);
	ar_add(&w, "var/cache/.wh..wh..opq", AE_IFREG, 0644, "", NULL);
	ar_add(&w, "var/cache/new", AE_IFREG, 0644, "n", NULL);
	ar_add(&w, ".wh.tree", AE_IFREG, 0644, "", NULL);
	ar_close(&w);
	if (unpack(&w, d, UNPACK_WHITEOUTS, &err) < 0)
		fail_msg("%s", err.msg);
	free(w.buf);
	char *p;
	p = xasprintf("%s/etc/gone", d);
	assert_false(hull_path_exists(p));
	free(p);
	p = xasprintf("%s/etc/.wh.gone", d);
	assert_false(hull_path_exists(p));
	free(p);
	p = xasprintf("%s/etc/kept", d);
	assert_true(hull_path_exists(p));
	free(p);
	p = xasprintf("%s/var/cache/a", d);
	assert_false(hull_path_exists(p));
	free(p);
	p = xasprintf("%s/var/cache/sub", d);
	assert_false(hull_path_exists(p));
	free(p);
	p = xasprintf("%s/var/cache/new", d);
	assert_true(hull_path_exists(p));
	free(p);
	p = xasprintf("%s/tree", d);
	assert_false(hull_path_exists(p));
	free(p);
	cleanup(d);
}

/* Without UNPACK_WHITEOUTS a .wh. file is just a file. */
static void test_whiteout_names_plain_without_flag(void **state)
{
	char *d = scratch();
	struct ar w;
	ar_open(&w, ARCHIVE_FILTER_NONE);
	ar_add(&w, ".wh.x", AE_IFREG, 0644, "", NULL);
	ar_close(&w);
	assert_int_equal(unpack(&w, d, 0, NULL), 0);
	char *p = xasprintf("%s/.wh.x", d);
	assert_true(hull_path_exists(p));
	free(p);
	free(w.buf);
	cleanup(d);
}

static void test_garbage_and_truncation(void **state)
{
	char *d = scratch();
	struct hull_err err = {0};
	char junk[3000];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	assert_true(image_unpack_mem(junk, sizeof(junk), d, 0, &err) < 0);
	struct ar w;
	ar_open(&w, ARCHIVE_FILTER_GZIP);
	char *big = xmalloc(200000);
	for (size_t i = 0; i < 199999; i++)
		big[i] = (char)('a' + (i * 2654435761u >> 13) % 26);
	big[199999] = '\0';
	ar_add(&w, "big", AE_IFREG, 0644, big, NULL);
	ar_close(&w);
	assert_true(image_unpack_mem(w.buf, w.used / 2, d, 0, &err) < 0);
	assert_true(err.msg[0] != '\0');
	free(big);
	free(w.buf);
	cleanup(d);
}

static void count(void *ctx, const void *buf, size_t len)
{
	*(size_t *)ctx += len;
}

static void test_expected_compression_and_tap(void **state)
{
	struct ar w;
	ar_open(&w, ARCHIVE_FILTER_XZ);
	ar_add(&w, "f", AE_IFREG, 0644, "data", NULL);
	ar_close(&w);
	char *d = scratch();
	char *file = xasprintf("%s.tar.xz", d);
	assert_int_equal(
	    hull_file_write_atomic(file, w.buf, w.used, 0644, NULL), 0);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct hull_err err = {0};
	struct unpack_opts o = {.compression = "gzip"};
	assert_int_equal(image_unpack_fd(fd, d, &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "xz-compressed"));
	close(fd);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	o.compression = "xz";
	size_t seen = 0;
	o.tap = count;
	o.tap_ctx = &seen;
	assert_int_equal(image_unpack_fd(fd, d, &o, &err), 0);
	assert_int_equal(seen, w.used); /* every byte, trailing padding too */
	close(fd);
	unlink(file);
	free(file);
	free(w.buf);
	cleanup(d);
}

/* The byte limit counts data and entries, is shared through used across
 * calls (an image's layers), and stops the unpack with EFBIG. */
static void test_limit(void **state)
{
	(void)state;
	struct ar w;
	ar_open(&w, ARCHIVE_FILTER_NONE);
	ar_add(&w, "a", AE_IFREG, 0644, "0123456789", NULL);
	ar_add(&w, "b", AE_IFREG, 0644, "0123456789", NULL);
	ar_close(&w);
	char *d = scratch();
	char *file = xasprintf("%s.tar", d);
	assert_int_equal(
	    hull_file_write_atomic(file, w.buf, w.used, 0644, NULL), 0);
	uint64_t one = UNPACK_ENTRY_COST + 10;
	struct hull_err err = {0};
	uint64_t used = 0;
	struct unpack_opts o = {
	    .limit = 2 * one, .limit_why = "test", .used = &used};
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	assert_int_equal(image_unpack_fd(fd, d, &o, &err), 0);
	close(fd);
	assert_int_equal(used, 2 * one);
	/* A second layer on the same count passes the limit at once. */
	char *d2 = scratch();
	fd = open(file, O_RDONLY | O_CLOEXEC);
	assert_int_equal(image_unpack_fd(fd, d2, &o, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "unpacks to more than"));
	assert_non_null(strstr(err.msg, "(test)"));
	close(fd);
	/* One byte short: the second file's data is refused. */
	char *d3 = scratch();
	used = 0;
	o.limit = 2 * one - 1;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	assert_int_equal(image_unpack_fd(fd, d3, &o, &err), -EFBIG);
	close(fd);
	unlink(file);
	free(file);
	free(w.buf);
	cleanup(d);
	cleanup(d2);
	cleanup(d3);
}

static void test_raw_keeps_holes(void **state)
{
	char *d = scratch();
	char *src = xasprintf("%s/src", d);
	char *dst = xasprintf("%s/dst", d);
	size_t n = 3 << 20;
	char *data = xcalloc(1, n);
	memcpy(data, "head", 4);
	memcpy(data + n - 4, "tail", 4);
	assert_int_equal(hull_file_write_atomic(src, data, n, 0644, NULL), 0);
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	struct hull_err err = {0};
	struct unpack_opts o = {.compression = "none"};
	if (image_unpack_raw_fd(fd, dst, &o, &err) < 0)
		fail_msg("%s", err.msg);
	close(fd);
	struct stat st;
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_size, (off_t)n);
	assert_true(st.st_blocks * 512 < (blkcnt_t)n / 2);
	char *back;
	size_t len;
	assert_int_equal(hull_file_read(dst, n + 1, &back, &len, NULL), 0);
	assert_int_equal(len, n);
	assert_memory_equal(back, data, n);
	free(back);
	free(data);
	free(src);
	free(dst);
	cleanup(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_regular_tree),
	    cmocka_unit_test(test_hostile_entries),
	    cmocka_unit_test(test_whiteouts),
	    cmocka_unit_test(test_whiteout_names_plain_without_flag),
	    cmocka_unit_test(test_garbage_and_truncation),
	    cmocka_unit_test(test_expected_compression_and_tap),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_raw_keeps_holes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
