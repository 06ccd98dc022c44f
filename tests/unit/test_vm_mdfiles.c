/*
 * test_vm_mdfiles.c - large metadata values in side files beside the
 * record (vm/mdfiles.h), through the record functions and through the
 * metadata server's file store; the escaped-size count they rely on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/xalloc.h"
#include "metadata/resolve.h"
#include "metadata/store.h"
#include "vm/mdfiles.h"

struct fixture {
	char dir[64];
	char *path; /* <dir>/vm.json */
	char *mdir; /* <dir>/metadata */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_mdfiles.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/vm.json", f->dir);
	f->mdir = xasprintf("%s/metadata", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hull_rm_rf(f->dir, NULL);
	free(f->path);
	free(f->mdir);
	free(f);
	return 0;
}

static char *filled(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Names in the side folder, sorted, joined by ','; "" when none and
 * NULL when the folder is gone. */
static char *side_names(struct fixture *f)
{
	struct dirent **list;
	int n = scandir(f->mdir, &list, NULL, alphasort);
	if (n < 0)
		return NULL;
	char *out = xstrdup("");
	for (int i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.') {
			char *t = xasprintf("%s%s%s", out, *out ? "," : "",
					    list[i]->d_name);
			free(out);
			out = t;
		}
		free(list[i]);
	}
	free(list);
	return out;
}

static json_t *raw(struct fixture *f)
{
	json_t *j = hull_json_load_file(f->path, NULL);
	assert_non_null(j);
	return j;
}

static json_t *record_with(const char *big_cm, const char *big_im)
{
	json_t *r = json_pack("{s:s,s:{s:s},s:{s:s}}", "uuid",
			      "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b",
			      "customer_metadata", "small", "s",
			      "internal_metadata", "hull:x", "1");
	if (big_cm) {
		json_object_set_new(json_object_get(r, "customer_metadata"),
				    "big", json_string(big_cm));
		json_object_set_new(json_object_get(r, "customer_metadata"),
				    "same", json_string(big_cm));
	}
	if (big_im)
		json_object_set_new(json_object_get(r, "internal_metadata"),
				    "docker:env", json_string(big_im));
	return r;
}

static void test_escaped_size_is_jansson_s(void **state)
{
	(void)state;
	char one[2] = {0};
	for (int c = 1; c < 128; c++) {
		one[0] = (char)c;
		json_t *s = json_string(one);
		assert_int_equal(hull_json_escaped_size(one, 1),
				 json_dumpb(s, NULL, 0, JSON_ENCODE_ANY));
		json_decref(s);
	}
	const char *mixed = "h\xc3\xa9llo \"w\"\\\x01\x1f\t\n\r\b\f/\x7f"
			    "\xe2\x80\xa8\xf0\x9f\x98\x80";
	json_t *s = json_string(mixed);
	assert_int_equal(hull_json_escaped_size(mixed, strlen(mixed)),
			 json_dumpb(s, NULL, 0, JSON_ENCODE_ANY));
	json_decref(s);
}

