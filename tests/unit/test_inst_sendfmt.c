/*
 * test_inst_sendfmt.c - the vmadm send stream's framing (src/inst/
 * sendfmt.c): the intro and its versions, the header's checks (the record
 * is the header's instance, datasets are its own), a header's round trip,
 * and the chunked datasets read back whole or refused when cut or corrupt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inst/sendfmt.h"
#include "lib/xalloc.h"

#define U "6248ebcc-6b38-49c0-858b-851502ce2a1b"
#define IMG "34b9ca07-48aa-4656-ac54-18a0fa5575fa"

static void test_intro(void **state)
{
	uint8_t b[SENDFMT_INTRO_LEN];
	uint32_t v, hl;
	struct hull_err err;
	sendfmt_intro_make(b, 1234);
	assert_int_equal(sendfmt_intro_parse(b, &v, &hl, &err), 0);
	assert_int_equal(v, SENDFMT_VERSION);
	assert_int_equal(hl, 1234);
	sendfmt_put32(b + 8, SENDFMT_VERSION + 1);
	assert_int_equal(sendfmt_intro_parse(b, &v, &hl, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "newer"));
	sendfmt_put32(b + 8, 0);
	assert_int_equal(sendfmt_intro_parse(b, &v, &hl, &err), -EINVAL);
	sendfmt_intro_make(b, 0);
	assert_int_equal(sendfmt_intro_parse(b, &v, &hl, &err), -EINVAL);
	sendfmt_intro_make(b, SENDFMT_HEADER_MAX + 1);
	assert_int_equal(sendfmt_intro_parse(b, &v, &hl, &err), -EINVAL);
	sendfmt_intro_make(b, 10);
	b[0] = 'X';
	assert_int_equal(sendfmt_intro_parse(b, &v, &hl, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "magic"));
}

static int parse(const char *datasets, const char *rec_uuid,
		 struct sendfmt_header *h, struct hull_err *err)
{
	char *text = xasprintf(
	    "{\"uuid\":\"" U "\",\"backend\":\"btrfs\",\"zonepath\":\"/z/" U
	    "\",\"live\":false,\"record\":{\"uuid\":\"%s\",\"brand\":\"lx\"},"
	    "\"datasets\":%s}",
	    rec_uuid, datasets);
	int r = sendfmt_header_parse(text, strlen(text), 1, h, err);
	free(text);
	return r;
}

static void test_header_checks(void **state)
{
	struct sendfmt_header h;
	struct hull_err err;
	assert_int_equal(parse("[{\"name\":\"" U "\",\"snapshot\":\"send-1\"}]",
			       U, &h, &err),
			 0);
	assert_int_equal(h.nds, 1);
	assert_null(h.ds[0].base);
	assert_string_equal(h.ds[0].snapshot, "send-1");
	sendfmt_header_fini(&h);
	/* A record of another instance. */
	assert_int_equal(parse("[{\"name\":\"" U "\",\"snapshot\":\"send-1\"}]",
			       IMG, &h, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "record is for"));
	static const char *const bad[] = {
	    "[{\"name\":\"" U "/..\",\"snapshot\":\"send-1\"}]",
	    "[{\"name\":\"" U "/../x\",\"snapshot\":\"send-1\"}]",
	    "[{\"name\":\"images\",\"snapshot\":\"send-1\"}]",
	    "[{\"name\":\"" IMG "\",\"snapshot\":\"send-1\"}]",
	    "[{\"name\":\"" U "/data\",\"snapshot\":\"send-1\"}]",
	    "[{\"name\":\"" U "\",\"snapshot\":\"../x\"}]",
	    "[{\"name\":\"" U "\",\"snapshot\":\"s\",\"base\":\"s\"}]",
	    "[{\"name\":\"" U "\",\"snapshot\":\"s\"},{\"name\":\"" U
	    "\",\"snapshot\":\"s\"}]",
	    "[{\"name\":\"" U "\",\"snapshot\":\"s\",\"parent\":\"images/" IMG
	    "@final\"}]",
	    "[{\"name\":\"" U "\",\"snapshot\":\"s\",\"parent\":\"../" IMG
	    "@final\",\"parent_id\":\"0123456789abcdef0123456789abcdef\","
	    "\"parent_ctransid\":1}]",
	    "[]",
	    "{}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(parse(bad[i], U, &h, &err), -EINVAL);
		assert_null(h.ds);
	}
	assert_int_equal(sendfmt_header_parse("{", 1, 1, &h, &err), -EINVAL);
}

