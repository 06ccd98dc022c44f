/*
 * test_websock.c - the WebSocket protocol's pure parts (head/websock.h):
 * RFC 6455's own handshake example, header tokens, strict UTF-8, and the
 * frame reader on the RFC's example frames, fragments, control frames in
 * between, and each way a client can break the protocol.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "head/websock.h"

static void test_accept(void **state)
{
	(void)state;
	char out[WS_ACCEPT_LEN];
	/* RFC 6455 1.3's example. */
	assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ=", out), -EINVAL);
	assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25j!!==", out), -EINVAL);
	/* 24 characters but 17 bytes' worth is impossible; 12 bytes: */
	assert_int_equal(ws_accept("AAAAAAAAAAAAAAAA", out), -EINVAL);
	assert_int_equal(ws_accept(NULL, out), -EINVAL);
}

static void test_tokens(void **state)
{
	(void)state;
	assert_true(ws_header_has_token("keep-alive, Upgrade", "upgrade"));
	assert_true(ws_header_has_token("websocket", "websocket"));
	assert_true(ws_header_has_token(" WebSocket ", "websocket"));
	assert_false(ws_header_has_token("websockets", "websocket"));
	assert_false(ws_header_has_token("keep-alive", "upgrade"));
	assert_false(ws_header_has_token(NULL, "upgrade"));
	assert_false(ws_header_has_token("", "upgrade"));
}

static void test_utf8(void **state)
{
	(void)state;
	const char *good[] = {"",
			      "abc",
			      "\xc3\xa9",
			      "\xe2\x82\xac",
			      "\xf0\x9f\x98\x80",
			      "\xf4\x8f\xbf\xbf"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_true(
		    ws_utf8_valid((const uint8_t *)good[i], strlen(good[i])));
	const char *bad[] = {"\xc0\xaf",	 "\xe0\x80\xaf", "\xed\xa0\x80",
			     "\xf4\x90\x80\x80", "\xff",	 "\xc3",
			     "\xe2\x82",	 "\x80",	 "a\xc3("};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(
		    ws_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
}

/* A client frame: masked with key, as a browser sends it. */
static size_t frame(uint8_t *out, uint8_t b0, const void *data, size_t n)
{
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t h = ws_frame_header(out, 0, n);
	out[0] = b0;
	out[1] |= 0x80;
	memcpy(out + h, key, 4);
	for (size_t i = 0; i < n; i++)
		out[h + 4 + i] = ((const uint8_t *)data)[i] ^ key[i & 3];
	return h + 4 + n;
}

static void test_reader_rfc_examples(void **state)
{
	(void)state;
	struct ws_reader r;
	struct hull_err err = {0};
	struct ws_msg m;
	size_t used;
	ws_reader_init(&r, 1 << 16);
	/* RFC 6455 5.7: a single-frame masked text message "Hello". */
	uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
			   0x7f, 0x9f, 0x4d, 0x51, 0x58};
	/* Byte by byte: nothing until the last one. */
	for (size_t n = 0; n < sizeof(hello); n++) {
		assert_int_equal(ws_reader_next(&r, hello, n, &used, &m, &err),
				 0);
		assert_int_equal(used, 0);
	}
	assert_int_equal(
	    ws_reader_next(&r, hello, sizeof(hello), &used, &m, &err), 1);
	assert_int_equal(used, sizeof(hello));
	assert_int_equal(m.opcode, WS_OP_TEXT);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.payload, "Hello", 5);
	ws_reader_fini(&r);
}

static void test_reader_fragments(void **state)
{
	(void)state;
	struct ws_reader r;
	struct hull_err err = {0};
	struct ws_msg m;
	size_t used, off = 0;
	uint8_t buf[256];
	ws_reader_init(&r, 1 << 16);
	size_t n = frame(buf, WS_OP_TEXT, "Hel", 3);
	n += frame(buf + n, 0x80 | WS_OP_PING, "p", 1);
	n += frame(buf + n, 0x80 | WS_OP_CONT, "lo", 2);
	assert_int_equal(ws_reader_next(&r, buf, n, &used, &m, &err), 0);
	assert_true(used > 0);
	off += used;
	/* The ping between fragments comes out on its own. */
	assert_int_equal(
	    ws_reader_next(&r, buf + off, n - off, &used, &m, &err), 1);
	assert_int_equal(m.opcode, WS_OP_PING);
	assert_memory_equal(m.payload, "p", 1);
	off += used;
	assert_int_equal(
	    ws_reader_next(&r, buf + off, n - off, &used, &m, &err), 1);
	assert_int_equal(m.opcode, WS_OP_TEXT);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.payload, "Hello", 5);
	off += used;
	assert_int_equal(off, n);
	/* A 16-bit length. */
	uint8_t big[300], data[200];
	memset(data, 'x', sizeof(data));
	n = frame(big, 0x80 | WS_OP_BINARY, data, sizeof(data));
	assert_int_equal(big[1] & 0x7f, 126);
	assert_int_equal(ws_reader_next(&r, big, n, &used, &m, &err), 1);
	assert_int_equal(m.len, 200);
	assert_memory_equal(m.payload, data, 200);
	ws_reader_fini(&r);
}

