/*
 * test_metadata_proto.c - the metadata protocol codec: CRC-32, base64, V1
 * and V2 request parsing, response encoding, against the bytes of the
 * worked example in spec/smartos.md §3.8 and every malformed-frame case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metadata/b64.h"
#include "metadata/crc32.h"
#include "metadata/proto.h"

static void test_crc32_check_values(void **state)
{
	assert_int_equal(metadata_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(metadata_crc32("", 0), 0);
	/* Bodies of the worked example (spec §3.8). */
	assert_int_equal(metadata_crc32("dc4fae17 SUCCESS W10=", 21),
			 0x265ae1d8u);
	assert_int_equal(metadata_crc32("8c2a91f0 GET c2RjOnV1aWQ=", 25),
			 0xc4192fcfu);
	assert_int_equal(metadata_crc32("8c2a91f0 NOTFOUND", 17), 0x56c7e2f7u);
	assert_int_equal(metadata_crc32("8c2a91f0 KEYS", 13), 0x069659f3u);
	assert_int_equal(metadata_crc32("8c2a91f0 DELETE Zm9v", 20),
			 0x4dbe7744u);
}

static void check_b64(const char *plain, const char *enc)
{
	char out[64];
	unsigned char dec[64];
	size_t n;
	size_t len = strlen(plain);
	assert_int_equal(metadata_b64_encoded_len(len), strlen(enc));
	assert_int_equal(metadata_b64_encode(plain, len, out), strlen(enc));
	assert_memory_equal(out, enc, strlen(enc));
	assert_true(metadata_b64_decode(enc, strlen(enc), dec, &n));
	assert_int_equal(n, len);
	assert_memory_equal(dec, plain, len);
}

static void test_b64_round_trips(void **state)
{
	check_b64("", "");
	check_b64("f", "Zg==");
	check_b64("fo", "Zm8=");
	check_b64("foo", "Zm9v");
	check_b64("sdc:uuid", "c2RjOnV1aWQ=");
	check_b64("OK", "T0s=");
	check_b64("Zm9v YmFyIGJheg==", "Wm05diBZbUZ5SUdKaGVnPT0=");
}

static void test_b64_rejects_malformed(void **state)
{
	static const char *bad[] = {
	    "Zg=",  "Zg",	"Z===",	  "====", "Zm9v!",
	    "Zm 9", "Zg==Zg==", "Zh==", /* non-zero bits under the padding */
	    "Zm9=", "ab=c",	"Zm9v\n",
	};
	unsigned char out[16];
	size_t n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(
		    metadata_b64_decode(bad[i], strlen(bad[i]), out, &n));
}

static enum metadata_verdict parse(const char *line,
				   struct metadata_request *req)
{
	return metadata_request_parse(line, strlen(line), req);
}

static void test_v2_get_from_worked_example(void **state)
{
	struct metadata_request req;
	assert_int_equal(
	    parse("V2 25 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=", &req),
	    METADATA_REQ_OK);
	assert_int_equal(req.version, 2);
	assert_int_equal(req.op, METADATA_OP_GET);
	assert_string_equal(req.reqid, "8c2a91f0");
	assert_string_equal(req.key, "sdc:uuid");
	metadata_request_fini(&req);
}

static void test_v2_keys_put_delete_from_worked_example(void **state)
{
	struct metadata_request req;
	assert_int_equal(parse("V2 13 069659f3 8c2a91f0 KEYS", &req),
			 METADATA_REQ_OK);
	assert_int_equal(req.op, METADATA_OP_KEYS);
	metadata_request_fini(&req);

	assert_int_equal(
	    parse("V2 37 a369e757 8c2a91f0 PUT Wm05diBZbUZ5SUdKaGVnPT0=", &req),
	    METADATA_REQ_OK);
	assert_int_equal(req.op, METADATA_OP_PUT);
	assert_string_equal(req.key, "foo");
	assert_int_equal(req.value_len, 7);
	assert_string_equal(req.value, "bar baz");
	metadata_request_fini(&req);

	assert_int_equal(parse("V2 20 4dbe7744 8c2a91f0 DELETE Zm9v", &req),
			 METADATA_REQ_OK);
	assert_int_equal(req.op, METADATA_OP_DELETE);
	assert_string_equal(req.key, "foo");
	metadata_request_fini(&req);
}

static void assert_buf(struct metadata_buf *b, const char *want)
{
	assert_non_null(b->data);
	assert_int_equal(b->len, strlen(want));
	assert_string_equal(b->data, want);
	metadata_buf_fini(b);
}

