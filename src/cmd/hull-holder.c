/*
 * hull-holder - what outlives an instance's supervisor (docs/internals.md,
 * "The holder"). Started by hull-supervisor only, never by hand:
 *
 *   hull-holder FD SUPERVISOR UUID PID
 *
 * It is the parent of the supervisor PID (which talks to it on FD, see
 * supervisor/holder_proto.h) and a child subreaper: a supervisor's death
 * leaves the instance's init (or emulator) in its care. It keeps the
 * descriptors the supervisor hands it (the console pty, the listening
 * sockets, the lx uname listener, the lock of run/supervisor.pid...),
 * reaps the orphans and reports their exit status, and when the
 * supervisor dies without saying it is done, runs SUPERVISOR --adopt at
 * once (the binary on disk now: an upgrade is a kill) and replays all it
 * keeps to it. It ends with the supervisor's own end.
 *
 * Deliberately small: libc only, no allocation, one poll loop; its
 * private memory counts against the supervisor's budget.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "supervisor/holder_proto.h"

struct held {
	char name[HOLDER_NAME_MAX];
	int fd;
};

static struct held held[HOLDER_FDS_MAX];
static size_t nheld;
static char state[HOLDER_MSG_MAX];
static size_t state_len;
static struct {
	int pid, status;
} exits[HOLDER_EXITS_MAX];
static size_t nexits;
static const char *uuid;

/* One JSON line in supervisor.log, as the supervisor writes them (the
 * uuid and the message are ours: no quoting needed). */
static void hlog(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void hlog(const char *level, const char *fmt, ...)
{
	char msg[256], ts[32];
	struct timespec t;
	struct tm tm;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(t.tv_nsec / 1000000));
	dprintf(2,
		"{\"time\":\"%s\",\"level\":\"%s\",\"uuid\":\"%s\","
		"\"msg\":\"holder: %s\"}\n",
		ts, level, uuid, msg);
}

static struct held *find(const char *name)
{
	for (size_t i = 0; i < nheld; i++)
		if (!strcmp(held[i].name, name))
			return &held[i];
	return NULL;
}

static void forget(const char *name)
{
	struct held *h = find(name);
	if (!h)
		return;
	close(h->fd);
	*h = held[--nheld];
}

static int send_msg(int sock, char type, const char *text, size_t len, int fd)
{
	char buf[HOLDER_MSG_MAX];
	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	buf[0] = type;
	memcpy(buf + 1, text, len);
	struct iovec iov = {buf, len + 1};
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		mh.msg_control = u.c;
		mh.msg_controllen = sizeof(u.c);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	ssize_t n;
	while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n < 0 ? -1 : 0;
}

static void send_exit(int sock, int pid, int status)
{
	char t[48];
	int n = snprintf(t, sizeof(t), "%d %d", pid, status);
	send_msg(sock, 'X', t, (size_t)n, -1);
}

/* One message from the supervisor; false at its end. */
static bool on_message(int sock, bool *quit)
{
	char buf[HOLDER_MSG_MAX + 1];
	struct iovec iov = {buf, HOLDER_MSG_MAX};
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.c,
			    .msg_controllen = sizeof(u.c)};
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	int fd = -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	buf[n] = '\0';
	const char *text = buf + 1;
	switch (buf[0]) {
	case 'P':
		if (fd < 0 || !*text || strlen(text) >= HOLDER_NAME_MAX)
			break;
		forget(text);
		if (nheld == HOLDER_FDS_MAX) {
			hlog("error", "too many descriptors: %s not kept",
			     text);
			break;
		}
		snprintf(held[nheld].name, HOLDER_NAME_MAX, "%s", text);
		held[nheld++].fd = fd;
		fd = -1;
		break;
	case 'D':
		forget(text);
		break;
	case 'S':
		state_len = (size_t)n - 1;
		memcpy(state, text, state_len);
		nexits = 0;
		break;
	case 'Q':
		*quit = true;
		break;
	}
	if (fd >= 0)
		close(fd);
	return true;
}

