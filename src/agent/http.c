/*
 * http.c - the agent's HTTP client to its head node: libevent's evhttp,
 * over bufferevent_openssl for an https:// head node, one event base and
 * one kept-alive connection per handle (per thread), each call run to its
 * end on that base. Not libcurl: its dependency tree (GnuTLS, Kerberos,
 * LDAP, RTMP, SSH) was half of an idle agent's resident memory, for an
 * agent that speaks HTTP/1.1 to one server. libcurl is what the image
 * library downloads with, loaded on first use (src/lib/dl_curl.c).
 *
 * As libcurl's defaults were: the head node's certificate verified
 * against the system's CAs (the hashed /etc/ssl/certs, SSL_CERT_DIR, and
 * SSL_CERT_FILE when set) and its name or address checked, unless the
 * node joined with --insecure-tls; 3 s to connect, 15 s for a whole
 * call; answers up to 8 MiB; a kept-alive connection the head node
 * closed is dropped and the call sent again once on a fresh one (as
 * libcurl retries on a dead reused connection).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agent/agent.h"
#include "lib/xalloc.h"

#define CONNECT_S 3
#define CALL_S 15
/* Answers are small JSON; a head node that sends more is broken. */
#define ANSWER_MAX (8u << 20)

struct agent_http {
	const struct agent_conf *c;
	struct event_base *base;
	struct evhttp_connection *cn;
	bool closed;  /* cn's close callback ran: make a new one */
	SSL_CTX *ctx; /* agent_tls_ctx's; NULL for an http:// head node */
	/* the head URL's parts */
	char *host, *prefix, *host_hdr;
	int port;
	bool tls, bad_url;
	/* the call in flight */
	bool done, timed_out, connect_timed_out;
	int status;
	enum evhttp_request_error why;
	bool have_why;
	int sys_err; /* errno when evhttp saw the failure */
	char *buf;
	size_t len;
};

/* Parses "https://host[:port][/prefix]" with libevent's URI parser. */
static void head_parse(struct agent_http *h)
{
	struct evhttp_uri *u = evhttp_uri_parse(h->c->head);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	if (!scheme || !host || !*host ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		h->bad_url = true;
		if (u)
			evhttp_uri_free(u);
		return;
	}
	h->tls = !strcmp(scheme, "https");
	h->host = xstrdup(host);
	h->port = evhttp_uri_get_port(u);
	if (h->port < 0)
		h->port = h->tls ? 443 : 80;
	const char *p = evhttp_uri_get_path(u);
	h->prefix = xstrdup(p ? p : "");
	size_t n = strlen(h->prefix);
	while (n && h->prefix[n - 1] == '/')
		h->prefix[--n] = '\0';
	bool v6 = strchr(h->host, ':') != NULL;
	h->host_hdr = xasprintf("%s%s%s:%d", v6 ? "[" : "", h->host,
				v6 ? "]" : "", h->port);
	evhttp_uri_free(u);
}

/* The verification libcurl did by default: the peer's chain against the
 * system's CAs, looked up by hash in the CA directory (no bundle parsed
 * into memory), and the name or address in the URL. */
static SSL_CTX *tls_ctx_new(bool insecure)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		abort();
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* An idle kept-alive connection holds no record buffers (34 KiB
	 * each). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	const char *dir = getenv(X509_get_default_cert_dir_env());
	const char *file = getenv(X509_get_default_cert_file_env());
	(void)SSL_CTX_load_verify_dir(ctx,
				      dir ? dir : X509_get_default_cert_dir());
	if (file)
		(void)SSL_CTX_load_verify_file(ctx, file);
	return ctx;
}

/* One context for the process, made before its first use and never
 * changed after, so the threads share it (SSL_new is thread-safe on a
 * context no one changes): each context holds its own copy of the
 * cipher and group lists. */
SSL_CTX *agent_tls_ctx(bool insecure)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static SSL_CTX *ctx[2];
	pthread_mutex_lock(&lock);
	if (!ctx[insecure])
		ctx[insecure] = tls_ctx_new(insecure);
	SSL_CTX *c = ctx[insecure];
	pthread_mutex_unlock(&lock);
	return c;
}

void agent_tls_expect(SSL *ssl, const char *host)
{
	struct in6_addr a;
	if (inet_pton(AF_INET, host, &a) == 1 ||
	    inet_pton(AF_INET6, host, &a) == 1) {
		/* libcurl sends no SNI for an address either. */
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
	}
}

struct agent_http *agent_http_new(const struct agent_conf *c)
{
	struct agent_http *h = xcalloc(1, sizeof(*h));
	h->c = c;
	h->base = event_base_new();
	if (!h->base)
		abort();
	head_parse(h);
	if (!h->bad_url && h->tls)
		h->ctx = agent_tls_ctx(c->insecure_tls);
	return h;
}

static void conn_drop(struct agent_http *h)
{
	if (h->cn)
		evhttp_connection_free(h->cn);
	h->cn = NULL;
	h->closed = false;
}

