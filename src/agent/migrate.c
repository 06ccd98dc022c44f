/*
 * migrate.c - the agents' side of a warm migration (head/migrate.h): the
 * channel between two agents, the target's listener and the migration
 * tasks (cn-agent's machine_migrate; spec triton-wave2.md §1.3).
 *
 * Channel: TCP on the admin network, TLS 1.2 with a pre-shared key
 * (OpenSSL's PSK ciphers, AES-256-GCM or ChaCha20-Poly1305): the identity
 * is the instance's uuid, the key the migration's 32-byte secret, which
 * the head node gives the source in its task and the target when the
 * target asks during the handshake (GET /agent/servers/:me/migrations/:vm,
 * answered only to the migration's target). A peer without the secret
 * fails the handshake, and nobody on the wire reads the stream.
 *
 * On the channel: the source writes the stream of hull_instance_send
 * (live: from a read-only snapshot; incremental from the last sync's
 * snapshot), the target checks its header before anything is made (the
 * instance is the announced one; sendfmt_header_parse checks that every
 * dataset is its own) and feeds it to hull_instance_receive, then answers
 * one JSON line, {"ok":true} or {"error":"..."}. The library calls run in
 * threads of their own on one end of a socketpair; the connection's
 * thread alone uses the TLS session (OpenSSL's sessions are not to be
 * shared between threads) and relays, counts, paces (the bandwidth cap)
 * and reports progress to the head node once a second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
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

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "agent/chan.h"
#include "agent/agent.h"
#include "agent/live_kvm.h"
#include "agent/live_vmm.h"
#include "hull/instance.h"
#include "hull/snapshot.h"
#include "hull/send.h"
#include "inst/sendfmt.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "pool/pool.h"

#define CIPHERS "PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305"
#define RELAY_BUF (256 * 1024)
/* A peer silent this long is gone (cn-agent's socket timeout). */
#define IO_TIMEOUT_S 120
#define STOP_TIMEOUT_S 60

int agent_migration_port;

static int ssl_fail(struct hull_err *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "closed";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return hull_err_set(err, EPROTO, "%s: %s", what, buf);
}

