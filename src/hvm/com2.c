/*
 * com2.c - connecting to an emulator's COM2 socket (see com2.h).
 */
#include "hvm/com2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int hvm_sock_connect(int fd, const char *path)
{
	int pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	struct stat st;
	int r = 0;
	if (fstat(pfd, &st) < 0) {
		r = -errno;
	} else if (!S_ISSOCK(st.st_mode)) {
		r = -ENOTSOCK;
	} else {
		/* the socket through the descriptor's magic link */
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d",
			 pfd);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			r = -errno;
	}
	close(pfd);
	return r;
}

int hvm_com2_connect(const char *path, int wait_ms, struct hull_err *err)
{
	/* 1 ms steps: the emulator listens some 50 ms after its exec,
	 * and every start waits for it. */
	for (int waited = 0;; waited += 1) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return hull_err_sys(err, errno, "socket");
		int c = hvm_sock_connect(fd, path);
		if (c == 0) {
			/* Non-blocking from here on: the server never
			 * blocks on a guest. */
			int fl = fcntl(fd, F_GETFL);
			if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
				int e = errno;
				close(fd);
				return hull_err_sys(err, e, "%s", path);
			}
			return fd;
		}
		int e = -c;
		close(fd);
		if ((e != ENOENT && e != ECONNREFUSED) || waited >= wait_ms)
			return hull_err_sys(err, e, "connect %s", path);
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
