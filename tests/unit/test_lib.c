/*
 * test_lib.c - the shared core: errors, uuids, files, JSON, spawning.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/regex.h"
#include "lib/spawn.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

static void test_err_set_returns_negative_code(void **state)
{
	struct hull_err err;
	assert_int_equal(hull_err_set(&err, ENOENT, "no %s", "thing"), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "no thing");
	assert_int_equal(hull_err_set(NULL, -EINVAL, "x"), -EINVAL);
}

static void test_err_prefix_adds_context(void **state)
{
	struct hull_err err;
	hull_err_sys(&err, ENOSPC, "clone %s", "img");
	assert_int_equal(hull_err_prefix(&err, "create %s", "vm1"), -ENOSPC);
	assert_string_equal(err.msg,
			    "create vm1: clone img: No space left on device");
}

static void test_uuid_generate_is_valid_v4(void **state)
{
	char a[HULL_UUID_LEN + 1], b[HULL_UUID_LEN + 1];
	hull_uuid_generate(a);
	hull_uuid_generate(b);
	assert_true(hull_uuid_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
}

static void test_uuid_valid_rejects_malformed(void **state)
{
	assert_true(hull_uuid_valid("7b3c1f0e-0000-4000-8000-00000000abcd"));
	assert_false(hull_uuid_valid("7b3c1f0e-0000-4000-8000-00000000abc"));
	assert_false(hull_uuid_valid("7b3c1f0e00000-4000-8000-00000000abcd"));
	assert_false(hull_uuid_valid("7b3c1f0e-0000-4000-8000-00000000abcg"));
	assert_false(hull_uuid_valid(""));
	assert_false(hull_uuid_valid(NULL));
}

static char *tmpdir_new(void)
{
	char *t = xstrdup("/tmp/hull-unit-XXXXXX");
	assert_non_null(mkdtemp(t));
	return t;
}

static void test_file_write_atomic_and_read(void **state)
{
	char *dir = tmpdir_new();
	char *path = xasprintf("%s/a/b/rec.json", dir);
	char *parent = xasprintf("%s/a/b", dir);
	struct hull_err err;
	assert_int_equal(hull_mkdir_p(parent, 0755, &err), 0);
	assert_int_equal(hull_file_write_atomic(path, "hello", 5, 0600, &err),
			 0);
	char *buf;
	size_t len;
	assert_int_equal(hull_file_read(path, 100, &buf, &len, &err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	free(buf);
	/* A file over the limit is refused, not truncated. */
	assert_int_equal(hull_file_read(path, 4, &buf, &len, &err), -EFBIG);
	assert_int_equal(hull_rm_rf(dir, &err), 0);
	assert_false(hull_path_exists(dir));
	free(path);
	free(parent);
	free(dir);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* An existing open folder is closed; a symbolic link is refused, and what
 * it points to keeps its mode. */
static void test_mkdir_mode_tightens_existing(void **state)
{
	char *dir = tmpdir_new();
	char *d = xasprintf("%s/inst/config", dir);
	char *link = xasprintf("%s/link", dir);
	char *f = xasprintf("%s/rec", d);
	struct hull_err err;
	assert_int_equal(hull_mkdir_p(d, 0755, &err), 0);
	assert_int_equal(chmod(d, 0755), 0);
	assert_int_equal(hull_mkdir_mode(d, 0700, &err), 0);
	assert_int_equal(mode_of(d), 0700);
	assert_int_equal(hull_file_write_atomic(f, "x", 1, 0644, &err), 0);
	assert_int_equal(hull_chmod_exact(f, 0600, &err), 0);
	assert_int_equal(mode_of(f), 0600);
	/* missing is fine */
	assert_int_equal(hull_chmod_exact(link, 0600, &err), 0);
	assert_int_equal(symlink(d, link), 0);
	assert_int_equal(chmod(d, 0755), 0);
	assert_int_equal(hull_mkdir_mode(link, 0700, &err), -ELOOP);
	assert_int_equal(mode_of(d), 0755);
	assert_int_equal(hull_rm_rf(dir, &err), 0);
	free(f);
	free(link);
	free(d);
	free(dir);
}

static void test_json_load_reports_line(void **state)
{
	struct hull_err err;
	json_t *j = hull_json_load_buf("payload", "{\n\"a\": }", 8, &err);
	assert_null(j);
	assert_int_equal(err.code, EINVAL);
	assert_non_null(strstr(err.msg, "payload: invalid JSON at line 2"));
	/* Duplicate keys are refused: a payload must mean one thing. */
	assert_null(hull_json_load_buf("p", "{\"a\":1,\"a\":2}", 13, &err));
}

