/*
 * test_metadata_server.c - the server core driven in-process over
 * socketpairs and a listening socket: answers, pipelining, an over-long
 * line, a client that does not read, the connection bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/xalloc.h"
#include "metadata/peer.h"
#include "metadata/proto.h"
#include "metadata/server.h"

static json_t *the_record;

static json_t *rec_read(void *ctx, struct hull_err *err)
{
	return json_incref(the_record);
}

static int rec_modify(void *ctx, int (*edit)(json_t *, void *), void *arg,
		      struct hull_err *err)
{
	return edit(the_record, arg);
}

static struct metadata_store store = {rec_read, rec_modify, NULL};

static int setup(void **state)
{
	the_record = json_pack("{s:s, s:{s:s}}", "uuid", "u-1",
			       "customer_metadata", "k", "v");
	return 0;
}

static int teardown(void **state)
{
	json_decref(the_record);
	return 0;
}

/* Runs the server until fd has a whole line, returns it (owned). */
static char *await_line(struct metadata_server *srv, int fd)
{
	struct metadata_buf b = {0};
	for (int spins = 0; spins < 2000; spins++) {
		assert_int_equal(metadata_server_run(srv, 1, NULL), 0);
		char c;
		ssize_t n;
		while ((n = recv(fd, &c, 1, MSG_DONTWAIT)) == 1) {
			metadata_buf_append(&b, &c, 1);
			if (c == '\n')
				return b.data;
		}
	}
	fail_msg("no answer; got '%s'", b.data ? b.data : "");
	return NULL;
}

static void send_str(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL),
			 (ssize_t)strlen(s));
}

static void expect_answer(struct metadata_server *srv, int fd, const char *want)
{
	char *got = await_line(srv, fd);
	assert_string_equal(got, want);
	free(got);
}

static void test_stream_answers_and_pipelines(void **state)
{
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	struct metadata_server *srv = metadata_server_new(&store, NULL, NULL);
	assert_non_null(srv);
	assert_int_equal(metadata_server_add_stream(srv, sp[0], NULL), 0);
	assert_int_equal(metadata_server_connections(srv), 1);
	/* Three requests in one write, the last one split in two. */
	send_str(sp[1], "\nNEGOTIATE V2\nV2 13 069659f3 8c2a91f0 KE");
	expect_answer(srv, sp[1], "invalid command\n");
	expect_answer(srv, sp[1], "V2_OK\n");
	send_str(sp[1], "YS\n");
	expect_answer(srv, sp[1], "V2 21 0665ec21 8c2a91f0 SUCCESS aw==\n");
	/* The peer hangs up: the stream is dropped. */
	close(sp[1]);
	for (int i = 0; i < 100 && metadata_server_connections(srv); i++)
		metadata_server_run(srv, 1, NULL);
	assert_int_equal(metadata_server_connections(srv), 0);
	metadata_server_free(srv);
}

static void test_long_line_is_discarded(void **state)
{
	struct metadata_server_limits lim;
	int sp[2];
	metadata_server_limits_default(&lim);
	lim.line_max = 1000;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	struct metadata_server *srv = metadata_server_new(&store, &lim, NULL);
	assert_int_equal(metadata_server_add_stream(srv, sp[0], NULL), 0);
	char *junk = xmalloc(5000);
	memset(junk, 'x', 5000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(send(sp[1], junk, 5000, 0), 5000);
		for (int k = 0; k < 5; k++)
			metadata_server_run(srv, 1, NULL);
	}
	/* Nothing answered while the line goes on, one answer at its end,
	 * and the next request is served normally. */
	char c;
	assert_int_equal(recv(sp[1], &c, 1, MSG_DONTWAIT), -1);
	send_str(sp[1], "yyy\nGET k\n");
	expect_answer(srv, sp[1], "invalid command\n");
	expect_answer(srv, sp[1], "SUCCESS\n");
	expect_answer(srv, sp[1], "v\n");
	expect_answer(srv, sp[1], ".\n");
	/* A line of exactly line_max bytes is still a line. */
	memset(junk, 'x', 1000);
	memcpy(junk, "GET ", 4);
	junk[1000] = '\n';
	assert_int_equal(send(sp[1], junk, 1001, 0), 1001);
	expect_answer(srv, sp[1], "NOTFOUND\n");
	free(junk);
	close(sp[1]);
	metadata_server_free(srv);
}

