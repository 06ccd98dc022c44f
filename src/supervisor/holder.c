/*
 * holder.c - the supervisor's side of hull-holder (see holder.h).
 */
#include "supervisor/holder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervisor/holder_proto.h"
#include "supervisor/log.h"

static int hfd = -1;

struct replayed {
	char name[HOLDER_NAME_MAX];
	int fd;
};
static struct replayed fds[HOLDER_FDS_MAX];
static size_t nfds;
static char state[HOLDER_MSG_MAX];
static struct {
	pid_t pid;
	int status;
} exits[HOLDER_EXITS_MAX];
static size_t nexits, next_exit;

static int send_msg(char type, const char *text, int fd)
{
	if (hfd < 0)
		return 0;
	char buf[HOLDER_MSG_MAX];
	size_t len = strnlen(text, sizeof(buf) - 1);
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
	while ((n = sendmsg(hfd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		sv_log("error", "holder: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* One message; its descriptor (or -1) in *fd. Returns its length
 * (type byte included), 0 at the end, < 0 on error (-EAGAIN: none). */
static ssize_t recv_msg(char *buf, int *fd, int flags)
{
	struct iovec iov = {buf, HOLDER_MSG_MAX};
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.c,
			    .msg_controllen = sizeof(u.c)};
	ssize_t n;
	while ((n = recvmsg(hfd, &mh, MSG_CMSG_CLOEXEC | flags)) < 0 &&
	       errno == EINTR)
		;
	*fd = -1;
	if (n < 0)
		return -errno;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

static bool parse_exit(const char *text, pid_t *pid, int *status)
{
	int p, s;
	if (sscanf(text, "%d %d", &p, &s) != 2 || p <= 0)
		return false;
	*pid = p;
	*status = s;
	return true;
}

int sv_holder_attach(int fd, bool replay, struct hull_err *err)
{
	hfd = fd;
	if (!replay)
		return 0;
	for (;;) {
		char buf[HOLDER_MSG_MAX + 1];
		int mfd;
		ssize_t n = recv_msg(buf, &mfd, 0);
		if (n <= 0)
			return hull_err_set(err, n < 0 ? (int)-n : EPIPE,
					    "holder: replay ended early");
		const char *text = buf + 1;
		switch (buf[0]) {
		case 'F':
			if (mfd >= 0 && nfds < HOLDER_FDS_MAX) {
				snprintf(fds[nfds].name, HOLDER_NAME_MAX,
					 "%.*s", HOLDER_NAME_MAX - 1, text);
				fds[nfds++].fd = mfd;
				mfd = -1;
			}
			break;
		case 'S':
			snprintf(state, sizeof(state), "%s", text);
			break;
		case 'X':
			if (nexits < HOLDER_EXITS_MAX &&
			    parse_exit(text, &exits[nexits].pid,
				       &exits[nexits].status))
				nexits++;
			break;
		case 'E':
			return 0;
		}
		if (mfd >= 0)
			close(mfd);
	}
}

int sv_holder_fd(void)
{
	return hfd;
}

bool sv_holder_active(void)
{
	return hfd >= 0;
}

void sv_holder_put(const char *name, int fd)
{
	if (fd >= 0)
		send_msg('P', name, fd);
}

void sv_holder_drop(const char *name)
{
	send_msg('D', name, -1);
}

void sv_holder_state(const char *text)
{
	send_msg('S', text, -1);
}

void sv_holder_quit(void)
{
	send_msg('Q', "", -1);
}

int sv_holder_take(const char *name)
{
	for (size_t i = 0; i < nfds; i++) {
		if (strcmp(fds[i].name, name))
			continue;
		int fd = fds[i].fd;
		fds[i] = fds[--nfds];
		return fd;
	}
	return -1;
}

int sv_holder_take_prefix(const char *prefix, char *name, size_t size)
{
	size_t pl = strlen(prefix);
	for (size_t i = 0; i < nfds; i++) {
		if (strncmp(fds[i].name, prefix, pl))
			continue;
		snprintf(name, size, "%s", fds[i].name);
		return sv_holder_take(fds[i].name);
	}
	return -1;
}

const char *sv_holder_replayed_state(void)
{
	return state;
}

bool sv_holder_replayed_exit(pid_t *pid, int *status)
{
	if (next_exit >= nexits)
		return false;
	*pid = exits[next_exit].pid;
	*status = exits[next_exit++].status;
	return true;
}

int sv_holder_read(pid_t *pid, int *status)
{
	char buf[HOLDER_MSG_MAX + 1];
	int fd;
	ssize_t n = recv_msg(buf, &fd, MSG_DONTWAIT);
	if (fd >= 0)
		close(fd);
	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	if (buf[0] == 'X' && parse_exit(buf + 1, pid, status))
		return 1;
	return 0;
}
