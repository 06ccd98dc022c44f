/*
 * reload.h - rebuilding the live filter from what is on disk, for callers
 * other than fwadm: vmadm calls fw_reload() after it creates or deletes an
 * instance or changes its firewall_enabled, tags, owner_uuid or nics, so
 * rules that name tags or `all vms` follow the instances. The load is
 * incremental (fw_nft_apply): only the instances whose chains change are
 * touched.
 */
#ifndef HULL_FW_RELOAD_H
#define HULL_FW_RELOAD_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* Under the rule store lock: reads every rule and instance record,
 * compiles, and replaces this pool's tables (fw_nft_table) in one
 * transaction in the caller's network namespace (dry_run: only checks the
 * result). */
int fw_reload(bool dry_run, struct hull_err *err);

/* fw_reload(false), unless no instance has its firewall on and no filter
 * is loaded: then it touches nothing (no lock file, no nftables), so a
 * pool that never used the firewall never sees it. */
int fw_reload_if_used(struct hull_err *err);

/* After a change to the instance whose record is vm (as created, or as it
 * was before a delete): fw_reload_if_used(), unless the instance has no
 * firewall on and no enabled rule names it, when the filter cannot depend
 * on it and nothing is read beyond the rules or loaded at all. */
int fw_reload_for(json_t *vm, struct hull_err *err);

#endif
