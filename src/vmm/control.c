/*
 * control.c - the JSON-lines control socket. Requests are parsed with
 * jansson and bounded (a line over 4 KiB drops the client), so a
 * misbehaving client costs the VM nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/xalloc.h"
#include "vmm/control.h"
#include "vmm/devices.h"
#include "vmm/iothread.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"

#define LINE_MAX_BYTES 4096
#define MAX_CLIENTS 8

struct client {
	int fd;
	char buf[LINE_MAX_BYTES];
	size_t len;
	int passed_fd; /* a descriptor that came with the bytes, or -1 */
	struct control *ctl;
};

struct control {
	struct vm *vm;
	int listen_fd;
	struct client clients[MAX_CLIENTS];
};

static char *answer(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static char *fail(const char *msg)
{
	return answer(json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "snapshot": pause, write the state to the passed file, resume unless
 * the request says "resume": false (or the VM was paused already). */
static char *do_snapshot(struct vm *vm, json_t *req, int fd)
{
	if (fd < 0)
		return fail("snapshot: pass the state file's descriptor with "
			    "the request (SCM_RIGHTS)");
	json_t *res = json_object_get(req, "resume");
	if (res && !json_is_boolean(res))
		return fail("snapshot: \"resume\" must be true or false");
	pthread_mutex_lock(&vm->lock);
	bool was_paused = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	long long t0 = now_ns();
	vm_pause(vm);
	long long t1 = now_ns();
	/* what the guest printed before the pause reaches the console */
	serial_flush(vm->com1);
	serial_flush(vm->com2);
	struct hull_err err = {0};
	uint64_t bytes = 0;
	int r = vmm_snapshot_save(vm, fd, &bytes, &err);
	long long t2 = now_ns();
	bool resume = !was_paused && (!res || json_is_true(res));
	if (resume)
		vm_resume(vm);
	if (r < 0)
		return fail(err.msg);
	return answer(json_pack("{s:b, s:s, s:I, s:I, s:I}", "ok", 1, "state",
				resume ? "running" : "paused", "memory_bytes",
				(json_int_t)bytes, "pause_ns",
				(json_int_t)(t1 - t0), "save_ns",
				(json_int_t)(t2 - t1)));
}

static int opt_int(json_t *req, const char *key, long long lo, long long hi,
		   long long *out, char *msg, size_t msglen)
{
	json_t *v = json_object_get(req, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		snprintf(msg, msglen,
			 "migrate: \"%s\" must be an integer from %lld to "
			 "%lld",
			 key, lo, hi);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* "migrate": hands the passed socket to a live migration (migrate.h).
 * On a start, the answer comes when the migration ends, on this client:
 * *client and *fd are taken (set to -1) and NULL is returned. */
static char *do_migrate(struct vm *vm, json_t *req, int *fd, int *client)
{
	if (*fd < 0)
		return fail("migrate: pass the connected socket to the target "
			    "with the request (SCM_RIGHTS)");
	if (!client)
		return fail("migrate: only on the control socket");
	struct migrate_opts o = {.downtime_ns = 300000000ull,
				 .max_iterations = 30};
	long long dt = 300, bw = 0, it = 30;
	char msg[128];
	json_t *ac = json_object_get(req, "auto_converge");
	if (opt_int(req, "downtime_ms", 1, 60000, &dt, msg, sizeof(msg)) < 0 ||
	    opt_int(req, "bandwidth", 0, 1ll << 40, &bw, msg, sizeof(msg)) <
		0 ||
	    opt_int(req, "max_iterations", 1, 1000, &it, msg, sizeof(msg)) < 0)
		return fail(msg);
	if (ac && !json_is_boolean(ac))
		return fail("migrate: \"auto_converge\" must be true or false");
	o.downtime_ns = (uint64_t)dt * 1000000ull;
	o.bandwidth = (uint64_t)bw;
	o.max_iterations = (unsigned)it;
	o.auto_converge = ac && json_is_true(ac);
	struct hull_err err = {0};
	int sock = *fd, reply = *client;
	*fd = -1;
	if (migrate_start(vm, sock, reply, &o, &err) < 0)
		return fail(err.msg);
	/* the client's socket is the migration's now */
	*client = -1;
	return NULL;
}

static char *handle(struct vm *vm, const char *line, size_t len, int *fd,
		    int *client);

char *control_handle(struct vm *vm, const char *line, size_t len)
{
	int fd = -1;
	return handle(vm, line, len, &fd, NULL);
}

char *control_handle_fd(struct vm *vm, const char *line, size_t len, int fd)
{
	return handle(vm, line, len, &fd, NULL);
}

static char *handle(struct vm *vm, const char *line, size_t len, int *fdp,
		    int *client)
{
	int fd = *fdp;
	json_error_t jerr;
	json_t *req = json_loadb(line, len, 0, &jerr);
	const char *cmd;

	if (!req || !json_is_object(req)) {
		json_decref(req);
		return fail("request is not a JSON object");
	}
	cmd = json_string_value(json_object_get(req, "command"));
	if (!cmd) {
		json_decref(req);
		return fail("request has no \"command\" string");
	}
	char *out;
	if (!strcmp(cmd, "status")) {
		pthread_mutex_lock(&vm->lock);
		const char *state = vm->exit_reason != VM_RUNNING ? "stopping"
				    : vm->paused		  ? "paused"
								  : "running";
		pthread_mutex_unlock(&vm->lock);
		out = answer(json_pack("{s:b, s:s, s:i, s:I}", "ok", 1, "state",
				       state, "cpus", (int)vm->ncpus, "memory",
				       (json_int_t)vm->mem_size));
	} else if (!strcmp(cmd, "pause")) {
		vm_pause(vm);
		out =
		    answer(json_pack("{s:b, s:s}", "ok", 1, "state", "paused"));
	} else if (!strcmp(cmd, "resume")) {
		vm_resume(vm);
		out = answer(
		    json_pack("{s:b, s:s}", "ok", 1, "state", "running"));
	} else if (!strcmp(cmd, "shutdown")) {
		if (!vm->kbd) {
			out =
			    fail("no keyboard controller to send the request");
		} else {
			i8042_ctrl_alt_del(vm->kbd);
			out = answer(json_pack("{s:b}", "ok", 1));
		}
	} else if (!strcmp(cmd, "powerdown")) {
		pm_power_button(vm->pm);
		out = answer(json_pack("{s:b}", "ok", 1));
	} else if (!strcmp(cmd, "nmi")) {
		vm_nmi(vm);
		out = answer(json_pack("{s:b}", "ok", 1));
	} else if (!strcmp(cmd, "snapshot")) {
		out = do_snapshot(vm, req, fd);
	} else if (!strcmp(cmd, "migrate")) {
		out = do_migrate(vm, req, fdp, client);
	} else if (!strcmp(cmd, "stop")) {
		vm_request_exit(vm, VM_EXIT_STOPPED);
		out = answer(
		    json_pack("{s:b, s:s}", "ok", 1, "state", "stopping"));
	} else {
		out = fail("unknown command");
	}
	json_decref(req);
	return out;
}

static void client_drop(struct client *cl)
{
	io_del(cl->fd);
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
	if (cl->passed_fd >= 0)
		close(cl->passed_fd);
	cl->passed_fd = -1;
}

static void on_client(void *arg, uint32_t events)
{
	struct client *cl = arg;
	struct iovec iov = {cl->buf + cl->len, sizeof(cl->buf) - cl->len};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};
	ssize_t n = recvmsg(cl->fd, &mh, MSG_CMSG_CLOEXEC);
	/* one descriptor per request at most: a newer one replaces it */
	for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (cl->passed_fd >= 0)
				close(cl->passed_fd);
			cl->passed_fd = fd;
		}
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_drop(cl);
		return;
	}
	cl->len += (size_t)n;
	char *nl;
	while ((nl = memchr(cl->buf, '\n', cl->len))) {
		size_t l = (size_t)(nl - cl->buf);
		int client = cl->fd;
		char *reply =
		    handle(cl->ctl->vm, cl->buf, l, &cl->passed_fd, &client);
		if (cl->passed_fd >= 0)
			close(cl->passed_fd);
		cl->passed_fd = -1;
		if (client < 0) {
			/* the migration answers this client when it ends */
			io_del(cl->fd);
			cl->fd = -1;
			cl->len = 0;
			return;
		}
		size_t rl = strlen(reply);
		reply = xrealloc(reply, rl + 2);
		reply[rl] = '\n';
		/* answers are small; a client that does not read them is gone
		 */
		if (send(cl->fd, reply, rl + 1, MSG_NOSIGNAL | MSG_DONTWAIT) !=
		    (ssize_t)(rl + 1)) {
			free(reply);
			client_drop(cl);
			return;
		}
		free(reply);
		memmove(cl->buf, nl + 1, cl->len - l - 1);
		cl->len -= l + 1;
	}
	if (cl->len == sizeof(cl->buf))
		client_drop(cl); /* a line longer than any request */
}

static void on_accept(void *arg, uint32_t events)
{
	struct control *c = arg;
	int fd =
	    accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *cl = &c->clients[i];
		if (cl->fd < 0) {
			cl->fd = fd;
			cl->len = 0;
			if (io_add(fd, EPOLLIN, on_client, cl, NULL) < 0)
				client_drop(cl);
			return;
		}
	}
	close(fd); /* too many clients */
}

struct control *control_open(struct vm *vm, const char *path,
			     struct hull_err *err)
{
	struct control *c = xcalloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;

	c->vm = vm;
	/* jansson seeds its hash tables from /dev/urandom on first use; do it
	 * now, while opening files is still allowed. */
	json_object_seed(0);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		c->clients[i].fd = -1;
		c->clients[i].passed_fd = -1;
		c->clients[i].ctl = c;
	}
	c->listen_fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0) {
		hull_err_sys(err, errno, "control: socket");
		goto fail;
	}
	strcpy(sa.sun_path, path); /* length checked by the config */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->listen_fd, 4) < 0) {
		hull_err_sys(err, errno, "control: %s", path);
		goto fail;
	}
	if (io_add(c->listen_fd, EPOLLIN, on_accept, c, err) < 0)
		goto fail;
	return c;
fail:
	control_close(c);
	return NULL;
}

unsigned control_fds(struct control *c, int *out, unsigned max)
{
	return max && c->listen_fd >= 0 ? (out[0] = c->listen_fd, 1) : 0;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (c->clients[i].fd >= 0)
			close(c->clients[i].fd);
		if (c->clients[i].passed_fd >= 0)
			close(c->clients[i].passed_fd);
	}
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c);
}