static void expect_fail(const uint8_t *in, size_t n, size_t max, uint16_t code)
{
	struct ws_reader r;
	struct hull_err err = {0};
	struct ws_msg m;
	size_t used, off = 0;
	uint8_t buf[512];
	memcpy(buf, in, n);
	ws_reader_init(&r, max);
	int rc;
	while ((rc = ws_reader_next(&r, buf + off, n - off, &used, &m, &err)) >=
	       0) {
		assert_true(used > 0); /* else the input was incomplete */
		off += used;
	}
	assert_int_equal(r.close_code, code);
	assert_true(err.msg[0]);
	ws_reader_fini(&r);
}

static void test_reader_refusals(void **state)
{
	(void)state;
	uint8_t b[512];
	size_t n;
	/* Unmasked. */
	uint8_t unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
	expect_fail(unmasked, sizeof(unmasked), 1024, WS_CLOSE_PROTOCOL);
	/* Reserved bits. */
	n = frame(b, 0xc1, "a", 1);
	expect_fail(b, n, 1024, WS_CLOSE_PROTOCOL);
	/* Unknown opcode. */
	n = frame(b, 0x83, "a", 1);
	expect_fail(b, n, 1024, WS_CLOSE_PROTOCOL);
	/* A fragmented ping. */
	n = frame(b, WS_OP_PING, "a", 1);
	expect_fail(b, n, 1024, WS_CLOSE_PROTOCOL);
	/* A continuation with no message. */
	n = frame(b, 0x80, "a", 1);
	expect_fail(b, n, 1024, WS_CLOSE_PROTOCOL);
	/* A new message inside a fragmented one. */
	n = frame(b, WS_OP_TEXT, "a", 1);
	n += frame(b + n, 0x80 | WS_OP_TEXT, "b", 1);
	expect_fail(b, n, 1024, WS_CLOSE_PROTOCOL);
	/* Invalid UTF-8, whole and across fragments. */
	n = frame(b, 0x80 | WS_OP_TEXT, "\xc0\xaf", 2);
	expect_fail(b, n, 1024, WS_CLOSE_BAD_DATA);
	n = frame(b, WS_OP_TEXT, "\xe2\x82", 2);
	n += frame(b + n, 0x80, "(", 1);
	expect_fail(b, n, 1024, WS_CLOSE_BAD_DATA);
	/* Too big, known from the header alone: a 64-bit length. */
	uint8_t huge[] = {0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4};
	expect_fail(huge, sizeof(huge), 1024, WS_CLOSE_TOO_BIG);
	/* Too big over fragments. */
	uint8_t part[100];
	memset(part, 'y', sizeof(part));
	n = 0;
	for (int i = 0; i < 4; i++)
		n += frame(b + n, WS_OP_BINARY * (i == 0), part, sizeof(part));
	expect_fail(b, n, 300, WS_CLOSE_TOO_BIG);
	/* Fragments forever: empty ones, counted. */
	struct ws_reader r;
	struct hull_err err = {0};
	struct ws_msg m;
	size_t used;
	ws_reader_init(&r, 1024);
	n = frame(b, WS_OP_BINARY, "", 0);
	assert_int_equal(ws_reader_next(&r, b, n, &used, &m, &err), 0);
	int rc = 0;
	for (int i = 0; i < 10000 && rc >= 0; i++) {
		n = frame(b, 0x00, "", 0);
		rc = ws_reader_next(&r, b, n, &used, &m, &err);
	}
	assert_true(rc < 0);
	assert_int_equal(r.close_code, WS_CLOSE_TOO_BIG);
	ws_reader_fini(&r);
	/* A length not in its shortest form. */
	uint8_t longform[] = {0x82, 0xfe, 0, 5, 1, 2, 3, 4, 1, 2, 3, 4, 5};
	expect_fail(longform, sizeof(longform), 1024, WS_CLOSE_PROTOCOL);
	/* A close frame with a one-byte body. */
	n = frame(b, 0x80 | WS_OP_CLOSE, "x", 1);
	expect_fail(b, n, 1024, WS_CLOSE_PROTOCOL);
}

static void test_frame_header(void **state)
{
	(void)state;
	uint8_t h[10];
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 5), 2);
	assert_int_equal(h[0], 0x82);
	assert_int_equal(h[1], 5);
	assert_int_equal(ws_frame_header(h, WS_OP_TEXT, 256), 4);
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2], 1);
	assert_int_equal(h[3], 0);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 65536), 10);
	assert_int_equal(h[1], 127);
	assert_int_equal(h[7], 1);
	assert_int_equal(h[8], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_reader_rfc_examples),
	    cmocka_unit_test(test_reader_fragments),
	    cmocka_unit_test(test_reader_refusals),
	    cmocka_unit_test(test_frame_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
