/*
 * qmp.c - the QMP client (see qmp.h). QMP is one JSON object per line
 * (QEMU's docs/interop/qmp-spec): a greeting {"QMP": ...}, then replies
 * {"return": ...} or {"error": {"class", "desc"}}, with asynchronous
 * {"event": ...} lines interleaved.
 */
#include "hvm/qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hvm/com2.h"
#include "lib/fdpass.h"
#include "lib/xalloc.h"

struct hvm_qmp {
	int fd;
	char *buf; /* HVM_QMP_LINE_MAX + 1 */
	size_t len;
};

int hvm_qmp_reply_parse(const char *line, size_t len, json_t **ret,
			struct hull_err *err)
{
	if (ret)
		*ret = NULL;
	if (len > HVM_QMP_LINE_MAX)
		return hull_err_set(err, EPROTO, "QMP: line over %u bytes",
				    HVM_QMP_LINE_MAX);
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return hull_err_set(err, EPROTO, "QMP: not JSON: %s", je.text);
	int kind;
	json_t *v;
	if (!json_is_object(o)) {
		kind = hull_err_set(err, EPROTO, "QMP: not an object");
	} else if ((v = json_object_get(o, "return"))) {
		kind = HVM_QMP_RETURN;
		if (ret)
			*ret = json_incref(v);
	} else if ((v = json_object_get(o, "error"))) {
		const char *desc =
		    json_string_value(json_object_get(v, "desc"));
		hull_err_set(err, EIO, "QMP: %s",
			     desc ? desc : "error without a description");
		kind = HVM_QMP_ERROR;
	} else if ((v = json_object_get(o, "event"))) {
		if (!json_is_string(v)) {
			kind = hull_err_set(err, EPROTO,
					    "QMP: event name not a string");
		} else {
			kind = HVM_QMP_EVENT;
			if (ret)
				*ret = json_incref(v);
		}
	} else if (json_is_object(json_object_get(o, "QMP"))) {
		kind = HVM_QMP_GREETING;
	} else {
		kind = hull_err_set(err, EPROTO, "QMP: unknown message");
	}
	json_decref(o);
	return kind;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one line (without its newline) into q->buf; returns its length. */
static int read_line(struct hvm_qmp *q, long long deadline, size_t *len,
		     struct hull_err *err)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			*len = (size_t)(nl - q->buf);
			return 0;
		}
		if (q->len >= HVM_QMP_LINE_MAX)
			return hull_err_set(err, EPROTO,
					    "QMP: line over %u bytes",
					    HVM_QMP_LINE_MAX);
		long long left = deadline - now_ms();
		if (left <= 0)
			return hull_err_set(err, ETIMEDOUT,
					    "QMP: no answer in time");
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return hull_err_sys(err, errno, "QMP: poll");
		if (r <= 0)
			continue;
		ssize_t n =
		    read(q->fd, q->buf + q->len, HVM_QMP_LINE_MAX - q->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return hull_err_sys(err, errno, "QMP: read");
		if (n == 0)
			return hull_err_set(err, EPIPE,
					    "QMP: QEMU closed the "
					    "connection");
		q->len += (size_t)n;
	}
}

static void consume(struct hvm_qmp *q, size_t len)
{
	memmove(q->buf, q->buf + len + 1, q->len - len - 1);
	q->len -= len + 1;
}

/* Reads until a reply that is not an event. */
static int read_reply(struct hvm_qmp *q, long long deadline, json_t **ret,
		      struct hull_err *err)
{
	for (;;) {
		size_t len = 0;
		int r = read_line(q, deadline, &len, err);
		if (r < 0)
			return r;
		json_t *v = NULL;
		int kind = hvm_qmp_reply_parse(q->buf, len, &v, err);
		consume(q, len);
		if (kind == HVM_QMP_EVENT) {
			json_decref(v);
			continue;
		}
		if (ret)
			*ret = v;
		else
			json_decref(v);
		return kind;
	}
}

/* Sends one command; fd >= 0 rides on its bytes (SCM_RIGHTS: QEMU takes
 * it with the bytes it arrives with, then the command claims it). */
static int send_cmd(struct hvm_qmp *q, const char *cmd, json_t *args, int fd,
		    struct hull_err *err)
{
	json_t *o = json_pack("{s:s}", "execute", cmd);
	if (args)
		json_object_set(o, "arguments", args);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	size_t l = strlen(s), off = 0;
	int r = 0;
	s = xrealloc(s, l + 2);
	s[l++] = '\n';
	if (fd >= 0) {
		/* one message, so that the descriptor goes with this command */
		r = hull_fd_send(q->fd, s, l, &fd, 1);
		if (r < 0)
			r = hull_err_sys(err, -r, "QMP: send %s", cmd);
		off = l;
	}
	while (off < l) {
		ssize_t n = send(q->fd, s + off, l - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hull_err_sys(err, errno, "QMP: send %s", cmd);
			break;
		}
		off += (size_t)n;
	}
	free(s);
	return r;
}

