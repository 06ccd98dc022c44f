/*
 * api.c - hull-api's HTTP(S) server: see api.h.
 *
 * Each request: libmicrohttpd hands the raw request target first (the URI
 * log callback; HTTP Signature signs the path and query exactly as sent),
 * then headers, then the body in pieces, which are kept up to
 * API_BODY_MAX (413 past it); then the request is authenticated unless it
 * is /--ping or IMGAPI, routed, and answered with CloudAPI's headers.
 * Every request is logged as one JSON line on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "head/admin.h"
#include "head/api.h"
#include "head/migrate.h"
#include "head/b64.h"
#include "head/console.h"
#include "head/httpsig.h"
#include "head/park.h"
#include "head/servers.h"
#include "head/sshkey.h"
#include "head/webui.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

#define API_VERSION "9.0.0"

/* One account's token bucket. */
struct bucket {
	char account[HULL_UUID_LEN + 1];
	double tokens;
	struct timespec last;
};

struct api {
	struct MHD_Daemon *d;
	const struct head_config *cfg;
	struct store *store;
	struct webui *webui; /* the web console's state */
	char *cert_pem, *key_pem;
	/* Buckets of the accounts seen, made on their first authenticated
	 * request (so as many as there are accounts at most). */
	struct bucket *buckets;
	size_t nbuckets;
	struct console_hub *consoles;
	struct park *parked;
};

struct console_hub *api_console_hub(struct api *a)
{
	return a->consoles;
}

/* Per connection-request state. */
struct pending {
	char *target; /* raw request target, path and query as sent */
	char *body;
	size_t len;
	bool too_big;
	bool started;
	struct timespec t0;
	void (*abandon)(void *cls); /* an upgrade not yet taken */
	void *abandon_cls;
	int64_t park_until_ms; /* a parked request's deadline, or 0 */
};

void api_upgrade_taken(void *req_cls)
{
	struct pending *p = req_cls;
	if (p)
		p->abandon = NULL;
}

const char *api_query(struct api_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

struct query_iter {
	void (*fn)(void *cls, const char *key, const char *value);
	void *cls;
};

static enum MHD_Result query_one(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct query_iter *it = cls;
	it->fn(it->cls, key, value);
	return MHD_YES;
}

void api_query_foreach(struct api_req *q,
		       void (*fn)(void *cls, const char *key,
				  const char *value),
		       void *cls)
{
	struct query_iter it = {fn, cls};
	MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, query_one,
				  &it);
}

int api_reply(struct api_req *q, unsigned status, json_t *body)
{
	json_decref(q->out);
	q->status = status;
	q->out = body;
	return 0;
}

int api_error(struct api_req *q, unsigned status, const char *code,
	      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_reply(q, status,
			 json_pack("{s:s, s:s}", "code", code, "message", msg));
}

