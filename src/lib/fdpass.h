/*
 * fdpass.h - descriptors over a unix socket (SCM_RIGHTS), the one helper
 * for them in hull: the zone start's mounter and notify socket, zlogin's
 * uname listener, the supervisor's control socket.
 *
 * Both functions allocate nothing and take no lock, so they may be called
 * between fork and exec. Received descriptors are close-on-exec and owned
 * by the caller.
 */
#ifndef HULL_LIB_FDPASS_H
#define HULL_LIB_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* The most descriptors one message carries. */
#define HULL_FDPASS_MAX 8

/* Sends len bytes of data (len >= 1: a stream socket drops an empty
 * message) with the n descriptors fds attached (n <= HULL_FDPASS_MAX;
 * 0: plain data). Returns 0 or -errno (-EINVAL for n too large). */
int hull_fd_send(int sock, const void *data, size_t len, const int *fds,
		 size_t n);

/* Receives up to cap bytes into buf and the descriptors that came with
 * them into fds (at most maxfds, maxfds <= HULL_FDPASS_MAX; any beyond
 * are closed); *nfds is how many. Retries on EINTR. Returns the number of
 * bytes (0 at end of stream) or -errno; on an error *nfds is 0. */
ssize_t hull_fd_recv(int sock, void *buf, size_t cap, int *fds, size_t maxfds,
		     size_t *nfds);

#endif