static void test_json_save_is_sorted_and_newline_terminated(void **state)
{
	char *dir = tmpdir_new();
	char *path = xasprintf("%s/x.json", dir);
	struct hull_err err;
	json_t *j = json_pack("{s:i,s:s}", "b", 1, "a", "x");
	assert_int_equal(hull_json_save_file(path, j, &err), 0);
	/* records are root's alone (lib/root.h) */
	assert_int_equal(mode_of(path), 0600);
	char *buf;
	assert_int_equal(hull_file_read(path, 1000, &buf, NULL, &err), 0);
	assert_string_equal(buf, "{\n  \"a\": \"x\",\n  \"b\": 1\n}\n");
	free(buf);
	json_decref(j);
	hull_rm_rf(dir, &err);
	free(path);
	free(dir);
}

static void test_run_captures_output_and_errors(void **state)
{
	struct hull_err err;
	char *out = NULL;
	char *const ok[] = {"sh", "-c", "echo hi", NULL};
	assert_int_equal(hull_run(ok, -1, -1, &out, &err), 0);
	assert_string_equal(out, "hi\n");
	free(out);
	char *const bad[] = {"sh", "-c",
			     "echo first >&2; echo boom >&2; exit 3", NULL};
	assert_int_equal(hull_run(bad, -1, -1, NULL, &err), -EIO);
	assert_string_equal(err.msg, "sh: boom");
	char *const missing[] = {"hull-no-such-program", NULL};
	assert_true(hull_run(missing, -1, -1, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "hull-no-such-program"));
}

static void test_regex_cost_bounds_expansion(void **state)
{
	const size_t over = HULL_REGEX_MAX_NODES + 1;
	assert_int_equal(hull_regex_cost("abc"), 3);
	assert_int_equal(hull_regex_cost("a+"), 2);
	assert_int_equal(hull_regex_cost("(ab){3}"), 9);
	assert_int_equal(hull_regex_cost("a{2,}"), 3);
	assert_int_equal(hull_regex_cost("a|b"), 3);
	/* bracket expressions are one atom, whatever they hold */
	assert_int_equal(hull_regex_cost("[{]a{2}"), 3);
	assert_int_equal(hull_regex_cost("[]a]"), 1);
	assert_int_equal(hull_regex_cost("[[:alpha:]]+"), 2);
	/* '{' that opens no interval is an ordinary character */
	assert_int_equal(hull_regex_cost("a{x"), 3);
	/* what makes glibc's tree explode */
	assert_int_equal(hull_regex_cost("a++"), over);
	assert_int_equal(hull_regex_cost("x+*"), over);
	assert_int_equal(hull_regex_cost("(((a{32}){32}){32})"), over);
	assert_int_equal(
	    hull_regex_cost("((((((((((((((((((a))))))))))))))))))"), over);
	char long_re[HULL_REGEX_MAX_LEN + 2];
	memset(long_re, 'a', sizeof(long_re) - 1);
	long_re[sizeof(long_re) - 1] = '\0';
	assert_int_equal(hull_regex_cost(long_re), over);
	/* a fuzzer's find: '{' inside a bracket once hid a "+++" chain */
	assert_int_equal(hull_regex_cost("[{\"nic_tag\":],\"m+++4"), over);
}

static void test_regcomp_refuses_with_one_message(void **state)
{
	regex_t re;
	struct hull_err err = {0};
	assert_int_equal(hull_regcomp(&re, "^web[0-9]+$", &err), 0);
	assert_int_equal(regexec(&re, "web12", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&re, "web", 0, NULL, 0), 0);
	regfree(&re);
	assert_true(hull_regcomp(&re, "(a{64}){64}", &err) < 0);
	assert_non_null(strstr(err.msg, "too complex"));
	assert_true(hull_regcomp(&re, "(", &err) < 0);
	assert_non_null(strstr(err.msg, "bad regular expression"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_err_set_returns_negative_code),
	    cmocka_unit_test(test_err_prefix_adds_context),
	    cmocka_unit_test(test_uuid_generate_is_valid_v4),
	    cmocka_unit_test(test_uuid_valid_rejects_malformed),
	    cmocka_unit_test(test_file_write_atomic_and_read),
	    cmocka_unit_test(test_mkdir_mode_tightens_existing),
	    cmocka_unit_test(test_json_load_reports_line),
	    cmocka_unit_test(test_json_save_is_sorted_and_newline_terminated),
	    cmocka_unit_test(test_run_captures_output_and_errors),
	    cmocka_unit_test(test_regex_cost_bounds_expansion),
	    cmocka_unit_test(test_regcomp_refuses_with_one_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
