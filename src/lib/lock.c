/*
 * lock.c - flock-based locks (see lock.h).
 */
#include "lib/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

int hull_lock_take(const char *path, bool exclusive, struct hull_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "lock %s", path);
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "lock %s", path);
	}
	return fd;
}

int hull_lock_try(const char *path, struct hull_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "lock %s", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return -EWOULDBLOCK;
		return hull_err_sys(err, e, "lock %s", path);
	}
	return fd;
}

void hull_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