void agent_http_free(struct agent_http *h)
{
	if (!h)
		return;
	conn_drop(h);
	event_base_free(h->base);
	free(h->host);
	free(h->prefix);
	free(h->host_hdr);
	free(h->buf);
	free(h);
}

static void on_close(struct evhttp_connection *cn, void *arg)
{
	struct agent_http *h = arg;
	(void)cn;
	h->closed = true;
}

static int conn_open(struct agent_http *h, struct hull_err *err)
{
	struct bufferevent *bev;
	if (h->tls) {
		SSL *ssl = SSL_new(h->ctx);
		if (!ssl)
			abort();
		agent_tls_expect(ssl, h->host);
		bev = bufferevent_openssl_socket_new(
		    h->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (!bev) {
			SSL_free(ssl);
			return hull_err_set(err, ENOMEM, "%s: no TLS buffer",
					    h->c->head);
		}
		/* A head node that closes without close_notify has still
		 * said all it meant to (Content-Length bounds the answer). */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else {
		bev =
		    bufferevent_socket_new(h->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (!bev)
			return hull_err_set(err, ENOMEM, "%s: no buffer",
					    h->c->head);
	}
	h->cn = evhttp_connection_base_bufferevent_new(
	    h->base, NULL, bev, h->host, (unsigned short)h->port);
	if (!h->cn) {
		bufferevent_free(bev);
		return hull_err_set(err, ENOMEM, "%s: no connection",
				    h->c->head);
	}
	evhttp_connection_set_timeout(h->cn, CALL_S);
	evhttp_connection_set_max_body_size(h->cn, ANSWER_MAX);
	evhttp_connection_set_closecb(h->cn, on_close, h);
	h->closed = false;
	return 0;
}

/* errno when it names a socket's failure, not a retry's leftover. */
static int sys_errno(void)
{
	int e = errno;
	return e == EAGAIN || e == EINPROGRESS || e == EINTR ? 0 : e;
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	struct agent_http *h = arg;
	h->why = e;
	h->have_why = true;
	if (!h->sys_err)
		h->sys_err = sys_errno();
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct agent_http *h = arg;
	h->done = true;
	h->status = req ? evhttp_request_get_response_code(req) : 0;
	if (h->status <= 0 && !h->sys_err)
		h->sys_err = sys_errno();
	if (h->status > 0) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		h->buf = xrealloc(h->buf, n + 1);
		evbuffer_remove(in, h->buf, n);
		h->len = n;
		h->buf[n] = '\0';
	}
	event_base_loopbreak(h->base);
}

/* Not connected within CONNECT_S (a nonblocking connect still in
 * progress has no peer yet): the call ends. */
static void on_connect_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct agent_http *h = arg;
	(void)fd;
	(void)ev;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(h->cn);
	evutil_socket_t s = bev ? bufferevent_getfd(bev) : -1;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (s < 0 || getpeername(s, (struct sockaddr *)&ss, &sl) < 0) {
		h->connect_timed_out = true;
		event_base_loopbreak(h->base);
	}
}

static void on_call_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct agent_http *h = arg;
	(void)fd;
	(void)ev;
	h->timed_out = true;
	event_base_loopbreak(h->base);
}

static enum evhttp_cmd_type method_type(const char *m)
{
	if (!strcmp(m, "GET"))
		return EVHTTP_REQ_GET;
	if (!strcmp(m, "POST"))
		return EVHTTP_REQ_POST;
	if (!strcmp(m, "PUT"))
		return EVHTTP_REQ_PUT;
	if (!strcmp(m, "DELETE"))
		return EVHTTP_REQ_DELETE;
	return EVHTTP_REQ_PATCH;
}

/* Why a call got no answer, in words: TLS's reason first (a certificate
 * the node does not trust), else the socket's, else evhttp's. */
static void why_failed(struct agent_http *h, char *out, size_t n)
{
	struct bufferevent *bev =
	    h->cn ? evhttp_connection_get_bufferevent(h->cn) : NULL;
	SSL *ssl = bev && h->tls ? bufferevent_openssl_get_ssl(bev) : NULL;
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e =
	    bev && h->tls ? bufferevent_get_openssl_error(bev) : 0;
	if (h->connect_timed_out) {
		snprintf(out, n, "no connection within %d s", CONNECT_S);
	} else if (h->timed_out) {
		snprintf(out, n, "no answer within %d s", CALL_S);
	} else if (vr != X509_V_OK) {
		snprintf(out, n, "TLS: the head node's certificate: %s",
			 X509_verify_cert_error_string(vr));
	} else if ((!e || !ERR_GET_LIB(e)) && h->sys_err == ENOTCONN) {
		/* What evhttp leaves of a failed connect (refused,
		 * unreachable): the socket's reason went to its first
		 * read or write. */
		snprintf(out, n, "couldn't connect to the head node");
	} else if ((!e || !ERR_GET_LIB(e)) && h->sys_err) {
		/* A socket's failure (refused, reset): libevent's OpenSSL
		 * layer records it only as SSL_ERROR_SYSCALL. */
		snprintf(out, n, "%s", strerror(h->sys_err));
	} else if (e && ERR_GET_LIB(e)) {
		char s[256];
		ERR_error_string_n(e, s, sizeof(s));
		snprintf(out, n, "TLS: %s", s);
	} else if (h->have_why && h->why == EVREQ_HTTP_TIMEOUT) {
		snprintf(out, n, "timed out");
	} else if (h->have_why && h->why == EVREQ_HTTP_DATA_TOO_LONG) {
		snprintf(out, n, "answer over %u bytes", ANSWER_MAX);
	} else if (h->have_why && h->why == EVREQ_HTTP_INVALID_HEADER) {
		snprintf(out, n, "not an HTTP answer");
	} else {
		snprintf(out, n, "the connection closed without an answer");
	}
	while (ERR_get_error())
		;
}