static void test_large_values_go_beside_the_record(void **state)
{
	struct fixture *f = *state;
	struct hull_err err = {0};
	char *big = filled('b', 8192), *env = filled('e', 5000);
	json_t *rec = record_with(big, env);
	json_t *before = json_deep_copy(rec);
	assert_int_equal(vm_mdfiles_save(f->path, rec, NULL, &err), 0);
	/* the caller's record is untouched */
	assert_true(json_equal(rec, before));

	/* the file holds references, the small values, never a big one */
	json_t *r = raw(f);
	json_t *cm = json_object_get(r, "customer_metadata");
	assert_string_equal(hull_json_str(cm, "small", ""), "s");
	assert_null(json_object_get(cm, "big"));
	assert_null(json_object_get(json_object_get(r, "internal_metadata"),
				    "docker:env"));
	json_t *ref =
	    json_object_get(json_object_get(json_object_get(r, VM_MDFILES_PROP),
					    "customer_metadata"),
			    "big");
	assert_int_equal(hull_json_int(ref, "size", 0), 8192);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size < 2048);
	json_decref(r);

	/* one file per distinct value (big and same share one), 0600 */
	char *names = side_names(f);
	assert_non_null(names);
	assert_int_equal(strlen(names), 64 + 1 + 64);
	char *p = xasprintf("%s/%.64s", f->mdir, names);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(st.st_size == 5000 || st.st_size == 8192);
	free(p);
	free(names);
	assert_int_equal(stat(f->mdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* and reading gives the record back whole */
	json_t *back = vm_mdfiles_load(f->path, NULL, &err);
	assert_non_null(back);
	assert_true(json_equal(back, before));

	/* the big value replaced by a small one, the other removed: their
	 * files go, and the folder with them */
	json_object_set_new(json_object_get(back, "customer_metadata"), "big",
			    json_string("now small"));
	json_object_del(json_object_get(back, "customer_metadata"), "same");
	assert_int_equal(vm_mdfiles_save(f->path, back, NULL, &err), 0);
	names = side_names(f);
	assert_int_equal(strlen(names), 64); /* docker:env's */
	free(names);
	json_object_del(json_object_get(back, "internal_metadata"),
			"docker:env");
	assert_int_equal(vm_mdfiles_save(f->path, back, NULL, &err), 0);
	assert_null(side_names(f));
	r = raw(f);
	assert_null(json_object_get(r, VM_MDFILES_PROP));
	assert_true(json_equal(r, back));
	json_decref(r);
	json_decref(back);
	json_decref(before);
	json_decref(rec);
	free(big);
	free(env);
}

static void test_many_middling_values_are_bounded(void **state)
{
	struct fixture *f = *state;
	struct hull_err err = {0};
	json_t *rec = record_with(NULL, NULL);
	json_t *cm = json_object_get(rec, "customer_metadata");
	for (int i = 0; i < 60; i++) {
		char k[16];
		snprintf(k, sizeof(k), "v%02d", i);
		char *v = filled((char)('a' + i % 26), 3000 + (size_t)i);
		json_object_set_new(cm, k, json_string(v));
		free(v);
	}
	assert_int_equal(vm_mdfiles_save(f->path, rec, NULL, &err), 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true((size_t)st.st_size < VM_MDFILES_INLINE_MAX + 8192);
	/* the largest went out first */
	json_t *r = raw(f);
	json_t *in = json_object_get(r, "customer_metadata");
	assert_null(json_object_get(in, "v59"));
	assert_non_null(json_object_get(in, "v00"));
	json_decref(r);
	json_t *back = vm_mdfiles_load(f->path, NULL, &err);
	assert_true(json_equal(back, rec));
	json_decref(back);
	json_decref(rec);
}

static void test_bad_side_files_are_errors(void **state)
{
	struct fixture *f = *state;
	struct hull_err err = {0};
	char *big = filled('b', 8192);
	json_t *rec = record_with(big, NULL);
	assert_int_equal(vm_mdfiles_save(f->path, rec, NULL, &err), 0);
	char *names = side_names(f);
	char *p = xasprintf("%s/%s", f->mdir, names);

	/* the same size, other bytes */
	big[100] = 'X';
	assert_int_equal(hull_file_write_atomic(p, big, 8192, 0600, NULL), 0);
	assert_null(vm_mdfiles_load(f->path, NULL, &err));
	assert_int_equal(err.code, EIO);
	json_t *r = raw(f);
	json_t *copy = json_deep_copy(r);
	assert_int_equal(vm_mdfiles_inline(r, f->dir, NULL, &err), -EIO);
	assert_true(json_equal(r, copy)); /* unchanged on failure */
	json_decref(copy);

	/* gone: an error, never "no record" (ENOENT) */
	unlink(p);
	assert_null(vm_mdfiles_load(f->path, NULL, &err));
	assert_int_equal(err.code, EIO);
	assert_non_null(strstr(err.msg, names));

	/* a reference that is not one (a path, say) */
	json_object_set_new(
	    json_object_get(json_object_get(r, VM_MDFILES_PROP),
			    "customer_metadata"),
	    "big",
	    json_pack("{s:s,s:i}", "sha256", "../../etc/passwd", "size", 1));
	assert_int_equal(vm_mdfiles_inline(r, f->dir, NULL, &err), -EINVAL);
	json_decref(r);
	free(p);
	free(names);
	json_decref(rec);
	free(big);
}

static void test_references_of_a_raw_record_are_kept(void **state)
{
	struct fixture *f = *state;
	struct hull_err err = {0};
	char *big = filled('b', 8192);
	json_t *rec = record_with(big, NULL);
	assert_int_equal(vm_mdfiles_save(f->path, rec, NULL, &err), 0);
	/* a writer that read the file without vm_mdfiles_load, and left
	 * temp files of a writer that died, and a file not ours */
	char *names = side_names(f);
	char *tmp = xasprintf("%s/%.64s.tmp.999", f->mdir, names);
	char *other = xasprintf("%s/README", f->mdir);
	assert_int_equal(hull_file_write_atomic(tmp, "x", 1, 0600, NULL), 0);
	assert_int_equal(hull_file_write_atomic(other, "x", 1, 0600, NULL), 0);
	json_t *r = raw(f);
	json_object_set_new(json_object_get(r, "customer_metadata"), "k",
			    json_string("v"));
	assert_int_equal(vm_mdfiles_save(f->path, r, NULL, &err), 0);
	json_t *back = vm_mdfiles_load(f->path, NULL, &err);
	assert_string_equal(
	    hull_json_str(json_object_get(back, "customer_metadata"), "big",
			  ""),
	    big);
	assert_string_equal(
	    hull_json_str(json_object_get(back, "customer_metadata"), "k", ""),
	    "v");
	char *after = side_names(f);
	char *want = xasprintf("README,%s", names);
	assert_string_equal(after, want);
	free(want);
	free(after);
	free(tmp);
	free(other);
	json_decref(back);
	json_decref(r);
	free(names);
	json_decref(rec);
	free(big);
}

static void test_cache_spares_rereading(void **state)
{
	struct fixture *f = *state;
	struct hull_err err = {0};
	struct vm_mdfiles_cache *c = vm_mdfiles_cache_new();
	char *big = filled('b', 8192);
	json_t *rec = record_with(big, NULL);
	assert_int_equal(vm_mdfiles_save(f->path, rec, c, &err), 0);
	/* what the cache knows is not read again: spoil the file (same
	 * size) and the cached value is still served; without the cache the
	 * spoiled file is found out */
	char *names = side_names(f);
	char *p = xasprintf("%s/%.64s", f->mdir, names);
	char *spoiled = filled('Z', 8192);
	assert_int_equal(hull_file_write_atomic(p, spoiled, 8192, 0600, NULL),
			 0);
	json_t *back = vm_mdfiles_load(f->path, c, &err);
	assert_non_null(back);
	assert_true(json_equal(back, rec));
	json_decref(back);
	assert_null(vm_mdfiles_load(f->path, NULL, &err));
	vm_mdfiles_cache_free(c);
	free(spoiled);
	free(p);
	free(names);
	json_decref(rec);
	free(big);
}

static int put_edit(json_t *rec, void *arg)
{
	char *msg = NULL;
	const char **kv = arg;
	enum metadata_status s =
	    metadata_apply(rec, kv[0], kv[1], kv[1] ? strlen(kv[1]) : 0, &msg);
	free(msg);
	return s == METADATA_SUCCESS ? 0 : 1;
}

static void test_store_puts_keep_large_values_out(void **state)
{
	struct fixture *f = *state;
	struct hull_err err = {0};
	char *big = filled('b', 300 * 1024);
	json_t *rec = record_with(big, NULL);
	assert_int_equal(hull_json_save_file(f->path, rec, &err), 0);
	struct metadata_file_store *fs = metadata_file_store_new(f->path);
	struct metadata_store st;
	metadata_file_store_bind(fs, &st);
	/* a record from before side files is read as it is */
	json_t *got = st.read(st.ctx, &err);
	assert_true(json_equal(got, rec));
	json_decref(got);
	/* and its first PUT moves the large values out */
	const char *kv[2] = {"k", "v"};
	assert_int_equal(st.modify(st.ctx, put_edit, kv, &err), 0);
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(sb.st_size < 4096);
	got = st.read(st.ctx, &err);
	assert_string_equal(
	    hull_json_str(json_object_get(got, "customer_metadata"), "big", ""),
	    big);
	assert_string_equal(
	    hull_json_str(json_object_get(got, "customer_metadata"), "k", ""),
	    "v");
	json_decref(got);
	/* a large PUT, then a DELETE of every large value */
	kv[0] = "root_pw";
	kv[1] = big;
	assert_int_equal(st.modify(st.ctx, put_edit, kv, &err), 0);
	char *names = side_names(f);
	assert_int_equal(strlen(names), 64); /* the same value, one file */
	free(names);
	const char *dels[][2] = {{"big", NULL}, {"same", NULL}};
	assert_int_equal(st.modify(st.ctx, put_edit, (void *)dels[0], &err), 0);
	assert_int_equal(st.modify(st.ctx, put_edit, (void *)dels[1], &err), 0);
	names = side_names(f); /* root_pw still names it */
	assert_int_equal(strlen(names), 64);
	free(names);
	kv[1] = NULL;
	assert_int_equal(st.modify(st.ctx, put_edit, kv, &err), 0);
	assert_null(side_names(f));
	metadata_file_store_free(fs);
	json_decref(rec);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaped_size_is_jansson_s),
	    cmocka_unit_test_setup_teardown(
		test_large_values_go_beside_the_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_many_middling_values_are_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_side_files_are_errors,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_references_of_a_raw_record_are_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_spares_rereading, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_store_puts_keep_large_values_out, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
