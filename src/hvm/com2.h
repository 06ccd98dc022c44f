/*
 * com2.h - the host end of a VM's metadata channel when the emulator
 * listens: QEMU's COM2 is `-chardev socket,server=on,wait=off` at
 * <run>/ttyb.sock (as SmartOS's vm.ttyb), and the metadata server
 * connects to it and serves the protocol on the stream
 * (metadata_server_add_stream). hull-metadata's --serial takes such a
 * socket too.
 */
#ifndef HULL_HVM_COM2_H
#define HULL_HVM_COM2_H

#include "lib/err.h"

/* connect(2) of fd to the unix socket at path without following a
 * symbolic link at path: the emulator owns the folder its sockets are in
 * and could plant one pointing anywhere in the host's namespace. 0 or a
 * negative errno (-ENOTSOCK for what is not a socket). */
int hvm_sock_connect(int fd, const char *path);

/* Connects to the unix stream socket at path, retrying for up to
 * wait_ms while it does not exist yet or refuses (the emulator is still
 * starting). Returns a non-blocking, close-on-exec descriptor. */
int hvm_com2_connect(const char *path, int wait_ms, struct hull_err *err);

#endif
