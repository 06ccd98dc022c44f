/*
 * channel.h - setting up the descriptors a metadata server serves: a zone's
 * listening unix socket, a serial line, a pty standing in for a VM's COM2.
 * Used by hull-metadata and by the supervisor, which hand the result to
 * metadata_server_add_listener() / metadata_server_add_stream().
 */
#ifndef HULL_METADATA_CHANNEL_H
#define HULL_METADATA_CHANNEL_H

#include "lib/err.h"

/* Listens on a unix stream socket at path, mode 0666 (any user in the
 * guest may ask). A socket already at path (left by a server that died)
 * is replaced; any other file there is an error. Returns the descriptor
 * (non-blocking, close-on-exec, owned by the caller). */
int metadata_channel_listen(const char *path, struct hull_err *err);

/* Opens the character device at path (a serial port, a pty's guest end)
 * in raw mode. Returns the descriptor (owned by the caller). */
int metadata_channel_open_tty(const char *path, struct hull_err *err);

/* Creates a pty whose guest end stands in for COM2. Returns the master
 * (what the server serves); *guest is a descriptor on the guest end, set
 * raw, that the caller keeps open for as long as it serves (without it
 * the master reports a hang-up whenever no guest has the port open);
 * *guest_path (owned) is the guest end's path. */
int metadata_channel_pty(int *guest, char **guest_path, struct hull_err *err);

#endif
