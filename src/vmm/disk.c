/*
 * disk.c - open and lock disk images. A regular file or a block device;
 * the size must be a whole number of 512-byte sectors, as virtio-blk
 * counts them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/disk.h"

void disk_init(struct disk *d, const struct vmm_disk_config *c)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->readonly = c->readonly;
	strcpy(d->serial, c->serial);
}

int disk_open(struct disk *d, const struct vmm_disk_config *c, bool lock,
	      struct hull_err *err)
{
	disk_init(d, c);
	int fd = open(c->path, (c->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "disk %s", c->path);
	if (disk_adopt(d, fd, c->path, err) < 0)
		return -err->code;
	if (lock && disk_lock(d, c->path, err) < 0) {
		disk_close(d);
		return -err->code;
	}
	return 0;
}

int disk_adopt(struct disk *d, int fd, const char *name, struct hull_err *err)
{
	struct stat st;
	uint64_t size = 0;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &st) < 0) {
		hull_err_sys(err, errno, "disk %s", name);
		goto fail;
	}
	if (!d->readonly && (fl & O_ACCMODE) != O_RDWR) {
		hull_err_set(err, EBADF, "disk %s: not open for writing", name);
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			hull_err_sys(err, errno, "disk %s: size", name);
			goto fail;
		}
	} else {
		hull_err_set(err, EINVAL, "disk %s: not a file or block device",
			     name);
		goto fail;
	}
	if (size % 512) {
		hull_err_set(
		    err, EINVAL,
		    "disk %s: size %llu is not a multiple of 512 bytes", name,
		    (unsigned long long)size);
		goto fail;
	}
	d->fd = fd;
	d->size = size;
	return 0;
fail:
	close(fd);
	return -err->code;
}

int disk_lock(struct disk *d, const char *path, struct hull_err *err)
{
	if (flock(d->fd, (d->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return hull_err_set(
			    err, EBUSY, "disk %s is in use by another VM%s",
			    path, d->readonly ? " read-write" : "");
		return hull_err_sys(err, errno, "disk %s: lock", path);
	}
	return 0;
}

void disk_unlock(struct disk *d)
{
	if (d->fd >= 0)
		flock(d->fd, LOCK_UN);
}

void disk_close(struct disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
