/*
 * webui.c - the web console's side of hull-api: see webui.h.
 *
 * Login. A password is checked with yescrypt (libcrypt's crypt_rn) against
 * the account's hash; an unknown login, or an account without a password,
 * is checked against a hash made at start for no one, so every failing
 * login costs the same and the answer's timing tells no one which logins
 * exist. After a failure the login and the client's address each wait a
 * delay that doubles with every further failure (1 s, 2 s, ... up to
 * WEBUI_DELAY_MAX); an attempt inside the delay is refused with 429 and
 * Retry-After before any hashing, so a flood of guesses costs the single
 * server thread nothing. The table of failures is bounded (the oldest
 * entry makes room).
 *
 * Sessions. At login a new random id (so an id planted before login is
 * never the session's: no fixation) goes to the browser as an HttpOnly,
 * SameSite=Strict cookie (Secure under TLS); the store keeps only its
 * SHA-256, the account, a CSRF token and the expiry. The CSRF token is in
 * the login's answer and in GET /console/session, which a page of another
 * origin cannot read.
 *
 * Events. GET /console/events is a server-sent event stream of the
 * caller's instances' states. Its body is a libmicrohttpd callback on the
 * server's one thread: when it has nothing to send it suspends its
 * connection (no polling, no busy loop); webui_notify, called after
 * every request that wrote (an agent's report, a CloudAPI action),
 * resumes every stream, which compares the store's states with what it
 * last sent and sends the difference. A ticker thread resumes them every
 * WEBUI_KEEPALIVE seconds for a comment line, which keeps proxies from
 * closing the stream and finds browsers that went away.
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "head/admin.h"
#include "head/webui.h"
#include "head/servers.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/prog.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* Debian's packages of the terminal and VNC clients (node-xterm,
 * novnc), served as they are installed. */
#define NOVNC_DIR "/usr/share/novnc"
/* node-xterm: xterm.js as CommonJS modules. Each lib/ module is served
 * wrapped in a call that registers it with the page's loader
 * (data/console/cjs.js): the browser cannot run CommonJS as it is, and
 * the page's CSP allows no eval. */
#define XTERM_CJS_DIR "/usr/share/nodejs/xterm"
#define XTERM_CJS_MAX (512 * 1024)
#define WEBUI_KEEPALIVE 10
#define FAILS_MAX 4096
/* A failure older than this is forgotten. */
#define FAIL_FORGET_S 3600

struct fail {
	char key[128]; /* "l:LOGIN" or "a:ADDRESS" */
	int n;
	struct timespec last;
};

struct stream {
	struct webui *c;
	struct store *store;
	struct MHD_Connection *conn;
	char account[HULL_UUID_LEN + 1];
	char sid_hash[65];
	json_t *seen; /* id -> state as last sent */
	char *buf;
	size_t len, off;
	bool suspended, dirty, keepalive, hello, ending;
	struct stream *next;
};

struct webui {
	const struct head_config *cfg;
	char *dir;	  /* the pages */
	char *dummy_hash; /* for unknown logins */
	struct fail *fails;
	size_t nfails;
	pthread_mutex_t mu; /* streams, stopping */
	pthread_cond_t cv;
	struct stream *streams;
	bool stopping;
	bool ticking;
	pthread_t ticker;
};

static void now_mono(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char d[32];
	unsigned int n = 0;
	EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int random_hex(char *out, size_t nbytes)
{
	unsigned char b[32];
	if (nbytes > sizeof(b) || RAND_bytes(b, (int)nbytes) != 1)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* yescrypt of password with setting (a hash or a salt); caller frees.
 * NULL when libcrypt refuses. */
static char *hash_with(const char *password, const char *setting)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	char *h = crypt_rn(password, setting, cd, sizeof(*cd));
	char *out = h && h[0] != '*' ? xstrdup(h) : NULL;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return out;
}

static void *ticker_main(void *arg);

int webui_new(const struct head_config *cfg, struct webui **out,
	      struct hull_err *err)
{
	struct webui *c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->dir = cfg->console_dir ? xstrdup(cfg->console_dir)
				  : hull_data_find("console");
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], pw[33];
	if (random_hex(pw, 16) < 0 ||
	    !crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) ||
	    !(c->dummy_hash = hash_with(pw, salt))) {
		free(c->dir);
		free(c);
		return hull_err_set(err, EIO,
				    "console: yescrypt is not available");
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&c->ticker, NULL, ticker_main, c) == 0)
		c->ticking = true;
	*out = c;
	return 0;
}