/* Starts SUPERVISOR --adopt and replays what we keep. Returns its pid
 * (and our end of its socket in *sock), or -1. */
static pid_t spawn(const char *prog, int *sock, const sigset_t *mask)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		hlog("error", "socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		hlog("error", "fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(sp[1], 3) < 0)
			_exit(127);
		syscall(SYS_close_range, 4, ~0U, 0);
		sigprocmask(SIG_UNBLOCK, mask, NULL);
		char *argv[] = {(char *)prog, "--adopt", "3", (char *)uuid,
				NULL};
		execv(prog, argv);
		_exit(127);
	}
	close(sp[1]);
	for (size_t i = 0; i < nheld; i++)
		send_msg(sp[0], 'F', held[i].name, strlen(held[i].name),
			 held[i].fd);
	send_msg(sp[0], 'S', state, state_len, -1);
	for (size_t i = 0; i < nexits; i++)
		send_exit(sp[0], exits[i].pid, exits[i].status);
	send_msg(sp[0], 'E', "", 0, -1);
	*sock = sp[0];
	return pid;
}

static long long mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	static const char usage[] = "usage: hull-holder FD SUPERVISOR UUID PID "
				    "(run by hull-supervisor only)\n";
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 5) {
		fputs(usage, stderr);
		return 2;
	}
	int sock = atoi(argv[1]);
	const char *prog = argv[2];
	uuid = argv[3];
	pid_t sv = (pid_t)atoi(argv[4]);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_NAME, "hull-holder");
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || sv <= 0) {
		hlog("error", "cannot start: %s", strerror(errno));
		return 1;
	}
	bool quit = false;
	int quick = 0;
	long long spawned = mono_ms();
	for (;;) {
		struct pollfd p[2] = {{sfd, POLLIN, 0}, {sock, POLLIN, 0}};
		if (poll(p, sock >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			return 1;
		if (sock >= 0 && p[1].revents) {
			if (!on_message(sock, &quit)) {
				close(sock);
				sock = -1;
			}
		}
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				kill(sv, (int)si.ssi_signo);
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != sv) {
				/* An orphan: the instance's init or emulator
				 * (or a child of the old supervisor's). */
				if (nexits < HOLDER_EXITS_MAX) {
					exits[nexits].pid = pid;
					exits[nexits++].status = status;
				}
				if (sock >= 0)
					send_exit(sock, pid, status);
				continue;
			}
			/* What the supervisor said before its end. */
			while (sock >= 0 && on_message(sock, &quit) && !quit) {
				struct pollfd q = {sock, POLLIN, 0};
				if (poll(&q, 1, 0) != 1)
					break;
			}
			if (quit)
				return WIFEXITED(status) ? WEXITSTATUS(status)
							 : 1;
			if (sock >= 0)
				close(sock);
			sock = -1;
			if (WIFSIGNALED(status))
				hlog("warn",
				     "supervisor %d killed by signal %d; "
				     "starting another",
				     (int)pid, WTERMSIG(status));
			else
				hlog("warn",
				     "supervisor %d exited with status %d "
				     "without a word; starting another",
				     (int)pid, WEXITSTATUS(status));
			/* A supervisor that dies as it starts, again and
			 * again (a crash: a fault, an abort, an exit without
			 * a word): wait a little longer each time (at most
			 * 2 s), never give the instance up. SIGKILL is
			 * someone's kill -9 (an upgrade, an operator), never
			 * a crash: the next one starts at once however soon
			 * it comes. */
			bool crash =
			    !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL;
			quick =
			    crash && mono_ms() - spawned < 1000 ? quick + 1 : 0;
			if (quick > 5) {
				long ms = 100L << (quick > 10 ? 5 : quick - 6);
				if (ms > 2000)
					ms = 2000;
				struct timespec ts = {ms / 1000,
						      (ms % 1000) * 1000000L};
				nanosleep(&ts, NULL);
			}
			spawned = mono_ms();
			sv = spawn(prog, &sock, &mask);
			if (sv < 0)
				return 1;
		}
	}
}
