/*
 * sealed.c - re-exec from a sealed memfd copy of /proc/self/exe.
 */
#include "zone/sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

bool zone_exe_is_sealed(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	int seals = fcntl(fd, F_GET_SEALS);
	close(fd);
	return seals >= 0 && (seals & SEALS) == SEALS;
}

int zone_exe_reexec_sealed(char **argv, struct hull_err *err)
{
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return hull_err_sys(err, errno, "open /proc/self/exe");
	struct stat st;
	int mfd = memfd_create("hull-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || fstat(src, &st) < 0) {
		int e = errno;
		close(src);
		if (mfd >= 0)
			close(mfd);
		return hull_err_sys(err, e, "memfd_create");
	}
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n =
		    sendfile(mfd, src, &off, (size_t)(st.st_size - off));
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(src);
			close(mfd);
			return hull_err_sys(err, e, "copy /proc/self/exe");
		}
	}
	close(src);
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0) {
		int e = errno;
		close(mfd);
		return hull_err_sys(err, e, "seal copy");
	}
	fexecve(mfd, argv, environ);
	int e = errno;
	close(mfd);
	return hull_err_sys(err, e, "exec sealed copy");
}
