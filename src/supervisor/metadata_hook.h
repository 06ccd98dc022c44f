/*
 * metadata_hook.h - the metadata server as a supervisor hook (register it
 * with supervisor_hook_register before supervisor_run).
 */
#ifndef HULL_SUPERVISOR_METADATA_HOOK_H
#define HULL_SUPERVISOR_METADATA_HOOK_H
#include "supervisor/supervisor.h"
extern const struct sv_hook metadata_hook;

/* Starts the instance's metadata server on listen_fd, an already
 * listening socket of R/<uuid>/run/zonecontrol/metadata.sock (taken over:
 * kept across the server's restarts and boots), as the hook does at
 * each boot; also the entry point for a supervisor that adopts a
 * running instance and got the socket from whoever kept it. For an HVM
 * instance the server also connects to its emulator's COM2. */
int sv_metadata_start(struct sv_loop *loop, const char *uuid, int listen_fd,
		      struct hull_err *err);
/* The running server's process (hull-metadata), or -1. */
pid_t sv_metadata_pid(void);
/* The emulator changed under a running VM (a live migration): the
 * server starts again, on the same listening socket, and connects to the
 * new emulator's COM2. */
int sv_metadata_restart(struct hull_err *err);

#endif
