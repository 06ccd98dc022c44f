/*
 * server.c - the metadata server core (see server.h for the embedding and
 * the bounds). One epoll set, level-triggered; a connection is a small
 * state machine: read a chunk, answer the complete lines in it, write what
 * the socket takes, and keep the rest for the next wake-up.
 */
#include "metadata/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "metadata/dispatch.h"
#include "metadata/proto.h"

/* Bytes read per connection per wake-up: enough for a burst of requests,
 * small enough that one busy client cannot starve the others. */
#define READ_CHUNK 65536
/* Connections accepted per wake-up, for the same reason. */
#define ACCEPT_BURST 16
/* A connection's buffers are given back once empty and this large. */
#define BUF_KEEP 65536

enum endpoint_kind { EP_LISTENER, EP_CONN };

struct endpoint {
	enum endpoint_kind kind;
	int fd;
};

struct conn {
	struct endpoint ep;
	bool stream;	 /* added with add_stream (not counted) */
	bool is_socket;	 /* send() with MSG_NOSIGNAL, else write() */
	bool discarding; /* inside an over-long line: drop to its LF */
	bool over;	 /* closed for the instance's buffer bound */
	size_t counted;	 /* its bytes in srv->buffered */
	uint32_t events; /* what epoll watches now */
	unsigned long long active; /* server tick of its last event */
	struct metadata_buf in, out;
	struct conn *prev, *next;
};

struct listener {
	struct endpoint ep;
	struct listener *next;
};

struct metadata_server {
	int epfd;
	const struct metadata_store *store;
	struct metadata_server_limits lim;
	struct conn *conns;
	struct listener *listeners;
	unsigned nconns; /* accepted ones, for max_conns */
	unsigned nstreams;
	unsigned long long tick; /* counts events, orders connections */
	size_t buffered;	 /* sum of the connections' counted bytes */
	void (*log)(void *ctx, const char *msg);
	void *log_ctx;
	bool (*peer_ok)(void *ctx, int fd);
	void *peer_ctx;
	/* Refusals and closings for the bound are logged at most once a
	 * second (a flood of them must not become a flood of log lines). */
	time_t noted_at;
	unsigned long refused, overs;
};

void metadata_server_limits_default(struct metadata_server_limits *lim)
{
	lim->max_conns = 64;
	lim->line_max = METADATA_LINE_MAX;
	lim->out_max = 4u << 20;
	lim->buf_max = 16u << 20;
}

static void server_log(struct metadata_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void server_log(struct metadata_server *srv, const char *fmt, ...)
{
	char msg[HULL_ERR_MSG_MAX + 128];
	va_list ap;
	if (!srv->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv->log(srv->log_ctx, msg);
}

struct metadata_server *
metadata_server_new(const struct metadata_store *store,
		    const struct metadata_server_limits *lim,
		    struct hull_err *err)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		hull_err_sys(err, errno, "metadata server: epoll");
		return NULL;
	}
	struct metadata_server *srv = xcalloc(1, sizeof(*srv));
	srv->epfd = epfd;
	srv->store = store;
	if (lim)
		srv->lim = *lim;
	else
		metadata_server_limits_default(&srv->lim);
	return srv;
}

void metadata_server_set_log(struct metadata_server *srv,
			     void (*log)(void *ctx, const char *msg), void *ctx)
{
	srv->log = log;
	srv->log_ctx = ctx;
}

int metadata_server_fd(const struct metadata_server *srv)
{
	return srv->epfd;
}

unsigned metadata_server_connections(const struct metadata_server *srv)
{
	return srv->nconns + srv->nstreams;
}

size_t metadata_server_buffered(const struct metadata_server *srv)
{
	return srv->buffered;
}

void metadata_server_set_peer_check(struct metadata_server *srv,
				    bool (*ok)(void *ctx, int fd), void *ctx)
{
	srv->peer_ok = ok;
	srv->peer_ctx = ctx;
}

/* Logs what was refused or closed since the last note, at most once a
 * second. */
static void server_note(struct metadata_server *srv)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((!srv->refused && !srv->overs) || now.tv_sec == srv->noted_at)
		return;
	srv->noted_at = now.tv_sec;
	if (srv->refused)
		server_log(srv,
			   "metadata: refused %lu connection(s) from outside "
			   "the instance",
			   srv->refused);
	if (srv->overs)
		server_log(srv,
			   "metadata: closed %lu connection(s) at the "
			   "instance's buffer bound (%zu bytes)",
			   srv->overs, srv->lim.buf_max);
	srv->refused = srv->overs = 0;
}

static size_t conn_bytes(const struct conn *c)
{
	return c->in.cap + c->out.cap;
}

/* The instance's total if c held `bytes`. */
static size_t total_with(const struct metadata_server *srv,
			 const struct conn *c, size_t bytes)
{
	return srv->buffered - c->counted + bytes;
}

