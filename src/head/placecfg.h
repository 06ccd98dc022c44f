/*
 * placecfg.h - the datacenter's placement settings (`hulladm placement`,
 * `hulladm reserve`): the scorers' weights, the overprovision ratios, the
 * per-server machine limit and the datacenter-wide reserve.
 *
 * Record: config/placement, only the settings that differ from the
 * defaults (DAPI's: overprovision cpu 4.0, ram 1.0, disk 1.0; vm limit
 * 224; hull's spread weights ram 2, disk 1, owner 0, random 0; no
 * reserve). A server record's own `overprovision_ratios` win over the
 * datacenter's.
 */
#ifndef HULL_HEAD_PLACECFG_H
#define HULL_HEAD_PLACECFG_H
#include <jansson.h>

#include "head/store.h"
#include "lib/err.h"

struct placement_cfg {
	double w_ram, w_disk, w_owner, w_random; /* placement.h's signs */
	double ratio_cpu, ratio_ram, ratio_disk; /* overprovision, >= 1 */
	long vm_limit;				 /* machines per server */
	/* The reserve: a share (0 to 0.9) of the datacenter's RAM, CPU and
	 * disk, or the capacity of its largest N servers (0: none). */
	double reserve_share;
	long reserve_largest;
};

/* The settings in force (defaults where the record says nothing). */
int placement_cfg_load(struct store *s, struct placement_cfg *c,
		       struct hull_err *err);

/* Merges patch ({weights: {ram, disk, owner, random}, overprovision_ratios:
 * {cpu, ram, disk}, vm_limit, reserve: {share} | {largest} | null,
 * mode: "spread"|"pack"}) into the record after checking every value
 * (-EINVAL with one line naming the first bad one, nothing written). */
int placement_cfg_update(struct store *s, json_t *patch, struct hull_err *err);

/* The settings as JSON, in the patch's shape plus the mode they amount
 * to ("spread", "pack" or "custom"). */
json_t *placement_cfg_json(const struct placement_cfg *c);
#endif
