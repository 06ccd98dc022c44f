/*
 * net_hook.h - a zone's network ports and firewall, from the supervisor:
 * plugged in after the zone's namespaces exist and before its init runs
 * (net_hook_prepare, for zone_start_set_prepare), unplugged each time init
 * exits (net_hook, for supervisor_hook_register). docs/hull-net.md.
 */
#ifndef HULL_SUPERVISOR_NET_HOOK_H
#define HULL_SUPERVISOR_NET_HOOK_H
#include "supervisor/supervisor.h"
#include "zone/start.h"

int net_hook_prepare(const struct zone_config *cfg, pid_t init,
		     struct hull_err *err);
extern const struct sv_hook net_hook;
#endif
