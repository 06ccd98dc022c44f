/*
 * test_agent_http.c - the agent's plain-HTTP answer reader
 * (agent/http.h): a Content-Length answer, a chunked one, an answer read
 * to the connection's end, and each way a broken or hostile head node's
 * bytes are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/http.h"

static int parse(const char *raw, long *status, char **out, size_t *len)
{
	struct hull_err err = {0};
	*out = NULL;
	return agent_http_parse(raw, strlen(raw), status, out, len, &err);
}

static void test_content_length(void **state)
{
	(void)state;
	long st;
	char *out;
	size_t n;
	assert_int_equal(parse("HTTP/1.1 201 Created\r\nContent-Type: "
			       "application/json\r\ncontent-length: 8\r\n\r\n"
			       "{\"a\":1}\ntrailing",
			       &st, &out, &n),
			 0);
	assert_int_equal(st, 201);
	assert_int_equal(n, 8);
	assert_string_equal(out, "{\"a\":1}\n");
	free(out);
	/* No length: the body is what came before the connection closed. */
	assert_int_equal(
	    parse("HTTP/1.0 404 Not Found\r\n\r\n{}", &st, &out, &n), 0);
	assert_int_equal(st, 404);
	assert_string_equal(out, "{}");
	free(out);
	assert_int_equal(
	    parse("HTTP/1.1 204 No Content\r\n\r\n", &st, &out, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	free(out);
}

static void test_chunked(void **state)
{
	(void)state;
	long st;
	char *out;
	size_t n;
	assert_int_equal(
	    parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "4\r\n{\"ab\r\nA;ext=1\r\n\":[1,2,3]}\r\n0\r\n\r\n",
		  &st, &out, &n),
	    0);
	assert_int_equal(st, 200);
	assert_string_equal(out, "{\"ab\":[1,2,3]}");
	assert_int_equal(n, 14);
	free(out);
}

static void test_refusals(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "HTTP/1.1 200 OK\r\n",     /* no header end */
	    "SSH-2.0-OpenSSH\r\n\r\n", /* not HTTP */
	    "HTTP/1.1 2x0 OK\r\n\r\n", /* status */
	    "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}", /* cut */
	    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}",
	    "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n"
	    "\r\n{}",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ffffffffffffffffff\r\nab\r\n0\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		long st;
		char *out;
		size_t n;
		assert_int_equal(parse(bad[i], &st, &out, &n), -EPROTO);
		assert_null(out);
	}
}

static void test_is_plain(void **state)
{
	(void)state;
	assert_true(agent_http_is_plain("http://192.0.2.1:8080"));
	assert_true(agent_http_is_plain("HTTP://head"));
	assert_false(agent_http_is_plain("https://192.0.2.1"));
	assert_false(agent_http_is_plain("ftp://x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_length),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_is_plain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