static void conn_account(struct metadata_server *srv, struct conn *c)
{
	srv->buffered = total_with(srv, c, conn_bytes(c));
	c->counted = conn_bytes(c);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static void conn_close(struct metadata_server *srv, struct conn *c)
{
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->ep.fd, NULL);
	close(c->ep.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->stream)
		srv->nstreams--;
	else
		srv->nconns--;
	srv->buffered -= c->counted;
	if (c->over)
		srv->overs++;
	metadata_buf_fini(&c->in);
	metadata_buf_fini(&c->out);
	free(c);
}

void metadata_server_free(struct metadata_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv, srv->conns);
	while (srv->listeners) {
		struct listener *l = srv->listeners;
		srv->listeners = l->next;
		close(l->ep.fd);
		free(l);
	}
	close(srv->epfd);
	free(srv);
}

static struct conn *conn_add(struct metadata_server *srv, int fd, bool stream,
			     struct hull_err *err)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	int type;
	socklen_t tl = sizeof(type);
	c->ep.kind = EP_CONN;
	c->ep.fd = fd;
	c->stream = stream;
	c->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
	c->events = EPOLLIN;
	c->active = ++srv->tick;
	struct epoll_event ev = {.events = c->events, .data.ptr = c};
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		hull_err_sys(err, errno, "metadata server: watch channel");
		free(c);
		return NULL;
	}
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	if (stream)
		srv->nstreams++;
	else
		srv->nconns++;
	return c;
}

int metadata_server_add_listener(struct metadata_server *srv, int fd,
				 struct hull_err *err)
{
	int r = set_nonblock(fd);
	if (r < 0) {
		close(fd);
		return hull_err_sys(err, -r, "metadata server: listener");
	}
	struct listener *l = xcalloc(1, sizeof(*l));
	l->ep.kind = EP_LISTENER;
	l->ep.fd = fd;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = hull_err_sys(err, errno, "metadata server: listener");
		close(fd);
		free(l);
		return r;
	}
	l->next = srv->listeners;
	srv->listeners = l;
	return 0;
}

int metadata_server_add_stream(struct metadata_server *srv, int fd,
			       struct hull_err *err)
{
	int r = set_nonblock(fd);
	if (r < 0) {
		close(fd);
		return hull_err_sys(err, -r, "metadata server: stream");
	}
	if (!conn_add(srv, fd, true, err)) {
		close(fd);
		return -err->code;
	}
	return 0;
}

static void conn_watch(struct metadata_server *srv, struct conn *c,
		       uint32_t events)
{
	if (events == c->events)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = c};
	if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->ep.fd, &ev) == 0)
		c->events = events;
}

/* Writes what the peer takes. Returns false when the connection died. */
static bool conn_flush(struct conn *c)
{
	while (c->out.len) {
		ssize_t n = c->is_socket
				? send(c->ep.fd, c->out.data, c->out.len,
				       MSG_NOSIGNAL | MSG_DONTWAIT)
				: write(c->ep.fd, c->out.data, c->out.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			return false;
		}
		metadata_buf_consume(&c->out, (size_t)n);
	}
	if (c->out.cap > BUF_KEEP)
		metadata_buf_fini(&c->out);
	return true;
}

/* Answers the complete lines in the input buffer while output has room,
 * in the connection and in the instance. Returns false when the
 * connection must be closed: a line waits and the instance's bound leaves
 * it no room while it has no answer pending of its own (nothing would
 * ever wake it). */
static bool conn_answer(struct metadata_server *srv, struct conn *c)
{
	size_t pos = 0;
	bool room = true;
	while (pos < c->in.len && c->out.len < srv->lim.out_max) {
		if (total_with(srv, c, conn_bytes(c)) >= srv->lim.buf_max) {
			room = false;
			break;
		}
		char *line = c->in.data + pos;
		char *nl = memchr(line, '\n', c->in.len - pos);
		if (!nl)
			break;
		struct hull_err err = {0};
		if (metadata_dispatch(srv->store, line, (size_t)(nl - line),
				      &c->out, &err) < 0)
			server_log(srv, "metadata: %s", err.msg);
		pos = (size_t)(nl - c->in.data) + 1;
	}
	metadata_buf_consume(&c->in, pos);
	if (!room && !c->out.len && c->in.len &&
	    memchr(c->in.data, '\n', c->in.len)) {
		c->over = true;
		return false;
	}
	/* No newline within line_max bytes: drop it up to its end. */
	if (c->in.len > srv->lim.line_max &&
	    !memchr(c->in.data, '\n', c->in.len)) {
		c->discarding = true;
		metadata_buf_fini(&c->in);
	} else if (!c->in.len && c->in.cap > BUF_KEEP) {
		metadata_buf_fini(&c->in);
	}
	return true;
}

