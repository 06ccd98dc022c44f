/*
 * test_lib.c - the shared core: errors, uuids, files, JSON, spawning.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cgroupfs.h"
#include "lib/conframe.h"
#include "lib/digest.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/prog.h"
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

/* /proc/self/cgroup as hybrid, v2-only and shared-hierarchy hosts show it:
 * what hull_cgroupfs_ensure would mount, and lines it refuses. */
static void test_cgroupfs_parse(void **state)
{
	(void)state;
	struct hull_cgroupfs_layout l;
	const char *hybrid = "9:name=systemd:/user.slice\n"
			     "4:memory:/a:b\n"
			     "2:cpu,cpuacct:/\n"
			     "0::/user.slice/x.scope\n";
	assert_int_equal(hull_cgroupfs_parse(hybrid, strlen(hybrid), &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v1[0], "name=systemd");
	assert_string_equal(l.v1[1], "memory");
	assert_string_equal(l.v1[2], "cpu,cpuacct");
	assert_true(l.v2);
	const char *v2 = "0::/init.scope\n";
	assert_int_equal(hull_cgroupfs_parse(v2, strlen(v2), &l), 0);
	assert_int_equal(l.n, 0);
	assert_true(l.v2);
	/* no trailing newline, an empty line */
	const char *tail = "\n3:pids:/";
	assert_int_equal(hull_cgroupfs_parse(tail, strlen(tail), &l), 0);
	assert_int_equal(l.n, 1);
	assert_false(l.v2);
	static const char *const bad[] = {
	    "memory:/\n", "x:memory:/\n",  "4:memory\n",  "4:memory:\n",
	    "4::/\n",	  "4:mem ory:/\n", ":memory:/\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(
		    hull_cgroupfs_parse(bad[i], strlen(bad[i]), &l), -EINVAL);
	char many[2048] = "";
	for (int i = 1; i <= HULL_CGROUPFS_MAX + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%d:c%d:/\n", i, i);
	assert_int_equal(hull_cgroupfs_parse(many, strlen(many), &l), -EINVAL);
}

/* Makes an executable file at dir/rel (folders included). */
static void put_prog(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel);
	for (char *s = strchr(p + strlen(dir) + 1, '/'); s;
	     s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(chmod(p, 0755), 0);
	free(p);
}

static void assert_found(const char *selfdir, const char *name,
			 const char *libexec, const char *want)
{
	char *got =
	    hull_helper_find_in(selfdir, name, "/usr/local/sbin", libexec);
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	char *rgot = realpath(got, NULL), *rwant = realpath(want, NULL);
	assert_non_null(rwant);
	assert_string_equal(rgot, rwant);
	free(rgot);
	free(rwant);
	free(got);
}

/* The build tree's layouts, an install under DESTDIR, the configured
 * libexecdir itself, and nothing found. */
static void test_helper_find(void **state)
{
	char tmpl[] = "/tmp/hull-prog-XXXXXX";
	char *t = mkdtemp(tmpl);
	assert_non_null(t);
	put_prog(t, "b/src/cmd/hull-supervisor");
	put_prog(t, "b/src/cmd/hull-vmm/hull-vmm");
	put_prog(t, "b/src/cmd/mdata/mdata-get");
	put_prog(t, "d/usr/local/libexec/hull/hull-supervisor");
	put_prog(t, "d/usr/local/libexec/hull/mdata/mdata-get");
	char *cmd = xasprintf("%s/b/src/cmd", t);
	char *vmadm = xasprintf("%s/b/src/cmd/vmadm", t);
	char *sbin = xasprintf("%s/d/usr/local/sbin", t);
	assert_int_equal(mkdir(sbin, 0755), 0);
	assert_int_equal(mkdir(vmadm, 0755), 0);
	char *lx = xasprintf("%s/d/usr/local/libexec/hull", t);
	char *want;

	want = xasprintf("%s/hull-supervisor", cmd);
	assert_found(vmadm, "hull-supervisor", "/nonexistent", want);
	assert_found(cmd, "hull-supervisor", "/nonexistent", want);
	free(want);
	want = xasprintf("%s/hull-vmm/hull-vmm", cmd);
	assert_found(cmd, "hull-vmm", "/nonexistent", want);
	free(want);
	want = xasprintf("%s/mdata/mdata-get", cmd);
	assert_found(vmadm, "mdata/mdata-get", "/nonexistent", want);
	free(want);
	/* DESTDIR: the program in <t>/d/usr/local/sbin finds <t>/d/usr/local/
	 * libexec/hull, and so does a helper in that libexecdir. */
	want = xasprintf("%s/hull-supervisor", lx);
	assert_found(sbin, "hull-supervisor", "/usr/local/libexec/hull", want);
	free(want);
	want = xasprintf("%s/mdata/mdata-get", lx);
	assert_found(lx, "mdata/mdata-get", "/usr/local/libexec/hull", want);
	free(want);
	/* The configured libexecdir, from anywhere. */
	want = xasprintf("%s/hull-supervisor", lx);
	assert_found("/nonexistent", "hull-supervisor", lx, want);
	free(want);
	assert_found(sbin, "hull-vmm", "/usr/local/libexec/hull", NULL);

	char *rm = xasprintf("rm -rf '%s'", t);
	assert_int_equal(system(rm), 0);
	free(rm);
	free(cmd);
	free(vmadm);
	free(sbin);
	free(lx);
}

static void assert_data(const char *selfdir, const char *datadir,
			const char *want)
{
	char *got =
	    hull_data_find_in(selfdir, "console", "/usr/local/sbin", datadir);
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	char *rgot = realpath(got, NULL), *rwant = realpath(want, NULL);
	assert_non_null(rwant);
	assert_string_equal(rgot, rwant);
	free(rgot);
	free(rwant);
	free(got);
}

/* The console's pages: the build tree's copy (data/NAME at the build
 * root beside src/cmd), an install under DESTDIR, the configured datadir,
 * and nothing found. */
static void test_data_find(void **state)
{
	char tmpl[] = "/tmp/hull-data-XXXXXX";
	char *t = mkdtemp(tmpl);
	assert_non_null(t);
	put_prog(t, "b/src/cmd/hull-api");
	put_prog(t, "b/data/console/index.html");
	put_prog(t, "d/usr/local/sbin/hull-api");
	put_prog(t, "d/usr/local/share/hull/console/index.html");
	char *cmd = xasprintf("%s/b/src/cmd", t);
	char *sbin = xasprintf("%s/d/usr/local/sbin", t);
	char *want = xasprintf("%s/b/data/console", t);
	assert_data(cmd, "/nonexistent", want);
	free(want);
	want = xasprintf("%s/d/usr/local/share/hull/console", t);
	assert_data(sbin, "/usr/local/share/hull", want);
	char *share = xasprintf("%s/d/usr/local/share/hull", t);
	assert_data("/nonexistent", share, want);
	free(want);
	assert_data(sbin, "/nonexistent", NULL);
	assert_data(t, "/nonexistent", NULL);
	char *rm = xasprintf("rm -rf '%s'", t);
	assert_int_equal(system(rm), 0);
	free(rm);
	free(cmd);
	free(sbin);
	free(share);
}

/* The head node's console records, as the agent reads them: whole
 * records, a record cut short, and the refusals. */
static void test_conframe(void **state)
{
	(void)state;
	uint8_t buf[64];
	conframe_header(buf, CONFRAME_DATA, 3);
	memcpy(buf + 5, "abc", 3);
	conframe_resize(buf + 8, 37, 300);
	struct conframe f;
	size_t used;
	assert_int_equal(conframe_next(buf, 4, &f, &used), 0);
	assert_int_equal(conframe_next(buf, 7, &f, &used), 0);
	assert_int_equal(conframe_next(buf, 17, &f, &used), 1);
	assert_int_equal(used, 8);
	assert_int_equal(f.type, CONFRAME_DATA);
	assert_memory_equal(f.data, "abc", 3);
	assert_int_equal(conframe_next(buf + 8, 8, &f, &used), 0);
	assert_int_equal(conframe_next(buf + 8, 9, &f, &used), 1);
	assert_int_equal(f.type, CONFRAME_RESIZE);
	assert_int_equal(f.rows, 37);
	assert_int_equal(f.cols, 300);
	/* An unknown type, an empty or oversized record, a zero size. */
	buf[0] = 'X';
	assert_int_equal(conframe_next(buf, 8, &f, &used), -EPROTO);
	conframe_header(buf, CONFRAME_DATA, 0);
	assert_int_equal(conframe_next(buf, 5, &f, &used), -EPROTO);
	conframe_header(buf, CONFRAME_DATA, CONFRAME_DATA_MAX + 1);
	assert_int_equal(conframe_next(buf, 5, &f, &used), -EPROTO);
	conframe_header(buf, CONFRAME_RESIZE, 5);
	assert_int_equal(conframe_next(buf, 10, &f, &used), -EPROTO);
	conframe_resize(buf, 0, 80);
	assert_int_equal(conframe_next(buf, 9, &f, &used), -EPROTO);
}

/* Known answers (FIPS 180-2's "abc" and the empty message), in one piece
 * and fed in parts; libcrypto is loaded by the first digest, not at exec. */
static void test_digest(void **state)
{
	(void)state;
	assert_false(hull_digest_loaded());
	char hex[HULL_DIGEST_HEX_MAX];
	hull_sha256_hex("abc", 3, hex);
	assert_true(hull_digest_loaded());
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	hull_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	struct hull_err err;
	struct hull_digest *d = hull_digest_new(HULL_DIGEST_SHA1, &err);
	assert_non_null(d);
	hull_digest_update(d, "a", 1);
	hull_digest_update(d, "bc", 2);
	hull_digest_hex(d, hex);
	hull_digest_free(d);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
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
	    cmocka_unit_test(test_cgroupfs_parse),
	    cmocka_unit_test(test_conframe),
	    cmocka_unit_test(test_digest),
	    cmocka_unit_test(test_helper_find),
	    cmocka_unit_test(test_data_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
