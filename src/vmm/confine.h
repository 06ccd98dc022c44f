/*
 * confine.h - hull-vmm's privilege budget, stated in one place.
 *
 * After set-up the VMM needs only: KVM_RUN and interrupt injection on
 * descriptors it already holds, reads and writes on its disks, taps,
 * console and sockets, epoll, futexes and signals between its own threads,
 * and memory management without new executable mappings. Everything else,
 * execve and open included, kills the process.
 */
#ifndef HULL_VMM_CONFINE_H
#define HULL_VMM_CONFINE_H

#include "lib/err.h"

/* Closes every descriptor above 2 not in keep[0..n). */
int confine_close_fds(const int *keep, unsigned n, struct hull_err *err);

/* Drops every capability (and the bounding set where allowed); call before
 * creating threads, since capabilities are per thread. */
int confine_drop_caps(struct hull_err *err);

/* Installs the seccomp allow-list on every thread of the process. */
int confine_seccomp(struct hull_err *err);

#endif
