/*
 * lostcreate.h - creates whose server went silent before it reported
 * them, and the copies such a server may still hold when it comes back.
 *
 * A create task still queued on a server whose status is `unknown` (no
 * heartbeat for SERVER_HEARTBEAT_LIFETIME_S) is given up: the task is
 * failed and the machine goes through the failed-create path of
 * machines.c (retried once on another server, or failed with its
 * addresses released). The machine keeps the silent server as
 * `stray_server`; that server's reports of it are refused from then on,
 * and the first one queues a `discard` task there, which deletes what
 * the cut-off create left.
 */
#ifndef HULL_HEAD_LOSTCREATE_H
#define HULL_HEAD_LOSTCREATE_H
#include <jansson.h>
#include <stdbool.h>

#include "head/store.h"

/* Gives up the creates queued on silent servers; at most once a second,
 * and not in this process's first SERVER_HEARTBEAT_LIFETIME_S (its
 * servers' heartbeats are old only because it was not there to take
 * them). */
void lost_creates_tick(struct store *s);

/* Whether machine m's reports from server must be refused: it is the
 * server a create was taken from. */
bool lost_create_is_stray(json_t *m, const char *server);

/* server reported vm, which is not its: when it is the leftover of a
 * create taken from it, queue (once) the `discard` that deletes it. */
void lost_create_stray(struct store *s, const char *server, const char *vm);
#endif
