/*
 * idmap.h - giving a userns zone, or an HVM instance (whose emulator runs
 * as the range's first uid and gid, hvm/vmmzone.h), its host id range at
 * create.
 *
 * The range lives in the instance record as "hull_userns": {"uid": U,
 * "gid": G, "count": 65536} (not a SmartOS property: a payload cannot set
 * it). A create picks the lowest free range (zone/idrange.h) among those
 * of every instance record and pending create, under the pool's lock
 * R/var/vmadm/userns.lock, held until its own pending record, which holds
 * the range, is on disk, and recorded in the ledger R/var/vmadm/userns.json
 * (rewritten under that lock): two creates never get the same range, and a
 * range is free again once its instance is deleted.
 *
 * The pool of ids is the `root` entry of /etc/subuid and /etc/subgid when
 * the host has them ($HULL_SUBUID and $HULL_SUBGID name other files, for
 * tests), else ZONE_IDRANGE_DEFAULT_START + ZONE_IDRANGE_DEFAULT_COUNT.
 */
#ifndef HULL_VM_IDMAP_H
#define HULL_VM_IDMAP_H
#include <jansson.h>
#include "lib/err.h"
#include "zone/idrange.h"

/* The uid and gid pools of this host. */
int vm_idmap_pools(struct zone_idrange *u, struct zone_idrange *g,
		   struct hull_err *err);
/* Takes the allocation lock (a descriptor for hull_lock_release). */
int vm_idmap_lock(struct hull_err *err);
/* Sets vm's hull_userns to a free range; the caller holds the lock until
 * the record holding it is written. */
int vm_idmap_assign(json_t *vm, struct hull_err *err);
#endif
