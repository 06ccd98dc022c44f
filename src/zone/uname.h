/*
 * uname.h - the LX brand's identity, served by the supervisor.
 *
 * An lx zone's uname(2) is a seccomp user notification. The supervisor
 * answers it with the calling task's own utsname (its uts namespace, so
 * hostname changes inside the zone show), except release = the record's
 * kernel_version and version = "BrandZ virtual linux", as SmartOS's LX
 * brand reports.
 */
#ifndef HULL_ZONE_UNAME_H
#define HULL_ZONE_UNAME_H
#include <sys/utsname.h>
#include "lib/err.h"

#define ZONE_LX_VERSION "BrandZ virtual linux"

/* Pure: overlays the LX identity on u (release may be NULL: keep). */
void zone_uname_lx(struct utsname *u, const char *release);
/* Reads one notification from listener fd and answers it. */
int zone_uname_handle(int notify_fd, const char *release, struct hull_err *err);
#endif
