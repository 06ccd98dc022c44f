/*
 * user.h - a docker zone's `docker:user` ("name", "uid", "name:group",
 * "uid:gid") resolved against the zone's own /etc/passwd and /etc/group.
 * Pure: the file contents come in as strings (they are the image's bytes).
 */
#ifndef HULL_ZONE_USER_H
#define HULL_ZONE_USER_H
#include <sys/types.h>
#include "lib/err.h"
int zone_user_resolve(const char *spec, const char *passwd, const char *group,
		      uid_t *uid, gid_t *gid, struct hull_err *err);
#endif
