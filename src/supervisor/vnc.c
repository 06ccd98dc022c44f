/*
 * vnc.c - the VNC relay: a TCP listener on the host, one pair of
 * descriptors per client (see vnc.h). The supervisor listens, sets the
 * password and writes vnc.json; a process of its own, hull-vnc, accepts
 * the clients and relays them (privsep.h: the instance's VNC uid, no
 * capabilities, a seccomp allow-list; it holds the listener, its timer,
 * its clients and a socket to the supervisor, which connects it to
 * QEMU's socket on request and passes the connection back). Everything
 * in the relay is non-blocking and runs in its own loop; a connection's
 * state is two bounded buffers. The supervisor restarts a relay that
 * dies.
 */
#include "supervisor/vnc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "hvm/com2.h"
#include "hvm/qmp.h"
#include "lib/fileio.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "supervisor/log.h"
#include "supervisor/privsep.h"

/* Per direction: a framebuffer update is relayed in pieces this big. */
#define VNC_BUF (16 << 10)

/* A client that comes before QEMU listens waits for it: every
 * RETRY_MS, up to RETRY_MAX times (10 s). */
#define RETRY_MS 10
#define RETRY_MAX 1000
/* A relay that dies this many times in a row right after it started is
 * not started again before the next boot. */
#define VNC_QUICK_DEATHS_MAX 3

struct vnc_conn {
	struct sv_vnc *v;
	int fd[2]; /* 0: the TCP client, 1: QEMU's socket (-1: not yet) */
	int tries;
	size_t len[2];	      /* bytes read from fd[i], owed to fd[1 - i] */
	char buf[2][VNC_BUF]; /* the connection is freed when it ends */
};

struct sv_vnc {
	struct sv_loop *loop; /* the supervisor's; in the relay, its own */
	int listen_fd, timer_fd;
	/* The relay process (hull-vnc) and the socket it asks the
	 * supervisor for connections to QEMU on (each end keeps its own). */
	pid_t pid;
	int pidfd, broker, restart_timer;
	int quick_deaths;
	time_t spawned;
	uid_t uid;
	gid_t gid;
	int qmp_fd; /* setting the password, or -1 */
	int qreturns;
	size_t qlen;
	char qbuf[4096];
	char *sock, *info;
	struct vnc_conn *conns[SV_VNC_CLIENTS_MAX];
};

int sv_vnc_listen_parse(const char *text, struct sockaddr_storage *ss,
			socklen_t *len, struct hull_err *err)
{
	char a[INET6_ADDRSTRLEN + 1];
	while (isspace((unsigned char)*text))
		text++;
	size_t n = 0;
	while (text[n] && !isspace((unsigned char)text[n]))
		n++;
	const char *rest = text + n;
	while (isspace((unsigned char)*rest))
		rest++;
	if (n == 0 || n >= sizeof(a) || *rest)
		return hull_err_set(err, EINVAL, "%s: not one IP address",
				    SV_VNC_LISTEN_FILE);
	memcpy(a, text, n);
	a[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, a, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
		return 0;
	}
	return hull_err_set(err, EINVAL, "%s: not an IP address: %s",
			    SV_VNC_LISTEN_FILE, a);
}

static void conn_close(struct vnc_conn *c)
{
	struct sv_vnc *v = c->v;
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] < 0)
			continue;
		sv_loop_del(v->loop, c->fd[i]);
		close(c->fd[i]);
	}
	for (int i = 0; i < SV_VNC_CLIENTS_MAX; i++)
		if (v->conns[i] == c)
			v->conns[i] = NULL;
	free(c);
}

/* Moves what can move; false when the connection is over (what was
 * read before a side closed is passed on first, as far as it goes: a
 * server's last words, such as why authentication failed). */
