/*
 * caps.h - the capability bounding set of a zone's processes.
 */
#ifndef HULL_ZONE_CAPS_H
#define HULL_ZONE_CAPS_H
#include <stdbool.h>
#include "lib/err.h"
#include "zone/privs.h"
/* Drops from the bounding set (and the ambient set) every capability a zone
 * must not have. sys_admin says whether CAP_SYS_ADMIN stays (system
 * containers that mount, like systemd) or goes (docker, joyent-minimal).
 * privs (limit_priv, privs.h; NULL for none) keeps what it adds of the
 * default-dropped list and drops what it takes away. */
int zone_caps_drop(bool sys_admin, const struct zone_privs *privs,
		   struct hull_err *err);
/* Every capability gone: the bounding set emptied and the effective,
 * permitted and inheritable sets cleared, also inside a user namespace of
 * the caller's own. For hull's own children that parse untrusted bytes
 * (the boot loader, the metadata server). 0 or a negative errno. */
int zone_caps_drop_all(void);
/* Is cap among those zone_caps_drop removes (for tests). */
bool zone_caps_dropped(int cap, bool sys_admin, const struct zone_privs *privs);
#endif