void webui_stop(struct webui *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	for (struct stream *s = c->streams; s; s = s->next)
		if (s->suspended) {
			s->suspended = false;
			MHD_resume_connection(s->conn);
		}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (c->ticking) {
		pthread_join(c->ticker, NULL);
		c->ticking = false;
	}
}

void webui_free(struct webui *c)
{
	if (!c)
		return;
	webui_stop(c);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c->dir);
	free(c->dummy_hash);
	free(c->fails);
	free(c);
}

/* Wakes every stream; keepalive: each sends a comment line. */
static void wake_all(struct webui *c, bool keepalive)
{
	pthread_mutex_lock(&c->mu);
	for (struct stream *s = c->streams; s; s = s->next) {
		s->dirty = true;
		s->keepalive |= keepalive;
		if (s->suspended) {
			s->suspended = false;
			MHD_resume_connection(s->conn);
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void webui_notify(struct webui *c)
{
	if (c)
		wake_all(c, false);
}

static void *ticker_main(void *arg)
{
	struct webui *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += WEBUI_KEEPALIVE;
		int r = pthread_cond_timedwait(&c->cv, &c->mu, &t);
		if (r == ETIMEDOUT && !c->stopping) {
			pthread_mutex_unlock(&c->mu);
			wake_all(c, true);
			pthread_mutex_lock(&c->mu);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

void webui_add_security_headers(void *response)
{
	struct MHD_Response *r = response;
	/* No inline script or style, nothing from elsewhere, never framed. */
	MHD_add_response_header(
	    r, "Content-Security-Policy",
	    "default-src 'none'; script-src 'self'; style-src 'self'; "
	    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
	    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

static const char *header(struct api_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

static bool is(struct api_req *q, const char *m)
{
	return !strcmp(q->method, m);
}

/* Whether the browser says the request comes from this server's own
 * origin (a client that says nothing, like curl, is not a browser page
 * of another origin). */
static bool same_origin(struct api_req *q)
{
	const char *site = header(q, "sec-fetch-site");
	if (site && strcmp(site, "same-origin"))
		return false;
	const char *origin = header(q, "origin");
	if (!origin)
		return true;
	const char *host = header(q, "host");
	if (!host)
		return false;
	char want[512];
	snprintf(want, sizeof(want), "%s://%s", q->cfg->tls ? "https" : "http",
		 host);
	return !strcmp(origin, want);
}

/* ---- sessions ---- */

static int session_get(struct api_req *q, const char *sid, char hash[65],
		       json_t **sess)
{
	struct hull_err err = {0};
	if (strlen(sid) != 64)
		return -ENOENT;
	sha256_hex(sid, hash);
	if (store_get(q->store, "sessions", hash, sess, NULL, &err) < 0)
		return -ENOENT;
	if (hull_json_int(*sess, "expires", 0) <= head_now_ms()) {
		store_del(q->store, "sessions", hash, NULL, NULL);
		json_decref(*sess);
		*sess = NULL;
		return -ENOENT;
	}
	return 0;
}

int webui_session_auth(struct api_req *q)
{
	const char *sid =
	    MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND, WEBUI_COOKIE);
	if (!sid)
		return -ENOENT;
	char hash[65];
	json_t *sess = NULL, *acct = NULL;
	struct hull_err err = {0};
	int r = 0;
	if (session_get(q, sid, hash, &sess) < 0) {
		api_error(q, 401, "InvalidCredentials",
			  "session expired or unknown: log in again");
		goto out;
	}
	if (!is(q, "GET") && !is(q, "HEAD")) {
		const char *tok = header(q, WEBUI_CSRF_HEADER);
		const char *want = hull_json_str(sess, "csrf", "");
		if (!tok || strlen(tok) != strlen(want) ||
		    CRYPTO_memcmp(tok, want, strlen(want))) {
			api_error(q, 403, "Forbidden",
				  "missing or wrong " WEBUI_CSRF_HEADER);
			goto out;
		}
		if (!same_origin(q)) {
			api_error(q, 403, "Forbidden",
				  "cross-origin request refused");
			goto out;
		}
	}
	if (store_get(q->store, "accounts", hull_json_str(sess, "account", ""),
		      &acct, NULL, &err) < 0) {
		api_error(q, 401, "InvalidCredentials",
			  "session expired or unknown: log in again");
		goto out;
	}
	q->account = acct;
	acct = NULL;
	q->by_session = true;
	r = 1;
out:
	json_decref(sess);
	json_decref(acct);
	return r;
}

/* ---- failed logins ---- */

static struct fail *fail_find(struct webui *c, const char *key, bool make)
{
	struct timespec now;
	now_mono(&now);
	struct fail *oldest = NULL;
	for (size_t i = 0; i < c->nfails; i++) {
		struct fail *f = &c->fails[i];
		if (!strcmp(f->key, key)) {
			if (now.tv_sec - f->last.tv_sec > FAIL_FORGET_S)
				f->n = 0;
			return f;
		}
		if (!oldest || f->last.tv_sec < oldest->last.tv_sec)
			oldest = f;
	}
	if (!make)
		return NULL;
	struct fail *f;
	if (c->nfails < FAILS_MAX) {
		c->fails =
		    xrealloc(c->fails, (c->nfails + 1) * sizeof(*c->fails));
		f = &c->fails[c->nfails++];
	} else {
		f = oldest;
	}
	memset(f, 0, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->last = now;
	return f;
}

/* Seconds key must still wait (0: none). */
static int fail_wait(struct webui *c, const char *key)
{
	struct fail *f = fail_find(c, key, false);
	if (!f || f->n == 0)
		return 0;
	int delay = f->n >= 10 ? WEBUI_DELAY_MAX : 1 << (f->n - 1);
	if (delay > WEBUI_DELAY_MAX)
		delay = WEBUI_DELAY_MAX;
	struct timespec now;
	now_mono(&now);
	double left = (double)(f->last.tv_sec - now.tv_sec) +
		      (double)(f->last.tv_nsec - now.tv_nsec) / 1e9 + delay;
	return left > 0 ? (int)left + ((double)(int)left < left) : 0;
}

static void fail_add(struct webui *c, const char *key)
{
	struct fail *f = fail_find(c, key, true);
	f->n++;
	now_mono(&f->last);
}

static void fail_clear(struct webui *c, const char *key)
{
	struct fail *f = fail_find(c, key, false);
	if (f)
		f->n = 0;
}

static void client_address(struct api_req *q, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    q->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

/* The caller's expired sessions go when a new one is made. */
static void sessions_prune(struct store *s, const char *account)
{
	json_t *all = NULL;
	if (store_find(s, "sessions", "account", account, &all, NULL) < 0)
		return;
	int64_t now = head_now_ms();
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v) if (hull_json_int(v, "expires", 0) <= now)
	    store_del(s, "sessions", hull_json_str(v, "key", ""), NULL, NULL);
	json_decref(all);
}

static char *cookie_for(struct api_req *q, const char *sid, int max_age)
{
	return xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; "
			 "Max-Age=%d%s",
			 WEBUI_COOKIE, sid, max_age,
			 q->cfg->tls ? "; Secure" : "");
}

static json_t *session_view(struct api_req *q, json_t *sess)
{
	const char *login = hull_json_str(q->account, "login", "");
	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:s}", "login", login, "id",
			 hull_json_str(q->account, "uuid", ""), "csrf",
			 hull_json_str(sess, "csrf", ""), "admin",
			 !strcmp(login, q->cfg->admin), "expires",
			 (json_int_t)hull_json_int(sess, "expires", 0),
			 "datacenter", q->cfg->datacenter);
}

static int login(struct api_req *q)
{
	if (!is(q, "POST"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	if (!same_origin(q))
		return api_error(q, 403, "Forbidden",
				 "cross-origin request refused");
	const char *name = hull_json_str(q->body, "login", NULL);
	const char *pw = hull_json_str(q->body, "password", NULL);
	if (!name || !pw)
		return api_error(q, 409, "MissingParameter",
				 "login and password are required");
	if (strlen(name) > 64 || strlen(pw) > 1024)
		return api_error(q, 401, "InvalidCredentials",
				 "wrong login or password");
	struct webui *c = q->webui;
	char addr[INET6_ADDRSTRLEN + 1], lkey[128], akey[128];
	client_address(q, addr, sizeof(addr));
	snprintf(lkey, sizeof(lkey), "l:%s", name);
	snprintf(akey, sizeof(akey), "a:%s", addr);
	int wait = fail_wait(c, lkey), wa = fail_wait(c, akey);
	if (wa > wait)
		wait = wa;
	if (wait > 0) {
		q->retry_after = wait;
		return api_error(q, 429, "TooManyRequests",
				 "too many failed logins: try again in %d s",
				 wait);
	}
	json_t *acct = NULL;
	struct hull_err err = {0};
	head_account_by_login(q->store, name, &acct, &err);
	const char *stored = hull_json_str(acct, "password", NULL);
	/* The same work for an unknown login as for a wrong password. */
	char *h = hash_with(pw, stored ? stored : c->dummy_hash);
	bool ok = stored && h && strlen(h) == strlen(stored) &&
		  !CRYPTO_memcmp(h, stored, strlen(stored));
	free(h);
	if (!ok) {
		json_decref(acct);
		fail_add(c, lkey);
		fail_add(c, akey);
		return api_error(q, 401, "InvalidCredentials",
				 "wrong login or password");
	}
	fail_clear(c, lkey);
	fail_clear(c, akey);
	/* A session id the browser brought is never reused: a new one. */
	const char *old =
	    MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND, WEBUI_COOKIE);
	if (old && strlen(old) == 64) {
		char oh[65];
		sha256_hex(old, oh);
		store_del(q->store, "sessions", oh, NULL, NULL);
	}
	const char *account = hull_json_str(acct, "uuid", "");
	sessions_prune(q->store, account);
	char sid[65], csrf[65], key[65], now[32];
	if (random_hex(sid, 32) < 0 || random_hex(csrf, 32) < 0) {
		json_decref(acct);
		return api_error(q, 500, "InternalError", "no random bytes");
	}
	sha256_hex(sid, key);
	head_now_iso(now);
	json_t *sess = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I}", "key", key, "account", account,
	    "login", name, "csrf", csrf, "created", now, "expires",
	    (json_int_t)(head_now_ms() + (int64_t)q->cfg->session_ttl * 1000));
	if (store_put(q->store, "sessions", key, sess, "", NULL, &err) < 0) {
		json_decref(sess);
		json_decref(acct);
		return api_error(q, 500, "InternalError", "%s", err.msg);
	}
	q->account = acct;
	q->set_cookie = cookie_for(q, sid, q->cfg->session_ttl);
	explicit_bzero(sid, sizeof(sid));
	api_reply(q, 200, session_view(q, sess));
	json_decref(sess);
	return 0;
}

static int this_session(struct api_req *q, char hash[65], json_t **sess)
{
	const char *sid =
	    MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND, WEBUI_COOKIE);
	if (!q->by_session || !sid || session_get(q, sid, hash, sess) < 0)
		return api_error(q, 400, "InvalidArgument",
				 "not a console session"),
		       -1;
	return 0;
}

/* ---- event stream ---- */

static void stream_append(struct stream *s, const char *text)
{
	size_t n = strlen(text);
	s->buf = xrealloc(s->buf, s->len + n);
	memcpy(s->buf + s->len, text, n);
	s->len += n;
}

/* What changed since the last look, as one "states" event. */
static void stream_look(struct stream *s)
{
	json_t *sess = NULL, *all = NULL;
	if (store_get(s->store, "sessions", s->sid_hash, &sess, NULL, NULL) <
		0 ||
	    hull_json_int(sess, "expires", 0) <= head_now_ms()) {
		json_decref(sess);
		stream_append(s, "event: expired\ndata: {}\n\n");
		s->ending = true;
		return;
	}
	json_decref(sess);
	if (!s->hello) {
		stream_append(s, "retry: 1000\n\n");
		s->hello = true;
	}
	if (store_find(s->store, "machines", "owner", s->account, &all, NULL) <
	    0)
		return;
	json_t *diff = json_object();
	size_t i;
	json_t *m;
	json_array_foreach(all, i, m)
	{
		const char *id = hull_json_str(m, "id", "");
		const char *st = hull_json_str(m, "state", "");
		if (strcmp(hull_json_str(s->seen, id, ""), st)) {
			json_object_set_new(s->seen, id, json_string(st));
			json_object_set_new(diff, id, json_string(st));
		}
	}
	json_decref(all);
	if (json_object_size(diff)) {
		char *d = json_dumps(diff, JSON_COMPACT);
		stream_append(s, "event: states\ndata: ");
		stream_append(s, d);
		stream_append(s, "\n\n");
		free(d);
	}
	json_decref(diff);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	struct webui *c = s->c;
	if (s->off == s->len) {
		s->off = s->len = 0;
		if (s->ending)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&c->mu);
		bool stop = c->stopping, keep = s->keepalive;
		s->dirty = false;
		s->keepalive = false;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			return MHD_CONTENT_READER_END_OF_STREAM;
		stream_look(s);
		if (keep && s->len == 0)
			stream_append(s, ": keepalive\n\n");
	}
	if (s->off == s->len) {
		/* Nothing to say: wait, suspended, for webui_notify. */
		pthread_mutex_lock(&c->mu);
		if (!s->dirty && !c->stopping) {
			s->suspended = true;
			MHD_suspend_connection(s->conn);
		}
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	size_t n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	struct webui *c = s->c;
	pthread_mutex_lock(&c->mu);
	for (struct stream **p = &c->streams; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pthread_mutex_unlock(&c->mu);
	json_decref(s->seen);
	free(s->buf);
	free(s);
}

static int events(struct api_req *q)
{
	if (!is(q, "GET"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	char hash[65];
	json_t *sess = NULL;
	if (this_session(q, hash, &sess) < 0)
		return 0;
	json_decref(sess);
	struct stream *s = xcalloc(1, sizeof(*s));
	s->c = q->webui;
	s->store = q->store;
	s->conn = q->conn;
	s->seen = json_object();
	snprintf(s->account, sizeof(s->account), "%s",
		 hull_json_str(q->account, "uuid", ""));
	memcpy(s->sid_hash, hash, sizeof(s->sid_hash));
	struct MHD_Response *r = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	pthread_mutex_lock(&q->webui->mu);
	s->next = q->webui->streams;
	q->webui->streams = s;
	pthread_mutex_unlock(&q->webui->mu);
	q->response = r;
	q->status = 200;
	return 0;
}

/* ---- servers (the operator's datacenter view) ---- */

static int servers(struct api_req *q)
{
	if (strcmp(hull_json_str(q->account, "login", ""), q->cfg->admin))
		return api_error(q, 403, "NotAuthorized",
				 "only the operator (%s) sees the servers",
				 q->cfg->admin);
	struct hull_err err = {0};
	if (q->nseg == 2 && is(q, "GET")) {
		json_t *all = NULL;
		if (store_find(q->store, "servers", NULL, NULL, &all, &err) < 0)
			return api_error(q, 500, "InternalError", "%s",
					 err.msg);
		json_t *out = json_array();
		int64_t now = head_now_ms();
		size_t i;
		json_t *sv;
		json_array_foreach(all, i, sv)
		{
			json_t *v = server_view(q->store, sv, now);
			json_object_set_new(
			    v, "instances",
			    json_integer((json_int_t)json_object_size(
				json_object_get(v, "vms"))));
			json_object_del(v, "sysinfo");
			json_array_append_new(out, v);
		}
		json_decref(all);
		return api_reply(q, 200, out);
	}
	if (q->nseg == 3 && is(q, "POST")) {
		json_t *rv = json_object_get(q->body, "reserved");
		if (!json_is_boolean(rv))
			return api_error(q, 409, "InvalidArgument",
					 "reserved must be a boolean");
		if (server_reserve(q->store, q->seg[2], json_is_true(rv),
				   &err) < 0)
			return api_error(q, err.code == ENOENT ? 404 : 500,
					 err.code == ENOENT ? "ResourceNotFound"
							    : "InternalError",
					 "%s", err.msg);
		return api_reply(q, 204, NULL);
	}
	return api_error(q, 405, "MethodNotAllowed",
			 "%s is not allowed on %.200s", q->method, q->path);
}

/* ---- static files ---- */

static const char *content_type_of(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".json", "application/json"},
	    {".woff2", "font/woff2"},
	    {".woff", "font/woff"},
	    {".ttf", "font/ttf"},
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(*types); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

/* A path segment a page may name: no dot files, no "..", plain names. */
static bool segment_ok(const char *s)
{
	if (!*s || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* A CommonJS module of node-xterm (path, owned: freed here), wrapped as
 * hullCjs.define(ID, function (require, module, exports) {...}) with ID
 * its path inside the package ("lib/public/Terminal.js"). */
static int serve_cjs(struct api_req *q, char *path)
{
	char *text = NULL;
	size_t len = 0;
	int r = hull_file_read(path, XTERM_CJS_MAX, &text, &len, NULL);
	const char *id = path + strlen(XTERM_CJS_DIR) + 1;
	if (r < 0) {
		free(path);
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	}
	char *body = xasprintf("hullCjs.define(\"%s\", function (require, "
			       "module, exports) {\n%s\n});\n",
			       id, text);
	free(text);
	free(path);
	struct MHD_Response *res = MHD_create_response_from_buffer(
	    strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(res, "Content-Type",
				"text/javascript; charset=utf-8");
	q->response = res;
	q->status = 200;
	return 0;
}

static int serve_file(struct api_req *q)
{
	if (!is(q, "GET") && !is(q, "HEAD"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	const char *base = q->webui->dir;
	int first = 1;
	bool cjs = false;
	if (q->nseg >= 3 && !strcmp(q->seg[1], "vendor")) {
		if (!strcmp(q->seg[2], "novnc"))
			base = NOVNC_DIR;
		else if (!strcmp(q->seg[2], "xterm-cjs") && q->nseg >= 5 &&
			 !strcmp(q->seg[3], "lib")) {
			base = XTERM_CJS_DIR;
			cjs = true;
		} else
			base = NULL;
		first = 3;
	}
	if (!base)
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	char *path = xstrdup(base);
	const char *last = "index.html";
	for (int i = first; i < q->nseg; i++) {
		if (!segment_ok(q->seg[i])) {
			free(path);
			return api_error(q, 404, "ResourceNotFound",
					 "%.200s does not exist", q->path);
		}
		char *p = xasprintf("%s/%s", path, q->seg[i]);
		free(path);
		path = p;
		last = q->seg[i];
	}
	if (q->nseg == first) {
		char *p = xasprintf("%s/index.html", path);
		free(path);
		path = p;
	}
	const char *type = content_type_of(last);
	if (cjs && type && strstr(type, "javascript"))
		return serve_cjs(q, path);
	int fd = type ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	free(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	}
	q->file_fd = fd;
	q->file_size = (uint64_t)st.st_size;
	q->content_type = type;
	q->status = 200;
	return 0;
}

bool webui_is_public(struct api_req *q)
{
	if (q->nseg == 2 &&
	    (!strcmp(q->seg[1], "login") || !strcmp(q->seg[1], "session")))
		return true;
	if (q->nseg >= 2 &&
	    (!strcmp(q->seg[1], "logout") || !strcmp(q->seg[1], "events") ||
	     !strcmp(q->seg[1], "servers")))
		return false;
	return true;
}

int webui_dispatch(struct api_req *q)
{
	if (q->nseg == 2 && !strcmp(q->seg[1], "login"))
		return login(q);
	if (q->nseg == 2 && !strcmp(q->seg[1], "session")) {
		if (!is(q, "GET"))
			return api_error(q, 405, "MethodNotAllowed",
					 "%s is not allowed on %.200s",
					 q->method, q->path);
		/* Public, so that a page without a session learns so
		 * without an error: {"login": null}. */
		char hash[65];
		json_t *sess = NULL;
		if (webui_session_auth(q) != 1 ||
		    this_session(q, hash, &sess) < 0)
			return api_reply(q, 200, json_pack("{s:n}", "login"));
		api_reply(q, 200, session_view(q, sess));
		json_decref(sess);
		return 0;
	}
	if (q->nseg == 2 && !strcmp(q->seg[1], "logout")) {
		if (!is(q, "POST"))
			return api_error(q, 405, "MethodNotAllowed",
					 "%s is not allowed on %.200s",
					 q->method, q->path);
		char hash[65];
		json_t *sess = NULL;
		if (this_session(q, hash, &sess) < 0)
			return 0;
		json_decref(sess);
		store_del(q->store, "sessions", hash, NULL, NULL);
		q->set_cookie = cookie_for(q, "", 0);
		return api_reply(q, 204, NULL);
	}
	if (q->nseg == 2 && !strcmp(q->seg[1], "events"))
		return events(q);
	if ((q->nseg == 2 || q->nseg == 3) && !strcmp(q->seg[1], "servers"))
		return servers(q);
	return serve_file(q);
}