static void test_header_round_trip(void **state)
{
	struct sendfmt_header h;
	struct hull_err err;
	assert_int_equal(parse("[{\"name\":\"" U
			       "\",\"snapshot\":\"send-1\",\"parent\":"
			       "\"images/" IMG "@final\",\"parent_id\":"
			       "\"0123456789abcdef0123456789abcdef\","
			       "\"parent_ctransid\":77},{\"name\":\"" U
			       "/data\",\"snapshot\":\"send-1\"}]",
			       U, &h, &err),
			 0);
	char *text = sendfmt_header_dump(&h);
	struct sendfmt_header h2;
	assert_int_equal(sendfmt_header_parse(text, strlen(text), 1, &h2, &err),
			 0);
	assert_int_equal(h2.nds, 2);
	assert_string_equal(h2.ds[0].parent, "images/" IMG "@final");
	assert_int_equal(h2.ds[0].parent_ctransid, 77);
	assert_string_equal(h2.ds[1].name, U "/data");
	assert_string_equal(h2.zonepath, "/z/" U);
	free(text);
	sendfmt_header_fini(&h);
	sendfmt_header_fini(&h2);
}

struct mem {
	const uint8_t *p;
	size_t left;
};

static int mem_read(void *arg, void *buf, size_t n, struct hull_err *err)
{
	struct mem *m = arg;
	if (n > m->left)
		return -ENODATA;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return 0;
}

struct out {
	uint8_t b[64];
	size_t n;
};

static int sink(void *arg, const uint8_t *p, size_t n, struct hull_err *err)
{
	struct out *o = arg;
	assert_true(o->n + n <= sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
	return 0;
}

/* Two chunks ("abc", "de"), the end, the sum, the end mark. */
static size_t framed(uint8_t *b, uint64_t sum)
{
	size_t n = 0;
	sendfmt_put32(b + n, 3);
	memcpy(b + n + 4, "abc", 3);
	n += 7;
	sendfmt_put32(b + n, 2);
	memcpy(b + n + 4, "de", 2);
	n += 6;
	sendfmt_put32(b + n, 0);
	sendfmt_put64(b + n + 4, sum);
	n += 12;
	memcpy(b + n, SENDFMT_END, 8);
	return n + 8;
}

static void test_datasets(void **state)
{
	static uint8_t buf[SENDFMT_CHUNK_MAX];
	uint8_t b[64];
	struct hull_err err;
	uint64_t total;
	size_t n = framed(b, 5);
	struct mem m = {b, n};
	struct sendfmt_reader rd = {mem_read, &m, NULL};
	struct out o = {.n = 0};
	assert_int_equal(sendfmt_dataset_read(&rd, buf, sink, &o, &total, &err),
			 0);
	assert_int_equal(total, 5);
	assert_memory_equal(o.b, "abcde", 5);
	assert_int_equal(sendfmt_end_read(&rd, &err), 0);
	/* Every cut is refused. */
	for (size_t cut = 0; cut < n; cut++) {
		struct mem c = {b, cut};
		struct sendfmt_reader rc = {mem_read, &c, NULL};
		struct out oc = {.n = 0};
		int r = sendfmt_dataset_read(&rc, buf, sink, &oc, &total, &err);
		if (r == 0)
			r = sendfmt_end_read(&rc, &err);
		assert_int_equal(r, -EPIPE);
	}
	/* A wrong sum, a chunk too long, a missing end mark. */
	n = framed(b, 6);
	m = (struct mem){b, n};
	o.n = 0;
	assert_int_equal(sendfmt_dataset_read(&rd, buf, sink, &o, &total, &err),
			 -EINVAL);
	n = framed(b, 5);
	sendfmt_put32(b, SENDFMT_CHUNK_MAX + 1);
	m = (struct mem){b, n};
	assert_int_equal(sendfmt_dataset_read(&rd, buf, sink, &o, &total, &err),
			 -EINVAL);
	n = framed(b, 5);
	b[n - 1] = 'X';
	m = (struct mem){b, n};
	o.n = 0;
	assert_int_equal(sendfmt_dataset_read(&rd, buf, sink, &o, &total, &err),
			 0);
	assert_int_equal(sendfmt_end_read(&rd, &err), -EINVAL);
}

static void test_snapname(void **state)
{
	assert_true(sendfmt_snapname_valid("send-1"));
	assert_true(sendfmt_snapname_valid("a.b:c_d"));
	assert_false(sendfmt_snapname_valid(""));
	assert_false(sendfmt_snapname_valid(".hidden"));
	assert_false(sendfmt_snapname_valid("a/b"));
	assert_false(sendfmt_snapname_valid("a@b"));
	char longname[66];
	memset(longname, 'a', 65);
	longname[65] = '\0';
	assert_false(sendfmt_snapname_valid(longname));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_intro),
	    cmocka_unit_test(test_header_checks),
	    cmocka_unit_test(test_header_round_trip),
	    cmocka_unit_test(test_datasets),
	    cmocka_unit_test(test_snapname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
