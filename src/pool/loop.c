/*
 * loop.c - loop devices through /dev/loop-control and LOOP_CONFIGURE (one
 * ioctl sets the backing file and flags, kernel 5.8+), no losetup.
 */
#include "pool/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/xalloc.h"

#define LOOP_MAJOR 7
/* Another process may take the free device we were given; try again. */
#define LOOP_TRIES 16

int pool_loop_attach(const char *file, char **dev, struct hull_err *err)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return hull_err_sys(err, errno, "open /dev/loop-control");
	int ffd = open(file, O_RDWR | O_CLOEXEC);
	if (ffd < 0) {
		int e = errno;
		close(ctl);
		return hull_err_sys(err, e, "open %s", file);
	}
	int r = -EBUSY;
	for (int i = 0; i < LOOP_TRIES && r == -EBUSY; i++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			r = hull_err_sys(err, errno, "find a free loop device");
			break;
		}
		char *path = xasprintf("/dev/loop%d", n);
		int lfd = open(path, O_RDWR | O_CLOEXEC);
		/* Without devtmpfs the node may be missing. */
		if (lfd < 0 && errno == ENOENT &&
		    mknod(path, S_IFBLK | 0660, makedev(LOOP_MAJOR, n)) == 0)
			lfd = open(path, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			r = hull_err_sys(err, errno, "open %s", path);
			free(path);
			break;
		}
		struct loop_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (unsigned)ffd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name,
			 sizeof(cfg.info.lo_file_name), "%s", file);
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
			*dev = path;
			r = lfd;
			break;
		}
		int e = errno;
		close(lfd);
		free(path);
		r = e == EBUSY
			? -EBUSY
			: hull_err_sys(err, e, "attach %s to a loop device",
				       file);
	}
	if (r == -EBUSY)
		hull_err_set(err, EBUSY, "attach %s: no free loop device",
			     file);
	close(ffd);
	close(ctl);
	return r;
}