static void test_v2_replies_match_worked_example(void **state)
{
	struct metadata_buf b = {0};
	const char *uuid = "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b";

	metadata_reply_v2(&b, "dc4fae17", METADATA_SUCCESS, "[]", 2);
	assert_buf(&b, "V2 21 265ae1d8 dc4fae17 SUCCESS W10=\n");
	metadata_reply_v2(&b, "8c2a91f0", METADATA_SUCCESS, uuid, strlen(uuid));
	assert_buf(&b, "V2 65 3695fa49 8c2a91f0 SUCCESS "
		       "NGYyYjFjM2UtNmE3ZC00ZThmLTlhMGItMWMyZDNlNGY1YTZi\n");
	metadata_reply_v2(&b, "8c2a91f0", METADATA_NOTFOUND, NULL, 0);
	assert_buf(&b, "V2 17 56c7e2f7 8c2a91f0 NOTFOUND\n");
	metadata_reply_v2(&b, "8c2a91f0", METADATA_SUCCESS, "OK", 2);
	assert_buf(&b, "V2 21 dabf1d7c 8c2a91f0 SUCCESS T0s=\n");
	const char *msg = "Cannot update the \"sdc\" Namespace.";
	metadata_reply_v2(&b, "8c2a91f0", METADATA_FAILURE, msg, strlen(msg));
	assert_buf(&b, "V2 65 2fc64522 8c2a91f0 FAILURE "
		       "Q2Fubm90IHVwZGF0ZSB0aGUgInNkYyIgTmFtZXNwYWNlLg==\n");
	/* Requests the client builds. */
	metadata_frame_v2(&b, "8c2a91f0", "GET", "sdc:uuid", 8);
	assert_buf(&b, "V2 25 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=\n");
	metadata_frame_v2(&b, "8c2a91f0", "KEYS", NULL, 0);
	assert_buf(&b, "V2 13 069659f3 8c2a91f0 KEYS\n");
	metadata_frame_v2(&b, "8c2a91f0", "PUT", "Zm9v YmFyIGJheg==", 17);
	assert_buf(&b, "V2 37 a369e757 8c2a91f0 PUT "
		       "Wm05diBZbUZ5SUdKaGVnPT0=\n");
}

/* Lines that are not requests at all: "invalid command". */
static void test_v2_malformed_frames_are_invalid(void **state)
{
	static const char *bad[] = {
	    "V2 25 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ",	/* short body */
	    "V2 24 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=", /* wrong length */
	    "V2 25 c4192fce 8c2a91f0 GET c2RjOnV1aWQ=", /* wrong CRC */
	    "V2 25 C4192FCF 8c2a91f0 GET c2RjOnV1aWQ=", /* upper-case */
	    "V2 25 c4192fc 8c2a91f0 GET c2RjOnV1aWQ=",	/* 7 digits */
	    "V2 25 c4192fcf0 8c2a91f0 GET c2RjOnV1aWQ=",
	    "V2 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=", /* no length */
	    "V2 x5 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=",
	    "V2 99999999 c4192fcf 8c2a91f0 GET", /* absurd length */
	    "V2 25  c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=",
	    "V2 ",
	    "V2 0 00000000 ",
	    "V2 1",
	    "V2 1 ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metadata_request req;
		assert_int_equal(parse(bad[i], &req), METADATA_REQ_INVALID);
		assert_non_null(req.error);
		metadata_request_fini(&req);
	}
}

/* Builds a correctly framed request with an arbitrary body. */
static char *frame(const char *body)
{
	struct metadata_buf b = {0};
	char head[48];
	snprintf(head, sizeof(head), "V2 %zu %08x ", strlen(body),
		 (unsigned)metadata_crc32(body, strlen(body)));
	metadata_buf_puts(&b, head);
	metadata_buf_puts(&b, body);
	return b.data;
}

static void expect_body(const char *body, enum metadata_verdict want,
			const char *error)
{
	struct metadata_request req;
	char *line = frame(body);
	assert_int_equal(parse(line, &req), want);
	if (error)
		assert_string_equal(req.error, error);
	metadata_request_fini(&req);
	free(line);
}