/* One try: 0 with h->status set, -1 when no answer came (*reused: the
 * try went on a kept-alive connection). */
static int call_once(struct agent_http *h, enum evhttp_cmd_type type,
		     const char *uri, const char *text, bool *reused, char *why,
		     size_t why_n, struct hull_err *err)
{
	/* Events the idle connection has waiting (the head node closing
	 * it) are seen before it is used again. */
	if (h->cn)
		event_base_loop(h->base, EVLOOP_NONBLOCK);
	if (h->cn && h->closed)
		conn_drop(h);
	*reused = h->cn != NULL;
	if (!h->cn) {
		int r = conn_open(h, err);
		if (r < 0)
			return r;
	}
	h->done = h->timed_out = h->connect_timed_out = h->have_why = false;
	h->sys_err = 0;
	h->status = 0;
	free(h->buf);
	h->buf = NULL;
	h->len = 0;
	struct evhttp_request *req = evhttp_request_new(on_done, h);
	if (!req)
		abort();
	evhttp_request_set_error_cb(req, on_error);
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
	evhttp_add_header(hd, "Host", h->host_hdr);
	evhttp_add_header(hd, "User-Agent", "hull-agent/" HULL_VERSION);
	evhttp_add_header(hd, "Accept", "application/json");
	_cleanup_free_ char *auth =
	    h->c->key ? xasprintf("HullAgent %s", h->c->key) : NULL;
	if (auth)
		evhttp_add_header(hd, "Authorization", auth);
	if (text) {
		char len[32];
		snprintf(len, sizeof(len), "%zu", strlen(text));
		evhttp_add_header(hd, "Content-Type", "application/json");
		evhttp_add_header(hd, "Content-Length", len);
		evbuffer_add(evhttp_request_get_output_buffer(req), text,
			     strlen(text));
	}
	if (evhttp_make_request(h->cn, req, type, uri) < 0) {
		/* evhttp freed the request */
		conn_drop(h);
		snprintf(why, why_n, "cannot send the request");
		return -1;
	}
	struct event *ct = NULL;
	if (!*reused) {
		/* The socket is made by now (a blocking resolve, then a
		 * nonblocking connect). Without TCP_NODELAY, as libcurl
		 * sets it, a request that goes out as two TLS records waits
		 * for the head node's delayed ACK of the first (40 ms). */
		struct bufferevent *bev =
		    evhttp_connection_get_bufferevent(h->cn);
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		int one = 1;
		if (fd >= 0)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		ct = evtimer_new(h->base, on_connect_timer, h);
		struct timeval tv = {CONNECT_S, 0};
		evtimer_add(ct, &tv);
	}
	struct event *tt = evtimer_new(h->base, on_call_timer, h);
	struct timeval tv = {CALL_S, 0};
	evtimer_add(tt, &tv);
	while (!h->done && !h->timed_out && !h->connect_timed_out)
		if (event_base_dispatch(h->base) < 0)
			break;
	if (ct)
		event_free(ct);
	event_free(tt);
	if (!h->done) {
		/* The request is still queued on cn: freeing cn frees it. */
		why_failed(h, why, why_n);
		conn_drop(h);
		return -1;
	}
	if (h->status <= 0) {
		why_failed(h, why, why_n);
		conn_drop(h);
		return -1;
	}
	return 0;
}

int agent_http_call(struct agent_http *h, const char *method, const char *path,
		    json_t *body, long *status, json_t **out,
		    struct hull_err *err)
{
	if (h->bad_url)
		return hull_err_set(err, EINVAL, "%s: not an http(s) URL",
				    h->c->head);
	_cleanup_free_ char *uri = xasprintf("%s%s", h->prefix, path);
	_cleanup_free_ char *text =
	    body ? json_dumps(body, JSON_COMPACT) : NULL;
	enum evhttp_cmd_type type = method_type(method);
	char why[320] = "";
	bool reused = false;
	int r = call_once(h, type, uri, text, &reused, why, sizeof(why), err);
	if (r == -1 && reused && !h->timed_out)
		r = call_once(h, type, uri, text, &reused, why, sizeof(why),
			      err);
	if (r == -1)
		return hull_err_set(err, EIO, "%s %s%s: %s", method, h->c->head,
				    path, why);
	if (r < 0)
		return r;
	*status = h->status;
	if (out) {
		*out = NULL;
		if (h->len)
			*out = json_loadb(h->buf, h->len, 0, NULL);
	}
	return 0;
}
