/*
 * console.c - the compute node's end of a browser console (hull-api's
 * console.h): for a `console` task {pair, type}, the agent connects to
 * the instance's console socket (or its VNC relay), then opens a
 * connection of its own to the head node, GET
 * /agent/servers/:uuid/consoles/:pair with its HullAgent key and
 * `Upgrade: hull-console`, and after the 101 copies raw bytes both ways
 * (a serial console's scrollback first). The head node cannot reach the
 * node (agents need no listening port), so the node dials out.
 *
 * Each console is a detached thread of its own with its own connection
 * (stream.c: TCP, or TLS verified as the agent's HTTP calls are), so the
 * task loop goes on at once.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/conframe.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"

/* What a serial console shows first (hull-api's CONSOLE_SCROLLBACK). */
#define SCROLLBACK (16 * 1024)

struct agent_console {
	char *head, *key;
	bool insecure;
	char server[37], pair[37], uuid[37];
	/* A text console: the head node's bytes are lib/conframe.h's
	 * records (keystrokes and window sizes), read into in. */
	bool framed;
	uint8_t *in;
	size_t in_len;
	int con;
	char *scroll;
	size_t scroll_len;
};

static void console_free(struct agent_console *a)
{
	free(a->head);
	free(a->key);
	free(a->scroll);
	free(a->in);
	if (a->con >= 0)
		close(a->con);
	free(a);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The head node's bytes: to the console as they are, or, in records,
 * keystrokes to the console and window sizes to the zone's pty (as the
 * head node does for a zone of its own). -1 ends the console. */
static int from_head(struct agent_console *a, const char *p, size_t n)
{
	if (!a->framed)
		return write_all(a->con, p, n);
	/* Room for one whole record past what is kept. */
	if (a->in_len + n > CONFRAME_HEADER + CONFRAME_DATA_MAX + 16384)
		return -1;
	a->in = xrealloc(a->in, a->in_len + n);
	memcpy(a->in + a->in_len, p, n);
	a->in_len += n;
	size_t off = 0;
	for (;;) {
		struct conframe f;
		size_t used;
		int r = conframe_next(a->in + off, a->in_len - off, &f, &used);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		off += used;
		if (f.type == CONFRAME_DATA) {
			if (write_all(a->con, (const char *)f.data, f.len) < 0)
				return -1;
		} else {
			/* A VM's serial line has no size: nothing to do. */
			(void)zone_console_winsize(a->uuid, f.rows, f.cols,
						   NULL);
		}
	}
	memmove(a->in, a->in + off, a->in_len - off);
	a->in_len -= off;
	return 0;
}

static void *console_run(void *arg)
{
	struct agent_console *a = arg;
	struct agent_stream *c =
	    agent_stream_open(a->head, a->insecure, 5, NULL);
	if (!c)
		goto out;
	int sock = agent_stream_fd(c);
	char *req = xasprintf("GET /agent/servers/%s/consoles/%s HTTP/1.1\r\n"
			      "Host: hull-head\r\n"
			      "Authorization: HullAgent %s\r\n"
			      "Connection: Upgrade\r\n"
			      "Upgrade: hull-console\r\n%s\r\n",
			      a->server, a->pair, a->key,
			      a->framed ? "Hull-Console-Frames: 1\r\n" : "");
	int r = agent_stream_write_all(c, req, strlen(req), 10000);
	free(req);
	if (r < 0)
		goto out;
	/* The answer's head; bytes past it are the console's. */
	char head[4096];
	size_t have = 0;
	char *end = NULL;
	while (!end) {
		ssize_t got =
		    agent_stream_read(c, head + have, sizeof(head) - 1 - have);
		if (got == -EAGAIN) {
			struct pollfd p = {sock, POLLIN, 0};
			if (poll(&p, 1, 10000) <= 0)
				goto out;
			continue;
		}
		if (got <= 0)
			goto out;
		have += (size_t)got;
		head[have] = '\0';
		end = strstr(head, "\r\n\r\n");
		if (!end && have == sizeof(head) - 1)
			goto out;
	}
	if (strncmp(head, "HTTP/1.1 101", 12))
		goto out;
	size_t extra = have - (size_t)(end + 4 - head);
	if (extra && from_head(a, end + 4, extra) < 0)
		goto out;
	if (a->scroll_len &&
	    agent_stream_write_all(c, a->scroll, a->scroll_len, 10000) < 0)
		goto out;
	for (;;) {
		struct pollfd p[2] = {{sock, POLLIN, 0}, {a->con, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		char buf[16384];
		if (p[0].revents) {
			/* Everything there is (TLS may hold more than the
			 * socket shows). */
			for (;;) {
				ssize_t got =
				    agent_stream_read(c, buf, sizeof(buf));
				if (got == -EAGAIN)
					break;
				if (got <= 0 ||
				    from_head(a, buf, (size_t)got) < 0)
					goto out;
			}
		}
		if (p[1].revents) {
			ssize_t n = read(a->con, buf, sizeof(buf));
			if (n <= 0 || agent_stream_write_all(c, buf, (size_t)n,
							     10000) < 0)
				break;
		}
	}
out:
	agent_stream_close(c);
	console_free(a);
	return NULL;
}

int agent_console_start(const struct agent_conf *c, const char *uuid,
			json_t *params, struct hull_err *err)
{
	const char *pair = hull_json_str(params, "pair", "");
	bool vnc = !strcmp(hull_json_str(params, "type", ""), "vnc");
	if (!hull_uuid_valid(pair) || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "console: bad pair or uuid");
	int con =
	    vnc ? zone_vnc_connect(uuid, err) : zone_console_connect(uuid, err);
	if (con < 0)
		return con;
	struct agent_console *a = xcalloc(1, sizeof(*a));
	a->head = xstrdup(c->head);
	a->key = xstrdup(c->key ? c->key : "");
	a->insecure = c->insecure_tls;
	snprintf(a->server, sizeof(a->server), "%s", c->server_uuid);
	snprintf(a->pair, sizeof(a->pair), "%s", pair);
	snprintf(a->uuid, sizeof(a->uuid), "%s", uuid);
	a->framed = !vnc;
	a->con = con;
	if (!vnc)
		(void)zone_console_tail(uuid, SCROLLBACK, &a->scroll,
					&a->scroll_len, NULL);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&t, &at, console_run, a);
	pthread_attr_destroy(&at);
	if (r != 0) {
		console_free(a);
		return hull_err_set(err, r, "console: no thread");
	}
	return 0;
}
