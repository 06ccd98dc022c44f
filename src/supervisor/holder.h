/*
 * holder.h - the supervisor's side of hull-holder (holder_proto.h): the
 * descriptors and state that outlive this supervisor.
 *
 * Without a holder (sv_holder_attach never called) every call is a no-op
 * and sv_holder_take finds nothing.
 */
#ifndef HULL_SUPERVISOR_HOLDER_H
#define HULL_SUPERVISOR_HOLDER_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

/* fd: our end of the holder's socket. With replay (adopt mode), reads
 * what the holder replays, up to its end. */
int sv_holder_attach(int fd, bool replay, struct hull_err *err);
int sv_holder_fd(void);
bool sv_holder_active(void);

/* Hands fd (which we keep too) to the holder under name; drops it. */
void sv_holder_put(const char *name, int fd);
void sv_holder_drop(const char *name);
/* Our state, for our successor (at most HOLDER_MSG_MAX - 1 bytes). */
void sv_holder_state(const char *text);
/* Tells the holder we are done: our exit is the instance's end. */
void sv_holder_quit(void);

/* From the replay: the descriptor kept under name (now ours), or -1. */
int sv_holder_take(const char *name);
/* The next replayed descriptor whose name starts with prefix (its name
 * in name), or -1. */
int sv_holder_take_prefix(const char *prefix, char *name, size_t size);
/* The replayed state ("" if none). */
const char *sv_holder_replayed_state(void);
/* The next replayed exit: false when none is left. */
bool sv_holder_replayed_exit(pid_t *pid, int *status);

/* One live message: 1 an exit (pid, status), 0 nothing of interest,
 * -1 the holder is gone. */
int sv_holder_read(pid_t *pid, int *status);
#endif
