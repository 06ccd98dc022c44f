/*
 * lock.h - advisory whole-file locks (flock) that serialise hull's short-lived
 * commands on one object: an instance, an image, the pool. The kernel drops a
 * lock when its holder dies, so a killed command never leaves one behind.
 */
#ifndef HULL_LOCK_H
#define HULL_LOCK_H

#include <stdbool.h>

#include "lib/err.h"

/* Opens (creating) path and locks it, waiting for other holders. Returns the
 * descriptor (owned by the caller; closing it releases the lock). */
int hull_lock_take(const char *path, bool exclusive, struct hull_err *err);

/* The same, exclusive, without waiting: -EWOULDBLOCK (err untouched) when
 * another holds it. */
int hull_lock_try(const char *path, struct hull_err *err);

/* Closes a lock descriptor; -1 is fine. */
void hull_lock_release(int fd);

#endif
