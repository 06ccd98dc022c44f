/*
 * remote.c - the metadata store across a socket (see remote.h).
 */
#include "metadata/remote.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/xalloc.h"

struct hdr {
	uint32_t op;
	uint32_t len;
};

/* CHANGE's payload: {u32 key_len, u32 flags}, the key, a NUL, the value. */
#define CHANGE_DELETE 1u

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0, -ECONNRESET at a clean end before the first byte, or a code. */
static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return got ? -EPIPE : -ECONNRESET;
		got += (size_t)r;
	}
	return 0;
}

static int frame_send(int fd, uint32_t op, const void *a, size_t alen,
		      const void *b, size_t blen)
{
	struct hdr h = {op, (uint32_t)(alen + blen)};
	int r = write_all(fd, &h, sizeof(h));
	if (!r && alen)
		r = write_all(fd, a, alen);
	if (!r && blen)
		r = write_all(fd, b, blen);
	return r;
}

/* Reads one frame of at most max bytes into a new buffer (one spare byte,
 * set to NUL). */
static int frame_recv(int fd, size_t max, struct hdr *h, char **payload)
{
	*payload = NULL;
	int r = read_all(fd, h, sizeof(*h));
	if (r < 0)
		return r;
	if (h->len > max)
		return -EMSGSIZE;
	char *buf = xmalloc((size_t)h->len + 1);
	if ((r = read_all(fd, buf, h->len)) < 0) {
		free(buf);
		return r == -ECONNRESET ? -EPIPE : r;
	}
	buf[h->len] = '\0';
	*payload = buf;
	return 0;
}

int metadata_remote_req_parse(uint32_t op, char *payload, size_t len,
			      struct metadata_remote_req *out)
{
	memset(out, 0, sizeof(*out));
	if (op == METADATA_REMOTE_READ) {
		if (len != sizeof(uint64_t))
			return -EINVAL;
		out->op = METADATA_REMOTE_READ;
		memcpy(&out->gen, payload, sizeof(uint64_t));
		return 0;
	}
	if (op != METADATA_REMOTE_CHANGE || len < 8)
		return -EINVAL;
	uint32_t klen, flags;
	memcpy(&klen, payload, 4);
	memcpy(&flags, payload + 4, 4);
	if (flags & ~CHANGE_DELETE || klen == 0 || klen >= len - 8 ||
	    payload[8 + klen] != '\0' || memchr(payload + 8, '\0', klen))
		return -EINVAL;
	out->op = METADATA_REMOTE_CHANGE;
	out->key = payload + 8;
	size_t vlen = len - 8 - klen - 1;
	if (flags & CHANGE_DELETE) {
		if (vlen)
			return -EINVAL;
	} else {
		out->value = payload + 8 + klen + 1;
		out->value_len = vlen;
	}
	return 0;
}

/* ---- the server's side ------------------------------------------------ */

struct metadata_remote {
	int fd;
	uint64_t gen; /* of cached; 0: none */
	json_t *cached;
};

struct metadata_remote *metadata_remote_new(int fd)
{
	struct metadata_remote *rs = xcalloc(1, sizeof(*rs));
	rs->fd = fd;
	return rs;
}

void metadata_remote_free(struct metadata_remote *rs)
{
	if (!rs)
		return;
	json_decref(rs->cached);
	free(rs);
}

/* Reads a FAIL or DONE payload: {i32 code} and a reason. */
static int status_of(const char *p, size_t len, const char **why)
{
	int32_t c;
	if (len < 4)
		return -EPROTO;
	memcpy(&c, p, 4);
	*why = p + 4;
	return c;
}

static json_t *remote_read(void *ctx, struct hull_err *err)
{
	struct metadata_remote *rs = ctx;
	struct hdr h;
	char *p = NULL;
	int r = frame_send(rs->fd, METADATA_REMOTE_READ, &rs->gen,
			   sizeof(rs->gen), NULL, 0);
	if (!r)
		r = frame_recv(rs->fd, METADATA_REMOTE_REPLY_MAX, &h, &p);
	if (r < 0) {
		hull_err_sys(err, -r, "metadata keeper");
		return NULL;
	}
	json_t *j = NULL;
	const char *why = "";
	if (h.op == METADATA_REMOTE_SAME && rs->cached) {
		j = json_incref(rs->cached);
	} else if (h.op == METADATA_REMOTE_DATA && h.len > sizeof(uint64_t)) {
		uint64_t gen;
		memcpy(&gen, p, sizeof(gen));
		json_error_t je;
		j = json_loadb(p + sizeof(gen), h.len - sizeof(gen),
			       JSON_ALLOW_NUL, &je);
		if (j && json_is_object(j)) {
			json_decref(rs->cached);
			rs->cached = json_incref(j);
			rs->gen = gen;
		} else {
			json_decref(j);
			j = NULL;
			hull_err_set(err, EPROTO,
				     "metadata keeper: bad record");
		}
	} else if (h.op == METADATA_REMOTE_FAIL &&
		   (r = status_of(p, h.len, &why)) < 0) {
		hull_err_set(err, -r, "%s", why);
	} else {
		hull_err_set(err, EPROTO, "metadata keeper: bad reply");
	}
	free(p);
	return j;
}