static void test_v2_bad_bodies(void **state)
{
	/* No usable request id: nothing to address a FAILURE to. */
	expect_body("GET", METADATA_REQ_INVALID, NULL);
	expect_body("8c2a91f0", METADATA_REQ_INVALID, NULL);
	expect_body("8C2A91F0 GET c2RjOnV1aWQ=", METADATA_REQ_INVALID, NULL);
	expect_body("0123456789abcdef0123456789abcdef0 KEYS",
		    METADATA_REQ_INVALID, NULL);
	/* A request id and something wrong after it: FAILURE. */
	expect_body("8c2a91f0 FROB", METADATA_REQ_FAILURE, "Unknown command");
	expect_body("8c2a91f0 NEGOTIATE VjI=", METADATA_REQ_FAILURE,
		    "Unknown command");
	expect_body("8c2a91f0 get c2RjOnV1aWQ=", METADATA_REQ_FAILURE,
		    "Unknown command");
	expect_body("8c2a91f0 GET c2RjOnV1aWQ", METADATA_REQ_FAILURE,
		    "Invalid base64 payload");
	expect_body("8c2a91f0 GET !!!!", METADATA_REQ_FAILURE,
		    "Invalid base64 payload");
	expect_body("8c2a91f0 GET", METADATA_REQ_FAILURE, "Missing key");
	expect_body("8c2a91f0 DELETE", METADATA_REQ_FAILURE, "Missing key");
	expect_body("8c2a91f0 GET ", METADATA_REQ_FAILURE, "Invalid key");
	expect_body("8c2a91f0 GET YQBi", METADATA_REQ_FAILURE,
		    "Invalid key"); /* "a\0b" */
	expect_body("8c2a91f0 GET YQpi", METADATA_REQ_FAILURE,
		    "Invalid key"); /* "a\nb" */
	expect_body("8c2a91f0 PUT", METADATA_REQ_FAILURE,
		    "Invalid PUT Request");
	expect_body("8c2a91f0 PUT Zm9v", METADATA_REQ_FAILURE,
		    "Invalid PUT Request"); /* "foo": no space */
	expect_body("8c2a91f0 PUT Wm05dg==", METADATA_REQ_FAILURE,
		    "Invalid PUT Request"); /* "Zm9v" */
	expect_body("8c2a91f0 PUT Wm05diAhISE=", METADATA_REQ_FAILURE,
		    "Invalid PUT Request"); /* "Zm9v !!!" */
	expect_body("8c2a91f0 PUT IFltRnk=", METADATA_REQ_FAILURE,
		    "Invalid key"); /* " YmFy": empty key */
	/* KEYS ignores a payload; an empty value is a value. */
	expect_body("8c2a91f0 KEYS Zm9v", METADATA_REQ_OK, NULL);
	expect_body("8c2a91f0 PUT Wm05diA=", METADATA_REQ_OK, NULL);
}

static void test_v2_oversized_key_and_value(void **state)
{
	struct metadata_request req;
	size_t klen = METADATA_KEY_MAX + 1;
	char *key = malloc(klen);
	memset(key, 'k', klen);
	struct metadata_buf body = {0};
	char *enc = malloc(metadata_b64_encoded_len(klen) + 1);
	enc[metadata_b64_encode(key, klen, enc)] = '\0';
	metadata_buf_puts(&body, "00000001 GET ");
	metadata_buf_puts(&body, enc);
	expect_body(body.data, METADATA_REQ_FAILURE, "Invalid key");
	metadata_buf_fini(&body);
	free(enc);
	free(key);

	/* A value one byte over the limit, PUT as the protocol carries it. */
	size_t vlen = METADATA_VALUE_MAX + 1;
	char *val = malloc(vlen);
	memset(val, 'v', vlen);
	size_t ve = metadata_b64_encoded_len(vlen);
	char *inner = malloc(5 + ve);
	memcpy(inner, "Zm9v ", 5);
	metadata_b64_encode(val, vlen, inner + 5);
	struct metadata_buf out = {0};
	metadata_frame_v2(&out, "00000002", "PUT", inner, 5 + ve);
	assert_true(out.len - 1 <= METADATA_LINE_MAX);
	assert_int_equal(metadata_request_parse(out.data, out.len - 1, &req),
			 METADATA_REQ_FAILURE);
	assert_string_equal(req.error, "Value too large");
	assert_string_equal(req.reqid, "00000002");
	metadata_request_fini(&req);
	metadata_buf_fini(&out);

	/* Exactly at the limit is fine. */
	metadata_frame_v2(&out, "00000003", "PUT", inner,
			  5 + metadata_b64_encode(val, vlen - 1, inner + 5));
	assert_int_equal(metadata_request_parse(out.data, out.len - 1, &req),
			 METADATA_REQ_OK);
	assert_int_equal(req.value_len, METADATA_VALUE_MAX);
	metadata_request_fini(&req);
	metadata_buf_fini(&out);
	free(inner);
	free(val);
}

static void test_line_too_long_is_invalid(void **state)
{
	struct metadata_request req;
	size_t n = METADATA_LINE_MAX + 1;
	char *line = malloc(n);
	memset(line, 'A', n);
	memcpy(line, "GET ", 4);
	assert_int_equal(metadata_request_parse(line, n, &req),
			 METADATA_REQ_INVALID);
	free(line);
}