static const char *header_of(const char *name, void *ctx)
{
	return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

/*
 * CloudAPI's authentication (sdc-cloudapi lib/auth.js): the keyId's login
 * must be an account holding that key, the Date near now, the signature
 * over the signed headers good. Every failure is 401 InvalidCredentials;
 * an unknown login and an unknown key read the same.
 */
static int authenticate(struct api_req *q, const char *target)
{
	const char *auth = header_of("authorization", q->conn);
	/* The web console's session: an alternative to a signature. */
	if (!auth) {
		int rs = webui_session_auth(q);
		if (rs != -ENOENT)
			return rs;
	}
	if (!auth)
		return api_error(q, 401, "InvalidCredentials",
				 "You must make authenticated requests to use "
				 "CloudAPI");
	struct httpsig sig;
	struct hull_err err = {0};
	if (httpsig_parse(auth, &sig, &err) < 0)
		return api_error(q, 401, "InvalidCredentials",
				 "Authorization: %s", err.msg);
	const char *date = header_of("date", q->conn);
	if (!date)
		date = header_of("x-date", q->conn);
	json_t *acct = NULL, *key = NULL;
	char *text = NULL;
	struct sshkey k = {0};
	int r = 0;
	if (!date) {
		api_error(q, 401, "InvalidCredentials", "Date header required");
		goto out;
	}
	if (httpsig_check_date(date, time(NULL), &err) < 0) {
		api_error(q, 401, "InvalidCredentials", "%s", err.msg);
		goto out;
	}
	/* An unknown login does the key lookup too (under an account that
	 * cannot exist), so that its answer takes as long as an unknown key
	 * of a real account: the timing tells no one which logins exist. */
	int ra = head_account_by_login(q->store, sig.login, &acct, &err);
	int rk = head_key_find(q->store,
			       ra < 0 ? "-" : hull_json_str(acct, "uuid", ""),
			       sig.key, &key, &err);
	if (ra < 0 || rk < 0) {
		api_error(q, 401, "InvalidCredentials", "Invalid key %.100s",
			  sig.key_id);
		goto out;
	}
	const char *line = hull_json_str(key, "key", "");
	if (sshkey_parse(line, strlen(line), &k, &err) < 0 ||
	    httpsig_signing_string(&sig, q->method, target, header_of, q->conn,
				   &text, &err) < 0 ||
	    httpsig_verify(&sig, &k, text, &err) < 0) {
		api_error(q, 401, "InvalidCredentials", "Invalid signature: %s",
			  err.msg);
		goto out;
	}
	q->account = json_incref(acct);
	r = 1;
out:
	sshkey_fini(&k);
	free(text);
	json_decref(acct);
	json_decref(key);
	httpsig_fini(&sig);
	return r;
}

/*
 * The per-account limit, restify's throttle as CloudAPI configures it
 * (keyed by login): a bucket of burst tokens refilled at rate a second,
 * one token a request. Only authenticated requests count, so no one can
 * spend another account's tokens with requests that name it. Returns 1
 * when the request may go on; otherwise sets 429 RequestThrottled with
 * Retry-After (whole seconds until a token is back).
 */
static int throttle(struct api_req *q)
{
	struct api *a = q->api;
	double rate = q->cfg->throttle_rate;
	if (rate <= 0)
		return 1;
	const char *acct = hull_json_str(q->account, "uuid", "");
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct bucket *b = NULL;
	for (size_t i = 0; i < a->nbuckets && !b; i++)
		if (!strcmp(a->buckets[i].account, acct))
			b = &a->buckets[i];
	if (!b) {
		a->buckets = xrealloc(a->buckets,
				      (a->nbuckets + 1) * sizeof(*a->buckets));
		b = &a->buckets[a->nbuckets++];
		snprintf(b->account, sizeof(b->account), "%s", acct);
		b->tokens = q->cfg->throttle_burst;
		b->last = now;
	}
	double dt = (double)(now.tv_sec - b->last.tv_sec) +
		    (double)(now.tv_nsec - b->last.tv_nsec) / 1e9;
	b->last = now;
	b->tokens += dt * rate;
	if (b->tokens > q->cfg->throttle_burst)
		b->tokens = q->cfg->throttle_burst;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return 1;
	}
	double wait = (1 - b->tokens) / rate;
	q->retry_after = (int)wait + ((double)(int)wait < wait);
	if (q->retry_after < 1)
		q->retry_after = 1;
	api_error(q, 429, "RequestThrottled",
		  "You have exceeded your request rate of %g r/s.", rate);
	return 0;
}

static int split_path(struct api_req *q, char *copy)
{
	q->nseg = 0;
	for (char *save = NULL, *t = strtok_r(copy, "/", &save); t;
	     t = strtok_r(NULL, "/", &save)) {
		if (q->nseg == 8)
			return -1;
		q->seg[q->nseg++] = t;
	}
	return 0;
}

/* Checks the body's Content-MD5 and parses it as a JSON object into
 * q->body; an answer is set and -1 returned when it is bad. */
