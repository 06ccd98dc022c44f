/*
 * sock.h - unix sockets at paths that may be longer than sun_path allows:
 * the socket's folder is opened and the name given through /proc/self/fd.
 */
#ifndef HULL_SUPERVISOR_SOCK_H
#define HULL_SUPERVISOR_SOCK_H
#include "lib/err.h"
/* A listening SOCK_STREAM socket (close-on-exec, non-blocking), mode 0600;
 * an existing file at path is replaced. */
int sv_sock_listen(const char *path, struct hull_err *err);
/* A connected socket (close-on-exec, blocking). */
int sv_sock_connect(const char *path, struct hull_err *err);
#endif