int hvm_qmp_execute(struct hvm_qmp *q, const char *cmd, json_t **ret,
		    int timeout_ms, struct hull_err *err)
{
	return hvm_qmp_execute_fd(q, cmd, NULL, -1, ret, timeout_ms, err);
}

int hvm_qmp_execute_args(struct hvm_qmp *q, const char *cmd, json_t *args,
			 json_t **ret, int timeout_ms, struct hull_err *err)
{
	return hvm_qmp_execute_fd(q, cmd, args, -1, ret, timeout_ms, err);
}

int hvm_qmp_execute_fd(struct hvm_qmp *q, const char *cmd, json_t *args, int fd,
		       json_t **ret, int timeout_ms, struct hull_err *err)
{
	if (ret)
		*ret = NULL;
	int r = send_cmd(q, cmd, args, fd, err);
	if (r < 0)
		return r;
	json_t *v = NULL;
	int kind = read_reply(q, now_ms() + timeout_ms, &v, err);
	if (kind != HVM_QMP_RETURN)
		json_decref(v);
	if (kind < 0)
		return kind;
	if (kind == HVM_QMP_ERROR)
		return hull_err_prefix(err, "%s", cmd);
	if (kind != HVM_QMP_RETURN)
		return hull_err_set(err, EPROTO, "QMP: %s: unexpected reply",
				    cmd);
	if (ret)
		*ret = v;
	else
		json_decref(v);
	return 0;
}

int hvm_qmp_getfd(struct hvm_qmp *q, const char *name, int fd, int timeout_ms,
		  struct hull_err *err)
{
	json_t *a = json_pack("{s:s}", "fdname", name);
	int r = hvm_qmp_execute_fd(q, "getfd", a, fd, NULL, timeout_ms, err);
	json_decref(a);
	return r;
}

struct hvm_qmp *hvm_qmp_open(const char *path, int timeout_ms,
			     struct hull_err *err)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hull_err_sys(err, errno, "socket");
		return NULL;
	}
	int c = hvm_sock_connect(fd, path);
	if (c < 0) {
		hull_err_sys(err, -c, "connect %s", path);
		close(fd);
		return NULL;
	}
	struct hvm_qmp *q = xcalloc(1, sizeof(*q));
	q->fd = fd;
	q->buf = xmalloc(HVM_QMP_LINE_MAX + 1);
	long long deadline = now_ms() + timeout_ms;
	int kind = read_reply(q, deadline, NULL, err);
	if (kind != HVM_QMP_GREETING) {
		if (kind >= 0)
			hull_err_set(err, EPROTO, "QMP: no greeting");
		hvm_qmp_close(q);
		return NULL;
	}
	if (hvm_qmp_execute(q, "qmp_capabilities", NULL, timeout_ms, err) < 0) {
		hvm_qmp_close(q);
		return NULL;
	}
	return q;
}

void hvm_qmp_close(struct hvm_qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q->buf);
	free(q);
}

int hvm_qmp_status(struct hvm_qmp *q, char *out, size_t n, int timeout_ms,
		   struct hull_err *err)
{
	json_t *v;
	int r = hvm_qmp_execute(q, "query-status", &v, timeout_ms, err);
	if (r < 0)
		return r;
	const char *s = json_string_value(json_object_get(v, "status"));
	if (!s || strlen(s) >= n) {
		json_decref(v);
		return hull_err_set(err, EPROTO,
				    "QMP: query-status without a status");
	}
	strcpy(out, s);
	json_decref(v);
	return 0;
}

/* Waits until QEMU closes the connection (it exited), skipping events. */
static int wait_closed(struct hvm_qmp *q, long long deadline,
		       struct hull_err *err)
{
	for (;;) {
		size_t len = 0;
		int r = read_line(q, deadline, &len, err);
		if (r == -EPIPE || r == -ECONNRESET)
			return 0;
		if (r < 0)
			return r;
		consume(q, len);
	}
}

int hvm_qmp_stop(struct hvm_qmp *q, int timeout_ms, bool *forced,
		 struct hull_err *err)
{
	*forced = false;
	int r = hvm_qmp_execute(q, "system_powerdown", NULL, 5000, err);
	if (r == -EPIPE)
		return 0; /* already gone */
	if (r < 0)
		return r;
	r = wait_closed(q, now_ms() + timeout_ms, err);
	if (r != -ETIMEDOUT)
		return r;
	*forced = true;
	r = send_cmd(q, "quit", NULL, -1, err);
	if (r < 0)
		return r == -EPIPE ? 0 : r;
	/* quit answers, then QEMU closes the socket as it exits. */
	return wait_closed(q, now_ms() + 10000, err);
}