static bool conn_pump(struct vnc_conn *c)
{
	bool open = true;
	for (int i = 0; i < 2; i++) {
		while (c->len[i] < VNC_BUF) {
			ssize_t n = read(c->fd[i], c->buf[i] + c->len[i],
					 VNC_BUF - c->len[i]);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				open = false; /* closed, or reset */
				break;
			}
			c->len[i] += (size_t)n;
		}
		while (c->len[i] > 0) {
			ssize_t n = send(c->fd[1 - i], c->buf[i], c->len[i],
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0)
				return false;
			memmove(c->buf[i], c->buf[i] + n,
				c->len[i] - (size_t)n);
			c->len[i] -= (size_t)n;
		}
	}
	if (!open)
		return false;
	/* Read a side only while its buffer has room; wait for a side to
	 * take more only while something is owed to it. */
	for (int i = 0; i < 2; i++) {
		uint32_t ev = (c->len[i] < VNC_BUF ? EPOLLIN : 0) |
			      (c->len[1 - i] ? EPOLLOUT : 0);
		if (sv_loop_mod(c->v->loop, c->fd[i], ev) < 0)
			return false;
	}
	return true;
}

static void on_conn(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct vnc_conn *c = data;
	/* A side that hung up or failed ends the connection (after what
	 * can still move has moved): epoll reports it whatever the mask, so
	 * waiting on would spin. A client still waiting for QEMU is only
	 * watched for that. */
	if ((c->fd[1] >= 0 && !conn_pump(c)) ||
	    (events & (EPOLLHUP | EPOLLERR)))
		conn_close(c);
}