/* Reads one chunk. Returns false when the connection is finished. */
static bool conn_read(struct metadata_server *srv, struct conn *c)
{
	char scratch[4096];
	ssize_t n;

	if (c->discarding) {
		n = read(c->ep.fd, scratch, sizeof(scratch));
		if (n <= 0)
			return n < 0 && (errno == EAGAIN || errno == EINTR);
		char *nl = memchr(scratch, '\n', (size_t)n);
		if (nl) {
			c->discarding = false;
			metadata_buf_puts(&c->out, METADATA_INVALID_COMMAND);
			metadata_buf_append(&c->in, nl + 1,
					    (size_t)(scratch + n - nl - 1));
		}
		return true;
	}
	/* Outside discarding, in.len <= line_max + 1. With the buffer full
	 * of lines not yet answered (output was at out_max) there is no
	 * room: answer those first, read later. */
	size_t room = srv->lim.line_max + 1 - c->in.len;
	size_t want = room < READ_CHUNK ? room : READ_CHUNK;
	if (want == 0)
		return true;
	if (c->in.cap < c->in.len + want + 1) {
		size_t cap = c->in.cap ? c->in.cap : 4096;
		while (cap < c->in.len + want + 1)
			cap *= 2;
		if (total_with(srv, c, cap + c->out.cap) > srv->lim.buf_max) {
			c->over = true;
			return false;
		}
		c->in.data = xrealloc(c->in.data, cap);
		c->in.cap = cap;
	}
	n = read(c->ep.fd, c->in.data + c->in.len, want);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	c->in.len += (size_t)n;
	c->in.data[c->in.len] = '\0';
	return true;
}

static void conn_event(struct metadata_server *srv, struct conn *c,
		       uint32_t events)
{
	bool alive = true;

	c->active = ++srv->tick;
	if (events & EPOLLIN)
		alive = conn_read(srv, c);
	else if (events & (EPOLLHUP | EPOLLERR))
		alive = false;
	/* Answering stops when out_max is pending; if the peer then takes it
	 * all at once, no event would come for the lines still buffered, so
	 * go on until output is left pending or no whole line is. */
	while (alive) {
		alive = conn_answer(srv, c) && conn_flush(c);
		if (c->out.len || !c->in.len ||
		    !memchr(c->in.data, '\n', c->in.len))
			break;
	}
	/* One answer may take the total past the bound (answering stops
	 * at it, not before it): the connection that did is closed. */
	if (alive && total_with(srv, c, conn_bytes(c)) > srv->lim.buf_max &&
	    conn_bytes(c) > c->counted) {
		c->over = true;
		alive = false;
	}
	if (!alive) {
		if (c->stream)
			server_log(srv, "metadata: channel closed");
		conn_close(srv, c);
		return;
	}
	conn_account(srv, c);
	/* Pause reading while the client leaves its answers unread; lines
	 * already buffered are answered once the output drains. */
	uint32_t want = c->out.len ? EPOLLOUT : 0;
	if (c->out.len < srv->lim.out_max)
		want |= EPOLLIN;
	conn_watch(srv, c, want);
}

/* At the bound, the accepted connection that has been quiet longest makes
 * room: a client that opens many connections and sits on them cannot lock
 * out a newcomer, it only loses its own oldest ones (they see EOF). */
static void conn_evict(struct metadata_server *srv)
{
	struct conn *lru = NULL;
	for (struct conn *c = srv->conns; c; c = c->next)
		if (!c->stream && (!lru || c->active < lru->active))
			lru = c;
	if (lru)
		conn_close(srv, lru);
}

static void listener_event(struct metadata_server *srv, struct listener *l)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd =
		    accept4(l->ep.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				server_log(srv, "metadata: accept: %s",
					   strerror(errno));
			return;
		}
		if (srv->peer_ok && !srv->peer_ok(srv->peer_ctx, fd)) {
			close(fd);
			srv->refused++;
			continue;
		}
		if (srv->nconns >= srv->lim.max_conns)
			conn_evict(srv);
		struct hull_err err = {0};
		if (!conn_add(srv, fd, false, &err)) {
			server_log(srv, "%s", err.msg);
			close(fd);
		}
	}
}

int metadata_server_run(struct metadata_server *srv, int timeout_ms,
			struct hull_err *err)
{
	struct epoll_event evs[32];
	int n = epoll_wait(srv->epfd, evs, 32, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return hull_err_sys(err, errno, "metadata server: wait");
	}
	/* epoll reports a descriptor at most once per batch and an event only
	 * closes its own connection, except that accepting may evict another
	 * one: so connections first, listeners after, and no event of the
	 * batch ever points to a connection freed earlier in it. */
	struct listener *ready[32];
	int nready = 0;
	for (int i = 0; i < n; i++) {
		struct endpoint *ep = evs[i].data.ptr;
		if (ep->kind == EP_CONN)
			conn_event(srv, (struct conn *)ep, evs[i].events);
		else
			ready[nready++] = (struct listener *)ep;
	}
	for (int i = 0; i < nready; i++)
		listener_event(srv, ready[i]);
	server_note(srv);
	return 0;
}