static int remote_change(void *ctx, const char *key, const char *value,
			 size_t len, char **msg, struct hull_err *err)
{
	struct metadata_remote *rs = ctx;
	size_t klen = strlen(key);
	*msg = NULL;
	if (klen + len + 16 > METADATA_REMOTE_REQ_MAX)
		return hull_err_set(err, EMSGSIZE, "metadata: value too large");
	uint32_t head[2] = {(uint32_t)klen, value ? 0 : CHANGE_DELETE};
	char *buf = xmalloc(sizeof(head) + klen + 1);
	memcpy(buf, head, sizeof(head));
	memcpy(buf + sizeof(head), key, klen + 1);
	struct hdr h;
	char *p = NULL;
	int r = frame_send(rs->fd, METADATA_REMOTE_CHANGE, buf,
			   sizeof(head) + klen + 1, value, value ? len : 0);
	free(buf);
	if (!r)
		r = frame_recv(rs->fd, METADATA_REMOTE_REPLY_MAX, &h, &p);
	if (r < 0)
		return hull_err_sys(err, -r, "metadata keeper");
	const char *why = "";
	if (h.op != METADATA_REMOTE_DONE ||
	    (r = status_of(p, h.len, &why)) == -EPROTO) {
		free(p);
		return hull_err_set(err, EPROTO, "metadata keeper: bad reply");
	}
	if (r < 0)
		hull_err_set(err, -r, "%s", why);
	else if (r > 0)
		*msg = *why ? xstrdup(why) : NULL;
	free(p);
	return r < 0 ? r : (r > 0 ? 1 : 0);
}

static int remote_modify(void *ctx, int (*edit)(json_t *, void *), void *arg,
			 struct hull_err *err)
{
	return hull_err_set(err, ENOTSUP, "metadata keeper: no edits");
}

void metadata_remote_bind(struct metadata_remote *rs,
			  struct metadata_store *out)
{
	out->read = remote_read;
	out->modify = remote_modify;
	out->change = remote_change;
	out->ctx = rs;
}

/* ---- the keeper's side ------------------------------------------------ */

static int send_status(int fd, uint32_t op, int32_t code, const char *why)
{
	return frame_send(fd, op, &code, sizeof(code), why,
			  why ? strlen(why) : 0);
}

int metadata_remote_serve(int fd, const struct metadata_store *backing,
			  struct hull_err *err)
{
	json_t *sent = NULL; /* the record the server holds */
	uint64_t gen = 0;
	int r;
	for (;;) {
		struct hdr h;
		char *p = NULL;
		struct metadata_remote_req req;
		r = frame_recv(fd, METADATA_REMOTE_REQ_MAX, &h, &p);
		if (r == -ECONNRESET) {
			r = 0;
			break;
		}
		if (r < 0) {
			hull_err_sys(err, -r, "metadata server");
			break;
		}
		if (metadata_remote_req_parse(h.op, p, h.len, &req) < 0) {
			free(p);
			r = hull_err_set(err, EPROTO,
					 "metadata server: bad request");
			break;
		}
		struct hull_err e = {0};
		if (req.op == METADATA_REMOTE_READ) {
			json_t *j = backing->read(backing->ctx, &e);
			if (!j) {
				r = send_status(fd, METADATA_REMOTE_FAIL,
						e.code ? -e.code : -EIO, e.msg);
			} else if (j == sent && req.gen == gen) {
				r = frame_send(fd, METADATA_REMOTE_SAME, NULL,
					       0, NULL, 0);
				json_decref(j);
			} else {
				char *s = json_dumps(j, JSON_COMPACT);
				json_decref(sent);
				sent = j;
				gen++;
				r = s ? frame_send(fd, METADATA_REMOTE_DATA,
						   &gen, sizeof(gen), s,
						   strlen(s))
				      : send_status(fd, METADATA_REMOTE_FAIL,
						    -ENOMEM, "out of memory");
				free(s);
			}
		} else {
			char *msg = NULL;
			int c =
			    metadata_store_change(backing, req.key, req.value,
						  req.value_len, &msg, &e);
			r = send_status(fd, METADATA_REMOTE_DONE,
					c >= 0	 ? c
					: e.code ? -e.code
						 : -EIO,
					c < 0 ? e.msg : msg);
			free(msg);
		}
		free(p);
		if (r < 0) {
			hull_err_sys(err, -r, "metadata server");
			break;
		}
	}
	json_decref(sent);
	return r;
}