static void test_unread_answers_pause_reading(void **state)
{
	struct metadata_server_limits lim;
	int sp[2], other[2];
	metadata_server_limits_default(&lim);
	lim.out_max = 4096;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other), 0);
	int small = 4096;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct metadata_server *srv = metadata_server_new(&store, &lim, NULL);
	assert_int_equal(metadata_server_add_stream(srv, sp[0], NULL), 0);
	assert_int_equal(metadata_server_add_stream(srv, other[0], NULL), 0);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	/* The greedy client asks and asks and never reads. */
	size_t sent = 0;
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 50; i++) {
			if (send(sp[1], "KEYS\n", 5, MSG_NOSIGNAL) == 5)
				sent++;
		}
		metadata_server_run(srv, 0, NULL);
	}
	/* It stalled on its own unread answers... */
	assert_true(sent < 10000);
	/* ...and the other client is served all the same. */
	send_str(other[1], "GET sdc:uuid\n");
	expect_answer(srv, other[1], "SUCCESS\n");
	expect_answer(srv, other[1], "u-1\n");
	expect_answer(srv, other[1], ".\n");
	/* Once it reads, every request it got in is answered, in order. */
	fcntl(sp[1], F_SETFL, 0);
	size_t answers = 0;
	while (answers < sent) {
		char *line = await_line(srv, sp[1]);
		if (!strcmp(line, "SUCCESS\n"))
			answers++;
		else
			assert_true(!strcmp(line, "k\n") ||
				    !strcmp(line, ".\n"));
		free(line);
	}
	assert_int_equal(answers, sent);
	close(sp[1]);
	close(other[1]);
	metadata_server_free(srv);
}

static void test_pipelined_burst_over_out_max(void **state)
{
	struct metadata_server_limits lim;
	int sp[2];
	metadata_server_limits_default(&lim);
	lim.out_max = 64; /* a handful of answers */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	struct metadata_server *srv = metadata_server_new(&store, &lim, NULL);
	assert_int_equal(metadata_server_add_stream(srv, sp[0], NULL), 0);
	/* 100 requests in one write, read by a client with room for all the
	 * answers: each must come although no more input arrives. */
	struct metadata_buf burst = {0};
	for (int i = 0; i < 100; i++)
		metadata_buf_puts(&burst, "GET k\n");
	send_str(sp[1], burst.data);
	metadata_buf_fini(&burst);
	for (int i = 0; i < 100; i++) {
		expect_answer(srv, sp[1], "SUCCESS\n");
		expect_answer(srv, sp[1], "v\n");
		expect_answer(srv, sp[1], ".\n");
	}
	close(sp[1]);
	metadata_server_free(srv);
}

static void test_full_input_of_unanswered_lines(void **state)
{
	struct metadata_server_limits lim;
	int sp[2];
	metadata_server_limits_default(&lim);
	lim.line_max = 64; /* the input buffer fills with whole lines */
	lim.out_max = 16;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	int small = 4096;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct metadata_server *srv = metadata_server_new(&store, &lim, NULL);
	assert_int_equal(metadata_server_add_stream(srv, sp[0], NULL), 0);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	size_t sent = 0;
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 20; i++)
			if (send(sp[1], "GET k\n", 6, MSG_NOSIGNAL) == 6)
				sent++;
		metadata_server_run(srv, 0, NULL);
	}
	fcntl(sp[1], F_SETFL, 0);
	/* Read slowly, a little at a time, while the server runs: every
	 * request is answered and the connection stays up. */
	size_t answers = 0;
	while (answers < sent) {
		char *line = await_line(srv, sp[1]);
		answers += !strcmp(line, "SUCCESS\n");
		free(line);
	}
	assert_int_equal(metadata_server_connections(srv), 1);
	close(sp[1]);
	metadata_server_free(srv);
}