static int connect_qemu(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Non-blocking: a QEMU that does not accept (its backlog full)
	 * refuses the client instead of stalling the supervisor. */
	int r = hvm_sock_connect(fd, path);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* In the relay: asks the supervisor for a connection to QEMU's socket
 * (which the relay's uid cannot reach: the emulator's folder is 0700).
 * Returns it, or the supervisor's negative code. */
static int broker_connect(struct sv_vnc *v)
{
	char req = 'c';
	if (send(v->broker, &req, 1, MSG_NOSIGNAL) != 1)
		return -EPIPE;
	int32_t code;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {&code, sizeof(code)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.b,
			   .msg_controllen = sizeof(u.b)};
	ssize_t n;
	while ((n = recvmsg(v->broker, &m, MSG_CMSG_CLOEXEC)) < 0 &&
	       errno == EINTR)
		;
	if (n != sizeof(code))
		return -EPIPE;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (code < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return code < 0 ? code : -EPROTO;
	}
	return fd;
}

/* Connects c to QEMU: 1 done, 0 not yet (QEMU does not listen yet), or
 * a negative code. */
static int conn_attach(struct vnc_conn *c)
{
	int qfd = broker_connect(c->v);
	if (qfd == -ENOENT || qfd == -ECONNREFUSED || qfd == -EAGAIN)
		return 0;
	if (qfd < 0)
		return qfd;
	c->fd[1] = qfd;
	if (sv_loop_add(c->v->loop, qfd, EPOLLIN, on_conn, c, NULL) < 0 ||
	    sv_loop_mod(c->v->loop, c->fd[0], EPOLLIN) < 0)
		return -EIO;
	return 1;
}

static void timer_set(struct sv_vnc *v, bool on)
{
	struct itimerspec it = {0};
	if (on)
		it.it_interval.tv_nsec = it.it_value.tv_nsec =
		    RETRY_MS * 1000000L;
	timerfd_settime(v->timer_fd, 0, &it, NULL);
}

static void on_retry(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vnc *v = data;
	uint64_t ticks;
	(void)!read(fd, &ticks, sizeof(ticks));
	bool waiting = false;
	for (int i = 0; i < SV_VNC_CLIENTS_MAX; i++) {
		struct vnc_conn *c = v->conns[i];
		if (!c || c->fd[1] >= 0)
			continue;
		int r = conn_attach(c);
		if (r < 0 || (r == 0 && ++c->tries >= RETRY_MAX)) {
			sv_log("warn", "vnc: client dropped: %s",
			       r < 0 ? strerror(-r) : "QEMU does not listen");
			conn_close(c);
		} else if (r == 0) {
			waiting = true;
		}
	}
	if (!waiting)
		timer_set(v, false);
}

static void on_accept(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vnc *v = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	int slot = -1;
	for (int i = 0; i < SV_VNC_CLIENTS_MAX && slot < 0; i++)
		if (!v->conns[i])
			slot = i;
	if (slot < 0) {
		sv_log("warn", "vnc: client refused: too many clients");
		close(cfd);
		return;
	}
	struct vnc_conn *c = xcalloc(1, sizeof(*c));
	c->v = v;
	c->fd[0] = cfd;
	c->fd[1] = -1;
	if (sv_loop_add(loop, cfd, 0, on_conn, c, NULL) < 0) {
		close(cfd);
		free(c);
		return;
	}
	v->conns[slot] = c;
	int r = conn_attach(c);
	if (r < 0) {
		sv_log("warn", "vnc: client refused: %s", strerror(-r));
		conn_close(c);
	} else if (r == 0) {
		timer_set(v, true); /* QEMU is still starting */
	}
}

/* The password, over QEMU's command QMP socket, without waiting: both
 * commands go at once (QMP takes them in order), the answers are read
 * in the loop. Until it is set QEMU lets no client in (password=on). */
static void qmp_done(struct sv_vnc *v, const char *why)
{
	if (why)
		sv_log("error", "vnc: password not set: %s", why);
	sv_loop_del(v->loop, v->qmp_fd);
	close(v->qmp_fd);
	v->qmp_fd = -1;
}

static void on_qmp(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vnc *v = data;
	ssize_t n = read(fd, v->qbuf + v->qlen, sizeof(v->qbuf) - v->qlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		qmp_done(v, "QEMU closed the connection");
		return;
	}
	v->qlen += (size_t)n;
	char *nl;
	while ((nl = memchr(v->qbuf, '\n', v->qlen))) {
		size_t l = (size_t)(nl - v->qbuf);
		struct hull_err err = {0};
		int kind = hvm_qmp_reply_parse(v->qbuf, l, NULL, &err);
		memmove(v->qbuf, nl + 1, v->qlen - l - 1);
		v->qlen -= l + 1;
		if (kind < 0 || kind == HVM_QMP_ERROR) {
			qmp_done(v, err.msg);
			return;
		}
		/* the second answer is change-vnc-password's */
		if (kind == HVM_QMP_RETURN && ++v->qreturns == 2) {
			sv_log("info", "vnc: password set");
			qmp_done(v, NULL);
			return;
		}
	}
	if (v->qlen == sizeof(v->qbuf))
		qmp_done(v, "QMP line too long");
}

static int password_set(struct sv_vnc *v, const char *qmp_sock,
			const char *password, struct hull_err *err)
{
	json_t *cmd =
	    json_pack("{s:s, s:{s:s}}", "execute", "change-vnc-password",
		      "arguments", "password", password);
	char *c = json_dumps(cmd, JSON_COMPACT);
	json_decref(cmd);
	char *req = xasprintf("{\"execute\": \"qmp_capabilities\"}\n%s\n", c);
	free(c);
	int r = 0;
	v->qmp_fd = hvm_com2_connect(qmp_sock, 10000, err);
	if (v->qmp_fd < 0) {
		r = hull_err_prefix(err, "vnc_password");
	} else if (send(v->qmp_fd, req, strlen(req), MSG_NOSIGNAL) !=
		   (ssize_t)strlen(req)) {
		r = hull_err_sys(err, errno, "vnc_password: QMP");
	} else {
		r = sv_loop_add(v->loop, v->qmp_fd, EPOLLIN, on_qmp, v, err);
	}
	free(req);
	return r;
}

/* The listen address: R/var/vnc_listen, else loopback. */
static int listen_addr(struct sockaddr_storage *ss, socklen_t *len,
		       struct hull_err *err)
{
	_cleanup_free_ char *p = hull_root_path(SV_VNC_LISTEN_FILE);
	_cleanup_free_ char *text = NULL;
	size_t n;
	if (hull_path_exists(p)) {
		if (hull_file_read(p, 256, &text, &n, err) < 0)
			return -err->code;
		return sv_vnc_listen_parse(text, ss, len, err);
	}
	return sv_vnc_listen_parse("127.0.0.1", ss, len, err);
}

static int info_write(struct sv_vnc *v, const struct sockaddr_storage *ss,
		      const char *password, struct hull_err *err)
{
	char host[INET6_ADDRSTRLEN];
	int port;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	}
	json_t *j = json_pack("{s:s, s:i}", "host", host, "port", port);
	if (port >= 5900)
		json_object_set_new(j, "display", json_integer(port - 5900));
	if (password && *password)
		json_object_set_new(j, "password", json_string(password));
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	int r = hull_file_write_atomic(v->info, s, strlen(s), 0600, err);
	free(s);
	if (r == 0)
		sv_log("info", "vnc: %s port %d", host, port);
	return r;
}