static void test_v1_requests(void **state)
{
	struct metadata_request req;
	assert_int_equal(parse("GET sdc:uuid", &req), METADATA_REQ_OK);
	assert_int_equal(req.version, 1);
	assert_int_equal(req.op, METADATA_OP_GET);
	assert_string_equal(req.key, "sdc:uuid");
	metadata_request_fini(&req);
	assert_int_equal(parse("GET a key with spaces", &req), METADATA_REQ_OK);
	assert_string_equal(req.key, "a key with spaces");
	metadata_request_fini(&req);
	assert_int_equal(parse("KEYS", &req), METADATA_REQ_OK);
	assert_int_equal(req.op, METADATA_OP_KEYS);
	assert_int_equal(parse("NEGOTIATE V2", &req), METADATA_REQ_OK);
	assert_int_equal(req.op, METADATA_OP_NEGOTIATE);
	/* NEGOTIATE with another version: FAILURE (spec §3.3). */
	assert_int_equal(parse("NEGOTIATE V3", &req), METADATA_REQ_FAILURE);
	/* Noise and what V1 does not have: invalid command (spec §3.2). */
	static const char *bad[] = {
	    "",		  "GET",	 "GET ",       "NEGOTIATE",
	    "NEGOTIATE ", "PUT foo bar", "DELETE foo", "get sdc:uuid",
	    "FROB",	  " GET x",	 "V2",	       "V2_OK",
	    "SUCCESS",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &req), METADATA_REQ_INVALID);
		metadata_request_fini(&req);
	}
}

static void test_v1_replies(void **state)
{
	struct metadata_buf b = {0};
	metadata_reply_v1(&b, METADATA_SUCCESS, "abc", 3);
	assert_buf(&b, "SUCCESS\nabc\n.\n");
	metadata_reply_v1(&b, METADATA_SUCCESS, ".a\n..b\nc.\n.", 11);
	assert_buf(&b, "SUCCESS\n..a\n...b\nc.\n..\n.\n");
	metadata_reply_v1(&b, METADATA_SUCCESS, "", 0);
	assert_buf(&b, "SUCCESS\n\n.\n");
	metadata_reply_v1(&b, METADATA_NOTFOUND, NULL, 0);
	assert_buf(&b, "NOTFOUND\n");
	metadata_reply_v1(&b, METADATA_FAILURE, "why", 3);
	assert_buf(&b, "FAILURE\n");
}

static void test_response_parse(void **state)
{
	struct metadata_response r;
	const char *ok = "V2 65 3695fa49 8c2a91f0 SUCCESS "
			 "NGYyYjFjM2UtNmE3ZC00ZThmLTlhMGItMWMyZDNlNGY1YTZi";
	assert_int_equal(metadata_response_parse(ok, strlen(ok), &r), 0);
	assert_int_equal(r.status, METADATA_SUCCESS);
	assert_string_equal(r.reqid, "8c2a91f0");
	assert_string_equal(r.payload, "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b");
	metadata_response_fini(&r);
	const char *nf = "V2 17 56c7e2f7 8c2a91f0 NOTFOUND";
	assert_int_equal(metadata_response_parse(nf, strlen(nf), &r), 0);
	assert_int_equal(r.status, METADATA_NOTFOUND);
	assert_int_equal(r.payload_len, 0);
	metadata_response_fini(&r);
	static const char *bad[] = {
	    "V2 17 56c7e2f6 8c2a91f0 NOTFOUND",
	    "V2 16 56c7e2f7 8c2a91f0 NOTFOUND",
	    "V2 13 069659f3 8c2a91f0 KEYS",
	    "invalid command",
	    "V2_OK",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    metadata_response_parse(bad[i], strlen(bad[i]), &r), -1);
		metadata_response_fini(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32_check_values),
	    cmocka_unit_test(test_b64_round_trips),
	    cmocka_unit_test(test_b64_rejects_malformed),
	    cmocka_unit_test(test_v2_get_from_worked_example),
	    cmocka_unit_test(test_v2_keys_put_delete_from_worked_example),
	    cmocka_unit_test(test_v2_replies_match_worked_example),
	    cmocka_unit_test(test_v2_malformed_frames_are_invalid),
	    cmocka_unit_test(test_v2_bad_bodies),
	    cmocka_unit_test(test_v2_oversized_key_and_value),
	    cmocka_unit_test(test_line_too_long_is_invalid),
	    cmocka_unit_test(test_v1_requests),
	    cmocka_unit_test(test_v1_replies),
	    cmocka_unit_test(test_response_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
