/*
 * test_table.c - list output: filters, sorting, rendering.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/table.h"

static json_t *rows(void)
{
	json_error_t je;
	json_t *r = json_loads(
	    "[{\"uuid\": \"b\", \"name\": \"web\", \"ram\": 512, \"on\": true,"
	    "  \"tags\": {\"role\": \"front\"},"
	    "  \"nics\": [{\"ip\": \"192.0.2.10\"}, {\"ip\": \"192.0.2.11\"}]},"
	    " {\"uuid\": \"a\", \"name\": \"db\", \"ram\": 4096, \"on\": false,"
	    "  \"nics\": [{\"ip\": \"198.51.100.5\"}]},"
	    " {\"uuid\": \"c\", \"name\": \"web2\", \"ram\": 512,"
	    "  \"alias\": \"x:y\"}]",
	    0, &je);
	assert_non_null(r);
	return r;
}

static char *uuids(json_t *rs)
{
	static char buf[64];
	size_t n = 0;
	size_t i;
	json_t *r;
	json_array_foreach(rs, i, r) buf[n++] =
	    json_string_value(json_object_get(r, "uuid"))[0];
	buf[n] = '\0';
	return buf;
}

static char *select_with(const char *f1, const char *f2, unsigned flags)
{
	char *args[2] = {(char *)f1, (char *)f2};
	struct table_filter *f;
	struct hull_err err = {0};
	assert_int_equal(table_filters_parse(args, f2 ? 2 : 1, flags, &f, &err),
			 0);
	json_t *all = rows();
	json_t *sel = table_select(all, f, NULL);
	char *out = strdup(uuids(sel));
	json_decref(sel);
	json_decref(all);
	table_filters_free(f);
	return out;
}

static void expect_select(const char *f1, const char *f2, unsigned flags,
			  const char *want)
{
	char *got = select_with(f1, f2, flags);
	if (strcmp(got, want))
		fail_msg("%s %s: got '%s', want '%s'", f1, f2 ? f2 : "", got,
			 want);
	free(got);
}

static void test_filters(void **state)
{
	expect_select("name=web", NULL, 0, "b");
	expect_select("name=~web", NULL, 0, "bc");
	expect_select("ram=512", NULL, 0, "bc");
	expect_select("ram=512", "name=web2", 0, "c");
	expect_select("on=true", NULL, 0, "b");
	expect_select("on=false", NULL, 0, "a");
	expect_select("tags.role=front", NULL, 0, "b");
	expect_select("nics.1.ip=192.0.2.11", NULL, 0, "b");
	expect_select("nics.*.ip=198.51.100.5", NULL, 0, "a");
	expect_select("nics.*.ip=~192.0.2.", NULL, 0, "b");
	expect_select("name=~^web[0-9]$", NULL, TABLE_FILTER_REGEX, "c");
	expect_select("missing=x", NULL, 0, "");
	expect_select("name=", NULL, 0, "");
}

static void test_filter_parse_errors(void **state)
{
	struct table_filter *f;
	struct hull_err err = {0};
	char *bad[] = {"novalue"};
	assert_int_equal(table_filters_parse(bad, 1, 0, &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "novalue"));
	char *bad2[] = {"=x"};
	assert_int_equal(table_filters_parse(bad2, 1, 0, &f, &err), -EINVAL);
	char *bad3[] = {"name=~(("};
	assert_int_equal(
	    table_filters_parse(bad3, 1, TABLE_FILTER_REGEX, &f, &err),
	    -EINVAL);
}

static void test_sort(void **state)
{
	struct hull_err err = {0};
	json_t *r = rows();
	assert_int_equal(table_sort(r, "uuid", NULL, &err), 0);
	assert_string_equal(uuids(r), "abc");
	assert_int_equal(table_sort(r, "-uuid", NULL, &err), 0);
	assert_string_equal(uuids(r), "cba");
	/* Numbers by value (512 < 4096, not as text), ties stable. */
	assert_int_equal(table_sort(r, "ram", NULL, &err), 0);
	assert_string_equal(uuids(r), "cba");
	assert_int_equal(table_sort(r, "ram,uuid", NULL, &err), 0);
	assert_string_equal(uuids(r), "bca");
	assert_int_equal(table_sort(r, "-ram,+name", NULL, &err), 0);
	assert_string_equal(uuids(r), "abc");
	/* Missing values last, both directions. */
	assert_int_equal(table_sort(r, "alias,uuid", NULL, &err), 0);
	assert_string_equal(uuids(r), "cab");
	assert_int_equal(table_sort(r, "-alias,uuid", NULL, &err), 0);
	assert_string_equal(uuids(r), "cab");
	assert_int_equal(table_sort(r, "uuid,,name", NULL, &err), -EINVAL);
	json_decref(r);
}

static void test_render(void **state)
{
	json_t *r = rows();
	char *t = table_render(r, "uuid,name,ram,alias", 0, NULL);
	assert_string_equal(t, "UUID  NAME  RAM   ALIAS\n"
			       "b     web   512   -\n"
			       "a     db    4096  -\n"
			       "c     web2  512   x:y\n");
	free(t);
	t = table_render(r, "name,on", TABLE_NO_HEADER, NULL);
	assert_string_equal(t, "web   true\n"
			       "db    false\n"
			       "web2  -\n");
	free(t);
	t = table_render(r, "uuid,alias,nics.0.ip", TABLE_PARSABLE, NULL);
	assert_string_equal(t, "b::192.0.2.10\n"
			       "a::198.51.100.5\n"
			       "c:x\\:y:\n");
	free(t);
	json_t *empty = json_array();
	t = table_render(empty, "uuid", TABLE_NO_HEADER, NULL);
	assert_string_equal(t, "");
	free(t);
	json_decref(empty);
	json_decref(r);
}

static json_t *upper_lookup(json_t *row, const char *key, void *ctx)
{
	if (!strcmp(key, "shout")) {
		const char *n = json_string_value(json_object_get(row, "name"));
		char buf[32];
		size_t i = 0;
		for (; n[i] && i < 31; i++)
			buf[i] = (char)toupper((unsigned char)n[i]);
		buf[i] = '\0';
		return json_string(buf);
	}
	return table_path_get(row, key, ctx);
}

static const char *header(const char *key, void *ctx)
{
	return !strcmp(key, "ram") ? "MEM" : NULL;
}

static void test_custom_view(void **state)
{
	struct table_view v = {.lookup = upper_lookup, .header = header};
	json_t *r = rows();
	char *t = table_render(r, "shout,ram", 0, &v);
	assert_string_equal(t, "SHOUT  MEM\n"
			       "WEB    512\n"
			       "DB     4096\n"
			       "WEB2   512\n");
	free(t);
	struct hull_err err = {0};
	assert_int_equal(table_sort(r, "shout", &v, &err), 0);
	assert_string_equal(uuids(r), "abc");
	json_decref(r);
}

static void test_value_text(void **state)
{
	json_t *a = json_pack("[s, i, b]", "x", 3, 1);
	char *t = table_value_text(a);
	assert_string_equal(t, "x,3,true");
	free(t);
	json_decref(a);
	assert_null(table_value_text(NULL));
	assert_null(table_value_text(json_null()));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_filter_parse_errors),
	    cmocka_unit_test(test_sort),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_custom_view),
	    cmocka_unit_test(test_value_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