/* ---- the relay process ------------------------------------------------ */

__attribute__((noreturn)) static void vnc_relay(struct sv_vnc *v, int sock,
						pid_t parent)
{
	struct hull_err err = {0};
	sigset_t none;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "hull-vnc");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int keep[3] = {v->listen_fd, v->timer_fd, sock};
	sv_privsep_close_all_but(keep, 3);
	if (sv_privsep_enter(v->uid, v->gid, SV_PRIVSEP_VNC_RELAY, &err) < 0) {
		sv_log("error", "vnc: relay: %s", err.msg);
		_exit(1);
	}
	if (getppid() != parent)
		_exit(1); /* the supervisor died before the signal held */
	v->loop = sv_loop_new(&err);
	v->broker = sock;
	v->qmp_fd = -1;
	if (!v->loop ||
	    sv_loop_add(v->loop, v->timer_fd, EPOLLIN, on_retry, v, &err) < 0 ||
	    sv_loop_add(v->loop, v->listen_fd, EPOLLIN, on_accept, v, &err) <
		0) {
		sv_log("error", "vnc: relay: %s", err.msg);
		_exit(1);
	}
	for (;;)
		if (sv_loop_run_once(v->loop, -1) < 0)
			_exit(1);
}

/* ---- in the supervisor ------------------------------------------------ */

/* The relay asks for a connection to QEMU: one byte in, {i32 code} and
 * the descriptor out. A connect never blocks (connect_qemu). */
static void on_broker(struct sv_loop *loop, int fd, uint32_t events, void *data)
{
	struct sv_vnc *v = data;
	char req;
	ssize_t n = read(fd, &req, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* the relay is gone: its pidfd says so too */
		sv_loop_del(loop, fd);
		close(fd);
		v->broker = -1;
		return;
	}
	int qfd = connect_qemu(v->sock);
	int32_t code = qfd < 0 ? qfd : 0;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	struct iovec iov = {&code, sizeof(code)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (qfd >= 0) {
		m.msg_control = u.b;
		m.msg_controllen = sizeof(u.b);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &qfd, sizeof(int));
	}
	(void)!sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (qfd >= 0)
		close(qfd);
}

static void relay_reap(struct sv_vnc *v)
{
	int fds[] = {v->pidfd, v->broker, v->restart_timer};
	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
		if (fds[i] >= 0) {
			sv_loop_del(v->loop, fds[i]);
			close(fds[i]);
		}
	v->pidfd = v->broker = v->restart_timer = -1;
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
			;
		v->pid = -1;
	}
}

static int relay_spawn(struct sv_vnc *v, struct hull_err *err);

static void on_restart(struct sv_loop *loop, int fd, uint32_t events,
		       void *data)
{
	struct sv_vnc *v = data;
	struct hull_err err = {0};
	sv_loop_del(loop, fd);
	close(fd);
	v->restart_timer = -1;
	if (relay_spawn(v, &err) < 0)
		sv_log("error", "vnc: %s", err.msg);
}

/* The relay died: another one, at once after one that ran a while, then
 * after 100, 200, 400 ms for each that died as it started, and none
 * after that before the next boot. */
static void on_relay_exit(struct sv_loop *loop, int fd, uint32_t events,
			  void *data)
{
	struct sv_vnc *v = data;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	v->quick_deaths = now.tv_sec - v->spawned < 1 ? v->quick_deaths + 1 : 0;
	relay_reap(v);
	if (v->quick_deaths > VNC_QUICK_DEATHS_MAX) {
		sv_log("error", "vnc: relay keeps dying as it starts; not "
				"restarted before the next boot");
		return;
	}
	long ms = v->quick_deaths ? 100L << (v->quick_deaths - 1) : 0;
	sv_log("warn", "vnc: relay died; starting another in %ld ms", ms);
	struct itimerspec it = {
	    .it_value = {ms / 1000, ms ? (ms % 1000) * 1000000L : 1}};
	struct hull_err err = {0};
	v->restart_timer =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->restart_timer < 0 ||
	    timerfd_settime(v->restart_timer, 0, &it, NULL) < 0 ||
	    sv_loop_add(loop, v->restart_timer, EPOLLIN, on_restart, v, &err) <
		0) {
		sv_log("error", "vnc: restart timer: %s",
		       err.msg[0] ? err.msg : strerror(errno));
		if (v->restart_timer >= 0)
			close(v->restart_timer);
		v->restart_timer = -1;
	}
}

