/*
 * console.c - UART back ends: stdio (raw mode when a terminal), a pty, or a
 * unix socket. Output to a pty or socket nobody reads is dropped rather
 * than blocking the vCPU that wrote it; COM1's output while no client is
 * connected to its socket is kept for the next one (serial_keep_backlog).
 * Input is never dropped: what the UART's ring cannot take is held here
 * and the source is not read again until the guest has made room (the
 * UART's room eventfd), so the writer's socket buffer, then the writer,
 * wait for a slow guest (a metadata value of any size reaches it whole).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/console.h"
#include "vmm/iothread.h"
#include "vmm/virtio_devices.h"

struct console {
	struct serial *ser;
	enum vmm_console_kind kind;
	int in_fd, out_fd;
	int listen_fd, conn_fd, pty_slave;
	char *path;
	bool tty_saved;
	struct termios saved;
	struct virtio_dev *vcon;
	uint8_t held[256]; /* input read but not yet taken by the UART */
	size_t held_off, held_len;
};

static void on_input(void *arg, uint32_t events);

static int input_fd(const struct console *c)
{
	return c->kind == VMM_CONSOLE_UNIX ? c->conn_fd : c->in_fd;
}

static void drop_conn(struct console *c)
{
	if (c->conn_fd < 0)
		return;
	c->held_len = 0; /* that client's bytes */
	serial_set_output(c->ser, -1);
	io_del(c->conn_fd);
	close(c->conn_fd);
	c->conn_fd = -1;
}

static void on_accept(void *arg, uint32_t events)
{
	struct console *c = arg;
	int fd =
	    accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	drop_conn(c); /* the newest client wins, as a serial cable re-plugged */
	c->conn_fd = fd;
	if (io_add(fd, EPOLLIN, on_input, c, NULL) < 0) {
		close(fd);
		c->conn_fd = -1;
		return;
	}
	serial_set_output(c->ser, fd);
}

/* Hands bytes to the guest; what the UART has no room for is held, and
 * the source is watched for nothing until on_room: one-shot with no event
 * reports a hang-up once (on_input ignores it while holding) and then
 * stays quiet, where a plain watch would report it without end. */
static void deliver(struct console *c, const uint8_t *buf, size_t n)
{
	if (c->vcon && virtio_console_input(c->vcon, buf, n))
		return;
	size_t m = serial_input(c->ser, buf, n);
	if (m == n)
		return;
	memcpy(c->held, buf + m, n - m);
	c->held_off = 0;
	c->held_len = n - m;
	io_mod(input_fd(c), EPOLLONESHOT, on_input, c);
}

/* The guest has read the UART's ring down: hand it what is held, then
 * read the source again. */
static void on_room(void *arg, uint32_t events)
{
	struct console *c = arg;
	uint64_t v;
	if (read(serial_room_fd(c->ser), &v, sizeof(v)) < 0) {
		/* EAGAIN: already reset */
	}
	if (!c->held_len)
		return;
	size_t m = serial_input(c->ser, c->held + c->held_off, c->held_len);
	c->held_off += m;
	c->held_len -= m;
	if (!c->held_len && input_fd(c) >= 0)
		io_mod(input_fd(c), EPOLLIN, on_input, c);
}

static void on_input(void *arg, uint32_t events)
{
	struct console *c = arg;
	int fd = input_fd(c);
	if (c->held_len)
		return; /* a hang-up while holding back: seen once re-armed */
	uint8_t buf[sizeof(c->held)];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		deliver(c, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF or error: stop reading; output still goes where it went. */
	if (c->kind == VMM_CONSOLE_UNIX)
		drop_conn(c);
	else
		io_del(fd);
}

static int open_unix(struct console *c, const char *path, struct hull_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return hull_err_set(err, ENAMETOOLONG, "%s: path too long",
				    path);
	strcpy(sa.sun_path, path);
	c->listen_fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0)
		return hull_err_sys(err, errno, "socket");
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket from an earlier run */
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hull_err_sys(err, errno, "%s", path);
	if (listen(c->listen_fd, 4) < 0)
		return hull_err_sys(err, errno, "listen %s", path);
	c->path = xstrdup(path);
	return 0;
}

