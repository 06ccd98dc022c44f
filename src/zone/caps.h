/*
 * caps.h - the capability bounding set of a zone's processes.
 */
#ifndef HULL_ZONE_CAPS_H
#define HULL_ZONE_CAPS_H
#include <stdbool.h>
#include "lib/err.h"
/* Drops from the bounding set (and the ambient set) every capability a zone
 * must not have. sys_admin says whether CAP_SYS_ADMIN stays (system
 * containers that mount, like systemd) or goes (docker, joyent-minimal). */
int zone_caps_drop(bool sys_admin, struct hull_err *err);
/* Is cap in the list zone_caps_drop removes (for tests). */
bool zone_caps_dropped(int cap, bool sys_admin);
#endif