static int unhex(const char *hex, uint8_t out[32])
{
	if (!hex || strlen(hex) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static unsigned int psk_server(SSL *ssl, const char *identity,
			       unsigned char *psk, unsigned int max_psk_len);
static unsigned int psk_client(SSL *ssl, const char *hint, char *identity,
			       unsigned int max_identity_len,
			       unsigned char *psk, unsigned int max_psk_len);

static SSL_CTX *ctx_new(bool server)
{
	SSL_CTX *ctx =
	    SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		return NULL;
	/* PSK through these callbacks is TLS 1.2's; pin it so both ends
	 * agree on the cipher list above. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_cipher_list(ctx, CIPHERS);
	/* Before SSL_new: a session copies its context's callbacks. */
	if (server)
		SSL_CTX_set_psk_server_callback(ctx, psk_server);
	else
		SSL_CTX_set_psk_client_callback(ctx, psk_client);
	return ctx;
}

static void set_timeouts(int fd)
{
	struct timeval tv = {IO_TIMEOUT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static int ssl_write_all(SSL *ssl, const void *p, size_t n,
			 struct hull_err *err)
{
	return chan_write_all(ssl, p, n) < 0
		   ? ssl_fail(err, "send to the target")
		   : 0;
}

static int ssl_read_all(SSL *ssl, void *p, size_t n, struct hull_err *err)
{
	return chan_read_all(ssl, p, n) < 0
		   ? ssl_fail(err, "read from the source")
		   : 0;
}

/* ---- the source ---- */

struct sender {
	const char *uuid;
	struct hull_send_opts o;
	int fd;
	int r;
	struct hull_send_result res;
	struct hull_err err;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;
	s->r =
	    hull_instance_send(s->uuid, &s->o, s->fd, NULL, &s->res, &s->err);
	close(s->fd);
	s->fd = -1;
	return NULL;
}

struct client_psk {
	const char *uuid;
	uint8_t key[32];
};

static unsigned int psk_client(SSL *ssl, const char *hint, char *identity,
			       unsigned int max_identity_len,
			       unsigned char *psk, unsigned int max_psk_len)
{
	(void)hint;
	struct client_psk *c = SSL_get_app_data(ssl);
	if (!c || strlen(c->uuid) + 1 > max_identity_len || max_psk_len < 32)
		return 0;
	strcpy(identity, c->uuid);
	memcpy(psk, c->key, 32);
	return 32;
}

static int dial(const char *host, long port, struct hull_err *err)
{
	char ps[16];
	snprintf(ps, sizeof(ps), "%ld", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
			*ai = NULL;
	int g = getaddrinfo(host, ps, &hints, &ai);
	if (g)
		return hull_err_set(err, EINVAL, "target address %s: %s", host,
				    gai_strerror(g));
	/* A target agent that is restarting: asked again for a while, on
	 * a fresh socket each time. */
	int fd = -1, e = 0;
	for (int tries = 0; tries < 30; tries++) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			break;
		}
		set_timeouts(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		if (e != ECONNREFUSED)
			break;
		struct timespec ts = {0, 500 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (fd < 0) {
		freeaddrinfo(ai);
		return hull_err_sys(err, e, "connect to %s:%ld", host, port);
	}
	freeaddrinfo(ai);
	return fd;
}

/* An upper bound of what a send moves: the bytes the instance's
 * datasets hold (for a progress total and an eta); 0 when unknown. */
static uint64_t estimate(const char *uuid)
{
	struct pool *p = NULL;
	if (pool_open(&p, NULL) < 0)
		return 0;
	struct pool_entry *e;
	size_t n;
	uint64_t sum = 0;
	if (pool_list_select(p, uuid, POOL_LIST_NO_SNAPSHOTS, &e, &n, NULL) ==
	    0) {
		for (size_t i = 0; i < n; i++)
			sum += e[i].used;
		pool_entries_free(e, n);
	}
	pool_close(p);
	return sum;
}

static void progress(struct agent_http *h, const struct agent_conf *c,
		     const char *uuid, uint64_t bytes, uint64_t total,
		     double rate)
{
	if (total < bytes)
		total = bytes;
	double left = (double)(total - bytes);
	/* cn-agent's floor: never promise less than 5 s while bytes are
	 * left. */
	json_int_t eta = rate > 0 ? (json_int_t)(left / rate * 1000) : 0;
	if (left > 0 && eta < 5000)
		eta = 5000;
	json_t *b = json_pack(
	    "{s:I, s:I, s:I, s:I}", "current_progress", (json_int_t)bytes,
	    "total_progress", (json_int_t)(total ? total : 1),
	    "transfer_bytes_second", (json_int_t)rate, "eta_ms", eta);
	_cleanup_free_ char *path = xasprintf(
	    "/agent/servers/%s/migrations/%s/progress", c->server_uuid, uuid);
	long st = 0;
	agent_http_call(h, "POST", path, b, &st, NULL, NULL);
	json_decref(b);
}

/* Sends uuid (live, incremental from params.base) to the target named in
 * params; *snapshot gets the new shared snapshot. */
static int send_to_target(const struct agent_conf *c, const char *uuid,
			  json_t *params, char snapshot[72],
			  struct hull_err *err)
{
	struct client_psk psk = {.uuid = uuid};
	if (unhex(hull_json_str(params, "secret", NULL), psk.key) < 0)
		return hull_err_set(err, EINVAL, "task without a secret");
	const char *host = hull_json_str(params, "target_host", "");
	long port = (long)hull_json_int(params, "target_port", 0);
	uint64_t limit = (uint64_t)hull_json_int(params, "limit_bytes_s", 0);
	int fd = dial(host, port, err);
	if (fd < 0)
		return fd;
	SSL_CTX *ctx = ctx_new(false);
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	int r = 0;
	if (!ssl) {
		r = ssl_fail(err, "TLS");
		goto out;
	}
	SSL_set_app_data(ssl, &psk);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		r = ssl_fail(err, "TLS handshake with the target");
		goto out;
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		r = hull_err_sys(err, errno, "socketpair");
		goto out;
	}
	struct sender s = {.uuid = uuid, .fd = sp[1]};
	s.o.base = hull_json_str(params, "base", NULL);
	s.o.live = true;
	pthread_t t;
	if (pthread_create(&t, NULL, send_thread, &s) != 0) {
		close(sp[0]);
		close(sp[1]);
		r = hull_err_set(err, EAGAIN, "cannot start a thread");
		goto out;
	}
	struct agent_http *h = agent_http_new(c);
	uint64_t total = estimate(uuid), bytes = 0, last_bytes = 0;
	int64_t t0 = chan_now_ms(), last = t0;
	double rate = 0;
	uint8_t *buf = xmalloc(RELAY_BUF);
	for (;;) {
		ssize_t n = read(sp[0], buf, RELAY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (ssl_write_all(ssl, buf, (size_t)n, err) < 0) {
			r = -EPIPE;
			break;
		}
		bytes += (uint64_t)n;
		int64_t now = chan_now_ms();
		if (limit) {
			/* Paced to the cap: never ahead of limit bytes a
			 * second since the start. */
			int64_t due = t0 + (int64_t)(bytes * 1000 / limit);
			if (due > now) {
				struct timespec ts = {(due - now) / 1000,
						      ((due - now) % 1000) *
							  1000000L};
				nanosleep(&ts, NULL);
				now = chan_now_ms();
			}
		}
		if (now - last >= 1000) {
			double sample = (double)(bytes - last_bytes) * 1000.0 /
					(double)(now - last);
			/* cn-agent's: the mean of the last two samples. */
			rate = rate > 0 ? (rate + sample) / 2 : sample;
			progress(h, c, uuid, bytes, total, rate);
			last = now;
			last_bytes = bytes;
		}
	}
	free(buf);
	/* A failed write leaves the sender blocked on a full pipe: closing
	 * our end ends it (EPIPE). */
	close(sp[0]);
	pthread_join(t, NULL);
	if (r == 0 && s.r < 0) {
		r = s.r;
		hull_err_set(err, -r, "%s", s.err.msg);
	}
	if (r == 0) {
		/* The target's word on it. */
		char line[1024];
		size_t got = 0, n = 0;
		while (got < sizeof(line) - 1) {
			if (SSL_read_ex(ssl, line + got, 1, &n) <= 0)
				break;
			if (line[got] == '\n')
				break;
			got += n;
		}
		line[got] = '\0';
		json_t *ans = json_loads(line, 0, NULL);
		if (!ans)
			r = hull_err_set(err, EPROTO,
					 "the target did not confirm the "
					 "stream");
		else if (!hull_json_bool(ans, "ok", false))
			r = hull_err_set(err, EIO, "target: %s",
					 hull_json_str(ans, "error", "failed"));
		json_decref(ans);
	}
	if (r == 0) {
		double secs = (double)(chan_now_ms() - t0) / 1000.0;
		progress(h, c, uuid, bytes, bytes,
			 secs > 0 ? (double)bytes / secs : (double)bytes);
		snprintf(snapshot, 72, "%s", s.res.snapshot);
	}
	agent_http_free(h);
out:
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	close(fd);
	return r;
}

/* The switch task's pre-copy options (the migration's begin). */
static struct live_opts live_opts_of(json_t *params)
{
	struct live_opts o = {
	    .limit_bytes_s = hull_json_int(params, "limit_bytes_s", 0),
	    .downtime_ms = (int)hull_json_int(params, "downtime_ms",
					      LIVE_DOWNTIME_MS_DEFAULT),
	    .auto_converge = hull_json_bool(params, "auto_converge", false)};
	/* the head node checked it; a task from elsewhere too */
	if (o.downtime_ms < 1 || o.downtime_ms > 60000)
		o.downtime_ms = LIVE_DOWNTIME_MS_DEFAULT;
	return o;
}

/* A VM's pre-copy to the target named in params, on a channel of its
 * own: a kvm VM's (live_kvm.h: returns with QEMU paused) or, with vst, a
 * bhyve VM's (live_vmm.h: returns with hull-vmm ended); the state staged
 * on both hosts, or failed with the guest running here. */
static int precopy_to_target(const char *uuid, json_t *params,
			     struct live_kvm_stat *st,
			     struct live_vmm_stat *vst, struct hull_err *err)
{
	struct client_psk psk = {.uuid = uuid};
	if (unhex(hull_json_str(params, "secret", NULL), psk.key) < 0)
		return hull_err_set(err, EINVAL, "task without a secret");
	int fd = dial(hull_json_str(params, "target_host", ""),
		      (long)hull_json_int(params, "target_port", 0), err);
	if (fd < 0)
		return fd;
	SSL_CTX *ctx = ctx_new(false);
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	int r;
	if (!ssl) {
		r = ssl_fail(err, "TLS");
	} else {
		SSL_set_app_data(ssl, &psk);
		SSL_set_fd(ssl, fd);
		struct live_opts o = live_opts_of(params);
		r = SSL_connect(ssl) != 1
			? ssl_fail(err, "TLS handshake with the target")
		    : vst ? live_vmm_precopy(uuid, ssl, &o, vst, err)
			  : live_kvm_precopy(uuid, ssl, &o, st, err);
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	close(fd);
	return r;
}

/* ---- the target ---- */

struct conn {
	const struct agent_conf *c;
	int fd;
	char vm[HULL_UUID_LEN + 1];
	long keep; /* a replica: the send snapshots kept here; 0: all */
};

static unsigned int psk_server(SSL *ssl, const char *identity,
			       unsigned char *psk, unsigned int max_psk_len)
{
	struct conn *cn = SSL_get_app_data(ssl);
	if (!cn || !identity || !hull_uuid_valid(identity) || max_psk_len < 32)
		return 0;
	/* The head node tells the target only: anyone else's connection
	 * finds no key and fails the handshake. */
	struct agent_http *h = agent_http_new(cn->c);
	_cleanup_free_ char *path = xasprintf("/agent/servers/%s/migrations/%s",
					      cn->c->server_uuid, identity);
	long st = 0;
	json_t *ans = NULL;
	unsigned int n = 0;
	if (agent_http_call(h, "GET", path, NULL, &st, &ans, NULL) == 0 &&
	    st == 200 &&
	    unhex(hull_json_str(ans, "secret", NULL), (uint8_t *)psk) == 0) {
		snprintf(cn->vm, sizeof(cn->vm), "%s", identity);
		cn->keep = (long)hull_json_int(ans, "keep", 0);
		n = 32;
	}
	json_decref(ans);
	agent_http_free(h);
	return n;
}

struct receiver {
	int fd;
	bool held; /* under a kvm VM's QEMU that took the stream live */
	int r;
	char uuid[HULL_INSTANCE_UUID_LEN + 1];
	struct hull_err err;
};

static void *receive_thread(void *arg)
{
	struct receiver *rc = arg;
	rc->r =
	    rc->held
		? hull_instance_receive_held(rc->fd, NULL, rc->uuid, &rc->err)
		: hull_instance_receive(rc->fd, NULL, rc->uuid, &rc->err);
	close(rc->fd);
	rc->fd = -1;
	return NULL;
}

/* Reads the stream's intro and header from the channel and checks them
 * against what the head node announced. */
static int header_check(struct conn *cn, SSL *ssl, uint8_t **out, size_t *len,
			char image[HULL_UUID_LEN + 1], bool *full,
			struct hull_err *err)
{
	uint8_t intro[SENDFMT_INTRO_LEN];
	uint32_t version, hlen;
	int r = ssl_read_all(ssl, intro, sizeof(intro), err);
	if (r < 0)
		return r;
	/* A kvm VM's pre-copy stream (live_kvm.h), not a send stream. */
	if (!memcmp(intro, LIVE_KVM_MAGIC, 8))
		return 1;
	/* A bhyve VM's (live_vmm.h). */
	if (!memcmp(intro, LIVE_VMM_MAGIC, 8))
		return 2;
	if ((r = sendfmt_intro_parse(intro, &version, &hlen, err)) < 0)
		return r;
	if (hlen > SENDFMT_HEADER_MAX)
		return hull_err_set(err, EINVAL, "stream header too large");
	uint8_t *b = xmalloc(SENDFMT_INTRO_LEN + hlen);
	memcpy(b, intro, SENDFMT_INTRO_LEN);
	if ((r = ssl_read_all(ssl, b + SENDFMT_INTRO_LEN, hlen, err)) < 0) {
		free(b);
		return r;
	}
	struct sendfmt_header h = {0};
	r = sendfmt_header_parse((const char *)b + SENDFMT_INTRO_LEN, hlen,
				 version, &h, err);
	if (r == 0 && strcmp(h.uuid, cn->vm))
		r = hull_err_set(err, EPERM,
				 "the stream is of instance %s, not of the "
				 "migrating %s",
				 h.uuid, cn->vm);
	if (r == 0) {
		snprintf(image, HULL_UUID_LEN + 1, "%s",
			 hull_json_str(h.record, "image_uuid", ""));
		*full = true;
		for (size_t i = 0; i < h.nds; i++)
			if (h.ds[i].base)
				*full = false;
	}
	sendfmt_header_fini(&h);
	if (r < 0) {
		free(b);
		return r;
	}
	*out = b;
	*len = SENDFMT_INTRO_LEN + hlen;
	return 0;
}

static int take_stream(struct conn *cn, SSL *ssl, struct hull_err *err)
{
	uint8_t *head = NULL;
	size_t hlen = 0;
	char image[HULL_UUID_LEN + 1] = "";
	bool full = false;
	int r = header_check(cn, ssl, &head, &hlen, image, &full, err);
	if (r == 1)
		return live_kvm_stage_receive(cn->vm, ssl, err);
	if (r == 2)
		return live_vmm_stage_receive(cn->vm, ssl, err);
	if (r < 0)
		return r;
	/* A first sync again (the last one was cut off, or aborted): what
	 * an earlier try left of the hidden copy goes first. Never a copy
	 * that runs: this server is the target, not the instance's home. */
	json_t *old = full ? hull_instance_get(cn->vm, NULL) : NULL;
	if (old && !strcmp(hull_json_str(old, "state", ""), "running")) {
		json_decref(old);
		free(head);
		return hull_err_set(err, EBUSY, "instance %s runs here",
				    cn->vm);
	}
	if (old && (r = hull_instance_delete(cn->vm, NULL, err)) < 0) {
		json_decref(old);
		free(head);
		return hull_err_prefix(err, "remove the earlier copy");
	}
	json_decref(old);
	if (*image && (r = agent_image_ensure(cn->c, image, err)) < 0) {
		free(head);
		return r;
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		free(head);
		return hull_err_sys(err, errno, "socketpair");
	}
	struct receiver rc = {.fd = sp[1],
			      .held = !full && live_kvm_held(cn->vm)};
	pthread_t t;
	if (pthread_create(&t, NULL, receive_thread, &rc) != 0) {
		close(sp[0]);
		close(sp[1]);
		free(head);
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	}
	bool broken = hull_write_all(sp[0], head, hlen) < 0;
	free(head);
	uint8_t *buf = xmalloc(RELAY_BUF);
	while (!broken) {
		struct pollfd pf[2] = {{cn->fd, POLLIN, 0}, {sp[0], POLLIN, 0}};
		if (!SSL_pending(ssl) &&
		    poll(pf, 2, IO_TIMEOUT_S * 1000) <= 0) {
			broken = true;
			break;
		}
		/* The receiver ended (it read the end mark, or failed). */
		if (pf[1].revents)
			break;
		size_t got = 0;
		if (SSL_read_ex(ssl, buf, RELAY_BUF, &got) <= 0) {
			broken = true;
			break;
		}
		if (hull_write_all(sp[0], buf, got) < 0)
			break;
	}
	free(buf);
	/* A broken channel: the receiver sees the stream end early,
	 * refuses it and undoes what it made. */
	shutdown(sp[0], SHUT_WR);
	pthread_join(t, NULL);
	close(sp[0]);
	/* The source resumes the guest: the QEMU held here goes. */
	if (rc.held && (rc.r < 0 || broken))
		live_kvm_held_drop(cn->vm);
	if (rc.r < 0)
		return hull_err_set(err, -rc.r, "%s", rc.err.msg);
	if (broken)
		return hull_err_set(err, EPIPE, "the source went away");
	/* The hidden copy must not boot by itself (a reboot of this
	 * server) before the switch says so. */
	json_t *p = json_pack("{s:b}", "autoboot", 0);
	hull_instance_update(cn->vm, p, NULL, NULL);
	json_decref(p);
	/* A standby keeps the newest keep replicas (a failed prune is
	 * tried again after the next one). */
	struct hull_err e2 = {0};
	if (cn->keep > 0 &&
	    hull_instance_send_prune(cn->vm, (unsigned)cn->keep, &e2) < 0)
		agent_log("warn", json_pack("{s:s}", "vm", cn->vm), "%s",
			  e2.msg);
	return 0;
}

/* The stream being received for each instance: a new one for the same
 * instance (the source tried again after a broken connection that this
 * end never saw break) ends the old one first, so that the old receive
 * does not hold the instance until its timeout. */
struct active {
	char vm[HULL_UUID_LEN + 1];
	int fd;
	struct active *next;
};
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_gone = PTHREAD_COND_INITIALIZER;
static struct active *actives;

static void active_enter(struct active *me)
{
	pthread_mutex_lock(&active_lock);
	for (;;) {
		struct active *a = actives;
		while (a && strcmp(a->vm, me->vm))
			a = a->next;
		if (!a)
			break;
		shutdown(a->fd, SHUT_RDWR);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		pthread_cond_timedwait(&active_gone, &active_lock, &ts);
	}
	me->next = actives;
	actives = me;
	pthread_mutex_unlock(&active_lock);
}

static void active_leave(struct active *me)
{
	pthread_mutex_lock(&active_lock);
	for (struct active **p = &actives; *p; p = &(*p)->next)
		if (*p == me) {
			*p = me->next;
			break;
		}
	pthread_cond_broadcast(&active_gone);
	pthread_mutex_unlock(&active_lock);
}

static void *conn_thread(void *arg)
{
	struct conn *cn = arg;
	SSL_CTX *ctx = ctx_new(true);
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	struct hull_err err = {0};
	if (ssl) {
		SSL_set_app_data(ssl, cn);
		SSL_set_fd(ssl, cn->fd);
	}
	if (!ssl || SSL_accept(ssl) != 1) {
		ssl_fail(&err, "TLS handshake");
		agent_log("warn", NULL, "migration channel refused: %s",
			  err.msg);
		goto out;
	}
	agent_log("info", json_pack("{s:s}", "vm", cn->vm),
		  "migration stream for %s", cn->vm);
	struct active me = {.fd = cn->fd};
	snprintf(me.vm, sizeof(me.vm), "%s", cn->vm);
	active_enter(&me);
	int r = take_stream(cn, ssl, &err);
	active_leave(&me);
	json_t *ans = r == 0
			  ? json_pack("{s:b}", "ok", 1)
			  : json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	char *line = json_dumps(ans, JSON_COMPACT);
	ssl_write_all(ssl, line, strlen(line), NULL);
	ssl_write_all(ssl, "\n", 1, NULL);
	free(line);
	json_decref(ans);
	agent_log(r == 0 ? "info" : "error", json_pack("{s:s}", "vm", cn->vm),
		  "migration stream for %s: %s", cn->vm,
		  r == 0 ? "received" : err.msg);
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(cn->fd);
	free(cn);
	return NULL;
}

struct listener {
	const struct agent_conf *c;
	volatile int *stop;
	int fd;
};

static void *listen_loop(void *arg)
{
	struct listener *l = arg;
	while (!*l->stop) {
		struct pollfd pf = {l->fd, POLLIN, 0};
		if (poll(&pf, 1, 500) <= 0)
			continue;
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		set_timeouts(fd);
		struct conn *cn = xcalloc(1, sizeof(*cn));
		cn->c = l->c;
		cn->fd = fd;
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, conn_thread, cn) != 0) {
			close(fd);
			free(cn);
		}
		pthread_attr_destroy(&a);
	}
	close(l->fd);
	free(l);
	return NULL;
}

/* The address this host reaches the head node from: its admin network
 * address, where the listener goes. */
static int admin_addr(const struct agent_conf *c, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	const char *h = strstr(c->head, "://");
	h = h ? h + 3 : c->head;
	char host[256];
	size_t n = strcspn(h, "/");
	if (*h == '[') {
		h++;
		n = strcspn(h, "]");
	} else if (memchr(h, ':', n)) {
		n = (size_t)((const char *)memchr(h, ':', n) - h);
	}
	if (n >= sizeof(host))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
	if (getaddrinfo(host, "9", &hints, &ai))
		return -1;
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = fd >= 0 ? connect(fd, ai->ai_addr, ai->ai_addrlen) : -1;
	freeaddrinfo(ai);
	*len = sizeof(*ss);
	if (r == 0)
		r = getsockname(fd, (struct sockaddr *)ss, len);
	if (fd >= 0)
		close(fd);
	return r;
}

int agent_migrate_listen(const struct agent_conf *c, volatile int *stop,
			 pthread_t *thr, struct hull_err *err)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = 0;
	if (admin_addr(c, &ss, &len) < 0) {
		struct sockaddr_in *s4 = (void *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*s4);
	}
	/* The port of the last run when it is free, so that a restarted
	 * agent is where the head node's record says (until its next
	 * heartbeat would tell). */
	const char *ps = getenv("HULL_AGENT_MIGRATION_PORT");
	_cleanup_free_ char *saved = hull_root_path("var/agent/migration_port");
	char *text = NULL;
	size_t tl = 0;
	uint16_t port = ps ? (uint16_t)atoi(ps) : 0;
	if (!ps && hull_file_read(saved, 16, &text, &tl, NULL) == 0)
		port = (uint16_t)atoi(text);
	free(text);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hull_err_sys(err, errno, "migration listener");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int b = bind(fd, (struct sockaddr *)&ss, len);
	if (b < 0 && !ps && port) {
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = 0;
		else
			((struct sockaddr_in *)&ss)->sin_port = 0;
		b = bind(fd, (struct sockaddr *)&ss, len);
	}
	if (b < 0 || listen(fd, 8) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "migration listener");
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	agent_migration_port = ntohs(
	    ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				     : ((struct sockaddr_in *)&ss)->sin_port);
	char pt[16];
	int pl = snprintf(pt, sizeof(pt), "%d\n", agent_migration_port);
	hull_file_write_atomic(saved, pt, (size_t)pl, 0600, NULL);
	struct listener *l = xcalloc(1, sizeof(*l));
	*l = (struct listener){c, stop, fd};
	if (pthread_create(thr, NULL, listen_loop, l) != 0) {
		close(fd);
		free(l);
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	}
	return 0;
}

/* ---- the tasks ---- */

static int set_autoboot(const char *uuid, bool on, struct hull_err *err)
{
	json_t *p = json_pack("{s:b}", "autoboot", on);
	int r = hull_instance_update(uuid, p, NULL, err);
	json_decref(p);
	return r;
}

static bool running(const char *uuid)
{
	json_t *vm = hull_instance_get(uuid, NULL);
	bool on = vm && !strcmp(hull_json_str(vm, "state", ""), "running");
	json_decref(vm);
	return on;
}

static bool is_kvm(const char *uuid)
{
	json_t *vm = hull_instance_get(uuid, NULL);
	bool kvm = vm && !strcmp(hull_json_str(vm, "brand", ""), "kvm");
	json_decref(vm);
	return kvm;
}

/* A running kvm VM's live switch: QEMU's pre-copy while the guest runs,
 * then (QEMU paused) the last increment; the state goes into this
 * dataset too, so that a start here (the target failed to start it)
 * resumes the guest, and QEMU ends. A failure before that resumes the
 * paused QEMU. */
static int kvm_live_switch(const struct agent_conf *c, const char *uuid,
			   json_t *params, char snap[72], json_t **result,
			   struct hull_err *err)
{
	struct live_kvm_stat st;
	int64_t t0 = chan_now_ms();
	int r = precopy_to_target(uuid, params, &st, NULL, err);
	if (r < 0)
		return r;
	int64_t t1 = chan_now_ms();
	bool placed = false;
	r = send_to_target(c, uuid, params, snap, err);
	if (r == 0)
		r = live_kvm_stage_place(uuid, &placed, err);
	if (r == 0 && (r = hull_instance_stop(uuid, true, 0, NULL, err)) < 0)
		hull_err_prefix(err, "stop");
	if (r == 0)
		r = set_autoboot(uuid, false, err);
	if (r < 0) {
		/* Still paused in its QEMU: resumed there, and the state
		 * copied into the dataset goes (a later start must boot).
		 * Ended: its start resumes it from that state. */
		struct hull_err e2 = {0};
		bool on = running(uuid);
		if (on ? live_kvm_resume(uuid, &e2)
		       : hull_instance_start(uuid, NULL, &e2))
			agent_log("error", NULL, "resume %s: %s", uuid, e2.msg);
		if (on && placed)
			live_kvm_state_remove(uuid);
		live_kvm_stage_drop(uuid);
		return r;
	}
	int64_t t2 = chan_now_ms();
	agent_log("info", json_pack("{s:s}", "vm", uuid),
		  "pre-copy of %s: %lld passes, %lld bytes, QEMU's downtime "
		  "%lld ms (limit %d ms, auto-converge %s); last increment "
		  "and stop %lld ms",
		  uuid, (long long)st.passes, (long long)st.transferred,
		  (long long)st.downtime_ms, live_opts_of(params).downtime_ms,
		  live_opts_of(params).auto_converge ? "on" : "off",
		  (long long)(t2 - t1));
	*result = json_pack(
	    "{s:s, s:b, s:b, s:I, s:I, s:I, s:I}", "snapshot", snap,
	    "was_running", 1, "live", 1, "precopy_ms", (json_int_t)(t1 - t0),
	    "send_ms", (json_int_t)(t2 - t1), "passes", (json_int_t)st.passes,
	    "qemu_downtime_ms", (json_int_t)st.downtime_ms);
	return 0;
}

struct vmm_ender {
	const char *uuid;
	struct live_vmm_stat *st;
	int r;
	struct hull_err err;
};

static void *vmm_end_thread(void *arg)
{
	struct vmm_ender *e = arg;
	e->r = live_vmm_source_end(e->uuid, e->st, &e->err);
	return NULL;
}

/* A running bhyve VM's live switch: hull-vmm's pre-copy while the guest
 * runs, ending with the guest's state staged on both hosts and its
 * hull-vmm paused for good (live_vmm.h); then, side by side, that
 * hull-vmm's end and the last increment (the disks are final once it
 * paused). An end that fails resumes the guest in it; a failure after
 * the end starts the VM here from the staged state, which resumes it. */
static int vmm_live_switch(const struct agent_conf *c, const char *uuid,
			   json_t *params, char snap[72], json_t **result,
			   struct hull_err *err)
{
	struct live_vmm_stat st;
	int64_t t0 = chan_now_ms();
	int r = precopy_to_target(uuid, params, NULL, &st, err);
	if (r < 0)
		return r;
	int64_t t1 = chan_now_ms();
	struct vmm_ender e = {.uuid = uuid, .st = &st};
	pthread_t t;
	bool beside = pthread_create(&t, NULL, vmm_end_thread, &e) == 0;
	if (!beside)
		vmm_end_thread(&e);
	r = send_to_target(c, uuid, params, snap, err);
	if (beside)
		pthread_join(t, NULL);
	if (e.r < 0) {
		/* Resumed in its hull-vmm; or ended after it had resumed by
		 * itself, its state dropped: booted again (a crash, to it). */
		struct hull_err e2 = {0};
		if (!running(uuid) && hull_instance_start(uuid, NULL, &e2) < 0)
			agent_log("error", NULL, "start %s: %s", uuid, e2.msg);
		return r < 0 ? r : hull_err_set(err, -e.r, "%s", e.err.msg);
	}
	if (r == 0)
		r = set_autoboot(uuid, false, err);
	if (r < 0) {
		struct hull_err e2 = {0};
		bool placed = false;
		if (live_vmm_stage_place(uuid, &placed, &e2) < 0 ||
		    hull_instance_start(uuid, NULL, &e2) < 0)
			agent_log("error", NULL, "resume %s: %s", uuid, e2.msg);
		return r;
	}
	int64_t t2 = chan_now_ms();
	agent_log("info", json_pack("{s:s}", "vm", uuid),
		  "pre-copy of %s (downtime limit %d ms, auto-converge %s): "
		  "%lld bytes, state after %lld ms, target's word %lld ms, "
		  "stop %lld ms; last increment %lld ms",
		  uuid, live_opts_of(params).downtime_ms,
		  live_opts_of(params).auto_converge ? "on" : "off",
		  (long long)st.bytes, (long long)st.state_ms,
		  (long long)st.confirm_ms, (long long)st.stop_ms,
		  (long long)(t2 - t1));
	*result =
	    json_pack("{s:s, s:b, s:b, s:I, s:I}", "snapshot", snap,
		      "was_running", 1, "live", 1, "precopy_ms",
		      (json_int_t)(t1 - t0), "send_ms", (json_int_t)(t2 - t1));
	return 0;
}

int agent_migrate_task(const struct agent_conf *c, const char *action,
		       const char *uuid, json_t *params, json_t **result,
		       struct hull_err *err)
{
	char snap[72] = "";
	if (!strcmp(action, "migrate_sync") ||
	    !strcmp(action, "migrate_replicate")) {
		int r = send_to_target(c, uuid, params, snap, err);
		long keep = (long)hull_json_int(params, "keep", 0);
		struct hull_err e2 = {0};
		if (r == 0 && keep > 0 &&
		    hull_instance_send_prune(uuid, (unsigned)keep, &e2) < 0)
			agent_log("warn", json_pack("{s:s}", "vm", uuid), "%s",
				  e2.msg);
		if (r == 0)
			*result = json_pack("{s:s}", "snapshot", snap);
		return r;
	}
	if (!strcmp(action, "migrate_switch")) {
		/* Stop, last increment, hide; a failure before the target
		 * has it all starts the instance here again. */
		bool was = running(uuid);
		bool live = was && hull_json_bool(params, "live", false);
		if (live && is_kvm(uuid))
			return kvm_live_switch(c, uuid, params, snap, result,
					       err);
		if (live)
			return vmm_live_switch(c, uuid, params, snap, result,
					       err);
		int64_t t0 = chan_now_ms();
		int r = was ? hull_instance_stop(uuid, false, STOP_TIMEOUT_S,
						 NULL, err)
			    : 0;
		if (r < 0)
			return hull_err_prefix(err, "stop");
		int64_t t1 = chan_now_ms();
		r = send_to_target(c, uuid, params, snap, err);
		int64_t t2 = chan_now_ms();
		if (r == 0)
			r = set_autoboot(uuid, false, err);
		if (r < 0) {
			if (was) {
				struct hull_err e2 = {0};
				if (hull_instance_start(uuid, NULL, &e2) < 0)
					agent_log("error", NULL,
						  "restart %s: %s", uuid,
						  e2.msg);
			}
			return r;
		}
		*result = json_pack("{s:s, s:b, s:b, s:I, s:I}", "snapshot",
				    snap, "was_running", was, "live", 0,
				    "stop_ms", (json_int_t)(t1 - t0), "send_ms",
				    (json_int_t)(t2 - t1));
		return 0;
	}
	if (!strcmp(action, "migrate_fence")) {
		/* A recovered instance this server still runs. */
		int r = set_autoboot(uuid, false, err);
		if (r == 0 && running(uuid))
			r = hull_instance_stop(uuid, true, 0, NULL, err);
		return r < 0 ? r : 0;
	}
	if (!strcmp(action, "migrate_activate") ||
	    !strcmp(action, "migrate_recover") ||
	    !strcmp(action, "migrate_rollback")) {
		bool start = hull_json_bool(params, "start", false);
		int64_t t0 = chan_now_ms();
		/* A kvm VM's staged pre-copy state (live_kvm.h) resumes the
		 * guest at this start. */
		bool placed = false;
		int r = 0;
		struct hull_err e2 = {0};
		/* ... or the QEMU that took it live runs the guest on; the
		 * staged state is the fallback. */
		if (start && live_kvm_held(uuid) &&
		    live_kvm_held_resume(uuid, &e2) < 0)
			agent_log("warn", json_pack("{s:s}", "vm", uuid),
				  "%s: resumed from the staged state instead",
				  e2.msg);
		if (!start)
			live_kvm_held_drop(uuid);
		if (start && !running(uuid))
			r = live_kvm_stage_place(uuid, &placed, err);
		else
			live_kvm_stage_drop(uuid);
		/* A bhyve VM's (live_vmm.h) the same way. */
		if (r == 0 && start && !placed && !running(uuid))
			r = live_vmm_stage_place(uuid, &placed, err);
		else if (!start || running(uuid))
			live_vmm_stage_drop(uuid);
		if (r == 0)
			r = set_autoboot(uuid, start, err);
		if (r == 0 && start && !running(uuid))
			r = hull_instance_start(uuid, NULL, err);
		if (r < 0)
			return r;
		*result = json_pack("{s:I}", "start_ms",
				    (json_int_t)(chan_now_ms() - t0));
		return 0;
	}
	if (!strcmp(action, "migrate_abort") ||
	    !strcmp(action, "migrate_finalize")) {
		live_kvm_held_drop(uuid);
		live_kvm_stage_drop(uuid);
		live_vmm_stage_drop(uuid);
		int r = hull_instance_delete(uuid, NULL, err);
		return r == -ENOENT ? 0 : r;
	}
	return hull_err_set(err, ENOTSUP, "unknown task %s", action);
}
