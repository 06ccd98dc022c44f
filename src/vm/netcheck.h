/*
 * netcheck.h - the checks of an instance's nics that need the host: every
 * nic tag exists (net_tag_get), and no MAC or static address is used by
 * another instance of the pool. The pure checks (syntax, netmask, gateway
 * in the subnet, vlan_id range, duplicates inside the record) are
 * net_config_parse's (src/net/nic.h), run first.
 */
#ifndef HULL_VM_NETCHECK_H
#define HULL_VM_NETCHECK_H
#include <jansson.h>

#include "lib/err.h"

/* vm is a complete record (its uuid set). One error line, "nics.N: ...". */
int vm_nics_host_check(json_t *vm, struct hull_err *err);
#endif
