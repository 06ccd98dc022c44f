/*
 * nics.h - filling in what a nics array leaves out: interface names in
 * array order (netN, ethN on lx), the primary flag, generated MACs; and
 * the two address forms SmartOS keeps side by side (nic.js, VM.js): the
 * newer ips/gateways, which a payload's older ip/netmask/gateway are
 * upgraded to, and a representative ip/netmask/gateway derived from them
 * for guests and tools that read the older form.
 */
#ifndef HULL_VM_NICS_H
#define HULL_VM_NICS_H

#include <jansson.h>

/* Names nics without an interface after the highest index in use and makes
 * the first nic primary when none is. */
void vm_nics_assign(json_t *nics, unsigned brand);

/* Gives each nic without a mac one: locally administered unicast (first
 * octet X2) from rand32, or the VRRP MAC 00:00:5e:00:01:<vrid>. */
void vm_nics_fill_macs(json_t *nics, unsigned (*rand32)(void));

/*
 * Upgrades a nic of a create payload or add_nics in place, as SmartOS's
 * nic.js does: ip with netmask becomes ips ["ip/bits"], ip "dhcp" or
 * "addrconf" becomes ips [ip], gateway becomes gateways [gateway]; where
 * ips or gateways are already given the older field is dropped. -1 with
 * why when ip has no netmask or netmask is not a netmask.
 */
int vm_nic_upgrade(json_t *nic, char *why, size_t n);

/* The same for an update_nics entry upd, which may change ip or netmask
 * alone: the other half comes from old (the nic it updates, which must
 * then have exactly one IPv4 address). */
int vm_nic_upgrade_update(json_t *upd, json_t *old, char *why, size_t n);

/*
 * Sets the representative ip, netmask and gateway of a stored nic from
 * its ips and gateways, as SmartOS stores them: ip is the first of ips
 * that is "dhcp" or IPv4 with a prefix of 8 to 32 bits (netmask from the
 * prefix, none for dhcp), gateway the first IPv4 gateway; each is absent
 * when there is none (IPv6-only, addrconf). A record in the older form
 * is upgraded first; a nic that cannot be is left as it is.
 */
void vm_nic_represent(json_t *nic);
void vm_nics_represent(json_t *nics);

#endif
