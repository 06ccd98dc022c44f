/*
 * console.c - console tickets and the console WebSockets: see console.h.
 *
 * A WebSocket, once libmicrohttpd hands over its socket (the upgrade), is
 * bridged by a thread of its own: the server's one polling thread runs
 * every request handler in turn, and a console must neither wait on it
 * nor make it wait. A console is a few bytes a keystroke between two
 * descriptors, so a thread with a blocking poll over the pair is the
 * simplest bridge that keeps the echo quick; there are few consoles at
 * once (CONSOLE_BRIDGES_MAX), so a thread each costs little. The hub
 * knows every bridge, so that hull-api can end them before its HTTP
 * daemon stops (libmicrohttpd requires that upgraded connections are
 * closed first).
 *
 * What travels on the WebSocket:
 *   server -> browser: binary frames, the console's bytes as they come
 *     (first the tail of logs/console.log: the scrollback), or RFB;
 *   browser -> server: binary frames, keystrokes (or RFB); text frames,
 *     one JSON control message each: {"type":"resize","rows":R,"cols":C}
 *     sets the console's window size (a zone's pty; nothing for a VM's
 *     serial line or a screen). Anything else in a text frame closes the
 *     socket with 1003.
 */
#include "head/console.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "head/admin.h"
#include "head/servers.h"
#include "head/websock.h"
#include "lib/conframe.h"
#include "lib/host.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"

/* At most this many consoles at once: each is a thread and two sockets. */
#define CONSOLE_BRIDGES_MAX 64
/* How long a compute node's agent has to connect back (it asks for
 * tasks every 0.5 s; a task before it may take a while). */
#define CONSOLE_AGENT_WAIT_MS 15000
/* At most this many tickets outstanding (unused and unexpired). */
#define CONSOLE_TICKETS_MAX 1024

struct ticket {
	unsigned char hash[32]; /* SHA-256 of the ticket's text */
	char account[HULL_UUID_LEN + 1];
	char machine[HULL_UUID_LEN + 1];
	bool vnc;
	time_t expires; /* CLOCK_MONOTONIC seconds */
};

struct bridge {
	struct console_hub *hub;
	struct bridge *next;
	struct bridge *next_waiting;
	char machine[HULL_UUID_LEN + 1];
	bool vnc;
	/* An instance on a compute node: its agent connects back to
	 * /agent/servers/:server/consoles/:pair, and that upgraded socket
	 * becomes con (con_urh its handle); wake says it came. */
	bool remote;
	char server[HULL_UUID_LEN + 1];
	char pair[HULL_UUID_LEN + 1];
	int wake[2];
	bool claimed; /* the agent's request came */
	/* The agent takes lib/conframe.h's records (keystrokes and window
	 * sizes), not raw keystrokes. */
	bool framed;
	struct MHD_UpgradeResponseHandle *con_urh;
	int ws;	 /* the browser's socket (libmicrohttpd's) */
	int con; /* the console's socket or the VNC relay's */
	struct MHD_UpgradeResponseHandle *urh;
	char *scroll; /* the scrollback to send first */
	size_t scroll_len;
	uint8_t *extra; /* bytes the server read past the handshake */
	size_t extra_len;
};

struct console_hub {
	pthread_mutex_t lock;
	pthread_cond_t gone;
	struct bridge *bridges;
	size_t nbridges;
	bool stopping;
	struct bridge *waiting; /* remote bridges whose agent is awaited */
	struct ticket *t;
	size_t nt;
};

struct console_hub *console_hub_new(void)
{
	struct console_hub *h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->gone, NULL);
	return h;
}

