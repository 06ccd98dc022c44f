/*
 * stream.c - a raw byte stream to the head node for console.c: the
 * console's bytes follow an HTTP upgrade, so no HTTP library carries
 * them. TCP to the head URL's host and port (libevent's URI parser), and
 * for an https:// head node OpenSSL with the verification of http.c.
 * The descriptor is nonblocking throughout: the console's poll loop
 * waits on it, and a TLS record that arrives in parts never blocks a
 * read.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "agent/agent.h"
#include "lib/xalloc.h"

struct agent_stream {
	int fd;
	SSL *ssl;
};

static long left_ms(const struct timespec *end)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 +
	       (end->tv_nsec - now.tv_nsec) / 1000000;
}

static int wait_fd(int fd, short ev, long ms)
{
	if (ms <= 0)
		return -ETIMEDOUT;
	struct pollfd p = {fd, ev, 0};
	int r;
	do
		r = poll(&p, 1, (int)ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -ETIMEDOUT;
}

/* A nonblocking connect to one of host's addresses by the deadline. */
static int tcp_connect(const char *host, int port, const struct timespec *end,
		       struct hull_err *err)
{
	char serv[16];
	snprintf(serv, sizeof(serv), "%d", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(host, serv, &hints, &ai);
	if (g != 0)
		return hull_err_set(err, EHOSTUNREACH, "%s: %s", host,
				    gai_strerror(g));
	int r = -ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family,
				SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			continue;
		}
		int e = 0;
		socklen_t el = sizeof(e);
		if (wait_fd(fd, POLLOUT, left_ms(end)) < 0) {
			r = -ETIMEDOUT;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 &&
			   e == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			freeaddrinfo(ai);
			return fd;
		} else {
			r = -(e ? e : EIO);
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return hull_err_sys(err, -r, "connect %s:%d", host, port);
}

void agent_stream_close(struct agent_stream *s)
{
	if (!s)
		return;
	if (s->ssl)
		SSL_free(s->ssl);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

struct agent_stream *agent_stream_open(const char *head, bool insecure,
				       int timeout_s, struct hull_err *err)
{
	struct evhttp_uri *u = evhttp_uri_parse(head);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	if (!scheme || !host || !*host ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		if (u)
			evhttp_uri_free(u);
		hull_err_set(err, EINVAL, "%s: not an http(s) URL", head);
		return NULL;
	}
	bool tls = !strcmp(scheme, "https");
	int port = evhttp_uri_get_port(u);
	if (port < 0)
		port = tls ? 443 : 80;
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_s;
	struct agent_stream *s = xcalloc(1, sizeof(*s));
	s->fd = tcp_connect(host, port, &end, err);
	if (s->fd < 0)
		goto fail;
	if (!tls) {
		evhttp_uri_free(u);
		return s;
	}
	s->ssl = SSL_new(agent_tls_ctx(insecure));
	if (!s->ssl)
		abort();
	agent_tls_expect(s->ssl, host);
	SSL_set_fd(s->ssl, s->fd);
	for (;;) {
		int r = SSL_connect(s->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(s->ssl, r);
		short ev = e == SSL_ERROR_WANT_READ    ? POLLIN
			   : e == SSL_ERROR_WANT_WRITE ? POLLOUT
						       : 0;
		if (ev && wait_fd(s->fd, ev, left_ms(&end)) == 0)
			continue;
		long vr = SSL_get_verify_result(s->ssl);
		char why[256] = "no handshake in time";
		if (vr != X509_V_OK)
			snprintf(why, sizeof(why),
				 "the head node's "
				 "certificate: %s",
				 X509_verify_cert_error_string(vr));
		else if (!ev)
			ERR_error_string_n(ERR_peek_last_error(), why,
					   sizeof(why));
		ERR_clear_error();
		hull_err_set(err, EPROTO, "%s: TLS: %s", head, why);
		goto fail;
	}
	evhttp_uri_free(u);
	return s;
fail:
	evhttp_uri_free(u);
	agent_stream_close(s);
	return NULL;
}

int agent_stream_fd(const struct agent_stream *s)
{
	return s->fd;
}

ssize_t agent_stream_read(struct agent_stream *s, void *buf, size_t n)
{
	if (!s->ssl) {
		ssize_t r;
		do
			r = read(s->fd, buf, n);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return errno == EAGAIN ? -EAGAIN : -EIO;
		return r;
	}
	size_t got = 0;
	if (SSL_read_ex(s->ssl, buf, n, &got) == 1)
		return (ssize_t)got;
	int e = SSL_get_error(s->ssl, 0);
	ERR_clear_error();
	/* A renegotiation or key update can want a write: the peer's
	 * bytes will come, poll for them. */
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -EIO;
}

int agent_stream_write_all(struct agent_stream *s, const void *buf, size_t n,
			   int timeout_ms)
{
	const char *p = buf;
	while (n) {
		size_t sent = 0;
		short want = POLLOUT;
		if (!s->ssl) {
			ssize_t w = write(s->fd, p, n);
			if (w > 0)
				sent = (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				return -EIO;
		} else if (SSL_write_ex(s->ssl, p, n, &sent) != 1) {
			int e = SSL_get_error(s->ssl, 0);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_READ)
				want = POLLIN;
			else if (e != SSL_ERROR_WANT_WRITE)
				return -EIO;
			sent = 0;
		}
		if (!sent) {
			if (wait_fd(s->fd, want, timeout_ms) < 0)
				return -EIO;
			continue;
		}
		p += sent;
		n -= sent;
	}
	return 0;
}
