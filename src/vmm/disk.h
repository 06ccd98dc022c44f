/*
 * disk.h - a VM's disk image: opened (read-only or read-write) and locked
 * before the guest starts, so a missing disk or one another VM holds
 * read-write is refused up front rather than corrupted later.
 */
#ifndef HULL_VMM_DISK_H
#define HULL_VMM_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/config.h"

struct disk {
	int fd;
	bool readonly;
	uint64_t size; /* bytes */
	char serial[VMM_SERIAL_ID_MAX + 1];
};

/* Opens and, when lock is set, locks: a shared lock for read-only, an
 * exclusive one for read-write, both non-blocking (another holder is an
 * error). A live migration's target opens unlocked and locks at the
 * hand-over, once the source has let go (disk_unlock). */
int disk_open(struct disk *d, const struct vmm_disk_config *c, bool lock,
	      struct hull_err *err);
/* A disk not open yet (fd -1, size 0): a live migration's target takes
 * its disks only once the stream has ended (migrate_receive_disks). */
void disk_init(struct disk *d, const struct vmm_disk_config *c);
/* Takes fd (always: closed on error) as d's image, named `name` in
 * errors: a regular file or block device of whole sectors, open for
 * writing unless d is read-only. Does not lock. */
int disk_adopt(struct disk *d, int fd, const char *name, struct hull_err *err);
int disk_lock(struct disk *d, const char *path, struct hull_err *err);
void disk_unlock(struct disk *d);
void disk_close(struct disk *d);

#endif
