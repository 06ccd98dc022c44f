/*
 * com2.c - connecting to an emulator's COM2 socket (see com2.h).
 */
#include "hvm/com2.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int hvm_com2_connect(const char *path, int wait_ms, struct hull_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return hull_err_set(err, ENAMETOOLONG,
				    "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	/* 1 ms steps: the emulator listens some 50 ms after its exec,
	 * and every start waits for it. */
	for (int waited = 0;; waited += 1) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return hull_err_sys(err, errno, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
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
		int e = errno;
		close(fd);
		if ((e != ENOENT && e != ECONNREFUSED) || waited >= wait_ms)
			return hull_err_sys(err, e, "connect %s", path);
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
