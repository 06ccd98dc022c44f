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
#include <unistd.h>

#include <jansson.h>

#include "lib/xalloc.h"
#include "vmm/control.h"
#include "vmm/devices.h"
#include "vmm/iothread.h"

#define LINE_MAX_BYTES 4096
#define MAX_CLIENTS 8

struct client {
	int fd;
	char buf[LINE_MAX_BYTES];
	size_t len;
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

char *control_handle(struct vm *vm, const char *line, size_t len)
{
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
}

static void on_client(void *arg, uint32_t events)
{
	struct client *cl = arg;
	ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len);
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
		char *reply = control_handle(cl->ctl->vm, cl->buf, l);
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
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			close(c->clients[i].fd);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c);
}
