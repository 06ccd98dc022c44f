/*
 * mask.h - hiding the kernel's sensitive /proc and /sys paths from a zone:
 * files that leak host state or change the host (kcore, sysrq-trigger,
 * timer_list, ...) are covered with /dev/null, directories with an empty
 * read-only tmpfs, and /proc/sys, /proc/irq, /proc/bus are read-only
 * (except /proc/sys/net, which belongs to the zone's own netns).
 */
#ifndef HULL_ZONE_MASK_H
#define HULL_ZONE_MASK_H
#include "lib/err.h"
int zone_mask_apply(struct hull_err *err);
#endif
