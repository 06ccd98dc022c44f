/*
 * nics.h - filling in what a nics array leaves out: interface names in
 * array order (netN, ethN on lx), the primary flag, generated MACs.
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

#endif