void console_hub_stop(struct console_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	/* Wake each bridge's poll: its thread then ends and unlinks it. */
	for (struct bridge *b = h->bridges; b; b = b->next) {
		shutdown(b->ws, SHUT_RDWR);
		shutdown(b->con, SHUT_RDWR);
	}
	while (h->nbridges)
		pthread_cond_wait(&h->gone, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

void console_hub_free(struct console_hub *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->gone);
	free(h->t);
	free(h);
}

static time_t now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static void ticket_hash(const char *text, unsigned char out[32])
{
	unsigned int n = 0;
	EVP_Digest(text, strlen(text), out, &n, EVP_sha256(), NULL);
}

/* Drops the expired tickets. */
static void tickets_prune(struct console_hub *h)
{
	time_t now = now_s();
	size_t j = 0;
	for (size_t i = 0; i < h->nt; i++)
		if (h->t[i].expires > now)
			h->t[j++] = h->t[i];
	h->nt = j;
}

static bool is_operator(struct api_req *q)
{
	return !strcmp(hull_json_str(q->account, "login", ""), q->cfg->admin);
}

/* "ws" or "wss" and the host the request names (its Host header; the
 * configured address when it has none), as "scheme://host". */
static char *own_origin(struct api_req *q, bool ws)
{
	const char *host =
	    MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Host");
	const char *scheme =
	    q->cfg->tls ? (ws ? "wss" : "https") : (ws ? "ws" : "http");
	if (host && *host && strlen(host) < 256 &&
	    !strpbrk(host, "/\\@ \t\r\n"))
		return xasprintf("%s://%s", scheme, host);
	char *url = head_url(q->cfg, -1);
	const char *rest = strstr(url, "://");
	char *o = xasprintf("%s%s", scheme, rest ? rest : "://");
	free(url);
	return o;
}

static bool brand_has_vnc(const char *brand)
{
	return !strcmp(brand, "kvm");
}

/* The caller's machine (or any, for the operator) that is running. */
static int console_machine(struct api_req *q, const char *id, json_t **out)
{
	struct hull_err err = {0};
	json_t *m = NULL;
	*out = NULL;
	if (!hull_uuid_valid(id) ||
	    store_get(q->store, "machines", id, &m, NULL, &err) < 0 ||
	    (!is_operator(q) &&
	     strcmp(hull_json_str(m, "owner", ""),
		    hull_json_str(q->account, "uuid", ""))) ||
	    !strcmp(hull_json_str(m, "state", ""), "deleted")) {
		json_decref(m);
		api_error(q, 404, "ResourceNotFound", "%.200s does not exist",
			  q->path);
		return -ENOENT;
	}
	*out = m;
	return 0;
}

int console_ticket_post(struct api_req *q, const char *id)
{
	struct console_hub *h = api_console_hub(q->api);
	json_t *m = NULL;
	if (strcmp(q->method, "POST"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	if (console_machine(q, id, &m) < 0)
		return 0;
	const char *brand = hull_json_str(m, "brand", "");
	const char *type = hull_json_str(q->body, "type", NULL);
	json_t *jt = json_object_get(q->body, "type");
	int r = 0;
	if (jt && !json_is_string(jt)) {
		r = api_error(q, 409, "InvalidArgument",
			      "type must be \"serial\" or \"vnc\"");
		goto out;
	}
	if (!type)
		type = brand_has_vnc(brand) ? "vnc" : "serial";
	if (strcmp(type, "serial") && strcmp(type, "vnc")) {
		r = api_error(q, 409, "InvalidArgument",
			      "type must be \"serial\" or \"vnc\"");
		goto out;
	}
	if (!strcmp(type, "vnc") && !brand_has_vnc(brand)) {
		r = api_error(q, 409, "InvalidArgument",
			      "a %s instance has no VNC console", brand);
		goto out;
	}
	if (strcmp(hull_json_str(m, "state", ""), "running")) {
		r = api_error(q, 409, "InvalidState",
			      "instance %s is not running", id);
		goto out;
	}
	tickets_prune(h);
	if (h->nt >= CONSOLE_TICKETS_MAX) {
		r = api_error(q, 503, "ServiceUnavailable",
			      "too many console tickets outstanding");
		goto out;
	}
	unsigned char raw[32];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		r = api_error(q, 500, "InternalError", "no random bytes");
		goto out;
	}
	char text[2 * sizeof(raw) + 1];
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(text + 2 * i, 3, "%02x", raw[i]);
	h->t = xrealloc(h->t, (h->nt + 1) * sizeof(*h->t));
	struct ticket *t = &h->t[h->nt++];
	memset(t, 0, sizeof(*t));
	ticket_hash(text, t->hash);
	snprintf(t->account, sizeof(t->account), "%s",
		 hull_json_str(q->account, "uuid", ""));
	snprintf(t->machine, sizeof(t->machine), "%s", id);
	t->vnc = !strcmp(type, "vnc");
	t->expires = now_s() + CONSOLE_TICKET_TTL;
	char exp[32];
	time_t wall = time(NULL) + CONSOLE_TICKET_TTL;
	struct tm tm;
	gmtime_r(&wall, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char *origin = own_origin(q, true);
	char *url =
	    xasprintf("%s/%s/machines/%s/console?ticket=%s", origin,
		      hull_json_str(q->account, "login", "my"), id, text);
	api_reply(q, 201,
		  json_pack("{s:s, s:s, s:s, s:s}", "ticket", text, "url", url,
			    "expires", exp, "type", type));
	free(url);
	free(origin);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(text, sizeof(text));
out:
	json_decref(m);
	return r;
}

bool console_ws_request(struct api_req *q)
{
	return q->nseg == 4 && !strcmp(q->seg[1], "machines") &&
	       !strcmp(q->seg[3], "console") && !strcmp(q->method, "GET");
}

/* Takes the ticket out of the hub (single use: found is used up, whether
 * or not it then fits); 0 when it is good for this account's login path
 * and machine. */
static int ticket_take(struct console_hub *h, const char *text,
		       const char *machine, struct ticket *out)
{
	unsigned char d[32];
	ticket_hash(text, d);
	time_t now = now_s();
	for (size_t i = 0; i < h->nt; i++) {
		/* Hashes compared in constant time. */
		if (CRYPTO_memcmp(h->t[i].hash, d, sizeof(d)))
			continue;
		*out = h->t[i];
		h->t[i] = h->t[--h->nt];
		if (out->expires <= now || strcmp(out->machine, machine))
			return -EACCES;
		return 0;
	}
	return -ENOENT;
}

/* Under the hub's lock. */
static void waiting_remove(struct console_hub *h, struct bridge *b)
{
	for (struct bridge **pp = &h->waiting; *pp; pp = &(*pp)->next_waiting)
		if (*pp == b) {
			*pp = b->next_waiting;
			break;
		}
}

static void bridge_unlink(struct bridge *b)
{
	struct console_hub *h = b->hub;
	pthread_mutex_lock(&h->lock);
	waiting_remove(h, b);
	for (struct bridge **pp = &h->bridges; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	h->nbridges--;
	pthread_cond_broadcast(&h->gone);
	pthread_mutex_unlock(&h->lock);
}

/* Writes all of buf to a descriptor that may be non-blocking. */
static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = {fd, POLLOUT, 0};
				if (poll(&pf, 1, 10000) <= 0)
					return -ETIMEDOUT;
				continue;
			}
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One frame in one write: a header written apart from its payload
 * would wait for the peer's delayed ACK (Nagle), 40 ms an echo. */
static int ws_send(int fd, uint8_t op, const void *data, size_t n)
{
	uint8_t stack[10 + 4096];
	uint8_t *buf = n <= 4096 ? stack : xmalloc(10 + n);
	size_t hl = ws_frame_header(buf, op, n);
	if (n)
		memcpy(buf + hl, data, n);
	int r = write_full(fd, buf, hl + n);
	if (buf != stack)
		free(buf);
	return r;
}

static void ws_close(int fd, uint16_t code)
{
	uint8_t c[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	(void)ws_send(fd, WS_OP_CLOSE, c, sizeof(c));
}

/* A control message (a text frame). Returns 0, or a close code. */
static uint16_t control(struct bridge *b, const uint8_t *p, size_t n)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
	uint16_t code = 1003; /* unsupported data */
	json_t *rw = json_object_get(j, "rows"),
	       *cl = json_object_get(j, "cols");
	if (json_is_object(j) &&
	    !strcmp(hull_json_str(j, "type", ""), "resize") &&
	    json_is_integer(rw) && json_is_integer(cl) &&
	    json_integer_value(rw) >= 1 && json_integer_value(rw) <= 1000 &&
	    json_integer_value(cl) >= 1 && json_integer_value(cl) <= 1000) {
		code = 0;
		/* A screen (VNC) has no window size of its own. A failure
		 * (the instance just stopped) ends nothing: the console
		 * closing does. */
		unsigned rows = (unsigned)json_integer_value(rw),
			 cols = (unsigned)json_integer_value(cl);
		if (!b->vnc && !b->remote)
			(void)zone_console_winsize(b->machine, rows, cols,
						   NULL);
		else if (!b->vnc && b->framed) {
			/* The node's agent sets it, as above. */
			uint8_t rec[CONFRAME_HEADER + 4];
			conframe_resize(rec, rows, cols);
			if (write_full(b->con, rec, sizeof(rec)) < 0)
				code = WS_CLOSE_GOING_AWAY;
		}
	}
	json_decref(j);
	return code;
}

/* Keystrokes to the console: as they are, or in records for an agent
 * that asked for them (one write: see ws_send). */
static int to_console(struct bridge *b, const uint8_t *p, size_t n)
{
	if (!b->framed || !n)
		return write_full(b->con, p, n);
	while (n) {
		uint8_t rec[CONFRAME_HEADER + 4096];
		size_t k = n < 4096 ? n : 4096;
		conframe_header(rec, CONFRAME_DATA, k);
		memcpy(rec + CONFRAME_HEADER, p, k);
		int r = write_full(b->con, rec, CONFRAME_HEADER + k);
		if (r < 0)
			return r;
		p += k;
		n -= k;
	}
	return 0;
}

/* Waits for the agent's connection (CONSOLE_AGENT_WAIT_MS), or for the
 * browser to leave; 0 once b->con is set. */
static int wait_agent(struct bridge *b)
{
	struct console_hub *h = b->hub;
	/* Keystrokes typed meanwhile wait in the socket: only a hang-up
	 * ends the wait early. */
	struct pollfd p[2] = {{b->wake[0], POLLIN, 0}, {b->ws, POLLRDHUP, 0}};
	(void)poll(p, 2, CONSOLE_AGENT_WAIT_MS);
	pthread_mutex_lock(&h->lock);
	waiting_remove(h, b);
	bool claimed = b->claimed;
	pthread_mutex_unlock(&h->lock);
	/* An agent's request taken but not yet upgraded: its upgrade comes
	 * at once, and must not find b gone. */
	if (claimed)
		(void)poll(p, 1, 5000);
	pthread_mutex_lock(&h->lock);
	int r = b->con >= 0 ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&h->lock);
	return r;
}

static void *bridge_run(void *arg)
{
	struct bridge *b = arg;
	struct ws_reader rd;
	ws_reader_init(&rd, CONSOLE_MESSAGE_MAX);
	/* Room for one whole frame of the largest message. */
	size_t cap = CONSOLE_MESSAGE_MAX + 14, have = 0;
	uint8_t *in = xmalloc(cap);
	uint16_t code = WS_CLOSE_NORMAL;
	bool closed_by_peer = false;
	if (b->extra_len) {
		size_t n = b->extra_len < cap ? b->extra_len : cap;
		memcpy(in, b->extra, n);
		have = n;
	}
	if (b->remote && wait_agent(b) < 0) {
		code = 1011; /* the server could not do it */
		goto close;
	}
	if (b->scroll_len &&
	    ws_send(b->ws, WS_OP_BINARY, b->scroll, b->scroll_len) < 0)
		goto end;
	for (bool first = true;; first = false) {
		/* Frames already read (the handshake's leftovers) first. */
		if (!first || !have) {
			struct pollfd p[2] = {{b->ws, POLLIN, 0},
					      {b->con, POLLIN, 0}};
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (p[1].revents) {
				char buf[16384];
				ssize_t n = read(b->con, buf, sizeof(buf));
				if (n <= 0) {
					code = WS_CLOSE_GOING_AWAY;
					break; /* the instance stopped */
				}
				if (ws_send(b->ws, WS_OP_BINARY, buf,
					    (size_t)n) < 0)
					goto end;
			}
			if (!p[0].revents)
				continue;
			ssize_t n = read(b->ws, in + have, cap - have);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0)
				goto end;
			have += (size_t)n;
		}
		size_t off = 0;
		for (;;) {
			struct ws_msg m;
			size_t used;
			struct hull_err err = {0};
			int r = ws_reader_next(&rd, in + off, have - off, &used,
					       &m, &err);
			if (r < 0) {
				code = rd.close_code;
				goto close;
			}
			off += used;
			if (r == 0) {
				if (!used)
					break;
				continue;
			}
			if (m.opcode == WS_OP_BINARY) {
				if (to_console(b, m.payload, m.len) < 0) {
					code = WS_CLOSE_GOING_AWAY;
					goto close;
				}
			} else if (m.opcode == WS_OP_TEXT) {
				if ((code = control(b, m.payload, m.len)))
					goto close;
				code = WS_CLOSE_NORMAL;
			} else if (m.opcode == WS_OP_PING) {
				if (ws_send(b->ws, WS_OP_PONG, m.payload,
					    m.len) < 0)
					goto end;
			} else if (m.opcode == WS_OP_CLOSE) {
				closed_by_peer = true;
				goto close;
			}
		}
		memmove(in, in + off, have - off);
		have -= off;
	}
close:
	/* The closing handshake (RFC 6455 5.5.1): a close answered, or
	 * ours with the reason. */
	ws_close(b->ws, closed_by_peer ? WS_CLOSE_NORMAL : code);
end:
	free(in);
	ws_reader_fini(&rd);
	pthread_mutex_lock(&b->hub->lock);
	waiting_remove(b->hub, b);
	pthread_mutex_unlock(&b->hub->lock);
	if (b->con_urh)
		MHD_upgrade_action(b->con_urh, MHD_UPGRADE_ACTION_CLOSE);
	else if (b->con >= 0)
		close(b->con);
	if (b->wake[0] >= 0) {
		close(b->wake[0]);
		close(b->wake[1]);
	}
	free(b->scroll);
	free(b->extra);
	/* Handed back before the hub hears of the end: hull-api stops its
	 * daemon only once every bridge is gone. */
	MHD_upgrade_action(b->urh, MHD_UPGRADE_ACTION_CLOSE);
	bridge_unlink(b);
	free(b);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *req_cls,
		       const char *extra_in, size_t extra_in_size,
		       MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct bridge *b = cls;
	struct console_hub *h = b->hub;
	api_upgrade_taken(req_cls);
	/* Keystrokes and echoes are small writes that must go at once.
	 * (Under TLS sock is a socketpair of libmicrohttpd's: no effect.) */
	int one = 1;
	(void)setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	b->ws = sock;
	b->urh = urh;
	if (extra_in_size) {
		b->extra = xmalloc(extra_in_size);
		memcpy(b->extra, extra_in, extra_in_size);
		b->extra_len = extra_in_size;
	}
	pthread_mutex_lock(&h->lock);
	/* An upgrade that completes while hull-api stops gets no thread:
	 * the hub no longer waits for new bridges. */
	bool stopping = h->stopping;
	if (!stopping) {
		b->next = h->bridges;
		h->bridges = b;
		h->nbridges++;
	}
	pthread_mutex_unlock(&h->lock);
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (stopping || pthread_create(&t, &a, bridge_run, b) != 0) {
		pthread_mutex_lock(&h->lock);
		waiting_remove(h, b);
		pthread_mutex_unlock(&h->lock);
		if (b->con >= 0)
			close(b->con);
		free(b->scroll);
		free(b->extra);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		if (!stopping)
			bridge_unlink(b);
		free(b);
	}
	pthread_attr_destroy(&a);
}

/* The browser left before its 101 went out: nothing took the bridge. A
 * bridge whose agent already came is left alone (the agent's upgrade
 * still points at it; rare, and small). */
static void bridge_abandon(void *cls)
{
	struct bridge *b = cls;
	struct console_hub *h = b->hub;
	pthread_mutex_lock(&h->lock);
	waiting_remove(h, b);
	bool claimed = b->claimed;
	pthread_mutex_unlock(&h->lock);
	if (claimed)
		return;
	if (b->con >= 0)
		close(b->con);
	if (b->wake[0] >= 0) {
		close(b->wake[0]);
		close(b->wake[1]);
	}
	free(b->scroll);
	free(b);
}

/* Is the machine on this host (a converged head node)? */
static bool machine_here(json_t *m)
{
	char self[37];
	if (host_uuid_get(self, NULL) < 0)
		return false;
	return !strcmp(hull_json_str(m, "server", ""), self);
}

/* The console of an instance on a compute node: a `console` task for
 * its agent, naming a pairing id ({pair, type}); the bridge waits in
 * the hub's list for the agent's connection. */
static int remote_request(struct api_req *q, struct bridge *b,
			  const char *server, struct hull_err *err)
{
	struct console_hub *h = b->hub;
	b->remote = true;
	snprintf(b->server, sizeof(b->server), "%s", server);
	hull_uuid_generate(b->pair);
	if (pipe2(b->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return hull_err_sys(err, errno, "pipe");
	json_t *params = json_pack("{s:s, s:s}", "pair", b->pair, "type",
				   b->vnc ? "vnc" : "serial");
	char id[HULL_UUID_LEN + 1];
	int r = task_queue(q->store, server, b->machine, "console", NULL,
			   params, id, err);
	json_decref(params);
	if (r < 0) {
		close(b->wake[0]);
		close(b->wake[1]);
		return r;
	}
	pthread_mutex_lock(&h->lock);
	b->next_waiting = h->waiting;
	h->waiting = b;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static void on_agent_upgrade(void *cls, struct MHD_Connection *conn,
			     void *req_cls, const char *extra_in,
			     size_t extra_in_size, MHD_socket sock,
			     struct MHD_UpgradeResponseHandle *urh)
{
	struct bridge *b = cls;
	int one = 1;
	(void)setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The agent sends nothing before it has read the 101. */
	pthread_mutex_lock(&b->hub->lock);
	b->con = sock;
	b->con_urh = urh;
	pthread_mutex_unlock(&b->hub->lock);
	(void)!write(b->wake[1], "", 1);
}

int console_agent_open(struct api_req *q, const char *server, const char *pair)
{
	struct console_hub *h = api_console_hub(q->api);
	const char *up =
	    MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Upgrade");
	if (!ws_header_has_token(up, "hull-console"))
		return api_error(q, 400, "BadRequest",
				 "Upgrade: hull-console required");
	pthread_mutex_lock(&h->lock);
	struct bridge *b = NULL;
	for (struct bridge *w = h->waiting; w && !b; w = w->next_waiting)
		if (!strcmp(w->pair, pair) && !strcmp(w->server, server))
			b = w;
	const char *fr = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
						     "Hull-Console-Frames");
	if (b) {
		waiting_remove(h, b);
		b->claimed = true;
		b->framed = !b->vnc && fr && !strcmp(fr, "1");
	}
	pthread_mutex_unlock(&h->lock);
	if (!b)
		return api_error(q, 404, "ResourceNotFound",
				 "no console %.64s is waiting", pair);
	struct MHD_Response *res =
	    MHD_create_response_for_upgrade(on_agent_upgrade, b);
	MHD_add_response_header(res, MHD_HTTP_HEADER_UPGRADE, "hull-console");
	q->upgrade = res;
	q->status = 101;
	return 0;
}

int console_ws_open(struct api_req *q)
{
	struct console_hub *h = api_console_hub(q->api);
	struct MHD_Connection *c = q->conn;
	const char *hv[] = {
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade"),
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection"),
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					"Sec-WebSocket-Version"),
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					"Sec-WebSocket-Key"),
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"),
	};
	char accept[WS_ACCEPT_LEN];
	if (!ws_header_has_token(hv[0], "websocket") ||
	    !ws_header_has_token(hv[1], "upgrade"))
		return api_error(q, 400, "BadRequest",
				 "the console is a WebSocket: GET with "
				 "Upgrade: websocket");
	if (!hv[2] || strcmp(hv[2], "13"))
		return api_error(q, 426, "UpgradeRequired",
				 "Sec-WebSocket-Version must be 13");
	if (ws_accept(hv[3], accept) < 0)
		return api_error(q, 400, "BadRequest",
				 "Sec-WebSocket-Key is not a 16-byte nonce");
	/* Cross-site WebSocket hijacking: a page elsewhere could open this
	 * socket with the user's cookie; only the head node's own pages
	 * may. */
	char *origin = own_origin(q, false);
	bool same = hv[4] && !strcmp(hv[4], origin);
	free(origin);
	if (!same)
		return api_error(q, 403, "Forbidden",
				 "Origin %.100s is not this head node's",
				 hv[4] ? hv[4] : "(none)");
	const char *text = api_query(q, "ticket");
	if (!text || !*text)
		return api_error(q, 401, "InvalidCredentials",
				 "a console ticket is required");
	struct ticket t;
	if (ticket_take(h, text, q->seg[2], &t) < 0)
		return api_error(q, 401, "InvalidCredentials",
				 "the console ticket is unknown, used, expired "
				 "or not for this instance");
	struct hull_err err = {0};
	json_t *m = NULL, *acct = NULL;
	/* The path's login must be the ticket's account's (or "my"). */
	if (store_get(q->store, "accounts", t.account, &acct, NULL, &err) < 0 ||
	    (strcmp(q->seg[0], "my") &&
	     strcmp(q->seg[0], hull_json_str(acct, "login", "")))) {
		json_decref(acct);
		return api_error(q, 401, "InvalidCredentials",
				 "the console ticket is not this account's");
	}
	json_decref(acct);
	if (store_get(q->store, "machines", t.machine, &m, NULL, &err) < 0)
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	bool here = machine_here(m);
	char server[HULL_UUID_LEN + 1];
	snprintf(server, sizeof(server), "%s", hull_json_str(m, "server", ""));
	json_decref(m);
	pthread_mutex_lock(&h->lock);
	bool full = h->nbridges >= CONSOLE_BRIDGES_MAX || h->stopping;
	pthread_mutex_unlock(&h->lock);
	if (full)
		return api_error(q, 503, "ServiceUnavailable",
				 "too many consoles open");
	struct bridge *b = xcalloc(1, sizeof(*b));
	b->hub = h;
	b->vnc = t.vnc;
	b->ws = b->con = b->wake[0] = b->wake[1] = -1;
	snprintf(b->machine, sizeof(b->machine), "%s", t.machine);
	if (!here) {
		if (remote_request(q, b, server, &err) < 0) {
			free(b);
			return api_error(q, 500, "InternalError", "%s",
					 err.msg);
		}
	} else {
		b->con = t.vnc ? zone_vnc_connect(t.machine, &err)
			       : zone_console_connect(t.machine, &err);
		if (b->con < 0) {
			free(b);
			return api_error(q, 409, "InvalidState", "%s", err.msg);
		}
	}
	if (!t.vnc && here)
		(void)zone_console_tail(t.machine, CONSOLE_SCROLLBACK,
					&b->scroll, &b->scroll_len, NULL);
	struct MHD_Response *res =
	    MHD_create_response_for_upgrade(on_upgrade, b);
	MHD_add_response_header(res, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(res, "Sec-WebSocket-Accept", accept);
	/* noVNC offers "binary" (Triton's vnc endpoint takes "binary" and
	 * "rfb"): the first of those offered is chosen. */
	const char *proto = MHD_lookup_connection_value(
	    c, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	if (ws_header_has_token(proto, "binary"))
		MHD_add_response_header(res, "Sec-WebSocket-Protocol",
					"binary");
	else if (ws_header_has_token(proto, "rfb"))
		MHD_add_response_header(res, "Sec-WebSocket-Protocol", "rfb");
	q->upgrade = res;
	q->upgrade_abandon = bridge_abandon;
	q->upgrade_cls = b;
	q->status = 101;
	return 0;
}
