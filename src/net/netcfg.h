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
#include <stddef.h>

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

/* The platform's generated resolv.conf, R/var/ipadm/resolv.conf (new
 * string): the platform binds it over /etc/resolv.conf at boot. */
char *net_cfg_resolv_path(void);

/*
 * The host's resolv.conf from kv's `dns_resolvers` (SmartOS's form: IP
 * addresses separated by commas) and `dns_domain` (its search line).
 * *out gets the text (caller frees), or NULL when kv has neither key.
 * Pure.
 */
int net_cfg_resolv_render(json_t *kv, char **out, struct hull_err *err);

/*
 * The host name from kv, as SmartOS's identity-node picks it: `hostname`,
 * or when that is empty or "unknown", the admin MAC (admin_nic) with '-'
 * between its octets. out is left empty when neither gives one. A
 * hostname that is not a DNS name (letters, digits, '-', '.', up to 63
 * characters) is an error. Pure.
 */
#define NET_CFG_HOSTNAME_MAX 64
int net_cfg_hostname(json_t *kv, char out[NET_CFG_HOSTNAME_MAX],
		     struct hull_err *err);
#endif
