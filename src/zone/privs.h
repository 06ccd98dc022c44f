/*
 * privs.h - SmartOS's limit_priv, mapped onto a zone's capabilities.
 *
 * limit_priv is an illumos privilege list ("default", or "default" with
 * names added and "-name" or "!name" taken away, as a comma string or an
 * array of strings). The privileges with a Linux capability counterpart
 * (sys_time is CAP_SYS_TIME, net_rawaccess CAP_NET_RAW, ...) add or drop
 * that capability against the zone's default set (caps.h); the others
 * (dtrace_*, contract_*, ...) have no meaning on Linux and are ignored
 * with a warning line. sys_admin and sys_mount are never granted this
 * way: CAP_SYS_ADMIN is internal_metadata hull:sys_admin's alone (a zone
 * root holding it without a user namespace can mount an unmasked procfs).
 * A pure function: the payload check and the zone runtime both use it.
 */
#ifndef HULL_ZONE_PRIVS_H
#define HULL_ZONE_PRIVS_H
#include <jansson.h>
#include <stdint.h>

#include "lib/err.h"

struct zone_privs {
	uint64_t add;  /* capabilities kept beyond the default set */
	uint64_t drop; /* capabilities taken from it */
};

/*
 * Parses v (a string, an array of strings, or NULL for "default") into
 * *p. warnings (an array, or NULL) receives one line for each name that
 * has no effect here. An unknown privilege name fails (-EINVAL, err names
 * it), as SmartOS's zonecfg refuses it.
 */
int zone_privs_parse(json_t *v, struct zone_privs *p, json_t *warnings,
		     struct hull_err *err);
#endif
