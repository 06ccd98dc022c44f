/*
 * uname.h - the LX brand's identity, served by the supervisor.
 *
 * An lx zone's uname(2) is a seccomp user notification. The supervisor
 * answers it with the calling task's own utsname (its uts namespace, so
 * hostname changes inside the zone show), except release = the record's
 * kernel_version and version = "BrandZ virtual linux", as SmartOS's LX
 * brand reports. Its sethostname(2) comes to the supervisor too, which
 * sets the name in the caller's uts namespace when the caller's effective
 * uid is 0 (a zone lacks the CAP_SYS_ADMIN the kernel wants for it).
 */
#ifndef HULL_ZONE_UNAME_H
#define HULL_ZONE_UNAME_H
#include <sys/utsname.h>
#include "lib/err.h"

#define ZONE_LX_VERSION "BrandZ virtual linux"

/* Pure: overlays the LX identity on u (release may be NULL: keep). */
void zone_uname_lx(struct utsname *u, const char *release);
struct seccomp_notif;
/* Does what one notification received from notify_fd asks (uname or
 * sethostname) without responding: 0, or the negative errno for the
 * caller. It reaches the caller only through descriptors opened by its pid
 * before the notification was found still pending, so a caller that died
 * and whose pid now names another process is answered with an error, and
 * that process is never touched. */
int zone_uname_answer(int notify_fd, const struct seccomp_notif *req,
		      const char *release);
/* Reads one notification (uname or sethostname) from listener fd and
 * answers it. */
int zone_uname_handle(int notify_fd, const char *release, struct hull_err *err);
#endif