static int relay_spawn(struct sv_vnc *v, struct hull_err *err)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return hull_err_sys(err, errno, "vnc: socketpair");
	pid_t self = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		return hull_err_sys(err, errno, "vnc: fork");
	}
	if (pid == 0)
		vnc_relay(v, sp[1], self);
	close(sp[1]);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	v->spawned = now.tv_sec;
	v->pid = pid;
	v->broker = sp[0];
	v->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (v->pidfd < 0) {
		int r = hull_err_sys(err, errno, "vnc: pidfd");
		relay_reap(v);
		return r;
	}
	fcntl(v->pidfd, F_SETFD, FD_CLOEXEC);
	if (sv_loop_add(v->loop, v->pidfd, EPOLLIN, on_relay_exit, v, err) <
		0 ||
	    sv_loop_add(v->loop, v->broker, EPOLLIN, on_broker, v, err) < 0) {
		relay_reap(v);
		return -err->code;
	}
	return 0;
}

pid_t sv_vnc_relay_pid(const struct sv_vnc *v)
{
	return v ? v->pid : -1;
}

struct sv_vnc *sv_vnc_start(struct sv_loop *loop, const char *uuid,
			    const char *vnc_sock, const char *qmp_sock,
			    int port, const char *password,
			    struct hull_err *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uid_t uid;
	gid_t gid;
	if (sv_privsep_ids(uuid, SV_PRIVSEP_VNC, &uid, &gid, err) < 0)
		return NULL;
	if (port < 0 || port > 65535) {
		hull_err_set(err, EINVAL, "vnc_port: %d is not a port", port);
		return NULL;
	}
	if (listen_addr(&ss, &len, err) < 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	struct sv_vnc *v = xcalloc(1, sizeof(*v));
	v->loop = loop;
	v->qmp_fd = -1;
	v->pid = -1;
	v->pidfd = v->broker = v->restart_timer = -1;
	v->uid = uid;
	v->gid = gid;
	v->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	v->sock = xstrdup(vnc_sock);
	v->info = hull_root_path("%s/run/%s", uuid, SV_VNC_INFO);
	v->listen_fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (v->listen_fd < 0 ||
	    setsockopt(v->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
		       sizeof(one)) < 0 ||
	    bind(v->listen_fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(v->listen_fd, SV_VNC_CLIENTS_MAX) < 0 ||
	    getsockname(v->listen_fd, (struct sockaddr *)&ss, &len) < 0) {
		hull_err_sys(err, errno, "vnc: listen on port %d", port);
		goto fail;
	}
	if (v->timer_fd < 0) {
		hull_err_sys(err, errno, "vnc: timerfd");
		goto fail;
	}
	if ((password && *password &&
	     password_set(v, qmp_sock, password, err) < 0) ||
	    info_write(v, &ss, password, err) < 0 || relay_spawn(v, err) < 0)
		goto fail;
	return v;
fail:
	sv_vnc_stop(v);
	return NULL;
}

int sv_vnc_qemu_changed(struct sv_vnc *v, const char *qmp_sock,
			const char *password, struct hull_err *err)
{
	if (!v || !password || !*password)
		return 0;
	if (v->qmp_fd >= 0)
		qmp_done(v, NULL);
	v->qlen = 0;
	v->qreturns = 0;
	return password_set(v, qmp_sock, password, err);
}

void sv_vnc_stop(struct sv_vnc *v)
{
	if (!v)
		return;
	relay_reap(v);
	for (int i = 0; i < SV_VNC_CLIENTS_MAX; i++)
		if (v->conns[i])
			conn_close(v->conns[i]);
	if (v->qmp_fd >= 0)
		qmp_done(v, NULL);
	int fds[] = {v->listen_fd, v->timer_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
		if (fds[i] >= 0)
			close(fds[i]); /* never watched here: the relay's */
	if (v->info)
		unlink(v->info);
	free(v->sock);
	free(v->info);
	free(v);
}