static void test_connection_bound(void **state)
{
	struct metadata_server_limits lim;
	metadata_server_limits_default(&lim);
	lim.max_conns = 3;
	char *dir = xstrdup("/tmp/hull-mds-XXXXXX");
	assert_non_null(mkdtemp(dir));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 16), 0);
	struct metadata_server *srv = metadata_server_new(&store, &lim, NULL);
	assert_int_equal(metadata_server_add_listener(srv, l, NULL), 0);
	int c[5];
	for (int i = 0; i < 5; i++) {
		c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(
		    connect(c[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
		for (int k = 0; k < 3; k++)
			metadata_server_run(srv, 1, NULL);
	}
	assert_int_equal(metadata_server_connections(srv), 3);
	/* The two that were quiet longest made room and see EOF. */
	char b;
	assert_int_equal(recv(c[0], &b, 1, 0), 0);
	assert_int_equal(recv(c[1], &b, 1, 0), 0);
	/* Activity counts: after c[2] speaks, c[3] is the oldest. */
	send_str(c[2], "GET k\n");
	expect_answer(srv, c[2], "SUCCESS\n");
	close(c[0]);
	c[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	send_str(c[0], "GET k\n");
	expect_answer(srv, c[0], "SUCCESS\n");
	assert_int_equal(recv(c[3], &b, 1, 0), 0);
	assert_int_equal(metadata_server_connections(srv), 3);
	send_str(c[4], "GET k\n");
	expect_answer(srv, c[4], "SUCCESS\n");
	for (int i = 0; i < 5; i++)
		close(c[i]);
	metadata_server_free(srv);
	unlink(sa.sun_path);
	rmdir(dir);
	free(dir);
}

/* Many connections that ask and never read: each stays under out_max,
 * but together they would hold out_max times their number. The bound is
 * the instance's: the total stays at buf_max (plus one answer), the
 * connections that would pass it are closed, and a newcomer is still
 * served once they are gone. */
static void test_buffers_bounded_per_instance(void **state)
{
	struct metadata_server_limits lim;
	metadata_server_limits_default(&lim);
	lim.out_max = 256 << 10;
	lim.buf_max = 1 << 20;
	/* a value whose answer is ~90 KiB */
	char *big = xmalloc(64 << 10);
	memset(big, 'b', 64 << 10);
	json_object_set_new(json_object_get(the_record, "customer_metadata"),
			    "big", json_stringn(big, 64 << 10));
	free(big);
	struct metadata_server *srv = metadata_server_new(&store, &lim, NULL);
	enum { N = 16 };
#define FRAME "V2 17 17670306 0000000a GET Ymln\n"
	int c[N];
	int small = 4096;
	for (int i = 0; i < N; i++) {
		int sp[2];
		assert_int_equal(
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
		setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		assert_int_equal(metadata_server_add_stream(srv, sp[0], NULL),
				 0);
		c[i] = sp[1];
		fcntl(c[i], F_SETFL, O_NONBLOCK);
	}
	size_t peak = 0;
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < N; i++)
			for (int k = 0; k < 8; k++)
				(void)!send(c[i], FRAME, strlen(FRAME),
					    MSG_NOSIGNAL);
		for (int k = 0; k < 4; k++)
			metadata_server_run(srv, 0, NULL);
		size_t now = metadata_server_buffered(srv);
		if (now > peak)
			peak = now;
	}
	/* buf_max and at most one answer's growth of one buffer */
	assert_true(peak <= lim.buf_max + (256 << 10));
	assert_true(metadata_server_connections(srv) < N);
	int closed = 0;
	for (int i = 0; i < N; i++) {
		char buf[4096];
		ssize_t n;
		while ((n = recv(c[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
		/* closed with requests unread: a reset */
		closed += n == 0 || errno == ECONNRESET;
		close(c[i]);
	}
	assert_true(closed > 0);
	for (int k = 0; k < 10; k++)
		metadata_server_run(srv, 0, NULL);
	assert_int_equal(metadata_server_buffered(srv), 0);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	assert_int_equal(metadata_server_add_stream(srv, sp[0], NULL), 0);
	send_str(sp[1], "GET k\n");
	expect_answer(srv, sp[1], "SUCCESS\n");
	close(sp[1]);
	metadata_server_free(srv);
}

static int peer_calls;
static bool refuse_all(void *ctx, int fd)
{
	peer_calls++;
	return *(bool *)ctx;
}

/* A listener's peer check runs on every accepted connection; a refused
 * one is closed before a byte of it is read or answered. */
static void test_peer_check_refuses(void **state)
{
	char *dir = xstrdup("/tmp/hull-mds-XXXXXX");
	assert_non_null(mkdtemp(dir));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 16), 0);
	struct metadata_server *srv = metadata_server_new(&store, NULL, NULL);
	bool allow = false;
	metadata_server_set_peer_check(srv, refuse_all, &allow);
	assert_int_equal(metadata_server_add_listener(srv, l, NULL), 0);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	send_str(c, "GET k\n");
	char b;
	ssize_t n = -1;
	for (int i = 0; i < 200 && n < 0; i++) {
		metadata_server_run(srv, 1, NULL);
		n = recv(c, &b, 1, MSG_DONTWAIT);
	}
	assert_int_equal(n, 0); /* EOF, no answer */
	assert_int_equal(peer_calls, 1);
	assert_int_equal(metadata_server_connections(srv), 0);
	close(c);
	allow = true;
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	send_str(c, "GET k\n");
	expect_answer(srv, c, "SUCCESS\n");
	close(c);
	metadata_server_free(srv);
	unlink(sa.sun_path);
	rmdir(dir);
	free(dir);
}

/* Where /proc/<pid>/cgroup places a peer: the memory line decides on v1
 * and hybrid hosts, the v2 line on pure v2 ones; a sibling whose name
 * starts the same is not inside. */
static void test_peer_cgroup_within(void **state)
{
	const char *rel = "hull/abc";
#define W(t) metadata_peer_cgroup_within(t, strlen(t), rel)
	assert_true(W("0::/hull/abc/zone\n"));
	assert_true(W("0::/hull/abc\n"));
	assert_true(W("0::/hull/abc/zone/system.slice/x.service"));
	assert_false(W("0::/hull/abcd/zone\n"));
	assert_false(W("0::/user.slice/user-1000.slice\n"));
	assert_false(W("0::/\n"));
	assert_false(W(""));
	/* hybrid: memory decides, whatever the other lines say */
	assert_true(W("12:memory:/hull/abc/zone\n4:cpu,cpuacct:/\n"
		      "0::/user.slice\n"));
	assert_false(W("12:memory:/user.slice\n4:cpu,cpuacct:/hull/abc\n"
		       "0::/hull/abc/zone\n"));
	assert_false(W("1:name=systemd:/hull/abc/zone\n"));
#undef W
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stream_answers_and_pipelines,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_line_is_discarded, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unread_answers_pause_reading,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_burst_over_out_max,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_input_of_unanswered_lines,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_bound, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_buffers_bounded_per_instance,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_check_refuses, setup,
					    teardown),
	    cmocka_unit_test(test_peer_cgroup_within),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
