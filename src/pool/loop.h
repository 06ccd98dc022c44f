/*
 * loop.h - attaching a file to a loop device, so a pool can live in a
 * sparse file on a host without a spare disk.
 */
#ifndef HULL_POOL_LOOP_H
#define HULL_POOL_LOOP_H

#include "lib/err.h"

/* Attaches file to a free loop device with LO_FLAGS_AUTOCLEAR: the device
 * detaches itself when its last user goes, so once the filesystem on it is
 * mounted the caller closes the returned descriptor, and unmounting frees
 * the device. *dev gets the device path (caller frees). Returns the
 * device's descriptor (caller closes) or a negative errno. */
int pool_loop_attach(const char *file, char **dev, struct hull_err *err);

#endif