static int parse_body(struct api_req *q, struct pending *p)
{
	if (p->len) {
		const char *md5 = header_of("content-md5", q->conn);
		if (md5) {
			unsigned char d[16];
			unsigned int n = 0;
			EVP_Digest(p->body, p->len, d, &n, EVP_md5(), NULL);
			char *want = hull_b64_encode(d, 16);
			bool ok = !strcmp(want, md5);
			free(want);
			if (!ok) {
				api_error(q, 400, "BadDigest",
					  "Content-MD5 does not match the "
					  "body");
				return -1;
			}
		}
		json_error_t je;
		q->body =
		    json_loadb(p->body, p->len, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(q->body)) {
			api_error(q, 400, "InvalidArgument",
				  "body is not a JSON object: %.200s", je.text);
			return -1;
		}
	}
	return 0;
}

static void route(struct api_req *q, const char *target, struct pending *p)
{
	char *copy = xstrdup(q->path);
	if (split_path(q, copy) < 0) {
		api_error(q, 404, "ResourceNotFound", "%.200s does not exist",
			  q->path);
		goto out;
	}
	if (q->nseg == 1 && !strcmp(q->seg[0], "--ping")) {
		api_reply(q, 200,
			  json_pack("{s:s, s:{s:[s,s,s]}}", "ping", "pong",
				    "cloudapi", "versions", "7.0.0", "8.0.0",
				    API_VERSION));
		goto out;
	}
	if (q->nseg >= 1 && !strcmp(q->seg[0], "imgapi")) {
		imgapi_dispatch(q);
		goto out;
	}
	if (p->too_big) {
		api_error(q, 413, "RequestEntityTooLarge",
			  "request body is larger than %d bytes", API_BODY_MAX);
		goto out;
	}
	if (console_ws_request(q)) { /* its ticket is its credential */
		console_ws_open(q);
		goto out;
	}
	bool agent = q->nseg >= 1 && !strcmp(q->seg[0], "agent");
	bool web = q->nseg >= 1 && !strcmp(q->seg[0], "console");
	if (web && webui_is_public(q)) {
		if (parse_body(q, p) == 0)
			webui_dispatch(q);
		goto out;
	}
	if (!agent && (authenticate(q, target) <= 0 || !throttle(q)))
		goto out;
	if (parse_body(q, p) < 0)
		goto out;
	if (agent) {
		agentapi_dispatch(q);
		goto out;
	}
	if (web) {
		webui_dispatch(q);
		goto out;
	}
	cloudapi_dispatch(q);
out:
	free(copy);
}

static void log_request(struct api_req *q, const char *target,
			struct pending *p, const char *rid)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - p->t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - p->t0.tv_nsec) / 1e6;
	char now[32];
	head_now_iso(now);
	json_t *l =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f}", "time", now,
		      "level", "info", "req_id", rid, "method", q->method,
		      "url", target, "status", (int)q->status, "ms", ms);
	if (q->account)
		json_object_set(l, "login",
				json_object_get(q->account, "login"));
	char *s = json_dumps(l, JSON_COMPACT);
	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(l);
}

