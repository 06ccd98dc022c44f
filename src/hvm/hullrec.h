/*
 * hullrec.h - what a VM's double hull (vmmzone.h) takes from its instance
 * (inst/inst.h): the instance UUID, the disks (read-write, or read-only
 * for a cdrom or read_only disk; all the instance's own), the memory
 * limit's base (ram), cpu_cap, and the emulator's uid and gid: the first
 * ids of the instance's range "hull_userns" (vm/idmap.h), or 0 (root)
 * for a record without one.
 * The caller adds the rest (the emulator's argv, the root and run
 * directories, the taps, dlopen_libs).
 */
#ifndef HULL_HVM_HULLREC_H
#define HULL_HVM_HULLREC_H

#include "hvm/vmmzone.h"
#include "inst/inst.h"
#include "lib/err.h"

/* Fills h's uuid, files, ram_mib, cpu_cap, uid and gid from inst. The
 * strings are borrowed from inst, which must outlive h. Pure. Errors name
 * the property. */
int hvm_hull_from_inst(const struct inst *inst, struct hvm_hull *h,
		       struct hull_err *err);

#endif