static int open_pty(struct console *c, struct hull_err *err)
{
	c->in_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->in_fd < 0)
		return hull_err_sys(err, errno, "posix_openpt");
	if (grantpt(c->in_fd) < 0 || unlockpt(c->in_fd) < 0)
		return hull_err_sys(err, errno, "pty");
	const char *name = ptsname(c->in_fd);
	if (!name)
		return hull_err_sys(err, errno, "ptsname");
	/* Hold the slave open so the master does not hang up while no one is
	 * attached; output beyond the pty buffer is then dropped. */
	c->pty_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pty_slave < 0)
		return hull_err_sys(err, errno, "%s", name);
	struct termios t;
	if (tcgetattr(c->pty_slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(c->pty_slave, TCSANOW, &t);
	}
	fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
	c->out_fd = c->in_fd;
	fprintf(stderr, "hull-vmm: console on %s\n", name);
	return 0;
}

struct console *console_open(struct serial *ser, enum vmm_console_kind kind,
			     const char *path, struct hull_err *err)
{
	struct console *c = xcalloc(1, sizeof(*c));
	int r = 0;
	c->ser = ser;
	c->kind = kind;
	c->in_fd = c->out_fd = c->listen_fd = c->conn_fd = c->pty_slave = -1;
	switch (kind) {
	case VMM_CONSOLE_STDIO:
		c->in_fd = STDIN_FILENO;
		c->out_fd = STDOUT_FILENO;
		if (isatty(STDIN_FILENO) &&
		    tcgetattr(STDIN_FILENO, &c->saved) == 0) {
			struct termios t = c->saved;
			/* raw input, but keep ^C for the user to stop the VM */
			t.c_lflag &= (tcflag_t) ~(ICANON | ECHO | IEXTEN);
			t.c_iflag &= (tcflag_t) ~(ICRNL | IXON);
			tcsetattr(STDIN_FILENO, TCSANOW, &t);
			c->tty_saved = true;
		}
		break;
	case VMM_CONSOLE_PTY:
		r = open_pty(c, err);
		break;
	case VMM_CONSOLE_UNIX:
		r = open_unix(c, path, err);
		break;
	case VMM_CONSOLE_NONE:
		break;
	}
	if (r < 0) {
		console_close(c);
		return NULL;
	}
	serial_set_output(ser, c->out_fd);
	return c;
}

int console_start(struct console *c, struct hull_err *err)
{
	if (c->kind != VMM_CONSOLE_NONE && serial_room_fd(c->ser) >= 0 &&
	    io_add(serial_room_fd(c->ser), EPOLLIN, on_room, c, err) < 0)
		return -err->code;
	switch (c->kind) {
	case VMM_CONSOLE_STDIO: {
		/* epoll refuses regular files; such stdin is simply not read */
		struct stat st;
		if (fstat(c->in_fd, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
		if (io_add(c->in_fd, EPOLLIN, on_input, c, NULL) < 0)
			return 0; /* closed or unusable stdin: output only */
		return 0;
	}
	case VMM_CONSOLE_PTY:
		return io_add(c->in_fd, EPOLLIN, on_input, c, err);
	case VMM_CONSOLE_UNIX:
		return io_add(c->listen_fd, EPOLLIN, on_accept, c, err);
	case VMM_CONSOLE_NONE:
		return 0;
	}
	return 0;
}

void console_output(struct console *c, const uint8_t *buf, size_t len)
{
	int fd = c->kind == VMM_CONSOLE_UNIX ? c->conn_fd : c->out_fd;
	while (fd >= 0 && len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nobody reading a pty or socket: dropped */
		buf += n;
		len -= (size_t)n;
	}
}

void console_set_virtio(struct console *c, struct virtio_dev *v)
{
	c->vcon = v;
}

unsigned console_fds(struct console *c, int *out, unsigned max)
{
	unsigned n = 0;
	int fds[] = {c->in_fd, c->out_fd, c->listen_fd, c->conn_fd,
		     c->pty_slave};
	for (unsigned i = 0; i < 5 && n < max; i++)
		if (fds[i] >= 0)
			out[n++] = fds[i];
	return n;
}

void console_close(struct console *c)
{
	if (!c)
		return;
	if (c->tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	if (c->kind == VMM_CONSOLE_PTY && c->in_fd >= 0)
		close(c->in_fd);
	if (c->pty_slave >= 0)
		close(c->pty_slave);
	if (c->conn_fd >= 0)
		close(c->conn_fd);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	/* The socket file stays: unlink is outside the confined budget, and
	 * the next start replaces a stale socket. */
	free(c->path);
	free(c);
}
