/*
 * netcfg.h - the host's network configuration kept in the pool, for the
 * platform image (root in RAM: nothing in /etc survives a reboot).
 *
 * The platform's host configuration lives in R/usbkey/ (SmartOS keeps it
 * on its USB key, /usbkey/config): `config` holds SmartOS's key=value
 * lines (admin_nic, admin_ip, admin_netmask, admin_gateway, etherstub,
 * hostname, ...), written by the platform's setup; `net.json` (0600) holds
 * what dladm and ipadm made, in the order they made it:
 *
 *   {"links": [{"name": "stub0", "class": "etherstub"}, {"name": "vnic0",
 *     "class": "vnic", "over": "stub0", "mac": ".."}, ...],
 *    "addrs": [{"addrobj": "vnic0/v4", "type": "static",
 *     "addr": "192.0.2.5/24"}, ...]}
 *
 * A pool whose R/usbkey/config exists is the platform's: dladm and ipadm
 * record their changes there and `dladm init` / `ipadm init` apply them at
 * boot. On any other host a change is made to the running system only.
 */
#ifndef HULL_NET_NETCFG_H
#define HULL_NET_NETCFG_H
#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* True when the pool holds the platform's host configuration. */
bool net_cfg_platform(void);

/* The stored configuration (new reference): {"links": [], "addrs": []}. */
json_t *net_cfg_load(struct hull_err *err);
/* Appends obj (borrowed) to section ("links" or "addrs"), replacing the
 * entry of the same key (key: "name" or "addrobj"); obj NULL removes it. */
int net_cfg_put(const char *section, const char *key, const char *value,
		json_t *obj, struct hull_err *err);

/* Parses SmartOS's key=value config text (comments with '#', blank lines,
 * values optionally in double or single quotes) into a new object. Pure. */
json_t *net_cfg_parse_kv(const char *text);
/* R/usbkey/config parsed (an empty object when absent). */
json_t *net_cfg_usbkey(struct hull_err *err);
#endif
