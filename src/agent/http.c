/*
 * http.c - the agent's plain-HTTP client (http.h).
 */
#include "agent/http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/xalloc.h"

int agent_http_is_plain(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Waits for ev on fd until the deadline; 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short ev, long deadline)
{
	for (;;) {
		long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = ev};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* A connected, non-blocking socket to host:port, or a negative code. */
static int dial(const char *host, const char *port, long deadline,
		struct hull_err *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0)
		return hull_err_set(err, EHOSTUNREACH, "resolve %s: %s", host,
				    gai_strerror(g));
	int fd = -1, r = -ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family,
			    a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS &&
		    (r = wait_fd(fd, POLLOUT, deadline)) == 0) {
			int e = 0;
			socklen_t el = sizeof(e);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			if (e == 0)
				break;
			r = -e;
		} else if (errno != EINPROGRESS) {
			r = -errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return hull_err_sys(err, -r, "connect %s:%s", host, port);
	return fd;
}

static int send_all(int fd, const char *p, size_t n, long deadline)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EAGAIN) {
			int r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The value of header name in the header block [h, end), or NULL. */
static const char *header(const char *h, const char *end, const char *name,
			  size_t *vlen)
{
	size_t nl = strlen(name);
	while (h < end) {
		const char *eol = memchr(h, '\n', (size_t)(end - h));
		if (!eol)
			eol = end;
		if ((size_t)(eol - h) > nl && strncasecmp(h, name, nl) == 0 &&
		    h[nl] == ':') {
			const char *v = h + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		h = eol + 1;
	}
	return NULL;
}

int agent_http_parse(const char *raw, size_t n, long *status, char **out,
		     size_t *out_len, struct hull_err *err)
{
	const char *end = raw + n;
	const char *hend = memmem(raw, n, "\r\n\r\n", 4);
	if (!hend || n < 12 || strncmp(raw, "HTTP/1.", 7) != 0 ||
	    raw[8] != ' ' || raw[9] < '1' || raw[9] > '5' || raw[10] < '0' ||
	    raw[10] > '9' || raw[11] < '0' || raw[11] > '9')
		return hull_err_set(err, EPROTO, "not an HTTP answer");
	*status = (raw[9] - '0') * 100 + (raw[10] - '0') * 10 + (raw[11] - '0');
	const char *b = hend + 4;
	size_t vl;
	const char *te = header(raw, hend + 2, "Transfer-Encoding", &vl);
	char *o;
	size_t ol = 0;
	if (te && vl == 7 && strncasecmp(te, "chunked", 7) == 0) {
		o = xmalloc((size_t)(end - b) + 1);
		for (;;) {
			/* The size in hex, then ";extension" or the line's
			 * end; never read past the line (no NUL here). */
			const char *le =
			    memmem(b, (size_t)(end - b), "\r\n", 2);
			if (!le)
				goto bad;
			size_t k = 0;
			const char *d = b;
			for (; d < le && isxdigit((unsigned char)*d); d++) {
				if (k > ((size_t)1 << 40))
					goto bad;
				k = k * 16 +
				    (size_t)(isdigit((unsigned char)*d)
						 ? *d - '0'
						 : (*d | 0x20) - 'a' + 10);
			}
			if (d == b || (d < le && *d != ';') ||
			    k > (size_t)(end - le - 2))
				goto bad;
			b = le + 2;
			if (k == 0)
				break;
			if ((size_t)(end - b) < k + 2 || b[k] != '\r' ||
			    b[k + 1] != '\n')
				goto bad;
			memcpy(o + ol, b, k);
			ol += k;
			b += k + 2;
		}
	} else {
		ol = (size_t)(end - b);
		const char *cl = header(raw, hend + 2, "Content-Length", &vl);
		if (cl) {
			char num[24];
			char *e;
			if (vl == 0 || vl >= sizeof(num))
				return hull_err_set(err, EPROTO,
						    "bad Content-Length");
			memcpy(num, cl, vl);
			num[vl] = '\0';
			errno = 0;
			unsigned long long want = strtoull(num, &e, 10);
			if (*e || errno || want > ol)
				return hull_err_set(err, EPROTO,
						    "answer cut short");
			ol = (size_t)want;
		}
		o = xmalloc(ol + 1);
		memcpy(o, b, ol);
	}
	o[ol] = '\0';
	*out = o;
	*out_len = ol;
	return 0;
bad:
	free(o);
	return hull_err_set(err, EPROTO, "bad chunked answer");
}

int agent_http_plain(const char *method, const char *url, const char *headers,
		     const char *body, int connect_ms, int total_ms, size_t max,
		     long *status, char **out, size_t *out_len,
		     struct hull_err *err)
{
	if (!agent_http_is_plain(url))
		return hull_err_set(err, EINVAL, "%s: not an http:// URL", url);
	const char *auth = url + 7;
	const char *path = strchr(auth, '/');
	size_t alen = path ? (size_t)(path - auth) : strlen(auth);
	_cleanup_free_ char *hostport = xstrndup(auth, alen);
	char *host = hostport, *port = NULL;
	if (*host == '[') { /* [v6]:port */
		char *rb = strchr(host, ']');
		if (!rb)
			return hull_err_set(err, EINVAL, "%s: bad host", url);
		*rb = '\0';
		host++;
		if (rb[1] == ':')
			port = rb + 2;
	} else if ((port = strrchr(host, ':'))) {
		*port++ = '\0';
	}
	if (!port || !*port)
		port = "80";
	long t0 = now_ms();
	int fd = dial(host, port, t0 + connect_ms, err);
	if (fd < 0)
		return hull_err_prefix(err, "%s %s", method, url);
	size_t blen = body ? strlen(body) : 0;
	_cleanup_free_ char *req =
	    xasprintf("%s %s HTTP/1.1\r\nHost: %.*s\r\nConnection: close\r\n"
		      "Content-Length: %zu\r\n%s\r\n",
		      method, path ? path : "/", (int)alen, auth, blen,
		      headers ? headers : "");
	long deadline = t0 + total_ms;
	/* Headers and body in one write, no Nagle: a body sent apart waits
	 * for the server's delayed ACK of the headers (40 ms), as curl's
	 * default TCP_NODELAY avoids. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	size_t hlen = strlen(req);
	if (blen) {
		req = xrealloc(req, hlen + blen + 1);
		memcpy(req + hlen, body, blen + 1);
	}
	int r = send_all(fd, req, hlen + blen, deadline);
	char *raw = NULL;
	size_t have = 0, cap = 0;
	while (r == 0) {
		if (cap - have < 4096) {
			cap = cap ? cap * 2 : 16384;
			raw = xrealloc(raw, cap);
		}
		ssize_t k = recv(fd, raw + have, cap - have, 0);
		if (k > 0) {
			have += (size_t)k;
			if (have > max)
				r = -EFBIG;
		} else if (k == 0) {
			break;
		} else if (errno == EAGAIN) {
			r = wait_fd(fd, POLLIN, deadline);
		} else if (errno != EINTR) {
			r = -errno;
		}
	}
	close(fd);
	if (r == 0)
		r = agent_http_parse(raw ? raw : "", have, status, out, out_len,
				     err);
	else
		hull_err_sys(err, -r, "read");
	free(raw);
	return r < 0 ? hull_err_prefix(err, "%s %s", method, url) : 0;
}
