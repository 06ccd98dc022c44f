/*
 * relay.c - zlogin's host side: one poll loop that copies the host's stdin
 * to the command and the command's output to the host's stdout and
 * stderr, forwards signals and window size changes, and ends when the
 * command exits (relay.h says why the command never gets our stdio).
 *
 * Input is read only when the last read has been written, and written
 * without blocking: a command that does not read its stdin cannot stall
 * the loop, so its output and its exit are still served. Output is
 * written to the host as it comes (blocking: the host's reader sets the
 * pace, as it would for the command itself).
 */
#include "zone/relay.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* After the command exits, what is left in its pipes or pty is copied,
 * up to this much each: processes it left behind may keep writing. */
#define RELAY_DRAIN_MAX (1024 * 1024)

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

struct relay_state {
	struct zone_relay *r;
	pid_t child;
	int sfd;
	int status;	  /* the child's, once reaped */
	bool reaped;	  /* the command has exited */
	bool interrupted; /* we were told to stop (SIGINT, SIGTERM, ...) */
};

static void forward(const struct zone_relay *r, pid_t child, int sig)
{
	/* Without a pty the command is the leader of a session of its own,
	 * with no terminal: what a terminal would send its foreground
	 * group (^C, ^\, hangup) goes to its process group. */
	bool group =
	    !r->pty && (sig == SIGINT || sig == SIGQUIT || sig == SIGHUP);
	if (!group || kill(-child, sig) < 0)
		kill(child, sig);
}

/* Reads one signal from the signalfd and acts on it. */
static void on_signal(struct relay_state *s)
{
	struct signalfd_siginfo si;
	if (read(s->sfd, &si, sizeof(si)) != sizeof(si))
		return;
	int sig = (int)si.ssi_signo;
	struct winsize ws;
	if (sig == SIGCHLD) {
		if (!s->reaped &&
		    waitpid(s->child, &s->status, WNOHANG) == s->child)
			s->reaped = true;
	} else if (sig == SIGWINCH) {
		if (s->r->pty && s->r->in_fd >= 0 &&
		    ioctl(s->r->in_fd, TIOCGWINSZ, &ws) == 0)
			ioctl(s->r->to_cmd, TIOCSWINSZ, &ws);
	} else if (sig != SIGPIPE) {
		/* SIGPIPE is ours (a host reader went away): the failed
		 * write says so. */
		s->interrupted = true;
		if (!s->reaped)
			forward(s->r, s->child, sig);
	}
}

/* Writes all of buf to the host, serving signals meanwhile (a host reader
 * that does not read must not keep ^C or SIGTERM from the command); the
 * host's descriptors are shared with others, so they stay blocking, and
 * each write is at most what poll promised room for. False when the host's
 * side is gone, or when we were told to stop, the command has exited and
 * the host's side takes no more: what it left is dropped then. */
static bool write_all(struct relay_state *s, int fd, const char *buf,
		      size_t len)
{
	while (len) {
		bool giving_up = s->reaped && s->interrupted;
		struct pollfd p[2] = {{fd, POLLOUT, 0}, {s->sfd, POLLIN, 0}};
		if (poll(p, 2, giving_up ? 0 : -1) < 0 && errno != EINTR)
			return false;
		if (p[1].revents)
			on_signal(s);
		if (!p[0].revents) {
			if (giving_up)
				return false;
			continue;
		}
		ssize_t n = write(fd, buf, len < PIPE_BUF ? len : PIPE_BUF);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			return false;
		}
	}
	return true;
}

/* Copies one read of *from to to. Returns false once *from is at its end
 * (with a pty: the last slave closed, EIO). A host side that is gone
 * closes a pipe, so the command gets EPIPE; a pty's output is dropped. */
static bool copy_out(struct relay_state *s, int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	return write_all(s, to, buf, (size_t)n) || s->r->pty;
}

static void drain(struct relay_state *s, int from, int to)
{
	size_t total = 0;
	char buf[16384];
	ssize_t n;
	while (from >= 0 && total < RELAY_DRAIN_MAX &&
	       (n = read(from, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		if (!write_all(s, to, buf, (size_t)n))
			break;
	}
}

int zone_relay_run(struct zone_relay *r, pid_t child, int sfd)
{
	struct relay_state s = {.r = r, .child = child, .sfd = sfd};
	char in[16384];
	size_t in_len = 0, in_off = 0;
	bool in_open = r->in_fd >= 0 && r->to_cmd >= 0, in_eof = false;
	set_nonblock(sfd);
	set_nonblock(r->to_cmd);
	set_nonblock(r->from_out);
	set_nonblock(r->from_err);
	while (!s.reaped) {
		struct pollfd p[5] = {
		    {sfd, POLLIN, 0},
		    {r->from_out, POLLIN, 0},
		    {r->from_err, POLLIN, 0},
		    {in_open && !in_len ? r->in_fd : -1, POLLIN, 0},
		    {in_len ? r->to_cmd : -1, POLLOUT, 0},
		};
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot wait for anything else: wait for the end. */
			while (waitpid(child, &s.status, 0) < 0 &&
			       errno == EINTR)
				;
			break;
		}
		if (p[0].revents)
			on_signal(&s);
		if (p[1].revents && !copy_out(&s, r->from_out, r->out_fd)) {
			if (r->pty) {
				/* EIO: the last slave closed; nothing
				 * reads input any more either. */
				r->from_out = -1;
				in_open = false;
				in_len = 0;
				in_eof = false;
			} else {
				close_fd(&r->from_out);
			}
		}
		if (p[2].revents && !copy_out(&s, r->from_err, r->err_fd))
			close_fd(&r->from_err);
		if (p[3].revents) {
			ssize_t n = read(r->in_fd, in, sizeof(in));
			if (n > 0) {
				in_len = (size_t)n;
				in_off = 0;
			} else if (n == 0 ||
				   (errno != EAGAIN && errno != EINTR)) {
				in_open = false;
				in_eof = true;
			}
		}
		if (p[4].revents) {
			ssize_t n =
			    write(r->to_cmd, in + in_off, in_len - in_off);
			if (n > 0) {
				in_off += (size_t)n;
				if (in_off == in_len)
					in_len = 0;
			} else if (errno != EAGAIN && errno != EINTR) {
				/* The command closed its stdin (EPIPE). */
				in_open = false;
				in_len = 0;
				in_eof = !r->pty;
			}
		}
		if (in_eof && !in_len && r->to_cmd >= 0) {
			in_eof = false;
			if (r->pty) {
				/* The pty's end-of-file character. */
				in[0] = '\004';
				in_len = 1;
				in_off = 0;
			} else {
				close_fd(&r->to_cmd);
			}
		}
	}
	drain(&s, r->from_out, r->out_fd);
	drain(&s, r->from_err, r->err_fd);
	if (r->pty)
		r->from_out = -1; /* the same descriptor as to_cmd */
	close_fd(&r->from_out);
	close_fd(&r->from_err);
	close_fd(&r->to_cmd);
	return s.status;
}
