/*
 * sock.c - binding and connecting unix sockets by path, any length.
 */
#include "supervisor/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/xalloc.h"

/* Fills addr; *dirfd is an O_PATH descriptor to close afterwards (or -1). */
static int addr_of(const char *path, struct sockaddr_un *addr, int *dirfd,
		   struct hull_err *err)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(path) < sizeof(addr->sun_path)) {
		snprintf(addr->sun_path, sizeof(addr->sun_path), "%s", path);
		return 0;
	}
	_cleanup_free_ char *d = xstrdup(path);
	_cleanup_free_ char *b = xstrdup(path);
	*dirfd = open(dirname(d), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	if ((size_t)snprintf(addr->sun_path, sizeof(addr->sun_path),
			     "/proc/self/fd/%d/%s", *dirfd,
			     basename(b)) >= sizeof(addr->sun_path)) {
		close(*dirfd);
		return hull_err_set(err, ENAMETOOLONG,
				    "socket name too long: %s", path);
	}
	return 0;
}

int sv_sock_listen(const char *path, struct hull_err *err)
{
	struct sockaddr_un a;
	int dfd, r;
	if ((r = addr_of(path, &a, &dfd, err)) < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = hull_err_sys(err, errno, "socket");
		goto out;
	}
	unlink(path);
	mode_t old = umask(077);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 16) < 0) {
		r = hull_err_sys(err, errno, "bind %s", path);
		umask(old);
		close(fd);
		goto out;
	}
	umask(old);
	r = fd;
out:
	if (dfd >= 0)
		close(dfd);
	return r;
}

int sv_sock_connect(const char *path, struct hull_err *err)
{
	struct sockaddr_un a;
	int dfd, r;
	if ((r = addr_of(path, &a, &dfd, err)) < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = hull_err_sys(err, errno, "socket");
	} else if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = hull_err_sys(err, errno, "connect %s", path);
		close(fd);
	} else {
		r = fd;
	}
	if (dfd >= 0)
		close(dfd);
	return r;
}
