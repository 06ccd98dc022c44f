/*
 * hullrec.c - an instance's part of its double hull (hullrec.h).
 */
#include "hvm/hullrec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int hvm_hull_from_inst(const struct inst *inst, struct hvm_hull *h,
		       struct hull_err *err)
{
	int64_t ram = inst->ram < 0 ? 256 : inst->ram;
	if (ram < 1 || ram > 1 << 30)
		return hull_err_set(err, EINVAL,
				    "ram: must be an integer from 1 to %d",
				    1 << 30);
	if (inst->limits.cpu_cap > 100 * 1024)
		return hull_err_set(err, EINVAL,
				    "cpu_cap: must be an integer from 0 to %d",
				    100 * 1024);
	if (inst->ndisks > HVM_HULL_PATHS_MAX)
		return hull_err_set(err, EINVAL, "disks: more than %d",
				    HVM_HULL_PATHS_MAX);
	size_t n = 0;
	for (size_t i = 0; i < inst->ndisks; i++) {
		const struct inst_disk *d = &inst->disks[i];
		if (!d->path || d->path[0] != '/')
			return hull_err_set(
			    err, EINVAL,
			    "disks.%zu.path: must be an absolute path", i);
		h->files[n++] = (struct hvm_hull_path){
		    d->path, !(d->read_only || d->cdrom), true};
	}
	h->uuid = inst->uuid;
	h->nfiles = n;
	h->ram_mib = ram;
	h->cpu_cap = inst->limits.cpu_cap;
	h->uid = inst->ids.set ? (uid_t)inst->ids.uid : 0;
	h->gid = inst->ids.set ? (gid_t)inst->ids.gid : 0;
	return 0;
}
