/*
 * stale.h - what a dead instance left on the host. When a supervisor is
 * killed (kill -9), its zone's network namespace dies with init and takes
 * both ends of every veth with it, but the antispoof chains of those ports
 * stay in the shared table. This finds chains of an instance's port names
 * ("hv" + the first 8 hex digits of its uuid + a number) whose port no
 * longer exists, and removes them, with the table once no port is left.
 */
#ifndef HULL_NET_STALE_H
#define HULL_NET_STALE_H
#include "lib/err.h"

/* net_instance_teardown(uuid) and then the orphaned chains of the
 * instance's port names. Fine when there is nothing to remove. */
int net_instance_cleanup(const char *uuid, struct hull_err *err);
#endif