static enum MHD_Result send_answer(struct MHD_Connection *conn,
				   struct api_req *q, const char *rid,
				   struct pending *p)
{
	struct MHD_Response *res;
	if (q->upgrade) {
		enum MHD_Result r = MHD_queue_response(
		    conn, MHD_HTTP_SWITCHING_PROTOCOLS, q->upgrade);
		MHD_destroy_response(q->upgrade);
		return r;
	}
	if (q->stream_read) {
		res = MHD_create_response_from_callback(
		    MHD_SIZE_UNKNOWN, 4096, q->stream_read, q->stream_cls,
		    q->stream_free);
		q->stream_read = NULL; /* the response owns it now */
		MHD_add_response_header(res, "Content-Type", q->stream_type);
	} else if (q->file_fd >= 0) {
		res = MHD_create_response_from_fd64(q->file_size, q->file_fd);
		q->file_fd = -1; /* the response owns it now */
		MHD_add_response_header(res, "Content-Type",
					q->content_type
					    ? q->content_type
					    : "application/octet-stream");
	} else if (q->response) {
		res = q->response;
		q->response = NULL;
	} else {
		char *text =
		    q->out ? json_dumps(q->out, JSON_COMPACT | JSON_ENCODE_ANY)
			   : NULL;
		size_t n = text ? strlen(text) : 0;
		res = MHD_create_response_from_buffer(
		    n, text ? text : (void *)"",
		    text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (text) {
			unsigned char d[16];
			unsigned int dn = 0;
			EVP_Digest(text, n, d, &dn, EVP_md5(), NULL);
			char *md5 = hull_b64_encode(d, 16);
			MHD_add_response_header(res, "Content-MD5", md5);
			free(md5);
			MHD_add_response_header(res, "Content-Type",
						"application/json");
		}
	}
	if (q->resource_count >= 0) {
		char c[32];
		snprintf(c, sizeof(c), "%ld", q->resource_count);
		MHD_add_response_header(res, "x-resource-count", c);
		MHD_add_response_header(res, "x-query-limit", "1000");
	}
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	char rt[32];
	snprintf(rt, sizeof(rt), "%ld",
		 (long)((t1.tv_sec - p->t0.tv_sec) * 1000 +
			(t1.tv_nsec - p->t0.tv_nsec) / 1000000));
	if (q->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", q->retry_after);
		MHD_add_response_header(res, "Retry-After", ra);
	}
	if (q->set_cookie)
		MHD_add_response_header(res, "Set-Cookie", q->set_cookie);
	if (!strncmp(q->path, "/console", 8))
		webui_add_security_headers(res);
	MHD_add_response_header(res, "Request-Id", rid);
	MHD_add_response_header(res, "Response-Time", rt);
	MHD_add_response_header(res, "Api-Version", API_VERSION);
	MHD_add_response_header(res, "Server", "hull-api/" HULL_VERSION);
	MHD_add_response_header(res, "Triton-Datacenter-Name",
				q->cfg->datacenter);
	enum MHD_Result r = MHD_queue_response(conn, q->status, res);
	MHD_destroy_response(res);
	return r;
}

void api_park(struct api_req *q, const char *key, int ms)
{
	snprintf(q->park_key, sizeof(q->park_key), "%s", key);
	q->park_ms = ms;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether a request that asks to wait ms should (still) wait. */
static bool park_more(struct pending *p, int ms)
{
	if (!p->park_until_ms)
		p->park_until_ms = now_ms() + ms;
	return now_ms() < p->park_until_ms;
}

/* servers.c's listener: a task queued for a server wakes its agent's
 * parked request (resumed once this handler has returned, its
 * transaction done). */
static void wake_server(void *cls, const char *server)
{
	struct api *a = cls;
	park_wake(a->parked, server);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	struct pending *p = *con_cls;
	if (!p->started) {
		p->started = true;
		const char *cl = MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > API_BODY_MAX)
			p->too_big = true;
		if (!p->too_big)
			return MHD_YES;
		/* Refused before the body is read: answer now. */
	} else if (*upload_size) {
		if (!p->too_big && p->len + *upload_size <= API_BODY_MAX) {
			p->body = xrealloc(p->body, p->len + *upload_size);
			memcpy(p->body + p->len, upload, *upload_size);
			p->len += *upload_size;
		} else {
			p->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	struct api_req q = {.api = a,
			    .store = a->store,
			    .cfg = a->cfg,
			    .method = method,
			    .path = url,
			    .conn = conn,
			    .status = 500,
			    .resource_count = -1,
			    .file_fd = -1,
			    .webui = a->webui};
	const char *target = p->target ? p->target : url;
	char rid[HULL_UUID_LEN + 1];
	hull_uuid_generate(rid);
	if (p->too_big)
		api_error(&q, 413, "RequestEntityTooLarge",
			  "request body is larger than %d bytes", API_BODY_MAX);
	else
		route(&q, target, p);
	if (q.status == 500 && !q.out)
		api_error(&q, 500, "InternalError", "no answer");
	if (q.park_ms > 0 && park_more(p, q.park_ms)) {
		park_add(a->parked, conn, q.park_key);
		json_decref(q.out);
		json_decref(q.body);
		json_decref(q.account);
		return MHD_YES;
	}
	if (q.upgrade && q.upgrade_abandon) {
		p->abandon = q.upgrade_abandon;
		p->abandon_cls = q.upgrade_cls;
	}
	enum MHD_Result r = send_answer(conn, &q, rid, p);
	if (r != MHD_YES && p->abandon) {
		p->abandon(p->abandon_cls);
		p->abandon = NULL;
	}
	log_request(&q, target, p, rid);
	/* A write may have changed what an event stream shows. */
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		webui_notify(a->webui);
	if (q.file_fd >= 0)
		close(q.file_fd);
	if (q.stream_read && q.stream_free)
		q.stream_free(q.stream_cls);
	free(q.set_cookie);
	json_decref(q.out);
	json_decref(q.body);
	json_decref(q.account);
	return r;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	p->target = xstrdup(uri);
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	return p;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
		    enum MHD_RequestTerminationCode code)
{
	struct pending *p = *con_cls;
	if (!p)
		return;
	if (p->abandon)
		p->abandon(p->abandon_cls);
	free(p->target);
	free(p->body);
	free(p);
	*con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	json_t *l = json_pack("{s:s, s:s}", "level", "warn", "msg", msg);
	char *s = json_dumps(l, JSON_COMPACT);
	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(l);
}

int api_start(const struct head_config *c, struct store *s, struct api **out,
	      int *port, struct hull_err *err)
{
	char addr[64];
	int p;
	int r = head_listen_parse(c->listen, addr, sizeof(addr), &p, err);
	if (r < 0)
		return r;
	struct sockaddr_storage ss = {0};
	/* Suspend/resume: parked task polls and migration watch streams. */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_UPGRADE | MHD_ALLOW_SUSPEND_RESUME;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (void *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *s4 = (void *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		inet_pton(AF_INET, addr, &s4->sin_addr);
	}
	struct api *a = xcalloc(1, sizeof(*a));
	a->cfg = c;
	a->store = s;
	a->consoles = console_hub_new();
	a->parked = park_new();
	task_listen(wake_server, a);
	if (c->tls) {
		size_t n;
		if ((r = hull_file_read(c->cert, 1 << 20, &a->cert_pem, &n,
					err)) < 0 ||
		    (r = hull_file_read(c->key, 1 << 20, &a->key_pem, &n,
					err)) < 0) {
			api_stop(a);
			return r;
		}
		flags |= MHD_USE_TLS;
	}
	/* The web console; its event streams wait suspended, not polled
	 * (webui.c). */
	if ((r = webui_new(c, &a->webui, err)) < 0) {
		api_stop(a);
		return r;
	}
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, a->cert_pem},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, a->key_pem},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
	a->d = MHD_start_daemon(
	    flags, (uint16_t)p, NULL, NULL, on_request, a,
	    /* the logger first, so that no message takes MHD's own */
	    MHD_OPTION_EXTERNAL_LOGGER, on_log, a, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, a,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_ARRAY,
	    c->tls ? tls_opts : none, MHD_OPTION_END);
	if (!a->d) {
		api_stop(a);
		return hull_err_set(err, EADDRINUSE,
				    "cannot serve on %s (in use, or the TLS "
				    "certificate or key is bad)",
				    c->listen);
	}
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : p;
	*out = a;
	return 0;
}

void api_stop(struct api *a)
{
	webui_stop(a ? a->webui : NULL); /* before the daemon: webui.h */
	if (!a)
		return;
	console_hub_stop(a->consoles); /* before the daemon: see console.h */
	task_listen(NULL, NULL);
	park_stop(a->parked); /* likewise: see park.h */
	migrate_watch_stop(); /* likewise */
	if (a->d)
		MHD_stop_daemon(a->d);
	park_free(a->parked);
	console_hub_free(a->consoles);
	webui_free(a->webui);
	free(a->cert_pem);
	free(a->key_pem);
	free(a->buckets);
	free(a);
}
