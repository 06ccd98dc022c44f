/*
 * channel.c - metadata channel descriptors (see channel.h).
 */
#include "metadata/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "lib/xalloc.h"

int metadata_channel_listen(const char *path, struct hull_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path))
		return hull_err_set(err, ENAMETOOLONG,
				    "socket path too long: %s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return hull_err_set(
			    err, EEXIST, "%s exists and is not a socket", path);
		unlink(path);
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return hull_err_sys(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "listen on %s", path);
	}
	return fd;
}

/* Raw: 8 bits, no echo, no canonical mode, no CR/NL translation. Without
 * it the line discipline would echo the server's answers back to it. */
static int tty_raw(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &t) < 0)
		return -errno;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	return tcsetattr(fd, TCSANOW, &t) < 0 ? -errno : 0;
}

int metadata_channel_open_tty(const char *path, struct hull_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return hull_err_sys(err, errno, "%s", path);
	if (!S_ISCHR(st.st_mode))
		return hull_err_set(err, EINVAL, "%s is not a character device",
				    path);
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	int r = tty_raw(fd);
	if (r < 0) {
		close(fd);
		return hull_err_sys(err, -r, "%s: raw mode", path);
	}
	return fd;
}

int metadata_channel_pty(int *guest, char **guest_path, struct hull_err *err)
{
	char name[64];
	int r;

	*guest = -1;
	*guest_path = NULL;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return hull_err_sys(err, errno, "open a pty");
	if (grantpt(m) < 0 || unlockpt(m) < 0 ||
	    (errno = ptsname_r(m, name, sizeof(name))) != 0) {
		r = hull_err_sys(err, errno, "set up a pty");
		close(m);
		return r;
	}
	*guest = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	r = *guest < 0 ? -errno : tty_raw(*guest);
	if (r < 0) {
		if (*guest >= 0)
			close(*guest);
		*guest = -1;
		close(m);
		return hull_err_sys(err, -r, "%s", name);
	}
	*guest_path = xstrdup(name);
	return m;
}
